"""Elementwise differentiable ops: arithmetic, comparisons' building blocks, math functions, clamp, cast.

Forward and backward work on raw arrays through ``ctx.xp``; gradients may come back in the broadcast
shape (the engine un-broadcasts them).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from ..autograd import Function

# ------------------------------------------------------------------------------ elementwise binary


class Add(Function):
    @staticmethod
    def forward(ctx, a, b):
        return a + b

    @staticmethod
    def backward(ctx, grad):
        return grad, grad


class Sub(Function):
    @staticmethod
    def forward(ctx, a, b):
        return a - b

    @staticmethod
    def backward(ctx, grad):
        return grad, -grad


def _save_operands(ctx, a, b):
    """Save each operand only where the *other* one's gradient needs it (as PyTorch does), so an in-place
    write to an operand whose value backward never reads does not trip the version check."""
    need_a, need_b = ctx.needs_input_grad
    ctx.save_for_backward(a if need_b else None, b if need_a else None)


class Mul(Function):
    @staticmethod
    def forward(ctx, a, b):
        _save_operands(ctx, a, b)
        return a * b

    @staticmethod
    def backward(ctx, grad):
        a, b = ctx.saved_tensors
        need_a, need_b = ctx.needs_input_grad
        return (grad * b if need_a else None), (grad * a if need_b else None)


class Div(Function):
    @staticmethod
    def forward(ctx, a, b):
        need_a, need_b = ctx.needs_input_grad
        ctx.save_for_backward(a if need_b else None, b if need_a or need_b else None)
        return a / b

    @staticmethod
    def backward(ctx, grad):
        a, b = ctx.saved_tensors
        need_a, need_b = ctx.needs_input_grad
        ga = grad / b if need_a else None
        gb = -grad * a / (b * b) if need_b else None
        return ga, gb


class FloorDivide(Function):
    """``a // b``, rounding toward -inf (Python's and PyTorch's meaning). Not differentiable in PyTorch."""

    @staticmethod
    def forward(ctx, a, b):
        return a // b

    @staticmethod
    def backward(ctx, grad):
        raise RuntimeError("the derivative of floor_divide (//) is not implemented (as in PyTorch)")


class DivFloor(FloorDivide):
    """``div(a, b, rounding_mode='floor')``: the values of ``a // b``, but differentiable with a zero gradient
    (the step function's derivative almost everywhere), as PyTorch's div is."""

    @staticmethod
    def backward(ctx, grad):
        zero = ctx.xp.zeros_like(grad)
        return zero, zero


