"""Dropout on the device's ``dropout`` kernels (the mask regenerated from (seed, offset) in backward, or on the
CPU kept from forward).

``row_len``/``row_stride`` (both or neither): element ``i`` takes counter ``offset + (i // row_len) * row_stride
+ i % row_len`` -- a data-parallel rank's rows of the global batch's stream (see ``F.dropout``)."""

from __future__ import annotations

from ..autograd import Function
from ._launch import _contiguous

# --------------------------------------------------------------------------------------- dropout


class Dropout(Function):
    # A backend with the saved-mask extension (the numpy kernels: dropout_forward_saving_mask /
    # dropout_backward_from_mask, see kernels/numpy/dropout.py) keeps forward's mask for backward instead of
    # running Philox again -- on the CPU the RNG costs more than the rest of dropout; the GPU kernels regenerate it
    # (the contract). The engine frees the mask with the rest of the saved values after backward.
    @staticmethod
    def forward(ctx, x, p, seed, offset, row_len=None, row_stride=None):
        kern = ctx.backend.kernels.dropout
        (x,) = _contiguous(ctx, x)
        ctx.stream = (p, seed, offset)
        ctx.rows = {} if row_len is None else {"row_len": row_len, "row_stride": row_stride}
        saving = getattr(kern, "dropout_forward_saving_mask", None)
        if saving is None:
            return kern.dropout_forward(x, p, seed, offset, **ctx.rows)
        y, keep = saving(x, p, seed, offset, **ctx.rows)
        ctx.save_for_backward(keep)
        return y

    @staticmethod
    def backward(ctx, dy):
        kern = ctx.backend.kernels.dropout
        dy = ctx.backend.ascontiguous(dy)
        if ctx.saved_tensors:
            dx = kern.dropout_backward_from_mask(dy, ctx.saved_tensors[0], ctx.stream[0])
        else:
            dx = kern.dropout_backward(dy, *ctx.stream, **ctx.rows)
        return dx, None, None, None, None, None
