"""Layers: Linear, convolutions, pooling, activations, dropout and reshaping, with PyTorch's names,
arguments, parameter layouts and default initialisation.

Each layer holds its Parameters and calls :mod:`framework.nn.functional` in ``forward``; the arithmetic
lives there. Constructor arguments are validated here, with the checks F uses for the same argument
(:mod:`framework.nn.functional._args`): a ``TypeError`` for a wrong type, a ``ValueError`` for a wrong value
(layer sizes, which F never sees, raise ``ValueError`` for both).
"""

from __future__ import annotations

import math
from typing import Any

from .. import ops
from ..dtypes import as_dtype, float32
from ..tensor import Tensor, zeros
from . import functional as F
from . import init
from .functional._args import (
    _adaptive_output_size,
    _divisor_override,
    _dropout_probability,
    _is_int,
    _pair,
    _positive_count,
    _same_padding,
    _single,
)
from .module import Module
from .parameter import Parameter

__all__ = [
    "AdaptiveAvgPool1d", "AdaptiveAvgPool2d", "AdaptiveMaxPool1d", "AdaptiveMaxPool2d", "AvgPool1d", "AvgPool2d",
    "Conv1d", "Conv2d", "MaxPool1d",
    "ConvTranspose2d", "Dropout", "Flatten", "Identity", "LeakyReLU", "Linear", "LinearReLU",
    "LogSoftmax", "MaxPool2d", "ReLU", "Sigmoid", "Softmax", "Tanh", "Unflatten",
    "ELU", "GELU", "Hardtanh", "Mish", "SiLU", "Softplus",
    "Dropout1d", "Dropout2d", "Dropout3d", "PixelShuffle", "PixelUnshuffle",
]


# ------------------------------------------------------------------------------- argument checks


# The checks F shares (pairs, groups, factors, ...) live in functional/_args.py, so a mistake raises the same
# exception from nn and F.


def _positive_int(value: Any, name: str, owner: str) -> int:
    """A layer size (in_features, num_features, ...)."""
    if not _is_int(value) or value <= 0:
        raise ValueError(f"{owner}: {name} must be a positive int, got {value!r}")
    return int(value)


def _new_parameter(shape: tuple[int, ...], device: Any, dtype: Any, owner: str) -> Parameter:
    """A zero Parameter of ``shape`` (filled by ``reset_parameters`` right after)."""
    dtype = as_dtype(dtype) if dtype is not None else float32
    if not dtype.is_floating_point:
        raise TypeError(f"{owner}: dtype must be floating point, got {dtype}")
    return Parameter(zeros(shape, dtype=dtype, device=device))


def _reset_weight_and_bias(weight: Parameter, bias: Parameter | None) -> None:
    # PyTorch's default for Linear and every conv: kaiming_uniform_(a=sqrt(5)) gives U(-1/sqrt(fan_in),
    # 1/sqrt(fan_in)) for the weight, and the bias uses the same bound.
    init.kaiming_uniform_(weight, a=math.sqrt(5))
    if bias is not None:
        fan_in, _ = init._calculate_fan_in_and_fan_out(weight)
        bound = 1 / math.sqrt(fan_in) if fan_in > 0 else 0.0
        init.uniform_(bias, -bound, bound)


# ----------------------------------------------------------------------------------------- linear


class Linear(Module):
    """``y = x @ weight.T + bias``.

    Args:
        in_features, out_features: positive ints. bias: whether to learn an additive bias.
        device, dtype: where and how to store the parameters (default device, float32).
    Shapes: input ``[*, in_features]`` -> ``[*, out_features]``; ``weight [out, in]``, ``bias [out]``.
    Raises: ValueError for non-positive sizes, TypeError for a non-float dtype.
    """

    def __init__(self, in_features: int, out_features: int, bias: bool = True, device: Any = None,
                 dtype: Any = None):
        super().__init__()
        name = type(self).__name__
        self.in_features = _positive_int(in_features, "in_features", name)
        self.out_features = _positive_int(out_features, "out_features", name)
        self.weight = _new_parameter((self.out_features, self.in_features), device, dtype, name)
        if bias:
            self.bias = _new_parameter((self.out_features,), device, dtype, name)
        else:
            self.register_parameter("bias", None)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """PyTorch's default initialisation (see :func:`_reset_weight_and_bias`)."""
        _reset_weight_and_bias(self.weight, self.bias)

    def forward(self, input: Tensor) -> Tensor:
        return F.linear(input, self.weight, self.bias)

    def extra_repr(self) -> str:
        return f"in_features={self.in_features}, out_features={self.out_features}, bias={self.bias is not None}"


