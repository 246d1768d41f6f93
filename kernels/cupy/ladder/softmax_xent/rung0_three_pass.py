"""Rung 0 -- softmax cross-entropy in three CUDA C kernels, one per statistic: the row max, the sum of exp, then the
loss and dlogits. The bottom of the CUDA C softmax-cross-entropy ladder.

Math and contract: production's (``kernels/cupy/softmax_xent.py`` + ``softmax_xent.cu``)::

    logits[M, V], target[M] (int)  ->  valid[m] = target[m] != ignore_index,  n = sum(valid)
    loss     = (1/n) * sum_{valid m} ( logsumexp(logits[m]) - logits[m, target[m]] )
    dlogits  = (softmax(logits[m]) - onehot(target[m])) / n   for valid rows, 0 for ignored rows

Kernels (``rung0_three_pass.cu``), each one 256-thread block per row for every V, blocks walking the rows with a
grid-stride loop (grid = min(M, 2^31 - 1)), 4 coalesced columns per thread per chunk, warp-shuffle then
shared-memory reductions (production's load pattern and reductions, so the rungs above differ by one idea each):

* ``xent_row_max_kernel<T, 256>``: row_max[m] (0 for an all -inf row);
* ``xent_row_sumexp_kernel<T, 256>``: re-reads the row, s_other[m] = sum of exp(x - row_max[m]) over the non-target
  columns;
* ``xent_loss_grad_kernel<T, 256>``: the row loss from x_t, row_max and s_other, and (need_grad) a third sweep
  writing dlogits; ignored rows get zeros (a store), a target outside [0, V) (unchecked only) a NaN row.

The mean over valid rows is production's ``softmax_xent_mean_kernel`` (float64, fixed order); the backward is
production's scale kernel at every rung. The precision formulation (s_other without the target, log1p) is
production's at every rung: it keeps confident float32 rows accurate, it is not a speed idea.

Bytes moved, the running example: logits[8192, 32000] float32 (8192 tokens of a Llama-2-sized vocabulary) on an H200
(~4.8 TB/s HBM, ~4 TB/s for a plain copy). Compulsory: the loss alone reads the logits once (1.05 GB, a ~0.26 ms
floor); with the gradient they are read once and dlogits written once (2.10 GB, ~0.52 ms). This rung sweeps the
logits three times with the gradient and twice without (the third kernel then reads only x_t), every sweep from
DRAM (1.05 GB is twenty times the 50 MB L2): 4.19 GB (2.0x) and 2.10 GB (2.0x); the two [M] buffers are noise.
Three launches (four with the mean).

Prediction, written before any measurement (the running example, float32, H200): loss and gradient 1.1-1.5 ms
(70-90% of copy bandwidth on twice the compulsory bytes; 256-thread blocks with 4 loads in flight per thread, 8
blocks per SM), loss alone 0.55-0.8 ms; float16 about half. Small vocabularies (V = 10: 246 of a block's 256
threads idle; V = 1000) are bound by block scheduling and the launches instead. Unverified: no GPU has run it.

Verified where: values on the CPU emulator (``KERNELGRAD_CUDA_EMULATE=1``) by the shared tests
(tests/kernels/test_softmax_xent.py: every case but the two the lower rungs skip there); compiled by NVRTC for
sm_80 / sm_90 (``python -m benchmarks.aot_cuda``: registers, spills). No GPU has run it.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ...._args import value_checks_enabled
from ... import _runtime
from ...softmax_xent import MEAN_THREADS, _checked_forward_args, softmax_cross_entropy_backward
from ...softmax_xent import MODULE as PRODUCTION

__all__ = ["softmax_cross_entropy_forward", "softmax_cross_entropy_backward"]

ROW_THREADS = 256
_TYPES = ("__half", "float", "double")
MODULE = _runtime.SourceModule(
    "ladder/softmax_xent/rung0_three_pass.cu",
    [f"{k}<{t}, {ROW_THREADS}>" for t in _TYPES
     for k in ("xent_row_max_kernel", "xent_row_sumexp_kernel", "xent_loss_grad_kernel")],
)


def _acc_dtype(dtype: np.dtype) -> np.dtype:
    return np.dtype(np.float64) if dtype == np.float64 else np.dtype(np.float32)


def check_forward_args(logits, target, ignore_index, need_grad: bool = True, out=None
                       ) -> tuple[int, int, int, bool, Any]:
    """Production's argument checks for ``softmax_cross_entropy_forward`` (the same errors, the same host-read
    policy): ``(M, V, kernel_ignore, has_ignore_index, target as int64)``."""
    M, V, ignore_index = _checked_forward_args(logits, target, ignore_index, need_grad, out)
    xp = _runtime.xp()
    target64 = target.astype(np.int64, copy=False)
    has_ignore_index = -(2**63) <= ignore_index < 2**63  # else no int64 equals it: nothing is ignored
    if M and value_checks_enabled(on_host=_runtime.emulating()):
        valid = target64 != ignore_index if has_ignore_index else xp.ones((M,), dtype=bool)
        bad = valid & ((target64 < 0) | (target64 >= V))
        if bool(bad.any()):
            row = int(xp.argmax(bad))
            raise ValueError(
                f"target[{row}] = {int(target[row])} is not a class index in [0, V={V}) nor ignore_index={ignore_index}"
            )
    return M, V, ignore_index if has_ignore_index else 0, has_ignore_index, target64


def count_valid(target64, kernel_ignore: int, has_ignore_index: bool):
    """n, the number of rows that are not ignored, as a 1-element device array (the kernels read it: no sync)."""
    xp = _runtime.xp()
    if not has_ignore_index:
        return xp.full((1,), target64.shape[0], dtype=np.int64)
    return xp.asarray((target64 != kernel_ignore).sum(dtype=np.int64)).reshape(1)


def grid(M: int) -> tuple[int]:
    """One block per row, capped at CUDA's grid limit (the kernels stride over the rest)."""
    return (min(M, _runtime.MAX_GRID[0]),)


