"""Helpers shared by the ``kernelgrad`` commands: device resolution, data, run folders, plots, metrics."""

from __future__ import annotations

import argparse
import contextlib
import datetime
import math
import os
import platform
import sys
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

#: Seed of the fixed train/val/test split: test accuracies of different ``--seed`` values (which only change
#: initialisation, shuffling and dropout) are then comparable.
SPLIT_SEED = 0
#: BLAS threads on the cpu device: the models' matrices are too small to gain from more, and spinning BLAS
#: threads slow to a crawl on a busy CPU.
DEFAULT_THREADS = 1


def add_common_arguments(parser: argparse.ArgumentParser, name: str, epochs: int, batch_size: int,
                         lr: float) -> None:
    """The options every training command shares (--device, --epochs, --batch-size, --lr, --seed, --out, ...)."""
    parser.add_argument("--device", default=None,
                        help="cpu, triton, cupy or cuda (default: the best device present)")
    parser.add_argument("--epochs", type=int, default=epochs, help=f"default {epochs}")
    parser.add_argument("--batch-size", type=int, default=batch_size, help=f"default {batch_size}")
    parser.add_argument("--lr", type=float, default=lr, help=f"Adam learning rate, default {lr}")
    parser.add_argument("--seed", type=int, default=0,
                        help="seed for initialisation, shuffling, dropout and sampling")
    parser.add_argument("--out", default=None, help=f"run folder (default runs/{name}-YYYYmmdd-HHMMSS)")
    parser.add_argument("--threads", type=int, default=DEFAULT_THREADS,
                        help=f"BLAS threads on the cpu device (default {DEFAULT_THREADS}: the matrices are small)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    parser.add_argument("--limit", type=int, default=None,
                        help="use at most this many samples of each split (quick smoke runs, e.g. on the Triton "
                             "interpreter or the CUDA emulator without a GPU)")


def add_distributed_arguments(parser: argparse.ArgumentParser) -> None:
    """``--nproc-per-node N``: data-parallel training in N processes on this machine."""
    parser.add_argument("--nproc-per-node", type=int, default=1, metavar="N",
                        help="train data-parallel in N processes on this machine, started by torch's launcher "
                             "(torch.distributed.run; gloo on the cpu device, NCCL on GPUs). --batch-size stays the "
                             "global batch, split across the processes, so the run trains as one process does. "
                             "Across machines run torchrun ... -m framework train ... instead (see the README)")


def add_cuda_graph_argument(parser: argparse.ArgumentParser) -> None:
    """``--cuda-graph``: record the training step once as a CUDA graph and replay it (``fit(cuda_graph=True)``)."""
    parser.add_argument("--cuda-graph", action="store_true",
                        help="record the training step (forward, backward, Adam(fused=True, capturable=True)) once as "
                             "CUDA graphs after 3 eager warm-up batches and replay it for every batch of the same "
                             "shape (the last, partial batch runs eagerly); the triton device on an NVIDIA GPU "
                             "only -- elsewhere it says why and trains eagerly")


def cuda_graph_step(args: argparse.Namespace, model: Any, loss_fn: Any, optimizer: Any, procs: Any = None):
    """``(step, report)`` for ``--cuda-graph``: a :class:`~framework.train.GraphStep` to pass to ``fit`` as its
    ``step`` (None: train as usual), and the start of metrics.json's ``cuda_graph`` entry (None without the flag;
    :func:`cuda_graph_report` completes it after training). Where capture is impossible it prints why, once, and
    returns no step; ``optimizer`` must be ``capturable=True`` when :func:`cuda_graph_possible` said so."""
    from ..train import GraphStep

    if not getattr(args, "cuda_graph", False):
        return None, None
    reason = cuda_graph_problem(model, procs)
    if reason is not None:
        print(f"cuda_graph: {reason}; training eagerly")
        return None, {"requested": True, "captured": False, "reason": reason}
    return GraphStep(model, loss_fn, optimizer, log=print), {"requested": True}


