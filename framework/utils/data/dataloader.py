"""``DataLoader``: batches from a dataset, in the main process or in worker processes (torch's semantics).

Pipeline: a sampler yields indices → a :class:`BatchSampler` groups them → a fetcher reads the samples
(``dataset.__getitems__`` or ``dataset[i]`` each) and ``collate_fn`` merges them into a batch → the main
process applies the optional ``transform`` and moves the batch to ``device``. With ``num_workers > 0``
the fetch+collate step runs in worker processes (see :mod:`.worker`) and batches still come out in the
sampler's order, identical to ``num_workers=0``.

Fast path: with the default collate_fn, a :class:`TensorDataset` (or Subsets of one, however nested)
is gathered with one fancy index per array per batch instead of one ``__getitem__`` per sample; the
result is the same as collating the samples one by one (tests/test_dataloader.py holds that).

Worker processes start with ``fork`` on Linux (fast: nothing is pickled or re-imported, and lambdas
work as datasets/collate_fns, as in torch's default there). That is safe here because a worker only
runs the dataset and collate_fn on the host: they must not touch a GPU device (true of torch's workers
too; a forked child cannot use its parent's CUDA context). Pass ``multiprocessing_context='spawn'`` for
datasets that need a GPU or are not fork-safe; then the dataset, collate_fn and worker_init_fn must be
picklable. Each worker seeds Python's ``random``, numpy's global stream and ``fw.manual_seed`` with
``base_seed + worker_id`` (``base_seed`` drawn from ``generator`` once per epoch).

``pin_memory`` is accepted and is a no-op: batches are host (numpy) arrays until they are copied to the
device, and no backend here has page-locked host buffers to pin into.
"""

from __future__ import annotations

import collections.abc
import multiprocessing
import queue
import sys
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np

from ... import random as _random
from ...backend import get_backend
from ...tensor import Tensor, tensor
from . import worker as _worker
from .collate import default_collate, default_convert
from .dataset import IterableDataset, Subset, TensorDataset
from .sampler import BatchSampler, RandomSampler, Sampler, SequentialSampler

__all__ = ["DataLoader"]

# How long the main process waits on the result queue before checking that the workers are alive.
_STATUS_CHECK_INTERVAL = 0.5
# How long shutdown waits for a worker to exit on its own before terminating it.
_JOIN_TIMEOUT = 5.0


def _resolve_arrays(dataset: Any) -> tuple[tuple[np.ndarray, ...], np.ndarray | None] | None:
    """``(arrays, index_map)`` when ``dataset`` is a TensorDataset seen through Subsets, else None.

    ``index_map`` maps the dataset's positions to rows of ``arrays`` (None: identity).
    """
    index_map = None
    while type(dataset) is Subset:  # a subclass may override __getitem__: take the generic path
        index_map = dataset.indices if index_map is None else dataset.indices[index_map]
        dataset = dataset.dataset
    if type(dataset) is TensorDataset:
        return dataset.arrays, index_map
    return None


