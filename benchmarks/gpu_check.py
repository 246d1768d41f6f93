"""``kernelgrad gpu-check``: the one call to make on a GPU machine -- verify every kernel, then measure it.

Six stages run in this order, each as subprocesses with their own timeout:

1. ``facts`` (:mod:`benchmarks.device_facts`): GPU name, SMs, L2, clocks, driver, CUDA / torch / triton /
   cupy / Python versions, and the measured ceilings (copy bandwidth; bf16, fp16, fp32 FMA, TF32 and fp64
   matmul rates).
2. ``correctness`` (:mod:`benchmarks.correctness`): every family x backend (triton, cupy) x dtype (float32,
   float16, bfloat16, float64) against PyTorch float64, outputs poisoned first, every element checked. One
   worker process per (backend, dtype), run in parallel: on a fresh machine the time goes to Triton's and
   NVRTC's compilers, which are single-threaded, and the kernels compiled here fill the JIT caches the
   next stages use.
3. ``bench``: ``kernelgrad bench --quick`` (its JSON is copied in as ``bench.json``).
4. ``train-triton`` and 5. ``train-cupy``: ``kernelgrad train cnn`` for :data:`TRAIN_EPOCHS` epochs; the test
   accuracy is recorded and must reach :data:`MIN_ACCURACY` (the ``cpu`` device reaches 94-98% with the
   same settings for seeds 0-3; a broken kernel gives far less).
6. ``train-ddp``: the data-parallel path, ``python -m torch.distributed.run --standalone --nproc-per-node P -m
   framework.cli train cnn --device cuda`` for :data:`DDP_EPOCHS` epochs, P = min(2, the GPUs torch sees),
   so NCCL (:func:`framework.train.distributed.init_from_env` picks it for a GPU device) and
   DistributedDataParallel's hook-driven all-reduce run on the GPU. metrics.json must say P processes and the
   test accuracy must reach :data:`MIN_DDP_ACCURACY`; the NCCL version line (``NCCL_DEBUG=VERSION``, set
   unless the caller set NCCL_DEBUG) is read from the log. ``cuda`` is the triton device; the cupy device's
   DDP (DLPack views, the stream bridge) is left to ``tests/distributed``' gpu-marked test. With one GPU, P
   is 1: NCCL's init, broadcast and all-reduce run, but no averaging across ranks does (that needs a machine
   with two GPUs, here and in that test). The dry run: two processes on the ``cpu`` device over gloo, 64
   samples, one epoch.

Budget. ``--budget-s`` (default :data:`DEFAULT_BUDGET_S`) bounds the whole call. When a stage starts it
gets the time left times its weight over the weights of the stages still to run (:data:`STAGES`), so time a
stage does not use goes to the later ones. A stage that fails or times out is recorded (its processes
are killed with their process groups) and the next one runs. ``--only`` reruns some stages; their results
replace those stages in the report already in the output folder.

Output (``--out``, default ``benchmarks/results/gpu-check-<gpu>-<date>/``; a dry run defaults to
``runs/``): ``gpu-check.json`` (everything) and ``gpu-check.md`` (the tables), both rewritten atomically as
each stage ends; ``gpu-check.log`` (every process's output, appended as each stage ends); ``bench.json``.
Four files, so the folder comes back whole from machines that return only a few. The Triton and CuPy JIT
caches start empty (a temporary folder), so first-call times include compilation.

``--dry-run`` runs the same orchestration on the CPU: tiny shapes, Triton's interpreter
(``TRITON_INTERPRET=1``), the CUDA emulator (``KERNELGRAD_CUDA_EMULATE=1``), the bench's CPU smoke suite, a
few training steps; the files say DRY RUN and hold no measurement of anything.

Exit status: 0 when every stage passed (every check passed or is unsupported, the three trainings reached
their accuracy); 1 otherwise.
"""

from __future__ import annotations

import datetime
import json
import os
import re
import secrets
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from benchmarks._io import write_json, write_text
from benchmarks.correctness import planned_checks
from benchmarks.kernels import nvidia_smi, results_dir, slug

