"""``kernelgrad visualize``: pictures of convolution kernels.

``kernelgrad visualize filters RUN_DIR`` draws the learned kernels of the first two convolutions of a
``kernelgrad train cnn`` run (from ``RUN_DIR/checkpoint.safetensors``). ``kernelgrad visualize kernels IMAGE``
applies the classic hand-made image kernels (Sobel x/y, Laplacian, box blur, Gaussian blur, sharpen) with
``F.conv2d`` to a grayscale photo: ``china.jpg`` or ``flower.jpg`` (bundled with scikit-learn) or an image file.

The plotting helpers (:func:`plot_filters`, :func:`plot_feature_maps`) are used by ``train cnn`` too.
"""

from __future__ import annotations

import argparse
import math
from pathlib import Path
from typing import Any

import numpy as np

from ..atomic import save_figure

NAME = "visualize"
HELP = "draw learned conv filters of a run, or classic image kernels applied to a photo"

#: Images shipped with scikit-learn (``sklearn.datasets.load_sample_image``).
SAMPLE_IMAGES = ("china.jpg", "flower.jpg")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    what = parser.add_subparsers(dest="what", metavar="WHAT", required=True)
    filters = what.add_parser("filters", help="the learned kernels of a 'train cnn' run",
                              description="Draw the first two conv layers' kernels of RUN_DIR/checkpoint.safetensors.")
    filters.add_argument("run_dir", metavar="RUN_DIR", help="a run folder of 'kernelgrad train cnn'")
    filters.add_argument("--out", default=None, help="picture path (default RUN_DIR/filters.png)")
    filters.set_defaults(parser=filters)
    kernels = what.add_parser("kernels", help="edge-detection, blur and sharpen kernels applied to a photo",
                              description="Apply Sobel x/y, Laplacian, box blur, Gaussian blur and sharpen kernels "
                                          "with F.conv2d to a grayscale image and draw them in a grid.")
    kernels.add_argument("image", metavar="IMAGE",
                         help="'china.jpg' or 'flower.jpg' (bundled with scikit-learn) or a path to an image file")
    kernels.add_argument("--out", default=None, help="picture path (default kernels-<image name>.png)")
    kernels.add_argument("--device", default="cpu", help="device for the convolutions (default cpu)")
    kernels.set_defaults(parser=kernels)


def run(parser: argparse.ArgumentParser, args: argparse.Namespace) -> int:
    if args.what == "filters":
        return _run_filters(args.parser, args)
    return _run_kernels(args.parser, args)


# ------------------------------------------------------------------------------------------ filters


def load_run_model(parser: argparse.ArgumentParser, checkpoint: Path):
    """Build the DigitsCNN described by a ``train cnn`` checkpoint's metadata and load its weights."""
    import json

    from safetensors import SafetensorError, safe_open

    from ..checkpoint import load_checkpoint
    from ..models import DigitsCNN

    if not checkpoint.is_file():
        parser.error(f"no checkpoint at {checkpoint} (expected a run folder of `kernelgrad train cnn`)")
    try:
        with safe_open(str(checkpoint), framework="numpy") as f:
            meta = json.loads((f.metadata() or {}).get("kernelgrad", "{}"))
    except (SafetensorError, ValueError) as exc:
        parser.error(f"{checkpoint}: corrupted checkpoint ({exc})")
    extra = meta.get("extra") or {}
    if extra.get("model") != "DigitsCNN":
        parser.error(f"{checkpoint}: not a DigitsCNN checkpoint (model {extra.get('model')!r})")
    model = DigitsCNN(in_channels=extra.get("in_channels", 1), num_classes=extra.get("num_classes", 10),
                      image_size=extra.get("image_size", 8))
    try:
        load_checkpoint(checkpoint, model)
    except ValueError as exc:
        parser.error(str(exc))
    return model


