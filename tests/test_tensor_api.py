"""The torch.* functions and Tensor methods a port needs (issue 12), against PyTorch on every device.

Differentiable ones compare values and gradients with torch in float64; the rest compare exact values
and dtypes. Inputs are fresh random draws from the printed test seed (see tests/conftest.py).
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

import framework as fw
from tests.conftest import rel_err


def _ours(array: np.ndarray, device: str, grad: bool = True) -> fw.Tensor:
    return fw.tensor(array.astype(np.float32), device=device, requires_grad=grad)


def _ref(array: np.ndarray, grad: bool = True) -> torch.Tensor:
    return torch.tensor(array.astype(np.float64), requires_grad=grad)


def _check_grad(device, rng, ours_fn, ref_fn, *shapes, tol=1e-4):
    """Run ``ours_fn`` / ``ref_fn`` on the same random float inputs; compare the outputs and, through a
    random upstream gradient, every input's gradient."""
    arrays = [rng.standard_normal(s) for s in shapes]
    xs = [_ours(a, device) for a in arrays]
    rs = [_ref(a) for a in arrays]
    out, ref = ours_fn(*xs), ref_fn(*rs)
    assert out.dtype == "float32" and out.device == device
    assert rel_err(out, ref) <= tol
    g = rng.standard_normal(tuple(ref.shape))
    out.backward(fw.tensor(g.astype(np.float32), device=device))
    ref.backward(torch.tensor(g))
    for x, r in zip(xs, rs, strict=True):
        assert x.grad is not None and rel_err(x.grad, r.grad) <= tol


def _same(ours, ref):
    """Exact equality of values, shape and dtype name with a torch result."""
    assert isinstance(ours, fw.Tensor), type(ours)
    assert str(ours.dtype) == str(ref.dtype).removeprefix("torch."), (ours.dtype, ref.dtype)
    assert ours.shape == tuple(ref.shape)
    np.testing.assert_array_equal(ours.numpy(), ref.numpy())


# ------------------------------------------------------------------------------- gradients vs torch


def _index(rng, shape, high, dim=None, unique=False):
    """Random int64 indices in [0, high) of ``shape``; ``unique``: no repeats along ``dim`` (scatter)."""
    if not unique:
        return rng.integers(0, high, size=shape)
    moved = list(shape)
    moved.append(moved.pop(dim))
    rows = [rng.permutation(high)[: moved[-1]] for _ in range(int(np.prod(moved[:-1])))]
    return np.moveaxis(np.array(rows).reshape(moved), -1, dim)


def test_gather_grad(device, rng):
    idx = _index(rng, (3, 5, 2), 4)  # repeats: the gradient must accumulate
    i_ours, i_ref = fw.tensor(idx, device=device), torch.tensor(idx)
    _check_grad(device, rng, lambda x: fw.gather(x, 1, i_ours), lambda x: torch.gather(x, 1, i_ref), (3, 4, 2))
    # index smaller than the input off the gathered dim, and the method form with a negative dim
    idx = _index(rng, (2, 3), 5)
    i_ours, i_ref = fw.tensor(idx, device=device), torch.tensor(idx)
    _check_grad(device, rng, lambda x: x.gather(-1, i_ours), lambda x: x.gather(-1, i_ref), (3, 5))


def test_scatter_grad(device, rng):
    idx = _index(rng, (3, 2, 2), 5, dim=1, unique=True)
    i_ours, i_ref = fw.tensor(idx, device=device), torch.tensor(idx)
    _check_grad(device, rng, lambda x, s: fw.scatter(x, 1, i_ours, s),
                lambda x, s: torch.scatter(x, 1, i_ref, s), (3, 5, 2), (3, 2, 2))
    # src bigger than index: only its leading block is read (torch's backward refuses this shape, so no grad)
    a, s = rng.standard_normal((3, 5, 2)), rng.standard_normal((3, 4, 3))
    out = _ours(a, device, False).scatter(1, i_ours, _ours(s, device, False))
    assert rel_err(out, torch.tensor(a).scatter(1, i_ref, torch.tensor(s))) <= 1e-6
    _check_grad(device, rng, lambda x: x.scatter(1, i_ours, 0.5), lambda x: x.scatter(1, i_ref, 0.5), (3, 5, 2))


def test_scatter_add_grad(device, rng):
    idx = _index(rng, (4, 3), 2)  # repeated targets accumulate
    i_ours, i_ref = fw.tensor(idx, device=device), torch.tensor(idx)
    _check_grad(device, rng, lambda x, s: x.scatter_add(0, i_ours, s),
                lambda x, s: x.scatter_add(0, i_ref, s), (2, 3), (4, 3))


def test_scatter_add_into_a_transposed_input(device, rng):
    """A copy of a transposed tensor keeps its strides on the triton device, which had no flat view to
    accumulate into (a RuntimeError there only; found by fuzzing)."""
    idx = _index(rng, (3, 2, 4), 4)
    i_ours, i_ref = fw.tensor(idx, device=device), torch.tensor(idx)
    _check_grad(device, rng, lambda x, s: x.transpose(-1, -2).scatter_add(2, i_ours, s),
                lambda x, s: x.transpose(-1, -2).scatter_add(2, i_ref, s), (3, 4, 4), (3, 2, 4))


def test_scatter_inplace(device, rng):
    labels = rng.integers(0, 4, size=5)
    one_hot = fw.zeros(5, 4, device=device).scatter_(1, fw.tensor(labels, device=device).unsqueeze(1), 1)
    _same(one_hot, torch.zeros(5, 4).scatter_(1, torch.tensor(labels).unsqueeze(1), 1))
    idx = _index(rng, (2, 2), 4, dim=1, unique=True)
    add_idx = _index(rng, (3, 4), 2)

    def program(m, x, s):
        y = x * 2
        y.scatter_(1, m.tensor(idx) if m is torch else fw.tensor(idx, device=device), s)
        return y.scatter_add_(0, m.tensor(add_idx) if m is torch else fw.tensor(add_idx, device=device), x * 3)

    _check_grad(device, rng, lambda x, s: program(fw, x, s), lambda x, s: program(torch, x, s), (3, 4), (2, 2))


