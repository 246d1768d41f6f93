"""framework.nn.functional against torch.nn.functional in float64: values and every gradient."""

from __future__ import annotations

import importlib

import numpy as np
import pytest
import torch
import torch.nn.functional as TF

import framework as fw
from framework.nn import functional as F

from .conftest import pair, rel_err

TOL = 1e-4  # float32 against a float64 reference


def _check_grads(ours, refs, tol=TOL):
    for a, b in zip(ours, refs):
        if b is None:
            continue
        assert a.grad is not None, "missing gradient"
        assert rel_err(a.grad, b.grad) < tol


def _backward_both(out, ref, rng):
    g = rng.standard_normal(ref.shape)
    out.backward(fw.tensor(g.astype(np.float32), device=out.device))
    ref.backward(torch.tensor(g))


CONV_CASES = [
    # (N, C, H, W), (K, R, S), stride, padding, dilation, groups
    ((2, 3, 7, 9), (4, 3, 3), 1, 1, 1, 1),
    ((1, 1, 13, 7), (3, 3, 2), (2, 3), (1, 0), 1, 1),
    ((3, 2, 8, 8), (5, 1, 3), 3, 2, 1, 1),
    ((2, 4, 9, 11), (6, 3, 3), 2, 1, 2, 1),  # dilation
    ((2, 4, 7, 7), (6, 3, 1), 1, (1, 0), 1, 2),  # groups
    ((1, 3, 6, 5), (2, 2, 3), 1, "same", (1, 2), 1),  # asymmetric 'same'
    ((2, 3, 5, 6), (4, 2, 2), 1, "valid", 1, 1),
    ((3, 6, 7, 6), (6, 3, 3), 1, 1, 1, 6),  # depthwise
]


