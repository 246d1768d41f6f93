"""Gradient clipping with PyTorch's names and formulas: ``clip_grad_norm_`` and ``clip_grad_value_``.

Both work on the raw gradient arrays through the backend's array namespace (``grad.backend.xp``), so the
same code runs on every device, in the gradients' dtype, without a graph and without a trip to the host
(except reading one scalar for ``error_if_nonfinite``). Like the optimizers, they are written
functionally: each ``p.grad`` keeps its identity but its ``._data`` is *replaced* by the clipped array, so
``p.grad`` (and any other reference to that Tensor) sees the change, while a raw array taken earlier
from ``p.grad._data`` is left alone.

``foreach`` is accepted for PyTorch compatibility and ignored: there is no fused multi-tensor path here,
each gradient is processed with one array op.
"""

from __future__ import annotations

import math
import types
import warnings
from collections.abc import Iterable
from typing import Any

import numpy as np

from ...tensor import Tensor, tensor

__all__ = ["clip_grad_norm_", "clip_grad_value_"]


def _grads(parameters: Tensor | Iterable[Tensor], fn: str) -> list[Tensor]:
    """The non-None ``.grad`` of each parameter, validating the parameters and their gradients."""
    if isinstance(parameters, Tensor):
        parameters = [parameters]
    else:
        is_generator = isinstance(parameters, types.GeneratorType)
        try:
            parameters = list(parameters)
        except TypeError:
            raise TypeError(f"{fn}: parameters must be a Tensor or an iterable of Tensors, "
                            f"got {type(parameters).__name__}") from None
        if is_generator and not parameters:
            warnings.warn("`parameters` is an empty generator, no gradient clipping will occur.", stacklevel=3)
    grads = []
    for i, p in enumerate(parameters):
        if not isinstance(p, Tensor):
            raise TypeError(f"{fn}: parameters must be Tensors, got {type(p).__name__} at index {i}")
        if p.grad is None:
            continue
        if not isinstance(p.grad, Tensor):
            raise TypeError(f"{fn}: the .grad of parameter {i} must be a Tensor or None, "
                            f"got {type(p.grad).__name__}")
        if not p.grad.dtype.is_floating_point:
            raise TypeError(f"{fn}: the .grad of parameter {i} must be floating point, got {p.grad.dtype}")
        grads.append(p.grad)
    return grads


def _real(value: Any, name: str, fn: str) -> float:
    """``value`` as a float; ValueError naming ``name`` unless it is a real number >= 0 (inf allowed)."""
    ok = isinstance(value, int | float | np.integer | np.floating) and not isinstance(value, bool)
    if not ok or not value >= 0:  # `not >=` also rejects NaN
        raise ValueError(f"{fn}: {name} must be a number >= 0, got {value!r}")
    return float(value)


def clip_grad_norm_(parameters: Tensor | Iterable[Tensor], max_norm: float, norm_type: float | str = 2.0,
                    error_if_nonfinite: bool = False, foreach: bool | None = None) -> Tensor:
    """Scale the gradients so that their total ``norm_type``-norm is at most ``max_norm`` (PyTorch's formula).

    The total norm is the norm of the per-gradient norms (= the norm of all gradients viewed as one vector
    for ``norm_type > 0`` and ``inf``); every gradient is multiplied by
    ``min(max_norm / (total_norm + 1e-6), 1.0)``, computed in the gradients' dtype.

    Args:
        parameters: a Tensor or an iterable of Tensors; those whose ``.grad`` is None are skipped.
        max_norm: largest allowed total norm, a number >= 0.
        norm_type: order of the norm (any real accepted by ``float()``, e.g. ``2.0``, ``1``, ``'inf'``).
        error_if_nonfinite: raise instead of scaling when the total norm is NaN or infinite.
        foreach: accepted for PyTorch compatibility and ignored.
    Returns: the total norm before clipping, a 0-d Tensor on the gradients' device (``tensor(0.0)`` on the
        default device when there are no gradients).
    Raises:
        TypeError: a parameter that is not a Tensor, or a non-Tensor / non-floating gradient.
        ValueError: ``max_norm`` < 0 or not a number, ``norm_type`` not a number, gradients on different
            devices.
        RuntimeError: a non-finite total norm with ``error_if_nonfinite=True``; an infinity norm of an
            empty gradient (as PyTorch).
    """
    fn = "clip_grad_norm_"
    grads = _grads(parameters, fn)
    max_norm = _real(max_norm, "max_norm", fn)
    try:
        norm_type = float(norm_type)
    except (TypeError, ValueError):
        raise ValueError(f"{fn}: norm_type must be a number (or 'inf'), got {norm_type!r}") from None
    if math.isnan(norm_type):
        raise ValueError(f"{fn}: norm_type must be a number (or 'inf'), got nan")
    if not grads:
        return tensor(0.0)
    devices = sorted({g.device for g in grads})
    if len(devices) > 1:
        raise ValueError(f"{fn}: all gradients must be on the same device, got gradients on {devices}")
    backend = grads[0].backend
    xp = backend.xp
    if math.isinf(norm_type) and any(math.prod(g.shape) == 0 for g in grads):
        raise RuntimeError(f"{fn}: cannot compute the infinity norm of an empty gradient because the "
                           "operation does not have an identity")

    with np.errstate(all="ignore"):  # torch does not warn on overflow, 0 ** negative or NaN either
        norms = [xp.linalg.vector_norm(g._data, ord=norm_type) for g in grads]
        dtype = xp.result_type(*norms) if len(norms) > 1 else norms[0].dtype
        total = xp.linalg.vector_norm(xp.stack([xp.astype(xp.asarray(n), dtype) for n in norms]), ord=norm_type)
        total = xp.asarray(total)
        if error_if_nonfinite and not bool(xp.all(xp.isfinite(total))):
            raise RuntimeError(
                f"The total norm of order {norm_type} for gradients from `parameters` is non-finite, so it "
                "cannot be clipped. To disable this error and scale the gradients by the non-finite norm "
                "anyway, set `error_if_nonfinite=False`")
        coef = xp.clip(max_norm / (total + 1e-6), max=1.0)  # NaN stays NaN, as torch.clamp
        for g in grads:
            g._write("clip_grad_norm_", ..., g._data * xp.astype(coef, g._data.dtype))
    return Tensor._wrap(total, backend)


def clip_grad_value_(parameters: Tensor | Iterable[Tensor], clip_value: float, foreach: bool | None = None) -> None:
    """Clamp every gradient elementwise to ``[-clip_value, clip_value]`` (NaN stays NaN, as PyTorch).

    Args:
        parameters: a Tensor or an iterable of Tensors; those whose ``.grad`` is None are skipped.
        clip_value: the bound, a number >= 0.
        foreach: accepted for PyTorch compatibility and ignored.
    Returns: None (the gradients are updated in place).
    Raises:
        TypeError: a parameter that is not a Tensor, or a non-Tensor / non-floating gradient.
        ValueError: ``clip_value`` < 0 or not a number.
    """
    fn = "clip_grad_value_"
    grads = _grads(parameters, fn)
    clip_value = _real(clip_value, "clip_value", fn)
    for g in grads:
        g._write("clip_grad_value_", ..., g.backend.xp.clip(g._data, min=-clip_value, max=clip_value))
