"""In-place operations, item assignment, ``.data`` and the version counter, against PyTorch in float64.

PyTorch's rules are the spec: an in-place op on a leaf that requires grad raises outside no_grad; on a
non-leaf it becomes the tensor's grad_fn; modifying a value that backward saved raises at backward;
writes through views update the base's history. Documented differences: ``.data`` shares the version
counter (a write through it to a saved value raises; PyTorch gives a silently wrong gradient), and a
recorded in-place op through ``detach()``/``.data`` or an ``expand()`` view raises.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

import framework as fw
from framework.nn import init

from .conftest import pair, rel_err

TOL = 1e-4  # float32 against float64


def _grads_match(ours, refs):
    for a, b in zip(ours, refs, strict=True):
        assert a.grad is not None, "missing gradient"
        assert rel_err(a.grad, b.grad) < TOL


def test_sgd_by_hand_matches_torch(device, rng):
    """``with no_grad(): p -= lr * p.grad`` updates the parameter itself (Python used to rebind the name)."""
    w, tw = pair(0.5 * rng.standard_normal((4, 3)), device)
    b, tb = pair(0.5 * rng.standard_normal((3,)), device)
    x = rng.standard_normal((5, 4))
    xs, txs = fw.tensor(x.astype(np.float32), device=device), torch.tensor(x)
    params, ref_params = [w, b], [tw, tb]
    for step in range(3):
        loss = ((xs @ w + b).tanh() ** 2).sum()
        ref = ((txs @ tw + tb).tanh() ** 2).sum()
        loss.backward()
        ref.backward()
        assert rel_err(loss, ref) < TOL
        with fw.no_grad():
            w -= 0.1 * w.grad
            b.data.add_(b.grad, alpha=-0.1)  # the char-LSTM example's form
        with torch.no_grad():
            tw -= 0.1 * tw.grad
            tb.data.add_(tb.grad, alpha=-0.1)
        for p in params + ref_params:
            p.grad.zero_()
        assert w.is_leaf and w.requires_grad and w._version == step + 1
    for p, ref_p in zip(params, ref_params):
        assert rel_err(p, ref_p) < TOL
        assert float(np.abs(p.grad.numpy()).max()) == 0.0  # zero_() on .grad


def test_inplace_on_non_leaf_records_the_op(device, rng):
    """Chained in-place ops on a non-leaf: values and gradients as PyTorch, including a use of the value
    from before the writes (its gradient goes to the old value, not through the later ops)."""
    xa, xb, xc = (rng.uniform(0.5, 1.5, (3, 4)) * rng.choice([-1, 1], (3, 4)) for _ in range(3))
    res = []
    for side in (0, 1):  # kernelgrad, then torch
        a, b, c = (pair(v, device)[side] for v in (xa, xb, xc))
        x = a * 2
        early = (x + b).sum(dim=0)  # Add saves nothing: x may change afterwards
        x.add_(b, alpha=0.5)
        x.mul_(c).sub_(a)           # chaining, as porters write it
        x += 1.5
        x *= c
        x /= b.abs() + 1
        x.div_(2.0).clamp_(-1.0, 1.0).addcmul_(a, b, value=0.3).addcdiv_(c, b.abs() + 1)
        x.clamp_min_(-0.8).exp_()
        out = (x * x).sum() + (early * early).sum()
        out.backward()
        res.append((out, x, a, b, c))
    (out, x, *leaves), (ref, tx, *ref_leaves) = res
    assert rel_err(out, ref) < TOL and rel_err(x, tx) < TOL
    assert not x.is_leaf and x.grad_fn is not None
    _grads_match(leaves, ref_leaves)


def test_inplace_on_leaf_that_requires_grad_raises(device, rng):
    a, ta = pair(rng.standard_normal(3), device)
    for t, lib in ((a, fw), (ta, torch)):
        with pytest.raises(RuntimeError, match="leaf Variable that requires grad"):
            t.add_(1)
        with pytest.raises(RuntimeError, match="leaf Variable that requires grad"):
            t[0] = 2.0
        with lib.no_grad():  # allowed there, as in PyTorch
            t.mul_(2)
            t[1] = 7.0
    assert rel_err(a, ta) < TOL


def test_modifying_a_saved_tensor_raises_at_backward(device, rng):
    """Never a wrong gradient: sigmoid saves its output, Mul its inputs."""
    a, ta = pair(rng.standard_normal((2, 3)), device)
    for t, lib in ((a, fw), (ta, torch)):
        y = t.sigmoid()
        y.mul_(2)
        with pytest.raises(RuntimeError, match="modified by an inplace operation"):
            y.sum().backward()
        x = t * 1
        z = x * t  # saves x
        with lib.no_grad():
            x.add_(1)
        with pytest.raises(RuntimeError, match="modified by an inplace operation"):
            z.sum().backward()
    # Writing a value that backward does not need is fine: exp saves its output, not its input.
    t_ours, t_ref = a * 1, ta * 1
    e, te = t_ours.exp(), t_ref.exp()
    t_ours.add_(3)
    t_ref.add_(3)
    (e.sum() + (t_ours * t_ours).sum()).backward()
    (te.sum() + (t_ref * t_ref).sum()).backward()
    _grads_match([a], [ta])


def test_writes_through_data_and_detach_are_checked(device, rng):
    """``.data`` shares storage (write-through) and, unlike PyTorch's, the version counter: a write through
    it to a saved value raises instead of PyTorch's silently wrong gradient."""
    a, _ = pair(rng.standard_normal(4), device)
    y = a.exp()
    y.data.mul_(2)
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        y.sum().backward()
    y = a.exp()
    y.detach().zero_()
    assert float(np.abs(y.numpy()).max()) == 0.0  # detach() shares storage
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        y.sum().backward()