def test_index_select_grad(device, rng):
    idx = np.array([2, 0, 2, 1])  # a repeat
    i_ours, i_ref = fw.tensor(idx, device=device), torch.tensor(idx)
    _check_grad(device, rng, lambda x: fw.index_select(x, 1, i_ours), lambda x: torch.index_select(x, 1, i_ref),
                (2, 3, 5))


def test_masked_fill_grad(device, rng):
    mask = rng.random((1, 5)) < 0.5
    mask[0, :2] = [True, False]
    m_ours, m_ref = fw.tensor(mask, device=device), torch.tensor(mask)
    _check_grad(device, rng, lambda x: x.masked_fill(m_ours, -1e9) * 1e-9 + x,
                lambda x: x.masked_fill(m_ref, -1e9) * 1e-9 + x, (3, 5))
    _check_grad(device, rng, lambda x: fw.masked_fill(x, m_ours, 2.5), lambda x: x.masked_fill(m_ref, 2.5), (3, 5))


@pytest.mark.parametrize("dim", [0, -1])
def test_cumsum_grad(device, rng, dim):
    _check_grad(device, rng, lambda x: fw.cumsum(x, dim), lambda x: torch.cumsum(x, dim), (4, 7))


def test_bmm_grad(device, rng):
    _check_grad(device, rng, fw.bmm, torch.bmm, (3, 2, 5), (3, 5, 4))
    _check_grad(device, rng, lambda a, b: a.bmm(b), lambda a, b: a.bmm(b), (1, 3, 1), (1, 1, 2))


@pytest.mark.parametrize("equation,shapes", [
    ("ij,jk->ik", [(3, 4), (4, 2)]),
    ("bij,bkj->bik", [(2, 3, 4), (2, 5, 4)]),
    ("i,j", [(3,), (4,)]),  # implicit output: the outer product
    ("ij->j", [(3, 4)]),  # a subscript summed inside one operand
    ("ij,ij->", [(2, 3), (2, 3)]),
    ("...ij,...jk->...ik", [(2, 1, 3, 4), (5, 4, 2)]),  # ellipsis with broadcasting
    ("bhqd,bhkd->bhqk", [(1, 2, 3, 4), (1, 2, 5, 4)]),
    ("ij,jk", [(3, 1), (4, 2)]),  # a size-1 subscript broadcast against 4
    ("ij,kj->ik", [(2, 3), (4, 1)]),  # the broadcast size-1 operand's gradient sums back
])
def test_einsum_grad(device, rng, equation, shapes):
    _check_grad(device, rng, lambda *xs: fw.einsum(equation, *xs), lambda *xs: torch.einsum(equation, *xs), *shapes)


@pytest.mark.parametrize("equation,shapes", [
    ("ij->", [(0, 4)]), ("i->", [(0,)]), ("ij,jk->ik", [(2, 0), (0, 3)]), ("ij,kj->ik", [(2, 0), (3, 1)]),
])
def test_einsum_grad_with_an_empty_operand(device, equation, shapes):
    """A subscript summed only inside an empty operand: its gradient has the operand's shape (size 0),
    not a size-1 broadcast that failed in backward (found by fuzzing against torch)."""
    xs = [fw.zeros(s, device=device, requires_grad=True) for s in shapes]
    rs = [torch.zeros(s, requires_grad=True) for s in shapes]
    out, ref = fw.einsum(equation, *xs), torch.einsum(equation, *rs)
    assert out.shape == tuple(ref.shape)
    out.sum().backward()
    ref.sum().backward()
    assert [x.grad.shape for x in xs] == [tuple(r.grad.shape) for r in rs]


def test_einsum_list_form(device, rng):
    _check_grad(device, rng, lambda a, b: fw.einsum("ij,kj->ik", [a, b]),
                lambda a, b: torch.einsum("ij,kj->ik", [a, b]), (2, 3), (4, 3))


@pytest.mark.parametrize("diagonal", [-1, 0, 2])
def test_tril_triu_grad(device, rng, diagonal):
    _check_grad(device, rng, lambda x: fw.tril(x, diagonal), lambda x: torch.tril(x, diagonal), (2, 4, 5))
    _check_grad(device, rng, lambda x: x.triu(diagonal), lambda x: x.triu(diagonal), (5, 3))


def test_sort_topk_values_grad(device, rng):
    _check_grad(device, rng, lambda x: fw.sort(x, dim=0, descending=True).values,
                lambda x: torch.sort(x, dim=0, descending=True).values, (6, 3))
    _check_grad(device, rng, lambda x: x.sort()[0], lambda x: x.sort()[0], (3, 7))
    _check_grad(device, rng, lambda x: fw.topk(x, 3).values, lambda x: torch.topk(x, 3).values, (2, 7))
    _check_grad(device, rng, lambda x: x.topk(2, dim=0, largest=False)[0],
                lambda x: x.topk(2, dim=0, largest=False)[0], (5, 3))


@pytest.mark.parametrize("args,kwargs", [
    ((), {}), ((False,), {}), ((1,), {}), ((1, False), {}), ((0, True, True), {}),
    ((), {"dim": (0, 2), "unbiased": False, "keepdim": True}), ((1,), {"correction": 0}), ((1,), {"keepdim": True}),
])
@pytest.mark.parametrize("name", ["std", "var"])
def test_std_var_grad(device, rng, args, kwargs, name):
    _check_grad(device, rng, lambda x: getattr(x, name)(*args, **kwargs),
                lambda x: getattr(x, name)(*args, **kwargs), (3, 4, 2))
    _check_grad(device, rng, lambda x: getattr(fw, name)(x, *args, **kwargs),
                lambda x: getattr(torch, name)(x, *args, **kwargs), (3, 4, 2))


def test_std_of_a_constant_group_has_zero_grad(device, rng):
    """std's gradient is 0 where the std is 0 (PyTorch's backward), not the NaN of sqrt'(0) * 0."""
    a = rng.standard_normal((3, 1, 4))
    a[1] = 0.5  # one constant row of the reduced dims below
    x, r = _ours(a, device), _ref(a)
    x.std(dim=(1, 2), unbiased=False).sum().backward()
    r.std(dim=(1, 2), unbiased=False).sum().backward()
    assert np.isfinite(x.grad.numpy()).all() and not np.abs(x.grad.numpy()[1]).any()
    assert rel_err(x.grad, r.grad) <= 1e-4
    x, r = _ours(a, device), _ref(a)
    x.std(dim=1, unbiased=False).sum().backward()  # every group has one element: std 0, grad 0
    r.std(dim=1, unbiased=False).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), r.grad.numpy())


