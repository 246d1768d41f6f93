"""ShardedBatches + sharded_loss_step without a process group: the ranks' gradients, averaged as
DistributedDataParallel averages them, are the global batch's mean gradient (uneven shares and an empty
share included), with dropout drawn by global sample."""

from __future__ import annotations

import numpy as np
import pytest

import framework as fw
from framework import nn, optim
from framework.data import DataLoader, TensorDataset
from framework.train.distributed import ShardedBatches, sharded_loss_step
from tests.helpers import rel_err


def _model(device):
    fw.manual_seed(4)
    return nn.Sequential(nn.Linear(5, 12), nn.ReLU(), nn.Dropout(0.3), nn.Linear(12, 3)).to(device)


def _grads_of_one_step(model, loader, device, rank, world):
    fw.manual_seed(9)
    optimizer = optim.SGD(model.parameters(), lr=0.0)  # keep the weights; read the gradients
    batches = ShardedBatches(loader, rank, world, device)
    step = sharded_loss_step(model, nn.CrossEntropyLoss(), optimizer, batches)
    values = step(next(iter(batches)))
    return [p.grad.numpy().copy() for p in model.parameters()], values


@pytest.mark.parametrize("rows, world", [(7, 3), (8, 2), (2, 3)])  # uneven; even; rank 2's share is empty
def test_weighted_shares_average_to_the_global_mean_gradient(device, rows, world):
    rng = np.random.default_rng(0)
    data = TensorDataset(rng.standard_normal((rows, 5)).astype(np.float32), rng.integers(0, 3, rows))
    loader = DataLoader(data, batch_size=rows)  # one global batch
    reference, _ = _grads_of_one_step(_model(device), loader, device, 0, 1)
    shares = [_grads_of_one_step(_model(device), loader, device, r, world) for r in range(world)]
    averaged = [sum(grads[i] for grads, _ in shares) / world for i in range(len(reference))]
    for got, ref in zip(averaged, reference):
        assert rel_err(got, ref) <= 1e-5
    assert [values["output"].shape[0] for _, values in shares] == [len(range(r, rows, world)) for r in range(world)]
    # the weighting matters: plain local means (DDP's average without it) miss when shares differ
    if rows % world:
        weights = [len(range(r, rows, world)) * world / rows for r in range(world)]
        plain = [sum(g[i] / w for (g, _), w in zip(shares, weights) if w) / world for i in range(len(reference))]
        assert any(rel_err(got, ref) > 1e-3 for got, ref in zip(plain, reference))
