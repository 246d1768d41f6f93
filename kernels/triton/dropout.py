"""Inverted dropout in Triton with a counter-based RNG (no stored mask), bit-identical to ``kernels.numpy``.

Math (see ``kernels/numpy/dropout.py`` for the full RNG contract): for x with numel elements, flat
C-order index i, and ``scale = float32(1 / (1 - p))``::

    c_i  = offset + i                         (flat mapping, the default)
    c_i  = offset + (i // row_len) * row_stride + i % row_len          (row mapping)
    u_i  = uniform(tl.randint4x(seed, c_i >> 2)[c_i & 3])   (Philox4x32-10: word c_i mod 4 of call c_i >> 2)
    keep = u_i > float32(p)
    y_i  = x_i * scale if keep else 0

The row mapping is for data-parallel training: rank r of W holds rows r, r+W, r+2W, ... of a global
batch whose mask is the flat mapping, and ``row_len=F, row_stride=W*F, offset=offset_g + r*F`` (F =
the product of the trailing dims) draws exactly that rank's rows of the global mask, no other
counters (numpy's header has the batch-in-dim-1 form).

The top rung of the dropout ladder (``kernels/triton/ladder/dropout/``, map ``docs/ladder/dropout.md``): one
Philox call per group of four counters.  Two kernels, dispatched by :func:`_apply`:

* ``_dropout4_kernel`` (the fast path), when the groups are aligned: offset % 4 == 0 and, with the row
  mapping, row_len % 4 == 0 and row_stride % 4 == 0.  Then elements 4k..4k+3 of x (k < cdiv(numel, 4)) lie in
  one row and draw the counters 4g..4g+3 of one Philox call g = c_{4k} >> 2, in order.  A program loads a
  [BLOCK // 4, 4] tile (row k of the tile = group k, column j = element 4k + j), calls ``tl.rand4x`` once per
  tile row (the four words of ``tl.randint4x(seed, g)``, each converted as ``tl.rand`` converts a word) and
  picks column j's uniform with a ``tl.where`` chain on the column index.  The row specialisation divides
  once per group, not once per element.
* ``_dropout_kernel`` (the fallback), anything else: a rank's rows with F % 4 != 0, an unaligned user offset.
  One lane per element, each calling ``tl.randint4x`` on its own c_i >> 2 and keeping word c_i & 3 (the same
  mask, four times the RNG work).  It is the same idea as the ladder's rung 0
  (``ladder/dropout/rung0_per_element.py``), but a kernel of its own here: production never imports a rung.

Both build counters in **int64** from an int64 element index, so ``tl.randint4x`` sees the full 64-bit group
number (hi32 included) exactly like numpy's; with int32 counters Triton would drop hi32 past 2**32.  The seed
needs no widening: Triton passes a Python int below 2**31 as int32 and a larger one as int64, and
``tl.randint4x`` converts either (non-negative) to the same uint64 key (lo32(seed), hi32(seed)); the tests
compare seeds on both sides of 2**31 and 2**32 with numpy.  The row mapping is a ``ROWS: tl.constexpr`` branch;
the flat launch passes row_len and row_stride as None (constexprs, not kernel parameters), so the flat
specialisation compiles without the branch.

Compute dtype: float32 for float16/bfloat16/float32 (the scale is the float32 number itself), float64
for float64 (the float32 scale widened exactly); the product is cast back to x's dtype.  That is
the numpy module's documented formula, so y matches numpy bit for bit (bfloat16 has no numpy
counterpart; it follows the same float32 rule).

The mask is never stored: backward regenerates it from the same (seed, offset, row_len, row_stride)
with the same kernels, ``dy`` in place of ``x``.

NaN, inf and subnormals (every backend alike, tested against numpy): the mask is a select, so a kept
NaN stays NaN, a kept +-inf stays +-inf, and every dropped element is +0.0 -- a dropped NaN or inf
too (PyTorch's dropout multiplies by the mask and gives NaN there).  A GPU may return its canonical
NaN instead of the input's payload.  Subnormals are kept: the PTX for sm_80/sm_90 had no ``.ftz``
instruction before this change (the word-to-float conversion and multiply, the scale multiply; not re-read
since), and under the interpreter float32 subnormal inputs give numpy's bits exactly (tested).  y = x * scale
is a single multiply, so FMA contraction (``TRITON_DEFAULT_FP_FUSION``) cannot change it.

Autotuning: the key is ``size_bucket`` = next_pow2(numel), not numel, so a new batch size (the last
partial batch, eval) re-benchmarks only when it crosses a power of two; and ``ROWS``, so the flat and
row specialisations (different integer work) are tuned apart.

Bytes moved: reads and writes numel elements once (2 * numel * itemsize); no mask tensor.  Integer work: one
Philox call (~10 rounds x ~12 integer ops) per four elements on the fast path, per element on the fallback
(predictions in ``docs/ladder/dropout.md``; never measured).

Verified: values under ``TRITON_INTERPRET=1`` against numpy, bit for bit (both kernels, row mapping
included).  Compiled ahead of time for sm_90 and sm_80 with Triton 3.9 and its ptxas by
``benchmarks/aot_triton.py`` (every config x float16 / bfloat16 / float32 / float64, flat and row
specialisations, the fallback through an unaligned offset): no compile error, no spill.  GPU execution and
speed are unverified: no GPU was available.

Device offset (steps replayed as a CUDA graph, ``framework.random.DevicePhilox``): ``offset`` may be a
one-element int64 tensor on x's device instead of an int.  The kernels then load it (``offset_ptr``, a pointer
argument; None -- a constexpr -- on the int path, which compiles exactly as before) and add it to every
counter, so a captured launch draws a fresh mask each replay once the tensor has been advanced, with no host
sync.  The value must be a multiple of 4 (the fast kernel is chosen on the host, which cannot see it): checked
on the host where reading it is free (the interpreter, or ``KERNELGRAD_SYNC_CHECKS=1``), unchecked on a GPU,
where any other value would draw a different mask than the int path.  The framework only hands out multiples
of 4.  Unverified on a GPU (no GPU was available).  Not in ``benchmarks/aot_triton.py``'s launch cases yet;
compiled once through its machinery with an added case (a device offset, flat / aligned rows / unaligned rows,
every dtype and config, sm_90 and sm_80: 144 compilations, no error, no spill, registers within a few of the int
path's, more for some fallback configs: 93 vs 80 for float32 BLOCK=2048 with 4 warps).

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

from .._args import DropoutArgs, check_dropout_args, value_checks_enabled
from . import linear_relu as _linear
from ._common import autotune_configs, check_float_tensor, interpreting, size_bucket

__all__ = ["dropout_forward", "dropout_backward", "dropout_add_forward", "dropout_add_backward",
           "linear_relu_dropout_forward", "linear_relu_dropout_backward"]


def _configs() -> list[triton.Config]:
    return autotune_configs(
        [triton.Config({"BLOCK": b}, num_warps=w) for b in (1024, 2048, 4096) for w in (4, 8)],
        # the interpreter pays ~10 ms per program in Python overhead, whatever BLOCK is: 64-element
        # blocks made a 100k-element call take ~18 s, 1024 keeps it under 2 s
        triton.Config({"BLOCK": 1024}, num_warps=1),
    )


@triton.autotune(configs=_configs(), key=["size_bucket", "ROWS"])
@triton.jit
def _dropout4_kernel(
    x_ptr, y_ptr, numel, size_bucket, p, scale, seed, offset, offset_ptr, row_len, row_stride,
    ROWS: tl.constexpr, COMPUTE: tl.constexpr, BLOCK: tl.constexpr,
):
    """The fast path: one Philox call per group of four elements.  Needs offset % 4 == 0 and, with ROWS,
    row_len % 4 == 0 and row_stride % 4 == 0 (the launcher checks), so element 4k + j draws word j of the
    call on group c_{4k} >> 2."""
    GROUPS: tl.constexpr = BLOCK // 4
    if offset_ptr is not None:  # a device offset (a multiple of 4): the int offset is 0
        offset = offset + tl.load(offset_ptr)
    k = tl.program_id(0).to(tl.int64) * GROUPS + tl.arange(0, GROUPS)  # int64: the counters never wrap
    first = k * 4  # each group's first element
    if ROWS:
        # a data-parallel rank's rows of the global batch: row r's counters start r * row_stride in; the
        # group's four elements share the row (row_len % 4 == 0), so one division per group
        row = first // row_len
        c0 = offset + row * row_stride + (first - row * row_len)
    else:
        c0 = offset + first
    u0, u1, u2, u3 = tl.rand4x(seed, c0 >> 2)  # [GROUPS] each: the call's four words as tl.rand converts them
    col = tl.arange(0, 4)[None, :]
    u = tl.where(col == 0, u0[:, None], tl.where(col == 1, u1[:, None], tl.where(col == 2, u2[:, None], u3[:, None])))
    idx = first[:, None] + col  # [GROUPS, 4]: row-major, so the tile is BLOCK contiguous elements
    mask = idx < numel
    x = tl.load(x_ptr + idx, mask=mask, other=0.0)
    y = tl.where(u > p, x.to(COMPUTE) * scale, 0.0)
    tl.store(y_ptr + idx, y.to(y_ptr.dtype.element_ty), mask=mask)


@triton.autotune(configs=_configs(), key=["size_bucket", "ROWS"])
@triton.jit
def _dropout_kernel(
    x_ptr, y_ptr, numel, size_bucket, p, scale, seed, offset, offset_ptr, row_len, row_stride,
    ROWS: tl.constexpr, COMPUTE: tl.constexpr, BLOCK: tl.constexpr,
):
    """The fallback for unaligned counters: one Philox call per element, word c_i & 3 of the call on c_i >> 2.

    c_i = offset + i, or with ROWS offset + (i // row_len) * row_stride + i % row_len (row_len and
    row_stride are None, constexpr, without ROWS).
    """
    if offset_ptr is not None:  # a device offset: the int offset is 0
        offset = offset + tl.load(offset_ptr)
    idx = tl.program_id(0).to(tl.int64) * BLOCK + tl.arange(0, BLOCK)
    mask = idx < numel
    # int64 counter: randint4x then feeds hi32 of the group number into Philox, as numpy does (offset, row_len
    # and row_stride are int32 or int64 by value; the int64 idx widens every term before any wrap-around)
    if ROWS:
        row = idx // row_len
        counters = offset + row * row_stride + (idx - row * row_len)
    else:
        counters = offset + idx
    w0, w1, w2, w3 = tl.randint4x(seed, counters >> 2)
    lane = counters & 3
    w = tl.where(lane == 0, w0, tl.where(lane == 1, w1, tl.where(lane == 2, w2, w3)))
    u = tl.random.uint_to_uniform_float(w)  # tl.rand's conversion of its word
    x = tl.load(x_ptr + idx, mask=mask, other=0.0)
    y = tl.where(u > p, x.to(COMPUTE) * scale, 0.0)
    tl.store(y_ptr + idx, y.to(y_ptr.dtype.element_ty), mask=mask)


def aligned(a: DropoutArgs) -> bool:
    """Whether every group of four elements of x draws one Philox call's four words in order (the fast path):
    offset % 4 == 0 and, with the row mapping, row_len % 4 == 0 and row_stride % 4 == 0."""
    if a.offset % 4:
        return False
    return a.row_len is None or (a.row_len % 4 == 0 and a.row_stride % 4 == 0)


def _device_offset(offset: object, x: torch.Tensor) -> torch.Tensor | None:
    """``offset`` if it is a device offset (checked: one int64 element on x's device; its value where reading it
    is free), None for an int."""
    if not isinstance(offset, torch.Tensor):
        return None
    if offset.dtype != torch.int64:
        raise TypeError(f"offset as a tensor must have dtype int64, got {offset.dtype}")
    if offset.numel() != 1:
        raise ValueError(f"offset as a tensor must hold one element, got shape {tuple(offset.shape)}")
    if offset.device != x.device:
        raise ValueError(f"offset is on device {offset.device}, x on {x.device} (must match)")
    return offset


def _float32_p_scale(p: float) -> tuple[float, float]:
    """(p, 1 / (1 - p)) rounded to float32, so a kernel's fp32 arguments carry them exactly."""
    return float(torch.tensor(p, dtype=torch.float32)), float(torch.tensor(1.0 / (1.0 - p), dtype=torch.float32))


