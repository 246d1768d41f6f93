"""Loss functions (PyTorch's names, arguments, reductions and edge cases)."""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np

from ... import ops
from ...autograd import is_grad_enabled
from ...dtypes import result_type
from ...ops.loss import BCEWithLogits, BinaryCrossEntropy, KLDiv
from ...ops.softmax_xent import SoftmaxCrossEntropy
from ...tensor import Tensor, where
from ._args import (
    _KL_DIV_REDUCTIONS,
    _REDUCTIONS,
    _check_float,
    _check_reduction,
    _check_same_shape,
    _check_tensor,
    _reduce,
)
from .activation import log_softmax


def _class_targets(input: Tensor, target: Tensor, name: str) -> tuple[Tensor, Tensor]:
    """Validate and flatten (input [N, C, d1...] or [C], target [N, d1...] or []) to ([M, C], [M])."""
    _check_tensor(input, "input")
    _check_tensor(target, "target")
    _check_float(input, "input")
    if target.dtype not in ("int64", "int32", "int16", "int8", "uint8"):
        raise TypeError(f"{name}(): target must be an integer tensor of class indices, got dtype "
                        f"{target.dtype} (for class probabilities pass a float target of input's shape)")
    if input.ndim == 0:
        raise ValueError(f"{name}(): input must hold class scores ([C], [N, C] or [N, C, d1, ...]), got a 0-d tensor")
    if input.ndim == 1 and target.ndim == 0:
        input, target = input.unsqueeze(0), target.reshape(1)
    expected = (input.shape[0],) + input.shape[2:] if input.ndim > 1 else ()
    if input.ndim == 1 or target.shape != expected:
        raise ValueError(f"{name}(): target shape {target.shape} does not match input shape {input.shape} "
                         f"(expected {expected})")
    C = input.shape[1]
    if input.ndim > 2:  # [N, C, d...] -> [N*d..., C]
        dims = (0,) + tuple(range(2, input.ndim)) + (1,)
        input = input.permute(*dims).reshape(-1, C)
        target = target.reshape(-1)
    return input, target.to(dtype="int64")


def _check_ignore_index(ignore_index: Any, name: str) -> int:
    """PyTorch's ``ignore_index`` is an int (a float is refused, not truncated); returned as a Python int."""
    if isinstance(ignore_index, bool) or not isinstance(ignore_index, int | np.integer):
        raise TypeError(f"{name}(): ignore_index must be an int, got {type(ignore_index).__name__} "
                        f"{ignore_index!r}")
    if not -(2**63) <= ignore_index < 2**63:  # compared with int64 targets; PyTorch raises too
        raise ValueError(f"{name}(): ignore_index must fit in int64, got {ignore_index}")
    return int(ignore_index)


def _check_class_weight(weight: Any, num_classes: int, name: str) -> None:
    """A class weight is one float per class, shape ``(C,)``: anything else would broadcast the loss wrongly."""
    _check_tensor(weight, "weight")
    if weight.shape != (num_classes,):
        raise ValueError(f"{name}(): weight must have shape ({num_classes},) (one weight per class), got "
                         f"{weight.shape}")


def _check_broadcasts_to(value: Any, name: str, shape: tuple[int, ...], owner: str) -> None:
    """``value`` must broadcast to the input's ``shape`` without growing it (PyTorch raises otherwise)."""
    _check_tensor(value, name)
    try:
        fits = np.broadcast_shapes(value.shape, shape) == tuple(shape)
    except ValueError:
        fits = False
    if not fits:
        raise ValueError(f"{owner}(): {name} of shape {value.shape} does not broadcast to input's shape {shape}")


def _check_class_range(target: Tensor, num_classes: int, ignore_index: int, name: str) -> None:
    """Every target is a class index in ``[0, num_classes)`` or ``ignore_index``. The host reads the targets (a
    sync on a GPU, hence cross_entropy's fused path asks the backend first; on the CPU a view, no copy) and checks
    them in numpy: five tensor ops cost a DigitsCNN step on the CPU ~0.3 ms."""
    t = target.numpy()
    bad = (t != ignore_index) & ((t < 0) | (t >= num_classes))
    if bool(bad.any()):
        raise ValueError(f"{name}(): target contains class index {int(t[bad][0])} outside [0, {num_classes}) "
                         f"(ignore_index={ignore_index})")


