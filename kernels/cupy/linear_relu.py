"""Fully connected layer with fused bias and ReLU (``relu(x @ w.T + b)``) and its backward, in CUDA C.

Math (same as ``kernels/numpy/linear_relu.py``)::

    x[M, K], w[N, K], b[N] or None  ->  y[M, N] = x @ w.T + b,   then max(y, 0) if relu
    g = dy, set to 0 where y <= 0 when relu, else dy
    dx[M, K] = g @ w,   dw[N, K] = g.T @ x,   db[N] = g.sum(0)

The kernels live in ``linear_relu.cu`` (read its header for the algorithm): one shared-memory tiled GEMM
mainloop, parameterised by operand transposition, serves ``x @ w.T``, ``g @ w`` and ``g.T @ x``.  The
operand slabs stream through a 3-stage ``cp.async`` pipeline (sm_80+): 16-byte copies when an operand's base
is 16-byte aligned and its row length a multiple of 16 bytes, element copies otherwise (ordinary loads for
float16's 2-byte elements, and for everything below sm_80).  float16 runs on tensor cores (nvcuda::wmma
16x16x16, fp32 accumulation), float32/float64 on an FMA register-tiled path.  The forward fuses bias + ReLU
into the epilogue; the backward copies y's slab next to dy's and zeroes dy where y <= 0 as the slab lands in
shared memory (no masked-dy temporary), and sums db deterministically inside the dw kernel (the blocks of the
first tile-column, one thread per row, fixed order; no atomics).  This is the top of the CUDA C linear + bias +
ReLU ladder (``kernels/cupy/ladder/linear_relu/``: rung 3, ``rung3_cp_async.py``, whose header has the
prediction); rung 2 there is the single-stage kernel this one replaced.

Dropout in the epilogue (the dropout family's ``linear_relu_dropout_forward``, ``kernels/cupy/dropout.py``):
``linear_relu_dropout_forward_kernel<T>`` is the forward kernel with ``store_tile_dropout`` as its epilogue.  The
backward kernels take a ``scale`` (acc_t<T>) multiplying every stored dx / dw / db value: 1.0 for
:func:`linear_backward`, 1 / (1 - p) for ``linear_relu_dropout_backward``.

Launch configuration (:func:`_launch_config`): one block of ``THREADS`` = 256 threads per
``TILE_M x TILE_N`` = 64 x 64 output tile on a 1-D grid (tiles in grouped order, up to 2**31 - 1 of them):

- forward:          ``cdiv(M, 64) * cdiv(N, 64)`` blocks
- backward (dx):    ``cdiv(M, 64) * cdiv(K, 64)`` blocks
- backward (dw+db): ``cdiv(N, 64) * max(cdiv(K, 64), 1)`` blocks (db is written even when K == 0)

Empty outputs launch nothing; an empty reduction (K == 0 forward, M == 0 or N == 0 backward) runs the
kernel with no stages, which writes the bias (or 0).

Limits: 2-D C-contiguous arrays of one dtype (float16/32/64; CuPy has no bfloat16, although the .cu
instantiates it).  Sizes are 64-bit in the kernels.  float32 uses FMA, not TF32.  Any alignment and any
K / N work; 16-byte copies need the base addresses 16-byte aligned (CuPy's and numpy's allocations are) and
K (for x and w), N (for dy and y) multiples of 4 float32 / 2 float64 / 8 float16 elements.

NaN: the ReLU keeps NaN (``v < 0 ? 0 : v``, like numpy's maximum and PyTorch's relu), and a NaN
forward output passes its gradient (``y <= 0`` is false: PyTorch's threshold_backward), as in the numpy
reference; the mask is a select, so an inf or NaN dy where y <= 0 gives 0.

Verification: values are tested only under the CPU emulator (``KERNELGRAD_CUDA_EMULATE=1``), which runs
this CUDA C with g++, models WMMA as a whole-tile fp32 multiply and lands a cp.async group only when a wait
forces it; the FMA fallback of float16 (GPUs without tensor cores) and the ordinary-load path (GPUs below
sm_80) run there too.  NVRTC compiles every name expression declared here for sm_80/sm_90 in CI (registers,
spills, tensor-core instructions in ``benchmarks/results/aot-cuda.md``) and nvcc the whole file for
sm_75.  GPU correctness and speed are unverified -- no GPU was available when this was written.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from .._args import check_relu_output, linear_backward_shapes, linear_forward_shapes
from . import _runtime
from ._runtime import SourceModule, cdiv, check_float_array, check_same_dtype, cuda_type

__all__ = ["linear_forward", "linear_backward"]

TILE_M = 64  # output tile rows (TILE_M in linear_relu.cu)
TILE_N = 64  # output tile cols (TILE_N)
THREADS = 256  # threads per block (THREADS)

#: linear_relu_dropout_forward_kernel is the dropout family's (``kernels/cupy/dropout.py``:
#: ``linear_relu_dropout_forward``): this GEMM with dropout in its epilogue, compiled in this module.
_KERNELS = ("linear_forward_kernel", "linear_backward_input_kernel", "linear_backward_weight_kernel",
            "linear_relu_dropout_forward_kernel")
MODULE = SourceModule(
    "linear_relu.cu",
    [f"{kernel}<{ctype}>" for kernel in _KERNELS for ctype in ("__half", "float", "double")],
)


def _launch_config(rows: int, cols: int, *, min_col_tiles: int = 0) -> tuple[tuple[int], tuple[int]] | None:
    """``(grid, block)`` for a GEMM with a ``rows x cols`` output, or None when there is nothing to launch.

    ``min_col_tiles=1`` keeps one column of tiles when ``cols == 0`` (the dw kernel must still write db).
    Pure arithmetic, checked against the CUDA limits (ValueError when the tile count exceeds the grid).
    """
    tiles = cdiv(rows, TILE_M) * max(cdiv(cols, TILE_N), min_col_tiles)
    if tiles == 0:
        return None
    grid, block = (tiles,), (THREADS,)
    _runtime.check_launch(grid, block)
    return grid, block


def _check_forward(x: Any, w: Any, b: Any | None) -> tuple[Any, tuple[int, int, int]]:
    """``linear_forward``'s argument checks (every rung of the ladder runs them): ``(dtype, (M, N, K))``."""
    check_float_array("x", x, 2)
    check_float_array("w", w, 2)
    if b is not None:
        check_float_array("b", b, 1)
    dtype = check_same_dtype(x=x, w=w, b=b)
    return dtype, tuple(linear_forward_shapes(x.shape, w.shape, None if b is None else b.shape))


