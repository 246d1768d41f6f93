"""Rung 6 -- channels-last (NHWC) activation operand: every A-tile row is a contiguous run of channels.

Math: rung 5's GEMMs. Forward, rows (n, p, q), columns k, tap-major reduction (r, s, c)::

    y[n, k, p, q] = b[k] + sum_{r, s, c} w[k, c, r, s] * xpad[n, c, p*sh + r, q*sw + s]

backward_input, by stride phase (rung 3's), rows the phase's pixels (n, t, u), columns c, reduction over the phase's
taps (i, j) and k: dx[n, c, h, w] = sum_{i, j, k} w[k, c, a + i*sh, b + j*sw] * dy[n, k, p_row - i, q_row - j].

What changes from rung 5 (the A tile gathered from NCHW: for one tap the channel axis of A[(n, p, q), c] is H*W
elements apart and the row axis is decoded with divisions, so Triton can prove no contiguity along either and
issues one scalar 2-byte load per element -- ``ld.global.b16`` in production's PTX, no vector):

* **The activation is transposed once per call to NHWC** (``_nchw_to_nhwc_kernel``: a [BLOCK_C, BLOCK_P] tile of
  one image read along pixels, ``tl.trans``-ed through shared memory, written along channels, so both the read and
  the write are coalesced, vectorised runs). Then for tap (r, s) a row's channels c0 .. c0 + BLOCK_K are
  contiguous at xh[n, h, w, c0:]: the A tile is BLOCK_M runs of BLOCK_K elements, one 64-bit image base and one
  32-bit pixel offset ``(h*W + w) * C`` per row. The launcher passes C_ALIGN = gcd(C, 8) as a constexpr and the
  kernel writes C as ``(C // C_ALIGN) * C_ALIGN`` (rung 4's PIX_ALIGN trick), so the compiler knows every row
  starts on a C_ALIGN-element boundary and the channel mask ``c < C - c0`` is constant over C_ALIGN lanes: the A
  loads are 16-byte ``cp.async`` copies into shared memory when C is a multiple of 8 (float16/bfloat16), 8- or
  4-byte ones for C = 4 or 2 mod 8, and scalar loads for an odd C (a C = 3 stem: correct, not vectorised).
* backward_input likewise: dy is transposed to dyh[N, P, Q, K], its A tile rows are runs of BLOCK_K output
  channels (K_ALIGN = gcd(K, 8)); B is rung 5's, the weight packed by output channel and read by TMA.
* B is rung 5's: production's weight packed per tap (``_packed_weight_desc``), tiles by TMA; the forward keeps the
  persistent grid. Output y (dx) stays NCHW, stored as production stores it (the pixel axis of the tile is the
  contiguous one there).

Bytes and FLOPs: rung 5's plus the transpose, |x| read and |x| written per forward call (|dy| for
backward_input). ResNet's 3x3 64->64 layer at batch 32 in bf16: |x| = 12.8 MB, so 25.7 MB more traffic -- about as
much as the layer's compulsory x read and y write together (25.7 MB), i.e. the transpose doubles the layer's
DRAM bytes, and at ~2.5-3.5 TB/s it takes 7-10 us. The GEMM is 7.40 GFLOP (7.5 us at the ~990 TFLOP/s dense bf16
peak), so the layer stays compute-leaning (144 FLOP/B without the transpose, 72 with it, both under the ~300
FLOP/B ridge only when the kernel is far from peak). A network that kept its activations NHWC from layer to layer
would not pay the transpose at all; production keeps the NCHW contract, so this rung pays it every call.

Limits: float16 / bfloat16 on a TMA device (sm_90+; the interpreter emulates descriptors), as rung 5. One image
of x (and of the NHWC copy, the same size) and the weight below 2**31 elements (production's checks); batches
unbounded (64-bit image bases). An odd C loses the vector loads (the stem); C < BLOCK_K wastes most of each chunk
(the stem again: C = 3 in a 32-wide chunk). The transpose is an extra |x| of device memory per call.
backward_weight and backward_bias are production's (rung 4's); 1x1 stride-1 unpadded layers are rung 4's plain
GEMMs (already contiguous in NCHW); float32 / float64 take production's implicit GEMMs.

Compile facts (static, ahead of time: benchmarks/aot_triton.py's capture and compile driven from a throwaway script
with a "rung6_channels_last: ..." case; 3x3 64->64, x[32, 64, 56, 56], sm_90, float16 and bfloat16): every config in
``_NHWC_TILES`` compiles without spills under triton 3.6 and 3.9, HGMMA (wgmma) and UTMALDG (TMA) in every SASS.
Registers (per config below ``_NHWC_TILES``): forward 76-110 under 3.6 (rung 5: 70-90) and 238-254 under 3.9 (rung 5:
227-239) -- the 3.9 count sits at the 255 ceiling and its 4-warp 128-row tiles spill, so the list is 8-warp tiles
plus a 64x64 one; backward_input 79-95 (3.6) and 146-217 (3.9), strides 1 and 2. In the PTX every A load is a
16-byte ``cp.async.cg.shared.global [..], [..], 0x10`` (4 per thread per step at 128x64x64 / 8 warps) and
no ``ld.global.b16`` is left (rung 5's same layer loads its A tile with scalar ``ld.global.b16``); y's NCHW
epilogue stays scalar ``st.global.b16`` stores, as production's. The transpose: 40 registers, ``ld.global.v4`` and
``st.global.v4`` (16-byte loads along pixels, 16-byte stores along channels), 8 KB of shared memory, no spills.

Prediction (written before any GPU measurement), ResNet-style 3x3 64->64 in bf16 at batch 32 on an H100/H200:
the A tile now costs BLOCK_M*BLOCK_K/8 16-byte copies per step instead of BLOCK_M*BLOCK_K scalar loads, and the
copies go to shared memory asynchronously (cp.async), so the kernel is no longer bound by load issue: the
convolution kernel itself at 45-65% of the dense bf16 tensor-core peak (11-17 us), 1.5-2.5x rung 5's kernel. The
transpose (7-10 us) is then 30-45% of the layer's time, so the whole forward call (pack + transpose + GEMM, 20-30
us) is 1.0-1.4x rung 5 under triton 3.6, and 1.3-1.8x under triton 3.9 (where rung 5's pipeliner held the
register gathers: 227-239 registers, one program per SM; here the A tile lives in shared memory). Small-C layers
(the C = 3 stem) gain nothing (scalar loads, as rung 5) and pay the transpose: 0.8-1.0x. backward_input: the same
shape of gain at stride 1 and 2 (its A operand is the same kind of gather), the dy transpose the same fraction.
Measured: not yet -- no GPU has run it.

Verified: the interpreter against torch float64 in float16 (tests/kernels/triton/test_conv2d_nhwc.py: C = 1, 3, 8,
70, K = 1, 17, 33, strides (1,1), (2,1), (2,2), padding 0-3, a padded 1x1, the transpose bit-exact, the dispatch),
under triton 3.9 and 3.6; sm_90 compile facts as above. Never run on a GPU.
"""