def cross_entropy(input: Tensor, target: Tensor, weight: Tensor | None = None, ignore_index: int = -100,
                  reduction: str = "mean", label_smoothing: float = 0.0, *, consume_input: bool = False) -> Tensor:
    """Softmax cross-entropy, PyTorch's ``F.cross_entropy``.

    Class-index targets with ``reduction='mean'``, no class weights and no smoothing run the fused
    kernel (loss and gradient in one pass); every other combination, and probability targets, is
    built from :func:`log_softmax` so the answer is PyTorch's either way. A row whose target is
    ``ignore_index`` adds 0 to the loss and gets a zero gradient on both paths, even when its logits are
    -inf/NaN padding (PyTorch's gradient row is NaN there); with every row ignored 'mean' is NaN and the
    gradient zero, as in PyTorch.

    ``consume_input=True`` (kernelgrad only, keyword-only, off by default; torch has no such flag): the fused
    kernel writes the gradient over the logits' storage instead of a new [N, C] buffer, and backward scales it
    there -- one [N, C] buffer fewer from forward to backward. It is done only when the framework can prove that
    nothing else reads the logits (docs/ladder/softmax_xent.md, "The in-place gradient"): otherwise it raises
    RuntimeError saying why, before anything is written. Afterwards ``input`` is *consumed*: any read of its
    values (an op, ``numpy()``, ``print``, ``.data``, ``detach()``) raises RuntimeError, while backward through
    it works (once: a second backward with ``retain_graph=True`` raises). With no gradient to compute
    (``no_grad``, or logits that do not require grad) nothing is written and nothing is consumed.

    Args:
        input: logits [N, C], [N, C, d1, ...] or unbatched [C] ([N, C] with ``consume_input``).
        target: int class indices [N] / [N, d1, ...] / [], or float probabilities of input's shape.
        weight: per-class weights [C]. ignore_index: an int (class-index targets only, as in PyTorch).
        consume_input: reuse the logits' storage for their gradient (see above).
    Raises:
        TypeError: non-float input, a target that is neither integer nor float of input's shape, a
            non-int ignore_index, or a non-bool consume_input.
        ValueError: shape mismatch, class index outside [0, C), a weight not of shape [C], bad reduction or
            label_smoothing, ignore_index outside int64 or set with probability targets; with consume_input,
            input not [N, C] or options the fused kernel does not take.
        RuntimeError: consume_input=True when the logits may have another reader.
    """
    if not isinstance(consume_input, bool):
        raise TypeError(f"cross_entropy(): consume_input must be a bool, got {type(consume_input).__name__}")
    if consume_input:
        _check_consumable_call(input, target, weight, reduction, label_smoothing)
    if reduction not in _REDUCTIONS:
        raise ValueError(f"reduction must be one of {_REDUCTIONS}, got {reduction!r}")
    if not 0.0 <= label_smoothing <= 1.0:
        raise ValueError(f"label_smoothing must be in [0, 1], got {label_smoothing}")
    ignore_index = _check_ignore_index(ignore_index, "cross_entropy")
    _check_tensor(target, "target")
    if target.dtype.is_floating_point:
        if isinstance(input, Tensor) and target.shape != input.shape:
            raise TypeError(f"cross_entropy(): target must be an integer tensor of class indices, got dtype "
                            f"{target.dtype} with shape {target.shape}; a float target holds class "
                            f"probabilities and must have input's shape {input.shape}")
        if ignore_index != -100:  # PyTorch refuses it too rather than ignoring it silently
            raise ValueError(f"cross_entropy(): ignore_index={ignore_index} is not supported with probability "
                             f"(floating-point) targets")
        return _cross_entropy_probabilities(input, target, weight, reduction, label_smoothing)
    logits, flat_target = _class_targets(input, target, "cross_entropy")
    C = logits.shape[1]
    if weight is not None:
        _check_class_weight(weight, C, "cross_entropy")
    fused = reduction == "mean" and weight is None and label_smoothing == 0.0
    # The range check is the one value check of the targets (the host reads a flag: a sync on a GPU). On the
    # fused path it runs where the backend allows it (on a GPU only under KERNELGRAD_SYNC_CHECKS=1); unchecked,
    # the kernel gives a bad target's row a NaN loss and NaN gradient. The composite path gathers with the
    # targets, so it always checks.
    if not fused or logits.backend.value_checks_enabled():
        _check_class_range(flat_target, C, ignore_index, "cross_entropy")
    if fused:
        if consume_input and is_grad_enabled() and logits.requires_grad:
            return _cross_entropy_consuming(logits, flat_target, ignore_index)
        return SoftmaxCrossEntropy.apply(logits, flat_target, ignore_index)
    return _cross_entropy_composite(logits, flat_target, weight, ignore_index, reduction, label_smoothing,
                                    target.shape if input.ndim > 1 else ())


