"""Reverse-mode automatic differentiation.

Every differentiable op is a :class:`Function` subclass with two static methods that work on the
backend's raw arrays, never on Tensors:

* ``forward(ctx, *args, **kwargs) -> array``: Tensor arguments arrive as raw arrays, everything else
  (Python numbers, shapes, flags) as is. Save what backward needs with ``ctx.save_for_backward`` or
  plain attributes on ``ctx``.
* ``backward(ctx, grad) -> tuple``: one gradient per positional argument of ``forward`` (``None``
  for non-Tensor arguments and for inputs with ``ctx.needs_input_grad[i]`` false). A gradient may have
  the *broadcast* shape; :func:`backward` sums it back to the input's shape in one place
  (:func:`unbroadcast`), so no op has to.

``Function.apply`` wraps the result in a Tensor that remembers only its ``ctx`` (which holds the
parent Tensors). Nothing is recorded under :class:`no_grad` or when no input requires grad.

:func:`backward` walks the graph with an explicit stack (no recursion, so a 1000-step RNN unroll is
fine), accumulates gradients of values used more than once, and frees each node's saved arrays unless
``retain_graph=True``; a second backward through a freed graph raises like PyTorch does.
"""

from __future__ import annotations

import functools
from typing import Any

__all__ = ["Context", "Function", "no_grad", "enable_grad", "is_grad_enabled", "backward", "unbroadcast"]

_grad_enabled = True


def is_grad_enabled() -> bool:
    return _grad_enabled


class _GradMode:
    """Context manager and decorator that sets grad mode and restores it on exit."""

    enabled = True

    def __enter__(self) -> None:
        global _grad_enabled
        self._prev = _grad_enabled
        _grad_enabled = self.enabled

    def __exit__(self, *exc: object) -> None:
        global _grad_enabled
        _grad_enabled = self._prev

    def __call__(self, fn):
        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            with type(self)():
                return fn(*args, **kwargs)

        return wrapper


class no_grad(_GradMode):  # noqa: N801 - PyTorch's name
    """Disable graph recording: ``with fw.no_grad(): ...`` or ``@fw.no_grad()``."""

    enabled = False


class enable_grad(_GradMode):  # noqa: N801 - PyTorch's name
    """Re-enable graph recording inside a ``no_grad`` block."""

    enabled = True


class Context:
    """Per-call scratch space shared by an op's forward and backward."""

    __slots__ = ("fn", "backend", "xp", "inputs", "needs_input_grad", "saved_tensors", "freed", "__dict__")

    def __init__(self, fn: type[Function], backend: Any, inputs: tuple, needs_input_grad: tuple[bool, ...]):
        self.fn = fn
        self.backend = backend  # the device's Backend: ctx.xp for generic math, ctx.backend.kernels
        self.xp = backend.xp
        self.inputs = inputs  # the positional args of forward; Tensors among them are the parents
        self.needs_input_grad = needs_input_grad
        self.saved_tensors: tuple = ()
        self.freed = False

    def save_for_backward(self, *arrays: Any) -> None:
        self.saved_tensors = arrays

    def free(self) -> None:
        """Drop everything backward needed; the node can no longer be differentiated."""
        self.saved_tensors = ()
        self.__dict__.clear()
        self.freed = True


class Function:
    """Base class of differentiable ops (see the module docstring for the contract)."""

    @staticmethod
    def forward(ctx: Context, *args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError

    @staticmethod
    def backward(ctx: Context, grad: Any) -> tuple:
        raise NotImplementedError

    @classmethod
    def apply(cls, *args: Any, **kwargs: Any):
        from .tensor import Tensor

        backend = None
        needs = []
        raw = []
        for i, a in enumerate(args):
            if isinstance(a, Tensor):
                if backend is None:
                    backend = a.backend
                elif a.backend is not backend:
                    names = [x.device for x in args if isinstance(x, Tensor)]
                    raise ValueError(
                        f"{cls.__name__}: expected all tensors on one device, got argument {i} on "
                        f"{a.device!r} and others on {backend.name!r} (devices: {names}); "
                        "move them with .to(device)"
                    )
                needs.append(a.requires_grad)
                raw.append(a._data)
            else:
                needs.append(False)
                raw.append(a)
        if backend is None:
            raise TypeError(f"{cls.__name__}.apply needs at least one Tensor argument")
        record = _grad_enabled and any(needs)
        ctx = Context(cls, backend, args if record else (), tuple(needs))
        out = cls.forward(ctx, *raw, **kwargs)
        result = Tensor._wrap(out, backend, requires_grad=record)
        if record:
            result._ctx = ctx
        return result


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


def _topological_order(root) -> list:
    """Nodes reachable from ``root`` through recorded contexts, each after all of its parents."""
    from .tensor import Tensor

    order, visited = [], set()
    stack = [(root, False)]
    while stack:
        node, children_done = stack.pop()
        if children_done:
            order.append(node)
            continue
        if id(node) in visited:
            continue
        visited.add(id(node))
        stack.append((node, True))
        ctx = node._ctx
        if ctx is not None:
            for parent in ctx.inputs:
                if isinstance(parent, Tensor) and parent.requires_grad and id(parent) not in visited:
                    stack.append((parent, False))
    return order


def backward(root, grad: Any = None, retain_graph: bool = False) -> None:
    """Accumulate d(root)/d(leaf) into ``leaf.grad`` for every leaf that requires grad."""
    from .tensor import Tensor

    if not root.requires_grad:
        raise RuntimeError("backward(): the tensor does not require grad and has no grad_fn")
    xp = root.backend.xp
    if grad is None:
        if root.numel() != 1:
            raise RuntimeError(
                f"backward(): grad can be implicitly created only for scalar outputs, got shape "
                f"{tuple(root.shape)}; pass grad= with that shape"
            )
        grad = xp.ones_like(root._data)
    else:
        grad = grad._data if isinstance(grad, Tensor) else root.backend.from_numpy(grad, root.dtype)
        if tuple(grad.shape) != tuple(root.shape):
            raise ValueError(f"backward(): grad has shape {tuple(grad.shape)} but the tensor has "
                             f"shape {tuple(root.shape)}")

    grads: dict[int, Any] = {id(root): grad}
    with no_grad():
        for node in reversed(_topological_order(root)):
            g = grads.pop(id(node), None)
            if g is None:
                continue
            ctx = node._ctx
            if ctx is None or node._retain_grad:
                node._accumulate_grad(g)
            if ctx is None:
                continue
            if ctx.freed:
                raise RuntimeError(
                    "Trying to backward through the graph a second time: its saved values were freed "
                    "by the first backward(). Pass retain_graph=True the first time if you need to."
                )
            input_grads = ctx.fn.backward(ctx, g)
            if not isinstance(input_grads, tuple):
                input_grads = (input_grads,)
            for parent, pg in zip(ctx.inputs, input_grads):
                if pg is None or not isinstance(parent, Tensor) or not parent.requires_grad:
                    continue
                pg = unbroadcast(pg, parent.shape, xp)
                key = id(parent)
                grads[key] = pg if key not in grads else grads[key] + pg
            if not retain_graph:
                ctx.free()
