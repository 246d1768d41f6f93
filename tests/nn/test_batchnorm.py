"""nn.BatchNorm1d / nn.BatchNorm2d / F.batch_norm against torch (float32 here vs float64 torch): outputs and
gradients in train and eval mode, running statistics (momentum and cumulative average), affine=False,
track_running_stats=False, loading a torch state_dict, defaults, repr and validation."""

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

# (our class, torch class, input shape): BatchNorm1d on 2-D and 3-D input, BatchNorm2d on odd sizes.
CASES = [
    (nn.BatchNorm1d, tnn.BatchNorm1d, (4, 3)),
    (nn.BatchNorm1d, tnn.BatchNorm1d, (2, 3, 5)),
    (nn.BatchNorm2d, tnn.BatchNorm2d, (2, 3, 5, 7)),
]
CASE_IDS = ["1d-NC", "1d-NCL", "2d-NCHW"]


def _modules(ours_cls, theirs_cls, channels, device, rng, **kwargs):
    """A float64 torch module with random affine parameters and ours (float32 on ``device``) loaded from it."""
    theirs = theirs_cls(channels, **kwargs).double()
    with torch.no_grad():
        if theirs.weight is not None:
            theirs.weight.copy_(torch.tensor(rng.uniform(0.5, 1.5, channels)))
        if theirs.bias is not None:
            theirs.bias.copy_(torch.tensor(rng.standard_normal(channels)))
    ours = ours_cls(channels, **kwargs)
    assert list(ours.state_dict()) == list(theirs.state_dict())
    ours.load_state_dict(theirs.state_dict())
    return ours.to(device), theirs


def _input(rng, shape, device):
    # A non-zero mean and a non-unit scale per channel, so the statistics matter.
    values = rng.standard_normal(shape) * 2.0 + 0.5
    return pair(values, device)


def _step(ours, theirs, rng, shape, device):
    """One forward/backward of both modules on the same input; checks output and every gradient."""
    x, ref_x = _input(rng, shape, device)
    out, ref = ours(x), theirs(ref_x)
    assert out.shape == tuple(ref.shape) and out.dtype == "float32"
    assert rel_err(out, ref) < TOL
    g = rng.standard_normal(shape)
    out.backward(fw.tensor(g.astype(np.float32), device=device))
    ref.backward(torch.tensor(g))
    assert rel_err(x.grad, ref_x.grad) < TOL
    for name in ("weight", "bias"):
        assert (getattr(ours, name) is None) == (getattr(theirs, name) is None)
        if getattr(theirs, name) is not None:
            assert rel_err(getattr(ours, name).grad, getattr(theirs, name).grad) < TOL
    ours.zero_grad()
    theirs.zero_grad()


@pytest.mark.parametrize("track_running_stats", [True, False], ids=["track", "notrack"])
@pytest.mark.parametrize(("affine", "bias"), [(True, True), (True, False), (False, True)],
                         ids=["affine", "affine-nobias", "noaffine"])
@pytest.mark.parametrize("momentum", [0.1, None], ids=["momentum0.1", "cumulative"])
@pytest.mark.parametrize(("ours_cls", "theirs_cls", "shape"), CASES, ids=CASE_IDS)
def test_batchnorm_train_then_eval_matches_torch(device, rng, ours_cls, theirs_cls, shape, momentum, bias, affine,
                                                 track_running_stats):
    ours, theirs = _modules(ours_cls, theirs_cls, shape[1], device, rng, momentum=momentum, affine=affine,
                            track_running_stats=track_running_stats, bias=bias)
    assert (ours.weight is None) == (not affine) and (ours.running_mean is None) == (not track_running_stats)
    for _ in range(3):
        _step(ours, theirs, rng, shape, device)
    if track_running_stats:
        assert rel_err(ours.running_mean, theirs.running_mean) < TOL
        assert rel_err(ours.running_var, theirs.running_var) < TOL
        assert ours.running_mean.dtype == "float32" and ours.running_var.dtype == "float32"
        assert ours.num_batches_tracked.dtype == "int64" and int(ours.num_batches_tracked) == 3
        assert ours.running_mean.device == device
    ours.eval()
    theirs.eval()
    # Eval: running statistics when tracked, batch statistics (and no buffers) otherwise; gradients too.
    _step(ours, theirs, rng, shape, device)
    if track_running_stats:
        assert int(ours.num_batches_tracked) == 3  # eval does not count batches
        assert rel_err(ours.running_var, theirs.running_var) < TOL


