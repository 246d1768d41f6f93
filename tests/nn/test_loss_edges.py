"""Loss functions at the edges training reaches, against PyTorch in float64 (values and gradients).

BCE at p = 0 / 1 (a saturated sigmoid), BCE-with-logits at 0, +-inf and |x| > 17, cross-entropy and
nll_loss with ignored padding rows holding -inf/NaN logits and with every row ignored, and the argument
checks (weights that do not broadcast, a float ignore_index) that PyTorch refuses too.
Edge grids are compared element by element (one huge gradient such as 1 / 1e-12 would hide every other
element in a norm); random inputs by ‖out − ref‖ / ‖ref‖.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as TF

import framework as fw
import framework.nn as nn
import framework.nn.functional as F

from ..conftest import pair, rel_err

TOL = 1e-4
INF = np.inf


def assert_elementwise(out, ref, rtol: float = TOL, atol: float = 1e-30) -> None:
    """Same NaN/inf pattern as the float64 reference, and each finite element within ``rtol`` of it."""
    out = np.asarray(out.numpy() if isinstance(out, fw.Tensor) else out, dtype=np.float64)
    ref = ref.detach().numpy() if isinstance(ref, torch.Tensor) else np.asarray(ref, dtype=np.float64)
    assert out.shape == ref.shape
    assert np.any(ref != 0), "reference is all zeros: the comparison would prove nothing"
    np.testing.assert_array_equal(np.isnan(out), np.isnan(ref))
    finite = np.isfinite(ref)
    np.testing.assert_array_equal(out[~finite & ~np.isnan(ref)], ref[~finite & ~np.isnan(ref)])  # +-inf
    err = np.abs(out[finite] - ref[finite])
    assert np.all(err <= rtol * np.abs(ref[finite]) + atol), (out, ref)


def grid(values_a, values_b) -> tuple[np.ndarray, np.ndarray]:
    """Every pair (a, b), as float32-representable float64 arrays."""
    a, b = np.meshgrid(np.asarray(values_a, np.float32), np.asarray(values_b, np.float32), indexing="ij")
    return a.ravel().astype(np.float64), b.ravel().astype(np.float64)


# ------------------------------------------------------------------------------ binary_cross_entropy


def test_bce_at_zero_one_and_tiny_probabilities_matches_torch(device):
    p, t = grid([0.0, 1.0, 1e-30, 1 - 1e-8, 1e-6, 0.5, 0.9], [0.0, 1.0, 0.3])
    x, tx = pair(p, device)
    tgt, ttgt = pair(t, device)
    out = F.binary_cross_entropy(x, tgt, reduction="none")
    ref = TF.binary_cross_entropy(tx, ttgt, reduction="none")
    assert_elementwise(out, ref)
    out.sum().backward()
    ref.sum().backward()
    assert np.all(np.isfinite(x.grad.numpy()))  # p = 0 or 1 with an agreeing target: 0, never NaN
    assert_elementwise(x.grad, tx.grad)
    assert_elementwise(tgt.grad, ttgt.grad)  # +-inf at p = 0 / 1, as PyTorch


def test_saturated_sigmoid_then_bce_keeps_gradients_finite(device):
    """sigmoid(20) is exactly 1.0 in float32: Sigmoid + BCELoss (a VAE, a DCGAN) must not turn NaN."""
    logits = np.array([20.0, -20.0, 40.0, -90.0, 0.3])
    target = np.array([1.0, 0.0, 1.0, 0.0, 1.0])
    x = fw.tensor(logits.astype(np.float32), device=device, requires_grad=True)
    loss = nn.BCELoss()(fw.sigmoid(x), fw.tensor(target.astype(np.float32), device=device))
    loss.backward()
    # PyTorch in float32 saturates the same way (float64 would not), so it is the reference here
    tx = torch.tensor(logits, dtype=torch.float32, requires_grad=True)
    ref = TF.binary_cross_entropy(torch.sigmoid(tx), torch.tensor(target, dtype=torch.float32))
    ref.backward()
    assert np.all(np.isfinite(x.grad.numpy()))
    assert rel_err(loss, ref) < TOL and rel_err(x.grad, tx.grad) < TOL


@pytest.mark.parametrize("reduction", ["mean", "sum"])
def test_bce_random_with_broadcast_weight_matches_torch(device, reduction, rng):
    x, tx = pair(rng.uniform(0.01, 0.99, (3, 5)), device)
    t, tt = pair(rng.uniform(0, 1, (3, 5)), device, requires_grad=False)
    w, tw = pair(rng.uniform(0.5, 2.0, (5,)), device, requires_grad=False)  # PyTorch: no gradient for weight
    out = F.binary_cross_entropy(x, t, weight=w, reduction=reduction)
    ref = TF.binary_cross_entropy(tx, tt, weight=tw, reduction=reduction)
    assert rel_err(out, ref) < TOL
    out.backward()
    ref.backward()
    assert rel_err(x.grad, tx.grad) < TOL


def test_bce_out_of_range_input(device, monkeypatch):
    with pytest.raises(ValueError, match=r"input values must be in \[0, 1\]"):
        F.binary_cross_entropy(fw.tensor([0.5, 1.5], device=device), fw.tensor([0.0, 1.0], device=device))
    with pytest.raises(ValueError, match=r"input values must be in \[0, 1\]"):
        F.binary_cross_entropy(fw.tensor([0.5, np.nan], device=device), fw.tensor([0.0, 1.0], device=device))
    # what a GPU does by default: no host read of the values; the bad element shows as NaN instead
    monkeypatch.setenv("KERNELGRAD_SYNC_CHECKS", "0")
    out = F.binary_cross_entropy(fw.tensor([0.5, 1.5], device=device), fw.tensor([0.0, 1.0], device=device),
                                 reduction="none")
    assert np.isnan(out.numpy()[1]) and np.isfinite(out.numpy()[0])


# -------------------------------------------------------------------- binary_cross_entropy_with_logits


def _bce_with_logits_reference(x, t, weight, pos_weight):
    """PyTorch refuses gradients for weight and pos_weight; ours gives them, checked on PyTorch's formula."""
    log_weight = 1 + (pos_weight - 1) * t
    return ((1 - t) * x - log_weight * TF.logsigmoid(x)) * weight


