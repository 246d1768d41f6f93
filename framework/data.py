"""Augmentations and the small image datasets the examples train on.

The datasets and the DataLoader live in :mod:`framework.utils.data` (``torch.utils.data``'s names and
semantics); they are re-exported here for the training commands. The loader builds each batch with one
fancy-indexing gather per array when the dataset is a :class:`TensorDataset` (or a :class:`Subset` of
one, however nested), so an epoch costs one Python iteration per *batch*, not per sample.

Batches are assembled on the host (where an optional ``transform``, e.g. :class:`RandomShift`, can
augment the inputs) and only then copied to the target device, once per array per batch.
"""

from __future__ import annotations

import gzip
import math
import os
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from . import random as _random
from .utils.data import (
    ConcatDataset,
    DataLoader,
    Dataset,
    DistributedSampler,
    IterableDataset,
    Subset,
    TensorDataset,
    random_split,
)

__all__ = [
    "ConcatDataset",
    "Dataset",
    "IterableDataset",
    "TensorDataset",
    "Subset",
    "DataLoader",
    "DistributedSampler",
    "random_split",
    "RandomShift",
    "RandomRotation",
    "GaussianNoise",
    "Compose",
    "load_digits",
    "load_mnist",
    "train_val_test_split",
]


class RandomShift:
    """Augmentation: move each image by a random whole number of pixels, filling with zeros.

    A ``DataLoader`` ``transform``. Each image of a batch gets its own shift ``(dy, dx)``, drawn
    uniformly from ``[-max_shift, max_shift]`` per axis (the no-shift case included).

    Args:
        max_shift: largest shift in pixels along each axis.
        seed: seed of this transform's own numpy Generator (None: drawn from ``fw.random.generator()``).

    Shapes: ``[N, C, H, W] -> [N, C, H, W]``, same dtype.

    Raises:
        ValueError: a negative ``max_shift``, or an input that is not 4-D.
    """

    def __init__(self, max_shift: int = 1, seed: int | None = None):
        if max_shift < 0:
            raise ValueError(f"RandomShift: max_shift must be >= 0, got {max_shift}")
        self.max_shift = int(max_shift)
        if seed is None:
            seed = int(_random.generator().integers(2**63))
        self.generator = np.random.default_rng(seed)

    def __call__(self, images: np.ndarray) -> np.ndarray:
        if images.ndim != 4:
            raise ValueError(f"RandomShift: expected images [N, C, H, W], got shape {images.shape}")
        m = self.max_shift
        n, _, h, w = images.shape
        padded = np.pad(images, ((0, 0), (0, 0), (m, m), (m, m)))
        # windows[i, c, y, x] is the H x W crop of padded image i whose top-left corner is (y, x);
        # corner (m, m) is the unshifted image.
        windows = np.lib.stride_tricks.sliding_window_view(padded, (h, w), axis=(2, 3))
        corner_y, corner_x = self.generator.integers(0, 2 * m + 1, size=(2, n))
        return np.ascontiguousarray(windows[np.arange(n), :, corner_y, corner_x])


def _transform_generator(seed: int | None) -> np.random.Generator:
    if seed is None:
        seed = int(_random.generator().integers(2**63))
    return np.random.default_rng(seed)


class RandomRotation:
    """Augmentation: rotate each image by its own random angle, uniform in ``[-degrees, degrees]``.

    A ``DataLoader`` ``transform``. Rotates about the image centre with ``scipy.ndimage.rotate``
    (bilinear interpolation, same size, zeros outside the original image); every channel of an image gets
    the same angle.

    Args:
        degrees: largest rotation in degrees, either way (>= 0).
        seed: seed of this transform's own numpy Generator (None: drawn from ``fw.random.generator()``).

    Shapes: ``[N, C, H, W] -> [N, C, H, W]``, same dtype.

    Raises:
        ValueError: a negative ``degrees``, or an input that is not 4-D.
    """

    def __init__(self, degrees: float = 10.0, seed: int | None = None):
        if not degrees >= 0:
            raise ValueError(f"RandomRotation: degrees must be >= 0, got {degrees!r}")
        self.degrees = float(degrees)
        self.generator = _transform_generator(seed)

    def __call__(self, images: np.ndarray) -> np.ndarray:
        from scipy.ndimage import rotate

        if images.ndim != 4:
            raise ValueError(f"RandomRotation: expected images [N, C, H, W], got shape {images.shape}")
        angles = self.generator.uniform(-self.degrees, self.degrees, size=images.shape[0])
        out = np.empty_like(images)
        for i, angle in enumerate(angles):  # one scipy call per image: the angle differs per image
            out[i] = rotate(images[i], angle, axes=(2, 1), reshape=False, order=1, mode="constant", cval=0.0)
        return out


