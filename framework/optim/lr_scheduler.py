"""Learning-rate schedulers with PyTorch's semantics: construction applies epoch 0, each ``step()``
(called after ``optimizer.step()``) advances one epoch and writes the new rate into every param
group's ``'lr'``. The recursive (chainable) formulas are PyTorch's, so the sequences match it step for
step; :class:`SequentialLR` switches schedulers with their closed forms, as PyTorch does.

Schedulers: :class:`LambdaLR`, :class:`MultiplicativeLR`, :class:`StepLR`, :class:`MultiStepLR`,
:class:`ConstantLR`, :class:`LinearLR`, :class:`ExponentialLR`, :class:`PolynomialLR`,
:class:`CosineAnnealingLR`, :class:`CosineAnnealingWarmRestarts`, :class:`OneCycleLR` (per batch),
:class:`SequentialLR` (e.g. warm-up then decay) and :class:`ReduceLROnPlateau` (``step(metric)``).
Every one has ``state_dict()`` / ``load_state_dict()`` (everything but the optimizer; save and load the
optimizer's state too, it holds ``'initial_lr'`` and OneCycleLR's per-group bounds).
"""

from __future__ import annotations

import math
import numbers
import types
from bisect import bisect_right
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from .optimizer import Optimizer

__all__ = [
    "ConstantLR",
    "CosineAnnealingLR",
    "CosineAnnealingWarmRestarts",
    "ExponentialLR",
    "LRScheduler",
    "LambdaLR",
    "LinearLR",
    "MultiStepLR",
    "MultiplicativeLR",
    "OneCycleLR",
    "PolynomialLR",
    "ReduceLROnPlateau",
    "SequentialLR",
    "StepLR",
]


# ------------------------------------------------------------------------------------ argument checks


def _is_real(value: Any) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def _check_int(value: Any, name: str, owner: str, minimum: int = 1) -> None:
    """Raise ValueError naming ``name`` unless ``value`` is an int >= ``minimum``."""
    if not isinstance(value, numbers.Integral) or isinstance(value, bool) or value < minimum:
        what = "a positive int" if minimum == 1 else f"an int >= {minimum}"
        raise ValueError(f"{owner}: {name} must be {what}, got {value!r}")


def _check_real(value: Any, name: str, owner: str, low: float | None = None, high: float | None = None,
                low_open: bool = False, high_open: bool = False) -> None:
    """Raise ValueError naming ``name`` unless ``value`` is a real number in the given interval."""
    ok = _is_real(value) and not math.isnan(value)
    if ok and low is not None:
        ok = value > low if low_open else value >= low
    if ok and high is not None:
        ok = value < high if high_open else value <= high
    if not ok:
        if low is not None and high is not None:
            rule = f"in {'(' if low_open else '['}{low}, {high}{')' if high_open else ']'}"
        elif low is not None:
            rule = f"{'>' if low_open else '>='} {low}"
        elif high is not None:
            rule = f"{'<' if high_open else '<='} {high}"
        else:
            rule = "a real number"
        raise ValueError(f"{owner}: {name} must be {rule}, got {value!r}")


def _per_group(value: Any, name: str, owner: str, optimizer: Optimizer) -> list[Any]:
    """A scalar repeated for every param group, or a list/tuple with exactly one value per group."""
    n = len(optimizer.param_groups)
    if isinstance(value, list | tuple):
        if len(value) != n:
            raise ValueError(f"{owner}: {name} must have one value per param group ({n}), got {len(value)}")
        return list(value)
    return [value] * n


def _check_optimizer(optimizer: Any) -> None:
    if not isinstance(optimizer, Optimizer):
        raise TypeError(f"{type(optimizer).__name__} is not an Optimizer")


def _group_lrs(optimizer: Optimizer) -> list[float]:
    return [group["lr"] for group in optimizer.param_groups]


# ------------------------------------------------------------------------------------------- base


