"""Rung 1 -- shared-memory tiled implicit GEMM: one output element per thread, operand tiles staged in shared memory.

The CUDA SGEMM worklog's "shared memory blocking" step (kernel 3) applied to convolution. The math is every
rung's (``kernels/numpy/conv2d.py``)::

    x[N, C, H, W], w[K, C, R, S], b[K] or None  ->  y[N, K, P, Q]
    P = (H + 2*ph - R) // sh + 1,   Q = (W + 2*pw - S) // sw + 1
    y[n, k, p, q] = b[k] + sum_{c, r, s} w[k, c, r, s] * xpad[n, c, p*sh + r, q*sw + s]

What changes from rung 0 (``rung0_direct.py``: one thread per output, both operands of every multiply-add loaded
from global memory, reuse left to the caches): each product is written as a GEMM ``out[M, Ncols] = A[M, D] @
B[D, Ncols]`` whose operands are gathered from the NCHW tensors on the fly (no im2col buffer), and a block of
16 x 16 threads owns a 16 x 16 tile of ``out``. Per step of the reduction every thread gathers one element of
the A slice and one of the B slice into shared memory (zero for padding, stride holes and indices past the
edges), the block synchronises, and each thread adds the 16 products of its own output -- so every element
fetched from global memory is used by 16 threads, on purpose rather than by luck of the cache:

* forward          M = N*P*Q rows (n, p, q), Ncols = K, D = C*R*S; A = xpad gathered through the window,
                   B[j, k] = w[k, j]; bias added at the end.
* backward_input   M = N*H*W rows (n, h, w), Ncols = C, D = K*R*S; A = dy where p = (h + ph - r) / sh and
                   q = (w + pw - s) / sw divide exactly and land inside P x Q (else 0), B = w[k, c, r, s].
                   Every dx element is written once: deterministic, and pixels no window reads get exactly 0.
* backward_weight  M = K, Ncols = C*R*S, D = N*P*Q; A = dy, B = xpad. No split-K in this rung: one block per
                   16 x 16 tile of dw walks the whole N*P*Q reduction.
* backward_bias    not a GEMM: one block of 256 threads per output channel, strided sums then a fixed-order
                   tree in shared memory (rung 0 gave each channel a single thread).

Threads and tiles (:func:`_gemm_launch`, pure Python): blocks of (TILE, TILE) = (16, 16) threads, grid
(ceil(M / 16), ceil(Ncols / 16)) capped at (2**31 - 1, 65535) -- past the cap each block strides over several
tiles. Why 16: (1) whatever the tile, one output per thread costs 2 shared-memory loads per multiply-add, so a
larger tile buys nothing in the inner loop; it only amortises the gather (1/TILE of the work: 1/16 here);
(2) 256 threads = 8 warps, several blocks per SM to hide each other's barriers (32 x 32 = 1024 threads would
leave one or two); (3) backward_weight has no split-K here, so its grid is only K/16 x C*R*S/16 blocks: 144 on
the ResNet 3x3 64->64 layer (132 SMs on an H200), 36 with 32 x 32 tiles; (4) 16 is half a warp: a warp covers
16 x 2 outputs, so each shared read is 16 consecutive words or a broadcast of 2 -- one wavefront, no bank
conflicts (tiles padded to 17 columns: a gather's column write takes 2 wavefronts instead of 8). Shared memory per
block: 2 x 16 x 17 elements of the accumulation type (float for float16/float32, double for float64: a float16
element is widened once when gathered), 2,176 / 4,352 bytes; accumulation in float (float16, float32) or
double (float64), one rounding to the storage type at the end.

Bytes and FLOPs. Each GEMM is 2*N*K*C*R*S*P*Q FLOPs, now including the padding taps (multiplied as zeros:
2.4% of the ResNet layer's forward taps) and, in backward_input, the stride holes (sh*sw times the FLOPs).
Per step a block reads 2 x 256 elements from global memory for 16^3 multiply-adds: each loaded element is
reused TILE = 16 times, 4 FLOP per byte requested from L1/L2 in float32 (rung 0: 0.25). Shared memory serves
2 loads per multiply-add, 0.25 FLOP per byte in float32 -- exactly the ratio rung 0 had with L1.

Prediction (written before any measurement): ResNet's 3x3 64->64 layer at 56x56 (stride 1, padding 1), N = 32,
float32, on an H200: forward 1.1-1.6 ms (4.6-6.7 TFLOP/s, 7-10% of the 67 TFLOP/s float32 FMA peak), no
faster than rung 0's 1-2 ms beyond the error of either prediction; backward_input 1.2-1.8 ms; backward_weight
2.5-3.5 ms (about 4% of peak, 2-3x faster than rung 0); backward_bias 0.1-0.3 ms (rung 0: ~3 ms); float16
within 10% of float32, float64 1.0-1.3x. Why: with one output per thread every multiply-add still needs two
operands from memory, now two shared-memory loads instead of two L1 loads, and an SM serves about one
shared-memory wavefront (a warp's 32 words) per cycle while it can issue four warp FMAs: the shared-memory
pipe caps the kernel at 1/8 of the FMA peak, and the gathers' global loads and stores through the same pipe
lower that to ~1/10. The gains are where rung 0 had no parallelism (backward_weight, backward_bias), not in
the FMA rate; register tiling (rung 2) is what breaks the 2-loads-per-FMA ceiling. Measured: not yet -- no
GPU has run it.

The reasoning. H200 = H100's SM: 132 SMs at ~1.98 GHz; per SM and cycle 4 warp-instructions, 4 warp-FMAs
(128 float32 lanes: 67 TFLOP/s), and one wavefront (128 bytes) of shared memory / L1. The layer: 7.4 GFLOP per
product, M = 100,352, D = 576.

* forward: 6,272 x 4 = 25,088 blocks, 36 reduction steps each. Per step a warp issues 16 FFMA and 32 LDS (each
  one wavefront: As[kk][16 consecutive] or Bs[kk][2 addresses], a broadcast), 2 STS and 2 global loads (x: 16
  consecutive q for 2 taps, 2-4 wavefronts; w: 16 consecutive taps for 2 filters, 2), ~40 wavefronts in all,
  plus the gather's index math (two int divisions j / RS and rs / S, the bounds tests, a 64-bit address:
  ~50-60 instructions). Shared-memory/L1 pipe: 40 wavefronts per 16 warp-FMAs = 0.4 warp-FMA per cycle, 10% of
  the 4 the FMA units take; issue (~115 instructions per warp-step, 4 per cycle) needs ~29 cycles per 40
  wavefronts: not the limit. 1.16e8 warp-FMAs / 132 SMs / 0.4 per cycle = 2.2e6 cycles = 1.1 ms; up to 1.6 ms
  for imperfect overlap of the barriers. Occupancy: 32 registers (float, sm_90; 36-40 for backward_input and
  float64) allow 8 blocks of 256 threads per SM (6 at 40), enough to hide the gathers' L1/L2 latency behind
  other blocks' inner loops. Rung 0, for comparison, was bound by the
  same ~2-2.5 load wavefronts per FMA in L1 plus more index math: the two should land close together.
* backward_input: the same GEMM shape with two more int divisions and two modulos per A gather (the exact-
  division test: sh and sw are runtime values): issue (~140 instructions per warp-step, ~35 cycles) about
  meets the pipe's 40 wavefronts: 1.2-1.8 ms.
* backward_weight: only 4 x 36 = 144 blocks, 6,272 steps each; 120 SMs hold one block (8 warps), 12 hold two.
  With one block per SM nothing overlaps a step's gather latency (dy and x from L2, ~400-600 cycles, the whole
  block waiting at the barrier) with another block's math: ~500 cycles of latency + 8 warps x 32 LDS = 256
  wavefronts + barriers, ~700-900 cycles a step: 4.4-5.6e6 cycles, 2.2-2.9 ms, plus the SMs holding two blocks:
  2.5-3.5 ms. Rung 2's split-K (the reduction cut over a grid axis) is what fills the chip here.
* backward_bias: 64 blocks of 8 warps on 64 SMs, each reading 100,352 elements (401 KB, contiguous within an
  image). The loop is not unrolled and each add waits for its load, so a warp has one coalesced 128-byte load
  in flight: ~1 KB per SM per ~0.3-0.5 us of L2/DRAM latency, 2-3 GB/s per SM, 0.1-0.3 ms.
* float16: the same instructions (the tiles hold float; one conversion per gathered element, not per use):
  within 10%. float64: the same shared-memory wavefronts per FMA (16 consecutive doubles are 128 bytes), FMA at
  half rate still above 0.4 per cycle: 1.0-1.3x.

What the rung above changes: rung 2 (the production kernel, ``kernels/cupy/conv2d.py``: ``rung2_register_wmma``)
gives each of 256 threads a 4 x 4 register micro-tile of a 64 x 64 block tile -- 8 shared loads per 16 FMAs,
a quarter of this rung's -- float16 tensor cores (WMMA), and split-K for backward_weight.

Verified where: values on the CPU emulator (``KERNELGRAD_CUDA_EMULATE=1``) -- the shared conv2d tests
(tests/kernels/test_conv2d.py: float32 / float64 against torch in float64, finite differences, bad input) and
tests/kernels/cupy/test_conv2d_rung1.py (several tiles with remainders in every dimension, padding on both
edges, stride 2, tiles spanning images, float16 in all four products, the grid-stride path past a capped grid
bit for bit, the launch arithmetic, the production wrapper's errors); compiled ahead of time by NVRTC for
sm_80 / sm_90 (registers, spills, shared memory, no flush-to-zero: ``python -m benchmarks.aot_cuda``) and by
nvcc for sm_75 / sm_80 / sm_90. No GPU has run it.

Arguments are checked exactly as in ``kernels/cupy/conv2d.py`` (the same ``kernels/_args.py`` geometry, the
same ``_runtime`` checks, the same ValueErrors past its int limits: N, H*W, P*Q, H + 2*ph, W + 2*pw and
K*C*R*S below 2**31 - 64, because ``rung1_smem_tiling.cu`` keeps quantities inside one plane in ints, and every
offset into a tensor, M and N*P*Q in 64 bits).
"""

