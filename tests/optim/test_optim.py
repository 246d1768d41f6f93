"""framework.optim against torch.optim in float64: the same parameters, fed the same gradients of the
same function for 10 steps, must follow the same trajectory; plus state-dict round trips and validation."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import framework as fw
from framework import optim
from framework.nn import Parameter

from ..conftest import rel_err

STEPS = 10
TOL = 1e-6  # float64, the only difference is operation order

CASES = [
    ("SGD", dict(lr=0.1)),
    ("SGD", dict(lr=0.1, momentum=0.9)),
    ("SGD", dict(lr=0.05, momentum=0.9, dampening=0.3, weight_decay=0.1)),
    ("SGD", dict(lr=0.05, momentum=0.8, nesterov=True, weight_decay=0.01)),
    ("SGD", dict(lr=0.05, momentum=0.5, maximize=True)),
    ("Adam", dict()),
    ("Adam", dict(lr=0.05, weight_decay=0.1)),
    ("Adam", dict(lr=0.05, amsgrad=True)),
    ("Adam", dict(lr=0.02, betas=(0.8, 0.99), eps=1e-6, maximize=True)),
    ("AdamW", dict(lr=0.05)),
    ("AdamW", dict(lr=0.05, weight_decay=0.1, amsgrad=True)),
    ("Adagrad", dict()),
    ("Adagrad", dict(lr=0.1, lr_decay=0.01, weight_decay=0.1, initial_accumulator_value=0.1)),
    ("Adadelta", dict()),
    ("Adadelta", dict(lr=0.5, rho=0.5, weight_decay=0.1, eps=1e-5)),
    ("RMSprop", dict()),
    ("RMSprop", dict(lr=0.01, momentum=0.9)),
    ("RMSprop", dict(lr=0.01, centered=True)),
    ("RMSprop", dict(lr=0.01, alpha=0.9, centered=True, momentum=0.5, weight_decay=0.1)),
]

SHAPES = [(3, 4), (5,)]


def _grad(values: np.ndarray, target: np.ndarray) -> np.ndarray:
    """Gradient of a quadratic-ish, non-separable-in-time objective: depends on the current values."""
    return values - target + 0.3 * np.sin(3 * values)


def _make(rng, device, opt_name, kwargs, groups=False):
    """The same float64 starting point as our Parameters and torch leaves, and both optimizers."""
    inits = [rng.standard_normal(s) for s in SHAPES]
    ours = [Parameter(fw.tensor(a, dtype=fw.float64, device=device)) for a in inits]
    theirs = [torch.tensor(a, requires_grad=True) for a in inits]
    if groups:  # the second tensor in its own group with a larger lr
        lr = kwargs.get("lr", 1e-2) * 3
        our_params = [{"params": [ours[0]]}, {"params": [ours[1]], "lr": lr}]
        their_params = [{"params": [theirs[0]]}, {"params": [theirs[1]], "lr": lr}]
    else:
        our_params, their_params = ours, theirs
    our_opt = getattr(optim, opt_name)(our_params, **kwargs)
    their_opt = getattr(torch.optim, opt_name)(their_params, **kwargs)
    return ours, theirs, our_opt, their_opt


def _set_grads(ours, theirs, targets):
    for p, t, target in zip(ours, theirs, targets):
        p.grad = fw.tensor(_grad(p.numpy(), target), dtype=fw.float64, device=p.device)
        t.grad = torch.tensor(_grad(t.detach().numpy(), target))


def _run(ours, theirs, our_opt, their_opt, targets, steps):
    for _ in range(steps):
        _set_grads(ours, theirs, targets)
        our_opt.step()
        their_opt.step()


@pytest.mark.parametrize("opt_name, kwargs", CASES, ids=[f"{n}-{sorted(k.items())}" for n, k in CASES])
def test_matches_torch_over_10_steps(device, rng, opt_name, kwargs):
    ours, theirs, our_opt, their_opt = _make(rng, device, opt_name, kwargs)
    targets = [rng.standard_normal(s) for s in SHAPES]
    before = [p.numpy().copy() for p in ours]
    for _ in range(STEPS):
        _set_grads(ours, theirs, targets)
        our_opt.step()
        their_opt.step()
        for p, t in zip(ours, theirs):
            assert rel_err(p, t) < TOL
    assert all(not np.allclose(b, p.numpy()) for b, p in zip(before, ours)), "parameters did not move"


@pytest.mark.parametrize("opt_name, kwargs", [("SGD", dict(lr=0.1, momentum=0.9)), ("Adam", dict(lr=0.05)),
                                              ("RMSprop", dict(centered=True))])
def test_param_groups_match_torch(device, rng, opt_name, kwargs):
    ours, theirs, our_opt, their_opt = _make(rng, device, opt_name, kwargs, groups=True)
    assert our_opt.param_groups[1]["lr"] == their_opt.param_groups[1]["lr"] != our_opt.param_groups[0]["lr"]
    targets = [rng.standard_normal(s) for s in SHAPES]
    _run(ours, theirs, our_opt, their_opt, targets, STEPS)
    for p, t in zip(ours, theirs):
        assert rel_err(p, t) < TOL


def test_float32_params_stay_float32(rng):
    p = Parameter(fw.tensor(rng.standard_normal((4, 3)).astype(np.float32)))
    opt = optim.Adam([p], lr=0.1, weight_decay=0.1)
    p.grad = fw.tensor(rng.standard_normal((4, 3)).astype(np.float32))
    opt.step()
    assert p.dtype == fw.float32
    assert all(v.dtype == fw.float32 for v in opt.state[p].values() if isinstance(v, fw.Tensor))


def test_params_without_grad_are_skipped(rng):
    a = Parameter(fw.tensor(rng.standard_normal(3)))
    b = Parameter(fw.tensor(rng.standard_normal(3)))
    before = b.numpy().copy()
    opt = optim.SGD([a, b], lr=0.1, momentum=0.9)
    a.grad = fw.ones(3)
    opt.step()
    np.testing.assert_array_equal(b.numpy(), before)
    assert b not in opt.state and a in opt.state


def test_step_keeps_parameter_identity_and_builds_no_graph(rng):
    p = Parameter(fw.tensor(rng.standard_normal(3)))
    opt = optim.Adam([p], lr=0.1)
    loss = (p * p).sum()
    loss.backward()
    opt.step()
    assert opt.param_groups[0]["params"][0] is p
    assert p.is_leaf and p.requires_grad and p.grad_fn is None


def test_closure_is_evaluated_with_grad_and_returned(rng):
    p = Parameter(fw.tensor(rng.standard_normal(3)))
    opt = optim.SGD([p], lr=0.5)
    target = fw.tensor(np.array([1.0, -2.0, 3.0], dtype=np.float32))

    def closure():
        opt.zero_grad()
        loss = ((p - target) ** 2).sum()
        loss.backward()
        return loss

    with fw.no_grad():  # step must re-enable grad for the closure
        first = opt.step(closure)
    assert first.item() > 0
    for _ in range(30):
        opt.step(closure)
    np.testing.assert_allclose(p.numpy(), target.numpy(), atol=1e-5)


def test_zero_grad(rng):
    p = Parameter(fw.tensor(rng.standard_normal(3)))
    opt = optim.SGD([p], lr=0.1)
    p.grad = fw.ones(3)
    opt.zero_grad(set_to_none=False)
    np.testing.assert_array_equal(p.grad.numpy(), np.zeros(3))
    opt.zero_grad()
    assert p.grad is None


# ------------------------------------------------------------------------------------ state dicts


ROUND_TRIP_CASES = [
    ("SGD", dict(lr=0.1, momentum=0.9, nesterov=True)),
    ("Adam", dict(lr=0.05, amsgrad=True)),
    ("AdamW", dict(lr=0.05)),
    ("Adagrad", dict(lr=0.1, lr_decay=0.01)),
    ("Adadelta", dict(lr=0.5)),
    ("RMSprop", dict(lr=0.01, centered=True, momentum=0.5)),
]


def _as_numpy(state_dict):
    """What a checkpoint gives back: every Tensor as a numpy array."""
    return {
        "state": {k: {n: v.numpy() if isinstance(v, fw.Tensor) else v for n, v in s.items()}
                  for k, s in state_dict["state"].items()},
        "param_groups": state_dict["param_groups"],
    }


@pytest.mark.parametrize("opt_name, kwargs", ROUND_TRIP_CASES, ids=[n for n, _ in ROUND_TRIP_CASES])
@pytest.mark.parametrize("through_numpy", [False, True])
def test_state_dict_round_trip_continues_identically(device, rng, opt_name, kwargs, through_numpy):
    ours, _, opt, _ = _make(rng, device, opt_name, kwargs, groups=True)
    targets = [rng.standard_normal(s) for s in SHAPES]
    for _ in range(5):
        for p, target in zip(ours, targets):
            p.grad = fw.tensor(_grad(p.numpy(), target), device=device)
        opt.step()
    saved = opt.state_dict()
    assert sorted(saved["state"]) == [0, 1]
    assert [g["params"] for g in saved["param_groups"]] == [[0], [1]]

    clones = [Parameter(fw.tensor(p.numpy().copy(), device=device)) for p in ours]
    other = getattr(optim, opt_name)([{"params": [clones[0]]}, {"params": [clones[1]], "lr": 123.0}], **kwargs)
    other.load_state_dict(_as_numpy(saved) if through_numpy else saved)
    assert other.param_groups[1]["lr"] == opt.param_groups[1]["lr"]  # hyperparameters restored too
    for _ in range(5):
        for a, b, target in zip(ours, clones, targets):
            a.grad = fw.tensor(_grad(a.numpy(), target), device=device)
            b.grad = fw.tensor(_grad(b.numpy(), target), device=device)
        opt.step()
        other.step()
    for a, b in zip(ours, clones):
        np.testing.assert_array_equal(a.numpy(), b.numpy())


@pytest.mark.parametrize("opt_name, kwargs", ROUND_TRIP_CASES, ids=[n for n, _ in ROUND_TRIP_CASES])
def test_loads_torch_optimizer_state(device, rng, opt_name, kwargs):
    """A torch optimizer's state dict (tensor steps, torch tensors) resumes here on torch's trajectory."""
    ours, theirs, _, their_opt = _make(rng, device, opt_name, kwargs)
    targets = [rng.standard_normal(s) for s in SHAPES]
    for _ in range(5):
        for t, target in zip(theirs, targets):
            t.grad = torch.tensor(_grad(t.detach().numpy(), target))
        their_opt.step()
    for p, t in zip(ours, theirs):
        p.data = fw.tensor(t.detach().numpy().copy(), device=device).data
    our_opt = getattr(optim, opt_name)(ours, **kwargs)
    our_opt.load_state_dict(their_opt.state_dict())
    _run(ours, theirs, our_opt, their_opt, targets, 5)
    for p, t in zip(ours, theirs):
        assert rel_err(p, t) < TOL


def test_state_dict_snapshot_is_not_changed_by_later_steps(rng):
    p = Parameter(fw.tensor(rng.standard_normal(4)))
    opt = optim.Adam([p], lr=0.1)
    p.grad = fw.ones(4)
    opt.step()
    saved = opt.state_dict()
    exp_avg = saved["state"][0]["exp_avg"].numpy().copy()
    opt.step()
    np.testing.assert_array_equal(saved["state"][0]["exp_avg"].numpy(), exp_avg)
    assert saved["state"][0]["step"] == 1 and opt.state[p]["step"] == 2


def test_load_state_dict_rejects_mismatched_groups(rng):
    a, b = (Parameter(fw.tensor(rng.standard_normal(3))) for _ in range(2))
    saved = optim.SGD([a, b], lr=0.1).state_dict()
    with pytest.raises(ValueError, match="parameter groups"):
        optim.SGD([{"params": [a]}, {"params": [b]}], lr=0.1).load_state_dict(saved)
    with pytest.raises(ValueError, match="group 0 has 2 parameters"):
        optim.SGD([a], lr=0.1).load_state_dict(saved)


# ------------------------------------------------------------------------------------- validation


@pytest.mark.parametrize("make, match", [
    (lambda ps: optim.SGD(ps, lr=-0.1), "lr"),
    (lambda ps: optim.SGD(ps, momentum=-1), "momentum"),
    (lambda ps: optim.SGD(ps, weight_decay=-1), "weight_decay"),
    (lambda ps: optim.SGD(ps, nesterov=True), "nesterov"),
    (lambda ps: optim.SGD(ps, momentum=0.9, dampening=0.1, nesterov=True), "nesterov"),
    (lambda ps: optim.Adam(ps, lr=-1), "lr"),
    (lambda ps: optim.Adam(ps, betas=(1.0, 0.999)), r"betas\[0\]"),
    (lambda ps: optim.Adam(ps, betas=(0.9, -0.1)), r"betas\[1\]"),
    (lambda ps: optim.Adam(ps, eps=-1e-8), "eps"),
    (lambda ps: optim.AdamW(ps, weight_decay=-0.1), "weight_decay"),
    (lambda ps: optim.Adagrad(ps, lr_decay=-1), "lr_decay"),
    (lambda ps: optim.Adagrad(ps, initial_accumulator_value=-1), "initial_accumulator_value"),
    (lambda ps: optim.Adadelta(ps, rho=1.5), "rho"),
    (lambda ps: optim.RMSprop(ps, alpha=-0.1), "alpha"),
    (lambda ps: optim.RMSprop(ps, momentum=-0.1), "momentum"),
    (lambda ps: optim.SGD([{"params": ps, "lr": -1.0}], lr=0.1), "lr"),  # per-group overrides too
])
def test_invalid_hyperparameters_raise_naming_the_argument(make, match):
    params = [Parameter(fw.zeros(2))]
    with pytest.raises(ValueError, match=match):
        make(params)


def test_invalid_params_argument():
    p = Parameter(fw.zeros(2))
    with pytest.raises(ValueError, match="empty parameter list"):
        optim.SGD([], lr=0.1)
    with pytest.raises(TypeError, match="single Tensor"):
        optim.SGD(p, lr=0.1)
    with pytest.raises(ValueError, match="more than one parameter group"):
        optim.SGD([{"params": [p]}, {"params": [p]}], lr=0.1)
    with pytest.raises(ValueError, match="more than once"):
        optim.SGD([p, p], lr=0.1)
    with pytest.raises(TypeError, match="ordered"):
        optim.SGD([{"params": {p}}], lr=0.1)
    with pytest.raises(ValueError, match="non-leaf"):
        optim.SGD([fw.zeros(2, requires_grad=True) * 2], lr=0.1)


def test_defaults_are_pytorchs():
    p = [Parameter(fw.zeros(2))]
    for name in ("SGD", "Adam", "AdamW", "Adagrad", "Adadelta", "RMSprop"):
        ours = getattr(optim, name)(p).param_groups[0]
        theirs = getattr(torch.optim, name)([torch.zeros(2, requires_grad=True)]).param_groups[0]
        for key, value in ours.items():
            if key != "params" and key in theirs:
                assert value == theirs[key], f"{name} default {key}: {value} != torch's {theirs[key]}"
