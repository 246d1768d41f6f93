"""Triton conv2d ladder rung 4 (1x1 convolutions as batched GEMMs): values and all three gradients against torch
float64 on awkward shapes, its deterministic split-K, the empty batch, and that every other geometry takes
production's general path (with correct results there too).

The rung is not in the ladder's RUNGS yet (the top rung must be production), so the shared conv tests do not run
it; and none of their shapes is 1x1 with stride 1 and padding 0. These tests reach it directly.
"""

from __future__ import annotations

import inspect

import numpy as np
import pytest
import torch

from ..conftest import rel_err, tolerance
from ..test_conv2d import _torch_reference

DEVICE = "cuda" if torch.cuda.is_available() else "cpu"

# (N, C, H, W, K): HW not a multiple of the pixel tile, C = 1, K = 1, N = 1, HW = 1, C and K past one tile
# (reduction tail, two row tiles), several pixel tiles per image and images per batch (PIX_ALIGN 16, 4, 2, 1).
CASES = [
    (2, 5, 7, 10, 3),
    (1, 1, 5, 13, 4),
    (3, 6, 4, 4, 1),
    (5, 7, 1, 1, 6),
    (2, 40, 3, 5, 37),
    (3, 3, 12, 12, 2),
]
IDS = ["n{}c{}h{}w{}k{}".format(*c) for c in CASES]
TOL = {np.float32: tolerance(np.float32), np.float64: tolerance(np.float64), np.float16: 2e-3}


@pytest.fixture
def rung():
    try:
        from kernels.triton.ladder.conv2d import rung4_pointwise_gemm
    except Exception as exc:  # no triton, or no GPU and no interpreter
        pytest.skip(f"kernels.triton not importable: {type(exc).__name__}: {exc}")
    return rung4_pointwise_gemm


def _production():
    """kernels/triton/conv2d.py: rung 4's kernels and launchers live there (production runs them)."""
    from kernels.triton import conv2d

    return conv2d


@pytest.fixture
def no_general_path(monkeypatch, rung):
    """Production's general launchers raise: what passes ran on the pointwise GEMMs."""
    from kernels.triton import conv2d as production

    for name in ("_implicit_gemm_forward", "_implicit_gemm_backward_input", "_implicit_gemm_backward_weight"):
        monkeypatch.setattr(production, name, lambda *a, name=name: pytest.fail(f"{name} ran for a 1x1 layer"))


def _t(a):
    return torch.from_numpy(np.ascontiguousarray(a)).to(DEVICE)


def _inputs(rng, N, C, H, W, K, dtype):
    x = rng.standard_normal((N, C, H, W)).astype(dtype)
    w = rng.standard_normal((K, C, 1, 1)).astype(dtype)
    b = rng.standard_normal(K).astype(dtype)
    dy = rng.standard_normal((N, K, H, W)).astype(dtype)
    return x, w, b, dy


def _check_all_passes(conv, rng, case, dtype, stride=1, padding=0, R=1):
    """Forward (bias and none), backward_input, backward_weight and backward_bias of ``conv`` against torch."""
    N, C, H, W, K = case
    x = rng.standard_normal((N, C, H, W)).astype(dtype)
    w = rng.standard_normal((K, C, R, R)).astype(dtype)
    b = rng.standard_normal(K).astype(dtype)
    ref_y, _ = _torch_reference(x, w, b, stride, padding, None)
    dy = rng.standard_normal(ref_y.shape).astype(dtype)
    _, (ref_dx, ref_dw, ref_db) = _torch_reference(x, w, b, stride, padding, dy)
    tol = TOL[dtype]

    y = conv.conv2d_forward(_t(x), _t(w), _t(b), stride, padding).cpu().numpy()
    assert y.dtype == dtype and rel_err(y, ref_y) <= tol
    y0 = conv.conv2d_forward(_t(x), _t(w), None, stride, padding).cpu().numpy()
    assert rel_err(y0, ref_y - b.astype(np.float64)[None, :, None, None]) <= tol
    dx = conv.conv2d_backward_input(_t(dy), _t(w), x.shape, stride, padding).cpu().numpy()
    assert dx.dtype == dtype and rel_err(dx, ref_dx) <= tol
    dw = conv.conv2d_backward_weight(_t(dy), _t(x), w.shape, stride, padding).cpu().numpy()
    assert dw.dtype == dtype and dw.shape == w.shape and rel_err(dw, ref_dw) <= tol
    db = conv.conv2d_backward_bias(_t(dy)).cpu().numpy()
    assert rel_err(db, ref_db) <= tol


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.float16])
@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_pointwise_matches_torch(rung, no_general_path, rng, case, dtype):
    _check_all_passes(rung, rng, case, dtype)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_pointwise_split_k_is_exact_and_deterministic(rung, no_general_path, monkeypatch, rng, dtype):
    """Four splits (2 images + a 1-image tail, x a 256-pixel range + a 67-pixel tail) equal torch, bit-stably."""
    N, C, H, W, K = 3, 5, 17, 19, 6  # HW = 323
    monkeypatch.setattr(_production(), "_pointwise_wgrad_splits", lambda *args: (4, 2, 256, 2))
    x, w, _, dy = _inputs(rng, N, C, H, W, K, dtype)
    _, (_, ref_dw, _) = _torch_reference(x, w, None, 1, 0, dy)

    def run():
        return rung.conv2d_backward_weight(_t(dy), _t(x), w.shape, 1, 0).cpu().numpy()

    dw = run()
    assert rel_err(dw, ref_dw) <= TOL[dtype]
    assert np.array_equal(dw, run()), "the split reduction must sum in a fixed order"


