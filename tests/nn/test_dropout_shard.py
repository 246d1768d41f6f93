"""Dropout by global sample (framework.random.sample_shard): rank r's rows get the single process's masks."""

import numpy as np
import pytest

import framework as fw
from framework import random as fw_random
from framework.nn import functional as F


def _global_and_shards(device, shape, world, p, global_rows=None, seed=3):
    x = fw.tensor(np.random.default_rng(seed).standard_normal(shape).astype(np.float32) + 5.0, device=device)
    fw.manual_seed(seed)
    y_global, after_global = F.dropout(x, p).numpy(), F.dropout(x, p).numpy()  # two calls: the stream advances alike
    shards = []
    for rank in range(world):
        fw.manual_seed(seed)
        local = x[rank::world].detach().requires_grad_(True)
        with fw_random.sample_shard(rank, world, global_rows):
            y = F.dropout(local, p)
            second = F.dropout(x[rank::world], p).numpy()
        (y * 3.0).sum().backward()
        shards.append((y.numpy(), second, local.grad.numpy()))
    return y_global, after_global, shards


@pytest.mark.parametrize("world, shape, global_rows", [(2, (8, 5), None), (3, (9, 2, 3), None), (3, (7, 4), 7),
                                                       (2, (5, 1), 5)])
def test_each_rank_draws_its_rows_of_the_global_masks(device, world, shape, global_rows):
    p = 0.4
    y_global, after_global, shards = _global_and_shards(device, shape, world, p, global_rows)
    assert 0 < np.count_nonzero(y_global == 0) < y_global.size  # some dropped, some kept: the test can fail
    for rank, (y, second, grad) in enumerate(shards):
        np.testing.assert_array_equal(y, y_global[rank::world])
        np.testing.assert_array_equal(second, after_global[rank::world])  # the stream advanced by the global batch
        np.testing.assert_array_equal(grad, np.where(y_global[rank::world] == 0, 0.0, np.float32(3.0 / (1 - p))))


def test_uneven_shares_need_the_global_size(device):
    # 7 rows over 3 ranks without global_rows: rank 0's 3 rows imply 9 global rows, rank 2's 2 rows imply 6.
    y_global, _, shards = _global_and_shards(device, (7, 4), 3, 0.5, global_rows=None)
    assert not np.array_equal(shards[2][1], _global_and_shards(device, (7, 4), 3, 0.5, 7)[2][2][1])
    with pytest.raises(ValueError, match="cannot be rank 0's share"):
        with fw_random.sample_shard(0, 3, global_rows=4):
            F.dropout(fw.ones(3, 2, device=device), 0.5)


def test_sample_shard_arguments():
    with pytest.raises(ValueError, match="rank"):
        with fw_random.sample_shard(2, 2):
            pass
    with pytest.raises(TypeError, match="world_size"):
        with fw_random.sample_shard(0, 2.0):
            pass
    with fw_random.sample_shard(0, 2) as outer:
        with fw_random.sample_shard(1, 3, 7):
            assert fw_random.current_shard() == (1, 3, 7)
        assert fw_random.current_shard() is outer
    assert fw_random.current_shard() is None
    with fw_random.sample_shard(0, 1):
        assert fw_random.current_shard() is None  # one process: the ordinary stream
