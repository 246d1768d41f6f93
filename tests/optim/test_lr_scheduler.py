"""framework.optim.lr_scheduler against torch.optim.lr_scheduler: the same lr sequence, step for step."""

from __future__ import annotations

import math
import pickle

import numpy as np
import pytest
import torch

import framework as fw
from framework import optim
from framework.nn import Parameter
from framework.optim import lr_scheduler

LRS = (0.1, 0.03)

# torch warns when a nested SequentialLR restarts its first scheduler before any optimizer.step(); the
# oracle's ordering is not under test.
pytestmark = pytest.mark.filterwarnings("ignore:Detected call of `lr_scheduler.step\\(\\)` before:UserWarning")


def _optimizers(lrs=LRS, kind="SGD"):
    """Ours and torch's optimizer (SGD with momentum, or Adam) with one param group per lr."""
    kwargs = dict(momentum=0.9) if kind == "SGD" else {}
    ours = getattr(optim, kind)([{"params": [Parameter(fw.zeros(2))], "lr": lr} for lr in lrs], **kwargs)
    theirs = getattr(torch.optim, kind)([{"params": [torch.zeros(2, requires_grad=True)], "lr": lr} for lr in lrs],
                                        **kwargs)
    return ours, theirs


def _sequential(mod, opt, parts, milestones):
    return mod.SequentialLR(opt, [getattr(mod, name)(opt, **kwargs) for name, kwargs in parts], milestones)


def _half_every_fourth(epoch):
    return 0.5 if epoch % 4 == 3 else 1.0


# (id, builder(module, optimizer) -> scheduler): each builder runs on ours and on torch's.
CASES = [
    ("StepLR-3-0.5", lambda m, o: m.StepLR(o, step_size=3, gamma=0.5)),
    ("StepLR-1", lambda m, o: m.StepLR(o, step_size=1)),
    ("CosineAnnealingLR-5-eta", lambda m, o: m.CosineAnnealingLR(o, T_max=5, eta_min=0.01)),
    ("CosineAnnealingLR-7", lambda m, o: m.CosineAnnealingLR(o, T_max=7)),
    ("MultiStepLR", lambda m, o: m.MultiStepLR(o, milestones=[2, 5, 9, 20], gamma=0.5)),
    ("MultiStepLR-repeated", lambda m, o: m.MultiStepLR(o, milestones=[3, 3, 12])),
    ("ExponentialLR", lambda m, o: m.ExponentialLR(o, gamma=0.9)),
    ("LambdaLR", lambda m, o: m.LambdaLR(o, lr_lambda=lambda e: 1.0 / (1 + e))),
    ("LambdaLR-per-group",
     lambda m, o: m.LambdaLR(o, lr_lambda=[lambda e: 0.95 ** e, lambda e: min(1.0, (e + 1) / 6)])),
    ("MultiplicativeLR", lambda m, o: m.MultiplicativeLR(o, lr_lambda=lambda e: 0.9)),
    ("MultiplicativeLR-per-group", lambda m, o: m.MultiplicativeLR(o, [_half_every_fourth, lambda e: 0.97])),
    ("ConstantLR-default", lambda m, o: m.ConstantLR(o)),
    ("ConstantLR", lambda m, o: m.ConstantLR(o, factor=0.25, total_iters=8)),
    ("LinearLR-default", lambda m, o: m.LinearLR(o)),
    ("LinearLR-decay", lambda m, o: m.LinearLR(o, start_factor=1.0, end_factor=0.05, total_iters=20)),
    ("PolynomialLR-default", lambda m, o: m.PolynomialLR(o)),
    ("PolynomialLR-2", lambda m, o: m.PolynomialLR(o, total_iters=12, power=2.0)),
    ("CosineAnnealingWarmRestarts", lambda m, o: m.CosineAnnealingWarmRestarts(o, T_0=4)),
    ("CosineAnnealingWarmRestarts-mult", lambda m, o: m.CosineAnnealingWarmRestarts(o, T_0=3, T_mult=2, eta_min=1e-3)),
    ("OneCycleLR", lambda m, o: m.OneCycleLR(o, max_lr=1.0, total_steps=30)),
    ("SequentialLR-warmup-cosine", lambda m, o: _sequential(
        m, o, [("LinearLR", dict(start_factor=0.1, total_iters=5)), ("CosineAnnealingLR", dict(T_max=20))], [5])),
    ("SequentialLR-three", lambda m, o: _sequential(
        m, o, [("ConstantLR", dict(factor=0.5, total_iters=10)), ("ExponentialLR", dict(gamma=0.8)),
               ("StepLR", dict(step_size=4, gamma=0.5))], [3, 11])),
    ("SequentialLR-linear-multistep", lambda m, o: _sequential(
        m, o, [("LinearLR", dict(start_factor=0.2, total_iters=4)), ("MultiStepLR", dict(milestones=[3, 8]))], [6])),
    ("SequentialLR-no-closed-form", lambda m, o: _sequential(
        m, o, [("ExponentialLR", dict(gamma=0.5)), ("MultiplicativeLR", dict(lr_lambda=lambda e: 0.9)),
               ("CosineAnnealingWarmRestarts", dict(T_0=5)), ("LambdaLR", dict(lr_lambda=lambda e: 0.9 ** e))],
        [4, 9, 17])),
    ("SequentialLR-polynomial-after", lambda m, o: _sequential(
        m, o, [("LinearLR", dict(start_factor=0.5, total_iters=3)), ("PolynomialLR", dict(total_iters=10))], [3])),
    # Every scheduler after the first starts at its milestone through its closed form (PyTorch's step(0)),
    # which here is not just the initial rate: ConstantLR/LinearLR scale it, MultiStepLR has a milestone at 0
    # and the cosine's eta_min makes eta_min + (lr0 - eta_min) round differently from lr0.
    ("SequentialLR-closed-forms", lambda m, o: _sequential(
        m, o, [("ExponentialLR", dict(gamma=0.7)), ("ConstantLR", dict(factor=0.5, total_iters=3)),
               ("LinearLR", dict(start_factor=0.25, total_iters=4)), ("MultiStepLR", dict(milestones=[0, 3])),
               ("CosineAnnealingLR", dict(T_max=6, eta_min=0.005))], [2, 6, 11, 17])),
    ("SequentialLR-milestone-0", lambda m, o: _sequential(
        m, o, [("LinearLR", {}), ("ExponentialLR", dict(gamma=0.9))], [0])),
    ("SequentialLR-nested", lambda m, o: m.SequentialLR(o, [_sequential(
        m, o, [("LinearLR", dict(start_factor=0.5, total_iters=4)), ("ExponentialLR", dict(gamma=0.9))], [3]),
        m.StepLR(o, step_size=4, gamma=0.5)], [12])),
]
IDS = [name for name, _ in CASES]
BUILDERS = [builder for _, builder in CASES]


