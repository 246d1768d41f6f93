"""2-D max pooling (like ``torch.nn.functional.max_pool2d``) in Triton: a tiled forward and a gather backward.

Math (NCHW, no dilation, floor mode), names as in ``kernels/numpy/maxpool2d.py``::

    x[N, C, H, W]  ->  y[N, C, P, Q],  P = (H + 2*ph - R) // sh + 1,  Q = (W + 2*pw - S) // sw + 1
    y[n, c, p, q] = max_{r < R, s < S} xpad[n, c, p*sh + r, q*sw + s]       (xpad padded with -inf)

``argmax[n, c, p, q] = r*S + s`` is the compact window position of the winner, stored in the
smallest signed integer dtype that holds R*S (int8 if R*S <= 127, int16 if <= 32767, else int32),
exactly the numpy backend's rule.

Forward: one program per block of BLOCK_OUT output elements (flattened N*C*P*Q).
The window is flattened to k = r*S + s and walked in chunks of BLOCK_K = min(next_pow2(R*S), 64)
positions, so each step is a [BLOCK_OUT, BLOCK_K] tile (BLOCK = BLOCK_OUT * BLOCK_K elements):
a 2x2 or 3x3 window is one masked tile load and two row reductions; huge windows loop.  Per
chunk: padded / out-of-range positions are masked (never loaded, never eligible); the chunk max,
then the smallest k holding it; a chunk replaces the running best only if strictly greater (or
no real element was seen yet), so the first maximum in row-major window order wins, a real -inf
beats padding, and padding never wins.  Values are compared in CMP = float32 (float64 for
float64): 16-bit inputs are widened on load, exactly, so y and argmax stay exact.  (``tl.max``
returns float32 for 16-bit inputs; a running best carried in the input dtype made the loop-carried
type change, which the GPU compiler rejects for float16/bfloat16 and the interpreter never checks.)

NaN counts as the maximum, PyTorch's rule (``v > best || isnan(v)``): a window holding NaNs yields
y = NaN and argmax = its last NaN in window order (a running max of the NaN positions, kept beside
the running best), where backward routes the gradient -- PyTorch's index and gradient, and numpy's
(tested against both).  NaNs are found with ``v != v``, never through ``tl.max``'s own NaN rule
(maxnum on a GPU, numpy's on the interpreter), so the result is the same on both.

y is the winner's own value: after the chunk's smallest k holding the max is found, one more masked
row max over the tile reads that k's value.  ``tl.max``'s own result differs from it only for a chunk
holding +0.0 and -0.0, where a GPU's max may return either zero; PyTorch's y is the first maximum's bits.

The 2x2 stride-2 pools without padding (VGG's, the digits model's) take a second kernel when W is a
multiple of V = 16 / itemsize (4 float32, 8 float16 / bfloat16, 2 float64) and x is 16-byte aligned:
``_maxpool2x2_vector_kernel``, the ladder's rung 4 (``ladder/maxpool2d/rung4_vector_loads.py``).  A
program owns BLOCK consecutive outputs as BLOCK / (V/2) groups of V/2 neighbours in one output row; a
group's two input rows are each V contiguous elements starting at a multiple of V, so each is one
16-byte load (``tl.multiple_of`` states the alignment, the group mask is constant along the vector).
``tl.reshape`` to [BLOCK, 2] and ``tl.split`` give each output its four candidates in window order,
reduced by three compare-and-selects with the scalar rule (first maximum; a NaN replaces, the last NaN
wins).  One division by Q and one by P per group, not per output, and no padding masks: the index work
per output is a fraction of the tile kernel's.

ReLU fused in front (``relu_maxpool2d_forward``, ``RELU=True`` in both kernels): every loaded real
element becomes ``v < 0 ? 0 : v`` (NaN and -0.0 pass, torch's ReLU; padding stays -inf and never
wins), so y and the winner are PyTorch's ``max_pool2d(relu(x))`` bit for bit, and argmax is written as
-1 where y == 0: the windows whose gradient the ReLU's backward zeroes.  ``relu_maxpool2d_backward`` is
the backward kernel below, for which -1 matches no window position: the ReLU costs no pass and no
saved tensor in either direction (numpy's header has the argument).

Backward (gather, deterministic, no atomics): one program per BLOCK of input elements (n, c, h, w).
The windows that can contain (h, w) are p in [ceil((h+ph-R+1)/sh), floor((h+ph)/sh)] ∩ [0, P) and
likewise q: at most ceil(R/sh) * ceil(S/sw) candidates, a static loop.  Each candidate adds
dy[n, c, p, q] when argmax[n, c, p, q] == (h+ph-p*sh)*S + (w+pw-q*sw), so overlapping windows
accumulate in a register (float32, float64 for float64) and every dx element is written once.
argmax is never used as an address and is compared after integer promotion (an int64 value is
never truncated), so a value outside [0, R*S) matches no position: it drops its dy, never faults.

Argument checks without a host sync: the launcher checks argmax's range (``aminmax`` read on the
host; [0, R*S), or [-1, R*S) for the fused backward) only where that costs no device sync -- under the
interpreter -- or in debug mode (``KERNELGRAD_SYNC_CHECKS=1``, :func:`kernels._args.value_checks_enabled`); on a
GPU by default a corrupt argmax just drops gradient, as above (tested with ``KERNELGRAD_SYNC_CHECKS=0``).

Index math: one division of the flat index picks the (n, c) plane, in int32 while every flat
index of x, y and dx plus one block of overshoot fits (``INDEX_64=False``), else in int64 (a
second compiled variant); inside a plane the decode and every offset are int32, so one plane must
hold fewer than 2**31 elements (the launchers refuse larger ones; batches and channels are
unbounded).  A 64-bit decode of every coordinate cost 2-3x the registers and spilled in the larger
configs (AOT-compiled for sm_80/sm_90).  Configs hold 4-8 tile elements per thread (forward) and
2 elements per thread (backward: each walks its unrolled candidate windows), the largest sets that
compiled spill-free for every dtype, window and index width with Triton 3.6 and 3.9.  The autotune
key is ``size_bucket`` = next_pow2(N*C*P*Q) (backward: N*C*H*W) and the geometry, never the raw
batch size, so a new batch size in a training loop (the last partial batch, eval) re-benchmarks
only when it crosses a power of two.

Subnormals are kept: the PTX for sm_80/sm_90 has no ``.ftz`` instruction (comparisons, max and the
float32 accumulation keep float32 subnormals), and under the interpreter y, argmax and dx of
subnormal inputs equal numpy's bit for bit (tested).

Bytes moved: forward reads each window element once per window (~|x| for 2x2/s2, ~(R/sh)(S/sw)|x|
with overlap; the overlap hits in cache) and writes |y| + |argmax| (1 byte/output for small
windows); backward reads argmax and the selected dy of each candidate window and writes |dx|.
No FLOPs worth counting: both kernels are memory-bound.  Why fast: no im2col buffer, no
zero-fill + scatter for dx, no atomics, int8 indices.

Verified: values under ``TRITON_INTERPRET=1`` against numpy and PyTorch float64 (all four dtypes).
Compiled ahead of time for sm_90 and sm_80 with Triton 3.9 and its ptxas, every config x float16 /
bfloat16 / float32 / float64: in CI by ``benchmarks/aot_triton.py`` (3x3/s2/p1, int32 indexing), and
once by hand for 2x2/s2, 3x3/s2/p1 and 12x12/s5 windows with int32 and int64 indexing, with Triton
3.9 and 3.6 (the GPU image's): no compile error, no spill, no ``.ftz`` (the old float16/bfloat16
forward did not compile).  After the NaN rule changed to PyTorch's (last NaN wins, one more running
value), only the CI geometry was compiled again (Triton 3.9, sm_80/sm_90, every dtype and config: no
spill, at most 4 registers more than before); the by-hand geometries and Triton 3.6 were not re-run.
With the exact winner value, the fused ReLU and the 16-byte-load kernel (issue 16), CI's launches compile
for sm_80/sm_90 with Triton 3.9, every dtype and config: the stem pool (tile, plain and ReLU), VGG's 2x2/s2
at 224 (vector, plain and ReLU; ``ld.global.v4.b32`` in its PTX for every dtype) and the tile kernel on
that 2x2 pool through the ladder's rung 3: no error, no spill, 19-68 registers (float64 vector + ReLU
up to 68).  The int64 variants and the 12x12 window were not compiled again; under Triton 3.6 only the
interpreter tests ran (they pass), not its compiler.
GPU execution and speed are unverified: no GPU was available.

Layout: contiguous NCHW.  Limits (PyTorch's rules, as numpy): stride >= 1,
0 <= padding <= kernel // 2 per axis, kernel fits the padded input.  float16, bfloat16, float32,
float64.  R, S, strides and paddings are compile-time constants: each pooling geometry compiles once.
"""

