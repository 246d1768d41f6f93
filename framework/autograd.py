"""Reverse-mode automatic differentiation.

Every differentiable op is a :class:`Function` subclass with two static methods that work on the
backend's raw arrays, never on Tensors:

* ``forward(ctx, *args, **kwargs) -> array or tuple of arrays``: Tensor arguments arrive as raw arrays,
  everything else (Python numbers, shapes, flags) as is. Save what backward needs with
  ``ctx.save_for_backward`` or plain attributes on ``ctx``. ``ctx.needs_input_grad[i]`` is already set:
  true only if input ``i`` requires grad *and* the call is recorded, so forward can skip work for
  gradients nobody wants (under :class:`no_grad` all are false; PyTorch would still say true there). The
  output lives on the inputs' device unless forward sets ``ctx.output_backend`` (``ToDevice`` does).
* ``backward(ctx, *grads) -> tuple``: one gradient per output of forward in, one per positional
  argument of ``forward`` out (``None`` for non-Tensor arguments and for inputs with
  ``ctx.needs_input_grad[i]`` false). A gradient may have the *broadcast* shape; :func:`backward` sums
  it back to the input's shape in one place (:func:`unbroadcast`), so no op has to.

``Function.apply`` wraps the result in a Tensor that remembers only its ``ctx`` (which holds the
parent Tensors). Nothing is recorded under :class:`no_grad` or when no input requires grad.

*Several outputs* (PyTorch's rules): when forward returns a tuple, ``apply`` returns a tuple of
Tensors, and the op's context becomes a graph node of its own that runs backward once, after every use
of every output. In forward, ``ctx.mark_non_differentiable(*arrays)`` makes those outputs plain tensors
(``requires_grad`` False: an argmax, a count); backward still receives one gradient per output: zeros
for an output that got none (a non-differentiable one, or one nobody used), or None after
``ctx.set_materialize_grads(False)``. An output that aliases an input shares its version counter but
cannot be replayed as a view, so a recorded in-place write through it raises. The same node serves
module backward hooks (:func:`group_identity`, PyTorch's ``BackwardHookFunction``).

The engine never imports :mod:`framework.tensor`; like minitorch's autodiff it walks a protocol. To the
engine a *tensor* is an object whose class has ``_autograd_wrap(array, backend, requires_grad=False)`` --
how the engine makes one (an op's output, the gradient a hook sees, what :func:`grad` returns) -- and
whose instances have ``_data`` (the backend's array), ``backend``, ``requires_grad``, ``_ctx`` (the
recording :class:`Context`; None for a leaf), ``_retain_grad``, ``_accumulate_grad(array)``, ``shape``,
``dtype``, ``device``, ``numel()``, optionally ``_hooks``, and the in-place bookkeeping below (``_vbox``,
``_view_version``, ``_view_src``, ``_history``). :class:`framework.tensor.Tensor` is such a class.

:func:`backward` walks the graph with an explicit stack (no recursion, so a 1000-step RNN unroll is
fine), accumulates gradients of values used more than once, and frees each node's saved arrays unless
``retain_graph=True``; a second backward through a freed graph raises like PyTorch does.

The same pass (:func:`_run_backward`) serves :func:`grad` (``fw.autograd.grad``: the gradients are
returned, no ``.grad`` is touched, only nodes leading to the inputs run), runs tensor hooks
(``Tensor.register_hook``) on each tensor's whole gradient before it is used (on each output of a
multi-output op too, before the op's node runs). Backward passes are not recorded, so
``create_graph=True`` (higher-order gradients) raises NotImplementedError. Grad mode: :class:`no_grad`,
:class:`enable_grad`, :class:`set_grad_enabled`, :class:`inference_mode` (here the same as ``no_grad``).

In-place operations (``x.add_(y)``, ``x += y``, ``x[i] = v``; see ``Tensor._inplace``) follow PyTorch's
rules:

* Every tensor has a *version counter* (``t._version``), shared with the tensors that alias its memory
  (views from reshape/permute/basic indexing/expand, ``detach()``, ``.data``); each in-place write bumps
  it. ``apply`` notes the version and array of every input and of the output; before an op's backward
  runs, an array it saved that was written since raises RuntimeError, never a wrong gradient.
* An in-place op on a leaf that requires grad raises, outside ``no_grad``. On any other tensor, with
  grad recording, it becomes the tensor's new ``grad_fn``: the tensor's earlier value lives on in the
  graph as a *stand-in* (a private copy) in ``tensor._history``, and ops recorded before the write send
  their gradient to the stand-in (:func:`_resolved_inputs` picks it by version).
* Views (PyTorch's semantics): writes through a view reach the base. A recorded in-place op on a view
  made by indexing, reshape or permute is recorded as an in-place op on its base that rewrites the
  viewed part (``Tensor._inplace_through_view``); a view whose base got a recorded write since it was
  made is recorded again from the base's new value the next time an op uses it (:func:`_refresh_view`).
  A recorded in-place op through ``detach()``/``.data`` or another kind of view raises.
"""

from __future__ import annotations

import functools
import inspect
import itertools
import weakref
from typing import Any

import numpy as np
from array_api_compat import device as _array_device

__all__ = [
    "Context", "Function", "RemovableHandle", "Variable", "backward", "enable_grad", "grad", "inference_mode",
    "is_grad_enabled", "is_inference_mode_enabled", "no_grad", "queue_callback", "set_grad_enabled", "unbroadcast",
]

_grad_enabled = True
_inference_mode = False