def _launch_constants(a: DropoutArgs, x: torch.Tensor):
    """The elementwise launches' shared tail: (p32, scale32, the compute dtype, the grid over x's elements)."""
    numel = x.numel()
    compute = tl.float64 if x.dtype == torch.float64 else tl.float32
    grid = lambda meta: (triton.cdiv(numel, meta["BLOCK"]),)  # noqa: E731
    return *_float32_p_scale(a.p), compute, grid


def _apply(name: str, x: torch.Tensor, p, seed, offset, row_len, row_stride) -> torch.Tensor:
    check_float_tensor(name, x)
    numel = x.numel()
    offset_ptr = _device_offset(offset, x)
    if offset_ptr is not None:
        offset = 0  # the kernels add the tensor's value to every counter
        if value_checks_enabled(on_host=interpreting() and offset_ptr.device.type == "cpu"):
            value = int(offset_ptr.reshape(()))  # free here: the tensor is in host memory
            if value < 0 or value % 4:
                raise ValueError(f"offset as a tensor must hold a multiple of 4 that is >= 0, got {value}")
            check_dropout_args(p, seed, value, numel, row_len, row_stride)  # the counter range, with the value
    a = check_dropout_args(p, seed, offset, numel, row_len, row_stride)
    if a.p == 0.0:
        return x.clone()
    y = torch.empty_like(x)
    if numel == 0:
        return y
    p32, scale32, compute, grid = _launch_constants(a, x)
    kernel = _dropout4_kernel if aligned(a) else _dropout_kernel
    kernel[grid](x, y, numel, size_bucket(numel), p32, scale32, a.seed, a.offset, offset_ptr, a.row_len,
                 a.row_stride, ROWS=a.row_len is not None, COMPUTE=compute)
    return y


