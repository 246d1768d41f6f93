"""CuPy (CUDA C) conv2d details: launch arithmetic for huge shapes, the WMMA float16 path, multi-tile
shapes with remainders, the split reduction of backward_weight, determinism, and wrapper-specific bad
arguments.

The shared tests (tests/kernels/test_conv2d.py) run the cupy backend on small shapes in float32/float64 (one tile,
mostly); these reach the tensor-core tiles, several row / column tiles and reduction steps, and the
split-K path.  Under ``KERNELGRAD_CUDA_EMULATE=1`` (set by tests/conftest.py without a GPU) the kernels
run on the CPU emulator with numpy arrays.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from ..conftest import rel_err, torch_reference

pytest.importorskip("kernels.cupy", reason="needs CuPy and a CUDA GPU, or the CPU emulator (g++)")
from kernels.cupy import conv2d as conv  # noqa: E402
from kernels.cupy._runtime import MAX_GRID, check_launch, emulating, xp  # noqa: E402

F = torch.nn.functional
TOL = {np.float16: 1e-2, np.float32: 1e-4, np.float64: 1e-10}


def _native(a: np.ndarray):
    return xp().asarray(np.ascontiguousarray(a))


def _host(a) -> np.ndarray:
    return a if isinstance(a, np.ndarray) else a.get()


def _reference(x, w, b, stride, padding, dy):
    """y, dx, dw, db of torch's conv2d in float64."""
    y, grads = torch_reference(lambda x, w, b: F.conv2d(x, w, b, stride=stride, padding=padding), x, w, b,
                               grad_output=dy)
    return y, *grads


def _out_shape(case):
    N, C, H, W, K, R, S, (sh, sw), (ph, pw) = case
    return N, K, (H + 2 * ph - R) // sh + 1, (W + 2 * pw - S) // sw + 1


def _check_all_ops(rng, case, dtype):
    """Forward (with and without bias) and the three gradients against torch in float64."""
    N, C, H, W, K, R, S, stride, padding = case
    x = rng.standard_normal((N, C, H, W)).astype(dtype)
    w = rng.standard_normal((K, C, R, S)).astype(dtype)
    b = rng.standard_normal(K).astype(dtype)
    dy = rng.standard_normal(_out_shape(case)).astype(dtype)
    ref_y, ref_dx, ref_dw, ref_db = _reference(x, w, b, stride, padding, dy)
    tol = TOL[dtype]

    y = _host(conv.conv2d_forward(_native(x), _native(w), _native(b), stride, padding))
    assert y.dtype == dtype and y.shape == ref_y.shape
    assert rel_err(y, ref_y) <= tol
    y0 = _host(conv.conv2d_forward(_native(x), _native(w), None, stride, padding))
    assert rel_err(y0, ref_y - b.astype(np.float64)[None, :, None, None]) <= tol

    dx = _host(conv.conv2d_backward_input(_native(dy), _native(w), x.shape, stride, padding))
    dw = _host(conv.conv2d_backward_weight(_native(dy), _native(x), w.shape, stride, padding))
    db = _host(conv.conv2d_backward_bias(_native(dy)))
    assert (dx.dtype, dw.dtype, db.dtype) == (dtype, dtype, dtype)
    assert rel_err(dx, ref_dx) <= tol
    assert rel_err(dw, ref_dw) <= tol
    assert rel_err(db, ref_db) <= tol


# ---------------------------------------------------------------- launch configuration (pure Python)


@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64])
@pytest.mark.parametrize(
    "rows, cols, expected_grid",
    [
        (1, 1, (1, 1, 1)),
        (64, 64, (1, 1, 1)),
        (65, 63, (2, 1, 1)),  # a partial last row tile
        (7 * 13, 129, (2, 3, 1)),
        (4096 * 1024 * 1024, 3, (2**26, 1, 1)),  # N*P*Q = 2**32 rows: past int32, inside grid.x
        (64 * (2**31 - 1), 64 * 65535, (2**31 - 1, 65535, 1)),  # the largest launchable GEMM
    ],
)
def test_gemm_launch_tiles(rows, cols, expected_grid, dtype):
    grid, block = conv._gemm_launch(rows, cols, dtype)
    assert grid == expected_grid
    bm, bn, _, threads = conv.TILES[np.dtype(dtype)]
    assert grid[0] * bm >= rows > (grid[0] - 1) * bm and grid[1] * bn >= cols > (grid[1] - 1) * bn
    assert block == (threads, 1, 1) and threads % 32 == 0
    assert threads == (128 if dtype == np.float16 else 256)  # 4 WMMA warps / 16 x 16 FMA threads
    check_launch(grid, block)  # raises outside the CUDA limits


