"""Dim and shape arithmetic shared by the ops and the Tensor layer: PyTorch's dim normalisation and
errors, broadcasting, and the axes a reduction covers.
"""

from __future__ import annotations

from typing import Any

import numpy as np


def normalize_dim(dim: Any, ndim: int, name: str = "dim") -> int:
    """``dim`` as an index in ``range(ndim)``, counting negative dims from the end, as PyTorch does.

    A 0-d tensor accepts 0 and -1. Pass ``ndim + 1`` where a new dim is inserted (unsqueeze, stack).
    Raises IndexError for a dim out of range (PyTorch's message) and TypeError for a non-integer.
    """
    if isinstance(dim, bool) or not isinstance(dim, int | np.integer):
        raise TypeError(f"{name} must be an int, got {dim!r}")
    dim, n = int(dim), max(ndim, 1)
    if not -n <= dim < n:
        raise IndexError(f"Dimension out of range (expected to be in range of [{-n}, {n - 1}], but got {dim})")
    return dim % n


def normalize_dims(dims: Any, ndim: int, name: str = "dim") -> tuple[int, ...]:
    """A dim or a sequence of dims normalised by :func:`normalize_dim`; repeating a dim is a ValueError."""
    if isinstance(dims, int | np.integer) and not isinstance(dims, bool):
        return (normalize_dim(dims, ndim, name),)
    if not isinstance(dims, tuple | list):
        raise TypeError(f"{name} must be an int or a tuple of ints, got {type(dims).__name__}")
    out = tuple(normalize_dim(d, ndim, name) for d in dims)
    if len(set(out)) != len(out):
        repeated = next(d for d in out if out.count(d) > 1)
        raise ValueError(f"{name}: dim {repeated} appears multiple times in the list of dims {tuple(dims)}")
    return out


def broadcast_shapes(a: tuple[int, ...], b: tuple[int, ...], name: str) -> tuple[int, ...]:
    """The shape ``a`` and ``b`` broadcast to; the same ValueError on every device when they do not."""
    out = []
    for i in range(1, max(len(a), len(b)) + 1):
        m = a[-i] if i <= len(a) else 1
        n = b[-i] if i <= len(b) else 1
        if m != n and m != 1 and n != 1:
            dim = max(len(a), len(b)) - i
            raise ValueError(f"{name}(): shapes {tuple(a)} and {tuple(b)} do not broadcast: the size of tensor a "
                             f"({m}) must match the size of tensor b ({n}) at non-singleton dimension {dim}")
        out.append(n if m == 1 else m)
    return tuple(reversed(out))


def _reduce_axes(axis: Any, ndim: int) -> tuple[int, ...]:
    """The axes a reduction over ``axis`` (None: all; an int; a sequence, possibly empty) covers."""
    axes = () if axis is None else normalize_dims(axis, ndim)
    # No dims (None or an empty tuple) means all of them, as in PyTorch; a 0-d tensor has none to reduce.
    return axes if axes and ndim else tuple(range(ndim))


def _expand_reduced(ctx, grad, shape, axes, keepdims):
    """Put back the reduced axes of ``grad`` (size 1) so it broadcasts against ``shape``."""
    if not keepdims:
        grad = ctx.xp.reshape(grad, tuple(1 if i in axes else n for i, n in enumerate(shape)))
    return grad
