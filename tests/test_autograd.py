"""The autograd engine and the generic ops, against torch.autograd in float64."""

from __future__ import annotations

import dataclasses

import array_api_compat
import numpy as np
import pytest
import torch

import framework as fw
from framework import backend as backend_module

from .conftest import pair, rel_err


def _compare(ours_out, ref_out, ours_leaves, ref_leaves, tol=1e-4):
    assert rel_err(ours_out, ref_out) < tol
    for a, b in zip(ours_leaves, ref_leaves):
        assert a.grad is not None, "missing gradient"
        assert rel_err(a.grad, b.grad) < tol


def test_elementwise_chain_matches_torch(device, rng):
    xa, xb = 0.3 * rng.standard_normal((3, 5)), 0.3 * rng.standard_normal((5,))
    a, ta = pair(xa, device)
    b, tb = pair(xb, device)
    out = (((a * b + a / (b.abs() + 1)) - b).exp().sum(dim=1) / 3).tanh().mean()
    ref = (((ta * tb + ta / (tb.abs() + 1)) - tb).exp().sum(dim=1) / 3).tanh().mean()
    out.backward()
    ref.backward()
    _compare(out, ref, [a, b], [ta, tb])


def test_unary_ops_match_torch(device, rng):
    x = rng.uniform(0.2, 2.0, (4, 3))
    a, ta = pair(x, device)
    out = a.log() + a.sqrt() + a.sigmoid() * 2 + a.relu() + (a**1.5) + (2.0**a) + a.clamp(0.5, 1.5)
    ref = ta.log() + ta.sqrt() + ta.sigmoid() * 2 + ta.relu() + (ta**1.5) + (2.0**ta) + ta.clamp(0.5, 1.5)
    out.sum().backward()
    ref.sum().backward()
    _compare(out, ref, [a], [ta])


def test_sigmoid_is_stable_at_extremes(device):
    a = fw.tensor([-1e4, -50.0, 0.0, 50.0, 1e4], device=device)
    out = a.sigmoid().numpy()
    assert np.all(np.isfinite(out))
    np.testing.assert_allclose(out, [0.0, 1.9287e-22, 0.5, 1.0, 1.0], rtol=1e-3, atol=0)


def test_broadcasting_gradients_are_unbroadcast(device, rng):
    a, ta = pair(rng.standard_normal((2, 1, 4)), device)
    b, tb = pair(rng.standard_normal((3, 1)), device)
    c, tc = pair(rng.standard_normal((4,)), device)
    out = (a * b + c) ** 2
    ref = (ta * tb + tc) ** 2
    out.sum().backward()
    ref.sum().backward()
    _compare(out, ref, [a, b, c], [ta, tb, tc])
    assert a.grad.shape == (2, 1, 4) and b.grad.shape == (3, 1) and c.grad.shape == (4,)


def test_value_reused_in_graph_accumulates(device, rng):
    a, ta = pair(rng.standard_normal((3,)), device)
    y = a * a
    out = (y + y * a + y.exp()).sum()
    ty = ta * ta
    ref = (ty + ty * ta + ty.exp()).sum()
    out.backward()
    ref.backward()
    _compare(out, ref, [a], [ta])


def test_matmul_shapes_and_grads(device, rng):
    for shape_a, shape_b in [((3, 4), (4, 5)), ((2, 3, 4), (4, 2)), ((4,), (4, 3)), ((3, 4), (4,)),
                             ((2, 1, 3, 4), (5, 4, 2))]:
        a, ta = pair(rng.standard_normal(shape_a), device)
        b, tb = pair(rng.standard_normal(shape_b), device)
        out, ref = a @ b, ta @ tb
        (out * out).sum().backward()
        (ref * ref).sum().backward()
        _compare(out, ref, [a, b], [ta, tb])


