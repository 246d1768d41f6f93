"""Rung 5 -- Hopper: every operand tile by TMA (tensor descriptors), wgmma-sized tiles with BLOCK_K = 64, and a
persistent grid -- for float16 / bfloat16 on sm_90 (and sm_100).

Math and contract: every rung's (``kernels/triton/linear_relu.py``).

What changes from rung 4 (``rung4_autotuned.py``: operand tiles loaded by per-lane address arithmetic and masks,
one program per output tile), when the operands are float16 / bfloat16 on an sm_90 / sm_100 device and their row pitches
are 16-byte aligned (K, and N for the backward, multiples of 8); otherwise rung 4's kernels run:

* **TMA operand tiles.** x[M, K], w[N, K], dy[M, N] and y[M, N] are row-major 2-D tensors, so every operand tile
  of every product is one rectangle: a host-side ``TensorDescriptor`` (triton.tools.tensor_descriptor; block shape
  per autotune config, set by a pre-hook) and ``desc.load([row, col])`` in the kernel. The Tensor Memory
  Accelerator copies the tile into shared memory asynchronously, in the swizzled layout wgmma reads, and fills
  zeros past the tensor's edges: no address registers, no masks, no load instructions per lane -- one thread issues
  the copy. The forward's w tile [BLOCK_N, BLOCK_K] is used transposed (``tl.trans``: wgmma reads it K-major as it
  lies in shared memory). The backward's dy and y tiles come by TMA too; the mask ``where(y <= 0, 0, dy)`` is
  applied in registers and the masked tile is wgmma's register operand (dw: transposed in registers); db is
  summed from it as in rung 2. A zero-filled y past the edges is <= 0, so those g are 0, as dy's are.
* **wgmma-sized tiles**, per kernel (``_TMA_TILES``): 128 x 256 / 128 x 128 outputs with BLOCK_K = 64 (one
  128-byte swizzle row of bf16), 8 or 4 warps, 3-4 stages: the shared-memory ring is 96-144 KB, which TMA fills
  without a register per element.
* **Persistent grid**: ``PROGRAMS_PER_SM`` (1) x SMs programs walk the output tiles in grouped order, program i
  taking tiles i, i + programs, ...: no tail of half-empty waves, and a program's next tile loads can start while
  its last epilogue stores.

float32 (IEEE, FMA units) and float64 take rung 4's kernels: TMA moves bytes, and those are FMA-bound. The kernels
live in production's file (production runs them), this rung's launchers call them without split-K.

Bytes and FLOPs: rung 4's (TMA changes how the bytes move, not how many: 128 x 256 tiles read |x| * N / 256 + |w| *
M / 128 through L2). Registers per thread go *up*, not down (sm_90 AOT, float16 / bfloat16, no spills): forward
124-211 under triton 3.9 and 138-242 under 3.6, against rung 4's 61-105 -- the address and mask registers TMA saves
are few next to the larger accumulators (a 128 x 128 float32 tile over one warpgroup is 128 registers per thread)
and BLOCK_K = 64 operands; backward_input 130-168 (3.6: 130-146), backward_weight 160-180 (3.6: 152-193), where the
masked dy tile and its transpose live in registers. HGMMA and UTMALDG are in the SASS of every config, both versions.

Prediction, written before any measurement (the running example, x[4096, 4096] @ w[4096, 4096].T in bfloat16, H200,
cuBLAS addmm + relu ~0.16-0.2 ms at 700-850 TFLOP/s): forward 0.17-0.23 ms, 600-800 TFLOP/s, 1.2-1.5x rung 4,
0.85-1.0x cuBLAS and 75-90% of the measured bf16 GEMM ceiling -- the issue's bar (>= 0.95x cuBLAS, >= 75% of the
ceiling) is within reach but not certain: without warp specialisation (one warpgroup producing TMA loads while two
consume, as cuBLAS and CUTLASS do) the epilogue and the loop's issue overhead stay on the critical path. Backward
(two GEMMs with the mask in registers) 0.4-0.55 ms, 1.2-1.4x rung 4. The persistent grid alone: within 3% on 4096^3
(1024 tiles of 128 x 128 over 132 SMs: 7.8 waves, the last 76% full); 5-10% on shapes whose tile count leaves a
near-empty last wave. Unverified: no GPU has run this rung.

Measured: not yet (no GPU). Verified under the interpreter (which emulates tensor descriptors) against torch in
float16 and bfloat16 (tests/kernels/triton/test_linear_relu_ladder.py) and compiled for sm_90 under triton 3.6 and
3.9 (launchers "rung5_tma_persistent: ...": the facts above).
"""

from __future__ import annotations

import torch

from ...linear_relu import _backward, _checked_backward, _checked_forward, _forward

__all__ = ["linear_forward", "linear_backward"]


def linear_forward(x: torch.Tensor, w: torch.Tensor, b: torch.Tensor | None, relu: bool) -> torch.Tensor:
    """Production's checks; float16/bfloat16 on a TMA device by the persistent TMA kernel, else rung 4's."""
    M, N, K = _checked_forward(x, w, b)
    return _forward(x, w, b, relu, M, N, K, split=False, tma=True)


def linear_backward(
    dy: torch.Tensor, x: torch.Tensor, w: torch.Tensor, y: torch.Tensor | None, relu: bool
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Production's checks; float16/bfloat16 on a TMA device by the persistent TMA kernels, else rung 4's."""
    M, N, K = _checked_backward(dy, x, w, y, relu)
    return _backward(dy, x, w, y, relu, M, N, K, split=False, tma=True)
