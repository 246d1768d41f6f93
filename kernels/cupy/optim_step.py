"""Fused optimizer steps (Adam / AdamW, SGD) in CUDA C through CuPy: one launch updates a whole parameter list.

Math: exactly ``kernels/numpy/optim_step.py`` (torch.optim's single-tensor formulas); the kernels and their
header are in ``optim_step.cu``.  ``lr / (1 - beta1**t)``, ``sqrt(1 - beta2**t)`` and ``1 - lr * wd`` are formed
here on the host in float64 from the Python step count and appended to the uploaded table; the kernel reads
them in float64 and rounds them to the compute type (float for float16 / bfloat16 / float32, double for
float64), like the hyperparameters it takes as arguments.  The capturable variant (``step`` a float64 device
array, ``lr`` a float or a 0-d device array, ``table_cache``: ``kernels/_optim_capturable.py``) forms them on
the device instead, one row per tensor, and reuses a table uploaded once.

Work split (multi-tensor apply): the wrapper writes ONE int64 table -- every list's array addresses
``addrs[L, T]``, the sizes ``sizes[T]``, and a chunk table (tensor index, start) cutting every array into
CHUNK-element chunks -- and launches one block of 256 threads per chunk.  A flat buffer was rejected: the
parameters are the caller's arrays, so packing them would copy every list in and back out, twice the bytes
of the step itself.  On a GPU the table goes to the device with one asynchronous copy from pinned host
memory (the staging buffer is kept until an event recorded after the copy has completed), so the step never
syncs the host; under ``KERNELGRAD_CUDA_EMULATE=1`` the kernel reads the host table itself (the arrays'
addresses are host addresses there).

Arrays: ``cupy.ndarray`` (numpy under emulation) of one dtype, float16 / float32 / float64 or
:class:`~kernels.cupy._runtime.BFloat16Array`, C-contiguous, on one device; updated in place.  Bad input
raises TypeError / ValueError naming the argument (``kernels/_optim_args.py``, shared with every backend).

Verified: values under the CPU emulator against torch.optim in float64 (tests/kernels/test_optim_step.py).
NVRTC compiles every name expression for sm_80/sm_90 in CI.  GPU execution, the pinned-memory table copy
and speed are unverified: no GPU was available.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from .._optim_args import (
    adam_scalars,
    check_flags,
    check_hyperparameters,
    check_required,
    check_step,
    check_tensor_lists,
)
from .._optim_capturable import TableCache, check_device_step, check_table_cache, fill_step_scalars
from . import _runtime
from ._runtime import BFloat16Array, SourceModule, check_float_array, cuda_type

__all__ = ["adam_step", "sgd_step"]

THREADS = 256  # threads per block (optim_step.cu's __launch_bounds__)
CHUNK = 4096  # elements per block: 16 per thread
MAX_CHUNKS = 2**31 - 1  # a 1-D grid's limit

_TYPES = ("__half", "__nv_bfloat16", "float", "double")
MODULE = SourceModule("optim_step.cu",
                      [f"{kernel}<{t}>" for kernel in ("adam_step_kernel", "sgd_step_kernel") for t in _TYPES])

#: (event, pinned staging buffer) of table copies that may still be running (GPU only).
_in_flight: list[tuple[Any, Any]] = []


def _check(params: Sequence[Any]):
    """Per-array check: the runtime's (type, float dtype incl. bfloat16, C-contiguity) and one GPU device."""
    device = None
    if not _runtime.emulating() and len(params):
        first = params[0].bits if isinstance(params[0], BFloat16Array) else params[0]
        device = getattr(first, "device", None)

    def check(name: str, a: object) -> None:
        check_float_array(name, a, bfloat16=True)
        if device is not None:
            here = (a.bits if isinstance(a, BFloat16Array) else a).device  # type: ignore[union-attr]
            if here != device:
                raise ValueError(f"{name} is on {here}, but params[0] is on {device} (one fused step, one device)")

    return check


def _address(a: Any) -> int:
    raw = a.bits if isinstance(a, BFloat16Array) else a
    return int(raw.ctypes.data) if isinstance(raw, np.ndarray) else int(raw.data.ptr)


