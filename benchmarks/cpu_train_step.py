"""CPU training-step time: kernelgrad (numpy kernels) against PyTorch, same model, data and thread count.

One *step* is what a training loop does per batch: ``zero_grad``, forward, cross-entropy, backward,
Adam update and ``loss.item()``. The model is :class:`framework.models.DigitsCNN` (default shape) and
its PyTorch twin, batch 64 of 8x8 sklearn digits, float32. Both frameworks get the same thread count
(``torch.set_num_threads`` and, for numpy's BLAS, ``threadpoolctl``). Each repeat times ``--steps``
steps after ``--warmup`` untimed ones, alternating the two frameworks so drift hits both alike; the
medians over repeats are reported, per step, with the ratio kernelgrad / PyTorch.

Run: ``python -m benchmarks.cpu_train_step`` (``--help`` for options). Writes
``runs/benchmarks/cpu_train_step-<hostname>.json`` (git-ignored; the committed results are written with ``--out``).
"""

from __future__ import annotations

import argparse
import datetime
import inspect
import json
import os
import platform
import socket
import statistics
import time
from pathlib import Path

import numpy as np

from framework.models import DigitsCNN

BATCH = 64
# The benchmarked shape is whatever DigitsCNN's defaults are, so the two never drift apart.
_DEFAULTS = {name: p.default for name, p in inspect.signature(DigitsCNN).parameters.items()}
WIDTH, HIDDEN, DROPOUT = _DEFAULTS["width"], _DEFAULTS["hidden"], _DEFAULTS["dropout"]
#: Default output: git-ignored (the committed results/cpu_train_step-vm.json is refreshed on purpose with --out).
RESULTS = Path("runs") / "benchmarks"


def cpu_model() -> str:
    """The CPU's marketing name from /proc/cpuinfo, else ``platform.processor()``."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def make_batches(steps: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """``steps`` batches of ``BATCH`` digits (cycling through shuffled data), float32 / int64."""
    from framework.data import load_digits

    x, y = load_digits()
    order = np.random.default_rng(0).permutation(len(y))
    batches = []
    for i in range(steps):
        rows = order[np.arange(i * BATCH, (i + 1) * BATCH) % len(y)]
        batches.append((np.ascontiguousarray(x[rows]), y[rows]))
    return batches


def kernelgrad_runner(batches):
    """A ``run(n)`` closure doing ``n`` kernelgrad training steps over ``batches`` (cycled)."""
    import framework as fw
    from framework import nn, optim

    fw.manual_seed(0)
    model = DigitsCNN(width=WIDTH, hidden=HIDDEN, dropout=DROPOUT).to("cpu")
    model.train()
    optimizer = optim.Adam(model.parameters(), lr=1e-3)
    loss_fn = nn.CrossEntropyLoss()
    data = [(fw.tensor(x, device="cpu"), fw.tensor(y, device="cpu")) for x, y in batches]

    def run(n: int) -> float:
        loss = 0.0
        for i in range(n):
            x, y = data[i % len(data)]
            optimizer.zero_grad()
            out = loss_fn(model(x), y)
            out.backward()
            optimizer.step()
            loss = out.item()
        return loss

    return run


def torch_runner(batches):
    """The same model, loss and optimizer in PyTorch."""
    import torch
    from torch import nn

    torch.manual_seed(0)
    side = 8 // 4
    model = nn.Sequential(
        nn.Conv2d(1, WIDTH, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(WIDTH, 2 * WIDTH, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(2 * WIDTH * side * side, HIDDEN), nn.ReLU(), nn.Dropout(DROPOUT),
        nn.Linear(HIDDEN, 10),
    )
    model.train()
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)  # default: foreach implementation on CPU
    loss_fn = nn.CrossEntropyLoss()
    data = [(torch.from_numpy(x), torch.from_numpy(y)) for x, y in batches]

    def run(n: int) -> float:
        loss = 0.0
        for i in range(n):
            x, y = data[i % len(data)]
            optimizer.zero_grad()
            out = loss_fn(model(x), y)
            out.backward()
            optimizer.step()
            loss = out.item()
        return loss

    return run


def time_per_step_ms(run, steps: int, warmup: int) -> float:
    run(warmup)
    start = time.perf_counter()
    run(steps)
    return (time.perf_counter() - start) / steps * 1e3


def main(argv: list[str] | None = None) -> dict:
    """Run the benchmark, print the table, write the JSON; returns the result dict."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, default=200, help="timed steps per repeat (default 200)")
    parser.add_argument("--warmup", type=int, default=20, help="untimed steps before each repeat (default 20)")
    parser.add_argument("--repeats", type=int, default=5, help="repeats per framework (default 5)")
    parser.add_argument("--threads", type=int, default=1,
                        help="threads for both (default 1: at batch 64 of 8x8 images the per-op work is too small "
                             "to split, and spinning thread pools distort timings on a shared CPU)")
    parser.add_argument("--out", type=Path, default=None,
                        help="JSON path (default runs/benchmarks/cpu_train_step-<host>.json)")
    args = parser.parse_args(argv)

    import sklearn
    import torch
    from threadpoolctl import threadpool_limits

    torch.set_num_threads(args.threads)
    batches = make_batches(args.steps + args.warmup)
    runners = {"kernelgrad": kernelgrad_runner(batches), "torch": torch_runner(batches)}
    times: dict[str, list[float]] = {name: [] for name in runners}
    with threadpool_limits(limits=args.threads):  # numpy's BLAS (and any OpenMP pool) for kernelgrad
        for _ in range(args.repeats):
            for name, run in runners.items():
                times[name].append(time_per_step_ms(run, args.steps, args.warmup))

    medians = {name: statistics.median(t) for name, t in times.items()}
    ratio = medians["kernelgrad"] / medians["torch"]
    host = socket.gethostname() or "cpu"
    result = {
        "benchmark": "cpu_train_step",
        "date": datetime.datetime.now().isoformat(timespec="seconds"),
        "host": host,
        "cpu": cpu_model(),
        "cpu_count": os.cpu_count(),
        "threads": args.threads,
        "versions": {"python": platform.python_version(), "numpy": np.__version__, "torch": torch.__version__,
                     "scikit-learn": sklearn.__version__},
        "model": f"DigitsCNN(width={WIDTH}, hidden={HIDDEN}, dropout={DROPOUT})",
        "input_shape": [BATCH, 1, 8, 8],
        "dtype": "float32",
        "optimizer": "Adam(lr=1e-3)",
        "steps": args.steps,
        "warmup": args.warmup,
        "repeats": args.repeats,
        "ms_per_step": times,
        "median_ms_per_step": medians,
        "ratio_kernelgrad_over_torch": ratio,
        "target_ratio": 1.5,
    }
    print(f"cpu: {result['cpu']}  threads: {args.threads}  batch {BATCH}x1x8x8 float32  "
          f"{args.steps} steps x {args.repeats} repeats")
    print(f"{'framework':<12}{'median ms/step':>16}{'min':>10}{'max':>10}")
    for name, t in times.items():
        print(f"{name:<12}{medians[name]:>16.3f}{min(t):>10.3f}{max(t):>10.3f}")
    print(f"ratio kernelgrad/torch: {ratio:.2f}x (target <= 1.5x)")

    path = args.out or RESULTS / f"cpu_train_step-{host}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {path}")
    return result


if __name__ == "__main__":
    main()
