"""Dropout on the device's ``dropout`` kernels (the mask regenerated from (seed, offset) in backward).

``row_len``/``row_stride`` (both or neither): element ``i`` takes counter ``offset + (i // row_len) * row_stride
+ i % row_len`` -- a data-parallel rank's rows of the global batch's stream (see ``F.dropout``)."""

from __future__ import annotations

from ..autograd import Function
from ._launch import _contiguous

# --------------------------------------------------------------------------------------- dropout


class Dropout(Function):
    @staticmethod
    def forward(ctx, x, p, seed, offset, row_len=None, row_stride=None):
        (x,) = _contiguous(ctx, x)
        ctx.stream = (p, seed, offset)
        ctx.rows = {} if row_len is None else {"row_len": row_len, "row_stride": row_stride}
        return ctx.backend.kernels.dropout.dropout_forward(x, p, seed, offset, **ctx.rows)

    @staticmethod
    def backward(ctx, dy):
        dx = ctx.backend.kernels.dropout.dropout_backward(ctx.backend.ascontiguous(dy), *ctx.stream, **ctx.rows)
        return dx, None, None, None, None, None
