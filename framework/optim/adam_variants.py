"""Adamax, NAdam and RAdam: PyTorch's update rules (its single-tensor implementations), defaults and
state-dict keys. Shared with :class:`~framework.optim.adam.Adam`: the moment updates and the argument
checks; each class states only what differs."""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

from ..tensor import Tensor
from .adam import Adam
from .optimizer import check_non_negative, wrap

__all__ = ["Adamax", "NAdam", "RAdam"]


def _decayed_grad(p: Tensor, grad: Any, group: dict[str, Any]) -> tuple[Any, Any]:
    """``(g, param)`` after ``maximize`` and weight decay (L2 into the gradient, or decoupled: ``param``
    scaled by ``1 - lr*wd``)."""
    g = -grad if group.get("maximize") else grad
    param, wd = p._data, group["weight_decay"]
    if wd != 0:
        if group.get("decoupled_weight_decay"):
            param = param * (1 - group["lr"] * wd)
        else:
            g = g + wd * param
    return g, param


def _moments(p: Tensor, g: Any, state: dict[str, Any], beta1: float, beta2: float) -> tuple[Any, Any]:
    """Adam's moments, updated in place: ``m = lerp(m, g, 1-b1)``, ``v = b2*v + (1-b2)*g²``."""
    xp = p.backend.xp
    if "exp_avg" not in state:
        state["exp_avg"] = wrap(xp.zeros_like(p._data), p)
        state["exp_avg_sq"] = wrap(xp.zeros_like(p._data), p)
    m, v = state["exp_avg"]._data, state["exp_avg_sq"]._data
    m += (1 - beta1) * (g - m)
    v *= beta2
    v += (1 - beta2) * (g * g)
    return m, v


class Adamax(Adam):
    """Adamax (Adam with the infinity norm): ``u = max(b2*u, |g| + eps)``, ``p -= lr/(1-b1^t) * m / u``.

    Args: as :class:`Adam` (lr default 2e-3), without amsgrad. Raises: ValueError naming the argument.
    """

    _supports_fused = False  # no foreach / capturable / differentiable / fused options

    def __init__(self, params: Iterable[Tensor] | Iterable[dict], lr: float = 2e-3,
                 betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8, weight_decay: float = 0, *,
                 maximize: bool = False):
        super().__init__(params, lr=lr, betas=betas, eps=eps, weight_decay=weight_decay, maximize=maximize)
        for group in self.param_groups:  # Adam's own options, which Adamax does not have
            group.pop("amsgrad", None)
            group.pop("decoupled_weight_decay", None)
        self.defaults.pop("amsgrad", None)
        self.defaults.pop("decoupled_weight_decay", None)

    def _update(self, p: Tensor, grad: Any, state: dict[str, Any], group: dict[str, Any]) -> None:
        xp = p.backend.xp
        beta1, beta2 = group["betas"]
        if not state:
            state["step"] = 0
            state["exp_avg"] = wrap(xp.zeros_like(p._data), p)
            state["exp_inf"] = wrap(xp.zeros_like(p._data), p)
        step = state["step"] + 1
        g, param = _decayed_grad(p, grad, group)
        m = state["exp_avg"]._data
        m += (1 - beta1) * (g - m)
        u = xp.maximum(state["exp_inf"]._data * beta2, xp.abs(g) + group["eps"])
        state["exp_inf"] = wrap(u, p)
        p._write("step", ..., param - (group["lr"] / (1 - beta1**step)) * (m / u))
        state["step"] = step


