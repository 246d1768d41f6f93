"""The autograd API a PyTorch script uses: ``fw.autograd.grad``, grad-mode switches (``set_grad_enabled``,
``inference_mode``, ``no_grad``/``enable_grad`` as decorators), ``Tensor.register_hook`` and the Module hooks
(forward pre/post, full backward), each compared with PyTorch in float64 where a value is involved."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import framework as fw
import framework.nn as nn
from tests.conftest import pair, rel_err

TOL = 1e-4  # float32 against the float64 reference


@pytest.fixture
def seeded():
    seed = int(np.random.SeedSequence().entropy % 2**32)
    print("seed", seed)
    return np.random.default_rng(seed)


def _graph(lib, x, w):
    """A small graph with a non-leaf used twice and a broadcast: returns (h, loss)."""
    h = lib.tanh(x * w) + x  # h: [3, 4], w broadcast along rows
    loss = (h * h).sum() + (h * w).mean()
    return h, loss


# ------------------------------------------------------------------------------------ autograd.grad


def test_grad_matches_torch_and_leaves_dot_grad_alone(device, seeded):
    x, xt = pair(seeded.standard_normal((3, 4)), device)
    w, wt = pair(seeded.standard_normal((4,)), device)
    h, loss = _graph(fw, x, w)
    ht, losst = _graph(torch, xt, wt)
    gx, gw, gh = fw.autograd.grad(loss, [x, w, h])
    rx, rw, rh = torch.autograd.grad(losst, [xt, wt, ht])
    assert rel_err(gx, rx) < TOL and rel_err(gw, rw) < TOL and rel_err(gh, rh) < TOL
    assert gx.device == device and not gx.requires_grad and gx.dtype == fw.float32
    assert x.grad is None and w.grad is None  # returned, never accumulated


def test_grad_with_grad_outputs_and_several_outputs(device, seeded):
    x, xt = pair(seeded.standard_normal((2, 5)), device)
    v = seeded.standard_normal((2, 5))
    y1, y1t = x * x, xt * xt
    y2, y2t = (x * 3).sum(), (xt * 3).sum()
    (g,) = fw.autograd.grad([y1, y2], x, grad_outputs=[fw.tensor(v.astype(np.float32), device=device), None])
    (r,) = torch.autograd.grad([y1t, y2t], xt, grad_outputs=[torch.tensor(v), None])
    assert rel_err(g, r) < TOL


def test_grad_retain_graph_and_freed_graph():
    x = fw.tensor([0.5, -1.5, 2.0], requires_grad=True)
    y = (x.exp() * x).sum()  # exp saves its output: a second pass needs retain_graph
    first = fw.autograd.grad(y, x, retain_graph=True)[0]
    second = fw.autograd.grad(y, x)[0]
    np.testing.assert_allclose(first.numpy(), second.numpy())
    np.testing.assert_allclose(first.numpy(), np.exp([0.5, -1.5, 2.0]) * (1 + np.array([0.5, -1.5, 2.0])),
                               rtol=1e-6)
    with pytest.raises(RuntimeError, match="second time"):
        fw.autograd.grad(y, x)


def test_grad_unused_inputs_and_materialize():
    x = fw.tensor([1.0, 2.0], requires_grad=True)
    unused = fw.tensor([3.0], requires_grad=True)
    y = (x * x).sum()
    with pytest.raises(RuntimeError, match="allow_unused=True"):
        fw.autograd.grad(y, [x, unused], retain_graph=True)
    gx, gu = fw.autograd.grad(y, [x, unused], retain_graph=True, allow_unused=True)
    np.testing.assert_allclose(gx.numpy(), [2.0, 4.0])
    assert gu is None
    _, gz = fw.autograd.grad(y, [x, unused], materialize_grads=True)
    np.testing.assert_array_equal(gz.numpy(), [0.0])


def test_grad_errors_are_clear():
    x = fw.tensor([1.0, 2.0], requires_grad=True)
    const = fw.tensor([1.0, 2.0])
    y = x * 2
    with pytest.raises(RuntimeError, match="input 0.*does not require grad"):
        fw.autograd.grad(y.sum(), const)
    with pytest.raises(RuntimeError, match="element 0 of the outputs does not require grad"):
        fw.autograd.grad(const.sum(), x)
    with pytest.raises(RuntimeError, match="only for scalar outputs"):
        fw.autograd.grad(y, x)
    with pytest.raises(ValueError, match=r"grad_outputs\[0\] has shape \(3,\)"):
        fw.autograd.grad(y, x, grad_outputs=fw.ones(3))
    with pytest.raises(NotImplementedError, match="create_graph"):
        fw.autograd.grad(y.sum(), x, create_graph=True)
    with pytest.raises(NotImplementedError, match="create_graph"):
        y.sum().backward(create_graph=True)
    with pytest.raises(TypeError, match="inputs must be a Tensor"):
        fw.autograd.grad(y.sum(), [x, 3.0])


def test_backward_inputs_accumulates_only_into_them(seeded):
    x, xt = pair(seeded.standard_normal((3, 4)), "cpu")
    w, wt = pair(seeded.standard_normal((4,)), "cpu")
    _, loss = _graph(fw, x, w)
    _, losst = _graph(torch, xt, wt)
    loss.backward(inputs=[w])
    losst.backward(inputs=[wt])
    assert x.grad is None and xt.grad is None
    assert rel_err(w.grad, wt.grad) < TOL

    # autograd.backward with several tensors: their gradients add up, as one backward of the sum would.
    x.grad = w.grad = None
    xt.grad = wt.grad = None
    v = seeded.standard_normal((3, 4))
    h, loss = _graph(fw, x, w)
    ht, losst = _graph(torch, xt, wt)
    fw.autograd.backward([h, loss], [fw.tensor(v.astype(np.float32)), None])
    torch.autograd.backward([ht, losst], [torch.tensor(v), None])
    assert rel_err(x.grad, xt.grad) < TOL and rel_err(w.grad, wt.grad) < TOL


def test_variable_is_a_detached_leaf_as_in_torch():
    x = fw.tensor([1.0, 2.0])
    v = fw.autograd.Variable(x, requires_grad=True)
    assert v is not x and v.is_leaf and v.requires_grad and not x.requires_grad
    (v * v).sum().backward()
    np.testing.assert_allclose(v.grad.numpy(), [2.0, 4.0])
    with fw.no_grad():
        v.mul_(3)  # shares storage with x, as torch.autograd.Variable does
    np.testing.assert_allclose(x.numpy(), [3.0, 6.0])
    with pytest.raises(TypeError, match="must be a Tensor"):
        fw.autograd.Variable([1.0])


# ------------------------------------------------------------------------------------- grad modes


def test_set_grad_enabled_call_context_and_decorator():
    x = fw.tensor([1.0], requires_grad=True)
    try:
        fw.set_grad_enabled(False)  # the plain call switches at once
        assert not fw.is_grad_enabled() and not (x * 2).requires_grad
    finally:
        fw.set_grad_enabled(True)
    assert fw.is_grad_enabled()
    with fw.set_grad_enabled(False):
        assert not (x * 2).requires_grad
        with fw.set_grad_enabled(True):
            assert (x * 2).requires_grad
        assert not fw.is_grad_enabled()
    assert fw.is_grad_enabled()

    @fw.set_grad_enabled(False)
    def f():
        return fw.is_grad_enabled()

    assert fw.is_grad_enabled()  # decorating does not switch the mode
    assert f() is False and fw.is_grad_enabled()
    with pytest.raises(TypeError, match="mode must be a bool"):
        fw.set_grad_enabled(1)


def test_inference_mode_and_decorators():
    x = fw.tensor([1.0], requires_grad=True)
    with fw.inference_mode():
        assert not (x * 2).requires_grad and fw.is_inference_mode_enabled()
    assert fw.is_grad_enabled() and not fw.is_inference_mode_enabled()
    with fw.inference_mode(False):
        assert (x * 2).requires_grad

    @fw.inference_mode
    def bare():
        return (x * 2).requires_grad

    @fw.inference_mode()
    def called():
        return (x * 2).requires_grad

    @fw.no_grad
    def no_grad_bare():
        with fw.enable_grad():
            inner = (x * 2).requires_grad
        return (x * 2).requires_grad, inner

    assert bare() is False and called() is False
    assert no_grad_bare() == (False, True)
    assert fw.is_grad_enabled()

    @fw.no_grad()
    def gen():
        for _ in range(2):
            yield fw.is_grad_enabled()  # each step runs in the mode, not only the generator's creation

    assert list(gen()) == [False, False] and fw.is_grad_enabled()


# ------------------------------------------------------------------------------------ tensor hooks


def test_register_hook_on_leaf_and_non_leaf_matches_torch(device, seeded):
    x, xt = pair(seeded.standard_normal((3, 4)), device)
    w, wt = pair(seeded.standard_normal((4,)), device)
    seen, seen_t = [], []
    results = []
    for lib, a, b, log in ((fw, x, w, seen), (torch, xt, wt, seen_t)):
        h = lib.tanh(a * b) + a
        h.retain_grad()
        h.register_hook(lambda g, log=log: log.append(g.detach().numpy().copy() if hasattr(g, "detach") else None))
        h.register_hook(lambda g: g * 3)  # replaces the gradient flowing into tanh and x
        handle = b.register_hook(lambda g: g + 1)  # a leaf: .grad gets the hooked value
        b.register_hook(lambda g: g * 0.5)  # hooks chain, in registration order
        (h * h).sum().backward()
        results.append((a.grad, b.grad, h.grad))
        handle.remove()
    (gx, gw, gh), (rx, rw, rh) = results
    assert rel_err(gx, rx) < TOL and rel_err(gw, rw) < TOL and rel_err(gh, rh) < TOL  # h.grad: after the hook
    assert rel_err(seen[0], seen_t[0]) < TOL  # the first hook saw the original gradient
    w.grad = None
    wt.grad = None
    (w * 2).sum().backward()
    (wt * 2).sum().backward()
    assert rel_err(w.grad, wt.grad) < TOL  # the removed hook no longer runs; the other still does


def test_register_hook_in_autograd_grad_and_errors():
    x = fw.tensor([1.0, 2.0], requires_grad=True)
    x.register_hook(lambda g: g * 10)
    (g,) = fw.autograd.grad((x * 3).sum(), x)
    np.testing.assert_allclose(g.numpy(), [30.0, 30.0])  # as torch: leaf hooks run before capture
    with pytest.raises(RuntimeError, match="doesn't require gradient"):
        fw.tensor([1.0]).register_hook(lambda g: g)
    y = fw.tensor([1.0, 2.0], requires_grad=True)
    y.register_hook(lambda g: g.sum())
    with pytest.raises(ValueError, match="changed the shape"):
        (y * 2).sum().backward()


# ------------------------------------------------------------------------------------ module hooks


class _TwoInputs:
    """``forward(a, b, scale, flag)``: a Linear on ``a`` plus ``b``; returns (out, out.sum(), flag)."""

    @staticmethod
    def make(lib, weight, bias):
        class Net(lib.nn.Module):
            def __init__(self):
                super().__init__()
                self.lin = lib.nn.Linear(weight.shape[1], weight.shape[0])

            def forward(self, a, b, scale, flag):
                out = lib.tanh(self.lin(a)) * scale + b
                return out, (out * out).sum(), flag

        net = Net()
        cast = (lambda v: torch.tensor(v)) if lib is torch else (lambda v: v.astype(np.float32))
        net.lin.load_state_dict({"weight": cast(weight), "bias": cast(bias)})
        return net.double() if lib is torch else net


def test_full_backward_hook_matches_torch(device, seeded):
    weight, bias = seeded.standard_normal((3, 4)), seeded.standard_normal(3)
    a_np, b_np = seeded.standard_normal((2, 4)), seeded.standard_normal((2, 3))
    results = []
    for lib in (fw, torch):
        net = _TwoInputs.make(lib, weight, bias)
        if lib is fw:
            net.to(device)
            a, _ = pair(a_np, device)
            b, _ = pair(b_np, device, requires_grad=False)
        else:
            _, a = pair(a_np, "cpu")
            _, b = pair(b_np, "cpu", requires_grad=False)
        record = {}

        def hook(module, grad_input, grad_output, record=record):
            record["in"], record["out"] = grad_input, grad_output
            return (grad_input[0] * 2,) + grad_input[1:]  # doubles the gradient reaching `a`

        def pre_hook(module, grad_output, record=record):
            record["pre"] = grad_output
            return (grad_output[0] * -1.0, grad_output[1], None)

        handles = [net.register_full_backward_hook(hook), net.register_full_backward_pre_hook(pre_hook)]
        out, total, flag = net(a, b, 0.5, "flag")
        assert flag == "flag"
        (out.sum() * 3 + total).backward()
        results.append((record, a.grad, net.lin.weight.grad))
        for h in handles:
            h.remove()
        net.zero_grad()
        a.grad = None
        out, total, _ = net(a, b, 0.5, "flag")
        total.backward()  # hooks removed: plain gradients again
        results.append((None, a.grad, net.lin.weight.grad))
    (rec, ga, gw), (_, ga2, gw2), (rec_t, ga_t, gw_t), (_, ga2_t, gw2_t) = results
    assert len(rec["in"]) == 4 and rec["in"][1] is None and rec["in"][2] is None and rec["in"][3] is None
    assert len(rec["out"]) == 3 and rec["out"][2] is None and rec["pre"][2] is None
    assert rel_err(rec["in"][0], rec_t["in"][0]) < TOL
    assert rel_err(rec["out"][0], rec_t["out"][0]) < TOL and rel_err(rec["out"][1], rec_t["out"][1]) < TOL
    assert rel_err(rec["pre"][0], rec_t["pre"][0]) < TOL
    assert rel_err(ga, ga_t) < TOL and rel_err(gw, gw_t) < TOL
    assert rel_err(ga2, ga2_t) < TOL and rel_err(gw2, gw2_t) < TOL


def test_full_backward_hook_without_input_grads_and_bad_return():
    net = nn.Linear(3, 2)
    calls = []
    net.register_full_backward_hook(lambda m, gi, go: calls.append((gi, go)))
    net(fw.ones(4, 3)).sum().backward()  # the input does not require grad: the hook still runs
    assert len(calls) == 1 and calls[0][0] == (None,)
    np.testing.assert_array_equal(calls[0][1][0].numpy(), np.ones((4, 2)))
    bad = nn.Linear(3, 2)
    bad.register_full_backward_hook(lambda m, gi, go: (gi[0], gi[0]))
    with pytest.raises(ValueError, match="returned 2 grad_input gradients, expected 1"):
        bad(fw.ones(4, 3, requires_grad=True)).sum().backward()
    bare = nn.Linear(3, 2)
    bare.register_full_backward_hook(lambda m, gi, go: gi[0])  # PyTorch wants a tuple too
    with pytest.raises(TypeError, match="must return None or a tuple"):
        bare(fw.ones(4, 3, requires_grad=True)).sum().backward()
    with pytest.raises(NotImplementedError, match="register_full_backward_hook"):
        bad.register_backward_hook(lambda *a: None)


def test_full_backward_hook_refuses_in_place_writes_to_its_inputs():
    """As PyTorch: with backward hooks, the module sees its inputs through an identity whose outputs are views;
    writing into one in place would change a value backward may need, so it raises."""

    class AddsInPlace(nn.Module):
        def forward(self, x):
            x.add_(1)
            return x * 2

    module = AddsInPlace()
    module.register_full_backward_hook(lambda *args: None)
    with pytest.raises(RuntimeError, match="in-place"):
        module(fw.ones(3, requires_grad=True) * 1)


def test_forward_hooks_order_kwargs_replacement_and_removal():
    net = nn.Linear(2, 2)
    fw.nn.init.ones_(net.weight)
    fw.nn.init.zeros_(net.bias)
    order = []
    h1 = net.register_forward_pre_hook(lambda m, args: (order.append("pre1"), (args[0] * 2,))[1])
    net.register_forward_pre_hook(lambda m, args: order.append("pre0"), prepend=True)
    net.register_forward_hook(lambda m, args, out: out + 1)
    h4 = net.register_forward_hook(lambda m, args, kwargs, out: (order.append(sorted(kwargs)), out * 10)[1],
                                   with_kwargs=True)
    out = net(fw.tensor([[1.0, 2.0]]))
    np.testing.assert_allclose(out.numpy(), [[70.0, 70.0]])  # ((x*2) @ 1 + 1) * 10
    assert order == ["pre0", "pre1", []]
    h1.remove()
    h4.remove()
    np.testing.assert_allclose(net(fw.tensor([[1.0, 2.0]])).numpy(), [[4.0, 4.0]])


def test_forward_hook_always_call_runs_when_forward_raises():
    net = nn.Linear(2, 2)
    seen = []
    net.register_forward_hook(lambda m, args, out: seen.append(out), always_call=True)
    with pytest.raises(ValueError):
        net(fw.ones(3, 5))
    assert seen == [None]


def test_hooks_on_sequential_children_fire_inside_the_fused_pair(seeded):
    """Sequential fuses Linear+ReLU into one call; a hooked Linear or ReLU must still see its own call."""
    weight, bias = seeded.standard_normal((3, 4)), seeded.standard_normal(3)
    x_np = seeded.standard_normal((5, 4))
    outs = []
    for lib in (fw, torch):
        seq = lib.nn.Sequential(lib.nn.Linear(4, 3), lib.nn.ReLU())
        cast = (lambda v: torch.tensor(v)) if lib is torch else (lambda v: v.astype(np.float32))
        seq[0].load_state_dict({"weight": cast(weight), "bias": cast(bias)})
        if lib is torch:
            seq.double()
        seen = {}
        seq[0].register_forward_hook(lambda m, args, out, seen=seen: seen.update(linear=out))
        seq[1].register_full_backward_hook(lambda m, gi, go, seen=seen: seen.update(relu_gi=gi[0]))
        x = pair(x_np, "cpu")[0 if lib is fw else 1]
        (seq(x) * 2).sum().backward()
        outs.append((seen, x.grad))
    (seen, gx), (seen_t, gx_t) = outs
    assert rel_err(seen["linear"], seen_t["linear"]) < TOL
    assert rel_err(seen["relu_gi"], seen_t["relu_gi"]) < TOL and rel_err(gx, gx_t) < TOL


def test_nested_module_hooks_order_and_values_match_torch(seeded):
    """Hooks on a Sequential and on each child: the same call order as PyTorch, and each hook's doubling of
    grad_input compounds through the chain exactly as there."""
    w1, w2 = seeded.standard_normal((4, 3)), seeded.standard_normal((2, 4))
    x_np = seeded.standard_normal((5, 3))
    runs = []
    for lib in (fw, torch):
        seq = lib.nn.Sequential(lib.nn.Linear(3, 4, bias=False), lib.nn.Tanh(), lib.nn.Linear(4, 2, bias=False))
        cast = (lambda v: torch.tensor(v)) if lib is torch else (lambda v: v.astype(np.float32))
        seq[0].load_state_dict({"weight": cast(w1)})
        seq[2].load_state_dict({"weight": cast(w2)})
        if lib is torch:
            seq.double()
        log = []
        for name, m in (("outer", seq), ("l0", seq[0]), ("tanh", seq[1]), ("l2", seq[2])):
            m.register_full_backward_pre_hook(lambda m, go, name=name, log=log: log.append(("pre", name)))
            m.register_full_backward_hook(
                lambda m, gi, go, name=name, log=log: (log.append(("hook", name)), (gi[0] * 2,))[1])
        x = pair(x_np, "cpu")[0 if lib is fw else 1]
        y = seq(x)
        (y * y).sum().backward()
        runs.append((log, x.grad, seq[0].weight.grad))
    (log, gx, gw), (log_t, gx_t, gw_t) = runs
    assert log == log_t
    assert rel_err(gx, gx_t) < TOL and rel_err(gw, gw_t) < TOL
