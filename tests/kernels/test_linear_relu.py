"""linear(+bias)(+ReLU) kernels against torch (float64 CPU), finite differences, and bad input.

Every backend runs every test, and so does every rung of the linear ladders below the production kernel
(``triton/rung0_naive``, ``triton/rung5_tma_persistent``, ...: ``ladder_params``), except two heavy cases
(:func:`_lower_rung_subset`): the float64 finite differences (76 forward calls per case; the rungs' gradients are
held to torch's float64 gradients by every other test) and three of the four M64K128N64 variants (the one shape
with several tiles per axis under the interpreter's 16-wide tiles, half of the file's interpreter time: the rungs
keep its float32 ReLU case, which walks the tile order, the mask and db across tiles). Every other value test (five
shapes in float32 and float64, with and without ReLU), the bias-free, exact-mask, bad-input and NaN / inf cases run on
every rung.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from .conftest import ladder_params, load_ladder_backend, rel_err, tolerance, torch_reference

F = torch.nn.functional


@pytest.fixture(params=ladder_params("linear_relu"))
def kernel_backend(request):
    """Every backend, and every rung of the linear ladders below the production kernel: each rung passes the same
    tests."""
    return load_ladder_backend(request.param, "linear_relu")


def _lower_rung_subset(kb, reason: str) -> None:
    """Skip a heavy case for a ladder rung below production (the module docstring's subset)."""
    if "/" in kb.name:
        pytest.skip(f"{kb.name}: ladder rungs below production run a subset of this test ({reason})")

SHAPES = [(1, 1, 1), (7, 13, 3), (64, 128, 64), (3, 1, 5), (13, 7, 1), (1, 9, 11)]  # (M, K, N)
IDS = [f"M{m}K{k}N{n}" for m, k, n in SHAPES]


def _inputs(rng, shape, dtype, margin=1e-2):
    """x, w, b with every pre-activation at least ``margin`` away from 0 (the ReLU kink), at least one
    active unit, and (when there are several outputs) at least one masked one."""
    M, K, N = shape
    for _ in range(1000):
        x = rng.standard_normal((M, K))
        w = rng.standard_normal((N, K))
        b = rng.standard_normal(N)
        y = x @ w.T + b
        if np.abs(y).min() > margin and np.any(y > 0) and (y.size == 1 or np.any(y < 0)):
            return x.astype(dtype), w.astype(dtype), b.astype(dtype)
    raise AssertionError("could not draw inputs away from the ReLU kink")


def _torch_reference(x, w, b, relu, dy):
    """y and [dx, dw, db] of torch's linear (+ ReLU) in float64."""
    return torch_reference(lambda x, w, b: F.relu(F.linear(x, w, b)) if relu else F.linear(x, w, b), x, w, b,
                           grad_output=dy)


@pytest.mark.parametrize("relu", [True, False], ids=["relu", "linear"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape", SHAPES, ids=IDS)
def test_forward_backward_match_torch(kernel_backend, rng, shape, dtype, relu):
    if shape == (64, 128, 64) and (dtype, relu) != (np.float32, True):
        _lower_rung_subset(kernel_backend, "the multi-tile shape runs in float32 with ReLU")
    kb = kernel_backend
    lin = kb.family("linear_relu")
    x, w, b = _inputs(rng, shape, dtype)
    dy = rng.standard_normal((shape[0], shape[2])).astype(dtype)
    ref_y, (ref_dx, ref_dw, ref_db) = _torch_reference(x, w, b, relu, dy)
    tol = tolerance(dtype)

    y = lin.linear_forward(kb.to_native(x), kb.to_native(w), kb.to_native(b), relu)
    y_np = kb.to_numpy(y)
    assert y_np.dtype == dtype and y_np.shape == ref_y.shape
    assert rel_err(y_np, ref_y) <= tol
    if relu:
        assert np.all(y_np >= 0)

    dx, dw, db = lin.linear_backward(kb.to_native(dy), kb.to_native(x), kb.to_native(w), y, relu)
    assert rel_err(kb.to_numpy(dx), ref_dx) <= tol
    assert rel_err(kb.to_numpy(dw), ref_dw) <= tol
    assert rel_err(kb.to_numpy(db), ref_db) <= tol


def test_no_bias(kernel_backend, rng):
    kb = kernel_backend
    lin = kb.family("linear_relu")
    x, w, _ = _inputs(rng, (5, 7, 3), np.float64)
    y = kb.to_numpy(lin.linear_forward(kb.to_native(x), kb.to_native(w), None, True))
    assert rel_err(y, np.maximum(x @ w.T, 0)) <= 1e-12


def test_relu_mask_comes_from_y(kernel_backend):
    """dy is masked where y <= 0, including exact zeros (torch's ReLU gradient at 0 is 0)."""
    kb = kernel_backend
    lin = kb.family("linear_relu")
    x = np.array([[1.0, 0.0], [0.0, 1.0]])
    w = np.array([[1.0, 0.0], [-1.0, 0.0], [0.0, 0.0]])
    y = lin.linear_forward(kb.to_native(x), kb.to_native(w), None, True)
    np.testing.assert_array_equal(kb.to_numpy(y), [[1.0, 0.0, 0.0], [0.0, 0.0, 0.0]])
    dy = np.full((2, 3), 2.0)
    dx, dw, db = lin.linear_backward(kb.to_native(dy), kb.to_native(x), kb.to_native(w), y, True)
    np.testing.assert_array_equal(kb.to_numpy(db), [2.0, 0.0, 0.0])
    np.testing.assert_array_equal(kb.to_numpy(dw), [[2.0, 0.0], [0.0, 0.0], [0.0, 0.0]])
    np.testing.assert_array_equal(kb.to_numpy(dx), [[2.0, 0.0], [0.0, 0.0]])


@pytest.mark.parametrize("relu", [True, False], ids=["relu", "linear"])
def test_finite_differences_float64(kernel_backend, rng, relu):
    _lower_rung_subset(kernel_backend, "76 forward calls")
    kb = kernel_backend
    lin = kb.family("linear_relu")
    x, w, b = _inputs(rng, (4, 5, 3), np.float64, margin=0.05)
    g = rng.standard_normal((4, 3))

    def loss():
        y = lin.linear_forward(kb.to_native(x), kb.to_native(w), kb.to_native(b), relu)
        return float(np.sum(g * kb.to_numpy(y)))

    def numeric(a, eps=1e-6):
        out = np.zeros_like(a)
        for i in range(a.size):
            old = a.flat[i]
            a.flat[i] = old + eps
            fp = loss()
            a.flat[i] = old - eps
            fm = loss()
            a.flat[i] = old
            out.flat[i] = (fp - fm) / (2 * eps)
        return out

    y = lin.linear_forward(kb.to_native(x), kb.to_native(w), kb.to_native(b), relu)
    dx, dw, db = lin.linear_backward(kb.to_native(g), kb.to_native(x), kb.to_native(w), y, relu)
    assert rel_err(kb.to_numpy(dx), numeric(x)) <= 1e-7
    assert rel_err(kb.to_numpy(dw), numeric(w)) <= 1e-7
    assert rel_err(kb.to_numpy(db), numeric(b)) <= 1e-7


def test_bad_inputs(kernel_backend, rng):
    kb = kernel_backend
    lin = kb.family("linear_relu")
    nat = kb.to_native
    x, w, b = rng.standard_normal((4, 5)), rng.standard_normal((3, 5)), rng.standard_normal(3)
    with pytest.raises(ValueError, match=r"\bK\b"):
        lin.linear_forward(nat(x), nat(w[:, :4].copy()), nat(b), True)
    with pytest.raises(ValueError, match=r"\bb\b"):
        lin.linear_forward(nat(x), nat(w), nat(b[:2].copy()), True)
    with pytest.raises(ValueError, match=r"\bx\b"):
        lin.linear_forward(nat(x[None]), nat(w), nat(b), True)
    with pytest.raises(ValueError, match=r"\bw\b"):
        lin.linear_forward(nat(x), nat(w[0]), nat(b), True)
    with pytest.raises(TypeError, match=r"dtype"):
        lin.linear_forward(nat(x.astype(np.float32)), nat(w), nat(b), True)
    with pytest.raises(TypeError, match=r"\bx\b"):
        lin.linear_forward(nat(x.astype(np.int64)), nat(w.astype(np.int64)), None, False)

    y = lin.linear_forward(nat(x), nat(w), nat(b), True)
    dy = rng.standard_normal((4, 3))
    with pytest.raises(ValueError, match=r"\bdy\b"):
        lin.linear_backward(nat(dy[:, :2].copy()), nat(x), nat(w), y, True)
    with pytest.raises(ValueError, match=r"\by\b"):
        lin.linear_backward(nat(dy), nat(x), nat(w), nat(kb.to_numpy(y)[:2].copy()), True)
    with pytest.raises(ValueError, match=r"\by\b"):
        lin.linear_backward(nat(dy), nat(x), nat(w), None, True)
    with pytest.raises(ValueError, match=r"\bK\b"):
        lin.linear_backward(nat(dy), nat(x), nat(w[:, :4].copy()), y, True)


@pytest.mark.filterwarnings("ignore:invalid value encountered:RuntimeWarning")
@pytest.mark.parametrize("relu", [True, False], ids=["relu", "linear"])
def test_nan_and_inf_propagate_like_torch(kernel_backend, relu):
    """A NaN pre-activation stays NaN through the ReLU (torch, numpy and CUDA C agree; tl.maximum would give 0)."""
    kb = kernel_backend
    lin = kb.family("linear_relu")
    x = np.array([[1.0, np.nan], [2.0, 1.0], [np.inf, 1.0], [-np.inf, 1.0]], dtype=np.float32)
    w = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]], dtype=np.float32)
    b = np.array([0.5, -0.25, 0.0], dtype=np.float32)
    ref = F.linear(torch.tensor(x, dtype=torch.float64), torch.tensor(w, dtype=torch.float64),
                   torch.tensor(b, dtype=torch.float64))
    if relu:
        ref = F.relu(ref)
    y = kb.to_numpy(lin.linear_forward(kb.to_native(x), kb.to_native(w), kb.to_native(b), relu))
    np.testing.assert_array_equal(np.isnan(y), np.isnan(ref.numpy()))
    finite = np.isfinite(ref.numpy())
    np.testing.assert_allclose(y[finite], ref.numpy()[finite], rtol=1e-6)
    np.testing.assert_array_equal(y[np.isinf(ref.numpy())], ref.numpy()[np.isinf(ref.numpy())])
    if relu:  # the backward mask on a finite row (NaN pre-activations: test_nan_pre_activation_passes_its_gradient)
        dy = np.ones_like(y[1:2])
        dx, dw, db = (kb.to_numpy(g) for g in lin.linear_backward(
            kb.to_native(dy), kb.to_native(x[1:2]), kb.to_native(w), kb.to_native(y[1:2]), True))
        np.testing.assert_array_equal(db, (y[1] > 0).astype(np.float32))




