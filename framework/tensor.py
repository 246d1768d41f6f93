"""The Tensor: a backend array, the device it lives on, and the autograd bookkeeping.

A Tensor holds ``_data`` (the device's native array: numpy.ndarray on ``cpu``, torch.Tensor for
``triton``, cupy.ndarray for ``cupy``; the framework's internals read and write it directly, while the
public ``.data`` is, as in PyTorch, a Tensor sharing that storage), its :class:`~framework.backend.Backend`,
``requires_grad``, ``grad`` and, when it was produced by a recorded op, ``_ctx`` (which knows the op and its parents).
Methods follow PyTorch's names and argument orders; every differentiable method goes through a
:class:`~framework.autograd.Function` in :mod:`framework.ops` or :mod:`framework.nn.functional`.
"""

from __future__ import annotations

import math
from collections import namedtuple
from typing import Any

import numpy as np

from . import ops
from . import random as _random
from .autograd import Function
from .backend import Backend, get_backend
from .dtypes import DType, as_dtype

MaxResult = namedtuple("MaxResult", ["values", "indices"])
_DTYPE_OF_NATIVE: dict[Any, DType] = {}


def _normalize_shape(shape: tuple) -> tuple[int, ...]:
    if len(shape) == 1 and isinstance(shape[0], tuple | list):
        shape = tuple(shape[0])
    for n in shape:
        if not isinstance(n, int | np.integer) or n < 0:
            raise ValueError(f"shape must be non-negative ints, got {shape!r}")
    return tuple(int(n) for n in shape)


