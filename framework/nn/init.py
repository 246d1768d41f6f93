"""Parameter initialisation, PyTorch's ``torch.nn.init`` with the same names, formulas and defaults.

Every function works in place: it replaces ``tensor._data`` with a new device array and returns the
tensor. Random values are drawn on the host from the global generator (``fw.manual_seed`` makes them
reproducible on every device) and copied to the tensor's device and dtype with
``backend.from_numpy``. Nothing here records a graph: ``._data`` is replaced directly.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from .. import random as _random
from ..tensor import Tensor

__all__ = [
    "calculate_gain", "constant_", "kaiming_normal_", "kaiming_uniform_", "normal_", "ones_", "uniform_",
    "xavier_normal_", "xavier_uniform_", "zeros_",
]

_LINEAR_GAIN = ("linear", "conv1d", "conv2d", "conv3d", "conv_transpose1d", "conv_transpose2d",
                "conv_transpose3d", "sigmoid")


def calculate_gain(nonlinearity: str, param: float | None = None) -> float:
    """The recommended gain for a nonlinearity (PyTorch's table).

    Args:
        nonlinearity: ``'linear'``, ``'conv2d'`` (and the other conv names), ``'sigmoid'``, ``'tanh'``,
            ``'relu'``, ``'leaky_relu'`` or ``'selu'``.
        param: the negative slope for ``'leaky_relu'`` (default 0.01).
    Raises: ValueError for an unknown nonlinearity or a non-numeric slope.
    """
    if nonlinearity in _LINEAR_GAIN:
        return 1.0
    if nonlinearity == "tanh":
        return 5.0 / 3
    if nonlinearity == "relu":
        return math.sqrt(2.0)
    if nonlinearity == "leaky_relu":
        if param is None:
            slope = 0.01
        elif isinstance(param, int | float) and not isinstance(param, bool):
            slope = float(param)
        else:
            raise ValueError(f"negative_slope {param!r} is not a valid number")
        return math.sqrt(2.0 / (1 + slope**2))
    if nonlinearity == "selu":
        return 3.0 / 4
    raise ValueError(f"unsupported nonlinearity {nonlinearity!r}")


def _calculate_fan_in_and_fan_out(tensor: Tensor) -> tuple[int, int]:
    """``(fan_in, fan_out)`` of a weight: dims 1 and 0 times the receptive field (dims 2+).

    Raises: ValueError for tensors with fewer than 2 dimensions.
    """
    if tensor.ndim < 2:
        raise ValueError(f"fan in and fan out cannot be computed for a tensor with fewer than 2 dimensions "
                         f"(got shape {tensor.shape})")
    receptive_field = math.prod(tensor.shape[2:])
    return tensor.shape[1] * receptive_field, tensor.shape[0] * receptive_field


def _calculate_correct_fan(tensor: Tensor, mode: str) -> int:
    if mode not in ("fan_in", "fan_out"):
        raise ValueError(f"mode must be 'fan_in' or 'fan_out', got {mode!r}")
    fan_in, fan_out = _calculate_fan_in_and_fan_out(tensor)
    return fan_in if mode == "fan_in" else fan_out


def _replace(tensor: Tensor, host_values: np.ndarray) -> Tensor:
    if not isinstance(tensor, Tensor):
        raise TypeError(f"tensor must be a Tensor, got {type(tensor).__name__}")
    tensor._data = tensor.backend.from_numpy(host_values, str(tensor.dtype))
    return tensor


def _check_float(tensor: Any, name: str) -> None:
    if not isinstance(tensor, Tensor):
        raise TypeError(f"{name}(): tensor must be a Tensor, got {type(tensor).__name__}")
    if not tensor.dtype.is_floating_point:
        raise TypeError(f"{name}(): tensor must be floating point, got dtype {tensor.dtype}")


def uniform_(tensor: Tensor, a: float = 0.0, b: float = 1.0) -> Tensor:
    """Fill with U(a, b) samples. Raises ValueError if ``a > b``."""
    _check_float(tensor, "uniform_")
    if a > b:
        raise ValueError(f"uniform_(): a must be <= b, got a={a}, b={b}")
    return _replace(tensor, _random.generator().uniform(a, b, size=tensor.shape))


def normal_(tensor: Tensor, mean: float = 0.0, std: float = 1.0) -> Tensor:
    """Fill with N(mean, std²) samples. Raises ValueError if ``std < 0``."""
    _check_float(tensor, "normal_")
    if std < 0:
        raise ValueError(f"normal_(): std must be >= 0, got {std}")
    return _replace(tensor, _random.generator().normal(mean, std, size=tensor.shape))


def constant_(tensor: Tensor, val: float) -> Tensor:
    """Fill with ``val``."""
    tensor._data = tensor.backend.xp.full_like(tensor._data, val)
    return tensor


def zeros_(tensor: Tensor) -> Tensor:
    """Fill with zeros."""
    tensor._data = tensor.backend.xp.zeros_like(tensor._data)
    return tensor


def ones_(tensor: Tensor) -> Tensor:
    """Fill with ones."""
    tensor._data = tensor.backend.xp.ones_like(tensor._data)
    return tensor


def xavier_uniform_(tensor: Tensor, gain: float = 1.0) -> Tensor:
    """Glorot uniform: U(-b, b) with ``b = gain * sqrt(6 / (fan_in + fan_out))``. Needs >= 2 dims."""
    fan_in, fan_out = _calculate_fan_in_and_fan_out(tensor)
    std = gain * math.sqrt(2.0 / float(fan_in + fan_out))
    bound = math.sqrt(3.0) * std
    return uniform_(tensor, -bound, bound)


def xavier_normal_(tensor: Tensor, gain: float = 1.0) -> Tensor:
    """Glorot normal: N(0, std²) with ``std = gain * sqrt(2 / (fan_in + fan_out))``. Needs >= 2 dims."""
    fan_in, fan_out = _calculate_fan_in_and_fan_out(tensor)
    std = gain * math.sqrt(2.0 / float(fan_in + fan_out))
    return normal_(tensor, 0.0, std)


def kaiming_uniform_(tensor: Tensor, a: float = 0, mode: str = "fan_in", nonlinearity: str = "leaky_relu") -> Tensor:
    """He uniform: U(-b, b) with ``b = gain(nonlinearity, a) * sqrt(3 / fan)``.

    Args:
        tensor: weight with >= 2 dims (``fan_in`` = dim 1 x receptive field).
        a: negative slope of the following leaky ReLU (``a=sqrt(5)`` is PyTorch's Linear/Conv default).
        mode: ``'fan_in'`` (preserve forward variance) or ``'fan_out'`` (backward).
    Raises: ValueError for a bad mode or nonlinearity, or fewer than 2 dims.
    """
    if 0 in tensor.shape:
        return tensor  # nothing to fill; PyTorch warns and returns too
    fan = _calculate_correct_fan(tensor, mode)
    bound = math.sqrt(3.0) * calculate_gain(nonlinearity, a) / math.sqrt(fan)
    return uniform_(tensor, -bound, bound)


def kaiming_normal_(tensor: Tensor, a: float = 0, mode: str = "fan_in", nonlinearity: str = "leaky_relu") -> Tensor:
    """He normal: N(0, std²) with ``std = gain(nonlinearity, a) / sqrt(fan)``; arguments as
    :func:`kaiming_uniform_`."""
    if 0 in tensor.shape:
        return tensor
    fan = _calculate_correct_fan(tensor, mode)
    return normal_(tensor, 0.0, calculate_gain(nonlinearity, a) / math.sqrt(fan))
