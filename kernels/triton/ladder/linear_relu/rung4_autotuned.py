"""Rung 4 -- autotuned tiles: per operand class, a list of spill-free tile shapes, warps and pipeline stages, and
the autotuner picks the fastest for each layer -- production's tiled kernels, without its Hopper and split-K paths.

Math and contract: every rung's (``kernels/triton/linear_relu.py``).

What changes from rung 3 (``rung3_grouped.py``: one fixed tile per dtype class, 128 x 64 x 32 with 4 warps and 3
stages for half precision): production's ``_linear_forward_kernel``, ``_linear_backward_input_kernel`` and
``_linear_backward_weight_kernel`` (``kernels/triton/linear_relu.py``) are ``@triton.autotune``d over
``_DTYPE_CONFIGS`` -- half: 128 x 128 x 32 / 8 warps / 4 stages, 64 x 256 x 32 / 8 / 4, 64 x 128 x 32 / 4 / 4,
64 x 64 x 32 / 4 / 4; float32 (FMA) three tiles up to 64 x 64; float64 one -- pruned at launch to the launch's
dtype class (``prune_by_dtype``). Each list is the set that compiles without register spills on sm_90 and sm_80
(``benchmarks/aot_triton.py``, in CI). The key is (rows rounded up to a power of two, N, K): a layer is tuned once,
a last partial batch reuses the result. The kernels are also written per product rather than as one strided GEMM:
w is read as a transposed tile by the forward, dy as a transposed tile by dw (the compiler sees which stride is 1
from the code, not from Triton's specialisation of an int argument equal to 1), and the mask and db fusions are
rung 2's.

Bytes and FLOPs: rung 3's (the grouped order is the same, GROUP_M = 8); the bigger tiles cut the L2-to-SM operand
traffic further: 128 x 128 tiles read |x| * N / 128 + |w| * M / 128, half of a 128 x 64 tile's w re-reads.

Prediction, written before any measurement (the running example, x[4096, 4096] @ w[4096, 4096].T in bfloat16, H200):
forward 0.2-0.3 ms, 460-690 TFLOP/s, 0.65-0.9x cuBLAS: the 8-warp 128 x 128 x 32 tile with 4 stages keeps two
warpgroups' wgmma busy far better than rung 3's 4-warp tile (1.4-1.8x rung 3), but the operand tiles still go
through per-lane masked loads (cp.async) with address and mask registers, and BLOCK_K = 32 makes each wgmma step
short. Backward 0.5-0.75 ms (1.4-1.8x rung 3). float32: the 64 x 64 / 8-warp tile 1.1-1.3x rung 3 (40-55 TFLOP/s).
First call: the autotuner benchmarks 4 configs per kernel (seconds, once per layer). Unverified: no GPU has run
this rung.

Measured: not yet (no GPU). The kernels' facts are production's tiled rows of the AOT report (launchers
"linear_forward", "linear_backward" and "rung4_autotuned: ..."), sm_90, over the half-precision configs: HGMMA,
forward 61-99 registers (triton 3.9; 61-105 under 3.6), backward_input 70-142 (66-100), backward_weight 92-193
(85-216); float32 56-160; no spills in float16 / bfloat16 / float32 (float64's backward_input: 8 B under 3.9).
"""

from __future__ import annotations

import torch

from ...linear_relu import _backward, _checked_backward, _checked_forward, _forward

__all__ = ["linear_forward", "linear_backward"]


def linear_forward(x: torch.Tensor, w: torch.Tensor, b: torch.Tensor | None, relu: bool) -> torch.Tensor:
    """Production's checks and autotuned tiled forward (no TMA, no split-K)."""
    M, N, K = _checked_forward(x, w, b)
    return _forward(x, w, b, relu, M, N, K, split=False, tma=False)


def linear_backward(
    dy: torch.Tensor, x: torch.Tensor, w: torch.Tensor, y: torch.Tensor | None, relu: bool
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Production's checks and autotuned tiled backward (no TMA, no split-K)."""
    M, N, K = _checked_backward(dy, x, w, y, relu)
    return _backward(dy, x, w, y, relu, M, N, K, split=False, tma=False)