def test_reductions_and_shape_ops(device, rng):
    a, ta = pair(rng.standard_normal((2, 3, 4)), device)
    out = (a.sum(dim=(0, 2), keepdim=True) * a).mean(dim=1).reshape(8).flatten()
    out = out + a.transpose(0, 2).permute(1, 0, 2).reshape(-1)[:8] + a.T.reshape(-1)[::3]
    out = out + a.amax(dim=-1).reshape(-1).unsqueeze(0).squeeze().sum()
    ref = (ta.sum(dim=(0, 2), keepdim=True) * ta).mean(dim=1).reshape(8).flatten()
    ref = ref + ta.transpose(0, 2).permute(1, 0, 2).reshape(-1)[:8] + ta.permute(2, 1, 0).reshape(-1)[::3]
    ref = ref + ta.amax(dim=-1).reshape(-1).unsqueeze(0).squeeze().sum()
    (out * out).sum().backward()
    (ref * ref).sum().backward()
    _compare(out, ref, [a], [ta])


def test_numpy_style_axis_keepdims_aliases(device, rng):
    x = rng.standard_normal((3, 4))
    a = fw.tensor(x, device=device)
    np.testing.assert_allclose(a.sum(axis=1, keepdims=True).numpy(), x.sum(1, keepdims=True), rtol=1e-6)
    np.testing.assert_allclose(a.max(axis=0).numpy(), x.max(0), rtol=1e-6)
    np.testing.assert_allclose(a.mean(axis=(0, 1)).numpy(), x.mean(), rtol=1e-6)


def test_max_with_dim_returns_values_and_indices_like_torch(device, rng):
    a, ta = pair(rng.standard_normal((4, 5)), device)
    values, indices = a.max(dim=1)
    t_values, t_indices = ta.max(dim=1)
    assert np.array_equal(indices.numpy(), t_indices.numpy())
    (values * 3).sum().backward()
    (t_values * 3).sum().backward()
    _compare(values, t_values, [a], [ta])


def test_indexing_with_repeated_indices_accumulates(device, rng):
    a, ta = pair(rng.standard_normal((5, 3)), device)
    idx = [0, 2, 2, 4, 0]
    out = a[idx] * 2 + a[1:4, [0, 0]].sum()
    ref = ta[idx] * 2 + ta[1:4, [0, 0]].sum()
    out.sum().backward()
    ref.sum().backward()
    _compare(out, ref, [a], [ta])


def test_cat_stack_split_where(device, rng):
    a, ta = pair(rng.standard_normal((2, 3)), device)
    b, tb = pair(rng.standard_normal((2, 2)), device)
    c = fw.cat([a, b], dim=1)
    tcat = torch.cat([ta, tb], dim=1)
    s = fw.stack([c, c * 2], dim=0)
    ts = torch.stack([tcat, tcat * 2], dim=0)
    parts = s.split(2, dim=2)
    tparts = ts.split(2, dim=2)
    out = fw.where(parts[0] > 0, parts[0], parts[1][..., :2] * 3).sum() + parts[2].sum()
    ref = torch.where(tparts[0] > 0, tparts[0], tparts[1][..., :2] * 3).sum() + tparts[2].sum()
    out.backward()
    ref.backward()
    _compare(out, ref, [a, b], [ta, tb])


def test_backward_twice_needs_retain_graph(device):
    x = fw.tensor([1.0, 2.0, 3.0], device=device, requires_grad=True)
    y = (x * x).sum()
    y.backward(retain_graph=True)
    np.testing.assert_allclose(x.grad.numpy(), [2, 4, 6])
    y.backward()  # the graph was retained: gradients accumulate
    np.testing.assert_allclose(x.grad.numpy(), [4, 8, 12])
    with pytest.raises(RuntimeError, match="second time"):
        y.backward()


def test_backward_of_non_scalar_needs_grad_argument(device):
    x = fw.tensor([1.0, 2.0], device=device, requires_grad=True)
    y = x * 3
    with pytest.raises(RuntimeError, match="scalar"):
        y.backward()
    y.backward(fw.tensor([1.0, -1.0], device=device))
    np.testing.assert_allclose(x.grad.numpy(), [3.0, -3.0])


