"""Rung 3 -- a cp.async multi-stage pipeline with 16-byte copies: the production kernel, ``kernels/cupy/linear_relu.py``
+ ``linear_relu.cu``.

The math is every rung's (``kernels/numpy/linear_relu.py``)::

    x[M, K], w[N, K], b[N] or None  ->  y[M, N] = x @ w.T + b,   then max(y, 0) if relu
    g = dy, set to 0 where y <= 0 when relu, else dy
    dx[M, K] = g @ w,   dw[N, K] = g.T @ x,   db[N] = g.sum(0)

What changes from rung 2 (``rung2_register_wmma.py``: the same 64 x 64 tiles, 256 threads, WMMA / 4 x 4 FMA micro-tiles
and fused epilogues, with a single-stage loop -- every thread loads its scalars of the A and B slabs into registers,
waits for them, stores them (transposed) into shared memory, barrier, multiply, barrier): the slabs stream through
STAGES = 3 shared-memory stages, copied global -> shared by ``cp.async`` and issued STAGES - 1 steps ahead of the
math, so the copies of the next two steps are in flight while the tensor cores / FMAs work on this one, and one
barrier per step suffices. A cp.async copies bytes verbatim, so each slab is now stored in the order of its operand's
contiguous global axis -- K-major (x, w in the forward; dy in dx) or MN-major (w in dx; dy and x in dw) -- with rows
padded to whole 16-byte vectors, and the math reads whichever layout it gets (WMMA: row_major / col_major fragments;
FMA: a 16-byte vector of 4 float / 2 double reduction indices per row from a K-major slab). Where an operand's base
is 16-byte aligned and its row length (K for x and w, N for dy and y) a multiple of 16 bytes, every thread copies one
16-byte vector per operand per step (``cp.async.cg``, zero-filled past the edges) -- float16 included, which had no
asynchronous copy at all in 2-byte elements; otherwise the slab falls back to element copies (4- / 8-byte
``cp.async.ca`` for float / double, ordinary loads for float16). The ReLU mask can no longer be applied by the load
instruction: y's slab is copied next to dy's, and each thread zeroes the dy elements it copied where its copy of y is
<= 0, after its own wait and before the barrier that publishes the slab (no extra barrier). Below sm_80 the same loop
compiles with ordinary loads (``__CUDA_ARCH__``). The accumulator tile of the epilogue reuses the stages' memory. The
products and their order are rung 2's: on the emulator (no FMA contraction) results equal rung 2's bit for bit.

Bytes and FLOPs: unchanged from rung 2 (2*rows*cols*red FLOPs per GEMM; per step a block moves (64 + 64) x BK
elements, plus 64 x BK of y when gated); what changes is how: 2 (3 gated) x 256 sixteen-byte cp.async per block per
step instead of 2 (3) x 64 x BK scalar loads and shared stores -- 4 / 2 / 8 times fewer copy instructions for float /
double / float16 -- and when: two steps ahead of the math. The backward reads y once more per GEMM pass in the same
slab shape as dy (rung 2 read it too, element by element).

Limits: the 16-byte path needs aligned bases and row lengths that are multiples of 16 bytes (x[8192, 768] in float32:
yes); a K or N like 13 copies element by element -- float16 then with ordinary loads, no asynchrony. Shared memory is
static: forward 30,720 B (float64 34,816), backward 38,016-44,544 B (3 stages of dy, y and the other operand), which
leaves 5 blocks per SM on an H200 at most by shared memory. Registers (sm_90, from ``python -m benchmarks.aot_cuda``;
rung 2 in parentheses): forward float32 80 (64), float16 40 (57), float64 86 (78); backward_input 64 (64) / 48 (64)
/ 82 (80); backward_weight 64 (79) / 60 (73) / 78 (100); no spills (sm_80: forward 80 / 48 / 86, backward_input 76 /
61 / 78, backward_weight 64 / 64 / 78). The float32 forward's 80 registers fit 3 blocks of 256 threads per SM where
rung 2's 64 fit 4. The tiles are still 64 x 64 with 4 x 4 FMA micro-tiles / 16 x 32 WMMA warp tiles, whose operand
reuse -- not the copies -- bounds the tensor-core path; no TMA, no wgmma, no split-K for dw.

Prediction (written before any GPU measurement), the running example -- x[8192, 768], w[3072, 768] with bias + ReLU,
on an H200: float32 forward 0.85-1.3 ms (30-45 TFLOP/s, 45-67% of the FMA peak), 1.3-1.8x faster than rung 2;
backward 1.9-3.2 ms (dx like the forward; dw's slabs are both MN-major, read as scalars as in rung 2, so it gains only
the pipeline: 1.1-1.4x); float16 forward 0.17-0.25 ms (150-230 TFLOP/s), 1.2-1.5x faster than rung 2 -- with the
copies now cheap, a 64 x 64 tile re-reads its operands from L2 at 32 FLOP per byte (1.2 GB per forward), and L2's
~5.5-7 TB/s caps the tensor-core path near 170-220 TFLOP/s: larger tiles, not more stages, are the next step;
backward 0.4-0.6 ms. float64 within 10% of rung 2 (half-rate FMA-bound). Why float32 gains more than the copies:
forward's K-major B reads become one 16-byte LDS per 4 reduction indices (12 shared wavefronts per 64 FFMA instead of
32), so shared memory no longer caps the FMA rate at half the peak, and the scalar slab loads, their stores and one
of the two barriers per step leave the instruction stream. If the measurement shows less, the suspects are, in order:
occupancy (registers x 256 threads; 44 KB of shared memory per block), the 2-way bank conflicts of the 16-byte
cp.async stores into K-major rows, and L2 bandwidth at 64 x 64 tiles. Measured: not yet -- no GPU has run it.

Verified where: values on the CPU emulator (``KERNELGRAD_CUDA_EMULATE=1``; its cp.async lands a group only when a wait
forces it, so a stage read before its wait reads stale data, and it aborts on a misaligned copy): the shared
linear_relu tests, tests/kernels/cupy/test_linear_relu.py (multi-tile, float16 WMMA, bfloat16, empty shapes) and
tests/kernels/cupy/test_linear_relu_pipeline.py (reductions of 1 to 17 steps with remainders, unaligned K / N and base
addresses taking the element fallback, bit equality with rung 2 and with the ordinary-load path, repeat runs); NVRTC
compiles it for sm_80 / sm_90 (``python -m benchmarks.aot_cuda``), nvcc for sm_75 / sm_80 / sm_90. No GPU has run it.

The functions are the production ones, re-exported so the ladder's tests and benchmark see this rung.
"""

from ...linear_relu import linear_backward, linear_forward

__all__ = ["linear_forward", "linear_backward"]