#: Stage names and their weights: each stage's share of the budget still left when it starts.
STAGES = {"facts": 0.05, "correctness": 0.39, "bench": 0.27, "train-triton": 0.13, "train-cupy": 0.10,
          "train-ddp": 0.06}
#: The default budget: with Python's start and the wheel install the call stays under 7 minutes.
DEFAULT_BUDGET_S = 390.0
#: No stage gets less than this, even when the budget is spent (it then runs over, by at most this much).
MIN_STAGE_S = 10.0
BACKENDS = ("triton", "cupy")
#: The dry run checks the orchestration, one dtype per backend (the kernels' float16 paths have their own tests;
#: a second dry dtype cost CI two more emulator processes, ~2 CPU-minutes).
DTYPES = {"gpu": ("float32", "float16", "bfloat16", "float64"), "dry": ("float32",)}
TRAIN_EPOCHS = 10
MIN_ACCURACY = 0.90
#: train-ddp: epochs, most processes, and the test accuracy it must reach. The same command on the ``cpu``
#: device (seed 0, 3 epochs) gives 86.7% in one process and in two; seeds 0-3 in one process give 81.9-89.7%.
#: 75% sits below that spread and far above chance (10%), which a run whose gradients never arrive stays near.
DDP_EPOCHS = 3
DDP_MAX_PROCESSES = 2
MIN_DDP_ACCURACY = 0.75
DRY_RUN_NOTE = ("DRY RUN on the CPU (Triton interpreter, CUDA emulator, tiny shapes): it tests the orchestration; "
                "nothing in it is a measurement of any GPU")
#: Seconds a killed stage's processes get between SIGTERM and SIGKILL.
KILL_GRACE_S = 5.0


# ------------------------------------------------------------------------------------------ processes


@dataclass
class Process:
    """One subprocess of a stage: its command line, its log, and how it ended."""

    label: str
    argv: list[str]
    log: Path
    returncode: int | None = None  # None: killed at the timeout, or never started
    seconds: float = 0.0
    timed_out: bool = False


def _kill_group(popen: subprocess.Popen) -> None:
    """SIGTERM the process's group (it leads its own session), then SIGKILL whatever is left."""
    for sig, grace in ((signal.SIGTERM, KILL_GRACE_S), (signal.SIGKILL, None)):
        try:
            os.killpg(popen.pid, sig)
        except ProcessLookupError:
            return
        if grace is not None:
            try:
                popen.wait(timeout=grace)
                return
            except subprocess.TimeoutExpired:
                continue
    popen.wait()


def run_processes(processes: list[Process], env: dict[str, str], timeout_s: float, jobs: int) -> None:
    """Run ``processes``, at most ``jobs`` at a time, until they end or ``timeout_s`` has passed; then kill
    the ones still running and mark them and the ones not started ``timed_out``."""
    deadline = time.monotonic() + timeout_s
    pending = list(processes)
    running: list[tuple[Process, subprocess.Popen, float, Any]] = []
    while pending or running:
        while pending and len(running) < jobs:
            proc = pending.pop(0)
            log = proc.log.open("w")
            popen = subprocess.Popen(proc.argv, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                     env=env, start_new_session=True)
            running.append((proc, popen, time.monotonic(), log))
        time.sleep(0.1)
        out_of_time = time.monotonic() >= deadline
        for entry in list(running):
            proc, popen, started, log = entry
            if popen.poll() is None and not out_of_time:
                continue
            if popen.poll() is None:
                _kill_group(popen)
                proc.timed_out = True
            else:
                proc.returncode = popen.returncode
            proc.seconds = time.monotonic() - started
            log.close()
            running.remove(entry)
        if out_of_time:
            for proc in pending:
                proc.timed_out = True
                proc.log.write_text("not started: the stage ran out of time\n")
            pending.clear()


# ---------------------------------------------------------------------------------------------- stages


