"""Edges of the kernel-backed ops against PyTorch in float64, on every device: empty batches (N = 0) in
conv2d / conv_transpose2d / max_pool2d and their neighbours, NaN inside a max-pool window (index and
gradient target), dropout's p (numpy and 0-d values, p = 1, bad values), and the conv / pool argument
checks (one exception type and message per mistake, the same on every device).

Shapes are tiny: the Triton interpreter and the CUDA emulator pay per program, not per element."""

from __future__ import annotations

import re

import numpy as np
import pytest
import torch
import torch.nn.functional as tF

import framework as fw
from framework import nn
from framework.nn import functional as F

from ..conftest import DEVICES, pair, rel_err

TOL = 1e-4


def _grad_check(ours: fw.Tensor, theirs: torch.Tensor, rng, *leaves) -> None:
    """Backward a random upstream through both graphs; compare each (ours, torch) leaf's gradient."""
    g = rng.standard_normal(tuple(theirs.shape))
    ours.backward(fw.tensor(g.astype(np.float32), device=ours.device))
    theirs.backward(torch.tensor(g))
    for a, b in leaves:
        assert rel_err(a.grad, b.grad) < TOL


# -------------------------------------------------------------------------------------- empty batches


def test_conv2d_empty_batch(device, rng):
    """[0, C, H, W] gives [0, K, P, Q]; dw and db get exactly nothing from it. The empty batch is summed
    with a real one so the weight gradient is non-zero and compared with PyTorch's."""
    w, tw = pair(rng.standard_normal((4, 2, 3, 2)), device)
    b, tb = pair(rng.standard_normal(4), device)
    x, tx = pair(rng.standard_normal((1, 4, 3, 4)), device)
    e, te = pair(np.zeros((0, 4, 3, 4)), device)
    kw = dict(stride=(2, 1), padding=1, dilation=(1, 2), groups=2)
    y0, ty0 = F.conv2d(e, w, b, **kw), tF.conv2d(te, tw, tb, **kw)
    assert y0.shape == tuple(ty0.shape) == (0, 4, 2, 4)
    y, ty = F.conv2d(x, w, b, **kw), tF.conv2d(tx, tw, tb, **kw)
    assert rel_err(y, ty) < TOL
    _grad_check(y + y0.sum(), ty + ty0.sum(), rng, (w, tw), (b, tb), (x, tx))
    assert e.grad.shape == (0, 4, 3, 4)


def test_conv_transpose2d_empty_batch(device, rng):
    w, tw = pair(rng.standard_normal((4, 3, 3, 3)), device)
    b, tb = pair(rng.standard_normal(6), device)
    x, tx = pair(rng.standard_normal((1, 4, 2, 2)), device)
    e, te = pair(np.zeros((0, 4, 2, 2)), device)
    kw = dict(stride=2, padding=1, output_padding=1, groups=2)
    y0, ty0 = F.conv_transpose2d(e, w, b, **kw), tF.conv_transpose2d(te, tw, tb, **kw)
    assert y0.shape == tuple(ty0.shape) == (0, 6, 4, 4)
    y, ty = F.conv_transpose2d(x, w, b, **kw), tF.conv_transpose2d(tx, tw, tb, **kw)
    assert rel_err(y, ty) < TOL
    _grad_check(y + y0.sum(), ty + ty0.sum(), rng, (w, tw), (b, tb), (x, tx))
    assert e.grad.shape == (0, 4, 2, 2)


@pytest.mark.parametrize("op", ["max", "max_indices", "max_ceil", "max_dilated", "avg", "adaptive_avg",
                                "adaptive_max"])
