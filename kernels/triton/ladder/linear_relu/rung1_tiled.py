"""Rung 1 -- tiles and ``tl.dot``: a program owns a BLOCK_R x BLOCK_C output tile and multiplies operand tiles,
programs numbered row by row, one fixed tile per dtype class. The backward keeps rung 0's mask and db passes.

Math and contract: every rung's (``kernels/triton/linear_relu.py``). The three products are rung 0's three stride
patterns of one GEMM, c[r, c] = sum_i a[r, i] * b[i, c] (y = x @ w.T, dx = g @ w, dw = g.T @ x).

What changes from rung 0 (``rung0_naive.py``: one output per lane, two scalar loads per FMA, nothing reused):
``_tiled_gemm_kernel`` gives each program a [BLOCK_R, BLOCK_C] tile of c and walks the reduction in BLOCK_I steps:
it loads a [BLOCK_R, BLOCK_I] tile of a and a [BLOCK_I, BLOCK_C] tile of b (masked at the edges) and
``tl.dot``s them into a register accumulator (float32; float64 for float64). Each loaded element now feeds BLOCK_C
(or BLOCK_R) multiply-adds instead of one: for 128 x 64 tiles, operand traffic per FMA drops ~85x. Tiles are
numbered row-major (``_grouped_tile`` with GROUP_M = 1: tile-row pid // tiles_per_row), so consecutive programs
share an a panel but each reads a different b panel. The epilogue (bias, ReLU) stays fused; the backward is rung
0's: the mask pass writes g, the two GEMMs read it, a column-sum kernel makes db.

Where the tensor cores come in: ``tl.dot`` *is* the tensor-core step of the issue's ladder. Triton lowers a
float16 / bfloat16 ``tl.dot`` to wgmma on sm_90 (HGMMA in the SASS, warpgroup MMA from shared memory, which the
compiler stages the operand tiles through) and to mma.sync on sm_80 (HMMA); the AOT report checks for those
instructions in every half-precision kernel. There is no separate "use tensor cores" rung in Triton: the choice is
the dot's operand dtype and ``input_precision``. float32 with ``input_precision="ieee"`` (this project's default,
``ALLOW_TF32 = False``: results within ~1e-6 of float64) stays on the FMA units -- FP32 peak, ~67 TFLOP/s on an
H100/H200; with "tf32" it would go to the tensor cores as TF32 (~495 TFLOP/s dense, ~1e-3 relative error); float64
goes to the FP64 units (DMMA on sm_80+). This rung passes production's ``_precision`` choices unchanged.

Fixed tiles (BLOCK_R, BLOCK_C, BLOCK_I, warps, stages), one per operand class (``_FIXED``): half 128 x 64 x 32 with
4 warps (one warpgroup: the smallest wgmma-eligible shape that still reuses each operand 64-128 times), float32 64 x
32 x 32 / 4 warps and float64 32 x 32 x 32 / 2 warps (production's spill-free FMA tiles). No autotuning: rung 4.

Bytes and FLOPs, the running example (x[4096, 4096] @ w[4096, 4096].T, bfloat16, H200): forward 137 GFLOP;
operand traffic into the SMs |x| * (N / BLOCK_C) + |w| * (M / BLOCK_R) = 33.6 MB x 64 + 33.6 MB x 32 = 3.2 GB from
L2 (w's 33.6 MB fits the 50 MB L2; x's panels are re-read by the 64 tile-columns, in row-major order mostly from
DRAM); backward: the same per GEMM plus |g| written once and read three times (134 MB).

Prediction, written before any measurement (the running example, H200): forward 0.35-0.6 ms, 230-400 TFLOP/s,
25-40% of the dense bf16 peak and 0.35-0.6x cuBLAS (addmm + relu): the tensor cores are fed, but the row-major order
streams x from DRAM once per tile-column wave and the 4-warp tile with 3 stages leaves wgmma waiting on loads. ~1000x
rung 0. float32 (FMA units): 25-45 TFLOP/s, 3-5.5 ms. Backward 0.9-1.5 ms (2x the FLOPs, plus the mask pass's
~70 us and the column sum). Unverified: no GPU has run this rung.

Measured: not yet (no GPU). Compiled ahead of time for sm_90 (launchers "rung1_tiled: ..."): ``_tiled_gemm_kernel``
uses HGMMA for float16 / bfloat16, 96-102 registers (triton 3.9; 96 under 3.6), float32 58-112 (3.6: 60-96),
float64 80-128 (3.6: 109-148); no spills.
"""

from __future__ import annotations

import torch
import triton
import triton.language as tl

from ..._common import interpreting
from ...linear_relu import _checked_forward, _grouped_tile, _precision
from ._rung_common import forward_output
from .rung0_naive import _backward as _unfused_backward

__all__ = ["linear_forward", "linear_backward"]

#: One tile per operand class (BLOCK_R, BLOCK_C, BLOCK_I, warps, stages); the interpreter's is 16 x 16 x 16.
_FIXED = {"half": (128, 64, 32, 4, 3), "float32": (64, 32, 32, 4, 3), "float64": (32, 32, 32, 2, 2)}
_INTERPRETER_TILE = (16, 16, 16, 1, 1)


def _tile(dtype: torch.dtype) -> dict:
    """The launch's fixed tile and warps/stages for ``dtype`` (production's ALLOW_TF32 is off: float32 is FMA)."""
    if interpreting():
        shape = _INTERPRETER_TILE
    else:
        shape = _FIXED["float64" if dtype == torch.float64 else "float32" if dtype == torch.float32 else "half"]
    bm, bn, bk, warps, stages = shape
    return dict(BLOCK_R=bm, BLOCK_C=bn, BLOCK_I=bk, num_warps=warps, num_stages=stages)


