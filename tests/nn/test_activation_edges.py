"""The composed activations and maximum/minimum at their edges: NaN, +-0.0, +-inf inputs under finite, +-inf and
NaN upstream gradients, against PyTorch in float64 element by element (one element takes torch's scalar CPU
loop, whose rule is its CUDA kernels' too; its vectorised loops disagree at NaN for hardswish, see
test_activations). Where torch's rule is a select (``x > 0 ? g : w * g``), an inf or NaN upstream gradient
must not leak into the branch not taken: multiplying by a 0/1 mask would give inf * 0 = NaN there."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn as tnn
import torch.nn.functional as tF

import framework as fw
from framework import nn
from framework.nn import functional as F

from ..conftest import rel_err
from .test_activations import _assert_same_with_non_finite, _torch_elementwise

TOL = 1e-4
nan, inf = np.nan, np.inf
# +-3 are hardsigmoid's and hardswish's kinks, 1 and 0 threshold's in the cases below
_EDGE_X = [nan, -0.0, 0.0, -inf, inf, -3.0, 3.0, 1.0, -1.5, 2.0]
_EDGE_G = [1.25, inf, -inf, nan]

# (id, ours, theirs, float64 tolerance)
EDGE_CASES = [
    ("threshold", lambda x: F.threshold(x, 1.0, -2.0), lambda t: tF.threshold(t, 1.0, -2.0), 1e-12),
    ("threshold-0", lambda x: F.threshold(x, 0.0, 0.0), lambda t: tF.threshold(t, 0.0, 0.0), 1e-12),
    ("Threshold", lambda x: nn.Threshold(-1.5, 20.0)(x), lambda t: tnn.Threshold(-1.5, 20.0)(t), 1e-12),
    # torch's float64 hardsigmoid gradient multiplies by 1/6 rounded to float32 (rel. 3e-8); ours by 1/6
    ("hardsigmoid", F.hardsigmoid, tF.hardsigmoid, 1e-7),
    ("hardswish", F.hardswish, tF.hardswish, 1e-12),
    ("Hardswish", lambda x: nn.Hardswish()(x), lambda t: tnn.Hardswish()(t), 1e-12),
    ("silu", F.silu, tF.silu, 1e-12),
    ("mish", F.mish, tF.mish, 1e-12),
    ("prelu", lambda x: F.prelu(x, fw.tensor([0.25], dtype=x.dtype, device=x.device)),
     lambda t: tF.prelu(t, torch.tensor([0.25], dtype=t.dtype)), 1e-12),
]


def _edge_grid(rng, n_random=30):
    """Every edge input with every edge upstream gradient, then fresh random inputs with +-inf / NaN upstream
    gradients on some of them; shape (10, 7)."""
    grid_x, grid_g = (a.ravel() for a in np.meshgrid(_EDGE_X, _EDGE_G))
    rand_x = rng.standard_normal(n_random) * 3
    rand_g = rng.standard_normal(n_random)
    rand_g[rng.permutation(n_random)[:8]] = rng.choice(_EDGE_G[1:], 8)
    return np.concatenate([grid_x, rand_x]).reshape(10, 7), np.concatenate([grid_g, rand_g]).reshape(10, 7)


@pytest.mark.filterwarnings("ignore:invalid value encountered:RuntimeWarning")
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize(("ours", "theirs", "tol64"), [c[1:] for c in EDGE_CASES], ids=[c[0] for c in EDGE_CASES])
def test_composed_activations_at_edges_match_torch(device, rng, ours, theirs, tol64, dtype):
    x_np, g_np = _edge_grid(rng)
    ref, ref_grad = _torch_elementwise(theirs, x_np, g_np)

    x = fw.tensor(x_np.astype(dtype), device=device, requires_grad=True)
    out = ours(x)
    out.backward(fw.tensor(g_np.astype(dtype), device=device))
    assert out.dtype == np.dtype(dtype).name and x.grad.dtype == np.dtype(dtype).name
    tol = TOL if dtype == np.float32 else tol64
    _assert_same_with_non_finite(out.numpy().astype(np.float64), ref, tol)
    _assert_same_with_non_finite(x.grad.numpy().astype(np.float64), ref_grad, tol)


@pytest.mark.filterwarnings("ignore:invalid value encountered:RuntimeWarning")
def test_edge_rules_exactly(device):
    """The values behind the rules, written out, for ours and torch alike: threshold keeps a NaN input and
    passes its gradient; hardsigmoid's gradient is g/6 on the open interval (-3, 3) and 0 elsewhere, NaN
    included; hardswish's is 0 for x <= -3 and g for x >= 3 or NaN (0, not 0 * inf, at x = -inf)."""
    x_np = np.array([nan, nan, -inf, -3.0, 0.0, 3.0, inf, -inf])
    g_np = np.array([6.0, inf, inf, inf, 6.0, -inf, inf, nan])
    want = {
        "threshold": ([nan, nan, 0.0, 0.0, 0.0, 3.0, inf, 0.0], [6.0, inf, 0.0, 0.0, 0.0, -inf, inf, 0.0]),
        "hardsigmoid": ([nan, nan, 0.0, 0.0, 0.5, 1.0, 1.0, 0.0], [0.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0]),
        "hardswish": ([nan, nan, nan, -0.0, 0.0, 3.0, inf, nan], [6.0, inf, 0.0, 0.0, 3.0, -inf, inf, 0.0]),
    }
    fns = {"threshold": (lambda x: F.threshold(x, 0.0, 0.0), lambda t: tF.threshold(t, 0.0, 0.0)),
           "hardsigmoid": (F.hardsigmoid, tF.hardsigmoid), "hardswish": (F.hardswish, tF.hardswish)}
    for name, (ours, theirs) in fns.items():
        want_out, want_grad = (np.array(v) for v in want[name])
        ref, ref_grad = _torch_elementwise(theirs, x_np, g_np)
        # rtol for torch's float64 hardsigmoid gradient only: it multiplies by 1/6 rounded to float32
        np.testing.assert_allclose(ref, want_out, rtol=0, atol=0, err_msg=f"torch {name}")
        np.testing.assert_allclose(ref_grad, want_grad, rtol=1e-7, atol=0, err_msg=f"torch {name} grad")
        x = fw.tensor(x_np.astype(np.float32), device=device, requires_grad=True)
        out = ours(x)
        out.backward(fw.tensor(g_np.astype(np.float32), device=device))
        np.testing.assert_array_equal(out.numpy(), want_out, err_msg=name)
        np.testing.assert_array_equal(x.grad.numpy(), want_grad, err_msg=f"{name} grad")