def test_thousand_step_chain_has_no_recursion_limit(device):
    h0 = fw.tensor([0.3, -0.2], device=device, requires_grad=True)
    th0 = torch.tensor([0.3, -0.2], dtype=torch.float64, requires_grad=True)
    h, th = h0, th0
    for _ in range(1000):
        h = (h * 0.9).tanh() + h0 * 0.01
        th = (th * 0.9).tanh() + th0 * 0.01
    h.sum().backward()
    th.sum().backward()
    assert rel_err(h0.grad, th0.grad) < 1e-4


def test_nothing_recorded_under_no_grad_or_without_grad_inputs(device):
    x = fw.tensor([1.0, 2.0], device=device, requires_grad=True)
    with fw.no_grad():
        y = x * 2
    assert not y.requires_grad and y.grad_fn is None
    z = fw.tensor([1.0, 2.0], device=device) * 2
    assert not z.requires_grad and z.grad_fn is None
    w = x * 2
    assert w.requires_grad and w.grad_fn is not None

    @fw.no_grad()
    def f(t):
        return t * 3

    assert f(x).grad_fn is None
    assert fw.is_grad_enabled()


def test_graph_is_freed_after_backward(device):
    x = fw.tensor([1.0, 2.0], device=device, requires_grad=True)
    y = x.exp()
    loss = y.sum()
    loss.backward()
    assert y.grad_fn.freed and y.grad_fn.saved_tensors == ()


def test_detach_and_retain_grad(device):
    x = fw.tensor([1.0, 2.0], device=device, requires_grad=True)
    y = x * 2
    y.retain_grad()
    z = (y * y.detach()).sum()
    z.backward()
    np.testing.assert_allclose(y.grad.numpy(), [2.0, 4.0])
    np.testing.assert_allclose(x.grad.numpy(), [4.0, 8.0])  # the detached factor is a constant


def test_mixing_devices_raises(monkeypatch):
    cpu = fw.get_backend("cpu")
    monkeypatch.setitem(backend_module._LOADERS, "cpu2", lambda: dataclasses.replace(cpu, name="cpu2"))
    monkeypatch.delitem(backend_module._LOADED, "cpu2", raising=False)
    a = fw.tensor([1.0, 2.0], device="cpu")
    b = fw.tensor([1.0, 2.0], device="cpu2")
    with pytest.raises(ValueError, match=r"one device.*'cpu2'.*'cpu'"):
        a + b
    moved = b.to("cpu")
    np.testing.assert_allclose((a + moved).numpy(), [2.0, 4.0])
    backend_module._LOADED.pop("cpu2", None)


def test_to_device_is_differentiable(monkeypatch):
    cpu = fw.get_backend("cpu")
    monkeypatch.setitem(backend_module._LOADERS, "cpu2", lambda: dataclasses.replace(cpu, name="cpu2"))
    x = fw.tensor([1.0, 2.0], requires_grad=True)
    y = (x.to("cpu2") * 3).sum()
    y.backward()
    assert y.device == "cpu2"
    np.testing.assert_allclose(x.grad.numpy(), [3.0, 3.0])
    backend_module._LOADED.pop("cpu2", None)


def test_unknown_and_missing_devices_raise_clearly():
    with pytest.raises(ValueError, match="unknown device 'tpu'"):
        fw.tensor([1.0], device="tpu")
    if "cuda" not in fw.available_devices():
        with pytest.raises(RuntimeError, match="no GPU backend"):
            fw.tensor([1.0], device="cuda")


def test_tensor_creation_defaults_like_torch():
    assert fw.tensor([1.0, 2.0]).dtype == fw.float32
    assert fw.tensor([1, 2]).dtype == fw.int64
    assert fw.tensor(np.zeros(3)).dtype == fw.float64  # numpy arrays keep their dtype
    assert fw.zeros(2, 3).shape == (2, 3) and fw.ones((4,)).numpy().sum() == 4
    fw.manual_seed(3)
    a = fw.randn(5)
    fw.manual_seed(3)
    assert np.array_equal(a.numpy(), fw.randn(5).numpy())
    with pytest.raises(TypeError, match="floating-point"):
        fw.tensor([1, 2], requires_grad=True)