def is_grad_enabled() -> bool:
    return _grad_enabled


class _GradMode:
    """Context manager and decorator that sets grad mode and restores it on exit.

    As in PyTorch, ``with fw.no_grad():``, ``@fw.no_grad()`` and the bare ``@fw.no_grad`` all work, and a
    decorated generator function runs each of its steps in the mode (not just its creation).
    """

    enabled = True

    def __new__(cls, orig_func=None):
        if orig_func is None:
            return super().__new__(cls)
        if not callable(orig_func):
            raise TypeError(f"{cls.__name__}() takes no arguments (used bare, it decorates a function), "
                            f"got {orig_func!r}")
        return cls()(orig_func)  # the bare decorator: @no_grad

    def _mode(self) -> bool:
        """The grad mode to set on entry."""
        return self.enabled

    def _clone(self) -> _GradMode:
        return type(self)()

    def __enter__(self) -> None:
        global _grad_enabled
        self._prev = _grad_enabled
        _grad_enabled = self._mode()

    def __exit__(self, *exc: object) -> None:
        global _grad_enabled
        _grad_enabled = self._prev

    def __call__(self, fn):
        if inspect.isgeneratorfunction(fn):
            return _generator_in_mode(self, fn)

        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            with self._clone():
                return fn(*args, **kwargs)

        return wrapper


