"""Normalisation layers: ``BatchNorm1d``, ``BatchNorm2d``, ``LayerNorm`` and ``GroupNorm``, with PyTorch's
names, arguments, defaults, parameter/buffer names (so a PyTorch ``state_dict`` loads as is) and semantics.

The arithmetic is :func:`framework.nn.functional.batch_norm` (``layer_norm``, ``group_norm``); the batch
norm layers hold the affine parameters and the running buffers, count the training batches and pick batch
or running statistics from ``self.training`` exactly as ``torch.nn.modules.batchnorm._BatchNorm`` does.
LayerNorm and GroupNorm always use the statistics of the input itself, in training and eval alike.
"""

from __future__ import annotations

from typing import Any

from ..dtypes import as_dtype, float32
from ..tensor import Tensor, type_name, zeros
from . import functional as F
from . import init
from .functional._args import _normalized_shape
from .layers import _new_parameter, _positive_int
from .module import Module

__all__ = ["BatchNorm1d", "BatchNorm2d", "BatchNorm3d", "GroupNorm", "LayerNorm"]


def _check_eps(eps: Any, owner: str) -> float:
    if isinstance(eps, bool) or not isinstance(eps, int | float) or eps < 0:
        raise ValueError(f"{owner}: eps must be a non-negative number, got {eps!r}")
    return float(eps)


class _AffineNorm(Module):
    """What the normalisation layers share: an optional learned ``weight`` (ones) and ``bias`` (zeros)."""

    def _affine_parameters(self, shape: tuple[int, ...], affine: bool, bias: bool, device: Any, dtype: Any) -> None:
        owner = type(self).__name__
        for name, wanted in (("weight", affine), ("bias", affine and bias)):
            self.register_parameter(name, _new_parameter(shape, device, dtype, owner) if wanted else None)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """``weight`` to ones and ``bias`` to zeros (those that exist)."""
        if self.weight is not None:
            init.ones_(self.weight)
        if self.bias is not None:
            init.zeros_(self.bias)


