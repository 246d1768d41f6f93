"""2-D max pooling (like ``torch.nn.functional.max_pool2d``) on the CPU with numpy.

Math (NCHW, no dilation, floor mode)::

    x[N, C, H, W]  ->  y[N, C, P, Q],  P = (H + 2*ph - R) // sh + 1,  Q = (W + 2*pw - S) // sw + 1
    y[n, c, p, q] = max_{r < R, s < S} xpad[n, c, p*sh + r, q*sw + s]       (xpad padded with -inf)

``argmax[n, c, p, q] = r*S + s`` is the *compact* position of the winner inside its window (not a
flat index into x).  It is stored in the smallest signed integer dtype that holds R*S: int8 if
R*S <= 127, int16 if R*S <= 32767, else int32, which keeps the saved tensor 4x smaller than int32
for the usual 2x2 / 3x3 windows.  Ties go to the first maximum in row-major window order (as in
PyTorch).  Padded positions are -inf and are excluded from ties, so they never win (with
padding <= kernel//2 every window holds at least one real element).  A NaN counts as the maximum,
PyTorch's rule (its loop takes ``v > best || isnan(v)``, on the CPU and on CUDA): a window holding
NaNs gives y = NaN and argmax = its *last* NaN in row-major window order, where the gradient goes.

Algorithm: the windows come from conv2d's cached ``window_index`` (a ``sliding_window_view`` of an
index image), reordered to ``[R*S, C*P*Q]`` and gathered with one ``np.take`` per call into
``win[N, R*S, C*P*Q]`` (x with one extra -inf element appended when padded).  Every later pass is
then a long contiguous elementwise op: ``y = win.max(1)``; the first index where ``win == y``
comes out of one more max over ``(win == y) * (R*S - k)``; y is then the winner's own value, fixed from the
windows only where it is zero (the one case where max and winner differ in bits, see below) or NaN.  (numpy's
argmax over a short last axis, or strided ops on small feature maps, pay a per-row overhead that made them 3-5x
slower; so did, measured again in December 2026, PyTorch's loop run one tap at a time over strided tap views.)
Backward scatters dy to the winners: the winner's input position is looked up in the same index
table and ``np.add.at`` accumulates, so overlapping windows add up correctly.

Cost: forward gathers R*S*N*C*P*Q elements (~= |x| for 2x2/s2) and does ~3 passes over them;
backward ~5 passes over N*C*P*Q plus zeroing |x|.  No FLOPs worth counting.

``y`` is the winner's own value (``win[argmax]``), not ``win.max``'s: the two differ only in the sign of
a zero, and PyTorch's y is the first maximum's bits (a window [-0.0, +0.0] gives -0.0).

Max-pool fused with the preceding ReLU, ``relu_maxpool2d_forward`` / ``relu_maxpool2d_backward``: the
pool of ``relu(x)``, PyTorch's ``max_pool2d(relu(x))`` -- y and the winner bit for bit (ReLU is
``x < 0 ? 0 : x``, torch's: NaN and -0.0 pass, so a window of [-1, -0.0] gives +0.0 and [-0.0, -1] gives
-0.0) -- with one change to argmax: **-1 where y == 0**, the windows whose gradient PyTorch's ReLU
backward (``threshold_backward``: 0 where relu(x) <= 0) zeroes.  The windows where y > 0 or y is NaN keep
their winner, and there relu(x) = x, so the fused backward is the max-pool backward that routes nothing
for -1: ``relu_maxpool2d_backward(dy, argmax, ...)`` = PyTorch's relu -> max_pool2d gradient, with no
ReLU pass in either direction and nothing more saved than the plain pool's argmax.  (ReLU and max
commute, NaN included: relu(max(w)) == max(relu(w)) since relu is monotone and keeps NaN; the fused
kernels still apply the ReLU per element, which is what fixes the sign of a zero.)

Limits (PyTorch's rules): stride >= 1, 0 <= padding <= kernel // 2 per axis, and the kernel must
fit in the padded input.  float16/32/64 supported, computed in the input dtype.  backward always
checks argmax's range ([0, R*S), [-1, R*S) for the fused backward; a host read costs no device sync here);
a GPU backend checks only in debug mode and otherwise drops the gradient of an out-of-range value
(``kernels._args.value_checks_enabled``).
"""

