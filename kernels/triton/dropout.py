"""Inverted dropout in Triton with a counter-based RNG (no stored mask), bit-identical to ``kernels.numpy``.

Math (see ``kernels/numpy/dropout.py`` for the full RNG contract): for x with numel elements, flat
C-order index i, and ``scale = float32(1 / (1 - p))``::

    c_i  = offset + i                         (flat mapping, the default)
    c_i  = offset + (i // row_len) * row_stride + i % row_len          (row mapping)
    u_i  = tl.rand(seed, c_i)                 (Philox4x32-10, first word -> float32 in [0, 1))
    keep = u_i > float32(p)
    y_i  = x_i * scale if keep else 0

The row mapping is for data-parallel training: rank r of W holds rows r, r+W, r+2W, ... of a global
batch whose mask is the flat mapping, and ``row_len=F, row_stride=W*F, offset=offset_g + r*F`` (F =
the product of the trailing dims) draws exactly that rank's rows of the global mask, no other
counters (numpy's header has the batch-in-dim-1 form).

Work split: one program per BLOCK of flat elements.  Each program builds its counters
``offset + block_start + arange(BLOCK)`` in **int64**, so ``tl.rand`` sees the full 64-bit counter
(hi32 included) exactly like numpy's ``offset + i``; with int32 counters Triton would drop hi32 past
2**32.  The seed needs no widening: Triton passes a Python int below 2**31 as int32 and a larger
one as int64, and ``tl.rand`` converts either (non-negative) to the same uint64 key
(lo32(seed), hi32(seed)); the tests compare seeds on both sides of 2**31 and 2**32 with numpy.

The row mapping is a ``ROWS: tl.constexpr`` branch on the same int64 index; the flat launch passes
row_len and row_stride as None (constexprs, not kernel parameters), so the flat specialisation
compiles to the kernel without the branch.  The row one adds an int64 division per element, an
integer routine of a few dozen instructions next to Philox's ten rounds (a prediction: never
measured); row_len, row_stride and offset are int32 or int64 by value, and every term is widened by
the int64 index before it is added.

Compute dtype: float32 for float16/bfloat16/float32 (the scale is the float32 number itself), float64
for float64 (the float32 scale widened exactly); the product is cast back to x's dtype.  That is
the numpy module's documented formula, so y matches numpy bit for bit (bfloat16 has no numpy
counterpart; it follows the same float32 rule).

The mask is never stored: backward regenerates it from the same (seed, offset, row_len, row_stride)
with the same kernel, ``dy`` in place of ``x``.

NaN, inf and subnormals (every backend alike, tested against numpy): the mask is a select, so a kept
NaN stays NaN, a kept +-inf stays +-inf, and every dropped element is +0.0 -- a dropped NaN or inf
too (PyTorch's dropout multiplies by the mask and gives NaN there).  A GPU may return its canonical
NaN instead of the input's payload.  Subnormals are kept: the PTX for sm_80/sm_90 has no ``.ftz``
instruction (``tl.rand``'s int-to-float conversion and multiply, the scale multiply), and under the
interpreter float32 subnormal inputs give numpy's bits exactly (tested).  y = x * scale is a single
multiply, so FMA contraction (``TRITON_DEFAULT_FP_FUSION``) cannot change it.

Autotuning: the key is ``size_bucket`` = next_pow2(numel), not numel, so a new batch size (the last
partial batch, eval) re-benchmarks only when it crosses a power of two; and ``ROWS``, so the flat and
row specialisations (different integer work) are tuned apart.

Bytes moved: reads and writes numel elements once (2 * numel * itemsize); no mask tensor.  FLOPs:
~10 Philox rounds x ~12 integer ops per element, which on a GPU should hide under the memory
traffic (a prediction: never measured).

Verified: values under ``TRITON_INTERPRET=1`` against numpy, bit for bit (row mapping included).
Compiled ahead of time for sm_90 and sm_80 with Triton 3.9 and its ptxas, every config x float16 /
bfloat16 / float32 / float64, flat and row specialisations (in CI by ``benchmarks/aot_triton.py``,
whose row launches pass row_stride and offset as int32 and as int64; once by hand with int32 and
int64 seed/offset): no compile error, no spill.  The flat specialisation's PTX (debug sections aside)
was compared by hand with the kernel before the row mapping existed: identical, for float16 / float32
/ float64, two configs, sm_80 and sm_90.  GPU execution and speed are unverified: no GPU was
available.

Layout: any shape, contiguous (C-order) tensors; flat indexing.  Limits: 0 <= p < 1 (p == 0 returns
a copy without launching), seed an int in [0, 2**63), offset an int >= 0 with offset + numel <= 2**63;
row mapping: ints 1 <= row_len <= row_stride, numel a multiple of row_len, largest counter < 2**63
(``kernels._args.check_dropout_args``; row_stride == row_len runs the flat kernel).
p = 1 is refused before the scale 1/(1-p) is formed (``F.dropout`` answers it without a kernel).
"""

