"""What runs inside a DataLoader worker process, and what it sends back.

The main process gives each worker its own index queue and shares one result queue. A worker receives
``(task, indices)``, fetches and collates that batch, and puts ``(task, batch)`` back; the main process
reorders by ``task`` so batches come out in the sampler's order, exactly as with ``num_workers=0``.
``None`` on the index queue means "exit". An exception while fetching travels back as an
:class:`ExceptionWrapper` (type + formatted traceback) and is raised again in the main process.
"""

from __future__ import annotations

import os
import queue
import random
import sys
import traceback
from dataclasses import dataclass
from typing import Any

import numpy as np

from ... import random as _random

__all__ = ["WorkerInfo", "get_worker_info"]

# How often a waiting worker checks that its parent is alive and has not asked it to stop (seconds).
POLL_INTERVAL = 0.5

_worker_info: WorkerInfo | None = None


@dataclass(frozen=True)
class WorkerInfo:
    """Inside a worker: its ``id`` (0..num_workers-1), ``num_workers``, ``seed`` and its copy of ``dataset``."""

    id: int
    num_workers: int
    seed: int
    dataset: Any


def get_worker_info() -> WorkerInfo | None:
    """The :class:`WorkerInfo` of the current DataLoader worker process; None in the main process."""
    return _worker_info


class ExceptionWrapper:
    """An exception caught in a worker, carried to the main process as its type and traceback text."""

    def __init__(self, where: str):
        exc_type, _, _ = sys.exc_info()
        self.exc_type = exc_type
        self.exc_msg = "".join(traceback.format_exception(*sys.exc_info()))
        self.where = where

    def reraise(self) -> None:
        """Raise the original exception type with a message holding the worker's traceback."""
        msg = f"Caught {self.exc_type.__name__} {self.where}.\nOriginal {self.exc_msg}"
        try:
            exception = self.exc_type(msg)
        except Exception:  # an exception type whose constructor wants other arguments
            exception = RuntimeError(msg)
        try:
            raise exception
        finally:
            del exception  # no frame -> exception -> traceback -> frame cycle keeping the loader's workers


@dataclass(frozen=True)
class IterableDatasetStopIteration:
    """Sent by a worker whose copy of an IterableDataset is exhausted."""

    worker_id: int


@dataclass(frozen=True)
class ResumeIteration:
    """Sent to persistent workers at the start of an epoch; echoed back once earlier tasks are flushed."""


def seed_worker(base_seed: int, worker_id: int) -> int:
    """Seed Python's, numpy's and the framework's global streams in a worker; returns the worker's seed."""
    seed = (base_seed + worker_id) % 2**63
    random.seed(seed)
    np.random.seed(np.random.SeedSequence([base_seed, worker_id]).generate_state(4))
    _random.manual_seed(seed)
    return seed


def worker_loop(fetcher: Any, index_queue: Any, result_queue: Any, done_event: Any, base_seed: int,
                init_fn: Any, worker_id: int, num_workers: int) -> None:
    """The body of one worker process (see the module docstring for the protocol).

    ``fetcher`` is the loader's ``_Fetcher`` (dataset + collate_fn): ``start()`` begins a pass,
    ``fetcher(indices)`` returns one collated batch.
    """
    global _worker_info
    seed = seed_worker(base_seed, worker_id)
    _worker_info = WorkerInfo(id=worker_id, num_workers=num_workers, seed=seed, dataset=fetcher.dataset)
    where = f"in DataLoader worker process {worker_id}"
    init_error = None
    try:
        if init_fn is not None:
            init_fn(worker_id)
        fetcher.start()
    except Exception:
        init_error = ExceptionWrapper(where)  # reported as the result of this worker's first task
    parent = os.getppid()
    exhausted = False
    try:
        while True:
            try:
                task = index_queue.get(timeout=POLL_INTERVAL)
            except queue.Empty:
                # The exit message may never come: the main process died, or the garbage collector
                # finalized our index queue (stopping its feeder thread) before the iterator's __del__
                # could send it. The done event still reaches us.
                if done_event.is_set() or os.getppid() != parent:
                    break
                continue
            if task is None:
                break
            if isinstance(task, ResumeIteration):
                exhausted = False
                if init_error is None:
                    try:
                        fetcher.start()  # a fresh iterator over an IterableDataset
                    except Exception:
                        init_error = ExceptionWrapper(where)
                result_queue.put((task, None))
                continue
            if done_event.is_set() or exhausted:
                continue  # shutting down, or nothing left to give this epoch: skip the work
            idx, indices = task
            if init_error is not None:
                data, init_error = init_error, None
            else:
                try:
                    data = fetcher(indices)
                except StopIteration:
                    if not fetcher.is_iterable:
                        data = ExceptionWrapper(where)
                    else:
                        data, exhausted = IterableDatasetStopIteration(worker_id), True
                except Exception:
                    data = ExceptionWrapper(where)
            result_queue.put((idx, data))
            del data, task, indices
    except KeyboardInterrupt:
        pass  # the main process handles Ctrl-C and shuts us down
    if done_event.is_set():
        result_queue.cancel_join_thread()  # unread results must not keep this process from exiting
    result_queue.close()
