"""Rung 1 of the CUDA C conv2d ladder (kernels/cupy/ladder/conv2d/rung1_smem_tiling.py): what the shared tests
(tests/kernels/test_conv2d.py, which run this rung as ``cupy/rung1_smem_tiling``) do not reach -- GEMMs that span
several 16 x 16 tiles with a remainder in every dimension, padding on both edges of both axes, stride 2,
reduction tiles that straddle images, float16 in all four products, the bias kernel's shared-memory tree, the
tile loops past a capped grid, the launch arithmetic and errors identical to the production wrapper's. Runs on
the CPU emulator without a GPU (``KERNELGRAD_CUDA_EMULATE=1``, set by tests/conftest.py); shapes are kept small
because the emulator starts one OS thread per CUDA thread."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from ..conftest import rel_err, torch_reference

pytest.importorskip("kernels.cupy", reason="needs CuPy and a CUDA GPU, or the CPU emulator (g++)")
from kernels.cupy import _signatures  # noqa: E402
from kernels.cupy import conv2d as production  # noqa: E402
from kernels.cupy._runtime import check_launch  # noqa: E402
from kernels.cupy.ladder.conv2d import rung1_smem_tiling as rung1  # noqa: E402

# the same helpers and bad calls as rung 0's tests, checked against this rung
from .test_conv2d_rung0 import _all_ops, _bad_calls, _host, _inputs, _native  # noqa: E402

F = torch.nn.functional
TOL = {np.float16: 1e-2, np.float32: 1e-4, np.float64: 1e-12}


def _check_against_torch(case, dtype, rng):
    stride, padding = case[7], case[8]
    x, w, b, dy = _inputs(rng, case, dtype)
    ref_y, ref_grads = torch_reference(lambda x, w, b: F.conv2d(x, w, b, stride=stride, padding=padding), x, w, b,
                                       grad_output=dy)  # fmt: skip
    outs = _all_ops(rung1, x, w, b, dy, stride, padding)
    for name, got, ref in zip(("y", "dx", "dw", "db"), outs, [ref_y, *ref_grads]):
        assert got.dtype == dtype and got.shape == ref.shape, name
        assert rel_err(got, ref) <= TOL[dtype], name


def test_tile_constants_match_the_cu():
    consts = _signatures.constants(rung1.MODULE.path.read_text())
    assert consts["TILE"] == rung1.TILE and consts["THREADS"] == rung1.TILE**2
    assert consts["BIAS_THREADS"] == rung1.BIAS_THREADS
    assert rung1.BIAS_THREADS & (rung1.BIAS_THREADS - 1) == 0  # the shared-memory tree halves it


@pytest.mark.parametrize(
    "rows, cols, grid",
    [(1, 1, (1, 1)), (16, 16, (1, 1)), (17, 33, (2, 3)), (100_352, 64, (6272, 4)), (64, 576, (4, 36)),
     (2**40, 2**24, (2**31 - 1, 65535))],
)
def test_gemm_launch_is_one_block_per_tile_up_to_the_grid_cap(rows, cols, grid):
    g, b = rung1._gemm_launch(rows, cols)
    assert (g, b) == (grid, (16, 16))
    check_launch(g, b)


# (N, C, H, W, K, R, S, stride, padding).  forward: M = 98 = 6*16 + 2, K = 19 = 16 + 3, C*R*S = 204 = 12*16 + 12;
# backward_input: M = 84 = 5*16 + 4, C = 17, K*R*S = 228 = 14*16 + 4; backward_weight: K = 19, C*R*S = 204,
# N*P*Q = 98 with P*Q = 49 (reduction tiles straddle the two images).  Padding (1, 2) with R x S = 3 x 4 puts
# padding under both edges of both axes (P = Q = 7).
MULTI_TILE = (2, 17, 7, 6, 19, 3, 4, (1, 1), (1, 2))


@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64])
def test_several_tiles_with_remainders_in_every_dimension(rng, dtype):
    """Every product against torch in float64; float16 in, float16 out, accumulated in float32."""
    _check_against_torch(MULTI_TILE, dtype, rng)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_stride2_and_reduction_tiles_spanning_several_images(rng, dtype):
    """Stride 2 (backward_input's exact-division test leaves stride holes), P*Q = 9 < 16 (every backward_weight
    step straddles images) and N*P*Q = 45 leaves a remainder step."""
    _check_against_torch((5, 3, 5, 6, 4, 3, 3, (2, 2), (1, 1)), dtype, rng)


def test_one_pixel_outputs_step_over_sixteen_images_at_once(rng):
    """P = Q = 1: backward_weight's (n, pq) index advances 16 images per step (37 = 2*16 + 5), the bias kernel's
    256 images per thread."""
    _check_against_torch((37, 2, 3, 3, 3, 3, 3, (1, 1), (0, 0)), np.float64, rng)


def test_padding_on_both_edges_counts_exactly_the_real_taps():
    """With x and w all ones, y[p, q] is the number of window taps that land on real pixels and dx[h, w] the
    number of (window, tap) pairs that read the pixel -- small integers, exact in float64, so padding on both
    edges and the stride test are checked bit for bit against an independent count."""
    N, C, H, W, K, R, S, (sh, sw), (ph, pw) = 1, 1, 5, 6, 1, 3, 4, (2, 1), (1, 2)
    P, Q = (H + 2 * ph - R) // sh + 1, (W + 2 * pw - S) // sw + 1
    y_count, dx_count = np.zeros((P, Q)), np.zeros((H, W))
    for p in range(P):
        for q in range(Q):
            for r in range(R):
                for s in range(S):
                    h, wc = p * sh - ph + r, q * sw - pw + s
                    if 0 <= h < H and 0 <= wc < W:
                        y_count[p, q] += 1
                        dx_count[h, wc] += 1
    assert y_count.min() < R * S and y_count.max() == R * S  # the window hangs over the padding somewhere
    ones = np.ones
    y = _host(rung1.conv2d_forward(_native(ones((N, C, H, W))), _native(ones((K, C, R, S))), None, (sh, sw),
                                   (ph, pw)))  # fmt: skip
    dx = _host(rung1.conv2d_backward_input(_native(ones((N, K, P, Q))), _native(ones((K, C, R, S))), (N, C, H, W),
                                           (sh, sw), (ph, pw)))  # fmt: skip
    assert np.array_equal(y[0, 0], y_count) and np.array_equal(dx[0, 0], dx_count)


@pytest.mark.parametrize("shape", [(3, 2, 13, 9), (2, 3, 1, 1), (1, 1, 16, 16)])
@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64])
def test_backward_bias_shared_memory_tree(rng, shape, dtype):
    """N*P*Q = 351 (more than 256 threads, not a multiple), 2 (most threads sum nothing), 256 (exactly one each)."""
    dy = rng.standard_normal(shape).astype(dtype)
    db = _host(rung1.conv2d_backward_bias(_native(dy)))
    assert db.dtype == dtype and db.shape == (shape[1],)
    assert rel_err(db, dy.astype(np.float64).sum(axis=(0, 2, 3))) <= TOL[dtype]


@pytest.mark.parametrize("cap", [(3, 1), (1, 2)])
def test_tile_loops_past_the_grid_cap_give_the_same_bits(rng, monkeypatch, cap):
    """With the grid capped each block loops over several tiles (along grid x, then along grid y); every output is
    still summed by one thread in the same order, so the results are bit-for-bit those of the uncapped grid."""
    case = (2, 5, 6, 5, 18, 3, 3, (1, 1), (1, 1))  # tiles: forward 4 x 2, backward_input 4 x 1, backward_weight 2 x 3
    stride, padding = case[7], case[8]
    x, w, b, dy = _inputs(rng, case, np.float32)
    full = _all_ops(rung1, x, w, b, dy, stride, padding)
    monkeypatch.setattr(rung1, "MAX_GRID", cap)
    assert rung1._gemm_launch(60, 18) == (cap, (16, 16))
    capped = _all_ops(rung1, x, w, b, dy, stride, padding)
    for a, c in zip(full, capped):
        assert a.dtype == c.dtype and np.array_equal(a, c)
    ref = _all_ops(production, x, w, b, dy, stride, padding)
    assert all(rel_err(c, r.astype(np.float64)) <= TOL[np.float32] for c, r in zip(capped, ref))


def test_empty_batch_and_empty_planes():
    x = _native(np.zeros((0, 3, 5, 5), np.float32))
    dy = _native(np.zeros((0, 2, 5, 5), np.float32))
    assert rung1.conv2d_forward(x, _native(np.ones((2, 3, 3, 3), np.float32)), None, 1, 1).shape == (0, 2, 5, 5)
    dw = _host(rung1.conv2d_backward_weight(dy, x, (2, 3, 3, 3), 1, 1))  # a reduction of length 0: zeros
    assert dw.shape == (2, 3, 3, 3) and np.all(dw == 0)
    assert np.all(_host(rung1.conv2d_backward_bias(dy)) == 0)
    db = _host(rung1.conv2d_backward_bias(_native(np.ones((2, 3, 0, 4), np.float32))))  # P*Q = 0: no division
    assert db.shape == (3,) and np.all(db == 0)


@pytest.mark.parametrize("what", list(_bad_calls(_native)))
def test_errors_are_the_production_wrappers(what):
    """Every bad argument raises the production wrapper's exception type with its exact message."""
    outcomes = []
    for conv in (production, rung1):
        with pytest.raises((TypeError, ValueError)) as info:
            _bad_calls(_native)[what](conv)
        outcomes.append((info.type, str(info.value)))
    assert outcomes[0] == outcomes[1]