def test_float64_gradient_matches_finite_differences(rng):
    x = rng.standard_normal((3, 4))
    a = fw.tensor(x, dtype=fw.float64, requires_grad=True)

    def f(t):
        return ((t.tanh() @ t.T).sigmoid() * t.sum(dim=0, keepdim=True)[:, :3]).sum()

    f(a).backward()
    eps, numeric = 1e-6, np.zeros_like(x)
    for i in np.ndindex(x.shape):
        xp, xm = x.copy(), x.copy()
        xp[i] += eps
        xm[i] -= eps
        numeric[i] = (f(fw.tensor(xp, dtype=fw.float64)).item() - f(fw.tensor(xm, dtype=fw.float64)).item()) / (2 * eps)
    assert rel_err(a.grad, numeric) < 1e-7


# ----------------------------------------------------------------------------- multi-output Functions
# Each Function is defined once, on the array-api namespace, and built twice: on torch.autograd.Function
# (the reference, the namespace of torch tensors) and on fw.autograd.Function (ctx.xp).


def _two_output_functions(base, namespace):
    """(SinCos, MaxWithIndex) on ``base``; ``namespace(ctx)`` is the array namespace forward/backward use.
    Both note in ``seen`` what forward and backward were given, to compare with torch's."""

    class SinCos(base):
        seen: dict = {}

        @staticmethod
        def forward(ctx, x, scale, materialize=True):
            xp = namespace(ctx)
            SinCos.seen["needs_input_grad"] = tuple(ctx.needs_input_grad)
            ctx.set_materialize_grads(materialize)
            ctx.save_for_backward(x)
            ctx.scale = scale
            return xp.sin(x) * scale, xp.cos(x) * scale

        @staticmethod
        def backward(ctx, g_sin, g_cos):
            xp = namespace(ctx)
            SinCos.seen["grads"] = (g_sin is None, g_cos is None)
            (x,) = ctx.saved_tensors
            dx = 0 if g_sin is None else g_sin * xp.cos(x) * ctx.scale
            dx = dx if g_cos is None else dx - g_cos * xp.sin(x) * ctx.scale
            return dx, None, None

    class MaxWithIndex(base):
        seen: dict = {}

        @staticmethod
        def forward(ctx, x):
            xp = namespace(ctx)
            index = xp.argmax(x, axis=-1)
            ctx.mark_non_differentiable(index)
            ctx.save_for_backward(x, index)
            return xp.max(x, axis=-1), index

        @staticmethod
        def backward(ctx, g_values, g_index):
            xp = namespace(ctx)
            MaxWithIndex.seen["g_index"] = (tuple(g_index.shape), str(g_index.dtype).split(".")[-1],
                                            float(xp.sum(xp.abs(g_index))))
            x, index = ctx.saved_tensors
            positions = xp.arange(x.shape[-1], device=array_api_compat.device(x))
            onehot = xp.astype(positions == index[..., None], x.dtype)
            return g_values[..., None] * onehot

    return SinCos, MaxWithIndex


OURS = _two_output_functions(fw.autograd.Function, lambda ctx: ctx.xp)
REF = _two_output_functions(torch.autograd.Function, lambda ctx: array_api_compat.torch)


