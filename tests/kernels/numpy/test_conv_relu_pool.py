"""The numpy conv -> ReLU -> max-pool extension (``maxpool2d.conv2d_relu_maxpool2d_forward`` / ``_backward``):
``relu_maxpool2d_forward(conv2d_forward_saving_columns(...))`` and the gradients of that pair, in all three column
layouts, every dtype, with ties, NaN and signed zeros (the pooled-in-place paths' fallbacks), and its argument errors.
The n-minor and per-image layouts are bit for bit the unfused pair; the window-major one (small per-image maps: one GEMM
where the unfused conv runs one per image) and Winograd (n-minor 3x3 convs on maps of <= 16 pixels, float32/64) agree
to rounding, and bit for bit wherever their arithmetic is exact."""

from __future__ import annotations

import numpy as np
import pytest

kernels = pytest.importorskip("kernels.numpy")
pool, conv = kernels.maxpool2d, kernels.conv2d

# (N, C, H, W, K, R, conv stride, conv padding, pool kernel)
CASES = [
    (64, 32, 4, 4, 64, 3, 1, 1, 2),  # DigitsCNN's second conv: n-minor
    (5, 16, 7, 5, 8, 3, 1, 1, 2),  # an odd map: the pool crops the last row and column
    (3, 8, 9, 9, 40, 3, 2, 1, (2, 3)),  # strided conv, non-square pool
    (4, 1, 8, 8, 32, 3, 1, 1, 2),  # DigitsCNN's first layer: window-major
    (3, 2, 8, 9, 24, 3, 1, 1, (2, 3)),  # window-major, a non-square pool
    (2, 3, 9, 9, 56, 3, 2, 0, 2),  # window-major, strided and unpadded
    (2, 1, 20, 20, 8, 3, 1, 1, 2),  # a first layer on larger maps: per image (relu_maxpool2d on the NCHW output)
    (3, 2, 9, 7, 24, 3, 1, 1, (2, 3)),  # per image: the pool crops the map (window-major needs whole windows)
    (2, 64, 6, 6, 16, 3, 1, 0, 2),  # K <= C: dx as a forward convolution of dy
]
TOL = {np.float16: 2e-3, np.float32: 2e-6, np.float64: 1e-14}


def _pool_geometry(g, kernel):
    """The geometry of the fused op's pool (non-overlapping ``kernel`` windows) over conv geometry g's output."""
    return pool.maxpool2d_forward_geometry((g.N, g.K, g.P, g.Q), kernel, kernel, 0)


def _layout(g, kernel, dtype) -> str:
    """Which path the fused op takes for conv geometry g, pool ``kernel`` and ``dtype`` (finite inputs)."""
    pg = _pool_geometry(g, kernel)
    if pool._window_major_fits(g, pg):
        return "window-major"
    if conv.n_minor_layout(g):
        return "winograd" if pool._winograd.fits(g, pg, dtype) else "n-minor"
    return "per image"


def _bits(a: np.ndarray) -> np.ndarray:
    return a.view(f"u{a.itemsize}")


