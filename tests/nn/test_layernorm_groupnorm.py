"""nn.LayerNorm / nn.GroupNorm / F.layer_norm / F.group_norm against torch (float32 here vs float64 torch):
outputs and the input, weight and bias gradients on odd shapes and batch 1, torch state_dicts, defaults,
init, repr and validation."""

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


def _input(rng, shape, device, dtype=np.float32):
    # A non-zero mean and a non-unit scale, so the statistics matter.
    return pair(rng.standard_normal(shape) * 2.0 + 0.5, device, dtype=dtype)


def _affine(rng, shape, device, affine: bool, bias: bool):
    w = pair(rng.uniform(0.5, 1.5, shape), device) if affine else (None, None)
    b = pair(rng.standard_normal(shape), device) if affine and bias else (None, None)
    return w, b


def _check_backward(rng, out, ref, leaves, tol=TOL, dtype=np.float32):
    """Backprop the same random upstream gradient through both and compare each (ours, theirs) leaf's grad."""
    g = rng.standard_normal(tuple(ref.shape))
    out.backward(fw.tensor(g.astype(dtype), device=out.device))
    ref.backward(torch.tensor(g))
    for ours, theirs in leaves:
        if theirs is not None:
            assert ours.grad is not None and rel_err(ours.grad, theirs.grad) < tol


# ---------------------------------------------------------------------------------------- layer_norm


LAYER_NORM_CASES = [
    ((1, 7), 7),                 # batch 1, int normalized_shape
    ((3, 5), [5]),
    ((2, 3, 5), (5,)),
    ((3, 2, 5), (2, 5)),         # two trailing dims
    ((2, 3, 4, 3), [3, 4, 3]),
    ((5,), (5,)),                # no batch dims at all
]


@pytest.mark.parametrize(("affine", "bias"), [(True, True), (True, False), (False, False)],
                         ids=["affine", "weight-only", "plain"])
@pytest.mark.parametrize(("shape", "normalized_shape"), LAYER_NORM_CASES, ids=lambda v: str(v))
def test_functional_layer_norm_matches_torch(device, rng, shape, normalized_shape, affine, bias):
    x, ref_x = _input(rng, shape, device)
    ns = (normalized_shape,) if isinstance(normalized_shape, int) else tuple(normalized_shape)
    (w, ref_w), (b, ref_b) = _affine(rng, ns, device, affine, bias)
    out = F.layer_norm(x, normalized_shape, w, b, eps=1e-3)
    ref = tF.layer_norm(ref_x, ns, ref_w, ref_b, eps=1e-3)
    assert out.shape == tuple(ref.shape) and out.dtype == "float32" and out.device == device
    assert rel_err(out, ref) < TOL
    _check_backward(rng, out, ref, [(x, ref_x), (w, ref_w), (b, ref_b)])


def test_layer_norm_float64_is_tight(device, rng):
    x, ref_x = _input(rng, (2, 3, 5), device, dtype=np.float64)
    w, ref_w = pair(rng.uniform(0.5, 1.5, (3, 5)), device, dtype=np.float64)
    b, ref_b = pair(rng.standard_normal((3, 5)), device, dtype=np.float64)
    out, ref = F.layer_norm(x, (3, 5), w, b), tF.layer_norm(ref_x, (3, 5), ref_w, ref_b)
    assert out.dtype == "float64" and rel_err(out, ref) < 1e-12
    _check_backward(rng, out, ref, [(x, ref_x), (w, ref_w), (b, ref_b)], tol=1e-12, dtype=np.float64)


@pytest.mark.parametrize("kwargs", [{}, {"bias": False}, {"elementwise_affine": False}, {"eps": 1e-2}],
                         ids=["default", "no-bias", "no-affine", "eps"])
@pytest.mark.parametrize(("shape", "normalized_shape"), [((1, 4, 7), 7), ((2, 3, 5), [3, 5])], ids=["ln-7", "ln-3x5"])
def test_layernorm_module_matches_torch(device, rng, shape, normalized_shape, kwargs):
    ours, theirs = _twins(rng, device, nn.LayerNorm(normalized_shape, **kwargs),
                          tnn.LayerNorm(normalized_shape, **kwargs))
    for mode in ("train", "eval"):  # the input's own statistics in both modes
        getattr(ours, mode)()
        getattr(theirs, mode)()
        _check_module(rng, device, ours, theirs, shape)


def _twins(rng, device: str, ours, theirs) -> tuple:
    """``ours`` loaded with ``theirs`` (float64) after giving theirs non-trivial affine parameters."""
    theirs = theirs.double()
    with torch.no_grad():
        for p in theirs.parameters():
            p.copy_(torch.tensor(rng.uniform(0.5, 1.5, tuple(p.shape))))
    assert list(ours.state_dict()) == list(theirs.state_dict())
    ours.load_state_dict(theirs.state_dict())
    return ours.to(device), theirs


