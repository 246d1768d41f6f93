"""Rung 0 -- direct convolution: one output element per lane, a scalar loop over the reduction.

The bottom of the conv2d ladder, the naive baseline every later rung is measured against. Same math and
contract as ``kernels/triton/conv2d.py`` (NCHW, no dilation, no groups)::

    x[N, C, H, W], w[K, C, R, S], b[K] or None  ->  y[N, K, P, Q]
    P = (H + 2*ph - R) // sh + 1,   Q = (W + 2*pw - S) // sw + 1
    y[n, k, p, q] = b[k] + sum_{c, r, s} w[k, c, r, s] * xpad[n, c, p*sh + r, q*sw + s]

What it does (there is no rung below; rung 1 is the textbook implicit GEMM): a program
owns BLOCK consecutive flat indices of the array it writes and decodes each into its coordinates; each
lane then walks its own reduction, one multiply-add per step from two masked scalar loads, into an fp32
accumulator (float64 for float64 tensors; float16 / bfloat16 are converted after loading). A lane of the
BLOCK vector is one output element; a GPU thread holds BLOCK / (32 * num_warps) of them. Image, channel
and pointer offsets are int64, so any tensor size is addressed; the flat index itself is decoded in
int32 unless the array passes 2**31 elements (a 64-bit division is a subroutine call on the GPU).

* forward:          lane = y[n, k, p, q]; loops c, r, s (the weight's own order): x[n, c, p*sh - ph + r,
                    q*sw - pw + s] (masked to 0 outside the image: the padding) times w[k, c, r, s]; b[k]
                    added at the end. The loop offsets c*H*W + r*W + s are the same for every lane, and a
                    tap is inside the image iff r, s lie in per-lane ranges computed once.
* backward_input:   lane = dx[n, c, h, w]; loops over the taps (r, s), then k: dy[n, k, p, q] * w[k, c, r, s]
                    with p = (h + ph - r) / sh and q = (w + pw - s) / sw, counted only when both divisions
                    are exact and land in [0, P) x [0, Q) -- decided once per tap, so the k loop is two loads
                    and a multiply-add. Triton compiles an int argument equal to 1 as a constant: at stride 1
                    the divisions and the exactness test vanish at compile time.
* backward_weight:  lane = dw[k, c, r, s]; loops n, p, q: dy[n, k, p, q] * x[n, c, p*sh - ph + r, q*sw - pw + s].
* backward_bias:    lane = db[k]; loops n and the P*Q pixels: sum of dy[n, k, :, :].

Bytes and FLOPs: each pass does 2*N*K*C*R*S*P*Q FLOPs (forward also multiplies the padding's zeros;
backward_input issues the masked multiplies of the stride holes, sh*sw times the useful count) and issues
*two loads per multiply-add*: every output reads its C*R*S input and C*R*S weight elements itself, so
the operand-load count is 2*N*K*C*R*S*P*Q elements against the compulsory |x| + |w| + |y|. Nothing is
shared on purpose -- no tile, no shared memory, no operand in a register for more than one step; what
reuse there is comes from the caches: consecutive lanes are neighbouring pixels of one channel plane
(coalesced x / dy loads), they mostly share k or c (the weight load is one broadcast address), and the
R*S taps of one channel re-read a few rows of x that are still in L1.

Layout / limits: contiguous NCHW tensors of one dtype on CUDA (on the CPU under TRITON_INTERPRET=1);
the arguments are checked as in production (same ValueError / TypeError naming the argument), except
production's limit of 2**31 elements per image or weight, which the int64 offsets here do not need.
float32 is plain IEEE fp32 arithmetic (no TF32: there is no tl.dot). No software pipelining
(num_stages=1): whatever latency hiding there is comes from other warps and the compiler's unrolling.
Autotuning: three BLOCK sizes, keyed on the layer (C, K, R, S, strides) and the size of what scales with
the batch rounded up to a power of two (``size_bucket``), never on the raw batch size; under the
interpreter one BLOCK of 2048, since its cost is per program and per loop step, not per lane.

Prediction, written before any measurement (ResNet's 3x3 64->64 layer, x[32, 64, 56, 56], stride 1,
padding 1, float32, on an H100/H200 SXM: 132 SMs at ~1.98 GHz, ~67 TFLOP/s FP32, 3.4-4.8 TB/s HBM).
The layer is 7.40 GFLOP per pass against 51 MB of compulsory traffic (x and y, 25.7 MB each): 144 FLOP/B,
so a kernel with full operand reuse would be compute-bound (~110 us at FP32 peak, ~11-15 us of DRAM
traffic). Rung 0 is bound by instruction issue and load traffic instead. Two ceilings: the load/store
units take about one warp-wide load per SM per clock against four warp-wide FMAs, so two loads per FMA
cap any kernel of this shape at 1/8 = 12.5% of FP32 peak even if every load hits L1; and an SM sub-partition
issues one instruction per clock, so a loop of I instructions per FMA caps it at 1/I. The sm_90 SASS
(``python -m benchmarks.aot_triton``, static, not a measurement) gives I:
- forward: the innermost loop is S = 3 long; the compiler unrolls it by 4, so a 3x3 kernel runs the
  peeled first step and the remainder, ~110 instructions per row of 3 taps: I ~ 35-40, a ceiling of
  ~2.6%. Expect ~2% of FP32 peak (~1.3 TFLOP/s, ~5-6 ms): overhead-bound, the loads are not the limit.
- backward_input (stride 1): the innermost loop is K = 64 long, unrolled by 4: I ~ 10, ceiling ~10%,
  near the 12.5% load ceiling; dy re-read across the 9 taps after a sweep over all K channels (~32 KB
  per 128-lane program) falls out of L1 into L2. Expect 4-7%. At stride 2, 3/4 of the steps are masked
  holes: about 4x less useful work, 1-2%.
- backward_weight: the innermost loop is Q = 56 long: I ~ 14-16, ceiling ~6-7%; but only K*C*R*S = 36,864
  lanes (~14% of the GPU's 270k thread slots, ~2 warps per sub-partition) to hide load latency. Expect 2-4%.
- backward_bias: K = 64 lanes, one program on one SM of 132, each lane summing 100,352 elements a channel
  plane apart from its neighbours (32 sectors per warp load): ~3 ms to read 25.7 MB, ~0.2% of HBM bandwidth.
Half precision gains nothing (no tensor cores, the same instructions plus conversions).

Measured: not yet (no GPU). Compiled ahead of time for sm_90 / sm_80 (``python -m benchmarks.aot_triton``,
launchers "rung0_direct: ..."), spill-free in every config.
"""

