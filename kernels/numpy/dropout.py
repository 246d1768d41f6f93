"""Inverted dropout with a counter-based RNG (no stored mask): four uniforms per Philox call, bit-compatible
with Triton's ``tl.randint4x``.

Math: for x with numel elements, flat C-order index i, and scale = 1/(1-p)::

    c_i  = offset + i                         (the counter: flat mapping, the default)
    w_i  = word (c_i mod 4) of Philox4x32-10(key = seed, counter = c_i >> 2)
         = tl.randint4x(seed, c_i >> 2)[c_i & 3]
    u_i  = uniform(w_i)                       (tl.rand's word -> float32 in [0, 1))
    keep = u_i > float32(p)
    y_i  = x_i * scale if keep else 0

Why word c mod 4 of call c >> 2: Philox makes four 32-bit words per call.  Until December 2026 every backend
drew u_i = tl.rand(seed, c_i), the first word of the call on counter c_i, and threw three away; now the four
consecutive counters 4k..4k+3 share the one call on counter k, so a GPU kernel whose groups of four elements
have aligned counters (the fast path: offset, and with the row mapping row_len and row_stride, multiples of 4)
does a quarter of the RNG work (``docs/ladder/dropout.md``).  The mask of an element still depends only on
(seed, c_i), so any element order, block size or chunking gives the same mask; every mask changed with the
contract (the framework's stream already advances the offset in multiples of 4 per call).

Row mapping (``row_len`` and ``row_stride`` given): ``c_i = offset + (i // row_len) * row_stride +
i % row_len``, i.e. x's rows of ``row_len`` elements draw counter runs that start ``row_stride`` apart.
It exists for data-parallel training: rank r of W holds rows r, r+W, r+2W, ... of a global batch
x_g[B_g, F...] whose own mask is the flat mapping; with F = the product of the trailing dims,
``row_len=F, row_stride=W*F, offset=offset_g + r*F`` gives rank r exactly the mask rows of
``dropout_forward(x_g, p, seed, offset_g)[r::W]``, without drawing the other ranks' counters (for a
batch in dim 1, x[T, B, H]: ``row_len=H, row_stride=W*H, offset=offset_g + r*H``).  ``row_stride ==
row_len`` is the flat mapping.

The mask is never stored: backward regenerates it from the same (seed, offset, row_len, row_stride), so
forward and backward use one code path (``dy`` in place of ``x``).

Random numbers: Philox4x32-10 (Salmon et al., "Parallel random numbers: as easy as 1, 2, 3",
SC'11; the Random123 generator), exactly as in ``triton/language/random.py``:

* Philox counter = (lo32(g), hi32(g), 0, 0) with g = c_i >> 2 the 64-bit group number; key = (lo32(seed),
  hi32(seed)).  Triton's ``randint4x`` takes hi32 only from 64-bit offsets (hi32 = 0 from int32 ones), so a
  Triton kernel computes c_i and g in int64.
* 10 rounds of ``c0, c1, c2, c3 = hi(B*c2)^c1^k0, lo(B*c2), hi(A*c0)^c3^k1, lo(A*c0)`` with
  A = 0xD2511F53, B = 0xCD9E8D57, then the key is bumped by (0x9E3779B9, 0xBB67AE85) mod 2**32.
  The 64-bit product of two uint32 is formed in uint64, so hi/lo are exact.
* dropout keeps word c & 3 of the call on counter c >> 2 (``tl.randint4x(seed, c >> 2)[c & 3]``, the
  shift and the mask on the 64-bit counter), bitcasts it to int32, x = ~x if x < 0 (so x in [0, 2**31)),
  u = float32(x) * float32(4.6566127342e-10) with the int->float conversion rounded to nearest and an fp32
  multiply: Triton's ``uint_to_uniform_float``, the conversion ``tl.rand`` applies to its word.  numpy's
  float32 astype and multiply reproduce that bit for bit.  (``rand`` below is ``tl.rand`` itself, word 0 of
  the call on counter c: the primitive the tests hold to Triton's recorded bits.)

Scaling formula (shared by every backend): ``scale = float32(1 / (1 - p))`` computed once in
float64 and rounded to float32, then cast to the compute dtype; ``y = x * scale`` where kept, an
exact 0 elsewhere.  float16 is computed in float32 (like a Triton kernel would) and cast back.

Cost: ~10 rounds x ~12 integer ops per Philox call plus one multiply per element; the flat mapping computes
each group of four counters once (a quarter of a call per element), the row mapping one call per element (the
counters of a chunk are not one run; the row division and remainder too).  Reads and writes numel elements.
Elements are processed in chunks of 2**16: the ~10 live temporaries (a few MiB) then stay in cache, which is
2-3x faster than 2**20-element chunks, and memory stays bounded for tensors of any size.

Device offset (for steps replayed as a CUDA graph, ``framework.random.DevicePhilox``): ``offset`` may instead be
a one-element int64 array on x's device (here: a numpy array) holding the offset; the mask is the one the same
value passed as an int gives.  Its value must be a multiple of 4 -- a GPU kernel reads it in device memory, where
it cannot be checked without a host sync, and takes the four-per-call fast path -- so this reference, which reads
it on the host, raises ValueError for any other value, and for a negative one.

Limits: 0 <= p < 1 (p == 0 returns a copy), seed an int in [0, 2**63), offset an int >= 0 with
offset + numel <= 2**63; with the row mapping, ints 1 <= row_len <= row_stride, numel a multiple of
row_len and the largest counter offset + (numel // row_len - 1) * row_stride + row_len - 1 < 2**63
(``kernels._args.check_dropout_args``, shared by every backend).  p = 1 is refused before the
scale 1/(1-p) is formed (``F.dropout`` answers it without a kernel: ``input * 0``, PyTorch's result).
"""

