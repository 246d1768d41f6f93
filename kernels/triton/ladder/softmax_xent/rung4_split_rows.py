"""Rung 4 -- a huge row split across programs: for few rows of a large vocabulary, each row's statistics are computed
by several programs over chunks of the vocabulary and merged in a fixed order, so a few long rows still fill the GPU.
The production kernels (``kernels/triton/softmax_xent.py``).

Math and contract: every rung's.

What changes from rung 3 (``rung3_packed_rows.py``: the fused kernel, one program per row -- BLOCK_M rows when V is
small): with V >= SPLIT_MIN_V (16384: two chunks of SPLIT_CHUNK_V = 8192 columns at least) and fewer rows than
SPLIT_MAX_ROWS_PER_SM (2) per SM, :func:`kernels.triton.softmax_xent.split_chunk` picks the split-row path:

* ``_split_stats_kernel``, one program per (row, chunk): the chunk's online max m_c and its non-target sum s_c of
  exp(x - m_c) (rung 1's online loop over one chunk), to two [M, n_chunks] buffers;
* ``_split_combine_kernel``, 128 rows per program: merges a row's partials in chunk order 0, 1, ..., n_chunks - 1
  (m = max m_c, s_other = sum s_c * exp(m_c - m), the online-softmax rescale between programs instead of between
  tiles; a chunk of nothing but -inf adds 0), then the loss with production's log1p formulation and, with the
  gradient, the row's (m, 1 / (s n), -s_other / (s n));
* ``_split_grad_kernel``, one program per (row, chunk): re-reads its chunk and writes dlogits.

No atomics: the merge order is fixed, so the loss and gradient are deterministic; the chunk size is a constant, so a
row's result does not depend on the batch (M only switches between the two paths). The SM count comes from
``torch.cuda.get_device_properties`` (a cached host query: no sync). Above the switch (M >= 264 rows on an H200)
the fused row path of rung 3 runs unchanged: M programs already fill the GPU there, and splitting would only add a
launch (both paths then read the logits twice from DRAM at V = 128256: a 513 KB row is evicted from the L2 before
its second sweep either way).

Bytes moved, the case this rung is for -- logits[32, 128256] float32 (32 tokens of a Llama-3 vocabulary: a decode
step, or one short sequence) on an H200 (~4.8 TB/s HBM, 50 MB L2, 132 SMs): the logits are 16.4 MB, so with the
gradient the second sweep can hit the L2 on both paths (16.4 MB read + 16.4 MB written, compulsory 32.8 MB). What
changes is parallelism: rung 3 launches 32 programs -- 32 of 132 SMs stream a 513 KB row each, one program's loads
in flight per SM; rung 4 launches 32 x 16 = 512 programs per sweep, 3.9 per SM. Three launches instead of one
(+~6-10 us), and the [32, 16] partials are noise.

Prediction, written before any measurement (H200, float32): [32, 128256] with the gradient 15-30 us against rung
3's 35-70 us (a program streams ~25-70 GB/s, so 32 of them reach ~1-2 TB/s; 512 saturate HBM and the three
launches cost ~3 x 3 us): 2-3x; the loss alone 8-15 us against 18-35 us; [256, 128256]
(M < 264, split; rung 3 would launch 256 programs, already two per SM on most SMs) +-10% of rung 3; shapes above
the switch ([4096, 128256], [8192, 32000]) rung 3's times exactly (the same kernel runs). Unverified: no GPU has run
it.

Measured: not yet (no GPU). Compiled ahead of time for sm_90 and sm_80 by ``benchmarks/aot_triton.py`` (the
production launch "softmax_cross_entropy_forward/backward [64, 128256] (+ out=logits)" takes the split path): no
spill; registers sm_90 / sm_80 (min-max over dtypes) ``_split_stats_kernel`` 32-56 / 40-73, ``_split_combine_kernel``
32-37 / 32-40, ``_split_grad_kernel`` 27-62 / 39-64.

The functions are production's, re-exported so the ladder's tests and benchmark see this rung.
"""

from ...softmax_xent import softmax_cross_entropy_backward, softmax_cross_entropy_forward

__all__ = ["softmax_cross_entropy_forward", "softmax_cross_entropy_backward"]
