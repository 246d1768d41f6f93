"""Rung 2 -- backward by gather: one thread per *input* element sums dy over the few windows that can contain it.
Production's general kernels, ``kernels/cupy/maxpool2d.py`` + ``maxpool2d.cu`` (rung 3 adds 16-byte loads for the 2x2
stride-2 pools, rung 4 the fused ReLU entry points).

Math: dx[n, c, h, w] = sum of dy[n, c, p, q] over the windows (p, q) whose argmax names (h, w); the candidates are
p in [ceil((h+ph-R+1)/sh), floor((h+ph)/sh)] ∩ [0, P) and likewise q: at most ceil(R/sh) * ceil(S/sw) of them.

What changes from rung 1 (``rung1_compact_argmax.py``, whose backward is rung 0's scatter: the accumulator zeroed,
then one thread per output ``atomicAdd``ing its dy at its winner, in an order the hardware picks, through a float
buffer and a cast kernel for __half): ``maxpool2d_backward_kernel<T, I>`` turns the loop inside out. Thread
(n, c, h, w) visits its candidate windows in increasing (p, q) and adds dy[p, q] where argmax[p, q] ==
(h+ph-p*sh)*S + (w+pw-q*sw), rounding to T after every add (numpy's ``np.add.at`` order and rounding, so dx equals
the numpy reference bit for bit, float16 included), and writes dx once. No zero-fill, no atomics, no float staging
buffer; every run gives the same bits. argmax is only compared, never an address (an out-of-range value routes
nothing).

Bytes moved, the running example (ResNet-50's stem pool, 3x3 stride 2 padding 1, x[32, 64, 112, 112] float32, H200):
dx written once (102.8 MB), dy and argmax read (32.1 MB; each argmax element is read by the threads of its 9
window pixels, from L1/L2 after the first): 134.9 MB, the compulsory traffic (rung 1's backward: ~340 MB plus the
scattered atomics).

Prediction, written before any measurement (the running example, float32, H200): backward 40-55 us (60-80% of copy
bandwidth), 2-3x faster than rung 1; float16 2.5-3.5x (no float buffer, no cast pass). Forward: rung 1's (the same
kernel). Measured: not yet -- no GPU has run it.

Above this rung: 16-byte loads for 2x2 stride-2 pools (``rung3_vector_loads.py``), then the ReLU fused in
(``rung4_relu_fusion.py``, production).

The backward is production's; the forward is production's launcher with rung 3's 16-byte-load dispatch off
(``vector=False``), rung 1's. The shared tests run this rung only on the 2x2 stride-2 cases, the only ones where it
runs code production does not.
"""

from __future__ import annotations

from ...maxpool2d import forward as _production_forward
from ...maxpool2d import maxpool2d_backward

__all__ = ["maxpool2d_forward", "maxpool2d_backward"]


def maxpool2d_forward(x, kernel, stride, padding):
    """Max-pool ``x[N, C, H, W]``: ``(y, argmax)`` as production's, always through production's general kernel (rung 1's
    forward). Raises TypeError / ValueError exactly as ``kernels.cupy.maxpool2d.maxpool2d_forward``."""
    return _production_forward(x, kernel, stride, padding, relu=False, vector=False)
