"""Fully connected layer with fused bias and ReLU (``relu(x @ w.T + b)``) and its backward, in Triton.

Math (same as ``kernels/numpy/linear_relu.py``)::

    x[M, K], w[N, K], b[N] or None  ->  y[M, N] = x @ w.T + b,   then max(y, 0) if relu
    g = dy, set to 0 where y <= 0 when relu, else dy
    dx[M, K] = g @ w,   dw[N, K] = g.T @ x,   db[N] = g.sum(0)

Names follow the GEMM convention: M rows (batch), K the reduction (input-feature) axis, N output
features.

Work split (the Triton matmul tutorial): every GEMM is tiled into BLOCK_M x BLOCK_N output tiles, one
program per tile, each looping over the reduction axis in BLOCK_K steps and accumulating with
``tl.dot`` into a register tile.  Programs are numbered in groups of GROUP_M tile-rows so that
consecutive programs share the same operand panels and hit L2 instead of DRAM.

- ``_linear_forward_kernel``: y tiles [M, N], reduce over K.  The epilogue adds the bias and applies
  the ReLU on the accumulator, then casts to the output dtype: y is written exactly once.
- ``_linear_backward_input_kernel``: dx tiles [M, K], reduce over N.  The ReLU mask is applied while
  loading each dy tile (a y tile is loaded alongside and ``y <= 0`` zeroes it), so there is no
  separate masking pass and no masked-dy temporary.
- ``_linear_backward_weight_kernel``: dw tiles [N, K], reduce over M, reading dy transposed (a
  strided view of the same buffer, no copy) with the same on-load mask.  db is fused in: the
  programs of the first K tile-column also sum their masked dy tiles over M, so db costs no extra
  read of dy.

Cost: forward 2*M*N*K FLOPs, reads M*K + N*K (+N) elements once per tile pass, writes M*N;
backward 4*M*N*K FLOPs, reads dy and y twice (once per GEMM), writes M*K + N*K + N.

Precision: float32 inputs accumulate in float32 with ``input_precision="ieee"`` (no TF32;
``ALLOW_TF32 = False``) so results stay within ~1e-6 relative of float64; float64 inputs
accumulate in float64; float16/bfloat16 operands go to ``tl.dot`` in their own dtype (tensor cores)
and accumulate in float32, then are cast back.  The price of no-TF32 is that float32 GEMMs run on
FMA units rather than tensor cores on the GPU: set ``ALLOW_TF32 = True`` to trade ~1e-3 relative
error for several times the float32 throughput.

NaN: the ReLU is ``where(acc < 0, 0, acc)``, not ``tl.maximum`` (which returns 0 for a NaN on a GPU),
so a NaN pre-activation stays NaN as in numpy, the CUDA C kernels and PyTorch.  The backward mask is
PyTorch's threshold_backward, ``where(y <= 0, 0, dy)``: NaN <= 0 is false, so a NaN unit passes its
gradient through, and a select (not dy * mask) gives 0, not NaN, for an inf or NaN dy where y <= 0.
(Under the interpreter the comparison is numpy's; on a GPU ``<=`` is an ordered compare, false for NaN,
too -- unverified, no GPU has run this file.)

Layout / limits: 2-D C-contiguous torch tensors of one dtype on the Triton device (CUDA, or the CPU
under ``TRITON_INTERPRET=1``).  Row bases (row * row_length) are 64-bit and computed once per program;
offsets along a row are 32-bit, so tensors past 2**31 elements are addressed correctly.  ``tl.dot``
needs every block dimension >= 16; smaller problems are handled by masking.

Autotuning: tile lists per operand class (``_DTYPE_CONFIGS``: tensor-core half precision, IEEE float32
on FMA units, float64 -- whose large tiles spill or need 192-1280 KB of shared memory on sm_80), each
compiled spill-free for sm_90 and sm_80 by ``benchmarks/aot_triton.py`` in CI.  The key is the feature
sizes plus the row count rounded up to a power of two, never the raw batch size.

Why fast: the standard tiled-GEMM structure (operand reuse in registers/shared memory, grouped
ordering for L2 reuse, autotuned block shapes) with the bias, ReLU and mask fused into the
prologue/epilogue, so no extra elementwise passes over [M, N] are made.

Verification: correctness under the Triton CPU interpreter and ahead-of-time compilation for
sm_90/sm_80 (wgmma / mma.sync checked in the SASS) in CI.  GPU correctness and speed (and float64
``tl.dot`` on a real GPU) are unverified -- no GPU has run this file.
"""

