"""Rung 0 -- naive max pooling: one output per lane, a scalar loop over the window, PyTorch's int64 index, and a
backward by scatter (atomic adds into a zeroed dx).

The bottom of the max-pool ladder, the baseline every later rung is measured against. Same math and contract as
``kernels/triton/maxpool2d.py`` (NCHW, no dilation, floor mode)::

    x[N, C, H, W]  ->  y[N, C, P, Q],  P = (H + 2*ph - R) // sh + 1,  Q = (W + 2*pw - S) // sw + 1
    y[n, c, p, q] = max_{r < R, s < S} xpad[n, c, p*sh + r, q*sw + s]       (xpad padded with -inf)
    argmax[n, c, p, q] = r*S + s of the winner, in argmax_dtype(R*S) (int8 for windows up to 127 positions)

What it does (there is no rung below; this is what one writes first, after PyTorch's own CUDA kernel):

* forward (``_naive_forward_kernel``): a program owns BLOCK consecutive outputs, one per lane, and each lane walks
  its window in a scalar loop, ``for r in range(R): for s in range(S)``: one masked load per step (padding and
  out-of-image positions are never loaded), ``v > best || v != v || nothing seen yet`` (first maximum wins ties,
  a NaN is the maximum and the last NaN wins, padding never wins: production's rules). The winner is recorded the
  way PyTorch records it: the **flat index h*W + w inside the (n, c) plane, in int64** (``return_indices=True``'s
  ``indices``). The contract stores the compact window position r*S + s in int8/int16/int32, so a second kernel
  (``_index_to_compact_kernel``, one lane per output) re-reads the int64 index, decodes (h, w) with a division,
  subtracts the window origin and writes the compact value.
* backward (``_scatter_backward_kernel``): dx is zeroed (``torch.zeros``: a full write of |dx|), then one lane per
  *output* decodes its winner from the compact argmax (r = a // S, s = a % S) and adds dy there with
  ``tl.atomic_add``, so overlapping windows that chose the same pixel accumulate. The adds go to a float32 buffer
  for float16 / bfloat16 (float64 for float64), converted to dx's dtype by one more pass (``.to``); float32 and
  float64 add straight into dx. An argmax outside [0, R*S), or naming a padded position, adds nothing (masked: it
  never becomes an address), production's contract.

Determinism: an atomic add's order is the hardware's. A dx element that receives one or two adds is exact and
reproducible (0 + a, and a + b = b + a); one that wins three or more windows (3x3 stride-1 pooling: up to 9) sums in
a varying order on a GPU, so its last bits can change from run to run. The shared tests hold: under the interpreter
the adds are sequential, their random-dy checks allow float rounding, and their exact checks add ones (small integer
sums, exact in any order). Rung 2 replaces the scatter with the gather that makes every dx bit reproducible.

Index math: the flat output index is int32 unless a tensor passes 2**31 elements (production's ``_needs_int64``:
then int64, a second compiled variant); inside a plane everything is int32, so one H*W plane must hold fewer than
2**31 elements (production's limit and error). Argument checks are production's (the same ValueError / TypeError
naming the argument; argmax's range is read on the host only where that costs no device sync).

Bytes moved, the running example: ResNet-50's stem pool, 3x3 stride 2 padding 1 on x[32, 64, 112, 112] ->
y[32, 64, 56, 56], float32, on an H200 (~4.8 TB/s HBM, ~4 TB/s for a plain copy, 50 MB L2). Compulsory traffic is
|x| + |y| + |argmax| = 102.8 + 25.7 + 6.4 = 134.9 MB forward and |dy| + |argmax| + |dx| the same 134.9 MB backward:
a ~33 us floor each at copy bandwidth. No FLOPs worth counting (comparisons only). This rung's traffic: forward
x once from DRAM (the 2.25x window overlap re-reads hit L1/L2) + y + the int64 index written (51.4 MB) + read back
by the conversion (51.4 MB) + the int8 argmax (6.4 MB): 238 MB, 1.76x compulsory, in two launches. Backward: the
zero-fill (102.8 MB written), dy + argmax (32.1 MB), and 25.7M scattered 4-byte atomic adds, each a read-modify-
write of a 32-byte sector in L2; dx (102.8 MB) does not fit the L2, so its lines come back from DRAM for the adds
and are written again: ~340 MB, 2.5x compulsory (float16: plus the float32 buffer's read and the dx write).

Prediction, written before any measurement (the running example, float32, H200): forward 70-110 us (30-50% of
copy bandwidth on the compulsory bytes): 1.76x the compulsory traffic, and the window is three dependent rounds of
loads (the sm_90 PTX keeps the r loop as a loop of R = 3 trips and unrolls only s: 3 loads per output in flight per
trip, the next trip's loads issued after this trip's compares), so it is latency-bound before it is
bandwidth-bound; the conversion kernel alone ~15-20 us of it. Backward 90-150 us (2.5x
compulsory bytes, plus the atomics' L2 throughput: warps whose 32 lanes add to a few sectors serialise there).
float16 / bfloat16: half the bytes of x, y, dy, dx but the same int64 index and float32 atomics, so ~0.6-0.7x
the float32 times, not 0.5x. Unverified: no GPU has run this rung.

Measured: not yet (no GPU). Compiled ahead of time for sm_90 by ``python -m benchmarks.aot_triton --family
maxpool2d`` (launchers "rung0_naive: ...", x[32, 64, 112, 112] 3x3/s2/p1, Triton 3.9): no spill in any config or
dtype; registers 32-48 (float32) / 40-63 (16-bit, float64) forward, 23-31 for the conversion, 26-32 for the scatter
(global atomic adds in its SASS: ATOMG.E.ADD.F64 for float64); see docs/ladder/maxpool2d.md.
"""