class LRScheduler:
    """Base class: subclasses implement :meth:`get_lr` (the rates for ``self.last_epoch``, usually from
    the groups' current rates: PyTorch's chainable form) and, where PyTorch has one, ``_get_closed_form_lr``
    (the rates from ``base_lrs`` alone, used when :class:`SequentialLR` switches to a scheduler).

    Args:
        optimizer: the optimizer whose groups' ``'lr'`` is scheduled.
        last_epoch: -1 for a fresh run; when resuming, the epoch reached (groups need ``'initial_lr'``).
    Raises: TypeError for a non-optimizer, KeyError when resuming without ``'initial_lr'``.
    """

    _is_initial = False

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
        """Reset the step count and apply the current epoch (the constructor's step, which keeps the
        rates where a chainable form would otherwise change them a second time)."""
        self._step_count = 0
        self._is_initial = True
        try:
            self.step()
        finally:
            self._is_initial = False

    def get_lr(self) -> list[float]:
        """The learning rate of every param group for ``self.last_epoch``."""
        raise NotImplementedError

    def step(self) -> None:
        """Advance one epoch and set every group's ``'lr'``."""
        self._step_count += 1
        self._update_lr()

    def _update_lr(self, epoch: int | None = None) -> None:
        """Advance one epoch (``epoch=None``) or jump to ``epoch`` (closed form where there is one)."""
        if epoch is None:
            self.last_epoch += 1
            values = self.get_lr()
        else:
            self.last_epoch = epoch
            closed_form = getattr(self, "_get_closed_form_lr", None)
            values = closed_form() if closed_form is not None else self.get_lr()
        for group, lr in zip(self.optimizer.param_groups, values, strict=True):
            group["lr"] = lr
        self._last_lr = _group_lrs(self.optimizer)

    def get_last_lr(self) -> list[float]:
        """The rates set by the latest ``step()`` (one per param group)."""
        return list(self._last_lr)

    def state_dict(self) -> dict[str, Any]:
        """Everything but the optimizer (epoch, step count, base rates and the subclass's settings)."""
        return {key: value for key, value in self.__dict__.items() if key != "optimizer"}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Restore what :meth:`state_dict` returned (the optimizer's state is loaded separately)."""
        self.__dict__.update(state_dict)


# ---------------------------------------------------------------------------------- lambda schedules


def _lr_lambdas(lr_lambda: Any, optimizer: Any, owner: str) -> list[Callable[[int], float]]:
    _check_optimizer(optimizer)
    n = len(optimizer.param_groups)
    if isinstance(lr_lambda, list | tuple):
        if len(lr_lambda) != n:
            raise ValueError(f"{owner}: expected {n} lr_lambdas (one per param group), got {len(lr_lambda)}")
        lambdas = list(lr_lambda)
    else:
        lambdas = [lr_lambda] * n
    for fn in lambdas:
        if not callable(fn):
            raise TypeError(f"{owner}: lr_lambda must be a function (or a list of functions), "
                            f"got {type(fn).__name__}")
    return lambdas


_PLAIN_FUNCTIONS = (types.FunctionType, types.MethodType, types.BuiltinFunctionType, types.BuiltinMethodType)


class _LambdaState:
    """state_dict / load_state_dict of the lambda schedulers: like PyTorch, plain functions and lambdas are
    not saved (``None``: the scheduler you load into keeps its own); callable objects save their
    ``__dict__``, which is restored into the loading scheduler's callables."""

    lr_lambdas: list[Callable[[int], float]]

    def state_dict(self) -> dict[str, Any]:
        state = {key: value for key, value in self.__dict__.items() if key not in ("optimizer", "lr_lambdas")}
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


class LambdaLR(_LambdaState, LRScheduler):
    """Each group's rate is its initial rate times ``lr_lambda(epoch)``: ``lr = initial_lr * f(epoch)``.

    Args:
        optimizer: the optimizer.
        lr_lambda: a function ``epoch -> factor``, or a list of them, one per param group.
        last_epoch: -1 for a fresh run.
    Raises: ValueError when a list does not have one function per group, TypeError for a non-callable.

    ``state_dict()`` stores nothing for plain functions and lambdas (they cannot be pickled; the scheduler
    loading the state keeps its own), and the ``__dict__`` of callable objects, as PyTorch does.
    """

    def __init__(self, optimizer: Optimizer, lr_lambda: Callable[[int], float] | Sequence[Callable[[int], float]],
                 last_epoch: int = -1):
        self.lr_lambdas = _lr_lambdas(lr_lambda, optimizer, "LambdaLR")
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        return [base * fn(self.last_epoch) for fn, base in zip(self.lr_lambdas, self.base_lrs, strict=True)]


class MultiplicativeLR(_LambdaState, LRScheduler):
    """Each step multiplies every group's current rate by ``lr_lambda(epoch)`` (epoch 0 keeps the rate).

    Args:
        optimizer: the optimizer.
        lr_lambda: a function ``epoch -> factor``, or a list of them, one per param group.
        last_epoch: -1 for a fresh run.
    Raises: ValueError when a list does not have one function per group, TypeError for a non-callable.

    State dicts save the lambdas as :class:`LambdaLR` does.
    """

    def __init__(self, optimizer: Optimizer, lr_lambda: Callable[[int], float] | Sequence[Callable[[int], float]],
                 last_epoch: int = -1):
        self.lr_lambdas = _lr_lambdas(lr_lambda, optimizer, "MultiplicativeLR")
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        if self._is_initial:
            return _group_lrs(self.optimizer)
        return [group["lr"] * fn(self.last_epoch)
                for fn, group in zip(self.lr_lambdas, self.optimizer.param_groups, strict=True)]


# -------------------------------------------------------------------------------------- step decays


class StepLR(LRScheduler):
    """Multiply every group's rate by ``gamma`` every ``step_size`` epochs:
    ``lr = initial_lr * gamma ** (epoch // step_size)``.

    Raises: ValueError for a non-positive ``step_size`` or ``gamma``.
    """

    def __init__(self, optimizer: Optimizer, step_size: int, gamma: float = 0.1, last_epoch: int = -1):
        if not isinstance(step_size, int) or isinstance(step_size, bool) or step_size <= 0:
            raise ValueError(f"StepLR: step_size must be a positive int, got {step_size!r}")
        _check_real(gamma, "gamma", "StepLR", low=0.0, low_open=True)
        self.step_size = step_size
        self.gamma = gamma
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        groups = self.optimizer.param_groups
        if self.last_epoch == 0 or self.last_epoch % self.step_size != 0:
            return [group["lr"] for group in groups]
        return [group["lr"] * self.gamma for group in groups]

    def _get_closed_form_lr(self) -> list[float]:
        return [base * self.gamma ** (self.last_epoch // self.step_size) for base in self.base_lrs]


class MultiStepLR(LRScheduler):
    """Multiply every group's rate by ``gamma`` at each milestone epoch:
    ``lr = initial_lr * gamma ** (number of milestones <= epoch)``.

    Args:
        optimizer: the optimizer.
        milestones: epoch indices in increasing order; a milestone given ``n`` times multiplies by
            ``gamma ** n``.
        gamma: the factor (> 0).
        last_epoch: -1 for a fresh run.
    Raises: ValueError for milestones that are not ints >= 0 in increasing order, or ``gamma <= 0``.
    """

    def __init__(self, optimizer: Optimizer, milestones: Iterable[int], gamma: float = 0.1, last_epoch: int = -1):
        milestones = list(milestones)
        for m in milestones:
            _check_int(m, "milestones", "MultiStepLR", minimum=0)
        if milestones != sorted(milestones):
            raise ValueError(f"MultiStepLR: milestones must be in increasing order, got {milestones}")
        _check_real(gamma, "gamma", "MultiStepLR", low=0.0, low_open=True)
        self.milestones = Counter(milestones)
        self.gamma = gamma
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        groups = self.optimizer.param_groups
        if self.last_epoch not in self.milestones:
            return [group["lr"] for group in groups]
        return [group["lr"] * self.gamma ** self.milestones[self.last_epoch] for group in groups]

    def _get_closed_form_lr(self) -> list[float]:
        passed = bisect_right(sorted(self.milestones.elements()), self.last_epoch)
        return [base * self.gamma ** passed for base in self.base_lrs]


class ExponentialLR(LRScheduler):
    """Multiply every group's rate by ``gamma`` every epoch: ``lr = initial_lr * gamma ** epoch``.

    Raises: ValueError for ``gamma <= 0``.
    """

    def __init__(self, optimizer: Optimizer, gamma: float, last_epoch: int = -1):
        _check_real(gamma, "gamma", "ExponentialLR", low=0.0, low_open=True)
        self.gamma = gamma
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        if self._is_initial:
            return _group_lrs(self.optimizer)
        return [group["lr"] * self.gamma for group in self.optimizer.param_groups]

    def _get_closed_form_lr(self) -> list[float]:
        return [base * self.gamma ** self.last_epoch for base in self.base_lrs]


# ----------------------------------------------------------------------------------------- warm-ups


class ConstantLR(LRScheduler):
    """Scale every group's rate by ``factor`` for the first ``total_iters`` epochs, then restore it:
    ``lr = initial_lr * (factor if epoch < total_iters else 1)``.

    Raises: ValueError for ``factor`` outside (0, 1] or a non-positive ``total_iters``.
    """

    def __init__(self, optimizer: Optimizer, factor: float = 1.0 / 3, total_iters: int = 5, last_epoch: int = -1):
        _check_real(factor, "factor", "ConstantLR", low=0.0, high=1.0, low_open=True)
        _check_int(total_iters, "total_iters", "ConstantLR")
        self.factor = factor
        self.total_iters = total_iters
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        groups = self.optimizer.param_groups
        if self.last_epoch == 0:
            return [group["lr"] * self.factor for group in groups]
        if self.last_epoch != self.total_iters:
            return [group["lr"] for group in groups]
        return [group["lr"] * (1.0 / self.factor) for group in groups]

    def _get_closed_form_lr(self) -> list[float]:
        return [base * (self.factor + (self.last_epoch >= self.total_iters) * (1 - self.factor))
                for base in self.base_lrs]


class LinearLR(LRScheduler):
    """Scale every group's rate by a factor going linearly from ``start_factor`` to ``end_factor`` over
    ``total_iters`` epochs (then constant):
    ``lr = initial_lr * (start + (end - start) * min(epoch, total_iters) / total_iters)``.

    Raises: ValueError for ``start_factor`` outside (0, 1], ``end_factor`` outside [0, 1] or a non-positive
    ``total_iters``.
    """

    def __init__(self, optimizer: Optimizer, start_factor: float = 1.0 / 3, end_factor: float = 1.0,
                 total_iters: int = 5, last_epoch: int = -1):
        _check_real(start_factor, "start_factor", "LinearLR", low=0.0, high=1.0, low_open=True)
        _check_real(end_factor, "end_factor", "LinearLR", low=0.0, high=1.0)
        _check_int(total_iters, "total_iters", "LinearLR")
        self.start_factor = start_factor
        self.end_factor = end_factor
        self.total_iters = total_iters
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        groups = self.optimizer.param_groups
        if self.last_epoch == 0:
            return [group["lr"] * self.start_factor for group in groups]
        if self._is_initial or self.last_epoch > self.total_iters:
            return [group["lr"] for group in groups]
        delta = self.end_factor - self.start_factor
        ratio = 1.0 + delta / (self.total_iters * self.start_factor + (self.last_epoch - 1) * delta)
        return [group["lr"] * ratio for group in groups]

    def _get_closed_form_lr(self) -> list[float]:
        progress = min(self.total_iters, self.last_epoch) / self.total_iters
        return [base * (self.start_factor + (self.end_factor - self.start_factor) * progress)
                for base in self.base_lrs]


class PolynomialLR(LRScheduler):
    """Decay every group's rate polynomially to 0 over ``total_iters`` epochs (then keep it):
    ``lr = initial_lr * (1 - min(epoch, total_iters) / total_iters) ** power``.

    Raises: ValueError for a non-positive ``total_iters`` or a negative ``power``.
    """

    def __init__(self, optimizer: Optimizer, total_iters: int = 5, power: float = 1.0, last_epoch: int = -1):
        _check_int(total_iters, "total_iters", "PolynomialLR")
        _check_real(power, "power", "PolynomialLR", low=0.0)
        self.total_iters = total_iters
        self.power = power
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        groups = self.optimizer.param_groups
        if self._is_initial or self.last_epoch > self.total_iters:
            return [group["lr"] for group in groups]
        t, total = self.last_epoch, self.total_iters
        decay = ((1.0 - t / total) / (1.0 - (t - 1) / total)) ** self.power
        return [group["lr"] * decay for group in groups]

    def _get_closed_form_lr(self) -> list[float]:
        return [base * (1.0 - min(self.total_iters, self.last_epoch) / self.total_iters) ** self.power
                for base in self.base_lrs]


# ------------------------------------------------------------------------------------------ cosines


class CosineAnnealingLR(LRScheduler):
    """Cosine decay from each group's initial rate to ``eta_min`` over ``T_max`` epochs (then back up,
    periodically, as PyTorch's recursive form does): ``eta_min + (lr0 - eta_min)(1 + cos(pi t/T_max))/2``.

    Raises: ValueError for a non-positive ``T_max`` or a negative ``eta_min``.
    """

    def __init__(self, optimizer: Optimizer, T_max: int, eta_min: float = 0.0, last_epoch: int = -1):  # noqa: N803
        if not isinstance(T_max, int) or isinstance(T_max, bool) or T_max <= 0:
            raise ValueError(f"CosineAnnealingLR: T_max must be a positive int, got {T_max!r}")
        if eta_min < 0:
            raise ValueError(f"CosineAnnealingLR: eta_min must be >= 0, got {eta_min!r}")
        self.T_max = T_max
        self.eta_min = eta_min
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        groups = self.optimizer.param_groups
        t, T, eta_min = self.last_epoch, self.T_max, self.eta_min
        if self._is_initial:
            return [group["lr"] for group in groups]
        if self._step_count == 1 and t > 0:
            return [eta_min + (base - eta_min) * (1 + math.cos(t * math.pi / T)) / 2 for base in self.base_lrs]
        if (t - 1 - T) % (2 * T) == 0:
            return [group["lr"] + (base - eta_min) * (1 - math.cos(math.pi / T)) / 2
                    for base, group in zip(self.base_lrs, groups)]
        return [(1 + math.cos(math.pi * t / T)) / (1 + math.cos(math.pi * (t - 1) / T)) * (group["lr"] - eta_min)
                + eta_min for group in groups]

    def _get_closed_form_lr(self) -> list[float]:
        t, T, eta_min = self.last_epoch, self.T_max, self.eta_min
        return [eta_min + (base - eta_min) * (1 + math.cos(math.pi * t / T)) / 2 for base in self.base_lrs]


class CosineAnnealingWarmRestarts(LRScheduler):
    """SGDR: cosine decay from each group's initial rate to ``eta_min`` over ``T_i`` epochs, then a restart
    at the initial rate; ``T_0`` is the first period and each restart multiplies it by ``T_mult``:
    ``lr = eta_min + (lr0 - eta_min)(1 + cos(pi T_cur / T_i)) / 2``.

    ``step()`` advances one epoch; ``step(epoch)`` jumps to a (possibly fractional) epoch, e.g.
    ``step(epoch + i / iters_per_epoch)`` after every batch, as in PyTorch.

    Raises: ValueError for a non-positive ``T_0``, ``T_mult`` < 1 (both ints), a negative ``eta_min``,
    or a negative ``epoch`` passed to ``step``.
    """

    def __init__(self, optimizer: Optimizer, T_0: int, T_mult: int = 1, eta_min: float = 0.0,  # noqa: N803
                 last_epoch: int = -1):
        _check_int(T_0, "T_0", "CosineAnnealingWarmRestarts")
        _check_int(T_mult, "T_mult", "CosineAnnealingWarmRestarts")
        _check_real(eta_min, "eta_min", "CosineAnnealingWarmRestarts", low=0.0)
        self.T_0 = T_0
        self.T_i = T_0
        self.T_mult = T_mult
        self.eta_min = eta_min
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
            epoch = self.last_epoch + 1
            self.T_cur = self.T_cur + 1
            if self.T_cur >= self.T_i:
                self.T_cur = self.T_cur % self.T_i
                self.T_i = self.T_i * self.T_mult
        else:
            if not _is_real(epoch) or epoch < 0:
                raise ValueError(f"CosineAnnealingWarmRestarts: epoch must be a number >= 0, got {epoch!r}")
            if epoch < self.T_0:
                self.T_i = self.T_0
                self.T_cur = epoch
            elif self.T_mult == 1:
                self.T_cur = epoch % self.T_0
            else:  # restarts so far: the n with T_0 (T_mult^n - 1) / (T_mult - 1) <= epoch
                n = int(math.log((epoch / self.T_0 * (self.T_mult - 1) + 1), self.T_mult))
                self.T_cur = epoch - self.T_0 * (self.T_mult ** n - 1) / (self.T_mult - 1)
                self.T_i = self.T_0 * self.T_mult ** n
        self._step_count += 1
        self.last_epoch = math.floor(epoch)
        for group, lr in zip(self.optimizer.param_groups, self.get_lr(), strict=True):
            group["lr"] = lr
        self._last_lr = _group_lrs(self.optimizer)


# ---------------------------------------------------------------------------------------- one cycle


class OneCycleLR(LRScheduler):
    """The 1cycle policy, stepped after every *batch*: the rate rises from ``max_lr / div_factor`` to
    ``max_lr`` over the first ``pct_start`` of ``total_steps``, then anneals to
    ``max_lr / div_factor / final_div_factor``; the momentum (SGD/RMSprop ``'momentum'``, Adam's
    ``betas[0]``) moves inversely between ``max_momentum`` and ``base_momentum``. With ``three_phase``
    the rate goes back down to the initial rate symmetrically, then a third phase anneals it to the
    minimum (the paper's schedule; the default is fastai's two phases).

    Every group gets ``'initial_lr'``, ``'max_lr'``, ``'min_lr'`` (and ``'max_momentum'``,
    ``'base_momentum'``) entries, which the schedule reads, as in PyTorch.

    Args:
        optimizer: the optimizer.
        max_lr: peak rate, one for all groups or a list with one per group.
        total_steps: number of steps of the cycle; or give ``epochs`` and ``steps_per_epoch``
            (``total_steps = epochs * steps_per_epoch``). ``total_steps`` wins when both are given.
        pct_start: fraction of the cycle spent increasing the rate, in [0, 1].
        anneal_strategy: ``'cos'`` or ``'linear'``.
        cycle_momentum: cycle the momentum (the optimizer needs ``'momentum'`` or ``'betas'``).
        base_momentum, max_momentum: momentum bounds (scalars or one per group, >= 0).
        div_factor: initial rate = ``max_lr / div_factor`` (> 0).
        final_div_factor: final rate = initial rate / ``final_div_factor`` (> 0).
        three_phase: the three-phase schedule.
        last_epoch: the number of batches already done when resuming (-1: a fresh run).
    Raises:
        ValueError: neither ``total_steps`` nor both ``epochs`` and ``steps_per_epoch``, non-positive
            step counts, bad ``pct_start``/``anneal_strategy``/factors, lists without one value per
            group, ``cycle_momentum`` with an optimizer without momentum; and from ``step()``, stepping
            past ``total_steps``.
    """

    def __init__(self, optimizer: Optimizer, max_lr: float | Sequence[float], total_steps: int | None = None,
                 epochs: int | None = None, steps_per_epoch: int | None = None, pct_start: float = 0.3,
                 anneal_strategy: str = "cos", cycle_momentum: bool = True,
                 base_momentum: float | Sequence[float] = 0.85, max_momentum: float | Sequence[float] = 0.95,
                 div_factor: float = 25.0, final_div_factor: float = 1e4, three_phase: bool = False,
                 last_epoch: int = -1):
        _check_optimizer(optimizer)
        owner = "OneCycleLR"
        if total_steps is not None:
            _check_int(total_steps, "total_steps", owner)
            self.total_steps = total_steps
        elif epochs is not None and steps_per_epoch is not None:
            _check_int(epochs, "epochs", owner)
            _check_int(steps_per_epoch, "steps_per_epoch", owner)
            self.total_steps = epochs * steps_per_epoch
        else:
            raise ValueError(f"{owner}: give total_steps, or both epochs and steps_per_epoch "
                             f"(got total_steps={total_steps!r}, epochs={epochs!r}, "
                             f"steps_per_epoch={steps_per_epoch!r})")
        _check_real(pct_start, "pct_start", owner, low=0.0, high=1.0)
        if anneal_strategy not in ("cos", "linear"):
            raise ValueError(f"{owner}: anneal_strategy must be 'cos' or 'linear', got {anneal_strategy!r}")
        _check_real(div_factor, "div_factor", owner, low=0.0, low_open=True)
        _check_real(final_div_factor, "final_div_factor", owner, low=0.0, low_open=True)
        max_lrs = _per_group(max_lr, "max_lr", owner, optimizer)
        for value in max_lrs:
            _check_real(value, "max_lr", owner, low=0.0, low_open=True)

        up_end = float(pct_start * self.total_steps) - 1
        last = self.total_steps - 1
        # (end step, start lr key, end lr key, start momentum key, end momentum key) of every phase
        if three_phase:
            self._schedule_phases = [
                dict(end_step=up_end, start_lr="initial_lr", end_lr="max_lr",
                     start_momentum="max_momentum", end_momentum="base_momentum"),
                dict(end_step=float(2 * pct_start * self.total_steps) - 2, start_lr="max_lr", end_lr="initial_lr",
                     start_momentum="base_momentum", end_momentum="max_momentum"),
                dict(end_step=last, start_lr="initial_lr", end_lr="min_lr",
                     start_momentum="max_momentum", end_momentum="max_momentum"),
            ]
        else:
            self._schedule_phases = [
                dict(end_step=up_end, start_lr="initial_lr", end_lr="max_lr",
                     start_momentum="max_momentum", end_momentum="base_momentum"),
                dict(end_step=last, start_lr="max_lr", end_lr="min_lr",
                     start_momentum="base_momentum", end_momentum="max_momentum"),
            ]
        self._anneal_func_type = anneal_strategy
        self.optimizer = optimizer
        if last_epoch == -1:
            for group, peak in zip(optimizer.param_groups, max_lrs, strict=True):
                group["initial_lr"] = peak / div_factor
                group["max_lr"] = peak
                group["min_lr"] = group["initial_lr"] / final_div_factor

        self.cycle_momentum = cycle_momentum
        if cycle_momentum:
            if "momentum" not in optimizer.defaults and "betas" not in optimizer.defaults:
                raise ValueError(f"{owner}: cycle_momentum=True needs an optimizer with 'momentum' or 'betas' "
                                 f"({type(optimizer).__name__} has neither; pass cycle_momentum=False)")
            self.use_beta1 = "betas" in optimizer.defaults
            max_momenta = _per_group(max_momentum, "max_momentum", owner, optimizer)
            base_momenta = _per_group(base_momentum, "base_momentum", owner, optimizer)
            for name, values in (("max_momentum", max_momenta), ("base_momentum", base_momenta)):
                for value in values:
                    _check_real(value, name, owner, low=0.0)
            if last_epoch == -1:
                for group, high, low in zip(optimizer.param_groups, max_momenta, base_momenta, strict=True):
                    self._set_momentum(group, high)
                    group["max_momentum"] = high
                    group["base_momentum"] = low
        super().__init__(optimizer, last_epoch)

    def _set_momentum(self, group: dict[str, Any], value: float) -> None:
        if self.use_beta1:
            group["betas"] = (value, *group["betas"][1:])
        else:
            group["momentum"] = value

    def _anneal(self, start: float, end: float, pct: float) -> float:
        if self._anneal_func_type == "cos":
            return end + (start - end) / 2.0 * (math.cos(math.pi * pct) + 1)
        return (end - start) * pct + start

    def step(self) -> None:
        """Advance one batch. Raises ValueError when that would go past ``total_steps``."""
        if self.last_epoch + 1 > self.total_steps:
            raise ValueError(f"OneCycleLR: tried to step {self.last_epoch + 1} times, but total_steps is "
                             f"{self.total_steps} (the schedule is over: create a longer one)")
        super().step()

    def get_lr(self) -> list[float]:
        step_num = self.last_epoch
        phases = self._schedule_phases
        start_step = 0.0
        for i, phase in enumerate(phases):
            if step_num <= phase["end_step"] or i == len(phases) - 1:
                pct = (step_num - start_step) / (phase["end_step"] - start_step)
                break
            start_step = phase["end_step"]
        lrs = []
        for group in self.optimizer.param_groups:
            lrs.append(self._anneal(group[phase["start_lr"]], group[phase["end_lr"]], pct))
            if self.cycle_momentum:
                self._set_momentum(group, self._anneal(group[phase["start_momentum"]],
                                                       group[phase["end_momentum"]], pct))
        return lrs


# --------------------------------------------------------------------------------------- sequential


class SequentialLR(LRScheduler):
    """Run ``schedulers`` one after another: ``schedulers[i]`` drives epochs from ``milestones[i - 1]`` on
    (the first from 0). At a milestone the next scheduler starts from its epoch 0 (its closed form, so
    from the groups' initial rates), as in PyTorch. The usual use, a warm-up then a decay::

        warmup = LinearLR(opt, start_factor=0.1, total_iters=5)
        decay = CosineAnnealingLR(opt, T_max=95)
        sched = SequentialLR(opt, [warmup, decay], milestones=[5])

    Args:
        optimizer: the optimizer every scheduler drives.
        schedulers: the schedulers (built on ``optimizer``; not ReduceLROnPlateau).
        milestones: ``len(schedulers) - 1`` epochs in strictly increasing order.
        last_epoch: -1 for a fresh run.
    Raises: ValueError for no schedulers, a scheduler of another optimizer, a ReduceLROnPlateau, a wrong
    number of milestones or milestones not strictly increasing ints >= 0; TypeError for a non-scheduler.

    ``state_dict()`` holds every scheduler's state dict.
    """

    def __init__(self, optimizer: Optimizer, schedulers: Sequence[LRScheduler], milestones: Sequence[int],
                 last_epoch: int = -1):
        _check_optimizer(optimizer)
        schedulers = list(schedulers)
        milestones = list(milestones)
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
            _check_int(m, "milestones", "SequentialLR", minimum=0)
        if any(a >= b for a, b in zip(milestones, milestones[1:])):
            raise ValueError(f"SequentialLR: milestones must be strictly increasing, got {milestones}")
        self._schedulers = schedulers
        self._milestones = milestones
        self.last_epoch = last_epoch + 1
        self.optimizer = optimizer

        # Back to the initial rates, undo the step each scheduler's constructor took, then apply epoch 0
        # with the scheduler meant for it only.
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
        if idx > 0 and self._milestones[idx - 1] == self.last_epoch:
            scheduler._update_lr(0)
        else:
            scheduler.step()
        self._last_lr = scheduler.get_last_lr()

    def state_dict(self) -> dict[str, Any]:
        state = {key: value for key, value in self.__dict__.items() if key not in ("optimizer", "_schedulers")}
        state["_schedulers"] = [scheduler.state_dict() for scheduler in self._schedulers]
        return state

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        state = dict(state_dict)
        inner = state.pop("_schedulers")
        if len(inner) != len(self._schedulers):
            raise ValueError(f"SequentialLR: the state dict holds {len(inner)} schedulers, this one "
                             f"{len(self._schedulers)}")
        self.__dict__.update(state)
        for scheduler, scheduler_state in zip(self._schedulers, inner, strict=True):
            scheduler.load_state_dict(scheduler_state)


# ------------------------------------------------------------------------------------------ plateau


class ReduceLROnPlateau(LRScheduler):
    """Multiply every group's rate by ``factor`` when a metric has not improved for more than ``patience``
    steps; call ``step(metric)`` once per epoch (e.g. with the validation loss).

    Args:
        optimizer: the optimizer.
        mode: ``'min'`` (the metric should decrease, e.g. a loss) or ``'max'`` (e.g. an accuracy).
        factor: ``new_lr = lr * factor``, in [0, 1).
        patience: steps without improvement tolerated; the rate drops at the ``patience + 1``-th.
        threshold: how much better counts as an improvement: ``'rel'``: ``best * (1 -/+ threshold)``,
            ``'abs'``: ``best -/+ threshold`` (for mode min/max).
        threshold_mode: ``'rel'`` or ``'abs'``.
        cooldown: steps after a reduction during which bad steps are not counted.
        min_lr: lower bound of the rates, one for all groups or a list with one per group.
        eps: reductions smaller than ``eps`` are skipped.
    Raises: ValueError for a bad ``mode``/``threshold_mode``, ``factor`` outside [0, 1), negative
    ``patience``/``cooldown`` (ints), ``threshold``/``eps``/``min_lr``, or ``min_lr`` without one value per
    group; TypeError for a non-optimizer.
    """

    def __init__(self, optimizer: Optimizer, mode: str = "min", factor: float = 0.1, patience: int = 10,
                 threshold: float = 1e-4, threshold_mode: str = "rel", cooldown: int = 0,
                 min_lr: float | Sequence[float] = 0, eps: float = 1e-8):
        owner = "ReduceLROnPlateau"
        _check_real(factor, "factor", owner, low=0.0, high=1.0, high_open=True)
        _check_optimizer(optimizer)
        if mode not in ("min", "max"):
            raise ValueError(f"{owner}: mode must be 'min' or 'max', got {mode!r}")
        if threshold_mode not in ("rel", "abs"):
            raise ValueError(f"{owner}: threshold_mode must be 'rel' or 'abs', got {threshold_mode!r}")
        _check_int(patience, "patience", owner, minimum=0)
        _check_int(cooldown, "cooldown", owner, minimum=0)
        _check_real(threshold, "threshold", owner, low=0.0)
        _check_real(eps, "eps", owner, low=0.0)
        self.optimizer = optimizer
        self.factor = factor
        if isinstance(min_lr, list | tuple):
            self.default_min_lr = None
            self.min_lrs = _per_group(min_lr, "min_lr", owner, optimizer)
        else:
            self.default_min_lr = min_lr
            self.min_lrs = [min_lr] * len(optimizer.param_groups)
        for value in self.min_lrs:
            _check_real(value, "min_lr", owner, low=0.0)
        self.patience = patience
        self.cooldown = cooldown
        self.eps = eps
        self.mode = mode
        self.threshold = threshold
        self.threshold_mode = threshold_mode
        self.mode_worse = math.inf if mode == "min" else -math.inf
        self.last_epoch = 0
        self._last_lr = _group_lrs(optimizer)
        self._reset()

    def _reset(self) -> None:
        self.best = self.mode_worse
        self.cooldown_counter = 0
        self.num_bad_epochs = 0

    @property
    def in_cooldown(self) -> bool:
        return self.cooldown_counter > 0

    def _is_better(self, a: float, best: float) -> bool:
        """Whether ``a`` improves on ``best`` by more than the threshold."""
        if self.mode == "min":
            return a < best * (1.0 - self.threshold) if self.threshold_mode == "rel" else a < best - self.threshold
        return a > best * (self.threshold + 1.0) if self.threshold_mode == "rel" else a > best + self.threshold

    def step(self, metrics: Any) -> None:  # type: ignore[override]
        """Record one epoch's metric (a number or a one-element Tensor) and reduce the rates if needed."""
        current = float(metrics)
        self.last_epoch += 1
        if self._is_better(current, self.best):
            self.best = current
            self.num_bad_epochs = 0
        else:
            self.num_bad_epochs += 1
        if self.in_cooldown:
            self.cooldown_counter -= 1
            self.num_bad_epochs = 0  # bad epochs during the cooldown do not count
        if self.num_bad_epochs > self.patience:
            self._reduce_lr()
            self.cooldown_counter = self.cooldown
            self.num_bad_epochs = 0
        self._last_lr = _group_lrs(self.optimizer)

    def _reduce_lr(self) -> None:
        groups = self.optimizer.param_groups
        if len(groups) != len(self.min_lrs):
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
