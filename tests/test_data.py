"""Datasets, the DataLoader and the dataset readers."""

import gzip

import numpy as np
import pytest

import framework as fw
from framework.data import (
    DataLoader,
    Dataset,
    RandomShift,
    Subset,
    TensorDataset,
    load_digits,
    load_mnist,
    train_val_test_split,
)


def _toy(n=10):
    x = np.arange(n * 3, dtype=np.float32).reshape(n, 3)
    y = np.arange(n, dtype=np.int64)
    return x, y


def _epoch_labels(loader):
    return np.concatenate([y.numpy() for _, y in loader])


def test_tensor_dataset_items_and_length():
    x, y = _toy()
    ds = TensorDataset(x, fw.tensor(y))
    assert len(ds) == 10
    xi, yi = ds[3]
    np.testing.assert_array_equal(xi, x[3])
    assert yi == 3


def test_tensor_dataset_rejects_mismatched_lengths():
    with pytest.raises(ValueError, match="first dimension"):
        TensorDataset(np.zeros((3, 2)), np.zeros(4))


def test_loader_batches_shapes_dtypes_and_len():
    x, y = _toy(10)
    loader = DataLoader(TensorDataset(x, y), batch_size=4)
    batches = list(loader)
    assert len(loader) == len(batches) == 3
    assert [b[0].shape for b in batches] == [(4, 3), (4, 3), (2, 3)]
    assert all(isinstance(t, fw.Tensor) and t.device == "cpu" for b in batches for t in b)
    assert batches[0][0].dtype == "float32" and batches[0][1].dtype == "int64"
    np.testing.assert_array_equal(_epoch_labels(loader), y)  # no shuffle: dataset order


def test_drop_last():
    x, y = _toy(10)
    loader = DataLoader(TensorDataset(x, y), batch_size=4, drop_last=True)
    assert len(loader) == 2
    assert [b[1].shape[0] for b in loader] == [4, 4]


def test_shuffle_is_a_fresh_permutation_each_epoch_and_seeded():
    x, y = _toy(50)
    loader = DataLoader(TensorDataset(x, y), batch_size=8, shuffle=True, seed=123)
    first, second = _epoch_labels(loader), _epoch_labels(loader)
    for epoch in (first, second):
        np.testing.assert_array_equal(np.sort(epoch), y)  # every item exactly once
    assert not np.array_equal(first, second)
    assert not np.array_equal(first, y)
    again = DataLoader(TensorDataset(x, y), batch_size=8, shuffle=True, seed=123)
    np.testing.assert_array_equal(_epoch_labels(again), first)
    np.testing.assert_array_equal(_epoch_labels(again), second)
    # inputs stay paired with their labels
    for xb, yb in loader:
        np.testing.assert_array_equal(xb.numpy(), x[yb.numpy()])


def test_shuffle_without_seed_follows_manual_seed():
    x, y = _toy(30)
    fw.manual_seed(7)
    a = _epoch_labels(DataLoader(TensorDataset(x, y), batch_size=5, shuffle=True))
    fw.manual_seed(7)
    b = _epoch_labels(DataLoader(TensorDataset(x, y), batch_size=5, shuffle=True))
    np.testing.assert_array_equal(a, b)


def test_subset_fast_path_and_nested_subsets():
    x, y = _toy(20)
    inner = Subset(TensorDataset(x, y), np.arange(5, 20))
    outer = Subset(inner, [0, 2, 4, -1])
    np.testing.assert_array_equal(_epoch_labels(DataLoader(outer, batch_size=3)), [5, 7, 9, 19])
    assert outer[1][1] == 7


class _SquaresDataset(Dataset):
    """A generic dataset (no arrays to fancy-index): items are (array, python int)."""

    def __len__(self):
        return 7

    def __getitem__(self, i):
        return np.full((2,), i * i, dtype=np.float32), i


def test_generic_dataset_is_stacked():
    batches = list(DataLoader(_SquaresDataset(), batch_size=3))
    assert [b[0].shape for b in batches] == [(3, 2), (3, 2), (1, 2)]
    np.testing.assert_array_equal(batches[1][0].numpy()[:, 0], [9, 16, 25])
    np.testing.assert_array_equal(batches[2][1].numpy(), [6])


def test_transform_is_applied_to_inputs_only():
    x, y = _toy(6)
    loader = DataLoader(TensorDataset(x, y), batch_size=6, transform=lambda a: a * 2)
    xb, yb = next(iter(loader))
    np.testing.assert_array_equal(xb.numpy(), 2 * x)
    np.testing.assert_array_equal(yb.numpy(), y)