def cuda_graph_report(step: Any, report: dict[str, Any] | None) -> dict[str, Any] | None:
    """metrics.json's ``cuda_graph`` entry once training ran: whether the step was captured, how often it was
    replayed, and why not where it trained eagerly."""
    if step is None or report is None:
        return report
    return {"requested": True, "captured": step.captures > 0, "captures": step.captures, "replays": step.replays,
            "reason": step.reason}


def cuda_graph_problem(model: Any, procs: Any = None) -> str | None:
    """Why ``--cuda-graph`` cannot capture this model's step here (None: it can), before the optimizer exists."""
    from ..train.cuda_graph import capture_problem

    if procs is not None:
        return "data-parallel training (its gradient all-reduce hooks) is not captured"
    return capture_problem(model, None)


def cuda_graph_possible(args: argparse.Namespace, model: Any, procs: Any = None) -> bool:
    """Whether ``--cuda-graph`` was given and can capture here: the optimizer must then be ``capturable=True``."""
    return bool(getattr(args, "cuda_graph", False)) and cuda_graph_problem(model, procs) is None


def launch_workers(parser: argparse.ArgumentParser, args: argparse.Namespace) -> int | None:
    """With ``--nproc-per-node N > 1`` in a process torchrun did not start: run this same command line in N worker
    processes through ``torch.distributed.run`` and return the job's exit status (1 when any worker failed;
    torchrun then stops the others and prints which rank failed, after that rank's traceback). Otherwise None:
    go on in this process."""
    from ..train.distributed import launched_by_torchrun

    if args.nproc_per_node < 1:
        parser.error("--nproc-per-node must be >= 1")
    if args.nproc_per_node == 1 or launched_by_torchrun():
        return None
    if args.batch_size < args.nproc_per_node:
        parser.error(f"--batch-size ({args.batch_size}) is the global batch; it must be at least --nproc-per-node "
                     f"({args.nproc_per_node})")
    from torch.distributed import run as torchrun
    from torch.distributed.elastic.multiprocessing.errors import ChildFailedError

    try:
        # The workers run the same command line; being torchrun's workers, they ignore --nproc-per-node.
        torchrun.main(["--standalone", f"--nproc-per-node={args.nproc_per_node}", "-m", "framework", *args.argv])
    except ChildFailedError:
        return 1  # torchrun has printed the failing rank's error
    return 0


def run_workers_or_single(parser: argparse.ArgumentParser, args: argparse.Namespace, device: str,
                          train: Any) -> int:
    """``train(procs)`` in this process: ``procs`` None outside torchrun; in a torchrun worker, this process's
    :class:`~framework.train.distributed.ProcessGroup` after joining the group, with stdout silenced on every
    rank but 0 (rank 0 alone prints and writes), and the group left cleanly once every rank is done."""
    from ..train.distributed import launched_by_torchrun

    if not launched_by_torchrun():
        return train(None)
    import torch.distributed as dist

    from ..backend import get_backend
    from ..train.distributed import init_from_env

    procs = init_from_env(get_backend(device))
    if args.batch_size < procs.world_size:
        parser.error(f"--batch-size ({args.batch_size}) is the global batch; it must be at least the number of "
                     f"processes ({procs.world_size})")
    with open(os.devnull, "w") as devnull, contextlib.ExitStack() as quiet:
        if not procs.is_main:
            quiet.enter_context(contextlib.redirect_stdout(devnull))
        status = train(procs)
    dist.barrier()  # rank 0 has written the run folder
    dist.destroy_process_group()
    return status


