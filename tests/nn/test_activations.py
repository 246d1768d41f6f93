"""GELU (exact and tanh), ELU, SiLU, Softplus, Hardtanh and Mish against torch (float32 here vs float64 torch):
functional and module outputs and input gradients, repr, ``inplace``, edge values and validation; and the
erfc behind exact GELU against torch's float64 erfc."""

from __future__ import annotations

import math
import warnings

import array_api_compat.numpy as xp_numpy
import array_api_compat.torch as xp_torch
import numpy as np
import pytest
import torch
import torch.nn as tnn
import torch.nn.functional as tF

import framework as fw
from framework import nn, ops
from framework.nn import functional as F

from ..conftest import pair, rel_err

TOL = 1e-4

# (id, ours, theirs): the functional forms, with non-default arguments where there are any.
FUNCTIONAL = [
    ("gelu", F.gelu, tF.gelu),
    ("gelu-tanh", lambda x: F.gelu(x, approximate="tanh"), lambda x: tF.gelu(x, approximate="tanh")),
    ("elu", F.elu, tF.elu),
    ("elu-alpha", lambda x: F.elu(x, alpha=0.4), lambda x: tF.elu(x, alpha=0.4)),
    ("silu", F.silu, tF.silu),
    ("softplus", F.softplus, tF.softplus),
    # beta * x crosses the threshold inside the input range, so both branches are exercised
    ("softplus-beta", lambda x: F.softplus(x, beta=2.0, threshold=3.0),
     lambda x: tF.softplus(x, beta=2.0, threshold=3.0)),
    ("hardtanh", F.hardtanh, tF.hardtanh),
    ("hardtanh-range", lambda x: F.hardtanh(x, min_val=-0.5, max_val=2.0),
     lambda x: tF.hardtanh(x, min_val=-0.5, max_val=2.0)),
    ("mish", F.mish, tF.mish),
]


@pytest.mark.parametrize("shape", [(1,), (1, 7), (3, 5, 2)], ids=str)
@pytest.mark.parametrize(("ours", "theirs"), [c[1:] for c in FUNCTIONAL], ids=[c[0] for c in FUNCTIONAL])
def test_functional_matches_torch(device, rng, ours, theirs, shape):
    # Not below -4.5: there torch's float64 tanh-GELU, 1 + tanh(u), starts to cancel (ours does not; see
    # test_tanh_gelu_left_tail), and with one element the norm-wise error is that element's.
    x, ref_x = pair(rng.uniform(-4.5, 4.5, shape), device)
    out, ref = ours(x), theirs(ref_x)
    assert out.shape == tuple(ref.shape) and out.dtype == "float32" and out.device == device
    assert rel_err(out, ref) < TOL
    g = rng.standard_normal(shape)
    out.backward(fw.tensor(g.astype(np.float32), device=device))
    ref.backward(torch.tensor(g))
    if not ref_x.grad.any():  # hardtanh of values all outside its range
        np.testing.assert_array_equal(x.grad.numpy(), 0)
    elif shape == (1,):
        # A lone x near a root of the derivative (GELU's at -0.75, SiLU's at -1.28, ...) makes the relative
        # error meaningless; the absolute error must still be float32-small.
        np.testing.assert_allclose(x.grad.numpy(), ref_x.grad.numpy(), rtol=TOL, atol=1e-6 * abs(g).max())
    else:
        assert rel_err(x.grad, ref_x.grad) < TOL


@pytest.mark.parametrize(("ours", "theirs"), [c[1:] for c in FUNCTIONAL], ids=[c[0] for c in FUNCTIONAL])
def test_float64_is_tight(device, rng, ours, theirs):
    # Spread over [-4.5, 4.5] so every function's interesting region (and hardtanh's range) is hit.
    values = np.linspace(-4.5, 4.5, 20) + rng.uniform(-0.2, 0.2, 20)
    x, ref_x = pair(values.reshape(4, 5), device, dtype=np.float64)
    out, ref = ours(x), theirs(ref_x)
    assert out.dtype == "float64" and rel_err(out, ref) < 1e-12
    out.sum().backward()
    ref.sum().backward()
    assert rel_err(x.grad, ref_x.grad) < 1e-12