class Remainder(Function):
    """``a % b`` with the sign of ``b`` (Python's and PyTorch's meaning)."""

    @staticmethod
    def forward(ctx, a, b):
        ctx.save_for_backward(a, b)
        return a % b

    @staticmethod
    def backward(ctx, grad):
        # a % b = a - b * floor(a / b): d/da = 1, d/db = -floor(a / b).
        a, b = ctx.saved_tensors
        need_a, need_b = ctx.needs_input_grad
        return (grad if need_a else None), (-grad * (a // b) if need_b else None)


class Pow(Function):
    """``a ** b`` for a Tensor base and/or exponent."""

    @staticmethod
    def forward(ctx, a, b):
        out = a**b
        ctx.save_for_backward(a, b, out)
        return out

    @staticmethod
    def backward(ctx, grad):
        a, b, out = ctx.saved_tensors
        need_a, need_b = ctx.needs_input_grad
        ga = grad * b * a ** (b - 1) if need_a else None
        gb = None
        if need_b:
            log_a = math.log(a) if isinstance(a, int | float) else ctx.xp.log(a)  # a Python base in 2.0 ** t
            gb = grad * out * log_a
        return ga, gb


def _winner_grads(xp, grad, a_loses, b_loses, tie):
    """torch.maximum's and torch.minimum's gradients: the loser gets 0 whatever ``grad`` holds (a select, not
    ``grad * 0``, which is NaN for an inf grad), a tie sends half to each side, and where either is NaN
    (neither loses nor ties) both get ``grad``."""
    zero = xp.zeros_like(grad)
    shared = xp.where(tie, grad * 0.5, grad)
    return xp.where(a_loses, zero, shared), xp.where(b_loses, zero, shared)


class Maximum(Function):
    @staticmethod
    def forward(ctx, a, b):
        out = ctx.xp.maximum(a, b)
        ctx.save_for_backward(a, b)
        return out

    @staticmethod
    def backward(ctx, grad):
        a, b = ctx.saved_tensors
        return _winner_grads(ctx.xp, grad, a < b, a > b, a == b)


class Minimum(Function):
    @staticmethod
    def forward(ctx, a, b):
        ctx.save_for_backward(a, b)
        return ctx.xp.minimum(a, b)

    @staticmethod
    def backward(ctx, grad):
        a, b = ctx.saved_tensors
        return _winner_grads(ctx.xp, grad, a > b, a < b, a == b)


class Where(Function):
    @staticmethod
    def forward(ctx, cond, a, b):
        ctx.cond = cond
        return ctx.xp.where(cond, a, b)

    @staticmethod
    def backward(ctx, grad):
        zero = ctx.xp.zeros_like(grad)
        return None, ctx.xp.where(ctx.cond, grad, zero), ctx.xp.where(ctx.cond, zero, grad)


# ------------------------------------------------------------------------------- elementwise unary


class Neg(Function):
    @staticmethod
    def forward(ctx, a):
        return -a

    @staticmethod
    def backward(ctx, grad):
        return (-grad,)


class Exp(Function):
    @staticmethod
    def forward(ctx, a):
        out = ctx.xp.exp(a)
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx, grad):
        (out,) = ctx.saved_tensors
        return (grad * out,)


class Log(Function):
    @staticmethod
    def forward(ctx, a):
        ctx.save_for_backward(a)
        return ctx.xp.log(a)

    @staticmethod
    def backward(ctx, grad):
        (a,) = ctx.saved_tensors
        return (grad / a,)


class Sqrt(Function):
    @staticmethod
    def forward(ctx, a):
        out = ctx.xp.sqrt(a)
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx, grad):
        (out,) = ctx.saved_tensors
        return (grad / (2 * out),)


class Abs(Function):
    @staticmethod
    def forward(ctx, a):
        ctx.save_for_backward(a)
        return ctx.xp.abs(a)

    @staticmethod
    def backward(ctx, grad):
        (a,) = ctx.saved_tensors
        return (grad * ctx.xp.astype(ctx.xp.sign(a), grad.dtype),)

def erfc(xp: Any, x: Any) -> Any:
    """``erfc`` of a float raw array from the array library's own special functions: torch's (the triton
    device), CuPy's ``cupyx.scipy.special`` (cupy) or SciPy's (numpy: the cpu device and the CUDA emulator).

    erfc rather than erf, so the small left tail of the normal CDF keeps its relative accuracy.
    float16/bfloat16 are computed in float32 and rounded back.
    """
    native = getattr(xp, "erfc", None)
    if native is not None:
        return native(x)
    work = x if x.dtype in (xp.float32, xp.float64) else xp.astype(x, xp.float32)
    if isinstance(work, np.ndarray | np.generic):  # numpy turns 0-d results into scalars (np.float32)
        from scipy.special import erfc as special_erfc
    else:
        from cupyx.scipy.special import erfc as special_erfc
    out = special_erfc(work)
    return out if out.dtype == x.dtype else xp.astype(out, x.dtype)


class Clamp(Function):
    @staticmethod
    def forward(ctx, a, lo, hi):
        xp = ctx.xp
        out = a
        if lo is not None:
            out = xp.maximum(out, xp.asarray(lo, dtype=a.dtype))
        if hi is not None:
            out = xp.minimum(out, xp.asarray(hi, dtype=a.dtype))
        ctx.save_for_backward(a)
        ctx.lo, ctx.hi = lo, hi
        return out

    @staticmethod
    def backward(ctx, grad):
        (a,) = ctx.saved_tensors
        inside = ctx.xp.ones_like(a, dtype=ctx.xp.bool)
        if ctx.lo is not None:
            inside = inside & (a >= ctx.lo)
        if ctx.hi is not None:
            inside = inside & (a <= ctx.hi)
        return ctx.xp.where(inside, grad, ctx.xp.zeros_like(grad)), None, None