from __future__ import annotations

from typing import Any

from ...._args import conv2d_backward_input_geometry, conv2d_backward_weight_geometry, conv2d_forward_geometry
from ... import _runtime
from ..._runtime import SourceModule, cdiv, check_float_array, check_same_dtype, cuda_type
from ...conv2d import _check_below_int_limit, _check_int_sizes, _i32

__all__ = ["conv2d_forward", "conv2d_backward_input", "conv2d_backward_weight", "conv2d_backward_bias"]

_TYPES = ("__half", "float", "double", "__nv_bfloat16")  # bfloat16: a BFloat16Array
_KERNELS = (
    "conv2d_smem_forward_kernel",
    "conv2d_smem_backward_input_kernel",
    "conv2d_smem_backward_weight_kernel",
    "conv2d_smem_backward_bias_kernel",
)
MODULE = SourceModule("ladder/conv2d/rung1_smem_tiling.cu", [f"{k}<{t}>" for k in _KERNELS for t in _TYPES])

#: Tile edge: (TILE, TILE)-thread blocks, TILE x TILE output tiles, TILE reduction indices a step. Must match
#: ``TILE`` in rung1_smem_tiling.cu.
TILE = 16
#: Threads of the bias kernel's block (``BIAS_THREADS`` in the .cu).
BIAS_THREADS = 256
#: Grid cap (CUDA's limits on x and y); past it each block strides over several tiles.
MAX_GRID = (2**31 - 1, 65535)


