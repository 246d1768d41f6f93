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

Output buffers (the in-place gradient): ``out`` of the forward receives dlogits and is returned as
it; it may be ``logits`` itself -- the gradient then overwrites the logits, every element read before
it is written (here trivially: the math runs on a private float copy) -- or memory disjoint from them;
a partial overlap raises.  ``out`` of the backward may likewise be ``dlogits`` itself (scaled in place).
The framework passes them only when it has proven that nothing else reads the logits
(``F.cross_entropy(..., consume_input=True)``, docs/ladder/softmax_xent.md).

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


def _check_out(out: np.ndarray, like: np.ndarray, like_name: str) -> None:
    """``out`` must be an array of ``like``'s shape and dtype that is ``like`` itself or disjoint from it."""
    check_float_array("out", out, 2)
    if out.shape != like.shape:
        raise ValueError(f"out has shape {out.shape}, expected {like.shape} ({like_name}'s shape)")
    if out.dtype != like.dtype:
        raise TypeError(f"out has dtype {out.dtype}, expected {like_name}'s dtype {like.dtype}")
    same = (out.__array_interface__["data"][0] == like.__array_interface__["data"][0]
            and out.strides == like.strides)
    if not same and np.may_share_memory(out, like):
        raise ValueError(f"out overlaps {like_name} without being {like_name} itself: it must be {like_name} "
                         f"(in place) or memory disjoint from it")


def softmax_cross_entropy_forward(
    logits: np.ndarray, target: np.ndarray, ignore_index: int = -100, need_grad: bool = True,
    out: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray | None]:
    """Mean cross-entropy of ``logits[M, V]`` against class indices ``target[M]``.

    Returns ``(loss, dlogits)``: loss is a 0-d array of logits' dtype, dlogits[M, V] the gradient of
    the loss w.r.t. logits, or None with ``need_grad=False`` (a forward nobody differentiates skips
    it).  ``out``: an [M, V] array of logits' dtype that receives dlogits and is returned as it; it may
    be ``logits`` itself (the gradient overwrites the logits) or memory disjoint from them.  Raises
    TypeError for non-numpy / non-float logits or out, a non-integer target or out of another dtype,
    ValueError for wrong shapes, a class index outside [0, V) that is not ignore_index, out with
    ``need_grad=False`` or out partly overlapping logits.
    """
    check_float_array("logits", logits, 2)
    if not isinstance(target, np.ndarray):
        raise TypeError(f"target must be a numpy.ndarray, got {type(target).__name__}")
    if not np.issubdtype(target.dtype, np.integer):
        raise TypeError(f"target must have an integer dtype, got {target.dtype}")
    M, V = softmax_xent_shapes(logits.shape, target.shape, ignore_index)
    if out is not None:
        if not need_grad:
            raise ValueError("out receives dlogits: it needs need_grad=True (got need_grad=False)")
        _check_out(out, logits, "logits")
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
        if out is not None:
            out[...] = 0
            return np.array(np.nan, dtype=dtype), out
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
    if out is not None:  # z is a private copy: writing over the logits (out is logits) is safe
        out[...] = z
        return np.array(loss, dtype=dtype), out
    return np.array(loss, dtype=dtype), z.astype(dtype, copy=False)


def softmax_cross_entropy_backward(dlogits: np.ndarray, grad_loss, out: np.ndarray | None = None) -> np.ndarray:
    """Chain rule for the scalar loss: returns ``dlogits * grad_loss`` in dlogits' dtype.

    ``grad_loss`` is a Python/numpy scalar or a 0-d array.  ``out``: an array of dlogits' shape and
    dtype that receives the result and is returned; it may be ``dlogits`` itself (scaled in place).
    Raises TypeError for non-numpy / non-float dlogits or out, or out of another dtype, ValueError if
    grad_loss is not a scalar or out has another shape or partly overlaps dlogits.
    """
    check_float_array("dlogits", dlogits, 2)
    if np.ndim(grad_loss) != 0:
        raise ValueError(f"grad_loss must be a scalar or 0-d array, got shape {np.shape(grad_loss)}")
    scale = np.asarray(grad_loss, dtype=dlogits.dtype)
    if out is None:
        return dlogits * scale
    _check_out(out, dlogits, "dlogits")
    return np.multiply(dlogits, scale, out=out)
