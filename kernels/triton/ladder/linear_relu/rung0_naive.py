"""Rung 0 -- naive linear + bias + ReLU: one output element per lane, a scalar loop over the reduction, no
``tl.dot``; the backward masks dy in a pass of its own and sums db in another.

The bottom of the linear ladder, the baseline every later rung is measured against. Same math and contract as
``kernels/triton/linear_relu.py``::

    x[M, K], w[N, K], b[N] or None  ->  y[M, N] = x @ w.T + b,   then max(y, 0) if relu
    g = where(y <= 0, 0, dy) if relu else dy
    dx[M, K] = g @ w,   dw[N, K] = g.T @ x,   db[N] = g.sum(0)

What it does (there is no rung below; this is the loop nest written as a kernel):

* one kernel, ``_naive_gemm_kernel``, computes all three products: c[r, c] = sum_i a[r, i] * b[i, c] with
  every operand addressed through (row, reduction) strides, so y = x @ w.T (a = x, b = w read transposed: strides
  (1, K)), dx = g @ w and dw = g.T @ x (a = g read transposed: strides (1, N)) are three stride patterns of the
  same code. A program owns BLOCK consecutive output elements (row-major), one per lane; each lane walks the
  reduction in a scalar ``for i in range(red)`` loop: two scalar loads and one FMA per step, accumulating in
  float32 (float64 for float64). The forward's epilogue adds the bias and applies the ReLU (``where(acc < 0, 0,
  acc)``, NaN kept) on the register before the one store: fusing an epilogue into a per-element kernel is free.
* backward: ``_relu_mask_kernel`` writes g = where(y <= 0, 0, dy) to a temporary [M, N] (PyTorch's
  threshold_backward, a select: an inf / NaN dy where y <= 0 gives 0, a NaN y passes dy), then the GEMM kernel runs
  twice on g (dx, dw), then ``_column_sum_kernel`` sums g's columns into db (one lane per column, a scalar loop
  over M). Four launches, g written once and read three times. Without relu, g is dy itself (no mask pass).

Memory access: the lanes of a warp hold consecutive outputs of one row, so in the forward they load the same x
element (a broadcast) and 32 w elements K apart (32 sectors for 32 useful elements); in dw, a (read transposed
N apart) is a broadcast and b = x is coalesced. Nothing is reused from registers or shared memory: every
multiply-add loads both operands again (from L1/L2 when lucky).

Bytes and FLOPs, the running example (the issue's target: x[4096, 4096] @ w[4096, 4096].T in bfloat16 on an H200,
~4.8 TB/s HBM, 50 MB L2, ~990 TFLOP/s dense bf16 tensor-core peak, ~67 TFLOP/s FP32 FMA): forward 2*M*N*K = 137
GFLOP, compulsory bytes |x| + |w| + |b| + |y| = 4 x 33.6 MB = 101 MB (intensity ~1360 FLOP/byte: compute-bound by
far); backward 275 GFLOP, compulsory |dy| + |y| + |x| + |w| + |dx| + |dw| + |db| = 201 MB. This rung issues 2 load
instructions per FMA: 2*M*N*K = 137 G scalar loads in the forward, mostly L1/L2 hits (x's row is a broadcast, w's
4096 x 8 KB = 33.6 MB fits the L2); the backward adds |g| written and read three times (4 x 33.6 MB).

Prediction, written before any measurement (the running example, H200): forward 0.35-0.7 s, i.e. 0.2-0.4 TFLOP/s:
bound by load instructions through L1/L2 (two scalar loads per FMA, the w loads 32 sectors per warp), far below
the FP32 FMA peak and three orders of magnitude below the tensor cores; bfloat16 barely faster than float32 (the
products are float32 FMAs either way, only the bytes halve). Backward ~2x the forward (twice the FLOPs) plus the
mask and column-sum passes (~0.1 ms each, memory-bound): 0.7-1.4 s. Unverified: no GPU has run this rung.

Measured: not yet (no GPU). Compiled ahead of time for sm_90 (``python -m benchmarks.aot_triton --family
linear_relu``, launchers "rung0_naive: ...", the 4096^3 layer): no spill in any dtype under triton 3.9 or 3.6; the
GEMM kernel 28-34 registers, the mask pass 12-15, the column sum 21-32 (the same under both versions); no tensor-core
instruction, as intended.

Index math: output indices and row / column bases are int64 (a row times a row length can pass 2**31 on large
layers) and the reduction steps the two pointers, so no 32-bit product can overflow. The launchers run production's
argument checks (``_checked_forward`` / ``_checked_backward``: the same TypeError / ValueError naming the argument)
and handle M, N or K == 0 as production does (``_rung_common.py``: the output buffers, shared by the rungs below
production).
"""

from __future__ import annotations

import torch
import triton
import triton.language as tl

from ..._common import interpreting
from ...linear_relu import _checked_backward, _checked_forward
from ._rung_common import forward_output, gradient_outputs

__all__ = ["linear_forward", "linear_backward"]


def _block() -> int:
    # one output per lane; the interpreter pays per program, not per lane
    return 1024 if interpreting() else 256


