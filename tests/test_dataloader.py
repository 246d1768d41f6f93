"""framework.utils.data against torch.utils.data: collation, the DataLoader's arguments, worker
processes, samplers, random_split and the dataset combinators.

Worker tests use tiny datasets and bounded waits (the loader's own ``timeout``, join timeouts), so a
broken shutdown fails a test instead of hanging the suite.
"""

import collections
import os
import time

import numpy as np
import pytest
import torch
import torch.utils.data as tud

import framework as fw
from framework.utils.data import (
    BatchSampler,
    ConcatDataset,
    DataLoader,
    Dataset,
    IterableDataset,
    RandomSampler,
    SequentialSampler,
    Subset,
    SubsetRandomSampler,
    TensorDataset,
    WeightedRandomSampler,
    default_collate,
    default_convert,
    get_worker_info,
    random_split,
)

Point = collections.namedtuple("Point", ["x", "y"])


def _plain(value):
    """A batch (ours or torch's) as comparable plain data: Tensors -> (dtype name, numpy array)."""
    if isinstance(value, fw.Tensor):
        return ("tensor", str(value.dtype), value.numpy())
    if isinstance(value, torch.Tensor):
        return ("tensor", str(value.dtype).removeprefix("torch."), value.numpy())
    if isinstance(value, dict):
        return ("dict", {k: _plain(v) for k, v in value.items()})
    if isinstance(value, tuple) and hasattr(value, "_fields"):
        return (type(value).__name__, [_plain(v) for v in value])
    if isinstance(value, list | tuple):
        return (type(value).__name__, [_plain(v) for v in value])
    return ("other", value)


def _assert_same(ours, ref):
    a, b = _plain(ours), _plain(ref)
    _assert_plain_equal(a, b)


def _assert_plain_equal(a, b):
    assert a[0] == b[0], f"{a[0]} != {b[0]}"
    if a[0] == "tensor":
        assert a[1] == b[1], f"dtype {a[1]} != {b[1]}"
        assert a[2].shape == b[2].shape
        np.testing.assert_array_equal(a[2], b[2])
    elif a[0] == "dict":
        assert list(a[1]) == list(b[1])
        for k in a[1]:
            _assert_plain_equal(a[1][k], b[1][k])
    elif a[0] == "other":
        assert a[1] == b[1]
    else:
        assert len(a[1]) == len(b[1])
        for x, y in zip(a[1], b[1]):
            _assert_plain_equal(x, y)


def _samples(rng, n):
    """n samples mixing every kind default_collate handles; values drawn fresh from rng."""
    out = []
    for _ in range(n):
        arr = rng.standard_normal((2, 3)).astype(np.float32)
        out.append({
            "image": arr,
            "label": int(rng.integers(-5, 50)),
            "weight": float(rng.standard_normal()),
            "flag": bool(rng.integers(2)),
            "np_scalars": (np.float32(rng.standard_normal()), np.int32(rng.integers(9)), np.float64(rng.random())),
            "half": rng.standard_normal(4).astype(np.float16),
            "ints": rng.integers(0, 255, size=3).astype(np.uint8),
            "name": f"s{rng.integers(100)}",
            "point": Point(int(rng.integers(9)), float(rng.random())),
            "pair": [int(rng.integers(9)), rng.standard_normal(2)],
            "zero_d": np.array(rng.random()),
        })
    return out


# ----------------------------------------------------------------------------------------- collation


def test_default_collate_matches_torch(rng):
    batch = _samples(rng, 5)
    _assert_same(default_collate(batch), tud.default_collate(batch))


def test_default_collate_numbers_dtypes_as_torch():
    for batch in ([1.5, 2.0], [1, 2], [True, False], [1, 2.5], [1.5, 2], [np.float32(1.5), np.float32(-2)],
                  [np.int32(3), np.int32(4)], [np.float64(0.5)], [np.bool_(True), np.bool_(False)]):
        _assert_same(default_collate(batch), tud.default_collate(batch))


def test_default_collate_tensors_are_stacked(rng):
    values = [rng.standard_normal((3, 2)).astype(np.float32) for _ in range(4)]
    ours = default_collate([fw.tensor(v) for v in values])
    _assert_same(ours, tud.default_collate([torch.from_numpy(v) for v in values]))
    tuples = [(fw.tensor(v), fw.tensor(i)) for i, v in enumerate(values)]
    _assert_same(default_collate(tuples), tud.default_collate([(torch.from_numpy(v), torch.tensor(i))
                                                               for i, v in enumerate(values)]))


