"""Rung 0 -- one Philox call per element in CUDA C: each thread calls Philox on its own group c_i >> 2 and keeps
word c_i & 3. The same mask as every rung, four times the RNG work of rung 1.

Math and contract: every rung's (``kernels/cupy/dropout.py``; the RNG contract in ``kernels/numpy/dropout.py``)::

    c_i  = offset + i   or   offset + (i // row_len) * row_stride + i % row_len      (row mapping)
    u_i  = uniform(word (c_i mod 4) of Philox4x32-10(key = seed, counter = c_i >> 2))
    y_i  = x_i * float32(1 / (1 - p)) if u_i > float32(p) else 0

Kernels (``rung0_per_element.cu``, this rung's own): ``dropout_per_element_kernel<T>`` (flat) and
``dropout_per_element_rows_kernel<T>`` (row mapping, a 64-bit division per element): production's kernels
before the contract changed (then ``kg::philox_rand``, word 0 of the call on c_i), adapted to it. One thread per
element in a grid-stride loop, 256-thread blocks (production's ``_launch_config``); any offset, row_len and
row_stride. Production keeps kernels like these (``dropout_kernel``, ``dropout_rows_kernel`` in ``dropout.cu``)
as its fallback for unaligned counters; they are separate copies because production never includes a rung.

Bytes moved, the running example (2^24 float32 elements, the kernel benchmark's size, on an H200, ~4.8 TB/s HBM,
~4 TB/s for a plain copy): x read and y written once, 134 MB, a ~34 us floor (67 MB, ~17 us, for __half).

Integer work (counted from the algorithm, not from SASS): ~40-50 instructions per Philox call plus ~10 for the
index, the word select and the conversion: ~55 per element, ~7 per byte for float32 and ~14 for __half, against
the H200's ~7 lane-instructions per byte of DRAM bandwidth: float32 at the balance point, __half compute-bound.

Prediction, written before any measurement (the running example, H200): float32 38-55 us, __half 28-40 us, the
row kernel 1.3-2x slower than flat; rung 1 (production) 1.0-1.4x faster for float32 and 1.4-2x for __half.
Unverified: no GPU has run it.

Verified where: values on the CPU emulator (``KERNELGRAD_CUDA_EMULATE=1``) by the shared dropout tests
(tests/kernels/test_dropout.py, test_dropout_rows.py), bit for bit against numpy; compiled by NVRTC for sm_80 /
sm_90 (``python -m benchmarks.aot_cuda --family ladder.dropout.rung0_per_element``: registers, spills, no .ftz).
"""

from __future__ import annotations

import numpy as np

from ...._args import check_dropout_args
from ... import _runtime
from ..._runtime import SourceModule, check_float_array, cuda_type
from ...dropout import _launch_config, _scalars

__all__ = ["dropout_forward", "dropout_backward"]

MODULE = SourceModule(
    "ladder/dropout/rung0_per_element.cu",
    [f"{kernel}<{t}>" for kernel in ("dropout_per_element_kernel", "dropout_per_element_rows_kernel")
     for t in ("__half", "float", "double")],
)


def _apply(name: str, x, p, seed, offset, row_len, row_stride):
    check_float_array(name, x)
    numel = x.size
    a = check_dropout_args(p, seed, offset, numel, row_len, row_stride)
    if a.p == 0.0:
        return x.copy()
    y = _runtime.empty(x.shape, x.dtype)
    if numel == 0:
        return y
    p32, scale = _scalars(x.dtype, a.p)
    grid, block = _launch_config(numel)
    args = [x, y, np.int64(numel), p32, scale, np.uint64(a.seed), np.uint64(a.offset)]
    kernel = "dropout_per_element_kernel"
    if a.row_len is not None:
        kernel = "dropout_per_element_rows_kernel"
        args += [np.int64(a.row_len), np.int64(a.row_stride)]
    MODULE.launch(f"{kernel}<{cuda_type(x.dtype)}>", grid, block, args)
    return y


def dropout_forward(x, p: float, seed: int, offset: int, row_len: int | None = None, row_stride: int | None = None):
    """Inverted dropout of ``x`` with one Philox call per element; production's mask, arguments and errors."""
    return _apply("x", x, p, seed, offset, row_len, row_stride)


def dropout_backward(dy, p: float, seed: int, offset: int, row_len: int | None = None, row_stride: int | None = None):
    """Gradient of :func:`dropout_forward`: the same regenerated mask and scale applied to ``dy``."""
    return _apply("dy", dy, p, seed, offset, row_len, row_stride)
