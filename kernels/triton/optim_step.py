"""Fused optimizer steps (Adam / AdamW, SGD) over a list of parameters in Triton: one launch for the whole list.

Math: exactly ``kernels/numpy/optim_step.py`` (torch.optim's single-tensor formulas, step-dependent
numbers formed on the host in float64).  Per element::

    Adam:  g = ±grad (+ wd*p, or p *= 1 - lr*wd decoupled); m += (1-b1)*(g-m); v = b2*v + (1-b2)*g*g;
           vhat = max(vmax, v) (AMSGrad, stored) or v; p -= step_size * m / (sqrt(vhat)/bc2_sqrt + eps)
    SGD:   g = ±grad (+ wd*p); buf = g (first step) or momentum*buf + (1-dampening)*g;
           g = g + momentum*buf (Nesterov) or buf; p -= lr*g

Work split -- a multi-tensor apply with a device table of pointers (why not a flat buffer: the parameters
are the user's tensors, wherever they were allocated; packing them into one buffer would copy every list in
and back out, 2x the bytes of the step itself).  The launcher builds ONE int64 table on the host and copies it
to the device in one asynchronous copy (pinned memory, ``non_blocking=True``; the CPU tensor itself under the
interpreter):

* ``addrs[L, T]``: the address of tensor t of list l (params, grads, exp_avgs, exp_avg_sqs, max_exp_avg_sqs
  for Adam; params, grads, momentum_buffers for SGD), read in the kernel with ``tl.load`` and cast with
  ``.to(tl.pointer_type(DTYPE))``;
* ``sizes[T]``: numel of tensor t;
* the chunk table ``chunk_tensor[C]``, ``chunk_start[C]``: every tensor cut into BLOCK-element chunks, chunk c
  is elements [chunk_start, chunk_start + BLOCK) of tensor chunk_tensor (an empty tensor has no chunk);
* the hyperparameters as float64 bit patterns (read through a float64 view; Triton would pass a Python float
  argument as float32, which would cost float64 its precision).

The grid is one program per chunk (C = sum of cdiv(numel_t, BLOCK)); each program loads its table entries,
then BLOCK elements of each of its tensor's lists, computes in COMPUTE (float32 for float16 / bfloat16 /
float32, float64 for float64) and stores in place.  All element offsets are int64 (a tensor may pass 2**31
elements).  The table costs 16 bytes per chunk of BLOCK = 1024 elements (~0.06% of Adam's 28 bytes per float32
element) plus 8 * (L + 1) bytes per tensor; a binary search over per-tensor
chunk offsets would shrink it to O(T) at the price of a loop per program -- not done.

Floating point: in float32 the division and square root are ``tl.div_rn`` / ``tl.sqrt_rn`` (IEEE
round-to-nearest, as torch's CUDA and CPU kernels compute them; float32 ``/`` and ``tl.sqrt`` lower to
approximate instructions on NVIDIA GPUs); float64 ``/`` and ``tl.sqrt`` are IEEE-rounded already.  Products
and sums may contract into FMAs on a GPU (Triton's default), so float32 results can differ from numpy in the
last bit: the tests compare with torch in float64 by relative error.  Under the interpreter the results
equal the numpy reference bit for bit (checked by hand, float32 and float64, every flag).

Bytes moved (float32): Adam 28 bytes per element (36 with AMSGrad), SGD with momentum 20 (8 without); the
table is the only other traffic.  Pointers read from memory carry no alignment hint, so the compiler may not
emit 128-bit vector loads (a prediction; unmeasured).

No host sync: the table copy is asynchronous from pinned memory (torch's caching host allocator keeps the
staging buffer until the copy has run), and no kernel argument depends on device data.

Verified: values under ``TRITON_INTERPRET=1`` against torch.optim in float64 (tests/kernels/test_optim_step.py,
tests/optim/test_fused.py), float16 / bfloat16 / float32 / float64.  Compiled ahead of time for sm_90 and
sm_80 by ``benchmarks/aot_triton.py``: every dtype, every constexpr combination the AOT cases capture.  GPU
execution and speed are unverified: no GPU was available.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
import triton
import triton.language as tl

from .._optim_args import (
    adam_scalars,
    check_flags,
    check_hyperparameters,
    check_required,
    check_step,
    check_tensor_lists,
)
from .._optim_capturable import TableCache, check_device_step, check_table_cache, fill_step_scalars
from ._common import check_float_tensor, tl_dtype

__all__ = ["adam_step", "sgd_step"]

#: Elements per program (one chunk).  Fixed, not autotuned: the chunk table depends on it.
BLOCK = 1024
NUM_WARPS = 4

# The float64 hyperparameter table the kernels read (``scalars + i``):
#   Adam: [lr, 1 - beta1, beta2, 1 - beta2, eps, weight_decay, step_size, bias_correction2_sqrt, 1 - lr * wd]
#         (the last three are the kernel's ``step_scalars`` row; the capturable variant reads them from its own
#         (n_tensors, 3) device buffer instead, one row per tensor, and its table's entries 6-8 are unused zeros)
#   SGD:  [lr, momentum, 1 - dampening, weight_decay]


@triton.jit
def _adam_step_kernel(addrs, sizes, chunk_tensor, chunk_start, scalars, step_scalars, n_tensors,
                      AMSGRAD: tl.constexpr, MAXIMIZE: tl.constexpr, WEIGHT_DECAY: tl.constexpr,
                      DECOUPLED: tl.constexpr, PER_TENSOR: tl.constexpr, DTYPE: tl.constexpr,
                      COMPUTE: tl.constexpr, BLOCK: tl.constexpr):
    """One BLOCK-element chunk of one tensor: Adam in place on p, m, v (and vmax).  The step-dependent numbers
    (step_size, bias_correction2_sqrt, decay) are row t of ``step_scalars`` (float64, 3 per row) with
    PER_TENSOR (the capturable variant: formed on the device), else its only row."""
    chunk = tl.program_id(0)
    t = tl.load(chunk_tensor + chunk)
    if PER_TENSOR:
        step_scalars += 3 * t
    offs = tl.load(chunk_start + chunk) + tl.arange(0, BLOCK).to(tl.int64)
    mask = offs < tl.load(sizes + t)
    p_ptr = tl.load(addrs + t).to(tl.pointer_type(DTYPE))
    g_ptr = tl.load(addrs + n_tensors + t).to(tl.pointer_type(DTYPE))
    m_ptr = tl.load(addrs + 2 * n_tensors + t).to(tl.pointer_type(DTYPE))
    v_ptr = tl.load(addrs + 3 * n_tensors + t).to(tl.pointer_type(DTYPE))

    p = tl.load(p_ptr + offs, mask=mask, other=0.0).to(COMPUTE)
    g = tl.load(g_ptr + offs, mask=mask, other=0.0).to(COMPUTE)
    m = tl.load(m_ptr + offs, mask=mask, other=0.0).to(COMPUTE)
    v = tl.load(v_ptr + offs, mask=mask, other=0.0).to(COMPUTE)
    if MAXIMIZE:
        g = -g
    if WEIGHT_DECAY:
        if DECOUPLED:
            p = p * tl.load(step_scalars + 2).to(COMPUTE)  # 1 - lr * weight_decay
        else:
            g = g + tl.load(scalars + 5).to(COMPUTE) * p
    m = m + tl.load(scalars + 1).to(COMPUTE) * (g - m)  # 1 - beta1
    v = v * tl.load(scalars + 2).to(COMPUTE) + tl.load(scalars + 3).to(COMPUTE) * (g * g)
    if AMSGRAD:
        vmax_ptr = tl.load(addrs + 4 * n_tensors + t).to(tl.pointer_type(DTYPE))
        vhat = tl.maximum(tl.load(vmax_ptr + offs, mask=mask, other=0.0).to(COMPUTE), v)
        tl.store(vmax_ptr + offs, vhat.to(DTYPE), mask=mask)
    else:
        vhat = v
    if COMPUTE == tl.float64:  # float64 division and square root are IEEE-rounded already
        denom = tl.sqrt(vhat) / tl.load(step_scalars + 1) + tl.load(scalars + 4)
        p = p - tl.load(step_scalars) * (m / denom)
    else:
        denom = tl.div_rn(tl.sqrt_rn(vhat), tl.load(step_scalars + 1).to(COMPUTE)) + tl.load(scalars + 4).to(COMPUTE)
        p = p - tl.load(step_scalars).to(COMPUTE) * tl.div_rn(m, denom)
    tl.store(p_ptr + offs, p.to(DTYPE), mask=mask)
    tl.store(m_ptr + offs, m.to(DTYPE), mask=mask)
    tl.store(v_ptr + offs, v.to(DTYPE), mask=mask)


@triton.jit
def _sgd_step_kernel(addrs, sizes, chunk_tensor, chunk_start, scalars, n_tensors,
                     MOMENTUM: tl.constexpr, FIRST_STEP: tl.constexpr, NESTEROV: tl.constexpr,
                     MAXIMIZE: tl.constexpr, WEIGHT_DECAY: tl.constexpr, DTYPE: tl.constexpr,
                     COMPUTE: tl.constexpr, BLOCK: tl.constexpr):
    """One BLOCK-element chunk of one tensor: SGD in place on p (and the momentum buffer)."""
    chunk = tl.program_id(0)
    t = tl.load(chunk_tensor + chunk)
    offs = tl.load(chunk_start + chunk) + tl.arange(0, BLOCK).to(tl.int64)
    mask = offs < tl.load(sizes + t)
    p_ptr = tl.load(addrs + t).to(tl.pointer_type(DTYPE))
    g_ptr = tl.load(addrs + n_tensors + t).to(tl.pointer_type(DTYPE))

    p = tl.load(p_ptr + offs, mask=mask, other=0.0).to(COMPUTE)
    g = tl.load(g_ptr + offs, mask=mask, other=0.0).to(COMPUTE)
    if MAXIMIZE:
        g = -g
    if WEIGHT_DECAY:
        g = g + tl.load(scalars + 3).to(COMPUTE) * p
    if MOMENTUM:
        buf_ptr = tl.load(addrs + 2 * n_tensors + t).to(tl.pointer_type(DTYPE))
        if FIRST_STEP:
            buf = g
        else:
            buf = (tl.load(buf_ptr + offs, mask=mask, other=0.0).to(COMPUTE) * tl.load(scalars + 1).to(COMPUTE)
                   + tl.load(scalars + 2).to(COMPUTE) * g)
        tl.store(buf_ptr + offs, buf.to(DTYPE), mask=mask)
        if NESTEROV:
            g = g + tl.load(scalars + 1).to(COMPUTE) * buf
        else:
            g = buf
    p = p - tl.load(scalars + 0).to(COMPUTE) * g
    tl.store(p_ptr + offs, p.to(DTYPE), mask=mask)


def _check(params: Sequence[torch.Tensor]):
    """The per-tensor check for check_tensor_lists: Triton's (type, float dtype, placement, contiguity), and
    every tensor on params[0]'s device."""
    device = params[0].device if len(params) and isinstance(params[0], torch.Tensor) else None

    def check(name: str, t: object) -> None:
        check_float_tensor(name, t)
        if device is not None and t.device != device:  # type: ignore[union-attr]
            raise ValueError(f"{name} is on {t.device}, but params[0] is on {device} (one fused step, one device)")

    return check


