"""Rung 2 -- tap-major implicit GEMM: production's forward and weight gradient, backward_input by plain gather.

What changes from rung 1 (the textbook implicit GEMM: a flat (c, r, s) reduction decoded with a division and
a modulo per gathered element, row-major program order, one program per weight-gradient tile):

* **Tap-major reduction.** The loop runs (r, s) outermost and channels in BLOCK_K chunks inside, as one flat
  loop of R*S*ceil(C/BLOCK_K) steps. For one tap every GEMM row reads one input pixel, so the 2-D gather
  address is a 1-D per-row offset plus a 1-D per-channel offset and its mask a 1-D row mask AND a 1-D
  channel mask: one add and one AND per tile element, the divisions are per step (scalars), not per
  element. Rows are decoded to (n, p, q) once per program; offsets inside one image are 32-bit.
* **Grouped program order** (GROUP_M row tiles swept column by column) so programs running together share
  operand tiles in L2.
* **Split-K for the weight gradient**: a 64->64 3x3 layer has 9 dw tiles of 64x64 per tap, so rung 1 ran 9
  programs per tap over N*P*Q ~ 10^5 rows each; here the reduction is cut into up to 64 splits aiming at
  ~1024 programs, partial sums go to a float32 workspace added in split order (deterministic, no atomics).
* Autotuned tile lists per operand class, each compiled spill-free for sm_90/sm_80 ahead of time.

These are ``kernels/triton/conv2d.py``'s kernels (imported from it) except **backward_input**, which this
rung keeps in its plain form: the GEMM rows are every input pixel (n, h, w) and the reduction every tap
(r, s) x k; a tap reads dy[n, k, p, q] with p = (h + ph - r) / sh, q = (w + pw - s) / sw only when both
divisions are exact and in range. With stride sh x sw only 1/(sh*sw) of that reduction is non-zero: the
other taps are stride holes, loaded masked and multiplied as zeros. Rung 3 removes them.

Prediction (written before any GPU measurement), ResNet-50-style layers at batch 32: forward and
backward_weight compute-bound, float32 (IEEE, FMA units) at 40-60% of the FP32 FMA peak, bf16/fp16 on tensor
cores at 30-50% of the dense tensor-core peak (the NCHW gather loads the channel axis strided by H*W, so
operand loads are not vectorised and the pipeline is fed from L1/L2, not TMA); backward_input at stride 1
like forward, at stride 2 about 4x the time its useful FLOPs need (3 of every 4 tap steps are holes).
Measured: not yet -- no GPU has run it.
"""

from __future__ import annotations

import torch
import triton
import triton.language as tl

from ...._args import conv2d_backward_input_geometry
from ... import conv2d as _production
from ..._common import check_float_tensor, check_same_dtype, gemm_tile_configs, prune_by_dtype, size_bucket
from ...conv2d import (
    _DGRAD_DTYPE_CONFIGS,
    _INTERPRETER_GEMM_CONFIG,
    _KEY,
    _check_image_sizes,
    _decode_rows,
    _gemm_options,
    _geometry_args,
    _grid,
    _grouped_tile,
    _wide,
    conv2d_backward_bias,
    conv2d_backward_weight,
    conv2d_forward,
)

__all__ = ["conv2d_forward", "conv2d_backward_input", "conv2d_backward_weight", "conv2d_backward_bias"]

#: backward_input's tiles here: the gather's per-element exactness test (stride > 1) costs registers, so the
#: half-precision 64x32 / 4-warp tile spilled 12 B on sm_90 at stride 2 and IEEE float32 spilled at 64x32 on
#: 4 or 8 warps; production's other half tiles, and 32x32 for float32, compile spill-free at strides 1 and 2.
_GATHER_DTYPE_CONFIGS = {**_DGRAD_DTYPE_CONFIGS, "float32": [(32, 32, 32, 4, 4)],
                         "half": [c for c in _DGRAD_DTYPE_CONFIGS["half"] if c[:2] != (64, 32)]}
_GATHER_CONFIGS = gemm_tile_configs(_GATHER_DTYPE_CONFIGS, _INTERPRETER_GEMM_CONFIG)
_GATHER_PRUNE = {"early_config_prune": prune_by_dtype(_GATHER_DTYPE_CONFIGS, lambda: _production.ALLOW_TF32,
                                                      ("dy_ptr",))}