def mean(row_loss, n_valid, dtype):
    """Production's mean kernel: the float64 sum of the row losses in a fixed order, over n (0 / 0 = NaN)."""
    loss = _runtime.empty((), dtype)
    PRODUCTION.launch(f"softmax_xent_mean_kernel<{_runtime.cuda_type(dtype)}>", (1,), (MEAN_THREADS,),
                      (row_loss, loss, np.int64(row_loss.shape[0]), n_valid))
    return loss


def loss_grad(logits, target64, row_max, s_other, n_valid, kernel_ignore, has_ignore_index, need_grad, out=None):
    """The third kernel (shared with rung 1): ``(row_loss, dlogits or None)``; dlogits is ``out`` when given (it may
    be the logits: the kernel reads each element before it writes its gradient there)."""
    M, V = logits.shape
    if need_grad and out is not None:
        dlogits = out
    else:
        dlogits = _runtime.empty((M, V) if need_grad else (0,), logits.dtype)  # (0,): a pointer never used
    row_loss = _runtime.empty((M,), _acc_dtype(logits.dtype))
    MODULE.launch(
        f"xent_loss_grad_kernel<{_runtime.cuda_type(logits.dtype)}, {ROW_THREADS}>", grid(M), (ROW_THREADS,),
        (logits, target64, row_max, s_other, dlogits, row_loss, np.int64(M), np.int64(V), np.int64(kernel_ignore),
         np.int32(has_ignore_index), n_valid, np.int32(bool(need_grad))),
    )  # fmt: skip
    return row_loss, dlogits if need_grad else None


def empty_result(M: int, V: int, dtype, need_grad: bool, out):
    """``(loss, dlogits)`` for M = 0 rows: NaN (the mean over no rows) and an empty gradient (``out`` when given)."""
    dlogits = (out if out is not None else _runtime.zeros((M, V), dtype)) if need_grad else None
    return _runtime.xp().full((), np.nan, dtype=dtype), dlogits


def softmax_cross_entropy_forward(logits, target, ignore_index: int = -100, need_grad: bool = True, out=None):
    """Mean cross-entropy of ``logits[M, V]`` against ``target[M]``: ``(loss, dlogits or None)`` as production's,
    in three kernels (``out``: production's). Raises TypeError / ValueError exactly as ``kernels.cupy.softmax_xent``."""
    M, V, kernel_ignore, has_ignore_index, target64 = check_forward_args(logits, target, ignore_index, need_grad, out)
    dtype = logits.dtype
    if M == 0:
        return empty_result(M, V, dtype, need_grad, out)
    n_valid = count_valid(target64, kernel_ignore, has_ignore_index)
    ctype, acc = _runtime.cuda_type(dtype), _acc_dtype(dtype)
    row_max = _runtime.empty((M,), acc)
    s_other = _runtime.empty((M,), acc)
    MODULE.launch(f"xent_row_max_kernel<{ctype}, {ROW_THREADS}>", grid(M), (ROW_THREADS,),
                  (logits, row_max, np.int64(M), np.int64(V)))
    MODULE.launch(f"xent_row_sumexp_kernel<{ctype}, {ROW_THREADS}>", grid(M), (ROW_THREADS,),
                  (logits, target64, row_max, s_other, np.int64(M), np.int64(V)))
    row_loss, dlogits = loss_grad(logits, target64, row_max, s_other, n_valid, kernel_ignore, has_ignore_index,
                                  need_grad, out)
    return mean(row_loss, n_valid, dtype), dlogits
