"""The GPU kernel backends (Triton and CuPy) on a real GPU (``pytest -m gpu``): larger shapes, half precision.

The shared kernel tests already run both GPU backends on small awkward shapes in float32/float64 (under
Triton's interpreter and the CUDA emulator on the CPU, natively on a GPU). These add what only a GPU can
check: realistic sizes that span many blocks, autotune configs and tensor-core tiles, and
float16/bfloat16 against a float64 PyTorch reference (≤ 1e-2), float32 (≤ 1e-4). They skip without CUDA.
CuPy has no bfloat16 dtype, so the cupy backend runs float32 and float16 only.
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


GPU_BACKENDS = ["triton", "cupy"]


@pytest.fixture(params=GPU_BACKENDS)
def backend(request) -> str:
    return request.param


def _kernels(backend: str, dtype: torch.dtype = torch.float32):
    if not torch.cuda.is_available():
        pytest.skip("needs an NVIDIA GPU")
    if backend == "cupy" and dtype == torch.bfloat16:
        pytest.skip("CuPy has no bfloat16 dtype")
    if backend == "triton":
        import kernels.triton as kt
    else:
        kt = pytest.importorskip("kernels.cupy", reason="cupy is not installed")
    return kt


def _cuda(a: torch.Tensor, dtype: torch.dtype, backend: str = "triton"):
    t = a.to(device="cuda", dtype=dtype).contiguous()
    if backend == "cupy":
        import cupy

        return cupy.asarray(t)  # zero-copy through __cuda_array_interface__
    return t


def _name(dtype) -> str:
    return str(dtype).removeprefix("torch.")


def _host(t) -> np.ndarray:
    if not isinstance(t, torch.Tensor):  # a cupy array
        return t.get()
    return t.detach().float().cpu().numpy() if t.dtype == torch.bfloat16 else t.detach().cpu().numpy()


@pytest.mark.parametrize("dtype, tol", DTYPES, ids=DTYPE_IDS)
@pytest.mark.parametrize("xshape, wshape, stride, padding", [
    ((8, 64, 28, 28), (64, 64, 3, 3), (1, 1), (1, 1)),
    ((4, 3, 65, 63), (32, 3, 7, 7), (2, 2), (3, 3)),
    ((16, 96, 14, 14), (160, 96, 1, 1), (1, 1), (0, 0)),
    ((2, 40, 33, 17), (24, 40, 3, 2), (3, 2), (1, 0)),
])
def test_conv2d_large_and_half(backend, xshape, wshape, stride, padding, dtype, tol):
    kt = _kernels(backend, dtype)
    dev = lambda t: _cuda(t, dtype, backend)  # noqa: E731
    x = torch.randn(xshape, dtype=torch.float64)
    w = torch.randn(wshape, dtype=torch.float64) / np.sqrt(np.prod(wshape[1:]))
    b = torch.randn(wshape[0], dtype=torch.float64)
    xr, wr, br = (t.clone().requires_grad_(True) for t in (x, w, b))
    ref = TF.conv2d(xr, wr, br, stride, padding)
    dy = torch.randn_like(ref)
    ref_dx, ref_dw = torch.autograd.grad(ref, (xr, wr), dy)
    y = kt.conv2d.conv2d_forward(dev(x), dev(w), dev(b), stride, padding)
    assert _name(y.dtype) == _name(dtype) and rel_err(_host(y), ref.detach().numpy()) <= tol
    dx = kt.conv2d.conv2d_backward_input(dev(dy), dev(w), xshape, stride, padding)
    dw = kt.conv2d.conv2d_backward_weight(dev(dy), dev(x), wshape, stride, padding)
    assert rel_err(_host(dx), ref_dx.numpy()) <= tol
    assert rel_err(_host(dw), ref_dw.numpy()) <= tol


@pytest.mark.parametrize("dtype, tol", DTYPES, ids=DTYPE_IDS)
@pytest.mark.parametrize("shape, kernel, stride, padding", [
    ((8, 64, 112, 112), (3, 3), (2, 2), (1, 1)),
    ((64, 32, 28, 28), (2, 2), (2, 2), (0, 0)),
])
def test_maxpool2d_large_and_half(backend, shape, kernel, stride, padding, dtype, tol):
    kt = _kernels(backend, dtype)
    dev = lambda t: _cuda(t, dtype, backend)  # noqa: E731
    x = torch.randn(shape, dtype=torch.float64)
    xh = dev(x)
    # The reference pools the *rounded* input, so ties created by rounding resolve the same way.
    xr = torch.from_numpy(_host(xh)).double().requires_grad_(True)
    ref = TF.max_pool2d(xr, kernel, stride, padding)
    dy = torch.randn_like(ref)
    (ref_dx,) = torch.autograd.grad(ref, (xr,), dy)
    y, argmax = kt.maxpool2d.maxpool2d_forward(xh, kernel, stride, padding)
    assert _name(argmax.dtype) == "int8"
    assert rel_err(_host(y), ref.detach().numpy()) <= tol
    dx = kt.maxpool2d.maxpool2d_backward(dev(dy), argmax, shape, kernel, stride, padding)
    assert rel_err(_host(dx), ref_dx.numpy()) <= tol


@pytest.mark.parametrize("dtype, tol", DTYPES, ids=DTYPE_IDS)
@pytest.mark.parametrize("M, K, N", [(512, 768, 1024), (257, 784, 509), (2048, 1024, 2048)])
def test_linear_relu_large_and_half(backend, M, K, N, dtype, tol):
    kt = _kernels(backend, dtype)
    dev = lambda t: _cuda(t, dtype, backend)  # noqa: E731
    x = torch.randn(M, K, dtype=torch.float64)
    w = torch.randn(N, K, dtype=torch.float64) / np.sqrt(K)
    b = torch.randn(N, dtype=torch.float64)
    xr, wr, br = (t.clone().requires_grad_(True) for t in (x, w, b))
    ref = torch.relu(TF.linear(xr, wr, br))
    dy = torch.randn_like(ref)
    ref_grads = torch.autograd.grad(ref, (xr, wr, br), dy)
    y = kt.linear_relu.linear_forward(dev(x), dev(w), dev(b), True)
    assert rel_err(_host(y), ref.detach().numpy()) <= tol
    grads = kt.linear_relu.linear_backward(dev(dy), dev(x), dev(w), y, True)
    for ours, theirs in zip(grads, ref_grads):
        assert rel_err(_host(ours), theirs.numpy()) <= tol


@pytest.mark.parametrize("dtype, tol", DTYPES, ids=DTYPE_IDS)
@pytest.mark.parametrize("M, V", [(512, 32000), (64, 128256), (4096, 10)])
def test_softmax_xent_large_and_half(backend, M, V, dtype, tol):
    kt = _kernels(backend, dtype)
    dev = lambda t: _cuda(t, dtype, backend)  # noqa: E731
    logits = 3 * torch.randn(M, V, dtype=torch.float64)
    target = torch.randint(0, V, (M,))
    target[::7] = -100
    lh = dev(logits)
    lr = torch.from_numpy(_host(lh)).double().requires_grad_(True)  # reference on the rounded logits
    ref = TF.cross_entropy(lr, target, ignore_index=-100)
    (ref_grad,) = torch.autograd.grad(ref, (lr,))
    loss, dlogits = kt.softmax_xent.softmax_cross_entropy_forward(lh, _cuda(target, torch.int64, backend), -100)
    assert abs(float(loss) - ref.item()) <= tol * abs(ref.item())
    assert rel_err(_host(dlogits), ref_grad.numpy()) <= tol


@pytest.mark.parametrize("numel", [1 << 22, (1 << 22) + 12345])
@pytest.mark.parametrize("offset", [0, (1 << 32) - 1000])
def test_dropout_masks_equal_numpy_on_gpu(backend, rng, numel, offset):
    kt = _kernels(backend)
    from kernels.numpy import dropout as ref_dropout

    x = rng.uniform(1, 2, numel).astype(np.float32)
    y = _host(kt.dropout.dropout_forward(_cuda(torch.from_numpy(x), torch.float32, backend), 0.3, 1234567, offset))
    expected = ref_dropout.dropout_forward(x, 0.3, 1234567, offset)
    assert np.array_equal(y != 0, expected != 0)
    np.testing.assert_array_equal(y, expected)