class _Fetcher:
    """Reads one batch (or one sample without auto-batching) and collates it; picklable for workers."""

    def __init__(self, dataset: Any, auto_collation: bool, collate_fn: Callable, drop_last: bool):
        self.dataset = dataset
        self.is_iterable = isinstance(dataset, IterableDataset)
        self.auto_collation = auto_collation
        self.collate_fn = collate_fn
        self.drop_last = drop_last
        fast = auto_collation and collate_fn is default_collate and not self.is_iterable
        self._arrays = _resolve_arrays(dataset) if fast else None
        self._iterator: Iterator[Any] | None = None
        self._ended = False

    def start(self) -> None:
        """Begin a pass (a fresh iterator over an IterableDataset)."""
        if self.is_iterable:
            self._iterator, self._ended = iter(self.dataset), False

    def __getstate__(self) -> dict:
        return {**self.__dict__, "_iterator": None}  # a live iterator does not pickle (spawn)

    def __call__(self, index: Any) -> Any:
        if self.is_iterable:
            return self._fetch_iterable(index)
        if not self.auto_collation:
            return self.collate_fn(self.dataset[index])
        if self._arrays is not None and len(index):
            arrays, index_map = self._arrays
            rows = np.asarray(index, dtype=np.int64)
            rows = rows if index_map is None else index_map[rows]
            return [tensor(a[rows], device="cpu") for a in arrays]  # == default_collate of the rows
        getitems = getattr(self.dataset, "__getitems__", None)
        samples = getitems(list(index)) if callable(getitems) else [self.dataset[i] for i in index]
        return self.collate_fn(samples)

    def _fetch_iterable(self, index: Any) -> Any:
        if self._iterator is None:
            self.start()
        if not self.auto_collation:
            return self.collate_fn(next(self._iterator))
        if self._ended:
            raise StopIteration
        samples = []
        for _ in index:
            try:
                samples.append(next(self._iterator))
            except StopIteration:
                self._ended = True
                break
        if not samples or (self.drop_last and len(samples) < len(index)):
            raise StopIteration
        return self.collate_fn(samples)


class _InfiniteConstantSampler(Sampler):
    """The sampler of an IterableDataset: None forever (the dataset decides when to stop)."""

    def __iter__(self) -> Iterator[None]:
        while True:
            yield None


