"""Sequential's Linear+ReLU fusion (framework/nn/utils/fusion.py): the rule, PyTorch's structure kept, and
the same numbers fused or not — against PyTorch in float64 on every device, including the ReLU's edges
(exact zeros, -0.0 inputs, NaN pre-activations, inf upstream gradients)."""

from __future__ import annotations

import copy

import numpy as np
import pytest
import torch
import torch.nn as tnn

import framework as fw
from framework import nn
from framework.models import VAE, DigitsCNN
from framework.nn import functional as F
from framework.nn.utils.fusion import can_fuse_linear_relu, fused_linear_relu_pairs

from ..conftest import rel_err

TOLS = {fw.float32: 1e-4, fw.float64: 1e-10}


class _CountCalls:
    """Wraps a function and counts its calls (to see which path Sequential took)."""

    def __init__(self, fn):
        self.fn, self.calls = fn, 0

    def __call__(self, *args, **kwargs):
        self.calls += 1
        return self.fn(*args, **kwargs)


@pytest.fixture
def counts(monkeypatch):
    """``counts['linear_relu']``, ``counts['relu']``: calls of F.linear_relu and F.relu since the test began."""
    fused, relu = _CountCalls(F.linear_relu), _CountCalls(F.relu)
    monkeypatch.setattr(F, "linear_relu", fused)
    monkeypatch.setattr(F, "relu", relu)

    class _Counts:
        def __getitem__(self, name):
            return {"linear_relu": fused, "relu": relu}[name].calls

    return _Counts()


def _nets(device, dtype, bias0=None):
    """Our Sequential and torch's (float64), with torch's weights; ``bias0`` replaces the first bias."""
    theirs = tnn.Sequential(tnn.Linear(7, 13), tnn.ReLU(), tnn.Linear(13, 5), tnn.ReLU(inplace=True),
                            tnn.Linear(5, 3)).double()
    if bias0 is not None:
        with torch.no_grad():
            theirs[0].bias.copy_(torch.tensor(bias0))
    ours = nn.Sequential(nn.Linear(7, 13), nn.ReLU(), nn.Linear(13, 5), nn.ReLU(inplace=True), nn.Linear(5, 3))
    ours.to(device, dtype)
    ours.load_state_dict({k: v.detach().numpy() for k, v in theirs.state_dict().items()})
    return ours, theirs


def _run(net, x, g, device, dtype):
    """Output, input gradient and parameter gradients of ``net`` for upstream gradient ``g``, as numpy."""
    for p in net.parameters():
        p.grad = None
    xs = fw.tensor(x, dtype=dtype, device=device, requires_grad=True)
    out = net(xs)
    out.backward(fw.tensor(g, dtype=dtype, device=device))
    return [out.numpy(), xs.grad.numpy()] + [p.grad.numpy() for p in net.parameters()]


def _bits(a: np.ndarray) -> np.ndarray:
    return a.view({2: np.uint16, 4: np.uint32, 8: np.uint64}[a.itemsize])


# ------------------------------------------------------------------------------------ same numbers