@dataclass
class Stage:
    """A stage: its processes, and ``read()``, which turns what they wrote into the report's entry
    (``{"ok": bool, "summary": str, ...}``), also after a timeout."""

    name: str
    processes: list[Process]
    read: Callable[[], dict[str, Any]]
    jobs: int = 1


@dataclass
class Run:
    """One gpu-check: where it writes, its scratch folder, and the settings the stages share."""

    out: Path
    work: Path
    dry_run: bool
    seed: int
    jobs: int
    python: str = sys.executable
    report: dict[str, Any] = field(default_factory=dict)

    @property
    def suite(self) -> str:
        return "dry" if self.dry_run else "gpu"

    def process(self, label: str, *args: str) -> Process:
        return Process(label, [self.python, *args], self.work / f"{label}.log")


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def facts_stage(run: Run) -> Stage:
    path = run.work / "facts.json"
    argv = ["-m", "benchmarks.device_facts", "--out", str(path), *(["--dry-run"] if run.dry_run else [])]

    def read() -> dict[str, Any]:
        facts = _read_json(path)
        if facts is None:
            return {"ok": False, "summary": "no facts written"}
        env, ceilings = facts["environment"], facts["ceilings"]
        tflops = ceilings["tflops"]
        name = "cpu (dry run)" if run.dry_run else f"{env.get('gpu')}, {env.get('sm_count')} SMs"
        summary = (f"{name}; copy {ceilings['bandwidth_gbs']:.0f} GB/s; matmul TFLOP/s: "
                   + ", ".join(f"{k} {v:.3g}" for k, v in tflops.items()))
        return {"ok": True, "summary": summary, "facts": facts}

    return Stage("facts", [run.process("facts", *argv)], read)


def correctness_stage(run: Run, backends: tuple[str, ...] = BACKENDS) -> Stage:
    dtypes = DTYPES[run.suite]
    workers = {(backend, dtype): run.work / f"correctness-{backend}-{dtype}.jsonl"
               for backend in backends for dtype in dtypes}
    processes = [run.process(f"correctness-{backend}-{dtype}", "-m", "benchmarks.correctness", "--backend", backend,
                             "--dtype", dtype, "--suite", run.suite, "--seed", str(run.seed), "--out", str(path))
                 for (backend, dtype), path in workers.items()]

    def read() -> dict[str, Any]:
        rows: list[dict[str, Any]] = []
        for (backend, dtype), path in workers.items():
            done = {}
            if path.is_file():
                for line in path.read_text().splitlines():
                    if line.strip():
                        row = json.loads(line)
                        done[(row["family"], row["case"])] = row
            for family, case, params in planned_checks(run.suite):
                rows.append(done.get((family, case)) or {
                    "family": family, "case": case, "params": params, "backend": backend, "dtype": dtype,
                    "precision": None, "seed": None, "outputs": [], "status": "not run", "seconds": 0.0,
                    "error": "not run: the worker timed out or crashed first (see gpu-check.log)"})
        counts = {status: sum(r["status"] == status for r in rows)
                  for status in ("pass", "fail", "error", "not run", "unsupported")}
        ok = counts["fail"] == counts["error"] == counts["not run"] == 0
        summary = ", ".join(f"{n} {status}" for status, n in counts.items() if n) or "no checks"
        return {"ok": ok, "summary": summary, "counts": counts, "rows": rows}

    return Stage("correctness", processes, read, jobs=run.jobs)


def bench_stage(run: Run) -> Stage:
    path = run.out / "bench.json"
    if run.dry_run:  # the CPU smoke suite; under the interpreter one family keeps it to seconds
        argv = ["-m", "framework.cli", "bench", "--allow-cpu", "--quick", "--backends", "triton",
                "--family", "dropout", "--out", str(path)]
    else:
        argv = ["-m", "framework.cli", "bench", "--quick", "--out", str(path)]

    def read() -> dict[str, Any]:
        data = _read_json(path)
        if data is None:
            return {"ok": False, "summary": "no bench.json written"}
        keys = ("family", "case", "dtype", "pass", "backend", "precision", "ours_ms", "ours_cold_ms", "torch_ms",
                "ratio", "sm_clock_mhz", "error")
        rows = [{k: r.get(k) for k in keys} | {"roofline": (r.get("roofline") or {}).get("fraction")}
                for r in data["rows"]]
        errors = sum(r["error"] is not None for r in rows)
        summary = f"{len(rows)} rows, {errors} with an error; {data['device']}; bench.json"
        return {"ok": True, "summary": summary, "json": path.name, "device": data["device"], "rows": rows}

    return Stage("bench", [run.process("bench", *argv)], read)


