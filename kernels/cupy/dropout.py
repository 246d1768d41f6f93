"""Inverted dropout in CUDA C through CuPy: a counter-based RNG (no stored mask), bit-identical to ``kernels.numpy``.

Math (see ``kernels/numpy/dropout.py`` for the full RNG contract): for x with numel elements, flat
C-order index i, and ``scale = float32(1 / (1 - p))``::

    c_i  = offset + i                         (flat mapping, the default)
    c_i  = offset + (i // row_len) * row_stride + i % row_len          (row mapping)
    u_i  = uniform(word c_i & 3 of Philox4x32-10(seed, counter c_i >> 2))   (tl.randint4x(seed, c_i >> 2)[c_i & 3])
    keep = u_i > float32(p)
    y_i  = x_i * scale if keep else 0

The row mapping is for data-parallel training: rank r of W holds rows r, r+W, r+2W, ... of a global
batch whose mask is the flat mapping, and ``row_len=F, row_stride=W*F, offset=offset_g + r*F`` (F =
the product of the trailing dims) draws exactly that rank's rows of the global mask, no other
counters (numpy's header has the batch-in-dim-1 form).

The RNG is ``kernels/cupy/philox.cuh``: a small Philox4x32-10 written as ``__host__ __device__``
functions (no curand) that reproduces Triton's ``tl.randint4x`` and ``tl.rand`` bit for bit; a host program
includes the same header in the tests (``tests/kernels/cupy/cuda/philox_host_test.cpp``) and is compared with
the numpy reference for seeds and counters past 2**31 and 2**32.

The top rung of the dropout ladder (``kernels/cupy/ladder/dropout/``, map ``docs/ladder/dropout.md``).  Kernels
(``dropout.cu``), chosen by :func:`_kernel_name`:

* ``dropout4_kernel`` / ``dropout4_rows_kernel`` (the fast path, when :func:`aligned`: offset % 4 == 0 and,
  with the row mapping, row_len % 4 == 0 and row_stride % 4 == 0): one thread per group of four elements, one
  Philox call per group, word j to the group's element j.  The launch covers cdiv(numel, 4) groups.
* ``dropout_kernel`` / ``dropout_rows_kernel`` (the fallback for anything unaligned): one thread per element,
  a whole Philox call each, the same mask.  The ladder's rung 0 has its own copy of this idea.

All are grid-stride loops with 64-bit indices and counters.  ``row_stride == row_len`` is the flat mapping and
launches a flat kernel.  The product is formed in float32 for float16/float32 (the float32 scale itself) and in
float64 for float64 (the float32 scale widened exactly), then rounded once to x's dtype: numpy's formula, so y
equals the numpy reference bit for bit.  Backward is the same kernel on ``dy`` with the forward's (p, seed,
offset, row_len, row_stride), which regenerates the mask.

Launch configuration (:func:`_launch_config`): 1-D blocks of up to 256 threads (fewer, in whole warps,
for tiny tensors), ``cdiv(work, block)`` blocks capped at 65535 (work = groups or elements); past that the
threads loop.  p == 0 returns a copy without launching; an empty array launches nothing.

Arrays are ``cupy.ndarray`` on a GPU and ``numpy.ndarray`` under ``KERNELGRAD_CUDA_EMULATE=1``; any
shape, C-contiguous, float16/float32/float64.  Limits: 0 <= p < 1, seed an int in [0, 2**63), offset an
int >= 0 with offset + numel <= 2**63; row mapping: ints 1 <= row_len <= row_stride, numel a multiple of
row_len, largest counter < 2**63 (``kernels._args.check_dropout_args``).  p = 1 is refused before the
scale 1/(1-p) is formed (``F.dropout`` answers it without a kernel).

Device offsets (an int64 array as ``offset``, which the numpy and Triton backends take for CUDA-graph capture)
are refused with a TypeError: the training step is captured on the triton device only, so no caller passes one
here yet; the kernels would take a pointer argument as Triton's do.

Floating point: one multiply, compiled without flush-to-zero (``_runtime.NVRTC_FP_OPTIONS``), so
subnormal inputs and outputs and NaN / inf equal numpy bit for bit.

Verification: values only under the CPU emulator (subnormals, NaN and inf included); NVRTC compiles
every name expression declared here for sm_80/sm_90 in CI and nvcc the whole file for sm_75.
GPU speed and correctness are unverified (no GPU was available).
"""

