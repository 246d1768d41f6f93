"""2-D convolution (cross-correlation, like ``torch.nn.functional.conv2d``) on the CPU with numpy.

Math (NCHW, no dilation, no groups)::

    x[N, C, H, W], w[K, C, R, S], b[K] or None  ->  y[N, K, P, Q]
    P = (H + 2*ph - R) // sh + 1,   Q = (W + 2*pw - S) // sw + 1
    y[n, k, p, q] = b[k] + sum_{c, r, s} w[k, c, r, s] * xpad[n, c, p*sh + r, q*sw + s]

Algorithm: im2col, then the three GEMMs on the column matrix, which is stored in one of two layouts so that
BLAS sees large operands and no pass copies more than it must (:func:`n_minor_layout` picks, per geometry):

* **n-minor**, ``cols[C*R*S, P*Q*N]`` (row (c, r, s), column (p, q, n)), for small maps with many channels
  (DigitsCNN's 4x4 layer, MNIST-1D's later layers, a DCGAN's 7x7 and smaller):
  forward ``Y[K, PQN] = w[K, CRS] @ cols`` (one GEMM, then Y moved to [N, K, P, Q]);
  backward_weight ``dw = dyT[K, PQN] @ cols.T`` (a plainly transposed operand);
  backward_input ``dcols = w.T @ dyT`` (dyT, dy moved N-last, is made once for both).
* **per image**, ``cols[N, C*R*S, P*Q]``, for a first layer (C = 1) and for large maps (MNIST's 26x26):
  forward ``y[n] = w @ cols[n]`` (one batched matmul, landing in NCHW: no transpose of y);
  backward_weight ``dw = sum_n dy[n] @ cols[n].T``; backward_input ``dcols[n] = w.T @ dy[n]``.

im2col is R*S strided slice copies, ``cols[:, r, s] = xpad[:, :, r::sh, s::sw]`` from the padded input built in
the same layout (x moved to [C, Hp, Wp, N], or x itself per image); when the windows are fewer than the taps, P*Q
window copies.  col2im is the same loop with ``+=`` into a zeroed padded gradient, so overlapping windows
accumulate and rows/columns past the last window (``H + 2*ph - R`` not a multiple of ``sh``) get exactly zero --
which is why the caller passes ``input_shape``.  A slice copy pays a per-row overhead and its rows are Q*N (stride
1) or N elements long n-minor but only Q per image; so per image on small maps (at most 256 output pixels: a
first layer on 8x8 digits, a DCGAN's 28x28 -> 14x14) im2col and col2im are one ``np.take`` each through cached
index tables instead: im2col gathers ``x[n].ravel()[window_index]`` (padding reads an appended zero), col2im
gathers for each input pixel the (at most ceil(R/sh)*ceil(S/sw)) columns that read it and sums them.

CPU-backend extension (not part of the kernel contract; the framework looks for it with ``getattr``): a
training step needs the column matrix twice, in forward and in backward_weight.
:func:`conv2d_forward_saving_columns` returns it with y, and :func:`conv2d_backward_from_columns` computes
dx and dw from it (sharing the transposed dy between them), so the windows are gathered once per step.
The contract functions build what they need themselves.

Cost: 2*N*K*C*R*S*P*Q FLOPs for each of the three GEMMs.  Memory traffic is dominated by the column matrix,
N*C*R*S*P*Q elements (R*S times the input for stride 1): written once by forward, read by its GEMM and by
backward_weight's; n-minor, the y and dy transposes move N*K*P*Q elements each.

Layout / limits: arrays are C-contiguous numpy arrays of one dtype (float32 or float64; float16 is computed
in float32 and cast back).  stride and padding are ints or (h, w) pairs, stride >= 1, padding >= 0; the kernel
must fit in the padded input.
"""

from __future__ import annotations

import functools

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from .._args import (
    ConvGeometry,
    PoolGeometry,
    conv2d_backward_input_geometry,
    conv2d_backward_weight_geometry,
    conv2d_forward_geometry,
)
from ._checks import check_float_array, check_same_dtype, compute_dtype

# the kernel contract (ARCHITECTURE.md); conv2d_forward_saving_columns and conv2d_backward_from_columns are this
# backend's extension (module docstring), which the framework uses when a backend has them
__all__ = ["conv2d_forward", "conv2d_backward_input", "conv2d_backward_weight", "conv2d_backward_bias"]

