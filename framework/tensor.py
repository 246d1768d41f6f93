"""The Tensor: a backend array, the device it lives on, and the autograd bookkeeping.

A Tensor holds ``_data`` (the device's native array: numpy.ndarray on ``cpu``, torch.Tensor for
``triton``, cupy.ndarray for ``cupy``; the framework's internals read and write it directly, while the
public ``.data`` is, as in PyTorch, a Tensor sharing that storage), its :class:`~framework.backend.Backend`,
``requires_grad``, ``grad`` and, when it was produced by a recorded op, ``_ctx`` (which knows the op and its parents).
Methods follow PyTorch's names and argument orders; every differentiable method goes through a
:class:`~framework.autograd.Function` in :mod:`framework.ops` (this module imports nothing above it).
"""

from __future__ import annotations

import math
import operator
import sys
from collections import namedtuple
from typing import Any

import numpy as np

from . import ops
from . import random as _random
from .autograd import Function, _refresh_view, add_hook, is_grad_enabled, may_share_memory, no_grad
from .autograd import backward as _backward
from .backend import Backend, device, get_backend, registered_devices
from .dtypes import DEFAULT_FLOAT, FLOATING, DType, as_dtype, promote_types, result_type

MaxResult = namedtuple("MaxResult", ["values", "indices"])
SortResult = namedtuple("SortResult", ["values", "indices"])  # sort and topk, like torch.return_types
_DTYPE_OF_NATIVE: dict[Any, DType] = {}
_DEVICE_OF_NAME: dict[str, device] = {}  # Tensor.device is read often; one device object per name


def _normalize_shape(shape: tuple) -> tuple[int, ...]:
    if len(shape) == 1 and isinstance(shape[0], tuple | list):
        shape = tuple(shape[0])
    # one-element integer tensors are sizes too (``fw.zeros(n)`` with ``n = t.sum()``), as in PyTorch
    shape = tuple(n.__index__() if isinstance(n, Tensor) and n.numel() == 1 and not n.dtype.is_floating_point
                  else n for n in shape)
    for n in shape:
        if isinstance(n, bool) or not isinstance(n, int | np.integer):
            raise TypeError(f"shape must be non-negative ints, got {shape!r}")
        if n < 0:
            raise ValueError(f"shape must be non-negative ints, got {shape!r}")
    return tuple(int(n) for n in shape)


