"""Rung 2 -- backward by gather: one lane per *input* element sums dy over the few windows that can contain it.
No zero-fill, no atomics, every dx element written once, bit for bit reproducible.

Math: dx[n, c, h, w] = sum of dy[n, c, p, q] over the windows (p, q) whose argmax names (h, w). The windows that can
contain (h, w) are p in [ceil((h+ph-R+1)/sh), floor((h+ph)/sh)] ∩ [0, P) and likewise q: at most
ceil(R/sh) * ceil(S/sw) candidates (3x3 stride 2: 4; 2x2 stride 2: 1), a static loop.

What changes from rung 1 (``rung1_compact_argmax.py``, whose backward is rung 0's scatter: dx zeroed -- |dx| written
-- then one lane per output atomically adding its dy at the winner, each add a read-modify-write of an L2 sector,
in an order the hardware picks): the loop is turned inside out. Each lane owns one dx element and visits its
candidate windows, adding dy[p, q] when argmax[p, q] == (h+ph-p*sh)*S + (w+pw-q*sw), into a float32 (float64)
register; then it stores dx once. Overlapping windows accumulate in the register, in increasing (p, q), so the sum's
order is fixed: the same bits on every run, and no float32 staging buffer or conversion pass for float16 / bfloat16.
argmax is only compared, never an address: an out-of-range value matches nothing (production's contract). The
kernel is production's ``_maxpool2d_backward_kernel`` (``kernels/triton/maxpool2d.py``), unchanged from here to the
top of the ladder; the forward is rung 1's.

Bytes moved, the running example (ResNet-50's stem pool, 3x3 stride 2 padding 1, x[32, 64, 112, 112] float32 on an
H200): dx written once (102.8 MB), dy and argmax read (25.7 + 6.4 MB): each argmax element is loaded by the 9 lanes of
its window (up to 4 candidates per lane, from L1/L2 after the first), a dy element only by the lane it names (a
masked load): 134.9 MB from DRAM, the compulsory traffic (rung 1's backward: ~340 MB, plus the scattered atomics).

Prediction, written before any measurement (the running example, float32, H200): backward 40-55 us, 60-80% of copy
bandwidth, 2-3x faster than rung 1's scatter; float16 / bfloat16 2.5-3.5x (the float32 staging buffer and its
conversion pass are gone too); forward: rung 1's. Unverified: no GPU has run this rung.

Measured: not yet (no GPU). The backward kernel is AOT-compiled as production's (launcher "maxpool2d_backward").
"""

from __future__ import annotations

from ...maxpool2d import maxpool2d_backward
from .rung1_compact_argmax import maxpool2d_forward

__all__ = ["maxpool2d_forward", "maxpool2d_backward"]