def test_pools_empty_batch(device, rng, op):
    fns = {
        "max": lambda f, x: f.max_pool2d(x, 2),
        "max_indices": lambda f, x: f.max_pool2d(x, 3, 2, 1, return_indices=True)[0],
        "max_ceil": lambda f, x: f.max_pool2d(x, 2, ceil_mode=True),
        "max_dilated": lambda f, x: f.max_pool2d(x, 2, 1, dilation=2),
        "avg": lambda f, x: f.avg_pool2d(x, 3, 2, 1),
        "adaptive_avg": lambda f, x: f.adaptive_avg_pool2d(x, (2, 3)),
        "adaptive_max": lambda f, x: f.adaptive_max_pool2d(x, 2),
    }
    e, te = pair(np.zeros((0, 3, 5, 7)), device)
    x, tx = pair(rng.standard_normal((1, 3, 5, 7)), device)
    y0, ty0 = fns[op](F, e), fns[op](tF, te)
    assert y0.shape == tuple(ty0.shape) and y0.shape[0] == 0
    y, ty = fns[op](F, x), fns[op](tF, tx)
    _grad_check(y + y0.sum(), ty + ty0.sum(), rng, (x, tx))
    assert e.grad.shape == (0, 3, 5, 7)


def test_linear_empty_batch(device, rng):
    w, tw = pair(rng.standard_normal((3, 5)), device)
    b, tb = pair(rng.standard_normal(3), device)
    x, tx = pair(rng.standard_normal((2, 5)), device)
    e, te = pair(np.zeros((0, 5)), device)
    y0 = F.linear(e, w, b)
    assert y0.shape == (0, 3)
    _grad_check(F.linear(x, w, b) + y0.sum(), tF.linear(tx, tw, tb) + tF.linear(te, tw, tb).sum(), rng,
                (w, tw), (b, tb), (x, tx))


def test_conv_modules_empty_batch(device):
    conv, pool = nn.Conv2d(2, 3, 3, padding=1).to(device), nn.MaxPool2d(2)
    x = fw.zeros(0, 2, 4, 4, device=device, requires_grad=True)
    y = pool(conv(x))
    assert y.shape == (0, 3, 2, 2)
    y.sum().backward()
    assert np.array_equal(conv.weight.grad.numpy(), np.zeros((3, 2, 3, 3), np.float32))
    assert np.array_equal(conv.bias.grad.numpy(), np.zeros(3, np.float32))


# ------------------------------------------------------------------------------------ NaN in max-pool


def _nan_input(rng) -> np.ndarray:
    """[2, 2, 6, 7] with windows holding one NaN, two NaNs (rows and columns apart), a NaN beside +inf,
    and a NaN at a window's first and last position; -inf patches too."""
    x = rng.standard_normal((2, 2, 6, 7))
    x[0, 0, 0, 1] = np.nan                       # one NaN
    x[0, 1, 2, 2] = x[0, 1, 3, 3] = np.nan       # two in one 2x2 window
    x[0, 1, 0, 4] = x[0, 1, 0, 5] = np.nan       # two in one row
    x[1, 0, 4, 0] = np.nan
    x[1, 0, 4, 1] = np.inf                       # NaN beats +inf
    x[1, 1, 0, 0] = x[1, 1, 5, 6] = np.nan       # first and last positions
    x[1, 1, 2:4, 2:5] = -np.inf
    return x


@pytest.mark.parametrize("kw", [
    dict(kernel_size=2),
    dict(kernel_size=3, stride=1, padding=1),              # overlapping windows share NaNs
    dict(kernel_size=(3, 2), stride=(2, 1), padding=(1, 1), ceil_mode=True),
    dict(kernel_size=2, stride=1, dilation=2),             # the composite (non-kernel) path
], ids=["k2", "k3s1p1", "k32-ceil", "dilated"])
def test_max_pool2d_nan_window_index_and_gradient(device, rng, kw):
    """A NaN is the window's maximum and, with several, the last one wins: values, indices and the input
    gradient (it goes to that NaN) equal PyTorch's."""
    x, tx = pair(_nan_input(rng), device)
    (y, idx), (ty, tidx) = F.max_pool2d(x, return_indices=True, **kw), tF.max_pool2d(tx, return_indices=True, **kw)
    assert np.isnan(ty.detach().numpy()).sum() >= 4
    np.testing.assert_array_equal(np.isnan(y.numpy()), np.isnan(ty.detach().numpy()))
    np.testing.assert_array_equal(idx.numpy(), tidx.numpy())
    finite = np.isfinite(ty.detach().numpy())
    np.testing.assert_array_equal(y.numpy()[finite], ty.detach().numpy()[finite].astype(np.float32))
    _grad_check(y, ty, rng, (x, tx))