def test_repeat_t_view_as_grad(device, rng):
    _check_grad(device, rng, lambda x: x.repeat(2, 1, 3), lambda x: x.repeat(2, 1, 3), (2, 3))
    _check_grad(device, rng, lambda x: x.repeat((3,)), lambda x: x.repeat((3,)), (4,))
    _check_grad(device, rng, lambda x: fw.t(x) * 2, lambda x: torch.t(x) * 2, (3, 5))
    _check_grad(device, rng, lambda x, y: x.view_as(y) * y, lambda x, y: x.view_as(y) * y, (3, 4), (2, 6))
    _check_grad(device, rng, lambda x, y: x.expand_as(y) * y, lambda x, y: x.expand_as(y) * y, (1, 4), (3, 4))


def test_function_forms_grad(device, rng):
    """The torch.* forms of the everyday ops give torch's values and gradients."""
    cases = [
        (lambda x: fw.softmax(x, dim=1), lambda x: torch.softmax(x, dim=1)),
        (lambda x: fw.flatten(x, 1) * 3, lambda x: torch.flatten(x, 1) * 3),
        (lambda x: fw.sum(x, dim=(0, 2), keepdim=True), lambda x: torch.sum(x, dim=(0, 2), keepdim=True)),
        (lambda x: fw.mean(x, -1), lambda x: torch.mean(x, -1)),
        (lambda x: fw.max(x, 1).values, lambda x: torch.max(x, 1).values),
        (lambda x: fw.min(x), lambda x: torch.min(x)),
        (lambda x: fw.clamp(x, min=-0.5, max=0.7), lambda x: torch.clamp(x, min=-0.5, max=0.7)),
        (lambda x: fw.sqrt(fw.abs(x) + 0.1), lambda x: torch.sqrt(torch.abs(x) + 0.1)),
        (lambda x: fw.pow(x, 3), lambda x: torch.pow(x, 3)),
        (lambda x: fw.unsqueeze(x, 1) * 2, lambda x: torch.unsqueeze(x, 1) * 2),
        (lambda x: fw.squeeze(x[:1], 0) * 2, lambda x: torch.squeeze(x[:1], 0) * 2),
        (lambda x: fw.transpose(x, 0, 2) * 2, lambda x: torch.transpose(x, 0, 2) * 2),
        (lambda x: fw.permute(x, (2, 0, 1)) * 2, lambda x: torch.permute(x, (2, 0, 1)) * 2),
        (lambda x: fw.where(x > 0, x, 0.0), lambda x: torch.where(x > 0, x, 0.0)),
    ]
    for ours, ref in cases:
        _check_grad(device, rng, ours, ref, (3, 4, 2))
    _check_grad(device, rng, lambda x, y: fw.max(x, y), lambda x, y: torch.max(x, y), (3, 4), (3, 4))


# ------------------------------------------------------------------------------------- exact values


def test_comparisons_and_predicates(device, rng):
    a = rng.integers(-2, 3, size=(3, 4)).astype(np.float32)
    a[0, 0], a[1, 1], a[2, 2] = np.nan, np.inf, -np.inf
    x, r = fw.tensor(a, device=device), torch.tensor(a)
    for name in ("eq", "ne", "gt", "lt", "ge", "le"):
        _same(getattr(fw, name)(x, 1), getattr(torch, name)(r, 1))
        _same(getattr(x, name)(x.flip(1) if hasattr(x, "flip") else x * 0.5), getattr(r, name)(
            r.flip(1) if hasattr(x, "flip") else r * 0.5))
    for name in ("isnan", "isinf", "isfinite"):
        _same(getattr(fw, name)(x), getattr(torch, name)(r))
        _same(getattr(x, name)(), getattr(r, name)())
    b, rb = x > 0, r > 0
    for name in ("all", "any"):
        _same(getattr(fw, name)(b), getattr(torch, name)(rb))
        _same(getattr(b, name)(dim=1), getattr(rb, name)(dim=1))
        _same(getattr(fw, name)(x, 0, keepdim=True), getattr(torch, name)(r, 0, keepdim=True))  # float input
    u = fw.tensor([1, 0, 2], dtype=fw.uint8, device=device)
    _same(u.all(), torch.tensor([1, 0, 2], dtype=torch.uint8).all())  # uint8 in, uint8 out, as torch
    assert fw.equal(x[1:], x[1:]) and not fw.equal(b, ~b)


def test_indices_and_orders(device, rng):
    a = rng.permutation(24).reshape(4, 6).astype(np.float32) - 10  # distinct: orders are unique
    x, r = fw.tensor(a, device=device), torch.tensor(a)
    _same(fw.argmax(x), torch.argmax(r))
    _same(fw.argmax(x, dim=1, keepdim=True), torch.argmax(r, dim=1, keepdim=True))
    _same(fw.argmin(x, 0), torch.argmin(r, 0))
    _same(fw.max(x, 1).indices, torch.max(r, 1).indices)
    _same(fw.min(x, dim=0)[1], torch.min(r, dim=0)[1])
    _same(fw.argsort(x, dim=1, descending=True), torch.argsort(r, dim=1, descending=True))
    _same(x.sort(0).indices, r.sort(0).indices)
    _same(fw.topk(x, 2, dim=0, largest=False).indices, torch.topk(r, 2, dim=0, largest=False).indices)
    _same(fw.nonzero(x > 5), torch.nonzero(r > 5))
    for ours, ref in zip(fw.where(x > 5), torch.where(r > 5), strict=True):
        _same(ours, ref)
    # NaN sorts as the largest value; ties keep their order with stable=True
    n = np.array([1.0, np.nan, 3.0, 1.0, 2.0], dtype=np.float32)
    for desc in (False, True):
        _same(fw.tensor(n, device=device).sort(descending=desc, stable=True).indices,
              torch.tensor(n).sort(descending=desc, stable=True).indices)