def test_data_semantics_match_torch(device, rng):
    v = rng.standard_normal((2, 3))
    p, tp = pair(v, device)
    d, td = p.data, tp.data
    assert not d.requires_grad and d.is_leaf and p.requires_grad
    d.mul_(3)
    td.mul_(3)
    d[0, 1] = -5.0
    td[0, 1] = -5.0
    assert rel_err(p, tp) < 1e-6
    other = rng.standard_normal((4,))
    p.data = fw.tensor(other.astype(np.float32), device=device)  # replaces the storage, shape included
    tp.data = torch.tensor(other)
    assert p.shape == (4,) and p.requires_grad and rel_err(p, tp) < 1e-6
    with pytest.raises(TypeError, match="must be assigned a Tensor"):
        p.data = other
    # init functions write into the storage, so init on .data reaches the parameter (DCGAN's weights_init)
    w = fw.zeros(3, 5, device=device, requires_grad=True)
    init.normal_(w.data, 0.0, 0.02)
    assert w.numpy().std() > 0.002
    w.data.fill_(0.5)
    assert np.all(w.numpy() == 0.5)


def test_setitem_values_match_torch(device, rng):
    """Item assignment on a tensor outside autograd: every kind of index and value, with broadcasting."""
    base = rng.standard_normal((4, 5))
    ours, ref = fw.tensor(base, device=device), torch.tensor(base)
    mask = base > 0.3
    idx = np.array([3, 0])
    row = rng.standard_normal(5)
    for t, lib_idx, lib_mask, lib_row in ((ours, fw.tensor(idx, device=device), fw.tensor(mask, device=device),
                                           fw.tensor(row, device=device)),
                                          (ref, torch.tensor(idx), torch.tensor(mask), torch.tensor(row))):
        t[1] = 2.5
        t[:, 2] = -1
        t[1:3, ::2] = lib_row[:3]        # broadcast over the rows
        t[lib_mask] = 0.0
        t[lib_idx] = lib_row             # index tensor, a row each
        t[[0, 2], [4, 1]] = 9            # index lists
        t[-1, ...] = lib_row * 2         # negative int, Ellipsis
        t[None, 0, 0] = 4                # None
    assert rel_err(ours, ref) < 1e-12
    ours[1:] = ours[:-1]  # overlapping source and destination: as if the source were read first
    ref[1:] = ref[:-1].clone()  # (PyTorch refuses the overlap and asks for the clone)
    assert rel_err(ours, ref) < 1e-12
    ints = fw.zeros(5, dtype="int64", device=device)
    ints[1] = 2.7  # cast to the tensor's dtype, as PyTorch does
    ints[2:4] = fw.tensor([1.9, -3.2], device=device)
    tints = torch.zeros(5, dtype=torch.int64)
    tints[1] = 2.7
    tints[2:4] = torch.tensor([1.9, -3.2]).long()
    assert ints.tolist() == tints.tolist()
    with pytest.raises(IndexError):
        ours[7] = 1.0
    with pytest.raises(RuntimeError, match="shape mismatch"):
        ours[0] = fw.ones(7, device=device)
    with pytest.raises(RuntimeError, match="shape mismatch"):
        ours[fw.tensor([0, 1], device=device)] = fw.ones(2, 7, device=device)
    ours[0] = fw.ones(1, 5, device=device)  # leading 1-dims are dropped, as in PyTorch
    assert ours.tolist()[0] == [1.0] * 5
    with pytest.raises(IndexError):
        ours[fw.tensor([0, 9], device=device)] = 1.0