def test_adaptive_max_pool2d_nan_index_and_gradient(device, rng):
    x, tx = pair(_nan_input(rng), device)
    (y, idx), (ty, tidx) = F.adaptive_max_pool2d(x, (4, 3), True), tF.adaptive_max_pool2d(tx, (4, 3), True)
    np.testing.assert_array_equal(np.isnan(y.numpy()), np.isnan(ty.detach().numpy()))
    np.testing.assert_array_equal(idx.numpy(), tidx.numpy())
    _grad_check(y, ty, rng, (x, tx))


# --------------------------------------------------------------------------------------------- dropout


@pytest.mark.parametrize("p", [np.float32(0.5), np.float64(0.25), 0.5, 0, 1], ids=repr)
def test_dropout_accepts_numpy_and_int_p(device, p):
    x = fw.ones(64, device=device)
    fw.manual_seed(3)
    out = F.dropout(x, p).numpy()
    kept = out != 0
    if p == 1:
        assert not kept.any()
    else:
        assert kept.all() if p == 0 else 0 < kept.sum() < 64
        np.testing.assert_allclose(out[kept], 1 / (1 - float(p)), rtol=1e-6)
    fw.manual_seed(3)
    np.testing.assert_array_equal(F.dropout(x, fw.tensor(float(p))).numpy(), out)  # a 0-d tensor, as torch
    fw.manual_seed(3)
    np.testing.assert_array_equal(nn.Dropout(p).to(device)(x).numpy(), out)


def test_dropout_p_one_is_input_times_zero(device, rng):
    """p = 1 in training: PyTorch returns ``input * 0`` (zeros, NaN and inf become NaN) and a zero gradient;
    in eval it is the identity."""
    values = rng.standard_normal(6)
    values[1], values[4] = np.nan, -np.inf
    x, tx = pair(values, device)
    for fn, tfn, shape in [(F.dropout, tF.dropout, (6,)), (F.dropout1d, tF.dropout1d, (1, 2, 3)),
                           (F.dropout2d, tF.dropout2d, (1, 2, 3, 1)), (F.dropout3d, tF.dropout3d, (1, 2, 3, 1, 1))]:
        out, ref = fn(x.reshape(shape), 1.0), tfn(tx.reshape(shape), 1.0)
        np.testing.assert_array_equal(out.numpy(), ref.detach().numpy().astype(np.float32))
        out.sum().backward()
        np.testing.assert_array_equal(x.grad.numpy(), np.zeros(6, np.float32))
        x.grad = None
        np.testing.assert_array_equal(fn(x.reshape(shape), 1.0, training=False).numpy(), x.numpy().reshape(shape))
    drop = nn.Dropout(1.0).to(device)
    assert repr(drop) == "Dropout(p=1.0, inplace=False)"
    np.testing.assert_array_equal(drop(x).numpy(), tF.dropout(tx, 1.0).detach().numpy().astype(np.float32))
    assert np.array_equal(drop.eval()(x).numpy(), x.numpy(), equal_nan=True)


@pytest.mark.parametrize("p, error", [(-0.1, ValueError), (1.5, ValueError), (float("nan"), ValueError),
                                      ("0.5", TypeError), (True, TypeError), (None, TypeError)], ids=repr)