def dropout_forward(
    x: torch.Tensor, p: float, seed: int, offset: int, row_len: int | None = None, row_stride: int | None = None
) -> torch.Tensor:
    """Inverted dropout of ``x`` (any shape): keep element i iff word c_i & 3 of ``tl.randint4x(seed, c_i >> 2)``,
    as a uniform, is > p.

    c_i = offset + i, or with ``row_len`` and ``row_stride`` (given together) offset + (i // row_len) *
    row_stride + i % row_len: a data-parallel rank's rows of the global batch's mask (module docstring).
    ``offset`` may be a one-element int64 tensor on x's device holding a multiple of 4 (a device offset, read by
    the kernel: graph-capturable).
    Returns y, same shape and dtype as x.  Raises TypeError for a non-tensor / non-float x or non-int
    seed/offset/row_len/row_stride (or a non-int64 offset tensor), ValueError for p outside [0, 1), seed outside
    [0, 2**63), a negative offset (or, where values are checked, a device offset that is not a multiple of 4),
    an offset tensor of several elements or on another device, a counter past 2**63, a bad row mapping (one
    without the other, row_len < 1, row_stride < row_len, numel not a multiple of row_len), or a non-contiguous
    x / x on the wrong device.
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


# ------------------------------------------------------------------------ dropout fused with a residual add
#
# out = residual + dropout(x) in one pass (the ladder's rung 2, ``ladder/dropout/rung2_residual_add.py``): x and the
# residual read, out written -- 3 * numel elements, where dropout then an add move 2 + 3.  The mask and the product
# are dropout_forward's (the same counters, words and scale, the product rounded to x's dtype), then the sum is
# formed in the compute dtype and rounded once: numpy's ``residual + dropout_forward(x)`` bit for bit (for 16-bit
# types the float32 sum of two rounded values, rounded once, is the correctly rounded sum).  The launch turns FP
# fusion off (``enable_fp_fusion=False``): a contracted x * scale + residual would skip the product's rounding.
# One kernel: ``FOUR`` selects the four-per-call tile of ``_dropout4_kernel`` (aligned counters) or the per-element
# draw of ``_dropout_kernel``; ``ROWS`` the row mapping, as there.  The backward is dropout_backward itself.


def _dropout_add_configs() -> list[triton.Config]:
    return autotune_configs(
        # two of dropout's six: 8 and 16 elements per thread (the per-element draw keeps four words per element live)
        [triton.Config({"BLOCK": b}, num_warps=w) for b, w in ((1024, 4), (4096, 8))],
        triton.Config({"BLOCK": 1024}, num_warps=1),
    )


@triton.autotune(configs=_dropout_add_configs(), key=["size_bucket", "ROWS", "FOUR"])
@triton.jit
def _dropout_add_kernel(
    x_ptr, r_ptr, y_ptr, numel, size_bucket, p, scale, seed, offset, row_len, row_stride,
    ROWS: tl.constexpr, FOUR: tl.constexpr, COMPUTE: tl.constexpr, BLOCK: tl.constexpr,
):
    """y[i] = r[i] + (x[i] * scale if kept else 0) for i < numel; the mask and the rounded product are dropout's."""
    if FOUR:  # aligned groups: one Philox call per four elements, word j to the group's element j
        GROUPS: tl.constexpr = BLOCK // 4
        k = tl.program_id(0).to(tl.int64) * GROUPS + tl.arange(0, GROUPS)
        first = k * 4
        if ROWS:
            row = first // row_len
            c0 = offset + row * row_stride + (first - row * row_len)
        else:
            c0 = offset + first
        u0, u1, u2, u3 = tl.rand4x(seed, c0 >> 2)
        col = tl.arange(0, 4)[None, :]
        u = tl.where(col == 0, u0[:, None],
                     tl.where(col == 1, u1[:, None], tl.where(col == 2, u2[:, None], u3[:, None])))
        idx = first[:, None] + col
    else:  # any counters: one Philox call per element, word c & 3 of the call on c >> 2
        idx = tl.program_id(0).to(tl.int64) * BLOCK + tl.arange(0, BLOCK)
        if ROWS:
            row = idx // row_len
            counters = offset + row * row_stride + (idx - row * row_len)
        else:
            counters = offset + idx
        w0, w1, w2, w3 = tl.randint4x(seed, counters >> 2)
        lane = counters & 3
        u = tl.random.uint_to_uniform_float(tl.where(lane == 0, w0, tl.where(lane == 1, w1, tl.where(lane == 2, w2,
                                                                                                      w3))))
    mask = idx < numel
    x = tl.load(x_ptr + idx, mask=mask, other=0.0)
    r = tl.load(r_ptr + idx, mask=mask, other=0.0)
    dropped = tl.where(u > p, x.to(COMPUTE) * scale, 0.0).to(y_ptr.dtype.element_ty)  # dropout_forward's y
    y = r.to(COMPUTE) + dropped.to(COMPUTE)
    tl.store(y_ptr + idx, y.to(y_ptr.dtype.element_ty), mask=mask)