@pytest.mark.parametrize("momentum", [0.1, 0.5])
def test_functional_batch_norm_matches_torch(device, rng, momentum):
    shape = (2, 3, 5, 7)
    x, ref_x = _input(rng, shape, device)
    w, ref_w = pair(rng.uniform(0.5, 1.5, 3), device)
    b, ref_b = pair(rng.standard_normal(3), device)
    stats = rng.standard_normal(3), rng.uniform(0.5, 2.0, 3)
    rm, rv = (fw.tensor(s.astype(np.float32), device=device) for s in stats)
    ref_rm, ref_rv = (torch.tensor(s) for s in stats)
    out = F.batch_norm(x, rm, rv, w, b, training=True, momentum=momentum, eps=1e-3)
    ref = tF.batch_norm(ref_x, ref_rm, ref_rv, ref_w, ref_b, training=True, momentum=momentum, eps=1e-3)
    assert rel_err(out, ref) < TOL
    assert rel_err(rm, ref_rm) < TOL and rel_err(rv, ref_rv) < TOL  # updated in place, unbiased variance
    assert rm.dtype == "float32" and not rm.requires_grad and rm.grad_fn is None
    g = rng.standard_normal(shape)
    out.backward(fw.tensor(g.astype(np.float32), device=device))
    ref.backward(torch.tensor(g))
    for ours_grad, ref_grad in ((x.grad, ref_x.grad), (w.grad, ref_w.grad), (b.grad, ref_b.grad)):
        assert rel_err(ours_grad, ref_grad) < TOL
    # Eval with the updated running statistics, no affine: they are read, not changed.
    before = rm.numpy().copy()
    out = F.batch_norm(x, rm, rv)
    ref = tF.batch_norm(ref_x, ref_rm, ref_rv)
    assert rel_err(out, ref) < TOL
    np.testing.assert_array_equal(rm.numpy(), before)
    # Training without running statistics: batch statistics only.
    out = F.batch_norm(x, None, None, w, None, training=True)
    ref = tF.batch_norm(ref_x, None, None, ref_w, None, training=True)
    assert rel_err(out, ref) < TOL


def test_batch_norm_float64_running_stats_keep_their_dtype(rng):
    x = fw.tensor(rng.standard_normal((4, 3)), dtype="float64")
    rm, rv = fw.zeros(3), fw.ones(3)
    F.batch_norm(x, rm, rv, training=True)
    assert rm.dtype == "float32" and rv.dtype == "float32"
    expected = 0.9 + 0.1 * x.numpy().var(axis=0, ddof=1)
    np.testing.assert_allclose(rv.numpy(), expected, rtol=1e-6)


@pytest.mark.parametrize(("ours_cls", "theirs_cls", "shape"), CASES, ids=CASE_IDS)
def test_loads_torch_state_dict_and_matches_eval(device, rng, ours_cls, theirs_cls, shape):
    theirs = theirs_cls(shape[1]).double()
    with torch.no_grad():
        theirs.weight.uniform_(0.5, 1.5)
        theirs.bias.normal_()
    for _ in range(2):  # non-trivial running statistics
        theirs(torch.tensor(rng.standard_normal(shape) * 3 + 1))
    theirs.eval()
    ours = ours_cls(shape[1]).to(device)
    result = ours.load_state_dict(theirs.state_dict())
    assert result.missing_keys == [] and result.unexpected_keys == []
    assert int(ours.num_batches_tracked) == 2 and ours.num_batches_tracked.dtype == "int64"
    ours.eval()
    x, ref_x = _input(rng, shape, device)
    assert rel_err(ours(x), theirs(ref_x)) < TOL
    # And back: our state_dict loads into torch.
    again = theirs_cls(shape[1]).double()
    again.load_state_dict({k: torch.tensor(np.asarray(v.numpy())) for k, v in ours.state_dict().items()})
    again.eval()
    assert rel_err(again(ref_x).detach().numpy(), theirs(ref_x)) < TOL


