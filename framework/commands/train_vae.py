"""``kernelgrad train vae``: a convolutional variational autoencoder on the bundled digits.

Trains ``VAE`` with Adam on the negative ELBO, ``BCE + KL``: the reconstruction's binary cross-entropy summed over
pixels and the KL divergence of q(z|x) from N(0, I), both averaged over the batch and reported separately. The
latent space is 2-D by default, so the run folder's ``latent_space.png`` (the test images' latent means, coloured
by digit) is the whole latent space; ``samples.png`` decodes draws from the prior. The data split is the fixed
one of ``train cnn``.
"""

from __future__ import annotations

import argparse
import time

from ..atomic import save_figure
from .common import SPLIT_SEED, add_common_arguments, check_common_arguments, run_folder, versions, write_metrics
from .generative import (
    load_digit_splits,
    plot_curves,
    plot_image_grid,
    plot_image_rows,
)

NAME = "vae"
HELP = "a convolutional variational autoencoder (2-D latent space) on the bundled digits"

DEFAULT_EPOCHS = 40
DEFAULT_BATCH_SIZE = 32
DEFAULT_LR = 2e-3
DEFAULT_LATENT_DIM = 2
#: Seeds of the fixed prior samples and the test-set reparameterisation noise (the same for every --seed).
SAMPLE_SEED = 1234


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_common_arguments(parser, NAME, DEFAULT_EPOCHS, DEFAULT_BATCH_SIZE, DEFAULT_LR)
    parser.add_argument("--latent-dim", type=int, default=DEFAULT_LATENT_DIM,
                        help=f"size of the latent space (default {DEFAULT_LATENT_DIM}, which the latent plot shows "
                             "exactly; larger ones show the first two coordinates)")


def _evaluate(model, images, batch_size: int, device: str):
    """Mean BCE and KL per image over ``images`` (one draw of z each), and the latent means (numpy)."""
    import numpy as np

    import framework as fw

    from ..models import vae_loss_terms

    model.eval()
    bce_total, kl_total, means, reconstructions = 0.0, 0.0, [], []
    with fw.no_grad():
        for start in range(0, len(images), batch_size):
            x = fw.tensor(images[start:start + batch_size], device=device)
            reconstruction, mu, logvar = model(x)
            bce, kl = vae_loss_terms(reconstruction, x, mu, logvar)
            bce_total += bce.item() * x.shape[0]
            kl_total += kl.item() * x.shape[0]
            means.append(mu.numpy())
            reconstructions.append(reconstruction.numpy())
    model.train()
    n = len(images)
    return bce_total / n, kl_total / n, np.concatenate(means), np.concatenate(reconstructions)


def _plot_latent_space(means, labels, path, latent_dim: int) -> None:
    import numpy as np
    from matplotlib.figure import Figure

    fig = Figure(figsize=(6.5, 5.5), layout="constrained")
    ax = fig.subplots()
    cmap = "tab10"
    points = ax.scatter(means[:, 0], means[:, 1], c=labels, cmap=cmap, vmin=-0.5, vmax=9.5, s=12, alpha=0.8)
    colorbar = fig.colorbar(points, ax=ax, ticks=np.arange(10))
    colorbar.set_label("digit")
    axis_names = ("z1", "z2") if latent_dim == 2 else (f"z1 (first of {latent_dim})", "z2")
    ax.set(xlabel=axis_names[0], ylabel=axis_names[1], title="latent means of the test images")
    ax.grid(alpha=0.3)
    save_figure(fig, path, dpi=100)


