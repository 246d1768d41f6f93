"""2-D max pooling (like ``torch.nn.functional.max_pool2d``) in CUDA C through CuPy: forward and a gather backward.

Math (NCHW, no dilation, floor mode), names as in ``kernels/numpy/maxpool2d.py``::

    x[N, C, H, W]  ->  y[N, C, P, Q],  P = (H + 2*ph - R) // sh + 1,  Q = (W + 2*pw - S) // sw + 1
    y[n, c, p, q] = max_{r < R, s < S} xpad[n, c, p*sh + r, q*sw + s]       (xpad padded with -inf)

``argmax[n, c, p, q] = r*S + s`` is the compact window position of the winner, in
:func:`argmax_dtype` ``(R*S)`` (int8 / int16 / int32, the numpy backend's rule).  Ties go to the first
maximum, padding never wins, a NaN window gives y = NaN and argmax = its last NaN (PyTorch's and numpy's).

Kernels (``maxpool2d.cu``, templated on the storage type and the argmax index type):

* forward: one thread per output element, walking the real part of its window in row-major order;
* the forward with the ReLU fused in front (``relu_maxpool2d_forward``): the same walk on v < 0 ? 0 : v (torch's
  ReLU, NaN and -0.0 pass): PyTorch's ``max_pool2d(relu(x))`` bit for bit, argmax -1 where y == 0, the windows
  whose gradient the ReLU zeroes (``kernels/numpy/maxpool2d.py`` has the argument); ``relu_maxpool2d_backward`` is
  the backward kernel below, for which -1 matches no window position;
* 2x2 windows, stride 2, no padding, W a multiple of V = 16 / itemsize (4 float32, 8 float16, 2 float64) and x
  16-byte aligned (:func:`vector_width`): ``maxpool2x2_vector_kernel`` (and its ReLU twin), one thread per V/2
  neighbouring outputs reading each of their two input rows as one 16-byte load (the ladder's rung 3);
* backward: a deterministic gather, one thread per input element, summing dy over the (at most
  ceil(R/sh) * ceil(S/sw)) windows whose argmax names it, in numpy's order and rounding, so dx equals
  the numpy reference bit for bit (float16 included).  No atomics, no zero-fill.

Launch configuration (:func:`_launch_config`): 1-D blocks of up to 256 threads (fewer, in whole warps,
for tiny tensors), a 1-D grid of ``cdiv(total, block)`` blocks capped at 65535; the kernels loop
grid-stride with ``long long`` indices, so N*C*P*Q or N*C*H*W past 2**31 still launch.

Backward validates ``argmax`` like numpy (values in [0, R*S), or [-1, R*S) fused; ValueError otherwise) only where that
costs no host sync: under the emulator, or on a GPU in debug mode ``KERNELGRAD_SYNC_CHECKS=1``
(:func:`kernels._args.value_checks_enabled`; the check is one reduction over the array viewed as
unsigned, so negative values become huge and a single ``max`` catches both ends).  Unchecked, an
argmax value outside [0, R*S) routes no gradient (its dy is dropped; the kernel only compares argmax,
never uses it as an address), the same contract as the Triton kernel.  An argmax of another integer
dtype is converted to ``argmax_dtype(R*S)``; unchecked, out-of-range values become -1 first, so
narrowing cannot wrap them into range.

Arrays are ``cupy.ndarray`` on a GPU and ``numpy.ndarray`` under ``KERNELGRAD_CUDA_EMULATE=1``;
C-contiguous, float16/float32/float64.  Limits (PyTorch's rules, as numpy): stride >= 1,
0 <= padding <= kernel // 2, kernel fits the padded input; and for the kernels' int coordinates
H + 2*ph, W + 2*pw and R*S below 2**31 (ValueError).

Verification: values only under the CPU emulator (both value-check modes; bit for bit against numpy,
subnormals and NaN windows included; the 16-byte-load kernels through their 2x2 stride-2 cases); NVRTC
compiles every name expression declared here for sm_80/sm_90 in CI and nvcc the whole file for sm_75.
GPU speed and correctness are unverified (no GPU was available).
"""

from __future__ import annotations

import numpy as np

from .._args import PoolGeometry, maxpool2d_backward_geometry, maxpool2d_forward_geometry, value_checks_enabled
from ..numpy.maxpool2d import argmax_dtype
from . import _runtime
from ._runtime import SourceModule, cdiv, check_array, check_float_array, cuda_type

__all__ = ["maxpool2d_forward", "maxpool2d_backward", "argmax_dtype", "relu_maxpool2d_forward",
           "relu_maxpool2d_backward"]

#: C type of each argmax dtype (the kernels' second template argument).
INDEX_TYPES = {np.dtype(np.int8): "signed char", np.dtype(np.int16): "short", np.dtype(np.int32): "int"}

