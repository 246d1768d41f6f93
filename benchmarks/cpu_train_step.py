"""CPU training-step time: kernelgrad (numpy kernels) against PyTorch, five workloads, same models, weights,
batches and thread count.

One *step* is what a training loop does per batch: ``zero_grad``, forward, loss, backward, optimizer update
and ``loss.item()``. The workloads (``benchmarks/cpu_workloads.py`` builds them) and the issue-17 targets
(kernelgrad / PyTorch time per step at one thread):

- ``digits``: framework.models.DigitsCNN, 64 sklearn digits [64, 1, 8, 8], Adam; target 1.0x.
- ``mnist``: pytorch/examples' MNIST Net, the digits upsampled to [64, 1, 28, 28], Adadelta; target 1.5x.
- ``lstm``: Embedding -> 2-layer LSTM(64, 128) -> Linear, random tokens [32, 64], Adam; target 2.0x.
- ``gan``: ``kernelgrad train gan``'s DCGAN, one discriminator + one generator update, batch 32, Adam x2;
  target 1.5x.
- ``mnist1d``: the MNIST-1D paper's ConvBase (three Conv1d), synthetic [100, 40], Adam; target 1.5x.

For each workload the kernelgrad model is built first (``fw.manual_seed(0)``) and its weights loaded into the
PyTorch twin, so both start identical; a **sanity check** then runs two training steps in each framework with
dropout off (the two frameworks draw different masks) and raises :class:`TwinMismatch` unless the first
step's losses agree to ``FIRST_LOSS_RTOL`` (the forward pass) and the second's to ``SECOND_LOSS_RTOL`` (after
one backward and optimizer update). It is a check of the twins, not of timing.

Timing: for each thread count (``--threads``, default ``1,all``; ``torch.set_num_threads(n)`` and
``threadpoolctl.threadpool_limits(n)`` for numpy's BLAS), each repeat runs ``--warmup`` untimed and then
``--steps`` timed steps per framework, alternating which framework goes first from one repeat to the next so
drift in machine load hits both alike. Reported per step: the median over repeats and the ratio kernelgrad /
PyTorch. With ``--profile`` (the default) each workload's kernelgrad steps also run once under cProfile at one
thread, summarised as shares of the step's time by category (see :data:`CATEGORIES`) and the top functions by
own time.

Run: ``python -m benchmarks.cpu_train_step`` (``--help`` for options; ``--quick`` for a smoke run). Writes
``runs/benchmarks/cpu_train_step-<hostname>.json`` (git-ignored; the committed results are written with ``--out``).
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import datetime
import itertools
import math
import os
import platform
import pstats
import socket
import statistics
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks._io import write_json
from benchmarks.cpu_workloads import MAX_BATCHES, Side, Workload, kernelgrad_weights, workloads

#: Default output: git-ignored (the committed results/cpu_train_step-vm.json is refreshed on purpose with --out).
RESULTS = Path("runs") / "benchmarks"
#: Relative agreement of the first step's losses (same weights, same batch, no dropout: the forward pass).
FIRST_LOSS_RTOL = 1e-5
#: ... and of the second step's (after one backward and update: float32 rounding in the gradients has spread).
SECOND_LOSS_RTOL = 1e-4
#: ``--quick``: a smoke run of the harness (one thread, tiny step counts); its times mean nothing.
QUICK = {"steps": 1, "warmup": 0, "repeats": 2, "threads": "1"}
#: The repository root: the profile attributes time by file path relative to it.
ROOT = Path(__file__).resolve().parent.parent
#: Profile categories: (category, path prefix under the repository root); the first match wins. Code outside
#: the repository (numpy's Python functions, the standard library, C built-ins such as ``numpy.matmul``) has no
#: category of its own: its time is charged to whoever called it, split by the time spent per caller.
CATEGORIES = [
    ("conv2d kernels", "kernels/numpy/conv2d.py"),
    ("conv2d kernels", "kernels/numpy/_winograd.py"),  # the fused conv -> ReLU -> pool's Winograd conv
    ("other numpy kernels", "kernels/"),
    ("autograd engine + Tensor", "framework/autograd.py"),
    ("autograd engine + Tensor", "framework/tensor.py"),
    ("autograd engine + Tensor", "framework/backend.py"),
    ("autograd engine + Tensor", "framework/dtypes.py"),
    ("ops (Function forward/backward)", "framework/ops/"),
    ("nn modules + functional", "framework/nn/"),
    ("nn modules + functional", "framework/models/"),
    ("optimizer", "framework/optim/"),
    ("other", ""),  # the rest of framework/ (functions.py, random.py, ...), this harness
]
CATEGORY_NAMES = list(dict.fromkeys(name for name, _ in CATEGORIES))
#: Column headings of the printed profile table.
CATEGORY_COLUMNS = {"conv2d kernels": "conv2d", "other numpy kernels": "kernels",
                    "autograd engine + Tensor": "autograd", "ops (Function forward/backward)": "ops",
                    "nn modules + functional": "nn", "optimizer": "optim", "other": "other"}


class TwinMismatch(RuntimeError):
    """The kernelgrad model and its PyTorch twin disagree on a sanity-check loss: the comparison is void."""


def cpu_model() -> str:
    """The CPU's marketing name from /proc/cpuinfo, else ``platform.processor()``."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def usable_cpus() -> int:
    """CPUs this process may run on (its affinity mask where the OS has one)."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


def parse_threads(text: str) -> list[int]:
    """``"1,all"`` -> ``[1, usable_cpus()]``: positive ints or ``all``, comma-separated, duplicates dropped.

    Raises:
        ValueError: an entry that is neither a positive int nor ``all``.
    """
    counts = []
    for part in text.split(","):
        part = part.strip().lower()
        if part == "all":
            counts.append(usable_cpus())
        elif part.isdigit() and int(part) > 0:
            counts.append(int(part))
        else:
            raise ValueError(f"--threads: expected positive ints or 'all', comma-separated; got {text!r}")
    return list(dict.fromkeys(counts))


@contextlib.contextmanager
def thread_limit(n: int) -> Iterator[None]:
    """Both frameworks on ``n`` threads for the block: PyTorch's intra-op pool and, through threadpoolctl,
    numpy's BLAS (and any OpenMP pool loaded). PyTorch's previous count comes back after."""
    import torch
    from threadpoolctl import threadpool_limits

    before = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        with threadpool_limits(limits=n):
            yield
    finally:
        torch.set_num_threads(before)


def runner(side: Side) -> Callable[[int], float]:
    """``run(n)``: ``n`` training steps of ``side``, continuing through its batches; returns the last loss."""
    counter = itertools.count()

    def run(n: int) -> float:
        loss = math.nan
        for _ in range(n):
            loss = side.step(next(counter))
        return loss

    return run


def build_twins(workload: Workload, batch_count: int) -> tuple[Side, Side]:
    """The workload's kernelgrad side and its PyTorch twin holding the same initial weights."""
    batches = workload.make_batches(batch_count)
    ours = workload.kernelgrad(batches)
    return ours, workload.torch(batches, kernelgrad_weights(ours))


