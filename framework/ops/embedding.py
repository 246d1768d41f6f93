"""Embedding lookup with a scatter-add backward."""

from __future__ import annotations

from ..autograd import Function

# ------------------------------------------------------------------------------------- embedding


class Embedding(Function):
    """``weight[indices]``; backward scatters rows with the backend's accumulating ``index_add`` (an index
    that appears k times gets the sum of its k row gradients, each divided by k under
    ``scale_grad_by_freq``) and skips ``padding_idx`` rows."""

    @staticmethod
    def forward(ctx, weight, indices, padding_idx, scale_grad_by_freq=False):
        ctx.weight_shape, ctx.dtype, ctx.indices, ctx.padding_idx = weight.shape, weight.dtype, indices, padding_idx
        ctx.scale_grad_by_freq = scale_grad_by_freq
        xp = ctx.xp
        rows = xp.take(weight, xp.reshape(indices, (-1,)), axis=0)
        return xp.reshape(rows, tuple(indices.shape) + (weight.shape[1],))

    @staticmethod
    def backward(ctx, grad):
        xp = ctx.xp
        flat = xp.reshape(ctx.indices, (-1,))
        rows = xp.reshape(grad, (-1, ctx.weight_shape[1]))
        if ctx.padding_idx is not None:
            keep = xp.astype(flat != ctx.padding_idx, rows.dtype)
            rows = rows * xp.reshape(keep, (-1, 1))
        if ctx.scale_grad_by_freq:
            # Each use is scaled before the sum (as PyTorch does), so the row gets the mean of its uses.
            counts = xp.zeros((ctx.weight_shape[0],), dtype=rows.dtype)
            ctx.backend.index_add(counts, flat, xp.ones(flat.shape, dtype=rows.dtype))
            rows = rows / xp.reshape(xp.take(counts, flat, axis=0), (-1, 1))
        out = xp.zeros(tuple(ctx.weight_shape), dtype=ctx.dtype)
        ctx.backend.index_add(out, flat, rows)
        return out, None, None, None
