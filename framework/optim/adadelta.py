"""Adadelta (PyTorch's ``optim.Adadelta``): step sizes from running averages of squared gradients and updates."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np

from ..tensor import Tensor
from .optimizer import Optimizer, check_in_range, check_non_negative, flat_batches, wrap

__all__ = ["Adadelta"]


class Adadelta(Optimizer):
    """``sq = rho*sq + (1-rho)*g²``; ``delta = sqrt(acc + eps) / sqrt(sq + eps) * g``;
    ``acc = rho*acc + (1-rho)*delta²``; ``p -= lr*delta`` (``g`` includes ``weight_decay * p``).

    Args:
        params: parameters or param-group dicts. lr: >= 0. rho: in [0, 1]. eps, weight_decay: >= 0.
    Raises: ValueError naming the first invalid argument.
    """

    def __init__(self, params: Iterable[Tensor] | Iterable[dict], lr: float = 1.0, rho: float = 0.9,
                 eps: float = 1e-6, weight_decay: float = 0, *, maximize: bool = False):
        defaults = dict(lr=lr, rho=rho, eps=eps, weight_decay=weight_decay, maximize=maximize)
        super().__init__(params, defaults)

    def _check_group(self, group: dict[str, Any]) -> None:
        check_non_negative(group["lr"], "learning rate (lr)")
        check_in_range(group["rho"], "rho value (rho)", 0.0, 1.0, high_inclusive=True)
        check_non_negative(group["eps"], "epsilon value (eps)")
        check_non_negative(group["weight_decay"], "weight_decay")

    def _update(self, p: Tensor, grad: Any, state: dict[str, Any], group: dict[str, Any]) -> None:
        xp = p.backend.xp
        rho, eps = group["rho"], group["eps"]
        if not state:
            state["step"] = 0
            state["square_avg"] = wrap(xp.zeros_like(p._data), p)
            state["acc_delta"] = wrap(xp.zeros_like(p._data), p)
        g = -grad if group["maximize"] else grad
        if group["weight_decay"] != 0:
            g = g + group["weight_decay"] * p._data
        square_avg = state["square_avg"]._data * rho + (1 - rho) * (g * g)
        acc_delta = state["acc_delta"]._data
        delta = xp.sqrt(acc_delta + eps) / xp.sqrt(square_avg + eps) * g
        acc_delta = acc_delta * rho + (1 - rho) * (delta * delta)
        p._write("step", ..., p._data - group["lr"] * delta)  # in place, as torch: views and .data see it
        state["step"] += 1
        state["square_avg"] = wrap(square_avg, p)
        state["acc_delta"] = wrap(acc_delta, p)

    def _flat_update(self, group: dict[str, Any], items: list[tuple[Tensor, Any]]) -> list[tuple[Tensor, Any]]:
        """On ``cpu``, :meth:`_update` for a group's parameters at once over flat buffers (see
        :func:`~.optimizer.flat_batches`): the same operations in the same order, so the same bits, with the
        state arrays updated in place in one buffer each instead of a new array per parameter per step."""
        if type(self)._update is not Adadelta._update:
            return items
        names = ("square_avg", "acc_delta")
        rest, batches = flat_batches(self, group, items, names, lambda p, state: p._data.dtype, work=3,
                                     initial={"step": 0})
        rho, eps, lr, wd = group["rho"], group["eps"], group["lr"], group["weight_decay"]
        for _, batch, entry in batches:
            g, t, delta = entry.work
            entry.gradient(batch, group["maximize"], wd)  # into g
            square_avg, acc_delta = entry.flat["square_avg"], entry.flat["acc_delta"]
            square_avg *= rho
            np.multiply(g, g, out=t)
            t *= 1 - rho
            square_avg += t  # square_avg * rho + (1 - rho) * (g * g)
            np.add(acc_delta, eps, out=delta)
            np.sqrt(delta, out=delta)
            np.add(square_avg, eps, out=t)
            np.sqrt(t, out=t)
            delta /= t
            delta *= g  # sqrt(acc_delta + eps) / sqrt(square_avg + eps) * g
            acc_delta *= rho
            np.multiply(delta, delta, out=t)
            t *= 1 - rho
            acc_delta += t  # acc_delta * rho + (1 - rho) * (delta * delta)
            delta *= lr
            entry.subtract(batch, delta)  # p - lr * delta, in place as _update
            for _, _, state in batch:
                state["step"] += 1
        return rest
