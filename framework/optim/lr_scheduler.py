"""Learning-rate schedulers with PyTorch's names, arguments and rates (``torch.optim.lr_scheduler``).

The constructor records each param group's starting rate as ``'initial_lr'`` (``base_lrs``) and applies
epoch 0; each ``step()``, called after ``optimizer.step()``, advances ``last_epoch`` and writes the new
rates into the groups' ``'lr'``. A scheduler is its ``get_lr``: a line or three of math.

Why most ``get_lr`` multiply the rate a group holds *now*: PyTorch's schedulers are chainable. StepLR's
step is ``lr *= gamma`` every ``step_size`` epochs, not ``initial_lr * gamma ** (epoch // step_size)``.
Alone, both give the same schedule; only the first composes with whatever changed the rate since the last
step (a second scheduler on the same optimizer, the user). The formulas are PyTorch's operation for
operation, so the rates equal its rates to the last bit. The closed forms (``_get_closed_form_lr``) are
used where PyTorch uses them: when :class:`SequentialLR` restarts a scheduler at its epoch 0.

``state_dict()`` holds everything but the optimizer (save the optimizer's state too: it holds
``'initial_lr'`` and OneCycleLR's per-group bounds). Checkpoints compare its keys, so the attribute
names are part of the file format. A bad argument raises a ValueError naming the first invalid one
(a TypeError for an object of the wrong kind: not an optimizer, a scheduler or a function).
"""

from __future__ import annotations

import math
import numbers
import types
from bisect import bisect_right
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from ..dtypes import is_int as _is_int
from .optimizer import Optimizer

__all__ = ["ConstantLR", "CosineAnnealingLR", "CosineAnnealingWarmRestarts", "ExponentialLR", "LRScheduler",
           "LambdaLR", "LinearLR", "MultiStepLR", "MultiplicativeLR", "OneCycleLR", "PolynomialLR",
           "ReduceLROnPlateau", "SequentialLR", "StepLR"]


def _is_real(value: Any) -> bool:  # NaN passes here, then fails every bound (its comparisons are all False)
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


# Argument rules: the words the error says, and the test a valid value passes.
_RULES: dict[str, Callable[[Any], bool]] = {
    "a positive int": lambda v: _is_int(v) and v >= 1,
    "an int >= 0": lambda v: _is_int(v) and v >= 0,
    "> 0.0": lambda v: _is_real(v) and v > 0,
    ">= 0.0": lambda v: _is_real(v) and v >= 0,
    "in (0.0, 1.0]": lambda v: _is_real(v) and 0 < v <= 1,
    "in [0.0, 1.0]": lambda v: _is_real(v) and 0 <= v <= 1,
    "in [0.0, 1.0)": lambda v: _is_real(v) and 0 <= v < 1,
}


def _check(owner: str, rule: str, **values: Any) -> None:
    """Raise a ValueError naming the first of ``values`` that breaks ``rule`` (a key of ``_RULES``)."""
    for name, value in values.items():
        if not _RULES[rule](value):
            raise ValueError(f"{owner}: {name} must be {rule}, got {value!r}")


def _check_optimizer(optimizer: Any) -> None:
    if not isinstance(optimizer, Optimizer):
        raise TypeError(f"{type(optimizer).__name__} is not an Optimizer")


def _per_group(value: Any, name: str, owner: str, optimizer: Optimizer) -> list[Any]:
    """A scalar repeated for every param group, or a list/tuple with exactly one value per group."""
    n = len(optimizer.param_groups)
    if not isinstance(value, list | tuple):
        return [value] * n
    if len(value) != n:
        raise ValueError(f"{owner}: {name} must have one value per param group ({n}), got {len(value)}")
    return list(value)