@triton.jit
def _tiled_gemm_kernel(
    a_ptr, b_ptr, bias_ptr, c_ptr, rows, cols, red, a_row, a_red, b_red, b_col,
    HAS_BIAS: tl.constexpr, RELU: tl.constexpr, ACC_DTYPE: tl.constexpr, INPUT_PRECISION: tl.constexpr,
    DOT_DTYPE: tl.constexpr,
    BLOCK_R: tl.constexpr, BLOCK_C: tl.constexpr, BLOCK_I: tl.constexpr, GROUP_M: tl.constexpr,
):
    # c[rows, cols] = a @ b (+ bias[c], ReLU), a[r, i] at r*a_row + i*a_red, b[i, c] at i*b_red + c*b_col; one
    # [BLOCK_R, BLOCK_C] tile per program; GROUP_M = 1 numbers the tiles row by row (rung 3 groups them)
    pid_r, pid_c = _grouped_tile(tl.program_id(0), rows, cols, BLOCK_R, BLOCK_C, GROUP_M)
    offs_r = pid_r * BLOCK_R + tl.arange(0, BLOCK_R)
    offs_c = pid_c * BLOCK_C + tl.arange(0, BLOCK_C)
    offs_i = tl.arange(0, BLOCK_I)
    mask_r = offs_r < rows
    mask_c = offs_c < cols
    a_rows = a_ptr + offs_r.to(tl.int64) * a_row  # 64-bit bases, once per program
    b_cols = b_ptr + offs_c.to(tl.int64) * b_col
    acc = tl.zeros((BLOCK_R, BLOCK_C), dtype=ACC_DTYPE)
    for i0 in range(0, red, BLOCK_I):
        ii = (i0 + offs_i).to(tl.int64)  # reduction offsets: i * a_red can pass 2**31 (dw: m * N)
        mask_i = offs_i < red - i0
        a = tl.load(a_rows[:, None] + (ii * a_red)[None, :], mask=mask_r[:, None] & mask_i[None, :], other=0.0)
        b = tl.load(b_cols[None, :] + (ii * b_red)[:, None], mask=mask_i[:, None] & mask_c[None, :], other=0.0)
        acc = tl.dot(a.to(DOT_DTYPE), b.to(DOT_DTYPE), acc, input_precision=INPUT_PRECISION, out_dtype=ACC_DTYPE)
    if HAS_BIAS:
        acc += tl.load(bias_ptr + offs_c, mask=mask_c, other=0.0).to(ACC_DTYPE)[None, :]
    if RELU:
        acc = tl.where(acc < 0, 0.0, acc)  # not tl.maximum: a NaN stays NaN
    c_rows = c_ptr + offs_r.to(tl.int64) * cols
    tl.store(c_rows[:, None] + offs_c[None, :], acc.to(c_ptr.dtype.element_ty), mask=mask_r[:, None] & mask_c[None, :])


def _launch(dtype: torch.dtype, rows: int, cols: int, group_m: int) -> tuple[tuple[int], dict]:
    """``(grid, constexprs)`` of a fixed-tile GEMM with a ``rows x cols`` output (this rung's and rung 2's): one
    program per tile of :func:`_tile`, production's precision choices for ``dtype``, tiles in GROUP_M order."""
    tile = _tile(dtype)
    grid = (triton.cdiv(rows, tile["BLOCK_R"]) * triton.cdiv(cols, tile["BLOCK_C"]),)
    precision = _precision(dtype)
    return grid, dict(ACC_DTYPE=precision["ACC_DTYPE"], INPUT_PRECISION=precision["INPUT_PRECISION"],
                      DOT_DTYPE=precision["DOT_DTYPE"], GROUP_M=group_m, **tile)


def _gemm(a, b, bias, c, rows, cols, red, a_row, a_red, b_red, b_col, relu=False, group_m=1) -> None:
    grid, meta = _launch(c.dtype, rows, cols, group_m)
    _tiled_gemm_kernel[grid](
        a, b, bias if bias is not None else a, c, rows, cols, red, a_row, a_red, b_red, b_col,
        HAS_BIAS=bias is not None, RELU=bool(relu), **meta)


def _forward(x, w, b, relu, group_m: int) -> torch.Tensor:
    """y on production-checked arguments, by ``_tiled_gemm_kernel`` with tiles in GROUP_M order (1: row-major)."""
    M, N, K = _checked_forward(x, w, b)
    y, done = forward_output(x, b, relu, M, N, K)  # done: empty, or K == 0 (y = b or 0, then ReLU)
    if done:
        return y
    _gemm(x, w, b, y, M, N, K, K, 1, 1, K, relu, group_m)  # a = x, b = w.T (rung 0's strides)
    return y


def linear_forward(x: torch.Tensor, w: torch.Tensor, b: torch.Tensor | None, relu: bool) -> torch.Tensor:
    """``y[M, N] = x[M, K] @ w[N, K].T + b[N]``, then ReLU if ``relu``: tiled ``tl.dot``, row-major tiles.

    Raises TypeError / ValueError exactly as ``kernels.triton.linear_relu.linear_forward``.
    """
    return _forward(x, w, b, relu, group_m=1)


def linear_backward(
    dy: torch.Tensor, x: torch.Tensor, w: torch.Tensor, y: torch.Tensor | None, relu: bool
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """``(dx, dw, db)``: rung 0's backward -- its mask pass, two GEMMs on g (here the tiled one), its column sum.

    Raises TypeError / ValueError exactly as ``kernels.triton.linear_relu.linear_backward``.
    """
    return _unfused_backward(dy, x, w, y, relu, _gemm, mask_block=1024)