def test_gemm_launch_past_the_grid_limit_is_refused():
    grid, block = conv._gemm_launch(64 * MAX_GRID[0] + 1, 1, np.float32)
    with pytest.raises(ValueError, match="grid"):
        check_launch(grid, block)


@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64])
@pytest.mark.parametrize(
    "K, CRS, NPQ",
    [
        (64, 27, 2**33),  # one tile, a huge reduction: split up to MAX_SPLITS
        (3, 7, 4095),  # too short to split
        (3, 7, 3 * 2048 + 5),
        (1024, 4608, 2**20),  # 16 x 72 tiles already fill the GPU: no split
        (1, 1, 1),
    ],
)
def test_backward_weight_split(K, CRS, NPQ, dtype):
    grid, block, splits, depth = conv._backward_weight_launch(K, CRS, NPQ, dtype)
    bk = conv.TILES[np.dtype(dtype)][2]
    check_launch(grid, block)
    assert grid[2] == splits and 1 <= splits <= conv.MAX_SPLITS
    assert depth % bk == 0  # no reduction tile straddles two chunks
    assert splits * depth >= NPQ > (splits - 1) * depth  # every chunk non-empty, the whole axis covered
    tiles = grid[0] * grid[1]
    if splits > 1:
        assert depth >= conv.MIN_SPLIT_DEPTH
        assert (splits - 1) * tiles < conv.TARGET_BLOCKS
    if tiles >= conv.TARGET_BLOCKS or NPQ < 2 * conv.MIN_SPLIT_DEPTH:
        assert splits == 1
    if (K, CRS, NPQ) == (64, 27, 2**33):
        assert splits == conv.MAX_SPLITS


def test_backward_weight_split_honours_its_knobs():
    assert conv._backward_weight_launch(8, 9, 98, np.float32, 264, 32)[2:] == (3, 48)
    assert conv._backward_weight_launch(8, 9, 98, np.float16, 264, 32)[2:] == (2, 64)
    assert conv._backward_weight_launch(8, 9, 98, np.float32, 1, 32)[2:] == (1, 112)


def test_bias_launch_one_block_per_channel():
    grid, block = conv._bias_launch(1000)
    assert grid == (1000, 1, 1) and block[0] % 32 == 0 and block[0] <= 1024
    check_launch(grid, block)


# ---------------------------------------------------------------- values against torch (float64)

# (N, C, H, W, K, R, S, stride, padding): K and C not multiples of 16 (WMMA fragment) or 64 (tile),
# C*R*S and K*R*S not multiples of BK, stride 2, padding, non-square kernels, batch 1.
HALF_CASES = [
    (1, 3, 7, 7, 5, 3, 3, (1, 1), (1, 1)),
    (2, 5, 9, 7, 3, 2, 3, (2, 2), (1, 0)),
    (1, 13, 6, 5, 17, 3, 1, (2, 1), (0, 1)),
    (2, 7, 5, 6, 20, 1, 3, (1, 2), (2, 1)),
    (1, 1, 13, 13, 1, 5, 5, (2, 2), (2, 2)),
]


def _case_id(c):
    return "x".join(map(str, c[:4])) + "-k{}x{}x{}-s{}{}-p{}{}".format(*c[4:7], *c[7], *c[8])


@pytest.mark.parametrize("case", HALF_CASES, ids=[_case_id(c) for c in HALF_CASES])
def test_float16_tensor_core_path(rng, case):
    _check_all_ops(rng, case, np.float16)


# Several 64-row tiles with a partial last one, K or C over 64 (two column tiles), reductions of
# several BK steps with a remainder (C*R*S = 75, K*R*S = 9*70 = 630), stride 2 and padding.
MULTI_TILE_CASES = [
    (2, 5, 11, 9, 70, 3, 5, (2, 1), (1, 2)),
    (1, 70, 9, 10, 6, 3, 3, (1, 1), (1, 1)),
]