def rel_diff(a: float, b: float) -> float:
    return abs(a - b) / max(abs(b), 1e-30)


def check_twins(workload: Workload, ours: Side, theirs: Side) -> dict[str, Any]:
    """Two deterministic training steps on each side (batches 0 and 1); the losses must agree.

    Returns the losses and relative differences (for the JSON). Raises :class:`TwinMismatch` naming the
    workload, the step and both losses when they do not agree within ``FIRST_LOSS_RTOL`` / ``SECOND_LOSS_RTOL``.
    """
    result: dict[str, Any] = {"kernelgrad": [], "torch": [], "rel_diff": [],
                              "rtol": [FIRST_LOSS_RTOL, SECOND_LOSS_RTOL]}
    for i, rtol in enumerate((FIRST_LOSS_RTOL, SECOND_LOSS_RTOL)):
        a, b = ours.check_step(i), theirs.check_step(i)
        diffs = [rel_diff(x, y) for x, y in zip(a, b)]
        result["kernelgrad"].append(list(a))
        result["torch"].append(list(b))
        result["rel_diff"].append(diffs)
        if len(a) != len(b) or not all(d <= rtol for d in diffs):  # also catches NaN
            raise TwinMismatch(f"{workload.name}: step {i + 1} losses differ: kernelgrad {list(a)}, torch {list(b)} "
                               f"(relative {diffs}, allowed {rtol}); the twins do not compute the same thing")
    return result