def train_stage(run: Run, device: str) -> Stage:
    folder = run.work / f"train-{device}"
    epochs = 1 if run.dry_run else TRAIN_EPOCHS
    argv = ["-m", "framework.cli", "train", "cnn", "--device", device, "--epochs", str(epochs), "--seed", "0",
            "--no-progress", "--out", str(folder)]
    if run.dry_run:  # a few steps: the interpreter runs the conv kernels one program at a time
        argv += ["--limit", "2", "--batch-size", "2"]

    def read() -> dict[str, Any]:
        metrics = _read_json(folder / "metrics.json")
        if metrics is None:
            return {"ok": False, "summary": "no metrics.json written"}
        accuracy = metrics["test_accuracy"]
        ok = run.dry_run or accuracy >= MIN_ACCURACY
        summary = (f"test accuracy {100 * accuracy:.1f}% after {epochs} epoch{'s' if epochs > 1 else ''}"
                   + ("" if run.dry_run else f" (needs >= {100 * MIN_ACCURACY:.0f}%)")
                   + f", {metrics['elapsed_seconds']:.1f} s")
        return {"ok": ok, "summary": summary, "device": device, "epochs": epochs, "test_accuracy": accuracy,
                "test_accuracy_ci95": metrics.get("test_accuracy_ci95"), "elapsed_seconds": metrics["elapsed_seconds"]}

    return Stage(f"train-{device}", [run.process(f"train-{device}", *argv)], read)


def ddp_processes(run: Run) -> int:
    """train-ddp's process count: 2 on a dry run (gloo on the CPU); on a GPU min(:data:`DDP_MAX_PROCESSES`,
    torch.cuda.device_count()), at least 1 -- one process per GPU, as NCCL needs. Counted here, in the parent,
    when the stage list is built: the command has already asked torch.cuda.is_available(), so the count
    costs nothing more, and the workers see the same CUDA_VISIBLE_DEVICES (:func:`stage_env` keeps it)."""
    if run.dry_run:
        return 2
    import torch

    return max(1, min(DDP_MAX_PROCESSES, torch.cuda.device_count()))


def ddp_stage(run: Run) -> Stage:
    folder = run.work / "train-ddp"
    processes = ddp_processes(run)
    collectives = "gloo" if run.dry_run else "NCCL"  # init_from_env's choice for the device below
    epochs = 1 if run.dry_run else DDP_EPOCHS
    device = "cpu" if run.dry_run else "cuda"
    argv = ["-m", "torch.distributed.run", "--standalone", "--nproc-per-node", str(processes),
            "-m", "framework.cli", "train", "cnn", "--device", device, "--epochs", str(epochs), "--seed", "0",
            "--no-progress", "--out", str(folder)]
    if run.dry_run:  # seconds on the CPU; most of them go to torchrun's and the workers' start
        argv += ["--limit", "64", "--batch-size", "8"]
    proc = run.process("train-ddp", *argv)

    def read() -> dict[str, Any]:
        metrics = _read_json(folder / "metrics.json")
        if metrics is None:
            return {"ok": False, "summary": "no metrics.json written"}
        accuracy, world = metrics["test_accuracy"], metrics.get("processes")
        log = proc.log.read_text(errors="replace") if proc.log.is_file() else ""
        version = re.search(r"NCCL version (\d+\.\d+\.\d+[+\w.-]*)", log)  # rank 0: "NCCL version 2.21.5+cuda12.4"
        nccl_version = version.group(1) if version else None
        problems = [] if world == processes else [f"metrics.json says {world} processes, expected {processes}"]
        if not run.dry_run and accuracy < MIN_DDP_ACCURACY:
            problems.append(f"test accuracy below {100 * MIN_DDP_ACCURACY:.0f}%")
        how = collectives if run.dry_run else (
            f"NCCL {nccl_version}" if nccl_version else "NCCL (no version line in the log)")
        summary = (f"{how}, world size {world} on {metrics['device']}: test accuracy {100 * accuracy:.1f}% after "
                   f"{epochs} epoch{'s' if epochs > 1 else ''}"
                   + ("" if run.dry_run else f" (needs >= {100 * MIN_DDP_ACCURACY:.0f}%)")
                   + f", {metrics['elapsed_seconds']:.1f} s" + "".join(f"; {p}" for p in problems))
        return {"ok": not problems, "summary": summary, "device": metrics["device"], "world_size": world,
                "expected_world_size": processes, "collectives": collectives, "nccl_version": nccl_version,
                "epochs": epochs, "test_accuracy": accuracy, "test_accuracy_ci95": metrics.get("test_accuracy_ci95"),
                "elapsed_seconds": metrics["elapsed_seconds"]}

    return Stage("train-ddp", [proc], read)


