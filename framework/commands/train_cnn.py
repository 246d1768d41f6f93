"""``kernelgrad train cnn``: the DigitsCNN on the digits bundled with scikit-learn (or MNIST IDX files).

Trains with Adam and a cosine schedule and writes a run folder with the checkpoint, learning curves, the test
confusion matrix, the learned first/second-layer filters (``filters.png``), one test image's feature maps
(``feature_maps.png``) and ``metrics.json``; prints a bootstrap 95% confidence interval of the test accuracy.
The data split is fixed (seed 0: 20% test, then 10% of the rest for validation).

``--augment`` adds small random rotations and Gaussian noise to the default 1-pixel shifts; ``--resume
CHECKPOINT`` continues a run from its checkpoint up to ``--epochs``; ``--transfer`` pretrains on digits 0-4,
freezes the convolutions and trains a new head on digits 5-9, compared with a model trained from scratch on
the same 5-9 data for as many epochs (the run folder then holds the 5-9 model's ``checkpoint.safetensors`` and
the 0-4 model's ``pretrained.safetensors``). ``--cuda-graph`` records the training step once as a CUDA graph and
replays it (the triton device on a GPU; elsewhere it says why and trains eagerly).
"""

from __future__ import annotations

import argparse
import math
import time

from .common import (
    SPLIT_SEED,
    add_common_arguments,
    add_cuda_graph_argument,
    add_distributed_arguments,
    check_training_arguments,
    cuda_graph_possible,
    cuda_graph_report,
    cuda_graph_step,
    finish_classification,
    format_confusion,
    launch_workers,
    load_data,
    plot_confusion,
    plot_learning_curve,
    report_classification,
    resolve_device,
    run_folder,
    run_workers_or_single,
    versions,
)

NAME = "cnn"
HELP = "the DigitsCNN on the bundled digits (or MNIST)"

# Tuned on the digits data: with random 1-pixel shifts and a cosine schedule, test accuracy is >= 99% for
# seeds 0..4 in about 10 s of training on one core.
DEFAULT_EPOCHS = 40
DEFAULT_BATCH_SIZE = 32
DEFAULT_LR = 3e-3
AUGMENT_DEGREES = 10.0
AUGMENT_NOISE = 0.05


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_common_arguments(parser, NAME, DEFAULT_EPOCHS, DEFAULT_BATCH_SIZE, DEFAULT_LR)
    parser.add_argument("--data", default="digits",
                        help="'digits' (sklearn, built in) or 'mnist:PATH' (a folder of MNIST IDX files)")
    augment = parser.add_mutually_exclusive_group()
    augment.add_argument("--no-augment", action="store_true", help="no random 1-pixel shifts of training images")
    augment.add_argument("--augment", action="store_true",
                         help=f"stronger augmentation: 1-pixel shifts, rotations up to ±{AUGMENT_DEGREES:g}° and "
                              f"Gaussian noise (std {AUGMENT_NOISE:g})")
    parser.add_argument("--resume", default=None, metavar="CHECKPOINT",
                        help="continue from a checkpoint.safetensors of an earlier run (model, optimizer, epoch) "
                             "up to --epochs")
    parser.add_argument("--checkpoint-every", type=int, default=0, metavar="N",
                        help="also save checkpoint-epochNNNN.safetensors in the run folder every N epochs "
                             "(for --resume; default 0: only the final checkpoint)")
    parser.add_argument("--transfer", action="store_true",
                        help="pretrain on digits 0-4, freeze the conv layers, train a new head on 5-9; compare with "
                             "a from-scratch model (--epochs each)")
    add_distributed_arguments(parser)
    add_cuda_graph_argument(parser)


def run(parser: argparse.ArgumentParser, args: argparse.Namespace) -> int:
    from ..train.distributed import launched_by_torchrun

    check_training_arguments(parser, args)
    if args.checkpoint_every < 0:
        parser.error("--checkpoint-every must be >= 0")
    if args.transfer and args.resume:
        parser.error("--transfer and --resume cannot be combined")
    if args.transfer and (args.nproc_per_node > 1 or launched_by_torchrun()):
        parser.error("--transfer runs in one process (no --nproc-per-node, no torchrun)")
    status = launch_workers(parser, args)
    if status is not None:
        return status
    device = resolve_device(parser, args.device)
    dataset, splits = load_data(parser, args.data)
    if args.limit is not None:
        splits = tuple((x[: args.limit], y[: args.limit]) for x, y in splits)  # splits are already shuffled
    if args.transfer:
        return _run_transfer(parser, args, device, dataset, splits)
    return run_workers_or_single(parser, args, device,
                                 lambda procs: _run_train(parser, args, device, dataset, splits, procs))


