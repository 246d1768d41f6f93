"""Training-step time on a GPU: kernelgrad (triton eager, triton CUDA graph, cupy eager) against PyTorch eager and
``torch.compile``, same models, weights, batches and run; without a GPU, the CPU comparison of cpu_train_step.

One *step* is ``zero_grad``, forward, cross-entropy, backward and the Adam update, with no host sync (the loss is
not read: a training loop reads it once per epoch, see ``fit``). Batches are prepared on the device beforehand and
cycled, so data loading is not timed; the CUDA-graph step copies each batch into its static buffers, which is
timed (it is part of that step).

Models (float32):

* ``digits``: :class:`framework.models.DigitsCNN` at its default shape, batch 256 of ``[1, 8, 8]`` images (the
  sklearn digits' shape; random values: the time does not depend on them), 10 classes;
* ``resnet``: :class:`ResNetish`, a small ResNet-like CNN built from framework modules -- a 3x3 stem, two
  residual blocks of two 3x3 convolutions at 32 and 64 channels with 2x2 max-pools, a fused Linear+ReLU head with
  dropout -- on ``[3, 32, 32]`` images (CIFAR's shape), batch 128.

Each has a PyTorch twin of identical architecture holding a copy of the same initial weights.

Variants: ``kernelgrad-triton-eager`` (``Adam(fused=True)``), ``kernelgrad-triton-graph`` (``fit``'s
:class:`~framework.train.GraphStep`: 3 eager warm-up steps, a capture, then replays; ``Adam(fused=True,
capturable=True)``: the fused optim_step kernel's capturable variant, about a dozen launches per step),
``kernelgrad-cupy-eager`` (``Adam(fused=True)``), ``torch-eager`` (``torch.optim.Adam``'s default, the foreach
implementation on CUDA) and ``torch-compile`` (``torch.compile(model)``, ``--compile-mode``, the same eager Adam).
A variant whose device is missing is skipped with the reason.

Timing: ``--warmup`` untimed steps first (Triton's compile and autotune, the CUDA-graph capture, torch.compile's
compile: their wall time is recorded separately as ``setup_s``, with the first step's own time), then ``--steps``
steps, each between two CUDA events: the median, 10th and 90th percentiles of those per-step times, and the wall
time of the whole timed block divided by the steps (one sync at its end). The per-step events include the GPU's
idle time waiting for the host's launches, so an eager step bound by Python overhead is timed as such. The table
gives each variant's median and its speed-up over PyTorch eager on the same model.

Precision: kernelgrad's float32 convolutions and GEMMs do not use TF32 (``ALLOW_TF32 = False`` in its Triton
modules; the CUDA C kernels likewise); PyTorch keeps its defaults (cuDNN convolutions with TF32, cuBLAS float32
matmuls without), recorded in the JSON; ``--torch-tf32 off`` turns cuDNN's off too for an IEEE-to-IEEE comparison.

Run: ``python -m benchmarks.train_step`` (``--help``), or ``kernelgrad bench --train-step`` (its ``--quick``,
``--backends``, ``--out``, ``--dry-run``: :func:`framework.cli.train_step_argv`); JSON to
``runs/benchmarks/train_step-<gpu>.json`` (git-ignored; ``--out`` for a committed result). Without a CUDA GPU it
says the GPU part is skipped and runs ``benchmarks/cpu_train_step.py``'s DigitsCNN comparison (kernelgrad's cpu device
against PyTorch on the CPU) instead.
``--dry-run`` builds every model and variant at a tiny size and runs them on the CPU (Triton's interpreter, the
CUDA C emulator, a stand-in for CUDA graphs that reruns the step, ``torch.compile(backend="eager")``), one warm-up
and one timed step each: it checks the harness and the JSON, and its numbers mean nothing.

Target (issue 16, a prediction until a GPU has run this): the CUDA-graph DigitsCNN step >= 1.2x PyTorch eager.
Nothing here has run on a GPU yet.
"""