@pytest.mark.parametrize("with_pos_weight", [False, True])
def test_bce_with_logits_at_zero_infinities_and_large_logits_matches_torch(device, with_pos_weight):
    # |x| = 40 is checked below: there even float64 PyTorch rounds the e^-40 terms to 0
    xs, ts = grid([0.0, INF, -INF, 17.5, -17.5, 20.0, -20.0, 1.3, -0.7], [0.0, 1.0, 0.3])
    x, tx = pair(xs, device)
    t, tt = pair(ts, device)
    kw, tkw = {}, {}
    if with_pos_weight:
        pw, tpw = pair(np.array([3.0]), device, requires_grad=False)
        kw, tkw = {"pos_weight": pw}, {"pos_weight": tpw}
    out = F.binary_cross_entropy_with_logits(x, t, reduction="none", **kw)
    ref = TF.binary_cross_entropy_with_logits(tx, tt, reduction="none", **tkw)
    assert_elementwise(out, ref)  # e^-20 = 2e-9 survives at x = 20, t = 1 (log1p), NaN/inf where PyTorch's are
    out.backward(fw.ones(*out.shape, device=device))
    ref.backward(torch.ones_like(ref))
    assert_elementwise(x.grad, tx.grad)  # sigmoid(0) - t at x = 0
    assert_elementwise(t.grad, tt.grad)


def test_bce_with_logits_keeps_the_exponentially_small_terms(device):
    """Loss and gradient of agreeing logits at |x| = 40 are e^-40 = 4.2e-18, not 0 (log1p, sign-split sigmoid)."""
    x = fw.tensor([40.0, -40.0], device=device, requires_grad=True)
    loss = F.binary_cross_entropy_with_logits(x, fw.tensor([1.0, 0.0], device=device), reduction="none")
    loss.sum().backward()
    tiny = math.exp(-40.0)
    assert_elementwise(loss, np.array([tiny, tiny]), rtol=1e-6)
    assert_elementwise(x.grad, np.array([-tiny, tiny]), rtol=1e-6)