def test_default_collate_strings_and_containers_kept_as_torch():
    _assert_same(default_collate(["a", "b"]), tud.default_collate(["a", "b"]))
    batch = [{"s": ("x", 1)}, {"s": ("y", 2)}]
    ours, ref = default_collate(batch), tud.default_collate(batch)
    assert ours["s"][0] == ref["s"][0] == ("x", "y")  # strings: the transposed tuple, untouched
    assert isinstance(ours["s"], list)  # tuples collate to lists, as torch
    od = [collections.OrderedDict(a=1, b=2.0)] * 2
    assert type(default_collate(od)) is collections.OrderedDict


@pytest.mark.parametrize("batch, exc, match", [
    ([None, None], TypeError, "found <class 'NoneType'>"),
    ([object()], TypeError, "batch must contain tensors, numpy arrays, numbers, dicts or lists"),
    ([np.array(["a", "b"])], TypeError, "found <U1"),
    ([[1, 2], [3]], RuntimeError, "each element in list of batch should be of equal size"),
    ([np.ones(2), np.ones(3)], RuntimeError, "stack expects each tensor to be equal size"),
    ([1 + 2j], TypeError, "found <class 'complex'>"),
])
def test_default_collate_errors_as_torch(batch, exc, match):
    with pytest.raises(exc, match=match):
        tud.default_collate(batch)
    with pytest.raises(exc, match=match):
        default_collate(batch)


def test_default_collate_tensor_shape_mismatch_and_empty_batch():
    with pytest.raises(RuntimeError, match=r"got \[2\] at entry 0 and \[3\] at entry 1"):
        default_collate([fw.ones(2), fw.ones(3)])
    with pytest.raises(IndexError, match="batch is empty"):
        default_collate([])


def test_default_convert_matches_torch(rng):
    sample = _samples(rng, 1)[0]
    _assert_same(default_convert(sample), tud.default_convert(sample))
    assert default_convert("text") == "text"
    _assert_same(default_convert((np.arange(3), 4)), tud.default_convert((np.arange(3), 4)))


# -------------------------------------------------------------------------------- DataLoader basics


class _DictDataset(Dataset):
    """Generic map-style dataset of mixed samples (no fast path)."""

    def __init__(self, samples):
        self.samples = samples

    def __len__(self):
        return len(self.samples)

    def __getitem__(self, i):
        return self.samples[i]


def test_loader_batches_match_torch_loader(rng):
    samples = _samples(rng, 7)
    ours = list(DataLoader(_DictDataset(samples), batch_size=3))
    ref = list(tud.DataLoader(samples, batch_size=3))
    assert len(ours) == len(ref) == 3
    for a, b in zip(ours, ref):
        _assert_same(a, b)


class _RowsDataset(TensorDataset):
    """A TensorDataset subclass: the loader must take the generic per-item path for it."""


def test_tensor_dataset_fast_path_equals_generic_collation(rng):
    x = rng.standard_normal((11, 2, 3)).astype(np.float32)
    y = rng.integers(0, 10, size=11)
    w = rng.standard_normal(11)  # float64, 1-d: items are numpy scalars
    order = rng.permutation(11)
    fast = DataLoader(Subset(TensorDataset(x, y, w), order), batch_size=4)
    slow = DataLoader(Subset(_RowsDataset(x, y, w), order), batch_size=4)
    ref = tud.DataLoader(tud.Subset(tud.TensorDataset(*map(torch.from_numpy, (x, y, w))), order.tolist()),
                         batch_size=4)
    for a, b, c in zip(fast, slow, ref, strict=True):
        _assert_same(a, c)
        _assert_same(b, c)
    item = TensorDataset(x, y)[3]
    assert isinstance(item, tuple) and all(isinstance(t, fw.Tensor) for t in item)
    assert item[1].shape == () and int(item[1]) == y[3]


def test_batch_size_none_converts_without_batching(rng):
    x = rng.standard_normal((3, 2))
    batches = list(DataLoader(_DictDataset([{"x": row, "i": i} for i, row in enumerate(x)]), batch_size=None))
    assert len(batches) == 3
    assert batches[1]["x"].shape == (2,) and batches[1]["i"] == 1
    np.testing.assert_array_equal(batches[2]["x"].numpy(), x[2])


