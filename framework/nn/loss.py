"""Loss modules: thin wrappers that hold a loss's options (and class weights as buffers) and call
:mod:`framework.nn.functional`, with PyTorch's names, defaults and ``state_dict`` entries."""

from __future__ import annotations

from ..tensor import Tensor
from . import functional as F
from .functional._args import _KL_DIV_REDUCTIONS
from .module import Module

__all__ = ["BCELoss", "BCEWithLogitsLoss", "CrossEntropyLoss", "HuberLoss", "KLDivLoss", "L1Loss", "MSELoss",
           "NLLLoss", "SmoothL1Loss"]

_REDUCTIONS = ("none", "mean", "sum")


class _Loss(Module):
    _reductions: tuple[str, ...] = _REDUCTIONS

    def __init__(self, reduction: str = "mean"):
        super().__init__()
        if reduction not in self._reductions:
            raise ValueError(f"{type(self).__name__}: reduction must be one of {self._reductions}, got {reduction!r}")
        self.reduction = reduction

    def extra_repr(self) -> str:
        return f"reduction={self.reduction!r}" if self.reduction != "mean" else ""


class CrossEntropyLoss(_Loss):
    """Softmax cross-entropy on logits (fused kernel for the plain mean case), PyTorch's ``nn.CrossEntropyLoss``.

    Args:
        weight: optional per-class weights ``[C]`` (a persistent buffer, as in PyTorch).
        ignore_index: target value that contributes nothing (not even to the mean's denominator).
        reduction: ``'mean'``, ``'sum'`` or ``'none'``. label_smoothing: in [0, 1].
        consume_input: kernelgrad only (keyword-only, off by default): write the gradient over the logits'
            storage, which are unreadable afterwards -- ``F.cross_entropy(..., consume_input=True)``, whose
            docstring has the contract.
    Shapes: input ``[N, C]`` / ``[N, C, d...]`` / ``[C]``; target class indices ``[N]`` / ``[N, d...]`` / ``[]``
        or probabilities of input's shape.
    """

    def __init__(self, weight: Tensor | None = None, ignore_index: int = -100, reduction: str = "mean",
                 label_smoothing: float = 0.0, *, consume_input: bool = False):
        super().__init__(reduction)
        if not 0.0 <= label_smoothing <= 1.0:
            raise ValueError(f"CrossEntropyLoss: label_smoothing must be in [0, 1], got {label_smoothing!r}")
        if not isinstance(consume_input, bool):
            raise TypeError(f"CrossEntropyLoss: consume_input must be a bool, got {type(consume_input).__name__}")
        self.register_buffer("weight", weight)
        self.ignore_index = ignore_index
        self.label_smoothing = label_smoothing
        self.consume_input = consume_input

    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        return F.cross_entropy(input, target, weight=self.weight, ignore_index=self.ignore_index,
                               reduction=self.reduction, label_smoothing=self.label_smoothing,
                               consume_input=self.consume_input)

    def extra_repr(self) -> str:
        return ", ".join(x for x in (super().extra_repr(), "consume_input=True" if self.consume_input else "") if x)


class NLLLoss(_Loss):
    """Negative log-likelihood on log-probabilities (pair with ``LogSoftmax``); arguments as CrossEntropyLoss."""

    def __init__(self, weight: Tensor | None = None, ignore_index: int = -100, reduction: str = "mean"):
        super().__init__(reduction)
        self.register_buffer("weight", weight)
        self.ignore_index = ignore_index

    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        return F.nll_loss(input, target, weight=self.weight, ignore_index=self.ignore_index,
                          reduction=self.reduction)


class MSELoss(_Loss):
    """Mean squared error between input and a target of the same shape."""

    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        return F.mse_loss(input, target, reduction=self.reduction)


class L1Loss(_Loss):
    """Mean absolute error between input and a target of the same shape."""

    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        return F.l1_loss(input, target, reduction=self.reduction)


class SmoothL1Loss(_Loss):
    """Smooth L1: squared (``0.5 d^2 / beta``) below ``beta``, L1 (``d - 0.5 beta``) above; ``beta >= 0``."""

    def __init__(self, reduction: str = "mean", beta: float = 1.0):
        super().__init__(reduction)
        if isinstance(beta, bool) or not isinstance(beta, int | float) or beta < 0:
            raise ValueError(f"SmoothL1Loss: beta must be a non-negative number, got {beta!r}")
        self.beta = beta

    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        return F.smooth_l1_loss(input, target, reduction=self.reduction, beta=self.beta)


class HuberLoss(_Loss):
    """Huber loss: ``0.5 d^2`` below ``delta``, ``delta * (d - 0.5 delta)`` above; ``delta > 0``."""

    def __init__(self, reduction: str = "mean", delta: float = 1.0):
        super().__init__(reduction)
        if isinstance(delta, bool) or not isinstance(delta, int | float) or not delta > 0:
            raise ValueError(f"HuberLoss: delta must be a positive number, got {delta!r}")
        self.delta = delta

    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        return F.huber_loss(input, target, reduction=self.reduction, delta=self.delta)


class KLDivLoss(_Loss):
    """KL divergence of a target distribution from log-probabilities ``input`` (see ``F.kl_div``).

    Args: reduction: ``'mean'`` (default, per element, warns as PyTorch does), ``'batchmean'`` (the true KL
        divergence per sample), ``'sum'`` or ``'none'``. log_target: the target is given as log-probabilities.
    """

    _reductions = _KL_DIV_REDUCTIONS

    def __init__(self, reduction: str = "mean", log_target: bool = False):
        super().__init__(reduction)
        self.log_target = log_target

    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        return F.kl_div(input, target, reduction=self.reduction, log_target=self.log_target)


class BCELoss(_Loss):
    """Binary cross-entropy on probabilities in [0, 1]; ``weight`` (a buffer) rescales each element."""

    def __init__(self, weight: Tensor | None = None, reduction: str = "mean"):
        super().__init__(reduction)
        self.register_buffer("weight", weight)

    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        return F.binary_cross_entropy(input, target, weight=self.weight, reduction=self.reduction)


class BCEWithLogitsLoss(_Loss):
    """Sigmoid + binary cross-entropy in one numerically stable expression.

    Args:
        weight: per-element rescaling (broadcast to the input). pos_weight: weight of positive
            examples per class (broadcast along the last dim). Both are buffers, as in PyTorch.
    """

    def __init__(self, weight: Tensor | None = None, reduction: str = "mean", pos_weight: Tensor | None = None):
        super().__init__(reduction)
        self.register_buffer("weight", weight)
        self.register_buffer("pos_weight", pos_weight)

    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        return F.binary_cross_entropy_with_logits(input, target, weight=self.weight, reduction=self.reduction,
                                                  pos_weight=self.pos_weight)