from __future__ import annotations

import torch
import triton
import triton.language as tl

from .._args import PoolGeometry, maxpool2d_backward_geometry, maxpool2d_forward_geometry, value_checks_enabled
from ._common import autotune_configs, check_float_tensor, check_placement, interpreting, size_bucket

__all__ = ["maxpool2d_forward", "maxpool2d_backward", "argmax_dtype", "relu_maxpool2d_forward",
           "relu_maxpool2d_backward"]

_MAX_BLOCK_K = 64  # window positions per tile column block; keeps BLOCK_OUT >= 16 for BLOCK >= 1024
_MAX_BLOCK = 2048  # the largest BLOCK of any config below


def _check_plane(name: str, g: PoolGeometry) -> None:
    """The kernels index inside one (n, c) plane with 32-bit offsets (batches and channels are unbounded)."""
    if max(g.H * g.W, g.P * g.Q) > 2**31 - 1:
        raise ValueError(f"{name}: one H*W plane ({g.H}x{g.W}, output {g.P}x{g.Q}) has more than 2**31 - 1 elements; "
                         f"the Triton max-pool kernels index a plane with 32-bit offsets")


def _needs_int64(*numels: int) -> bool:
    """Whether a kernel's flat indices need int64: int32 holds every index, plus one block of overshoot
    in the last program (masked lanes must not wrap to a negative index that passes ``idx < total``)."""
    return max(numels) + _MAX_BLOCK >= 2**31