from __future__ import annotations

import functools

import numpy as np

from .._args import conv2d_forward_geometry, maxpool2d_backward_geometry, maxpool2d_forward_geometry
from . import _winograd
from ._checks import check_float_array
from .conv2d import gather_windows, window_index, window_key

__all__ = ["maxpool2d_forward", "maxpool2d_backward", "argmax_dtype", "relu_maxpool2d_forward",
           "relu_maxpool2d_backward"]


def argmax_dtype(window_size: int) -> np.dtype:
    """Smallest signed integer dtype used to store window positions for windows of ``window_size`` = R*S."""
    if window_size <= 127:
        return np.dtype(np.int8)
    if window_size <= 32767:
        return np.dtype(np.int16)
    return np.dtype(np.int32)


@functools.lru_cache(maxsize=64)
def _pool_index(*geometry: int) -> np.ndarray:
    """``idx[R*S, C*P*Q]``: input position (or the padding slot C*H*W) of window element k of each output."""
    R, S = geometry[3], geometry[4]
    idx = window_index(*geometry)  # [C, R, S, P, Q]
    out = np.ascontiguousarray(idx.transpose(1, 2, 0, 3, 4)).reshape(R * S, -1)
    out.flags.writeable = False
    return out


def maxpool2d_forward(x: np.ndarray, kernel, stride, padding) -> tuple[np.ndarray, np.ndarray]:
    """Max-pool ``x[N, C, H, W]`` with windows ``kernel`` = (R, S).

    Returns ``(y[N, C, P, Q], argmax[N, C, P, Q])`` where argmax holds ``r*S + s`` in
    :func:`argmax_dtype` ``(R*S)``.  Raises TypeError for a non-numpy / non-float x and ValueError
    for wrong ndim, bad kernel/stride/padding, padding > kernel//2, or a kernel larger than the
    padded input.
    """
    return _forward(x, kernel, stride, padding, relu=False)


def maxpool2d_backward(
    dy: np.ndarray, argmax: np.ndarray, input_shape, kernel, stride, padding
) -> np.ndarray:
    """Scatter ``dy[N, C, P, Q]`` to the window winners recorded in ``argmax``; returns ``dx[N, C, H, W]``.

    ``input_shape`` is the forward x's shape.  Overlapping windows accumulate.  Raises TypeError for a
    non-numpy / non-float dy or a non-integer argmax, ValueError for shape mismatches between dy,
    argmax and the output shape implied by input_shape/kernel/stride/padding, for bad geometry, and
    for argmax values outside [0, R*S).
    """
    return _backward(dy, argmax, input_shape, kernel, stride, padding, relu=False)


def relu_maxpool2d_forward(x: np.ndarray, kernel, stride, padding) -> tuple[np.ndarray, np.ndarray]:
    """Max-pool ``relu(x)`` (the ReLU fused in: PyTorch's ``max_pool2d(relu(x))``, bit for bit).

    Returns ``(y, argmax)`` as :func:`maxpool2d_forward` of ``relu(x)``, except that argmax is -1 where y == 0
    (the windows whose gradient the ReLU zeroes).  Raises exactly as :func:`maxpool2d_forward`.
    """
    return _forward(x, kernel, stride, padding, relu=True)


def relu_maxpool2d_backward(
    dy: np.ndarray, argmax: np.ndarray, input_shape, kernel, stride, padding
) -> np.ndarray:
    """Gradient of :func:`relu_maxpool2d_forward` w.r.t. x (through the ReLU): ``dy`` routed to the winners,
    nothing for argmax == -1.  Raises as :func:`maxpool2d_backward`, with argmax's range [-1, R*S)."""
    return _backward(dy, argmax, input_shape, kernel, stride, padding, relu=True)


def _has_negative_zero(x: np.ndarray) -> bool:
    """Whether x holds a -0.0: its bit pattern (sign bit alone) compared as an integer, one pass."""
    if x.size and x.flags.c_contiguous:  # -0.0 is the least integer of its width: one reduction, no temporary
        bits = x.reshape(-1).view(f"i{x.itemsize}")
        return bool(bits.min() == np.iinfo(bits.dtype).min)
    return bool((np.signbit(x) & (x == 0)).any())