def _run_filters(parser: argparse.ArgumentParser, args: argparse.Namespace) -> int:
    run_dir = Path(args.run_dir)
    model = load_run_model(parser, run_dir / "checkpoint.safetensors")
    out = Path(args.out) if args.out else run_dir / "filters.png"
    plot_filters(model, out)
    print(f"filters: {out}")
    return 0


def _mosaic(tiles: np.ndarray) -> np.ndarray:
    """``[rows, cols, h, w]`` -> one ``[rows*(h+1)-1, cols*(w+1)-1]`` image with NaN (blank) gutters."""
    rows, cols, h, w = tiles.shape
    out = np.full((rows * (h + 1) - 1, cols * (w + 1) - 1), np.nan, np.float32)
    for r in range(rows):
        for c in range(cols):
            out[r * (h + 1):r * (h + 1) + h, c * (w + 1):c * (w + 1) + w] = tiles[r, c]
    return out


def _grid(maps: np.ndarray, cols: int) -> np.ndarray:
    """``[n, h, w]`` -> ``[ceil(n/cols), cols, h, w]`` (missing tiles NaN)."""
    n, h, w = maps.shape
    rows = math.ceil(n / cols)
    tiles = np.full((rows * cols, h, w), np.nan, np.float32)
    tiles[:n] = maps
    return tiles.reshape(rows, cols, h, w)


def _convs(model: Any) -> list:
    from .. import nn

    convs = [m for m in model.modules() if isinstance(m, nn.Conv2d)]
    if not convs:
        raise ValueError(f"{type(model).__name__} has no Conv2d layer to draw")
    return convs[:2]


def plot_filters(model: Any, path: str | Path, max_channels: int = 16) -> Path:
    """Draw the kernels of the model's first two ``Conv2d`` layers.

    The first layer's kernels (input channel 0) form one grid; for the second layer each row is an output
    channel and each column an input channel (the first ``max_channels`` of each). Each panel uses a
    symmetric blue-white-red scale: red weights are positive, blue negative.

    Args:
        model: a module with at least one ``nn.Conv2d``.
        path: the picture file.
        max_channels: at most this many rows/columns in the second layer's panel.

    Returns:
        ``path`` as a Path.

    Raises:
        ValueError: the model has no Conv2d.
    """
    from matplotlib.figure import Figure

    convs = _convs(model)
    fig = Figure(figsize=(6 * len(convs), 6), layout="constrained")
    axes = np.atleast_1d(fig.subplots(1, len(convs)))
    for i, (ax, conv) in enumerate(zip(axes, convs)):
        w = conv.weight.numpy().astype(np.float32)  # [K, C, R, S]
        if i == 0:
            tiles = _grid(w[:, 0], cols=min(8, w.shape[0]))
            title = f"conv{i + 1}: {w.shape[0]} kernels {w.shape[2]}x{w.shape[3]} (input channel 0)"
        else:
            tiles = w[:max_channels, :max_channels]
            title = (f"conv{i + 1}: kernel[out, in], out < {tiles.shape[0]} (rows), in < {tiles.shape[1]} (columns)"
                     f"\nof {w.shape[0]} x {w.shape[1]}")
        image = _mosaic(tiles)
        scale = float(np.nanmax(np.abs(image))) or 1.0
        shown = ax.imshow(image, cmap="RdBu_r", vmin=-scale, vmax=scale, interpolation="nearest")
        fig.colorbar(shown, ax=ax, shrink=0.7)
        ax.set_title(title, fontsize=9)
        ax.set_axis_off()
    path = Path(path)
    save_figure(fig, path, dpi=100)
    return path