@pytest.mark.parametrize("reduction", ["mean", "sum"])
def test_bce_with_logits_random_weights_match_torch(device, reduction, rng):
    x, tx = pair(3 * rng.standard_normal((2, 3, 4)), device)
    t, tt = pair(rng.uniform(0, 1, (2, 3, 4)), device)
    w, tw = pair(rng.uniform(0.5, 2.0, (3, 1)), device)
    pw, tpw = pair(rng.uniform(0.5, 3.0, (4,)), device)
    out = F.binary_cross_entropy_with_logits(x, t, weight=w, reduction=reduction, pos_weight=pw)
    ref = TF.binary_cross_entropy_with_logits(tx, tt, weight=tw.detach(), reduction=reduction,
                                              pos_weight=tpw.detach())
    assert rel_err(out, ref) < TOL
    out.backward()
    ref.backward()
    for ours, theirs in ((x, tx), (t, tt)):
        assert rel_err(ours.grad, theirs.grad) < TOL
    formula = _bce_with_logits_reference(tx.detach(), tt.detach(), tw, tpw)
    (formula.mean() if reduction == "mean" else formula.sum()).backward()
    assert rel_err(w.grad, tw.grad) < TOL and rel_err(pw.grad, tpw.grad) < TOL


# ------------------------------------------------------------------------- smooth_l1_loss / huber_loss


@pytest.mark.parametrize("loss", ["smooth_l1", "huber"])
def test_smooth_l1_and_huber_at_infinite_and_huge_differences_match_torch(device, loss):
    """The linear branch's gradient is sign(d) (times delta) even at d = +-inf; the unused square branch
    must not turn it into 0 * inf = NaN (found by fuzzing against torch)."""
    x, tx = pair(np.array([INF, -INF, 1e30, -1e30, 0.3, 2.5, -1.5, 2.0, 0.5]), device)
    t, tt = pair(np.full(9, 0.5), device, requires_grad=False)
    for k in (2.0, 0.5):
        if loss == "smooth_l1":
            out = F.smooth_l1_loss(x, t, reduction="none", beta=k)
            ref = TF.smooth_l1_loss(tx, tt, reduction="none", beta=k)
        else:
            out = F.huber_loss(x, t, reduction="none", delta=k)
            ref = TF.huber_loss(tx, tt, reduction="none", delta=k)
        assert_elementwise(out, ref)
        out.sum().backward()
        ref.sum().backward()
        assert_elementwise(x.grad, tx.grad)
        x.grad = tx.grad = None


# ------------------------------------------------------------------------- cross_entropy / nll_loss

CE_CONFIGS = [  # (reduction, class weight, label_smoothing); the first is the fused kernel path
    ("mean", False, 0.0), ("sum", False, 0.0), ("none", False, 0.0),
    ("mean", True, 0.0), ("mean", False, 0.2), ("sum", True, 0.1), ("none", True, 0.2),
]


def _class_weight(rng, C, device):
    return pair(rng.uniform(0.5, 2.0, C), device, requires_grad=False)


@pytest.mark.parametrize("reduction,weighted,smoothing", CE_CONFIGS)
def test_cross_entropy_ignored_padding_rows_with_inf_nan_logits(device, reduction, weighted, smoothing, rng):
    logits = 3 * rng.standard_normal((5, 4))
    logits[1] = -INF  # a fully masked padding row
    logits[3] = [np.nan, 0.0, INF, -INF]
    target = rng.integers(0, 4, 5)
    target[[1, 3]] = -1
    x, tx = pair(logits, device)
    kw = {"reduction": reduction, "label_smoothing": smoothing, "ignore_index": -1}
    w, tw = _class_weight(rng, 4, device) if weighted else (None, None)
    out = F.cross_entropy(x, fw.tensor(target, device=device), weight=w, **kw)
    ref = TF.cross_entropy(tx, torch.tensor(target), weight=tw, **kw)
    assert np.all(np.isfinite(out.numpy()))
    assert rel_err(out, ref) < TOL
    out.sum().backward()
    ref.sum().backward()
    grad = x.grad.numpy()
    keep = [0, 2, 4]
    assert rel_err(grad[keep], tx.grad[keep]) < TOL
    # an ignored row gets exactly zero (PyTorch: NaN for a row that is all -inf/NaN; documented)
    assert np.all(grad[[1, 3]] == 0)


