"""Rung 1 -- textbook implicit GEMM: gathered operand tiles and tl.dot, a flat reduction decoded by division.

Same math and contract as ``kernels/triton/conv2d.py`` (NCHW, no dilation, no groups)::

    x[N, C, H, W], w[K, C, R, S], b[K] or None  ->  y[N, K, P, Q]
    P = (H + 2*ph - R) // sh + 1,   Q = (W + 2*pw - S) // sw + 1
    y[n, k, p, q] = b[k] + sum_{c, r, s} w[k, c, r, s] * xpad[n, c, p*sh + r, q*sw + s]

What changes from rung 0 (direct convolution: one output element per lane, two scalar loads per
multiply-add): each of the three products becomes a GEMM whose operands are never materialised -- no
im2col matrix. A program owns a BLOCK_M x BLOCK_N tile of the GEMM output, walks the reduction in BLOCK_K
chunks, gathers the two operand tiles straight from NCHW memory with masked loads (out of bounds = padding
= 0) and multiplies them with ``tl.dot`` into an fp32 accumulator (float64 for float64; float32 products
are IEEE, ``input_precision="ieee"``, on FMA units; float16 / bfloat16 run on tensor cores: HMMA on sm_80,
HGMMA = wgmma on sm_90, checked in the SASS ahead of time). Every loaded element now serves BLOCK_N (or
BLOCK_M) multiply-adds instead of one. That is the one idea; everything else is the plainest form of it:

* the reduction index j is **flat** and decoded at every step by integer division and modulo -- the
  division is on the BLOCK_K-long vector, the rest per element of the [BLOCK_M, BLOCK_K] tile: the input
  pixel (h, w) depends on both the row and j, so its address and its four bounds tests are 2-D;
* programs are numbered **row-major** (pid -> (pid // tiles_n, pid % tiles_n)): no GROUP_M swizzle for L2;
* the weight gradient has **no split-K**: one program per dw tile walks the whole N*P*Q reduction;
* one fixed tile per operand class (``_GPU_TILES``), no autotuning.

Production (the top rung; rung 2 is its ideas as a rung) differs on each: its reduction is tap-major ((r, s)
outermost, channels inside), so for one tap the gather is a 1-D row offset plus a 1-D channel offset with a
1-D mask; GROUP_M-grouped program order; split-K for the weight gradient, so small dw grids fill the GPU;
autotuned tile lists per operand class.

* forward:          GEMM M = N*P*Q rows (n, p, q), columns k, reduction j = (c, r, s) -- the weight's own
                    order, so B[j, k] = w[k, j] is a plain [K, C*R*S] matrix read along j.
                    A[m, j] = xpad[n, c, p*sh + r, q*sw + s]: c = j // (R*S), r = j % (R*S) // S, s = j % S;
                    h = p*sh - ph + r and w = q*sw - pw + s per element; bias added in the epilogue; the
                    tile is stored straight into y's NCHW layout.
* backward_input:   GEMM M = N*H*W rows (n, h, w), columns c, reduction j = (k, r, s). A[m, j] = dy[n, k, p, q]
                    with p = (h + ph - r) / sh, q = (w + pw - s) / sw, counted when both divisions are exact
                    and land in [0, P) x [0, Q): *two divisions per tile element*, since (h, r) vary along
                    both axes. Triton compiles an int argument equal to 1 as a constant, so at stride 1 they
                    fold away and only the bounds tests remain. B[j, c] = w[k, c, r, s].
* backward_weight:  dw as a [K, C*R*S] matrix: GEMM rows k, columns i = (c, r, s) flat (decoded once per
                    program), reduction over the N*P*Q output pixels (n, p, q), decoded by division at every
                    step. A[k, j] = dy[n, k, p, q], B[j, i] = xpad[n, c, p*sh - ph + r, q*sw - pw + s], its
                    (h, w) and bounds again per element. Grid: ceil(K / BLOCK_M) * ceil(C*R*S / BLOCK_N)
                    programs, each summing its terms in a fixed order (deterministic, no atomics, no workspace).
* backward_bias:    one program per channel k sums the N planes dy[n, k, :, :], each read contiguously in
                    BLOCK-wide vectors (no division at all).

Bytes and FLOPs: each pass does 2*N*K*C*R*S*P*Q FLOPs (backward_input issues the masked multiplies of the
stride holes too: sh*sw times the useful count). Compulsory traffic is that of production: the pass's two
inputs read once and its output written once. What the tiles re-read comes from the caches: forward
gathers each x element once per column tile and once per tap that covers it (ceil(K/BLOCK_N) * R*S/(sh*sw)
times) and every program reads its BLOCK_N rows of the weight; per step a program loads (BLOCK_M + BLOCK_N)
* BLOCK_K elements for 2*BLOCK_M*BLOCK_N*BLOCK_K FLOPs -- 16 FLOP per byte of L1/L2 traffic for the float32
64x64x16 tile against rung 0's 1/4.

Layout / limits: contiguous NCHW tensors of one dtype on CUDA (on the CPU under TRITON_INTERPRET=1); the
arguments are checked as in production, with the same ValueError / TypeError naming the argument. The
image base n*C*H*W (n*K*P*Q) is a 64-bit pointer per row, so the batch is unbounded; offsets inside one
image and inside the weight are 32-bit, so one image of x or dy (C*H*W, K*P*Q) and the weight (K*C*R*S) are
limited to 2**31 - 1 elements (ValueError past that, as in production). GEMM row indices (N*P*Q, N*H*W,
and backward_weight's reduction index) are decoded in int64 only when they can pass 2**31 (``WIDE_ROWS``):
a 64-bit division is a subroutine call on the GPU. Tiles (BLOCK_M x BLOCK_N x BLOCK_K, warps, stages):
float16 / bfloat16 64x64x32, 8 warps, 3 stages; IEEE float32 64x64x16, 8 warps, 3 stages; float64 32x32x32,
4 warps, 2 stages. Each compiles spill-free for sm_90 and sm_80 (``python -m benchmarks.aot_triton``,
launchers "rung1_implicit_gemm: ..."); the 4-warp tiles production uses (float32 64x32x32, half 64x64x32)
spilled here, mostly in backward_input at stride 2, whose per-element divisions hold more registers. In the
SASS the float32 gathers become cp.async (LDGSTS, 4-byte elements); the 2-byte half gathers stay register
loads (LDG) stored to shared memory for the tensor cores. Under the interpreter one wide tile with few loop
steps, since its cost is per program and per step, not per element.

Prediction, written before any measurement (ResNet's 3x3 64->64 layer, x[32, 64, 56, 56], stride 1,
padding 1, on an H100/H200 SXM: 132 SMs at ~1.98 GHz, ~67 TFLOP/s FP32, ~990 TFLOP/s dense bf16; 7.40 GFLOP
per pass, 144 FLOP per compulsory byte in float32, so compute-bound once operands are reused). A
sub-partition issues one warp instruction per clock, so a loop that issues I instructions per FFMA (float32)
or per tensor-core step caps the kernel. Static counts from the sm_90 SASS of the main loop, per thread and
BLOCK_K step (not measurements): float32 forward 467 instructions for 256 FFMAs; production compiled with
the same 64x64x16 tile issues 468 -- the flat decode is nearly free here, because the division is on a
16-long vector and the per-element mask costs what production's row/channel masks cost. It is not free
where the per-element part grows: bf16 forward 298 vs production's 269 at 64x64x32; backward_input 545 vs
468 (float32) and 425 vs 270 (bf16); at stride 2, 812 (float32) and 925 (bf16).
- forward, float32: issue ceiling 256/467 = 55% of FP32 peak; 1568 programs of 8 warps, ~122 registers so
  two per SM; expect ~30% (~20 TFLOP/s, ~0.35 ms), against rung 0's predicted ~2%. bf16: per step 8 warps x
  298 instructions on 4 schedulers (~600 clocks) against ~70 clocks of tensor-core work, a ceiling of ~11%
  of dense bf16 peak: the gather, not the tensor cores, sets the time; expect 5-8% (~50-80 TFLOP/s, ~0.1-0.15
  ms) -- only ~3x float32, and within ~10% of production compiled with this tile.
- backward_input, stride 1: as forward with the larger loop: float32 ceiling 47%, expect ~25%; bf16 ceiling
  ~8%, expect 4-6%. At stride 2 (1.85 GFLOP useful) the per-element divisions and 3/4 of the multiplies
  landing on stride holes leave ~8% (float32) and <1% (bf16) of peak as useful-FLOP ceilings: expect 4-5%
  and ~0.5%.
- backward_weight: K = 64 rows and C*R*S = 576 columns make 1 x 9 = 9 programs of 64x64 (float32 and half;
  float64's 32x32 tiles make 36) on 132 SMs, each walking all N*P*Q = 100,352 rows (6,272 float32 steps).
  9 SMs work, 123 idle, and each runs 2 warps per scheduler to hide its gather latency: float32 at most
  9/132 x 40% (256 FFMAs in a 635-instruction loop) = 2.7% of peak; expect 1-2% (~6-11 ms). bf16 (566
  instructions per 64x64x32 step): ~0.4% ceiling, expect ~0.2-0.3% (2-4 ms). This is the pass split-K fixes.
- backward_bias: 64 programs on 64 SMs, each streaming its 32 planes of 3,136 contiguous elements in
  1024-wide vectors: latency-bound at a few KB in flight per SM; expect ~0.1 ms for 25.7 MB (float32),
  ~5% of HBM bandwidth (rung 0: ~3 ms).

Measured: not yet -- no GPU has run it.
"""