def _forward(x: np.ndarray, kernel, stride, padding, relu: bool) -> tuple[np.ndarray, np.ndarray]:
    check_float_array("x", x, 4)
    g = maxpool2d_forward_geometry(x.shape, kernel, stride, padding)
    N, C, H, W, P, Q = g.N, g.C, g.H, g.W, g.P, g.Q
    RS = g.R * g.S
    idx_dtype = argmax_dtype(RS)
    if relu:
        if not _has_negative_zero(x):
            # pool first, then the ReLU on the pooled map: a window whose maximum is positive or NaN keeps its winner
            # (ReLU keeps those values and ties); every other window is all <= 0, which ReLU makes +0.0 (no -0.0 in
            # x), so y = +0.0 and no gradient.  Same bits as the ReLU first, without its select over all of x
            # (np.where branches per element: 0.75 ms at DigitsCNN's 64x32x8x8 on one core, the whole pool 0.3 ms).
            y, argmax = _forward(x, kernel, stride, padding, relu=False)
            off = y <= 0  # NaN compares False: a NaN window keeps its winner
            np.maximum(y, y.dtype.type(0), out=y)
            argmax[off] = -1
            return y, argmax
        # with a -0.0 the ReLU'd window of zeros keeps its first element's sign (torch's x < 0 ? 0 : x keeps -0.0)
        x = np.where(x < 0, x.dtype.type(0), x)

    idx = _pool_index(*window_key(g))
    padded = bool(g.ph or g.pw)
    win = gather_windows(x.reshape(N, C * H * W), idx, -np.inf, padded=padded)  # [N, RS, CPQ]
    if RS == 1:
        argmax = np.zeros((N, C * P * Q), dtype=idx_dtype)
        y = win[:, 0, :]
    else:
        y = win.max(axis=1)
        # first maximum: weight position k by (RS - k), so the largest weight among ties is the first k
        weights = np.arange(RS, 0, -1, dtype=idx_dtype).reshape(RS, 1)
        is_max = win == y[:, None, :]
        if padded:
            is_max &= idx != C * H * W  # a pad only ties when the real values are -inf; torch never picks it
        score = np.multiply(is_max, weights, dtype=idx_dtype)
        argmax = score.max(axis=1)
        np.subtract(idx_dtype.type(RS), argmax, out=argmax)
        nan_windows = np.isnan(y)
        if nan_windows.any():  # NaN matches nothing above; PyTorch picks the window's last NaN (k + 1 weights it)
            cols = np.nonzero(nan_windows)
            last_nan = (np.isnan(win[cols[0], :, cols[1]]) * np.arange(1, RS + 1)).max(axis=1) - 1
            argmax[cols] = last_nan.astype(idx_dtype)
            y[cols] = win[cols[0], last_nan, cols[1]]  # that NaN's own bits
        # the winner's own bits: win.max may return either zero of a window holding +0.0 and -0.0, and only
        # there do the max and the winner differ -- so fix those windows alone (a gather over all of y cost
        # ~40% of the forward), and only when x holds a -0.0 at all: after a ReLU most windows can be zero
        # (82% in the MNIST example's step), and fixing them all doubled the forward
        zero = y == 0
        if zero.any() and _has_negative_zero(x):
            zeros = np.nonzero(zero)
            y[zeros] = win[zeros[0], argmax[zeros].astype(np.intp), zeros[1]]
    if relu:
        argmax[y == 0] = -1  # ReLU's gradient is 0 there (y >= 0 or NaN after the ReLU)
    return y.reshape(N, C, P, Q), argmax.reshape(N, C, P, Q)


def _check_argmax_type(argmax) -> None:
    if not isinstance(argmax, np.ndarray):
        raise TypeError(f"argmax must be a numpy.ndarray, got {type(argmax).__name__}")
    if not np.issubdtype(argmax.dtype, np.integer):
        raise TypeError(f"argmax must have an integer dtype, got {argmax.dtype}")


