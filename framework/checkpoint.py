"""Checkpoints: one ``.safetensors`` file holding the model, the optimizer state and JSON metadata.

Layout of the file:

* tensors ``model.<name>`` for every entry of ``model.state_dict()``;
* tensors ``optimizer.<n>`` for every array inside ``optimizer.state_dict()`` (moments, step counts
  kept as tensors, ...), numbered in the order they are met;
* the safetensors metadata key ``kernelgrad`` holds a JSON document with the format version, ``epoch``,
  ``extra``, the optimizer state dict with each array replaced by ``{"__tensor__": "optimizer.<n>"}``
  (so hyper-parameters, param groups and Python-number state survive exactly) and, when given, the LR
  scheduler's state dict.

The file is written through :func:`framework.atomic.atomic_write` (a temporary file beside the target,
flushed, then renamed over it; temporaries of killed writers are removed by the next save), so a crash
never leaves a half-written checkpoint or litter behind, and the file gets the permissions the user's
umask gives. :func:`load_checkpoint` checks the whole file against the model, optimizer and scheduler
before it changes any of them, and if restoring still fails half way it puts the old state back.
"""

from __future__ import annotations

import copy
import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from .atomic import atomic_write
from .tensor import Tensor, tensor

__all__ = ["save_checkpoint", "load_checkpoint"]

_FORMAT = "kernelgrad-checkpoint"
_VERSION = 1
_META_KEY = "kernelgrad"


def _to_host(value: Any) -> np.ndarray:
    # safetensors wants C-contiguous host arrays; Tensors on a GPU come back through .numpy(). (Not
    # np.ascontiguousarray: it turns a 0-d array such as BatchNorm's num_batches_tracked into shape (1,).)
    array = np.asarray(value.numpy() if isinstance(value, Tensor) else value)
    return array if array.flags.c_contiguous else array.copy(order="C")


def _split_arrays(obj: Any, arrays: dict[str, np.ndarray]) -> Any:
    """Copy ``obj`` (nested dicts/lists) with every array moved into ``arrays`` and a reference left behind."""
    if isinstance(obj, Tensor | np.ndarray):
        key = f"optimizer.{len(arrays)}"
        arrays[key] = _to_host(obj)
        return {"__tensor__": key}
    if isinstance(obj, dict):
        # JSON keys are strings; remember int keys (torch's optimizer state is keyed by param index).
        return {"__dict__": [[k, _split_arrays(v, arrays)] for k, v in obj.items()]}
    if isinstance(obj, list | tuple):
        items = [_split_arrays(v, arrays) for v in obj]
        return {"__tuple__": items} if isinstance(obj, tuple) else items
    if isinstance(obj, np.generic):
        return obj.item()
    return obj


def _join_arrays(obj: Any, arrays: dict[str, np.ndarray]) -> Any:
    """Inverse of :func:`_split_arrays`: references become fw Tensors again (on the default device)."""
    if isinstance(obj, dict):
        if "__tensor__" in obj:
            return tensor(arrays[obj["__tensor__"]])
        if "__tuple__" in obj:
            return tuple(_join_arrays(v, arrays) for v in obj["__tuple__"])
        if "__dict__" in obj:
            return {k: _join_arrays(v, arrays) for k, v in obj["__dict__"]}
        return {k: _join_arrays(v, arrays) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_join_arrays(v, arrays) for v in obj]
    return obj