from __future__ import annotations

import torch
import triton
import triton.language as tl

from ...._args import (
    ConvGeometry,
    conv2d_backward_input_geometry,
    conv2d_backward_weight_geometry,
    conv2d_forward_geometry,
)
from ..._common import check_float_tensor, check_same_dtype, interpreting

__all__ = ["conv2d_forward", "conv2d_backward_input", "conv2d_backward_weight", "conv2d_backward_bias"]

#: One image (C*H*W of x, K*P*Q of dy) and the weight are indexed with 32-bit offsets; batches are not bounded.
MAX_IMAGE_ELEMENTS = 2**31 - 1

#: One fixed tile per operand class on the GPU: (BLOCK_M, BLOCK_N, BLOCK_K, num_warps, num_stages).
_GPU_TILES = {
    "half": (64, 64, 32, 8, 3),  # float16 / bfloat16: tl.dot on tensor cores (mma.sync on sm_80, wgmma on sm_90)
    "float32": (64, 64, 16, 8, 3),  # IEEE float32 on FMA units: operands and accumulator in registers
    "float64": (32, 32, 32, 4, 2),
}
# Under the interpreter a program costs per loop step, whatever its tile: wide tiles, few steps. backward_weight's
# rows are the K output channels and its reduction the N*P*Q pixels; a 32-long reduction chunk still makes the
# tests' layers (N*P*Q up to 64) take more than one step.
_INTERPRETER_TILES = {"gemm": (128, 32, 64, 1, 1), "wgrad": (32, 64, 32, 1, 1)}


