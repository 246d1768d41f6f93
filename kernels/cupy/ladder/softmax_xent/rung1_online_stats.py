"""Rung 1 -- online softmax in CUDA C: the row max and the sum of exp in one sweep (a running max, the running sum
rescaled when the max grows), then rung 0's loss-and-gradient kernel. Two kernels, one sweep fewer.

Math and contract: production's (``kernels/cupy/softmax_xent.py``).

What changes from rung 0 (``rung0_three_pass.py``: ``xent_row_max_kernel`` swept the row for the max, then
``xent_row_sumexp_kernel`` swept it again for the non-target sum of exp(x - max), which needs the max first):
``xent_online_stats_kernel<T, 256>`` (``rung1_online_stats.cu``) keeps per thread a running max m and a running
sum of exp(x - m); a chunk that raises m rescales the sum once by exp(m_old - m_new), and the block combines the
threads' (m, sum) pairs by rescaling each to the row max (Milakov and Gimelshein, "Online normalizer calculation
for softmax", 2018). It writes the same two [M] buffers; rung 0's ``xent_loss_grad_kernel`` runs unchanged. Cost
of the idea: one extra exp per thread per chunk (the rescale) and one per thread in the combine. Production's
pass 1 is this loop.

Bytes moved, the running example (logits[8192, 32000] float32, H200): with the gradient two sweeps from DRAM (the
loss kernel starts after the stats kernel streamed all 1.05 GB: nothing of it is left in the 50 MB L2) + dlogits:
3.15 GB (1.5x compulsory; rung 0: 4.19 GB); the loss alone: one sweep, 1.05 GB, the compulsory traffic (rung 0:
2.10 GB). Two launches plus the mean.

Prediction, written before any measurement (the running example, float32, H200): loss and gradient 0.85-1.1 ms,
1.25-1.35x faster than rung 0; loss alone 0.28-0.4 ms, 1.8-2x; the rescale exps (one per thread per 1024-column
chunk) are invisible. float16: the same ratios at about half the times. Unverified: no GPU has run this rung.

Verified where: the emulator, by the shared tests (a subset: see tests/kernels/test_softmax_xent.py); NVRTC for
sm_80 / sm_90 (``python -m benchmarks.aot_cuda``). No GPU has run it.
"""

from __future__ import annotations

import numpy as np

from ... import _runtime
from ...softmax_xent import softmax_cross_entropy_backward
from .rung0_three_pass import (
    ROW_THREADS,
    _acc_dtype,
    check_forward_args,
    count_valid,
    empty_result,
    grid,
    loss_grad,
    mean,
)

__all__ = ["softmax_cross_entropy_forward", "softmax_cross_entropy_backward"]

MODULE = _runtime.SourceModule(
    "ladder/softmax_xent/rung1_online_stats.cu",
    [f"xent_online_stats_kernel<{t}, {ROW_THREADS}>" for t in ("__half", "float", "double")],
)


def softmax_cross_entropy_forward(logits, target, ignore_index: int = -100, need_grad: bool = True, out=None):
    """Mean cross-entropy of ``logits[M, V]`` against ``target[M]``: ``(loss, dlogits or None)`` as production's,
    in two kernels (``out``: production's). Raises TypeError / ValueError exactly as ``kernels.cupy.softmax_xent``."""
    M, V, kernel_ignore, has_ignore_index, target64 = check_forward_args(logits, target, ignore_index, need_grad, out)
    dtype = logits.dtype
    if M == 0:
        return empty_result(M, V, dtype, need_grad, out)
    n_valid = count_valid(target64, kernel_ignore, has_ignore_index)
    acc = _acc_dtype(dtype)
    row_max = _runtime.empty((M,), acc)
    s_other = _runtime.empty((M,), acc)
    MODULE.launch(f"xent_online_stats_kernel<{_runtime.cuda_type(dtype)}, {ROW_THREADS}>", grid(M), (ROW_THREADS,),
                  (logits, target64, row_max, s_other, np.int64(M), np.int64(V)))
    row_loss, dlogits = loss_grad(logits, target64, row_max, s_other, n_valid, kernel_ignore, has_ignore_index,
                                  need_grad, out)
    return mean(row_loss, n_valid, dtype), dlogits
