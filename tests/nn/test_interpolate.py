"""F.interpolate's interpolating modes (linear, bilinear, bicubic, trilinear) and nn.Upsample with them,
against torch in float64 (float32 here unless said): outputs, input gradients, reprs and errors.

The full mode x align_corners x sizing product runs on cpu; a few representative cases run on every
device, with tiny shapes for the interpreters."""

from __future__ import annotations

import re

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
TOL64 = 1e-10  # float64 on both sides: only the order of the weighted sums differs

#: One tiny input per mode, odd sizes and batch 1 included (the rank is fixed by the mode).
SHAPES = {"linear": (2, 3, 5), "bilinear": (1, 2, 5, 3), "bicubic": (1, 2, 5, 4), "trilinear": (1, 2, 3, 5, 3)}

#: Sizings, written for any rank (an int or a float applies to every spatial dim).
SIZINGS = [
    {"size": 7},                                                  # odd upsampling
    {"size": 2},                                                  # downsampling by size
    {"size": 1},                                                  # one output pixel (align_corners ratio 0)
    {"scale_factor": 2},
    {"scale_factor": 1.7},                                        # non-integer: source uses 1 / 1.7
    {"scale_factor": 0.6},                                        # downsampling
    {"scale_factor": 1.7, "recompute_scale_factor": True},       # source uses in / out instead
    {"scale_factor": 0.6, "recompute_scale_factor": True},
    {"scale_factor": 1.1},                                        # output size == input size, scale != 1
]


def _torch_grad_from_forward(shape, g, **kwargs) -> torch.Tensor:
    """J^T g for torch's interpolate, with J built column by column from its forward (it is linear in the
    input). Needed where torch's own backward disagrees with its forward (see the bicubic test below)."""
    spatial = shape[2:]
    m = int(np.prod(spatial))
    basis = torch.eye(m, dtype=torch.float64).reshape(m, 1, *spatial)
    columns = tF.interpolate(basis, **kwargs).reshape(m, -1)
    return (torch.tensor(g).reshape(shape[0] * shape[1], -1) @ columns.T).reshape(shape)


def _check_against_torch(device, rng, shape, kwargs, dtype=np.float32, tol=TOL):
    x, xt = pair(rng.standard_normal(shape), device, dtype=dtype)
    out = F.interpolate(x, **kwargs)
    ref = tF.interpolate(xt, **kwargs)
    assert out.shape == tuple(ref.shape) and out.dtype == x.dtype and out.device == x.device
    assert rel_err(out, ref) < tol
    g = rng.standard_normal(tuple(ref.shape))
    out.backward(fw.tensor(g.astype(dtype), device=device))
    if kwargs["mode"] == "bicubic" and tuple(ref.shape) == shape:
        ref_grad = _torch_grad_from_forward(shape, g, **kwargs)
    else:
        ref.backward(torch.tensor(g))
        ref_grad = xt.grad
    assert x.grad.shape == shape and rel_err(x.grad, ref_grad) < tol


@pytest.mark.parametrize("sizing", SIZINGS, ids=lambda s: ",".join(f"{k}={v}" for k, v in s.items()))
@pytest.mark.parametrize("align_corners", [False, True])
@pytest.mark.parametrize("mode", list(SHAPES))
def test_interpolating_modes_match_torch(rng, mode, align_corners, sizing):
    _check_against_torch("cpu", rng, SHAPES[mode], {"mode": mode, "align_corners": align_corners, **sizing})


@pytest.mark.parametrize("mode,shape,kwargs", [
    ("linear", (2, 2, 4), {"scale_factor": 0.6}),
    ("bilinear", (2, 3, 3, 5), {"size": (5, 2)}),                   # batch 2, mixed up/down per dim
    ("bicubic", (1, 1, 6, 3), {"scale_factor": (0.5, 2.5), "recompute_scale_factor": True}),
    ("trilinear", (1, 2, 2, 3, 4), {"scale_factor": (2, 1.5, 0.75)}),
])
def test_per_dim_sizes_match_torch(rng, mode, shape, kwargs):
    for align_corners in (False, True):
        _check_against_torch("cpu", rng, shape, {"mode": mode, "align_corners": align_corners, **kwargs})