def _check_residual(x: torch.Tensor, residual: torch.Tensor) -> None:
    """The residual must be a tensor of x's shape, dtype and device, contiguous (TypeError / ValueError naming it)."""
    check_float_tensor("residual", residual)
    if residual.dtype != x.dtype:
        raise TypeError(f"residual has dtype {residual.dtype}, expected x's dtype {x.dtype}")
    if tuple(residual.shape) != tuple(x.shape):
        raise ValueError(f"residual has shape {tuple(residual.shape)}, expected x's shape {tuple(x.shape)}")


def dropout_add_forward(
    x: torch.Tensor, residual: torch.Tensor, p: float, seed: int, offset: int, row_len: int | None = None,
    row_stride: int | None = None
) -> torch.Tensor:
    """``residual + dropout_forward(x, p, seed, offset, row_len, row_stride)`` in one pass, the sum rounded once to
    x's dtype (``kernels/numpy/dropout.py``).  ``offset`` is an int.  Raises as :func:`dropout_forward` for x and the
    stream arguments, TypeError for a residual that is not a float tensor of x's dtype, ValueError for one of another
    shape, non-contiguous or on the wrong device."""
    check_float_tensor("x", x)
    _check_residual(x, residual)
    numel = x.numel()
    a = check_dropout_args(p, seed, offset, numel, row_len, row_stride)
    if a.p == 0.0:
        return residual + x  # dropout with p = 0 is x itself; one correctly rounded add
    y = torch.empty_like(x)
    if numel == 0:
        return y
    p32, scale32, compute, grid = _launch_constants(a, x)
    _dropout_add_kernel[grid](x, residual, y, numel, size_bucket(numel), p32, scale32, a.seed, a.offset, a.row_len,
                              a.row_stride, ROWS=a.row_len is not None, FOUR=aligned(a), COMPUTE=compute,
                              enable_fp_fusion=False)
    return y