class LinearReLU(Linear):
    """``relu(x @ weight.T + bias)`` as one fused kernel call; same arguments and parameters as Linear.

    The explicit form of the fusion ``Sequential`` does for a ``Linear`` followed by a ``ReLU``
    (:mod:`framework.nn.utils.fusion`), for a model written by hand. A model ported from PyTorch keeps its
    ``nn.Linear, nn.ReLU`` pair, and with it PyTorch's indexing and ``state_dict``. Not PyTorch's
    ``torch.ao.nn.intrinsic.LinearReLU`` (a Sequential of the two modules, keys ``0.weight``): this one
    is a Linear, keys ``weight`` and ``bias``.
    """

    def forward(self, input: Tensor) -> Tensor:
        return F.linear_relu(input, self.weight, self.bias)


# ------------------------------------------------------------------------------------------ convs


class Conv2d(Module):
    """2-D convolution (cross-correlation), PyTorch's ``nn.Conv2d``.

    Args:
        in_channels, out_channels: positive ints, both divisible by ``groups``.
        kernel_size, stride, dilation: int or (h, w) pair, >= 1.
        padding: int or (h, w) pair >= 0, ``'valid'`` (no padding) or ``'same'`` (output size = input
            size; needs stride 1, extra padding goes bottom/right as in PyTorch).
        groups: positive int. bias: whether to learn a bias.
        padding_mode: ``'zeros'``, ``'reflect'``, ``'replicate'`` or ``'circular'`` (non-zero modes pad with
            ``F.pad`` first, then convolve without padding, as PyTorch does).
    Shapes: input ``[N, C_in, H, W]`` (or unbatched ``[C_in, H, W]``) -> ``[N, C_out, P, Q]``;
        ``weight [C_out, C_in/groups, R, S]``, ``bias [C_out]``.
    Raises: ValueError naming the argument for any invalid value.
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size: Any, stride: Any = 1, padding: Any = 0,
                 dilation: Any = 1, groups: int = 1, bias: bool = True, padding_mode: str = "zeros",
                 device: Any = None, dtype: Any = None):
        super().__init__()
        name = type(self).__name__
        self.in_channels = _positive_int(in_channels, "in_channels", name)
        self.out_channels = _positive_int(out_channels, "out_channels", name)
        self.groups = _positive_count(groups, "groups", name)
        if self.in_channels % self.groups:
            raise ValueError(f"{name}: in_channels ({in_channels}) must be divisible by groups ({groups})")
        if self.out_channels % self.groups:
            raise ValueError(f"{name}: out_channels ({out_channels}) must be divisible by groups ({groups})")
        self.kernel_size = _pair(kernel_size, "kernel_size", 1, name)
        self.stride = _pair(stride, "stride", 1, name)
        self.dilation = _pair(dilation, "dilation", 1, name)
        if isinstance(padding, str):
            if padding not in ("same", "valid"):
                raise ValueError(f"{name}: padding must be an int, a pair, 'valid' or 'same', got {padding!r}")
            if padding == "same" and self.stride != (1, 1):
                raise ValueError(f"{name}: padding='same' is not supported for strided convolutions "
                                 f"(stride={self.stride})")
            self.padding: tuple[int, int] | str = padding
        else:
            self.padding = _pair(padding, "padding", 0, name)
        _check_padding_mode(padding_mode, name, _CONV_PADDING_MODES)
        self.padding_mode = padding_mode
        self.output_padding = (0, 0)
        self.transposed = False
        R, S = self.kernel_size
        self.weight = _new_parameter((self.out_channels, self.in_channels // self.groups, R, S), device, dtype, name)
        if bias:
            self.bias = _new_parameter((self.out_channels,), device, dtype, name)
        else:
            self.register_parameter("bias", None)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        _reset_weight_and_bias(self.weight, self.bias)

    def forward(self, input: Tensor) -> Tensor:
        if self.padding_mode == "zeros":
            return F.conv2d(input, self.weight, self.bias, self.stride, self.padding, self.dilation, self.groups)
        if self.padding == "valid":
            pads = (0, 0, 0, 0)
        elif self.padding == "same":
            pads = _same_padding(self.kernel_size, self.dilation)
        else:
            pads = (self.padding[1], self.padding[1], self.padding[0], self.padding[0])
        input = F.pad(input, pads, mode=self.padding_mode)
        return F.conv2d(input, self.weight, self.bias, self.stride, 0, self.dilation, self.groups)

    def extra_repr(self) -> str:
        return _conv_extra_repr(self)


class Conv1d(Module):
    """1-D convolution (cross-correlation), PyTorch's ``nn.Conv1d``; runs as :func:`F.conv1d` (conv2d on a
    height-1 image, so every device's conv2d kernels do the work).

    Args:
        in_channels, out_channels: positive ints, both divisible by ``groups``.
        kernel_size, stride, dilation: int or 1-tuple, >= 1 (stored as 1-tuples, as PyTorch does).
        padding: int or 1-tuple >= 0, ``'valid'`` or ``'same'`` (stride 1 only; the odd extra zero goes on the
            right, as in PyTorch).
        groups: positive int. bias: whether to learn a bias.
        padding_mode: ``'zeros'``, ``'reflect'``, ``'replicate'`` or ``'circular'`` (non-zero modes pad
            with ``F.pad`` first, then convolve without padding, as PyTorch does).
    Shapes: input ``[N, C_in, L]`` (or unbatched ``[C_in, L]``) -> ``[N, C_out, L_out]``;
        ``weight [C_out, C_in/groups, k]``, ``bias [C_out]``.
    Raises: ValueError naming the argument for any invalid value.
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size: Any, stride: Any = 1, padding: Any = 0,
                 dilation: Any = 1, groups: int = 1, bias: bool = True, padding_mode: str = "zeros",
                 device: Any = None, dtype: Any = None):
        super().__init__()
        name = type(self).__name__
        self.in_channels = _positive_int(in_channels, "in_channels", name)
        self.out_channels = _positive_int(out_channels, "out_channels", name)
        self.groups = _positive_count(groups, "groups", name)
        if self.in_channels % self.groups:
            raise ValueError(f"{name}: in_channels ({in_channels}) must be divisible by groups ({groups})")
        if self.out_channels % self.groups:
            raise ValueError(f"{name}: out_channels ({out_channels}) must be divisible by groups ({groups})")
        self.kernel_size = (_single(kernel_size, "kernel_size", 1, name),)
        self.stride = (_single(stride, "stride", 1, name),)
        self.dilation = (_single(dilation, "dilation", 1, name),)
        if isinstance(padding, str):
            if padding not in ("same", "valid"):
                raise ValueError(f"{name}: padding must be an int, a 1-tuple, 'valid' or 'same', got {padding!r}")
            if padding == "same" and self.stride != (1,):
                raise ValueError(f"{name}: padding='same' is not supported for strided convolutions "
                                 f"(stride={self.stride})")
            self.padding: tuple[int] | str = padding
        else:
            self.padding = (_single(padding, "padding", 0, name),)
        _check_padding_mode(padding_mode, name, _CONV_PADDING_MODES)
        self.padding_mode = padding_mode
        self.output_padding = (0,)
        self.transposed = False
        self.weight = _new_parameter((self.out_channels, self.in_channels // self.groups, self.kernel_size[0]),
                                     device, dtype, name)
        if bias:
            self.bias = _new_parameter((self.out_channels,), device, dtype, name)
        else:
            self.register_parameter("bias", None)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        _reset_weight_and_bias(self.weight, self.bias)

    def forward(self, input: Tensor) -> Tensor:
        if self.padding_mode == "zeros":
            return F.conv1d(input, self.weight, self.bias, self.stride, self.padding, self.dilation, self.groups)
        if self.padding == "valid":
            pads = (0, 0)
        elif self.padding == "same":
            pads = _same_padding((1,) + self.kernel_size, (1,) + self.dilation)[:2]
        else:
            pads = (self.padding[0], self.padding[0])
        input = F.pad(input, pads, mode=self.padding_mode)
        return F.conv1d(input, self.weight, self.bias, self.stride, 0, self.dilation, self.groups)

    def extra_repr(self) -> str:
        return _conv_extra_repr(self)


class ConvTranspose2d(Module):
    """Transposed 2-D convolution (the gradient of Conv2d w.r.t. its input), PyTorch's ``nn.ConvTranspose2d``.

    Args:
        in_channels, out_channels: positive ints, both divisible by ``groups``.
        kernel_size, stride, dilation: int or pair, >= 1. padding: int or pair >= 0 (no strings).
        output_padding: int or pair added to the bottom/right of the output; each must be smaller
            than the stride or the dilation of its dimension.
        padding_mode: only ``'zeros'``.
    Shapes: input ``[N, C_in, H, W]`` -> ``[N, C_out, (H-1)*sh - 2*ph + dh*(R-1) + oph + 1, ...]``;
        ``weight [C_in, C_out/groups, R, S]`` (PyTorch's layout), ``bias [C_out]``.
    Raises: ValueError naming the argument for any invalid value.
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size: Any, stride: Any = 1, padding: Any = 0,
                 output_padding: Any = 0, groups: int = 1, bias: bool = True, dilation: Any = 1,
                 padding_mode: str = "zeros", device: Any = None, dtype: Any = None):
        super().__init__()
        name = type(self).__name__
        self.in_channels = _positive_int(in_channels, "in_channels", name)
        self.out_channels = _positive_int(out_channels, "out_channels", name)
        self.groups = _positive_count(groups, "groups", name)
        if self.in_channels % self.groups:
            raise ValueError(f"{name}: in_channels ({in_channels}) must be divisible by groups ({groups})")
        if self.out_channels % self.groups:
            raise ValueError(f"{name}: out_channels ({out_channels}) must be divisible by groups ({groups})")
        self.kernel_size = _pair(kernel_size, "kernel_size", 1, name)
        self.stride = _pair(stride, "stride", 1, name)
        self.dilation = _pair(dilation, "dilation", 1, name)
        if isinstance(padding, str):
            raise ValueError(f"{name}: padding must be an int or a pair (string padding is not supported for "
                             f"transposed convolutions), got {padding!r}")
        self.padding = _pair(padding, "padding", 0, name)
        self.output_padding = _pair(output_padding, "output_padding", 0, name)
        for op, s, d in zip(self.output_padding, self.stride, self.dilation):
            if op >= max(s, d):
                raise ValueError(f"{name}: output_padding {self.output_padding} must be smaller than either "
                                 f"stride {self.stride} or dilation {self.dilation}")
        _check_padding_mode(padding_mode, name)
        self.padding_mode = padding_mode
        self.transposed = True
        R, S = self.kernel_size
        self.weight = _new_parameter((self.in_channels, self.out_channels // self.groups, R, S), device, dtype, name)
        if bias:
            self.bias = _new_parameter((self.out_channels,), device, dtype, name)
        else:
            self.register_parameter("bias", None)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        # fan_in comes from weight dim 1 (C_out/groups x R x S), exactly as PyTorch computes it.
        _reset_weight_and_bias(self.weight, self.bias)

    def forward(self, input: Tensor, output_size: Any = None) -> Tensor:
        """``output_size`` (the full or spatial target shape) picks the output_padding, as in PyTorch."""
        output_padding = self._output_padding(input, output_size)
        return F.conv_transpose2d(input, self.weight, self.bias, self.stride, self.padding, output_padding,
                                  self.groups, self.dilation)

    def _output_padding(self, input: Tensor, output_size: Any) -> tuple[int, int]:
        if output_size is None:
            return self.output_padding
        if not isinstance(input, Tensor) or input.ndim not in (3, 4):
            raise ValueError(f"{type(self).__name__}: expected a 4-D input [N, C, H, W] or an unbatched 3-D one, "
                             f"got {getattr(input, 'shape', type(input).__name__)}")
        size = tuple(int(n) for n in output_size)
        if len(size) == input.ndim:
            size = size[-2:]
        if len(size) != 2:
            raise ValueError(f"{type(self).__name__}: output_size must have 2 or {input.ndim} elements, "
                             f"got {output_size!r}")
        padding = []
        for d in range(2):
            smallest = ((input.shape[d - 2] - 1) * self.stride[d] - 2 * self.padding[d]
                        + self.dilation[d] * (self.kernel_size[d] - 1) + 1)
            largest = smallest + self.stride[d] - 1
            if not smallest <= size[d] <= largest:
                raise ValueError(f"{type(self).__name__}: requested output_size {tuple(size)} is not reachable "
                                 f"for input shape {input.shape}; dim {d} must be in [{smallest}, {largest}]")
            padding.append(size[d] - smallest)
        return padding[0], padding[1]

    def extra_repr(self) -> str:
        return _conv_extra_repr(self)


_CONV_PADDING_MODES = ("zeros", "reflect", "replicate", "circular")


def _check_padding_mode(padding_mode: Any, owner: str, supported: tuple[str, ...] = ("zeros",)) -> None:
    if padding_mode not in supported:
        raise ValueError(f"{owner}: padding_mode={padding_mode!r} is not supported; supported: {list(supported)}")


def _conv_extra_repr(m: Conv1d | Conv2d | ConvTranspose2d) -> str:
    zeros, ones = (0,) * len(m.kernel_size), (1,) * len(m.kernel_size)
    s = f"{m.in_channels}, {m.out_channels}, kernel_size={m.kernel_size}, stride={m.stride}"
    if m.padding != zeros:
        s += f", padding={m.padding}"
    if m.dilation != ones:
        s += f", dilation={m.dilation}"
    if m.output_padding != zeros:
        s += f", output_padding={m.output_padding}"
    if m.groups != 1:
        s += f", groups={m.groups}"
    if m.bias is None:
        s += ", bias=False"
    if m.padding_mode != "zeros":
        s += f", padding_mode={m.padding_mode}"
    return s


# --------------------------------------------------------------------------------------- pooling


class MaxPool1d(Module):
    """1-D max pooling, PyTorch's ``nn.MaxPool1d`` (see :func:`F.max_pool1d`).

    Args: kernel_size, stride (default ``kernel_size``), padding, dilation: ints (or 1-tuples), stored as
        given like PyTorch; return_indices; ceil_mode.
    Shapes: ``[N, C, L]`` or ``[C, L]`` -> ``[N, C, floor((L + 2p - d(k - 1) - 1) / s) + 1]``.
    Raises: TypeError/ValueError naming the argument for an invalid value.
    """

    def __init__(self, kernel_size: Any, stride: Any = None, padding: Any = 0, dilation: Any = 1,
                 return_indices: bool = False, ceil_mode: bool = False):
        super().__init__()
        name = type(self).__name__
        _single(kernel_size, "kernel_size", 1, name)
        if stride is not None:
            _single(stride, "stride", 1, name)
        _single(padding, "padding", 0, name)
        _single(dilation, "dilation", 1, name)
        self.kernel_size = kernel_size
        self.stride = stride if stride is not None else kernel_size
        self.padding = padding
        self.dilation = dilation
        self.return_indices = bool(return_indices)
        self.ceil_mode = bool(ceil_mode)

    def forward(self, input: Tensor):
        return F.max_pool1d(input, self.kernel_size, self.stride, self.padding, self.dilation,
                            ceil_mode=self.ceil_mode, return_indices=self.return_indices)

    def extra_repr(self) -> str:
        return (f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}, "
                f"dilation={self.dilation}, ceil_mode={self.ceil_mode}")


class AvgPool1d(Module):
    """1-D average pooling, PyTorch's ``nn.AvgPool1d`` (see :func:`F.avg_pool1d`).

    Args: kernel_size, stride (default ``kernel_size``), padding: ints or 1-tuples (stored as 1-tuples, as
        PyTorch does); ceil_mode; count_include_pad.
    Raises: TypeError/ValueError naming the argument for an invalid value.
    """

    def __init__(self, kernel_size: Any, stride: Any = None, padding: Any = 0, ceil_mode: bool = False,
                 count_include_pad: bool = True):
        super().__init__()
        name = type(self).__name__
        self.kernel_size = (_single(kernel_size, "kernel_size", 1, name),)
        no_stride = stride is None or (isinstance(stride, tuple | list) and not stride)  # torch allows []
        self.stride = self.kernel_size if no_stride else (_single(stride, "stride", 1, name),)
        self.padding = (_single(padding, "padding", 0, name),)
        self.ceil_mode = bool(ceil_mode)
        self.count_include_pad = bool(count_include_pad)

    def forward(self, input: Tensor) -> Tensor:
        return F.avg_pool1d(input, self.kernel_size, self.stride, self.padding, self.ceil_mode,
                            self.count_include_pad)

    def extra_repr(self) -> str:
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"


class AdaptiveAvgPool1d(Module):
    """1-D adaptive average pooling, PyTorch's ``nn.AdaptiveAvgPool1d``: ``[N, C, L] -> [N, C, output_size]``.

    Raises: TypeError/ValueError naming output_size for an invalid one.
    """

    def __init__(self, output_size: Any):
        super().__init__()
        _single(output_size, "output_size", 1, type(self).__name__)
        self.output_size = output_size

    def forward(self, input: Tensor) -> Tensor:
        return F.adaptive_avg_pool1d(input, self.output_size)

    def extra_repr(self) -> str:
        return f"output_size={self.output_size}"


class AdaptiveMaxPool1d(Module):
    """1-D adaptive max pooling, PyTorch's ``nn.AdaptiveMaxPool1d`` (indices into L with
    ``return_indices``). Raises: TypeError/ValueError naming output_size for an invalid one."""

    def __init__(self, output_size: Any, return_indices: bool = False):
        super().__init__()
        _single(output_size, "output_size", 1, type(self).__name__)
        self.output_size = output_size
        self.return_indices = bool(return_indices)

    def forward(self, input: Tensor):
        return F.adaptive_max_pool1d(input, self.output_size, self.return_indices)

    def extra_repr(self) -> str:
        return f"output_size={self.output_size}"


class MaxPool2d(Module):
    """2-D max pooling, PyTorch's ``nn.MaxPool2d``.

    Args:
        kernel_size: int or pair >= 1. stride: int or pair >= 1 (default: ``kernel_size``).
        padding: int or pair >= 0, at most half the effective kernel. dilation: int or pair >= 1.
        ceil_mode: round the output size up (see :func:`F.max_pool2d`).
        return_indices: also return the flat ``h * W + w`` index of each maximum.
    Shapes: ``[N, C, H, W]`` -> ``[N, C, floor((H + 2p - d(k - 1) - 1) / s) + 1, ...]`` (ceil with ceil_mode).
    Raises: ValueError naming the argument for an invalid value.
    """

    def __init__(self, kernel_size: Any, stride: Any = None, padding: Any = 0, dilation: Any = 1,
                 return_indices: bool = False, ceil_mode: bool = False):
        super().__init__()
        name = type(self).__name__
        _pair(kernel_size, "kernel_size", 1, name)
        if stride is not None:
            _pair(stride, "stride", 1, name)
        _pair(padding, "padding", 0, name)
        _pair(dilation, "dilation", 1, name)
        # Stored as given, like PyTorch (so the repr reads the same).
        self.kernel_size = kernel_size
        self.stride = stride if stride is not None else kernel_size
        self.padding = padding
        self.dilation = dilation
        self.return_indices = bool(return_indices)
        self.ceil_mode = bool(ceil_mode)

    def forward(self, input: Tensor):
        return F.max_pool2d(input, self.kernel_size, self.stride, self.padding, self.dilation,
                            ceil_mode=self.ceil_mode, return_indices=self.return_indices)

    def extra_repr(self) -> str:
        return (f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}, "
                f"dilation={self.dilation}, ceil_mode={self.ceil_mode}")


class AvgPool2d(Module):
    """2-D average pooling, PyTorch's ``nn.AvgPool2d``.

    Args:
        kernel_size: int or pair >= 1. stride: int or pair >= 1 (default: ``kernel_size``).
        padding: int or pair >= 0, at most half the kernel. ceil_mode: round the output size up.
        count_include_pad: count the zero padding in the divisor. divisor_override: a non-zero int divisor.
    Shapes: ``[N, C, H, W]`` -> ``[N, C, floor((H + 2p - k) / s) + 1, ...]`` (see :func:`F.avg_pool2d`).
    Raises: ValueError naming the argument for an invalid value.
    """

    def __init__(self, kernel_size: Any, stride: Any = None, padding: Any = 0, ceil_mode: bool = False,
                 count_include_pad: bool = True, divisor_override: int | None = None):
        super().__init__()
        name = type(self).__name__
        _pair(kernel_size, "kernel_size", 1, name)
        if stride is not None and not (isinstance(stride, tuple | list) and not stride):  # torch allows []
            _pair(stride, "stride", 1, name)
        _pair(padding, "padding", 0, name)
        _divisor_override(divisor_override, name)
        # Stored as given, like PyTorch (so the repr reads the same).
        self.kernel_size = kernel_size
        self.stride = stride if stride is not None else kernel_size
        self.padding = padding
        self.ceil_mode = bool(ceil_mode)
        self.count_include_pad = bool(count_include_pad)
        self.divisor_override = divisor_override

    def forward(self, input: Tensor) -> Tensor:
        return F.avg_pool2d(input, self.kernel_size, self.stride, self.padding, self.ceil_mode,
                            self.count_include_pad, self.divisor_override)

    def extra_repr(self) -> str:
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"


class AdaptiveAvgPool2d(Module):
    """2-D adaptive average pooling, PyTorch's ``nn.AdaptiveAvgPool2d``.

    Args:
        output_size: an int or a pair ``(P, Q)`` >= 1; a None entry keeps that input size.
    Shapes: ``[N, C, H, W]`` -> ``[N, C, P, Q]`` (see :func:`F.adaptive_avg_pool2d` for the bins).
    Raises: TypeError / ValueError naming output_size for an invalid one.
    """

    def __init__(self, output_size: Any):
        super().__init__()
        _adaptive_output_size(output_size, type(self).__name__)
        self.output_size = output_size  # as given, like PyTorch (so the repr reads the same)

    def forward(self, input: Tensor) -> Tensor:
        return F.adaptive_avg_pool2d(input, self.output_size)

    def extra_repr(self) -> str:
        return f"output_size={self.output_size}"


class AdaptiveMaxPool2d(Module):
    """2-D adaptive max pooling, PyTorch's ``nn.AdaptiveMaxPool2d``.

    Args:
        output_size: an int or a pair ``(P, Q)`` >= 1; a None entry keeps that input size.
        return_indices: also return the flat ``h * W + w`` index of each maximum.
    Shapes: ``[N, C, H, W]`` -> ``[N, C, P, Q]`` (see :func:`F.adaptive_max_pool2d`).
    Raises: TypeError / ValueError naming output_size for an invalid one.
    """

    def __init__(self, output_size: Any, return_indices: bool = False):
        super().__init__()
        _adaptive_output_size(output_size, type(self).__name__)
        self.output_size = output_size
        self.return_indices = bool(return_indices)

    def forward(self, input: Tensor):
        return F.adaptive_max_pool2d(input, self.output_size, self.return_indices)

    def extra_repr(self) -> str:
        return f"output_size={self.output_size}"


# ----------------------------------------------------------------------------------- activations


class ReLU(Module):
    """``max(x, 0)``. ``inplace`` is accepted for PyTorch compatibility and has no effect (no aliasing here)."""

    def __init__(self, inplace: bool = False):
        super().__init__()
        self.inplace = inplace

    def forward(self, input: Tensor) -> Tensor:
        return F.relu(input)

    def extra_repr(self) -> str:
        return "inplace=True" if self.inplace else ""


class LeakyReLU(Module):
    """``x if x > 0 else negative_slope * x``."""

    def __init__(self, negative_slope: float = 0.01, inplace: bool = False):
        super().__init__()
        self.negative_slope = negative_slope
        self.inplace = inplace

    def forward(self, input: Tensor) -> Tensor:
        return F.leaky_relu(input, self.negative_slope)

    def extra_repr(self) -> str:
        return f"negative_slope={self.negative_slope}" + (", inplace=True" if self.inplace else "")


# ``inplace`` in the activations below is accepted for PyTorch compatibility: the result is always a new
# tensor (with the same values), since tensors here are never modified in place.


class GELU(Module):
    """GELU, ``x * Phi(x)`` with the exact normal CDF, or its tanh approximation (``approximate='tanh'``).

    Raises: ValueError for ``approximate`` other than ``'none'`` or ``'tanh'``.
    """

    def __init__(self, approximate: str = "none"):
        super().__init__()
        if approximate not in ("none", "tanh"):
            raise ValueError(f"GELU: approximate must be 'none' or 'tanh', got {approximate!r}")
        self.approximate = approximate

    def forward(self, input: Tensor) -> Tensor:
        return F.gelu(input, approximate=self.approximate)

    def extra_repr(self) -> str:
        return f"approximate={self.approximate!r}"


class ELU(Module):
    """ELU, ``x if x > 0 else alpha * (exp(x) - 1)``; ``inplace`` has no effect (see above)."""

    def __init__(self, alpha: float = 1.0, inplace: bool = False):
        super().__init__()
        self.alpha = alpha
        self.inplace = inplace

    def forward(self, input: Tensor) -> Tensor:
        return F.elu(input, self.alpha)

    def extra_repr(self) -> str:
        return f"alpha={self.alpha}" + (", inplace=True" if self.inplace else "")


class SiLU(Module):
    """SiLU (swish), ``x * sigmoid(x)``; ``inplace`` has no effect (see above)."""

    def __init__(self, inplace: bool = False):
        super().__init__()
        self.inplace = inplace

    def forward(self, input: Tensor) -> Tensor:
        return F.silu(input)

    def extra_repr(self) -> str:
        return "inplace=True" if self.inplace else ""


class Softplus(Module):
    """Softplus, ``log(1 + exp(beta * x)) / beta``, linear (``x``) where ``beta * x > threshold``."""

    def __init__(self, beta: float = 1.0, threshold: float = 20.0):
        super().__init__()
        self.beta = beta
        self.threshold = threshold

    def forward(self, input: Tensor) -> Tensor:
        return F.softplus(input, self.beta, self.threshold)

    def extra_repr(self) -> str:
        return f"beta={self.beta}, threshold={self.threshold}"


class Hardtanh(Module):
    """HardTanh, ``x`` clamped to ``[min_val, max_val]``; ``inplace`` has no effect (see above).

    Raises: ValueError unless ``max_val > min_val`` (PyTorch asserts it).
    """

    def __init__(self, min_val: float = -1.0, max_val: float = 1.0, inplace: bool = False):
        super().__init__()
        if not max_val > min_val:
            raise ValueError(f"Hardtanh: max_val ({max_val}) must be greater than min_val ({min_val})")
        self.min_val = min_val
        self.max_val = max_val
        self.inplace = inplace

    def forward(self, input: Tensor) -> Tensor:
        return F.hardtanh(input, self.min_val, self.max_val)

    def extra_repr(self) -> str:
        return f"min_val={self.min_val}, max_val={self.max_val}" + (", inplace=True" if self.inplace else "")


class Mish(Module):
    """Mish, ``x * tanh(softplus(x))``; ``inplace`` has no effect (see above)."""

    def __init__(self, inplace: bool = False):
        super().__init__()
        self.inplace = inplace

    def forward(self, input: Tensor) -> Tensor:
        return F.mish(input)

    def extra_repr(self) -> str:
        return "inplace=True" if self.inplace else ""


class Sigmoid(Module):
    """``1 / (1 + exp(-x))``."""

    def forward(self, input: Tensor) -> Tensor:
        return F.sigmoid(input)


class Tanh(Module):
    """``tanh(x)``."""

    def forward(self, input: Tensor) -> Tensor:
        return F.tanh(input)


class Softmax(Module):
    """Softmax along ``dim`` (``None`` picks PyTorch's legacy implicit dim)."""

    def __init__(self, dim: int | None = None):
        super().__init__()
        self.dim = dim

    def forward(self, input: Tensor) -> Tensor:
        return F.softmax(input, self.dim)

    def extra_repr(self) -> str:
        return f"dim={self.dim}"


class LogSoftmax(Module):
    """Log-softmax along ``dim`` (``None`` picks PyTorch's legacy implicit dim)."""

    def __init__(self, dim: int | None = None):
        super().__init__()
        self.dim = dim

    def forward(self, input: Tensor) -> Tensor:
        return F.log_softmax(input, self.dim)

    def extra_repr(self) -> str:
        return f"dim={self.dim}"


class Dropout(Module):
    """Zero elements with probability ``p`` and scale the rest by ``1/(1-p)`` in training; identity in eval.

    ``p = 1`` zeroes everything in training (``input * 0``, as PyTorch).
    Raises: TypeError unless p is a real number (or a 0-d Tensor), ValueError unless ``0 <= p <= 1``.
    """

    def __init__(self, p: float = 0.5, inplace: bool = False):
        super().__init__()
        self.p = _dropout_probability(p, type(self).__name__)
        self.inplace = inplace

    def forward(self, input: Tensor) -> Tensor:
        return F.dropout(input, self.p, self.training)

    def extra_repr(self) -> str:
        return f"p={self.p}, inplace={self.inplace}"


class Dropout1d(Dropout):
    """Zero whole channels of ``[N, C, L]`` (or ``[C, L]``) with probability ``p``; see :func:`F.dropout1d`."""

    def forward(self, input: Tensor) -> Tensor:
        return F.dropout1d(input, self.p, self.training)


class Dropout2d(Dropout):
    """Zero whole feature maps of ``[N, C, H, W]`` with probability ``p``; see :func:`F.dropout2d`."""

    def forward(self, input: Tensor) -> Tensor:
        return F.dropout2d(input, self.p, self.training)


class Dropout3d(Dropout):
    """Zero whole volumes of ``[N, C, D, H, W]`` (or ``[C, D, H, W]``) with probability ``p``; see
    :func:`F.dropout3d`."""

    def forward(self, input: Tensor) -> Tensor:
        return F.dropout3d(input, self.p, self.training)


class PixelShuffle(Module):
    """``[*, C*r*r, H, W] -> [*, C, H*r, W*r]`` with ``r = upscale_factor``; see :func:`F.pixel_shuffle`."""

    def __init__(self, upscale_factor: int):
        super().__init__()
        self.upscale_factor = _positive_count(upscale_factor, "upscale_factor", "PixelShuffle")

    def forward(self, input: Tensor) -> Tensor:
        return F.pixel_shuffle(input, self.upscale_factor)

    def extra_repr(self) -> str:
        return f"upscale_factor={self.upscale_factor}"


class PixelUnshuffle(Module):
    """``[*, C, H*r, W*r] -> [*, C*r*r, H, W]`` with ``r = downscale_factor``; see :func:`F.pixel_unshuffle`."""

    def __init__(self, downscale_factor: int):
        super().__init__()
        self.downscale_factor = _positive_count(downscale_factor, "downscale_factor", "PixelUnshuffle")

    def forward(self, input: Tensor) -> Tensor:
        return F.pixel_unshuffle(input, self.downscale_factor)

    def extra_repr(self) -> str:
        return f"downscale_factor={self.downscale_factor}"


# ------------------------------------------------------------------------------------- reshaping


class Flatten(Module):
    """Merge dims ``start_dim..end_dim`` into one: ``[N, C, H, W]`` -> ``[N, C*H*W]`` by default."""

    def __init__(self, start_dim: int = 1, end_dim: int = -1):
        super().__init__()
        if not _is_int(start_dim) or not _is_int(end_dim):
            raise ValueError(f"Flatten: start_dim and end_dim must be ints, got {start_dim!r}, {end_dim!r}")
        self.start_dim = int(start_dim)
        self.end_dim = int(end_dim)

    def forward(self, input: Tensor) -> Tensor:
        return input.flatten(self.start_dim, self.end_dim)

    def extra_repr(self) -> str:
        return f"start_dim={self.start_dim}, end_dim={self.end_dim}"


class Unflatten(Module):
    """Split dim ``dim`` into ``unflattened_size`` (one entry may be -1): ``[N, 12]`` -> ``[N, 3, 4]``."""

    def __init__(self, dim: int, unflattened_size: tuple[int, ...] | list[int]):
        super().__init__()
        if not _is_int(dim):
            raise ValueError(f"Unflatten: dim must be an int, got {dim!r}")
        if (not isinstance(unflattened_size, tuple | list) or not unflattened_size
                or not all(_is_int(n) and (n > 0 or n == -1) for n in unflattened_size)
                or list(unflattened_size).count(-1) > 1):
            raise ValueError(f"Unflatten: unflattened_size must be a non-empty tuple of positive ints (at most "
                             f"one -1), got {unflattened_size!r}")
        self.dim = int(dim)
        self.unflattened_size = tuple(int(n) for n in unflattened_size)

    def forward(self, input: Tensor) -> Tensor:
        dim = ops.normalize_dim(self.dim, input.ndim)
        known = math.prod(n for n in self.unflattened_size if n != -1)
        if (-1 not in self.unflattened_size and known != input.shape[dim]) or input.shape[dim] % known:
            raise ValueError(f"Unflatten: unflattened_size {self.unflattened_size} does not fit dim {self.dim} "
                             f"of size {input.shape[dim]} (input shape {input.shape})")
        return input.reshape(input.shape[:dim] + self.unflattened_size + input.shape[dim + 1:])

    def extra_repr(self) -> str:
        return f"dim={self.dim}, unflattened_size={self.unflattened_size}"


class Identity(Module):
    """Returns its input unchanged (constructor arguments are accepted and ignored, as in PyTorch)."""

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__()

    def forward(self, input: Any) -> Any:
        return input