def _step_both(our_opt, their_opt, ours, theirs):
    our_opt.step()
    their_opt.step()
    ours.step()
    theirs.step()


@pytest.mark.parametrize("build", BUILDERS, ids=IDS)
def test_lr_sequence_matches_torch(build):
    our_opt, their_opt = _optimizers()
    ours = build(lr_scheduler, our_opt)
    theirs = build(torch.optim.lr_scheduler, their_opt)
    assert ours.get_last_lr() == pytest.approx(theirs.get_last_lr(), rel=1e-12)
    assert [g["lr"] for g in our_opt.param_groups] == pytest.approx([g["lr"] for g in their_opt.param_groups],
                                                                      rel=1e-12)
    seen = set()
    for _ in range(30):  # past every milestone and restart, through the whole OneCycle (total_steps=30)
        _step_both(our_opt, their_opt, ours, theirs)
        assert ours.get_last_lr() == pytest.approx(theirs.get_last_lr(), rel=1e-12, abs=1e-15)
        assert [g["lr"] for g in our_opt.param_groups] == ours.get_last_lr()
        seen.add(round(ours.get_last_lr()[0], 12))
    assert len(seen) >= 2, "the schedule never changed the lr"


@pytest.mark.parametrize("build", BUILDERS, ids=IDS)
def test_a_rate_changed_by_hand_carries_on_as_in_torch(build):
    """The chainable forms scale the groups' current rates, so a change made between steps (by the user or
    another scheduler) carries on; the forms computed from the initial rates overwrite it."""
    our_opt, their_opt = _optimizers()
    ours = build(lr_scheduler, our_opt)
    theirs = build(torch.optim.lr_scheduler, their_opt)
    for step in range(25):
        if step == 10:
            for opt in (our_opt, their_opt):
                for group in opt.param_groups:
                    group["lr"] *= 0.5
        _step_both(our_opt, their_opt, ours, theirs)
        assert ours.get_last_lr() == pytest.approx(theirs.get_last_lr(), rel=1e-12, abs=1e-15)
        assert [g["lr"] for g in our_opt.param_groups] == ours.get_last_lr()


CHAINS = [
    ("Exponential+MultiStep", [("ExponentialLR", dict(gamma=0.9)), ("MultiStepLR", dict(milestones=[3, 6]))]),
    ("Constant+Step", [("ConstantLR", dict(factor=0.5, total_iters=4)), ("StepLR", dict(step_size=3, gamma=0.5))]),
    ("Linear+Polynomial", [("LinearLR", dict(start_factor=0.2, total_iters=6)),
                           ("PolynomialLR", dict(total_iters=10, power=1.5))]),
    ("Cosine+Multiplicative", [("CosineAnnealingLR", dict(T_max=8, eta_min=0.001)),
                               ("MultiplicativeLR", dict(lr_lambda=lambda e: 0.95))]),
    ("Lambda+Exponential", [("LambdaLR", dict(lr_lambda=lambda e: 1.0 / (1 + e))), ("ExponentialLR", dict(gamma=0.8))]),
    ("Exponential+WarmRestarts", [("ExponentialLR", dict(gamma=0.9)), ("CosineAnnealingWarmRestarts", dict(T_0=4))]),
]


@pytest.mark.parametrize("parts", [p for _, p in CHAINS], ids=[n for n, _ in CHAINS])
def test_two_schedulers_on_one_optimizer_compose_as_in_torch(parts):
    """Two schedulers stepped together on one optimizer (what ChainedScheduler does): each chainable form
    multiplies the rate the other one left, as in PyTorch."""
    our_opt, their_opt = _optimizers()
    ours = [getattr(lr_scheduler, name)(our_opt, **kwargs) for name, kwargs in parts]
    theirs = [getattr(torch.optim.lr_scheduler, name)(their_opt, **kwargs) for name, kwargs in parts]
    for _ in range(20):
        our_opt.step()
        their_opt.step()
        for our_sched, their_sched in zip(ours, theirs):
            our_sched.step()
            their_sched.step()
            assert our_sched.get_last_lr() == pytest.approx(their_sched.get_last_lr(), rel=1e-12, abs=1e-15)
        assert [g["lr"] for g in our_opt.param_groups] == pytest.approx([g["lr"] for g in their_opt.param_groups],
                                                                          rel=1e-12, abs=1e-15)


