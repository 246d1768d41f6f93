"""Rung 3 -- backward_input by stride phase (production's general implicit GEMM, ``kernels/triton/conv2d.py``).

What changes from rung 2 (tap-major implicit GEMM whose backward_input gathers every tap for every input
pixel, masking the stride holes): with stride sh x sw, input pixel h only receives the taps r with
(h + ph - r) % sh == 0. So the pixels are split into sh*sw phases (a, b) = ((h + ph) % sh, (w + pw) % sw),
and each phase is a dense GEMM of its own: rows are the phase's pixels (h0 + t*sh, w0 + u*sw), the
reduction runs over the phase's taps r = a + i*sh, s = b + j*sw only, and tap i meets row t at output row
p = p_base + t - i -- exact by construction, so the loop holds neither a division nor an exactness test.
One launch covers every phase (grid axis 1). At stride 1 there is one phase and this is rung 2's kernel.
Forward and backward_weight are unchanged from rung 2.

Bytes and FLOPs: backward_input now issues only the useful 2*N*K*C*R*S*P*Q multiply-adds (rung 2 issued
sh*sw times as many at stride > 1) and still reads dy and w once from DRAM, writing dx once. A phase with no
taps (stride larger than the kernel) writes its zeros without a loop.

Prediction (written before any GPU measurement): stride-1 layers unchanged from rung 2 (same kernel); on the
stride-2 3x3 layers of ResNet-50 backward_input about 3x faster than rung 2 -- not the full 4x, because the
phases are uneven (4, 2, 2 and 1 taps) and the grid is sized for the largest phase, so the 1-tap phase's
programs finish early and the GPU's tail is ragged; on a 1x1 stride-2 projection about 4x (3 of the 4
phases have no taps and only write zeros). Measured: not yet -- no GPU has run it.

The kernels are production's general implicit GEMMs (``kernels/triton/conv2d.py``); this rung runs them for every
layer, without the rungs above (rung 4's 1x1 GEMMs, rung 5's Hopper forward).
"""

from __future__ import annotations

import torch

from ... import conv2d as _production
from ...conv2d import conv2d_backward_bias

__all__ = ["conv2d_forward", "conv2d_backward_input", "conv2d_backward_weight", "conv2d_backward_bias"]


def conv2d_forward(x: torch.Tensor, w: torch.Tensor, b: torch.Tensor | None, stride, padding) -> torch.Tensor:
    """Production's :func:`~kernels.triton.conv2d.conv2d_forward` on its general implicit GEMM for every layer."""
    return _production._implicit_gemm_forward(x, w, b, _production._checked_forward(x, w, b, stride, padding))


def conv2d_backward_input(dy: torch.Tensor, w: torch.Tensor, input_shape, stride, padding) -> torch.Tensor:
    """Production's backward_input by stride phase, for every layer."""
    g = _production._checked_backward_input(dy, w, input_shape, stride, padding)
    return _production._implicit_gemm_backward_input(dy, w, g)


def conv2d_backward_weight(dy: torch.Tensor, x: torch.Tensor, weight_shape, stride, padding) -> torch.Tensor:
    """Production's split-K backward_weight, for every layer."""
    g = _production._checked_backward_weight(dy, x, weight_shape, stride, padding)
    return _production._implicit_gemm_backward_weight(dy, x, g)