def test_custom_collate_fn_and_batch_sampler():
    ds = _DictDataset(list(range(10)))
    loader = DataLoader(ds, batch_sampler=[[3, 1], [0], [9, 8, 7]], collate_fn=lambda items: sum(items))
    assert list(loader) == [4, 0, 24]
    assert len(loader) == 3


def test_pin_memory_is_a_no_op(rng):
    x = rng.standard_normal((5, 2)).astype(np.float32)
    pinned = [b[0].numpy() for b in DataLoader(TensorDataset(x), batch_size=2, pin_memory=True)]
    plain = [b[0].numpy() for b in DataLoader(TensorDataset(x), batch_size=2)]
    for a, b in zip(pinned, plain, strict=True):
        np.testing.assert_array_equal(a, b)
    batch = next(iter(DataLoader(TensorDataset(x), batch_size=2, pin_memory=True)))[0]
    moved = batch.to("cpu", non_blocking=True)  # what a ported pin_memory loop does next
    np.testing.assert_array_equal(moved.numpy(), x[:2])


def test_loader_device_moves_batches(device, rng):
    x = rng.standard_normal((5, 3)).astype(np.float32)
    batches = list(DataLoader(_DictDataset([{"x": r} for r in x]), batch_size=2, device=device))
    assert all(b["x"].device == device for b in batches)
    np.testing.assert_array_equal(np.concatenate([b["x"].numpy() for b in batches]), x)


_BAD_ARGS = [
    (dict(shuffle=True, sampler=[0, 1]), "sampler option is mutually exclusive with shuffle"),
    (dict(batch_sampler=[[0]], batch_size=2), "batch_sampler option is mutually exclusive"),
    (dict(batch_sampler=[[0]], shuffle=True), "batch_sampler option is mutually exclusive"),
    (dict(batch_sampler=[[0]], sampler=[0]), "batch_sampler option is mutually exclusive"),
    (dict(batch_sampler=[[0]], drop_last=True), "batch_sampler option is mutually exclusive"),
    (dict(batch_size=None, drop_last=True), "mutually exclusive with drop_last"),
    (dict(num_workers=-1), "num_workers option should be non-negative"),
    (dict(timeout=-1), "timeout option should be non-negative"),
    (dict(prefetch_factor=2), "prefetch_factor option could only be specified in multiprocessing"),
    (dict(num_workers=1, prefetch_factor=-1), "prefetch_factor option should be non-negative"),
    (dict(persistent_workers=True), "persistent_workers option needs num_workers > 0"),
    (dict(batch_size=0), "batch_size should be a positive integer value"),
    (dict(drop_last=1), "drop_last should be a boolean value"),
    (dict(multiprocessing_context="spawn"), "multiprocessing_context can only be used with multi-process"),
    (dict(num_workers=1, multiprocessing_context="nope"), "should specify a valid start method"),
]


@pytest.mark.parametrize("kwargs, match", _BAD_ARGS)
def test_loader_argument_errors_as_torch(kwargs, match):
    with pytest.raises(ValueError, match=match):
        tud.DataLoader(list(range(4)), **kwargs)
    with pytest.raises(ValueError, match=match):
        DataLoader(_DictDataset(list(range(4))), **kwargs)


def test_iterable_dataset_rejects_shuffle_and_samplers():
    for kwargs in (dict(shuffle=True), dict(sampler=[0]), dict(batch_sampler=[[0]])):
        with pytest.raises(ValueError, match="DataLoader with IterableDataset: expected unspecified"):
            DataLoader(_Stream(4), **kwargs)
    with pytest.raises(ValueError, match="seed or generator"):
        DataLoader(_DictDataset([1]), seed=1, generator=fw.Generator())
    with pytest.raises(TypeError, match="generator must be a framework.Generator"):
        list(DataLoader(_DictDataset([1, 2]), shuffle=True, generator=3))
    loader = DataLoader(_DictDataset([1, 2]))
    with pytest.raises(ValueError, match="batch_size attribute should not be set"):
        loader.batch_size = 4


