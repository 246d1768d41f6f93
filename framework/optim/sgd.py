"""Stochastic gradient descent with momentum, Nesterov momentum and weight decay (PyTorch's ``optim.SGD``)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from ..tensor import Tensor
from .optimizer import Optimizer, check_non_negative, wrap

__all__ = ["SGD"]


class SGD(Optimizer):
    """``g = grad + wd*p``; ``buf = momentum*buf + (1-dampening)*g`` (``buf = g`` on the first step);
    ``g = g + momentum*buf`` (Nesterov) or ``g = buf``; ``p -= lr*g``. ``maximize`` negates ``grad``.

    Args:
        params: parameters or param-group dicts. lr: learning rate >= 0. momentum, dampening,
            weight_decay: >= 0. nesterov: needs ``momentum > 0`` and ``dampening == 0``.
    Raises: ValueError naming the first invalid argument.
    """

    def __init__(self, params: Iterable[Tensor] | Iterable[dict], lr: float = 1e-3, momentum: float = 0,
                 dampening: float = 0, weight_decay: float = 0, nesterov: bool = False, *, maximize: bool = False):
        defaults = dict(lr=lr, momentum=momentum, dampening=dampening, weight_decay=weight_decay,
                        nesterov=nesterov, maximize=maximize)
        super().__init__(params, defaults)

    def _check_group(self, group: dict[str, Any]) -> None:
        check_non_negative(group["lr"], "learning rate (lr)")
        check_non_negative(group["momentum"], "momentum")
        check_non_negative(group["dampening"], "dampening")
        check_non_negative(group["weight_decay"], "weight_decay")
        if group["nesterov"] and (group["momentum"] <= 0 or group["dampening"] != 0):
            raise ValueError("Invalid nesterov: Nesterov momentum requires momentum > 0 and dampening == 0")

    def _update(self, p: Tensor, grad: Any, state: dict[str, Any], group: dict[str, Any]) -> None:
        xp = p.backend.xp
        g = -grad if group["maximize"] else grad
        if group["weight_decay"] != 0:
            g = g + group["weight_decay"] * p._data
        momentum = group["momentum"]
        if momentum != 0:
            buf = state.get("momentum_buffer")
            if buf is None:
                buf = xp.asarray(g, copy=True)
            else:
                buf = momentum * buf._data + (1 - group["dampening"]) * g
            state["momentum_buffer"] = wrap(buf, p)
            g = g + momentum * buf if group["nesterov"] else buf
        p._write("step", ..., p._data - group["lr"] * g)  # in place, as torch: views and .data see it