def build_stages(run: Run) -> list[Stage]:
    """The six stages in order (see :data:`STAGES`)."""
    return [facts_stage(run), correctness_stage(run), bench_stage(run), train_stage(run, "triton"),
            train_stage(run, "cupy"), ddp_stage(run)]


# --------------------------------------------------------------------------------------------- running


def stage_env(run: Run) -> dict[str, str]:
    """The stages' environment: this code first on PYTHONPATH (the children import what this process
    imported), unbuffered output, fresh JIT caches and NCCL's version line on a GPU, and on a dry run the CPU
    stand-ins."""
    env = dict(os.environ)
    source_root = str(Path(__file__).resolve().parent.parent)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (source_root, env.get("PYTHONPATH")) if p)
    env["PYTHONUNBUFFERED"] = "1"
    if run.dry_run:
        env.update(TRITON_INTERPRET="1", KERNELGRAD_CUDA_EMULATE="1", CUDA_VISIBLE_DEVICES="")
    else:
        env.update(TRITON_CACHE_DIR=str(run.work / "triton-cache"), CUPY_CACHE_DIR=str(run.work / "cupy-cache"))
        env.setdefault("NCCL_DEBUG", "VERSION")  # one line from rank 0, "NCCL version X": train-ddp records it
    return env


def run_stage(stage: Stage, run: Run, env: dict[str, str], timeout_s: float) -> dict[str, Any]:
    """Run one stage, append its processes' logs to gpu-check.log, and return its report entry."""
    started = time.monotonic()
    print(f"[gpu-check] {stage.name}: running ({len(stage.processes)} process"
          f"{'es' if len(stage.processes) > 1 else ''}, timeout {timeout_s:.0f} s)", flush=True)
    try:
        run_processes(stage.processes, env, timeout_s, stage.jobs)
        result = stage.read()
    except Exception as exc:  # a stage must never stop the next one
        result = {"ok": False, "summary": f"{type(exc).__name__}: {exc}"}
    timed_out = any(p.timed_out for p in stage.processes)
    crashed = any(p.returncode not in (0, None) for p in stage.processes)
    if timed_out:
        status = "timeout"
    elif result["ok"] and not crashed:
        status = "pass"
    else:
        status = "fail"
    with (run.out / "gpu-check.log").open("a") as log:
        for p in stage.processes:
            how = "killed at the timeout" if p.timed_out else f"exit {p.returncode}"
            log.write(f"\n===== {stage.name}: {p.label} ({how}, {p.seconds:.1f} s)\n$ {' '.join(p.argv)}\n")
            log.write(p.log.read_text(errors="replace") if p.log.is_file() else "(no output)\n")
    seconds = time.monotonic() - started
    print(f"[gpu-check] {stage.name}: {status} in {seconds:.1f} s -- {result['summary']}", flush=True)
    if status != "pass":
        for p in stage.processes:
            if p.timed_out or p.returncode not in (0, None):
                tail = p.log.read_text(errors="replace").splitlines()[-12:] if p.log.is_file() else []
                print(f"  {p.label}: " + ("killed at the timeout" if p.timed_out else f"exit {p.returncode}"))
                print("\n".join(f"    | {line}" for line in tail))
    processes = [{"label": p.label, "argv": p.argv, "returncode": p.returncode, "timed_out": p.timed_out,
                  "seconds": round(p.seconds, 2)} for p in stage.processes]
    return {"name": stage.name, "status": status, "seconds": round(seconds, 2), "timeout_s": round(timeout_s, 1),
            "processes": processes, **result}


