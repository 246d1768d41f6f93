"""Sequential's second rewrite: a ReLU directly followed by a MaxPool2d runs as one ``F.relu_max_pool2d`` (the fused
ReLU -> max-pool kernels; framework/nn/utils/fusion.py). The same values and gradients, bit for bit, as the written
order and as PyTorch (float64); the rule's exclusions keep the written order."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn as tnn

import framework as fw
from framework import nn
from framework.models import DigitsCNN
from framework.nn import functional as F
from kernels.numpy import conv2d as kconv
from kernels.numpy import maxpool2d as kmax

from ..conftest import rel_err


@pytest.fixture
def relu_shapes(monkeypatch):
    """``(function, input shape)`` of every F.relu and F.relu_max_pool2d call since the test began (the fused call
    means the rule applied)."""
    calls = []

    def spying(name):
        function = getattr(F, name)

        def spy(x, *args, **kwargs):
            calls.append((name, tuple(x.shape)))
            return function(x, *args, **kwargs)

        return spy

    for name in ("relu", "relu_max_pool2d"):
        monkeypatch.setattr(F, name, spying(name))
    return calls


def _bits(a: np.ndarray) -> np.ndarray:
    return a.view({4: np.uint32, 8: np.uint64}[a.itemsize])


def _input(rng, shape) -> np.ndarray:
    """Values with what max-pool's and ReLU's edges need: all-negative windows, exact zeros, ties."""
    x = np.round(rng.standard_normal(shape) * 2) / 2  # many ties at multiples of 0.5
    x[0, 0] = -np.abs(x[0, 0]) - 0.5  # one whole channel negative
    x.reshape(-1)[:: 7] = 0.0
    return x


POOLS = [
    dict(kernel_size=2),
    dict(kernel_size=3, stride=2, padding=1),
    dict(kernel_size=(2, 3), stride=(1, 2), ceil_mode=True),
    dict(kernel_size=2, dilation=2),
]


@pytest.mark.parametrize("pool", POOLS, ids=lambda p: "-".join(f"{k}{v}" for k, v in p.items()))
def test_pool_first_is_bit_identical_to_the_written_order_and_matches_torch(device, rng, relu_shapes, pool):
    shape = (3, 2, 7, 9)
    x, g_shape = _input(rng, shape), tnn.MaxPool2d(**pool)(torch.zeros(shape)).shape
    g = rng.standard_normal(tuple(g_shape))
    runs = {}
    for reorder in (True, False):
        seq = nn.Sequential(nn.ReLU(), nn.MaxPool2d(**pool))
        seq.pool_before_relu = reorder
        xs = fw.tensor(x, dtype=fw.float64, device=device, requires_grad=True)
        relu_shapes.clear()
        out = seq(xs)
        out.backward(fw.tensor(g, dtype=fw.float64, device=device))
        runs[reorder] = out.numpy(), xs.grad.numpy()
        assert relu_shapes == [("relu_max_pool2d" if reorder else "relu", shape)]  # the path taken
    xt = torch.tensor(x, requires_grad=True)
    ref = tnn.Sequential(tnn.ReLU(), tnn.MaxPool2d(**pool))(xt)
    ref.backward(torch.tensor(g))
    assert (x == 0).any() and np.signbit(x[x == 0]).any()  # -0.0 inputs (np.round of small negatives)
    # the fused kernels are PyTorch's bits, the sign of a zero included (torch's relu(-0.0) is -0.0); the written
    # order's F.relu is numpy's maximum on the cpu device, which gives +0.0 there, and so does the dilated pool (no
    # kernel: the ReLU on the pooled map): equal values, and equal gradients
    fused_bits = _bits(runs[False][0]) if "dilation" in pool else _bits(ref.detach().numpy())
    np.testing.assert_array_equal(_bits(runs[True][0]), fused_bits)
    np.testing.assert_array_equal(runs[True][0], runs[False][0])
    np.testing.assert_array_equal(_bits(runs[True][1]), _bits(runs[False][1]))
    assert rel_err(runs[True][1], xt.grad.numpy()) <= 1e-12


def test_nan_wins_its_window_and_passes_the_gradient(rng, relu_shapes):
    x = rng.standard_normal((1, 1, 4, 4))
    x[0, 0, 0, 1] = np.nan
    xs = fw.tensor(x, requires_grad=True)
    out = nn.Sequential(nn.ReLU(), nn.MaxPool2d(2))(xs)
    out.backward(fw.ones_like(out))
    xt = torch.tensor(x, requires_grad=True)
    ref = tnn.MaxPool2d(2)(tnn.ReLU()(xt))
    ref.backward(torch.ones_like(ref))
    assert relu_shapes == [("relu_max_pool2d", (1, 1, 4, 4))]
    np.testing.assert_array_equal(np.isnan(out.numpy()), np.isnan(ref.detach().numpy()))
    np.testing.assert_array_equal(xs.grad.numpy(), xt.grad.numpy())


@pytest.mark.parametrize("case", ["return_indices", "hook_relu", "hook_pool", "subclass", "leaky", "switch_off",
                                  "not_adjacent"])
def test_the_written_order_is_kept_where_the_rule_says(rng, relu_shapes, case):
    class MyReLU(nn.ReLU):
        pass

    relu = MyReLU() if case == "subclass" else nn.ReLU()
    pool = nn.MaxPool2d(2, return_indices=case == "return_indices")
    mods = [relu, nn.Identity(), pool] if case == "not_adjacent" else [relu, pool]
    if case == "leaky":
        mods = [nn.LeakyReLU(), nn.ReLU(), pool]  # only the (ReLU, MaxPool2d) pair at positions 1-2 reorders
    seq = nn.Sequential(*mods)
    if case == "hook_relu":
        relu.register_forward_hook(lambda m, i, o: None)
    if case == "hook_pool":
        pool.register_forward_hook(lambda m, i, o: None)
    if case == "switch_off":
        seq.pool_before_relu = False
    seq(fw.tensor(rng.standard_normal((2, 3, 4, 4))))
    assert relu_shapes == [("relu_max_pool2d" if case == "leaky" else "relu", (2, 3, 4, 4))]


@pytest.mark.parametrize("conv_fused", [True, False], ids=["cpu", "no-conv-extension"])
def test_digits_cnn_fuses_relu_and_pool(relu_shapes, monkeypatch, conv_fused):
    """On the cpu device both conv -> ReLU -> pool stages run as one op each; without the CPU extension (a GPU
    device), as the conv and one ReLU + max-pool op."""
    if not conv_fused:
        monkeypatch.setattr(F, "_conv2d_relu_max_pool2d", lambda *args, **kwargs: None)
    DigitsCNN()(fw.zeros((2, 1, 8, 8)))
    pairs = [("relu_max_pool2d", (2, 32, 8, 8)), ("relu_max_pool2d", (2, 64, 4, 4))]
    assert relu_shapes == ([] if conv_fused else pairs)


def test_relu_max_pool2d_functional_matches_torch_unbatched_empty_and_bad_input(device, rng):
    """``F.relu_max_pool2d`` on its own: an unbatched [C, H, W] input, an empty batch (empty output, zero gradient),
    and bad arguments raising as max_pool2d does, with the function's name."""
    x = rng.standard_normal((3, 7, 9))
    xs = fw.tensor(x, dtype=fw.float64, device=device, requires_grad=True)
    out = F.relu_max_pool2d(xs, 3, stride=2, padding=1)
    g = rng.standard_normal(tuple(out.shape))
    out.backward(fw.tensor(g, dtype=fw.float64, device=device))
    xt = torch.tensor(x, requires_grad=True)
    ref = torch.nn.functional.max_pool2d(torch.relu(xt), 3, stride=2, padding=1)
    ref.backward(torch.tensor(g))
    assert out.shape == tuple(ref.shape)
    np.testing.assert_array_equal(_bits(out.numpy()), _bits(ref.detach().numpy()))
    assert rel_err(xs.grad.numpy(), xt.grad.numpy()) <= 1e-12

    empty = fw.zeros((0, 2, 4, 4), device=device, requires_grad=True)
    y = F.relu_max_pool2d(empty, 2)
    assert y.shape == (0, 2, 2, 2)
    y.sum().backward()
    assert empty.grad.shape == (0, 2, 4, 4)

    with pytest.raises(ValueError, match="relu_max_pool2d.*padding"):
        F.relu_max_pool2d(xs, 2, padding=2)
    with pytest.raises(ValueError, match="kernel_size"):
        F.relu_max_pool2d(xs, 0)