@pytest.mark.parametrize("dtype", [fw.float32, fw.float64], ids=str)
def test_fused_and_unfused_are_bit_identical_and_match_torch(device, rng, counts, dtype):
    """Finite inputs with the ReLU's edges: a zero row and a -0.0 row whose pre-activation is exactly the
    bias, two bias entries exactly 0 (exact-zero pre-activations, whose gradient is 0 in PyTorch)."""
    x = rng.standard_normal((13, 7))
    x[3], x[8] = 0.0, -0.0
    bias0 = rng.uniform(-0.3, 0.3, 13)
    bias0[[2, 5]] = 0.0, -0.0
    ours, theirs = _nets(device, dtype, bias0)
    g = rng.standard_normal((13, 3))

    fused = _run(ours, x, g, device, dtype)
    assert (counts["linear_relu"], counts["relu"]) == (2, 0)
    ours.fuse_linear_relu = False
    unfused = _run(ours, x, g, device, dtype)
    assert (counts["linear_relu"], counts["relu"]) == (2, 2)
    for a, b in zip(fused, unfused, strict=True):
        np.testing.assert_array_equal(_bits(a), _bits(b))  # equal values and equal signs of zero

    xt = torch.tensor(x, requires_grad=True)
    out_t = theirs(xt)
    out_t.backward(torch.tensor(g))
    refs = [out_t, xt.grad] + [p.grad for p in theirs.parameters()]
    for name, a, ref in zip(["out", "dx"] + [n for n, _ in theirs.named_parameters()], fused, refs, strict=True):
        assert rel_err(a, ref) < TOLS[dtype], name
    h = torch.relu(theirs[0](xt)).detach().numpy()
    assert (h == 0).any() and (h > 0).any()  # the ReLU's mask is tested, not all-pass or all-zero
    # The signs of the ReLU's zeros are PyTorch's too (a GEMM's accumulator starts at +0.0, so the -0.0 inputs
    # and bias give +0.0 before the ReLU, here and there); a slice is a Sequential, so this pair runs fused.
    h_ours = ours[0:2](fw.tensor(x, dtype=dtype, device=device)).numpy()
    assert counts["linear_relu"] == 3
    np.testing.assert_array_equal(np.signbit(h_ours), np.signbit(h))


def test_nan_pre_activation_stays_nan_fused_or_not(device, rng, counts):
    """A NaN reaching the ReLU gives NaN out (torch.relu(NaN) is NaN) on both paths, in the same places as
    PyTorch; the gradients of the two paths are the same too (NaN where they are NaN)."""
    x = rng.standard_normal((6, 7))
    x[4, 2] = np.nan
    ours, theirs = _nets(device, fw.float32)
    g = rng.standard_normal((6, 3))
    fused = _run(ours, x, g, device, fw.float32)
    ours.fuse_linear_relu = False
    unfused = _run(ours, x, g, device, fw.float32)
    assert counts["linear_relu"] == 2
    for a, b in zip(fused, unfused, strict=True):
        np.testing.assert_array_equal(a, b)  # NaN == NaN here
    ref = theirs(torch.tensor(x)).detach().numpy()
    np.testing.assert_array_equal(np.isnan(fused[0]), np.isnan(ref))
    assert np.isnan(fused[0][4]).all() and not np.isnan(np.delete(fused[0], 4, axis=0)).any()
    assert rel_err(np.delete(fused[0], 4, axis=0), np.delete(ref, 4, axis=0)) < TOLS[fw.float32]


def _single_pair(device, rng, bias):
    w = rng.standard_normal((5, 4))
    x = rng.standard_normal((6, 4))
    ours = nn.Sequential(nn.Linear(4, 5), nn.ReLU()).to(device)
    ours.load_state_dict({"0.weight": w.astype(np.float32), "0.bias": bias.astype(np.float32)})
    xt = torch.tensor(x, requires_grad=True)
    y_t = torch.relu(torch.nn.functional.linear(xt, torch.tensor(w), torch.tensor(bias)))
    return ours, x, xt, y_t


@pytest.mark.parametrize("fuse", [True, False], ids=["fused", "unfused"])
def test_nan_pre_activation_gradient_matches_torch(device, rng, fuse):
    """PyTorch's ReLU backward is threshold_backward, 0 only where out <= 0: at a NaN output (not <= 0) the
    gradient passes through, on the fused kernel and on F.relu alike."""
    bias = rng.standard_normal(5)
    bias[1] = np.nan  # column 1 is NaN for every row; everything else stays finite
    ours, x, xt, y_t = _single_pair(device, rng, bias)
    ours.fuse_linear_relu = fuse
    g = rng.standard_normal((6, 5))
    xs = fw.tensor(x, dtype=fw.float32, device=device, requires_grad=True)
    ours(xs).backward(fw.tensor(g, dtype=fw.float32, device=device))
    y_t.backward(torch.tensor(g))
    assert np.isnan(y_t.detach().numpy()[:, 1]).all() and (y_t.detach().numpy() == 0).any()
    assert rel_err(xs.grad, xt.grad) < TOLS[fw.float32]
    # the NaN column's weight and bias gradients are its rows of g (passed through), not 0
    w_grad, b_grad = ours[0].weight.grad.numpy(), ours[0].bias.grad.numpy()
    assert rel_err(w_grad[1], g[:, 1] @ x) < TOLS[fw.float32]
    assert rel_err(b_grad[1], g[:, 1].sum()) < TOLS[fw.float32]


