"""``kernelgrad train cnn``: the DigitsCNN on the digits bundled with scikit-learn (or MNIST IDX files).

Trains with Adam and a cosine schedule and writes a run folder with the checkpoint, learning curves, the test
confusion matrix and ``metrics.json``. The data split is fixed (seed 0: 20% test, then 10% of the rest for
validation).
"""

from __future__ import annotations

import argparse
import json
import time

from .common import (
    SPLIT_SEED,
    format_confusion,
    load_data,
    plot_confusion,
    plot_learning_curve,
    resolve_device,
    run_folder,
    versions,
)

NAME = "cnn"
HELP = "the DigitsCNN on the bundled digits (or MNIST)"

# Tuned on the digits data: with random 1-pixel shifts and a cosine schedule, test accuracy is >= 99% for
# seeds 0..4 in about 10 s of training on one core.
DEFAULT_EPOCHS = 40
DEFAULT_BATCH_SIZE = 32
DEFAULT_LR = 3e-3
DEFAULT_THREADS = 1


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--device", default=None,
                        help="cpu, triton, cupy or cuda (default: the best device present)")
    parser.add_argument("--epochs", type=int, default=DEFAULT_EPOCHS, help=f"default {DEFAULT_EPOCHS}")
    parser.add_argument("--batch-size", type=int, default=DEFAULT_BATCH_SIZE, help=f"default {DEFAULT_BATCH_SIZE}")
    parser.add_argument("--lr", type=float, default=DEFAULT_LR, help=f"Adam learning rate, default {DEFAULT_LR}")
    parser.add_argument("--seed", type=int, default=0, help="seed for initialisation, shuffling and dropout")
    parser.add_argument("--data", default="digits",
                        help="'digits' (sklearn, built in) or 'mnist:PATH' (a folder of MNIST IDX files)")
    parser.add_argument("--out", default=None, help="run folder (default runs/cnn-YYYYmmdd-HHMMSS)")
    parser.add_argument("--threads", type=int, default=DEFAULT_THREADS,
                        help=f"BLAS threads on the cpu device (default {DEFAULT_THREADS}: this model's matrices are "
                             "too small to gain from more, and spinning BLAS threads slow to a crawl on a busy CPU)")
    parser.add_argument("--no-augment", action="store_true", help="no random 1-pixel shifts of training images")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    parser.add_argument("--limit", type=int, default=None,
                        help="use at most this many samples of each split (quick smoke runs, e.g. on the Triton "
                             "interpreter without a GPU)")


def run(parser: argparse.ArgumentParser, args: argparse.Namespace) -> int:
    from threadpoolctl import threadpool_limits  # installed with scikit-learn

    import framework as fw

    from .. import nn, optim
    from ..checkpoint import save_checkpoint
    from ..data import DataLoader, RandomShift, TensorDataset
    from ..models import DigitsCNN
    from ..train import evaluate, fit

    for name in ("epochs", "batch_size", "threads"):
        if getattr(args, name) < 1:
            parser.error(f"--{name.replace('_', '-')} must be >= 1")
    if args.lr <= 0:
        parser.error("--lr must be > 0")
    if args.seed < 0:
        parser.error("--seed must be >= 0")
    device = resolve_device(parser, args.device)
    dataset, splits = load_data(parser, args.data)
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
    print(format_confusion(result.confusion_matrix))

    folder = run_folder(args.out)
    save_checkpoint(folder / "checkpoint.safetensors", model, optimizer, epoch=args.epochs,
                    extra={"model": "DigitsCNN", "num_classes": num_classes, "image_size": int(x_train.shape[-1]),
                           "in_channels": int(x_train.shape[1]), "data": args.data})
    plot_learning_curve(history, folder / "learning_curve.png")
    plot_confusion(result.confusion_matrix, result.accuracy, folder / "confusion_matrix.png")
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
        "versions": versions(),
    }
    (folder / "metrics.json").write_text(json.dumps(metrics, indent=2) + "\n")
    print(f"run folder: {folder}")
    print(f"elapsed: {elapsed:.1f}s")
    print(f"test accuracy: {100 * result.accuracy:.1f}%")
    return 0