def _check_argmax_range(argmax: np.ndarray, g, relu: bool) -> None:
    """argmax in [0, R*S), or [-1, R*S) for the fused ReLU's (-1: no gradient); a host read, free here."""
    lo = -1 if relu else 0
    if argmax.size and (int(argmax.min()) < lo or int(argmax.max()) >= g.R * g.S):
        raise ValueError(
            f"argmax holds values in [{argmax.min()}, {argmax.max()}], "
            f"outside [{lo}, R*S={g.R * g.S}) for kernel {(g.R, g.S)}"
        )


def _backward(dy: np.ndarray, argmax: np.ndarray, input_shape, kernel, stride, padding, relu: bool) -> np.ndarray:
    check_float_array("dy", dy, 4)
    _check_argmax_type(argmax)
    g = maxpool2d_backward_geometry(dy.shape, argmax.shape, input_shape, kernel, stride, padding)
    N, C, H, W = g.N, g.C, g.H, g.W
    _check_argmax_range(argmax, g, relu)

    idx = _pool_index(*window_key(g))  # [RS, CPQ]
    CPQ, CHW = C * g.P * g.Q, C * H * W
    routed = (argmax >= 0).reshape(N, CPQ) if relu else None  # -1: a window the ReLU zeroed routes nothing
    if routed is not None:
        argmax = argmax.reshape(N, CPQ) * routed  # any in-range position; its gradient goes to the discard slot
    # flat position of (argmax, j) in idx, then the input pixel it names
    flat = argmax.reshape(N, CPQ).astype(np.intp) * CPQ
    flat += np.arange(CPQ, dtype=np.intp)
    pos = np.take(idx, flat)  # [N, CPQ], CHW = padding slot (only if a pad ties for max)
    row = CHW + 1 if (g.ph or g.pw) else CHW
    pos += (np.arange(N, dtype=np.intp) * row)[:, None]
    discard = N * row  # one slot past the last image
    if routed is not None:  # pos where routed, discard elsewhere: arithmetic, not np.where (a branch per element
        pos -= discard      # on the ReLU's unpredictable mask) or a boolean compress of pos and dy
        pos *= routed
        pos += discard
    dx = np.zeros(discard + 1, dtype=dy.dtype)
    np.add.at(dx, pos.reshape(-1), dy.reshape(-1))  # in window (C) order: overlapping windows' sums round alike
    if row != CHW:
        return np.ascontiguousarray(dx[:discard].reshape(N, row)[:, :CHW]).reshape(N, C, H, W)
    return dx[:discard].reshape(N, C, H, W)


# ---------------------------------------------- CPU extension: conv2d -> ReLU -> max-pool, pooled in the GEMM output
#
# Not part of the kernel contract (the framework looks for it with getattr, as for conv2d's column matrix). A conv in
# the n-minor layout (kernels/numpy/conv2d.py: small maps with many channels, DigitsCNN's second conv) leaves its GEMM
# output as Y[K, P, Q, N] and moves it to NCHW, where the pool then gathers its windows. Pooled in Y's own layout
# instead, each tap of a non-overlapping window is a [K, P', Q', N] view with the batch contiguous (long rows, no
# gather), only the pooled map is moved to NCHW, and backward builds dy in the layout the conv's GEMMs take (no
# transpose of dy). A per-image conv pools its NCHW output with relu_maxpool2d_forward. The result is exactly
# relu_maxpool2d_forward(conv2d_forward(...)) (z and argmax) and its gradients, bit for bit.
#
# Two paths trade that bit-for-bit equality for speed, agreeing with the unfused pair to rounding: window-major (below:
# a small per-image first layer) and Winograd (kernels/numpy/_winograd.py: an n-minor 3x3 / stride 1 / padding 1 conv
# on a map of at most 16 pixels pooled 2x2, float32/64 -- DigitsCNN's second stage -- whose GEMMs do 2.25x fewer
# FLOPs; its V, the transformed input, stands for the column matrix, and a non-finite result falls back to the
# direct n-minor path above).


