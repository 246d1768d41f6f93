"""RMSprop (PyTorch's ``optim.RMSprop``), optionally centered and with momentum."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from ..tensor import Tensor
from .optimizer import Optimizer, check_non_negative, wrap

__all__ = ["RMSprop"]


class RMSprop(Optimizer):
    """``sq = alpha*sq + (1-alpha)*g²``; ``avg = sqrt(sq - mean_g²)`` if centered (``mean_g`` a running mean
    of ``g``) else ``sqrt(sq)``, plus ``eps``; ``buf = momentum*buf + g/avg; p -= lr*buf`` with momentum,
    else ``p -= lr * g/avg`` (``g`` includes ``weight_decay * p``).

    Args:
        params: parameters or param-group dicts. lr, alpha, eps, weight_decay, momentum: >= 0.
        centered: normalise by the estimated variance instead of the uncentered second moment.
    Raises: ValueError naming the first invalid argument.
    """

    def __init__(self, params: Iterable[Tensor] | Iterable[dict], lr: float = 1e-2, alpha: float = 0.99,
                 eps: float = 1e-8, weight_decay: float = 0, momentum: float = 0, centered: bool = False, *,
                 maximize: bool = False):
        defaults = dict(lr=lr, alpha=alpha, eps=eps, weight_decay=weight_decay, momentum=momentum,
                        centered=centered, maximize=maximize)
        super().__init__(params, defaults)

    def _check_group(self, group: dict[str, Any]) -> None:
        check_non_negative(group["lr"], "learning rate (lr)")
        check_non_negative(group["alpha"], "alpha value (alpha)")
        check_non_negative(group["eps"], "epsilon value (eps)")
        check_non_negative(group["weight_decay"], "weight_decay")
        check_non_negative(group["momentum"], "momentum")

    def _update(self, p: Tensor, grad: Any, state: dict[str, Any], group: dict[str, Any]) -> None:
        xp = p.backend.xp
        alpha, momentum = group["alpha"], group["momentum"]
        if not state:
            state["step"] = 0
            state["square_avg"] = wrap(xp.zeros_like(p._data), p)
        g = -grad if group["maximize"] else grad
        if group["weight_decay"] != 0:
            g = g + group["weight_decay"] * p._data
        square_avg = state["square_avg"]._data * alpha + (1 - alpha) * (g * g)
        state["square_avg"] = wrap(square_avg, p)
        if group["centered"]:
            grad_avg = state["grad_avg"]._data if state.get("grad_avg") is not None else xp.zeros_like(p._data)
            grad_avg = grad_avg + (1 - alpha) * (g - grad_avg)  # torch's lerp_(g, 1 - alpha)
            state["grad_avg"] = wrap(grad_avg, p)
            avg = xp.sqrt(square_avg - grad_avg * grad_avg) + group["eps"]
        else:
            avg = xp.sqrt(square_avg) + group["eps"]
        if momentum > 0:
            buf = state["momentum_buffer"]._data if state.get("momentum_buffer") is not None else xp.zeros_like(p._data)
            buf = buf * momentum + g / avg
            state["momentum_buffer"] = wrap(buf, p)
            p._write("step", ..., p._data - group["lr"] * buf)
        else:
            p._write("step", ..., p._data - group["lr"] * (g / avg))
        state["step"] += 1