def test_pointwise_split_plan_covers_the_reduction_once(rung):
    """Every (image, pixel) pair in exactly one split, pixel ranges in multiples of 256, shapes only."""
    for K, C, N, HW in [(64, 256, 32, 3136), (256, 64, 32, 3136), (64, 64, 1, 3136), (2048, 512, 32, 49),
                        (1, 1, 1, 1), (6, 5, 3, 323), (64, 64, 2, 4096), (16, 16, 200, 196)]:
        splits, images, pixels, pixel_splits = _production()._pointwise_wgrad_splits(K, C, N, HW)
        assert 1 <= splits <= 128 and pixels % 256 == 0 and pixels >= 256
        assert splits == -(-N // images) * pixel_splits
        assert (pixel_splits - 1) * pixels < HW <= pixel_splits * pixels, (K, C, N, HW)
    assert _production()._pointwise_wgrad_splits(64, 256, 32, 3136)[0] > 1  # ResNet's 1x1 256->64 at batch 32 is split
    assert _production()._pointwise_wgrad_splits(64, 64, 1, 112 * 112)[3] > 1  # one image: split along its pixels


def test_pointwise_real_split_plan(rung, no_general_path, rng):
    """The shape's own plan (2 images of 4096 pixels: 2 pixel ranges each) against torch."""
    N, C, H, W, K = 2, 3, 64, 64, 2
    assert _production()._pointwise_wgrad_splits(K, C, N, H * W)[0] == 4
    x, w, _, dy = _inputs(rng, N, C, H, W, K, np.float32)
    _, (_, ref_dw, _) = _torch_reference(x, w, None, 1, 0, dy)
    dw = rung.conv2d_backward_weight(_t(dy), _t(x), w.shape, 1, 0).cpu().numpy()
    assert rel_err(dw, ref_dw) <= tolerance(np.float32)


def test_pointwise_empty_batch(rung, no_general_path):
    x = torch.ones((0, 3, 4, 5), dtype=torch.float32, device=DEVICE)
    w = torch.ones((2, 3, 1, 1), dtype=torch.float32, device=DEVICE)
    y = rung.conv2d_forward(x, w, torch.ones(2, device=DEVICE), 1, 0)
    assert y.shape == (0, 2, 4, 5)
    dw = rung.conv2d_backward_weight(torch.ones((0, 2, 4, 5), device=DEVICE), x, w.shape, 1, 0)
    assert dw.shape == w.shape and torch.all(dw == 0)
    with pytest.raises(ValueError, match="input_shape"):  # production's check: a batch is >= 1 there
        rung.conv2d_backward_input(torch.ones((0, 2, 4, 5), device=DEVICE), w, (0, 3, 4, 5), 1, 0)


@pytest.mark.parametrize("case, R, stride, padding", [
    ((2, 3, 7, 6, 4), 1, 2, 0),   # ResNet's stride-2 1x1 projection
    ((2, 3, 5, 5, 4), 1, 1, 1),   # a padded 1x1
    ((1, 3, 6, 5, 2), 3, 1, 1),   # 3x3
    ((1, 2, 4, 4, 3), 1, (1, 2), 0),
], ids=["1x1-s2", "1x1-p1", "3x3-p1", "1x1-s12"])
def test_other_geometries_take_the_general_path(rung, monkeypatch, rng, case, R, stride, padding):
    from kernels._args import conv2d_forward_geometry

    N, C, H, W, K = case
    assert not _production()._is_pointwise(conv2d_forward_geometry((N, C, H, W), (K, C, R, R), None, stride, padding))
    for name in ("_pointwise_forward", "_pointwise_backward_input", "_pointwise_backward_weight"):
        monkeypatch.setattr(_production(), name, lambda *a, name=name: pytest.fail(f"{name} ran for a general layer"))
    _check_all_passes(rung, rng, case, np.float32, stride, padding, R)


def test_applies_to_1x1_stride_1_unpadded_only(rung):
    from kernels._args import conv2d_forward_geometry

    assert _production()._is_pointwise(conv2d_forward_geometry((32, 256, 56, 56), (64, 256, 1, 1), None, 1, 0))
    assert not _production()._is_pointwise(conv2d_forward_geometry((32, 256, 56, 56), (64, 256, 1, 3), None, 1, (0, 1)))


def test_contract_signatures_and_errors_are_production(rung, rng):
    from kernels.triton import conv2d as production

    for fn in ("conv2d_forward", "conv2d_backward_input", "conv2d_backward_weight", "conv2d_backward_bias"):
        assert inspect.signature(getattr(rung, fn)) == inspect.signature(getattr(production, fn)), fn
    x, w = _t(rng.standard_normal((2, 3, 4, 4))), _t(rng.standard_normal((5, 2, 1, 1)))
    with pytest.raises(ValueError, match=r"\bC\b"):
        rung.conv2d_forward(x, w, None, 1, 0)
    with pytest.raises(TypeError, match="dtype"):
        rung.conv2d_forward(x.float(), _t(rng.standard_normal((5, 3, 1, 1))), None, 1, 0)


def test_autotune_keys_have_no_batch_size(rung):
    for kernel in (_production()._pointwise_gemm_kernel, _production()._pointwise_wgrad_kernel):
        assert "N" not in kernel.keys and "ROWS_BUCKET" in kernel.keys
