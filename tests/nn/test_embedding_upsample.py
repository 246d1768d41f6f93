"""nn.Embedding / F.embedding and nn.Upsample / F.interpolate against torch (float32 here vs float64 torch):
outputs and gradients (repeated indices accumulate, padding rows get none), init and validation."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn as tnn
import torch.nn.functional as tF

import framework as fw
from framework import nn
from framework.nn import functional as F

from ..conftest import pair, rel_err

TOL = 1e-4


# ------------------------------------------------------------------------------------------ embedding


@pytest.mark.parametrize("padding_idx", [None, 2, -1])
@pytest.mark.parametrize("index_shape", [(7,), (3, 5)])
def test_embedding_matches_torch(device, rng, padding_idx, index_shape):
    num, dim = 6, 5
    weight, ref_weight = pair(rng.standard_normal((num, dim)), device)
    indices = rng.integers(0, num, size=index_shape)
    indices.flat[:3] = [1, 1, num - 1]  # repeated indices and the -1 padding row are always present
    if padding_idx is not None:
        indices.flat[3] = padding_idx % num
    out = F.embedding(fw.tensor(indices, device=device), weight, padding_idx)
    ref = tF.embedding(torch.tensor(indices), ref_weight, padding_idx)
    assert out.shape == tuple(ref.shape) and rel_err(out, ref) < TOL
    g = rng.standard_normal(tuple(ref.shape))
    out.backward(fw.tensor(g.astype(np.float32), device=device))
    ref.backward(torch.tensor(g))
    assert rel_err(weight.grad, ref_weight.grad) < TOL
    expected_repeat = g.reshape(-1, dim)[(indices.reshape(-1) == 1)].sum(0)
    np.testing.assert_allclose(weight.grad.numpy()[1], expected_repeat, rtol=1e-5, atol=1e-5)
    if padding_idx is not None:
        assert not weight.grad.numpy()[padding_idx % num].any()


def test_embedding_module_loads_torch_weights_and_trains(device, rng):
    theirs = tnn.Embedding(10, 4, padding_idx=0).double()
    ours = nn.Embedding(10, 4, padding_idx=0)
    assert list(ours.state_dict()) == ["weight"]
    ours.to(device)
    ours.load_state_dict({k: v.numpy() for k, v in theirs.state_dict().items()})
    idx = rng.integers(0, 10, size=(2, 8))
    out, ref = ours(fw.tensor(idx, device=device)), theirs(torch.tensor(idx))
    assert rel_err(out, ref) < TOL
    out.sum().backward()
    ref.sum().backward()
    assert rel_err(ours.weight.grad, theirs.weight.grad) < TOL


def test_embedding_init_and_padding_row():
    fw.manual_seed(0)
    emb = nn.Embedding(500, 20, padding_idx=-2)
    assert emb.padding_idx == 498
    w = emb.weight.numpy()
    assert not w[498].any()
    rest = np.delete(w, 498, axis=0)
    assert abs(rest.mean()) < 0.02 and rest.std() == pytest.approx(1.0, rel=0.03)  # N(0, 1) like torch
    assert repr(emb) == repr(tnn.Embedding(500, 20, padding_idx=-2))


def test_embedding_from_pretrained():
    table = fw.tensor(np.arange(12, dtype=np.float32).reshape(4, 3))
    frozen = nn.Embedding.from_pretrained(table)
    assert not frozen.weight.requires_grad
    np.testing.assert_array_equal(frozen(fw.tensor([3, 0])).numpy(), [[9, 10, 11], [0, 1, 2]])
    assert nn.Embedding.from_pretrained(table, freeze=False).weight.requires_grad


def test_embedding_validation():
    emb = nn.Embedding(5, 3)
    with pytest.raises(ValueError, match=r"\[0, 5\)"):
        emb(fw.tensor([0, 5]))
    with pytest.raises(ValueError, match=r"\[0, 5\)"):
        emb(fw.tensor([-1]))
    with pytest.raises(TypeError, match="integer"):
        emb(fw.tensor([0.0, 1.0]))
    with pytest.raises(ValueError, match="padding_idx"):
        nn.Embedding(5, 3, padding_idx=5)
    with pytest.raises(ValueError, match="embedding_dim"):
        nn.Embedding(5, 0)


# -------------------------------------------------------------------------------------- interpolate


INTERPOLATE_CASES = [
    ((2, 3, 5), {"scale_factor": 2}),
    ((2, 3, 5), {"size": 3}),
    ((1, 2, 4, 5), {"scale_factor": 2}),
    ((1, 2, 4, 5), {"size": (7, 3)}),
    ((1, 2, 4, 5), {"scale_factor": (1.5, 0.6)}),
    ((1, 2, 4, 5), {"scale_factor": 1.7, "recompute_scale_factor": True}),
    ((1, 2, 3, 4, 2), {"scale_factor": (2, 1, 3)}),
]


@pytest.mark.parametrize("mode", ["nearest", "nearest-exact"])
@pytest.mark.parametrize("shape,kwargs", INTERPOLATE_CASES)
def test_interpolate_matches_torch(device, rng, shape, kwargs, mode):
    x, xt = pair(rng.standard_normal(shape), device)
    out = F.interpolate(x, mode=mode, **kwargs)
    ref = tF.interpolate(xt, mode=mode, **kwargs)
    assert out.shape == tuple(ref.shape) and rel_err(out, ref) < TOL
    g = rng.standard_normal(tuple(ref.shape))
    out.backward(fw.tensor(g.astype(np.float32), device=device))
    ref.backward(torch.tensor(g))
    assert rel_err(x.grad, xt.grad) < TOL


def test_upsample_module_matches_torch(device, rng):
    x, xt = pair(rng.standard_normal((2, 3, 4, 4)), device)
    out = nn.Upsample(scale_factor=2)(x)
    ref = tnn.Upsample(scale_factor=2)(xt)
    assert out.shape == (2, 3, 8, 8) and rel_err(out, ref) < TOL
    out.sum().backward()
    ref.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), 4.0)  # every input pixel is read by a 2x2 block
    assert repr(nn.Upsample(scale_factor=2)) == repr(tnn.Upsample(scale_factor=2))


def test_interpolate_validation():
    x = fw.zeros(1, 1, 4, 4)
    with pytest.raises(ValueError, match="'bilinear'"):
        F.interpolate(x, scale_factor=2, mode="bilinear")
    with pytest.raises(ValueError, match="'bicubic'"):
        nn.Upsample(scale_factor=2, mode="bicubic")
    with pytest.raises(ValueError, match="exactly one"):
        F.interpolate(x)
    with pytest.raises(ValueError, match="exactly one"):
        F.interpolate(x, size=2, scale_factor=2)
    with pytest.raises(ValueError, match="2 elements"):
        F.interpolate(x, size=(2, 2, 2))
    with pytest.raises(ValueError, match="positive"):
        F.interpolate(x, scale_factor=-1.0)
    with pytest.raises(ValueError, match="align_corners"):
        F.interpolate(x, scale_factor=2, align_corners=True)
    with pytest.raises(ValueError, match="empty"):
        F.interpolate(x, scale_factor=0.1)
    with pytest.raises(ValueError, match="3 or 4 or 5-D"):
        F.interpolate(fw.zeros(4, 4), scale_factor=2)