_CONSUMED = ("these logits were consumed by cross_entropy(consume_input=True): their storage now holds the "
             "gradient of the loss, so their values are gone. Keep a copy before the call (logits.detach().clone()) "
             "or call without consume_input=True if you need them afterwards")


def _check_consumable_call(input: Any, target: Any, weight: Any, reduction: str, label_smoothing: float) -> None:
    """consume_input needs the fused kernel's case: [N, C] logits, class-index targets, mean, no weight/smoothing."""
    _check_tensor(input, "input")
    _check_tensor(target, "target")
    if input.ndim != 2:
        raise ValueError(f"cross_entropy(consume_input=True): input must be [N, C] logits, got shape {input.shape}")
    if target.dtype.is_floating_point or weight is not None or reduction != "mean" or label_smoothing != 0.0:
        raise ValueError("cross_entropy(consume_input=True) needs class-index targets, reduction='mean', no weight "
                         "and no label_smoothing (the fused kernel that writes the gradient over the logits)")


def _cross_entropy_consuming(logits: Tensor, target: Tensor, ignore_index: int) -> Tensor:
    """The fused loss with the gradient written over the logits' storage, once nothing else can read it."""
    why = logits._consume_refusal()
    if why is not None:
        raise RuntimeError(f"cross_entropy(consume_input=True): the logits cannot be consumed: {why}. Call without "
                           "consume_input=True (the gradient then gets a buffer of its own)")
    loss = SoftmaxCrossEntropy.apply(logits, target, ignore_index, written=logits._bump_version)
    logits._mark_consumed(_CONSUMED)
    return loss


def _valid_rows(logits: Tensor, target: Tensor, ignore_index: int) -> tuple[Tensor, Tensor, Tensor]:
    """(valid [M] bool, logits with ignored rows zeroed, targets with ignored rows set to class 0).

    Ignored rows are replaced *before* any math and dropped again with ``where``, never by multiplying
    with a 0/1 mask: a padding row may hold -inf/NaN logits, and 0 * NaN is NaN -- in the loss, and in
    the gradient of every row once a reduction has spread it. So an ignored row adds exactly 0 to the
    loss and receives a zero gradient, as on the fused kernel path. (PyTorch agrees on the loss; its
    gradient row for an all-non-finite ignored row is NaN.)
    """
    valid = target != ignore_index
    safe_target = where(valid, target, 0)
    safe_logits = where(valid.unsqueeze(1), logits, 0.0)
    return valid, safe_logits, safe_target


def _masked_reduce(loss: Tensor, valid: Tensor, row_weight: Tensor | None, reduction: str, out_shape) -> Tensor:
    """Reduce per-row losses over the valid rows; 'mean' divides by the valid rows' total weight, which is
    0 when every row is ignored: the loss is then 0/0 = NaN and the gradient 0, both as in PyTorch."""
    loss = where(valid, loss, 0.0)
    if reduction == "none":
        return loss.reshape(out_shape)
    if reduction == "sum":
        return loss.sum()
    # 0/0 is PyTorch's answer, not worth numpy's warning; multiplying by 1/denominator keeps the loss's
    # backward (grad * inf, zeroed by the where above) free of warnings too. The denominator keeps its graph:
    # a class weight that requires grad (PyTorch refuses one) gets its true gradient.
    with np.errstate(divide="ignore", invalid="ignore"):
        denominator = where(valid, row_weight, 0.0).sum() if row_weight is not None else valid.to(loss.dtype).sum()
        return loss.sum() * (1 / denominator)


