"""Data-parallel scaling of DistributedDataParallel: training throughput over 1, 2, 4 processes, and the
all-reduce overhead per step against the bucket size.

Two measurements, each in torchrun jobs this script starts itself (``python -m torch.distributed.run
--standalone --nproc-per-node W -m benchmarks.ddp_scaling --worker PLAN``), one job per world size ``W``:

1. **Throughput.** Training samples/s of :class:`framework.models.DigitsCNN` at its default shape and a wider
   one (``MODELS``: the wide gradient is 4.1 MiB), batch per process 32 and 128, for each world size. The
   global batch is ``W x`` the per-process batch (weak scaling); strong scaling (global batch 128 fixed)
   needs one extra run, ``W = 2`` at 64 a process (``W = 4`` at 32 is the weak run). One step is
   ``zero_grad``, forward, cross-entropy, backward (the all-reduce overlapped by DDP's hooks), Adam
   (lr 1e-3) and ``loss.item()``, on digit-shaped batches (``[B, 1, 8, 8]`` float32, random values) prepared
   beforehand (rank ``r`` holds rows ``r::W`` of each global batch). The 1-process baseline is the plain
   model without DDP (a DDP world of 1 is measured too, for its bookkeeping cost). Speedup = samples/s over
   the baseline's at the same per-process batch (weak) or the same global batch (strong); efficiency =
   speedup / W.
2. **All-reduce overhead.** The wide model, 2 processes, batch 32 a process, one DDP wrapper per
   ``bucket_cap_mb`` in ``BUCKET_CAPS_MB``: the step with DDP against the same step under ``no_sync()``
   (the same per-process work, no communication); overhead = the difference of the medians. For reference
   a bare ``dist.all_reduce`` of one flat tensor of the full gradient size, and the all-reduces of that
   cap's bucket layout (all launched, then all waited) with no backward around them. The number of buckets
   and their sizes are read from the wrapper.

Timing method: every configuration is warmed up, then timed in windows of ``steps`` consecutive steps
(``steps`` chosen from the warm-up so a window lasts ~``window_s``; the same on every rank). Each window
starts at a ``dist.barrier()`` and is timed by each rank with ``time.perf_counter`` (after a device
synchronisation on a GPU); a window's time is the slowest rank's (DDP's all-reduce makes the ranks wait
for each other anyway). The configurations of a job are interleaved window by window, so a change of
machine load hits all of them alike; the reported figure is the median over windows. Each window also records
each rank's CPU time (``time.process_time``, all threads): ``cores_used`` = the ranks' CPU seconds per second
of the window, i.e. how much of the machine the job really got. CPU runs use one BLAS
thread per process (``threadpoolctl`` and ``torch.set_num_threads(1)``; ``OMP_NUM_THREADS=1``), float32,
gloo over loopback.

GPU: when ``torch.cuda.is_available()``, the ``triton`` and ``cupy`` devices run the same measurements on
NCCL, one process per GPU (world sizes up to the GPU count), each into its own JSON. That code path has not
run on a GPU yet: no GPU number has been measured.

Run: ``python -m benchmarks.ddp_scaling`` (``--quick`` for a smoke test, ``--help`` for options). Writes
``benchmarks/results/ddp-scaling-cpu-<date>.json`` in a source checkout (``./kernelgrad-results/`` from an
installed package), atomically.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import json
import math
import os
import platform
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks._io import write_json

ROOT = Path(__file__).resolve().parent.parent
#: The two model shapes: DigitsCNN's defaults (0.2 MiB of gradient) and a wide one (4.1 MiB). hidden=1920 makes
#: each cap of BUCKET_CAPS_MB pack the wide gradient differently (5, 3, 2, 1 buckets): its largest tensor, the
#: hidden layer's 3.75 MiB weight, fits a 4 MiB bucket with the classifier but not with the conv layers too.
MODELS: dict[str, dict[str, int]] = {"default": {"width": 32, "hidden": 128}, "wide": {"width": 64, "hidden": 1920}}
BATCHES = (32, 128)  # per process (weak scaling)
STRONG_GLOBAL_BATCH = 128
WORLD_SIZES = (1, 2, 4)
BUCKET_CAPS_MB = (0.25, 1.0, 4.0, 25.0)
OVERHEAD = {"model": "wide", "world_size": 2, "batch_per_process": 32}
#: Timing settings: full run and --quick (a smoke test: its numbers mean nothing).
SETTINGS = {
    "full": {"warmup_steps": 5, "windows": 9, "window_s": 0.5, "min_steps": 3},
    "quick": {"warmup_steps": 1, "windows": 2, "window_s": 0.0, "min_steps": 1},
}
GPU_DEVICES = ("triton", "cupy")
GPU_NOT_MEASURED = ("not measured: this run had no GPU. With one, the triton and cupy devices run on NCCL "
                    "(code path only, never run on a GPU so far)")
NCCL_NOTE = "no GPU number has been measured with this script before this file"


# ============================================================================================ the worker

def _on_gpu(device: str) -> bool:
    """Whether kernelgrad's ``device`` computes on a GPU (``triton``/``cupy`` may run on the host: Triton's
    interpreter, the CUDA emulator)."""
    import framework as fw

    return fw.get_backend(device).is_gpu


def _device_sync(device: str):
    """A function that waits for the device's queued work (a no-op on the host)."""
    if not _on_gpu(device):
        return lambda: None
    import torch

    if device == "cupy":
        import cupy

        def sync() -> None:
            cupy.cuda.get_current_stream().synchronize()
            torch.cuda.synchronize()

        return sync
    return torch.cuda.synchronize


