"""Fused softmax + cross-entropy loss (mean reduction) and its gradient, on the CPU with numpy.

Math (like ``torch.nn.functional.cross_entropy(logits, target, ignore_index=...)``)::

    logits[M, V], target[M] (int)  ->  valid[m] = target[m] != ignore_index,  n = sum(valid)
    loss     = (1/n) * sum_{valid m} ( logsumexp(logits[m]) - logits[m, target[m]] )
    dlogits  = (softmax(logits[m]) - onehot(target[m])) / n   for valid rows, 0 for ignored rows

Algorithm: one pass over the logits.  The row max is subtracted first (z = logits - max), so
exp never overflows and logits of +-1e4 give finite, exact results; then
``loss_m = log(sum(exp z)) - z[target]`` and the same exp(z) buffer is normalised in place into
the softmax / n, which becomes dlogits once the target entry is set to ``(e_t - sum)/(sum * n)``.
Row sums are accumulated in float64: for a confident prediction sum = 1 + tiny, and float32 would
cancel most digits of both the loss and the target's gradient (PyTorch's float32 result is off
by 2e-4 / 6e-4 relative for a margin of 10; this kernel stays near float32 rounding, ~2e-7).
The forward therefore returns the gradient too; backward only scales it by the upstream scalar.
With ``need_grad=False`` (nobody will differentiate: ``no_grad``, evaluation) it stops after the
loss and returns None for dlogits.

Cost: about 5*M*V FLOPs plus M*V exp; reads the logits once and writes dlogits once (M*V each),
one M*V temporary (reused as dlogits).

Edge cases: if every row is ignored the loss is NaN (PyTorch's mean over zero elements) and
dlogits is all zeros.  V = 1 is allowed (loss 0).  Targets must be integers in [0, V) or equal to
ignore_index; this backend always checks (its arrays are on the host, so reading them costs no device
sync), while a GPU backend checks only in debug mode and otherwise returns a NaN loss and a NaN
gradient row for such a target (``kernels._args.value_checks_enabled``).  float16 logits are computed
in float32 and cast back.
"""

from __future__ import annotations

import numpy as np

from .._args import softmax_xent_shapes
from ._checks import check_float_array, compute_dtype

__all__ = ["softmax_cross_entropy_forward", "softmax_cross_entropy_backward"]


def softmax_cross_entropy_forward(
    logits: np.ndarray, target: np.ndarray, ignore_index: int = -100, need_grad: bool = True
) -> tuple[np.ndarray, np.ndarray | None]:
    """Mean cross-entropy of ``logits[M, V]`` against class indices ``target[M]``.

    Returns ``(loss, dlogits)``: loss is a 0-d array of logits' dtype, dlogits[M, V] the gradient of
    the loss w.r.t. logits, or None with ``need_grad=False`` (a forward nobody differentiates skips
    it).  Raises TypeError for non-numpy / non-float logits or a non-integer target, ValueError for
    wrong shapes or a class index outside [0, V) that is not ignore_index.
    """
    check_float_array("logits", logits, 2)
    if not isinstance(target, np.ndarray):
        raise TypeError(f"target must be a numpy.ndarray, got {type(target).__name__}")
    if not np.issubdtype(target.dtype, np.integer):
        raise TypeError(f"target must have an integer dtype, got {target.dtype}")
    M, V = softmax_xent_shapes(logits.shape, target.shape, ignore_index)
    valid = target != ignore_index
    bad = valid & ((target < 0) | (target >= V))
    if bad.any():
        row = int(np.argmax(bad))
        raise ValueError(
            f"target[{row}] = {int(target[row])} is not a class index in [0, V={V}) "
            f"nor ignore_index={ignore_index}"
        )

    dtype = logits.dtype
    ct = compute_dtype(dtype)
    n_valid = int(valid.sum())
    if n_valid == 0:
        return np.array(np.nan, dtype=dtype), np.zeros(logits.shape, dtype=dtype) if need_grad else None

    rows = np.arange(M)
    cls = np.where(valid, target, 0)  # ignored rows still need an in-range column to gather
    z = logits.astype(ct)  # always a fresh buffer: it is reused for exp, softmax and dlogits
    z -= z.max(axis=1, keepdims=True)
    z_target = z[rows, cls]
    np.exp(z, out=z)
    # float64 sums: when one class dominates, sumexp = 1 + tiny, and in float32 both the loss
    # log(sumexp) - z_t and the target's gradient softmax_t - 1 would lose all their digits
    sumexp = z.sum(axis=1, dtype=np.float64)
    e_target = z[rows, cls]
    row_loss = np.log(sumexp) - z_target
    loss = np.sum(row_loss, where=valid) / n_valid
    if not need_grad:
        return np.array(loss, dtype=dtype), None

    inv = 1.0 / (sumexp * n_valid)
    z *= inv.astype(ct)[:, None]  # softmax / n
    g_target = ((e_target - sumexp) * inv).astype(ct)  # (softmax_t - 1) / n, computed without cancellation
    if valid.all():
        z[rows, cls] = g_target
    else:
        z[rows[valid], cls[valid]] = g_target[valid]
        z[~valid] = 0  # assignment, not a multiply: ignored rows may hold inf/nan logits
    return np.array(loss, dtype=dtype), z.astype(dtype, copy=False)


def softmax_cross_entropy_backward(dlogits: np.ndarray, grad_loss) -> np.ndarray:
    """Chain rule for the scalar loss: returns ``dlogits * grad_loss`` in dlogits' dtype.

    ``grad_loss`` is a Python/numpy scalar or a 0-d array.  Raises TypeError for non-numpy /
    non-float dlogits and ValueError if grad_loss is not a scalar.
    """
    check_float_array("dlogits", dlogits, 2)
    if np.ndim(grad_loss) != 0:
        raise ValueError(f"grad_loss must be a scalar or 0-d array, got shape {np.shape(grad_loss)}")
    return dlogits * np.asarray(grad_loss, dtype=dlogits.dtype)