def check_training_arguments(parser: argparse.ArgumentParser, args: argparse.Namespace,
                             positive: tuple[str, ...] = ()) -> None:
    """Validate the shared options and the command's own ``positive`` ones (>= 1); exit 2 with a usage message.

    Also: every float option must be finite (``--lr nan`` would train 40 epochs of NaN), and ``--out`` (or
    ``runs/``) must be a folder this process can write, checked now rather than after training.
    """
    for name, value in vars(args).items():
        if isinstance(value, float) and not math.isfinite(value):
            parser.error(f"--{name.replace('_', '-')} must be a finite number, got {value}")
    for name in ("epochs", "batch_size", "threads", *positive):
        if getattr(args, name) < 1:
            parser.error(f"--{name.replace('_', '-')} must be >= 1")
    if args.lr <= 0:
        parser.error("--lr must be > 0")
    if args.seed < 0:
        parser.error("--seed must be >= 0")
    if args.limit is not None and args.limit < 1:
        parser.error("--limit must be >= 1")
    check_out_folder(parser, args.out)


def check_out_folder(parser: argparse.ArgumentParser, out: str | None) -> None:
    """Exit 2 with a clear message unless ``out`` (default ``runs/``) is, or can be made, a writable folder.

    Tries for real (os.access is wrong for root and for read-only mounts): makes the missing folders, writes
    and deletes a probe file, then removes the folders it made, leaving the disk as it was.

    In a torchrun worker only rank 0 checks: it alone writes the run folder, and two ranks probing the same
    missing folder at once would race (one removes the folder the other is probing, or finds it made already).
    The launching process checked the same folder before it started the workers.
    """
    from ..train.distributed import launched_by_torchrun

    if launched_by_torchrun() and os.environ["RANK"] != "0":
        return
    folder = Path(out) if out is not None else Path("runs")
    shown = f"--out {out}" if out is not None else "the default run folder runs/"
    made: list[Path] = []
    try:
        missing = [folder, *folder.parents]
        for path in reversed(missing):
            if not path.exists():
                path.mkdir()
                made.append(path)
        if not folder.is_dir():
            raise NotADirectoryError(f"{folder} exists and is not a folder")
        with tempfile.TemporaryFile(dir=folder):
            pass
    except OSError as exc:
        reason = exc.strerror or str(exc)
        parser.error(f"{shown}: cannot write a run folder there ({reason})")
    finally:
        for path in reversed(made):
            with contextlib.suppress(OSError):
                path.rmdir()


def check_common_arguments(parser: argparse.ArgumentParser, args: argparse.Namespace) -> str:
    """:func:`check_training_arguments`, then the device; returns the device name."""
    check_training_arguments(parser, args)
    return resolve_device(parser, args.device)


def resolve_device(parser: argparse.ArgumentParser, device: str | None) -> str:
    from .. import backend

    if device is None:
        return backend.best_device()
    try:
        return backend.get_backend(device).name
    except (ValueError, RuntimeError, TypeError) as exc:
        parser.error(str(exc))  # exits with status 2
    raise AssertionError("unreachable")


def load_data(parser: argparse.ArgumentParser, spec: str):
    from ..data import load_digits, load_mnist, train_val_test_split

    try:
        if spec == "digits":
            x, y = load_digits()
            return spec, train_val_test_split(x, y, val_size=0.1, test_size=0.2, seed=SPLIT_SEED)
        if spec.startswith("mnist:"):
            folder = spec.removeprefix("mnist:")
            x, y = load_mnist(folder, "train")
            test = load_mnist(folder, "test")
            # val_size only: the official test files are the test split.
            train, val, _ = train_val_test_split(x, y, val_size=0.1, test_size=0.0, seed=SPLIT_SEED)
            return "mnist", (train, val, test)
    except (OSError, ValueError) as exc:
        parser.error(f"--data {spec}: {exc}")
    parser.error(f"--data must be 'digits' or 'mnist:PATH', got {spec!r}")
    raise AssertionError("unreachable")


