"""Argument checks of the functional API, shared with the nn modules' constructors: one check per argument, so
a mistake raises one exception type (TypeError for a wrong type, ValueError for a wrong value, as PyTorch) and
one message whether it reaches F or nn."""

from __future__ import annotations

import numbers
from typing import Any

import numpy as np

from ...dtypes import is_int as _is_int
from ...tensor import Tensor, type_name

_REDUCTIONS = ("mean", "sum", "none")
_KL_DIV_REDUCTIONS = ("none", "batchmean", "sum", "mean")
#: The interpolating modes and the input rank each one takes (PyTorch ties them: 'bilinear' is 4-D only, ...).
_INTERPOLATING_RANKS = {"linear": 3, "bilinear": 4, "bicubic": 4, "trilinear": 5}
_INTERPOLATE_MODES = ("nearest", "nearest-exact", *_INTERPOLATING_RANKS)


# --------------------------------------------------------------------------------- arg helpers



def _owned(owner: str | None, message: str) -> str:
    return f"{owner}: {message}" if owner else message


def _pair(value: Any, name: str, minimum: int = 0, owner: str | None = None) -> tuple[int, int]:
    """An int or a pair of ints, each >= ``minimum``, as a pair (kernel_size, stride, padding, dilation).

    Raises TypeError for another type and ValueError for a value below ``minimum``, from F and nn alike
    (``owner``, e.g. ``"Conv2d"``, prefixes the message when given)."""
    if _is_int(value):
        pair = (int(value), int(value))
    elif isinstance(value, tuple | list) and len(value) == 2 and all(_is_int(v) for v in value):
        pair = (int(value[0]), int(value[1]))
    else:
        raise TypeError(_owned(owner, f"{name} must be an int or a pair of ints, got {value!r}"))
    if min(pair) < minimum:
        raise ValueError(_owned(owner, f"{name} must be >= {minimum}, got {value!r}"))
    return pair


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


def _check_float_input(input: Any) -> None:
    _float_tensor(input, "input")


def _single(value: Any, name: str, minimum: int, owner: str) -> int:
    """An int or a 1-tuple of ints, >= ``minimum``, as an int (conv1d's stride/padding/dilation)."""
    if isinstance(value, tuple | list) and len(value) == 1:
        value = value[0]
    if not _is_int(value):
        raise TypeError(f"{owner}: {name} must be an int or a 1-tuple of ints, got {value!r}")
    if value < minimum:
        raise ValueError(f"{owner}: {name} must be >= {minimum}, got {value!r}")
    return int(value)


def _check_same_shape(input: Tensor, target: Tensor, name: str) -> None:
    _check_tensor(input, "input")
    _check_tensor(target, "target")
    if input.shape != target.shape:
        raise ValueError(f"{name}(): target shape {target.shape} must equal input shape {input.shape}")


def _check_reduction(reduction: Any, name: str, allowed: tuple[str, ...] = _REDUCTIONS) -> None:
    if reduction not in allowed:
        raise ValueError(f"{name}(): reduction must be one of {allowed}, got {reduction!r}")


def _positive_count(value: Any, name: str, owner: str) -> int:
    """A positive int (``groups``, a pixel-shuffle factor): TypeError for another type, ValueError below 1."""
    if not _is_int(value):
        raise TypeError(f"{owner}: {name} must be an int, got {value!r}")
    if value < 1:
        raise ValueError(f"{owner}: {name} must be a positive int, got {value!r}")
    return int(value)


def _divisor_override(value: Any, owner: str) -> int | None:
    """avg_pool2d's ``divisor_override``: None or a non-zero int."""
    if value is None:
        return None
    if not _is_int(value):
        raise TypeError(f"{owner}: divisor_override must be an int or None, got {value!r}")
    if value == 0:
        raise ValueError(f"{owner}: divisor_override must not be zero")
    return int(value)


def _float_tensor(value: Any, name: str) -> Tensor:
    """``value``, checked to be a floating-point Tensor."""
    _check_tensor(value, name)
    _check_float(value, name)
    return value


def _check_interpolate_mode(mode: Any, owner: str) -> None:
    if mode not in _INTERPOLATE_MODES:
        raise ValueError(f"{owner}: mode {mode!r} is not supported; supported modes: {list(_INTERPOLATE_MODES)}")


# ------------------------------------------------------- checks the nn modules share at construction


def _same_padding(weight_hw: tuple[int, int], dilation: tuple[int, int]) -> tuple[int, int, int, int]:
    """(left, right, top, bottom) so the output has the input's size at stride 1 (extra on the right)."""
    total = [d * (k - 1) for k, d in zip(weight_hw, dilation)]
    top, left = total[0] // 2, total[1] // 2
    return left, total[1] - left, top, total[0] - top


def _adaptive_output_size(output_size: Any, name: str) -> tuple[int | None, int | None]:
    """``output_size`` as a validated pair; None entries (keep that input size) stay None."""
    if _is_int(output_size):
        sizes = (int(output_size), int(output_size))
    elif isinstance(output_size, tuple | list) and all(v is None or _is_int(v) for v in output_size):
        if len(output_size) != 2:
            raise ValueError(f"{name}: output_size must have 2 entries (H, W), got {output_size!r}")
        sizes = tuple(None if v is None else int(v) for v in output_size)
    else:
        raise TypeError(f"{name}: output_size must be an int or a pair of ints or None, got {output_size!r}")
    if any(v is not None and v < 1 for v in sizes):
        raise ValueError(f"{name}: output_size must be >= 1, got {output_size!r}")
    return sizes


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


def _normalized_shape(value: Any, owner: str) -> tuple[int, ...]:
    """An int or a sequence of ints (list, tuple, ``torch.Size``) as a non-empty tuple of ints >= 0."""
    if _is_int(value):
        value = (value,)
    if not isinstance(value, list | tuple) or not value or not all(_is_int(v) and v >= 0 for v in value):
        raise ValueError(f"{owner}: normalized_shape must be an int or a non-empty sequence of non-negative ints, "
                         f"got {value!r}")
    return tuple(int(v) for v in value)


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
