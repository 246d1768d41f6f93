"""2-D convolution (cross-correlation, like ``torch.nn.functional.conv2d``) as CUDA C implicit GEMMs.

Math (NCHW, no dilation, no groups), the same as ``kernels/numpy/conv2d.py``::

    x[N, C, H, W], w[K, C, R, S], b[K] or None  ->  y[N, K, P, Q]
    P = (H + 2*ph - R) // sh + 1,   Q = (W + 2*pw - S) // sw + 1
    y[n, k, p, q] = b[k] + sum_{c, r, s} w[k, c, r, s] * xpad[n, c, p*sh + r, q*sw + s]

The kernels live in ``conv2d.cu`` (its header has the algorithm, bytes and FLOPs).  In short, every
product is a GEMM whose operand tiles are gathered straight from the tensors into shared memory (no
im2col buffer; padding and stride are handled in the gather), through a multi-stage pipeline: on sm_80+
the float32 / float64 elements are ``cp.async`` copies (zero-fill for padding) issued STAGES - 1 steps ahead
of the math (3 stages for float32, 2 for float64 and float16, whose 2-byte elements have no ``cp.async`` and
stay ordinary loads; ordinary loads below sm_80).  forward and backward_input pack the weight once per call
(:func:`_pack_weight`, one small kernel: ``[C*R*S, Kp]`` / ``[K*R*S, Cp]``, the inner size padded with zeros to
16 bytes) and copy their weight tiles in 16-byte ``cp.async`` vectors, float16 included.  This is the top rung of
the CUDA C conv2d ladder (rung 5, ``ladder/conv2d/rung5_vector_loads.py``); rung 4 gathers the weight element by
element, rung 3 keeps the single-stage loop:

* forward:          GEMM M = N*P*Q, Ncols = K, reduction C*R*S; bias fused into the epilogue.
* backward_input:   by stride phase: the pixels split into sh*sw phases (a, b) = ((h + ph) % sh,
                    (w + pw) % sw), each a GEMM of its own -- M = N*Hp*Wp pixels h = h0 + t*sh,
                    w = w0 + u*sw, Ncols = C, reduction K * (the phase's taps r = a + i*sh, s = b + j*sw)
                    -- whose gather meets dy at p = p_base + t - i with no division and no stride hole:
                    only the useful 2*N*K*C*R*S*P*Q FLOPs, where a gather over every tap issues sh*sw
                    times as many (that form is ladder rung 2).  Each dx element is written once
                    (deterministic).
* backward_weight:  GEMM M = K, Ncols = C*R*S, reduction N*P*Q.  When the K x C*R*S tiles are too few to
                    fill a GPU, the reduction is split into chunks (grid z) that write fp32/fp64 partial
                    tiles, summed in a fixed order by a second kernel: deterministic, no atomics.
* backward_bias:    one block per output channel, fixed-order tree reduction.

Launch configuration (:func:`_gemm_launch`, pure Python): grid = (ceil(M/64), ceil(Ncols/64), splits), 1-D
blocks; backward_input (:func:`_backward_input_launch`) puts the phase on grid z -- min(sh, H) * min(sw, W) of
them, the phases that hold pixels (past 65535, in several launches) -- and sizes grid x for the largest.
float16 runs on tensor cores (WMMA 16x16x16, fp32 accumulation): 64x64 tiles, BK = 32, 128 threads. float32 /
float64 use FMA register tiling: 64x64 tiles, BK = 16, 256 threads, accumulating in float32 / float64 (IEEE
fp32 products); with :data:`ALLOW_TF32` (off by default) float32 runs on TF32 tensor cores instead (WMMA
16x16x8, 64x64 tiles, BK = 16, 128 threads; ~3e-4 relative error on the tests' shapes). float16 outputs are
computed in float32 and rounded once. bfloat16 runs the float16 tiles on bfloat16 tensor cores (WMMA from sm_80, the
FMA path below): CuPy has no bfloat16 dtype, so its arrays come as :class:`~kernels.cupy._runtime.BFloat16Array`
(uint16 bit patterns, e.g. ``BFloat16Array.from_torch(t)``), all inputs together, and so do the results. Index
math is 64-bit where tensors can exceed 2**31 elements (image and
tensor offsets, N*P*Q); quantities inside one plane are ints, so N, one image plane H*W, one output plane P*Q,
the padded sizes H + 2*ph and W + 2*pw, and the weight K*C*R*S must stay below 2**31 - 64 (ValueError
otherwise), and ceil(Ncols/64) must not exceed 65535 (the grid's y limit: K for forward, C for backward_input,
C*R*S for backward_weight). On a GPU without tensor cores for float16 (before sm_70) the same tiles and
128-thread blocks run an FMA path instead (also run in CI on the emulator).

Verification: values only on the CPU emulator (``KERNELGRAD_CUDA_EMULATE=1``, whose ``cp.async`` lands a group
only when a wait forces it, so a stage read too early fails the tests); NVRTC compiles every
name expression declared here for sm_80/sm_90 in CI (the options this package uses on a GPU: IEEE
float32 without flush-to-zero), with registers, spills and tensor-core use recorded in
``benchmarks/results/aot-cuda.md``; nvcc compiles the whole file for sm_75.  GPU execution and
speed are unverified (no GPU was available).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .._args import (
    ConvGeometry,
    conv2d_backward_input_geometry,
    conv2d_backward_weight_geometry,
    conv2d_forward_geometry,
)
from . import _runtime
from ._runtime import BFLOAT16, MAX_GRID, SourceModule, as_dtype, cdiv, check_float_array, check_same_dtype, cuda_type

__all__ = ["conv2d_forward", "conv2d_backward_input", "conv2d_backward_weight", "conv2d_backward_bias"]

#: Storage types launched: bfloat16 arrives as a :class:`~kernels.cupy._runtime.BFloat16Array` (uint16 bits).
_TYPES = ("__half", "float", "double", "__nv_bfloat16")
_KERNELS = (
    "conv2d_forward_kernel",
    "conv2d_backward_input_kernel",
    "conv2d_backward_weight_kernel",
    "conv2d_backward_weight_reduce_kernel",
    "conv2d_backward_bias_kernel",
    "conv2d_pack_weight_kernel",
)
#: The float32 GEMMs on TF32 tensor cores (ALLOW_TF32), instantiated for float only.
_TF32_KERNELS = ("conv2d_forward_tf32_kernel", "conv2d_backward_input_tf32_kernel",
                 "conv2d_backward_weight_tf32_kernel")
MODULE = SourceModule("conv2d.cu", [f"{k}<{t}>" for k in _KERNELS for t in _TYPES]
                      + [f"{k}<float>" for k in _TF32_KERNELS])

#: Opt-in: float32 GEMMs on TF32 tensor cores (sm_80+: WMMA 16x16x8, each operand rounded to a 10-bit mantissa,
#: fp32 accumulation; ~1e-4 to 1e-3 relative error instead of ~1e-6; below sm_80 the same launch runs IEEE FMA
#: tiling).  Off by default: IEEE float32, as kernels/triton/conv2d.py's ALLOW_TF32.  Read at every call.
ALLOW_TF32 = False

#: (BM, BN, BK, threads) of the block tile per dtype: must match ``Tiles<T>`` in conv2d.cu.
TILES = {
    np.dtype(np.float16): (64, 64, 32, 128),  # WMMA: 4 warps, 2 x 2 fragments of 16x16 each
    BFLOAT16: (64, 64, 32, 128),  # the same (WMMA from sm_80, the same tile's FMA path below)
    np.dtype(np.float32): (64, 64, 16, 256),  # FMA: 16 x 16 threads, 4 x 4 micro-tiles
    np.dtype(np.float64): (64, 64, 16, 256),
}
#: The float32 tile under ALLOW_TF32 (``Tf32Tiles`` in conv2d.cu).
TF32_TILES = (64, 64, 16, 128)
#: Accumulator dtype (acc_t<T>) of the backward_weight partial sums.
ACC_DTYPES = {
    np.dtype(np.float16): np.dtype(np.float32),
    BFLOAT16: np.dtype(np.float32),
    np.dtype(np.float32): np.dtype(np.float32),
    np.dtype(np.float64): np.dtype(np.float64),
}

#: Blocks that keep a large GPU busy (2 per SM on a 132-SM H100): backward_weight splits its reduction
#: only while its tile grid is smaller than this.
TARGET_BLOCKS = 264
#: Shortest reduction chunk worth a split (its partial tile costs a BM x BN write and read).
MIN_SPLIT_DEPTH = 2048
MAX_SPLITS = 64
BIAS_THREADS = 256
REDUCE_THREADS = 256
PACK_THREADS = 256
#: Stride phases one backward_input launch covers (CUDA's grid z limit); more take several launches.
MAX_GRID_Z = MAX_GRID[2]


def _gemm_launch(rows: int, cols: int, dtype: Any, *, tiles: tuple[int, int, int, int] | None = None
                 ) -> tuple[tuple[int, int, int], tuple[int, int, int]]:
    """``(grid, block)`` for an implicit GEMM with a ``rows x cols`` output (one block per 64x64 tile); ``tiles``
    overrides the dtype's (BM, BN, BK, threads) (:data:`TF32_TILES`)."""
    bm, bn, _, threads = tiles or TILES[as_dtype(dtype)]
    return (cdiv(rows, bm), cdiv(cols, bn), 1), (threads, 1, 1)


