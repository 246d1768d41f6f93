"""``fused=True`` on Adam, AdamW and SGD: the ``optim_step`` kernels, on every device, against torch.optim.

The fused step runs the device's ``optim_step`` family (the numpy reference on ``cpu``, Triton under the
interpreter, CUDA C under the emulator) and must follow torch.optim's trajectory (``fused=False``, float64) as
the per-parameter path does; the state is the same per-parameter tensors, so state dicts round-trip between
fused and unfused optimizers.  PyTorch's switches are accepted (``foreach``) or refused as torch refuses them.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

import framework as fw
from framework import optim
from framework.nn import Parameter
from framework.tensor import Tensor

from ..conftest import rel_err

SHAPES = [(3, 4), (5,), (1,), (0,)]
STEPS = 4
TOL = {"float64": 1e-12, "float32": 1e-5}

CASES = [
    ("SGD", dict(lr=0.1)),
    ("SGD", dict(lr=0.05, momentum=0.9, dampening=0.3, weight_decay=0.1)),
    ("SGD", dict(lr=0.05, momentum=0.8, nesterov=True, weight_decay=0.01, maximize=True)),
    ("Adam", dict(lr=0.05, weight_decay=0.1, amsgrad=True)),
    ("Adam", dict(lr=0.02, betas=(0.8, 0.99), eps=1e-6, maximize=True)),
    ("AdamW", dict(lr=0.05, weight_decay=0.1, amsgrad=True)),
]


def _grad(values: np.ndarray, target: np.ndarray) -> np.ndarray:
    return values - target + 0.3 * np.sin(3 * values)


def _pair(rng, device, dtype, opt_name, kwargs):
    inits = [rng.standard_normal(s) for s in SHAPES]
    ours = [Parameter(fw.tensor(a, dtype=getattr(fw, dtype), device=device)) for a in inits]
    theirs = [torch.tensor(a, requires_grad=True) for a in inits]
    return ours, theirs, getattr(optim, opt_name)(ours, fused=True, **kwargs), \
        getattr(torch.optim, opt_name)(theirs, foreach=False, fused=False, **kwargs)


def _step(ours, theirs, our_opt, their_opt, targets, skip=()):
    """One step of both; parameters whose index is in ``skip`` get no gradient this step."""
    for i, (p, t, target) in enumerate(zip(ours, theirs, targets)):
        if i in skip:
            p.grad, t.grad = None, None
            continue
        g = _grad(t.detach().numpy(), target)  # the same gradient on both sides: from torch's values
        p.grad = fw.tensor(g, dtype=p.dtype, device=p.device)
        t.grad = torch.tensor(g)
    our_opt.step()
    their_opt.step()


def _close(ours, theirs, tol):
    out = np.concatenate([p.numpy().astype(np.float64).ravel() for p in ours])
    ref = np.concatenate([t.detach().numpy().ravel() for t in theirs])
    assert rel_err(out, ref) <= tol


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("opt_name, kwargs", CASES, ids=[f"{n}-{sorted(k.items())}" for n, k in CASES])
def test_fused_matches_torch(device, rng, dtype, opt_name, kwargs):
    ours, theirs, our_opt, their_opt = _pair(rng, device, dtype, opt_name, kwargs)
    targets = [rng.standard_normal(s) for s in SHAPES]
    before = ours[0].numpy().copy()
    for step in range(STEPS):
        # the second parameter skips step 1: its own step count (Adam's bias corrections) and a late first
        # momentum step (SGD's buffer = g), in a separate kernel call from the others
        _step(ours, theirs, our_opt, their_opt, targets, skip=(1,) if step == 1 else ())
    _close(ours, theirs, TOL[dtype])
    assert not np.allclose(before, ours[0].numpy()), "parameters did not move"
    if opt_name != "SGD":
        assert our_opt.state[ours[0]]["step"] == STEPS and our_opt.state[ours[1]]["step"] == STEPS - 1


def test_fused_writes_in_place_and_counts_a_version(device, rng):
    p = Parameter(fw.tensor(rng.standard_normal(6), device=device))
    alias, version = p.data, p._version
    opt = optim.Adam([p], lr=0.1, fused=True)
    p.grad = fw.ones(6, device=device)
    opt.step()
    assert p._version == version + 1
    np.testing.assert_array_equal(alias.numpy(), p.numpy())


@pytest.mark.parametrize("opt_name, kwargs", [("Adam", dict(lr=0.05, amsgrad=True)),
                                              ("SGD", dict(lr=0.05, momentum=0.9))])
def test_state_dict_round_trip_with_fused(device, rng, opt_name, kwargs):
    """Save a fused optimizer's state after 2 steps; a fused and an unfused optimizer loaded from it take the
    same next steps as the original."""
    ours, theirs, our_opt, their_opt = _pair(rng, device, "float64", opt_name, kwargs)
    targets = [rng.standard_normal(s) for s in SHAPES]
    for _ in range(2):
        _step(ours, theirs, our_opt, their_opt, targets)
    saved = our_opt.state_dict()
    assert saved["param_groups"][0]["fused"] is True
    copies = []
    for fused in (True, False):
        params = [Parameter(fw.tensor(p.numpy().copy(), dtype=fw.float64, device=device)) for p in ours]
        opt = getattr(optim, opt_name)(params, fused=fused, **kwargs)
        opt.load_state_dict(saved)
        opt.param_groups[0]["fused"] = fused  # the loaded groups carry the saved switch; choose the path
        copies.append((params, opt))
    for _ in range(2):
        _step(ours, theirs, our_opt, their_opt, targets)
        for params, opt in copies:
            for p, t in zip(params, ours):
                p.grad = t.grad
            opt.step()
    for params, _ in copies:
        _close(params, theirs, 1e-12)


def test_torch_switches():
    p = Parameter(fw.zeros(3))
    with pytest.raises(RuntimeError, match="`fused` and `foreach` cannot be `True` together."):
        optim.Adam([p], fused=True, foreach=True)
    with pytest.raises(RuntimeError, match="`fused` and `foreach` cannot be `True` together."):
        optim.SGD([p], fused=True, foreach=True)
    assert optim.AdamW([p], capturable=True).param_groups[0]["capturable"] is True  # tests/test_cuda_graph_step.py
    with pytest.raises(NotImplementedError, match="differentiable=True"):
        optim.SGD([p], differentiable=True)
    with pytest.raises(TypeError, match="fused must be a bool or None"):
        optim.Adam([p], fused="yes")
    for foreach in (None, True, False):  # accepted, no numeric effect
        assert optim.Adam([p], foreach=foreach).param_groups[0]["foreach"] is foreach
    assert "fused" not in optim.NAdam([p]).param_groups[0]  # the variants have no such switches


def test_signatures_follow_torch():
    import inspect

    for name in ("Adam", "AdamW", "SGD"):
        ours = inspect.signature(getattr(optim, name).__init__).parameters
        theirs = inspect.signature(getattr(torch.optim, name).__init__).parameters
        for key in ("foreach", "capturable", "differentiable", "fused"):
            if key in theirs:
                assert ours[key].kind is inspect.Parameter.KEYWORD_ONLY, (name, key)
                assert ours[key].default == theirs[key].default, (name, key)
        assert [k for k in ours if k in theirs] == [k for k in theirs if k in ours], name


# ------------------------------------------------------------------------------ fused=True, capturable=True

CAPTURABLE_CASES = [
    ("Adam", dict(lr=0.05, weight_decay=0.1, amsgrad=True)),
    ("Adam", dict(lr=0.02, betas=(0.8, 0.99), eps=1e-6, maximize=True)),
    ("AdamW", dict(lr=0.05, weight_decay=0.1, amsgrad=True, maximize=True)),
]


@pytest.mark.parametrize("opt_name, kwargs", CAPTURABLE_CASES, ids=[f"{n}-{sorted(k)}" for n, k in CAPTURABLE_CASES])
def test_fused_capturable_matches_torch(device, rng, monkeypatch, opt_name, kwargs):
    """The fused capturable kernel (never the per-parameter array operations) follows torch.optim (capturable=False,
    float64) over several steps, with lr changed between steps as a scheduler does (the device copy follows: no
    table rebuild: next test) and a parameter skipping a step (a batch without it: its count stays behind)."""
    from framework.optim import adam

    monkeypatch.setattr(adam.Adam, "_capturable_update_each", lambda *a: pytest.fail("took the per-parameter path"))
    inits = [rng.standard_normal(s) for s in SHAPES]
    ours = [Parameter(fw.tensor(a, dtype=fw.float64, device=device)) for a in inits]
    theirs = [torch.tensor(a, requires_grad=True) for a in inits]
    our_opt = getattr(optim, opt_name)(ours, fused=True, capturable=True, **kwargs)
    their_opt = getattr(torch.optim, opt_name)(theirs, foreach=False, fused=False, **kwargs)
    targets = [rng.standard_normal(s) for s in SHAPES]
    for step in range(STEPS):
        if step == 2:
            for opt in (our_opt, their_opt):
                opt.param_groups[0]["lr"] *= 0.5
        _step(ours, theirs, our_opt, their_opt, targets, skip=(1,) if step == 1 else ())
        _close(ours, theirs, 1e-12)
    assert [float(our_opt.state[p]["step"]) for p in ours] == [STEPS, STEPS - 1, STEPS, STEPS]


def test_fused_capturable_reuses_its_table_and_rebuilds_it_for_a_new_parameter(rng):
    """Static gradient storage (as in a replayed graph): one table for every step, lr changes included, the same
    numbers as the fused host-scalar step; ``p.data = ...`` (a new storage) rebuilds it."""
    inits = [rng.standard_normal(s) for s in SHAPES]
    grads = [fw.tensor(rng.standard_normal(s)) for s in SHAPES]
    runs = []
    for capturable in (True, False):
        ps = [Parameter(fw.tensor(a)) for a in inits]
        opt = optim.Adam(ps, lr=0.05, weight_decay=0.1, fused=True, capturable=capturable)
        for _ in range(3):
            for p, g in zip(ps, grads):
                p.grad = g
            opt.step()
            opt.param_groups[0]["lr"] *= 0.7
        runs.append((ps, opt))
    (ps, opt), (ref, _) = runs
    _close(ps, [torch.tensor(p.numpy()) for p in ref], 1e-12)
    (entry,) = opt._fused_steps.values()
    assert entry.table.builds == 1 and entry.steps.tolist() == [3.0] * len(SHAPES)
    ps[0].data = fw.tensor(rng.standard_normal(SHAPES[0]))
    opt.step()
    assert entry.table.builds == 2 and float(opt.state[ps[0]]["step"]) == 4


def test_fused_capturable_state_dict_round_trip(rng):
    """The step counts are 0-d device Tensors (views of the batch's vector); a state dict holds copies, and an
    optimizer loaded from it (fused capturable or not) continues the same trajectory."""
    init = [rng.standard_normal(s) for s in SHAPES]
    grads = [[rng.standard_normal(s) for s in SHAPES] for _ in range(4)]

    def make(capturable):
        ps = [Parameter(fw.tensor(a)) for a in init]
        return ps, optim.AdamW(ps, lr=0.05, amsgrad=True, fused=True, capturable=capturable)

    def run(ps, opt, gs):
        for step_grads in gs:
            for p, g in zip(ps, step_grads):
                p.grad = fw.tensor(g)
            opt.step()

    ref, ref_opt = make(False)
    run(ref, ref_opt, grads)
    ps, opt = make(True)
    run(ps, opt, grads[:2])
    saved = opt.state_dict()
    assert isinstance(saved["state"][0]["step"], Tensor) and float(saved["state"][0]["step"]) == 2
    for capturable in (True, False):
        qs = [Parameter(fw.tensor(p.numpy().copy())) for p in ps]
        resumed = optim.AdamW(qs, lr=0.05, amsgrad=True, fused=True, capturable=capturable)
        resumed.load_state_dict(saved)
        run(qs, resumed, grads[2:])
        _close(qs, [torch.tensor(p.numpy()) for p in ref], 1e-12)
    run(ps, opt, grads[2:])
    assert float(saved["state"][0]["step"]) == 2  # a copy: the running optimizer's counts moved on
    _close(ps, [torch.tensor(p.numpy()) for p in ref], 1e-12)