def test_len_and_drop_last():
    ds = _DictDataset(list(range(10)))
    for bs, drop, n in ((3, False, 4), (3, True, 3), (5, True, 2), (20, False, 1), (20, True, 0)):
        loader = DataLoader(ds, batch_size=bs, drop_last=drop)
        assert len(loader) == len(list(loader)) == n == len(tud.DataLoader(list(range(10)), batch_size=bs,
                                                                             drop_last=drop))


# -------------------------------------------------------------------------------- generator, shuffle


def test_generator_makes_shuffle_reproducible_and_each_epoch_a_permutation(test_seed):
    ds = _DictDataset(list(range(23)))
    a = DataLoader(ds, batch_size=4, shuffle=True, generator=fw.Generator().manual_seed(test_seed))
    b = DataLoader(ds, batch_size=4, shuffle=True, generator=fw.Generator().manual_seed(test_seed))
    epochs_a = [np.concatenate([t.numpy() for t in a]) for _ in range(3)]
    epochs_b = [np.concatenate([t.numpy() for t in b]) for _ in range(3)]
    for ea, eb in zip(epochs_a, epochs_b):
        np.testing.assert_array_equal(ea, eb)
        np.testing.assert_array_equal(np.sort(ea), np.arange(23))
    assert not np.array_equal(epochs_a[0], epochs_a[1])  # a fresh order each epoch (1/23! to collide)
    # The workers' base seed does not advance the generator: the order is the sampler's own.
    g = fw.Generator().manual_seed(test_seed)
    alone = [list(RandomSampler(range(23), generator=g)) for _ in range(3)]
    np.testing.assert_array_equal(np.concatenate(epochs_a), np.concatenate(alone))


def test_generator_state_round_trip():
    g = fw.Generator().manual_seed(11)
    assert g.initial_seed() == 11
    state = g.get_state()
    first = list(RandomSampler(range(30), generator=g))
    g.set_state(state)
    assert list(RandomSampler(range(30), generator=g)) == first
    assert list(RandomSampler(range(30), generator=fw.Generator().manual_seed(11))) == first
    with pytest.raises(ValueError, match="only device='cpu'"):
        fw.Generator(device="cuda")
    with pytest.raises(ValueError, match="seed must be a non-negative int"):
        fw.Generator().manual_seed(-1)


def test_shuffle_without_generator_follows_manual_seed():
    ds = _DictDataset(list(range(17)))
    fw.manual_seed(3)
    a = [t.tolist() for t in DataLoader(ds, batch_size=5, shuffle=True)]
    fw.manual_seed(3)
    b = [t.tolist() for t in DataLoader(ds, batch_size=5, shuffle=True)]
    assert a == b and sorted(sum(a, [])) == list(range(17))


# ----------------------------------------------------------------------------------- worker processes

_INIT_IDS = []


def _record_init(worker_id):
    _INIT_IDS.append(worker_id)  # in the worker's copy of this module


class _WorkerAware(Dataset):
    """Items report which process made them and what the worker saw; some items are slow so results
    arrive out of order and the loader must reorder them."""

    def __init__(self, n, slow=()):
        self.n, self.slow = n, set(slow)

    def __len__(self):
        return self.n

    def __getitem__(self, i):
        if i in self.slow:
            time.sleep(0.1)
        info = get_worker_info()
        return {
            "i": i,
            "value": np.float32(i) * 1.5,
            "pid": os.getpid(),
            "worker": -1 if info is None else info.id,
            "num_workers": 0 if info is None else info.num_workers,
            "init": _INIT_IDS[-1] if _INIT_IDS else -1,
        }


def test_workers_give_the_same_batches_in_the_same_order(test_seed):
    ds = _WorkerAware(13, slow={0, 1})  # worker 0's first batch finishes last
    kwargs = dict(batch_size=2, shuffle=True)
    ref = list(DataLoader(ds, generator=fw.Generator().manual_seed(test_seed), **kwargs))
    got = list(DataLoader(ds, generator=fw.Generator().manual_seed(test_seed), num_workers=3, timeout=20,
                          worker_init_fn=_record_init, **kwargs))
    assert len(got) == len(ref) == 7
    for a, b in zip(got, ref):
        np.testing.assert_array_equal(a["i"].numpy(), b["i"].numpy())
        np.testing.assert_array_equal(a["value"].numpy(), b["value"].numpy())
        assert a["value"].dtype == "float32"
    workers = np.concatenate([b["worker"].numpy() for b in got])
    assert set(workers.tolist()) == {0, 1, 2}  # round-robin over three workers
    np.testing.assert_array_equal(np.concatenate([b["init"].numpy() for b in got]), workers)  # init_fn(id) ran
    assert {b["num_workers"].tolist()[0] for b in got} == {3}
    assert os.getpid() not in np.concatenate([b["pid"].numpy() for b in got])
    assert get_worker_info() is None  # in the main process