def test_dropout_rejects_bad_p(device, p, error):
    x4 = fw.ones(1, 2, 2, 2, device=device)
    calls = [(lambda: F.dropout(x4, p), "dropout()"), (lambda: F.dropout1d(x4[0], p), "dropout1d()"),
             (lambda: F.dropout2d(x4, p), "dropout2d()"), (lambda: F.dropout3d(x4, p), "dropout3d()"),
             (lambda: nn.Dropout(p), "Dropout"), (lambda: nn.Dropout2d(p), "Dropout2d")]
    for call, owner in calls:
        with pytest.raises(error, match=rf"^{re.escape(owner)}: dropout probability p must be"):
            call()


def test_dropout_kernels_refuse_p_one_without_dividing(device):
    """The kernel contract is 0 <= p < 1 (F.dropout never sends p = 1): a clear ValueError, not 1/(1-p)."""
    backend = fw.ones(1, device=device).backend
    kernels, x = backend.kernels.dropout, backend.from_numpy(np.ones(8, np.float32), "float32")
    for call in (lambda: kernels.dropout_forward(x, 1.0, 0, 0), lambda: kernels.dropout_backward(x, 1.0, 0, 0)):
        with pytest.raises(ValueError, match="p"):
            call()


# ------------------------------------------------------------------------------------ argument checks

_X = (2, 4, 6, 6)
#: (label, call on (F, x, w4) with w4 a [4, 4, 3, 3] weight, exception, message pattern)
BAD_CALLS = [
    ("groups=0", lambda x, w: F.conv2d(x, w, groups=0), ValueError, r"^conv2d\(\): groups must be a positive"),
    ("groups=-1", lambda x, w: F.conv2d(x, w, groups=-1), ValueError, r"groups must be a positive int, got -1"),
    ("groups=1.5", lambda x, w: F.conv2d(x, w, groups=1.5), TypeError, r"groups must be an int"),
    ("groups=3", lambda x, w: F.conv2d(x, w[:3, :1], groups=3), ValueError, r"input has 4 channels.*groups=3"),
    ("K%groups", lambda x, w: F.conv2d(x, w[:3, :2], groups=2), ValueError, r"groups=2"),
    ("channels", lambda x, w: F.conv2d(x, w[:, :3]), ValueError, r"input has 4 channels.*\(4, 3, 3, 3\)"),
    ("padding<0", lambda x, w: F.conv2d(x, w, padding=-1), ValueError, r"^padding must be >= 0"),
    ("stride=0", lambda x, w: F.conv2d(x, w, stride=0), ValueError, r"^stride must be >= 1"),
    ("dilation=0", lambda x, w: F.conv2d(x, w, dilation=(1, 0)), ValueError, r"^dilation must be >= 1"),
    ("kernel 0", lambda x, w: F.conv2d(x, w[:, :, :0]), ValueError, r"weight must have no empty dim"),
    ("K=0", lambda x, w: F.conv2d(x, w[:0]), ValueError, r"weight must have no empty dim"),
    ("C=0", lambda x, w: F.conv2d(x[:, :0], w[:, :0]), ValueError, r"only the batch may be empty"),
    ("H=0", lambda x, w: F.conv2d(x[:, :, :0], w, padding=2), ValueError, r"only the batch may be empty"),
    ("T groups=0", lambda x, w: F.conv_transpose2d(x, w, groups=0), ValueError,
     r"^conv_transpose2d\(\): groups must be a positive int, got 0"),
    ("T groups=1.5", lambda x, w: F.conv_transpose2d(x, w, groups=1.5), TypeError, r"groups must be an int"),
    ("T groups=3", lambda x, w: F.conv_transpose2d(x, w, groups=3), ValueError, r"divisible by groups=3"),
    ("T channels", lambda x, w: F.conv_transpose2d(x, w[:3]), ValueError, r"input has 4 channels"),
    ("T padding<0", lambda x, w: F.conv_transpose2d(x, w, padding=-1), ValueError, r"^padding must be >= 0"),
    ("T stride=0", lambda x, w: F.conv_transpose2d(x, w, stride=0), ValueError, r"^stride must be >= 1"),
    ("T dilation=0", lambda x, w: F.conv_transpose2d(x, w, dilation=0), ValueError, r"^dilation must be >= 1"),
    ("T H=0", lambda x, w: F.conv_transpose2d(x[:, :, :0], w), ValueError, r"only the batch may be empty"),
    ("pool k=0", lambda x, w: F.max_pool2d(x, 0), ValueError, r"^kernel_size must be >= 1"),
    ("pool stride=0", lambda x, w: F.max_pool2d(x, 2, 0), ValueError, r"^stride must be >= 1"),
    ("pool padding<0", lambda x, w: F.max_pool2d(x, 2, 2, -1), ValueError, r"^padding must be >= 0"),
    ("pool dilation=0", lambda x, w: F.max_pool2d(x, 2, 2, 0, 0), ValueError, r"^dilation must be >= 1"),
    ("avg k=0", lambda x, w: F.avg_pool2d(x, (2, 0)), ValueError, r"^kernel_size must be >= 1"),
    ("avg stride=0", lambda x, w: F.avg_pool2d(x, 2, 0), ValueError, r"^stride must be >= 1"),
]


