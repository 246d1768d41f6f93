"""k-fold cross-validation of a classifier: :func:`cross_validate` and its :class:`CVResult`."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from .evaluation import evaluate
from .history import History
from .loop import fit


@dataclass
class CVResult:
    """Scores of :func:`cross_validate`.

    Attributes:
        scores: held-out accuracy of each fold (fractions in [0, 1]), in fold order.
        histories: each fold's training :class:`History`.
        fold_sizes: ``(train, test)`` sample counts of each fold.
    """

    scores: list[float]
    histories: list[History]
    fold_sizes: list[tuple[int, int]]

    @property
    def mean(self) -> float:
        return float(np.mean(self.scores))

    @property
    def std(self) -> float:
        """Population standard deviation of the fold scores (``np.std``, as scikit-learn users report it)."""
        return float(np.std(self.scores))

    def __str__(self) -> str:
        return f"{100 * self.mean:.1f}% ± {100 * self.std:.1f}% ({len(self.scores)} folds)"


def cross_validate(model_fn: Callable[[], Any], dataset: Any, k: int = 5, *, stratified: bool = True,
                   epochs: int = 10, batch_size: int = 32, lr: float = 1e-3, seed: int = 0, device: Any = None,
                   optimizer_fn: Callable[[Any], Any] | None = None,
                   scheduler_fn: Callable[[Any, int], Any] | None = None, loss_fn: Callable | None = None,
                   transform_fn: Callable[[int], Any] | None = None, progress: bool = False,
                   log: Callable[[str], Any] | None = None) -> CVResult:
    """k-fold cross-validation of a classifier with scikit-learn's ``StratifiedKFold`` / ``KFold``.

    Every fold builds a fresh model (``fw.manual_seed(seed + fold)`` then ``model_fn()``), trains it with
    :func:`fit` on the other ``k - 1`` folds and scores its accuracy on the held-out fold.

    Args:
        model_fn: ``() -> Module`` mapping inputs ``[B, ...]`` to logits ``[B, C]`` (moved to ``device``).
        dataset: a :class:`framework.data.TensorDataset` of ``(inputs, int labels)`` or a tuple ``(x, y)``.
        k: number of folds (>= 2, at most the number of samples; stratified: at most the smallest class).
        stratified: keep the label proportions in every fold (``StratifiedKFold``) or not (``KFold``).
        epochs, batch_size, lr: training settings of every fold.
        seed: seeds the fold assignment (shuffled), model initialisation, shuffling and dropout.
        device: where to train (None: the default device).
        optimizer_fn: ``parameters -> optimizer`` (default ``optim.Adam(parameters, lr=lr)``).
        scheduler_fn: optional ``(optimizer, epochs) -> scheduler`` stepped every epoch.
        loss_fn: default ``nn.CrossEntropyLoss()``.
        transform_fn: optional ``fold -> transform`` for the training loader (augmentation; seeded per fold).
        progress: tqdm bars while training.
        log: called with one line per fold (and per epoch through :func:`fit`); None: silent.

    Returns:
        a :class:`CVResult` with ``k`` scores.

    Raises:
        ValueError: ``k`` < 2 or too large for the data, inputs and labels of different lengths, or bad
            training settings.
        TypeError: ``dataset`` is neither a TensorDataset nor an ``(x, y)`` pair.
    """
    from sklearn.model_selection import KFold, StratifiedKFold

    from .. import nn, optim
    from .. import random as _random
    from ..data import DataLoader, TensorDataset

    if isinstance(dataset, TensorDataset) and len(dataset.arrays) == 2:
        x, y = dataset.arrays
    elif isinstance(dataset, tuple | list) and len(dataset) == 2:
        x, y = np.asarray(dataset[0]), np.asarray(dataset[1])
    else:
        raise TypeError("cross_validate: dataset must be a TensorDataset(inputs, labels) or a tuple (x, y), "
                        f"got {type(dataset).__name__}")
    if x.shape[0] != y.shape[0] or y.ndim != 1:
        raise ValueError(f"cross_validate: need inputs [N, ...] and labels [N], got shapes {x.shape} and {y.shape}")
    if not isinstance(k, int) or not 2 <= k <= y.shape[0]:
        raise ValueError(f"cross_validate: k must be an int in [2, {y.shape[0]}] (the number of samples), got {k!r}")
    if stratified:
        counts = np.bincount(y.astype(np.int64))
        smallest = int(counts[counts > 0].min())
        if k > smallest:
            raise ValueError(f"cross_validate: k={k} folds, but the smallest class has only {smallest} samples "
                             "(use a smaller k or stratified=False)")
    for name, value in (("epochs", epochs), ("batch_size", batch_size)):
        if not isinstance(value, int) or value < 1:
            raise ValueError(f"cross_validate: {name} must be an int >= 1, got {value!r}")
    if not lr > 0:
        raise ValueError(f"cross_validate: lr must be > 0, got {lr!r}")

    splitter = (StratifiedKFold if stratified else KFold)(n_splits=k, shuffle=True, random_state=seed)
    loss_fn = loss_fn if loss_fn is not None else nn.CrossEntropyLoss()
    scores, histories, sizes = [], [], []
    for fold, (train_idx, test_idx) in enumerate(splitter.split(x, y)):
        _random.manual_seed(seed + fold)
        model = model_fn()
        if device is not None:
            model.to(device)
        optimizer = optimizer_fn(model.parameters()) if optimizer_fn else optim.Adam(model.parameters(), lr=lr)
        scheduler = scheduler_fn(optimizer, epochs) if scheduler_fn else None
        transform = transform_fn(fold) if transform_fn else None
        train_loader = DataLoader(TensorDataset(x[train_idx], y[train_idx]), batch_size=batch_size, shuffle=True,
                                  seed=seed + fold, device=device, transform=transform)
        test_loader = DataLoader(TensorDataset(x[test_idx], y[test_idx]), batch_size=max(batch_size, 256),
                                 device=device)
        history = fit(model, loss_fn, optimizer, train_loader, epochs=epochs, scheduler=scheduler,
                      progress=progress, log=None)
        result = evaluate(model, test_loader)
        scores.append(result.accuracy)
        histories.append(history)
        sizes.append((len(train_idx), len(test_idx)))
        if log is not None:
            log(f"fold {fold + 1}/{k}: accuracy {100 * result.accuracy:.1f}%  "
                f"(train {len(train_idx)}, test {len(test_idx)})")
    return CVResult(scores=scores, histories=histories, fold_sizes=sizes)