def dropout_add_backward(
    dy: torch.Tensor, p: float, seed: int, offset: int, row_len: int | None = None, row_stride: int | None = None
) -> torch.Tensor:
    """Gradient of :func:`dropout_add_forward` w.r.t. x: ``dropout_backward(dy, ...)`` with the forward's arguments
    (the residual's gradient is dy itself).  Raises like :func:`dropout_backward`."""
    return dropout_backward(dy, p, seed, offset, row_len, row_stride)


# ------------------------------------------------------------------ bias + ReLU + dropout in the linear epilogue
#
# y = dropout(relu(x @ w.T + b)) with the dropout applied in the GEMM's epilogue (the ladder's rung 3,
# ``ladder/dropout/rung3_linear_epilogue.py``): relu(linear) is never written and dropout's own pass (read M * N,
# write M * N, a launch) disappears.  Every path production's linear_forward can take carries it
# (``kernels/triton/linear_relu.py``): the tiled kernel's and the persistent TMA kernel's epilogues
# (``_dropout_epilogue``) and, after split-K, ``_sum_splits_kernel``'s.  Output element (m, n) draws dropout's
# counter offset + m * N + n (the flat mapping over y), one Philox call per element (word c & 3 of the call on
# c >> 2), so the mask is ``dropout_forward(relu(linear), p, seed, offset)``'s bit for bit.  The kept value is the
# float32 (float64) accumulator times the float32 scale, rounded once to y's dtype -- the two passes round
# relu(linear) first, so 16-bit outputs can differ from them in the last bit (never in the mask).
#
# The backward needs no RNG: g = where(y <= 0, 0, dy * scale) (y > 0 exactly where the pre-activation was > 0
# and the element kept); linear_backward's kernels with their ReLU mask prologue and, with ``SCALED``, a ``scale``
# multiplier on each GEMM's accumulator before the store (dx, dw and db are linear in g).