class NAdam(Adam):
    """Adam with Nesterov momentum and momentum decay (Dozat), PyTorch's ``optim.NAdam``:
    ``mu_t = b1 * (1 - 0.5 * 0.96^(t * momentum_decay))``, ``p -= lr * ((1-mu_t)/(1-prod mu) * g
    + mu_{t+1}/(1 - prod mu * mu_{t+1}) * m) / (sqrt(v / (1-b2^t)) + eps)``.

    Args: as :class:`Adam` (lr default 2e-3) plus ``momentum_decay`` (>= 0) and ``decoupled_weight_decay``.
    """

    _supports_fused = False  # no foreach / capturable / differentiable / fused options

    def __init__(self, params: Iterable[Tensor] | Iterable[dict], lr: float = 2e-3,
                 betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8, weight_decay: float = 0,
                 momentum_decay: float = 4e-3, decoupled_weight_decay: bool = False, *, maximize: bool = False):
        check_non_negative(momentum_decay, "momentum_decay")
        super().__init__(params, lr=lr, betas=betas, eps=eps, weight_decay=weight_decay, maximize=maximize,
                         decoupled_weight_decay=decoupled_weight_decay)
        for group in self.param_groups:
            group.pop("amsgrad", None)
            group.setdefault("momentum_decay", momentum_decay)
        self.defaults.pop("amsgrad", None)
        self.defaults["momentum_decay"] = momentum_decay

    def _update(self, p: Tensor, grad: Any, state: dict[str, Any], group: dict[str, Any]) -> None:
        xp = p.backend.xp
        lr, (beta1, beta2), decay = group["lr"], group["betas"], group["momentum_decay"]
        if not state:
            state["step"] = 0
            state["mu_product"] = 1.0
        step = state["step"] + 1
        g, param = _decayed_grad(p, grad, group)
        mu = beta1 * (1 - 0.5 * 0.96 ** (step * decay))
        mu_next = beta1 * (1 - 0.5 * 0.96 ** ((step + 1) * decay))
        mu_product = state["mu_product"] * mu
        m, v = _moments(p, g, state, beta1, beta2)
        denom = xp.sqrt(v / (1 - beta2**step)) + group["eps"]
        update = (lr * (1 - mu) / (1 - mu_product)) * (g / denom)
        update += (lr * mu_next / (1 - mu_product * mu_next)) * (m / denom)
        p._write("step", ..., param - update)
        state["step"], state["mu_product"] = step, mu_product


class RAdam(Adam):
    """Rectified Adam, PyTorch's ``optim.RAdam``: while the variance estimate is unreliable
    (``rho_t <= 5``) a momentum-SGD step ``p -= lr * m/(1-b1^t)``; afterwards Adam's step scaled by the
    rectification ``r_t``.

    Args: as :class:`Adam` (no amsgrad) plus ``decoupled_weight_decay``.
    """

    _supports_fused = False  # no foreach / capturable / differentiable / fused options

    def __init__(self, params: Iterable[Tensor] | Iterable[dict], lr: float = 1e-3,
                 betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8, weight_decay: float = 0,
                 decoupled_weight_decay: bool = False, *, maximize: bool = False):
        super().__init__(params, lr=lr, betas=betas, eps=eps, weight_decay=weight_decay, maximize=maximize,
                         decoupled_weight_decay=decoupled_weight_decay)
        for group in self.param_groups:
            group.pop("amsgrad", None)
        self.defaults.pop("amsgrad", None)

    def _update(self, p: Tensor, grad: Any, state: dict[str, Any], group: dict[str, Any]) -> None:
        xp = p.backend.xp
        lr, (beta1, beta2) = group["lr"], group["betas"]
        if not state:
            state["step"] = 0
        step = state["step"] + 1
        g, param = _decayed_grad(p, grad, group)
        m, v = _moments(p, g, state, beta1, beta2)
        bias_correction1, bias_correction2 = 1 - beta1**step, 1 - beta2**step
        rho_inf = 2 / (1 - beta2) - 1
        rho_t = rho_inf - 2 * step * beta2**step / bias_correction2
        if rho_t > 5:
            rect = math.sqrt((rho_t - 4) * (rho_t - 2) * rho_inf / ((rho_inf - 4) * (rho_inf - 2) * rho_t))
            update = (lr * rect * math.sqrt(bias_correction2) / bias_correction1) * (m / (xp.sqrt(v) + group["eps"]))
        else:
            update = (lr / bias_correction1) * m
        p._write("step", ..., param - update)
        state["step"] = step
