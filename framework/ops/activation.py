"""Pointwise activation functions with their derivatives written beside them."""

from __future__ import annotations

import math
from typing import Any

from ..autograd import Function
from .elementwise import erfc


class Relu(Function):
    @staticmethod
    def forward(ctx, a):
        # maximum with a scalar is one pass (where + zeros_like is three) and keeps NaN and maps -inf to 0.
        out = ctx.xp.maximum(a, 0)
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx, grad):
        # PyTorch's threshold_backward: 0 where out <= 0, else grad. A select, not grad * mask (an inf or NaN
        # grad would give NaN where the unit is off); and a NaN output is not <= 0, so it passes the gradient.
        # The 0 is a Python scalar: the result keeps grad's dtype on every backend, and numpy skips the
        # zero-filled array zeros_like would build (half the passes: ~2x faster at DigitsCNN's 64x16x8x8).
        (out,) = ctx.saved_tensors
        return (ctx.xp.where(out <= 0, 0, grad),)


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


_SQRT1_2 = math.sqrt(0.5)
_INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)


class Gelu(Function):
    """Exact GELU ``x * Phi(x)`` with ``Phi(x) = erfc(-x / sqrt 2) / 2``: erfc keeps its relative accuracy in
    the left tail, where ``(1 + erf(x / sqrt 2)) / 2`` would cancel."""

    @staticmethod
    def forward(ctx, x):
        xp = ctx.xp
        work = x if x.dtype in (xp.float32, xp.float64) else xp.astype(x, xp.float32)  # halves in float32
        cdf = 0.5 * erfc(xp, work * -_SQRT1_2)
        ctx.save_for_backward(work, cdf)
        out = work * cdf
        return out if out.dtype == x.dtype else xp.astype(out, x.dtype)

    @staticmethod
    def backward(ctx, grad):
        x, cdf = ctx.saved_tensors
        xp = ctx.xp
        # d/dx x*Phi(x) = Phi(x) + x*phi(x); clipping keeps x*phi finite (0, not inf*0) for |x| = inf.
        xc = xp.clip(x, -40.0, 40.0)
        dx = grad * (cdf + xc * (xp.exp(-0.5 * xc * xc) * _INV_SQRT_2PI))
        return (dx if dx.dtype == grad.dtype else xp.astype(dx, grad.dtype),)


class Elu(Function):
    @staticmethod
    def forward(ctx, x, alpha):
        xp = ctx.xp
        # expm1, not exp - 1: keeps the relative accuracy of small negative x; min(x, 0) never overflows.
        out = xp.where(x > 0, x, alpha * xp.expm1(xp.minimum(x, 0)))
        ctx.save_for_backward(x)
        ctx.alpha = alpha
        return out

    @staticmethod
    def backward(ctx, grad):
        (x,) = ctx.saved_tensors
        xp = ctx.xp
        # PyTorch's rule (its CUDA kernel and scalar CPU loop): the exp branch where x <= 0, so a NaN x passes
        # the gradient (its vectorised CPU loop tests x > 0 instead and gives NaN: torch disagrees with itself).
        return xp.where(x <= 0, grad * (ctx.alpha * xp.exp(xp.minimum(x, 0))), grad), None


class Softplus(Function):
    @staticmethod
    def forward(ctx, x, beta, threshold):
        xp = ctx.xp
        z = x * beta
        # log(1 + e^z) = max(z, 0) + log1p(e^-|z|): never overflows and keeps tiny values for z << 0.
        soft = (xp.maximum(z, 0) + xp.log1p(xp.exp(-xp.abs(z)))) / beta
        ctx.save_for_backward(z)
        ctx.threshold = threshold
        return xp.where(z > threshold, x, soft)

    @staticmethod
    def backward(ctx, grad):
        (z,) = ctx.saved_tensors
        xp = ctx.xp
        return xp.where(z > ctx.threshold, grad, grad * stable_sigmoid(xp, z)), None, None


class Hardtanh(Function):
    @staticmethod
    def forward(ctx, x, lo, hi):
        xp = ctx.xp
        ctx.save_for_backward(x)
        ctx.lo, ctx.hi = lo, hi
        return xp.minimum(xp.maximum(x, xp.asarray(lo, dtype=x.dtype)), xp.asarray(hi, dtype=x.dtype))

    @staticmethod
    def backward(ctx, grad):
        # PyTorch's rule: no gradient *at* the limits either (clamp passes it there).
        (x,) = ctx.saved_tensors
        xp = ctx.xp
        return xp.where((x <= ctx.lo) | (x >= ctx.hi), xp.zeros_like(grad), grad), None, None


