"""Generic differentiable ops: elementwise math, reductions, shape ops, indexing.

Each op is a :class:`~framework.autograd.Function` whose forward and backward sit side by side and
work on raw arrays through ``ctx.xp``, the device's array-api namespace, so one definition serves
numpy, torch and cupy storage. Gradients may be returned in the broadcast shape: the autograd engine
un-broadcasts them (see :func:`framework.autograd.unbroadcast`).

The heavy kernels (conv2d, pooling, fused linear, cross-entropy, dropout) live in
:mod:`framework.nn.functional`, which dispatches to the device's kernel package.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from .autograd import Function


def _reduce_axes(axis: Any, ndim: int) -> tuple[int, ...]:
    if axis is None:
        return tuple(range(ndim))
    axes = (axis,) if isinstance(axis, int) else tuple(axis)
    return tuple(a % ndim if ndim else 0 for a in axes)


def _expand_reduced(ctx, grad, shape, axes, keepdims):
    """Put back the reduced axes of ``grad`` (size 1) so it broadcasts against ``shape``."""
    if not keepdims:
        grad = ctx.xp.reshape(grad, tuple(1 if i in axes else n for i, n in enumerate(shape)))
    return grad


# ------------------------------------------------------------------------------ elementwise binary


class Add(Function):
    @staticmethod
    def forward(ctx, a, b):
        return a + b

    @staticmethod
    def backward(ctx, grad):
        return grad, grad


class Sub(Function):
    @staticmethod
    def forward(ctx, a, b):
        return a - b

    @staticmethod
    def backward(ctx, grad):
        return grad, -grad


class Mul(Function):
    @staticmethod
    def forward(ctx, a, b):
        ctx.save_for_backward(a, b)
        return a * b

    @staticmethod
    def backward(ctx, grad):
        a, b = ctx.saved_tensors
        need_a, need_b = ctx.needs_input_grad
        return (grad * b if need_a else None), (grad * a if need_b else None)


class Div(Function):
    @staticmethod
    def forward(ctx, a, b):
        ctx.save_for_backward(a, b)
        return a / b

    @staticmethod
    def backward(ctx, grad):
        a, b = ctx.saved_tensors
        need_a, need_b = ctx.needs_input_grad
        ga = grad / b if need_a else None
        gb = -grad * a / (b * b) if need_b else None
        return ga, gb


class Pow(Function):
    """``a ** b`` for a Tensor base and/or exponent."""

    @staticmethod
    def forward(ctx, a, b):
        out = a**b
        ctx.save_for_backward(a, b, out)
        return out

    @staticmethod
    def backward(ctx, grad):
        a, b, out = ctx.saved_tensors
        need_a, need_b = ctx.needs_input_grad
        ga = grad * b * a ** (b - 1) if need_a else None
        gb = None
        if need_b:
            log_a = math.log(a) if isinstance(a, int | float) else ctx.xp.log(a)  # a Python base in 2.0 ** t
            gb = grad * out * log_a
        return ga, gb


class Maximum(Function):
    @staticmethod
    def forward(ctx, a, b):
        out = ctx.xp.maximum(a, b)
        ctx.save_for_backward(a, b)
        return out

    @staticmethod
    def backward(ctx, grad):
        # Ties send half to each side, as torch.maximum does.
        a, b = ctx.saved_tensors
        xp = ctx.xp
        wa = xp.where(a > b, 1.0, xp.where(a == b, 0.5, 0.0))
        wa = xp.astype(wa, grad.dtype)
        return grad * wa, grad * (1 - wa)


class Minimum(Function):
    @staticmethod
    def forward(ctx, a, b):
        ctx.save_for_backward(a, b)
        return ctx.xp.minimum(a, b)

    @staticmethod
    def backward(ctx, grad):
        a, b = ctx.saved_tensors
        xp = ctx.xp
        wa = xp.astype(xp.where(a < b, 1.0, xp.where(a == b, 0.5, 0.0)), grad.dtype)
        return grad * wa, grad * (1 - wa)


class Where(Function):
    @staticmethod
    def forward(ctx, cond, a, b):
        ctx.cond = cond
        return ctx.xp.where(cond, a, b)

    @staticmethod
    def backward(ctx, grad):
        zero = ctx.xp.zeros_like(grad)
        return None, ctx.xp.where(ctx.cond, grad, zero), ctx.xp.where(ctx.cond, zero, grad)


# ------------------------------------------------------------------------------- elementwise unary


class Neg(Function):
    @staticmethod
    def forward(ctx, a):
        return -a

    @staticmethod
    def backward(ctx, grad):
        return (-grad,)


class Exp(Function):
    @staticmethod
    def forward(ctx, a):
        out = ctx.xp.exp(a)
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx, grad):
        (out,) = ctx.saved_tensors
        return (grad * out,)


class Log(Function):
    @staticmethod
    def forward(ctx, a):
        ctx.save_for_backward(a)
        return ctx.xp.log(a)

    @staticmethod
    def backward(ctx, grad):
        (a,) = ctx.saved_tensors
        return (grad / a,)


class Sqrt(Function):
    @staticmethod
    def forward(ctx, a):
        out = ctx.xp.sqrt(a)
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx, grad):
        (out,) = ctx.saved_tensors
        return (grad / (2 * out),)


class Abs(Function):
    @staticmethod
    def forward(ctx, a):
        ctx.save_for_backward(a)
        return ctx.xp.abs(a)

    @staticmethod
    def backward(ctx, grad):
        (a,) = ctx.saved_tensors
        return (grad * ctx.xp.astype(ctx.xp.sign(a), grad.dtype),)


class Relu(Function):
    @staticmethod
    def forward(ctx, a):
        # maximum with a scalar is one pass (where + zeros_like is three) and keeps NaN and maps -inf to 0.
        out = ctx.xp.maximum(a, 0)
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx, grad):
        (out,) = ctx.saved_tensors
        return (grad * (out > 0),)  # multiplying by the boolean mask is one fused pass


class LeakyRelu(Function):
    @staticmethod
    def forward(ctx, a, negative_slope):
        ctx.save_for_backward(a)
        ctx.slope = negative_slope
        return ctx.xp.where(a > 0, a, a * negative_slope)

    @staticmethod
    def backward(ctx, grad):
        (a,) = ctx.saved_tensors
        return ctx.xp.where(a > 0, grad, grad * ctx.slope), None


def stable_sigmoid(xp: Any, a: Any) -> Any:
    """``1 / (1 + e^-a)`` of a raw array, split by sign so exp never overflows: ``e^a / (1 + e^a)`` for a < 0."""
    e = xp.exp(-xp.abs(a))
    return xp.where(a >= 0, 1 / (1 + e), e / (1 + e))


class Sigmoid(Function):
    @staticmethod
    def forward(ctx, a):
        out = stable_sigmoid(ctx.xp, a)
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx, grad):
        (out,) = ctx.saved_tensors
        return (grad * out * (1 - out),)


class Tanh(Function):
    @staticmethod
    def forward(ctx, a):
        out = ctx.xp.tanh(a)
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx, grad):
        (out,) = ctx.saved_tensors
        return (grad * (1 - out * out),)

def erfc(xp: Any, x: Any) -> Any:
    """``erfc`` of a float raw array from the array library's own special functions: torch's (the triton
    device), CuPy's ``cupyx.scipy.special`` (cupy) or SciPy's (numpy: the cpu device and the CUDA emulator).

    erfc rather than erf, so the small left tail of the normal CDF keeps its relative accuracy.
    float16/bfloat16 are computed in float32 and rounded back.
    """
    native = getattr(xp, "erfc", None)
    if native is not None:
        return native(x)
    work = x if x.dtype in (xp.float32, xp.float64) else xp.astype(x, xp.float32)
    if isinstance(work, np.ndarray):
        from scipy.special import erfc as special_erfc
    else:
        from cupyx.scipy.special import erfc as special_erfc
    out = special_erfc(work)
    return out if out.dtype == x.dtype else xp.astype(out, x.dtype)


class Clamp(Function):
    @staticmethod
    def forward(ctx, a, lo, hi):
        xp = ctx.xp
        out = a
        if lo is not None:
            out = xp.maximum(out, xp.asarray(lo, dtype=a.dtype))
        if hi is not None:
            out = xp.minimum(out, xp.asarray(hi, dtype=a.dtype))
        ctx.save_for_backward(a)
        ctx.lo, ctx.hi = lo, hi
        return out

    @staticmethod
    def backward(ctx, grad):
        (a,) = ctx.saved_tensors
        inside = ctx.xp.ones_like(a, dtype=ctx.xp.bool)
        if ctx.lo is not None:
            inside = inside & (a >= ctx.lo)
        if ctx.hi is not None:
            inside = inside & (a <= ctx.hi)
        return ctx.xp.where(inside, grad, ctx.xp.zeros_like(grad)), None, None


class Cast(Function):
    @staticmethod
    def forward(ctx, a, dtype):
        ctx.src = a.dtype
        return ctx.xp.astype(a, dtype)

    @staticmethod
    def backward(ctx, grad):
        return ctx.xp.astype(grad, ctx.src), None


# ------------------------------------------------------------------------------------------ matmul


class MatMul(Function):
    """Batched ``a @ b`` for operands with ndim >= 2 (Tensor.__matmul__ lifts 1-D operands)."""

    @staticmethod
    def forward(ctx, a, b):
        ctx.save_for_backward(a, b)
        return a @ b

    @staticmethod
    def backward(ctx, grad):
        a, b = ctx.saved_tensors
        need_a, need_b = ctx.needs_input_grad
        xp = ctx.xp
        ga = grad @ xp.matrix_transpose(b) if need_a else None
        gb = xp.matrix_transpose(a) @ grad if need_b else None
        return ga, gb


# -------------------------------------------------------------------------------------- reductions


class Sum(Function):
    @staticmethod
    def forward(ctx, a, axis, keepdims):
        ctx.shape, ctx.axes, ctx.keepdims = a.shape, _reduce_axes(axis, a.ndim), keepdims
        return ctx.xp.sum(a, axis=ctx.axes, keepdims=keepdims)

    @staticmethod
    def backward(ctx, grad):
        grad = _expand_reduced(ctx, grad, ctx.shape, ctx.axes, ctx.keepdims)
        return ctx.xp.broadcast_to(grad, tuple(ctx.shape)), None, None


class Mean(Function):
    @staticmethod
    def forward(ctx, a, axis, keepdims):
        ctx.shape, ctx.axes, ctx.keepdims = a.shape, _reduce_axes(axis, a.ndim), keepdims
        ctx.count = math.prod(a.shape[i] for i in ctx.axes)
        return ctx.xp.mean(a, axis=ctx.axes, keepdims=keepdims)

    @staticmethod
    def backward(ctx, grad):
        grad = _expand_reduced(ctx, grad, ctx.shape, ctx.axes, ctx.keepdims) / ctx.count
        return ctx.xp.broadcast_to(grad, tuple(ctx.shape)), None, None


class Amax(Function):
    """Max over axes; the gradient is shared evenly between tied maxima (as torch.amax does)."""

    @staticmethod
    def forward(ctx, a, axis, keepdims):
        xp = ctx.xp
        axes = _reduce_axes(axis, a.ndim)
        out = xp.max(a, axis=axes, keepdims=True)
        ctx.save_for_backward(a, out)
        ctx.shape, ctx.axes, ctx.keepdims = a.shape, axes, keepdims
        return out if keepdims else xp.reshape(out, tuple(n for i, n in enumerate(a.shape) if i not in axes))

    @staticmethod
    def backward(ctx, grad):
        xp = ctx.xp
        a, out = ctx.saved_tensors
        grad = _expand_reduced(ctx, grad, ctx.shape, ctx.axes, ctx.keepdims)
        hit = xp.astype(a == out, grad.dtype)
        return grad * hit / xp.sum(hit, axis=ctx.axes, keepdims=True), None, None


class TakeAlongAxis(Function):
    """``take_along_axis(a, indices, axis)``; backward scatters (accumulating) into a zero array."""

    @staticmethod
    def forward(ctx, a, indices, axis):
        ctx.shape, ctx.indices, ctx.axis, ctx.dtype = a.shape, indices, axis, a.dtype
        return ctx.xp.take_along_axis(a, indices, axis=axis)

    @staticmethod
    def backward(ctx, grad):
        xp = ctx.xp
        out = xp.zeros(tuple(ctx.shape), dtype=ctx.dtype)
        # Build full index arrays so repeated indices accumulate through the backend's index_add.
        grids = list(xp.meshgrid(*[xp.arange(n) for n in ctx.indices.shape], indexing="ij"))
        grids[ctx.axis] = ctx.indices
        ctx.backend.index_add(out, tuple(grids), grad)
        return out, None, None


# ---------------------------------------------------------------------------------------- shapes


class Reshape(Function):
    @staticmethod
    def forward(ctx, a, shape):
        ctx.shape = a.shape
        return ctx.xp.reshape(a, shape)

    @staticmethod
    def backward(ctx, grad):
        return ctx.xp.reshape(grad, tuple(ctx.shape)), None


class Permute(Function):
    @staticmethod
    def forward(ctx, a, axes):
        ctx.axes = axes
        return ctx.xp.permute_dims(a, axes)

    @staticmethod
    def backward(ctx, grad):
        inverse = [0] * len(ctx.axes)
        for i, ax in enumerate(ctx.axes):
            inverse[ax] = i
        return ctx.xp.permute_dims(grad, tuple(inverse)), None


class Expand(Function):
    @staticmethod
    def forward(ctx, a, shape):
        return ctx.xp.broadcast_to(a, shape)

    @staticmethod
    def backward(ctx, grad):
        return grad, None  # the engine sums the broadcast axes back


class GetItem(Function):
    @staticmethod
    def forward(ctx, a, index):
        ctx.shape, ctx.index, ctx.dtype = a.shape, index, a.dtype
        return a[index]

    @staticmethod
    def backward(ctx, grad):
        out = ctx.xp.zeros(tuple(ctx.shape), dtype=ctx.dtype)
        ctx.backend.index_add(out, ctx.index, grad)
        return out, None


class Concat(Function):
    """Concatenate along ``axis``; inputs are positional so each gets its own gradient slice."""

    @staticmethod
    def forward(ctx, *arrays, axis=0):
        ctx.axis = axis
        ctx.sizes = [a.shape[axis] for a in arrays]
        return ctx.xp.concat(arrays, axis=axis)

    @staticmethod
    def backward(ctx, grad):
        out, start = [], 0
        for n in ctx.sizes:
            index = [slice(None)] * grad.ndim
            index[ctx.axis] = slice(start, start + n)
            out.append(grad[tuple(index)])
            start += n
        return tuple(out)


class Stack(Function):
    @staticmethod
    def forward(ctx, *arrays, axis=0):
        ctx.axis = axis
        ctx.count = len(arrays)
        return ctx.xp.stack(arrays, axis=axis)

    @staticmethod
    def backward(ctx, grad):
        index = [slice(None)] * grad.ndim
        out = []
        for i in range(ctx.count):
            index[ctx.axis] = i
            out.append(grad[tuple(index)])
        return tuple(out)