class _BatchNorm(_AffineNorm):
    """Shared implementation of ``BatchNorm1d``/``BatchNorm2d``; subclasses set the accepted input dims.

    Args:
        num_features: the number of channels ``C`` (dim 1 of the input), a positive int.
        eps: added to the variance for numerical stability.
        momentum: weight of each new batch in the running statistics; None gives the cumulative
            moving average (momentum ``1 / num_batches_tracked``), as in PyTorch.
        affine: learn a per-channel ``weight`` (initialised to ones) and ``bias`` (zeros).
        bias: keyword-only; with ``affine``, False leaves out the learned ``bias`` (PyTorch >= 2.10's option).
        track_running_stats: keep ``running_mean`` (zeros), ``running_var`` (ones) and
            ``num_batches_tracked`` (int64 zero) buffers, updated in training and used in eval. Without
            them the batch statistics are used in eval mode too.
        device, dtype: placement of the parameters and float buffers (default device, float32).
    Raises: ValueError for a non-positive ``num_features``, a negative ``eps`` or a momentum outside
        [0, 1]; TypeError for a non-float dtype; in ``forward``, ValueError for an input of the wrong
        number of dims or channels, or one value per channel in training.
    """

    _expected_dims: tuple[int, ...] = ()
    _expected_text = ""

    def __init__(self, num_features: int, eps: float = 1e-5, momentum: float | None = 0.1, affine: bool = True,
                 track_running_stats: bool = True, device: Any = None, dtype: Any = None, *, bias: bool = True):
        super().__init__()
        name = type(self).__name__
        self.num_features = _positive_int(num_features, "num_features", name)
        self.eps = _check_eps(eps, name)
        if momentum is not None and (isinstance(momentum, bool) or not isinstance(momentum, int | float)
                                     or not 0.0 <= momentum <= 1.0):
            raise ValueError(f"{name}: momentum must be a number in [0, 1] or None, got {momentum!r}")
        self.momentum = None if momentum is None else float(momentum)
        self.affine = bool(affine)
        self.track_running_stats = bool(track_running_stats)
        if self.track_running_stats:
            float_dtype = as_dtype(dtype) if dtype is not None else float32
            if not float_dtype.is_floating_point:
                raise TypeError(f"{name}: dtype must be floating point, got {float_dtype}")
            self.register_buffer("running_mean", zeros(self.num_features, dtype=float_dtype, device=device))
            self.register_buffer("running_var", zeros(self.num_features, dtype=float_dtype, device=device))
            self.register_buffer("num_batches_tracked", zeros((), dtype="int64", device=device))
        else:
            self.register_buffer("running_mean", None)
            self.register_buffer("running_var", None)
            self.register_buffer("num_batches_tracked", None)
        self._affine_parameters((self.num_features,), self.affine, bias, device, dtype)

    def reset_running_stats(self) -> None:
        """``running_mean`` to zeros, ``running_var`` to ones, ``num_batches_tracked`` to 0 (if tracked)."""
        if self.track_running_stats:
            init.zeros_(self.running_mean)
            init.ones_(self.running_var)
            self.num_batches_tracked.zero_()

    def reset_parameters(self) -> None:
        """Reset the running statistics, then ``weight`` to ones and ``bias`` to zeros (if affine)."""
        self.reset_running_stats()
        super().reset_parameters()

    def _check_input(self, input: Tensor) -> None:
        name = type(self).__name__
        if not isinstance(input, Tensor):
            raise TypeError(f"{name}: input must be a Tensor, got {type_name(input)}")
        if input.ndim not in self._expected_dims:
            raise ValueError(f"{name}: expected {self._expected_text} input, got {input.ndim}-D input of shape "
                             f"{input.shape}")
        if input.shape[1] != self.num_features:
            raise ValueError(f"{name}: expected input with num_features={self.num_features} channels (dim 1), "
                             f"got input of shape {input.shape}")

    def forward(self, input: Tensor) -> Tensor:
        self._check_input(input)
        momentum = 0.0 if self.momentum is None else self.momentum
        if self.training and self.track_running_stats and self.num_batches_tracked is not None:
            if input.numel() // input.shape[1] <= 1:  # refuse before counting a batch that is not used
                raise ValueError(f"Expected more than 1 value per channel when training, got input size "
                                 f"{input.shape}")
            tracked = self.num_batches_tracked
            tracked._write("batch_norm", ..., (tracked.detach() + 1)._data)
            if self.momentum is None:  # cumulative moving average
                momentum = 1.0 / float(tracked.item())
        # Batch statistics in training, and in eval when there are no running statistics to use.
        use_batch_stats = self.training or (self.running_mean is None and self.running_var is None)
        track = not self.training or self.track_running_stats
        return F.batch_norm(input, self.running_mean if track else None, self.running_var if track else None,
                            self.weight, self.bias, use_batch_stats, momentum, self.eps)

    def extra_repr(self) -> str:
        return (f"{self.num_features}, eps={self.eps}, momentum={self.momentum}, affine={self.affine}, "
                f"bias={self.bias is not None}, track_running_stats={self.track_running_stats}")


class BatchNorm1d(_BatchNorm):
    """Batch normalisation of ``[N, C]`` or ``[N, C, L]`` over every dim but ``C``, PyTorch's ``nn.BatchNorm1d``.

    Args: see :class:`_BatchNorm` (``num_features, eps=1e-5, momentum=0.1, affine=True,
        track_running_stats=True, device=None, dtype=None, *, bias=True``).
    Shapes: input ``[N, C]`` or ``[N, C, L]`` -> same shape; ``weight``, ``bias``, ``running_mean``,
        ``running_var`` ``[C]``, ``num_batches_tracked`` ``[]`` int64.
    Raises: ValueError for other input dims, ``C != num_features``, or one value per channel in
        training (``N == 1`` for ``[N, C]``, ``N * L == 1`` for ``[N, C, L]``).
    """

    _expected_dims = (2, 3)
    _expected_text = "2-D or 3-D ([N, C] or [N, C, L])"


class BatchNorm2d(_BatchNorm):
    """Batch normalisation of ``[N, C, H, W]`` over ``N, H, W`` per channel, PyTorch's ``nn.BatchNorm2d``.

    Args: see :class:`_BatchNorm` (``num_features, eps=1e-5, momentum=0.1, affine=True,
        track_running_stats=True, device=None, dtype=None, *, bias=True``).
    Shapes: input ``[N, C, H, W]`` -> same shape (unbatched 3-D input is rejected, as in PyTorch);
        ``weight``, ``bias``, ``running_mean``, ``running_var`` ``[C]``, ``num_batches_tracked`` ``[]`` int64.
    Raises: ValueError for non-4-D input, ``C != num_features``, or one value per channel in training.
    """

    _expected_dims = (4,)
    _expected_text = "4-D ([N, C, H, W])"


