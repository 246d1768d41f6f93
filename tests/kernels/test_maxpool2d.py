"""maxpool2d kernels against torch.nn.functional.max_pool2d (float64 CPU), finite differences, bad input."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from .conftest import rel_err, tolerance

F = torch.nn.functional

# (N, C, H, W, kernel, stride, padding): overlapping windows (k3 s1, k3 s2 p1), non-square kernels,
# stride 3 with a remainder, batch 1, odd sizes.
CASES = [
    (2, 3, 8, 8, (2, 2), (2, 2), (0, 0)),
    (2, 3, 7, 7, (2, 2), (2, 2), (0, 0)),
    (1, 2, 13, 7, (3, 3), (2, 2), (1, 1)),
    (2, 1, 7, 13, (3, 2), (1, 2), (1, 1)),
    (1, 3, 8, 9, (3, 3), (1, 1), (1, 1)),
    (2, 2, 9, 9, (3, 3), (2, 2), (1, 1)),
    (1, 1, 7, 7, (1, 3), (1, 3), (0, 1)),
    (1, 2, 5, 8, (3, 3), (3, 3), (0, 0)),
    (3, 2, 6, 6, (2, 3), (3, 1), (1, 1)),
]
IDS = [
    f"{c[0]}x{c[1]}x{c[2]}x{c[3]}-k{c[4][0]}{c[4][1]}-s{c[5][0]}{c[5][1]}-p{c[6][0]}{c[6][1]}" for c in CASES
]


def _distinct(rng, shape, dtype):
    """Distinct values spaced >= 0.01 apart, so argmax is unique and stable under small perturbations."""
    n = int(np.prod(shape))
    return (rng.permutation(n).reshape(shape) * 0.01 - n * 0.005).astype(dtype)


def _torch_pool(x, kernel, stride, padding, dy=None):
    xt = torch.tensor(x, dtype=torch.float64, requires_grad=True)
    yt, it = F.max_pool2d(xt, kernel, stride, padding, return_indices=True)
    dx = None
    if dy is not None:
        (dx,) = torch.autograd.grad(yt, xt, torch.tensor(dy, dtype=torch.float64))
        dx = dx.numpy()
    return yt.detach().numpy(), it.numpy(), dx


def _compact(flat_idx, W, kernel, stride, padding):
    """torch's flat per-plane index h*W + w -> the window-relative position r*S + s."""
    P, Q = flat_idx.shape[2:]
    h, w = np.divmod(flat_idx, W)
    r = h - (np.arange(P)[:, None] * stride[0] - padding[0])
    s = w - (np.arange(Q)[None, :] * stride[1] - padding[1])
    return r * kernel[1] + s


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_forward_and_backward_match_torch(kernel_backend, rng, case, dtype):
    kb = kernel_backend
    pool = kb.family("maxpool2d")
    N, C, H, W, kernel, stride, padding = case
    x = _distinct(rng, (N, C, H, W), dtype)
    ref_y, ref_idx, _ = _torch_pool(x, kernel, stride, padding)
    dy = rng.standard_normal(ref_y.shape).astype(dtype)
    _, _, ref_dx = _torch_pool(x, kernel, stride, padding, dy)

    y, argmax = pool.maxpool2d_forward(kb.to_native(x), kernel, stride, padding)
    y_np, am_np = kb.to_numpy(y), kb.to_numpy(argmax)
    assert y_np.dtype == dtype and y_np.shape == ref_y.shape
    np.testing.assert_array_equal(y_np, ref_y)  # max is exact
    np.testing.assert_array_equal(am_np, _compact(ref_idx, W, kernel, stride, padding))

    dx = kb.to_numpy(pool.maxpool2d_backward(kb.to_native(dy), argmax, x.shape, kernel, stride, padding))
    assert dx.dtype == dtype and dx.shape == x.shape
    assert rel_err(dx, ref_dx) <= tolerance(dtype)