def _conv_pool_geometries(x_shape, w_shape, stride, padding, kernel):
    """The conv's geometry and that of a pool of non-overlapping ``kernel`` windows (stride = kernel, no padding)
    over its output; raise as conv2d_forward and maxpool2d_forward."""
    g = conv2d_forward_geometry(x_shape, w_shape, None, stride, padding)
    return g, maxpool2d_forward_geometry((g.N, g.K, g.P, g.Q), kernel, kernel, 0)


def conv2d_relu_maxpool2d_forward(x: np.ndarray, w: np.ndarray, b: np.ndarray | None, stride, padding, kernel):
    """``(z, argmax, cols)``: ``relu_maxpool2d_forward(conv2d_forward(x, w, b, stride, padding), kernel, kernel, 0)``
    (non-overlapping windows) and the conv's column matrix for :func:`conv2d_relu_maxpool2d_backward` (CPU extension,
    above). Raises as conv2d_forward and maxpool2d_forward."""
    from . import conv2d as conv

    g = conv.checked_geometry(x, w, b, stride, padding)  # the conv's checks first, as conv2d_forward
    pg = maxpool2d_forward_geometry((g.N, g.K, g.P, g.Q), kernel, kernel, 0)
    if _window_major_fits(g, pg):
        return _window_major_forward(x, w, b, g, pg)
    if conv.n_minor_layout(g) and _winograd.fits(g, pg, x.dtype):
        out = _winograd.forward(x, w, b, g, pg, _fold_first_max, argmax_dtype(4))
        if out is not None:  # None: a non-finite result, which the direct path makes as PyTorch does
            return out
    y, cols = conv._forward(x, w, b, stride, padding, keep_columns=True, batch_last=True, g=g)
    if not conv.n_minor_layout(g):  # y is NCHW already
        return (*relu_maxpool2d_forward(y, kernel, kernel, 0), cols)
    Y = y.astype(x.dtype, copy=False)  # pool what the plain path pools (float16: the rounded values)
    R, S = pg.R, pg.S
    best = Y[:, 0 : pg.P * R : R, 0 : pg.Q * S : S].copy()  # tap (0, 0) of every window: [K, P', Q', N]
    arg = np.zeros(best.shape, dtype=argmax_dtype(R * S))
    for k in range(1, R * S):  # row-major taps; a tap takes over only where strictly greater (the first maximum)
        r, s = divmod(k, S)
        _fold_first_max(best, arg, Y[:, r : pg.P * R : R, s : pg.Q * S : S], k)
    if np.isnan(best).any() or _has_negative_zero(Y):
        # PyTorch's NaN rule (the last NaN wins; np.maximum spread it into best) and the sign of a zero: the plain path
        nchw = np.ascontiguousarray(Y.transpose(3, 0, 1, 2))
        return (*relu_maxpool2d_forward(nchw, kernel, kernel, 0), cols)
    off = best <= 0  # the ReLU zeroes these windows: +0.0 (no -0.0 in Y) and no gradient
    np.maximum(best, best.dtype.type(0), out=best)
    arg[off] = -1
    return np.ascontiguousarray(best.transpose(3, 0, 1, 2)), np.ascontiguousarray(arg.transpose(3, 0, 1, 2)), cols


def _fold_first_max(best: np.ndarray, arg: np.ndarray, v: np.ndarray, k: int) -> None:
    """Fold tap ``v`` (window position ``k``) into the running maximum ``best`` and its position ``arg``, in place: v
    takes over only where strictly greater (a tie keeps the earlier tap). Arithmetic, not a select: np.where and
    np.copyto(where=) branch per element, which a conv output's unpredictable signs make 20-60x slower (one core)."""
    wins = v > best
    np.maximum(best, v, out=best)
    step = np.subtract(k, arg, dtype=arg.dtype)
    step *= wins
    arg += step