def _cross_entropy_composite(logits, target, weight, ignore_index, reduction, smoothing, out_shape):
    """Class-index cross-entropy built from log_softmax: class weights, label smoothing, 'sum'/'none'."""
    valid, logits, target = _valid_rows(logits, target, ignore_index)
    logp = log_softmax(logits, dim=1)
    picked = -ops.TakeAlongAxis.apply(logp, target.unsqueeze(1), 1).reshape(-1)
    C = logits.shape[1]
    w = weight.to(dtype=logits.dtype) if weight is not None else None
    w_target = w[target] if w is not None else None
    if w_target is not None:
        picked = picked * w_target
    loss = picked
    if smoothing:
        smooth = -(logp * w).sum(dim=1) if w is not None else -logp.sum(dim=1)
        loss = picked * (1 - smoothing) + smooth * (smoothing / C)
    return _masked_reduce(loss, valid, w_target, reduction, out_shape)


def _cross_entropy_probabilities(input, target, weight, reduction, smoothing):
    _check_float(input, "input")
    if input.ndim == 0:
        raise ValueError("cross_entropy(): input must hold class scores ([C], [N, C] or [N, C, d1, ...]), got a 0-d "
                         "tensor")
    if target.shape != input.shape:
        raise ValueError(f"cross_entropy(): probability target shape {target.shape} must equal input shape "
                         f"{input.shape}")
    dim = 0 if input.ndim == 1 else 1
    C = input.shape[dim]
    if weight is not None:
        _check_class_weight(weight, C, "cross_entropy")
        weight = weight.to(dtype=input.dtype)
    if smoothing:
        target = target * (1 - smoothing) + smoothing / C
    logp = log_softmax(input, dim=dim)
    if weight is not None:
        shape = [1] * input.ndim
        shape[dim] = C
        logp = logp * weight.reshape(shape)
    loss = -(logp * target).sum(dim=dim)
    if reduction == "mean":
        return loss.sum() / (loss.numel() if loss.ndim else 1)
    return _reduce(loss, reduction)


def nll_loss(input: Tensor, target: Tensor, weight: Tensor | None = None, ignore_index: int = -100,
             reduction: str = "mean") -> Tensor:
    """Negative log-likelihood on log-probabilities, PyTorch's ``F.nll_loss``.

    Ignored rows add 0 and get a zero gradient even if they hold -inf/NaN; 'mean' over no valid row is NaN
    (as in PyTorch). Raises TypeError for a non-int ``ignore_index``, ValueError for a ``weight`` that is
    not one value per class."""
    if reduction not in _REDUCTIONS:
        raise ValueError(f"reduction must be one of {_REDUCTIONS}, got {reduction!r}")
    ignore_index = _check_ignore_index(ignore_index, "nll_loss")
    logp, flat_target = _class_targets(input, target, "nll_loss")
    if weight is not None:
        _check_class_weight(weight, logp.shape[1], "nll_loss")
    _check_class_range(flat_target, logp.shape[1], ignore_index, "nll_loss")
    valid, logp, flat_target = _valid_rows(logp, flat_target, ignore_index)
    loss = -ops.TakeAlongAxis.apply(logp, flat_target.unsqueeze(1), 1).reshape(-1)
    w = weight.to(dtype=logp.dtype)[flat_target] if weight is not None else None
    if w is not None:
        loss = loss * w
    return _masked_reduce(loss, valid, w, reduction, target.shape if input.ndim > 1 else ())