def test_tensor_dataset_through_workers(rng):
    x = rng.standard_normal((9, 3)).astype(np.float32)
    y = rng.integers(0, 5, size=9)
    got = list(DataLoader(TensorDataset(x, y), batch_size=4, num_workers=2, timeout=20))
    np.testing.assert_array_equal(np.concatenate([b[0].numpy() for b in got]), x)
    np.testing.assert_array_equal(np.concatenate([b[1].numpy() for b in got]), y)
    assert got[0][1].dtype == "int64" and got[0][0].dtype == "float32"


class _FailsAt(Dataset):
    def __len__(self):
        return 8

    def __getitem__(self, i):
        if i == 5:
            raise ValueError(f"item {i} is corrupt")
        return i


def test_worker_exception_surfaces_with_original_message():
    loader = DataLoader(_FailsAt(), batch_size=2, num_workers=2, timeout=20)
    seen = []
    with pytest.raises(ValueError, match="item 5 is corrupt") as info:
        for batch in loader:
            seen.append(batch.tolist())
    assert seen == [[0, 1], [2, 3]]  # the batches before the failing one came through, in order
    assert "in DataLoader worker process 0" in str(info.value)


def _workers_of(iterator):
    return list(iterator._workers)


def _wait_exited(procs, limit=10.0):
    end = time.monotonic() + limit
    while time.monotonic() < end and any(p.is_alive() for p in procs):
        time.sleep(0.02)
    return [p.is_alive() for p in procs]


def test_early_break_and_garbage_collection_stop_the_workers():
    loader = DataLoader(_WorkerAware(40), batch_size=2, num_workers=2, timeout=20)
    it = iter(loader)
    next(it)
    procs = _workers_of(it)
    assert all(p.is_alive() for p in procs)
    del it  # leaving a loop early drops the iterator
    assert _wait_exited(procs) == [False, False]

    persistent = DataLoader(_WorkerAware(6), batch_size=2, num_workers=2, persistent_workers=True, timeout=20)
    list(persistent)
    procs = _workers_of(persistent._iterator)
    assert all(p.is_alive() for p in procs)  # kept between epochs
    del persistent
    assert _wait_exited(procs) == [False, False]


def test_persistent_workers_are_reused_and_survive_an_abandoned_epoch(test_seed):
    ds = _WorkerAware(10)
    loader = DataLoader(ds, batch_size=3, shuffle=True, num_workers=2, persistent_workers=True, timeout=20,
                        generator=fw.Generator().manual_seed(test_seed))
    ref = DataLoader(ds, batch_size=3, shuffle=True, generator=fw.Generator().manual_seed(test_seed))
    first = iter(loader)
    pids = {int(p) for p in next(first)["pid"].numpy()}
    next(iter(ref))  # keep the reference's generator in step: one epoch started
    for _ in range(2):  # the abandoned epoch's prefetched batches must not leak into these
        batches = list(loader)
        got = [b["i"].tolist() for b in batches]
        want = [b["i"].tolist() for b in ref]
        assert got == want and sorted(sum(got, [])) == list(range(10))
        pids |= {int(p) for b in batches for p in b["pid"].numpy()}
    assert len(pids) == 2  # the same two processes all along

    fresh = DataLoader(ds, batch_size=5, num_workers=1, timeout=20)
    pid_a = {int(p) for b in fresh for p in b["pid"].numpy()}
    pid_b = {int(p) for b in fresh for p in b["pid"].numpy()}
    assert pid_a.isdisjoint(pid_b)  # without persistent_workers each epoch starts new workers


class _Sleepy(Dataset):
    def __len__(self):
        return 2

    def __getitem__(self, i):
        time.sleep(0.6)
        return i


def test_worker_timeout_raises():
    loader = DataLoader(_Sleepy(), batch_size=1, num_workers=1, timeout=0.2)
    start = time.monotonic()
    with pytest.raises(RuntimeError, match="DataLoader timed out after 0.2 seconds"):
        next(iter(loader))
    assert time.monotonic() - start < 8