# ------------------------------------------------------------------------------------------------ prelu

def _torch_prelu_elementwise(x, w, g):
    """prelu's output, input gradient and weight gradient of each element alone (its weight ``w[i]``),
    torch in float64: the weight gradient of one element is its contribution ``x > 0 ? 0 : x * g``."""
    out, gx, gw = (np.empty_like(x) for _ in range(3))
    for i, (xi, wi, gi) in enumerate(zip(x, w, g, strict=True)):
        t = torch.tensor([xi], dtype=torch.float64, requires_grad=True)
        tw = torch.tensor([wi], dtype=torch.float64, requires_grad=True)
        y = tF.prelu(t, tw)
        y.backward(torch.tensor([gi], dtype=torch.float64))
        out[i], gx[i], gw[i] = y.item(), t.grad.item(), tw.grad.item()
    return out, gx, gw


@pytest.mark.filterwarnings("ignore:invalid value encountered:RuntimeWarning")
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_prelu_at_edges_matches_torch(device, rng, dtype):
    # input [1, K] with one weight per channel: every element has its own weight, so the weight gradient is
    # each element's own contribution, checked element by element (weights include 0 and negatives)
    x_np, g_np = (a.ravel() for a in _edge_grid(rng))
    w_np = np.resize([0.25, -0.5, 0.0, 1.5, 0.1], x_np.size)
    ref, ref_gx, ref_gw = _torch_prelu_elementwise(x_np, w_np, g_np)

    x = fw.tensor(x_np[None].astype(dtype), device=device, requires_grad=True)
    w = fw.tensor(w_np.astype(dtype), device=device, requires_grad=True)
    out = F.prelu(x, w)
    out.backward(fw.tensor(g_np[None].astype(dtype), device=device))
    tol = TOL if dtype == np.float32 else 1e-12
    _assert_same_with_non_finite(out.numpy()[0].astype(np.float64), ref, tol)
    _assert_same_with_non_finite(x.grad.numpy()[0].astype(np.float64), ref_gx, tol)
    _assert_same_with_non_finite(w.grad.numpy().astype(np.float64), ref_gw, tol)


