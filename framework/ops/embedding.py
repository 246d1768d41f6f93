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


class EmbeddingRenorm(Function):
    """PyTorch's ``embedding_renorm_`` on the rows ``weight[referenced]`` (``referenced`` unique int64): a row
    whose ``norm_type``-norm exceeds ``max_norm`` is scaled by ``max_norm / (norm + 1e-7)``, the others are
    unchanged. Returns those rows in weight's dtype, to be written back by the caller (an in-place update
    outside the graph), or ``[0, D]`` rows when none exceeds ``max_norm``: nothing to write, so the table is
    not copied. No gradient."""

    @staticmethod
    def forward(ctx, weight, referenced, max_norm, norm_type):
        xp = ctx.xp
        rows = xp.take(weight, referenced, axis=0)
        # Half precision would round the norm of long rows badly, so the norm and scaling run in float32.
        work = rows if rows.dtype in (xp.float32, xp.float64) else xp.astype(rows, xp.float32)
        norms = xp.linalg.vector_norm(work, axis=1, ord=norm_type)
        over = norms > max_norm
        out = rows[:0]
        if bool(xp.any(over)):
            scale = xp.where(over, max_norm / (norms + 1e-7), xp.ones_like(norms))
            out = xp.astype(work * xp.reshape(scale, (-1, 1)), rows.dtype)
        ctx.mark_non_differentiable(out)
        return out