def test_batchnorm_in_sequential_follows_train_and_eval(device, rng):
    ours = nn.Sequential(nn.Linear(4, 3), nn.BatchNorm1d(3), nn.ReLU())
    theirs = tnn.Sequential(tnn.Linear(4, 3), tnn.BatchNorm1d(3), tnn.ReLU()).double()
    ours.load_state_dict(theirs.state_dict())
    ours.to(device)
    x, ref_x = _input(rng, (5, 4), device)
    assert rel_err(ours(x), theirs(ref_x)) < TOL
    ours.eval()
    theirs.eval()
    assert rel_err(ours(x), theirs(ref_x)) < TOL
    assert rel_err(ours[1].running_mean, theirs[1].running_mean) < TOL


def test_defaults_reset_and_repr():
    bn = nn.BatchNorm2d(3)
    ref = tnn.BatchNorm2d(3)
    assert repr(bn) == repr(ref)
    assert repr(nn.BatchNorm1d(4, eps=1e-3, momentum=None, affine=False, track_running_stats=False)) == \
        repr(tnn.BatchNorm1d(4, eps=1e-3, momentum=None, affine=False, track_running_stats=False))
    assert repr(nn.BatchNorm1d(4, bias=False)) == repr(tnn.BatchNorm1d(4, bias=False))
    assert nn.BatchNorm1d(4, bias=False).bias is None
    assert [n for n, _ in bn.named_parameters()] == ["weight", "bias"]
    assert [n for n, _ in bn.named_buffers()] == ["running_mean", "running_var", "num_batches_tracked"]
    np.testing.assert_array_equal(bn.weight.numpy(), np.ones(3, np.float32))
    np.testing.assert_array_equal(bn.bias.numpy(), np.zeros(3, np.float32))
    np.testing.assert_array_equal(bn.running_mean.numpy(), np.zeros(3, np.float32))
    np.testing.assert_array_equal(bn.running_var.numpy(), np.ones(3, np.float32))
    assert bn.num_batches_tracked.shape == () and bn.num_batches_tracked.dtype == "int64"
    assert bn.running_mean.dtype == "float32" and bn.weight.requires_grad
    assert not bn.running_mean.requires_grad

    bn(fw.randn(4, 3, 2, 2))
    with fw.no_grad():
        bn.weight.data = bn.weight.data * 3
    bn.reset_running_stats()
    assert int(bn.num_batches_tracked) == 0 and not bn.running_mean.numpy().any()
    np.testing.assert_array_equal(bn.running_var.numpy(), np.ones(3, np.float32))
    np.testing.assert_array_equal(bn.weight.numpy(), np.full(3, 3, np.float32))  # parameters untouched
    bn.reset_parameters()
    np.testing.assert_array_equal(bn.weight.numpy(), np.ones(3, np.float32))

    double = nn.BatchNorm1d(2, dtype="float64")
    assert double.weight.dtype == "float64" and double.running_var.dtype == "float64"
    assert double.num_batches_tracked.dtype == "int64"
    half = nn.BatchNorm1d(2).to(dtype="float64")
    assert half.running_mean.dtype == "float64" and half.num_batches_tracked.dtype == "int64"

    plain = nn.BatchNorm1d(2, affine=False, track_running_stats=False)
    assert plain.state_dict() == {} and list(plain.parameters()) == []
    plain.reset_parameters()  # nothing to reset, no error


def test_one_sample_is_fine_in_eval(device, rng):
    ours, theirs = _modules(nn.BatchNorm1d, tnn.BatchNorm1d, 3, device, rng)
    ours.eval()
    theirs.eval()
    x, ref_x = _input(rng, (1, 3), device)
    assert rel_err(ours(x), theirs(ref_x)) < TOL


