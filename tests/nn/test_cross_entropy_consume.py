"""``F.cross_entropy(..., consume_input=True)`` / ``nn.CrossEntropyLoss(consume_input=True)``: the gradient written over
the logits' storage (docs/ladder/softmax_xent.md, "The in-place gradient").

On every device: the loss and every gradient equal the normal path's bit for bit and torch's in float64; the logits'
storage really holds the gradient afterwards; the consumed logits raise on every read while backward passes through
them once; each case where something else could read the logits is refused before anything is written (the logits
unchanged, their version too); without a gradient to compute nothing is consumed; the default changes nothing.
"""

from __future__ import annotations

import weakref

import numpy as np
import pytest
import torch

import framework as fw
from tests.conftest import rel_err

F = fw.nn.functional
M, K, V = 6, 4, 7
TARGET = np.array([1, -100, 6, 0, 3, 2])


def _model(device: str, rng) -> tuple[fw.Tensor, fw.nn.Linear, np.ndarray, np.ndarray]:
    """x[M, K] (requires grad) and a Linear(K, V) in float64 with fresh weights; the numpy values of both."""
    X, W = rng.standard_normal((M, K)), rng.standard_normal((V, K))
    x = fw.tensor(X, dtype="float64", device=device, requires_grad=True)
    lin = fw.nn.Linear(K, V, bias=False).to(device=device, dtype="float64")
    with fw.no_grad():
        lin.weight.copy_(fw.tensor(W, dtype="float64", device=device))
    return x, lin, X, W


def _target(device: str) -> fw.Tensor:
    return fw.tensor(TARGET, device=device)


def _torch_grads(X, W, grad_output=1.0):
    x = torch.tensor(X, requires_grad=True)
    w = torch.tensor(W, requires_grad=True)
    loss = torch.nn.functional.cross_entropy(x @ w.T, torch.tensor(TARGET))
    loss.backward(torch.tensor(grad_output, dtype=torch.float64))
    return loss.detach().numpy(), x.grad.numpy(), w.grad.numpy()


@pytest.mark.parametrize("grad_output", [1.0, -2.5])
def test_values_and_gradients_equal_the_normal_path_and_torch(device, rng, grad_output):
    results = []
    for consume in (False, True):
        x, lin, X, W = _model(device, np.random.default_rng(0))
        logits = lin(x)
        storage = weakref.ref(logits._data)  # a weak reference: it must not count as another reader
        loss = F.cross_entropy(logits, _target(device), consume_input=consume)
        if consume:
            assert storage() is fw.Tensor.__dict__["_data"].__get__(logits)  # the consumed tensor keeps the array
            dlogits = fw.from_dlpack(storage()).numpy().copy()  # the gradient, written over the logits
        loss.backward(fw.tensor(grad_output, dtype="float64", device=device))
        results.append((loss.item(), x.grad.numpy(), lin.weight.grad.numpy()))
    (l0, gx0, gw0), (l1, gx1, gw1) = results
    assert l0 == l1 and np.array_equal(gx0, gx1) and np.array_equal(gw0, gw1)
    ref_loss, ref_gx, ref_gw = _torch_grads(X, W, grad_output)
    assert rel_err(l1, ref_loss) <= 1e-12 and rel_err(gx1, ref_gx) <= 1e-12 and rel_err(gw1, ref_gw) <= 1e-12
    xt = torch.tensor(X @ W.T, requires_grad=True)
    (ref_dlogits,) = torch.autograd.grad(torch.nn.functional.cross_entropy(xt, torch.tensor(TARGET)), xt)
    assert rel_err(dlogits, ref_dlogits.numpy()) <= 1e-12


def test_consumed_logits_raise_on_every_read(device, rng):
    x, lin, _, _ = _model(device, rng)
    logits = lin(x)
    version = logits._version
    loss = F.cross_entropy(logits, _target(device), consume_input=True)
    assert logits._version == version + 1
    reads = {"numpy": lambda: logits.numpy(), "op": lambda: logits + 1, "sum": lambda: logits.sum(),
             "index": lambda: logits[0], "detach": lambda: logits.detach(), ".data": lambda: logits.data,
             "in-place": lambda: logits.zero_(), "tolist": lambda: logits.tolist(),
             "dlpack": lambda: logits.__dlpack__(),
             "retain_grad": lambda: logits.retain_grad(), "hook": lambda: logits.register_hook(lambda g: g),
             "again": lambda: F.cross_entropy(logits, _target(device))}
    for name, read in reads.items():
        with pytest.raises(RuntimeError, match="consumed by cross_entropy"):
            read()
            pytest.fail(name)
    assert logits.shape == (M, V) and logits.dtype == fw.float64 and logits.device == device and logits.ndim == 2
    assert logits.requires_grad and not logits.is_leaf and "consumed" in repr(logits)
    loss.backward()
    assert x.grad is not None and lin.weight.grad is not None
    with pytest.raises(RuntimeError, match="consumed"):
        logits.numpy()