@triton.autotune(configs=_GATHER_CONFIGS, key=_KEY, prune_configs_by=_GATHER_PRUNE)
@triton.jit
def _conv2d_backward_input_kernel(
    dy_ptr, w_ptr, dx_ptr,
    M, C, H, W, K, R, S, P, Q, sh, sw, ph, pw, M_BUCKET,
    ACC_DTYPE: tl.constexpr, INPUT_PRECISION: tl.constexpr, WIDE_ROWS: tl.constexpr,
    BLOCK_M: tl.constexpr, BLOCK_N: tl.constexpr, BLOCK_K: tl.constexpr, GROUP_M: tl.constexpr,
):  # fmt: skip
    # GEMM rows (n, h, w) of dx, columns c, reduction (r, s, k).  For tap (r, s) the row reads
    # dy[n, k, p, q] with p = (h + ph - r) / sh, q = (w + pw - s) / sw when both divisions are exact
    # and in range -- a per-row condition, so again a 1-D mask and a 1-D offset per step.
    pid_m, pid_n = _grouped_tile(tl.program_id(0), M, C, BLOCK_M, BLOCK_N, GROUP_M)
    n, h, w, mask_m = _decode_rows(pid_m * BLOCK_M, M, H * W, W, BLOCK_M, WIDE_ROWS)
    dy_img = dy_ptr + n * K * P * Q
    offs_n = pid_n * BLOCK_N + tl.arange(0, BLOCK_N)
    mask_n = offs_n < C
    offs_k = tl.arange(0, BLOCK_K)
    RS = R * S
    w_cols = w_ptr + offs_n[None, :] * RS  # w[k, c, r, s] as B[k, c] for one tap

    acc = tl.zeros((BLOCK_M, BLOCK_N), dtype=ACC_DTYPE)
    k_steps = tl.cdiv(K, BLOCK_K)
    for step in range(0, RS * k_steps):
        rs = step // k_steps
        k0 = (step - rs * k_steps) * BLOCK_K
        r = rs // S
        s = rs - r * S
        p_num = h + ph - r
        q_num = w + pw - s
        p = p_num // sh
        q = q_num // sw
        row_ok = mask_m & (p_num >= 0) & (q_num >= 0) & (p * sh == p_num) & (q * sw == q_num) & (p < P) & (q < Q)
        k_ok = offs_k < K - k0
        a = tl.load(dy_img[:, None] + (p * Q + q)[:, None] + ((k0 + offs_k) * (P * Q))[None, :],
                    mask=row_ok[:, None] & k_ok[None, :], other=0.0)
        b = tl.load(w_cols + ((k0 + offs_k) * (C * RS) + rs)[:, None], mask=k_ok[:, None] & mask_n[None, :],
                    other=0.0)
        acc = tl.dot(a, b, acc, input_precision=INPUT_PRECISION, out_dtype=ACC_DTYPE)

    dx_img = dx_ptr + n * C * H * W
    dx_ptrs = dx_img[:, None] + (h * W + w)[:, None] + (offs_n * (H * W))[None, :]
    tl.store(dx_ptrs, acc.to(dx_ptr.dtype.element_ty), mask=mask_m[:, None] & mask_n[None, :])


def conv2d_backward_input(dy: torch.Tensor, w: torch.Tensor, input_shape, stride, padding) -> torch.Tensor:
    """Gradient w.r.t. the input: ``dx[N, C, H, W]`` for ``dy[N, K, P, Q]`` and ``w[K, C, R, S]``, every tap
    of every pixel (stride holes included). Same checks and errors as the production kernel's."""
    check_float_tensor("dy", dy, 4)
    check_float_tensor("w", w, 4)
    dtype = check_same_dtype(dy=dy, w=w)
    g = conv2d_backward_input_geometry(dy.shape, w.shape, input_shape, stride, padding)
    _check_image_sizes(g)

    dx = torch.empty((g.N, g.C, g.H, g.W), dtype=dtype, device=dy.device)
    M = g.N * g.H * g.W
    if M == 0:
        return dx
    _conv2d_backward_input_kernel[_grid(M, g.C)](
        dy, w, dx,
        M, *_geometry_args(g), size_bucket(M),
        WIDE_ROWS=_wide(M), **_gemm_options(dtype),
    )  # fmt: skip
    return dx
