"""2-D convolution (cross-correlation, like ``torch.nn.functional.conv2d``) as Triton implicit GEMMs.

Math (NCHW, no dilation, no groups), the same as ``kernels/numpy/conv2d.py``::

    x[N, C, H, W], w[K, C, R, S], b[K] or None  ->  y[N, K, P, Q]
    P = (H + 2*ph - R) // sh + 1,   Q = (W + 2*pw - S) // sw + 1
    y[n, k, p, q] = b[k] + sum_{c, r, s} w[k, c, r, s] * xpad[n, c, p*sh + r, q*sw + s]

Which kernel runs (this file is the top rung of the conv2d ladder, kernels/triton/ladder/conv2d/):

* a 1x1 layer with stride 1 and padding 0 (ResNet's bottlenecks): plain per-image GEMMs over NCHW, ladder
  rung 4 (section "1x1 layers as GEMMs" below; the story in ``kernels/triton/ladder/conv2d/rung4_pointwise_gemm.py``:
  pixel-contiguous, vectorised loads);
* the forward and backward_input of any other float16 / bfloat16 layer on sm_90+: the Hopper kernels below
  (rungs 5 and 6: the activation transposed to channels-last so its tile loads are 16-byte vectors, the weight
  packed once per call and loaded by TMA tensor descriptors, wgmma-sized tiles, the forward on a persistent
  grid);
* everything else: the general implicit GEMMs below (rung 3), described in the rest of this header.

Algorithm: each of the three products is a GEMM whose operands are *never materialised*; a program
owns one BLOCK_M x BLOCK_N tile of the GEMM output, walks the reduction in BLOCK_K chunks, gathers the
operand tiles with masked loads (out-of-bounds = padding = 0) and ``tl.dot``s them into an fp32
accumulator (float64 for float64 tensors).  Programs are numbered in GROUP_M-row super-groups (as in
the Triton matmul tutorial) so that programs running together share operand tiles in L2.

The reduction runs **tap-major**: (r, s) outermost, channels in BLOCK_K chunks inside, as one flat loop
of R*S*ceil(C/BLOCK_K) steps (one loop so the software pipeliner sees it whole).  For a fixed tap every
GEMM row reads one input pixel, so the 2-D gather address is a 1-D per-row offset plus a 1-D per-channel
offset and the mask is a 1-D row mask AND a 1-D channel mask: one add and one AND per tile element,
no division.  Rows are decoded to (n, p, q) once per program.  The image base n*C*H*W is a 64-bit
pointer per row; offsets inside one image (and inside the weight) are 32-bit, so batches of any size
are addressed correctly while the per-element index math stays 32-bit (the launcher refuses one image
or a weight past 2**31 elements).

* forward:          GEMM M = N*P*Q (rows n, p, q), N_gemm = K, reduction (r, s, c).
                    A[m, c] = xpad[n, c, p*sh + r, q*sw + s], B[c, k] = w[k, c, r, s]; bias added in
                    the epilogue; the tile is stored straight into y's NCHW layout.
* backward_input:   by **stride phase**: dx[n, c, h, w] only receives taps r with (h + ph - r) % sh == 0,
                    so the pixels split into phases by (h % sh, w % sw), each its own GEMM: rows
                    (n, t, u) -> pixel (h0 + t*sh, w0 + u*sw), columns c, reduction over the taps
                    r = a + i*sh, s = b + j*sw with a = (h0 + ph) % sh, b = (w0 + pw) % sw
                    (ceil(R/sh)*ceil(S/sw) of them) and k.  Tap i meets row t at p = p_base + t - i,
                    exact by construction, so the loop has no division and no stride hole;
                    A[m, k] = dy[n, k, p, q] masked to [0, P) x [0, Q), B[k, c] = w[k, c, r, s].
                    Grid axis 1 is the phase, numbered by its first pixel, so only the
                    min(sh, H) * min(sw, W) phases that hold pixels are launched.  Pixels no window
                    reads (a phase without taps, rows past the last window) get exactly 0.
* backward_weight:  one program per (tap (r, s), BLOCK_M x BLOCK_N tile of dw[:, :, r, s], split of the
                    reduction): GEMM rows k, columns c, reduction over N*P*Q rows (n, p, q) -- decoded
                    per BLOCK_K vector, again 1-D.  **Split-K**: a 64->64 3x3 layer has only 9 such
                    tiles of 64x64, so the N*P*Q reduction is cut into up to 64 splits (aiming at ~1024
                    programs, >= 2048 rows each, chosen from the shape alone); the splits write float32
                    (float64) partial sums to a [splits, K, C, R, S] workspace and ``_sum_splits_kernel``
                    adds them in split order: deterministic, no atomics.
* backward_bias:    one program per output channel k sums dy[:, k] in BLOCK-wide chunks.

Reads / writes: forward reads x (R*S/(sh*sw) times from cache, once from DRAM when tiles fit) and w,
writes y once; the backward kernels likewise read their two operands and write dx or dw once (plus the
split-K workspace: splits * |dw| in float32, written once and read once).  No column matrix exists, so
the extra N*C*R*S*P*Q traffic of im2col is gone.
FLOPs: 2*N*K*C*R*S*P*Q for each of the three GEMMs.  backward_input issues just those (each phase's
taps times its pixels; plus the masked rows at window edges), where the plain gather of ladder rung 2
issued sh*sw times as many, the stride holes included: 4x on a stride-2 layer.

Layout / limits: contiguous NCHW tensors of one dtype on CUDA (on the CPU under TRITON_INTERPRET=1).
float32 uses IEEE fp32 products (``input_precision="ieee"``) so results match float64 to ~1e-6;
set ``ALLOW_TF32 = True`` to trade that for tensor-core TF32 speed.  float16 / bfloat16 accumulate in
fp32 (GPU only: the interpreter has no bfloat16); float64 accumulates in float64.  NCHW makes the
channel axis of the gather strided (H*W apart), so loads are not vectorised along it: a tile costs
registers per element, which is why the spill-free tiles top out at 128x64 / 64x128 with 8 warps
(an NHWC layout would fix this; see the conv2d ladder).  Small C (1 or 3 input channels) wastes most
of a BLOCK_K chunk.  backward_input's phases are uneven (a 3x3 stride-2 layer: 4, 2, 2, 1 taps) and
its grid is sized for the largest phase, so programs of the smaller phases finish early.

Autotuning: tile lists per operand class (``_DTYPE_CONFIGS``: tensor-core half precision, IEEE float32
on FMA units, float64), each compiled spill-free for sm_90 and sm_80 by ``benchmarks/aot_triton.py`` in
CI; the key is the layer (C, K, R, S, strides) plus the GEMM row count rounded up to a power of two,
never the raw batch size, so a last partial batch or an eval batch does not re-tune.  Which config wins
(and so the summation order) can still differ between runs and machines.

Why it is fast: one kernel launch per op, tensor-core ``tl.dot`` (wgmma on sm_90, mma.sync on sm_80:
checked in the SASS ahead of time) on tiles gathered directly from the input, grouped program order
for L2 reuse, split-K so the weight gradient fills the GPU, stride phases so backward_input multiplies
no stride hole.  This file is the top rung of the conv2d ladder (kernels/triton/ladder/conv2d/).
Verified: interpreter (float32, float64, float16; the Hopper forward too: the interpreter emulates tensor
descriptors) against PyTorch float64 in CI, ahead-of-time compilation for sm_90/sm_80 in CI (the Hopper
forward for sm_90). Never run on a GPU: GPU correctness and speed are unverified.
"""

from __future__ import annotations

import functools
import math

import torch
import triton
import triton.language as tl

try:  # host-side tensor descriptors (Triton >= 3.4); without them the forward gathers its weight tiles too
    from triton.tools.tensor_descriptor import TensorDescriptor
except ImportError:  # pragma: no cover
    TensorDescriptor = None

from .._args import (
    ConvGeometry,
    conv2d_backward_input_geometry,
    conv2d_backward_weight_geometry,
    conv2d_forward_geometry,
)
from ._common import (
    autotune_configs,
    check_float_tensor,
    check_same_dtype,
    gemm_tile_configs,
    interpreting,
    prune_by_dtype,
    size_bucket,
)

__all__ = ["conv2d_forward", "conv2d_backward_input", "conv2d_backward_weight", "conv2d_backward_bias"]

ALLOW_TF32 = False  # opt-in: float32 tl.dot on TF32 tensor cores (~1e-3 relative error instead of ~1e-6)

#: The Hopper kernels (channels-last activation tiles, TMA weight tiles; the forward on a persistent grid) for
#: float16 / bfloat16 on sm_90+; False: the gather kernels everywhere (as ladder rung 4).
USE_TMA = True

#: One image (C*H*W of x, K*P*Q of dy) and the weight are indexed with 32-bit offsets; batches are not bounded.
MAX_IMAGE_ELEMENTS = 2**31 - 1

#: CUDA's limit on grid axis 1 (backward_input's stride phases): more phases take several launches.
MAX_GRID_Y = 65535


