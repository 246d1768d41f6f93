"""Rung 0 -- softmax cross-entropy in three kernels, one per statistic: the row max, then the sum of exp, then the
loss and dlogits. The bottom of the Triton softmax-cross-entropy ladder.

Math and contract: production's (``kernels/triton/softmax_xent.py``; ``kernels/numpy/softmax_xent.py`` is the
reference)::

    logits[M, V], target[M] (int)  ->  valid[m] = target[m] != ignore_index,  n = sum(valid)
    loss     = (1/n) * sum_{valid m} ( logsumexp(logits[m]) - logits[m, target[m]] )
    dlogits  = (softmax(logits[m]) - onehot(target[m])) / n   for valid rows, 0 for ignored rows

Kernels, each one program per row walking the row in BLOCK_V-wide chunks (BLOCK_V = min(next_pow2(V), 4096); 64
under the interpreter, so the chunk loops run on the CPU too):

* ``_row_max_kernel``: mx[m] = max_v logits[m, v] (a row that is all -inf stores 0, so later exps stay finite);
* ``_row_sumexp_kernel``: re-reads the row and mx[m], s_other[m] = sum over the *non-target* columns of
  exp(x - mx[m]);
* ``_loss_grad_kernel``: reads x_t, mx[m], s_other[m]: row_loss[m] = (mx - x_t) + log1p((e_t - 1) + s_other), and
  (need_grad) re-reads the row a third time to write dlogits = exp(x - mx) / (s * n), -s_other / (s * n) at the
  target, zeros for ignored rows (a select), NaN rows for an unchecked target that is not a class.

``out`` (the contract's in-place gradient) may be the logits: the third kernel reads each element before it
writes its gradient there, in the same program, and the first two kernels have finished reading by then.

The statistics travel between the kernels through two [M] buffers in the accumulation dtype; the mean over valid
rows is a device reduction in the launcher (production's). This is the textbook "safe softmax": three sweeps
because each statistic needs the previous one. The precision formulation (s_other without the target, log1p, the
target's gradient as -s_other / (s * n)) is production's at every rung: it is what keeps a confident row's float32
loss accurate (tests/kernels/test_softmax_xent.py holds every rung to it), not a speed idea, so it is not a rung.

Bytes moved, the running example: logits[8192, 32000] float32 (8192 tokens of a Llama-2-sized vocabulary) on an H200
(~4.8 TB/s HBM, ~4 TB/s for a plain copy). Compulsory traffic: the loss alone reads the logits once (1.05 GB, a
~0.26 ms floor); loss and gradient read them once and write dlogits once (2.10 GB, ~0.52 ms). This rung reads the
logits three times with the gradient (max, sum, dlogits) and twice without it (the third kernel then reads only
x_t), each sweep from DRAM (a sweep ends before the next begins, and 1.05 GB is twenty times the 50 MB L2): 4.19 GB
with the gradient (2.0x compulsory), 2.10 GB without (2.0x); the [M] buffers (2 x 32 KB) are noise. Three launches.

Prediction, written before any measurement (the running example, float32, H200): loss and gradient 1.1-1.5 ms
(70-90% of copy bandwidth on 2x the compulsory bytes: long coalesced sweeps of one 128 KB row per program), loss
alone 0.55-0.8 ms; float16 / bfloat16 about half of those (half the bytes; the math stays float32). The
small-vocabulary cases (V = 10, 1000) are launch- and occupancy-bound instead: one row per program is 10 useful
lanes of a 32-lane warp, and three launches cost ~3 x 3-5 us on their own. Unverified: no GPU has run this rung.

Measured: not yet (no GPU). AOT-compiled for sm_90 by ``benchmarks/aot_triton.py`` (launches labelled
"rung0_three_pass: softmax_cross_entropy_forward"); the doc (docs/ladder/softmax_xent.md) has the registers.
The backward (``dlogits * grad_loss``, one scale kernel) is production's at every rung.
"""

from __future__ import annotations

import torch
import triton
import triton.language as tl

from ...._args import softmax_xent_shapes, value_checks_enabled
from ..._common import check_float_tensor, check_placement, interpreting, tl_dtype
from ...softmax_xent import _check_out, _log1p, softmax_cross_entropy_backward