def linear_relu_dropout_forward(
    x: torch.Tensor, w: torch.Tensor, b: torch.Tensor | None, p: float, seed: int, offset: int
) -> torch.Tensor:
    """``dropout_forward(relu(x @ w.T + b), p, seed, offset)`` in the GEMM's epilogue: y[M, N], x's dtype; element
    (i, j) kept iff dropout's uniform for counter offset + i * N + j is > p (``kernels/numpy/dropout.py``).

    Raises as ``linear_forward`` for x, w, b (checked first), then as :func:`dropout_forward` for p, seed and offset
    (an int; offset + M * N <= 2**63).
    """
    M, N, K = _linear._checked_forward(x, w, b)
    a = check_dropout_args(p, seed, offset, M * N)
    if a.p == 0.0:
        return _linear._forward(x, w, b, True, M, N, K, split=True, tma=True)
    if K == 0 or M * N == 0:  # no GEMM: relu(b) (or an empty y), then dropout's own pass
        return dropout_forward(_linear._forward(x, w, b, True, M, N, K, split=True, tma=True), a.p, a.seed, a.offset)
    return _linear._forward(x, w, b, True, M, N, K, split=True, tma=True,
                            dropout=(*_float32_p_scale(a.p), a.seed, a.offset))


def linear_relu_dropout_backward(
    dy: torch.Tensor, x: torch.Tensor, w: torch.Tensor, y: torch.Tensor, p: float
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Gradients ``(dx[M, K], dw[N, K], db[N])`` of :func:`linear_relu_dropout_forward` from its output ``y``:
    g = where(y <= 0, 0, dy * float32(1 / (1 - p))), dx = g @ w, dw = g.T @ x, db = g.sum(0) (db always returned).

    Raises as ``linear_backward`` with ``relu=True``, then as :func:`dropout_forward` for p.
    """
    M, N, K = _linear._checked_backward(dy, x, w, y, True)
    a = check_dropout_args(p, 0, 0, 0)
    return _linear._backward(dy, x, w, y, True, M, N, K, split=True, tma=True, scale=_float32_p_scale(a.p)[1])
