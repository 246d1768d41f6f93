"""Dims as PyTorch takes them: an out-of-range dim raises PyTorch's IndexError (never wraps modulo ndim, never
does nothing), and every valid spelling of a dim — negative, the insertion point ndim of unsqueeze/stack, a
0-d tensor's 0 and -1, an empty tuple for "all" — gives PyTorch's values and gradients on every device."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import framework as fw
import framework.nn.functional  # noqa: F401 - makes fw.nn.functional reachable like torch.nn.functional
from tests.conftest import rel_err

# Each case is called as case(lib, t) with lib = framework or torch, t a [2, 3] tensor (t0: a 0-d one).
OUT_OF_RANGE = {
    "sum(2)": lambda lib, t: t.sum(2),
    "sum((0, 2))": lambda lib, t: t.sum((0, 2)),
    "sum(-3)": lambda lib, t: t.sum(-3),
    "mean(2)": lambda lib, t: t.mean(2),
    "var(2)": lambda lib, t: t.var(2),
    "std(-3)": lambda lib, t: t.std(-3),
    "amax(2)": lambda lib, t: t.amax(2),
    "amin((1, 2))": lambda lib, t: t.amin((1, 2)),
    "max(2)": lambda lib, t: t.max(2),
    "min(-3)": lambda lib, t: t.min(-3),
    "argmax(2)": lambda lib, t: t.argmax(2),
    "argmin(-3)": lambda lib, t: t.argmin(-3),
    "softmax(2)": lambda lib, t: t.softmax(2),
    "F.softmax(-3)": lambda lib, t: lib.nn.functional.softmax(t, -3),
    "F.log_softmax(2)": lambda lib, t: lib.nn.functional.log_softmax(t, 2),
    "F.normalize(dim=2)": lambda lib, t: lib.nn.functional.normalize(t, dim=2),
    "unsqueeze(3)": lambda lib, t: t.unsqueeze(3),
    "unsqueeze(-4)": lambda lib, t: t.unsqueeze(-4),
    "squeeze(7)": lambda lib, t: t.squeeze(7),
    "flatten(5)": lambda lib, t: t.flatten(5),
    "flatten(0, 2)": lambda lib, t: t.flatten(0, 2),
    "transpose(0, 2)": lambda lib, t: t.transpose(0, 2),
    "permute(0, 2)": lambda lib, t: t.permute(0, 2),
    "chunk(2, 2)": lambda lib, t: t.chunk(2, 2),
    "split(1, -3)": lambda lib, t: t.split(1, -3),
    "size(2)": lambda lib, t: t.size(2),
    "cat(dim=2)": lambda lib, t: lib.cat([t, t], 2),
    "stack(dim=3)": lambda lib, t: lib.stack([t, t], 3),
    "stack(dim=-4)": lambda lib, t: lib.stack([t, t], -4),
    "cumsum(2)": lambda lib, t: t.cumsum(2),
    "sort(dim=2)": lambda lib, t: t.sort(dim=2),
    "all(2)": lambda lib, t: t.all(2),
    "0-d sum(1)": lambda lib, t: t.sum((0, 1)).sum(1),
    "0-d unsqueeze(2)": lambda lib, t: t.sum().unsqueeze(2),
    "0-d squeeze(1)": lambda lib, t: t.sum().squeeze(1),
    "0-d flatten(0, 1)": lambda lib, t: t.sum().flatten(0, 1),
    "0-d argmax(1)": lambda lib, t: t.sum().argmax(1),
    "0-d softmax(-2)": lambda lib, t: t.sum().softmax(-2),
}


@pytest.mark.parametrize("case", list(OUT_OF_RANGE))
def test_out_of_range_dim_raises_index_error_like_torch(case):
    """Same exception type and the same words as PyTorch ("Dimension out of range (expected to be in range
    of [-2, 1], but got 2)"); the check runs in the framework layer, before any backend."""
    fn = OUT_OF_RANGE[case]
    with pytest.raises(IndexError) as theirs:
        fn(torch, torch.ones(2, 3))
    with pytest.raises(IndexError) as ours:
        fn(fw, fw.ones(2, 3))
    assert str(ours.value) == str(theirs.value)


