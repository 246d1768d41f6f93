"""Triton maxpool2d details: ties / NaN / -inf bit for bit against numpy, wrapper-specific bad input,
subnormals, the checked and unchecked argmax, autotune keys, half precision, the index width and the
int64 index variant, and the 2x2 stride-2 16-byte-load kernel (which geometries take it, 16-bit dtypes, the fallback
for an unaligned x).

The shared tests (tests/kernels/test_maxpool2d.py) run the triton backend too; these cover what they do not reach.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from kernels._args import PoolGeometry

from ..conftest import rel_err, tolerance
from ..test_maxpool2d import _compact, _distinct, _torch_pool


def _triton_pool():
    triton_kernels = pytest.importorskip("kernels.triton", reason="needs a CUDA GPU or TRITON_INTERPRET=1")
    return triton_kernels.maxpool2d, ("cuda" if torch.cuda.is_available() else "cpu")


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_triton_matches_numpy_on_ties_nan_and_minus_inf(rng, dtype):
    """Many ties, NaNs, -inf planes and big windows (several BLOCK_K chunks): y and argmax bit-equal numpy's."""
    pool, device = _triton_pool()
    ref = pytest.importorskip("kernels.numpy").maxpool2d
    geometries = [((2, 2), (2, 2), (0, 0)), ((3, 3), (1, 1), (1, 1)), ((3, 2), (1, 2), (1, 1)),
                  ((9, 9), (4, 3), (4, 2)), ((12, 12), (5, 5), (0, 6))]
    for kernel, stride, padding in geometries:
        x = rng.integers(-3, 3, (2, 3, 13, 14)).astype(dtype)
        x[0, 0, 2, 3] = np.nan
        x[1, 1, 0, 0] = np.nan
        x[1, 2, 5:9, 5:9] = -np.inf
        x[0, 1] = -np.inf
        y, argmax = pool.maxpool2d_forward(torch.from_numpy(x).to(device), kernel, stride, padding)
        ref_y, ref_argmax = ref.maxpool2d_forward(x, kernel, stride, padding)
        assert str(argmax.dtype) == f"torch.{ref_argmax.dtype}"  # int8, or int16 for the 12x12 window
        np.testing.assert_array_equal(y.cpu().numpy(), ref_y)
        np.testing.assert_array_equal(argmax.cpu().numpy(), ref_argmax)
        dy = rng.standard_normal(ref_y.shape).astype(dtype)
        dx = pool.maxpool2d_backward(torch.from_numpy(dy).to(device), argmax, x.shape, kernel, stride, padding)
        ref_dx = ref.maxpool2d_backward(dy, ref_argmax, x.shape, kernel, stride, padding)
        assert rel_err(dx.cpu().numpy(), ref_dx) <= tolerance(dtype)


def test_triton_specific_bad_inputs():
    pool, device = _triton_pool()
    with pytest.raises(TypeError, match=r"\bx\b.*torch.Tensor"):
        pool.maxpool2d_forward(np.ones((1, 1, 4, 4)), 1, 1, 0)
    x = torch.ones((1, 1, 4, 4), device=device)
    with pytest.raises(ValueError, match=r"\bx\b.*contiguous"):
        pool.maxpool2d_forward(x.transpose(2, 3), 2, 2, 0)
    y, argmax = pool.maxpool2d_forward(x, 2, 2, 0)
    assert argmax.dtype == pool.argmax_dtype(4) == torch.int8
    with pytest.raises(TypeError, match=r"argmax"):
        pool.maxpool2d_backward(y, argmax.float(), (1, 1, 4, 4), 2, 2, 0)
    with pytest.raises(TypeError, match=r"argmax"):
        pool.maxpool2d_backward(y, argmax.cpu().numpy(), (1, 1, 4, 4), 2, 2, 0)
    with pytest.raises(ValueError, match=r"argmax"):
        pool.maxpool2d_backward(y, argmax + 4, (1, 1, 4, 4), 2, 2, 0)
    with pytest.raises(ValueError, match=r"argmax"):
        pool.maxpool2d_backward(y, argmax - 1, (1, 1, 4, 4), 2, 2, 0)
    # any integer dtype is accepted, like numpy
    dx = pool.maxpool2d_backward(y, argmax.long(), (1, 1, 4, 4), 2, 2, 0)
    assert float(dx.sum()) == 4.0


