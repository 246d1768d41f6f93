"""Rung 0 -- naive max pooling in CUDA C: PyTorch's int64 winner index converted by a second kernel, and a backward
by scatter (atomicAdd into a zeroed accumulator).

The bottom of the CUDA C max-pool ladder. Same math and contract as ``kernels/cupy/maxpool2d.py``::

    x[N, C, H, W]  ->  y[N, C, P, Q],  P = (H + 2*ph - R) // sh + 1,  Q = (W + 2*pw - S) // sw + 1
    y[n, c, p, q] = max_{r < R, s < S} xpad[n, c, p*sh + r, q*sw + s]       (xpad padded with -inf)
    argmax[n, c, p, q] = r*S + s of the winner, in argmax_dtype(R*S) (int8 for windows up to 127 positions)

Kernels (``rung0_naive.cu``), one thread per element, 256-thread blocks, a grid-stride loop (production's launch
arithmetic, ``_launch_config``):

* ``maxpool2d_naive_forward_kernel<T>``: thread (n, c, p, q) walks all R*S window positions, skipping (``continue``)
  the ones in the padding, and records the winner as PyTorch's ``indices`` do: the flat position h*W + w in its
  plane, a ``long long`` (first maximum wins, a NaN is the maximum and the last NaN wins: production's rules).
* ``maxpool2d_naive_forward_index_kernel<I>``: re-reads the int64 index, divides by W and subtracts the window
  origin: the compact r*S + s the contract stores, in I = signed char / short / int.
* ``maxpool2d_scatter_backward_kernel<T, I>``: the accumulator is zeroed (``_runtime.zeros``: |dx| written), then
  thread (n, c, p, q) decodes its winner (a / S, a % S) and ``atomicAdd``s dy there; float for __half (then
  ``maxpool2d_scatter_backward_cast_kernel<__half>`` rounds to dx), T itself for float and double. An argmax outside
  [0, R*S), or one naming padding, adds nothing (production's unchecked contract: never an address).

Determinism: a dx element that receives one or two adds is exact and reproducible (0 + a; a + b = b + a); one that
wins three or more windows (3x3 stride 1: up to 9) is summed in the order the atomics land, which varies from run
to run on a GPU and under the emulator's threads, so its last bits may differ. The shared tests hold: their
random-dy checks allow float rounding and their exact checks add ones (small integer sums, exact in any order).
Production's gather (rung 2) is bit for bit reproducible and equal to numpy's float16 sums; this rung's float16 dx
is the float32 sum rounded once, so it can differ from numpy's in the last bit where windows overlap.

Bytes moved, the running example: ResNet-50's stem pool, 3x3 stride 2 padding 1 on x[32, 64, 112, 112] ->
y[32, 64, 56, 56], float32, H200 (~4.8 TB/s HBM, ~4 TB/s for a plain copy). Compulsory traffic is 134.9 MB per pass
(forward |x| + |y| + |argmax| = 102.8 + 25.7 + 6.4 MB; backward |dy| + |argmax| + |dx|): a ~33 us floor each.
This rung: forward x once from DRAM (the overlap's re-reads hit L1/L2) + y + the int64 index written (51.4 MB) and
read back (51.4 MB) + argmax: 238 MB (1.76x), two launches. Backward: zero-fill 102.8 MB + dy and argmax 32.1 MB +
25.7M scattered 4-byte atomics, each a read-modify-write of a 32-byte L2 sector, with dx (102.8 MB, larger than the
50 MB L2) coming back from DRAM for them and written again: ~340 MB (2.5x).

Prediction, written before any measurement (the running example, float32, H200): forward 60-90 us (35-55% of copy
bandwidth on the compulsory bytes: 1.76x the bytes, the conversion kernel ~15-20 us of it; the window loop's loads
are independent of the running best, so nvcc can keep several in flight), backward 90-150 us (2.5x the bytes plus
the atomics' L2 throughput); float16 ~0.6-0.7x the float32 times (the int64 index and the float32 accumulator do
not shrink). Unverified: no GPU has run this rung.

Verified where: values on the CPU emulator (``KERNELGRAD_CUDA_EMULATE=1``) by the shared max-pool tests
(tests/kernels/test_maxpool2d.py, a subset of cases for the rungs below production); compiled by NVRTC for sm_80 /
sm_90 (``python -m benchmarks.aot_cuda``: registers, spills, no .ftz). No GPU has run it.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ...._args import PoolGeometry, maxpool2d_backward_geometry, maxpool2d_forward_geometry, value_checks_enabled
from ... import _runtime
from ..._runtime import SourceModule, check_array, check_float_array, cuda_type
from ...maxpool2d import (
    INDEX_TYPES,
    _check_argmax_range,
    _check_pool_ints,
    _geometry_args,
    _launch_config,
    argmax_dtype,
)

__all__ = ["maxpool2d_forward", "maxpool2d_backward"]

_TYPES = ("__half", "float", "double")
MODULE = SourceModule(
    "ladder/maxpool2d/rung0_naive.cu",
    [f"maxpool2d_naive_forward_kernel<{t}>" for t in _TYPES]
    + [f"maxpool2d_naive_forward_index_kernel<{i}>" for i in INDEX_TYPES.values()]
    + [f"maxpool2d_scatter_backward_kernel<{t}, {i}>" for t in _TYPES for i in INDEX_TYPES.values()]
    + ["maxpool2d_scatter_backward_cast_kernel<__half>"],
)


def maxpool2d_forward(x, kernel, stride, padding):
    """Max-pool ``x[N, C, H, W]`` with windows ``kernel`` = (R, S): ``(y, argmax)`` as production's.

    Raises TypeError / ValueError exactly as ``kernels.cupy.maxpool2d.maxpool2d_forward``.
    """
    check_float_array("x", x, 4)
    g = maxpool2d_forward_geometry(x.shape, kernel, stride, padding)
    _check_pool_ints("maxpool2d_forward", g)
    idx_dtype = argmax_dtype(g.R * g.S)
    y = _runtime.empty((g.N, g.C, g.P, g.Q), x.dtype)
    argmax = _runtime.empty((g.N, g.C, g.P, g.Q), idx_dtype)
    total = g.N * g.C * g.P * g.Q
    if total == 0:
        return y, argmax
    index = _runtime.empty((g.N, g.C, g.P, g.Q), np.int64)
    grid, block = _launch_config(total)
    MODULE.launch(f"maxpool2d_naive_forward_kernel<{cuda_type(x.dtype)}>", grid, block,
                  [x, y, index, np.int64(total), *_geometry_args(g)])
    H, W, P, Q, R, S, sh, sw, ph, pw = _geometry_args(g)
    MODULE.launch(f"maxpool2d_naive_forward_index_kernel<{INDEX_TYPES[idx_dtype]}>", grid, block,
                  [index, argmax, np.int64(total), W, P, Q, S, sh, sw, ph, pw])
    return y, argmax


def check_backward_args(dy: Any, argmax: Any, input_shape, kernel, stride, padding) -> tuple[PoolGeometry, Any]:
    """Production's argument checks for ``maxpool2d_backward`` (the same errors, the same host-read policy) and its
    conversion of argmax to ``argmax_dtype(R*S)``: the geometry and the argmax to launch with."""
    check_float_array("dy", dy, 4)
    check_array("argmax", argmax)
    if not np.issubdtype(argmax.dtype, np.integer):
        raise TypeError(f"argmax must have an integer dtype, got {argmax.dtype}")
    g = maxpool2d_backward_geometry(dy.shape, argmax.shape, input_shape, kernel, stride, padding)
    _check_pool_ints("maxpool2d_backward", g)
    RS = g.R * g.S
    idx_dtype = argmax_dtype(RS)
    if value_checks_enabled(on_host=_runtime.emulating()):
        _check_argmax_range(argmax, RS, (g.R, g.S))
        if argmax.dtype != idx_dtype:
            argmax = argmax.astype(idx_dtype)
    elif argmax.dtype != idx_dtype:
        bad = (argmax < 0) | (argmax >= RS)
        argmax = _runtime.xp().where(bad, -1, argmax.astype(idx_dtype))
    return g, argmax


def maxpool2d_backward(dy, argmax, input_shape, kernel, stride, padding):
    """Route ``dy[N, C, P, Q]`` to the window winners recorded in ``argmax``: ``dx[N, C, H, W]`` by scatter (atomicAdd
    into zeros). Raises TypeError / ValueError exactly as ``kernels.cupy.maxpool2d.maxpool2d_backward``."""
    g, argmax = check_backward_args(dy, argmax, input_shape, kernel, stride, padding)
    half = dy.dtype == np.float16
    acc = _runtime.zeros((g.N, g.C, g.H, g.W), np.float32 if half else dy.dtype)
    total = g.N * g.C * g.P * g.Q
    if total:
        grid, block = _launch_config(total)
        MODULE.launch(f"maxpool2d_scatter_backward_kernel<{cuda_type(dy.dtype)}, {INDEX_TYPES[argmax.dtype]}>",
                      grid, block, [dy, argmax, acc, np.int64(total), *_geometry_args(g)])
    if not half:
        return acc
    dx = _runtime.empty((g.N, g.C, g.H, g.W), dy.dtype)
    grid, block = _launch_config(dx.size)
    MODULE.launch("maxpool2d_scatter_backward_cast_kernel<__half>", grid, block, [acc, dx, np.int64(dx.size)])
    return dx