def test_integer_results(device, rng):
    a = rng.integers(-5, 6, size=(3, 4))
    x, r = fw.tensor(a, device=device), torch.tensor(a)
    _same(fw.cumsum(x, 1), torch.cumsum(r, 1))
    _same(fw.cumsum(x.int(), 0), torch.cumsum(r.int(), 0))  # int32 -> int64, as torch
    _same((x > 0).cumsum(0), (r > 0).cumsum(0))
    _same(fw.cumsum(x, 1, dtype=fw.float64), torch.cumsum(r, 1, dtype=torch.float64))
    _same(fw.tril(x, 1), torch.tril(r, 1))
    _same(x.triu(-1), r.triu(-1))
    _same(x.masked_fill(x > 0, 0.7), r.masked_fill(r > 0, 0.7))  # the value is cast to int, as torch
    _same(x.repeat(2, 1, 2), r.repeat(2, 1, 2))
    _same(fw.sum(x > 0), torch.sum(r > 0))
    for dtype in ("uint8", "int8", "int32", "bool"):  # integer sums are int64, as torch (numpy: uint64 for uint8)
        _same((x > 0).to(dtype).sum(1), (r > 0).to(getattr(torch, dtype)).sum(1))
    _same(fw.sum(x, 0, dtype=fw.float64), torch.sum(r, 0, dtype=torch.float64))
    _same(x.mean(dtype=fw.float64), r.mean(dtype=torch.float64))
    _same(fw.bmm(x.reshape(1, 3, 4), x.t().reshape(1, 4, 3)), torch.bmm(r.reshape(1, 3, 4), r.t().reshape(1, 4, 3)))
    _same(fw.einsum("ij,kj->ik", x, x), torch.einsum("ij,kj->ik", r, r))
    _same(fw.index_select(x, 0, fw.tensor(1, device=device)), torch.index_select(r, 0, torch.tensor(1)))
    s, sr, i, ir = x[1, 2], r[1, 2], fw.tensor(0, device=device), torch.tensor(0)  # 0-d input and index
    _same(s.gather(0, i), sr.gather(0, ir))
    _same(s.scatter(0, i, 7), sr.scatter(0, ir, 7))
    _same(s.scatter_add(0, i, s), sr.scatter_add(0, ir, sr))


def test_new_and_like_factories(device):
    x, r = fw.ones(2, 3, device=device), torch.ones(2, 3)
    xi, ri = fw.tensor([1, 2], device=device), torch.tensor([1, 2])
    _same(x.new_zeros(2, 1), r.new_zeros(2, 1))
    _same(x.new_ones((3,), dtype=fw.long), r.new_ones((3,), dtype=torch.long))
    _same(x.new_full((2,), 3.5), r.new_full((2,), 3.5))
    _same(xi.new_full((2,), 3.5), ri.new_full((2,), 3.5))
    _same(x.new_tensor([1, 2]), r.new_tensor([1, 2]))
    _same(x.new_empty(0, 2), r.new_empty(0, 2))
    assert x.new_zeros(2).device == device
    _same(fw.zeros_like(x, dtype=fw.int64), torch.zeros_like(r, dtype=torch.int64))
    _same(fw.ones_like(xi, dtype=fw.float64), torch.ones_like(ri, dtype=torch.float64))
    _same(fw.full_like(x, 7), torch.full_like(r, 7))
    _same(fw.full_like(xi, 2.7), torch.full_like(ri, 2.7))
    _same(fw.full_like(x, 1.5, dtype=fw.half), torch.full_like(r, 1.5, dtype=torch.half))
    moved = fw.zeros_like(x, device="cpu")
    assert moved.device == "cpu" and moved.dtype == fw.float32
    assert fw.empty_like(x).shape == (2, 3) and fw.randn_like(x, device="cpu").device == "cpu"
    _same(fw.full((2,), 3, device=device), torch.full((2,), 3))  # an int fill makes int64, as torch
    _same(fw.full((2,), True, device=device), torch.full((2,), True))


def test_creation_functions(device):
    fw.manual_seed(0)
    for args in [(5, (3, 4)), (2, 5, (7,)), (-3, 0, (2, 2))]:
        t = fw.randint(*args, device=device)
        low, high = (0, args[0]) if len(args) == 2 else args[:2]
        assert t.shape == args[-1] and t.dtype == fw.int64 and t.device == device
        assert low <= int(t.min()) and int(t.max()) < high
    assert fw.randint(0, 3, size=(4,)).shape == (4,) and fw.randint(3, (2,), dtype=fw.float32).dtype == fw.float32
    many = fw.randint(0, 3, (300,)).numpy()
    assert set(many.tolist()) == {0, 1, 2}
    g = fw.Generator().manual_seed(7)  # generator= draws from its own stream, reproducibly
    drawn = [fw.randint(100, (5,), generator=g), fw.randperm(6, generator=g), fw.ones(3).multinomial(2, generator=g)]
    g.manual_seed(7)
    again = [fw.randint(100, (5,), generator=g), fw.randperm(6, generator=g), fw.ones(3).multinomial(2, generator=g)]
    assert [t.tolist() for t in drawn] == [t.tolist() for t in again]
    p = fw.randperm(9, device=device)
    assert p.dtype == fw.int64 and sorted(p.tolist()) == list(range(9))
    np.testing.assert_allclose(fw.linspace(-1, 2, 7, device=device).numpy(), torch.linspace(-1, 2, 7).numpy(),
                               rtol=1e-6, atol=1e-7)
    _same(fw.linspace(0, 10, steps=5, dtype=fw.int64), torch.linspace(0, 10, steps=5, dtype=torch.int64))
    assert fw.linspace(0, 1, 0).shape == (0,) and fw.linspace(3, 4, 1).tolist() == [3.0]
    _same(fw.eye(3, device=device), torch.eye(3))
    _same(fw.eye(2, 4, dtype=fw.int64), torch.eye(2, 4, dtype=torch.int64))
    e = fw.empty(2, 3, dtype=fw.long, device=device)
    assert e.shape == (2, 3) and e.dtype == fw.int64 and e.device == device
    assert fw.empty((4,)).shape == (4,)


