"""Rung 2 -- loss and gradient in one kernel: each program keeps its row's statistics in registers and re-reads the
row right away to write dlogits, one row per program. Production's kernel, launched one row per program.

Math and contract: production's (``kernels/triton/softmax_xent.py``).

What changes from rung 1 (``rung1_online_stats.py``: ``_online_stats_kernel`` streamed every row and stored mx and
s_other to two [M] buffers; only then did ``_loss_grad_kernel`` read them back and sweep every row a second time):
the two sweeps of a row run back to back in one program (production's ``_softmax_xent_forward_kernel``, here with
BLOCK_M = 1). The statistics never leave registers, one launch instead of two, and -- the point -- the second sweep
of a row follows its first by one row's worth of streaming (128 KB at V = 32000 float32), so it can hit the L2
instead of DRAM. With the loss alone (NEED_GRAD compiled out) the kernel is rung 1's stats sweep plus the loss:
the same bytes as rung 1.

Bytes moved, the running example (logits[8192, 32000] float32, H200): DRAM traffic with the gradient is the
compulsory 2.10 GB (logits read once, dlogits written once) *if* the second sweep hits the L2, and rung 1's
3.15 GB if it does not. The working set that has to stay resident is one row per resident program: BLOCK_V = 4096
with 16 warps is 512 threads, at most 4 programs per SM, 132 SMs: up to 528 rows x 128 KB = 68 MB against a 50 MB
L2 (shared with the dlogits stores streaming out), so some second sweeps will miss. Estimate 2.1-2.6 GB. The loss
alone: rung 1's 1.05 GB. One launch.

Prediction, written before any measurement (the running example, float32, H200): loss and gradient 0.6-0.85 ms,
1.2-1.45x faster than rung 1 (between a third and none of the second sweep's DRAM traffic gone, one launch and the
[M] round trip fewer); loss alone: rung 1's time, +-5%. float16 / bfloat16: 64 KB rows, so ~2x as many second
sweeps fit the L2; the gain over rung 1 should be at the top of the range. Small vocabularies (V = 10: a 16-wide
program, 10 of its 32 lanes busy; V = 1000) stay occupancy-bound, one short row per program: no better than rung 1
there beyond the saved launch. Unverified: no GPU has run this rung.

Measured: not yet (no GPU). AOT-compiled for sm_90 (launches labelled "rung2_fused_row:
softmax_cross_entropy_forward"); production's header and the doc have the registers.
"""

from __future__ import annotations

import torch

from ..._common import tl_dtype
from ...softmax_xent import _softmax_xent_forward_kernel, softmax_cross_entropy_backward
from .rung0_three_pass import acc_dtype, block_v, check_forward_args, mean_loss, warps

__all__ = ["softmax_cross_entropy_forward", "softmax_cross_entropy_backward"]


def softmax_cross_entropy_forward(
    logits: torch.Tensor, target: torch.Tensor, ignore_index: int = -100, need_grad: bool = True,
    out: torch.Tensor | None = None,
) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Mean cross-entropy of ``logits[M, V]`` against ``target[M]``: ``(loss, dlogits or None)`` as production's,
    one fused kernel, one row per program. Raises TypeError / ValueError exactly as ``kernels.triton.softmax_xent``."""
    M, V, ignore_index, target = check_forward_args(logits, target, ignore_index, need_grad, out)
    dtype = logits.dtype
    acc = acc_dtype(dtype)
    dlogits = (out if out is not None else torch.empty_like(logits)) if need_grad else None
    if M == 0:
        return torch.full((), float("nan"), dtype=dtype, device=logits.device), dlogits
    n_valid = (target != ignore_index).sum(dtype=torch.int64).reshape(1)
    row_loss = torch.empty((M,), dtype=acc, device=logits.device)
    bv = block_v(V)
    _softmax_xent_forward_kernel[(M,)](
        logits, target, n_valid, dlogits if need_grad else row_loss, row_loss, M, V, ignore_index,
        ACC_DTYPE=tl_dtype(acc), OUT_DTYPE=tl_dtype(dtype), BLOCK_M=1, BLOCK_V=bv, NEED_GRAD=bool(need_grad),
        num_warps=warps(bv),
    )
    return mean_loss(row_loss, n_valid, dtype), dlogits
