"""More of PyTorch's ``torch.nn.functional``, composed only of differentiable Tensor ops (no kernels of their
own): the smaller activations (relu6, hardswish, hardsigmoid, logsigmoid, softsign, tanhshrink, softmin, glu,
threshold, selu, celu, prelu), distances (cosine_similarity, pairwise_distance), two ranking losses,
instance_norm, scaled_dot_product_attention and gumbel_softmax. Their gradients come from the ops they are
built of; ``framework.nn.functional`` re-exports them, ``framework.nn.extra_layers`` wraps them as modules.
"""

from __future__ import annotations

import math
from typing import Any

from ...ops.activation import Hardsigmoid, Hardswish, Prelu
from ...tensor import Tensor, full, minimum, ones, rand_like, where, zeros
from ._args import _check_reduction, _float_tensor, _reduce, _single
from .activation import elu, hardtanh, softplus
from .conv import conv_transpose2d
from .dropout import dropout
from .normalization import group_norm

__all__ = [
    "celu", "conv_transpose1d", "cosine_similarity", "gumbel_softmax", "glu", "hardsigmoid", "hardswish",
    "instance_norm",
    "logsigmoid", "margin_ranking_loss", "pairwise_distance", "prelu", "relu6", "scaled_dot_product_attention",
    "selu", "softmin", "softsign", "tanhshrink", "threshold", "triplet_margin_loss",
]

# ------------------------------------------------------------------------------------ activations
# ``inplace=True`` is accepted (PyTorch scripts pass it) and returns a new tensor, as the other activations.

def relu6(input: Tensor, inplace: bool = False) -> Tensor:
    """``min(max(x, 0), 6)``: hardtanh on [0, 6] (gradient 0 outside the open interval, as PyTorch)."""
    return hardtanh(_float_tensor(input, "input"), 0.0, 6.0)


def hardsigmoid(input: Tensor, inplace: bool = False) -> Tensor:
    """``relu6(x + 3) / 6``; gradient g/6 on the open interval (-3, 3), 0 elsewhere (a NaN input too)."""
    return Hardsigmoid.apply(_float_tensor(input, "input"))


def hardswish(input: Tensor, inplace: bool = False) -> Tensor:
    """``x * relu6(x + 3) / 6``; no gradient for x <= -3 (none at -inf either), all of it for x >= 3 or NaN."""
    return Hardswish.apply(_float_tensor(input, "input"))


def logsigmoid(input: Tensor) -> Tensor:
    """``log(sigmoid(x)) = -softplus(-x)``, stable for large ``|x|``."""
    return -softplus(-_float_tensor(input, "input"))


def softsign(input: Tensor) -> Tensor:
    """``x / (1 + |x|)``."""
    return _float_tensor(input, "input") / (input.abs() + 1.0)


def tanhshrink(input: Tensor) -> Tensor:
    """``x - tanh(x)``."""
    return _float_tensor(input, "input") - input.tanh()


def softmin(input: Tensor, dim: int | None = None, dtype: Any = None) -> Tensor:
    """``softmax(-x, dim)``."""
    if dim is None:
        raise TypeError("softmin(): dim must be given (PyTorch's implicit dim choice is deprecated)")
    x = _float_tensor(input, "input") if dtype is None else input.to(dtype=dtype)
    return (-x).softmax(dim)


def glu(input: Tensor, dim: int = -1) -> Tensor:
    """Gated linear unit: the input's halves ``a, b`` along ``dim`` give ``a * sigmoid(b)``."""
    _float_tensor(input, "input")
    if input.ndim == 0:
        raise ValueError("glu(): input must have at least one dim, got a 0-d tensor")
    size = input.shape[dim]
    if size % 2:
        raise ValueError(f"glu(): halving dimension must be even, but dimension {dim} is size {size}")
    a, b = input.chunk(2, dim)
    return a * b.sigmoid()


def threshold(input: Tensor, threshold: float, value: float, inplace: bool = False) -> Tensor:
    """``value if x <= threshold else x``: a NaN input is not <= threshold, so it stays NaN and passes its
    gradient, as PyTorch (a select: no gradient where ``value`` is taken, whatever the upstream holds)."""
    x = _float_tensor(input, "input")
    return where(x <= threshold, full(x.shape, float(value), dtype=x.dtype, device=x.device), x)


_SELU_ALPHA, _SELU_SCALE = 1.6732632423543772848170429916717, 1.0507009873554804934193349852946