def test_nll_loss_ignored_padding_rows(device, rng):
    for reduction, weighted in (("mean", False), ("sum", True), ("none", False), ("mean", True)):
        logp = np.log(rng.dirichlet(np.ones(3), size=4))
        logp[2] = np.nan
        target = np.array([0, 2, 7, 1])
        x, tx = pair(logp, device)
        w, tw = _class_weight(rng, 3, device) if weighted else (None, None)
        out = F.nll_loss(x, fw.tensor(target, device=device), weight=w, ignore_index=7, reduction=reduction)
        ref = TF.nll_loss(tx, torch.tensor(target), weight=tw, ignore_index=7, reduction=reduction)
        assert rel_err(out, ref) < TOL
        out.sum().backward()
        ref.sum().backward()
        assert rel_err(x.grad, tx.grad) < TOL  # nll has no log_softmax: PyTorch's ignored row is 0 too


def test_class_weight_gradient(device, rng):
    """PyTorch refuses a class weight that requires grad; ours gives its gradient, checked on the formula."""
    x, tx = pair(rng.standard_normal((5, 3)), device)
    target = np.array([0, 2, 1, 2, -100])
    for loss_fn in (F.cross_entropy, lambda v, *a, **k: F.nll_loss(F.log_softmax(v, dim=1), *a, **k)):
        w, tw = pair(rng.uniform(0.5, 2.0, 3), device)
        out = loss_fn(x, fw.tensor(target, device=device), weight=w)
        nll = -TF.log_softmax(tx.detach(), dim=1)[np.arange(4), target[:4]]
        ref = (tw[target[:4]] * nll).sum() / tw[target[:4]].sum()
        assert rel_err(out, ref) < TOL
        out.backward()
        ref.backward()
        assert rel_err(w.grad, tw.grad) < TOL


@pytest.mark.parametrize("reduction,weighted,smoothing", CE_CONFIGS)
def test_all_ignored_batch_matches_torch(device, reduction, weighted, smoothing, rng):
    """PyTorch: 'mean' over no valid row is NaN, 'sum' 0, 'none' zeros -- and the gradient is 0, not NaN."""
    x, tx = pair(rng.standard_normal((3, 4)), device)
    target = np.full(3, -100)
    w, tw = _class_weight(rng, 4, device) if weighted else (None, None)
    kw = {"reduction": reduction, "label_smoothing": smoothing}
    out = F.cross_entropy(x, fw.tensor(target, device=device), weight=w, **kw)
    ref = TF.cross_entropy(tx, torch.tensor(target), weight=tw, **kw)
    np.testing.assert_array_equal(out.numpy(), ref.detach().numpy())  # NaN, 0 or zeros
    out.sum().backward()
    ref.sum().backward()
    assert np.all(tx.grad.numpy() == 0) and np.array_equal(x.grad.numpy(), np.zeros((3, 4), np.float32))
    if not smoothing:
        x.grad = None
        out = F.nll_loss(x, fw.tensor(target, device=device), weight=w, reduction=reduction)
        np.testing.assert_array_equal(out.numpy(), TF.nll_loss(tx, torch.tensor(target), weight=tw,
                                                               reduction=reduction).detach().numpy())
        out.sum().backward()
        assert np.array_equal(x.grad.numpy(), np.zeros((3, 4), np.float32))


def test_cross_entropy_spatial_ignored_rows(device, rng):
    """[N, C, d] logits: the same masking after the permute to rows."""
    logits = rng.standard_normal((2, 3, 4))
    target = rng.integers(0, 3, (2, 4))
    target[0, 1] = target[1, 3] = 5
    logits[0, :, 1] = -INF
    x, tx = pair(logits, device)
    out = F.cross_entropy(x, fw.tensor(target, device=device), ignore_index=5, reduction="none")
    ref = TF.cross_entropy(tx, torch.tensor(target), ignore_index=5, reduction="none")
    assert rel_err(out, ref) < TOL
    out.sum().backward()
    ref.sum().backward()
    ok = np.ones((2, 4), bool)
    ok[0, 1] = False
    assert rel_err(x.grad.numpy().transpose(0, 2, 1)[ok], tx.grad.numpy().transpose(0, 2, 1)[ok]) < TOL
    assert np.all(x.grad.numpy()[0, :, 1] == 0)


