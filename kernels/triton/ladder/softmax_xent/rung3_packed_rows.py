"""Rung 3 -- rows packed by vocabulary size: a program takes BLOCK_M rows at once when V is small, so a short row no
longer leaves most of a program idle; tile and warps sized so no V spills. Production's fused-row path (production
itself is rung 4, which adds the split-row path for few long rows).

Math and contract: every rung's (``kernels/triton/softmax_xent.py``).

What changes from rung 2 (``rung2_fused_row.py``: the same fused kernel, always one row per program, BLOCK_V =
min(next_pow2(V), 4096) with BLOCK_V / 128 warps): :func:`kernels.triton.softmax_xent.forward_launch_config` picks
BLOCK_M = min(next_pow2(M), 512 // BLOCK_V) rows per program when V < 512, so a [BLOCK_M, BLOCK_V] tile of ~512
elements and its row reductions (``tl.max`` / ``tl.sum`` along axis 1) replace BLOCK_M separate programs. This is
Triton's form of the CUDA kernel's "a warp per row for small V, a block per row for large V": the compiler lays the
tile out over the program's warps, a short row's reduction stays inside a warp, and M / BLOCK_M programs are
launched instead of M. The tile size is bounded (512 elements, 4 per thread) because the per-row vectors are
replicated in every thread: 4096-element packed tiles with 16 warps spilled for float32 at V = 33..256 (sm_90 AOT).
For V >= 512 nothing changes (BLOCK_M = 1): the running example's times are rung 2's.

Bytes moved: rung 2's (the compulsory traffic when the second sweep hits the L2). What changes is how many
programs carry them: digits-sized [256, 10] goes from 256 programs of one 16-wide row (10 useful lanes of one warp)
to 8 programs of 32 rows; ImageNet-sized [256, 1000] is unchanged (BLOCK_V = 1024 >= 512).

Prediction, written before any measurement (H200): V = 10 and V = 256 with many rows (the suite's byte-level
[N*256, 256] and digits cases): 2-8x faster than rung 2 where rung 2 launched a program per 10-element row, bounded
by the launch (~3-5 us) for the tiny batches; V >= 512 (the LLM vocabularies, V = 1000): rung 2's times, +-5%.
Unverified: no GPU has run it.

Above this rung (``rung4_split_rows``, production): few rows of a huge vocabulary split across programs; see
docs/ladder/softmax_xent.md (the in-place dlogits mode is the contract's ``out``, every rung's).

Measured: not yet (no GPU). Compiled ahead of time for sm_90 (launches labelled "rung3_packed_rows:
softmax_cross_entropy_forward"); production's header lists the configurations and spills.

The launcher is production's argument checks and fused-row launch (``_fused_rows_forward``): production without
the split-row dispatch.
"""

from __future__ import annotations

import torch

from ...softmax_xent import _checked_forward_args, _fused_rows_forward, softmax_cross_entropy_backward

__all__ = ["softmax_cross_entropy_forward", "softmax_cross_entropy_backward"]


def softmax_cross_entropy_forward(
    logits: torch.Tensor, target: torch.Tensor, ignore_index: int = -100, need_grad: bool = True,
    out: torch.Tensor | None = None,
) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Mean cross-entropy of ``logits[M, V]`` against ``target[M]``: ``(loss, dlogits or None)`` as production's,
    the fused kernel with rows packed by V for every shape. Raises TypeError / ValueError exactly as
    ``kernels.triton.softmax_xent``."""
    M, V, ignore_index, target = _checked_forward_args(logits, target, ignore_index, need_grad, out)
    return _fused_rows_forward(logits, target, ignore_index, need_grad, out)