from __future__ import annotations

import math

import torch
import triton
import triton.language as tl

from ... import conv2d as _production  # attributes read inside functions only: production imports the rungs
from ..._common import autotune_configs, interpreting, size_bucket

__all__ = ["nhwc_forward", "nhwc_backward_input", "nchw_to_nhwc",
           "conv2d_forward", "conv2d_backward_input", "conv2d_backward_weight", "conv2d_backward_bias"]


def _set_tma_block(nargs):
    """Autotuner pre-hook: the descriptor's block is the config's (BLOCK_K, BLOCK_N) weight tile."""
    nargs["w_desc"].block_shape = [nargs["BLOCK_K"], nargs["BLOCK_N"]]


#: (BLOCK_M, BLOCK_N, BLOCK_K, warps, stages): wgmma-sized half tiles, each spill-free on sm_90 with HGMMA and UTMALDG
#: under triton 3.6 and 3.9 (3x3 64->64 at 56x56, float16 and bfloat16). Registers, forward | backward_input stride
#: 1 | stride 2, triton 3.6 -- triton 3.9:
#:   128x64x64 8w 3s: 108 | 88 | 92 -- 254 | 198 | 210        128x64x32 8w 3s:  90 | 79 | 87 -- 254 | 192 | 217
#:   64x128x64 8w 3s:  76 | 80 | 87 -- 254 | 163 | 146        64x64x64  4w 3s: 110 | 95 | 95 -- 238 | 168 | 168
#:   128x64x64 8w 4s: 108 | 88 | 92 -- 254 | 198 | 212
#: With 4 warps the 128-row tiles (128x64x64 4w 4s, 64x128x64 4w 4s, 128x64x32 4w 4s) and 128x128x64 (8 warps, 2 or
#: 3 stages) spill 200-1040 B under 3.9 (fine under 3.6: 119-172 registers), so they are not listed.
_NHWC_TILES = [(128, 64, 64, 8, 3), (128, 64, 32, 8, 3), (64, 128, 64, 8, 3), (64, 64, 64, 4, 3), (128, 64, 64, 8, 4)]
_NHWC_CONFIGS = autotune_configs(
    [triton.Config({"BLOCK_M": bm, "BLOCK_N": bn, "BLOCK_K": bk, "GROUP_M": 8}, num_warps=nw, num_stages=ns,
                   pre_hook=_set_tma_block) for bm, bn, bk, nw, ns in _NHWC_TILES],
    triton.Config({"BLOCK_M": 64, "BLOCK_N": 32, "BLOCK_K": 32, "GROUP_M": 2}, num_warps=1, pre_hook=_set_tma_block),
)

