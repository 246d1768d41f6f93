"""Adam and AdamW (decoupled weight decay), PyTorch's update rules including AMSGrad and ``maximize``."""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

from ..tensor import Tensor
from .optimizer import Optimizer, check_in_range, check_non_negative, wrap

__all__ = ["Adam", "AdamW"]


class Adam(Optimizer):
    """Adam: bias-corrected first and second moment estimates of the gradient.

    Per step ``t``: ``m = lerp(m, g, 1-b1)``, ``v = b2*v + (1-b2)*g²`` (``vmax = max(vmax, v)`` with
    AMSGrad), ``p -= lr/(1-b1^t) * m / (sqrt(v)/sqrt(1-b2^t) + eps)``. Weight decay adds ``wd*p`` to the
    gradient, or with ``decoupled_weight_decay`` (AdamW) scales ``p`` by ``1 - lr*wd`` first.

    Args:
        params: parameters or param-group dicts. lr: >= 0. betas: each in [0, 1). eps: >= 0.
        weight_decay: >= 0. amsgrad: use the running maximum of ``v``. maximize: ascend instead.
    Raises: ValueError naming the first invalid argument.
    """

    def __init__(self, params: Iterable[Tensor] | Iterable[dict], lr: float = 1e-3,
                 betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8, weight_decay: float = 0,
                 amsgrad: bool = False, *, maximize: bool = False, decoupled_weight_decay: bool = False):
        defaults = dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay, amsgrad=amsgrad,
                        maximize=maximize, decoupled_weight_decay=decoupled_weight_decay)
        super().__init__(params, defaults)

    def _check_group(self, group: dict[str, Any]) -> None:
        check_non_negative(group["lr"], "learning rate (lr)")
        check_non_negative(group["eps"], "epsilon value (eps)")
        betas = group["betas"]
        if not isinstance(betas, tuple | list) or len(betas) != 2:
            raise ValueError(f"Invalid betas: expected a pair (beta1, beta2), got {betas!r}")
        check_in_range(betas[0], "beta parameter at index 0 (betas[0])", 0.0, 1.0, high_inclusive=False)
        check_in_range(betas[1], "beta parameter at index 1 (betas[1])", 0.0, 1.0, high_inclusive=False)
        check_non_negative(group["weight_decay"], "weight_decay")

    def _update(self, p: Tensor, grad: Any, state: dict[str, Any], group: dict[str, Any]) -> None:
        xp = p.backend.xp
        lr, eps, wd = group["lr"], group["eps"], group["weight_decay"]
        beta1, beta2 = group["betas"]
        if not state:
            state["step"] = 0
            state["exp_avg"] = wrap(xp.zeros_like(p._data), p)
            state["exp_avg_sq"] = wrap(xp.zeros_like(p._data), p)
        if group["amsgrad"] and state.get("max_exp_avg_sq") is None:
            state["max_exp_avg_sq"] = wrap(xp.zeros_like(p._data), p)
        g = -grad if group["maximize"] else grad
        param = p._data
        step = state["step"] + 1
        if wd != 0:
            if group["decoupled_weight_decay"]:
                param = param * (1 - lr * wd)
            else:
                g = g + wd * param
        # The moments are updated in place (in-place operators are part of the array API, so this
        # works on every backend); state_dict() hands out copies, so saved snapshots never change.
        m = state["exp_avg"]._data
        m += (1 - beta1) * (g - m)  # torch's lerp_(g, 1 - beta1)
        v = state["exp_avg_sq"]._data
        v *= beta2
        v += (1 - beta2) * (g * g)
        bias_correction1 = 1 - beta1**step
        bias_correction2_sqrt = math.sqrt(1 - beta2**step)
        if group["amsgrad"]:
            v_max = xp.maximum(state["max_exp_avg_sq"]._data, v)
            state["max_exp_avg_sq"] = wrap(v_max, p)
            denom = xp.sqrt(v_max)
        else:
            denom = xp.sqrt(v)
        denom /= bias_correction2_sqrt
        denom += eps
        update = m / denom
        update *= lr / bias_correction1
        if param is p._data:
            param -= update
            p._bump_version()
        else:
            p._write("step", ..., param - update)  # in place, as torch: views and .data see the step
        state["step"] = step


class AdamW(Adam):
    """Adam with decoupled weight decay (``p *= 1 - lr*wd`` before the Adam step), PyTorch's ``optim.AdamW``.

    Same arguments as :class:`Adam`, with ``weight_decay`` defaulting to 1e-2.
    """

    def __init__(self, params: Iterable[Tensor] | Iterable[dict], lr: float = 1e-3,
                 betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8, weight_decay: float = 1e-2,
                 amsgrad: bool = False, *, maximize: bool = False):
        super().__init__(params, lr=lr, betas=betas, eps=eps, weight_decay=weight_decay, amsgrad=amsgrad,
                         maximize=maximize, decoupled_weight_decay=True)