def test_scalars_sizes_and_index(device):
    x, r = fw.arange(12, device=device).reshape(3, 4), torch.arange(12).reshape(3, 4)
    assert x.numel() == fw.numel(x) == 12 and x.size() == tuple(r.size()) and x.size(-1) == 4 and x.dim() == 2
    assert x.sum().item() == 66 and isinstance(x.sum().item(), int) and x.tolist() == r.tolist()
    assert isinstance(fw.tensor(2.5).item(), float)
    assert [10, 20, 30][fw.tensor(1, device=device)] == 20
    assert list(range(10))[fw.tensor(2):fw.tensor(5)] == [2, 3, 4]
    assert [10, 20][fw.tensor([1])] == 20  # one element is enough, as torch
    assert x[fw.tensor(2, device=device)].tolist() == r[torch.tensor(2)].tolist()
    assert fw.zeros(fw.tensor(2, device=device), 3).shape == (2, 3)  # an integer tensor as a size, as torch
    with pytest.raises(TypeError, match="only integer tensors of a single element"):
        [1, 2][fw.tensor(1.0)]  # noqa: B018
    with pytest.raises(TypeError, match="only integer tensors of a single element"):
        [1, 2][fw.tensor([0, 1])]  # noqa: B018
    assert fw.is_tensor(x) and not fw.is_tensor(r) and fw.is_floating_point(x.float()) and not x.is_floating_point()


def test_view_forms(device):
    x, r = fw.arange(6, device=device).float(), torch.arange(6).float()
    _same(x.view(2, 3), r.view(2, 3))
    _same(x.view((3, -1)), r.view((3, -1)))
    _same(x.view(fw.int32), r.view(torch.int32))  # bits reinterpreted, as torch
    with pytest.raises(ValueError, match="element size"):
        x.view(fw.float64)


def test_multinomial(device, rng):
    fw.manual_seed(int(rng.integers(2**31)))
    probs = fw.tensor([0.5, 0.0, 0.3, 0.2], device=device)
    draws = fw.multinomial(probs, 4000, replacement=True)
    assert draws.shape == (4000,) and draws.dtype == fw.int64 and draws.device == device
    counts = np.bincount(draws.numpy(), minlength=4)
    assert counts[1] == 0  # a zero-probability class is never drawn
    # each share within 6 standard deviations of its probability (fails for a wrong sampler, not by chance)
    np.testing.assert_allclose(counts / 4000, [0.5, 0.0, 0.3, 0.2], atol=6 * np.sqrt(0.25 / 4000))
    # unnormalised weights, 2-D, without replacement: no repeats, zero weights only after every positive one
    weights = fw.tensor([[1.0, 0.0, 3.0, 0.0, 2.0]] * 50, device=device)
    rows = weights.multinomial(3).numpy()
    assert rows.shape == (50, 3) and all(sorted(row) == [0, 2, 4] for row in rows.tolist())
    first = np.bincount(rows[:, 0], minlength=5)
    assert first[2] > first[0]  # weight 3 beats weight 1 as first pick (P(fail) ~ 1e-4)
    all_of_them = weights.multinomial(5).numpy()
    assert all(sorted(row) == [0, 1, 2, 3, 4] and set(row[3:]) == {1, 3} for row in all_of_them.tolist())
    with pytest.raises(ValueError, match="non-negative"):
        fw.multinomial(fw.tensor([0.5, -0.1], device=device), 1)
    with pytest.raises(ValueError, match="positive sum"):
        fw.multinomial(fw.zeros(3, device=device), 1)
    with pytest.raises(ValueError, match="without replacement"):
        fw.multinomial(probs, 5)
    with pytest.raises(ValueError, match="num_samples"):
        fw.multinomial(probs, 0)


# ------------------------------------------------------------------------------------------ errors


def test_bad_arguments_raise_clearly(device):
    x = fw.ones(2, 3, device=device)
    idx = fw.tensor([[0, 1]], device=device)
    with pytest.raises(IndexError, match=r"Dimension out of range .* but got 2"):
        x.gather(2, idx)
    for bad_dim_call in (lambda: x.cumsum(-3), lambda: x.sort(dim=5), lambda: x.topk(1, dim=2),
                         lambda: x.index_select(2, fw.tensor([0], device=device)), lambda: x.all(dim=3)):
        with pytest.raises(IndexError, match="out of range"):
            bad_dim_call()
    with pytest.raises(ValueError, match=r"gather\(\): index 3 is out of range"):
        x.gather(1, fw.tensor([[3]], device=device))
    with pytest.raises(ValueError, match=r"scatter\(\): index -1 is out of range"):
        x.scatter(1, fw.tensor([[-1]], device=device), 1.0)
    with pytest.raises(IndexError, match=r"index_select\(\): index 2 is out of range"):
        x.index_select(0, fw.tensor([0, 2], device=device))
    with pytest.raises(TypeError, match="index must be an integer tensor"):
        x.gather(1, fw.tensor([[0.0]], device=device))
    with pytest.raises(TypeError, match="src dtype"):
        x.scatter(1, idx, fw.ones(1, 2, dtype=fw.float64, device=device))
    with pytest.raises(ValueError, match="reduce"):
        x.scatter(1, idx, 1.0, reduce="add")
    with pytest.raises(TypeError, match="mask must be a bool tensor"):
        x.masked_fill(fw.ones(2, 3, dtype=fw.int64, device=device), 0)
    with pytest.raises(ValueError, match="does not broadcast"):
        x.masked_fill(fw.ones(4, 3, dtype=fw.bool, device=device), 0)
    with pytest.raises(ValueError, match=r"t\(\): expects a tensor with <= 2 dimensions"):
        fw.ones(1, 2, 3, device=device).t()
    with pytest.raises(ValueError, match="repeat counts"):
        x.repeat(2)
    with pytest.raises(ValueError, match="k must be an int in"):
        x.topk(4)
    with pytest.raises(ValueError, match="a 0-d input takes exactly one index"):
        fw.tensor(1.0, device=device).index_select(0, fw.tensor([0, 0], device=device))
    with pytest.raises(ValueError, match="3-D"):
        fw.bmm(x, x)
    with pytest.raises(ValueError, match="do not match"):
        fw.bmm(fw.ones(2, 2, 3, device=device), fw.ones(2, 2, 3, device=device))
    with pytest.raises(ValueError, match="at least 2 dims"):
        fw.tril(fw.ones(3, device=device))
    with pytest.raises(ValueError, match="repeated within one operand"):
        fw.einsum("ii->i", fw.ones(2, 2, device=device))
    with pytest.raises(ValueError, match="sizes 3 and 2"):
        fw.einsum("ij,jk->ik", x, fw.ones(2, 2, device=device))
    with pytest.raises(ValueError, match="has 2 operands but 1"):
        fw.einsum("ij,jk->ik", x)
    with pytest.raises(TypeError, match="size must be a tuple"):
        fw.randint(0, 5, 3)
    with pytest.raises(ValueError, match="low must be less than high"):
        fw.randint(5, 5, (2,))
    with pytest.raises(TypeError, match="got unbiased twice"):
        x.std(True, unbiased=False)


