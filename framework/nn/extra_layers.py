"""Module forms of :mod:`framework.nn.functional.composite` (the smaller activations, distances, ranking losses,
instance norm), the 2-D padding layers and ``Bilinear``, with PyTorch's names, arguments, parameters and
reprs. ``inplace=True`` is accepted and returns a new tensor, as the other activations."""

from __future__ import annotations

import math
from typing import Any

from ..tensor import Tensor, empty
from . import functional as F
from . import init
from .functional._args import _positive_count, _single
from .layers import _conv_extra_repr, _new_parameter, _positive_int, _reset_weight_and_bias
from .loss import _Loss
from .module import Module
from .parameter import Parameter

__all__ = [
    "CELU", "GLU", "SELU", "Bilinear", "ConstantPad2d", "ConvTranspose1d", "CosineSimilarity", "Hardsigmoid",
    "Hardswish",
    "InstanceNorm1d", "InstanceNorm2d", "LogSigmoid", "MarginRankingLoss", "PReLU", "PairwiseDistance",
    "ReLU6", "ReflectionPad2d", "ReplicationPad2d", "Softmin", "Softsign", "Tanhshrink", "Threshold",
    "TripletMarginLoss", "ZeroPad2d",
]


class _Activation(Module):
    """An elementwise activation without options (PyTorch's repr shows ``inplace=True`` only when set)."""

    _fn = staticmethod(lambda x: x)

    def __init__(self, inplace: bool = False):
        super().__init__()
        self.inplace = inplace

    def forward(self, input: Tensor) -> Tensor:
        return type(self)._fn(input)

    def extra_repr(self) -> str:
        return "inplace=True" if self.inplace else ""


class ReLU6(_Activation):
    """``min(max(x, 0), 6)``."""
    _fn = staticmethod(F.relu6)


class Hardswish(_Activation):
    """``x * relu6(x + 3) / 6``."""
    _fn = staticmethod(F.hardswish)

    def extra_repr(self) -> str:
        return ""


class Hardsigmoid(_Activation):
    """``relu6(x + 3) / 6``."""
    _fn = staticmethod(F.hardsigmoid)

    def extra_repr(self) -> str:
        return ""


class SELU(_Activation):
    """Scaled ELU with the self-normalising constants."""
    _fn = staticmethod(F.selu)


class LogSigmoid(Module):
    """``log(sigmoid(x))``."""

    def forward(self, input: Tensor) -> Tensor:
        return F.logsigmoid(input)


class Softsign(Module):
    """``x / (1 + |x|)``."""

    def forward(self, input: Tensor) -> Tensor:
        return F.softsign(input)


class Tanhshrink(Module):
    """``x - tanh(x)``."""

    def forward(self, input: Tensor) -> Tensor:
        return F.tanhshrink(input)


class Softmin(Module):
    """``softmax(-x, dim)``."""

    def __init__(self, dim: int | None = None):
        super().__init__()
        self.dim = dim

    def forward(self, input: Tensor) -> Tensor:
        return F.softmin(input, self.dim)

    def extra_repr(self) -> str:
        return f"dim={self.dim}"


class GLU(Module):
    """Gated linear unit over ``dim`` (halves ``a, b``: ``a * sigmoid(b)``)."""

    def __init__(self, dim: int = -1):
        super().__init__()
        self.dim = dim

    def forward(self, input: Tensor) -> Tensor:
        return F.glu(input, self.dim)

    def extra_repr(self) -> str:
        return f"dim={self.dim}"


class Threshold(Module):
    """``x if x > threshold else value``."""

    def __init__(self, threshold: float, value: float, inplace: bool = False):
        super().__init__()
        self.threshold, self.value, self.inplace = threshold, value, inplace

    def forward(self, input: Tensor) -> Tensor:
        return F.threshold(input, self.threshold, self.value)

    def extra_repr(self) -> str:
        return f"threshold={self.threshold}, value={self.value}" + (", inplace=True" if self.inplace else "")


class CELU(Module):
    """``x if x > 0 else alpha * (exp(x / alpha) - 1)``."""

    def __init__(self, alpha: float = 1.0, inplace: bool = False):
        super().__init__()
        self.alpha, self.inplace = alpha, inplace

    def forward(self, input: Tensor) -> Tensor:
        return F.celu(input, self.alpha)

    def extra_repr(self) -> str:
        return f"alpha={self.alpha}" + (", inplace=True" if self.inplace else "")


class PReLU(Module):
    """``x if x > 0 else a * x`` with a learned ``a``: one value, or one per channel (dim 1)."""

    def __init__(self, num_parameters: int = 1, init: float = 0.25, device: Any = None, dtype: Any = None):
        super().__init__()
        if not isinstance(num_parameters, int) or num_parameters < 1:
            raise ValueError(f"PReLU: num_parameters must be a positive int, got {num_parameters!r}")
        self.num_parameters, self.init = num_parameters, init
        self.weight = Parameter(empty(num_parameters, dtype=dtype, device=device).fill_(init))

    def forward(self, input: Tensor) -> Tensor:
        return F.prelu(input, self.weight)

    def extra_repr(self) -> str:
        return f"num_parameters={self.num_parameters}"