def _check_module(rng, device: str, ours, theirs, shape: tuple) -> None:
    """Output, input gradient and every parameter gradient of the two modules on one fresh input."""
    x, ref_x = _input(rng, shape, device)
    out, ref = ours(x), theirs(ref_x)
    assert rel_err(out, ref) < TOL
    their_params = dict(theirs.named_parameters())
    _check_backward(rng, out, ref, [(x, ref_x)] + [(p, their_params[n]) for n, p in ours.named_parameters()])
    ours.zero_grad()
    theirs.zero_grad()


def test_layernorm_defaults_init_and_repr():
    for args, kwargs in [((5,), {}), (([2, 3],), {"eps": 1e-3}), ((4,), {"bias": False}),
                         ((torch.Size([2, 3]),), {"elementwise_affine": False})]:
        ours, theirs = nn.LayerNorm(*args, **kwargs), tnn.LayerNorm(*args, **kwargs)
        assert repr(ours) == repr(theirs)
        assert ours.normalized_shape == theirs.normalized_shape and isinstance(ours.normalized_shape, tuple)
        assert [(n, p.shape) for n, p in ours.named_parameters()] == \
            [(n, tuple(p.shape)) for n, p in theirs.named_parameters()]
        for name, p in ours.named_parameters():
            assert p.dtype == "float32" and p.requires_grad
            np.testing.assert_array_equal(p.numpy(), getattr(theirs, name).detach().numpy())  # ones / zeros
    assert nn.LayerNorm(4, elementwise_affine=False).state_dict() == {}
    ln = nn.LayerNorm(3, dtype="float64")
    assert ln.weight.dtype == "float64" and ln.bias.dtype == "float64"
    with fw.no_grad():
        ln.weight.data = ln.weight.data * 3
    ln.reset_parameters()
    np.testing.assert_array_equal(ln.weight.numpy(), np.ones(3))


# ---------------------------------------------------------------------------------------- group_norm


GROUP_NORM_CASES = [
    ((1, 6, 5), 3),          # batch 1
    ((2, 6, 5), 1),          # one group: LayerNorm over (C, L)
    ((2, 6, 5), 6),          # a group per channel: InstanceNorm
    ((3, 6), 2),             # no spatial dims (3 values a group: with 2, the gradient is ~0 and ill-conditioned)
    ((2, 6, 3, 5), 2),       # 2-D spatial, odd sizes
    ((1, 3, 2, 1, 3), 3),    # 3-D spatial
]


@pytest.mark.parametrize(("affine", "bias"), [(True, True), (True, False), (False, False)],
                         ids=["affine", "weight-only", "plain"])
@pytest.mark.parametrize(("shape", "groups"), GROUP_NORM_CASES, ids=lambda v: str(v))
def test_functional_group_norm_matches_torch(device, rng, shape, groups, affine, bias):
    x, ref_x = _input(rng, shape, device)
    (w, ref_w), (b, ref_b) = _affine(rng, (shape[1],), device, affine, bias)
    out = F.group_norm(x, groups, w, b, eps=1e-3)
    ref = tF.group_norm(ref_x, groups, ref_w, ref_b, eps=1e-3)
    assert out.shape == tuple(ref.shape) and out.dtype == "float32" and out.device == device
    assert rel_err(out, ref) < TOL
    _check_backward(rng, out, ref, [(x, ref_x), (w, ref_w), (b, ref_b)])


def test_group_norm_on_a_permuted_view(device, rng):
    values = rng.standard_normal((2, 5, 6)) * 2.0 + 0.5
    x = fw.tensor(values.astype(np.float32), device=device, requires_grad=True)
    ref_x = torch.tensor(values, requires_grad=True)
    out, ref = F.group_norm(x.permute(0, 2, 1), 3), tF.group_norm(ref_x.permute(0, 2, 1), 3)
    assert rel_err(out, ref) < TOL
    _check_backward(rng, out, ref, [(x, ref_x)])


@pytest.mark.parametrize("kwargs", [{}, {"bias": False}, {"affine": False}, {"eps": 1e-2}],
                         ids=["default", "no-bias", "no-affine", "eps"])
def test_groupnorm_module_matches_torch(device, rng, kwargs):
    ours, theirs = _twins(rng, device, nn.GroupNorm(2, 6, **kwargs), tnn.GroupNorm(2, 6, **kwargs))
    for shape in [(1, 6, 3), (3, 6, 2, 3)]:
        _check_module(rng, device, ours, theirs, shape)