@pytest.mark.parametrize("value", [float("nan"), float("inf"), -float("inf"), 1e30, 2**63])
def test_masked_fill_of_an_integer_tensor_refuses_what_int64_cannot_hold(device, value):
    """PyTorch raises 'value cannot be converted ... without overflow'; numpy, torch and cupy failed
    differently per device (ValueError, RuntimeError, OverflowError). One ValueError naming the value."""
    ints, mask = fw.zeros(2, 3, dtype=fw.int64, device=device), fw.ones(2, 3, dtype=fw.bool, device=device)
    with pytest.raises(ValueError, match=r"masked_fill\(\): value .* cannot be converted to int64"):
        ints.masked_fill(mask, value)
    with pytest.raises(RuntimeError, match="without overflow"):
        torch.zeros(2, 3, dtype=torch.int64).masked_fill(torch.ones(2, 3, dtype=torch.bool), value)
    _same(ints.masked_fill(mask, 2.7), torch.zeros(2, 3, dtype=torch.int64).masked_fill(
        torch.ones(2, 3, dtype=torch.bool), 2.7))  # truncated, as PyTorch


def test_index_select_of_a_0d_input_is_0d_and_messages_do_not_name_the_device(device):
    x = fw.tensor(2.5, device=device)
    _same(x.index_select(0, fw.tensor([0], device=device)), torch.tensor(2.5).index_select(0, torch.tensor([0])))
    _same(fw.index_select(x, 0, fw.tensor(0, device=device)), torch.tensor(2.5).index_select(0, torch.tensor(0)))
    with pytest.raises(ValueError) as info:
        fw.ones(3, device=device).repeat_interleave(fw.tensor([1, -2, 1], device=device))
    assert str(info.value) == ("repeat_interleave(): repeats must be a non-negative int or 1-D integer tensor, "
                               "got a int64 tensor of [1, -2, 1]")


# ---------------------------------------------------------------------------- device, dtypes, numpy


def test_device_objects(device):
    d = fw.device(device)
    assert d == device and str(d) == device and d.type == device and d.index is None
    assert fw.device("cuda", 0) == "cuda:0" and repr(fw.device("cuda", 0)) == "'cuda:0'"
    assert fw.device("cuda:1").index == 1 and fw.device("cuda:1").type == "cuda"
    t = fw.zeros(2, device=d)
    assert isinstance(t.device, fw.device) and t.device == device and t.device == d
    assert fw.ones(1).to(fw.device(device)).device == device and fw.tensor([1.0], device=d).device.type == device
    with pytest.raises(ValueError, match="expected a name like"):
        fw.device("cuda:x")
    assert "device='" in repr(t)  # the tensor's repr is unchanged


def test_cuda_queries():
    available = fw.cuda.is_available()
    assert isinstance(available, bool) and available == ("cuda" in fw.available_devices())
    assert fw.cuda.device_count() == (1 if available else 0)


def test_dtype_aliases():
    aliases = {"float": "float32", "double": "float64", "half": "float16", "long": "int64", "int": "int32",
               "short": "int16", "bool": "bool", "float32": "float32", "uint8": "uint8", "bfloat16": "bfloat16"}
    for alias, name in aliases.items():
        assert getattr(fw, alias) == name == str(getattr(torch, alias)).removeprefix("torch.")
    assert fw.get_default_dtype() == fw.float32 == fw.tensor([1.0]).dtype
    assert fw.zeros(2, dtype=fw.long).dtype == fw.int64 and fw.ones(1).to(fw.double).dtype == fw.float64
    assert "float" not in fw.__all__ and "sum" not in fw.__all__  # star-imports keep Python's builtins


def test_from_numpy_shares_memory():
    a = np.arange(6, dtype=np.float64).reshape(2, 3)
    t = fw.from_numpy(a)
    assert t.dtype == fw.float64 and t.device == "cpu" and t.shape == (2, 3)
    a[0, 0] = 42.0
    assert t[0, 0].item() == 42.0
    t.numpy()[1, 2] = -1.0
    assert a[1, 2] == -1.0
    assert fw.as_tensor(a).numpy() is not None and fw.as_tensor(a).numpy().base is not None
    with pytest.raises(TypeError, match="expected a numpy.ndarray"):
        fw.from_numpy([1, 2])
    with pytest.raises(TypeError, match="not supported"):
        fw.from_numpy(np.array(["a"]))


# ------------------------------------------------------------------ more torch math and shape ops