def time_twins(ours: Side, theirs: Side, steps: int, warmup: int, repeats: int) -> dict[str, Any]:
    """Per-repeat ms/step of both sides (alternating which goes first), medians, ratio and last losses."""
    runs = {"kernelgrad": runner(ours), "torch": runner(theirs)}
    times: dict[str, list[float]] = {name: [] for name in runs}
    last: dict[str, float] = {}
    for r in range(repeats):
        for name in (("kernelgrad", "torch") if r % 2 == 0 else ("torch", "kernelgrad")):
            runs[name](warmup)
            start = time.perf_counter()
            last[name] = runs[name](steps)
            times[name].append((time.perf_counter() - start) / steps * 1e3)
    medians = {name: statistics.median(t) for name, t in times.items()}
    return {"ms_per_step": times, "median_ms_per_step": medians,
            "ratio_kernelgrad_over_torch": medians["kernelgrad"] / medians["torch"], "last_loss": last}


# --------------------------------------------------------------------------------------------- profile


def own_category(filename: str) -> str | None:
    """The profile category of code in ``filename``, or None for code outside the repository (library code,
    C built-ins: ``~``, ``<frozen ...>``), whose time goes to its callers."""
    if filename == "~" or filename.startswith("<"):
        return None
    try:
        rel = Path(filename).resolve().relative_to(ROOT).as_posix()
    except ValueError:
        return None
    if rel.startswith((".venv/", ".ci-venv")):  # installed packages inside the checkout
        return None
    return next(name for name, prefix in CATEGORIES if rel.startswith(prefix))


def _charged(func: tuple, stats: dict, memo: dict, active: set) -> dict[str, float]:
    """Fractions of ``func``'s own time charged to each category: its own category, or, for library code,
    its callers' categories weighted by the own time ``func`` spent in calls from each caller."""
    category = own_category(func[0])
    if category is not None:
        return {category: 1.0}
    if func in memo:
        return memo[func]
    if func in active or func not in stats or not stats[func][4]:
        return {"other": 1.0}  # a recursion among library functions, or the profile's root
    active.add(func)
    callers = stats[func][4]  # {caller: (calls, primitive calls, own time, cumulative time)} of this edge
    weights = {caller: edge[2] for caller, edge in callers.items()}
    if sum(weights.values()) <= 0:
        weights = {caller: edge[0] for caller, edge in callers.items()}
    total = sum(weights.values())
    shares: dict[str, float] = defaultdict(float)
    for caller, weight in weights.items():
        for name, fraction in _charged(caller, stats, memo, active).items():
            shares[name] += fraction * weight / total
    active.discard(func)
    memo[func] = dict(shares)
    return memo[func]


def _label(func: tuple) -> str:
    filename, line, name = func
    if filename == "~":
        return name
    path = Path(filename)
    try:
        shown = path.resolve().relative_to(ROOT).as_posix()
    except ValueError:
        shown = path.as_posix()
    if "site-packages/" in shown:
        shown = shown.split("site-packages/", 1)[1]
    return f"{shown}:{line}({name})"


def summarize_profile(stats: dict, steps: int, top: int = 8) -> dict[str, Any]:
    """Shares of the profiled time by category (own time, attributed by file path) and the ``top`` functions
    by own time, from a ``pstats.Stats(...).stats`` dict covering ``steps`` steps."""
    total = sum(entry[2] for entry in stats.values())
    by_category = dict.fromkeys(CATEGORY_NAMES, 0.0)
    memo: dict = {}
    for func, entry in stats.items():
        for name, fraction in _charged(func, stats, memo, set()).items():
            by_category[name] += entry[2] * fraction
    ranked = sorted(stats.items(), key=lambda item: item[1][2], reverse=True)[:top]
    return {
        "steps": steps,
        "profiled_ms_per_step": total / steps * 1e3,
        "function_calls_per_step": sum(entry[1] for entry in stats.values()) / steps,
        "share_by_category": {name: t / total for name, t in by_category.items()},
        "ms_per_step_by_category": {name: t / steps * 1e3 for name, t in by_category.items()},
        "top_functions_by_own_time": [
            {"function": _label(func), "category": own_category(func[0]) or "library (charged to callers)",
             "own_ms_per_step": entry[2] / steps * 1e3, "share": entry[2] / total, "calls_per_step": entry[1] / steps}
            for func, entry in ranked],
    }


