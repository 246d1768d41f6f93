"""Rung 1 -- four outputs per Philox call: a program loads a [BLOCK // 4, 4] tile, calls ``tl.rand4x`` once per tile
row (one group of four counters) and gives column j word j. Production's dropout
kernel (rung 2 adds the fused residual add beside it).

Math and contract: every rung's (``kernels/triton/dropout.py``; the RNG contract in ``kernels/numpy/dropout.py``).

What changes from rung 0 (``rung0_per_element.py``: one lane per element, each computing a whole Philox call and
keeping one word): when the groups are aligned (offset % 4 == 0; with the row mapping also row_len % 4 == 0 and
row_stride % 4 == 0), elements 4k..4k+3 draw exactly the four words of the call on group c_{4k} >> 2, so
``_dropout4_kernel`` computes one call per four elements and selects the word by the tile column (a ``tl.where``
chain on a constant index: selects, no memory). The row specialisation divides once per group. Anything else
(a rank's rows with F % 4 != 0, an unaligned user offset) runs production's per-element fallback
``_dropout_kernel``, rung 0's idea in production's own file. The framework's stream advances the offset in
multiples of 4 per call, so its flat calls are always aligned.

Bytes moved, the running example (2^24 float32 elements on an H200): rung 0's, the compulsory 134 MB (67 MB for
16-bit types) -- this rung changes the integer work, not the traffic.

Integer work (counted from the algorithm): ~50 instructions of Philox per four elements (~12 each) plus ~10 per
element for the index, the select and the conversions of the four words: ~22 per element, ~3 per byte for float32
and ~6 for float16, under the H200's ~7 per byte: memory-bound for every dtype.

Prediction, written before any measurement (the running example, H200): float32 forward 34-42 us (80-100% of copy
bandwidth), 1.0-1.4x rung 0; float16/bfloat16 17-24 us, 1.4-2x rung 0; row mapping (aligned F) within 10% of
flat, 1.5-2.5x rung 0's row kernel (a quarter of the divisions too). The least certain number: how much of rung
0's Philox work other warps already hide behind the loads at float32.

Above this rung: dropout fused into its neighbours. Rung 2 (``rung2_residual_add.py``) fuses the residual add
that follows; bias + ReLU + dropout in the linear layer's epilogue is the next rung on the map, a change to the
linear kernels (``docs/ladder/dropout.md``).

Measured: not yet (no GPU). Compiled ahead of time for sm_90 and sm_80 (launchers "dropout_forward",
"dropout_forward(row_len, row_stride)", and "dropout_forward(unaligned offset)" for the fallback).

The functions are production's, re-exported so the ladder's benchmark sees this rung; the shared tests run them
once, as production.
"""

from ...dropout import dropout_backward, dropout_forward

__all__ = ["dropout_forward", "dropout_backward"]