@triton.jit
def _rows(pid_m, M, BLOCK_M: tl.constexpr, WIDE_ROWS: tl.constexpr):
    """This program's BLOCK_M GEMM row indices and their mask: int64 when M can pass 2**31 (WIDE_ROWS)."""
    if WIDE_ROWS:
        offs = pid_m.to(tl.int64) * BLOCK_M + tl.arange(0, BLOCK_M)
    else:
        offs = pid_m * BLOCK_M + tl.arange(0, BLOCK_M)
    return offs, offs < M


@triton.jit
def _implicit_gemm_forward_kernel(
    x_ptr, w_ptr, b_ptr, y_ptr,
    M, C, H, W, K, R, S, P, Q, sh, sw, ph, pw,
    HAS_BIAS: tl.constexpr, ACC_DTYPE: tl.constexpr, WIDE_ROWS: tl.constexpr,
    BLOCK_M: tl.constexpr, BLOCK_N: tl.constexpr, BLOCK_K: tl.constexpr,
):  # fmt: skip
    # GEMM rows (n, p, q) of y, columns k, reduction j = (c, r, s) flat -- the weight's own order, so
    # B[j, k] = w[k, j] is a plain [K, C*R*S] matrix and A[m, j] = xpad[n, c, p*sh + r, q*sw + s].
    pid = tl.program_id(0)
    num_pid_n = tl.cdiv(K, BLOCK_N)
    pid_m = pid // num_pid_n  # row-major program order: consecutive programs share a row tile
    pid_n = pid - pid_m * num_pid_n
    offs_m, mask_m = _rows(pid_m, M, BLOCK_M, WIDE_ROWS)
    PQ = P * Q
    n = offs_m // PQ
    pq = (offs_m - n * PQ).to(tl.int32)  # pixel inside one image: < 2**31 by the launcher's check
    p = pq // Q
    q = pq - p * Q
    h0 = p * sh - ph  # top-left input pixel of each row's window (negative inside the padding)
    w0 = q * sw - pw
    HW = H * W
    x_img = x_ptr + n.to(tl.int64) * C * HW  # 64-bit image base; offsets inside an image are 32-bit
    offs_n = pid_n * BLOCK_N + tl.arange(0, BLOCK_N)
    mask_n = offs_n < K
    RS = R * S
    CRS = C * RS
    w_cols = w_ptr + offs_n * CRS

    acc = tl.zeros((BLOCK_M, BLOCK_N), dtype=ACC_DTYPE)
    for j0 in range(0, CRS, BLOCK_K):
        # the flat reduction index, decoded into (c, r, s) by division at every step: the textbook cost
        j = j0 + tl.arange(0, BLOCK_K)
        mask_j = j < CRS
        c = j // RS
        rs = j - c * RS
        r = rs // S
        s = rs - r * S
        # per element of the [BLOCK_M, BLOCK_K] tile: the input pixel, and whether it is inside the image
        h = h0[:, None] + r[None, :]
        w = w0[:, None] + s[None, :]
        inside = (h >= 0) & (h < H) & (w >= 0) & (w < W)
        a = tl.load(x_img[:, None] + (c * HW)[None, :] + h * W + w,
                    mask=mask_m[:, None] & mask_j[None, :] & inside, other=0.0)
        b = tl.load(w_cols[None, :] + j[:, None], mask=mask_j[:, None] & mask_n[None, :], other=0.0)
        acc = tl.dot(a, b, acc, input_precision="ieee", out_dtype=ACC_DTYPE)

    if HAS_BIAS:
        acc += tl.load(b_ptr + offs_n, mask=mask_n, other=0.0).to(ACC_DTYPE)[None, :]
    y_img = y_ptr + n.to(tl.int64) * K * PQ
    y_ptrs = y_img[:, None] + pq[:, None] + (offs_n * PQ)[None, :]
    tl.store(y_ptrs, acc.to(y_ptr.dtype.element_ty), mask=mask_m[:, None] & mask_n[None, :])