def _subnormals(rng, shape) -> np.ndarray:
    """float32 subnormals of both signs (every exponent bit zero), a few of them the smallest one."""
    bits = rng.integers(1, 2**23, size=shape).astype(np.uint32)
    bits |= rng.integers(0, 2, size=shape).astype(np.uint32) << np.uint32(31)
    bits.reshape(-1)[:3] = [1, 0x80000001, 0x007FFFFF]
    x = bits.view(np.float32)
    assert np.all(x != 0) and np.all(np.abs(x) < np.finfo(np.float32).tiny)
    return x


def test_triton_subnormals_match_numpy_bit_for_bit(rng):
    """Subnormals are kept (no flush to zero): y, argmax and dx bit-equal numpy's, ties and overlaps included."""
    pool, device = _triton_pool()
    ref = pytest.importorskip("kernels.numpy").maxpool2d
    x = _subnormals(rng, (2, 3, 9, 8))
    for kernel, stride, padding in [((2, 2), (2, 2), (0, 0)), ((3, 3), (1, 1), (1, 1))]:
        y, argmax = pool.maxpool2d_forward(torch.from_numpy(x).to(device), kernel, stride, padding)
        ref_y, ref_argmax = ref.maxpool2d_forward(x, kernel, stride, padding)
        np.testing.assert_array_equal(y.cpu().numpy().view(np.uint32), ref_y.view(np.uint32))
        np.testing.assert_array_equal(argmax.cpu().numpy(), ref_argmax)
        dy = _subnormals(rng, ref_y.shape)  # sums of subnormals are exact: any order gives the same bits
        dx = pool.maxpool2d_backward(torch.from_numpy(dy).to(device), argmax, x.shape, kernel, stride, padding)
        ref_dx = ref.maxpool2d_backward(dy, ref_argmax, x.shape, kernel, stride, padding)
        np.testing.assert_array_equal(dx.cpu().numpy().view(np.uint32), ref_dx.view(np.uint32))


def _no_host_read(*args, **kwargs):
    raise AssertionError("the launcher read argmax's values on the host (a device sync on a GPU)")


@pytest.mark.parametrize("argmax_dtype", [torch.int8, torch.int64])
def test_triton_unchecked_argmax_routes_no_gradient_outside_the_window(monkeypatch, rng, argmax_dtype):
    """KERNELGRAD_SYNC_CHECKS=0 (a GPU's behaviour): argmax is never read on the host, and a value outside
    [0, R*S) drops its dy -- also one that a 32-bit truncation would turn into a valid position."""
    pool, device = _triton_pool()
    ref = pytest.importorskip("kernels.numpy").maxpool2d
    monkeypatch.setenv("KERNELGRAD_SYNC_CHECKS", "0")
    x = _distinct(rng, (2, 3, 9, 9), np.float32)
    kernel, stride, padding = (3, 3), (2, 2), (1, 1)
    _, argmax = ref.maxpool2d_forward(x, kernel, stride, padding)
    dy = rng.standard_normal(argmax.shape).astype(np.float32)
    corrupt = np.zeros(argmax.size, dtype=bool)
    corrupt[[0, 5, 17, 30, 44]] = True
    bad = argmax.astype(np.int64).reshape(-1)
    if argmax_dtype == torch.int64:
        bad[[0, 5, 17, 30, 44]] = [-1, 9, 2**32 + int(bad[17]), -(2**40), 2**63 - 1]
    else:
        bad[[0, 5, 17, 30, 44]] = [-1, 9, 127, -128, 10]
    bad = torch.from_numpy(bad.reshape(argmax.shape)).to(argmax_dtype).to(device)
    monkeypatch.setattr(torch, "aminmax", _no_host_read)
    dx = pool.maxpool2d_backward(torch.from_numpy(dy).to(device), bad, x.shape, kernel, stride, padding)
    expected = ref.maxpool2d_backward(np.where(corrupt.reshape(dy.shape), 0, dy), argmax, x.shape, kernel, stride,
                                      padding)
    assert rel_err(dx.cpu().numpy(), expected) <= tolerance(np.float32)
    assert rel_err(dx.cpu().numpy(), ref.maxpool2d_backward(dy, argmax, x.shape, kernel, stride, padding)) > 1e-3


