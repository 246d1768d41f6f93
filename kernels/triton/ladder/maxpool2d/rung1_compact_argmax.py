"""Rung 1 -- the compact argmax written by the forward kernel itself: r*S + s in int8, no int64 index, no second pass.

Math and contract: rung 0's (``kernels/triton/maxpool2d.py``'s): y = the window maximum, argmax = the winner's window
position r*S + s in ``argmax_dtype(R*S)`` (int8 for windows up to 127 positions, int16, int32).

What changes from rung 0 (``rung0_naive.py``: the forward loop recorded the winner as PyTorch does, a flat int64
index h*W + w into the plane, and a second kernel re-read that index to turn it into the compact position the
contract stores): the loop carries the window position k = r*S + s itself (an int32 register, a constant per step)
and stores it straight into the argmax dtype. Gone: the 8-byte index write and read, the conversion launch and its
division by W. Where the idea came from: the numpy reference (``kernels/numpy/maxpool2d.py``) defined the compact
format first, to keep the tensor saved for backward 8x smaller than PyTorch's int64 one for the usual 2x2 / 3x3
windows; production's kernels write it directly. The backward is rung 0's scatter, unchanged (it already read the
compact argmax: that is the contract's input).

Bytes moved, the running example (ResNet-50's stem pool, 3x3 stride 2 padding 1, x[32, 64, 112, 112] float32 on an
H200): forward x once from DRAM (102.8 MB) + y (25.7 MB) + the int8 argmax (6.4 MB) = 134.9 MB, exactly the
compulsory traffic (rung 0: 238 MB in two launches). Backward unchanged (~340 MB, 2.5x compulsory).

Prediction, written before any measurement (the running example, float32, H200): forward 45-75 us, 1.3-1.6x faster
than rung 0 -- 43% fewer bytes and one launch fewer, but the window loop (rung 0's: in the sm_90 PTX a loop of 3 trips
over r with the 3 loads of a row unrolled, so three dependent rounds of loads per window) keeps it at 45-75% of copy
bandwidth rather than at the ~33 us floor;
float16 / bfloat16 gain more (rung 0's int64 index was a larger share of their bytes): 1.5-2x. Backward: rung 0's
times. Unverified: no GPU has run this rung.

Measured: not yet (no GPU). Compiled ahead of time for sm_90 (launcher "rung1_compact_argmax: maxpool2d_forward",
Triton 3.9): no spill; registers 32-54 (float32), 32-56 (16-bit), 32-64 (float64).
"""

from __future__ import annotations

import torch
import triton
import triton.language as tl

from ...._args import maxpool2d_forward_geometry
from ..._common import check_float_tensor, size_bucket
from ...maxpool2d import _check_plane, _needs_int64, argmax_dtype
from .rung0_naive import _CONFIGS, _grid, maxpool2d_backward

__all__ = ["maxpool2d_forward", "maxpool2d_backward"]


@triton.autotune(configs=_CONFIGS, key=["size_bucket", "R", "S", "SH", "SW"])
@triton.jit
def _compact_forward_kernel(
    x_ptr, y_ptr, argmax_ptr, total, size_bucket, H, W, P, Q,
    R: tl.constexpr, S: tl.constexpr, SH: tl.constexpr, SW: tl.constexpr, PH: tl.constexpr, PW: tl.constexpr,
    CMP: tl.constexpr, INDEX_64: tl.constexpr, BLOCK: tl.constexpr,
):
    RS: tl.constexpr = R * S
    if INDEX_64:
        out = tl.program_id(0).to(tl.int64) * BLOCK + tl.arange(0, BLOCK)
    else:
        out = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
    mask = out < total
    nc = out // (P * Q)
    pq = (out - nc * (P * Q)).to(tl.int32)
    q = pq % Q
    p = pq // Q
    h0 = p * SH - PH
    w0 = q * SW - PW
    plane = nc * (H * W)

    best = tl.full([BLOCK], float("-inf"), CMP)
    best_k = tl.full([BLOCK], RS, tl.int32)  # the winner's r*S + s; RS = no real element seen yet
    for r in range(R):
        h = h0 + r
        row_ok = mask & (h >= 0) & (h < H)
        for s in range(S):
            w = w0 + s
            real = row_ok & (w >= 0) & (w < W)
            v = tl.load(x_ptr + plane + (h * W + w), mask=real, other=float("-inf")).to(CMP)
            take = real & ((v > best) | (v != v) | (best_k == RS))  # rung 0's rule: first maximum, last NaN
            best = tl.where(take, v, best)
            best_k = tl.where(take, r * S + s, best_k)
    tl.store(y_ptr + out, best.to(y_ptr.dtype.element_ty), mask=mask)
    tl.store(argmax_ptr + out, best_k.to(argmax_ptr.dtype.element_ty), mask=mask)


def maxpool2d_forward(x: torch.Tensor, kernel, stride, padding) -> tuple[torch.Tensor, torch.Tensor]:
    """Max-pool ``x[N, C, H, W]`` with windows ``kernel`` = (R, S): ``(y, argmax)`` as production's.

    Raises TypeError / ValueError exactly as ``kernels.triton.maxpool2d.maxpool2d_forward``.
    """
    check_float_tensor("x", x, 4)
    g = maxpool2d_forward_geometry(x.shape, kernel, stride, padding)
    _check_plane("maxpool2d_forward", g)
    y = torch.empty((g.N, g.C, g.P, g.Q), dtype=x.dtype, device=x.device)
    argmax = torch.empty((g.N, g.C, g.P, g.Q), dtype=argmax_dtype(g.R * g.S), device=x.device)
    total = g.N * g.C * g.P * g.Q
    if total == 0:
        return y, argmax
    _compact_forward_kernel[_grid(total)](
        x, y, argmax, total, size_bucket(total), g.H, g.W, g.P, g.Q,
        R=g.R, S=g.S, SH=g.sh, SW=g.sw, PH=g.ph, PW=g.pw,
        CMP=tl.float64 if x.dtype == torch.float64 else tl.float32, INDEX_64=_needs_int64(x.numel(), total),
    )
    return y, argmax