class BatchNorm3d(_BatchNorm):
    """Batch normalisation of ``[N, C, D, H, W]`` over every dim but ``C``, PyTorch's ``nn.BatchNorm3d``
    (the same arguments, parameters and buffers as :class:`BatchNorm2d`)."""

    _expected_dims = (5,)
    _expected_text = "5-D ([N, C, D, H, W])"


class LayerNorm(_AffineNorm):
    """Layer normalisation over the trailing ``normalized_shape`` dims, PyTorch's ``nn.LayerNorm``.

    Args:
        normalized_shape: an int or a sequence of ints, the trailing dims of the input to normalise over.
        eps: added to the (biased) variance for numerical stability.
        elementwise_affine: learn a ``weight`` (ones) and ``bias`` (zeros) of shape ``normalized_shape``.
        bias: with ``elementwise_affine``, False leaves out the learned ``bias``.
        device, dtype: placement of the parameters (default device, float32).
    Shapes: input ``[*, *normalized_shape]`` -> same shape.
    Raises: ValueError for a bad ``normalized_shape`` or negative ``eps``; TypeError for a non-float dtype;
        in ``forward``, ValueError when the input's trailing dims are not ``normalized_shape``.
    """

    def __init__(self, normalized_shape: Any, eps: float = 1e-5, elementwise_affine: bool = True, bias: bool = True,
                 device: Any = None, dtype: Any = None):
        super().__init__()
        self.normalized_shape = _normalized_shape(normalized_shape, "LayerNorm")
        self.eps = _check_eps(eps, "LayerNorm")
        self.elementwise_affine = bool(elementwise_affine)
        self._affine_parameters(self.normalized_shape, self.elementwise_affine, bias, device, dtype)

    def forward(self, input: Tensor) -> Tensor:
        return F.layer_norm(input, self.normalized_shape, self.weight, self.bias, self.eps)

    def extra_repr(self) -> str:
        return (f"{self.normalized_shape}, eps={self.eps}, elementwise_affine={self.elementwise_affine}, "
                f"bias={self.bias is not None}")


class GroupNorm(_AffineNorm):
    """Group normalisation, PyTorch's ``nn.GroupNorm``: ``num_channels`` split into ``num_groups`` groups of
    consecutive channels, each normalised per sample over its channels and all dims after ``C``.

    Args:
        num_groups: positive int dividing ``num_channels``. num_channels: ``C`` (dim 1 of the input).
        eps: added to the (biased) variance for numerical stability.
        affine: learn a per-channel ``weight`` (ones) and ``bias`` (zeros) of shape ``[C]``.
        device, dtype: placement of the parameters (default device, float32).
        bias: keyword-only; with ``affine``, False leaves out the learned ``bias`` (PyTorch >= 2.10's option).
    Shapes: input ``[N, C, *]`` -> same shape.
    Raises: ValueError for non-positive sizes, ``num_channels`` not divisible by ``num_groups`` or a negative
        ``eps``; TypeError for a non-float dtype; in ``forward``, ValueError for input that is not
        ``[N, num_channels, *]``.
    """

    def __init__(self, num_groups: int, num_channels: int, eps: float = 1e-5, affine: bool = True,
                 device: Any = None, dtype: Any = None, *, bias: bool = True):
        super().__init__()
        self.num_groups = _positive_int(num_groups, "num_groups", "GroupNorm")
        self.num_channels = _positive_int(num_channels, "num_channels", "GroupNorm")
        if self.num_channels % self.num_groups:
            raise ValueError(f"GroupNorm: num_channels ({num_channels}) must be divisible by num_groups "
                             f"({num_groups})")
        self.eps = _check_eps(eps, "GroupNorm")
        self.affine = bool(affine)
        self._affine_parameters((self.num_channels,), self.affine, bias, device, dtype)

    def forward(self, input: Tensor) -> Tensor:
        # PyTorch checks C only through the affine parameters' shape; without them a wrong C would pass.
        if isinstance(input, Tensor) and input.ndim >= 2 and input.shape[1] != self.num_channels:
            raise ValueError(f"GroupNorm: expected input with num_channels={self.num_channels} channels (dim 1), "
                             f"got input of shape {input.shape}")
        return F.group_norm(input, self.num_groups, self.weight, self.bias, self.eps)

    def extra_repr(self) -> str:
        return (f"{self.num_groups}, {self.num_channels}, eps={self.eps}, affine={self.affine}, "
                f"bias={self.bias is not None}")