def test_two_output_function_matches_torch(device, rng):
    x, tx = pair(rng.standard_normal((3, 5)), device, np.float64)
    w = rng.standard_normal((2, 3, 5))
    outs, refs = OURS[0].apply(x, 1.5), REF[0].apply(tx, 1.5)
    assert isinstance(outs, tuple) and len(outs) == 2 and all(o.requires_grad for o in outs)
    assert outs[0].grad_fn is not None and outs[0].grad_fn.fn is OURS[0]
    for o, r in zip(outs, refs):
        assert rel_err(o, r) < 1e-12
    # one output used: the other's gradient arrives as zeros (materialized, PyTorch's default)
    outs[1].backward(fw.tensor(w[1], device=device), retain_graph=True)
    refs[1].backward(torch.tensor(w[1]), retain_graph=True)
    assert OURS[0].seen == REF[0].seen == {"needs_input_grad": (True, False), "grads": (False, False)}
    assert rel_err(x.grad, tx.grad) < 1e-12
    # both used (the graph was retained), with a hook on one output that scales its gradient
    x.grad, tx.grad = None, None
    for o in (outs[0], refs[0]):
        o.register_hook(lambda g: g * 3)
    (outs[0] * fw.tensor(w[0], device=device) + outs[1] * fw.tensor(w[1], device=device)).sum().backward()
    (refs[0] * torch.tensor(w[0]) + refs[1] * torch.tensor(w[1])).sum().backward()
    assert rel_err(x.grad, tx.grad) < 1e-12
    with pytest.raises(RuntimeError, match="backward through the graph a second time"):
        outs[0].sum().backward()  # the node's saved values were freed by the last backward


def test_two_output_function_without_materialized_grads_and_under_no_grad(device, rng):
    x, tx = pair(rng.standard_normal(7), device, np.float64)
    sin, _ = OURS[0].apply(x, 2.0, False)
    tsin, _ = REF[0].apply(tx, 2.0, False)
    (g,) = fw.autograd.grad(sin.sum(), x)
    (tg,) = torch.autograd.grad(tsin.sum(), tx)
    assert OURS[0].seen["grads"] == REF[0].seen["grads"] == (False, True)  # None for the unused output
    assert rel_err(g, tg) < 1e-12
    with fw.no_grad():
        outs = OURS[0].apply(x, 2.0)
    assert not any(o.requires_grad for o in outs)
    # Nobody wants a gradient under no_grad, so forward is told so (PyTorch would still say True here).
    assert OURS[0].seen["needs_input_grad"] == (False, False)


def test_non_differentiable_output(device, rng):
    x, tx = pair(rng.standard_normal((4, 6)), device, np.float64)
    (values, index), (tvalues, tindex) = OURS[1].apply(x), REF[1].apply(tx)
    assert values.requires_grad and not index.requires_grad and index.grad_fn is None
    assert not tindex.requires_grad
    np.testing.assert_array_equal(index.numpy(), tindex.numpy())
    w = rng.standard_normal(4)
    (values * fw.tensor(w, device=device)).sum().backward()
    (tvalues * torch.tensor(w)).sum().backward()
    # backward still got a gradient for the index: zeros of its shape and dtype, as in PyTorch
    assert OURS[1].seen == REF[1].seen == {"g_index": ((4,), "int64", 0.0)}
    assert rel_err(x.grad, tx.grad) < 1e-12


def test_needs_input_grad_lets_cross_entropy_skip_its_gradient(monkeypatch, rng):
    """The fused kernel computes dlogits only when someone will differentiate: not under no_grad, not for
    logits that do not require grad; the loss is the same either way."""
    kernel = fw.get_backend("cpu").kernels.softmax_xent
    forward, asked = kernel.softmax_cross_entropy_forward, []

    def spy(*args, need_grad=True, **kwargs):
        asked.append(need_grad)
        return forward(*args, need_grad=need_grad, **kwargs)

    monkeypatch.setattr(kernel, "softmax_cross_entropy_forward", spy)
    logits = fw.tensor(rng.standard_normal((6, 5)), requires_grad=True)
    target = fw.tensor(rng.integers(0, 5, 6))
    loss = fw.nn.functional.cross_entropy(logits, target)
    with fw.no_grad():
        loss_no_grad = fw.nn.functional.cross_entropy(logits, target)
    loss_detached = fw.nn.functional.cross_entropy(logits.detach(), target)
    assert asked == [True, False, False]
    assert loss.item() == loss_no_grad.item() == loss_detached.item()
    loss.backward()
    ref = torch.tensor(logits.detach().numpy(), requires_grad=True)
    torch.nn.functional.cross_entropy(ref, torch.tensor(target.numpy())).backward()
    assert rel_err(logits.grad, ref.grad) < 1e-12