# (id, builder(module, optimizer, last_epoch)): every scheduler that takes last_epoch.
RESUMABLE = [
    ("StepLR", lambda m, o, e: m.StepLR(o, step_size=3, gamma=0.5, last_epoch=e)),
    ("MultiStepLR", lambda m, o, e: m.MultiStepLR(o, milestones=[2, 9, 9, 12], gamma=0.5, last_epoch=e)),
    ("ExponentialLR", lambda m, o, e: m.ExponentialLR(o, gamma=0.9, last_epoch=e)),
    ("LambdaLR", lambda m, o, e: m.LambdaLR(o, lambda k: 1.0 / (1 + k), last_epoch=e)),
    ("MultiplicativeLR", lambda m, o, e: m.MultiplicativeLR(o, lambda k: 0.9, last_epoch=e)),
    ("ConstantLR", lambda m, o, e: m.ConstantLR(o, factor=0.25, total_iters=8, last_epoch=e)),
    ("LinearLR", lambda m, o, e: m.LinearLR(o, start_factor=0.2, total_iters=10, last_epoch=e)),
    ("PolynomialLR", lambda m, o, e: m.PolynomialLR(o, total_iters=12, power=2.0, last_epoch=e)),
    ("CosineAnnealingLR", lambda m, o, e: m.CosineAnnealingLR(o, T_max=9, eta_min=0.01, last_epoch=e)),
    ("CosineAnnealingWarmRestarts",
     lambda m, o, e: m.CosineAnnealingWarmRestarts(o, T_0=3, T_mult=2, eta_min=1e-3, last_epoch=e)),
    ("OneCycleLR", lambda m, o, e: m.OneCycleLR(o, max_lr=1.0, total_steps=30, last_epoch=e)),
    ("OneCycleLR-Adam-three-phase",
     lambda m, o, e: m.OneCycleLR(o, max_lr=[1.0, 0.5], total_steps=30, three_phase=True, last_epoch=e)),
]


@pytest.mark.parametrize("resume_at", [2, 8])
@pytest.mark.parametrize("build", [b for _, b in RESUMABLE], ids=[n for n, _ in RESUMABLE])
def test_resume_with_last_epoch_matches_torch(build, resume_at):
    """A new scheduler over the same optimizer told how far the run got (``last_epoch``): its constructor's
    step and every later one give PyTorch's rates (the groups hold 'initial_lr' from the first scheduler)."""
    our_opt, their_opt = _optimizers(kind="Adam" if "Adam" in str(build.__code__.co_consts) else "SGD")
    ours, theirs = build(lr_scheduler, our_opt, -1), build(torch.optim.lr_scheduler, their_opt, -1)
    for _ in range(resume_at):
        _step_both(our_opt, their_opt, ours, theirs)
    ours, theirs = build(lr_scheduler, our_opt, resume_at), build(torch.optim.lr_scheduler, their_opt, resume_at)
    assert ours.last_epoch == theirs.last_epoch
    assert ours.get_last_lr() == pytest.approx(theirs.get_last_lr(), rel=1e-12, abs=1e-15)
    for _ in range(30 - resume_at - 1):  # OneCycleLR (total_steps=30) to its last step
        _step_both(our_opt, their_opt, ours, theirs)
        assert ours.get_last_lr() == pytest.approx(theirs.get_last_lr(), rel=1e-12, abs=1e-15)
        assert [g["lr"] for g in our_opt.param_groups] == ours.get_last_lr()
        assert _momenta(our_opt) == pytest.approx(_momenta(their_opt), rel=1e-12)


def test_resume_needs_initial_lr_in_every_group():
    opt, _ = _optimizers()
    opt.param_groups[0]["initial_lr"] = 0.1  # the second group has none
    with pytest.raises(KeyError, match=r"param_groups\[1\]"):
        lr_scheduler.ExponentialLR(opt, gamma=0.9, last_epoch=4)


@pytest.mark.parametrize("make", [
    lambda o: lr_scheduler.StepLR(o, step_size=2),
    lambda o: lr_scheduler.SequentialLR(o, [lr_scheduler.LinearLR(o), lr_scheduler.StepLR(o, 2)], [3]),
    lambda o: lr_scheduler.ReduceLROnPlateau(o),
], ids=["StepLR", "SequentialLR", "ReduceLROnPlateau"])
def test_get_last_lr_returns_a_copy(make):
    opt, _ = _optimizers()
    sched = make(opt)
    sched.get_last_lr()[0] = 5.0
    assert sched.get_last_lr()[0] != 5.0 and opt.param_groups[0]["lr"] != 5.0


def test_cosine_reaches_eta_min_at_t_max():
    opt, _ = _optimizers(lrs=(0.1,))
    sched = lr_scheduler.CosineAnnealingLR(opt, T_max=4, eta_min=0.001)
    for _ in range(4):
        sched.step()
    assert sched.get_last_lr()[0] == pytest.approx(0.001)


