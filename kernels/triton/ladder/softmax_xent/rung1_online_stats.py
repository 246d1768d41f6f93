"""Rung 1 -- online softmax: the row max and the sum of exp in one sweep (a running max, the running sum rescaled when
the max grows), then rung 0's loss-and-gradient kernel. Two kernels, one sweep fewer.

Math and contract: production's (``kernels/triton/softmax_xent.py``).

What changes from rung 0 (``rung0_three_pass.py``: ``_row_max_kernel`` swept the row for mx, then
``_row_sumexp_kernel`` swept it again for s_other = sum of exp(x - mx) over the non-target columns, because the sum
needs the max first): ``_online_stats_kernel`` keeps, per program, a running max m and a running s_other of
exp(x - m); a chunk whose max is larger than m multiplies s_other by exp(m_old - m_new) once, then adds its own
terms (Milakov and Gimelshein, "Online normalizer calculation for softmax", 2018). A running max still at -inf
(nothing but -inf seen yet) uses 0 as its reference, so exp(-inf - -inf) never makes a NaN; the chunk tail loads
-inf, which adds exp(-inf) = 0 and never wins the max. It stores mx and s_other, and rung 0's ``_loss_grad_kernel``
runs unchanged. Cost of the idea: one extra exp per chunk (the rescale), and the per-element exp now depends on a
max known only chunk by chunk. Production's pass 1 is this loop.

Bytes moved, the running example (logits[8192, 32000] float32, H200): with the gradient, two sweeps of the logits
from DRAM (stats, then dlogits: the second kernel starts after the first has streamed all 1.05 GB, so nothing is
left in the 50 MB L2) + dlogits written: 3.15 GB (1.5x the compulsory 2.10 GB; rung 0: 4.19 GB); the loss alone:
one sweep, 1.05 GB, the compulsory traffic (rung 0: 2.10 GB). Two launches.

Prediction, written before any measurement (the running example, float32, H200): loss and gradient 0.85-1.1 ms,
1.25-1.35x faster than rung 0 (a quarter of the bytes gone); loss alone 0.28-0.4 ms, 1.8-2x (half the bytes gone);
the rescale exp is one per 4096 elements, invisible. float16 / bfloat16: the same ratios at about half the times.
Unverified: no GPU has run this rung.

Measured: not yet (no GPU). AOT-compiled for sm_90 (launches labelled "rung1_online_stats:
softmax_cross_entropy_forward"); the doc (docs/ladder/softmax_xent.md) has the registers.
"""

from __future__ import annotations

import torch
import triton
import triton.language as tl

from ..._common import tl_dtype
from ...softmax_xent import softmax_cross_entropy_backward
from .rung0_three_pass import _loss_grad_kernel, acc_dtype, block_v, check_forward_args, mean_loss, warps

__all__ = ["softmax_cross_entropy_forward", "softmax_cross_entropy_backward"]


@triton.jit
def _online_stats_kernel(logits_ptr, target_ptr, row_max_ptr, s_other_ptr, V, ignore_index,
                         ACC_DTYPE: tl.constexpr, BLOCK_V: tl.constexpr):
    row = tl.program_id(0).to(tl.int64)
    cols = tl.arange(0, BLOCK_V).to(tl.int64)
    target = tl.load(target_ptr + row)
    t = tl.where((target != ignore_index) & (target >= 0) & (target < V), target, -1)  # -1: no column excluded
    m = tl.full((), float("-inf"), ACC_DTYPE)
    s_other = tl.zeros((), ACC_DTYPE)
    for v0 in range(0, V, BLOCK_V):
        vs = v0 + cols
        x = tl.load(logits_ptr + row * V + vs, mask=vs < V, other=float("-inf")).to(ACC_DTYPE)
        m_new = tl.maximum(m, tl.max(x, axis=0))
        m_ref = tl.where(m_new == float("-inf"), 0.0, m_new)  # still all -inf: keep exp(-inf - ref) = 0
        e = tl.where(vs != t, tl.exp(x - m_ref), 0.0)
        s_other = s_other * tl.exp(m - m_ref) + tl.sum(e, axis=0)
        m = m_new
    tl.store(row_max_ptr + row, tl.where(m == float("-inf"), 0.0, m))
    tl.store(s_other_ptr + row, s_other)


def softmax_cross_entropy_forward(
    logits: torch.Tensor, target: torch.Tensor, ignore_index: int = -100, need_grad: bool = True,
    out: torch.Tensor | None = None,
) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Mean cross-entropy of ``logits[M, V]`` against ``target[M]``: ``(loss, dlogits or None)`` as production's,
    in two kernels. Raises TypeError / ValueError exactly as ``kernels.triton.softmax_xent``."""
    M, V, ignore_index, target = check_forward_args(logits, target, ignore_index, need_grad, out)
    dtype = logits.dtype
    acc = acc_dtype(dtype)
    dlogits = (out if out is not None else torch.empty_like(logits)) if need_grad else None
    if M == 0:
        return torch.full((), float("nan"), dtype=dtype, device=logits.device), dlogits
    n_valid = (target != ignore_index).sum(dtype=torch.int64).reshape(1)
    row_max = torch.empty((M,), dtype=acc, device=logits.device)
    s_other = torch.empty((M,), dtype=acc, device=logits.device)
    row_loss = torch.empty((M,), dtype=acc, device=logits.device)
    bv = block_v(V)
    _online_stats_kernel[(M,)](logits, target, row_max, s_other, V, ignore_index, ACC_DTYPE=tl_dtype(acc),
                               BLOCK_V=bv, num_warps=warps(bv))
    _loss_grad_kernel[(M,)](
        logits, target, n_valid, row_max, s_other, dlogits if need_grad else row_loss, row_loss, V, ignore_index,
        ACC_DTYPE=tl_dtype(acc), OUT_DTYPE=tl_dtype(dtype), BLOCK_V=bv, NEED_GRAD=bool(need_grad),
        num_warps=warps(bv),
    )
    return mean_loss(row_loss, n_valid, dtype), dlogits
