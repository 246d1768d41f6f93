"""The numpy conv2d column-matrix extension (``conv2d_forward_saving_columns`` / ``conv2d_backward_from_columns``)
and the framework ops that use it: values and gradients against torch float64, in each column layout (n-minor,
per image through slice copies, per image through gathers) and the window-by-window loop of a kernel as large as
the input; what the op saves (nothing extra without a weight gradient, freed after backward, kept under
retain_graph).
"""

from __future__ import annotations

import numpy as np
import pytest

from tests.helpers import rel_err

torch = pytest.importorskip("torch")
conv = pytest.importorskip("kernels.numpy").conv2d

# (x shape, w shape, stride, padding): which path each takes is asserted in test_cases_cover_every_path
CASES = [
    ((3, 8, 4, 4), (6, 8, 3, 3), (1, 1), (1, 1)),  # n-minor (small map, many channels: DigitsCNN's second conv)
    ((2, 5, 1, 9), (4, 5, 1, 3), (1, 2), (0, 1)),  # n-minor, Conv1d-shaped, stride 2
    ((1, 1, 7, 6), (16, 1, 3, 2), (2, 1), (1, 0)),  # per image, gathers: batch 1, non-square kernel, stride 2
    ((2, 2, 33, 17), (3, 2, 2, 3), (2, 1), (1, 1)),  # per image, slice copies (P*Q > 256), stride 2, padding
    ((2, 3, 3, 3), (4, 3, 3, 3), (2, 2), (1, 1)),  # n-minor, a window loop: R*S = 9 > P*Q = 4
    ((1, 1, 40, 40), (2, 1, 24, 24), (1, 1), (0, 0)),  # per image, slice copies, a window loop: R*S > P*Q > 256
    ((2, 6, 20, 17), (3, 6, 5, 4), (1, 1), (2, 3)),  # per image, slice copies; dx as a forward conv (K <= C, stride 1)
    ((4, 8, 4, 4), (16, 8, 3, 3), (1, 1), (1, 1)),  # n-minor, K > C on a 4x4 map: col2im as a 0/1-matrix product
    ((2, 8, 5, 5), (16, 8, 3, 3), (1, 1), (1, 1)),  # n-minor, K > C on a 5x5 map: col2im by slice adds
]


def _torch_conv(x, w, b, stride, padding):
    xt, wt = (torch.tensor(a, dtype=torch.float64, requires_grad=True) for a in (x, w))
    bt = torch.tensor(b, dtype=torch.float64, requires_grad=True)
    return xt, wt, bt, torch.nn.functional.conv2d(xt, wt, bt, stride, padding)


def test_cases_cover_every_path():
    g = [conv.conv2d_forward_geometry(xs, ws, None, s, p) for xs, ws, s, p in CASES]
    assert [conv.n_minor_layout(c) for c in g] == [True, True, False, False, True, False, False, True, True]
    assert [conv._gathers(c) for c in g] == [False, False, True, False, False, False, False, False, False]
    assert [c.R * c.S > c.P * c.Q for c in g] == [False, False, False, False, True, True, False, False, False]
    assert [conv._full_conv_input_grad(c) for c in g] == [True, False, False, False, False, False, True, False, False]
    col2im_matmul = [conv.n_minor_layout(c) and c.H * c.W <= conv._COL2IM_MATMUL_MAX_HW for c in g]
    assert col2im_matmul == [True, True, False, False, True, False, False, True, False]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("case", CASES, ids=[f"{c[0]}-{c[1]}" for c in CASES])
def test_forward_and_backward_from_columns_match_torch(case, dtype, rng):
    xs, ws, stride, padding = case
    x, w = rng.standard_normal(xs).astype(dtype), rng.standard_normal(ws).astype(dtype)
    b = rng.standard_normal(ws[0]).astype(dtype)
    xt, wt, bt, yt = _torch_conv(x, w, b, stride, padding)
    dy = rng.standard_normal(tuple(yt.shape)).astype(dtype)
    yt.backward(torch.tensor(dy, dtype=torch.float64))
    tol = 1e-4 if dtype == np.float32 else 1e-12

    y, cols = conv.conv2d_forward_saving_columns(x, w, b, stride, padding)
    assert y.dtype == dtype and rel_err(y, yt.detach()) < tol
    np.testing.assert_array_equal(y, conv.conv2d_forward(x, w, b, stride, padding))
    dx, dw = conv.conv2d_backward_from_columns(dy, cols, w, xs, stride, padding)
    assert dx.dtype == dw.dtype == dtype
    assert rel_err(dx, xt.grad) < tol and rel_err(dw, wt.grad) < tol
    # the contract functions give the same numbers by their own route
    assert rel_err(conv.conv2d_backward_input(dy, w, xs, stride, padding), xt.grad) < tol
    assert rel_err(conv.conv2d_backward_weight(dy, x, ws, stride, padding), wt.grad) < tol
    # each gradient alone
    assert conv.conv2d_backward_from_columns(dy, cols, w, xs, stride, padding, need_input=False)[0] is None
    assert conv.conv2d_backward_from_columns(dy, cols, w, xs, stride, padding, need_weight=False)[1] is None


def test_float16_columns_are_float32(rng):
    x, w = rng.standard_normal((2, 3, 5, 5)).astype(np.float16), rng.standard_normal((4, 3, 3, 3)).astype(np.float16)
    y, cols = conv.conv2d_forward_saving_columns(x, w, None, 1, 1)
    assert y.dtype == np.float16 and cols.dtype == np.float32
    dx, dw = conv.conv2d_backward_from_columns(np.ones_like(y), cols, w, x.shape, 1, 1)
    assert dx.dtype == dw.dtype == np.float16