@triton.jit
def _implicit_gemm_backward_input_kernel(
    dy_ptr, w_ptr, dx_ptr,
    M, C, H, W, K, R, S, P, Q, sh, sw, ph, pw,
    ACC_DTYPE: tl.constexpr, WIDE_ROWS: tl.constexpr,
    BLOCK_M: tl.constexpr, BLOCK_N: tl.constexpr, BLOCK_K: tl.constexpr,
):  # fmt: skip
    # GEMM rows (n, h, w) of dx, columns c, reduction j = (k, r, s) flat.  A[m, j] = dy[n, k, p, q] with
    # p = (h + ph - r) / sh, q = (w + pw - s) / sw where both divisions are exact and land in [0, P) x [0, Q)
    # (else 0: no window put w[k, c, r, s] on this pixel); B[j, c] = w[k, c, r, s].
    pid = tl.program_id(0)
    num_pid_n = tl.cdiv(C, BLOCK_N)
    pid_m = pid // num_pid_n
    pid_n = pid - pid_m * num_pid_n
    offs_m, mask_m = _rows(pid_m, M, BLOCK_M, WIDE_ROWS)
    HW = H * W
    n = offs_m // HW
    hw = (offs_m - n * HW).to(tl.int32)
    h = hw // W
    w = hw - h * W
    hp = h + ph  # p*sh + r for the (p, r) pairs that read this pixel
    wp = w + pw
    PQ = P * Q
    dy_img = dy_ptr + n.to(tl.int64) * K * PQ
    offs_n = pid_n * BLOCK_N + tl.arange(0, BLOCK_N)
    mask_n = offs_n < C
    RS = R * S
    CRS = C * RS
    KRS = K * RS
    w_cols = w_ptr + offs_n * RS

    acc = tl.zeros((BLOCK_M, BLOCK_N), dtype=ACC_DTYPE)
    for j0 in range(0, KRS, BLOCK_K):
        j = j0 + tl.arange(0, BLOCK_K)
        mask_j = j < KRS
        k = j // RS
        rs = j - k * RS
        r = rs // S
        s = rs - r * S
        # per element: which dy pixel the tap reads -- two more divisions per element unless the stride is 1
        # (Triton compiles an int argument equal to 1 as a constant, and the divisions fold away)
        p_num = hp[:, None] - r[None, :]
        q_num = wp[:, None] - s[None, :]
        p = p_num // sh
        q = q_num // sw
        hit = (p_num >= 0) & (q_num >= 0) & (p * sh == p_num) & (q * sw == q_num) & (p < P) & (q < Q)
        a = tl.load(dy_img[:, None] + (k * PQ)[None, :] + p * Q + q,
                    mask=mask_m[:, None] & mask_j[None, :] & hit, other=0.0)
        b = tl.load(w_cols[None, :] + (k * CRS + rs)[:, None], mask=mask_j[:, None] & mask_n[None, :], other=0.0)
        acc = tl.dot(a, b, acc, input_precision="ieee", out_dtype=ACC_DTYPE)

    dx_img = dx_ptr + n.to(tl.int64) * C * HW
    dx_ptrs = dx_img[:, None] + hw[:, None] + (offs_n * HW)[None, :]
    tl.store(dx_ptrs, acc.to(dx_ptr.dtype.element_ty), mask=mask_m[:, None] & mask_n[None, :])


