"""Rung 4 -- ``cp.async`` multi-stage pipelining, element by element (``rung4_cp_async.cu``).

The math is every rung's (``kernels/numpy/conv2d.py``)::

    x[N, C, H, W], w[K, C, R, S], b[K] or None  ->  y[N, K, P, Q]
    P = (H + 2*ph - R) // sh + 1,   Q = (W + 2*pw - S) // sw + 1
    y[n, k, p, q] = b[k] + sum_{c, r, s} w[k, c, r, s] * xpad[n, c, p*sh + r, q*sw + s]

What changes from rung 3 (``rung3_stride_phase.py``: the same three implicit GEMMs, tiles, stride phases and
WMMA / FMA math, with a single-stage loop -- gather step d with ordinary loads, wait for them, store to shared,
barrier, multiply, barrier): the reduction runs through STAGES shared-memory stages (``pipelined_reduction`` in
``conv2d.cu``). Every gathered element of float / double is copied global -> shared by ``cp.async`` (4 or 8
bytes, ``.ca``: the overlapping windows reread x / dy lines from L1), padding and out-of-range elements by its
zero-fill form (src-size 0: no read, zeros written); the copies of step d + STAGES - 1 are issued before the
math of step d, so a thread no longer waits for its loads before it multiplies: up to STAGES - 1 steps of
gathers are in flight behind the FMAs. One barrier per step instead of two. Stages: float 3 (3 x 8,320 B),
double 2 (three would pass the 48 KB static limit), float16 2 -- there is no 2-byte ``cp.async``, so half
elements stay ordinary loads inside the pipelined loop (a deeper pipeline would hide nothing; two stages save
the second barrier) and the WMMA epilogue's fp32 staging tile now reuses the stages' memory (18,432 B instead
of 26,624 B). Below sm_80 (no ``cp.async``) the same loop compiles with ordinary loads (``__CUDA_ARCH__``), so
NVRTC / nvcc for sm_75 still build it. Nothing else changes: the same adds in the same order, so float32 /
float64 results are bit for bit rung 3's.

Bytes and FLOPs: unchanged from rung 3 (2*N*K*C*R*S*P*Q FLOPs per GEMM, DRAM traffic close to each operand once);
what changes is when the bytes move. Per step a float block issues 2 x 16 x 64 = 2,048 four-byte cp.async (8 per
thread) against 16 x 64 x 64 = 65,536 FMAs.

Limits: a 2-byte element has no ``cp.async`` form (rung 5's 16-byte vectors of a packed weight give float16's
weight operand asynchronous copies); the gathers still decode (c, r, s) with two integer divisions per element.
Registers rose with the pipeline's state (sm_90 report: float forward 96 instead of rung 3's 80, backward_input 78
vs 72, backward_weight 72 vs 64; float16 forward 117 vs 96, backward_input 80, backward_weight 96 vs 94); no
spills.

Prediction (written before any GPU measurement), ResNet's 3x3 64->64 layer at 56x56 (stride 1, padding 1), N = 32,
on an H200: float32 forward 0.28-0.45 ms, 10-25% faster than rung 3 -- not the 2x a hidden memory latency could
suggest: rung 3 already had 3 blocks (24 warps) per SM to cover each other's loads, and its time is mostly
gather issue (~40-60 integer instructions per element against 2 FMAs), which cp.async does not remove (the
address arithmetic is the same, only the wait and the register round trip of each element go). The 96 registers
cost a block per SM (2 x 256 threads instead of 3), which takes back part of the gain; if the measurement shows
no gain, that occupancy loss is the first suspect (``__launch_bounds__(256, 3)`` would force <= 85). backward_input
and backward_weight float32 the same 10-25%. float64 within 5% of rung 3 (FMA-bound at half rate already).
float16 on WMMA within 5% of rung 3 either way: its gathers stay ordinary loads, the one barrier saved per step
against 117 registers on sm_90 (4 blocks per SM instead of 5). Measured: not yet -- no GPU has run it.

Verified where: values on the CPU emulator (``KERNELGRAD_CUDA_EMULATE=1``), whose ``cp.async`` lands a group's
copies only when a wait forces it, so a stage read before its wait reads stale data: the shared conv2d tests,
tests/kernels/cupy/test_conv2d_pipeline.py (reductions of 1, 2, 3 and 4
steps and a remainder, C or K = 1, tiles across images, the ordinary-load path forced with
``KERNELGRAD_NO_CP_ASYNC``, bit equality with rung 3 for float32 / float64); NVRTC compiles it for sm_80 / sm_90
(``python -m benchmarks.aot_cuda``: registers, spills, shared memory), nvcc for sm_75 / sm_80 / sm_90. No GPU has
run it.

This rung was the production kernel until rung 5 (16-byte copies of a packed weight) took its place; it is kept
here as it was: ``rung4_cp_async.cu`` instantiates its three GEMM kernels (``conv2d_cpasync_*_kernel``) from
``conv2d.cu``'s pipelined loop with the element-wise problems and ``Tiles<T>``; backward_bias and the split-K reduce
kernel are production's. Arguments are checked exactly as in ``kernels/cupy/conv2d.py`` (its launchers).
"""

from __future__ import annotations

from typing import Any

from ..._runtime import SourceModule
from ...conv2d import _TYPES, _backward_input, _backward_weight, _forward, conv2d_backward_bias

__all__ = ["conv2d_forward", "conv2d_backward_input", "conv2d_backward_weight", "conv2d_backward_bias"]

_KERNELS = ("conv2d_cpasync_forward_kernel", "conv2d_cpasync_backward_input_kernel",
            "conv2d_cpasync_backward_weight_kernel")
#: This rung's GEMM kernels; backward_bias and backward_weight's reduce kernel launch from production's module.
MODULE = SourceModule("ladder/conv2d/rung4_cp_async.cu", [f"{k}<{t}>" for k in _KERNELS for t in _TYPES])


def conv2d_forward(x: Any, w: Any, b: Any | None, stride, padding) -> Any:
    """``y[N, K, P, Q]``; raises TypeError / ValueError exactly as ``kernels.cupy.conv2d.conv2d_forward``."""
    return _forward(MODULE, "conv2d_cpasync_forward_kernel", x, w, b, stride, padding)


def conv2d_backward_input(dy: Any, w: Any, input_shape, stride, padding) -> Any:
    """``dx[N, C, H, W]`` by stride phase; raises as ``kernels.cupy.conv2d.conv2d_backward_input``."""
    return _backward_input(MODULE, "conv2d_cpasync_backward_input_kernel", dy, w, input_shape, stride, padding)


def conv2d_backward_weight(dy: Any, x: Any, weight_shape, stride, padding) -> Any:
    """``dw[K, C, R, S]``; raises as ``kernels.cupy.conv2d.conv2d_backward_weight``."""
    return _backward_weight(MODULE, "conv2d_cpasync_backward_weight_kernel", dy, x, weight_shape, stride, padding)