from __future__ import annotations

import torch
import triton
import triton.language as tl

from .._args import check_relu_output, linear_backward_shapes, linear_forward_shapes
from ._common import (
    check_float_tensor,
    check_same_dtype,
    gemm_tile_configs,
    interpreting,
    prune_by_dtype,
    size_bucket,
    tl_dtype,
)

__all__ = ["linear_forward", "linear_backward"]

ALLOW_TF32 = False  # TF32 would cost ~1e-3 relative error; the tests hold float32 to 1e-4


#: Tile shapes (BLOCK_M, BLOCK_N, BLOCK_K, warps, stages) per operand class: each compiles without
#: register spills for that class on sm_90 and sm_80 (benchmarks/aot_triton.py checks it in CI).
_DTYPE_CONFIGS = {
    # tensor cores (wgmma on sm_90: 4+ warps; mma.sync on sm_80).  The tutorial's 128x256x64 tile spills in
    # backward_weight, whose masked dy tile is loaded twice (dy and y for the ReLU mask).
    "half": [(128, 128, 32, 8, 4), (64, 256, 32, 8, 4), (64, 128, 32, 4, 4), (64, 64, 32, 4, 4)],
    # IEEE float32 runs on FMA units: operands and accumulator live in registers; on sm_80 every tile
    # above 64x64 (or 64x64 with 4 warps) spills in backward_input
    "float32": [(64, 64, 32, 8, 3), (64, 32, 32, 4, 3), (32, 64, 32, 2, 3)],
    "float64": [(32, 32, 32, 2, 2)],
}


_INTERPRETER_CONFIG = triton.Config({"BLOCK_M": 16, "BLOCK_N": 16, "BLOCK_K": 16, "GROUP_M": 4}, num_warps=1)
_CONFIGS = gemm_tile_configs(_DTYPE_CONFIGS, _INTERPRETER_CONFIG)
_PRUNE = {"early_config_prune": prune_by_dtype(_DTYPE_CONFIGS, lambda: ALLOW_TF32, ("x_ptr", "dy_ptr"))}


# The autotuner keys on the feature sizes and on the row count rounded up to a power of two, never on
# the raw batch size: a last partial batch or an eval batch reuses the tuned config.
_KEY = ["M_BUCKET", "N", "K"]


@triton.jit
def _grouped_tile(pid, rows, cols, BLOCK_R: tl.constexpr, BLOCK_C: tl.constexpr, GROUP_M: tl.constexpr):
    """Map a linear program id to (tile_row, tile_col), GROUP_M tile-rows at a time (L2 reuse)."""
    num_r = tl.cdiv(rows, BLOCK_R)
    num_c = tl.cdiv(cols, BLOCK_C)
    per_group = GROUP_M * num_c
    group = pid // per_group
    first_r = group * GROUP_M
    group_size = tl.minimum(num_r - first_r, GROUP_M)
    pid_r = first_r + (pid % per_group) % group_size
    pid_c = (pid % per_group) // group_size
    return pid_r, pid_c


