"""Rung 1 -- shared-memory tiling: 16 x 16 operand tiles staged in shared memory, one output per thread.

The CUDA SGEMM worklog's "shared memory blocking" step (its kernel 3). The math is every rung's
(``kernels/numpy/linear_relu.py``)::

    x[M, K], w[N, K], b[N] or None  ->  y[M, N] = x @ w.T + b,   then max(y, 0) if relu
    g = dy, set to 0 where y <= 0 when relu, else dy
    dx[M, K] = g @ w,   dw[N, K] = g.T @ x,   db[N] = g.sum(0)

What changes from rung 0 (``rung0_naive.py``: one thread per output, both operands of every multiply-add loaded from
global memory, reuse left to the caches): each product is a GEMM ``C[rows, cols] = A[rows, red] @ B[red, cols]``
(forward A = x, B = w read transposed; dx A = g, B = w; dw A = g read transposed, B = x -- one kernel template,
``rung1_smem_tiling.cu``), and a block of 16 x 16 threads owns a 16 x 16 tile of C. Per reduction step every
thread loads one element of the 16 x 16 A slab and one of the B slab into shared memory (consecutive threads along
the operand's contiguous global axis: coalesced; zero past the edges; A gated by y <= 0 as it is loaded), the block
synchronises, and each thread adds the 16 products of its own output -- so every element fetched from global memory
is used by 16 threads, on purpose rather than by luck of the cache. The dw kernel's blocks of tile-column 0 also sum
their gated dy slabs into db (the slab is in shared memory anyway): rung 0's separate db kernel -- 3,072 threads on
12 SMs in the running example -- is gone.

Threads and tiles (:func:`_launch`, pure Python): 256-thread blocks, one per 16 x 16 tile, tiles numbered row-major
on a 1-D grid (at most 2**31 - 1 blocks; past that a block strides over tiles). Why 16: one output per thread costs
two shared-memory loads per multiply-add whatever the tile, so a larger tile buys nothing in the inner loop; 16 is
half a warp, so each shared read is 16 consecutive words or a broadcast of 2 (one wavefront); 256 threads leave
several blocks per SM to cover each other's barriers. Shared memory: 2 x 16 x 17 elements of the accumulation type
(float for float16 / float32, a float16 element is widened once when loaded; double for float64): 2,176 / 4,352 B.

Bytes and FLOPs. Each GEMM is 2*rows*cols*red FLOPs. Per step a block reads 2 x 256 elements from global memory for
16^3 multiply-adds: each loaded element is reused 16 times, 4 FLOP per byte requested from L1/L2 in float32 (rung 0:
0.25). Shared memory serves 2 loads per multiply-add (0.25 FLOP per byte in float32), the ceiling of this rung.

Prediction (written before any measurement), the running example -- x[8192, 768], w[3072, 768] with bias + ReLU,
float32, on an H200: forward 5.5-9 ms (4.3-7 TFLOP/s, 6-10% of the 67 TFLOP/s FMA peak; rung 0 predicted 60-150 ms),
backward 11-18 ms (dx and dw 5.5-9 ms each, db free inside dw; rung 0: 12-35 ms); float16 within 10% of float32
(widened once per load, same shared traffic), float64 1.0-1.4x float32. Why: an SM serves about one shared-memory
wavefront per cycle and issues up to four warp-FMAs; a warp's step is 16 FFMA against 32 LDS (each one wavefront), so
the shared-memory pipe caps the kernel at 0.5 warp-FMA per cycle, 1/8 of the FMA peak, and the slab loads, stores,
index math and two barriers per step take it to about 1/10-1/15. The gain over rung 0 is the forward's (no more
uncoalesced w loads: 10-20x) and db (now free); dx / dw gain less than 2x, because rung 0's loads there were already
coalesced broadcasts served from L1. Register tiling (rung 2) is what breaks the two-loads-per-FMA ceiling.
Measured: not yet -- no GPU has run it.

The reasoning. forward: 512 x 192 = 98,304 tiles (blocks), 48 steps each. Per step a warp issues 16 FFMA and 32 LDS
(As[r][ty]: 2 addresses, a broadcast; Bs[r][tx]: 16 consecutive words), 2 global loads (x: 2 rows x 16 consecutive
floats; w transposed: 2 rows of w x 16 consecutive k, coalesced too) and 2 STS, plus ~25 instructions of index math,
bounds tests and barriers: ~36 wavefronts per 16 warp-FMAs -> 0.44 warp-FMA per cycle. 9.66e9 multiply-adds / 32 =
3.0e8 warp-FMAs / 132 SMs / 0.3-0.44 per cycle = 5.2-7.6e6 cycles = 2.6-3.9 ms if the barriers' bubbles were covered
by other blocks; at 30-40 registers (the AOT report) 8 blocks of 256 fit an SM, but each step's global loads are
waited on before the math (no pipelining): another 1.5-2.5x, 5.5-9 ms. dx (512 x 48 = 24,576 tiles, 192 steps) and dw
(192 x 48 = 9,216 tiles, 512 steps; 70 blocks per SM) are the same FLOPs and the same per-step pattern.

Verified where: values on the CPU emulator (``KERNELGRAD_CUDA_EMULATE=1``) -- the shared linear_relu tests
(tests/kernels/test_linear_relu.py run every rung) and tests/kernels/cupy/test_linear_relu_pipeline.py (bit equality
with rungs 0, 2 and 3 on the emulator, which adds in the same order and does not contract); NVRTC compiles every
name expression for sm_80 / sm_90 (``python -m benchmarks.aot_cuda``), nvcc for sm_75 / sm_80 / sm_90. No GPU has
run it.

Arguments are checked exactly as in ``kernels/cupy/linear_relu.py`` (its ``_check_forward`` / ``_check_backward``,
the forward through its ``_forward`` on :func:`_launch`; ``_rung_common.py``: the backward's buffers and kernel
arguments, shared with rung 0).
"""