#: Tile shapes (BLOCK_M, BLOCK_N, BLOCK_K, warps, stages) per operand class.  Each compiles without
#: register spills for that class on sm_90 and sm_80 (benchmarks/aot_triton.py checks it in CI); the
#: gathered operand tiles cost registers per element, so 128-row tiles need 8 warps and 128x128 spills.
_DTYPE_CONFIGS = {
    "half": [(128, 64, 32, 8, 3), (64, 128, 32, 8, 3), (64, 64, 32, 4, 4), (64, 32, 32, 4, 4)],
    # IEEE float32 products run on FMA units, operands in registers: every larger tile tried (64x64, 64x128,
    # 128x64 with 4 or 8 warps) spilled on sm_80 or under triton 3.6.  ALLOW_TF32 uses the half list.
    "float32": [(64, 32, 32, 4, 4)],
    "float64": [(32, 32, 32, 2, 2)],
}


# Under the interpreter one config each, sized for its cost: per program and per step of the tap-major loop,
# not per element -- so wide row tiles, and for backward_weight (which walks N*P*Q rows per tap) long
# reduction chunks.
_INTERPRETER_GEMM_CONFIG = triton.Config({"BLOCK_M": 128, "BLOCK_N": 32, "BLOCK_K": 32, "GROUP_M": 2}, num_warps=1)
_CONFIGS = gemm_tile_configs(_DTYPE_CONFIGS, _INTERPRETER_GEMM_CONFIG)
_WGRAD_CONFIGS = gemm_tile_configs(
    _DTYPE_CONFIGS, triton.Config({"BLOCK_M": 32, "BLOCK_N": 32, "BLOCK_K": 128, "GROUP_M": 2}, num_warps=1))
_PRUNE = {"early_config_prune": prune_by_dtype(_DTYPE_CONFIGS, lambda: ALLOW_TF32, ("dy_ptr", "x_ptr"))}

#: backward_input's own lists: its per-row state (the phase geometry, the row masks) pushes IEEE float32 at
#: 64x32 / 4 warps / 4 stages past 255 registers (it spilled 220 B on sm_80), so that tile runs on 8 warps
#: with 3 stages (126-176 registers on sm_80/sm_90, strides 1 and 2).
_DGRAD_DTYPE_CONFIGS = {**_DTYPE_CONFIGS, "float32": [(64, 32, 32, 8, 3)]}
_DGRAD_CONFIGS = gemm_tile_configs(_DGRAD_DTYPE_CONFIGS, _INTERPRETER_GEMM_CONFIG)
_DGRAD_PRUNE = {"early_config_prune": prune_by_dtype(_DGRAD_DTYPE_CONFIGS, lambda: ALLOW_TF32, ("dy_ptr", "x_ptr"))}


# The autotuner keys on the layer (channels, kernel, stride) and on the GEMM's row count rounded up to a
# power of two, never on the raw batch size: a last partial batch or an eval batch reuses the tuned config.
_KEY = ["C", "K", "R", "S", "sh", "sw", "M_BUCKET"]


@triton.jit
def _grouped_tile(pid, rows, cols, BLOCK_M: tl.constexpr, BLOCK_N: tl.constexpr, GROUP_M: tl.constexpr):
    """(tile_row, tile_col) of tile ``pid``: GROUP_M row-tiles are swept column by column for L2 reuse."""
    num_pid_m = tl.cdiv(rows, BLOCK_M)
    num_pid_n = tl.cdiv(cols, BLOCK_N)
    num_pid_in_group = GROUP_M * num_pid_n
    group_id = pid // num_pid_in_group
    first_pid_m = group_id * GROUP_M
    group_size_m = min(num_pid_m - first_pid_m, GROUP_M)
    pid_m = first_pid_m + (pid % num_pid_in_group) % group_size_m
    pid_n = (pid % num_pid_in_group) // group_size_m
    return pid_m, pid_n


@triton.jit
def _decode_rows(start, M, RC, COLS, BLOCK_M: tl.constexpr, WIDE_ROWS: tl.constexpr):
    """Rows ``start + i`` (i < BLOCK_M) of an [M = N*RC] index space -> (image n as int64, row, col, mask).

    RC = rows*COLS of one image.  The divisions are 32-bit unless M itself passes 2**31 (WIDE_ROWS):
    a 64-bit division is a long instruction sequence that costs registers in every pipelined step.
    """
    if WIDE_ROWS:
        offs_m = tl.arange(0, BLOCK_M).to(tl.int64) + start
    else:
        offs_m = start + tl.arange(0, BLOCK_M)
    mask_m = offs_m < M
    n = offs_m // RC
    pix = (offs_m - n * RC).to(tl.int32)  # pixel inside one image: < 2**31 by the launcher's check
    row = pix // COLS
    return n.to(tl.int64), row, pix - row * COLS, mask_m


@triton.autotune(configs=_CONFIGS, key=_KEY, prune_configs_by=_PRUNE)
@triton.jit
def _conv2d_forward_kernel(
    x_ptr, w_ptr, b_ptr, y_ptr,
    M, C, H, W, K, R, S, P, Q, sh, sw, ph, pw, M_BUCKET,
    HAS_BIAS: tl.constexpr, ACC_DTYPE: tl.constexpr, INPUT_PRECISION: tl.constexpr, WIDE_ROWS: tl.constexpr,
    BLOCK_M: tl.constexpr, BLOCK_N: tl.constexpr, BLOCK_K: tl.constexpr, GROUP_M: tl.constexpr,
):  # fmt: skip
    # GEMM rows (n, p, q), columns k, reduction (r, s, c): r, s outermost so that, for one tap, every
    # row's input pixel is one 1-D offset and the channel block is a second 1-D offset -- the 2-D tile
    # costs one add and one mask AND per element.
    pid_m, pid_n = _grouped_tile(tl.program_id(0), M, K, BLOCK_M, BLOCK_N, GROUP_M)
    n, p, q, mask_m = _decode_rows(pid_m * BLOCK_M, M, P * Q, Q, BLOCK_M, WIDE_ROWS)
    h0 = p * sh - ph  # top-left input pixel of each row's window
    w0 = q * sw - pw
    x_img = x_ptr + n * C * H * W  # 64-bit image base; everything below is a 32-bit offset inside it
    offs_n = pid_n * BLOCK_N + tl.arange(0, BLOCK_N)
    mask_n = offs_n < K
    offs_c = tl.arange(0, BLOCK_K)
    RS = R * S
    w_cols = w_ptr + offs_n[None, :] * (C * RS)  # w[k, c, r, s] as B[c, k] for one tap

    acc = tl.zeros((BLOCK_M, BLOCK_N), dtype=ACC_DTYPE)
    c_steps = tl.cdiv(C, BLOCK_K)
    for step in range(0, RS * c_steps):
        rs = step // c_steps
        c0 = (step - rs * c_steps) * BLOCK_K
        r = rs // S
        s = rs - r * S
        h = h0 + r
        w = w0 + s
        row_ok = mask_m & (h >= 0) & (h < H) & (w >= 0) & (w < W)
        c_ok = offs_c < C - c0
        a = tl.load(x_img[:, None] + (h * W + w)[:, None] + ((c0 + offs_c) * (H * W))[None, :],
                    mask=row_ok[:, None] & c_ok[None, :], other=0.0)
        b = tl.load(w_cols + ((c0 + offs_c) * RS + rs)[:, None], mask=c_ok[:, None] & mask_n[None, :], other=0.0)
        acc = tl.dot(a, b, acc, input_precision=INPUT_PRECISION, out_dtype=ACC_DTYPE)

    if HAS_BIAS:
        bias = tl.load(b_ptr + offs_n, mask=mask_n, other=0.0)
        acc += bias.to(ACC_DTYPE)[None, :]
    y_img = y_ptr + n * K * P * Q
    y_ptrs = y_img[:, None] + (p * Q + q)[:, None] + (offs_n * (P * Q))[None, :]
    tl.store(y_ptrs, acc.to(y_ptr.dtype.element_ty), mask=mask_m[:, None] & mask_n[None, :])