@triton.autotune(configs=_CONFIGS, key=_KEY, prune_configs_by=_PRUNE)
@triton.jit
def _linear_forward_kernel(
    x_ptr, w_ptr, b_ptr, y_ptr, M, N, K, M_BUCKET,
    HAS_BIAS: tl.constexpr, RELU: tl.constexpr, ACC_DTYPE: tl.constexpr, OUT_DTYPE: tl.constexpr,
    INPUT_PRECISION: tl.constexpr, DOT_DTYPE: tl.constexpr,
    BLOCK_M: tl.constexpr, BLOCK_N: tl.constexpr, BLOCK_K: tl.constexpr, GROUP_M: tl.constexpr,
):
    pid_m, pid_n = _grouped_tile(tl.program_id(0), M, N, BLOCK_M, BLOCK_N, GROUP_M)
    offs_m = pid_m * BLOCK_M + tl.arange(0, BLOCK_M)
    offs_n = pid_n * BLOCK_N + tl.arange(0, BLOCK_N)
    offs_k = tl.arange(0, BLOCK_K)
    mask_m = offs_m < M
    mask_n = offs_n < N
    # 64-bit row bases (1-D, once); the per-element offsets along K stay 32-bit
    x_rows = x_ptr + offs_m.to(tl.int64) * K
    w_rows = w_ptr + offs_n.to(tl.int64) * K
    acc = tl.zeros((BLOCK_M, BLOCK_N), dtype=ACC_DTYPE)
    for k0 in range(0, K, BLOCK_K):
        mask_k = offs_k < K - k0
        a = tl.load(x_rows[:, None] + (k0 + offs_k)[None, :], mask=mask_m[:, None] & mask_k[None, :], other=0.0)
        # w is [N, K] row-major; reading it as a [BLOCK_K, BLOCK_N] tile is w.T without a copy
        bt = tl.load(w_rows[None, :] + (k0 + offs_k)[:, None], mask=mask_k[:, None] & mask_n[None, :], other=0.0)
        acc = tl.dot(a.to(DOT_DTYPE), bt.to(DOT_DTYPE), acc, input_precision=INPUT_PRECISION, out_dtype=ACC_DTYPE)
    if HAS_BIAS:
        bias = tl.load(b_ptr + offs_n, mask=mask_n, other=0.0)
        acc += bias.to(ACC_DTYPE)[None, :]
    if RELU:
        # not tl.maximum: on a GPU it returns 0 for a NaN input, where numpy, CUDA C and torch keep NaN
        acc = tl.where(acc < 0, 0.0, acc)
    y_rows = y_ptr + offs_m.to(tl.int64) * N
    tl.store(y_rows[:, None] + offs_n[None, :], acc.to(OUT_DTYPE), mask=mask_m[:, None] & mask_n[None, :])


@triton.autotune(configs=_CONFIGS, key=_KEY, prune_configs_by=_PRUNE)
@triton.jit
def _linear_backward_input_kernel(
    dy_ptr, y_ptr, w_ptr, dx_ptr, M, N, K, M_BUCKET,
    RELU: tl.constexpr, ACC_DTYPE: tl.constexpr, OUT_DTYPE: tl.constexpr,
    INPUT_PRECISION: tl.constexpr, DOT_DTYPE: tl.constexpr,
    BLOCK_M: tl.constexpr, BLOCK_N: tl.constexpr, BLOCK_K: tl.constexpr, GROUP_M: tl.constexpr,
):
    # dx[M, K] = g[M, N] @ w[N, K]: output tiles BLOCK_M x BLOCK_K, reduction over N in BLOCK_N steps
    pid_m, pid_k = _grouped_tile(tl.program_id(0), M, K, BLOCK_M, BLOCK_K, GROUP_M)
    offs_m = pid_m * BLOCK_M + tl.arange(0, BLOCK_M)
    offs_k = pid_k * BLOCK_K + tl.arange(0, BLOCK_K)
    offs_n = tl.arange(0, BLOCK_N)
    mask_m = offs_m < M
    mask_k = offs_k < K
    g_row = offs_m.to(tl.int64) * N  # dy and y rows (64-bit, once)
    acc = tl.zeros((BLOCK_M, BLOCK_K), dtype=ACC_DTYPE)
    for n0 in range(0, N, BLOCK_N):
        mask_n = offs_n < N - n0
        g_off = g_row[:, None] + (n0 + offs_n)[None, :]
        g_mask = mask_m[:, None] & mask_n[None, :]
        g = tl.load(dy_ptr + g_off, mask=g_mask, other=0.0)
        if RELU:
            # the ReLU gradient is 0 where y <= 0 (including exact zeros, like torch)
            yv = tl.load(y_ptr + g_off, mask=g_mask, other=0.0)
            g = tl.where(yv <= 0, 0.0, g)
        w_off = (n0 + offs_n).to(tl.int64)[:, None] * K + offs_k[None, :]
        wt = tl.load(w_ptr + w_off, mask=mask_n[:, None] & mask_k[None, :], other=0.0)
        acc = tl.dot(g.to(DOT_DTYPE), wt.to(DOT_DTYPE), acc, input_precision=INPUT_PRECISION, out_dtype=ACC_DTYPE)
    dx_rows = dx_ptr + offs_m.to(tl.int64) * K
    tl.store(dx_rows[:, None] + offs_k[None, :], acc.to(OUT_DTYPE), mask=mask_m[:, None] & mask_k[None, :])


