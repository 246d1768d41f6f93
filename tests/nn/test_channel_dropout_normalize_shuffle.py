"""Channel dropout (``dropout1d/2d/3d``), ``F.normalize`` and pixel (un)shuffle against PyTorch: values and
gradients in float64 where the op is deterministic; for channel dropout, the structure PyTorch guarantees
(whole channels dropped, survivors scaled by 1/(1-p), the gradient is the mask) and the keep rate."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch
import torch.nn.functional as tF

import framework as fw
from framework import nn
from framework.nn import functional as F

from ..conftest import rel_err

TOL = 1e-4


def _pair(array: np.ndarray, device: str):
    return (fw.tensor(array.astype(np.float32), device=device, requires_grad=True),
            torch.tensor(array, dtype=torch.float64, requires_grad=True))


def _backward_both(out, ref, rng) -> None:
    g = rng.standard_normal(tuple(ref.shape))
    (out * fw.tensor(g.astype(np.float32), device=out.device)).sum().backward()
    (ref * torch.tensor(g)).sum().backward()


# ----------------------------------------------------------------------------------- channel dropout


@pytest.mark.parametrize("fn, shape, channel_dims", [
    (F.dropout1d, (3, 5, 7), 2), (F.dropout1d, (5, 7), 1),           # batched / unbatched [C, L]
    (F.dropout2d, (2, 4, 3, 5), 2),
    (F.dropout3d, (2, 3, 2, 3, 4), 2), (F.dropout3d, (3, 2, 3, 4), 1),
])
def test_channel_dropout_drops_whole_channels_and_scales(device, rng, fn, shape, channel_dims):
    fw.manual_seed(int(rng.integers(1 << 30)))
    p = 0.4
    values = rng.standard_normal(shape) + 3.0  # no exact zeros in the input
    x = fw.tensor(values.astype(np.float32), device=device, requires_grad=True)
    for _ in range(40):  # draw until some channels are kept and some dropped (a few channels only)
        y = fn(x, p)
        out = y.numpy()
        per_channel = (out != 0).reshape(shape[:channel_dims] + (-1,))
        assert np.all(per_channel.all(-1) | (~per_channel).all(-1)), "a channel was partly dropped"
        kept = per_channel.all(-1)
        if 0 < kept.sum() < kept.size:
            break
    else:
        pytest.fail("40 draws never mixed kept and dropped channels")
    np.testing.assert_allclose(out[out != 0], values[out != 0] / (1 - p), rtol=1e-6)
    y.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), (out != 0) / (1 - p), rtol=1e-6)


def test_channel_dropout_keep_rate_and_eval_identity():
    fw.manual_seed(0)
    x = fw.ones(400, 50, 2, 2)
    kept = (F.dropout2d(x, 0.3).numpy()[:, :, 0, 0] != 0).mean()
    assert abs(kept - 0.7) < 0.01  # 20,000 channel draws: the std of the rate is 0.003
    assert F.dropout2d(x, 0.3, training=False) is x
    module = nn.Dropout2d(0.3).eval()
    assert module(x) is x


def test_channel_dropout_modules_and_validation():
    for ours, theirs in [(nn.Dropout1d(0.2), torch.nn.Dropout1d(0.2)), (nn.Dropout2d(), torch.nn.Dropout2d()),
                         (nn.Dropout3d(0.7), torch.nn.Dropout3d(0.7))]:
        assert repr(ours) == repr(theirs)
    fw.manual_seed(1)
    out = nn.Dropout2d(0.5)(fw.ones(8, 16, 3, 3)).numpy()
    assert set(np.unique(out)) == {0.0, 2.0}
    with pytest.raises(ValueError, match=r"dropout2d\(\): expected a 4-D input"):
        F.dropout2d(fw.ones(2, 3))
    with pytest.raises(ValueError, match=r"dropout1d\(\).*p must be in \[0, 1\]"):
        F.dropout1d(fw.ones(2, 3, 4), 1.5)
    with pytest.raises(TypeError, match="float"):
        F.dropout2d(fw.ones(2, 3, 4, 4, dtype="int64"))
    with warnings.catch_warnings(record=True) as caught:  # PyTorch's warning: 3-D is read as [N, C, L]
        warnings.simplefilter("always")
        out = F.dropout2d(fw.ones(6, 40, 5), 0.5).numpy()
    assert any("interpreted as shape (N, C, L)" in str(w.message) for w in caught)
    rows = out != 0
    assert np.all(rows.all(-1) | (~rows).all(-1))


# ------------------------------------------------------------------------------------------ normalize


@pytest.mark.parametrize("shape, p, dim", [((3, 5), 2.0, 1), ((4, 3, 2), 1.0, 0), ((2, 7), 3.0, -1),
                                           ((1, 6), 0.5, 1), ((5,), 2.0, 0)])
def test_normalize_matches_torch(device, rng, shape, p, dim):
    x, tx = _pair(rng.standard_normal(shape), device)
    out, ref = F.normalize(x, p, dim), tF.normalize(tx, p, dim)
    assert rel_err(out, ref) < TOL
    _backward_both(out, ref, rng)
    assert rel_err(x.grad, tx.grad) < TOL


def test_normalize_clamps_small_norms_like_torch(rng):
    values = rng.standard_normal((4, 3))
    values[1] = 0.0
    values[2] *= 1e-14  # below eps: divided by eps, with no gradient through the norm
    x, tx = _pair(values, "cpu")
    out, ref = F.normalize(x, eps=1e-12), tF.normalize(tx, eps=1e-12)
    assert rel_err(out, ref) < TOL
    _backward_both(out, ref, rng)
    assert np.all(np.isfinite(x.grad.numpy())) and rel_err(x.grad, tx.grad) < TOL


def test_normalize_validation():
    x = fw.ones(2, 3)
    with pytest.raises(ValueError, match="p must be a finite number > 0"):
        F.normalize(x, p=float("inf"))
    with pytest.raises(ValueError, match="p must be"):
        F.normalize(x, p=0)
    with pytest.raises(IndexError, match=r"Dimension out of range \(expected to be in range of \[-2, 1\], but got 2\)"):
        F.normalize(x, dim=2)
    with pytest.raises(ValueError, match="eps"):
        F.normalize(x, eps=-1.0)


# ------------------------------------------------------------------------------------- pixel shuffle


@pytest.mark.parametrize("shape, r", [((2, 8, 3, 5), 2), ((1, 9, 2, 1), 3), ((18, 3, 4), 3), ((2, 2, 4, 3, 2), 1)])
def test_pixel_shuffle_round_trip_matches_torch(device, rng, shape, r):
    x, tx = _pair(rng.standard_normal(shape), device)
    out, ref = F.pixel_shuffle(x, r), tF.pixel_shuffle(tx, r)
    assert out.shape == tuple(ref.shape) and rel_err(out, ref) < 1e-6
    back, ref_back = F.pixel_unshuffle(out, r), tF.pixel_unshuffle(ref, r)
    assert rel_err(back, ref_back) < 1e-6 and rel_err(back, tx) < 1e-6
    _backward_both(back * back, ref_back * ref_back, rng)
    assert rel_err(x.grad, tx.grad) < 1e-6


def test_pixel_shuffle_modules_and_validation():
    assert repr(nn.PixelShuffle(2)) == repr(torch.nn.PixelShuffle(2))
    assert repr(nn.PixelUnshuffle(3)) == repr(torch.nn.PixelUnshuffle(3))
    assert nn.PixelShuffle(2)(fw.ones(1, 8, 2, 3)).shape == (1, 2, 4, 6)
    with pytest.raises(ValueError, match="divisible by upscale_factor"):
        F.pixel_shuffle(fw.ones(1, 6, 2, 2), 2)
    with pytest.raises(ValueError, match="divisible by downscale_factor=2"):
        F.pixel_unshuffle(fw.ones(1, 1, 3, 4), 2)
    with pytest.raises(ValueError, match="upscale_factor must be a positive int"):
        nn.PixelShuffle(0)
