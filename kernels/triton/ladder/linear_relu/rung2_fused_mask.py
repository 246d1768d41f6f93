"""Rung 2 -- the ReLU mask applied inside the backward GEMMs, and db fused into the dw GEMM: no g temporary, no mask
pass, no column-sum pass.

Math and contract: every rung's (``kernels/triton/linear_relu.py``); g = where(y <= 0, 0, dy), dx = g @ w,
dw = g.T @ x, db = g.sum(0).

What changes from rung 1 (``rung1_tiled.py``, whose backward runs rung 0's ``_relu_mask_kernel`` -- |dy| + |y| read,
|g| written -- then two tiled GEMMs that read g, then ``_column_sum_kernel`` reading g a third time): the GEMM
kernel ``_masked_gemm_kernel`` takes dy *and* y as its a operand. Each a tile is loaded twice at the same
addresses, once from dy and once from y, and ``where(y <= 0, 0, dy)`` zeroes it in registers before the
``tl.dot`` (the same select as PyTorch's threshold_backward: a NaN y passes dy, an inf / NaN dy where y <= 0 gives
0). For dw (a = g.T, rows n, reduction m) the masked tile is also summed along the reduction into a [BLOCK_R]
register vector: the programs of tile-column 0 store it as db. Four launches become two; g never exists. The
forward is rung 1's (its bias and ReLU were already in the epilogue).

The price: each GEMM reads y beside dy (twice per backward instead of once in the mask pass), and the masked tile
goes through registers before the MMA, so on sm_90 wgmma takes it as a register operand instead of straight from
shared memory (a few more registers per thread; the AOT report has the counts). Row sums of db are computed by every
tile-column and kept by one: (cols / BLOCK_C - 1) wasted reductions of a tile already in registers, cheap next to the
``tl.dot``.

Bytes, the running example (dy, y, x, w [4096, 4096], bfloat16, H200): rung 1's backward moved the mask pass (|dy|
+ |y| + |g| = 101 MB), the GEMMs' operands (g, w, x through L2) and the column sum (|g| = 34 MB); this rung drops
|g| x 4 = 134 MB of DRAM traffic and two launches, and adds y's reads inside the GEMMs (from L2 after the first
tile-column pass). FLOPs unchanged: 4*M*N*K = 275 GFLOP.

Prediction, written before any measurement (the running example, bfloat16, H200): backward 0.85-1.4 ms, 1.05-1.15x
rung 1's: the removed passes are ~100 us of memory traffic out of ~1 ms of tensor-core work, and the register operand
costs wgmma a little; float32 (FMA-bound, 7-11 ms) within 3% of rung 1. Forward: rung 1's. On a small layer
(DigitsCNN's fc, [32, 256] x [128, 256]) the two saved launches are most of the gain: ~2x on a launch-bound
backward. Unverified: no GPU has run this rung.

Measured: not yet (no GPU). Compiled ahead of time for sm_90 (launcher "rung2_fused_mask: linear_backward"):
``_masked_gemm_kernel`` HGMMA in half precision, 126 (dx) - 171 (dw, with the row sums) registers under triton 3.9,
130-132 under 3.6, against rung 1's 96-102: the y tile, the select and db's running sum; float32 74-96; no spills.
"""

from __future__ import annotations

import torch
import triton
import triton.language as tl

from ...linear_relu import _checked_backward, _grouped_tile
from ._rung_common import gradient_outputs
from .rung1_tiled import _launch, linear_forward

__all__ = ["linear_forward", "linear_backward"]