def conv2d_relu_maxpool2d_backward(dz: np.ndarray, argmax: np.ndarray, cols: np.ndarray, w: np.ndarray, input_shape,
                                   stride, padding, kernel, need_input: bool = True, need_weight: bool = True,
                                   need_bias: bool = True):
    """``(dx, dw, db)``, None where not needed, of :func:`conv2d_relu_maxpool2d_forward` for upstream ``dz``: dz routed
    to the windows' winners (nothing where argmax is -1), then the conv's gradients from its column matrix ``cols``
    (CPU extension, above). Raises as relu_maxpool2d_backward and conv2d_backward_from_columns."""
    from . import conv2d as conv

    check_float_array("dz", dz, 4)
    check_float_array("w", w, 4)
    g, pg = _conv_pool_geometries(tuple(input_shape), w.shape, stride, padding, kernel)
    y_shape = (g.N, g.K, g.P, g.Q)
    if _window_major_fits(g, pg):
        return _window_major_backward(dz, argmax, cols, w, g, kernel, need_input, need_weight, need_bias)
    winograd = (conv.n_minor_layout(g) and _winograd.fits(g, pg, dz.dtype) and isinstance(cols, np.ndarray)
                and cols.shape == _winograd.columns_shape(g, pg))  # else the forward fell back to the direct path
    if not conv.n_minor_layout(g):
        dy = relu_maxpool2d_backward(dz, argmax, y_shape, kernel, kernel, 0)
        dx, dw = conv.conv2d_backward_from_columns(dy, cols, w, input_shape, stride, padding, need_input, need_weight)
        return dx, dw, (conv.conv2d_backward_bias(dy) if need_bias else None)
    _check_argmax_type(argmax)
    pg = maxpool2d_backward_geometry(dz.shape, argmax.shape, y_shape, kernel, kernel, 0)
    dtype = dz.dtype
    ct = conv.compute_dtype(dtype)
    if w.dtype != dtype:
        raise TypeError(f"w has dtype {w.dtype}, expected dz's dtype {dtype}")
    conv.check_columns(cols, g, ct, shape=_winograd.columns_shape(g, pg) if winograd else None)
    _check_argmax_range(argmax, pg, relu=True)
    if winograd:
        return _winograd.backward(dz, argmax, cols, w, g, pg, need_input, need_weight, need_bias)
    R, S = pg.R, pg.S
    # dY[K, P, Q, N]: each window's tap k receives dz where it won, an exact 0 elsewhere (bits ANDed with all ones or
    # all zeros: a select without a branch, and an inf or NaN dz reaches only its winner)
    dz_bits = np.ascontiguousarray(dz.transpose(1, 2, 3, 0), dtype=ct).view(f"u{np.dtype(ct).itemsize}")
    won = np.ascontiguousarray(argmax.transpose(1, 2, 3, 0))
    # all R*S taps in three broadcast ops writing dY's own layout, [K, P', R, Q', S, N], instead of three ops per tap
    # into strided views: the won-tap mask, widened to all-ones / all-zeros words, ANDed with dz
    P2, Q2 = pg.P, pg.Q
    taps = np.arange(R * S, dtype=won.dtype).reshape(1, 1, R, 1, S, 1)
    mask = np.negative(won.reshape(g.K, P2, 1, Q2, 1, g.N) == taps, dtype=dz_bits.dtype)
    tap_bits = np.bitwise_and(dz_bits.reshape(g.K, P2, 1, Q2, 1, g.N), mask, out=mask)
    if P2 * R == g.P and Q2 * S == g.Q:  # the windows tile the map: that is dY
        dY = tap_bits.view(ct).reshape(g.K, g.P, g.Q, g.N)
    else:  # the pool crops the map: the rows and columns no window reads get no gradient
        dY = np.zeros((g.K, g.P, g.Q, g.N), dtype=ct)
        dY[:, : P2 * R, : Q2 * S] = tap_bits.view(ct).reshape(g.K, P2 * R, Q2 * S, g.N)
    dyT = dY.reshape(g.K, -1)  # the n-minor dy the conv's GEMMs take
    dw = conv._weight_grad(None, cols, g, ct, dyT).reshape(w.shape).astype(dtype, copy=False) if need_weight else None
    # dy in NCHW where it is read so: by a forward-convolution dx (stride 1, K <= C), and by the bias gradient, summed
    # as the unfused path sums it (the batch first) -- the same bits, so a model trains the same fused or not (one
    # contiguous sum over dyT's rows rounds differently, and moved `kernelgrad cv cnn`'s result)
    dy = None
    if need_bias or (need_input and conv._full_conv_input_grad(g)):
        dy = np.ascontiguousarray(dY.transpose(3, 0, 1, 2)).astype(dtype, copy=False)
    dx = conv._input_grad(dy, w, g, ct, dtype, dyT) if need_input else None
    db = conv.conv2d_backward_bias(dy) if need_bias else None
    return dx, dw, db