def test_setitem_on_non_leaf_matches_torch(device, rng):
    """``x[mask] = 0``, ``x[i] = v`` with v requiring grad, on a non-leaf, then backward."""
    xa, xv, xw = rng.standard_normal((4, 3)), rng.standard_normal(3), rng.standard_normal((4, 3))
    res = []
    for side in (0, 1):  # kernelgrad, then torch
        a, v = (pair(z, device)[side] for z in (xa, xv))
        w = fw.tensor(xw.astype(np.float32), device=device) if side == 0 else torch.tensor(xw)
        x = a * 3
        x[x > 0.5] = 0.0
        x[2] = v * 2
        x[1:, 0] = v[1]
        out = (x * w).sum()
        out.backward()
        res.append((out, a, v))
    (out, a, v), (ref, ta, tv) = res
    assert rel_err(out, ref) < TOL
    _grads_match([a, v], [ta, tv])
    # A tensor that did not require grad joins the graph through the value it receives (PyTorch does too).
    buf, tbuf = fw.zeros(2, 3, device=device), torch.zeros(2, 3, dtype=torch.float64)
    v2, tv2 = pair(xv, device)
    buf[0] = v2
    tbuf[0] = tv2
    assert buf.requires_grad and not buf.is_leaf
    (buf * buf).sum().backward()
    (tbuf * tbuf).sum().backward()
    _grads_match([v2], [tv2])


def test_fill_copy_masked_fill_and_random(device, rng):
    xa, xs = rng.standard_normal((3, 4)), rng.standard_normal((4,))
    a, ta = pair(xa, device)
    s, ts = pair(xs, device)
    res = []
    for aa, ss in ((a, s), (ta, ts)):
        x = aa * 2
        x.masked_fill_(aa > 0, -0.5)
        y = aa * 1
        y.copy_(ss)                  # broadcast (4,) -> (3, 4); the gradient flows to ss, none to aa
        z = aa + 0
        z.fill_(1.25)
        z.zero_()
        out = (x * x).sum() + (y * aa).sum() + z.sum()
        out.backward()
        res.append(out)
    assert rel_err(res[0], res[1]) < TOL
    _grads_match([a, s], [ta, ts])
    # copy_ casts and crosses devices; fill_ takes a 0-d tensor
    dst = fw.zeros(2, 3, dtype="float64", device=device)
    dst.copy_(fw.tensor(rng.standard_normal((2, 3)).astype(np.float32)))
    assert dst.dtype == "float64" and np.abs(dst.numpy()).max() > 0
    dst.fill_(fw.tensor(3.0, device=device))
    assert np.all(dst.numpy() == 3.0)
    with pytest.raises(RuntimeError, match="0-dimension"):
        dst.fill_(fw.ones(2, device=device))
    with pytest.raises(RuntimeError):
        dst.copy_(fw.ones(4, device=device))
    # normal_ / uniform_ draw from the global generator: reproducible, right moments, right bounds
    t = fw.empty(4000, device=device)
    fw.manual_seed(3)
    t.normal_(2.0, 0.5)
    first = t.numpy().copy()
    fw.manual_seed(3)
    t.normal_(2.0, 0.5)
    assert np.array_equal(first, t.numpy())
    assert abs(first.mean() - 2.0) < 0.05 and abs(first.std() - 0.5) < 0.05
    t.uniform_(-3, -1)
    assert t.numpy().min() >= -3 and t.numpy().max() < -1 and abs(t.numpy().mean() + 2) < 0.1
    t.uniform_(**{"from": 5, "to": 6})
    assert t.numpy().min() >= 5