from __future__ import annotations

import torch
import triton
import triton.language as tl

from ...._args import PoolGeometry, maxpool2d_backward_geometry, maxpool2d_forward_geometry, value_checks_enabled
from ..._common import autotune_configs, check_float_tensor, check_placement, interpreting, size_bucket
from ...maxpool2d import _check_plane, _needs_int64, argmax_dtype

__all__ = ["maxpool2d_forward", "maxpool2d_backward"]

# one output (backward: one output's dy) per lane; the interpreter pays per program, not per lane
_CONFIGS = autotune_configs(
    [triton.Config({"BLOCK": b}, num_warps=w) for b, w in ((256, 4), (512, 4), (1024, 8))],
    triton.Config({"BLOCK": 1024}, num_warps=1),
)


@triton.autotune(configs=_CONFIGS, key=["size_bucket", "R", "S", "SH", "SW"])
@triton.jit
def _naive_forward_kernel(
    x_ptr, y_ptr, index_ptr, total, size_bucket, H, W, P, Q,
    R: tl.constexpr, S: tl.constexpr, SH: tl.constexpr, SW: tl.constexpr, PH: tl.constexpr, PW: tl.constexpr,
    CMP: tl.constexpr, INDEX_64: tl.constexpr, BLOCK: tl.constexpr,
):
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
    best_i = tl.full([BLOCK], -1, tl.int64)  # h*W + w of the winner in its plane; -1 = no real element seen yet
    for r in range(R):
        h = h0 + r
        row_ok = mask & (h >= 0) & (h < H)
        for s in range(S):
            w = w0 + s
            real = row_ok & (w >= 0) & (w < W)
            v = tl.load(x_ptr + plane + (h * W + w), mask=real, other=float("-inf")).to(CMP)
            # strict >: the first maximum wins; a NaN always replaces (the last NaN wins), a number never replaces
            # a NaN (v > NaN is false)
            take = real & ((v > best) | (v != v) | (best_i < 0))
            best = tl.where(take, v, best)
            best_i = tl.where(take, (h * W + w).to(tl.int64), best_i)
    tl.store(y_ptr + out, best.to(y_ptr.dtype.element_ty), mask=mask)
    tl.store(index_ptr + out, best_i, mask=mask)


@triton.autotune(configs=_CONFIGS, key=["size_bucket"])
@triton.jit
def _index_to_compact_kernel(
    index_ptr, argmax_ptr, total, size_bucket, W, P, Q,
    S: tl.constexpr, SH: tl.constexpr, SW: tl.constexpr, PH: tl.constexpr, PW: tl.constexpr,
    INDEX_64: tl.constexpr, BLOCK: tl.constexpr,
):
    if INDEX_64:
        out = tl.program_id(0).to(tl.int64) * BLOCK + tl.arange(0, BLOCK)
    else:
        out = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
    mask = out < total
    nc = out // (P * Q)
    pq = (out - nc * (P * Q)).to(tl.int32)
    q = pq % Q
    p = pq // Q
    flat = tl.load(index_ptr + out, mask=mask, other=0).to(tl.int32)  # < H*W < 2**31 (production's plane limit)
    h = flat // W
    w = flat - h * W
    compact = (h - (p * SH - PH)) * S + (w - (q * SW - PW))
    tl.store(argmax_ptr + out, compact.to(argmax_ptr.dtype.element_ty), mask=mask)