@triton.jit
def _naive_gemm_kernel(
    a_ptr, b_ptr, bias_ptr, c_ptr, total, cols, red, a_row, a_red, b_red, b_col,
    HAS_BIAS: tl.constexpr, RELU: tl.constexpr, ACC_DTYPE: tl.constexpr, BLOCK: tl.constexpr,
):
    # c[r, c] = sum_i a[r*a_row + i*a_red] * b[i*b_red + c*b_col] (+ bias[c], ReLU): one output per lane,
    # total = rows * cols outputs
    out = tl.program_id(0).to(tl.int64) * BLOCK + tl.arange(0, BLOCK)
    mask = out < total
    r = out // cols
    c = out - r * cols
    a = a_ptr + r * a_row  # 64-bit: r and c are int64
    b = b_ptr + c * b_col
    acc = tl.zeros((BLOCK,), dtype=ACC_DTYPE)
    for _ in range(red):
        acc += tl.load(a, mask=mask, other=0.0).to(ACC_DTYPE) * tl.load(b, mask=mask, other=0.0).to(ACC_DTYPE)
        a += a_red  # pointer steps, never i * stride: no 32-bit product to overflow
        b += b_red
    if HAS_BIAS:
        acc += tl.load(bias_ptr + c, mask=mask, other=0.0).to(ACC_DTYPE)
    if RELU:
        acc = tl.where(acc < 0, 0.0, acc)  # not tl.maximum: a NaN stays NaN
    tl.store(c_ptr + out, acc.to(c_ptr.dtype.element_ty), mask=mask)


@triton.jit
def _relu_mask_kernel(dy_ptr, y_ptr, g_ptr, numel, BLOCK: tl.constexpr):
    # g = where(y <= 0, 0, dy): torch's threshold_backward, a select
    offs = tl.program_id(0).to(tl.int64) * BLOCK + tl.arange(0, BLOCK)
    mask = offs < numel
    dy = tl.load(dy_ptr + offs, mask=mask, other=0.0)
    y = tl.load(y_ptr + offs, mask=mask, other=0.0)
    tl.store(g_ptr + offs, tl.where(y <= 0, 0.0, dy), mask=mask)


@triton.jit
def _column_sum_kernel(g_ptr, db_ptr, M, N, ACC_DTYPE: tl.constexpr, BLOCK: tl.constexpr):
    # db[n] = sum_m g[m, n]: one column per lane, a scalar loop over the rows (lanes read one row coalesced)
    n = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
    mask = n < N
    acc = tl.zeros((BLOCK,), dtype=ACC_DTYPE)
    row = g_ptr + n
    for _ in range(M):
        acc += tl.load(row, mask=mask, other=0.0).to(ACC_DTYPE)
        row += N
    tl.store(db_ptr + n, acc.to(db_ptr.dtype.element_ty), mask=mask)


def _acc(dtype: torch.dtype):
    return tl.float64 if dtype == torch.float64 else tl.float32


def _gemm(a, b, bias, c, rows, cols, red, a_row, a_red, b_red, b_col, relu=False) -> None:
    block = _block()
    _naive_gemm_kernel[(triton.cdiv(rows * cols, block),)](
        a, b, bias if bias is not None else a, c, rows * cols, cols, red, a_row, a_red, b_red, b_col,
        HAS_BIAS=bias is not None, RELU=bool(relu), ACC_DTYPE=_acc(c.dtype), BLOCK=block)


def _backward(dy, x, w, y, relu, gemm, mask_block: int):
    """(dx, dw, db), production's checks, four launches: the mask pass writes g (BLOCK = ``mask_block``; without relu
    g is dy), ``gemm`` runs twice on g (dx, dw: this rung's naive GEMM, or rung 1's tiled one), the column sum makes
    db."""
    M, N, K = _checked_backward(dy, x, w, y, relu)
    (dx, dw, db), done = gradient_outputs(dy, x, M, N, K)  # done: M or N == 0 (zeros)
    if done:
        return dx, dw, db
    g = dy
    if relu:
        g = torch.empty_like(dy)
        _relu_mask_kernel[(triton.cdiv(g.numel(), mask_block),)](dy, y, g, g.numel(), BLOCK=mask_block)
    if K:
        gemm(g, w, None, dx, M, K, N, N, 1, K, 1)  # dx = g @ w: a = g (N, 1), b = w (K, 1)
        gemm(g, x, None, dw, N, K, M, 1, N, K, 1)  # dw = g.T @ x: a = g.T (1, N), b = x (K, 1)
    block = 128 if interpreting() else 256
    _column_sum_kernel[(triton.cdiv(N, block),)](g, db, M, N, ACC_DTYPE=_acc(dy.dtype), BLOCK=block)
    return dx, dw, db


def linear_forward(x: torch.Tensor, w: torch.Tensor, b: torch.Tensor | None, relu: bool) -> torch.Tensor:
    """``y[M, N] = x[M, K] @ w[N, K].T + b[N]``, then ReLU if ``relu``, one output element per lane.

    Raises TypeError / ValueError exactly as ``kernels.triton.linear_relu.linear_forward``.
    """
    M, N, K = _checked_forward(x, w, b)
    y, done = forward_output(x, b, relu, M, N, K)  # done: empty, or K == 0 (y = b or 0, then ReLU)
    if done:
        return y
    # a = x (row stride K, reduction stride 1), b = w.T (reduction stride 1, column stride K)
    _gemm(x, w, b, y, M, N, K, K, 1, 1, K, relu)
    return y


def linear_backward(
    dy: torch.Tensor, x: torch.Tensor, w: torch.Tensor, y: torch.Tensor | None, relu: bool
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """``(dx, dw, db)``: the mask pass, two naive GEMMs and a column sum.

    Raises TypeError / ValueError exactly as ``kernels.triton.linear_relu.linear_backward``.
    """
    return _backward(dy, x, w, y, relu, _gemm, _block())