def test_warm_restarts_restart_at_the_initial_lr_with_growing_periods():
    opt, _ = _optimizers(lrs=(0.1,))
    sched = lr_scheduler.CosineAnnealingWarmRestarts(opt, T_0=2, T_mult=2)
    lrs = [sched.get_last_lr()[0]]
    for _ in range(14):
        sched.step()
        lrs.append(sched.get_last_lr()[0])
    restarts = [i for i, lr in enumerate(lrs) if lr == pytest.approx(0.1)]
    assert restarts == [0, 2, 6, 14]  # periods 2, 4, 8


def test_warm_restarts_fractional_epochs_match_torch():
    for t_mult in (1, 2, 3):
        our_opt, their_opt = _optimizers()
        ours = lr_scheduler.CosineAnnealingWarmRestarts(our_opt, T_0=3, T_mult=t_mult, eta_min=0.002)
        theirs = torch.optim.lr_scheduler.CosineAnnealingWarmRestarts(their_opt, T_0=3, T_mult=t_mult, eta_min=0.002)
        iters = 4
        for epoch in range(20):
            for i in range(iters):
                our_opt.step()
                their_opt.step()
                ours.step(epoch + i / iters)
                theirs.step(epoch + i / iters)
                assert ours.get_last_lr() == pytest.approx(theirs.get_last_lr(), rel=1e-12, abs=1e-15)
                assert ours.last_epoch == theirs.last_epoch
        with pytest.raises(ValueError, match="epoch"):
            ours.step(-1)
        with pytest.raises(ValueError, match="epoch"):
            ours.step("3")


# ------------------------------------------------------------------------------------------ OneCycleLR

ONE_CYCLE = [
    ("cos", dict(max_lr=1.0, total_steps=30)),
    ("linear", dict(max_lr=0.5, total_steps=30, anneal_strategy="linear")),
    ("three-phase-cos", dict(max_lr=0.8, total_steps=30, three_phase=True)),
    ("three-phase-linear", dict(max_lr=0.8, total_steps=31, three_phase=True, anneal_strategy="linear",
                                pct_start=0.25)),
    ("per-group", dict(max_lr=[1.0, 0.2], epochs=6, steps_per_epoch=5, pct_start=0.4, base_momentum=[0.8, 0.85],
                       max_momentum=(0.9, 0.99), div_factor=10.0, final_div_factor=100.0)),
    ("no-momentum", dict(max_lr=0.3, total_steps=20, cycle_momentum=False)),
    ("pct-0", dict(max_lr=0.3, total_steps=12, pct_start=0.0)),
]


def _momenta(opt):
    return [g["betas"][0] if "betas" in g else g["momentum"] for g in opt.param_groups]


@pytest.mark.parametrize("kind", ["SGD", "Adam"])
@pytest.mark.parametrize("kwargs", [k for _, k in ONE_CYCLE], ids=[n for n, _ in ONE_CYCLE])
def test_one_cycle_lr_and_momentum_match_torch_through_every_phase(kwargs, kind):
    our_opt, their_opt = _optimizers(kind=kind)
    ours = lr_scheduler.OneCycleLR(our_opt, **kwargs)
    theirs = torch.optim.lr_scheduler.OneCycleLR(their_opt, **kwargs)
    total = theirs.total_steps
    assert ours.total_steps == total
    for step in range(total + 1):
        if step:
            _step_both(our_opt, their_opt, ours, theirs)
        assert ours.get_last_lr() == pytest.approx(theirs.get_last_lr(), rel=1e-12, abs=1e-15)
        assert _momenta(our_opt) == pytest.approx(_momenta(their_opt), rel=1e-12)
        if kind == "Adam":
            assert [g["betas"][1] for g in our_opt.param_groups] == [0.999, 0.999]
    for key in ("initial_lr", "max_lr", "min_lr"):
        assert [g[key] for g in our_opt.param_groups] == pytest.approx([g[key] for g in their_opt.param_groups])
    with pytest.raises(ValueError, match="total_steps"):
        ours.step()
    with pytest.raises(ValueError):
        theirs.step()


def test_one_cycle_peaks_at_max_lr_and_ends_at_the_minimum():
    opt, _ = _optimizers(lrs=(0.1,))
    sched = lr_scheduler.OneCycleLR(opt, max_lr=2.0, total_steps=10, pct_start=0.5, div_factor=20.0,
                                    final_div_factor=10.0)
    lrs = [sched.get_last_lr()[0]]
    momenta = [opt.param_groups[0]["momentum"]]
    for _ in range(9):  # the peak is at step 4, the end at step 9 (total_steps - 1)
        opt.step()
        sched.step()
        lrs.append(sched.get_last_lr()[0])
        momenta.append(opt.param_groups[0]["momentum"])
    assert lrs[0] == pytest.approx(0.1) and max(lrs) == pytest.approx(2.0) and lrs[-1] == pytest.approx(0.01)
    assert momenta[0] == pytest.approx(0.95) and min(momenta) == pytest.approx(0.85)
    assert momenta[-1] == pytest.approx(0.95)


# ----------------------------------------------------------------------------------- ReduceLROnPlateau

PLATEAU_METRICS = [1.0, 0.9, 0.9, 0.9, 0.9, 0.89995, 0.85, 0.85, 0.86, 0.87, 0.8, 0.8, 0.8, 0.8, 0.8, 0.8,
                   0.79, 0.7, 0.71, 0.72, 0.73, 0.74, 0.75, 0.75, 0.75, 0.6, 0.6, 0.6, 0.6, 0.6, 0.6, 0.6,
                   0.6, 0.6, 0.6, 0.6, 0.6, 0.6, 0.6, 0.6]

