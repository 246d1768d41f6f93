"""Rung 5 -- Hopper: the weight operand by TMA, wgmma-sized tiles, a persistent grid.

Math: rung 4's (and rung 3's) forward GEMM, rows (n, p, q), columns k, tap-major reduction (r, s, c)::

    y[n, k, p, q] = b[k] + sum_{r, s, c} w[k, c, r, s] * xpad[n, c, p*sh + r, q*sw + s]

What changes from rung 4 (every operand tile gathered with per-lane addresses and masks; one program per output
tile), for float16 / bfloat16 layers that are not 1x1 GEMMs, on sm_90 and later -- forward and backward_input:

* **The weight tile comes by TMA.** The weight is packed once per call (``_pack_weight_kernel``, |w| read,
  R*S*C_PAD*K_PAD written: 74 KB for a 3x3 64->64 layer) into wp[R*S*C_PAD, K], row rs*C_PAD + c = w[:, c, r, s],
  C_PAD = C rounded up to 64 and zero rows/columns past C and K. Then the B tile of every step, (tap rs, channel
  block c0) x (column block), is one rectangle of a 2-D tensor, read by a tensor descriptor
  (``triton.tools.tensor_descriptor.TensorDescriptor``, block shape set per autotune config by a pre-hook): the
  Tensor Memory Accelerator copies it into shared memory in the swizzled layout wgmma reads, asynchronously, with no
  address arithmetic, no mask and no registers in the program. TMA's zero fill covers k >= K; the packed zero rows
  cover c >= C, so a channel block never reads the next tap's weights (a non-finite weight stays where it is).
  backward_input does the same with the weight packed by output channel, wp[rs*K_PAD + k, c] = w[k, c, r, s]: its
  stride-phase GEMM (rung 3's) reads B[k, c] of the phase's tap (a + i*sh, b + j*sw) as one rectangle.
* **wgmma-sized tiles**: the half list is 64x64, 128x64 and 64x128 tiles with BLOCK_K 32 or 64, 4 or 8 warps (one
  or two warpgroups), 3-4 stages -- the ones that compile spill-free on sm_90 under triton 3.6 and 3.9 (128x128
  spills 400-740 B under 3.9, the gathered A tile's registers; see below).
* **Persistent grid** (forward): ``PROGRAMS_PER_SM`` x SMs programs (never more than the tiles) walk the output
  tiles in the grouped order, program i taking tiles i, i + programs, ...: no launch wave per tile. backward_input
  keeps one program per (tile, phase): its phases already share one launch, with uneven tap counts.

The input tile stays a gather: in NCHW the (n, p, q) rows of a tile are not a rectangle of any tensor (windows
overlap, rows wrap across image rows and images, padding is outside the tensor), so TMA cannot load it without an
im2col descriptor, which Triton does not expose. backward_weight (no weight operand: both of its operands are
activations) is rung 4's; float32 (IEEE, FMA units) and float64 take rung 4's kernels.

Bytes and FLOPs: rung 4's, plus the pack: |w| read and R*S*C_PAD*K_PAD written and read (per call; the weight
changes every training step). 2*N*K*C*R*S*P*Q FLOPs.

Static facts (``python -m benchmarks.aot_triton --family conv2d --arch sm_90``; ResNet 3x3 64->64 at 56x56):
UTMALDG (the TMA load) and HGMMA (wgmma) in the SASS of every config; forward registers 70-90 under triton 3.6 (the
GPU image's version) but 227-239 under triton 3.9 for the same source and tiles, no spills in either;
backward_input 80-124 (3.6) and 128-216 (3.9), strides 1 and 2, no spills. Rung 4's gather
forward uses 156-197 registers under 3.9. The 3.9 count is the pipeliner: once B arrives by TMA the loop is
software-pipelined across stages and the A gather of later steps is issued early and held in registers. Under 3.9
that leaves one 8-warp program per SM.

Prediction (written before any GPU measurement), ResNet-style 3x3 layers in bf16 at batch 32 on an H100/H200: the
forward is bound by the A gather's issue rate (one address and one 2-byte load per element, per tap), not by the
tensor cores; moving B to TMA removes about a third of the load and address instructions per step (B is 32x64 of
the 128x32 + 32x64 elements a 128x64 step loads), so **1.1-1.3x rung 4 under triton 3.6**, 25-40% of the dense bf16
tensor-core peak, and about 0.8-1.1x rung 4 under triton 3.9 (the register count above halves the resident warps
that hide the gather's latency). The persistent grid alone: within 5% (a 3x3 64->64 layer at batch 32 has 784
tiles of 128x64, six waves of 132, and a launch is cheap next to a 20-60 us kernel); it pays on small layers
(DigitsCNN, batch 32: tens of tiles) only where launch latency is visible at all. The pack adds 2-5 us per call,
which small layers feel. backward_input: the same 1.1-1.3x over rung 4 under 3.6 at stride 1 and 2 (its B tile is
the same third of the step's loads), 0.9-1.2x under 3.9 (128-216 registers). Measured: not yet -- no GPU has run it.

The kernels and launchers are this file's; the argument checks, the weight packing, the device test and the
1x1 and general paths are production's. Production (rung 6) keeps this rung's TMA weight and persistent grid and
changes the activation operand to channels-last. Verified: the interpreter (which emulates tensor descriptors)
against torch float64 in float16 (tests/kernels/triton/test_conv2d_tma.py: channel counts across the packed tap,
K not a multiple of the pitch, 1, 2 and many persistent programs; backward_input at strides 1-3 with tap-free
phases); sm_90 compile facts as above. Never run on a GPU.
"""