def _augmentation(args: argparse.Namespace, seed: int):
    from ..data import Compose, GaussianNoise, RandomRotation, RandomShift

    if args.no_augment:
        return None, "none"
    if args.augment:
        transform = Compose([RandomShift(1, seed=seed + 1), RandomRotation(AUGMENT_DEGREES, seed=seed + 2),
                             GaussianNoise(AUGMENT_NOISE, clip=(0.0, 1.0), seed=seed + 3)])
        return transform, f"RandomShift(1) + RandomRotation({AUGMENT_DEGREES:g}) + GaussianNoise({AUGMENT_NOISE:g})"
    return RandomShift(1, seed=seed + 1), "RandomShift(1)"


def _run_train(parser: argparse.ArgumentParser, args: argparse.Namespace, device: str, dataset: str, splits,
               procs=None) -> int:
    """Train, evaluate and write the run folder. With ``procs`` (this process's place in a data-parallel job) it
    trains on its rows of every global batch through DistributedDataParallel, and only rank 0 writes anything."""
    from threadpoolctl import threadpool_limits  # installed with scikit-learn

    import framework as fw

    from .. import nn, optim
    from ..checkpoint import load_checkpoint, save_checkpoint
    from ..data import DataLoader, TensorDataset
    from ..models import DigitsCNN
    from ..train import ModelCheckpoint, evaluate, fit
    from ..train.distributed import data_parallel
    from .visualize import plot_feature_maps, plot_filters

    (x_train, y_train), (x_val, y_val), (x_test, y_test) = splits
    start = time.perf_counter()
    print(f"device: {device}" + (f"  (BLAS threads: {args.threads})" if device == "cpu" else ""))
    print(f"data: {dataset}  train {len(y_train)}  val {len(y_val)}  test {len(y_test)}  "
          f"image {tuple(x_train.shape[1:])}")

    fw.manual_seed(args.seed)
    num_classes = int(max(y_train.max(), y_test.max())) + 1
    model = DigitsCNN(in_channels=x_train.shape[1], num_classes=num_classes, image_size=x_train.shape[-1])
    model.to(device)
    # --cuda-graph: the step count and learning rate on the device, so the recorded step reads nothing on the host,
    # and the fused optim_step kernel (about a dozen launches per step, not ~13 per parameter)
    graph = cuda_graph_possible(args, model, procs)
    optimizer = optim.Adam(model.parameters(), lr=args.lr, capturable=graph, fused=graph or None)
    scheduler = optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=args.epochs)
    initial_epoch = 0
    if args.resume is not None:
        try:
            meta = load_checkpoint(args.resume, model, optimizer)
        except (OSError, ValueError) as exc:
            parser.error(f"--resume {args.resume}: {exc}")
        initial_epoch = meta["epoch"]
        if not isinstance(initial_epoch, int) or initial_epoch < 0:
            parser.error(f"--resume {args.resume}: the checkpoint has no epoch number")
        if initial_epoch > args.epochs:
            parser.error(f"--resume {args.resume}: the checkpoint is at epoch {initial_epoch}, past --epochs "
                         f"{args.epochs}")
        # Put the cosine schedule of this run (T_max = --epochs, which may differ from the first run's) at the
        # epoch reached: the closed form sets the rate, and the recursive steps that follow continue from it.
        for group in optimizer.param_groups:
            group["lr"] = group["initial_lr"] * (1 + math.cos(math.pi * initial_epoch / args.epochs)) / 2
        scheduler.last_epoch = initial_epoch
        print(f"resumed from {args.resume} at epoch {initial_epoch}")
    loss_fn = nn.CrossEntropyLoss()

    # Resumed runs draw fresh augmentation/shuffling streams (seeded by the epoch reached): replaying the
    # first run's streams would repeat its first epochs' batches. Data parallel: every process draws the same
    # global batches (and their augmentation) on the host and keeps its rows of each.
    augment, augment_name = _augmentation(args, args.seed + 7919 * initial_epoch)
    train_loader = DataLoader(TensorDataset(x_train, y_train), batch_size=args.batch_size, shuffle=True,
                              seed=args.seed + 7919 * initial_epoch, device=device if procs is None else "cpu",
                              transform=augment)
    trained, train_loader, step = data_parallel(model, loss_fn, optimizer, train_loader, procs, device)
    main = procs is None or procs.is_main
    graph_step, graph_report = cuda_graph_step(args, model, loss_fn, optimizer, procs)
    step = graph_step or step
    eval_batch = max(args.batch_size, 256)  # no gradients kept: larger batches are cheaper per sample
    val_loader = DataLoader(TensorDataset(x_val, y_val), batch_size=eval_batch, device=device) if len(y_val) else None
    test_loader = DataLoader(TensorDataset(x_test, y_test), batch_size=eval_batch, device=device)

    folder = run_folder(args.out) if main else None
    extra = {"model": "DigitsCNN", "num_classes": num_classes, "image_size": int(x_train.shape[-1]),
             "in_channels": int(x_train.shape[1]), "data": args.data}
    callbacks = [ModelCheckpoint(folder, every=args.checkpoint_every, extra=extra)] \
        if args.checkpoint_every and main else []
    with threadpool_limits(limits=args.threads, user_api="blas"):
        history = fit(trained, loss_fn, optimizer, train_loader, val_loader, epochs=args.epochs, scheduler=scheduler,
                      progress=main and not args.no_progress, initial_epoch=initial_epoch, callbacks=callbacks,
                      step=step)
        result = evaluate(model, test_loader, loss_fn, num_classes=num_classes)
    elapsed = time.perf_counter() - start
    if not main:
        return 0
    ci, test_metrics = report_classification(result, args.seed)

    save_checkpoint(folder / "checkpoint.safetensors", model, optimizer, epoch=args.epochs, extra=extra)
    if len(history):
        plot_learning_curve(history, folder / "learning_curve.png")
    plot_confusion(result.confusion_matrix, result.accuracy, folder / "confusion_matrix.png")
    plot_filters(model, folder / "filters.png")
    plot_feature_maps(model, x_test[0], folder / "feature_maps.png", label=int(y_test[0]))
    metrics = {
        "model": "DigitsCNN",
        "device": device,
        "data": args.data,
        "sizes": {"train": len(y_train), "val": len(y_val), "test": len(y_test)},
        "epochs": args.epochs,
        "resumed_from": None if args.resume is None else {"path": str(args.resume), "epoch": initial_epoch},
        "batch_size": args.batch_size,
        "processes": 1 if procs is None else procs.world_size,
        "lr": args.lr,
        "optimizer": "Adam",
        "scheduler": "CosineAnnealingLR",
        "seed": args.seed,
        "split_seed": SPLIT_SEED,
        "augment": augment_name,
        "threads": args.threads,
        "cuda_graph": cuda_graph_report(graph_step, graph_report),
        **test_metrics,
        "history": history.to_dict(),
        "elapsed_seconds": elapsed,
        "versions": versions(),
    }
    finish_classification(folder, metrics, elapsed, result.accuracy, ci)
    return 0