@triton.autotune(configs=_CONFIGS, key=_KEY, prune_configs_by=_PRUNE)
@triton.jit
def _linear_backward_weight_kernel(
    dy_ptr, y_ptr, x_ptr, dw_ptr, db_ptr, M, N, K, M_BUCKET,
    RELU: tl.constexpr, ACC_DTYPE: tl.constexpr, OUT_DTYPE: tl.constexpr,
    INPUT_PRECISION: tl.constexpr, DOT_DTYPE: tl.constexpr,
    BLOCK_M: tl.constexpr, BLOCK_N: tl.constexpr, BLOCK_K: tl.constexpr, GROUP_M: tl.constexpr,
):
    # dw[N, K] = g.T[N, M] @ x[M, K]: output tiles BLOCK_N x BLOCK_K, reduction over M in BLOCK_M steps.
    # GROUP_M groups tile-rows of the output, which here run along N.
    pid_n, pid_k = _grouped_tile(tl.program_id(0), N, K, BLOCK_N, BLOCK_K, GROUP_M)
    offs_n = pid_n * BLOCK_N + tl.arange(0, BLOCK_N)
    offs_k = pid_k * BLOCK_K + tl.arange(0, BLOCK_K)
    offs_m = tl.arange(0, BLOCK_M)
    mask_n = offs_n < N
    mask_k = offs_k < K
    acc = tl.zeros((BLOCK_N, BLOCK_K), dtype=ACC_DTYPE)
    db_acc = tl.zeros((BLOCK_N,), dtype=ACC_DTYPE)
    for m0 in range(0, M, BLOCK_M):
        ms = (m0 + offs_m).to(tl.int64)
        mask_m = offs_m < M - m0
        gt_off = ms[None, :] * N + offs_n[:, None]  # dy read transposed: a [BLOCK_N, BLOCK_M] tile
        gt_mask = mask_n[:, None] & mask_m[None, :]
        gt = tl.load(dy_ptr + gt_off, mask=gt_mask, other=0.0)
        if RELU:
            yv = tl.load(y_ptr + gt_off, mask=gt_mask, other=0.0)
            gt = tl.where(yv <= 0, 0.0, gt)
        xt = tl.load(x_ptr + ms[:, None] * K + offs_k[None, :], mask=mask_m[:, None] & mask_k[None, :], other=0.0)
        acc = tl.dot(gt.to(DOT_DTYPE), xt.to(DOT_DTYPE), acc, input_precision=INPUT_PRECISION, out_dtype=ACC_DTYPE)
        # db rides along on the tile already in registers; only the pid_k == 0 column stores it
        db_acc += tl.sum(gt.to(ACC_DTYPE), axis=1)
    dw_rows = dw_ptr + offs_n.to(tl.int64) * K
    tl.store(dw_rows[:, None] + offs_k[None, :], acc.to(OUT_DTYPE), mask=mask_n[:, None] & mask_k[None, :])
    if pid_k == 0:
        tl.store(db_ptr + offs_n, db_acc.to(OUT_DTYPE), mask=mask_n)


def _precision(dtype: torch.dtype) -> dict[str, object]:
    """The dtype/precision constexprs for a torch float dtype: accumulator, output, tl.dot operands."""
    acc = tl.float64 if dtype == torch.float64 else tl.float32
    # tl.dot takes half-precision operands natively (tensor cores); only the CPU interpreter, which
    # has no bfloat16 matmul (it returns garbage), gets bfloat16 operands upcast to float32
    dot = tl.float32 if (dtype == torch.bfloat16 and interpreting()) else tl_dtype(dtype)
    precision = "tf32" if (ALLOW_TF32 and dtype == torch.float32) else "ieee"
    return dict(ACC_DTYPE=acc, OUT_DTYPE=tl_dtype(dtype), INPUT_PRECISION=precision, DOT_DTYPE=dot)