from __future__ import annotations

import numbers

import numpy as np

from .._args import DropoutArgs, check_dropout_args
from . import _runtime
from . import linear_relu as _linear
from ._runtime import SourceModule, cdiv, check_float_array, cuda_type

__all__ = ["dropout_forward", "dropout_backward", "dropout_add_forward", "dropout_add_backward",
           "linear_relu_dropout_forward", "linear_relu_dropout_backward"]

BLOCK = 256  # threads per block
MAX_BLOCKS = 65535  # grid cap; threads then loop (grid-stride)

MODULE = SourceModule(
    "dropout.cu",
    [f"{kernel}<{t}>" for kernel in ("dropout4_kernel", "dropout4_rows_kernel", "dropout_kernel", "dropout_rows_kernel",
                                     "dropout_add4_kernel", "dropout_add4_rows_kernel", "dropout_add_kernel",
                                     "dropout_add_rows_kernel")
     for t in ("__half", "float", "double")],
)


def _launch_config(
    numel: int, block: int | None = None, max_blocks: int | None = None
) -> tuple[tuple[int], tuple[int]]:
    """``(grid, block)`` for a grid-stride loop over ``numel`` >= 1 elements (tiny arrays: one small block)."""
    block = BLOCK if block is None else block  # module constants read per call: tests may shrink them
    max_blocks = MAX_BLOCKS if max_blocks is None else max_blocks
    threads = min(block, 32 * cdiv(numel, 32))
    return (min(cdiv(numel, threads), max_blocks),), (threads,)


def _scalars(dtype: np.dtype, p: float) -> tuple[np.float32, np.floating]:
    """``(float32(p), scale)`` with scale = float32(1 / (1 - p)) (computed in float64, rounded once) in
    the kernel's compute type: float32, or float64 for float64 arrays (the float32 value widened exactly)."""
    scale32 = np.float32(1.0 / (1.0 - p))
    scale = np.float64(scale32) if dtype == np.float64 else scale32
    return np.float32(p), scale


def aligned(a: DropoutArgs) -> bool:
    """Whether every group of four elements draws one Philox call's four words in order (the fast kernels):
    offset % 4 == 0 and, with the row mapping, row_len % 4 == 0 and row_stride % 4 == 0."""
    if a.offset % 4:
        return False
    return a.row_len is None or (a.row_len % 4 == 0 and a.row_stride % 4 == 0)


def _kernel_name(a: DropoutArgs) -> str:
    """The kernel for these checked arguments: ``dropout4[_rows]_kernel`` when aligned, else the per-element one."""
    return ("dropout4" if aligned(a) else "dropout") + ("_kernel" if a.row_len is None else "_rows_kernel")


def _apply(name: str, x, p, seed, offset, row_len, row_stride):
    check_float_array(name, x)
    if hasattr(offset, "shape") and not isinstance(offset, numbers.Integral):  # an array, not a numpy integer:
        # numpy/triton take a device offset (an int64 array); these kernels do not yet
        raise TypeError("offset must be an int on the cupy backend: a device offset (an int64 array, for steps "
                        "captured as CUDA graphs) is implemented for the numpy and triton backends only")
    numel = x.size
    a = check_dropout_args(p, seed, offset, numel, row_len, row_stride)
    if a.p == 0.0:
        return x.copy()
    y = _runtime.empty(x.shape, x.dtype)
    if numel == 0:
        return y
    p32, scale = _scalars(x.dtype, a.p)
    kernel = _kernel_name(a)
    grid, block = _launch_config(cdiv(numel, 4) if kernel.startswith("dropout4") else numel)
    args = [x, y, np.int64(numel), p32, scale, np.uint64(a.seed), np.uint64(a.offset)]
    if a.row_len is not None:
        args += [np.int64(a.row_len), np.int64(a.row_stride)]
    MODULE.launch(f"{kernel}<{cuda_type(x.dtype)}>", grid, block, args)
    return y