class DataLoader:
    """Iterate over a dataset in batches (``torch.utils.data.DataLoader``'s arguments and semantics).

    Args:
        dataset: a map-style :class:`Dataset` (anything with ``__len__``/``__getitem__``) or an
            :class:`IterableDataset`.
        batch_size: samples per batch; None turns automatic batching off (each sample goes through
            ``default_convert``, or ``collate_fn``).
        shuffle: a fresh random order each epoch (a :class:`RandomSampler` drawing from ``generator``).
        sampler: an iterable of indices (mutually exclusive with ``shuffle``).
        batch_sampler: an iterable of index lists (mutually exclusive with batch_size, shuffle, sampler,
            drop_last).
        num_workers: 0 loads in the main process; ``n > 0`` starts ``n`` worker processes.
        collate_fn: merges a list of samples into a batch (default :func:`default_collate`).
        pin_memory: accepted; a no-op (see the module docstring).
        drop_last: drop the last batch if it is smaller than ``batch_size``.
        timeout: seconds to wait for a batch from the workers (0: no limit); past it, RuntimeError.
        worker_init_fn: called as ``worker_init_fn(worker_id)`` in each worker after seeding.
        multiprocessing_context: start method name (``'fork'``, ``'spawn'``, ``'forkserver'``) or a
            context object; default ``'fork'`` where available (see the module docstring).
        generator: a ``framework.Generator`` for the shuffle order and the workers' base seed.
        prefetch_factor: batches in flight per worker (default 2 with workers; None without).
        persistent_workers: keep the worker processes alive from one epoch to the next.
        pin_memory_device, in_order: accepted for compatibility (batches always come in order).

    Framework extensions (keyword-only; not in torch):
        seed: shorthand for ``generator=fw.Generator().manual_seed(seed)``.
        device: where batches go (None: the default device; ``cpu`` leaves them where collation made them).
        transform: ``f(inputs: np.ndarray) -> np.ndarray`` applied in the main process to the first field
            of each batch (the inputs) before the copy to ``device``, e.g. for augmentation.

    Raises:
        ValueError: the incompatible combinations torch rejects (messages as torch's), a negative
            num_workers or timeout, prefetch_factor/persistent_workers without workers, a bad
            multiprocessing_context, both seed and generator.
        TypeError: a multiprocessing_context that is neither a name nor a context.
    """

    def __init__(self, dataset: Any, batch_size: int | None = 1, shuffle: bool | None = None,
                 sampler: Any = None, batch_sampler: Any = None, num_workers: int = 0,
                 collate_fn: Callable | None = None, pin_memory: bool = False, drop_last: bool = False,
                 timeout: float = 0, worker_init_fn: Callable[[int], None] | None = None,
                 multiprocessing_context: Any = None, generator: Any = None, *,
                 prefetch_factor: int | None = None, persistent_workers: bool = False,
                 pin_memory_device: str = "", in_order: bool = True, seed: int | None = None,
                 device: Any = None, transform: Callable[[np.ndarray], np.ndarray] | None = None):
        if not isinstance(num_workers, int | np.integer) or num_workers < 0:
            raise ValueError("num_workers option should be non-negative; use num_workers=0 to disable multiprocessing.")
        if timeout < 0:
            raise ValueError("timeout option should be non-negative")
        if num_workers == 0 and prefetch_factor is not None:
            raise ValueError("prefetch_factor option could only be specified in multiprocessing. let num_workers > 0 "
                             "to enable multiprocessing, otherwise set prefetch_factor to None.")
        if num_workers > 0 and prefetch_factor is None:
            prefetch_factor = 2
        elif prefetch_factor is not None and prefetch_factor < 0:
            raise ValueError("prefetch_factor option should be non-negative")
        if persistent_workers and num_workers == 0:
            raise ValueError("persistent_workers option needs num_workers > 0")
        if seed is not None:
            if generator is not None:
                raise ValueError("DataLoader: pass either seed or generator, not both")
            generator = _random.Generator().manual_seed(seed)

        if isinstance(dataset, IterableDataset):
            if shuffle not in (False, None):
                raise ValueError(f"DataLoader with IterableDataset: expected unspecified shuffle option, "
                                 f"but got shuffle={shuffle}")
            if sampler is not None:
                raise ValueError(f"DataLoader with IterableDataset: expected unspecified sampler option, "
                                 f"but got sampler={sampler}")
            if batch_sampler is not None:
                raise ValueError(f"DataLoader with IterableDataset: expected unspecified batch_sampler option, "
                                 f"but got batch_sampler={batch_sampler}")
        shuffle = bool(shuffle)
        if sampler is not None and shuffle:
            raise ValueError("sampler option is mutually exclusive with shuffle")
        if batch_sampler is not None:
            if batch_size != 1 or shuffle or sampler is not None or drop_last:
                raise ValueError("batch_sampler option is mutually exclusive with batch_size, shuffle, sampler, "
                                 "and drop_last")
            batch_size, drop_last = None, False
        elif batch_size is None and drop_last:
            raise ValueError("batch_size=None option disables auto-batching and is mutually exclusive with drop_last")

        if sampler is None:
            if isinstance(dataset, IterableDataset):
                sampler = _InfiniteConstantSampler()
            elif shuffle:
                sampler = RandomSampler(dataset, generator=generator)
            else:
                sampler = SequentialSampler(dataset)
        if batch_size is not None and batch_sampler is None:
            batch_sampler = BatchSampler(sampler, batch_size, drop_last)  # checks batch_size, drop_last

        self.dataset = dataset
        self.batch_size = batch_size
        self.drop_last = drop_last
        self.sampler = sampler
        self.batch_sampler = batch_sampler
        self.num_workers = int(num_workers)
        self.prefetch_factor = prefetch_factor
        self.pin_memory = pin_memory
        self.pin_memory_device = pin_memory_device
        self.timeout = timeout
        self.worker_init_fn = worker_init_fn
        self.multiprocessing_context = _mp_context(multiprocessing_context, self.num_workers)
        self.generator = generator
        self.in_order = in_order
        self.persistent_workers = persistent_workers
        if collate_fn is None:
            collate_fn = default_collate if batch_sampler is not None else default_convert
        self.collate_fn = collate_fn
        self.device = device
        self.transform = transform
        self._iterator: _MultiProcessIter | None = None
        self._initialized = True

    def __setattr__(self, name: str, value: Any) -> None:
        # As torch: these define the epoch's index stream, which persistent workers' iterators keep.
        if getattr(self, "_initialized", False) and name in ("batch_size", "batch_sampler", "sampler", "drop_last",
                                                               "dataset", "persistent_workers"):
            raise ValueError(f"{name} attribute should not be set after {type(self).__name__} is initialized")
        super().__setattr__(name, value)

    @property
    def _auto_collation(self) -> bool:
        return self.batch_sampler is not None

    @property
    def _index_sampler(self) -> Any:
        return self.batch_sampler if self._auto_collation else self.sampler

    def __len__(self) -> int:
        if isinstance(self.dataset, IterableDataset):
            n = len(self.dataset)  # TypeError if the stream has no length, as in torch
            if self.batch_size is None:
                return n
            return n // self.batch_size if self.drop_last else -(-n // self.batch_size)
        return len(self._index_sampler)

    def __iter__(self) -> Iterator[Any]:
        if self.num_workers == 0:
            return _SingleProcessIter(self)
        if not self.persistent_workers:
            return _MultiProcessIter(self)
        if self._iterator is None or self._iterator._shutdown:
            self._iterator = _MultiProcessIter(self)
        else:
            self._iterator._reset()
        return self._iterator