def _table(lists: Sequence[Sequence[torch.Tensor]], scalars: Sequence[float], device: torch.device):
    """(addrs, sizes, chunk_tensor, chunk_start, scalars) views of one int64 table on ``device`` and the grid."""
    sizes = np.array([t.numel() for t in lists[0]], dtype=np.int64)
    counts = -(-sizes // BLOCK)
    n_chunks = int(counts.sum())
    first = np.cumsum(counts) - counts
    chunk_tensor = np.repeat(np.arange(len(sizes), dtype=np.int64), counts)
    chunk_start = (np.arange(n_chunks, dtype=np.int64) - np.repeat(first, counts)) * BLOCK
    addrs = np.array([t.data_ptr() for lst in lists for t in lst], dtype=np.int64)
    parts = [addrs, sizes, chunk_tensor, chunk_start, np.asarray(scalars, dtype=np.float64).view(np.int64)]
    host = torch.from_numpy(np.concatenate(parts))
    if device.type == "cuda":
        host = host.pin_memory()  # then the copy below is asynchronous: no host sync
    table = host.to(device, non_blocking=True)
    views, at = [], 0
    for part in parts:
        views.append(table[at:at + len(part)])
        at += len(part)
    views[-1] = views[-1].view(torch.float64)
    return views, n_chunks


def adam_step(params: Sequence[torch.Tensor], grads: Sequence[torch.Tensor], exp_avgs: Sequence[torch.Tensor],
              exp_avg_sqs: Sequence[torch.Tensor], max_exp_avg_sqs: Sequence[torch.Tensor] | None, *,
              step: int | torch.Tensor, lr: float | torch.Tensor, beta1: float, beta2: float, eps: float,
              weight_decay: float, amsgrad: bool, maximize: bool, decoupled: bool,
              table_cache: TableCache | None = None, launch: bool = True) -> None:
    """One Adam (``decoupled=True``: AdamW) step of every parameter, in place, in ONE kernel launch.

    Args: parallel lists of contiguous tensors on one device, one dtype (float16, bfloat16, float32, float64);
    ``max_exp_avg_sqs`` with ``amsgrad`` (else None or ignored); ``step`` the step being taken (>= 1), or -- the
    capturable variant -- a float64 tensor of shape () or (len(params),) on the same device holding it per
    parameter (``lr`` then a float or a 0-d float64 device tensor; the step-dependent numbers are formed on the
    device); ``table_cache``: the caller's :class:`~kernels._optim_capturable.TableCache` (the capturable
    variant's table is uploaded once and reused while its addresses, sizes and constant hyperparameters are
    unchanged; without a cache it is uploaded every call); ``launch=False``: check and build the cached table
    only; the rest torch.optim.Adam's.  Returns None.  Raises: TypeError / ValueError naming the argument.
    """
    check_flags(amsgrad=amsgrad, maximize=maximize, decoupled=decoupled, launch=launch)
    check_required("max_exp_avg_sqs", max_exp_avg_sqs, amsgrad, "amsgrad=True")
    check_table_cache(table_cache)
    lists = [params, grads, exp_avgs, exp_avg_sqs] + ([max_exp_avg_sqs] if amsgrad else [])
    check = _check(params)
    n, dtype = check_tensor_lists(check, params=params, grads=grads, exp_avgs=exp_avgs,
                                  exp_avg_sqs=exp_avg_sqs, max_exp_avg_sqs=max_exp_avg_sqs if amsgrad else None)
    device = check_device_step(step, lr, n, is_array=lambda a: isinstance(a, torch.Tensor), check_placement=check)
    h = check_hyperparameters(beta1=beta1, beta2=beta2, eps=eps, weight_decay=weight_decay,
                              **({} if isinstance(lr, torch.Tensor) else {"lr": lr}))
    if not device:
        step = check_step(step)
    if n == 0 or all(t.numel() == 0 for t in params):
        return
    constants = [1 - h["beta1"], h["beta2"], 1 - h["beta2"], h["eps"], h["weight_decay"]]
    if device:  # the capturable variant: a cached table (uploaded once), the step's numbers formed on the device
        def build():
            if params[0].is_cuda and torch.cuda.is_current_stream_capturing():
                raise RuntimeError("optim_step.adam_step: the launch table would be uploaded while a CUDA graph is "
                                   "recording (a host-to-device copy); build it before recording: call it with "
                                   "launch=False and the same table_cache (Optimizer.prepare_capture)")
            views, n_chunks = _table(lists, [0.0, *constants, 0.0, 0.0, 0.0], params[0].device)
            return views, n_chunks, torch.empty((n, 3), dtype=torch.float64, device=params[0].device)

        key = (tuple(t.data_ptr() for lst in lists for t in lst), tuple(t.numel() for t in params),
               str(params[0].device), tuple(constants))
        (addrs, sizes, chunk_tensor, chunk_start, table), n_chunks, rows = \
            table_cache.lookup(key, build) if table_cache is not None else build()
        if not launch:
            return
        step_scalars = fill_step_scalars(rows, step, lr if isinstance(lr, torch.Tensor) else h["lr"], h["beta1"],
                                         h["beta2"], h["weight_decay"], torch.sqrt)
    else:
        if not launch:
            return
        s = adam_scalars(step, h["lr"], h["beta1"], h["beta2"], h["weight_decay"])
        host = [h["lr"], *constants, s["step_size"], s["bias_correction2_sqrt"], s["decay"]]
        (addrs, sizes, chunk_tensor, chunk_start, table), n_chunks = _table(lists, host, params[0].device)
        step_scalars = table[6:]
    _adam_step_kernel[(n_chunks,)](
        addrs, sizes, chunk_tensor, chunk_start, table, step_scalars, n, AMSGRAD=amsgrad, MAXIMIZE=maximize,
        WEIGHT_DECAY=h["weight_decay"] != 0, DECOUPLED=decoupled, PER_TENSOR=device, DTYPE=tl_dtype(dtype),
        COMPUTE=tl.float64 if dtype == torch.float64 else tl.float32, BLOCK=BLOCK, num_warps=NUM_WARPS)


def sgd_step(params: Sequence[torch.Tensor], grads: Sequence[torch.Tensor],
             momentum_buffers: Sequence[torch.Tensor] | None, *, lr: float, momentum: float, dampening: float,
             weight_decay: float, nesterov: bool, maximize: bool, first_step: bool) -> None:
    """One SGD step of every parameter, in place, in ONE kernel launch.

    Args: parallel lists of contiguous tensors on one device, one dtype; ``momentum_buffers`` with
    ``momentum != 0`` (else None or ignored); ``first_step``: the buffers are set to g (torch's first step);
    the rest torch.optim.SGD's.  Returns None.  Raises: TypeError / ValueError naming the argument.
    """
    check_flags(nesterov=nesterov, maximize=maximize, first_step=first_step)
    h = check_hyperparameters(lr=lr, momentum=momentum, dampening=dampening, weight_decay=weight_decay)
    check_required("momentum_buffers", momentum_buffers, h["momentum"] != 0, "momentum != 0")
    buffers = momentum_buffers if h["momentum"] != 0 else None
    n, dtype = check_tensor_lists(_check(params), params=params, grads=grads, momentum_buffers=buffers)
    if n == 0 or all(t.numel() == 0 for t in params):
        return
    lists = [params, grads] + ([buffers] if buffers is not None else [])
    scalars = [h["lr"], h["momentum"], 1 - h["dampening"], h["weight_decay"]]
    (addrs, sizes, chunk_tensor, chunk_start, table), n_chunks = _table(lists, scalars, params[0].device)
    _sgd_step_kernel[(n_chunks,)](
        addrs, sizes, chunk_tensor, chunk_start, table, n, MOMENTUM=buffers is not None, FIRST_STEP=first_step,
        NESTEROV=nesterov, MAXIMIZE=maximize, WEIGHT_DECAY=h["weight_decay"] != 0, DTYPE=tl_dtype(dtype),
        COMPUTE=tl.float64 if dtype == torch.float64 else tl.float32, BLOCK=BLOCK, num_warps=NUM_WARPS)