@pytest.mark.filterwarnings("ignore:invalid value encountered:RuntimeWarning")
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_nan_pre_activation_passes_its_gradient(kernel_backend, rng, dtype):
    """linear_backward's mask is torch's threshold_backward: dy is zeroed where y <= 0 (exact zeros included)
    and passes where y is NaN (NaN <= 0 is false), and it is a select, so an inf or NaN dy where y <= 0 gives 0.
    On the Triton backend this runs under the interpreter (numpy's comparisons), not a GPU's."""
    kb = kernel_backend
    lin = kb.family("linear_relu")
    M, K, N = 7, 5, 6
    x, w, b = rng.standard_normal((M, K)), rng.standard_normal((N, K)), rng.standard_normal(N)
    b[2] = np.nan  # output column 2 is NaN in every row
    x[3] = 0.0
    b[4], b[5] = 0.0, -0.0  # row 3's pre-activations are exactly 0 in columns 4 and 5
    x, w, b = x.astype(dtype), w.astype(dtype), b.astype(dtype)
    y = lin.linear_forward(kb.to_native(x), kb.to_native(w), kb.to_native(b), True)
    y_np = kb.to_numpy(y)
    assert np.isnan(y_np[:, 2]).all() and not np.isnan(np.delete(y_np, 2, axis=1)).any()
    assert y_np[3, 4] == 0 and y_np[3, 5] == 0
    dy = rng.standard_normal((M, N))
    off = (y_np <= 0)
    assert off.sum() >= 3 and (y_np > 0).any()
    dy[off] = rng.choice([np.inf, -np.inf, np.nan], off.sum())  # must not leak through the mask
    dy = dy.astype(dtype)
    _, refs = _torch_reference(x, w, b, True, dy)
    grads = lin.linear_backward(kb.to_native(dy), kb.to_native(x), kb.to_native(w), y, True)
    for name, got, ref in zip(["dx", "dw", "db"], grads, refs, strict=True):
        got = kb.to_numpy(got)
        assert np.isfinite(ref).all() and np.isfinite(got).all(), name
        assert rel_err(got, ref) <= tolerance(dtype), name
    # column 2's gradients are dy's column 2 passed through, not 0
    np.testing.assert_allclose(kb.to_numpy(grads[2])[2], dy[:, 2].astype(np.float64).sum(), rtol=1e-5)