class Tensor:
    """An n-dimensional array on a device, with reverse-mode autograd."""

    # "_hooks" (register_hook) and "_post_accumulate_hooks" stay unset until a hook is registered; readers use
    # getattr(t, "_hooks", None).
    # "_vbox": [version, recorded-write count], shared by every tensor aliasing the storage (views, detach,
    # .data); "_view_version": None, or for an alias, _vbox[1] when it was made; "_view_src": for a view an
    # op returned, (Function, args, kwargs, index of the base) to take it again; "_history": None, or the
    # (end version, stand-in) pairs of recorded in-place writes (see the autograd module docstring).
    __slots__ = ("_data", "backend", "requires_grad", "grad", "_ctx", "_retain_grad", "_hooks",
                 "_post_accumulate_hooks", "_vbox",
                 "_view_version", "_view_src", "_history", "__weakref__")
    __array_priority__ = 1000  # numpy_array + tensor -> Tensor.__radd__, not an object array

    def __init__(self, data: Any, dtype: Any = None, device: Any = None, requires_grad: bool = False):
        """``Tensor(data)`` is PyTorch's legacy constructor: without ``dtype`` the result is the default
        float dtype (float32) whatever the data, as ``torch.Tensor([1, 2])``; ``fw.tensor(data)`` infers the
        dtype from the data (int64 for ints), as ``torch.tensor``. Another Tensor keeps its dtype."""
        legacy_sizes = isinstance(dtype, int) or (dtype is None and isinstance(data, int | np.integer))
        if legacy_sizes and not isinstance(dtype, bool) and not isinstance(data, bool):  # Tensor(5), Tensor(2, 3)
            raise TypeError("Tensor(*sizes), PyTorch's legacy constructor, is not supported: use fw.empty(*sizes) "
                            "or fw.zeros(*sizes)")
        if dtype is None and isinstance(data, bool | float | np.generic):
            raise TypeError(f"Tensor(): data must be a sequence or an array, got {type(data).__name__} (as "
                            "torch.Tensor; fw.tensor(value) makes a 0-d tensor)")
        backend = get_backend(device)
        array = _host_array(data)
        if dtype is None and not isinstance(data, Tensor):
            dtype = DEFAULT_FLOAT
        name = as_dtype(dtype) if dtype is not None else as_dtype(array.dtype)
        if name not in backend.dtypes:
            raise TypeError(f"dtype {name} is not supported on device {backend.name!r}")
        self._data = backend.from_numpy(array, str(name))
        self.backend = backend
        self.grad: Tensor | None = None
        self._ctx = None
        self._retain_grad = False
        self._vbox = [0, 0]
        self._view_version = None
        self._view_src = None
        self._history = None
        self.requires_grad = False
        if requires_grad:
            self.requires_grad_(True)

    @classmethod
    def _wrap(cls, data: Any, backend: Backend, requires_grad: bool = False) -> Tensor:
        """Wrap a native array without copying or validating (the hot path of every op)."""
        if isinstance(data, np.generic):  # numpy reductions and scalar indexing return scalars
            data = np.asarray(data)
        t = cls.__new__(cls)
        t._data = data
        t.backend = backend
        t.requires_grad = requires_grad
        t.grad = None
        t._ctx = None
        t._retain_grad = False
        t._vbox = [0, 0]
        t._view_version = None
        t._view_src = None
        t._history = None
        return t

    @staticmethod
    def _autograd_wrap(data: Any, backend: Backend, requires_grad: bool = False) -> Tensor:
        """How the autograd engine, which never imports this module, makes a Tensor (an op's output, a
        gradient for a hook): always a plain Tensor (a Parameter in, a Tensor out). Having this method
        is what makes a class a tensor to the engine (see the framework.autograd docstring)."""
        return Tensor._wrap(data, backend, requires_grad)

    def _alias(self) -> Tensor:
        """A new leaf Tensor on this storage, sharing the version counter (``detach()``, ``.data``)."""
        t = Tensor._wrap(self._data, self.backend)
        t._vbox, t._view_version = self._vbox, self._vbox[1]
        return t

    # ---------------------------------------------------------------------------------- properties

    @property
    def data(self) -> Tensor:
        """This tensor's values as a Tensor sharing its storage, outside autograd (``requires_grad`` False).

        Writes through it (``p.data.mul_(2)``) change this tensor. Assigning ``t.data = other`` makes
        ``t`` use ``other``'s storage (shape, dtype and device included), as in PyTorch.

        One difference from PyTorch: ``.data`` shares the version counter (PyTorch's does not), so
        modifying through ``.data`` a value that backward needs raises instead of giving a wrong gradient.
        """
        return self._alias()

    @data.setter
    def data(self, value: Tensor) -> None:
        if not isinstance(value, Tensor):
            raise TypeError(f"Tensor.data must be assigned a Tensor, got {type(value).__name__}")
        self._data, self.backend = value._data, value.backend
        self._vbox, self._view_version, self._view_src = value._vbox, value._vbox[1], None

    @property
    def _version(self) -> int:
        """How many in-place writes this storage has had (PyTorch's ``Tensor._version``)."""
        return self._vbox[0]

    @property
    def shape(self) -> tuple[int, ...]:
        return tuple(self._data.shape)

    @property
    def dtype(self) -> DType:
        # Cached per native dtype object: every F op checks dtypes, and numpy's dtype.name is slow.
        native = self._data.dtype
        try:
            return _DTYPE_OF_NATIVE[native]
        except KeyError:
            name = _DTYPE_OF_NATIVE[native] = as_dtype(self.backend.dtype_name(self._data))
            return name

    @property
    def device(self) -> device:
        """Where the values live, as a :class:`~framework.backend.device` (a ``str``: ``t.device == "cpu"``)."""
        name = self.backend.name
        found = _DEVICE_OF_NAME.get(name)
        if found is None:
            found = _DEVICE_OF_NAME[name] = device(name)
        return found

    @property
    def ndim(self) -> int:
        return len(self._data.shape)

    @property
    def is_leaf(self) -> bool:
        return self._ctx is None

    @property
    def grad_fn(self):
        return self._ctx

    @property
    def T(self) -> Tensor:  # noqa: N802 - PyTorch's name
        return self.permute(*reversed(range(self.ndim)))

    @property
    def mT(self) -> Tensor:  # noqa: N802 - PyTorch's name
        return self.transpose(-2, -1)

    def size(self, dim: int | None = None):
        if dim is None:
            return self.shape
        dim = ops.normalize_dim(dim, self.ndim)
        if self.ndim == 0:  # torch: a 0-d tensor has no size(0) either
            raise IndexError("size(): a 0-d tensor has no dimensions")
        return self.shape[dim]

    def dim(self) -> int:
        return self.ndim

    def numel(self) -> int:
        return math.prod(self.shape)

    def __len__(self) -> int:
        if not self.shape:
            raise TypeError("len() of a 0-d tensor")
        return self.shape[0]

    def __repr__(self) -> str:
        body = np.array2string(self.numpy(), separator=", ", prefix="tensor(")
        extras = [f"device={self.backend.name!r}"]
        if self.dtype not in ("float32", "int64", "bool"):
            extras.append(f"dtype={self.dtype!r}")
        if self._ctx is not None:
            extras.append(f"grad_fn=<{self._ctx.fn.__name__}>")
        elif self.requires_grad:
            extras.append("requires_grad=True")
        return f"tensor({body}, {', '.join(extras)})"

    # ------------------------------------------------------------------------------- conversion

    def numpy(self) -> np.ndarray:
        """The values as a numpy array (shares memory on ``cpu``, a host copy elsewhere)."""
        return self.backend.to_numpy(self._data)

    def item(self) -> Any:
        if self.numel() != 1:
            raise ValueError(f"item(): only one-element tensors convert to Python scalars, got shape {self.shape}")
        return self.numpy().reshape(()).item()

    def tolist(self) -> Any:
        return self.numpy().tolist()

    def __float__(self) -> float:
        return float(self.item())

    def __int__(self) -> int:
        return int(self.item())

    def __bool__(self) -> bool:
        if self.numel() != 1:
            raise RuntimeError(f"the truth value of a tensor with shape {self.shape} is ambiguous")
        return bool(self.item())

    def __array__(self, dtype=None, copy=None):
        array = self.numpy()
        if dtype is not None:
            return array.astype(dtype, copy=bool(copy) or array.dtype != np.dtype(dtype))
        return array.copy() if copy else array

    def __dlpack__(self, *args: Any, **kwargs: Any) -> Any:
        """DLPack export of the values (no copy): ``torch.from_dlpack(t)``, ``numpy.from_dlpack(t)``, ..."""
        return self._data.__dlpack__(*args, **kwargs)

    def __dlpack_device__(self) -> Any:
        return self._data.__dlpack_device__()

    def __reduce__(self):
        """Pickle and deepcopy through the host values and the device *name* (a Backend holds modules)."""
        return (_rebuild_tensor, (type(self), self.numpy().copy(), str(self.dtype), self.device, self.requires_grad))

    def to(self, *args: Any, dtype: Any = None, device: Any = None, non_blocking: bool = False) -> Tensor:
        """``t.to(device)``, ``t.to(dtype)`` or both; differentiable (gradients flow back).

        ``non_blocking`` is accepted (ported ``pin_memory=True`` loops pass it); copies are synchronous.
        """
        for a in args:
            if isinstance(a, Tensor):  # t.to(other): other's dtype and device, as PyTorch
                dtype, device = a.dtype, a.backend
            elif isinstance(a, Backend) or (isinstance(a, str) and not isinstance(a, DType) and _is_device(a)):
                device = a
            else:
                dtype = a
        out = self
        if dtype is not None and as_dtype(dtype) != self.dtype:
            name = as_dtype(dtype)
            if name not in self.backend.dtypes:
                raise TypeError(f"dtype {name} is not supported on device {self.device!r}")
            out = ops.Cast.apply(out, self.backend.native_dtype(str(name)))
        if device is not None:
            target = get_backend(device)
            if target is not out.backend:
                out = ToDevice.apply(out, target)
        return out

    def cpu(self) -> Tensor:
        return self.to("cpu")

    def cuda(self) -> Tensor:
        return self.to("cuda")

    def float(self) -> Tensor:
        return self.to(dtype="float32")

    def double(self) -> Tensor:
        return self.to(dtype="float64")

    def half(self) -> Tensor:
        return self.to(dtype="float16")

    def long(self) -> Tensor:
        return self.to(dtype="int64")

    def int(self) -> Tensor:
        return self.to(dtype="int32")

    def bool(self) -> Tensor:
        return self.to(dtype="bool")

    def type_as(self, other: Tensor) -> Tensor:
        return self.to(dtype=other.dtype)

    # ---------------------------------------------------------------------------------- autograd

    def backward(self, gradient: Any = None, retain_graph: bool | None = None, create_graph: bool = False,
                 inputs: Any = None) -> None:
        """Accumulate gradients of this tensor into ``.grad`` of every leaf that requires grad (only of
        ``inputs`` when given); see :func:`framework.autograd.backward`."""
        _backward(self, gradient, retain_graph=retain_graph, create_graph=create_graph, inputs=inputs)

    def register_hook(self, hook: Any):
        """Call ``hook(grad)`` each time the gradient w.r.t. this tensor is computed (leaf or not); a Tensor
        it returns replaces the gradient (in ``.grad`` and further down the graph).

        Returns: a handle whose ``remove()`` unregisters the hook.
        Raises: RuntimeError if this tensor does not require grad; TypeError if ``hook`` is not callable.
        """
        if not self.requires_grad:
            raise RuntimeError("cannot register a hook on a tensor that doesn't require gradient")
        hooks = getattr(self, "_hooks", None)
        if hooks is None:
            hooks = self._hooks = {}
        return add_hook(hooks, hook)

    def register_post_accumulate_grad_hook(self, hook: Any):
        """Call ``hook(tensor)`` right after backward has accumulated this leaf's gradient into ``.grad`` (while
        the rest of the pass goes on: DistributedDataParallel starts its all-reduces this way). The hook's
        return value is ignored.

        Returns: a handle whose ``remove()`` unregisters the hook.
        Raises: RuntimeError for a non-leaf tensor or one that does not require grad; TypeError if ``hook``
            is not callable.
        """
        if not self.requires_grad:
            raise RuntimeError("cannot register a hook on a tensor that doesn't require gradient")
        if self._ctx is not None:
            raise RuntimeError("post accumulate grad hooks cannot be registered on non-leaf tensors")
        hooks = getattr(self, "_post_accumulate_hooks", None)
        if hooks is None:
            hooks = self._post_accumulate_hooks = {}
        return add_hook(hooks, hook)

    def _accumulate_grad(self, grad: Any) -> None:
        if grad.dtype != self._data.dtype:
            grad = self.backend.xp.astype(grad, self._data.dtype)
        if self.grad is None:
            # Copy: the engine may hand the same array to several leaves, and optimizers update in place.
            self.grad = Tensor._wrap(self.backend.xp.asarray(grad, copy=True), self.backend)
        elif self.grad.shape == tuple(grad.shape) and self.grad.dtype == self.dtype:
            # In place, as torch's AccumulateGrad: a reference to p.grad taken earlier sees the sum.
            self.grad._write("backward", ..., self.grad._data + grad)
        else:  # a user-assigned .grad of another shape or dtype: accumulate into a new tensor
            self.grad = Tensor._wrap(self.grad._data + grad, self.backend)

    def requires_grad_(self, requires_grad: bool = True) -> Tensor:
        if requires_grad and not self.dtype.is_floating_point:
            raise TypeError(f"only floating-point tensors can require grad, got dtype {self.dtype}")
        if not self.is_leaf and not requires_grad:
            raise RuntimeError("requires_grad_(False) on a non-leaf tensor; use .detach() instead")
        self.requires_grad = requires_grad
        return self

    def retain_grad(self) -> None:
        """Keep ``.grad`` on this non-leaf tensor during backward."""
        self._retain_grad = True

    def detach(self) -> Tensor:
        """A tensor sharing this one's storage (and version counter), cut out of the graph."""
        return self._alias()

    def clone(self) -> Tensor:
        return ops.Add.apply(self, 0) if self.requires_grad else Tensor._wrap(
            self.backend.xp.asarray(self._data, copy=True), self.backend)

    def contiguous(self) -> Tensor:
        return self

    # ---------------------------------------------------------------------------------- in-place
    # PyTorch's in-place ops write into this tensor's own storage, so views, .data and detach() see the
    # new values. Autograd rules (see the framework.autograd docstring): a leaf that requires grad refuses
    # outside no_grad; a recorded write gives the tensor a new grad_fn; the version counter goes up.

    def _write(self, name: str, index: Any, value: Any) -> None:
        """``storage[index] = value`` (a native array or a Python number), then bump the version."""
        if isinstance(value, int | float | np.generic):
            _check_number_fits(name, value, self.dtype)
        if hasattr(value, "shape") and may_share_memory(self._data, value):
            value = self.backend.xp.asarray(value, copy=True)  # x[1:] = x[:-1]: read everything first
        try:
            self._data[index] = value
        except (ValueError, RuntimeError) as exc:
            if "read-only" in str(exc) or "more than one element" in str(exc):
                raise RuntimeError(f"{name}(): unsupported operation: the tensor's memory is read-only or more "
                                   "than one element refers to a single memory location (an expand()ed "
                                   "tensor, for one); clone() it first") from None
            raise
        self._bump_version()

    def _bump_version(self) -> None:
        """Count one in-place write to this storage (code that already wrote into ``_data`` itself)."""
        self._vbox[0] += 1

    # A kernel may write an op's result over an input's storage (cross_entropy(consume_input=True): the gradient
    # over the logits) only when nothing but this tensor can reach that storage; afterwards the tensor is
    # *consumed*: its metadata and graph links stay, every read or write of its values raises.

    def _consume_refusal(self) -> str | None:
        """Why an op may not write its result over this tensor's storage, or None when nothing but this tensor (and
        the op about to run) can reach it: a non-leaf without retain_grad() or hooks, not a view or alias, whose
        version counter no other tensor shares and whose native array nothing else references -- no other
        recorded op's input or saved value (its producer's included), no view, detach(), .data, numpy() or DLPack
        export. Reference counts, calibrated on a fresh tensor (:func:`_reference_excess`)."""
        if self._ctx is None:
            return "they are a leaf tensor (not the output of a recorded op)"
        if self._retain_grad:
            return "retain_grad() was called on them"
        if getattr(self, "_hooks", None):
            return "they have a gradient hook (register_hook)"
        if self._view_version is not None or self._view_src is not None or self._history:
            return "they share storage with another tensor (a view, detach(), .data or an in-place op's history)"
        holder = self._ctx.node if self._ctx.node is not None else self._ctx
        recorded = sum(1 for box, _, _ in holder.output_versions if box is self._vbox)  # the producer's record
        box, probe = self._vbox, _Probe([0, 0])
        fresh = probe.value  # held like box: by one object's slot and one local name
        if sys.getrefcount(box) - sys.getrefcount(fresh) > recorded:
            return "another tensor shares their storage (a view, detach() or .data of them)"
        return _native_refusal(self)

    def _mark_consumed(self, message: str) -> None:
        """After an op wrote its result over this storage (see :meth:`_consume_refusal`): make every later read or
        write of the values raise ``RuntimeError(message)``. The version counter was bumped by the op."""
        self.__class__ = _consumed_class(message)

    def _recording(self, name: str, *values: Any) -> bool:
        """Whether an in-place op with these operands is recorded; raises where PyTorch refuses it."""
        if not is_grad_enabled() or not (
                self.requires_grad or any(isinstance(v, Tensor) and v.requires_grad for v in values)):
            return False
        if self._ctx is None and self.requires_grad:
            raise RuntimeError(f"{name}(): a leaf Variable that requires grad is being used in an in-place "
                               "operation (do it under `with no_grad():`, or on a clone())")
        return True

    def _inplace(self, name: str, compute: Any, *values: Any, copy_old: bool = True) -> Tensor:
        """Make ``compute(old)`` this tensor's value, in place.

        ``compute`` maps a Tensor holding the old value to the new one with ordinary (recorded) ops;
        ``values`` are its Tensor operands. The result must keep this shape and a dtype this one can hold
        (PyTorch's casting rule: no float into an integer tensor, nothing but bool into bool).
        ``copy_old=False``: ``compute`` saves nothing of the old value for backward (item assignment).
        """
        if not self._recording(name, *values):
            with no_grad():
                new = _inplace_result(name, self, compute(self))
            self._write(name, ..., new._data)
            return self
        if self._view_version is not None:
            return self._inplace_through_view(name, compute, values)
        # The old value lives on in the graph as a stand-in: a copy, since ops recorded by compute may
        # save it for their backward while this storage is overwritten.
        old = self.backend.xp.asarray(self._data, copy=True) if copy_old else self._data
        standin = Tensor._wrap(old, self.backend, self.requires_grad)
        standin._ctx = self._ctx
        new = _inplace_result(name, self, compute(standin))
        self._write(name, ..., new._data)
        self._history = (self._history or []) + [(self._vbox[0], standin)]
        self._vbox[1] += 1
        self._ctx, self.requires_grad = new._ctx, new.requires_grad
        return self

    def _inplace_through_view(self, name: str, compute: Any, values: tuple) -> Tensor:
        """A recorded in-place op on a view is one on its base that rewrites the viewed part (PyTorch's
        CopySlices); the view is then recorded again as a view of the base's new value."""
        src = self._view_src
        if src is None or src[0] not in _VIEW_SCATTER or src[3] != 0:
            what = ("detach(), .data, a backward hook's identity or an op with several outputs (it cannot be "
                    "taken again alone)" if src is None else src[0].__name__)
            raise RuntimeError(f"{name}(): an in-place operation that autograd must record on a view made by "
                               f"{what} is not supported; write into the base tensor or clone() the view first")
        fn, args, kwargs, _ = src

        def on_base(old_base: Tensor) -> Tensor:
            view_args = (old_base,) + args[1:]
            new_view = _inplace_result(name, self, compute(fn.apply(*view_args, **kwargs)))
            return _VIEW_SCATTER[fn](old_base, view_args, new_view)

        args[0]._inplace(name, on_base, *values)
        _refresh_view(self)
        return self

    def _assign(self, name: str, index: Any, value: Any) -> Tensor:
        """``self[index] = value`` in place (``index`` already native; ``value`` a number or Tensor)."""
        if isinstance(value, Tensor):
            if value.backend is not self.backend:
                raise ValueError(f"{name}(): the value is on {value.device!r} but the tensor is on "
                                 f"{self.device!r}; move it with .to(device)")
        elif isinstance(value, bool | int | float | np.number | np.bool_):
            value = value.item() if isinstance(value, np.generic) else value
        else:
            value = Tensor(np.asarray(value), dtype=self.dtype, device=self.backend)
        if isinstance(value, Tensor) and value.ndim:
            # One error on every device (numpy says ValueError, torch RuntimeError, each in its own words).
            target = tuple(self._data[index].shape) if index is not ... else self.shape
            shape = value.shape
            while len(shape) > len(target) and shape[0] == 1:  # leading 1-dims are dropped, as in PyTorch
                shape = shape[1:]
            if _broadcast_shape(shape, target) != target:
                raise RuntimeError(f"{name}(): shape mismatch: value tensor of shape {list(value.shape)} cannot "
                                   f"be broadcast to indexing result of shape {list(target)}")
        if not self._recording(name, value):
            if isinstance(value, Tensor):
                array = value._data
                value = array if array.dtype == self._data.dtype else self.backend.xp.astype(array, self._data.dtype)
            self._write(name, index, value)
            return self
        return self._inplace(name, lambda old: ops.IndexPut.apply(old, index, value), value, copy_old=False)

    def __setitem__(self, index: Any, value: Any) -> None:
        """``x[index] = value``: ints, slices, ``...``, None, boolean masks, index tensors; ``value`` a
        number or a Tensor broadcasting to ``x[index]``'s shape (cast to ``x``'s dtype, as in PyTorch)."""
        has_arrays = _check_index(index, self.shape, check_values=_wraps_indices(self.backend))
        try:
            self._assign("__setitem__", _native_index(index, self.backend), value)
        except (IndexError, RuntimeError) as exc:
            if has_arrays and "out of bounds" in str(exc):
                # numpy and torch word an out-of-range index tensor differently (as in __getitem__)
                raise IndexError(f"index out of range: an index tensor holds a value outside the size of the "
                                 f"dimension it indexes (tensor shape {self.shape})") from None
            raise

    def fill_(self, value: Any) -> Tensor:
        """Set every element to ``value`` (a number or a 0-d tensor)."""
        if isinstance(value, Tensor) and value.ndim != 0:
            raise RuntimeError(f"fill_(): only supports a 0-dimension value tensor, got one with {value.ndim} "
                               "dimensions")
        return self._assign("fill_", ..., value)

    def zero_(self) -> Tensor:
        return self._assign("zero_", ..., 0)

    def copy_(self, src: Tensor, non_blocking: bool = False) -> Tensor:
        """Copy ``src``'s values (broadcast to this shape, cast to this dtype, from any device) into this
        tensor; differentiable w.r.t. ``src``."""
        if not isinstance(src, Tensor):
            raise TypeError(f"copy_(): src must be a Tensor, got {type(src).__name__}")
        if _broadcast_shape(src.shape, self.shape) != self.shape:
            raise RuntimeError(f"copy_(): the source of shape {src.shape} does not broadcast to the "
                               f"destination's shape {self.shape}")
        if src.backend is not self.backend:
            src = src.to(self.backend)
        return self._assign("copy_", ..., src)

    def masked_fill_(self, mask: Tensor, value: Any) -> Tensor:
        """Set the elements where the boolean ``mask`` (broadcast to this shape) is True to ``value``."""
        if not isinstance(mask, Tensor) or mask.dtype != "bool":
            raise TypeError("masked_fill_(): mask must be a bool Tensor, got "
                            f"{mask.dtype if isinstance(mask, Tensor) else type(mask).__name__}")
        if isinstance(value, Tensor) and value.ndim != 0:
            raise RuntimeError("masked_fill_(): only supports a 0-dimensional value tensor, got one with "
                               f"{value.ndim} dimensions")
        if _broadcast_shape(mask.shape, self.shape) != self.shape:
            raise RuntimeError(f"masked_fill_(): the mask of shape {mask.shape} does not broadcast to the "
                               f"tensor's shape {self.shape}")
        if mask.backend is not self.backend:
            raise ValueError(f"masked_fill_(): mask is on {mask.device!r} but the tensor is on {self.device!r}")
        return self._assign("masked_fill_", self.backend.xp.broadcast_to(mask._data, self.shape), value)

    def _random_fill(self, name: str, draw: Any, generator: Any) -> Tensor:
        """Fill with ``draw(rng, shape)`` from ``generator`` (None: the global one, ``fw.manual_seed``)."""
        if not self.dtype.is_floating_point:
            raise TypeError(f"{name}(): expected a floating-point tensor, got dtype {self.dtype}")
        values = draw(_random.numpy_generator(generator), self.shape)
        dtype = str(self.dtype) if self.dtype != "bfloat16" else "float32"
        return self._assign(name, ..., Tensor(np.asarray(values, dtype=dtype), dtype=self.dtype, device=self.backend))

    def normal_(self, mean: float = 0.0, std: float = 1.0, *, generator: Any = None) -> Tensor:
        """Fill with samples of N(mean, std^2) from the global generator."""
        if std < 0:
            raise RuntimeError(f"normal_(): expects std >= 0.0, but found std {std}")
        return self._random_fill("normal_", lambda rng, shape: rng.normal(mean, std, shape), generator)

    def uniform_(self, *args: Any, generator: Any = None, **kwargs: Any) -> Tensor:
        """``uniform_(from=0, to=1)``: fill with samples of U[from, to) from the global generator."""
        names = ("from", "to")
        if len(args) > 2 or set(kwargs) - set(names):
            raise TypeError(f"uniform_(): takes (from=0, to=1), got {len(args)} positional and {sorted(kwargs)}")
        bounds = dict(zip(names, args)) | kwargs
        low, high = float(bounds.get("from", 0.0)), float(bounds.get("to", 1.0))
        if low > high:
            raise RuntimeError(f"uniform_(): expects from <= to, but got from={low} and to={high}")
        return self._random_fill("uniform_", lambda rng, shape: rng.uniform(low, high, shape), generator)

    def bernoulli_(self, p: Any = 0.5, *, generator: Any = None) -> Tensor:
        """Fill with 0/1 samples that are 1 with probability ``p`` (a number or a tensor of them)."""
        probs = p.to(dtype="float64").numpy() if isinstance(p, Tensor) else float(p)
        if not np.all((np.asarray(probs) >= 0) & (np.asarray(probs) <= 1)):
            raise ValueError("bernoulli_(): p must be in [0, 1]")
        return self._random_fill("bernoulli_", lambda rng, shape: rng.random(shape) < probs, generator)

    def scatter_(self, dim: int, index: Tensor, src: Any = None, *, value: Any = None, reduce: Any = None) -> Tensor:
        return self._inplace("scatter_", lambda old: old.scatter(dim, index, src, value=value, reduce=reduce), src)

    def scatter_add_(self, dim: int, index: Tensor, src: Tensor) -> Tensor:
        return self._inplace("scatter_add_", lambda old: old.scatter_add(dim, index, src), src)

    def lerp_(self, end: Tensor, weight: Any) -> Tensor:
        """``self += weight * (end - self)``."""
        return self._inplace("lerp_", lambda old: old + weight * (end - old), end, weight)

    def detach_(self) -> Tensor:
        """Cut this tensor out of the graph in place: it becomes a leaf that does not require grad."""
        if self._view_src is not None and self._ctx is not None:
            raise RuntimeError("detach_(): can't detach a view in place; use detach() instead")
        self._ctx, self.requires_grad, self._history = None, False, None
        return self

    def add_(self, other: Any, *, alpha: Any = 1) -> Tensor:
        return self._inplace("add_", lambda old: old.add(other, alpha=alpha), other)

    def sub_(self, other: Any, *, alpha: Any = 1) -> Tensor:
        return self._inplace("sub_", lambda old: old.sub(other, alpha=alpha), other)

    def mul_(self, other: Any) -> Tensor:
        return self._inplace("mul_", lambda old: old * other, other)

    def div_(self, other: Any, *, rounding_mode: str | None = None) -> Tensor:
        return self._inplace("div_", lambda old: old.div(other, rounding_mode=rounding_mode), other)

    def pow_(self, exponent: Any) -> Tensor:
        return self._inplace("pow_", lambda old: old**exponent, exponent)

    def addcmul_(self, tensor1: Tensor, tensor2: Tensor, *, value: Any = 1) -> Tensor:
        """``self += value * tensor1 * tensor2``."""
        return self._inplace("addcmul_", lambda old: old + value * tensor1 * tensor2, tensor1, tensor2)

    def addcdiv_(self, tensor1: Tensor, tensor2: Tensor, *, value: Any = 1) -> Tensor:
        """``self += value * tensor1 / tensor2``."""
        return self._inplace("addcdiv_", lambda old: old + value * tensor1 / tensor2, tensor1, tensor2)

    def clamp_(self, min: Any = None, max: Any = None) -> Tensor:  # noqa: A002 - PyTorch's names
        return self._inplace("clamp_", lambda old: old.clamp(min, max), min, max)

    clip_ = clamp_

    def clamp_min_(self, min: Any) -> Tensor:  # noqa: A002
        return self._inplace("clamp_min_", lambda old: old.clamp(min, None), min)

    def clamp_max_(self, max: Any) -> Tensor:  # noqa: A002
        return self._inplace("clamp_max_", lambda old: old.clamp(None, max), max)

    def neg_(self) -> Tensor:
        return self._inplace("neg_", lambda old: -old)

    def abs_(self) -> Tensor:
        return self._inplace("abs_", lambda old: old.abs())

    def exp_(self) -> Tensor:
        return self._inplace("exp_", lambda old: old.exp())

    def log_(self) -> Tensor:
        return self._inplace("log_", lambda old: old.log())

    def sqrt_(self) -> Tensor:
        return self._inplace("sqrt_", lambda old: old.sqrt())

    def sigmoid_(self) -> Tensor:
        return self._inplace("sigmoid_", lambda old: old.sigmoid())

    def tanh_(self) -> Tensor:
        return self._inplace("tanh_", lambda old: old.tanh())

    def relu_(self) -> Tensor:
        return self._inplace("relu_", lambda old: old.relu())

    # x += y etc. write into x (Python only rebinds the name when __iadd__ is missing).

    def __iadd__(self, other):
        return self.add_(other)

    def __isub__(self, other):
        return self.sub_(other)

    def __imul__(self, other):
        return self.mul_(other)

    def __itruediv__(self, other):
        return self.div_(other)

    def __ipow__(self, other):
        return self.pow_(other)

    def __ifloordiv__(self, other):
        return self._inplace("floor_divide_", lambda old: old // other, other)

    def __imod__(self, other):
        return self._inplace("remainder_", lambda old: old % other, other)

    def __iand__(self, other):
        return self._inplace("bitwise_and_", lambda old: old & other, other)

    def __ior__(self, other):
        return self._inplace("bitwise_or_", lambda old: old | other, other)

    def __ixor__(self, other):
        return self._inplace("bitwise_xor_", lambda old: old ^ other, other)

    # -------------------------------------------------------------------------------- arithmetic

    def _operand(self, other: Any) -> Any:
        """``other`` as a Tensor or a Python number.

        numpy scalars become Python numbers (PyTorch treats them so: ``t - np.float64(.1)`` stays float32);
        arrays and lists become tensors on this device with their own dtype.
        """
        if isinstance(other, Tensor):
            return other
        if isinstance(other, np.generic):  # first: np.float64 subclasses float but must not act as float64
            other = other.item()
        if isinstance(other, bool | int | float):
            return other
        if isinstance(other, complex):
            raise TypeError("complex numbers are not supported")
        if other is None or isinstance(other, str | bytes):
            raise TypeError(f"unsupported operand type for a Tensor operation: {type(other).__name__}")
        return tensor(other, device=self.backend)

    def _promote(self, other: Any, name: str, *, divide: bool = False) -> tuple[Tensor, Any]:
        """``(self, other)`` converted to their common dtype by PyTorch's rules (:func:`dtypes.result_type`),
        after checking that they share a device and broadcast; ``other`` stays a Python number if it was one.

        ``divide``: true division, where integer results become the default float dtype (``int / 2``).
        """
        dtype = self.dtype
        if (type(other) is float or type(other) is int) and dtype in FLOATING:
            return self, other  # the everyday x * 0.5: nothing to promote or check
        b = self._operand(other)
        if isinstance(b, Tensor) and b.dtype == dtype:
            pass  # one dtype: nothing to promote
        elif isinstance(other, np.ndarray) and self.dtype != "bfloat16":
            # torch hands an ndarray operand to numpy, which promotes it as a full array (even 0-d).
            dtype = as_dtype(np.promote_types(str(self.dtype), other.dtype))
        else:
            dtype = result_type(self, b)
        if divide and not dtype.is_floating_point:
            dtype = DEFAULT_FLOAT
        if isinstance(b, Tensor):
            if b.backend is not self.backend:
                raise ValueError(f"{name}(): expected all tensors on one device, got the other operand on "
                                 f"{b.backend.name!r} and this tensor on {self.backend.name!r}; move one with "
                                 ".to(device)")
            if b.shape != self.shape:
                ops.broadcast_shapes(self.shape, b.shape, name)
            if b.dtype == self.dtype == dtype:
                return self, b
            b = _cast(b, dtype)
        else:
            b = _scalar_as(b, dtype)
        return _cast(self, dtype), b

    def _arith(self, fn: type[Function], other: Any, name: str, reverse: bool = False, divide: bool = False):
        if fn is ops.Sub and "bool" in (self.dtype, getattr(other, "dtype", None), type(other).__name__):
            raise TypeError(f"{name}(): subtraction, the - operator, with a bool operand is not supported (as in "
                            "PyTorch); use ^ (logical xor) or ~ (logical not)")
        a, b = self._promote(other, name, divide=divide)
        return fn.apply(b, a) if reverse else fn.apply(a, b)

    def __add__(self, other):
        return self._arith(ops.Add, other, "add")

    def __radd__(self, other):
        return self._arith(ops.Add, other, "add", reverse=True)

    def __sub__(self, other):
        return self._arith(ops.Sub, other, "sub")

    def __rsub__(self, other):
        return self._arith(ops.Sub, other, "sub", reverse=True)

    def __mul__(self, other):
        return self._arith(ops.Mul, other, "mul")

    def __rmul__(self, other):
        return self._arith(ops.Mul, other, "mul", reverse=True)

    def __truediv__(self, other):
        return self._arith(ops.Div, other, "div", divide=True)

    def __rtruediv__(self, other):
        return self._arith(ops.Div, other, "div", reverse=True, divide=True)

    def _integer_divide(self, fn: type[Function], other: Any, name: str, reverse: bool = False):
        """``//`` and ``%``: integer division by zero raises on every device (numpy would give 0)."""
        a, b = self._promote(other, name)
        if a.dtype == "bool":
            raise TypeError(f"{name}(): not supported for bool tensors")
        divisor = a if reverse else b
        if not a.dtype.is_floating_point and _any_zero(divisor):
            raise ZeroDivisionError(f"{name}(): integer division by zero")
        return fn.apply(b, a) if reverse else fn.apply(a, b)

    def __floordiv__(self, other):
        return self._integer_divide(ops.FloorDivide, other, "floor_divide")

    def __rfloordiv__(self, other):
        return self._integer_divide(ops.FloorDivide, other, "floor_divide", reverse=True)

    def __mod__(self, other):
        return self._integer_divide(ops.Remainder, other, "remainder")

    def __rmod__(self, other):
        return self._integer_divide(ops.Remainder, other, "remainder", reverse=True)

    def _power(self, other: Any, reverse: bool = False) -> Tensor:
        a, b = self._promote(other, "pow")
        if a.dtype == "bool":
            raise TypeError("pow(): bool tensors are not supported (as in PyTorch); convert them with .int()")
        base, exponent = (b, a) if reverse else (a, b)
        if not a.dtype.is_floating_point and _any_negative(exponent):
            raise ValueError("pow(): integers to negative integer powers are not allowed")
        return ops.Pow.apply(base, exponent)

    def __pow__(self, other):
        return self._power(other)

    def __rpow__(self, other):
        return self._power(other, reverse=True)

    def __neg__(self):
        if self.dtype == "bool":
            raise TypeError("neg(): negation, the - operator, of a bool tensor is not supported; use ~")
        return ops.Neg.apply(self)

    def __pos__(self):
        return self

    def __matmul__(self, other):
        return matmul(self, self._operand(other))

    def __rmatmul__(self, other):
        return matmul(self._operand(other), self)

    def _compare(self, other: Any, op: str) -> Tensor:
        """Elementwise comparison (a bool tensor) in the operands' promoted dtype, as PyTorch compares."""
        a, b = self._promote(other, op.strip("_"))
        b = b._data if isinstance(b, Tensor) else b
        return Tensor._wrap(getattr(a._data, op)(b), self.backend)

    def __lt__(self, other):
        return self._compare(other, "__lt__")

    def __le__(self, other):
        return self._compare(other, "__le__")

    def __gt__(self, other):
        return self._compare(other, "__gt__")

    def __ge__(self, other):
        return self._compare(other, "__ge__")

    def __eq__(self, other):  # elementwise, like torch
        if other is None or isinstance(other, str):
            return NotImplemented  # Python then compares identities: t == None is False, as in torch
        return self._compare(other, "__eq__")

    def __ne__(self, other):
        if other is None or isinstance(other, str):
            return NotImplemented
        return self._compare(other, "__ne__")

    __hash__ = object.__hash__

    def _bitwise(self, other: Any, op: str) -> Tensor:
        a, b = self._promote(other, f"bitwise_{op.strip('_')}")
        if a.dtype.is_floating_point:
            raise TypeError(f"bitwise_{op.strip('_')}(): needs bool or integer tensors, got dtype {a.dtype}")
        b = b._data if isinstance(b, Tensor) else b
        return Tensor._wrap(getattr(a._data, op)(b), self.backend)

    def __invert__(self):
        if self.dtype.is_floating_point:
            raise TypeError(f"bitwise_not(): ~ needs a bool or integer tensor, got dtype {self.dtype}")
        return Tensor._wrap(~self._data, self.backend)

    def __and__(self, other):
        return self._bitwise(other, "__and__")

    __rand__ = __and__

    def __or__(self, other):
        return self._bitwise(other, "__or__")

    __ror__ = __or__

    def __xor__(self, other):
        return self._bitwise(other, "__xor__")

    __rxor__ = __xor__

    # ------------------------------------------------------------------------------ elementwise

    # Float math on integer/bool tensors computes in the default float dtype (float32), as PyTorch does;
    # numpy would pick float64 (float16 for bool) and torch float32, so the backends would disagree.

    def exp(self) -> Tensor:
        return ops.Exp.apply(self._floating())

    def log(self) -> Tensor:
        return ops.Log.apply(self._floating())

    def sqrt(self) -> Tensor:
        return ops.Sqrt.apply(self._floating())

    def abs(self) -> Tensor:
        if self.dtype == "bool":
            raise TypeError("abs(): bool tensors are not supported (as in PyTorch)")
        return ops.Abs.apply(self)

    def relu(self) -> Tensor:
        return ops.Relu.apply(self)

    def sigmoid(self) -> Tensor:
        return ops.Sigmoid.apply(self._floating())

    def tanh(self) -> Tensor:
        return ops.Tanh.apply(self._floating())

    def clamp(self, min: Any = None, max: Any = None) -> Tensor:  # noqa: A002
        """Limit values to ``[min, max]``, in the dtype PyTorch promotes to (int tensor, float bound -> float)."""
        if min is None and max is None:
            raise ValueError("clamp(): at least one of min and max must be given")
        bounds = [None if v is None else self._operand(v) for v in (min, max)]
        dtype = result_type(self, *bounds)
        for i, v in enumerate(bounds):
            if isinstance(v, Tensor):
                if v.requires_grad:
                    raise NotImplementedError("clamp(): gradients with respect to a tensor min or max are "
                                              "not supported; use fw.maximum / fw.minimum")
                if v.backend is not self.backend:
                    raise ValueError(f"clamp(): min/max is on {v.backend.name!r} but the tensor is on "
                                     f"{self.backend.name!r}")
                ops.broadcast_shapes(self.shape, v.shape, "clamp")
                bounds[i] = _cast(v, dtype)
            elif v is not None:
                bounds[i] = _scalar_as(v, dtype)
        return ops.Clamp.apply(_cast(self, dtype), *bounds)

    clip = clamp

    def softmax(self, dim: int | None, dtype: Any = None) -> Tensor:
        """Softmax along ``dim``, computed in ``dtype`` when given (``F.softmax`` and ``fw.softmax`` call
        this). ``dim=None`` is PyTorch's legacy implicit choice (0 for 0-, 1- and 3-d input, else 1).

        Raises: TypeError for a non-floating-point input, IndexError for a dim out of range.
        """
        return self._softmax("softmax", ops.Softmax, dim, dtype)

    def log_softmax(self, dim: int | None, dtype: Any = None) -> Tensor:
        """Log-softmax along ``dim``: as :meth:`softmax` (same arguments and errors)."""
        return self._softmax("log_softmax", ops.LogSoftmax, dim, dtype)

    def _softmax(self, name: str, fn: type[Function], dim: int | None, dtype: Any) -> Tensor:
        x = self if dtype is None else self.to(dtype=dtype)
        if not x.dtype.is_floating_point:
            raise TypeError(f"{name}(): input must be a floating-point tensor, got dtype {x.dtype}")
        if dim is None:
            dim = 0 if x.ndim in (0, 1, 3) else 1  # kept so ported code gives PyTorch's answer
        dim = ops.normalize_dim(dim, x.ndim)
        if x.numel() == 0:
            return x * 1.0  # nothing to normalise (PyTorch returns the empty tensor); no max of nothing
        return fn.apply(x, dim)

    # ------------------------------------------------------------------------------- reductions

    def sum(self, dim: Any = None, keepdim: bool = False, *, dtype: Any = None, axis: Any = None,
            keepdims: bool | None = None):
        """Sum (over ``dim``); in ``dtype`` when given, and bool/integer tensors in int64, as PyTorch."""
        source = self
        if dtype is not None:
            source = self.to(dtype=dtype)
        elif not self.dtype.is_floating_point and self.dtype != "int64":
            source = self.to(dtype="int64")  # numpy would widen uint8 to uint64, torch's ints to int64
        return ops.Sum.apply(source, ops._reduce_axes(_dim(dim, axis), self.ndim), _keep(keepdim, keepdims))

    def mean(self, dim: Any = None, keepdim: bool = False, *, dtype: Any = None, axis: Any = None,
             keepdims: bool | None = None):
        source = self if dtype is None else self.to(dtype=dtype)
        if not source.dtype.is_floating_point:
            raise TypeError(f"mean(): input dtype must be floating point, got {source.dtype}")
        return ops.Mean.apply(source, ops._reduce_axes(_dim(dim, axis), self.ndim), _keep(keepdim, keepdims))

    def var(self, dim: Any = None, unbiased: Any = None, keepdim: bool = False, *,
            correction: float | None = None) -> Tensor:
        """Variance with PyTorch's signatures: ``var()``, ``var(unbiased)``, ``var(dim, unbiased, keepdim)``,
        ``var(dim, keepdim=..., correction=...)``; divides by ``max(N - correction, 0)`` (correction 1 =
        unbiased, the default)."""
        dim, correction = _variance_args("var", dim, unbiased, correction)
        if not self.dtype.is_floating_point:
            raise TypeError(f"var(): input dtype must be floating point, got {self.dtype}")
        axes = ops._reduce_axes(dim, self.ndim)
        n = math.prod(self.shape[a] for a in axes)
        if n - correction > 0:  # one fused node (ops.Var); nothing to divide by: the composite's inf / nan
            return ops.Var.apply(self, axes, bool(keepdim), n - correction)
        centered = self - self.mean(dim=dim, keepdim=True)
        return (centered * centered).sum(dim=dim, keepdim=keepdim) / max(n - correction, 0)

    def std(self, dim: Any = None, unbiased: Any = None, keepdim: bool = False, *,
            correction: float | None = None) -> Tensor:
        """Standard deviation; the same signatures as :meth:`var`."""
        dim, correction = _variance_args("std", dim, unbiased, correction)
        return ops.StdSqrt.apply(self.var(dim, keepdim=keepdim, correction=correction))

    def amax(self, dim: Any = None, keepdim: bool = False) -> Tensor:
        return ops.Amax.apply(self, self._nonempty_axes("amax", dim), _keep(keepdim, None))

    def amin(self, dim: Any = None, keepdim: bool = False) -> Tensor:
        return ops.Amin.apply(self, self._nonempty_axes("amin", dim), _keep(keepdim, None))

    def _nonempty_axes(self, name: str, dim: Any) -> tuple[int, ...]:
        """The axes of a max/min-style reduction, checked; reducing an empty dim has no answer (IndexError,
        PyTorch's words) where numpy and torch would raise different exceptions."""
        axes = ops._reduce_axes(dim, self.ndim)
        if dim is None and self.numel() == 0:
            raise IndexError(f"{name}(): Expected reduction dim to be specified for input.numel() == 0. Specify "
                             "the reduction dim with the 'dim' argument.")
        for a in axes:
            if self.shape[a] == 0:
                raise IndexError(f"{name}(): Expected reduction dim {a} to have non-zero size.")
        return axes

    def max(self, dim: int | None = None, keepdim: bool = False, *, axis: Any = None, keepdims: bool | None = None):
        """``t.max()`` -> the maximum; ``t.max(dim)`` -> ``(values, indices)`` like torch;
        ``t.max(axis=..., keepdims=...)`` -> values only, like numpy; ``t.max(other)`` -> ``maximum``."""
        if isinstance(dim, Tensor):
            return maximum(self, dim)
        if axis is not None:
            return self.amax(axis, _keep(keepdim, keepdims))
        if dim is None:
            return self.amax(None, _keep(keepdim, keepdims))
        return self._extreme_along(dim, keepdim, largest=True)

    def min(self, dim: int | None = None, keepdim: bool = False, *, axis: Any = None, keepdims: bool | None = None):
        """Like :meth:`max`, for the minimum."""
        if isinstance(dim, Tensor):
            return minimum(self, dim)
        if axis is not None:
            return self.amin(axis, _keep(keepdim, keepdims))
        if dim is None:
            return self.amin(None, _keep(keepdim, keepdims))
        return self._extreme_along(dim, keepdim, largest=False)

    def _extreme_along(self, dim: int, keepdim: bool, largest: bool) -> MaxResult:
        dim = ops.normalize_dim(dim, self.ndim)
        self._nonempty_axes("max" if largest else "min", dim)
        if self.ndim == 0:
            zero = self.backend.xp.zeros((), dtype=self.backend.xp.int64)
            return MaxResult(ops.Reshape.apply(self, ()), Tensor._wrap(zero, self.backend))
        # max/min(dim) take bools (argmax/argmin refuse them, as PyTorch): pick on their 0/1 bytes
        xp = self.backend.xp
        key = self if self.dtype != "bool" else Tensor._wrap(xp.astype(self._data, xp.uint8), self.backend)
        indices = key.argmax(dim, keepdim=True) if largest else key.argmin(dim, keepdim=True)
        values = ops.TakeAlongAxis.apply(self, indices._data, dim)
        if not keepdim:
            values, indices = values.squeeze(dim), indices.squeeze(dim)
        return MaxResult(values, indices)

    def argmax(self, dim: int | None = None, keepdim: bool = False) -> Tensor:
        return self._arg_extreme("argmax", dim, keepdim)

    def argmin(self, dim: int | None = None, keepdim: bool = False) -> Tensor:
        return self._arg_extreme("argmin", dim, keepdim)

    def _arg_extreme(self, name: str, dim: int | None, keepdim: bool) -> Tensor:
        """argmax/argmin: int64 indices of the first extreme (over all elements when ``dim`` is None)."""
        xp, keepdim = self.backend.xp, _keep(keepdim, None)
        if self.dtype == "bool":
            raise TypeError(f"{name}(): bool input is not supported (as in PyTorch); convert it with .int()")
        if dim is None:
            if self.numel() == 0:
                raise IndexError(f"{name}(): Expected reduction dim to be specified for input.numel() == 0.")
            flat = getattr(xp, name)(xp.reshape(self._data, (-1,)))
            # keepdim keeps every (reduced) dim as size 1, as PyTorch: (1, 1) for a matrix
            return Tensor._wrap(xp.reshape(flat, (1,) * self.ndim) if keepdim else flat, self.backend)
        dim = ops.normalize_dim(dim, self.ndim)
        self._nonempty_axes(name, dim)
        if self.ndim == 0:
            return Tensor._wrap(xp.zeros((), dtype=xp.int64), self.backend)
        return Tensor._wrap(getattr(xp, name)(self._data, axis=dim, keepdims=keepdim), self.backend)

    # ----------------------------------------------------------------------------------- shapes

    def reshape(self, *shape: Any) -> Tensor:
        if len(shape) == 1 and isinstance(shape[0], tuple | list):
            shape = tuple(shape[0])
        return ops.Reshape.apply(self, _reshape_target(tuple(shape), self.shape))

    def view(self, *shape: Any) -> Tensor:
        """``view(*shape)`` is :meth:`reshape` (also for non-contiguous tensors, where PyTorch would ask for
        ``reshape``); ``view(dtype)`` reinterprets the bytes as another dtype of the same size."""
        if len(shape) == 1 and not isinstance(shape[0], int | np.integer | tuple | list):
            return self._view_dtype(as_dtype(shape[0]))
        return self.reshape(*shape)

    def _view_dtype(self, dtype: DType) -> Tensor:
        if dtype == self.dtype:
            return self
        if dtype.itemsize != self.dtype.itemsize:
            raise ValueError(f"view(dtype): {self.dtype} -> {dtype} changes the element size "
                             f"({self.dtype.itemsize} -> {dtype.itemsize} bytes), which is not supported")
        if self.requires_grad:
            raise RuntimeError(f"view(dtype): {self.dtype} -> {dtype} is not differentiable; detach() first")
        if dtype not in self.backend.dtypes:
            raise TypeError(f"dtype {dtype} is not supported on device {self.backend.name!r}")
        return Tensor._wrap(self._data.view(self.backend.native_dtype(str(dtype))), self.backend)


    def flatten(self, start_dim: int = 0, end_dim: int = -1) -> Tensor:
        start = ops.normalize_dim(start_dim, self.ndim, "start_dim")
        end = ops.normalize_dim(end_dim, self.ndim, "end_dim")
        if self.ndim == 0:
            return self.reshape(1)
        if start > end:
            raise ValueError(f"flatten(): start_dim {start_dim} comes after end_dim {end_dim}")
        shape = self.shape[:start] + (-1,) + self.shape[end + 1:]
        return self.reshape(shape)

    def permute(self, *dims: Any) -> Tensor:
        if len(dims) == 1 and isinstance(dims[0], tuple | list):
            dims = tuple(dims[0])
        if len(dims) != self.ndim:
            raise ValueError(f"permute(): dims {dims} name {len(dims)} dims but the tensor has {self.ndim}")
        return ops.Permute.apply(self, ops.normalize_dims(dims, self.ndim, "permute(): dims"))

    def transpose(self, dim0: int, dim1: int) -> Tensor:
        """Swap two dimensions (PyTorch's meaning, not numpy's full reversal)."""
        dim0, dim1 = ops.normalize_dim(dim0, self.ndim), ops.normalize_dim(dim1, self.ndim)
        if self.ndim == 0:
            return self
        dims = list(range(self.ndim))
        dims[dim0], dims[dim1] = dims[dim1], dims[dim0]
        return self.permute(*dims)

    def unsqueeze(self, dim: int) -> Tensor:
        dim = ops.normalize_dim(dim, self.ndim + 1)
        return self.reshape(self.shape[:dim] + (1,) + self.shape[dim:])

    def squeeze(self, dim: int | tuple[int, ...] | None = None) -> Tensor:
        """Remove size-1 dims: all of them, or those of ``dim`` (an int or a tuple) that have size 1."""
        if dim is None:
            return self.reshape(tuple(n for n in self.shape if n != 1))
        dims = ops.normalize_dims(dim, self.ndim)
        return self.reshape(tuple(n for i, n in enumerate(self.shape) if not (i in dims and n == 1)))

    def expand(self, *shape: Any) -> Tensor:
        if len(shape) == 1 and isinstance(shape[0], tuple | list):
            shape = tuple(shape[0])
        lead = len(shape) - self.ndim
        if lead < 0:
            raise ValueError(f"expand(): the number of sizes provided ({len(shape)}) must be greater or equal "
                             f"to the number of dimensions in the tensor ({self.ndim})")
        full = []
        for i, n in enumerate(shape):
            old = self.shape[i - lead] if i >= lead else None
            if isinstance(n, bool) or not isinstance(n, int | np.integer) or n < -1 or (n == -1 and old is None):
                raise ValueError(f"expand(): invalid size {n!r} at dim {i} of {tuple(shape)} (-1 keeps an "
                                 "existing size and is not allowed in a new leading dim)")
            if old is not None and n not in (-1, old) and old != 1:
                raise ValueError(f"expand(): the expanded size ({n}) must match the existing size ({old}) at "
                                 f"non-singleton dimension {i}; target sizes {tuple(shape)}, tensor sizes {self.shape}")
            full.append(old if n == -1 else int(n))
        return ops.Expand.apply(self, tuple(full))

    def chunk(self, chunks: int, dim: int = 0) -> tuple[Tensor, ...]:
        if isinstance(chunks, bool) or not isinstance(chunks, int | np.integer) or chunks <= 0:
            raise ValueError(f"chunk(): chunks must be a positive int, got {chunks!r}")
        if self.ndim == 0:
            raise ValueError("chunk(): a 0-d tensor cannot be chunked")
        n = self.shape[ops.normalize_dim(dim, self.ndim)]
        if n == 0:
            return self.split([0] * int(chunks), dim)  # PyTorch: `chunks` empty pieces
        return self.split(-(-n // int(chunks)), dim)

    def split(self, split_size: int | list[int], dim: int = 0) -> tuple[Tensor, ...]:
        if self.ndim == 0:
            raise ValueError("split(): a 0-d tensor cannot be split")
        dim = ops.normalize_dim(dim, self.ndim)
        n = self.shape[dim]
        if isinstance(split_size, int | np.integer) and not isinstance(split_size, bool):
            split_size = int(split_size)
            if split_size < 0 or (split_size == 0 and n != 0):
                raise ValueError(f"split(): split_size must be a positive int (0 only for a dim of size 0), "
                                 f"got {split_size} for dim {dim} of size {n}")
            sizes = [split_size] * (n // split_size) + ([n % split_size] if n % split_size else []) \
                if n else [0]  # an empty dim splits into one empty piece, as in PyTorch
        else:
            sizes = [int(s) for s in split_size]
            if any(s < 0 for s in sizes) or sum(sizes) != n:
                raise ValueError(f"split(): split sizes {sizes} must be non-negative and sum to {n}, "
                                 f"the size of dim {dim}")
        out, start = [], 0
        index = [slice(None)] * self.ndim
        for s in sizes:
            index[dim] = slice(start, start + s)
            out.append(self[tuple(index)])
            start += s
        return tuple(out)

    def __getitem__(self, index: Any) -> Tensor:
        has_arrays = _check_index(index, self.shape, check_values=_wraps_indices(self.backend))
        native = _native_index(index, self.backend)
        if not has_arrays:
            return ops.GetItem.apply(self, native)
        try:
            return ops.GetItem.apply(self, native)
        except (IndexError, RuntimeError):  # numpy and torch word an out-of-range index tensor differently
            raise IndexError(f"index out of range: an index tensor holds a value outside the size of the "
                             f"dimension it indexes (tensor shape {self.shape})") from None

    def __iter__(self):
        for i in range(len(self)):
            yield self[i]

    # ------------------------------------------------------------------ PyTorch methods a port needs
    # The everyday torch.Tensor methods beyond the core above (issue 12): comparisons by name, new_*,
    # masked_fill/gather/scatter/index_select, all/any/isnan, sort/topk/cumsum, tril/triu, multinomial.
    # Each checks its arguments once, here, and raises the same error on every device.

    def __index__(self) -> int:
        """A one-element integer tensor used as a Python index: ``[10, 20, 30][fw.tensor(1)]``."""
        if self.numel() != 1 or self.dtype.is_floating_point:
            raise TypeError("only integer tensors of a single element can be converted to an index")
        return int(self.item())

    def eq(self, other: Any) -> Tensor:
        return self == other

    def ne(self, other: Any) -> Tensor:
        return self != other

    def gt(self, other: Any) -> Tensor:
        return self > other

    def lt(self, other: Any) -> Tensor:
        return self < other

    def ge(self, other: Any) -> Tensor:
        return self >= other

    def le(self, other: Any) -> Tensor:
        return self <= other

    def equal(self, other: Tensor) -> bool:
        """True when ``other`` has the same shape and the same values (``torch.equal``)."""
        return self.shape == other.shape and bool((self == other).all())

    def is_floating_point(self) -> bool:
        return self.dtype.is_floating_point

    def element_size(self) -> int:
        return self.dtype.itemsize

    def view_as(self, other: Tensor) -> Tensor:
        return self.view(other.shape)

    def expand_as(self, other: Tensor) -> Tensor:
        return self.expand(other.shape)

    def t(self) -> Tensor:
        """Transpose a 2-D tensor; 0-D and 1-D tensors come back as they are (``torch.Tensor.t``)."""
        if self.ndim > 2:
            raise ValueError(f"t(): expects a tensor with <= 2 dimensions, got {self.ndim}-D; use transpose()")
        return self if self.ndim < 2 else self.transpose(0, 1)

    @property
    def is_cuda(self) -> bool:
        """Whether the values live in GPU memory (``torch.Tensor.is_cuda``): true for a ``triton``/``cupy``
        tensor on a real GPU; false on ``cpu`` and under the CPU interpreter/emulator."""
        return self.backend.is_gpu

    def narrow(self, dim: int, start: Any, length: Any) -> Tensor:
        """Entries ``start .. start+length-1`` of ``dim`` (``torch.Tensor.narrow``; a negative ``start``
        counts from the end; ``start`` may be a 0-d integer tensor). Like indexing, the result is a slice."""
        if self.ndim == 0:
            raise IndexError("narrow(): cannot be applied to a 0-d tensor")
        d = ops.normalize_dim(dim, self.ndim)
        n = self.shape[d]
        values = []
        for name, v in (("start", start), ("length", length)):
            try:
                values.append(operator.index(v))
            except TypeError:
                raise TypeError(f"narrow(): {name} must be an int, got {v!r}") from None
        start, length = values
        if not -n <= start <= n:
            raise IndexError(f"narrow(): start out of range (expected to be in range of [{-n}, {n}], but got "
                             f"{start})")
        if start < 0:
            start += n
        if length < 0:
            raise ValueError(f"narrow(): length must be non-negative, got {length}")
        if start + length > n:
            raise ValueError(f"narrow(): start ({start}) + length ({length}) exceeds dimension size ({n})")
        index = [slice(None)] * self.ndim
        index[d] = slice(start, start + length)
        return self[tuple(index)]

    def _times_alpha(self, other: Any, alpha: Any, name: str) -> Any:
        """``alpha * other`` for add/sub, refusing a float ``alpha`` with integer operands as PyTorch does."""
        if isinstance(alpha, bool) or not isinstance(alpha, int | float | np.integer | np.floating):
            raise TypeError(f"{name}(): alpha must be a number, got {alpha!r}")
        other_float = (other.dtype.is_floating_point if isinstance(other, Tensor)
                       else isinstance(other, float | np.floating))
        if isinstance(alpha, float | np.floating) and not (self.dtype.is_floating_point or other_float):
            raise TypeError(f"{name}(): for integer tensors, alpha must not be a floating point number, "
                            f"got {alpha!r}")
        return other if alpha == 1 else other * alpha

    def add(self, other: Any, *, alpha: Any = 1) -> Tensor:
        """``self + alpha * other`` (``torch.Tensor.add``)."""
        return self + self._times_alpha(other, alpha, "add")

    def sub(self, other: Any, *, alpha: Any = 1) -> Tensor:
        """``self - alpha * other`` (``torch.Tensor.sub``)."""
        return self - self._times_alpha(other, alpha, "sub")

    def mul(self, other: Any) -> Tensor:
        """``self * other`` (``torch.Tensor.mul``)."""
        return self * other

    def div(self, other: Any, *, rounding_mode: str | None = None) -> Tensor:
        """``self / other``, or ``floor(self / other)`` with ``rounding_mode='floor'`` (``torch.Tensor.div``;
        ``'trunc'`` is not supported and says so)."""
        if rounding_mode is None:
            return self / other
        if rounding_mode == "floor":  # unlike //, differentiable: a zero gradient, as PyTorch's div
            return self._integer_divide(ops.DivFloor, other, "div")
        if rounding_mode == "trunc":
            raise ValueError("div(): rounding_mode='trunc' is not supported; use None or 'floor'")
        raise ValueError(f"div(): rounding_mode must be None, 'trunc' or 'floor', got {rounding_mode!r}")

    def new_tensor(self, data: Any, dtype: Any = None, device: Any = None, requires_grad: bool = False) -> Tensor:
        """A copy of ``data`` with this tensor's dtype and device unless given."""
        return Tensor(data, dtype=self.dtype if dtype is None else dtype,
                      device=self.backend if device is None else device, requires_grad=requires_grad)

    def new_full(self, size: Any, fill_value: Any, *, dtype: Any = None, device: Any = None,
                 requires_grad: bool = False) -> Tensor:
        return full(size, fill_value, dtype=self.dtype if dtype is None else dtype,
                    device=self.backend if device is None else device, requires_grad=requires_grad)

    def new_zeros(self, *size: Any, dtype: Any = None, device: Any = None, requires_grad: bool = False) -> Tensor:
        return self.new_full(_normalize_shape(size), 0, dtype=dtype, device=device, requires_grad=requires_grad)

    def new_ones(self, *size: Any, dtype: Any = None, device: Any = None, requires_grad: bool = False) -> Tensor:
        return self.new_full(_normalize_shape(size), 1, dtype=dtype, device=device, requires_grad=requires_grad)

    def new_empty(self, *size: Any, dtype: Any = None, device: Any = None, requires_grad: bool = False) -> Tensor:
        """Like :meth:`new_zeros` (PyTorch leaves the values uninitialised; zeros are one such value)."""
        return self.new_zeros(*size, dtype=dtype, device=device, requires_grad=requires_grad)

    def repeat(self, *sizes: Any) -> Tensor:
        """Tile the tensor ``sizes[i]`` times along dim ``i`` (leading sizes add dims), like ``np.tile``.

        Built from reshape -> expand -> reshape, so the gradient (a sum over the copies) comes from
        the expand's un-broadcast and needs no op of its own.
        """
        sizes = _normalize_shape(sizes)
        if len(sizes) < self.ndim:
            raise ValueError(f"repeat(): got {len(sizes)} repeat counts {sizes} for a {self.ndim}-D tensor; "
                             "need at least one per dimension")
        shape = (1,) * (len(sizes) - self.ndim) + self.shape
        spread = self.reshape(tuple(v for n in shape for v in (1, n)))
        spread = spread.expand(tuple(v for r, n in zip(sizes, shape, strict=True) for v in (r, n)))
        return spread.reshape(tuple(r * n for r, n in zip(sizes, shape, strict=True)))

    def masked_fill(self, mask: Tensor, value: Any) -> Tensor:
        """``value`` where the bool ``mask`` (broadcast to this shape) is True; ``value`` is a number or a
        0-d tensor, cast to this tensor's dtype."""
        if not isinstance(mask, Tensor) or mask.dtype != "bool":
            got = f"dtype {mask.dtype}" if isinstance(mask, Tensor) else type(mask).__name__
            raise TypeError(f"masked_fill(): mask must be a bool tensor, got {got}")
        if _broadcast_shape(mask.shape, self.shape) != self.shape:
            raise ValueError(f"masked_fill(): mask of shape {mask.shape} does not broadcast to the input's "
                             f"shape {self.shape}")
        if isinstance(value, Tensor):
            if value.ndim != 0:
                raise ValueError(f"masked_fill(): value must be a number or a 0-d tensor, got shape {value.shape}")
            if value.requires_grad:  # the gradient reaches the value too
                return where(mask, value.to(self.dtype), self).expand(self.shape)
            value = value.item()
        if not isinstance(value, bool | int | float | np.generic):
            raise TypeError(f"masked_fill(): value must be a number or a 0-d tensor, got {type(value).__name__}")
        _check_number_fits("masked_fill", value, self.dtype)
        return ops.MaskedFill.apply(self, mask, value)

    def gather(self, dim: int, index: Tensor) -> Tensor:
        """``out[i][j] = self[i][index[i][j]]`` for ``dim=1`` (and likewise for any dim), like torch.gather."""
        d = _check_dim("gather", dim, self.ndim)
        idx = self._index_tensor("gather", index, d)
        if self.ndim == 0:  # as a 1-element 1-D gather (numpy has no axis 0 on a 0-d array)
            return self.reshape(1).gather(0, idx.reshape(1)).reshape(())
        return ops.TakeAlongAxis.apply(_leading_block(self, idx.shape, d), idx._data, d)

    def scatter(self, dim: int, index: Tensor, src: Any = None, *, value: Any = None, reduce: Any = None) -> Tensor:
        """A copy with ``out[i][index[i][j]] = src[i][j]`` for ``dim=1`` (``src`` a tensor or a number)."""
        if reduce is not None:
            raise ValueError(f"scatter(): reduce={reduce!r} is not supported; use scatter_add for 'add'")
        if (src is None) == (value is None):
            raise TypeError("scatter(): pass exactly one of src (a tensor or a number) and value")
        return self._scatter("scatter", ops.Scatter, dim, index, value if src is None else src)

    def scatter_add(self, dim: int, index: Tensor, src: Tensor) -> Tensor:
        """A copy with ``out[i][index[i][j]] += src[i][j]`` for ``dim=1``; repeated indices accumulate."""
        if not isinstance(src, Tensor):
            raise TypeError(f"scatter_add(): src must be a Tensor, got {type_name(src)}")
        return self._scatter("scatter_add", ops.ScatterAdd, dim, index, src)

    def _scatter(self, name: str, fn: type[Function], dim: int, index: Tensor, src: Any) -> Tensor:
        d = _check_dim(name, dim, self.ndim)
        idx = self._index_tensor(name, index, d)
        if self.ndim == 0:  # as a 1-element 1-D scatter
            src = src.reshape(1) if isinstance(src, Tensor) and src.ndim == 0 else src
            return self.reshape(1)._scatter(name, fn, 0, idx.reshape(1), src).reshape(())
        if isinstance(src, Tensor):
            if src.dtype != self.dtype:
                raise TypeError(f"{name}(): src dtype {src.dtype} differs from the input's dtype {self.dtype}")
            if src.ndim != self.ndim or any(i > s for i, s in zip(idx.shape, src.shape, strict=True)):
                raise ValueError(f"{name}(): index of shape {idx.shape} is larger than src of shape {src.shape}")
            src = _leading_block(src, idx.shape, None)
        elif isinstance(src, bool | int | float | np.generic):
            src = src.item() if isinstance(src, np.generic) else src
        else:
            raise TypeError(f"{name}(): src must be a Tensor or a number, got {type(src).__name__}")
        return fn.apply(self, src, idx._data, d)

    def _index_tensor(self, name: str, index: Any, d: int) -> Tensor:
        """Check a gather/scatter index: an integer tensor on this device with this many dims, no bigger
        than this tensor off ``d`` and every value in ``[0, self.shape[d])``; returned as int64."""
        if not isinstance(index, Tensor):
            raise TypeError(f"{name}(): index must be a Tensor, got {type_name(index)}")
        if index.dtype.is_floating_point or index.dtype == "bool":
            raise TypeError(f"{name}(): index must be an integer tensor, got dtype {index.dtype}")
        if index.backend is not self.backend:
            raise ValueError(f"{name}(): index is on {index.backend.name!r} but input is on {self.backend.name!r}")
        if index.ndim != self.ndim:
            raise ValueError(f"{name}(): index has {index.ndim} dims but input has {self.ndim}")
        if any(i > s for k, (i, s) in enumerate(zip(index.shape, self.shape, strict=True)) if k != d):
            raise ValueError(f"{name}(): index of shape {index.shape} is larger than input of shape {self.shape} "
                             f"outside dim {d}")
        _check_index_range(name, index, self.shape[d] if self.ndim else 1, ValueError)
        return index.long()

    def index_select(self, dim: int, index: Tensor) -> Tensor:
        """The slices ``index`` (a 1-D integer tensor) along ``dim``, in that order, repeats allowed."""
        d = _check_dim("index_select", dim, self.ndim)
        if not isinstance(index, Tensor) or index.dtype.is_floating_point or index.dtype == "bool":
            got = f"dtype {index.dtype}" if isinstance(index, Tensor) else type(index).__name__
            raise TypeError(f"index_select(): index must be an integer tensor, got {got}")
        if index.ndim > 1:
            raise ValueError(f"index_select(): index must be 1-D, got shape {index.shape}")
        if index.backend is not self.backend:
            raise ValueError(f"index_select(): index is on {index.backend.name!r} but input is on "
                             f"{self.backend.name!r}")
        _check_index_range("index_select", index, self.shape[d] if self.ndim else 1, IndexError)
        if self.ndim == 0:
            if index.numel() != 1:
                raise ValueError(f"index_select(): a 0-d input takes exactly one index, got {index.numel()}")
            return self.reshape(1)[index.reshape(-1)].reshape(())  # 0-d, for a 0-d or a 1-element index
        return self[(slice(None),) * d + (index.reshape(-1),)]

    def all(self, dim: Any = None, keepdim: bool = False) -> Tensor:
        """Whether every element (along ``dim``) is nonzero; bool (uint8 for uint8 input, as PyTorch)."""
        return self._logical_reduce("all", dim, keepdim)

    def any(self, dim: Any = None, keepdim: bool = False) -> Tensor:
        """Whether some element (along ``dim``) is nonzero; bool (uint8 for uint8 input, as PyTorch)."""
        return self._logical_reduce("any", dim, keepdim)

    def _logical_reduce(self, name: str, dim: Any, keepdim: bool) -> Tensor:
        xp = self.backend.xp
        axes = None if dim is None else tuple(_check_dim(name, d, self.ndim) for d in _as_tuple(dim))
        if self.ndim == 0:
            axes = None  # dim 0 / -1 of a 0-d tensor is the tensor itself (numpy has no axis to name)
        truth = self._data if self.dtype == "bool" else self._data != 0
        out = getattr(xp, name)(truth, axis=axes, keepdims=bool(keepdim))
        if self.dtype == "uint8":
            out = xp.astype(out, self._data.dtype)
        return Tensor._wrap(out, self.backend)

    def isnan(self) -> Tensor:
        return Tensor._wrap(self.backend.xp.isnan(self._data), self.backend)

    def isinf(self) -> Tensor:
        return Tensor._wrap(self.backend.xp.isinf(self._data), self.backend)

    def isfinite(self) -> Tensor:
        return Tensor._wrap(self.backend.xp.isfinite(self._data), self.backend)

    def nonzero(self, *, as_tuple: bool = False) -> Tensor | tuple[Tensor, ...]:
        """Indices of the nonzero elements: an ``(n, ndim)`` int64 tensor, or one 1-D tensor per dim."""
        xp = self.backend.xp
        flat = self._data if self.ndim else xp.reshape(self._data, (1,))
        found = tuple(xp.astype(i, xp.int64) for i in xp.nonzero(flat))
        if as_tuple:
            return tuple(Tensor._wrap(i, self.backend) for i in found)
        if self.ndim == 0:
            return Tensor._wrap(xp.zeros((found[0].shape[0], 0), dtype=xp.int64), self.backend)
        return Tensor._wrap(xp.stack(found, axis=1), self.backend)

    def cumsum(self, dim: int, *, dtype: Any = None) -> Tensor:
        """Running sum along ``dim``; integer and bool inputs sum in int64, as PyTorch does."""
        d = _check_dim("cumsum", dim, self.ndim)
        if dtype is not None:
            name = as_dtype(dtype)
        else:
            name = self.dtype if self.dtype.is_floating_point else as_dtype("int64")
        if self.ndim == 0:
            return self.to(name).clone()
        source = self if dtype is None or name == self.dtype else self.to(name)
        return ops.Cumsum.apply(source, d, self.backend.native_dtype(str(name)))

    def sort(self, dim: int = -1, descending: bool = False, stable: bool = False) -> SortResult:
        """``(values, indices)`` sorted along ``dim``; NaN sorts as the largest value, ties keep their order."""
        d = _check_dim("sort", dim, self.ndim)
        if self.ndim == 0:
            return SortResult(self.clone(), zeros((), dtype="int64", device=self.backend))
        indices = self.backend.xp.argsort(self._data, axis=d, descending=bool(descending), stable=True)
        return SortResult(ops.TakeAlongAxis.apply(self, indices, d), Tensor._wrap(indices, self.backend))

    def argsort(self, dim: int = -1, descending: bool = False, stable: bool = False) -> Tensor:
        return self.sort(dim, descending, stable).indices

    def topk(self, k: int, dim: int = -1, largest: bool = True, sorted: bool = True) -> SortResult:  # noqa: A002
        """The ``k`` largest (``largest=False``: smallest) values along ``dim`` and their indices, in order."""
        d = _check_dim("topk", dim, self.ndim)
        size = self.shape[d] if self.ndim else 1
        if not isinstance(k, int | np.integer) or isinstance(k, bool) or not 0 <= k <= size:
            raise ValueError(f"topk(): k must be an int in [0, {size}] (the size of dim {dim}), got {k!r}")
        if self.ndim == 0:
            return self.sort()
        order = self.backend.xp.argsort(self._data, axis=d, descending=bool(largest), stable=True)
        indices = order[(slice(None),) * d + (slice(0, int(k)),)]
        return SortResult(ops.TakeAlongAxis.apply(self, indices, d), Tensor._wrap(indices, self.backend))

    def tril(self, diagonal: int = 0) -> Tensor:
        """Zero the elements above ``diagonal`` of the last two dims (``diagonal>0`` keeps more)."""
        return self._triangle("tril", diagonal, upper=False)

    def triu(self, diagonal: int = 0) -> Tensor:
        """Zero the elements below ``diagonal`` of the last two dims."""
        return self._triangle("triu", diagonal, upper=True)

    def _triangle(self, name: str, diagonal: int, upper: bool) -> Tensor:
        if self.ndim < 2:
            raise ValueError(f"{name}(): input must have at least 2 dims, got shape {self.shape}")
        if not isinstance(diagonal, int | np.integer) or isinstance(diagonal, bool):
            raise TypeError(f"{name}(): diagonal must be an int, got {diagonal!r}")
        return ops.Triangle.apply(self, int(diagonal), upper)

    def bmm(self, mat2: Tensor) -> Tensor:
        """Batched matrix product of ``(b, n, m)`` and ``(b, m, p)`` tensors (no broadcasting, as PyTorch)."""
        if not isinstance(mat2, Tensor):
            raise TypeError(f"bmm(): mat2 must be a Tensor, got {type_name(mat2)}")
        if self.ndim != 3 or mat2.ndim != 3:
            raise ValueError(f"bmm(): both operands must be 3-D, got shapes {self.shape} and {mat2.shape}")
        if self.shape[0] != mat2.shape[0] or self.shape[2] != mat2.shape[1]:
            raise ValueError(f"bmm(): shapes {self.shape} and {mat2.shape} do not match "
                             "(need (b, n, m) and (b, m, p))")
        if self.dtype != mat2.dtype:
            raise TypeError(f"bmm(): operands must have the same dtype, got {self.dtype} and {mat2.dtype}")
        return ops.MatMul.apply(self, mat2)

    def multinomial(self, num_samples: int, replacement: bool = False, *, generator: Any = None) -> Tensor:
        """Draw category indices with probabilities proportional to this 1-D (or per row of a 2-D) tensor.

        Sampled on the host from ``generator`` (default: the global one); int64 result of shape
        ``(num_samples,)`` or ``(rows, num_samples)``. Without replacement a row never repeats an index;
        zero-weight categories come only after every positive one is drawn, as in PyTorch.
        """
        if self.ndim not in (1, 2):
            raise ValueError(f"multinomial(): input must be 1-D or 2-D, got shape {self.shape}")
        if not self.dtype.is_floating_point:
            raise TypeError(f"multinomial(): input must be a floating-point tensor, got dtype {self.dtype}")
        n = self.shape[-1]
        if not isinstance(num_samples, int | np.integer) or isinstance(num_samples, bool) or num_samples <= 0:
            raise ValueError(f"multinomial(): num_samples must be a positive int, got {num_samples!r}")
        if not replacement and num_samples > n:
            raise ValueError(f"multinomial(): cannot draw num_samples={num_samples} of {n} categories "
                             "without replacement")
        weights = np.asarray(self.numpy(), dtype=np.float64).reshape(-1, n)
        if not np.isfinite(weights).all() or (weights < 0).any():
            raise ValueError("multinomial(): probabilities must be finite and non-negative")
        totals = weights.sum(axis=1, keepdims=True)
        if (totals <= 0).any():
            raise ValueError("multinomial(): every row of probabilities must have a positive sum")
        rng = _numpy_generator(generator)
        if replacement:
            # Inverse CDF: the first category whose cumulative share exceeds u; a zero-weight category
            # shares its bound with the one before it, so it is never the first to exceed u.
            cdf = np.cumsum(weights, axis=1) / totals
            u = rng.random((weights.shape[0], int(num_samples)))
            drawn = np.stack([np.searchsorted(c, row, side="right") for c, row in zip(cdf, u, strict=True)])
        else:
            # Exponential race (equivalent to drawing one at a time and renormalising): the k smallest
            # E/w win; zero weights give +inf and come last.
            with np.errstate(divide="ignore"):
                keys = rng.exponential(size=weights.shape) / weights
            drawn = np.argsort(keys, axis=1, kind="stable")[:, : int(num_samples)]
        drawn = drawn.reshape(self.shape[:-1] + (int(num_samples),))
        return tensor(drawn.astype(np.int64), device=self.backend)

    def bernoulli(self, *, generator: Any = None) -> Tensor:
        """0/1 samples (this tensor's dtype) with P(1) given by each element, which must be in [0, 1]."""
        if not self.dtype.is_floating_point:
            raise TypeError(f"bernoulli(): input must be a floating-point tensor, got dtype {self.dtype}")
        p = np.asarray(self.numpy(), dtype=np.float64)
        if not ((p >= 0) & (p <= 1)).all():
            raise ValueError("bernoulli(): every probability must be in [0, 1]")
        draws = _numpy_generator(generator).random(self.shape) < p
        return Tensor(draws, dtype=self.dtype, device=self.backend)

    # -------------------------------------------------- more torch math: elementwise, norms, products

    def _floating(self) -> Tensor:
        """Integer and bool inputs of float math (sin, log1p, ...) compute in float32, as PyTorch."""
        return self if self.dtype.is_floating_point else self.to(dtype="float32")

    def sin(self) -> Tensor:
        return ops.Sin.apply(self._floating())

    def erf(self) -> Tensor:
        return ops.Erf.apply(self._floating())

    def pow(self, exponent: Any) -> Tensor:
        return self ** exponent

    def __abs__(self) -> Tensor:
        return self.abs()

    def maximum(self, other: Tensor) -> Tensor:
        return maximum(self, other)

    def minimum(self, other: Tensor) -> Tensor:
        return minimum(self, other)

    def where(self, condition: Tensor, other: Any) -> Tensor:
        """``x.where(cond, y)`` is ``where(cond, x, y)``."""
        return where(condition, self, other)

    def lerp(self, end: Tensor, weight: Any) -> Tensor:
        """``self + weight * (end - self)``, differentiable in all three."""
        return self + weight * (end - self)

    def cos(self) -> Tensor:
        return ops.Cos.apply(self._floating())

    def log1p(self) -> Tensor:
        return ops.Log1p.apply(self._floating())

    def expm1(self) -> Tensor:
        return ops.Expm1.apply(self._floating())

    def log2(self) -> Tensor:
        return self._floating().log() * (1 / math.log(2))

    def log10(self) -> Tensor:
        return self._floating().log() * (1 / math.log(10))

    def square(self) -> Tensor:
        return self * self

    def reciprocal(self) -> Tensor:
        return 1 / self._floating()

    def rsqrt(self) -> Tensor:
        return self._floating().sqrt().reciprocal()

    def neg(self) -> Tensor:
        return -self

    negative = neg

    def sign(self) -> Tensor:
        return self.clone() if self.dtype == "bool" else ops.StepLike.apply(self, "sign")

    def floor(self) -> Tensor:
        return self._step("floor")

    def ceil(self) -> Tensor:
        return self._step("ceil")

    def trunc(self) -> Tensor:
        return self._step("trunc")

    def round(self, *, decimals: int = 0) -> Tensor:
        """Round half to even (as PyTorch); ``decimals`` scales by ``10**decimals`` around it, as PyTorch does."""
        if decimals:
            scale = 10.0 ** decimals
            return (self * scale)._step("round") / scale
        return self._step("round")

    def _step(self, name: str) -> Tensor:
        # integers are already whole (numpy's floor would turn them into floats)
        return self.clone() if not self.dtype.is_floating_point else ops.StepLike.apply(self, name)

    def clamp_min(self, min: Any) -> Tensor:  # noqa: A002 - torch's name
        return self.clamp(min=min)

    def clamp_max(self, max: Any) -> Tensor:  # noqa: A002 - torch's name
        return self.clamp(max=max)

    def nan_to_num(self, nan: float = 0.0, posinf: float | None = None, neginf: float | None = None) -> Tensor:
        """NaN -> ``nan``, +-inf -> ``posinf``/``neginf`` (default: the dtype's largest/lowest finite value)."""
        if not self.dtype.is_floating_point:
            return self.clone()
        largest = 3.3895313892515355e38 if self.dtype == "bfloat16" else float(np.finfo(str(self.dtype)).max)
        return ops.NanToNum.apply(self, nan, largest if posinf is None else posinf,
                                  -largest if neginf is None else neginf)

    def logsumexp(self, dim: Any, keepdim: bool = False) -> Tensor:
        """``log(sum(exp(x)))`` over ``dim`` without overflow (the max is taken out first); gradient: softmax."""
        x = self._floating()
        if x.numel():
            peak = x.detach().amax(dim, keepdim=True)
            peak = where(peak.isfinite(), peak, 0.0)  # all -inf (or an inf) rows: no shift, exp gives the answer
        else:  # nothing to shift; an empty reduced dim gives log(0) = -inf, as PyTorch (amax would refuse it)
            peak = 0.0
        out = (x - peak).exp().sum(dim, keepdim=True).log() + peak
        if keepdim:
            return out
        reduced = ops.normalize_dims(dim, self.ndim)
        return out.reshape(tuple(n for i, n in enumerate(self.shape) if i not in reduced))

    def norm(self, p: Any = "fro", dim: Any = None, keepdim: bool = False, dtype: Any = None) -> Tensor:
        """The vector ``p``-norm over ``dim`` (all elements by default; ``"fro"`` is the 2-norm of them).

        p = 2/"fro" (gradient 0 at a zero vector, as PyTorch), 1, inf, -inf, 0 (count of nonzeros) or
        any other positive number. Matrix norms (``"nuc"``, p with a 2-tuple dim) are not supported.
        """
        x = self._floating() if dtype is None else self.to(dtype=dtype)
        if isinstance(dim, tuple | list) and len(dim) == 2 and p not in (2, "fro", None):
            raise ValueError(f"norm(): matrix norm p={p!r} over two dims is not supported; use "
                             "torch.linalg-style p=2/'fro'")
        if p in (2, "fro", None):
            return ops.Norm2.apply(x, None if dim is None else ops.normalize_dims(dim, x.ndim), bool(keepdim))
        if isinstance(p, str) or isinstance(p, bool) or not isinstance(p, int | float):
            raise ValueError(f"norm(): p={p!r} is not supported (use a number, 'fro', inf or -inf)")
        if p == math.inf:
            return x.abs().amax(dim, keepdim)
        if p == -math.inf:
            return x.abs().amin(dim, keepdim)
        if p == 1:
            return x.abs().sum(dim, keepdim)
        if p < 0:
            raise ValueError(f"norm(): negative p={p!r} is not supported")
        return ops.NormP.apply(x, float(p), None if dim is None else ops.normalize_dims(dim, x.ndim), bool(keepdim))

    def prod(self, dim: Any = None, keepdim: bool = False, *, dtype: Any = None) -> Tensor:
        """Product of all elements, or along ``dim``; bool/integer inputs multiply in int64, as PyTorch."""
        source = self
        if dtype is not None:
            source = self.to(dtype=dtype)
        elif not self.dtype.is_floating_point and self.dtype != "int64":
            source = self.to(dtype="int64")
        if dim is None:
            return ops.Prod.apply(source.reshape(-1), 0, False)
        return ops.Prod.apply(source, ops.normalize_dim(dim, self.ndim), bool(keepdim))

    def count_nonzero(self, dim: Any = None) -> Tensor:
        return (self != 0).sum(dim)

    def logical_not(self) -> Tensor:
        return Tensor._wrap(self._data == 0, self.backend)

    def logical_and(self, other: Any) -> Tensor:
        return (self != 0) & (_as_tensor_like(other, self) != 0)

    def logical_or(self, other: Any) -> Tensor:
        return (self != 0) | (_as_tensor_like(other, self) != 0)

    def logical_xor(self, other: Any) -> Tensor:
        return (self != 0) ^ (_as_tensor_like(other, self) != 0)

    def isclose(self, other: Any, rtol: float = 1e-05, atol: float = 1e-08, equal_nan: bool = False) -> Tensor:
        """Elementwise ``|self - other| <= atol + rtol * |other|`` (equal infinities are close; NaN only
        with ``equal_nan``), as torch.isclose."""
        other = _as_tensor_like(other, self)
        with no_grad():
            close = self == other
            finite = self.isfinite() & other.isfinite()
            if self.dtype.is_floating_point or other.dtype.is_floating_point:
                # zero the non-finite entries first: they are decided above, and inf - inf would warn
                a = where(finite, self.to(dtype="float64"), 0.0)
                b = where(finite, other.to(dtype="float64"), 0.0)
                close = close | (finite & ((a - b).abs() <= atol + rtol * b.abs()))
                if equal_nan:
                    close = close | (self.isnan() & other.isnan())
            else:
                close = close | ((self - other).abs() <= atol + rtol * other.abs())
        return close

    def allclose(self, other: Any, rtol: float = 1e-05, atol: float = 1e-08, equal_nan: bool = False) -> bool:
        return bool(self.isclose(other, rtol, atol, equal_nan).all())

    # --------------------------------------------------------------- more torch shape/index methods

    def flip(self, *dims: Any) -> Tensor:
        """Reverse the order of elements along ``dims``."""
        dims = dims[0] if len(dims) == 1 and isinstance(dims[0], tuple | list) else dims
        return ops.Flip.apply(self, ops.normalize_dims(tuple(dims), self.ndim, "flip(): dims"))

    def roll(self, shifts: Any, dims: Any = None) -> Tensor:
        """Shift elements by ``shifts`` along ``dims`` (the flattened tensor when ``dims`` is None), wrapping."""
        if dims is None:
            if not isinstance(shifts, int | np.integer):
                raise TypeError(f"roll(): without dims, shifts must be one int, got {shifts!r}")
            return ops.Roll.apply(self, int(shifts), None)
        shifts_t, dims_t = _as_tuple(shifts), _as_tuple(dims)
        if len(shifts_t) != len(dims_t):
            raise ValueError(f"roll(): shifts {shifts!r} and dims {dims!r} must have the same length")
        total: dict[int, int] = {}  # a dim named twice rolls twice, as PyTorch: its shifts add up
        for shift, dim in zip(shifts_t, dims_t, strict=True):
            d = ops.normalize_dim(dim, self.ndim, "dims")
            total[d] = total.get(d, 0) + int(shift)
        return ops.Roll.apply(self, tuple(total.values()), tuple(total))

    def unbind(self, dim: int = 0) -> tuple[Tensor, ...]:
        """The slices along ``dim``, each without that dim."""
        d = ops.normalize_dim(dim, self.ndim)
        return tuple(self[(slice(None),) * d + (i,)] for i in range(self.shape[d]))

    def masked_select(self, mask: Tensor) -> Tensor:
        """The elements where the bool ``mask`` (broadcast with this tensor) is True, as a 1-D tensor."""
        if not isinstance(mask, Tensor) or mask.dtype != "bool":
            got = f"dtype {mask.dtype}" if isinstance(mask, Tensor) else type(mask).__name__
            raise TypeError(f"masked_select(): mask must be a bool tensor, got {got}")
        shape = _broadcast_shape(mask.shape, self.shape)
        if shape is None:
            raise ValueError(f"masked_select(): mask of shape {mask.shape} does not broadcast with {self.shape}")
        return self.expand(shape)[mask.expand(shape)]

    def argwhere(self) -> Tensor:
        return self.nonzero()

    def repeat_interleave(self, repeats: Any, dim: int | None = None) -> Tensor:
        """Repeat each element (each slice along ``dim``) ``repeats`` times (an int or one count per slice)."""
        source, d = (self.reshape(-1), 0) if dim is None else (self, ops.normalize_dim(dim, self.ndim))
        n = source.shape[d] if source.ndim else 1
        counts = repeats.numpy() if isinstance(repeats, Tensor) else np.asarray(repeats)
        if counts.dtype.kind not in "iu" or counts.ndim > 1 or (counts < 0).any():
            # (a tensor shown by its values and dtype: its repr names the device, and the message must not)
            got = f"a {repeats.dtype} tensor of {counts.tolist()!r}" if isinstance(repeats, Tensor) else repr(repeats)
            raise ValueError(f"repeat_interleave(): repeats must be a non-negative int or 1-D integer tensor, "
                             f"got {got}")
        if counts.ndim == 1 and counts.shape[0] not in (1, n):
            raise ValueError(f"repeat_interleave(): {counts.shape[0]} repeat counts for a dim of size {n}")
        index = Tensor(np.repeat(np.arange(n), counts), dtype="int64", device=self.backend)
        return source.index_select(d, index)

    def diag(self, diagonal: int = 0) -> Tensor:
        """1-D: a square matrix with this vector on diagonal ``diagonal``; 2-D: that diagonal as a vector."""
        k = int(diagonal)
        if self.ndim == 1:
            n = self.shape[0] + abs(k)
            rows = np.arange(self.shape[0]) + max(-k, 0)
            flat = Tensor(rows * n + rows + k, dtype="int64", device=self.backend)
            return ops.ScatterAdd.apply(zeros(n * n, dtype=self.dtype, device=self.backend), self, flat._data,
                                        0).reshape(n, n)
        if self.ndim == 2:
            length = max(0, min(self.shape[0] + min(k, 0), self.shape[1] - max(k, 0)))
            rows = np.arange(length) + max(-k, 0)
            return self[Tensor(rows, dtype="int64", device=self.backend),
                        Tensor(rows + k, dtype="int64", device=self.backend)]
        raise ValueError(f"diag(): input must be 1-D or 2-D, got shape {self.shape}")

    def trace(self) -> Tensor:
        if self.ndim != 2:
            raise ValueError(f"trace(): input must be 2-D, got shape {self.shape}")
        return self.diag().sum()

    def matmul(self, other: Tensor) -> Tensor:
        return matmul(self, other)

    def mm(self, mat2: Tensor) -> Tensor:
        """Matrix product of two 2-D tensors (no broadcasting)."""
        if self.ndim != 2 or not isinstance(mat2, Tensor) or mat2.ndim != 2:
            got = mat2.shape if isinstance(mat2, Tensor) else type(mat2).__name__
            raise ValueError(f"mm(): both operands must be 2-D tensors, got {self.shape} and {got}")
        return matmul(self, mat2)

    def mv(self, vec: Tensor) -> Tensor:
        if self.ndim != 2 or not isinstance(vec, Tensor) or vec.ndim != 1:
            got = vec.shape if isinstance(vec, Tensor) else type(vec).__name__
            raise ValueError(f"mv(): expects a 2-D matrix and a 1-D vector, got {self.shape} and {got}")
        return matmul(self, vec)

    def dot(self, other: Tensor) -> Tensor:
        if self.ndim != 1 or not isinstance(other, Tensor) or other.ndim != 1:
            got = other.shape if isinstance(other, Tensor) else type(other).__name__
            raise ValueError(f"dot(): both operands must be 1-D tensors, got {self.shape} and {got}")
        return matmul(self, other)

    def outer(self, vec2: Tensor) -> Tensor:
        if self.ndim != 1 or not isinstance(vec2, Tensor) or vec2.ndim != 1:
            got = vec2.shape if isinstance(vec2, Tensor) else type(vec2).__name__
            raise ValueError(f"outer(): both operands must be 1-D tensors, got {self.shape} and {got}")
        return self.reshape(-1, 1) * vec2.reshape(1, -1)

    def reshape_as(self, other: Tensor) -> Tensor:
        return self.reshape(other.shape)

    def ravel(self) -> Tensor:
        return self.reshape(-1)

    def unflatten(self, dim: int, sizes: Any) -> Tensor:
        d = ops.normalize_dim(dim, self.ndim)
        return self.reshape(self.shape[:d] + tuple(sizes) + self.shape[d + 1:])

    def movedim(self, source: Any, destination: Any) -> Tensor:
        src = ops.normalize_dims(source, self.ndim, "movedim(): source")
        dst = ops.normalize_dims(destination, self.ndim, "movedim(): destination")
        if len(src) != len(dst):
            raise ValueError(f"movedim(): source {source!r} and destination {destination!r} differ in length")
        order = [d for d in range(self.ndim) if d not in src]
        for s, t in sorted(zip(dst, src, strict=True)):
            order.insert(s, t)
        return self.permute(*order)

    moveaxis = movedim

    def swapaxes(self, axis0: int, axis1: int) -> Tensor:
        return self.transpose(axis0, axis1)

    swapdims = swapaxes

    def broadcast_to(self, size: Any) -> Tensor:
        return self.expand(size)

    def tile(self, *dims: Any) -> Tensor:
        """Like :meth:`repeat`, with missing leading counts taken as 1 (``numpy.tile``)."""
        dims = _normalize_shape(dims)
        return self.repeat((1,) * (self.ndim - len(dims)) + dims)

    def nelement(self) -> int:
        return self.numel()

    def ndimension(self) -> int:
        return self.ndim

    def is_contiguous(self) -> bool:
        """True: kernelgrad has no strided views a caller must make contiguous (``contiguous()`` is a no-op)."""
        return True

    def get_device(self) -> int:
        """The GPU index (0) for a tensor on a GPU backend, -1 on the CPU, as PyTorch."""
        return 0 if self.backend.is_gpu else -1

    def type(self, dtype: Any = None) -> Any:
        """``t.type(dtype)`` casts; ``t.type()`` names the type the way PyTorch does (``"kernelgrad.FloatTensor"``)."""
        if dtype is not None:
            return self.to(dtype=dtype)
        return f"kernelgrad.{_LEGACY_TYPE_NAMES[str(self.dtype)]}"


# ------------------------------------------------------------------------------------------ consumed storage

_DATA_SLOT = Tensor.__dict__["_data"]  # the slot itself, behind the property a consumed tensor puts in front of it


class _ConsumedTensor(Tensor):
    """A tensor whose storage an op reused for its result (:meth:`Tensor._mark_consumed`): shape, dtype, device and
    place in the graph remain, so backward still passes through it; its values are gone, and any read or write
    of them (an op, ``numpy()``, ``print``, ``.data``, ``detach()``, an in-place op) raises RuntimeError."""

    __slots__ = ()
    _consumed_message = "this tensor's storage was reused by an operation"

    @property
    def _data(self) -> Any:
        raise RuntimeError(self._consumed_message)

    @_data.setter
    def _data(self, value: Any) -> None:
        raise RuntimeError(self._consumed_message)

    @property
    def shape(self) -> tuple[int, ...]:
        return tuple(_DATA_SLOT.__get__(self).shape)

    @property
    def ndim(self) -> int:
        return len(_DATA_SLOT.__get__(self).shape)

    @property
    def dtype(self) -> DType:
        native = _DATA_SLOT.__get__(self)
        return _DTYPE_OF_NATIVE.get(native.dtype) or as_dtype(self.backend.dtype_name(native))

    def __repr__(self) -> str:
        return f"tensor(<consumed>, shape={self.shape}, dtype={self.dtype!r}, device={self.backend.name!r})"

    def retain_grad(self) -> None:
        raise RuntimeError(self._consumed_message)

    def register_hook(self, hook: Any):
        raise RuntimeError(self._consumed_message)


_CONSUMED_CLASSES: dict[str, type] = {}


def _consumed_class(message: str) -> type:
    """The :class:`_ConsumedTensor` subclass whose errors say ``message`` (one per message)."""
    cls = _CONSUMED_CLASSES.get(message)
    if cls is None:
        cls = _CONSUMED_CLASSES[message] = type("ConsumedTensor", (_ConsumedTensor,),
                                                {"__slots__": (), "_consumed_message": message})
    return cls


class _Probe:
    """An object holding a fresh value in a slot, as a Tensor holds its array: the reference counts of a value
    nothing else holds, measured the same way as a tensor's (no assumption on how this Python counts temporaries)."""

    __slots__ = ("value",)

    def __init__(self, value: Any) -> None:
        self.value = value


def _native_refusal(t: Tensor) -> str | None:
    """Why ``t``'s native array may be reachable from anywhere but ``t`` (see :meth:`Tensor._consume_refusal`), or
    None. numpy: Python references to the array (a recorded op holds its inputs' arrays, a view its base, an
    export the array) and to its base; torch: Python references plus the TensorImpl's and the storage's use counts
    (a DLPack export or a torch view holds those without a Python reference). Each count is compared with a fresh
    array's, held the same way (one slot, one local name). CuPy arrays are refused: unverified on a GPU."""
    array = t._data
    other = "their array is referenced elsewhere (another recorded op's input or saved value, or an export)"
    if isinstance(array, np.ndarray):
        probe = _Probe(np.empty(1))
        fresh = probe.value
        if sys.getrefcount(array) > sys.getrefcount(fresh):
            return other
        base = array.base
        if base is None:
            return None
        if not isinstance(base, np.ndarray) or base.base is not None:
            return "their memory is owned by another object (an imported or mapped buffer)"
        view = np.empty(2)[:1]
        fresh_base = view.base  # held like base: by one view and one local name
        return other if sys.getrefcount(base) > sys.getrefcount(fresh_base) else None
    if type(array).__module__.partition(".")[0] == "torch":
        torch = sys.modules["torch"]
        storage_uses = getattr(torch._C, "_storage_Use_Count", None)
        if storage_uses is None or not hasattr(array, "_use_count"):
            return "this torch gives no reference counts to prove that nothing else holds their storage"
        probe = _Probe(torch.empty(1, dtype=array.dtype, device=array.device))
        fresh = probe.value
        if (sys.getrefcount(array) > sys.getrefcount(fresh) or array._use_count() > fresh._use_count()
                or storage_uses(array.untyped_storage()._cdata) > storage_uses(fresh.untyped_storage()._cdata)):
            return other
        return None
    return f"reusing the storage of a {type(array).__module__}.{type(array).__name__} is not verified"


def host_copy(value: Any) -> np.ndarray:
    """A fresh host numpy array from a Tensor, a numpy array, a torch tensor or anything with ``__array__``
    (how state dicts from kernelgrad, numpy or PyTorch are loaded without aliasing the caller's arrays)."""
    if isinstance(value, Tensor):
        return value.numpy().copy()
    if hasattr(value, "detach"):  # a torch tensor (one that requires grad refuses __array__)
        value = value.detach().cpu().numpy()
    elif hasattr(value, "__cuda_array_interface__") and hasattr(value, "get"):  # cupy refuses __array__
        value = value.get()
    return np.array(value, copy=True)


def _rebuild_tensor(cls: type, array: np.ndarray, dtype: str, device: str, requires_grad: bool) -> Tensor:
    obj = cls.__new__(cls)
    Tensor.__init__(obj, array, dtype=dtype, device=device, requires_grad=requires_grad)
    return obj


def _is_device(name: str) -> bool:
    return name.split(":")[0] in {"cpu", "cuda", "triton", "cupy"} or name in registered_devices()




def type_name(value: Any) -> str:
    """A value's type for error messages: ``float``, ``list``, but ``torch.Tensor`` and ``numpy.ndarray`` (a
    torch tensor's class is also called ``Tensor``, and "must be a Tensor, got Tensor" helps nobody)."""
    cls = type(value)
    package = cls.__module__.split(".")[0]
    return cls.__qualname__ if package in ("builtins", "framework") else f"{package}.{cls.__qualname__}"


def _reshape_target(shape: tuple, old: tuple[int, ...]) -> tuple[int, ...]:
    """``shape`` checked against a tensor of shape ``old`` and with its -1 resolved, before any backend sees it
    (numpy and torch raise different exception types for the same mistake)."""
    if any(isinstance(n, bool) or not isinstance(n, int | np.integer) for n in shape):
        raise TypeError(f"reshape(): shape must be ints, got {shape!r}")
    shape = tuple(int(n) for n in shape)
    if any(n < -1 for n in shape):
        raise ValueError(f"reshape(): invalid size {min(shape)} in shape {shape}")
    if shape.count(-1) > 1:
        raise ValueError(f"reshape(): only one dimension can be inferred (-1), got shape {shape}")
    numel, known = math.prod(old), math.prod(n for n in shape if n != -1)
    if -1 in shape:
        if known == 0:
            raise ValueError(f"reshape(): cannot infer the -1 in shape {shape} for a tensor of {numel} elements")
        if numel % known == 0:
            shape = tuple(numel // known if n == -1 else n for n in shape)
    if math.prod(shape) != numel:
        raise ValueError(f"reshape(): shape {shape} is invalid for a tensor of shape {tuple(old)} ({numel} elements)")
    return shape


def _cast(t: Tensor, dtype: DType) -> Tensor:
    """``t`` in ``dtype`` (differentiable; no copy when it already is)."""
    if t.dtype == dtype:
        return t
    if dtype not in t.backend.dtypes:
        raise TypeError(f"dtype {dtype} is not supported on device {t.backend.name!r}")
    return ops.Cast.apply(t, t.backend.native_dtype(str(dtype)))


def _scalar_as(value: bool | int | float, dtype: DType) -> bool | int | float:
    """A Python number ready to combine with an array of ``dtype`` on any backend.

    An int outside an integer dtype's range wraps around as in PyTorch (``int8 + 1000``); numpy would
    raise OverflowError and older CuPy would widen the result.
    """
    if isinstance(value, int) and not isinstance(value, bool) and dtype != "bool" and not dtype.is_floating_point:
        info = np.iinfo(str(dtype))
        if not info.min <= value <= info.max:
            span = info.max - info.min + 1
            value = (value - info.min) % span + info.min
    return value


def _any_zero(x: Any) -> bool:
    """Whether a divisor (a Tensor or a number) holds a zero; reads a tensor's values on the host."""
    return bool(x.backend.xp.any(x._data == 0)) if isinstance(x, Tensor) else x == 0


def _any_negative(x: Any) -> bool:
    return bool(x.backend.xp.any(x._data < 0)) if isinstance(x, Tensor) else x < 0


def _dim(dim: Any, axis: Any) -> Any:
    return axis if axis is not None else dim


def _check_dim(name: str, dim: Any, ndim: int) -> int:
    """``dim`` as a non-negative axis; IndexError like PyTorch when it is out of range (0-d: -1 or 0)."""
    return ops.normalize_dim(dim, ndim, f"{name}(): dim")


_LEGACY_TYPE_NAMES = {"float32": "FloatTensor", "float64": "DoubleTensor", "float16": "HalfTensor",
                      "bfloat16": "BFloat16Tensor", "int64": "LongTensor", "int32": "IntTensor", "int16": "ShortTensor",
                      "int8": "CharTensor", "uint8": "ByteTensor", "bool": "BoolTensor"}


def _as_tensor_like(value: Any, like: Tensor) -> Tensor:
    """``value`` (a Tensor, a number or array data) as a Tensor on ``like``'s device."""
    return value if isinstance(value, Tensor) else Tensor(value, device=like.backend)


def _numpy_generator(generator: Any) -> np.random.Generator:
    """Where a ``generator=`` argument draws from: the global stream (``fw.manual_seed``) for None, else
    the given ``fw.Generator``'s own stream."""
    return _random.generator() if generator is None else _random.numpy_generator(generator)


def _as_tuple(dim: Any) -> tuple:
    return tuple(dim) if isinstance(dim, tuple | list) else (dim,)


def _broadcast_shape(a: tuple, b: tuple) -> tuple | None:
    """The broadcast of two shapes, or None when they do not broadcast."""
    try:
        return tuple(np.broadcast_shapes(a, b))
    except ValueError:
        return None


def _check_index_range(name: str, index: Tensor, size: int, error: type[Exception]) -> None:
    """Every value of ``index`` in ``[0, size)`` (one host sync; PyTorch checks the same on the CPU)."""
    if index.numel() == 0:
        return
    xp = index.backend.xp
    lo, hi = int(xp.min(index._data)), int(xp.max(index._data))
    if lo < 0 or hi >= size:
        bad = lo if lo < 0 else hi
        raise error(f"{name}(): index {bad} is out of range for a dimension of size {size}")


def _leading_block(t: Tensor, shape: tuple, skip: int | None) -> Tensor:
    """``t[:shape[0], :shape[1], ...]`` (all of dim ``skip``): the part of ``t`` an index of ``shape`` reads."""
    if all(k == skip or n == s for k, (n, s) in enumerate(zip(shape, t.shape, strict=True))):
        return t
    return t[tuple(slice(None) if k == skip else slice(0, n) for k, n in enumerate(shape))]


def _variance_args(name: str, dim: Any, unbiased: Any, correction: Any) -> tuple[Any, float]:
    """Sort out var/std's overloads: ``var(True)`` means unbiased (not dim 1), ``var(dim, unbiased)``."""
    if isinstance(dim, bool):  # var(unbiased) -- a bool is never a dim in PyTorch's signature
        if unbiased is not None:
            raise TypeError(f"{name}(): got unbiased twice ({dim!r} positionally and {unbiased!r})")
        dim, unbiased = None, dim
    if unbiased is not None and correction is not None:
        raise TypeError(f"{name}(): pass either unbiased or correction, not both")
    if unbiased is not None:
        if not isinstance(unbiased, bool):
            raise TypeError(f"{name}(): unbiased must be a bool, got {unbiased!r}")
        return dim, 1 if unbiased else 0
    return dim, 1 if correction is None else correction


def _keep(keepdim: bool, keepdims: bool | None) -> bool:
    value = keepdims if keepdims is not None else keepdim
    if not isinstance(value, bool | int | np.bool_):  # bool(tensor) would raise each backend's own error
        raise TypeError(f"keepdim must be a bool, got {type_name(value)}")
    return bool(value)


def _check_number_fits(name: str, value: Any, dtype: DType) -> None:
    """A number written into an integer tensor must fit: one ValueError on every device (numpy, torch and
    cupy each fail differently, or wrap silently). PyTorch wraps a negative value into uint8; refused here."""
    if dtype.is_floating_point or dtype == "bool" or isinstance(value, bool | np.bool_):
        return
    info = np.iinfo(np.dtype(str(dtype)))
    if not (math.isfinite(value) and info.min <= value <= info.max):
        raise ValueError(f"{name}(): value {value!r} cannot be converted to {dtype} without overflow")


def _wraps_indices(backend: Backend) -> bool:
    """CuPy on a GPU wraps an out-of-range index array around (x[[5]] of 3 rows is x[[2]]); numpy raises, and
    torch on a GPU stops with a device-side assert. Only there must the framework check index values."""
    return backend.is_gpu and backend.name == "cupy"


def _check_index(index: Any, shape: tuple[int, ...], check_values: bool = False) -> bool:
    """Check an index the way PyTorch does, before a backend words the same mistake its own way; returns
    whether it holds index arrays (whose values are only checked by the backend, unless ``check_values``:
    then here, with one host sync — for CuPy on a GPU, whose fancy indexing silently wraps out-of-range
    indices around instead of raising).

    Raises IndexError for too many indices, an int out of range, a bool mask of the wrong shape or an
    index of another kind (floats included), and ValueError for a slice step < 1 (numpy would reverse).
    """
    items = index if isinstance(index, tuple) else (index,)
    if len(items) <= len(shape) and all(type(it) is int or type(it) is slice for it in items):
        # The everyday x[i], x[:, t], x[a:b]: each item takes the next dim.
        for dim, it in enumerate(items):
            if type(it) is int and not -shape[dim] <= it < shape[dim]:
                raise IndexError(f"index {it} is out of bounds for dimension {dim} with size {shape[dim]}")
            if type(it) is slice and it.step is not None and it.step < 1:
                raise ValueError(f"slice step must be greater than zero, got {it.step} (use .flip() to reverse)")
        return False
    arrays = [np.asarray(it) if isinstance(it, list) else it for it in items]

    def width(it: Any) -> int:  # how many dims of the tensor an index item consumes
        if it is None or it is Ellipsis or isinstance(it, bool):
            return 0
        if isinstance(it, Tensor | np.ndarray) and str(it.dtype) == "bool":
            return it.ndim
        return 1

    used = sum(width(it) for it in arrays)
    if sum(it is Ellipsis for it in arrays) > 1:
        raise IndexError("an index can only have a single ellipsis ('...')")
    if used > len(shape):
        raise IndexError(f"too many indices for a tensor of dimension {len(shape)} (index {index!r})")
    dim, has_arrays = 0, False
    for it in arrays:
        if it is Ellipsis:
            dim += len(shape) - used
        elif it is None or isinstance(it, bool):
            continue
        elif isinstance(it, int | np.integer):
            if not -shape[dim] <= it < shape[dim]:
                raise IndexError(f"index {it} is out of bounds for dimension {dim} with size {shape[dim]}")
            dim += 1
        elif isinstance(it, slice):
            if it.step is not None and it.step < 1:
                raise ValueError(f"slice step must be greater than zero, got {it.step} (use .flip() to reverse)")
            dim += 1
        elif isinstance(it, Tensor | np.ndarray):
            kind = np.dtype("float32" if str(it.dtype) == "bfloat16" else str(it.dtype)).kind
            if kind == "b":
                if tuple(it.shape) != tuple(shape[dim:dim + it.ndim]):
                    raise IndexError(f"the shape of the mask {tuple(it.shape)} does not match the shape "
                                     f"{tuple(shape[dim:dim + it.ndim])} of the dims it indexes, from dim {dim}")
            elif kind not in "iu":
                raise IndexError(f"tensors used as indices must be integer or bool tensors, got dtype {it.dtype}")
            elif check_values and it.size:
                values = it._data if isinstance(it, Tensor) else it
                xp = it.backend.xp if isinstance(it, Tensor) else np
                lo, hi = int(xp.min(values)), int(xp.max(values))
                if lo < -shape[dim] or hi >= shape[dim]:
                    bad = lo if lo < -shape[dim] else hi
                    raise IndexError(f"index {bad} is out of bounds for dimension {dim} with size {shape[dim]}")
            has_arrays = True
            dim += width(it)
        else:
            raise IndexError(f"only integers, slices, ellipsis (...), None and integer or bool tensors are valid "
                             f"indices, got {type_name(it)}")
    return has_arrays


#: For each view op: how the new value of a view is written back into its base's value (recorded ops).
_VIEW_SCATTER = {
    ops.GetItem: lambda base, args, new: ops.IndexPut.apply(base, args[1], new),
    ops.Reshape: lambda base, args, new: ops.Reshape.apply(new, base.shape),
    ops.Permute: lambda base, args, new: ops.Permute.apply(new, tuple(int(i) for i in np.argsort(args[1]))),
}


def _inplace_result(name: str, target: Tensor, new: Tensor) -> Tensor:
    """``new`` checked to fit into ``target`` (same shape, castable dtype) and cast to its dtype."""
    if new.shape != target.shape:
        raise RuntimeError(f"{name}(): output with shape {target.shape} doesn't match the broadcast shape "
                           f"{new.shape}")
    if new.dtype != target.dtype:
        def kind(d: DType) -> int:
            return 2 if d.is_floating_point else 0 if d == "bool" else 1

        if kind(new.dtype) > kind(target.dtype):
            raise RuntimeError(f"{name}(): result type {new.dtype} can't be cast to the desired output type "
                               f"{target.dtype}")
        new = new.to(dtype=target.dtype)
    return new


def _native_index(index: Any, backend: Backend) -> Any:
    """Turn Tensors (and lists of ints/bools) inside an index into the backend's native arrays."""
    if isinstance(index, tuple):
        return tuple(_native_index(i, backend) for i in index)
    if isinstance(index, Tensor):
        if index.backend is not backend:
            raise ValueError(f"index tensor is on {index.backend.name!r} but the indexed tensor is on {backend.name!r}")
        return index._data
    if isinstance(index, list | np.ndarray):
        array = np.asarray(index)
        return backend.from_numpy(array, array.dtype.name)
    return index


class ToDevice(Function):
    """Copy between devices through the host; the gradient goes back the same way."""

    @staticmethod
    def forward(ctx, a, target):
        ctx.output_backend = target  # the one op whose output lives on another device than its input
        return target.from_numpy(ctx.backend.to_numpy(a), ctx.backend.dtype_name(a))

    @staticmethod
    def backward(ctx, grad):
        target = ctx.output_backend
        return ctx.backend.from_numpy(target.to_numpy(grad), target.dtype_name(grad)), None


# ---------------------------------------------------------------------------------- free functions


def matmul(a: Tensor, b: Tensor) -> Tensor:
    """``a @ b`` with numpy/torch semantics for 1-D operands (lifted to 2-D, then squeezed)."""
    if not isinstance(a, Tensor) or not isinstance(b, Tensor):
        raise TypeError("matmul(): both operands must be Tensors")
    if a.ndim == 0 or b.ndim == 0:
        raise ValueError(f"matmul(): operands must be at least 1-D, got shapes {a.shape} and {b.shape}")
    if a.shape[-1] != b.shape[-2 if b.ndim > 1 else 0]:
        raise ValueError(f"matmul(): shapes {a.shape} and {b.shape} are not aligned")
    if a.dtype != b.dtype or a.dtype == "bool":  # PyTorch does not promote here; numpy would
        raise TypeError(f"matmul(): expected both operands to have the same non-bool dtype, got {a.dtype} "
                        f"and {b.dtype}")
    if a.backend is not b.backend:
        raise ValueError(f"matmul(): expected all tensors on one device, got {a.backend.name!r} and "
                         f"{b.backend.name!r}")
    ops.broadcast_shapes(a.shape[:-2], b.shape[:-2], "matmul")  # the batch dims
    a2 = a.unsqueeze(0) if a.ndim == 1 else a
    b2 = b.unsqueeze(1) if b.ndim == 1 else b
    out = ops.MatMul.apply(a2, b2)
    if b.ndim == 1:
        out = out.squeeze(-1)
    if a.ndim == 1:
        out = out.squeeze(-2 if b.ndim > 1 else -1)
    return out


def from_dlpack(obj: Any, device: Any = None) -> Tensor:
    """A tensor sharing ``obj``'s memory through DLPack (a torch/cupy/numpy array or anything with
    ``__dlpack__``), like ``torch.from_dlpack``.

    ``device`` defaults to where ``obj`` lives (``cpu`` for host memory, ``cuda`` for GPU memory).  When
    ``obj`` lives elsewhere than ``device`` (a CUDA tensor for ``cpu``, or host memory for a GPU device)
    the values are copied instead, as ``tensor.to(device)`` would.  Raises TypeError for an object
    without ``__dlpack__`` and for dtypes the device cannot store.
    """
    if not hasattr(obj, "__dlpack__"):
        raise TypeError(f"from_dlpack(): {type(obj).__name__} does not implement the DLPack protocol (__dlpack__)")
    if device is None:
        kDLCPU = 1
        device = "cpu" if int(obj.__dlpack_device__()[0]) == kDLCPU else "cuda"
    backend = get_backend(device)
    try:
        data = backend.from_dlpack(obj)
    except (BufferError, RuntimeError, TypeError, ValueError):
        data = None  # memory this device cannot address (or a dtype its array type lacks): copy below
    if data is not None and backend.dtype_name(data) in backend.dtypes:
        return Tensor._wrap(data, backend)
    return tensor(host_copy(obj), device=backend)


def _host_array(data: Any) -> np.ndarray:
    """``data`` as a numpy array; Python data gets torch.tensor's dtypes (floats float32, ints int64)."""
    if isinstance(data, Tensor):
        return data.backend.to_numpy(data._data)
    try:
        array = np.asarray(data)
    except ValueError:  # numpy's words for it ("inhomogeneous shape") are about its own arrays
        raise ValueError("tensor(): nested sequences must have equal lengths at each level (the data "
                         "is ragged)") from None
    if not isinstance(data, np.ndarray | np.generic):
        if array.dtype.kind == "f":
            array = array.astype(np.float32)
        elif array.dtype.kind in "iu":
            array = array.astype(np.int64)
    if array.dtype.kind not in "biuf":
        raise TypeError(f"tensor(): cannot make a tensor from data of dtype {array.dtype}")
    return array


def tensor(data: Any, dtype: Any = None, device: Any = None, requires_grad: bool = False) -> Tensor:
    """Make a tensor from Python data, a numpy array or another Tensor (always a copy); without ``dtype``
    the dtype comes from the data (Python floats float32, ints int64, numpy arrays keep theirs)."""
    source = data._data if isinstance(data, Tensor) else data
    if dtype is None:
        array = _host_array(data)
        data, dtype = array, as_dtype(array.dtype)
    out = Tensor(data, dtype=dtype, device=device, requires_grad=requires_grad)
    if isinstance(out._data, np.ndarray) and isinstance(source, np.ndarray) and np.may_share_memory(out._data, source):
        # the Tensor constructor shares a same-dtype cpu buffer, as torch.Tensor(ndarray) does; torch.tensor
        # never does: a later write to the numpy array or the source tensor must not show here
        out._data = out._data.copy()
    return out


def _filled(shape: tuple, value_fn, dtype: Any, device: Any, requires_grad: bool) -> Tensor:
    shape = _normalize_shape(shape)
    name = as_dtype(dtype) if dtype is not None else as_dtype("float32")
    return Tensor(value_fn(shape).astype(str(name) if name != "bfloat16" else "float32"),
                  dtype=name, device=device, requires_grad=requires_grad)


def zeros(*shape: Any, dtype: Any = None, device: Any = None, requires_grad: bool = False) -> Tensor:
    return _filled(shape, np.zeros, dtype, device, requires_grad)


def ones(*shape: Any, dtype: Any = None, device: Any = None, requires_grad: bool = False) -> Tensor:
    return _filled(shape, np.ones, dtype, device, requires_grad)


def full(shape: Any, fill_value: float, dtype: Any = None, device: Any = None,
         requires_grad: bool = False) -> Tensor:
    """``shape`` filled with ``fill_value``; without ``dtype`` the value decides, as in PyTorch: a bool
    gives bool, an int int64, a float float32."""
    if isinstance(fill_value, Tensor):
        fill_value = fill_value.item()
    if dtype is None:
        kind = np.asarray(fill_value).dtype.kind
        dtype = {"b": "bool", "i": "int64", "u": "int64"}.get(kind, "float32")
    shape = (shape,) if isinstance(shape, int | np.integer) else tuple(shape)
    return _filled(shape, lambda s: np.full(s, fill_value), dtype, device, requires_grad)


def randn(*shape: Any, dtype: Any = None, device: Any = None, requires_grad: bool = False,
          generator: Any = None) -> Tensor:
    """Standard normal samples from the global generator (seed it with ``manual_seed``) or ``generator``."""
    return _filled(shape, lambda s: _numpy_generator(generator).standard_normal(s), dtype, device, requires_grad)


def rand(*shape: Any, dtype: Any = None, device: Any = None, requires_grad: bool = False,
         generator: Any = None) -> Tensor:
    """Uniform [0, 1) samples from the global generator or ``generator``."""
    return _filled(shape, lambda s: _numpy_generator(generator).random(s), dtype, device, requires_grad)


def randint(*args: Any, size: Any = None, low: int | None = None, high: int | None = None, dtype: Any = None,
            device: Any = None, requires_grad: bool = False, generator: Any = None) -> Tensor:
    """Uniform integers in ``[low, high)``: ``randint(high, size)`` or ``randint(low, high, size)``, as
    ``torch.randint``; int64 unless ``dtype`` says otherwise. ``size`` is a tuple (an int is refused, as
    PyTorch does)."""
    args = list(args)
    if size is None and args:
        size = args.pop()
    bounds = [b for b in (low, high) if b is not None]
    if len(args) + len(bounds) == 1 and low is None:
        low, high = 0, (args or bounds)[0]
    elif len(args) + len(bounds) == 2:
        low, high = (args + [b for b in (low, high) if b is not None])
    else:
        raise TypeError("randint(): expected (high, size) or (low, high, size)")
    if not isinstance(size, tuple | list):
        raise TypeError(f"randint(): size must be a tuple of ints such as (3,), got {size!r}")
    for name, bound in (("low", low), ("high", high)):
        if not isinstance(bound, int | np.integer) or isinstance(bound, bool):
            raise TypeError(f"randint(): {name} must be an int, got {bound!r}")
    if low >= high:
        raise ValueError(f"randint(): low must be less than high, got low={low}, high={high}")
    values = _numpy_generator(generator).integers(int(low), int(high), size=_normalize_shape(tuple(size)))
    return Tensor(values, dtype="int64" if dtype is None else dtype, device=device, requires_grad=requires_grad)


def randperm(n: int, *, dtype: Any = "int64", device: Any = None, requires_grad: bool = False,
             generator: Any = None) -> Tensor:
    """A random permutation of ``0 .. n-1`` from ``generator`` (default: the global one)."""
    if not isinstance(n, int | np.integer) or isinstance(n, bool) or n < 0:
        raise ValueError(f"randperm(): n must be a non-negative int, got {n!r}")
    values = _numpy_generator(generator).permutation(int(n))
    return Tensor(values, dtype=dtype, device=device, requires_grad=requires_grad)


def linspace(start: float, end: float, steps: int, *, dtype: Any = None, device: Any = None,
             requires_grad: bool = False) -> Tensor:
    """``steps`` evenly spaced values from ``start`` to ``end`` inclusive (float32 by default; computed in
    float64 and rounded once; integer dtypes truncate, as PyTorch does)."""
    if not isinstance(steps, int | np.integer) or isinstance(steps, bool) or steps < 0:
        raise ValueError(f"linspace(): steps must be a non-negative int, got {steps!r}")
    start, end = (float(v.item()) if isinstance(v, Tensor) else v for v in (start, end))
    values = np.linspace(float(start), float(end), int(steps))
    return Tensor(values, dtype="float32" if dtype is None else dtype, device=device, requires_grad=requires_grad)


def eye(n: int, m: int | None = None, *, dtype: Any = None, device: Any = None,
        requires_grad: bool = False) -> Tensor:
    """The ``n x m`` (default ``n x n``) identity matrix."""
    for name, v in (("n", n), ("m", n if m is None else m)):
        if not isinstance(v, int | np.integer) or isinstance(v, bool) or v < 0:
            raise ValueError(f"eye(): {name} must be a non-negative int, got {v!r}")
    return _filled((n, n if m is None else m), lambda s: np.eye(*s), dtype, device, requires_grad)


def empty(*size: Any, dtype: Any = None, device: Any = None, requires_grad: bool = False) -> Tensor:
    """A tensor of ``size`` to be overwritten; filled with zeros (PyTorch leaves it uninitialised)."""
    return zeros(*size, dtype=dtype, device=device, requires_grad=requires_grad)


def arange(start: float, end: float | None = None, step: float = 1, dtype: Any = None,
           device: Any = None) -> Tensor:
    if end is None:
        start, end = 0, start
    if step == 0:
        raise ValueError("arange(): step must be nonzero")
    if (end - start) * step < 0:
        raise ValueError(f"arange(): upper bound and lower bound inconsistent with step sign (start={start}, "
                         f"end={end}, step={step})")
    if dtype is not None and not as_dtype(dtype).is_floating_point and any(
            isinstance(v, float) and not float(v).is_integer() for v in (start, end, step)):
        # PyTorch truncates some of these before counting and not others (arange(0, 5, 1.5, dtype=int64) has
        # 5 elements, arange(-2.5, 3, 1.9, dtype=int32) 3): refuse rather than pick one of its answers.
        raise ValueError(f"arange(): with an integer dtype ({dtype}), start, end and step must be whole numbers, "
                         f"got start={start}, end={end}, step={step}")
    values = np.arange(start, end, step)
    if dtype is None:
        dtype = "int64" if values.dtype.kind in "iu" else "float32"
    return Tensor(values, dtype=dtype, device=device)


def _like(t: Tensor, make, dtype: Any, device: Any, requires_grad: bool) -> Tensor:
    """``make(shape, dtype=, device=, requires_grad=)`` with ``t``'s shape, dtype and device unless given."""
    if not isinstance(t, Tensor):
        raise TypeError(f"expected a Tensor as input, got {type(t).__name__}")
    return make(t.shape, dtype=t.dtype if dtype is None else dtype, device=t.backend if device is None else device,
                requires_grad=requires_grad)


def zeros_like(t: Tensor, dtype: Any = None, *, device: Any = None, requires_grad: bool = False) -> Tensor:
    return _like(t, zeros, dtype, device, requires_grad)


def ones_like(t: Tensor, dtype: Any = None, *, device: Any = None, requires_grad: bool = False) -> Tensor:
    return _like(t, ones, dtype, device, requires_grad)


def empty_like(t: Tensor, dtype: Any = None, *, device: Any = None, requires_grad: bool = False) -> Tensor:
    return _like(t, empty, dtype, device, requires_grad)


def full_like(t: Tensor, fill_value: Any, dtype: Any = None, *, device: Any = None,
              requires_grad: bool = False) -> Tensor:
    return _like(t, lambda s, **kw: full(s, fill_value, **kw), dtype, device, requires_grad)


def randn_like(t: Tensor, dtype: Any = None, *, device: Any = None, requires_grad: bool = False) -> Tensor:
    return _like(t, randn, dtype, device, requires_grad)


def rand_like(t: Tensor, dtype: Any = None, *, device: Any = None, requires_grad: bool = False) -> Tensor:
    return _like(t, rand, dtype, device, requires_grad)


def from_numpy(array: np.ndarray) -> Tensor:
    """A ``cpu`` tensor sharing ``array``'s memory (writes to either show in both), like torch.from_numpy."""
    if not isinstance(array, np.ndarray):
        raise TypeError(f"from_numpy(): expected a numpy.ndarray, got {type(array).__name__}")
    backend = get_backend("cpu")
    if array.dtype.kind not in "biuf" or array.dtype.name not in backend.dtypes:
        raise TypeError(f"from_numpy(): numpy dtype {array.dtype} is not supported; "
                        f"supported: {sorted(backend.dtypes)}")
    return Tensor._wrap(array, backend)


def as_tensor(data: Any, dtype: Any = None, device: Any = None) -> Tensor:
    """``data`` as a tensor, sharing memory when it already is one (or a cpu numpy array) of that dtype
    and device, else a copy; like torch.as_tensor."""
    if isinstance(data, Tensor):
        return data.to(dtype=dtype, device=device)
    if isinstance(data, np.ndarray) and get_backend(device).name == "cpu" and data.dtype.kind in "biuf":
        t = from_numpy(data)
        return t if dtype is None else t.to(dtype=dtype)
    return Tensor(data, dtype=dtype, device=device)


def einsum(equation: str, *operands: Any) -> Tensor:
    """Einstein summation as ``torch.einsum``: ``einsum("bij,bjk->bik", a, b)`` (operands may also be one
    list), ``...`` for broadcast leading dims, implicit output (no ``->``) in alphabetical order.

    A subscript repeated inside one operand (a diagonal such as ``"ii->i"``) is not supported and raises.
    """
    if len(operands) == 1 and isinstance(operands[0], list | tuple):
        operands = tuple(operands[0])
    if not isinstance(equation, str):
        raise TypeError(f"einsum(): equation must be a str, got {type(equation).__name__}")
    if not operands or not all(isinstance(o, Tensor) for o in operands):
        raise TypeError("einsum(): operands must be one or more Tensors")
    if len({o.dtype for o in operands}) > 1:
        raise TypeError(f"einsum(): operands must share one dtype, got {[str(o.dtype) for o in operands]}")
    return ops.Einsum.apply(*operands, equation=_explicit_einsum(equation, [o.shape for o in operands]))


def _explicit_einsum(equation: str, shapes: list[tuple]) -> str:
    """Rewrite an einsum equation with ``...`` expanded into letters and an explicit ``->`` output,
    after checking it against the operands' shapes."""
    equation = equation.replace(" ", "")
    lhs, arrow, rhs = equation.partition("->")
    terms = lhs.split(",")
    if len(terms) != len(shapes):
        raise ValueError(f"einsum(): equation {equation!r} has {len(terms)} operands but {len(shapes)} were given")
    for term in terms + ([rhs] if arrow else []):
        letters = term.replace("...", "")
        if "." in letters or not all(c.isalpha() and c.isascii() for c in letters):
            raise ValueError(f"einsum(): invalid subscripts {term!r} in {equation!r} (use letters and '...')")
    spare = iter(c for c in "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz" if c not in equation)
    ellipsis_ndim = max((len(s) - len(t.replace("...", "")) for t, s in zip(terms, shapes, strict=True)
                         if "..." in t), default=0)
    broadcast = "".join(next(spare) for _ in range(ellipsis_ndim))
    explicit = []
    for term, shape in zip(terms, shapes, strict=True):
        named = len(term.replace("...", ""))
        if "..." in term:
            if len(shape) < named:
                raise ValueError(f"einsum(): subscripts {term!r} need at least {named} dims, got shape {shape}")
            term = term.replace("...", broadcast[ellipsis_ndim - (len(shape) - named):] if len(shape) > named else "")
        elif named != len(shape):
            raise ValueError(f"einsum(): subscripts {term!r} name {named} dims but the operand has shape {shape}")
        if len(set(term)) != len(term):
            raise ValueError(f"einsum(): subscript repeated within one operand ({term!r}, a diagonal) is not supported")
        explicit.append(term)
    if arrow:
        output = rhs.replace("...", broadcast)
    else:  # implicit output: the broadcast dims, then every letter used once, alphabetically
        counts = "".join(t for t in lhs.split(",")).replace("...", "")
        output = broadcast + "".join(sorted(c for c in set(counts) if counts.count(c) == 1))
    used = set("".join(explicit))
    if len(set(output)) != len(output) or not set(output) <= used:
        raise ValueError(f"einsum(): output subscripts {rhs!r} must be distinct letters that appear in the inputs")
    sizes: dict[str, int] = {}
    for term, shape in zip(explicit, shapes, strict=True):
        for c, n in zip(term, shape, strict=True):
            if n != 1 and sizes.setdefault(c, n) != n:
                raise ValueError(f"einsum(): subscript {c!r} has sizes {sizes[c]} and {n} in {equation!r}")
    return ",".join(explicit) + "->" + output


def _joinable(tensors: Any, name: str) -> list[Tensor]:
    """The tensors of cat/stack, checked (a non-empty sequence of Tensors on one device) and cast to their
    promoted dtype, as PyTorch promotes (cat of int64 and float32 is float32)."""
    if isinstance(tensors, Tensor) or not isinstance(tensors, list | tuple):
        got = "one Tensor (wrap it in a list)" if isinstance(tensors, Tensor) else type_name(tensors)
        raise TypeError(f"{name}(): tensors must be a list or tuple of Tensors, got {got}")
    if not tensors:
        raise ValueError(f"{name}(): expected a non-empty sequence of tensors")
    for i, t in enumerate(tensors):
        if not isinstance(t, Tensor):
            raise TypeError(f"{name}(): tensors[{i}] must be a Tensor, got {type_name(t)}")
        if t.backend is not tensors[0].backend:
            raise ValueError(f"{name}(): expected all tensors on one device, got tensors[0] on "
                             f"{tensors[0].backend.name!r} and tensors[{i}] on {t.backend.name!r}")
    dtype = tensors[0].dtype
    for t in tensors[1:]:
        dtype = promote_types(dtype, t.dtype)
    return [_cast(t, dtype) for t in tensors]


def cat(tensors: list[Tensor] | tuple[Tensor, ...], dim: int = 0) -> Tensor:
    """Concatenate along an existing ``dim``; shapes must match except along ``dim``."""
    tensors = _joinable(tensors, "cat")
    if any(t.ndim != 1 or t.shape[0] for t in tensors):
        # PyTorch skips 1-D empty tensors (a legacy "no data" placeholder) when joining anything else.
        tensors = [t for t in tensors if t.shape != (0,)] or tensors[:1]
    first = tensors[0]
    for i, t in enumerate(tensors):
        if t.ndim == 0:
            raise ValueError(f"cat(): tensors[{i}] is 0-d; zero-dimensional tensors cannot be concatenated")
    dim = ops.normalize_dim(dim, first.ndim)
    for i, t in enumerate(tensors):
        if t.ndim != first.ndim:
            raise ValueError(f"cat(): tensors must have the same number of dimensions, got {first.ndim} and "
                             f"{t.ndim} (tensors[{i}])")
        if any(m != n for d, (m, n) in enumerate(zip(first.shape, t.shape)) if d != dim):
            raise ValueError(f"cat(): sizes of tensors must match except in dimension {dim}, got {first.shape} "
                             f"and {t.shape} (tensors[{i}])")
    return ops.Concat.apply(*tensors, axis=dim)


def stack(tensors: list[Tensor] | tuple[Tensor, ...], dim: int = 0) -> Tensor:
    """Join equal-shaped tensors along a new ``dim`` (``-ndim - 1 <= dim <= ndim``)."""
    tensors = _joinable(tensors, "stack")
    for i, t in enumerate(tensors):
        if t.shape != tensors[0].shape:
            raise ValueError(f"stack(): expects each tensor to be equal size, got {tensors[0].shape} at entry 0 "
                             f"and {t.shape} at entry {i}")
    return ops.Stack.apply(*tensors, axis=ops.normalize_dim(dim, tensors[0].ndim + 1))


def where(condition: Tensor, input: Any = None, other: Any = None) -> Tensor:  # noqa: A002 - torch's name
    """``input`` where ``condition`` holds, else ``other``; ``where(condition)`` alone is
    ``condition.nonzero(as_tuple=True)``."""
    if input is None and other is None:
        if not isinstance(condition, Tensor):
            raise TypeError(f"where(): condition must be a Tensor, got {type_name(condition)}")
        return condition.nonzero(as_tuple=True)
    ref = input if isinstance(input, Tensor) else other
    if not isinstance(ref, Tensor):
        if not isinstance(condition, Tensor):
            raise TypeError("where(): condition, input or other must be a Tensor")
        # where(mask, 1.0, 0.0): two numbers make a 0-d tensor of their promoted dtype (float32 here), as in torch
        value = condition._operand(input)
        ref = input = full((), value, dtype=result_type(value, condition._operand(other)), device=condition.backend)
    if isinstance(condition, Tensor) and condition.backend is not ref.backend:
        raise ValueError(f"where(): expected all tensors on one device, got condition on "
                         f"{condition.backend.name!r} and input/other on {ref.backend.name!r}")
    if isinstance(condition, Tensor) and condition.dtype != "bool":
        raise TypeError(f"where(): condition must be a bool tensor, got dtype {condition.dtype} (compare it, e.g. "
                        "x != 0)")
    cond = condition._data if isinstance(condition, Tensor) else ref.backend.from_numpy(np.asarray(condition), "bool")
    a, b = ref._promote(other if ref is input else input, "where")  # PyTorch promotes input with other
    a, b = (a, b) if ref is input else (b, a)
    for t in (a, b):
        if isinstance(t, Tensor):
            ops.broadcast_shapes(tuple(cond.shape), t.shape, "where")
    return ops.Where.apply(cond, a, b)


def maximum(a: Tensor, b: Tensor) -> Tensor:
    a, b = a._promote(b, "maximum")
    return ops.Maximum.apply(a, b)


def minimum(a: Tensor, b: Tensor) -> Tensor:
    a, b = a._promote(b, "minimum")
    return ops.Minimum.apply(a, b)


def exp(t: Tensor) -> Tensor:
    return t.exp()


def log(t: Tensor) -> Tensor:
    return t.log()


def tanh(t: Tensor) -> Tensor:
    return t.tanh()


def sigmoid(t: Tensor) -> Tensor:
    return t.sigmoid()


def relu(t: Tensor) -> Tensor:
    return t.relu()


# framework.random sits below this module; Generator.get_state returns its state through this Tensor factory.
_random._state_tensor = tensor