def _mp_context(context: Any, num_workers: int) -> Any:
    if context is None:
        if num_workers == 0:
            return None
        # fork on Linux only (macOS system libraries are not fork-safe; Windows has no fork)
        return multiprocessing.get_context("fork" if sys.platform.startswith("linux") else None)
    if num_workers == 0:
        raise ValueError(f"multiprocessing_context can only be used with multi-process loading (num_workers > 0), "
                         f"but got num_workers={num_workers}")
    if isinstance(context, str):
        methods = multiprocessing.get_all_start_methods()
        if context not in methods:
            raise ValueError(f"multiprocessing_context option should specify a valid start method in {methods!r}, "
                             f"but got multiprocessing_context={context!r}")
        return multiprocessing.get_context(context)
    if not isinstance(context, multiprocessing.context.BaseContext):
        raise TypeError(f"multiprocessing_context option should be a valid context object or a string specifying "
                        f"the start method, but got multiprocessing_context={context}")
    return context


def _apply_transform(transform: Callable, batch: Any) -> Any:
    def apply(t: Any) -> Tensor:
        if not isinstance(t, Tensor):
            raise TypeError(f"DataLoader: transform needs batches whose inputs are a Tensor, got {type(t).__name__}")
        return tensor(np.ascontiguousarray(transform(t.numpy())), device="cpu")

    if isinstance(batch, list | tuple) and batch and not hasattr(batch, "_fields"):
        return type(batch)([apply(batch[0]), *batch[1:]])
    return apply(batch)


def _to_device(batch: Any, target: Any) -> Any:
    """Copy every Tensor in a (nested) batch to the ``target`` backend; other values stay."""
    if isinstance(batch, Tensor):
        return batch.to(target)
    if isinstance(batch, collections.abc.Mapping):
        return {key: _to_device(value, target) for key, value in batch.items()}
    if isinstance(batch, tuple) and hasattr(batch, "_fields"):
        return type(batch)(*(_to_device(v, target) for v in batch))
    if isinstance(batch, list | tuple):
        return type(batch)(_to_device(v, target) for v in batch)
    return batch


def _worker_base_seed(generator: Any) -> int:
    """A fresh base seed for the workers of one epoch, drawn without advancing ``generator``'s stream.

    A seeded generator's child stream (numpy's ``Generator.spawn``) gives the seed, so the shuffle order
    is exactly what the generator alone gives (``DataLoader(seed=s)`` orders epochs as before workers
    existed); a generator without a seed sequence falls back to one draw from its stream.
    """
    rng = _random.numpy_generator(generator)
    try:
        rng = rng.spawn(1)[0]
    except TypeError:  # a numpy Generator built from a bare BitGenerator state has no seed sequence
        pass
    return int(rng.integers(2**62))


