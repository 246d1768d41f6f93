"""Adam and AdamW (decoupled weight decay), PyTorch's update rules including AMSGrad and ``maximize``."""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

import numpy as np

from ..autograd import no_grad
from ..tensor import Tensor
from .optimizer import (
    FlatState,
    Optimizer,
    check_fused_options,
    check_in_range,
    check_non_negative,
    flat_batches,
    kernel_grad,
    wrap,
)

__all__ = ["Adam", "AdamW"]


class Adam(Optimizer):
    """Adam: bias-corrected first and second moment estimates of the gradient.

    Per step ``t``: ``m = lerp(m, g, 1-b1)``, ``v = b2*v + (1-b2)*g²`` (``vmax = max(vmax, v)`` with
    AMSGrad), ``p -= lr/(1-b1^t) * m / (sqrt(v)/sqrt(1-b2^t) + eps)``. Weight decay adds ``wd*p`` to the
    gradient, or with ``decoupled_weight_decay`` (AdamW) scales ``p`` by ``1 - lr*wd`` first.

    Args:
        params: parameters or param-group dicts. lr: >= 0. betas: each in [0, 1). eps: >= 0.
        weight_decay: >= 0. amsgrad: use the running maximum of ``v``. maximize: ascend instead.
        foreach: accepted for PyTorch compatibility; no numeric effect (the per-parameter loop and the fused
            kernel compute the same numbers).
        capturable: keep the step count (``state["step"]``, a float64 0-d Tensor on the device, as torch keeps it)
            and the learning rate (a device copy of the group's ``lr``, see :meth:`~.Optimizer.sync_device_lr`) in
            device memory and form the bias corrections there, so the step reads nothing on the host and can be
            recorded into a CUDA graph (``fit(..., cuda_graph=True)``). With ``fused=True`` too (torch allows the
            pair; its fused Adam is capturable either way) the step is the fused ``optim_step`` kernel's capturable
            variant: per (device, dtype), one add to a vector holding every parameter's step count, a few tiny
            device operations forming each parameter's ``lr/(1-b1^t)``, ``sqrt(1-b2^t)``, ``1-lr*wd`` in float64,
            and ONE kernel launch reading them and a launch table uploaded once (``kernels/_optim_capturable.py``)
            -- about a dozen launches per step in all. Without ``fused`` it is the device's array operations, about
            13 small launches per parameter plus 9 for its scalars. Both compute the fused reference's numbers in
            its order: bit for bit in float64 on the CPU up to the last bit of ``pow``; in float32 torch's CPU
            ``sqrt`` (not correctly rounded) and a GPU kernel's FMA contraction can move the last bit.
        differentiable: only False (True raises NotImplementedError naming the argument).
        fused: update each param group with the ``optim_step`` kernel family, one kernel launch per dtype
            (and step count) on a GPU device, the numpy reference of the same family on ``cpu``. The state
            (``exp_avg``, ``exp_avg_sq``, ``max_exp_avg_sq``, ``step``) is the same per-parameter tensors
            either way, so state dicts move freely between ``fused=True`` and ``False``.
    Raises: ValueError naming the first invalid argument; RuntimeError for ``fused=True`` with
        ``foreach=True`` (PyTorch's message); NotImplementedError for differentiable.
    """

    #: Adam and AdamW have ``foreach`` / ``capturable`` / ``differentiable`` / ``fused`` (the variants do not)
    _supports_fused = True

    def __init__(self, params: Iterable[Tensor] | Iterable[dict], lr: float = 1e-3,
                 betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8, weight_decay: float = 0,
                 amsgrad: bool = False, *, foreach: bool | None = None, maximize: bool = False,
                 capturable: bool = False, differentiable: bool = False, fused: bool | None = None,
                 decoupled_weight_decay: bool = False):
        defaults = dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay, amsgrad=amsgrad,
                        maximize=maximize, decoupled_weight_decay=decoupled_weight_decay)
        if self._supports_fused:
            check_fused_options(foreach=foreach, capturable=capturable, differentiable=differentiable, fused=fused)
            defaults.update(foreach=foreach, capturable=capturable, differentiable=differentiable, fused=fused)
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

    def _flat_update(self, group: dict[str, Any], items: list[tuple[Tensor, Any]]) -> list[tuple[Tensor, Any]]:
        """On ``cpu``, Adam's step for all of a group's parameters at once (PyTorch's ``foreach`` idea): the
        moments of each batch of parameters live in one flat buffer per moment (``state["exp_avg"]`` and the
        others are Tensors on views of it, so the state dict is unchanged), the gradients are gathered into one
        flat array, :meth:`_update`'s formula runs as a dozen whole-buffer numpy operations, and each parameter
        gets its slice of the update. Same operations in the same order as :meth:`_update`, so the same bits
        (tests/optim/test_flat_adam.py). The step of DigitsCNN's 8 parameters took 0.83x the per-parameter time,
        the MNIST example net's 0.92x (in-process A/B, one thread; issue 17): what is left is the arithmetic.

        A batch is the parameters sharing a dtype and a step count (the bias corrections). Returned, for
        :meth:`_update`: parameters on other devices, a subclass with its own ``_update`` (Adamax, NAdam, RAdam),
        a gradient of another dtype (its promotion differs), a step count that is not an int (a capturable
        state loaded into a plain optimizer), state of the wrong shape or dtype, and a batch of one.
        """
        if type(self)._update is not Adam._update:
            return items
        names = ("exp_avg", "exp_avg_sq", "max_exp_avg_sq") if group["amsgrad"] else ("exp_avg", "exp_avg_sq")

        def batch_key(p: Tensor, state: dict[str, Any]) -> Any:
            step = state.get("step") if state else 0
            return (p._data.dtype, step) if type(step) is int else None

        rest, batches = flat_batches(self, group, items, names, batch_key, optional=("max_exp_avg_sq",),
                                     initial={"step": 0})
        for (_, step), batch, entry in batches:
            self._flat_adam(group, batch, entry, step + 1)
        return rest

    def _flat_adam(self, group: dict[str, Any], batch: list[tuple[Tensor, Any, dict[str, Any]]],
                   entry: FlatState, step: int) -> None:
        """:meth:`_update`'s operations on the batch's flat buffers (see :meth:`_flat_update`)."""
        lr, eps, wd = group["lr"], group["eps"], group["weight_decay"]
        beta1, beta2 = group["betas"]
        # Every operation writes into the batch's two scratch buffers (out=): a temporary of 128 KiB or more is
        # a fresh mmap and its page faults each time, which cost more than the arithmetic. Each line below is
        # the _update line named beside it, rounded the same way.
        g, t = entry.work
        decoupled = wd != 0 and group["decoupled_weight_decay"]
        decay = 1 - lr * wd if decoupled else 1.0  # AdamW scales the parameter below; Adam adds wd * param to g
        entry.gradient(batch, group["maximize"], 0.0 if decoupled else wd)  # into g
        m, v = entry.flat["exp_avg"], entry.flat["exp_avg_sq"]
        np.subtract(g, m, out=t)
        t *= 1 - beta1
        m += t  # m += (1 - beta1) * (g - m): torch's lerp_(g, 1 - beta1)
        v *= beta2
        np.multiply(g, g, out=t)
        t *= 1 - beta2
        v += t  # v += (1 - beta2) * (g * g)
        bias_correction1 = 1 - beta1**step
        bias_correction2_sqrt = math.sqrt(1 - beta2**step)
        if group["amsgrad"]:
            v_max = entry.flat["max_exp_avg_sq"]
            np.maximum(v_max, v, out=v_max)
            np.sqrt(v_max, out=t)
        else:
            np.sqrt(v, out=t)
        t /= bias_correction2_sqrt
        t += eps  # denom
        np.divide(m, t, out=t)
        t *= lr / bias_correction1  # update
        entry.subtract(batch, t, decay)  # AdamW: p * (1 - lr*wd) first
        for _, _, state in batch:
            state["step"] = step

    def _fused_update(self, group: dict[str, Any], items: list[tuple[Tensor, Any]]) -> None:
        """The group's step through ``kernels.<device>.optim_step.adam_step``: one call per (device, dtype,
        step count) -- parameters that skipped steps (no gradient) have their own bias corrections."""
        beta1, beta2 = group["betas"]
        batches: dict[tuple, list[tuple[Tensor, Any, dict[str, Any]]]] = {}
        for p, grad in items:
            state = self.state.setdefault(p, {})
            xp = p.backend.xp
            if not state:
                state["step"] = 0
                state["exp_avg"] = wrap(xp.zeros_like(p._data), p)
                state["exp_avg_sq"] = wrap(xp.zeros_like(p._data), p)
            if group["amsgrad"] and state.get("max_exp_avg_sq") is None:
                state["max_exp_avg_sq"] = wrap(xp.zeros_like(p._data), p)
            key = (p.backend.name, str(p.dtype), state["step"] + 1)
            batches.setdefault(key, []).append((p, kernel_grad(p, grad), state))
        for (_, _, step), batch in batches.items():
            kernels = batch[0][0].backend.kernels.optim_step
            kernels.adam_step([p._data for p, _, _ in batch], [g for _, g, _ in batch],
                              [s["exp_avg"]._data for _, _, s in batch], [s["exp_avg_sq"]._data for _, _, s in batch],
                              [s["max_exp_avg_sq"]._data for _, _, s in batch] if group["amsgrad"] else None,
                              step=step, lr=group["lr"], beta1=beta1, beta2=beta2, eps=group["eps"],
                              weight_decay=group["weight_decay"], amsgrad=group["amsgrad"],
                              maximize=group["maximize"], decoupled=group["decoupled_weight_decay"])
            for p, _, state in batch:
                p._bump_version()  # written in place, as torch: views and .data see the step
                state["step"] = step


    def _capturable_update(self, group: dict[str, Any], items: list[tuple[Tensor, Any]]) -> None:
        """``capturable=True``: with ``fused=True`` the fused capturable kernel for every parameter whose storage is
        contiguous (:meth:`_fused_capturable_update`), else (and for a strided one) the per-parameter array
        operations (:meth:`_capturable_update_each`) -- the same numbers."""
        if group.get("fused"):
            flat = [p.backend.ascontiguous(p._data) is p._data for p, _ in items]
            fused = [item for item, ok in zip(items, flat) if ok]
            if fused:
                self._fused_capturable_update(group, fused)
            items = [item for item, ok in zip(items, flat) if not ok]
        if items:
            self._capturable_update_each(group, items)

    def _fused_capturable_batches(self, group: dict[str, Any], items: list[tuple[Tensor, Any]]) -> list[tuple]:
        """The fused capturable step's batches: ``(kernels, params, grads, states, entry)`` per (device, dtype),
        with the state made where missing and ``entry`` the batch's :class:`_FusedSteps` (its step counts in one
        float64 device vector, whose 0-d views are the parameters' ``state["step"]``; its launch table cache)."""
        batches: dict[tuple, list[tuple[Tensor, Any, dict[str, Any]]]] = {}
        for p, grad in items:
            state = self.state.setdefault(p, {})
            xp = p.backend.xp
            if "exp_avg" not in state:
                state["exp_avg"] = wrap(xp.zeros_like(p._data), p)
                state["exp_avg_sq"] = wrap(xp.zeros_like(p._data), p)
            if group["amsgrad"] and state.get("max_exp_avg_sq") is None:
                state["max_exp_avg_sq"] = wrap(xp.zeros_like(p._data), p)
            batches.setdefault((p.backend.name, str(p.dtype)), []).append((p, kernel_grad(p, grad), state))
        entries = self.__dict__.setdefault("_fused_steps", {})
        out = []
        for key, batch in batches.items():
            entry = entries.get((id(group), key))
            if entry is None or not entry.holds([s for _, _, s in batch]):
                entry = entries[(id(group), key)] = _FusedSteps(batch, entry)
            out.append((batch[0][0].backend.kernels.optim_step, [p for p, _, _ in batch], [g for _, g, _ in batch],
                        [s for _, _, s in batch], entry))
        return out

    def _fused_adam(self, group: dict[str, Any], kernels: Any, params: list[Tensor], grads: list[Any],
                    states: list[dict[str, Any]], entry: _FusedSteps, lr: Any, launch: bool) -> None:
        beta1, beta2 = group["betas"]
        kernels.adam_step([p._data for p in params], grads, [s["exp_avg"]._data for s in states],
                          [s["exp_avg_sq"]._data for s in states],
                          [s["max_exp_avg_sq"]._data for s in states] if group["amsgrad"] else None,
                          step=entry.steps, lr=lr, beta1=beta1, beta2=beta2, eps=group["eps"],
                          weight_decay=group["weight_decay"], amsgrad=group["amsgrad"], maximize=group["maximize"],
                          decoupled=group["decoupled_weight_decay"], table_cache=entry.table, launch=launch)

    def _fused_capturable_update(self, group: dict[str, Any], items: list[tuple[Tensor, Any]]) -> None:
        """``fused=True, capturable=True``: per (device, dtype) batch, one in-place add to the batch's step-count
        vector, a few tiny device operations forming every parameter's ``lr / (1 - b1^t)``, ``sqrt(1 - b2^t)``
        and ``1 - lr*wd`` (float64, ``kernels/_optim_capturable.py``), and ONE ``optim_step.adam_step`` launch
        reading them and a launch table uploaded once (rebuilt only when a parameter, its state or its gradient's
        storage changed) -- about a dozen launches per step however many parameters, against about 13 per
        parameter for :meth:`_capturable_update_each`, and nothing read or written on the host."""
        for kernels, params, grads, states, entry in self._fused_capturable_batches(group, items):
            steps = entry.steps
            steps += 1  # torch's fused Adam increments its device step counts before the kernel
            self._fused_adam(group, kernels, params, grads, states, entry, self._device_lr(group, params[0].backend),
                             launch=True)
            for p in params:
                p._bump_version()  # written in place, as torch: views and .data see the step

    def prepare_capture(self) -> list[Any]:
        """Build, for the gradients the parameters hold now, the launch tables the next fused capturable step
        reads (uploads: host work a CUDA graph must not record), without stepping; returns them -- keep the list
        as long as a recording of that step. Gradients made by a recorded backward live at addresses known only
        once it was recorded: :class:`~framework.train.GraphStep` records the optimizer step separately, after
        calling this."""
        held = super().prepare_capture()
        with no_grad():
            for group in self.param_groups:
                if not (group.get("capturable") and group.get("fused")):
                    continue
                items = [(p, p.grad._data) for p in group["params"] if p.grad is not None
                         and p.backend.ascontiguous(p._data) is p._data]
                for kernels, params, grads, states, entry in self._fused_capturable_batches(group, items):
                    self._fused_adam(group, kernels, params, grads, states, entry,
                                     self._device_lr(group, params[0].backend), launch=False)
                    held.append((entry.steps, entry.table.value))  # what the recorded step reads
        return held

    def _capturable_update_each(self, group: dict[str, Any], items: list[tuple[Tensor, Any]]) -> None:
        """Adam with ``step`` and ``lr`` in device memory (``capturable=True``): the fused reference's formula
        (``kernels/numpy/optim_step.py``), operation for operation, with its host scalars formed on the device
        in float64 and rounded to the compute dtype. Everything a step allocates or initialises on the host
        (the state, the device ``lr``) happens on its first eager step: record a graph only after one."""
        beta1, beta2 = group["betas"]
        eps, wd = group["eps"], group["weight_decay"]
        for p, grad in items:
            state = self.state.setdefault(p, {})
            backend, xp = p.backend, p.backend.xp
            if "exp_avg" not in state:
                state["exp_avg"] = wrap(xp.zeros_like(p._data), p)
                state["exp_avg_sq"] = wrap(xp.zeros_like(p._data), p)
            if not isinstance(state.get("step"), Tensor):  # new, or an int from a state dict
                step0 = np.array(float(state.get("step", 0)), dtype=np.float64)
                state["step"] = Tensor._wrap(backend.from_numpy(step0, "float64"), backend)
            if group["amsgrad"] and state.get("max_exp_avg_sq") is None:
                state["max_exp_avg_sq"] = wrap(xp.zeros_like(p._data), p)
            lr = self._device_lr(group, backend)
            step = state["step"]._data
            step += 1
            # the host's adam_scalars, in float64 on the device: lr / (1 - b1**t), sqrt(1 - b2**t), 1 - lr*wd
            step_size = lr / (1 - beta1**step)
            bc2_sqrt = xp.sqrt(1 - beta2**step)
            dtype = p._data.dtype
            compute = dtype if str(dtype).endswith(("float32", "float64")) else xp.float32

            def cast(a, compute=compute, xp=xp):
                return a if a.dtype == compute else xp.astype(a, compute)

            param, g = cast(p._data), cast(grad)
            if group["maximize"]:
                g = -g
            if wd != 0:
                if group["decoupled_weight_decay"]:
                    param = param * cast(1 - lr * wd)
                else:
                    g = g + wd * param
            m, v = cast(state["exp_avg"]._data), cast(state["exp_avg_sq"]._data)
            delta = g - m
            delta *= 1 - beta1
            m += delta  # m + (1 - b1) * (g - m), in place when m is the state itself
            v *= beta2
            gg = g * g
            gg *= 1 - beta2
            v += gg
            if group["amsgrad"]:
                vhat = xp.maximum(cast(state["max_exp_avg_sq"]._data), v)
                _store(state["max_exp_avg_sq"]._data, vhat)
            else:
                vhat = v
            denom = xp.sqrt(vhat)
            denom /= cast(bc2_sqrt)
            denom += eps
            update = m / denom
            update *= cast(step_size)
            param -= update  # p's own storage, or a new array (cast / decayed) written back below
            _store(p._data, param)
            _store(state["exp_avg"]._data, m)
            _store(state["exp_avg_sq"]._data, v)
            p._bump_version()  # written in place, as torch: views and .data see the step