@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64])
@pytest.mark.parametrize("case", MULTI_TILE_CASES, ids=[_case_id(c) for c in MULTI_TILE_CASES])
def test_multi_tile_shapes(rng, case, dtype):
    _check_all_ops(rng, case, dtype)


@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64])
def test_backward_weight_split_reduction(rng, monkeypatch, dtype):
    """Force the split-K path on a small shape: 3 chunks of N*P*Q = 98 (the last one partial)."""
    monkeypatch.setattr(conv, "MIN_SPLIT_DEPTH", 32)
    case = (2, 3, 7, 7, 5, 3, 3, (1, 1), (1, 1))
    N, C, H, W, K, R, S, stride, padding = case
    assert conv._backward_weight_launch(K, C * R * S, N * H * W, dtype, conv.TARGET_BLOCKS, 32)[2] >= 2
    x = rng.standard_normal((N, C, H, W)).astype(dtype)
    dy = rng.standard_normal(_out_shape(case)).astype(dtype)
    w = np.ones((K, C, R, S), dtype)
    _, _, ref_dw, _ = _reference(x, w, np.zeros(K), stride, padding, dy)
    dw = _host(conv.conv2d_backward_weight(_native(dy), _native(x), w.shape, stride, padding))
    assert dw.dtype == dtype and rel_err(dw, ref_dw) <= TOL[dtype]
    again = _host(conv.conv2d_backward_weight(_native(dy), _native(x), w.shape, stride, padding))
    assert np.array_equal(dw, again)  # fixed-order reduction: bit for bit


def test_backward_weight_natural_split(rng):
    """N*P*Q = 4096 reaches 2 chunks with the default knobs (one 64x64 tile, float16 = BK 32)."""
    case = (4, 1, 32, 32, 2, 3, 3, (1, 1), (1, 1))
    N, C, H, W, K, R, S, stride, padding = case
    assert conv._backward_weight_launch(K, C * R * S, N * H * W, np.float16, conv.TARGET_BLOCKS,
                                        conv.MIN_SPLIT_DEPTH)[2] == 2  # fmt: skip
    x = rng.standard_normal((N, C, H, W)).astype(np.float16)
    dy = rng.standard_normal(_out_shape(case)).astype(np.float16)
    _, _, ref_dw, _ = _reference(x, np.ones((K, C, R, S)), np.zeros(K), stride, padding, dy)
    dw = _host(conv.conv2d_backward_weight(_native(dy), _native(x), (K, C, R, S), stride, padding))
    assert rel_err(dw, ref_dw) <= TOL[np.float16]


@pytest.mark.parametrize("dtype", [np.float16, np.float32])
def test_backward_is_deterministic_and_remainders_are_zero(rng, dtype):
    """H + 2p - R = 8 is not a multiple of stride 3: dx of the last rows / columns is exactly 0."""
    x_shape, stride = (2, 3, 11, 10), (3, 3)
    w = rng.standard_normal((4, 3, 3, 3)).astype(dtype)
    dy = rng.standard_normal((2, 4, 3, 3)).astype(dtype)
    dx = _host(conv.conv2d_backward_input(_native(dy), _native(w), x_shape, stride, 0))
    assert np.all(dx[:, :, 9:, :] == 0) and np.all(dx[:, :, :, 9:] == 0)
    assert np.all(np.abs(dx[:, :, :9, :9].astype(np.float64)).sum(axis=(0, 1)) > 0)
    again = _host(conv.conv2d_backward_input(_native(dy), _native(w), x_shape, stride, 0))
    assert np.array_equal(dx, again)
    db = _host(conv.conv2d_backward_bias(_native(dy)))
    assert np.array_equal(db, _host(conv.conv2d_backward_bias(_native(dy))))


def test_empty_batch():
    x = _native(np.zeros((0, 3, 5, 5), np.float32))
    w = _native(np.ones((2, 3, 3, 3), np.float32))
    assert conv.conv2d_forward(x, w, None, 1, 1).shape == (0, 2, 5, 5)
    dy = _native(np.zeros((0, 2, 5, 5), np.float32))
    dw = _host(conv.conv2d_backward_weight(dy, x, (2, 3, 3, 3), 1, 1))
    assert dw.shape == (2, 3, 3, 3) and np.all(dw == 0)
    assert np.all(_host(conv.conv2d_backward_bias(dy)) == 0)