class CosineSimilarity(Module):
    """Cosine similarity of two inputs along ``dim``."""

    def __init__(self, dim: int = 1, eps: float = 1e-8):
        super().__init__()
        self.dim, self.eps = dim, eps

    def forward(self, x1: Tensor, x2: Tensor) -> Tensor:
        return F.cosine_similarity(x1, x2, self.dim, self.eps)


class PairwiseDistance(Module):
    """``‖x1 - x2 + eps‖_p`` over the last dim."""

    def __init__(self, p: float = 2.0, eps: float = 1e-6, keepdim: bool = False):
        super().__init__()
        self.norm, self.eps, self.keepdim = p, eps, keepdim

    def forward(self, x1: Tensor, x2: Tensor) -> Tensor:
        return F.pairwise_distance(x1, x2, self.norm, self.eps, self.keepdim)


class MarginRankingLoss(_Loss):
    """``max(0, -y * (x1 - x2) + margin)``."""

    def __init__(self, margin: float = 0.0, reduction: str = "mean"):
        super().__init__(reduction)
        self.margin = margin

    def forward(self, input1: Tensor, input2: Tensor, target: Tensor) -> Tensor:
        return F.margin_ranking_loss(input1, input2, target, self.margin, self.reduction)


class TripletMarginLoss(_Loss):
    """``max(d(a, p) - d(a, n) + margin, 0)``."""

    def __init__(self, margin: float = 1.0, p: float = 2.0, eps: float = 1e-6, swap: bool = False,
                 reduction: str = "mean"):
        super().__init__(reduction)
        self.margin, self.p, self.eps, self.swap = margin, p, eps, swap

    def forward(self, anchor: Tensor, positive: Tensor, negative: Tensor) -> Tensor:
        return F.triplet_margin_loss(anchor, positive, negative, self.margin, self.p, self.eps, self.swap,
                                     self.reduction)


def _padding4(padding: Any, name: str) -> tuple[int, int, int, int]:
    if isinstance(padding, int) and not isinstance(padding, bool):
        return (padding,) * 4
    if isinstance(padding, (tuple, list)) and len(padding) == 4 and all(isinstance(p, int) for p in padding):
        return tuple(padding)
    raise ValueError(f"{name}: padding must be an int or 4 ints (left, right, top, bottom), got {padding!r}")


class _Pad2d(Module):
    _mode = "constant"

    def __init__(self, padding: Any, value: float = 0.0):
        super().__init__()
        self.padding = _padding4(padding, type(self).__name__)
        self.value = value

    def forward(self, input: Tensor) -> Tensor:
        if self._mode == "constant":
            return F.pad(input, self.padding, value=self.value)
        return F.pad(input, self.padding, mode=self._mode)

    def extra_repr(self) -> str:
        return f"{self.padding}"


class ZeroPad2d(_Pad2d):
    """Pads the last two dims with zeros: ``padding`` is an int or (left, right, top, bottom)."""

    def __init__(self, padding: Any):
        super().__init__(padding, 0.0)


class ConstantPad2d(_Pad2d):
    """Pads the last two dims with ``value``."""

    def extra_repr(self) -> str:
        return f"padding={self.padding}, value={self.value}"


class ReflectionPad2d(_Pad2d):
    """Pads the last two dims with their reflection (edge not repeated)."""
    _mode = "reflect"

    def __init__(self, padding: Any):
        super().__init__(padding)


class ReplicationPad2d(_Pad2d):
    """Pads the last two dims by repeating the edge."""
    _mode = "replicate"

    def __init__(self, padding: Any):
        super().__init__(padding)


class _InstanceNorm(Module):
    _ndim = 2

    def __init__(self, num_features: int, eps: float = 1e-5, momentum: float = 0.1, affine: bool = False,
                 track_running_stats: bool = False, device: Any = None, dtype: Any = None):
        super().__init__()
        if track_running_stats:
            raise NotImplementedError(f"{type(self).__name__}: track_running_stats=True (running statistics) "
                                      "is not supported")
        self.num_features, self.eps, self.momentum = num_features, eps, momentum
        self.affine, self.track_running_stats = affine, track_running_stats
        if affine:
            self.weight = Parameter(empty(num_features, dtype=dtype, device=device).fill_(1.0))
            self.bias = Parameter(empty(num_features, dtype=dtype, device=device).fill_(0.0))
        else:
            self.register_parameter("weight", None)
            self.register_parameter("bias", None)

    def forward(self, input: Tensor) -> Tensor:
        if input.ndim not in (self._ndim + 1, self._ndim + 2):
            raise ValueError(f"{type(self).__name__}: expected {self._ndim + 1}-D or {self._ndim + 2}-D input, "
                             f"got shape {input.shape}")
        if input.ndim == self._ndim + 1:  # unbatched [C, *]
            return F.instance_norm(input.unsqueeze(0), weight=self.weight, bias=self.bias, eps=self.eps)[0]
        return F.instance_norm(input, weight=self.weight, bias=self.bias, eps=self.eps)

    def extra_repr(self) -> str:
        return (f"{self.num_features}, eps={self.eps}, momentum={self.momentum}, affine={self.affine}, "
                f"track_running_stats={self.track_running_stats}")