@pytest.mark.parametrize("mode,shape,kwargs", [
    ("linear", (1, 2, 5), {"size": 7, "align_corners": True}),
    ("bilinear", (1, 2, 3, 5), {"scale_factor": 1.7}),
    ("bicubic", (1, 1, 5, 4), {"scale_factor": 0.6, "recompute_scale_factor": True}),
    ("trilinear", (1, 1, 2, 3, 3), {"size": (3, 2, 5), "align_corners": True}),
])
def test_interpolating_modes_on_every_device(device, rng, mode, shape, kwargs):
    _check_against_torch(device, rng, shape, {"mode": mode, **kwargs})


def test_float64_matches_torch_closely_on_random_sizings(rng):
    """Exact semantics, not just closeness: float64 on both sides over random sizes and scales agrees to
    rounding, which an off-by-one source index or a wrong ratio could not. (A failure prints its seed.)"""
    for _ in range(150):
        mode = str(rng.choice(list(SHAPES)))
        dims = len(SHAPES[mode]) - 2
        shape = (int(rng.integers(1, 3)), int(rng.integers(1, 3))) + tuple(int(n) for n in rng.integers(1, 7, dims))
        kwargs = {"mode": mode, "align_corners": bool(rng.integers(2))}
        if rng.integers(2):
            kwargs["size"] = tuple(int(n) for n in rng.integers(1, 9, dims))
        else:
            scales = tuple(float(s) for s in np.round(rng.uniform(0.4, 3.0, dims), 2))
            if any(np.floor(n * s) < 1 for n, s in zip(shape[2:], scales)):
                continue
            kwargs["scale_factor"] = scales
            kwargs["recompute_scale_factor"] = bool(rng.integers(2))
        _check_against_torch("cpu", rng, shape, kwargs, dtype=np.float64, tol=TOL64)


def test_align_corners_none_means_false(rng):
    x = fw.tensor(rng.standard_normal((1, 2, 4, 5)).astype(np.float32))
    for mode in ("bilinear", "bicubic"):
        np.testing.assert_array_equal(F.interpolate(x, scale_factor=1.7, mode=mode).numpy(),
                                      F.interpolate(x, scale_factor=1.7, mode=mode, align_corners=False).numpy())


def test_bicubic_same_size_gradient_is_the_gradient_of_the_forward(rng):
    """With scale_factor 1.1 on a 5x4 input the output is 5x4 again, and torch's bicubic forward (like ours)
    still samples at ``(o + 0.5) / 1.1 - 0.5``, but its backward copies the gradient straight through as if
    the op were the identity. Ours is the true gradient of the forward both compute."""
    shape, kwargs = (1, 2, 5, 4), {"scale_factor": 1.1, "mode": "bicubic"}
    x, xt = pair(rng.standard_normal(shape), "cpu", dtype=np.float64)
    out = F.interpolate(x, **kwargs)
    assert out.shape == shape and rel_err(out, tF.interpolate(xt, **kwargs)) < TOL64
    assert not np.allclose(out.numpy(), x.numpy())  # not a copy
    g = rng.standard_normal(shape)
    out.backward(fw.tensor(g))
    assert rel_err(x.grad, _torch_grad_from_forward(shape, g, **kwargs)) < TOL64


def test_linear_modes_copy_an_unchanged_size_like_torch(rng):
    # PyTorch's linear kernels ignore 1 / scale_factor along a dim whose size does not change (5 * 1.1 -> 5).
    x = fw.tensor(rng.standard_normal((1, 1, 5, 4)).astype(np.float32))
    out = F.interpolate(x, scale_factor=(1.1, 1.2), mode="bilinear")
    np.testing.assert_array_equal(out.numpy(), x.numpy())
    np.testing.assert_array_equal(tF.interpolate(torch.tensor(x.numpy()), scale_factor=(1.1, 1.2), mode="bilinear"),
                                  x.numpy())


# -------------------------------------------------------------------------------------------- Upsample


