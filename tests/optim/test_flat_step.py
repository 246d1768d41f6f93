"""The flat-buffer steps on ``cpu`` (Adam/AdamW and Adadelta ``_flat_update``) against the per-parameter step
and PyTorch.

A flat step runs the per-parameter formula over all of a group's parameters at once, so the two must agree
bit for bit, keep the same per-parameter state dict, and hand back to the per-parameter path what it cannot
batch (mixed dtypes, a parameter that skipped steps) without changing a number.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

import framework as fw
from framework import optim

SHAPES = [(7, 3), (7,), (13, 1, 3, 3), (1,)]


def _params(rng, dtypes=None):
    dtypes = dtypes or [np.float32] * len(SHAPES)
    return [rng.standard_normal(s).astype(d) for s, d in zip(SHAPES, dtypes)]


def _run(values, grads, kwargs, flat, skip=(), load=None):
    """Steps of Adam/AdamW over ``values`` with ``grads[step][i]``; ``skip``: (step, i) without a gradient;
    ``load``: a state dict loaded before the first step. Returns the parameters and the state dict."""
    ps = [fw.tensor(v.copy(), requires_grad=True) for v in values]
    kwargs = dict(kwargs)
    cls = optim.Adam
    for name in ("adamw", "adadelta", "sgd"):
        if kwargs.pop(name, False):
            cls = {"adamw": optim.AdamW, "adadelta": optim.Adadelta, "sgd": optim.SGD}[name]
    opt = cls(ps, **kwargs)
    if not flat:
        opt._flat_update = lambda group, items: items  # the per-parameter path only
    if load is not None:
        opt.load_state_dict(load)
    for k, step_grads in enumerate(grads):
        for i, (p, g) in enumerate(zip(ps, step_grads)):
            p.grad = None if (k, i) in skip else fw.tensor(g)
        opt.step()
    # the path under test ran: the flat step keeps its buffers on the optimizer
    assert bool(opt.__dict__.get("_flat_state")) == flat
    return [p.numpy() for p in ps], opt.state_dict()


def _same_state(a, b):
    assert a["state"].keys() == b["state"].keys()
    for i, sa in a["state"].items():
        assert list(sa) == list(b["state"][i])  # same keys, same order
        for name, va in sa.items():
            vb = b["state"][i][name]
            if isinstance(va, fw.Tensor):
                assert va.shape == vb.shape and va.dtype == vb.dtype
                np.testing.assert_array_equal(va.numpy(), vb.numpy())
            else:
                assert va == vb


@pytest.mark.parametrize("kwargs", [
    {}, {"weight_decay": 0.1}, {"amsgrad": True, "maximize": True},
    {"adamw": True, "lr": 0.05}, {"adamw": True, "amsgrad": True, "weight_decay": 0.3},
    {"adadelta": True}, {"adadelta": True, "weight_decay": 0.1, "maximize": True, "rho": 0.5},
    {"sgd": True, "lr": 0.1}, {"sgd": True, "lr": 0.1, "momentum": 0.9, "dampening": 0.2, "weight_decay": 0.1},
    {"sgd": True, "lr": 0.1, "momentum": 0.9, "nesterov": True, "maximize": True},
])
def test_flat_step_is_bitwise_the_per_parameter_step(rng, kwargs):
    values = _params(rng)
    grads = [[rng.standard_normal(s).astype(np.float32) for s in SHAPES] for _ in range(4)]
    grads[1][0][0, 0] = 0.0  # an exact zero gradient
    skip = {(1, 3), (2, 1)}  # parameters without a gradient: skipped, their step counts lag (own batches)
    flat_p, flat_s = _run(values, grads, kwargs, flat=True, skip=skip)
    each_p, each_s = _run(values, grads, kwargs, flat=False, skip=skip)
    for a, b in zip(flat_p, each_p):
        np.testing.assert_array_equal(a, b)
    _same_state(flat_s, each_s)
    if "sgd" not in kwargs:
        assert flat_s["state"][3]["step"] == 3 and flat_s["state"][0]["step"] == 4


def test_flat_step_with_mixed_dtypes_and_a_loaded_state_matches_torch(rng):
    dtypes = [np.float32, np.float64, np.float32, np.float64]
    values = _params(rng, dtypes)
    grads = [[rng.standard_normal(s).astype(d) for s, d in zip(SHAPES, dtypes)] for _ in range(4)]
    kwargs = {"lr": 0.01, "weight_decay": 0.05, "amsgrad": True}
    # torch: two steps, its state dict into kernelgrad, two more steps in each
    tp = [torch.tensor(v, dtype=torch.float64, requires_grad=True) for v in values]
    topt = torch.optim.Adam(tp, **kwargs)
    for k in range(4):
        if k == 2:
            saved = topt.state_dict()
            # torch's state_dict() holds its live state tensors: clone them before the steps that follow
            loaded = {"state": {i: {n: (v.float() if n != "step" and dtypes[i] == np.float32 else v).clone()
                                    for n, v in s.items()} for i, s in saved["state"].items()},
                      "param_groups": saved["param_groups"]}
            start = [p.detach().numpy().astype(d) for p, d in zip(tp, dtypes)]
        for p, g in zip(tp, grads[k]):
            p.grad = torch.tensor(g, dtype=torch.float64)
        topt.step()
    flat_p, flat_s = _run(start, grads[2:], kwargs, flat=True, load=loaded)
    each_p, each_s = _run(start, grads[2:], kwargs, flat=False, load=loaded)
    for a, b, ref in zip(flat_p, each_p, tp):
        np.testing.assert_array_equal(a, b)
        ref = ref.detach().numpy()
        assert np.linalg.norm(a - ref) / np.linalg.norm(ref) <= 1e-5
    _same_state(flat_s, each_s)
