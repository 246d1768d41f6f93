"""Fully connected layer with optional fused bias and ReLU (``relu(x @ w.T + b)``) on the CPU.

Math::

    x[M, K], w[N, K], b[N] or None  ->  y[M, N] = x @ w.T + b,   then max(y, 0) if relu

Backward (g = dy, set to 0 where y <= 0 when relu)::

    dx[M, K] = g @ w,   dw[N, K] = g.T @ x,   db[N] = g.sum(0)

Algorithm: one BLAS GEMM per product (``w.T`` is a transposed view, not a copy); the bias add
and the ReLU are applied in place on the GEMM output, so the forward allocates nothing but y.
The ReLU mask is recomputed from the saved output (y <= 0 exactly where the pre-activation was
not positive), so no mask is stored; backward masks dy once into a single temporary.  The mask is
PyTorch's threshold_backward: a select (an inf or NaN dy where y <= 0 gives 0, not inf * 0 = NaN),
and ``y <= 0`` rather than ``not y > 0``, so a NaN pre-activation passes its gradient through.

Cost: forward 2*M*N*K FLOPs, reads M*K + N*K, writes M*N elements; backward 4*M*N*K FLOPs.

Layout / limits: 2-D C-contiguous arrays of one dtype (float32/float64; float16 is computed in
float32 and cast back).  K is the reduction (input-feature) axis; N is output features here
(not batch) because that is the GEMM naming.
"""

from __future__ import annotations

import numpy as np

from .._args import check_relu_output, linear_backward_shapes, linear_forward_shapes
from ._checks import check_float_array, check_same_dtype, compute_dtype

__all__ = ["linear_forward", "linear_backward"]


def linear_forward(x: np.ndarray, w: np.ndarray, b: np.ndarray | None, relu: bool) -> np.ndarray:
    """``y[M, N] = x[M, K] @ w[N, K].T + b[N]``, then ReLU if ``relu``.

    Raises TypeError for non-numpy / non-float / mixed-dtype inputs and ValueError for wrong ndim
    or mismatched K / N between x, w and b.
    """
    check_float_array("x", x, 2)
    check_float_array("w", w, 2)
    if b is not None:
        check_float_array("b", b, 1)
    dtype = check_same_dtype(x=x, w=w, b=b)
    M, N, K = linear_forward_shapes(x.shape, w.shape, None if b is None else b.shape)

    ct = compute_dtype(dtype)
    y = np.matmul(x.astype(ct, copy=False), w.astype(ct, copy=False).T)
    if b is not None:
        y += b.astype(ct, copy=False)
    if relu:
        np.maximum(y, 0, out=y)
    return y.astype(dtype, copy=False)


def linear_backward(
    dy: np.ndarray, x: np.ndarray, w: np.ndarray, y: np.ndarray | None, relu: bool
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Gradients ``(dx[M, K], dw[N, K], db[N])`` of :func:`linear_forward` for upstream ``dy[M, N]``.

    ``y`` is the forward output (required when ``relu``; dy is set to 0 where ``y <= 0``).
    db is always returned; the caller drops it if the layer had no bias.  Raises TypeError /
    ValueError like :func:`linear_forward`, and ValueError when dy or y is not [M, N].
    """
    check_float_array("dy", dy, 2)
    check_float_array("x", x, 2)
    check_float_array("w", w, 2)
    check_relu_output(y, relu)
    if relu:
        check_float_array("y", y, 2)
    dtype = check_same_dtype(dy=dy, x=x, w=w, y=y if relu else None)
    M, N, K = linear_backward_shapes(dy.shape, x.shape, w.shape, y.shape if relu else None)

    ct = compute_dtype(dtype)
    g = dy.astype(ct, copy=False)
    if relu:
        g = np.where(y <= 0, ct.type(0), g)
    xc = x.astype(ct, copy=False)
    wc = w.astype(ct, copy=False)
    dx = np.matmul(g, wc)
    dw = np.matmul(g.T, xc)
    db = g.sum(axis=0)
    return dx.astype(dtype, copy=False), dw.astype(dtype, copy=False), db.astype(dtype, copy=False)
