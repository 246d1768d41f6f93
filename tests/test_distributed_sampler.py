"""framework.utils.data.DistributedSampler against torch.utils.data.distributed.DistributedSampler: the same
indices, lengths and errors for the same arguments, and the DataLoader property data parallelism rests on
(the ranks' batch k, interleaved, is a single process's batch k of W times the size).

torch's sampler is built with explicit num_replicas and rank, so no process group is needed; the tests that
read the defaults from torch.distributed patch it (one also starts a real one-process gloo group).
"""

import itertools
import pathlib
import subprocess
import sys

import numpy as np
import pytest
import torch.distributed as dist
from torch.utils.data.distributed import DistributedSampler as TorchDistributedSampler

from framework.utils.data import DataLoader, Dataset, DistributedSampler, Sampler, TensorDataset

LENGTHS = [0, 1, 2, 3, 4, 5, 6, 7, 9, 10, 11, 13, 16, 17, 100]


def _pair(n, num_replicas, rank, **kwargs):
    """Our sampler and torch's over the same ``range(n)``."""
    return (DistributedSampler(range(n), num_replicas, rank, **kwargs),
            TorchDistributedSampler(range(n), num_replicas, rank, **kwargs))


@pytest.mark.parametrize("shuffle", [True, False])
@pytest.mark.parametrize("drop_last", [False, True])
def test_indices_len_and_attributes_match_torch(test_seed, shuffle, drop_last):
    seeds = [0, 1, test_seed, -3, 2**63 + 5]  # torch seeds any int in [-2**63, 2**64)
    padded_past_length = 0
    for n, world in itertools.product(LENGTHS, range(1, 6)):
        for rank, seed, epoch in itertools.product(range(world), seeds, [0, 1, 5]):
            ours, ref = _pair(n, world, rank, shuffle=shuffle, seed=seed, drop_last=drop_last)
            ours.set_epoch(epoch)
            ref.set_epoch(epoch)
            case = f"n={n} num_replicas={world} rank={rank} seed={seed} epoch={epoch}"
            assert list(ours) == list(ref), case
            assert len(ours) == len(ref), case
            for name in ("num_replicas", "rank", "epoch", "drop_last", "num_samples", "total_size", "shuffle",
                         "seed"):
                assert getattr(ours, name) == getattr(ref, name), f"{name}: {case}"
            padded_past_length += not drop_last and ours.total_size - n > n
    if not drop_last:
        assert padded_past_length, "no case had padding longer than the dataset"


def test_large_dataset_matches_torch(test_seed):
    n, world = 100_003, 4  # past torch.randperm's small-n path; 100_003 % 4 == 3: padding on 1 rank
    for drop_last, rank in itertools.product([False, True], range(world)):
        ours, ref = _pair(n, world, rank, seed=test_seed, drop_last=drop_last)
        ours.set_epoch(7)
        ref.set_epoch(7)
        assert list(ours) == list(ref), f"drop_last={drop_last} rank={rank}"


def test_every_index_is_python_int_and_the_ranks_cover_the_epoch(test_seed):
    n, world = 23, 4
    samplers = [DistributedSampler(range(n), world, r, seed=test_seed) for r in range(world)]
    shares = [list(s) for s in samplers]
    assert all(type(i) is int for share in shares for i in share)
    union = sorted(i for share in shares for i in share)
    # 24 positions: all 23 indices once, plus the epoch's first index again (the padding)
    first = list(DistributedSampler(range(n), 1, 0, seed=test_seed))[0]
    assert union == sorted([*range(n), first])


def test_set_epoch_changes_the_order_as_torch(test_seed):
    ours, ref = _pair(50, 3, 1, seed=test_seed)
    orders = []
    for epoch in range(4):
        first, again = list(ours), list(ours)
        assert first == again, "without set_epoch a second pass repeats the order"
        ours.set_epoch(epoch)
        ref.set_epoch(epoch)
        orders.append(list(ours))
        assert orders[-1] == list(ref), f"epoch {epoch}"
    assert orders[0] == list(DistributedSampler(range(50), 3, 1, seed=test_seed)), "epoch 0 is the default"
    assert len({tuple(o) for o in orders}) == 4, "each epoch draws its own order"
    assert orders[1] == list(DistributedSampler(range(50), 3, 1, seed=test_seed + 1)), "seed + epoch seeds it"

    unshuffled = DistributedSampler(range(50), 3, 1, shuffle=False)
    before = list(unshuffled)
    unshuffled.set_epoch(3)
    assert list(unshuffled) == before == list(range(1, 50, 3))