def save_checkpoint(path: str | os.PathLike, model: Any, optimizer: Any = None, epoch: int | None = None,
                    extra: dict | None = None, scheduler: Any = None) -> Path:
    """Write ``model`` (and ``optimizer``) state atomically to a safetensors file.

    Args:
        path: destination file (conventionally ``*.safetensors``); its directory must exist.
        model: a ``framework.nn.Module``.
        optimizer: optional ``framework.optim`` optimizer whose ``state_dict()`` is saved too, or a dict of
            named optimizers (e.g. a GAN's ``{"generator": g_opt, "discriminator": d_opt}``).
        epoch: optional epoch number stored in the metadata.
        extra: optional JSON-serialisable dict stored in the metadata (e.g. the CLI arguments).
        scheduler: optional ``framework.optim.lr_scheduler`` scheduler whose ``state_dict()`` is saved, so a
            resumed run continues the same learning-rate schedule.

    Returns:
        the path written.

    Raises:
        TypeError: ``extra`` (or the optimizer's or scheduler's non-array state) is not JSON-serialisable.
    """
    from safetensors.numpy import save

    path = Path(path)
    tensors = {f"model.{name}": _to_host(value) for name, value in model.state_dict().items()}
    optimizer_arrays: dict[str, np.ndarray] = {}
    optimizer_state = named_states = None
    if isinstance(optimizer, Mapping):
        named_states = {str(name): _split_arrays(opt.state_dict(), optimizer_arrays) for name, opt in optimizer.items()}
    elif optimizer is not None:
        optimizer_state = _split_arrays(optimizer.state_dict(), optimizer_arrays)
    scheduler_state = None if scheduler is None else _split_arrays(scheduler.state_dict(), optimizer_arrays)
    tensors.update(optimizer_arrays)
    meta = {"format": _FORMAT, "version": _VERSION, "epoch": epoch, "extra": extra, "optimizer": optimizer_state}
    if named_states is not None:
        meta["optimizers"] = named_states
    if scheduler_state is not None:
        meta["scheduler"] = scheduler_state
    metadata = {_META_KEY: json.dumps(meta)}

    payload = save(tensors, metadata=metadata)
    with atomic_write(path) as f:
        f.write(payload)
    return path


