"""Post-accumulate-grad hooks and engine callbacks (what DistributedDataParallel is built on), against torch."""

import numpy as np
import pytest
import torch

import framework as fw
from framework import autograd


def _pair(seed):
    rng = np.random.default_rng(seed)
    w = rng.standard_normal((3, 4))
    b = rng.standard_normal(4)
    x = rng.standard_normal((5, 3))
    return w, b, x


def test_post_accumulate_hook_sees_the_complete_gradient_in_torchs_order(test_seed):
    w0, b0, x0 = _pair(test_seed)
    ours, theirs = [], []
    w, b = fw.tensor(w0, requires_grad=True), fw.tensor(b0, requires_grad=True)
    tw, tb = torch.tensor(w0, requires_grad=True), torch.tensor(b0, requires_grad=True)
    for t, log, name in ((w, ours, "w"), (b, ours, "b"), (tw, theirs, "w"), (tb, theirs, "b")):
        t.register_post_accumulate_grad_hook(lambda p, log=log, name=name: log.append((name, p.grad.numpy().copy())))
    x = fw.tensor(x0)
    # b is used twice: its hook must run once, after both contributions are in
    ((x @ w + b).relu().sum() + (b * b).sum()).backward()
    tx = torch.tensor(x0)
    ((tx @ tw + tb).relu().sum() + (tb * tb).sum()).backward()
    assert sorted(n for n, _ in ours) == sorted(n for n, _ in theirs) == ["b", "w"]  # once each
    got, ref = dict(ours), dict(theirs)
    for name in ("w", "b"):
        np.testing.assert_allclose(got[name], ref[name], rtol=1e-12)


def test_post_accumulate_hook_accumulates_across_backwards_and_removes(test_seed):
    w0, _, x0 = _pair(test_seed)
    w = fw.tensor(w0, requires_grad=True)
    seen = []
    handle = w.register_post_accumulate_grad_hook(lambda p: seen.append(p.grad.numpy().copy()))
    x = fw.tensor(x0)
    (x @ w).sum().backward()
    (x @ w).sum().backward()
    assert len(seen) == 2
    np.testing.assert_allclose(seen[1], 2 * seen[0])
    handle.remove()
    (x @ w).sum().backward()
    assert len(seen) == 2


def test_post_accumulate_hook_runs_for_backward_inputs_not_for_grad(test_seed):
    w0, _, x0 = _pair(test_seed)
    w = fw.tensor(w0, requires_grad=True)
    calls = []
    w.register_post_accumulate_grad_hook(lambda p: calls.append(1))
    x = fw.tensor(x0)
    fw.autograd.grad((x @ w).sum(), w)
    assert calls == [] and w.grad is None
    (x @ w).sum().backward(inputs=[w])
    assert calls == [1]


def test_post_accumulate_hook_errors():
    w = fw.ones(2, requires_grad=True)
    with pytest.raises(RuntimeError, match="non-leaf"):
        (w * 2).register_post_accumulate_grad_hook(lambda p: None)
    with pytest.raises(RuntimeError, match="doesn't require gradient"):
        fw.ones(2).register_post_accumulate_grad_hook(lambda p: None)
    with pytest.raises(TypeError, match="callable"):
        w.register_post_accumulate_grad_hook(3)


def test_queue_callback_runs_once_after_every_gradient_is_in():
    a = fw.ones(3, requires_grad=True)
    b = fw.ones(3, requires_grad=True)
    events = []

    def hook(p):
        events.append("hook")
        if events.count("hook") == 1:
            autograd.Variable._execution_engine.queue_callback(
                lambda: events.append(("done", a.grad is not None and b.grad is not None)))
            autograd.queue_callback(lambda: autograd.queue_callback(lambda: events.append("nested")))

    a.register_post_accumulate_grad_hook(hook)
    b.register_post_accumulate_grad_hook(hook)
    ((a * 2).sum() + (b * 3).sum()).backward()
    assert events == ["hook", "hook", ("done", True), "nested"]
    events.clear()
    (a * b).sum().backward()  # a fresh pass: the queue is per pass
    assert events.count(("done", True)) == 1


def test_queue_callback_outside_backward_and_after_a_failed_pass():
    with pytest.raises(RuntimeError, match="no backward pass"):
        autograd.queue_callback(lambda: None)
    a = fw.ones(3, requires_grad=True)
    ran = []

    def hook(p):
        autograd.queue_callback(lambda: ran.append(1))
        raise ValueError("boom")

    a.register_post_accumulate_grad_hook(hook)
    with pytest.raises(ValueError, match="boom"):
        (a * 2).sum().backward()
    assert ran == []
    with pytest.raises(RuntimeError, match="no backward pass"):  # the failed pass left no queue behind
        autograd.queue_callback(lambda: None)
