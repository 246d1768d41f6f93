"""``kernelgrad train autoencoder``: a convolutional (optionally denoising) autoencoder on the bundled digits.

Trains ``ConvAutoencoder`` with Adam on the mean squared error between reconstruction and clean image; with
``--denoise`` the encoder sees the image plus clipped Gaussian noise (fresh noise every batch) and is still
scored against the clean image. Writes a run folder with the checkpoint, the learning curve, a picture of test
inputs (noisy inputs) and reconstructions, and ``metrics.json``. The data split is the fixed one of
``train cnn``.
"""

from __future__ import annotations

import argparse
import time

from .common import SPLIT_SEED, add_common_arguments, check_common_arguments, run_folder, versions, write_metrics
from .generative import load_digit_splits, plot_curves, plot_image_rows

NAME = "autoencoder"
HELP = "a convolutional (denoising) autoencoder on the bundled digits"

DEFAULT_EPOCHS = 50
DEFAULT_BATCH_SIZE = 32
DEFAULT_LR = 3e-3
DEFAULT_NOISE_STD = 0.3
#: The noisy test images are drawn once from this seed, so every --seed is scored on the same noisy inputs.
TEST_NOISE_SEED = 1234


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_common_arguments(parser, NAME, DEFAULT_EPOCHS, DEFAULT_BATCH_SIZE, DEFAULT_LR)
    parser.add_argument("--denoise", action="store_true",
                        help="train on noisy inputs (clean targets) and report the denoising gain")
    parser.add_argument("--noise-std", type=float, default=DEFAULT_NOISE_STD,
                        help=f"standard deviation of the Gaussian noise with --denoise (default {DEFAULT_NOISE_STD}; "
                             "noisy pixels are clipped to [0, 1])")
    parser.add_argument("--code-channels", type=int, default=8,
                        help="channels of the 2x2 code (default 8: a 32-number bottleneck for 64 pixels)")


def _mean_squared_error(model, inputs, targets, batch_size: int, device: str) -> tuple[float, object]:
    """Mean over all pixels of (model(inputs) - targets)², and the reconstructions (numpy), without gradients."""
    import numpy as np

    import framework as fw

    model.eval()
    outputs, total = [], 0.0
    with fw.no_grad():
        for start in range(0, len(inputs), batch_size):
            out = model(fw.tensor(inputs[start:start + batch_size], device=device)).numpy()
            total += float(np.sum((out.astype(np.float64) - targets[start:start + batch_size]) ** 2))
            outputs.append(out)
    model.train()
    return total / targets.size, np.concatenate(outputs)


