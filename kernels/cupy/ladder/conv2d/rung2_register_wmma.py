"""Rung 2 -- register micro-tiles, WMMA tensor cores and split-K: rung 3's kernels, backward_input by plain gather.

The math is every rung's (``kernels/numpy/conv2d.py``)::

    x[N, C, H, W], w[K, C, R, S], b[K] or None  ->  y[N, K, P, Q]
    P = (H + 2*ph - R) // sh + 1,   Q = (W + 2*pw - S) // sw + 1
    y[n, k, p, q] = b[k] + sum_{c, r, s} w[k, c, r, s] * xpad[n, c, p*sh + r, q*sw + s]

What changes from rung 1 (``rung1_smem_tiling.py``: 16 x 16 output tiles, one output per thread, two
shared-memory loads per multiply-add, no tensor cores, one block per weight-gradient tile):

* **Register micro-tiles.** The block tile grows to 64 x 64 with a BK = 16 reduction step, and each of 256
  threads (16 x 16) accumulates a 4 x 4 micro-tile in registers: per reduction index it loads 4 A and 4 B
  values from shared memory and does 16 FMAs, so shared memory serves 0.5 loads per FMA instead of 2 (a
  warp's A read is 16 consecutive words, its B read a broadcast of 2: one wavefront each). float32 / float64
  accumulate in float / double.
* **Tensor cores for float16** (WMMA): 128 threads = 4 warps in a 2 x 2 arrangement, each warp a 32 x 32
  sub-tile of 2 x 2 fragments of 16x16x16 with fp32 accumulators, BK = 32; the accumulators are staged
  through shared memory so the epilogue stores along the output's contiguous axis. A GPU without float16
  tensor cores (before sm_70) runs the same tiles and block shape on FMA units (4 x 8 micro-tiles).
* **Split-K for the weight gradient.** When the K x C*R*S tiles are too few to fill the GPU (the ResNet
  3x3 64->64 layer has 9), the N*P*Q reduction is cut into chunks along grid z (up to 64, aiming at 264
  blocks, chunks of at least 2048 indices); each chunk writes fp32 / fp64 partial tiles and a second kernel
  adds them in chunk order -- deterministic, no atomics.

Forward, backward_weight and backward_bias are rung 3's kernels (``rung3_stride_phase.py`` + ``.cu``: production
before rung 4's cp.async pipelining), imported from there. **backward_input** is this rung's own, in its plain form
(rung 3 moved to stride phases): the kernel ``conv2d_gather_backward_input_kernel`` in ``rung2_register_wmma.cu``,
which includes ``rung3_stride_phase.cu`` (and through it ``conv2d.cu``) for the tile machinery above and rung 3's
single-stage main loop, and only adds its problem. GEMM rows are every input pixel (n, h, w), columns c, reduction
every tap (k, r, s); the A gather reads dy[n, k, p, q] with p = (h + ph - r) / sh, q = (w + pw - s) / sw when both
divisions are exact and land inside P x Q, else 0. With stride sh x sw only one tap in sh*sw can be exact for a
pixel: the rest are stride holes, gathered as zeros and multiplied. Every dx element is written once:
deterministic, and pixels that no window reads get exactly 0.

Bytes and FLOPs. Each GEMM is 2*N*K*C*R*S*P*Q useful FLOPs; backward_input here issues 2*N*K*C*R*S*H*W --
about sh*sw times as many (4x on a stride-2 layer), the stride holes included. DRAM traffic is close to
reading each operand once and writing the result once (each block reads BM*D + D*BN elements, mostly L1/L2
hits); split-K adds splits * |dw| partial sums written and read once. Per reduction index a 64 x 64 block
tile reuses each gathered element 64 times (rung 1: 16).

Prediction (written before any GPU measurement), ResNet's 3x3 64->64 layer at 56x56 (stride 1, padding 1), N = 32,
on an H200 (132 SMs, ~1.98 GHz, 67 TFLOP/s float32 FMA): float32 forward 0.33-0.5 ms (15-22 TFLOP/s, 22-33% of the
FMA peak; rung 1 predicted 1.1-1.6 ms), backward_input at stride 1 the same, backward_weight 0.35-0.6 ms (split
into 30 chunks: 270 blocks), backward_bias unchanged from rung 1 (same kernel design). Why not more: the
shared-memory pipe now allows half the FMA peak, but the scalar gathers cost ~8 elements per thread per step, each
with two runtime integer divisions and bounds tests (~40-60 instructions), against 256 FMAs and 128 shared loads,
so about a third of the issue slots are FMAs; 72 registers (float32, sm_90) hold 3 blocks = 24 warps per SM.
float16 on WMMA: 0.12-0.3 ms (25-60 TFLOP/s, 3-6% of the dense tensor-core peak): a 64x64x32 step is ~70-130
tensor-core cycles of work per SM but ~800-1,600 cycles of gather issue (32 elements per thread), so the gathers,
not the tensor cores, set the time -- the next rungs' business (vectorised or cp.async gathers, NHWC).
backward_input of a 3x3 stride-2 layer takes about 4x the time its useful FLOPs need, every tap issued, three in
four of them holes. float64: 0.6-1.0 ms (the FMA path at half rate, 80 registers). Measured: not yet -- no GPU has
run it.

Verified where: values on the CPU emulator (``KERNELGRAD_CUDA_EMULATE=1``) -- the shared conv2d tests
(tests/kernels/test_conv2d.py, which run every rung) and, for the gathers shared with production,
tests/kernels/cupy/test_conv2d.py; tests/kernels/cupy/test_conv2d_phases.py checks that production's
stride-phase backward_input equals this rung's gather bit for bit on the FMA path (float32, float64); compiled
ahead of time by NVRTC for sm_80 / sm_90 (``python -m benchmarks.aot_cuda``: this rung's gather kernel has rung
2's old registers, 64 for float32 on sm_90) and by nvcc for sm_75 / sm_80 / sm_90. No GPU has run it.

Arguments are checked exactly as in ``kernels/cupy/conv2d.py`` (its helpers: the same ValueErrors past the
int limits of ``conv2d.cu``'s header).
"""