@pytest.mark.parametrize("setting", [None, "1"])
def test_triton_checked_argmax_raises(monkeypatch, setting):
    """On the host (the interpreter) the range check runs by default, and always under KERNELGRAD_SYNC_CHECKS=1."""
    pool, device = _triton_pool()
    if setting is None:
        monkeypatch.delenv("KERNELGRAD_SYNC_CHECKS", raising=False)
    else:
        monkeypatch.setenv("KERNELGRAD_SYNC_CHECKS", setting)
    y, argmax = pool.maxpool2d_forward(torch.ones((1, 1, 4, 4), device=device), 2, 2, 0)
    with pytest.raises(ValueError, match=r"argmax holds values in \[0, 4\], outside \[0, R\*S=4\)"):
        pool.maxpool2d_backward(y, argmax + torch.tensor([[[[0, 4], [0, 0]]]], dtype=torch.int8), (1, 1, 4, 4), 2, 2, 0)


def _count_benchmarks(monkeypatch, kernel, configs) -> list:
    """Give an autotuned kernel two configs and a stand-in benchmark that records what it timed."""
    timed: list = []

    def bench(*args, config, **kwargs):
        timed.append(config)
        return [float(config.kwargs["BLOCK"])]  # the smallest BLOCK "wins"

    monkeypatch.setattr(kernel, "configs", configs)
    monkeypatch.setattr(kernel, "cache", {})
    monkeypatch.setattr(kernel, "_bench", bench)
    return timed