# ------------------------------------------------------------------------------ argument checks


@pytest.mark.parametrize("bad", [1.5, 1.0, True])
def test_ignore_index_must_be_an_int(device, bad):
    x = fw.zeros(3, 4, device=device)
    t = fw.tensor([0, 1, 2], device=device)
    for call in (lambda: F.cross_entropy(x, t, ignore_index=bad),  # the fused path
                 lambda: F.cross_entropy(x, t, ignore_index=bad, reduction="sum"),  # the composite path
                 lambda: F.nll_loss(x, t, ignore_index=bad),
                 lambda: nn.CrossEntropyLoss(ignore_index=bad)(x, t),
                 lambda: nn.NLLLoss(ignore_index=bad)(x, t)):
        with pytest.raises(TypeError, match="ignore_index must be an int"):
            call()


def test_ignore_index_must_fit_in_int64(device):
    x = fw.zeros(3, 4, device=device)
    t = fw.tensor([0, 1, 2], device=device)
    for reduction in ("mean", "sum"):
        with pytest.raises(ValueError, match="ignore_index must fit in int64"):
            F.cross_entropy(x, t, ignore_index=2**70, reduction=reduction)
    with pytest.raises(ValueError, match="ignore_index must fit in int64"):
        F.nll_loss(x, t, ignore_index=-(2**63) - 1)


def test_numpy_int_ignore_index_is_accepted(device, rng):
    x, tx = pair(rng.standard_normal((4, 3)), device)
    t = np.array([0, 1, 2, 1])
    for reduction in ("mean", "sum"):
        out = F.cross_entropy(x, fw.tensor(t, device=device), ignore_index=np.int64(1), reduction=reduction)
        ref = TF.cross_entropy(tx, torch.tensor(t), ignore_index=1, reduction=reduction)
        assert rel_err(out, ref) < TOL


def test_probability_targets_refuse_ignore_index_like_torch(device, rng):
    p = rng.dirichlet(np.ones(4), size=3)
    x, tx = pair(rng.standard_normal((3, 4)), device)
    target = fw.tensor(p.astype(np.float32), device=device)
    with pytest.raises(RuntimeError, match="ignore_index is not supported"):
        TF.cross_entropy(tx, torch.tensor(p), ignore_index=1)
    with pytest.raises(ValueError, match="ignore_index=1 is not supported with probability"):
        F.cross_entropy(x, target, ignore_index=1)
    w, tw = _class_weight(rng, 4, device)
    out = F.cross_entropy(x, target, weight=w, ignore_index=-100)  # the default is fine
    ref = TF.cross_entropy(tx, torch.tensor(p), weight=tw)
    assert rel_err(out, ref) < TOL


def test_weights_that_do_not_fit_the_input_raise(device):
    """PyTorch raises for each of these; broadcasting would silently give a loss of a bigger shape."""
    z = lambda *s: fw.full(s, 0.5, device=device)  # noqa: E731
    x, t = z(3, 4), z(3, 4)
    for shape in [(2, 3, 4), (1, 3, 4), (5,), (3,)]:
        with pytest.raises(ValueError, match=r"binary_cross_entropy\(\): weight of shape"):
            F.binary_cross_entropy(x, t, weight=z(*shape))
        for arg in ("weight", "pos_weight"):
            with pytest.raises(ValueError, match=rf"with_logits\(\): {arg} of shape .* does not broadcast"):
                F.binary_cross_entropy_with_logits(x, t, **{arg: z(*shape)})
    with pytest.raises(ValueError, match=r"BCELoss|weight of shape"):
        nn.BCELoss(weight=z(2, 3, 4))(x, t)
    with pytest.raises(ValueError, match="pos_weight of shape"):
        nn.BCEWithLogitsLoss(pos_weight=z(5))(x, t)
    labels = fw.tensor([0, 1, 3], device=device)
    for shape in [(5,), (1, 4), (1,)]:
        for call in (lambda w: F.cross_entropy(x, labels, weight=w),
                     lambda w: F.cross_entropy(x, labels, weight=w, reduction="none"),
                     lambda w: F.cross_entropy(x, F.softmax(x, dim=1), weight=w),
                     lambda w: F.nll_loss(x, labels, weight=w),
                     lambda w: nn.NLLLoss(weight=w)(x, labels)):
            with pytest.raises(ValueError, match=r"weight must have shape \(4,\)"):
                call(z(*shape))


