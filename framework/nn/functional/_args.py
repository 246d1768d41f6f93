"""Argument checks shared by the functional API: one exception type and message per mistake."""

from __future__ import annotations

from typing import Any

import numpy as np

from ...tensor import Tensor, type_name

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
    _check_tensor(input, "input")
    _check_float(input, "input")


def _single(value: Any, name: str, minimum: int, owner: str) -> int:
    """An int or a 1-tuple of ints, >= ``minimum``, as an int (conv1d's stride/padding/dilation)."""
    if isinstance(value, tuple | list) and len(value) == 1:
        value = value[0]
    if not isinstance(value, int | np.integer) or isinstance(value, bool):
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


def _positive_factor(value: Any, name: str, owner: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < 1:
        raise ValueError(f"{owner}(): {name} must be a positive int, got {value!r}")
    return int(value)
