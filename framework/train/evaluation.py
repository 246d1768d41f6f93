"""Evaluation of a classifier: :func:`evaluate` (loss, accuracy, confusion matrix) and
:func:`bootstrap_accuracy_ci` (a confidence interval of an accuracy)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..autograd import no_grad
from .metrics import Metric


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


def evaluate(model: Any, loader: Any, loss_fn: Callable | None = None, num_classes: int | None = None, *,
             metrics: Mapping[str, Metric] | None = None) -> EvalResult | dict[str, Any]:
    """Run ``model`` in eval mode without gradients over ``loader`` and collect metrics.

    Args:
        model: maps inputs ``[B, ...]`` to logits ``[B, C]`` (any output with ``metrics``).
        loader: iterable of ``(inputs, targets)`` Tensor batches.
        loss_fn: optional ``loss_fn(logits, targets)`` (mean over the batch) for the mean loss.
        num_classes: size of the confusion matrix (default: the logits' last dimension).
        metrics: name -> :class:`~.metrics.Metric`; each batch gives them ``{"output", "target"}`` (and
            ``"loss"``, a float, with a ``loss_fn``). Replaces the classifier's metrics.

    Returns:
        an :class:`EvalResult`, or with ``metrics`` a dict name -> value; the model's train/eval mode is
        restored afterwards.

    Raises:
        ValueError: the loader yields no samples.
    """
    if metrics is not None:
        return _evaluate_metrics(model, loader, loss_fn, metrics)
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


def _evaluate_metrics(model: Any, loader: Any, loss_fn: Callable | None,
                      metrics: Mapping[str, Metric]) -> dict[str, Any]:
    was_training = model.training
    model.eval()
    for metric in metrics.values():
        metric.reset()
    seen = 0
    try:
        with no_grad():
            for inputs, targets in loader:
                output = model(inputs)
                values = {"output": output, "target": targets}
                if loss_fn is not None:
                    values["loss"] = loss_fn(output, targets).item()
                for metric in metrics.values():
                    metric.update(values, targets.shape[0])
                seen += targets.shape[0]
    finally:
        model.train(was_training)
    if seen == 0:
        raise ValueError("evaluate: the loader yielded no samples")
    return {name: metric.compute() for name, metric in metrics.items()}


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

