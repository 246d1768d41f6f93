"""Rung 3 -- a warp per row for small vocabularies, a 1024-thread block per row for huge ones. Production's row kernels
(``kernels/cupy/softmax_xent.py`` + ``softmax_xent.cu``) without the split-row path that rung 4 adds.

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

Above this rung (``rung4_split_rows``, production): few rows of a huge vocabulary split across blocks
(docs/ladder/softmax_xent.md). The in-place gradient is the contract's ``out``, every rung's.

The launcher is production's, with the split-row dispatch switched off (``_forward(..., split=False)``).
"""

from __future__ import annotations

from ...softmax_xent import _forward, softmax_cross_entropy_backward

__all__ = ["softmax_cross_entropy_forward", "softmax_cross_entropy_backward"]


def softmax_cross_entropy_forward(logits, target, ignore_index: int = -100, need_grad: bool = True, out=None):
    """Mean cross-entropy of ``logits[M, V]`` against ``target[M]``: ``(loss, dlogits or None)`` as production's,
    the row kernels for every shape. Raises TypeError / ValueError exactly as ``kernels.cupy.softmax_xent``."""
    return _forward(logits, target, ignore_index, need_grad, out, split=False)
