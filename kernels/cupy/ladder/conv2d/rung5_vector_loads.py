"""Rung 5 -- 16-byte copies of a packed weight: the production kernel, ``kernels/cupy/conv2d.py`` + ``conv2d.cu``.

The math is every rung's (``kernels/numpy/conv2d.py``)::

    x[N, C, H, W], w[K, C, R, S], b[K] or None  ->  y[N, K, P, Q]
    P = (H + 2*ph - R) // sh + 1,   Q = (W + 2*pw - S) // sw + 1
    y[n, k, p, q] = b[k] + sum_{c, r, s} w[k, c, r, s] * xpad[n, c, p*sh + r, q*sw + s]

What changes from rung 4 (``rung4_cp_async.py``: the cp.async multi-stage loop, every operand gathered element by
element, the weight straight from its KCRS layout): forward and backward_input read their weight operand B from a
copy of w packed once per call by a small kernel (``conv2d_pack_weight_kernel``, one thread per element) into the
layout whose rows are B's rows -- forward ``wp[C*R*S][Kp]`` (wp[(c, r, s)][k] = w[k, c, r, s]), backward_input
``wp[K*R*S][Cp]`` (wp[(k, r, s)][c]) -- the inner size padded with zeros to a multiple of V = 16 / itemsize
elements (float32 4, float64 2, float16 8). A B tile row is then BN / V aligned 16-byte vectors, each one
``cp.async.cg`` (zero-filled past the last reduction row or past Kp / Cp): a float block's 1,024 four-byte copies
of B per step become 256 sixteen-byte ones, one per thread, and float16's 2,048 two-byte ordinary loads (2-byte
elements have no cp.async) become 256 asynchronous vectors. backward_input's (k, tap) decode -- two integer
divisions -- now runs once per vector instead of once per element. The B tile's leading dimension becomes
BN + V (16-byte rows: float 68, double 66, float16 72 as before; ``VecTiles`` in conv2d.cu). No scalar fallback is
needed: the packed buffer is a fresh allocation, Kp / Cp and each tile's first column are multiples of V, so every
vector is aligned and inside one padded row; the caller's weight may be unaligned (the packing reads it element
by element). backward_weight, whose B is the x gather, is rung 4's kernel unchanged. The sums are the same
products in the same order: float32 / float64 results equal rung 4's bit for bit.

Bytes and FLOPs: the GEMMs are unchanged (2*N*K*C*R*S*P*Q FLOPs each); the packing adds one read and one write of
w per forward / backward_input call (36,864 elements for a 3x3 64->64 layer: ~0.15 MB in float32, against 51 MB
of activations), and one extra launch.

Limits: the activations (A operand, and backward_weight's B) are still gathered element by element -- 4-byte
cp.async for float32, ordinary loads for float16 -- with two integer divisions per element; 16-byte copies of x
rows along w at stride 1 (aligned, inside a row, not in padding) with a scalar fallback, or NHWC, would be next.
Registers (sm_90, from the AOT report; ``#pragma unroll 1`` on the vector loops, without which float16
backward_input took 126): forward float32 56 (rung 4: 96), float16 67 (117), float64 72 (80); backward_input
float32 64 (78), float16 79 (80), float64 72 (96); backward_weight as rung 4 (72 / 96 / 80); no spills. Shared
memory: float32 25,536 B, float64 33,536 B, float16 18,432 B (sm_80 registers: forward 56 / 71 / 70,
backward_input 64 / 82 / 96).

Prediction (written before any GPU measurement), ResNet's 3x3 64->64 layer at 56x56 (stride 1, padding 1), N = 32,
on an H200: float32 forward 0.22-0.35 ms, 20-35% faster than rung 4 -- a quarter of the per-thread copy
instructions of a step go (B's 4 element copies and their bounds tests become one vector), but mostly the
registers fall from 96 to 56, so 4 blocks of 256 threads fit an SM instead of 2 and the element gathers of A
that remain are covered by twice the warps. backward_input float32 at stride 1: 20-35% faster than rung 4 (B's
per-element divisions gone, 64 registers: 4 blocks instead of 3). float16 forward 1.3-1.8x faster than rung 4
(half of its per-step gather loads become 2 asynchronous vectors per thread; 67 registers: 7 blocks of 128
threads per SM instead of 4), still far from the tensor cores' peak because A's 16 ordinary loads per thread per
step remain. backward_weight unchanged (rung 4's kernel). float64 within 10% of rung 4 (half-rate FMA-bound).
The packing kernel: 2-5 us per call, 1-2% of the forward. Measured: not yet -- no GPU has run it.

Verified where: values on the CPU emulator (``KERNELGRAD_CUDA_EMULATE=1``, whose cp.async checks the 16-byte
alignment of both addresses and lands a group only when a wait forces it): the shared conv2d tests,
tests/kernels/cupy/test_conv2d.py, test_conv2d_phases.py and test_conv2d_pipeline.py (the packed layouts, bit
equality with rung 4 for K / C not multiples of a vector, a second column tile, C or K = 1, stride-2 phases; float16
against torch; a weight that is not 16-byte aligned); NVRTC compiles it for sm_80 / sm_90 (``python -m
benchmarks.aot_cuda``), nvcc for sm_75 / sm_80 / sm_90. No GPU has run it.

TF32: ``ALLOW_TF32`` in ``kernels/cupy/conv2d.py`` (off by default, as the Triton flag) runs this rung's float32
GEMMs on TF32 tensor cores instead (``conv2d_*_tf32_kernel<float>``: WMMA 16x16x8 with ``__float_to_tf32``, the
packed weight's vectors, 3 stages; sm_90 registers 80 / 96 / 118 for forward / backward_input / backward_weight,
26,112 B of shared memory, no spills). Measured on the emulator against float64: 2.8e-4 to 3.1e-4 relative error.
Prediction for it (before any GPU measurement): float32 forward of the running example 0.1-0.2 ms, bound by the
same element gathers of x as float16 rather than by the tensor cores. Measured: not yet.

The functions are the production ones, re-exported so the ladder's tests and benchmark see this rung.
"""

from ...conv2d import conv2d_backward_bias, conv2d_backward_input, conv2d_backward_weight, conv2d_forward

__all__ = ["conv2d_forward", "conv2d_backward_input", "conv2d_backward_weight", "conv2d_backward_bias"]