def mse_loss(input: Tensor, target: Tensor, reduction: str = "mean", weight: Tensor | None = None) -> Tensor:
    """Mean squared error, PyTorch's ``F.mse_loss``; an optional per-element ``weight`` (input's shape) scales
    each term, and 'mean' then divides by ``weight.sum()``."""
    _check_same_shape(input, target, "mse_loss")
    _check_reduction(reduction, "mse_loss")
    diff = input - target
    return _weighted_reduce(diff * diff, weight, reduction, "mse_loss", True)


def _weighted_reduce(loss: Tensor, weight: Tensor | None, reduction: str, name: str, mean_over_weight: bool):
    if weight is None:
        return _reduce(loss, reduction)
    _check_tensor(weight, "weight")
    if weight.shape != loss.shape:
        raise ValueError(f"{name}(): weight shape {weight.shape} must equal input shape {loss.shape}")
    loss = loss * weight
    # PyTorch's own inconsistency, kept: l1_loss's weighted mean divides by sum(weight), huber_loss's by numel.
    if reduction == "mean" and mean_over_weight:
        return loss.sum() / weight.sum()
    return _reduce(loss, reduction)


def l1_loss(input: Tensor, target: Tensor, reduction: str = "mean", weight: Tensor | None = None) -> Tensor:
    """Mean absolute error ``|input - target|``, PyTorch's ``F.l1_loss``; an optional per-element ``weight``
    (input's shape) scales each term, and 'mean' then divides by ``weight.sum()``."""
    _check_same_shape(input, target, "l1_loss")
    _check_reduction(reduction, "l1_loss")
    return _weighted_reduce((input - target).abs(), weight, reduction, "l1_loss", True)


def smooth_l1_loss(input: Tensor, target: Tensor, reduction: str = "mean", beta: float = 1.0) -> Tensor:
    """Smooth L1, PyTorch's ``F.smooth_l1_loss``: ``0.5 d^2 / beta`` where ``d = |input - target| < beta``,
    else ``d - 0.5 beta``; ``beta = 0`` is plain L1. Raises ValueError for a negative ``beta``."""
    _check_same_shape(input, target, "smooth_l1_loss")
    _check_reduction(reduction, "smooth_l1_loss")
    if beta < 0:
        raise ValueError(f"smooth_l1_loss(): beta must be non-negative, got {beta!r}")
    diff = (input - target).abs()
    if beta == 0:
        return _reduce(diff, reduction)
    # The square sees diff clamped to beta: where() hands the unused branch a zero gradient, and
    # 0 * inf (an infinite diff) would make it NaN; PyTorch gives sign(d) there.
    near = diff.clamp(max=beta)
    return _reduce(where(diff < beta, near * near * (0.5 / beta), diff - 0.5 * beta), reduction)


def huber_loss(input: Tensor, target: Tensor, reduction: str = "mean", delta: float = 1.0,
               weight: Tensor | None = None) -> Tensor:
    """Huber loss, PyTorch's ``F.huber_loss``: ``0.5 d^2`` where ``d = |input - target| < delta``, else
    ``delta * (d - 0.5 delta)`` (``delta`` times smooth L1 with ``beta = delta``); optional per-element
    ``weight``, with 'mean' over all elements. Raises ValueError unless ``delta > 0``."""
    _check_same_shape(input, target, "huber_loss")
    _check_reduction(reduction, "huber_loss")
    if not delta > 0:
        raise ValueError(f"huber_loss(): delta must be positive, got {delta!r}")
    diff = (input - target).abs()
    near = diff.clamp(max=delta)  # no 0 * inf = NaN gradient from the unused branch (see smooth_l1_loss)
    loss = where(diff < delta, near * near * 0.5, (diff - 0.5 * delta) * delta)
    return _weighted_reduce(loss, weight, reduction, "huber_loss", False)