def stage_timeout(remaining_s: float, weights_left: list[float]) -> float:
    """The next stage's timeout: the time left times its weight over the weights still to run."""
    return max(MIN_STAGE_S, remaining_s * weights_left[0] / sum(weights_left))


def default_out(dry_run: bool) -> Path:
    """``benchmarks/results/gpu-check-<gpu>-<date>`` (a dry run: ``runs/gpu-check-dry-run-<time>``)."""
    if dry_run:
        return Path("runs") / f"gpu-check-dry-run-{datetime.datetime.now():%Y%m%d-%H%M%S}"
    return results_dir() / f"gpu-check-{slug(nvidia_smi('name') or 'gpu')}-{datetime.date.today().isoformat()}"


def run_gpu_check(out: str | Path | None = None, budget_s: float = DEFAULT_BUDGET_S, dry_run: bool = False,
                  seed: int | None = None, only: list[str] | None = None, jobs: int | None = None,
                  stages: Callable[[Run], list[Stage]] = build_stages) -> int:
    """Run the stages, write the report as each ends, print the summary last. Returns the exit status.

    ``only`` keeps the named stages: a rerun of the ones that failed, whose results replace those stages in
    an existing report of the same kind (dry run or not) under ``out``, keeping the others. ``stages``
    builds the stage list (tests swap in their own); ``seed`` is the correctness checks' base seed (default:
    fresh, recorded).
    """
    out = Path(out) if out is not None else default_out(dry_run)
    out.mkdir(parents=True, exist_ok=True)
    previous = _read_json(out / "gpu-check.json") if only else None
    if previous is None or previous.get("dry_run") != dry_run:  # a dry run never merges with measurements
        previous = None
        (out / "gpu-check.log").write_text("")
    seed = secrets.randbelow(2**31) if seed is None else seed
    started = time.monotonic()
    now = datetime.datetime.now().isoformat(timespec="seconds")
    with tempfile.TemporaryDirectory(prefix="kernelgrad-gpu-check-") as work:
        run = Run(out=out, work=Path(work), dry_run=dry_run, seed=seed, jobs=jobs or os.cpu_count() or 1)
        selected = [s for s in stages(run) if only is None or s.name in only]
        report = run.report
        report.update(check="gpu-check", dry_run=dry_run, note=DRY_RUN_NOTE if dry_run else None, started=now,
                      finished=None, budget_s=budget_s, seed=seed, argv=sys.argv, stages=[], reruns=[], ok=None)
        if previous is not None:
            report.update(started=previous["started"], seed=previous["seed"], stages=previous["stages"],
                          reruns=[*previous.get("reruns", []), {"started": now, "argv": sys.argv, "seed": seed,
                                                                "stages": [s.name for s in selected]}])
        write_report(report, out)
        env = stage_env(run)
        for i, stage in enumerate(selected):
            weights = [STAGES.get(s.name, 1.0 / len(selected)) for s in selected[i:]]
            timeout_s = stage_timeout(budget_s - (time.monotonic() - started), weights)
            entry = run_stage(stage, run, env, timeout_s)
            names = [s["name"] for s in report["stages"]]
            if entry["name"] in names:
                report["stages"][names.index(entry["name"])] = entry
            else:
                report["stages"].append(entry)
            write_report(report, out)
    report.update(finished=datetime.datetime.now().isoformat(timespec="seconds"),
                  seconds=round(time.monotonic() - started, 1),
                  ok=all(s["status"] == "pass" for s in report["stages"]))
    write_report(report, out)
    print()
    print(format_summary(report, out))
    return 0 if report["ok"] else 1


