"""The capturable variant of ``optim_step.adam_step``, shared by the numpy, Triton and CuPy kernels.

``adam_step(..., step=STEPS, lr=LR, table_cache=CACHE)`` with ``STEPS`` a float64 device array (shape ``()`` or
``(len(params),)``: the step being taken per parameter, already incremented, as torch's fused Adam increments its
``state_steps`` before its kernel) and ``LR`` a float or a float64 0-d device array (the optimizer's device copy of
``lr``, which a scheduler rewrites in place) is the step that reads nothing on the host:

* the step-dependent numbers ``step_size = lr / (1 - beta1**t)``, ``bias_correction2_sqrt = sqrt(1 - beta2**t)``
  and ``decay = 1 - lr * weight_decay`` are formed ON THE DEVICE in float64 by :func:`fill_step_scalars` -- a
  few tiny array operations over a ``(len(params), 3)`` float64 buffer, however many parameters (not per
  parameter) -- and the kernel reads row ``t`` of that buffer for tensor ``t``;
* the launch table (the tensors' addresses and sizes, the chunk table, the constant hyperparameters) is built
  on the host and uploaded ONCE, then kept in a :class:`TableCache` that the caller owns and passes back every
  step; it is rebuilt (uploaded again) only when its key -- every address, every size, the constant
  hyperparameters -- changes, e.g. a parameter was replaced or the gradients were reallocated.

Why the caller owns the cache, not the kernel module: a recorded CUDA graph reads the table at a fixed device
address on every replay, so the table must live exactly as long as whoever holds the recording (the
optimizer's state, :class:`framework.train.GraphStep`); a module-level cache would have to guess when to free
it.  A table's key is its whole content, so a hit is always the right table.

``launch=False`` checks the arguments and builds (or finds) the cached table without launching anything: what
must happen before a CUDA graph starts recording, because a table upload is a host-to-device copy, which a
recording must not contain (``Optimizer.prepare_capture``).  The key includes the gradients' addresses, and
gradients made inside a recording live at addresses known only after the backward pass was recorded -- hence
the split recording (forward+backward, then the optimizer step) in ``framework/train/cuda_graph.py``.

The numpy reference has no table; it keeps the same contract (it records the key in the cache and counts
builds) so that the three backends are called, checked and tested the same way.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

__all__ = ["TableCache", "check_device_step", "fill_step_scalars"]


class TableCache:
    """One cached launch table of a fused ``adam_step`` (the capturable variant): the caller keeps this object
    as long as anything recorded may read the table, and passes it to every call.

    Attributes: ``key`` (what the table was built for), ``value`` (the backend's table: device arrays and the
    chunk count), ``builds`` (how many times it was built: a rebuild means the parameters, the state, the
    gradients' storage or a constant hyperparameter changed).
    """

    def __init__(self) -> None:
        self.key: Any = None
        self.value: Any = None
        self.builds = 0

    def lookup(self, key: Any, build: Callable[[], Any]) -> Any:
        """The table for ``key``: the cached one when the key is unchanged, else ``build()`` (cached)."""
        if self.value is None or self.key != key:
            self.value = build()
            self.key = key
            self.builds += 1
        return self.value

    def __repr__(self) -> str:
        return f"TableCache(builds={self.builds}, cached={self.value is not None})"


def check_table_cache(table_cache: Any) -> None:
    if table_cache is not None and not isinstance(table_cache, TableCache):
        raise TypeError(f"table_cache must be a kernels._optim_capturable.TableCache or None, got "
                        f"{type(table_cache).__name__}")


def _dtype_name(a: Any) -> str:
    return str(a.dtype).removeprefix("torch.")


def check_device_step(step: Any, lr: Any, n: int, *, is_array: Callable[[Any], bool],
                      check_placement: Callable[[str, Any], None]) -> bool:
    """Whether this ``adam_step`` call is the capturable variant (``step`` a device array); checks it.

    ``is_array``: whether a value is an array of the backend; ``check_placement(name, a)``: the backend's
    device / contiguity check.  Looks at types, dtypes and shapes only: nothing is read from the device.
    Raises: TypeError / ValueError naming ``step`` or ``lr``.
    """
    if not is_array(step):
        if is_array(lr):
            raise ValueError("lr is a device array but step is an int: a device lr is the capturable variant, "
                             "which takes the step counts as a float64 device array too (step=)")
        return False
    if _dtype_name(step) != "float64":
        raise TypeError(f"step as a device array must have dtype float64 (torch's capturable step counts), got "
                        f"{_dtype_name(step)}")
    if tuple(step.shape) not in ((), (n,)):
        raise ValueError(f"step as a device array must have shape () or ({n},) (one count per parameter), got "
                         f"{tuple(step.shape)}")
    check_placement("step", step)
    if is_array(lr):
        if _dtype_name(lr) != "float64":
            raise TypeError(f"lr as a device array must have dtype float64, got {_dtype_name(lr)}")
        if tuple(lr.shape) != ():
            raise ValueError(f"lr as a device array must be 0-d, got shape {tuple(lr.shape)}")
        check_placement("lr", lr)
    return True


def fill_step_scalars(out: Any, step: Any, lr: Any, beta1: float, beta2: float, weight_decay: float,
                      sqrt: Callable[[Any], Any]) -> Any:
    """Row ``t`` of ``out`` (``(n, 3)`` float64, on the device) = ``(lr / (1 - beta1**step_t),
    sqrt(1 - beta2**step_t), 1 - lr * weight_decay)``: the host's ``adam_scalars`` in the same order of
    operations, as array operations (numpy, torch or cupy: ``sqrt`` is the library's), so a CUDA graph replays
    them.  ``step``: shape () or (n,); ``lr``: a float or a 0-d array.  Returns ``out``."""
    bias_correction1 = 1 - beta1**step
    out[:, 0] = lr / bias_correction1
    out[:, 1] = sqrt(1 - beta2**step)
    out[:, 2] = 1 - lr * weight_decay
    return out