def _backward_input_launch(
    g: ConvGeometry, dtype: Any, max_grid_z: int = MAX_GRID_Z, *, tiles: tuple[int, int, int, int] | None = None
) -> tuple[list[tuple[tuple[int, int, int], int]], tuple[int, int, int]]:
    """``(launches, block)`` for backward_input by stride phase, each launch a ``(grid, phase0)``.

    Grid x covers the largest phase's N*ceil(H/sh)*ceil(W/sw) rows, y the C columns, z the phases that hold
    pixels -- min(sh, H) * min(sw, W) of them: all in one launch, or, past CUDA's 65535 (``max_grid_z``), in
    several, each starting at its ``phase0``.
    """
    rows = g.N * cdiv(g.H, g.sh) * cdiv(g.W, g.sw)
    (gx, gy, _), block = _gemm_launch(rows, g.C, dtype, tiles=tiles)
    phases = min(g.sh, g.H) * min(g.sw, g.W)
    return [((gx, gy, min(phases - phase0, max_grid_z)), phase0) for phase0 in range(0, phases, max_grid_z)], block


def _backward_weight_launch(
    K: int, CRS: int, NPQ: int, dtype: Any, target_blocks: int = TARGET_BLOCKS, min_split_depth: int = MIN_SPLIT_DEPTH,
    *, tiles: tuple[int, int, int, int] | None = None,
) -> tuple[tuple[int, int, int], tuple[int, int, int], int, int]:
    """``(grid, block, splits, split_depth)`` for backward_weight.

    The N*P*Q reduction is cut into ``splits`` chunks of ``split_depth`` indices (a multiple of BK, so no
    reduction tile straddles two chunks), only as far as needed to reach ``target_blocks`` blocks and
    never below ``min_split_depth`` indices per chunk.
    """
    (gx, gy, _), block = _gemm_launch(K, CRS, dtype, tiles=tiles)
    bk = (tiles or TILES[as_dtype(dtype)])[2]
    splits = min(cdiv(target_blocks, gx * gy), max(NPQ // max(min_split_depth, 1), 1), MAX_SPLITS)
    splits = max(splits, 1)
    split_depth = cdiv(cdiv(NPQ, splits), bk) * bk
    splits = cdiv(NPQ, split_depth)  # rounding split_depth up may leave the last chunks empty: drop them
    return (gx, gy, splits), block, splits, split_depth


def _bias_launch(K: int) -> tuple[tuple[int, int, int], tuple[int, int, int]]:
    return (K, 1, 1), (BIAS_THREADS, 1, 1)


#: Bound on the int quantities of conv2d.cu: 2**31 less headroom for one reduction step (a thread's
#: position inside a plane plus its offset in the step, pq0 + jl < P*Q + 32, stays an int).
INT_LIMIT = 2**31 - 64


def _check_int_sizes(name: str, g: ConvGeometry) -> None:
    """conv2d.cu indexes inside one plane (H*W, P*Q, padded coordinates) and the weight with ints (its header)."""
    _check_below_int_limit(name, {"N": g.N, "H*W": g.H * g.W, "P*Q": g.P * g.Q, "K*C*R*S": g.K * g.C * g.R * g.S,
                                  "H + 2*ph": g.H + 2 * g.ph, "W + 2*pw": g.W + 2 * g.pw})


def _check_below_int_limit(name: str, sizes: dict[str, int]) -> None:
    for what, size in sizes.items():
        if size >= INT_LIMIT:
            raise ValueError(f"{name}: {what} = {size} is too large for the CUDA kernels (< 2**31 - 64)")


def _i32(*values: int) -> list[np.int32]:
    """Kernel int parameters; sizes were bounded by _check_int_sizes, this also catches a huge stride."""
    for v in values:
        if not -(2**31) <= v < 2**31:
            raise ValueError(f"{v} does not fit the CUDA kernels' 32-bit int parameters")
    return [np.int32(v) for v in values]


def conv2d_forward(x: Any, w: Any, b: Any | None, stride, padding) -> Any:
    """Convolve ``x[N, C, H, W]`` with ``w[K, C, R, S]`` plus optional bias ``b[K]``.

    Returns ``y[N, K, P, Q]`` in x's dtype (a ``BFloat16Array`` for bfloat16 inputs).  Raises TypeError for arrays
    of the wrong kind (not cupy, or not numpy under emulation) / non-float / mixed dtype inputs and ValueError for
    wrong ndim, non-contiguous arrays, mismatched C, a bias that is not [K], bad stride/padding, or a kernel larger
    than the padded input.
    """
    return _forward(MODULE, "conv2d_forward_kernel", x, w, b, stride, padding, pack=True,
                    tf32_kernel="conv2d_forward_tf32_kernel")


def conv2d_backward_input(dy: Any, w: Any, input_shape, stride, padding) -> Any:
    """Gradient w.r.t. the input: ``dx[N, C, H, W]`` for ``dy[N, K, P, Q]`` and ``w[K, C, R, S]``.

    ``input_shape`` is the forward x's shape (several H give the same P when ``sh > 1``).  Raises
    TypeError / ValueError like :func:`conv2d_forward`, and ValueError when dy's shape does not match
    the output shape implied by input_shape, w, stride and padding.
    """
    return _backward_input(MODULE, "conv2d_backward_input_kernel", dy, w, input_shape, stride, padding, pack=True,
                           tf32_kernel="conv2d_backward_input_tf32_kernel")


def conv2d_backward_weight(dy: Any, x: Any, weight_shape, stride, padding) -> Any:
    """Gradient w.r.t. the weight: ``dw[K, C, R, S]`` for ``dy[N, K, P, Q]`` and ``x[N, C, H, W]``.

    Raises TypeError / ValueError like :func:`conv2d_forward`, and ValueError when dy's shape does
    not match the output shape implied by x, weight_shape, stride and padding.
    """
    return _backward_weight(MODULE, "conv2d_backward_weight_kernel", dy, x, weight_shape, stride, padding,
                            tf32_kernel="conv2d_backward_weight_tf32_kernel")


# The launchers behind the three GEMM passes, shared with ladder rungs 3 and 4 (ladder/conv2d/rung3_stride_phase.py,
# rung4_cp_async.py), whose kernels take the same arguments and grids from their own modules: ``module`` and
# ``kernel`` (the template's name, instantiated here for the dtype) say which kernel runs, ``pack`` whether it reads
# the weight packed by :func:`_pack_weight` (production) or as it is (the rungs below 5), ``tf32_kernel`` the kernel
# float32 runs instead when :data:`ALLOW_TF32` is on (production only; with :data:`TF32_TILES`).  backward_weight's
# split-K reduce kernel and the packing kernel are always this module's.


def packed_weight_shape(w_shape: tuple[int, ...], dtype: Any, k_inner: bool) -> tuple[int, int]:
    """Shape of the packed weight: ``[C*R*S, Kp]`` for forward (``k_inner``), ``[K*R*S, Cp]`` for backward_input,
    the inner size rounded up to a 16-byte multiple of elements (``conv2d_pack_weight_kernel``)."""
    K, C, R, S = w_shape
    vec = 16 // as_dtype(dtype).itemsize
    outer, cols = (C, K) if k_inner else (K, C)
    return outer * R * S, cdiv(cols, vec) * vec


def _pack_weight(w: Any, k_inner: bool) -> Any:
    """w[K, C, R, S] packed for the 16-byte B copies of conv2d.cu (its header, "packed weights"): one small launch."""
    K, C, R, S = w.shape
    out = _runtime.empty(packed_weight_shape(w.shape, w.dtype, k_inner), w.dtype)
    if out.size == 0:  # a weight with no elements: a grid of zero blocks is not a valid launch
        return out
    MODULE.launch(
        f"conv2d_pack_weight_kernel<{cuda_type(w.dtype)}>", (cdiv(out.size, PACK_THREADS),), (PACK_THREADS,),
        [w, out, *_i32(K, C, R * S, int(k_inner))],
    )  # fmt: skip
    return out


def _tf32(kernel: str, tf32_kernel: str | None, dtype: Any) -> tuple[str, tuple[int, int, int, int] | None]:
    """The kernel to run and its tile override: the TF32 one for float32 when ALLOW_TF32 is on and it exists."""
    if tf32_kernel is not None and ALLOW_TF32 and as_dtype(dtype) == np.float32:
        return tf32_kernel, TF32_TILES
    return kernel, None


def _forward(module: SourceModule, kernel: str, x: Any, w: Any, b: Any | None, stride, padding,
             pack: bool = False, tf32_kernel: str | None = None) -> Any:
    check_float_array("x", x, 4, bfloat16=True)
    check_float_array("w", w, 4, bfloat16=True)
    if b is not None:
        check_float_array("b", b, 1, bfloat16=True)
    dtype = check_same_dtype(x=x, w=w, b=b)
    g = conv2d_forward_geometry(x.shape, w.shape, None if b is None else b.shape, stride, padding)
    _check_int_sizes("conv2d_forward", g)

    y = _runtime.empty((g.N, g.K, g.P, g.Q), dtype)
    if y.size == 0:  # an empty batch: a grid of zero blocks is not a valid launch
        return y
    kernel, tiles = _tf32(kernel, tf32_kernel, dtype)
    grid, block = _gemm_launch(g.N * g.P * g.Q, g.K, dtype, tiles=tiles)
    wk = _pack_weight(w, k_inner=True) if pack else w
    # the geometry's fields are the kernel's int parameters, in order; without a bias w stands in for
    # the pointer and has_bias = 0 makes the kernel ignore it
    module.launch(
        f"{kernel}<{cuda_type(dtype)}>", grid, block, [x, wk, b if b is not None else w, y, *_i32(*g, b is not None)],
    )  # fmt: skip
    return y


def _backward_input(module: SourceModule, kernel: str, dy: Any, w: Any, input_shape, stride, padding,
                    pack: bool = False, tf32_kernel: str | None = None) -> Any:
    check_float_array("dy", dy, 4, bfloat16=True)
    check_float_array("w", w, 4, bfloat16=True)
    dtype = check_same_dtype(dy=dy, w=w)
    g = conv2d_backward_input_geometry(dy.shape, w.shape, input_shape, stride, padding)
    _check_int_sizes("conv2d_backward_input", g)

    dx = _runtime.empty((g.N, g.C, g.H, g.W), dtype)
    kernel, tiles = _tf32(kernel, tf32_kernel, dtype)
    launches, block = _backward_input_launch(g, dtype, MAX_GRID_Z, tiles=tiles)
    wk = _pack_weight(w, k_inner=False) if pack else w
    for grid, phase0 in launches:
        module.launch(f"{kernel}<{cuda_type(dtype)}>", grid, block, [dy, wk, dx, *_i32(*g, phase0)])
    return dx


def _backward_weight(module: SourceModule, kernel: str, dy: Any, x: Any, weight_shape, stride, padding,
                     tf32_kernel: str | None = None) -> Any:
    check_float_array("dy", dy, 4, bfloat16=True)
    check_float_array("x", x, 4, bfloat16=True)
    dtype = check_same_dtype(dy=dy, x=x)
    g = conv2d_backward_weight_geometry(dy.shape, x.shape, weight_shape, stride, padding)
    _check_int_sizes("conv2d_backward_weight", g)

    CRS = g.C * g.R * g.S
    if g.N == 0:  # nothing to reduce
        return _runtime.zeros((g.K, g.C, g.R, g.S), dtype)
    kernel, tiles = _tf32(kernel, tf32_kernel, dtype)
    grid, block, splits, split_depth = _backward_weight_launch(
        g.K, CRS, g.N * g.P * g.Q, dtype, TARGET_BLOCKS, MIN_SPLIT_DEPTH, tiles=tiles
    )
    acc_dtype = ACC_DTYPES[as_dtype(dtype)]
    dw = _runtime.empty((g.K, g.C, g.R, g.S), dtype)
    # one chunk whose accumulator type is the storage type: the GEMM writes dw directly
    direct = splits == 1 and acc_dtype == dtype
    partial = dw if direct else _runtime.empty((splits, g.K, CRS), acc_dtype)
    ctype = cuda_type(dtype)
    module.launch(f"{kernel}<{ctype}>", grid, block, [dy, x, partial, *_i32(*g), np.int64(split_depth)])
    if not direct:
        count = g.K * CRS
        MODULE.launch(
            f"conv2d_backward_weight_reduce_kernel<{ctype}>", (cdiv(count, REDUCE_THREADS),), (REDUCE_THREADS,),
            [partial, dw, np.int64(count), np.int32(splits)],
        )  # fmt: skip
    return dw


def conv2d_backward_bias(dy: Any) -> Any:
    """Gradient w.r.t. the bias: ``db[K] = dy.sum over (N, P, Q)`` for ``dy[N, K, P, Q]``."""
    check_float_array("dy", dy, 4, bfloat16=True)
    N, K, P, Q = dy.shape
    _check_below_int_limit("conv2d_backward_bias", {"N": N, "P*Q": P * Q})
    db = _runtime.empty((K,), dy.dtype)
    if K == 0:
        return db
    grid, block = _bias_launch(K)
    MODULE.launch(f"conv2d_backward_bias_kernel<{cuda_type(dy.dtype)}>", grid, block, [dy, db, *_i32(N, K, P * Q)])
    return db