def test_backward_from_columns_refuses_other_columns(rng):
    x, w = rng.standard_normal((2, 3, 5, 5)), rng.standard_normal((4, 3, 3, 3))
    y, cols = conv.conv2d_forward_saving_columns(x, w, None, 1, 1)
    with pytest.raises(ValueError, match="cols"):
        conv.conv2d_backward_from_columns(y, cols[:-1], w, x.shape, 1, 1)
    with pytest.raises(ValueError, match="cols"):
        conv.conv2d_backward_from_columns(y, cols.astype(np.float32), w, x.shape, 1, 1)


# ---------------------------------------------------------------------------------- the framework ops


def _saved(t):
    return len(t._ctx.saved_tensors) if t._ctx is not None else None


def test_conv2d_op_saves_columns_only_for_a_weight_gradient(rng):
    import framework as fw
    import framework.nn.functional as F

    x = fw.tensor(rng.standard_normal((2, 3, 6, 6)).astype(np.float32), requires_grad=True)
    w = fw.tensor(rng.standard_normal((4, 3, 3, 3)).astype(np.float32), requires_grad=True)
    frozen = fw.tensor(w.numpy())
    assert _saved(F.conv2d(x, w, padding=1)) == 3  # x, w and the column matrix
    assert _saved(F.conv2d(x, frozen, padding=1)) == 2  # dx only: no column matrix kept
    with fw.no_grad():
        assert F.conv2d(x, w, padding=1)._ctx is None

    xt, wt = (torch.tensor(a.numpy(), dtype=torch.float64, requires_grad=True) for a in (x, w))
    ref = torch.nn.functional.conv2d(xt, wt, stride=2, padding=1)
    (ref * ref).sum().backward()
    y = F.conv2d(x, w, stride=2, padding=1)
    for _ in range(2):  # the columns survive a retained backward, then are freed with the graph
        x.grad, w.grad = None, None
        (y * y).sum().backward(retain_graph=_ == 0)
        assert rel_err(w.grad, wt.grad) < 1e-4 and rel_err(x.grad, xt.grad) < 1e-4
    assert y._ctx.freed


def test_conv_transpose2d_gradients_share_columns(rng):
    import framework as fw
    import framework.nn.functional as F

    x = rng.standard_normal((3, 6, 4, 5)).astype(np.float32)
    w = rng.standard_normal((6, 2, 4, 3)).astype(np.float32)
    xf, wf = fw.tensor(x, requires_grad=True), fw.tensor(w, requires_grad=True)
    xt, wt = (torch.tensor(a, dtype=torch.float64, requires_grad=True) for a in (x, w))
    y = F.conv_transpose2d(xf, wf, stride=2, padding=1, output_padding=1)
    ref = torch.nn.functional.conv_transpose2d(xt, wt, stride=2, padding=1, output_padding=1)
    dy = rng.standard_normal(tuple(ref.shape)).astype(np.float32)
    assert rel_err(y, ref.detach()) < 1e-4
    y.backward(fw.tensor(dy))
    ref.backward(torch.tensor(dy, dtype=torch.float64))
    assert rel_err(xf.grad, xt.grad) < 1e-4 and rel_err(wf.grad, wt.grad) < 1e-4


@pytest.mark.parametrize("block_images", [1, 2])
def test_input_grad_in_blocks_of_images(block_images, rng, monkeypatch):
    """Per image without gathers, dx is computed a few images at a time (a block of dcols in cache): blocks of 1
    and 2 images over a batch of 5 (a short last block) give torch's dx."""
    x_shape, w_shape, stride, padding = (5, 3, 40, 19), (4, 3, 3, 2), (2, 1), (1, 0)
    g = conv.conv2d_forward_geometry(x_shape, w_shape, None, stride, padding)
    assert not conv.n_minor_layout(g) and not conv._gathers(g) and not conv._full_conv_input_grad(g)
    monkeypatch.setattr(conv, "_COL2IM_BLOCK_BYTES", block_images * 3 * 3 * 2 * g.P * g.Q * 4)
    x, w = rng.standard_normal(x_shape).astype(np.float32), rng.standard_normal(w_shape).astype(np.float32)
    dy = rng.standard_normal((5, 4, g.P, g.Q)).astype(np.float32)
    xt = torch.tensor(x, dtype=torch.float64, requires_grad=True)
    torch.nn.functional.conv2d(xt, torch.tensor(w, dtype=torch.float64), None, stride, padding).backward(
        torch.tensor(dy, dtype=torch.float64))
    assert rel_err(conv.conv2d_backward_input(dy, w, x_shape, stride, padding), xt.grad) < 1e-5


@pytest.mark.parametrize("case", [c for c in CASES if c[0][2] * c[0][3] <= 16], ids=lambda c: f"{c[0]}-{c[1]}")
def test_col2im_product_equals_the_slice_adds(case, rng, monkeypatch):
    """The small-map col2im (one 0/1-matrix product per channel) against the slice-add one it replaces: bit for bit
    on integers (exact sums in any order), to rounding on random values."""
    xs, ws, stride, padding = case
    g = conv.conv2d_forward_geometry(xs, ws, None, stride, padding)
    if not conv.n_minor_layout(g):
        pytest.skip("per-image layout")
    shape = (g.C * g.R * g.S, g.P * g.Q * g.N)
    for dcols, exact in ((np.round(rng.standard_normal(shape) * 8).astype(np.float32), True),
                         (rng.standard_normal(shape).astype(np.float32), False)):
        product = conv._col2im(dcols, g, np.float32)
        monkeypatch.setattr(conv, "_COL2IM_MATMUL_MAX_HW", 0)
        slices = conv._col2im(dcols, g, np.float32)
        monkeypatch.undo()
        if exact:
            np.testing.assert_array_equal(product, slices)
        else:
            assert rel_err(product, slices) < 1e-6