class Prelu(Function):
    """``x if x > 0 else w * x``; ``w`` broadcasts against ``x`` (one value, or one per channel shaped
    ``[C, 1, ...]``), and the engine sums its gradient back to ``w``'s shape."""

    @staticmethod
    def forward(ctx, x, w):
        ctx.save_for_backward(x, w)
        return ctx.xp.where(x > 0, x, w * x)

    @staticmethod
    def backward(ctx, grad):
        # PyTorch's rule, selects rather than masks: x > 0 ? g : w * g for x, and x > 0 ? 0 : x * g for w, so
        # a NaN x gives w * g (and a NaN weight gradient) and an inf g adds nothing to w where x > 0.
        x, w = ctx.saved_tensors
        xp = ctx.xp
        positive = x > 0
        need_x, need_w = ctx.needs_input_grad
        dx = xp.where(positive, grad, w * grad) if need_x else None
        dw = xp.where(positive, xp.zeros_like(grad), x * grad) if need_w else None
        return dx, dw


def _relu6_of_x_plus_3(xp, x):
    """``min(max(x + 3, 0), 6)`` in x's dtype: the clamp Hardsigmoid and Hardswish share."""
    return xp.minimum(xp.maximum(x + 3, xp.asarray(0, dtype=x.dtype)), xp.asarray(6, dtype=x.dtype))


class Hardsigmoid(Function):
    """``min(max(x + 3, 0), 6) / 6``."""

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return _relu6_of_x_plus_3(ctx.xp, x) / 6

    @staticmethod
    def backward(ctx, grad):
        # PyTorch's rule: g/6 on the open interval (-3, 3), else 0 -- a NaN x included, and whatever g holds.
        (x,) = ctx.saved_tensors
        xp = ctx.xp
        return (xp.where((x > -3) & (x < 3), grad * (1 / 6), xp.zeros_like(grad)),)


class Hardswish(Function):
    """``x * min(max(x + 3, 0), 6) / 6``."""

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return x * _relu6_of_x_plus_3(ctx.xp, x) / 6

    @staticmethod
    def backward(ctx, grad):
        # PyTorch's rule (its scalar CPU loop and CUDA kernel): 0 for x <= -3 (0, not 0 * inf, at x = -inf),
        # g * (x/3 + 1/2) below 3, g from 3 up -- and g for a NaN x, which fails both tests (its vectorised
        # CPU loop gives NaN there). Older PyTorch sources tested x < -3, giving -g/2 at x == -3.
        (x,) = ctx.saved_tensors
        xp = ctx.xp
        ramp = xp.where(x < 3, grad * (x / 3 + 0.5), grad)
        return (xp.where(x <= -3, xp.zeros_like(grad), ramp),)


class Silu(Function):
    """``x * sigmoid(x)``."""

    @staticmethod
    def forward(ctx, x):
        s = stable_sigmoid(ctx.xp, x)
        ctx.save_for_backward(x, s)
        return x * s

    @staticmethod
    def backward(ctx, grad):
        # PyTorch's formula, in its order: one product, so a finite x under an inf g gives +-inf (the product
        # rule's two terms, g*s + g*x*s*(1-s), would give inf - inf = NaN for x < 0).
        x, s = ctx.saved_tensors
        return (grad * s * (1 + x * (1 - s)),)


class Mish(Function):
    """``x * tanh(softplus(x))``, softplus without a threshold (PyTorch's mish uses ``log1p(exp(x))``)."""

    @staticmethod
    def forward(ctx, x):
        xp = ctx.xp
        # log(1 + e^x) = max(x, 0) + log1p(e^-|x|): never overflows and keeps tiny values for x << 0.
        t = xp.tanh(xp.maximum(x, 0) + xp.log1p(xp.exp(-xp.abs(x))))
        ctx.save_for_backward(x, t)
        return x * t

    @staticmethod
    def backward(ctx, grad):
        # PyTorch's formula: one product, so a finite x under an inf g gives +-inf, not the product rule's NaN.
        x, t = ctx.saved_tensors
        return (grad * (t + x * stable_sigmoid(ctx.xp, x) * (1 - t * t)),)


class Softmax(Function):
    @staticmethod
    def forward(ctx, x, dim):
        xp = ctx.xp
        e = xp.exp(x - xp.max(x, axis=dim, keepdims=True))
        out = e / xp.sum(e, axis=dim, keepdims=True)
        ctx.save_for_backward(out)
        ctx.dim = dim
        return out

    @staticmethod
    def backward(ctx, grad):
        (out,) = ctx.saved_tensors
        return out * (grad - ctx.xp.sum(grad * out, axis=ctx.dim, keepdims=True)), None


class LogSoftmax(Function):
    @staticmethod
    def forward(ctx, x, dim):
        xp = ctx.xp
        shifted = x - xp.max(x, axis=dim, keepdims=True)
        out = shifted - xp.log(xp.sum(xp.exp(shifted), axis=dim, keepdims=True))
        ctx.save_for_backward(out)
        ctx.dim = dim
        return out

    @staticmethod
    def backward(ctx, grad):
        (out,) = ctx.saved_tensors
        xp = ctx.xp
        return grad - xp.exp(out) * xp.sum(grad, axis=ctx.dim, keepdims=True), None
