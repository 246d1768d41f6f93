"""``framework.nn.functional`` (import as ``F``): PyTorch's functional API on kernelgrad tensors.

The five kernel families are reached only here, through ``ctx.backend.kernels`` (the device's kernel
package, see :mod:`framework.backend`):

=====================  ==============================================================================
op                     kernels used (forward / backward)
=====================  ==============================================================================
conv2d                 conv2d_forward / conv2d_backward_input, conv2d_backward_weight (+ dy summed for db)
conv_transpose2d       conv2d_backward_input / conv2d_forward, conv2d_backward_weight
max_pool2d             maxpool2d_forward (compact argmax) / maxpool2d_backward
linear, linear_relu    linear_forward (bias+ReLU epilogue) / linear_backward (mask applied inside)
cross_entropy          softmax_cross_entropy_forward (loss and dlogits in one pass) / ..._backward
dropout                dropout_forward / dropout_backward (mask regenerated from (seed, offset))
=====================  ==============================================================================

What the kernel contract does not cover is built here from the kernels or from generic ops, so the
public API accepts what PyTorch's accepts: ``groups`` (one kernel call per group), ``dilation`` (the
weight is dilated with zeros, which is exactly a dilated convolution for finite inputs; an inf/NaN
input pixel also makes NaN the outputs whose dilated window skips over it, as 0 * inf = NaN, where
PyTorch's outputs there stay finite; likewise conv_transpose2d's weight gradient, whose cropped
``padding`` rows enter as zero gradients), ``padding='same'/'valid'``,
padding modes (``pad`` with reflect/replicate/circular as a gather), unbatched inputs, ``reduction``,
class weights and label smoothing (through ``log_softmax``). What is still unsupported raises a
``ValueError`` that says so, never a silently different answer.
"""

from __future__ import annotations

import math
import numbers
import warnings
from typing import Any

import numpy as np
from array_api_compat import device as _array_device

from kernels._args import value_checks_enabled

from .. import ops
from .. import random as _random
from ..autograd import Function, no_grad
from ..dtypes import result_type
from ..tensor import Tensor, cat, stack, type_name, where
from ..tensor import ones as _ones
from ..tensor import tensor as _tensor

__all__ = [
    "batch_norm", "binary_cross_entropy", "binary_cross_entropy_with_logits", "conv1d", "conv2d",
    "conv_transpose2d",
    "cross_entropy", "dropout", "embedding", "interpolate", "leaky_relu", "linear", "linear_relu", "log_softmax",
    "max_pool2d", "mse_loss", "nll_loss", "one_hot", "pad", "relu", "sigmoid", "softmax", "tanh",
    "elu", "gelu", "group_norm", "hardtanh", "huber_loss", "kl_div", "l1_loss", "layer_norm", "mish", "silu",
    "smooth_l1_loss", "softplus",
    "adaptive_avg_pool2d", "adaptive_max_pool2d", "avg_pool2d",
    "adaptive_avg_pool1d", "adaptive_max_pool1d", "avg_pool1d", "max_pool1d",
    "dropout1d", "dropout2d", "dropout3d", "normalize", "pixel_shuffle", "pixel_unshuffle",
]

_REDUCTIONS = ("mean", "sum", "none")


# --------------------------------------------------------------------------------- arg helpers


def _pair(value: Any, name: str, minimum: int = 0) -> tuple[int, int]:
    if isinstance(value, int | np.integer) and not isinstance(value, bool):
        pair = (int(value), int(value))
    elif isinstance(value, tuple | list) and len(value) == 2 and all(isinstance(v, int | np.integer) for v in value):
        pair = (int(value[0]), int(value[1]))
    else:
        raise TypeError(f"{name} must be an int or a pair of ints, got {value!r}")
    if min(pair) < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value!r}")
    return pair


def _contiguous(ctx, *arrays: Any) -> tuple:
    """The kernel contract takes C-contiguous arrays; views from slicing or permuting are copied here."""
    return tuple(None if a is None else ctx.backend.ascontiguous(a) for a in arrays)


def _check_tensor(value: Any, name: str, ndims: tuple[int, ...] | None = None) -> None:
    if not isinstance(value, Tensor):
        raise TypeError(f"{name} must be a Tensor, got {type_name(value)}")
    if ndims is not None and value.ndim not in ndims:
        raise ValueError(f"{name} must be {' or '.join(map(str, ndims))}-D, got shape {value.shape}")


def _check_float(value: Tensor, name: str) -> None:
    if not value.dtype.is_floating_point:
        raise TypeError(f"{name} must be a floating-point tensor, got dtype {value.dtype}")


def _reduce(loss: Tensor, reduction: str) -> Tensor:
    if reduction == "mean":
        return loss.mean()
    if reduction == "sum":
        return loss.sum()
    if reduction == "none":
        return loss
    raise ValueError(f"reduction must be one of {_REDUCTIONS}, got {reduction!r}")


def _batched(input: Tensor, name: str, batched_ndim: int) -> tuple[Tensor, bool]:
    """Accept an unbatched input (one dim fewer) the way PyTorch does: add, then remove, a batch dim."""
    _check_tensor(input, name, (batched_ndim - 1, batched_ndim))
    if input.ndim == batched_ndim - 1:
        return input.unsqueeze(0), True
    return input, False


# ---------------------------------------------------------------------------------- activations


def relu(input: Tensor, inplace: bool = False) -> Tensor:
    return ops.Relu.apply(input)


def leaky_relu(input: Tensor, negative_slope: float = 0.01, inplace: bool = False) -> Tensor:
    _check_float_input(input)  # PyTorch has no integer leaky_relu; numpy and torch would differ here
    return ops.LeakyRelu.apply(input, float(negative_slope))


def sigmoid(input: Tensor) -> Tensor:
    _check_tensor(input, "input")
    return input.sigmoid()  # integer input computes in float32, as in PyTorch


def tanh(input: Tensor) -> Tensor:
    _check_tensor(input, "input")
    return input.tanh()


def _check_float_input(input: Any) -> None:
    _check_tensor(input, "input")
    _check_float(input, "input")


_SQRT1_2 = math.sqrt(0.5)
_INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)


class _Gelu(Function):
    """Exact GELU ``x * Phi(x)`` with ``Phi(x) = erfc(-x / sqrt 2) / 2``: erfc keeps its relative accuracy in
    the left tail, where ``(1 + erf(x / sqrt 2)) / 2`` would cancel."""

    @staticmethod
    def forward(ctx, x):
        xp = ctx.xp
        work = x if x.dtype in (xp.float32, xp.float64) else xp.astype(x, xp.float32)  # halves in float32
        cdf = 0.5 * ops.erfc(xp, work * -_SQRT1_2)
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


def gelu(input: Tensor, approximate: str = "none") -> Tensor:
    """GELU, PyTorch's ``F.gelu``: ``x * Phi(x)`` with the exact normal CDF (``approximate='none'``), or
    ``0.5 * x * (1 + tanh(sqrt(2/pi) * (x + 0.044715 x^3)))`` (``approximate='tanh'``).

    The exact form uses the device library's erfc (torch, SciPy or CuPy; see :func:`framework.ops.erfc`).
    Raises ValueError for another ``approximate``.
    """
    _check_float_input(input)
    if approximate == "none":
        return _Gelu.apply(input)
    if approximate == "tanh":
        inner = (input + input * input * input * 0.044715) * math.sqrt(2.0 / math.pi)
        # (1 + tanh(u)) / 2 == sigmoid(2u), which does not cancel to 0 in the left tail.
        return input * ops.Sigmoid.apply(inner * 2.0)
    raise ValueError(f"gelu(): approximate must be 'none' or 'tanh', got {approximate!r}")


class _Elu(Function):
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
        return xp.where(x > 0, grad, grad * (ctx.alpha * xp.exp(xp.minimum(x, 0)))), None


def elu(input: Tensor, alpha: float = 1.0, inplace: bool = False) -> Tensor:
    """ELU, PyTorch's ``F.elu``: ``x`` for ``x > 0``, else ``alpha * (exp(x) - 1)``.

    ``inplace=True`` is accepted and returns a new tensor (same values; tensors are never modified in place).
    """
    _check_float_input(input)
    return _Elu.apply(input, float(alpha))


def silu(input: Tensor, inplace: bool = False) -> Tensor:
    """SiLU (swish), PyTorch's ``F.silu``: ``x * sigmoid(x)``; ``inplace=True`` returns a new tensor."""
    _check_float_input(input)
    return input * ops.Sigmoid.apply(input)


class _Softplus(Function):
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
        return xp.where(z > ctx.threshold, grad, grad * ops.stable_sigmoid(xp, z)), None, None


def softplus(input: Tensor, beta: float = 1.0, threshold: float = 20.0) -> Tensor:
    """Softplus, PyTorch's ``F.softplus``: ``log(1 + exp(beta * x)) / beta``, and ``x`` where
    ``beta * x > threshold``."""
    _check_float_input(input)
    return _Softplus.apply(input, float(beta), float(threshold))


class _Hardtanh(Function):
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


def hardtanh(input: Tensor, min_val: float = -1.0, max_val: float = 1.0, inplace: bool = False) -> Tensor:
    """HardTanh, PyTorch's ``F.hardtanh``: ``x`` clamped to ``[min_val, max_val]``, gradient 0 outside the
    open interval. ``inplace=True`` returns a new tensor. Raises ValueError if ``min_val > max_val``."""
    _check_float_input(input)
    if min_val > max_val:
        raise ValueError(f"hardtanh(): min_val ({min_val}) cannot be greater than max_val ({max_val})")
    return _Hardtanh.apply(input, float(min_val), float(max_val))


def mish(input: Tensor, inplace: bool = False) -> Tensor:
    """Mish, PyTorch's ``F.mish``: ``x * tanh(softplus(x))``; ``inplace=True`` returns a new tensor."""
    _check_float_input(input)
    # No threshold: PyTorch's mish uses log1p(exp(x)) everywhere.
    return input * _Softplus.apply(input, 1.0, math.inf).tanh()


class _Softmax(Function):
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


class _LogSoftmax(Function):
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


def _softmax_dim(input: Tensor, dim: int | None, name: str) -> int:
    if dim is None:
        # PyTorch's legacy implicit choice, kept so ported code gives the same answer.
        dim = 0 if input.ndim in (0, 1, 3) else 1
    return ops.normalize_dim(dim, input.ndim)


def softmax(input: Tensor, dim: int | None = None, dtype: Any = None) -> Tensor:
    _check_tensor(input, "input")
    if dtype is not None:
        input = input.to(dtype=dtype)
    _check_float(input, "softmax(): input")
    dim = _softmax_dim(input, dim, "softmax")
    if input.numel() == 0:
        return input * 1.0  # nothing to normalise (PyTorch returns the empty tensor); no max of nothing
    return _Softmax.apply(input, dim)


def log_softmax(input: Tensor, dim: int | None = None, dtype: Any = None) -> Tensor:
    _check_tensor(input, "input")
    if dtype is not None:
        input = input.to(dtype=dtype)
    _check_float(input, "log_softmax(): input")
    dim = _softmax_dim(input, dim, "log_softmax")
    if input.numel() == 0:
        return input * 1.0
    return _LogSoftmax.apply(input, dim)


# --------------------------------------------------------------------------------------- conv2d


def _zeros(ctx, shape: tuple[int, ...], like: Any) -> Any:
    """Zeros of ``shape`` with ``like``'s dtype, on ``like``'s device (a bare ``xp.zeros`` lands on the host)."""
    return ctx.xp.zeros(shape, dtype=like.dtype, device=_array_device(like))