def _check_backward(dy: Any, x: Any, w: Any, y: Any | None, relu: bool) -> tuple[Any, tuple[int, int, int]]:
    """``linear_backward``'s argument checks (every rung of the ladder runs them): ``(dtype, (M, N, K))``."""
    check_float_array("dy", dy, 2)
    check_float_array("x", x, 2)
    check_float_array("w", w, 2)
    check_relu_output(y, relu)
    if relu:
        check_float_array("y", y, 2)
    dtype = check_same_dtype(dy=dy, x=x, w=w, y=y if relu else None)
    return dtype, tuple(linear_backward_shapes(dy.shape, x.shape, w.shape, y.shape if relu else None))


def _forward(module: SourceModule, kernel: str, x: Any, w: Any, b: Any | None, relu: bool, *,
             launch: Callable[[int, int], Any] = _launch_config) -> Any:
    """:func:`linear_forward` with ``module``'s ``kernel`` on the grid ``launch(M, N)`` gives (None: nothing to launch):
    production's kernel and rung 2's on :func:`_launch_config`, the ladder's rungs 0 and 1 on their own geometry."""
    dtype, (M, N, K) = _check_forward(x, w, b)
    y = _runtime.empty((M, N), dtype)
    config = launch(M, N)
    if config is not None:
        bias = b if b is not None else x  # never read without has_bias
        module.launch(
            f"{kernel}<{cuda_type(dtype)}>",
            *config,
            (x, w, bias, y, np.int64(M), np.int64(N), np.int64(K), np.int32(b is not None), np.int32(bool(relu))),
        )
    return y


def _backward(module: SourceModule, kernels: tuple[str, str], dy: Any, x: Any, w: Any, y: Any | None,
              relu: bool, scale: float | None = None) -> tuple[Any, Any, Any]:
    """:func:`linear_backward` with ``module``'s ``kernels`` = (backward_input, backward_weight).

    ``scale`` (production's kernels, which take it last, in acc_t<T>): every output is multiplied by it -- 1.0 for
    linear_backward, dropout's float32 1 / (1 - p) for ``linear_relu_dropout_backward``; None for kernels without the
    parameter (the ladder's rung 2)."""
    dtype, (M, N, K) = _check_backward(dy, x, w, y, relu)
    dx = _runtime.empty((M, K), dtype)
    dw = _runtime.empty((N, K), dtype)
    db = _runtime.empty((N,), dtype)
    ctype = cuda_type(dtype)
    gate = y if relu else dy  # never read without relu
    sizes = (np.int64(M), np.int64(N), np.int64(K), np.int32(bool(relu)))
    if scale is not None:
        sizes += (np.float64(scale) if dtype == np.float64 else np.float32(scale),)

    config = _launch_config(M, K)
    if config is not None:
        module.launch(f"{kernels[0]}<{ctype}>", *config, (dy, gate, w, dx, *sizes))
    config = _launch_config(N, K, min_col_tiles=1)
    if config is not None:
        module.launch(f"{kernels[1]}<{ctype}>", *config, (dy, gate, x, dw, db, *sizes))
    return dx, dw, db


def linear_forward(x: Any, w: Any, b: Any | None, relu: bool) -> Any:
    """``y[M, N] = x[M, K] @ w[N, K].T + b[N]``, then ReLU if ``relu``; y has x's dtype.

    Raises TypeError for non-array / non-float / mixed-dtype inputs and ValueError for wrong ndim,
    non-contiguous arrays, or mismatched K / N between x, w and b.
    """
    return _forward(MODULE, "linear_forward_kernel", x, w, b, relu)


def linear_backward(dy: Any, x: Any, w: Any, y: Any | None, relu: bool) -> tuple[Any, Any, Any]:
    """Gradients ``(dx[M, K], dw[N, K], db[N])`` of :func:`linear_forward` for upstream ``dy[M, N]``.

    ``y`` is the forward output (required when ``relu``; ``y <= 0`` zeroes dy inside both GEMMs).
    db is always returned.  Raises TypeError / ValueError like :func:`linear_forward`, and
    ValueError when dy or y is not [M, N] or y is missing with ``relu``.
    """
    return _backward(MODULE, ("linear_backward_input_kernel", "linear_backward_weight_kernel"), dy, x, w, y, relu,
                     scale=1.0)
