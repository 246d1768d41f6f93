"""Rung 4 -- 1x1 convolutions as plain batched GEMMs over NCHW: no gather, no padding mask, no tap loop.

Math: a 1x1 convolution with stride 1 and padding 0 (ResNet's bottleneck layers) maps every pixel on its
own, so over one image it is a matrix product with the pixel axis as the GEMM's contiguous axis::

    x[N, C, H, W], w[K, C, 1, 1], b[K] or None  ->  y[N, K, H, W]           (P = H, Q = W; HW = H*W)
    forward:          Y[n] (K x HW)  = W (K x C) @ X[n] (C x HW)  (+ b[k] on row k)
    backward_input:   dX[n] (C x HW) = W^T (C x K) @ dY[n] (K x HW)
    backward_weight:  dW (K x C)     = sum over n of dY[n] (K x HW) @ X[n]^T (HW x C)

What changes from the rung below (rung 3, production's implicit GEMM, which treats a 1x1 layer like any
other): there the GEMM rows are pixels (n, p, q) decoded per program, the operand tiles are gathered with a
64-bit image base per row, a 2-D row-and-channel mask and, along the reduction, the channel axis strided by
H*W -- so the operand loads are one address per element and never vectorise. Here a program's tile never
leaves one image, so the pixel axis of the tile is a contiguous run of memory behind one 64-bit image base:

* forward and backward_input are one kernel, ``_pointwise_gemm_kernel``: out[n] (M x HW) = A (M x RED) @
  B[n] (RED x HW) (+ bias), with A the weight read through strides (W: M = K, RED = C, strides (C, 1);
  W^T: M = C, RED = K, strides (1, C)). Grid: one axis of N * (M tiles x pixel tiles) programs, decoded to
  (image n, tile inside it), the tiles of an image swept in GROUP_M-row groups column by column so a pixel
  block of B[n] is re-read from L2 while hot. B's tile is [BLOCK_K channels] x [BLOCK_N pixels], the
  pixels contiguous: the loads along HW vectorise (16-byte ``cp.async`` copies into shared memory on
  sm_80/sm_90, the loads feeding ``tl.dot`` being pipelined) -- given the alignment, which the launcher
  states as a constexpr PIX_ALIGN (the largest power of two <= 16 dividing HW): ``hw = HW // PIX_ALIGN *
  PIX_ALIGN`` is HW itself, written so the compiler knows its divisibility (Triton's own specialisation
  only marks int arguments divisible by 16: a 14x14 map has HW = 196 = 4 * 49). The epilogue stores out[n]
  as contiguous pixel runs too.
* backward_weight, ``_pointwise_wgrad_kernel``: a program owns a BLOCK_M x BLOCK_N tile of dW (k, c) and
  one split of the N*HW reduction; both operands, dY[n][k, j] and X[n][c, j], are contiguous along the
  reduction axis j, and a BLOCK_K chunk never crosses an image (the loop is over (image, pixel chunk)
  pairs, one flat loop for the software pipeliner). Split-K as production's: splits from the shape alone
  (whole images per split when there are enough images, else pixel ranges of one image, multiples of 256
  pixels), float32 (float64) partial sums in a [splits, K, C] workspace added in split order by
  production's ``_sum_splits_kernel``: deterministic, no atomics.
* backward_bias is production's.

Addressing: the image base n * C * HW (n * K * HW) is a 64-bit pointer computed once per program (per image
step in backward_weight), so a batch may pass 2**31 elements; offsets inside one image and inside the
weight are 32-bit (production's ``_check_image_sizes`` bounds one image and the weight to 2**31 - 1).

Bytes and FLOPs: 2 * N * K * C * HW FLOPs per pass; compulsory traffic the two operands read once and the
result written once (backward_weight: plus the split workspace, splits * K * C floats written and read).
A 1x1 layer does only K (forward; C backward_input) multiply-adds per input element it reads, so its
arithmetic intensity is low: for ResNet-50's 256->64 at 56x56, batch 32, 3.29 GFLOP against 64.2 MB
(float16: x 51.4 MB, y 12.8 MB) = 51 FLOP/B, 25.6 FLOP/B in float32 -- under the ~200-300 FLOP/B ridge of
an H100/H200's half-precision tensor cores, over the ~14-20 FLOP/B ridge of its FP32 FMA units. The 64->256
layer moves the same bytes the other way (x 12.8 MB in, y 51.4 MB out). Tiles re-read the smaller operand
(the weight, <= 128 KB for these layers) from L2 per program and B[n]'s pixel block once per M tile.

Limits: this rung takes exactly R = S = 1, stride (1, 1), padding (0, 0) (``applies``); every other
geometry -- 3x3, a padded 1x1, ResNet's stride-2 1x1 projection shortcuts -- runs production's implicit
GEMM (the contract functions fall back to it). A strided 1x1 could be added as a GEMM whose pixel axis is
(p, q) -> (p*sh*W + q*sw): no tap loop and no padding either, but its loads are strided by sw elements (half
of every sector wasted at stride 2, no vector loads) and its backward_input leaves 3 of 4 dx pixels zero,
which production's stride phases already handle; the gain would be the gather's address math, not the
memory traffic. Tensors, dtypes, precision (IEEE float32 unless production's ALLOW_TF32; half precision
and float64 as production's ``_gemm_options``) and the argument checks are production's.

Prediction (written before any GPU measurement), ResNet-50's 1x1 256->64 and 64->256 at 56x56, batch 32, on
an H100/H200: float16 / bfloat16 are **memory-bound** (51 FLOP/B) -- forward and backward_input at 55-75% of
HBM bandwidth (a floor of 13 us on an H200's 4.8 TB/s, 19 us on an H100's 3.35 TB/s; so 18-35 us), which is
only 10-20% of the dense tensor-core peak; backward_weight a little lower (50-65%: 64 splits x a handful of
dW tiles is one wave of ~128-256 programs, and the workspace sum is a second, small launch). 1.5-2.5x
faster than rung 3 on the same layers, whose element-wise gathered loads (one address, one 2-byte load per
element, no vectorisation) are issue-bound long before HBM is. IEEE float32 is **FMA-bound** (25.6 FLOP/B):
50-65% of the FP32 FMA peak (75-100 us at ~67 TFLOP/s), 1.1-1.4x rung 3 -- the FMAs dominate both, the
saving is the gather's address math and load instructions. Layers with HW not a multiple of 4 (7x7 = 49)
lose the vector loads (PIX_ALIGN 1) and fall to rung 3's load efficiency, but keep the simpler loop.

Compile facts (static, ahead of time: ``python -m benchmarks.aot_triton``, triton 3.9, no GPU): for both
layers, every config the autotuner can pick compiles without spills -- half precision 71-123 registers with
HGMMA (wgmma) on sm_90 and 96-216 with HMMA on sm_80, IEEE float32 64-124, float64 124-146. In the PTX every
operand load of all three passes is a 16-byte ``cp.async.cg`` into shared memory (``ld.global`` remains
only for the bias), stores are ``st.global.v4`` (``.v2.b64`` in float64); rung 3's general path on the same
256->64 layer loads its gathered x tile with scalar ``ld.global.b16`` in float16 and 4-byte ``cp.async`` in
float32. At 14x14 (PIX_ALIGN 4) the float16 pixel loads are 8-byte ``cp.async``, the weight's 16-byte.
Measured: not yet -- no GPU has run it.
"""