_MORE_GRAD_CASES = {  # name -> f(module, x, y) with x, y of shape (3, 4); module is fw or torch
    "sin": lambda m, x, y: m.sin(x), "cos": lambda m, x, y: x.cos(), "log1p": lambda m, x, y: m.log1p(x.abs()),
    "expm1": lambda m, x, y: m.expm1(x), "log2": lambda m, x, y: m.log2(x.abs() + 1),
    "log10": lambda m, x, y: (x.abs() + 1).log10(), "square": lambda m, x, y: m.square(x),
    "reciprocal": lambda m, x, y: m.reciprocal(x + 5), "rsqrt": lambda m, x, y: m.rsqrt(x.abs() + 1),
    "neg": lambda m, x, y: m.neg(x), "sign": lambda m, x, y: m.sign(x) * x, "floor": lambda m, x, y: m.floor(x * 3) + x,
    "ceil": lambda m, x, y: x.ceil() + x, "round": lambda m, x, y: m.round(x, decimals=1) + x,
    "trunc": lambda m, x, y: m.trunc(x * 3) + x, "clamp_min": lambda m, x, y: m.clamp_min(x, 0.1),
    "clamp_max": lambda m, x, y: x.clamp_max(0.1), "logsumexp": lambda m, x, y: m.logsumexp(x, 1),
    "logsumexp_all": lambda m, x, y: x.logsumexp((0, 1), keepdim=True), "norm": lambda m, x, y: m.norm(x),
    "norm_dim": lambda m, x, y: x.norm(dim=1), "norm_p1": lambda m, x, y: x.norm(1, dim=0, keepdim=True),
    "norm_inf": lambda m, x, y: x.norm(float("inf")), "norm_p3": lambda m, x, y: x.norm(3, 1),
    "prod": lambda m, x, y: m.prod(x[0]) + x[0, 0], "prod_dim": lambda m, x, y: x.prod(1),  # x[0, 1] is 0
    "flip": lambda m, x, y: m.flip(x, (0, 1)) * y, "roll": lambda m, x, y: m.roll(x, 1) * y,
    "roll_dims": lambda m, x, y: x.roll((1, -2), (0, 1)) * y,
    "roll_repeated_dim": lambda m, x, y: x.roll((1, 2, -3), (0, 1, -2)) * y,  # dim 0 twice: shifts add
    "unbind": lambda m, x, y: m.unbind(x, 1)[2],
    "chunk": lambda m, x, y: m.chunk(x, 2, 1)[1], "split": lambda m, x, y: m.split(x, [1, 3], 1)[1],
    "masked_select": lambda m, x, y: m.masked_select(x, y > 0),
    "repeat_interleave": lambda m, x, y: m.repeat_interleave(x, 2, dim=0),
    "repeat_interleave_counts": lambda m, x, y: x.repeat_interleave(m.tensor([1, 0, 2, 1]), dim=1),
    "diag_vector": lambda m, x, y: m.diag(x[0], 1), "diag_matrix": lambda m, x, y: m.diag(x, -1),
    "trace": lambda m, x, y: m.trace(x), "dot": lambda m, x, y: m.dot(x[0], y[0]), "mv": lambda m, x, y: m.mv(x, y[0]),
    "outer": lambda m, x, y: m.outer(x[0], y[1]), "mm": lambda m, x, y: m.mm(x, y.t()),
    "movedim": lambda m, x, y: x.reshape(3, 2, 2).movedim((0, 1), (2, 0)),
    "swapaxes": lambda m, x, y: m.swapaxes(x, 0, 1),
    "tile": lambda m, x, y: m.tile(x, (2,)), "unflatten": lambda m, x, y: m.unflatten(x, 1, (2, 2)),
    "meshgrid_xy": lambda m, x, y: m.meshgrid(x[0], y[0, :3], indexing="xy")[1] * x[1, :3].reshape(3, 1),
}


@pytest.mark.parametrize("name", sorted(_MORE_GRAD_CASES))
def test_more_ops_grad(device, rng, name):
    f = _MORE_GRAD_CASES[name]
    a, b = rng.standard_normal((3, 4)), rng.standard_normal((3, 4))
    a[0, 1] = 0.0  # prod's gradient through an exact zero; sign/norm at zero

    xs, rs = [_ours(v, device) for v in (a, b)], [_ref(v) for v in (a, b)]
    out, expect = f(fw, *xs), f(torch, *rs)
    assert rel_err(out, expect) <= 1e-4
    g = rng.standard_normal(tuple(expect.shape))
    out.backward(fw.tensor(g.astype(np.float32), device=device))
    expect.backward(torch.tensor(g))
    for x, r in zip(xs, rs, strict=True):
        if r.grad is None or not r.grad.abs().sum():
            assert x.grad is None or not np.abs(x.grad.numpy()).sum()
        else:
            assert rel_err(x.grad, r.grad) <= 1e-4


def test_more_ops_exact(device, rng):
    a = rng.integers(-3, 4, size=(3, 4))
    x, r = fw.tensor(a, device=device), torch.tensor(a)
    f = fw.tensor(a.astype(np.float32) / 2, device=device)
    fr = torch.tensor(a.astype(np.float32) / 2)
    for name in ("sign", "floor", "round", "abs", "neg"):
        _same(getattr(x, name)(), getattr(r, name)())  # integer in, integer out
    assert x.sin().dtype == fw.float32  # int -> float32, as torch
    np.testing.assert_allclose(x.sin().numpy(), r.sin().numpy(), rtol=1e-6, atol=1e-7)
    _same(x.prod(1), r.prod(1))
    _same((x > -5).prod(), (r > -5).prod())
    _same(fw.count_nonzero(x, 0), torch.count_nonzero(r, 0))
    _same(fw.logical_and(x > 0, f), torch.logical_and(r > 0, fr))
    _same(fw.logical_xor(x, f > 0), torch.logical_xor(r, fr > 0))
    _same(fw.logical_not(f), torch.logical_not(fr))
    _same(fw.argwhere(x > 0), torch.argwhere(r > 0))
    _same(fw.isclose(f, f + 1e-6), torch.isclose(fr, fr + 1e-6))
    flipped = a[::-1].astype(np.float32) / 2
    _same(f.isclose(fw.tensor(flipped, device=device), atol=0.6), fr.isclose(torch.tensor(flipped), atol=0.6))
    n = fw.tensor([np.nan, np.inf, -np.inf, 1.0], device=device)
    nr = torch.tensor([np.nan, np.inf, -np.inf, 1.0])
    _same(n.isclose(n, equal_nan=True), nr.isclose(nr, equal_nan=True))
    _same(fw.nan_to_num(n), torch.nan_to_num(nr))
    _same(n.nan_to_num(nan=0.5, posinf=2.0), nr.nan_to_num(nan=0.5, posinf=2.0))
    assert fw.allclose(f, f + 1e-9) and not fw.allclose(f, f + 1)
    assert x.nelement() == 12 and x.ndimension() == 2 and x.is_contiguous()
    assert x.get_device() == (0 if fw.get_backend(device).is_gpu else -1)
    assert f.type() == "kernelgrad.FloatTensor" and x.type(fw.float64).dtype == fw.float64
    fw.manual_seed(int(rng.integers(2**31)))
    coin = fw.bernoulli(fw.tensor([0.0, 1.0, 0.5] * 400, device=device))
    assert coin.dtype == fw.float32 and coin.shape == (1200,)
    assert coin.tolist()[0::3] == [0.0] * 400 and coin.tolist()[1::3] == [1.0] * 400
    assert 140 < sum(coin.tolist()[2::3]) < 260  # half of 400, +-6 standard deviations
    with pytest.raises(ValueError, match=r"in \[0, 1\]"):
        fw.bernoulli(fw.tensor([1.5], device=device))
    with pytest.raises(ValueError, match="not supported"):
        fw.norm(f, "nuc")


