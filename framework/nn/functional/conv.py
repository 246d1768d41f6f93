"""Convolutions: conv1d, conv2d (groups, dilation, 'same'/'valid' padding, padding modes) and conv_transpose2d."""

from __future__ import annotations

from typing import Any

import numpy as np

from ...ops.conv2d import Conv2d, Conv2dReluMaxPool2d, ConvTranspose2d, DilateWeight
from ...tensor import Tensor, cat
from ._args import _batched, _check_float, _check_tensor, _pair, _positive_count, _same_padding, _single
from .shape import pad


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
    groups = _positive_count(groups, "groups", f"{name}()")
    if min(input.shape[1:]) == 0:
        raise ValueError(f"{name}(): input must have non-empty channel and spatial dims (only the batch may be "
                         f"empty), got shape {input.shape}")
    if min(weight.shape) == 0:
        raise ValueError(f"{name}(): weight must have no empty dim, got shape {weight.shape}")
    return input, unbatched, groups


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
        weight = DilateWeight.apply(weight, dilation)
        R, S = weight.shape[2:]
    Hp, Wp = input.shape[2] + 2 * padding[0], input.shape[3] + 2 * padding[1]
    if R > Hp or S > Wp:
        raise ValueError(f"conv2d(): kernel size ({R}, {S}) (dilated) is larger than the padded input "
                         f"({Hp}, {Wp}) for input shape {input.shape} and padding {padding}")
    if groups == 1:
        out = Conv2d.apply(input, weight, bias, stride, padding)
    else:
        Kg = K // groups
        parts = [
            Conv2d.apply(input[:, g * Cg:(g + 1) * Cg], weight[g * Kg:(g + 1) * Kg],
                          None if bias is None else bias[g * Kg:(g + 1) * Kg], stride, padding)
            for g in range(groups)
        ]
        out = cat(parts, dim=1)
    return out.squeeze(0) if unbatched else out


def _conv2d_relu_max_pool2d(input: Any, weight: Tensor, bias: Tensor | None, stride: tuple[int, int],
                            padding: tuple[int, int], pool_kernel: Any) -> Tensor | None:
    """``max_pool2d(relu(conv2d(input, weight, bias, stride, padding)), pool_kernel)`` (pool stride = kernel, no pool
    padding) as one op, where the device's kernels have the fused CPU extension (the numpy kernels) and the arguments
    are plain ones: a batched, non-empty float input of weight's device and dtype, matching channels, a bias of
    weight's dtype, the pool fitting the conv's output. None otherwise: the caller runs the modules, which raise what
    they raise. ``Sequential``'s rule (framework/nn/utils/fusion.py) decides the rest."""
    if not isinstance(input, Tensor) or input.ndim != 4 or input.shape[0] == 0:
        return None
    backend = weight.backend
    if getattr(backend.kernels.maxpool2d, "conv2d_relu_maxpool2d_forward", None) is None:
        return None
    if input.backend is not backend or input.dtype != weight.dtype or input.shape[1] != weight.shape[1]:
        return None
    if bias is not None and (bias.backend is not backend or bias.dtype != weight.dtype
                             or bias.shape != weight.shape[:1]):
        return None
    if not input.dtype.is_floating_point:
        return None
    (R, S), (sh, sw), (ph, pw) = weight.shape[2:], stride, padding
    kernel = _pair(pool_kernel, "kernel_size", 1)
    P, Q = (input.shape[2] + 2 * ph - R) // sh + 1, (input.shape[3] + 2 * pw - S) // sw + 1
    if P < kernel[0] or Q < kernel[1]:  # also a conv kernel larger than the padded input (then P or Q <= 0)
        return None
    return Conv2dReluMaxPool2d.apply(input, weight, bias, stride, padding, kernel)


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
        weight = DilateWeight.apply(weight, dilation)
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
        parts.append(ConvTranspose2d.apply(x_g, w_g, b_g, stride, padding, (N, Cout_g, Ho, Wo)))
    out = parts[0] if groups == 1 else cat(parts, dim=1)
    return out.squeeze(0) if unbatched else out