@triton.jit
def _implicit_gemm_backward_weight_kernel(
    dy_ptr, x_ptr, dw_ptr,
    M, C, H, W, K, R, S, P, Q, sh, sw, ph, pw,
    ACC_DTYPE: tl.constexpr, WIDE_ROWS: tl.constexpr,
    BLOCK_M: tl.constexpr, BLOCK_N: tl.constexpr, BLOCK_K: tl.constexpr,
):  # fmt: skip
    # dw as a [K, C*R*S] matrix: GEMM rows k, columns i = (c, r, s) flat, reduction over the M = N*P*Q output
    # pixels (n, p, q).  A[k, j] = dy[n, k, p, q], B[j, i] = xpad[n, c, p*sh + r, q*sw + s].  No split-K: one
    # program owns one dw tile and walks the whole reduction, in a fixed order (deterministic).
    pid = tl.program_id(0)
    RS = R * S
    CRS = C * RS
    num_pid_n = tl.cdiv(CRS, BLOCK_N)
    pid_m = pid // num_pid_n
    pid_n = pid - pid_m * num_pid_n
    offs_m = pid_m * BLOCK_M + tl.arange(0, BLOCK_M)  # k
    mask_m = offs_m < K
    offs_n = pid_n * BLOCK_N + tl.arange(0, BLOCK_N)  # (c, r, s): decoded once per program
    mask_n = offs_n < CRS
    c = offs_n // RS
    rs = offs_n - c * RS
    r = rs // S
    s = rs - r * S
    HW = H * W
    PQ = P * Q
    dy_rows = offs_m * PQ
    if WIDE_ROWS:
        M_END = tl.cast(M, tl.int64)  # a 64-bit loop index: an int32 one could wrap on its last increment
    else:
        M_END = M

    acc = tl.zeros((BLOCK_M, BLOCK_N), dtype=ACC_DTYPE)
    for j0 in range(0, M_END, BLOCK_K):
        # the reduction's pixels (n, p, q), decoded by division at every step
        j = j0 + tl.arange(0, BLOCK_K)
        mask_j = j < M
        n = j // PQ
        pq = (j - n * PQ).to(tl.int32)
        p = pq // Q
        q = pq - p * Q
        n64 = n.to(tl.int64)
        a = tl.load((dy_ptr + n64 * K * PQ + pq)[None, :] + dy_rows[:, None],
                    mask=mask_m[:, None] & mask_j[None, :], other=0.0)
        # per element of the [BLOCK_K, BLOCK_N] tile: the input pixel, and whether it is inside the image
        h = (p * sh - ph)[:, None] + r[None, :]
        w = (q * sw - pw)[:, None] + s[None, :]
        inside = (h >= 0) & (h < H) & (w >= 0) & (w < W)
        b = tl.load((x_ptr + n64 * C * HW)[:, None] + (c * HW)[None, :] + h * W + w,
                    mask=mask_j[:, None] & mask_n[None, :] & inside, other=0.0)
        acc = tl.dot(a, b, acc, input_precision="ieee", out_dtype=ACC_DTYPE)

    dw_ptrs = dw_ptr + (offs_m * CRS)[:, None] + offs_n[None, :]
    tl.store(dw_ptrs, acc.to(dw_ptr.dtype.element_ty), mask=mask_m[:, None] & mask_n[None, :])