@triton.jit
def _phase_geometry(phase, H, W, R, S, sh, sw, ph, pw):
    """Stride phase number ``phase``, counted by its first pixel (h0, w0) in [0, min(sh, H)) x [0, min(sw, W)),
    so every launched phase holds pixels: the input pixels h = h0 + t*sh (w = w0 + u*sw), whose residue
    a = (h0 + ph) % sh (b likewise) picks the taps r = a + i*sh (s = b + j*sw) that reach them.

    Returns (a, b, h0, w0, Hp, Wp, Ra, Sb, p_base, q_base): the residues, the first pixel, the pixel counts
    (>= 1), the tap counts (0 when a >= R: no window reads those pixels) and the output coordinate of tap 0,
    so that pixel h0 + t*sh meets tap i at p = p_base + t - i -- exact by construction, no division in the
    loop.  Written so no intermediate passes int32 for strides up to 2**31 - 1.
    """
    Wn = tl.minimum(sw, W)
    h0 = phase // Wn
    w0 = phase - h0 * Wn
    a = (h0 + ph) % sh
    b = (w0 + pw) % sw
    Hp = (H - h0 - 1) // sh + 1
    Wp = (W - w0 - 1) // sw + 1
    Ra = tl.where(a < R, (R - a - 1) // sh + 1, 0)
    Sb = tl.where(b < S, (S - b - 1) // sw + 1, 0)
    return a, b, h0, w0, Hp, Wp, Ra, Sb, (h0 + ph - a) // sh, (w0 + pw - b) // sw


@triton.autotune(configs=_DGRAD_CONFIGS, key=_KEY, prune_configs_by=_DGRAD_PRUNE)
@triton.jit
def _conv2d_backward_input_kernel(
    dy_ptr, w_ptr, dx_ptr,
    M, N, C, H, W, K, R, S, P, Q, sh, sw, ph, pw, M_BUCKET, PHASE0,
    ACC_DTYPE: tl.constexpr, INPUT_PRECISION: tl.constexpr, WIDE_ROWS: tl.constexpr,
    BLOCK_M: tl.constexpr, BLOCK_N: tl.constexpr, BLOCK_K: tl.constexpr, GROUP_M: tl.constexpr,
):  # fmt: skip
    # Stride phases: grid axis 1 is the phase (a, b); this program's GEMM rows are the phase's pixels
    # (n, t, u) -> dx[n, :, h0 + t*sh, w0 + u*sw], columns c, reduction over the phase's taps (i, j) and k.
    # Only the taps with r % sh == a (s % sw == b) can reach these pixels, so the loop runs
    # ceil(R/sh)*ceil(S/sw) taps instead of R*S, none of them a stride hole; M is the largest phase's row
    # count (the grid's), each phase masks its own.  At stride 1 there is one phase and this is the plain
    # tap-major loop.
    a, b, h0, w0, Hp, Wp, Ra, Sb, p_base, q_base = _phase_geometry(PHASE0 + tl.program_id(1), H, W, R, S, sh, sw,
                                                                   ph, pw)
    pid_m, pid_n = _grouped_tile(tl.program_id(0), M, C, BLOCK_M, BLOCK_N, GROUP_M)
    M_phase = N * (Hp * Wp)  # rows of this phase, <= M
    if WIDE_ROWS:
        M_phase = tl.cast(N, tl.int64) * (Hp * Wp)  # tl.cast: an N equal to 1 is compiled as a constant
    n, t, u, mask_m = _decode_rows(pid_m * BLOCK_M, M_phase, Hp * Wp, Wp, BLOCK_M, WIDE_ROWS)
    dy_img = dy_ptr + n * K * P * Q
    p_row = p_base + t  # the output row tap 0 meets; tap i meets p_row - i (only these two live in the loop)
    q_row = q_base + u
    offs_n = pid_n * BLOCK_N + tl.arange(0, BLOCK_N)
    mask_n = offs_n < C
    offs_k = tl.arange(0, BLOCK_K)
    RS = R * S
    w_cols = w_ptr + offs_n[None, :] * RS  # w[k, c, r, s] as B[k, c] for one tap

    acc = tl.zeros((BLOCK_M, BLOCK_N), dtype=ACC_DTYPE)
    k_steps = tl.cdiv(K, BLOCK_K)
    for step in range(0, Ra * Sb * k_steps):
        tap = step // k_steps
        k0 = (step - tap * k_steps) * BLOCK_K
        i = tap // Sb
        j = tap - i * Sb
        p = p_row - i
        q = q_row - j
        row_ok = mask_m & (p >= 0) & (p < P) & (q >= 0) & (q < Q)
        k_ok = offs_k < K - k0
        a_tile = tl.load(dy_img[:, None] + (p * Q + q)[:, None] + ((k0 + offs_k) * (P * Q))[None, :],
                         mask=row_ok[:, None] & k_ok[None, :], other=0.0)
        rs = (a + i * sh) * S + b + j * sw
        b_tile = tl.load(w_cols + ((k0 + offs_k) * (C * RS) + rs)[:, None], mask=k_ok[:, None] & mask_n[None, :],
                         other=0.0)
        acc = tl.dot(a_tile, b_tile, acc, input_precision=INPUT_PRECISION, out_dtype=ACC_DTYPE)

    dx_img = dx_ptr + n * C * H * W
    h = h0 + (p_row - p_base) * sh
    w = w0 + (q_row - q_base) * sw
    dx_ptrs = dx_img[:, None] + (h * W + w)[:, None] + (offs_n * (H * W))[None, :]
    tl.store(dx_ptrs, acc.to(dx_ptr.dtype.element_ty), mask=mask_m[:, None] & mask_n[None, :])


@triton.autotune(configs=_WGRAD_CONFIGS, key=_KEY, prune_configs_by=_PRUNE)
@triton.jit
def _conv2d_backward_weight_kernel(
    dy_ptr, x_ptr, out_ptr,
    M, C, H, W, K, R, S, P, Q, sh, sw, ph, pw, M_BUCKET, SPLIT_LEN,
    ACC_DTYPE: tl.constexpr, INPUT_PRECISION: tl.constexpr, WIDE_ROWS: tl.constexpr,
    BLOCK_M: tl.constexpr, BLOCK_N: tl.constexpr, BLOCK_K: tl.constexpr, GROUP_M: tl.constexpr,
):  # fmt: skip
    # One program: a [BLOCK_M k] x [BLOCK_N c] tile of dw[:, :, r, s] for one tap (r, s), over one split
    # of the reduction (n, p, q) -- rows [split * SPLIT_LEN, (split + 1) * SPLIT_LEN) of the M = N*P*Q
    # axis.  Grid: (tiles * R*S, splits).  out is dw itself for one split, else a [splits, K, C, R, S]
    # float32/float64 workspace summed in a fixed order by _sum_splits_kernel (deterministic, no atomics).
    RS = R * S
    tiles = tl.cdiv(K, BLOCK_M) * tl.cdiv(C, BLOCK_N)
    pid = tl.program_id(0)
    rs = pid // tiles
    pid_m, pid_n = _grouped_tile(pid - rs * tiles, K, C, BLOCK_M, BLOCK_N, GROUP_M)
    split = tl.program_id(1)
    r = rs // S
    s = rs - r * S
    offs_m = pid_m * BLOCK_M + tl.arange(0, BLOCK_M)  # k
    offs_n = pid_n * BLOCK_N + tl.arange(0, BLOCK_N)  # c
    mask_m = offs_m < K
    mask_n = offs_n < C

    acc = tl.zeros((BLOCK_M, BLOCK_N), dtype=ACC_DTYPE)
    j_start = split * SPLIT_LEN
    if WIDE_ROWS:
        j_start = split.to(tl.int64) * SPLIT_LEN
    j_end = tl.minimum(j_start + SPLIT_LEN, M)
    for j0 in range(j_start, j_end, BLOCK_K):
        # reduction rows (n, p, q): decoded per step, but only along one BLOCK_K vector
        n, p, q, mask_j = _decode_rows(j0, j_end, P * Q, Q, BLOCK_K, WIDE_ROWS)
        h = p * sh - ph + r
        w = q * sw - pw + s
        a = tl.load((dy_ptr + n * K * P * Q + p * Q + q)[None, :] + (offs_m * (P * Q))[:, None],
                    mask=mask_m[:, None] & mask_j[None, :], other=0.0)
        j_ok = mask_j & (h >= 0) & (h < H) & (w >= 0) & (w < W)
        b = tl.load((x_ptr + n * C * H * W + h * W + w)[:, None] + (offs_n * (H * W))[None, :],
                    mask=j_ok[:, None] & mask_n[None, :], other=0.0)
        acc = tl.dot(a, b, acc, input_precision=INPUT_PRECISION, out_dtype=ACC_DTYPE)

    out = out_ptr + split.to(tl.int64) * K * C * RS
    out_ptrs = out + (offs_m * (C * RS))[:, None] + (offs_n * RS + rs)[None, :]
    tl.store(out_ptrs, acc.to(out_ptr.dtype.element_ty), mask=mask_m[:, None] & mask_n[None, :])


@triton.jit
def _sum_splits_kernel(ws_ptr, dw_ptr, numel, SPLITS, ACC_DTYPE: tl.constexpr, BLOCK: tl.constexpr):
    """dw[i] = sum over splits of ws[split, i], always in split order 0, 1, 2, ... (deterministic)."""
    offs = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
    mask = offs < numel
    acc = tl.zeros((BLOCK,), dtype=ACC_DTYPE)
    ws = ws_ptr + offs
    for _ in range(0, SPLITS):
        acc += tl.load(ws, mask=mask, other=0.0)
        ws += numel  # pointer arithmetic is 64-bit: SPLITS * numel may pass 2**31
    tl.store(dw_ptr + offs, acc.to(dw_ptr.dtype.element_ty), mask=mask)


@triton.jit
def _conv2d_backward_bias_kernel(dy_ptr, db_ptr, N, K, PQ, ACC_DTYPE: tl.constexpr, BLOCK: tl.constexpr):
    k = tl.program_id(0).to(tl.int64)
    NPQ = tl.cast(N, tl.int64) * PQ  # tl.cast: Triton compiles an N equal to 1 as a constant, which has no .to
    acc = tl.zeros((BLOCK,), dtype=ACC_DTYPE)
    for j0 in range(0, NPQ, BLOCK):
        offs = j0 + tl.arange(0, BLOCK).to(tl.int64)  # (n, p, q) of dy[:, k]
        vals = tl.load(dy_ptr + (offs // PQ) * K * PQ + k * PQ + offs % PQ, mask=offs < NPQ, other=0.0)
        acc += vals.to(ACC_DTYPE)
    tl.store(db_ptr + k, tl.sum(acc, axis=0).to(db_ptr.dtype.element_ty))


# ---------------------------------------------------------------- 1x1 layers as GEMMs (ladder rung 4)
#
# A 1x1 layer with stride 1 and padding 0 maps every pixel on its own: per image, Y[n] = W @ X[n],
# dX[n] = W^T @ dY[n], dW = sum_n dY[n] @ X[n]^T.  A tile never leaves one image, so its pixel axis is a
# contiguous run of NCHW memory: no gather, no padding mask, no tap loop, and the loads along the pixels
# vectorise (PIX_ALIGN tells the compiler HW's divisibility).  The full story: the header of
# kernels/triton/ladder/conv2d/rung4_pointwise_gemm.py.

#: Tile shapes (BLOCK_M, BLOCK_N, BLOCK_K, warps, stages) per operand class; every one compiles without
#: register spills on sm_90 and sm_80 (benchmarks/aot_triton.py), half precision with HGMMA on sm_90.
_PW_DTYPE_CONFIGS = {
    "half": [(128, 128, 64, 8, 3), (64, 128, 64, 4, 4), (128, 64, 64, 4, 4), (64, 64, 64, 4, 4)],
    "float32": [(64, 64, 32, 8, 3), (64, 32, 32, 4, 4)],
    "float64": [(32, 32, 32, 2, 2)],
}

#: Under the interpreter one config each, sized for its per-program and per-step cost: wide pixel tiles for
#: forward / backward_input, long reduction chunks for backward_weight.
_PW_INTERPRETER_CONFIG = triton.Config({"BLOCK_M": 32, "BLOCK_N": 64, "BLOCK_K": 32, "GROUP_M": 2}, num_warps=1)
_PW_INTERPRETER_WGRAD_CONFIG = triton.Config({"BLOCK_M": 32, "BLOCK_N": 32, "BLOCK_K": 128, "GROUP_M": 2}, num_warps=1)
_PW_CONFIGS = gemm_tile_configs(_PW_DTYPE_CONFIGS, _PW_INTERPRETER_CONFIG)
_PW_WGRAD_CONFIGS = gemm_tile_configs(_PW_DTYPE_CONFIGS, _PW_INTERPRETER_WGRAD_CONFIG)
_PW_PRUNE = {"early_config_prune": prune_by_dtype(_PW_DTYPE_CONFIGS, lambda: ALLOW_TF32, ("a_ptr", "dy_ptr"))}

#: Autotune keys: the layer (channel counts, pixels per image, which operand layout) and the batch's row
#: count as a power-of-two bucket, never the raw batch size (a last partial batch reuses the tuned config).
_PW_KEY = ["M", "RED", "HW", "stride_am", "ROWS_BUCKET"]
_PW_WGRAD_KEY = ["K", "C", "HW", "ROWS_BUCKET"]

#: Split-K granule: a pixel range of one image handed to a backward_weight split is a multiple of this (every
#: BLOCK_K divides it, so chunk starts stay aligned for the vector loads).
_PW_SPLIT_GRANULE = 256


@triton.autotune(configs=_PW_CONFIGS, key=_PW_KEY, prune_configs_by=_PW_PRUNE)
@triton.jit
def _pointwise_gemm_kernel(
    a_ptr, b_ptr, bias_ptr, out_ptr,
    M, RED, HW, stride_am, stride_ak, ROWS_BUCKET,
    HAS_BIAS: tl.constexpr, PIX_ALIGN: tl.constexpr, ACC_DTYPE: tl.constexpr, INPUT_PRECISION: tl.constexpr,
    BLOCK_M: tl.constexpr, BLOCK_N: tl.constexpr, BLOCK_K: tl.constexpr, GROUP_M: tl.constexpr,
):  # fmt: skip
    # out[n] (M x HW) = A (M x RED) @ B[n] (RED x HW) (+ bias[m]): A is the weight through (stride_am,
    # stride_ak); B[n] and out[n] are one image of NCHW memory, pixels contiguous.  Program pid is tile
    # pid % tiles of image pid // tiles: a tile never crosses an image.
    tiles = tl.cdiv(M, BLOCK_M) * tl.cdiv(HW, BLOCK_N)
    pid = tl.program_id(0)
    n = pid // tiles
    pid_m, pid_n = _grouped_tile(pid - n * tiles, M, HW, BLOCK_M, BLOCK_N, GROUP_M)
    hw = _aligned(HW, PIX_ALIGN)
    n = tl.cast(n, tl.int64)
    b_img = b_ptr + n * RED * hw  # 64-bit image bases; 32-bit offsets inside the image below
    out_img = out_ptr + n * M * hw

    offs_m = pid_m * BLOCK_M + tl.arange(0, BLOCK_M)
    offs_p = tl.max_contiguous(tl.multiple_of(pid_n * BLOCK_N + tl.arange(0, BLOCK_N), BLOCK_N), BLOCK_N)
    offs_k = tl.arange(0, BLOCK_K)
    mask_m = offs_m < M
    mask_p = offs_p < hw
    a_offs = offs_m[:, None] * stride_am + offs_k[None, :] * stride_ak
    b_offs = offs_k[:, None] * hw + offs_p[None, :]

    acc = tl.zeros((BLOCK_M, BLOCK_N), dtype=ACC_DTYPE)
    for k0 in range(0, RED, BLOCK_K):
        k_ok = offs_k < RED - k0
        a = tl.load(a_ptr + k0 * stride_ak + a_offs, mask=mask_m[:, None] & k_ok[None, :], other=0.0)
        b = tl.load(b_img + k0 * hw + b_offs, mask=k_ok[:, None] & mask_p[None, :], other=0.0)
        acc = tl.dot(a, b, acc, input_precision=INPUT_PRECISION, out_dtype=ACC_DTYPE)

    if HAS_BIAS:
        bias = tl.load(bias_ptr + offs_m, mask=mask_m, other=0.0)
        acc += bias.to(ACC_DTYPE)[:, None]
    out_ptrs = out_img + offs_m[:, None] * hw + offs_p[None, :]
    tl.store(out_ptrs, acc.to(out_ptr.dtype.element_ty), mask=mask_m[:, None] & mask_p[None, :])


@triton.autotune(configs=_PW_WGRAD_CONFIGS, key=_PW_WGRAD_KEY, prune_configs_by=_PW_PRUNE)
@triton.jit
def _pointwise_wgrad_kernel(
    dy_ptr, x_ptr, out_ptr,
    N, K, C, HW, ROWS_BUCKET, IMAGES_PER_SPLIT, PIXELS_PER_SPLIT, PIXEL_SPLITS,
    PIX_ALIGN: tl.constexpr, ACC_DTYPE: tl.constexpr, INPUT_PRECISION: tl.constexpr,
    BLOCK_M: tl.constexpr, BLOCK_N: tl.constexpr, BLOCK_K: tl.constexpr, GROUP_M: tl.constexpr,
):  # fmt: skip
    # One program: a [BLOCK_M k] x [BLOCK_N c] tile of dW over one split of the (n, j) reduction.  Split s is
    # images [g * IMAGES_PER_SPLIT, ...) x pixels [piece * PIXELS_PER_SPLIT, ...) with (g, piece) =
    # divmod(s, PIXEL_SPLITS).  The loop is flat over (image, BLOCK_K pixel chunk) pairs; a chunk never
    # crosses an image, so both operand tiles are contiguous along j.  out is dW for one split, else the
    # [splits, K, C] workspace.
    pid_m, pid_n = _grouped_tile(tl.program_id(0), K, C, BLOCK_M, BLOCK_N, GROUP_M)
    split = tl.program_id(1)
    group = split // PIXEL_SPLITS
    piece = split - group * PIXEL_SPLITS
    hw = _aligned(HW, PIX_ALIGN)
    n0 = group * IMAGES_PER_SPLIT
    images = tl.minimum(IMAGES_PER_SPLIT, N - n0)
    j_start = piece * PIXELS_PER_SPLIT
    j_end = tl.minimum(j_start + PIXELS_PER_SPLIT, hw)
    chunks = tl.cdiv(j_end - j_start, BLOCK_K)

    offs_m = pid_m * BLOCK_M + tl.arange(0, BLOCK_M)  # k
    offs_n = pid_n * BLOCK_N + tl.arange(0, BLOCK_N)  # c
    offs_j = tl.max_contiguous(tl.multiple_of(tl.arange(0, BLOCK_K), BLOCK_K), BLOCK_K)
    mask_m = offs_m < K
    mask_n = offs_n < C
    a_offs = offs_m[:, None] * hw + offs_j[None, :]  # dY[n][k, j]
    b_offs = offs_j[:, None] + offs_n[None, :] * hw  # X[n][c, j] read as [j, c]

    acc = tl.zeros((BLOCK_M, BLOCK_N), dtype=ACC_DTYPE)
    for step in range(0, images * chunks):
        i = step // chunks
        j0 = j_start + (step - i * chunks) * BLOCK_K
        n = tl.cast(n0 + i, tl.int64)
        j_ok = offs_j < j_end - j0
        a = tl.load(dy_ptr + n * K * hw + j0 + a_offs, mask=mask_m[:, None] & j_ok[None, :], other=0.0)
        b = tl.load(x_ptr + n * C * hw + j0 + b_offs, mask=j_ok[:, None] & mask_n[None, :], other=0.0)
        acc = tl.dot(a, b, acc, input_precision=INPUT_PRECISION, out_dtype=ACC_DTYPE)

    out = out_ptr + tl.cast(split, tl.int64) * K * C
    tl.store(out + offs_m[:, None] * C + offs_n[None, :], acc.to(out_ptr.dtype.element_ty),
             mask=mask_m[:, None] & mask_n[None, :])


# ---------------------------------------------------------------- Hopper: channels-last A, TMA weight, persistent
#
# The kernels above load both operand tiles with masked, per-lane address arithmetic, and in NCHW the gathered
# activation tile is contiguous along neither axis: one scalar load per element.  For float16 / bfloat16 on sm_90+
# (ladder rungs 5 and 6):
# * the weight is packed once per call per tap (wp[rs*C_PAD + c, k] for the forward, wp[rs*K_PAD + k, c] for
#   backward_input; zero rows and columns past C and K), so every (tap, reduction block) x (column block) tile is
#   one rectangle of a 2-D tensor: a tensor descriptor's load (TMA) copies it into shared memory, in the swizzled
#   layout wgmma reads, without registers for addresses or masks;
# * the activation (x, or dy for backward_input) is transposed once per call to NHWC, so for one tap a GEMM row's
#   channels are contiguous: the A tile is BLOCK_M runs of BLOCK_K elements, loaded as 16-byte cp.async copies
#   when C (K) is a multiple of 8 (C_ALIGN = gcd(C, 8) tells the compiler);
# * the forward's grid is persistent: PROGRAMS_PER_SM programs per SM walk the output tiles (grouped order).
# y and dx stay NCHW.  The NCHW-gather form of these kernels (TMA weight only) is ladder rung 5.


def _set_tma_block(nargs):
    """Autotuner pre-hook: the descriptor's block is the config's (BLOCK_K, BLOCK_N) weight tile."""
    nargs["w_desc"].block_shape = [nargs["BLOCK_K"], nargs["BLOCK_N"]]


#: (BLOCK_M, BLOCK_N, BLOCK_K, warps, stages): wgmma-sized half tiles, each spill-free on sm_90 with HGMMA and UTMALDG
#: under triton 3.6 and 3.9 (3x3 64->64 at 56x56, float16 and bfloat16). Registers, forward | backward_input stride
#: 1 | stride 2, triton 3.6 -- triton 3.9:
#:   128x64x64 8w 3s: 108 | 88 | 92 -- 254 | 198 | 210        128x64x32 8w 3s:  90 | 79 | 87 -- 254 | 192 | 217
#:   64x128x64 8w 3s:  76 | 80 | 87 -- 254 | 163 | 146        64x64x64  4w 3s: 110 | 95 | 95 -- 238 | 168 | 168
#:   128x64x64 8w 4s: 108 | 88 | 92 -- 254 | 198 | 212
#: With 4 warps the 128-row tiles (128x64x64 4w 4s, 64x128x64 4w 4s, 128x64x32 4w 4s) and 128x128x64 (8 warps, 2 or
#: 3 stages) spill 200-1040 B under 3.9 (fine under 3.6: 119-172 registers), so they are not listed.
_NHWC_TILES = [(128, 64, 64, 8, 3), (128, 64, 32, 8, 3), (64, 128, 64, 8, 3), (64, 64, 64, 4, 3), (128, 64, 64, 8, 4)]
_NHWC_CONFIGS = autotune_configs(
    [triton.Config({"BLOCK_M": bm, "BLOCK_N": bn, "BLOCK_K": bk, "GROUP_M": 8}, num_warps=nw, num_stages=ns,
                   pre_hook=_set_tma_block) for bm, bn, bk, nw, ns in _NHWC_TILES],
    triton.Config({"BLOCK_M": 64, "BLOCK_N": 32, "BLOCK_K": 32, "GROUP_M": 2}, num_warps=1, pre_hook=_set_tma_block),
)

#: Rows of the packed weight per tap (C for the forward, K for backward_input) rounded up to the largest BLOCK_K,
#: so a reduction block never crosses a tap.
_TMA_C_ALIGN = 64


@triton.jit
def _pack_weight_kernel(w_ptr, wp_ptr, K, C, RS, ROW_PAD, COL_PAD, numel, BY_K: tl.constexpr, BLOCK: tl.constexpr):
    """Pack w[K, C, R, S] per tap, zero-padded: wp is [R*S*ROW_PAD, COL_PAD].

    forward (BY_K False): wp[rs * ROW_PAD + c, k] = w[k, c, rs]; backward_input (BY_K True): wp[rs * ROW_PAD + k, c]
    = w[k, c, rs]; 0 where c >= C or k >= K.
    """
    offs = tl.program_id(0).to(tl.int64) * BLOCK + tl.arange(0, BLOCK)
    row = offs // COL_PAD
    col = offs - row * COL_PAD
    rs = row // ROW_PAD
    inner = row - rs * ROW_PAD
    if BY_K:
        k = inner
        c = col
    else:
        c = inner
        k = col
    vals = tl.load(w_ptr + k * C * RS + c * RS + rs, mask=(offs < numel) & (c < C) & (k < K), other=0.0)
    tl.store(wp_ptr + offs, vals, mask=offs < numel)


def _packed_weight_desc(w: torch.Tensor, g: ConvGeometry, by_k: bool):
    """Pack ``w`` per tap (:func:`_pack_weight_kernel`) and describe it for TMA: rows padded to a multiple of
    ``_TMA_C_ALIGN`` per tap (a reduction block never crosses a tap), columns to a 16-byte pitch (TMA reads the
    columns past the real count as zeros).  The descriptor's block is set per autotune config."""
    RS = g.R * g.S
    rows, cols = (g.K, g.C) if by_k else (g.C, g.K)
    row_pad = triton.cdiv(rows, _TMA_C_ALIGN) * _TMA_C_ALIGN
    col_pad = triton.cdiv(cols, 16) * 16
    wp = torch.empty((RS * row_pad, col_pad), dtype=w.dtype, device=w.device)
    block = 128 if interpreting() else 1024
    _pack_weight_kernel[(triton.cdiv(wp.numel(), block),)](w, wp, g.K, g.C, RS, row_pad, col_pad, wp.numel(),
                                                           BY_K=by_k, BLOCK=block)
    return TensorDescriptor(wp, shape=[RS * row_pad, cols], strides=[col_pad, 1], block_shape=[32, 32]), row_pad


#: The transpose's tile (channels x pixels); smaller under the interpreter, whose cost is per program.
_TRANSPOSE_BLOCK = (64, 64)
_INTERPRETER_TRANSPOSE_BLOCK = (32, 128)


@triton.jit
def _aligned(n, ALIGN: tl.constexpr):
    """n itself, as an expression the compiler knows to be a multiple of ALIGN (which divides n)."""
    return (n // ALIGN) * ALIGN


@triton.jit
def _nchw_to_nhwc_kernel(x_ptr, xh_ptr, C, HW, PIX_ALIGN: tl.constexpr, C_ALIGN: tl.constexpr,
                         BLOCK_C: tl.constexpr, BLOCK_P: tl.constexpr):
    """xh[n, p, c] = x[n, c, p] (p = h*W + w): one [BLOCK_C, BLOCK_P] tile of one image per program, read along
    pixels, written along channels (the layout change goes through shared memory, both sides coalesce)."""
    hw = _aligned(HW, PIX_ALIGN)
    cc = _aligned(C, C_ALIGN)
    tiles_p = tl.cdiv(hw, BLOCK_P)
    tiles = tiles_p * tl.cdiv(cc, BLOCK_C)
    pid = tl.program_id(0)
    n = pid // tiles
    rest = pid - n * tiles
    tile_c = rest // tiles_p
    tile_p = rest - tile_c * tiles_p
    image = tl.cast(n, tl.int64) * cc * hw  # 64-bit image base; 32-bit offsets inside the image
    offs_c = tile_c * BLOCK_C + tl.arange(0, BLOCK_C)
    offs_p = tl.max_contiguous(tl.multiple_of(tile_p * BLOCK_P + tl.arange(0, BLOCK_P), BLOCK_P), BLOCK_P)
    mask = (offs_c < cc)[:, None] & (offs_p < hw)[None, :]
    tile = tl.load(x_ptr + image + offs_c[:, None] * hw + offs_p[None, :], mask=mask)
    offs_c = tl.max_contiguous(tl.multiple_of(offs_c, BLOCK_C), BLOCK_C)
    tl.store(xh_ptr + image + offs_p[:, None] * cc + offs_c[None, :], tl.trans(tile),
             mask=(offs_p < hw)[:, None] & (offs_c < cc)[None, :])


@triton.autotune(configs=_NHWC_CONFIGS, key=_KEY)
@triton.jit
def _conv2d_forward_nhwc_kernel(
    xh_ptr, w_desc, b_ptr, y_ptr,
    M, C, H, W, K, R, S, P, Q, sh, sw, ph, pw, M_BUCKET, C_PAD,
    HAS_BIAS: tl.constexpr, C_ALIGN: tl.constexpr, ACC_DTYPE: tl.constexpr, INPUT_PRECISION: tl.constexpr,
    WIDE_ROWS: tl.constexpr,
    BLOCK_M: tl.constexpr, BLOCK_N: tl.constexpr, BLOCK_K: tl.constexpr, GROUP_M: tl.constexpr,
):  # fmt: skip
    # Rung 5's persistent forward (program i computes output tiles i, i + programs, ...; B[c, k] of tap rs by TMA
    # from wp[rs * C_PAD + c, k]) with A[(n, p, q), c] = xh[n, h, w, c]: per tap a row is one pixel offset
    # (h*W + w) * C and the channel block is contiguous behind it.
    cc = _aligned(C, C_ALIGN)  # C, known to be a multiple of C_ALIGN: rows start aligned, masks hold per vector
    RS = R * S
    c_steps = tl.cdiv(cc, BLOCK_K)
    offs_c = tl.max_contiguous(tl.multiple_of(tl.arange(0, BLOCK_K), BLOCK_K), BLOCK_K)
    num_tiles = tl.cdiv(M, BLOCK_M) * tl.cdiv(K, BLOCK_N)
    for tile in range(tl.program_id(0), num_tiles, tl.num_programs(0)):
        pid_m, pid_n = _grouped_tile(tile, M, K, BLOCK_M, BLOCK_N, GROUP_M)
        n, p, q, mask_m = _decode_rows(pid_m * BLOCK_M, M, P * Q, Q, BLOCK_M, WIDE_ROWS)
        h0 = p * sh - ph
        w0 = q * sw - pw
        x_img = xh_ptr + n * (H * W * cc)  # 64-bit image base
        acc = tl.zeros((BLOCK_M, BLOCK_N), dtype=ACC_DTYPE)
        for step in range(0, RS * c_steps):
            rs = step // c_steps
            c0 = (step - rs * c_steps) * BLOCK_K
            r = rs // S
            s = rs - r * S
            h = h0 + r
            w = w0 + s
            row_ok = mask_m & (h >= 0) & (h < H) & (w >= 0) & (w < W)
            c_ok = offs_c < cc - c0
            a = tl.load(x_img[:, None] + ((h * W + w) * cc)[:, None] + (c0 + offs_c)[None, :],
                        mask=row_ok[:, None] & c_ok[None, :], other=0.0)
            b = w_desc.load([rs * C_PAD + c0, pid_n * BLOCK_N])
            acc = tl.dot(a, b, acc, input_precision=INPUT_PRECISION, out_dtype=ACC_DTYPE)

        offs_n = pid_n * BLOCK_N + tl.arange(0, BLOCK_N)
        mask_n = offs_n < K
        if HAS_BIAS:
            bias = tl.load(b_ptr + offs_n, mask=mask_n, other=0.0)
            acc += bias.to(ACC_DTYPE)[None, :]
        y_img = y_ptr + n * K * P * Q
        y_ptrs = y_img[:, None] + (p * Q + q)[:, None] + (offs_n * (P * Q))[None, :]
        tl.store(y_ptrs, acc.to(y_ptr.dtype.element_ty), mask=mask_m[:, None] & mask_n[None, :])


@triton.autotune(configs=_NHWC_CONFIGS, key=_KEY)
@triton.jit
def _conv2d_backward_input_nhwc_kernel(
    dyh_ptr, w_desc, dx_ptr,
    M, N, C, H, W, K, R, S, P, Q, sh, sw, ph, pw, M_BUCKET, PHASE0, K_PAD,
    K_ALIGN: tl.constexpr, ACC_DTYPE: tl.constexpr, INPUT_PRECISION: tl.constexpr, WIDE_ROWS: tl.constexpr,
    BLOCK_M: tl.constexpr, BLOCK_N: tl.constexpr, BLOCK_K: tl.constexpr, GROUP_M: tl.constexpr,
):  # fmt: skip
    # Rung 5's backward_input (stride phases on grid axis 1; B[k, c] of tap (a + i*sh, b + j*sw) by TMA from
    # wp[rs * K_PAD + k, c]) with A[(n, t, u), k] = dyh[n, p, q, k]: a row's output channels are contiguous.
    kk = _aligned(K, K_ALIGN)
    a, b, h0, w0, Hp, Wp, Ra, Sb, p_base, q_base = _phase_geometry(PHASE0 + tl.program_id(1), H, W, R,
                                                                               S, sh, sw, ph, pw)
    pid_m, pid_n = _grouped_tile(tl.program_id(0), M, C, BLOCK_M, BLOCK_N, GROUP_M)
    M_phase = N * (Hp * Wp)
    if WIDE_ROWS:
        M_phase = tl.cast(N, tl.int64) * (Hp * Wp)
    n, t, u, mask_m = _decode_rows(pid_m * BLOCK_M, M_phase, Hp * Wp, Wp, BLOCK_M, WIDE_ROWS)
    dy_img = dyh_ptr + n * (P * Q * kk)  # 64-bit image base
    p_row = p_base + t
    q_row = q_base + u
    offs_k = tl.max_contiguous(tl.multiple_of(tl.arange(0, BLOCK_K), BLOCK_K), BLOCK_K)

    acc = tl.zeros((BLOCK_M, BLOCK_N), dtype=ACC_DTYPE)
    k_steps = tl.cdiv(kk, BLOCK_K)
    for step in range(0, Ra * Sb * k_steps):
        tap = step // k_steps
        k0 = (step - tap * k_steps) * BLOCK_K
        i = tap // Sb
        j = tap - i * Sb
        p = p_row - i
        q = q_row - j
        row_ok = mask_m & (p >= 0) & (p < P) & (q >= 0) & (q < Q)
        k_ok = offs_k < kk - k0
        a_tile = tl.load(dy_img[:, None] + ((p * Q + q) * kk)[:, None] + (k0 + offs_k)[None, :],
                         mask=row_ok[:, None] & k_ok[None, :], other=0.0)
        rs = (a + i * sh) * S + b + j * sw
        b_tile = w_desc.load([rs * K_PAD + k0, pid_n * BLOCK_N])
        acc = tl.dot(a_tile, b_tile, acc, input_precision=INPUT_PRECISION, out_dtype=ACC_DTYPE)

    offs_n = pid_n * BLOCK_N + tl.arange(0, BLOCK_N)
    mask_n = offs_n < C
    dx_img = dx_ptr + n * C * H * W
    h = h0 + (p_row - p_base) * sh
    w = w0 + (q_row - q_base) * sw
    dx_ptrs = dx_img[:, None] + (h * W + w)[:, None] + (offs_n * (H * W))[None, :]
    tl.store(dx_ptrs, acc.to(dx_ptr.dtype.element_ty), mask=mask_m[:, None] & mask_n[None, :])


# ---------------------------------------------------------------- launchers


def _gemm_options(dtype: torch.dtype) -> dict:
    """Accumulator type and tl.dot precision for the tensors' dtype."""
    if dtype == torch.float64:
        return {"ACC_DTYPE": tl.float64, "INPUT_PRECISION": "ieee"}
    if dtype == torch.float32 and ALLOW_TF32:
        return {"ACC_DTYPE": tl.float32, "INPUT_PRECISION": "tf32"}
    return {"ACC_DTYPE": tl.float32, "INPUT_PRECISION": "ieee"}


def _check_image_sizes(g: ConvGeometry) -> None:
    """The kernels index inside one image, and inside the weight, with 32-bit offsets."""
    for what, size in (("one image of x (C*H*W)", g.C * g.H * g.W), ("one image of y (K*P*Q)", g.K * g.P * g.Q),
                       ("the weight (K*C*R*S)", g.K * g.C * g.R * g.S)):
        if size > MAX_IMAGE_ELEMENTS:
            raise ValueError(f"{what} has {size} elements; the Triton conv2d kernels support at most 2**31 - 1")


def _wide(rows: int) -> bool:
    """Whether GEMM row indices (plus a block) can pass int32: then the kernels decode rows in 64-bit."""
    return rows + 1024 > 2**31 - 1


def _geometry_args(g: ConvGeometry) -> tuple[int, ...]:
    """The kernels' size arguments after the row count M: C, H, W, K, R, S, P, Q, sh, sw, ph, pw."""
    return g.C, g.H, g.W, g.K, g.R, g.S, g.P, g.Q, g.sh, g.sw, g.ph, g.pw


def _grid(rows: int, cols: int):
    return lambda meta: (triton.cdiv(rows, meta["BLOCK_M"]) * triton.cdiv(cols, meta["BLOCK_N"]),)


def _wgrad_splits(K: int, C: int, R: int, S: int, M: int) -> tuple[int, int]:
    """Split the backward_weight reduction (M = N*P*Q rows) so the grid fills a GPU: (splits, rows per split).

    A 64->64 3x3 layer has only 9 output tiles of 64x64 per tap group; without splitting, 9 programs
    would walk N*P*Q ~ 10^5 rows each.  Aim for ~1024 programs with at least 2048 rows per split; the
    split length is a multiple of 256, so every BLOCK_K divides it.  Depends on the shape only, never on
    the tuned config, so a given shape always sums in the same order.
    """
    tiles = R * S * triton.cdiv(K, 64) * triton.cdiv(C, 64)
    splits = max(1, min(triton.cdiv(1024, tiles), M // 2048, 64))
    split_len = triton.cdiv(triton.cdiv(M, splits), 256) * 256
    return triton.cdiv(M, split_len), split_len


def _is_pointwise(g: ConvGeometry) -> bool:
    """Whether ``g`` is a plain 1x1 layer (1x1 kernel, stride 1, padding 0): ladder rung 4's GEMMs take it."""
    return (g.R, g.S, g.sh, g.sw, g.ph, g.pw) == (1, 1, 1, 1, 0, 0)


def _align(n: int, most: int) -> int:
    """The largest power of two <= ``most`` (a power of two) dividing n: how many elements of a contiguous run a
    vector load may cover (16 pixels for the 1x1 GEMMs, 8 half-precision channels for the channels-last tiles)."""
    return math.gcd(n, most)


def _pointwise_gemm(a: torch.Tensor, b: torch.Tensor, bias: torch.Tensor | None, out: torch.Tensor, M: int, RED: int,
          strides: tuple[int, int], N: int, HW: int) -> torch.Tensor:
    """out[n] = A @ b[n] (+ bias) for every image n, A being ``a`` read through ``strides``."""
    if out.numel() == 0:
        return out
    _pointwise_gemm_kernel[lambda meta: (N * triton.cdiv(M, meta["BLOCK_M"]) * triton.cdiv(HW, meta["BLOCK_N"]),)](
        a, b, bias if bias is not None else a, out,
        M, RED, HW, *strides, size_bucket(N * HW),
        HAS_BIAS=bias is not None, PIX_ALIGN=_align(HW, 16), **_gemm_options(out.dtype),
    )  # fmt: skip
    return out


def _pointwise_forward(x: torch.Tensor, w: torch.Tensor, b: torch.Tensor | None, g: ConvGeometry) -> torch.Tensor:
    """y[n] = W @ X[n] (+ b) on checked arguments whose geometry ``g`` :func:`_is_pointwise`; returns y[N, K, H, W]."""
    y = torch.empty((g.N, g.K, g.H, g.W), dtype=x.dtype, device=x.device)
    return _pointwise_gemm(w, x, b, y, g.K, g.C, (g.C, 1), g.N, g.H * g.W)


def _pointwise_backward_input(dy: torch.Tensor, w: torch.Tensor, g: ConvGeometry) -> torch.Tensor:
    """dx[n] = W^T @ dY[n] on checked arguments whose geometry ``g`` :func:`_is_pointwise`; returns dx[N, C, H, W]."""
    dx = torch.empty((g.N, g.C, g.H, g.W), dtype=dy.dtype, device=dy.device)
    return _pointwise_gemm(w, dy, None, dx, g.C, g.K, (1, g.C), g.N, g.H * g.W)


def _pointwise_wgrad_splits(K: int, C: int, N: int, HW: int) -> tuple[int, int, int, int]:
    """How backward_weight cuts its N*HW reduction: (splits, images per split, pixels per split, pixel splits).

    As production's split plan: aim for ~1024 programs (counting 64x64 dW tiles), at least 2048 rows per
    split, at most 64 splits. With at least as many images as splits a split is a run of whole images;
    with fewer, each image's pixels are cut into ranges of a multiple of 256 pixels. Split s covers images
    [s // pixel_splits * images_per_split, ...) and pixels [s % pixel_splits * pixels_per_split, ...).
    Depends on the shape only, never on the tuned config, so a shape always sums in the same order.
    """
    tiles = triton.cdiv(K, 64) * triton.cdiv(C, 64)
    target = max(1, min(triton.cdiv(1024, tiles), N * HW // 2048, 64))
    granules = triton.cdiv(HW, _PW_SPLIT_GRANULE)
    if target <= N:
        images, pixel_splits = triton.cdiv(N, target), 1
    else:
        images, pixel_splits = 1, min(triton.cdiv(target, N), granules)
    pixels = triton.cdiv(granules, pixel_splits) * _PW_SPLIT_GRANULE
    pixel_splits = triton.cdiv(HW, pixels)
    return triton.cdiv(N, images) * pixel_splits, images, pixels, pixel_splits


def _pointwise_backward_weight(dy: torch.Tensor, x: torch.Tensor, g: ConvGeometry) -> torch.Tensor:
    """dW = sum_n dY[n] @ X[n]^T (deterministic split-K) on checked arguments whose geometry ``g``
    :func:`_is_pointwise`; returns dw[K, C, 1, 1]."""
    dtype = x.dtype
    dw = torch.empty((g.K, g.C, 1, 1), dtype=dtype, device=x.device)
    HW = g.H * g.W
    if g.N * HW == 0:
        return dw.zero_()
    options = _gemm_options(dtype)
    splits, images, pixels, pixel_splits = _pointwise_wgrad_splits(g.K, g.C, g.N, HW)
    acc_dtype = torch.float64 if dtype == torch.float64 else torch.float32
    out = dw if splits == 1 else torch.empty((splits, g.K, g.C), dtype=acc_dtype, device=x.device)

    def grid(meta):
        return (triton.cdiv(g.K, meta["BLOCK_M"]) * triton.cdiv(g.C, meta["BLOCK_N"]), splits)

    _pointwise_wgrad_kernel[grid](
        dy, x, out,
        g.N, g.K, g.C, HW, size_bucket(g.N * HW), images, pixels, pixel_splits,
        PIX_ALIGN=_align(HW, 16), **options,
    )  # fmt: skip
    if splits > 1:
        numel = dw.numel()
        block = 128 if interpreting() else 1024
        _sum_splits_kernel[(triton.cdiv(numel, block),)](out, dw, numel, splits,
                                                                     ACC_DTYPE=options["ACC_DTYPE"], BLOCK=block)
    return dw


def conv2d_forward(x: torch.Tensor, w: torch.Tensor, b: torch.Tensor | None, stride, padding) -> torch.Tensor:
    """Convolve ``x[N, C, H, W]`` with ``w[K, C, R, S]`` plus optional bias ``b[K]``.

    Returns ``y[N, K, P, Q]`` in x's dtype.  Raises TypeError for non-tensor / non-float / mixed dtype
    inputs and ValueError for wrong ndim, wrong device, non-contiguous tensors, mismatched C, a bias
    that is not [K], bad stride/padding, a kernel larger than the padded input, or one image / the
    weight past 2**31 elements.
    """
    g = _checked_forward(x, w, b, stride, padding)
    if _is_pointwise(g):
        return _pointwise_forward(x, w, b, g)
    if _uses_tma(x, g):
        return _nhwc_forward(x, w, b, g)
    return _implicit_gemm_forward(x, w, b, g)


def _checked_forward(x, w, b, stride, padding) -> ConvGeometry:
    """:func:`conv2d_forward`'s argument checks (shared by the ladder's rungs); returns the geometry."""
    check_float_tensor("x", x, 4)
    check_float_tensor("w", w, 4)
    if b is not None:
        check_float_tensor("b", b, 1)
    check_same_dtype(x=x, w=w, b=b)
    g = conv2d_forward_geometry(x.shape, w.shape, None if b is None else b.shape, stride, padding)
    _check_image_sizes(g)
    return g


def _implicit_gemm_forward(x: torch.Tensor, w: torch.Tensor, b: torch.Tensor | None, g: ConvGeometry) -> torch.Tensor:
    """The general forward (any kernel size, stride, padding) on checked arguments of geometry ``g``."""
    y = torch.empty((g.N, g.K, g.P, g.Q), dtype=x.dtype, device=x.device)
    M = g.N * g.P * g.Q
    if M == 0:
        return y
    _conv2d_forward_kernel[_grid(M, g.K)](
        x, w, b if b is not None else w, y,
        M, *_geometry_args(g), size_bucket(M),
        HAS_BIAS=b is not None, WIDE_ROWS=_wide(M), **_gemm_options(x.dtype),
    )  # fmt: skip
    return y


def _tma_device(device: torch.device) -> bool:
    """Whether ``device`` has TMA (sm_90 on); the interpreter emulates tensor descriptors on the CPU."""
    if interpreting():
        return True
    return device.type == "cuda" and torch.cuda.get_device_capability(device)[0] >= 9


def _uses_tma(x: torch.Tensor, g: ConvGeometry) -> bool:
    """The Hopper kernels (forward, backward_input) take float16 / bfloat16 on a TMA-capable device (``USE_TMA``
    switches them off)."""
    return USE_TMA and TensorDescriptor is not None and x.dtype in (torch.float16, torch.bfloat16) and _tma_device(
        x.device)


#: Persistent programs per SM.  Two, not one: the activation tile's loads still wait on memory, and under
#: triton 3.6 a program takes 76-110 registers x 256 threads, so two fit an SM (under 3.9, 238-254 registers:
#: one fits, the second waits -- a short tail).  A guess until a GPU measures 1, 2 and 3.
PROGRAMS_PER_SM = 2


@functools.cache
def _persistent_programs(device_index: int | None) -> int:
    """Programs of a persistent launch (3 under the interpreter, so programs walk several tiles)."""
    if device_index is None:
        return 3
    return PROGRAMS_PER_SM * torch.cuda.get_device_properties(device_index).multi_processor_count


def _nchw_to_nhwc(x: torch.Tensor) -> torch.Tensor:
    """x[N, C, H, W] (contiguous) -> a contiguous [N, H, W, C] copy, by :func:`_nchw_to_nhwc_kernel`."""
    N, C, H, W = x.shape
    xh = torch.empty((N, H, W, C), dtype=x.dtype, device=x.device)
    if xh.numel() == 0:
        return xh
    block_c, block_p = _INTERPRETER_TRANSPOSE_BLOCK if interpreting() else _TRANSPOSE_BLOCK
    grid = (N * triton.cdiv(C, block_c) * triton.cdiv(H * W, block_p),)
    _nchw_to_nhwc_kernel[grid](x, xh, C, H * W, PIX_ALIGN=_align(H * W, 8), C_ALIGN=_align(C, 8), BLOCK_C=block_c,
                               BLOCK_P=block_p)
    return xh


def _nhwc_forward(x: torch.Tensor, w: torch.Tensor, b: torch.Tensor | None, g: ConvGeometry) -> torch.Tensor:
    """The forward on checked float16/bfloat16 arguments of geometry ``g`` on a TMA device: x transposed to NHWC,
    the weight packed for TMA, the persistent NHWC kernel; returns y[N, K, P, Q] (NCHW)."""
    y = torch.empty((g.N, g.K, g.P, g.Q), dtype=x.dtype, device=x.device)
    M = g.N * g.P * g.Q
    if M == 0:
        return y
    xh = _nchw_to_nhwc(x)
    w_desc, c_pad = _packed_weight_desc(w, g, by_k=False)
    programs = _persistent_programs(None if x.device.type != "cuda" else x.device.index or 0)

    def grid(meta):
        return (min(programs, triton.cdiv(M, meta["BLOCK_M"]) * triton.cdiv(g.K, meta["BLOCK_N"])),)

    _conv2d_forward_nhwc_kernel[grid](
        xh, w_desc, b if b is not None else x, y,
        M, *_geometry_args(g), size_bucket(M), c_pad,
        HAS_BIAS=b is not None, C_ALIGN=_align(g.C, 8), WIDE_ROWS=_wide(M),
        **_gemm_options(x.dtype),
    )  # fmt: skip
    return y


def _nhwc_backward_input(dy: torch.Tensor, w: torch.Tensor, g: ConvGeometry) -> torch.Tensor:
    """backward_input on checked float16/bfloat16 arguments of geometry ``g`` on a TMA device: dy transposed to NHWC,
    the weight packed by output channel for TMA, rung 5's stride phases; returns dx[N, C, H, W] (NCHW)."""
    dx = torch.empty((g.N, g.C, g.H, g.W), dtype=dy.dtype, device=dy.device)
    if g.N * g.H * g.W == 0:
        return dx
    dyh = _nchw_to_nhwc(dy)
    w_desc, k_pad = _packed_weight_desc(w, g, by_k=True)
    M = g.N * triton.cdiv(g.H, g.sh) * triton.cdiv(g.W, g.sw)
    tiles = _grid(M, g.C)
    phases = min(g.sh, g.H) * min(g.sw, g.W)
    for phase0 in range(0, phases, MAX_GRID_Y):
        count = min(MAX_GRID_Y, phases - phase0)
        _conv2d_backward_input_nhwc_kernel[lambda meta, count=count: (*tiles(meta), count)](
            dyh, w_desc, dx,
            M, g.N, *_geometry_args(g), size_bucket(M), phase0, k_pad,
            K_ALIGN=_align(g.K, 8), WIDE_ROWS=_wide(M), **_gemm_options(dy.dtype),
        )  # fmt: skip
    return dx


def conv2d_backward_input(dy: torch.Tensor, w: torch.Tensor, input_shape, stride, padding) -> torch.Tensor:
    """Gradient w.r.t. the input: ``dx[N, C, H, W]`` for ``dy[N, K, P, Q]`` and ``w[K, C, R, S]``.

    ``input_shape`` is the forward x's shape (several H give the same P when ``sh > 1``).  Raises
    TypeError / ValueError like :func:`conv2d_forward`, and ValueError when dy's shape does not match
    the output shape implied by input_shape, w, stride and padding.
    """
    g = _checked_backward_input(dy, w, input_shape, stride, padding)
    if _is_pointwise(g):
        return _pointwise_backward_input(dy, w, g)
    if _uses_tma(dy, g):
        return _nhwc_backward_input(dy, w, g)
    return _implicit_gemm_backward_input(dy, w, g)


def _checked_backward_input(dy, w, input_shape, stride, padding) -> ConvGeometry:
    """:func:`conv2d_backward_input`'s argument checks; returns the geometry."""
    check_float_tensor("dy", dy, 4)
    check_float_tensor("w", w, 4)
    check_same_dtype(dy=dy, w=w)
    g = conv2d_backward_input_geometry(dy.shape, w.shape, input_shape, stride, padding)
    _check_image_sizes(g)
    return g


def _implicit_gemm_backward_input(dy: torch.Tensor, w: torch.Tensor, g: ConvGeometry) -> torch.Tensor:
    """The general backward_input (by stride phase) on checked arguments of geometry ``g``."""
    dx = torch.empty((g.N, g.C, g.H, g.W), dtype=dy.dtype, device=dy.device)
    if g.N * g.H * g.W == 0:
        return dx
    # grid (tiles of the largest phase's M rows, phases): only the min(sh, H) * min(sw, W) phases that hold
    # pixels, at most MAX_GRID_Y per launch (more only for strides in the hundreds on images as large)
    M = g.N * triton.cdiv(g.H, g.sh) * triton.cdiv(g.W, g.sw)
    tiles = _grid(M, g.C)
    phases = min(g.sh, g.H) * min(g.sw, g.W)
    for phase0 in range(0, phases, MAX_GRID_Y):
        count = min(MAX_GRID_Y, phases - phase0)
        _conv2d_backward_input_kernel[lambda meta, count=count: (*tiles(meta), count)](
            dy, w, dx,
            M, g.N, *_geometry_args(g), size_bucket(M), phase0,
            WIDE_ROWS=_wide(M), **_gemm_options(dy.dtype),
        )  # fmt: skip
    return dx


def conv2d_backward_weight(dy: torch.Tensor, x: torch.Tensor, weight_shape, stride, padding) -> torch.Tensor:
    """Gradient w.r.t. the weight: ``dw[K, C, R, S]`` for ``dy[N, K, P, Q]`` and ``x[N, C, H, W]``.

    The N*P*Q reduction is split across programs (:func:`_wgrad_splits`) and the partial sums are added
    in a fixed order, so the result is deterministic.  Raises TypeError / ValueError like
    :func:`conv2d_forward`, and ValueError when dy's shape does not match the output shape implied by
    x, weight_shape, stride and padding.
    """
    g = _checked_backward_weight(dy, x, weight_shape, stride, padding)
    if _is_pointwise(g):
        return _pointwise_backward_weight(dy, x, g)
    return _implicit_gemm_backward_weight(dy, x, g)


def _checked_backward_weight(dy, x, weight_shape, stride, padding) -> ConvGeometry:
    """:func:`conv2d_backward_weight`'s argument checks; returns the geometry."""
    check_float_tensor("dy", dy, 4)
    check_float_tensor("x", x, 4)
    check_same_dtype(dy=dy, x=x)
    g = conv2d_backward_weight_geometry(dy.shape, x.shape, weight_shape, stride, padding)
    _check_image_sizes(g)
    return g


def _implicit_gemm_backward_weight(dy: torch.Tensor, x: torch.Tensor, g: ConvGeometry) -> torch.Tensor:
    """The general backward_weight (split-K) on checked arguments of geometry ``g``."""
    dtype = x.dtype
    dw = torch.empty((g.K, g.C, g.R, g.S), dtype=dtype, device=x.device)
    M = g.N * g.P * g.Q
    if M == 0:
        return dw.zero_()
    options = _gemm_options(dtype)
    splits, split_len = _wgrad_splits(g.K, g.C, g.R, g.S, M)
    acc_dtype = torch.float64 if dtype == torch.float64 else torch.float32
    out = dw if splits == 1 else torch.empty((splits, *dw.shape), dtype=acc_dtype, device=x.device)

    def grid(meta):
        return (g.R * g.S * triton.cdiv(g.K, meta["BLOCK_M"]) * triton.cdiv(g.C, meta["BLOCK_N"]), splits)

    _conv2d_backward_weight_kernel[grid](
        dy, x, out,
        M, *_geometry_args(g), size_bucket(M), split_len,
        WIDE_ROWS=_wide(M), **options,
    )  # fmt: skip
    if splits > 1:
        numel = dw.numel()
        block = 128 if interpreting() else 1024
        _sum_splits_kernel[(triton.cdiv(numel, block),)](out, dw, numel, splits, ACC_DTYPE=options["ACC_DTYPE"],
                                                         BLOCK=block)
    return dw


def conv2d_backward_bias(dy: torch.Tensor) -> torch.Tensor:
    """Gradient w.r.t. the bias: ``db[K] = dy.sum over (N, P, Q)`` for ``dy[N, K, P, Q]``."""
    check_float_tensor("dy", dy, 4)
    N, K, P, Q = dy.shape
    db = torch.empty((K,), dtype=dy.dtype, device=dy.device)
    if K == 0:
        return db
    block = 128 if interpreting() else 1024
    _conv2d_backward_bias_kernel[(K,)](dy, db, N, K, P * Q, ACC_DTYPE=_gemm_options(dy.dtype)["ACC_DTYPE"],
                                       BLOCK=block)
    return db
