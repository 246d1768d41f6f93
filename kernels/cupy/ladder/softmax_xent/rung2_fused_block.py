"""Rung 2 -- loss and gradient in one CUDA C kernel: a block keeps its row's statistics in registers and re-reads the
row right away to write dlogits. Production's kernel at one shape: a 256-thread block per row for every V.

Math and contract: production's (``kernels/cupy/softmax_xent.py``).

What changes from rung 1 (``rung1_online_stats.py``: ``xent_online_stats_kernel`` streamed every row and stored
(mx, s_other) to two [M] buffers; only then did rung 0's ``xent_loss_grad_kernel`` read them back and sweep every
row again): production's ``softmax_xent_forward_kernel<T, 256, 1>`` (``softmax_xent.cu``) does both sweeps of a
row back to back in one block, the same online loop, shuffles and 4 loads per thread as rung 1. The statistics
stay in registers, one launch instead of two, and the second sweep of a row follows its first by one row (128 KB
at V = 32000 float32), so it can be served by the L2 instead of DRAM. With the loss alone the kernel is rung 1's
stats sweep plus the loss (the same bytes).

Bytes moved, the running example (logits[8192, 32000] float32, H200): with the gradient, between the compulsory
2.10 GB (every second sweep an L2 hit) and rung 1's 3.15 GB (none). Rows resident at once: 8 blocks of 256 threads
per SM x 132 SMs = 1056 rows x 128 KB = 135 MB, well over the 50 MB L2, and the dlogits stores stream through it
too; but the blocks start staggered, and a row's second sweep trails its first by one row, so the hit rate depends
on how far the sweeps of co-resident blocks drift apart. Estimate 2.2-2.8 GB. The loss alone: rung 1's 1.05 GB.

Prediction, written before any measurement (the running example, float32, H200): loss and gradient 0.65-0.9 ms,
1.15-1.4x faster than rung 1; loss alone: rung 1's time, +-5%; float16 (64 KB rows, twice as many fit the L2): at
the top of that range. Small V (10, 1000): one 256-thread block per short row, like rung 1, bound by block
scheduling. Unverified: no GPU has run this rung.

Verified where: production's kernel (emulator, NVRTC); this launch shape runs the shared tests on the emulator (a
subset). No GPU has run it.
"""

from __future__ import annotations

import numpy as np

from ... import _runtime
from ...softmax_xent import MODULE, _forward_name, softmax_cross_entropy_backward
from .rung0_three_pass import ROW_THREADS, _acc_dtype, check_forward_args, count_valid, empty_result, grid, mean

__all__ = ["softmax_cross_entropy_forward", "softmax_cross_entropy_backward"]


def softmax_cross_entropy_forward(logits, target, ignore_index: int = -100, need_grad: bool = True, out=None):
    """Mean cross-entropy of ``logits[M, V]`` against ``target[M]``: ``(loss, dlogits or None)`` as production's,
    one fused kernel, 256 threads per row (``out``: production's). Raises TypeError / ValueError exactly as
    ``kernels.cupy.softmax_xent``."""
    M, V, kernel_ignore, has_ignore_index, target64 = check_forward_args(logits, target, ignore_index, need_grad, out)
    dtype = logits.dtype
    if M == 0:
        return empty_result(M, V, dtype, need_grad, out)
    n_valid = count_valid(target64, kernel_ignore, has_ignore_index)
    if need_grad and out is not None:
        dlogits = out
    else:
        dlogits = _runtime.empty((M, V) if need_grad else (0,), dtype)  # (0,): a pointer the kernel never uses
    row_loss = _runtime.empty((M,), _acc_dtype(dtype))
    MODULE.launch(
        _forward_name(_runtime.cuda_type(dtype), ROW_THREADS, 1), grid(M), (ROW_THREADS,),
        (logits, target64, dlogits, row_loss, np.int64(M), np.int64(V), np.int64(kernel_ignore),
         np.int32(has_ignore_index), n_valid, np.int32(bool(need_grad))),
    )  # fmt: skip
    return mean(row_loss, n_valid, dtype), dlogits if need_grad else None