# n-minor columns only for output rows shorter than this (module docstring, "Layouts")
_N_MINOR_MAX_Q = 16
# per image, output maps up to this many pixels gather with np.take instead of slice copies (module docstring)
_GATHER_MAX_PQ = 256
# per image without gathers, input gradients are computed this many bytes of dcols at a time (:func:`_input_grad`)
_COL2IM_BLOCK_BYTES = 2 << 20
# cost of one n-major slice row (Q elements) over one element of the n-minor y / dy transposes, roughly (measured)
_ROW_COST = 8
# n-minor col2im as one batched 0/1-matrix product for input maps up to this many pixels (:func:`_col2im`)
_COL2IM_MATMUL_MAX_HW = 16


@functools.lru_cache(maxsize=64)
def window_index(C: int, H: int, W: int, R: int, S: int, sh: int, sw: int, ph: int, pw: int) -> np.ndarray:
    """Read-only ``idx[C, R, S, P, Q]``: flat position in ``x[n].ravel()`` of window element (r, s) at
    output (p, q) of channel c; padding positions map to the extra slot ``C*H*W``.  Shared with maxpool2d.
    """
    slot = C * H * W
    P = (H + 2 * ph - R) // sh + 1
    Q = (W + 2 * pw - S) // sw + 1
    img = np.full((C, H + 2 * ph, W + 2 * pw), slot, dtype=np.intp)
    img[:, ph : ph + H, pw : pw + W] = np.arange(slot, dtype=np.intp).reshape(C, H, W)
    win = sliding_window_view(img, (R, S), axis=(1, 2))[:, : sh * (P - 1) + 1 : sh, : sw * (Q - 1) + 1 : sw]
    idx = np.ascontiguousarray(win.transpose(0, 3, 4, 1, 2))
    idx.flags.writeable = False
    return idx


def window_key(g: ConvGeometry | PoolGeometry) -> tuple[int, ...]:
    """The arguments of :func:`window_index` (and the cached tables built on it): the geometry without N."""
    return g.C, g.H, g.W, g.R, g.S, g.sh, g.sw, g.ph, g.pw


def gather_windows(x2: np.ndarray, idx: np.ndarray, fill, padded: bool) -> np.ndarray:
    """``out[n, ...] = x2[n, idx[...]]`` for ``x2[N, L]``; index L (the padding slot) reads ``fill``."""
    if padded:
        N, L = x2.shape
        ext = np.empty((N, L + 1), dtype=x2.dtype)
        ext[:, :L] = x2
        ext[:, L] = fill
        x2 = ext
    return np.take(x2, idx, axis=1)


def n_minor_layout(g: ConvGeometry) -> bool:
    """Whether geometry ``g``'s columns are stored n-minor ``[C*R*S, P*Q*N]`` (else per image, ``[N, C*R*S, P*Q]``).

    Per image, the slice copies pay a per-row overhead on C*R*S*N*P rows of Q elements (in im2col and again in
    col2im); n-minor instead moves Y and dy (K*N*P*Q elements each) between NCHW and N-last with strided reads.
    So n-minor when C*R*S rows cost more than K*Q elements and the rows are short: DigitsCNN's second conv, the
    MNIST-1D convs after the first, a DCGAN's 7x7 and smaller maps; per image for a first layer (C = 1) and for
    MNIST's 26x26 maps (measured on one core, in-process A/B: the other layout cost those shapes 1.15-2.2x)."""
    return g.Q < _N_MINOR_MAX_Q and _ROW_COST * g.C * g.R * g.S > g.K * g.Q


def columns_shape(g: ConvGeometry) -> tuple[int, ...]:
    """The shape of geometry ``g``'s column matrix in its layout (:func:`n_minor_layout`)."""
    CRS = g.C * g.R * g.S
    return (CRS, g.P * g.Q * g.N) if n_minor_layout(g) else (g.N, CRS, g.P * g.Q)


def check_columns(cols, g: ConvGeometry, ct, shape: tuple[int, ...] | None = None) -> None:
    """ValueError unless ``cols`` is a column matrix of geometry ``g`` in compute dtype ``ct`` (:func:`columns_shape`,
    or ``shape`` for another layout): what the backward passes that take the forward's columns check first."""
    shape = columns_shape(g) if shape is None else shape
    if not isinstance(cols, np.ndarray) or cols.dtype != ct or cols.shape != shape:
        raise ValueError(f"cols must be the forward's column matrix, a {ct} array of shape {shape}, "
                         f"got {getattr(cols, 'shape', type(cols).__name__)} {getattr(cols, 'dtype', '')}")


