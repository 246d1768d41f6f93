"""A plain training loop: :func:`fit` for epochs of SGD-style updates, :func:`evaluate` for metrics.

The loop syncs with the device once per batch (``loss.item()``, which the progress bar shows anyway);
correct-prediction counts are accumulated on the device and read once per epoch.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
from tqdm.auto import tqdm

from .autograd import no_grad

__all__ = ["History", "EvalResult", "fit", "evaluate", "bootstrap_accuracy_ci"]


@dataclass
class History:
    """Per-epoch metrics of :func:`fit`; every list has one entry per epoch (``val_*`` hold None
    when there is no validation loader). Accuracies are fractions in [0, 1]."""

    epochs: list[int] = field(default_factory=list)
    train_loss: list[float] = field(default_factory=list)
    train_acc: list[float] = field(default_factory=list)
    val_loss: list[float | None] = field(default_factory=list)
    val_acc: list[float | None] = field(default_factory=list)
    lr: list[float] = field(default_factory=list)
    seconds: list[float] = field(default_factory=list)

    def __getitem__(self, key: str) -> list:
        return getattr(self, key)

    def to_dict(self) -> dict[str, list]:
        return asdict(self)


@dataclass
class EvalResult:
    """Metrics of :func:`evaluate` over a whole loader.

    Attributes:
        loss: mean loss per sample (None without a ``loss_fn``).
        accuracy: fraction of correct argmax predictions.
        confusion_matrix: ``[C, C]`` int64, rows = true class, columns = predicted class.
        predictions, targets: int64 ``[N]``.
    """

    loss: float | None
    accuracy: float
    confusion_matrix: np.ndarray
    predictions: np.ndarray
    targets: np.ndarray

    @property
    def correct(self) -> np.ndarray:
        """bool ``[N]``: whether each sample's prediction equals its target (for :func:`bootstrap_accuracy_ci`)."""
        return self.predictions == self.targets


def _current_lr(optimizer: Any) -> float:
    return float(optimizer.param_groups[0]["lr"])


def fit(model: Any, loss_fn: Callable, optimizer: Any, train_loader: Any, val_loader: Any = None,
        epochs: int = 1, scheduler: Any = None, progress: bool = True,
        log: Callable[[str], Any] | None = print) -> History:
    """Train ``model`` for ``epochs`` passes over ``train_loader``.

    Args:
        model: a ``framework.nn.Module`` mapping inputs ``[B, ...]`` to logits ``[B, C]``.
        loss_fn: ``loss_fn(logits, targets)`` -> scalar Tensor (mean over the batch).
        optimizer: a ``framework.optim`` optimizer over ``model``'s parameters.
        train_loader, val_loader: iterables of ``(inputs, targets)`` Tensor batches.
        epochs: number of passes.
        scheduler: optional LR scheduler, stepped once after every epoch.
        progress: show a tqdm bar per epoch.
        log: called with one summary line per epoch (None: silent).

    Returns:
        a :class:`History` with one entry per epoch.

    Raises:
        ValueError: ``epochs`` < 0 or an empty ``train_loader``.
    """
    if epochs < 0:
        raise ValueError(f"fit: epochs must be >= 0, got {epochs}")
    history = History()
    for epoch in range(1, epochs + 1):
        start = time.perf_counter()
        lr = _current_lr(optimizer)
        model.train()
        total_loss, total_correct, total_seen = 0.0, None, 0
        bar = tqdm(train_loader, desc=f"epoch {epoch}/{epochs}", unit="batch", leave=False,
                   disable=not progress, dynamic_ncols=True)
        for step, (inputs, targets) in enumerate(bar):
            optimizer.zero_grad()
            logits = model(inputs)
            loss = loss_fn(logits, targets)
            loss.backward()
            optimizer.step()

            n = targets.shape[0]
            batch_loss = loss.item()  # the one host sync per batch
            total_loss += batch_loss * n
            total_seen += n
            correct = (logits.argmax(dim=-1) == targets).sum()
            total_correct = correct if total_correct is None else total_correct + correct
            if progress and step % 10 == 0:
                bar.set_postfix(loss=f"{batch_loss:.4f}", refresh=False)
        bar.close()
        if total_seen == 0:
            raise ValueError("fit: train_loader yielded no batches")

        history.epochs.append(epoch)
        history.lr.append(lr)
        history.train_loss.append(total_loss / total_seen)
        history.train_acc.append(total_correct.item() / total_seen)
        if val_loader is not None:
            result = evaluate(model, val_loader, loss_fn)
            history.val_loss.append(result.loss)
            history.val_acc.append(result.accuracy)
        else:
            history.val_loss.append(None)
            history.val_acc.append(None)
        if scheduler is not None:
            scheduler.step()
        history.seconds.append(time.perf_counter() - start)
        if log is not None:
            log(_epoch_line(history, epochs))
    return history


