"""``framework.utils.data``: ``torch.utils.data``'s datasets, samplers, collation and DataLoader.

``from framework.utils.data import DataLoader, TensorDataset, random_split`` works as the torch import
does. Modules: :mod:`.dataset` (datasets and ``random_split``), :mod:`.sampler`, :mod:`.collate`,
:mod:`.dataloader` (the loader and its worker processes), :mod:`.worker` (what runs in a worker),
:mod:`.distributed` (``DistributedSampler``, each data-parallel process's share of the indices).
"""

from .collate import default_collate, default_convert
from .dataloader import DataLoader
from .dataset import ConcatDataset, Dataset, IterableDataset, Subset, TensorDataset, random_split
from .distributed import DistributedSampler
from .sampler import (
    BatchSampler,
    RandomSampler,
    Sampler,
    SequentialSampler,
    SubsetRandomSampler,
    WeightedRandomSampler,
)
from .worker import WorkerInfo, get_worker_info

__all__ = [
    "BatchSampler", "ConcatDataset", "DataLoader", "Dataset", "DistributedSampler", "IterableDataset", "RandomSampler",
    "Sampler", "SequentialSampler", "Subset", "SubsetRandomSampler", "TensorDataset", "WeightedRandomSampler",
    "WorkerInfo", "default_collate", "default_convert", "get_worker_info", "random_split",
]
