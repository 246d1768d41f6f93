"""Type promotion in binary ops follows PyTorch's (torch.result_type), on every device.

The table tests build every (dtype, operand kind) pair, run the op in kernelgrad and in PyTorch on the same
values and compare the result dtype exactly and the values (integers exactly, floats against PyTorch in
float64 with the dtype's tolerance). Gradients through a promotion are checked against torch.autograd.
"""

from __future__ import annotations

import operator

import numpy as np
import pytest
import torch

import framework as fw
import framework.nn as nn
from framework.dtypes import promote_types, result_type
from tests.conftest import pair, rel_err

DTYPES = ["bool", "uint8", "int8", "int16", "int32", "int64", "float16", "float32", "float64"]
TOL = {"float16": 1e-2, "bfloat16": 1e-2, "float32": 1e-4, "float64": 1e-12}


def _torch_dtype(name: str) -> torch.dtype:
    return getattr(torch, name)


def _values(rng: np.random.Generator, dtype: str, shape: tuple[int, ...], low: int = 1, high: int = 4) -> np.ndarray:
    """Nonzero, small values (safe divisors and exponents) of ``dtype``; bool is all True for the same reason."""
    if dtype == "bool":
        return np.ones(shape, dtype=bool)
    if dtype.startswith("float"):
        return rng.uniform(low, high, size=shape).astype(dtype)
    return rng.integers(low, high, size=shape).astype(dtype)


# ---------------------------------------------------------------------------- the rule, without a device


def test_promote_types_matches_torch():
    for a in DTYPES + ["bfloat16"]:
        for b in DTYPES + ["bfloat16"]:
            expected = str(torch.promote_types(_torch_dtype(a), _torch_dtype(b))).removeprefix("torch.")
            assert promote_types(a, b) == expected, (a, b)


def test_result_type_matches_torch():
    """Dimensioned and 0-d tensors of every dtype against each other and against Python numbers (the rule
    only reads ``dtype`` and ``ndim``, so torch tensors stand in for kernelgrad ones)."""
    scalars = [True, 3, -2, 2.5]
    checked = 0
    for a in DTYPES + ["bfloat16"]:
        for a_shape in [(2,), ()]:
            ta = torch.ones(a_shape, dtype=_torch_dtype(a))
            for b in DTYPES + ["bfloat16"]:
                for b_shape in [(2,), ()]:
                    tb = torch.ones(b_shape, dtype=_torch_dtype(b))
                    expected = str(torch.result_type(ta, tb)).removeprefix("torch.")
                    assert result_type(ta, tb) == expected, (a, a_shape, b, b_shape)
                    checked += 1
            for s in scalars:
                expected = str(torch.result_type(ta, s)).removeprefix("torch.")
                assert result_type(ta, s) == expected == result_type(s, ta), (a, a_shape, s)
                checked += 1
    assert checked == 10 * 2 * (10 * 2 + 4)
    assert result_type(fw.ones(2, dtype="int8"), fw.tensor(2.0, dtype="float64"), 1.5) == "float64"


# ---------------------------------------------------------------------------- ops on every device

# The other operand, built from (rng, device): (kernelgrad operand, torch operand).
OTHERS = {
    **{f"tensor-{d}": (lambda rng, dev, d=d: _both(_values(rng, d, (3,)), dev)) for d in DTYPES},
    **{f"0d-{d}": (lambda rng, dev, d=d: _both(_values(rng, d, ()), dev)) for d in ("bool", "int8", "int64", "float16",
                                                                                    "float64")},
    "python-bool": lambda rng, dev: (True, True),
    "python-int": lambda rng, dev: (2, 2),
    "python-float": lambda rng, dev: (1.5, 1.5),
    # numpy scalars act as Python numbers in torch (np.float64 subclasses float; the others convert).
    "np.float64": lambda rng, dev: (np.float64(1.5), 1.5),
    "np.float32": lambda rng, dev: (np.float32(1.5), 1.5),
    "np.int32": lambda rng, dev: (np.int32(3), 3),
}


