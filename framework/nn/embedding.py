"""Lookup and resampling layers: ``Embedding`` (a trainable table of vectors) and ``Upsample``
(nearest-neighbour or linear / bilinear / bicubic / trilinear resizing), with PyTorch's names, arguments and
default initialisation."""

from __future__ import annotations

from typing import Any

import numpy as np

from ..tensor import Tensor, type_name
from . import functional as F
from . import init
from .functional._args import _check_embedding_options, _check_interpolate_mode
from .layers import _new_parameter, _positive_int
from .module import Module
from .parameter import Parameter

__all__ = ["Embedding", "Upsample"]


class Embedding(Module):
    """A table of ``num_embeddings`` vectors of size ``embedding_dim``, looked up by integer index.

    Args:
        num_embeddings, embedding_dim: positive ints.
        padding_idx: the row at this index (negative counts from the end) starts at zero and gets no
            gradient, so it stays a fixed "padding" vector.
        max_norm, norm_type, scale_grad_by_freq, sparse: as in :func:`F.embedding` (``max_norm`` rescales
            the looked-up rows of ``weight`` in place at each forward; ``sparse`` must be False).
        _weight: an initial ``[num_embeddings, embedding_dim]`` float Tensor, used as the weight (its
            array is shared, and it is not re-initialised); ``device``/``dtype`` are then ignored.
        _freeze: the weight gets ``requires_grad=False``.
        device, dtype: parameter placement (default device, float32).
    Shapes: input integer ``[*]`` -> ``[*, embedding_dim]``; ``weight [num_embeddings, embedding_dim]``,
        initialised N(0, 1) as in PyTorch.
    Raises: ValueError for non-positive sizes, a padding_idx out of range, a ``_weight`` of another shape,
        a ``max_norm``/``norm_type`` that is not > 0, or ``sparse=True``; TypeError for a non-Tensor or
        non-float ``_weight`` or a non-number ``max_norm``/``norm_type``.
    """

    def __init__(self, num_embeddings: int, embedding_dim: int, padding_idx: int | None = None,
                 max_norm: float | None = None, norm_type: float = 2.0, scale_grad_by_freq: bool = False,
                 sparse: bool = False, _weight: Tensor | None = None, _freeze: bool = False,
                 device: Any = None, dtype: Any = None):
        super().__init__()
        name = type(self).__name__
        self.num_embeddings = _positive_int(num_embeddings, "num_embeddings", name)
        self.embedding_dim = _positive_int(embedding_dim, "embedding_dim", name)
        if padding_idx is not None:
            if isinstance(padding_idx, bool) or not isinstance(padding_idx, int | np.integer) \
                    or not -self.num_embeddings <= padding_idx < self.num_embeddings:
                raise ValueError(f"{name}: padding_idx must be an int in [-{self.num_embeddings}, "
                                 f"{self.num_embeddings}), got {padding_idx!r}")
            padding_idx = int(padding_idx) % self.num_embeddings
        self.padding_idx = padding_idx
        _check_embedding_options(max_norm, norm_type, sparse, name)
        # Kept as given (not cast to float) so extra_repr prints what the user wrote, as PyTorch's does.
        self.max_norm = max_norm
        self.norm_type = norm_type
        self.scale_grad_by_freq = scale_grad_by_freq
        self.sparse = sparse
        if _weight is None:
            self.weight = _new_parameter((self.num_embeddings, self.embedding_dim), device, dtype, name)
            self.reset_parameters()
            self.weight.requires_grad_(not _freeze)
        else:
            expected = (self.num_embeddings, self.embedding_dim)
            if not isinstance(_weight, Tensor):
                raise TypeError(f"{name}: _weight must be a Tensor, got {type_name(_weight)}")
            if _weight.shape != expected:
                raise ValueError(f"{name}: _weight must have shape {expected} (num_embeddings, embedding_dim), "
                                 f"got shape {_weight.shape}")
            if not _weight.dtype.is_floating_point:
                raise TypeError(f"{name}: _weight must be floating point, got dtype {_weight.dtype}")
            self.weight = Parameter(_weight, requires_grad=not _freeze)

    def reset_parameters(self) -> None:
        """N(0, 1) entries, the padding row (if any) zero — PyTorch's default."""
        init.normal_(self.weight)
        if self.padding_idx is not None:
            values = self.weight.numpy().copy()
            values[self.padding_idx] = 0
            self.weight._data = self.weight.backend.from_numpy(values, str(self.weight.dtype))

    def forward(self, input: Tensor) -> Tensor:
        return F.embedding(input, self.weight, self.padding_idx, self.max_norm, self.norm_type,
                           self.scale_grad_by_freq, self.sparse)

    @classmethod
    def from_pretrained(cls, embeddings: Tensor, freeze: bool = True, padding_idx: int | None = None,
                        max_norm: float | None = None, norm_type: float = 2.0, scale_grad_by_freq: bool = False,
                        sparse: bool = False) -> Embedding:
        """An Embedding whose weight is a copy of ``embeddings [num, dim]``; ``freeze`` turns its gradient off.

        The other args are the constructor's; the padding row is not zeroed (the table is used as given).
        Raises: ValueError unless ``embeddings`` is 2-D, and as the constructor does for the options.
        """
        if not isinstance(embeddings, Tensor) or embeddings.ndim != 2:
            shape = getattr(embeddings, "shape", None)
            raise ValueError(f"Embedding.from_pretrained: embeddings must be a 2-D Tensor, got shape {shape}")
        rows, cols = embeddings.shape
        return cls(rows, cols, padding_idx, max_norm, norm_type, scale_grad_by_freq, sparse,
                   _weight=embeddings.detach().clone(), _freeze=freeze)

    def extra_repr(self) -> str:
        s = f"{self.num_embeddings}, {self.embedding_dim}"
        if self.padding_idx is not None:
            s += f", padding_idx={self.padding_idx}"
        if self.max_norm is not None:
            s += f", max_norm={self.max_norm}"
        if self.norm_type != 2:
            s += f", norm_type={self.norm_type}"
        if self.scale_grad_by_freq is not False:
            s += f", scale_grad_by_freq={self.scale_grad_by_freq}"
        return s