def feature_maps(model: Any, image: np.ndarray) -> list[np.ndarray]:
    """Activations of one image after each of the model's first two ``Conv2d`` (+ its ReLU, if next).

    Args:
        model: an ``nn.Sequential`` (e.g. DigitsCNN) containing ``Conv2d`` layers.
        image: ``[C, H, W]`` float input.

    Returns:
        a list of ``[K, P, Q]`` numpy arrays, one per drawn conv layer.
    """
    import framework as fw

    from .. import nn

    convs = _convs(model)
    device = convs[0].weight.device
    x = fw.tensor(np.ascontiguousarray(image[None], dtype=np.float32), device=device)
    maps: list[np.ndarray] = []
    was_training = model.training
    model.eval()
    try:
        with fw.no_grad():
            layers = list(model.children())
            for i, layer in enumerate(layers):
                x = layer(x)
                is_conv_out = isinstance(layer, nn.Conv2d) and not (
                    i + 1 < len(layers) and isinstance(layers[i + 1], nn.ReLU))
                if is_conv_out or (isinstance(layer, nn.ReLU) and i > 0 and isinstance(layers[i - 1], nn.Conv2d)):
                    maps.append(x.numpy()[0])
                    if len(maps) == len(convs):
                        break
    finally:
        model.train(was_training)
    return maps


def plot_feature_maps(model: Any, image: np.ndarray, path: str | Path, label: Any = None) -> Path:
    """Draw one input image and its activations after the first two conv layers (see :func:`feature_maps`).

    Returns:
        ``path`` as a Path.
    """
    from matplotlib.figure import Figure

    maps = feature_maps(model, image)
    fig = Figure(figsize=(5 + 5 * len(maps), 5.5), layout="constrained")
    axes = fig.subplots(1, 1 + len(maps), width_ratios=[0.6] + [1.0] * len(maps))
    axes[0].imshow(image[0], cmap="gray_r", interpolation="nearest")
    axes[0].set_title("input" + (f" (label {label})" if label is not None else ""), fontsize=9)
    axes[0].set_axis_off()
    for i, (ax, act) in enumerate(zip(axes[1:], maps)):
        shown = ax.imshow(_mosaic(_grid(act, cols=8)), cmap="viridis", interpolation="nearest")
        fig.colorbar(shown, ax=ax, shrink=0.7)
        ax.set_title(f"conv{i + 1} activations: {act.shape[0]} maps {act.shape[1]}x{act.shape[2]}", fontsize=9)
        ax.set_axis_off()
    path = Path(path)
    save_figure(fig, path, dpi=100)
    return path


# ------------------------------------------------------------------------------------------ kernels


def image_kernels() -> dict[str, np.ndarray]:
    """The classic 2-D image kernels (float32), by name."""
    sobel_x = np.array([[-1, 0, 1], [-2, 0, 2], [-1, 0, 1]], np.float32)
    ax = np.arange(-2, 3, dtype=np.float64)
    gauss = np.exp(-(ax[:, None] ** 2 + ax[None, :] ** 2) / 2.0)  # sigma = 1
    return {
        "Sobel x": sobel_x,
        "Sobel y": sobel_x.T.copy(),
        "Laplacian": np.array([[0, 1, 0], [1, -4, 1], [0, 1, 0]], np.float32),
        "box blur 5x5": np.full((5, 5), 1 / 25, np.float32),
        "Gaussian blur 5x5 (σ=1)": (gauss / gauss.sum()).astype(np.float32),
        "sharpen": np.array([[0, -1, 0], [-1, 5, -1], [0, -1, 0]], np.float32),
    }


def load_grayscale(image: str) -> tuple[np.ndarray, str]:
    """A photo as float32 ``[H, W]`` in [0, 1] (ITU-R 601 luma) and a short name.

    Args:
        image: ``'china.jpg'`` / ``'flower.jpg'`` (scikit-learn's sample images) or a path to an image file.

    Raises:
        FileNotFoundError: neither a sample image nor an existing file.
        ValueError: the file cannot be read as an image.
    """
    if image in SAMPLE_IMAGES:
        from sklearn.datasets import load_sample_image

        pixels = np.asarray(load_sample_image(image))
    else:
        path = Path(image)
        if not path.is_file():
            raise FileNotFoundError(f"{image!r} is neither {' nor '.join(SAMPLE_IMAGES)} nor an existing file")
        from matplotlib.image import imread

        try:
            pixels = np.asarray(imread(path))
        except Exception as exc:  # PIL/matplotlib raise many types for unreadable files
            raise ValueError(f"{path}: cannot read as an image ({exc})") from exc
    pixels = pixels.astype(np.float32)
    if pixels.max() > 1.0:
        pixels /= 255.0
    if pixels.ndim == 3:
        pixels = pixels[..., :3] @ np.array([0.299, 0.587, 0.114], np.float32)
    if pixels.ndim != 2:
        raise ValueError(f"{image}: expected a 2-D grey or colour image, got shape {pixels.shape}")
    return np.ascontiguousarray(pixels), Path(image).stem


