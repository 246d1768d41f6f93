"""CuPy linear(+bias)(+ReLU) kernels: launch arithmetic, the WMMA half path, multi-tile GEMMs, bad arguments.

The shared suite (tests/kernels/test_linear_relu.py) covers float32/float64 on shapes inside one 64 x 64 tile; here:
tensor cores (float16, and bfloat16 through the emulator directly since CuPy has no bfloat16), several
tiles per axis with ragged tails and a partial GROUP_M group, empty dimensions, and the wrapper's own
argument checks.  Without a GPU this runs under the CPU emulator (numpy arrays).
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
import torch

from kernels.cupy._runtime import KERNEL_DIR, MAX_GRID, emulating

from ..conftest import _load, rel_err, torch_reference

F = torch.nn.functional


@pytest.fixture(scope="module")
def kb():
    return _load("cupy")


@pytest.fixture(scope="module")
def lin(kb):
    return kb.family("linear_relu")


def _draw(rng, shape, dtype, bias=True):
    """x, w, b (b None without bias) already rounded to ``dtype``, with some units active and (when there are
    several outputs) some masked -- made so by flipping signs, never by redrawing, so no draw can fail.

    Nothing keeps a pre-activation away from the ReLU kink: where one lies within rounding distance of 0, the
    kernel's own mask is the reference's there (see :func:`_reference`)."""
    M, K, N = shape
    x = rng.standard_normal((M, K)).astype(dtype)
    w = rng.standard_normal((N, K)).astype(dtype)
    b = rng.standard_normal(N).astype(dtype) if bias else None
    pre = x.astype(np.float64) @ w.astype(np.float64).T + (0 if b is None else b.astype(np.float64))
    if not np.any(pre > 0):  # flipping w and b flips every pre-activation (a 0 stays 0: probability 0)
        w, b, pre = -w, (None if b is None else -b), -pre
    if pre.size > 1 and not np.any(pre < 0):  # flip output unit 0 only: its column becomes negative
        w[0], pre[:, 0] = -w[0], -pre[:, 0]
        if b is not None:
            b[0] = -b[0]
    return x, w, b


def _reference(x, w, b, relu, dy, y=None, margin=0.0):
    """torch float64 forward and (dx, dw, db) on exactly the (rounded) inputs the kernel sees.

    With ``y`` (the kernel's output), a pre-activation within ``margin`` of the ReLU kink takes the kernel's
    mask (``y > 0``): there a float16 rounding may legitimately fall on either side of 0. Elsewhere -- all but
    a handful of outputs -- the mask is PyTorch's, and the forward values are compared everywhere."""
    b = np.zeros(w.shape[0]) if b is None else b

    def layer(xt, wt, bt):
        pre = F.linear(xt, wt, bt)
        return F.relu(pre) if relu else pre

    def masked_layer(xt, wt, bt):
        pre = F.linear(xt, wt, bt)
        near_kink = pre.detach().abs() <= margin
        return pre * torch.where(near_kink, torch.tensor(np.asarray(y, np.float64) > 0), pre.detach() > 0)

    ref_y, grads = torch_reference(layer, x, w, b, grad_output=dy)
    if relu and y is not None:
        _, grads = torch_reference(masked_layer, x, w, b, grad_output=dy)
    return ref_y, grads


def _check_layer(kb, lin, rng, shape, dtype, relu, bias, tol, margin=1e-2):
    """Forward and backward against torch float64; ``margin``: the kink band of :func:`_reference`."""
    x, w, b = _draw(rng, shape, dtype, bias)
    dy = rng.standard_normal((shape[0], shape[2])).astype(dtype)
    nat = kb.to_native
    y = lin.linear_forward(nat(x), nat(w), None if b is None else nat(b), relu)
    y_np = kb.to_numpy(y)
    ref_y, (ref_dx, ref_dw, ref_db) = _reference(x, w, b, relu, dy, y_np, margin)
    assert y_np.dtype == dtype and y_np.shape == ref_y.shape
    assert rel_err(y_np, ref_y) <= tol
    if relu:
        assert np.all(y_np >= 0)
        assert y_np.size == 1 or np.any(y_np == 0)  # the mask did something
        # the kernel's mask may differ from PyTorch's only inside the band around the kink
        pre = x.astype(np.float64) @ w.astype(np.float64).T + (0 if b is None else b.astype(np.float64))
        assert np.all(np.abs(pre[(y_np > 0) != (ref_y > 0)]) <= margin)
    dx, dw, db = lin.linear_backward(nat(dy), nat(x), nat(w), y, relu)
    for got, ref in ((dx, ref_dx), (dw, ref_dw), (db, ref_db)):
        got = kb.to_numpy(got)
        assert got.dtype == dtype and got.shape == ref.shape
        assert rel_err(got, ref) <= tol


# ------------------------------------------------------------------------------- launch configuration


def test_tile_constants_match_the_cuda_source(lin):
    source = (KERNEL_DIR / "linear_relu.cu").read_text()
    for name in ("TILE_M", "TILE_N", "THREADS"):
        found = re.search(rf"constexpr int {name} = (\d+);", source)
        assert found, name
        assert int(found.group(1)) == getattr(lin, name), name


@pytest.mark.parametrize(
    "rows, cols, tiles",
    [(1, 1, 1), (64, 64, 1), (65, 64, 2), (64, 65, 2), (130, 7, 3), (530, 70, 18), (13, 129, 3)],
)
def test_launch_config_counts_ragged_tiles(lin, rows, cols, tiles):
    grid, block = lin._launch_config(rows, cols)
    assert grid == (tiles,) and block == (256,)


def test_launch_config_empty_outputs(lin):
    assert lin._launch_config(0, 5) is None
    assert lin._launch_config(5, 0) is None
    # dw + db with K == 0: dw is empty but db still needs one column of tiles
    assert lin._launch_config(70, 0, min_col_tiles=1) == ((2,), (256,))
    assert lin._launch_config(0, 0, min_col_tiles=1) is None


def test_launch_config_huge_shapes_stay_in_cuda_limits(lin):
    # y[2^20, 2^12] has 2^32 elements (past int32 indexing): 2^14 * 2^6 tiles on a 1-D grid
    grid, block = lin._launch_config(2**20, 2**12)
    assert grid == (2**20,) and grid[0] <= MAX_GRID[0] and block[0] <= 1024
    grid, _ = lin._launch_config(2**31, 64)  # 2^31 rows: 2^25 tiles
    assert grid == (2**25,)
    with pytest.raises(ValueError, match="grid"):
        lin._launch_config(2**40, 2**40)  # more tiles than a 1-D grid holds


# ------------------------------------------------------------------------------- values


@pytest.mark.parametrize("relu", [True, False], ids=["relu", "linear"])
@pytest.mark.parametrize("bias", [True, False], ids=["bias", "nobias"])
@pytest.mark.parametrize(
    "shape",
    [(1, 1, 1), (7, 13, 3), (13, 33, 7), (3, 1, 70), (70, 45, 67)],  # (M, K, N): < 1 tile ... > 1 tile per axis
    ids=lambda s: "M{}K{}N{}".format(*s),
)
def test_float16_tensor_core_path(kb, lin, rng, shape, relu, bias):
    _check_layer(kb, lin, rng, shape, np.float16, relu, bias, 1e-2)


@pytest.mark.parametrize("relu", [True, False], ids=["relu", "linear"])
@pytest.mark.parametrize("dtype, tol", [(np.float32, 1e-4), (np.float64, 1e-10)], ids=["float32", "float64"])
@pytest.mark.parametrize(
    "shape",
    # (M, K, N): 9 row tiles (a partial GROUP_M = 8 group) x 2 col tiles; 3 col tiles of dw and dx (K = 130,
    # db written by col tile 0 only); reduction over many BK stages with ragged ends
    [(530, 20, 70), (17, 130, 67), (1, 77, 129)],
    ids=lambda s: "M{}K{}N{}".format(*s),
)
def test_multi_tile_fma_path(kb, lin, rng, shape, dtype, tol, relu):
    # thousands of outputs: a 1e-2 margin is rarely met everywhere, and 1e-4 is still ~100x the float32 error
    _check_layer(kb, lin, rng, shape, dtype, relu, True, tol, margin=1e-4)


def test_empty_reduction_and_empty_outputs(kb, lin, rng):
    nat, np_ = kb.to_native, kb.to_numpy
    b = rng.standard_normal(5).astype(np.float32)
    # K == 0: y = relu(b) in every row; backward has empty dx/dw and db = column sums of the gated dy
    x, w = np.zeros((3, 0), np.float32), np.zeros((5, 0), np.float32)
    y = lin.linear_forward(nat(x), nat(w), nat(b), True)
    np.testing.assert_array_equal(np_(y), np.broadcast_to(np.maximum(b, 0), (3, 5)))
    dy = rng.standard_normal((3, 5)).astype(np.float32)
    dx, dw, db = lin.linear_backward(nat(dy), nat(x), nat(w), y, True)
    assert np_(dx).shape == (3, 0) and np_(dw).shape == (5, 0)
    np.testing.assert_allclose(np_(db), np.where(np_(y) > 0, dy, 0).sum(0), rtol=1e-6, atol=1e-6)
    # M == 0: empty y; dw and db are empty sums (zeros)
    x, w = np.zeros((0, 4), np.float32), rng.standard_normal((5, 4)).astype(np.float32)
    y = lin.linear_forward(nat(x), nat(w), nat(b), False)
    assert np_(y).shape == (0, 5)
    dx, dw, db = lin.linear_backward(nat(np.zeros((0, 5), np.float32)), nat(x), nat(w), None, False)
    np.testing.assert_array_equal(np_(dw), np.zeros((5, 4), np.float32))
    np.testing.assert_array_equal(np_(db), np.zeros(5, np.float32))
    # N == 0: dx = g @ w over an empty N is zero
    x, w = rng.standard_normal((3, 4)).astype(np.float32), np.zeros((0, 4), np.float32)
    dx, dw, db = lin.linear_backward(nat(np.zeros((3, 0), np.float32)), nat(x), nat(w), None, False)
    np.testing.assert_array_equal(np_(dx), np.zeros((3, 4), np.float32))
    assert np_(dw).shape == (0, 4) and np_(db).shape == (0,)


@pytest.mark.skipif(not emulating(), reason="bfloat16 arrays exist only as raw bits under the emulator")
def test_bfloat16_tensor_core_path_under_the_emulator(rng):
    """CuPy has no bfloat16, so the wrapper never reaches these instantiations; launch them directly."""
    from kernels.cupy.emulator import EmulatedModule

    module = EmulatedModule(
        Path(KERNEL_DIR) / "linear_relu.cu",
        ["linear_forward_kernel<__nv_bfloat16>", "linear_backward_weight_kernel<__nv_bfloat16>"],
        include_dirs=(KERNEL_DIR,),
    )

    def bits(t):  # torch bfloat16 -> numpy uint16 bit pattern
        return t.contiguous().view(torch.int16).numpy().view(np.uint16)

    def value(a):
        return torch.from_numpy(a.view(np.int16)).view(torch.bfloat16).double().numpy()

    M, K, N = 19, 40, 70
    x, w, b = (torch.from_numpy(a).to(torch.bfloat16) for a in _draw(rng, (M, K, N), np.float32))
    dy = torch.from_numpy(rng.standard_normal((M, N))).to(torch.bfloat16)
    y = np.empty((M, N), np.uint16)
    sizes = (np.int64(M), np.int64(N), np.int64(K))
    module.launch(
        "linear_forward_kernel<__nv_bfloat16>",
        (2, 1, 1),
        (256, 1, 1),
        (bits(x), bits(w), bits(b), y, *sizes, np.int32(1), np.int32(1)),
    )
    ref_y, (_, ref_dw, ref_db) = _reference(
        x.double().numpy(), w.double().numpy(), b.double().numpy(), True, dy.double().numpy(), value(y), 1e-3
    )
    assert rel_err(value(y), ref_y) <= 1e-2
    dw, db = np.empty((N, K), np.uint16), np.empty(N, np.uint16)
    module.launch(
        "linear_backward_weight_kernel<__nv_bfloat16>",
        (2, 1, 1),
        (256, 1, 1),
        (bits(dy), y, bits(x), dw, db, *sizes, np.int32(1), np.float32(1.0)),  # relu, scale (1: no dropout)
    )
    assert rel_err(value(dw), ref_dw) <= 1e-2
    assert rel_err(value(db), ref_db) <= 1e-2


# ------------------------------------------------------------------------------- bad arguments


def test_rejects_foreign_array_types(kb, lin, rng):
    x = rng.standard_normal((4, 5)).astype(np.float32)
    w = rng.standard_normal((3, 5)).astype(np.float32)
    with pytest.raises(TypeError, match=r"^x must be a .*torch\.Tensor"):
        lin.linear_forward(torch.from_numpy(x), kb.to_native(w), None, False)
    with pytest.raises(TypeError, match=r"^b must be a .*list"):
        lin.linear_forward(kb.to_native(x), kb.to_native(w), [0.0, 0.0, 0.0], False)
    dy = kb.to_native(np.ones((4, 3), np.float32))
    with pytest.raises(TypeError, match=r"^y must be a .*torch\.Tensor"):
        lin.linear_backward(dy, kb.to_native(x), kb.to_native(w), torch.ones(4, 3), True)


def test_rejects_non_contiguous_arrays(kb, lin, rng):
    x = kb.to_native(rng.standard_normal((4, 5)))
    wt = kb.to_native(rng.standard_normal((5, 3))).T  # a [3, 5] view with transposed strides
    with pytest.raises(ValueError, match=r"^w must be C-contiguous"):
        lin.linear_forward(x, wt, None, False)
    w = kb.to_native(rng.standard_normal((3, 5)))
    dy = kb.to_native(rng.standard_normal((3, 4))).T
    with pytest.raises(ValueError, match=r"^dy must be C-contiguous"):
        lin.linear_backward(dy, x, w, None, False)


def test_rejects_float16_mixed_with_float32(kb, lin):
    x = kb.to_native(np.ones((2, 3), np.float16))
    w = kb.to_native(np.ones((4, 3), np.float32))
    with pytest.raises(TypeError, match=r"dtype mismatch: x=float16, w=float32"):
        lin.linear_forward(x, w, None, True)
    dy = kb.to_native(np.ones((2, 4), np.float16))
    y = kb.to_native(np.ones((2, 4), np.float32))
    with pytest.raises(TypeError, match=r"dtype mismatch"):
        lin.linear_backward(dy, x, kb.to_native(np.ones((4, 3), np.float16)), y, True)