from __future__ import annotations

import functools

import numpy as np

from .._args import check_dropout_args, check_relu_output, check_seed, linear_backward_shapes, linear_forward_shapes
from ._checks import check_float_array, check_same_dtype, compute_dtype
from .linear_relu import linear_forward

# the kernel contract (ARCHITECTURE.md); philox4x32, uniform_from_uint32, randint4x, rand and dropout_rand are
# this reference's own Philox helpers, which the tests hold the other backends' random streams to
__all__ = ["dropout_forward", "dropout_backward", "dropout_add_forward", "dropout_add_backward",
           "linear_relu_dropout_forward", "linear_relu_dropout_backward"]

PHILOX_ROUND_A = np.uint64(0xD2511F53)
PHILOX_ROUND_B = np.uint64(0xCD9E8D57)
PHILOX_KEY_A = 0x9E3779B9
PHILOX_KEY_B = 0xBB67AE85
_MASK32 = 0xFFFFFFFF
_SHIFT32 = np.uint64(32)
_MASK64_LO = np.uint64(_MASK32)
# largest float32 scale with (2**31 - 1) * scale < 1 after rounding, as in Triton
_UNIFORM_SCALE = np.float32(4.6566127342e-10)
_CHUNK = 1 << 16


def _as_uint32(name: str, v) -> np.ndarray:
    a = np.asarray(v)
    if a.dtype == np.uint32:
        return a
    if not (np.issubdtype(a.dtype, np.integer) or a.dtype == object):
        raise TypeError(f"{name} must hold integers, got dtype {a.dtype}")
    if a.size and (int(a.min()) < 0 or int(a.max()) > _MASK32):
        raise ValueError(f"{name} must hold values in [0, 2**32), got range [{a.min()}, {a.max()}]")
    return a.astype(np.uint32)


def philox4x32(c0, c1, c2, c3, k0, k1, n_rounds: int = 10):
    """Philox4x32 with ``n_rounds`` rounds on counters (c0..c3) and key (k0, k1).

    All arguments are ints or uint32 arrays (broadcast together).  Returns four uint32 arrays.
    Raises TypeError for non-integer inputs and ValueError for values outside [0, 2**32).
    """
    c0, c1, c2, c3 = (_as_uint32(n, v) for n, v in (("c0", c0), ("c1", c1), ("c2", c2), ("c3", c3)))
    k0, k1 = _as_uint32("k0", k0), _as_uint32("k1", k1)
    c0, c1, c2, c3 = np.broadcast_arrays(c0, c1, c2, c3)
    # keys stay uint64 so the mod-2**32 bump cannot overflow; they are cast down each round
    k0, k1 = k0.astype(np.uint64), k1.astype(np.uint64)
    for _ in range(n_rounds):
        prod_b = c2.astype(np.uint64) * PHILOX_ROUND_B
        prod_a = c0.astype(np.uint64) * PHILOX_ROUND_A
        hi_b = (prod_b >> _SHIFT32).astype(np.uint32)
        hi_a = (prod_a >> _SHIFT32).astype(np.uint32)
        c0 = hi_b ^ c1 ^ k0.astype(np.uint32)
        c2 = hi_a ^ c3 ^ k1.astype(np.uint32)
        c1 = prod_b.astype(np.uint32)  # astype truncates: the low 32 bits
        c3 = prod_a.astype(np.uint32)
        k0 = (k0 + PHILOX_KEY_A) & _MASK32
        k1 = (k1 + PHILOX_KEY_B) & _MASK32
    # numpy turns 0-d results into scalars; keep the promised "uint32 arrays"
    return tuple(np.asarray(c, dtype=np.uint32) for c in (c0, c1, c2, c3))