PLATEAU_CASES = [
    ("patience-2", dict(patience=2), PLATEAU_METRICS),
    ("default", dict(), PLATEAU_METRICS),
    ("patience-0", dict(patience=0, factor=0.5), PLATEAU_METRICS),
    ("cooldown", dict(patience=1, cooldown=3, factor=0.5), PLATEAU_METRICS),
    ("min-lr", dict(patience=1, factor=0.2, min_lr=0.001), PLATEAU_METRICS),
    ("min-lr-per-group", dict(patience=1, factor=0.2, min_lr=[0.005, 0.0001]), PLATEAU_METRICS),
    ("abs-threshold", dict(patience=1, threshold=0.02, threshold_mode="abs"), PLATEAU_METRICS),
    ("rel-threshold-large", dict(patience=1, threshold=0.1), PLATEAU_METRICS),
    ("mode-max", dict(mode="max", patience=2, factor=0.5), [1 - m for m in PLATEAU_METRICS]),
    ("mode-max-abs", dict(mode="max", patience=1, threshold=0.05, threshold_mode="abs", cooldown=1),
     [1 - m for m in PLATEAU_METRICS]),
    ("eps-blocks", dict(patience=0, factor=0.5, eps=0.02), PLATEAU_METRICS),
    ("nan-metric", dict(patience=1), [1.0, math.nan, math.nan, 0.5, math.nan, math.nan, 0.4]),
]


@pytest.mark.parametrize("kwargs, metrics", [(k, m) for _, k, m in PLATEAU_CASES], ids=[n for n, _, _ in PLATEAU_CASES])
def test_reduce_lr_on_plateau_matches_torch(kwargs, metrics):
    our_opt, their_opt = _optimizers()
    ours = lr_scheduler.ReduceLROnPlateau(our_opt, **kwargs)
    theirs = torch.optim.lr_scheduler.ReduceLROnPlateau(their_opt, **kwargs)
    assert ours.get_last_lr() == list(LRS)
    for metric in metrics:
        our_opt.step()
        their_opt.step()
        ours.step(metric)
        theirs.step(metric)
        assert ours.get_last_lr() == pytest.approx(theirs.get_last_lr(), rel=1e-12)
        assert (ours.num_bad_epochs, ours.cooldown_counter, ours.last_epoch) == (
            theirs.num_bad_epochs, theirs.cooldown_counter, theirs.last_epoch)
        assert ours.best == theirs.best or (math.isnan(ours.best) and math.isnan(theirs.best))


def test_reduce_lr_on_plateau_reduces_after_patience_and_accepts_a_tensor_metric():
    opt, _ = _optimizers(lrs=(1.0,))
    sched = lr_scheduler.ReduceLROnPlateau(opt, patience=2, factor=0.5)
    for metric in (1.0, 1.0, 1.0):
        sched.step(fw.tensor(metric))
        assert sched.get_last_lr() == [1.0]
    sched.step(fw.tensor([1.0]))  # the third epoch without improvement: more than patience
    assert sched.get_last_lr() == [0.5] and opt.param_groups[0]["lr"] == 0.5


@pytest.mark.parametrize("min_lr", [0.001, [0.001, 0.002]], ids=["scalar", "per-group"])
def test_reduce_lr_on_plateau_with_a_group_added_later(min_lr):
    """A scalar min_lr covers a group added after construction; a per-group list cannot (RuntimeError)."""
    our_opt, their_opt = _optimizers()
    ours = lr_scheduler.ReduceLROnPlateau(our_opt, patience=0, factor=0.5, min_lr=min_lr)
    theirs = torch.optim.lr_scheduler.ReduceLROnPlateau(their_opt, patience=0, factor=0.5, min_lr=min_lr)
    our_opt.add_param_group({"params": [Parameter(fw.zeros(1))], "lr": 0.2})
    their_opt.add_param_group({"params": [torch.zeros(1, requires_grad=True)], "lr": 0.2})
    ours.step(1.0)
    theirs.step(1.0)
    if isinstance(min_lr, list):
        with pytest.raises(RuntimeError, match="min_lr"):
            ours.step(2.0)
        with pytest.raises(RuntimeError):
            theirs.step(2.0)
        return
    for metric in (2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0):
        ours.step(metric)
        theirs.step(metric)
        assert ours.get_last_lr() == pytest.approx(theirs.get_last_lr(), rel=1e-12)
    assert ours.get_last_lr()[2] == pytest.approx(0.001)


# ------------------------------------------------------------------------------------------- state dicts


class _Warmup:
    """A callable object: its attributes are saved by LambdaLR's state dict."""

    def __init__(self, epochs):
        self.epochs = epochs

    def __call__(self, epoch):
        return min(1.0, (epoch + 1) / self.epochs)


STATE_CASES = [(name, build, "SGD") for name, build in CASES] + [
    ("OneCycleLR-three-phase-Adam",
     lambda m, o: m.OneCycleLR(o, max_lr=[1.0, 0.5], total_steps=30, three_phase=True), "Adam"),
    ("LambdaLR-callable-object", lambda m, o: m.LambdaLR(o, _Warmup(8)), "SGD"),
]


