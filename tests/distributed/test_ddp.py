"""DistributedDataParallel on gloo, world sizes 2 and 3, against one process with the global batch.

Each test starts a torchrun job of tests/distributed/worker.py (CPU, gloo) and compares what the ranks saved
with a single-process run computed here: same initial parameters (DDP broadcasts rank 0's), same global
batches (DistributedSampler), same dropout masks (drawn by global sample), the mean gradient of the global
batch. Ranks must agree bit for bit; the single process to the rounding of the all-reduce's sums.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from framework.nn.parallel.distributed import StreamBridge
from tests.distributed import common
from tests.helpers import rel_err

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
#: Wall-clock limit of one job (startup of N Python processes included).
JOB_TIMEOUT_S = 300

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="gloo jobs through torchrun: Linux/macOS")


def torchrun(nproc: int, *args: str, timeout: float = JOB_TIMEOUT_S) -> subprocess.CompletedProcess:
    """``python -m torch.distributed.run --standalone --nproc-per-node nproc ARGS`` from the repository root."""
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone",
                           f"--nproc-per-node={nproc}", *args], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=timeout)


def run_worker(nproc: int, scenario: str, out: Path, **opts) -> list[dict]:
    result = torchrun(nproc, str(HERE / "worker.py"), scenario, str(out), *(f"{k}={v}" for k, v in opts.items()))
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-6000:]
    saved = [np.load(out / f"{scenario}-rank{r}.npz") for r in range(nproc)]
    return [{key: data[key] for key in data.files} for data in saved]


def assert_ranks_equal_and_close(ranks: list[dict], reference: list[np.ndarray], tol: float) -> None:
    for r, params in enumerate(ranks[1:], start=1):
        for key in params:
            np.testing.assert_array_equal(params[key], ranks[0][key], err_msg=f"rank {r} differs from rank 0")
    assert len(reference) == len(ranks[0]) == 6  # the conv net's three weights and biases
    got = [ranks[0][f"arr_{i}"] for i in range(len(reference))]
    for i, (g, ref) in enumerate(zip(got, reference)):
        assert rel_err(g, ref) <= tol, f"parameter {i}: rel err {rel_err(g, ref):.2e} against one process"


@pytest.mark.parametrize("world, samples, batch", [(2, 22, 4), (3, 24, 3)])
def test_ddp_trains_like_one_process_with_the_global_batch(tmp_path, world, samples, batch):
    # (2, 22, 4): 11 samples a rank, batches 4, 4, 3 (an uneven last batch); (3, 24, 3): 3, 3, 2.
    opts = dict(common.DEFAULTS, samples=samples, batch=batch)
    ranks = run_worker(world, "train", tmp_path, samples=samples, batch=batch)
    model = common.build_model(opts, seed=100)  # rank 0's initialisation, which DDP broadcasts
    reference = common.train(model, model.parameters(), opts, rank=0, world=1, batch=batch * world)
    assert_ranks_equal_and_close(ranks, reference, tol=1e-5)
    # the test can fail: one process with the local batch trains differently
    model = common.build_model(opts, seed=100)
    local = common.train(model, model.parameters(), opts, rank=0, world=1, batch=batch)
    assert max(rel_err(a, b) for a, b in zip(local, reference)) > 1e-3


@pytest.mark.parametrize("device", ["triton", "cupy"])
def test_ddp_trains_like_one_process_on_the_gpu_backends(tmp_path, device):
    """The triton device's storage is torch's (the interpreter here), cupy's is reduced through its own arrays
    (the emulator's host arrays here; DLPack views and the stream bridge on a GPU)."""
    from framework import backend

    if device not in backend.available_devices():
        pytest.skip(f"{device}: {backend.unavailable_devices().get(device, 'unavailable')}")
    opts = dict(common.DEFAULTS, device=device, samples=16, batch=4, epochs=1)
    ranks = run_worker(2, "train", tmp_path, device=device, samples=16, batch=4, epochs=1)
    model = common.build_model(opts, seed=100)
    reference = common.train(model, model.parameters(), opts, rank=0, world=1, batch=8)
    assert_ranks_equal_and_close(ranks, reference, tol=1e-5)


@pytest.mark.gpu
@pytest.mark.parametrize("device", ["triton", "cupy"])
def test_ddp_over_nccl_on_gpus(tmp_path, device):
    """NCCL on GPU memory (one process per GPU, at most 2): torch tensors for triton, DLPack views of CuPy
    arrays and the stream bridge for cupy. Never run yet: this project has had no GPU."""
    import torch

    from framework import backend

    if device not in backend.available_devices():
        pytest.skip(f"{device}: {backend.unavailable_devices().get(device, 'unavailable')}")
    world = min(2, torch.cuda.device_count())
    opts = dict(common.DEFAULTS, device=device, samples=16, batch=8 // world, epochs=1)
    ranks = run_worker(world, "train", tmp_path, device=device, samples=16, batch=8 // world, epochs=1,
                       backend="nccl")
    model = common.build_model(opts, seed=100)
    reference = common.train(model, model.parameters(), opts, rank=0, world=1, batch=8)
    assert_ranks_equal_and_close(ranks, reference, tol=1e-5)


def test_ddp_no_sync_accumulates_like_one_process(tmp_path):
    opts = dict(common.DEFAULTS, samples=24, batch=3)
    ranks = run_worker(2, "no_sync", tmp_path, samples=24, batch=3)
    model = common.build_model(opts, seed=7)
    reference = common.accumulate(model, model.parameters(), opts, rank=0, world=1, batch=6)
    assert_ranks_equal_and_close(ranks, reference, tol=1e-5)


def test_ddp_unused_parameters(tmp_path):
    for rank in run_worker(2, "unused", tmp_path):
        message = str(rank["findFalse"][0])
        assert "got no gradient" in message and "'spare.weight'" in message and "find_unused_parameters" in message
        spare_grad_none, used_grad_set = rank["findTrue"]
        assert spare_grad_none and used_grad_set


def test_a_failing_rank_ends_the_job_with_its_error(tmp_path):
    start = time.perf_counter()
    result = torchrun(2, str(HERE / "worker.py"), "fail", str(tmp_path), timeout=JOB_TIMEOUT_S)
    assert result.returncode != 0
    assert "rank 1 fails on purpose" in result.stderr
    assert time.perf_counter() - start < common.TIMEOUT.total_seconds() + 60  # torchrun stopped rank 0


def test_stream_bridge_orders_cupy_and_torch_around_the_collective():
    """The cupy device on a GPU: the collective (torch's stream) waits for CuPy's stream, CuPy's for its result."""
    log = []

    class Stream:
        def __init__(self, name):
            self.name, self.ptr, self.cuda_stream = name, f"{name}-ptr", f"{name}-ptr"

        def wait_stream(self, other):
            log.append(("wait_stream", self.name, other.name))

        def wait_event(self, event):
            log.append(("wait_event", self.name, event.recorded_on))

    class Event:
        def __init__(self, disable_timing=False):
            self.recorded_on = None

        def record(self, stream):
            self.recorded_on = stream.name

    class Namespace:
        def __init__(self, **kw):
            self.__dict__.update(kw)

    cupy_stream, torch_stream = Stream("cupy"), Stream("torch")
    cupy = Namespace(cuda=Namespace(get_current_stream=lambda: cupy_stream, Event=Event,
                                    ExternalStream=lambda ptr: Stream(ptr.removesuffix("-ptr"))))
    torch = Namespace(cuda=Namespace(current_stream=lambda: torch_stream,
                                     ExternalStream=lambda ptr: Stream(ptr.removesuffix("-ptr"))))
    bridge = StreamBridge(cupy, torch)
    bridge.before_collective()
    assert log == [("wait_stream", "torch", "cupy")]
    bridge.after_collective()
    assert log[1] == ("wait_event", "cupy", "torch")