class Upsample(Module):
    """Resizing of ``[N, C, *spatial]`` by :func:`F.interpolate`, PyTorch's ``nn.Upsample``.

    Args:
        size: output spatial size (int or one per dim). scale_factor: multiplier (float or one per dim,
            kept as float / a tuple of floats as PyTorch does). Exactly one of the two.
        mode: ``'nearest'``, ``'nearest-exact'``, ``'linear'`` (3-D input), ``'bilinear'``, ``'bicubic'``
            (4-D) or ``'trilinear'`` (5-D); any other mode raises ValueError naming it.
        align_corners: interpolating modes only (None means False); as in :func:`F.interpolate`.
        recompute_scale_factor: as in :func:`F.interpolate`.
    Shapes: ``[N, C, *spatial] -> [N, C, *out_spatial]``.
    Raises: ValueError for an unsupported mode or not exactly one of size / scale_factor (at construction);
        in forward, whatever :func:`F.interpolate` raises (a mode/rank mismatch, align_corners with a
        nearest mode, invalid sizes).
    """

    def __init__(self, size: Any = None, scale_factor: Any = None, mode: str = "nearest",
                 align_corners: bool | None = None, recompute_scale_factor: bool | None = None):
        super().__init__()
        _check_interpolate_mode(mode, "Upsample")
        if (size is None) == (scale_factor is None):
            raise ValueError("Upsample: give exactly one of size and scale_factor")
        self.size = size
        # Normalised like PyTorch's, so the repr prints the same ("scale_factor=2.0", "(2.0, 3.0)").
        if isinstance(scale_factor, tuple):
            self.scale_factor = tuple(float(f) for f in scale_factor)
        else:
            self.scale_factor = float(scale_factor) if isinstance(scale_factor, int | float) else scale_factor
        self.mode = mode
        self.align_corners = align_corners
        self.recompute_scale_factor = recompute_scale_factor

    def forward(self, input: Tensor) -> Tensor:
        return F.interpolate(input, self.size, self.scale_factor, self.mode, self.align_corners,
                             self.recompute_scale_factor)

    def extra_repr(self) -> str:
        what = f"scale_factor={self.scale_factor!r}" if self.scale_factor is not None else f"size={self.size!r}"
        return f"{what}, mode={self.mode!r}"