def _gemm_launch(rows: int, cols: int) -> tuple[tuple[int, int], tuple[int, int]]:
    """``(grid, block)`` for a ``rows x cols`` GEMM output (both >= 1): one (TILE, TILE) block per output tile,
    rows along grid x, columns along grid y, each capped at MAX_GRID."""
    return (min(cdiv(rows, TILE), MAX_GRID[0]), min(cdiv(cols, TILE), MAX_GRID[1])), (TILE, TILE)


def conv2d_forward(x: Any, w: Any, b: Any | None, stride, padding) -> Any:
    """Convolve ``x[N, C, H, W]`` with ``w[K, C, R, S]`` plus optional bias ``b[K]``: ``y[N, K, P, Q]`` in x's dtype.

    Raises TypeError / ValueError exactly as ``kernels.cupy.conv2d.conv2d_forward``.
    """
    check_float_array("x", x, 4, bfloat16=True)
    check_float_array("w", w, 4, bfloat16=True)
    if b is not None:
        check_float_array("b", b, 1, bfloat16=True)
    dtype = check_same_dtype(x=x, w=w, b=b)
    g = conv2d_forward_geometry(x.shape, w.shape, None if b is None else b.shape, stride, padding)
    _check_int_sizes("conv2d_forward", g)

    y = _runtime.empty((g.N, g.K, g.P, g.Q), dtype)
    if y.size == 0:  # an empty batch: a grid of zero blocks is not a valid launch
        return y
    grid, block = _gemm_launch(g.N * g.P * g.Q, g.K)
    # without a bias w stands in for the pointer and has_bias = 0 makes the kernel ignore it
    MODULE.launch(
        f"conv2d_smem_forward_kernel<{cuda_type(dtype)}>", grid, block,
        [x, w, b if b is not None else w, y, *_i32(*g, b is not None)],
    )  # fmt: skip
    return y