def run_folder(out: str | None, prefix: str = "cnn") -> Path:
    if out is not None:
        folder = Path(out)
    else:
        stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
        folder = Path("runs") / f"{prefix}-{stamp}"
        suffix = 1
        while folder.exists():  # two runs started within one second
            folder = Path("runs") / f"{prefix}-{stamp}-{suffix}"
            suffix += 1
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def format_confusion(matrix: np.ndarray, labels: list | None = None) -> str:
    """The matrix as text; rows and columns are headed by ``labels`` (default 0, 1, ...)."""
    labels = list(range(matrix.shape[0])) if labels is None else list(labels)
    width = max(3, len(str(int(matrix.max()))) + 1, *(len(str(label)) + 1 for label in labels))
    header = "     " + "".join(f"{c:>{width}}" for c in labels)
    rows = [f"{r:>4} " + "".join(f"{v:>{width}}" for v in row) for r, row in zip(labels, matrix)]
    return "\n".join([header, *rows])


def plot_learning_curve(history: Any, path: Path, loss_label: str = "cross-entropy") -> None:
    """Learning curves of a :class:`framework.train.History` (or anything with its fields): see ``History.plot``."""
    from ..train import History

    History.plot(history, path, loss_label=loss_label)  # unbound: works for History-like objects too


def plot_confusion(matrix: np.ndarray, accuracy: float, path: Path, labels: list | None = None) -> None:
    """Save the confusion matrix as a picture; ticks read ``labels`` (default 0, 1, ...)."""
    from matplotlib.figure import Figure

    from ..atomic import save_figure

    fig = Figure(figsize=(6, 5.5), layout="constrained")
    ax = fig.subplots()
    image = ax.imshow(matrix, cmap="Blues")
    fig.colorbar(image, ax=ax)
    threshold = matrix.max() / 2
    for (r, c), value in np.ndenumerate(matrix):
        ax.text(c, r, str(value), ha="center", va="center", fontsize=8,
                color="white" if value > threshold else "black")
    ticks = np.arange(matrix.shape[0])
    labels = list(ticks) if labels is None else list(labels)
    ax.set(xticks=ticks, yticks=ticks, xticklabels=labels, yticklabels=labels, xlabel="predicted class",
           ylabel="true class", title=f"test confusion matrix (accuracy {100 * accuracy:.1f}%)")
    save_figure(fig, path, dpi=100)


def versions() -> dict[str, str]:
    import matplotlib
    import sklearn

    import framework

    versions = {"kernelgrad": framework.__version__, "python": platform.python_version(),
                "numpy": np.__version__, "scikit-learn": sklearn.__version__, "matplotlib": matplotlib.__version__}
    if "torch" in sys.modules:  # only report torch if a backend already imported it (importing is slow)
        versions["torch"] = sys.modules["torch"].__version__
    return versions


def write_metrics(folder: Path, metrics: dict[str, Any]) -> None:
    """Write ``folder/metrics.json`` atomically (a temporary file, then a rename: never half a file)."""
    import json

    from ..atomic import atomic_write

    text = json.dumps(metrics, indent=2) + "\n"  # fails before a temporary file exists
    with atomic_write(folder / "metrics.json", "w") as f:
        f.write(text)


def report_classification(result: Any, seed: int) -> tuple[tuple[float, float], dict[str, Any]]:
    """Print the test confusion matrix; return the bootstrap 95% CI of the accuracy and the metrics entries."""
    from ..train import bootstrap_accuracy_ci

    ci = bootstrap_accuracy_ci(result.correct, confidence=0.95, seed=seed)
    print("confusion matrix (rows: true class, columns: predicted class):")
    print(format_confusion(result.confusion_matrix))
    return ci, {"test_accuracy": result.accuracy, "test_accuracy_ci95": list(ci), "test_loss": result.loss,
                "confusion_matrix": result.confusion_matrix.tolist()}


def finish_classification(folder: Path, metrics: dict[str, Any], elapsed: float, accuracy: float,
                          ci: tuple[float, float]) -> None:
    """Write metrics.json and print the closing lines; "test accuracy: NN.N%" is always the last one."""
    write_metrics(folder, metrics)
    print(f"run folder: {folder}")
    print(f"elapsed: {elapsed:.1f}s")
    print(f"test accuracy 95% CI: [{100 * ci[0]:.1f}%, {100 * ci[1]:.1f}%] (bootstrap)")
    print(f"test accuracy: {100 * accuracy:.1f}%")