MODULES = [
    (lambda: nn.GELU(), lambda: tnn.GELU()),
    (lambda: nn.GELU(approximate="tanh"), lambda: tnn.GELU(approximate="tanh")),
    (lambda: nn.ELU(), lambda: tnn.ELU()),
    (lambda: nn.ELU(alpha=0.5, inplace=True), lambda: tnn.ELU(alpha=0.5)),
    (lambda: nn.SiLU(), lambda: tnn.SiLU()),
    (lambda: nn.SiLU(inplace=True), lambda: tnn.SiLU()),
    (lambda: nn.Softplus(), lambda: tnn.Softplus()),
    (lambda: nn.Softplus(beta=0.5, threshold=1.0), lambda: tnn.Softplus(beta=0.5, threshold=1.0)),
    (lambda: nn.Hardtanh(), lambda: tnn.Hardtanh()),
    (lambda: nn.Hardtanh(-2.0, 0.5, inplace=True), lambda: tnn.Hardtanh(-2.0, 0.5)),
    (lambda: nn.Mish(), lambda: tnn.Mish()),
    (lambda: nn.Mish(inplace=True), lambda: tnn.Mish()),
]


@pytest.mark.parametrize(("make_ours", "make_theirs"), MODULES, ids=lambda make: repr(make()))
def test_modules_match_torch(device, rng, make_ours, make_theirs):
    ours, theirs = make_ours().to(device), make_theirs()
    assert list(ours.parameters()) == [] and ours.state_dict() == {}
    values = rng.standard_normal((2, 3, 5)) * 3.0
    x, ref_x = pair(values, device)
    out, ref = ours(x), theirs(ref_x)
    assert rel_err(out, ref) < TOL
    out.sum().backward()
    ref.sum().backward()
    assert rel_err(x.grad, ref_x.grad) < TOL
    # inplace=True is accepted and gives the same values in a new tensor; the input is left as it was.
    assert out is not x
    np.testing.assert_array_equal(x.numpy(), values.astype(np.float32))


def test_repr_matches_torch():
    ours = nn.Sequential(nn.GELU(), nn.GELU("tanh"), nn.ELU(), nn.ELU(0.5, True), nn.SiLU(), nn.SiLU(True),
                         nn.Softplus(), nn.Softplus(2, 10), nn.Hardtanh(), nn.Hardtanh(-2, 3, True), nn.Mish(),
                         nn.Mish(inplace=True))
    theirs = tnn.Sequential(tnn.GELU(), tnn.GELU("tanh"), tnn.ELU(), tnn.ELU(0.5, True), tnn.SiLU(),
                            tnn.SiLU(True), tnn.Softplus(), tnn.Softplus(2, 10), tnn.Hardtanh(),
                            tnn.Hardtanh(-2, 3, True), tnn.Mish(), tnn.Mish(inplace=True))
    assert repr(ours) == repr(theirs)


def test_inplace_functional_returns_a_new_tensor(device):
    x = fw.tensor([-2.0, -0.5, 0.5, 2.0], device=device)
    before = x.numpy().copy()
    for out in (F.elu(x, inplace=True), F.silu(x, inplace=True), F.hardtanh(x, inplace=True),
                F.mish(x, inplace=True)):
        assert out is not x
    np.testing.assert_array_equal(x.numpy(), before)


# ---------------------------------------------------------------------------------------- edge values


def test_hardtanh_has_no_gradient_at_its_limits(device):
    # PyTorch's hardtanh (unlike clamp) passes no gradient at x == min_val or x == max_val.
    values = np.array([-1.5, -1.0, -0.25, 0.0, 1.0, 1.5])
    x, ref_x = pair(values, device)
    F.hardtanh(x).sum().backward()
    tF.hardtanh(ref_x).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), ref_x.grad.numpy())
    np.testing.assert_array_equal(x.grad.numpy(), [0, 0, 1, 1, 0, 0])


