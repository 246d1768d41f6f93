"""CuPy (CUDA C) maxpool2d details: launch arithmetic for huge shapes, awkward geometries against torch
(float64) and bit for bit against numpy (float16 included), ties / NaN / -inf, int16 argmax, the
grid-stride loop, wrapper-specific bad arguments, and the 2x2 stride-2 16-byte-load kernel (which geometries take it,
float16, the unaligned fallback, the fused ReLU).

The shared tests (tests/kernels/test_maxpool2d.py) run the cupy backend too; these cover what they do not reach.  Under
``KERNELGRAD_CUDA_EMULATE=1`` (set by tests/conftest.py without a GPU) the kernels run on the CPU.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from kernels._args import maxpool2d_forward_geometry

from ..conftest import rel_err, torch_reference

pytest.importorskip("kernels.cupy", reason="needs CuPy and a CUDA GPU, or the CPU emulator (g++)")
from kernels.cupy import maxpool2d as pool  # noqa: E402
from kernels.cupy._runtime import check_launch, emulating, xp  # noqa: E402

ref = pytest.importorskip("kernels.numpy").maxpool2d
F = torch.nn.functional

TOL = {np.float16: 1e-2, np.float32: 1e-4, np.float64: 1e-10}


class _HostPool:
    """The cupy wrapper's two functions on numpy arrays: inputs go to the runtime (cupy on a GPU; the same
    numpy arrays under the emulator) and results come back to the host, so these tests run on both."""

    @staticmethod
    def maxpool2d_forward(x, *geometry):
        y, argmax = pool.maxpool2d_forward(xp().asarray(x), *geometry)
        return _host(y), _host(argmax)

    @staticmethod
    def maxpool2d_backward(dy, argmax, *geometry):
        return _host(pool.maxpool2d_backward(xp().asarray(dy), xp().asarray(argmax), *geometry))


def _host(a) -> np.ndarray:
    return a.get() if hasattr(a, "get") else np.asarray(a)


host_pool = _HostPool()


# ---------------------------------------------------------------- launch configuration (pure Python)


@pytest.mark.parametrize(
    "shape, kernel, stride, padding",
    [
        ((64, 512, 512, 512), 2, 2, 0),  # N*C*P*Q = 2**33, N*C*H*W = 2**35
        ((1, 1, 65537, 65537), 3, 1, 1),  # a single plane past 2**32 elements
        ((3, 7, 13, 13), (3, 2), (2, 3), (1, 1)),
        ((1, 1, 1, 1), 1, 1, 0),
    ],
)
def test_launch_config_for_forward_and_backward(shape, kernel, stride, padding):
    """Grid and block inside the CUDA limits, and the grid-stride loop reaches every element (no allocation)."""
    g = maxpool2d_forward_geometry(shape, kernel, stride, padding)
    for total in (g.N * g.C * g.P * g.Q, g.N * g.C * g.H * g.W):
        grid, block = pool._launch_config(total)
        check_launch(grid, block)  # raises outside the CUDA limits
        assert grid[0] <= pool.MAX_BLOCKS and block[0] <= pool.BLOCK and block[0] % 32 == 0
        threads = grid[0] * block[0]
        trips = -(-total // threads)
        assert threads * trips >= total > threads * (trips - 1)
        if total > 2**31:
            assert grid == (pool.MAX_BLOCKS,) and block == (pool.BLOCK,)


@pytest.mark.parametrize(
    "total, expected",
    [
        (1, ((1,), (32,))),
        (33, ((1,), (64,))),
        (256, ((1,), (256,))),
        (257, ((2,), (256,))),
        (7 * 13 * 13, ((5,), (256,))),
    ],
)
def test_launch_config_small_shapes(total, expected):
    assert pool._launch_config(total) == expected


def test_argmax_dtype_is_numpys():
    assert pool.argmax_dtype is ref.argmax_dtype
    assert set(pool.INDEX_TYPES) == {ref.argmax_dtype(n) for n in (4, 200, 40_000)}


# ---------------------------------------------------------------- values


def _torch_pool(x, dy, kernel, stride, padding):
    """y, torch's flat indices and dx of torch's max_pool2d in float64."""
    (y, indices), (dx,) = torch_reference(
        lambda x: F.max_pool2d(x, kernel, stride, padding, return_indices=True), x, grad_output=dy
    )
    return y, indices, dx


def _distinct(rng, shape, dtype):
    """Distinct values (exact in float16: integers below 2048), so the winner is unique in every dtype."""
    n = int(np.prod(shape))
    return (rng.permutation(n).reshape(shape) - n // 2).astype(dtype)


# (N, C, H, W, kernel, stride, padding): 1x1 windows, stride != kernel both ways, non-square windows and
# strides, padding on one axis, batch 1, odd sizes, big overlapping windows (up to 9 candidates per pixel)
AWKWARD = [
    (1, 3, 7, 13, (1, 1), (1, 1), (0, 0)),
    (2, 1, 13, 7, (1, 1), (2, 3), (0, 0)),
    (1, 1, 13, 13, (3, 1), (1, 1), (1, 0)),
    (3, 2, 7, 7, (2, 3), (3, 2), (0, 1)),
    (1, 3, 13, 7, (5, 3), (1, 2), (2, 1)),
    (2, 2, 7, 13, (3, 3), (1, 1), (1, 1)),
    (1, 1, 3, 3, (3, 3), (1, 1), (1, 1)),
    (1, 2, 13, 13, (4, 4), (3, 3), (2, 2)),
]
AWKWARD_IDS = [
    f"{c[0]}x{c[1]}x{c[2]}x{c[3]}-k{c[4][0]}{c[4][1]}-s{c[5][0]}{c[5][1]}-p{c[6][0]}{c[6][1]}" for c in AWKWARD
]


@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64])
@pytest.mark.parametrize("case", AWKWARD, ids=AWKWARD_IDS)
def test_awkward_shapes_match_torch_and_numpy(rng, case, dtype):
    N, C, H, W, kernel, stride, padding = case
    x = _distinct(rng, (N, C, H, W), dtype)
    y, argmax = host_pool.maxpool2d_forward(x, kernel, stride, padding)
    dy = rng.standard_normal(y.shape).astype(dtype)
    ref_y, ref_idx, ref_dx = _torch_pool(x, dy, kernel, stride, padding)
    assert y.dtype == dtype and argmax.dtype == np.int8
    np.testing.assert_array_equal(y, ref_y)  # max is exact in every dtype

    h, w = np.divmod(ref_idx, W)  # torch's flat per-plane index -> the compact r*S + s
    P, Q = y.shape[2:]
    r = h - (np.arange(P)[:, None] * stride[0] - padding[0])
    s = w - (np.arange(Q)[None, :] * stride[1] - padding[1])
    np.testing.assert_array_equal(argmax, r * kernel[1] + s)

    dx = host_pool.maxpool2d_backward(dy, argmax, x.shape, kernel, stride, padding)
    assert dx.dtype == dtype and dx.shape == x.shape
    assert rel_err(dx, ref_dx) <= TOL[dtype]
    # bit for bit with numpy, float16 too (same order of additions, rounded to float16 after each)
    _, ref_argmax = ref.maxpool2d_forward(x, kernel, stride, padding)
    np.testing.assert_array_equal(argmax, ref_argmax)
    np.testing.assert_array_equal(dx, ref.maxpool2d_backward(dy, ref_argmax, x.shape, kernel, stride, padding))


def test_float16_backward_rounds_like_numpy_where_windows_overlap():
    """Nine windows share one winner; summing in float32 and rounding once would differ from numpy's
    float16 running sum for these gradients."""
    x = -np.arange(25, dtype=np.float16).reshape(1, 1, 5, 5)
    x[0, 0, 2, 2] = 100.0
    y, argmax = host_pool.maxpool2d_forward(x, 3, 1, 1)
    dy = np.full((1, 1, 5, 5), 1.0, dtype=np.float16)
    dy[0, 0, 1:4, 1:4] = [[2048.0, 1.0, 1.0], [1.0, 1.0, 1.0], [1.0, 1.0, 1.0]]
    dx = host_pool.maxpool2d_backward(dy, argmax, x.shape, 3, 1, 1)
    expected = ref.maxpool2d_backward(dy, argmax, x.shape, 3, 1, 1)
    # numpy: 2048 + 1 rounds back to 2048 each time -> 2048; float32 sum would give 2056
    assert expected[0, 0, 2, 2] == 2048.0
    np.testing.assert_array_equal(dx, expected)


@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64])
def test_ties_nan_and_minus_inf_equal_numpy(rng, dtype):
    """Many ties, NaNs, -inf regions and planes, windows of 1..144 positions (int8 and int16 argmax)."""
    geometries = [
        ((2, 2), (2, 2), (0, 0)),
        ((3, 3), (1, 1), (1, 1)),
        ((3, 2), (1, 2), (1, 1)),
        ((9, 9), (4, 3), (4, 2)),
        ((12, 12), (5, 5), (0, 6)),
        ((1, 1), (2, 2), (0, 0)),
    ]
    for kernel, stride, padding in geometries:
        x = rng.integers(-3, 3, (2, 3, 13, 14)).astype(dtype)
        x[0, 0, 2, 3] = np.nan
        x[1, 1, 0, 0] = np.nan
        x[1, 2, 5:9, 5:9] = -np.inf
        x[0, 1] = -np.inf
        y, argmax = host_pool.maxpool2d_forward(x, kernel, stride, padding)
        ref_y, ref_argmax = ref.maxpool2d_forward(x, kernel, stride, padding)
        assert argmax.dtype == ref_argmax.dtype
        np.testing.assert_array_equal(y, ref_y)
        np.testing.assert_array_equal(argmax, ref_argmax)
        dy = rng.standard_normal(ref_y.shape).astype(dtype)
        dx = host_pool.maxpool2d_backward(dy, argmax, x.shape, kernel, stride, padding)
        np.testing.assert_array_equal(dx, ref.maxpool2d_backward(dy, ref_argmax, x.shape, kernel, stride, padding))


def test_int16_argmax_for_big_overlapping_windows(rng):
    x = rng.standard_normal((1, 2, 20, 19))
    y, argmax = host_pool.maxpool2d_forward(x, (13, 12), (3, 2), (6, 5))  # R*S = 156 > 127
    assert argmax.dtype == np.int16
    dy = rng.standard_normal(y.shape)
    ref_y, ref_idx, ref_dx = _torch_pool(x, dy, (13, 12), (3, 2), (6, 5))
    np.testing.assert_array_equal(y, ref_y)
    assert argmax.max() > 127  # the winners really need the wider type
    dx = host_pool.maxpool2d_backward(dy, argmax, x.shape, (13, 12), (3, 2), (6, 5))
    assert rel_err(dx, ref_dx) <= TOL[np.float64]


@pytest.mark.parametrize("max_blocks", [1, 2])
def test_grid_stride_loop(monkeypatch, rng, max_blocks):
    """With the grid capped at 1 or 2 blocks each thread loops over many outputs / inputs."""
    monkeypatch.setattr(pool, "MAX_BLOCKS", max_blocks)
    x = _distinct(rng, (2, 3, 17, 15), np.float32)
    y, argmax = host_pool.maxpool2d_forward(x, (3, 2), (2, 1), (1, 1))
    ref_y, ref_argmax = ref.maxpool2d_forward(x, (3, 2), (2, 1), (1, 1))
    np.testing.assert_array_equal(y, ref_y)
    np.testing.assert_array_equal(argmax, ref_argmax)
    dy = rng.standard_normal(y.shape).astype(np.float32)
    dx = host_pool.maxpool2d_backward(dy, argmax, x.shape, (3, 2), (2, 1), (1, 1))
    np.testing.assert_array_equal(dx, ref.maxpool2d_backward(dy, ref_argmax, x.shape, (3, 2), (2, 1), (1, 1)))


@pytest.mark.parametrize("dtype", [np.int64, np.uint8, np.int32, np.uint16])
def test_backward_accepts_any_integer_argmax(rng, dtype):
    x = _distinct(rng, (2, 3, 7, 7), np.float64)
    y, argmax = host_pool.maxpool2d_forward(x, 3, 2, 1)
    dy = rng.standard_normal(y.shape)
    expected = host_pool.maxpool2d_backward(dy, argmax, x.shape, 3, 2, 1)
    np.testing.assert_array_equal(host_pool.maxpool2d_backward(dy, argmax.astype(dtype), x.shape, 3, 2, 1), expected)


def test_empty_batch_launches_nothing(monkeypatch):
    def no_launch(*args, **kwargs):
        raise AssertionError("launched a kernel")

    monkeypatch.setattr(pool.MODULE, "launch", no_launch)
    y, argmax = host_pool.maxpool2d_forward(np.empty((0, 3, 8, 8), dtype=np.float32), 2, 2, 0)
    assert y.shape == (0, 3, 4, 4) and argmax.shape == (0, 3, 4, 4) and argmax.dtype == np.int8


# ---------------------------------------------------------------- bad arguments


@pytest.mark.skipif(not emulating(), reason="numpy arrays are the wrong type only under emulation")
def test_wrapper_specific_bad_arguments():
    x = np.ones((1, 1, 4, 4), dtype=np.float32)
    with pytest.raises(TypeError, match=r"\bx\b.*numpy.ndarray"):
        pool.maxpool2d_forward(torch.ones(1, 1, 4, 4), 2, 2, 0)
    with pytest.raises(ValueError, match=r"\bx\b.*contiguous"):
        pool.maxpool2d_forward(np.ones((1, 1, 4, 6), dtype=np.float32).transpose(0, 1, 3, 2), 2, 2, 0)
    with pytest.raises(TypeError, match=r"\bx\b.*dtype"):
        pool.maxpool2d_forward(x.astype(np.int32), 2, 2, 0)
    with pytest.raises(TypeError, match=r"kernel"):
        pool.maxpool2d_forward(x, 2.0, 2, 0)

    y, argmax = pool.maxpool2d_forward(x, 2, 2, 0)
    assert argmax.dtype == np.int8
    with pytest.raises(TypeError, match=r"\bdy\b.*numpy.ndarray"):
        pool.maxpool2d_backward(torch.from_numpy(y), argmax, x.shape, 2, 2, 0)
    with pytest.raises(TypeError, match=r"argmax.*numpy.ndarray"):
        pool.maxpool2d_backward(y, torch.from_numpy(argmax), x.shape, 2, 2, 0)
    with pytest.raises(TypeError, match=r"argmax.*integer"):
        pool.maxpool2d_backward(y, argmax.astype(np.float32), x.shape, 2, 2, 0)
    with pytest.raises(TypeError, match=r"argmax.*integer"):
        pool.maxpool2d_backward(y, argmax.astype(bool), x.shape, 2, 2, 0)
    with pytest.raises(ValueError, match=r"argmax.*contiguous"):
        pool.maxpool2d_backward(y, np.zeros((1, 1, 4, 2), np.int8)[:, :, ::2], x.shape, 2, 2, 0)
    with pytest.raises(ValueError, match=r"\[4, 4\].*outside \[0, R\*S=4\)"):
        pool.maxpool2d_backward(y, argmax + 4, x.shape, 2, 2, 0)
    with pytest.raises(ValueError, match=r"\[-1, -1\]"):
        pool.maxpool2d_backward(y, argmax - 1, x.shape, 2, 2, 0)
    with pytest.raises(ValueError, match=r"argmax"):
        pool.maxpool2d_backward(y, np.full((1, 1, 2, 2), 2**40, np.int64), x.shape, 2, 2, 0)
    with pytest.raises(ValueError, match=r"input_shape"):
        pool.maxpool2d_backward(y, argmax, (1, 1, 4), 2, 2, 0)


def test_vector_kernel_takes_aligned_2x2_stride_2_pools_only():
    """2x2 windows, stride 2, no padding, W a multiple of 16 / itemsize, x 16-byte aligned: the uint4-load kernel."""
    g = maxpool2d_forward_geometry
    x32 = xp().zeros((1, 2, 6, 12), dtype=np.float32)
    assert pool.vector_width(x32, g(x32.shape, 2, 2, 0)) == 4
    assert pool.vector_width(x32.astype(np.float64), g(x32.shape, 2, 2, 0)) == 2
    assert pool.vector_width(x32.astype(np.float16), g(x32.shape, 2, 2, 0)) == 0  # float16 needs W % 8 == 0
    for kernel, stride, padding in [(2, 2, 1), (2, 1, 0), (3, 3, 0), ((2, 1), 2, 0)]:
        assert pool.vector_width(x32, g(x32.shape, kernel, stride, padding)) == 0
    shifted = xp().zeros(1 + 2 * 6 * 12, dtype=np.float32)[1:].reshape(1, 2, 6, 12)  # contiguous, 4 bytes off
    assert shifted.flags.c_contiguous and pool.vector_width(shifted, g(shifted.shape, 2, 2, 0)) == 0


@pytest.mark.parametrize("dtype", [np.float16, np.float32])
def test_vector_kernel_equals_numpy_and_the_unaligned_fallback(rng, dtype):
    """The 16-byte-load path (and its ReLU twin) equals the numpy reference bit for bit, and so does the general
    kernel an unaligned copy of x falls back to; odd H leaves the last input row unread."""
    x = rng.standard_normal((2, 3, 7, 16)).astype(dtype)
    x[0, 0, 0, :4] = np.nan
    x[1, 1] = -np.abs(x[1, 1])
    shifted = xp().zeros(1 + x.size, dtype=dtype)[1:].reshape(x.shape)
    shifted[...] = xp().asarray(x)
    for source, V in ((xp().asarray(x), 16 // x.itemsize), (shifted, 0)):
        assert pool.vector_width(source, maxpool2d_forward_geometry(x.shape, 2, 2, 0)) == V
        for forward, reference in ((pool.maxpool2d_forward, ref.maxpool2d_forward),
                                   (pool.relu_maxpool2d_forward, ref.relu_maxpool2d_forward)):
            y, argmax = forward(source, 2, 2, 0)
            ref_y, ref_argmax = reference(x, 2, 2, 0)
            np.testing.assert_array_equal(_host(y), ref_y)
            np.testing.assert_array_equal(_host(argmax), ref_argmax)
