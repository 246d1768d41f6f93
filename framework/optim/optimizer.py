"""``Optimizer``: parameter groups, per-parameter state, ``step``/``zero_grad`` and PyTorch-shaped state dicts.

A subclass gives its defaults, validates a group's hyperparameters (``_check_group``) and implements
``_update(p, grad, state, group)`` for one parameter. Updates work on the raw device arrays through
``p.backend.xp`` and never record a graph. As in PyTorch, the step writes into the parameter's own
storage (``p._write``, which also counts a version): a ``p.data`` alias or a view taken earlier sees the
new values, and backward through a graph that saved the old value raises instead of using it. State
arrays are updated in place too; ``state_dict()`` hands out copies, so a state dict taken earlier is never
changed behind the caller's back. The same code runs on numpy, torch or cupy arrays.

State entries are Tensors on the parameter's device (``step`` is a Python int, or with ``capturable=True`` a
float64 0-d Tensor on the device, as torch keeps it), so ``state_dict()`` can go straight to a safetensors
checkpoint.

``capturable=True`` (Adam, AdamW) keeps everything a step reads in device memory -- the step count in the state,
the learning rate in a device copy of the group's ``lr`` (:meth:`Optimizer.sync_device_lr` rewrites it when a
scheduler changed the float) -- so the step can be recorded once into a CUDA graph and replayed
(``fit(..., cuda_graph=True)``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import numpy as np

from ..autograd import enable_grad, no_grad
from ..tensor import Tensor, host_copy

__all__ = ["Optimizer"]


def check_non_negative(value: Any, name: str) -> None:
    """Raise ValueError naming ``name`` unless ``value`` is a real number >= 0."""
    if isinstance(value, bool) or not isinstance(value, int | float | np.integer | np.floating) or not value >= 0:
        raise ValueError(f"Invalid {name}: must be a number >= 0, got {value!r}")


def check_in_range(value: Any, name: str, low: float, high: float, high_inclusive: bool) -> None:
    """Raise ValueError naming ``name`` unless ``low <= value < high`` (``<= high`` if inclusive)."""
    ok = isinstance(value, int | float | np.integer | np.floating) and not isinstance(value, bool)
    ok = ok and low <= value and (value <= high if high_inclusive else value < high)
    if not ok:
        bracket = "]" if high_inclusive else ")"
        raise ValueError(f"Invalid {name}: must be in [{low}, {high}{bracket}, got {value!r}")


def check_fused_options(foreach: Any, capturable: Any, differentiable: Any, fused: Any) -> None:
    """PyTorch's implementation switches: ``fused`` and ``foreach`` (bool or None), ``capturable`` (bool; the
    optimizers without a capturable step pass False) and ``differentiable`` (only False here). Raises
    RuntimeError for fused and foreach together (PyTorch's message), NotImplementedError naming differentiable
    when True, TypeError for a non-bool."""
    for name, value in (("foreach", foreach), ("fused", fused)):
        if value is not None and not isinstance(value, bool):
            raise TypeError(f"{name} must be a bool or None, got {value!r}")
    for name, value in (("capturable", capturable), ("differentiable", differentiable)):
        if not isinstance(value, bool):
            raise TypeError(f"{name} must be a bool, got {value!r}")
    if fused and foreach:
        raise RuntimeError("`fused` and `foreach` cannot be `True` together.")
    if differentiable:
        raise NotImplementedError("differentiable=True is not supported: optimizer steps are never recorded "
                                  "by autograd here")


class Optimizer:
    """Base class of the optimizers.

    Args:
        params: an iterable of Parameters, or of dicts ``{'params': [...], <hyperparameter>: value}``
            (param groups, each overriding the defaults).
        defaults: hyperparameters used where a group does not set them.
    Attributes:
        param_groups: list of dicts with ``'params'`` and every hyperparameter (schedulers edit ``'lr'``).
        state: ``parameter -> dict`` of per-parameter state (moments, ``step``).
    Raises:
        TypeError: ``params`` is a single Tensor, a set, or holds a non-Tensor.
        ValueError: empty ``params``, a parameter in two groups (or twice in one), a non-leaf tensor,
            an invalid hyperparameter (named).
    """

    def __init__(self, params: Iterable[Tensor] | Iterable[dict], defaults: dict[str, Any]):
        self.defaults = dict(defaults)
        self.state: dict[Tensor, dict[str, Any]] = {}
        self.param_groups: list[dict[str, Any]] = []
        if isinstance(params, Tensor):
            raise TypeError("params must be an iterable of Tensors or dicts, got a single Tensor "
                            "(wrap it in a list)")
        params = list(params)
        if not params:
            raise ValueError("optimizer got an empty parameter list")
        groups = params if isinstance(params[0], dict) else [{"params": params}]
        for group in groups:
            self.add_param_group(group)

    def add_param_group(self, param_group: dict[str, Any]) -> None:
        """Add a group of parameters with its own hyperparameters (missing ones from the defaults)."""
        if not isinstance(param_group, dict):
            raise TypeError(f"param group must be a dict, got {type(param_group).__name__}")
        if "params" not in param_group:
            raise ValueError("param group must have a 'params' entry")
        group = dict(param_group)
        params = group["params"]
        if isinstance(params, Tensor):
            params = [params]
        elif isinstance(params, set):
            raise TypeError("optimizer parameters must be an ordered collection; a set's order changes "
                            "between runs, use a list")
        else:
            params = list(params)
        for p in params:
            if not isinstance(p, Tensor):
                raise TypeError(f"optimizer can only optimize Tensors, got {type(p).__name__}")
            if not p.is_leaf:
                raise ValueError("can't optimize a non-leaf Tensor")
        ids = [id(p) for p in params]
        if len(set(ids)) != len(ids):
            raise ValueError("a parameter group contains the same parameter more than once")
        taken = {id(p) for g in self.param_groups for p in g["params"]}
        if taken.intersection(ids):
            raise ValueError("some parameters appear in more than one parameter group")
        for key, value in self.defaults.items():
            group.setdefault(key, value)
        self._check_group(group)
        group["params"] = params
        self.param_groups.append(group)

    def _check_group(self, group: dict[str, Any]) -> None:
        """Validate a group's hyperparameters (raise ValueError naming the argument)."""
        check_non_negative(group.get("lr", 0.0), "learning rate (lr)")

    def _update(self, p: Tensor, grad: Any, state: dict[str, Any], group: dict[str, Any]) -> None:
        """Update one parameter: read ``p._data`` and ``grad`` (raw arrays), replace ``p._data`` and state."""
        raise NotImplementedError

    #: Whether the subclass has a ``fused`` option (:meth:`_fused_update`); a group with ``fused=True`` then
    #: steps through it instead of the per-parameter :meth:`_update`.
    _supports_fused = False

    def _fused_update(self, group: dict[str, Any], items: list[tuple[Tensor, Any]]) -> None:
        """Update every ``(parameter, raw gradient)`` of ``group`` at once (the ``optim_step`` kernels)."""
        raise NotImplementedError

    def _capturable_update(self, group: dict[str, Any], items: list[tuple[Tensor, Any]]) -> None:
        """Update ``group``'s parameters reading nothing on the host (``capturable=True``)."""
        raise NotImplementedError

    def prepare_capture(self) -> list[Any]:
        """Do the host work the next :meth:`step` would do for the gradients the parameters hold now (a fused
        capturable step's launch-table uploads), without stepping, so that a CUDA graph can then record the step;
        returns what the recording reads -- keep it as long as the recording. Here nothing (Adam overrides)."""
        return []

    def capture_problem(self) -> str | None:
        """Why :meth:`step` cannot be recorded into a CUDA graph, or None when it can (every group has
        ``capturable=True``): a non-capturable step reads its step count / learning rate on the host, and a
        replay would repeat the recorded values."""
        name = type(self).__name__
        if not all(group.get("capturable") for group in self.param_groups):
            how = "construct it with capturable=True" if "capturable" in self.defaults else \
                "kernelgrad's capturable optimizers are Adam and AdamW (capturable=True)"
            return f"{name}'s step reads its step count and learning rate on the host ({how})"
        return None

    def _device_lr(self, group: dict[str, Any], backend: Any) -> Any:
        """The group's learning rate as a float64 0-d array on ``backend`` (a capturable step's ``lr``): made on
        first use, rewritten in place (a device fill) when the group's float changed since."""
        arrays = self.__dict__.setdefault("_lr_arrays", {})
        key = (id(group), backend.name)
        entry = arrays.get(key)
        if entry is None:
            array = backend.from_numpy(np.array(float(group["lr"]), dtype=np.float64), "float64")
            arrays[key] = entry = [group, float(group["lr"]), array, backend]
        elif entry[1] != group["lr"]:
            entry[2][...] = float(group["lr"])
            entry[1] = float(group["lr"])
        return entry[2]

    def sync_device_lr(self) -> None:
        """Rewrite the device copies of ``lr`` whose group's float changed (a scheduler's step) -- what a graph
        replay needs before it runs, since the recorded step reads the copy and never the float. A device fill
        per changed group, no host read; nothing when nothing changed."""
        for group, value, _, backend in list(self.__dict__.get("_lr_arrays", {}).values()):
            if value != group["lr"]:
                self._device_lr(group, backend)

    def zero_grad(self, set_to_none: bool = True) -> None:
        """Clear the gradients of every optimized parameter (to None, or zeros if ``set_to_none=False``)."""
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is not None:
                    if set_to_none:
                        p.grad = None
                    else:
                        p.grad.zero_()

    def step(self, closure: Callable[[], Any] | None = None) -> Any:
        """One update of every parameter that has a gradient (others are skipped).

        Args:
            closure: optional callable that re-evaluates the model and returns the loss (run with
                grad enabled before the update).
        Returns: the closure's loss, or None.
        """
        loss = None
        if closure is not None:
            with enable_grad():
                loss = closure()
        with no_grad():
            for group in self.param_groups:
                items = []
                for p in group["params"]:
                    if p.grad is None:
                        continue
                    grad = p.grad._data
                    if p.grad.backend is not p.backend or tuple(grad.shape) != p.shape:
                        raise ValueError(f"gradient of shape {tuple(grad.shape)} on {p.grad.device!r} does not "
                                         f"match its parameter of shape {p.shape} on {p.device!r}")
                    items.append((p, grad))
                if group.get("capturable"):  # everything on the device: the step can be graph-captured
                    self._capturable_update(group, items)
                    continue
                if self._supports_fused and group.get("fused"):
                    # a parameter whose storage is a strided view (rare: parameters are made whole) cannot be
                    # updated in place by a kernel; it takes the per-parameter path, the same math
                    flat = [p.backend.ascontiguous(p._data) is p._data for p, _ in items]
                    fused = [item for item, ok in zip(items, flat) if ok]
                    if fused:
                        self._fused_update(group, fused)
                    items = [item for item, ok in zip(items, flat) if not ok]
                if items:
                    items = self._flat_update(group, items)
                for p, grad in items:
                    self._update(p, grad, self.state.setdefault(p, {}), group)
        return loss

    def _flat_update(self, group: dict[str, Any], items: list[tuple[Tensor, Any]]) -> list[tuple[Tensor, Any]]:
        """Update what it can of ``items`` (``(param, grad array)``) at once, over flat buffers, and return the
        rest for the per-parameter :meth:`_update`. Here nothing (Adam/AdamW, Adadelta and SGD override it on
        ``cpu``)."""
        return items

    # ------------------------------------------------------------------------------- state dict

    def state_dict(self) -> dict[str, Any]:
        """PyTorch's layout: ``{'state': {index: {name: value}}, 'param_groups': [{..., 'params': [index]}]}``.

        Parameters are numbered in group order; array state is returned as Tensors (on the
        parameter's device) and ``step`` as an int.
        """
        index: dict[int, int] = {}
        groups = []
        for group in self.param_groups:
            packed = {k: v for k, v in group.items() if k != "params"}
            packed["params"] = [index.setdefault(id(p), len(index)) for p in group["params"]]
            groups.append(packed)
        state = {}
        for group in self.param_groups:
            for p in group["params"]:
                if p in self.state:
                    # Copies: the optimizers update their state arrays in place.
                    state[index[id(p)]] = {k: v.detach().clone() if isinstance(v, Tensor) else v
                                           for k, v in self.state[p].items()}
        return {"state": state, "param_groups": groups}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Restore state and hyperparameters saved by :meth:`state_dict` (ours or PyTorch's).

        Array values may be Tensors, numpy arrays or torch tensors; they are copied onto each
        parameter's device (floating ones in its dtype). Groups must match in number and size.
        Raises: ValueError for a malformed state dict or groups that do not match.
        """
        if not isinstance(state_dict, dict) or "state" not in state_dict or "param_groups" not in state_dict:
            raise ValueError("optimizer state dict must be a dict with 'state' and 'param_groups'")
        saved_groups = state_dict["param_groups"]
        if len(saved_groups) != len(self.param_groups):
            raise ValueError(f"loaded state dict has {len(saved_groups)} parameter groups, the optimizer has "
                             f"{len(self.param_groups)}")
        by_index: dict[int, Tensor] = {}
        for i, (saved, group) in enumerate(zip(saved_groups, self.param_groups)):
            if len(saved["params"]) != len(group["params"]):
                raise ValueError(f"parameter group {i} has {len(saved['params'])} parameters in the loaded state "
                                 f"dict but {len(group['params'])} in the optimizer")
            by_index.update((int(k), p) for k, p in zip(saved["params"], group["params"]))
        state: dict[Tensor, dict[str, Any]] = {}
        for key, values in state_dict["state"].items():
            p = by_index.get(int(key))
            if p is not None:
                state[p] = {name: _state_value(name, value, p) for name, value in values.items()}
        for saved, group in zip(saved_groups, self.param_groups):
            group.update((k, v) for k, v in saved.items() if k != "params")
        self.state = state

    def __repr__(self) -> str:
        lines = [f"{type(self).__name__} ("]
        for i, group in enumerate(self.param_groups):
            lines.append(f"Parameter Group {i}")
            lines += [f"    {k}: {v}" for k, v in sorted(group.items()) if k != "params"]
        return "\n".join(lines) + "\n)"


def _state_value(name: str, value: Any, p: Tensor) -> Any:
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if name == "step":  # PyTorch keeps it as a float32 scalar tensor
        return int(float(value))
    array = host_copy(value)
    dtype = str(p.dtype) if array.dtype.kind == "f" else array.dtype.name
    return Tensor._wrap(p.backend.from_numpy(array, dtype), p.backend)


def kernel_grad(p: Tensor, grad: Any) -> Any:
    """``grad`` as the fused kernels take it: C-contiguous, in the parameter's dtype (a copy only if needed)."""
    if grad.dtype != p._data.dtype:
        grad = p.backend.xp.astype(grad, p._data.dtype)
    return p.backend.ascontiguous(grad)


def wrap(array: Any, like: Tensor) -> Tensor:
    """A state Tensor holding ``array`` on ``like``'s device."""
    return Tensor._wrap(array, like.backend)


# ------------------------------------------------------------------- flat-buffer steps on cpu


def flat_batches(optimizer: Optimizer, group: dict[str, Any], items: list[tuple[Tensor, Any]], names: tuple[str, ...],
                 batch_key: Callable[[Tensor, dict[str, Any]], Any], optional: tuple[str, ...] = (),
                 work: int = 2, initial: dict[str, Any] | None = None
                 ) -> tuple[list[tuple[Tensor, Any]], list[tuple[Any, list, FlatState]]]:
    """Split ``items`` (``(param, grad array)``) into what an optimizer's flat step can update together and the rest.

    A batch is the ``cpu`` parameters with the same ``batch_key(p, state)`` (their dtype, and what else makes
    their arithmetic differ: Adam's step count); its state arrays ``names`` live in one :class:`FlatState`,
    cached on the optimizer and rebuilt when the batch or its state changed (a state dict loaded, a parameter
    that skipped a step). Left to the per-parameter path: other devices, a gradient of another dtype (its
    promotion differs), ``batch_key`` None, state of the wrong shape or dtype, and batches of one. ``work``:
    how many scratch buffers the step needs; ``initial``: the scalar entries a new state starts with (``step``).

    Returns: ``(rest, [(key, [(param, grad, state)], flat state)])``.
    """
    rest = []
    batches: dict[Any, list[tuple[Tensor, Any, dict[str, Any]]]] = {}
    for p, grad in items:
        state = optimizer.state.setdefault(p, {})
        key = None
        if p.backend.name == "cpu" and grad.dtype == p._data.dtype and _flat_state_ok(state, p, names, optional):
            key = batch_key(p, state)
        if key is None:
            rest.append((p, grad))
        else:
            batches.setdefault(key, []).append((p, grad, state))
    cache = optimizer.__dict__.setdefault("_flat_state", {})
    used = set()
    out = []
    for key, batch in batches.items():
        if len(batch) == 1:  # nothing to batch: the per-parameter path is as fast
            rest.append(batch[0][:2])
            continue
        cache_key = (id(group), tuple(id(p) for p, _, _ in batch))
        used.add(cache_key)
        entry = cache.get(cache_key)
        if entry is None or not entry.holds([s for _, _, s in batch], names):
            entry = cache[cache_key] = FlatState(batch, names, work, initial or {})
        out.append((key, batch, entry))
    for cache_key in [k for k in cache if k[0] == id(group) and k not in used]:
        del cache[cache_key]  # batches that changed: their buffers are no longer the state's
    return rest, out


def _flat_state_ok(state: dict[str, Any], p: Tensor, names: tuple[str, ...], optional: tuple[str, ...]) -> bool:
    """Whether ``state`` can join a flat batch: new (empty), or each of ``names`` a Tensor of ``p``'s shape and
    dtype (``optional`` ones may be missing: zeros, as the per-parameter step starts them). A state dict could
    load anything; the per-parameter step then decides what happens."""
    for name in names:
        value = state.get(name)
        if value is None:
            if state and name not in optional:
                return False
        elif not isinstance(value, Tensor) or value._data.shape != p._data.shape or value._data.dtype != p._data.dtype:
            return False
    return True


class FlatState:
    """One flat numpy buffer per state array (``names``) for a batch of ``cpu`` parameters, whose views are the
    parameters' ``state[name]`` Tensors -- the state dict is unchanged, an update is one numpy call per buffer
    (PyTorch's ``foreach`` idea). Made from the values the states held (zeros where one is new), so state loaded
    from a state dict, or a batch that changed, carries on where it was. ``bounds``: each parameter's
    ``(start, stop)`` in the buffers; ``work``: scratch buffers of the batch's size, reused every step (a
    temporary of 128 KiB or more is a fresh mmap and its page faults each time: they cost more than the
    arithmetic)."""

    def __init__(self, batch: list[tuple[Tensor, Any, dict[str, Any]]], names: tuple[str, ...], work: int,
                 initial: dict[str, Any]) -> None:
        sizes = [p._data.size for p, _, _ in batch]
        ends = np.cumsum(sizes).tolist()
        self.bounds = [(end - n, end) for n, end in zip(sizes, ends)]
        dtype = batch[0][0]._data.dtype
        self.flat: dict[str, np.ndarray] = {}
        self.views: dict[str, list[np.ndarray]] = {}
        for _, _, state in batch:
            if not state:
                state.update(initial)  # a new state's keys in the per-parameter step's order: step first
        for name in names:
            flat = np.zeros(ends[-1], dtype=dtype)
            views = []
            for (p, _, state), (start, stop) in zip(batch, self.bounds):
                view = flat[start:stop].reshape(p._data.shape)
                if state.get(name) is not None:
                    view[...] = state[name]._data
                state[name] = Tensor._wrap(view, p.backend)
                views.append(view)
            self.flat[name], self.views[name] = flat, views
        self.states = [state for _, _, state in batch]
        self.work = [np.empty(ends[-1], dtype=dtype) for _ in range(work)]

    def holds(self, states: list[dict[str, Any]], names: tuple[str, ...]) -> bool:
        """Whether ``states`` are this batch's, in order, each array still a view of this buffer."""
        if len(states) != len(self.states) or any(name not in self.flat for name in names):
            return False
        for i, (state, mine) in enumerate(zip(states, self.states)):
            if state is not mine:
                return False
            for name in names:
                value = state.get(name)
                if value is None or value._data is not self.views[name][i]:
                    return False
        return True

    def gather(self, arrays: list[Any], out: np.ndarray) -> np.ndarray:
        """The batch's ``arrays`` (one per parameter, in order), flattened one after another into ``out``."""
        return np.concatenate([a.reshape(-1) for a in arrays], out=out)

    def subtract(self, batch: list[tuple[Tensor, Any, dict[str, Any]]], update: np.ndarray,
                 decay: float = 1.0) -> None:
        """Each parameter ``p -= update[its slice]`` in its own storage (after ``p *= decay`` when ``decay`` is not
        1: AdamW's decoupled decay, each rounded as the per-parameter step rounds it), its version bumped as an
        in-place write is (views and ``.data`` see the step, as in torch)."""
        for (p, _, _), (start, stop) in zip(batch, self.bounds):
            param = p._data
            if decay != 1.0:
                param *= decay
            param -= update[start:stop].reshape(param.shape)
            p._bump_version()

    def gradient(self, batch: list[tuple[Tensor, Any, dict[str, Any]]], maximize: bool,
                 weight_decay: float) -> np.ndarray:
        """The batch's gradients as every ``_update`` begins, in the first scratch buffer (returned): a copy (the
        grads stay as they are), negated under ``maximize``, plus ``weight_decay * param`` when it is not 0 (the
        second scratch buffer holds the product)."""
        g, t = self.work[0], self.work[1]
        self.gather([grad for _, grad, _ in batch], g)
        if maximize:
            np.negative(g, out=g)  # -grad
        if weight_decay != 0:
            self.gather([p._data for p, _, _ in batch], t)
            t *= weight_decay
            g += t  # g + weight_decay * param
        return g
