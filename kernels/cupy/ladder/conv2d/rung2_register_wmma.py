"""Rung 1 -- implicit GEMM with shared-memory tiles: the production kernel, ``kernels/cupy/conv2d.py`` + ``.cu``.

What changes from rung 0 (direct convolution, one thread per output element, a scalar loop over C*R*S):
each product becomes a 64 x 64-tile GEMM whose operand tiles are gathered from NCHW memory into shared
memory (padding and stride handled in the gather) and reused by every thread of the block; float32/float64
accumulate in a register tile per thread (FMA), float16 runs on WMMA 16x16x16 tensor cores with fp32
accumulation; the weight gradient splits its reduction over a grid axis with a fixed-order second pass.

Prediction (before any GPU measurement): the shared-memory reuse (each loaded element used 64 times per
tile) lifts the kernel from rung 0's memory-bound regime to a sizeable fraction of the FMA peak in
float32; float16 WMMA higher again, limited by the scalar (non-vectorised) gathers and the absence of
cp.async pipelining -- the rungs above this one. Measured: not yet -- no GPU has run it.

The functions are the production ones, re-exported so the ladder's tests and benchmark see this rung.
"""

from ...conv2d import conv2d_backward_bias, conv2d_backward_input, conv2d_backward_weight, conv2d_forward

__all__ = ["conv2d_forward", "conv2d_backward_input", "conv2d_backward_weight", "conv2d_backward_bias"]