def profile_kernelgrad(side: Side, steps: int) -> dict[str, Any]:
    """cProfile over ``steps`` kernelgrad training steps (call inside ``thread_limit(1)``), summarised."""
    run = runner(side)
    profiler = cProfile.Profile()
    profiler.enable()
    run(steps)
    profiler.disable()
    summary = summarize_profile(pstats.Stats(profiler).stats, steps)
    summary["threads"] = 1
    summary["note"] = ("cProfile own times (tottime) by file path; numpy's and other library or C built-in "
                       "time is charged to the repository file that called it (so 'ops' includes the numpy "
                       "calls the ops make themselves, outside kernels/); profiling overhead inflates "
                       "Python-heavy categories: compare profiled_ms_per_step with the unprofiled median")
    return summary


# ------------------------------------------------------------------------------------------------ main


def build_parser(names: list[str]) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--workloads", default=",".join(names),
                        help=f"comma-separated, from {','.join(names)} (default: all)")
    parser.add_argument("--threads", default=None,
                        help="comma-separated thread counts for both frameworks, ints or 'all' (default 1,all; "
                             "the targets are for one thread)")
    parser.add_argument("--steps", type=int, default=None, help="timed steps per repeat (default: per workload)")
    parser.add_argument("--warmup", type=int, default=None,
                        help="untimed steps before each timed block (default: per workload)")
    parser.add_argument("--repeats", type=int, default=None, help="repeats per framework (default 5)")
    parser.add_argument("--profile", action=argparse.BooleanOptionalAction, default=True,
                        help="cProfile the kernelgrad steps of each workload at one thread (default on)")
    parser.add_argument("--quick", action="store_true",
                        help="smoke run: 1 timed step, no warm-up, 2 repeats, 1 thread unless given (times mean "
                             "nothing)")
    parser.add_argument("--out", type=Path, default=None,
                        help="JSON path (default runs/benchmarks/cpu_train_step-<host>.json)")
    return parser


def _versions() -> dict[str, str]:
    import sklearn
    import threadpoolctl
    import torch

    return {"python": platform.python_version(), "numpy": np.__version__, "torch": torch.__version__,
            "scikit-learn": sklearn.__version__, "threadpoolctl": threadpoolctl.__version__}


def _thread_pools() -> list[dict[str, Any]]:
    """numpy's BLAS and other native thread pools loaded in the process (threadpoolctl's view)."""
    from threadpoolctl import threadpool_info

    keys = ("user_api", "internal_api", "version", "num_threads")
    return [{k: info.get(k) for k in keys} | {"library": Path(info.get("filepath", "")).name}
            for info in threadpool_info()]


def print_table(rows: list[dict[str, Any]]) -> None:
    print(f"{'workload':<10}{'threads':>8}{'kernelgrad ms':>15}{'torch ms':>11}{'ratio':>8}  target")
    for row in rows:
        target = f"<= {row['target']:.1f}x" if row["threads"] == 1 else "(1 thread)"
        print(f"{row['workload']:<10}{row['threads']:>8}{row['kernelgrad_ms']:>15.3f}{row['torch_ms']:>11.3f}"
              f"{row['ratio']:>7.2f}x  {target}")