def selu(input: Tensor, inplace: bool = False) -> Tensor:
    """``scale * elu(x, alpha)`` with the self-normalising constants."""
    return elu(_float_tensor(input, "input"), _SELU_ALPHA) * _SELU_SCALE


def celu(input: Tensor, alpha: float = 1.0, inplace: bool = False) -> Tensor:
    """``x if x > 0 else alpha * (exp(x / alpha) - 1)``."""
    if alpha == 0:
        raise ValueError("celu(): alpha must not be 0 (it divides x)")
    return elu(_float_tensor(input, "input") * (1 / alpha), 1.0) * alpha


def prelu(input: Tensor, weight: Tensor) -> Tensor:
    """``x if x > 0 else weight * x``; ``weight`` is one value or one per channel (dim 1)."""
    x, w = _float_tensor(input, "input"), _float_tensor(weight, "weight")
    if w.ndim != 1:
        raise ValueError(f"prelu(): weight must be 1-D, got shape {w.shape}")
    channels = x.shape[1] if x.ndim >= 2 else 1
    if w.shape[0] not in (1, channels):
        raise ValueError(f"prelu(): weight has {w.shape[0]} values; expected 1 or {channels} (the channels)")
    if x.ndim >= 2:
        w = w.reshape((w.shape[0],) + (1,) * (x.ndim - 2))  # [C, 1, ...]: its gradient sums over the rest
    elif x.ndim == 0:
        w = w.reshape(())  # a 0-d input gives a 0-d output, as PyTorch
    return Prelu.apply(x, w)


# ------------------------------------------------------------------------------------- convolution

def conv_transpose1d(input: Tensor, weight: Tensor, bias: Tensor | None = None, stride: Any = 1, padding: Any = 0,
                     output_padding: Any = 0, groups: int = 1, dilation: Any = 1) -> Tensor:
    """Transposed 1-D convolution, PyTorch's ``F.conv_transpose1d``: :func:`conv_transpose2d` on a height-1
    image (every device's kernels). input ``[N, C_in, L]`` (or ``[C_in, L]``), weight ``[C_in, C_out/groups, k]``
    -> ``[N, C_out, (L-1)*stride - 2*padding + dilation*(k-1) + output_padding + 1]``."""
    owner = "conv_transpose1d()"
    x, w = _float_tensor(input, "input"), _float_tensor(weight, "weight")
    if x.ndim not in (2, 3) or w.ndim != 3:
        raise ValueError(f"{owner}: expected input [N, C, L] or [C, L] and weight [C_in, C_out/groups, k], got "
                         f"shapes {x.shape} and {w.shape}")
    stride, padding = _single(stride, "stride", 1, owner), _single(padding, "padding", 0, owner)
    output_padding = _single(output_padding, "output_padding", 0, owner)
    dilation = _single(dilation, "dilation", 1, owner)
    out = conv_transpose2d(x.unsqueeze(-2), w.unsqueeze(-2), bias, (1, stride), (0, padding), (0, output_padding),
                           groups, (1, dilation))
    return out.squeeze(-2)


# --------------------------------------------------------------------------------------- distances

def cosine_similarity(x1: Tensor, x2: Tensor, dim: int = 1, eps: float = 1e-8) -> Tensor:
    """``x1 . x2 / max(|x1| |x2|, eps)`` along ``dim`` (inputs broadcast), as PyTorch computes it."""
    _float_tensor(x1, "x1"), _float_tensor(x2, "x2")
    dot = (x1 * x2).sum(dim)
    norms = ((x1 * x1).sum(dim) * (x2 * x2).sum(dim)).clamp(min=eps * eps)
    return dot / norms.sqrt()


def pairwise_distance(x1: Tensor, x2: Tensor, p: float = 2.0, eps: float = 1e-6, keepdim: bool = False) -> Tensor:
    """``‖x1 - x2 + eps‖_p`` over the last dim."""
    _float_tensor(x1, "x1"), _float_tensor(x2, "x2")
    return (x1 - x2 + eps).norm(p=p, dim=-1, keepdim=keepdim)


# ------------------------------------------------------------------------------------------ losses

def margin_ranking_loss(input1: Tensor, input2: Tensor, target: Tensor, margin: float = 0.0,
                        reduction: str = "mean") -> Tensor:
    """``max(0, -target * (input1 - input2) + margin)``; target holds 1 or -1."""
    _float_tensor(input1, "input1"), _float_tensor(input2, "input2")
    loss = (-target * (input1 - input2) + margin).relu()
    _check_reduction(reduction, "margin_ranking_loss")
    return _reduce(loss, reduction)