def _generator_in_mode(mode: _GradMode, fn):
    """Wrap a generator function so that every step of the generator runs under ``mode``."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        gen = fn(*args, **kwargs)
        step, value = gen.send, None
        while True:
            try:
                with mode._clone():
                    item = step(value)
            except StopIteration as stop:
                return stop.value
            try:
                value, step = (yield item), gen.send
            except GeneratorExit:
                gen.close()
                raise
            except BaseException as exc:  # thrown into us: throw it into the generator, in the mode
                value, step = exc, gen.throw

    return wrapper


class no_grad(_GradMode):  # noqa: N801 - PyTorch's name
    """Disable graph recording: ``with fw.no_grad(): ...``, ``@fw.no_grad()`` or ``@fw.no_grad``."""

    enabled = False


class enable_grad(_GradMode):  # noqa: N801 - PyTorch's name
    """Re-enable graph recording inside a ``no_grad`` block (context manager or decorator)."""

    enabled = True


class set_grad_enabled(_GradMode):  # noqa: N801 - PyTorch's name
    """Set grad mode to ``mode``: as a call (``fw.set_grad_enabled(False)``, in effect at once), as a
    context manager (the previous mode comes back on exit) or as a decorator.

    Raises: TypeError if ``mode`` is not a bool.
    """

    def __new__(cls, mode: bool):
        return object.__new__(cls)

    def __init__(self, mode: bool) -> None:
        global _grad_enabled
        if not isinstance(mode, bool):
            raise TypeError(f"set_grad_enabled(): mode must be a bool, got {type(mode).__name__}")
        self.enabled = mode
        self._prev = _grad_enabled
        _grad_enabled = mode  # the plain-call form takes effect now, as PyTorch's does

    def __enter__(self) -> None:
        pass  # __init__ already switched; __exit__ restores the mode it found

    def __call__(self, fn):
        global _grad_enabled
        _grad_enabled = self._prev  # decorating must not switch the mode of the decorating code
        return super().__call__(fn)

    def _clone(self) -> set_grad_enabled:
        return set_grad_enabled(self.enabled)


class inference_mode(_GradMode):  # noqa: N801 - PyTorch's name
    """``inference_mode(mode=True)``: PyTorch's inference mode, which here is :class:`no_grad` (nothing is
    recorded); ``inference_mode(False)`` changes nothing. Context manager or decorator (bare too).

    One difference from PyTorch: tensors made inside are ordinary tensors, so using them in autograd
    later works instead of raising.
    """

    def __new__(cls, mode=True):
        if isinstance(mode, bool):
            return object.__new__(cls)
        if not callable(mode):
            raise TypeError(f"inference_mode(): mode must be a bool, got {type(mode).__name__}")
        return cls()(mode)  # the bare decorator: @inference_mode

    def __init__(self, mode: bool = True) -> None:
        self.mode = mode

    def _mode(self) -> bool:
        return False if self.mode else _grad_enabled

    def __enter__(self) -> None:
        global _inference_mode
        super().__enter__()
        self._prev_inference = _inference_mode
        _inference_mode = self.mode

    def __exit__(self, *exc: object) -> None:
        global _inference_mode
        super().__exit__(*exc)
        _inference_mode = self._prev_inference

    def _clone(self) -> inference_mode:
        return inference_mode(self.mode)


def is_inference_mode_enabled() -> bool:
    return _inference_mode


class Context:
    """Per-call scratch space shared by an op's forward and backward.

    For an op with several outputs, ``fn.apply`` makes this context the graph node the outputs feed: each
    output gets a small context of its own with ``node`` (this one) and ``output_index`` (which output).
    """

    __slots__ = ("fn", "backend", "xp", "inputs", "needs_input_grad", "saved_tensors", "freed", "node",
                 "output_index", "input_versions", "input_arrays", "output_versions", "output_backend",
                 "outputs", "materialize_grads", "non_differentiable", "__dict__")

    def __init__(self, fn: type[Function], backend: Any, inputs: tuple, needs_input_grad: tuple[bool, ...]):
        self.fn = fn
        self.backend = backend  # the device's Backend: ctx.xp for generic math, ctx.backend.kernels
        self.xp = backend.xp
        self.inputs = inputs  # the positional args of forward; Tensors among them are the parents
        self.needs_input_grad = needs_input_grad
        self.output_backend = backend  # where the outputs live: forward sets another for a copy (ToDevice)
        self.saved_tensors: tuple = ()
        self.freed = False
        self.node: Context | None = None  # for an output of a multi-output op: the op's context
        self.output_index = 0
        self.outputs: tuple | None = None  # a multi-output op's (shape, dtype, device) per output
        self.materialize_grads = True
        self.non_differentiable: tuple = ()
        # Filled by Function.apply when it records (see "In-place operations" in the module docstring):
        # each Tensor input's version and array at the call, and (version box, version, array) per output.
        self.input_versions: tuple | None = None
        self.input_arrays: tuple = ()
        self.output_versions: tuple = ()

    def save_for_backward(self, *arrays: Any) -> None:
        self.saved_tensors = arrays

    def mark_non_differentiable(self, *arrays: Any) -> None:
        """In forward: these outputs (an argmax, a count) get ``requires_grad=False`` and no graph node;
        backward still receives a gradient for each of them (zeros, or None without materialized grads)."""
        self.non_differentiable = arrays

    def set_materialize_grads(self, value: bool) -> None:
        """In forward: whether backward gets zeros (True, the default) or None for an output that
        received no gradient."""
        self.materialize_grads = value

    def free(self) -> None:
        """Drop everything backward needed; the node can no longer be differentiated."""
        self.saved_tensors = ()
        self.input_arrays = ()
        self.output_versions = ()
        self.__dict__.clear()
        self.freed = True


class Function:
    """Base class of differentiable ops (see the module docstring for the contract)."""

    @staticmethod
    def forward(ctx: Context, *args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError

    @staticmethod
    def backward(ctx: Context, *grads: Any) -> tuple:
        raise NotImplementedError

    @classmethod
    def apply(cls, *args: Any, **kwargs: Any):
        # The hot path of every op (most of a 4x4 add's time, benchmarks/cpu_op_overhead.py): one pass over the
        # arguments collects what forward needs, a single output skips the multi-output machinery, and the
        # generator expressions of the general case are plain loops.
        backend = first = None
        needs = []
        raw = []
        tensors = []  # which arguments are Tensors
        known = _tensor_classes
        for a in args:
            is_tensor = known.get(type(a))
            if is_tensor is None:
                is_tensor = _is_tensor(a)
            if is_tensor:
                if backend is None:
                    backend, first = a.backend, a
                elif a.backend is not backend:
                    _raise_device_mismatch(args, backend)
                if a._view_version is not None and a._vbox[1] != a._view_version and _grad_enabled:
                    _refresh_view(a)  # its base got a recorded in-place write since the view was made
                needs.append(a.requires_grad)
                raw.append(a._data)
                tensors.append(True)
            else:
                needs.append(False)
                raw.append(a)
                tensors.append(False)
        if backend is None:
            raise TypeError(f"{cls.__name__}.apply needs at least one Tensor argument")
        record = _grad_enabled and any(needs)
        # Under no_grad nobody wants a gradient: forward may skip the work (PyTorch would say True here).
        ctx = Context(cls, backend, args if record else (),
                      tuple(needs) if record else (False,) * len(needs))
        out = cls.forward(ctx, *raw, **kwargs)
        wrap = type(first)._autograd_wrap
        if not isinstance(out, tuple):
            non_differentiable = ctx.non_differentiable
            wanted = record and not (non_differentiable and _is_one_of(out, non_differentiable))
            result = wrap(out, ctx.output_backend, requires_grad=wanted)
            # A view of an input shares its version counter; an output on another device is never a view.
            if ctx.output_backend is backend and (_view_base(out) is not None or _is_one_of(out, raw)):
                _share_versions_with_input(result, args, raw, (cls, args, kwargs))
            if record:
                ctx.input_versions = _versions_after_forward(args, tensors)
                ctx.input_arrays = tuple(raw)
                ctx.output_versions = ((result._vbox, result._vbox[0], _weak(out)),)
                if wanted:
                    result._ctx = ctx
            return result
        results = []
        for array in out:
            wanted = record and not _is_one_of(array, ctx.non_differentiable)
            result = wrap(array, ctx.output_backend, requires_grad=wanted)
            if ctx.output_backend is backend and (_view_base(array) is not None or _is_one_of(array, raw)):
                _share_versions_with_input(result, args, raw, None)
            results.append(result)
        if record:
            ctx.input_versions = _versions_after_forward(args, tensors)
            ctx.input_arrays = tuple(raw)
            ctx.output_versions = tuple((r._vbox, r._vbox[0], _weak(a)) for r, a in zip(results, out))
            ctx.outputs = tuple((tuple(a.shape), a.dtype, _array_device(a)) for a in out)
            for i, result in enumerate(results):
                if result.requires_grad:
                    result._ctx = _output_context(ctx, i)
        return tuple(results)


def _versions_after_forward(args: tuple, tensors: list) -> tuple:
    """Each Tensor argument's version (None for other arguments), read after forward: a forward may bump an
    input's version on purpose (cross_entropy's ``consume_input`` writes the gradient over the logits)."""
    return tuple([a._vbox[0] if is_tensor else None for a, is_tensor in zip(args, tensors)])  # a list: faster


def _is_one_of(array: Any, arrays: Any) -> bool:
    """Whether ``array`` is (the same object as) one of ``arrays``."""
    for a in arrays:
        if a is array:
            return True
    return False


def _raise_device_mismatch(args: tuple, backend: Any) -> None:
    """The error of an op whose Tensor arguments are on different devices."""
    # No op class name here: the user called add/conv2d/..., not the internal Function.
    names = [x.backend.name for x in args if _is_tensor(x)]
    i = next(i for i, a in enumerate(args) if _is_tensor(a) and a.backend is not backend)
    raise ValueError(
        f"expected all tensors on one device, got argument {i} on {args[i].backend.name!r} and "
        f"others on {backend.name!r} (devices: {names}); move them with .to(device)"
    )


def _output_context(node: Context, index: int) -> Context:
    """The context of output ``index`` of a multi-output op: backward hands its gradient to ``node``."""
    ctx = Context(node.fn, node.backend, (), node.needs_input_grad)
    ctx.node, ctx.output_index = node, index
    return ctx


# ---------------------------------------------------------------------------------- the tensor protocol

_tensor_classes: dict[type, bool] = {}


def _is_tensor(value: Any) -> bool:
    """Whether the engine treats ``value`` as a tensor: its class has ``_autograd_wrap`` (see "The tensor
    protocol" in the module docstring). The answer is cached per class: this runs for every op argument."""
    cls = type(value)
    known = _tensor_classes.get(cls)
    if known is None:
        known = _tensor_classes[cls] = hasattr(cls, "_autograd_wrap")
    return known


# ---------------------------------------------------------------------------------- in-place support


def _view_base(array: Any) -> Any:
    """What ``array`` is a view of (numpy/cupy ``.base``, torch ``._base``), or None for an array owning
    its memory -- a cheap filter before the memory comparison."""
    base = getattr(array, "base", None)
    if base is None and not isinstance(array, np.ndarray):
        base = getattr(array, "_base", None)
    return base


def may_share_memory(a: Any, b: Any) -> bool:
    """Whether two native arrays may overlap in memory (numpy's bounds test; torch: the same storage)."""
    if a is b:
        return True
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        return isinstance(a, np.ndarray) and isinstance(b, np.ndarray) and np.may_share_memory(a, b)
    if hasattr(a, "untyped_storage") and hasattr(b, "untyped_storage"):  # torch
        if a.numel() == 0 or b.numel() == 0:
            return False
        return a.untyped_storage().data_ptr() == b.untyped_storage().data_ptr()
    if type(a).__module__.partition(".")[0] == "cupy" and type(b).__module__.partition(".")[0] == "cupy":
        import cupy

        return bool(cupy.may_share_memory(a, b))
    return False


def _share_versions_with_input(result, args: tuple, raw: list, view_src: tuple | None) -> None:
    """An op returned a view of one of its inputs (reshape, permute, basic indexing, ...): the view and
    its base share one version counter, as in PyTorch, so an in-place write through either is seen by
    every saved-tensor check. ``_view_src`` remembers how to take the view again (:func:`_refresh_view`):
    ``view_src`` (the Function, args, kwargs) and the base's position; it stays None for an output of a
    multi-output op, which cannot be taken again alone, so a recorded in-place write through it raises."""
    for i, (a, array) in enumerate(zip(args, raw)):
        if _is_tensor(a) and may_share_memory(result._data, array):
            result._vbox = a._vbox
            result._view_version = a._vbox[1]
            result._view_src = None if view_src is None else view_src + (i,)
            return


def _weak(array: Any) -> Any:
    """A weak reference to an op's output array: the context must not keep an activation alive that
    backward does not need (if forward saved it, the saved reference keeps it alive anyway)."""
    try:
        return weakref.ref(array)
    except TypeError:  # an array type without weak references: hold it
        return lambda: array


def _refresh_view(view) -> None:
    """PyTorch's view replay: a view whose base got a recorded in-place write since the view was made is
    recorded again as the same view of the base's new value, so gradients through it reach the write.
    Ops recorded with the view before keep its earlier node (a stand-in in ``view._history``)."""
    src = view._view_src
    if src is None:  # detach() / .data: outside autograd, nothing to replay
        view._view_version = view._vbox[1]
        return
    fn, args, kwargs, _ = src
    earlier = type(view)._autograd_wrap(view._data, view.backend, view.requires_grad)
    earlier._ctx = view._ctx
    with enable_grad():
        fresh = fn.apply(*args, **kwargs)  # refreshes the base first when it is itself a stale view
    if view._ctx is not None or fresh._ctx is not None:
        view._history = (view._history or []) + [(view._vbox[0], earlier)]
    view._ctx, view.requires_grad = fresh._ctx, fresh.requires_grad
    view._view_version = view._vbox[1]


def _role_at(tensor, version: int):
    """The graph node that stood for ``tensor`` when it was at ``version``: the tensor itself, or, when an
    in-place op recorded since then gave it a new history, the stand-in for its earlier value."""
    for end, standin in tensor._history or ():
        if version < end:
            return standin
    return tensor


def _resolved_inputs(ctx: Context) -> tuple:
    """``ctx.inputs`` with each Tensor replaced by the node it was when the op was recorded."""
    versions = ctx.input_versions
    if versions is None:
        return ctx.inputs
    for a in ctx.inputs:  # a loop, not any(<generator>): this runs for every node of every backward
        if getattr(a, "_history", None):
            return tuple(a if v is None else _role_at(a, v) for a, v in zip(ctx.inputs, versions))
    return ctx.inputs


def _saved_arrays(ctx: Context) -> list:
    """Every array backward may read: ``saved_tensors`` and the attributes set on ``ctx`` (one level into
    tuples, lists and dicts)."""
    found = []
    for value in list(ctx.saved_tensors) + list(ctx.__dict__.values()):
        items = value.values() if isinstance(value, dict) else value if isinstance(value, tuple | list) else (value,)
        found.extend(v for v in items if hasattr(v, "shape") and hasattr(v, "dtype"))
    return found


def _check_saved_versions(ctx: Context) -> None:
    """Raise (as PyTorch does) when an array this op saved for backward was modified in place since."""
    if ctx.input_versions is None or _versions_unchanged(ctx):
        return
    changed = [(f"input {i}", a._vbox[0], v, array)
               for i, (a, v, array) in enumerate(zip(ctx.inputs, ctx.input_versions, ctx.input_arrays))
               if v is not None and a._vbox[0] != v]
    for i, (box, v, array_ref) in enumerate(ctx.output_versions):
        if box[0] != v and array_ref() is not None:
            changed.append((f"output {i}", box[0], v, array_ref()))
    if not changed:
        return
    saved = _saved_arrays(ctx)
    for which, now, then, array in changed:
        if any(may_share_memory(s, array) for s in saved):
            raise RuntimeError(
                "one of the variables needed for gradient computation has been modified by an inplace "
                f"operation: the tensor of shape {tuple(array.shape)} that is {which} of {ctx.fn.__name__} is "
                f"at version {now}; expected version {then} instead. Hint: do the in-place operation after "
                "backward(), or use its out-of-place form (x = x * 2 instead of x.mul_(2)) or x.clone() first."
            )


def _versions_unchanged(ctx: Context) -> bool:
    """The common case of :func:`_check_saved_versions`, cheaply: no input or output was written since."""
    for a, v in zip(ctx.inputs, ctx.input_versions):
        if v is not None and a._vbox[0] != v:
            return False
    for box, v, _ in ctx.output_versions:
        if box[0] != v:
            return False
    return True


def unbroadcast(grad: Any, shape: tuple[int, ...], xp: Any) -> Any:
    """Sum ``grad`` over the axes that broadcasting added or stretched, so it has ``shape``."""
    if tuple(grad.shape) == tuple(shape):
        return grad
    extra = grad.ndim - len(shape)
    if extra > 0:
        grad = xp.sum(grad, axis=tuple(range(extra)))
    stretched = tuple(i for i, n in enumerate(shape) if n == 1 and grad.shape[i] != 1)
    if stretched:
        grad = xp.sum(grad, axis=stretched, keepdims=True)
    return xp.reshape(grad, tuple(shape))


_handle_ids = itertools.count()


class RemovableHandle:
    """What ``register_hook`` and the ``Module.register_*_hook`` methods return (PyTorch's
    ``torch.utils.hooks.RemovableHandle``): ``handle.remove()`` unregisters the hook; also a context
    manager that removes it on exit."""

    def __init__(self, *hook_dicts: dict) -> None:
        self.id = next(_handle_ids)
        self._hook_dicts = hook_dicts  # every registry the hook's id is in (a hook may have flags too)

    def remove(self) -> None:
        for hooks in self._hook_dicts:
            if isinstance(hooks, dict):
                hooks.pop(self.id, None)
            else:
                hooks.discard(self.id)

    def __enter__(self) -> RemovableHandle:
        return self

    def __exit__(self, *exc: object) -> None:
        self.remove()


def add_hook(hooks: dict, hook: Any, prepend: bool = False, *flag_sets: set) -> RemovableHandle:
    """Register ``hook`` in the insertion-ordered ``hooks`` (first when ``prepend``) and its id in each of
    ``flag_sets`` (per-hook options such as ``with_kwargs``); returns its handle."""
    if not callable(hook):
        raise TypeError(f"a hook must be callable, got {type(hook).__name__}")
    handle = RemovableHandle(hooks, *flag_sets)
    for flags in flag_sets:
        flags.add(handle.id)
    if prepend:
        rest = list(hooks.items())
        hooks.clear()
        hooks[handle.id] = hook
        hooks.update(rest)
    else:
        hooks[handle.id] = hook
    return handle


class BackwardHookFunction(Function):
    """Identities of several tensors, recorded as one multi-output node whose backward hands all their
    gradients at once to ``hook`` (a list, None where a member got none); ``hook`` returns the inputs'
    gradients. PyTorch's BackwardHookFunction, behind ``Module.register_full_backward_hook``."""

    @staticmethod
    def forward(ctx, hook, *arrays):
        ctx.hook = hook
        ctx.set_materialize_grads(False)
        return arrays  # each output aliases its input (shared version counter; in-place through it raises)

    @staticmethod
    def backward(ctx, *grads):
        return (None, *ctx.hook(list(grads)))


def group_identity(tensors: list, fn: Any) -> list:
    """Identities of ``tensors`` (which require grad), recorded as one node whose backward is ``fn``: it
    runs once, after every use of every member is done (see :class:`BackwardHookFunction`)."""
    return list(BackwardHookFunction.apply(fn, *tensors))


def _parents(node) -> tuple:
    """Where ``node``'s gradient flows: an op's arguments; for an output of a multi-output op, the op's
    context, the node that runs its backward once all of its outputs' gradients are in."""
    ctx = node if isinstance(node, Context) else node._ctx
    if ctx is None:
        return ()
    if ctx.node is not None:
        return (ctx.node,)
    return _resolved_inputs(ctx)


def _topological_order(roots: list) -> list:
    """Nodes reachable from ``roots`` through recorded contexts, each after all of its parents."""
    order, visited = [], set()
    stack = [(root, False) for root in reversed(roots)]
    while stack:
        node, children_done = stack.pop()
        if children_done:
            order.append(node)
            continue
        if id(node) in visited:
            continue
        visited.add(id(node))
        stack.append((node, True))
        for parent in _parents(node):
            if id(parent) not in visited and (
                    isinstance(parent, Context) or _is_tensor(parent) and parent.requires_grad):
                stack.append((parent, False))
    return order


def _run_tensor_hooks(tensor, hooks: dict, g: Any) -> Any:
    """Call ``tensor``'s hooks in order on its gradient; a Tensor a hook returns replaces the gradient."""
    for hook in list(hooks.values()):
        result = hook(type(tensor)._autograd_wrap(g, tensor.backend))
        if result is None:
            continue
        name = getattr(hook, "__name__", type(hook).__name__)
        if not _is_tensor(result):
            raise TypeError(f"hook {name!r} must return None or a Tensor, got {type(result).__name__}")
        if result.shape != tuple(g.shape):
            raise ValueError(f"hook {name!r} has changed the shape of the gradient from {tuple(g.shape)} "
                             f"to {result.shape}")
        if result.backend is not tensor.backend or result._data.dtype not in (g.dtype, tensor._data.dtype):
            raise TypeError(f"hook {name!r} has changed the gradient's device or dtype (was "
                            f"{tensor.device}/{type(tensor)._autograd_wrap(g, tensor.backend).dtype}, got "
                            f"{result.device}/{result.dtype})")
        g = result._data
    return g


def _accumulate(leaf, g: Any) -> None:
    """Add ``g`` into ``leaf.grad``, then run the leaf's post-accumulate-grad hooks (``hook(leaf)``)."""
    leaf._accumulate_grad(g)
    for hook in list((getattr(leaf, "_post_accumulate_hooks", None) or {}).values()):
        hook(leaf)


#: One list per backward pass in progress (a hook may start another): the callbacks queued during it.
_callback_queues: list[list] = []


def queue_callback(callback: Any) -> None:
    """Run ``callback()`` once the backward pass in progress has finished (every gradient accumulated).

    PyTorch's ``Variable._execution_engine.queue_callback`` (also reachable under that name): a gradient
    hook uses it to finish work that needs the whole pass, as DistributedDataParallel waits for its last
    all-reduce. Callbacks run in the order queued; one queued by a callback runs too. None runs when the
    pass raises. Raises: RuntimeError outside a backward pass; TypeError if ``callback`` is not callable.
    """
    if not callable(callback):
        raise TypeError(f"queue_callback: callback must be callable, got {type(callback).__name__}")
    if not _callback_queues:
        raise RuntimeError("queue_callback: no backward pass is running (call it from a gradient hook)")
    _callback_queues[-1].append(callback)


class _ExecutionEngine:
    """``Variable._execution_engine``: PyTorch's spelling of :func:`queue_callback`."""

    @staticmethod
    def queue_callback(callback: Any) -> None:
        queue_callback(callback)


def _run_backward(roots: list, root_grads: list, retain_graph: bool, capture: list | None = None,
                  finish: Any = None) -> dict:
    """The one backward pass behind :func:`backward` and :func:`grad` (callbacks queued during it run at its end).

    Without ``capture``, gradients accumulate into ``.grad`` of every leaf (and of ``retain_grad()``
    tensors); a leaf's post-accumulate-grad hooks run right after its gradient is complete, while the pass
    goes on. With ``capture`` (a list of tensors), no leaf's ``.grad`` is touched: the pass runs only the
    nodes that lead to a captured tensor and returns ``{id(tensor): gradient array}`` for those reached.
    Tensor hooks run on each tensor's whole gradient, before it is used. ``finish(captured)``, when given,
    runs at the end of the pass, before the queued callbacks.
    """
    _callback_queues.append([])
    try:
        captured = _backward_pass(roots, root_grads, retain_graph, capture)
        if finish is not None:
            finish(captured)
    finally:
        callbacks = _callback_queues.pop()
    while callbacks:  # only reached when the pass succeeded
        _callback_queues.append([])
        try:
            callbacks.pop(0)()
        finally:
            callbacks.extend(_callback_queues.pop())
    return captured


def _backward_pass(roots: list, root_grads: list, retain_graph: bool, capture: list | None) -> dict:
    grads: dict[int, Any] = {}
    for root, g in zip(roots, root_grads):
        grads[id(root)] = g if id(root) not in grads else grads[id(root)] + g
    order = _topological_order(roots)
    captured: dict[int, Any] = {}
    wanted: set[int] = set()
    leads_to_wanted: set[int] = set()
    if capture is not None:
        wanted = {id(t) for t in capture}
        for node in order:  # parents come first
            if id(node) in wanted or any(id(p) in leads_to_wanted for p in _parents(node)):
                leads_to_wanted.add(id(node))

    def send(parent: Any, pg: Any) -> None:
        if pg is None or not _is_tensor(parent) or not parent.requires_grad:
            return
        shape = parent.shape  # not parent._data: a consumed tensor (cross_entropy consume_input) keeps its shape only
        if tuple(pg.shape) != shape:  # most gradients arrive in their input's shape: skip the call
            pg = unbroadcast(pg, shape, parent.backend.xp)
        key = id(parent)
        grads[key] = pg if key not in grads else grads[key] + pg

    with no_grad():
        for node in reversed(order):
            g = grads.pop(id(node), None)
            if g is None:
                continue
            if capture is not None and not any(id(p) in leads_to_wanted for p in _parents(node)):
                if id(node) not in wanted and not getattr(node, "_retain_grad", False):
                    continue
                run_further = False
            else:
                run_further = True
            if isinstance(node, Context):  # a multi-output op, after every use of every output
                for parent, pg in zip(_resolved_inputs(node), _call_backward(node, g, retain_graph)):
                    send(parent, pg)
                continue
            hooks = getattr(node, "_hooks", None)
            if hooks:
                g = _run_tensor_hooks(node, hooks, g)
            ctx = node._ctx
            if ctx is None:
                if capture is None:
                    _accumulate(node, g)
            elif node._retain_grad:
                node._accumulate_grad(g)
            if id(node) in wanted:
                captured[id(node)] = g
            if ctx is None or not run_further:
                continue
            if ctx.node is not None:
                # Each output is visited once, with its whole gradient; the op's node comes later.
                output_grads = grads.setdefault(id(ctx.node), [None] * len(ctx.node.outputs))
                output_grads[ctx.output_index] = g
                continue
            for parent, pg in zip(_resolved_inputs(ctx), _call_backward(ctx, [g], retain_graph)):
                send(parent, pg)
    return captured


def _call_backward(ctx: Context, output_grads: list, retain_graph: bool) -> tuple:
    """Run one recorded op's backward on its outputs' gradients (None where an output got none: zeros
    of its shape unless the op asked otherwise); returns one gradient per input."""
    if ctx.freed:
        raise RuntimeError(
            "Trying to backward through the graph a second time: its saved values were freed "
            "by the first backward(). Pass retain_graph=True the first time if you need to."
        )
    _check_saved_versions(ctx)
    if ctx.outputs is not None and ctx.materialize_grads:
        output_grads = [ctx.xp.zeros(shape, dtype=dtype, device=device) if g is None else g
                        for g, (shape, dtype, device) in zip(output_grads, ctx.outputs)]
    input_grads = ctx.fn.backward(ctx, *output_grads)
    if not isinstance(input_grads, tuple):
        input_grads = (input_grads,)
    if not retain_graph:
        ctx.free()
    return input_grads


def _fresh(roots: list) -> list:
    """Backward from a view whose base got a recorded in-place write since starts at the view's new node."""
    for t in roots:
        if t._view_version is not None and t._vbox[1] != t._view_version:
            _refresh_view(t)
    return roots


def _as_tensor_list(value: Any, what: str) -> list:
    items = [value] if _is_tensor(value) else value
    if not isinstance(items, list | tuple) or not all(_is_tensor(t) for t in items):
        raise TypeError(f"{what} must be a Tensor or a sequence of Tensors, got {type(value).__name__}")
    return list(items)


def _root_grads(fn_name: str, outputs: list, grad_outputs: Any, arg_name: str) -> list:
    """One gradient array per output: the given ones (checked), or ones for one-element outputs."""
    if grad_outputs is None or _is_tensor(grad_outputs):
        grad_outputs = [grad_outputs] * len(outputs) if grad_outputs is None else [grad_outputs]
    if not isinstance(grad_outputs, list | tuple) or len(grad_outputs) != len(outputs):
        n = len(grad_outputs) if isinstance(grad_outputs, list | tuple) else type(grad_outputs).__name__
        raise ValueError(f"{fn_name}(): {arg_name} should have one entry per output: got {n} for "
                         f"{len(outputs)} outputs")
    arrays = []
    for i, (out, g) in enumerate(zip(outputs, grad_outputs)):
        if not out.requires_grad:
            raise RuntimeError(f"{fn_name}(): element {i} of the outputs does not require grad and has no "
                               "grad_fn")
        if g is None:
            if out.numel() != 1:
                raise RuntimeError(f"{fn_name}(): grad can be implicitly created only for scalar outputs, "
                                   f"got shape {out.shape} for output {i}; pass {arg_name} with that shape")
            arrays.append(out.backend.xp.ones_like(out._data))
            continue
        if _is_tensor(g):
            if g.backend is not out.backend:
                raise ValueError(f"{fn_name}(): {arg_name}[{i}] is on {g.device!r} but output {i} is on "
                                 f"{out.device!r}")
            array = g._data
        else:
            array = out.backend.from_numpy(np.asarray(g), str(out.dtype))
        if tuple(array.shape) != out.shape:
            raise ValueError(f"{fn_name}(): {arg_name}[{i}] has shape {tuple(array.shape)} but output {i} "
                             f"has shape {out.shape}")
        if array.dtype != out._data.dtype:  # PyTorch casts the gradient to the output's dtype
            array = out.backend.xp.astype(array, out._data.dtype)
        arrays.append(array)
    return arrays


def _no_create_graph(fn_name: str, create_graph: bool) -> None:
    if create_graph:
        raise NotImplementedError(
            f"{fn_name}(create_graph=True) is not supported: kernelgrad's backward passes run on raw "
            "arrays and are not themselves recorded, so higher-order gradients cannot be taken")


def backward(tensors: Any, grad_tensors: Any = None, retain_graph: bool | None = None,
             create_graph: bool = False, inputs: Any = None) -> None:
    """PyTorch's ``torch.autograd.backward``: accumulate the gradients of ``tensors`` into ``.grad`` of the
    leaves (only of ``inputs`` when given).

    Args:
        tensors: a Tensor or a sequence of Tensors to differentiate.
        grad_tensors: one gradient per tensor (None: ones, for one-element tensors only).
        retain_graph: keep the saved values for another backward (default False).
        create_graph: not supported (NotImplementedError).
        inputs: a Tensor or sequence of Tensors to accumulate into instead of every leaf.
    Raises: RuntimeError (a tensor without grad, a freed graph, a non-scalar without gradient),
        ValueError for a gradient of the wrong shape or device.
    """
    _no_create_graph("backward", create_graph)
    roots = _fresh(_as_tensor_list(tensors, "backward(): tensors"))
    root_grads = _root_grads("backward", roots, grad_tensors, "grad_tensors")
    if inputs is None:
        _run_backward(roots, root_grads, bool(retain_graph))
        return
    targets = _as_tensor_list(inputs, "backward(): inputs")
    if not targets:
        raise RuntimeError("backward(): inputs argument was passed but it is empty")

    def accumulate(captured: dict) -> None:
        for t in {id(t): t for t in targets}.values():
            if id(t) in captured:
                if t._ctx is None:
                    _accumulate(t, captured[id(t)])
                else:
                    t._accumulate_grad(captured[id(t)])

    _run_backward(roots, root_grads, bool(retain_graph), capture=targets, finish=accumulate)


def grad(outputs: Any, inputs: Any, grad_outputs: Any = None, retain_graph: bool | None = None,
         create_graph: bool = False, only_inputs: bool = True, allow_unused: bool | None = None,
         is_grads_batched: bool = False, materialize_grads: bool = False) -> tuple:
    """PyTorch's ``torch.autograd.grad``: the gradients of ``outputs`` w.r.t. ``inputs``, returned, never
    accumulated into any ``.grad``.

    Args:
        outputs: a Tensor or a sequence of Tensors.
        inputs: a Tensor or a sequence of Tensors, each requiring grad (leaves or not).
        grad_outputs: one gradient per output (the vector of the vector-Jacobian product); None means
            ones and is allowed for one-element outputs only.
        retain_graph: keep the graph's saved values for another backward (default: ``create_graph``).
        create_graph: record the backward pass for higher-order gradients: not supported.
        only_inputs: ignored (deprecated in PyTorch too).
        allow_unused: return None for an input the outputs do not depend on instead of raising
            (default: ``materialize_grads``).
        materialize_grads: return zeros instead of None for such inputs.
    Returns: a tuple with one gradient (Tensor, or None when unused) per input.
    Raises: RuntimeError as PyTorch (an input or output that does not require grad, an unused input);
        NotImplementedError for ``create_graph=True`` or ``is_grads_batched=True``; TypeError/ValueError
        for malformed arguments.
    """
    _no_create_graph("grad", create_graph)
    if is_grads_batched:
        raise NotImplementedError("grad(is_grads_batched=True) is not supported; loop over the batch of "
                                  "grad_outputs with retain_graph=True")
    if allow_unused is None:
        allow_unused = materialize_grads
    elif materialize_grads and not allow_unused:
        raise ValueError("grad(): materialize_grads=True needs allow_unused to be True or not passed")
    roots = _fresh(_as_tensor_list(outputs, "grad(): outputs"))
    targets = _as_tensor_list(inputs, "grad(): inputs")
    if not roots or not targets:
        raise RuntimeError("grad(): outputs and inputs must be non-empty")
    for i, t in enumerate(targets):
        if not t.requires_grad:
            raise RuntimeError(f"grad(): input {i} (the Tensor at inputs[{i}]) does not require grad")
    root_grads = _root_grads("grad", roots, grad_outputs, "grad_outputs")
    retain = create_graph if retain_graph is None else retain_graph
    captured = _run_backward(roots, root_grads, bool(retain), capture=targets)
    result = []
    for i, t in enumerate(targets):
        g = captured.get(id(t))
        if g is None:
            if not allow_unused:
                raise RuntimeError(f"grad(): input {i} appears to not have been used in the graph of the "
                                   "outputs. Set allow_unused=True if this is the desired behavior.")
            result.append(type(t)._autograd_wrap(t.backend.xp.zeros_like(t._data), t.backend)
                          if materialize_grads else None)
            continue
        xp = t.backend.xp
        g = xp.astype(g, t._data.dtype) if g.dtype != t._data.dtype else xp.asarray(g, copy=True)
        result.append(type(t)._autograd_wrap(g, t.backend))
    return tuple(result)


def Variable(data: Any, requires_grad: bool = False, volatile: bool = False):  # noqa: N802 - PyTorch's name
    """PyTorch's deprecated ``torch.autograd.Variable(tensor, requires_grad=False)``, kept for old scripts:
    as in PyTorch since 0.4, a new leaf sharing ``tensor``'s storage (``tensor.detach()``) with
    ``requires_grad`` set. ``volatile`` has no effect (PyTorch warns likewise; use ``no_grad``).

    Raises: TypeError if ``data`` is not a Tensor.
    """
    import warnings

    if not _is_tensor(data):
        raise TypeError(f"Variable(): data must be a Tensor, got {type(data).__name__}")
    if volatile:
        warnings.warn("volatile was removed and now has no effect. Use `with fw.no_grad():` instead.",
                      UserWarning, stacklevel=2)
    return data.detach().requires_grad_(requires_grad)


Variable._execution_engine = _ExecutionEngine()
