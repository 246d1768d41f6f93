"""Rung 3 -- a warp per row for small vocabularies, a 1024-thread block per row for huge ones. The production kernel,
``kernels/cupy/softmax_xent.py`` + ``softmax_xent.cu``.

Math and contract: every rung's.

What changes from rung 2 (``rung2_fused_block.py``: the fused kernel with a 256-thread block per row for every V):
``_launch_config`` picks the row group by V. V <= 1024: one warp per row, 4 rows per 128-thread block
(``softmax_xent_forward_kernel<T, 32, 4>``): the row's reductions are pure warp shuffles -- no shared memory, no
``__syncthreads`` -- and a 10-column row occupies one warp instead of a 256-thread block of which 246 threads had
nothing to do. 1024 < V <= 8192: rung 2's 256-thread block. V > 8192: a 1024-thread block per row, four times
the loads in flight per row for the long rows of a large vocabulary (and a quarter as many rows resident per SM,
so the second sweep's working set in the L2 shrinks: 264 rows x 128 KB = 34 MB at V = 32000 float32, under the
50 MB L2).

Bytes moved: rung 2's at most; at V = 32000 the smaller resident working set should keep more second sweeps in the
L2 (estimate 2.1-2.4 GB of DRAM traffic with the gradient, against rung 2's 2.2-2.8 GB).

Prediction, written before any measurement (H200): the LLM vocabularies (32000-128256, float32, with the
gradient) 1.0-1.25x rung 2 (closer to the 0.52 ms floor at [8192, 32000]: 0.55-0.75 ms); loss alone +-5%; small V
(the suite's digits [N, 10] and byte-level [N*256, 256]): 2-6x faster than rung 2 (8x fewer idle threads per row),
bounded by the launch for the tiny batches; V = 1000: 1.5-3x. Unverified: no GPU has run it.

Not built (ideas above this rung, on paper: docs/ladder/softmax_xent.md): a row split across blocks with a
combine step for V = 128k-256k and few rows; an in-place dlogits mode.

The functions are the production ones, re-exported so the ladder's tests and benchmark see this rung.
"""

from ...softmax_xent import softmax_cross_entropy_backward, softmax_cross_entropy_forward

__all__ = ["softmax_cross_entropy_forward", "softmax_cross_entropy_backward"]
