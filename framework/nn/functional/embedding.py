"""embedding and one_hot."""

from __future__ import annotations

import numpy as np

from ... import ops
from ...autograd import no_grad
from ...ops.embedding import Embedding
from ...tensor import Tensor
from ...tensor import tensor as _tensor
from ._args import _check_embedding_options, _check_float, _check_tensor


def one_hot(tensor: Tensor, num_classes: int = -1) -> Tensor:
    """int64 one-hot encoding (no gradient), PyTorch's ``F.one_hot``."""
    values = tensor.numpy()
    if num_classes < 0:
        num_classes = int(values.max()) + 1 if values.size else 0
    if values.size and (values.min() < 0 or values.max() >= num_classes):
        raise ValueError(f"one_hot(): class values must be in [0, {num_classes})")
    return _tensor(np.eye(num_classes, dtype=np.int64)[values], device=tensor.backend)


def _embedding_renorm_(weight: Tensor, indices: np.ndarray, max_norm: float, norm_type: float) -> None:
    """PyTorch's ``embedding_renorm_``: referenced rows whose norm exceeds ``max_norm`` are scaled by
    ``max_norm / (norm + 1e-7)`` (:class:`~framework.ops.EmbeddingRenorm`), in place and outside the graph,
    as the optimizers update parameters. ``indices`` are the input's values, already on the host."""
    referenced = _tensor(np.unique(indices), dtype="int64", device=weight.device)
    with no_grad():
        rows = ops.EmbeddingRenorm.apply(weight, referenced, max_norm, norm_type)
        if rows.shape[0]:  # nothing over max_norm: the table is left as it is (no write, no new version)
            weight[referenced] = rows


def embedding(input: Tensor, weight: Tensor, padding_idx: int | None = None, max_norm: float | None = None,
              norm_type: float = 2.0, scale_grad_by_freq: bool = False, sparse: bool = False) -> Tensor:
    """Look up rows of ``weight``: ``out[..., :] = weight[input[...], :]``, PyTorch's ``F.embedding``.

    Args:
        input: integer indices, any shape ``[*]``, each in ``[0, num_embeddings)``.
        weight: ``[num_embeddings, embedding_dim]`` float.
        padding_idx: rows looked up at this index get no gradient (negative counts from the end).
        max_norm: if given, every row referenced by ``input`` whose ``norm_type``-norm exceeds it is first
            rescaled to norm ``max_norm`` in ``weight`` itself (its ``.data`` is replaced; no gradient
            flows through the rescaling), as in PyTorch.
        norm_type: the p of the p-norm for ``max_norm`` (any p > 0, ``inf`` included).
        scale_grad_by_freq: divide each row's gradient by how often its index occurs in ``input``.
        sparse: only False; sparse gradients are not supported.
    Returns: ``[*, embedding_dim]``. The gradient of a row used several times is the sum of its uses
        (their mean under ``scale_grad_by_freq``).
    Raises: TypeError for non-integer indices, a non-float weight or a non-number ``max_norm``/``norm_type``;
        ValueError for an index or ``padding_idx`` out of range, a weight that is not 2-D, a ``max_norm``
        or ``norm_type`` that is not > 0, or ``sparse=True``.
    """
    _check_tensor(input, "input")
    _check_tensor(weight, "weight", (2,))
    _check_float(weight, "weight")
    _check_embedding_options(max_norm, norm_type, sparse, "embedding()")
    if input.dtype.is_floating_point or input.dtype == "bool":
        raise TypeError(f"embedding(): input must hold integer indices, got dtype {input.dtype}")
    num = weight.shape[0]
    if padding_idx is not None:
        if not -num <= int(padding_idx) < num:
            raise ValueError(f"embedding(): padding_idx must be in [-{num}, {num}), got {padding_idx}")
        padding_idx = int(padding_idx) % num
    values = None
    if input.numel():
        values = input.numpy()  # one host sync: an out-of-range index must fail loudly, not read garbage
        low, high = int(values.min()), int(values.max())
        if low < 0 or high >= num:
            raise ValueError(f"embedding(): indices must be in [0, {num}) for weight of shape {weight.shape}, "
                             f"got values in [{low}, {high}]")
    if input.backend is not weight.backend:
        raise ValueError(f"embedding(): input is on {input.device!r} but weight is on {weight.device!r}")
    if max_norm is not None and values is not None:
        _embedding_renorm_(weight, values, float(max_norm), float(norm_type))
    return Embedding.apply(weight, input, padding_idx, bool(scale_grad_by_freq))
