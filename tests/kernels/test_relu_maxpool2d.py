"""The fused ReLU -> max-pool pair (``relu_maxpool2d_forward`` / ``relu_maxpool2d_backward``) on every backend,
against PyTorch's ``max_pool2d(relu(x))`` in float64: y bit for bit (the sign of a zero included), argmax = PyTorch's
winner as the compact r*S + s where y > 0 or y is NaN and -1 where y == 0, dx = the gradient through both ops; the GPU
backends also bit for bit against the numpy reference; NaN / inf; bad input raising the same errors everywhere.

Only the production kernels export the pair (the top rung of each ladder is production), so this runs the three
backends, not the rungs below. Triton: the 2x2 stride-2 cases with W a multiple of 16 / itemsize go through the
16-byte-load kernel, the others through the tile kernel (both with ``RELU=True``).
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from .conftest import rel_err, tolerance, torch_reference

F = torch.nn.functional

# (N, C, H, W, kernel, stride, padding): 2x2/s2 (Triton's vector kernel for W = 8), padded and overlapping windows,
# a non-square window with unequal strides
CASES = [
    (2, 3, 6, 8, (2, 2), (2, 2), (0, 0)),
    (1, 2, 7, 9, (3, 3), (2, 2), (1, 1)),
    (2, 2, 5, 6, (3, 3), (1, 1), (1, 1)),
    (2, 1, 7, 6, (3, 2), (2, 1), (1, 1)),
]
IDS = [f"{c[0]}x{c[1]}x{c[2]}x{c[3]}-k{c[4][0]}{c[4][1]}-s{c[5][0]}{c[5][1]}-p{c[6][0]}{c[6][1]}" for c in CASES]


def _torch_relu_pool(x, kernel, stride, padding, dy=None):
    """y, PyTorch's flat indices and (with ``dy``) dx of ``max_pool2d(relu(x))`` in float64."""
    (y, indices), grads = torch_reference(
        lambda x: F.max_pool2d(F.relu(x), kernel, stride, padding, return_indices=True), x, grad_output=dy)
    return y, indices, None if grads is None else grads[0]


def _expected_argmax(y, flat_idx, W, kernel, stride, padding):
    """PyTorch's winner as the compact window position r*S + s, and -1 where y == 0 (the ReLU zeroes the gradient)."""
    P, Q = flat_idx.shape[2:]
    h, w = np.divmod(flat_idx, W)
    r = h - (np.arange(P)[:, None] * stride[0] - padding[0])
    s = w - (np.arange(Q)[None, :] * stride[1] - padding[1])
    return np.where(y == 0, -1, r * kernel[1] + s)


def _inputs(rng, shape, dtype):
    """Distinct values 0.01 apart (a unique winner), about half negative, and some windows wholly negative."""
    n = int(np.prod(shape))
    x = (rng.permutation(n).reshape(shape) * 0.01 - n * 0.005 + 0.0025).astype(dtype)
    x[0, 0, :3, :3] = -np.abs(x[0, 0, :3, :3]) - 1.0
    return x


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_matches_torch_relu_then_max_pool2d(kernel_backend, rng, case, dtype):
    kb = kernel_backend
    pool = kb.family("maxpool2d")
    N, C, H, W, kernel, stride, padding = case
    x = _inputs(rng, (N, C, H, W), dtype)
    ref_y, ref_idx, _ = _torch_relu_pool(x, kernel, stride, padding)
    dy = rng.standard_normal(ref_y.shape).astype(dtype)
    _, _, ref_dx = _torch_relu_pool(x, kernel, stride, padding, dy)

    y, argmax = pool.relu_maxpool2d_forward(kb.to_native(x), kernel, stride, padding)
    y_np, am_np = kb.to_numpy(y), kb.to_numpy(argmax)
    assert y_np.dtype == dtype and am_np.dtype == np.int8
    np.testing.assert_array_equal(y_np, ref_y)
    expected = _expected_argmax(ref_y, ref_idx, W, kernel, stride, padding)
    assert (expected == -1).any() and (expected >= 0).any()
    np.testing.assert_array_equal(am_np, expected)

    dx = kb.to_numpy(pool.relu_maxpool2d_backward(kb.to_native(dy), argmax, x.shape, kernel, stride, padding))
    assert dx.dtype == dtype and dx.shape == x.shape
    assert rel_err(dx, ref_dx) <= tolerance(dtype)


