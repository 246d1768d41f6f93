"""Fully connected layer with fused bias and ReLU (``relu(x @ w.T + b)``) and its backward, in Triton.

Math (same as ``kernels/numpy/linear_relu.py``)::

    x[M, K], w[N, K], b[N] or None  ->  y[M, N] = x @ w.T + b,   then max(y, 0) if relu
    g = dy, set to 0 where y <= 0 when relu, else dy
    dx[M, K] = g @ w,   dw[N, K] = g.T @ x,   db[N] = g.sum(0)

Names follow the GEMM convention: M rows (batch), K the reduction (input-feature) axis, N output
features.

This file is the top rung of the linear ladder (``kernels/triton/ladder/linear_relu/``, map in
docs/ladder/linear_relu.md).  Each of the three GEMMs (y, dx, dw) picks one of three paths, from the shape,
dtype and device alone -- no host sync, no device value read:

1. **split-K** (any dtype, any GPU; ladder rung 6) when the product has few output tiles and a long reduction
   (:func:`_split_plan`: fewer than ``SPLIT_TARGET_PROGRAMS`` tiles of 128 x 128 and a reduction of at least
   2 x ``SPLIT_MIN_LEN``): a 1024-feature head at batch 32 (y: 8 tiles over K = 8192), dx of a layer with few
   inputs, dw of a small layer over a large batch (dw's reduction is the batch).  Grid axis 1 cuts the
   reduction into up to ``SPLIT_MAX`` splits, a multiple of 256 long; each writes its float32 (float64)
   partial tile to a [splits, rows, cols] workspace and ``_sum_splits_kernel`` adds them in split order 0, 1,
   2, ..., then applies the bias and ReLU (forward) and casts: deterministic, never atomics.
2. **persistent + TMA** (float16 / bfloat16 on sm_90 / sm_100, rows 16-byte aligned; rung 5): the operands are read by
   tensor descriptors (``TensorDescriptor``: the Tensor Memory Accelerator copies each tile into shared memory
   in wgmma's swizzled layout, zero-filling past the edges, with no address or mask registers), and
   ``PROGRAMS_PER_SM`` x SMs programs walk the output tiles in grouped order.
3. **tiled** (everything else: float32, float64, sm_80, unaligned rows; rungs 1-4), described below.

Tiled work split (the Triton matmul tutorial): every GEMM is tiled into BLOCK_M x BLOCK_N output tiles, one
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

Dropout in the epilogue (the dropout family's ``linear_relu_dropout_forward``, ``kernels/triton/dropout.py``; the
dropout ladder's rung 3): the forward kernels and ``_sum_splits_kernel`` take ``DROPOUT: tl.constexpr`` and (p, scale,
seed, offset); with it the epilogue keeps relu(acc + b) * scale where dropout's uniform for the output's flat counter
offset + m * N + n is > p (``_dropout_epilogue``: one Philox call per element), else 0.  The backward kernels take
``SCALED: tl.constexpr`` and a ``scale`` that then multiplies each accumulator before its store: 1 / (1 - p) for
``linear_relu_dropout_backward`` (g = where(y <= 0, 0, dy * scale) is dy masked then scaled, and the GEMMs are linear);
``linear_backward`` compiles without it.  The tiled dropout launches (forward, and backward with SCALED) run under
autotuners of their own with tile lists that compile spill-free that way (``_linear_*_dropout_kernel``).

The same three kernels run the split-K path (``SPLIT=True``: grid axis 1 is the split, the output is the
workspace), under their own autotuners (``_SPLIT_*``: smaller tiles, a cache apart from the whole-reduction
launches).  The TMA kernels (``_linear_*_tma_kernel``) are the same three GEMMs with descriptor loads, the
mask and db fused the same way, and a persistent tile loop.

Cost: forward 2*M*N*K FLOPs, reads M*K + N*K (+N) elements once per tile pass, writes M*N;
backward 4*M*N*K FLOPs, reads dy and y twice (once per GEMM), writes M*K + N*K + N.  Split-K adds
splits * rows * cols accumulator elements written and read once (at most ~2 * SPLIT_TARGET_PROGRAMS
tiles of 128 x 128 in float32: < 20 MB), and a launch.

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
offsets along a row are 32-bit, so tensors past 2**31 elements are addressed correctly (TMA coordinates are
32-bit: rows < 2**31).  ``tl.dot`` needs every block dimension >= 16; smaller problems are handled by masking
(TMA: by the descriptor's zero fill).  TMA needs 16-byte aligned bases and row pitches: K (and, for the
backward GEMMs, N) a multiple of 8 in float16 / bfloat16; other shapes take the tiled path.

Autotuning: tile lists per operand class (``_DTYPE_CONFIGS``: tensor-core half precision, IEEE float32
on FMA units, float64 -- whose large tiles spill or need 192-1280 KB of shared memory on sm_80), each
compiled spill-free for sm_90 and sm_80 by ``benchmarks/aot_triton.py`` in CI (the TMA kernels for sm_90,
their only target).  The key is the feature sizes plus the row count rounded up to a power of two, never
the raw batch size.  Which config wins (and so the summation order) can differ between runs and machines;
for one config every path is deterministic.

Why fast: the standard tiled-GEMM structure (operand reuse in registers/shared memory, grouped
ordering for L2 reuse, autotuned block shapes) with the bias, ReLU and mask fused into the
prologue/epilogue, so no extra elementwise passes over [M, N] are made; on Hopper, TMA loads and a
persistent grid; on skinny shapes, split-K so the reduction, not the few output tiles, fills the GPU.

Verification: correctness under the Triton CPU interpreter (which emulates tensor descriptors) and
ahead-of-time compilation for sm_90/sm_80 (wgmma / mma.sync checked in the SASS; UTMALDG for the TMA kernels)
in CI.  GPU correctness and speed (and float64 ``tl.dot`` on a real GPU) are unverified -- no GPU has run
this file.
"""

from __future__ import annotations

import functools

import torch
import triton
import triton.language as tl

try:  # host-side tensor descriptors (Triton >= 3.4); without them the half-precision GEMMs stay tiled
    from triton.tools.tensor_descriptor import TensorDescriptor
except ImportError:  # pragma: no cover
    TensorDescriptor = None