def test_out_of_range_dim_raises_on_every_device(device):
    """The check does not depend on the device (one sample of each family)."""
    x = fw.ones(2, 3, device=device)
    for fn in (lambda: x.sum(2), lambda: fw.cat([x, x], 2), lambda: x.unsqueeze(3), lambda: x.squeeze(7),
               lambda: x.amax(-3), lambda: x.flatten(5), lambda: x.softmax(2)):
        with pytest.raises(IndexError, match=r"^Dimension out of range \(expected to be in range of \[-\d, \d\], "):
            fn()


def test_repeated_and_non_integer_dims_are_refused():
    x = fw.ones(2, 3)
    for fn in (lambda: x.sum((0, 0)), lambda: x.sum((1, -1)), lambda: x.amax((0, -2)), lambda: x.permute(1, 1)):
        with pytest.raises(ValueError, match="appears multiple times"):
            fn()
    for fn in (lambda: x.sum(1.0), lambda: x.unsqueeze(0.5), lambda: x.transpose(0, "1"), lambda: x.amax("1")):
        with pytest.raises(TypeError, match="must be an int"):
            fn()
    with pytest.raises(ValueError, match=r"permute\(\): dims \(0,\) name 1 dims but the tensor has 2"):
        x.permute(0)
    with pytest.raises(ValueError, match="start_dim 1 comes after end_dim 0"):
        fw.ones(2, 3, 4).flatten(1, 0)


# ------------------------------------------------------------------------- valid dims, values and grads

VALID = {
    "sum(-1)": lambda lib, t: t.sum(-1),
    "sum((0, -1))": lambda lib, t: t.sum((0, -1)),
    "sum(())": lambda lib, t: t.sum(()),  # an empty dim list reduces everything, as in PyTorch
    "mean(-2, keepdim)": lambda lib, t: t.mean(-2, keepdim=True),
    "var(-1)": lambda lib, t: t.var(-1),
    "std(0)": lambda lib, t: t.std(0),
    "amax(-1)": lambda lib, t: t.amax(-1),
    "amin((-2, -1))": lambda lib, t: t.amin((-2, -1)),
    "max(-1).values": lambda lib, t: t.max(-1)[0],
    "min(0, keepdim).values": lambda lib, t: t.min(0, keepdim=True)[0],
    "softmax(-2)": lambda lib, t: lib.nn.functional.softmax(t, -2),
    "log_softmax(0)": lambda lib, t: lib.nn.functional.log_softmax(t, 0),
    "normalize(dim=-2)": lambda lib, t: lib.nn.functional.normalize(t, dim=-2),
    "unsqueeze(2)": lambda lib, t: t.unsqueeze(2),
    "unsqueeze(-3)": lambda lib, t: t.unsqueeze(-3),
    "squeeze((0, -1))": lambda lib, t: t.unsqueeze(0).unsqueeze(-1).squeeze((0, -1)),
    "squeeze(-1) of a non-1 dim": lambda lib, t: t.squeeze(-1),
    "flatten(-2, -1)": lambda lib, t: t.unsqueeze(1).flatten(-2, -1),
    "transpose(-1, -2)": lambda lib, t: t.transpose(-1, -2),
    "permute(-1, 0)": lambda lib, t: t.permute(-1, 0),
    "cat(dim=-1)": lambda lib, t: lib.cat([t, t * 2], -1),
    "stack(dim=2)": lambda lib, t: lib.stack([t, t * 2], 2),
    "stack(dim=-3)": lambda lib, t: lib.stack([t, t * 2], -3),
    "chunk(2, -1)[1]": lambda lib, t: t.chunk(2, -1)[1],
    "split([1, 2], -1)[1]": lambda lib, t: t.split([1, 2], -1)[1],
    "0-d sum(0)": lambda lib, t: t.sum().sum(0),
    "0-d sum(-1)": lambda lib, t: t.sum().sum(-1),
    "0-d unsqueeze(-1)": lambda lib, t: t.sum().unsqueeze(-1),
    "0-d squeeze(0)": lambda lib, t: t.sum().squeeze(0),
    "0-d softmax(0)": lambda lib, t: t.sum().softmax(0) * t.sum(),
    "0-d max(0).values": lambda lib, t: t.sum().max(0)[0],
    "0-d flatten()": lambda lib, t: t.sum().flatten(),
}