def test_random_shift_moves_each_image_by_at_most_one_pixel(rng):
    images = rng.random((64, 2, 5, 6)).astype(np.float32) + 1.0  # no zeros, so fill is detectable
    shifted = RandomShift(1, seed=0)(images)
    assert shifted.shape == images.shape and shifted.dtype == images.dtype
    seen = set()
    for src, out in zip(images, shifted):
        matches = []
        for dy in (-1, 0, 1):
            for dx in (-1, 0, 1):
                expected = np.zeros_like(src)
                ys, yd = (slice(0, 5 - dy), slice(dy, 5)) if dy >= 0 else (slice(-dy, 5), slice(0, 5 + dy))
                xs, xd = (slice(0, 6 - dx), slice(dx, 6)) if dx >= 0 else (slice(-dx, 6), slice(0, 6 + dx))
                expected[:, yd, xd] = src[:, ys, xs]
                if np.array_equal(out, expected):
                    matches.append((dy, dx))
        assert len(matches) == 1  # both channels moved together, zeros filled in
        seen.add(matches[0])
    assert len(seen) == 9  # all nine shifts occur in 64 draws
    np.testing.assert_array_equal(RandomShift(0)(images), images)
    with pytest.raises(ValueError, match="N, C, H, W"):
        RandomShift(1)(images[0])


def test_batch_size_must_be_positive():
    with pytest.raises(ValueError, match="batch_size"):
        DataLoader(TensorDataset(*_toy()), batch_size=0)


def test_load_digits():
    images, labels = load_digits()
    assert images.shape == (1797, 1, 8, 8) and images.dtype == np.float32
    assert labels.shape == (1797,) and labels.dtype == np.int64
    assert images.min() == 0.0 and images.max() == 1.0
    assert set(np.unique(labels)) == set(range(10))


def test_train_val_test_split_sizes_and_stratification():
    images, labels = load_digits()
    (xtr, ytr), (xva, yva), (xte, yte) = train_val_test_split(images, labels, val_size=0.1, test_size=0.2)
    assert len(yte) == 360 and len(ytr) + len(yva) == 1437 and len(yva) == 144
    assert len(ytr) == len(xtr) and len(yva) == len(xva) and len(yte) == len(xte)
    assert np.abs(np.bincount(yte) / len(yte) - np.bincount(labels) / len(labels)).max() < 0.01
    (_, y2), _, _ = train_val_test_split(images, labels, val_size=0.1, test_size=0.2)
    np.testing.assert_array_equal(ytr, y2)  # same seed, same split
    (_, _), (xv0, _), _ = train_val_test_split(images, labels, val_size=0.0)
    assert xv0.shape == (0, 1, 8, 8)


def _write_idx(path, magic, array, compress=False):
    header = magic.to_bytes(4, "big") + b"".join(int(n).to_bytes(4, "big") for n in array.shape)
    data = header + array.astype(np.uint8).tobytes()
    with (gzip.open if compress else open)(path, "wb") as f:
        f.write(data)


@pytest.mark.parametrize("compress", [False, True])
@pytest.mark.parametrize("kind,prefix", [("train", "train"), ("test", "t10k")])
def test_load_mnist_reads_idx_files(tmp_path, rng, compress, kind, prefix):
    images = rng.integers(0, 256, size=(5, 28, 28))
    labels = rng.integers(0, 10, size=5)
    suffix = ".gz" if compress else ""
    _write_idx(tmp_path / f"{prefix}-images-idx3-ubyte{suffix}", 2051, images, compress)
    _write_idx(tmp_path / f"{prefix}-labels-idx1-ubyte{suffix}", 2049, labels, compress)
    x, y = load_mnist(tmp_path, kind)
    assert x.shape == (5, 1, 28, 28) and x.dtype == np.float32
    assert y.dtype == np.int64
    np.testing.assert_allclose(x[:, 0], images / 255.0, rtol=1e-6)
    np.testing.assert_array_equal(y, labels)


def test_load_mnist_bad_magic_names_the_file(tmp_path):
    _write_idx(tmp_path / "train-images-idx3-ubyte", 2049, np.zeros((2, 4, 4)))  # a label magic
    _write_idx(tmp_path / "train-labels-idx1-ubyte", 2049, np.zeros(2))
    with pytest.raises(ValueError, match=r"train-images-idx3-ubyte.*magic number 2049, expected 2051"):
        load_mnist(tmp_path)