def test_a_second_backward_raises(device, rng):
    x, lin, _, _ = _model(device, rng)
    loss = F.cross_entropy(lin(x), _target(device), consume_input=True)
    loss.backward(retain_graph=True)
    with pytest.raises(RuntimeError, match="second time"):
        loss.backward()


def _refusal_cases(device):
    """name -> (build(x, lin) -> (logits, keep-alive), reason regex)."""
    return {
        "leaf": (lambda x, lin: (fw.randn(M, V, dtype="float64", device=device, requires_grad=True), None), "leaf"),
        "retain_grad": (lambda x, lin: _with(lin(x), lambda t: t.retain_grad()), "retain_grad"),
        "hook": (lambda x, lin: _with(lin(x), lambda t: t.register_hook(lambda g: g)), "hook"),
        "view": (lambda x, lin: (lin(x).reshape(M, V), None), "share storage"),
        "alias alive": (lambda x, lin: _keep(lin(x), lambda t: t.detach()), "shares their storage"),
        "recorded consumer": (lambda x, lin: _keep(lin(x), lambda t: (t * 2).sum()), "referenced elsewhere"),
        "producer saved it": (lambda x, lin: (lin(x).exp(), None), "referenced elsewhere"),
        "exported": (lambda x, lin: _keep(lin(x), lambda t: torch.from_dlpack(t)), "referenced elsewhere"),
    }


def _with(t, fn):
    fn(t)
    return t, None


def _keep(t, fn):
    return t, fn(t)


@pytest.mark.parametrize("case", list(_refusal_cases("cpu")))
def test_refused_when_something_else_may_read_the_logits(device, rng, case):
    """Refused before anything is written: RuntimeError naming why, the logits intact and readable."""
    build, reason = _refusal_cases(device)[case]
    x, lin, _, _ = _model(device, rng)
    logits, keep = build(x, lin)
    before, version = logits.detach().numpy().copy(), logits._version
    with pytest.raises(RuntimeError, match=f"cannot be consumed: .*{reason}"):
        F.cross_entropy(logits, _target(device), consume_input=True)
    assert logits._version == version and np.array_equal(logits.detach().numpy(), before)
    del keep
    F.cross_entropy(logits, _target(device)).backward()  # the normal path still works on them


def test_bad_calls_raise_before_anything_is_written(device, rng):
    x, lin, _, _ = _model(device, rng)
    logits = lin(x)
    t = _target(device)
    with pytest.raises(TypeError, match="consume_input must be a bool"):
        F.cross_entropy(logits, t, consume_input=1)
    for kwargs in ({"reduction": "sum"}, {"label_smoothing": 0.1}, {"weight": fw.ones(V, dtype="float64",
                                                                                         device=device)}):
        with pytest.raises(ValueError, match="consume_input=True. needs class-index targets"):
            F.cross_entropy(logits, t, consume_input=True, **kwargs)
    with pytest.raises(ValueError, match=r"\[N, C\]"):
        F.cross_entropy(logits.reshape(M, V, 1), t.reshape(M, 1), consume_input=True)
    assert logits._version == 0
    logits.numpy()


def test_nothing_is_consumed_without_a_gradient(device, rng):
    x, lin, _, _ = _model(device, rng)
    logits = lin(x)
    expected = F.cross_entropy(logits, _target(device)).item()
    with fw.no_grad():
        assert F.cross_entropy(logits, _target(device), consume_input=True).item() == expected
    frozen = logits.detach()
    assert F.cross_entropy(frozen, _target(device), consume_input=True).item() == expected
    assert logits._version == 0 and np.array_equal(logits.detach().numpy(), frozen.numpy())


def test_the_loss_module_option_and_the_default(device, rng):
    x, lin, _, _ = _model(device, rng)
    plain, consuming = fw.nn.CrossEntropyLoss(), fw.nn.CrossEntropyLoss(consume_input=True)
    assert "consume_input" not in repr(plain) and "consume_input=True" in repr(consuming)
    logits = lin(x)
    plain(logits, _target(device)).backward()
    logits.numpy()  # the default consumes nothing: torch's behaviour
    grad = lin.weight.grad.numpy().copy()
    lin.weight.grad = None
    logits = lin(x)
    consuming(logits, _target(device)).backward()
    assert np.array_equal(lin.weight.grad.numpy(), grad)
    with pytest.raises(RuntimeError, match="consumed"):
        logits.numpy()
    with pytest.raises(TypeError, match="consume_input"):
        fw.nn.CrossEntropyLoss(consume_input="yes")
