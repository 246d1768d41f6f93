"""2-D convolution (cross-correlation, like ``torch.nn.functional.conv2d``) on the CPU with numpy.

Math (NCHW, no dilation, no groups)::

    x[N, C, H, W], w[K, C, R, S], b[K] or None  ->  y[N, K, P, Q]
    P = (H + 2*ph - R) // sh + 1,   Q = (W + 2*pw - S) // sw + 1
    y[n, k, p, q] = b[k] + sum_{c, r, s} w[k, c, r, s] * xpad[n, c, p*sh + r, q*sw + s]

Algorithm: im2col + one GEMM per call.  The window geometry is computed once per shape: a
``sliding_window_view`` of a zero-padded *index image* (each pixel holds its flat position in
``x[n]``; padding holds an extra "slot" index C*H*W) gives ``window_index[C, R, S, P, Q]``.  The
column matrix is then one ``np.take`` gather along each image's flattened row (x with one extra
element = 0 appended when there is padding).  A gather is used instead of copying the strided
window view because numpy's strided copy pays a per-row overhead that dominates when Q is small
(2-4x slower on 4x4 / 8x8 feature maps); the gather's inner loop runs over the whole index list.
Index arrays are cached per geometry (``functools.lru_cache``), they do not depend on N.

* forward:          ``cols[N, C*R*S, P*Q]``, ``y[n] = w.reshape(K, C*R*S) @ cols[n]`` (batched matmul,
  lands directly in NCHW).
* backward_weight:  ``cols[N*P*Q, C*R*S]`` (the transposed gather), ``dw = dy^T[K, N*P*Q] @ cols``:
  one GEMM contracting over the long N*P*Q axis.
* backward_input:   ``dcols[n] = w.T @ dy[n]`` (batched), then col2im as a gather: a cached table lists,
  for every input pixel, the (at most ceil(R/sh)*ceil(S/sw)) columns that read it, padded with a
  zero slot; ``dx = take(dcols, table).sum(over contributions)``.  Overlapping windows therefore
  accumulate, and input rows/columns past the last window (when ``H + 2*ph - R`` is not a multiple
  of ``sh``) get exactly zero, which is why the caller passes ``input_shape``.

Cost: 2*N*K*C*R*S*P*Q FLOPs for each of the three GEMMs.  Memory traffic is dominated by the
column matrix, N*C*R*S*P*Q elements (R*S times the input for stride 1), written once and read
once per call.

Layout / limits: arrays are C-contiguous numpy arrays of one dtype (float32 or float64;
float16 is computed in float32 and cast back).  stride and padding are ints or (h, w) pairs,
stride >= 1, padding >= 0; the kernel must fit in the padded input.
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

__all__ = ["conv2d_forward", "conv2d_backward_input", "conv2d_backward_weight", "conv2d_backward_bias"]


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


@functools.lru_cache(maxsize=64)
def _weight_grad_index(*geometry: int) -> np.ndarray:
    """``idx[P*Q, C*R*S]``: the transposed column layout used by backward_weight."""
    C, R, S = geometry[0], geometry[3], geometry[4]
    idx = window_index(*geometry)
    P, Q = idx.shape[3:]
    out = np.ascontiguousarray(idx.reshape(C * R * S, P * Q).T)
    out.flags.writeable = False
    return out


@functools.lru_cache(maxsize=64)
def _col2im_table(*geometry: int) -> np.ndarray:
    """``table[T, C*H*W]``: for each input pixel, the columns j of ``dcols[C*R*S*P*Q]`` that read it.

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


def conv2d_forward(x: np.ndarray, w: np.ndarray, b: np.ndarray | None, stride, padding) -> np.ndarray:
    """Convolve ``x[N, C, H, W]`` with ``w[K, C, R, S]`` plus optional bias ``b[K]``.

    Returns ``y[N, K, P, Q]`` in x's dtype.  Raises TypeError for non-numpy / non-float / mixed dtype
    inputs and ValueError for wrong ndim, mismatched C, a bias that is not [K], bad stride/padding,
    or a kernel larger than the padded input.
    """
    check_float_array("x", x, 4)
    check_float_array("w", w, 4)
    if b is not None:
        check_float_array("b", b, 1)
    dtype = check_same_dtype(x=x, w=w, b=b)
    g = conv2d_forward_geometry(x.shape, w.shape, None if b is None else b.shape, stride, padding)

    ct = compute_dtype(dtype)
    CRS = g.C * g.R * g.S
    idx = window_index(*window_key(g)).reshape(CRS, g.P * g.Q)
    x2 = x.astype(ct, copy=False).reshape(g.N, g.C * g.H * g.W)
    cols = gather_windows(x2, idx, 0, padded=bool(g.ph or g.pw))  # [N, C*R*S, P*Q]
    y = np.matmul(w.astype(ct, copy=False).reshape(g.K, CRS), cols)  # [N, K, P*Q]
    if b is not None:
        y += b.astype(ct, copy=False)[:, None]
    return y.reshape(g.N, g.K, g.P, g.Q).astype(dtype, copy=False)


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

    ct = compute_dtype(dtype)
    CRS, PQ = g.C * g.R * g.S, g.P * g.Q
    n_cols = CRS * PQ
    # one extra zero column per image: the col2im table points unused entries at it
    dcols = np.empty((g.N, n_cols + 1), dtype=ct)
    dcols[:, n_cols] = 0
    w2 = w.astype(ct, copy=False).reshape(g.K, CRS)
    dy3 = dy.astype(ct, copy=False).reshape(g.N, g.K, PQ)
    np.matmul(w2.T, dy3, out=dcols[:, :n_cols].reshape(g.N, CRS, PQ))
    table = _col2im_table(*window_key(g))
    contrib = np.take(dcols, table, axis=1)  # [N, T, C*H*W]
    dx = contrib.sum(axis=1) if contrib.shape[1] > 1 else contrib[:, 0]
    return dx.reshape(g.N, g.C, g.H, g.W).astype(dtype, copy=False)


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
    NPQ = g.N * g.P * g.Q
    idx = _weight_grad_index(*window_key(g))
    x2 = x.astype(ct, copy=False).reshape(g.N, g.C * g.H * g.W)
    cols = gather_windows(x2, idx, 0, padded=bool(g.ph or g.pw)).reshape(NPQ, g.C * g.R * g.S)
    dy_t = np.ascontiguousarray(dy.astype(ct, copy=False).reshape(g.N, g.K, g.P * g.Q).transpose(1, 0, 2))
    dw = dy_t.reshape(g.K, NPQ) @ cols  # [K, C*R*S]
    return dw.reshape(g.K, g.C, g.R, g.S).astype(dtype, copy=False)


def conv2d_backward_bias(dy: np.ndarray) -> np.ndarray:
    """Gradient w.r.t. the bias: ``db[K] = dy.sum over (N, P, Q)`` for ``dy[N, K, P, Q]``."""
    check_float_array("dy", dy, 4)
    ct = compute_dtype(dy.dtype)
    return dy.sum(axis=(0, 2, 3), dtype=ct).astype(dy.dtype, copy=False)