from __future__ import annotations

from typing import Any

from ...._args import conv2d_backward_input_geometry
from ... import _runtime
from ..._runtime import SourceModule, check_float_array, check_same_dtype, cuda_type
from ...conv2d import _TYPES, _check_int_sizes, _gemm_launch, _i32
from .rung3_stride_phase import conv2d_backward_bias, conv2d_backward_weight, conv2d_forward

__all__ = ["conv2d_forward", "conv2d_backward_input", "conv2d_backward_weight", "conv2d_backward_bias"]

#: This rung's only kernel of its own; the others are rung 3's (``rung3_stride_phase.MODULE``).
MODULE = SourceModule("ladder/conv2d/rung2_register_wmma.cu", [f"conv2d_gather_backward_input_kernel<{t}>"
                                                               for t in _TYPES])


def conv2d_backward_input(dy: Any, w: Any, input_shape, stride, padding) -> Any:
    """Gradient w.r.t. the input: ``dx[N, C, H, W]`` for ``dy[N, K, P, Q]`` and ``w[K, C, R, S]``, every tap of
    every pixel (stride holes included).

    Raises TypeError / ValueError exactly as ``kernels.cupy.conv2d.conv2d_backward_input``.
    """
    check_float_array("dy", dy, 4, bfloat16=True)
    check_float_array("w", w, 4, bfloat16=True)
    dtype = check_same_dtype(dy=dy, w=w)
    g = conv2d_backward_input_geometry(dy.shape, w.shape, input_shape, stride, padding)
    _check_int_sizes("conv2d_backward_input", g)

    dx = _runtime.empty((g.N, g.C, g.H, g.W), dtype)  # input_shape is positive: never empty
    grid, block = _gemm_launch(g.N * g.H * g.W, g.C, dtype)
    MODULE.launch(f"conv2d_gather_backward_input_kernel<{cuda_type(dtype)}>", grid, block, [dy, w, dx, *_i32(*g)])
    return dx