def test_dtype_and_shape_rules(device):
    ints = fw.ones(3, dtype="int64", device=device)
    with pytest.raises(RuntimeError, match="can't be cast"):
        ints += 1.5  # PyTorch: result type Float can't be cast to the desired output type Long
    ints += 2
    assert ints.tolist() == [3, 3, 3] and ints.dtype == "int64"
    with pytest.raises(RuntimeError, match="can't be cast"):
        ints.div_(2)
    ref_ints = torch.tensor([7, -5, 9])
    ints = fw.tensor([7, -5, 9], device=device)
    for t in (ints, ref_ints):
        t //= 2
        t %= 3
        t **= 2
    flags, ref_flags = fw.tensor([True, False, True], device=device), torch.tensor([True, False, True])
    for t, make in ((flags, lambda v: fw.tensor(v, device=device)), (ref_flags, torch.tensor)):
        t &= make([True, True, False])
        t |= make([False, True, False])
        t ^= make([True, False, False])
    assert ints.tolist() == ref_ints.tolist() and flags.tolist() == ref_flags.tolist()
    x = fw.ones(3, device=device)
    with pytest.raises(RuntimeError, match="doesn't match the broadcast shape"):
        x.add_(fw.ones(2, 3, device=device))
    x.add_(fw.full((3,), 0.5, dtype="float64", device=device))  # a wider float is cast back
    assert x.dtype == "float32" and x.tolist() == [1.5, 1.5, 1.5]
    e = fw.ones(3, device=device).expand(2, 3)
    with pytest.raises(RuntimeError, match="single memory location"):
        e.mul_(2)


def test_views_write_through_outside_autograd(device, rng):
    """Writes through reshape/transpose/indexing views reach the base, as in PyTorch (no_grad, or nothing
    requiring grad); the base and its views share one version counter."""
    v = rng.standard_normal((3, 4))
    ours, ref = fw.tensor(v, device=device), torch.tensor(v)
    for t in (ours, ref):
        t.view(-1)[5] = 10.0
        t[1].mul_(-2)
        t.T[0].fill_(0.25)
        t[:, 1:3].add_(1)
    assert rel_err(ours, ref) < 1e-12
    version = ours._version
    ours.reshape(4, 3).zero_()
    assert ours._version == version + 1 and np.all(ours.numpy() == 0)
    # under no_grad a view of a non-leaf can be written; the saved-tensor check still sees it
    a, _ = pair(v, device)
    y = a * 2
    prod = y * a  # saves y
    with fw.no_grad():
        y[0].zero_()
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        prod.sum().backward()