from .._args import check_relu_output, linear_backward_shapes, linear_forward_shapes
from ._common import (
    autotune_configs,
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

#: The Hopper kernels (TMA operand tiles, persistent grid) for float16 / bfloat16 on sm_90 / sm_100; False: the tiled
#: kernels everywhere (as ladder rung 4, plus split-K).
USE_TMA = True


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

#: Split-K launches tile the few output tiles they have small (more programs per split). The SPLIT specialisation
#: holds a few more registers than the whole-reduction one (the split's bounds), so its float32 / float64 tiles
#: have more warps: the whole-reduction lists' 64x32 / 4 warps and 32x64 / 2 warps spill 8-24 B here (sm_90,
#: triton 3.6 and 3.9), 32x32 float64 with 2 warps 12 B.
_SPLIT_DTYPE_CONFIGS = {
    "half": [(64, 64, 32, 4, 4), (64, 128, 32, 4, 4)],
    "float32": [(64, 64, 32, 8, 3), (32, 32, 32, 4, 3)],
    "float64": [(32, 32, 32, 4, 2)],
}
_SPLIT_CONFIGS = gemm_tile_configs(_SPLIT_DTYPE_CONFIGS, _INTERPRETER_CONFIG)
_SPLIT_PRUNE = {"early_config_prune": prune_by_dtype(_SPLIT_DTYPE_CONFIGS, lambda: ALLOW_TF32, ("x_ptr", "dy_ptr"))}


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


@triton.jit
def _dropout_epilogue(acc, offs_m, offs_n, N, p, scale, seed, offset):
    """Dropout of a [BLOCK_M, BLOCK_N] output tile (the contract of ``kernels/numpy/dropout.py``, flat mapping over
    y[M, N]): element (m, n) draws counter c = offset + m * N + n (int64: hi32 of the group reaches Philox, as in
    numpy) and keeps ``acc * scale`` iff word c & 3 of ``tl.randint4x(seed, c >> 2)``, as a uniform, is > p; else +0.0
    (a select: a dropped NaN / inf is 0).  One Philox call per element, in the accumulator's own layout (no layout
    conversion); rows / columns past the edges draw counters nobody stores."""
    c = offset + offs_m.to(tl.int64)[:, None] * N + offs_n[None, :]
    w0, w1, w2, w3 = tl.randint4x(seed, c >> 2)
    lane = c & 3
    u = tl.random.uint_to_uniform_float(tl.where(lane == 0, w0, tl.where(lane == 1, w1, tl.where(lane == 2, w2, w3))))
    return tl.where(u > p, acc * scale, 0.0)


@triton.autotune(configs=_CONFIGS, key=_KEY, prune_configs_by=_PRUNE)
@triton.jit
def _linear_forward_kernel(
    x_ptr, w_ptr, b_ptr, y_ptr, M, N, K, M_BUCKET, SPLIT_LEN, p, scale, seed, offset,
    HAS_BIAS: tl.constexpr, RELU: tl.constexpr, DROPOUT: tl.constexpr, ACC_DTYPE: tl.constexpr, OUT_DTYPE: tl.constexpr,
    INPUT_PRECISION: tl.constexpr, DOT_DTYPE: tl.constexpr, SPLIT: tl.constexpr,
    BLOCK_M: tl.constexpr, BLOCK_N: tl.constexpr, BLOCK_K: tl.constexpr, GROUP_M: tl.constexpr,
):
    # SPLIT: program (tile, s) reduces K in [s * SPLIT_LEN, (s + 1) * SPLIT_LEN) and y_ptr is the [splits, M, N]
    # accumulator-dtype workspace (bias, ReLU and dropout wait for _sum_splits_kernel); else the whole of K, into y.
    # DROPOUT (with RELU): the epilogue then applies dropout (p, scale, seed, offset: _dropout_epilogue).
    pid_m, pid_n = _grouped_tile(tl.program_id(0), M, N, BLOCK_M, BLOCK_N, GROUP_M)
    offs_m = pid_m * BLOCK_M + tl.arange(0, BLOCK_M)
    offs_n = pid_n * BLOCK_N + tl.arange(0, BLOCK_N)
    offs_k = tl.arange(0, BLOCK_K)
    mask_m = offs_m < M
    mask_n = offs_n < N
    k_start = 0
    k_end = K
    if SPLIT:
        k_start = tl.program_id(1) * SPLIT_LEN
        k_end = tl.minimum(K, k_start + SPLIT_LEN)
    # 64-bit row bases (1-D, once); the per-element offsets along K stay 32-bit
    x_rows = x_ptr + offs_m.to(tl.int64) * K
    w_rows = w_ptr + offs_n.to(tl.int64) * K
    acc = tl.zeros((BLOCK_M, BLOCK_N), dtype=ACC_DTYPE)
    for k0 in range(k_start, k_end, BLOCK_K):
        mask_k = offs_k < k_end - k0
        a = tl.load(x_rows[:, None] + (k0 + offs_k)[None, :], mask=mask_m[:, None] & mask_k[None, :], other=0.0)
        # w is [N, K] row-major; reading it as a [BLOCK_K, BLOCK_N] tile is w.T without a copy
        bt = tl.load(w_rows[None, :] + (k0 + offs_k)[:, None], mask=mask_k[:, None] & mask_n[None, :], other=0.0)
        acc = tl.dot(a.to(DOT_DTYPE), bt.to(DOT_DTYPE), acc, input_precision=INPUT_PRECISION, out_dtype=ACC_DTYPE)
    if SPLIT:
        y_ptr += tl.program_id(1).to(tl.int64) * M * N
    else:
        if HAS_BIAS:
            bias = tl.load(b_ptr + offs_n, mask=mask_n, other=0.0)
            acc += bias.to(ACC_DTYPE)[None, :]
        if RELU:
            # not tl.maximum: on a GPU it returns 0 for a NaN input, where numpy, CUDA C and torch keep NaN
            acc = tl.where(acc < 0, 0.0, acc)
        if DROPOUT:
            acc = _dropout_epilogue(acc, offs_m, offs_n, N, p, scale, seed, offset)
    y_rows = y_ptr + offs_m.to(tl.int64) * N
    tl.store(y_rows[:, None] + offs_n[None, :], acc.to(OUT_DTYPE), mask=mask_m[:, None] & mask_n[None, :])


@triton.autotune(configs=_CONFIGS, key=_KEY, prune_configs_by=_PRUNE)
@triton.jit
def _linear_backward_input_kernel(
    dy_ptr, y_ptr, w_ptr, dx_ptr, M, N, K, M_BUCKET, SPLIT_LEN, scale,
    RELU: tl.constexpr, SCALED: tl.constexpr, ACC_DTYPE: tl.constexpr, OUT_DTYPE: tl.constexpr,
    INPUT_PRECISION: tl.constexpr, DOT_DTYPE: tl.constexpr, SPLIT: tl.constexpr,
    BLOCK_M: tl.constexpr, BLOCK_N: tl.constexpr, BLOCK_K: tl.constexpr, GROUP_M: tl.constexpr,
):
    # dx[M, K] = g[M, N] @ w[N, K]: output tiles BLOCK_M x BLOCK_K, reduction over N in BLOCK_N steps
    # (SPLIT: over one split of N, into the [splits, M, K] workspace dx_ptr).  SCALED: the result is multiplied by
    # ``scale`` (dropout's 1 / (1 - p) after a fused dropout: the GEMM is linear in g, so scaling the [M, K] tile once
    # is scaling every g element, one multiply per output instead of per input).  A constexpr, not a multiply by 1.0
    # for linear_backward: the extra scalar alone made sm_80's float32 32 x 64 / 2-warp dw tile spill 16 B.
    pid_m, pid_k = _grouped_tile(tl.program_id(0), M, K, BLOCK_M, BLOCK_K, GROUP_M)
    offs_m = pid_m * BLOCK_M + tl.arange(0, BLOCK_M)
    offs_k = pid_k * BLOCK_K + tl.arange(0, BLOCK_K)
    offs_n = tl.arange(0, BLOCK_N)
    mask_m = offs_m < M
    mask_k = offs_k < K
    n_start = 0
    n_end = N
    if SPLIT:
        n_start = tl.program_id(1) * SPLIT_LEN
        n_end = tl.minimum(N, n_start + SPLIT_LEN)
    g_row = offs_m.to(tl.int64) * N  # dy and y rows (64-bit, once)
    acc = tl.zeros((BLOCK_M, BLOCK_K), dtype=ACC_DTYPE)
    for n0 in range(n_start, n_end, BLOCK_N):
        mask_n = offs_n < n_end - n0
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
    if SCALED:
        acc = acc * scale
    if SPLIT:
        dx_ptr += tl.program_id(1).to(tl.int64) * M * K
    dx_rows = dx_ptr + offs_m.to(tl.int64) * K
    tl.store(dx_rows[:, None] + offs_k[None, :], acc.to(OUT_DTYPE), mask=mask_m[:, None] & mask_k[None, :])


@triton.autotune(configs=_CONFIGS, key=_KEY, prune_configs_by=_PRUNE)
@triton.jit
def _linear_backward_weight_kernel(
    dy_ptr, y_ptr, x_ptr, dw_ptr, db_ptr, M, N, K, M_BUCKET, SPLIT_LEN, scale,
    RELU: tl.constexpr, SCALED: tl.constexpr, ACC_DTYPE: tl.constexpr, OUT_DTYPE: tl.constexpr,
    INPUT_PRECISION: tl.constexpr, DOT_DTYPE: tl.constexpr, SPLIT: tl.constexpr,
    BLOCK_M: tl.constexpr, BLOCK_N: tl.constexpr, BLOCK_K: tl.constexpr, GROUP_M: tl.constexpr,
):
    # dw[N, K] = g.T[N, M] @ x[M, K]: output tiles BLOCK_N x BLOCK_K, reduction over M in BLOCK_M steps.
    # GROUP_M groups tile-rows of the output, which here run along N.  SPLIT: over one split of M, into the
    # [splits, N, K] workspace dw_ptr, db's partial into the [splits, N] workspace db_ptr.  SCALED: dw and db are
    # multiplied by ``scale`` as dx is in _linear_backward_input_kernel.
    pid_n, pid_k = _grouped_tile(tl.program_id(0), N, K, BLOCK_N, BLOCK_K, GROUP_M)
    offs_n = pid_n * BLOCK_N + tl.arange(0, BLOCK_N)
    offs_k = pid_k * BLOCK_K + tl.arange(0, BLOCK_K)
    offs_m = tl.arange(0, BLOCK_M)
    mask_n = offs_n < N
    mask_k = offs_k < K
    m_start = 0
    m_end = M
    if SPLIT:
        m_start = tl.program_id(1) * SPLIT_LEN
        m_end = tl.minimum(M, m_start + SPLIT_LEN)
    acc = tl.zeros((BLOCK_N, BLOCK_K), dtype=ACC_DTYPE)
    db_acc = tl.zeros((BLOCK_N,), dtype=ACC_DTYPE)
    for m0 in range(m_start, m_end, BLOCK_M):
        ms = (m0 + offs_m).to(tl.int64)
        mask_m = offs_m < m_end - m0
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
    if SCALED:
        acc = acc * scale
        db_acc = db_acc * scale
    if SPLIT:
        dw_ptr += tl.program_id(1).to(tl.int64) * N * K
        db_ptr += tl.program_id(1).to(tl.int64) * N
    dw_rows = dw_ptr + offs_n.to(tl.int64) * K
    tl.store(dw_rows[:, None] + offs_k[None, :], acc.to(OUT_DTYPE), mask=mask_n[:, None] & mask_k[None, :])
    if pid_k == 0:
        tl.store(db_ptr + offs_n, db_acc.to(OUT_DTYPE), mask=mask_n)


# ---------------------------------------------------------------- split-K: few output tiles, a long reduction
#
# The same kernels under their own autotuners: a split launch's best tile is a small one (the point is more
# programs), and its tuning must not be shared with whole-reduction launches of the same key.
_linear_forward_split_kernel = triton.autotune(configs=_SPLIT_CONFIGS, key=_KEY, prune_configs_by=_SPLIT_PRUNE)(
    _linear_forward_kernel.fn)
_linear_backward_input_split_kernel = triton.autotune(configs=_SPLIT_CONFIGS, key=_KEY,
                                                      prune_configs_by=_SPLIT_PRUNE)(_linear_backward_input_kernel.fn)
_linear_backward_weight_split_kernel = triton.autotune(configs=_SPLIT_CONFIGS, key=_KEY,
                                                       prune_configs_by=_SPLIT_PRUNE)(
    _linear_backward_weight_kernel.fn)


# Dropout in the epilogue (DROPOUT=True: the dropout family's linear_relu_dropout_forward) under its own autotuners,
# as split-K is: the per-element Philox adds registers, so its tile lists hold only what compiles spill-free with it
# (benchmarks/aot_triton.py, launchers "linear_relu_dropout_forward" and "tma: ..."), and a dropout launch never reuses
# a plain launch's tuning (the autotune key does not see DROPOUT).  sm_80's mma.sync tiles of half precision spill
# 11 KB with more than 32 accumulator elements per thread (128 x 128 / 8 warps, 64 x 128 / 4, 64 x 256 / 8); IEEE
# float32 and float64 keep their lists.
_DROPOUT_DTYPE_CONFIGS = {**_DTYPE_CONFIGS, "half": [(64, 64, 32, 4, 4), (64, 128, 32, 8, 4)]}
_linear_forward_dropout_kernel = triton.autotune(
    configs=gemm_tile_configs(_DROPOUT_DTYPE_CONFIGS, _INTERPRETER_CONFIG), key=_KEY,
    prune_configs_by={"early_config_prune": prune_by_dtype(_DROPOUT_DTYPE_CONFIGS, lambda: ALLOW_TF32,
                                                           ("x_ptr", "dy_ptr"))})(_linear_forward_kernel.fn)
# ... and the backward GEMMs with SCALED (linear_relu_dropout_backward): float32 without the 32 x 64 / 2-warp tile,
# whose dw kernel spills 16 B on sm_80 with the scale multiply (138 registers without it).
_DROPOUT_BWD_DTYPE_CONFIGS = {**_DTYPE_CONFIGS, "float32": [(64, 64, 32, 8, 3), (64, 32, 32, 4, 3)]}
_DROPOUT_BWD_PRUNE = {"early_config_prune": prune_by_dtype(_DROPOUT_BWD_DTYPE_CONFIGS, lambda: ALLOW_TF32,
                                                           ("x_ptr", "dy_ptr"))}
_linear_backward_input_dropout_kernel = triton.autotune(
    configs=gemm_tile_configs(_DROPOUT_BWD_DTYPE_CONFIGS, _INTERPRETER_CONFIG), key=_KEY,
    prune_configs_by=_DROPOUT_BWD_PRUNE)(_linear_backward_input_kernel.fn)
_linear_backward_weight_dropout_kernel = triton.autotune(
    configs=gemm_tile_configs(_DROPOUT_BWD_DTYPE_CONFIGS, _INTERPRETER_CONFIG), key=_KEY,
    prune_configs_by=_DROPOUT_BWD_PRUNE)(_linear_backward_weight_kernel.fn)


@triton.jit
def _sum_splits_kernel(ws_ptr, b_ptr, out_ptr, numel, cols, SPLITS, p, scale, seed, offset,
                       HAS_BIAS: tl.constexpr, RELU: tl.constexpr, DROPOUT: tl.constexpr, BLOCK: tl.constexpr):
    """out[i] = epilogue(sum over s of ws[s, i]) for the flat [rows, cols] output, always in split order 0, 1,
    2, ... (deterministic); the epilogue is the forward's (+ b[i % cols], ReLU, dropout) when asked, then the cast.
    The flat index i = m * cols + n is the output's, so dropout's counter is offset + i (one call per element)."""
    offs = tl.program_id(0).to(tl.int64) * BLOCK + tl.arange(0, BLOCK)
    mask = offs < numel
    part = ws_ptr + offs
    acc = tl.load(part, mask=mask, other=0.0)
    for _ in range(1, SPLITS):
        part += numel
        acc += tl.load(part, mask=mask, other=0.0)
    if HAS_BIAS:
        acc += tl.load(b_ptr + offs % cols, mask=mask, other=0.0).to(acc.dtype)
    if RELU:
        acc = tl.where(acc < 0, 0.0, acc)
    if DROPOUT:
        c = offset + offs
        w0, w1, w2, w3 = tl.randint4x(seed, c >> 2)
        lane = c & 3
        u = tl.random.uint_to_uniform_float(tl.where(lane == 0, w0, tl.where(lane == 1, w1, tl.where(lane == 2, w2,
                                                                                                      w3))))
        acc = tl.where(u > p, acc * scale, 0.0)
    tl.store(out_ptr + offs, acc.to(out_ptr.dtype.element_ty), mask=mask)


#: Split-K plan (:func:`_split_plan`): split only while the output has fewer tiles of 128 x 128 than this
#: (about one wave of an H100/H200's 132 SMs; a constant, not the device's SM count, so a shape's plan and
#: bits are the same on every GPU).
SPLIT_TARGET_PROGRAMS = 128
#: Shortest split: a partial tile costs 128*128*4 bytes written and read, so a split of L reduction steps has an
#: intensity of ~L/4 FLOP per workspace byte: L >= 1024 keeps the workspace well under the GEMM's time.
SPLIT_MIN_LEN = 1024
SPLIT_MAX = 32
#: Split lengths are multiples of this (every BLOCK of every config divides it).
SPLIT_GRANULE = 256


def _split_plan(rows: int, cols: int, reduction: int) -> tuple[int, int]:
    """(splits, split length) for a GEMM with a [rows, cols] output and ``reduction`` long sums; (1, reduction)
    when it does not split.  From the shape alone: no device query, no autotune config."""
    tiles = triton.cdiv(rows, 128) * triton.cdiv(cols, 128)
    splits = min(triton.cdiv(SPLIT_TARGET_PROGRAMS, tiles), reduction // SPLIT_MIN_LEN, SPLIT_MAX)
    if splits < 2:
        return 1, reduction
    split_len = triton.cdiv(triton.cdiv(reduction, splits), SPLIT_GRANULE) * SPLIT_GRANULE
    return triton.cdiv(reduction, split_len), split_len


def _sum_splits(ws: torch.Tensor, out: torch.Tensor, b: torch.Tensor | None = None, relu: bool = False,
                dropout: tuple | None = None) -> None:
    """``out`` (flat [rows, cols]) = the split-ordered sum of ``ws[splits, rows, cols]`` (+ b, ReLU, dropout:
    ``dropout`` = (p, scale, seed, offset) as :func:`_forward` takes it)."""
    numel = out.numel()
    block = 128 if interpreting() else 1024
    p, scale, seed, offset = dropout if dropout is not None else (0.0, 1.0, 0, 0)
    # dropout: 8 warps, 4 elements per thread -- at 4 warps the per-element Philox (int64 counters) spilled 4 B in
    # float16 on sm_90 under triton 3.6's ptxas
    _sum_splits_kernel[(triton.cdiv(numel, block),)](ws, b if b is not None else ws, out, numel, out.shape[-1],
                                                     ws.shape[0], p, scale, seed, offset, HAS_BIAS=b is not None,
                                                     RELU=bool(relu), DROPOUT=dropout is not None, BLOCK=block,
                                                     num_warps=8 if dropout is not None else 4)


# ---------------------------------------------------------------- Hopper: TMA operand tiles, persistent grid
#
# For float16 / bfloat16 on sm_90 / sm_100, every operand tile is a rectangle of a row-major 2-D tensor, so a tensor
# descriptor describes it: a descriptor load is one TMA copy into shared memory, in the swizzled layout wgmma
# reads, zero-filled past the tensor's edges (no masks, no per-lane addresses).  The grid is persistent: a
# program walks output tiles pid, pid + programs, ... in the grouped order.  dy and y of the backward GEMMs come
# by TMA too; the mask is applied in registers (the masked tile feeds wgmma from registers).  The ladder's rung 5.


def _set_tma_blocks(nargs):
    """Autotuner pre-hook: each descriptor's block is the config's tile of its tensor.

    x[M, K] by [BLOCK_M, BLOCK_K], w[N, K] by [BLOCK_N, BLOCK_K], dy and y [M, N] by [BLOCK_M, BLOCK_N] -- in
    every kernel, whichever of its dimensions the config's tile makes the reduction."""
    bm, bn, bk = nargs["BLOCK_M"], nargs["BLOCK_N"], nargs["BLOCK_K"]
    for name, block in (("x_desc", [bm, bk]), ("w_desc", [bn, bk]), ("dy_desc", [bm, bn]), ("y_desc", [bm, bn])):
        if name in nargs:
            nargs[name].block_shape = block


def _tma_configs(tiles) -> list[triton.Config]:
    return autotune_configs(
        [triton.Config({"BLOCK_M": bm, "BLOCK_N": bn, "BLOCK_K": bk, "GROUP_M": 8}, num_warps=nw, num_stages=ns,
                       pre_hook=_set_tma_blocks) for bm, bn, bk, nw, ns in tiles],
        triton.Config({"BLOCK_M": 32, "BLOCK_N": 32, "BLOCK_K": 32, "GROUP_M": 2}, num_warps=1,
                      pre_hook=_set_tma_blocks),
    )


#: (BLOCK_M, BLOCK_N, BLOCK_K, warps, stages) per TMA kernel, in that kernel's roles (forward: output BLOCK_M x
#: BLOCK_N, reduction BLOCK_K; backward_input: output BLOCK_M x BLOCK_K, reduction BLOCK_N; backward_weight:
#: output BLOCK_N x BLOCK_K, reduction BLOCK_M); each compiles spill-free on sm_90 under triton 3.6 and 3.9
#: with HGMMA and UTMALDG in the SASS (benchmarks/aot_triton.py). Registers, float16 / bfloat16, 3.9 | 3.6:
#: forward 124-211 | 138-242, backward_input 130-168 | 130-146, backward_weight 160-180 | 152-193.
_TMA_TILES = {
    "forward": [(128, 256, 64, 8, 3), (128, 128, 64, 8, 4), (128, 128, 64, 4, 4), (64, 128, 64, 4, 4)],
    "backward_input": [(128, 64, 128, 8, 4), (128, 64, 64, 4, 4), (64, 64, 128, 4, 4)],
    # 64 x 128 x 64 with 4 warps compiles spill-free too, but at 251 (3.9) / 254 (3.6) registers: one step from spilling
    "backward_weight": [(64, 128, 128, 8, 4), (64, 128, 64, 8, 4), (64, 64, 128, 4, 4)],
}


#: The forward TMA tiles that stay spill-free with the dropout epilogue (64 accumulator elements per thread; the 128
#: of 128 x 256 / 8 warps and 128 x 128 / 4 warps spill 3-4 KB at 255 registers on sm_90).
_TMA_DROPOUT_TILES = [(128, 128, 64, 8, 4), (64, 128, 64, 4, 4)]


# The TMA kernels multiply float16/bfloat16 only, where tl.dot's input_precision changes nothing; it is written
# ("ieee") so that every tl.dot in this module names its precision (tests/test_bench_harness.py checks that).
@triton.autotune(configs=_tma_configs(_TMA_TILES["forward"]), key=_KEY)
@triton.jit
def _linear_forward_tma_kernel(
    x_desc, w_desc, b_ptr, y_ptr, M, N, K, M_BUCKET, p, scale, seed, offset,
    HAS_BIAS: tl.constexpr, RELU: tl.constexpr, DROPOUT: tl.constexpr, DOT_DTYPE: tl.constexpr,
    BLOCK_M: tl.constexpr, BLOCK_N: tl.constexpr, BLOCK_K: tl.constexpr, GROUP_M: tl.constexpr,
):
    # y tiles [BLOCK_M, BLOCK_N], persistent: program i computes tiles i, i + programs, ...; x[M, K] and w[N, K]
    # tiles by TMA (w's [BLOCK_N, BLOCK_K] tile transposed in shared memory: wgmma reads it K-major as it lies).
    num_tiles = tl.cdiv(M, BLOCK_M) * tl.cdiv(N, BLOCK_N)
    for tile in range(tl.program_id(0), num_tiles, tl.num_programs(0)):
        pid_m, pid_n = _grouped_tile(tile, M, N, BLOCK_M, BLOCK_N, GROUP_M)
        acc = tl.zeros((BLOCK_M, BLOCK_N), dtype=tl.float32)
        for k0 in range(0, K, BLOCK_K):
            a = x_desc.load([pid_m * BLOCK_M, k0])
            b = w_desc.load([pid_n * BLOCK_N, k0])
            acc = tl.dot(a.to(DOT_DTYPE), tl.trans(b.to(DOT_DTYPE)), acc, input_precision="ieee", out_dtype=tl.float32)
        offs_m = pid_m * BLOCK_M + tl.arange(0, BLOCK_M)
        offs_n = pid_n * BLOCK_N + tl.arange(0, BLOCK_N)
        mask_n = offs_n < N
        if HAS_BIAS:
            bias = tl.load(b_ptr + offs_n, mask=mask_n, other=0.0)
            acc += bias.to(tl.float32)[None, :]
        if RELU:
            acc = tl.where(acc < 0, 0.0, acc)
        if DROPOUT:
            acc = _dropout_epilogue(acc, offs_m, offs_n, N, p, scale, seed, offset)
        y_rows = y_ptr + offs_m.to(tl.int64) * N
        tl.store(y_rows[:, None] + offs_n[None, :], acc.to(y_ptr.dtype.element_ty),
                 mask=(offs_m < M)[:, None] & mask_n[None, :])


_linear_forward_tma_dropout_kernel = triton.autotune(configs=_tma_configs(_TMA_DROPOUT_TILES), key=_KEY)(
    _linear_forward_tma_kernel.fn)


@triton.autotune(configs=_tma_configs(_TMA_TILES["backward_input"]), key=_KEY)
@triton.jit
def _linear_backward_input_tma_kernel(
    dy_desc, y_desc, w_desc, dx_ptr, M, N, K, M_BUCKET, scale,
    RELU: tl.constexpr, SCALED: tl.constexpr, DOT_DTYPE: tl.constexpr,
    BLOCK_M: tl.constexpr, BLOCK_N: tl.constexpr, BLOCK_K: tl.constexpr, GROUP_M: tl.constexpr,
):
    # dx[M, K] = g[M, N] @ w[N, K], persistent over the [BLOCK_M, BLOCK_K] tiles; dy, y and w tiles by TMA, the
    # mask applied to the dy tile in registers (zero-filled y past M or N is <= 0: those g are 0, as dy's are).
    num_tiles = tl.cdiv(M, BLOCK_M) * tl.cdiv(K, BLOCK_K)
    for tile in range(tl.program_id(0), num_tiles, tl.num_programs(0)):
        pid_m, pid_k = _grouped_tile(tile, M, K, BLOCK_M, BLOCK_K, GROUP_M)
        acc = tl.zeros((BLOCK_M, BLOCK_K), dtype=tl.float32)
        for n0 in range(0, N, BLOCK_N):
            g = dy_desc.load([pid_m * BLOCK_M, n0])
            if RELU:
                g = tl.where(y_desc.load([pid_m * BLOCK_M, n0]) <= 0, 0.0, g)
            wt = w_desc.load([n0, pid_k * BLOCK_K])
            acc = tl.dot(g.to(DOT_DTYPE), wt.to(DOT_DTYPE), acc, input_precision="ieee", out_dtype=tl.float32)
        if SCALED:
            acc = acc * scale
        offs_m = pid_m * BLOCK_M + tl.arange(0, BLOCK_M)
        offs_k = pid_k * BLOCK_K + tl.arange(0, BLOCK_K)
        dx_rows = dx_ptr + offs_m.to(tl.int64) * K
        tl.store(dx_rows[:, None] + offs_k[None, :], acc.to(dx_ptr.dtype.element_ty),
                 mask=(offs_m < M)[:, None] & (offs_k < K)[None, :])


@triton.autotune(configs=_tma_configs(_TMA_TILES["backward_weight"]), key=_KEY)
@triton.jit
def _linear_backward_weight_tma_kernel(
    dy_desc, y_desc, x_desc, dw_ptr, db_ptr, M, N, K, M_BUCKET, scale,
    RELU: tl.constexpr, SCALED: tl.constexpr, DOT_DTYPE: tl.constexpr,
    BLOCK_M: tl.constexpr, BLOCK_N: tl.constexpr, BLOCK_K: tl.constexpr, GROUP_M: tl.constexpr,
):
    # dw[N, K] = g.T[N, M] @ x[M, K], persistent over the [BLOCK_N, BLOCK_K] tiles; the [BLOCK_M, BLOCK_N] dy
    # (and y) tile by TMA, masked, transposed in registers as wgmma's A operand; db fused as in the tiled kernel.
    num_tiles = tl.cdiv(N, BLOCK_N) * tl.cdiv(K, BLOCK_K)
    for tile in range(tl.program_id(0), num_tiles, tl.num_programs(0)):
        pid_n, pid_k = _grouped_tile(tile, N, K, BLOCK_N, BLOCK_K, GROUP_M)
        acc = tl.zeros((BLOCK_N, BLOCK_K), dtype=tl.float32)
        db_acc = tl.zeros((BLOCK_N,), dtype=tl.float32)
        for m0 in range(0, M, BLOCK_M):
            g = dy_desc.load([m0, pid_n * BLOCK_N])
            if RELU:
                g = tl.where(y_desc.load([m0, pid_n * BLOCK_N]) <= 0, 0.0, g)
            xt = x_desc.load([m0, pid_k * BLOCK_K])
            acc = tl.dot(tl.trans(g.to(DOT_DTYPE)), xt.to(DOT_DTYPE), acc, input_precision="ieee", out_dtype=tl.float32)
            db_acc += tl.sum(g.to(tl.float32), axis=0)
        if SCALED:
            acc = acc * scale
            db_acc = db_acc * scale
        offs_n = pid_n * BLOCK_N + tl.arange(0, BLOCK_N)
        offs_k = pid_k * BLOCK_K + tl.arange(0, BLOCK_K)
        mask_n = offs_n < N
        dw_rows = dw_ptr + offs_n.to(tl.int64) * K
        tl.store(dw_rows[:, None] + offs_k[None, :], acc.to(dw_ptr.dtype.element_ty),
                 mask=mask_n[:, None] & (offs_k < K)[None, :])
        if pid_k == 0:
            tl.store(db_ptr + offs_n, db_acc.to(db_ptr.dtype.element_ty), mask=mask_n)


def _tma_device(device: torch.device) -> bool:
    """Whether ``device`` runs the TMA kernels: sm_90 (Hopper) and sm_100 (datacenter Blackwell), whose ~227 KB of
    shared memory per block holds the 98-168 KB rings of ``_TMA_TILES`` (consumer Blackwell, sm_120, has ~99 KB:
    the tiled kernels there); the interpreter emulates tensor descriptors on the CPU."""
    if interpreting():
        return True
    return device.type == "cuda" and torch.cuda.get_device_capability(device)[0] in (9, 10)


def _uses_tma(*tensors: torch.Tensor) -> bool:
    """The Hopper kernels take float16 / bfloat16 operands on a TMA-capable device whose bases and row pitches
    are 16-byte aligned (``USE_TMA`` switches them off); host metadata only, never a device read."""
    t0 = tensors[0]
    return (USE_TMA and TensorDescriptor is not None and t0.dtype in (torch.float16, torch.bfloat16)
            and _tma_device(t0.device)
            and all(t.data_ptr() % 16 == 0 and (t.shape[-1] * t.element_size()) % 16 == 0 for t in tensors))


#: Persistent programs per SM.  One: a 128 x 128 x 64 tile with 4 stages holds 128 KB of shared memory, so a
#: second program would not fit beside it; the stages, not a second program, hide the loads.  A guess until a
#: GPU measures 1 and 2.
PROGRAMS_PER_SM = 1


@functools.cache
def _persistent_programs(device_index: int | None) -> int:
    """Programs of a persistent launch (3 under the interpreter, so programs walk several tiles)."""
    if device_index is None:
        return 3
    return PROGRAMS_PER_SM * torch.cuda.get_device_properties(device_index).multi_processor_count


def _programs(t: torch.Tensor) -> int:
    return _persistent_programs(None if t.device.type != "cuda" else t.device.index or 0)


def _desc(t: torch.Tensor) -> TensorDescriptor:
    """A descriptor over a row-major 2-D tensor; its block is set per autotune config (:func:`_set_tma_blocks`)."""
    return TensorDescriptor(t, shape=list(t.shape), strides=[t.shape[1], 1], block_shape=[32, 32])


# ---------------------------------------------------------------- launchers


def _precision(dtype: torch.dtype) -> dict[str, object]:
    """The dtype/precision constexprs for a torch float dtype: accumulator, output, tl.dot operands."""
    acc = tl.float64 if dtype == torch.float64 else tl.float32
    # tl.dot takes half-precision operands natively (tensor cores); only the CPU interpreter, which
    # has no bfloat16 matmul (it returns garbage), gets bfloat16 operands upcast to float32
    dot = tl.float32 if (dtype == torch.bfloat16 and interpreting()) else tl_dtype(dtype)
    precision = "tf32" if (ALLOW_TF32 and dtype == torch.float32) else "ieee"
    return dict(ACC_DTYPE=acc, OUT_DTYPE=tl_dtype(dtype), INPUT_PRECISION=precision, DOT_DTYPE=dot)


def _split_precision(dtype: torch.dtype) -> dict[str, object]:
    """:func:`_precision` for a split-K partial sum: written in the accumulator's dtype to the workspace."""
    precision = _precision(dtype)
    return {**precision, "OUT_DTYPE": precision["ACC_DTYPE"]}


def _acc_dtype(dtype: torch.dtype) -> torch.dtype:
    return torch.float64 if dtype == torch.float64 else torch.float32


def _checked_forward(x, w, b) -> tuple[int, int, int]:
    """:func:`linear_forward`'s argument checks (shared by the ladder's upper rungs); returns (M, N, K)."""
    check_float_tensor("x", x, 2)
    check_float_tensor("w", w, 2)
    if b is not None:
        check_float_tensor("b", b, 1)
    check_same_dtype(x=x, w=w, b=b)
    return linear_forward_shapes(x.shape, w.shape, None if b is None else b.shape)


def _checked_backward(dy, x, w, y, relu) -> tuple[int, int, int]:
    """:func:`linear_backward`'s argument checks (shared by the ladder's upper rungs); returns (M, N, K)."""
    check_float_tensor("dy", dy, 2)
    check_float_tensor("x", x, 2)
    check_float_tensor("w", w, 2)
    check_relu_output(y, relu)
    if relu:
        check_float_tensor("y", y, 2)
    check_same_dtype(dy=dy, x=x, w=w, y=y if relu else None)
    return linear_backward_shapes(dy.shape, x.shape, w.shape, y.shape if relu else None)


def _forward(x, w, b, relu: bool, M: int, N: int, K: int, *, split: bool, tma: bool,
             dropout: tuple | None = None) -> torch.Tensor:
    """y on checked arguments: the split-K, TMA or tiled GEMM, as ``split`` / ``tma`` allow and the shape picks.

    ``dropout`` = (p, scale, seed, offset) (p and scale already rounded to float32, seed and offset checked ints;
    needs ``relu`` and K > 0: ``kernels/triton/dropout.py``'s ``linear_relu_dropout_forward`` answers K == 0 with the
    two passes) applies dropout to relu(x @ w.T + b) in the epilogue of whichever path runs: the tiled and TMA
    kernels' (``_dropout_epilogue``) or ``_sum_splits_kernel``'s after split-K."""
    y = torch.empty((M, N), dtype=x.dtype, device=x.device)
    if y.numel() == 0:
        return y
    if K == 0:  # empty reduction: y = b (or 0), then ReLU
        assert dropout is None, "K == 0 with dropout is the caller's (two passes)"
        y.zero_()
        if b is not None:
            y += b
        return y.clamp_(min=0) if relu else y
    flags = dict(HAS_BIAS=b is not None, RELU=bool(relu), DROPOUT=dropout is not None)
    drop_args = dropout if dropout is not None else (0.0, 1.0, 0, 0)
    b_arg = b if b is not None else x
    splits, split_len = _split_plan(M, N, K) if split else (1, K)
    if splits > 1:
        ws = torch.empty((splits, M, N), dtype=_acc_dtype(x.dtype), device=x.device)
        _linear_forward_split_kernel[
            lambda meta: (triton.cdiv(M, meta["BLOCK_M"]) * triton.cdiv(N, meta["BLOCK_N"]), splits)](
            x, w, b_arg, ws, M, N, K, size_bucket(M), split_len, *drop_args, **{**flags, "DROPOUT": False},
            **_split_precision(x.dtype), SPLIT=True)
        _sum_splits(ws, y, b, relu, dropout)
    elif tma and _uses_tma(x, w):
        programs = _programs(x)
        kernel = _linear_forward_tma_kernel if dropout is None else _linear_forward_tma_dropout_kernel
        kernel[lambda meta: (min(programs, triton.cdiv(M, meta["BLOCK_M"]) * triton.cdiv(N, meta["BLOCK_N"])),)](
            _desc(x), _desc(w), b_arg, y, M, N, K, size_bucket(M), *drop_args, **flags,
            DOT_DTYPE=_precision(x.dtype)["DOT_DTYPE"])
    else:
        kernel = _linear_forward_kernel if dropout is None else _linear_forward_dropout_kernel
        kernel[lambda meta: (triton.cdiv(M, meta["BLOCK_M"]) * triton.cdiv(N, meta["BLOCK_N"]),)](
            x, w, b_arg, y, M, N, K, size_bucket(M), K, *drop_args, **flags, **_precision(x.dtype), SPLIT=False)
    return y


def _backward(dy, x, w, y, relu: bool, M: int, N: int, K: int, *, split: bool, tma: bool, scale: float = 1.0):
    """(dx, dw, db) on checked arguments: each GEMM split-K, TMA or tiled, as ``split`` / ``tma`` allow.

    ``scale`` multiplies g (dropout's float32 1 / (1 - p) after a fused dropout; 1.0 otherwise): applied to each
    GEMM's accumulator before its store (the products are linear in g), so dx, dw and db are those of
    g = where(y <= 0, 0, dy * scale) up to rounding."""
    dtype = dy.dtype
    dx = torch.empty((M, K), dtype=dtype, device=x.device)
    dw = torch.empty((N, K), dtype=dtype, device=x.device)
    db = torch.empty((N,), dtype=dtype, device=x.device)
    if M == 0 or N == 0:  # empty reduction for dx / dw / db
        return dx.zero_(), dw.zero_(), db.zero_()
    if K == 0:  # degenerate layer with no input features: only db is non-empty
        g = torch.where(y <= 0, 0, dy) if relu else dy
        db_acc = g.sum(0, dtype=_acc_dtype(dtype))
        return dx, dw, (db_acc * scale if scale != 1.0 else db_acc).to(dtype)
    y_arg = y if relu else dy  # never read when RELU is False
    precision = _precision(dtype)
    scaled = scale != 1.0
    flags = dict(RELU=bool(relu), SCALED=scaled, **precision)
    split_flags = dict(RELU=bool(relu), SCALED=scaled, **_split_precision(dtype), SPLIT=True)
    use_tma = tma and _uses_tma(dy, y_arg, x, w)

    # dx[M, K] = g @ w: reduction over N
    splits, split_len = _split_plan(M, K, N) if split else (1, N)
    if splits > 1:
        ws = torch.empty((splits, M, K), dtype=_acc_dtype(dtype), device=x.device)
        _linear_backward_input_split_kernel[
            lambda meta: (triton.cdiv(M, meta["BLOCK_M"]) * triton.cdiv(K, meta["BLOCK_K"]), splits)](
            dy, y_arg, w, ws, M, N, K, size_bucket(M), split_len, scale, **split_flags)
        _sum_splits(ws, dx)
    elif use_tma:
        programs = _programs(x)
        _linear_backward_input_tma_kernel[
            lambda meta: (min(programs, triton.cdiv(M, meta["BLOCK_M"]) * triton.cdiv(K, meta["BLOCK_K"])),)](
            _desc(dy), _desc(y_arg), _desc(w), dx, M, N, K, size_bucket(M), scale, RELU=bool(relu), SCALED=scaled,
            DOT_DTYPE=precision["DOT_DTYPE"])
    else:
        kernel = _linear_backward_input_dropout_kernel if scaled else _linear_backward_input_kernel
        kernel[lambda meta: (triton.cdiv(M, meta["BLOCK_M"]) * triton.cdiv(K, meta["BLOCK_K"]),)](
            dy, y_arg, w, dx, M, N, K, size_bucket(M), N, scale, **flags, SPLIT=False)

    # dw[N, K] = g.T @ x and db[N] = g.sum(0): reduction over M
    splits, split_len = _split_plan(N, K, M) if split else (1, M)
    if splits > 1:
        ws = torch.empty((splits, N, K), dtype=_acc_dtype(dtype), device=x.device)
        db_ws = torch.empty((splits, N), dtype=_acc_dtype(dtype), device=x.device)
        _linear_backward_weight_split_kernel[
            lambda meta: (triton.cdiv(N, meta["BLOCK_N"]) * triton.cdiv(K, meta["BLOCK_K"]), splits)](
            dy, y_arg, x, ws, db_ws, M, N, K, size_bucket(M), split_len, scale, **split_flags)
        _sum_splits(ws, dw)
        _sum_splits(db_ws, db)
    elif use_tma:
        programs = _programs(x)
        _linear_backward_weight_tma_kernel[
            lambda meta: (min(programs, triton.cdiv(N, meta["BLOCK_N"]) * triton.cdiv(K, meta["BLOCK_K"])),)](
            _desc(dy), _desc(y_arg), _desc(x), dw, db, M, N, K, size_bucket(M), scale, RELU=bool(relu), SCALED=scaled,
            DOT_DTYPE=precision["DOT_DTYPE"])
    else:
        kernel = _linear_backward_weight_dropout_kernel if scaled else _linear_backward_weight_kernel
        kernel[lambda meta: (triton.cdiv(N, meta["BLOCK_N"]) * triton.cdiv(K, meta["BLOCK_K"]),)](
            dy, y_arg, x, dw, db, M, N, K, size_bucket(M), M, scale, **flags, SPLIT=False)
    return dx, dw, db


def linear_forward(x: torch.Tensor, w: torch.Tensor, b: torch.Tensor | None, relu: bool) -> torch.Tensor:
    """``y[M, N] = x[M, K] @ w[N, K].T + b[N]``, then ReLU if ``relu``; y has x's dtype.

    Raises TypeError for non-tensor / non-float / mixed-dtype inputs and ValueError for wrong ndim,
    non-contiguous or wrong-device tensors, or mismatched K / N between x, w and b.
    """
    M, N, K = _checked_forward(x, w, b)
    return _forward(x, w, b, relu, M, N, K, split=True, tma=True)


def linear_backward(
    dy: torch.Tensor, x: torch.Tensor, w: torch.Tensor, y: torch.Tensor | None, relu: bool
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Gradients ``(dx[M, K], dw[N, K], db[N])`` of :func:`linear_forward` for upstream ``dy[M, N]``.

    ``y`` is the forward output (required when ``relu``; ``y <= 0`` zeroes dy inside both GEMMs).
    db is always returned.  Raises TypeError / ValueError like :func:`linear_forward`, and
    ValueError when dy or y is not [M, N] or y is missing with ``relu``.
    """
    M, N, K = _checked_backward(dy, x, w, y, relu)
    return _backward(dy, x, w, y, relu, M, N, K, split=True, tma=True)