class _FusedSteps:
    """The step counts of one fused capturable batch (one param group, device and dtype) in ONE float64 device
    vector -- one in-place add per step for all of them -- whose 0-d views are the parameters' ``state["step"]``
    (state dicts see the counts as usual), and the batch's launch table cache (``kernels/_optim_capturable.py``).
    Made on an eager step: from the counts the states held (an int from a state dict is uploaded, a device count
    copied on the device, never read on the host)."""

    def __init__(self, batch: list[tuple[Tensor, Any, dict[str, Any]]], previous: _FusedSteps | None) -> None:
        from kernels._optim_capturable import TableCache

        backend = batch[0][0].backend
        states = [s for _, _, s in batch]
        counts = np.array([0.0 if isinstance(s.get("step"), Tensor) else float(s.get("step", 0)) for s in states])
        self.steps = backend.from_numpy(counts, "float64")
        for i, s in enumerate(states):
            if isinstance(s.get("step"), Tensor):  # a device count (another batch's view, the per-parameter path)
                self.steps[i] = s["step"]._data
        self.views = [Tensor._wrap(self.steps[i:i + 1].reshape(()), backend) for i in range(len(states))]
        for s, view in zip(states, self.views):
            s["step"] = view
        # a batch of other parameters gets a new table; the same parameters keep theirs (a rebuild is by key)
        self.table = previous.table if previous is not None else TableCache()

    def holds(self, states: list[dict[str, Any]]) -> bool:
        """Whether these states' counts are this vector's views, in this order."""
        return len(states) == len(self.views) and all(s.get("step") is v for s, v in zip(states, self.views))


def _store(target: Any, value: Any) -> None:
    """Write ``value`` into ``target`` in place (a no-op when it is ``target`` itself), casting to its dtype."""
    if value is not target:
        target[...] = value


class AdamW(Adam):
    """Adam with decoupled weight decay (``p *= 1 - lr*wd`` before the Adam step), PyTorch's ``optim.AdamW``.

    Same arguments as :class:`Adam`, with ``weight_decay`` defaulting to 1e-2.
    """

    def __init__(self, params: Iterable[Tensor] | Iterable[dict], lr: float = 1e-3,
                 betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8, weight_decay: float = 1e-2,
                 amsgrad: bool = False, *, maximize: bool = False, foreach: bool | None = None,
                 capturable: bool = False, differentiable: bool = False, fused: bool | None = None):
        super().__init__(params, lr=lr, betas=betas, eps=eps, weight_decay=weight_decay, amsgrad=amsgrad,
                         foreach=foreach, maximize=maximize, capturable=capturable, differentiable=differentiable,
                         fused=fused, decoupled_weight_decay=True)
