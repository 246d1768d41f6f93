"""Stochastic gradient descent with momentum, Nesterov momentum and weight decay (PyTorch's ``optim.SGD``)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np

from ..tensor import Tensor
from .optimizer import Optimizer, check_fused_options, check_non_negative, flat_batches, kernel_grad, wrap

__all__ = ["SGD"]


class SGD(Optimizer):
    """``g = grad + wd*p``; ``buf = momentum*buf + (1-dampening)*g`` (``buf = g`` on the first step);
    ``g = g + momentum*buf`` (Nesterov) or ``g = buf``; ``p -= lr*g``. ``maximize`` negates ``grad``.

    Args:
        params: parameters or param-group dicts. lr: learning rate >= 0. momentum, dampening,
            weight_decay: >= 0. nesterov: needs ``momentum > 0`` and ``dampening == 0``.
        foreach: accepted for PyTorch compatibility; no numeric effect.
        differentiable: only False (True raises NotImplementedError naming it).
        fused: update each param group with ``kernels.<device>.optim_step.sgd_step``, one kernel launch per
            dtype on a GPU device, the numpy reference of the same family on ``cpu``; the momentum buffers
            stay per-parameter state, so state dicts are the same as with ``fused=False``.
    Raises: ValueError naming the first invalid argument; RuntimeError for ``fused=True`` with
        ``foreach=True`` (PyTorch's message).
    """

    _supports_fused = True

    def __init__(self, params: Iterable[Tensor] | Iterable[dict], lr: float = 1e-3, momentum: float = 0,
                 dampening: float = 0, weight_decay: float = 0, nesterov: bool = False, *, maximize: bool = False,
                 foreach: bool | None = None, differentiable: bool = False, fused: bool | None = None):
        check_fused_options(foreach=foreach, capturable=False, differentiable=differentiable, fused=fused)
        defaults = dict(lr=lr, momentum=momentum, dampening=dampening, weight_decay=weight_decay,
                        nesterov=nesterov, maximize=maximize, foreach=foreach, differentiable=differentiable,
                        fused=fused)
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

    def _flat_update(self, group: dict[str, Any], items: list[tuple[Tensor, Any]]) -> list[tuple[Tensor, Any]]:
        """On ``cpu``, :meth:`_update` for a group's parameters at once over flat buffers (see
        :func:`~.optimizer.flat_batches`; a batch is a dtype and whether the momentum buffers start this step):
        the same operations in the same order, so the same bits, with the momentum buffers updated in place in
        one buffer instead of a new array per parameter per step."""
        if type(self)._update is not SGD._update:
            return items
        momentum, wd, lr = group["momentum"], group["weight_decay"], group["lr"]
        names = ("momentum_buffer",) if momentum != 0 else ()

        def batch_key(p: Tensor, state: dict[str, Any]) -> Any:
            return p._data.dtype, momentum != 0 and state.get("momentum_buffer") is None

        rest, batches = flat_batches(self, group, items, names, batch_key, optional=names)
        for (_, first), batch, entry in batches:
            g, t = entry.work
            entry.gradient(batch, group["maximize"], wd)  # into g
            if momentum != 0:
                buf = entry.flat["momentum_buffer"]
                if first:
                    buf[...] = g  # torch's first step: the buffer starts as g
                else:
                    buf *= momentum
                    np.multiply(g, 1 - group["dampening"], out=t)
                    buf += t  # momentum * buf + (1 - dampening) * g
                if group["nesterov"]:
                    np.multiply(buf, momentum, out=t)
                    g += t  # g + momentum * buf
                else:
                    g = buf
            np.multiply(g, lr, out=t)  # lr * g
            entry.subtract(batch, t)  # in place, as _update's p._write
        return rest

    def _fused_update(self, group: dict[str, Any], items: list[tuple[Tensor, Any]]) -> None:
        """The group's step through ``kernels.<device>.optim_step.sgd_step``: one call per (device, dtype, first
        step or not) -- a parameter without a momentum buffer yet starts it as g, torch's first step."""
        momentum = group["momentum"]
        batches: dict[tuple, list[tuple[Tensor, Any, dict[str, Any]]]] = {}
        for p, grad in items:
            state = self.state.setdefault(p, {})
            first = momentum != 0 and state.get("momentum_buffer") is None
            if first:  # written by the kernel (buf = g) before it is read
                state["momentum_buffer"] = wrap(p.backend.xp.zeros_like(p._data), p)
            key = (p.backend.name, str(p.dtype), first)
            batches.setdefault(key, []).append((p, kernel_grad(p, grad), state))
        for (_, _, first), batch in batches.items():
            kernels = batch[0][0].backend.kernels.optim_step
            kernels.sgd_step([p._data for p, _, _ in batch], [g for _, g, _ in batch],
                             [s["momentum_buffer"]._data for _, _, s in batch] if momentum != 0 else None,
                             lr=group["lr"], momentum=momentum, dampening=group["dampening"],
                             weight_decay=group["weight_decay"], nesterov=group["nesterov"],
                             maximize=group["maximize"], first_step=first)
            for p, _, _ in batch:
                p._bump_version()  # written in place, as torch: views and .data see the step
