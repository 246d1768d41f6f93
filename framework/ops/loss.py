"""Losses written as their own Functions (stable forms PyTorch uses): KL divergence, binary cross-entropy
with and without logits.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..autograd import Function


class KLDiv(Function):
    """Pointwise ``target * (log target - input)`` (``xlogy(t, t) - t * x``) or, for a log-space target,
    ``exp(t) * (t - x)``; backward is PyTorch's formula, including a zero target gradient where t == 0."""

    @staticmethod
    def forward(ctx, x, t, log_target):
        xp = ctx.xp
        ctx.save_for_backward(x, t)
        ctx.log_target = log_target
        if log_target:
            return xp.exp(t) * (t - x)
        zero = t == 0
        # xlogy(t, t) is 0, not 0 * log(0) = nan, at t == 0.
        return xp.where(zero, 0.0, t * xp.log(xp.where(zero, 1.0, t))) - t * x

    @staticmethod
    def backward(ctx, grad):
        x, t = ctx.saved_tensors
        xp = ctx.xp
        need_x, need_t = ctx.needs_input_grad[:2]
        if ctx.log_target:
            et = xp.exp(t)
            gx = -grad * et if need_x else None
            gt = grad * (t + 1 - x) * et if need_t else None
        else:
            gx = -grad * t if need_x else None
            gt = None
            if need_t:
                zero = t == 0
                gt = xp.where(zero, 0.0, grad * (xp.log(xp.where(zero, 1.0, t)) + 1 - x))
        return gx, gt, None


#: PyTorch's floor on p * (1 - p) in BCE's gradient, a float32 constant (so 1 / eps is 1.0000000039958e12).
_BCE_EPS = float(np.float32(1e-12))


class BinaryCrossEntropy(Function):
    """Pointwise BCE on probabilities exactly as PyTorch computes it: each log is clamped at -100 (so p = 0
    or 1 gives a finite loss), and the gradient is ``(p - t) / max(p (1 - p), 1e-12)`` -- finite at p = 0 or
    1, 0 where the target agrees. Clamping ``log`` after taking it instead gives the gradient ``t / p``:
    NaN (0 / 0) at p = 1 with t = 1, which is where ``sigmoid`` saturates in float32."""

    @staticmethod
    def forward(ctx, p, t):
        xp = ctx.xp
        ctx.save_for_backward(p, t)
        with np.errstate(divide="ignore", invalid="ignore"):  # log(0) = -inf, clamped below; p > 1 is NaN
            log_p, log_1mp = xp.log(p), xp.log1p(-p)
        log_p = xp.where(log_p < -100, -100.0, log_p)  # where, not maximum: keep NaN as NaN
        log_1mp = xp.where(log_1mp < -100, -100.0, log_1mp)
        return (t - 1) * log_1mp - t * log_p

    @staticmethod
    def backward(ctx, grad):
        p, t = ctx.saved_tensors
        xp = ctx.xp
        gp = gt = None
        if ctx.needs_input_grad[0]:
            denom = (1 - p) * p
            gp = grad * (p - t) / xp.where(denom < _BCE_EPS, _BCE_EPS, denom)
        if ctx.needs_input_grad[1]:  # PyTorch's target gradient is not clamped: +-inf at p = 0 or 1
            with np.errstate(divide="ignore"):
                gt = grad * (xp.log1p(-p) - xp.log(p))
        return gp, gt


def _log_sigmoid(xp: Any, x: Any) -> Any:
    """``log(sigmoid(x)) = min(x, 0) - log1p(exp(-|x|))`` of a raw array: never overflows, and log1p keeps the
    exp(-|x|) term that ``log(1 + exp(-|x|))`` rounds to 0 for |x| > 17 in float32."""
    return xp.where(x < 0, x, 0.0) - xp.log1p(xp.exp(-xp.abs(x)))


class BCEWithLogits(Function):
    """Pointwise sigmoid + BCE, PyTorch's formulas (with lw = 1 + (pos_weight - 1) t, pw = pos_weight):

    loss = (1 - t) x - lw log_sigmoid(x)             dx  = (pw t + 1 - t) sigmoid(x) - pw t
    dt   = log_sigmoid(-x) - pw log_sigmoid(x)        dpw = -t log_sigmoid(x)
    (without pos_weight: lw = pw = 1 and dt = -x). Written out rather than composed because ``max(x, 0)``
    and ``|x|`` have no useful derivative at x = 0. The loss is summed as ``((1 - t) x - lw min(x, 0)) +
    lw log1p(e^-|x|)`` and dx split by the sign of x, so the e^-|x| terms survive float32 rounding (PyTorch
    rounds the loss at x = -20, t = 0 to 0); at +-inf the result is PyTorch's, NaN included.
    """

    @staticmethod
    def forward(ctx, x, t, pos_weight):
        xp = ctx.xp
        ctx.save_for_backward(x, t, pos_weight)
        tail = xp.log1p(xp.exp(-xp.abs(x)))
        neg_part = xp.where(x < 0, x, 0.0)  # min(x, 0); NaN goes to tail
        log_weight = 1 if pos_weight is None else (pos_weight - 1) * t + 1
        with np.errstate(invalid="ignore"):  # inf - inf at x = -inf: NaN, as PyTorch's
            return ((1 - t) * x - log_weight * neg_part) + log_weight * tail

    @staticmethod
    def backward(ctx, grad):
        x, t, pw = ctx.saved_tensors
        xp = ctx.xp
        need_x, need_t, need_pw = ctx.needs_input_grad
        gx = gt = gpw = None
        if need_x:
            e = xp.exp(-xp.abs(x))
            small = e / (1 + e)  # sigmoid(-|x|), accurate; sigmoid(x) = 1 - small for x >= 0
            scale, pos = (1.0, t) if pw is None else (pw * t + 1 - t, pw * t)
            gx = grad * xp.where(x >= 0, (scale - pos) - scale * small, scale * small - pos)
        if need_t:
            gt = grad * (-x if pw is None else _log_sigmoid(xp, -x) - pw * _log_sigmoid(xp, x))
        if need_pw:
            gpw = grad * -t * _log_sigmoid(xp, x)
        return gx, gt, gpw