class GaussianNoise:
    """Augmentation: add independent ``N(0, std²)`` noise to every pixel, optionally clipped to a range.

    A ``DataLoader`` ``transform``.

    Args:
        std: standard deviation of the noise (>= 0).
        clip: ``(low, high)`` to clip the result to (e.g. ``(0, 1)`` for images in [0, 1]); None: no clipping.
        seed: seed of this transform's own numpy Generator (None: drawn from ``fw.random.generator()``).

    Shapes: any shape, kept; the dtype is kept.

    Raises:
        ValueError: a negative ``std`` or ``clip`` with ``low > high``.
    """

    def __init__(self, std: float = 0.05, clip: tuple[float, float] | None = (0.0, 1.0), seed: int | None = None):
        if not std >= 0:
            raise ValueError(f"GaussianNoise: std must be >= 0, got {std!r}")
        if clip is not None and not clip[0] <= clip[1]:
            raise ValueError(f"GaussianNoise: clip must be (low, high) with low <= high, got {clip!r}")
        self.std, self.clip = float(std), clip
        self.generator = _transform_generator(seed)

    def __call__(self, images: np.ndarray) -> np.ndarray:
        noisy = images + self.generator.normal(0.0, self.std, size=images.shape).astype(images.dtype)
        if self.clip is not None:
            noisy = np.clip(noisy, self.clip[0], self.clip[1])
        return noisy.astype(images.dtype, copy=False)


class Compose:
    """Apply transforms one after the other (``torchvision.transforms.Compose``'s name).

    Args:
        transforms: callables ``np.ndarray -> np.ndarray``, applied in order.

    Raises:
        TypeError: an element is not callable.
    """

    def __init__(self, transforms: Sequence[Callable[[np.ndarray], np.ndarray]]):
        self.transforms = list(transforms)
        for i, t in enumerate(self.transforms):
            if not callable(t):
                raise TypeError(f"Compose: transforms[{i}] is not callable ({type(t).__name__})")

    def __call__(self, images: np.ndarray) -> np.ndarray:
        for t in self.transforms:
            images = t(images)
        return images

    def __repr__(self) -> str:
        return f"Compose({', '.join(type(t).__name__ for t in self.transforms)})"


# ---------------------------------------------------------------------------------------- datasets


def load_digits() -> tuple[np.ndarray, np.ndarray]:
    """scikit-learn's 8x8 handwritten digits (ships with sklearn, no download).

    Returns:
        ``(images, labels)``: float32 ``[1797, 1, 8, 8]`` in [0, 1] and int64 ``[1797]`` in 0..9.
    """
    from sklearn.datasets import load_digits as _sk_load_digits

    digits = _sk_load_digits()
    images = (digits.images / 16.0).astype(np.float32)[:, None, :, :]  # pixel values are 0..16
    return images, digits.target.astype(np.int64)


_IDX_IMAGES_MAGIC = 2051  # 0x00000803: unsigned bytes, 3 dims
_IDX_LABELS_MAGIC = 2049  # 0x00000801: unsigned bytes, 1 dim


def _find_idx_file(root: Path, prefix: str, kind: str) -> Path:
    # Accept the canonical names, the '.idx3-ubyte' spelling some mirrors use, and gzip'd copies.
    names = [f"{prefix}-{kind}", f"{prefix}-{kind.replace('-idx', '.idx')}"]
    for name in names:
        for candidate in (root / name, root / f"{name}.gz"):
            if candidate.is_file():
                return candidate
    raise FileNotFoundError(f"load_mnist: no {names[0]}[.gz] in {root}")