# The ReLU family's edges: NaN, +-0.0, +-inf pre-activations under finite, +-inf and NaN upstream gradients.
# PyTorch gives 0 where the unit is off whatever the upstream gradient holds (a select, not grad * mask), and
# its comparisons decide where a NaN input goes: relu and threshold zero only where x <= 0, so NaN passes.
_EDGE_X = [np.nan, -0.0, 0.0, -np.inf, np.inf, -1.5, 2.0, 6.0]
_EDGE_G = [1.25, np.inf, -np.inf, np.nan]

# (id, ours, theirs); selu and celu are composed from ops.Elu, relu6 from ops.Hardtanh.
EDGE_CASES = [
    ("relu", F.relu, torch.relu),
    ("relu-inplace", lambda x: F.relu(x, inplace=True), lambda t: torch.relu_(t.clone())),
    ("ReLU", lambda x: nn.ReLU()(x), lambda t: tnn.ReLU()(t)),
    ("Tensor.relu", lambda x: x.relu(), lambda t: t.relu()),
    ("leaky_relu", lambda x: F.leaky_relu(x, 0.1), lambda t: tF.leaky_relu(t, 0.1)),
    ("elu", F.elu, tF.elu),
    ("elu-alpha", lambda x: F.elu(x, alpha=0.4), lambda t: tF.elu(t, alpha=0.4)),
    ("selu", F.selu, tF.selu),
    ("celu", lambda x: F.celu(x, alpha=2.0), lambda t: tF.celu(t, alpha=2.0)),
    ("hardtanh", F.hardtanh, tF.hardtanh),
    ("relu6", F.relu6, tF.relu6),
]


def _torch_elementwise(fn, x, g):
    """``fn(x)`` and its input gradient for upstream ``g``, in float64, one element at a time: torch's CPU
    elu and hardtanh backward disagree with themselves at NaN (their vectorised loops test x > 0 / the open
    interval and give NaN / 0; their scalar loops and CUDA kernels give the gradient), and one element
    always takes the scalar loop, whose rule is the one PyTorch's source and CUDA state."""
    out, grad = np.empty_like(x), np.empty_like(x)
    for i, (xi, gi) in enumerate(zip(x.flat, g.flat, strict=True)):
        t = torch.tensor([xi], dtype=torch.float64, requires_grad=True)
        y = fn(t)
        y.backward(torch.tensor([gi], dtype=torch.float64))
        out.flat[i], grad.flat[i] = y.item(), t.grad.item()
    return out, grad


def _assert_same_with_non_finite(ours, ref, tol):
    """NaN and inf exactly where ``ref`` has them (same sign of inf), the finite rest within ``tol``."""
    np.testing.assert_array_equal(np.isnan(ours), np.isnan(ref))
    inf = np.isinf(ref)
    np.testing.assert_array_equal(ours[inf], ref[inf])
    finite = np.isfinite(ref)
    assert rel_err(ours[finite], ref[finite]) < tol


@pytest.mark.filterwarnings("ignore:invalid value encountered:RuntimeWarning")
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize(("ours", "theirs"), [c[1:] for c in EDGE_CASES], ids=[c[0] for c in EDGE_CASES])
def test_edge_values_and_non_finite_gradients_match_torch(device, rng, ours, theirs, dtype):
    # every edge pre-activation meets every edge upstream gradient, then fresh random values with +-inf / NaN
    # upstream gradients on some of them (where a ReLU is off, torch's gradient is 0 all the same)
    grid_x, grid_g = (a.ravel() for a in np.meshgrid(_EDGE_X, _EDGE_G))
    rand_x = rng.standard_normal(24) * 3
    rand_g = rng.standard_normal(24)
    rand_g[rng.permutation(24)[:6]] = rng.choice(_EDGE_G[1:], 6)
    x_np = np.concatenate([grid_x, rand_x]).reshape(7, 8)
    g_np = np.concatenate([grid_g, rand_g]).reshape(7, 8)
    ref, ref_grad = _torch_elementwise(theirs, x_np, g_np)

    x = fw.tensor(x_np.astype(dtype), device=device, requires_grad=True)
    out = ours(x)
    out.backward(fw.tensor(g_np.astype(dtype), device=device))
    assert out.dtype == np.dtype(dtype).name and x.grad.dtype == np.dtype(dtype).name
    tol = TOL if dtype == np.float32 else 1e-12
    _assert_same_with_non_finite(out.numpy().astype(np.float64), ref, tol)
    _assert_same_with_non_finite(x.grad.numpy().astype(np.float64), ref_grad, tol)