def _both(values: np.ndarray, device: str):
    return fw.tensor(values, device=device), torch.tensor(values)


def _compare(out, ref, what) -> None:
    assert isinstance(out, fw.Tensor), what
    assert str(out.dtype) == str(ref.dtype).removeprefix("torch."), f"{what}: dtype {out.dtype} != torch's {ref.dtype}"
    got = out.numpy()
    if ref.dtype.is_floating_point:
        expect = ref.double().numpy()
        assert got.shape == expect.shape, what
        if not expect.any():  # e.g. 1.2 // 3.4: exact zeros, which rel_err cannot judge
            np.testing.assert_array_equal(got, expect, err_msg=what)
        else:
            assert rel_err(got, expect) <= TOL[str(out.dtype)], what
    else:
        np.testing.assert_array_equal(got, ref.numpy(), err_msg=what)


ARITH = {"add": operator.add, "sub": operator.sub, "mul": operator.mul, "truediv": operator.truediv,
         "lt": operator.lt, "eq": operator.eq}


@pytest.mark.parametrize("op", list(ARITH))
def test_binary_ops_promote_like_torch(device, rng, op):
    """Every dtype of the left tensor against every kind of right operand, both orders, on one device."""
    fn = ARITH[op]
    for a in DTYPES:
        values = _values(rng, a, (3,))
        x, tx = fw.tensor(values, device=device), torch.tensor(values)
        for name, make in OTHERS.items():
            y, ty = make(rng, device)
            for left, right, tleft, tright, order in ((x, y, tx, ty, "x op y"), (y, x, ty, tx, "y op x")):
                what = f"{a} tensor, {name}: {order} ({op})"
                try:
                    ref = fn(tleft, tright)
                except RuntimeError:  # subtraction with a bool: PyTorch refuses, and so must we (checked below)
                    with pytest.raises(TypeError):
                        fn(left, right)
                    continue
                _compare(fn(left, right), ref, what)


@pytest.mark.parametrize("op", ["floordiv", "mod", "pow"])
def test_integer_style_ops_promote_like_torch(device, rng, op):
    fn = {"floordiv": operator.floordiv, "mod": operator.mod, "pow": operator.pow}[op]
    kinds = {k: v for k, v in OTHERS.items() if "bool" not in k}
    for a in DTYPES[1:]:
        values = _values(rng, a, (3,))
        x, tx = fw.tensor(values, device=device), torch.tensor(values)
        for name, make in kinds.items():
            y, ty = make(rng, device)
            _compare(fn(x, y), fn(tx, ty), f"{a} tensor {op} {name}")
            _compare(fn(y, x), fn(ty, tx), f"{name} {op} {a} tensor")


def test_issue_examples(device):
    """The float64 creep the issue reports: each stays in PyTorch's dtype, and a Linear layer accepts it."""
    i = fw.tensor([1, 2, 3], device=device)
    assert (fw.ones(2, device=device) - np.float64(0.1)).dtype == fw.float32
    assert (i / 2).dtype == fw.float32
    assert (i * 0.5).dtype == fw.float32
    assert (i + 2).dtype == fw.int64
    assert (fw.tensor([True, False], device=device) + 1).dtype == fw.int64
    assert (fw.ones(2, dtype="float16", device=device) + 0.1).dtype == fw.float16
    assert (fw.ones(2, device=device) + fw.tensor(1.0, dtype="float64", device=device)).dtype == fw.float32
    assert (i + fw.tensor(1.0, dtype="float64", device=device)).dtype == fw.float64
    layer = nn.Linear(3, 2).to(device)
    assert layer(i.reshape(1, 3) * 0.5).dtype == fw.float32
    assert layer(i.reshape(1, 3) / 3).dtype == fw.float32


