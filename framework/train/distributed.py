"""Data-parallel training with :func:`~.loop.fit`: joining torchrun's process group and sharding global batches.

A command started by ``torchrun`` (or ``kernelgrad train cnn --nproc-per-node N``, which calls torch's own
launcher) runs once per process. :func:`init_from_env` joins the group torchrun describes in the
environment (gloo for host memory, NCCL for GPUs; a timeout so a dead peer ends the job instead of hanging
it). Every process builds the same *global* batches (same seed, same loader) and :class:`ShardedBatches`
keeps rows ``rank, rank + W, ...`` of each -- the layout :class:`~framework.utils.data.DistributedSampler`
gives, so the augmentation drawn for the global batch and the dropout masks drawn inside
``DistributedDataParallel`` are the single process's. :func:`sharded_loss_step` weights each process's mean
loss by its share of the global batch, so the averaged gradient is the global batch's mean gradient even
when the last batch does not split evenly. The result: N processes train like one process with the same
global batch, to the rounding of the all-reduce.
"""

from __future__ import annotations

import datetime
import os
from collections.abc import Callable, Iterator, Sequence
from typing import Any, NamedTuple

from .. import random as _random
from .loop import Step

__all__ = ["ProcessGroup", "ShardedBatches", "data_parallel", "init_from_env", "launched_by_torchrun",
           "sharded_loss_step"]

#: Seconds a collective may wait for a peer before the job fails (KERNELGRAD_DIST_TIMEOUT overrides).
DEFAULT_TIMEOUT_S = 300


class ProcessGroup(NamedTuple):
    """This process's place in the job: ``rank`` of ``world_size``, ``local_rank`` on its machine."""

    rank: int
    world_size: int
    local_rank: int

    @property
    def is_main(self) -> bool:
        """Rank 0: the process that prints, writes the run folder and saves checkpoints."""
        return self.rank == 0


def launched_by_torchrun() -> bool:
    """Whether this process is a worker that torchrun (torch.distributed.run) started."""
    return all(name in os.environ for name in ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR"))


def init_from_env(backend: Any) -> ProcessGroup:
    """Join the process group torchrun's environment describes, for a device whose Backend is ``backend``.

    gloo when the device's arrays live in host memory, NCCL on a GPU (each process on GPU ``LOCAL_RANK``).
    Collectives time out after KERNELGRAD_DIST_TIMEOUT seconds (default 300).

    Raises: RuntimeError outside a torchrun worker.
    """
    import torch
    import torch.distributed as dist

    if not launched_by_torchrun():
        raise RuntimeError("init_from_env: not started by torchrun (RANK/WORLD_SIZE/LOCAL_RANK/MASTER_ADDR unset)")
    local_rank = int(os.environ["LOCAL_RANK"])
    if backend.is_gpu:
        torch.cuda.set_device(local_rank)
        if backend.name == "cupy":
            import cupy

            cupy.cuda.Device(local_rank).use()
    timeout = datetime.timedelta(seconds=float(os.environ.get("KERNELGRAD_DIST_TIMEOUT", DEFAULT_TIMEOUT_S)))
    if not dist.is_initialized():
        dist.init_process_group("nccl" if backend.is_gpu else "gloo", timeout=timeout)
    return ProcessGroup(dist.get_rank(), dist.get_world_size(), local_rank)


class ShardedBatches:
    """Rank ``rank``'s rows (``rank::world_size``) of each batch of ``loader``, moved to ``device``.

    ``loader`` yields the global batches (tuples of Tensors, on the host); ``global_rows`` is the latest
    global batch's size (what :func:`sharded_loss_step` weights by). A rank whose share of a small last batch
    is empty still takes part (an empty batch), so every rank runs the same collectives.
    """

    def __init__(self, loader: Any, rank: int, world_size: int, device: Any) -> None:
        self.loader, self.rank, self.world_size, self.device = loader, rank, world_size, device
        self.global_rows = 0

    def __len__(self) -> int:
        return len(self.loader)

    def __iter__(self) -> Iterator[tuple]:
        for batch in self.loader:
            self.global_rows = batch[0].shape[0]
            yield tuple(t[self.rank::self.world_size].to(self.device) for t in batch)


def sharded_loss_step(model: Any, loss_fn: Callable, optimizer: Any, batches: ShardedBatches) -> Step:
    """:func:`~.loop.loss_step` for a DistributedDataParallel ``model`` fed by ``batches``.

    The loss that is differentiated is ``loss_fn`` (a mean over this rank's rows) times
    ``rows * world_size / global_rows``: after DistributedDataParallel averages over the ranks, the gradient
    is the mean over the global batch even when ranks hold different numbers of rows. The forward runs
    in :func:`framework.random.sample_shard` with the global batch's size, so dropout draws by global sample.
    The values returned (``loss``, ``output``, ``target``) are this rank's, unweighted.
    """

    def step(batch: Sequence[Any]) -> dict[str, Any]:
        inputs, targets = batch
        rows = inputs.shape[0]
        optimizer.zero_grad()
        with _random.sample_shard(batches.rank, batches.world_size, batches.global_rows):
            output = model(inputs)
        loss = loss_fn(output, targets)
        weight = rows * batches.world_size / batches.global_rows
        (loss * weight if rows else output.sum() * 0.0).backward()  # an empty share still joins the all-reduce
        optimizer.step()
        return {"loss": loss.item() if rows else 0.0, "output": output, "target": targets}

    return step


def data_parallel(model: Any, loss_fn: Callable, optimizer: Any, loader: Any, procs: ProcessGroup | None,
                  device: Any) -> tuple[Any, Any, Step | None]:
    """What :func:`~.loop.fit` trains for a classifier, given this process's place ``procs`` in a job (None:
    one process): ``(model, loader, None)``, or ``(DistributedDataParallel(model), ShardedBatches(loader),
    sharded_loss_step(...))``. ``loader`` yields global batches on the host when ``procs`` is given."""
    if procs is None:
        return model, loader, None
    from ..nn.parallel import DistributedDataParallel

    wrapped = DistributedDataParallel(model)
    batches = ShardedBatches(loader, procs.rank, procs.world_size, device)
    return wrapped, batches, sharded_loss_step(wrapped, loss_fn, optimizer, batches)
