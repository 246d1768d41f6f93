"""Dropout: elementwise (fused kernel) and channel-wise (1-D, 2-D, 3-D)."""

from __future__ import annotations

import math
import warnings

import numpy as np

from ... import random as _random
from ...ops.dropout import Dropout
from ...tensor import Tensor
from ...tensor import ones as _ones
from ._args import _batched, _check_float, _check_tensor, _dropout_probability


def dropout(input: Tensor, p: float = 0.5, training: bool = True, inplace: bool = False) -> Tensor:
    """Zero each element with probability ``p`` and scale the rest by 1/(1-p) (identity when not training).

    The mask is never stored: it is regenerated in backward from the Philox stream position
    ``(seed, offset)`` that :func:`framework.manual_seed` controls, bit-identically on every backend. Under
    data parallelism (:func:`framework.random.sample_shard`, which DistributedDataParallel's forward sets) the
    mask of each row is the one its *global* row gets in a single process (dim 0 is the batch).
    ``p = 1`` gives ``input * 0`` (zeros, NaN/inf stay NaN, zero gradient), PyTorch's answer, without
    the kernel (its scale 1/(1-p) would be infinite).
    Raises TypeError for a p that is not a real number, ValueError unless ``0 <= p <= 1``.
    """
    _check_tensor(input, "input")
    p = _dropout_probability(p, "dropout()")
    if not training or p == 0.0:
        return input
    _check_float(input, "input")
    if p == 1.0:
        with np.errstate(invalid="ignore"):  # NaN/inf * 0 is NaN without a warning, as in PyTorch
            return input * 0.0
    if input.ndim == 0:  # the kernels take arrays of at least one dim; the result keeps the 0-d shape
        return dropout(input.reshape(1), p, training).reshape(())
    shard = _random.current_shard()
    if shard is None:
        seed, offset = _random.next_philox(input.numel())
        return Dropout.apply(input, p, seed, offset)
    return _sharded_dropout(input, p, shard)


def _sharded_dropout(input: Tensor, p: float, shard: _random.SampleShard) -> Tensor:
    """Dropout of this process's rows of a global batch (inside :func:`framework.random.sample_shard`): local
    row ``j`` is global row ``rank + world_size * j``, so its elements take the counters that row takes in
    one process, and the stream advances by the whole global batch."""
    rows = input.shape[0]
    row_len = math.prod(input.shape[1:])
    global_rows = shard.world_size * rows if shard.global_rows is None else shard.global_rows
    if rows and shard.rank + shard.world_size * (rows - 1) >= global_rows:
        raise ValueError(f"dropout(): this process's {rows} rows cannot be rank {shard.rank}'s share of a global "
                         f"batch of {global_rows} rows over {shard.world_size} processes (dim 0 of the input is "
                         "the batch under data parallelism)")
    seed, offset = _random.next_philox(global_rows * row_len)
    if rows == 0 or row_len == 0:
        return Dropout.apply(input, p, seed, offset)
    return Dropout.apply(input, p, seed, offset + shard.rank * row_len, row_len, shard.world_size * row_len)


def _feature_dropout(input: Tensor, p: float, training: bool, name: str) -> Tensor:
    """Zero whole feature maps: one keep/drop draw per ``(n, c)``, shared by the map's elements. The mask is
    ``F.dropout`` of a ``[N, C, 1, ...]`` tensor of ones (so the same Philox stream) and broadcasts in a
    product, which carries the gradient (and keeps a dropped NaN NaN, as PyTorch's product does)."""
    p = _dropout_probability(p, f"{name}()")
    ones = _ones(tuple(input.shape[:2]) + (1,) * (input.ndim - 2), dtype=input.dtype, device=input.backend)
    mask = dropout(ones, p, training)
    if mask is ones:
        return input
    with np.errstate(invalid="ignore"):  # a dropped inf becomes NaN without a warning, as in PyTorch
        return input * mask


def _check_feature_dropout_input(input: Tensor, name: str, ndims: tuple[int, int], layout: str) -> None:
    _check_tensor(input, "input")
    if input.ndim not in ndims:
        raise ValueError(f"{name}(): expected a {ndims[1]}-D input {layout} or an unbatched {ndims[0]}-D one, "
                         f"got shape {input.shape}")
    _check_float(input, "input")


def dropout1d(input: Tensor, p: float = 0.5, training: bool = True, inplace: bool = False) -> Tensor:
    """Channel dropout, PyTorch's ``F.dropout1d``: each channel of ``[N, C, L]`` (or unbatched ``[C, L]``) is
    zeroed with probability ``p`` as a whole, the rest scaled by 1/(1-p); identity when not training.
    ``inplace`` is accepted; the result is a new tensor. Raises ValueError unless ``0 <= p <= 1`` or for
    another rank."""
    _check_feature_dropout_input(input, "dropout1d", (2, 3), "[N, C, L]")
    batched, unbatched = _batched(input, "input", 3)
    out = _feature_dropout(batched, p, training, "dropout1d")
    return out.squeeze(0) if unbatched else out


def dropout2d(input: Tensor, p: float = 0.5, training: bool = True, inplace: bool = False) -> Tensor:
    """Channel dropout, PyTorch's ``F.dropout2d``: each ``[H, W]`` map of ``[N, C, H, W]`` is zeroed with
    probability ``p`` as a whole, the rest scaled by 1/(1-p); identity when not training.

    A 3-D input is treated as ``[N, C, L]`` (dropping whole rows), with PyTorch's warning, as PyTorch does.
    ``inplace`` is accepted; the result is a new tensor. Raises ValueError unless ``0 <= p <= 1`` or for
    another rank.
    """
    _check_feature_dropout_input(input, "dropout2d", (3, 4), "[N, C, H, W]")
    if input.ndim == 3:
        warnings.warn("dropout2d: Received a 3D input to dropout2d and assuming that channel-wise 1D dropout "
                      "behavior is desired - input is interpreted as shape (N, C, L), where C is the channel "
                      "dim. This behavior will change in a future release to interpret the input as one "
                      "without a batch dimension, i.e. shape (C, H, W). To maintain the 1D channel-wise "
                      "dropout behavior, please switch to using dropout1d instead.", stacklevel=2)
    return _feature_dropout(input, p, training, "dropout2d")


def dropout3d(input: Tensor, p: float = 0.5, training: bool = True, inplace: bool = False) -> Tensor:
    """Channel dropout, PyTorch's ``F.dropout3d``: each ``[D, H, W]`` volume of ``[N, C, D, H, W]`` (or
    unbatched ``[C, D, H, W]``) is zeroed with probability ``p`` as a whole; identity when not training."""
    _check_feature_dropout_input(input, "dropout3d", (4, 5), "[N, C, D, H, W]")
    batched, unbatched = _batched(input, "input", 5)
    out = _feature_dropout(batched, p, training, "dropout3d")
    return out.squeeze(0) if unbatched else out