def _fused_conv_calls(monkeypatch) -> list[bool]:
    """One entry per ``F._conv2d_relu_max_pool2d`` call from now on: whether it ran the fused op (not None)."""
    calls = []
    fused = F._conv2d_relu_max_pool2d

    def spy(*args, **kwargs):
        out = fused(*args, **kwargs)
        calls.append(out is not None)
        return out

    monkeypatch.setattr(F, "_conv2d_relu_max_pool2d", spy)
    return calls


CONV_CASES = [  # (in, out, kernel, conv stride, conv padding, pool kernel, input HxW): all three column layouts
    (32, 64, 3, 1, 1, 2, (4, 4)),  # DigitsCNN's second stage: Winograd (n-minor)
    (1, 16, 3, 1, 1, 2, (8, 8)),  # a first layer on small maps: window-major
    (1, 4, 3, 1, 1, 2, (18, 18)),  # a first layer on larger maps: per image
    (16, 8, 3, 1, 0, 2, (7, 7)),  # K <= C (dx as a forward conv), an odd map cropped by the pool
    (6, 20, (2, 3), 2, 1, (2, 3), (9, 11)),  # strided, non-square conv and pool windows
]


@pytest.mark.parametrize("case", CONV_CASES, ids=lambda c: f"{c[0]}to{c[1]}-k{c[2]}-s{c[3]}-p{c[4]}-pool{c[5]}")
def test_conv_relu_pool_runs_as_one_op_with_the_same_numbers(device, rng, monkeypatch, case):
    """Conv2d, ReLU, MaxPool2d in a Sequential: one fused op on the cpu device (the numpy extension), the modules
    elsewhere; z and every gradient bit for bit those of the written order (dw and db to rounding in the window-major
    layout, one GEMM over the batch where the written order runs one per image; the gradients to rounding where the
    fused op runs Winograd, DigitsCNN's second stage); and PyTorch's.
    Inputs with ties (weights and inputs in halves) and exact zeros."""
    cin, cout, k, stride, padding, pool, hw = case
    calls = _fused_conv_calls(monkeypatch)
    x = np.round(rng.standard_normal((5, cin) + hw) * 2) / 2
    conv_t = tnn.Conv2d(cin, cout, k, stride, padding).double()
    with torch.no_grad():
        conv_t.weight.copy_(torch.round(conv_t.weight * 256) / 256)  # exact sums: ties in the pooled windows
    ref_seq = tnn.Sequential(conv_t, tnn.ReLU(), tnn.MaxPool2d(pool))
    xt = torch.tensor(x, requires_grad=True)
    ref = ref_seq(xt)
    g = rng.standard_normal(tuple(ref.shape))
    ref.backward(torch.tensor(g))
    runs = {}
    for fuse in (True, False):
        seq = nn.Sequential(nn.Conv2d(cin, cout, k, stride, padding), nn.ReLU(), nn.MaxPool2d(pool)).to(device)
        seq.load_state_dict({key: fw.tensor(v.detach().numpy()) for key, v in ref_seq.state_dict().items()})
        seq = seq.double()
        seq.pool_before_relu = fuse
        calls.clear()
        xs = fw.tensor(x, dtype=fw.float64, device=device, requires_grad=True)
        out = seq(xs)
        out.backward(fw.tensor(g, dtype=fw.float64, device=device))
        assert calls == ([device == "cpu"] if fuse else [])  # the fused op on the cpu device only
        runs[fuse] = (out.numpy(), xs.grad.numpy(), seq[0].weight.grad.numpy(), seq[0].bias.grad.numpy())
    g_conv = kconv.conv2d_forward_geometry((5, cin) + hw, (cout, cin) + (k if isinstance(k, tuple) else (k, k)), None,
                                           stride, padding)
    g_pool = kmax.maxpool2d_forward_geometry((5, cout, g_conv.P, g_conv.Q), pool, pool, 0)
    window_major = device == "cpu" and kmax._window_major_fits(g_conv, g_pool)
    winograd = device == "cpu" and kconv.n_minor_layout(g_conv) and kmax._winograd.fits(g_conv, g_pool, np.float64)
    for name, a, b in zip(("z", "dx", "dw", "db"), runs[True], runs[False]):
        # window-major: sums of the random g over the batch to rounding; Winograd: its transforms round the gradients
        # (z is exact: inputs in halves, weights in 1/256ths)
        if (window_major and name in ("dw", "db")) or (winograd and name != "z"):
            assert rel_err(a, b) <= 1e-14, name
        else:
            np.testing.assert_array_equal(_bits(a), _bits(b), err_msg=name)
    assert rel_err(runs[True][0], ref.detach().numpy()) <= 1e-12
    for got, want in zip(runs[True][1:], (xt.grad, conv_t.weight.grad, conv_t.bias.grad)):
        assert rel_err(got, want.numpy()) <= 1e-12


