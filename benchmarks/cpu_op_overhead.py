"""Per-op Python overhead on the CPU: kernelgrad against PyTorch on tiny tensors.

At 4x4 float32 the arithmetic is a few nanoseconds, so what each call costs is the framework around it:
argument checks, dtype promotion, ``Function.apply`` (context, version bookkeeping, the output Tensor),
and for backward the engine (topological order, gradient routing, accumulation into ``.grad``). This is
the cost a small model pays per op on top of its kernels (issue 17, "framework overhead").

Each case is timed two ways: *forward* (the op on inputs that require grad, so the graph is recorded) and
*forward+backward* (the op, then ``out.backward(g)`` with a fixed ``g`` of the output's shape; the input
grads are reset to None each call, as ``zero_grad`` does). ``graph`` is a small multi-op graph (linear,
relu, a broadcast add, sum). Frameworks alternate per repeat so machine drift hits both alike; each
repeat times ``--number`` calls; reported is the median over repeats in microseconds per call and the
ratio kernelgrad / PyTorch. One thread for both.

Run: ``python -m benchmarks.cpu_op_overhead`` (``--help`` for options). Writes
``runs/benchmarks/cpu_op_overhead-<hostname>.json`` (git-ignored) unless ``--out`` says otherwise.
"""

from __future__ import annotations

import argparse
import datetime
import platform
import socket
import statistics
import time
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks._io import write_json

RESULTS = Path("runs") / "benchmarks"
SIZE = 4  # the tensors are SIZE x SIZE float32 (the bias / broadcast operand SIZE)


def _cases(lib: Any, F: Any, nn: Any, make: Any) -> dict[str, tuple]:  # noqa: N803 - F is the usual name
    """``{name: (forward, inputs)}`` for one framework: ``forward()`` runs the op once on ``inputs``, the
    tensors whose ``.grad`` the backward fills (and which the timing loop resets)."""
    rng = np.random.default_rng(0)
    x = make(rng.standard_normal((SIZE, SIZE), dtype=np.float32), True)
    y = make(rng.standard_normal((SIZE, SIZE), dtype=np.float32), True)
    row = make(rng.standard_normal(SIZE, dtype=np.float32), True)
    w = make(rng.standard_normal((SIZE, SIZE), dtype=np.float32), True)
    b = make(rng.standard_normal(SIZE, dtype=np.float32), True)
    lib.manual_seed(0)
    layer = nn.Linear(SIZE, SIZE)
    params = list(layer.parameters())

    def graph():
        h = F.relu(F.linear(x, w, b))
        return (h * row + y).sum()

    return {
        "add": (lambda: x + y, [x, y]),
        "mul_broadcast": (lambda: x * row, [x, row]),
        "relu": (lambda: F.relu(x), [x]),
        "matmul": (lambda: x @ y, [x, y]),
        "linear": (lambda: F.linear(x, w, b), [x, w, b]),
        "sum": (lambda: x.sum(), [x]),
        "reshape": (lambda: x.reshape(SIZE * SIZE), [x]),
        "view": (lambda: x.view(SIZE * SIZE), [x]),
        "Linear_module": (lambda: layer(x), [x, *params]),
        "graph": (graph, [x, y, row, w, b]),
    }


def kernelgrad_cases() -> dict[str, tuple]:
    import framework as fw
    from framework import nn
    from framework.nn import functional as F  # noqa: N812 - PyTorch's spelling

    return _cases(fw, F, nn, lambda a, rg: fw.tensor(a, device="cpu", requires_grad=rg))


def torch_cases() -> dict[str, tuple]:
    import torch
    from torch import nn
    from torch.nn import functional as F  # noqa: N812

    return _cases(torch, F, nn, lambda a, rg: torch.tensor(a, requires_grad=rg))


def _timer(forward, inputs: list, backward: bool):
    """A ``run(n) -> seconds`` closure: ``n`` calls of the case, with backward when asked."""
    out = forward()
    grad = out.detach() * 0 + 1  # ones of the output's shape, in the output's framework

    def run(n: int) -> float:
        start = time.perf_counter()
        if backward:
            for _ in range(n):
                for t in inputs:
                    t.grad = None
                forward().backward(grad)
        else:
            for _ in range(n):
                forward()
        return time.perf_counter() - start

    return run


def measure(number: int, repeats: int, only: list[str] | None = None) -> dict[str, dict[str, Any]]:
    """Median microseconds per call for every case, mode and framework (see the module docstring)."""
    frameworks = {"kernelgrad": kernelgrad_cases(), "torch": torch_cases()}
    names = [n for n in frameworks["kernelgrad"] if not only or n in only]
    results: dict[str, dict[str, Any]] = {}
    for name in names:
        for mode, backward in (("forward", False), ("forward+backward", True)):
            runs = {lib: _timer(*cases[name], backward) for lib, cases in frameworks.items()}
            samples: dict[str, list[float]] = {lib: [] for lib in runs}
            for run in runs.values():
                run(max(1, number // 10))  # warm-up
            for _ in range(repeats):
                for lib, run in runs.items():
                    samples[lib].append(run(number) / number * 1e6)
            medians = {lib: statistics.median(s) for lib, s in samples.items()}
            results[f"{name}/{mode}"] = {"us_per_call": medians, "samples_us": samples,
                                         "ratio_kernelgrad_over_torch": medians["kernelgrad"] / medians["torch"]}
    return results


def main(argv: list[str] | None = None) -> dict:
    """Run the benchmark, print the table, write the JSON; returns the result dict."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--number", type=int, default=2000, help="calls per repeat (default 2000)")
    parser.add_argument("--repeats", type=int, default=7, help="repeats per framework (default 7)")
    parser.add_argument("--only", nargs="*", default=None, help="case names to run (default: all)")
    parser.add_argument("--out", type=Path, default=None,
                        help="JSON path (default runs/benchmarks/cpu_op_overhead-<host>.json)")
    args = parser.parse_args(argv)

    import torch
    from threadpoolctl import threadpool_limits

    torch.set_num_threads(1)
    with threadpool_limits(limits=1):
        results = measure(args.number, args.repeats, args.only)

    print(f"{SIZE}x{SIZE} float32 on cpu, one thread, {args.number} calls x {args.repeats} repeats (median us/call)")
    print(f"{'case':<34}{'kernelgrad':>12}{'torch':>10}{'ratio':>8}")
    for key, r in results.items():
        us = r["us_per_call"]
        print(f"{key:<34}{us['kernelgrad']:>12.2f}{us['torch']:>10.2f}{r['ratio_kernelgrad_over_torch']:>7.2f}x")

    host = socket.gethostname() or "cpu"
    result = {
        "benchmark": "cpu_op_overhead",
        "date": datetime.datetime.now().isoformat(timespec="seconds"),
        "host": host,
        "threads": 1,
        "versions": {"python": platform.python_version(), "numpy": np.__version__, "torch": torch.__version__},
        "shape": [SIZE, SIZE],
        "dtype": "float32",
        "number": args.number,
        "repeats": args.repeats,
        "results": results,
    }
    path = args.out or RESULTS / f"cpu_op_overhead-{host}.json"
    write_json(path, result)
    print(f"wrote {path}")
    return result


if __name__ == "__main__":
    main()
