"""The training loop: :func:`fit` runs epochs of SGD-style updates and records a :class:`History`.

The loop syncs with the device once per batch (``loss.item()``, which the progress bar shows anyway);
correct-prediction counts are accumulated on the device and read once per epoch.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from tqdm.auto import tqdm

from .evaluation import evaluate
from .history import History

if TYPE_CHECKING:
    from .callbacks import Callback


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
            from ..optim.lr_scheduler import ReduceLROnPlateau

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