def _to_device(host: np.ndarray) -> Any:
    """The table on the runtime's device: itself under emulation, else an asynchronous copy from pinned memory."""
    if _runtime.emulating():
        return host
    import cupy
    import cupyx

    _in_flight[:] = [(event, buf) for event, buf in _in_flight if not event.done]
    pinned = cupyx.empty_pinned(host.shape, host.dtype)
    pinned[...] = host
    stream = cupy.cuda.get_current_stream()
    device = cupy.empty(host.shape, host.dtype)
    device.set(pinned, stream=stream)  # asynchronous: the source is pinned
    _in_flight.append((stream.record(), pinned))  # keep the staging buffer until the copy has run
    return device


def _table(lists: Sequence[Sequence[Any]], floats: Sequence[float] = ()) -> tuple[list[Any], int]:
    """(addrs, sizes, chunk_tensor, chunk_start, floats) views of one int64 table on the device (``floats``:
    float64 numbers stored as their bit patterns, viewed as float64), and the chunk count."""
    sizes = np.array([a.size for a in lists[0]], dtype=np.int64)
    counts = -(-sizes // CHUNK)
    n_chunks = int(counts.sum())
    if n_chunks > MAX_CHUNKS:
        raise ValueError(f"params hold {int(sizes.sum())} elements: more than {MAX_CHUNKS} chunks of {CHUNK}")
    first = np.cumsum(counts) - counts
    chunk_tensor = np.repeat(np.arange(len(sizes), dtype=np.int64), counts)
    chunk_start = (np.arange(n_chunks, dtype=np.int64) - np.repeat(first, counts)) * CHUNK
    addrs = np.array([_address(a) for lst in lists for a in lst], dtype=np.int64)
    parts = [addrs, sizes, chunk_tensor, chunk_start, np.asarray(floats, dtype=np.float64).view(np.int64)]
    table = _to_device(np.concatenate(parts))
    views, at = [], 0
    for part in parts:
        views.append(table[at:at + len(part)])
        at += len(part)
    views[-1] = views[-1].view(np.float64)
    return views, n_chunks


def _scalar(dtype: Any) -> type:
    return np.float64 if dtype == np.float64 else np.float32


def adam_step(params: Sequence[Any], grads: Sequence[Any], exp_avgs: Sequence[Any], exp_avg_sqs: Sequence[Any],
              max_exp_avg_sqs: Sequence[Any] | None, *, step: int | Any, lr: float | Any, beta1: float, beta2: float,
              eps: float, weight_decay: float, amsgrad: bool, maximize: bool, decoupled: bool,
              table_cache: TableCache | None = None, launch: bool = True) -> None:
    """One Adam (``decoupled=True``: AdamW) step of every parameter, in place, in ONE kernel launch.

    Args: parallel lists of C-contiguous arrays on one device, one dtype; ``max_exp_avg_sqs`` with ``amsgrad``
    (else None or ignored); ``step`` the step being taken (>= 1), or -- the capturable variant -- a float64 array
    of shape () or (len(params),) on the same device holding it per parameter (``lr`` then a float or a 0-d
    float64 array; the step-dependent numbers are formed on the device); ``table_cache``: the caller's
    :class:`~kernels._optim_capturable.TableCache` (the capturable variant's table is uploaded once and reused
    while its addresses, sizes and constant hyperparameters are unchanged; without a cache, every call);
    ``launch=False``: check and build the cached table only; the rest torch.optim.Adam's.  Returns None.
    Raises: TypeError / ValueError naming the argument.
    """
    check_flags(amsgrad=amsgrad, maximize=maximize, decoupled=decoupled, launch=launch)
    check_required("max_exp_avg_sqs", max_exp_avg_sqs, amsgrad, "amsgrad=True")
    check_table_cache(table_cache)
    check = _check(params)
    n, dtype = check_tensor_lists(check, params=params, grads=grads, exp_avgs=exp_avgs,
                                  exp_avg_sqs=exp_avg_sqs, max_exp_avg_sqs=max_exp_avg_sqs if amsgrad else None)
    kind = _runtime.array_type()
    device = check_device_step(step, lr, n, is_array=lambda a: isinstance(a, kind), check_placement=check)
    h = check_hyperparameters(beta1=beta1, beta2=beta2, eps=eps, weight_decay=weight_decay,
                              **({} if isinstance(lr, kind) else {"lr": lr}))
    if not device:
        step = check_step(step)
    if n == 0 or all(a.size == 0 for a in params):
        return
    lists = [params, grads, exp_avgs, exp_avg_sqs] + ([max_exp_avg_sqs] if amsgrad else [])
    if device:  # the capturable variant: a cached table (uploaded once), the step's numbers formed on the device
        def build():
            views, n_chunks = _table(lists)
            return views, n_chunks, _runtime.xp().empty((n, 3), dtype=np.float64)

        key = (tuple(_address(a) for lst in lists for a in lst), tuple(a.size for a in params),
               (h["beta1"], h["beta2"], h["eps"], h["weight_decay"]))
        (addrs, sizes, chunk_tensor, chunk_start, _), n_chunks, rows = \
            table_cache.lookup(key, build) if table_cache is not None else build()
        if not launch:
            return
        step_scalars = fill_step_scalars(rows, step, lr if isinstance(lr, kind) else h["lr"], h["beta1"],
                                         h["beta2"], h["weight_decay"], _runtime.xp().sqrt)
        stride = 3
    else:
        if not launch:
            return
        s = adam_scalars(step, h["lr"], h["beta1"], h["beta2"], h["weight_decay"])
        (addrs, sizes, chunk_tensor, chunk_start, step_scalars), n_chunks = \
            _table(lists, [s["step_size"], s["bias_correction2_sqrt"], s["decay"]])
        stride = 0
    c = _scalar(dtype)
    args = [addrs, sizes, chunk_tensor, chunk_start, step_scalars, np.int64(stride), np.int64(n), np.int64(CHUNK),
            np.int32(amsgrad), np.int32(maximize), np.int32(h["weight_decay"] != 0), np.int32(decoupled),
            c(1 - h["beta1"]), c(h["beta2"]), c(1 - h["beta2"]), c(h["eps"]), c(h["weight_decay"])]
    MODULE.launch(f"adam_step_kernel<{cuda_type(dtype)}>", (n_chunks,), (THREADS,), args)


def sgd_step(params: Sequence[Any], grads: Sequence[Any], momentum_buffers: Sequence[Any] | None, *, lr: float,
             momentum: float, dampening: float, weight_decay: float, nesterov: bool, maximize: bool,
             first_step: bool) -> None:
    """One SGD step of every parameter, in place, in ONE kernel launch.

    Args: parallel lists of C-contiguous arrays on one device, one dtype; ``momentum_buffers`` with
    ``momentum != 0`` (else None or ignored); ``first_step``: the buffers are set to g (torch's first step);
    the rest torch.optim.SGD's.  Returns None.  Raises: TypeError / ValueError naming the argument.
    """
    check_flags(nesterov=nesterov, maximize=maximize, first_step=first_step)
    h = check_hyperparameters(lr=lr, momentum=momentum, dampening=dampening, weight_decay=weight_decay)
    check_required("momentum_buffers", momentum_buffers, h["momentum"] != 0, "momentum != 0")
    buffers = momentum_buffers if h["momentum"] != 0 else None
    n, dtype = check_tensor_lists(_check(params), params=params, grads=grads, momentum_buffers=buffers)
    if n == 0 or all(a.size == 0 for a in params):
        return
    lists = [params, grads] + ([buffers] if buffers is not None else [])
    (addrs, sizes, chunk_tensor, chunk_start, _), n_chunks = _table(lists)
    c = _scalar(dtype)
    args = [addrs, sizes, chunk_tensor, chunk_start, np.int64(n), np.int64(CHUNK), np.int32(buffers is not None),
            np.int32(first_step), np.int32(nesterov), np.int32(maximize), np.int32(h["weight_decay"] != 0),
            c(h["lr"]), c(h["momentum"]), c(1 - h["dampening"]), c(h["weight_decay"])]
    MODULE.launch(f"sgd_step_kernel<{cuda_type(dtype)}>", (n_chunks,), (THREADS,), args)