class InstanceNorm1d(_InstanceNorm):
    """Instance normalisation of ``[N, C, L]`` input (no running statistics)."""
    _ndim = 1


class InstanceNorm2d(_InstanceNorm):
    """Instance normalisation of ``[N, C, H, W]`` input (no running statistics)."""


class Bilinear(Module):
    """``y = x1^T W x2 + b`` with ``W`` of shape ``[out, in1, in2]``, PyTorch's init ``U(-1/sqrt(in1), ..)``."""

    def __init__(self, in1_features: int, in2_features: int, out_features: int, bias: bool = True,
                 device: Any = None, dtype: Any = None):
        super().__init__()
        self.in1_features, self.in2_features, self.out_features = in1_features, in2_features, out_features
        self.weight = Parameter(empty(out_features, in1_features, in2_features, dtype=dtype, device=device))
        self.bias = Parameter(empty(out_features, dtype=dtype, device=device)) if bias else None
        bound = 1 / math.sqrt(in1_features)
        init.uniform_(self.weight, -bound, bound)
        if self.bias is not None:
            init.uniform_(self.bias, -bound, bound)

    def forward(self, input1: Tensor, input2: Tensor) -> Tensor:
        if input1.shape[-1] != self.in1_features or input2.shape[-1] != self.in2_features:
            raise ValueError(f"Bilinear: inputs must end in {self.in1_features} and {self.in2_features} features, "
                             f"got shapes {input1.shape} and {input2.shape}")
        # x1 [*, i] . W [o, i, j] -> [*, o, j], then . x2 [*, j] -> [*, o]
        left = (input1.unsqueeze(-2).unsqueeze(-2) @ self.weight).squeeze(-2)
        out = (left * input2.unsqueeze(-2)).sum(-1)
        return out + self.bias if self.bias is not None else out

    def extra_repr(self) -> str:
        return (f"in1_features={self.in1_features}, in2_features={self.in2_features}, "
                f"out_features={self.out_features}, bias={self.bias is not None}")


class ConvTranspose1d(Module):
    """Transposed 1-D convolution, PyTorch's ``nn.ConvTranspose1d`` (runs as :func:`F.conv_transpose1d`).

    Args: as :class:`ConvTranspose2d` with ints (or 1-tuples) for kernel_size, stride, padding,
        output_padding (smaller than stride or dilation) and dilation; ``padding_mode`` only ``'zeros'``.
    Shapes: ``weight [C_in, C_out/groups, k]``, ``bias [C_out]``. ``output_size`` in forward is not supported.
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size: Any, stride: Any = 1, padding: Any = 0,
                 output_padding: Any = 0, groups: int = 1, bias: bool = True, dilation: Any = 1,
                 padding_mode: str = "zeros", device: Any = None, dtype: Any = None):
        super().__init__()
        name = type(self).__name__
        self.in_channels = _positive_int(in_channels, "in_channels", name)
        self.out_channels = _positive_int(out_channels, "out_channels", name)
        self.groups = _positive_count(groups, "groups", name)
        if self.in_channels % self.groups or self.out_channels % self.groups:
            raise ValueError(f"{name}: in_channels ({in_channels}) and out_channels ({out_channels}) must be "
                             f"divisible by groups ({groups})")
        self.kernel_size = (_single(kernel_size, "kernel_size", 1, name),)
        self.stride = (_single(stride, "stride", 1, name),)
        self.dilation = (_single(dilation, "dilation", 1, name),)
        if isinstance(padding, str):
            raise ValueError(f"{name}: padding must be an int or a 1-tuple, got {padding!r}")
        self.padding = (_single(padding, "padding", 0, name),)
        self.output_padding = (_single(output_padding, "output_padding", 0, name),)
        if self.output_padding[0] >= max(self.stride[0], self.dilation[0]):
            raise ValueError(f"{name}: output_padding {self.output_padding} must be smaller than either stride "
                             f"{self.stride} or dilation {self.dilation}")
        if padding_mode != "zeros":
            raise ValueError(f"{name}: only padding_mode='zeros' is supported, got {padding_mode!r}")
        self.padding_mode, self.transposed = padding_mode, True
        self.weight = _new_parameter((self.in_channels, self.out_channels // self.groups, self.kernel_size[0]),
                                     device, dtype, name)
        if bias:
            self.bias = _new_parameter((self.out_channels,), device, dtype, name)
        else:
            self.register_parameter("bias", None)
        _reset_weight_and_bias(self.weight, self.bias)

    def forward(self, input: Tensor, output_size: Any = None) -> Tensor:
        if output_size is not None:
            raise NotImplementedError(f"{type(self).__name__}: output_size is not supported; give output_padding")
        return F.conv_transpose1d(input, self.weight, self.bias, self.stride, self.padding, self.output_padding,
                                  self.groups, self.dilation)

    def extra_repr(self) -> str:
        return _conv_extra_repr(self)