from __future__ import annotations

import math

import torch
import triton
import triton.language as tl

from ... import conv2d as _production  # attributes read inside functions only: production imports this module
from ..._common import gemm_tile_configs, interpreting, prune_by_dtype, size_bucket

__all__ = ["applies", "pointwise_forward", "pointwise_backward_input", "pointwise_backward_weight",
           "conv2d_forward", "conv2d_backward_input", "conv2d_backward_weight", "conv2d_backward_bias"]

#: Tile shapes (BLOCK_M, BLOCK_N, BLOCK_K, warps, stages) per operand class; every one compiles without
#: register spills on sm_90 and sm_80 (benchmarks/aot_triton.py), half precision with HGMMA on sm_90.
_DTYPE_CONFIGS = {
    "half": [(128, 128, 64, 8, 3), (64, 128, 64, 4, 4), (128, 64, 64, 4, 4), (64, 64, 64, 4, 4)],
    "float32": [(64, 64, 32, 8, 3), (64, 32, 32, 4, 4)],
    "float64": [(32, 32, 32, 2, 2)],
}

#: Under the interpreter one config each, sized for its per-program and per-step cost: wide pixel tiles for
#: forward / backward_input, long reduction chunks for backward_weight.
_INTERPRETER_CONFIG = triton.Config({"BLOCK_M": 32, "BLOCK_N": 64, "BLOCK_K": 32, "GROUP_M": 2}, num_warps=1)
_INTERPRETER_WGRAD_CONFIG = triton.Config({"BLOCK_M": 32, "BLOCK_N": 32, "BLOCK_K": 128, "GROUP_M": 2}, num_warps=1)
_CONFIGS = gemm_tile_configs(_DTYPE_CONFIGS, _INTERPRETER_CONFIG)
_WGRAD_CONFIGS = gemm_tile_configs(_DTYPE_CONFIGS, _INTERPRETER_WGRAD_CONFIG)
_PRUNE = {"early_config_prune": prune_by_dtype(_DTYPE_CONFIGS, lambda: _production.ALLOW_TF32, ("a_ptr", "dy_ptr"))}