# ---------------------------------------------------------------------------------------------- report


def _stage(report: dict[str, Any], name: str) -> dict[str, Any] | None:
    return next((s for s in report["stages"] if s["name"] == name), None)


def _worst(row: dict[str, Any]) -> str:
    """A correctness row in one cell: its status, with the worst output's error over its tolerance."""
    if row["status"] in ("error", "not run", "unsupported"):
        return row["status"]
    worst = None
    for o in row["outputs"]:
        if o["tol"] == "exact":
            score = 0.0 if o["ok"] else float("inf")
        else:
            score = float("inf") if o["rel_err"] is None else o["rel_err"] / o["tol"]
        worst = score if worst is None else max(worst, score)
    mark = "pass" if row["status"] == "pass" else "FAIL"
    return f"{mark} ({worst:.2g} of tol)" if worst is not None and worst != float("inf") else mark


def _table(header: list[str], rows: list[list[str]]) -> list[str]:
    return ["| " + " | ".join(header) + " |", "|" + "---|" * len(header),
            *("| " + " | ".join(str(c) for c in row) + " |" for row in rows)]


def _fmt(value: Any, spec: str = ".4g") -> str:
    return "-" if value is None else format(value, spec)


def format_markdown(report: dict[str, Any]) -> str:
    """The report as markdown: stages, the correctness matrix, failures, the bench rows, the trainings."""
    lines = ["# kernelgrad gpu-check", ""]
    if report["dry_run"]:
        lines += [f"**{report['note']}.**", ""]
    facts = (_stage(report, "facts") or {}).get("facts")
    if facts:
        env = facts["environment"]
        device = "the CPU (dry run)" if report["dry_run"] else (
            f"{env.get('gpu')} (compute capability {env.get('compute_capability')}, {env.get('sm_count')} SMs, "
            f"L2 {env.get('l2_cache_mib')} MiB), driver {env.get('driver')}, CUDA {env.get('cuda')}")
        lines += [f"Device: {device}; Python {env['python']}, torch {env['torch']}, triton {env['triton']}, "
                  f"cupy {env['cupy']}, numpy {env['numpy']}, array-api-compat {env['array_api_compat']}. "
                  f"Started {report['started']}, budget {report['budget_s']:.0f} s, correctness seed "
                  f"{report['seed']} (`--seed` repeats the inputs).", ""]
    lines += ["## Stages", ""]
    lines += _table(["stage", "status", "seconds", "timeout s", "result"],
                    [[s["name"], s["status"], f"{s['seconds']:.1f}", f"{s['timeout_s']:.0f}", s["summary"]]
                     for s in report["stages"]])
    correctness = _stage(report, "correctness")
    if correctness and correctness.get("rows"):
        rows = correctness["rows"]
        columns = sorted({(r["backend"], r["dtype"]) for r in rows}, key=lambda bd: (bd[0], bd[1]))
        cells = {(r["family"], r["case"], r["backend"], r["dtype"]): _worst(r) for r in rows}
        cases = list(dict.fromkeys((r["family"], r["case"]) for r in rows))
        lines += ["", "## Correctness against PyTorch float64", "",
                  "Each cell: the worst output's ‖out − ref‖/‖ref‖ as a fraction of its tolerance "
                  "(fp32 ieee 1e-4, tf32 1e-3, fp16/bf16 1e-2, fp64 1e-10; exact outputs must match).", ""]
        lines += _table(["family", "case", *(f"{b} {d}" for b, d in columns)],
                        [[f, c, *(cells.get((f, c, b, d), "-") for b, d in columns)] for f, c in cases])
        failures = [r for r in rows if r["status"] in ("fail", "error", "not run")]
        if failures:
            lines += ["", "### Failures", ""]
            for r in failures:
                bad = [f"{o['name']}: " + (o.get("problem") or f"rel err {_fmt(o['rel_err'], '.3g')} "
                                           f"(tol {o['tol']}), {o['nonfinite']} non-finite, "
                                           f"{_fmt(o['mismatches'], 'd')} mismatches")
                       for o in r["outputs"] if not o["ok"]]
                lines.append(f"- {r['family']} {r['case']} {r['backend']} {r['dtype']} (seed {r['seed']}): "
                             + (r["error"] or "; ".join(bad)))
    bench = _stage(report, "bench")
    if bench and bench.get("rows"):
        how = ("wall-clock medians of the CPU smoke suite: they mean nothing" if report["dry_run"] else
               "medians of CUDA-event timings; cold: the first call (autotune, plus compilation unless the "
               "correctness stage already compiled the kernel); roofline: floor / ours, the floor set by the "
               "ceiling of the row's precision mode")
        lines += ["", f"## Benchmark (`kernelgrad bench --quick`, {bench['device']})", "", f"ms: {how}.", ""]
        lines += _table(["family", "case", "dtype", "pass", "backend", "prec", "ours ms", "cold ms", "torch ms",
                         "torch/ours", "roofline", "SM MHz"],
                        [[r["family"], r["case"], r["dtype"], r["pass"], r["backend"], r["precision"] or "-",
                          _fmt(r["ours_ms"]), _fmt(r["ours_cold_ms"], ".1f"), _fmt(r["torch_ms"]),
                          _fmt(r["ratio"], ".2f"), "-" if r["roofline"] is None else f"{100 * r['roofline']:.0f}%",
                          _fmt(r["sm_clock_mhz"], "d") if r["error"] is None else "error: " + r["error"][:50]]
                         for r in bench["rows"]])
    trains = [s for s in report["stages"] if s["name"].startswith("train-") and "test_accuracy" in s]
    if trains:
        lines += ["", "## Training (`kernelgrad train cnn`, seed 0)", ""]
        lines += _table(["device", "epochs", "test accuracy", "95% CI", "seconds (incl. compile)"],
                        [[s["device"] + (f" x {s['world_size']} processes ({s['collectives']})" if "world_size" in s
                                         else ""), s["epochs"], f"{100 * s['test_accuracy']:.1f}%",
                          "-" if not s.get("test_accuracy_ci95") else
                          f"{100 * s['test_accuracy_ci95'][0]:.1f}-{100 * s['test_accuracy_ci95'][1]:.1f}%",
                          f"{s['elapsed_seconds']:.1f}"] for s in trains])
    return "\n".join(lines) + "\n"