def conv2d_backward_input(dy: Any, w: Any, input_shape, stride, padding) -> Any:
    """Gradient w.r.t. the input: ``dx[N, C, H, W]`` for ``dy[N, K, P, Q]`` and ``w[K, C, R, S]``.

    Raises TypeError / ValueError exactly as ``kernels.cupy.conv2d.conv2d_backward_input``.
    """
    check_float_array("dy", dy, 4, bfloat16=True)
    check_float_array("w", w, 4, bfloat16=True)
    dtype = check_same_dtype(dy=dy, w=w)
    g = conv2d_backward_input_geometry(dy.shape, w.shape, input_shape, stride, padding)
    _check_int_sizes("conv2d_backward_input", g)

    dx = _runtime.empty((g.N, g.C, g.H, g.W), dtype)  # input_shape is positive: never empty
    grid, block = _gemm_launch(g.N * g.H * g.W, g.C)
    MODULE.launch(f"conv2d_smem_backward_input_kernel<{cuda_type(dtype)}>", grid, block, [dy, w, dx, *_i32(*g)])
    return dx


def conv2d_backward_weight(dy: Any, x: Any, weight_shape, stride, padding) -> Any:
    """Gradient w.r.t. the weight: ``dw[K, C, R, S]`` for ``dy[N, K, P, Q]`` and ``x[N, C, H, W]``.

    Raises TypeError / ValueError exactly as ``kernels.cupy.conv2d.conv2d_backward_weight``.
    """
    check_float_array("dy", dy, 4, bfloat16=True)
    check_float_array("x", x, 4, bfloat16=True)
    dtype = check_same_dtype(dy=dy, x=x)
    g = conv2d_backward_weight_geometry(dy.shape, x.shape, weight_shape, stride, padding)
    _check_int_sizes("conv2d_backward_weight", g)

    dw = _runtime.empty((g.K, g.C, g.R, g.S), dtype)  # weight_shape is positive; N = 0 sums nothing: zeros
    grid, block = _gemm_launch(g.K, g.C * g.R * g.S)
    MODULE.launch(f"conv2d_smem_backward_weight_kernel<{cuda_type(dtype)}>", grid, block, [dy, x, dw, *_i32(*g)])
    return dw


def conv2d_backward_bias(dy: Any) -> Any:
    """Gradient w.r.t. the bias: ``db[K] = dy.sum over (N, P, Q)`` for ``dy[N, K, P, Q]``."""
    check_float_array("dy", dy, 4, bfloat16=True)
    N, K, P, Q = dy.shape
    _check_below_int_limit("conv2d_backward_bias", {"N": N, "P*Q": P * Q})
    db = _runtime.empty((K,), dy.dtype)
    if K == 0:
        return db
    args = [dy, db, *_i32(N, K, P * Q)]  # K fits an int (checked here), so the grid of K blocks is legal
    MODULE.launch(f"conv2d_smem_backward_bias_kernel<{cuda_type(dy.dtype)}>", (K,), (BIAS_THREADS,), args)
    return db