def _empty(lead: tuple[int, ...], N: int, A: int, B: int, dtype, n_minor: bool, zeros: bool = False):
    """A new array stored ``lead + (A, B, N)`` (n-minor) or ``(N,) + lead + (A, B)`` (per image); returns
    (storage, view) with the view's axes always ``lead + (N, A, B)``, so the code indexing it is the same in
    both layouts."""
    make = np.zeros if zeros else np.empty
    k = len(lead)
    if n_minor:
        a = make(lead + (A, B, N), dtype=dtype)
        return a, a.transpose(*range(k), k + 2, k, k + 1)
    a = make((N,) + lead + (A, B), dtype=dtype)
    return a, a.transpose(*range(1, k + 1), 0, k + 1, k + 2)


def _unaliased_rows(a: np.ndarray) -> np.ndarray:
    """``a`` (C-contiguous, batch first) or a copy of it whose batch rows start a cache line past a multiple of
    1 KiB apart.  Moving the batch axis last reads one element of each row in turn; rows a power of two apart
    (2 KiB for DigitsCNN's [64, 32, 4, 4] x, 4 KiB for its dy) all fall in the same few L1 sets and evict each
    other, which made those transposes ~5x slower than with this extra contiguous copy."""
    if a.shape[0] < 2 or a[0].nbytes % 1024:
        return a
    row = a[0].size
    stage = np.empty((a.shape[0], row + 64 // a.itemsize), dtype=a.dtype)
    stage[:, :row] = a.reshape(a.shape[0], row)
    return stage[:, :row].reshape(a.shape)


def _padded_input(x: np.ndarray, g: ConvGeometry, ct, n_minor: bool) -> np.ndarray:
    """``xpad[C, N, Hp, Wp]`` (axes in that order, stored in the columns' layout), zero-padded; only the rows and
    columns some window reads (Hp = sh*(P-1) + R)."""
    if not (g.ph or g.pw) and not n_minor:
        return x.transpose(1, 0, 2, 3).astype(ct, copy=False)  # a view of x: the slice copies read it directly
    xt = (_unaliased_rows(x) if n_minor else x).transpose(1, 0, 2, 3)
    Hp, Wp = g.sh * (g.P - 1) + g.R, g.sw * (g.Q - 1) + g.S
    _, xpad = _empty((g.C,), g.N, Hp, Wp, ct, n_minor, zeros=bool(g.ph or g.pw))
    h, w = max(0, min(g.H, Hp - g.ph)), max(0, min(g.W, Wp - g.pw))  # input past the last window is never read
    xpad[:, :, g.ph : g.ph + h, g.pw : g.pw + w] = xt[:, :, :h, :w]
    return xpad


def _taps(g: ConvGeometry):
    """Yield ``(cols index, xpad index, by_window)`` covering every (tap, window) pair once: R*S tap slices
    (``cols[:, r, s]`` is [C, N, P, Q], as the strided xpad slice), or, when there are fewer windows than taps (a
    kernel about as large as the input), P*Q window slices (``cols[..., p, q]`` is [C, R, S, N], the xpad window
    [C, N, R, S]: by_window, the caller transposes)."""
    sh, sw = g.sh, g.sw
    if g.R * g.S <= g.P * g.Q:
        for r in range(g.R):
            for s in range(g.S):
                rows, cols = slice(r, r + sh * (g.P - 1) + 1, sh), slice(s, s + sw * (g.Q - 1) + 1, sw)
                yield (slice(None), r, s), (slice(None), slice(None), rows, cols), False
    else:
        for p in range(g.P):
            for q in range(g.Q):
                rows, cols = slice(p * sh, p * sh + g.R), slice(q * sw, q * sw + g.S)
                yield (Ellipsis, p, q), (slice(None), slice(None), rows, cols), True


@functools.lru_cache(maxsize=64)
def _col2im_table(*geometry: int) -> np.ndarray:
    """``table[T, C*H*W]``: for each input pixel, the columns j of one image's ``dcols[C*R*S*P*Q]`` that read it.

    Unused entries point at the zero slot ``C*R*S*P*Q``.  T is the largest number of windows
    covering one pixel (at most ceil(R/sh)*ceil(S/sw)).
    """
    C, H, W = geometry[:3]
    dest = window_index(*geometry).reshape(-1)  # column j -> input pixel (or the padding slot)
    n_cols, slot = dest.size, C * H * W
    j = np.flatnonzero(dest < slot)
    d = dest[j]
    order = np.argsort(d, kind="stable")
    j, d = j[order], d[order]
    counts = np.bincount(d, minlength=slot)
    rank = np.arange(d.size) - (np.cumsum(counts) - counts)[d]  # position of j among its pixel's columns
    table = np.full((max(int(counts.max()), 1), slot), n_cols, dtype=np.intp)
    table[rank, d] = j
    table.flags.writeable = False
    return table


@functools.lru_cache(maxsize=16)
def _col2im_matrix(dtype, *geometry: int) -> np.ndarray:
    """Read-only ``A[H*W, R*S*P*Q]`` of ``dtype``: 1 where window element (r, s) of output (p, q) reads input pixel
    (h, w) (padding reads none), for one channel: :func:`_col2im`'s product form."""
    C, H, W = geometry[:3]
    one = window_index(1, H, W, *geometry[3:]).reshape(-1)  # window element -> pixel of channel 0, or the pad slot
    A = np.zeros((H * W + 1, one.size), dtype=dtype)
    A[one, np.arange(one.size)] = 1.0
    A = np.ascontiguousarray(A[: H * W])
    A.flags.writeable = False
    return A


def _gathers(g: ConvGeometry) -> bool:
    """Per image and small maps: im2col and col2im as one np.take each through cached index tables."""
    return not n_minor_layout(g) and g.P * g.Q <= _GATHER_MAX_PQ


def _cols_view(store: np.ndarray, g: ConvGeometry) -> np.ndarray:
    """The column matrix (either layout) viewed as ``[C, R, S, N, P, Q]``."""
    if n_minor_layout(g):
        return store.reshape(g.C, g.R, g.S, g.P, g.Q, g.N).transpose(0, 1, 2, 5, 3, 4)
    return store.reshape(g.N, g.C, g.R, g.S, g.P, g.Q).transpose(1, 2, 3, 0, 4, 5)


def _im2col(x: np.ndarray, g: ConvGeometry, ct) -> np.ndarray:
    """The column matrix of x, :func:`columns_shape` in :func:`n_minor_layout`'s layout."""
    if _gathers(g):  # [N, C*R*S, P*Q] = x[n].ravel()[window_index]
        idx = window_index(*window_key(g)).reshape(g.C * g.R * g.S, g.P * g.Q)
        x2 = x.astype(ct, copy=False).reshape(g.N, g.C * g.H * g.W)
        return gather_windows(x2, idx, 0, padded=bool(g.ph or g.pw))
    n_minor = n_minor_layout(g)
    xpad = _padded_input(x, g, ct, n_minor)
    store, cols = _empty((g.C, g.R, g.S), g.N, g.P, g.Q, ct, n_minor)  # cols[C, R, S, N, P, Q]
    for dst, src, by_window in _taps(g):
        cols[dst] = xpad[src].transpose(0, 2, 3, 1) if by_window else xpad[src]
    return store.reshape(columns_shape(g))


def _col2im(dcols: np.ndarray, g: ConvGeometry, dtype) -> np.ndarray:
    """``dx[N, C, H, W]``: the adjoint of :func:`_im2col` by slice adds, every column added back where it was read
    (the per-image gather path is in :func:`_input_grad`)."""
    n_minor = n_minor_layout(g)
    if n_minor and g.H * g.W <= _COL2IM_MATMUL_MAX_HW:
        # tiny maps: per channel, dx[H*W, N] = A[H*W, R*S*P*Q] @ dcols_c[R*S*P*Q, N] with A the 0/1 matrix of which
        # window element lands on which pixel -- one BLAS call over dcols' contiguous rows instead of R*S strided
        # slice adds and the padded buffer (DigitsCNN's 4x4 maps: 0.65x the time on one core)
        D = dcols.reshape(g.C, g.R * g.S * g.P * g.Q, g.N)
        dxT = np.matmul(_col2im_matrix(dcols.dtype, *window_key(g)), D)  # [C, H*W, N]
        dx = np.empty((g.N, g.C, g.H, g.W), dtype=dtype)
        dx[...] = dxT.reshape(g.C, g.H, g.W, g.N).transpose(3, 0, 1, 2)
        return dx
    Hp, Wp = max(g.sh * (g.P - 1) + g.R, g.H + g.ph), max(g.sw * (g.Q - 1) + g.S, g.W + g.pw)
    cols = _cols_view(dcols, g)
    _, dxpad = _empty((g.C,), g.N, Hp, Wp, dcols.dtype, n_minor, zeros=True)
    for dst, src, by_window in _taps(g):
        dxpad[src] += cols[dst].transpose(0, 3, 1, 2) if by_window else cols[dst]
    dx = np.empty((g.N, g.C, g.H, g.W), dtype=dtype)
    dx[...] = dxpad[:, :, g.ph : g.ph + g.H, g.pw : g.pw + g.W].transpose(1, 0, 2, 3)
    return dx


def _transposed_dy(dy: np.ndarray, g: ConvGeometry, ct) -> np.ndarray:
    """n-minor: ``dyT[K, P*Q*N]``, dy with K first and its columns in the column matrix's order."""
    store, view = _empty((g.K,), g.N, g.P, g.Q, ct, True)
    view[...] = _unaliased_rows(dy).transpose(1, 0, 2, 3)
    return store.reshape(g.K, -1)


def _weight_grad(dy: np.ndarray, cols: np.ndarray, g: ConvGeometry, ct, dyT=None) -> np.ndarray:
    """``dw[K, C*R*S]`` from dy and the column matrix: one GEMM (n-minor) or one per image, summed."""
    if n_minor_layout(g):
        return (_transposed_dy(dy, g, ct) if dyT is None else dyT) @ cols.T
    dy3 = dy.astype(ct, copy=False).reshape(g.N, g.K, g.P * g.Q)
    return np.matmul(dy3, cols.transpose(0, 2, 1)).sum(axis=0)


def _full_conv_input_grad(g: ConvGeometry) -> bool:
    """Stride 1, padding < kernel, and no more output than input channels: dx as a forward convolution of dy
    (:func:`_input_grad`)."""
    return g.sh == g.sw == 1 and g.ph < g.R and g.pw < g.S and g.K <= g.C


def _input_grad(dy: np.ndarray, w: np.ndarray, g: ConvGeometry, ct, dtype, dyT=None) -> np.ndarray:
    """``dx[N, C, H, W]``: dcols = w.T @ dy (one GEMM or one per image), then col2im.

    For stride 1 with K <= C (:func:`_full_conv_input_grad`) instead the identity dx = conv2d(dy, w', padding
    (R-1-ph, S-1-pw)), w'[c, k, r, s] = w[k, c, R-1-r, S-1-s]: the same GEMM size, but the windows gathered are
    K*R*S rows of dy instead of C*R*S rows of dcols scattered back with ``+=`` (measured on one core: 0.06x the
    time for a DCGAN's 32 -> 1 channel output conv, 0.76x at K == C; at K > C, MNIST's 32 -> 64, col2im wins).
    """
    if _full_conv_input_grad(g):
        w_flipped = np.ascontiguousarray(w.astype(ct, copy=False)[:, :, ::-1, ::-1].transpose(1, 0, 2, 3))
        dx, _ = _forward(dy.astype(ct, copy=False), w_flipped, None, 1, (g.R - 1 - g.ph, g.S - 1 - g.pw), False)
        return dx.astype(dtype, copy=False)
    wT = w.astype(ct, copy=False).reshape(g.K, -1).T
    if n_minor_layout(g):
        return _col2im(wT @ (_transposed_dy(dy, g, ct) if dyT is None else dyT), g, dtype)
    dy3 = dy.astype(ct, copy=False).reshape(g.N, g.K, g.P * g.Q)
    if not _gathers(g):
        # a few images at a time, so each block's dcols (~_COL2IM_BLOCK_BYTES) is still in cache when col2im adds it
        # back: MNIST's 26x26 layer has 42 MB of dcols, and the whole batch at once took 1.6x as long (one core)
        per_image = g.C * g.R * g.S * g.P * g.Q * np.dtype(ct).itemsize
        block = max(1, _COL2IM_BLOCK_BYTES // per_image)
        if block >= g.N:
            return _col2im(np.matmul(wT, dy3), g, dtype)
        dx = np.empty((g.N, g.C, g.H, g.W), dtype=dtype)
        for n in range(0, g.N, block):
            images = dy3[n : n + block]
            dx[n : n + block] = _col2im(np.matmul(wT, images), g._replace(N=images.shape[0]), dtype)
        return dx
    # col2im as a gather: each input pixel sums the (at most ceil(R/sh)*ceil(S/sw)) columns that read it; one
    # extra zero column per image, which the table's unused entries point at (dcols written in place beside it)
    n_cols = g.C * g.R * g.S * g.P * g.Q
    dcols = np.empty((g.N, n_cols + 1), dtype=ct)
    dcols[:, n_cols] = 0
    np.matmul(wT, dy3, out=dcols[:, :n_cols].reshape(g.N, -1, g.P * g.Q))
    contrib = np.take(dcols, _col2im_table(*window_key(g)), axis=1)  # [N, T, C*H*W]
    dx = contrib.sum(axis=1) if contrib.shape[1] > 1 else contrib[:, 0]
    return dx.reshape(g.N, g.C, g.H, g.W).astype(dtype, copy=False)


def checked_geometry(x, w, b, stride, padding) -> ConvGeometry:
    """:func:`conv2d_forward`'s argument checks, in its order; returns the geometry (shared with the fused
    conv -> ReLU -> max-pool extension in maxpool2d.py)."""
    check_float_array("x", x, 4)
    check_float_array("w", w, 4)
    if b is not None:
        check_float_array("b", b, 1)
    check_same_dtype(x=x, w=w, b=b)
    return conv2d_forward_geometry(x.shape, w.shape, None if b is None else b.shape, stride, padding)


def _forward(x, w, b, stride, padding, keep_columns: bool, batch_last: bool = False, g: ConvGeometry | None = None):
    """``(y, cols or None)``; with ``batch_last`` and an n-minor geometry, y is left as the GEMM made it,
    ``Y[K, P, Q, N]`` in the compute dtype (the conv -> ReLU -> max-pool extension in maxpool2d.py pools it there).
    ``g``: :func:`checked_geometry` of these arguments when the caller has already made those checks."""
    if g is None:
        g = checked_geometry(x, w, b, stride, padding)
    dtype = x.dtype
    ct = compute_dtype(dtype)
    cols = _im2col(x, g, ct)
    w2 = w.astype(ct, copy=False).reshape(g.K, -1)
    bias = None if b is None else b.astype(ct, copy=False)[:, None]
    if n_minor_layout(g):
        Y = w2 @ cols  # [K, P*Q*N]
        if bias is not None:  # on Y's contiguous rows: a ufunc writing y's transposed view iterates badly
            Y += bias
        if batch_last:
            return Y.reshape(g.K, g.P, g.Q, g.N), (cols if keep_columns else None)
        y = np.empty((g.N, g.K, g.P, g.Q), dtype=dtype)
        y[...] = Y.reshape(g.K, g.P, g.Q, g.N).transpose(3, 0, 1, 2)
    else:
        y = np.matmul(w2, cols)  # [N, K, P*Q]: lands in NCHW
        if bias is not None:
            y += bias
        y = y.reshape(g.N, g.K, g.P, g.Q).astype(dtype, copy=False)
    return y, (cols if keep_columns else None)


def conv2d_forward(x: np.ndarray, w: np.ndarray, b: np.ndarray | None, stride, padding) -> np.ndarray:
    """Convolve ``x[N, C, H, W]`` with ``w[K, C, R, S]`` plus optional bias ``b[K]``.

    Returns ``y[N, K, P, Q]`` in x's dtype.  Raises TypeError for non-numpy / non-float / mixed dtype
    inputs and ValueError for wrong ndim, mismatched C, a bias that is not [K], bad stride/padding,
    or a kernel larger than the padded input.
    """
    return _forward(x, w, b, stride, padding, keep_columns=False)[0]


def conv2d_forward_saving_columns(x: np.ndarray, w: np.ndarray, b: np.ndarray | None, stride, padding):
    """:func:`conv2d_forward` that also returns its column matrix: ``(y, cols)``, cols an opaque array in the
    compute dtype (:func:`columns_shape`) for :func:`conv2d_backward_from_columns` (CPU extension).
    Raises as :func:`conv2d_forward`."""
    return _forward(x, w, b, stride, padding, keep_columns=True)


def conv2d_backward_from_columns(dy: np.ndarray, cols: np.ndarray, w: np.ndarray, input_shape, stride, padding,
                                 need_input: bool = True, need_weight: bool = True):
    """``(dx or None, dw or None)`` from the forward's column matrix (CPU extension): the gradients of
    :func:`conv2d_backward_input` and :func:`conv2d_backward_weight` without gathering the windows again.

    ``cols`` is what :func:`conv2d_forward_saving_columns` returned for an input of ``input_shape`` with w's
    shape, stride and padding.  Raises TypeError / ValueError like :func:`conv2d_backward_input`, and ValueError
    for a cols of the wrong shape or dtype.
    """
    check_float_array("dy", dy, 4)
    check_float_array("w", w, 4)
    dtype = check_same_dtype(dy=dy, w=w)
    g = conv2d_backward_input_geometry(dy.shape, w.shape, input_shape, stride, padding)
    ct = compute_dtype(dtype)
    check_columns(cols, g, ct)
    # n-minor: dy moved N-last for dw's GEMM, shared with dx's (which makes its own when dw is not wanted, and none
    # when it is a forward convolution)
    dyT = _transposed_dy(dy, g, ct) if n_minor_layout(g) and need_weight else None
    dw = _weight_grad(dy, cols, g, ct, dyT).reshape(w.shape).astype(dtype, copy=False) if need_weight else None
    dx = _input_grad(dy, w, g, ct, dtype, dyT) if need_input else None
    return dx, dw


def conv2d_backward_input(dy: np.ndarray, w: np.ndarray, input_shape, stride, padding) -> np.ndarray:
    """Gradient w.r.t. the input: ``dx[N, C, H, W]`` for ``dy[N, K, P, Q]`` and ``w[K, C, R, S]``.

    ``input_shape`` is the forward x's shape (needed because several H give the same P when
    ``sh > 1``).  Raises TypeError / ValueError like :func:`conv2d_forward`, and ValueError when
    dy's shape does not match the output shape implied by input_shape, w, stride and padding.
    """
    check_float_array("dy", dy, 4)
    check_float_array("w", w, 4)
    dtype = check_same_dtype(dy=dy, w=w)
    g = conv2d_backward_input_geometry(dy.shape, w.shape, input_shape, stride, padding)
    return _input_grad(dy, w, g, compute_dtype(dtype), dtype)


def conv2d_backward_weight(dy: np.ndarray, x: np.ndarray, weight_shape, stride, padding) -> np.ndarray:
    """Gradient w.r.t. the weight: ``dw[K, C, R, S]`` for ``dy[N, K, P, Q]`` and ``x[N, C, H, W]``.

    Raises TypeError / ValueError like :func:`conv2d_forward`, and ValueError when dy's shape does
    not match the output shape implied by x, weight_shape, stride and padding.
    """
    check_float_array("dy", dy, 4)
    check_float_array("x", x, 4)
    dtype = check_same_dtype(dy=dy, x=x)
    g = conv2d_backward_weight_geometry(dy.shape, x.shape, weight_shape, stride, padding)
    ct = compute_dtype(dtype)
    dw = _weight_grad(dy, _im2col(x, g, ct), g, ct)  # [K, C*R*S]
    return dw.reshape(g.K, g.C, g.R, g.S).astype(dtype, copy=False)


def conv2d_backward_bias(dy: np.ndarray) -> np.ndarray:
    """Gradient w.r.t. the bias: ``db[K] = dy.sum over (N, P, Q)`` for ``dy[N, K, P, Q]``."""
    check_float_array("dy", dy, 4)
    ct = compute_dtype(dy.dtype)
    N, K, P, Q = dy.shape
    # the batch first (N contiguous rows of K*P*Q added elementwise), then each channel's P*Q: two contiguous
    # reductions, 2-6x faster on one core than one reduction over the strided axes (0, 2, 3)
    per_pixel = dy.reshape(N, K * P * Q).sum(axis=0, dtype=ct)
    return per_pixel.reshape(K, P * Q).sum(axis=1).astype(dy.dtype, copy=False)