def test_groupnorm_defaults_init_and_repr():
    for args, kwargs in [((2, 4), {}), ((1, 3), {"eps": 1e-3, "affine": False}), ((3, 6), {"bias": False})]:
        ours, theirs = nn.GroupNorm(*args, **kwargs), tnn.GroupNorm(*args, **kwargs)
        assert repr(ours) == repr(theirs)
        assert [(n, p.shape) for n, p in ours.named_parameters()] == \
            [(n, tuple(p.shape)) for n, p in theirs.named_parameters()]
        for name, p in ours.named_parameters():
            assert p.dtype == "float32" and p.requires_grad
            np.testing.assert_array_equal(p.numpy(), getattr(theirs, name).detach().numpy())
    gn = nn.GroupNorm(2, 4, dtype="float64")
    assert gn.weight.dtype == "float64" and (gn.num_groups, gn.num_channels, gn.eps, gn.affine) == (2, 4, 1e-5, True)


def test_norm_layers_in_a_model_train_with_sgd(device, rng):
    model = nn.Sequential(nn.Linear(5, 6), nn.LayerNorm(6), nn.Unflatten(1, (6, 1)), nn.GroupNorm(3, 6),
                          nn.Flatten(), nn.Linear(6, 1)).to(device)
    x = fw.tensor(rng.standard_normal((4, 5)).astype(np.float32), device=device)
    loss = model(x).sum()
    loss.backward()
    assert all(p.grad is not None for p in model.parameters())


# ---------------------------------------------------------------------------------------- validation


def test_layer_norm_shape_errors_name_normalized_shape_and_input_shape():
    x = fw.zeros(2, 4)
    with pytest.raises(ValueError, match=r"normalized_shape=\[3\] expects input of shape \[\*, 3\], "
                                         r"got input of shape \(2, 4\)"):
        F.layer_norm(x, [3])
    with pytest.raises(ValueError, match=r"normalized_shape=\[2, 2, 4\].*shape \(2, 4\)"):
        F.layer_norm(x, (2, 2, 4))
    with pytest.raises(ValueError, match=r"normalized_shape=\[5\].*\(2, 4\)"):
        nn.LayerNorm(5)(x)
    with pytest.raises(ValueError, match=r"weight must have shape \(4,\).*\(2, 4\).*\(3,\)"):
        F.layer_norm(x, 4, weight=fw.ones(3))
    with pytest.raises(ValueError, match=r"bias must have shape \(4,\)"):
        F.layer_norm(x, 4, bias=fw.ones(1, 4))
    with pytest.raises(ValueError, match="normalized_shape must be an int or a non-empty sequence"):
        F.layer_norm(x, [])
    with pytest.raises(TypeError, match="floating-point"):
        F.layer_norm(fw.zeros(2, 4, dtype="int64"), 4)
    with pytest.raises(TypeError, match="must be a Tensor"):
        F.layer_norm(np.zeros((2, 4)), 4)


def test_group_norm_errors():
    with pytest.raises(ValueError, match=r"divisible by num_groups.*\(2, 5, 3\) \(5 channels\).*num_groups=2"):
        F.group_norm(fw.zeros(2, 5, 3), 2)
    with pytest.raises(ValueError, match=r"at least 2-D.*\(4,\)"):
        F.group_norm(fw.zeros(4), 2)
    with pytest.raises(ValueError, match="num_groups must be a positive int"):
        F.group_norm(fw.zeros(2, 4), 0)
    with pytest.raises(ValueError, match=r"weight must have shape \(4,\)"):
        F.group_norm(fw.zeros(2, 4, 3), 2, weight=fw.ones(2))
    # As PyTorch: a batch of one sample with one value per group cannot be normalised.
    with pytest.raises(ValueError, match="more than 1 value per group"):
        F.group_norm(fw.zeros(1, 4, 1), 4)
    with pytest.raises(ValueError, match=r"expected input with num_channels=4 .*\(2, 6, 3\)"):
        nn.GroupNorm(2, 4, affine=False)(fw.zeros(2, 6, 3))


@pytest.mark.parametrize(("make", "exc", "match"), [
    (lambda: nn.GroupNorm(2, 5), ValueError, r"num_channels \(5\) must be divisible by num_groups \(2\)"),
    (lambda: nn.GroupNorm(0, 4), ValueError, "num_groups must be a positive int"),
    (lambda: nn.GroupNorm(2, 4, eps=-1.0), ValueError, "eps must be a non-negative number"),
    (lambda: nn.GroupNorm(2, 4, dtype="int64"), TypeError, "floating point"),
    (lambda: nn.LayerNorm(0.5), ValueError, "normalized_shape must be an int"),
    (lambda: nn.LayerNorm([3, -1]), ValueError, "normalized_shape must be an int"),
    (lambda: nn.LayerNorm(3, eps=-1e-5), ValueError, "eps must be a non-negative number"),
    (lambda: nn.LayerNorm(3, dtype="int32"), TypeError, "floating point"),
])
def test_constructor_validation(make, exc, match):
    with pytest.raises(exc, match=match):
        make()