class _Dies(Dataset):
    def __len__(self):
        return 4

    def __getitem__(self, i):
        os._exit(3)


def test_dead_worker_is_reported():
    with pytest.raises(RuntimeError, match=r"DataLoader worker \(pid\(s\) \d+\) exited unexpectedly"):
        list(DataLoader(_Dies(), batch_size=2, num_workers=1, timeout=20))


class _Stream(IterableDataset):
    """0..n-1, split between workers by get_worker_info (the documented torch pattern)."""

    def __init__(self, n):
        self.n = n

    def __iter__(self):
        info = get_worker_info()
        if info is None:
            return iter(range(self.n))
        return iter(range(info.id, self.n, info.num_workers))


def test_iterable_dataset_with_and_without_workers():
    single = [b.tolist() for b in DataLoader(_Stream(7), batch_size=2)]
    assert single == [[0, 1], [2, 3], [4, 5], [6]]
    assert [b.tolist() for b in DataLoader(_Stream(7), batch_size=2, drop_last=True)] == [[0, 1], [2, 3], [4, 5]]
    multi = [b.tolist() for b in DataLoader(_Stream(7), batch_size=2, num_workers=2, timeout=20)]
    # worker 0 streams 0,2,4,6 and worker 1 streams 1,3,5; batches alternate between them
    assert multi == [[0, 2], [1, 3], [4, 6], [5]]
    loader = DataLoader(_Stream(7), batch_size=2, num_workers=2, persistent_workers=True, timeout=20)
    assert [b.tolist() for b in loader] == multi == [b.tolist() for b in loader]


def test_spawn_context_pickles_dataset_and_tensors(rng):
    # Only framework classes cross the process boundary, so the spawned child need not import this
    # test module (and torch with it): the batches are fw Tensors pickled back through Tensor.__reduce__.
    x = rng.standard_normal((5, 2)).astype(np.float32)
    y = rng.integers(0, 9, size=5)
    loader = DataLoader(TensorDataset(x, y), batch_size=2, num_workers=1, multiprocessing_context="spawn",
                        timeout=60)
    batches = list(loader)
    assert all(isinstance(t, fw.Tensor) for b in batches for t in b)
    np.testing.assert_array_equal(np.concatenate([b[0].numpy() for b in batches]), x)
    np.testing.assert_array_equal(np.concatenate([b[1].numpy() for b in batches]), y)


# ------------------------------------------------------------------------------------------ samplers


def test_sequential_and_random_sampler(test_seed):
    assert list(SequentialSampler(range(5))) == [0, 1, 2, 3, 4]
    g = fw.Generator().manual_seed(test_seed)
    perm = list(RandomSampler(range(50), generator=g))
    assert sorted(perm) == list(range(50)) and perm != list(range(50))
    long = list(RandomSampler(range(4), num_samples=10, generator=g))  # chained permutations
    assert len(long) == 10 and sorted(long[:4]) == sorted(long[4:8]) == [0, 1, 2, 3]
    draws = list(RandomSampler(range(3), replacement=True, num_samples=300, generator=g))
    assert len(draws) == 300 and set(draws) == {0, 1, 2}
    assert len(RandomSampler(range(3), replacement=True, num_samples=7)) == 7
    with pytest.raises(TypeError, match="replacement should be a boolean"):
        RandomSampler(range(3), replacement=1)
    with pytest.raises(ValueError, match="num_samples should be a positive integer"):
        RandomSampler(range(3), num_samples=0)
    with pytest.raises(ValueError, match="num_samples should be a positive integer"):
        RandomSampler([])


def test_subset_random_sampler(test_seed):
    indices = [7, 3, 11, 5]
    got = list(SubsetRandomSampler(indices, generator=fw.Generator().manual_seed(test_seed)))
    assert sorted(got) == sorted(indices) and len(SubsetRandomSampler(indices)) == 4


