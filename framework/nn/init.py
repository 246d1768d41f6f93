"""Parameter initialisation, PyTorch's ``torch.nn.init`` with the same names, formulas and defaults.

Every function works in place: it writes into the tensor's own storage (so ``init.normal_(m.weight.data)``
reaches the parameter, as in PyTorch) and returns the tensor. Random values are drawn on the host from the
global generator (``fw.manual_seed`` makes them reproducible on every device) and copied to the tensor's
device and dtype with ``backend.from_numpy``. Nothing here records a graph (PyTorch's init runs under
``no_grad`` too); the tensor's version counter goes up.
"""

from __future__ import annotations

import math
import statistics
from typing import Any

import numpy as np

from .. import random as _random
from ..tensor import Tensor, type_name

__all__ = [
    "calculate_gain", "constant_", "dirac_", "eye_", "kaiming_normal_", "kaiming_uniform_", "normal_", "ones_",
    "orthogonal_",
    "trunc_normal_", "uniform_", "xavier_normal_", "xavier_uniform_", "zeros_",
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
        raise TypeError(f"tensor must be a Tensor, got {type_name(tensor)}")
    tensor._write("init", ..., tensor.backend.from_numpy(host_values, str(tensor.dtype)))
    return tensor


def _check_float(tensor: Any, name: str) -> None:
    if not isinstance(tensor, Tensor):
        raise TypeError(f"{name}(): tensor must be a Tensor, got {type_name(tensor)}")
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
    tensor._write("constant_", ..., val)
    return tensor


def zeros_(tensor: Tensor) -> Tensor:
    """Fill with zeros."""
    tensor._write("zeros_", ..., 0)
    return tensor


def ones_(tensor: Tensor) -> Tensor:
    """Fill with ones."""
    tensor._write("ones_", ..., 1)
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


def _no_generator(generator: Any, name: str) -> None:
    if generator is not None:
        raise TypeError(f"{name}(): generator= is not supported; values come from the global stream "
                        "(seed it with fw.manual_seed)")


def _std_normal_cdf(x: float) -> float:
    return 0.5 * math.erfc(-x / math.sqrt(2.0))


def _truncated_std_normal(n: int, alpha: float, beta: float, rng: np.random.Generator) -> np.ndarray:
    """``n`` exact draws of N(0, 1) conditioned on [alpha, beta] (float64)."""
    if alpha > 0:  # the right tail: draw the mirror image from the left tail, where the CDF is accurate
        return -_truncated_std_normal(n, -beta, -alpha, rng)
    lo, hi = _std_normal_cdf(alpha), _std_normal_cdf(beta)
    mass = hi - lo
    if not mass > 0:
        raise ValueError(f"trunc_normal_(): [a, b] is {alpha:g} to {beta:g} standard deviations from the mean and "
                         "holds no probability mass representable in float64")
    if mass >= 0.05:
        # Redraw what falls outside: exactly the truncated law, at most ~20 draws per kept value.
        out = np.empty(n)
        filled = 0
        while filled < n:
            draw = rng.standard_normal(int((n - filled) / mass * 1.1) + 16)
            draw = draw[(draw >= alpha) & (draw <= beta)][: n - filled]
            out[filled:filled + draw.size] = draw
            filled += draw.size
        return out
    # Little mass (a far tail or a narrow interval): invert the CDF, u ~ U(Phi(alpha), Phi(beta)).
    inv_cdf = np.frompyfunc(statistics.NormalDist().inv_cdf, 1, 1)
    u = np.clip(rng.uniform(lo, hi, size=n), np.nextafter(0.0, 1.0), np.nextafter(1.0, 0.0))
    return inv_cdf(u).astype(np.float64)


def trunc_normal_(tensor: Tensor, mean: float = 0.0, std: float = 1.0, a: float = -2.0, b: float = 2.0,
                  generator: Any = None) -> Tensor:
    """Fill with N(mean, std²) samples conditioned on ``a <= x <= b`` (the truncated normal), PyTorch's
    ``trunc_normal_``. ``a`` and ``b`` are values, not numbers of standard deviations.

    Drawn exactly: by redrawing samples outside [a, b] when the interval holds at least 5% of the mass,
    by inverting the normal CDF (from the nearer tail, so far tails stay accurate) otherwise.
    Raises: ValueError for ``std <= 0``, ``a > b``, a non-finite mean/std or an interval without mass;
        TypeError for a non-float tensor or a ``generator``.
    """
    _check_float(tensor, "trunc_normal_")
    _no_generator(generator, "trunc_normal_")
    if not (math.isfinite(mean) and math.isfinite(std)):
        raise ValueError(f"trunc_normal_(): mean and std must be finite, got mean={mean}, std={std}")
    if not std > 0:
        raise ValueError(f"trunc_normal_(): std must be > 0, got {std}")
    if not a <= b:
        raise ValueError(f"trunc_normal_(): a must be <= b, got a={a}, b={b}")
    if a == b:
        return _replace(tensor, np.full(tensor.shape, float(a)))
    alpha, beta = (a - mean) / std, (b - mean) / std
    values = _truncated_std_normal(tensor.numel(), alpha, beta, _random.generator()) * std + mean
    return _replace(tensor, np.clip(values, a, b).reshape(tensor.shape))  # clip: the last ulp of rounding


def orthogonal_(tensor: Tensor, gain: float = 1.0, generator: Any = None) -> Tensor:
    """Fill with a (semi-)orthogonal matrix times ``gain``, PyTorch's ``orthogonal_``: the tensor seen as
    ``[rows, numel / rows]`` has orthonormal rows (``rows <= cols``) or columns (``rows > cols``), drawn
    uniformly (the Q of a Gaussian matrix's QR, signs fixed by R's diagonal).

    Raises: ValueError for fewer than 2 dimensions; TypeError for a non-float tensor or a ``generator``.
    """
    _check_float(tensor, "orthogonal_")
    _no_generator(generator, "orthogonal_")
    if tensor.ndim < 2:
        raise ValueError(f"orthogonal_(): only tensors with 2 or more dimensions are supported, got shape "
                         f"{tensor.shape}")
    if tensor.numel() == 0:
        return tensor  # nothing to fill, as in PyTorch
    rows = tensor.shape[0]
    cols = tensor.numel() // rows
    flat = _random.generator().standard_normal((rows, cols))
    if rows < cols:
        flat = flat.T
    q, r = np.linalg.qr(flat)
    q = q * np.sign(np.diag(r))  # makes Q uniform over orthogonal matrices (QR alone is not)
    if rows < cols:
        q = q.T
    return _replace(tensor, (gain * q).reshape(tensor.shape))


def eye_(tensor: Tensor) -> Tensor:
    """Fill a 2-D tensor with the identity (ones on the main diagonal), PyTorch's ``eye_``.

    Raises: ValueError for a tensor that is not 2-D.
    """
    if not isinstance(tensor, Tensor):
        raise TypeError(f"eye_(): tensor must be a Tensor, got {type_name(tensor)}")
    if tensor.ndim != 2:
        raise ValueError(f"eye_(): only 2-D tensors are supported, got shape {tensor.shape}")
    return _replace(tensor, np.eye(*tensor.shape))


def dirac_(tensor: Tensor, groups: int = 1) -> Tensor:
    """Fill a 3-, 4- or 5-D convolution weight with the Dirac delta (the conv keeps its input's first
    ``out_channels / groups`` channels in each group), PyTorch's ``dirac_``.

    Raises: ValueError for other dims or ``out_channels`` not divisible by ``groups``.
    """
    if not isinstance(tensor, Tensor):
        raise TypeError(f"dirac_(): tensor must be a Tensor, got {type_name(tensor)}")
    if tensor.ndim not in (3, 4, 5):
        raise ValueError(f"dirac_(): only 3, 4 or 5-D tensors are supported, got shape {tensor.shape}")
    if groups < 1 or tensor.shape[0] % groups:
        raise ValueError(f"dirac_(): dim 0 ({tensor.shape[0]}) must be divisible by groups ({groups})")
    out_per_group = tensor.shape[0] // groups
    values = np.zeros(tensor.shape)
    centre = tuple(k // 2 for k in tensor.shape[2:])
    for g in range(groups):
        for d in range(min(out_per_group, tensor.shape[1])):
            values[(g * out_per_group + d, d) + centre] = 1.0
    return _replace(tensor, values)