@triton.jit
def _channel_sum_kernel(dy_ptr, db_ptr, N, K, PQ, ACC_DTYPE: tl.constexpr, BLOCK: tl.constexpr):
    # one program per output channel k: db[k] = sum of the N planes dy[n, k, :, :], each read contiguously
    k = tl.program_id(0).to(tl.int64)
    KPQ = tl.cast(K, tl.int64) * PQ  # tl.cast: an int argument equal to 1 is compiled as a constant (no .to)
    plane = dy_ptr + k * PQ
    acc = tl.zeros((BLOCK,), dtype=ACC_DTYPE)
    for _ in range(0, N):
        for j0 in range(0, PQ, BLOCK):
            j = j0 + tl.arange(0, BLOCK)
            acc += tl.load(plane + j, mask=j < PQ, other=0.0).to(ACC_DTYPE)
        plane += KPQ
    tl.store(db_ptr + k, tl.sum(acc, axis=0).to(db_ptr.dtype.element_ty))


# ---------------------------------------------------------------- launchers


def _acc_dtype(dtype: torch.dtype):
    """float64 accumulates in float64; float16 / bfloat16 / float32 in fp32."""
    return tl.float64 if dtype == torch.float64 else tl.float32


def _tile(dtype: torch.dtype, which: str = "gemm") -> tuple[dict, dict]:
    """(tile constexprs, launch options) for the tensors' dtype: the operand class's fixed GPU tile, or the
    interpreter's (``which``: "gemm" for forward / backward_input, "wgrad" for backward_weight)."""
    if interpreting():
        bm, bn, bk, nw, ns = _INTERPRETER_TILES[which]
    else:
        cls = "float64" if dtype == torch.float64 else "float32" if dtype == torch.float32 else "half"
        bm, bn, bk, nw, ns = _GPU_TILES[cls]
    return {"BLOCK_M": bm, "BLOCK_N": bn, "BLOCK_K": bk}, {"num_warps": nw, "num_stages": ns}


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


def conv2d_forward(x: torch.Tensor, w: torch.Tensor, b: torch.Tensor | None, stride, padding) -> torch.Tensor:
    """Convolve ``x[N, C, H, W]`` with ``w[K, C, R, S]`` plus optional bias ``b[K]``.

    Returns ``y[N, K, P, Q]`` in x's dtype.  Raises TypeError for non-tensor / non-float / mixed dtype
    inputs and ValueError for wrong ndim, wrong device, non-contiguous tensors, mismatched C, a bias
    that is not [K], bad stride/padding, a kernel larger than the padded input, or one image / the
    weight past 2**31 elements.
    """
    check_float_tensor("x", x, 4)
    check_float_tensor("w", w, 4)
    if b is not None:
        check_float_tensor("b", b, 1)
    dtype = check_same_dtype(x=x, w=w, b=b)
    g = conv2d_forward_geometry(x.shape, w.shape, None if b is None else b.shape, stride, padding)
    _check_image_sizes(g)

    y = torch.empty((g.N, g.K, g.P, g.Q), dtype=dtype, device=x.device)
    M = g.N * g.P * g.Q
    if M == 0:
        return y
    tile, options = _tile(dtype)
    grid = (triton.cdiv(M, tile["BLOCK_M"]) * triton.cdiv(g.K, tile["BLOCK_N"]),)
    _implicit_gemm_forward_kernel[grid](
        x, w, b if b is not None else w, y,
        M, *_geometry_args(g),
        HAS_BIAS=b is not None, ACC_DTYPE=_acc_dtype(dtype), WIDE_ROWS=_wide(M), **tile, **options,
    )  # fmt: skip
    return y