def test_load_mnist_truncated_file_and_count_mismatch(tmp_path):
    _write_idx(tmp_path / "train-images-idx3-ubyte", 2051, np.zeros((3, 4, 4)))
    _write_idx(tmp_path / "train-labels-idx1-ubyte", 2049, np.zeros(2))
    with pytest.raises(ValueError, match="train-labels-idx1-ubyte"):
        load_mnist(tmp_path)
    path = tmp_path / "train-images-idx3-ubyte"
    path.write_bytes(path.read_bytes()[:-5])
    with pytest.raises(ValueError, match=r"train-images-idx3-ubyte.*bytes"):
        load_mnist(tmp_path)


def test_load_mnist_missing_files(tmp_path):
    with pytest.raises(FileNotFoundError, match="t10k-images-idx3-ubyte"):
        load_mnist(tmp_path, "test")
    with pytest.raises(ValueError, match="kind"):
        load_mnist(tmp_path, "validation")


# ------------------------------------------------------------------------ rotation, noise, compose


def test_random_rotation_matches_scipy_per_image_and_is_seeded(rng):
    from scipy.ndimage import rotate

    from framework.data import RandomRotation

    images = rng.random((6, 2, 8, 8)).astype(np.float32)
    out = RandomRotation(10, seed=3)(images)
    assert out.shape == images.shape and out.dtype == np.float32
    angles = np.random.default_rng(3).uniform(-10, 10, size=6)  # the transform's own stream
    for i, angle in enumerate(angles):
        expected = rotate(images[i], angle, axes=(2, 1), reshape=False, order=1, mode="constant", cval=0.0)
        np.testing.assert_allclose(out[i], expected, rtol=1e-6, atol=1e-6)
    assert not np.allclose(out, images)
    np.testing.assert_array_equal(RandomRotation(10, seed=3)(images), out)  # same seed, same angles
    np.testing.assert_allclose(RandomRotation(0, seed=0)(images), images, atol=1e-6)  # 0 degrees: identity


def test_random_rotation_quarter_turn_is_exact(rng):
    from framework.data import RandomRotation

    images = rng.random((3, 1, 5, 5)).astype(np.float32)
    rot = RandomRotation(90, seed=0)
    rot.generator = type("Fixed", (), {"uniform": staticmethod(lambda low, high, size: np.full(size, 90.0))})()
    # +90 degrees is counter-clockwise as displayed (row 0 at the top): np.rot90 in the (H, W) plane
    np.testing.assert_allclose(rot(images), np.rot90(images, 1, axes=(2, 3)), atol=1e-5)
    with pytest.raises(ValueError, match="degrees"):
        RandomRotation(-1)
    with pytest.raises(ValueError, match=r"\[N, C, H, W\]"):
        RandomRotation(5)(images[0])


def test_gaussian_noise_statistics_clipping_and_seed():
    from framework.data import GaussianNoise

    images = np.full((200, 1, 8, 8), 0.5, np.float32)
    out = GaussianNoise(0.1, clip=None, seed=0)(images)
    assert out.dtype == np.float32 and out.shape == images.shape
    noise = out - images
    assert abs(noise.mean()) < 0.005 and noise.std() == pytest.approx(0.1, rel=0.02)
    np.testing.assert_array_equal(GaussianNoise(0.1, clip=None, seed=0)(images), out)
    clipped = GaussianNoise(1.0, clip=(0.0, 1.0), seed=0)(images)
    assert clipped.min() == 0.0 and clipped.max() == 1.0
    with pytest.raises(ValueError, match="std"):
        GaussianNoise(-0.1)
    with pytest.raises(ValueError, match="clip"):
        GaussianNoise(0.1, clip=(1.0, 0.0))


def test_compose_applies_in_order_in_the_loader(rng):
    from framework.data import Compose, GaussianNoise, RandomRotation

    calls = []
    double = Compose([lambda a: calls.append("a") or a * 2, lambda a: calls.append("b") or a + 1])
    np.testing.assert_array_equal(double(np.ones(3)), np.full(3, 3.0))
    assert calls == ["a", "b"]
    with pytest.raises(TypeError, match=r"transforms\[1\]"):
        Compose([abs, 3])

    x = rng.random((10, 1, 8, 8)).astype(np.float32)
    augment = Compose([RandomShift(1, seed=0), RandomRotation(10, seed=1), GaussianNoise(0.05, seed=2)])
    expected = GaussianNoise(0.05, seed=2)(RandomRotation(10, seed=1)(RandomShift(1, seed=0)(x)))
    loader = DataLoader(TensorDataset(x, np.arange(10)), batch_size=10, transform=augment)
    (inputs, labels), = list(loader)
    np.testing.assert_allclose(inputs.numpy(), expected, rtol=1e-6)
    np.testing.assert_array_equal(labels.numpy(), np.arange(10))
    assert repr(augment) == "Compose(RandomShift, RandomRotation, GaussianNoise)"
