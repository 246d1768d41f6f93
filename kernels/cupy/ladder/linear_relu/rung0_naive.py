"""Rung 0 -- naive GEMMs: one CUDA thread per output element, its whole reduction read from global memory.

The bottom of the CUDA C linear + bias + ReLU ladder, the baseline every rung above is measured against (the CUDA
SGEMM worklog's kernel 1). Below it there is only the math (``kernels/numpy/linear_relu.py``)::

    x[M, K], w[N, K], b[N] or None  ->  y[M, N] = x @ w.T + b,   then max(y, 0) if relu
    g = dy, set to 0 where y <= 0 when relu, else dy
    dx[M, K] = g @ w,   dw[N, K] = g.T @ x,   db[N] = g.sum(0)

Four kernels (``rung0_naive.cu``), each one thread per element of its output on a 1-D grid over the output's flat
row-major index, so a warp's 32 lanes hold 32 consecutive elements of one output row:

* forward          thread (m, n): sum over k of x[m, k] * w[n, k] in acc_t (float for float16 / float32, double
                   for float64), + b[n], ReLU, one rounding. Per k a warp loads one x address (a broadcast) and
                   32 w elements K apart: 32 cache lines, the uncoalesced pattern.
* backward_input   thread (m, k): sum over n of g[m, n] * w[n, k] (g broadcast, w coalesced along k); g is dy
                   zeroed where y <= 0, read at the same index (no masked-dy temporary).
* backward_weight  thread (n, k): sum over m of g[m, n] * x[m, k] (g broadcast, x coalesced along k).
* backward_bias    thread n: sum over m of g[m, n], its own kernel here (production fuses it into dw's).

Launch (:func:`_launch`, pure Python): 256-thread blocks (fewer, a multiple of 32, for tiny outputs), at most
65535 of them -- past that each thread strides over the rest (grid-stride loop). Empty outputs launch nothing.

Bytes and FLOPs. Each GEMM is 2*M*N*K FLOPs, and every multiply-add loads both of its operands with its own load
instruction: 0.25 FLOP per byte requested in float32. DRAM sees much less when L1 / L2 hold the reuse (each x
row is reused by N threads, each w row by M), so the kernels are bound by how fast the SM serves loads -- in the
forward, 33 cache lines per warp-FMA -- not by the FMA units and not by DRAM. db: N threads, M loads each.

Prediction (written before any measurement), the running example -- GPT-2 small's MLP up-projection with bias +
ReLU, x[8192, 768], w[3072, 768], float32, on an H200 (132 SMs, ~1.98 GHz, 67 TFLOP/s float32 FMA, 4.8 TB/s HBM):
forward 60-150 ms (0.26-0.64 TFLOP/s, under 1% of the FMA peak; DRAM alone would allow ~28 us), backward 12-35 ms
(dx 5-13 ms, dw 5-13 ms, db 0.4-3 ms); float16 about the float32 times (the same loads and loop, one conversion per
operand), float64 about 1.2-1.5x. Forward is the slow one: its w reads are uncoalesced, dx's and dw's are not.
Measured: not yet -- no GPU has run it.

The reasoning. forward: 8192 x 3072 / 32 = 786,432 warps, each 768 steps: 6.0e8 warp-steps, 4.6e6 per SM. A
warp-step is one FFMA and two loads: x (one address) and w (32 addresses 3 KB apart, 32 lines, served at about
one line per cycle per SM when they hit L1): ~33 cycles, 1.5e8 cycles per SM, 76 ms; a warp's 32 w lines serve
32 consecutive k each, but the 4 KB per warp times 32-64 resident warps is about the whole L1, so part of them
come from L2 again: 60-150 ms. dx: a warp-step loads dy and y (broadcast, 1 line each) and 32 consecutive w (1
line): ~3 wavefronts and ~8-12 instructions (index math, the select) per 32 FMAs, 2-3 cycles per warp-step; 6.0e8
warp-steps / 132 SMs -> 4.6e6 x 2-3 cycles = 5-7 ms, up to 13 ms with L2 misses on w. dw the same count. db: 3072
threads = 12 blocks on 12 of 132 SMs, each thread a serial chain of 8192 dependent adds fed by two loads: ~100-600
cycles of load latency per handful of adds, 0.4-3 ms.

What the rungs above change: rung 1 (``rung1_smem_tiling``) stages 16 x 16 operand tiles in shared memory, each
loaded element reused 16 times, one output per thread, db summed by the dw kernel from its shared tiles; rung 2
register tiles (4 x 4 outputs per thread, 64 x 64 tiles) and WMMA tensor cores for half precision; rung 3 (the
production kernel) a cp.async multi-stage pipeline with 16-byte copies.

Verified where: values on the CPU emulator (``KERNELGRAD_CUDA_EMULATE=1``) -- the shared linear_relu tests
(tests/kernels/test_linear_relu.py run every rung) and tests/kernels/cupy/test_linear_relu_pipeline.py (float16,
the grid-stride loop, bit equality with every rung above on the emulator); NVRTC compiles every name expression
for sm_80 / sm_90 (``python -m benchmarks.aot_cuda``: registers, spills, no flush-to-zero), nvcc for sm_75 / sm_80
/ sm_90. No GPU has run it.

Arguments are checked exactly as in ``kernels/cupy/linear_relu.py`` (its ``_check_forward`` / ``_check_backward``,
the forward through its ``_forward`` on :func:`_launch_output`; ``_rung_common.py``: the backward's buffers and
kernel arguments, shared with rung 1).
"""