@triton.autotune(configs=_CONFIGS, key=["size_bucket", "R", "S", "SH", "SW"])
@triton.jit
def _scatter_backward_kernel(
    dy_ptr, argmax_ptr, acc_ptr, total, size_bucket, H, W, P, Q,
    R: tl.constexpr, S: tl.constexpr, SH: tl.constexpr, SW: tl.constexpr, PH: tl.constexpr, PW: tl.constexpr,
    INDEX_64: tl.constexpr, BLOCK: tl.constexpr,
):
    if INDEX_64:
        out = tl.program_id(0).to(tl.int64) * BLOCK + tl.arange(0, BLOCK)
    else:
        out = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
    mask = out < total
    nc = out // (P * Q)
    pq = (out - nc * (P * Q)).to(tl.int32)
    q = pq % Q
    p = pq // Q
    a = tl.load(argmax_ptr + out, mask=mask, other=-1)
    in_range = (a >= 0) & (a < R * S)  # in argmax's own dtype: an int64 value is never truncated into range
    a = tl.where(in_range, a, 0).to(tl.int32)  # R*S < 2**31 (argmax_dtype)
    r = a // S
    s = a - r * S
    h = p * SH - PH + r
    w = q * SW - PW + s
    # an out-of-range argmax, or one naming padding, adds nothing: it never becomes an address
    ok = mask & in_range & (h >= 0) & (h < H) & (w >= 0) & (w < W)
    g = tl.load(dy_ptr + out, mask=ok, other=0.0)
    tl.atomic_add(acc_ptr + nc * (H * W) + (h * W + w), g.to(acc_ptr.dtype.element_ty), mask=ok)


def _grid(total: int):
    return lambda meta: (triton.cdiv(total, meta["BLOCK"]),)


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
    index = torch.empty((g.N, g.C, g.P, g.Q), dtype=torch.int64, device=x.device)  # PyTorch's flat plane index
    cmp = tl.float64 if x.dtype == torch.float64 else tl.float32
    index_64 = _needs_int64(x.numel(), total)
    _naive_forward_kernel[_grid(total)](
        x, y, index, total, size_bucket(total), g.H, g.W, g.P, g.Q,
        R=g.R, S=g.S, SH=g.sh, SW=g.sw, PH=g.ph, PW=g.pw, CMP=cmp, INDEX_64=index_64,
    )
    _index_to_compact_kernel[_grid(total)](
        index, argmax, total, size_bucket(total), g.W, g.P, g.Q, S=g.S, SH=g.sh, SW=g.sw, PH=g.ph, PW=g.pw,
        INDEX_64=index_64,
    )
    return y, argmax


def check_backward_args(dy, argmax, input_shape, kernel, stride, padding) -> PoolGeometry:
    """Production's argument checks for ``maxpool2d_backward`` (the same errors, the same host-read policy for
    argmax's range); the pooling geometry."""
    check_float_tensor("dy", dy, 4)
    if not isinstance(argmax, torch.Tensor):
        raise TypeError(f"argmax must be a torch.Tensor, got {type(argmax).__name__}")
    if argmax.dtype.is_floating_point or argmax.dtype.is_complex or argmax.dtype == torch.bool:
        raise TypeError(f"argmax must have an integer dtype, got {argmax.dtype}")
    check_placement("argmax", argmax)
    g = maxpool2d_backward_geometry(dy.shape, argmax.shape, input_shape, kernel, stride, padding)
    _check_plane("maxpool2d_backward", g)
    if argmax.numel() and value_checks_enabled(on_host=interpreting() and argmax.device.type == "cpu"):
        lo, hi = (int(v) for v in torch.aminmax(argmax))
        if lo < 0 or hi >= g.R * g.S:
            raise ValueError(
                f"argmax holds values in [{lo}, {hi}], outside [0, R*S={g.R * g.S}) for kernel {(g.R, g.S)}"
            )
    return g


def maxpool2d_backward(
    dy: torch.Tensor, argmax: torch.Tensor, input_shape, kernel, stride, padding
) -> torch.Tensor:
    """Route ``dy[N, C, P, Q]`` to the window winners recorded in ``argmax``: ``dx[N, C, H, W]`` by scatter (atomic
    adds into zeros). Raises TypeError / ValueError exactly as ``kernels.triton.maxpool2d.maxpool2d_backward``."""
    g = check_backward_args(dy, argmax, input_shape, kernel, stride, padding)
    wide = dy.dtype in (torch.float32, torch.float64)
    acc = torch.zeros((g.N, g.C, g.H, g.W), dtype=dy.dtype if wide else torch.float32, device=dy.device)
    total = g.N * g.C * g.P * g.Q
    if total:
        _scatter_backward_kernel[_grid(total)](
            dy, argmax, acc, total, size_bucket(total), g.H, g.W, g.P, g.Q,
            R=g.R, S=g.S, SH=g.sh, SW=g.sw, PH=g.ph, PW=g.pw, INDEX_64=_needs_int64(acc.numel(), total),
        )
    return acc if wide else acc.to(dy.dtype)