@pytest.mark.parametrize("xshape, wshape, stride, padding, dilation, groups", CONV_CASES)
def test_conv2d_matches_torch(device, rng, xshape, wshape, stride, padding, dilation, groups):
    K, R, S = wshape
    x, tx = pair(rng.standard_normal(xshape), device)
    w, tw = pair(rng.standard_normal((K, xshape[1] // groups, R, S)), device)
    b, tb = pair(rng.standard_normal(K), device)
    out = F.conv2d(x, w, b, stride, padding, dilation, groups)
    ref = TF.conv2d(tx, tw, tb, stride, padding, dilation, groups)
    assert rel_err(out, ref) < TOL
    _backward_both(out, ref, rng)
    _check_grads([x, w, b], [tx, tw, tb])


def test_conv2d_unbatched_and_no_bias(device, rng):
    x, tx = pair(rng.standard_normal((3, 6, 5)), device)
    w, tw = pair(rng.standard_normal((2, 3, 3, 2)), device)
    out = F.conv2d(x, w, None, 2, 1)
    ref = TF.conv2d(tx, tw, None, 2, 1)
    assert out.shape == (2, 3, 3)
    assert rel_err(out, ref) < TOL
    _backward_both(out, ref, rng)
    _check_grads([x, w], [tx, tw])


CONVT_CASES = [
    # (N, Cin, H, W), (Cout/groups, R, S), stride, padding, output_padding, groups, dilation
    ((2, 3, 4, 5), (2, 3, 3), 2, 1, 1, 1, 1),
    ((1, 4, 3, 3), (3, 2, 3), (1, 2), (0, 1), 0, 2, 1),
    ((2, 2, 5, 4), (3, 3, 2), 3, 0, (2, 1), 1, 1),
    ((1, 2, 4, 4), (2, 3, 3), 1, 1, 0, 1, 2),
]


@pytest.mark.parametrize("xshape, wshape, stride, padding, output_padding, groups, dilation", CONVT_CASES)
def test_conv_transpose2d_matches_torch(device, rng, xshape, wshape, stride, padding, output_padding, groups,
                                        dilation):
    Cg, R, S = wshape
    x, tx = pair(rng.standard_normal(xshape), device)
    w, tw = pair(rng.standard_normal((xshape[1], Cg, R, S)), device)
    b, tb = pair(rng.standard_normal(Cg * groups), device)
    out = F.conv_transpose2d(x, w, b, stride, padding, output_padding, groups, dilation)
    ref = TF.conv_transpose2d(tx, tw, tb, stride, padding, output_padding, groups, dilation)
    assert rel_err(out, ref) < TOL
    _backward_both(out, ref, rng)
    _check_grads([x, w, b], [tx, tw, tb])


@pytest.mark.parametrize("xshape, kernel, stride, padding", [
    ((2, 3, 8, 8), 2, None, 0),
    ((1, 2, 7, 9), 3, 2, 1),
    ((2, 1, 9, 6), (3, 2), (1, 2), (1, 0)),
    ((1, 3, 5, 5), 3, 1, 1),  # heavily overlapping windows
])
def test_max_pool2d_matches_torch(device, rng, xshape, kernel, stride, padding):
    x, tx = pair(rng.standard_normal(xshape), device)
    out, idx = F.max_pool2d(x, kernel, stride, padding, return_indices=True)
    ref, tidx = TF.max_pool2d(tx, kernel, stride, padding, return_indices=True)
    assert rel_err(out, ref) < TOL
    assert np.array_equal(idx.numpy(), tidx.numpy())
    _backward_both(out, ref, rng)
    _check_grads([x], [tx])


@pytest.mark.parametrize("xshape, kernel, stride, padding, dilation, ceil_mode", [
    ((2, 3, 7, 9), 2, 2, 0, 1, True),  # odd sizes: one extra partial window per axis
    ((1, 2, 7, 8), 3, 2, 1, 1, True),
    ((1, 1, 6, 6), 2, 4, 1, 1, True),  # the last window would start in the right padding: dropped
    ((2, 2, 9, 11), 3, 2, 1, 2, False),
    ((1, 1, 10, 9), (2, 3), (2, 1), 1, (2, 3), True),
    ((2, 2, 5, 6), 2, 3, 1, 2, True),
])
def test_max_pool2d_ceil_mode_and_dilation_match_torch(device, rng, xshape, kernel, stride, padding, dilation,
                                                       ceil_mode):
    x, tx = pair(rng.standard_normal(xshape), device)
    out, idx = F.max_pool2d(x, kernel, stride, padding, dilation, ceil_mode, return_indices=True)
    ref, tidx = TF.max_pool2d(tx, kernel, stride, padding, dilation, ceil_mode, return_indices=True)
    assert out.shape == tuple(ref.shape) and rel_err(out, ref) < TOL
    assert np.array_equal(idx.numpy(), tidx.numpy())
    _backward_both(out, ref, rng)
    _check_grads([x], [tx])


@pytest.mark.parametrize("dilation", [1, 2])
def test_max_pool2d_ties_pick_the_first_maximum_like_torch(device, dilation):
    values = np.repeat(np.arange(3.0), 6).reshape(1, 1, 3, 6)  # rows of equal values: every window ties
    x, tx = pair(values, device)
    out, idx = F.max_pool2d(x, 2, 1, 0, dilation, ceil_mode=True, return_indices=True)
    ref, tidx = TF.max_pool2d(tx, 2, 1, 0, dilation, ceil_mode=True, return_indices=True)
    assert rel_err(out, ref) < TOL and np.array_equal(idx.numpy(), tidx.numpy())
    out.sum().backward()
    ref.sum().backward()
    assert np.array_equal(x.grad.numpy(), tx.grad.numpy())  # each window's gradient goes to one element


def test_max_pool2d_unbatched(device, rng):
    x, tx = pair(rng.standard_normal((2, 6, 6)), device)
    out = F.max_pool2d(x, 2)
    assert rel_err(out, TF.max_pool2d(tx, 2)) < TOL
    out = F.max_pool2d(x, 3, 2, dilation=2, ceil_mode=True)
    assert rel_err(out, TF.max_pool2d(tx, 3, 2, dilation=2, ceil_mode=True)) < TOL


@pytest.mark.parametrize("fn, tfn", [(F.linear, TF.linear),
                                     (F.linear_relu, lambda x, w, b: TF.relu(TF.linear(x, w, b)))])
@pytest.mark.parametrize("xshape", [(5, 7), (1, 3), (2, 3, 7), (7,)])
def test_linear_and_fused_linear_relu(device, rng, fn, tfn, xshape):
    K = xshape[-1]
    xv, wv, bv = rng.standard_normal(xshape), rng.standard_normal((4, K)), rng.standard_normal(4)
    bv[0] += max(0.0, -(xv @ wv[0] + bv[0]).min()) + 1.0  # output 0 stays positive: ReLU never zeroes it all
    x, tx = pair(xv, device)
    w, tw = pair(wv, device)
    b, tb = pair(bv, device)
    out, ref = fn(x, w, b), tfn(tx, tw, tb)
    assert rel_err(out, ref) < TOL
    _backward_both(out, ref, rng)
    _check_grads([x, w, b], [tx, tw, tb])


def test_linear_without_bias(device, rng):
    xv, wv = rng.standard_normal((3, 5)), rng.standard_normal((2, 5))
    xv[:, 0], wv[0] = np.abs(xv[:, 0]) + 1, np.eye(5)[0]  # output 0 is positive: ReLU never zeroes it all
    x, tx = pair(xv, device)
    w, tw = pair(wv, device)
    out, ref = F.linear_relu(x, w), TF.relu(TF.linear(tx, tw))
    assert rel_err(out, ref) < TOL
    _backward_both(out, ref, rng)
    _check_grads([x, w], [tx, tw])


@pytest.mark.parametrize("shape, kwargs", [
    ((6, 5), {}),
    ((1, 3), {}),
    ((7, 4), {"ignore_index": 2}),
    ((5, 3), {"reduction": "sum"}),
    ((5, 3), {"reduction": "none"}),
    ((6, 4), {"label_smoothing": 0.1}),
    ((6, 4), {"weight": True}),
    ((6, 4), {"weight": True, "ignore_index": 1, "label_smoothing": 0.2}),
    ((2, 4, 3, 2), {}),  # [N, C, d1, d2]
    ((5,), {}),  # unbatched
])
def test_cross_entropy_matches_torch(device, rng, shape, kwargs):
    x, tx = pair(3 * rng.standard_normal(shape), device)
    C = shape[1] if len(shape) > 1 else shape[0]
    tshape = (shape[0],) + shape[2:] if len(shape) > 1 else ()
    t = rng.integers(0, C, size=tshape)
    if "ignore_index" in kwargs and t.size > 1:
        t.flat[0] = kwargs["ignore_index"]
    kw, tkw = dict(kwargs), dict(kwargs)
    if kwargs.get("weight"):
        wv = rng.uniform(0.5, 2.0, C)
        kw["weight"] = fw.tensor(wv.astype(np.float32), device=device)
        tkw["weight"] = torch.tensor(wv)
    out = F.cross_entropy(x, fw.tensor(t, device=device), **kw)
    ref = TF.cross_entropy(tx, torch.tensor(t), **tkw)
    assert rel_err(out, ref) < TOL
    _backward_both(out, ref, rng)
    _check_grads([x], [tx])


def test_cross_entropy_with_one_class_is_zero(device):
    x = fw.tensor([[3.0], [-2.0]], device=device, requires_grad=True)
    loss = F.cross_entropy(x, fw.tensor([0, 0], device=device))
    loss.backward()
    assert loss.item() == 0.0 and np.array_equal(x.grad.numpy(), np.zeros((2, 1), np.float32))


def test_cross_entropy_probability_targets(device, rng):
    x, tx = pair(rng.standard_normal((4, 5)), device)
    p = rng.dirichlet(np.ones(5), size=4)
    out = F.cross_entropy(x, fw.tensor(p.astype(np.float32), device=device), label_smoothing=0.1)
    ref = TF.cross_entropy(tx, torch.tensor(p), label_smoothing=0.1)
    assert rel_err(out, ref) < TOL
    out.backward()
    ref.backward()
    _check_grads([x], [tx])


def test_cross_entropy_is_stable_at_huge_logits(device):
    logits = np.array([[1e4, -1e4, 0.0], [-1e4, -1e4, 1e4], [5.0, 1e4, -1e4]])
    x, tx = pair(logits, device)
    t = np.array([1, 2, 0])
    out = F.cross_entropy(x, fw.tensor(t, device=device))
    ref = TF.cross_entropy(tx, torch.tensor(t))
    assert np.isfinite(out.item()) and rel_err(out, ref) < TOL
    out.backward()
    ref.backward()
    assert np.all(np.isfinite(x.grad.numpy()))
    _check_grads([x], [tx])


def test_nll_loss_and_log_softmax(device, rng):
    x, tx = pair(rng.standard_normal((5, 4)), device)
    t = rng.integers(0, 4, 5)
    t[1] = (t[0] + 1) % 4  # at least one row not ignored (else both losses are NaN, ~1 draw in 256)
    out = F.nll_loss(F.log_softmax(x, dim=1), fw.tensor(t, device=device), ignore_index=int(t[0]))
    ref = TF.nll_loss(TF.log_softmax(tx, dim=1), torch.tensor(t), ignore_index=int(t[0]))
    assert rel_err(out, ref) < TOL
    out.backward()
    ref.backward()
    _check_grads([x], [tx])


def test_softmax_matches_torch(device, rng):
    x, tx = pair(rng.standard_normal((3, 4, 5)), device)
    out, ref = F.softmax(x, dim=1), TF.softmax(tx, dim=1)
    assert rel_err(out, ref) < TOL
    _backward_both(out, ref, rng)
    _check_grads([x], [tx])


@pytest.mark.parametrize("name", ["mse", "bce", "bce_logits", "bce_logits_pos_weight"])
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_regression_and_binary_losses(device, rng, name, reduction):
    shape = (4, 3)
    if name == "bce":
        x, tx = pair(rng.uniform(0.05, 0.95, shape), device)
    else:
        x, tx = pair(3 * rng.standard_normal(shape), device)
    target = rng.uniform(0, 1, shape)
    t, tt = fw.tensor(target.astype(np.float32), device=device), torch.tensor(target)
    if name == "mse":
        out, ref = F.mse_loss(x, t, reduction=reduction), TF.mse_loss(tx, tt, reduction=reduction)
    elif name == "bce":
        out = F.binary_cross_entropy(x, t, reduction=reduction)
        ref = TF.binary_cross_entropy(tx, tt, reduction=reduction)
    elif name == "bce_logits":
        out = F.binary_cross_entropy_with_logits(x, t, reduction=reduction)
        ref = TF.binary_cross_entropy_with_logits(tx, tt, reduction=reduction)
    else:
        pw = rng.uniform(0.5, 3, 3)
        out = F.binary_cross_entropy_with_logits(x, t, reduction=reduction,
                                                 pos_weight=fw.tensor(pw.astype(np.float32), device=device))
        ref = TF.binary_cross_entropy_with_logits(tx, tt, reduction=reduction, pos_weight=torch.tensor(pw))
    assert rel_err(out, ref) < TOL
    _backward_both(out, ref, rng)
    _check_grads([x], [tx])


@pytest.mark.parametrize("mode", ["constant", "reflect", "replicate", "circular"])
def test_pad_modes(device, rng, mode):
    x, tx = pair(rng.standard_normal((2, 3, 4, 5)), device)
    out, ref = F.pad(x, (1, 2, 2, 1), mode=mode), TF.pad(tx, (1, 2, 2, 1), mode=mode)
    assert rel_err(out, ref) < TOL
    _backward_both(out, ref, rng)
    _check_grads([x], [tx])


def test_leaky_relu_sigmoid_tanh(device, rng):
    x, tx = pair(rng.standard_normal((4, 6)), device)
    out = F.leaky_relu(x, 0.2) + F.sigmoid(x) * F.tanh(x)
    ref = TF.leaky_relu(tx, 0.2) + torch.sigmoid(tx) * torch.tanh(tx)
    assert rel_err(out, ref) < TOL
    _backward_both(out, ref, rng)
    _check_grads([x], [tx])


# -------------------------------------------------------------------------------------------- dropout


def test_dropout_statistics_and_scaling(device, rng):
    x = fw.tensor(rng.uniform(1, 2, (200, 500)).astype(np.float32), device=device)
    p = 0.3
    y = F.dropout(x, p).numpy()
    kept = y != 0
    n = kept.size
    assert abs(kept.mean() - (1 - p)) < 4 * np.sqrt(p * (1 - p) / n)
    np.testing.assert_allclose(y[kept], (x.numpy() * np.float32(1 / (1 - p)))[kept], rtol=1e-6)


def test_dropout_backward_uses_the_forward_mask(device, rng):
    x = fw.tensor(rng.uniform(1, 2, (64, 33)).astype(np.float32), device=device, requires_grad=True)
    y = F.dropout(x, 0.5)
    y.sum().backward()
    np.testing.assert_array_equal(x.grad.numpy() != 0, y.numpy() != 0)
    np.testing.assert_allclose(x.grad.numpy()[y.numpy() != 0], 2.0)


def test_dropout_is_reproducible_under_manual_seed(device):
    x = fw.ones(10, 10, device=device)
    fw.manual_seed(123)
    a, b = F.dropout(x, 0.5).numpy(), F.dropout(x, 0.5).numpy()
    fw.manual_seed(123)
    assert np.array_equal(a, F.dropout(x, 0.5).numpy())
    assert not np.array_equal(a, b)  # successive calls take fresh parts of the stream


def test_dropout_eval_and_p_zero_are_identity(device, rng):
    x = fw.tensor(rng.standard_normal((4, 4)).astype(np.float32), device=device)
    assert np.array_equal(F.dropout(x, 0.5, training=False).numpy(), x.numpy())
    assert np.array_equal(F.dropout(x, 0.0).numpy(), x.numpy())


@pytest.mark.parametrize("p", [-0.1, 1.5])  # p = 1 is accepted, as in PyTorch (tests/nn/test_kernel_edges.py)
def test_dropout_rejects_bad_p(device, p):
    with pytest.raises(ValueError, match="dropout probability p"):
        F.dropout(fw.ones(3, device=device), p)


# ----------------------------------------------------------------------------------------- bad input


def test_conv2d_bad_inputs(device):
    x = fw.zeros(2, 3, 8, 8, device=device)
    with pytest.raises(ValueError, match=r"input has 3 channels.*weight has shape \(4, 2, 3, 3\)"):
        F.conv2d(x, fw.zeros(4, 2, 3, 3, device=device))
    with pytest.raises(ValueError, match=r"kernel size \(11, 11\).*larger than the padded input \(10, 10\)"):
        F.conv2d(x, fw.zeros(4, 3, 11, 11, device=device), padding=1)
    with pytest.raises(ValueError, match=r"weight must be 4-D"):
        F.conv2d(x, fw.zeros(4, 3, 3, device=device))
    with pytest.raises(ValueError, match=r"bias must have shape \(4,\)"):
        F.conv2d(x, fw.zeros(4, 3, 3, 3, device=device), fw.zeros(5, device=device))
    with pytest.raises(ValueError, match="stride must be >= 1"):
        F.conv2d(x, fw.zeros(4, 3, 3, 3, device=device), stride=0)
    with pytest.raises(ValueError, match="padding='same' is not supported for strided"):
        F.conv2d(x, fw.zeros(4, 3, 3, 3, device=device), stride=2, padding="same")
    with pytest.raises(TypeError, match="input must be a Tensor"):
        F.conv2d(np.zeros((2, 3, 8, 8)), fw.zeros(4, 3, 3, 3, device=device))


def test_linear_bad_inputs(device):
    with pytest.raises(ValueError, match=r"input shape \(2, 5\) does not match weight shape \(3, 4\)"):
        F.linear(fw.zeros(2, 5, device=device), fw.zeros(3, 4, device=device))
    with pytest.raises(ValueError, match=r"bias shape \(2,\) does not match weight shape \(3, 4\)"):
        F.linear_relu(fw.zeros(2, 4, device=device), fw.zeros(3, 4, device=device), fw.zeros(2, device=device))


def test_cross_entropy_bad_targets(device):
    logits = fw.zeros(3, 4, device=device)
    with pytest.raises(TypeError, match="target must be an integer tensor.*float32"):
        F.cross_entropy(logits, fw.tensor([0.0, 1.0, 2.0], device=device))
    with pytest.raises(ValueError, match=r"class index 4 outside \[0, 4\)"):
        F.cross_entropy(logits, fw.tensor([0, 4, 1], device=device))
    with pytest.raises(ValueError, match=r"class index -1 outside"):
        F.cross_entropy(logits, fw.tensor([0, -1, 1], device=device))
    with pytest.raises(ValueError, match=r"target shape \(2,\) does not match input shape \(3, 4\)"):
        F.cross_entropy(logits, fw.tensor([0, 1], device=device))
    with pytest.raises(ValueError, match="reduction must be one of"):
        F.cross_entropy(logits, fw.tensor([0, 1, 2], device=device), reduction="avg")


def test_cross_entropy_target_check_without_host_sync(device, monkeypatch, rng):
    """KERNELGRAD_SYNC_CHECKS=0 is what a GPU device does by default: no host copy of the targets on the fused
    path; a target outside [0, C) gives a NaN loss and a NaN gradient row (the other rows keep theirs).  The
    cpu device's numpy kernel reads its host arrays and raises whatever the setting; the composite path
    (class weights here) gathers with the targets, so it always checks."""
    monkeypatch.setenv("KERNELGRAD_SYNC_CHECKS", "0")
    logits = fw.tensor(rng.standard_normal((4, 5)).astype(np.float32), device=device, requires_grad=True)
    target = fw.tensor([0, 7, 2, -100], device=device)
    with pytest.raises(ValueError, match=r"class index 7 outside \[0, 5\)"):
        F.cross_entropy(logits, target, weight=fw.ones(5, device=device))
    if device == "cpu":
        with pytest.raises(ValueError, match=r"target\[1\] = 7 is not a class index"):
            F.cross_entropy(logits, target)
        return

    def host_copy(*args):
        raise AssertionError("cross_entropy copied the targets to the host")

    monkeypatch.setattr(importlib.import_module("framework.nn.functional.loss"), "_check_class_range", host_copy)
    loss = F.cross_entropy(logits, target)
    loss.backward()
    assert np.isnan(loss.numpy())
    grad = logits.grad.numpy()
    assert np.all(np.isnan(grad[1])) and np.all(grad[3] == 0)
    lt = torch.tensor(logits.numpy().astype(np.float64)[[0, 2]], requires_grad=True)
    (TF.cross_entropy(lt, torch.tensor([0, 2]), reduction="sum") / 3).backward()  # n = 3 valid rows
    assert rel_err(grad[[0, 2]], lt.grad) < TOL


def test_max_pool2d_bad_inputs(device):
    x = fw.zeros(1, 1, 4, 4, device=device)
    with pytest.raises(ValueError, match="larger than the padded input"):
        F.max_pool2d(x, 7, padding=1)
    with pytest.raises(ValueError, match="at most half the kernel size"):
        F.max_pool2d(x, 2, padding=2)
    with pytest.raises(ValueError, match=r"effective size \(5, 5\) with dilation \(2, 2\)"):
        F.max_pool2d(x, 3, padding=3, dilation=2)
    with pytest.raises(ValueError, match="larger than the padded input"):
        F.max_pool2d(x, 3, dilation=2)  # effective kernel 5 > 4
    with pytest.raises(ValueError, match="dilation"):
        F.max_pool2d(x, 2, dilation=0)


# ------------------------------------------------------------------------ float64 finite differences


def _numeric_grad(f, x, eps=1e-6):
    grad = np.zeros_like(x)
    for i in np.ndindex(x.shape):
        xp, xm = x.copy(), x.copy()
        xp[i] += eps
        xm[i] -= eps
        grad[i] = (f(xp) - f(xm)) / (2 * eps)
    return grad


def test_dilated_grouped_conv_gradients_match_finite_differences(rng):
    x = rng.standard_normal((1, 4, 6, 5))
    w = rng.standard_normal((2, 2, 2, 3))
    probe = rng.standard_normal((1, 2, 3, 1))

    def loss(xv, wv):
        out = F.conv2d(fw.tensor(xv), fw.tensor(wv), stride=(2, 1), padding=(1, 0), dilation=(2, 2), groups=2)
        return float((out * fw.tensor(probe)).sum().item())

    xt = fw.tensor(x, requires_grad=True)
    wt = fw.tensor(w, requires_grad=True)
    out = F.conv2d(xt, wt, stride=(2, 1), padding=(1, 0), dilation=(2, 2), groups=2)
    assert out.shape == probe.shape
    (out * fw.tensor(probe)).sum().backward()
    assert rel_err(xt.grad, _numeric_grad(lambda v: loss(v, w), x)) < 1e-7
    assert rel_err(wt.grad, _numeric_grad(lambda v: loss(x, v), w)) < 1e-7
