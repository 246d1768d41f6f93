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

The kernels and launchers are production's (``kernels/triton/conv2d.py``, section "1x1 layers as GEMMs":
``_pointwise_gemm_kernel``, ``_pointwise_wgrad_kernel``, ``_is_pointwise``, ``_pointwise_forward``, ...), since
production runs them; this rung runs them without the Hopper kernels above it.

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

import torch

from ... import conv2d as _production  # module attributes, so a test may replace a production launcher

__all__ = ["conv2d_forward", "conv2d_backward_input", "conv2d_backward_weight", "conv2d_backward_bias"]


def conv2d_forward(x: torch.Tensor, w: torch.Tensor, b: torch.Tensor | None, stride, padding) -> torch.Tensor:
    """Production's checks; a 1x1 stride-1 unpadded layer runs as a batched GEMM, the rest the implicit GEMM."""
    g = _production._checked_forward(x, w, b, stride, padding)
    if _production._is_pointwise(g):
        return _production._pointwise_forward(x, w, b, g)
    return _production._implicit_gemm_forward(x, w, b, g)


def conv2d_backward_input(dy: torch.Tensor, w: torch.Tensor, input_shape, stride, padding) -> torch.Tensor:
    """Production's checks; a 1x1 stride-1 unpadded layer as a batched GEMM, the rest the stride phases."""
    g = _production._checked_backward_input(dy, w, input_shape, stride, padding)
    if _production._is_pointwise(g):
        return _production._pointwise_backward_input(dy, w, g)
    return _production._implicit_gemm_backward_input(dy, w, g)


def conv2d_backward_weight(dy: torch.Tensor, x: torch.Tensor, weight_shape, stride, padding) -> torch.Tensor:
    """Production's ``conv2d_backward_weight`` (1x1 plain layers by split-K GEMM, the rest the general one)."""
    return _production.conv2d_backward_weight(dy, x, weight_shape, stride, padding)


def conv2d_backward_bias(dy: torch.Tensor) -> torch.Tensor:
    """Production's ``conv2d_backward_bias``: ``db[K] = dy.sum over (N, P, Q)``."""
    return _production.conv2d_backward_bias(dy)