__all__ = ["softmax_cross_entropy_forward", "softmax_cross_entropy_backward"]

MAX_BLOCK_V = 4096


@triton.jit
def _row_max_kernel(logits_ptr, row_max_ptr, V, ACC_DTYPE: tl.constexpr, BLOCK_V: tl.constexpr):
    row = tl.program_id(0).to(tl.int64)
    cols = tl.arange(0, BLOCK_V).to(tl.int64)
    m = tl.full((BLOCK_V,), float("-inf"), ACC_DTYPE)
    for v0 in range(0, V, BLOCK_V):
        vs = v0 + cols
        x = tl.load(logits_ptr + row * V + vs, mask=vs < V, other=float("-inf")).to(ACC_DTYPE)
        m = tl.maximum(m, x)
    mx = tl.max(m, axis=0)
    # a row that is -inf everywhere would give exp(-inf - -inf) = nan later: 0 keeps its (NaN) loss production's
    tl.store(row_max_ptr + row, tl.where(mx == float("-inf"), 0.0, mx))


@triton.jit
def _row_sumexp_kernel(logits_ptr, target_ptr, row_max_ptr, s_other_ptr, V, ignore_index,
                       ACC_DTYPE: tl.constexpr, BLOCK_V: tl.constexpr):
    row = tl.program_id(0).to(tl.int64)
    cols = tl.arange(0, BLOCK_V).to(tl.int64)
    target = tl.load(target_ptr + row)
    t = tl.where((target != ignore_index) & (target >= 0) & (target < V), target, -1)  # -1: no column excluded
    mx = tl.load(row_max_ptr + row)
    s = tl.zeros((BLOCK_V,), ACC_DTYPE)
    for v0 in range(0, V, BLOCK_V):
        vs = v0 + cols
        x = tl.load(logits_ptr + row * V + vs, mask=vs < V, other=float("-inf")).to(ACC_DTYPE)
        s += tl.where(vs != t, tl.exp(x - mx), 0.0)
    tl.store(s_other_ptr + row, tl.sum(s, axis=0))


@triton.jit
def _loss_grad_kernel(logits_ptr, target_ptr, n_valid_ptr, row_max_ptr, s_other_ptr, dlogits_ptr, row_loss_ptr, V,
                      ignore_index, ACC_DTYPE: tl.constexpr, OUT_DTYPE: tl.constexpr, BLOCK_V: tl.constexpr,
                      NEED_GRAD: tl.constexpr):
    row = tl.program_id(0).to(tl.int64)
    cols = tl.arange(0, BLOCK_V).to(tl.int64)
    row_base = row * V  # int64: M * V may exceed 2**31
    target = tl.load(target_ptr + row)
    valid = target != ignore_index
    bad = valid & ((target < 0) | (target >= V))  # reaches the kernel only unchecked: a NaN row, never an address
    t = tl.where(valid & ~bad, target, 0)
    x_t = tl.load(logits_ptr + row_base + t).to(ACC_DTYPE)
    mx = tl.load(row_max_ptr + row)
    s_other = tl.load(s_other_ptr + row)
    e_t = tl.exp(x_t - mx)
    s = e_t + s_other
    loss = (mx - x_t) + _log1p((e_t - 1.0) + s_other)
    loss = tl.where(bad, float("nan"), loss)
    tl.store(row_loss_ptr + row, tl.where(valid, loss, 0.0))
    if NEED_GRAD:
        n = tl.maximum(tl.load(n_valid_ptr), 1).to(ACC_DTYPE)
        inv = 1.0 / (s * n)
        g_t = -s_other * inv
        tl.debug_barrier()  # dlogits may be the logits: every lane has read x_t before column t is overwritten
        for v0 in range(0, V, BLOCK_V):
            vs = v0 + cols
            in_row = vs < V
            x = tl.load(logits_ptr + row_base + vs, mask=in_row, other=float("-inf")).to(ACC_DTYPE)
            g = tl.where(vs == t, g_t, tl.exp(x - mx) * inv)
            g = tl.where(bad, float("nan"), g)
            g = tl.where(valid, g, 0.0)
            tl.store(dlogits_ptr + row_base + vs, g.to(OUT_DTYPE), mask=in_row)