@pytest.mark.parametrize("build, kind", [(b, k) for _, b, k in STATE_CASES], ids=[n for n, _, _ in STATE_CASES])
def test_state_dict_round_trip_continues_identically(build, kind):
    opt, _ = _optimizers(kind=kind)
    sched = build(lr_scheduler, opt)
    for _ in range(7):
        opt.step()
        sched.step()
    state = sched.state_dict()
    assert "optimizer" not in state
    state = pickle.loads(pickle.dumps(state))  # it can go to a checkpoint
    opt2, _ = _optimizers(lrs=(9.0, 9.0), kind=kind)
    sched2 = build(lr_scheduler, opt2)  # constructed first, then the saved states are loaded, as in PyTorch
    opt2.load_state_dict(opt.state_dict())
    sched2.load_state_dict(state)
    assert sched2.get_last_lr() == sched.get_last_lr()
    for _ in range(23):
        opt.step()
        opt2.step()
        sched.step()
        sched2.step()
        np.testing.assert_allclose(sched2.get_last_lr(), sched.get_last_lr(), rtol=1e-15)
        assert [g["lr"] for g in opt2.param_groups] == [g["lr"] for g in opt.param_groups]
        assert _momenta(opt2) == _momenta(opt)


# load_checkpoint refuses a saved scheduler state whose keys differ from the scheduler's, so the keys are
# part of the checkpoint format: a checkpoint written before a change of this module must still load.
_COMMON_KEYS = {"_is_initial", "_last_lr", "_step_count", "base_lrs", "last_epoch"}
STATE_KEYS = {
    "StepLR": _COMMON_KEYS | {"gamma", "step_size"},
    "MultiStepLR": _COMMON_KEYS | {"gamma", "milestones"},
    "ExponentialLR": _COMMON_KEYS | {"gamma"},
    "LambdaLR": _COMMON_KEYS | {"lr_lambdas"},
    "MultiplicativeLR": _COMMON_KEYS | {"lr_lambdas"},
    "ConstantLR": _COMMON_KEYS | {"factor", "total_iters"},
    "LinearLR": _COMMON_KEYS | {"end_factor", "start_factor", "total_iters"},
    "PolynomialLR": _COMMON_KEYS | {"power", "total_iters"},
    "CosineAnnealingLR": _COMMON_KEYS | {"T_max", "eta_min"},
    "CosineAnnealingWarmRestarts": _COMMON_KEYS | {"T_0", "T_cur", "T_i", "T_mult", "eta_min"},
    "OneCycleLR": _COMMON_KEYS | {"_anneal_func_type", "_schedule_phases", "cycle_momentum", "total_steps",
                                  "use_beta1"},
    "SequentialLR": {"_last_lr", "_milestones", "_schedulers", "last_epoch"},
    "ReduceLROnPlateau": {"_last_lr", "best", "cooldown", "cooldown_counter", "default_min_lr", "eps", "factor",
                          "last_epoch", "min_lrs", "mode", "mode_worse", "num_bad_epochs", "patience", "threshold",
                          "threshold_mode"},
}


@pytest.mark.parametrize("build", BUILDERS + [lambda m, o: m.ReduceLROnPlateau(o)], ids=IDS + ["ReduceLROnPlateau"])
def test_state_dict_keys_are_the_checkpoint_format(build):
    opt, _ = _optimizers()
    sched = build(lr_scheduler, opt)
    state = sched.state_dict()
    assert set(state) == STATE_KEYS[type(sched).__name__]
    for inner_state in state.get("_schedulers", []):
        keys = set(inner_state)
        if "_schedulers" in keys:
            # a nested SequentialLR that runs first was restarted through the base class's initial step,
            # which leaves these two behind (as in PyTorch)
            keys -= {"_is_initial", "_step_count"}
        assert keys in STATE_KEYS.values()


def test_one_cycle_state_holds_its_phases_as_in_torch():
    our_opt, their_opt = _optimizers()
    ours = lr_scheduler.OneCycleLR(our_opt, max_lr=1.0, total_steps=20, three_phase=True)
    theirs = torch.optim.lr_scheduler.OneCycleLR(their_opt, max_lr=1.0, total_steps=20, three_phase=True)
    assert ours.state_dict()["_schedule_phases"] == theirs.state_dict()["_schedule_phases"]


def test_multistep_restarted_by_sequential_lr_after_a_checkpoint_round_trip(tmp_path):
    """A checkpoint stores the state as JSON, which gives MultiStepLR's milestones back as a plain dict
    (not a Counter): the restart at the SequentialLR milestone must still compute its closed form."""
    from framework import nn
    from framework.checkpoint import load_checkpoint, save_checkpoint

    def run():
        model = nn.Linear(2, 2)
        opt = optim.SGD(model.parameters(), lr=0.1)
        warmup = lr_scheduler.LinearLR(opt, start_factor=0.5, total_iters=2)
        return model, opt, lr_scheduler.SequentialLR(opt, [warmup, lr_scheduler.MultiStepLR(opt, [0, 3, 3])], [4])

    model, opt, sched = run()
    opt.step()
    sched.step()
    path = save_checkpoint(tmp_path / "run.safetensors", model, opt, scheduler=sched)
    model2, opt2, sched2 = run()
    load_checkpoint(path, model2, opt2, sched2)
    for _ in range(8):  # through the restart at epoch 4 and MultiStepLR's repeated milestone
        for o, s in ((opt, sched), (opt2, sched2)):
            o.step()
            s.step()
        assert sched2.get_last_lr() == sched.get_last_lr()
    assert sched.get_last_lr()[0] == pytest.approx(0.1 * 0.1 ** 3)