class Cast(Function):
    @staticmethod
    def forward(ctx, a, dtype):
        ctx.src = a.dtype
        return ctx.xp.astype(a, dtype)

    @staticmethod
    def backward(ctx, grad):
        return ctx.xp.astype(grad, ctx.src), None


class Sin(Function):
    @staticmethod
    def forward(ctx, a):
        ctx.save_for_backward(a)
        return ctx.xp.sin(a)

    @staticmethod
    def backward(ctx, grad):
        (a,) = ctx.saved_tensors
        return (grad * ctx.xp.cos(a),)


class Erf(Function):
    """erf(a) = 1 - erfc(a); d/da = 2/sqrt(pi) exp(-a^2)."""

    @staticmethod
    def forward(ctx, a):
        ctx.save_for_backward(a)
        return 1 - erfc(ctx.xp, a)

    @staticmethod
    def backward(ctx, grad):
        (a,) = ctx.saved_tensors
        return (grad * (2 / math.sqrt(math.pi)) * ctx.xp.exp(-a * a),)


class Atan2(Function):
    """atan2(a, b), the angle of (b, a); d/da = b / (a^2 + b^2), d/db = -a / (a^2 + b^2)."""

    @staticmethod
    def forward(ctx, a, b):
        ctx.save_for_backward(a, b)
        return ctx.xp.atan2(a, b)

    @staticmethod
    def backward(ctx, grad):
        a, b = ctx.saved_tensors
        scale = grad / (a * a + b * b)
        return scale * b, -scale * a


class Cos(Function):
    @staticmethod
    def forward(ctx, a):
        ctx.save_for_backward(a)
        return ctx.xp.cos(a)

    @staticmethod
    def backward(ctx, grad):
        (a,) = ctx.saved_tensors
        return (-grad * ctx.xp.sin(a),)


class Log1p(Function):
    """``log(1 + a)``, accurate for tiny ``a`` (where ``log(1 + a)`` rounds ``1 + a`` to 1)."""

    @staticmethod
    def forward(ctx, a):
        ctx.save_for_backward(a)
        return ctx.xp.log1p(a)

    @staticmethod
    def backward(ctx, grad):
        (a,) = ctx.saved_tensors
        return (grad / (1 + a),)


class Expm1(Function):
    """``exp(a) - 1``, accurate for tiny ``a``."""

    @staticmethod
    def forward(ctx, a):
        out = ctx.xp.expm1(a)
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx, grad):
        (out,) = ctx.saved_tensors
        return (grad * (out + 1),)


class StepLike(Function):
    """``sign``/``floor``/``ceil``/``round``/``trunc``: piecewise constant, so the gradient is zero (as PyTorch)."""

    @staticmethod
    def forward(ctx, a, name):
        return getattr(ctx.xp, name)(a)

    @staticmethod
    def backward(ctx, grad):
        return ctx.xp.zeros_like(grad), None


class NanToNum(Function):
    """Replace NaN, +inf and -inf; the replaced elements get no gradient (as PyTorch)."""

    @staticmethod
    def forward(ctx, a, nan, posinf, neginf):
        xp = ctx.xp
        ctx.finite = xp.isfinite(a)
        out = xp.where(xp.isnan(a), xp.asarray(nan, dtype=a.dtype), a)
        out = xp.where(a == float("inf"), xp.asarray(posinf, dtype=a.dtype), out)
        return xp.where(a == float("-inf"), xp.asarray(neginf, dtype=a.dtype), out)

    @staticmethod
    def backward(ctx, grad):
        return ctx.xp.where(ctx.finite, grad, ctx.xp.zeros_like(grad)), None, None, None
