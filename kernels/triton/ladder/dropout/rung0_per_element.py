"""Rung 0 -- one Philox call per element: each lane calls ``tl.randint4x`` on its own group c_i >> 2 and keeps word
c_i & 3. The same mask as every rung, four times the RNG work of rung 1.

Math and contract: every rung's (``kernels/triton/dropout.py``; the RNG contract in ``kernels/numpy/dropout.py``)::

    c_i  = offset + i   or   offset + (i // row_len) * row_stride + i % row_len      (row mapping)
    u_i  = uniform(word (c_i mod 4) of Philox4x32-10(key = seed, counter = c_i >> 2))
    y_i  = x_i * float32(1 / (1 - p)) if u_i > float32(p) else 0

Kernel (``_dropout_per_element_kernel``, this file's own): the kernel every backend had before the contract
changed (then ``tl.rand(seed, c_i)``, word 0 of the call on c_i), adapted to it: one lane per element, int64
index and counters, the call on c_i >> 2, a ``tl.where`` chain on c_i & 3 choosing the word, then ``tl.rand``'s
conversion (``tl.random.uint_to_uniform_float``). Three of the four words each lane computes are thrown away.
It works for any offset, row_len and row_stride; production keeps a kernel like it (``_dropout_kernel``, in its
own file: production never imports a rung) as the fallback for unaligned counters.

Bytes moved, the running example (2^24 float32 elements, the kernel benchmark's size, on an H200, ~4.8 TB/s HBM,
~4 TB/s for a plain copy): x read and y written once, 134 MB, a ~34 us floor; float16/bfloat16 67 MB, ~17 us.
No mask tensor (backward regenerates it: the same bytes again).

Integer work (counted from the algorithm, not from SASS): a Philox4x32-10 call is 10 rounds of two 32x32->64
multiplies (one IMAD.WIDE each) and two three-input xors (one LOP3 each), ~40-50 instructions with the key
schedule, plus ~10 for the counter, the word select and the conversion: ~55 per element, ~7 per byte for
float32 and ~14 per byte for float16. The H200 issues ~33 T lane-instructions/s against ~4.8 TB/s, ~7 per byte:
float32 sits at the balance point, the 16-bit types are compute-bound by ~2x. The row specialisation adds an
int64 division per element (a software routine of a few dozen instructions).

Prediction, written before any measurement (the running example, H200): float32 forward 38-55 us (60-90% of copy
bandwidth: the Philox work roughly as long as the memory traffic, partly overlapped); float16/bfloat16 28-40 us
(compute-bound, not the 17 us floor); row mapping 1.3-2x slower than flat. Unverified: no GPU has run it.

Verified where: values under ``TRITON_INTERPRET=1`` by the shared dropout tests (tests/kernels/test_dropout.py,
test_dropout_rows.py), bit for bit against numpy; compiled ahead of time for sm_90 by ``benchmarks/aot_triton.py``
(launcher "rung0_per_element: dropout_forward").
"""

from __future__ import annotations

import torch
import triton
import triton.language as tl

from ...._args import check_dropout_args
from ..._common import autotune_configs, check_float_tensor, size_bucket

__all__ = ["dropout_forward", "dropout_backward"]


@triton.autotune(
    configs=autotune_configs(
        [triton.Config({"BLOCK": b}, num_warps=w) for b in (1024, 2048, 4096) for w in (4, 8)],
        triton.Config({"BLOCK": 1024}, num_warps=1),  # the interpreter: few programs, few seconds
    ),
    key=["size_bucket", "ROWS"],
)
@triton.jit
def _dropout_per_element_kernel(
    x_ptr, y_ptr, numel, size_bucket, p, scale, seed, offset, row_len, row_stride,
    ROWS: tl.constexpr, COMPUTE: tl.constexpr, BLOCK: tl.constexpr,
):
    """y[i] = x[i] * scale where uniform(word c_i & 3 of randint4x(seed, c_i >> 2)) > p, else 0; i < numel."""
    idx = tl.program_id(0).to(tl.int64) * BLOCK + tl.arange(0, BLOCK)
    mask = idx < numel
    if ROWS:
        row = idx // row_len
        counters = offset + row * row_stride + (idx - row * row_len)
    else:
        counters = offset + idx
    w0, w1, w2, w3 = tl.randint4x(seed, counters >> 2)  # a whole Philox call per lane; one word is kept
    lane = counters & 3
    w = tl.where(lane == 0, w0, tl.where(lane == 1, w1, tl.where(lane == 2, w2, w3)))
    u = tl.random.uint_to_uniform_float(w)
    x = tl.load(x_ptr + idx, mask=mask, other=0.0)
    y = tl.where(u > p, x.to(COMPUTE) * scale, 0.0)
    tl.store(y_ptr + idx, y.to(y_ptr.dtype.element_ty), mask=mask)


def _apply(name: str, x: torch.Tensor, p, seed, offset, row_len, row_stride) -> torch.Tensor:
    check_float_tensor(name, x)
    numel = x.numel()
    a = check_dropout_args(p, seed, offset, numel, row_len, row_stride)
    if a.p == 0.0:
        return x.clone()
    y = torch.empty_like(x)
    if numel == 0:
        return y
    p32 = float(torch.tensor(a.p, dtype=torch.float32))
    scale32 = float(torch.tensor(1.0 / (1.0 - a.p), dtype=torch.float32))
    compute = tl.float64 if x.dtype == torch.float64 else tl.float32
    grid = lambda meta: (triton.cdiv(numel, meta["BLOCK"]),)  # noqa: E731
    _dropout_per_element_kernel[grid](x, y, numel, size_bucket(numel), p32, scale32, a.seed, a.offset, a.row_len,
                                      a.row_stride, ROWS=a.row_len is not None, COMPUTE=compute)
    return y


def dropout_forward(
    x: torch.Tensor, p: float, seed: int, offset: int, row_len: int | None = None, row_stride: int | None = None
) -> torch.Tensor:
    """Inverted dropout of ``x`` with one Philox call per element; production's mask, arguments and errors."""
    return _apply("x", x, p, seed, offset, row_len, row_stride)


def dropout_backward(
    dy: torch.Tensor, p: float, seed: int, offset: int, row_len: int | None = None, row_stride: int | None = None
) -> torch.Tensor:
    """Gradient of :func:`dropout_forward`: the same regenerated mask and scale applied to ``dy``."""
    return _apply("dy", dy, p, seed, offset, row_len, row_stride)
