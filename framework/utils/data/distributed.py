"""``DistributedSampler``: each of ``num_replicas`` processes reads its own share of a dataset (torch's rules).

The index order comes from torch itself (``torch.randperm`` under ``torch.Generator().manual_seed(seed +
epoch)``), so a kernelgrad process and a PyTorch process given the same arguments visit the same samples in
the same order. torch is imported inside the methods that need it: ``import framework`` stays torch-free.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np

from ...dtypes import is_int as _is_int
from .sampler import Sampler

__all__ = ["DistributedSampler"]

# torch.Generator.manual_seed takes a seed in [-2**63, 2**64) (a negative one wraps modulo 2**64).
_SEED_MIN, _SEED_END = -(2**63), 2**64


def _from_process_group(name: str) -> int:
    """World size or rank of torch.distributed's default process group; RuntimeError without one."""
    import torch.distributed as dist

    if not dist.is_available():
        raise RuntimeError("Requires distributed package to be available")
    if not dist.is_initialized():
        raise RuntimeError(f"DistributedSampler: {name}=None reads it from torch.distributed, which has no "
                           f"initialized process group; call torch.distributed.init_process_group() first or "
                           f"pass num_replicas and rank explicitly")
    return dist.get_world_size() if name == "num_replicas" else dist.get_rank()


def _check_bool(name: str, value: Any) -> bool:
    if not isinstance(value, bool | np.bool_):
        raise TypeError(f"DistributedSampler: {name} must be a bool, got {value!r} ({type(value).__name__})")
    return bool(value)


def _check_int(name: str, value: Any) -> int:
    if not _is_int(value):
        raise TypeError(f"DistributedSampler: {name} must be an int, got {value!r} ({type(value).__name__})")
    return int(value)