class _BaseIter:
    """What both iterators share: the epoch's index stream, the base seed (drawn first, as torch) and
    the main-process steps after collation.

    An iterator keeps what it needs from the loader but not the loader itself, so dropping a loader with
    persistent workers frees its iterator (and shuts the workers down) at once, without a reference cycle.
    """

    def __init__(self, loader: DataLoader):
        self._generator = loader.generator
        self._index_sampler = loader._index_sampler
        self._transform, self._device = loader.transform, loader.device
        try:
            self._length = len(loader)
        except TypeError:  # an IterableDataset or sampler without a length
            self._length = None
        self._begin_epoch()

    def _begin_epoch(self) -> None:
        # Drawn the same way in both iterators, so a seeded generator gives the same shuffle order with
        # and without workers; see _worker_base_seed for why it leaves the generator's stream alone.
        self._base_seed = _worker_base_seed(self._generator)
        self._sampler_iter = iter(self._index_sampler)

    def _finish(self, batch: Any) -> Any:
        """Main-process steps after collation: the transform, then the copy to ``device``."""
        if self._transform is not None:
            batch = _apply_transform(self._transform, batch)
        target = get_backend(self._device)
        return batch if target.name == "cpu" else _to_device(batch, target)

    def __iter__(self) -> _BaseIter:
        return self

    def __len__(self) -> int:
        if self._length is None:
            raise TypeError("this DataLoader's sampler has no length")
        return self._length


class _SingleProcessIter(_BaseIter):
    def __init__(self, loader: DataLoader):
        super().__init__(loader)
        self._fetcher = _Fetcher(loader.dataset, loader._auto_collation, loader.collate_fn, loader.drop_last)
        self._fetcher.start()

    def __next__(self) -> Any:
        index = next(self._sampler_iter)  # StopIteration ends the epoch
        return self._finish(self._fetcher(index))


