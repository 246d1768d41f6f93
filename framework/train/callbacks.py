"""Callbacks of :func:`~framework.train.fit`: the :class:`Callback` hooks, :class:`EarlyStopping` and
:class:`ModelCheckpoint`."""

from __future__ import annotations

import copy
import os
from pathlib import Path
from typing import Any

import numpy as np

from .history import History


class Callback:
    """Base class of :func:`fit`'s callbacks; every hook is a no-op by default.

    Hooks:
        ``on_train_begin(model, optimizer)``: before the first epoch (reset per-run state here).
        ``on_epoch_end(epoch, history, model, optimizer) -> bool``: after each epoch, once ``history``
        holds its metrics (and the scheduler has stepped); return True to stop training.
        ``on_train_end(history, model, optimizer)``: after the last epoch (also after an early stop).

    ``history`` is what :func:`fit` returns: a :class:`History`, or with a custom step a dict of columns; read it
    as ``history["name"]``, which works for both.
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
    (an atomic write: a crash never leaves a half-written file). A DistributedDataParallel model is saved as
    its ``module`` (PyTorch's practice), so the file loads into the plain model, in one process or many.

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
        from ..checkpoint import save_checkpoint
        from ..nn.parallel import DistributedDataParallel

        if isinstance(model, DistributedDataParallel):
            model = model.module
        self.folder.mkdir(parents=True, exist_ok=True)
        path = save_checkpoint(self.folder / self.filename.format(epoch=epoch), model, optimizer, epoch=epoch,
                               extra=self.extra)
        self.saved.append(Path(path))

    def on_epoch_end(self, epoch: int, history: History, model: Any, optimizer: Any) -> bool:
        if epoch % self.every == 0:
            self._save(epoch, model, optimizer)
        return False

    def on_train_end(self, history: History, model: Any, optimizer: Any) -> None:
        epochs = history["epochs"]  # a History or, with a custom fit step, a dict of columns
        if self.save_last and epochs and epochs[-1] % self.every != 0:
            self._save(epochs[-1], model, optimizer)
