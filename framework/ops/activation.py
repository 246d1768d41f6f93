"""Pointwise activation functions with their derivatives written beside them."""

from __future__ import annotations

from typing import Any

from ..autograd import Function


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