def _raised(call, device):
    x = fw.ones(*_X, device=device)
    w = fw.ones(4, 4, 3, 3, device=device)
    try:
        call(x, w)
    except Exception as error:  # noqa: BLE001 -- the point is to see which one
        return type(error), str(error)
    return None, None


@pytest.mark.parametrize("label, call, error, pattern", BAD_CALLS, ids=[c[0] for c in BAD_CALLS])
def test_conv_pool_bad_arguments(device, label, call, error, pattern):
    """One exception type and message per mistake, naming the argument, identical on every device."""
    kind, message = _raised(call, device)
    assert kind is error, f"{label}: {kind.__name__ if kind else 'nothing'} raised: {message}"
    assert re.search(pattern, message), message
    if device != DEVICES[0]:
        assert (kind, message) == _raised(call, DEVICES[0])


@pytest.mark.parametrize("make, pattern", [
    (lambda: nn.Conv2d(4, 4, 3, groups=0), r"^Conv2d: groups must be a positive int"),
    (lambda: nn.Conv2d(4, 6, 3, groups=3), r"^Conv2d: in_channels \(4\) must be divisible by groups"),
    (lambda: nn.Conv2d(4, 4, 0), r"^Conv2d: kernel_size must be >= 1"),
    (lambda: nn.Conv2d(4, 4, 3, stride=0), r"^Conv2d: stride must be >= 1"),
    (lambda: nn.Conv2d(4, 4, 3, padding=-1), r"^Conv2d: padding must be >= 0"),
    (lambda: nn.Conv2d(4, 4, 3, dilation=(1, 0)), r"^Conv2d: dilation must be >= 1"),
    (lambda: nn.ConvTranspose2d(4, 4, 3, groups=0), r"^ConvTranspose2d: groups must be a positive int"),
    (lambda: nn.ConvTranspose2d(6, 4, 3, groups=3), r"^ConvTranspose2d: out_channels \(4\) must be divisible"),
    (lambda: nn.ConvTranspose2d(4, 4, 3, stride=0), r"^ConvTranspose2d: stride must be >= 1"),
    (lambda: nn.MaxPool2d(0), r"^MaxPool2d: kernel_size must be >= 1"),
    (lambda: nn.MaxPool2d(2, 0), r"^MaxPool2d: stride must be >= 1"),
    (lambda: nn.MaxPool2d(2, padding=-1), r"^MaxPool2d: padding must be >= 0"),
    (lambda: nn.MaxPool2d(2, dilation=0), r"^MaxPool2d: dilation must be >= 1"),
    (lambda: nn.AvgPool2d(0), r"^AvgPool2d: kernel_size must be >= 1"),
])
def test_module_constructors_reject_bad_arguments(make, pattern):
    with pytest.raises(ValueError, match=pattern):
        make()