@pytest.mark.parametrize(("shape", "n_weights"), [((2, 3, 5), 3), ((4, 3, 2, 3), 1), ((7,), 1), ((1, 13), 13)])
def test_prelu_weight_gradient_sums_over_the_right_dims(device, rng, shape, n_weights):
    """One weight for everything or one per channel (dim 1), as nn.PReLU(num_parameters); an inf upstream
    gradient where x > 0 leaves the weight's gradient finite (torch selects 0 there, not inf * 0)."""
    x_np = rng.standard_normal(shape)
    # At least one negative and one positive element, whatever the seed: the weight's gradient sums over the
    # negatives (all-positive x makes the reference all zeros: 1 draw in 128 for the 7-element shape), the inf
    # gradients go on the positives.
    x_np.flat[0] = -abs(x_np.flat[0]) - 0.1
    x_np.flat[-1] = abs(x_np.flat[-1]) + 0.1
    g_np = rng.standard_normal(shape)
    positive = np.flatnonzero(x_np > 0)
    g_np.flat[rng.choice(positive, max(1, positive.size // 3), replace=False)] = inf
    w_np = rng.uniform(-0.5, 0.5, n_weights)
    xr = torch.tensor(x_np, requires_grad=True)
    wr = torch.tensor(w_np, requires_grad=True)
    tF.prelu(xr, wr).backward(torch.tensor(g_np))
    assert np.isfinite(wr.grad.numpy()).all() and np.isinf(xr.grad.numpy()).any()

    x = fw.tensor(x_np.astype(np.float32), device=device, requires_grad=True)
    w = fw.tensor(w_np.astype(np.float32), device=device, requires_grad=True)
    out = F.prelu(x, w)
    out.backward(fw.tensor(g_np.astype(np.float32), device=device))
    assert out.shape == tuple(shape) and w.grad.shape == (n_weights,)
    assert rel_err(out, tF.prelu(xr, wr).detach()) < TOL
    _assert_same_with_non_finite(x.grad.numpy().astype(np.float64), xr.grad.numpy(), TOL)
    assert rel_err(w.grad, wr.grad) < TOL


# ------------------------------------------------------------------------------------- maximum, minimum

@pytest.mark.filterwarnings("ignore:invalid value encountered:RuntimeWarning")
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name", ["maximum", "minimum"])
def test_maximum_minimum_at_edges_match_torch(device, rng, name, dtype):
    """torch's rule: ``a`` gets g where it wins, g/2 at a tie (+0 and -0 tie), and g where either is NaN
    (both sides get it); the loser gets 0 whatever g holds (a select, not g * 0)."""
    edges = [nan, -0.0, 0.0, -inf, inf, 1.5]
    a_np, b_np, g_np = (v.ravel() for v in np.meshgrid(edges, edges, _EDGE_G, indexing="ij"))
    a_np = np.concatenate([a_np, rng.standard_normal(20)])
    b_np = np.concatenate([b_np, rng.standard_normal(20)])
    g_np = np.concatenate([g_np, rng.choice([1.0, -2.0, inf, -inf, nan], 20)])
    ref, ref_ga, ref_gb = (np.empty_like(a_np) for _ in range(3))
    for i, (ai, bi, gi) in enumerate(zip(a_np, b_np, g_np, strict=True)):
        ta = torch.tensor([ai], dtype=torch.float64, requires_grad=True)
        tb = torch.tensor([bi], dtype=torch.float64, requires_grad=True)
        y = getattr(torch, name)(ta, tb)
        y.backward(torch.tensor([gi], dtype=torch.float64))
        ref[i], ref_ga[i], ref_gb[i] = y.item(), ta.grad.item(), tb.grad.item()

    a = fw.tensor(a_np.astype(dtype), device=device, requires_grad=True)
    b = fw.tensor(b_np.astype(dtype), device=device, requires_grad=True)
    out = getattr(fw, name)(a, b)
    out.backward(fw.tensor(g_np.astype(dtype), device=device))
    tol = TOL if dtype == np.float32 else 1e-12
    _assert_same_with_non_finite(out.numpy().astype(np.float64), ref, tol)
    _assert_same_with_non_finite(a.grad.numpy().astype(np.float64), ref_ga, tol)
    _assert_same_with_non_finite(b.grad.numpy().astype(np.float64), ref_gb, tol)


@pytest.mark.parametrize("name", ["hardsigmoid", "hardswish", "silu", "mish", "prelu"])
def test_new_functions_match_finite_differences_float64(rng, name):
    """ops.Hardsigmoid/Hardswish/Silu/Mish/Prelu's backward against central differences, float64 on numpy,
    away from the kinks (+-3, 0) where a difference quotient straddles two branches."""
    x_np = rng.uniform(0.2, 2.5, (3, 4, 5)) * rng.choice([-1.0, 1.0], (3, 4, 5))
    x_np[0, 0, :2] = [-5.0, 4.0]  # the flat ends of hardsigmoid / hardswish
    g_np = rng.standard_normal(x_np.shape)
    w_np = rng.uniform(-0.5, 0.5, 4)
    w = fw.tensor(w_np, dtype=fw.float64, requires_grad=True)

    def f(t, weight=w):
        return F.prelu(t, weight) if name == "prelu" else getattr(F, name)(t)

    x = fw.tensor(x_np, dtype=fw.float64, requires_grad=True)
    f(x).backward(fw.tensor(g_np, dtype=fw.float64))
    eps = 1e-6
    numeric = (f(fw.tensor(x_np + eps)).numpy() - f(fw.tensor(x_np - eps)).numpy()) / (2 * eps) * g_np
    assert rel_err(x.grad, numeric) < 1e-7
    if name == "prelu":
        numeric_w = np.zeros(4)
        for c in range(4):
            dw = np.eye(4)[c] * eps
            plus, minus = (f(fw.tensor(x_np), fw.tensor(w_np + s * dw)).numpy() for s in (1, -1))
            numeric_w[c] = ((plus - minus) * g_np).sum() / (2 * eps)
        assert rel_err(w.grad, numeric_w) < 1e-7


def test_prelu_keeps_a_0d_input_0d(device):
    x, w = (fw.tensor(v, device=device, requires_grad=True) for v in (-2.0, [0.25]))
    xr, wr = (torch.tensor(v, dtype=torch.float64, requires_grad=True) for v in (-2.0, [0.25]))
    out, ref = F.prelu(x, w), tF.prelu(xr, wr)
    out.backward(fw.tensor(1.5, device=device))
    ref.backward(torch.tensor(1.5, dtype=torch.float64))
    assert out.shape == ref.shape == () and out.item() == ref.item() == -0.5
    assert x.grad.shape == () and w.grad.shape == (1,)
    assert x.grad.item() == xr.grad.item() == 0.375 and w.grad.tolist() == wr.grad.tolist() == [-3.0]