def test_recorded_inplace_through_views_matches_torch(device, rng):
    """Writes through views of a tensor in the graph update the base and its history (PyTorch's
    CopySlices), and views taken before a write are recorded again from the new value (view replay)."""
    xa, xb, xw = rng.standard_normal((3, 4)), rng.standard_normal(2), rng.standard_normal(4)
    res = []
    for side in (0, 1):  # kernelgrad, then torch
        a, b = (pair(z, device)[side] for z in (xa, xb))
        w = fw.tensor(xw.astype(np.float32), device=device) if side == 0 else torch.tensor(xw)
        y = a * 1
        early = y[2] * w                 # saves y[2] only for w's gradient: w needs none, so writes are fine
        y[0].mul_(2)                     # basic-indexing view
        y.view(-1)[1:3].add_(b)          # view of a reshape view
        row = y[1]
        y.mul_(3)                        # a write to the base: `row` is taken again from the new value
        y.T[0].fill_(0.5)                # permute view
        y[1][2] = b[0] * 4               # item assignment on a view
        buf = fw.zeros(2, 4, device=device) if side == 0 else torch.zeros(2, 4, dtype=torch.float64)
        buf[1].copy_(row)                # a buffer outside autograd joins the graph through its view
        out = (row * w).sum() + (y * y).sum() + (early * early).sum() + (buf * buf).sum()
        out.backward()
        res.append((out, y, buf, a, b))
    (out, y, buf, *leaves), (ref, ty, tbuf, *ref_leaves) = res
    assert rel_err(out, ref) < TOL and rel_err(y, ty) < TOL and rel_err(buf, tbuf) < TOL
    _grads_match(leaves, ref_leaves)
    # backward() straight from a view taken before its base's write
    for side in (0, 1):
        a = pair(xa, device)[side]
        y = a * 1
        v = y[1:3]
        y.mul_(5)
        v.backward(fw.ones(2, 4, device=device) if side == 0 else torch.ones(2, 4, dtype=torch.float64))
        res[side] = a
    _grads_match([res[0]], [res[1]])


def test_inplace_through_views_that_cannot_be_recorded_raises(device, rng):
    a, ta = pair(rng.standard_normal((2, 3)), device)
    for t in (a, ta):  # a view of a leaf that requires grad: PyTorch raises too
        with pytest.raises(RuntimeError, match="leaf Variable that requires grad"):
            t[0].mul_(2)
    v, _ = pair(rng.standard_normal(3), device)
    with pytest.raises(RuntimeError, match=r"detach\(\), \.data"):
        (a * 1).detach()[0].add_(v)  # kernelgrad keeps detach()/.data outside autograd
    with pytest.raises(RuntimeError, match="not supported"):
        (a * 1)[0].expand(2, 3).add_(v)


def test_scatter_lerp_detach_and_bernoulli_in_place(device, rng):
    xa, xs, xe = rng.standard_normal((3, 4)), rng.standard_normal((3, 2)), rng.standard_normal((3, 4))
    idx = np.array([[0, 3], [1, 1], [2, 0]])
    res = []
    for side in (0, 1):  # kernelgrad, then torch
        a, src, end = (pair(z, device)[side] for z in (xa, xs, xe))
        index = fw.tensor(idx, device=device) if side == 0 else torch.tensor(idx)
        x = a * 1
        x.scatter_(1, index[:, :1], src[:, :1])
        x.scatter_add_(1, index, src)
        x.lerp_(end, 0.3)
        out = (x * x).sum()
        out.backward()
        res.append((out, a, src, end))
    (out, *leaves), (ref, *ref_leaves) = res
    assert rel_err(out, ref) < TOL
    _grads_match(leaves, ref_leaves)
    y = leaves[0] * 2
    assert y.detach_() is y and y.is_leaf and not y.requires_grad
    t = fw.empty(4000, device=device)
    t.bernoulli_(0.25)
    assert set(np.unique(t.numpy())) == {0.0, 1.0} and abs(t.numpy().mean() - 0.25) < 0.03
    g = fw.Generator().manual_seed(5)
    first = t.normal_(generator=g).numpy().copy()
    assert np.array_equal(first, t.normal_(generator=fw.Generator().manual_seed(5)).numpy())