BLOCK = 256  # threads per block: 8 warps, enough to hide load latency in a memory-bound kernel
MAX_BLOCKS = 65535  # grid cap; threads then loop (grid-stride), which also amortises the index math

_TYPES = [(t, i) for t in ("__half", "float", "double") for i in INDEX_TYPES.values()]
MODULE = SourceModule(
    "maxpool2d.cu",
    [f"maxpool2d_forward_kernel<{t}, {i}>" for t, i in _TYPES]
    + [f"relu_maxpool2d_forward_kernel<{t}, {i}>" for t, i in _TYPES]
    + [f"{k}<{t}, signed char>" for k in ("maxpool2x2_vector_kernel", "relu_maxpool2x2_vector_kernel")
       for t in ("__half", "float", "double")]
    + [f"maxpool2d_backward_kernel<{t}, {i}>" for t, i in _TYPES],
)


def _launch_config(
    total: int, block: int | None = None, max_blocks: int | None = None
) -> tuple[tuple[int], tuple[int]]:
    """``(grid, block)`` for a grid-stride loop over ``total`` >= 1 elements.

    Tiny tensors get one block of just enough whole warps (no idle warps; under the emulator every
    thread is an OS thread).
    """
    block = BLOCK if block is None else block  # module constants read per call: tests may shrink them
    max_blocks = MAX_BLOCKS if max_blocks is None else max_blocks
    threads = min(block, 32 * cdiv(total, 32))
    return (min(cdiv(total, threads), max_blocks),), (threads,)


def _geometry_args(g: PoolGeometry) -> list[np.int32]:
    """The kernels' int parameters after ``total``: H, W, P, Q, R, S, sh, sw, ph, pw."""
    values = (g.H, g.W, g.P, g.Q, g.R, g.S, g.sh, g.sw, g.ph, g.pw)
    if max(values) >= 2**31:  # sizes are bounded by _check_pool_ints; a stride may still be huge
        raise ValueError(f"geometry {values} does not fit the CUDA kernels' 32-bit int parameters")
    return [np.int32(v) for v in values]


def _check_pool_ints(name: str, g: PoolGeometry) -> None:
    """maxpool2d.cu keeps coordinates inside one padded plane and window positions in int (see its header)."""
    for what, size in {"H + 2*ph": g.H + 2 * g.ph, "W + 2*pw": g.W + 2 * g.pw, "R*S": g.R * g.S}.items():
        if size >= 2**31:
            raise ValueError(f"{name}: {what} = {size} is too large for the CUDA kernels (< 2**31)")


def maxpool2d_forward(x, kernel, stride, padding):
    """Max-pool ``x[N, C, H, W]`` with windows ``kernel`` = (R, S).

    Returns ``(y[N, C, P, Q], argmax[N, C, P, Q])`` where argmax holds ``r*S + s`` in
    :func:`argmax_dtype` ``(R*S)``.  Raises TypeError for a non-array (cupy, or numpy under emulation)
    or non-float x and ValueError for wrong ndim, a non-contiguous x, bad kernel/stride/padding,
    padding > kernel//2, or a kernel larger than the padded input.
    """
    return forward(x, kernel, stride, padding, relu=False)


def relu_maxpool2d_forward(x, kernel, stride, padding):
    """Max-pool ``relu(x)`` with the ReLU fused in: PyTorch's ``max_pool2d(relu(x))`` bit for bit, argmax -1 where
    y == 0 (``kernels/numpy/maxpool2d.py``).  Raises exactly as :func:`maxpool2d_forward`."""
    return forward(x, kernel, stride, padding, relu=True)


def _address(a) -> int:
    """The device (cupy) or host (numpy, under emulation) address of an array's first element."""
    return a.data.ptr if hasattr(a.data, "ptr") else a.ctypes.data


def vector_width(x, g: PoolGeometry) -> int:
    """V, the elements in 16 bytes, when the forward runs the 16-byte-load kernel (2x2 windows, stride 2, no padding,
    W % V == 0, x 16-byte aligned); 0 for the general kernel."""
    V = 16 // x.dtype.itemsize
    if (g.R, g.S, g.sh, g.sw, g.ph, g.pw) == (2, 2, 2, 2, 0, 0) and g.W % V == 0 and _address(x) % 16 == 0:
        return V
    return 0


