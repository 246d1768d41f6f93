"""Tensor methods the port programs needed that no other part of issue 12 covered: ``narrow`` (the
char-LSTM's ``batchify``), ``add``/``sub`` with ``alpha``, ``mul``, ``div`` (its sampling temperature)
and ``is_cuda`` (the DCGAN's ``forward``); values and gradients against PyTorch in float64."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import framework as fw
from tests.conftest import pair, rel_err


def _backward_both(ours, ref, rng):
    """Backpropagate the same random upstream gradient through both results."""
    g = rng.standard_normal(tuple(ref.shape))
    ours.backward(fw.tensor(g.astype(np.float32), device=ours.device))
    ref.backward(torch.tensor(g))


@pytest.mark.parametrize("dim, start, length", [(0, 2, 5), (1, -4, 3), (-1, 0, 7), (0, 13, 0), (1, -7, 7)])
def test_narrow_matches_torch(device, rng, dim, start, length):
    a = rng.standard_normal((13, 7))
    x, xr = pair(a, device)
    out, ref = x.narrow(dim, start, length), xr.narrow(dim, start, length)
    assert tuple(out.shape) == tuple(ref.shape)
    if ref.numel() == 0:
        return
    assert rel_err(out, ref) <= 1e-6
    _backward_both(out, ref, rng)
    assert rel_err(x.grad, xr.grad) <= 1e-6


def test_narrow_start_as_tensor_and_errors(device):
    x = fw.arange(10, device=device)
    assert x.narrow(0, fw.tensor(3), 2).tolist() == [3, 4]
    with pytest.raises(IndexError, match="start out of range"):
        x.narrow(0, 11, 0)
    with pytest.raises(IndexError, match="Dimension out of range"):
        x.narrow(1, 0, 1)
    with pytest.raises(ValueError, match=r"start \(8\) \+ length \(3\) exceeds dimension size \(10\)"):
        x.narrow(0, 8, 3)
    with pytest.raises(ValueError, match="length must be non-negative"):
        x.narrow(0, 0, -1)
    with pytest.raises(TypeError, match="start must be an int"):
        x.narrow(0, 1.5, 1)
    with pytest.raises(IndexError, match="0-d"):
        fw.tensor(1.0, device=device).narrow(0, 0, 1)


@pytest.mark.parametrize("method", ["add", "sub"])
@pytest.mark.parametrize("alpha", [1, -0.5, 3])
def test_add_sub_alpha_match_torch(device, rng, method, alpha):
    a, b = rng.standard_normal((3, 5)), rng.standard_normal((5,))
    (x, xr), (y, yr) = pair(a, device), pair(b, device)
    out = getattr(x, method)(y, alpha=alpha)
    ref = getattr(xr, method)(yr, alpha=alpha)
    assert rel_err(out, ref) <= 1e-6
    _backward_both(out, ref, rng)
    assert rel_err(x.grad, xr.grad) <= 1e-6 and rel_err(y.grad, yr.grad) <= 1e-6
    # A number operand, as in ``p.data.add_(p.grad, alpha=-lr)``'s out-of-place form.
    assert rel_err(getattr(x, method)(2.5, alpha=alpha), getattr(xr, method)(2.5, alpha=alpha)) <= 1e-6


def test_add_float_alpha_with_integer_tensors_raises(device):
    x = fw.tensor([1, 2], device=device)
    with pytest.raises(TypeError, match="alpha must not be a floating point number"):
        x.add(x, alpha=2.0)
    with pytest.raises(TypeError, match="alpha must be a number"):
        x.add(x, alpha="2")
    assert x.add(x, alpha=2).tolist() == torch.tensor([1, 2]).add(torch.tensor([1, 2]), alpha=2).tolist()
    assert x.add(x, alpha=2).dtype == fw.int64


def test_mul_div_match_torch(device, rng):
    a, b = rng.standard_normal((4, 3)), rng.uniform(0.5, 2.0, (4, 3)) * rng.choice([-1, 1], (4, 3))
    (x, xr), (y, yr) = pair(a, device), pair(b, device)
    for out, ref in [(x.mul(y), xr.mul(yr)), (x.div(y), xr.div(yr)), (x.div(0.7), xr.div(0.7))]:
        assert rel_err(out, ref) <= 1e-6
    out, ref = x.div(y), xr.div(yr)
    _backward_both(out, ref, rng)
    assert rel_err(x.grad, xr.grad) <= 1e-5 and rel_err(y.grad, yr.grad) <= 1e-5
    floor = x.detach().div(y.detach(), rounding_mode="floor")
    assert rel_err(floor, xr.detach().div(yr.detach(), rounding_mode="floor")) <= 1e-6
    ints = fw.tensor([7, -7], device=device)
    assert ints.div(2).dtype == fw.float32 and ints.div(2).tolist() == [3.5, -3.5]
    assert ints.div(2, rounding_mode="floor").tolist() == [3, -4]
    with pytest.raises(ValueError, match="'trunc' is not supported"):
        ints.div(2, rounding_mode="trunc")
    with pytest.raises(ValueError, match="rounding_mode must be"):
        ints.div(2, rounding_mode="round")


def test_is_cuda(device):
    x = fw.ones(2, device=device)
    assert x.is_cuda is fw.get_backend(device).is_gpu
    if device == "cpu":
        assert x.is_cuda is False