@pytest.mark.parametrize("negative_zero", [True, False], ids=["with-0.0", "without-0.0"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_nan_inf_and_signed_zeros_match_torch(kernel_backend, rng, dtype, negative_zero):
    """NaN is the maximum (the last NaN wins) and passes the ReLU and its gradient; -inf becomes 0; a window of
    negatives and -0.0 gives the first zero's sign (relu(-1) = +0.0, relu(-0.0) = -0.0) and no gradient.  Without
    any -0.0 in x (numpy then pools first and applies the ReLU to the pooled map), windows of +0.0 ties and
    negatives give +0.0 and no gradient."""
    kb = kernel_backend
    pool = kb.family("maxpool2d")
    x = rng.standard_normal((2, 2, 6, 8)).astype(dtype)
    x[0, 0, 0, 0] = x[0, 0, 1, 1] = x[1, 1, 4, 5] = np.nan
    x[0, 1, 2:4, 2:4] = -np.inf
    x[0, 1, 0, 4] = np.inf
    zeros = [-0.0, 0.0, -1.5] if negative_zero else [0.0, -1.5, 0.5]
    x[1, 0] = rng.choice(np.array(zeros, dtype=dtype), size=(6, 8))
    assert bool((np.signbit(x) & (x == 0)).any()) == negative_zero
    for kernel, stride, padding in [((2, 2), (2, 2), (0, 0)), ((3, 3), (2, 2), (1, 1))]:
        dy = rng.integers(-4, 5, F.max_pool2d(torch.from_numpy(x), kernel, stride, padding).shape).astype(dtype)
        ref_y, ref_idx, ref_dx = _torch_relu_pool(x, kernel, stride, padding, dy)
        y, argmax = pool.relu_maxpool2d_forward(kb.to_native(x), kernel, stride, padding)
        y = kb.to_numpy(y)
        np.testing.assert_array_equal(y, ref_y)  # NaN where torch has NaN
        np.testing.assert_array_equal(np.signbit(y[~np.isnan(y)]), np.signbit(ref_y[~np.isnan(ref_y)]))
        np.testing.assert_array_equal(kb.to_numpy(argmax), _expected_argmax(ref_y, ref_idx, 8, kernel, stride, padding))
        dx = kb.to_numpy(pool.relu_maxpool2d_backward(kb.to_native(dy), argmax, x.shape, kernel, stride, padding))
        np.testing.assert_array_equal(dx, ref_dx)  # integer gradients: exact sums


@pytest.mark.parametrize("dtype", [np.float16, np.float32])
def test_gpu_backends_equal_numpy_bit_for_bit(kernel_backend, rng, dtype):
    kb = kernel_backend
    if kb.name == "numpy":
        pytest.skip("numpy is the reference")
    ref = pytest.importorskip("kernels.numpy").maxpool2d
    pool = kb.family("maxpool2d")
    x = rng.standard_normal((2, 3, 6, 16)).astype(dtype)  # W = 16: Triton's vector kernel for both dtypes
    for kernel, stride, padding in [((2, 2), (2, 2), (0, 0)), ((3, 3), (1, 1), (1, 1))]:
        y, argmax = pool.relu_maxpool2d_forward(kb.to_native(x), kernel, stride, padding)
        ref_y, ref_argmax = ref.relu_maxpool2d_forward(x, kernel, stride, padding)
        np.testing.assert_array_equal(kb.to_numpy(y), ref_y)
        np.testing.assert_array_equal(kb.to_numpy(argmax), ref_argmax)
        dy = rng.integers(-8, 8, ref_y.shape).astype(dtype)  # small integers: every backend's sums are exact
        dx = pool.relu_maxpool2d_backward(kb.to_native(dy), argmax, x.shape, kernel, stride, padding)
        np.testing.assert_array_equal(kb.to_numpy(dx), ref.relu_maxpool2d_backward(dy, ref_argmax, x.shape, kernel,
                                                                                   stride, padding))


def test_bad_inputs(kernel_backend, rng):
    """The fused pair raises what the plain pair raises, and its backward's argmax range is [-1, R*S) (checked where
    reading it is free: numpy, the interpreter, the emulator); the plain backward still refuses -1."""
    kb = kernel_backend
    pool = kb.family("maxpool2d")
    nat = kb.to_native
    x = rng.standard_normal((2, 3, 6, 6))
    with pytest.raises(ValueError, match=r"padding"):
        pool.relu_maxpool2d_forward(nat(x), (3, 3), (1, 1), (2, 1))
    with pytest.raises(ValueError, match=r"kernel"):
        pool.relu_maxpool2d_forward(nat(x), (9, 2), (1, 1), (1, 1))
    with pytest.raises(ValueError, match=r"\bx\b"):
        pool.relu_maxpool2d_forward(nat(x[0]), (2, 2), (2, 2), (0, 0))
    with pytest.raises(TypeError, match=r"\bx\b"):
        pool.relu_maxpool2d_forward(nat(x.astype(np.int64)), (2, 2), (2, 2), (0, 0))

    y, argmax = pool.relu_maxpool2d_forward(nat(x), (2, 2), (2, 2), (0, 0))
    dy, am = kb.to_numpy(y), kb.to_numpy(argmax)
    with pytest.raises(ValueError, match=r"\bdy\b"):
        pool.relu_maxpool2d_backward(nat(dy[:, :, :2].copy()), argmax, x.shape, 2, 2, 0)
    with pytest.raises(ValueError, match=r"argmax"):
        pool.relu_maxpool2d_backward(nat(dy), nat(am[:1].copy()), x.shape, 2, 2, 0)
    minus_one = np.full_like(am, -1)
    assert not kb.to_numpy(pool.relu_maxpool2d_backward(nat(dy), nat(minus_one), x.shape, 2, 2, 0)).any()
    with pytest.raises(ValueError, match=r"outside \[-1, R\*S=4\)"):
        pool.relu_maxpool2d_backward(nat(dy), nat(np.full_like(am, -2)), x.shape, 2, 2, 0)
    with pytest.raises(ValueError, match=r"outside \[-1, R\*S=4\)"):
        pool.relu_maxpool2d_backward(nat(dy), nat(np.full_like(am, 4)), x.shape, 2, 2, 0)
    with pytest.raises(ValueError, match=r"outside \[0, R\*S=4\)"):
        pool.maxpool2d_backward(nat(dy), nat(minus_one), x.shape, 2, 2, 0)
