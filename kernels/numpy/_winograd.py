"""Winograd F(2x2, 3x3) for the fused conv2d -> ReLU -> 2x2 max-pool on tiny maps (CPU extension, maxpool2d.py).

A 3x3 convolution with stride 1 and padding 1 makes each 2x2 block ("tile") of its output from the 4x4 input patch
around it.  Winograd's minimal filtering algorithm (Lavin & Gray, "Fast Algorithms for Convolutional Neural Networks",
2015) computes such a tile with 16 multiplications per (input channel, output channel) instead of 36::

    Y_tile = A^T [ (G w G^T) * (B^T d B) ] A        (* elementwise over the 4x4 "Winograd domain" xi)

    B^T = [[1, 0, -1, 0], [0, 1, 1, 0], [0, -1, 1, 0], [0, 1, 0, -1]]
    G   = [[1, 0, 0], [1/2, 1/2, 1/2], [1/2, -1/2, 1/2], [0, 0, 1]]
    A^T = [[1, 1, 1, 0], [0, 1, -1, -1]]

Summed over the input channels, the product in the Winograd domain is 16 independent GEMMs,
``M[xi] = V[xi] @ U[xi]^T`` with ``V[xi][(t, n), c]`` the transformed input tiles and ``U[xi][k, c]`` the transformed
filters: 2.25x fewer FLOPs than the direct GEMM of im2col (DigitsCNN's second conv: 32 -> 64 channels on 4x4 maps,
where the three GEMMs were most of the training step).  The transforms are linear maps of each channel's whole (tiny)
map, so each is one more GEMM against a small constant matrix built here from the kron products of B^T, G and A^T:
``V = Tin @ x^T`` (Tin[(xi, t), H*W]: zero padding is just the missing columns), ``U = Tw @ w^T`` (Tw = G (x) G,
[16, 9]).  A 2x2 max-pool's windows are exactly the tiles, so the output transform ``A2 = A^T (x) A^T`` ([4, 16])
gives each tile's four outputs as four contiguous blocks ``Yt[j, (t, n, k)]`` (j = the pool window's row-major tap)
and the pool folds them without ever forming the NCHW map.  Backward is the transpose of each of these products.

Rounding: the transforms add and subtract (and halve) values, so results agree with the direct convolution to a few
float32 ulps of the operands' magnitudes (measured relative error ~3e-7 float32, ~1e-15 float64 on random inputs),
not bit for bit.  Non-finite values are where Winograd and direct convolution differ in kind: an inf in x reaches an
output as inf - inf = NaN through A^T, and intermediates overflow a little earlier.  So forward checks its pooled
result and returns None (the caller takes the direct path) unless every value is finite; backward with a non-finite
dz gives non-finite gradients as the direct path does, though which entries are inf and which NaN can differ.
Signed zeros: an output the ReLU zeroes is +0.0 here.  PyTorch's ReLU passes a -0.0, which a direct convolution makes
only where every product it sums is -0.0 (all weights of one sign against an all-zero patch); Winograd's sums of
differences do not keep that sign, so such a window is +0.0 here where the unfused path gives -0.0 (equal values).

Used only where it is measured to win (``fits``): float32 / float64, the n-minor layout's many channels, 3x3 /
stride 1 / padding 1 on maps of at most 16 pixels with even sides, and a 2x2 pool.
"""

from __future__ import annotations

import functools

import numpy as np

# maps up to this many pixels: Tin is [4*H*W, H*W] dense, so its GEMM grows as (H*W)^2 while the saving is linear
_MAX_HW = 16

_BT = np.array([[1, 0, -1, 0], [0, 1, 1, 0], [0, -1, 1, 0], [0, 1, 0, -1]], dtype=np.float64)
_G = np.array([[1, 0, 0], [0.5, 0.5, 0.5], [0.5, -0.5, 0.5], [0, 0, 1]], dtype=np.float64)
_AT = np.array([[1, 1, 1, 0], [0, 1, -1, -1]], dtype=np.float64)


def fits(g, pg, dtype) -> bool:
    """Whether the conv of geometry ``g`` (n-minor layout, conv2d.n_minor_layout) pooled by ``pg`` takes this path."""
    return (np.dtype(dtype) in (np.dtype(np.float32), np.dtype(np.float64))
            and g.R == g.S == 3 and g.sh == g.sw == 1 and g.ph == g.pw == 1
            and g.P == g.H and g.Q == g.W and g.H % 2 == 0 and g.W % 2 == 0 and g.H * g.W <= _MAX_HW
            and pg.R == pg.S == 2 and pg.P * 2 == g.P and pg.Q * 2 == g.Q)


