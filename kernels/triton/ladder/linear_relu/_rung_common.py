"""Launch plumbing that the Triton linear rungs below production share: output allocation with the shortcuts for
empty shapes and an empty reduction, and the backward's gradient buffers.

Plumbing only: every rung file keeps the kernels it teaches, and their launches, in full. The argument checks are
production's (``_checked_forward`` / ``_checked_backward`` in ``kernels/triton/linear_relu.py``), and production's
``_forward`` / ``_backward`` handle the same shapes the same way.
"""

from __future__ import annotations

import torch


def forward_output(x: torch.Tensor, b: torch.Tensor | None, relu: bool, M: int, N: int, K: int
                   ) -> tuple[torch.Tensor, bool]:
    """``(y, done)``: y[M, N] in x's dtype on x's device, and whether y is already the result, so that no GEMM runs:
    an empty y, or K == 0 (an empty reduction: y = b, or 0, then the ReLU)."""
    y = torch.empty((M, N), dtype=x.dtype, device=x.device)
    if y.numel() == 0:
        return y, True
    if K == 0:
        y.zero_()
        if b is not None:
            y += b
        if relu:
            y.clamp_(min=0)
        return y, True
    return y, False


def gradient_outputs(dy: torch.Tensor, x: torch.Tensor, M: int, N: int, K: int
                     ) -> tuple[tuple[torch.Tensor, torch.Tensor, torch.Tensor], bool]:
    """``((dx, dw, db), done)``: dx[M, K], dw[N, K], db[N] in dy's dtype on x's device, and whether they are already
    the result: M or N == 0 is an empty reduction for all three (zeros)."""
    dx = torch.empty((M, K), dtype=dy.dtype, device=x.device)
    dw = torch.empty((N, K), dtype=dy.dtype, device=x.device)
    db = torch.empty((N,), dtype=dy.dtype, device=x.device)
    if M == 0 or N == 0:
        return (dx.zero_(), dw.zero_(), db.zero_()), True
    return (dx, dw, db), False
