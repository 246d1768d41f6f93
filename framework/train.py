"""A plain training loop: :func:`fit` for epochs of SGD-style updates, :func:`evaluate` for metrics.

:func:`fit` takes callbacks (:class:`Callback`): :class:`EarlyStopping`, :class:`ModelCheckpoint`, or your
own. Learning-rate schedulers stay a plain ``scheduler=`` argument of :func:`fit` (stepped after every
epoch, before the callbacks run). :func:`cross_validate` runs k-fold cross-validation with scikit-learn's
splitters; :func:`bootstrap_accuracy_ci` gives a confidence interval of an accuracy.

The loop syncs with the device once per batch (``loss.item()``, which the progress bar shows anyway);
correct-prediction counts are accumulated on the device and read once per epoch.
"""

from __future__ import annotations

import copy
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from tqdm.auto import tqdm

from .atomic import save_figure
from .autograd import no_grad

__all__ = [
    "History",
    "EvalResult",
    "fit",
    "evaluate",
    "bootstrap_accuracy_ci",
    "Callback",
    "EarlyStopping",
    "ModelCheckpoint",
    "CVResult",
    "cross_validate",
]


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
        """Plain lists (JSON-serialisable); :meth:`from_dict` reverses it."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, list]) -> History:
        """Rebuild a History from :meth:`to_dict`'s output (e.g. read back from ``metrics.json``).

        Raises:
            ValueError: unknown keys, or lists of different lengths.
        """
        names = set(cls.__dataclass_fields__)
        unknown = set(data) - names
        if unknown:
            raise ValueError(f"History.from_dict: unknown keys {sorted(unknown)}")
        lengths = {key: len(value) for key, value in data.items()}
        if len(set(lengths.values())) > 1:
            raise ValueError(f"History.from_dict: lists of different lengths {lengths}")
        return cls(**{key: list(value) for key, value in data.items()})

    def __len__(self) -> int:
        return len(self.epochs)

    def plot(self, path: str | os.PathLike, loss_label: str = "loss") -> Path:
        """Save the learning curves (loss and accuracy per epoch, train and validation) as a picture.

        Args:
            path: the image file (its suffix picks the format, e.g. ``.png``).
            loss_label: y-axis label of the loss panel (e.g. ``"cross-entropy"``).

        Returns:
            ``path`` as a Path.
        """
        # The object-oriented Figure API renders with Agg and never touches pyplot's global backend.
        from matplotlib.figure import Figure

        fig = Figure(figsize=(10, 4), layout="constrained")
        loss_ax, acc_ax = fig.subplots(1, 2)
        epochs = self.epochs
        loss_ax.plot(epochs, self.train_loss, marker="o", label="train")
        acc_ax.plot(epochs, [100 * a for a in self.train_acc], marker="o", label="train")
        if any(v is not None for v in self.val_loss):
            loss_ax.plot(epochs, self.val_loss, marker="o", label="validation")
            acc_ax.plot(epochs, [100 * a for a in self.val_acc], marker="o", label="validation")
        loss_ax.set(xlabel="epoch", ylabel=loss_label, title="loss")
        acc_ax.set(xlabel="epoch", ylabel="accuracy (%)", title="accuracy")
        for ax in (loss_ax, acc_ax):
            ax.grid(alpha=0.3)
            ax.legend()
        path = Path(path)
        save_figure(fig, path, dpi=100)
        return path


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
        log: Callable[[str], Any] | None = print, callbacks: Sequence[Callback] | None = None,
        initial_epoch: int = 0) -> History:
    """Train ``model`` for ``epochs`` passes over ``train_loader``.

    Args:
        model: a ``framework.nn.Module`` mapping inputs ``[B, ...]`` to logits ``[B, C]``.
        loss_fn: ``loss_fn(logits, targets)`` -> scalar Tensor (mean over the batch).
        optimizer: a ``framework.optim`` optimizer over ``model``'s parameters.
        train_loader, val_loader: iterables of ``(inputs, targets)`` Tensor batches.
        epochs: the last epoch number: epochs ``initial_epoch + 1 .. epochs`` run.
        scheduler: optional LR scheduler, stepped once after every epoch (before the callbacks): ``step()``,
            or for a :class:`~framework.optim.lr_scheduler.ReduceLROnPlateau` ``step(metric)`` with the epoch's
            validation loss when there is a ``val_loader``, else its training loss (``history.val_loss[-1]``
            / ``history.train_loss[-1]``).
        progress: show a tqdm bar per epoch.
        log: called with one summary line per epoch (None: silent).
        callbacks: :class:`Callback` objects; after every epoch each one's ``on_epoch_end`` runs (all of
            them, in order) and training stops when any returns True; ``on_train_end`` runs at the end.
        initial_epoch: epochs already done (resuming from a checkpoint): numbering continues after it.

    Returns:
        a :class:`History` with one entry per epoch run.

    Raises:
        ValueError: ``epochs`` < 0, ``initial_epoch`` < 0 or > ``epochs``, or an empty ``train_loader``.
    """
    if epochs < 0:
        raise ValueError(f"fit: epochs must be >= 0, got {epochs}")
    if not 0 <= initial_epoch <= epochs:
        raise ValueError(f"fit: initial_epoch must be in [0, epochs={epochs}], got {initial_epoch}")
    callbacks = list(callbacks or [])
    history = History()
    for callback in callbacks:
        callback.on_train_begin(model, optimizer)
    for epoch in range(initial_epoch + 1, epochs + 1):
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
            from .optim.lr_scheduler import ReduceLROnPlateau

            if isinstance(scheduler, ReduceLROnPlateau):
                metric = history.val_loss[-1] if val_loader is not None else history.train_loss[-1]
                scheduler.step(metric)
            else:
                scheduler.step()
        history.seconds.append(time.perf_counter() - start)
        if log is not None:
            log(_epoch_line(history, epochs))
        stops = [bool(callback.on_epoch_end(epoch, history, model, optimizer)) for callback in callbacks]
        if any(stops):
            if log is not None:
                log(f"stopping early after epoch {epoch}")
            break
    for callback in callbacks:
        callback.on_train_end(history, model, optimizer)
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


# ---------------------------------------------------------------------------------------- callbacks


class Callback:
    """Base class of :func:`fit`'s callbacks; every hook is a no-op by default.

    Hooks:
        ``on_train_begin(model, optimizer)``: before the first epoch (reset per-run state here).
        ``on_epoch_end(epoch, history, model, optimizer) -> bool``: after each epoch, once ``history``
        holds its metrics (and the scheduler has stepped); return True to stop training.
        ``on_train_end(history, model, optimizer)``: after the last epoch (also after an early stop).
    """

    def on_train_begin(self, model: Any, optimizer: Any) -> None:
        pass

    def on_epoch_end(self, epoch: int, history: History, model: Any, optimizer: Any) -> bool:
        return False

    def on_train_end(self, history: History, model: Any, optimizer: Any) -> None:
        pass


class EarlyStopping(Callback):
    """Stop when a monitored metric has not improved for ``patience`` epochs (Keras' semantics).

    An epoch improves on the best value so far when it is lower by more than ``min_delta`` (``mode="min"``)
    or higher by more than ``min_delta`` (``mode="max"``). After ``patience`` epochs in a row without
    improvement, training stops. With ``restore_best_weights`` the model gets back the weights of the best
    epoch at the end of training (a deep copy of its ``state_dict`` taken at that epoch), whether training
    stopped early or ran out of epochs.

    Args:
        monitor: a :class:`History` field: ``"val_loss"``, ``"val_acc"``, ``"train_loss"`` or ``"train_acc"``.
        patience: epochs without improvement before stopping (>= 1).
        min_delta: smallest change that counts as an improvement (>= 0).
        mode: ``"min"`` (losses) or ``"max"`` (accuracies).
        restore_best_weights: restore the best epoch's weights at the end.

    Attributes:
        best, best_epoch: the best value and its epoch; stopped_epoch: the epoch training stopped after
        (None if it was not stopped).

    Raises:
        ValueError: a bad ``monitor``/``mode``/``patience``/``min_delta``; at the end of an epoch, a
            monitored value that is None (e.g. ``val_loss`` without a validation loader).
    """

    _MONITORS = ("val_loss", "val_acc", "train_loss", "train_acc")

    def __init__(self, monitor: str = "val_loss", patience: int = 5, min_delta: float = 0.0, mode: str = "min",
                 restore_best_weights: bool = True):
        if monitor not in self._MONITORS:
            raise ValueError(f"EarlyStopping: monitor must be one of {self._MONITORS}, got {monitor!r}")
        if mode not in ("min", "max"):
            raise ValueError(f"EarlyStopping: mode must be 'min' or 'max', got {mode!r}")
        if not isinstance(patience, int) or patience < 1:
            raise ValueError(f"EarlyStopping: patience must be an int >= 1, got {patience!r}")
        if not min_delta >= 0:
            raise ValueError(f"EarlyStopping: min_delta must be >= 0, got {min_delta!r}")
        self.monitor, self.patience, self.min_delta, self.mode = monitor, patience, float(min_delta), mode
        self.restore_best_weights = restore_best_weights
        self.on_train_begin(None, None)

    def on_train_begin(self, model: Any, optimizer: Any) -> None:
        self.best: float | None = None
        self.best_epoch: int | None = None
        self.best_state: dict[str, np.ndarray] | None = None
        self.stopped_epoch: int | None = None
        self.wait = 0

    def _improved(self, value: float) -> bool:
        if self.best is None:
            return True
        if self.mode == "min":
            return value < self.best - self.min_delta
        return value > self.best + self.min_delta

    def on_epoch_end(self, epoch: int, history: History, model: Any, optimizer: Any) -> bool:
        value = history[self.monitor][-1]
        if value is None:
            raise ValueError(f"EarlyStopping: monitored metric {self.monitor!r} is None at epoch {epoch} "
                             "(monitoring a val_* metric needs a val_loader)")
        if self._improved(float(value)):
            self.best, self.best_epoch, self.wait = float(value), epoch, 0
            if self.restore_best_weights:
                # Host copies: independent of later updates, whatever the device or the optimizer does.
                self.best_state = {name: copy.deepcopy(t.numpy()) for name, t in model.state_dict().items()}
            return False
        self.wait += 1
        if self.wait >= self.patience:
            self.stopped_epoch = epoch
            return True
        return False

    def on_train_end(self, history: History, model: Any, optimizer: Any) -> None:
        if self.restore_best_weights and self.best_state is not None:
            model.load_state_dict(self.best_state)


class ModelCheckpoint(Callback):
    """Save model + optimizer + epoch every ``every`` epochs with :func:`framework.checkpoint.save_checkpoint`
    (an atomic write: a crash never leaves a half-written file).

    Args:
        folder: where the files go (created if needed).
        every: save after epochs ``every, 2 * every, ...`` (>= 1).
        filename: name pattern, formatted with ``epoch``; the default keeps one file per saved epoch.
        save_last: also save after the final epoch when it is not a multiple of ``every``.
        extra: JSON-serialisable metadata stored in every file (see ``save_checkpoint``).

    Attributes:
        saved: the paths written so far, in order.

    Raises:
        ValueError: ``every`` < 1.
    """

    def __init__(self, folder: str | os.PathLike, every: int = 1,
                 filename: str = "checkpoint-epoch{epoch:04d}.safetensors", save_last: bool = False,
                 extra: dict | None = None):
        if not isinstance(every, int) or every < 1:
            raise ValueError(f"ModelCheckpoint: every must be an int >= 1, got {every!r}")
        self.folder, self.every, self.filename, self.save_last = Path(folder), every, filename, save_last
        self.extra = extra
        self.saved: list[Path] = []

    def _save(self, epoch: int, model: Any, optimizer: Any) -> None:
        from .checkpoint import save_checkpoint

        self.folder.mkdir(parents=True, exist_ok=True)
        path = save_checkpoint(self.folder / self.filename.format(epoch=epoch), model, optimizer, epoch=epoch,
                               extra=self.extra)
        self.saved.append(Path(path))

    def on_epoch_end(self, epoch: int, history: History, model: Any, optimizer: Any) -> bool:
        if epoch % self.every == 0:
            self._save(epoch, model, optimizer)
        return False

    def on_train_end(self, history: History, model: Any, optimizer: Any) -> None:
        if self.save_last and history.epochs and history.epochs[-1] % self.every != 0:
            self._save(history.epochs[-1], model, optimizer)


# --------------------------------------------------------------------------------- cross-validation


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

    from . import nn, optim
    from . import random as _random
    from .data import DataLoader, TensorDataset

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