def test_loss_modules_pass_every_argument_through(device, rng):
    x, tx = pair(rng.standard_normal((5, 3)), device)
    target = np.array([0, 2, 1, 2, 1])
    w, tw = _class_weight(rng, 3, device)
    cases = [
        (nn.CrossEntropyLoss(weight=w, ignore_index=1, reduction="sum", label_smoothing=0.15),
         torch.nn.CrossEntropyLoss(weight=tw, ignore_index=1, reduction="sum", label_smoothing=0.15), target),
        (nn.NLLLoss(weight=w, ignore_index=2, reduction="none"),
         torch.nn.NLLLoss(weight=tw, ignore_index=2, reduction="none"), target),
    ]
    probs = rng.uniform(0.05, 0.95, (5, 3))
    bw, tbw = pair(rng.uniform(0.5, 2, (3,)), device, requires_grad=False)
    pw, tpw = pair(rng.uniform(0.5, 2, (3,)), device, requires_grad=False)
    for ours, theirs, tgt in cases:
        x.grad = tx.grad = None
        out, ref = ours(x, fw.tensor(tgt, device=device)), theirs(tx, torch.tensor(tgt))
        assert rel_err(out, ref) < TOL
        out.sum().backward()
        ref.sum().backward()
        assert rel_err(x.grad, tx.grad) < TOL
    t, tt = pair(probs.round(), device, requires_grad=False)
    for ours, theirs, make in (
            (nn.BCELoss(weight=bw, reduction="sum"), torch.nn.BCELoss(weight=tbw, reduction="sum"), "prob"),
            (nn.BCEWithLogitsLoss(weight=bw, reduction="none", pos_weight=pw),
             torch.nn.BCEWithLogitsLoss(weight=tbw, reduction="none", pos_weight=tpw), "logit")):
        values = probs if make == "prob" else 2 * rng.standard_normal((5, 3))
        xi, txi = pair(values, device)
        out, ref = ours(xi, t), theirs(txi, tt)
        assert rel_err(out, ref) < TOL
        out.sum().backward()
        ref.sum().backward()
        assert rel_err(xi.grad, txi.grad) < TOL


def test_loss_dtypes_follow_pytorch(device):
    """The losses' result dtype is PyTorch's (no float64 from a float64 weight), and the inputs PyTorch
    refuses (integer input, a BCE target of another dtype) are refused the same way on every device."""
    F = fw.nn.functional

    def on(lib, *args, **kwargs):
        return lib.ones(*args, **kwargs) if lib is torch else fw.ones(*args, device=device, **kwargs)

    for lib, f in ((torch, torch.nn.functional), (fw, F)):
        half, one = on(lib, 3) * 0.5, on(lib, 3)
        assert str(f.binary_cross_entropy(half, one, weight=on(lib, 3, dtype=lib.float64)).dtype).endswith("float32")
        posw = on(lib, 3, dtype=lib.float64)
        assert str(f.binary_cross_entropy_with_logits(half, one, pos_weight=posw).dtype).endswith("float32")
        target64 = on(lib, 3, dtype=lib.float64)
        assert str(f.binary_cross_entropy_with_logits(half, target64).dtype).endswith("float64")
    ints = fw.tensor([0, 1], device=device)
    with pytest.raises(TypeError, match=r"binary_cross_entropy\(\): input must be a floating-point tensor"):
        F.binary_cross_entropy(ints, ints)
    with pytest.raises(TypeError, match=r"binary_cross_entropy_with_logits\(\): input must be a floating-point"):
        F.binary_cross_entropy_with_logits(ints, ints.float())
    with pytest.raises(TypeError, match=r"kl_div\(\): input must be a floating-point tensor"):
        F.kl_div(ints, ints.float())
    with pytest.raises(TypeError, match="target must have input's dtype float32, got float64"):
        F.binary_cross_entropy(fw.ones(3, device=device) * 0.5, fw.ones(3, device=device, dtype=fw.float64))