from __future__ import annotations

import argparse
import datetime
import os
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks._io import write_json

RESULTS = Path("runs") / "benchmarks"
VARIANTS = ("kernelgrad-triton-eager", "kernelgrad-triton-graph", "kernelgrad-cupy-eager", "torch-eager",
            "torch-compile")
MODELS = ("digits", "resnet")
LR = 1e-3


@dataclass(frozen=True)
class Shape:
    """A benchmarked model's size: batch, image side, channels, widths."""

    batch: int
    in_channels: int
    image: int
    width: int
    hidden: int
    classes: int = 10


#: the benchmarked sizes, and the tiny ones of --dry-run (same architectures)
SHAPES = {"digits": Shape(256, 1, 8, 32, 128), "resnet": Shape(128, 3, 32, 32, 128)}
DRY_SHAPES = {"digits": Shape(4, 1, 8, 4, 8), "resnet": Shape(2, 3, 8, 4, 8)}


# ------------------------------------------------------------------------------------------- models

def resnet_classes():
    """(ResNetish, its torch twin): built here so that importing this module imports neither framework nor torch."""
    import torch

    from framework import nn

    class ResidualBlock(nn.Module):
        """``relu(x + conv(relu(conv(x))))``, two 3x3 convolutions at ``channels``, padding 1."""

        def __init__(self, channels: int):
            super().__init__()
            self.conv1 = nn.Conv2d(channels, channels, 3, padding=1)
            self.relu1 = nn.ReLU()
            self.conv2 = nn.Conv2d(channels, channels, 3, padding=1)
            self.relu2 = nn.ReLU()

        def forward(self, x):
            return self.relu2(x + self.conv2(self.relu1(self.conv1(x))))

    class ResNetish(nn.Module):
        """stem conv 3x3 (in -> w) + ReLU, block(w), max-pool 2, conv 3x3 (w -> 2w) + ReLU, block(2w), max-pool 2,
        flatten, Linear(2w * (s/4)^2 -> hidden) + ReLU (one fused kernel), dropout 0.25, Linear(hidden -> classes)."""

        def __init__(self, shape: Shape):
            super().__init__()
            w, side = shape.width, shape.image // 4
            self.features = nn.Sequential(
                nn.Conv2d(shape.in_channels, w, 3, padding=1), nn.ReLU(), ResidualBlock(w), nn.MaxPool2d(2),
                nn.Conv2d(w, 2 * w, 3, padding=1), nn.ReLU(), ResidualBlock(2 * w), nn.MaxPool2d(2), nn.Flatten())
            self.head = nn.Sequential(nn.Linear(2 * w * side * side, shape.hidden), nn.ReLU(), nn.Dropout(0.25),
                                      nn.Linear(shape.hidden, shape.classes))

        def forward(self, x):
            return self.head(self.features(x))

    class TorchResidualBlock(torch.nn.Module):
        def __init__(self, channels: int):
            super().__init__()
            self.conv1 = torch.nn.Conv2d(channels, channels, 3, padding=1)
            self.relu1 = torch.nn.ReLU()
            self.conv2 = torch.nn.Conv2d(channels, channels, 3, padding=1)
            self.relu2 = torch.nn.ReLU()

        def forward(self, x):
            return self.relu2(x + self.conv2(self.relu1(self.conv1(x))))

    class TorchResNetish(torch.nn.Module):
        def __init__(self, shape: Shape):
            super().__init__()
            w, side = shape.width, shape.image // 4
            nn_ = torch.nn
            self.features = nn_.Sequential(
                nn_.Conv2d(shape.in_channels, w, 3, padding=1), nn_.ReLU(), TorchResidualBlock(w), nn_.MaxPool2d(2),
                nn_.Conv2d(w, 2 * w, 3, padding=1), nn_.ReLU(), TorchResidualBlock(2 * w), nn_.MaxPool2d(2),
                nn_.Flatten())
            self.head = nn_.Sequential(nn_.Linear(2 * w * side * side, shape.hidden), nn_.ReLU(), nn_.Dropout(0.25),
                                       nn_.Linear(shape.hidden, shape.classes))

        def forward(self, x):
            return self.head(self.features(x))

    return ResNetish, TorchResNetish