@pytest.mark.parametrize("upstream", [np.inf, np.nan], ids=["inf", "nan"])
@pytest.mark.parametrize("fuse", [True, False], ids=["fused", "unfused"])
def test_non_finite_upstream_gradient_where_the_relu_is_zero(device, rng, fuse, upstream):
    """PyTorch's ReLU gives gradient 0 where its output is 0, whatever the upstream gradient holds (a select,
    not a multiplication by the mask, which would give inf * 0 = NaN)."""
    ours, x, xt, y_t = _single_pair(device, rng, rng.uniform(-0.2, 0.2, 5))
    ours.fuse_linear_relu = fuse
    xs = fw.tensor(x, dtype=fw.float32, device=device, requires_grad=True)
    y = ours(xs)
    g = rng.standard_normal((6, 5))
    dead = y_t.detach().numpy() == 0
    assert dead.any() and not dead.all()
    g[dead] = np.where(rng.random(dead.sum()) < 0.5, upstream, -upstream)
    y.backward(fw.tensor(g, dtype=fw.float32, device=device))
    y_t.backward(torch.tensor(g))
    assert np.isfinite(xt.grad.numpy()).all()
    assert rel_err(xs.grad, xt.grad) < TOLS[fw.float32]


# ------------------------------------------------------------------------------------------ the rule


class _MyLinear(nn.Linear):
    pass


class _MyReLU(nn.ReLU):
    pass


@pytest.mark.parametrize("modules", [
    lambda: (nn.LinearReLU(4, 4), nn.ReLU()),  # exact types: a Linear subclass is not a Linear here
    lambda: (_MyLinear(4, 4), nn.ReLU()),
    lambda: (nn.Linear(4, 4), _MyReLU()),
    lambda: (nn.Linear(4, 4), nn.LeakyReLU()),
    lambda: (nn.ReLU(), nn.Linear(4, 4)),
], ids=["LinearReLU", "Linear-subclass", "ReLU-subclass", "LeakyReLU", "reversed"])
def test_only_exact_linear_then_relu_is_fused(rng, counts, modules):
    seq = nn.Sequential(*modules())
    seq(fw.tensor(rng.standard_normal((3, 4)), dtype=fw.float32))
    assert fused_linear_relu_pairs(seq) == [] and not can_fuse_linear_relu(seq[0], seq[1])
    assert counts["linear_relu"] == (1 if isinstance(seq[0], nn.LinearReLU) else 0)


@pytest.mark.parametrize("where, register", [
    (0, lambda m: m.register_forward_hook(lambda *a: None)),
    (0, lambda m: m.register_full_backward_hook(lambda *a: None)),
    (1, lambda m: m.register_forward_pre_hook(lambda *a: None)),
    (1, lambda m: m.register_full_backward_pre_hook(lambda *a: None)),
], ids=["linear-forward", "linear-backward", "relu-forward-pre", "relu-backward-pre"])
def test_a_hook_on_either_module_prevents_fusion_until_removed(rng, counts, where, register):
    seq = nn.Sequential(nn.Linear(4, 3), nn.ReLU())
    x = fw.tensor(rng.standard_normal((2, 4)), dtype=fw.float32)
    handle = register(seq[where])
    seq(x)
    assert counts["linear_relu"] == 0 and fused_linear_relu_pairs(seq) == []
    handle.remove()
    seq(x)
    assert counts["linear_relu"] == 1 and fused_linear_relu_pairs(seq) == [("0", "1")]