# A per-image conv small enough to gather its windows (conv2d's _gathers: a first layer on small maps, DigitsCNN's
# first conv) gathers its columns *window-major* instead: cols[C*R*S, T, N, P'*Q'], the T = pool-window taps
# outermost, then the batch, then the pooled position. One GEMM then gives Y[K, T, N*P'*Q'], each tap a contiguous
# block of every row, so the pool is T - 1 long elementwise folds (no window gather of y, no per-image GEMMs), and
# backward builds dY in that layout with one broadcast mask and takes dw from one GEMM against the same columns. numpy
# pays ~100 ns per row of a strided elementwise op (measured: a [128, 256] strided add 21 us against 6 us
# contiguous), so short rows, not bytes, were the per-image path's cost. Taken only where the pool windows tile the
# conv's map exactly (_window_major_fits). One GEMM rounds like the per-image GEMMs only up to BLAS's kernel choice:
# z, dw and db agree with the unfused path to a few ulps (not bit for bit as the other two layouts); argmax is the
# first maximum of the values computed here.


def _window_major_fits(g, pg) -> bool:
    """Whether the conv of geometry ``g`` and the pool ``pg`` over its output take the window-major path (above): a
    per-image gathered conv (conv2d's _gathers) whose map the pool windows tile exactly. A cropped row or column would
    still take part in dw (0 * NaN where x holds a NaN), so those keep the per-image path."""
    from . import conv2d as conv

    return conv._gathers(g) and pg.P * pg.R == g.P and pg.Q * pg.S == g.Q


@functools.lru_cache(maxsize=8)
def _window_major_index(key: tuple[int, ...], N: int, R: int, S: int, row: int) -> np.ndarray:
    """Read-only ``idx[C*R*S, T*N*P'*Q']``: flat positions in an ``[N, row]`` input (row = C*H*W, plus one zero
    slot when padded) of the window-major column matrix for pool windows R x S (T = R*S)."""
    from . import conv2d as conv

    win = conv.window_index(*key)  # [C, R_conv, S_conv, P, Q]
    CRS, P2, Q2 = win.shape[0] * win.shape[1] * win.shape[2], win.shape[3] // R, win.shape[4] // S
    taps = win[:, :, :, : P2 * R, : Q2 * S].reshape(CRS, P2, R, Q2, S).transpose(0, 2, 4, 1, 3)
    idx = taps.reshape(CRS, R * S, 1, P2 * Q2) + (np.arange(N, dtype=np.intp) * row)[None, None, :, None]
    idx = np.ascontiguousarray(idx.reshape(CRS, -1))
    idx.flags.writeable = False
    return idx


def _to_nchw(Y: np.ndarray, g, pg) -> np.ndarray:
    """``y[N, K, P, Q]`` from the window-major ``Y[K, T, N*P'*Q']`` (a copy)."""
    return Y.reshape(g.K, pg.R, pg.S, g.N, pg.P, pg.Q).transpose(3, 0, 4, 1, 5, 2).reshape(g.N, g.K, g.P, g.Q)


