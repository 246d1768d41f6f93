"""Rung 3 -- backward_input by stride phase, on a single-stage main loop (``rung3_stride_phase.cu``).

The math is every rung's (``kernels/numpy/conv2d.py``)::

    x[N, C, H, W], w[K, C, R, S], b[K] or None  ->  y[N, K, P, Q]
    P = (H + 2*ph - R) // sh + 1,   Q = (W + 2*pw - S) // sw + 1
    y[n, k, p, q] = b[k] + sum_{c, r, s} w[k, c, r, s] * xpad[n, c, p*sh + r, q*sw + s]

This rung was the production kernel until rung 4 (cp.async pipelining) took its place; it is kept here as it
was: ``rung3_stride_phase.cu`` holds its single-stage main loop (gather a step with ordinary loads, barrier,
multiply, barrier) and its three GEMM kernels (``conv2d_phase_*_kernel``), and takes the tiles, the gathers and
the stride phases from ``kernels/cupy/conv2d.cu``; backward_bias and the split-K reduce kernel are production's.

What changes from rung 2 (register-tiled / WMMA implicit GEMM whose backward_input gathers every tap for every
input pixel and zeroes the stride holes with an exact-division test): with stride sh x sw, input pixel h only
receives the taps r with (h + ph - r) % sh == 0. So the pixels are split into sh*sw phases (a, b) =
((h + ph) % sh, (w + pw) % sw), and each phase is a dense GEMM of its own: rows are the phase's pixels
(h0 + t*sh, w0 + u*sw), the reduction runs over the phase's taps r = a + i*sh, s = b + j*sw only (times the K
channels), and tap i meets row t at output row p = p_base + t - i -- exact by construction, so the gather holds
neither a division by the stride nor an exactness test, only the window-edge bounds. One launch covers every phase
(grid z, indexed by the phase's first pixel (h0, w0), so only the min(sh, H) * min(sw, W) phases that hold pixels
are launched; past CUDA's 65535, in several launches). At stride 1 there is one phase and the GEMM is rung 2's,
with a cheaper gather (two runtime integer divisions per element instead of four). The tile machinery (64 x 64
tiles, register micro-tiles, WMMA for float16, its FMA fallback), forward, backward_weight and backward_bias are
unchanged from rung 2.

Bytes and FLOPs: backward_input now issues only the useful 2*N*K*C*R*S*P*Q multiply-adds, give or take the
masked rows at window edges (rung 2 issued 2*N*K*C*R*S*H*W, sh*sw times as many at stride > 1, the stride
holes included) and still reads dy and w about once from DRAM and writes dx once. A phase with no taps (a >= R:
stride larger than the kernel) runs no reduction and writes its zeros from the epilogue. Within one phase a
warp's dx stores are sw elements apart (half-used sectors at stride 2, completed in L2 by the other phase).

Prediction (written before any GPU measurement), on an H200: stride-1 layers within 10% of rung 2 either way (ResNet
3x3 64->64 at 56x56, N = 32, float32: 0.25-0.5 ms): the A gather loses two of its four runtime integer divisions,
and rung 2 is bound by gather issue, but the phase's state costs registers -- 72 instead of 64 for float32 on sm_90
(80 instead of 72 on sm_80), so 3 blocks of 256 threads per SM where rung 2 had 4. On a 3x3 stride-2 layer
(ResNet-50's 128->128, 56x56 -> 28x28, N = 32) backward_input 3-4x faster than rung 2: the block-steps drop exactly
4x (3,136 blocks of 8-32 steps instead of 3,136 blocks of 72), but every block keeps its fixed cost (setup, epilogue
of 16 scattered stores per thread), the phases are uneven (4, 2, 2 and 1 taps) and grid z runs the 1-tap phase first
and the 4-tap phase last, so the tail holds the longest blocks. On a 1x1 stride-2 projection (256->512, 56x56 ->
28x28) 3-4x: one phase of four has a tap, the other three only write zeros, so dx's writes (N*C*H*W elements) become
a visible share of the time. float16 on WMMA gains by the same factors (its gathers, not its tensor cores, set the
time). Measured: not yet -- no GPU has run it.

Verified where: values on the CPU emulator -- the shared conv2d tests (tests/kernels/test_conv2d.py, every rung),
tests/kernels/cupy/test_conv2d_pipeline.py (this rung bit for bit equal to production on the FMA path), and, for
the stride phases it shares with production, tests/kernels/cupy/test_conv2d_phases.py (phases without taps give
exact zeros, phases without pixels, sh != sw, padding >= stride, phase tiles across images, more phases than one
launch holds, the FMA fallback of float16; float32 / float64 bit for bit equal to rung 2's gather, which adds the
same non-zero products in the same order); NVRTC compiles it for sm_80 / sm_90 (registers, spills:
``python -m benchmarks.aot_cuda``; since rung 4 turned the gathers into copy policies, float32 forward takes 80
registers on sm_90 instead of the 72 above, the other kernels within 2 of their old counts), nvcc for sm_75 / sm_80 /
sm_90. No GPU has run it.

Arguments are checked exactly as in ``kernels/cupy/conv2d.py`` (its launchers, with this rung's module and kernels).
"""

from __future__ import annotations

from typing import Any

from ..._runtime import SourceModule
from ...conv2d import _TYPES, _backward_input, _backward_weight, _forward, conv2d_backward_bias

__all__ = ["conv2d_forward", "conv2d_backward_input", "conv2d_backward_weight", "conv2d_backward_bias"]

_KERNELS = ("conv2d_phase_forward_kernel", "conv2d_phase_backward_input_kernel", "conv2d_phase_backward_weight_kernel")
#: This rung's GEMM kernels; backward_bias and backward_weight's reduce kernel launch from production's module.
MODULE = SourceModule("ladder/conv2d/rung3_stride_phase.cu", [f"{k}<{t}>" for k in _KERNELS for t in _TYPES])


def conv2d_forward(x: Any, w: Any, b: Any | None, stride, padding) -> Any:
    """``y[N, K, P, Q]``; raises TypeError / ValueError exactly as ``kernels.cupy.conv2d.conv2d_forward``."""
    return _forward(MODULE, "conv2d_phase_forward_kernel", x, w, b, stride, padding)


def conv2d_backward_input(dy: Any, w: Any, input_shape, stride, padding) -> Any:
    """``dx[N, C, H, W]`` by stride phase; raises as ``kernels.cupy.conv2d.conv2d_backward_input``."""
    return _backward_input(MODULE, "conv2d_phase_backward_input_kernel", dy, w, input_shape, stride, padding)


def conv2d_backward_weight(dy: Any, x: Any, weight_shape, stride, padding) -> Any:
    """``dw[K, C, R, S]`` (split-K when the tiles are few); raises as ``kernels.cupy.conv2d.conv2d_backward_weight``."""
    return _backward_weight(MODULE, "conv2d_phase_backward_weight_kernel", dy, x, weight_shape, stride, padding)