def test_sequential_lr_refuses_a_state_dict_with_another_number_of_schedulers():
    opt, _ = _optimizers()
    two = lr_scheduler.SequentialLR(opt, [lr_scheduler.LinearLR(opt), lr_scheduler.ExponentialLR(opt, 0.9)], [3])
    three = lr_scheduler.SequentialLR(
        opt, [lr_scheduler.LinearLR(opt), lr_scheduler.ExponentialLR(opt, 0.9), lr_scheduler.StepLR(opt, 2)], [3, 6])
    with pytest.raises(ValueError, match="schedulers"):
        two.load_state_dict(three.state_dict())


def test_state_dict_restores_other_settings():
    opt, _ = _optimizers()
    sched = lr_scheduler.StepLR(opt, step_size=3, gamma=0.5)
    opt2, _ = _optimizers()
    sched2 = lr_scheduler.StepLR(opt2, step_size=5)
    sched2.load_state_dict(sched.state_dict())
    assert (sched2.step_size, sched2.gamma) == (3, 0.5)


def test_lambda_lr_state_dict_skips_plain_functions_and_keeps_callable_objects():
    opt, _ = _optimizers()
    warmup = _Warmup(4)
    sched = lr_scheduler.LambdaLR(opt, [lambda e: 1.0, warmup])
    state = sched.state_dict()
    assert state["lr_lambdas"] == [None, {"epochs": 4}]
    other = _Warmup(10)
    opt2, _ = _optimizers()
    sched2 = lr_scheduler.LambdaLR(opt2, [lambda e: 0.5, other])
    sched2.load_state_dict(state)
    assert other.epochs == 4 and state["lr_lambdas"] == [None, {"epochs": 4}]  # the input is left intact


def test_reduce_lr_on_plateau_state_dict_round_trip():
    opt, _ = _optimizers()
    sched = lr_scheduler.ReduceLROnPlateau(opt, patience=1, cooldown=2, factor=0.5, min_lr=[0.01, 0.001])
    for metric in PLATEAU_METRICS[:9]:
        sched.step(metric)
    state = pickle.loads(pickle.dumps(sched.state_dict()))
    assert "optimizer" not in state
    opt2, _ = _optimizers(lrs=(5.0, 5.0))
    sched2 = lr_scheduler.ReduceLROnPlateau(opt2, mode="max", patience=7)
    opt2.load_state_dict(opt.state_dict())
    sched2.load_state_dict(state)
    for metric in PLATEAU_METRICS[9:]:
        sched.step(metric)
        sched2.step(metric)
        assert sched2.get_last_lr() == sched.get_last_lr()
        assert (sched2.num_bad_epochs, sched2.cooldown_counter) == (sched.num_bad_epochs, sched.cooldown_counter)


# ------------------------------------------------------------------------------------------------ errors


def test_invalid_arguments():
    opt, _ = _optimizers()
    with pytest.raises(ValueError, match="step_size"):
        lr_scheduler.StepLR(opt, step_size=0)
    with pytest.raises(ValueError, match="T_max"):
        lr_scheduler.CosineAnnealingLR(opt, T_max=0)
    with pytest.raises(TypeError, match="not an Optimizer"):
        lr_scheduler.StepLR(object(), step_size=2)
    fresh, _ = _optimizers()
    with pytest.raises(KeyError, match="initial_lr"):
        lr_scheduler.StepLR(fresh, step_size=2, last_epoch=3)