def test_weighted_random_sampler(test_seed):
    weights = np.array([0.0, 1.0, 3.0, 0.0, 6.0])
    g = fw.Generator().manual_seed(test_seed)
    draws = np.array(list(WeightedRandomSampler(weights, 4000, generator=g)))
    counts = np.bincount(draws, minlength=5)
    assert counts[0] == counts[3] == 0  # zero weight: never drawn
    np.testing.assert_allclose(counts / 4000, weights / weights.sum(), atol=0.04)  # ~6 sigma
    unique = list(WeightedRandomSampler(weights, 3, replacement=False, generator=g))
    assert sorted(unique) == [1, 2, 4]
    with pytest.raises(ValueError, match="without replacement"):
        WeightedRandomSampler(weights, 4, replacement=False)
    with pytest.raises(ValueError, match="non-negative"):
        WeightedRandomSampler([1.0, -1.0], 2)
    with pytest.raises(ValueError, match="at least one weight must be positive"):
        WeightedRandomSampler([0.0, 0.0], 2)
    with pytest.raises(ValueError, match="weights should be a 1d sequence"):
        WeightedRandomSampler([[1.0]], 1)
    with pytest.raises(ValueError, match="num_samples should be a positive integer"):
        WeightedRandomSampler([1.0], True)


def test_batch_sampler_as_torch():
    for n, bs, drop in ((10, 3, False), (10, 3, True), (9, 3, True), (2, 5, True), (2, 5, False)):
        ours = BatchSampler(SequentialSampler(range(n)), bs, drop)
        ref = tud.BatchSampler(tud.SequentialSampler(range(n)), bs, drop)
        assert list(ours) == list(ref) and len(ours) == len(ref)
    with pytest.raises(ValueError, match="batch_size should be a positive integer"):
        BatchSampler(range(3), True, False)
    with pytest.raises(ValueError, match="drop_last should be a boolean"):
        BatchSampler(range(3), 2, None)


# ------------------------------------------------------------------------- random_split, combinators


def test_random_split_lengths_and_fractions_as_torch(test_seed):
    ds = _DictDataset(list(range(30)))
    for lengths in ([10, 20], [0.3, 0.3, 0.4], [0.5, 0.5], [1 / 3, 1 / 3, 1 / 3], [30, 0]):
        parts = random_split(ds, lengths, generator=fw.Generator().manual_seed(test_seed))
        ref = tud.random_split(range(30), lengths)
        assert [len(p) for p in parts] == [len(r) for r in ref]
        items = sorted(x for p in parts for x in (p[i] for i in range(len(p))))
        assert items == list(range(30))  # disjoint and complete
    ds31 = _DictDataset(list(range(31)))
    with pytest.warns(UserWarning, match="Length of split at index 1 is 0"):
        assert [len(p) for p in random_split(_DictDataset([1, 2]), [0.9, 0.1])] == [2, 0]
    a = random_split(ds31, [0.2, 0.8], generator=fw.Generator().manual_seed(test_seed))
    b = random_split(ds31, [0.2, 0.8], generator=fw.Generator().manual_seed(test_seed))
    assert a[0].indices.tolist() == b[0].indices.tolist()
    with pytest.raises(ValueError, match="Sum of input lengths does not equal"):
        random_split(ds, [10, 10])
    with pytest.raises(ValueError, match="Sum of input lengths does not equal"):
        tud.random_split(range(30), [10, 10])
    with pytest.raises(ValueError, match="fraction at index 1 is not between 0 and 1"):
        random_split(ds, [0.5, 1.5, -1.0])


def test_subset_and_concat_dataset():
    a, b = _DictDataset([10, 11, 12]), _DictDataset([20, 21])
    cat = ConcatDataset([a, b])
    assert len(cat) == 5 and [cat[i] for i in range(5)] == [10, 11, 12, 20, 21]
    assert cat[-1] == 21 and cat[-5] == 10 and (a + b)[3] == 20
    for bad in (5, -6):
        with pytest.raises(IndexError, match="out of range"):
            cat[bad]
    with pytest.raises(ValueError, match="empty iterable"):
        ConcatDataset([])
    with pytest.raises(ValueError, match="does not support IterableDataset"):
        ConcatDataset([a, _Stream(3)])
    sub = Subset(cat, [4, 0, -2])
    assert [sub[i] for i in range(3)] == [21, 10, 20]
    assert [t.tolist() for t in DataLoader(sub, batch_size=2)] == [[21, 10], [20]]
    with pytest.raises(IndexError, match="Subset"):
        Subset(cat, [5])


def test_public_names():
    assert fw.utils.data.DataLoader is DataLoader
    from framework.data import DataLoader as legacy

    assert legacy is DataLoader