from __future__ import annotations

import torch
import triton
import triton.language as tl

from ..._common import autotune_configs, size_bucket
from ...conv2d import (
    _KEY,
    MAX_GRID_Y,
    ConvGeometry,
    _checked_backward_input,
    _checked_forward,
    _decode_rows,
    _gemm_options,
    _geometry_args,
    _grid,
    _grouped_tile,
    _implicit_gemm_backward_input,
    _implicit_gemm_forward,
    _is_pointwise,
    _packed_weight_desc,
    _persistent_programs,
    _phase_geometry,
    _pointwise_backward_input,
    _pointwise_forward,
    _set_tma_block,
    _uses_tma,
    _wide,
    conv2d_backward_bias,
    conv2d_backward_weight,
)

__all__ = ["conv2d_forward", "conv2d_backward_input", "conv2d_backward_weight", "conv2d_backward_bias"]

#: (BLOCK_M, BLOCK_N, BLOCK_K, warps, stages): wgmma-sized tiles for the half class (float16, bfloat16, and
#: float32 under ALLOW_TF32); each compiles spill-free on sm_90 (benchmarks/aot_triton.py).
_TMA_TILES = [(128, 64, 32, 8, 3), (64, 128, 32, 8, 3), (64, 128, 64, 8, 3), (64, 64, 32, 4, 3), (128, 64, 32, 8, 4)]
_TMA_CONFIGS = autotune_configs(
    [triton.Config({"BLOCK_M": bm, "BLOCK_N": bn, "BLOCK_K": bk, "GROUP_M": 8}, num_warps=nw, num_stages=ns,
                   pre_hook=_set_tma_block) for bm, bn, bk, nw, ns in _TMA_TILES],
    triton.Config({"BLOCK_M": 64, "BLOCK_N": 32, "BLOCK_K": 32, "GROUP_M": 2}, num_warps=1, pre_hook=_set_tma_block),
)