from __future__ import annotations

import torch
import triton
import triton.language as tl

from .._args import check_dropout_args
from ._common import autotune_configs, check_float_tensor, size_bucket

__all__ = ["dropout_forward", "dropout_backward"]


@triton.autotune(
    configs=autotune_configs(
        [triton.Config({"BLOCK": b}, num_warps=w) for b in (1024, 2048, 4096) for w in (4, 8)],
        # the interpreter pays ~10 ms per program in Python overhead, whatever BLOCK is: 64-element
        # blocks made a 100k-element call take ~18 s, 1024 keeps it under 2 s
        triton.Config({"BLOCK": 1024}, num_warps=1),
    ),
    key=["size_bucket", "ROWS"],
)
@triton.jit
def _dropout_kernel(
    x_ptr, y_ptr, numel, size_bucket, p, scale, seed, offset, row_len, row_stride,
    ROWS: tl.constexpr, COMPUTE: tl.constexpr, BLOCK: tl.constexpr,
):
    """y[i] = x[i] * scale where tl.rand(seed, c_i) > p, else 0; i < numel.

    c_i = offset + i, or with ROWS offset + (i // row_len) * row_stride + i % row_len (row_len and
    row_stride are None, constexpr, without ROWS).
    """
    idx = tl.program_id(0).to(tl.int64) * BLOCK + tl.arange(0, BLOCK)
    mask = idx < numel
    # int64 counter: tl.rand then feeds hi32 of the counter into Philox, as numpy does (offset, row_len
    # and row_stride are int32 or int64 by value; the int64 idx widens every term before any wrap-around)
    if ROWS:
        # a data-parallel rank's rows of the global batch: row k's counters start k * row_stride in
        row = idx // row_len
        counters = offset + row * row_stride + (idx - row * row_len)
    else:
        counters = offset + idx
    u = tl.rand(seed, counters)
    keep = u > p
    x = tl.load(x_ptr + idx, mask=mask, other=0.0)
    y = tl.where(keep, x.to(COMPUTE) * scale, 0.0)
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
    # both rounded to float32 here, so the kernel's fp32 arguments carry them exactly
    p32 = float(torch.tensor(a.p, dtype=torch.float32))
    scale32 = float(torch.tensor(1.0 / (1.0 - a.p), dtype=torch.float32))
    compute = tl.float64 if x.dtype == torch.float64 else tl.float32
    grid = lambda meta: (triton.cdiv(numel, meta["BLOCK"]),)  # noqa: E731
    _dropout_kernel[grid](x, y, numel, size_bucket(numel), p32, scale32, a.seed, a.offset, a.row_len, a.row_stride,
                          ROWS=a.row_len is not None, COMPUTE=compute)
    return y


def dropout_forward(
    x: torch.Tensor, p: float, seed: int, offset: int, row_len: int | None = None, row_stride: int | None = None
) -> torch.Tensor:
    """Inverted dropout of ``x`` (any shape): keep element i iff ``tl.rand(seed, c_i) > p``.

    c_i = offset + i, or with ``row_len`` and ``row_stride`` (given together) offset + (i // row_len) *
    row_stride + i % row_len: a data-parallel rank's rows of the global batch's mask (module docstring).
    Returns y, same shape and dtype as x.  Raises TypeError for a non-tensor / non-float x or non-int
    seed/offset/row_len/row_stride, ValueError for p outside [0, 1), seed outside [0, 2**63), a negative
    offset, a counter past 2**63, a bad row mapping (one without the other, row_len < 1, row_stride <
    row_len, numel not a multiple of row_len), or a non-contiguous x / x on the wrong device.
    """
    return _apply("x", x, p, seed, offset, row_len, row_stride)


def dropout_backward(
    dy: torch.Tensor, p: float, seed: int, offset: int, row_len: int | None = None, row_stride: int | None = None
) -> torch.Tensor:
    """Gradient of :func:`dropout_forward`: the same regenerated mask and scale applied to ``dy``.

    Must be called with the forward's (p, seed, offset, row_len, row_stride).  Raises like
    :func:`dropout_forward`.
    """
    return _apply("dy", dy, p, seed, offset, row_len, row_stride)

