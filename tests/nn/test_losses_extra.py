"""L1, SmoothL1, Huber and KL-divergence losses against torch (float32 here vs float64 torch): functional and
module outputs and the input and target gradients for every reduction, weights, 'batchmean', log_target,
zero targets, defaults, repr and validation."""

from __future__ import annotations

import warnings

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


def _torch_call(fn, *args, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # kl_div's 'mean' warning; ours is checked on its own
        return fn(*args, **kwargs)


def _compare(rng, out, ref, leaves):
    """Output, then the gradients of the (ours, theirs) leaves under the same random upstream gradient."""
    assert out.shape == tuple(ref.shape) and out.dtype == "float32"
    assert rel_err(out, ref) < TOL
    g = rng.standard_normal(tuple(ref.shape))
    out.backward(fw.tensor(np.asarray(g, dtype=np.float32), device=out.device))
    ref.backward(torch.tensor(g))
    for ours, theirs in leaves:
        assert rel_err(ours.grad, theirs.grad) < TOL


SHAPES = [(1,), (1, 5), (3, 5), (2, 3, 4)]
REDUCTIONS = ["mean", "sum", "none"]

# (id, ours, theirs, extra keyword arguments)
REGRESSION = [
    ("l1", F.l1_loss, tF.l1_loss, {}),
    ("smooth_l1", F.smooth_l1_loss, tF.smooth_l1_loss, {}),
    ("smooth_l1-beta0.5", F.smooth_l1_loss, tF.smooth_l1_loss, {"beta": 0.5}),
    ("smooth_l1-beta0", F.smooth_l1_loss, tF.smooth_l1_loss, {"beta": 0.0}),
    ("huber", F.huber_loss, tF.huber_loss, {}),
    ("huber-delta2.5", F.huber_loss, tF.huber_loss, {"delta": 2.5}),
    ("huber-delta0.3", F.huber_loss, tF.huber_loss, {"delta": 0.3}),
]


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("shape", SHAPES, ids=str)
@pytest.mark.parametrize(("ours", "theirs", "kwargs"), [c[1:] for c in REGRESSION], ids=[c[0] for c in REGRESSION])
def test_regression_losses_match_torch(device, rng, ours, theirs, kwargs, shape, reduction):
    # Differences on both sides of beta / delta, so both branches of each loss are used.
    x, ref_x = pair(rng.standard_normal(shape) * 2.0, device)
    t, ref_t = pair(rng.standard_normal(shape), device)
    out = ours(x, t, reduction=reduction, **kwargs)
    ref = theirs(ref_x, ref_t, reduction=reduction, **kwargs)
    _compare(rng, out, ref, [(x, ref_x), (t, ref_t)])


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize(("ours", "theirs"), [(F.l1_loss, tF.l1_loss), (F.huber_loss, tF.huber_loss),
                                              (F.mse_loss, tF.mse_loss)], ids=["l1", "huber", "mse"])
def test_weighted_losses_match_torch(device, rng, ours, theirs, reduction):
    # PyTorch's weighted 'mean': sum(w * loss) / sum(w) for l1_loss and mse_loss, mean(w * loss) for huber_loss.
    x, ref_x = pair(rng.standard_normal((3, 4)) * 2.0, device)
    t, ref_t = pair(rng.standard_normal((3, 4)), device)
    w, ref_w = pair(rng.uniform(0.1, 2.0, (3, 4)), device)
    out = ours(x, t, reduction=reduction, weight=w)
    ref = theirs(ref_x, ref_t, reduction=reduction, weight=ref_w)
    _compare(rng, out, ref, [(x, ref_x), (t, ref_t), (w, ref_w)])


def test_equal_input_and_target_give_zero_loss_and_gradient(device):
    # |d| has no derivative at 0; like PyTorch, the gradient there is 0.
    x = fw.tensor([0.5, -1.0, 2.0], device=device, requires_grad=True)
    for fn in (F.l1_loss, F.smooth_l1_loss, F.huber_loss, lambda a, b: F.smooth_l1_loss(a, b, beta=0.0)):
        x.grad = None
        loss = fn(x, x.detach())
        loss.backward()
        assert float(loss) == 0.0
        np.testing.assert_array_equal(x.grad.numpy(), 0)


# -------------------------------------------------------------------------------------------- kl_div


def _distribution(rng, shape, with_zero: bool):
    p = rng.uniform(0.05, 1.0, shape)
    if with_zero:
        p.reshape(-1)[::3] = 0.0  # zero probabilities: 0 * log 0 counts as 0
    return p / p.sum(axis=-1, keepdims=True)


@pytest.mark.parametrize("reduction", ["mean", "batchmean", "sum", "none"])
@pytest.mark.parametrize("log_target", [False, True], ids=["prob-target", "log-target"])
@pytest.mark.parametrize("shape", [(1, 4), (3, 5), (2, 3, 4), (5,)], ids=str)
def test_kl_div_matches_torch(device, rng, shape, log_target, reduction):
    logits = rng.standard_normal(shape)
    log_q = logits - np.log(np.exp(logits).sum(axis=-1, keepdims=True))
    p = _distribution(rng, shape, with_zero=not log_target)
    x, ref_x = pair(log_q, device)
    t, ref_t = pair(np.log(p) if log_target else p, device)
    ctx = pytest.warns(UserWarning, match="'batchmean'") if reduction == "mean" else warnings.catch_warnings()
    with ctx:
        if reduction != "mean":
            warnings.simplefilter("error")  # only 'mean' warns
        out = F.kl_div(x, t, reduction=reduction, log_target=log_target)
    ref = _torch_call(tF.kl_div, ref_x, ref_t, reduction=reduction, log_target=log_target)
    assert np.isfinite(out.numpy()).all()
    _compare(rng, out, ref, [(x, ref_x)])
    # Target gradient: PyTorch 2.13 (a composite through xlogy) gives nan where target == 0; ours is 0
    # there, as PyTorch's earlier kl_div_target_backward was. Elsewhere they agree.
    zero = p == 0
    ours_t, ref_t_grad = t.grad.numpy(), ref_t.grad.numpy()
    assert np.isnan(ref_t_grad[zero]).all() and (ours_t[zero] == 0).all()
    assert rel_err(ours_t[~zero], ref_t_grad[~zero]) < TOL


def test_kl_div_batchmean_is_the_kl_divergence_per_sample(rng):
    p = _distribution(rng, (4, 6), with_zero=False)
    q = _distribution(rng, (4, 6), with_zero=False)
    expected = (p * (np.log(p) - np.log(q))).sum() / 4
    out = F.kl_div(fw.tensor(np.log(q)), fw.tensor(p), reduction="batchmean")
    np.testing.assert_allclose(float(out), expected, rtol=1e-5)
    # 0-D input: 'batchmean' is the sum, as in PyTorch.
    assert float(F.kl_div(fw.tensor(-1.0), fw.tensor(0.5), reduction="batchmean")) == \
        pytest.approx(float(tF.kl_div(torch.tensor(-1.0), torch.tensor(0.5), reduction="batchmean")))


# ------------------------------------------------------------------------------------------- modules


MODULES = [
    (lambda: nn.L1Loss(), lambda: tnn.L1Loss()),
    (lambda: nn.L1Loss(reduction="sum"), lambda: tnn.L1Loss(reduction="sum")),
    (lambda: nn.SmoothL1Loss(), lambda: tnn.SmoothL1Loss()),
    (lambda: nn.SmoothL1Loss(reduction="none", beta=0.5), lambda: tnn.SmoothL1Loss(reduction="none", beta=0.5)),
    (lambda: nn.HuberLoss(), lambda: tnn.HuberLoss()),
    (lambda: nn.HuberLoss(reduction="sum", delta=2.0), lambda: tnn.HuberLoss(reduction="sum", delta=2.0)),
    (lambda: nn.KLDivLoss(reduction="batchmean"), lambda: tnn.KLDivLoss(reduction="batchmean")),
    (lambda: nn.KLDivLoss(reduction="sum", log_target=True), lambda: tnn.KLDivLoss(reduction="sum", log_target=True)),
]


@pytest.mark.parametrize(("make_ours", "make_theirs"), MODULES,
                         ids=lambda make: f"{type(make()).__name__}-{make().extra_repr() or 'default'}")
def test_loss_modules_match_torch(device, rng, make_ours, make_theirs):
    ours, theirs = make_ours().to(device), make_theirs()
    assert ours.state_dict() == {} and list(ours.parameters()) == []
    x, ref_x = pair(-rng.uniform(0.1, 3.0, (2, 3, 5)), device)  # log-probabilities for KLDivLoss
    t, ref_t = pair(rng.uniform(0.05, 1.0, (2, 3, 5)) if not getattr(ours, "log_target", False)
                    else -rng.uniform(0.1, 3.0, (2, 3, 5)), device)
    _compare(rng, ours(x, t), theirs(ref_x, ref_t), [(x, ref_x), (t, ref_t)])


def test_defaults_and_repr():
    for ours, theirs in [(nn.L1Loss(), tnn.L1Loss()), (nn.SmoothL1Loss(), tnn.SmoothL1Loss()),
                         (nn.HuberLoss(), tnn.HuberLoss()), (nn.KLDivLoss(), tnn.KLDivLoss())]:
        assert repr(ours) == repr(theirs)
        assert ours.reduction == theirs.reduction == "mean"
    assert nn.SmoothL1Loss().beta == tnn.SmoothL1Loss().beta == 1.0
    assert nn.HuberLoss().delta == tnn.HuberLoss().delta == 1.0
    assert nn.KLDivLoss().log_target is tnn.KLDivLoss().log_target is False
    # Like the framework's other losses (and unlike PyTorch's), a non-default reduction shows in the repr.
    assert repr(nn.KLDivLoss(reduction="batchmean")) == "KLDivLoss(reduction='batchmean')"


def test_kl_div_loss_default_mean_warns_like_torch():
    with pytest.warns(UserWarning, match="'mean' divides the total loss by both the batch size and the support"):
        nn.KLDivLoss()(fw.zeros(2, 3), fw.full((2, 3), 1 / 3))


# ---------------------------------------------------------------------------------------- validation


@pytest.mark.parametrize("fn", [F.l1_loss, F.smooth_l1_loss, F.huber_loss, F.kl_div])
def test_shape_mismatch_raises_like_mse_loss(fn):
    name = fn.__name__
    with pytest.raises(ValueError, match=rf"{name}\(\): target shape \(3, 1\) must equal input shape \(3,\)"):
        fn(fw.zeros(3), fw.zeros(3, 1))
    with pytest.raises(ValueError, match=r"mse_loss\(\): target shape \(3, 1\) must equal input shape \(3,\)"):
        F.mse_loss(fw.zeros(3), fw.zeros(3, 1))
    with pytest.raises(TypeError, match="target must be a Tensor"):
        fn(fw.zeros(3), np.zeros(3))


def test_functional_validation():
    x = fw.zeros(2, 3)
    for fn in (F.l1_loss, F.smooth_l1_loss, F.huber_loss):
        with pytest.raises(ValueError, match=r"reduction must be one of \('mean', 'sum', 'none'\), got 'batchmean'"):
            fn(x, x, reduction="batchmean")
    with pytest.raises(ValueError, match="reduction must be one of .*'batchmean'.*got 'avg'"):
        F.kl_div(x, x, reduction="avg")
    with pytest.raises(ValueError, match="beta must be non-negative"):
        F.smooth_l1_loss(x, x, beta=-0.1)
    with pytest.raises(ValueError, match="delta must be positive"):
        F.huber_loss(x, x, delta=0.0)
    with pytest.raises(ValueError, match=r"weight shape \(3,\) must equal input shape \(2, 3\)"):
        F.l1_loss(x, x, weight=fw.ones(3))


@pytest.mark.parametrize(("make", "match"), [
    (lambda: nn.L1Loss(reduction="batchmean"), "reduction must be one of"),
    (lambda: nn.SmoothL1Loss(beta=-1.0), "beta must be a non-negative number"),
    (lambda: nn.HuberLoss(delta=0), "delta must be a positive number"),
    (lambda: nn.HuberLoss(reduction="avg"), "reduction must be one of"),
    (lambda: nn.KLDivLoss(reduction="avg"), r"reduction must be one of \('none', 'batchmean', 'sum', 'mean'\)"),
])
def test_constructor_validation(make, match):
    with pytest.raises(ValueError, match=match):
        make()
