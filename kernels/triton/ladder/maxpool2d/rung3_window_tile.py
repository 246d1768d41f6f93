"""Rung 3 -- the window as a tile: each program loads a [BLOCK_OUT, BLOCK_K] tile (outputs x window positions) in one
masked load and reduces it along the window axis. Production's general kernel.

Math and contract: every rung's (``kernels/triton/maxpool2d.py``).

What changes from rung 2 (``rung2_gather_backward.py``, whose forward is rung 1's: one output per lane, a scalar
``for r in range(R): for s in range(S)`` loop, one masked load, one compare and two selects per step, the running
best carried from step to step): the window is flattened to k = r*S + s and walked in chunks of BLOCK_K =
min(next_pow2(R*S), 64) positions, each chunk one [BLOCK_OUT, BLOCK_K] tile. All of a window's loads (3x3: 9 real of
16 columns, 2x2: 4 of 4) are issued as one tile load before anything depends on them, instead of a chain of loop
steps; the chunk's max and the smallest k holding it come from two row reductions (``tl.max``, ``tl.min``), and a
chunk replaces the running best only if strictly greater, so the first maximum still wins, a NaN is still the
maximum (the last NaN's k, a third running value), padding still never wins. Windows of up to 64 positions are one
chunk; larger ones (12x12) loop over chunks instead of running 144 scalar steps. The backward is rung 2's gather.

Bytes moved, the running example (ResNet-50's stem pool, 3x3 stride 2 padding 1, x[32, 64, 112, 112] float32 on an
H200): rung 1's, the compulsory 134.9 MB -- this rung changes how the loads are issued, not what is loaded. Its cost:
7 of the 16 tile columns of a 3x3 window are masked lanes (registers and issue slots, no memory traffic).

Prediction, written before any measurement (the running example, float32, H200): forward 35-50 us, 65-90% of copy
bandwidth, 1.1-1.5x rung 2's forward: the whole window's loads in flight at once (the sm_90 PTX: no loop, the tile's
loads first, then the reductions) where rung 2 makes three dependent rounds (a 3-trip loop over r with a row's 3
loads unrolled). The least certain step of the ladder: if other warps already hide rung 2's three rounds (8-16
resident warps per scheduler at 32-54 registers), the gain shrinks to 0.9-1.1x. 2x2 stride 2 (no masked
columns): the same range. 12x12 windows: 2-4x (64-wide chunks instead of a 144-step loop). Backward: rung 2's
times. Unverified: no GPU has run it.

What the compiled code says against this prediction (static, no GPU; counted on the sm_90 SASS of the AOT build,
Triton 3.9, float32): the tile spreads a window over several lanes, so every lane repeats the output's index math
(the divisions by P*Q and Q, the window origin) and each of the four row reductions (max, first k, last NaN, the
winner's value) is a cross-lane shuffle tree. Per output that is ~1950 thread-instructions for the 3x3 stem pool
(488 SASS instructions per lane, 4 lanes per output: BLOCK_K = 16 columns for 9 positions) and ~210-260 for a 2x2
window, where rung 1's scalar loop runs ~130 (2x2, loop unrolled) to at most ~380 (3x3, 3 trips). The H200 issues
~33 T thread-instructions/s, against ~176 per output at the copy bandwidth for a float32 2x2/s2 pool (21 bytes
per output) and ~92 for a 16-bit one: by that count this rung is issue-bound, not memory-bound, and may be
*slower* than rung 2 for small windows. That is a static count, not a time (predicated-off lanes still issue, and
the shuffles overlap the loads); the ladder bench's GPU run decides. Rung 4 replaces the tile for the 2x2 stride-2
pools with a kernel of ~37-52 thread-instructions per output.

Measured: not yet (no GPU). Compiled ahead of time for sm_90 and sm_80 (launchers "maxpool2d_forward",
"maxpool2d_backward"; production's header lists the configurations and registers; this rung's own launcher
"rung3_window_tile: maxpool2d_forward" on sm_90).

The kernels are production's (``kernels/triton/maxpool2d.py``). Production now sends 2x2 stride-2 pools to rung 4's
16-byte-load kernel; this rung's forward is production's launcher with that dispatch off (``vector=False``), so
every geometry runs the tile kernel here. The backward is production's.
"""

from __future__ import annotations

import torch

from ...maxpool2d import forward as _production_forward
from ...maxpool2d import maxpool2d_backward

__all__ = ["maxpool2d_forward", "maxpool2d_backward"]


def maxpool2d_forward(x: torch.Tensor, kernel, stride, padding) -> tuple[torch.Tensor, torch.Tensor]:
    """Max-pool ``x[N, C, H, W]``: ``(y, argmax)`` as production's, always through the tile kernel.

    Raises TypeError / ValueError exactly as ``kernels.triton.maxpool2d.maxpool2d_forward``.
    """
    return _production_forward(x, kernel, stride, padding, relu=False, vector=False)
