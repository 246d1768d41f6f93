"""Triton fused softmax + cross-entropy details: the chunked vocabulary and row blocks, half-precision logits,
bad grad_loss / int32 targets, checked and unchecked bad targets, the spill-free launch budget.

The shared tests (tests/kernels/test_softmax_xent.py) run the triton backend too; these cover what they do not reach.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from ..conftest import rel_err
from ..test_softmax_xent import _run, _torch_reference

F = torch.nn.functional


def _triton_backend():
    return pytest.importorskip("tests.kernels.conftest")._load("triton")


@pytest.mark.parametrize("shape", [(3, 5003), (37, 3), (70, 2)], ids=["M3V5003", "M37V3", "M70V2"])
def test_triton_chunked_vocab_and_row_blocks(rng, shape):
    """Many vocabulary chunks with a ragged tail (the max may sit in any chunk), and many rows per program."""
    kb = _triton_backend()
    M, V = shape
    logits = (3 * rng.standard_normal((M, V))).astype(np.float32)
    logits[0, -1] = 40.0  # the row max in the last, partial chunk: s must be rescaled
    target = rng.integers(0, V, M).astype(np.int64)
    target[0] = V - 1
    if M > 1:
        target[1] = -100
    ref_loss, ref_grad = _torch_reference(logits, target)
    loss, dlogits = _run(kb, logits, target)
    assert rel_err(loss, ref_loss) <= 1e-4
    assert rel_err(dlogits, ref_grad) <= 1e-4
    assert np.all(dlogits[1] == 0)


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16], ids=["float16", "bfloat16"])
def test_triton_half_precision_logits(rng, dtype):
    kb = _triton_backend()
    sx = kb.family("softmax_xent")
    logits = torch.from_numpy(3 * rng.standard_normal((6, 50))).to(dtype)
    target = torch.from_numpy(rng.integers(0, 50, 6).astype(np.int64))
    ref_loss, ref_grad = _torch_reference(logits.double().numpy(), target.numpy())
    loss, dlogits = sx.softmax_cross_entropy_forward(logits, target)
    assert loss.dtype == dtype and dlogits.dtype == dtype
    assert rel_err(loss.double().numpy(), ref_loss) <= 1e-2
    assert rel_err(dlogits.double().numpy(), ref_grad) <= 1e-2
    out = sx.softmax_cross_entropy_backward(dlogits, torch.tensor(2.0))
    assert rel_err(out.double().numpy(), 2 * dlogits.double().numpy()) <= 1e-2


def test_triton_bad_grad_loss_and_int32_target(rng):
    kb = _triton_backend()
    sx = kb.family("softmax_xent")
    logits = rng.standard_normal((4, 5))
    target = np.array([0, 4, 2, 1])
    ref_loss, _ = _torch_reference(logits, target)
    target32 = torch.from_numpy(target.astype(np.int32))
    loss, dlogits = sx.softmax_cross_entropy_forward(torch.from_numpy(logits), target32)
    assert rel_err(loss.numpy(), ref_loss) <= 1e-12
    with pytest.raises(ValueError, match=r"grad_loss"):
        sx.softmax_cross_entropy_backward(dlogits, torch.ones(2))


def _no_host_read(self, *args, **kwargs):
    raise AssertionError("the launcher read a tensor's value on the host (a device sync on a GPU)")


@pytest.mark.parametrize("V", [5, 150])  # 150: several 64-wide chunks under the interpreter
def test_triton_unchecked_bad_targets_give_nan_rows(monkeypatch, rng, V):
    """KERNELGRAD_SYNC_CHECKS=0 (a GPU's behaviour): targets are never read on the host; a valid row whose
    target is not a class counts in n and gets a NaN loss and a NaN gradient row, other rows are exact."""
    kb = _triton_backend()
    sx = kb.family("softmax_xent")
    monkeypatch.setenv("KERNELGRAD_SYNC_CHECKS", "0")
    M = 9
    logits = 3 * rng.standard_normal((M, V))
    target = rng.integers(0, V, M).astype(np.int64)
    bad_rows, ignored = [1, 4, 6, 8], [2, 5]
    target[bad_rows] = [V, -1, 2**40, -(2**40)]
    target[ignored] = -100
    good = np.setdiff1d(np.arange(M), bad_rows + ignored)
    n = M - len(ignored)
    lt = torch.tensor(logits[good], requires_grad=True)
    good_sum = F.cross_entropy(lt, torch.tensor(target[good]), reduction="sum")
    (ref_good_grad,) = torch.autograd.grad(good_sum / n, lt)

    for name in ("__bool__", "__int__", "__index__", "item", "tolist", "numpy"):
        monkeypatch.setattr(torch.Tensor, name, _no_host_read)
    loss, dlogits = sx.softmax_cross_entropy_forward(torch.from_numpy(logits), torch.from_numpy(target))
    monkeypatch.undo()

    assert np.isnan(loss.numpy())
    dl = dlogits.numpy()
    assert np.all(np.isnan(dl[bad_rows]))
    assert np.all(dl[ignored].view(np.uint64) == 0)
    assert rel_err(dl[good], ref_good_grad.numpy()) <= 1e-12


@pytest.mark.parametrize("setting", [None, "1"])
def test_triton_checked_targets_raise(monkeypatch, setting):
    """On the host (the interpreter) the target check runs by default, and always under KERNELGRAD_SYNC_CHECKS=1."""
    kb = _triton_backend()
    if setting is None:
        monkeypatch.delenv("KERNELGRAD_SYNC_CHECKS", raising=False)
    else:
        monkeypatch.setenv("KERNELGRAD_SYNC_CHECKS", setting)
    with pytest.raises(ValueError, match=r"target\[2\] = 7 is not a class index in \[0, V=5\)"):
        _run(kb, np.zeros((4, 5)), np.array([0, 1, 7, 2], dtype=np.int64))


@pytest.mark.parametrize("M, V", [(4096, 1), (4096, 10), (4096, 100), (4096, 1000), (64, 50257)])
def test_triton_launch_config_fits_the_spill_free_budget(M, V):
    """What the AOT compile found spill-free on sm_80/sm_90: <= 512 elements when rows are packed, 4 tile
    elements per thread (8 for a 4096-wide chunk), and the whole vocabulary walked in chunks."""
    sx = _triton_backend().family("softmax_xent")
    block_m, block_v, num_warps = sx.forward_launch_config(M, V)
    assert block_v >= min(V, sx.MAX_BLOCK_V) and block_v <= sx.MAX_BLOCK_V
    assert block_m == 1 or block_m * block_v <= sx.ROWS_PER_PROGRAM_ELEMENTS
    assert block_m * block_v // (32 * num_warps) <= (8 if block_v == 4096 else 4)
