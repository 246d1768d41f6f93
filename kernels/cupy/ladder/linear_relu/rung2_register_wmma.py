"""Rung 2 -- register micro-tiles and WMMA tensor cores, one shared-memory stage: production before cp.async.

The math is every rung's (``kernels/numpy/linear_relu.py``)::

    x[M, K], w[N, K], b[N] or None  ->  y[M, N] = x @ w.T + b,   then max(y, 0) if relu
    g = dy, set to 0 where y <= 0 when relu, else dy
    dx[M, K] = g @ w,   dw[N, K] = g.T @ x,   db[N] = g.sum(0)

What changes from rung 1 (``rung1_smem_tiling.py``: 16 x 16 output tiles, one output per thread, two shared-memory
loads per multiply-add, no tensor cores):

* **Register micro-tiles.** The block tile grows to 64 x 64 with a BK = 16 (float) / 8 (double) reduction step, and
  each of 256 threads (16 x 16) accumulates a 4 x 4 micro-tile in registers (rows ty + 16 i, cols tx + 16 j): per
  reduction index it loads 4 A and 4 B values from shared memory and does 16 FMAs, so shared memory serves 0.5 loads
  per FMA instead of 2 (a warp's A read is a broadcast of 2 addresses, its B read 16 consecutive words: one wavefront
  each). Each element brought into shared memory is reused 64 times (rung 1: 16).
* **Tensor cores for float16 / bfloat16** (WMMA): 8 warps in a 4 x 2 grid, each a 16 x 32 strip (two 16x16x16
  fragments, fp32 accumulators), BK = 32. The accumulators are staged through a shared 64 x 64 tile so that the
  epilogue (bias + ReLU, coalesced stores) does not depend on the fragments' lane layout; the FMA path uses the same
  staging tile. A GPU without the type's tensor cores runs the FMA path with the same tiles.
* **Grouped tile order.** Tiles are numbered in groups of 8 tile-rows (the Triton matmul tutorial's order), so blocks
  running together share operand panels in L2.

Everything else is rung 1's: one kernel template for the three GEMMs (operand transposition as template flags),
scalar bounds-checked loads into reduction-major shared slabs with the ReLU mask applied on load, one stage (load,
barrier, multiply, barrier), db summed by the dw kernel's first tile-column, no atomics. The kernels are
``rung2_register_wmma.cu`` (``linear_regtile_*``): ``kernels/cupy/linear_relu.cu`` as it was before rung 3's
pipeline, kept as it was; the launch (64 x 64 tiles, 256 threads, the grouped 1-D grid) and the argument checks are
production's (``_forward`` / ``_backward`` of ``kernels/cupy/linear_relu.py``).

Bytes and FLOPs. Each GEMM is 2*rows*cols*red FLOPs; per step a block loads (64 + 64) x BK elements for 64 x 64 x BK
multiply-adds (each element reused 64 times: 16 FLOP per byte in float32 from L2, 32 in float16). Global -> shared
costs every thread 4 (float) / 2 (double) / 8 (half) scalar loads and stores per operand per step, the A stores
transposed; the loads are waited on before the math (nothing in flight during it) and each step needs two barriers.

Prediction (written before any GPU measurement), the running example -- x[8192, 768], w[3072, 768] with bias + ReLU,
on an H200 (132 SMs, ~1.98 GHz, 67 TFLOP/s float32 FMA, ~990 TFLOP/s dense float16 tensor cores, L2 ~5.5-7 TB/s):
float32 forward 1.3-2.0 ms (19-30 TFLOP/s, 30-45% of the FMA peak; rung 1 predicted 5.5-9 ms), backward 2.8-4.5 ms
(dx and dw 1.3-2.2 ms each; dw has 576 blocks, 4.4 per SM: a partial last wave); float16 forward 0.2-0.35 ms
(110-190 TFLOP/s, 11-20% of the tensor-core peak), backward 0.45-0.8 ms; float64 forward 2.5-4 ms (FMA at half rate,
BK = 8). Why: float32 -- per reduction index a warp issues 16 FFMA against 8 LDS wavefronts, so shared memory allows
half the FMA peak; the scalar slab loads (8 loads + 8 stores per thread per step against 256 FMAs), their index math,
two barriers per step and the load latency that only other blocks can cover take it to 30-45%. float16 -- a step's
64 x 64 x 32 tile is ~70 tensor-core cycles of work per SM but 16 + 16 scalar 2-byte loads and stores per thread
(~1,200 warp-instructions per block per step, ~300 issue cycles), plus each step's load latency exposed: the copies,
not the tensor cores, set the time. Measured: not yet -- no GPU has run it.

Static facts (``python -m benchmarks.aot_cuda``, sm_90; float32 / float16 / float64 registers): forward 64 / 57 / 78,
backward_input 64 / 64 / 80, backward_weight 79 / 73 / 100; no spills; shared memory 25,728 / 26,624 / 43,136 B; WMMA
(``wmma.mma.sync``) in every float16 kernel. At 64 registers 4 blocks of 256 threads fit an SM, at 73-80 three.

Verified where: values on the CPU emulator (``KERNELGRAD_CUDA_EMULATE=1``) -- the shared linear_relu tests
(tests/kernels/test_linear_relu.py run every rung; this was production when tests/kernels/cupy/test_linear_relu.py
covered its multi-tile, float16 and bfloat16 paths) and tests/kernels/cupy/test_linear_relu_pipeline.py (rung 3
equals it bit for bit on the emulator); NVRTC compiles it for sm_80 / sm_90 (``python -m benchmarks.aot_cuda``),
nvcc for sm_75 / sm_80 / sm_90. No GPU has run it.
"""

from __future__ import annotations

from typing import Any

from ..._runtime import SourceModule
from ...linear_relu import _backward, _forward

__all__ = ["linear_forward", "linear_backward"]

_KERNELS = ("linear_regtile_forward_kernel", "linear_regtile_backward_input_kernel",
            "linear_regtile_backward_weight_kernel")
MODULE = SourceModule("ladder/linear_relu/rung2_register_wmma.cu",
                      [f"{k}<{t}>" for k in _KERNELS for t in ("__half", "float", "double")])


def linear_forward(x: Any, w: Any, b: Any | None, relu: bool) -> Any:
    """``y[M, N]``; raises TypeError / ValueError exactly as ``kernels.cupy.linear_relu.linear_forward``."""
    return _forward(MODULE, "linear_regtile_forward_kernel", x, w, b, relu)


def linear_backward(dy: Any, x: Any, w: Any, y: Any | None, relu: bool) -> tuple[Any, Any, Any]:
    """``(dx, dw, db)``; raises TypeError / ValueError exactly as ``kernels.cupy.linear_relu.linear_backward``."""
    return _backward(MODULE, ("linear_regtile_backward_input_kernel", "linear_regtile_backward_weight_kernel"),
                     dy, x, w, y, relu)
