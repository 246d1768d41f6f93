"""nn.utils.clip_grad_norm_ / clip_grad_value_ against torch.nn.utils (float64 reference) on every device: the total
norm for several norm types, clipping and non-clipping cases, grads that are None, a single tensor, mixed dtypes,
non-finite norms (error_if_nonfinite) and argument validation."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

import framework as fw
from framework import nn

from ..conftest import rel_err

TOL = {"float32": 1e-5, "float64": 1e-6}
SHAPES = [(3, 4), (5,), (), (2, 1, 3)]
NORM_TYPES = [1, 2.0, 3.5, math.inf, "inf", 0.5, 0, -math.inf]


def _params(rng, device, dtype="float32", shapes=SHAPES, none_at=(), scale=1.0):
    """Parameters with random grads (ours on ``device`` in ``dtype``, torch in float64); ``none_at`` get no grad."""
    ours, theirs = [], []
    for i, shape in enumerate(shapes):
        p = fw.zeros(*shape, dtype=dtype, device=device, requires_grad=True)
        q = torch.zeros(shape, dtype=torch.float64, requires_grad=True)
        if i not in none_at:
            g = rng.standard_normal(shape) * scale
            p.grad = fw.tensor(np.asarray(g, dtype=dtype), device=device)
            q.grad = torch.tensor(np.asarray(g, dtype=dtype).astype(np.float64))
        ours.append(p)
        theirs.append(q)
    return ours, theirs


def _true_norm(theirs, norm_type):
    grads = [q.grad for q in theirs if q.grad is not None]
    return float(torch.linalg.vector_norm(torch.stack([torch.linalg.vector_norm(g, float(norm_type)) for g in grads]),
                                          float(norm_type)))


def _check_grads(ours, theirs, tol):
    for p, q in zip(ours, theirs):
        if q.grad is None:
            assert p.grad is None
        elif q.grad.abs().sum() > 0:
            assert rel_err(p.grad, q.grad) <= tol


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("norm_type", NORM_TYPES, ids=[f"p{n!r}" for n in NORM_TYPES])
@pytest.mark.parametrize("clips", [True, False], ids=["clips", "no-clip"])
def test_clip_grad_norm_matches_torch(device, rng, dtype, norm_type, clips):
    ours, theirs = _params(rng, device, dtype, none_at=(1,))
    norm = _true_norm(theirs, norm_type)
    max_norm = norm * (0.3 if clips else 2.0)
    before = [p.grad.numpy().copy() if p.grad is not None else None for p in ours]
    grad_objects = [p.grad for p in ours]

    total = nn.utils.clip_grad_norm_(ours, max_norm, norm_type=norm_type)
    ref = torch.nn.utils.clip_grad_norm_(theirs, max_norm, norm_type=norm_type)

    assert isinstance(total, fw.Tensor) and total.shape == () and total.device == device and total.dtype == dtype
    assert not total.requires_grad
    assert rel_err(total, ref) <= TOL[dtype]
    assert all(p.grad is g for p, g in zip(ours, grad_objects))
    _check_grads(ours, theirs, TOL[dtype])
    if clips:  # scaled down to max_norm, up to the 1e-6 of the formula (the 0-"norm" counts: it does not scale)
        expected = norm if norm_type == 0 else norm * max_norm / (norm + 1e-6)
        assert _true_norm(theirs, norm_type) == pytest.approx(expected, rel=1e-5)
    else:  # the coefficient is clamped to 1: the grads are unchanged, bit for bit
        for p, b in zip(ours, before):
            if b is not None:
                np.testing.assert_array_equal(p.grad.numpy(), b)


def test_grads_keep_identity_and_dtype(device, rng):
    ours, _ = _params(rng, device, "float32")
    grads = [p.grad for p in ours]
    nn.utils.clip_grad_norm_(ours, 0.1)
    nn.utils.clip_grad_value_(ours, 0.01)
    for p, g in zip(ours, grads):
        assert p.grad is g and g.dtype == "float32" and g.device == device and not g.requires_grad


def test_single_tensor_and_generator(device, rng):
    (p,), (q,) = _params(rng, device, "float64", shapes=[(4, 3)], scale=5.0)
    total = nn.utils.clip_grad_norm_(p, 1.0, norm_type=3.5)
    ref = torch.nn.utils.clip_grad_norm_(q, 1.0, norm_type=3.5)
    assert rel_err(total, ref) <= 1e-6 and rel_err(p.grad, q.grad) <= 1e-6

    ours, theirs = _params(rng, device, "float64", scale=5.0)
    total = nn.utils.clip_grad_norm_((p for p in ours), 2.0)
    ref = torch.nn.utils.clip_grad_norm_((q for q in theirs), 2.0)
    assert rel_err(total, ref) <= 1e-6
    _check_grads(ours, theirs, 1e-6)


def test_no_grads(device):
    p = fw.zeros(3, device=device, requires_grad=True)
    for params in ([p], p, []):
        total = nn.utils.clip_grad_norm_(params, 1.0)
        ref = torch.nn.utils.clip_grad_norm_([], 1.0)
        assert total.shape == () and total.item() == ref.item() == 0.0 and total.dtype == "float32"
        assert p.grad is None
        assert nn.utils.clip_grad_value_(params, 1.0) is None and p.grad is None
    with pytest.warns(UserWarning, match="empty generator"):
        nn.utils.clip_grad_norm_((p for p in []), 1.0)


def test_mixed_dtypes_promote_like_torch(device, rng):
    """A float32 and a float64 gradient: the total norm is float64 (torch.stack promotes), each grad keeps its dtype."""
    a, ref_a = _params(rng, device, "float32", shapes=[(3, 4)], scale=3.0)
    b, ref_b = _params(rng, device, "float64", shapes=[(5,)], scale=3.0)
    ours, theirs = a + b, ref_a + ref_b
    mixed = [q.detach().float().requires_grad_() for q in ref_a] + [q.detach().clone().requires_grad_() for q in ref_b]
    for q, m in zip(theirs, mixed):
        m.grad = q.grad.to(m.dtype, copy=True)
    total = nn.utils.clip_grad_norm_(ours, 1.0)
    ref = torch.nn.utils.clip_grad_norm_(mixed, 1.0)
    assert total.dtype == "float64" and ref.dtype == torch.float64
    assert rel_err(total, torch.nn.utils.clip_grad_norm_(theirs, 1.0)) <= 1e-6
    assert rel_err(total, ref) <= 1e-6  # float32 grad norm (summation order may differ), then float64
    assert ours[0].grad.dtype == "float32" and ours[1].grad.dtype == "float64"
    _check_grads(ours, theirs, 1e-5)
    _check_grads(ours, mixed, 1e-6)


@pytest.mark.parametrize("bad", [math.inf, math.nan])
def test_error_if_nonfinite(device, rng, bad):
    ours, theirs = _params(rng, device, "float32")
    ours[0].grad = fw.tensor(np.array([[1.0, bad, 2.0, 0.0]] * 3, dtype=np.float32), device=device)
    theirs[0].grad = torch.tensor(ours[0].grad.numpy(), dtype=torch.float64)
    with pytest.raises(RuntimeError, match="non-finite") as ours_err:
        nn.utils.clip_grad_norm_(ours, 1.0, error_if_nonfinite=True)
    with pytest.raises(RuntimeError, match="non-finite") as ref_err:
        torch.nn.utils.clip_grad_norm_(theirs, 1.0, error_if_nonfinite=True)
    assert str(ours_err.value) == str(ref_err.value)
    # Without the flag both scale by the non-finite norm (inf -> coefficient 0 -> inf * 0 = nan; nan -> nan).
    total = nn.utils.clip_grad_norm_(ours, 1.0)
    ref = torch.nn.utils.clip_grad_norm_(theirs, 1.0)
    np.testing.assert_array_equal(total.numpy(), ref.numpy())
    for p, q in zip(ours, theirs):
        np.testing.assert_array_equal(np.isnan(p.grad.numpy()), torch.isnan(q.grad).numpy())
        np.testing.assert_allclose(np.nan_to_num(p.grad.numpy()), torch.nan_to_num(q.grad).numpy(), rtol=1e-5)


@pytest.mark.parametrize("foreach", [None, True, False])
def test_foreach_is_accepted(device, rng, foreach):
    ours, theirs = _params(rng, device, "float64", scale=4.0)
    total = nn.utils.clip_grad_norm_(ours, 1.0, foreach=foreach)
    ref = torch.nn.utils.clip_grad_norm_(theirs, 1.0, foreach=foreach)
    assert rel_err(total, ref) <= 1e-6
    nn.utils.clip_grad_value_(ours, 0.05, foreach=foreach)
    torch.nn.utils.clip_grad_value_(theirs, 0.05, foreach=foreach)
    _check_grads(ours, theirs, 1e-6)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("clip_value", [0.5, 3, 0.0])
def test_clip_grad_value_matches_torch(device, rng, dtype, clip_value):
    ours, theirs = _params(rng, device, dtype, none_at=(2,), scale=2.0)
    assert nn.utils.clip_grad_value_(ours, clip_value) is None
    torch.nn.utils.clip_grad_value_(theirs, clip_value)
    for p, q in zip(ours, theirs):
        if q.grad is None:
            assert p.grad is None
            continue
        assert p.grad.dtype == dtype and p.grad.device == device
        np.testing.assert_array_equal(p.grad.numpy(), q.grad.numpy().astype(dtype))
        assert np.all(np.abs(p.grad.numpy()) <= clip_value)

    (p,), (q,) = _params(rng, device, dtype, shapes=[(2, 5)], scale=2.0)
    nn.utils.clip_grad_value_(p, 0.25)
    torch.nn.utils.clip_grad_value_(q, 0.25)
    np.testing.assert_array_equal(p.grad.numpy(), q.grad.numpy().astype(dtype))


def test_empty_gradient(device):
    p = fw.zeros(0, 3, device=device, requires_grad=True)
    p.grad = fw.zeros(0, 3, device=device)
    q = fw.ones(2, device=device, requires_grad=True)
    q.grad = fw.tensor([3.0, 4.0], device=device)
    assert nn.utils.clip_grad_norm_([p, q], 100.0).item() == pytest.approx(5.0)
    with pytest.raises(RuntimeError, match="infinity norm"):
        nn.utils.clip_grad_norm_([p, q], 1.0, norm_type="inf")
    r = torch.zeros(0, 3, requires_grad=True)
    r.grad = torch.zeros(0, 3)
    with pytest.raises(RuntimeError, match="infinity norm"):
        torch.nn.utils.clip_grad_norm_([r], 1.0, norm_type="inf")


def _with_grad(device="cpu"):
    p = fw.zeros(2, device=device, requires_grad=True)
    p.grad = fw.ones(2, device=device)
    return p


@pytest.mark.parametrize("max_norm", [-1.0, math.nan, "1", None, True, [1.0]])
def test_bad_max_norm(max_norm):
    with pytest.raises(ValueError, match="max_norm"):
        nn.utils.clip_grad_norm_([_with_grad()], max_norm)


@pytest.mark.parametrize("clip_value", [-0.1, math.nan, "1", None, False])
def test_bad_clip_value(clip_value):
    with pytest.raises(ValueError, match="clip_value"):
        nn.utils.clip_grad_value_([_with_grad()], clip_value)


@pytest.mark.parametrize("norm_type", ["two", None, math.nan, [2]])
def test_bad_norm_type(norm_type):
    with pytest.raises(ValueError, match="norm_type"):
        nn.utils.clip_grad_norm_([_with_grad()], 1.0, norm_type=norm_type)


@pytest.mark.parametrize("fn, arg", [(nn.utils.clip_grad_norm_, 1.0), (nn.utils.clip_grad_value_, 1.0)])
def test_bad_parameters(fn, arg):
    with pytest.raises(TypeError, match="parameters must be Tensors, got ndarray at index 1"):
        fn([_with_grad(), np.ones(2)], arg)
    with pytest.raises(TypeError, match="iterable of Tensors, got NoneType"):
        fn(None, arg)
    with pytest.raises(TypeError, match="got str at index 0"):
        fn("ab", arg)
    p = _with_grad()
    p.grad = np.ones(2)
    with pytest.raises(TypeError, match=r"\.grad of parameter 0 must be a Tensor"):
        fn([p], arg)


def test_gradients_on_different_devices(device):
    if device == "cpu":
        pytest.skip("needs a second device")
    a, b = _with_grad("cpu"), _with_grad(device)
    with pytest.raises(ValueError, match=rf"same device.*'cpu'.*'{device}'|same device.*'{device}'.*'cpu'"):
        nn.utils.clip_grad_norm_([a, b], 1.0)
    # Elementwise clamping needs no common device.
    nn.utils.clip_grad_value_([a, b], 0.5)
    assert a.grad.numpy().tolist() == b.grad.numpy().tolist() == [0.5, 0.5]