def apply_image_kernels(gray: np.ndarray, device: Any = "cpu") -> dict[str, np.ndarray]:
    """Convolve (cross-correlate, as ``F.conv2d``) a grayscale image with each of :func:`image_kernels`.

    Zero padding of ``k // 2`` keeps the image size.

    Args:
        gray: float ``[H, W]``.
        device: where ``F.conv2d`` runs.

    Returns:
        ``name -> float32 [H, W]`` result.
    """
    import framework as fw
    from framework.nn import functional as F

    if gray.ndim != 2:
        raise ValueError(f"apply_image_kernels: gray must be [H, W], got shape {gray.shape}")
    x = fw.tensor(np.ascontiguousarray(gray[None, None], dtype=np.float32), device=device)
    out = {}
    with fw.no_grad():
        for name, kernel in image_kernels().items():
            weight = fw.tensor(kernel[None, None], device=device)
            out[name] = F.conv2d(x, weight, padding=kernel.shape[0] // 2).numpy()[0, 0]
    return out


def plot_image_kernels(gray: np.ndarray, results: dict[str, np.ndarray], path: str | Path, title: str = "") -> Path:
    """Grid of the original image and each kernel's output (edge maps on a symmetric grey scale)."""
    from matplotlib.figure import Figure

    panels = [("original", gray), *results.items()]
    cols = 4
    rows = math.ceil(len(panels) / cols)
    aspect = gray.shape[0] / gray.shape[1]
    fig = Figure(figsize=(4 * cols, 4 * rows * aspect + 0.6), layout="constrained")
    axes = fig.subplots(rows, cols, squeeze=False).ravel()
    # Kernels summing to 0 (edge detectors) give signed responses: zero goes in the middle of the scale;
    # the others (blurs, sharpen) keep the image's brightness and are clipped to [0, 1].
    signed = {name for name, kernel in image_kernels().items() if abs(float(kernel.sum())) < 1e-6}
    for ax, (name, image) in zip(axes, panels):
        if name in signed:
            scale = float(np.abs(image).max()) or 1.0
            ax.imshow(image, cmap="gray", vmin=-scale, vmax=scale)
        else:
            ax.imshow(np.clip(image, 0, 1), cmap="gray", vmin=0, vmax=1)
        ax.set_title(name, fontsize=10)
    for ax in axes:
        ax.set_axis_off()
    if title:
        fig.suptitle(title)
    path = Path(path)
    save_figure(fig, path, dpi=80)
    return path


def _run_kernels(parser: argparse.ArgumentParser, args: argparse.Namespace) -> int:
    from .common import resolve_device

    device = resolve_device(parser, args.device)
    try:
        gray, name = load_grayscale(args.image)
    except (OSError, ValueError) as exc:
        parser.error(str(exc))
    results = apply_image_kernels(gray, device)
    out = Path(args.out) if args.out else Path(f"kernels-{name}.png")
    if out.parent != Path(""):
        out.parent.mkdir(parents=True, exist_ok=True)
    plot_image_kernels(gray, results, out, title=f"{args.image}: {gray.shape[1]}x{gray.shape[0]} grayscale, "
                                                  f"F.conv2d on {device}")
    print(f"image: {args.image}  {gray.shape[1]}x{gray.shape[0]}  device: {device}")
    print(f"kernels: {out}")
    return 0