def main(argv: list[str] | None = None) -> dict:
    """Run the benchmark, print the table, write the JSON; returns the result dict."""
    available = workloads()
    parser = build_parser(list(available))
    args = parser.parse_args(argv)
    names = [n.strip() for n in args.workloads.split(",") if n.strip()]
    unknown = [n for n in names if n not in available]
    if unknown or not names:
        parser.error(f"--workloads: unknown {unknown or 'empty list'}; choose from {','.join(available)}")
    try:
        thread_counts = parse_threads(args.threads or (QUICK["threads"] if args.quick else "1,all"))
    except ValueError as error:
        parser.error(str(error))
    for name in ("steps", "repeats"):
        if getattr(args, name) is not None and getattr(args, name) < 1:
            parser.error(f"--{name} must be >= 1")
    if args.warmup is not None and args.warmup < 0:
        parser.error("--warmup must be >= 0")
    repeats = args.repeats or (QUICK["repeats"] if args.quick else 5)

    from framework import cpu_allocator

    malloc = cpu_allocator.tune()  # what loading the cpu backend does anyway: record it before any step runs
    host = socket.gethostname() or "cpu"
    result: dict[str, Any] = {
        "benchmark": "cpu_train_step",
        "date": datetime.datetime.now().isoformat(timespec="seconds"),
        "host": host, "cpu": cpu_model(), "cpu_count": os.cpu_count(), "usable_cpus": usable_cpus(),
        "versions": _versions(), "thread_pools": _thread_pools(), "dtype": "float32", "quick": args.quick,
        "thread_counts": thread_counts, "repeats": repeats,
        "cpu_malloc": {"settings": malloc, "note": "glibc mallopt set by kernelgrad's cpu backend "
                       "(framework/cpu_allocator.py); process-wide, so the PyTorch steps ran under them too"},
        "sanity_rtol": {"first_step": FIRST_LOSS_RTOL, "second_step": SECOND_LOSS_RTOL},
        "profile_categories": {name: [prefix or "(anything else)" for n, prefix in CATEGORIES if n == name]
                               for name in CATEGORY_NAMES},
        "targets": {n: available[n].target_ratio for n in names},
        "workloads": {}, "rows": [],
    }
    print(f"cpu: {result['cpu']} ({result['usable_cpus']} usable)  threads {thread_counts}  "
          f"{repeats} repeats  float32  malloc {malloc or 'glibc defaults'}")
    for name in names:
        workload = available[name]
        steps = args.steps or (QUICK["steps"] if args.quick else workload.steps)
        warmup = args.warmup if args.warmup is not None else (QUICK["warmup"] if args.quick else workload.warmup)
        ours, theirs = build_twins(workload, max(2, min(steps + warmup, MAX_BATCHES)))
        with thread_limit(1):
            sanity = check_twins(workload, ours, theirs)
        entry = workload.describe() | {"steps": steps, "warmup": warmup, "repeats": repeats, "sanity": sanity,
                                       "threads": {}}
        for n in thread_counts:
            with thread_limit(n):
                timing = time_twins(ours, theirs, steps, warmup, repeats)
            entry["threads"][str(n)] = timing
            row = {"workload": name, "threads": n, "kernelgrad_ms": timing["median_ms_per_step"]["kernelgrad"],
                   "torch_ms": timing["median_ms_per_step"]["torch"],
                   "ratio": timing["ratio_kernelgrad_over_torch"], "target": workload.target_ratio}
            result["rows"].append(row)
            print(f"  {name}: {n} thread(s): kernelgrad {row['kernelgrad_ms']:.3f} ms  torch {row['torch_ms']:.3f} ms"
                  f"  ratio {row['ratio']:.2f}x  ({steps} steps x {repeats} repeats)", flush=True)
        if args.profile:
            with thread_limit(1):
                entry["profile"] = profile_kernelgrad(ours, steps)
        result["workloads"][name] = entry

    # The single-workload version's fields, kept meaningful: DigitsCNN (else the first workload) at the first
    # thread count.
    head_name = "digits" if "digits" in names else names[0]
    head = result["workloads"][head_name]
    head_timing = head["threads"][str(thread_counts[0])]
    result |= {"headline": f"{head_name} at {thread_counts[0]} thread(s)", "threads": thread_counts[0],
               "model": head["model"], "input_shape": head["input_shape"], "optimizer": head["optimizer"],
               "steps": head["steps"], "warmup": head["warmup"], "ms_per_step": head_timing["ms_per_step"],
               "median_ms_per_step": head_timing["median_ms_per_step"],
               "ratio_kernelgrad_over_torch": head_timing["ratio_kernelgrad_over_torch"],
               "target_ratio": head["target_ratio"]}

    print()
    print_table(result["rows"])
    if args.profile:
        print("\nkernelgrad profile (1 thread, cProfile own time; share of the profiled step):")
        short = [CATEGORY_COLUMNS[c] for c in CATEGORY_NAMES]
        print(f"{'workload':<10}" + "".join(f"{s:>10}" for s in short))
        for name in names:
            shares = result["workloads"][name]["profile"]["share_by_category"]
            print(f"{name:<10}" + "".join(f"{100 * shares[c]:>9.1f}%" for c in CATEGORY_NAMES))
        print("  (" + "; ".join(f"{s} = {c}" for s, c in zip(short, CATEGORY_NAMES)) + ")")
    path = args.out or RESULTS / f"cpu_train_step-{host}.json"
    write_json(path, result)  # atomic: a killed run leaves the previous file, never half of one
    print(f"wrote {path}")
    return result


if __name__ == "__main__":
    main()