class LRScheduler:
    """Base class: a subclass stores its settings, calls ``super().__init__`` and implements ``get_lr``
    (the rates for ``self.last_epoch``), plus ``_get_closed_form_lr`` where PyTorch has one.

    Args:
        optimizer: the optimizer whose groups' ``'lr'`` is scheduled.
        last_epoch: -1 for a fresh run; when resuming, the epoch reached (the groups need ``'initial_lr'``).
    Raises: TypeError for a non-optimizer, KeyError when resuming without ``'initial_lr'``.
    """

    _is_initial = False  # True during the constructor's step: see ExponentialLR.get_lr

    def __init__(self, optimizer: Optimizer, last_epoch: int = -1):
        _check_optimizer(optimizer)
        self.optimizer = optimizer
        for i, group in enumerate(optimizer.param_groups):
            if last_epoch == -1:
                group.setdefault("initial_lr", group["lr"])
            elif "initial_lr" not in group:
                raise KeyError(f"param 'initial_lr' is not specified in param_groups[{i}] when resuming a "
                               "scheduler with last_epoch >= 0 (load the optimizer state first)")
        self.base_lrs: list[float] = [group["initial_lr"] for group in optimizer.param_groups]
        self.last_epoch = last_epoch
        self._initial_step()

    def _initial_step(self) -> None:
        """The constructor's step, to epoch ``last_epoch + 1`` (SequentialLR restarts its first one so)."""
        self._step_count = 0  # PyTorch's count of steps; nothing reads it, its state dict holds it
        self._is_initial = True
        try:
            self.step()
        finally:
            self._is_initial = False

    def get_lr(self) -> list[float]:
        """The learning rate of every param group for ``self.last_epoch``."""
        raise NotImplementedError

    def _scaled(self, factor: float | None) -> list[float]:
        """The chainable step: every group's current rate times ``factor`` (``None``: unchanged)."""
        lrs = [group["lr"] for group in self.optimizer.param_groups]
        return lrs if factor is None else [lr * factor for lr in lrs]

    def step(self) -> None:
        """Advance one epoch and set every group's ``'lr'``."""
        self._step_count += 1
        self._update_lr()

    def _update_lr(self, epoch: int | None = None) -> None:
        """Advance one epoch, or jump to ``epoch`` through the closed form where there is one."""
        if epoch is None:
            self.last_epoch += 1
            lrs = self.get_lr()
        else:
            self.last_epoch = epoch
            lrs = self._get_closed_form_lr() if hasattr(self, "_get_closed_form_lr") else self.get_lr()
        self._set_lrs(lrs)

    def _set_lrs(self, lrs: list[float]) -> None:
        for group, lr in zip(self.optimizer.param_groups, lrs, strict=True):
            group["lr"] = lr
        self._last_lr = [group["lr"] for group in self.optimizer.param_groups]

    def get_last_lr(self) -> list[float]:
        """The rates set by the latest step, one per param group (a copy)."""
        return list(self._last_lr)

    def state_dict(self) -> dict[str, Any]:
        """Everything but the optimizer: epoch, step count, base rates and the scheduler's settings."""
        return {key: value for key, value in self.__dict__.items() if key != "optimizer"}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Restore what :meth:`state_dict` returned (load the optimizer's state separately)."""
        self.__dict__.update(state_dict)


_PLAIN_FUNCTIONS = (types.FunctionType, types.MethodType, types.BuiltinFunctionType, types.BuiltinMethodType)


class _LambdaScheduler(LRScheduler):
    """LambdaLR and MultiplicativeLR: ``lr_lambda`` is a function ``epoch -> factor``, or a list of them,
    one per param group (TypeError for a non-callable). As in PyTorch, the state dict holds ``None`` for
    plain functions and lambdas (which cannot be pickled: the scheduler loading the state keeps its own)
    and the ``__dict__`` of callable objects, restored into the loading scheduler's callables."""

    def __init__(self, optimizer: Optimizer, lr_lambda: Callable[[int], float] | Sequence[Callable[[int], float]],
                 last_epoch: int = -1):
        _check_optimizer(optimizer)
        n, owner = len(optimizer.param_groups), type(self).__name__
        if isinstance(lr_lambda, list | tuple) and len(lr_lambda) != n:
            raise ValueError(f"{owner}: expected {n} lr_lambdas (one per param group), got {len(lr_lambda)}")
        self.lr_lambdas = list(lr_lambda) if isinstance(lr_lambda, list | tuple) else [lr_lambda] * n
        for fn in self.lr_lambdas:
            if not callable(fn):
                raise TypeError(f"{owner}: lr_lambda must be a function (or a list of functions), "
                                f"got {type(fn).__name__}")
        super().__init__(optimizer, last_epoch)

    def state_dict(self) -> dict[str, Any]:
        state = super().state_dict()
        state["lr_lambdas"] = [None if isinstance(fn, _PLAIN_FUNCTIONS) or not hasattr(fn, "__dict__")
                               else dict(fn.__dict__) for fn in self.lr_lambdas]
        return state

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        state = dict(state_dict)
        saved = state.pop("lr_lambdas", [None] * len(self.lr_lambdas))
        self.__dict__.update(state)
        for fn, attributes in zip(self.lr_lambdas, saved):
            if attributes is not None:
                fn.__dict__.update(attributes)


class LambdaLR(_LambdaScheduler):
    """``lr = initial_lr * lr_lambda(epoch)``: not chainable (in PyTorch neither), each step overwrites."""

    def get_lr(self) -> list[float]:
        return [base * fn(self.last_epoch) for fn, base in zip(self.lr_lambdas, self.base_lrs, strict=True)]


class MultiplicativeLR(_LambdaScheduler):
    """``lr *= lr_lambda(epoch)`` at every step (the constructor's keeps the rates)."""

    def get_lr(self) -> list[float]:
        if self._is_initial:
            return self._scaled(None)
        return [group["lr"] * fn(self.last_epoch)
                for fn, group in zip(self.lr_lambdas, self.optimizer.param_groups, strict=True)]


class StepLR(LRScheduler):
    """``lr = initial_lr * gamma ** (epoch // step_size)``."""

    def __init__(self, optimizer: Optimizer, step_size: int, gamma: float = 0.1, last_epoch: int = -1):
        if not isinstance(step_size, int) or isinstance(step_size, bool) or step_size <= 0:  # numpy ints refused here
            raise ValueError(f"StepLR: step_size must be a positive int, got {step_size!r}")
        _check("StepLR", "> 0.0", gamma=gamma)
        self.step_size, self.gamma = step_size, gamma
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        # No _is_initial test, as in PyTorch: resuming at a multiple of step_size applies gamma once more.
        e = self.last_epoch
        return self._scaled(self.gamma if e != 0 and e % self.step_size == 0 else None)

    def _get_closed_form_lr(self) -> list[float]:
        return [base * self.gamma ** (self.last_epoch // self.step_size) for base in self.base_lrs]


class MultiStepLR(LRScheduler):
    """``lr = initial_lr * gamma ** (number of milestones <= epoch)``; ``milestones`` are ints >= 0 in
    increasing order, one given ``n`` times multiplies by ``gamma ** n``."""

    def __init__(self, optimizer: Optimizer, milestones: Iterable[int], gamma: float = 0.1, last_epoch: int = -1):
        milestones = list(milestones)
        for m in milestones:
            _check("MultiStepLR", "an int >= 0", milestones=m)
        if milestones != sorted(milestones):
            raise ValueError(f"MultiStepLR: milestones must be in increasing order, got {milestones}")
        _check("MultiStepLR", "> 0.0", gamma=gamma)
        self.milestones, self.gamma = Counter(milestones), gamma  # milestones: epoch -> times given
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        e = self.last_epoch
        return self._scaled(self.gamma ** self.milestones[e] if e in self.milestones else None)

    def _get_closed_form_lr(self) -> list[float]:
        # the milestones passed, counted on .items(): a checkpoint gives the Counter back as a plain dict
        passed = sum(times for epoch, times in self.milestones.items() if epoch <= self.last_epoch)
        return [base * self.gamma ** passed for base in self.base_lrs]


class ExponentialLR(LRScheduler):
    """``lr = initial_lr * gamma ** epoch``."""

    def __init__(self, optimizer: Optimizer, gamma: float, last_epoch: int = -1):
        _check("ExponentialLR", "> 0.0", gamma=gamma)
        self.gamma = gamma
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        # The constructor's step must not multiply: a resumed run's groups already hold the rate it reached.
        return self._scaled(None if self._is_initial else self.gamma)

    def _get_closed_form_lr(self) -> list[float]:
        return [base * self.gamma ** self.last_epoch for base in self.base_lrs]


class ConstantLR(LRScheduler):
    """``lr = initial_lr * (factor if epoch < total_iters else 1)``."""

    def __init__(self, optimizer: Optimizer, factor: float = 1.0 / 3, total_iters: int = 5, last_epoch: int = -1):
        _check("ConstantLR", "in (0.0, 1.0]", factor=factor)
        _check("ConstantLR", "a positive int", total_iters=total_iters)
        self.factor, self.total_iters = factor, total_iters
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        if self.last_epoch == 0:
            return self._scaled(self.factor)
        return self._scaled(1.0 / self.factor if self.last_epoch == self.total_iters else None)

    def _get_closed_form_lr(self) -> list[float]:
        return [base * (self.factor + (self.last_epoch >= self.total_iters) * (1 - self.factor))
                for base in self.base_lrs]


class LinearLR(LRScheduler):
    """``lr = initial_lr * (start + (end - start) * min(epoch, total_iters) / total_iters)``."""

    def __init__(self, optimizer: Optimizer, start_factor: float = 1.0 / 3, end_factor: float = 1.0,
                 total_iters: int = 5, last_epoch: int = -1):
        _check("LinearLR", "in (0.0, 1.0]", start_factor=start_factor)
        _check("LinearLR", "in [0.0, 1.0]", end_factor=end_factor)
        _check("LinearLR", "a positive int", total_iters=total_iters)
        self.start_factor, self.end_factor, self.total_iters = start_factor, end_factor, total_iters
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        e, delta = self.last_epoch, self.end_factor - self.start_factor
        if e == 0:
            return self._scaled(self.start_factor)
        if self._is_initial or e > self.total_iters:
            return self._scaled(None)
        return self._scaled(1.0 + delta / (self.total_iters * self.start_factor + (e - 1) * delta))  # f(e) / f(e - 1)

    def _get_closed_form_lr(self) -> list[float]:
        progress = min(self.total_iters, self.last_epoch) / self.total_iters
        return [base * (self.start_factor + (self.end_factor - self.start_factor) * progress)
                for base in self.base_lrs]


class PolynomialLR(LRScheduler):
    """``lr = initial_lr * (1 - min(epoch, total_iters) / total_iters) ** power``."""

    def __init__(self, optimizer: Optimizer, total_iters: int = 5, power: float = 1.0, last_epoch: int = -1):
        _check("PolynomialLR", "a positive int", total_iters=total_iters)
        _check("PolynomialLR", ">= 0.0", power=power)
        self.total_iters, self.power = total_iters, power
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        t, total = self.last_epoch, self.total_iters
        if self._is_initial or t > total:
            return self._scaled(None)
        return self._scaled(((1.0 - t / total) / (1.0 - (t - 1) / total)) ** self.power)  # f(t) / f(t - 1)

    def _get_closed_form_lr(self) -> list[float]:
        return [base * (1.0 - min(self.total_iters, self.last_epoch) / self.total_iters) ** self.power
                for base in self.base_lrs]


class CosineAnnealingLR(LRScheduler):
    """``lr = eta_min + (initial_lr - eta_min) * (1 + cos(pi * epoch / T_max)) / 2``: down to ``eta_min``
    in ``T_max`` epochs, then back up, periodically."""

    def __init__(self, optimizer: Optimizer, T_max: int, eta_min: float = 0.0, last_epoch: int = -1):  # noqa: N803
        if not isinstance(T_max, int) or isinstance(T_max, bool) or T_max <= 0:  # numpy ints refused here
            raise ValueError(f"CosineAnnealingLR: T_max must be a positive int, got {T_max!r}")
        if eta_min < 0:
            raise ValueError(f"CosineAnnealingLR: eta_min must be >= 0, got {eta_min!r}")
        self.T_max, self.eta_min = T_max, eta_min
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        # PyTorch has one more branch, for _step_count == 1 after epoch 0; here every step() follows the
        # constructor's, so _step_count is 2 or more by then and the branch would be dead.
        t, T, eta_min, groups = self.last_epoch, self.T_max, self.eta_min, self.optimizer.param_groups
        if self._is_initial:
            return self._scaled(None)
        if (t - 1 - T) % (2 * T) == 0:  # leaving the minimum, where the ratio below would divide by zero
            return [group["lr"] + (base - eta_min) * (1 - math.cos(math.pi / T)) / 2
                    for base, group in zip(self.base_lrs, groups)]
        # the distance to eta_min scales by (1 + cos(pi t / T)) / (1 + cos(pi (t - 1) / T))
        return [(1 + math.cos(math.pi * t / T)) / (1 + math.cos(math.pi * (t - 1) / T)) * (group["lr"] - eta_min)
                + eta_min for group in groups]

    def _get_closed_form_lr(self) -> list[float]:
        t, T, eta_min = self.last_epoch, self.T_max, self.eta_min
        return [eta_min + (base - eta_min) * (1 + math.cos(math.pi * t / T)) / 2 for base in self.base_lrs]


class CosineAnnealingWarmRestarts(LRScheduler):
    """SGDR: ``lr = eta_min + (initial_lr - eta_min) * (1 + cos(pi * T_cur / T_i)) / 2`` with ``T_cur`` the
    epochs since the last restart; the first period ``T_i`` is ``T_0``, each restart multiplies it by
    ``T_mult``. From the initial rates, as in PyTorch. ``step(epoch)`` jumps to a (possibly fractional)
    epoch, e.g. ``step(epoch + i / iters_per_epoch)`` after every batch (ValueError unless a number >= 0).
    """

    def __init__(self, optimizer: Optimizer, T_0: int, T_mult: int = 1, eta_min: float = 0.0,  # noqa: N803
                 last_epoch: int = -1):
        _check("CosineAnnealingWarmRestarts", "a positive int", T_0=T_0, T_mult=T_mult)
        _check("CosineAnnealingWarmRestarts", ">= 0.0", eta_min=eta_min)
        self.T_0, self.T_i, self.T_mult, self.eta_min = T_0, T_0, T_mult, eta_min
        self.T_cur: float = last_epoch
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        eta_min = self.eta_min
        return [eta_min + (base - eta_min) * (1 + math.cos(math.pi * self.T_cur / self.T_i)) / 2
                for base in self.base_lrs]

    def step(self, epoch: float | None = None) -> None:
        """Advance one epoch, or go to ``epoch`` (a float for positions within an epoch)."""
        if epoch is None and self.last_epoch < 0:
            epoch = 0
        if epoch is None:
            epoch, self.T_cur = self.last_epoch + 1, self.T_cur + 1
            if self.T_cur >= self.T_i:  # a restart
                self.T_cur, self.T_i = self.T_cur % self.T_i, self.T_i * self.T_mult
        elif not _is_real(epoch) or epoch < 0:
            raise ValueError(f"CosineAnnealingWarmRestarts: epoch must be a number >= 0, got {epoch!r}")
        elif epoch < self.T_0:
            self.T_i, self.T_cur = self.T_0, epoch
        elif self.T_mult == 1:
            self.T_cur = epoch % self.T_0
        else:  # restarts so far: the n with T_0 (T_mult^n - 1) / (T_mult - 1) <= epoch
            n = int(math.log((epoch / self.T_0 * (self.T_mult - 1) + 1), self.T_mult))
            self.T_cur = epoch - self.T_0 * (self.T_mult ** n - 1) / (self.T_mult - 1)
            self.T_i = self.T_0 * self.T_mult ** n
        self._step_count += 1
        self.last_epoch = math.floor(epoch)
        self._set_lrs(self.get_lr())


class OneCycleLR(LRScheduler):
    """The 1cycle policy, stepped after every *batch*: the rate rises from ``max_lr / div_factor`` to
    ``max_lr`` over the first ``pct_start`` of ``total_steps`` (or ``epochs * steps_per_epoch``), then
    anneals (``anneal_strategy`` ``'cos'`` or ``'linear'``) to ``max_lr / div_factor / final_div_factor``;
    the momentum (``'momentum'``, or Adam's ``betas[0]``) moves the other way between ``max_momentum`` and
    ``base_momentum``. ``three_phase`` first returns to the initial rate, then anneals to the minimum.
    ``max_lr`` and the momenta are scalars or one per group. Each group gets ``'initial_lr'``,
    ``'max_lr'``, ``'min_lr'`` (and ``'max_momentum'``, ``'base_momentum'``), which the schedule reads.
    ``step()`` past ``total_steps`` raises a ValueError.
    """

    def __init__(self, optimizer: Optimizer, max_lr: float | Sequence[float], total_steps: int | None = None,
                 epochs: int | None = None, steps_per_epoch: int | None = None, pct_start: float = 0.3,
                 anneal_strategy: str = "cos", cycle_momentum: bool = True,
                 base_momentum: float | Sequence[float] = 0.85, max_momentum: float | Sequence[float] = 0.95,
                 div_factor: float = 25.0, final_div_factor: float = 1e4, three_phase: bool = False,
                 last_epoch: int = -1):
        owner = "OneCycleLR"
        _check_optimizer(optimizer)
        if total_steps is not None:
            _check(owner, "a positive int", total_steps=total_steps)
        elif epochs is not None and steps_per_epoch is not None:
            _check(owner, "a positive int", epochs=epochs, steps_per_epoch=steps_per_epoch)
            total_steps = epochs * steps_per_epoch
        else:
            raise ValueError(f"{owner}: give total_steps, or both epochs and steps_per_epoch (got total_steps="
                             f"{total_steps!r}, epochs={epochs!r}, steps_per_epoch={steps_per_epoch!r})")
        _check(owner, "in [0.0, 1.0]", pct_start=pct_start)
        if anneal_strategy not in ("cos", "linear"):
            raise ValueError(f"{owner}: anneal_strategy must be 'cos' or 'linear', got {anneal_strategy!r}")
        _check(owner, "> 0.0", div_factor=div_factor, final_div_factor=final_div_factor)
        max_lrs = _per_group(max_lr, "max_lr", owner, optimizer)
        for value in max_lrs:
            _check(owner, "> 0.0", max_lr=value)
        # Each phase anneals the group entries named start_* to those named end_* until its end_step; a list
        # of dicts as in PyTorch, since the state dict (and so a checkpoint) holds it.
        up = (float(pct_start * total_steps) - 1, "initial_lr", "max_lr", "max_momentum", "base_momentum")
        if three_phase:  # up, back to the initial rate, then on to the minimum (the paper's schedule)
            down = (float(2 * pct_start * total_steps) - 2, "max_lr", "initial_lr", "base_momentum", "max_momentum")
            phases = [up, down, (total_steps - 1, "initial_lr", "min_lr", "max_momentum", "max_momentum")]
        else:  # up, then down to the minimum (fastai's schedule)
            phases = [up, (total_steps - 1, "max_lr", "min_lr", "base_momentum", "max_momentum")]
        keys = ("end_step", "start_lr", "end_lr", "start_momentum", "end_momentum")
        self._schedule_phases = [dict(zip(keys, phase, strict=True)) for phase in phases]
        self.total_steps, self._anneal_func_type = total_steps, anneal_strategy
        self.optimizer, self.cycle_momentum = optimizer, cycle_momentum
        if last_epoch == -1:  # a resumed run's groups hold these already (from the optimizer's state)
            for group, peak in zip(optimizer.param_groups, max_lrs, strict=True):
                group.update(initial_lr=peak / div_factor, max_lr=peak, min_lr=peak / div_factor / final_div_factor)
        if cycle_momentum:
            if "momentum" not in optimizer.defaults and "betas" not in optimizer.defaults:
                raise ValueError(f"{owner}: cycle_momentum=True needs an optimizer with 'momentum' or 'betas' "
                                 f"({type(optimizer).__name__} has neither; pass cycle_momentum=False)")
            self.use_beta1 = "betas" in optimizer.defaults
            max_momenta = _per_group(max_momentum, "max_momentum", owner, optimizer)
            base_momenta = _per_group(base_momentum, "base_momentum", owner, optimizer)
            for high in max_momenta:
                _check(owner, ">= 0.0", max_momentum=high)
            for low in base_momenta:
                _check(owner, ">= 0.0", base_momentum=low)
            if last_epoch == -1:
                for group, high, low in zip(optimizer.param_groups, max_momenta, base_momenta, strict=True):
                    self._set_momentum(group, high)
                    group.update(max_momentum=high, base_momentum=low)
        super().__init__(optimizer, last_epoch)

    def _set_momentum(self, group: dict[str, Any], value: float) -> None:
        if self.use_beta1:
            group["betas"] = (value, *group["betas"][1:])
        else:
            group["momentum"] = value

    def _anneal(self, start: float, end: float, pct: float) -> float:
        """From ``start`` (pct 0) to ``end`` (pct 1) along a half cosine or a line."""
        if self._anneal_func_type == "cos":
            return end + (start - end) / 2.0 * (math.cos(math.pi * pct) + 1)
        return (end - start) * pct + start

    def step(self) -> None:
        """Advance one batch (ValueError past ``total_steps``: checked before anything changes)."""
        if self.last_epoch + 1 > self.total_steps:
            raise ValueError(f"OneCycleLR: tried to step {self.last_epoch + 1} times, but total_steps is "
                             f"{self.total_steps} (the schedule is over: create a longer one)")
        super().step()

    def get_lr(self) -> list[float]:
        step, start, phases = self.last_epoch, 0.0, self._schedule_phases
        for i, phase in enumerate(phases):
            if step <= phase["end_step"] or i == len(phases) - 1:
                pct = (step - start) / (phase["end_step"] - start)
                break
            start = phase["end_step"]
        groups = self.optimizer.param_groups
        if self.cycle_momentum:  # the momentum moves against the rate
            for group in groups:
                momentum = self._anneal(group[phase["start_momentum"]], group[phase["end_momentum"]], pct)
                self._set_momentum(group, momentum)
        return [self._anneal(group[phase["start_lr"]], group[phase["end_lr"]], pct) for group in groups]


class SequentialLR(LRScheduler):
    """Run ``schedulers`` (on ``optimizer``, not ReduceLROnPlateau) one after another: ``schedulers[i]``
    drives the epochs from ``milestones[i - 1]`` (strictly increasing ints >= 0) on, restarted at its epoch
    0 through its closed form, as in PyTorch. E.g. a warm-up then a decay::

        SequentialLR(opt, [LinearLR(opt, 0.1, total_iters=5), CosineAnnealingLR(opt, T_max=95)], [5])

    ``state_dict()`` holds every scheduler's state dict.
    """

    def __init__(self, optimizer: Optimizer, schedulers: Sequence[LRScheduler], milestones: Sequence[int],
                 last_epoch: int = -1):
        _check_optimizer(optimizer)
        schedulers, milestones = list(schedulers), list(milestones)
        if not schedulers:
            raise ValueError("SequentialLR: schedulers must hold at least one scheduler")
        for i, scheduler in enumerate(schedulers):
            if not isinstance(scheduler, LRScheduler):
                raise TypeError(f"SequentialLR: schedulers[{i}] is a {type(scheduler).__name__}, not a scheduler")
            if isinstance(scheduler, ReduceLROnPlateau):
                raise ValueError(f"SequentialLR: schedulers[{i}] is a ReduceLROnPlateau, which is stepped with a "
                                 "metric and cannot be sequenced")
            if scheduler.optimizer is not optimizer:
                raise ValueError(f"SequentialLR: schedulers[{i}] ({type(scheduler).__name__}) drives another "
                                 "optimizer than the one given")
        if len(milestones) != len(schedulers) - 1:
            raise ValueError(f"SequentialLR: milestones must hold len(schedulers) - 1 = {len(schedulers) - 1} "
                             f"epochs, got {len(milestones)}")
        for m in milestones:
            _check("SequentialLR", "an int >= 0", milestones=m)
        if any(a >= b for a, b in zip(milestones, milestones[1:])):
            raise ValueError(f"SequentialLR: milestones must be strictly increasing, got {milestones}")
        self._schedulers, self._milestones = schedulers, milestones
        self.last_epoch, self.optimizer = last_epoch + 1, optimizer
        # Every constructor took a step: back to the initial rates, take those steps back, then apply
        # epoch 0 with the scheduler meant for it only.
        for group in optimizer.param_groups:
            group["lr"] = group["initial_lr"]
        self._recursive_undo()
        first = self._schedulers[bisect_right(self._milestones, 0)]
        first._initial_step()
        self._last_lr = first.get_last_lr()

    def _recursive_undo(self, scheduler: Any = None) -> None:
        """Take back one epoch from every wrapped scheduler (recursing into nested SequentialLRs)."""
        scheduler = self if scheduler is None else scheduler
        if hasattr(scheduler, "_schedulers"):
            for inner in scheduler._schedulers:
                self._recursive_undo(inner)
        elif hasattr(scheduler, "last_epoch"):
            scheduler.last_epoch -= 1

    def step(self) -> None:
        """Advance one epoch with the scheduler of the new epoch (restarted at epoch 0 at its milestone)."""
        self.last_epoch += 1
        idx = bisect_right(self._milestones, self.last_epoch)
        scheduler = self._schedulers[idx]
        if idx > 0 and self._milestones[idx - 1] == self.last_epoch:  # its first epoch: PyTorch's step(0)
            scheduler._update_lr(0)
        else:
            scheduler.step()
        self._last_lr = scheduler.get_last_lr()

    def state_dict(self) -> dict[str, Any]:
        state = {key: value for key, value in self.__dict__.items() if key not in ("optimizer", "_schedulers")}
        return {**state, "_schedulers": [scheduler.state_dict() for scheduler in self._schedulers]}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        state = dict(state_dict)
        inner = state.pop("_schedulers")
        if len(inner) != len(self._schedulers):
            raise ValueError(f"SequentialLR: the state dict holds {len(inner)} schedulers, this one "
                             f"{len(self._schedulers)}")
        self.__dict__.update(state)
        for scheduler, scheduler_state in zip(self._schedulers, inner, strict=True):
            scheduler.load_state_dict(scheduler_state)


class ReduceLROnPlateau(LRScheduler):
    """``lr = max(lr * factor, min_lr)`` once a metric has not improved for more than ``patience`` steps;
    call ``step(metric)`` once per epoch (e.g. with the validation loss).

    Args:
        mode: ``'min'`` (the metric should fall, e.g. a loss) or ``'max'`` (e.g. an accuracy).
        factor: in [0, 1). patience, cooldown: ints >= 0; bad steps are not counted for ``cooldown`` steps
            after a reduction. threshold (>= 0), threshold_mode: an improvement beats ``best * (1 -/+
            threshold)`` (``'rel'``) or ``best -/+ threshold`` (``'abs'``), for mode min/max.
        min_lr: >= 0, one for all groups or a list with one per group. eps: smaller reductions are skipped.
    """

    def __init__(self, optimizer: Optimizer, mode: str = "min", factor: float = 0.1, patience: int = 10,
                 threshold: float = 1e-4, threshold_mode: str = "rel", cooldown: int = 0,
                 min_lr: float | Sequence[float] = 0, eps: float = 1e-8):
        # No base __init__ (as in PyTorch): no 'initial_lr', no constructor's step; it is stepped by metrics.
        owner = "ReduceLROnPlateau"
        _check(owner, "in [0.0, 1.0)", factor=factor)
        _check_optimizer(optimizer)
        if mode not in ("min", "max"):
            raise ValueError(f"{owner}: mode must be 'min' or 'max', got {mode!r}")
        if threshold_mode not in ("rel", "abs"):
            raise ValueError(f"{owner}: threshold_mode must be 'rel' or 'abs', got {threshold_mode!r}")
        _check(owner, "an int >= 0", patience=patience, cooldown=cooldown)
        _check(owner, ">= 0.0", threshold=threshold, eps=eps)
        # a scalar min_lr also covers groups added later (see _reduce_lr); a list is for these groups only
        self.default_min_lr = None if isinstance(min_lr, list | tuple) else min_lr
        self.min_lrs = _per_group(min_lr, "min_lr", owner, optimizer)
        for value in self.min_lrs:
            _check(owner, ">= 0.0", min_lr=value)
        self.optimizer, self.factor, self.eps = optimizer, factor, eps
        self.patience, self.cooldown = patience, cooldown
        self.mode, self.threshold, self.threshold_mode = mode, threshold, threshold_mode
        self.mode_worse = math.inf if mode == "min" else -math.inf
        self.last_epoch, self._last_lr = 0, [group["lr"] for group in optimizer.param_groups]
        self.best, self.cooldown_counter, self.num_bad_epochs = self.mode_worse, 0, 0

    @property
    def in_cooldown(self) -> bool:
        return self.cooldown_counter > 0

    def _is_better(self, a: float, best: float) -> bool:
        """Whether ``a`` beats ``best`` by more than the threshold (never for NaN: comparisons are False)."""
        rel, t = self.threshold_mode == "rel", self.threshold
        if self.mode == "min":
            return a < best * (1.0 - t) if rel else a < best - t
        return a > best * (t + 1.0) if rel else a > best + t

    def step(self, metrics: Any) -> None:  # type: ignore[override]
        """Record one epoch's metric (a number or a one-element Tensor) and reduce the rates if needed."""
        current = float(metrics)
        self.last_epoch += 1
        if self._is_better(current, self.best):
            self.best, self.num_bad_epochs = current, 0
        else:
            self.num_bad_epochs += 1
        if self.in_cooldown:
            self.cooldown_counter -= 1
            self.num_bad_epochs = 0  # bad epochs during the cooldown do not count
        if self.num_bad_epochs > self.patience:
            self._reduce_lr()
            self.cooldown_counter, self.num_bad_epochs = self.cooldown, 0
        self._last_lr = [group["lr"] for group in self.optimizer.param_groups]

    def _reduce_lr(self) -> None:
        groups = self.optimizer.param_groups
        if len(groups) != len(self.min_lrs):  # a group was added since construction
            if self.default_min_lr is None:
                raise RuntimeError(f"ReduceLROnPlateau: the optimizer has {len(groups)} param groups but min_lr "
                                   f"has {len(self.min_lrs)} values (a group was added: update min_lrs)")
            self.min_lrs = [self.default_min_lr] * len(groups)
        for group, min_lr in zip(groups, self.min_lrs):
            old_lr = float(group["lr"])
            new_lr = max(old_lr * self.factor, min_lr)
            if old_lr - new_lr > self.eps:
                group["lr"] = new_lr


# PyTorch names deliberately missing here raise an AttributeError saying so (framework/unsupported.py).
from ..unsupported import module_getattr as _module_getattr  # noqa: E402

__getattr__ = _module_getattr(__name__)
