"""Rung 4 -- a huge row split across blocks: for few rows of a large vocabulary, each row's statistics are computed by
several blocks over chunks of the vocabulary and merged in a fixed order, so a few long rows still fill the GPU. The
production kernels (``kernels/cupy/softmax_xent.py`` + ``softmax_xent.cu``).

Math and contract: every rung's.

What changes from rung 3 (``rung3_warp_rows.py``: one row group per row, a 1024-thread block for V > 8192): with
V >= SPLIT_MIN_V (16384) and fewer rows than SPLIT_MAX_ROWS_PER_SM (2) per SM (``cudaDevAttrMultiProcessorCount``,
a cached host query: no sync), :func:`kernels.cupy.softmax_xent.split_chunk` picks three kernels:

* ``softmax_xent_split_stats_kernel<T>``: a 256-thread block per (row, chunk of 8192 columns) -- the online max and
  non-target sum of the chunk, 4 loads in flight per thread, shuffle + shared reductions -- to [M, n_chunks]
  partials;
* ``softmax_xent_split_combine_kernel<T>``: a thread per row merges its partials in chunk order (m = max m_c,
  s_other = sum s_c * exp(m_c - m)): deterministic, no atomics; the row loss, and the row's (max, 1 / (s n),
  -s_other / (s n)) for the gradient;
* ``softmax_xent_split_grad_kernel<T>``: a 256-thread block per (row, chunk) writes dlogits.

The chunk size is a constant, so a row's result does not depend on the batch. Above the switch rung 3's kernels run
unchanged.

Bytes moved, the case this rung is for -- logits[32, 128256] float32 (a Llama-3 decode step or one short sequence) on
an H200 (~4.8 TB/s HBM, 50 MB L2, 132 SMs): 16.4 MB of logits, so with the gradient the second sweep can hit the L2
on both rungs (compulsory 32.8 MB). What changes is parallelism: rung 3 runs 32 blocks of 1024 threads (32 of 132
SMs, 4 loads in flight per thread); rung 4 runs 32 x 16 = 512 blocks of 256 threads per sweep (3.9 per SM). Three
launches instead of one (+~6-10 us); the partials are noise.

Prediction, written before any measurement (H200, float32): [32, 128256] with the gradient 15-30 us against rung 3's
35-70 us (2-3x); the loss alone 8-15 us against 18-35 us; [256, 128256] +-10% of rung 3; shapes above the switch
([4096, 128256], [8192, 32000]) rung 3's times exactly (the same kernels run). Unverified: no GPU has run it.

Verified where: the split kernels on the CPU emulator (tests/kernels/test_softmax_xent.py lowers SPLIT_MIN_V and the
emulated chunk to reach them); NVRTC compiles every instantiation for sm_80 / sm_90 (production's name expressions).
No GPU has run it.

The functions are production's, re-exported so the ladder's tests and benchmark see this rung.
"""

from ...softmax_xent import softmax_cross_entropy_backward, softmax_cross_entropy_forward

__all__ = ["softmax_cross_entropy_forward", "softmax_cross_entropy_backward"]
