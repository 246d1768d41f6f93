"""``kernelgrad train superres``: ESPCN-style super-resolution, scored on held-out images against bicubic.

Trains :class:`~framework.models.ESPCN` (Shi et al. 2016: convolutions at the low resolution, then a pixel
shuffle; here predicting the residual over a bicubic upsampling) with Adam on the mean squared error between its
output and the high-resolution patch, for one ``--scale`` (2 or 3) per run. It works on the luminance channel, as
ESPCN does: Y of YCbCr (ITU-R BT.601, ``Y = (16 + 65.481 R + 128.553 G + 24.966 B) / 255`` for RGB in [0, 1], the
``rgb2ycbcr`` of the SR literature), grey images as R = G = B.

Data: natural images that ship with the installed packages, split by image (fixed, the same for every
``--seed``): the network trains on :data:`TRAIN_IMAGES` and is scored on :data:`TEST_IMAGES`, which it never
sees while training. Each image is cropped to a multiple of the scale; its low-resolution version is Pillow's
bicubic downscaling (``Image.resize(..., Image.BICUBIC)``, which widens the kernel to antialias, like MATLAB's
``imresize``) of the Y channel, and the bicubic baseline is Pillow's bicubic upscaling of that (A = -0.5; the
network's own upsampling, under its residual, is ``F.interpolate``'s PyTorch bicubic, A = -0.75). The training
set is ``--patches`` random 48x48 high-resolution patches (and their 24x24 or 16x16 low-resolution counterparts,
cut from the downscaled whole image) in random flips and 90-degree rotations.

Scores: PSNR and SSIM (scikit-image's ``peak_signal_noise_ratio`` and ``structural_similarity`` with the Gaussian
window of Wang et al. 2004: sigma 1.5, population covariance) on the Y channel in [0, 1], outputs clipped to
[0, 1], with a border of ``scale`` pixels shaved (the usual SR convention), per test image and their mean. The
held-out PSNR after each epoch is drawn in the learning curve only; nothing is selected by it.

``--gan`` also fine-tunes a copy of the trained network SRGAN's way (Ledig et al. 2017): a small convolutional
discriminator on high-resolution patches (Adam at ``--lr``), and the loss ``MSE + --adversarial-weight ·
BCE(D(SR), 1)`` (Adam at ``--lr / 10``) for ``--gan-epochs`` epochs; both networks are scored and reported.

Quick smoke runs: ``--limit N`` keeps at most N training patches and the first N test images, and
``--max-test-size PIXELS`` centre-crops the test images.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable

import numpy as np

from .common import add_common_arguments, check_common_arguments, run_folder, versions, write_metrics

NAME = "superres"
HELP = "ESPCN super-resolution (x2 or x3) on bundled images, PSNR/SSIM on held-out images vs bicubic"

DEFAULT_EPOCHS = 8
DEFAULT_BATCH_SIZE = 32
DEFAULT_LR = 1e-3
DEFAULT_SCALE = 2
DEFAULT_PATCHES = 4096
DEFAULT_GAN_EPOCHS = 5
DEFAULT_ADVERSARIAL_WEIGHT = 1e-3
#: Side of a high-resolution training patch: a multiple of 2 and 3, so the low-resolution patch is whole.
PATCH_SIZE = 48
#: Smallest --max-test-size: with the border shaved, an image must hold SSIM's 11x11 Gaussian window.
MIN_TEST_SIZE = 24
#: Side of the held-out crop in comparison.png, high-resolution pixels.
CROP_SIZE = 96

#: Training images: name -> where it ships. Fixed, disjoint from TEST_IMAGES.
TRAIN_IMAGES = {"astronaut": "scikit-image", "coffee": "scikit-image", "rocket": "scikit-image",
                "china": "scikit-learn", "grace_hopper": "matplotlib"}
#: Held-out images, never used for training: the first one is cropped for comparison.png.
TEST_IMAGES = {"chelsea": "scikit-image", "camera": "scikit-image", "flower": "scikit-learn",
               "coins": "scikit-image"}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_common_arguments(parser, NAME, DEFAULT_EPOCHS, DEFAULT_BATCH_SIZE, DEFAULT_LR)
    parser.add_argument("--scale", type=int, choices=(2, 3), default=DEFAULT_SCALE,
                        help=f"upscaling factor (default {DEFAULT_SCALE}; run once per scale for x2 and x3)")
    parser.add_argument("--patches", type=int, default=DEFAULT_PATCHES,
                        help=f"{PATCH_SIZE}x{PATCH_SIZE} training patches drawn from the training images "
                             f"(default {DEFAULT_PATCHES})")
    parser.add_argument("--gan", action="store_true",
                        help="also fine-tune a copy of the trained network with an SRGAN-style adversarial loss "
                             "and report both")
    parser.add_argument("--gan-epochs", type=int, default=DEFAULT_GAN_EPOCHS,
                        help=f"epochs of the adversarial fine-tuning with --gan (default {DEFAULT_GAN_EPOCHS})")
    parser.add_argument("--adversarial-weight", type=float, default=DEFAULT_ADVERSARIAL_WEIGHT,
                        help=f"weight of the adversarial BCE beside the pixel MSE with --gan "
                             f"(default {DEFAULT_ADVERSARIAL_WEIGHT}, SRGAN's)")
    parser.add_argument("--max-test-size", type=int, default=None, metavar="PIXELS",
                        help="centre-crop each test image to at most PIXELS x PIXELS (default: whole images; for "
                             "quick smoke runs, e.g. on the Triton interpreter)")


# ------------------------------------------------------------------------------------------------ images


def load_image(name: str) -> np.ndarray:
    """The named bundled image (a key of :data:`TRAIN_IMAGES` or :data:`TEST_IMAGES`) as uint8 ``[H, W, 3]``."""
    if name in ("china", "flower"):
        from sklearn.datasets import load_sample_image

        image = load_sample_image(f"{name}.jpg")
    elif name == "grace_hopper":
        from matplotlib import cbook
        from PIL import Image

        with cbook.get_sample_data("grace_hopper.jpg") as f, Image.open(f) as picture:
            image = np.asarray(picture.convert("RGB"))
    else:
        import skimage.data

        image = getattr(skimage.data, name)()
    if image.ndim == 2:  # grey: R = G = B
        image = np.repeat(image[:, :, None], 3, axis=2)
    return np.ascontiguousarray(image[:, :, :3])


def rgb_to_y(image: np.ndarray) -> np.ndarray:
    """uint8 RGB ``[H, W, 3]`` -> float64 luminance ``[H, W]`` in [16/255, 235/255] (ITU-R BT.601)."""
    r, g, b = (image[:, :, k].astype(np.float64) / 255.0 for k in range(3))
    return (16.0 + 65.481 * r + 128.553 * g + 24.966 * b) / 255.0


def bicubic_resize(image: np.ndarray, height: int, width: int) -> np.ndarray:
    """Pillow's bicubic resize of a float image ``[H, W]`` (mode "F": no rounding) to ``[height, width]``."""
    from PIL import Image

    resized = Image.fromarray(np.ascontiguousarray(image, dtype=np.float32)).resize((width, height),
                                                                                    Image.Resampling.BICUBIC)
    return np.asarray(resized, dtype=np.float64)