from __future__ import annotations

from typing import Any

from ..._runtime import SourceModule, cdiv
from ...linear_relu import _forward
from ._rung_common import backward_setup

__all__ = ["linear_forward", "linear_backward"]

_TYPES = ("__half", "float", "double")
_KERNELS = ("linear_naive_forward_kernel", "linear_naive_backward_input_kernel",
            "linear_naive_backward_weight_kernel", "linear_naive_backward_bias_kernel")
MODULE = SourceModule("ladder/linear_relu/rung0_naive.cu", [f"{k}<{t}>" for k in _KERNELS for t in _TYPES])

THREADS = 256
#: Grid cap (far below CUDA's 2**31 - 1); past it each thread strides over several elements.
MAX_BLOCKS = 65535


def _launch(total: int) -> tuple[tuple[int], tuple[int]]:
    """``(grid, block)`` for one thread per element of a ``total``-element output (``total >= 1``): THREADS-thread
    blocks (a multiple of 32 that covers a smaller output), at most MAX_BLOCKS of them."""
    threads = min(THREADS, 32 * cdiv(total, 32))
    return (min(cdiv(total, threads), MAX_BLOCKS),), (threads,)


def _launch_output(rows: int, cols: int) -> tuple[tuple[int], tuple[int]] | None:
    """:func:`_launch` for a ``rows x cols`` output, or None when it is empty (nothing to launch)."""
    return _launch(rows * cols) if rows * cols else None


def linear_forward(x: Any, w: Any, b: Any | None, relu: bool) -> Any:
    """``y[M, N] = x[M, K] @ w[N, K].T + b[N]``, then ReLU if ``relu``; raises as ``kernels.cupy.linear_relu``."""
    return _forward(MODULE, "linear_naive_forward_kernel", x, w, b, relu, launch=_launch_output)


def linear_backward(dy: Any, x: Any, w: Any, y: Any | None, relu: bool) -> tuple[Any, Any, Any]:
    """``(dx[M, K], dw[N, K], db[N])`` for upstream ``dy[M, N]``; raises as ``kernels.cupy.linear_relu``."""
    (dx, dw, db), ctype, gate, sizes = backward_setup(dy, x, w, y, relu)
    M, N, _, relu_flag = sizes  # the bias kernel takes (M, N, relu)
    if dx.size:
        MODULE.launch(f"linear_naive_backward_input_kernel<{ctype}>", *_launch(dx.size), (dy, gate, w, dx, *sizes))
    if dw.size:
        MODULE.launch(f"linear_naive_backward_weight_kernel<{ctype}>", *_launch(dw.size), (dy, gate, x, dw, *sizes))
    if db.size:
        MODULE.launch(f"linear_naive_backward_bias_kernel<{ctype}>", *_launch(db.size), (dy, gate, db, M, N, relu_flag))
    return dx, dw, db