def test_numpy_arrays_promote_like_torch(device, rng):
    """torch hands an ndarray operand to numpy, which promotes it as a full array: float32 - float64 array
    is float64 there, and so here; the tensor keeps its gradient."""
    values = rng.uniform(1, 2, size=3)
    x = fw.tensor(values.astype(np.float32), device=device, requires_grad=True)
    tx = torch.tensor(values.astype(np.float32), requires_grad=True)
    for array in (np.array([0.1, 0.2, 0.3]), np.array(0.25), np.array([2, 3, 4], dtype=np.int32),
                  np.array([0.5], dtype=np.float16)):
        _compare(x - array, tx.detach() - array, f"float32 tensor - {array.dtype} array {array.shape}")
    out = (x * np.array([1.0, 2.0, 3.0])).sum()
    out.backward()
    assert x.grad.dtype == fw.float32
    np.testing.assert_allclose(x.grad.numpy(), [1.0, 2.0, 3.0])


def test_gradients_through_promotion(device, rng):
    """float32 * 0-d float64 (stays float32), int / float32, float16 + Python float: values and gradients
    against PyTorch in float64; each leaf's gradient keeps the leaf's dtype, as in PyTorch."""
    a_np, s_np, n_np = rng.normal(size=(2, 3)), rng.normal(), rng.integers(1, 5, size=(2, 3))
    a = fw.tensor(a_np.astype(np.float32), device=device, requires_grad=True)
    s = fw.tensor(np.float64(s_np), device=device, requires_grad=True)
    ta = torch.tensor(a_np, requires_grad=True)
    ts = torch.tensor(s_np, requires_grad=True)
    n, tn = fw.tensor(n_np, device=device), torch.tensor(n_np)
    out = a * s + n / a - 0.5 * a
    ref = ta * ts + tn / ta - 0.5 * ta
    assert out.dtype == fw.float32
    assert rel_err(out, ref) < 1e-4
    g = rng.normal(size=(2, 3))
    out.backward(fw.tensor(g.astype(np.float32), device=device))
    ref.backward(torch.tensor(g))
    assert a.grad.dtype == fw.float32 and s.grad.dtype == fw.float64
    assert rel_err(a.grad, ta.grad) < 1e-4
    assert rel_err(s.grad, ts.grad) < 1e-4


