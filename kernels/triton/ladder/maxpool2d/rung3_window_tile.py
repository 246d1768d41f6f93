"""Rung 3 -- the window as a tile: each program loads a [BLOCK_OUT, BLOCK_K] tile (outputs x window positions) in one
masked load and reduces it along the window axis. The production kernel.

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

Not built (an idea for a rung above this one, on paper only): 16-byte vector loads. Neither this kernel nor any rung
loads more than one element per address computation: a tile row is R*S scattered positions. For 2x2 stride 2
without padding, the two rows of Q windows are two contiguous runs of 2Q input elements, so a lane could load
16 bytes (4 float32: two windows' halves of one row) and a second vector from the next row, and write 2 outputs;
fewer load instructions, full 32-byte sectors per lane pair. It would change y's store pattern (2 outputs per lane)
and needs a scalar path for odd W, unaligned planes and padding; it is left as an idea until a GPU can say whether
the load instructions, not DRAM, limit this rung.

Measured: not yet (no GPU). Compiled ahead of time for sm_90 and sm_80 (launchers "maxpool2d_forward",
"maxpool2d_backward"; production's header lists the configurations and registers).

The functions are production's, re-exported so the ladder's tests and benchmark see this rung.
"""

from ...maxpool2d import maxpool2d_backward, maxpool2d_forward

__all__ = ["maxpool2d_forward", "maxpool2d_backward"]