class _Indices(Dataset):
    """A map-style dataset that is not a TensorDataset (the loader's generic path): sample i is (i, 10 * i)."""

    def __init__(self, n):
        self.n = n

    def __len__(self):
        return self.n

    def __getitem__(self, i):
        return np.int64(i), np.float32(10 * i)


def _dataset(kind, n):
    if kind == "tensor":
        return TensorDataset(np.arange(n, dtype=np.int64), 10 * np.arange(n, dtype=np.float32))
    return _Indices(n)


def _rows(loader):
    """Each batch's sample indices (field 0), checking field 1 came from the same samples."""
    batches = []
    for index, value in loader:
        index = index.numpy()
        np.testing.assert_array_equal(value.numpy(), 10 * index.astype(np.float32))
        batches.append(index.tolist())
    return batches


def _loaders(kind, n, world, batch, shuffle, seed, epoch, drop_last):
    """(the single process's batches over DistributedSampler(num_replicas=1), [rank r's batches])."""
    dataset = _dataset(kind, n)

    def sampler(num_replicas, rank):
        s = DistributedSampler(dataset, num_replicas, rank, shuffle=shuffle, seed=seed, drop_last=drop_last)
        s.set_epoch(epoch)
        return s

    whole = DataLoader(dataset, batch_size=world * batch, sampler=sampler(1, 0))
    ranks = [DataLoader(dataset, batch_size=batch, sampler=sampler(world, r)) for r in range(world)]
    for r, loader in enumerate(ranks):
        assert len(loader) == -(-loader.sampler.num_samples // batch), f"rank {r}"
    return _rows(whole), [_rows(loader) for loader in ranks]


@pytest.mark.parametrize("kind", ["tensor", "generic"])
@pytest.mark.parametrize("shuffle", [True, False])
@pytest.mark.parametrize("drop_last", [False, True])
def test_ranks_batch_k_interleaved_is_the_single_process_batch_k(test_seed, kind, shuffle, drop_last):
    for world, batch, multiple in itertools.product(range(1, 6), [1, 3, 4], [0, 1, 5, 7]):
        n = world * multiple
        whole, ranks = _loaders(kind, n, world, batch, shuffle, test_seed, 2, drop_last)
        case = f"n={n} num_replicas={world} batch_size={batch}"
        for r, batches in enumerate(ranks):
            assert len(batches) == len(whole), case
            for k, rows in enumerate(batches):
                assert rows == whole[k][r::world], f"{case} rank={r} batch={k}"  # local row j = global r + W*j
        for k, global_rows in enumerate(whole):
            union = sorted(i for batches in ranks for i in batches[k])
            assert union == sorted(global_rows), f"{case} batch={k}"


@pytest.mark.parametrize("shuffle", [True, False])
def test_length_not_a_multiple_pads_with_the_first_samples(test_seed, shuffle):
    """drop_last=False, W not dividing n: rank r's row j of batch k is position p = W*b*k + r + W*j of the
    single process's order repeated from its start: the single process's row for p < n, and for the
    total_size - n positions past its end the epoch's first samples again (duplicates; order[p % n], the
    order repeated more than once when the padding is longer than the dataset). The batch counts agree.
    """
    for world, batch, n in itertools.product(range(2, 6), [1, 2, 3], [1, 2, 7, 11, 13]):
        if n % world == 0:
            continue
        whole, ranks = _loaders("tensor", n, world, batch, shuffle, test_seed, 1, False)
        order = [i for rows in whole for i in rows]
        total = world * -(-n // world)
        case = f"n={n} num_replicas={world} batch_size={batch}"
        duplicates = []
        for r, batches in enumerate(ranks):
            assert len(batches) == len(whole), case
            for k, rows in enumerate(batches):
                for j, index in enumerate(rows):
                    p = world * batch * k + r + world * j
                    assert index == (whole[k][r + world * j] if p < n else order[p % n]), f"{case} r={r} k={k} j={j}"
                    if p >= n:
                        duplicates.append(index)
        assert sorted(duplicates) == sorted(order[p % n] for p in range(n, total)), case


@pytest.mark.parametrize("shuffle", [True, False])
def test_length_not_a_multiple_with_drop_last_skips_the_last_samples(test_seed, shuffle):
    """drop_last=True, W not dividing n: the row identity holds for every row the ranks read; the single
    process's last n % W samples are read by no rank, so the ranks can have one batch fewer."""
    for world, batch, n in itertools.product(range(2, 6), [1, 2, 3], [1, 2, 7, 11, 13]):
        if n % world == 0:
            continue
        whole, ranks = _loaders("tensor", n, world, batch, shuffle, test_seed, 1, True)
        order = [i for rows in whole for i in rows]
        total = world * (n // world)
        case = f"n={n} num_replicas={world} batch_size={batch}"
        for r, batches in enumerate(ranks):
            assert len(batches) == -(-(n // world) // batch), case
            for k, rows in enumerate(batches):
                assert rows == whole[k][r::world][:len(rows)], f"{case} rank={r} batch={k}"
        read = sorted(i for batches in ranks for rows in batches for i in rows)
        assert read == sorted(order[:total]), f"{case}: the last {n - total} samples are skipped"


def test_loader_with_workers_and_epochs(test_seed):
    dataset = _dataset("generic", 21)
    sampler = DistributedSampler(dataset, 3, 2, seed=test_seed)
    ref = TorchDistributedSampler(range(21), 3, 2, seed=test_seed)
    single = DataLoader(dataset, batch_size=2, sampler=sampler)
    workers = DataLoader(dataset, batch_size=2, sampler=sampler, num_workers=2, timeout=60)
    for epoch in range(3):
        sampler.set_epoch(epoch)  # before iter(loader): the loader draws the sampler's order there
        ref.set_epoch(epoch)
        expected = list(ref)
        assert [i for rows in _rows(single) for i in rows] == expected, f"epoch {epoch}"
        assert [i for rows in _rows(workers) for i in rows] == expected, f"epoch {epoch}, num_workers=2"


class _NoLen:
    def __getitem__(self, i):
        return i


@pytest.mark.parametrize("kwargs, exc, match", [
    (dict(num_replicas=2.0, rank=0), TypeError, "num_replicas must be an int"),
    (dict(num_replicas=True, rank=0), TypeError, "num_replicas must be an int"),
    (dict(num_replicas=2, rank="0"), TypeError, "rank must be an int"),
    (dict(num_replicas=2, rank=0.0), TypeError, "rank must be an int"),
    (dict(num_replicas=2, rank=0, seed=1.5), TypeError, "seed must be an int"),
    (dict(num_replicas=2, rank=0, seed=None), TypeError, "seed must be an int"),
    (dict(num_replicas=2, rank=0, shuffle=1), TypeError, "shuffle must be a bool"),
    (dict(num_replicas=2, rank=0, drop_last=None), TypeError, "drop_last must be a bool"),
    (dict(num_replicas=0, rank=0), ValueError, "num_replicas must be >= 1"),
    (dict(num_replicas=-2, rank=0), ValueError, "num_replicas must be >= 1"),
    (dict(num_replicas=3, rank=3), ValueError, r"Invalid rank 3, rank should be in the interval \[0, 2\]"),
    (dict(num_replicas=3, rank=-1), ValueError, r"Invalid rank -1, rank should be in the interval \[0, 2\]"),
])
def test_bad_arguments_raise_naming_the_argument(kwargs, exc, match):
    with pytest.raises(exc, match=match):
        DistributedSampler(range(10), **kwargs)


@pytest.mark.parametrize("num_replicas, rank", [(3, 3), (3, -1), (0, 0)])
def test_rank_out_of_range_is_a_value_error_in_torch_too(num_replicas, rank):
    with pytest.raises(ValueError):
        TorchDistributedSampler(range(10), num_replicas, rank)
    with pytest.raises(ValueError):
        DistributedSampler(range(10), num_replicas, rank)


def test_numpy_integers_and_bools_are_accepted():
    ours = DistributedSampler(range(10), np.int64(3), np.int32(1), shuffle=np.bool_(True), seed=np.int64(4),
                              drop_last=np.bool_(False))
    ours.set_epoch(np.int64(2))
    ref = TorchDistributedSampler(range(10), 3, 1, seed=4)
    ref.set_epoch(2)
    assert list(ours) == list(ref)
    assert all(type(v) is int for v in (ours.num_replicas, ours.rank, ours.seed, ours.epoch))
    assert ours.shuffle is True and ours.drop_last is False


def test_errors_at_set_epoch_and_iteration():
    sampler = DistributedSampler(range(10), 2, 0)
    with pytest.raises(TypeError, match="epoch must be an int"):
        sampler.set_epoch(1.0)
    with pytest.raises(TypeError, match="dataset must have __len__"):
        DistributedSampler(_NoLen(), 2, 0)

    ours, ref = _pair(10, 2, 0, seed=2**64 - 1)
    assert list(ours) == list(ref)  # the largest seed torch takes
    ours.set_epoch(1)
    ref.set_epoch(1)
    with pytest.raises(ValueError):
        list(ref)
    with pytest.raises(ValueError, match=r"seed \+ epoch = 18446744073709551615 \+ 1 is outside"):
        list(ours)
    ours, ref = _pair(10, 2, 0, shuffle=False, seed=2**64 - 1)
    ours.set_epoch(1)
    assert list(ours) == list(ref) == [0, 2, 4, 6, 8], "without shuffle the seed is never used"

    data = list(range(10))
    sampler = DistributedSampler(data, 2, 0)
    data.append(10)
    with pytest.raises(RuntimeError, match="length changed from 10 to 11"):
        list(sampler)


def test_without_a_process_group_num_replicas_and_rank_are_required():
    if dist.is_available() and dist.is_initialized():
        pytest.skip("a process group is initialized in this process")
    for kwargs in ({}, dict(num_replicas=2), dict(rank=0)):
        with pytest.raises(RuntimeError, match="no initialized process group"):
            DistributedSampler(range(10), **kwargs)
    assert list(DistributedSampler(range(10), num_replicas=2, rank=1)) == list(
        TorchDistributedSampler(range(10), num_replicas=2, rank=1))


def test_without_the_distributed_package(monkeypatch):
    monkeypatch.setattr(dist, "is_available", lambda: False)
    with pytest.raises(RuntimeError, match="Requires distributed package to be available"):
        DistributedSampler(range(10), num_replicas=2)
    with pytest.raises(RuntimeError, match="Requires distributed package to be available"):
        TorchDistributedSampler(range(10), num_replicas=2)


def test_defaults_come_from_the_process_group(monkeypatch, test_seed):
    monkeypatch.setattr(dist, "is_initialized", lambda: True)
    monkeypatch.setattr(dist, "get_world_size", lambda group=None: 3)
    monkeypatch.setattr(dist, "get_rank", lambda group=None: 2)
    ours = DistributedSampler(range(20), seed=test_seed)
    ref = TorchDistributedSampler(range(20), seed=test_seed)
    assert (ours.num_replicas, ours.rank) == (ref.num_replicas, ref.rank) == (3, 2)
    assert list(ours) == list(ref)
    assert DistributedSampler(range(20), rank=0).num_replicas == 3
    assert DistributedSampler(range(20), num_replicas=5).rank == 2


def test_defaults_from_a_real_one_process_group(tmp_path):
    if not dist.is_available() or not dist.is_gloo_available():
        pytest.skip("torch.distributed with gloo is not available")
    if dist.is_initialized():
        pytest.skip("a process group is initialized in this process")
    dist.init_process_group("gloo", init_method=f"file://{tmp_path / 'store'}", world_size=1, rank=0)
    try:
        sampler = DistributedSampler(range(7), shuffle=False)
        assert (sampler.num_replicas, sampler.rank) == (1, 0)
        assert list(sampler) == list(range(7))
    finally:
        dist.destroy_process_group()


def test_exports_and_lazy_torch_import():
    import framework.data
    import framework.utils.data.distributed

    assert framework.utils.data.distributed.DistributedSampler is DistributedSampler
    assert framework.data.DistributedSampler is DistributedSampler
    assert "DistributedSampler" in framework.utils.data.__all__ and "DistributedSampler" in framework.data.__all__
    assert issubclass(DistributedSampler, Sampler)
    code = ("import sys, framework, framework.utils.data.distributed\n"
            "from framework.utils.data import DistributedSampler\n"
            "assert list(DistributedSampler(range(5), 2, 1, shuffle=False)) == [1, 3, 0]\n"
            "print('torch' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True,
                         cwd=pathlib.Path(__file__).resolve().parents[1])
    assert out.stdout.strip() == "False", "import framework (and an unshuffled DistributedSampler) imports torch"