def check_forward_args(logits: torch.Tensor, target: torch.Tensor, ignore_index, need_grad: bool = True,
                       out: torch.Tensor | None = None) -> tuple[int, int, int, torch.Tensor]:
    """Production's argument checks for ``softmax_cross_entropy_forward`` (the same errors, the same host-read
    policy): ``(M, V, ignore_index, target as int64)``."""
    check_float_tensor("logits", logits, 2)
    if not isinstance(target, torch.Tensor):
        raise TypeError(f"target must be a torch.Tensor, got {type(target).__name__}")
    if target.dtype.is_floating_point or target.dtype.is_complex or target.dtype == torch.bool:
        raise TypeError(f"target must have an integer dtype, got {target.dtype}")
    M, V = softmax_xent_shapes(logits.shape, target.shape, ignore_index)
    ignore_index = int(ignore_index)
    check_placement("target", target)
    if target.device != logits.device:
        raise ValueError(f"target is on device {target.device}, logits on {logits.device} (must match)")
    if out is not None:
        if not need_grad:
            raise ValueError("out receives dlogits: it needs need_grad=True (got need_grad=False)")
        _check_out(out, logits, "logits")
    target = target.to(torch.int64)
    if value_checks_enabled(on_host=interpreting() and target.device.type == "cpu"):
        bad = (target != ignore_index) & ((target < 0) | (target >= V))
        if bool(bad.any()):
            row = int(torch.argmax(bad.to(torch.int8)))
            raise ValueError(
                f"target[{row}] = {int(target[row])} is not a class index in [0, V={V}) "
                f"nor ignore_index={ignore_index}"
            )
    return M, V, ignore_index, target


def acc_dtype(dtype: torch.dtype) -> torch.dtype:
    """float64 for float64 logits, float32 for the rest (production's accumulation dtype)."""
    return torch.float64 if dtype == torch.float64 else torch.float32


def block_v(V: int) -> int:
    """The vocabulary chunk of one program: up to MAX_BLOCK_V on a GPU, 64 under the interpreter."""
    return min(triton.next_power_of_2(V), 64 if interpreting() else MAX_BLOCK_V)


def warps(block: int) -> int:
    """4 tile elements per thread, 1 to 16 warps (1 under the interpreter)."""
    return 1 if interpreting() else min(16, max(1, block // 128))


def mean_loss(row_loss: torch.Tensor, n_valid: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
    """The mean over valid rows on the device, production's: 0 / 0 = NaN when every row is ignored."""
    return (row_loss.sum(dtype=torch.float64) / n_valid[0]).to(dtype)


def softmax_cross_entropy_forward(
    logits: torch.Tensor, target: torch.Tensor, ignore_index: int = -100, need_grad: bool = True,
    out: torch.Tensor | None = None,
) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Mean cross-entropy of ``logits[M, V]`` against ``target[M]``: ``(loss, dlogits or None)`` as production's,
    in three kernels (``out``: production's, dlogits written there; it may be the logits). Raises TypeError /
    ValueError exactly as ``kernels.triton.softmax_xent``."""
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
    _row_max_kernel[(M,)](logits, row_max, V, ACC_DTYPE=tl_dtype(acc), BLOCK_V=bv, num_warps=warps(bv))
    _row_sumexp_kernel[(M,)](logits, target, row_max, s_other, V, ignore_index, ACC_DTYPE=tl_dtype(acc), BLOCK_V=bv,
                             num_warps=warps(bv))
    _loss_grad_kernel[(M,)](
        logits, target, n_valid, row_max, s_other, dlogits if need_grad else row_loss, row_loss, V, ignore_index,
        ACC_DTYPE=tl_dtype(acc), OUT_DTYPE=tl_dtype(dtype), BLOCK_V=bv, NEED_GRAD=bool(need_grad),
        num_warps=warps(bv),
    )
    return mean_loss(row_loss, n_valid, dtype), dlogits