def test_remainder_gradient_and_floor_divide(device, rng):
    a_np = rng.uniform(-5, 5, size=(7,))
    b_np = rng.uniform(0.5, 2, size=(7,)) * rng.choice([-1, 1], size=7)
    (a, ta), (b, tb) = pair(a_np, device), pair(b_np, device)
    out, ref = a % b, ta % tb
    assert rel_err(out, ref) < 1e-4
    g = rng.normal(size=7)
    out.backward(fw.tensor(g.astype(np.float32), device=device))
    ref.backward(torch.tensor(g))
    assert rel_err(a.grad, ta.grad) < 1e-4 and rel_err(b.grad, tb.grad) < 1e-4
    assert rel_err(a // b, ta // tb) < 1e-4
    with pytest.raises(RuntimeError, match="derivative of floor_divide"):
        (a // b).sum().backward()
    # div(rounding_mode='floor') has the same values but is differentiable (zero gradient), as in PyTorch
    a.grad = b.grad = ta.grad = tb.grad = None
    out, ref = a.div(b, rounding_mode="floor"), torch.div(ta, tb, rounding_mode="floor")
    assert rel_err(out, ref) < 1e-4
    (out * 3).sum().backward()
    (ref * 3).sum().backward()
    assert not a.grad.numpy().any() and not b.grad.numpy().any() and not ta.grad.any() and not tb.grad.any()


@pytest.mark.filterwarnings("ignore:divide by zero:RuntimeWarning")
def test_integer_division_by_zero_and_negative_powers_raise(device):
    i = fw.tensor([3, -4, 5], device=device)
    for fn in (lambda: i // 0, lambda: i % 0, lambda: i // fw.tensor([1, 0, 1], device=device), lambda: 7 % i.clamp(0)):
        with pytest.raises(ZeroDivisionError, match="integer division by zero"):
            fn()
    with pytest.raises(ValueError, match="integers to negative integer powers"):
        i ** -1
    assert (i.float() // 0).numpy().tolist() == (torch.tensor([3.0, -4.0, 5.0]) // 0).tolist()


def test_integer_scalars_wrap_like_torch(device):
    x = fw.tensor([1, 100, -100], dtype="int8", device=device)
    ref = torch.tensor([1, 100, -100], dtype=torch.int8)
    _compare(x + 1000, ref + 1000, "int8 + 1000")
    _compare(x * 3, ref * 3, "int8 * 3")


def test_where_maximum_minimum_clamp_cat_stack_promote(device, rng):
    n_np, f_np = rng.integers(-3, 4, size=(2, 3)), rng.normal(size=(2, 3))
    n, tn = fw.tensor(n_np, device=device), torch.tensor(n_np)
    f, tf = fw.tensor(f_np.astype(np.float32), device=device), torch.tensor(f_np.astype(np.float32))
    d0, td0 = fw.tensor(0.25, dtype="float64", device=device), torch.tensor(0.25, dtype=torch.float64)
    _compare(fw.where(n > 0, n, 0.5), torch.where(tn > 0, tn, 0.5), "where(int, 0.5)")
    _compare(fw.where(n > 0, n, f), torch.where(tn > 0, tn, tf), "where(int, float32)")
    _compare(fw.where(n > 0, 1.0, 0.0), torch.where(tn > 0, 1.0, 0.0), "where(mask, 1.0, 0.0)")
    _compare(fw.where(n > 0, 2, -1), torch.where(tn > 0, 2, -1), "where(mask, 2, -1)")
    _compare(fw.maximum(n, d0), torch.maximum(tn, td0), "maximum(int, 0-d float64)")
    _compare(fw.minimum(f, d0), torch.minimum(tf, td0), "minimum(float32, 0-d float64)")
    _compare(n.clamp(min=0.5), tn.clamp(min=0.5), "int.clamp(min=0.5)")
    _compare(n.clamp(-1, 2), tn.clamp(-1, 2), "int.clamp(-1, 2)")
    _compare(fw.cat([n, f]), torch.cat([tn, tf]), "cat(int64, float32)")
    _compare(fw.stack([f, f.double()]), torch.stack([tf, tf.double()]), "stack(float32, float64)")


def test_non_numeric_operands_are_refused(device):
    x = fw.ones(2, device=device)
    for bad in ("a", None, 1j):
        with pytest.raises(TypeError):
            x + bad
    with pytest.raises(TypeError, match="matmul.*same non-bool dtype"):
        fw.ones(2, 3, device=device) @ fw.ones(3, dtype="float64", device=device)


def test_float_math_on_integer_tensors_is_float32(device, rng):
    """exp/log/sqrt/sigmoid/tanh of int and bool tensors compute in float32, as PyTorch (numpy would give
    float64, or float16 for bool), with PyTorch's values."""
    import framework.nn.functional as F

    values = rng.integers(1, 5, size=(2, 3))
    for dtype in ("int64", "int32", "uint8", "bool"):
        x = fw.tensor(values.astype(dtype), device=device)
        tx = torch.tensor(values.astype(dtype))
        for name, ours, theirs in (("exp", x.exp(), tx.exp()), ("log", x.log(), tx.log()),
                                   ("sqrt", x.sqrt(), tx.sqrt()), ("sigmoid", x.sigmoid(), tx.sigmoid()),
                                   ("tanh", x.tanh(), tx.tanh()), ("F.sigmoid", F.sigmoid(x), torch.sigmoid(tx)),
                                   ("F.tanh", F.tanh(x), torch.tanh(tx))):
            _compare(ours, theirs, f"{name} of {dtype}")


def test_amin_of_unsigned_and_bool(device):
    """amin is a min, not -amax(-x): negating uint8 wraps around (amin of [0, 5] was 5) and bool refuses it."""
    _compare(fw.tensor([0, 5, 3], dtype="uint8", device=device).amin(),
             torch.tensor([0, 5, 3], dtype=torch.uint8).amin(), "uint8 amin")
    _compare(fw.tensor([[True, False]], device=device).amin(1), torch.tensor([[True, False]]).amin(1), "bool amin")