# ---------------------------------------------------------------- bad arguments (cupy wrapper)


def test_wrong_array_type_names_the_argument():
    x = np.ones((1, 1, 4, 4), np.float32)
    w = np.ones((1, 1, 3, 3), np.float32)
    with pytest.raises(TypeError, match=r"\bx\b"):
        conv.conv2d_forward(torch.from_numpy(x), _native(w), None, 1, 0)
    with pytest.raises(TypeError, match=r"\bw\b"):
        conv.conv2d_forward(_native(x), w.tolist(), None, 1, 0)
    with pytest.raises(TypeError, match=r"\bb\b"):
        conv.conv2d_forward(_native(x), _native(w), torch.ones(1), 1, 0)
    with pytest.raises(TypeError, match=r"\bdy\b"):
        conv.conv2d_backward_bias(torch.ones(1, 1, 2, 2))
    with pytest.raises(TypeError, match=r"\bx\b"):
        conv.conv2d_backward_weight(_native(np.ones((1, 1, 2, 2), np.float32)), torch.from_numpy(x),
                                    (1, 1, 3, 3), 1, 0)  # fmt: skip


def test_non_contiguous_is_a_value_error():
    x = np.ones((1, 2, 6, 6), np.float32)
    w = np.ones((3, 2, 3, 3), np.float32)
    xt = xp().asarray(x).transpose(0, 1, 3, 2)  # a view: shape fits, layout does not
    with pytest.raises(ValueError, match=r"\bx\b.*contiguous"):
        conv.conv2d_forward(xt, _native(w), None, 1, 0)
    dy = xp().asarray(np.ones((1, 3, 4, 8), np.float32))[:, :, :, ::2]
    with pytest.raises(ValueError, match=r"\bdy\b.*contiguous"):
        conv.conv2d_backward_input(dy, _native(w), x.shape, 1, 0)
    with pytest.raises(ValueError, match=r"\bdy\b.*contiguous"):
        conv.conv2d_backward_bias(dy)


def test_bad_dtypes_and_geometry():
    x = _native(np.ones((1, 2, 6, 6), np.float32))
    w = _native(np.ones((3, 2, 3, 3), np.float32))
    with pytest.raises(TypeError, match=r"dtype"):
        conv.conv2d_forward(x, _native(np.ones((3, 2, 3, 3), np.float16)), None, 1, 0)
    with pytest.raises(TypeError, match=r"\bx\b.*dtype"):
        conv.conv2d_forward(_native(np.ones((1, 2, 6, 6), np.int32)), w, None, 1, 0)
    with pytest.raises(TypeError, match=r"stride"):
        conv.conv2d_forward(x, w, None, 1.5, 0)
    with pytest.raises(ValueError, match=r"padding"):
        conv.conv2d_forward(x, w, None, 1, -1)
    with pytest.raises(ValueError, match=r"input_shape"):
        conv.conv2d_backward_input(_native(np.ones((1, 3, 4, 4), np.float32)), w, (1, 2, 0, 6), 1, 0)


def test_planes_past_int32_are_refused():
    """A 50000 x 50000 input plane (2.5e9 elements) with a stride-50000 1x1 kernel: dy and w are tiny."""
    dy = _native(np.ones((1, 1, 1, 1), np.float32))
    w = _native(np.ones((1, 1, 1, 1), np.float32))
    with pytest.raises(ValueError, match=r"H\*W"):
        conv.conv2d_backward_input(dy, w, (1, 1, 50000, 50000), 50000, 0)


# ---------------------------------------------------------------- real GPU only


@pytest.mark.gpu
@pytest.mark.skipif(emulating(), reason="needs a CUDA GPU (the emulator would take minutes at this size)")
@pytest.mark.parametrize("dtype", [np.float16, np.float32])
def test_large_shapes_on_gpu(rng, dtype):
    _check_all_ops(rng, (8, 64, 56, 56, 128, 3, 3, (1, 1), (1, 1)), dtype)
    _check_all_ops(rng, (16, 32, 31, 29, 96, 5, 3, (2, 2), (2, 1)), dtype)