#: Autotune keys: the layer (channel counts, pixels per image, which operand layout) and the batch's row
#: count as a power-of-two bucket, never the raw batch size (a last partial batch reuses the tuned config).
_KEY = ["M", "RED", "HW", "stride_am", "ROWS_BUCKET"]
_WGRAD_KEY = ["K", "C", "HW", "ROWS_BUCKET"]

#: Split-K granule: a pixel range of one image handed to a backward_weight split is a multiple of this (every
#: BLOCK_K divides it, so chunk starts stay aligned for the vector loads).
_SPLIT_GRANULE = 256


@triton.jit
def _aligned(HW, PIX_ALIGN: tl.constexpr):
    """HW itself, as an expression the compiler knows to be a multiple of PIX_ALIGN (which divides HW)."""
    return (HW // PIX_ALIGN) * PIX_ALIGN


@triton.autotune(configs=_CONFIGS, key=_KEY, prune_configs_by=_PRUNE)
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
    pid_m, pid_n = _production._grouped_tile(pid - n * tiles, M, HW, BLOCK_M, BLOCK_N, GROUP_M)
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


@triton.autotune(configs=_WGRAD_CONFIGS, key=_WGRAD_KEY, prune_configs_by=_PRUNE)
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
    pid_m, pid_n = _production._grouped_tile(tl.program_id(0), K, C, BLOCK_M, BLOCK_N, GROUP_M)
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


# ---------------------------------------------------------------- launchers


def applies(g) -> bool:
    """Whether this rung takes geometry ``g`` (a ``ConvGeometry``): a 1x1 kernel, stride 1, padding 0."""
    return (g.R, g.S, g.sh, g.sw, g.ph, g.pw) == (1, 1, 1, 1, 0, 0)


def _pix_align(HW: int) -> int:
    """The largest power of two <= 16 dividing HW: how many pixels a vector load may cover."""
    return math.gcd(HW, 16)


def _gemm(a: torch.Tensor, b: torch.Tensor, bias: torch.Tensor | None, out: torch.Tensor, M: int, RED: int,
          strides: tuple[int, int], N: int, HW: int) -> torch.Tensor:
    """out[n] = A @ b[n] (+ bias) for every image n, A being ``a`` read through ``strides``."""
    if out.numel() == 0:
        return out
    _pointwise_gemm_kernel[lambda meta: (N * triton.cdiv(M, meta["BLOCK_M"]) * triton.cdiv(HW, meta["BLOCK_N"]),)](
        a, b, bias if bias is not None else a, out,
        M, RED, HW, *strides, size_bucket(N * HW),
        HAS_BIAS=bias is not None, PIX_ALIGN=_pix_align(HW), **_production._gemm_options(out.dtype),
    )  # fmt: skip
    return out


def pointwise_forward(x: torch.Tensor, w: torch.Tensor, b: torch.Tensor | None, g) -> torch.Tensor:
    """y[n] = W @ X[n] (+ b) on checked arguments whose geometry ``g`` :func:`applies`; returns y[N, K, H, W]."""
    y = torch.empty((g.N, g.K, g.H, g.W), dtype=x.dtype, device=x.device)
    return _gemm(w, x, b, y, g.K, g.C, (g.C, 1), g.N, g.H * g.W)


def pointwise_backward_input(dy: torch.Tensor, w: torch.Tensor, g) -> torch.Tensor:
    """dx[n] = W^T @ dY[n] on checked arguments whose geometry ``g`` :func:`applies`; returns dx[N, C, H, W]."""
    dx = torch.empty((g.N, g.C, g.H, g.W), dtype=dy.dtype, device=dy.device)
    return _gemm(w, dy, None, dx, g.C, g.K, (1, g.C), g.N, g.H * g.W)


def _wgrad_splits(K: int, C: int, N: int, HW: int) -> tuple[int, int, int, int]:
    """How backward_weight cuts its N*HW reduction: (splits, images per split, pixels per split, pixel splits).

    As production's split plan: aim for ~1024 programs (counting 64x64 dW tiles), at least 2048 rows per
    split, at most 64 splits. With at least as many images as splits a split is a run of whole images;
    with fewer, each image's pixels are cut into ranges of a multiple of 256 pixels. Split s covers images
    [s // pixel_splits * images_per_split, ...) and pixels [s % pixel_splits * pixels_per_split, ...).
    Depends on the shape only, never on the tuned config, so a shape always sums in the same order.
    """
    tiles = triton.cdiv(K, 64) * triton.cdiv(C, 64)
    target = max(1, min(triton.cdiv(1024, tiles), N * HW // 2048, 64))
    granules = triton.cdiv(HW, _SPLIT_GRANULE)
    if target <= N:
        images, pixel_splits = triton.cdiv(N, target), 1
    else:
        images, pixel_splits = 1, min(triton.cdiv(target, N), granules)
    pixels = triton.cdiv(granules, pixel_splits) * _SPLIT_GRANULE
    pixel_splits = triton.cdiv(HW, pixels)
    return triton.cdiv(N, images) * pixel_splits, images, pixels, pixel_splits


def pointwise_backward_weight(dy: torch.Tensor, x: torch.Tensor, g) -> torch.Tensor:
    """dW = sum_n dY[n] @ X[n]^T (deterministic split-K) on checked arguments whose geometry ``g`` :func:`applies`;
    returns dw[K, C, 1, 1]."""
    dtype = x.dtype
    dw = torch.empty((g.K, g.C, 1, 1), dtype=dtype, device=x.device)
    HW = g.H * g.W
    if g.N * HW == 0:
        return dw.zero_()
    options = _production._gemm_options(dtype)
    splits, images, pixels, pixel_splits = _wgrad_splits(g.K, g.C, g.N, HW)
    acc_dtype = torch.float64 if dtype == torch.float64 else torch.float32
    out = dw if splits == 1 else torch.empty((splits, g.K, g.C), dtype=acc_dtype, device=x.device)

    def grid(meta):
        return (triton.cdiv(g.K, meta["BLOCK_M"]) * triton.cdiv(g.C, meta["BLOCK_N"]), splits)

    _pointwise_wgrad_kernel[grid](
        dy, x, out,
        g.N, g.K, g.C, HW, size_bucket(g.N * HW), images, pixels, pixel_splits,
        PIX_ALIGN=_pix_align(HW), **options,
    )  # fmt: skip
    if splits > 1:
        numel = dw.numel()
        block = 128 if interpreting() else 1024
        _production._sum_splits_kernel[(triton.cdiv(numel, block),)](out, dw, numel, splits,
                                                                     ACC_DTYPE=options["ACC_DTYPE"], BLOCK=block)
    return dw


# ---------------------------------------------------------------- the contract: 1x1 here, the rest production's


def conv2d_forward(x: torch.Tensor, w: torch.Tensor, b: torch.Tensor | None, stride, padding) -> torch.Tensor:
    """Production's ``conv2d_forward`` (same arguments, checks and errors); a 1x1 stride-1 unpadded layer runs
    as a batched GEMM (:func:`pointwise_forward`)."""
    g = _production._checked_forward(x, w, b, stride, padding)
    return pointwise_forward(x, w, b, g) if applies(g) else _production._implicit_gemm_forward(x, w, b, g)


def conv2d_backward_input(dy: torch.Tensor, w: torch.Tensor, input_shape, stride, padding) -> torch.Tensor:
    """Production's ``conv2d_backward_input``; a 1x1 stride-1 unpadded layer runs :func:`pointwise_backward_input`."""
    g = _production._checked_backward_input(dy, w, input_shape, stride, padding)
    return pointwise_backward_input(dy, w, g) if applies(g) else _production._implicit_gemm_backward_input(dy, w, g)


def conv2d_backward_weight(dy: torch.Tensor, x: torch.Tensor, weight_shape, stride, padding) -> torch.Tensor:
    """Production's ``conv2d_backward_weight``; a 1x1 stride-1 unpadded layer runs :func:`pointwise_backward_weight`."""
    g = _production._checked_backward_weight(dy, x, weight_shape, stride, padding)
    return pointwise_backward_weight(dy, x, g) if applies(g) else _production._implicit_gemm_backward_weight(dy, x, g)


def conv2d_backward_bias(dy: torch.Tensor) -> torch.Tensor:
    """Production's ``conv2d_backward_bias``: ``db[K] = dy.sum over (N, P, Q)``."""
    return _production.conv2d_backward_bias(dy)
