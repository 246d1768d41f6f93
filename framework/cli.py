"""The ``kernelgrad`` command line: ``kernelgrad train cnn``, ``kernelgrad devices`` and ``kernelgrad bench``.

``train cnn`` trains :class:`~framework.models.DigitsCNN` with Adam and writes a run folder with the
checkpoint, learning curves, the test confusion matrix and ``metrics.json``. The data split is fixed
(seed 0: 20% test, then 10% of the rest for validation) so test accuracies of different ``--seed``
values, which only change initialisation, shuffling and dropout, are comparable.
"""

from __future__ import annotations

import argparse
import datetime
import json
import platform
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["main"]

# Defaults of `train cnn`, tuned on the digits data: with random 1-pixel shifts and a cosine schedule,
# test accuracy is >= 99% for seeds 0..4 in about 10 s of training on one core.
DEFAULT_EPOCHS = 40
DEFAULT_BATCH_SIZE = 32
DEFAULT_LR = 3e-3
DEFAULT_THREADS = 1
SPLIT_SEED = 0


def _build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="kernelgrad", description="kernelgrad: train models and inspect devices.")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    train = commands.add_parser("train", help="train a model and write a run folder",
                                description="Train a model and write a run folder.")
    train.set_defaults(parser=train)  # so errors found after parsing print this command's usage
    train.add_argument("model", choices=["cnn"], help="model to train (cnn: the DigitsCNN)")
    train.add_argument("--device", default=None,
                       help="cpu, triton, cupy or cuda (default: the best device present)")
    train.add_argument("--epochs", type=int, default=DEFAULT_EPOCHS, help=f"default {DEFAULT_EPOCHS}")
    train.add_argument("--batch-size", type=int, default=DEFAULT_BATCH_SIZE, help=f"default {DEFAULT_BATCH_SIZE}")
    train.add_argument("--lr", type=float, default=DEFAULT_LR, help=f"Adam learning rate, default {DEFAULT_LR}")
    train.add_argument("--seed", type=int, default=0, help="seed for initialisation, shuffling and dropout")
    train.add_argument("--data", default="digits",
                       help="'digits' (sklearn, built in) or 'mnist:PATH' (a folder of MNIST IDX files)")
    train.add_argument("--out", default=None, help="run folder (default runs/cnn-YYYYmmdd-HHMMSS)")
    train.add_argument("--threads", type=int, default=DEFAULT_THREADS,
                       help=f"BLAS threads on the cpu device (default {DEFAULT_THREADS}: this model's matrices are "
                            "too small to gain from more, and spinning BLAS threads slow to a crawl on a busy CPU)")
    train.add_argument("--no-augment", action="store_true", help="no random 1-pixel shifts of training images")
    train.add_argument("--no-progress", action="store_true", help="no progress bar")
    train.add_argument("--limit", type=int, default=None,
                       help="use at most this many samples of each split (quick smoke runs, e.g. on the Triton "
                            "interpreter without a GPU)")

    commands.add_parser("devices", help="list devices and whether they work here",
                        description="List registered devices, their availability and what 'cuda' resolves to.")

    # The options mirror benchmarks/kernels.py's build_parser; they are spelled out here so that parsing
    # (and --help) does not import torch or the benchmarks package.
    bench = commands.add_parser("bench", help="benchmark the GPU kernels against PyTorch (run from the repository)",
                                description="Time every kernel family, forward and forward+backward, for each GPU "
                                            "kernel backend against PyTorch eager; print a table and write JSON.")
    bench.add_argument("--family", action="append", default=None,
                       choices=["conv2d", "maxpool2d", "linear_relu", "softmax_xent", "dropout"],
                       help="benchmark only this family (repeatable; default: all five)")
    bench.add_argument("--backends", default="triton,cupy",
                       help="comma-separated kernel backends (default triton,cupy; "
                            "one that fails to import is skipped)")
    bench.add_argument("--quick", action="store_true", help="one shape per family instead of the full suite")
    bench.add_argument("--out", default=None, help="JSON path (default benchmarks/results/kernels-<gpu>-<date>.json)")
    bench.add_argument("--allow-cpu", action="store_true",
                       help="without a GPU, run a tiny smoke suite on the CPU (tests the harness; not a benchmark)")
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``kernelgrad`` console script.

    Args:
        argv: arguments without the program name (None: ``sys.argv[1:]``).

    Returns:
        the exit status (0; ``bench`` returns 2 when there is no GPU and no ``--allow-cpu``).

    Raises:
        SystemExit: code 2 for a usage error, an unknown or unavailable device, or unusable data.
    """
    parser = _build_parser()
    args = parser.parse_args(argv)
    if args.command == "devices":
        return _devices()
    if args.command == "bench":
        return _bench(args)
    return _train_cnn(args.parser, args)


# ------------------------------------------------------------------------------------------ devices


def _devices() -> int:
    from . import backend

    available = [name for name in backend.available_devices() if name != "cuda"]
    unavailable = backend.unavailable_devices()
    width = max(len(name) for name in [*available, *unavailable, "cuda"])
    for name in available:
        print(f"{name:<{width}}  available")
    for name, reason in unavailable.items():
        print(f"{name:<{width}}  unavailable  ({reason})")
    try:
        target = backend.get_backend("cuda").name
        print(f"{'cuda':<{width}}  -> {target}")
    except RuntimeError:
        print(f"{'cuda':<{width}}  -> unavailable (no GPU backend works here)")
    print(f"best device: {backend.best_device()}")
    return 0


# -------------------------------------------------------------------------------------------- bench


def _bench(args: argparse.Namespace) -> int:
    try:
        # Imported here: benchmarks/ is part of the repository, not of the installed package.
        from benchmarks import kernels as kernel_bench
    except ImportError as exc:
        print(f"kernelgrad bench: cannot import the benchmarks package ({exc}). The benchmarks live in the "
              "repository, not in the installed package: run this from the repository root "
              "(or `python -m benchmarks.kernels` there).", file=sys.stderr)
        return 2
    backends = [name.strip() for name in args.backends.split(",") if name.strip()]
    return kernel_bench.run_bench(families=args.family, backends=backends, quick=args.quick, out=args.out,
                                  allow_cpu=args.allow_cpu)


# -------------------------------------------------------------------------------------------- train


def _resolve_device(parser: argparse.ArgumentParser, device: str | None) -> str:
    from . import backend

    if device is None:
        return backend.best_device()
    try:
        return backend.get_backend(device).name
    except (ValueError, RuntimeError, TypeError) as exc:
        parser.error(str(exc))  # exits with status 2
    raise AssertionError("unreachable")


def _load_data(parser: argparse.ArgumentParser, spec: str):
    from .data import load_digits, load_mnist, train_val_test_split

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


def _run_folder(out: str | None) -> Path:
    if out is not None:
        folder = Path(out)
    else:
        stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
        folder = Path("runs") / f"cnn-{stamp}"
        suffix = 1
        while folder.exists():  # two runs started within one second
            folder = Path("runs") / f"cnn-{stamp}-{suffix}"
            suffix += 1
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def _train_cnn(parser: argparse.ArgumentParser, args: argparse.Namespace) -> int:
    from threadpoolctl import threadpool_limits  # installed with scikit-learn

    import framework as fw

    from . import nn, optim
    from .checkpoint import save_checkpoint
    from .data import DataLoader, RandomShift, TensorDataset
    from .models import DigitsCNN
    from .train import evaluate, fit

    for name in ("epochs", "batch_size", "threads"):
        if getattr(args, name) < 1:
            parser.error(f"--{name.replace('_', '-')} must be >= 1")
    if args.lr <= 0:
        parser.error("--lr must be > 0")
    if args.seed < 0:
        parser.error("--seed must be >= 0")
    device = _resolve_device(parser, args.device)
    dataset, splits = _load_data(parser, args.data)
    if args.limit is not None:
        if args.limit < 1:
            parser.error("--limit must be >= 1")
        splits = tuple((x[: args.limit], y[: args.limit]) for x, y in splits)  # splits are already shuffled
    (x_train, y_train), (x_val, y_val), (x_test, y_test) = splits
    start = time.perf_counter()
    print(f"device: {device}" + (f"  (BLAS threads: {args.threads})" if device == "cpu" else ""))
    print(f"data: {dataset}  train {len(y_train)}  val {len(y_val)}  test {len(y_test)}  "
          f"image {tuple(x_train.shape[1:])}")

    fw.manual_seed(args.seed)
    num_classes = int(max(y_train.max(), y_test.max())) + 1
    model = DigitsCNN(in_channels=x_train.shape[1], num_classes=num_classes, image_size=x_train.shape[-1])
    model.to(device)
    optimizer = optim.Adam(model.parameters(), lr=args.lr)
    scheduler = optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=args.epochs)
    loss_fn = nn.CrossEntropyLoss()

    augment = None if args.no_augment else RandomShift(1, seed=args.seed + 1)
    train_loader = DataLoader(TensorDataset(x_train, y_train), batch_size=args.batch_size, shuffle=True,
                              seed=args.seed, device=device, transform=augment)
    eval_batch = max(args.batch_size, 256)  # no gradients kept: larger batches are cheaper per sample
    val_loader = DataLoader(TensorDataset(x_val, y_val), batch_size=eval_batch, device=device) if len(y_val) else None
    test_loader = DataLoader(TensorDataset(x_test, y_test), batch_size=eval_batch, device=device)

    with threadpool_limits(limits=args.threads, user_api="blas"):
        history = fit(model, loss_fn, optimizer, train_loader, val_loader, epochs=args.epochs, scheduler=scheduler,
                      progress=not args.no_progress)
        result = evaluate(model, test_loader, loss_fn, num_classes=num_classes)
    elapsed = time.perf_counter() - start

    print("confusion matrix (rows: true class, columns: predicted class):")
    print(_format_confusion(result.confusion_matrix))

    folder = _run_folder(args.out)
    save_checkpoint(folder / "checkpoint.safetensors", model, optimizer, epoch=args.epochs,
                    extra={"model": "DigitsCNN", "num_classes": num_classes, "image_size": int(x_train.shape[-1]),
                           "in_channels": int(x_train.shape[1]), "data": args.data})
    _plot_learning_curve(history, folder / "learning_curve.png")
    _plot_confusion(result.confusion_matrix, result.accuracy, folder / "confusion_matrix.png")
    metrics = {
        "model": "DigitsCNN",
        "device": device,
        "data": args.data,
        "sizes": {"train": len(y_train), "val": len(y_val), "test": len(y_test)},
        "epochs": args.epochs,
        "batch_size": args.batch_size,
        "lr": args.lr,
        "optimizer": "Adam",
        "scheduler": "CosineAnnealingLR",
        "seed": args.seed,
        "split_seed": SPLIT_SEED,
        "augment": "none" if args.no_augment else "RandomShift(1)",
        "threads": args.threads,
        "test_accuracy": result.accuracy,
        "test_loss": result.loss,
        "confusion_matrix": result.confusion_matrix.tolist(),
        "history": history.to_dict(),
        "elapsed_seconds": elapsed,
        "versions": _versions(),
    }
    (folder / "metrics.json").write_text(json.dumps(metrics, indent=2) + "\n")
    print(f"run folder: {folder}")
    print(f"elapsed: {elapsed:.1f}s")
    print(f"test accuracy: {100 * result.accuracy:.1f}%")
    return 0


def _format_confusion(matrix: np.ndarray) -> str:
    width = max(3, len(str(int(matrix.max()))) + 1)
    header = "     " + "".join(f"{c:>{width}}" for c in range(matrix.shape[1]))
    rows = [f"{r:>4} " + "".join(f"{v:>{width}}" for v in row) for r, row in enumerate(matrix)]
    return "\n".join([header, *rows])


def _plot_learning_curve(history: Any, path: Path) -> None:
    # The object-oriented Figure API renders with Agg and never touches pyplot's global backend.
    from matplotlib.figure import Figure

    fig = Figure(figsize=(10, 4), layout="constrained")
    loss_ax, acc_ax = fig.subplots(1, 2)
    epochs = history.epochs
    loss_ax.plot(epochs, history.train_loss, marker="o", label="train")
    acc_ax.plot(epochs, [100 * a for a in history.train_acc], marker="o", label="train")
    if any(v is not None for v in history.val_loss):
        loss_ax.plot(epochs, history.val_loss, marker="o", label="validation")
        acc_ax.plot(epochs, [100 * a for a in history.val_acc], marker="o", label="validation")
    loss_ax.set(xlabel="epoch", ylabel="cross-entropy", title="loss")
    acc_ax.set(xlabel="epoch", ylabel="accuracy (%)", title="accuracy")
    for ax in (loss_ax, acc_ax):
        ax.grid(alpha=0.3)
        ax.legend()
    fig.savefig(path, dpi=100)


def _plot_confusion(matrix: np.ndarray, accuracy: float, path: Path) -> None:
    from matplotlib.figure import Figure

    fig = Figure(figsize=(6, 5.5), layout="constrained")
    ax = fig.subplots()
    image = ax.imshow(matrix, cmap="Blues")
    fig.colorbar(image, ax=ax)
    threshold = matrix.max() / 2
    for (r, c), value in np.ndenumerate(matrix):
        ax.text(c, r, str(value), ha="center", va="center", fontsize=8,
                color="white" if value > threshold else "black")
    ticks = np.arange(matrix.shape[0])
    ax.set(xticks=ticks, yticks=ticks, xlabel="predicted class", ylabel="true class",
           title=f"test confusion matrix (accuracy {100 * accuracy:.1f}%)")
    fig.savefig(path, dpi=100)


def _versions() -> dict[str, str]:
    import matplotlib
    import sklearn

    import framework

    versions = {"kernelgrad": framework.__version__, "python": platform.python_version(),
                "numpy": np.__version__, "scikit-learn": sklearn.__version__, "matplotlib": matplotlib.__version__}
    if "torch" in sys.modules:  # only report torch if a backend already imported it (importing is slow)
        versions["torch"] = sys.modules["torch"].__version__
    return versions