@triton.autotune(configs=_TMA_CONFIGS, key=_KEY)
@triton.jit
def _conv2d_forward_tma_kernel(
    x_ptr, w_desc, b_ptr, y_ptr,
    M, C, H, W, K, R, S, P, Q, sh, sw, ph, pw, M_BUCKET, C_PAD,
    HAS_BIAS: tl.constexpr, ACC_DTYPE: tl.constexpr, INPUT_PRECISION: tl.constexpr, WIDE_ROWS: tl.constexpr,
    BLOCK_M: tl.constexpr, BLOCK_N: tl.constexpr, BLOCK_K: tl.constexpr, GROUP_M: tl.constexpr,
):  # fmt: skip
    # The forward kernel's GEMM (rows (n, p, q), columns k, tap-major reduction), persistent: program i
    # computes output tiles i, i + programs, i + 2*programs, ...; the weight tile is a TMA load from wp.
    RS = R * S
    c_steps = tl.cdiv(C, BLOCK_K)
    offs_c = tl.arange(0, BLOCK_K)
    num_tiles = tl.cdiv(M, BLOCK_M) * tl.cdiv(K, BLOCK_N)
    for tile in range(tl.program_id(0), num_tiles, tl.num_programs(0)):
        pid_m, pid_n = _grouped_tile(tile, M, K, BLOCK_M, BLOCK_N, GROUP_M)
        n, p, q, mask_m = _decode_rows(pid_m * BLOCK_M, M, P * Q, Q, BLOCK_M, WIDE_ROWS)
        h0 = p * sh - ph
        w0 = q * sw - pw
        x_img = x_ptr + n * C * H * W
        acc = tl.zeros((BLOCK_M, BLOCK_N), dtype=ACC_DTYPE)
        for step in range(0, RS * c_steps):
            rs = step // c_steps
            c0 = (step - rs * c_steps) * BLOCK_K
            r = rs // S
            s = rs - r * S
            h = h0 + r
            w = w0 + s
            row_ok = mask_m & (h >= 0) & (h < H) & (w >= 0) & (w < W)
            c_ok = offs_c < C - c0
            a = tl.load(x_img[:, None] + (h * W + w)[:, None] + ((c0 + offs_c) * (H * W))[None, :],
                        mask=row_ok[:, None] & c_ok[None, :], other=0.0)
            b = w_desc.load([rs * C_PAD + c0, pid_n * BLOCK_N])
            acc = tl.dot(a, b, acc, input_precision=INPUT_PRECISION, out_dtype=ACC_DTYPE)

        offs_n = pid_n * BLOCK_N + tl.arange(0, BLOCK_N)
        mask_n = offs_n < K
        if HAS_BIAS:
            bias = tl.load(b_ptr + offs_n, mask=mask_n, other=0.0)
            acc += bias.to(ACC_DTYPE)[None, :]
        y_img = y_ptr + n * K * P * Q
        y_ptrs = y_img[:, None] + (p * Q + q)[:, None] + (offs_n * (P * Q))[None, :]
        tl.store(y_ptrs, acc.to(y_ptr.dtype.element_ty), mask=mask_m[:, None] & mask_n[None, :])


@triton.autotune(configs=_TMA_CONFIGS, key=_KEY)
@triton.jit
def _conv2d_backward_input_tma_kernel(
    dy_ptr, w_desc, dx_ptr,
    M, N, C, H, W, K, R, S, P, Q, sh, sw, ph, pw, M_BUCKET, PHASE0, K_PAD,
    ACC_DTYPE: tl.constexpr, INPUT_PRECISION: tl.constexpr, WIDE_ROWS: tl.constexpr,
    BLOCK_M: tl.constexpr, BLOCK_N: tl.constexpr, BLOCK_K: tl.constexpr, GROUP_M: tl.constexpr,
):  # fmt: skip
    # _conv2d_backward_input_kernel (stride phases, grid axis 1) with the weight tile B[k, c] of tap (r, s) read
    # by TMA from the packed wp[rs * K_PAD + k, c].
    a, b, h0, w0, Hp, Wp, Ra, Sb, p_base, q_base = _phase_geometry(PHASE0 + tl.program_id(1), H, W, R, S, sh, sw,
                                                                   ph, pw)
    pid_m, pid_n = _grouped_tile(tl.program_id(0), M, C, BLOCK_M, BLOCK_N, GROUP_M)
    M_phase = N * (Hp * Wp)
    if WIDE_ROWS:
        M_phase = tl.cast(N, tl.int64) * (Hp * Wp)
    n, t, u, mask_m = _decode_rows(pid_m * BLOCK_M, M_phase, Hp * Wp, Wp, BLOCK_M, WIDE_ROWS)
    dy_img = dy_ptr + n * K * P * Q
    p_row = p_base + t
    q_row = q_base + u
    offs_k = tl.arange(0, BLOCK_K)

    acc = tl.zeros((BLOCK_M, BLOCK_N), dtype=ACC_DTYPE)
    k_steps = tl.cdiv(K, BLOCK_K)
    for step in range(0, Ra * Sb * k_steps):
        tap = step // k_steps
        k0 = (step - tap * k_steps) * BLOCK_K
        i = tap // Sb
        j = tap - i * Sb
        p = p_row - i
        q = q_row - j
        row_ok = mask_m & (p >= 0) & (p < P) & (q >= 0) & (q < Q)
        k_ok = offs_k < K - k0
        a_tile = tl.load(dy_img[:, None] + (p * Q + q)[:, None] + ((k0 + offs_k) * (P * Q))[None, :],
                         mask=row_ok[:, None] & k_ok[None, :], other=0.0)
        rs = (a + i * sh) * S + b + j * sw
        b_tile = w_desc.load([rs * K_PAD + k0, pid_n * BLOCK_N])
        acc = tl.dot(a_tile, b_tile, acc, input_precision=INPUT_PRECISION, out_dtype=ACC_DTYPE)

    offs_n = pid_n * BLOCK_N + tl.arange(0, BLOCK_N)
    mask_n = offs_n < C
    dx_img = dx_ptr + n * C * H * W
    h = h0 + (p_row - p_base) * sh
    w = w0 + (q_row - q_base) * sw
    dx_ptrs = dx_img[:, None] + (h * W + w)[:, None] + (offs_n * (H * W))[None, :]
    tl.store(dx_ptrs, acc.to(dx_ptr.dtype.element_ty), mask=mask_m[:, None] & mask_n[None, :])


