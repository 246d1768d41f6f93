"""Dropout on the device's ``dropout`` kernels (the mask regenerated from (seed, offset) in backward)."""

from __future__ import annotations

from ..autograd import Function
from ._launch import _contiguous

# --------------------------------------------------------------------------------------- dropout


class Dropout(Function):
    @staticmethod
    def forward(ctx, x, p, seed, offset):
        (x,) = _contiguous(ctx, x)
        ctx.p, ctx.seed, ctx.offset = p, seed, offset
        return ctx.backend.kernels.dropout.dropout_forward(x, p, seed, offset)

    @staticmethod
    def backward(ctx, dy):
        dx = ctx.backend.kernels.dropout.dropout_backward(
            ctx.backend.ascontiguous(dy), ctx.p, ctx.seed, ctx.offset)
        return dx, None, None, None
