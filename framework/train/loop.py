"""The training loop: :func:`fit` runs epochs of updates and records one row of metrics per epoch.

By default :func:`fit` trains a classifier: every batch ``(inputs, targets)`` takes one :func:`loss_step`
(``loss_fn(model(inputs), targets)``, backward, ``optimizer.step()``), and the epoch's ``train_loss`` /
``train_acc`` and (with a ``val_loader``) ``val_loss`` / ``val_acc`` go into a :class:`History`. A model whose
step is something else (a VAE's reconstruction + KL, a GAN's two optimizers) or whose numbers are (an
autoencoder's MSE) passes ``step=`` (one training step on one batch, returning a dict of per-batch values),
``metrics=`` (how those values become per-epoch numbers, see :mod:`.metrics`) and ``validate=`` (the epoch's
validation numbers); :func:`fit` then returns a plain dict of columns.

The loop syncs with the device once per batch (the step's ``loss.item()``, which the progress bar shows anyway);
correct-prediction counts are accumulated on the device and read once per epoch. With ``cuda_graph=True`` the
default step is recorded once as a CUDA graph and replayed per batch (:mod:`.cuda_graph`); its loss stays on the
device too, read once per epoch (and every 10 batches by the progress bar, when shown).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from tqdm.auto import tqdm

from .evaluation import evaluate
from .history import History
from .metrics import Accuracy, Mean, Metric

if TYPE_CHECKING:
    from .callbacks import Callback

#: A training step: one batch (the loader's tuple) in, a dict of per-batch values out (see :mod:`.metrics`).
Step = Callable[[Sequence[Any]], dict[str, Any]]


def _current_lr(optimizer: Any) -> float:
    return float(optimizer.param_groups[0]["lr"])


def loss_step(model: Any, loss_fn: Callable, optimizer: Any) -> Step:
    """The usual training step for batches ``(inputs, targets)``: zero the gradients, ``loss_fn(model(inputs),
    targets)``, backward, ``optimizer.step()``.

    Returns:
        ``step(batch) -> {"loss": float, "output": Tensor, "target": Tensor}`` (what :class:`.metrics.Mean`
        ``("loss")`` and :class:`.metrics.Accuracy` read).
    """

    def step(batch: Sequence[Any]) -> dict[str, Any]:
        inputs, targets = batch
        optimizer.zero_grad()
        output = model(inputs)
        loss = loss_fn(output, targets)
        loss.backward()
        optimizer.step()
        return {"loss": loss.item(), "output": output, "target": targets}  # .item(): the one host sync per batch

    return step


def fit(model: Any, loss_fn: Callable | None, optimizer: Any, train_loader: Any, val_loader: Any = None,
        epochs: int = 1, scheduler: Any = None, progress: bool = True,
        log: Callable[[str], Any] | None = print, callbacks: Sequence[Callback] | None = None,
        initial_epoch: int = 0, *, step: Step | None = None, metrics: Mapping[str, Metric] | None = None,
        validate: Callable[[int], Mapping[str, Any]] | None = None,
        summary: Callable[[Mapping[str, Any]], str] | None = None,
        postfix: Callable[[Mapping[str, Any]], Mapping[str, str]] | None = None,
        cuda_graph: bool = False) -> History | dict[str, list]:
    """Train ``model`` for ``epochs`` passes over ``train_loader``.

    Args:
        model: a ``framework.nn.Module`` (by default mapping inputs ``[B, ...]`` to logits ``[B, C]``); put in
            training mode at the start of every epoch (None: leave modes to ``step``).
        loss_fn: ``loss_fn(output, targets)`` -> scalar Tensor (mean over the batch); unused with a ``step``.
        optimizer: a ``framework.optim`` optimizer over ``model``'s parameters; its first group's rate at the
            start of each epoch goes into the ``lr`` column (None with a ``step`` that owns its optimizers:
            no ``lr`` column).
        train_loader, val_loader: iterables of Tensor batches (tuples, ``(inputs, targets)`` by default; a batch's
            size is its first Tensor's first dimension). ``val_loader`` is for the default validation only.
        epochs: the last epoch number: epochs ``initial_epoch + 1 .. epochs`` run.
        scheduler: optional LR scheduler, stepped once after every epoch (before the callbacks): ``step()``,
            or for a :class:`~framework.optim.lr_scheduler.ReduceLROnPlateau` ``step(metric)`` with the epoch's
            validation loss when there is one, else its training loss (``history["val_loss"][-1]`` /
            ``history["train_loss"][-1]``).
        progress: show a tqdm bar per epoch.
        log: called with one summary line per epoch (None: silent).
        callbacks: :class:`Callback` objects; after every epoch each one's ``on_epoch_end`` runs (all of
            them, in order) and training stops when any returns True; ``on_train_end`` runs at the end.
        initial_epoch: epochs already done (resuming from a checkpoint): numbering continues after it.
        step: ``step(batch) -> dict`` of per-batch values, one training step (default: :func:`loss_step`). Without
            ``metrics`` and ``validate`` it is a classifier's step (one that returns what :func:`loss_step`
            returns, e.g. :func:`~.distributed.sharded_loss_step`) and :func:`fit` does the rest as by default.
        metrics: name -> :class:`~.metrics.Metric` over the step's values: the epoch's training columns (default
            ``{"train_loss": Mean("loss"), "train_acc": Accuracy()}``).
        validate: ``validate(epoch) -> {name: value}``, run after each epoch's training: its validation columns
            (it may also do other per-epoch work, e.g. draw samples). Default: :func:`evaluate` on ``val_loader`` giving
            ``val_loss`` and ``val_acc`` (None without a ``val_loader``).
        summary: ``summary(row) -> str``, the middle of the epoch's log line from the epoch's values (default:
            the classifier's ``train loss ... acc ...%`` and ``val loss ... acc ...%``; with custom ``metrics``
            each value as ``name 0.1234``); the line is ``epoch e/E  <summary>  lr <lr>  <seconds>s``.
        postfix: ``postfix(values) -> {field: text}`` shown on the progress bar every 10 batches (default: the
            step's ``loss`` as ``loss=0.1234`` when it returns one).
        cuda_graph: record the default step (forward, backward, ``optimizer.step()``) once as a CUDA graph after
            a few eager warm-up batches and replay it for every batch of the same shape
            (:class:`~.cuda_graph.GraphStep`): the ``triton`` device on a GPU, an optimizer made with
            ``capturable=True``. Where that is impossible (another device, Triton's interpreter, a non-capturable
            optimizer, a step that fails to record, a custom ``step``) it trains eagerly and warns once
            (``UserWarning``) with the reason; a batch of another shape (the last, partial one) runs eagerly.

    Returns:
        one entry per epoch run: a :class:`History` with the default ``step``, ``metrics`` and ``validate``;
        otherwise a dict of lists (JSON-ready) with the columns ``epochs``, the ``metrics`` names, the
        ``validate`` names, ``lr`` (with an ``optimizer``), ``seconds``, in that order.

    Raises:
        ValueError: ``epochs`` < 0, ``initial_epoch`` < 0 or > ``epochs``, an empty ``train_loader``, no
            ``loss_fn`` for the default step or validation, or a ``val_loader`` with custom ``metrics`` but no
            ``validate``.
    """
    if epochs < 0:
        raise ValueError(f"fit: epochs must be >= 0, got {epochs}")
    if not 0 <= initial_epoch <= epochs:
        raise ValueError(f"fit: initial_epoch must be in [0, epochs={epochs}], got {initial_epoch}")
    classifier = metrics is None and validate is None
    if cuda_graph:
        step = _graph_step(model, loss_fn, optimizer, step, log)
    if step is None:
        if loss_fn is None:
            raise ValueError("fit: loss_fn is required unless a step is given")
        step = loss_step(model, loss_fn, optimizer)
    if metrics is None:
        metrics = {"train_loss": Mean("loss"), "train_acc": Accuracy()}
    if validate is None and val_loader is not None:
        if not classifier:
            raise ValueError("fit: with custom metrics, validate with validate=, not val_loader")
        if loss_fn is None:
            raise ValueError("fit: validating on val_loader needs a loss_fn")
        validate = _classifier_validation(model, val_loader, loss_fn)
    elif validate is None and classifier:
        validate = _no_validation
    if summary is None:
        summary = _classifier_summary if classifier else _plain_summary
    postfix = postfix or _loss_postfix

    callbacks = list(callbacks or [])
    history: History | dict[str, list] = History() if classifier else {"epochs": []}
    for callback in callbacks:
        callback.on_train_begin(model, optimizer)
    for epoch in range(initial_epoch + 1, epochs + 1):
        start = time.perf_counter()
        lr = _current_lr(optimizer) if optimizer is not None else None
        row = _train_epoch(model, step, metrics, train_loader, postfix, progress, f"epoch {epoch}/{epochs}")
        if validate is not None:
            row.update(validate(epoch))
        _record(history, "epochs", epoch)
        for name, value in row.items():
            _record(history, name, value)
        if lr is not None:
            _record(history, "lr", lr)
        if scheduler is not None:
            _step_scheduler(scheduler, row)
        _record(history, "seconds", time.perf_counter() - start)
        if log is not None:
            log(_epoch_line(epoch, epochs, summary(row), lr, history["seconds"][-1]))
        stops = [bool(callback.on_epoch_end(epoch, history, model, optimizer)) for callback in callbacks]
        if any(stops):
            if log is not None:
                log(f"stopping early after epoch {epoch}")
            break
    for callback in callbacks:
        callback.on_train_end(history, model, optimizer)
    return history


def _graph_step(model: Any, loss_fn: Callable | None, optimizer: Any, step: Step | None,
                log: Callable[[str], Any] | None) -> Step | None:
    """``fit(cuda_graph=True)``'s step: a :class:`~.cuda_graph.GraphStep` of the default step (it warns and trains
    eagerly where capture is impossible); a custom ``step`` is kept as it is, with a warning."""
    import warnings

    from .cuda_graph import GraphStep

    if step is not None:
        if not isinstance(step, GraphStep):
            warnings.warn("cuda_graph: fit records its default step only; the given step= runs eagerly",
                          UserWarning, stacklevel=3)
        return step
    if loss_fn is None:
        raise ValueError("fit: loss_fn is required unless a step is given")
    return GraphStep(model, loss_fn, optimizer, log=log)


def _train_epoch(model: Any, step: Step, metrics: Mapping[str, Metric], loader: Any,
                 postfix: Callable[[Mapping[str, Any]], Mapping[str, str]], progress: bool,
                 desc: str) -> dict[str, Any]:
    """One pass of ``step`` over ``loader``; returns ``{name: metric value}`` in ``metrics`` order."""
    if model is not None:
        model.train()
    for metric in metrics.values():
        metric.reset()
    batches = 0
    bar = tqdm(loader, desc=desc, unit="batch", leave=False, disable=not progress, dynamic_ncols=True)
    for index, batch in enumerate(bar):
        values = step(batch)
        n = batch[0].shape[0]
        for metric in metrics.values():
            metric.update(values, n)
        batches += 1
        if progress and index % 10 == 0:
            fields = postfix(values)
            if fields:
                bar.set_postfix(**fields, refresh=False)
    bar.close()
    if batches == 0:
        raise ValueError("fit: train_loader yielded no batches")
    return {name: metric.compute() for name, metric in metrics.items()}


def _record(history: History | dict[str, list], name: str, value: Any) -> None:
    column = history[name] if isinstance(history, History) else history.setdefault(name, [])
    column.append(value)


def _step_scheduler(scheduler: Any, row: Mapping[str, Any]) -> None:
    from ..optim.lr_scheduler import ReduceLROnPlateau

    if isinstance(scheduler, ReduceLROnPlateau):
        metric = row.get("val_loss")
        if metric is None:
            metric = row.get("train_loss")
        if metric is None:
            raise ValueError("fit: ReduceLROnPlateau needs a val_loss or train_loss column")
        scheduler.step(metric)
    else:
        scheduler.step()


def _classifier_validation(model: Any, loader: Any, loss_fn: Callable) -> Callable[[int], dict[str, Any]]:
    def validate(epoch: int) -> dict[str, Any]:
        result = evaluate(model, loader, loss_fn)
        return {"val_loss": result.loss, "val_acc": result.accuracy}

    return validate


def _no_validation(epoch: int) -> dict[str, Any]:
    return {"val_loss": None, "val_acc": None}


def _loss_postfix(values: Mapping[str, Any]) -> dict[str, str]:
    return {"loss": f"{float(values['loss']):.4f}"} if "loss" in values else {}  # a device loss: read here


def _classifier_summary(row: Mapping[str, Any]) -> str:
    text = f"train loss {row['train_loss']:.4f} acc {100 * row['train_acc']:5.1f}%"
    if row["val_loss"] is not None:
        text += f"  val loss {row['val_loss']:.4f} acc {100 * row['val_acc']:5.1f}%"
    return text


def _plain_summary(row: Mapping[str, Any]) -> str:
    return "  ".join(f"{name} {value:.4f}" for name, value in row.items() if value is not None)


def _epoch_line(epoch: int, epochs: int, summary: str, lr: float | None, seconds: float) -> str:
    line = f"epoch {epoch:>{len(str(epochs))}}/{epochs}  {summary}"
    if lr is not None:
        line += f"  lr {lr:.2e}"
    return line + f"  {seconds:.1f}s"