def _epoch_line(h: History, epochs: int) -> str:
    width = len(str(epochs))
    line = (f"epoch {h.epochs[-1]:>{width}}/{epochs}  train loss {h.train_loss[-1]:.4f} "
            f"acc {100 * h.train_acc[-1]:5.1f}%")
    if h.val_loss[-1] is not None:
        line += f"  val loss {h.val_loss[-1]:.4f} acc {100 * h.val_acc[-1]:5.1f}%"
    return line + f"  lr {h.lr[-1]:.2e}  {h.seconds[-1]:.1f}s"


def evaluate(model: Any, loader: Any, loss_fn: Callable | None = None,
             num_classes: int | None = None) -> EvalResult:
    """Run ``model`` in eval mode without gradients over ``loader`` and collect metrics.

    Args:
        model: maps inputs ``[B, ...]`` to logits ``[B, C]``.
        loader: iterable of ``(inputs, targets)`` Tensor batches.
        loss_fn: optional ``loss_fn(logits, targets)`` (mean over the batch) for the mean loss.
        num_classes: size of the confusion matrix (default: the logits' last dimension).

    Returns:
        an :class:`EvalResult`; the model's train/eval mode is restored afterwards.

    Raises:
        ValueError: the loader yields no samples.
    """
    from sklearn.metrics import confusion_matrix

    was_training = model.training
    model.eval()
    predictions, targets_all = [], []
    total_loss, total_seen = 0.0, 0
    try:
        with no_grad():
            for inputs, targets in loader:
                logits = model(inputs)
                if loss_fn is not None:
                    total_loss += loss_fn(logits, targets).item() * targets.shape[0]
                total_seen += targets.shape[0]
                num_classes = num_classes or logits.shape[-1]
                predictions.append(logits.argmax(dim=-1).numpy())
                targets_all.append(targets.numpy())
    finally:
        model.train(was_training)
    if total_seen == 0:
        raise ValueError("evaluate: the loader yielded no samples")
    preds = np.concatenate(predictions).astype(np.int64)
    truth = np.concatenate(targets_all).astype(np.int64)
    matrix = confusion_matrix(truth, preds, labels=np.arange(num_classes))
    return EvalResult(
        loss=total_loss / total_seen if loss_fn is not None else None,
        accuracy=float(np.mean(preds == truth)),
        confusion_matrix=matrix.astype(np.int64),
        predictions=preds,
        targets=truth,
    )


def bootstrap_accuracy_ci(correct: np.ndarray, confidence: float = 0.95, n_resamples: int = 2000,
                          seed: int = 0) -> tuple[float, float]:
    """Bootstrap confidence interval of an accuracy, from per-sample correctness.

    Uses ``scipy.stats.bootstrap`` with the BCa method (falling back to the percentile method when BCa is
    undefined). When every sample is right (or every one wrong) all resamples agree, so the interval is the
    point ``(acc, acc)`` — the bootstrap cannot say more from such a sample.

    Args:
        correct: bool (or 0/1) ``[N]``, e.g. :attr:`EvalResult.correct`.
        confidence: confidence level in (0, 1).
        n_resamples: number of bootstrap resamples (>= 1).
        seed: seed of the resampling, so the interval is reproducible.

    Returns:
        ``(low, high)`` accuracies as fractions in [0, 1], ``low <= mean <= high``.

    Raises:
        ValueError: ``correct`` is empty or not 1-D, holds values other than 0/1, or ``confidence`` /
            ``n_resamples`` is out of range.
    """
    from scipy import stats

    values = np.asarray(correct)
    if values.ndim != 1 or values.size == 0:
        raise ValueError(f"bootstrap_accuracy_ci: correct must be a non-empty 1-D array, got shape {values.shape}")
    if values.dtype != np.bool_:
        if not np.isin(values, (0, 1)).all():
            raise ValueError(f"bootstrap_accuracy_ci: correct must hold bools (or 0/1), got dtype {values.dtype}")
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"bootstrap_accuracy_ci: confidence must be in (0, 1), got {confidence}")
    if n_resamples < 1:
        raise ValueError(f"bootstrap_accuracy_ci: n_resamples must be >= 1, got {n_resamples}")
    values = values.astype(np.float64)
    mean = float(values.mean())
    if np.all(values == values[0]):  # degenerate: every resample has the same mean (BCa would divide by 0)
        return mean, mean
    method = "BCa"
    try:
        with np.errstate(all="ignore"):
            result = stats.bootstrap((values,), np.mean, confidence_level=confidence, n_resamples=n_resamples,
                                     method=method, rng=np.random.default_rng(seed))
        low, high = result.confidence_interval
        if not (np.isfinite(low) and np.isfinite(high)):
            raise ValueError("BCa interval is not finite")
    except ValueError:  # e.g. n = 1 or too few distinct resamples: the percentile method always works
        result = stats.bootstrap((values,), np.mean, confidence_level=confidence, n_resamples=n_resamples,
                                 method="percentile", rng=np.random.default_rng(seed))
        low, high = result.confidence_interval
    return float(min(low, mean)), float(max(high, mean))