def linear_forward(x: torch.Tensor, w: torch.Tensor, b: torch.Tensor | None, relu: bool) -> torch.Tensor:
    """``y[M, N] = x[M, K] @ w[N, K].T + b[N]``, then ReLU if ``relu``; y has x's dtype.

    Raises TypeError for non-tensor / non-float / mixed-dtype inputs and ValueError for wrong ndim,
    non-contiguous or wrong-device tensors, or mismatched K / N between x, w and b.
    """
    check_float_tensor("x", x, 2)
    check_float_tensor("w", w, 2)
    if b is not None:
        check_float_tensor("b", b, 1)
    dtype = check_same_dtype(x=x, w=w, b=b)
    M, N, K = linear_forward_shapes(x.shape, w.shape, None if b is None else b.shape)

    y = torch.empty((M, N), dtype=dtype, device=x.device)
    if y.numel() == 0:
        return y
    if K == 0:  # empty reduction: y = b (or 0), then ReLU
        y.zero_()
        if b is not None:
            y += b
        return y.clamp_(min=0) if relu else y

    def grid(meta):
        return (triton.cdiv(M, meta["BLOCK_M"]) * triton.cdiv(N, meta["BLOCK_N"]),)

    _linear_forward_kernel[grid](
        x, w, b if b is not None else x, y, M, N, K, size_bucket(M),
        HAS_BIAS=b is not None, RELU=bool(relu), **_precision(dtype),
    )
    return y


def linear_backward(
    dy: torch.Tensor, x: torch.Tensor, w: torch.Tensor, y: torch.Tensor | None, relu: bool
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Gradients ``(dx[M, K], dw[N, K], db[N])`` of :func:`linear_forward` for upstream ``dy[M, N]``.

    ``y`` is the forward output (required when ``relu``; ``y <= 0`` zeroes dy inside both GEMMs).
    db is always returned.  Raises TypeError / ValueError like :func:`linear_forward`, and
    ValueError when dy or y is not [M, N] or y is missing with ``relu``.
    """
    check_float_tensor("dy", dy, 2)
    check_float_tensor("x", x, 2)
    check_float_tensor("w", w, 2)
    check_relu_output(y, relu)
    if relu:
        check_float_tensor("y", y, 2)
    dtype = check_same_dtype(dy=dy, x=x, w=w, y=y if relu else None)
    M, N, K = linear_backward_shapes(dy.shape, x.shape, w.shape, y.shape if relu else None)

    dx = torch.empty((M, K), dtype=dtype, device=x.device)
    dw = torch.empty((N, K), dtype=dtype, device=x.device)
    db = torch.empty((N,), dtype=dtype, device=x.device)
    if M == 0 or N == 0:  # empty reduction for dx / dw / db
        return dx.zero_(), dw.zero_(), db.zero_()
    y_arg = y if relu else dy  # never read when RELU is False
    flags = dict(RELU=bool(relu), **_precision(dtype))

    if K == 0:  # degenerate layer with no input features: only db is non-empty
        g = torch.where(y <= 0, 0, dy) if relu else dy
        return dx, dw, g.sum(0, dtype=torch.float64 if dtype == torch.float64 else torch.float32).to(dtype)

    def grid_dx(meta):
        return (triton.cdiv(M, meta["BLOCK_M"]) * triton.cdiv(K, meta["BLOCK_K"]),)

    _linear_backward_input_kernel[grid_dx](dy, y_arg, w, dx, M, N, K, size_bucket(M), **flags)

    def grid_dw(meta):
        return (triton.cdiv(N, meta["BLOCK_N"]) * triton.cdiv(K, meta["BLOCK_K"]),)

    _linear_backward_weight_kernel[grid_dw](dy, y_arg, x, dw, db, M, N, K, size_bucket(M), **flags)
    return dx, dw, db