class _MultiProcessIter(_BaseIter):
    """Workers fetch batches; this side hands out indices round-robin and reorders the results."""

    def __init__(self, loader: DataLoader):
        super().__init__(loader)
        ctx = loader.multiprocessing_context
        self._num_workers = loader.num_workers
        self._prefetch = loader.prefetch_factor * loader.num_workers
        self._timeout = loader.timeout
        self._persistent = loader.persistent_workers
        self._shutdown = True  # until the workers are up: __del__ must not touch half-built state
        self._owner = threading.current_thread()
        self._result_queue = ctx.Queue()
        self._done_event = ctx.Event()
        fetcher = _Fetcher(loader.dataset, loader._auto_collation, loader.collate_fn, loader.drop_last)
        self._index_queues, self._workers = [], []
        for worker_id in range(self._num_workers):
            index_queue = ctx.Queue()
            index_queue.cancel_join_thread()  # indices left unread at shutdown must not block our exit
            w = ctx.Process(target=_worker.worker_loop, daemon=True,
                            args=(fetcher, index_queue, self._result_queue, self._done_event, self._base_seed,
                                  loader.worker_init_fn, worker_id, self._num_workers))
            w.start()
            self._index_queues.append(index_queue)
            self._workers.append(w)
        self._shutdown = False
        self._reset(first_epoch=True)

    def _reset(self, first_epoch: bool = False) -> None:
        if not first_epoch:
            self._begin_epoch()
        self._send_idx = 0  # next task number to hand out
        self._rcvd_idx = 0  # next task number to give to the caller
        self._task_info: dict[int, tuple] = {}  # task -> (worker,) while in flight, (worker, data) when early
        self._tasks_outstanding = 0
        self._worker_active = [True] * self._num_workers
        self._worker_cycle = 0
        if not first_epoch:
            # Persistent workers may still hold tasks of an epoch the caller left early: each echoes the
            # resume marker after them, and everything before the markers is dropped.
            for q in self._index_queues:
                q.put(_worker.ResumeIteration())
            pending = self._num_workers
            while pending:
                idx, _ = self._get_data()
                pending -= isinstance(idx, _worker.ResumeIteration)
        for _ in range(self._prefetch):
            self._try_put_index()

    def _try_put_index(self) -> None:
        if self._tasks_outstanding >= self._prefetch:
            return
        try:
            index = next(self._sampler_iter)
        except StopIteration:
            return
        for _ in range(self._num_workers):  # the next worker that still has data, round-robin
            worker_id = self._worker_cycle
            self._worker_cycle = (self._worker_cycle + 1) % self._num_workers
            if self._worker_active[worker_id]:
                break
        else:
            return  # every worker's IterableDataset copy is exhausted
        self._index_queues[worker_id].put((self._send_idx, index))
        self._task_info[self._send_idx] = (worker_id,)
        self._tasks_outstanding += 1
        self._send_idx += 1

    def _get_data(self) -> tuple[Any, Any]:
        """The next ``(task, data)`` from any worker; RuntimeError on a dead worker or past ``timeout``."""
        deadline = time.monotonic() + self._timeout if self._timeout > 0 else None
        while True:
            wait = _STATUS_CHECK_INTERVAL
            if deadline is not None:
                wait = min(wait, deadline - time.monotonic())
            try:
                return self._result_queue.get(timeout=max(wait, 0.0))
            except queue.Empty:
                dead = [w for w in self._workers if not w.is_alive()]
                if dead:
                    self._shutdown_workers()
                    pids = ", ".join(str(w.pid) for w in dead)
                    raise RuntimeError(f"DataLoader worker (pid(s) {pids}) exited unexpectedly") from None
                if deadline is not None and time.monotonic() >= deadline:
                    raise RuntimeError(f"DataLoader timed out after {self._timeout} seconds") from None

    def __next__(self) -> Any:
        while True:
            # Skip tasks sent to workers whose IterableDataset ran out (they will never answer).
            while self._rcvd_idx < self._send_idx:
                info = self._task_info[self._rcvd_idx]
                if len(info) == 2 or self._worker_active[info[0]]:
                    break
                del self._task_info[self._rcvd_idx]
                self._rcvd_idx += 1
            else:
                if not self._persistent:
                    self._shutdown_workers()
                raise StopIteration
            info = self._task_info[self._rcvd_idx]
            if len(info) == 2:  # arrived earlier, out of order
                del self._task_info[self._rcvd_idx]
                self._rcvd_idx += 1
                return self._process(info[1])
            idx, data = self._get_data()
            self._tasks_outstanding -= 1
            if isinstance(data, _worker.IterableDatasetStopIteration):
                self._worker_active[data.worker_id] = False
                self._try_put_index()
                continue
            if idx != self._rcvd_idx:
                self._task_info[idx] += (data,)
                continue
            del self._task_info[idx]
            self._rcvd_idx += 1
            return self._process(data)

    def _process(self, data: Any) -> Any:
        self._try_put_index()
        if isinstance(data, _worker.ExceptionWrapper):
            data.reraise()
        return self._finish(data)

    def _shutdown_workers(self, wait: bool = True) -> None:
        """Tell every worker to exit, wait briefly, terminate the stragglers, close the queues.

        ``wait=False`` only sends the exit messages: the garbage collector may call ``__del__`` from one of
        our queues' feeder threads, and joining there would wait for a message that thread has to send.
        """
        if self._shutdown:
            return
        self._shutdown = True
        self._done_event.set()
        for q in self._index_queues:
            q.put(None)
        for w in self._workers if wait else ():
            w.join(timeout=_JOIN_TIMEOUT)
            if w.is_alive():
                w.terminate()
                w.join(timeout=_JOIN_TIMEOUT)
        for q in (*self._index_queues, self._result_queue):
            q.cancel_join_thread()
            q.close()

    def __del__(self) -> None:
        try:
            self._shutdown_workers(wait=threading.current_thread() is self._owner)
        except Exception:  # interpreter shutdown may have torn down the queues' modules already
            pass
