"""One data-parallel process for tests/distributed (run by torchrun): ``worker.py SCENARIO OUT_DIR [key=value ...]``.

Scenarios (each writes ``OUT_DIR/<scenario>-rank<r>.npz``; the test compares with a single process):
  train     k steps of DistributedSampler + DataLoader + DistributedDataParallel (a conv net with dropout)
  no_sync   gradient accumulation: micro-batches under no_sync(), the last one synced, then a step
  unused    a parameter that takes no part: RuntimeError without find_unused_parameters, None grad with it
  fail      rank 1 raises after one step while the others go on (the job must end, not hang)
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import numpy as np
import torch.distributed as dist

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent.parent))  # the repository (tests import it from there too)

import framework as fw  # noqa: E402
from framework import nn  # noqa: E402
from framework.nn.parallel import DistributedDataParallel  # noqa: E402
from tests.distributed import common  # noqa: E402


def train(out: Path, rank: int, world: int, opts: dict) -> None:
    ddp = DistributedDataParallel(common.build_model(opts, seed=100 + rank), bucket_cap_mb=opts["bucket_cap_mb"])
    params = common.train(ddp, ddp.module.parameters(), opts, rank, world)
    np.savez(out / f"train-rank{rank}.npz", *params)


def no_sync(out: Path, rank: int, world: int, opts: dict) -> None:
    ddp = DistributedDataParallel(common.build_model(opts, seed=7), bucket_cap_mb=opts["bucket_cap_mb"])
    params = common.accumulate(ddp, ddp.module.parameters(), opts, rank, world, no_sync=ddp.no_sync)
    np.savez(out / f"no_sync-rank{rank}.npz", *params)


class WithSpare(nn.Module):
    """The conv net beside a layer that takes no part in the forward."""

    def __init__(self, net: nn.Module) -> None:
        super().__init__()
        self.net, self.spare = net, nn.Linear(3, 2)

    def forward(self, x):
        return self.net(x)


def unused(out: Path, rank: int, world: int, opts: dict) -> None:
    results = {}
    for find in (False, True):
        model = WithSpare(common.build_model(opts, seed=3)).to(opts["device"])
        ddp = DistributedDataParallel(model, find_unused_parameters=find)
        x = fw.tensor(np.ones((2, 1, 8, 8), np.float32), device=opts["device"])
        try:
            ddp(x).sum().backward()
            results[f"find{find}"] = np.array([model.spare.weight.grad is None, model.net[0].weight.grad is not None])
        except RuntimeError as exc:
            results[f"find{find}"] = np.array([str(exc)])
    np.savez(out / f"unused-rank{rank}.npz", **results)


def fail(out: Path, rank: int, world: int, opts: dict) -> None:
    ddp = DistributedDataParallel(common.build_model(opts, seed=0))
    x = fw.tensor(np.ones((2, 1, 8, 8), np.float32), device=opts["device"])
    for step in range(1000):
        if rank == 1 and step == 1:
            raise ValueError("rank 1 fails on purpose")
        ddp(x).sum().backward()  # the other ranks wait in this all-reduce for rank 1


def main() -> None:
    scenario, out = sys.argv[1], Path(sys.argv[2])
    opts = common.options(sys.argv[3:])
    if opts["backend"] == "nccl":  # one GPU per process
        import torch

        torch.cuda.set_device(int(os.environ["LOCAL_RANK"]))
    dist.init_process_group(opts["backend"], timeout=common.TIMEOUT)
    rank, world = dist.get_rank(), dist.get_world_size()
    {"train": train, "no_sync": no_sync, "unused": unused, "fail": fail}[scenario](out, rank, world, opts)
    dist.barrier()
    dist.destroy_process_group()


if __name__ == "__main__":
    main()