def test_relu_gradient_rule_is_torch_threshold_backward(device):
    """The exact values behind the rule: 0 where out <= 0 (-0.0, 0.0, -inf, negatives) whatever the upstream
    gradient, the gradient itself where out is NaN or positive, for F.relu and torch alike."""
    x_np = np.array([np.nan, np.nan, -0.0, 0.0, -np.inf, -2.0, 0.0, 3.0, np.inf])
    g_np = np.array([2.0, np.inf, np.inf, np.nan, -np.inf, np.nan, 5.0, np.inf, -3.0])
    want = np.array([2.0, np.inf, 0.0, 0.0, 0.0, 0.0, 0.0, np.inf, -3.0])
    x, ref_x = pair(x_np, device)
    F.relu(x).backward(fw.tensor(g_np.astype(np.float32), device=device))
    torch.relu(ref_x).backward(torch.tensor(g_np))
    np.testing.assert_array_equal(ref_x.grad.numpy(), want)
    np.testing.assert_array_equal(x.grad.numpy(), want)


def test_large_inputs_stay_finite_and_warning_free(device):
    values = np.array([-1e4, -100.0, -30.0, -1e-6, 0.0, 1e-6, 30.0, 100.0, 1e4])
    for ours, theirs in [c[1:] for c in FUNCTIONAL]:
        x, ref_x = pair(values, device)
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # no overflow / invalid-value warnings from an unused branch
            out = ours(x)
            out.sum().backward()
        ref = theirs(ref_x)
        ref.sum().backward()
        assert np.isfinite(out.numpy()).all() and np.isfinite(x.grad.numpy()).all()
        np.testing.assert_allclose(out.numpy(), ref.detach().numpy(), rtol=1e-6, atol=1e-30)
        np.testing.assert_allclose(x.grad.numpy(), ref_x.grad.numpy(), rtol=1e-5, atol=1e-30)


def test_exact_gelu_is_accurate_elementwise(device):
    """Exact GELU against ``x * Phi(x)`` in float64 with Phi from erfc (torch's own float64 gelu computes
    ``1 + erf`` and loses everything in the left tail, so it is not the reference here)."""
    xs = np.linspace(-9.0, 9.0, 3601).astype(np.float32).astype(np.float64)  # exact in both dtypes
    ref_x = torch.tensor(xs)
    cdf = 0.5 * torch.special.erfc(-ref_x / math.sqrt(2.0))
    ref = (ref_x * cdf).numpy()
    ref_grad = (cdf + ref_x * torch.exp(-0.5 * ref_x * ref_x) / math.sqrt(2.0 * math.pi)).numpy()
    nonzero = xs != 0
    # float32: a few ulp, plus the rounding of x / sqrt(2), which the left tail amplifies by ~x^2.
    for dtype, bound in ((np.float32, 3e-7 + 1.5e-7 * xs**2), (np.float64, np.full_like(xs, 1e-13))):
        x = fw.tensor(xs.astype(dtype), device=device, requires_grad=True)
        out = F.gelu(x)
        out.sum().backward()
        err = np.abs(out.numpy().astype(np.float64) - ref) / np.maximum(np.abs(ref), 1e-300)
        assert (err <= bound)[nonzero].all(), (xs[np.argmax(err / bound)], err.max())
        # The derivative has a root near -0.75, where only its absolute error is meaningful.
        gerr = np.abs(x.grad.numpy().astype(np.float64) - ref_grad)
        assert gerr.max() < (1e-6 if dtype == np.float32 else 1e-14)