def _window_major_forward(x, w, b, g, pg):
    """conv2d_relu_maxpool2d_forward's window-major path, for the checked conv and pool geometries ``g`` and ``pg``."""
    from . import conv2d as conv

    dtype = x.dtype
    ct = conv.compute_dtype(dtype)
    kernel = (pg.R, pg.S)
    T, NW = pg.R * pg.S, g.N * pg.P * pg.Q
    padded = bool(g.ph or g.pw)
    L = g.C * g.H * g.W
    src = x.astype(ct, copy=False).reshape(g.N, L)
    if padded:  # the zero the padding slot reads, one per image
        src = np.concatenate([src, np.zeros((g.N, 1), dtype=ct)], axis=1)
    cols = np.take(np.ascontiguousarray(src).reshape(-1),
                   _window_major_index(conv.window_key(g), g.N, pg.R, pg.S, L + padded))
    Y = w.astype(ct, copy=False).reshape(g.K, -1) @ cols  # [K, T * N*P'*Q']
    bias = None if b is None else b.astype(ct, copy=False)[:, None]
    # In float32/64 the bias is added to the pooled map (T times fewer elements): rounding is monotone, so
    # max(y) + b rounds to max(y + b) exactly; only a tie that the bias's rounding alone creates keeps y's larger
    # element rather than the first (within one rounding, as the GEMM's own). float16 pools the rounded y + b.
    late_bias = bias is not None and ct == dtype
    if bias is not None and not late_bias:
        Y += bias
    Y = Y.astype(dtype, copy=False).reshape(g.K, T, NW)  # pool what the plain path pools (float16: rounded values)
    best = Y[:, 0].copy()
    arg = np.zeros(best.shape, dtype=argmax_dtype(T))
    for k in range(1, T):  # row-major taps; a tap takes over only where strictly greater (the first maximum)
        _fold_first_max(best, arg, Y[:, k], k)
    if late_bias:
        best += bias
    # y + b holds a -0.0 only where both y and b do (a sum is -0.0 only of two -0.0)
    negative_zero = (_has_negative_zero(bias) and _has_negative_zero(Y)) if late_bias else _has_negative_zero(Y)
    if negative_zero or np.isnan(best).any():  # PyTorch's NaN rule and a zero's sign: the plain pool
        if late_bias:
            Y += bias[:, :, None]
        return (*relu_maxpool2d_forward(_to_nchw(Y, g, pg), kernel, kernel, 0), cols)
    off = best <= 0  # the ReLU zeroes these windows: +0.0 (no -0.0 in Y) and no gradient
    np.maximum(best, best.dtype.type(0), out=best)
    arg -= np.multiply(arg + 1, off, dtype=arg.dtype)  # -1 where off: arithmetic, not a masked store (a branch each)
    z = np.ascontiguousarray(best.reshape(g.K, g.N, pg.P, pg.Q).transpose(1, 0, 2, 3))
    return z, np.ascontiguousarray(arg.reshape(g.K, g.N, pg.P, pg.Q).transpose(1, 0, 2, 3)), cols


def _window_major_backward(dz, argmax, cols, w, g, kernel, need_input, need_weight, need_bias):
    from . import conv2d as conv

    _check_argmax_type(argmax)
    pg = maxpool2d_backward_geometry(dz.shape, argmax.shape, (g.N, g.K, g.P, g.Q), kernel, kernel, 0)
    T, NW = pg.R * pg.S, g.N * pg.P * pg.Q
    dtype = dz.dtype
    ct = conv.compute_dtype(dtype)
    if w.dtype != dtype:
        raise TypeError(f"w has dtype {w.dtype}, expected dz's dtype {dtype}")
    conv.check_columns(cols, g, ct, shape=(g.C * g.R * g.S, T * NW))
    _check_argmax_range(argmax, pg, relu=True)
    # dY[K, T, N*P'*Q']: tap k receives dz where it won, an exact 0 elsewhere (a bitwise AND, as the n-minor path)
    bits = f"u{np.dtype(ct).itemsize}"
    dz_bits = np.ascontiguousarray(dz.transpose(1, 0, 2, 3), dtype=ct).reshape(g.K, NW).view(bits)
    won = argmax.transpose(1, 0, 2, 3).reshape(g.K, 1, NW)
    taps = np.arange(T, dtype=won.dtype).reshape(1, T, 1)
    dY_bits = np.negative(won == taps, dtype=dz_bits.dtype)  # [K, T, N*P'*Q']: all ones where tap k won
    dY_bits &= dz_bits.reshape(g.K, 1, NW)
    dY = dY_bits.view(ct)
    dY2 = dY.reshape(g.K, -1)
    dw = (dY2 @ cols.T).reshape(w.shape).astype(dtype, copy=False) if need_weight else None
    db = dY2.sum(axis=1).astype(dtype, copy=False) if need_bias else None
    dx = None
    if need_input:  # dy in NCHW through the per-image conv's input gradient
        dx = conv._input_grad(_to_nchw(dY, g, pg).astype(dtype, copy=False), w, g, ct, dtype)
    return dx, dw, db