def _global_batches(global_batch: int, count: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """``count`` global batches of digit-shaped inputs ``[global_batch, 1, 8, 8]`` (float32 normal noise, a
    fixed seed) and labels 0-9 (int64). The values do not change the work of a step on these kernels, and
    leaving sklearn's digits out spares every worker process seconds of imports."""
    rng = np.random.default_rng(0)
    return [(rng.standard_normal((global_batch, 1, 8, 8), dtype=np.float32),
             rng.integers(0, 10, global_batch, dtype=np.int64)) for _ in range(count)]


class _Trainer:
    """One model replica with its optimizer and this rank's batches; ``step(i, sync)`` is one training step."""

    def __init__(self, model_name: str, batch: int, ddp: bool, cap_mb: float | None, device: str, rank: int,
                 world: int) -> None:
        import framework as fw
        from framework import nn, optim
        from framework.models import DigitsCNN
        from framework.nn.parallel import DistributedDataParallel

        fw.manual_seed(0)
        self.model = DigitsCNN(**MODELS[model_name]).to(device)
        self.model.train()
        self.net = DistributedDataParallel(self.model, bucket_cap_mb=cap_mb) if ddp else self.model
        self.optimizer = optim.Adam(self.model.parameters(), lr=1e-3)
        self.loss_fn = nn.CrossEntropyLoss()
        self.data = [(fw.tensor(x[rank::world], device=device), fw.tensor(y[rank::world], device=device))
                     for x, y in _global_batches(batch * world, 4)]
        fw.manual_seed(1)  # the dropout stream, the same on every rank

    def step(self, i: int, sync: bool = True) -> float:
        x, y = self.data[i % len(self.data)]
        self.optimizer.zero_grad()
        with contextlib.nullcontext() if sync else self.net.no_sync():
            loss = self.loss_fn(self.net(x), y)
            loss.backward()
        self.optimizer.step()
        return loss.item()

    def buckets(self) -> list[int]:
        """Bytes of each of the DDP wrapper's buckets, in launch order."""
        return [sum(p.numel() * p.element_size() for p in bucket.params) for bucket in self.net._buckets]


def _choose_steps(dist: Any, per_step_s: float, settings: dict) -> int:
    """Steps per window so a window lasts ~window_s on the slowest rank; the same number on every rank."""
    everyone: list[Any] = [None] * dist.get_world_size()
    dist.all_gather_object(everyone, per_step_s)
    slowest = max(everyone)
    return max(settings["min_steps"], math.ceil(settings["window_s"] / slowest) if slowest > 0 else 1)


def _warm(dist: Any, fn, settings: dict, sync) -> int:
    """Run ``fn(i)`` for the warm-up (timing its second half) and return the steps per window."""
    n = settings["warmup_steps"]
    fn(0)
    sync()
    start, timed = time.perf_counter(), 0
    for i in range(1, max(n, 2)):
        fn(i)
        timed += 1
    sync()
    return _choose_steps(dist, (time.perf_counter() - start) / timed, settings)


def _check_deadline(plan: dict[str, Any]) -> None:
    """End this worker once the parent's job timeout has passed (a parent that gave up must not leave it)."""
    if time.time() > plan["deadline"]:
        raise SystemExit(f"ddp_scaling worker: past the job's deadline ({plan['deadline']:.0f}); stopping")


def worker(plan_path: Path) -> None:
    """One rank of a job: run ``plan``'s configurations, gather every rank's window times, rank 0 writes them."""
    import torch
    import torch.distributed as dist
    from threadpoolctl import threadpool_info, threadpool_limits

    import framework as fw
    from framework.train.distributed import init_from_env

    plan = json.loads(plan_path.read_text())
    device, settings = plan["device"], SETTINGS["quick" if plan["quick"] else "full"]
    torch.set_num_threads(1)
    group = init_from_env(fw.get_backend(device))
    rank, world = group.rank, group.world_size
    sync = _device_sync(device)
    torch_device = f"cuda:{group.local_rank}" if _on_gpu(device) else "cpu"

    # Each task: a name, a function of the step index, and its measured windows (seconds) with their length.
    tasks: list[dict[str, Any]] = []
    with threadpool_limits(limits=1):
        for entry in plan["throughput"]:
            trainer = _Trainer(entry["model"], entry["batch_per_process"], entry["ddp"], None, device, rank, world)
            tasks.append({"entry": entry, "kind": "throughput", "fn": trainer.step})
        overhead = plan.get("overhead")
        bucket_info = []
        if overhead:
            for cap in overhead["bucket_caps_mb"]:
                trainer = _Trainer(overhead["model"], overhead["batch_per_process"], True, cap, device, rank, world)
                sizes = trainer.buckets()
                bucket_info.append({"bucket_cap_mb": cap, "bucket_bytes": sizes})
                tasks.append({"entry": {"bucket_cap_mb": cap, "mode": "ddp"}, "kind": "overhead",
                              "fn": trainer.step})
                tasks.append({"entry": {"bucket_cap_mb": cap, "mode": "no_sync"}, "kind": "overhead",
                              "fn": lambda i, t=trainer: t.step(i, sync=False)})
                flats = [torch.zeros(size // 4, dtype=torch.float32, device=torch_device) for size in sizes]

                def bucket_allreduce(i: int, flats=flats) -> None:
                    works = [dist.all_reduce(t, async_op=True) for t in flats]
                    for w in works:
                        w.wait()

                tasks.append({"entry": {"bucket_cap_mb": cap, "mode": "allreduce_buckets"}, "kind": "overhead",
                              "fn": bucket_allreduce})
            flat = torch.zeros(sum(bucket_info[0]["bucket_bytes"]) // 4, dtype=torch.float32, device=torch_device)
            tasks.append({"entry": {"mode": "allreduce_full"}, "kind": "overhead",
                          "fn": lambda i: dist.all_reduce(flat)})

        for task in tasks:
            _check_deadline(plan)
            task["steps"] = _warm(dist, task["fn"], settings, sync)
            task["windows_s"], task["cpu_s"] = [], []
        for _ in range(settings["windows"]):
            _check_deadline(plan)
            for task in tasks:  # interleaved: drift in the machine's load hits every configuration alike
                fn, steps = task["fn"], task["steps"]
                dist.barrier()
                sync()
                start, cpu = time.perf_counter(), time.process_time()
                for i in range(steps):
                    fn(i)
                sync()
                task["windows_s"].append(time.perf_counter() - start)
                task["cpu_s"].append(time.process_time() - cpu)  # this process's CPU time, all its threads
        blas = threadpool_info()

    gathered: list[Any] = [None] * world
    dist.all_gather_object(gathered, [(task["windows_s"], task["cpu_s"]) for task in tasks])
    if rank == 0:
        results = []
        for k, task in enumerate(tasks):
            results.append({**task["entry"], "kind": task["kind"], "steps_per_window": task["steps"],
                            "rank_windows_s": [gathered[r][k][0] for r in range(world)],
                            "rank_windows_cpu_s": [gathered[r][k][1] for r in range(world)]})
        out = {"world_size": world, "device": device, "backend": dist.get_backend(), "results": results,
               "buckets": bucket_info, "blas": [{k: info.get(k) for k in ("internal_api", "version",
                                                                           "num_threads")} for info in blas]}
        Path(plan["out"]).write_text(json.dumps(out))
    dist.barrier()
    dist.destroy_process_group()


# ============================================================================================ the parent

def plan_for(world: int, quick: bool, device: str, out: Path) -> dict[str, Any]:
    """The configurations a job of ``world`` processes runs."""
    throughput = []
    for model in MODELS:
        batches = sorted(set(BATCHES) | ({STRONG_GLOBAL_BATCH // world} if world > 1 else set()))
        for batch in batches:
            throughput.append({"model": model, "batch_per_process": batch, "ddp": world > 1})
            if world == 1:
                throughput.append({"model": model, "batch_per_process": batch, "ddp": True})
    plan: dict[str, Any] = {"device": device, "quick": quick, "out": str(out), "throughput": throughput}
    if world == OVERHEAD["world_size"]:
        plan["overhead"] = {**OVERHEAD, "bucket_caps_mb": list(BUCKET_CAPS_MB)}
    return plan


def run_job(world: int, plan: dict[str, Any], timeout: float) -> dict[str, Any]:
    """Start the torchrun job for ``plan``; its rank 0's results, or ``{"error": ...}``."""
    plan_path = Path(plan["out"]).with_suffix(".plan.json")
    plan_path.write_text(json.dumps({**plan, "deadline": time.time() + timeout}))
    env = {**os.environ, "OMP_NUM_THREADS": "1", "KERNELGRAD_DIST_TIMEOUT": str(int(timeout)),
           "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc-per-node={world}",
           "-m", "benchmarks.ddp_scaling", "--worker", str(plan_path)]
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        stdout, stderr = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        # SIGTERM lets torchrun stop its workers (they run in sessions of their own, out of reach of a kill of
        # torchrun alone); the workers also give up by themselves at the plan's deadline.
        proc.terminate()
        try:
            proc.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.communicate()
        return {"error": f"the {world}-process job ran past {timeout:.0f} s"}
    seconds = time.perf_counter() - start
    if proc.returncode != 0 or not Path(plan["out"]).is_file():
        return {"error": f"the {world}-process job failed (exit {proc.returncode}): "
                         f"{(stdout[-1500:] + stderr[-3000:]).strip()}"}
    return {**json.loads(Path(plan["out"]).read_text()), "job_seconds": round(seconds, 1)}


def _window_step_ms(result: dict[str, Any]) -> list[float]:
    """Per window: the slowest rank's time per step, in ms."""
    per_rank = result["rank_windows_s"]
    return [max(r[i] for r in per_rank) / result["steps_per_window"] * 1e3 for i in range(len(per_rank[0]))]


def _cores_used(result: dict[str, Any]) -> float:
    """Median over windows of the job's CPU time (all ranks, all threads) per second of the window: how many
    cores the job really had (gloo's waits count as they burn CPU)."""
    wall, cpu = result["rank_windows_s"], result["rank_windows_cpu_s"]
    return statistics.median(sum(c[i] for c in cpu) / max(w[i] for w in wall) for i in range(len(wall[0])))


def summarise(jobs: dict[int, dict[str, Any]], cores: int) -> dict[str, Any]:
    """Throughput rows, weak/strong scaling, and the overhead table from the jobs' raw window times."""
    rows = []
    for world, job in sorted(jobs.items()):
        for r in job.get("results", []):
            if r["kind"] != "throughput":
                continue
            step_ms = _window_step_ms(r)
            global_batch = r["batch_per_process"] * world
            rows.append({"model": r["model"], "world_size": world, "ddp": r["ddp"],
                         "batch_per_process": r["batch_per_process"], "global_batch": global_batch,
                         "steps_per_window": r["steps_per_window"], "window_step_ms": step_ms,
                         "median_step_ms": statistics.median(step_ms),
                         "samples_per_s": statistics.median(global_batch / (ms / 1e3) for ms in step_ms),
                         "cores_used": _cores_used(r), "rank_windows_s": r["rank_windows_s"],
                         "rank_windows_cpu_s": r["rank_windows_cpu_s"]})

    def find(model: str, world: int, batch: int, ddp: bool | None = None) -> dict[str, Any] | None:
        ddp = world > 1 if ddp is None else ddp
        return next((r for r in rows if (r["model"], r["world_size"], r["batch_per_process"], r["ddp"])
                     == (model, world, batch, ddp)), None)

    def scaled(row: dict[str, Any], base: dict[str, Any], **extra: Any) -> dict[str, Any]:
        speedup = row["samples_per_s"] / base["samples_per_s"]
        return {"model": row["model"], "world_size": row["world_size"], **extra,
                "samples_per_s": row["samples_per_s"], "speedup": speedup, "efficiency": speedup / row["world_size"],
                "oversubscribed": row["world_size"] > cores}

    weak, strong = [], []
    for model in MODELS:
        for batch in BATCHES:
            base = find(model, 1, batch)
            for world in sorted(jobs):
                row = find(model, world, batch, ddp=None if world > 1 else True)
                if base and row:
                    weak.append(scaled(row, base, batch_per_process=batch, global_batch=batch * row["world_size"],
                                       ddp=row["ddp"]))
        base = find(model, 1, STRONG_GLOBAL_BATCH)
        for world in sorted(jobs):
            if world > 1 and STRONG_GLOBAL_BATCH % world == 0 and base and \
                    (row := find(model, world, STRONG_GLOBAL_BATCH // world)):
                strong.append(scaled(row, base, batch_per_process=STRONG_GLOBAL_BATCH // world,
                                     global_batch=STRONG_GLOBAL_BATCH))

    overhead: dict[str, Any] | None = None
    job = jobs.get(OVERHEAD["world_size"], {})
    if job.get("buckets"):
        ms, cores_used = {}, {}
        for r in job["results"]:
            if r["kind"] == "overhead":
                ms[(r.get("bucket_cap_mb"), r["mode"])] = _window_step_ms(r)
                cores_used[(r.get("bucket_cap_mb"), r["mode"])] = _cores_used(r)
        caps = []
        for info in job["buckets"]:
            cap = info["bucket_cap_mb"]
            ddp, local = (statistics.median(ms[(cap, m)]) for m in ("ddp", "no_sync"))
            caps.append({"bucket_cap_mb": cap, "buckets": len(info["bucket_bytes"]),
                         "bucket_bytes": info["bucket_bytes"], "ddp_step_ms": ddp, "no_sync_step_ms": local,
                         "overhead_ms": ddp - local, "overhead_fraction": (ddp - local) / ddp,
                         "allreduce_buckets_ms": statistics.median(ms[(cap, "allreduce_buckets")]),
                         "window_ms": {m: ms[(cap, m)] for m in ("ddp", "no_sync", "allreduce_buckets")},
                         "cores_used": {m: cores_used[(cap, m)] for m in ("ddp", "no_sync", "allreduce_buckets")}})
        gradient_bytes = sum(job["buckets"][0]["bucket_bytes"])
        # The same per-process work in one process alone: how much slower the no_sync() step ran beside its
        # peers tells whether the processes really had a core each (1.0: yes; 2.0: they shared one).
        alone = find(OVERHEAD["model"], 1, OVERHEAD["batch_per_process"], ddp=False)
        local_ms = statistics.median(c["no_sync_step_ms"] for c in caps)
        overhead = {**OVERHEAD, "gradient_bytes": gradient_bytes,
                    "one_process_step_ms": alone["median_step_ms"] if alone else None,
                    "no_sync_over_one_process": local_ms / alone["median_step_ms"] if alone else None,
                    "bare_allreduce_full_ms": statistics.median(ms[(None, "allreduce_full")]),
                    "bare_allreduce_window_ms": ms[(None, "allreduce_full")], "caps": caps}
    return {"throughput": rows, "weak_scaling": weak, "strong_scaling": strong, "allreduce_overhead": overhead}


def model_facts() -> dict[str, Any]:
    from framework.models import DigitsCNN

    facts = {}
    for name, shape in MODELS.items():
        params = sum(p.numel() for p in DigitsCNN(**shape).parameters())
        facts[name] = {"constructor": f"DigitsCNN(width={shape['width']}, hidden={shape['hidden']}, dropout=0.25)",
                       "parameters": params, "gradient_bytes": params * 4}
    return facts


def environment(device: str) -> dict[str, Any]:
    from importlib.metadata import version

    import torch

    from benchmarks.cpu_train_step import cpu_model

    env: dict[str, Any] = {
        "host": socket.gethostname() or "unknown", "cpu": cpu_model(), "cpu_count": os.cpu_count(),
        "cpus_usable": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count(),
        "versions": {"python": platform.python_version(), "numpy": np.__version__, "torch": torch.__version__,
                     "threadpoolctl": version("threadpoolctl")},
    }
    if _on_gpu(device):
        env["gpu"] = torch.cuda.get_device_name(0)
        env["gpu_count"] = torch.cuda.device_count()
        env["versions"]["cuda"] = torch.version.cuda
        with contextlib.suppress(Exception):
            nccl = torch.cuda.nccl.version()
            env["versions"]["nccl"] = ".".join(map(str, nccl)) if isinstance(nccl, tuple) else str(nccl)
        with contextlib.suppress(ImportError):
            import triton

            env["versions"]["triton"] = triton.__version__
        with contextlib.suppress(ImportError):
            import cupy

            env["versions"]["cupy"] = cupy.__version__
    return env


def _gpu_measurement(device: str, gpu: bool, env: dict[str, Any]) -> str:
    """What this file says about GPUs."""
    import torch

    if gpu:
        return f"{device} on {env['gpu']} (NCCL): {NCCL_NOTE}"
    if torch.cuda.is_available():
        return "not in this file: the GPU devices (triton, cupy on NCCL) write ddp-scaling-<device>-<gpu>-<date>.json"
    return GPU_NOT_MEASURED


def _loadavg() -> list[float] | None:
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:
        return None


def run_device(device: str, worlds: list[int], quick: bool, timeout: float, note: str | None) -> dict[str, Any]:
    """All jobs for one device; the result dict (not written)."""
    env = environment(device)
    gpu = _on_gpu(device)
    cores = env["gpu_count"] if gpu else env["cpus_usable"]
    if gpu:
        worlds = [w for w in worlds if w <= cores]
    load_before, started = _loadavg(), time.perf_counter()
    jobs: dict[int, dict[str, Any]] = {}
    with tempfile.TemporaryDirectory(prefix="ddp-scaling-") as tmp:
        for world in worlds:
            print(f"[{device}] {world} process(es) ...", flush=True)
            jobs[world] = run_job(world, plan_for(world, quick, device, Path(tmp) / f"w{world}.json"), timeout)
            if "error" in jobs[world]:
                print(f"[{device}] {world} process(es): {jobs[world]['error']}", file=sys.stderr, flush=True)
    summary = summarise(jobs, cores)
    settings = SETTINGS["quick" if quick else "full"]
    notes = [] if not quick else ["--quick: a smoke test of the harness; its numbers mean nothing"]
    if device != "cpu" and not gpu:
        notes.append(f"the {device} device ran on the host (Triton's interpreter / the CUDA emulator, gloo): a check "
                     "of the code path, not a measurement")
    if not gpu and max(worlds, default=1) > cores:
        notes.append(f"{max(worlds)} processes on {cores} usable cores oversubscribe the CPU: processes share "
                     f"cores, so a speedup above {cores} is impossible and efficiency falls by construction")
    if note:
        notes.append(note)
    result = {
        "benchmark": "ddp_scaling",
        "date": datetime.datetime.now().isoformat(timespec="seconds"),
        **env,
        "device": device,
        "on_gpu": gpu,
        "process_group_backend": "nccl" if gpu else "gloo",
        "threads_per_process": None if gpu else 1,
        "quick": quick,
        "models": model_facts(),
        "input_shape_per_sample": [1, 8, 8],
        "dtype": "float32",
        "optimizer": "Adam(lr=1e-3)",
        "loss": "CrossEntropyLoss",
        "world_sizes": worlds,
        "batches_per_process": list(BATCHES),
        "strong_scaling_global_batch": STRONG_GLOBAL_BATCH,
        "bucket_caps_mb": list(BUCKET_CAPS_MB),
        "timing": {
            **settings,
            "method": ("per configuration: warm-up steps, then windows of steps_per_window consecutive steps "
                       "(chosen from the warm-up so a window lasts ~window_s, the same on every rank); each window "
                       "starts at dist.barrier() and is timed per rank with time.perf_counter"
                       + (" after a device synchronize" if gpu else "") + "; a window's time is the slowest "
                       "rank's; the configurations of a job are interleaved window by window; figures are "
                       "medians over windows. Speedup = samples/s over the 1-process plain model's (no DDP) at "
                       "the same per-process batch (weak) or global batch (strong); efficiency = speedup / "
                       "world size. Overhead = median DDP step - median no_sync() step of the same wrapper. "
                       "cores_used = median over windows of the ranks' CPU time (time.process_time, all threads; "
                       "gloo's busy waits included) / the window's wall time."),
            "one_step": "zero_grad, forward, cross-entropy, backward, Adam step, loss.item()",
        },
        "load_average_before": load_before,
        "load_average_after": _loadavg(),
        "wall_seconds": round(time.perf_counter() - started, 1),
        **summary,
        "jobs": {str(w): {k: v for k, v in job.items() if k not in ("results",)} for w, job in jobs.items()},
        "gpu_measurement": _gpu_measurement(device, gpu, env),
        "notes": notes,
    }
    return result


# ================================================================================================ output

def table(result: dict[str, Any]) -> str:
    cores = result.get("gpu_count") if result["on_gpu"] else result["cpus_usable"]
    lines = [f"ddp_scaling: device {result['device']} ({result['process_group_backend']}), {result['cpu']}, "
             f"{result['cpu_count']} CPUs ({result['cpus_usable']} usable)"
             + (f", {result.get('gpu')}" if result["on_gpu"] else ", 1 BLAS thread per process"),
             f"load average before/after: {result['load_average_before']} / {result['load_average_after']}"]
    lines += ["", "Throughput (samples/s; speedup against 1 process = plain model, no DDP; cores = CPU seconds the "
                  "job's processes got per second)",
              f"{'model':<8}{'batch/proc':>11}{'procs':>6}{'global':>7}{'ddp':>5}{'step ms':>10}{'samples/s':>11}"
              f"{'cores':>7}{'speedup':>9}{'effic.':>8}"]
    weak = {(w["model"], w["batch_per_process"], w["world_size"], w["ddp"]): w for w in result["weak_scaling"]}
    for r in result["throughput"]:
        w = weak.get((r["model"], r["batch_per_process"], r["world_size"], r["ddp"]))
        over = "  (oversubscribed)" if r["world_size"] > cores else ""
        lines.append(f"{r['model']:<8}{r['batch_per_process']:>11}{r['world_size']:>6}{r['global_batch']:>7}"
                     f"{'yes' if r['ddp'] else 'no':>5}{r['median_step_ms']:>10.2f}{r['samples_per_s']:>11.0f}"
                     f"{r['cores_used']:>7.2f}" + (f"{w['speedup']:>8.2f}x{w['efficiency']:>8.0%}" if w else "")
                     + over)
    if result["strong_scaling"]:
        lines += ["", f"Strong scaling (global batch {result['strong_scaling_global_batch']})",
                  f"{'model':<8}{'procs':>6}{'batch/proc':>11}{'samples/s':>11}{'speedup':>9}{'effic.':>8}"]
        for s in result["strong_scaling"]:
            lines.append(f"{s['model']:<8}{s['world_size']:>6}{s['batch_per_process']:>11}{s['samples_per_s']:>11.0f}"
                         f"{s['speedup']:>8.2f}x{s['efficiency']:>8.0%}")
    o = result["allreduce_overhead"]
    if o:
        lines += ["", f"All-reduce overhead: {o['model']} model ({o['gradient_bytes'] / 2**20:.2f} MiB of gradient), "
                      f"{o['world_size']} processes, batch {o['batch_per_process']} per process",
                  f"{'cap MB':>7}{'buckets':>8}{'DDP ms':>9}{'no_sync ms':>11}{'overhead ms':>12}{'share':>7}"
                  f"{'bucket AR ms':>13}{'cores ddp/no_sync':>19}"]
        for c in o["caps"]:
            lines.append(f"{c['bucket_cap_mb']:>7g}{c['buckets']:>8}{c['ddp_step_ms']:>9.2f}{c['no_sync_step_ms']:>11.2f}"
                         f"{c['overhead_ms']:>12.2f}{c['overhead_fraction']:>7.0%}{c['allreduce_buckets_ms']:>13.2f}"
                         f"{c['cores_used']['ddp']:>12.2f} / {c['cores_used']['no_sync']:.2f}")
        lines.append(f"bare dist.all_reduce of the full gradient (one tensor): {o['bare_allreduce_full_ms']:.2f} ms")
        if o.get("no_sync_over_one_process"):
            lines.append(f"no_sync step beside {o['world_size'] - 1} peer(s) / the same step in 1 process alone "
                         f"({o['one_process_step_ms']:.2f} ms): {o['no_sync_over_one_process']:.2f}x "
                         "(1.0: every process had a core of its own)")
    for world, job in result["jobs"].items():
        if "error" in job:
            lines.append(f"ERROR ({world} processes): {job['error'][:500]}")
    lines += ["", f"GPU: {result['gpu_measurement']}"] + [f"note: {n}" for n in result["notes"]]
    return "\n".join(lines)


def _devices(spec: str) -> list[str]:
    import torch

    if spec != "auto":
        return [d.strip() for d in spec.split(",") if d.strip()]
    devices = ["cpu"]
    if torch.cuda.is_available():
        import framework as fw

        devices += [d for d in GPU_DEVICES if d in fw.available_devices()]
    return devices


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark (or, with ``--worker``, one rank of a job); print the tables, write the JSON."""
    from benchmarks.kernels import results_dir, slug

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="a few steps per configuration (smoke test)")
    parser.add_argument("--nprocs", default=",".join(map(str, WORLD_SIZES)),
                        help="comma-separated world sizes (default 1,2,4; 1 is the baseline)")
    parser.add_argument("--devices", default="auto",
                        help="comma-separated: cpu, triton, cupy (default auto: cpu, and the GPU devices when a GPU "
                             "is present)")
    parser.add_argument("--out", type=Path, default=None,
                        help="folder for the JSON (default benchmarks/results/ in a source checkout)")
    parser.add_argument("--job-timeout", type=float, default=None,
                        help="seconds per torchrun job (default 900; --quick 300)")
    parser.add_argument("--note", default=None, help="a note recorded in the JSON (e.g. what else ran)")
    parser.add_argument("--worker", type=Path, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker is not None:
        worker(args.worker)
        return 0

    worlds = sorted({int(w) for w in args.nprocs.split(",") if w.strip()})
    if not worlds or worlds[0] < 1:
        parser.error(f"--nprocs must list positive world sizes, got {args.nprocs!r}")
    timeout = args.job_timeout or (300.0 if args.quick else 900.0)
    out_dir = args.out or results_dir()
    date = datetime.date.today().isoformat()
    status = 0
    for device in _devices(args.devices):
        result = run_device(device, worlds, args.quick, timeout, args.note)
        name = f"{device}-{slug(result['gpu'])}" if result["on_gpu"] else device if device == "cpu" else \
            f"{device}-on-host"
        path = out_dir / f"ddp-scaling-{name}-{date}.json"
        write_json(path, result)
        print(table(result))
        print(f"wrote {path}")
        if any("error" in job for job in result["jobs"].values()):
            status = 1
    return status


if __name__ == "__main__":
    sys.exit(main())