def _read_idx(path: Path, magic: int, ndim: int) -> np.ndarray:
    """Read one IDX file (raw or .gz) of unsigned bytes, checking its magic number and size."""
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rb") as f:
            raw = f.read()
    except (OSError, EOFError) as exc:  # gzip.BadGzipFile is an OSError
        raise ValueError(f"{path}: cannot read IDX file ({exc})") from exc
    header_size = 4 + 4 * ndim
    if len(raw) < header_size:
        raise ValueError(f"{path}: too short for an IDX header ({len(raw)} bytes)")
    found = int.from_bytes(raw[:4], "big")
    if found != magic:
        raise ValueError(f"{path}: bad IDX magic number {found}, expected {magic}")
    dims = [int.from_bytes(raw[4 + 4 * i:8 + 4 * i], "big") for i in range(ndim)]
    expected = header_size + math.prod(dims)
    if len(raw) != expected:
        raise ValueError(f"{path}: header says dims {dims} ({expected} bytes) but the file has {len(raw)} bytes")
    return np.frombuffer(raw, dtype=np.uint8, offset=header_size).reshape(dims)


def load_mnist(path: str | os.PathLike, kind: str = "train") -> tuple[np.ndarray, np.ndarray]:
    """Read MNIST or Fashion-MNIST from IDX files already on disk (nothing is downloaded).

    Args:
        path: folder holding ``train-images-idx3-ubyte``, ``train-labels-idx1-ubyte`` (``kind='train'``)
            or ``t10k-images-idx3-ubyte``, ``t10k-labels-idx1-ubyte`` (``kind='test'``), raw or ``.gz``.
        kind: ``'train'`` or ``'test'`` (``'t10k'`` is accepted too).

    Returns:
        ``(images, labels)``: float32 ``[N, 1, H, W]`` in [0, 1] and int64 ``[N]``.

    Raises:
        FileNotFoundError: a file is missing.
        ValueError: unknown ``kind``; a file with a wrong magic number (2051 images, 2049 labels), a size
            that disagrees with its header, or image and label counts that differ (the file is named).
    """
    prefixes = {"train": "train", "test": "t10k", "t10k": "t10k"}
    if kind not in prefixes:
        raise ValueError(f"load_mnist: kind must be 'train' or 'test', got {kind!r}")
    root = Path(path)
    images_path = _find_idx_file(root, prefixes[kind], "images-idx3-ubyte")
    labels_path = _find_idx_file(root, prefixes[kind], "labels-idx1-ubyte")
    images = _read_idx(images_path, _IDX_IMAGES_MAGIC, 3)
    labels = _read_idx(labels_path, _IDX_LABELS_MAGIC, 1)
    if images.shape[0] != labels.shape[0]:
        raise ValueError(f"{labels_path}: {labels.shape[0]} labels but {images_path} has {images.shape[0]} images")
    return (images.astype(np.float32) / 255.0)[:, None, :, :], labels.astype(np.int64)


def train_val_test_split(x: np.ndarray, y: np.ndarray, val_size: float = 0.1, test_size: float = 0.2,
                         seed: int = 0, stratify: bool = True) -> tuple[tuple[np.ndarray, np.ndarray], ...]:
    """Split into train/validation/test with ``sklearn.model_selection.train_test_split``.

    Args:
        x, y: inputs ``[N, ...]`` and labels ``[N]``.
        val_size: fraction of the *training part* (what remains after the test split) held out for
            validation; 0 gives an empty validation set.
        test_size: fraction of the whole data held out for testing; 0 gives an empty test set.
        seed: ``random_state`` of both splits (the same seed always gives the same test set).
        stratify: keep the label proportions in every part.

    Returns:
        ``((x_train, y_train), (x_val, y_val), (x_test, y_test))``.

    Raises:
        ValueError: fractions outside [0, 1), or an error from sklearn (e.g. too few items per class).
    """
    from sklearn.model_selection import train_test_split

    for name, value in (("val_size", val_size), ("test_size", test_size)):
        if not 0.0 <= value < 1.0:
            raise ValueError(f"train_val_test_split: {name} must be in [0, 1), got {value}")
    x, y = np.asarray(x), np.asarray(y)

    def split(a: np.ndarray, b: np.ndarray, size: float):
        if size == 0.0:  # sklearn rejects test_size=0; an empty part is what the caller means
            return a, a[:0], b, b[:0]
        return train_test_split(a, b, test_size=size, random_state=seed, stratify=b if stratify else None)

    x_rest, x_test, y_rest, y_test = split(x, y, test_size)
    x_train, x_val, y_train, y_val = split(x_rest, y_rest, val_size)
    return (x_train, y_train), (x_val, y_val), (x_test, y_test)
