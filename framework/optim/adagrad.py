"""Adagrad (PyTorch's ``optim.Adagrad``): per-element step sizes from the sum of squared gradients."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from ..tensor import Tensor
from .optimizer import Optimizer, check_non_negative, wrap

__all__ = ["Adagrad"]


class Adagrad(Optimizer):
    """Per step ``t``: ``clr = lr / (1 + (t-1)*lr_decay)``, ``sum += g²``, ``p -= clr * g / (sqrt(sum) + eps)``
    (``g`` includes ``weight_decay * p``; ``maximize`` negates the gradient).

    Args:
        params: parameters or param-group dicts. lr, lr_decay, weight_decay, eps: >= 0.
        initial_accumulator_value: starting value of ``sum``, >= 0.
    Raises: ValueError naming the first invalid argument.
    """

    def __init__(self, params: Iterable[Tensor] | Iterable[dict], lr: float = 1e-2, lr_decay: float = 0,
                 weight_decay: float = 0, initial_accumulator_value: float = 0, eps: float = 1e-10, *,
                 maximize: bool = False):
        defaults = dict(lr=lr, lr_decay=lr_decay, weight_decay=weight_decay,
                        initial_accumulator_value=initial_accumulator_value, eps=eps, maximize=maximize)
        super().__init__(params, defaults)

    def _check_group(self, group: dict[str, Any]) -> None:
        check_non_negative(group["lr"], "learning rate (lr)")
        check_non_negative(group["lr_decay"], "lr_decay")
        check_non_negative(group["weight_decay"], "weight_decay")
        check_non_negative(group["initial_accumulator_value"], "initial_accumulator_value")
        check_non_negative(group["eps"], "epsilon value (eps)")

    def _update(self, p: Tensor, grad: Any, state: dict[str, Any], group: dict[str, Any]) -> None:
        xp = p.backend.xp
        if not state:
            state["step"] = 0
            state["sum"] = wrap(xp.full_like(p._data, group["initial_accumulator_value"]), p)
        step = state["step"] + 1
        g = -grad if group["maximize"] else grad
        if group["weight_decay"] != 0:
            g = g + group["weight_decay"] * p._data
        clr = group["lr"] / (1 + (step - 1) * group["lr_decay"])
        total = state["sum"]._data + g * g
        p._write("step", ..., p._data - clr * (g / (xp.sqrt(total) + group["eps"])))  # in place, as torch
        state["step"] = step
        state["sum"] = wrap(total, p)