@pytest.mark.parametrize(
    "kernel, expected",
    [((2, 2), np.int8), ((3, 3), np.int8), ((11, 11), np.int8), ((12, 12), np.int16), ((182, 181), np.int32)],
)
def test_argmax_dtype_is_the_smallest_that_fits(kernel_backend, kernel, expected):
    kb = kernel_backend
    pool = kb.family("maxpool2d")
    x = np.zeros((1, 1, kernel[0], kernel[1]), dtype=np.float32)
    x[0, 0, -1, -1] = 1.0  # winner at the last window position R*S - 1
    y, argmax = pool.maxpool2d_forward(kb.to_native(x), kernel, kernel, (0, 0))
    am = kb.to_numpy(argmax)
    assert am.dtype == expected
    assert am.shape == (1, 1, 1, 1) and am[0, 0, 0, 0] == kernel[0] * kernel[1] - 1
    assert kb.to_numpy(y)[0, 0, 0, 0] == 1.0


def test_ties_resolve_to_first_maximum(kernel_backend):
    kb = kernel_backend
    pool = kb.family("maxpool2d")
    x = np.zeros((1, 1, 2, 4), dtype=np.float32)
    x[0, 0] = [[0.0, 5.0, 5.0, 1.0], [5.0, 2.0, 1.0, 1.0]]  # window 0: 5 at positions 1 and 2
    _, argmax = pool.maxpool2d_forward(kb.to_native(x), (2, 2), (2, 2), (0, 0))
    np.testing.assert_array_equal(kb.to_numpy(argmax)[0, 0, 0], [1, 0])

    # constant input: the first *real* element wins, padding never does; torch agrees
    c = np.full((2, 3, 7, 7), 0.5)
    geometries = [((3, 3), (2, 2), (1, 1)), ((3, 3), (1, 1), (1, 1)), ((2, 2), (2, 2), (0, 0))]
    for kernel, stride, padding in geometries:
        _, ref_idx, _ = _torch_pool(c, kernel, stride, padding)
        y, argmax = pool.maxpool2d_forward(kb.to_native(c), kernel, stride, padding)
        np.testing.assert_array_equal(kb.to_numpy(argmax), _compact(ref_idx, 7, kernel, stride, padding))
        assert np.all(kb.to_numpy(y) == 0.5)


def test_padding_never_wins_even_against_minus_inf(kernel_backend):
    kb = kernel_backend
    pool = kb.family("maxpool2d")
    x = np.full((1, 2, 5, 5), -np.inf)
    _, ref_idx, ref_dx = _torch_pool(x, 3, 2, 1, np.ones((1, 2, 3, 3)))
    _, argmax = pool.maxpool2d_forward(kb.to_native(x), (3, 3), (2, 2), (1, 1))
    np.testing.assert_array_equal(kb.to_numpy(argmax), _compact(ref_idx, 5, (3, 3), (2, 2), (1, 1)))
    dx = pool.maxpool2d_backward(kb.to_native(np.ones((1, 2, 3, 3))), argmax, x.shape, 3, 2, 1)
    np.testing.assert_array_equal(kb.to_numpy(dx), ref_dx)


def test_overlapping_windows_accumulate(kernel_backend):
    """k3 s1 p1 on a single peak: the peak wins all 9 windows covering it and collects 9 gradients."""
    kb = kernel_backend
    pool = kb.family("maxpool2d")
    x = -np.arange(25, dtype=np.float64).reshape(1, 1, 5, 5)
    x[0, 0, 2, 2] = 100.0
    y, argmax = pool.maxpool2d_forward(kb.to_native(x), (3, 3), (1, 1), (1, 1))
    dx = kb.to_numpy(pool.maxpool2d_backward(kb.to_native(np.ones((1, 1, 5, 5))), argmax, x.shape, 3, 1, 1))
    assert dx[0, 0, 2, 2] == 9.0
    assert dx.sum() == 25.0
    _, _, ref_dx = _torch_pool(x, 3, 1, 1, np.ones((1, 1, 5, 5)))
    np.testing.assert_array_equal(dx, ref_dx)