from __future__ import annotations

import torch
import triton
import triton.language as tl

from ...._args import conv2d_backward_input_geometry, conv2d_backward_weight_geometry, conv2d_forward_geometry
from ..._common import autotune_configs, check_float_tensor, check_same_dtype, size_bucket

__all__ = ["conv2d_forward", "conv2d_backward_input", "conv2d_backward_weight", "conv2d_backward_bias"]

#: (BLOCK, num_warps) on the GPU: 1, 2 or 4 output elements per thread. num_stages=1: no pipelining here.
_GPU_BLOCKS = [(128, 4), (256, 4), (512, 4)]
# Under the interpreter a program costs per loop step (~0.1 ms each, whatever the width): one program covers any
# of the tests' outputs (at most ~1.5k elements).
_CONFIGS = autotune_configs([triton.Config({"BLOCK": b}, num_warps=nw, num_stages=1) for b, nw in _GPU_BLOCKS],
                            triton.Config({"BLOCK": 2048}, num_warps=1))

# Keys: the layer, plus the batch-dependent size rounded up to a power of two (never the raw batch size, so a
# last partial batch or an eval batch reuses the tuned BLOCK).
_KEY = ["C", "K", "R", "S", "sh", "sw", "SIZE_BUCKET"]


@triton.jit
def _flat_indices(BLOCK: tl.constexpr, WIDE: tl.constexpr):
    """This program's BLOCK flat indices of the array it writes: int64 when that array can pass 2**31
    elements (WIDE), else int32 -- a 64-bit division is a subroutine call on the GPU (decoding in int64
    always, backward_input spilled registers around those calls)."""
    if WIDE:
        offs = tl.program_id(0).to(tl.int64) * BLOCK + tl.arange(0, BLOCK)
    else:
        offs = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
    return offs