class DistributedSampler(Sampler):
    """The share of a dataset's indices that one of ``num_replicas`` data-parallel processes reads.

    ``torch.utils.data.distributed.DistributedSampler``'s arguments, attributes and index order, bit for bit.
    Pass it as a DataLoader's ``sampler=`` in every process (each with its own ``rank``, all with the same
    ``seed``), and call :meth:`set_epoch` with the epoch number before each epoch's ``iter(loader)``.

    The rules (PyTorch's), for a dataset of ``n`` samples and ``W = num_replicas``:

    - The epoch's order is ``torch.randperm(n)`` drawn from ``torch.Generator().manual_seed(seed + epoch)``
      with ``shuffle``, else ``0, 1, ..., n - 1``. ``epoch`` only changes through :meth:`set_epoch`: without
      it every epoch repeats the same order.
    - ``drop_last=False``: ``num_samples = ceil(n / W)``; the order is padded to ``total_size = W *
      num_samples`` by repeating it from its start (as many times over as needed when the padding is longer
      than the dataset: a 1-sample dataset on 4 ranks gives every rank that sample). The padding duplicates
      the epoch's first ``total_size - n`` samples, so those are read twice per epoch.
    - ``drop_last=True``: ``num_samples = n // W``; the order is cut to ``total_size = W * num_samples``, so
      the epoch's last ``n % W`` samples are read by no rank.
    - Rank ``r`` reads positions ``r, r + W, r + 2W, ...`` of that list (``order[r:total_size:W]``),
      ``num_samples`` indices; every rank reads the same number, so the ranks' batches stay in step.

    Data parallelism rests on one property of that interleaving. With ``DataLoader(dataset, batch_size=b,
    sampler=DistributedSampler(dataset, W, r, ...))`` on each rank ``r``, and a single process's
    ``DataLoader(dataset, batch_size=W * b, sampler=DistributedSampler(dataset, 1, 0, ...))`` (the same
    ``shuffle``, ``seed``, epoch and ``drop_last``), rank ``r``'s row ``j`` of batch ``k`` is row
    ``r + W * j`` of the single process's batch ``k``: the union of the ranks' batch ``k`` is its batch
    ``k``, so averaging the ranks' gradients of a mean loss gives the single process's gradient. That holds
    exactly when ``W`` divides ``n``. Otherwise the single process has no padding or cut, and the ranks'
    last batch differs from its last batch: with ``drop_last=False`` the positions past ``n - 1`` hold the
    epoch's first samples again (duplicates); with ``drop_last=True`` the last ``n % W`` samples are missing.

    Args:
        dataset: a map-style dataset (anything with ``__len__``); its length must not change afterwards.
        num_replicas: number of processes (>= 1); None: ``torch.distributed.get_world_size()``.
        rank: this process's rank in ``[0, num_replicas)``; None: ``torch.distributed.get_rank()``.
        shuffle: a fresh random order per epoch (see :meth:`set_epoch`); False: dataset order.
        seed: the shuffle's seed, the same in every process.
        drop_last: cut the order to a multiple of ``num_replicas`` instead of padding it.

    Attributes: ``dataset``, ``num_replicas``, ``rank``, ``epoch``, ``shuffle``, ``seed``, ``drop_last``,
    ``num_samples`` (indices per rank per epoch; ``len(sampler)``), ``total_size`` (``num_samples *
    num_replicas``).

    Raises:
        RuntimeError: ``num_replicas`` or ``rank`` is None and torch.distributed is unavailable or has no
            initialized process group (torch raises ValueError from ``get_world_size`` in the second case),
            or the dataset's length changed since construction (at iteration).
        TypeError: ``num_replicas``, ``rank`` or ``seed`` not an int, ``shuffle`` or ``drop_last`` not a bool
            (stricter than torch, which takes any truthy value), a dataset without ``__len__``.
        ValueError: ``num_replicas < 1``; ``rank`` outside ``[0, num_replicas)`` (torch's message); at
            iteration with ``shuffle``, ``seed + epoch`` outside the ``[-2**63, 2**64)`` torch can seed.
    """

    def __init__(self, dataset: Any, num_replicas: int | None = None, rank: int | None = None,
                 shuffle: bool = True, seed: int = 0, drop_last: bool = False):
        if num_replicas is None:
            num_replicas = _from_process_group("num_replicas")
        if rank is None:
            rank = _from_process_group("rank")
        num_replicas = _check_int("num_replicas", num_replicas)
        rank = _check_int("rank", rank)
        if num_replicas < 1:
            raise ValueError(f"DistributedSampler: num_replicas must be >= 1, got {num_replicas}")
        if not 0 <= rank < num_replicas:
            raise ValueError(f"Invalid rank {rank}, rank should be in the interval [0, {num_replicas - 1}]")
        self.shuffle = _check_bool("shuffle", shuffle)
        self.drop_last = _check_bool("drop_last", drop_last)
        self.seed = _check_int("seed", seed)
        self.dataset = dataset
        self.num_replicas = num_replicas
        self.rank = rank
        self.epoch = 0
        n = self._dataset_len()
        # Integer forms of torch's ceil((n - W) / W) (when W does not divide n) and ceil(n / W).
        self.num_samples = n // num_replicas if self.drop_last else -(-n // num_replicas)
        self.total_size = self.num_samples * num_replicas
        self._length_at_init = n

    def _dataset_len(self) -> int:
        try:
            return len(self.dataset)
        except TypeError:
            raise TypeError(f"DistributedSampler: dataset must have __len__ (a map-style dataset), got "
                            f"{type(self.dataset).__name__}") from None

    def __iter__(self) -> Iterator[int]:
        n = self._dataset_len()
        if n != self._length_at_init:
            raise RuntimeError(f"DistributedSampler: the dataset's length changed from {self._length_at_init} "
                               f"to {n} after the sampler was built; build a new sampler")
        if self.shuffle:
            import torch

            seed = self.seed + self.epoch
            if not _SEED_MIN <= seed < _SEED_END:
                raise ValueError(f"DistributedSampler: seed + epoch = {self.seed} + {self.epoch} is outside "
                                 f"[-2**63, 2**64), the seeds torch.Generator accepts")
            generator = torch.Generator()
            generator.manual_seed(seed)
            order = torch.randperm(n, generator=generator).tolist()
        else:
            order = range(n)
        # Position p of the padded order is order[p % n] (padding repeats the order from its start; with
        # drop_last, total_size <= n and the modulo is a no-op). total_size == 0 whenever n == 0.
        return iter([order[p % n] for p in range(self.rank, self.total_size, self.num_replicas)])

    def __len__(self) -> int:
        return self.num_samples

    def set_epoch(self, epoch: int) -> None:
        """Set the epoch whose order the next pass draws (``seed + epoch`` seeds the shuffle).

        Call it before each epoch's ``iter(loader)``, with the same value in every process; without it each
        epoch repeats the same order. Without ``shuffle`` the order ignores it.

        Raises:
            TypeError: ``epoch`` is not an int.
        """
        self.epoch = _check_int("epoch", epoch)
