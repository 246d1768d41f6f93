"""Triton kernels on a real GPU (``pytest -m gpu``): larger shapes and half precision.

The shared kernel tests already run the Triton kernels (under the interpreter on the CPU, natively on a
GPU) in float32/float64 on small awkward shapes. These add what only a GPU can check: realistic sizes
that span many programs and autotune configs, and float16/bfloat16 against a float64 PyTorch reference
(≤ 1e-2), float32 with exact fp32 products (≤ 1e-4). They skip without CUDA.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as TF

from .conftest import rel_err

pytestmark = pytest.mark.gpu

HALF_TOL = 1e-2
FP32_TOL = 1e-4
DTYPES = [(torch.float32, FP32_TOL), (torch.float16, HALF_TOL), (torch.bfloat16, HALF_TOL)]
DTYPE_IDS = ["float32", "float16", "bfloat16"]


def _kernels():
    if not torch.cuda.is_available():
        pytest.skip("needs an NVIDIA GPU")
    import kernels.triton as kt

    return kt


def _cuda(a: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
    return a.to(device="cuda", dtype=dtype).contiguous()


def _host(t: torch.Tensor) -> np.ndarray:
    return t.detach().float().cpu().numpy() if t.dtype == torch.bfloat16 else t.detach().cpu().numpy()


@pytest.mark.parametrize("dtype, tol", DTYPES, ids=DTYPE_IDS)
@pytest.mark.parametrize("xshape, wshape, stride, padding", [
    ((8, 64, 28, 28), (64, 64, 3, 3), (1, 1), (1, 1)),
    ((4, 3, 65, 63), (32, 3, 7, 7), (2, 2), (3, 3)),
    ((16, 96, 14, 14), (160, 96, 1, 1), (1, 1), (0, 0)),
    ((2, 40, 33, 17), (24, 40, 3, 2), (3, 2), (1, 0)),
])
def test_conv2d_large_and_half(xshape, wshape, stride, padding, dtype, tol):
    kt = _kernels()
    x = torch.randn(xshape, dtype=torch.float64)
    w = torch.randn(wshape, dtype=torch.float64) / np.sqrt(np.prod(wshape[1:]))
    b = torch.randn(wshape[0], dtype=torch.float64)
    xr, wr, br = (t.clone().requires_grad_(True) for t in (x, w, b))
    ref = TF.conv2d(xr, wr, br, stride, padding)
    dy = torch.randn_like(ref)
    ref_dx, ref_dw = torch.autograd.grad(ref, (xr, wr), dy)
    y = kt.conv2d.conv2d_forward(_cuda(x, dtype), _cuda(w, dtype), _cuda(b, dtype), stride, padding)
    assert y.dtype == dtype and rel_err(_host(y), ref.detach().numpy()) <= tol
    dx = kt.conv2d.conv2d_backward_input(_cuda(dy, dtype), _cuda(w, dtype), xshape, stride, padding)
    dw = kt.conv2d.conv2d_backward_weight(_cuda(dy, dtype), _cuda(x, dtype), wshape, stride, padding)
    assert rel_err(_host(dx), ref_dx.numpy()) <= tol
    assert rel_err(_host(dw), ref_dw.numpy()) <= tol


@pytest.mark.parametrize("dtype, tol", DTYPES, ids=DTYPE_IDS)
@pytest.mark.parametrize("shape, kernel, stride, padding", [
    ((8, 64, 112, 112), (3, 3), (2, 2), (1, 1)),
    ((64, 32, 28, 28), (2, 2), (2, 2), (0, 0)),
])
def test_maxpool2d_large_and_half(shape, kernel, stride, padding, dtype, tol):
    kt = _kernels()
    x = torch.randn(shape, dtype=torch.float64)
    xh = _cuda(x, dtype)
    # The reference pools the *rounded* input, so ties created by rounding resolve the same way.
    xr = xh.double().cpu().requires_grad_(True)
    ref = TF.max_pool2d(xr, kernel, stride, padding)
    dy = torch.randn_like(ref)
    (ref_dx,) = torch.autograd.grad(ref, (xr,), dy)
    y, argmax = kt.maxpool2d.maxpool2d_forward(xh, kernel, stride, padding)
    assert argmax.dtype == torch.int8
    assert rel_err(_host(y), ref.detach().numpy()) <= tol
    dx = kt.maxpool2d.maxpool2d_backward(_cuda(dy, dtype), argmax, shape, kernel, stride, padding)
    assert rel_err(_host(dx), ref_dx.numpy()) <= tol


@pytest.mark.parametrize("dtype, tol", DTYPES, ids=DTYPE_IDS)
@pytest.mark.parametrize("M, K, N", [(512, 768, 1024), (257, 784, 509), (2048, 1024, 2048)])
def test_linear_relu_large_and_half(M, K, N, dtype, tol):
    kt = _kernels()
    x = torch.randn(M, K, dtype=torch.float64)
    w = torch.randn(N, K, dtype=torch.float64) / np.sqrt(K)
    b = torch.randn(N, dtype=torch.float64)
    xr, wr, br = (t.clone().requires_grad_(True) for t in (x, w, b))
    ref = torch.relu(TF.linear(xr, wr, br))
    dy = torch.randn_like(ref)
    ref_grads = torch.autograd.grad(ref, (xr, wr, br), dy)
    y = kt.linear_relu.linear_forward(_cuda(x, dtype), _cuda(w, dtype), _cuda(b, dtype), True)
    assert rel_err(_host(y), ref.detach().numpy()) <= tol
    grads = kt.linear_relu.linear_backward(_cuda(dy, dtype), _cuda(x, dtype), _cuda(w, dtype), y, True)
    for ours, theirs in zip(grads, ref_grads):
        assert rel_err(_host(ours), theirs.numpy()) <= tol


@pytest.mark.parametrize("dtype, tol", DTYPES, ids=DTYPE_IDS)
@pytest.mark.parametrize("M, V", [(512, 32000), (64, 128256), (4096, 10)])
def test_softmax_xent_large_and_half(M, V, dtype, tol):
    kt = _kernels()
    logits = 3 * torch.randn(M, V, dtype=torch.float64)
    target = torch.randint(0, V, (M,))
    target[::7] = -100
    lh = _cuda(logits, dtype)
    lr = lh.double().cpu().requires_grad_(True)  # reference on the rounded logits
    ref = TF.cross_entropy(lr, target, ignore_index=-100)
    (ref_grad,) = torch.autograd.grad(ref, (lr,))
    loss, dlogits = kt.softmax_xent.softmax_cross_entropy_forward(lh, target.cuda(), -100)
    assert abs(float(loss) - ref.item()) <= tol * abs(ref.item())
    assert rel_err(_host(dlogits), ref_grad.numpy()) <= tol


@pytest.mark.parametrize("numel", [1 << 22, (1 << 22) + 12345])
@pytest.mark.parametrize("offset", [0, (1 << 32) - 1000])
def test_dropout_masks_equal_numpy_on_gpu(numel, offset):
    kt = _kernels()
    from kernels.numpy import dropout as ref_dropout

    x = np.random.default_rng(0).uniform(1, 2, numel).astype(np.float32)
    y = kt.dropout.dropout_forward(torch.from_numpy(x).cuda(), 0.3, 1234567, offset).cpu().numpy()
    expected = ref_dropout.dropout_forward(x, 0.3, 1234567, offset)
    assert np.array_equal(y != 0, expected != 0)
    np.testing.assert_array_equal(y, expected)