@pytest.mark.parametrize("make, error, match", [
    (lambda o: lr_scheduler.StepLR(o, step_size=2, gamma=0.0), ValueError, "gamma"),
    (lambda o: lr_scheduler.MultiStepLR(o, milestones=[5, 2]), ValueError, "milestones"),
    (lambda o: lr_scheduler.MultiStepLR(o, milestones=[2, -1]), ValueError, "milestones"),
    (lambda o: lr_scheduler.MultiStepLR(o, milestones=[2.5]), ValueError, "milestones"),
    (lambda o: lr_scheduler.MultiStepLR(o, milestones=[2], gamma=-0.1), ValueError, "gamma"),
    (lambda o: lr_scheduler.ExponentialLR(o, gamma=0), ValueError, "gamma"),
    (lambda o: lr_scheduler.LambdaLR(o, [lambda e: 1.0]), ValueError, "lr_lambdas"),
    (lambda o: lr_scheduler.LambdaLR(o, 0.5), TypeError, "lr_lambda"),
    (lambda o: lr_scheduler.MultiplicativeLR(o, [lambda e: 1.0] * 3), ValueError, "lr_lambdas"),
    (lambda o: lr_scheduler.MultiplicativeLR(o, [lambda e: 1.0, "x"]), TypeError, "lr_lambda"),
    (lambda o: lr_scheduler.ConstantLR(o, factor=1.5), ValueError, "factor"),
    (lambda o: lr_scheduler.ConstantLR(o, factor=0.0), ValueError, "factor"),
    (lambda o: lr_scheduler.ConstantLR(o, total_iters=0), ValueError, "total_iters"),
    (lambda o: lr_scheduler.LinearLR(o, start_factor=0.0), ValueError, "start_factor"),
    (lambda o: lr_scheduler.LinearLR(o, end_factor=1.2), ValueError, "end_factor"),
    (lambda o: lr_scheduler.LinearLR(o, total_iters=-1), ValueError, "total_iters"),
    (lambda o: lr_scheduler.PolynomialLR(o, total_iters=0), ValueError, "total_iters"),
    (lambda o: lr_scheduler.PolynomialLR(o, power=-1.0), ValueError, "power"),
    (lambda o: lr_scheduler.CosineAnnealingLR(o, T_max=5, eta_min=-1.0), ValueError, "eta_min"),
    (lambda o: lr_scheduler.CosineAnnealingWarmRestarts(o, T_0=0), ValueError, "T_0"),
    (lambda o: lr_scheduler.CosineAnnealingWarmRestarts(o, T_0=2.5), ValueError, "T_0"),
    (lambda o: lr_scheduler.CosineAnnealingWarmRestarts(o, T_0=2, T_mult=0), ValueError, "T_mult"),
    (lambda o: lr_scheduler.CosineAnnealingWarmRestarts(o, T_0=2, eta_min=-0.1), ValueError, "eta_min"),
    (lambda o: lr_scheduler.OneCycleLR(o, max_lr=1.0), ValueError, "total_steps"),
    (lambda o: lr_scheduler.OneCycleLR(o, max_lr=1.0, epochs=3), ValueError, "steps_per_epoch"),
    (lambda o: lr_scheduler.OneCycleLR(o, max_lr=1.0, total_steps=0), ValueError, "total_steps"),
    (lambda o: lr_scheduler.OneCycleLR(o, max_lr=1.0, epochs=0, steps_per_epoch=3), ValueError, "epochs"),
    (lambda o: lr_scheduler.OneCycleLR(o, max_lr=1.0, total_steps=10, pct_start=1.5), ValueError, "pct_start"),
    (lambda o: lr_scheduler.OneCycleLR(o, max_lr=1.0, total_steps=10, anneal_strategy="exp"), ValueError,
     "anneal_strategy"),
    (lambda o: lr_scheduler.OneCycleLR(o, max_lr=[1.0], total_steps=10), ValueError, "max_lr"),
    (lambda o: lr_scheduler.OneCycleLR(o, max_lr=1.0, total_steps=10, base_momentum=[0.8] * 3), ValueError,
     "base_momentum"),
    (lambda o: lr_scheduler.OneCycleLR(o, max_lr=1.0, total_steps=10, div_factor=0), ValueError, "div_factor"),
    (lambda o: lr_scheduler.OneCycleLR(object(), max_lr=1.0, total_steps=10), TypeError, "not an Optimizer"),
    (lambda o: lr_scheduler.ReduceLROnPlateau(o, factor=1.0), ValueError, "factor"),
    (lambda o: lr_scheduler.ReduceLROnPlateau(o, factor=-0.5), ValueError, "factor"),
    (lambda o: lr_scheduler.ReduceLROnPlateau(o, mode="avg"), ValueError, "mode"),
    (lambda o: lr_scheduler.ReduceLROnPlateau(o, threshold_mode="pct"), ValueError, "threshold_mode"),
    (lambda o: lr_scheduler.ReduceLROnPlateau(o, patience=-1), ValueError, "patience"),
    (lambda o: lr_scheduler.ReduceLROnPlateau(o, cooldown=1.5), ValueError, "cooldown"),
    (lambda o: lr_scheduler.ReduceLROnPlateau(o, threshold=-1e-3), ValueError, "threshold"),
    (lambda o: lr_scheduler.ReduceLROnPlateau(o, min_lr=[0.1]), ValueError, "min_lr"),
    (lambda o: lr_scheduler.ReduceLROnPlateau(o, min_lr=-0.1), ValueError, "min_lr"),
    (lambda o: lr_scheduler.ReduceLROnPlateau(object()), TypeError, "not an Optimizer"),
], ids=lambda v: v if isinstance(v, str) else None)
def test_bad_arguments_name_the_argument(make, error, match):
    opt, _ = _optimizers()
    with pytest.raises(error, match=match):
        make(opt)


def test_one_cycle_needs_momentum_to_cycle_it():
    opt = optim.Adagrad([Parameter(fw.zeros(2))], lr=0.1)
    with pytest.raises(ValueError, match="cycle_momentum"):
        lr_scheduler.OneCycleLR(opt, max_lr=1.0, total_steps=10)
    lr_scheduler.OneCycleLR(opt, max_lr=1.0, total_steps=10, cycle_momentum=False)


def test_sequential_lr_bad_arguments():
    opt, _ = _optimizers()
    other, _ = _optimizers()
    warmup = lr_scheduler.LinearLR(opt)
    decay = lr_scheduler.ExponentialLR(opt, gamma=0.9)
    with pytest.raises(ValueError, match="at least one"):
        lr_scheduler.SequentialLR(opt, [], [])
    with pytest.raises(ValueError, match="milestones"):
        lr_scheduler.SequentialLR(opt, [warmup, decay], [])
    with pytest.raises(ValueError, match="milestones"):
        lr_scheduler.SequentialLR(opt, [warmup, decay, lr_scheduler.StepLR(opt, 2)], [5, 5])
    with pytest.raises(ValueError, match="another optimizer"):
        lr_scheduler.SequentialLR(opt, [warmup, lr_scheduler.ExponentialLR(other, gamma=0.9)], [3])
    with pytest.raises(ValueError, match="ReduceLROnPlateau"):
        lr_scheduler.SequentialLR(opt, [warmup, lr_scheduler.ReduceLROnPlateau(opt)], [3])
    with pytest.raises(TypeError, match="schedulers\\[1\\]"):
        lr_scheduler.SequentialLR(opt, [warmup, object()], [3])
