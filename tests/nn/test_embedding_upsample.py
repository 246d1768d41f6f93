"""nn.Embedding / F.embedding and nn.Upsample / F.interpolate against torch (float32 here vs float64 torch,
or float64 on both sides for the embedding options): outputs and gradients (repeated indices accumulate,
padding rows get none), max_norm's in-place renorm, scale_grad_by_freq, init and validation."""

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


TOL64 = 1e-6  # float64 on both sides: only summation order differs


def _indices_with_repeats(rng, num, shape, padding_idx=None):
    """Random indices in [0, num - 1), so row num - 1 is unreferenced (unless it is padding_idx) and
    must stay untouched by max_norm; rows 1 and 2 always repeat, and padding_idx (if any) occurs."""
    indices = rng.integers(0, num - 1, size=shape)
    indices.flat[:4] = [1, 1, 2, 2]
    if padding_idx is not None:
        indices.flat[4] = padding_idx % num
    return indices


@pytest.mark.parametrize("padding_idx", [None, 0])
@pytest.mark.parametrize("norm_type", [1, 2.0])
def test_embedding_max_norm_matches_torch(device, rng, norm_type, padding_idx):
    num, dim, max_norm = 7, 4, 1.3
    table = 3 * rng.standard_normal((num, dim))  # most rows are over max_norm in both norms
    weight, ref_weight = pair(table, device, dtype=np.float64)
    indices = _indices_with_repeats(rng, num, (3, 5), padding_idx)
    out = F.embedding(fw.tensor(indices, device=device), weight, padding_idx, max_norm, norm_type)
    ref = tF.embedding(torch.tensor(indices), ref_weight, padding_idx, max_norm, norm_type)
    assert out.shape == tuple(ref.shape) and rel_err(out, ref) < TOL64
    # The renorm happened in place on both sides, on the referenced rows only.
    assert rel_err(weight, ref_weight) < TOL64
    after = weight.numpy()
    np.testing.assert_array_equal(after[num - 1], table[num - 1])
    used = np.unique(indices)
    norms = np.linalg.norm(after[used], ord=norm_type, axis=1)
    assert np.all(norms <= max_norm * (1 + 1e-9))
    assert not np.array_equal(after[used], table[used])  # something was over max_norm, so it changed
    g = rng.standard_normal(tuple(ref.shape))
    out.backward(fw.tensor(g, device=device))
    ref.backward(torch.tensor(g))
    assert rel_err(weight.grad, ref_weight.grad) < TOL64  # no gradient through the renorm


def test_embedding_module_max_norm_updates_its_parameter(device, rng):
    theirs = tnn.Embedding(8, 3, max_norm=0.5).double()
    ours = nn.Embedding(8, 3, max_norm=0.5).to(device)
    ours.load_state_dict({k: v.numpy() for k, v in theirs.state_dict().items()})
    param = ours.weight
    for _ in range(2):  # the second call sees the already renormed rows, as in PyTorch
        idx = rng.integers(0, 8, size=(2, 6))
        out, ref = ours(fw.tensor(idx, device=device)), theirs(torch.tensor(idx))
        assert rel_err(out, ref) < TOL
        assert rel_err(ours.weight, theirs.weight) < TOL
    assert ours.weight is param and list(ours.parameters())[0] is param  # the same Parameter, new values


@pytest.mark.parametrize("padding_idx", [None, 1, -1])
def test_embedding_scale_grad_by_freq_matches_torch(device, rng, padding_idx):
    num, dim = 6, 5
    weight, ref_weight = pair(rng.standard_normal((num, dim)), device, dtype=np.float64)
    indices = _indices_with_repeats(rng, num, (4, 6), padding_idx)
    out = F.embedding(fw.tensor(indices, device=device), weight, padding_idx, scale_grad_by_freq=True)
    ref = tF.embedding(torch.tensor(indices), ref_weight, padding_idx, scale_grad_by_freq=True)
    assert rel_err(out, ref) < TOL64
    g = rng.standard_normal(tuple(ref.shape))
    out.backward(fw.tensor(g, device=device))
    ref.backward(torch.tensor(g))
    assert rel_err(weight.grad, ref_weight.grad) < TOL64
    flat, rows = indices.reshape(-1), g.reshape(-1, dim)
    np.testing.assert_allclose(weight.grad.numpy()[2], rows[flat == 2].mean(0), rtol=1e-9, atol=1e-12)
    if padding_idx is not None:
        assert not weight.grad.numpy()[padding_idx % num].any()