def load_checkpoint(path: str | os.PathLike, model: Any, optimizer: Any = None, scheduler: Any = None
                    ) -> dict[str, Any]:
    """Restore ``model`` (and ``optimizer``, ``scheduler``) from a file written by :func:`save_checkpoint`.

    Args:
        path: the checkpoint file.
        model: a module with the same parameter and buffer names and shapes as the saved one.
        optimizer: optional optimizer to restore (built over ``model``'s parameters), or a dict of named
            optimizers with the names they were saved under.
        scheduler: optional LR scheduler to restore (built over the restored optimizer).

    Returns:
        ``{"epoch": ..., "extra": ...}`` as saved.

    Raises:
        FileNotFoundError: no such file.
        ValueError: not a kernelgrad checkpoint (or a format version this kernelgrad cannot read); a
            corrupted file (truncated, overwritten bytes, bad
            metadata); a missing, unexpected or wrongly shaped model entry (named with both shapes); an
            optimizer requested but none saved, or saved for other parameter groups; named optimizers whose
            names differ from the saved ones (or one optimizer where named ones were saved, or the reverse);
            a scheduler requested but none saved, or saved by another scheduler class.
    """
    from safetensors import SafetensorError, safe_open
    from safetensors.numpy import load_file

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"load_checkpoint: no such file {path}")
    try:
        with safe_open(str(path), framework="numpy") as f:
            raw_meta = (f.metadata() or {}).get(_META_KEY)
        if raw_meta is None:
            raise ValueError(f"{path}: not a kernelgrad checkpoint (no '{_META_KEY}' metadata)")
        meta = json.loads(raw_meta)
        if not isinstance(meta, dict):
            raise ValueError("the metadata is not a JSON object")
        arrays = load_file(str(path))
    except SafetensorError as exc:  # truncated or overwritten bytes: say so instead of a Rust error
        raise ValueError(f"{path}: corrupted or not a safetensors file ({exc})") from exc
    except ValueError as exc:  # json.JSONDecodeError is a ValueError
        if "not a kernelgrad checkpoint" in str(exc):
            raise
        raise ValueError(f"{path}: corrupted checkpoint metadata ({exc})") from exc

    fmt, version = meta.get("format"), meta.get("version")
    if fmt != _FORMAT:
        raise ValueError(f"{path}: not a kernelgrad checkpoint (format {fmt!r}, expected {_FORMAT!r})")
    if not isinstance(version, int) or isinstance(version, bool) or not 1 <= version <= _VERSION:
        raise ValueError(f"{path}: checkpoint format version {version!r} is not one this kernelgrad reads "
                         f"(1 to {_VERSION}); a newer kernelgrad wrote it?")

    # Check everything before changing anything: a failed load must leave model, optimizer and scheduler
    # exactly as they were.
    state = {name.removeprefix("model."): array for name, array in arrays.items() if name.startswith("model.")}
    _check_model_state(model, state, path)
    saved_named = meta.get("optimizers")
    if isinstance(optimizer, Mapping):
        if saved_named is None:
            raise ValueError(f"{path}: the checkpoint has no named optimizer states to restore "
                             f"(asked for {sorted(optimizer)})")
        if set(optimizer) != set(saved_named):
            raise ValueError(f"{path}: the checkpoint has optimizers {sorted(saved_named)}, "
                             f"asked for {sorted(optimizer)}")
        optimizer_states = {name: _join_arrays(saved_named[name], arrays) for name in optimizer}
        optimizers = dict(optimizer)
    elif optimizer is not None:
        if meta.get("optimizer") is None:
            hint = f" (it has named optimizers {sorted(saved_named)}: pass a dict)" if saved_named else ""
            raise ValueError(f"{path}: the checkpoint has no optimizer state to restore{hint}")
        optimizer_states = {"": _join_arrays(meta["optimizer"], arrays)}
        optimizers = {"": optimizer}
    else:
        optimizer_states, optimizers = {}, {}
    scheduler_state = None
    if scheduler is not None:
        if meta.get("scheduler") is None:
            raise ValueError(f"{path}: the checkpoint has no scheduler state to restore")
        scheduler_state = _join_arrays(meta["scheduler"], arrays)
        if set(scheduler_state) != set(scheduler.state_dict()):
            raise ValueError(f"{path}: the saved scheduler state (keys {sorted(scheduler_state)}) does not fit a "
                             f"{type(scheduler).__name__} (keys {sorted(scheduler.state_dict())})")

    # The optimizer's own load_state_dict checks its parameter groups only as it loads: keep host copies
    # of the current states and put them back if any step fails.
    backup_arrays: dict[str, np.ndarray] = {}
    backup_model = {name: _to_host(value).copy() for name, value in model.state_dict().items()}
    backup_opts = {name: _split_arrays(opt.state_dict(), backup_arrays) for name, opt in optimizers.items()}
    backup_arrays = {key: array.copy() for key, array in backup_arrays.items()}
    backup_sched = None if scheduler is None else copy.deepcopy(scheduler.state_dict())
    try:
        model.load_state_dict(state)  # copies each array onto its parameter's device and dtype
        for name, opt in optimizers.items():
            opt.load_state_dict(optimizer_states[name])
        if scheduler is not None:
            scheduler.load_state_dict(scheduler_state)
    except BaseException:
        model.load_state_dict(backup_model)
        for name, opt in optimizers.items():
            opt.load_state_dict(_join_arrays(backup_opts[name], backup_arrays))
        if scheduler is not None:
            scheduler.load_state_dict(backup_sched)
        raise
    return {"epoch": meta.get("epoch"), "extra": meta.get("extra")}


def _check_model_state(model: Any, state: dict[str, np.ndarray], path: Path) -> None:
    """Raise a ValueError naming the first key that is missing, unexpected or has another shape."""
    expected = {name: tuple(value.shape) for name, value in model.state_dict().items()}
    missing = [k for k in expected if k not in state]
    unexpected = [k for k in state if k not in expected]
    if missing or unexpected:
        raise ValueError(f"{path}: checkpoint does not match the model: missing keys {missing}, "
                         f"unexpected keys {unexpected}")
    for name, shape in expected.items():
        if tuple(state[name].shape) != shape:
            raise ValueError(f"{path}: shape mismatch for '{name}': checkpoint has {tuple(state[name].shape)}, "
                             f"model has {shape}")