@pytest.mark.parametrize("opt_name", ["SGD", "Adam", "AdamW", "RMSprop", "Adagrad", "Adadelta"])
def test_optimizer_steps_write_into_the_parameter(device, rng, opt_name):
    """opt.step(), clip_grad_norm_ and load_state_dict change the parameter's storage in place, as torch:
    a .data alias or a view taken before sees the new values, and the version counter goes up."""
    w0 = rng.standard_normal((3, 4)).astype(np.float32)
    g = rng.standard_normal((3, 4)).astype(np.float32)
    p = fw.nn.Parameter(fw.tensor(w0, device=device))
    tp = torch.nn.Parameter(torch.tensor(w0, dtype=torch.float64))
    alias, row = p.data, p.data[1]
    opt = getattr(fw.optim, opt_name)([p], lr=0.1)
    topt = getattr(torch.optim, opt_name)([tp], lr=0.1)
    version = p._version
    for _ in range(2):
        p.grad = fw.tensor(g, device=device)
        tp.grad = torch.tensor(g, dtype=torch.float64)
        fw.nn.utils.clip_grad_norm_([p], 1.0)
        torch.nn.utils.clip_grad_norm_([tp], 1.0)
        opt.step()
        topt.step()
    assert p._version > version
    assert rel_err(p, tp) <= 1e-5
    np.testing.assert_array_equal(alias.numpy(), p.numpy())
    np.testing.assert_array_equal(row.numpy(), p.numpy()[1])

    module = fw.nn.Linear(4, 3).to(device)
    weight_alias = module.weight.data
    module.load_state_dict({"weight": w0, "bias": np.zeros(3, np.float32)})
    np.testing.assert_array_equal(weight_alias.numpy(), w0)


def test_stepping_a_weight_that_a_pending_backward_needs_raises_like_torch(device, rng):
    """The GAN mistake: step D, then backward through a graph that saved D's old weight. Torch raises; a
    silent answer from stale weights would hide the bug."""
    x = rng.standard_normal((2, 4)).astype(np.float32)
    for lib in (torch, fw):
        layer = lib.nn.Linear(4, 1)
        if lib is fw:
            layer = layer.to(device)
        inp = (lib.tensor(x) if lib is torch else fw.tensor(x, device=device)).requires_grad_()
        out = layer(inp).sum()
        opt = lib.optim.SGD(layer.parameters(), lr=0.1)
        out.backward(retain_graph=True)
        opt.step()
        with pytest.raises(RuntimeError, match="modified by an inplace operation"):
            out.backward()


def test_gradient_accumulates_into_the_same_grad_tensor(device, rng):
    """A second backward adds into p.grad in place (torch's AccumulateGrad): an earlier reference sees it."""
    x = rng.standard_normal(5)
    p, tp = pair(x, device)
    (p * 2).sum().backward()
    (tp * 2).sum().backward()
    held = p.grad
    (p * p).sum().backward()
    (tp * tp).sum().backward()
    assert held is p.grad
    assert rel_err(held, tp.grad) <= 1e-6


def test_inplace_through_a_single_element_view(device):
    """x[1] with every index an integer is a view in torch; numpy hands back a scalar copy, so writes through
    it were silently lost on cpu/cupy (found by fuzzing)."""
    for lib in (torch, fw):
        def make(values, lib=lib, **kw):
            return torch.tensor(values, dtype=torch.float64, **kw) if lib is torch else \
                fw.tensor(values, device=device, **kw)
        x = make([0.0, 1.0, 2.0])
        x[1].zero_()
        y = make([[0.0, 1.0], [2.0, 3.0]])
        y[0, 1].add_(100)
        e = y[1][0]
        y.mul_(2)
        a = make([0.0, 1.0, 2.0], requires_grad=True)
        b = a * 1
        b[2].mul_(3)
        b.sum().backward()
        got = (x.tolist(), y.tolist(), e.item(), b.tolist(), a.grad.tolist())
        if lib is torch:
            expected = got
    assert got == expected