@pytest.mark.parametrize("case", [CASES[2], CASES[5], CASES[8]], ids=[IDS[2], IDS[5], IDS[8]])
def test_finite_differences_float64(kernel_backend, rng, case):
    kb = kernel_backend
    pool = kb.family("maxpool2d")
    N, C, H, W, kernel, stride, padding = case
    x = _distinct(rng, (N, C, H, W), np.float64)
    y, argmax = pool.maxpool2d_forward(kb.to_native(x), kernel, stride, padding)
    g = rng.standard_normal(kb.to_numpy(y).shape)

    def loss(a):
        y = pool.maxpool2d_forward(kb.to_native(a), kernel, stride, padding)[0]
        return float(np.sum(g * kb.to_numpy(y)))

    eps = 1e-4  # values are 0.01 apart: the argmax cannot change
    num = np.zeros_like(x)
    for i in range(x.size):
        d = np.zeros(x.size)
        d[i] = eps
        d = d.reshape(x.shape)
        num.reshape(-1)[i] = (loss(x + d) - loss(x - d)) / (2 * eps)
    dx = kb.to_numpy(pool.maxpool2d_backward(kb.to_native(g), argmax, x.shape, kernel, stride, padding))
    assert rel_err(dx, num) <= 1e-8


def test_bad_inputs(kernel_backend, rng):
    kb = kernel_backend
    pool = kb.family("maxpool2d")
    nat = kb.to_native
    x = rng.standard_normal((2, 3, 6, 6))
    with pytest.raises(ValueError, match=r"padding"):
        pool.maxpool2d_forward(nat(x), (3, 3), (1, 1), (2, 1))  # padding > kernel // 2
    with pytest.raises(ValueError, match=r"padding"):
        pool.maxpool2d_forward(nat(x), (2, 2), (2, 2), (0, 2))
    with pytest.raises(ValueError, match=r"kernel"):
        pool.maxpool2d_forward(nat(x), (9, 2), (1, 1), (1, 1))  # larger than the padded input
    with pytest.raises(ValueError, match=r"\bx\b"):
        pool.maxpool2d_forward(nat(x[0]), (2, 2), (2, 2), (0, 0))
    with pytest.raises(ValueError, match=r"stride"):
        pool.maxpool2d_forward(nat(x), (2, 2), (0, 2), (0, 0))
    with pytest.raises(TypeError, match=r"\bx\b"):
        pool.maxpool2d_forward(nat(x.astype(np.int64)), (2, 2), (2, 2), (0, 0))

    y, argmax = pool.maxpool2d_forward(nat(x), (2, 2), (2, 2), (0, 0))
    dy = kb.to_numpy(y)
    with pytest.raises(ValueError, match=r"\bdy\b"):
        pool.maxpool2d_backward(nat(dy[:, :, :2].copy()), argmax, x.shape, 2, 2, 0)
    with pytest.raises(ValueError, match=r"argmax"):
        pool.maxpool2d_backward(nat(dy), nat(kb.to_numpy(argmax)[:1].copy()), x.shape, 2, 2, 0)
    with pytest.raises(ValueError, match=r"\bdy\b"):
        pool.maxpool2d_backward(nat(dy), argmax, (2, 3, 8, 8), 2, 2, 0)
    with pytest.raises(ValueError, match=r"padding"):
        pool.maxpool2d_backward(nat(dy), argmax, x.shape, 2, 2, 2)


def test_numpy_specific_bad_inputs():
    pool = pytest.importorskip("kernels.numpy").maxpool2d
    with pytest.raises(TypeError, match=r"\bx\b.*numpy"):
        pool.maxpool2d_forward([[[[1.0]]]], 1, 1, 0)
    y, argmax = pool.maxpool2d_forward(np.ones((1, 1, 4, 4)), 2, 2, 0)
    with pytest.raises(TypeError, match=r"argmax"):
        pool.maxpool2d_backward(y, argmax.astype(np.float64), (1, 1, 4, 4), 2, 2, 0)
    with pytest.raises(ValueError, match=r"argmax"):
        pool.maxpool2d_backward(y, argmax + 4, (1, 1, 4, 4), 2, 2, 0)
    with pytest.raises(ValueError, match=r"argmax"):
        pool.maxpool2d_backward(y, argmax - 1, (1, 1, 4, 4), 2, 2, 0)