@pytest.mark.parametrize("mode,shape,kwargs", [
    ("linear", (2, 3, 5), {"scale_factor": 2, "align_corners": True}),
    ("bilinear", (1, 2, 3, 4), {"size": (5, 7)}),
    ("bicubic", (1, 2, 4, 3), {"scale_factor": (1.5, 2.0), "align_corners": False}),
    ("trilinear", (1, 1, 2, 3, 2), {"scale_factor": 1.7, "recompute_scale_factor": True}),
])
def test_upsample_module_matches_torch(device, rng, mode, shape, kwargs):
    ours, theirs = nn.Upsample(mode=mode, **kwargs), tnn.Upsample(mode=mode, **kwargs)
    assert repr(ours) == repr(theirs)
    x, xt = pair(rng.standard_normal(shape), device)
    out, ref = ours(x), theirs(xt)
    assert out.shape == tuple(ref.shape) and rel_err(out, ref) < TOL
    g = rng.standard_normal(tuple(ref.shape))
    out.backward(fw.tensor(g.astype(np.float32), device=device))
    ref.backward(torch.tensor(g))
    assert rel_err(x.grad, xt.grad) < TOL


def test_upsample_repr_and_attributes_like_torch():
    for kwargs in [{"scale_factor": 2, "mode": "bilinear", "align_corners": True}, {"size": 5, "mode": "linear"},
                   {"size": (3, 4), "mode": "bicubic"}, {"scale_factor": (2, 3), "mode": "bilinear"},
                   {"scale_factor": 1.5, "mode": "trilinear", "recompute_scale_factor": True}]:
        ours, theirs = nn.Upsample(**kwargs), tnn.Upsample(**kwargs)
        assert repr(ours) == repr(theirs), kwargs
        for name in ("size", "scale_factor", "mode", "align_corners", "recompute_scale_factor"):
            assert getattr(ours, name) == getattr(theirs, name), (kwargs, name)


# ---------------------------------------------------------------------------------------------- errors


@pytest.mark.parametrize("mode,shape", [
    ("bilinear", (1, 2, 4)), ("bicubic", (1, 2, 4)), ("linear", (1, 2, 4, 4)), ("trilinear", (1, 2, 4, 4)),
    ("bilinear", (1, 1, 2, 3, 4)), ("bicubic", (1, 1, 2, 3, 4)), ("linear", (1, 1, 2, 3, 4)),
    ("trilinear", (1, 2, 4)),
])
def test_mode_rank_mismatch_names_mode_and_shape(mode, shape):
    x = fw.zeros(*shape)
    match = f"'{mode}'.*{len(SHAPES[mode])}-D.*{re.escape(str(shape))}"
    with pytest.raises(ValueError, match=match):
        F.interpolate(x, scale_factor=2, mode=mode)
    with pytest.raises(ValueError, match=match):
        nn.Upsample(scale_factor=2, mode=mode)(x)  # the module checks the rank when it sees the input


def test_interpolating_mode_errors():
    x = fw.zeros(1, 1, 4, 4)
    for mode in ("nearest", "nearest-exact"):
        for align_corners in (True, False):
            with pytest.raises(ValueError, match="align_corners"):
                F.interpolate(x, scale_factor=2, mode=mode, align_corners=align_corners)
    with pytest.raises(ValueError, match="align_corners"):
        nn.Upsample(scale_factor=2, align_corners=True)(x)
    with pytest.raises(ValueError, match="antialias"):
        F.interpolate(x, scale_factor=0.5, mode="bilinear", antialias=True)
    with pytest.raises(ValueError, match="recompute_scale_factor"):
        F.interpolate(x, size=3, mode="bilinear", recompute_scale_factor=True)
    with pytest.raises(ValueError, match="'area'"):
        F.interpolate(x, scale_factor=2, mode="area")
    with pytest.raises(ValueError, match="'area'"):
        nn.Upsample(scale_factor=2, mode="area")
    with pytest.raises(ValueError, match="empty"):
        F.interpolate(x, scale_factor=0.2, mode="bicubic")
    with pytest.raises(ValueError, match="2 elements"):
        F.interpolate(x, size=(2, 2, 2), mode="bilinear")
    with pytest.raises(TypeError, match="floating"):
        F.interpolate(fw.zeros(1, 1, 4, 4, dtype="int64"), scale_factor=2, mode="bilinear")