#: Autotune key: production's (the layer and the GEMM's row count as a power-of-two bucket, never the raw batch).
_KEY = ["C", "K", "R", "S", "sh", "sw", "M_BUCKET"]

#: The transpose's tile (channels x pixels); smaller under the interpreter, whose cost is per program.
_TRANSPOSE_BLOCK = (64, 64)
_INTERPRETER_TRANSPOSE_BLOCK = (32, 128)


@triton.jit
def _aligned(n, ALIGN: tl.constexpr):
    """n itself, as an expression the compiler knows to be a multiple of ALIGN (which divides n)."""
    return (n // ALIGN) * ALIGN


@triton.jit
def _nchw_to_nhwc_kernel(x_ptr, xh_ptr, C, HW, PIX_ALIGN: tl.constexpr, C_ALIGN: tl.constexpr,
                         BLOCK_C: tl.constexpr, BLOCK_P: tl.constexpr):
    """xh[n, p, c] = x[n, c, p] (p = h*W + w): one [BLOCK_C, BLOCK_P] tile of one image per program, read along
    pixels, written along channels (the layout change goes through shared memory, both sides coalesce)."""
    hw = _aligned(HW, PIX_ALIGN)
    cc = _aligned(C, C_ALIGN)
    tiles_p = tl.cdiv(hw, BLOCK_P)
    tiles = tiles_p * tl.cdiv(cc, BLOCK_C)
    pid = tl.program_id(0)
    n = pid // tiles
    rest = pid - n * tiles
    tile_c = rest // tiles_p
    tile_p = rest - tile_c * tiles_p
    image = tl.cast(n, tl.int64) * cc * hw  # 64-bit image base; 32-bit offsets inside the image
    offs_c = tile_c * BLOCK_C + tl.arange(0, BLOCK_C)
    offs_p = tl.max_contiguous(tl.multiple_of(tile_p * BLOCK_P + tl.arange(0, BLOCK_P), BLOCK_P), BLOCK_P)
    mask = (offs_c < cc)[:, None] & (offs_p < hw)[None, :]
    tile = tl.load(x_ptr + image + offs_c[:, None] * hw + offs_p[None, :], mask=mask)
    offs_c = tl.max_contiguous(tl.multiple_of(offs_c, BLOCK_C), BLOCK_C)
    tl.store(xh_ptr + image + offs_p[:, None] * cc + offs_c[None, :], tl.trans(tile),
             mask=(offs_p < hw)[:, None] & (offs_c < cc)[None, :])


@triton.autotune(configs=_NHWC_CONFIGS, key=_KEY)
@triton.jit
def _conv2d_forward_nhwc_kernel(
    xh_ptr, w_desc, b_ptr, y_ptr,
    M, C, H, W, K, R, S, P, Q, sh, sw, ph, pw, M_BUCKET, C_PAD,
    HAS_BIAS: tl.constexpr, C_ALIGN: tl.constexpr, ACC_DTYPE: tl.constexpr, INPUT_PRECISION: tl.constexpr,
    WIDE_ROWS: tl.constexpr,
    BLOCK_M: tl.constexpr, BLOCK_N: tl.constexpr, BLOCK_K: tl.constexpr, GROUP_M: tl.constexpr,
):  # fmt: skip
    # Rung 5's persistent forward (program i computes output tiles i, i + programs, ...; B[c, k] of tap rs by TMA
    # from wp[rs * C_PAD + c, k]) with A[(n, p, q), c] = xh[n, h, w, c]: per tap a row is one pixel offset
    # (h*W + w) * C and the channel block is contiguous behind it.
    cc = _aligned(C, C_ALIGN)  # C, known to be a multiple of C_ALIGN: rows start aligned, masks hold per vector
    RS = R * S
    c_steps = tl.cdiv(cc, BLOCK_K)
    offs_c = tl.max_contiguous(tl.multiple_of(tl.arange(0, BLOCK_K), BLOCK_K), BLOCK_K)
    num_tiles = tl.cdiv(M, BLOCK_M) * tl.cdiv(K, BLOCK_N)
    for tile in range(tl.program_id(0), num_tiles, tl.num_programs(0)):
        pid_m, pid_n = _production._grouped_tile(tile, M, K, BLOCK_M, BLOCK_N, GROUP_M)
        n, p, q, mask_m = _production._decode_rows(pid_m * BLOCK_M, M, P * Q, Q, BLOCK_M, WIDE_ROWS)
        h0 = p * sh - ph
        w0 = q * sw - pw
        x_img = xh_ptr + n * (H * W * cc)  # 64-bit image base
        acc = tl.zeros((BLOCK_M, BLOCK_N), dtype=ACC_DTYPE)
        for step in range(0, RS * c_steps):
            rs = step // c_steps
            c0 = (step - rs * c_steps) * BLOCK_K
            r = rs // S
            s = rs - r * S
            h = h0 + r
            w = w0 + s
            row_ok = mask_m & (h >= 0) & (h < H) & (w >= 0) & (w < W)
            c_ok = offs_c < cc - c0
            a = tl.load(x_img[:, None] + ((h * W + w) * cc)[:, None] + (c0 + offs_c)[None, :],
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


@triton.autotune(configs=_NHWC_CONFIGS, key=_KEY)
@triton.jit
def _conv2d_backward_input_nhwc_kernel(
    dyh_ptr, w_desc, dx_ptr,
    M, N, C, H, W, K, R, S, P, Q, sh, sw, ph, pw, M_BUCKET, PHASE0, K_PAD,
    K_ALIGN: tl.constexpr, ACC_DTYPE: tl.constexpr, INPUT_PRECISION: tl.constexpr, WIDE_ROWS: tl.constexpr,
    BLOCK_M: tl.constexpr, BLOCK_N: tl.constexpr, BLOCK_K: tl.constexpr, GROUP_M: tl.constexpr,
):  # fmt: skip
    # Rung 5's backward_input (stride phases on grid axis 1; B[k, c] of tap (a + i*sh, b + j*sw) by TMA from
    # wp[rs * K_PAD + k, c]) with A[(n, t, u), k] = dyh[n, p, q, k]: a row's output channels are contiguous.
    kk = _aligned(K, K_ALIGN)
    a, b, h0, w0, Hp, Wp, Ra, Sb, p_base, q_base = _production._phase_geometry(PHASE0 + tl.program_id(1), H, W, R,
                                                                               S, sh, sw, ph, pw)
    pid_m, pid_n = _production._grouped_tile(tl.program_id(0), M, C, BLOCK_M, BLOCK_N, GROUP_M)
    M_phase = N * (Hp * Wp)
    if WIDE_ROWS:
        M_phase = tl.cast(N, tl.int64) * (Hp * Wp)
    n, t, u, mask_m = _production._decode_rows(pid_m * BLOCK_M, M_phase, Hp * Wp, Wp, BLOCK_M, WIDE_ROWS)
    dy_img = dyh_ptr + n * (P * Q * kk)  # 64-bit image base
    p_row = p_base + t
    q_row = q_base + u
    offs_k = tl.max_contiguous(tl.multiple_of(tl.arange(0, BLOCK_K), BLOCK_K), BLOCK_K)

    acc = tl.zeros((BLOCK_M, BLOCK_N), dtype=ACC_DTYPE)
    k_steps = tl.cdiv(kk, BLOCK_K)
    for step in range(0, Ra * Sb * k_steps):
        tap = step // k_steps
        k0 = (step - tap * k_steps) * BLOCK_K
        i = tap // Sb
        j = tap - i * Sb
        p = p_row - i
        q = q_row - j
        row_ok = mask_m & (p >= 0) & (p < P) & (q >= 0) & (q < Q)
        k_ok = offs_k < kk - k0
        a_tile = tl.load(dy_img[:, None] + ((p * Q + q) * kk)[:, None] + (k0 + offs_k)[None, :],
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


def _align(n: int) -> int:
    """The largest power of two <= 8 dividing n: how many elements of a half-precision row a vector may cover."""
    return math.gcd(n, 8)


def nchw_to_nhwc(x: torch.Tensor) -> torch.Tensor:
    """x[N, C, H, W] (contiguous) -> a contiguous [N, H, W, C] copy, by :func:`_nchw_to_nhwc_kernel`."""
    N, C, H, W = x.shape
    xh = torch.empty((N, H, W, C), dtype=x.dtype, device=x.device)
    if xh.numel() == 0:
        return xh
    block_c, block_p = _INTERPRETER_TRANSPOSE_BLOCK if interpreting() else _TRANSPOSE_BLOCK
    grid = (N * triton.cdiv(C, block_c) * triton.cdiv(H * W, block_p),)
    _nchw_to_nhwc_kernel[grid](x, xh, C, H * W, PIX_ALIGN=_align(H * W), C_ALIGN=_align(C), BLOCK_C=block_c,
                               BLOCK_P=block_p)
    return xh


def nhwc_forward(x: torch.Tensor, w: torch.Tensor, b: torch.Tensor | None, g) -> torch.Tensor:
    """The forward on checked float16/bfloat16 arguments of geometry ``g`` on a TMA device: x transposed to NHWC,
    the weight packed for TMA, the persistent NHWC kernel; returns y[N, K, P, Q] (NCHW)."""
    y = torch.empty((g.N, g.K, g.P, g.Q), dtype=x.dtype, device=x.device)
    M = g.N * g.P * g.Q
    if M == 0:
        return y
    xh = nchw_to_nhwc(x)
    w_desc, c_pad = _production._packed_weight_desc(w, g, by_k=False)
    programs = _production._persistent_programs(None if x.device.type != "cuda" else x.device.index or 0)

    def grid(meta):
        return (min(programs, triton.cdiv(M, meta["BLOCK_M"]) * triton.cdiv(g.K, meta["BLOCK_N"])),)

    _conv2d_forward_nhwc_kernel[grid](
        xh, w_desc, b if b is not None else x, y,
        M, *_production._geometry_args(g), size_bucket(M), c_pad,
        HAS_BIAS=b is not None, C_ALIGN=_align(g.C), WIDE_ROWS=_production._wide(M),
        **_production._gemm_options(x.dtype),
    )  # fmt: skip
    return y


def nhwc_backward_input(dy: torch.Tensor, w: torch.Tensor, g) -> torch.Tensor:
    """backward_input on checked float16/bfloat16 arguments of geometry ``g`` on a TMA device: dy transposed to NHWC,
    the weight packed by output channel for TMA, rung 5's stride phases; returns dx[N, C, H, W] (NCHW)."""
    dx = torch.empty((g.N, g.C, g.H, g.W), dtype=dy.dtype, device=dy.device)
    if g.N * g.H * g.W == 0:
        return dx
    dyh = nchw_to_nhwc(dy)
    w_desc, k_pad = _production._packed_weight_desc(w, g, by_k=True)
    M = g.N * triton.cdiv(g.H, g.sh) * triton.cdiv(g.W, g.sw)
    tiles = _production._grid(M, g.C)
    phases = min(g.sh, g.H) * min(g.sw, g.W)
    for phase0 in range(0, phases, _production.MAX_GRID_Y):
        count = min(_production.MAX_GRID_Y, phases - phase0)
        _conv2d_backward_input_nhwc_kernel[lambda meta, count=count: (*tiles(meta), count)](
            dyh, w_desc, dx,
            M, g.N, *_production._geometry_args(g), size_bucket(M), phase0, k_pad,
            K_ALIGN=_align(g.K), WIDE_ROWS=_production._wide(M), **_production._gemm_options(dy.dtype),
        )  # fmt: skip
    return dx


# ---------------------------------------------------------------- the contract


def conv2d_forward(x: torch.Tensor, w: torch.Tensor, b: torch.Tensor | None, stride, padding) -> torch.Tensor:
    """Production's ``conv2d_forward`` (same arguments, checks and errors): 1x1 plain layers as rung 4's GEMMs,
    float16/bfloat16 on a TMA device by :func:`nhwc_forward`, the rest production's implicit GEMM."""
    g = _production._checked_forward(x, w, b, stride, padding)
    if _production._pointwise.applies(g):
        return _production._pointwise.pointwise_forward(x, w, b, g)
    if _production._uses_tma(x, g):
        return nhwc_forward(x, w, b, g)
    return _production._implicit_gemm_forward(x, w, b, g)


def conv2d_backward_input(dy: torch.Tensor, w: torch.Tensor, input_shape, stride, padding) -> torch.Tensor:
    """Production's ``conv2d_backward_input``: 1x1 plain layers as rung 4's GEMMs, float16/bfloat16 on a TMA device
    by :func:`nhwc_backward_input`, the rest production's stride phases."""
    g = _production._checked_backward_input(dy, w, input_shape, stride, padding)
    if _production._pointwise.applies(g):
        return _production._pointwise.pointwise_backward_input(dy, w, g)
    if _production._uses_tma(dy, g):
        return nhwc_backward_input(dy, w, g)
    return _production._implicit_gemm_backward_input(dy, w, g)


def conv2d_backward_weight(dy: torch.Tensor, x: torch.Tensor, weight_shape, stride, padding) -> torch.Tensor:
    """Production's ``conv2d_backward_weight``."""
    return _production.conv2d_backward_weight(dy, x, weight_shape, stride, padding)


def conv2d_backward_bias(dy: torch.Tensor) -> torch.Tensor:
    """Production's ``conv2d_backward_bias``: ``db[K] = dy.sum over (N, P, Q)``."""
    return _production.conv2d_backward_bias(dy)