def uniform_from_uint32(x) -> np.ndarray:
    """Triton's ``uint_to_uniform_float`` for 32-bit words: uint32 array -> float32 in [0, 1)."""
    xu = _as_uint32("x", x)
    xi = np.ascontiguousarray(xu).view(np.int32).reshape(xu.shape)
    # where(x < 0, ~x, x) without a branchy select: x >> 31 is 0 or -1, and x ^ -1 == ~x
    xi = xi ^ (xi >> 31)
    return xi.astype(np.float32) * _UNIFORM_SCALE


def _philox_uint64(seed: int, groups: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The four words of Philox4x32-10 for each uint64 counter ``groups`` (counter = (lo32, hi32, 0, 0), key =
    (lo32(seed), hi32(seed))), as uint64 arrays holding values < 2**32.

    Every word is held in a uint64 array, so the 64-bit products need no dtype conversion and hi/lo are a
    shift and a mask; the temporaries are reused in place.  That halves the time of the obvious uint32
    version (:func:`philox4x32`, which the known-answer tests pin) on small tensors, where numpy's
    per-call cost dominates.
    """
    c0 = groups & _MASK64_LO
    c1 = groups >> _SHIFT32
    c2 = np.zeros_like(c0)
    c3 = np.zeros_like(c0)
    prod_a = np.empty_like(c0)
    prod_b = np.empty_like(c0)
    k0, k1 = seed & _MASK32, seed >> 32
    for _ in range(10):
        np.multiply(c2, PHILOX_ROUND_B, out=prod_b)
        np.multiply(c0, PHILOX_ROUND_A, out=prod_a)
        np.right_shift(prod_b, _SHIFT32, out=c0)  # c0 = hi(B*c2) ^ c1 ^ k0
        c0 ^= c1
        c0 ^= np.uint64(k0)
        np.right_shift(prod_a, _SHIFT32, out=c2)  # c2 = hi(A*c0) ^ c3 ^ k1
        c2 ^= c3
        c2 ^= np.uint64(k1)
        np.bitwise_and(prod_b, _MASK64_LO, out=c1)  # c1 = lo(B*c2)
        np.bitwise_and(prod_a, _MASK64_LO, out=c3)  # c3 = lo(A*c0)
        k0 = (k0 + PHILOX_KEY_A) & _MASK32
        k1 = (k1 + PHILOX_KEY_B) & _MASK32
    return c0, c1, c2, c3


@functools.lru_cache(maxsize=16)
def _keep_threshold(p32: np.float32) -> int:
    """The least t in [0, 2**31] with ``float32(t) * _UNIFORM_SCALE > p32`` (2**31 when none).

    The uniform of a word is that expression of v = the word as int32, complemented when negative (v in
    [0, 2**31)), computed in float32; it never decreases as v grows (a rounding and a multiply by a positive
    constant are monotone).  So ``uniform > p`` is exactly ``v >= t``, an integer compare instead of the int ->
    float conversion and the multiply per element.
    """
    def above(v: int) -> bool:
        return bool(np.float32(v) * _UNIFORM_SCALE > p32)

    lo, hi = 0, 1 << 31  # invariant: above(hi) or hi == 2**31; not above(v) for v < lo
    while lo < hi:
        mid = (lo + hi) // 2
        if above(mid):
            hi = mid
        else:
            lo = mid + 1
    return lo


def _kept(words: np.ndarray, p32: np.float32) -> np.ndarray:
    """``uniform_from_uint32(words) > p32`` for uint64 words < 2**32, bit for bit, as an integer compare: v is the
    word when below 2**31, else its int32 complement ~x = 2**32 - 1 - word (:func:`_keep_threshold`)."""
    v = np.subtract(np.uint64(_MASK32), words)
    np.minimum(v, words, out=v)
    return v >= np.uint64(_keep_threshold(p32))


def _check_offsets(offsets) -> np.ndarray:
    off = np.asarray(offsets)
    if not np.issubdtype(off.dtype, np.integer):
        raise TypeError(f"offsets must hold integers, got dtype {off.dtype}")
    if off.size and np.issubdtype(off.dtype, np.signedinteger) and off.min() < 0:
        raise ValueError(f"offsets must be >= 0, got minimum {off.min()}")
    return off


def randint4x(seed: int, offsets) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Equivalent of Triton's ``tl.randint4x(seed, offsets)``: the four uint32 words of Philox4x32-10 with
    counter (lo32(offset), hi32(offset), 0, 0) and key (lo32(seed), hi32(seed)), each of offsets' shape.

    Raises TypeError / ValueError for a bad seed or negative / non-integer offsets.
    """
    seed = check_seed(seed)
    off = _check_offsets(offsets)
    words = _philox_uint64(seed, off.astype(np.uint64).reshape(-1))
    return tuple(w.astype(np.uint32).reshape(off.shape) for w in words)


def rand(seed: int, offsets) -> np.ndarray:
    """Equivalent of Triton's ``tl.rand(seed, offsets)`` (word 0 of ``tl.randint4x``): float32 uniforms in
    [0, 1), offsets' shape.  Not dropout's draw any more (that is :func:`dropout_rand`); kept as the
    primitive the tests hold to Triton's own ``tl.rand`` bits.

    ``offsets`` is an int or an integer array of non-negative 64-bit counters.  Raises TypeError /
    ValueError for a bad seed or negative / non-integer offsets.
    """
    return uniform_from_uint32(randint4x(seed, offsets)[0])


def _select_word(words, lanes: np.ndarray) -> np.ndarray:
    """words[lane] per element (uint64 arrays, lanes in 0..3)."""
    w0, w1, w2, w3 = words
    return np.where(lanes == 0, w0, np.where(lanes == 1, w1, np.where(lanes == 2, w2, w3)))


def _dropout_words(seed: int, counters: np.ndarray) -> np.ndarray:
    """Word c & 3 of Philox4x32-10(counter = c >> 2) for each uint64 counter c, one Philox call per element."""
    return _select_word(_philox_uint64(seed, counters >> np.uint64(2)), counters & np.uint64(3))


def dropout_rand(seed: int, counters) -> np.ndarray:
    """Dropout's uniforms: for each counter c, word (c mod 4) of Philox4x32-10(key = seed, counter = c >> 2),
    i.e. ``tl.randint4x(seed, c >> 2)[c & 3]`` converted as ``tl.rand`` converts a word.  float32 in [0, 1),
    counters' shape.  Raises TypeError / ValueError for a bad seed or negative / non-integer counters.
    """
    seed = check_seed(seed)
    off = _check_offsets(counters)
    words = _dropout_words(seed, off.astype(np.uint64).reshape(-1))
    return uniform_from_uint32(words.astype(np.uint32)).reshape(off.shape)


def _run_words(seed: int, first: int, n: int) -> np.ndarray:
    """Dropout words of the n consecutive counters first, first + 1, ...: one Philox call per group of four."""
    g0, g1 = first >> 2, (first + n - 1) >> 2
    groups = np.arange(g1 - g0 + 1, dtype=np.uint64) + np.uint64(g0)
    interleaved = np.stack(_philox_uint64(seed, groups), axis=1).reshape(-1)  # word j of group g at 4g + j
    return interleaved[first & 3 : (first & 3) + n]


def _offset_value(offset):
    """An int offset as is; a device offset (one-element int64 array, a multiple of 4) as its value."""
    if not isinstance(offset, np.ndarray):
        return offset
    if offset.dtype != np.int64:
        raise TypeError(f"offset as an array must have dtype int64, got {offset.dtype}")
    if offset.size != 1:
        raise ValueError(f"offset as an array must hold one element, got shape {offset.shape}")
    value = int(offset.reshape(-1)[0])
    if value < 0 or value % 4:
        raise ValueError(f"offset as an array must hold a multiple of 4 that is >= 0, got {value}")
    return value


def _scale(p: float, dtype: np.dtype):
    """The compute dtype's ``float32(1 / (1 - p))`` (module docstring, "Scaling formula")."""
    return compute_dtype(dtype).type(np.float32(1.0 / (1.0 - p)))


def _scaled_where(keep: np.ndarray, v: np.ndarray, scale) -> np.ndarray:
    """``np.where(keep, v * scale, 0)`` in the product's dtype, branch-free: the product's bits ANDed with all
    ones where kept and all zeros (+0.0) where dropped -- an exact 0 for an inf or NaN too, as the select gives.
    np.where branches per element, and a dropout mask is random: measured on one core, it took 4x as long at 8k
    elements (DigitsCNN's dropout) and 8x at 128k."""
    y = v * scale
    bits = y.view(f"u{y.itemsize}")
    bits &= np.negative(keep, dtype=bits.dtype)  # True -> 0xFF..F, False -> 0
    return y


def _apply(name: str, x: np.ndarray, p, seed, offset, row_len, row_stride,
           save_mask: bool = False) -> tuple[np.ndarray, np.ndarray | None]:
    """``(y, keep)``: the dropout of x and, if ``save_mask``, its bool mask (None for p == 0 or unsaved)."""
    check_float_array(name, x)
    a = check_dropout_args(p, seed, _offset_value(offset), x.size, row_len, row_stride)
    if a.p == 0.0:
        return x.copy(), None

    ct = compute_dtype(x.dtype)
    scale = _scale(a.p, x.dtype)
    p32 = np.float32(a.p)
    flat = np.ascontiguousarray(x).reshape(-1)
    out = np.empty(flat.shape, dtype=x.dtype)
    mask = np.empty(flat.shape, dtype=bool) if save_mask else None
    for start in range(0, flat.size, _CHUNK):
        stop = min(start + _CHUNK, flat.size)
        if a.row_len is None:  # consecutive counters: each group of four drawn once, whatever the offset
            words = _run_words(a.seed, a.offset + start, stop - start)
        else:  # every counter is < 2**63 (checked), so uint64 holds each term exactly
            i, row_len = np.arange(start, stop, dtype=np.uint64), np.uint64(a.row_len)
            counters = (i // row_len) * np.uint64(a.row_stride) + i % row_len + np.uint64(a.offset)
            words = _dropout_words(a.seed, counters)
        keep = _kept(words, p32)
        if mask is not None:
            mask[start:stop] = keep
        out[start:stop] = _scaled_where(keep, flat[start:stop].astype(ct, copy=False), scale)
    return out.reshape(x.shape), (None if mask is None else mask.reshape(x.shape))


def dropout_forward(
    x: np.ndarray, p: float, seed: int, offset: int, row_len: int | None = None, row_stride: int | None = None
) -> np.ndarray:
    """Inverted dropout of ``x`` (any shape): keep element i iff ``dropout_rand(seed, c_i) > p``.

    c_i = offset + i, or with ``row_len`` and ``row_stride`` (given together) offset + (i // row_len) *
    row_stride + i % row_len: a data-parallel rank's rows of the global batch's mask (module docstring).
    ``offset`` may be a one-element int64 array holding a multiple of 4 (a device offset).
    Returns y, same shape and dtype as x.  Raises TypeError for non-numpy / non-float x or non-int
    seed/offset/row_len/row_stride (or a non-int64 offset array), ValueError for p outside [0, 1), seed
    outside [0, 2**63), a negative offset (or an offset array that is not one multiple of 4), a counter past
    2**63, or a bad row mapping (one without the other, row_len < 1, row_stride < row_len, numel not a
    multiple of row_len).
    """
    return _apply("x", x, p, seed, offset, row_len, row_stride)[0]


def dropout_backward(
    dy: np.ndarray, p: float, seed: int, offset: int, row_len: int | None = None, row_stride: int | None = None
) -> np.ndarray:
    """Gradient of :func:`dropout_forward`: the same regenerated mask and scale applied to ``dy``.

    Must be called with the forward's (p, seed, offset, row_len, row_stride).  Raises like
    :func:`dropout_forward`.
    """
    return _apply("dy", dy, p, seed, offset, row_len, row_stride)[0]


# ------------------------------------------------------------------ CPU extension: the mask kept for backward
#
# Not part of the kernel contract (the framework looks for it with getattr, as for conv2d's column matrix): on a
# GPU, regenerating the mask in backward is cheaper than storing it, but here Philox is ~10 rounds of numpy passes
# and costs more than the rest of dropout, so a training step keeps forward's mask (one byte per element) and
# backward is one select.  Same mask, scale and rounding as dropout_backward, bit for bit.


def dropout_forward_saving_mask(
    x: np.ndarray, p: float, seed: int, offset: int, row_len: int | None = None, row_stride: int | None = None
) -> tuple[np.ndarray, np.ndarray | None]:
    """:func:`dropout_forward` that also returns its mask: ``(y, keep)``, keep a bool array of x's shape (True
    where the element was kept), or None when p == 0 (nothing dropped).  Raises as :func:`dropout_forward`."""
    return _apply("x", x, p, seed, offset, row_len, row_stride, save_mask=True)


def dropout_backward_from_mask(dy: np.ndarray, keep: np.ndarray | None, p: float) -> np.ndarray:
    """:func:`dropout_backward` from the mask :func:`dropout_forward_saving_mask` returned with the same ``p``:
    ``dy * float32(1 / (1 - p))`` where keep, an exact 0 elsewhere; dy's shape and dtype.

    Raises TypeError for a non-float dy or a keep that is not a bool numpy array (or None), ValueError for p
    outside [0, 1), a keep of another shape than dy, or a keep of None with p != 0.
    """
    check_float_array("dy", dy)
    a = check_dropout_args(p, 0, 0, 0)
    if keep is None:
        if a.p != 0.0:
            raise ValueError(f"keep is None (the mask of p == 0) but p is {a.p}")
        return dy.copy()
    if not isinstance(keep, np.ndarray) or keep.dtype != np.bool_:
        raise TypeError(f"keep must be a bool numpy array (the forward's mask), got "
                        f"{type(keep).__name__} {getattr(keep, 'dtype', '')}")
    if keep.shape != dy.shape:
        raise ValueError(f"keep has shape {keep.shape}, expected dy's shape {dy.shape}")
    ct = compute_dtype(dy.dtype)
    dx = _scaled_where(keep, dy.astype(ct, copy=False), _scale(a.p, dy.dtype))
    return dx.astype(dy.dtype, copy=False)


# ------------------------------------------------------------------------ dropout fused with a residual add
#
# out = residual + dropout(x): a transformer's ``x + dropout(sublayer(x))``.  The dropout is exactly
# ``dropout_forward``'s (same counters, mask and scale, the product rounded to x's dtype), then the sum is
# rounded once to the dtype -- numpy's ``residual + dropout_forward(x, ...)``, float16 included (numpy adds
# float16 in float32 and rounds once, which is the correctly rounded float16 sum: float32 holds 2 * 11 + 2
# bits).  A GPU kernel does it in one pass: x and residual read, out written (3 * numel elements) instead of
# dropout's 2 and the add's 3.  The backward needs no kernel of its own: d(residual) is dy itself and d(x) is
# ``dropout_backward(dy, ...)`` with the same arguments (``dropout_add_backward``).


def check_residual(x: np.ndarray, residual: np.ndarray) -> None:
    """The residual must be an array of x's type, shape and dtype (TypeError / ValueError naming it)."""
    check_float_array("residual", residual)
    if residual.dtype != x.dtype:
        raise TypeError(f"residual has dtype {residual.dtype}, expected x's dtype {x.dtype}")
    if residual.shape != x.shape:
        raise ValueError(f"residual has shape {residual.shape}, expected x's shape {x.shape}")


def dropout_add_forward(
    x: np.ndarray, residual: np.ndarray, p: float, seed: int, offset: int, row_len: int | None = None,
    row_stride: int | None = None
) -> np.ndarray:
    """``residual + dropout_forward(x, p, seed, offset, row_len, row_stride)``, the sum rounded once to x's dtype.

    The mask is dropout_forward's bit for bit (same counters, same row mapping).  Returns out, x's shape and dtype.
    Raises as :func:`dropout_forward` for x and the stream arguments (``offset`` an int), TypeError for a residual
    that is not a float numpy array of x's dtype, ValueError for one of another shape.
    """
    check_float_array("x", x)
    check_residual(x, residual)
    check_dropout_args(p, seed, offset, x.size, row_len, row_stride)  # an int offset: no device offset here
    return np.add(residual, dropout_forward(x, p, seed, offset, row_len, row_stride))


def dropout_add_backward(
    dy: np.ndarray, p: float, seed: int, offset: int, row_len: int | None = None, row_stride: int | None = None
) -> np.ndarray:
    """Gradient of :func:`dropout_add_forward` w.r.t. x: ``dropout_backward(dy, ...)`` with the forward's arguments
    (the residual's gradient is dy itself).  Raises like :func:`dropout_backward`."""
    return dropout_backward(dy, p, seed, offset, row_len, row_stride)


# ------------------------------------------------------------------ bias + ReLU + dropout in the linear epilogue
#
# y = dropout(relu(x @ w.T + b)): ``Linear -> ReLU -> Dropout`` (an MLP block, DigitsCNN's hidden layer) as one
# contract call, so a GPU GEMM can apply the dropout in its epilogue (the ladder's rung 3,
# ``docs/ladder/dropout.md``) instead of writing relu(linear) and running dropout's own pass over it.  The mask is
# ``dropout_forward``'s on the [M, N] output with the flat mapping: output element (i, j) draws counter
# offset + i * N + j.  This reference is literally the two calls (so the output is rounded to the dtype before the
# scale, as the two passes round it; a fused GPU epilogue scales the unrounded accumulator, which differs in the
# last bit of 16-bit results, never in the mask).
#
# Backward without the RNG: y = relu(z) * keep * scale with scale > 0, so y > 0 exactly where z > 0 and the
# element was kept, and the gradient w.r.t. z is g = where(y <= 0, 0, dy * scale) -- linear_backward's
# threshold_backward select with dy scaled (a NaN y, a kept NaN pre-activation, passes its gradient; an inf / NaN
# dy where y <= 0 gives 0), then the usual three GEMMs.  Only y is saved, as for linear + ReLU.


def linear_relu_dropout_forward(
    x: np.ndarray, w: np.ndarray, b: np.ndarray | None, p: float, seed: int, offset: int
) -> np.ndarray:
    """``dropout_forward(relu(x @ w.T + b), p, seed, offset)``: y[M, N], x's dtype; output element (i, j) is kept iff
    ``dropout_rand(seed, offset + i * N + j) > p`` (the flat mapping over y).

    Raises as :func:`kernels.numpy.linear_relu.linear_forward` for x, w, b (checked first), then as
    :func:`dropout_forward` for p, seed and offset (an int: no device offset; offset + M * N <= 2**63).
    """
    check_float_array("x", x, 2)
    check_float_array("w", w, 2)
    if b is not None:
        check_float_array("b", b, 1)
    check_same_dtype(x=x, w=w, b=b)
    M, N, _ = linear_forward_shapes(x.shape, w.shape, None if b is None else b.shape)
    check_dropout_args(p, seed, offset, M * N)
    return dropout_forward(linear_forward(x, w, b, True), p, seed, offset)


def linear_relu_dropout_backward(
    dy: np.ndarray, x: np.ndarray, w: np.ndarray, y: np.ndarray, p: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Gradients ``(dx[M, K], dw[N, K], db[N])`` of :func:`linear_relu_dropout_forward` for upstream ``dy[M, N]``,
    from its output ``y`` and ``p`` alone: g = where(y <= 0, 0, dy * float32(1 / (1 - p))), then
    dx = g @ w, dw = g.T @ x, db = g.sum(0) (db always returned).

    Raises as :func:`kernels.numpy.linear_relu.linear_backward` with ``relu=True`` (y required), then TypeError /
    ValueError for p as :func:`dropout_forward`.
    """
    check_float_array("dy", dy, 2)
    check_float_array("x", x, 2)
    check_float_array("w", w, 2)
    check_relu_output(y, True)
    check_float_array("y", y, 2)
    dtype = check_same_dtype(dy=dy, x=x, w=w, y=y)
    linear_backward_shapes(dy.shape, x.shape, w.shape, y.shape)
    a = check_dropout_args(p, 0, 0, 0)
    ct = compute_dtype(dtype)
    scale = _scale(a.p, dtype)
    g = np.where(y <= 0, ct.type(0), dy.astype(ct, copy=False) * scale)
    xc, wc = x.astype(ct, copy=False), w.astype(ct, copy=False)
    dx, dw, db = np.matmul(g, wc), np.matmul(g.T, xc), g.sum(axis=0)
    return dx.astype(dtype, copy=False), dw.astype(dtype, copy=False), db.astype(dtype, copy=False)