def argmax_dtype(window_size: int) -> torch.dtype:
    """Smallest signed integer dtype used to store window positions for windows of ``window_size`` = R*S."""
    if window_size <= 127:
        return torch.int8
    if window_size <= 32767:
        return torch.int16
    return torch.int32


@triton.autotune(
    configs=autotune_configs(
        # spill-free for every dtype, window and index width on sm_80/sm_90 with Triton 3.6 and 3.9 (AOT):
        # 16 tile elements per thread spilled; so did (1024, 4) for float64 12x12 windows under 3.6
        [triton.Config({"BLOCK": b}, num_warps=w) for b, w in ((512, 4), (1024, 8), (2048, 8))],
        # the interpreter pays ~40 ms per program in Python overhead, not per element: a 1024-element
        # tile (64 outputs of a 3x3 window) keeps the finite-difference tests fast
        triton.Config({"BLOCK": 1024}, num_warps=1),
    ),
    key=["size_bucket", "R", "S", "SH", "SW"],
)
@triton.jit
def _maxpool2d_forward_kernel(
    x_ptr, y_ptr, argmax_ptr, total, size_bucket, H, W, P, Q,
    R: tl.constexpr, S: tl.constexpr, SH: tl.constexpr, SW: tl.constexpr, PH: tl.constexpr, PW: tl.constexpr,
    CMP: tl.constexpr, RELU: tl.constexpr, INDEX_64: tl.constexpr, BLOCK_K: tl.constexpr, BLOCK: tl.constexpr,
):
    BLOCK_OUT: tl.constexpr = BLOCK // BLOCK_K
    RS: tl.constexpr = R * S
    if INDEX_64:
        out = tl.program_id(0).to(tl.int64) * BLOCK_OUT + tl.arange(0, BLOCK_OUT)
    else:
        out = tl.program_id(0) * BLOCK_OUT + tl.arange(0, BLOCK_OUT)
    out_mask = out < total
    # one division in the index type picks the (n, c) plane; inside a plane everything is int32
    nc = out // (P * Q)
    pq = (out - nc * (P * Q)).to(tl.int32)
    q = pq % Q
    p = pq // Q
    h0 = p * SH - PH
    w0 = q * SW - PW
    plane = nc * (H * W)  # the plane base: int64 when INDEX_64

    # best is carried in CMP (float32, float64 for float64): tl.max widens 16-bit inputs to float32, and a
    # loop-carried value must keep one type; the widening is exact, so comparisons and y stay exact
    best = tl.full([BLOCK_OUT], float("-inf"), CMP)
    best_k = tl.full([BLOCK_OUT], RS, tl.int32)  # RS = "no real element seen yet"
    nan_k = tl.full([BLOCK_OUT], -1, tl.int32)  # the last NaN's k so far, -1 = none
    for k0 in range(0, RS, BLOCK_K):
        k = k0 + tl.arange(0, BLOCK_K)
        h = h0[:, None] + (k // S)[None, :]
        w = w0[:, None] + (k % S)[None, :]
        real = out_mask[:, None] & (k < RS)[None, :] & (h >= 0) & (h < H) & (w >= 0) & (w < W)
        v = tl.load(x_ptr + plane[:, None] + (h * W + w), mask=real, other=float("-inf")).to(CMP)
        if RELU:  # torch's ReLU, x < 0 ? 0 : x (NaN and -0.0 pass); padding stays -inf
            v = tl.where(real & (v < 0), 0.0, v)
        is_nan = real & (v != v)
        chunk_max = tl.max(tl.where(is_nan, float("-inf"), v), axis=1)
        # smallest k holding the chunk max (among non-NaN values), and the largest k holding a NaN
        chunk_k = tl.min(tl.where(real & (v == chunk_max[:, None]), k[None, :], RS), axis=1)
        nan_k = tl.maximum(nan_k, tl.max(tl.where(is_nan, k[None, :], -1), axis=1))
        # the winner's own bits (chunk_max may be the other zero of a chunk holding +0.0 and -0.0)
        chunk_val = tl.max(tl.where(k[None, :] == chunk_k[:, None], v, float("-inf")), axis=1)
        # strict >: an equal value in a later chunk never displaces the first maximum
        take = (chunk_k < RS) & ((chunk_max > best) | (best_k == RS))
        best = tl.where(take, chunk_val, best)
        best_k = tl.where(take, chunk_k, best_k)

    has_nan = nan_k >= 0
    best = tl.where(has_nan, float("nan"), best)
    best_k = tl.where(has_nan, nan_k, best_k)  # a NaN is the maximum; PyTorch keeps the last one
    if RELU:
        best_k = tl.where((best > 0) | has_nan, best_k, -1)  # y == 0: the ReLU's gradient is 0 there
    tl.store(y_ptr + out, best.to(y_ptr.dtype.element_ty), mask=out_mask)
    tl.store(argmax_ptr + out, best_k.to(argmax_ptr.dtype.element_ty), mask=out_mask)


@triton.autotune(
    configs=autotune_configs(
        # BLOCK outputs per program, 8 per thread (float32: two 16-byte loads per input row); 16 per thread cost
        # 1.3-2x the registers for the same instructions per output (AOT, sm_80/sm_90)
        [triton.Config({"BLOCK": b}, num_warps=w) for b, w in ((1024, 4), (2048, 8))],
        triton.Config({"BLOCK": 1024}, num_warps=1),
    ),
    key=["size_bucket"],
)
@triton.jit
def _maxpool2x2_vector_kernel(
    x_ptr, y_ptr, argmax_ptr, total, size_bucket, H, W, P, Q,
    V: tl.constexpr, CMP: tl.constexpr, RELU: tl.constexpr, INDEX_64: tl.constexpr, BLOCK: tl.constexpr,
):
    """2x2 windows, stride 2, no padding; W % V == 0, x 16-byte aligned (the launcher checks): each input row of a
    group of V/2 outputs is one 16-byte load."""
    HALF: tl.constexpr = V // 2  # outputs per group
    G: tl.constexpr = BLOCK // HALF  # groups per program
    if INDEX_64:
        g = tl.program_id(0).to(tl.int64) * G + tl.arange(0, G)
    else:
        g = tl.program_id(0) * G + tl.arange(0, G)
    o = g * HALF  # the group's first output; its V/2 outputs share one output row (Q % (V/2) == 0)
    row = o // Q  # n*C*P + c*P + p: one division per group, not per output
    q0 = o - row * Q
    nc = row // P
    p = row - nc * P
    top = tl.multiple_of((nc * H + 2 * p) * W + 2 * q0, V)  # W % V == 0 and 2 * q0 is a multiple of V
    bottom = tl.multiple_of(top + W, V)
    ok = (o < total)[:, None]  # constant along a vector: a group is wholly in range or not
    cols = tl.arange(0, V)[None, :]
    a = tl.load(x_ptr + top[:, None] + cols, mask=ok, other=0.0).to(CMP)  # [G, V]: row 2p of the group's windows
    b = tl.load(x_ptr + bottom[:, None] + cols, mask=ok, other=0.0).to(CMP)  # row 2p + 1
    if RELU:  # torch's ReLU, x < 0 ? 0 : x (NaN and -0.0 pass)
        a = tl.where(a < 0, 0.0, a)
        b = tl.where(b < 0, 0.0, b)
    # [G, V] -> [BLOCK, 2] in order: row j of the result is output g*HALF + j's pair of columns
    a0, a1 = tl.split(tl.reshape(a, (BLOCK, 2)))
    b0, b1 = tl.split(tl.reshape(b, (BLOCK, 2)))
    # window order k = 0 (a0), 1 (a1), 2 (b0), 3 (b1): a later value replaces only if strictly greater or NaN, so
    # the first maximum wins, a NaN is the maximum and the last NaN wins (the scalar loop's rule)
    best = a0
    best_k = tl.zeros([BLOCK], dtype=tl.int32)
    take = (a1 > best) | (a1 != a1)
    best = tl.where(take, a1, best)
    best_k = tl.where(take, 1, best_k)
    take = (b0 > best) | (b0 != b0)
    best = tl.where(take, b0, best)
    best_k = tl.where(take, 2, best_k)
    take = (b1 > best) | (b1 != b1)
    best = tl.where(take, b1, best)
    best_k = tl.where(take, 3, best_k)
    if RELU:
        best_k = tl.where((best > 0) | (best != best), best_k, -1)  # y == 0: the ReLU's gradient is 0 there
    if INDEX_64:
        out = tl.program_id(0).to(tl.int64) * BLOCK + tl.arange(0, BLOCK)
    else:
        out = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
    out_mask = out < total
    tl.store(y_ptr + out, best.to(y_ptr.dtype.element_ty), mask=out_mask)
    tl.store(argmax_ptr + out, best_k.to(argmax_ptr.dtype.element_ty), mask=out_mask)


@triton.autotune(
    configs=autotune_configs(
        # 2 elements per thread: each walks up to ceil(R/SH)*ceil(S/SW) unrolled candidate windows, and with
        # 4 per thread ptxas spilled a few bytes (int64 plane index; sm_80, Triton 3.6 and 3.9; AOT)
        [triton.Config({"BLOCK": b}, num_warps=w) for b, w in ((256, 4), (512, 8))],
        triton.Config({"BLOCK": 64}, num_warps=1),
    ),
    key=["size_bucket"],
)
@triton.jit
def _maxpool2d_backward_kernel(
    dy_ptr, argmax_ptr, dx_ptr, total, size_bucket, H, W, P, Q,
    R: tl.constexpr, S: tl.constexpr, SH: tl.constexpr, SW: tl.constexpr, PH: tl.constexpr, PW: tl.constexpr,
    ACC: tl.constexpr, INDEX_64: tl.constexpr, BLOCK: tl.constexpr,
):
    CAND_H: tl.constexpr = (R + SH - 1) // SH
    CAND_W: tl.constexpr = (S + SW - 1) // SW
    if INDEX_64:
        idx = tl.program_id(0).to(tl.int64) * BLOCK + tl.arange(0, BLOCK)
    else:
        idx = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
    mask = idx < total
    nc = idx // (H * W)  # the (n, c) plane, in the index type; inside a plane everything is int32
    hw = (idx - nc * (H * W)).to(tl.int32)
    w = hw % W
    h = hw // W
    hp = h + PH  # coordinates in the padded image
    wp = w + PW
    p_lo = (tl.maximum(hp - R + 1, 0) + SH - 1) // SH
    p_hi = tl.minimum(hp // SH, P - 1)
    q_lo = (tl.maximum(wp - S + 1, 0) + SW - 1) // SW
    q_hi = tl.minimum(wp // SW, Q - 1)
    out_plane = nc * (P * Q)  # int64 when INDEX_64

    acc = tl.zeros([BLOCK], ACC)
    for i in range(CAND_H):
        p = p_lo + i
        r = hp - p * SH
        for j in range(CAND_W):
            q = q_lo + j
            s = wp - q * SW
            ok = mask & (p <= p_hi) & (q <= q_hi)
            o = out_plane + (p * Q + q)
            # compared after integer promotion, never truncated (an int64 argmax compares in int64), so
            # any value outside [0, R*S) matches no position and its dy is dropped
            won = tl.load(argmax_ptr + o, mask=ok, other=-1) == r * S + s
            g = tl.load(dy_ptr + o, mask=ok & won, other=0.0)
            acc += g.to(ACC)
    tl.store(dx_ptr + idx, acc.to(dx_ptr.dtype.element_ty), mask=mask)


def vector_width(x: torch.Tensor, g: PoolGeometry) -> int:
    """V, the elements in 16 bytes, when the forward runs the 16-byte-load kernel (2x2 windows, stride 2, no
    padding, W % V == 0, x 16-byte aligned); 0 for the tile kernel."""
    V = 16 // x.element_size()
    if (g.R, g.S, g.sh, g.sw, g.ph, g.pw) == (2, 2, 2, 2, 0, 0) and g.W % V == 0 and x.data_ptr() % 16 == 0:
        return V
    return 0


def forward(x: torch.Tensor, kernel, stride, padding, relu: bool, vector: bool = True
            ) -> tuple[torch.Tensor, torch.Tensor]:
    """The forward launcher: checks, then the 16-byte-load kernel where :func:`vector_width` allows it (unless
    ``vector`` is False: the ladder's rung 3) and the tile kernel elsewhere; ``relu`` fuses the ReLU in."""
    check_float_tensor("x", x, 4)
    g = maxpool2d_forward_geometry(x.shape, kernel, stride, padding)
    _check_plane("maxpool2d_forward", g)
    y = torch.empty((g.N, g.C, g.P, g.Q), dtype=x.dtype, device=x.device)
    argmax = torch.empty((g.N, g.C, g.P, g.Q), dtype=argmax_dtype(g.R * g.S), device=x.device)
    total = g.N * g.C * g.P * g.Q
    if total == 0:
        return y, argmax
    cmp = tl.float64 if x.dtype == torch.float64 else tl.float32
    index_64 = _needs_int64(x.numel(), total)
    V = vector_width(x, g) if vector else 0
    if V:
        grid = lambda meta: (triton.cdiv(total, meta["BLOCK"]),)  # noqa: E731
        _maxpool2x2_vector_kernel[grid](x, y, argmax, total, size_bucket(total), g.H, g.W, g.P, g.Q,
                                        V=V, CMP=cmp, RELU=relu, INDEX_64=index_64)
        return y, argmax
    block_k = min(triton.next_power_of_2(g.R * g.S), _MAX_BLOCK_K)
    grid = lambda meta: (triton.cdiv(total, meta["BLOCK"] // block_k),)  # noqa: E731
    _maxpool2d_forward_kernel[grid](
        x, y, argmax, total, size_bucket(total), g.H, g.W, g.P, g.Q,
        R=g.R, S=g.S, SH=g.sh, SW=g.sw, PH=g.ph, PW=g.pw, CMP=cmp, RELU=relu, INDEX_64=index_64,
        BLOCK_K=block_k,
    )
    return y, argmax


def maxpool2d_forward(x: torch.Tensor, kernel, stride, padding) -> tuple[torch.Tensor, torch.Tensor]:
    """Max-pool ``x[N, C, H, W]`` with windows ``kernel`` = (R, S).

    Returns ``(y[N, C, P, Q], argmax[N, C, P, Q])`` where argmax holds ``r*S + s`` in
    :func:`argmax_dtype` ``(R*S)``.  Raises TypeError for a non-tensor / non-float x and ValueError
    for wrong ndim, a non-contiguous x or one on the wrong device, bad kernel/stride/padding,
    padding > kernel//2, a kernel larger than the padded input, or an H*W plane of 2**31 elements or more.
    """
    return forward(x, kernel, stride, padding, relu=False)


def relu_maxpool2d_forward(x: torch.Tensor, kernel, stride, padding) -> tuple[torch.Tensor, torch.Tensor]:
    """Max-pool ``relu(x)`` with the ReLU fused in: PyTorch's ``max_pool2d(relu(x))`` bit for bit, argmax -1 where
    y == 0 (``kernels/numpy/maxpool2d.py``).  Raises exactly as :func:`maxpool2d_forward`."""
    return forward(x, kernel, stride, padding, relu=True)


def maxpool2d_backward(
    dy: torch.Tensor, argmax: torch.Tensor, input_shape, kernel, stride, padding
) -> torch.Tensor:
    """Route ``dy[N, C, P, Q]`` to the window winners recorded in ``argmax``; returns ``dx[N, C, H, W]``.

    ``input_shape`` is the forward x's shape.  Overlapping windows accumulate (a gather: deterministic,
    no atomics).  Raises TypeError for a non-tensor / non-float dy or a non-tensor / non-integer
    argmax, ValueError for shape mismatches between dy, argmax and the output shape implied by
    input_shape/kernel/stride/padding, for bad geometry, for an H*W plane of 2**31 elements or more,
    for non-contiguous tensors or tensors on the wrong device, and -- where value checks run (the
    interpreter, or ``KERNELGRAD_SYNC_CHECKS=1``) -- for argmax values outside [0, R*S); unchecked,
    such a value routes no gradient.
    """
    return _backward(dy, argmax, input_shape, kernel, stride, padding, relu=False)


def relu_maxpool2d_backward(
    dy: torch.Tensor, argmax: torch.Tensor, input_shape, kernel, stride, padding
) -> torch.Tensor:
    """Gradient of :func:`relu_maxpool2d_forward` w.r.t. x (through the ReLU): the same gather, argmax == -1 routing
    nothing.  Raises as :func:`maxpool2d_backward`, with argmax's checked range [-1, R*S)."""
    return _backward(dy, argmax, input_shape, kernel, stride, padding, relu=True)


def _backward(dy: torch.Tensor, argmax: torch.Tensor, input_shape, kernel, stride, padding, relu: bool
              ) -> torch.Tensor:
    check_float_tensor("dy", dy, 4)
    if not isinstance(argmax, torch.Tensor):
        raise TypeError(f"argmax must be a torch.Tensor, got {type(argmax).__name__}")
    if argmax.dtype.is_floating_point or argmax.dtype.is_complex or argmax.dtype == torch.bool:
        raise TypeError(f"argmax must have an integer dtype, got {argmax.dtype}")
    check_placement("argmax", argmax)
    g = maxpool2d_backward_geometry(dy.shape, argmax.shape, input_shape, kernel, stride, padding)
    _check_plane("maxpool2d_backward", g)
    # reading argmax's range on the host is a device sync on a GPU: there it runs only under
    # KERNELGRAD_SYNC_CHECKS=1, and without it an out-of-range value drops its dy (the kernel never
    # uses argmax as an address)
    if argmax.numel() and value_checks_enabled(on_host=interpreting() and argmax.device.type == "cpu"):
        lo, hi = (int(v) for v in torch.aminmax(argmax))
        low = -1 if relu else 0  # -1: a window the fused ReLU zeroed
        if lo < low or hi >= g.R * g.S:
            raise ValueError(
                f"argmax holds values in [{lo}, {hi}], outside [{low}, R*S={g.R * g.S}) for kernel {(g.R, g.S)}"
            )

    dx = torch.empty((g.N, g.C, g.H, g.W), dtype=dy.dtype, device=dy.device)
    total = g.N * g.C * g.H * g.W  # > 0: input_shape holds positive ints
    acc = tl.float64 if dy.dtype == torch.float64 else tl.float32
    grid = lambda meta: (triton.cdiv(total, meta["BLOCK"]),)  # noqa: E731
    _maxpool2d_backward_kernel[grid](
        dy, argmax, dx, total, size_bucket(total), g.H, g.W, g.P, g.Q,
        R=g.R, S=g.S, SH=g.sh, SW=g.sw, PH=g.ph, PW=g.pw, ACC=acc,
        INDEX_64=_needs_int64(total, dy.numel()),
    )
    return dx
