"""Lp normalisation along a dim (F.normalize)."""

from __future__ import annotations

from ..autograd import Function

# ---------------------------------------------------------------------------------- normalize


class Normalize(Function):
    """``y = x / max(||x||_p, eps)`` along ``dim``, with the analytic gradient: where the norm is above eps,
    ``dx = g / n - (sum(g * x) / n^2) * dn/dx`` with ``dn/dx = sign(x) |x|^(p-1) / n^(p-1)``; where it is
    clamped, ``dx = g / eps`` (the clamp has no gradient, as in PyTorch)."""

    @staticmethod
    def forward(ctx, x, p, dim, eps):
        xp = ctx.xp
        norm = xp.sum(xp.abs(x) ** p, axis=dim, keepdims=True) ** (1.0 / p)
        denom = xp.maximum(norm, xp.asarray(eps, dtype=x.dtype))
        ctx.save_for_backward(x, norm, denom)
        ctx.p, ctx.dim, ctx.eps = p, dim, eps
        return x / denom

    @staticmethod
    def backward(ctx, grad):
        x, norm, denom = ctx.saved_tensors
        xp, p = ctx.xp, ctx.p
        dx = grad / denom
        active = norm > ctx.eps
        safe_norm = xp.where(active, norm, xp.ones_like(norm))
        ax = xp.abs(x)
        # |x|^(p-1) is inf at 0 for p < 1; those elements get no gradient through the norm.
        powered = xp.where(ax > 0, ax ** (p - 1) if p != 1 else xp.ones_like(ax), xp.zeros_like(ax))
        dnorm = xp.sign(x) * powered / safe_norm ** (p - 1)
        coef = xp.sum(grad * x, axis=ctx.dim, keepdims=True) / (safe_norm * safe_norm)
        return dx - xp.where(active, coef, xp.zeros_like(coef)) * dnorm, None, None, None