def run(parser: argparse.ArgumentParser, args: argparse.Namespace) -> int:
    import numpy as np
    from threadpoolctl import threadpool_limits  # installed with scikit-learn

    import framework as fw

    from .. import optim
    from ..checkpoint import save_checkpoint
    from ..data import DataLoader, TensorDataset
    from ..models import ConvAutoencoder, add_gaussian_noise
    from ..nn import functional as F
    from ..train import Mean, fit

    device = check_common_arguments(parser, args)
    if not 0 <= args.noise_std:
        parser.error("--noise-std must be >= 0")
    if args.code_channels < 1:
        parser.error("--code-channels must be >= 1")
    (x_train, _), (x_val, _), (x_test, _) = load_digit_splits(parser, args.limit)
    start = time.perf_counter()
    mode = f"denoising (noise std {args.noise_std})" if args.denoise else "plain"
    print(f"device: {device}" + (f"  (BLAS threads: {args.threads})" if device == "cpu" else ""))
    print(f"data: digits  train {len(x_train)}  val {len(x_val)}  test {len(x_test)}  image {tuple(x_train.shape[1:])}"
          f"  mode: {mode}")

    fw.manual_seed(args.seed)
    model = ConvAutoencoder(in_channels=1, image_size=x_train.shape[-1], code_channels=args.code_channels)
    model.to(device)
    optimizer = optim.Adam(model.parameters(), lr=args.lr)
    scheduler = optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=args.epochs)

    noise_rng = np.random.default_rng(args.seed + 1)
    noisy = (lambda images: add_gaussian_noise(images, args.noise_std, noise_rng)) if args.denoise else None
    # The pair (input, target): the loader's transform noises only the first array, the target stays clean.
    loader = DataLoader(TensorDataset(x_train, x_train), batch_size=args.batch_size, shuffle=True, seed=args.seed,
                        device=device, transform=noisy)
    test_rng = np.random.default_rng(TEST_NOISE_SEED)
    val_inputs = add_gaussian_noise(x_val, args.noise_std, test_rng) if args.denoise else x_val
    test_inputs = add_gaussian_noise(x_test, args.noise_std, test_rng) if args.denoise else x_test
    eval_batch = max(args.batch_size, 256)

    def validate(epoch: int) -> dict:
        if not len(x_val):
            return {"val_mse": None}
        return {"val_mse": _mean_squared_error(model, val_inputs, x_val, eval_batch, device)[0]}

    def summary(row: dict) -> str:
        text = f"train MSE {row['train_mse']:.4f}"
        return text + (f"  val MSE {row['val_mse']:.4f}" if row["val_mse"] is not None else "")

    with threadpool_limits(limits=args.threads, user_api="blas"):
        history = fit(model, F.mse_loss, optimizer, loader, epochs=args.epochs, scheduler=scheduler,
                      progress=not args.no_progress, metrics={"train_mse": Mean("loss")}, validate=validate,
                      summary=summary, postfix=lambda values: {"mse": f"{values['loss']:.4f}"})
        test_mse, reconstructions = _mean_squared_error(model, test_inputs, x_test, eval_batch, device)
    elapsed = time.perf_counter() - start
    noisy_mse = float(np.mean((test_inputs.astype(np.float64) - x_test) ** 2)) if args.denoise else None

    folder = run_folder(args.out, NAME)
    save_checkpoint(folder / "checkpoint.safetensors", model, optimizer, epoch=args.epochs,
                    extra={"model": "ConvAutoencoder", "image_size": int(x_train.shape[-1]), "in_channels": 1,
                           "code_channels": args.code_channels, "denoise": args.denoise,
                           "noise_std": args.noise_std})
    curves = {"train": history["train_mse"]}
    if len(x_val):
        curves["validation"] = history["val_mse"]
    plot_curves(history["epochs"], curves, folder / "learning_curve.png", ylabel="MSE per pixel",
                title=f"{mode} autoencoder: mean squared error")
    shown = slice(0, min(10, len(x_test)))
    rows = [("input", x_test[shown])]
    if args.denoise:
        rows.append(("noisy input", test_inputs[shown]))
    rows.append(("reconstruction", reconstructions[shown]))
    plot_image_rows(rows, folder / "reconstructions.png", title=f"test images (test MSE {test_mse:.4f})")
    metrics = {
        "model": "ConvAutoencoder",
        "device": device,
        "data": "digits",
        "sizes": {"train": len(x_train), "val": len(x_val), "test": len(x_test)},
        "epochs": args.epochs,
        "batch_size": args.batch_size,
        "lr": args.lr,
        "optimizer": "Adam",
        "scheduler": "CosineAnnealingLR",
        "seed": args.seed,
        "split_seed": SPLIT_SEED,
        "denoise": args.denoise,
        "noise_std": args.noise_std if args.denoise else None,
        "code_channels": args.code_channels,
        "threads": args.threads,
        "test_mse": test_mse,
        "test_noisy_input_mse": noisy_mse,
        "history": history,
        "elapsed_seconds": elapsed,
        "versions": versions(),
    }
    write_metrics(folder, metrics)
    print(f"run folder: {folder}")
    print(f"elapsed: {elapsed:.1f}s")
    if args.denoise:
        print(f"denoising gain: noisy input MSE {noisy_mse:.4f} -> reconstruction MSE {test_mse:.4f} "
              f"({noisy_mse / test_mse:.1f}x lower)")
    print(f"test MSE: {test_mse:.4f}")
    return 0
