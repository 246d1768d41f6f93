"""Triton conv2d details: the split-K backward_weight, its split plan, the 32-bit image-offset limit, autotune keys,
the 64-bit row decode and several row tiles, against torch (float64).

The shared tests (tests/kernels/test_conv2d.py) run the triton backend on small shapes; these reach what they do not.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from kernels._args import ConvGeometry

from ..conftest import rel_err, tolerance
from ..test_conv2d import CASES, _inputs, _torch_reference


def _geometry(C: int, H: int, W: int) -> ConvGeometry:
    """A 1x1 convolution of one C x H x W image to one channel."""
    return ConvGeometry(N=1, C=C, H=H, W=W, K=1, R=1, S=1, P=H, Q=W, sh=1, sw=1, ph=0, pw=0)


def _triton_conv2d():
    try:
        import kernels.triton.conv2d as conv
    except Exception as exc:  # no triton, or no GPU and no interpreter
        pytest.skip(f"kernels.triton not importable: {type(exc).__name__}: {exc}")
    return conv


@pytest.mark.parametrize("splits", [2, 3])
def test_triton_backward_weight_split_reduction(monkeypatch, rng, splits):
    """The split-K backward_weight (partial sums in a workspace, then a fixed-order sum) equals torch, bit-stably."""
    conv = _triton_conv2d()
    device = "cuda" if torch.cuda.is_available() else "cpu"
    case = (3, 5, 21, 17, 6, 3, 2, (2, 1), (1, 1))  # M = N*P*Q = 3*11*18 = 594 reduction rows
    N, C, H, W, K, R, S, stride, padding = case
    x, w, b = _inputs(rng, case, np.float32)
    ref_y, _ = _torch_reference(x, w, b, stride, padding, None)
    dy = rng.standard_normal(ref_y.shape).astype(np.float32)
    _, (_, ref_dw, _) = _torch_reference(x, w, b, stride, padding, dy)
    M = N * ref_y.shape[2] * ref_y.shape[3]
    split_len = -(-M // splits // 128) * 128  # the interpreter's backward_weight BLOCK_K (128) divides it
    monkeypatch.setattr(conv, "_wgrad_splits", lambda *args: (-(-M // split_len), split_len))

    def run():
        return conv.conv2d_backward_weight(torch.from_numpy(dy).to(device), torch.from_numpy(x).to(device),
                                           w.shape, stride, padding).cpu().numpy()

    assert -(-M // split_len) == splits
    dw = run()
    assert rel_err(dw, ref_dw) <= tolerance(np.float32)
    assert np.array_equal(dw, run()), "the split reduction must sum in a fixed order"


def test_triton_wgrad_split_plan():
    """Splits cover the reduction exactly, in multiples of 256 rows, and a 64->64 3x3 layer is split."""
    conv = _triton_conv2d()
    for K, C, R, S, M in [(64, 64, 3, 3, 32 * 56 * 56), (32, 1, 3, 3, 64 * 8 * 8), (256, 256, 3, 3, 32 * 14 * 14),
                          (1, 1, 1, 1, 1), (64, 3, 7, 7, 32 * 112 * 112)]:
        splits, split_len = conv._wgrad_splits(K, C, R, S, M)
        assert split_len % 256 == 0 and splits >= 1
        assert (splits - 1) * split_len < M <= splits * split_len, (K, C, R, S, M, splits, split_len)
    assert conv._wgrad_splits(64, 64, 3, 3, 32 * 56 * 56)[0] > 1


def test_triton_conv2d_refuses_images_past_32_bit_offsets():
    conv = _triton_conv2d()
    with pytest.raises(ValueError, match=r"one image of x \(C\*H\*W\) has 2147483648 elements"):
        conv._check_image_sizes(_geometry(C=2, H=32768, W=32768))
    conv._check_image_sizes(_geometry(C=1, H=46340, W=46340))  # just under 2**31: accepted


def test_triton_conv2d_autotune_key_has_no_batch_size():
    """Keys name the layer and a power-of-two row bucket; two batch sizes in one bucket share a config."""
    conv = _triton_conv2d()
    for kernel in (conv._conv2d_forward_kernel, conv._conv2d_backward_input_kernel,
                   conv._conv2d_backward_weight_kernel):
        assert "N" not in kernel.keys and "M" not in kernel.keys and "M_BUCKET" in kernel.keys
    from kernels.triton._common import size_bucket

    assert size_bucket(33 * 64) == size_bucket(64 * 64) == 4096


def _check_triton_passes_against_torch(conv, case, rng):
    """Forward, backward_input and backward_weight of the Triton module ``conv`` against torch float64."""
    device = "cuda" if torch.cuda.is_available() else "cpu"
    stride, padding = case[7], case[8]
    x, w, b = _inputs(rng, case, np.float32)
    ref_y, _ = _torch_reference(x, w, b, stride, padding, None)
    dy = rng.standard_normal(ref_y.shape).astype(np.float32)
    _, (ref_dx, ref_dw, _) = _torch_reference(x, w, b, stride, padding, dy)
    t = {name: torch.from_numpy(a).to(device) for name, a in (("x", x), ("w", w), ("b", b), ("dy", dy))}
    y = conv.conv2d_forward(t["x"], t["w"], t["b"], stride, padding).cpu().numpy()
    dx = conv.conv2d_backward_input(t["dy"], t["w"], x.shape, stride, padding).cpu().numpy()
    dw = conv.conv2d_backward_weight(t["dy"], t["x"], w.shape, stride, padding).cpu().numpy()
    for out, ref in ((y, ref_y), (dx, ref_dx), (dw, ref_dw)):
        assert rel_err(out, ref) <= tolerance(np.float32)


def test_triton_wide_row_decode_matches_torch(monkeypatch, rng):
    """The 64-bit row decode (taken when N*P*Q passes 2**31) gives the same results as the 32-bit one."""
    conv = _triton_conv2d()
    monkeypatch.setattr(conv, "_wide", lambda rows: True)
    _check_triton_passes_against_torch(conv, CASES[5], rng)


def test_triton_several_row_tiles_match_torch(rng):
    """Forward and backward_input over several BLOCK_M row tiles (the interpreter's tiles are 128 rows)."""
    conv = _triton_conv2d()
    _check_triton_passes_against_torch(conv, (3, 5, 13, 13, 6, 3, 3, (1, 1), (1, 1)), rng)  # 507 rows


# (N, C, H, W, K, R, S, stride, padding) aimed at the stride phases of backward_input: stride above the kernel (phases
# without taps get exact zeros), sh != sw, H < sh (fewer phases than sh*sw: only those with pixels are launched),
# padding >= stride, several row tiles of one phase crossing image boundaries, huge strides.
_PHASE_CASES = [
    (2, 3, 9, 8, 4, 2, 1, (3, 4), (1, 0)),
    (1, 2, 2, 7, 3, 3, 3, (5, 2), (2, 1)),
    (3, 2, 11, 10, 2, 3, 2, (2, 3), (3, 2)),
    (5, 2, 12, 12, 3, 3, 3, (2, 2), (1, 1)),  # 5 images x 36 rows per phase: row tiles cross images
    (2, 2, 4, 5, 3, 2, 2, (2**20, 2**30), (0, 1)),
]


@pytest.mark.parametrize("case", _PHASE_CASES,
                         ids=[f"s{c[7][0]}x{c[7][1]}-p{c[8][0]}{c[8][1]}-H{c[2]}" for c in _PHASE_CASES])
def test_triton_backward_input_stride_phases_match_torch(rng, case):
    conv = _triton_conv2d()
    device = "cuda" if torch.cuda.is_available() else "cpu"
    stride, padding = case[7], case[8]
    x, w, b = _inputs(rng, case, np.float64)
    ref_y, _ = _torch_reference(x, w, b, stride, padding, None)
    dy = rng.standard_normal(ref_y.shape)
    _, (ref_dx, _, _) = _torch_reference(x, w, b, stride, padding, dy)
    dx = conv.conv2d_backward_input(torch.from_numpy(dy).to(device), torch.from_numpy(w).to(device), x.shape,
                                    stride, padding).cpu().numpy()
    assert rel_err(dx, ref_dx) <= tolerance(np.float64)
    assert np.array_equal(dx == 0, ref_dx == 0), "pixels no window reads must be exact zeros, and only those"


def test_triton_backward_input_phases_past_the_grid_limit(monkeypatch, rng):
    """More phases than grid axis 1 takes (CUDA: 65535) run in several launches, each from its first phase."""
    conv = _triton_conv2d()
    monkeypatch.setattr(conv, "MAX_GRID_Y", 4)  # 3 x 3 = 9 phases -> launches of 4, 4 and 1
    device = "cuda" if torch.cuda.is_available() else "cpu"
    case, stride, padding = (2, 2, 8, 7, 3, 3, 3, (3, 3), (1, 1)), (3, 3), (1, 1)
    x, w, b = _inputs(rng, case, np.float64)
    ref_y, _ = _torch_reference(x, w, b, stride, padding, None)
    dy = rng.standard_normal(ref_y.shape)
    _, (ref_dx, _, _) = _torch_reference(x, w, b, stride, padding, dy)
    dx = conv.conv2d_backward_input(torch.from_numpy(dy).to(device), torch.from_numpy(w).to(device), x.shape,
                                    stride, padding).cpu().numpy()
    assert rel_err(dx, ref_dx) <= tolerance(np.float64)