def test_fused_in_train_and_eval_without_bias_and_with_inplace_relu(rng, counts):
    seq = nn.Sequential(nn.Linear(4, 3, bias=False), nn.ReLU(inplace=True))
    x = fw.tensor(rng.standard_normal((2, 4)), dtype=fw.float32)
    seq(x)
    seq.eval()
    with fw.no_grad():
        seq(x)
    assert (counts["linear_relu"], counts["relu"]) == (2, 0)


def test_switch_is_per_instance_and_not_part_of_the_model(counts):
    seq = nn.Sequential(nn.Linear(4, 3), nn.ReLU())
    keys, text = list(seq.state_dict()), repr(seq)
    other = nn.Sequential(nn.Linear(4, 3), nn.ReLU())
    seq.fuse_linear_relu = False
    assert fused_linear_relu_pairs(seq) == [] and fused_linear_relu_pairs(other) == [("0", "1")]
    assert list(seq.state_dict()) == keys and repr(seq) == text
    assert copy.deepcopy(seq).fuse_linear_relu is False
    seq(fw.ones(2, 4))
    assert (counts["linear_relu"], counts["relu"]) == (0, 1)


def test_fused_pairs_of_the_models():
    assert fused_linear_relu_pairs(DigitsCNN()) == [("7", "8")]
    assert fused_linear_relu_pairs(VAE()) == [("encoder.5", "encoder.6"), ("decoder.0", "decoder.1"),
                                              ("decoder.2", "decoder.3")]


def test_structure_is_pytorchs(counts):
    """Fusion leaves the modules alone: repr, state_dict keys, len, indexing and slicing are PyTorch's."""
    ours = nn.Sequential(nn.Linear(6, 9), nn.ReLU(inplace=True), nn.Linear(9, 2), nn.ReLU())
    theirs = tnn.Sequential(tnn.Linear(6, 9), tnn.ReLU(inplace=True), tnn.Linear(9, 2), tnn.ReLU())
    assert repr(ours) == repr(theirs)
    assert list(ours.state_dict()) == list(theirs.state_dict())
    assert len(ours) == len(theirs) == 4
    assert [type(m).__name__ for m in ours] == [type(m).__name__ for m in theirs]
    assert repr(ours[0]) == repr(theirs[0]) and repr(ours[-1]) == repr(theirs[-1])
    head = ours[0:2]  # a slice is a Sequential too, and fuses its own pair
    head(fw.ones(1, 6))
    assert counts["linear_relu"] == 1 and fused_linear_relu_pairs(head) == [("0", "1")]


@pytest.mark.parametrize("where", [0, 1], ids=["linear", "relu"])
def test_a_forward_replaced_on_the_instance_runs(rng, counts, where):
    """``module.forward = fn`` is what PyTorch calls; a fused pair would skip it."""
    x = rng.standard_normal((3, 4))
    ours, theirs = nn.Sequential(nn.Linear(4, 5), nn.ReLU()), tnn.Sequential(tnn.Linear(4, 5), tnn.ReLU()).double()
    ours.load_state_dict({k: v.detach().numpy() for k, v in theirs.state_dict().items()})
    for seq, lib in ((ours, F), (theirs, torch.nn.functional)):
        child = seq[where]
        child.forward = (lambda inp, child=child, lib=lib: lib.linear(inp, child.weight, child.bias) * 2) \
            if where == 0 else (lambda inp, lib=lib: lib.leaky_relu(inp, 0.5))
    out = ours(fw.tensor(x, dtype=fw.float32))
    assert counts["linear_relu"] == 0 and fused_linear_relu_pairs(ours) == []
    assert rel_err(out, theirs(torch.tensor(x))) < TOLS[fw.float32]