def _conv_output_hw(x_shape, w_shape, stride, padding) -> tuple[int, int]:
    return tuple((n + 2 * p - k) // s + 1 for n, k, s, p in zip(x_shape[2:], w_shape[2:], stride, padding))


class _Conv2d(Function):
    # An empty batch (N = 0) launches no kernel (a zero-size grid is a launch error on a GPU, and the kernel
    # contract takes N >= 1): y is [0, K, P, Q], dx empty, dw and db zero -- PyTorch's answer.
    @staticmethod
    def forward(ctx, x, w, b, stride, padding):
        kern = ctx.backend.kernels.conv2d
        x, w, b = _contiguous(ctx, x, w, b)  # group slices and permuted views are not C-contiguous
        ctx.save_for_backward(x, w)
        ctx.stride, ctx.padding = stride, padding
        if x.shape[0] == 0:
            return _zeros(ctx, (0, w.shape[0]) + _conv_output_hw(x.shape, w.shape, stride, padding), x)
        return kern.conv2d_forward(x, w, b, stride, padding)

    @staticmethod
    def backward(ctx, dy):
        kern = ctx.backend.kernels.conv2d
        x, w = ctx.saved_tensors
        dy = ctx.backend.ascontiguous(dy)
        need_x, need_w, need_b = ctx.needs_input_grad[:3]
        db = ctx.xp.sum(dy, axis=(0, 2, 3)) if need_b else None
        if x.shape[0] == 0:
            return (_zeros(ctx, x.shape, x) if need_x else None), (_zeros(ctx, w.shape, w) if need_w else None), \
                db, None, None
        dx = kern.conv2d_backward_input(dy, w, tuple(x.shape), ctx.stride, ctx.padding) if need_x else None
        dw = kern.conv2d_backward_weight(dy, x, tuple(w.shape), ctx.stride, ctx.padding) if need_w else None
        return dx, dw, db, None, None


class _ConvTranspose2d(Function):
    """Transposed convolution = the adjoint of conv2d: its forward is conv2d's backward-input."""

    @staticmethod
    def forward(ctx, x, w, b, stride, padding, output_shape):
        kern = ctx.backend.kernels.conv2d
        x, w, b = _contiguous(ctx, x, w, b)
        ctx.save_for_backward(x, w)
        ctx.stride, ctx.padding = stride, padding
        if x.shape[0] == 0:  # an empty batch launches nothing, as in _Conv2d
            return _zeros(ctx, output_shape, x)
        y = kern.conv2d_backward_input(x, w, output_shape, stride, padding)
        if b is not None:
            y = y + ctx.xp.reshape(b, (1, -1, 1, 1))
        return y

    @staticmethod
    def backward(ctx, dy):
        kern = ctx.backend.kernels.conv2d
        x, w = ctx.saved_tensors
        dy = ctx.backend.ascontiguous(dy)
        need_x, need_w, need_b = ctx.needs_input_grad[:3]
        db = ctx.xp.sum(dy, axis=(0, 2, 3)) if need_b else None
        if x.shape[0] == 0:
            return (_zeros(ctx, x.shape, x) if need_x else None), (_zeros(ctx, w.shape, w) if need_w else None), \
                db, None, None, None
        dx = kern.conv2d_forward(dy, w, None, ctx.stride, ctx.padding) if need_x else None
        dw = kern.conv2d_backward_weight(x, dy, tuple(w.shape), ctx.stride, ctx.padding) if need_w else None
        return dx, dw, db, None, None, None


class _DilateWeight(Function):
    """Insert (d-1) zeros between kernel taps: a dilated conv is a plain conv with this weight."""

    @staticmethod
    def forward(ctx, w, dilation):
        dh, dw = dilation
        K, C, R, S = w.shape
        out = _zeros(ctx, (K, C, (R - 1) * dh + 1, (S - 1) * dw + 1), w)
        out[:, :, ::dh, ::dw] = w
        ctx.dilation = dilation
        return out

    @staticmethod
    def backward(ctx, grad):
        dh, dw = ctx.dilation
        return ctx.backend.ascontiguous(grad[:, :, ::dh, ::dw]), None


def _prepare_conv(input: Tensor, weight: Tensor, bias: Tensor | None, groups: Any, name: str):
    """The checks conv2d and conv_transpose2d share; returns ``(input [N, C, H, W], unbatched, groups)``.

    Only the batch may be empty (PyTorch's rule too, except that PyTorch returns a 0-channel output for
    ``C = 0``, which is refused here rather than copied)."""
    _check_tensor(weight, "weight", (4,))
    input, unbatched = _batched(input, "input", 4)
    _check_float(input, "input")
    if bias is not None:
        _check_tensor(bias, "bias", (1,))
    if input.dtype != weight.dtype:
        raise TypeError(f"{name}(): input dtype {input.dtype} and weight dtype {weight.dtype} differ")
    if isinstance(groups, bool) or not isinstance(groups, int | np.integer):
        raise TypeError(f"{name}(): groups must be an int, got {groups!r}")
    if groups < 1:
        raise ValueError(f"{name}(): groups must be a positive int, got {groups!r}")
    if min(input.shape[1:]) == 0:
        raise ValueError(f"{name}(): input must have non-empty channel and spatial dims (only the batch may be "
                         f"empty), got shape {input.shape}")
    if min(weight.shape) == 0:
        raise ValueError(f"{name}(): weight must have no empty dim, got shape {weight.shape}")
    return input, unbatched, int(groups)


def _same_padding(weight_hw: tuple[int, int], dilation: tuple[int, int]) -> tuple[int, int, int, int]:
    """(left, right, top, bottom) so the output has the input's size at stride 1 (extra on the right)."""
    total = [d * (k - 1) for k, d in zip(weight_hw, dilation)]
    top, left = total[0] // 2, total[1] // 2
    return left, total[1] - left, top, total[0] - top


def conv2d(input: Tensor, weight: Tensor, bias: Tensor | None = None, stride: Any = 1, padding: Any = 0,
           dilation: Any = 1, groups: int = 1) -> Tensor:
    """2-D cross-correlation, PyTorch's ``F.conv2d``.

    Args:
        input: [N, C, H, W] or unbatched [C, H, W]; N may be 0 (an empty output, zero dw/db), no other dim.
        weight: [K, C/groups, R, S], no empty dim. bias: [K] or None.
        stride, dilation: int or (h, w) pair, >= 1. padding: int, (h, w) pair, ``'valid'`` or ``'same'``.
        groups: positive int dividing both C and K.
    Returns: [N, K, P, Q] (or [K, P, Q] for unbatched input).
    Raises: TypeError/ValueError naming the argument on bad shapes, dtypes or values.
    """
    input, unbatched, groups = _prepare_conv(input, weight, bias, groups, "conv2d")
    stride = _pair(stride, "stride", 1)
    dilation = _pair(dilation, "dilation", 1)
    N, C, H, W = input.shape
    K, Cg, R, S = weight.shape
    if C % groups or K % groups or Cg * groups != C:
        raise ValueError(f"conv2d(): input has {C} channels and weight has shape {weight.shape} with "
                         f"groups={groups}; expected weight.shape[1] * groups == C and K divisible by groups")
    if bias is not None and bias.shape != (K,):
        raise ValueError(f"conv2d(): bias must have shape ({K},) for weight {weight.shape}, got {bias.shape}")
    if isinstance(padding, str):
        if padding == "valid":
            padding = (0, 0)
        elif padding == "same":
            if stride != (1, 1):
                raise ValueError("conv2d(): padding='same' is not supported for strided convolutions "
                                 f"(stride={stride}), as in PyTorch")
            left, right, top, bottom = _same_padding((R, S), dilation)
            if (left, top) != (right, bottom):
                input = pad(input, (left, right, top, bottom))
                padding = (0, 0)
            else:
                padding = (top, left)
        else:
            raise ValueError(f"padding must be an int, a pair, 'valid' or 'same', got {padding!r}")
    padding = _pair(padding, "padding", 0)
    if dilation != (1, 1):
        weight = _DilateWeight.apply(weight, dilation)
        R, S = weight.shape[2:]
    Hp, Wp = input.shape[2] + 2 * padding[0], input.shape[3] + 2 * padding[1]
    if R > Hp or S > Wp:
        raise ValueError(f"conv2d(): kernel size ({R}, {S}) (dilated) is larger than the padded input "
                         f"({Hp}, {Wp}) for input shape {input.shape} and padding {padding}")
    if groups == 1:
        out = _Conv2d.apply(input, weight, bias, stride, padding)
    else:
        Kg = K // groups
        parts = [
            _Conv2d.apply(input[:, g * Cg:(g + 1) * Cg], weight[g * Kg:(g + 1) * Kg],
                          None if bias is None else bias[g * Kg:(g + 1) * Kg], stride, padding)
            for g in range(groups)
        ]
        out = cat(parts, dim=1)
    return out.squeeze(0) if unbatched else out


def _single(value: Any, name: str, minimum: int, owner: str) -> int:
    """An int or a 1-tuple of ints, >= ``minimum``, as an int (conv1d's stride/padding/dilation)."""
    if isinstance(value, tuple | list) and len(value) == 1:
        value = value[0]
    if not isinstance(value, int | np.integer) or isinstance(value, bool):
        raise TypeError(f"{owner}: {name} must be an int or a 1-tuple of ints, got {value!r}")
    if value < minimum:
        raise ValueError(f"{owner}: {name} must be >= {minimum}, got {value!r}")
    return int(value)


def conv1d(input: Tensor, weight: Tensor, bias: Tensor | None = None, stride: Any = 1, padding: Any = 0,
           dilation: Any = 1, groups: int = 1) -> Tensor:
    """1-D cross-correlation, PyTorch's ``F.conv1d``: :func:`conv2d` on a height-1 image, so every
    device's conv2d kernels do the work.

    Args:
        input: [N, C, L] or unbatched [C, L].
        weight: [K, C/groups, k]. bias: [K] or None.
        stride, dilation: int (or 1-tuple) >= 1. padding: int (or 1-tuple) >= 0, ``'valid'`` or ``'same'``
            (stride 1 only; the odd extra zero goes on the right, as in PyTorch).
        groups: positive int dividing both C and K.
    Returns: [N, K, (L + 2*padding - dilation*(k-1) - 1) // stride + 1] (or [K, L_out] unbatched).
    Raises: TypeError/ValueError naming the argument on bad shapes, dtypes or values.
    """
    owner = "conv1d()"
    _check_tensor(input, "input", (2, 3))
    _check_tensor(weight, "weight", (3,))
    _check_float(input, "input")
    if bias is not None:
        _check_tensor(bias, "bias", (1,))
    if input.dtype != weight.dtype:
        raise TypeError(f"conv1d(): input dtype {input.dtype} and weight dtype {weight.dtype} differ")
    stride = _single(stride, "stride", 1, owner)
    dilation = _single(dilation, "dilation", 1, owner)
    if not isinstance(groups, int | np.integer) or isinstance(groups, bool) or groups < 1:
        raise ValueError(f"conv1d(): groups must be a positive int, got {groups!r}")
    C, L = input.shape[-2:]
    K, Cg, k = weight.shape
    if Cg * groups != C or K % groups:
        raise ValueError(f"conv1d(): input has {C} channels and weight has shape {weight.shape} with "
                         f"groups={groups}; expected weight.shape[1] * groups == {C} and "
                         f"weight.shape[0] divisible by groups")
    if bias is not None and bias.shape != (K,):
        raise ValueError(f"conv1d(): bias must have shape ({K},) for weight {weight.shape}, got {bias.shape}")
    if isinstance(padding, str):
        if padding not in ("valid", "same"):
            raise ValueError(f"conv1d(): padding must be an int, a 1-tuple, 'valid' or 'same', got {padding!r}")
        if padding == "same" and stride != 1:
            raise ValueError(f"conv1d(): padding='same' is not supported for strided convolutions "
                             f"(stride={stride}), as in PyTorch")
        pad_2d: Any = padding
        total_pad = 0 if padding == "valid" else dilation * (k - 1)
    else:
        padding = _single(padding, "padding", 0, owner)
        pad_2d, total_pad = (0, padding), 2 * padding
    if dilation * (k - 1) + 1 > L + total_pad:
        raise ValueError(f"conv1d(): kernel size {k} (dilation {dilation}) is larger than the padded input "
                         f"length {L + total_pad} for input shape {input.shape}")
    out = conv2d(input.unsqueeze(-2), weight.unsqueeze(-2), bias, (1, stride), pad_2d, (1, dilation), int(groups))
    return out.squeeze(-2)


def conv_transpose2d(input: Tensor, weight: Tensor, bias: Tensor | None = None, stride: Any = 1,
                     padding: Any = 0, output_padding: Any = 0, groups: int = 1, dilation: Any = 1) -> Tensor:
    """Transposed 2-D convolution, PyTorch's ``F.conv_transpose2d``.

    Args:
        input: [N, Cin, H, W] (N may be 0) or unbatched. weight: [Cin, Cout/groups, R, S] (PyTorch's layout).
        output_padding: extra rows/cols on the bottom/right, smaller than stride (or dilation).
    Returns: [N, Cout, (H-1)*sh - 2*ph + dh*(R-1) + oph + 1, ...].
    """
    input, unbatched, groups = _prepare_conv(input, weight, bias, groups, "conv_transpose2d")
    stride = _pair(stride, "stride", 1)
    padding = _pair(padding, "padding", 0) if not isinstance(padding, str) else None
    if padding is None:
        raise ValueError("conv_transpose2d(): string padding is not supported (as in PyTorch)")
    output_padding = _pair(output_padding, "output_padding", 0)
    dilation = _pair(dilation, "dilation", 1)
    if any(op >= max(s, d) for op, s, d in zip(output_padding, stride, dilation)):
        raise ValueError(f"output_padding {output_padding} must be smaller than stride {stride} or dilation "
                         f"{dilation}")
    if any(op >= s for op, s in zip(output_padding, stride)):
        # PyTorch allows stride <= output_padding < dilation; those extra rows only get the bias.
        raise ValueError(f"conv_transpose2d(): output_padding {output_padding} >= stride {stride} is not "
                         "supported (only output_padding < stride)")
    N, Cin, H, W = input.shape
    if weight.shape[0] != Cin or Cin % groups:
        raise ValueError(f"conv_transpose2d(): input has {Cin} channels but weight has shape {weight.shape} "
                         f"(expected weight.shape[0] == {Cin}, divisible by groups={groups})")
    Cout_g = weight.shape[1]
    if bias is not None and bias.shape != (Cout_g * groups,):
        raise ValueError(f"conv_transpose2d(): bias must have shape ({Cout_g * groups},), got {bias.shape}")
    if dilation != (1, 1):
        weight = _DilateWeight.apply(weight, dilation)
    R, S = weight.shape[2:]
    Ho = (H - 1) * stride[0] - 2 * padding[0] + R + output_padding[0]
    Wo = (W - 1) * stride[1] - 2 * padding[1] + S + output_padding[1]
    if Ho <= 0 or Wo <= 0:
        raise ValueError(f"conv_transpose2d(): output size ({Ho}, {Wo}) is not positive for input "
                         f"{input.shape}, kernel ({R}, {S}), stride {stride}, padding {padding}")
    Cg = Cin // groups
    parts = []
    for g in range(groups):
        x_g = input if groups == 1 else input[:, g * Cg:(g + 1) * Cg]
        w_g = weight if groups == 1 else weight[g * Cg:(g + 1) * Cg]
        b_g = bias if groups == 1 or bias is None else bias[g * Cout_g:(g + 1) * Cout_g]
        parts.append(_ConvTranspose2d.apply(x_g, w_g, b_g, stride, padding, (N, Cout_g, Ho, Wo)))
    out = parts[0] if groups == 1 else cat(parts, dim=1)
    return out.squeeze(0) if unbatched else out


def pad(input: Tensor, pad: tuple[int, ...], mode: str = "constant", value: float = 0.0) -> Tensor:
    """PyTorch's ``F.pad`` for the last two dims: ``pad = (left, right[, top, bottom])``.

    ``mode`` is ``'constant'``, ``'reflect'``, ``'replicate'`` or ``'circular'``; the non-constant
    modes are an index gather, so their gradient accumulates into the source pixels.
    """
    _check_tensor(input, "input")
    if len(pad) not in (2, 4) or any(not isinstance(p, int) or p < 0 for p in pad):
        raise ValueError(f"pad must be 2 or 4 non-negative ints (left, right, top, bottom), got {pad!r}")
    amounts = list(pad) + [0] * (4 - len(pad))
    out = input
    for axis, (before, after) in ((-1, amounts[0:2]), (-2, amounts[2:4])):
        if before == 0 and after == 0:
            continue
        n = out.shape[axis]
        index = np.arange(-before, n + after)
        if mode == "constant":
            parts = []
            if before:
                parts.append(_full_like_slab(out, axis, before, value))
            parts.append(out)
            if after:
                parts.append(_full_like_slab(out, axis, after, value))
            out = cat(parts, dim=axis)
            continue
        if mode == "reflect":
            if before >= n or after >= n:
                raise ValueError(f"pad(): reflect padding {pad} must be smaller than the input size {n}")
            index = np.abs(index)
            index = np.where(index >= n, 2 * (n - 1) - index, index)
        elif mode == "replicate":
            index = np.clip(index, 0, n - 1)
        elif mode == "circular":
            if before > n or after > n:
                raise ValueError(f"pad(): circular padding {pad} must not exceed the input size {n}")
            index = index % n
        else:
            raise ValueError(f"mode must be 'constant', 'reflect', 'replicate' or 'circular', got {mode!r}")
        selector = (slice(None),) * (out.ndim + axis) + (_tensor(index, device=out.backend),)
        out = out[selector]
    return out


def _full_like_slab(t: Tensor, axis: int, size: int, value: float) -> Tensor:
    shape = list(t.shape)
    shape[axis] = size
    return Tensor(np.full(shape, value), dtype=t.dtype, device=t.backend)


# ------------------------------------------------------------------------------------ max_pool2d


class _MaxPool2d(Function):
    @staticmethod
    def forward(ctx, x, kernel, stride, padding, want_argmax):
        (x,) = _contiguous(ctx, x)
        if 0 in x.shape[:2]:  # an empty batch (or C = 0): no kernel launch (see _Conv2d), an empty y and argmax
            out_shape = tuple(x.shape[:2]) + _conv_output_hw(x.shape, (0, 0) + tuple(kernel), stride, padding)
            y, argmax = _zeros(ctx, out_shape, x), ctx.xp.zeros(out_shape, dtype=ctx.xp.int8, device=_array_device(x))
        else:
            y, argmax = ctx.backend.kernels.maxpool2d.maxpool2d_forward(x, kernel, stride, padding)
        if want_argmax is not None:  # a list that receives the argmax, for return_indices=True
            want_argmax.append(argmax)
        ctx.argmax, ctx.shape = argmax, tuple(x.shape)
        ctx.kernel, ctx.stride, ctx.padding = kernel, stride, padding
        return y

    @staticmethod
    def backward(ctx, dy):
        if 0 in ctx.shape[:2]:
            return _zeros(ctx, ctx.shape, dy), None, None, None, None
        dx = ctx.backend.kernels.maxpool2d.maxpool2d_backward(
            ctx.backend.ascontiguous(dy), ctx.argmax, ctx.shape, ctx.kernel, ctx.stride, ctx.padding)
        return dx, None, None, None, None


def max_pool2d(input: Tensor, kernel_size: Any, stride: Any = None, padding: Any = 0, dilation: Any = 1,
               ceil_mode: bool = False, return_indices: bool = False):
    """2-D max pooling, PyTorch's ``F.max_pool2d``.

    Args:
        input: ``[N, C, H, W]`` or unbatched ``[C, H, W]``, float; N may be 0 (an empty output).
        kernel_size, stride (default ``kernel_size``), padding, dilation: ints or pairs, as in PyTorch;
            padding (implicit -inf) at most half the effective kernel ``dilation * (kernel_size - 1) + 1``.
        ceil_mode: round the output size up (a last, partial window) as long as that window starts inside
            the input or the left/top padding — PyTorch's rule.
        return_indices: also return PyTorch's flat ``h * W + w`` input index of each maximum (the first in
            window order on ties; a NaN is the maximum, the last NaN of a window wins: PyTorch's rules).
    Returns: ``[N, C, P, Q]`` with ``P = floor_or_ceil((H + 2p - d(k - 1) - 1) / s) + 1`` (and the indices).
    Raises: ValueError naming the argument for a size < 1, too much padding, or an output smaller than 1.

    Dilation 1 runs the max-pool kernel (ceil mode pads the bottom/right with -inf so the kernel's floor
    rule sees the extra window); dilation > 1 is a composite of strided slices, one per kernel tap.
    """
    input, unbatched = _batched(input, "input", 4)
    _check_float(input, "max_pool2d(): input")  # the kernels pool floats only (PyTorch also pools integers)
    kernel, stride, padding, dilation, out_size = _pool_geometry(input, kernel_size, stride, padding, dilation,
                                                                 ceil_mode, "max_pool2d")
    H, W = input.shape[2:]
    if dilation == (1, 1):
        # The kernel sizes its output by the floor rule; for ceil mode, -inf rows/cols at the bottom/right
        # (fewer than a stride) make that floor the ceil size. They are never a window's maximum.
        extra = [max(0, (o - 1) * s + k - (n + 2 * p))
                 for o, s, k, n, p in zip(out_size, stride, kernel, (H, W), padding)]
        x = pad(input, (0, extra[1], 0, extra[0]), value=-math.inf) if any(extra) else input
        argmax: list | None = [] if return_indices else None
        out = _MaxPool2d.apply(x, kernel, stride, padding, argmax)
        indices = _flat_pool_indices(out, argmax[0], input.shape, kernel, stride, padding) \
            if return_indices else None
    else:
        out, indices = _dilated_max_pool2d(input, kernel, stride, padding, dilation, out_size)
    if unbatched:
        out = out.squeeze(0)
        indices = indices.squeeze(0) if indices is not None else None
    return (out, indices) if return_indices else out


def _pool_geometry(input: Tensor, kernel_size: Any, stride: Any, padding: Any, dilation: Any, ceil_mode: bool,
                   name: str) -> tuple[tuple[int, int], ...]:
    """The checked ``(kernel, stride, padding, dilation, out_size)`` pairs of a 2-D pooling of ``input
    [N, C, H, W]``: PyTorch's defaults (stride = kernel, also for ``stride=[]``), padding at most half the
    effective kernel, and an output of at least one window per axis."""
    kernel = _pair(kernel_size, "kernel_size", 1)
    no_stride = stride is None or (isinstance(stride, list | tuple) and not stride)  # torch allows stride=[]
    stride = kernel if no_stride else _pair(stride, "stride", 1)
    padding = _pair(padding, "padding", 0)
    dilation = _pair(dilation, "dilation", 1)
    dilated = dilation != (1, 1)
    effective = tuple(d * (k - 1) + 1 for k, d in zip(kernel, dilation))
    if any(p > e // 2 for p, e in zip(padding, effective)):
        raise ValueError(f"{name}(): padding {padding} must be at most half the kernel size {kernel}"
                         + (f" (effective size {effective} with dilation {dilation})" if dilated else ""))
    H, W = input.shape[2:]
    out_size = tuple(_pool_output_size(n, k, s, p, d, bool(ceil_mode))
                     for n, k, s, p, d in zip((H, W), kernel, stride, padding, dilation))
    if min(out_size) < 1:
        raise ValueError(f"{name}(): kernel_size {kernel}" + (f" (dilation {dilation})" if dilated else "")
                         + f" is larger than the padded input ({H + 2 * padding[0]}, {W + 2 * padding[1]}) "
                         f"for input shape {input.shape}: output size {out_size}")
    return kernel, stride, padding, dilation, out_size


def _pool_output_size(n: int, k: int, s: int, p: int, d: int, ceil_mode: bool) -> int:
    """PyTorch's ``pooling_output_shape``: a ceil-mode window must start inside the input or the left padding."""
    span = n + 2 * p - d * (k - 1) - 1
    out = (span + (s - 1 if ceil_mode else 0)) // s + 1
    if ceil_mode and (out - 1) * s >= n + p:
        out -= 1
    return out


def _dilated_max_pool2d(input: Tensor, kernel, stride, padding, dilation, out_size) -> tuple[Tensor, Tensor]:
    """Max pooling with dilation > 1 from generic ops: each of the ``R*S`` kernel taps is a strided slice of
    the -inf-padded input; PyTorch's winner over the taps (:func:`_pool_winner`) is selected with ``where``,
    so the gradient goes to that one input element."""
    (R, S), (sh, sw), (ph, pw), (dh, dw), (P, Q) = kernel, stride, padding, dilation, out_size
    H, W = input.shape[2:]
    bottom = max(0, (P - 1) * sh + dh * (R - 1) + 1 - (H + ph))
    right = max(0, (Q - 1) * sw + dw * (S - 1) + 1 - (W + pw))
    x = pad(input, (pw, right, ph, bottom), value=-math.inf)
    taps = [x[:, :, r * dh: r * dh + (P - 1) * sh + 1: sh, c * dw: c * dw + (Q - 1) * sw + 1: sw]
            for r in range(R) for c in range(S)]
    stacked = stack(taps, 0)  # [R*S, N, C, P, Q]
    xp = input.backend.xp
    first = _pool_winner(xp, stacked._data, 0)
    chosen = xp.reshape(xp.arange(R * S), (R * S, 1, 1, 1, 1)) == first[None]
    out = where(Tensor._wrap(chosen, input.backend), stacked, 0.0).sum(0)
    first = xp.astype(first, xp.int64)
    rows = xp.reshape(xp.arange(P, dtype=xp.int64), (P, 1)) * sh - ph + (first // S) * dh
    cols = xp.reshape(xp.arange(Q, dtype=xp.int64), (1, Q)) * sw - pw + (first % S) * dw
    return out, Tensor._wrap(rows * W + cols, input.backend)


def _pool_winner(xp: Any, taps: Any, axis: int, keepdims: bool = False) -> Any:
    """PyTorch's max-pool winner along ``axis`` (its loop takes ``v > best || isnan(v)``): the first maximum,
    except that a NaN is the maximum and the *last* NaN wins. ``argmax`` alone would pick the first NaN."""
    first = xp.argmax(taps, axis=axis, keepdims=keepdims)
    nan = xp.astype(xp.isnan(taps), xp.int32)
    last_nan = taps.shape[axis] - 1 - xp.argmax(xp.flip(nan, axis=axis), axis=axis, keepdims=keepdims)
    return xp.where(xp.any(nan != 0, axis=axis, keepdims=keepdims), last_nan, first)


def _flat_pool_indices(out: Tensor, argmax: Any, shape, kernel, stride, padding) -> Tensor:
    """PyTorch's indices (h * W + w in the unpadded input) from the compact in-window argmax."""
    xp = out.backend.xp
    argmax = xp.astype(argmax, xp.int64)
    P, Q = out.shape[2:]
    r, s = argmax // kernel[1], argmax % kernel[1]
    rows = xp.reshape(xp.arange(P, dtype=xp.int64), (P, 1)) * stride[0] - padding[0] + r
    cols = xp.reshape(xp.arange(Q, dtype=xp.int64), (1, Q)) * stride[1] - padding[1] + s
    return Tensor._wrap(rows * shape[3] + cols, out.backend)


# ------------------------------------------------------------------ avg_pool2d and adaptive pooling


def avg_pool2d(input: Tensor, kernel_size: Any, stride: Any = None, padding: Any = 0, ceil_mode: bool = False,
               count_include_pad: bool = True, divisor_override: int | None = None) -> Tensor:
    """2-D average pooling, PyTorch's ``F.avg_pool2d``.

    Args:
        input: ``[N, C, H, W]`` or unbatched ``[C, H, W]``, float.
        kernel_size, stride (default ``kernel_size``), padding: ints or pairs, as in PyTorch; padding (implicit
            zeros) at most half the kernel size.
        ceil_mode: round the output size up, PyTorch's rule (see :func:`max_pool2d`).
        count_include_pad: divide by the window size clipped to the padded input (True) or by the number of
            real input elements in the window (False).
        divisor_override: a non-zero int that replaces either divisor.
    Returns: ``[N, C, P, Q]`` with ``P = floor_or_ceil((H + 2p - k) / s) + 1``.
    Raises: TypeError for a non-float input or a non-int argument; ValueError naming the argument for a
        wrong rank, a size < 1, too much padding, a zero divisor_override or an output smaller than 1.
    """
    input, unbatched = _batched(input, "input", 4)
    _check_float(input, "input")
    kernel, stride, padding, _, out_size = _pool_geometry(input, kernel_size, stride, padding, 1, ceil_mode,
                                                          "avg_pool2d")
    if divisor_override is not None:
        if not isinstance(divisor_override, int | np.integer) or isinstance(divisor_override, bool):
            raise TypeError(f"avg_pool2d(): divisor_override must be an int or None, got {divisor_override!r}")
        if divisor_override == 0:
            raise ValueError("avg_pool2d(): divisor_override must not be zero")
    H, W = input.shape[2:]
    # Zeros add nothing to a window sum, so the padding (and, in ceil mode, the part of a last window past
    # the padded input) is plain zeros; what those positions count for is the divisor's business.
    extra = [max(0, (o - 1) * s + k - (n + p)) for o, s, k, n, p in zip(out_size, stride, kernel, (H, W), padding)]
    x = pad(input, (padding[1], extra[1], padding[0], extra[0])) if any(padding) or any(extra) else input
    # A window sum is separable: sum the kernel rows, then the kernel columns.
    for axis, o, s, k in ((2, out_size[0], stride[0], kernel[0]), (3, out_size[1], stride[1], kernel[1])):
        starts = np.arange(o) * s
        x = _bin_taps(x, axis, starts, starts + k)[0].sum(axis + 1)
    if divisor_override is not None:
        out = x / float(divisor_override)
    else:
        divisor = np.outer(*(_avg_pool_counts(n, k, s, p, o, bool(count_include_pad))
                             for n, k, s, p, o in zip((H, W), kernel, stride, padding, out_size)))
        out = x / Tensor(divisor, dtype=x.dtype, device=x.backend)
    return out.squeeze(0) if unbatched else out


def _avg_pool_counts(n: int, k: int, s: int, p: int, out: int, include_pad: bool) -> np.ndarray:
    """PyTorch's per-axis divisor: the window clipped to the padded input, or to the input itself. The output
    size rule keeps every window overlapping the input, so neither count is ever 0."""
    start = np.arange(out) * s - p
    end = np.minimum(start + k, n + p)
    if include_pad:
        return end - start
    return np.minimum(end, n) - np.maximum(start, 0)


def _bin_taps(x: Tensor, axis: int, starts: np.ndarray, ends: np.ndarray) -> tuple[Tensor, np.ndarray | None]:
    """The bins ``[starts[i], ends[i])`` of ``x`` along ``axis`` as a new dim ``axis + 1`` of ``K`` taps
    (``K`` = the longest bin), so ``[..., n, ...]`` becomes ``[..., len(starts), K, ...]``.

    Returns the taps and ``valid`` (``[len(starts), K]`` bool, None when every bin is ``K`` long). Tap ``k``
    of a shorter bin repeats the bin's last element: a repeat comes after the element it copies, so a
    first-maximum over the taps never needs the mask; a sum does. Equal, evenly spaced bins are strided
    slices (a reshape when they tile ``x``); other bins are a gather.
    """
    out, lens = len(starts), ends - starts
    K = int(lens.max())
    step = int(starts[1] - starts[0]) if out > 1 else 1
    first = int(starts[0])
    regular = step >= 1 and bool((lens == K).all()) and bool((starts == first + step * np.arange(out)).all())
    lead = (slice(None),) * axis
    if regular and step == K and first == 0 and out * K == x.shape[axis]:
        return x.reshape(x.shape[:axis] + (out, K) + x.shape[axis + 1:]), None
    if regular:
        taps = [x[lead + (slice(first + k, first + k + (out - 1) * step + 1, step),)] for k in range(K)]
        return stack(taps, axis + 1), None
    taps = [x[lead + (np.minimum(starts + k, ends - 1),)] for k in range(K)]
    return stack(taps, axis + 1), np.arange(K) < lens[:, None]


def _adaptive_bins(n: int, out: int) -> tuple[np.ndarray, np.ndarray]:
    """PyTorch's adaptive bins: ``[floor(i * n / out), ceil((i + 1) * n / out))``, in exact integers."""
    i = np.arange(out, dtype=np.int64)
    return (i * n) // out, -((-(i + 1) * n) // out)


def _adaptive_output_size(output_size: Any, name: str) -> tuple[int | None, int | None]:
    """``output_size`` as a validated pair; None entries (keep that input size) stay None."""
    def is_int(v: Any) -> bool:
        return isinstance(v, int | np.integer) and not isinstance(v, bool)

    if is_int(output_size):
        sizes = (int(output_size), int(output_size))
    elif isinstance(output_size, tuple | list) and all(v is None or is_int(v) for v in output_size):
        if len(output_size) != 2:
            raise ValueError(f"{name}: output_size must have 2 entries (H, W), got {output_size!r}")
        sizes = tuple(None if v is None else int(v) for v in output_size)
    else:
        raise TypeError(f"{name}: output_size must be an int or a pair of ints or None, got {output_size!r}")
    if any(v is not None and v < 1 for v in sizes):
        raise ValueError(f"{name}: output_size must be >= 1, got {output_size!r}")
    return sizes


def _adaptive_input(input: Tensor, output_size: Any, name: str) -> tuple[Tensor, bool, tuple[int, int]]:
    input, unbatched = _batched(input, "input", 4)
    _check_float(input, "input")
    H, W = input.shape[2:]
    if H == 0 or W == 0:
        raise ValueError(f"{name}(): input must have a non-empty H and W, got shape {input.shape}")
    sizes = _adaptive_output_size(output_size, f"{name}()")
    return input, unbatched, tuple(n if v is None else v for v, n in zip(sizes, (H, W)))


def adaptive_avg_pool2d(input: Tensor, output_size: Any) -> Tensor:
    """2-D adaptive average pooling, PyTorch's ``F.adaptive_avg_pool2d``.

    Args:
        input: ``[N, C, H, W]`` or unbatched ``[C, H, W]``, float, with ``H, W >= 1``.
        output_size: an int, or a pair ``(P, Q)`` whose None entries keep that input size; each >= 1. Output
            ``(i, j)`` is the mean of input rows ``[floor(iH/P), ceil((i+1)H/P))`` and the same for columns.
    Returns: ``[N, C, P, Q]`` (``[C, P, Q]`` for an unbatched input).
    Raises: TypeError for a non-float input or a malformed output_size; ValueError for a wrong rank, an
        output_size of the wrong length or < 1, or an empty H or W.
    """
    input, unbatched, (P, Q) = _adaptive_input(input, output_size, "adaptive_avg_pool2d")
    x, counts = input, []
    # The bin mean is separable: sum each bin's rows, then its columns, then divide by its area.
    for axis, o in ((2, P), (3, Q)):
        starts, ends = _adaptive_bins(x.shape[axis], o)
        taps, valid = _bin_taps(x, axis, starts, ends)
        if valid is not None:
            taps = where(valid.reshape(valid.shape + (1,) * (x.ndim - axis - 1)), taps, 0.0)
        x = taps.sum(axis + 1)
        counts.append(ends - starts)
    out = x / Tensor(np.outer(*counts), dtype=x.dtype, device=x.backend)
    return out.squeeze(0) if unbatched else out


def adaptive_max_pool2d(input: Tensor, output_size: Any, return_indices: bool = False):
    """2-D adaptive max pooling, PyTorch's ``F.adaptive_max_pool2d``.

    Args:
        input: ``[N, C, H, W]`` or unbatched ``[C, H, W]``, float, with ``H, W >= 1``.
        output_size: as in :func:`adaptive_avg_pool2d` (the same bins).
        return_indices: also return PyTorch's flat ``h * W + w`` input index of each maximum (the first in
            row-major order on ties, the last NaN of a bin holding NaNs, as PyTorch); the gradient goes to that
            element only.
    Returns: ``[N, C, P, Q]`` (and the int64 indices of the same shape); unbatched input drops ``N``.
    Raises: as :func:`adaptive_avg_pool2d`.
    """
    input, unbatched, (P, Q) = _adaptive_input(input, output_size, "adaptive_max_pool2d")
    H, W = input.shape[2:]
    backend = input.backend
    xp = backend.xp
    # Columns first, then rows: the first row holding the bin's maximum, and that row's first column
    # holding it, is the first maximum in row-major order (PyTorch's tie rule), so max is separable too;
    # so is the last NaN (the last row holding a NaN, that row's last NaN).
    row_max, cols, _ = _first_max_over_bins(input, 3, Q)
    out, rows, chosen = _first_max_over_bins(row_max, 2, P)
    if unbatched:
        out = out.squeeze(0)
    if not return_indices:
        return out
    # Each output's column is the one its chosen row picked.
    col_taps = _bin_taps(Tensor._wrap(cols, backend), 2, *_adaptive_bins(H, P))[0]._data
    cols = xp.sum(xp.where(chosen, col_taps, xp.zeros_like(col_taps)), axis=3)
    indices = Tensor._wrap(rows * W + cols, backend)
    return out, (indices.squeeze(0) if unbatched else indices)


def _first_max_over_bins(x: Tensor, axis: int, out: int) -> tuple[Tensor, Any, Any]:
    """Max over the adaptive bins along ``axis``: the values (the gradient goes to the first maximum of each
    bin only, through ``where``), the input index along ``axis`` of that maximum, and the one-hot choice
    over the bin's taps (``[..., out, K, ...]``, bool)."""
    backend = x.backend
    xp = backend.xp
    starts, ends = _adaptive_bins(x.shape[axis], out)
    taps, _ = _bin_taps(x, axis, starts, ends)
    K, trailing = taps.shape[axis + 1], (1,) * (x.ndim - axis - 1)
    first = _pool_winner(xp, taps._data, axis + 1, keepdims=True)
    chosen = xp.reshape(xp.arange(K), (K,) + trailing) == first
    values = where(Tensor._wrap(chosen, backend), taps, 0.0).sum(axis + 1)
    starts = xp.reshape(backend.from_numpy(starts, "int64"), (out,) + trailing)
    last = xp.reshape(backend.from_numpy(ends - 1, "int64"), (out,) + trailing)
    index = xp.minimum(starts + xp.squeeze(xp.astype(first, xp.int64), axis=axis + 1), last)
    return values, index, chosen


# ------------------------------------------------------------------------------------- 1-D pooling
# Each 1-D pooling is its 2-D form on a height-1 image (so every device's kernels and rules serve it);
# arguments are checked here, in 1-D terms, so errors name the 1-D call and the user's values.


def _pool1d_args(input: Tensor, kernel_size: Any, stride: Any, padding: Any, dilation: Any, ceil_mode: bool,
                 name: str) -> tuple[tuple[int, int], ...]:
    """Checked 1-D ``(kernel, stride, padding, dilation)`` as the height-1 pairs of the 2-D pooling."""
    owner = f"{name}()"
    _check_tensor(input, "input", (2, 3))
    k = _single(kernel_size, "kernel_size", 1, owner)
    no_stride = stride is None or (isinstance(stride, list | tuple) and not stride)  # torch allows stride=[]
    s = k if no_stride else _single(stride, "stride", 1, owner)
    p = _single(padding, "padding", 0, owner)
    d = _single(dilation, "dilation", 1, owner)
    effective = d * (k - 1) + 1
    if p > effective // 2:
        raise ValueError(f"{owner}: padding {p} must be at most half the kernel size {k}"
                         + (f" (effective size {effective} with dilation {d})" if d != 1 else ""))
    L = input.shape[-1]
    if _pool_output_size(L, k, s, p, d, bool(ceil_mode)) < 1:
        raise ValueError(f"{owner}: kernel_size {k}" + (f" (dilation {d})" if d != 1 else "")
                         + f" is larger than the padded input length {L + 2 * p} for input shape {input.shape}")
    return (1, k), (1, s), (0, p), (1, d)


def _squeeze_height(out: Any) -> Any:
    return tuple(t.squeeze(-2) for t in out) if isinstance(out, tuple) else out.squeeze(-2)


def max_pool1d(input: Tensor, kernel_size: Any, stride: Any = None, padding: Any = 0, dilation: Any = 1,
               ceil_mode: bool = False, return_indices: bool = False):
    """1-D max pooling, PyTorch's ``F.max_pool1d`` (:func:`max_pool2d` on a height-1 image).

    Args: input ``[N, C, L]`` or ``[C, L]``; kernel_size, stride (default ``kernel_size``), padding, dilation
        as ints (or 1-tuples), with :func:`max_pool2d`'s rules; ceil_mode; return_indices (the index into L).
    Returns: ``[N, C, floor_or_ceil((L + 2p - d(k - 1) - 1) / s) + 1]`` (and the int64 indices).
    Raises: TypeError/ValueError naming the argument.
    """
    k, s, p, d = _pool1d_args(input, kernel_size, stride, padding, dilation, ceil_mode, "max_pool1d")
    return _squeeze_height(max_pool2d(input.unsqueeze(-2), k, s, p, d, ceil_mode, return_indices))


def avg_pool1d(input: Tensor, kernel_size: Any, stride: Any = None, padding: Any = 0, ceil_mode: bool = False,
               count_include_pad: bool = True) -> Tensor:
    """1-D average pooling, PyTorch's ``F.avg_pool1d`` (:func:`avg_pool2d` on a height-1 image).

    Args: input ``[N, C, L]`` or ``[C, L]``; kernel_size, stride (default ``kernel_size``), padding as ints
        (or 1-tuples); ceil_mode and count_include_pad as in :func:`avg_pool2d`.
    Raises: TypeError/ValueError naming the argument.
    """
    k, s, p, _ = _pool1d_args(input, kernel_size, stride, padding, 1, ceil_mode, "avg_pool1d")
    return avg_pool2d(input.unsqueeze(-2), k, s, p, ceil_mode, count_include_pad).squeeze(-2)


def _adaptive1d_size(input: Tensor, output_size: Any, name: str) -> tuple[int, int]:
    _check_tensor(input, "input", (2, 3))
    return 1, _single(output_size, "output_size", 1, f"{name}()")


def adaptive_avg_pool1d(input: Tensor, output_size: Any) -> Tensor:
    """1-D adaptive average pooling, PyTorch's ``F.adaptive_avg_pool1d``: ``[N, C, L] -> [N, C, output_size]``
    with :func:`adaptive_avg_pool2d`'s bins. Raises TypeError/ValueError naming the argument."""
    size = _adaptive1d_size(input, output_size, "adaptive_avg_pool1d")
    return adaptive_avg_pool2d(input.unsqueeze(-2), size).squeeze(-2)


def adaptive_max_pool1d(input: Tensor, output_size: Any, return_indices: bool = False):
    """1-D adaptive max pooling, PyTorch's ``F.adaptive_max_pool1d`` (indices into L with
    ``return_indices``). Raises TypeError/ValueError naming the argument."""
    size = _adaptive1d_size(input, output_size, "adaptive_max_pool1d")
    return _squeeze_height(adaptive_max_pool2d(input.unsqueeze(-2), size, return_indices))


# ---------------------------------------------------------------------------------------- linear


class _Linear(Function):
    @staticmethod
    def forward(ctx, x, w, b, relu):
        x, w, b = _contiguous(ctx, x, w, b)
        y = ctx.backend.kernels.linear_relu.linear_forward(x, w, b, relu)
        ctx.save_for_backward(x, w, y if relu else None)
        ctx.relu = relu
        return y

    @staticmethod
    def backward(ctx, dy):
        x, w, y = ctx.saved_tensors
        dx, dw, db = ctx.backend.kernels.linear_relu.linear_backward(
            ctx.backend.ascontiguous(dy), x, w, y, ctx.relu)
        need_x, need_w, need_b = ctx.needs_input_grad[:3]
        return (dx if need_x else None), (dw if need_w else None), (db if need_b else None), None


def _linear(input: Tensor, weight: Tensor, bias: Tensor | None, relu: bool, name: str) -> Tensor:
    _check_tensor(input, "input")
    _check_tensor(weight, "weight", (2,))
    if input.ndim == 0 or input.shape[-1] != weight.shape[1]:
        raise ValueError(f"{name}(): input shape {input.shape} does not match weight shape {weight.shape} "
                         f"(input.shape[-1] must equal weight.shape[1] = {weight.shape[1]})")
    if bias is not None:
        _check_tensor(bias, "bias", (1,))
        if bias.shape[0] != weight.shape[0]:
            raise ValueError(f"{name}(): bias shape {bias.shape} does not match weight shape {weight.shape}")
    if input.dtype != weight.dtype:
        raise TypeError(f"{name}(): input dtype {input.dtype} and weight dtype {weight.dtype} differ")
    lead = input.shape[:-1]
    _check_float(input, "input")
    x2 = input if input.ndim == 2 else input.reshape(-1, input.shape[-1])
    y = _Linear.apply(x2, weight, bias, relu)
    return y if input.ndim == 2 else y.reshape(lead + (weight.shape[0],))


def linear(input: Tensor, weight: Tensor, bias: Tensor | None = None) -> Tensor:
    """``input @ weight.T + bias``; input [*, in], weight [out, in], bias [out] -> [*, out]."""
    return _linear(input, weight, bias, False, "linear")


def linear_relu(input: Tensor, weight: Tensor, bias: Tensor | None = None) -> Tensor:
    """``relu(linear(input, weight, bias))`` as one fused kernel call (bias and ReLU in the epilogue)."""
    return _linear(input, weight, bias, True, "linear_relu")


# -------------------------------------------------------------------------------------- losses


class _SoftmaxCrossEntropy(Function):
    @staticmethod
    def forward(ctx, logits, target, ignore_index):
        kern = ctx.backend.kernels.softmax_xent
        logits, target = _contiguous(ctx, logits, target)
        loss, ctx.dlogits = kern.softmax_cross_entropy_forward(logits, target, ignore_index)
        return loss

    @staticmethod
    def backward(ctx, grad):
        kern = ctx.backend.kernels.softmax_xent
        return kern.softmax_cross_entropy_backward(ctx.dlogits, grad), None, None


def _class_targets(input: Tensor, target: Tensor, name: str) -> tuple[Tensor, Tensor]:
    """Validate and flatten (input [N, C, d1...] or [C], target [N, d1...] or []) to ([M, C], [M])."""
    _check_tensor(input, "input")
    _check_tensor(target, "target")
    _check_float(input, "input")
    if target.dtype not in ("int64", "int32", "int16", "int8", "uint8"):
        raise TypeError(f"{name}(): target must be an integer tensor of class indices, got dtype "
                        f"{target.dtype} (for class probabilities pass a float target of input's shape)")
    if input.ndim == 0:
        raise ValueError(f"{name}(): input must hold class scores ([C], [N, C] or [N, C, d1, ...]), got a 0-d tensor")
    if input.ndim == 1 and target.ndim == 0:
        input, target = input.unsqueeze(0), target.reshape(1)
    expected = (input.shape[0],) + input.shape[2:] if input.ndim > 1 else ()
    if input.ndim == 1 or target.shape != expected:
        raise ValueError(f"{name}(): target shape {target.shape} does not match input shape {input.shape} "
                         f"(expected {expected})")
    C = input.shape[1]
    if input.ndim > 2:  # [N, C, d...] -> [N*d..., C]
        dims = (0,) + tuple(range(2, input.ndim)) + (1,)
        input = input.permute(*dims).reshape(-1, C)
        target = target.reshape(-1)
    return input, target.to(dtype="int64")


def _check_ignore_index(ignore_index: Any, name: str) -> int:
    """PyTorch's ``ignore_index`` is an int (a float is refused, not truncated); returned as a Python int."""
    if isinstance(ignore_index, bool) or not isinstance(ignore_index, int | np.integer):
        raise TypeError(f"{name}(): ignore_index must be an int, got {type(ignore_index).__name__} "
                        f"{ignore_index!r}")
    if not -(2**63) <= ignore_index < 2**63:  # compared with int64 targets; PyTorch raises too
        raise ValueError(f"{name}(): ignore_index must fit in int64, got {ignore_index}")
    return int(ignore_index)


def _check_class_weight(weight: Any, num_classes: int, name: str) -> None:
    """A class weight is one float per class, shape ``(C,)``: anything else would broadcast the loss wrongly."""
    _check_tensor(weight, "weight")
    if weight.shape != (num_classes,):
        raise ValueError(f"{name}(): weight must have shape ({num_classes},) (one weight per class), got "
                         f"{weight.shape}")


def _check_broadcasts_to(value: Any, name: str, shape: tuple[int, ...], owner: str) -> None:
    """``value`` must broadcast to the input's ``shape`` without growing it (PyTorch raises otherwise)."""
    _check_tensor(value, name)
    try:
        fits = np.broadcast_shapes(value.shape, shape) == tuple(shape)
    except ValueError:
        fits = False
    if not fits:
        raise ValueError(f"{owner}(): {name} of shape {value.shape} does not broadcast to input's shape {shape}")


def _check_class_range(target: Tensor, num_classes: int, ignore_index: int, name: str) -> None:
    values = target.numpy()
    bad = values[(values != ignore_index) & ((values < 0) | (values >= num_classes))]
    if bad.size:
        raise ValueError(f"{name}(): target contains class index {int(bad[0])} outside [0, {num_classes}) "
                         f"(ignore_index={ignore_index})")


def cross_entropy(input: Tensor, target: Tensor, weight: Tensor | None = None, ignore_index: int = -100,
                  reduction: str = "mean", label_smoothing: float = 0.0) -> Tensor:
    """Softmax cross-entropy, PyTorch's ``F.cross_entropy``.

    Class-index targets with ``reduction='mean'``, no class weights and no smoothing run the fused
    kernel (loss and gradient in one pass); every other combination, and probability targets, is
    built from :func:`log_softmax` so the answer is PyTorch's either way. A row whose target is
    ``ignore_index`` adds 0 to the loss and gets a zero gradient on both paths, even when its logits are
    -inf/NaN padding (PyTorch's gradient row is NaN there); with every row ignored 'mean' is NaN and the
    gradient zero, as in PyTorch.

    Args:
        input: logits [N, C], [N, C, d1, ...] or unbatched [C].
        target: int class indices [N] / [N, d1, ...] / [], or float probabilities of input's shape.
        weight: per-class weights [C]. ignore_index: an int (class-index targets only, as in PyTorch).
    Raises:
        TypeError: non-float input, a target that is neither integer nor float of input's shape, or a
            non-int ignore_index.
        ValueError: shape mismatch, class index outside [0, C), a weight not of shape [C], bad reduction or
            label_smoothing, ignore_index outside int64 or set with probability targets.
    """
    if reduction not in _REDUCTIONS:
        raise ValueError(f"reduction must be one of {_REDUCTIONS}, got {reduction!r}")
    if not 0.0 <= label_smoothing <= 1.0:
        raise ValueError(f"label_smoothing must be in [0, 1], got {label_smoothing}")
    ignore_index = _check_ignore_index(ignore_index, "cross_entropy")
    _check_tensor(target, "target")
    if target.dtype.is_floating_point:
        if isinstance(input, Tensor) and target.shape != input.shape:
            raise TypeError(f"cross_entropy(): target must be an integer tensor of class indices, got dtype "
                            f"{target.dtype} with shape {target.shape}; a float target holds class "
                            f"probabilities and must have input's shape {input.shape}")
        if ignore_index != -100:  # PyTorch refuses it too rather than ignoring it silently
            raise ValueError(f"cross_entropy(): ignore_index={ignore_index} is not supported with probability "
                             f"(floating-point) targets")
        return _cross_entropy_probabilities(input, target, weight, reduction, label_smoothing)
    logits, flat_target = _class_targets(input, target, "cross_entropy")
    C = logits.shape[1]
    if weight is not None:
        _check_class_weight(weight, C, "cross_entropy")
    fused = reduction == "mean" and weight is None and label_smoothing == 0.0
    # the range check copies the targets to the host, a sync on a GPU: there the fused kernel checks only
    # under KERNELGRAD_SYNC_CHECKS=1 and otherwise returns a NaN loss and NaN gradient row for a bad target
    # (the composite path gathers with the targets, so it always checks)
    if not fused or value_checks_enabled(on_host=not logits.backend.is_gpu):
        _check_class_range(flat_target, C, ignore_index, "cross_entropy")
    if fused:
        return _SoftmaxCrossEntropy.apply(logits, flat_target, ignore_index)
    return _cross_entropy_composite(logits, flat_target, weight, ignore_index, reduction, label_smoothing,
                                    target.shape if input.ndim > 1 else ())


def _valid_rows(logits: Tensor, target: Tensor, ignore_index: int) -> tuple[Tensor, Tensor, Tensor]:
    """(valid [M] bool, logits with ignored rows zeroed, targets with ignored rows set to class 0).

    Ignored rows are replaced *before* any math and dropped again with ``where``, never by multiplying
    with a 0/1 mask: a padding row may hold -inf/NaN logits, and 0 * NaN is NaN -- in the loss, and in
    the gradient of every row once a reduction has spread it. So an ignored row adds exactly 0 to the
    loss and receives a zero gradient, as on the fused kernel path. (PyTorch agrees on the loss; its
    gradient row for an all-non-finite ignored row is NaN.)
    """
    xp = logits.backend.xp
    valid = target != ignore_index
    safe_target = Tensor._wrap(xp.where(valid._data, target._data, 0), logits.backend)
    safe_logits = where(valid.unsqueeze(1), logits, 0.0)
    return valid, safe_logits, safe_target


def _masked_reduce(loss: Tensor, valid: Tensor, row_weight: Tensor | None, reduction: str, out_shape) -> Tensor:
    """Reduce per-row losses over the valid rows; 'mean' divides by the valid rows' total weight, which is
    0 when every row is ignored: the loss is then 0/0 = NaN and the gradient 0, both as in PyTorch."""
    loss = where(valid, loss, 0.0)
    if reduction == "none":
        return loss.reshape(out_shape)
    if reduction == "sum":
        return loss.sum()
    # 0/0 is PyTorch's answer, not worth numpy's warning; multiplying by 1/denominator keeps the loss's
    # backward (grad * inf, zeroed by the where above) free of warnings too. The denominator keeps its graph:
    # a class weight that requires grad (PyTorch refuses one) gets its true gradient.
    with np.errstate(divide="ignore", invalid="ignore"):
        denominator = where(valid, row_weight, 0.0).sum() if row_weight is not None else valid.to(loss.dtype).sum()
        return loss.sum() * (1 / denominator)


def _cross_entropy_composite(logits, target, weight, ignore_index, reduction, smoothing, out_shape):
    """Class-index cross-entropy built from log_softmax: class weights, label smoothing, 'sum'/'none'."""
    valid, logits, target = _valid_rows(logits, target, ignore_index)
    logp = log_softmax(logits, dim=1)
    picked = -ops.TakeAlongAxis.apply(logp, target._data[:, None], 1).reshape(-1)
    C = logits.shape[1]
    w = weight.to(dtype=logits.dtype) if weight is not None else None
    w_target = w[target] if w is not None else None
    if w_target is not None:
        picked = picked * w_target
    loss = picked
    if smoothing:
        smooth = -(logp * w).sum(dim=1) if w is not None else -logp.sum(dim=1)
        loss = picked * (1 - smoothing) + smooth * (smoothing / C)
    return _masked_reduce(loss, valid, w_target, reduction, out_shape)


def _cross_entropy_probabilities(input, target, weight, reduction, smoothing):
    _check_float(input, "input")
    if input.ndim == 0:
        raise ValueError("cross_entropy(): input must hold class scores ([C], [N, C] or [N, C, d1, ...]), got a 0-d "
                         "tensor")
    if target.shape != input.shape:
        raise ValueError(f"cross_entropy(): probability target shape {target.shape} must equal input shape "
                         f"{input.shape}")
    dim = 0 if input.ndim == 1 else 1
    C = input.shape[dim]
    if weight is not None:
        _check_class_weight(weight, C, "cross_entropy")
        weight = weight.to(dtype=input.dtype)
    if smoothing:
        target = target * (1 - smoothing) + smoothing / C
    logp = log_softmax(input, dim=dim)
    if weight is not None:
        shape = [1] * input.ndim
        shape[dim] = C
        logp = logp * weight.reshape(shape)
    loss = -(logp * target).sum(dim=dim)
    if reduction == "mean":
        return loss.sum() / (loss.numel() if loss.ndim else 1)
    return _reduce(loss, reduction)


def nll_loss(input: Tensor, target: Tensor, weight: Tensor | None = None, ignore_index: int = -100,
             reduction: str = "mean") -> Tensor:
    """Negative log-likelihood on log-probabilities, PyTorch's ``F.nll_loss``.

    Ignored rows add 0 and get a zero gradient even if they hold -inf/NaN; 'mean' over no valid row is NaN
    (as in PyTorch). Raises TypeError for a non-int ``ignore_index``, ValueError for a ``weight`` that is
    not one value per class."""
    if reduction not in _REDUCTIONS:
        raise ValueError(f"reduction must be one of {_REDUCTIONS}, got {reduction!r}")
    ignore_index = _check_ignore_index(ignore_index, "nll_loss")
    logp, flat_target = _class_targets(input, target, "nll_loss")
    if weight is not None:
        _check_class_weight(weight, logp.shape[1], "nll_loss")
    _check_class_range(flat_target, logp.shape[1], ignore_index, "nll_loss")
    valid, logp, flat_target = _valid_rows(logp, flat_target, ignore_index)
    loss = -ops.TakeAlongAxis.apply(logp, flat_target._data[:, None], 1).reshape(-1)
    w = weight.to(dtype=logp.dtype)[flat_target] if weight is not None else None
    if w is not None:
        loss = loss * w
    return _masked_reduce(loss, valid, w, reduction, target.shape if input.ndim > 1 else ())


def _check_same_shape(input: Tensor, target: Tensor, name: str) -> None:
    _check_tensor(input, "input")
    _check_tensor(target, "target")
    if input.shape != target.shape:
        raise ValueError(f"{name}(): target shape {target.shape} must equal input shape {input.shape}")


def mse_loss(input: Tensor, target: Tensor, reduction: str = "mean", weight: Tensor | None = None) -> Tensor:
    """Mean squared error, PyTorch's ``F.mse_loss``; an optional per-element ``weight`` (input's shape) scales
    each term, and 'mean' then divides by ``weight.sum()``."""
    _check_same_shape(input, target, "mse_loss")
    _check_reduction(reduction, "mse_loss")
    diff = input - target
    return _weighted_reduce(diff * diff, weight, reduction, "mse_loss", True)


def _check_reduction(reduction: Any, name: str, allowed: tuple[str, ...] = _REDUCTIONS) -> None:
    if reduction not in allowed:
        raise ValueError(f"{name}(): reduction must be one of {allowed}, got {reduction!r}")


def _weighted_reduce(loss: Tensor, weight: Tensor | None, reduction: str, name: str, mean_over_weight: bool):
    if weight is None:
        return _reduce(loss, reduction)
    _check_tensor(weight, "weight")
    if weight.shape != loss.shape:
        raise ValueError(f"{name}(): weight shape {weight.shape} must equal input shape {loss.shape}")
    loss = loss * weight
    # PyTorch's own inconsistency, kept: l1_loss's weighted mean divides by sum(weight), huber_loss's by numel.
    if reduction == "mean" and mean_over_weight:
        return loss.sum() / weight.sum()
    return _reduce(loss, reduction)


def l1_loss(input: Tensor, target: Tensor, reduction: str = "mean", weight: Tensor | None = None) -> Tensor:
    """Mean absolute error ``|input - target|``, PyTorch's ``F.l1_loss``; an optional per-element ``weight``
    (input's shape) scales each term, and 'mean' then divides by ``weight.sum()``."""
    _check_same_shape(input, target, "l1_loss")
    _check_reduction(reduction, "l1_loss")
    return _weighted_reduce((input - target).abs(), weight, reduction, "l1_loss", True)


def smooth_l1_loss(input: Tensor, target: Tensor, reduction: str = "mean", beta: float = 1.0) -> Tensor:
    """Smooth L1, PyTorch's ``F.smooth_l1_loss``: ``0.5 d^2 / beta`` where ``d = |input - target| < beta``,
    else ``d - 0.5 beta``; ``beta = 0`` is plain L1. Raises ValueError for a negative ``beta``."""
    _check_same_shape(input, target, "smooth_l1_loss")
    _check_reduction(reduction, "smooth_l1_loss")
    if beta < 0:
        raise ValueError(f"smooth_l1_loss(): beta must be non-negative, got {beta!r}")
    diff = (input - target).abs()
    if beta == 0:
        return _reduce(diff, reduction)
    # The square sees diff clamped to beta: where() hands the unused branch a zero gradient, and
    # 0 * inf (an infinite diff) would make it NaN; PyTorch gives sign(d) there.
    near = diff.clamp(max=beta)
    return _reduce(where(diff < beta, near * near * (0.5 / beta), diff - 0.5 * beta), reduction)


def huber_loss(input: Tensor, target: Tensor, reduction: str = "mean", delta: float = 1.0,
               weight: Tensor | None = None) -> Tensor:
    """Huber loss, PyTorch's ``F.huber_loss``: ``0.5 d^2`` where ``d = |input - target| < delta``, else
    ``delta * (d - 0.5 delta)`` (``delta`` times smooth L1 with ``beta = delta``); optional per-element
    ``weight``, with 'mean' over all elements. Raises ValueError unless ``delta > 0``."""
    _check_same_shape(input, target, "huber_loss")
    _check_reduction(reduction, "huber_loss")
    if not delta > 0:
        raise ValueError(f"huber_loss(): delta must be positive, got {delta!r}")
    diff = (input - target).abs()
    near = diff.clamp(max=delta)  # no 0 * inf = NaN gradient from the unused branch (see smooth_l1_loss)
    loss = where(diff < delta, near * near * 0.5, (diff - 0.5 * delta) * delta)
    return _weighted_reduce(loss, weight, reduction, "huber_loss", False)


class _KLDiv(Function):
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


_KL_DIV_REDUCTIONS = ("none", "batchmean", "sum", "mean")


def kl_div(input: Tensor, target: Tensor, reduction: str = "mean", log_target: bool = False) -> Tensor:
    """KL divergence loss, PyTorch's ``F.kl_div``: pointwise ``target * (log(target) - input)`` with
    ``input`` log-probabilities (``target`` too if ``log_target``).

    ``reduction``: 'none', 'sum', 'batchmean' (sum / batch size ``input.shape[0]``: the true KL divergence
    per sample) or 'mean' (sum / number of elements, which warns as PyTorch does).
    Raises ValueError for a target of another shape or an unknown reduction.
    """
    _check_same_shape(input, target, "kl_div")
    _check_reduction(reduction, "kl_div", _KL_DIV_REDUCTIONS)
    _check_float(input, "kl_div(): input")
    if reduction == "mean":
        warnings.warn("reduction: 'mean' divides the total loss by both the batch size and the support size."
                      "'batchmean' divides only by the batch size, and aligns with the KL div math definition."
                      "'mean' will be changed to behave the same as 'batchmean' in the next major release.",
                      stacklevel=2)
    loss = _KLDiv.apply(input, target, bool(log_target))
    if reduction == "batchmean":
        return loss.sum() / input.shape[0] if input.ndim else loss.sum()
    return _reduce(loss, reduction)


#: PyTorch's floor on p * (1 - p) in BCE's gradient, a float32 constant (so 1 / eps is 1.0000000039958e12).
_BCE_EPS = float(np.float32(1e-12))


class _BinaryCrossEntropy(Function):
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


def binary_cross_entropy(input: Tensor, target: Tensor, weight: Tensor | None = None,
                         reduction: str = "mean") -> Tensor:
    """BCE on probabilities, PyTorch's ``F.binary_cross_entropy`` (values and gradients, including p = 0, 1).

    Args: input: probabilities in [0, 1]; target: same shape; weight: rescales each element, broadcast to
        input's shape. Raises ValueError for values outside [0, 1] or NaN (on a GPU only under
        ``KERNELGRAD_SYNC_CHECKS=1``: the check reads the values on the host), for a target of another shape
        and for a weight that does not broadcast to input's shape.
    """
    _check_same_shape(input, target, "binary_cross_entropy")
    _check_reduction(reduction, "binary_cross_entropy")
    _check_float(input, "binary_cross_entropy(): input")
    if target.dtype != input.dtype:  # PyTorch refuses too (no promotion in this loss)
        raise TypeError(f"binary_cross_entropy(): target must have input's dtype {input.dtype}, got {target.dtype}")
    if weight is not None:
        _check_broadcasts_to(weight, "weight", input.shape, "binary_cross_entropy")
        weight = weight.to(dtype=input.dtype)  # the loss keeps input's dtype, as PyTorch's
    if value_checks_enabled(on_host=not input.backend.is_gpu):
        values = input.numpy()
        if values.size and not np.all((values >= 0) & (values <= 1)):
            raise ValueError("binary_cross_entropy(): input values must be in [0, 1] (apply sigmoid first, or "
                             "use binary_cross_entropy_with_logits)")
    loss = _BinaryCrossEntropy.apply(input, target)
    if weight is not None:
        loss = loss * weight
    return _reduce(loss, reduction)


def _log_sigmoid(xp: Any, x: Any) -> Any:
    """``log(sigmoid(x)) = min(x, 0) - log1p(exp(-|x|))`` of a raw array: never overflows, and log1p keeps the
    exp(-|x|) term that ``log(1 + exp(-|x|))`` rounds to 0 for |x| > 17 in float32."""
    return xp.where(x < 0, x, 0.0) - xp.log1p(xp.exp(-xp.abs(x)))


class _BCEWithLogits(Function):
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


def binary_cross_entropy_with_logits(input: Tensor, target: Tensor, weight: Tensor | None = None,
                                     reduction: str = "mean", pos_weight: Tensor | None = None) -> Tensor:
    """Sigmoid + BCE on logits, PyTorch's ``F.binary_cross_entropy_with_logits`` (values and gradients).

    Args: weight: rescales each element; pos_weight: weight of the positive term (per class, along the last
        dim); both must broadcast to input's shape. Raises ValueError for a target of another shape, or a
        weight / pos_weight that does not broadcast to input's shape.
    """
    name = "binary_cross_entropy_with_logits"
    _check_same_shape(input, target, name)
    _check_reduction(reduction, name)
    _check_float(input, f"{name}(): input")
    _check_float(target, f"{name}(): target")
    dtype = result_type(input, target)  # PyTorch promotes input and target; the weights follow that dtype
    for value, arg in ((weight, "weight"), (pos_weight, "pos_weight")):
        if value is not None:
            _check_broadcasts_to(value, arg, input.shape, name)
    input, target = input.to(dtype=dtype), target.to(dtype=dtype)
    weight = None if weight is None else weight.to(dtype=dtype)
    pos_weight = None if pos_weight is None else pos_weight.to(dtype=dtype)
    loss = _BCEWithLogits.apply(input, target, pos_weight)
    if weight is not None:
        loss = loss * weight
    return _reduce(loss, reduction)


def one_hot(tensor: Tensor, num_classes: int = -1) -> Tensor:
    """int64 one-hot encoding (no gradient), PyTorch's ``F.one_hot``."""
    values = tensor.numpy()
    if num_classes < 0:
        num_classes = int(values.max()) + 1 if values.size else 0
    if values.size and (values.min() < 0 or values.max() >= num_classes):
        raise ValueError(f"one_hot(): class values must be in [0, {num_classes})")
    return _tensor(np.eye(num_classes, dtype=np.int64)[values], device=tensor.backend)


# --------------------------------------------------------------------------------------- dropout


class _Dropout(Function):
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


def _dropout_probability(p: Any, owner: str) -> float:
    """``p`` as a float in ``[0, 1]`` (PyTorch's range): a Python or numpy real, or a 0-d real Tensor.

    Raises TypeError for another type (bool included) and ValueError outside ``[0, 1]`` (NaN included)."""
    if isinstance(p, Tensor) and p.ndim == 0:
        p = p.item()
    if isinstance(p, bool | np.bool_) or not isinstance(p, numbers.Real):
        raise TypeError(f"{owner}: dropout probability p must be a float, got {p!r}")
    if not 0.0 <= float(p) <= 1.0:
        raise ValueError(f"{owner}: dropout probability p must be in [0, 1], got {p!r}")
    return float(p)


def dropout(input: Tensor, p: float = 0.5, training: bool = True, inplace: bool = False) -> Tensor:
    """Zero each element with probability ``p`` and scale the rest by 1/(1-p) (identity when not training).

    The mask is never stored: it is regenerated in backward from the Philox stream position
    ``(seed, offset)`` that :func:`framework.manual_seed` controls, bit-identically on every backend.
    ``p = 1`` gives ``input * 0`` (zeros, NaN/inf stay NaN, zero gradient), PyTorch's answer, without
    the kernel (its scale 1/(1-p) would be infinite).
    Raises TypeError for a p that is not a real number, ValueError unless ``0 <= p <= 1``.
    """
    _check_tensor(input, "input")
    p = _dropout_probability(p, "dropout()")
    if not training or p == 0.0:
        return input
    _check_float(input, "input")
    if p == 1.0:
        with np.errstate(invalid="ignore"):  # NaN/inf * 0 is NaN without a warning, as in PyTorch
            return input * 0.0
    seed, offset = _random.next_philox(input.numel())
    if input.ndim == 0:  # the kernels take arrays of at least one dim; the result keeps the 0-d shape
        return _Dropout.apply(input.reshape(1), p, seed, offset).reshape(())
    return _Dropout.apply(input, p, seed, offset)


def _feature_dropout(input: Tensor, p: float, training: bool, name: str) -> Tensor:
    """Zero whole feature maps: one keep/drop draw per ``(n, c)``, shared by the map's elements. The mask is
    ``F.dropout`` of a ``[N, C, 1, ...]`` tensor of ones (so the same Philox stream) and broadcasts in a
    product, which carries the gradient (and keeps a dropped NaN NaN, as PyTorch's product does)."""
    p = _dropout_probability(p, f"{name}()")
    ones = _ones(tuple(input.shape[:2]) + (1,) * (input.ndim - 2), dtype=input.dtype, device=input.backend)
    mask = dropout(ones, p, training)
    if mask is ones:
        return input
    with np.errstate(invalid="ignore"):  # a dropped inf becomes NaN without a warning, as in PyTorch
        return input * mask


def _check_feature_dropout_input(input: Tensor, name: str, ndims: tuple[int, int], layout: str) -> None:
    _check_tensor(input, "input")
    if input.ndim not in ndims:
        raise ValueError(f"{name}(): expected a {ndims[1]}-D input {layout} or an unbatched {ndims[0]}-D one, "
                         f"got shape {input.shape}")
    _check_float(input, "input")


def dropout1d(input: Tensor, p: float = 0.5, training: bool = True, inplace: bool = False) -> Tensor:
    """Channel dropout, PyTorch's ``F.dropout1d``: each channel of ``[N, C, L]`` (or unbatched ``[C, L]``) is
    zeroed with probability ``p`` as a whole, the rest scaled by 1/(1-p); identity when not training.
    ``inplace`` is accepted; the result is a new tensor. Raises ValueError unless ``0 <= p <= 1`` or for
    another rank."""
    _check_feature_dropout_input(input, "dropout1d", (2, 3), "[N, C, L]")
    batched, unbatched = _batched(input, "input", 3)
    out = _feature_dropout(batched, p, training, "dropout1d")
    return out.squeeze(0) if unbatched else out


def dropout2d(input: Tensor, p: float = 0.5, training: bool = True, inplace: bool = False) -> Tensor:
    """Channel dropout, PyTorch's ``F.dropout2d``: each ``[H, W]`` map of ``[N, C, H, W]`` is zeroed with
    probability ``p`` as a whole, the rest scaled by 1/(1-p); identity when not training.

    A 3-D input is treated as ``[N, C, L]`` (dropping whole rows), with PyTorch's warning, as PyTorch does.
    ``inplace`` is accepted; the result is a new tensor. Raises ValueError unless ``0 <= p <= 1`` or for
    another rank.
    """
    _check_feature_dropout_input(input, "dropout2d", (3, 4), "[N, C, H, W]")
    if input.ndim == 3:
        warnings.warn("dropout2d: Received a 3D input to dropout2d and assuming that channel-wise 1D dropout "
                      "behavior is desired - input is interpreted as shape (N, C, L), where C is the channel "
                      "dim. This behavior will change in a future release to interpret the input as one "
                      "without a batch dimension, i.e. shape (C, H, W). To maintain the 1D channel-wise "
                      "dropout behavior, please switch to using dropout1d instead.", stacklevel=2)
    return _feature_dropout(input, p, training, "dropout2d")


def dropout3d(input: Tensor, p: float = 0.5, training: bool = True, inplace: bool = False) -> Tensor:
    """Channel dropout, PyTorch's ``F.dropout3d``: each ``[D, H, W]`` volume of ``[N, C, D, H, W]`` (or
    unbatched ``[C, D, H, W]``) is zeroed with probability ``p`` as a whole; identity when not training."""
    _check_feature_dropout_input(input, "dropout3d", (4, 5), "[N, C, D, H, W]")
    batched, unbatched = _batched(input, "input", 5)
    out = _feature_dropout(batched, p, training, "dropout3d")
    return out.squeeze(0) if unbatched else out


# ---------------------------------------------------------------------------------- normalize


class _Normalize(Function):
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


def normalize(input: Tensor, p: float = 2.0, dim: int = 1, eps: float = 1e-12, out: Any = None) -> Tensor:
    """``input / max(||input||_p, eps)`` along ``dim``, PyTorch's ``F.normalize``.

    Args: p: a finite norm order > 0 (``inf`` is not supported). dim: the dim to normalise over.
        eps: the smallest denominator. out: must be None.
    Raises: ValueError for p <= 0 or infinite, eps < 0 or ``out`` given; IndexError for dim out of range;
        TypeError for a non-float input or a non-int dim.
    """
    _check_tensor(input, "input")
    _check_float(input, "input")
    if isinstance(p, bool) or not isinstance(p, int | float) or not 0 < p < math.inf:
        raise ValueError(f"normalize(): p must be a finite number > 0, got {p!r} (p=inf is not supported)")
    if isinstance(eps, bool) or not isinstance(eps, int | float) or not eps >= 0:
        raise ValueError(f"normalize(): eps must be >= 0, got {eps!r}")
    if out is not None:
        raise ValueError("normalize(): out= is not supported; use the returned tensor")
    return _Normalize.apply(input, float(p), ops.normalize_dim(dim, input.ndim), float(eps))


# ---------------------------------------------------------------------------------- pixel shuffle


def pixel_shuffle(input: Tensor, upscale_factor: int) -> Tensor:
    """``[*, C*r*r, H, W] -> [*, C, H*r, W*r]``, PyTorch's ``F.pixel_shuffle`` (a reshape and a permute).

    Raises: ValueError for ``upscale_factor < 1``, fewer than 3 dims, or channels not divisible by r*r.
    """
    _check_tensor(input, "input")
    r = _positive_factor(upscale_factor, "upscale_factor", "pixel_shuffle")
    if input.ndim < 3 or input.shape[-3] % (r * r):
        raise ValueError(f"pixel_shuffle(): expected input [*, C*{r * r}, H, W] (channels divisible by "
                         f"upscale_factor^2 = {r * r}), got shape {input.shape}")
    *lead, C, H, W = input.shape
    c = C // (r * r)
    k = len(lead)
    x = input.reshape(tuple(lead) + (c, r, r, H, W))
    x = x.permute(*range(k), k, k + 3, k + 1, k + 4, k + 2)  # [*, c, H, r, W, r]
    return x.reshape(tuple(lead) + (c, H * r, W * r))


def pixel_unshuffle(input: Tensor, downscale_factor: int) -> Tensor:
    """``[*, C, H*r, W*r] -> [*, C*r*r, H, W]``, PyTorch's ``F.pixel_unshuffle`` (the inverse of
    :func:`pixel_shuffle`). Raises: ValueError for ``downscale_factor < 1``, fewer than 3 dims, or H, W not
    divisible by r."""
    _check_tensor(input, "input")
    r = _positive_factor(downscale_factor, "downscale_factor", "pixel_unshuffle")
    if input.ndim < 3 or input.shape[-2] % r or input.shape[-1] % r:
        raise ValueError(f"pixel_unshuffle(): expected input [*, C, H, W] with H and W divisible by "
                         f"downscale_factor={r}, got shape {input.shape}")
    *lead, C, H, W = input.shape
    k = len(lead)
    x = input.reshape(tuple(lead) + (C, H // r, r, W // r, r))
    x = x.permute(*range(k), k, k + 2, k + 4, k + 1, k + 3)  # [*, C, r, r, H/r, W/r]
    return x.reshape(tuple(lead) + (C * r * r, H // r, W // r))


def _positive_factor(value: Any, name: str, owner: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < 1:
        raise ValueError(f"{owner}(): {name} must be a positive int, got {value!r}")
    return int(value)


# ---------------------------------------------------------------------------------- normalization


def _check_affine(value: Any, name: str, shape: tuple[int, ...], input: Tensor, op: str, what: str) -> None:
    """``value`` must be None or a tensor of ``shape`` on ``input``'s device."""
    if value is None:
        return
    _check_tensor(value, name)
    if value.shape != shape:
        raise ValueError(f"{op}(): {name} must have shape {shape} for input of shape {input.shape} ({what}), "
                         f"got shape {value.shape}")
    if value.backend is not input.backend:
        raise ValueError(f"{op}(): {name} is on {value.device!r} but input is on {input.device!r}")


def _per_channel_affine(out: Tensor, weight: Tensor | None, bias: Tensor | None) -> Tensor:
    """``out * weight + bias`` with ``[C]`` weight and bias broadcast over ``[N, C, *]`` (either may be None)."""
    view = (1, out.shape[1]) + (1,) * (out.ndim - 2)
    if weight is not None:
        out = out * weight.reshape(view)
    if bias is not None:
        out = out + bias.reshape(view)
    return out


def batch_norm(input: Tensor, running_mean: Tensor | None, running_var: Tensor | None, weight: Tensor | None = None,
               bias: Tensor | None = None, training: bool = False, momentum: float = 0.1,
               eps: float = 1e-5) -> Tensor:
    """Batch normalisation over every dim but the channel dim 1, PyTorch's ``F.batch_norm``.

    ``y = (x - mean) / sqrt(var + eps) * weight + bias``, per channel. In training, ``mean``/``var`` are
    the batch's (biased variance), and running statistics that are given are updated in place, outside
    the graph: ``running = (1 - momentum) * running + momentum * batch`` with the *unbiased* batch
    variance, as PyTorch does. Otherwise the running statistics are used. Built from differentiable
    tensor ops, so gradients flow to ``input``, ``weight`` and ``bias`` on every device.

    Args:
        input: ``[N, C, *]`` float, at least 2-D.
        running_mean, running_var: ``[C]`` buffers (or None, only when ``training``); each is updated
            by replacing its ``.data`` with a new array of its own dtype.
        weight, bias: optional ``[C]`` affine scale and shift.
        training: use (and update the running statistics with) batch statistics.
        momentum: weight of the new batch statistics in the running update.
        eps: added to the variance for numerical stability.
    Returns: a tensor of ``input``'s shape.
    Raises: TypeError for a non-Tensor or non-float input; ValueError for input with fewer than 2 dims,
        a ``[C]`` argument of another shape or on another device, missing running statistics outside
        training, or (in training) only one value per channel.
    """
    _check_tensor(input, "input")
    _check_float(input, "input")
    if input.ndim < 2:
        raise ValueError(f"batch_norm(): input must be at least 2-D ([N, C, *]), got shape {input.shape}")
    for value, name in ((running_mean, "running_mean"), (running_var, "running_var"), (weight, "weight"),
                        (bias, "bias")):
        _check_affine(value, name, (input.shape[1],), input, "batch_norm", "one value per channel, dim 1")
    axes = (0,) + tuple(range(2, input.ndim))
    count = input.numel() // input.shape[1]
    # [C] -> [1, C, 1, ...]: broadcasts against the input.
    view = (1, input.shape[1]) + (1,) * (input.ndim - 2)
    if training:
        if count <= 1:
            raise ValueError(f"Expected more than 1 value per channel when training, got input size {input.shape}")
        mean = input.mean(dim=axes, keepdim=True)
        centered = input - mean
        var = (centered * centered).mean(dim=axes, keepdim=True)
        with no_grad():
            if running_mean is not None:
                batch_mean = mean.detach().reshape(-1).to(dtype=running_mean.dtype)
                running_mean._write("batch_norm", ..., (running_mean * (1.0 - momentum) + batch_mean * momentum)._data)
            if running_var is not None:
                unbiased = var.detach().reshape(-1).to(dtype=running_var.dtype) * (count / (count - 1))
                running_var._write("batch_norm", ..., (running_var * (1.0 - momentum) + unbiased * momentum)._data)
    else:
        if running_mean is None or running_var is None:
            raise ValueError("batch_norm(): running_mean and running_var must be given when training is False")
        centered = input - running_mean.detach().reshape(view).to(dtype=input.dtype)
        var = running_var.detach().reshape(view).to(dtype=input.dtype)
    return _per_channel_affine(centered * (var + eps) ** -0.5, weight, bias)


def _normalized_shape(value: Any, owner: str) -> tuple[int, ...]:
    """An int or a sequence of ints (list, tuple, ``torch.Size``) as a non-empty tuple of ints >= 0."""
    if isinstance(value, int | np.integer) and not isinstance(value, bool):
        value = (value,)
    if (not isinstance(value, list | tuple) or not value
            or not all(isinstance(v, int | np.integer) and not isinstance(v, bool) and v >= 0 for v in value)):
        raise ValueError(f"{owner}: normalized_shape must be an int or a non-empty sequence of non-negative ints, "
                         f"got {value!r}")
    return tuple(int(v) for v in value)


def _normalize(x: Tensor, axes: tuple[int, ...], eps: float) -> Tensor:
    """``(x - mean) / sqrt(var + eps)`` over ``axes``, with the biased variance (as PyTorch)."""
    centered = x - x.mean(dim=axes, keepdim=True)
    var = (centered * centered).mean(dim=axes, keepdim=True)
    return centered * (var + eps) ** -0.5


def layer_norm(input: Tensor, normalized_shape: Any, weight: Tensor | None = None, bias: Tensor | None = None,
               eps: float = 1e-5) -> Tensor:
    """Layer normalisation over the trailing ``normalized_shape`` dims, PyTorch's ``F.layer_norm``.

    ``y = (x - mean) / sqrt(var + eps) * weight + bias`` with the mean and biased variance of each
    ``[*normalized_shape]`` slice; ``weight`` and ``bias`` (optional) have shape ``normalized_shape``.
    Built from differentiable tensor ops, so gradients flow to all three on every device.
    Raises: TypeError for a non-Tensor or non-float input; ValueError when the input's trailing dims are not
        ``normalized_shape``, or for a ``weight``/``bias`` of another shape or device.
    """
    _check_float_input(input)
    shape = _normalized_shape(normalized_shape, "layer_norm()")
    k = len(shape)
    if input.ndim < k or input.shape[input.ndim - k:] != shape:
        raise ValueError(f"layer_norm(): normalized_shape={list(shape)} expects input of shape "
                         f"[*, {', '.join(map(str, shape))}], got input of shape {input.shape}")
    for value, name in ((weight, "weight"), (bias, "bias")):
        _check_affine(value, name, shape, input, "layer_norm", "normalized_shape")
    out = _normalize(input, tuple(range(input.ndim - k, input.ndim)), eps)
    if weight is not None:
        out = out * weight
    if bias is not None:
        out = out + bias
    return out


def group_norm(input: Tensor, num_groups: int, weight: Tensor | None = None, bias: Tensor | None = None,
               eps: float = 1e-5) -> Tensor:
    """Group normalisation, PyTorch's ``F.group_norm``: the ``C`` channels of ``[N, C, *]`` input are split into
    ``num_groups`` consecutive groups, each normalised (mean, biased variance) over its channels and every
    dim after ``C``, per sample; then the optional per-channel ``[C]`` ``weight`` and ``bias`` apply.
    Raises: TypeError for a non-Tensor or non-float input; ValueError for input with fewer than 2 dims,
        a non-positive ``num_groups`` or ``C`` not divisible by it, a ``weight``/``bias`` of another shape or
        device, or (as PyTorch) a batch of one sample with one value per group.
    """
    _check_float_input(input)
    if input.ndim < 2:
        raise ValueError(f"group_norm(): input must be at least 2-D ([N, C, *]), got shape {input.shape}")
    if not isinstance(num_groups, int | np.integer) or isinstance(num_groups, bool) or num_groups <= 0:
        raise ValueError(f"group_norm(): num_groups must be a positive int, got {num_groups!r}")
    N, C = input.shape[:2]
    if C % num_groups:
        raise ValueError(f"group_norm(): the number of channels must be divisible by num_groups, got input of "
                         f"shape {input.shape} ({C} channels) and num_groups={num_groups}")
    for value, name in ((weight, "weight"), (bias, "bias")):
        _check_affine(value, name, (C,), input, "group_norm", "one value per channel, dim 1")
    per_group = input.numel() // max(N * num_groups, 1)
    if N * per_group == 1:  # PyTorch's _verify_batch_size check
        raise ValueError(f"group_norm(): expected more than 1 value per group, got input of shape {input.shape} "
                         f"with num_groups={num_groups}")
    out = _normalize(input.reshape(N, num_groups, per_group), (2,), eps).reshape(input.shape)
    return _per_channel_affine(out, weight, bias)


# ------------------------------------------------------------------------------------- embedding


class _Embedding(Function):
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


def _check_embedding_options(max_norm: Any, norm_type: Any, sparse: Any, owner: str) -> None:
    """Shared by ``F.embedding`` and ``nn.Embedding`` so a bad option fails at construction too."""
    for value, name in ((max_norm, "max_norm"), (norm_type, "norm_type")):
        if value is None and name == "max_norm":
            continue
        if isinstance(value, bool) or not isinstance(value, int | float | np.integer | np.floating):
            raise TypeError(f"{owner}: {name} must be a real number, got {type(value).__name__} {value!r}")
        if not value > 0:  # also rejects NaN
            raise ValueError(f"{owner}: {name} must be > 0, got {value!r}")
    if sparse:
        raise ValueError(f"{owner}: sparse=True is not supported (kernelgrad has no sparse gradients); "
                         "use sparse=False")


def _embedding_renorm_(weight: Tensor, indices: np.ndarray, max_norm: float, norm_type: float) -> None:
    """PyTorch's ``embedding_renorm_``: referenced rows whose norm exceeds ``max_norm`` are scaled by
    ``max_norm / (norm + 1e-7)``. The new values replace ``weight._data`` (the framework's in-place update,
    as the optimizers do), outside the graph."""
    backend, xp = weight.backend, weight.backend.xp
    referenced = backend.from_numpy(np.unique(indices), "int64")
    rows = xp.take(weight._data, referenced, axis=0)
    # Half precision would round the norm of long rows badly, so the norm and scaling run in float32.
    work = xp.astype(rows, xp.float32) if weight.dtype in ("float16", "bfloat16") else rows
    norms = xp.linalg.vector_norm(work, axis=1, ord=float(norm_type))
    over = norms > max_norm
    if not bool(xp.any(over)):
        return  # nothing to rescale: skip copying the table
    scale = xp.where(over, max_norm / (norms + 1e-7), xp.ones_like(norms))
    weight._write("embedding(max_norm=)", referenced, xp.astype(work * xp.reshape(scale, (-1, 1)), rows.dtype))


def embedding(input: Tensor, weight: Tensor, padding_idx: int | None = None, max_norm: float | None = None,
              norm_type: float = 2.0, scale_grad_by_freq: bool = False, sparse: bool = False) -> Tensor:
    """Look up rows of ``weight``: ``out[..., :] = weight[input[...], :]``, PyTorch's ``F.embedding``.

    Args:
        input: integer indices, any shape ``[*]``, each in ``[0, num_embeddings)``.
        weight: ``[num_embeddings, embedding_dim]`` float.
        padding_idx: rows looked up at this index get no gradient (negative counts from the end).
        max_norm: if given, every row referenced by ``input`` whose ``norm_type``-norm exceeds it is first
            rescaled to norm ``max_norm`` in ``weight`` itself (its ``.data`` is replaced; no gradient
            flows through the rescaling), as in PyTorch.
        norm_type: the p of the p-norm for ``max_norm`` (any p > 0, ``inf`` included).
        scale_grad_by_freq: divide each row's gradient by how often its index occurs in ``input``.
        sparse: only False; sparse gradients are not supported.
    Returns: ``[*, embedding_dim]``. The gradient of a row used several times is the sum of its uses
        (their mean under ``scale_grad_by_freq``).
    Raises: TypeError for non-integer indices, a non-float weight or a non-number ``max_norm``/``norm_type``;
        ValueError for an index or ``padding_idx`` out of range, a weight that is not 2-D, a ``max_norm``
        or ``norm_type`` that is not > 0, or ``sparse=True``.
    """
    _check_tensor(input, "input")
    _check_tensor(weight, "weight", (2,))
    _check_float(weight, "weight")
    _check_embedding_options(max_norm, norm_type, sparse, "embedding()")
    if input.dtype.is_floating_point or input.dtype == "bool":
        raise TypeError(f"embedding(): input must hold integer indices, got dtype {input.dtype}")
    num = weight.shape[0]
    if padding_idx is not None:
        if not -num <= int(padding_idx) < num:
            raise ValueError(f"embedding(): padding_idx must be in [-{num}, {num}), got {padding_idx}")
        padding_idx = int(padding_idx) % num
    values = None
    if input.numel():
        values = input.numpy()  # one host sync: an out-of-range index must fail loudly, not read garbage
        low, high = int(values.min()), int(values.max())
        if low < 0 or high >= num:
            raise ValueError(f"embedding(): indices must be in [0, {num}) for weight of shape {weight.shape}, "
                             f"got values in [{low}, {high}]")
    if input.backend is not weight.backend:
        raise ValueError(f"embedding(): input is on {input.device!r} but weight is on {weight.device!r}")
    if max_norm is not None and values is not None:
        _embedding_renorm_(weight, values, float(max_norm), float(norm_type))
    return _Embedding.apply(weight, input._data, padding_idx, bool(scale_grad_by_freq))


# ---------------------------------------------------------------------------------- interpolation

#: The interpolating modes and the input rank each one takes (PyTorch ties them: 'bilinear' is 4-D only, ...).
_INTERPOLATING_RANKS = {"linear": 3, "bilinear": 4, "bicubic": 4, "trilinear": 5}
_INTERPOLATE_MODES = ("nearest", "nearest-exact", *_INTERPOLATING_RANKS)
_SPATIAL_NAMES = {3: "L", 4: "H, W", 5: "D, H, W"}
#: PyTorch's (and OpenCV's) cubic convolution parameter; Keys' -0.5 would give visibly different values.
_CUBIC_A = -0.75


def _nearest_source(in_size: int, out_size: int, scale: float, exact: bool) -> np.ndarray:
    """PyTorch's nearest-neighbour source index of every output position along one dim."""
    # In float32, as PyTorch's kernels compute it, so rounding at the cell borders agrees.
    dst = np.arange(out_size, dtype=np.float32)
    scale = np.float32(scale)
    src = np.floor((dst + np.float32(0.5)) * scale) if exact else np.floor(dst * scale)
    return np.minimum(src.astype(np.int64), in_size - 1)


def _interpolation_taps(in_size: int, out_size: int, ratio: float, align_corners: bool,
                        cubic: bool) -> tuple[np.ndarray, np.ndarray]:
    """PyTorch's source indices and weights (both ``[out_size, taps]``; 2 taps linear, 4 cubic) along one dim.

    ``ratio`` is the source step per output position: ``(in - 1) / (out - 1)`` with align_corners, else
    ``1 / scale_factor`` or ``in / out``.
    """
    # In float64 on the host: the weights are continuous in the source coordinate, so this differs from
    # PyTorch's float32 kernels by rounding only, and agrees with its float64 ones.
    dst = np.arange(out_size, dtype=np.float64)
    src = ratio * dst if align_corners else ratio * (dst + 0.5) - 0.5
    if not cubic and not align_corners:
        src = np.maximum(src, 0.0)  # linear clamps at the border; cubic instead clamps its tap indices
    base = np.minimum(np.floor(src).astype(np.int64), in_size - 1)
    t = np.clip(src - base, 0.0, 1.0)
    if cubic:
        a = _CUBIC_A

        def near(x: np.ndarray) -> np.ndarray:  # |x| <= 1
            return ((a + 2) * x - (a + 3)) * x * x + 1

        def far(x: np.ndarray) -> np.ndarray:  # 1 < |x| < 2
            return ((a * x - 5 * a) * x + 8 * a) * x - 4 * a

        weights = np.stack([far(t + 1), near(t), near(1 - t), far(2 - t)], axis=1)
        index = np.clip(base[:, None] + np.arange(-1, 3), 0, in_size - 1)
    else:
        weights = np.stack([1 - t, t], axis=1)
        index = np.stack([base, base + (base < in_size - 1)], axis=1)
    return index, weights


def interpolate(input: Tensor, size: Any = None, scale_factor: Any = None, mode: str = "nearest",
                align_corners: bool | None = None, recompute_scale_factor: bool | None = None,
                antialias: bool = False) -> Tensor:
    """Resize the spatial dims of ``[N, C, *spatial]`` (1 to 3 spatial dims), PyTorch's ``F.interpolate``.

    Modes: ``'nearest'`` (PyTorch's legacy floor rule) and ``'nearest-exact'`` (any rank) are a gather, so the
    gradient sums over the output positions that read each input element. ``'linear'`` (3-D input),
    ``'bilinear'`` and ``'bicubic'`` (4-D) and ``'trilinear'`` (5-D) are separable: one spatial dim at a
    time, a weighted sum of 2 (linear) or 4 (cubic, A = -0.75, tap indices clamped to the border) gathers
    with weights computed on the host, so they have autograd on every device. The source coordinate of
    output position ``o`` is ``o * (in - 1) / (out - 1)`` with ``align_corners=True`` (0 when out == 1),
    else ``(o + 0.5) * r - 0.5`` with ``r = 1 / scale_factor`` when ``scale_factor`` is given and
    ``recompute_scale_factor`` is not True, else ``r = in / out``; the linear modes clamp it at 0 and
    copy a dim whose size does not change (whatever ``scale_factor``), as PyTorch's kernels do.

    Args:
        input: floating ``[N, C, L]``, ``[N, C, H, W]`` or ``[N, C, D, H, W]`` (the interpolating modes
            need the rank named above).
        size: output spatial size (an int for every dim, or one per dim). Exactly one of size / scale_factor.
        scale_factor: a positive float (or one per dim); the output size is ``floor(in * scale_factor)``.
        mode: ``'nearest'``, ``'nearest-exact'``, ``'linear'``, ``'bilinear'``, ``'bicubic'`` or ``'trilinear'``.
        align_corners: interpolating modes only: True maps the corner pixels' centres onto each other;
            None means False. Must be None for the nearest modes.
        recompute_scale_factor: True computes the source positions from the output size instead of the
            given ``scale_factor`` (as PyTorch does); must not be True with ``size``.
        antialias: must be False (antialiased downsampling is not implemented).
    Returns: ``[N, C, *out_spatial]``, same dtype and device as ``input``.
    Raises: ValueError for another mode (naming it), an interpolating mode on an input of another rank
        (naming the mode and the shape), both or neither of size / scale_factor, a size or scale of the
        wrong length or not positive, an empty output, align_corners set with a nearest mode,
        recompute_scale_factor=True with size, or antialias set; TypeError for a non-floating input to an
        interpolating mode.
    """
    _check_tensor(input, "input", (3, 4, 5))
    if mode not in _INTERPOLATE_MODES:
        raise ValueError(f"interpolate(): mode {mode!r} is not supported; supported modes: {list(_INTERPOLATE_MODES)}")
    rank = _INTERPOLATING_RANKS.get(mode)
    if rank is None and align_corners is not None:
        raise ValueError(f"interpolate(): align_corners can only be set with the interpolating modes "
                         f"(linear, bilinear, bicubic, trilinear), not mode {mode!r}")
    if rank is not None and input.ndim != rank:
        raise ValueError(f"interpolate(): mode {mode!r} needs a {rank}-D input [N, C, {_SPATIAL_NAMES[rank]}], "
                         f"got input of shape {input.shape}")
    if rank is not None and not input.dtype.is_floating_point:
        raise TypeError(f"interpolate(): mode {mode!r} needs a floating-point input, got dtype {input.dtype}")
    if antialias:
        raise ValueError(f"interpolate(): antialias=True is not supported (mode {mode!r})")
    if recompute_scale_factor and size is not None:
        raise ValueError("interpolate(): recompute_scale_factor is not meaningful with an explicit size")
    dims = input.ndim - 2
    in_sizes = input.shape[2:]

    def per_dim(value: Any, name: str, kind: type) -> tuple:
        values = tuple(value) if isinstance(value, tuple | list) else (value,) * dims
        if len(values) != dims:
            raise ValueError(f"interpolate(): {name} must have {dims} elements for input of shape {input.shape}, "
                             f"got {value!r}")
        if not all(isinstance(v, kind) and not isinstance(v, bool) and v > 0 for v in values):
            raise ValueError(f"interpolate(): {name} must be positive, got {value!r}")
        return values

    if (size is None) == (scale_factor is None):
        raise ValueError("interpolate(): give exactly one of size and scale_factor")
    if size is not None:
        out_sizes = tuple(int(n) for n in per_dim(size, "size", int | np.integer))
        scales = [i / o for i, o in zip(in_sizes, out_sizes)]
    else:
        factors = tuple(float(f) for f in per_dim(scale_factor, "scale_factor", int | float | np.number))
        out_sizes = tuple(int(np.floor(i * f)) for i, f in zip(in_sizes, factors))
        if min(out_sizes) < 1:
            raise ValueError(f"interpolate(): scale_factor {scale_factor!r} gives an empty output for input of "
                             f"shape {input.shape}")
        scales = [i / o if recompute_scale_factor else 1.0 / f for i, o, f in zip(in_sizes, out_sizes, factors)]
    out = input
    if rank is not None:
        cubic = mode == "bicubic"
        for d in range(dims):
            n_in, n_out = in_sizes[d], out_sizes[d]
            if align_corners:
                ratio = (n_in - 1) / (n_out - 1) if n_out > 1 else 0.0
            else:
                ratio = scales[d]
            # PyTorch's linear kernels copy an unchanged size even when 1/scale_factor != 1; its cubic one
            # does not, but at ratio 1 the cubic weights are exactly (0, 1, 0, 0).
            if n_out == n_in and (not cubic or ratio == 1.0):
                continue
            index, weights = _interpolation_taps(n_in, n_out, ratio, bool(align_corners), cubic)
            leading = (slice(None),) * (2 + d)
            weight_shape = (n_out,) + (1,) * (dims - 1 - d)  # broadcasts over the later spatial dims
            total = None
            for k in range(index.shape[1]):
                w = Tensor(weights[:, k].reshape(weight_shape), dtype=input.dtype, device=input.backend)
                term = out[leading + (index[:, k],)] * w
                total = term if total is None else total + term
            out = total
        return out
    for d in range(dims):
        if out_sizes[d] == in_sizes[d] and scales[d] == 1.0:
            continue
        src = _nearest_source(in_sizes[d], out_sizes[d], scales[d], mode == "nearest-exact")
        out = out[(slice(None),) * (2 + d) + (src,)]
    return out


# The smaller activations, distances, ranking losses, instance_norm and attention, composed of the ops above
# (a star import: their names are composite.__all__; ``threshold`` is also a parameter name in this file).
from .composite import *  # noqa: E402, F403
from .composite import __all__ as _composite_names  # noqa: E402

__all__ += _composite_names

# PyTorch names deliberately missing here raise an AttributeError saying so (framework/unsupported.py).
from ..unsupported import module_getattr as _module_getattr  # noqa: E402

__getattr__ = _module_getattr(__name__)