def run(parser: argparse.ArgumentParser, args: argparse.Namespace) -> int:
    import numpy as np
    from threadpoolctl import threadpool_limits  # installed with scikit-learn

    import framework as fw

    from .. import optim
    from ..checkpoint import save_checkpoint
    from ..data import DataLoader, TensorDataset
    from ..models import VAE, vae_loss_terms
    from ..train import Mean, fit

    device = check_common_arguments(parser, args)
    if args.latent_dim < 1:
        parser.error("--latent-dim must be >= 1")
    (x_train, _), (x_val, _), (x_test, y_test) = load_digit_splits(parser, args.limit)
    start = time.perf_counter()
    print(f"device: {device}" + (f"  (BLAS threads: {args.threads})" if device == "cpu" else ""))
    print(f"data: digits  train {len(x_train)}  val {len(x_val)}  test {len(x_test)}  image {tuple(x_train.shape[1:])}"
          f"  latent dim {args.latent_dim}")

    fw.manual_seed(args.seed)
    model = VAE(in_channels=1, image_size=x_train.shape[-1], latent_dim=args.latent_dim)
    model.to(device)
    optimizer = optim.Adam(model.parameters(), lr=args.lr)
    loader = DataLoader(TensorDataset(x_train), batch_size=args.batch_size, shuffle=True, seed=args.seed,
                        device=device)
    eval_batch = max(args.batch_size, 256)

    def step(batch) -> dict:
        (x,) = batch
        optimizer.zero_grad()
        reconstruction, mu, logvar = model(x)
        bce, kl = vae_loss_terms(reconstruction, x, mu, logvar)
        (bce + kl).backward()
        optimizer.step()
        return {"bce": bce.item(), "kl": kl.item()}

    def validate(epoch: int) -> dict:
        if not len(x_val):
            return {"val_loss": None, "val_bce": None, "val_kl": None}
        val_bce, val_kl, _, _ = _evaluate(model, x_val, eval_batch, device)
        return {"val_loss": val_bce + val_kl, "val_bce": val_bce, "val_kl": val_kl}

    def summary(row: dict) -> str:
        text = f"train loss {row['train_loss']:.2f} (BCE {row['train_bce']:.2f} + KL {row['train_kl']:.2f})"
        if row["val_loss"] is not None:
            text += f"  val loss {row['val_loss']:.2f} (BCE {row['val_bce']:.2f} + KL {row['val_kl']:.2f})"
        return text

    # The loss is BCE + KL: Mean("bce", "kl") sums their epoch totals, as the reported terms.
    metrics = {"train_loss": Mean("bce", "kl"), "train_bce": Mean("bce"), "train_kl": Mean("kl")}
    with threadpool_limits(limits=args.threads, user_api="blas"):
        # No optimizer for fit: the step owns it, and the history has no lr column (the rate is constant).
        history = fit(model, None, None, loader, epochs=args.epochs, progress=not args.no_progress, step=step,
                      metrics=metrics, validate=validate, summary=summary,
                      postfix=lambda values: {"bce": f"{values['bce']:.2f}", "kl": f"{values['kl']:.2f}"})
        # A fixed seed for the test set's z draws and the prior samples: results comparable across --seed.
        fw.manual_seed(SAMPLE_SEED)
        test_bce, test_kl, test_means, test_reconstructions = _evaluate(model, x_test, eval_batch, device)
        model.eval()
        with fw.no_grad():
            samples = model.decode(fw.randn(50, args.latent_dim, device=device)).numpy()
    elapsed = time.perf_counter() - start
    test_loss = test_bce + test_kl

    folder = run_folder(args.out, NAME)
    save_checkpoint(folder / "checkpoint.safetensors", model, optimizer, epoch=args.epochs,
                    extra={"model": "VAE", "image_size": int(x_train.shape[-1]), "in_channels": 1,
                           "latent_dim": args.latent_dim})
    curves = {"train BCE + KL": history["train_loss"], "train BCE": history["train_bce"],
              "train KL": history["train_kl"]}
    if len(x_val):
        curves["validation BCE + KL"] = history["val_loss"]
    plot_curves(history["epochs"], curves, folder / "learning_curve.png", ylabel="nats per image",
                title="VAE loss (negative ELBO) and its terms")
    plot_image_grid(samples, folder / "samples.png", columns=10, title="samples from the prior z ~ N(0, I)")
    shown = slice(0, min(10, len(x_test)))
    plot_image_rows([("input", x_test[shown]), ("reconstruction", test_reconstructions[shown])],
                    folder / "reconstructions.png", title="test images and reconstructions (one z draw each)")
    if args.latent_dim >= 2:
        _plot_latent_space(test_means, y_test, folder / "latent_space.png", args.latent_dim)
    metrics = {
        "model": "VAE",
        "device": device,
        "data": "digits",
        "sizes": {"train": len(x_train), "val": len(x_val), "test": len(x_test)},
        "epochs": args.epochs,
        "batch_size": args.batch_size,
        "lr": args.lr,
        "optimizer": "Adam",
        "seed": args.seed,
        "split_seed": SPLIT_SEED,
        "latent_dim": args.latent_dim,
        "threads": args.threads,
        "test_loss": test_loss,
        "test_bce": test_bce,
        "test_kl": test_kl,
        "test_reconstruction_mse": float(np.mean((test_reconstructions.astype(np.float64) - x_test) ** 2)),
        "history": history,
        "elapsed_seconds": elapsed,
        "versions": versions(),
    }
    write_metrics(folder, metrics)
    print(f"run folder: {folder}")
    print(f"elapsed: {elapsed:.1f}s")
    print(f"test BCE: {test_bce:.2f}  test KL: {test_kl:.2f}  (nats per image)")
    print(f"test loss (BCE + KL): {test_loss:.2f}")
    return 0