def write_report(report: dict[str, Any], out: Path) -> None:
    """Write gpu-check.json and gpu-check.md, each atomically (a temporary file, then a rename)."""
    write_json(out / "gpu-check.json", report)
    write_text(out / "gpu-check.md", format_markdown(report))


def format_summary(report: dict[str, Any], out: Path) -> str:
    """The short table printed last: one line per stage, the failing checks, where the files are."""
    lines = [f"gpu-check{' DRY RUN (CPU; not measurements)' if report['dry_run'] else ''}: "
             f"{'PASS' if report['ok'] else 'FAIL'} in {report['seconds']:.0f} s (budget {report['budget_s']:.0f} s)"]
    width = max([len(s["name"]) for s in report["stages"]] + [5])
    for s in report["stages"]:
        lines.append(f"  {s['name']:<{width}}  {s['status']:<7}  {s['seconds']:6.1f} s  {s['summary']}")
    correctness = _stage(report, "correctness")
    for r in (correctness or {}).get("rows", []):
        if r["status"] in ("fail", "error"):
            lines.append(f"  ! {r['family']} {r['case']} {r['backend']} {r['dtype']}: {r['status']} "
                         + (r["error"] or ", ".join(o["name"] for o in r["outputs"] if not o["ok"]))[:150])
    lines.append(f"wrote {out}/gpu-check.json, gpu-check.md, gpu-check.log"
                 + (", bench.json" if (out / "bench.json").exists() else ""))
    return "\n".join(lines)