def test_tanh_gelu_left_tail(device):
    """``0.5 x (1 + tanh(u))`` is computed as ``x sigmoid(2u)``: no cancellation to 0 for x << 0 (torch's float64
    formula loses all digits by x = -7), so the reference here is the sigmoid form in float64."""
    xs = np.linspace(-12.0, 3.0, 1501).astype(np.float32).astype(np.float64)
    two_u = 2 * math.sqrt(2 / math.pi) * (xs + 0.044715 * xs**3)
    ref = xs * torch.sigmoid(torch.tensor(two_u)).numpy()
    out = F.gelu(fw.tensor(xs.astype(np.float32), device=device), approximate="tanh").numpy()
    keep = (xs != 0) & (np.abs(ref) > 1e-37)  # normal float32 values
    err = np.abs(out[keep] - ref[keep]) / np.abs(ref[keep])
    # A few ulp, plus the float32 rounding of 2u, which sigmoid's tail amplifies by |2u|.
    assert (err <= 5e-7 + 2e-7 * np.abs(two_u[keep])).all()


def test_gelu_half_precision_is_computed_in_float32(rng):
    values = rng.standard_normal(64) * 3
    x = fw.tensor(values, dtype="float16", requires_grad=True)
    out = F.gelu(x)
    assert out.dtype == "float16"
    ref = tF.gelu(torch.tensor(values.astype(np.float16).astype(np.float64)))
    np.testing.assert_allclose(out.numpy().astype(np.float64), ref.numpy(), rtol=2e-3, atol=1e-4)
    out.sum().backward()
    assert x.grad.dtype == "float16"


@pytest.mark.parametrize("xp, to_array", [(xp_numpy, np.asarray), (xp_torch, torch.from_numpy)],
                         ids=["numpy", "torch"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.float16])
def test_erfc_against_torch(xp, to_array, dtype):
    """The erfc behind exact GELU (SciPy's for numpy arrays, torch's for torch tensors) keeps the dtype and
    its relative accuracy in the tail, and maps the special values right."""
    xs = np.concatenate([np.linspace(-7.0, 9.0, 3201), [0.0, 0.84375, 1.25, 1 / 0.35, 6.0]]).astype(dtype)
    ours = np.asarray(ops.erfc(xp, to_array(xs)))
    assert ours.dtype == dtype
    ref = torch.special.erfc(torch.tensor(xs.astype(np.float64))).numpy()
    keep = ref > np.finfo(dtype).tiny  # below, the value is subnormal in dtype and has fewer digits
    tol = {np.float64: 1e-13, np.float32: 4 * np.finfo(np.float32).eps, np.float16: 1e-3}[dtype]
    assert (np.abs(ours[keep] - ref[keep]) / ref[keep]).max() < tol
    special = np.array([-0.0, np.inf, -np.inf, 40.0, -40.0, np.nan], dtype=dtype)
    got = np.asarray(ops.erfc(xp, to_array(special)))
    np.testing.assert_array_equal(got, np.array([1, 0, 2, 0, 2, np.nan], dtype=dtype))


# ---------------------------------------------------------------------------------------- validation


def test_validation():
    x = fw.zeros(3)
    with pytest.raises(ValueError, match="approximate must be 'none' or 'tanh', got 'erf'"):
        F.gelu(x, approximate="erf")
    with pytest.raises(ValueError, match="approximate must be 'none' or 'tanh'"):
        nn.GELU("fast")
    with pytest.raises(ValueError, match=r"min_val \(2.0\) cannot be greater than max_val \(1.0\)"):
        F.hardtanh(x, 2.0, 1.0)
    with pytest.raises(ValueError, match=r"max_val \(1.0\) must be greater than min_val \(1.0\)"):
        nn.Hardtanh(1.0, 1.0)
    for fn in (F.gelu, F.elu, F.silu, F.softplus, F.hardtanh, F.mish):
        with pytest.raises(TypeError, match="floating-point"):
            fn(fw.zeros(3, dtype="int64"))
        with pytest.raises(TypeError, match="must be a Tensor"):
            fn(np.zeros(3))