def forward(x, kernel, stride, padding, relu: bool, vector: bool = True):
    """The forward launcher: checks, then the 16-byte-load kernel where :func:`vector_width` allows it (unless
    ``vector`` is False: the ladder's rungs 1 and 2) and the general kernel elsewhere; ``relu`` fuses the ReLU in."""
    check_float_array("x", x, 4)
    g = maxpool2d_forward_geometry(x.shape, kernel, stride, padding)
    _check_pool_ints("maxpool2d_forward", g)
    idx_dtype = argmax_dtype(g.R * g.S)
    y = _runtime.empty((g.N, g.C, g.P, g.Q), x.dtype)
    argmax = _runtime.empty((g.N, g.C, g.P, g.Q), idx_dtype)
    total = g.N * g.C * g.P * g.Q
    if total == 0:
        return y, argmax
    prefix = "relu_" if relu else ""
    V = vector_width(x, g) if vector else 0
    if V:
        groups = total // (V // 2)
        grid, block = _launch_config(groups)
        MODULE.launch(f"{prefix}maxpool2x2_vector_kernel<{cuda_type(x.dtype)}, signed char>", grid, block,
                      [x, y, argmax, np.int64(groups), *_geometry_args(g)[:4]])
        return y, argmax
    grid, block = _launch_config(total)
    MODULE.launch(
        f"{prefix}maxpool2d_forward_kernel<{cuda_type(x.dtype)}, {INDEX_TYPES[idx_dtype]}>",
        grid,
        block,
        [x, y, argmax, np.int64(total), *_geometry_args(g)],
    )
    return y, argmax


def _check_argmax_range(argmax, RS: int, kernel: tuple[int, int], lo: int = 0) -> None:
    """ValueError unless every value is in [lo, RS) (lo = 0, or -1 for the fused backward); one host sync."""
    if argmax.size == 0:
        return
    if lo == 0:  # one reduction: viewed as unsigned, negatives become >= 2**(bits-1), so one max catches both ends
        bad = int(argmax.view(np.dtype(argmax.dtype.str.replace("i", "u"))).max()) >= RS
    else:
        bad = int(argmax.min()) < lo or int(argmax.max()) >= RS
    if bad:
        lo_v, hi_v = int(argmax.min()), int(argmax.max())
        raise ValueError(f"argmax holds values in [{lo_v}, {hi_v}], outside [{lo}, R*S={RS}) for kernel {kernel}")


def maxpool2d_backward(dy, argmax, input_shape, kernel, stride, padding):
    """Route ``dy[N, C, P, Q]`` to the window winners recorded in ``argmax``; returns ``dx[N, C, H, W]``.

    ``input_shape`` is the forward x's shape.  Overlapping windows accumulate (a gather: deterministic,
    no atomics).  Raises TypeError for a non-array / non-float dy or a non-array / non-integer argmax,
    ValueError for non-contiguous arrays, shape mismatches between dy, argmax and the output shape
    implied by input_shape/kernel/stride/padding, bad geometry, and argmax values outside [0, R*S).
    """
    return _backward(dy, argmax, input_shape, kernel, stride, padding, lo=0)


def relu_maxpool2d_backward(dy, argmax, input_shape, kernel, stride, padding):
    """Gradient of :func:`relu_maxpool2d_forward` w.r.t. x (through the ReLU): the same gather, argmax == -1 routing
    nothing.  Raises as :func:`maxpool2d_backward`, with argmax's checked range [-1, R*S)."""
    return _backward(dy, argmax, input_shape, kernel, stride, padding, lo=-1)


def _backward(dy, argmax, input_shape, kernel, stride, padding, lo: int):
    check_float_array("dy", dy, 4)
    check_array("argmax", argmax)
    if not np.issubdtype(argmax.dtype, np.integer):
        raise TypeError(f"argmax must have an integer dtype, got {argmax.dtype}")
    g = maxpool2d_backward_geometry(dy.shape, argmax.shape, input_shape, kernel, stride, padding)
    _check_pool_ints("maxpool2d_backward", g)
    RS = g.R * g.S
    idx_dtype = argmax_dtype(RS)
    if value_checks_enabled(on_host=_runtime.emulating()):
        _check_argmax_range(argmax, RS, (g.R, g.S), lo)
        if argmax.dtype != idx_dtype:
            argmax = argmax.astype(idx_dtype)  # exact: the range check above proved every value fits
    elif argmax.dtype != idx_dtype:
        # unchecked (a GPU): narrowing must not wrap a bad value into [0, R*S); -1 never matches a window
        # position, so such an entry routes no gradient, as it would have in its own dtype
        bad = (argmax < 0) | (argmax >= RS)
        argmax = _runtime.xp().where(bad, -1, argmax.astype(idx_dtype))  # -1: a weak scalar, stays idx_dtype

    dx = _runtime.empty((g.N, g.C, g.H, g.W), dy.dtype)
    total = g.N * g.C * g.H * g.W
    grid, block = _launch_config(total)
    MODULE.launch(
        f"maxpool2d_backward_kernel<{cuda_type(dy.dtype)}, {INDEX_TYPES[idx_dtype]}>",
        grid,
        block,
        [dy, argmax, dx, np.int64(total), *_geometry_args(g)],
    )
    return dx