def conv2d_backward_input(dy: torch.Tensor, w: torch.Tensor, input_shape, stride, padding) -> torch.Tensor:
    """Gradient w.r.t. the input: ``dx[N, C, H, W]`` for ``dy[N, K, P, Q]`` and ``w[K, C, R, S]``.

    ``input_shape`` is the forward x's shape (several H give the same P when ``sh > 1``).  Raises
    TypeError / ValueError like :func:`conv2d_forward`, and ValueError when dy's shape does not match
    the output shape implied by input_shape, w, stride and padding.
    """
    check_float_tensor("dy", dy, 4)
    check_float_tensor("w", w, 4)
    dtype = check_same_dtype(dy=dy, w=w)
    g = conv2d_backward_input_geometry(dy.shape, w.shape, input_shape, stride, padding)
    _check_image_sizes(g)

    dx = torch.empty((g.N, g.C, g.H, g.W), dtype=dtype, device=dy.device)
    M = g.N * g.H * g.W
    if M == 0:
        return dx
    tile, options = _tile(dtype)
    grid = (triton.cdiv(M, tile["BLOCK_M"]) * triton.cdiv(g.C, tile["BLOCK_N"]),)
    _implicit_gemm_backward_input_kernel[grid](
        dy, w, dx,
        M, *_geometry_args(g),
        ACC_DTYPE=_acc_dtype(dtype), WIDE_ROWS=_wide(M), **tile, **options,
    )  # fmt: skip
    return dx


def conv2d_backward_weight(dy: torch.Tensor, x: torch.Tensor, weight_shape, stride, padding) -> torch.Tensor:
    """Gradient w.r.t. the weight: ``dw[K, C, R, S]`` for ``dy[N, K, P, Q]`` and ``x[N, C, H, W]``.

    One program per dw tile sums all N*P*Q terms in a fixed order: deterministic.  Raises TypeError /
    ValueError like :func:`conv2d_forward`, and ValueError when dy's shape does not match the output shape
    implied by x, weight_shape, stride and padding.
    """
    check_float_tensor("dy", dy, 4)
    check_float_tensor("x", x, 4)
    dtype = check_same_dtype(dy=dy, x=x)
    g = conv2d_backward_weight_geometry(dy.shape, x.shape, weight_shape, stride, padding)
    _check_image_sizes(g)

    dw = torch.empty((g.K, g.C, g.R, g.S), dtype=dtype, device=x.device)
    M = g.N * g.P * g.Q
    if M == 0:
        return dw.zero_()
    tile, options = _tile(dtype, "wgrad")
    grid = (triton.cdiv(g.K, tile["BLOCK_M"]) * triton.cdiv(g.C * g.R * g.S, tile["BLOCK_N"]),)
    _implicit_gemm_backward_weight_kernel[grid](
        dy, x, dw,
        M, *_geometry_args(g),
        ACC_DTYPE=_acc_dtype(dtype), WIDE_ROWS=_wide(M), **tile, **options,
    )  # fmt: skip
    return dw


def conv2d_backward_bias(dy: torch.Tensor) -> torch.Tensor:
    """Gradient w.r.t. the bias: ``db[K] = dy.sum over (N, P, Q)`` for ``dy[N, K, P, Q]``."""
    check_float_tensor("dy", dy, 4)
    N, K, P, Q = dy.shape
    db = torch.empty((K,), dtype=dy.dtype, device=dy.device)
    if K == 0:
        return db
    if N * P * Q == 0:
        return db.zero_()
    block = 128 if interpreting() else 1024
    _channel_sum_kernel[(K,)](dy, db, N, K, P * Q, ACC_DTYPE=_acc_dtype(dy.dtype), BLOCK=block, num_warps=8)
    return db