def make_pair(y: np.ndarray, scale: int) -> tuple[np.ndarray, np.ndarray]:
    """(high-resolution Y cropped to a multiple of ``scale``, its bicubic downscaling by ``scale``)."""
    h, w = (y.shape[0] // scale) * scale, (y.shape[1] // scale) * scale
    high = y[:h, :w]
    return high, bicubic_resize(high, h // scale, w // scale)


def bicubic_upscale(low: np.ndarray, scale: int) -> np.ndarray:
    """The baseline: Pillow's bicubic upscaling of ``low`` by ``scale``, clipped to [0, 1]."""
    return np.clip(bicubic_resize(low, low.shape[0] * scale, low.shape[1] * scale), 0.0, 1.0)


def centre_crop(image: np.ndarray, size: int | None, multiple: int) -> np.ndarray:
    """The centre ``min(size, side)`` square-or-smaller crop, sides rounded down to a multiple of ``multiple``."""
    if size is None:
        return image
    h, w = (min(size, side) // multiple * multiple for side in image.shape[:2])
    top, left = (image.shape[0] - h) // 2, (image.shape[1] - w) // 2
    return image[top:top + h, left:left + w]


def sample_patches(pairs: list[tuple[np.ndarray, np.ndarray]], count: int, scale: int,
                   rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """``count`` aligned training patches: low ``[count, 1, P/scale, P/scale]``, high ``[count, 1, P, P]`` (float32).

    An image is picked with probability proportional to its area, a low-resolution corner uniformly, and the
    pair is flipped / rotated by one of the 8 symmetries of the square (both the same way).
    """
    side = PATCH_SIZE // scale
    areas = np.array([low.size for _, low in pairs], dtype=np.float64)
    which = rng.choice(len(pairs), size=count, p=areas / areas.sum())
    lows = np.empty((count, 1, side, side), np.float32)
    highs = np.empty((count, 1, PATCH_SIZE, PATCH_SIZE), np.float32)
    for k, index in enumerate(which):
        high, low = pairs[index]
        i = rng.integers(0, low.shape[0] - side + 1)
        j = rng.integers(0, low.shape[1] - side + 1)
        low_patch = low[i:i + side, j:j + side]
        high_patch = high[scale * i:scale * i + PATCH_SIZE, scale * j:scale * j + PATCH_SIZE]
        turns, flip = rng.integers(0, 4), rng.integers(0, 2)
        for target, patch in ((lows, low_patch), (highs, high_patch)):
            patch = np.rot90(patch, turns)
            target[k, 0] = patch[:, ::-1] if flip else patch
    return lows, highs


# ------------------------------------------------------------------------------------------------ scores


def shave(image: np.ndarray, border: int) -> np.ndarray:
    return image[border:image.shape[0] - border, border:image.shape[1] - border]


def psnr(reference: np.ndarray, estimate: np.ndarray, border: int) -> float:
    """PSNR in dB of ``estimate`` against ``reference`` (both in [0, 1], peak 1) with ``border`` pixels shaved."""
    from skimage.metrics import peak_signal_noise_ratio

    return float(peak_signal_noise_ratio(shave(reference, border), shave(estimate, border), data_range=1.0))


def ssim(reference: np.ndarray, estimate: np.ndarray, border: int) -> float:
    """SSIM (Gaussian window, sigma 1.5: Wang et al. 2004) of ``estimate`` against ``reference``, border shaved."""
    from skimage.metrics import structural_similarity

    return float(structural_similarity(shave(reference, border), shave(estimate, border), data_range=1.0,
                                       gaussian_weights=True, sigma=1.5, use_sample_covariance=False))


def upscale(model, low: np.ndarray, device: str) -> np.ndarray:
    """``model`` applied to one whole low-resolution image ``[h, w]``, without gradients, clipped to [0, 1]."""
    import framework as fw

    model.eval()
    with fw.no_grad():
        out = model(fw.tensor(low[None, None].astype(np.float32), device=device)).numpy()[0, 0]
    model.train()
    return np.clip(out.astype(np.float64), 0.0, 1.0)


def score(tests: dict[str, tuple[np.ndarray, np.ndarray]], upscaler: Callable[[np.ndarray], np.ndarray],
          scale: int) -> dict[str, dict[str, float]]:
    """``{image: {"psnr", "ssim"}}`` of ``upscaler(low)`` against ``high`` for every test image."""
    results = {}
    for name, (high, low) in tests.items():
        estimate = upscaler(low)
        results[name] = {"psnr": psnr(high, estimate, scale), "ssim": ssim(high, estimate, scale)}
    return results


def mean_scores(results: dict[str, dict[str, float]]) -> dict[str, float]:
    return {key: float(np.mean([r[key] for r in results.values()])) for key in ("psnr", "ssim")}


# ------------------------------------------------------------------------------------------------ pictures


def plot_comparison(panels: list[tuple[str, np.ndarray]], path, title: str) -> None:
    """One row of grey pictures (``(label, image in [0, 1])``); the low-resolution one is drawn with big pixels."""
    from matplotlib.figure import Figure

    from ..atomic import save_figure

    fig = Figure(figsize=(2.6 * len(panels), 3.0), layout="constrained")
    axes = fig.subplots(1, len(panels))
    for ax, (label, image) in zip(axes, panels):
        ax.imshow(image, cmap="gray", vmin=0.0, vmax=1.0, interpolation="nearest")
        ax.set_title(label, fontsize=9)
        ax.set_xticks([])
        ax.set_yticks([])
    fig.suptitle(title, fontsize=10)
    save_figure(fig, path, dpi=100)


# ------------------------------------------------------------------------------------------------ command


def _report_line(label: str, scale: int, ours: dict[str, float], bicubic: dict[str, float]) -> str:
    gain = ours["psnr"] - bicubic["psnr"]
    return (f"x{scale} PSNR: {label} {ours['psnr']:.2f} dB vs bicubic {bicubic['psnr']:.2f} dB ({gain:+.2f} dB); "
            f"SSIM {ours['ssim']:.3f} vs {bicubic['ssim']:.3f}")


def run(parser: argparse.ArgumentParser, args: argparse.Namespace) -> int:
    import PIL
    import skimage
    from threadpoolctl import threadpool_limits  # installed with scikit-learn

    import framework as fw

    from .. import nn, optim
    from ..checkpoint import save_checkpoint
    from ..data import DataLoader, TensorDataset
    from ..models import ESPCN, PatchDiscriminator, srgan_train_step
    from ..nn import functional as F
    from ..train import BatchMean, Mean, fit

    device = check_common_arguments(parser, args)
    for name in ("patches", "gan_epochs"):
        if getattr(args, name) < 1:
            parser.error(f"--{name.replace('_', '-')} must be >= 1")
    if args.adversarial_weight < 0:
        parser.error("--adversarial-weight must be >= 0")
    if args.max_test_size is not None and args.max_test_size < MIN_TEST_SIZE:
        parser.error(f"--max-test-size must be >= {MIN_TEST_SIZE}")
    scale = args.scale
    start = time.perf_counter()

    train_pairs = [make_pair(rgb_to_y(load_image(name)), scale) for name in TRAIN_IMAGES]
    test_names = list(TEST_IMAGES)[:args.limit]
    tests = {name: make_pair(centre_crop(rgb_to_y(load_image(name)), args.max_test_size, scale), scale)
             for name in test_names}
    count = args.patches if args.limit is None else min(args.patches, args.limit)
    low_patches, high_patches = sample_patches(train_pairs, count, scale, np.random.default_rng(args.seed))
    print(f"device: {device}" + (f"  (BLAS threads: {args.threads})" if device == "cpu" else ""))
    print(f"data: x{scale}  train images {', '.join(TRAIN_IMAGES)} -> {count} patches {PATCH_SIZE}x{PATCH_SIZE}  "
          f"test images {', '.join(test_names)}")

    bicubic_results = score(tests, lambda low: bicubic_upscale(low, scale), scale)
    bicubic_mean = mean_scores(bicubic_results)
    print(f"bicubic (Pillow) on the test images: PSNR {bicubic_mean['psnr']:.2f} dB  SSIM {bicubic_mean['ssim']:.3f}")

    fw.manual_seed(args.seed)
    model = ESPCN(scale=scale).to(device)
    optimizer = optim.Adam(model.parameters(), lr=args.lr)
    scheduler = optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=args.epochs)
    loader = DataLoader(TensorDataset(low_patches, high_patches), batch_size=args.batch_size, shuffle=True,
                        seed=args.seed, device=device)

    def monitor(network) -> Callable[[int], dict]:
        """The held-out mean PSNR after an epoch: drawn in the learning curve only, never used to choose."""
        return lambda epoch: {"test_psnr": mean_scores(score(tests, lambda low: upscale(network, low, device),
                                                             scale))["psnr"]}

    train_start = time.perf_counter()
    with threadpool_limits(limits=args.threads, user_api="blas"):
        history = fit(model, F.mse_loss, optimizer, loader, epochs=args.epochs, scheduler=scheduler,
                      progress=not args.no_progress, metrics={"train_mse": Mean("loss")}, validate=monitor(model),
                      summary=lambda row: f"train MSE {row['train_mse']:.6f}  test PSNR {row['test_psnr']:.2f} dB",
                      postfix=lambda values: {"mse": f"{values['loss']:.6f}"})
        train_seconds = time.perf_counter() - train_start
        results = score(tests, lambda low: upscale(model, low, device), scale)
        gan = gan_history = gan_results = gan_seconds = None
        if args.gan:
            print(f"--gan: fine-tuning a copy for {args.gan_epochs} epochs with MSE + {args.adversarial_weight:g} "
                  "x adversarial BCE")
            gan = ESPCN(scale=scale).to(device)
            gan.load_state_dict(model.state_dict())
            discriminator = PatchDiscriminator().to(device)
            # beta1 = 0.5 as in train gan: momentum from a moving opponent's old gradients destabilises the game.
            # The network, already trained, moves at a tenth of --lr; the new discriminator learns at --lr (at a
            # tenth it stayed near chance, D loss 1.35 after 5 epochs, and the fine-tuning changed nothing).
            g_optimizer = optim.Adam(gan.parameters(), lr=args.lr / 10, betas=(0.5, 0.999))
            d_optimizer = optim.Adam(discriminator.parameters(), lr=args.lr, betas=(0.5, 0.999))

            def gan_step(batch) -> dict:
                low, high = batch
                return srgan_train_step(gan, discriminator, g_optimizer, d_optimizer, low, high,
                                        args.adversarial_weight)

            gan_start = time.perf_counter()
            gan_history = fit(None, None, None, loader, epochs=args.gan_epochs, progress=not args.no_progress,
                              step=gan_step, validate=monitor(gan),
                              metrics={"pixel_mse": BatchMean("pixel_mse"), "adversarial": BatchMean("adversarial"),
                                       "d_loss": BatchMean("d_loss")},
                              summary=lambda row: (f"pixel MSE {row['pixel_mse']:.6f}  adversarial "
                                                   f"{row['adversarial']:.3f}  D loss {row['d_loss']:.3f}  "
                                                   f"test PSNR {row['test_psnr']:.2f} dB"),
                              postfix=lambda values: {"mse": f"{values['pixel_mse']:.6f}",
                                                      "d": f"{values['d_loss']:.3f}"})
            gan_seconds = time.perf_counter() - gan_start
            gan_results = score(tests, lambda low: upscale(gan, low, device), scale)
    elapsed = time.perf_counter() - start
    ours_mean = mean_scores(results)
    gan_mean = mean_scores(gan_results) if gan is not None else None

    folder = run_folder(args.out, NAME)
    extra = {"model": "ESPCN", "scale": scale, "widths": [64, 32], "residual": True, "channels": 1}
    if gan is None:
        save_checkpoint(folder / "checkpoint.safetensors", model, optimizer, epoch=args.epochs, extra=extra)
    else:
        # One file: the networks (keys plain.*, gan.*, discriminator.*) and their optimizers.
        networks = nn.ModuleDict({"plain": model, "gan": gan, "discriminator": discriminator})
        save_checkpoint(folder / "checkpoint.safetensors", networks,
                        {"plain": optimizer, "gan": g_optimizer, "discriminator": d_optimizer}, epoch=args.epochs,
                        extra={**extra, "gan_epochs": args.gan_epochs})
    _plot_learning_curves(history, gan_history, bicubic_mean["psnr"], folder)
    _plot_held_out_crop(tests, test_names[0], model, gan, scale, device, folder)
    per_image = {name: {"size": list(tests[name][0].shape), "source": TEST_IMAGES[name],
                        "bicubic": bicubic_results[name], "ours": results[name],
                        **({"gan": gan_results[name]} if gan is not None else {})} for name in test_names}
    metrics = {
        "model": "ESPCN (residual over bicubic)",
        "device": device,
        "scale": scale,
        "channel": "Y (ITU-R BT.601), [0, 1]",
        "split": {"train": dict(TRAIN_IMAGES), "test": {name: TEST_IMAGES[name] for name in test_names}},
        "patches": count,
        "patch_size": PATCH_SIZE,
        "low_resolution": "Pillow bicubic downscaling",
        "baseline": "Pillow bicubic upscaling",
        "scoring": {"border_shaved": scale, "ssim": "Gaussian window sigma 1.5", "clipped": [0.0, 1.0]},
        "epochs": args.epochs,
        "batch_size": args.batch_size,
        "lr": args.lr,
        "optimizer": "Adam",
        "scheduler": "CosineAnnealingLR",
        "seed": args.seed,
        "threads": args.threads,
        "max_test_size": args.max_test_size,
        "test_images": per_image,
        "mean": {"bicubic": bicubic_mean, "ours": ours_mean, **({"gan": gan_mean} if gan is not None else {})},
        "psnr_gain_db": ours_mean["psnr"] - bicubic_mean["psnr"],
        "history": history,
        "gan": None if gan is None else {"epochs": args.gan_epochs, "adversarial_weight": args.adversarial_weight,
                                         "lr": args.lr / 10, "discriminator_lr": args.lr, "history": gan_history,
                                         "seconds": gan_seconds,
                                         "psnr_gain_db": gan_mean["psnr"] - bicubic_mean["psnr"]},
        "train_seconds": train_seconds,
        "elapsed_seconds": elapsed,
        "versions": {**versions(), "scikit-image": skimage.__version__, "pillow": PIL.__version__},
    }
    write_metrics(folder, metrics)
    print("per test image (PSNR dB / SSIM): " + "  ".join(
        f"{name} {results[name]['psnr']:.2f}/{results[name]['ssim']:.3f} "
        f"(bicubic {bicubic_results[name]['psnr']:.2f}/{bicubic_results[name]['ssim']:.3f})" for name in test_names))
    print(f"run folder: {folder}")
    print(f"elapsed: {elapsed:.1f}s")
    if gan is not None:
        print(_report_line("ours+GAN", scale, gan_mean, bicubic_mean))
    print(_report_line("ours", scale, ours_mean, bicubic_mean))
    return 0


def _plot_learning_curves(history: dict, gan_history: dict | None, bicubic_psnr: float, folder) -> None:
    """learning_curve.png: the training MSE, and the held-out mean PSNR against the bicubic line."""
    from matplotlib.figure import Figure

    from ..atomic import save_figure

    fig = Figure(figsize=(10, 4), layout="constrained")
    left, right = fig.subplots(1, 2)
    epochs = history["epochs"]
    left.plot(epochs, history["train_mse"], marker="o", label="ours")
    right.plot(epochs, history["test_psnr"], marker="o", label="ours")
    if gan_history is not None:
        gan_epochs = [epochs[-1] + e for e in gan_history["epochs"]]
        left.plot(gan_epochs, gan_history["pixel_mse"], marker="o", label="ours+GAN (pixel MSE)")
        right.plot(gan_epochs, gan_history["test_psnr"], marker="o", label="ours+GAN")
    right.axhline(bicubic_psnr, color="gray", linestyle="--", label="bicubic")
    left.set(xlabel="epoch", ylabel="MSE per pixel (Y in [0, 1])", title="training patches")
    right.set(xlabel="epoch", ylabel="mean PSNR (dB)", title="held-out images (monitoring only)")
    for ax in (left, right):
        ax.grid(alpha=0.3)
        ax.legend()
    save_figure(fig, folder / "learning_curve.png", dpi=100)


def _plot_held_out_crop(tests, name: str, model, gan, scale: int, device: str, folder) -> None:
    """comparison.png: low-res / bicubic / ours (/ ours+GAN) / ground truth on a centre crop of a test image."""
    high, low = tests[name]
    crop = min(CROP_SIZE, high.shape[0], high.shape[1]) // scale * scale
    top = (high.shape[0] - crop) // 2 // scale * scale
    left = (high.shape[1] - crop) // 2 // scale * scale
    window = (slice(top, top + crop), slice(left, left + crop))
    low_window = (slice(top // scale, (top + crop) // scale), slice(left // scale, (left + crop) // scale))
    bicubic = bicubic_upscale(low, scale)
    ours = upscale(model, low, device)
    panels = [("low resolution", low[low_window]),
              (f"bicubic {psnr(high, bicubic, scale):.2f} dB", bicubic[window]),
              (f"ours {psnr(high, ours, scale):.2f} dB", ours[window])]
    if gan is not None:
        ours_gan = upscale(gan, low, device)
        panels.append((f"ours+GAN {psnr(high, ours_gan, scale):.2f} dB", ours_gan[window]))
    panels.append(("ground truth", high[window]))
    plot_comparison(panels, folder / "comparison.png",
                    title=f"held-out image '{name}', x{scale} (centre crop; PSNR of the whole image, Y channel)")
