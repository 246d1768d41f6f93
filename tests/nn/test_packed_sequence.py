"""Packed variable-length sequences (``framework.nn.utils.rnn``) against ``torch.nn.utils.rnn``: packing,
padding and their gradients, and RNN/LSTM/GRU on packed inputs with PyTorch's weights — outputs, final
states and every gradient (float32 here vs float64 torch)."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch
import torch.nn as tnn
from torch.nn.utils import rnn as trnn

import framework as fw
from framework import nn
from framework.nn.utils import rnn as frnn

from ..conftest import rel_err
from .test_rnn import TOL, check_backward, run_both

I, H = 3, 5
MODES = {"RNN": (nn.RNN, tnn.RNN), "LSTM": (nn.LSTM, tnn.LSTM), "GRU": (nn.GRU, tnn.GRU)}


def _leaf(array: np.ndarray, device: str = "cpu"):
    return (fw.tensor(array.astype(np.float32), device=device, requires_grad=True),
            torch.tensor(array, dtype=torch.float64, requires_grad=True))


def _padded(rng, lengths, batch_first=False, features=I):
    T, B = max(lengths), len(lengths)
    return rng.standard_normal((B, T, features) if batch_first else (T, B, features))


# ------------------------------------------------------------------------------- pack / pad / sort


@pytest.mark.parametrize("lengths,enforce_sorted", [([4, 4, 2, 1], True), ([1, 4, 2, 3, 4], False),
                                                    ([3], True), ([2, 5, 5], False)])
@pytest.mark.parametrize("batch_first", [False, True])
def test_pack_and_pad_match_torch_values_and_gradients(rng, lengths, enforce_sorted, batch_first):
    xo, xt = _leaf(_padded(rng, lengths, batch_first, features=2))
    po = frnn.pack_padded_sequence(xo, lengths, batch_first=batch_first, enforce_sorted=enforce_sorted)
    pt = trnn.pack_padded_sequence(xt, torch.tensor(lengths), batch_first=batch_first, enforce_sorted=enforce_sorted)
    assert rel_err(po.data, pt.data) < 1e-6
    assert po.batch_sizes.numpy().tolist() == pt.batch_sizes.tolist()
    for ours, theirs in [(po.sorted_indices, pt.sorted_indices), (po.unsorted_indices, pt.unsorted_indices)]:
        if theirs is None or torch.equal(theirs, torch.arange(len(lengths))):
            assert ours is None or ours.numpy().tolist() == theirs.tolist()
        else:
            assert ours.numpy().tolist() == theirs.tolist()

    total = max(lengths) + 2
    out, lens = frnn.pad_packed_sequence(po, batch_first=batch_first, padding_value=-3.0, total_length=total)
    ref, ref_lens = trnn.pad_packed_sequence(pt, batch_first=batch_first, padding_value=-3.0, total_length=total)
    assert out.shape == tuple(ref.shape) and rel_err(out, ref) < 1e-6
    assert lens.numpy().tolist() == ref_lens.tolist() == lengths
    g = rng.standard_normal(tuple(ref.shape))
    (out * fw.tensor(g.astype(np.float32))).sum().backward()
    (ref * torch.tensor(g)).sum().backward()
    assert rel_err(xo.grad, xt.grad) < 1e-6  # zero where the input was padding


@pytest.mark.parametrize("padding_side", ["right", "left"])
@pytest.mark.parametrize("batch_first", [False, True])
def test_pad_sequence_matches_torch(rng, padding_side, batch_first):
    pairs = [_leaf(rng.standard_normal((n, 2, 3))) for n in (2, 5, 1)]
    out = frnn.pad_sequence([o for o, _ in pairs], batch_first, 7.0, padding_side)
    ref = trnn.pad_sequence([t for _, t in pairs], batch_first, 7.0, padding_side)
    assert out.shape == tuple(ref.shape) and rel_err(out, ref) < 1e-6
    g = rng.standard_normal(tuple(ref.shape))
    (out * fw.tensor(g.astype(np.float32))).sum().backward()
    (ref * torch.tensor(g)).sum().backward()
    for o, t in pairs:
        assert rel_err(o.grad, t.grad) < 1e-6


def test_pack_sequence_unpack_and_unpad_round_trip(rng):
    arrays = [rng.standard_normal((n, 2)) for n in (3, 1, 4)]
    seqs = [fw.tensor(a.astype(np.float32)) for a in arrays]
    packed = frnn.pack_sequence(seqs, enforce_sorted=False)
    ref = trnn.pack_sequence([torch.tensor(a) for a in arrays], enforce_sorted=False)
    assert rel_err(packed.data, ref.data) < 1e-6
    for back, a in zip(frnn.unpack_sequence(packed), arrays):
        assert np.allclose(back.numpy(), a, atol=1e-6)
    padded = frnn.pad_sequence(seqs, batch_first=True)
    for back, a in zip(frnn.unpad_sequence(padded, [3, 1, 4], batch_first=True), arrays):
        assert np.allclose(back.numpy(), a, atol=1e-6)
    with pytest.raises(ValueError, match="sorted in decreasing order"):
        frnn.pack_sequence(seqs)


def test_packing_errors_name_the_problem():
    x = fw.zeros(4, 3, 2)
    with pytest.raises(ValueError, match="sorted in decreasing order"):
        frnn.pack_padded_sequence(x, [2, 3, 1])
    with pytest.raises(ValueError, match="one entry per sequence"):
        frnn.pack_padded_sequence(x, [4, 3])
    with pytest.raises(ValueError, match="> 0"):
        frnn.pack_padded_sequence(x, [4, 3, 0])
    with pytest.raises(ValueError, match="exceeds the padded length T=4"):
        frnn.pack_padded_sequence(x, [5, 3, 1])
    with pytest.raises(TypeError, match="integers"):
        frnn.pack_padded_sequence(x, [2.5, 2, 1])
    with pytest.raises(TypeError, match="must be a Tensor"):
        frnn.pack_padded_sequence(np.zeros((4, 3, 2)), [4, 3, 1])
    packed = frnn.pack_padded_sequence(x, [4, 3, 1])
    with pytest.raises(ValueError, match="total_length"):
        frnn.pad_packed_sequence(packed, total_length=3)
    with pytest.raises(TypeError, match="PackedSequence"):
        frnn.pad_packed_sequence(x)
    with pytest.raises(ValueError, match="trailing shape"):
        frnn.pad_sequence([fw.zeros(2, 3), fw.zeros(2, 4)])
    with pytest.raises(ValueError, match="padding_side"):
        frnn.pad_sequence([fw.zeros(2, 3)], padding_side="middle")
    with pytest.raises(ValueError, match="input features"):
        nn.GRU(3, 4)(packed)  # 2 features, the layer wants 3


# --------------------------------------------------------------------------- recurrent layers


def _compare_packed(mode, device, rng, lengths, num_layers, bidirectional, enforce_sorted, initial_state,
                    batch_first=False, **kwargs):
    ours_cls, torch_cls = MODES[mode]
    theirs = torch_cls(I, H, num_layers=num_layers, bidirectional=bidirectional, batch_first=batch_first,
                       **kwargs).double()
    ours = ours_cls(I, H, num_layers=num_layers, bidirectional=bidirectional, batch_first=batch_first, **kwargs)
    ours.load_state_dict({k: v.detach().numpy() for k, v in theirs.state_dict().items()})
    ours.to(device)

    xo, xt = _leaf(_padded(rng, lengths, batch_first), device)
    po = frnn.pack_padded_sequence(xo, lengths, batch_first=batch_first, enforce_sorted=enforce_sorted)
    pt = trnn.pack_padded_sequence(xt, torch.tensor(lengths), batch_first=batch_first, enforce_sorted=enforce_sorted)
    lead = (num_layers * (2 if bidirectional else 1), len(lengths))
    sizes = [kwargs.get("proj_size") or H, H] if mode == "LSTM" else [H]
    states = [_leaf(rng.standard_normal(lead + (n,)), device) for n in sizes] if initial_state else []
    out, finals, ref, ref_finals = run_both(ours, theirs, mode, po, pt, states)
    assert isinstance(out, frnn.PackedSequence)
    assert out.batch_sizes.numpy().tolist() == ref.batch_sizes.tolist()
    assert rel_err(out.data, ref.data) < TOL
    for f, rf in zip(finals, ref_finals):
        assert f.shape == tuple(rf.shape) and rel_err(f, rf) < TOL
    # Backward through the padded output (as users read it) and every final state.
    padded, _ = frnn.pad_packed_sequence(out, batch_first=batch_first)
    ref_padded, _ = trnn.pad_packed_sequence(ref, batch_first=batch_first)
    check_backward(rng, device, ours, theirs, [(padded, ref_padded), *zip(finals, ref_finals)], (xo, xt), states)


@pytest.mark.parametrize("mode,num_layers,bidirectional,enforce_sorted,initial_state",
                         list(itertools.product(MODES, [1, 2], [False, True], [True, False], [False, True])))
def test_packed_input_matches_torch_cpu(rng, mode, num_layers, bidirectional, enforce_sorted, initial_state):
    lengths = [5, 4, 4, 2, 1] if enforce_sorted else [2, 5, 1, 4, 4]
    _compare_packed(mode, "cpu", rng, lengths, num_layers, bidirectional, enforce_sorted, initial_state)


@pytest.mark.parametrize("mode", list(MODES))
def test_packed_input_matches_torch(device, rng, mode):
    _compare_packed(mode, device, rng, [1, 3, 2], 2, True, False, True, batch_first=True)


def test_packed_lstm_with_projection_matches_torch(rng):
    _compare_packed("LSTM", "cpu", rng, [3, 4, 1], 2, True, False, True, proj_size=2)


def test_packed_equal_lengths_equal_the_padded_run(rng):
    lstm = nn.LSTM(I, H, bidirectional=True)
    x = fw.tensor(rng.standard_normal((4, 3, I)).astype(np.float32))
    out, (h, c) = lstm(x)
    pout, (ph, pc) = lstm(frnn.pack_padded_sequence(x, [4, 4, 4]))
    assert np.allclose(pout.data.numpy(), out.numpy().reshape(12, -1), atol=1e-6)
    assert np.allclose(ph.numpy(), h.numpy(), atol=1e-6) and np.allclose(pc.numpy(), c.numpy(), atol=1e-6)


def test_padding_never_reaches_the_states(rng):
    """Each packed sequence gives what it gives alone, whatever sits in the padding."""
    gru = nn.GRU(I, H, num_layers=2, bidirectional=True, batch_first=True)
    lengths = [2, 4, 3]
    x = rng.standard_normal((3, 4, I))
    for b, n in enumerate(lengths):
        x[b, n:] = 1e3  # garbage that would saturate every gate if it were read
    out, h_n = gru(frnn.pack_padded_sequence(fw.tensor(x.astype(np.float32)), lengths, batch_first=True,
                                             enforce_sorted=False))
    padded, _ = frnn.pad_packed_sequence(out, batch_first=True)
    for b, n in enumerate(lengths):
        alone, h_alone = gru(fw.tensor(x[b:b + 1, :n].astype(np.float32)))
        assert np.allclose(padded.numpy()[b, :n], alone.numpy()[0], atol=1e-5)
        assert np.allclose(padded.numpy()[b, n:], 0)
        assert np.allclose(h_n.numpy()[:, b], h_alone.numpy()[:, 0], atol=1e-5)