def dropout_forward(x, p: float, seed: int, offset: int, row_len: int | None = None, row_stride: int | None = None):
    """Inverted dropout of ``x`` (any shape): keep element i iff word c_i & 3 of Philox(seed, c_i >> 2), as a
    uniform, is > p.

    c_i = offset + i, or with ``row_len`` and ``row_stride`` (given together) offset + (i // row_len) *
    row_stride + i % row_len: a data-parallel rank's rows of the global batch's mask (module docstring).
    Returns y, same shape and dtype as x.  Raises TypeError for a non-array (cupy, or numpy under
    emulation) / non-float x or non-int seed/offset/row_len/row_stride, ValueError for p outside [0, 1),
    seed outside [0, 2**63), a negative offset, a counter past 2**63, a bad row mapping (one without the
    other, row_len < 1, row_stride < row_len, numel not a multiple of row_len), or a non-contiguous x.
    """
    return _apply("x", x, p, seed, offset, row_len, row_stride)


def dropout_backward(dy, p: float, seed: int, offset: int, row_len: int | None = None, row_stride: int | None = None):
    """Gradient of :func:`dropout_forward`: the same regenerated mask and scale applied to ``dy``.

    Must be called with the forward's (p, seed, offset, row_len, row_stride).  Raises like
    :func:`dropout_forward`.
    """
    return _apply("dy", dy, p, seed, offset, row_len, row_stride)


# ------------------------------------------------------------------------ dropout fused with a residual add
#
# out = residual + dropout(x) in one pass (``dropout.cu``'s dropout_add* kernels, the ladder's rung 2): the mask and
# the rounded product are dropout_forward's, the sum is rounded once to x's dtype -- numpy's ``residual +
# dropout_forward(x)`` bit for bit.  The backward is dropout_backward (d(residual) = dy).  The kernels are MODULE's
# (one compile of dropout.cu).


def _check_residual(x, residual) -> None:
    """The residual must be an array of x's shape and dtype, contiguous (TypeError / ValueError naming it)."""
    check_float_array("residual", residual)
    if residual.dtype != x.dtype:
        raise TypeError(f"residual has dtype {residual.dtype}, expected x's dtype {x.dtype}")
    if tuple(residual.shape) != tuple(x.shape):
        raise ValueError(f"residual has shape {tuple(residual.shape)}, expected x's shape {tuple(x.shape)}")


def dropout_add_forward(x, residual, p: float, seed: int, offset: int, row_len: int | None = None,
                        row_stride: int | None = None):
    """``residual + dropout_forward(x, p, seed, offset, row_len, row_stride)`` in one pass, the sum rounded once to
    x's dtype (``kernels/numpy/dropout.py``).  ``offset`` is an int.  Raises as :func:`dropout_forward` for x and the
    stream arguments, TypeError for a residual that is not a float array of x's dtype, ValueError for one of another
    shape or non-contiguous."""
    check_float_array("x", x)
    _check_residual(x, residual)
    numel = x.size
    a = check_dropout_args(p, seed, offset, numel, row_len, row_stride)
    if a.p == 0.0:
        return residual + x  # dropout with p = 0 is x itself; one correctly rounded add
    y = _runtime.empty(x.shape, x.dtype)
    if numel == 0:
        return y
    p32, scale = _scalars(x.dtype, a.p)
    kernel = _kernel_name(a).replace("dropout", "dropout_add", 1)
    grid, block = _launch_config(cdiv(numel, 4) if kernel.startswith("dropout_add4") else numel)
    args = [x, residual, y, np.int64(numel), p32, scale, np.uint64(a.seed), np.uint64(a.offset)]
    if a.row_len is not None:
        args += [np.int64(a.row_len), np.int64(a.row_stride)]
    MODULE.launch(f"{kernel}<{cuda_type(x.dtype)}>", grid, block, args)
    return y