def test_valid_dims_match_torch_values_and_grads(device, rng):
    for name, fn in VALID.items():
        values = rng.normal(size=(2, 3))
        x = fw.tensor(values.astype(np.float32), device=device, requires_grad=True)
        tx = torch.tensor(values, requires_grad=True)
        out, ref = fn(fw, x), fn(torch, tx)
        assert out.shape == tuple(ref.shape), name
        assert rel_err(out, ref) < 1e-4, name
        weights = rng.normal(size=tuple(ref.shape))
        (out * fw.tensor(weights.astype(np.float32), device=device)).sum().backward()
        (ref * torch.tensor(weights)).sum().backward()
        assert rel_err(x.grad, tx.grad) < 1e-4, name


def test_zero_d_index_results_match_torch(device):
    x = fw.tensor(2.5, device=device)
    assert x.argmax(0).item() == 0 and x.argmin(-1).item() == 0
    assert x.max(0).indices.item() == 0 and x.max(0).values.item() == 2.5
    assert x.transpose(0, -1).shape == () and x.all(0).item() is True
    with pytest.raises(IndexError):
        x.size(0)  # PyTorch: a 0-d tensor has no dims to take the size of


def test_chunk_and_split_pieces_match_torch():
    """Piece shapes of chunk/split as PyTorch cuts them, empty dims included (no ZeroDivisionError)."""
    cases = [((0,), "chunk", 2, 0), ((0, 3), "chunk", 2, 1), ((5,), "chunk", 3, 0), ((3,), "chunk", 5, 0),
             ((2, 7), "chunk", 3, -1), ((0,), "split", 1, 0), ((0,), "split", 0, 0), ((7, 2), "split", 3, 0),
             ((7, 2), "split", [2, 5], -2), ((2, 5), "split", 5, 1)]
    for shape, method, arg, dim in cases:
        ours = [p.shape for p in getattr(fw.ones(*shape), method)(arg, dim)]
        theirs = [tuple(p.shape) for p in getattr(torch.ones(*shape), method)(arg, dim)]
        assert ours == theirs, (shape, method, arg, dim)


EMPTY_REDUCTIONS = {
    "amax(0)": lambda lib, t: t.amax(0),
    "amin(0)": lambda lib, t: t.amin(0),
    "max(0)": lambda lib, t: t.max(0),
    "min(0)": lambda lib, t: t.min(0),
    "argmax(0)": lambda lib, t: t.argmax(0),
    "argmin()": lambda lib, t: t.argmin(),
}


def test_reducing_an_empty_dim_raises_like_torch():
    """max/min-style reductions over an empty dim have no answer: PyTorch's IndexError and words (numpy
    raised ValueError, torch IndexError); reducing the other dim gives an empty result, as in PyTorch."""
    for name, fn in EMPTY_REDUCTIONS.items():
        with pytest.raises(IndexError) as theirs:
            fn(torch, torch.ones(0, 3))
        with pytest.raises(IndexError) as ours:
            fn(fw, fw.ones(0, 3))
        assert str(ours.value) == str(theirs.value), name
    with pytest.raises(IndexError, match=r"amax\(\): Expected reduction dim to be specified for input.numel\(\) == 0"):
        fw.ones(0, 3).amax()
    assert fw.ones(0, 3).amax(1).shape == (0,) and fw.ones(0, 3).argmax(1).shape == (0,)
    assert fw.nn.functional.softmax(fw.ones(0, 3), 0).shape == (0, 3)
    assert fw.nn.functional.log_softmax(fw.ones(3, 0), 1).shape == (3, 0)
