"""Rung 3 -- grouped program order: tiles numbered GROUP_M tile-rows at a time, so the programs running together
share their operand panels in L2.

Math and contract: every rung's (``kernels/triton/linear_relu.py``).

What changes from rung 2 (``rung2_fused_mask.py``, whose forward is rung 1's): the launch constant GROUP_M goes from
1 to 8, in all three GEMMs; the kernels are rung 1's ``_tiled_gemm_kernel`` and rung 2's ``_masked_gemm_kernel``
unchanged, with production's ``_grouped_tile`` mapping a program id to a tile. With GROUP_M = 1 the tiles run
row-major: the ~132 programs of a wave (one per SM for these tiles, a few more while registers allow) cover two
tile-rows of a 4096 x 4096 output (64 tiles of 64 columns each), so they read 2 panels of x but all 64 panels of w
-- w is re-read from L2 (it fits) every wave, and the x panels of the next row come from DRAM. With GROUP_M = 8
a wave covers an 8 x 16 block of tiles: 8 x panels and 16 w panels, each reused by 16 or 8 programs while
resident. The Triton matmul tutorial's classic change: same FLOPs, same kernel, fewer misses.

Bytes, the running example (x[4096, 4096] @ w[4096, 4096].T, bfloat16, H200; 128 x 64 tiles, K = 4096, each panel
1 MB (x: 128 rows) or 0.5 MB (w: 64 rows)): a wave of 132 programs reads, row-major, 2 x panels + 64 w panels = 34
MB; grouped, 8 + 16-17 panels = 16.5 MB, about half the L2 traffic per wave, and the panels stay resident across
consecutive waves (L2 50 MB). DRAM traffic: both orders stay near the compulsory |x| + |w| + |y| when the L2 holds w
(33.6 MB of 50), so the gain is L2 bandwidth and hit latency, not DRAM.

Prediction, written before any measurement (the running example, bfloat16, H200): forward 0.3-0.5 ms, 1.1-1.25x rung
1/2 (275-460 TFLOP/s): the L2-to-SM traffic per wave halves, which matters once the tensor cores wait on operands (a
4-warp, 3-stage tile does). Backward 1.05-1.2x rung 2. float32 (FMA-bound): within 5% of rung 2 (its tiles reuse
operands less, but the FMA units, not L2, limit it). At large batch (M = 32768) the gain grows (more tile-rows
share a w panel): 1.2-1.4x. Unverified: no GPU has run this rung.

Measured: not yet (no GPU). AOT-compiled for sm_90 (launchers "rung3_grouped: ..."): the kernels' facts are rung 1's
and rung 2's with GROUP_M = 8 (the order costs a few integer ops per program, no registers in the loop).
"""

from __future__ import annotations

import torch

from .rung1_tiled import _forward
from .rung2_fused_mask import _backward

__all__ = ["linear_forward", "linear_backward"]

#: Tile-rows per group: the Triton matmul tutorial's 8 (production's autotune configs use 8 too).
GROUP_M = 8


def linear_forward(x: torch.Tensor, w: torch.Tensor, b: torch.Tensor | None, relu: bool) -> torch.Tensor:
    """Rung 1's forward with the tiles in grouped order. Raises TypeError / ValueError as production's."""
    return _forward(x, w, b, relu, group_m=GROUP_M)


def linear_backward(
    dy: torch.Tensor, x: torch.Tensor, w: torch.Tensor, y: torch.Tensor | None, relu: bool
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Rung 2's backward with the tiles in grouped order. Raises TypeError / ValueError as production's."""
    return _backward(dy, x, w, y, relu, group_m=GROUP_M)
