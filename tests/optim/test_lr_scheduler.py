"""framework.optim.lr_scheduler against torch.optim.lr_scheduler: the same lr sequence, step for step."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import framework as fw
from framework import optim
from framework.nn import Parameter
from framework.optim import lr_scheduler

CASES = [
    ("StepLR", dict(step_size=3, gamma=0.5)),
    ("StepLR", dict(step_size=1)),
    ("CosineAnnealingLR", dict(T_max=5, eta_min=0.01)),
    ("CosineAnnealingLR", dict(T_max=7)),
]


def _optimizers(lrs=(0.1, 0.03)):
    """Ours and torch's SGD with one param group per lr."""
    ours = optim.SGD([{"params": [Parameter(fw.zeros(2))], "lr": lr} for lr in lrs], momentum=0.9)
    theirs = torch.optim.SGD([{"params": [torch.zeros(2, requires_grad=True)], "lr": lr} for lr in lrs],
                             momentum=0.9)
    return ours, theirs


@pytest.mark.parametrize("name, kwargs", CASES, ids=[f"{n}-{sorted(k.items())}" for n, k in CASES])
def test_lr_sequence_matches_torch(name, kwargs):
    our_opt, their_opt = _optimizers()
    ours = getattr(lr_scheduler, name)(our_opt, **kwargs)
    theirs = getattr(torch.optim.lr_scheduler, name)(their_opt, **kwargs)
    assert ours.get_last_lr() == pytest.approx(theirs.get_last_lr(), rel=1e-12)
    seen = set()
    for _ in range(25):  # well past T_max: the cosine's periodic branch runs too
        our_opt.step()
        their_opt.step()
        ours.step()
        theirs.step()
        assert ours.get_last_lr() == pytest.approx(theirs.get_last_lr(), rel=1e-12, abs=1e-15)
        assert [g["lr"] for g in our_opt.param_groups] == ours.get_last_lr()
        seen.add(round(ours.get_last_lr()[0], 12))
    assert len(seen) > 2, "the schedule never changed the lr"


def test_cosine_reaches_eta_min_at_t_max():
    opt, _ = _optimizers(lrs=(0.1,))
    sched = lr_scheduler.CosineAnnealingLR(opt, T_max=4, eta_min=0.001)
    for _ in range(4):
        sched.step()
    assert sched.get_last_lr()[0] == pytest.approx(0.001)


@pytest.mark.parametrize("name, kwargs", CASES[::2], ids=[n for n, _ in CASES[::2]])
def test_state_dict_round_trip_continues_identically(name, kwargs):
    opt, _ = _optimizers()
    sched = getattr(lr_scheduler, name)(opt, **kwargs)
    for _ in range(4):
        opt.step()
        sched.step()
    opt2, _ = _optimizers(lrs=(9.0, 9.0))
    sched2 = getattr(lr_scheduler, name)(opt2, **{k: (v + 1 if isinstance(v, int) else v) for k, v in kwargs.items()})
    opt2.load_state_dict(opt.state_dict())
    sched2.load_state_dict(sched.state_dict())
    assert "optimizer" not in sched.state_dict()
    for _ in range(10):
        sched.step()
        sched2.step()
        np.testing.assert_allclose(sched2.get_last_lr(), sched.get_last_lr(), rtol=1e-15)


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