def triplet_margin_loss(anchor: Tensor, positive: Tensor, negative: Tensor, margin: float = 1.0, p: float = 2.0,
                        eps: float = 1e-6, swap: bool = False, reduction: str = "mean") -> Tensor:
    """``max(d(a, p) - d(a, n) + margin, 0)`` with ``d`` the pairwise distance; ``swap`` uses the smaller of
    ``d(a, n)`` and ``d(p, n)``."""
    d_pos = pairwise_distance(anchor, positive, p, eps)
    d_neg = pairwise_distance(anchor, negative, p, eps)
    if swap:
        d_neg = minimum(d_neg, pairwise_distance(positive, negative, p, eps))
    loss = (d_pos - d_neg + margin).relu()
    _check_reduction(reduction, "triplet_margin_loss")
    return _reduce(loss, reduction)


# --------------------------------------------------------------------------------- normalization

def instance_norm(input: Tensor, running_mean: Tensor | None = None, running_var: Tensor | None = None,
                  weight: Tensor | None = None, bias: Tensor | None = None, use_input_stats: bool = True,
                  momentum: float = 0.1, eps: float = 1e-5) -> Tensor:
    """Each sample's each channel normalised over its spatial dims (group_norm with one channel per group).
    Running statistics are not supported: NotImplementedError names them."""
    if running_mean is not None or running_var is not None or not use_input_stats:
        raise NotImplementedError("instance_norm(): running statistics (running_mean/running_var, "
                                  "use_input_stats=False, track_running_stats=True) are not supported")
    x = _float_tensor(input, "input")
    if x.ndim < 3:
        raise ValueError(f"instance_norm(): input must be at least 3-D ([N, C, *]), got shape {x.shape}")
    return group_norm(x, x.shape[1], weight, bias, eps)


# ------------------------------------------------------------------------------------- attention

def scaled_dot_product_attention(query: Tensor, key: Tensor, value: Tensor, attn_mask: Tensor | None = None,
                                 dropout_p: float = 0.0, is_causal: bool = False, scale: float | None = None,
                                 enable_gqa: bool = False) -> Tensor:
    """``softmax(q k^T * scale + mask) v`` over the last two dims (``[..., L, E]``, ``[..., S, E]``,
    ``[..., S, Ev]``), PyTorch's reference math: a bool ``attn_mask`` keeps True positions, a float one is
    added; ``is_causal`` keeps ``j <= i``; ``scale`` defaults to ``1/sqrt(E)``. ``enable_gqa`` is not
    supported (NotImplementedError)."""
    q, k, v = _float_tensor(query, "query"), _float_tensor(key, "key"), _float_tensor(value, "value")
    if enable_gqa:
        raise NotImplementedError("scaled_dot_product_attention(): enable_gqa=True is not supported")
    if is_causal and attn_mask is not None:
        raise ValueError("scaled_dot_product_attention(): give attn_mask or is_causal=True, not both")
    L, S = q.shape[-2], k.shape[-2]
    scores = (q @ k.transpose(-2, -1)) * (1 / math.sqrt(q.shape[-1]) if scale is None else scale)
    if is_causal:
        attn_mask = ones(L, S, dtype="bool", device=q.device).tril()
    if attn_mask is not None:
        if attn_mask.dtype == "bool":
            scores = scores.masked_fill(attn_mask.logical_not(), float("-inf"))
        else:
            scores = scores + attn_mask
    weights = scores.softmax(-1)
    if dropout_p > 0:
        weights = dropout(weights, dropout_p, training=True)
    return weights @ v


def gumbel_softmax(logits: Tensor, tau: float = 1.0, hard: bool = False, eps: float = 1e-10,
                   dim: int = -1) -> Tensor:
    """Samples from the Gumbel-softmax distribution; ``hard`` returns one-hot samples whose gradient is
    the soft sample's (straight-through)."""
    x = _float_tensor(logits, "logits")
    u = rand_like(x).clamp(min=1e-20)
    gumbels = -((-u.log()).clamp(min=1e-20).log())
    y = ((x + gumbels) * (1 / tau)).softmax(dim)
    if not hard:
        return y
    index = y.argmax(dim, keepdim=True)
    y_hard = zeros(x.shape, dtype=x.dtype, device=x.device).scatter(dim, index, 1.0)
    return y_hard - y.detach() + y