@triton.jit
def _masked_gemm_kernel(
    dy_ptr, y_ptr, b_ptr, c_ptr, db_ptr, rows, cols, red, a_row, a_red, b_red, b_col,
    RELU: tl.constexpr, ROW_SUMS: tl.constexpr, ACC_DTYPE: tl.constexpr, INPUT_PRECISION: tl.constexpr,
    DOT_DTYPE: tl.constexpr,
    BLOCK_R: tl.constexpr, BLOCK_C: tl.constexpr, BLOCK_I: tl.constexpr, GROUP_M: tl.constexpr,
):
    # c = g @ b with g[r, i] = where(y <= 0, 0, dy) at r*a_row + i*a_red (dy and y share the layout); ROW_SUMS: the
    # programs of tile-column 0 also store sum_i g[r, i] to db_ptr[r] (dw's rows are n: that sum is db)
    pid_r, pid_c = _grouped_tile(tl.program_id(0), rows, cols, BLOCK_R, BLOCK_C, GROUP_M)
    offs_r = pid_r * BLOCK_R + tl.arange(0, BLOCK_R)
    offs_c = pid_c * BLOCK_C + tl.arange(0, BLOCK_C)
    offs_i = tl.arange(0, BLOCK_I)
    mask_r = offs_r < rows
    mask_c = offs_c < cols
    g_rows = offs_r.to(tl.int64) * a_row  # offsets into dy and y (64-bit, once)
    b_cols = b_ptr + offs_c.to(tl.int64) * b_col
    acc = tl.zeros((BLOCK_R, BLOCK_C), dtype=ACC_DTYPE)
    row_sum = tl.zeros((BLOCK_R,), dtype=ACC_DTYPE)
    for i0 in range(0, red, BLOCK_I):
        ii = (i0 + offs_i).to(tl.int64)
        mask_i = offs_i < red - i0
        g_off = g_rows[:, None] + (ii * a_red)[None, :]
        g_mask = mask_r[:, None] & mask_i[None, :]
        g = tl.load(dy_ptr + g_off, mask=g_mask, other=0.0)
        if RELU:
            g = tl.where(tl.load(y_ptr + g_off, mask=g_mask, other=0.0) <= 0, 0.0, g)
        b = tl.load(b_cols[None, :] + (ii * b_red)[:, None], mask=mask_i[:, None] & mask_c[None, :], other=0.0)
        acc = tl.dot(g.to(DOT_DTYPE), b.to(DOT_DTYPE), acc, input_precision=INPUT_PRECISION, out_dtype=ACC_DTYPE)
        if ROW_SUMS:
            row_sum += tl.sum(g.to(ACC_DTYPE), axis=1)
    c_rows = c_ptr + offs_r.to(tl.int64) * cols
    tl.store(c_rows[:, None] + offs_c[None, :], acc.to(c_ptr.dtype.element_ty), mask=mask_r[:, None] & mask_c[None, :])
    if ROW_SUMS:
        if pid_c == 0:
            tl.store(db_ptr + offs_r, row_sum.to(db_ptr.dtype.element_ty), mask=mask_r)


def _masked_gemm(dy, y, b, c, db, rows, cols, red, a_row, a_red, b_red, b_col, relu, group_m) -> None:
    grid, meta = _launch(c.dtype, rows, cols, group_m)  # rung 1's tiles and grid
    _masked_gemm_kernel[grid](
        dy, y, b, c, db if db is not None else c, rows, cols, red, a_row, a_red, b_red, b_col,
        RELU=bool(relu), ROW_SUMS=db is not None, **meta)


def _backward(dy, x, w, y, relu, group_m: int):
    """(dx, dw, db) on production-checked arguments: two masked GEMMs, tiles in GROUP_M order (1: row-major)."""
    M, N, K = _checked_backward(dy, x, w, y, relu)
    dtype = dy.dtype
    (dx, dw, db), done = gradient_outputs(dy, x, M, N, K)  # done: M or N == 0 (zeros)
    if done:
        return dx, dw, db
    if K == 0:  # no GEMM to ride on: db alone (production's fallback)
        g = torch.where(y <= 0, 0, dy) if relu else dy
        return dx, dw, g.sum(0, dtype=torch.float64 if dtype == torch.float64 else torch.float32).to(dtype)
    y_arg = y if relu else dy  # never read when RELU is False
    _masked_gemm(dy, y_arg, w, dx, None, M, K, N, N, 1, K, 1, relu, group_m)  # dx = g @ w
    _masked_gemm(dy, y_arg, x, dw, db, N, K, M, 1, N, K, 1, relu, group_m)  # dw = g.T @ x, db = row sums of g.T
    return dx, dw, db


def linear_backward(
    dy: torch.Tensor, x: torch.Tensor, w: torch.Tensor, y: torch.Tensor | None, relu: bool
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """``(dx, dw, db)`` with the ReLU mask applied on load and db fused into the dw GEMM; row-major tiles.

    Raises TypeError / ValueError exactly as ``kernels.triton.linear_relu.linear_backward``.
    """
    return _backward(dy, x, w, y, relu, group_m=1)