# ---------------------------------------------------------------- triton-specific details


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


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_nan_and_inf_windows_match_torch(kernel_backend, rng, dtype):
    """y, argmax and dx equal PyTorch's float64 ones, NaN windows included: a NaN is the window's maximum
    and, with several, the last one in window order wins (PyTorch's ``v > best || isnan(v)``), so the
    gradient goes there. Windows with one NaN, two NaNs (in one row, and rows apart), NaN beside +inf,
    -inf regions, and a NaN in a window of several BLOCK_K chunks (Triton)."""
    kb = kernel_backend
    pool = kb.family("maxpool2d")
    x = rng.standard_normal((2, 3, 11, 10)).astype(dtype)
    x[0, 0, 2, 3] = x[1, 2, 7, 7] = np.nan
    x[0, 2, 1, 1] = x[0, 2, 1, 2] = x[0, 2, 2, 1] = np.nan
    x[1, 1, 4, 4] = np.nan
    x[0, 1, 4:7, 4:7] = -np.inf
    x[1, 0] = -np.inf
    x[1, 1, 5, 5] = np.inf
    for kernel, stride, padding in [((2, 2), (2, 2), (0, 0)), ((3, 3), (1, 1), (1, 1)), ((3, 2), (2, 1), (1, 1)),
                                    ((9, 9), (2, 2), (4, 4))]:
        y, argmax = pool.maxpool2d_forward(kb.to_native(x), kernel, stride, padding)
        dy = rng.standard_normal(tuple(y.shape)).astype(dtype)
        ref_y, ref_idx, ref_dx = _torch_pool(x, kernel, stride, padding, dy)
        np.testing.assert_array_equal(kb.to_numpy(y), ref_y)
        nan_window = np.isnan(ref_y)
        assert nan_window.any() and (~nan_window).any()
        np.testing.assert_array_equal(kb.to_numpy(argmax), _compact(ref_idx, x.shape[3], kernel, stride, padding))
        dx = kb.to_numpy(pool.maxpool2d_backward(kb.to_native(dy), argmax, x.shape, kernel, stride, padding))
        assert rel_err(dx, ref_dx) <= tolerance(dtype)


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


def test_numpy_checks_argmax_even_with_sync_checks_off(monkeypatch):
    """numpy arrays live on the host, so its check costs no sync and stays on, whatever the setting."""
    pool = pytest.importorskip("kernels.numpy").maxpool2d
    monkeypatch.setenv("KERNELGRAD_SYNC_CHECKS", "0")
    y, argmax = pool.maxpool2d_forward(np.ones((1, 1, 4, 4)), 2, 2, 0)
    with pytest.raises(ValueError, match=r"argmax"):
        pool.maxpool2d_backward(y, argmax + 4, (1, 1, 4, 4), 2, 2, 0)


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
        x = _distinct(rng, (N, 3, 8, 8), np.float32)
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
    pool._check_plane("maxpool2d_forward", 46340, 46340, 46340, 46340)  # 46340**2 < 2**31 - 1
    with pytest.raises(ValueError, match=r"maxpool2d_forward: one H\*W plane \(65536x32768"):
        pool._check_plane("maxpool2d_forward", 2**16, 2**15, 2**15, 2**14)


def test_triton_int64_index_variant_matches(monkeypatch, rng):
    """The variant compiled for tensors past 2**31 elements (64-bit plane index) computes the same results."""
    pool, device = _triton_pool()
    ref = pytest.importorskip("kernels.numpy").maxpool2d
    monkeypatch.setattr(pool, "_needs_int64", lambda *numels: True)
    x = rng.integers(-3, 3, (2, 3, 11, 9)).astype(np.float32)
    for kernel, stride, padding in [((3, 3), (2, 2), (1, 1)), ((2, 3), (1, 2), (1, 1))]:
        y, argmax = pool.maxpool2d_forward(torch.from_numpy(x).to(device), kernel, stride, padding)
        ref_y, ref_argmax = ref.maxpool2d_forward(x, kernel, stride, padding)
        np.testing.assert_array_equal(y.cpu().numpy(), ref_y)
        np.testing.assert_array_equal(argmax.cpu().numpy(), ref_argmax)
        dy = rng.integers(-4, 4, ref_y.shape).astype(np.float32)
        dx = pool.maxpool2d_backward(torch.from_numpy(dy).to(device), argmax, x.shape, kernel, stride, padding)
        np.testing.assert_array_equal(dx.cpu().numpy(), ref.maxpool2d_backward(dy, ref_argmax, x.shape, kernel,
                                                                                stride, padding))
