"""Helpers shared by the generative-model commands (``train autoencoder``, ``train vae``, ``train gan``).

The digit images of the fixed split, image grids and loss curves.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from ..atomic import save_figure
from .common import load_data


def load_digit_splits(parser: argparse.ArgumentParser, limit: int | None):
    """The bundled digits in the fixed split of ``train cnn``: ``((x, y) train, (x, y) val, (x, y) test)``.

    Images are float32 ``[N, 1, 8, 8]`` in [0, 1]; ``limit`` keeps the first ``limit`` of each split.
    """
    _, splits = load_data(parser, "digits")
    if limit is not None:
        splits = tuple((x[:limit], y[:limit]) for x, y in splits)  # the splits are already shuffled
    return splits


def plot_image_rows(rows: Sequence[tuple[str, np.ndarray]], path: Path, title: str | None = None) -> None:
    """Save a grid with one labelled row per entry of ``rows`` (``(label, images [N, 1, H, W] in [0, 1])``)."""
    from matplotlib.figure import Figure

    columns = max(len(images) for _, images in rows)
    fig = Figure(figsize=(0.8 * columns + 1.2, 0.9 * len(rows) + (0.4 if title else 0)), layout="constrained")
    axes = np.atleast_2d(fig.subplots(len(rows), columns, squeeze=False))
    for r, (label, images) in enumerate(rows):
        for c in range(columns):
            ax = axes[r, c]
            ax.set_xticks([])
            ax.set_yticks([])
            if c < len(images):
                ax.imshow(images[c, 0], cmap="gray_r", vmin=0.0, vmax=1.0)
            else:
                ax.axis("off")
        axes[r, 0].set_ylabel(label, rotation=0, ha="right", va="center")
    if title:
        fig.suptitle(title)
    save_figure(fig, path, dpi=100)


def tile_images(images: np.ndarray, columns: int = 10, gap: int = 1) -> np.ndarray:
    """Tile ``images [N, 1, H, W]`` into one ``[rows*(H+gap)-gap, columns*(W+gap)-gap]`` array (gaps are NaN)."""
    n, _, h, w = images.shape
    rows = max(1, -(-n // columns))
    mosaic = np.full((rows * (h + gap) - gap, columns * (w + gap) - gap), np.nan)
    for i in range(n):
        r, c = divmod(i, columns)
        mosaic[r * (h + gap):r * (h + gap) + h, c * (w + gap):c * (w + gap) + w] = images[i, 0]
    return mosaic


def plot_image_grid(images: np.ndarray, path: Path, columns: int = 10, title: str | None = None) -> None:
    """Save ``images [N, 1, H, W]`` (values in [0, 1]) as a grid ``columns`` wide.

    One ``imshow`` of a tiled mosaic rather than one axes per image: the GAN writes a grid every epoch, and a
    50-axes figure takes about half a second to draw.
    """
    from matplotlib.figure import Figure

    mosaic = tile_images(images, columns)
    scale = 0.065  # inches per pixel
    fig = Figure(figsize=(mosaic.shape[1] * scale + 0.2, mosaic.shape[0] * scale + (0.5 if title else 0.2)),
                 layout="constrained")
    ax = fig.subplots()
    cmap = _gray_with_gap_color()
    ax.imshow(mosaic, cmap=cmap, vmin=0.0, vmax=1.0, interpolation="nearest")
    ax.axis("off")
    if title:
        ax.set_title(title, fontsize=9)
    save_figure(fig, path, dpi=100)


def _gray_with_gap_color():
    """``gray_r`` (dark ink on white) with NaN, the gaps between tiles, drawn in light blue."""
    from matplotlib import colormaps

    return colormaps["gray_r"].with_extremes(bad="#dde6f0")


def plot_curves(epochs: Sequence[int], series: dict[str, Sequence[float]], path: Path, ylabel: str,
                title: str = "loss") -> None:
    """Save a learning-curve picture: one line per entry of ``series`` (name -> one value per epoch)."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(6, 4), layout="constrained")
    ax = fig.subplots()
    for name, values in series.items():
        ax.plot(list(epochs), list(values), marker="o", label=name)
    ax.set(xlabel="epoch", ylabel=ylabel, title=title)
    ax.grid(alpha=0.3)
    ax.legend()
    save_figure(fig, path, dpi=100)