# ---------------------------------------------------------------- launchers


def _tma_forward(x: torch.Tensor, w: torch.Tensor, b: torch.Tensor | None, g: ConvGeometry) -> torch.Tensor:
    """The Hopper forward on checked arguments: weight packed for TMA, persistent grid."""
    y = torch.empty((g.N, g.K, g.P, g.Q), dtype=x.dtype, device=x.device)
    M = g.N * g.P * g.Q
    if M == 0:
        return y
    w_desc, c_pad = _packed_weight_desc(w, g, by_k=False)
    programs = _persistent_programs(None if x.device.type != "cuda" else x.device.index or 0)

    def grid(meta):
        return (min(programs, triton.cdiv(M, meta["BLOCK_M"]) * triton.cdiv(g.K, meta["BLOCK_N"])),)

    _conv2d_forward_tma_kernel[grid](
        x, w_desc, b if b is not None else x, y,
        M, *_geometry_args(g), size_bucket(M), c_pad,
        HAS_BIAS=b is not None, WIDE_ROWS=_wide(M), **_gemm_options(x.dtype),
    )  # fmt: skip
    return y


def _tma_backward_input(dy: torch.Tensor, w: torch.Tensor, g: ConvGeometry) -> torch.Tensor:
    """The Hopper backward_input on checked arguments: stride phases as the general one, weight tiles by TMA."""
    dx = torch.empty((g.N, g.C, g.H, g.W), dtype=dy.dtype, device=dy.device)
    if g.N * g.H * g.W == 0:
        return dx
    w_desc, k_pad = _packed_weight_desc(w, g, by_k=True)
    M = g.N * triton.cdiv(g.H, g.sh) * triton.cdiv(g.W, g.sw)
    tiles = _grid(M, g.C)
    phases = min(g.sh, g.H) * min(g.sw, g.W)
    for phase0 in range(0, phases, MAX_GRID_Y):
        count = min(MAX_GRID_Y, phases - phase0)
        _conv2d_backward_input_tma_kernel[lambda meta, count=count: (*tiles(meta), count)](
            dy, w_desc, dx,
            M, g.N, *_geometry_args(g), size_bucket(M), phase0, k_pad,
            WIDE_ROWS=_wide(M), **_gemm_options(dy.dtype),
        )  # fmt: skip
    return dx


def conv2d_forward(x: torch.Tensor, w: torch.Tensor, b: torch.Tensor | None, stride, padding) -> torch.Tensor:
    """Production's checks; 1x1 plain layers as rung 4's GEMMs, float16/bfloat16 on a TMA device by
    :func:`_tma_forward` (NCHW gather, TMA weight, persistent), the rest the general implicit GEMM."""
    g = _checked_forward(x, w, b, stride, padding)
    if _is_pointwise(g):
        return _pointwise_forward(x, w, b, g)
    if _uses_tma(x, g):
        return _tma_forward(x, w, b, g)
    return _implicit_gemm_forward(x, w, b, g)


def conv2d_backward_input(dy: torch.Tensor, w: torch.Tensor, input_shape, stride, padding) -> torch.Tensor:
    """Production's checks; 1x1 plain layers as rung 4's GEMMs, float16/bfloat16 on a TMA device by
    :func:`_tma_backward_input`, the rest the general stride phases."""
    g = _checked_backward_input(dy, w, input_shape, stride, padding)
    if _is_pointwise(g):
        return _pointwise_backward_input(dy, w, g)
    if _uses_tma(dy, g):
        return _tma_backward_input(dy, w, g)
    return _implicit_gemm_backward_input(dy, w, g)