#: ``--transfer``: pretrain on these digits, then train a new head on the others.
PRETRAIN_CLASSES = (0, 1, 2, 3, 4)
TRANSFER_CLASSES = (5, 6, 7, 8, 9)


def _run_transfer(parser: argparse.ArgumentParser, args: argparse.Namespace, device: str, dataset: str,
                  splits) -> int:
    import numpy as np
    from threadpoolctl import threadpool_limits

    import framework as fw

    from .. import nn, optim
    from ..checkpoint import save_checkpoint
    from ..data import DataLoader, TensorDataset
    from ..models import DigitsCNN
    from ..train import bootstrap_accuracy_ci, evaluate, fit
    from .visualize import plot_filters

    def subset(x, y, classes):
        keep = np.isin(y, classes)
        return x[keep], np.searchsorted(np.asarray(classes), y[keep])  # labels 0..len(classes)-1

    parts = [(subset(x, y, PRETRAIN_CLASSES), subset(x, y, TRANSFER_CLASSES)) for x, y in splits]
    (pre_train, new_train), (pre_val, new_val), (_, new_test) = parts
    if min(len(pre_train[1]), len(new_train[1]), len(new_test[1])) == 0:
        parser.error("--transfer: some split has no digits 0-4 or 5-9 (raise --limit)")
    in_channels, image_size = int(splits[0][0].shape[1]), int(splits[0][0].shape[-1])
    k = len(TRANSFER_CLASSES)
    start = time.perf_counter()
    print(f"device: {device}")
    print(f"transfer: pretrain on digits 0-4 (train {len(pre_train[1])}), new head on digits 5-9 "
          f"(train {len(new_train[1])}, test {len(new_test[1])}), {args.epochs} epochs each")
    loss_fn = nn.CrossEntropyLoss()
    eval_batch = max(args.batch_size, 256)

    def train(model, params, train_xy, val_xy, seed, label):
        print(f"--- {label}")
        graph = cuda_graph_possible(args, model)
        optimizer = optim.Adam(params, lr=args.lr, capturable=graph, fused=graph or None)
        scheduler = optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=args.epochs)
        augment, _ = _augmentation(args, seed)
        loader = DataLoader(TensorDataset(*train_xy), batch_size=args.batch_size, shuffle=True, seed=seed,
                            device=device, transform=augment)
        val = DataLoader(TensorDataset(*val_xy), batch_size=eval_batch, device=device) if len(val_xy[1]) else None
        step, _ = cuda_graph_step(args, model, loss_fn, optimizer)
        history = fit(model, loss_fn, optimizer, loader, val, epochs=args.epochs, scheduler=scheduler,
                      progress=not args.no_progress, step=step)
        return optimizer, history

    def new_model(seed):
        fw.manual_seed(seed)
        return DigitsCNN(in_channels=in_channels, num_classes=k, image_size=image_size).to(device)

    test_loader = DataLoader(TensorDataset(*new_test), batch_size=eval_batch, device=device)
    with threadpool_limits(limits=args.threads, user_api="blas"):
        pretrained = new_model(args.seed)
        train(pretrained, pretrained.parameters(), pre_train, pre_val, args.seed, "pretraining on digits 0-4")

        # Same seed for both 5-9 models: the heads start from identical weights; only the features differ.
        transfer = new_model(args.seed + 1)
        conv_state = {name: t for name, t in pretrained.state_dict().items() if name.split(".")[0] in ("0", "3")}
        transfer.load_state_dict(conv_state, strict=False)
        transfer[0].freeze()
        transfer[3].freeze()
        trainable = [p for p in transfer.parameters() if p.requires_grad]
        transfer_opt, transfer_history = train(transfer, trainable, new_train, new_val, args.seed + 1,
                                               "new head on digits 5-9, frozen conv features")
        scratch = new_model(args.seed + 1)
        _, scratch_history = train(scratch, scratch.parameters(), new_train, new_val, args.seed + 1,
                                   "from scratch on digits 5-9")
        transfer_result = evaluate(transfer, test_loader, loss_fn, num_classes=k)
        scratch_result = evaluate(scratch, test_loader, loss_fn, num_classes=k)
    ci = bootstrap_accuracy_ci(transfer_result.correct, seed=args.seed)
    elapsed = time.perf_counter() - start

    folder = run_folder(args.out, prefix="cnn-transfer")
    save_checkpoint(folder / "checkpoint.safetensors", transfer, transfer_opt, epoch=args.epochs,
                    extra={"model": "DigitsCNN", "num_classes": k, "image_size": image_size,
                           "in_channels": in_channels, "data": args.data, "classes": list(TRANSFER_CLASSES),
                           "frozen": ["0", "3"]})
    save_checkpoint(folder / "pretrained.safetensors", pretrained, epoch=args.epochs,
                    extra={"model": "DigitsCNN", "num_classes": k, "image_size": image_size,
                           "in_channels": in_channels, "data": args.data, "classes": list(PRETRAIN_CLASSES)})
    plot_learning_curve(transfer_history, folder / "learning_curve.png")
    plot_learning_curve(scratch_history, folder / "learning_curve_scratch.png")
    plot_confusion(transfer_result.confusion_matrix, transfer_result.accuracy, folder / "confusion_matrix.png",
                   labels=list(TRANSFER_CLASSES))  # the new head's class k is digit TRANSFER_CLASSES[k]
    plot_filters(transfer, folder / "filters.png")
    metrics = {
        "model": "DigitsCNN",
        "mode": "transfer",
        "device": device,
        "data": args.data,
        "pretrain_classes": list(PRETRAIN_CLASSES),
        "transfer_classes": list(TRANSFER_CLASSES),
        "sizes": {"pretrain_train": len(pre_train[1]), "train": len(new_train[1]), "val": len(new_val[1]),
                  "test": len(new_test[1])},
        "epochs": args.epochs,
        "batch_size": args.batch_size,
        "lr": args.lr,
        "seed": args.seed,
        "split_seed": SPLIT_SEED,
        "frozen_layers": ["0 (Conv2d)", "3 (Conv2d)"],
        "trainable_parameters": {"transfer": transfer.num_parameters(trainable_only=True),
                                 "scratch": scratch.num_parameters(trainable_only=True)},
        "test_accuracy": transfer_result.accuracy,
        "test_accuracy_ci95": list(ci),
        "transfer_test_accuracy": transfer_result.accuracy,
        "scratch_test_accuracy": scratch_result.accuracy,
        "confusion_matrix": transfer_result.confusion_matrix.tolist(),
        "confusion_matrix_labels": list(TRANSFER_CLASSES),
        "history": transfer_history.to_dict(),
        "scratch_history": scratch_history.to_dict(),
        "elapsed_seconds": elapsed,
        "versions": versions(),
    }
    print("transfer confusion matrix (rows: true digit, columns: predicted digit):")
    print(format_confusion(transfer_result.confusion_matrix, labels=list(TRANSFER_CLASSES)))
    print(f"from-scratch test accuracy on digits 5-9: {100 * scratch_result.accuracy:.1f}%")
    print(f"transfer (frozen conv features) test accuracy on digits 5-9: {100 * transfer_result.accuracy:.1f}%")
    finish_classification(folder, metrics, elapsed, transfer_result.accuracy, ci)
    return 0
