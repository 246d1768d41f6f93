"""backward_input by stride phase (kernels/cupy/conv2d.cu, the top rung of the CUDA C conv2d ladder): shapes aimed
at the phase geometry, against torch's conv2d input gradient in float64.

Each case names what it reaches: phases with no taps (stride larger than the kernel: their pixels must be exact
zeros), sh != sw, an input smaller than the stride (phases with no pixels, which are never launched), padding of
at least the stride (p_base > 0), a phase whose row tiles cross image boundaries, reductions of several BK steps
over a phase's taps, and more phases than one launch's grid z holds. Runs on the CPU emulator without a GPU
(``KERNELGRAD_CUDA_EMULATE=1``, set by tests/conftest.py); shapes are small because the emulator starts one OS
thread per CUDA thread.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from ..conftest import rel_err

pytest.importorskip("kernels.cupy", reason="needs CuPy and a CUDA GPU, or the CPU emulator (g++)")
from kernels._args import ConvGeometry  # noqa: E402
from kernels.cupy import _runtime  # noqa: E402
from kernels.cupy import conv2d as conv  # noqa: E402
from kernels.cupy._runtime import check_launch, emulating, xp  # noqa: E402
from kernels.cupy.ladder.conv2d import rung2_register_wmma as rung2  # noqa: E402

TOL = {np.float16: 1e-2, np.float32: 1e-5, np.float64: 1e-12}

# (N, C, H, W, K, R, S, stride, padding)
CASES = {
    # 2x1 kernel, stride 3x4: phases a = 2 (rows) and b = 1..3 (columns) have no taps -> exact zeros
    "stride-over-kernel": (2, 3, 9, 11, 4, 2, 1, (3, 4), (0, 0)),
    # stride 3 rows, 2 columns; 3x2 kernel: phases of 1 and 2 taps per axis
    "sh-ne-sw": (1, 5, 10, 9, 6, 3, 2, (3, 2), (1, 0)),
    # H = 2 < sh = 4: of the 4 row phases only 2 hold pixels (W = 3 < sw = 5 likewise); Q = 1
    "input-smaller-than-stride": (2, 3, 2, 3, 5, 3, 2, (4, 5), (2, 1)),
    # padding >= stride in both axes: p_base, q_base > 0, windows reading only padding at the edges
    "padding-over-stride": (1, 2, 7, 6, 3, 5, 4, (2, 3), (3, 3)),
    # phase (0, 0) has 6 x 7 = 42 pixels per image: its 64-row tiles cross images (N * 42 = 126 rows)
    "tiles-cross-images": (3, 5, 11, 13, 4, 3, 3, (2, 2), (1, 1)),
    # K = 40 and 4 taps in the heaviest phase: 160 reduction indices, several BK steps; C = 70: two column tiles
    "deep-reduction": (1, 70, 7, 8, 40, 3, 3, (2, 2), (1, 1)),
    # 1x1 stride-2 projection: one phase of four has its single tap, three write zeros
    "projection-1x1": (2, 6, 8, 7, 5, 1, 1, (2, 2), (0, 0)),
}


def _native(a: np.ndarray):
    return xp().asarray(np.ascontiguousarray(a))


def _host(a) -> np.ndarray:
    return a if isinstance(a, np.ndarray) else a.get()


def _inputs(rng, case, dtype):
    N, C, H, W, K, R, S, (sh, sw), (ph, pw) = case
    P, Q = (H + 2 * ph - R) // sh + 1, (W + 2 * pw - S) // sw + 1
    w = rng.standard_normal((K, C, R, S)).astype(dtype)
    dy = rng.standard_normal((N, K, P, Q)).astype(dtype)
    return dy, w, (N, C, H, W)


def _reference(dy, w, x_shape, stride, padding) -> np.ndarray:
    return torch.nn.grad.conv2d_input(x_shape, torch.from_numpy(w.astype(np.float64)),
                                      torch.from_numpy(dy.astype(np.float64)), stride=stride,
                                      padding=padding).numpy()  # fmt: skip


def _unread(case) -> np.ndarray:
    """[H, W] mask of the input pixels no window reads: their gradient is exactly 0."""
    N, C, H, W, K, R, S, (sh, sw), (ph, pw) = case
    P, Q = (H + 2 * ph - R) // sh + 1, (W + 2 * pw - S) // sw + 1
    read = np.zeros((H + 2 * ph, W + 2 * pw), bool)
    for p in range(P):
        for q in range(Q):
            read[p * sh:p * sh + R, q * sw:q * sw + S] = True
    return ~read[ph:ph + H, pw:pw + W]


@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64])
@pytest.mark.parametrize("case", list(CASES.values()), ids=list(CASES))
def test_backward_input_by_phase_matches_torch(rng, case, dtype):
    dy, w, x_shape = _inputs(rng, case, dtype)
    stride, padding = case[7], case[8]
    ref = _reference(dy, w, x_shape, stride, padding)
    dx = _host(conv.conv2d_backward_input(_native(dy), _native(w), x_shape, stride, padding))
    assert dx.dtype == dtype and dx.shape == ref.shape
    assert rel_err(dx, ref) <= TOL[dtype]
    unread = _unread(case)
    assert np.all(dx[:, :, unread] == 0), "pixels no window reads must get exact zeros"
    assert np.all(np.abs(ref[:, :, ~unread]).sum(axis=(0, 1)) > 0)  # every other pixel has a gradient to get


def test_phases_without_taps_are_exact_zeros(rng):
    """Stride 3x4 with a 2x1 kernel: only rows h % 3 < 2 and columns w % 4 == 0 are read (padding 0)."""
    case = CASES["stride-over-kernel"]
    dy, w, x_shape = _inputs(rng, case, np.float32)
    dx = _host(conv.conv2d_backward_input(_native(dy), _native(w), x_shape, case[7], case[8]))
    H, W = x_shape[2:]
    rows_read = np.arange(H) % 3 < 2
    cols_read = np.arange(W) % 4 == 0
    assert np.all(dx[:, :, ~rows_read, :] == 0) and np.all(dx[:, :, :, ~cols_read] == 0)
    assert np.all(dx[:, :, rows_read][:, :, :, cols_read] != 0)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("case", list(CASES.values()), ids=list(CASES))
def test_fma_path_equals_the_plain_gather_bit_for_bit(rng, case, dtype):
    """On the FMA path a phase adds the same non-zero products in the same (k, r, s) order as rung 2's gather,
    which only interleaves exact zeros (the stride holes): the sums are identical, bit for bit."""
    dy, w, x_shape = _inputs(rng, case, dtype)
    stride, padding = case[7], case[8]
    dx = _host(conv.conv2d_backward_input(_native(dy), _native(w), x_shape, stride, padding))
    plain = _host(rung2.conv2d_backward_input(_native(dy), _native(w), x_shape, stride, padding))
    np.testing.assert_array_equal(dx, plain)


@pytest.mark.parametrize("dtype", [np.float16, np.float32])
def test_more_phases_than_one_launch_holds(rng, monkeypatch, dtype):
    """Stride 3 x 4 on a 7 x 9 input: 12 phases, launched 5 at a time (as past CUDA's 65535 phases)."""
    monkeypatch.setattr(conv, "MAX_GRID_Z", 5)
    case = (2, 3, 7, 9, 4, 3, 4, (3, 4), (1, 2))
    g = ConvGeometry(2, 3, 7, 9, 4, 3, 4, 3, 3, 3, 4, 1, 2)
    launches, _ = conv._backward_input_launch(g, dtype, 5)
    assert [(grid[2], phase0) for grid, phase0 in launches] == [(5, 0), (5, 5), (2, 10)]
    dy, w, x_shape = _inputs(rng, case, dtype)
    ref = _reference(dy, w, x_shape, case[7], case[8])
    dx = _host(conv.conv2d_backward_input(_native(dy), _native(w), x_shape, case[7], case[8]))
    assert rel_err(dx, ref) <= TOL[dtype]


def test_half_fma_fallback_by_phase(rng, monkeypatch):
    """float16 on a GPU without its tensor cores: the FMA path with the WMMA tile shape (emulator only)."""
    if not emulating():
        pytest.skip("the macro is for the emulator; a GPU picks its path by architecture")
    fma = _runtime.SourceModule(conv.MODULE.path.name, conv.MODULE.name_expressions,
                                defines=("KERNELGRAD_NO_TENSOR_CORES",))
    monkeypatch.setattr(conv, "MODULE", fma)
    for name in ("stride-over-kernel", "padding-over-stride", "deep-reduction"):
        case = CASES[name]
        dy, w, x_shape = _inputs(rng, case, np.float16)
        ref = _reference(dy, w, x_shape, case[7], case[8])
        dx = _host(conv.conv2d_backward_input(_native(dy), _native(w), x_shape, case[7], case[8]))
        assert rel_err(dx, ref) <= TOL[np.float16], name
        assert np.all(dx[:, :, _unread(case)] == 0), name


def test_huge_strides_and_padding(rng):
    """Strides near 2**30: the phase count is bounded by the image (min(sh, H) * min(sw, W)), and the phase
    arithmetic must not overflow -- a phase's residue a = (h0 + ph) % sh can reach 2**29 here, past any tap."""
    w = rng.standard_normal((3, 2, 2, 3)).astype(np.float64)
    dy = rng.standard_normal((1, 3, 1, 3)).astype(np.float64)  # stride 2**30 rows: P = 1; padding 1 cols: Q = 3
    ref = _reference(dy, w, (1, 2, 2, 3), (2**30, 1), (0, 1))
    dx = _host(conv.conv2d_backward_input(_native(dy), _native(w), (1, 2, 2, 3), (2**30, 1), (0, 1)))
    assert rel_err(dx, ref) <= TOL[np.float64]
    # padding 2**29 rows, stride 2**30 - 7: P = 2, and neither window reaches the one real row
    w = rng.standard_normal((2, 1, 1, 5)).astype(np.float32)
    dy = rng.standard_normal((1, 2, 2, 1)).astype(np.float32)
    dx = _host(conv.conv2d_backward_input(_native(dy), _native(w), (1, 1, 1, 5), (2**30 - 7, 1), (2**29, 0)))
    assert dx.shape == (1, 1, 1, 5) and np.all(dx == 0)


# ---------------------------------------------------------------- launch arithmetic (pure Python)


@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64])
@pytest.mark.parametrize(
    "geometry, expected",
    [
        # (N, C, H, W, sh, sw) -> [(grid, phase0), ...]: grid x = ceil(N * ceil(H/sh) * ceil(W/sw) / 64)
        ((2, 5, 56, 56, 1, 1), [((98, 1, 1), 0)]),  # stride 1: one phase, the whole image
        ((32, 128, 56, 56, 2, 2), [((392, 2, 4), 0)]),  # ResNet-50's 3x3 stride-2 layer: 4 phases of 28 x 28
        ((3, 5, 11, 13, 2, 2), [((2, 1, 4), 0)]),  # largest phase 6 x 7 = 42 pixels: 126 rows
        ((2, 3, 2, 3, 4, 5), [((1, 1, 6), 0)]),  # H < sh, W < sw: only the 2 x 3 phases with pixels
        # 90,000 phases of one pixel each: two launches, of 65535 and 24465 phases
        ((64, 1, 300, 300, 300, 300), [((1, 1, 65535), 0), ((1, 1, 24465), 65535)]),
    ],
)
def test_backward_input_launch(geometry, expected, dtype):
    N, C, H, W, sh, sw = geometry
    g = ConvGeometry(N, C, H, W, 1, 1, 1, (H - 1) // sh + 1, (W - 1) // sw + 1, sh, sw, 0, 0)
    launches, block = conv._backward_input_launch(g, dtype)
    assert launches == expected
    assert block == (conv.TILES[np.dtype(dtype)][3], 1, 1)
    for grid, _ in launches:
        check_launch(grid, block)  # raises outside the CUDA limits