@pytest.mark.parametrize("p", [3, 0.5, 1.5, 0])
def test_p_norm_gradient_at_zeros_matches_torch(device, p):
    """PyTorch's p-norm gradient is 0 where the norm is 0 (and, for p < 1, at a zero element), not the
    0 * inf = NaN of composing abs() ** p and ** (1 / p); p = 0 has no gradient (found by fuzzing)."""
    rows = np.array([[0.0, 0.0, 0.0], [0.0, 1.0, -2.0], [3.0, -3.0, 0.5]])
    x, r = _ours(rows, device), _ref(rows)
    out, ref = x.norm(p, dim=1), r.norm(p, dim=1)
    assert rel_err(out, ref) <= 1e-6 and out.requires_grad
    out.sum().backward()
    ref.sum().backward()
    if p == 0:
        assert x.grad is None and r.grad is None
    else:
        assert np.all(np.isfinite(x.grad.numpy())) and rel_err(x.grad, r.grad) <= 1e-5


@pytest.mark.parametrize("shape,dim,keepdim", [((4, 0, 2), 1, True), ((0, 3), (0, 1), False), ((0, 3), 0, False),
                                                ((3, 0), 0, True)])
def test_logsumexp_over_empty_dims_matches_torch(device, shape, dim, keepdim):
    """An empty reduced dim is log(0) = -inf, as PyTorch (was an IndexError naming amax())."""
    x, r = fw.zeros(shape, device=device, requires_grad=True), torch.zeros(shape, requires_grad=True)
    out, ref = fw.logsumexp(x, dim, keepdim), torch.logsumexp(r, dim, keepdim)
    assert out.dtype == fw.float32 and out.shape == tuple(ref.shape)
    np.testing.assert_array_equal(out.numpy(), ref.detach().numpy())
    out.sum().backward()
    ref.sum().backward()
    assert x.grad.shape == tuple(r.grad.shape)


def test_argmax_keepdim_without_dim_and_max_of_bools(device, rng):
    a = rng.standard_normal((3, 4, 2))
    x, r = fw.tensor(a, device=device), torch.tensor(a)
    _same(x.argmax(keepdim=True), r.argmax(keepdim=True))  # (1, 1, 1), not ()
    _same(fw.argmin(x, keepdim=True), torch.argmin(r, keepdim=True))
    b = rng.random((3, 4)) < 0.5
    xb, rb = fw.tensor(b, device=device), torch.tensor(b)
    for op, d in (("max", 0), ("min", -1), ("max", 1)):
        ours, ref = getattr(xb, op)(d), getattr(rb, op)(d)
        _same(ours.values, ref.values)
        _same(ours.indices, ref.indices)


def test_torch_style_submodules_are_reachable_from_the_package():
    """`import torch` gives torch.nn, torch.optim, torch.utils.data, torch.autograd, torch.cuda: so does ours."""
    import subprocess
    import sys

    code = ("import framework as fw; fw.nn.Linear; fw.nn.functional.relu; fw.nn.init.normal_; fw.optim.Adam; "
            "fw.optim.lr_scheduler.StepLR; fw.utils.data.DataLoader; fw.autograd.grad; fw.cuda.is_available")
    subprocess.run([sys.executable, "-c", code], check=True)  # a fresh interpreter: no test imported them first


@pytest.mark.parametrize("data", [[1, 2], [1.5, -2.0], [True, False], np.array([3, 4]), np.array([1.0], np.float64),
                                  np.array([[1, 2]], np.int32)])
def test_legacy_tensor_constructor_is_float32_like_torch(data):
    """torch.Tensor(data) is always the default float dtype; torch.tensor(data) infers it. Same here."""
    legacy, inferred = fw.Tensor(data), fw.tensor(data)
    assert str(legacy.dtype) == str(torch.Tensor(data).dtype).removeprefix("torch.")
    assert str(inferred.dtype) == str(torch.tensor(data).dtype).removeprefix("torch.")
    np.testing.assert_array_equal(legacy.numpy(), torch.Tensor(data).numpy())


@pytest.mark.parametrize("args", [(5,), (2, 3), (2.5,), (True,), (np.float32(1),)])
def test_legacy_tensor_constructor_forms_torch_reads_differently_are_refused(args):
    """torch.Tensor(5) is an uninitialised 5-vector and torch.Tensor(2.5) an error: never a 0-d tensor."""
    with pytest.raises(TypeError, match="Tensor"):
        fw.Tensor(*args)


def test_tensor_copies_its_source_and_from_numpy_shares_it_as_torch():
    """torch.tensor copies a numpy array or another tensor; torch.from_numpy, as_tensor and the legacy
    torch.Tensor constructor share a same-dtype cpu buffer."""
    for lib in (torch, fw):
        a, a64 = np.ones(3, np.float32), np.ones(3, np.float64)
        copied, shared, as_t, legacy, legacy64 = (lib.tensor(a), lib.from_numpy(a), lib.as_tensor(a), lib.Tensor(a),
                                                  lib.Tensor(a64))
        src = lib.ones(3)
        from_tensor = lib.tensor(src) if lib is fw else src.clone()  # torch.tensor(tensor) warns; it copies too
        a[0] = a64[0] = 5.0
        with lib.no_grad():
            src.add_(1.0)
        assert copied.tolist() == legacy64.tolist() == from_tensor.tolist() == [1.0, 1.0, 1.0], lib.__name__
        assert shared.tolist() == as_t.tolist() == legacy.tolist() == [5.0, 1.0, 1.0], lib.__name__