@functools.lru_cache(maxsize=16)
def matrices(dtype, H: int, W: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Read-only ``(Tin[16*T, H*W], Tw[16, 9], A2[4, 16])`` of ``dtype`` for an H x W map (T = H*W/4 tiles, rows of
    Tin ordered (xi, t), tiles row-major); all entries are 0, +-1 or +-1/2 (+-1/4 in Tw), exact in any float."""
    th, tw = H // 2, W // 2
    B2 = np.kron(_BT, _BT)  # [xi, patch position a*4 + b]
    Tin = np.zeros((16, th * tw, H * W))
    for i in range(th):
        for j in range(tw):
            for a in range(4):
                for b in range(4):
                    h, w = 2 * i - 1 + a, 2 * j - 1 + b  # the patch starts one pixel up-left: the padding
                    if 0 <= h < H and 0 <= w < W:
                        Tin[:, i * tw + j, h * W + w] = B2[:, a * 4 + b]
    out = tuple(np.ascontiguousarray(m, dtype=dtype) for m in (Tin.reshape(16 * th * tw, H * W), np.kron(_G, _G),
                                                                 np.kron(_AT, _AT)))
    for m in out:
        m.flags.writeable = False
    return out


def _filters(w: np.ndarray, Tw: np.ndarray) -> np.ndarray:
    """``U[16, K, C]``, the transformed filters of ``w[K, C, 3, 3]``."""
    K, C = w.shape[:2]
    return (Tw @ w.reshape(K * C, 9).T).reshape(16, K, C)


def forward(x, w, b, g, pg, fold_first_max, argmax_dtype):
    """``(z, argmax, V)`` of the fused forward (maxpool2d.conv2d_relu_maxpool2d_forward's contract, V standing for the
    column matrix), or None where the pooled result is not all finite (the caller's direct path then applies
    PyTorch's NaN rule and makes the infs the direct convolution makes)."""
    N, C, K, T = g.N, g.C, g.K, pg.P * pg.Q
    Tin, Tw, A2 = matrices(x.dtype, g.H, g.W)
    with np.errstate(over="ignore", invalid="ignore"):  # a non-finite result goes to the direct path, which warns
        V = (Tin @ x.reshape(N * C, g.H * g.W).T).reshape(16, T * N, C)  # [xi, (t, n), c]
        M = np.matmul(V, _filters(w, Tw).transpose(0, 2, 1))  # [xi, (t, n), k]: 16 GEMMs
        Yt = A2 @ M.reshape(16, T * N * K)  # [4 taps, (t, n, k)]: each tile's outputs, a pool window's taps
    best = Yt[0].copy()
    arg = np.zeros(best.shape, dtype=argmax_dtype)
    for k in range(1, 4):  # row-major taps; a tap takes over only where strictly greater (the first maximum)
        fold_first_max(best, arg, Yt[k], k)
    # the bias after the pool (4x fewer adds): rounding is monotone, so max(y) + b rounds to max(y + b) exactly
    if b is not None:
        with np.errstate(over="ignore", invalid="ignore"):
            best.reshape(T * N, K)[...] += b
    if not np.isfinite(best).all():
        return None  # an inf or NaN anywhere: the direct path (module docstring)
    off = best <= 0  # the ReLU zeroes these windows: no gradient
    np.maximum(best, best.dtype.type(0), out=best)
    best += 0  # -0.0 + 0.0 is +0.0: every zero positive (module docstring, "signed zeros")
    arg -= np.multiply(arg + 1, off, dtype=arg.dtype)  # -1 where off: arithmetic, not a masked store
    z = np.ascontiguousarray(best.reshape(pg.P, pg.Q, N, K).transpose(2, 3, 0, 1))
    return z, np.ascontiguousarray(arg.reshape(pg.P, pg.Q, N, K).transpose(2, 3, 0, 1)), V


def columns_shape(g, pg) -> tuple[int, int, int]:
    """The shape of :func:`forward`'s V, the 'column matrix' backward takes."""
    return (16, pg.P * pg.Q * g.N, g.C)


def backward(dz, argmax, V, w, g, pg, need_input, need_weight, need_bias):
    """``(dx, dw, db)`` (None where not needed) of :func:`forward` for upstream ``dz``, checked by the caller."""
    N, C, K, T = g.N, g.C, g.K, pg.P * pg.Q
    ct = dz.dtype
    Tin, Tw, A2 = matrices(ct, g.H, g.W)
    # dYt[4, (t, n, k)]: tap j of each window receives dz where it won, an exact 0 elsewhere (bits ANDed with all ones
    # or all zeros: a select without a branch)
    bits = f"u{ct.itemsize}"
    dz_bits = np.ascontiguousarray(dz.transpose(2, 3, 0, 1)).reshape(1, T * N * K).view(bits)
    won = np.ascontiguousarray(argmax.transpose(2, 3, 0, 1)).reshape(1, T * N * K)
    dYt_bits = np.negative(won == np.arange(4, dtype=won.dtype)[:, None], dtype=dz_bits.dtype)
    dYt_bits &= dz_bits
    dYt = dYt_bits.view(ct)
    dM = (A2.T @ dYt).reshape(16, T * N, K)  # [xi, (t, n), k]
    dw = db = dx = None
    if need_weight:
        dU = np.matmul(dM.transpose(0, 2, 1), V)  # [xi, k, c]
        dw = (dU.reshape(16, K * C).T @ Tw).reshape(K, C, 3, 3)
    if need_bias:
        db = dYt.reshape(4 * T * N, K).sum(axis=0)
    if need_input:
        dV = np.matmul(dM, _filters(w, Tw))  # [xi, (t, n), c]
        dx = (dV.reshape(16 * T, N * C).T @ Tin).reshape(N, C, g.H, g.W)
    return dx, dw, db
