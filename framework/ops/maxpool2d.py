"""Max pooling on the device's ``maxpool2d`` kernels (compact argmax), and the first-maximum rule over taps."""

from __future__ import annotations

from typing import Any

from array_api_compat import device as _array_device

from ..autograd import Function
from ._launch import _contiguous, _conv_output_hw, _zeros

# ------------------------------------------------------------------------------------ max_pool2d


class MaxPool2d(Function):
    """Two outputs: the pooled ``y`` and the kernel's compact ``argmax`` (the position ``r*S+s`` of each
    window's maximum, non-differentiable), which backward routes the gradient through."""

    @staticmethod
    def forward(ctx, x, kernel, stride, padding):
        (x,) = _contiguous(ctx, x)
        if 0 in x.shape[:2]:  # an empty batch (or C = 0): no kernel launch (see Conv2d), an empty y and argmax
            out_shape = tuple(x.shape[:2]) + _conv_output_hw(x.shape, (0, 0) + tuple(kernel), stride, padding)
            y, argmax = _zeros(ctx, out_shape, x), ctx.xp.zeros(out_shape, dtype=ctx.xp.int8, device=_array_device(x))
        else:
            y, argmax = ctx.backend.kernels.maxpool2d.maxpool2d_forward(x, kernel, stride, padding)
        ctx.mark_non_differentiable(argmax)
        ctx.set_materialize_grads(False)  # no zeros for argmax's gradient; y's always arrives (nothing else can)
        ctx.argmax, ctx.shape = argmax, tuple(x.shape)
        ctx.kernel, ctx.stride, ctx.padding = kernel, stride, padding
        return y, argmax

    @staticmethod
    def backward(ctx, dy, _d_argmax):
        if 0 in ctx.shape[:2]:
            return _zeros(ctx, ctx.shape, dy), None, None, None
        dx = ctx.backend.kernels.maxpool2d.maxpool2d_backward(
            ctx.backend.ascontiguous(dy), ctx.argmax, ctx.shape, ctx.kernel, ctx.stride, ctx.padding)
        return dx, None, None, None


class ReluMaxPool2d(Function):
    """``max_pool2d(relu(x))`` on the device's fused ``relu_maxpool2d`` kernels: one output, y; the kernel's argmax
    (the winner, or -1 where the ReLU zeroes the window's gradient) stays in the context for backward."""

    @staticmethod
    def forward(ctx, x, kernel, stride, padding):
        (x,) = _contiguous(ctx, x)
        ctx.shape, ctx.kernel, ctx.stride, ctx.padding = tuple(x.shape), kernel, stride, padding
        if 0 in x.shape[:2]:  # an empty batch (or C = 0): no kernel launch, as MaxPool2d
            ctx.argmax = None
            out_hw = _conv_output_hw(x.shape, (0, 0) + tuple(kernel), stride, padding)
            return _zeros(ctx, tuple(x.shape[:2]) + out_hw, x)
        y, ctx.argmax = ctx.backend.kernels.maxpool2d.relu_maxpool2d_forward(x, kernel, stride, padding)
        return y

    @staticmethod
    def backward(ctx, dy):
        if ctx.argmax is None:
            return _zeros(ctx, ctx.shape, dy), None, None, None
        dx = ctx.backend.kernels.maxpool2d.relu_maxpool2d_backward(
            ctx.backend.ascontiguous(dy), ctx.argmax, ctx.shape, ctx.kernel, ctx.stride, ctx.padding)
        return dx, None, None, None


def _pool_winner(xp: Any, taps: Any, axis: int, keepdims: bool = False) -> Any:
    """PyTorch's max-pool winner along ``axis`` (its loop takes ``v > best || isnan(v)``): the first maximum,
    except that a NaN is the maximum and the *last* NaN wins. ``argmax`` alone would pick the first NaN."""
    first = xp.argmax(taps, axis=axis, keepdims=keepdims)
    nan = xp.astype(xp.isnan(taps), xp.int32)
    last_nan = taps.shape[axis] - 1 - xp.argmax(xp.flip(nan, axis=axis), axis=axis, keepdims=keepdims)
    return xp.where(xp.any(nan != 0, axis=axis, keepdims=keepdims), last_nan, first)


class PoolWinner(Function):
    """The int64 position along ``axis`` of PyTorch's winner over the stacked taps of a pooling window
    (:func:`_pool_winner`), for the max poolings built of generic ops (dilated and adaptive); F selects the
    winner with ``where``, so the gradient reaches that tap only. The index itself has no gradient."""

    @staticmethod
    def forward(ctx, taps, axis, keepdims):
        xp = ctx.xp
        index = xp.astype(_pool_winner(xp, taps, axis, keepdims), xp.int64)
        ctx.mark_non_differentiable(index)
        return index