class Tensor:
    """An n-dimensional array on a device, with reverse-mode autograd."""

    __slots__ = ("_data", "backend", "requires_grad", "grad", "_ctx", "_retain_grad", "__weakref__")
    __array_priority__ = 1000  # numpy_array + tensor -> Tensor.__radd__, not an object array

    def __init__(self, data: Any, dtype: Any = None, device: Any = None, requires_grad: bool = False):
        backend = get_backend(device)
        if isinstance(data, Tensor):
            array = data.backend.to_numpy(data._data)
        else:
            array = np.asarray(data)
            if not isinstance(data, np.ndarray | np.generic):
                # Python data: floats default to float32 and ints to int64, as in torch.tensor.
                if array.dtype.kind == "f":
                    array = array.astype(np.float32)
                elif array.dtype.kind in "iu":
                    array = array.astype(np.int64)
        if array.dtype.kind not in "biuf":
            raise TypeError(f"tensor(): cannot make a tensor from data of dtype {array.dtype}")
        name = as_dtype(dtype) if dtype is not None else as_dtype(array.dtype)
        if name not in backend.dtypes:
            raise TypeError(f"dtype {name} is not supported on device {backend.name!r}")
        self._data = backend.from_numpy(array, str(name))
        self.backend = backend
        self.grad: Tensor | None = None
        self._ctx = None
        self._retain_grad = False
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
        return t

    # ---------------------------------------------------------------------------------- properties

    @property
    def data(self) -> Tensor:
        """This tensor's values as a Tensor sharing its storage, outside autograd (``requires_grad`` False).

        Writes through it (``p.data.mul_(2)``) change this tensor. Assigning ``t.data = other`` makes
        ``t`` use ``other``'s storage (shape, dtype and device included), as in PyTorch.
        """
        return Tensor._wrap(self._data, self.backend)

    @data.setter
    def data(self, value: Tensor) -> None:
        if not isinstance(value, Tensor):
            raise TypeError(f"Tensor.data must be assigned a Tensor, got {type(value).__name__}")
        self._data, self.backend = value._data, value.backend

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
    def device(self) -> str:
        return self.backend.name

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
        return self.shape if dim is None else self.shape[dim]

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
        extras = [f"device={self.device!r}"]
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

    def to(self, *args: Any, dtype: Any = None, device: Any = None) -> Tensor:
        """``t.to(device)``, ``t.to(dtype)`` or both; differentiable (gradients flow back)."""
        for a in args:
            if isinstance(a, Backend) or (isinstance(a, str) and not isinstance(a, DType) and _is_device(a)):
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

    def backward(self, gradient: Any = None, retain_graph: bool = False) -> None:
        """Accumulate gradients of this tensor into ``.grad`` of every leaf that requires grad."""
        from .autograd import backward

        backward(self, gradient, retain_graph=retain_graph)

    def _accumulate_grad(self, grad: Any) -> None:
        if grad.dtype != self._data.dtype:
            grad = self.backend.xp.astype(grad, self._data.dtype)
        if self.grad is None:
            # Copy: the engine may hand the same array to several leaves, and optimizers update in place.
            self.grad = Tensor._wrap(self.backend.xp.asarray(grad, copy=True), self.backend)
        else:
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
        """A tensor sharing this one's storage, cut out of the graph."""
        return Tensor._wrap(self._data, self.backend)

    def clone(self) -> Tensor:
        return ops.Add.apply(self, 0) if self.requires_grad else Tensor._wrap(
            self.backend.xp.asarray(self._data, copy=True), self.backend)

    def zero_(self) -> Tensor:
        self._data = self.backend.xp.zeros_like(self._data)
        return self

    def contiguous(self) -> Tensor:
        return self

    # -------------------------------------------------------------------------------- arithmetic

    def _operand(self, other: Any) -> Any:
        """Python numbers pass through (weakly typed); arrays become tensors on this device."""
        if isinstance(other, Tensor):
            return other
        if isinstance(other, bool | int | float):
            return other
        if isinstance(other, np.generic):
            return other.item()
        return Tensor(np.asarray(other), dtype=self.dtype if np.asarray(other).dtype.kind == "f" else None,
                      device=self.backend)

    def __add__(self, other):
        return ops.Add.apply(self, self._operand(other))

    def __radd__(self, other):
        return ops.Add.apply(self._operand(other), self)

    def __sub__(self, other):
        return ops.Sub.apply(self, self._operand(other))

    def __rsub__(self, other):
        return ops.Sub.apply(self._operand(other), self)

    def __mul__(self, other):
        return ops.Mul.apply(self, self._operand(other))

    def __rmul__(self, other):
        return ops.Mul.apply(self._operand(other), self)

    def __truediv__(self, other):
        return ops.Div.apply(self, self._operand(other))

    def __rtruediv__(self, other):
        return ops.Div.apply(self._operand(other), self)

    def __pow__(self, other):
        return ops.Pow.apply(self, self._operand(other))

    def __rpow__(self, other):
        return ops.Pow.apply(self._operand(other), self)

    def __neg__(self):
        return ops.Neg.apply(self)

    def __pos__(self):
        return self

    def __matmul__(self, other):
        return matmul(self, self._operand(other))

    def __rmatmul__(self, other):
        return matmul(self._operand(other), self)

    def _compare(self, other: Any, op: str) -> Tensor:
        other = self._operand(other)
        b = other._data if isinstance(other, Tensor) else other
        return Tensor._wrap(getattr(self._data, op)(b), self.backend)

    def __lt__(self, other):
        return self._compare(other, "__lt__")

    def __le__(self, other):
        return self._compare(other, "__le__")

    def __gt__(self, other):
        return self._compare(other, "__gt__")

    def __ge__(self, other):
        return self._compare(other, "__ge__")

    def __eq__(self, other):  # elementwise, like torch
        return self._compare(other, "__eq__")

    def __ne__(self, other):
        return self._compare(other, "__ne__")

    __hash__ = object.__hash__

    def __invert__(self):
        return Tensor._wrap(~self._data, self.backend)

    def __and__(self, other):
        return self._compare(other, "__and__")

    def __or__(self, other):
        return self._compare(other, "__or__")

    # ------------------------------------------------------------------------------ elementwise

    def exp(self) -> Tensor:
        return ops.Exp.apply(self)

    def log(self) -> Tensor:
        return ops.Log.apply(self)

    def sqrt(self) -> Tensor:
        return ops.Sqrt.apply(self)

    def abs(self) -> Tensor:
        return ops.Abs.apply(self)

    def relu(self) -> Tensor:
        return ops.Relu.apply(self)

    def sigmoid(self) -> Tensor:
        return ops.Sigmoid.apply(self)

    def tanh(self) -> Tensor:
        return ops.Tanh.apply(self)

    def clamp(self, min: float | None = None, max: float | None = None) -> Tensor:  # noqa: A002
        return ops.Clamp.apply(self, min, max)

    clip = clamp

    def softmax(self, dim: int) -> Tensor:
        from .nn import functional as F

        return F.softmax(self, dim)

    def log_softmax(self, dim: int) -> Tensor:
        from .nn import functional as F

        return F.log_softmax(self, dim)

    # ------------------------------------------------------------------------------- reductions

    def sum(self, dim: Any = None, keepdim: bool = False, *, axis: Any = None, keepdims: bool | None = None):
        return ops.Sum.apply(self, _dim(dim, axis), _keep(keepdim, keepdims))

    def mean(self, dim: Any = None, keepdim: bool = False, *, axis: Any = None, keepdims: bool | None = None):
        if not self.dtype.is_floating_point:
            raise TypeError(f"mean(): input dtype must be floating point, got {self.dtype}")
        return ops.Mean.apply(self, _dim(dim, axis), _keep(keepdim, keepdims))

    def var(self, dim: Any = None, keepdim: bool = False, *, correction: int = 1) -> Tensor:
        axes = ops._reduce_axes(dim, self.ndim)
        n = math.prod(self.shape[a] for a in axes)
        centered = self - self.mean(dim=dim, keepdim=True)
        return (centered * centered).sum(dim=dim, keepdim=keepdim) / max(n - correction, 0)

    def std(self, dim: Any = None, keepdim: bool = False, *, correction: int = 1) -> Tensor:
        return self.var(dim, keepdim, correction=correction).sqrt()

    def amax(self, dim: Any = None, keepdim: bool = False) -> Tensor:
        return ops.Amax.apply(self, dim, keepdim)

    def amin(self, dim: Any = None, keepdim: bool = False) -> Tensor:
        return -ops.Amax.apply(-self, dim, keepdim)

    def max(self, dim: int | None = None, keepdim: bool = False, *, axis: Any = None, keepdims: bool | None = None):
        """``t.max()`` -> the maximum; ``t.max(dim)`` -> ``(values, indices)`` like torch;
        ``t.max(axis=..., keepdims=...)`` -> values only, like numpy."""
        if axis is not None:
            return self.amax(axis, _keep(keepdim, keepdims))
        if dim is None:
            return self.amax(None, _keep(keepdim, keepdims))
        return self._extreme_along(dim, keepdim, largest=True)

    def min(self, dim: int | None = None, keepdim: bool = False, *, axis: Any = None, keepdims: bool | None = None):
        """Like :meth:`max`, for the minimum."""
        if axis is not None:
            return self.amin(axis, _keep(keepdim, keepdims))
        if dim is None:
            return self.amin(None, _keep(keepdim, keepdims))
        return self._extreme_along(dim, keepdim, largest=False)

    def _extreme_along(self, dim: int, keepdim: bool, largest: bool) -> MaxResult:
        indices = self.argmax(dim, keepdim=True) if largest else self.argmin(dim, keepdim=True)
        values = ops.TakeAlongAxis.apply(self, indices._data, dim % self.ndim)
        if not keepdim:
            values, indices = values.squeeze(dim), indices.squeeze(dim)
        return MaxResult(values, indices)

    def argmax(self, dim: int | None = None, keepdim: bool = False) -> Tensor:
        xp = self.backend.xp
        if dim is None:
            return Tensor._wrap(xp.argmax(xp.reshape(self._data, (-1,))), self.backend)
        return Tensor._wrap(xp.argmax(self._data, axis=dim, keepdims=keepdim), self.backend)

    def argmin(self, dim: int | None = None, keepdim: bool = False) -> Tensor:
        xp = self.backend.xp
        if dim is None:
            return Tensor._wrap(xp.argmin(xp.reshape(self._data, (-1,))), self.backend)
        return Tensor._wrap(xp.argmin(self._data, axis=dim, keepdims=keepdim), self.backend)

    # ----------------------------------------------------------------------------------- shapes

    def reshape(self, *shape: Any) -> Tensor:
        if len(shape) == 1 and isinstance(shape[0], tuple | list):
            shape = tuple(shape[0])
        return ops.Reshape.apply(self, tuple(int(n) for n in shape))

    view = reshape

    def flatten(self, start_dim: int = 0, end_dim: int = -1) -> Tensor:
        if self.ndim == 0:
            return self.reshape(1)
        start, end = start_dim % self.ndim, end_dim % self.ndim
        shape = self.shape[:start] + (-1,) + self.shape[end + 1:]
        return self.reshape(shape)

    def permute(self, *dims: Any) -> Tensor:
        if len(dims) == 1 and isinstance(dims[0], tuple | list):
            dims = tuple(dims[0])
        if sorted(d % self.ndim for d in dims) != list(range(self.ndim)):
            raise ValueError(f"permute(): dims {dims} are not a permutation of {self.ndim} dims")
        return ops.Permute.apply(self, tuple(d % self.ndim for d in dims))

    def transpose(self, dim0: int, dim1: int) -> Tensor:
        """Swap two dimensions (PyTorch's meaning, not numpy's full reversal)."""
        dims = list(range(self.ndim))
        dims[dim0], dims[dim1] = dims[dim1], dims[dim0]
        return self.permute(*dims)

    def unsqueeze(self, dim: int) -> Tensor:
        dim = dim % (self.ndim + 1)
        return self.reshape(self.shape[:dim] + (1,) + self.shape[dim:])

    def squeeze(self, dim: int | None = None) -> Tensor:
        if dim is None:
            return self.reshape(tuple(n for n in self.shape if n != 1))
        dim = dim % max(self.ndim, 1)
        if self.ndim == 0 or self.shape[dim] != 1:
            return self
        return self.reshape(self.shape[:dim] + self.shape[dim + 1:])

    def expand(self, *shape: Any) -> Tensor:
        if len(shape) == 1 and isinstance(shape[0], tuple | list):
            shape = tuple(shape[0])
        lead = len(shape) - self.ndim
        full = tuple(self.shape[i - lead] if n == -1 else n for i, n in enumerate(shape))
        return ops.Expand.apply(self, full)

    def chunk(self, chunks: int, dim: int = 0) -> tuple[Tensor, ...]:
        size = -(-self.shape[dim] // chunks)
        return self.split(size, dim)

    def split(self, split_size: int | list[int], dim: int = 0) -> tuple[Tensor, ...]:
        n = self.shape[dim]
        sizes = [split_size] * (n // split_size) + ([n % split_size] if n % split_size else []) \
            if isinstance(split_size, int) else list(split_size)
        out, start = [], 0
        index = [slice(None)] * self.ndim
        for s in sizes:
            index[dim] = slice(start, start + s)
            out.append(self[tuple(index)])
            start += s
        return tuple(out)

    def __getitem__(self, index: Any) -> Tensor:
        return ops.GetItem.apply(self, _native_index(index, self.backend))

    def __iter__(self):
        for i in range(len(self)):
            yield self[i]


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
    return name.split(":")[0] in {"cpu", "cuda", "triton", "cupy"} or name in _registered_devices()


def _registered_devices() -> set[str]:
    from .backend import _LOADERS

    return set(_LOADERS)


def _dim(dim: Any, axis: Any) -> Any:
    return axis if axis is not None else dim


def _keep(keepdim: bool, keepdims: bool | None) -> bool:
    return bool(keepdims) if keepdims is not None else bool(keepdim)


def _native_index(index: Any, backend: Backend) -> Any:
    """Turn Tensors (and lists of ints/bools) inside an index into the backend's native arrays."""
    if isinstance(index, tuple):
        return tuple(_native_index(i, backend) for i in index)
    if isinstance(index, Tensor):
        if index.backend is not backend:
            raise ValueError(f"index tensor is on {index.device!r} but the indexed tensor is on {backend.name!r}")
        return index._data
    if isinstance(index, list | np.ndarray):
        array = np.asarray(index)
        return backend.from_numpy(array, array.dtype.name)
    return index


class ToDevice(Function):
    """Copy between devices through the host; the gradient goes back the same way."""

    @staticmethod
    def forward(ctx, a, target):
        ctx.target = target
        return target.from_numpy(ctx.backend.to_numpy(a), ctx.backend.dtype_name(a))

    @staticmethod
    def backward(ctx, grad):
        return ctx.backend.from_numpy(ctx.target.to_numpy(grad), ctx.target.dtype_name(grad)), None

    @classmethod
    def apply(cls, a: Tensor, target: Backend) -> Tensor:  # type: ignore[override]
        # The output lives on `target`, unlike every other op, so wrap it here.
        from .autograd import Context, is_grad_enabled

        record = is_grad_enabled() and a.requires_grad
        ctx = Context(cls, a.backend, (a, target) if record else (), (a.requires_grad, False))
        out = Tensor._wrap(cls.forward(ctx, a._data, target), target, requires_grad=record)
        if record:
            out._ctx = ctx
        return out


# ---------------------------------------------------------------------------------- free functions


def matmul(a: Tensor, b: Tensor) -> Tensor:
    """``a @ b`` with numpy/torch semantics for 1-D operands (lifted to 2-D, then squeezed)."""
    if not isinstance(a, Tensor) or not isinstance(b, Tensor):
        raise TypeError("matmul(): both operands must be Tensors")
    if a.ndim == 0 or b.ndim == 0:
        raise ValueError(f"matmul(): operands must be at least 1-D, got shapes {a.shape} and {b.shape}")
    if a.shape[-1] != b.shape[-2 if b.ndim > 1 else 0]:
        raise ValueError(f"matmul(): shapes {a.shape} and {b.shape} are not aligned")
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
    return Tensor(host_copy(obj), device=backend)


def tensor(data: Any, dtype: Any = None, device: Any = None, requires_grad: bool = False) -> Tensor:
    """Make a tensor from Python data, a numpy array or another Tensor (always a copy)."""
    return Tensor(data, dtype=dtype, device=device, requires_grad=requires_grad)


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
    return _filled(tuple(shape), lambda s: np.full(s, fill_value), dtype, device, requires_grad)


def randn(*shape: Any, dtype: Any = None, device: Any = None, requires_grad: bool = False) -> Tensor:
    """Standard normal samples from the global generator (seed it with ``manual_seed``)."""
    return _filled(shape, lambda s: _random.generator().standard_normal(s), dtype, device, requires_grad)


def rand(*shape: Any, dtype: Any = None, device: Any = None, requires_grad: bool = False) -> Tensor:
    """Uniform [0, 1) samples from the global generator."""
    return _filled(shape, lambda s: _random.generator().random(s), dtype, device, requires_grad)


def randint(low: int, high: int, size: tuple, dtype: Any = "int64", device: Any = None) -> Tensor:
    return Tensor(_random.generator().integers(low, high, size=size), dtype=dtype, device=device)


def arange(start: float, end: float | None = None, step: float = 1, dtype: Any = None,
           device: Any = None) -> Tensor:
    if end is None:
        start, end = 0, start
    values = np.arange(start, end, step)
    if dtype is None:
        dtype = "int64" if values.dtype.kind in "iu" else "float32"
    return Tensor(values, dtype=dtype, device=device)


def zeros_like(t: Tensor, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    return zeros(t.shape, dtype=dtype or t.dtype, device=t.backend, requires_grad=requires_grad)


def ones_like(t: Tensor, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    return ones(t.shape, dtype=dtype or t.dtype, device=t.backend, requires_grad=requires_grad)


def randn_like(t: Tensor, dtype: Any = None) -> Tensor:
    return randn(t.shape, dtype=dtype or t.dtype, device=t.backend)


def rand_like(t: Tensor, dtype: Any = None) -> Tensor:
    return rand(t.shape, dtype=dtype or t.dtype, device=t.backend)


def cat(tensors: list[Tensor] | tuple[Tensor, ...], dim: int = 0) -> Tensor:
    if not tensors:
        raise ValueError("cat(): expected a non-empty sequence of tensors")
    return ops.Concat.apply(*tensors, axis=dim % tensors[0].ndim)


def stack(tensors: list[Tensor] | tuple[Tensor, ...], dim: int = 0) -> Tensor:
    if not tensors:
        raise ValueError("stack(): expected a non-empty sequence of tensors")
    return ops.Stack.apply(*tensors, axis=dim % (tensors[0].ndim + 1))


def where(condition: Tensor, input: Any, other: Any) -> Tensor:  # noqa: A002 - torch's name
    ref = input if isinstance(input, Tensor) else other
    if not isinstance(ref, Tensor):
        raise TypeError("where(): input or other must be a Tensor")
    cond = condition._data if isinstance(condition, Tensor) else ref.backend.from_numpy(np.asarray(condition), "bool")
    return ops.Where.apply(cond, ref._operand(input), ref._operand(other))


def maximum(a: Tensor, b: Tensor) -> Tensor:
    return ops.Maximum.apply(a, a._operand(b))


def minimum(a: Tensor, b: Tensor) -> Tensor:
    return ops.Minimum.apply(a, a._operand(b))


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