@triton.autotune(configs=_CONFIGS, key=_KEY)
@triton.jit
def _direct_conv2d_forward_kernel(
    x_ptr, w_ptr, b_ptr, y_ptr,
    TOTAL, C, H, W, K, R, S, P, Q, sh, sw, ph, pw, SIZE_BUCKET,
    HAS_BIAS: tl.constexpr, ACC_DTYPE: tl.constexpr, WIDE: tl.constexpr, BLOCK: tl.constexpr,
):  # fmt: skip
    # lane = y[n, k, p, q], its flat index decoded once
    offs = _flat_indices(BLOCK, WIDE)
    mask = offs < TOTAL
    q = (offs % Q).to(tl.int32)
    t = offs // Q
    p = (t % P).to(tl.int32)
    t = t // P
    k = (t % K).to(tl.int64)
    n = (t // K).to(tl.int64)
    W64 = tl.cast(W, tl.int64)
    HW = H * W64
    RS = R * tl.cast(S, tl.int64)
    h0 = p * sh - ph  # top-left pixel of the window (negative inside the padding)
    w0 = q * sw - pw
    # tap (r, s) is inside the image iff r_lo <= r < r_hi and s_lo <= s < s_hi: the loops compare, no arithmetic
    r_lo, r_hi = -h0, H - h0
    s_lo, s_hi = -w0, W - w0
    # lane's window origin in channel 0; may point before x where the window starts in the padding (masked)
    x_lane = x_ptr + n * C * HW + h0 * W64 + w0
    w_lane = w_ptr + k * C * RS  # k = t % K < K even past TOTAL: the weight loads need no mask

    acc = tl.zeros((BLOCK,), dtype=ACC_DTYPE)
    for c in range(0, C):
        x_c = x_lane + c * HW
        w_c = w_lane + c * RS
        for r in range(0, R):
            r_ok = mask & (r >= r_lo) & (r < r_hi)
            x_r = x_c + r * W64
            w_r = w_c + r * S
            for s in range(0, S):
                xv = tl.load(x_r + s, mask=r_ok & (s >= s_lo) & (s < s_hi), other=0.0)
                wv = tl.load(w_r + s)
                acc += xv.to(ACC_DTYPE) * wv.to(ACC_DTYPE)

    if HAS_BIAS:
        acc += tl.load(b_ptr + k, mask=mask, other=0.0).to(ACC_DTYPE)
    tl.store(y_ptr + offs, acc.to(y_ptr.dtype.element_ty), mask=mask)


@triton.autotune(configs=_CONFIGS, key=_KEY)
@triton.jit
def _direct_conv2d_backward_input_kernel(
    dy_ptr, w_ptr, dx_ptr,
    TOTAL, C, H, W, K, R, S, P, Q, sh, sw, ph, pw, SIZE_BUCKET,
    ACC_DTYPE: tl.constexpr, WIDE: tl.constexpr, BLOCK: tl.constexpr,
):  # fmt: skip
    # lane = dx[n, c, h, w]: the sum over every (k, r, s) whose window put w[k, c, r, s] on this pixel.
    # Taps outermost: which dy pixel a tap reads (two divisions, an exactness test) is decided once per tap,
    # then the k loop is two loads and a multiply-add.
    offs = _flat_indices(BLOCK, WIDE)
    mask = offs < TOTAL
    w_ = (offs % W).to(tl.int32)
    t = offs // W
    h = (t % H).to(tl.int32)
    t = t // H
    c = (t % C).to(tl.int64)
    n = (t // C).to(tl.int64)
    Q64 = tl.cast(Q, tl.int64)
    PQ = P * Q64
    CRS = C * (R * tl.cast(S, tl.int64))
    dy_lane = dy_ptr + n * K * PQ
    w_lane = w_ptr + c * R * S  # c = t % C < C even past TOTAL: the weight loads need no mask
    hp = h + ph  # p * sh + r for the (p, r) pairs that read this pixel
    wp = w_ + pw

    acc = tl.zeros((BLOCK,), dtype=ACC_DTYPE)
    for rs in range(0, R * S):  # the taps as one loop: with r and s nested, ptxas spilled at BLOCK=512
        r = rs // S
        s = rs - r * S
        p_num = hp - r
        q_num = wp - s
        p = p_num // sh
        q = q_num // sw
        ok = mask & (p_num >= 0) & (q_num >= 0) & (p * sh == p_num) & (q * sw == q_num) & (p < P) & (q < Q)
        dy_tap = dy_lane + p * Q64 + q
        w_tap = w_lane + rs
        for k in range(0, K):
            g = tl.load(dy_tap + k * PQ, mask=ok, other=0.0)
            wv = tl.load(w_tap + k * CRS)
            acc += g.to(ACC_DTYPE) * wv.to(ACC_DTYPE)

    tl.store(dx_ptr + offs, acc.to(dx_ptr.dtype.element_ty), mask=mask)


@triton.autotune(configs=_CONFIGS, key=_KEY)
@triton.jit
def _direct_conv2d_backward_weight_kernel(
    dy_ptr, x_ptr, dw_ptr,
    TOTAL, N, C, H, W, K, R, S, P, Q, sh, sw, ph, pw, SIZE_BUCKET,
    ACC_DTYPE: tl.constexpr, WIDE: tl.constexpr, BLOCK: tl.constexpr,
):  # fmt: skip
    # lane = dw[k, c, r, s]: the sum over every output pixel (n, p, q) of dy times the input it saw
    offs = _flat_indices(BLOCK, WIDE)
    mask = offs < TOTAL
    s = (offs % S).to(tl.int32)
    t = offs // S
    r = (t % R).to(tl.int32)
    t = t // R
    c = (t % C).to(tl.int64)
    k = (t // C).to(tl.int64)
    W64 = tl.cast(W, tl.int64)
    Q64 = tl.cast(Q, tl.int64)
    HW = H * W64
    PQ = P * Q64
    CHW = C * HW
    KPQ = K * PQ
    # the input row p*sh - ph + r is inside the image iff ph - r <= p*sh < H + ph - r (columns likewise)
    row_lo, row_hi = ph - r, H + ph - r
    col_lo, col_hi = pw - s, W + pw - s
    # x[n, c, p*sh - ph + r, q*sw - pw + s] = x_lane + n*C*H*W + p*sh*W + q*sw; may point before x (masked)
    x_lane = x_ptr + c * HW + (r - ph) * W64 + (s - pw)
    dy_lane = dy_ptr + k * PQ

    acc = tl.zeros((BLOCK,), dtype=ACC_DTYPE)
    for n in range(0, N):
        x_n = x_lane + n * CHW
        dy_n = dy_lane + n * KPQ
        for p in range(0, P):
            hs = p * sh
            row_ok = mask & (hs >= row_lo) & (hs < row_hi)
            x_p = x_n + hs * W64
            dy_p = dy_n + p * Q64
            for q in range(0, Q):
                ws = q * sw
                xv = tl.load(x_p + ws, mask=row_ok & (ws >= col_lo) & (ws < col_hi), other=0.0)
                g = tl.load(dy_p + q, mask=mask, other=0.0)
                acc += g.to(ACC_DTYPE) * xv.to(ACC_DTYPE)

    tl.store(dw_ptr + offs, acc.to(dw_ptr.dtype.element_ty), mask=mask)


@triton.autotune(configs=_CONFIGS, key=["K", "SIZE_BUCKET"])
@triton.jit
def _direct_conv2d_backward_bias_kernel(dy_ptr, db_ptr, N, K, PQ, SIZE_BUCKET, ACC_DTYPE: tl.constexpr,
                                        BLOCK: tl.constexpr):
    # lane = db[k]: walks its channel's N planes of P*Q pixels, one element per step
    k = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
    mask = k < K
    dy_lane = dy_ptr + k.to(tl.int64) * PQ
    KPQ = tl.cast(K, tl.int64) * PQ
    acc = tl.zeros((BLOCK,), dtype=ACC_DTYPE)
    for n in range(0, N):
        dy_n = dy_lane + n * KPQ
        for j in range(0, PQ):
            acc += tl.load(dy_n + j, mask=mask, other=0.0).to(ACC_DTYPE)
    tl.store(db_ptr + k, acc.to(db_ptr.dtype.element_ty), mask=mask)


# ---------------------------------------------------------------- launchers


def _acc_dtype(dtype: torch.dtype):
    """float64 accumulates in float64; float16 / bfloat16 / float32 in fp32."""
    return tl.float64 if dtype == torch.float64 else tl.float32


def _wide(total: int) -> bool:
    """Whether flat indices (plus a block) can pass int32: then the kernels decode them in 64-bit."""
    return total + 2048 > 2**31 - 1


def _grid(total: int):
    return lambda meta: (triton.cdiv(total, meta["BLOCK"]),)


def conv2d_forward(x: torch.Tensor, w: torch.Tensor, b: torch.Tensor | None, stride, padding) -> torch.Tensor:
    """Convolve ``x[N, C, H, W]`` with ``w[K, C, R, S]`` plus optional bias ``b[K]``: ``y[N, K, P, Q]``.

    Returns y in x's dtype. Raises TypeError for non-tensor / non-float / mixed dtype inputs and ValueError
    for wrong ndim, wrong device, non-contiguous tensors, mismatched C, a bias that is not [K], bad
    stride/padding or a kernel larger than the padded input.
    """
    check_float_tensor("x", x, 4)
    check_float_tensor("w", w, 4)
    if b is not None:
        check_float_tensor("b", b, 1)
    dtype = check_same_dtype(x=x, w=w, b=b)
    g = conv2d_forward_geometry(x.shape, w.shape, None if b is None else b.shape, stride, padding)
    y = torch.empty((g.N, g.K, g.P, g.Q), dtype=dtype, device=x.device)
    total = y.numel()
    if total == 0:
        return y
    _direct_conv2d_forward_kernel[_grid(total)](
        x, w, b if b is not None else w, y,
        total, g.C, g.H, g.W, g.K, g.R, g.S, g.P, g.Q, g.sh, g.sw, g.ph, g.pw, size_bucket(total),
        HAS_BIAS=b is not None, ACC_DTYPE=_acc_dtype(dtype), WIDE=_wide(total),
    )  # fmt: skip
    return y


def conv2d_backward_input(dy: torch.Tensor, w: torch.Tensor, input_shape, stride, padding) -> torch.Tensor:
    """Gradient w.r.t. the input: ``dx[N, C, H, W]`` for ``dy[N, K, P, Q]`` and ``w[K, C, R, S]``.

    ``input_shape`` is the forward x's shape. Raises TypeError / ValueError like :func:`conv2d_forward`,
    and ValueError when dy's shape does not match the output implied by input_shape, w, stride and padding.
    """
    check_float_tensor("dy", dy, 4)
    check_float_tensor("w", w, 4)
    dtype = check_same_dtype(dy=dy, w=w)
    g = conv2d_backward_input_geometry(dy.shape, w.shape, input_shape, stride, padding)
    dx = torch.empty((g.N, g.C, g.H, g.W), dtype=dtype, device=dy.device)
    total = dx.numel()
    if total == 0:
        return dx
    _direct_conv2d_backward_input_kernel[_grid(total)](
        dy, w, dx,
        total, g.C, g.H, g.W, g.K, g.R, g.S, g.P, g.Q, g.sh, g.sw, g.ph, g.pw, size_bucket(total),
        ACC_DTYPE=_acc_dtype(dtype), WIDE=_wide(total),
    )  # fmt: skip
    return dx


def conv2d_backward_weight(dy: torch.Tensor, x: torch.Tensor, weight_shape, stride, padding) -> torch.Tensor:
    """Gradient w.r.t. the weight: ``dw[K, C, R, S]`` for ``dy[N, K, P, Q]`` and ``x[N, C, H, W]``.

    Each element sums its N*P*Q terms in one lane, in a fixed order: deterministic. Raises TypeError /
    ValueError like :func:`conv2d_forward`, and ValueError when dy's shape does not match the output implied
    by x, weight_shape, stride and padding.
    """
    check_float_tensor("dy", dy, 4)
    check_float_tensor("x", x, 4)
    dtype = check_same_dtype(dy=dy, x=x)
    g = conv2d_backward_weight_geometry(dy.shape, x.shape, weight_shape, stride, padding)
    dw = torch.empty((g.K, g.C, g.R, g.S), dtype=dtype, device=x.device)
    total = dw.numel()  # weight_shape is checked positive: never 0
    _direct_conv2d_backward_weight_kernel[_grid(total)](
        dy, x, dw,
        total, g.N, g.C, g.H, g.W, g.K, g.R, g.S, g.P, g.Q, g.sh, g.sw, g.ph, g.pw, size_bucket(g.N * g.P * g.Q),
        ACC_DTYPE=_acc_dtype(dtype), WIDE=_wide(total),
    )  # fmt: skip
    return dw


def conv2d_backward_bias(dy: torch.Tensor) -> torch.Tensor:
    """Gradient w.r.t. the bias: ``db[K] = dy.sum over (N, P, Q)`` for ``dy[N, K, P, Q]``."""
    check_float_tensor("dy", dy, 4)
    N, K, P, Q = dy.shape
    db = torch.empty((K,), dtype=dy.dtype, device=dy.device)
    if K == 0:
        return db
    _direct_conv2d_backward_bias_kernel[_grid(K)](dy, db, N, K, P * Q, size_bucket(N * P * Q),
                                                  ACC_DTYPE=_acc_dtype(dy.dtype))
    return db
