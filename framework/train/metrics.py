"""Metrics that accumulate over the batches of an epoch: what :func:`~framework.train.fit` reports per epoch.

A training step (see :func:`~framework.train.fit`'s ``step``) returns a dict of per-batch values, e.g.
``{"loss": 0.41, "output": logits, "target": labels}``; each metric reads the keys it needs from every batch's
dict (``update(values, n)``, with ``n`` the batch size) and gives one number at the end (``compute()``).
``reset()`` starts a new epoch. :func:`~framework.train.evaluate` feeds the same dicts (``output``, ``target``
and, with a ``loss_fn``, ``loss``) when it is given ``metrics``.
"""

from __future__ import annotations

from typing import Any


class Metric:
    """Base class: ``reset()``, then ``update(values, n)`` once per batch, then ``compute()``."""

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        raise NotImplementedError

    def update(self, values: dict[str, Any], n: int) -> None:
        raise NotImplementedError

    def compute(self) -> float:
        raise NotImplementedError


class Mean(Metric):
    """Mean per sample of a scalar the step returns (a float per batch, itself a mean over the batch, or a 0-d
    Tensor: then the totals stay on the device and are read once, in ``compute()``).

    With several keys, the mean of their sum: ``Mean("bce", "kl")`` is the epoch's mean BCE + KL. Each key
    keeps its own running total (``sum(value * n)``), so the result is ``(total_bce + total_kl) / samples``.

    Raises:
        ValueError: no key; at ``compute()``, no batch seen.
    """

    def __init__(self, *keys: str):
        if not keys:
            raise ValueError("Mean: give at least one key of the step's values, e.g. Mean('loss')")
        self.keys = keys
        super().__init__()

    def reset(self) -> None:
        self.totals = [0.0] * len(self.keys)
        self.seen = 0

    def update(self, values: dict[str, Any], n: int) -> None:
        for i, key in enumerate(self.keys):
            self.totals[i] += values[key] * n
        self.seen += n

    def compute(self) -> float:
        if self.seen == 0:
            raise ValueError(f"Mean{self.keys}: no batch seen")
        return float(sum(self.totals) / self.seen)


class BatchMean(Metric):
    """Mean over batches (not samples) of a scalar the step returns, e.g. a GAN's discriminator loss (a float or
    a 0-d Tensor, as for :class:`Mean`).

    Raises:
        ValueError: at ``compute()``, no batch seen.
    """

    def __init__(self, key: str):
        self.key = key
        super().__init__()

    def reset(self) -> None:
        self.total, self.batches = 0.0, 0

    def update(self, values: dict[str, Any], n: int) -> None:
        self.total += values[self.key]
        self.batches += 1

    def compute(self) -> float:
        if self.batches == 0:
            raise ValueError(f"BatchMean({self.key!r}): no batch seen")
        return float(self.total / self.batches)


class Accuracy(Metric):
    """Fraction of samples whose argmax over the last dimension of ``values["output"]`` equals
    ``values["target"]``. The counts stay on the device and are read once, in ``compute()``.

    Raises:
        ValueError: at ``compute()``, no batch seen.
    """

    def reset(self) -> None:
        self.correct, self.seen = None, 0

    def update(self, values: dict[str, Any], n: int) -> None:
        correct = (values["output"].argmax(dim=-1) == values["target"]).sum()
        self.correct = correct if self.correct is None else self.correct + correct
        self.seen += n

    def compute(self) -> float:
        if self.seen == 0:
            raise ValueError("Accuracy: no batch seen")
        return self.correct.item() / self.seen

