"""Bias + ReLU + dropout in the linear layer's epilogue (``linear_relu_dropout_forward`` / ``_backward``, the dropout
ladder's rung 3 = production) on every backend.

y = dropout(relu(x @ w.T + b)) with output element (i, j) drawing dropout's counter offset + i * N + j: the mask is
checked element by element against the numpy reference's uniforms (a dropped element is exactly +0.0, a kept one
is not), the values against PyTorch float64 ``relu(linear) * keep * scale``, the gradients against PyTorch autograd
of that expression; aligned and unaligned offsets, a counter past 2**32, bias None, p = 0, M == 0, K == 0, NaN /
inf, bad input raising the same errors everywhere; Triton's split-K and TMA paths (the interpreter emulates
tensor descriptors). Only production exports the pair, so this runs the three backends, not the rungs below.
Shapes are small: every case runs under Triton's interpreter and the CUDA emulator.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from .conftest import rel_err, tolerance

ref = pytest.importorskip("kernels.numpy").dropout

# (M, N, K, p, seed, offset, bias): N % 4 == 0 with an aligned offset (CUDA C's four-per-call epilogue), an odd N
# and offset (per element), a counter group past 2**32 with a seed past 2**31 (float16: Triton's TMA path, K and N
# multiples of 8)
CASES = [
    (5, 12, 9, 0.3, 1234, 8, True),
    (7, 13, 17, 0.5, 2**40 + 7, 3, False),
    (4, 16, 32, 0.25, 2**31 + 1, 2**32 - 8, True),
]
IDS = ["aligned", "unaligned-nobias", "past-2^32"]


def _keep(M, N, p, seed, offset):
    """The contract's mask over y[M, N]: counter offset + i * N + j, the numpy reference's uniforms."""
    counters = np.arange(M * N, dtype=np.uint64) + np.uint64(offset)
    return (ref.dropout_rand(seed, counters) > np.float32(p)).reshape(M, N)


def _inputs(rng, M, N, K, dtype, bias=True):
    x = rng.standard_normal((M, K)).astype(dtype)
    w = (rng.standard_normal((N, K)) / np.sqrt(max(K, 1))).astype(dtype)
    b = rng.standard_normal(N).astype(dtype) if bias else None
    return x, w, b


def _torch(x, w, b, keep, p, dy):
    """y and (dx, dw, db) of relu(x @ w.T + b) * keep * scale in float64 autograd (db of a zero bias without b)."""
    scale = float(np.float32(1.0 / (1.0 - p)))
    t = [torch.tensor(a, dtype=torch.float64, requires_grad=True)
         for a in (x, w, b if b is not None else np.zeros(w.shape[0]))]
    z = F.linear(*t)
    y = F.relu(z) * torch.tensor(keep) * scale
    grads = torch.autograd.grad(y, t, torch.tensor(dy, dtype=torch.float64))
    return z.detach().numpy(), y.detach().numpy(), [g.numpy() for g in grads]


def _call_forward(kb, x, w, b, *args):
    nat = kb.to_native
    return kb.family("dropout").linear_relu_dropout_forward(nat(x), nat(w), None if b is None else nat(b), *args)


@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64])
@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_matches_torch_and_the_two_pass_mask(kernel_backend, rng, case, dtype):
    kb = kernel_backend
    M, N, K, p, seed, offset, bias = case
    x, w, b = _inputs(rng, M, N, K, dtype, bias)
    dy = rng.standard_normal((M, N)).astype(dtype)
    keep = _keep(M, N, p, seed, offset)
    assert keep.any() and (~keep).any()
    z, ref_y, ref_grads = _torch(x, w, b, keep, p, dy)
    tol = 2e-3 if dtype == np.float16 else tolerance(dtype)

    y_native = _call_forward(kb, x, w, b, p, seed, offset)
    y = kb.to_numpy(y_native)
    assert y.dtype == dtype and y.shape == (M, N)
    # the mask, element by element: dropped -> exactly +0.0; kept with a clearly positive pre-activation -> nonzero
    assert np.all(y[~keep] == 0) and not np.signbit(y[~keep]).any()
    assert np.all(y[keep & (z > 1e-2)] > 0)
    assert rel_err(y, ref_y) <= tol
    # the same mask as the reference's two passes, dropout_forward(relu(linear)) (which the numpy backend is)
    two_pass = ref.dropout_forward(np.maximum(z, 0).astype(dtype), p, seed, offset)
    assert np.array_equal(two_pass[z > 1e-2] != 0, y[z > 1e-2] != 0)

    grads = kb.family("dropout").linear_relu_dropout_backward(kb.to_native(dy), kb.to_native(x), kb.to_native(w),
                                                            y_native, p)
    for name, got, expected in zip(("dx", "dw", "db"), grads, ref_grads):
        got = kb.to_numpy(got)
        assert got.dtype == dtype and got.shape == expected.shape, name
        assert rel_err(got, expected) <= tol, name


def test_p0_empty_batch_and_no_reduction(kernel_backend, rng):
    """p = 0 is linear + ReLU itself (bit for bit, scale 1 in the backward); M == 0 gives empty y and zero gradients;
    K == 0 gives dropout of relu(b)."""
    kb = kernel_backend
    do, lin = kb.family("dropout"), kb.family("linear_relu")
    nat = kb.to_native
    x, w, b = _inputs(rng, 6, 8, 5, np.float32)
    y = _call_forward(kb, x, w, b, 0.0, 3, 0)
    np.testing.assert_array_equal(kb.to_numpy(y), kb.to_numpy(lin.linear_forward(nat(x), nat(w), nat(b), True)))
    dy = rng.standard_normal((6, 8)).astype(np.float32)
    for got, expected in zip(do.linear_relu_dropout_backward(nat(dy), nat(x), nat(w), y, 0.0),
                             lin.linear_backward(nat(dy), nat(x), nat(w), y, True)):
        np.testing.assert_array_equal(kb.to_numpy(got), kb.to_numpy(expected))

    x0 = np.zeros((0, 5), np.float32)
    y0 = _call_forward(kb, x0, w, b, 0.5, 3, 0)
    assert kb.to_numpy(y0).shape == (0, 8)
    dx, dw, db = (kb.to_numpy(g) for g in do.linear_relu_dropout_backward(nat(np.zeros((0, 8), np.float32)), nat(x0),
                                                                          nat(w), y0, 0.5))
    assert dx.shape == (0, 5) and not dw.any() and not db.any() and dw.shape == (8, 5) and db.shape == (8,)

    b = rng.standard_normal(16).astype(np.float32)
    yk = kb.to_numpy(_call_forward(kb, np.zeros((3, 0), np.float32), np.zeros((16, 0), np.float32), b, 0.5, 3, 1))
    np.testing.assert_array_equal(yk, ref.dropout_forward(np.broadcast_to(np.maximum(b, 0), (3, 16)).copy(), 0.5, 3, 1))


def test_nan_and_inf(kernel_backend, rng):
    """A NaN pre-activation stays NaN where kept and is +0.0 where dropped; its gradient passes (y <= 0 is false for
    NaN); an inf dy where y <= 0 (a negative pre-activation, or a dropped element) gives 0, not NaN."""
    kb = kernel_backend
    do = kb.family("dropout")
    nat = kb.to_native
    M, N, K, p, seed, offset = 8, 8, 4, 0.5, 21, 0
    x, w, b = _inputs(rng, M, N, K, np.float32)
    x[2, 0] = np.nan  # row 2 of y is NaN
    keep = _keep(M, N, p, seed, offset)
    assert keep[2].any() and (~keep[2]).any()
    y = kb.to_numpy(_call_forward(kb, x, w, b, p, seed, offset))
    assert np.isnan(y[2, keep[2]]).all() and (y[2, ~keep[2]] == 0).all()
    dy = np.ones((M, N), np.float32)
    dy[~keep] = np.inf
    dx, dw, db = (kb.to_numpy(g) for g in do.linear_relu_dropout_backward(nat(dy), nat(x), nat(w), nat(y), p))
    expected_db = np.where(y <= 0, 0, dy * np.float32(2.0)).sum(0)  # the NaN row passes 2.0, the inf ones give 0
    np.testing.assert_allclose(db, expected_db, rtol=1e-6)
    assert np.isfinite(db).all() and np.isfinite(dx[np.arange(M) != 2]).all()


def test_bad_inputs(kernel_backend):
    kb = kernel_backend
    do = kb.family("dropout")
    nat = kb.to_native
    x, w, b = np.ones((4, 3), np.float32), np.ones((5, 3), np.float32), np.ones(5, np.float32)
    fwd, bwd = do.linear_relu_dropout_forward, do.linear_relu_dropout_backward
    with pytest.raises(ValueError, match=r"dropout probability p must satisfy 0 <= p < 1, got p=1.0"):
        fwd(nat(x), nat(w), nat(b), 1.0, 1, 0)
    with pytest.raises(TypeError, match=r"p must be a float"):
        fwd(nat(x), nat(w), nat(b), None, 1, 0)
    with pytest.raises(ValueError, match=r"\bseed\b"):
        fwd(nat(x), nat(w), nat(b), 0.5, -1, 0)
    with pytest.raises(ValueError, match=r"offset \+ numel <= 2\*\*63"):
        fwd(nat(x), nat(w), nat(b), 0.5, 1, 2**63 - 19)
    with pytest.raises(TypeError, match=r"\boffset\b"):  # an int only: no device offset here
        fwd(nat(x), nat(w), nat(b), 0.5, 1, nat(np.array([4], np.int64)))
    with pytest.raises(ValueError, match=r"\bb\b"):  # the linear checks come first
        fwd(nat(x), nat(w), nat(np.ones(4, np.float32)), 1.0, 1, 0)
    with pytest.raises(TypeError, match=r"dtype mismatch"):
        fwd(nat(x), nat(w.astype(np.float64)), None, 0.5, 1, 0)
    y, dy = np.ones((4, 5), np.float32), np.ones((4, 5), np.float32)
    with pytest.raises(ValueError, match=r"y \(the forward output\) is required"):
        bwd(nat(dy), nat(x), nat(w), None, 0.5)
    with pytest.raises(ValueError, match=r"y has shape \(4, 4\)"):
        bwd(nat(dy), nat(x), nat(w), nat(np.ones((4, 4), np.float32)), 0.5)
    with pytest.raises(ValueError, match=r"dropout probability p must satisfy"):
        bwd(nat(dy), nat(x), nat(w), nat(y), -0.1)


@pytest.mark.parametrize("dtype", [np.float32, np.float16])
def test_triton_split_k_epilogue(monkeypatch, rng, dtype):
    """Triton's split-K forward applies the dropout in ``_sum_splits_kernel`` after the bias and ReLU, and the split
    backward scales each partial: the same mask, values against torch (thresholds scaled down for the interpreter)."""
    triton_kernels = pytest.importorskip("kernels.triton", reason="needs a CUDA GPU or TRITON_INTERPRET=1")
    lin = triton_kernels.linear_relu
    monkeypatch.setattr(lin, "SPLIT_MIN_LEN", 16)
    monkeypatch.setattr(lin, "SPLIT_GRANULE", 16)
    calls = []
    real = lin._sum_splits_kernel
    monkeypatch.setattr(lin, "_sum_splits_kernel", type("Spy", (), {
        "__getitem__": lambda self, grid: (calls.append(grid), real[grid])[1]})())
    M, N, K, p, seed, offset = 36, 36, 48, 0.4, 77, 2**32 + 1  # every product splits: K, N, M >= 2 * 16
    x, w, b = _inputs(rng, M, N, K, dtype)
    dy = rng.standard_normal((M, N)).astype(dtype)
    keep = _keep(M, N, p, seed, offset)
    z, ref_y, ref_grads = _torch(x, w, b, keep, p, dy)
    device = "cuda" if torch.cuda.is_available() else "cpu"
    t = [torch.from_numpy(a).to(device) for a in (x, w, b, dy)]
    y = triton_kernels.dropout.linear_relu_dropout_forward(t[0], t[1], t[2], p, seed, offset)
    assert len(calls) == 1, "the forward did not split"
    y_np = y.cpu().numpy()
    assert np.all(y_np[~keep] == 0) and np.all(y_np[keep & (z > 1e-2)] > 0)
    tol = 2e-3 if dtype == np.float16 else tolerance(dtype)
    assert rel_err(y_np, ref_y) <= tol
    grads = triton_kernels.dropout.linear_relu_dropout_backward(t[3], t[0], t[1], y, p)
    assert len(calls) == 4, "the backward did not split (dx, dw, db)"
    for name, got, expected in zip(("dx", "dw", "db"), grads, ref_grads):
        assert rel_err(got.cpu().numpy(), expected) <= tol, name
