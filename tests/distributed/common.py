"""What the data-parallel workers (worker.py, under torchrun) and their single-process references share."""

from __future__ import annotations

import contextlib
import datetime

import numpy as np

import framework as fw
from framework import nn, optim
from framework.data import DataLoader, DistributedSampler, TensorDataset
from framework.nn import functional as F

#: A collective waiting longer than this fails the job (tests must end, never hang).
TIMEOUT = datetime.timedelta(seconds=60)

DEFAULTS = {"device": "cpu", "samples": 24, "batch": 4, "epochs": 2, "bucket_cap_mb": 0.001, "p": 0.3, "seed": 11,
            "drop_last": 0, "backend": "gloo"}


def options(items: list[str]) -> dict:
    """``key=value`` strings over DEFAULTS (values take the default's type)."""
    opts = dict(DEFAULTS)
    for item in items:
        key, value = item.split("=", 1)
        opts[key] = type(DEFAULTS[key])(value)
    return opts


def build_model(opts: dict, seed: int) -> nn.Module:
    """A small conv net with every kernel family (conv, max-pool, fused linear+ReLU, dropout, cross-entropy)."""
    fw.manual_seed(seed)
    return nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
                         nn.Linear(64, 16), nn.ReLU(), nn.Dropout(opts["p"]), nn.Linear(16, 5)).to(opts["device"])


def dataset(opts: dict) -> TensorDataset:
    rng = np.random.default_rng(1234)
    x = rng.standard_normal((opts["samples"], 1, 8, 8)).astype(np.float32)
    return TensorDataset(x, rng.integers(0, 5, opts["samples"]))


def _loader(opts: dict, rank: int, world: int, batch: int, shuffle: bool):
    sampler = DistributedSampler(dataset(opts), num_replicas=world, rank=rank, shuffle=shuffle, seed=5,
                                 drop_last=bool(opts["drop_last"]))
    return sampler, DataLoader(sampler.dataset, batch_size=batch, sampler=sampler, device=opts["device"])


def train(model, params, opts: dict, rank: int, world: int, batch: int | None = None) -> list[np.ndarray]:
    """``epochs`` of Adam over this rank's DistributedSampler shard in batches of ``batch`` (default
    ``opts["batch"]``); returns the parameters."""
    fw.manual_seed(opts["seed"])  # the dropout stream: the same on every rank
    params = list(params)
    sampler, loader = _loader(opts, rank, world, batch or opts["batch"], shuffle=True)
    optimizer = optim.Adam(params, lr=0.01)
    for epoch in range(opts["epochs"]):
        sampler.set_epoch(epoch)
        for x, y in loader:
            optimizer.zero_grad()
            F.cross_entropy(model(x), y).backward()
            optimizer.step()
    return [p.detach().numpy() for p in params]


def accumulate(model, params, opts: dict, rank: int, world: int, batch: int | None = None,
               no_sync=contextlib.nullcontext) -> list[np.ndarray]:
    """SGD steps over pairs of micro-batches: the first pair member's backward inside ``no_sync()``."""
    fw.manual_seed(opts["seed"])
    params = list(params)
    _, loader = _loader(opts, rank, world, batch or opts["batch"], shuffle=False)
    batches = list(loader)
    assert len(batches) % 2 == 0, len(batches)
    optimizer = optim.SGD(params, lr=0.1)
    for first, second in zip(batches[::2], batches[1::2]):
        optimizer.zero_grad()
        with no_sync():
            F.cross_entropy(model(first[0]), first[1]).backward()
        F.cross_entropy(model(second[0]), second[1]).backward()
        optimizer.step()
    return [p.detach().numpy() for p in params]
