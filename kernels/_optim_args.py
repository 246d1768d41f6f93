"""Argument checks of the ``optim_step`` family, shared by the numpy, Triton and CuPy kernels.

A fused optimizer step takes parallel lists of arrays (params, grads, moments, ...): entry ``i`` of every
list belongs to parameter ``i``.  :func:`check_tensor_lists` checks what is the same on every backend --
lists of equal length, one dtype for every array of every list, equal shapes per parameter -- and hands
each array to the backend's own per-array check (its type, float dtype, contiguity, device), so one
mistake raises one ``TypeError`` / ``ValueError`` naming the argument (``grads[2]``) on every backend.
:func:`check_hyperparameters` checks the Python numbers.  Both look at Python values, shapes and
``.dtype`` only: no array is read, so nothing syncs a GPU.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any


def check_tensor_lists(check_array: Callable[[str, Any], Any], **lists: Sequence[Any] | None) -> tuple[int, Any]:
    """Check parallel tensor lists; return ``(length, dtype)`` (dtype None when the lists are empty).

    ``lists`` maps argument names to lists (or tuples) of arrays, or None for a list the call does not use
    (``max_exp_avg_sqs`` without AMSGrad).  ``check_array(name, a)`` is the backend's per-array check.
    Raises TypeError for a list that is not a list/tuple or mixed dtypes, ValueError for lists of different
    lengths or an array whose shape differs from its parameter's.
    """
    present = {}
    for name, value in lists.items():
        if value is None:
            continue
        if not isinstance(value, list | tuple):
            raise TypeError(f"{name} must be a list of arrays, got {type(value).__name__}")
        present[name] = value
    first_name, first = next(iter(present.items()))
    for name, value in present.items():
        if len(value) != len(first):
            raise ValueError(f"{name} has {len(value)} arrays but {first_name} has {len(first)} "
                             f"(one entry per parameter in every list)")
    dtype = None
    for name, value in present.items():
        for i, a in enumerate(value):
            check_array(f"{name}[{i}]", a)
            if dtype is None:
                dtype = a.dtype
            elif a.dtype != dtype:
                raise TypeError(f"{name}[{i}] has dtype {a.dtype}, but {first_name}[0] has {dtype} "
                                f"(one fused step takes one dtype; group the parameters by dtype)")
            if tuple(a.shape) != tuple(first[i].shape):
                raise ValueError(f"{name}[{i}] has shape {tuple(a.shape)}, but {first_name}[{i}] has shape "
                                 f"{tuple(first[i].shape)}")
    return len(first), dtype


def check_required(name: str, value: Any, needed: bool, why: str) -> None:
    """A list that must be given (``needed``) or must be None: ValueError naming it otherwise."""
    if needed and value is None:
        raise ValueError(f"{name} must be a list of arrays when {why}, got None")


def check_hyperparameters(**values: Any) -> dict[str, float]:
    """Each value a finite real number (bools refused): TypeError / ValueError naming it; returns floats."""
    out = {}
    for name, v in values.items():
        if isinstance(v, bool) or not isinstance(v, int | float) and not hasattr(v, "__float__"):
            raise TypeError(f"{name} must be a real number, got {type(v).__name__}")
        f = float(v)
        if not math.isfinite(f):
            raise ValueError(f"{name} must be finite, got {v!r}")
        out[name] = f
    return out


def check_step(step: Any) -> int:
    """Adam's step count t >= 1 (the bias corrections use beta**t): TypeError / ValueError naming ``step``."""
    if isinstance(step, bool) or not isinstance(step, int) and not (hasattr(step, "__index__")):
        raise TypeError(f"step must be an int, got {type(step).__name__}")
    step = int(step)
    if step < 1:
        raise ValueError(f"step must be >= 1 (the step being taken, counted from 1), got {step}")
    return step


def check_flags(**flags: Any) -> None:
    """Each flag a bool: TypeError naming it."""
    for name, v in flags.items():
        if not isinstance(v, bool):
            raise TypeError(f"{name} must be a bool, got {type(v).__name__}")


def adam_scalars(step: int, lr: float, beta1: float, beta2: float, weight_decay: float) -> dict[str, float]:
    """The step-dependent numbers of Adam, in float64 on the host, in torch's order of operations.

    ``step_size = lr / (1 - beta1**t)``, ``bias_correction2_sqrt = sqrt(1 - beta2**t)``, and the decoupled
    decay factor ``1 - lr * weight_decay`` (torch's ``param.mul_(1 - lr * weight_decay)``).
    """
    return {"step_size": lr / (1 - beta1**step), "bias_correction2_sqrt": math.sqrt(1 - beta2**step),
            "decay": 1 - lr * weight_decay}