def test_triton_autotune_keys_bucket_the_batch_size(monkeypatch, rng):
    """Two batch sizes in one power-of-two bucket reuse the tuned config; the next bucket tunes once more."""
    import triton

    pool, device = _triton_pool()
    ref = pytest.importorskip("kernels.numpy").maxpool2d
    fwd, bwd = pool._maxpool2d_forward_kernel, pool._maxpool2d_backward_kernel
    assert "total" not in fwd.keys and "total" not in bwd.keys
    assert pool.size_bucket(144) == pool.size_bucket(192) == 256 and pool.size_bucket(288) == 512
    timed_fwd = _count_benchmarks(monkeypatch, fwd, [triton.Config({"BLOCK": b}, num_warps=1) for b in (1024, 512)])
    timed_bwd = _count_benchmarks(monkeypatch, bwd, [triton.Config({"BLOCK": b}, num_warps=1) for b in (128, 64)])
    for N, entries in [(3, 1), (4, 1), (6, 2)]:  # N*C*P*Q = 144, 192 (bucket 256), 288 (bucket 512)
        x = _distinct(rng, (N, 3, 8, 9), np.float32)  # W = 9: the tile kernel (W = 8 would take the vector one)
        y, argmax = pool.maxpool2d_forward(torch.from_numpy(x).to(device), 2, 2, 0)
        dx = pool.maxpool2d_backward(y, argmax, x.shape, 2, 2, 0)
        assert len(fwd.cache) == entries and len(timed_fwd) == 2 * entries
        assert len(bwd.cache) == entries and len(timed_bwd) == 2 * entries
        ref_y, ref_argmax = ref.maxpool2d_forward(x, 2, 2, 0)
        np.testing.assert_array_equal(y.cpu().numpy(), ref_y)
        np.testing.assert_array_equal(dx.cpu().numpy(), ref.maxpool2d_backward(ref_y, ref_argmax, x.shape, 2, 2, 0))
    assert all(c.kwargs["BLOCK"] == 512 for c in fwd.cache.values())


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16], ids=["float16", "bfloat16"])
def test_triton_half_precision_is_exact(rng, dtype):
    """16-bit inputs are compared after an exact widening to float32 (the running max is carried in float32,
    which is what lets the forward compile for a GPU): y and argmax equal PyTorch's, dy routes exactly."""
    pool, device = _triton_pool()
    kernel, stride, padding = (3, 3), (2, 2), (1, 1)
    x = torch.from_numpy(_distinct(rng, (2, 3, 9, 8), np.float32)).to(dtype)  # bfloat16 rounding makes ties: first max
    y, argmax = pool.maxpool2d_forward(x.to(device), kernel, stride, padding)
    ref_y, ref_idx, _ = _torch_pool(x.double().numpy(), kernel, stride, padding)
    assert y.dtype == dtype
    np.testing.assert_array_equal(y.double().cpu().numpy(), ref_y)
    np.testing.assert_array_equal(argmax.cpu().numpy(), _compact(ref_idx, 8, kernel, stride, padding))
    dy = torch.from_numpy(rng.integers(-8, 8, ref_y.shape).astype(np.float32)).to(dtype)  # sums stay exact
    dx = pool.maxpool2d_backward(dy.to(device), argmax, tuple(x.shape), kernel, stride, padding)
    _, _, ref_dx = _torch_pool(x.double().numpy(), kernel, stride, padding, dy.double().numpy())
    assert dx.dtype == dtype
    np.testing.assert_array_equal(dx.double().cpu().numpy(), ref_dx)


def test_triton_index_width_and_plane_limit():
    """int32 indices while every flat index plus one block of overshoot fits; a plane of 2**31 elements is refused."""
    pool, _ = _triton_pool()
    limit = 2**31 - pool._MAX_BLOCK
    assert not pool._needs_int64(limit - 1, 10) and pool._needs_int64(10, limit)
    pool._check_plane("maxpool2d_forward", _plane(46340, 46340, 46340, 46340))  # 46340**2 < 2**31 - 1
    with pytest.raises(ValueError, match=r"maxpool2d_forward: one H\*W plane \(65536x32768"):
        pool._check_plane("maxpool2d_forward", _plane(2**16, 2**15, 2**15, 2**14))


def _plane(H: int, W: int, P: int, Q: int) -> PoolGeometry:
    """One H x W plane pooled to P x Q (2x2 windows, stride 2)."""
    return PoolGeometry(N=1, C=1, H=H, W=W, R=2, S=2, P=P, Q=Q, sh=2, sw=2, ph=0, pw=0)


def test_triton_int64_index_variant_matches(monkeypatch, rng):
    """The variant compiled for tensors past 2**31 elements (64-bit plane index) computes the same results."""
    pool, device = _triton_pool()
    ref = pytest.importorskip("kernels.numpy").maxpool2d
    monkeypatch.setattr(pool, "_needs_int64", lambda *numels: True)
    x = rng.integers(-3, 3, (2, 3, 11, 8)).astype(np.float32)
    for kernel, stride, padding in [((3, 3), (2, 2), (1, 1)), ((2, 3), (1, 2), (1, 1)), ((2, 2), (2, 2), (0, 0))]:
        y, argmax = pool.maxpool2d_forward(torch.from_numpy(x).to(device), kernel, stride, padding)
        ref_y, ref_argmax = ref.maxpool2d_forward(x, kernel, stride, padding)
        np.testing.assert_array_equal(y.cpu().numpy(), ref_y)
        np.testing.assert_array_equal(argmax.cpu().numpy(), ref_argmax)
        dy = rng.integers(-4, 4, ref_y.shape).astype(np.float32)
        dx = pool.maxpool2d_backward(torch.from_numpy(dy).to(device), argmax, x.shape, kernel, stride, padding)
        np.testing.assert_array_equal(dx.cpu().numpy(), ref.maxpool2d_backward(dy, ref_argmax, x.shape, kernel,
                                                                                stride, padding))


