"""Map-style and iterable datasets and the ways to combine them (``torch.utils.data``'s names).

A map-style :class:`Dataset` has ``__len__`` and ``__getitem__(i)``; an :class:`IterableDataset` has
``__iter__`` only (with DataLoader workers, each worker iterates its own copy — split the stream with
:func:`~framework.utils.data.get_worker_info`). :class:`TensorDataset` keeps host (numpy) copies of its
arrays so the DataLoader can gather a whole batch with one fancy index per array.
"""

from __future__ import annotations

import bisect
import itertools
import math
import warnings
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

import numpy as np

from ... import random as _random
from ...tensor import Tensor, tensor

__all__ = ["ConcatDataset", "Dataset", "IterableDataset", "Subset", "TensorDataset", "random_split"]


class Dataset:
    """Abstract map-style dataset: subclasses define ``__len__`` and ``__getitem__(i)``.

    ``a + b`` is ``ConcatDataset([a, b])``. A subclass may define ``__getitems__(indices) -> list`` to
    fetch a whole batch at once (the DataLoader then calls it instead of ``__getitem__`` per index).
    """

    def __getitem__(self, index: int) -> Any:
        raise NotImplementedError(f"{type(self).__name__} must define __getitem__")

    def __add__(self, other: Dataset) -> ConcatDataset:
        return ConcatDataset([self, other])


class IterableDataset(Dataset):
    """Abstract iterable-style dataset: subclasses define ``__iter__`` (a stream of samples)."""

    def __iter__(self) -> Iterator[Any]:
        raise NotImplementedError(f"{type(self).__name__} must define __iter__")


def _as_numpy(value: Any) -> np.ndarray:
    return value.numpy() if isinstance(value, Tensor) else np.asarray(value)


class TensorDataset(Dataset):
    """Samples are rows of equally long arrays: ``TensorDataset(images, labels)[i] == (images[i], labels[i])``.

    Args:
        *tensors: fw Tensors or numpy arrays, all with the same first dimension. They are kept as host
            (numpy) arrays in ``.arrays``; ``.tensors`` and items are ``cpu`` Tensors sharing that memory.

    Raises:
        ValueError: no arrays, a 0-d array, or first dimensions that differ.
    """

    def __init__(self, *tensors: Any):
        if not tensors:
            raise ValueError("TensorDataset needs at least one array")
        self.arrays = tuple(_as_numpy(t) for t in tensors)
        lengths = [a.shape[0] if a.ndim else None for a in self.arrays]
        if None in lengths or len(set(lengths)) != 1:
            shapes = [a.shape for a in self.arrays]
            raise ValueError(f"TensorDataset: all arrays need the same first dimension, got shapes {shapes}")

    @property
    def tensors(self) -> tuple[Tensor, ...]:
        return tuple(tensor(a, device="cpu") for a in self.arrays)

    def __len__(self) -> int:
        return self.arrays[0].shape[0]

    def __getitem__(self, index: Any) -> tuple[Tensor, ...]:
        return tuple(tensor(np.asarray(a[index]), device="cpu") for a in self.arrays)


class Subset(Dataset):
    """The items of ``dataset`` at ``indices`` (in that order).

    Raises:
        IndexError: an index outside ``[-len(dataset), len(dataset))``.
    """

    def __init__(self, dataset: Dataset, indices: Sequence[int] | np.ndarray):
        self.dataset = dataset
        self.indices = np.asarray(indices, dtype=np.int64).reshape(-1)
        n = len(dataset)
        if self.indices.size and (self.indices.min() < -n or self.indices.max() >= n):
            raise IndexError(f"Subset: indices must lie in [-{n}, {n}) for a dataset of {n} items")
        self.indices = self.indices % max(n, 1)  # negative indices count from the end, like a list

    def __len__(self) -> int:
        return self.indices.shape[0]

    def __getitem__(self, index: Any) -> Any:
        if isinstance(index, list):
            return self.dataset[[int(self.indices[i]) for i in index]]
        return self.dataset[int(self.indices[index])]

    def __getitems__(self, indices: list[int]) -> list[Any]:
        inner = getattr(self.dataset, "__getitems__", None)
        if callable(inner):
            return inner([int(self.indices[i]) for i in indices])
        return [self.dataset[int(self.indices[i])] for i in indices]


class ConcatDataset(Dataset):
    """The datasets one after the other: item ``len(a) + i`` of ``ConcatDataset([a, b])`` is ``b[i]``.

    Raises:
        ValueError: no datasets, or an IterableDataset among them.
        IndexError: an index outside ``[-len(self), len(self))``.
    """

    def __init__(self, datasets: Iterable[Dataset]):
        self.datasets = list(datasets)
        if not self.datasets:
            raise ValueError("ConcatDataset: datasets should not be an empty iterable")
        for d in self.datasets:
            if isinstance(d, IterableDataset):
                raise ValueError("ConcatDataset does not support IterableDataset")
        self.cumulative_sizes = list(itertools.accumulate(len(d) for d in self.datasets))

    def __len__(self) -> int:
        return self.cumulative_sizes[-1]

    def __getitem__(self, index: int) -> Any:
        n = len(self)
        if not -n <= index < n:
            raise IndexError(f"ConcatDataset: index {index} is out of range for a dataset of {n} items")
        index = int(index) % n
        which = bisect.bisect_right(self.cumulative_sizes, index)
        start = self.cumulative_sizes[which - 1] if which else 0
        return self.datasets[which][index - start]


def random_split(dataset: Dataset, lengths: Sequence[int | float], generator: Any = None) -> list[Subset]:
    """Split ``dataset`` into non-overlapping random :class:`Subset` s of the given lengths.

    Args:
        lengths: item counts summing to ``len(dataset)``, or fractions summing to 1 (each part gets
            ``floor(frac * len)`` items, then the remainder goes one by one to the parts in order, as torch).
        generator: a ``framework.Generator`` for a reproducible split (None: the global stream).

    Raises:
        ValueError: a fraction outside [0, 1], a negative length, or lengths that do not add up.
    """
    lengths = list(lengths)
    n = len(dataset)
    if math.isclose(sum(lengths), 1) and sum(lengths) <= 1:
        sizes = []
        for i, frac in enumerate(lengths):
            if frac < 0 or frac > 1:
                raise ValueError(f"random_split: fraction at index {i} is not between 0 and 1")
            sizes.append(math.floor(n * frac))
        for i in range(n - sum(sizes)):
            sizes[i % len(sizes)] += 1
        for i, size in enumerate(sizes):
            if size == 0:
                warnings.warn(f"Length of split at index {i} is 0. This might result in an empty dataset.",
                              stacklevel=2)
        lengths = sizes
    for i, length in enumerate(lengths):
        if not isinstance(length, int | np.integer) or isinstance(length, bool) or length < 0:
            raise ValueError(f"random_split: lengths must be non-negative ints or fractions summing to 1, "
                             f"got {lengths[i]!r} at index {i}")
    if sum(lengths) != n:
        raise ValueError("Sum of input lengths does not equal the length of the input dataset!")
    order = _random.numpy_generator(generator).permutation(n)
    return [Subset(dataset, order[end - length:end]) for end, length in zip(itertools.accumulate(lengths), lengths)]
