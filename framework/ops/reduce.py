"""Reductions: sum, mean, variance, max/min, cumulative sum, norms, product, standard deviation."""

from __future__ import annotations

import math

from ..autograd import Function
from ._dims import _expand_reduced, _reduce_axes

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


class Var(Function):
    """Variance over ``axes`` divided by ``denom`` (> 0: N - correction), one node instead of five.

    Forward: the mean, the centred values (saved) and their sum of squares.  Backward: PyTorch's var_backward,
    ``grad * 2 * centred / denom``; the mean's own path is left out because its gradient is the sum of the centred
    values, exactly 0 (a composite graph adds that sum's rounding error, ~1e-7 relative).
    """

    @staticmethod
    def forward(ctx, a, axes, keepdims, denom):
        xp = ctx.xp
        centered = a - xp.mean(a, axis=axes, keepdims=True)
        ctx.save_for_backward(centered)
        ctx.shape, ctx.axes, ctx.keepdims, ctx.denom = a.shape, axes, keepdims, denom
        return xp.sum(centered * centered, axis=axes, keepdims=keepdims) / denom

    @staticmethod
    def backward(ctx, grad):
        (centered,) = ctx.saved_tensors
        grad = _expand_reduced(ctx, grad, ctx.shape, ctx.axes, ctx.keepdims)
        return grad * centered * (2.0 / ctx.denom), None, None, None


class Amax(Function):
    """Max over axes; the gradient is shared evenly between tied maxima (as torch.amax does)."""

    reduce = "max"

    @staticmethod
    def forward(ctx, a, axis, keepdims):
        xp = ctx.xp
        axes = _reduce_axes(axis, a.ndim)
        out = getattr(xp, ctx.fn.reduce)(a, axis=axes, keepdims=True)
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


class Amin(Amax):
    """Min over axes, as :class:`Amax` (not ``-amax(-a)``: negation wraps unsigned ints and refuses bool)."""

    reduce = "min"


class Cumsum(Function):
    """Running sum along ``axis``; backward is the running sum of the gradient taken from the other end."""

    @staticmethod
    def forward(ctx, a, axis, dtype):
        ctx.axis = axis
        return ctx.xp.cumulative_sum(a, axis=axis, dtype=dtype)

    @staticmethod
    def backward(ctx, grad):
        xp = ctx.xp
        return xp.flip(xp.cumulative_sum(xp.flip(grad, axis=ctx.axis), axis=ctx.axis), axis=ctx.axis), None, None


class Norm2(Function):
    """Euclidean norm over ``axes``; its gradient ``a / norm`` is taken as 0 where the norm is 0 (as
    PyTorch), not the NaN that composing ``sqrt(sum(a * a))`` gives there."""

    @staticmethod
    def forward(ctx, a, axis, keepdims):
        xp = ctx.xp
        ctx.shape, ctx.axes, ctx.keepdims = a.shape, _reduce_axes(axis, a.ndim), keepdims
        norm = xp.sqrt(xp.sum(a * a, axis=ctx.axes, keepdims=True))
        ctx.save_for_backward(a, norm)
        return norm if keepdims else xp.reshape(norm, tuple(n for i, n in enumerate(a.shape) if i not in ctx.axes))

    @staticmethod
    def backward(ctx, grad):
        xp = ctx.xp
        a, norm = ctx.saved_tensors
        grad = _expand_reduced(ctx, grad, ctx.shape, ctx.axes, ctx.keepdims)
        safe = xp.where(norm == 0, xp.ones_like(norm), norm)
        return xp.where(norm == 0, xp.zeros_like(a), grad * a / safe), None, None


class NormP(Function):
    """The vector ``p``-norm ``sum(|a|^p)^(1/p)`` over ``axes`` for a finite ``p > 0`` other than 2, and
    the count of nonzeros for ``p = 0``. Gradient: PyTorch's ``sgn(a) |a|^(p-1) / norm^(p-1)``, taken as 0
    where the norm is 0 (and, for p < 1, where ``a`` is 0) instead of the 0 * inf = NaN that composing
    ``abs() ** p`` and ``** (1/p)`` gives there; ``p = 0`` is a constant with no gradient, as PyTorch."""

    @staticmethod
    def forward(ctx, a, p, axis, keepdims):
        xp = ctx.xp
        ctx.shape, ctx.axes, ctx.keepdims, ctx.p = a.shape, _reduce_axes(axis, a.ndim), keepdims, p
        if p == 0:
            norm = xp.sum(xp.astype(a != 0, a.dtype), axis=ctx.axes, keepdims=True)
        else:
            norm = xp.sum(xp.abs(a) ** p, axis=ctx.axes, keepdims=True) ** (1.0 / p)
        ctx.save_for_backward(a, norm)
        return norm if keepdims else xp.reshape(norm, tuple(n for i, n in enumerate(a.shape) if i not in ctx.axes))

    @staticmethod
    def backward(ctx, grad):
        xp = ctx.xp
        a, norm = ctx.saved_tensors
        p = ctx.p
        grad = _expand_reduced(ctx, grad, ctx.shape, ctx.axes, ctx.keepdims)
        if p == 0:  # a constant: no gradient (PyTorch leaves .grad None too)
            return None, None, None, None
        zero = xp.zeros_like(a)
        absa = xp.abs(a)
        if p < 1:  # |a|^(p-1) is inf at a = 0, where the gradient is 0
            scaled = xp.where(a == 0, zero, xp.sign(a) * xp.where(a == 0, xp.ones_like(a), absa) ** (p - 1))
            return scaled * grad * norm ** (1 - p), None, None, None
        safe = xp.where(norm == 0, xp.ones_like(norm), norm)
        scale = xp.where(norm == 0, xp.zeros_like(norm), 1 / safe ** (p - 1))
        return xp.sign(a) * absa ** (p - 1) * grad * scale, None, None, None


class Prod(Function):
    """Product along one ``axis``. The gradient of each element is the product of the others, taken as
    (product of those before) x (product of those after) so that zeros need no division."""

    @staticmethod
    def forward(ctx, a, axis, keepdims):
        xp = ctx.xp
        ctx.axis, ctx.keepdims = axis, keepdims
        ctx.save_for_backward(a)
        return xp.prod(a, axis=axis, keepdims=keepdims)

    @staticmethod
    def backward(ctx, grad):
        xp = ctx.xp
        (a,) = ctx.saved_tensors
        axis = ctx.axis
        if not ctx.keepdims:
            grad = xp.expand_dims(grad, axis=axis)
        before = xp.cumulative_prod(a, axis=axis, include_initial=True)
        after = xp.flip(xp.cumulative_prod(xp.flip(a, axis=axis), axis=axis, include_initial=True), axis=axis)
        n = a.shape[axis]
        index = [slice(None)] * a.ndim
        index[axis] = slice(0, n)
        before = before[tuple(index)]
        index[axis] = slice(1, n + 1)
        after = after[tuple(index)]
        return grad * before * after, None, None


class StdSqrt(Function):
    """``sqrt`` of a variance for ``std``: PyTorch's std gradient is 0 where the std is 0 (a constant
    group), where a plain sqrt's ``grad / (2 * 0)`` would make it NaN."""

    @staticmethod
    def forward(ctx, a):
        out = ctx.xp.sqrt(a)
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx, grad):
        (out,) = ctx.saved_tensors
        xp = ctx.xp
        zero = out == 0
        return (xp.where(zero, xp.zeros_like(grad), grad / (2 * xp.where(zero, xp.ones_like(out), out))),)