def kl_div(input: Tensor, target: Tensor, reduction: str = "mean", log_target: bool = False) -> Tensor:
    """KL divergence loss, PyTorch's ``F.kl_div``: pointwise ``target * (log(target) - input)`` with
    ``input`` log-probabilities (``target`` too if ``log_target``).

    ``reduction``: 'none', 'sum', 'batchmean' (sum / batch size ``input.shape[0]``: the true KL divergence
    per sample) or 'mean' (sum / number of elements, which warns as PyTorch does).
    Raises ValueError for a target of another shape or an unknown reduction.
    """
    _check_same_shape(input, target, "kl_div")
    _check_reduction(reduction, "kl_div", _KL_DIV_REDUCTIONS)
    _check_float(input, "kl_div(): input")
    if reduction == "mean":
        warnings.warn("reduction: 'mean' divides the total loss by both the batch size and the support size."
                      "'batchmean' divides only by the batch size, and aligns with the KL div math definition."
                      "'mean' will be changed to behave the same as 'batchmean' in the next major release.",
                      stacklevel=2)
    loss = KLDiv.apply(input, target, bool(log_target))
    if reduction == "batchmean":
        return loss.sum() / input.shape[0] if input.ndim else loss.sum()
    return _reduce(loss, reduction)


def binary_cross_entropy(input: Tensor, target: Tensor, weight: Tensor | None = None,
                         reduction: str = "mean") -> Tensor:
    """BCE on probabilities, PyTorch's ``F.binary_cross_entropy`` (values and gradients, including p = 0, 1).

    Args: input: probabilities in [0, 1]; target: same shape; weight: rescales each element, broadcast to
        input's shape. Raises ValueError for values outside [0, 1] or NaN (on a GPU only under
        ``KERNELGRAD_SYNC_CHECKS=1``: the check reads the values on the host), for a target of another shape
        and for a weight that does not broadcast to input's shape.
    """
    _check_same_shape(input, target, "binary_cross_entropy")
    _check_reduction(reduction, "binary_cross_entropy")
    _check_float(input, "binary_cross_entropy(): input")
    if target.dtype != input.dtype:  # PyTorch refuses too (no promotion in this loss)
        raise TypeError(f"binary_cross_entropy(): target must have input's dtype {input.dtype}, got {target.dtype}")
    if weight is not None:
        _check_broadcasts_to(weight, "weight", input.shape, "binary_cross_entropy")
        weight = weight.to(dtype=input.dtype)  # the loss keeps input's dtype, as PyTorch's
    # NaN fails both comparisons; the host reads one flag, not the values
    if input.backend.value_checks_enabled() and not bool(((input >= 0) & (input <= 1)).all()):
        raise ValueError("binary_cross_entropy(): input values must be in [0, 1] (apply sigmoid first, or "
                         "use binary_cross_entropy_with_logits)")
    loss = BinaryCrossEntropy.apply(input, target)
    if weight is not None:
        loss = loss * weight
    return _reduce(loss, reduction)


def binary_cross_entropy_with_logits(input: Tensor, target: Tensor, weight: Tensor | None = None,
                                     reduction: str = "mean", pos_weight: Tensor | None = None) -> Tensor:
    """Sigmoid + BCE on logits, PyTorch's ``F.binary_cross_entropy_with_logits`` (values and gradients).

    Args: weight: rescales each element; pos_weight: weight of the positive term (per class, along the last
        dim); both must broadcast to input's shape. Raises ValueError for a target of another shape, or a
        weight / pos_weight that does not broadcast to input's shape.
    """
    name = "binary_cross_entropy_with_logits"
    _check_same_shape(input, target, name)
    _check_reduction(reduction, name)
    _check_float(input, f"{name}(): input")
    _check_float(target, f"{name}(): target")
    dtype = result_type(input, target)  # PyTorch promotes input and target; the weights follow that dtype
    for value, arg in ((weight, "weight"), (pos_weight, "pos_weight")):
        if value is not None:
            _check_broadcasts_to(value, arg, input.shape, name)
    input, target = input.to(dtype=dtype), target.to(dtype=dtype)
    weight = None if weight is None else weight.to(dtype=dtype)
    pos_weight = None if pos_weight is None else pos_weight.to(dtype=dtype)
    loss = BCEWithLogits.apply(input, target, pos_weight)
    if weight is not None:
        loss = loss * weight
    return _reduce(loss, reduction)
