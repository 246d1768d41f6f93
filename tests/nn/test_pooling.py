"""F.avg_pool2d, F.adaptive_avg_pool2d, F.adaptive_max_pool2d and their modules against torch in float64
(ours float32): outputs, indices, input gradients, reprs and errors.

The full argument product runs on cpu; a few representative cases run on every device, with tiny shapes
for the interpreters."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch
import torch.nn as tnn
import torch.nn.functional as tF

import framework as fw
from framework import nn
from framework.nn import functional as F

from ..conftest import pair, rel_err

TOL = 1e-4


def _check(device, rng, shape, fn, tfn, indices=False):
    """fn(x) against tfn(x_torch): output (and indices), then the input gradient for a random upstream."""
    x, tx = pair(rng.standard_normal(shape), device)
    out, ref = fn(x), tfn(tx)
    if indices:
        (out, idx), (ref, tidx) = out, ref
        assert idx.shape == tuple(tidx.shape) and idx.dtype == fw.int64
        assert np.array_equal(idx.numpy(), tidx.numpy())
    assert out.shape == tuple(ref.shape) and out.dtype == x.dtype and out.device == x.device
    assert rel_err(out, ref) < TOL
    g = rng.standard_normal(tuple(ref.shape))
    out.backward(fw.tensor(g.astype(np.float32), device=device))
    ref.backward(torch.tensor(g))
    assert rel_err(x.grad, tx.grad) < TOL


# ---------------------------------------------------------------------------------------- avg_pool2d

#: (input shape, kernel_size, stride, padding): odd sizes, batch 1, stride > 1, non-square kernels, and
#: ceil-mode last windows that hang past the padded input (the count_include_pad divisor is clipped there).
AVG_GEOMETRIES = [
    ((2, 3, 7, 9), 2, None, 0),
    ((1, 2, 7, 8), 3, 2, 1),
    ((1, 1, 6, 6), 2, 4, 1),             # ceil mode: the last window would start in the right padding
    ((2, 2, 9, 11), (3, 2), (2, 3), (1, 1)),
    ((1, 3, 5, 7), (2, 4), 1, (1, 2)),   # overlapping windows, padding = kernel / 2
    ((2, 1, 6, 5), 3, 2, 1),             # ceil mode: last window runs 1 past the padded bottom
    ((1, 2, 4, 4), 4, 3, 2),
]


@pytest.mark.parametrize("ceil_mode, count_include_pad, divisor_override",
                         list(itertools.product([False, True], [True, False], [None, 5])))
@pytest.mark.parametrize("shape, kernel, stride, padding", AVG_GEOMETRIES)
def test_avg_pool2d_matches_torch(rng, shape, kernel, stride, padding, ceil_mode, count_include_pad,
                                  divisor_override):
    kwargs = dict(kernel_size=kernel, stride=stride, padding=padding, ceil_mode=ceil_mode,
                  count_include_pad=count_include_pad, divisor_override=divisor_override)
    _check("cpu", rng, shape, lambda x: F.avg_pool2d(x, **kwargs), lambda x: tF.avg_pool2d(x, **kwargs))


@pytest.mark.parametrize("shape, args", [
    ((1, 2, 5, 4), dict(kernel_size=2)),
    ((2, 1, 5, 6), dict(kernel_size=(3, 2), stride=2, padding=1, ceil_mode=True, count_include_pad=False)),
    ((1, 1, 6, 5), dict(kernel_size=3, stride=2, padding=1, ceil_mode=True, divisor_override=-2)),
])
def test_avg_pool2d_on_every_device(device, rng, shape, args):
    _check(device, rng, shape, lambda x: F.avg_pool2d(x, **args), lambda x: tF.avg_pool2d(x, **args))


def test_avg_pool2d_unbatched_and_empty_stride(device, rng):
    _check(device, rng, (2, 5, 6), lambda x: F.avg_pool2d(x, 3, 2, 1, ceil_mode=True),
           lambda x: tF.avg_pool2d(x, 3, 2, 1, ceil_mode=True))
    _check(device, rng, (2, 4, 4), lambda x: F.avg_pool2d(x, 2, stride=[]),
           lambda x: tF.avg_pool2d(x, 2, stride=[]))


def test_avg_pool2d_float64(rng):
    x, tx = pair(rng.standard_normal((2, 2, 7, 5)), "cpu", dtype=np.float64)
    out = F.avg_pool2d(x, 3, 2, 1, ceil_mode=True, count_include_pad=False)
    assert out.dtype == fw.float64
    assert rel_err(out, tF.avg_pool2d(tx, 3, 2, 1, ceil_mode=True, count_include_pad=False)) < 1e-12


# -------------------------------------------------------------------------------- adaptive pooling

#: (input shape, output_size): bins that do not divide the input (7->3, 5->4, 9->4), upsampling bins
#: (3->5, 2->7), None entries, the identity and global pooling.
ADAPTIVE_CASES = [
    ((2, 3, 7, 5), 3),
    ((1, 2, 5, 7), (4, 3)),
    ((2, 1, 9, 8), (4, 4)),
    ((1, 2, 3, 2), (5, 7)),      # upsampling: overlapping one- and two-element bins
    ((2, 2, 7, 6), (None, 4)),
    ((1, 3, 5, 6), (3, None)),
    ((1, 1, 4, 5), (None, None)),
    ((2, 3, 7, 7), 1),
    ((1, 2, 6, 8), (2, 4)),      # bins that tile the input
    ((1, 1, 1, 5), (3, 2)),      # a single input row feeds every output row
]


@pytest.mark.parametrize("shape, output_size", ADAPTIVE_CASES)
def test_adaptive_avg_pool2d_matches_torch(rng, shape, output_size):
    _check("cpu", rng, shape, lambda x: F.adaptive_avg_pool2d(x, output_size),
           lambda x: tF.adaptive_avg_pool2d(x, output_size))


@pytest.mark.parametrize("shape, output_size", ADAPTIVE_CASES)
def test_adaptive_max_pool2d_matches_torch(rng, shape, output_size):
    _check("cpu", rng, shape, lambda x: F.adaptive_max_pool2d(x, output_size, return_indices=True),
           lambda x: tF.adaptive_max_pool2d(x, output_size, return_indices=True), indices=True)
    x, tx = pair(rng.standard_normal(shape), "cpu")
    assert rel_err(F.adaptive_max_pool2d(x, output_size), tF.adaptive_max_pool2d(tx, output_size)) < TOL


@pytest.mark.parametrize("shape, output_size", [((1, 2, 7, 5), (3, 4)), ((2, 1, 3, 4), (5, None))])
def test_adaptive_pooling_on_every_device(device, rng, shape, output_size):
    _check(device, rng, shape, lambda x: F.adaptive_avg_pool2d(x, output_size),
           lambda x: tF.adaptive_avg_pool2d(x, output_size))
    _check(device, rng, shape, lambda x: F.adaptive_max_pool2d(x, output_size, True),
           lambda x: tF.adaptive_max_pool2d(x, output_size, True), indices=True)


def test_adaptive_pooling_unbatched(device, rng):
    _check(device, rng, (2, 5, 7), lambda x: F.adaptive_avg_pool2d(x, (2, 3)),
           lambda x: tF.adaptive_avg_pool2d(x, (2, 3)))
    _check(device, rng, (2, 5, 7), lambda x: F.adaptive_max_pool2d(x, (2, 3), True),
           lambda x: tF.adaptive_max_pool2d(x, (2, 3), True), indices=True)


@pytest.mark.parametrize("output_size", [(2, 3), (4, 5), (3, 4), 1])  # (3, 4): gathered bins
def test_adaptive_max_pool2d_ties_pick_the_first_maximum_like_torch(device, output_size):
    # Each row repeats one value, and rows 0-1 and 2-3 are equal: every bin ties across rows and columns.
    values = np.repeat(np.array([1.0, 1.0, 2.0, 2.0, 0.0]), 6).reshape(1, 1, 5, 6)
    x, tx = pair(values, device)
    out, idx = F.adaptive_max_pool2d(x, output_size, return_indices=True)
    ref, tidx = tF.adaptive_max_pool2d(tx, output_size, return_indices=True)
    assert rel_err(out, ref) < TOL and np.array_equal(idx.numpy(), tidx.numpy())
    out.sum().backward()
    ref.sum().backward()
    assert np.array_equal(x.grad.numpy(), tx.grad.numpy())  # each bin's gradient goes to one element


# --------------------------------------------------------------------------------------------- modules


@pytest.mark.parametrize("args, kwargs", [
    ((3,), {}),
    (((2, 3),), dict(stride=1, padding=1, ceil_mode=True, count_include_pad=False, divisor_override=3)),
    ((2, (2, 1), (1, 0)), {}),
    ((2,), dict(stride=[])),
])
def test_avg_pool2d_module(device, rng, args, kwargs):
    ours, ref = nn.AvgPool2d(*args, **kwargs), tnn.AvgPool2d(*args, **kwargs)
    assert repr(ours) == repr(ref)
    _check(device, rng, (1, 2, 6, 7), ours, ref)


@pytest.mark.parametrize("output_size", [3, (None, 2), (4, None), (2, 5)])
def test_adaptive_pool_modules(device, rng, output_size):
    ours, ref = nn.AdaptiveAvgPool2d(output_size), tnn.AdaptiveAvgPool2d(output_size)
    assert repr(ours) == repr(ref)
    _check(device, rng, (1, 2, 5, 7), ours, ref)
    ours, ref = nn.AdaptiveMaxPool2d(output_size), tnn.AdaptiveMaxPool2d(output_size)
    assert repr(ours) == repr(ref)
    _check(device, rng, (2, 1, 5, 7), ours, ref)
    ours, ref = nn.AdaptiveMaxPool2d(output_size, return_indices=True), tnn.AdaptiveMaxPool2d(output_size, True)
    assert repr(ours) == repr(ref)
    _check(device, rng, (2, 5, 7), ours, ref, indices=True)


def test_pool_modules_are_exported():
    for name in ("AvgPool2d", "AdaptiveAvgPool2d", "AdaptiveMaxPool2d"):
        assert name in nn.__all__ and getattr(nn, name) is getattr(nn.layers, name)
    for name in ("avg_pool2d", "adaptive_avg_pool2d", "adaptive_max_pool2d"):
        assert name in F.__all__


# ---------------------------------------------------------------------------------------------- errors


def test_avg_pool2d_bad_arguments():
    x = fw.zeros(1, 1, 4, 4)
    with pytest.raises(ValueError, match=r"padding \(2, 2\) must be at most half the kernel size \(3, 3\)"):
        F.avg_pool2d(x, 3, padding=2)
    with pytest.raises(ValueError, match=r"larger than the padded input \(4, 4\) for input shape \(1, 1, 4, 4\)"):
        F.avg_pool2d(x, 5)
    with pytest.raises(ValueError, match="kernel_size must be >= 1"):
        F.avg_pool2d(x, (2, 0))
    with pytest.raises(ValueError, match="stride must be >= 1"):
        F.avg_pool2d(x, 2, 0)
    with pytest.raises(ValueError, match="padding must be >= 0"):
        F.avg_pool2d(x, 2, padding=-1)
    with pytest.raises(TypeError, match="kernel_size must be an int or a pair"):
        F.avg_pool2d(x, (2, 2, 2))
    with pytest.raises(ValueError, match="divisor_override must not be zero"):
        F.avg_pool2d(x, 2, divisor_override=0)
    with pytest.raises(TypeError, match="divisor_override must be an int"):
        F.avg_pool2d(x, 2, divisor_override=2.5)
    with pytest.raises(ValueError, match=r"input must be 3 or 4-D, got shape \(4, 4\)"):
        F.avg_pool2d(fw.zeros(4, 4), 2)
    with pytest.raises(TypeError, match="floating-point"):
        F.avg_pool2d(fw.zeros(1, 1, 4, 4, dtype="int64"), 2)
    with pytest.raises(ValueError, match="AvgPool2d: padding"):
        nn.AvgPool2d(2, padding=-1)
    with pytest.raises(ValueError, match="AvgPool2d: divisor_override"):
        nn.AvgPool2d(2, divisor_override=0)


@pytest.mark.parametrize("fn", [F.adaptive_avg_pool2d, F.adaptive_max_pool2d])
def test_adaptive_pool_bad_arguments(fn):
    x = fw.zeros(1, 1, 4, 4)
    name = fn.__name__
    with pytest.raises(ValueError, match=rf"{name}\(\): output_size must have 2 entries \(H, W\), got \(2, 2, 2\)"):
        fn(x, (2, 2, 2))
    with pytest.raises(ValueError, match=r"output_size must be >= 1, got \(0, 2\)"):
        fn(x, (0, 2))
    with pytest.raises(ValueError, match="output_size must be >= 1"):
        fn(x, -1)
    with pytest.raises(TypeError, match="output_size must be an int or a pair"):
        fn(x, None)
    with pytest.raises(TypeError, match="output_size must be an int or a pair"):
        fn(x, 2.0)
    with pytest.raises(ValueError, match=r"input must be 3 or 4-D, got shape \(1, 1, 1, 4, 4\)"):
        fn(fw.zeros(1, 1, 1, 4, 4), 2)
    with pytest.raises(ValueError, match=r"non-empty H and W, got shape \(1, 1, 0, 4\)"):
        fn(fw.zeros(1, 1, 0, 4), 2)
    with pytest.raises(TypeError, match="floating-point"):
        fn(fw.zeros(1, 4, 4, dtype="int64"), 2)


@pytest.mark.parametrize("cls", [nn.AdaptiveAvgPool2d, nn.AdaptiveMaxPool2d])
def test_adaptive_pool_modules_reject_bad_output_size(cls):
    with pytest.raises(ValueError, match=rf"{cls.__name__}: output_size must be >= 1"):
        cls((3, 0))
    with pytest.raises(ValueError, match=rf"{cls.__name__}: output_size must have 2 entries"):
        cls([1, 2, 3])
    with pytest.raises(TypeError, match=rf"{cls.__name__}: output_size must be an int or a pair"):
        cls("3")