@pytest.mark.parametrize("case", ["groups", "dilation", "padding_mode", "same", "overlapping_pool", "pool_padding",
                                  "ceil_mode", "unbatched", "empty_batch", "hook"])
def test_conv_relu_pool_runs_as_modules_where_the_rule_says(rng, monkeypatch, case):
    """The fused op only for a plain conv and a non-overlapping pool on a batched, non-empty input: everything else
    runs the modules (and the same numbers as the written order)."""
    ran = _fused_conv_calls(monkeypatch)
    conv_kw = {"groups": dict(groups=2), "dilation": dict(dilation=2), "padding_mode": dict(padding_mode="reflect"),
               "same": dict(padding="same")}.get(case, {})
    pool_kw = {"overlapping_pool": dict(kernel_size=3, stride=2), "pool_padding": dict(kernel_size=2, padding=1),
               "ceil_mode": dict(kernel_size=2, ceil_mode=True)}.get(case, dict(kernel_size=2))
    conv = nn.Conv2d(4, 6, 3, padding=conv_kw.pop("padding", 1), **conv_kw)
    if case == "hook":
        conv.register_forward_hook(lambda m, i, o: None)
    seq = nn.Sequential(conv, nn.ReLU(), nn.MaxPool2d(**pool_kw))
    shape = {"unbatched": (4, 9, 9), "empty_batch": (0, 4, 9, 9)}.get(case, (3, 4, 9, 9))
    x = fw.tensor(rng.standard_normal(shape).astype(np.float32), requires_grad=True)
    out = seq(x)
    out.sum().backward()
    assert not any(ran)
    seq.pool_before_relu = False
    np.testing.assert_array_equal(seq(x).numpy(), out.numpy())
