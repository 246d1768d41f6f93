"""Rung 4 -- 16-byte loads for the 2x2 stride-2 pools: a lane owns V/2 neighbouring outputs of one output row and
reads each of their two input rows as one 16-byte vector (V = 16 / itemsize elements). Production's kernel for
that geometry.

Math and contract: every rung's (``kernels/triton/maxpool2d.py``).

What changes from rung 3 (``rung3_window_tile.py``: every geometry through the [BLOCK_OUT, BLOCK_K] tile, a window
spread over lanes, each lane repeating the output's index math, four shuffle-tree reductions per tile row): for 2x2
windows, stride 2, no padding -- VGG's pools, the digits model's -- with W a multiple of V (4 float32, 8 float16 /
bfloat16, 2 float64) and x 16-byte aligned, production runs ``_maxpool2x2_vector_kernel``. Output row p of plane
(n, c) reads input rows 2p and 2p + 1, each a contiguous run of 2Q = W elements, so the V/2 outputs q0 .. q0 + V/2 - 1
(q0 a multiple of V/2) read exactly one V-element vector from each row, starting at a multiple of V:
``tl.multiple_of`` tells the compiler so, and the mask is constant along the vector (a group is in range or not).
The two [G, V] loads are reshaped to [BLOCK, 2] and split into each output's four candidates, reduced in window
order by three compare-and-selects (first maximum wins, a NaN replaces and the last NaN wins: the scalar loop's
rule); one division by Q and one by P per group of V/2 outputs, no padding masks, no cross-lane reduction. Any other
geometry, an odd W or an unaligned x still runs rung 3's tile. The backward is unchanged (rung 2's gather).

Where this rung came from (docs/ladder/maxpool2d.md had it as an idea judged not worth building): the argument
against it was that rung 3's load *instructions* would not limit it, since DRAM bytes do. True of the loads (the AOT
PTX shows rung 3 already issues 8-byte ``ld.global.v2.b32`` for a float32 2x2 window, two per output; this rung
issues ``ld.global.v4.b32``, two per two float32 outputs, per eight 16-bit ones), but the count missed the integer
work around them. Counted on the sm_90 SASS of the AOT build (Triton 3.9), thread-instructions per output for a
2x2/s2 pool: rung 3 212-256 (float32) and 204-248 (float16), this rung 52 (float32) and 37 (float16) -- every
config, loop-free code, so the static count is the executed count up to predication.

Bytes moved, the running example (VGG's 2x2 stride-2 pool at 224: x[32, 64, 224, 224] -> y[32, 64, 112, 112], on an
H200, ~4 TB/s for a plain copy, ~33 T thread-instructions/s): forward |x| + |y| + |argmax| = 411.0 + 102.8 + 25.7
= 539.5 MB in float32, a ~135 us floor; 205.5 + 51.4 + 25.7 = 282.6 MB in 16-bit types, ~71 us -- the same bytes as
rung 3; this rung changes the instructions, not the traffic. The issue budget at that bandwidth is ~176 thread-
instructions per output for float32 (21 bytes per output) and ~92 for 16-bit types (11 bytes).

Prediction, written before any measurement (the running example, H200): rung 3 is issue-bound here (25.7M outputs
x 204-256 instructions is 160-200 us of issue at a perfect rate, 230-300 us at a realistic 60-70%), this rung is
not (52 or 37 per output: 30-45 us of issue) and runs near the copy floor: float32 135-170 us, 1.3-1.8x rung 3;
float16 / bfloat16 71-90 us, 2.5-3.5x rung 3. The least certain part: the shared-memory round trip the reshape /
split / store layouts compile to (4 STS, 4-6 LDS, 3 barriers per lane in the SASS), which the count prices at one
instruction each. Backward: rung 3's times. Unverified: no GPU has run this rung.

Measured: not yet (no GPU). Compiled ahead of time for sm_90 and sm_80 by ``python -m benchmarks.aot_triton --family
maxpool2d`` (launchers "maxpool2d_forward 2x2/s2 (16-byte loads)" and, with the ReLU, "relu_maxpool2d_forward"):
no spill in any config or dtype; registers 29-37 (float32 / 16-bit; 31-36 with the ReLU), 55-68 (float64);
``ld.global.v4.b32`` in the PTX for every dtype.

The functions are production's, re-exported: production's ``maxpool2d_forward`` is this rung's dispatch (the
vector kernel where it applies, rung 3's tile elsewhere), so the shared tests run it as production ("triton").
"""

from ...maxpool2d import maxpool2d_backward, maxpool2d_forward

__all__ = ["maxpool2d_forward", "maxpool2d_backward"]