# --------------------------------------------------------------------------------------- validation


@pytest.mark.parametrize(("module", "shape", "expected"), [
    (nn.BatchNorm2d(3), (3, 5, 7), "4-D"),           # unbatched input, which PyTorch's 2d rejects too
    (nn.BatchNorm2d(3), (2, 3, 5, 7, 1), "4-D"),
    (nn.BatchNorm1d(3), (2, 3, 4, 5), "2-D or 3-D"),
    (nn.BatchNorm1d(3), (3,), "2-D or 3-D"),
])
def test_wrong_number_of_dims_raises(module, shape, expected):
    with pytest.raises(ValueError, match=rf"{type(module).__name__}: expected {expected}.*"
                                         rf"{len(shape)}-D input of shape \({', '.join(map(str, shape))}"):
        module(fw.zeros(*shape))


@pytest.mark.parametrize(("module", "shape"), [
    (nn.BatchNorm2d(3), (2, 4, 5, 5)),
    (nn.BatchNorm1d(3), (2, 2)),
    (nn.BatchNorm1d(3), (2, 4, 6)),
])
def test_wrong_channel_count_raises(module, shape):
    with pytest.raises(ValueError, match=r"num_features=3 .*shape \(" + ", ".join(map(str, shape))):
        module(fw.zeros(*shape))


@pytest.mark.parametrize(("module", "shape"), [
    (nn.BatchNorm1d(3), (1, 3)),
    (nn.BatchNorm1d(3), (1, 3, 1)),
    (nn.BatchNorm2d(3), (1, 3, 1, 1)),
    (nn.BatchNorm1d(3, track_running_stats=False), (1, 3)),
])
def test_one_value_per_channel_in_training_raises(module, shape):
    with pytest.raises(ValueError, match="Expected more than 1 value per channel when training"):
        module(fw.zeros(*shape))
    if module.num_batches_tracked is not None:
        assert int(module.num_batches_tracked) == 0  # the refused batch is not counted
    with pytest.raises(ValueError, match="Expected more than 1 value per channel when training"):
        F.batch_norm(fw.zeros(*shape), None, None, training=True)


def test_functional_batch_norm_validation():
    x = fw.zeros(2, 3, 4)
    with pytest.raises(ValueError, match=r"running_mean and running_var must be given"):
        F.batch_norm(x, None, None)
    with pytest.raises(ValueError, match=r"weight must have shape \(3,\) for input of shape \(2, 3, 4\).*\(4,\)"):
        F.batch_norm(x, fw.zeros(3), fw.ones(3), weight=fw.ones(4))
    with pytest.raises(ValueError, match=r"running_var must have shape \(3,\)"):
        F.batch_norm(x, fw.zeros(3), fw.ones(3, 1), training=True)
    with pytest.raises(ValueError, match=r"at least 2-D.*\(3,\)"):
        F.batch_norm(fw.zeros(3), fw.zeros(3), fw.ones(3))
    with pytest.raises(TypeError, match="input must be a floating-point tensor"):
        F.batch_norm(fw.zeros(2, 3, dtype="int64"), fw.zeros(3), fw.ones(3))
    with pytest.raises(TypeError, match="input must be a Tensor"):
        F.batch_norm(np.zeros((2, 3)), fw.zeros(3), fw.ones(3))


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"num_features": 0}, "num_features must be a positive int"),
    ({"num_features": 2.0}, "num_features must be a positive int"),
    ({"num_features": 2, "eps": -1.0}, "eps must be a non-negative number"),
    ({"num_features": 2, "momentum": 1.5}, r"momentum must be a number in \[0, 1\] or None"),
])
def test_constructor_validation(kwargs, message):
    with pytest.raises(ValueError, match=message):
        nn.BatchNorm1d(**kwargs)
    with pytest.raises(TypeError, match="dtype must be floating point"):
        nn.BatchNorm2d(2, dtype="int64")