def test_embedding_weight_and_freeze_arguments(device, rng):
    table = fw.tensor(rng.standard_normal((4, 3)), device=device)
    emb = nn.Embedding(4, 3, padding_idx=0, _weight=table)
    # PyTorch uses _weight as is: shared, not re-initialised, padding row not zeroed.
    assert emb.weight.requires_grad and emb.weight._data is table._data
    np.testing.assert_array_equal(emb.weight.numpy(), table.numpy())
    assert not nn.Embedding(4, 3, _weight=table, _freeze=True).weight.requires_grad
    frozen = nn.Embedding(4, 3, padding_idx=1, _freeze=True, device=device, dtype="float64")
    assert not frozen.weight.requires_grad and frozen.weight.dtype == "float64"
    assert not frozen.weight.numpy()[1].any()
    with pytest.raises(ValueError, match=r"_weight.*\(4, 3\).*\(3, 4\)"):
        nn.Embedding(4, 3, _weight=fw.zeros(3, 4, device=device))
    with pytest.raises(TypeError, match="_weight"):
        nn.Embedding(4, 3, _weight=np.zeros((4, 3)))


@pytest.mark.parametrize("freeze", [True, False])
def test_embedding_from_pretrained_options_match_torch(device, rng, freeze):
    table = 2 * rng.standard_normal((5, 4))
    kwargs = dict(freeze=freeze, padding_idx=1, max_norm=1.5, norm_type=1.0, scale_grad_by_freq=True)
    ours = nn.Embedding.from_pretrained(fw.tensor(table, device=device), **kwargs)
    theirs = tnn.Embedding.from_pretrained(torch.tensor(table), **kwargs)
    assert repr(ours) == repr(theirs)
    assert ours.weight.requires_grad == (not freeze) and ours.weight.dtype == "float64"
    idx = _indices_with_repeats(rng, 5, (3, 4), padding_idx=1)
    out, ref = ours(fw.tensor(idx, device=device)), theirs(torch.tensor(idx))
    assert rel_err(out, ref) < TOL64 and rel_err(ours.weight, theirs.weight) < TOL64
    if not freeze:
        g = rng.standard_normal(tuple(ref.shape))
        out.backward(fw.tensor(g, device=device))
        ref.backward(torch.tensor(g))
        assert rel_err(ours.weight.grad, theirs.weight.grad) < TOL64


def test_embedding_repr_lists_options_like_torch():
    for kwargs in [{}, {"max_norm": 1}, {"norm_type": 1.0}, {"norm_type": 2}, {"scale_grad_by_freq": True},
                   {"padding_idx": -1, "max_norm": 2.5, "norm_type": 3, "scale_grad_by_freq": True}]:
        assert repr(nn.Embedding(5, 3, **kwargs)) == repr(tnn.Embedding(5, 3, **kwargs)), kwargs


def test_embedding_rejects_sparse_and_bad_options():
    weight, idx = fw.zeros(5, 3), fw.tensor([0, 1])
    assert F.embedding(idx, weight, sparse=False).shape == (2, 3)
    with pytest.raises(ValueError, match="sparse"):
        F.embedding(idx, weight, sparse=True)
    with pytest.raises(ValueError, match="sparse"):
        nn.Embedding(5, 3, sparse=True)
    with pytest.raises(ValueError, match="sparse"):
        nn.Embedding.from_pretrained(weight, sparse=True)
    for bad in (0, -1.0, float("nan")):
        with pytest.raises(ValueError, match="max_norm"):
            F.embedding(idx, weight, max_norm=bad)
        with pytest.raises(ValueError, match="max_norm"):
            nn.Embedding(5, 3, max_norm=bad)
    for bad in (0, -2.0, float("nan")):
        with pytest.raises(ValueError, match="norm_type"):
            F.embedding(idx, weight, max_norm=1.0, norm_type=bad)
        with pytest.raises(ValueError, match="norm_type"):
            nn.Embedding.from_pretrained(weight, norm_type=bad)
    for bad in ("1", True, [1.0]):
        with pytest.raises(TypeError, match="max_norm"):
            F.embedding(idx, weight, max_norm=bad)
        with pytest.raises(TypeError, match="norm_type"):
            nn.Embedding(5, 3, norm_type=bad)


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
    with pytest.raises(ValueError, match="'area'"):
        F.interpolate(x, scale_factor=2, mode="area")
    with pytest.raises(ValueError, match="'lanczos'"):
        nn.Upsample(scale_factor=2, mode="lanczos")
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