def test_triton_vector_kernel_takes_aligned_2x2_stride_2_pools_only(rng):
    """2x2 windows, stride 2, no padding, W a multiple of 16 / itemsize, x 16-byte aligned: the 16-byte-load kernel;
    anything else the tile kernel."""
    pool, device = _triton_pool()
    g = pool.maxpool2d_forward_geometry
    x32 = torch.zeros((1, 2, 6, 12), device=device)
    assert pool.vector_width(x32, g(x32.shape, 2, 2, 0)) == 4
    assert pool.vector_width(x32.double(), g(x32.shape, 2, 2, 0)) == 2
    assert pool.vector_width(x32.half(), g(x32.shape, 2, 2, 0)) == 0  # float16 needs W % 8 == 0
    assert pool.vector_width(torch.zeros((1, 2, 6, 16), dtype=torch.bfloat16, device=device),
                             g((1, 2, 6, 16), 2, 2, 0)) == 8
    for kernel, stride, padding in [(2, 2, 1), (2, 1, 0), (3, 3, 0), ((2, 1), 2, 0)]:
        assert pool.vector_width(x32, g(x32.shape, kernel, stride, padding)) == 0
    shifted = torch.zeros(1 + 2 * 6 * 12, device=device)[1:].view(1, 2, 6, 12)  # contiguous, 4 bytes off alignment
    assert shifted.is_contiguous() and pool.vector_width(shifted, g(shifted.shape, 2, 2, 0)) == 0


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16], ids=["float16", "bfloat16"])
def test_triton_vector_kernel_half_precision_and_the_unaligned_fallback(rng, dtype):
    """The 16-bit vector path (8 elements per load) equals PyTorch's pool, plain and with the ReLU, and so does the
    tile kernel an unaligned copy of x falls back to; odd H leaves the last input row unread."""
    pool, device = _triton_pool()
    x = torch.from_numpy(rng.standard_normal((2, 3, 7, 16)).astype(np.float32)).to(dtype)
    x[0, 0, 0, :4] = float("nan")
    shifted = torch.empty(1 + x.numel(), dtype=dtype)[1:].view(x.shape)
    shifted.copy_(x)
    ref_y, ref_idx = torch.nn.functional.max_pool2d(x.double(), 2, 2, 0, return_indices=True)
    relu_y, relu_idx = torch.nn.functional.max_pool2d(torch.relu(x.double()), 2, 2, 0, return_indices=True)
    expected = _compact(ref_idx.numpy(), 16, (2, 2), (2, 2), (0, 0))
    relu_expected = np.where(relu_y.numpy() == 0, -1, _compact(relu_idx.numpy(), 16, (2, 2), (2, 2), (0, 0)))
    for source in (x, shifted):
        assert pool.vector_width(source, pool.maxpool2d_forward_geometry(source.shape, 2, 2, 0)) == (8 if source is x
                                                                                                     else 0)
        y, argmax = pool.maxpool2d_forward(source.to(device), 2, 2, 0)
        np.testing.assert_array_equal(y.double().cpu().numpy(), ref_y.numpy())
        np.testing.assert_array_equal(argmax.cpu().numpy(), expected)
        y, argmax = pool.relu_maxpool2d_forward(source.to(device), 2, 2, 0)
        np.testing.assert_array_equal(y.double().cpu().numpy(), relu_y.numpy())
        np.testing.assert_array_equal(argmax.cpu().numpy(), relu_expected)
