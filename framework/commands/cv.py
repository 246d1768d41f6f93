"""``kernelgrad cv cnn``: k-fold cross-validation of the DigitsCNN on the bundled digits.

Cross-validates on the training part of the fixed split (train + validation, seed 0), so the test split that
``kernelgrad train cnn`` reports on stays unseen. Folds are stratified (scikit-learn's ``StratifiedKFold``,
shuffled with ``--seed``); every fold trains a fresh model with Adam, a cosine schedule and random 1-pixel
shifts, and scores its accuracy on the held-out fold. Prints each fold and, last, the mean ± standard
deviation; writes ``metrics.json`` and a per-fold bar chart to a run folder.
"""

from __future__ import annotations

import argparse
import time

from ..atomic import save_figure
from .common import (
    SPLIT_SEED,
    add_common_arguments,
    check_training_arguments,
    load_data,
    resolve_device,
    run_folder,
    versions,
    write_metrics,
)

NAME = "cv"
HELP = "k-fold cross-validation of a model (cnn) on the bundled digits"

MODELS = ("cnn",)
DEFAULT_K = 5
# As `train cnn`: five folds of 40 epochs take about 45 s on one core.
DEFAULT_EPOCHS = 40
DEFAULT_BATCH_SIZE = 32
DEFAULT_LR = 3e-3


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("model", choices=MODELS, help="the model to cross-validate")
    parser.add_argument("--k", type=int, default=DEFAULT_K, help=f"number of folds, default {DEFAULT_K}")
    add_common_arguments(parser, "cv-cnn", DEFAULT_EPOCHS, DEFAULT_BATCH_SIZE, DEFAULT_LR)
    parser.add_argument("--no-stratify", action="store_true", help="plain KFold instead of StratifiedKFold")


def run(parser: argparse.ArgumentParser, args: argparse.Namespace) -> int:
    import numpy as np
    from threadpoolctl import threadpool_limits  # installed with scikit-learn

    from .. import optim
    from ..data import RandomShift
    from ..models import DigitsCNN
    from ..train import cross_validate

    check_training_arguments(parser, args)
    if args.k < 2:
        parser.error("--k must be >= 2")
    device = resolve_device(parser, args.device)
    _, ((x_train, y_train), (x_val, y_val), _) = load_data(parser, "digits")
    x, y = np.concatenate([x_train, x_val]), np.concatenate([y_train, y_val])
    if args.limit is not None:
        x, y = x[: args.limit], y[: args.limit]  # the split is already shuffled
    stratified = not args.no_stratify
    counts = np.bincount(y)
    smallest = int(counts[counts > 0].min()) if stratified else len(y)
    if args.k > smallest:
        parser.error(f"--k {args.k} is too large: {'the smallest class has' if stratified else 'there are'} "
                     f"only {smallest} samples")

    print(f"device: {device}")
    print(f"data: digits (train + val part of the split)  {len(y)} samples  {args.k} "
          f"{'stratified ' if stratified else ''}folds  {args.epochs} epochs each")
    num_classes = int(y.max()) + 1
    start = time.perf_counter()
    with threadpool_limits(limits=args.threads, user_api="blas"):
        result = cross_validate(
            lambda: DigitsCNN(in_channels=1, num_classes=max(num_classes, 10), image_size=x.shape[-1]),
            (x, y), k=args.k, stratified=stratified, epochs=args.epochs, batch_size=args.batch_size, lr=args.lr,
            seed=args.seed, device=device,
            scheduler_fn=lambda opt, epochs: optim.lr_scheduler.CosineAnnealingLR(opt, T_max=epochs),
            transform_fn=lambda fold: RandomShift(1, seed=args.seed + 1000 + fold),
            progress=not args.no_progress, log=print)
    elapsed = time.perf_counter() - start

    folder = run_folder(args.out, prefix="cv-cnn")
    _plot_folds(result.scores, result.mean, folder / "cv_scores.png")
    metrics = {
        "model": "DigitsCNN",
        "device": device,
        "k": args.k,
        "stratified": stratified,
        "epochs": args.epochs,
        "batch_size": args.batch_size,
        "lr": args.lr,
        "seed": args.seed,
        "split_seed": SPLIT_SEED,
        "samples": len(y),
        "fold_sizes": result.fold_sizes,
        "scores": result.scores,
        "mean_accuracy": result.mean,
        "std_accuracy": result.std,
        "histories": [h.to_dict() for h in result.histories],
        "elapsed_seconds": elapsed,
        "versions": versions(),
    }
    write_metrics(folder, metrics)
    print(f"run folder: {folder}")
    print(f"elapsed: {elapsed:.1f}s")
    print(f"cv accuracy: {result}")
    return 0


def _plot_folds(scores: list[float], mean: float, path) -> None:
    from matplotlib.figure import Figure

    fig = Figure(figsize=(6, 4), layout="constrained")
    ax = fig.subplots()
    folds = range(1, len(scores) + 1)
    ax.bar(folds, [100 * s for s in scores], color="tab:blue")
    ax.axhline(100 * mean, color="tab:red", linestyle="--", label=f"mean {100 * mean:.1f}%")
    low = max(0.0, 100 * min(scores) - 5)
    ax.set(xlabel="fold", ylabel="held-out accuracy (%)", title="cross-validation", xticks=list(folds),
           ylim=(low, 100.5))
    ax.legend()
    save_figure(fig, path, dpi=100)