def torch_digits(shape: Shape):
    """DigitsCNN's PyTorch twin (the same layers, in the same Sequential positions)."""
    from torch import nn

    side = shape.image // 4
    return nn.Sequential(
        nn.Conv2d(shape.in_channels, shape.width, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(shape.width, 2 * shape.width, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
        nn.Linear(2 * shape.width * side * side, shape.hidden), nn.ReLU(), nn.Dropout(0.25),
        nn.Linear(shape.hidden, shape.classes))


def initial_weights(name: str, shape: Shape, seed: int = 0) -> dict[str, np.ndarray]:
    """The model's initial weights (kernelgrad's initialisation, seeded), as numpy arrays by state-dict name:
    every variant starts from these."""
    import framework as fw

    fw.manual_seed(seed)
    return {k: v.numpy().copy() for k, v in framework_model(name, shape).state_dict().items()}


def framework_model(name: str, shape: Shape):
    from framework.models import DigitsCNN

    if name == "digits":
        return DigitsCNN(in_channels=shape.in_channels, num_classes=shape.classes, image_size=shape.image,
                         width=shape.width, hidden=shape.hidden)
    return resnet_classes()[0](shape)


def torch_model(name: str, shape: Shape):
    return torch_digits(shape) if name == "digits" else resnet_classes()[1](shape)


def make_batches(shape: Shape, count: int, seed: int = 0) -> list[tuple[np.ndarray, np.ndarray]]:
    rng = np.random.default_rng(seed)
    return [(rng.random((shape.batch, shape.in_channels, shape.image, shape.image), dtype=np.float32),
             rng.integers(0, shape.classes, shape.batch)) for _ in range(count)]


# ------------------------------------------------------------------------------------------ variants

def kernelgrad_step(device: str, name: str, shape: Shape, weights, batches, graph: bool, dry_run: bool):
    """(step(i) running one training step on batch i, the batches on the device, info dict)."""
    import framework as fw
    from framework import nn, optim
    from framework.train import GraphStep, RerunGraphs

    fw.manual_seed(0)
    model = framework_model(name, shape)
    model.load_state_dict({k: fw.tensor(v) for k, v in weights.items()})
    model.to(device)
    model.train()
    optimizer = optim.Adam(model.parameters(), lr=LR, fused=True, capturable=graph)
    loss_fn = nn.CrossEntropyLoss()
    data = [(fw.tensor(x, device=device), fw.tensor(y, device=device)) for x, y in batches]
    info: dict[str, Any] = {"optimizer": f"Adam(lr={LR}, fused=True{', capturable=True' if graph else ''})"}
    if graph:
        step = GraphStep(model, loss_fn, optimizer, warmup=1 if dry_run else 3, log=None,
                         graphs=RerunGraphs() if dry_run else None)
        info["graphs"] = "RerunGraphs (a stand-in: no CUDA graph)" if dry_run else "torch.cuda.CUDAGraph"

        def run(i: int) -> None:
            step(data[i % len(data)])

        info["graph_step"] = step
        return run, info

    def run(i: int) -> None:
        x, y = data[i % len(data)]
        optimizer.zero_grad()
        loss = loss_fn(model(x), y)
        loss.backward()
        optimizer.step()

    return run, info


def torch_step(device: str, name: str, shape: Shape, weights, batches, compile_mode: str | None, dry_run: bool):
    import torch

    torch.manual_seed(0)
    model = torch_model(name, shape)
    model.load_state_dict({k: torch.from_numpy(v) for k, v in weights.items()})
    model.to(device)
    model.train()
    optimizer = torch.optim.Adam(model.parameters(), lr=LR)
    loss_fn = torch.nn.CrossEntropyLoss()
    data = [(torch.from_numpy(x).to(device), torch.from_numpy(y).to(device)) for x, y in batches]
    info: dict[str, Any] = {"optimizer": f"torch.optim.Adam(lr={LR}) (default implementation)"}
    forward = model
    if compile_mode is not None:
        if dry_run:  # inductor's C++/Triton compile takes minutes on a CPU: trace with dynamo only
            forward = torch.compile(model, backend="eager")
            info["compile"] = 'torch.compile(backend="eager") (dry run)'
        else:
            forward = torch.compile(model, mode=None if compile_mode == "default" else compile_mode)
            info["compile"] = f"torch.compile(mode={compile_mode!r})"

    def run(i: int) -> None:
        x, y = data[i % len(data)]
        optimizer.zero_grad(set_to_none=True)
        loss = loss_fn(forward(x), y)
        loss.backward()
        optimizer.step()

    return run, info


# -------------------------------------------------------------------------------------------- timing

def time_variant(run: Callable[[int], None], warmup: int, steps: int, cuda: bool) -> dict[str, Any]:
    """Warm-up steps (each timed on the wall clock, synced), then ``steps`` steps between CUDA events (wall clock
    per step on the CPU); the timed block's wall time with one sync at the end."""
    sync = _synchronize if cuda else (lambda: None)
    setup = []
    for i in range(warmup):
        start = time.perf_counter()
        run(i)
        sync()
        setup.append(time.perf_counter() - start)
    per_step: list[float] = []
    start_wall = time.perf_counter()
    if cuda:
        import torch

        events = [(torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)) for _ in range(steps)]
        for i, (begin, end) in enumerate(events):
            begin.record()
            run(warmup + i)
            end.record()
        sync()
        wall = time.perf_counter() - start_wall
        per_step = [begin.elapsed_time(end) for begin, end in events]
    else:
        for i in range(steps):
            t = time.perf_counter()
            run(warmup + i)
            per_step.append((time.perf_counter() - t) * 1e3)
        wall = time.perf_counter() - start_wall
    quantiles = np.percentile(per_step, [10, 90]) if per_step else [None, None]
    return {"setup_s": sum(setup), "first_step_s": setup[0] if setup else None, "warmup_steps_s": setup,
            "median_ms": statistics.median(per_step) if per_step else None,
            "p10_ms": float(quantiles[0]) if per_step else None, "p90_ms": float(quantiles[1]) if per_step else None,
            "wall_ms_per_step": wall / steps * 1e3 if steps else None, "steps": steps}


def _synchronize() -> None:
    import torch

    torch.cuda.synchronize()
    try:  # CuPy launches on its own current stream (the legacy default stream unless changed)
        import cupy

        cupy.cuda.get_current_stream().synchronize()
    except Exception:  # noqa: BLE001 -- no CuPy: nothing of its to wait for
        pass


def precision(torch_tf32: str) -> dict[str, Any]:
    """The float32 math each side uses (kernelgrad's Triton switches; PyTorch's TF32 flags)."""
    import torch

    facts: dict[str, Any] = {"dtype": "float32"}
    try:
        from kernels.triton import conv2d, linear_relu

        facts["kernelgrad_triton"] = {"conv2d.ALLOW_TF32": conv2d.ALLOW_TF32,
                                      "linear_relu.ALLOW_TF32": linear_relu.ALLOW_TF32}
    except Exception as exc:  # noqa: BLE001
        facts["kernelgrad_triton"] = f"unavailable: {type(exc).__name__}: {exc}"
    facts["kernelgrad_cupy"] = "float32 FMA (no TF32)"
    facts["torch"] = {"cudnn.allow_tf32": torch.backends.cudnn.allow_tf32,
                      "cuda.matmul.allow_tf32": torch.backends.cuda.matmul.allow_tf32, "--torch-tf32": torch_tf32}
    return facts


# ------------------------------------------------------------------------------------------------ run

def available(variant: str) -> str | None:
    """Why a variant cannot run here (None: it can)."""
    import framework as fw
    from framework.backend import unavailable_devices

    device = {"kernelgrad-triton-eager": "triton", "kernelgrad-triton-graph": "triton",
              "kernelgrad-cupy-eager": "cupy"}.get(variant)
    if device is not None and device not in fw.available_devices():
        return f"device {device} unavailable: {unavailable_devices().get(device, 'not registered')}"
    return None


def run_gpu(args: argparse.Namespace, dry_run: bool) -> dict[str, Any]:
    import torch

    from benchmarks.kernels import environment

    cuda = torch.cuda.is_available() and not dry_run
    if cuda and args.torch_tf32 == "off":
        torch.backends.cudnn.allow_tf32 = False
    shapes = DRY_SHAPES if dry_run else SHAPES
    result: dict[str, Any] = {
        "benchmark": "train_step", "dry_run": dry_run,
        "date": datetime.datetime.now().isoformat(timespec="seconds"),
        "environment": environment("cuda" if cuda else "cpu"), "precision": precision(args.torch_tf32),
        "warmup": args.warmup, "steps": args.steps, "lr": LR, "models": {},
    }
    for name in args.model or MODELS:
        shape = shapes[name]
        weights = initial_weights(name, shape)
        batches = make_batches(shape, args.batches)
        entry: dict[str, Any] = {"shape": vars(shape) | {"input": [shape.batch, shape.in_channels, shape.image,
                                                                   shape.image]},
                                 "parameters": int(sum(v.size for v in weights.values())), "variants": {}}
        result["models"][name] = entry
        for variant in args.variant or VARIANTS:
            reason = available(variant)
            if reason is not None:
                entry["variants"][variant] = {"skipped": reason}
                print(f"{name:<8}{variant:<26}skipped: {reason}")
                continue
            device = "cuda" if cuda else "cpu"
            if variant.startswith("kernelgrad"):
                run, info = kernelgrad_step(variant.split("-")[1], name, shape, weights, batches,
                                            graph=variant.endswith("graph"), dry_run=dry_run)
            else:
                run, info = torch_step(device, name, shape, weights, batches,
                                       compile_mode=args.compile_mode if variant == "torch-compile" else None,
                                       dry_run=dry_run)
            timing = time_variant(run, args.warmup, args.steps, cuda)
            step = info.pop("graph_step", None)
            if step is not None:  # the step after GraphStep's own eager warm-up steps is the capture
                capture = timing["warmup_steps_s"][step.warmup] if len(timing["warmup_steps_s"]) > step.warmup \
                    else None
                info.update(captures=step.captures, replays=step.replays, eager_reason=step.reason,
                            capture_step_s=capture)
            entry["variants"][variant] = info | timing
        base = entry["variants"].get("torch-eager", {}).get("median_ms")
        for row in entry["variants"].values():
            if "median_ms" in row:
                row["speedup_vs_torch_eager"] = base / row["median_ms"] if base and row["median_ms"] else None
    return result


def print_table(result: dict[str, Any]) -> None:
    env = result["environment"]
    print(f"{'dry run (CPU; numbers mean nothing)' if result['dry_run'] else env.get('gpu', 'cpu')}  "
          f"torch {env.get('torch')}  triton {env.get('triton')}  cupy {env.get('cupy')}")
    print(f"{'model':<8}{'variant':<26}{'median ms':>11}{'p10':>9}{'p90':>9}{'wall ms':>9}{'setup s':>9}"
          f"{'vs torch':>10}")
    for name, entry in result["models"].items():
        for variant, row in entry["variants"].items():
            if "skipped" in row:
                continue
            speedup = row.get("speedup_vs_torch_eager")
            print(f"{name:<8}{variant:<26}{row['median_ms']:>11.3f}{row['p10_ms']:>9.3f}{row['p90_ms']:>9.3f}"
                  f"{row['wall_ms_per_step']:>9.3f}{row['setup_s']:>9.2f}"
                  f"{(f'{speedup:.2f}x' if speedup else '-'):>10}")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.train_step", description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", action="append", choices=MODELS, help="repeatable (default: both)")
    parser.add_argument("--variant", action="append", choices=VARIANTS, help="repeatable (default: all)")
    parser.add_argument("--steps", type=int, default=None, help="timed steps per variant (default 200; dry run 1)")
    parser.add_argument("--warmup", type=int, default=None,
                        help="untimed steps first: compile, autotune, capture (default 20; dry run 1: the graph "
                             "variant's one eager warm-up step, so its timed step is the capture)")
    parser.add_argument("--batches", type=int, default=4, help="distinct batches, cycled (default 4)")
    parser.add_argument("--compile-mode", default="default",
                        choices=["default", "reduce-overhead", "max-autotune"], help="torch.compile's mode")
    parser.add_argument("--torch-tf32", default="default", choices=["default", "off"],
                        help="PyTorch's TF32 flags: its defaults (cuDNN convs TF32), or off (IEEE float32 as ours)")
    parser.add_argument("--dry-run", action="store_true",
                        help="tiny shapes on the CPU (interpreter, emulator, stand-in graph): checks the harness")
    parser.add_argument("--out", type=Path, default=None,
                        help="JSON path (default runs/benchmarks/train_step-<gpu>.json)")
    # passed on to cpu_train_step on a machine without a GPU
    parser.add_argument("--repeats", type=int, default=5, help="CPU comparison only: repeats (default 5)")
    parser.add_argument("--threads", type=int, default=1, help="CPU comparison only: threads (default 1)")
    return parser


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    """Run the benchmark, print the table, write the JSON; returns the result dict."""
    args = build_parser().parse_args(argv)
    if args.dry_run:
        # without a GPU the kernels run on the CPU: chosen before triton or the CUDA runtime is first imported
        import torch

        if not torch.cuda.is_available():
            os.environ.setdefault("TRITON_INTERPRET", "1")
            os.environ.setdefault("KERNELGRAD_CUDA_EMULATE", "1")
    import torch

    from benchmarks.kernels import slug

    args.steps = args.steps if args.steps is not None else (1 if args.dry_run else 200)
    args.warmup = args.warmup if args.warmup is not None else (1 if args.dry_run else 20)
    if args.dry_run or torch.cuda.is_available():
        result = run_gpu(args, dry_run=args.dry_run)
        print_table(result)
        name = "dry-run" if args.dry_run else slug(result["environment"].get("gpu", "gpu"))
    else:
        from benchmarks import cpu_train_step

        print("no CUDA GPU: the GPU part (triton eager / CUDA graph, cupy, torch eager / torch.compile) is skipped; "
              "running the CPU comparison of benchmarks/cpu_train_step.py instead")
        cpu_out = (args.out or RESULTS / "train_step-cpu.json").with_suffix(".cpu.json")
        # DigitsCNN only: the model this benchmark times on a GPU (cpu_train_step's other four workloads and its
        # profile are its own command's business, and minutes long)
        cpu = cpu_train_step.main(["--workloads", "digits", "--no-profile", "--steps", str(args.steps),
                                   "--warmup", str(args.warmup), "--repeats", str(args.repeats),
                                   "--threads", str(args.threads), "--out", str(cpu_out)])
        result = {"benchmark": "train_step", "gpu": "skipped: torch.cuda.is_available() is False", "cpu": cpu}
        name = "cpu"
    path = args.out or RESULTS / f"train_step-{name}.json"
    write_json(path, result)
    print(f"wrote {path}")
    return result


if __name__ == "__main__":
    main()
    sys.exit(0)
