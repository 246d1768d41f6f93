"""Normalisation: Lp normalize, batch_norm, layer_norm, group_norm."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from ... import ops
from ...autograd import no_grad
from ...ops.normalization import Normalize
from ...tensor import Tensor
from ._args import _check_float, _check_float_input, _check_tensor, _normalized_shape


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
    return Normalize.apply(input, float(p), ops.normalize_dim(dim, input.ndim), float(eps))


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
            in place (``copy_`` under ``no_grad``), in its own dtype.
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
                running_mean.copy_(running_mean * (1.0 - momentum) + batch_mean * momentum)
            if running_var is not None:
                unbiased = var.detach().reshape(-1).to(dtype=running_var.dtype) * (count / (count - 1))
                running_var.copy_(running_var * (1.0 - momentum) + unbiased * momentum)
    else:
        if running_mean is None or running_var is None:
            raise ValueError("batch_norm(): running_mean and running_var must be given when training is False")
        centered = input - running_mean.detach().reshape(view).to(dtype=input.dtype)
        var = running_var.detach().reshape(view).to(dtype=input.dtype)
    return _per_channel_affine(centered * (var + eps) ** -0.5, weight, bias)


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