from __future__ import annotations

from typing import Any

from ..._runtime import MAX_GRID, SourceModule, cdiv
from ...linear_relu import _forward
from ._rung_common import backward_setup

__all__ = ["linear_forward", "linear_backward"]

_TYPES = ("__half", "float", "double")
_KERNELS = ("linear_smem_forward_kernel", "linear_smem_backward_input_kernel", "linear_smem_backward_weight_kernel")
MODULE = SourceModule("ladder/linear_relu/rung1_smem_tiling.cu", [f"{k}<{t}>" for k in _KERNELS for t in _TYPES])

TILE = 16  # output tile rows = cols = reduction step (TILE in rung1_smem_tiling.cu)
THREADS = TILE * TILE  # one thread per output of a tile


def _launch(rows: int, cols: int, *, min_col_tiles: int = 0) -> tuple[tuple[int], tuple[int]] | None:
    """``(grid, block)`` for a ``rows x cols`` output, one block per 16 x 16 tile up to CUDA's grid limit (the
    kernels stride over the rest), or None when there is nothing to launch. ``min_col_tiles=1`` keeps one column of
    tiles when ``cols == 0`` (the dw kernel must still write db)."""
    tiles = cdiv(rows, TILE) * max(cdiv(cols, TILE), min_col_tiles)
    return ((min(tiles, MAX_GRID[0]),), (THREADS,)) if tiles else None


def linear_forward(x: Any, w: Any, b: Any | None, relu: bool) -> Any:
    """``y[M, N] = x[M, K] @ w[N, K].T + b[N]``, then ReLU if ``relu``; raises as ``kernels.cupy.linear_relu``."""
    return _forward(MODULE, "linear_smem_forward_kernel", x, w, b, relu, launch=_launch)


def linear_backward(dy: Any, x: Any, w: Any, y: Any | None, relu: bool) -> tuple[Any, Any, Any]:
    """``(dx[M, K], dw[N, K], db[N])`` for upstream ``dy[M, N]``; raises as ``kernels.cupy.linear_relu``."""
    (dx, dw, db), ctype, gate, sizes = backward_setup(dy, x, w, y, relu)
    config = _launch(*dx.shape)  # dx[M, K]
    if config is not None:
        MODULE.launch(f"linear_smem_backward_input_kernel<{ctype}>", *config, (dy, gate, w, dx, *sizes))
    config = _launch(*dw.shape, min_col_tiles=1)  # dw[N, K] (and db[N]: one tile-column even when K == 0)
    if config is not None:
        MODULE.launch(f"linear_smem_backward_weight_kernel<{ctype}>", *config, (dy, gate, x, dw, db, *sizes))
    return dx, dw, db