def dropout_add_backward(dy, p: float, seed: int, offset: int, row_len: int | None = None,
                         row_stride: int | None = None):
    """Gradient of :func:`dropout_add_forward` w.r.t. x: ``dropout_backward(dy, ...)`` with the forward's arguments
    (the residual's gradient is dy itself).  Raises like :func:`dropout_backward`."""
    return dropout_backward(dy, p, seed, offset, row_len, row_stride)


# ------------------------------------------------------------------ bias + ReLU + dropout in the linear epilogue
#
# y = dropout(relu(x @ w.T + b)) in the linear GEMM's epilogue (the ladder's rung 3,
# ``ladder/dropout/rung3_linear_epilogue.py``): ``linear_relu_dropout_forward_kernel<T>`` in ``linear_relu.cu`` is
# production's cp.async GEMM with ``store_tile_dropout`` as its epilogue -- output element (i, j) draws dropout's
# counter offset + i * N + j (one kg::philox_words call per four columns when offset % 4 == 0 and N % 4 == 0, per
# element otherwise), the unrounded accumulator times the scale rounded once to T.  The mask is
# ``dropout_forward(relu(linear), p, seed, offset)``'s bit for bit.  The backward has no RNG: g = where(y <= 0, 0,
# dy * scale) is linear_backward's gated GEMMs with every output multiplied by scale in their epilogue.


def linear_relu_dropout_forward(x, w, b, p: float, seed: int, offset: int):
    """``dropout_forward(relu(x @ w.T + b), p, seed, offset)`` in the GEMM's epilogue: y[M, N], x's dtype; element
    (i, j) kept iff dropout's uniform for counter offset + i * N + j is > p (``kernels/numpy/dropout.py``).

    Raises as ``linear_forward`` for x, w, b (checked first), then as :func:`dropout_forward` for p, seed and offset
    (an int; offset + M * N <= 2**63).
    """
    dtype, (M, N, K) = _linear._check_forward(x, w, b)
    a = check_dropout_args(p, seed, offset, M * N)
    if a.p == 0.0:
        return _linear.linear_forward(x, w, b, True)
    if K == 0 or M * N == 0:  # no GEMM: relu(b) (or an empty y), then dropout's own pass
        return dropout_forward(_linear.linear_forward(x, w, b, True), a.p, a.seed, a.offset)
    y = _runtime.empty((M, N), dtype)
    p32, scale = _scalars(dtype, a.p)
    bias = b if b is not None else x  # never read without has_bias
    _linear.MODULE.launch(
        f"linear_relu_dropout_forward_kernel<{cuda_type(dtype)}>", *_linear._launch_config(M, N),
        (x, w, bias, y, np.int64(M), np.int64(N), np.int64(K), np.int32(b is not None), p32, scale,
         np.uint64(a.seed), np.uint64(a.offset)),
    )
    return y


def linear_relu_dropout_backward(dy, x, w, y, p: float):
    """Gradients ``(dx[M, K], dw[N, K], db[N])`` of :func:`linear_relu_dropout_forward` from its output ``y``:
    g = where(y <= 0, 0, dy * float32(1 / (1 - p))), dx = g @ w, dw = g.T @ x, db = g.sum(0) (db always returned).

    Raises as ``linear_backward`` with ``relu=True``, then as :func:`dropout_forward` for p.
    """
    _linear._check_backward(dy, x, w, y, True)
    a = check_dropout_args(p, 0, 0, 0)
    return _linear._backward(_linear.MODULE, ("linear_backward_input_kernel", "linear_backward_weight_kernel"), dy, x,
                             w, y, True, scale=float(np.float32(1.0 / (1.0 - a.p))))