@pytest.mark.parametrize("special", ["plain", "ties", "nan", "negative-zero"])
@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64])
@pytest.mark.parametrize("case", CASES, ids=lambda c: "x".join(map(str, c[:5])))
def test_equals_the_conv_then_the_fused_pool(rng, case, dtype, special):
    N, C, H, W, K, R, stride, padding, kernel = case
    x = rng.standard_normal((N, C, H, W)).astype(dtype)
    w = (rng.standard_normal((K, C, R, R)) * 0.3).astype(dtype)
    b = rng.standard_normal(K).astype(dtype)
    if special == "ties":  # small integers and quarters: exact sums, equal window values
        x, w, b = np.round(x), np.round(w * 3) / 4, np.round(b)
    elif special == "nan":
        x.reshape(-1)[rng.integers(0, x.size, 3)] = np.nan
    elif special == "negative-zero":  # outputs of exactly -0.0 and +0.0 in the same windows
        w[:] = 0
        b[: K // 2], b[K // 2 :] = -0.0, np.round(b[K // 2 :])
    g = conv.conv2d_forward_geometry(x.shape, w.shape, b.shape, stride, padding)
    y, cols = conv.conv2d_forward_saving_columns(x, w, b, stride, padding)
    z_ref, argmax_ref = pool.relu_maxpool2d_forward(y, kernel, kernel, 0)
    z, argmax, cols_fused = pool.conv2d_relu_maxpool2d_forward(x, w, b, stride, padding, kernel)
    assert z.dtype == dtype and argmax.dtype == argmax_ref.dtype
    dz = rng.standard_normal(z.shape).astype(dtype)
    # the unfused pair's gradients, routed by the fused forward's own argmax
    dy = pool.relu_maxpool2d_backward(dz, argmax, y.shape, kernel, kernel, 0)
    dx_ref, dw_ref = conv.conv2d_backward_from_columns(dy, cols, w, x.shape, stride, padding)
    db_ref = conv.conv2d_backward_bias(dy)
    dx, dw, db = pool.conv2d_relu_maxpool2d_backward(dz, argmax, cols_fused, w, x.shape, stride, padding, kernel)
    layout = _layout(g, kernel, dtype)
    if layout == "winograd":  # V, the transformed input, stands for the columns; NaN: the direct n-minor path
        assert cols_fused.shape == (cols.shape if special == "nan" else pool._winograd.columns_shape(
            g, _pool_geometry(g, kernel)))
    if layout in ("n-minor", "per image") or (layout == "winograd" and special == "nan"):  # bit for bit
        np.testing.assert_array_equal(_bits(z), _bits(z_ref))
        np.testing.assert_array_equal(argmax, argmax_ref)
        np.testing.assert_array_equal(cols_fused, cols)
        for got, ref in ((dx, dx_ref), (dw, dw_ref), (db, db_ref)):
            np.testing.assert_array_equal(_bits(got), _bits(ref))
    else:  # window-major (one GEMM for the batch), Winograd: exact values (ties, zeros) bit for bit, else to rounding
        if special == "ties" or (special == "negative-zero" and layout == "window-major"):
            np.testing.assert_array_equal(_bits(z), _bits(z_ref))
            np.testing.assert_array_equal(argmax, argmax_ref)
        elif special == "negative-zero":  # Winograd's zeros are all +0.0 (module _winograd, "signed zeros")
            np.testing.assert_array_equal(z, z_ref)
            assert not np.signbit(z).any()
            np.testing.assert_array_equal(argmax, argmax_ref)
        tol = TOL[dtype]
        y64 = y.astype(np.float64)
        margin = 4 * tol * float(np.nanmax(np.abs(y64)))
        np.testing.assert_allclose(z.astype(np.float64), z_ref.astype(np.float64), rtol=0, atol=margin)
        clear = _clear_winners(y64, kernel, margin)
        assert clear.any() or special != "plain"
        np.testing.assert_array_equal(argmax[clear], argmax_ref[clear])
        for got, ref in ((dx, dx_ref), (dw, dw_ref), (db, db_ref)):
            ref64 = ref.astype(np.float64)
            assert np.isnan(got).sum() == np.isnan(ref64).sum()
            ok = ~np.isnan(ref64)
            err = np.linalg.norm(got.astype(np.float64)[ok] - ref64[ok]) / max(np.linalg.norm(ref64[ok]), 1e-30)
            assert err <= 4 * tol, err
    none = pool.conv2d_relu_maxpool2d_backward(dz, argmax, cols_fused, w, x.shape, stride, padding, kernel,
                                               need_input=False, need_weight=False, need_bias=False)
    assert none == (None, None, None)


def test_the_cases_cover_every_layout():
    layouts = []
    for N, C, H, W, K, R, stride, padding, kernel in CASES:
        g = conv.conv2d_forward_geometry((N, C, H, W), (K, C, R, R), None, stride, padding)
        layouts.append(_layout(g, kernel, np.float32))
    assert layouts == ["winograd", "n-minor", "n-minor", "window-major", "window-major", "window-major", "per image",
                       "per image", "n-minor"]
    assert _layout(conv.conv2d_forward_geometry((64, 32, 4, 4), (64, 32, 3, 3), None, 1, 1), 2, np.float16) == "n-minor"


def _clear_winners(y: np.ndarray, kernel, margin: float) -> np.ndarray:
    """[N, K, P', Q'] mask of the pool windows of relu(y) whose first maximum is not within ``margin`` of another
    element or of zero."""
    R, S = (kernel, kernel) if isinstance(kernel, int) else kernel
    N, K, P, Q = y.shape
    P2, Q2 = P // R, Q // S
    win = y[:, :, : P2 * R, : Q2 * S].reshape(N, K, P2, R, Q2, S).transpose(0, 1, 2, 4, 3, 5).reshape(N, K, P2, Q2, -1)
    top = np.sort(win, axis=-1)
    return (top[..., -1] - top[..., -2] > margin) & (np.abs(top[..., -1]) > margin)


@pytest.mark.parametrize("C", [4, 1], ids=["n-minor", "window-major"])
def test_bad_input_raises_naming_the_argument(rng, C):
    x = rng.standard_normal((2, C, 4, 4)).astype(np.float32)
    w = rng.standard_normal((8, C, 3, 3)).astype(np.float32)
    with pytest.raises(ValueError, match="channel mismatch"):
        pool.conv2d_relu_maxpool2d_forward(x, np.concatenate([w, w], axis=1), None, 1, 1, 2)
    with pytest.raises(TypeError):
        pool.conv2d_relu_maxpool2d_forward(x, w.astype(np.float64), None, 1, 1, 2)
    with pytest.raises(ValueError):  # a bias that is not [K]
        pool.conv2d_relu_maxpool2d_forward(x, w, np.zeros(3, np.float32), 1, 1, 2)
    with pytest.raises(ValueError):  # a pool larger than the conv's 4x4 output
        pool.conv2d_relu_maxpool2d_forward(x, w, None, 1, 1, 5)
    z, argmax, cols = pool.conv2d_relu_maxpool2d_forward(x, w, None, 1, 1, 2)
    dz = np.ones_like(z)
    with pytest.raises(ValueError, match="argmax holds values"):
        pool.conv2d_relu_maxpool2d_backward(dz, argmax + 4, cols, w, x.shape, 1, 1, 2)
    with pytest.raises(TypeError, match="argmax"):
        pool.conv2d_relu_maxpool2d_backward(dz, argmax.astype(np.float32), cols, w, x.shape, 1, 1, 2)
    with pytest.raises(ValueError, match="cols must be"):
        pool.conv2d_relu_maxpool2d_backward(dz, argmax, cols[:-1], w, x.shape, 1, 1, 2)
    with pytest.raises(TypeError, match="dtype"):
        pool.conv2d_relu_maxpool2d_backward(dz, argmax, cols, w.astype(np.float64), x.shape, 1, 1, 2)
    with pytest.raises(ValueError):  # dz of the wrong shape
        pool.conv2d_relu_maxpool2d_backward(dz[:, :, :1], argmax, cols, w, x.shape, 1, 1, 2)


@pytest.mark.parametrize("C", [4, 1], ids=["n-minor", "window-major"])
def test_an_empty_batch_forward(rng, C):
    x = np.zeros((0, C, 8, 8), np.float32)
    w = rng.standard_normal((8, C, 3, 3)).astype(np.float32)
    b = rng.standard_normal(8).astype(np.float32)
    z, argmax, cols = pool.conv2d_relu_maxpool2d_forward(x, w, b, 1, 1, 2)
    assert z.shape == argmax.shape == (0, 8, 4, 4)
    with pytest.raises(ValueError, match="input_shape"):  # as maxpool2d_backward: the framework never sends N = 0
        pool.conv2d_relu_maxpool2d_backward(z, argmax, cols, w, x.shape, 1, 1, 2)


@pytest.mark.parametrize("draw", range(12))
def test_random_geometries_match_torch(rng, draw):
    """Fresh geometries each run (the printed seed replays them): conv (kernel 1-3, stride 1-2, padding 0-1),
    non-overlapping pool (1-3 per side), any layout, float64, against torch's conv2d -> relu -> max_pool2d and its
    gradients. Random values: ties (where PyTorch's and any other first-maximum rule could differ) have
    probability 0."""
    torch = pytest.importorskip("torch")
    while True:
        N, C, K = int(rng.integers(1, 6)), int(rng.integers(1, 5)), int(rng.integers(1, 48))
        H, W = int(rng.integers(2, 13)), int(rng.integers(2, 13))
        R, S = int(rng.integers(1, 4)), int(rng.integers(1, 4))
        stride = (int(rng.integers(1, 3)), int(rng.integers(1, 3)))
        padding = (int(rng.integers(0, 2)), int(rng.integers(0, 2)))
        kernel = (int(rng.integers(1, 4)), int(rng.integers(1, 4)))
        P = (H + 2 * padding[0] - R) // stride[0] + 1
        Q = (W + 2 * padding[1] - S) // stride[1] + 1
        if P >= kernel[0] and Q >= kernel[1] and padding[0] < R and padding[1] < S:
            break
    x, w, b = rng.standard_normal((N, C, H, W)), rng.standard_normal((K, C, R, S)), rng.standard_normal(K)
    z, argmax, cols = pool.conv2d_relu_maxpool2d_forward(x, w, b, stride, padding, kernel)
    xt, wt, bt = (torch.tensor(a, requires_grad=True) for a in (x, w, b))
    zt = torch.nn.functional.max_pool2d(torch.relu(torch.nn.functional.conv2d(xt, wt, bt, stride, padding)), kernel)
    dz = rng.standard_normal(tuple(zt.shape))
    zt.backward(torch.tensor(dz))
    dx, dw, db = pool.conv2d_relu_maxpool2d_backward(dz, argmax, cols, w, x.shape, stride, padding, kernel)
    layout = _layout(conv.conv2d_forward_geometry(x.shape, w.shape, None, stride, padding), kernel, x.dtype)
    for name, got, want in (("z", z, zt.detach()), ("dx", dx, xt.grad), ("dw", dw, wt.grad), ("db", db, bt.grad)):
        want = want.numpy()
        err = np.linalg.norm(got - want) / max(np.linalg.norm(want), 1e-300)
        assert err <= 1e-12, (name, layout, (N, C, H, W), (K, R, S), stride, padding, kernel, err)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("draw", range(6))
def test_winograd_matches_torch(rng, draw, dtype):
    """The Winograd path on fresh shapes (every map it takes: 2x2 to 4x4 with even sides; batch and channels drawn so
    the layout is n-minor) against torch's conv2d -> relu -> max_pool2d and its gradients in float64; float32 inputs
    within the fp32 bound. With and without a bias, and one call asking only for dw (a first layer's)."""
    torch = pytest.importorskip("torch")
    H, W = (int(v) for v in rng.choice([2, 4], size=2))
    N, C, K = int(rng.integers(1, 40)), int(rng.integers(2, 48)), int(rng.integers(1, 80))
    g = conv.conv2d_forward_geometry((N, C, H, W), (K, C, 3, 3), None, 1, 1)
    if _layout(g, 2, dtype) != "winograd":  # few channels for K: widen C until the layout is n-minor
        C = K * W // 8 + 1
        g = conv.conv2d_forward_geometry((N, C, H, W), (K, C, 3, 3), None, 1, 1)
    assert _layout(g, 2, dtype) == "winograd", (N, C, H, W, K)
    x, w = rng.standard_normal((N, C, H, W)).astype(dtype), rng.standard_normal((K, C, 3, 3)).astype(dtype)
    b = rng.standard_normal(K).astype(dtype) if draw % 2 else None
    z, argmax, cols = pool.conv2d_relu_maxpool2d_forward(x, w, b, 1, 1, 2)
    assert cols.shape == pool._winograd.columns_shape(g, _pool_geometry(g, 2))
    leaves = [torch.tensor(a.astype(np.float64), requires_grad=True) for a in (x, w) + ((b,) if b is not None else ())]
    zt = torch.nn.functional.max_pool2d(torch.relu(torch.nn.functional.conv2d(*leaves, padding=1)), 2)
    dz = rng.standard_normal(tuple(zt.shape))
    zt.backward(torch.tensor(dz))
    dx, dw, db = pool.conv2d_relu_maxpool2d_backward(dz.astype(dtype), argmax, cols, w, x.shape, 1, 1, 2,
                                                     need_bias=b is not None)
    tol = 1e-12 if dtype == np.float64 else 1e-5
    wants = [("z", z, zt.detach()), ("dx", dx, leaves[0].grad), ("dw", dw, leaves[1].grad)]
    for name, got, want in wants + ([("db", db, leaves[2].grad)] if b is not None else []):
        assert got.dtype == dtype
        want = want.numpy()
        err = np.linalg.norm(got - want) / max(np.linalg.norm(want), 1e-300)
        assert err <= tol, (name, (N, C, H, W, K), err)
    only_dw = pool.conv2d_relu_maxpool2d_backward(dz.astype(dtype), argmax, cols, w, x.shape, 1, 1, 2,
                                                  need_input=False, need_bias=False)
    assert only_dw[0] is None and only_dw[2] is None
    np.testing.assert_array_equal(only_dw[1], dw)


@pytest.mark.parametrize("value", [np.inf, -np.inf, 1e38])
def test_winograd_leaves_non_finite_results_to_the_direct_path(rng, value):
    """An inf in x (or values whose transforms overflow in float32) would come out of Winograd's sums of differences
    as NaN; the fused op then runs the direct n-minor path, so z, argmax and the gradients are the unfused pair's, bit
    for bit."""
    x = rng.standard_normal((8, 32, 4, 4)).astype(np.float32)
    w = (rng.standard_normal((64, 32, 3, 3)) * 0.3).astype(np.float32)
    b = rng.standard_normal(64).astype(np.float32)
    x[3, 5, 1, 2] = value
    if value == 1e38:
        x[3, 5] = value
    g = conv.conv2d_forward_geometry(x.shape, w.shape, b.shape, 1, 1)
    assert _layout(g, 2, np.float32) == "winograd"
    y, cols = conv.conv2d_forward_saving_columns(x, w, b, 1, 1)
    z_ref, argmax_ref = pool.relu_maxpool2d_forward(y, 2, 2, 0)
    z, argmax, cols_fused = pool.conv2d_relu_maxpool2d_forward(x, w, b, 1, 1, 2)
    assert np.isfinite(z_ref).all() == (value == 1e38)  # 1e38: finite directly, only Winograd's transforms overflow
    np.testing.assert_array_equal(_bits(z), _bits(z_ref))
    np.testing.assert_array_equal(argmax, argmax_ref)
    np.testing.assert_array_equal(cols_fused, cols)
    dz = rng.standard_normal(z.shape).astype(np.float32)
    dy = pool.relu_maxpool2d_backward(dz, argmax, y.shape, 2, 2, 0)
    dx_ref, dw_ref = conv.conv2d_backward_from_columns(dy, cols, w, x.shape, 1, 1)
    dx, dw, db = pool.conv2d_relu_maxpool2d_backward(dz, argmax, cols_fused, w, x.shape, 1, 1, 2)
    for got, ref in ((dx, dx_ref), (dw, dw_ref), (db, conv.conv2d_backward_bias(dy))):
        np.testing.assert_array_equal(_bits(got), _bits(ref))
