"""Rung 0 -- direct convolution: one CUDA thread per output element, a scalar loop over the reduction.

The bottom of the CUDA C conv2d ladder, the baseline every rung above is measured against. Below it there is
only the math (``kernels/numpy/conv2d.py``); nothing is reused on purpose, except what the caches catch::

    x[N, C, H, W], w[K, C, R, S], b[K] or None  ->  y[N, K, P, Q]
    P = (H + 2*ph - R) // sh + 1,   Q = (W + 2*pw - S) // sw + 1
    y[n, k, p, q] = b[k] + sum_{c, r, s} w[k, c, r, s] * xpad[n, c, p*sh + r, q*sw + s]

Each of the four products gets one thread per element of its output, on a 1-D grid over the output's flat
(64-bit) index, in NCHW order, so the 32 lanes of a warp hold 32 consecutive elements:

* forward          thread (n, k, p, q) loops over c, r, s (the window clipped to the real image) and adds
                   x * w in acc_t: float for float16 / float32, double for float64; bias at the end, one
                   rounding to the storage type.
* backward_input   thread (n, c, h, w) loops over the taps (r, s) whose output position p = (h + ph - r) / sh,
                   q = (w + pw - s) / sw divides exactly and lies inside P x Q, and for each over all K output
                   channels: dy[n, k, p, q] * w[k, c, r, s]. Every dx element is written once (no atomics,
                   deterministic; pixels no window reads get exactly 0).
* backward_weight  thread (k, c, r, s) loops over (n, p, q): dy[n, k, p, q] * x[n, c, p*sh - ph + r, q*sw - pw + s].
* backward_bias    thread k loops over (n, p, q): sum of dy[n, k, p, q].

Launch (:func:`_launch`, pure Python): 256-thread blocks (fewer, a multiple of 32, for tiny outputs), one
thread per element, at most 65535 blocks -- past that each thread strides over the rest (grid-stride loop).

Bytes and FLOPs. Every product is 2*N*K*C*R*S*P*Q FLOPs (less the padding taps, which are skipped), and every
multiply-add loads both of its operands with its own load instruction: 2 loads per FMA, 8 bytes per 2 FLOPs in
float32 (0.25 FLOP/byte) requested from L1. DRAM sees far less -- x, w and y are read or written about once when
L1/L2 hold the reuse (each x element is used K*R*S/(sh*sw) times) -- so the kernels are bound by how fast the SM
serves loads and issues the integer index math around them, not by DRAM bandwidth and not by the FMA units.

Prediction (written before any measurement): ResNet's 3x3 64->64 layer at 56x56 (stride 1, padding 1),
N = 32, float32, on an H200: forward and backward_input 1-2 ms each (4-7 TFLOP/s, 6-11% of the 67 TFLOP/s
float32 FMA peak, while DRAM alone would allow 11 us), backward_weight 5-10 ms, backward_bias ~3 ms; float16
about 1.2x and float64 about 1.5x the float32 times. Bound by the SM's load and instruction throughput
(forward, backward_input: memory-bound in L1, not in DRAM) and by too few threads issuing uncoalesced loads
(backward_weight, backward_bias: latency-bound). Measured: not yet (no GPU).

The reasoning. H200 = H100's SM: 132 SMs at ~1.98 GHz, 4 warp-instructions and about one L1 wavefront (a
128-byte line's worth of a warp's load) per cycle per SM, 67 TFLOP/s float32 FMA without tensor cores,
4.8 TB/s HBM, 50 MB L2. The layer: 7.4 GFLOP per product; x and y 25.7 MB each, w 147 KB.

* forward: 3.6e9 multiply-adds (97.6% of the taps are real), 1.13e8 warp-level taps, 8.6e5 per SM. Per
  warp-tap the SM serves two loads -- x, 32 consecutive floats (1-2 wavefronts, 2 when a warp straddles two
  output rows: Q = 56), and w, one address broadcast (1) -- and issues ~10-15 instructions (the FMA, both
  loads, the clipped s-loop's index math and branches; nvcc's PTX of the float kernel has 3 FMAs in ~50
  instructions per (c, r) for S = 3). That is 2-4 cycles per warp-tap: 1.7-3.4e6 cycles, 1-2 ms. L2 -> L1
  traffic (each 256-thread block re-reads ~7 input rows of all 64 channels, ~2.5 GB in all) takes ~0.4 ms,
  not the limit. Occupancy: 56 registers (sm_90) allow 4 blocks = 32 warps per SM, enough to hide L1 hits.
* backward_input: the same taps seen from the other side (per (r, s) a loop over K = 64 channels, dy
  coalesced along w, w broadcast), a simpler inner loop than forward's: 1-2 ms as well.
* backward_weight: only K*C*R*S = 36,864 threads = 144 blocks -- one per SM, two on 12 of them -- each a
  serial loop of N*P*Q = 100,352 taps. A warp's x load touches ~11 lines (32 consecutive (c, r, s) = ~3.5
  channels x 3 rows, 3 adjacent taps each): 8 warps x 100,352 x ~11 wavefronts = 8.8e6 cycles, ~4.5 ms per
  SM, ~9 ms on the SMs holding two blocks: 5-10 ms, the slowest product for the same FLOPs.
* backward_bias: K = 64 threads, one block on one SM of 132; lanes read addresses P*Q*4 = 12.5 KB apart, so
  every warp load touches 32 lines: 2 warps x 100,352 x 32 = 6.4e6 cycles, ~3 ms to read 25.7 MB (DRAM: 5 us).
* float16: the same instruction stream plus two conversions per tap, no tensor cores: ~1.2x. float64: 256-byte
  x loads per warp (2 wavefronts) and half-rate FMA: ~1.5x.

What the rungs above change: rung 1 (``rung1_smem_tiling``) turns each product into an implicit GEMM whose
16 x 16 operand tiles are staged in shared memory and reused 16 times per load, one output per thread; rung 2
adds register micro-tiles (4 x 4 outputs per thread, 64 x 64 tiles), WMMA tensor cores for half precision and
a split-K weight gradient; the top rung (the production kernel, ``kernels/cupy/conv2d.py``) computes
backward_input by stride phase. The tiled rungs are expected to beat this one most on backward_weight and
backward_bias, where rung 0 has almost no parallelism.

Verified where: values on the CPU emulator (``KERNELGRAD_CUDA_EMULATE=1``) -- the shared conv2d tests
(tests/kernels/test_conv2d.py: float32 / float64 against torch in float64, finite differences, bad input) and
tests/kernels/cupy/test_conv2d_rung0.py (float16 in all four products, the grid-stride path, the launch
arithmetic, the production wrapper's errors); compiled ahead of time by NVRTC for sm_80 / sm_90 (registers,
spills, no flush-to-zero: ``python -m benchmarks.aot_cuda``) and by nvcc for sm_75 / sm_80 / sm_90. No GPU
has run it.

Arguments are checked exactly as in ``kernels/cupy/conv2d.py`` (the same ``kernels/_args.py`` geometry, the
same ``_runtime`` checks, the same ValueErrors past its int limits: ``rung0_direct.cu`` keeps the quantities
inside one plane in ints, as ``conv2d.cu`` does, and every offset into a tensor in 64 bits).
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
    "conv2d_direct_forward_kernel",
    "conv2d_direct_backward_input_kernel",
    "conv2d_direct_backward_weight_kernel",
    "conv2d_direct_backward_bias_kernel",
)
MODULE = SourceModule("ladder/conv2d/rung0_direct.cu", [f"{k}<{t}>" for k in _KERNELS for t in _TYPES])

THREADS = 256
#: Grid cap (far below CUDA's 2**31 - 1); past it each thread strides over several elements.
MAX_BLOCKS = 65535


def _launch(total: int) -> tuple[tuple[int], tuple[int]]:
    """``(grid, block)`` for one thread per element of a ``total``-element output (``total >= 1``): THREADS-thread
    blocks (a multiple of 32 that covers a smaller output), at most MAX_BLOCKS of them."""
    threads = min(THREADS, 32 * cdiv(total, 32))
    return (min(cdiv(total, threads), MAX_BLOCKS),), (threads,)


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
    grid, block = _launch(y.size)
    # without a bias w stands in for the pointer and has_bias = 0 makes the kernel ignore it
    MODULE.launch(
        f"conv2d_direct_forward_kernel<{cuda_type(dtype)}>", grid, block,
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
    grid, block = _launch(dx.size)
    MODULE.launch(f"conv2d_direct_backward_input_kernel<{cuda_type(dtype)}>", grid, block, [dy, w, dx, *_i32(*g)])
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
    grid, block = _launch(dw.size)
    MODULE.launch(f"conv2d_direct_backward_weight_kernel<{cuda_type(dtype)}>", grid, block, [dy, x, dw, *_i32(*g)])
    return dw


def conv2d_backward_bias(dy: Any) -> Any:
    """Gradient w.r.t. the bias: ``db[K] = dy.sum over (N, P, Q)`` for ``dy[N, K, P, Q]``."""
    check_float_array("dy", dy, 4, bfloat16=True)
    N, K, P, Q = dy.shape
    _check_below_int_limit("conv2d_backward_bias", {"N": N, "P*Q": P * Q})
    db = _runtime.empty((K,), dy.dtype)
    if K == 0:
        return db
    grid, block = _launch(K)
    MODULE.launch(
        f"conv2d_direct_backward_bias_kernel<{cuda_type(dy.dtype)}>", grid, block, [dy, db, *_i32(N, K, P * Q)],
    )  # fmt: skip
    return db
