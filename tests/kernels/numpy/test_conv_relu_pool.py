"""The numpy conv -> ReLU -> max-pool extension (``maxpool2d.conv2d_relu_maxpool2d_forward`` / ``_backward``): bit for
bit ``relu_maxpool2d_forward(conv2d_forward_saving_columns(...))`` and the gradients of that pair (dx and dw bit for
bit), in both column layouts, every dtype, with ties, NaN and signed zeros (the pooled-in-place path's
fallbacks), and its argument errors."""

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
    (4, 1, 8, 8, 32, 3, 1, 1, 2),  # a first layer: per image (relu_maxpool2d on the NCHW output)
    (2, 64, 6, 6, 16, 3, 1, 0, 2),  # K <= C: dx as a forward convolution of dy
]


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
    np.testing.assert_array_equal(_bits(z), _bits(z_ref))
    np.testing.assert_array_equal(argmax, argmax_ref)
    assert z.dtype == dtype and argmax.dtype == argmax_ref.dtype
    np.testing.assert_array_equal(cols_fused, cols)

    dz = rng.standard_normal(z.shape).astype(dtype)
    dy = pool.relu_maxpool2d_backward(dz, argmax_ref, y.shape, kernel, kernel, 0)
    dx_ref, dw_ref = conv.conv2d_backward_from_columns(dy, cols, w, x.shape, stride, padding)
    db_ref = conv.conv2d_backward_bias(dy)
    dx, dw, db = pool.conv2d_relu_maxpool2d_backward(dz, argmax, cols_fused, w, x.shape, stride, padding, kernel)
    np.testing.assert_array_equal(_bits(dx), _bits(dx_ref))
    np.testing.assert_array_equal(_bits(dw), _bits(dw_ref))
    np.testing.assert_array_equal(_bits(db), _bits(db_ref))
    layout = conv.n_minor_layout(g)
    assert layout == (C > 1)  # both layouts are covered

    none = pool.conv2d_relu_maxpool2d_backward(dz, argmax, cols_fused, w, x.shape, stride, padding, kernel,
                                               need_input=False, need_weight=False, need_bias=False)
    assert none == (None, None, None)


def test_bad_input_raises_naming_the_argument(rng):
    x = rng.standard_normal((2, 4, 4, 4)).astype(np.float32)
    w = rng.standard_normal((8, 4, 3, 3)).astype(np.float32)
    with pytest.raises(ValueError, match="channel mismatch"):
        pool.conv2d_relu_maxpool2d_forward(x, w[:, :3], None, 1, 1, 2)
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
