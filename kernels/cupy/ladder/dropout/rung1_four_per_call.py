"""Rung 1 -- four outputs per Philox call: one thread per group of four elements, one call, word j to element j.
Production's dropout kernels, ``kernels/cupy/dropout.py`` + ``dropout.cu`` (rung 2 adds the fused residual add
beside them).

Math and contract: every rung's (``kernels/cupy/dropout.py``; the RNG contract in ``kernels/numpy/dropout.py``).

What changes from rung 0 (``rung0_per_element.py``: one thread per element, a whole Philox call each, one word
kept): when the groups are aligned (offset % 4 == 0; with the row mapping also row_len % 4 == 0 and row_stride %
4 == 0), ``dropout4_kernel<T>`` / ``dropout4_rows_kernel<T>`` give thread k elements 4k..4k+3, whose counters
are the four of one Philox call, and compute that call once (the row kernel's division once per group too). The
launch covers cdiv(numel, 4) threads. Anything unaligned (a rank's rows with F % 4 != 0, an unaligned user
offset) runs production's per-element ``dropout_kernel`` / ``dropout_rows_kernel``, rung 0's idea in
production's own file. The framework's stream advances the offset in multiples of 4, so its flat calls are
aligned.

Bytes moved, the running example (2^24 float32 elements, H200): rung 0's, the compulsory 134 MB. Access pattern:
each thread touches four consecutive elements with four scalar instructions; a warp instruction covers 32
elements 16 bytes apart (float32), so each instruction uses a quarter of every sector it touches and the four
together use them fully, through L1. 16-byte vector accesses would make that one instruction: not built (below).

Integer work: ~12 instructions of Philox per element plus ~10 for the index, the select and the conversions:
~3 per byte for float32, ~6 for __half, under the H200's ~7: memory-bound for every dtype.

Prediction, written before any measurement (the running example, H200): float32 34-42 us (80-100% of copy
bandwidth), 1.0-1.4x rung 0; __half 17-24 us, 1.4-2x rung 0; the aligned row kernel within 10% of flat. The least
certain part: the strided scalar accesses, if L1 does not merge them as hoped, cost up to 1.3x.

Not built: 16-byte vector loads and stores for float32 (a thread's group as one ``float4`` where the pointer is
16-byte aligned and the group full, scalar otherwise), and bias + ReLU + dropout in the linear epilogue
(``docs/ladder/dropout.md``). Dropout + residual add is rung 2 (``rung2_residual_add.py``).

The functions are production's, re-exported so the ladder's benchmark sees this rung; the shared tests run them
once, as production.
"""

from ...dropout import dropout_backward, dropout_forward

__all__ = ["dropout_forward", "dropout_backward"]
