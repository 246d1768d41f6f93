"""Recurrent layers against torch.nn with the same weights: outputs, final states and the gradients of the
input, every parameter and the initial states (float32 here vs float64 torch), PyTorch's parameter names,
initialisation, unbatched inputs, dropout between layers, validation and a 1000-step backward pass."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
import torch
import torch.nn as tnn

import framework as fw
from framework import nn

from ..conftest import rel_err

TOL = 1e-4  # float32 against a float64 reference
T, B, I, H = 5, 3, 4, 6  # tiny: the triton and cupy devices run on CPU interpreters/emulators here

MODES = {"RNN": (nn.RNN, tnn.RNN), "LSTM": (nn.LSTM, tnn.LSTM), "GRU": (nn.GRU, tnn.GRU)}
CELLS = {"RNNCell": (nn.RNNCell, tnn.RNNCell), "LSTMCell": (nn.LSTMCell, tnn.LSTMCell),
         "GRUCell": (nn.GRUCell, tnn.GRUCell)}


def _torch_weights(tm: tnn.Module) -> dict[str, np.ndarray]:
    return {k: v.detach().numpy() for k, v in tm.state_dict().items()}


def _leaf(array: np.ndarray, device: str):
    return (fw.tensor(array.astype(np.float32), device=device, requires_grad=True),
            torch.tensor(array, dtype=torch.float64, requires_grad=True))


def _compare_rnn(mode: str, device: str, rng, num_layers: int, bidirectional: bool, batch_first: bool,
                 initial_state: bool, unbatched: bool = False, **kwargs):
    ours_cls, torch_cls = MODES[mode]
    theirs = torch_cls(I, H, num_layers=num_layers, bidirectional=bidirectional, batch_first=batch_first,
                       **kwargs).double()
    ours = ours_cls(I, H, num_layers=num_layers, bidirectional=bidirectional, batch_first=batch_first, **kwargs)
    assert list(ours.state_dict()) == list(theirs.state_dict())
    ours.to(device)
    ours.load_state_dict(_torch_weights(theirs))

    x_shape = (T, I) if unbatched else ((B, T, I) if batch_first else (T, B, I))
    xo, xt = _leaf(rng.standard_normal(x_shape), device)
    D = 2 if bidirectional else 1
    lead = (num_layers * D,) if unbatched else (num_layers * D, B)
    sizes = [kwargs.get("proj_size") or H, H] if mode == "LSTM" else [H]  # h (projected or not), then c
    states = [_leaf(rng.standard_normal(lead + (size,)), device) for size in sizes]
    out, finals, ref, ref_finals = run_both(ours, theirs, mode, xo, xt, states if initial_state else [])

    assert out.shape == tuple(ref.shape)
    assert rel_err(out, ref) < TOL
    for f, rf in zip(finals, ref_finals):
        assert f.shape == tuple(rf.shape) and rel_err(f, rf) < TOL
    check_backward(rng, device, ours, theirs, [(out, ref), *zip(finals, ref_finals)], (xo, xt),
                   states if initial_state else [])


def run_both(ours, theirs, mode: str, xo, xt, states: list) -> tuple:
    """Call both modules (with the ``(ours, torch)`` initial-state pairs, if any); returns
    ``(out, finals, ref, ref_finals)`` with the final states as lists (``[h_n]`` or ``[h_n, c_n]``)."""
    if not states:
        out, st = ours(xo)
        ref, rst = theirs(xt)
    elif mode == "LSTM":
        out, st = ours(xo, (states[0][0], states[1][0]))
        ref, rst = theirs(xt, (states[0][1], states[1][1]))
    else:
        out, st = ours(xo, states[0][0])
        ref, rst = theirs(xt, states[0][1])
    if mode == "LSTM":
        return out, list(st), ref, list(rst)
    return out, [st], ref, [rst]


def check_backward(rng, device: str, ours, theirs, outputs: list, x: tuple, states: list) -> None:
    """Backpropagate random upstream gradients on every ``(ours, ref)`` output pair, so each path back is
    checked, and compare the gradients of the input, every parameter and the initial states."""
    loss, ref_loss = 0, 0
    for o, r in outputs:
        g = rng.standard_normal(tuple(r.shape))
        loss = loss + (o * fw.tensor(g.astype(np.float32), device=device)).sum()
        ref_loss = ref_loss + (r * torch.tensor(g)).sum()
    loss.backward()
    ref_loss.backward()
    assert rel_err(x[0].grad, x[1].grad) < TOL
    their_params = dict(theirs.named_parameters())
    assert [n for n, _ in ours.named_parameters()] == list(their_params)
    for name, p in ours.named_parameters():
        assert p.grad is not None, f"no gradient for {name}"
        assert rel_err(p.grad, their_params[name].grad) < TOL, name
    for so, st_ in states:
        assert rel_err(so.grad, st_.grad) < TOL


# One representative set per device (every mode, 1 and 2 layers, both directions, both layouts, with and
# without initial states); the cpu runs the full product below.
DEVICE_CASES = [
    ("LSTM", 1, False, False, False),
    ("LSTM", 2, True, True, True),
    ("GRU", 1, True, False, True),
    ("GRU", 2, False, True, False),
    ("RNN", 2, True, False, True),
    ("RNN", 1, False, True, False),
]


@pytest.mark.parametrize("mode,num_layers,bidirectional,batch_first,initial_state", DEVICE_CASES)
def test_rnn_layers_match_torch(device, rng, mode, num_layers, bidirectional, batch_first, initial_state):
    _compare_rnn(mode, device, rng, num_layers, bidirectional, batch_first, initial_state)


@pytest.mark.parametrize("mode,num_layers,bidirectional,batch_first,initial_state",
                         list(itertools.product(MODES, [1, 2], [False, True], [False, True], [False, True])))
def test_rnn_layers_match_torch_all_configs_cpu(rng, mode, num_layers, bidirectional, batch_first, initial_state):
    _compare_rnn(mode, "cpu", rng, num_layers, bidirectional, batch_first, initial_state)


@pytest.mark.parametrize("num_layers,bidirectional,batch_first,initial_state",
                         list(itertools.product([1, 2], [False, True], [False, True], [False, True])))
def test_lstm_with_projection_matches_torch_cpu(rng, num_layers, bidirectional, batch_first, initial_state):
    _compare_rnn("LSTM", "cpu", rng, num_layers, bidirectional, batch_first, initial_state, proj_size=H - 2)


@pytest.mark.parametrize("unbatched", [False, True])
def test_lstm_with_projection_matches_torch(device, rng, unbatched):
    _compare_rnn("LSTM", device, rng, 2, True, False, True, unbatched=unbatched, proj_size=1)


def test_lstm_projection_parameters_and_repr_are_like_torch():
    ours, theirs = nn.LSTM(5, 8, num_layers=2, bidirectional=True, proj_size=3), \
        tnn.LSTM(5, 8, num_layers=2, bidirectional=True, proj_size=3)
    assert repr(ours) == repr(theirs)
    ours_sd = ours.state_dict()
    assert list(ours_sd) == list(theirs.state_dict())
    for k, v in theirs.state_dict().items():
        assert ours_sd[k].shape == tuple(v.shape), k
    out, (h, c) = ours(fw.zeros(T, B, 5))
    assert out.shape == (T, B, 6) and h.shape == (4, B, 3) and c.shape == (4, B, 8)
    with pytest.raises(ValueError, match=r"h_0 of shape \(4, 3, 3\)"):
        ours(fw.zeros(T, B, 5), (fw.zeros(4, B, 8), fw.zeros(4, B, 8)))


@pytest.mark.parametrize("kwargs,match", [
    ({"proj_size": 4}, "smaller than hidden_size=4"), ({"proj_size": -1}, "proj_size must be an int"),
    ({"proj_size": 1.5}, "proj_size must be an int"),
])
def test_bad_proj_size_raises(kwargs, match):
    with pytest.raises(ValueError, match=match):
        nn.LSTM(3, 4, **kwargs)


@pytest.mark.parametrize("mode", list(MODES))
@pytest.mark.parametrize("initial_state", [False, True])
def test_rnn_layers_unbatched_input(device, rng, mode, initial_state):
    _compare_rnn(mode, device, rng, 2, True, False, initial_state, unbatched=True)


def test_unbatched_input_ignores_batch_first(rng):
    """PyTorch reads a 2-D input as [seq, feature] whatever batch_first says."""
    _compare_rnn("GRU", "cpu", rng, 1, False, True, True, unbatched=True)


def test_float64_modules_match_torch_closely(rng):
    theirs = tnn.LSTM(I, H, num_layers=2, bidirectional=True).double()
    ours = nn.LSTM(I, H, num_layers=2, bidirectional=True, dtype="float64")
    ours.load_state_dict(_torch_weights(theirs))
    x = rng.standard_normal((T, B, I))
    xo = fw.tensor(x, dtype="float64", requires_grad=True)
    xt = torch.tensor(x, requires_grad=True)
    out, ref = ours(xo)[0], theirs(xt)[0]
    assert out.dtype == fw.float64 and rel_err(out, ref) < 1e-12
    out.sum().backward()
    ref.sum().backward()
    assert rel_err(xo.grad, xt.grad) < 1e-12
    assert rel_err(ours.weight_ih_l1_reverse.grad, theirs.weight_ih_l1_reverse.grad) < 1e-12


@pytest.mark.parametrize("kwargs", [{"nonlinearity": "relu"}, {"bias": False}])
def test_rnn_variants_match_torch(device, rng, kwargs):
    _compare_rnn("RNN", device, rng, 2, False, False, True, **kwargs)


def test_lstm_and_gru_without_bias_match_torch(rng):
    _compare_rnn("LSTM", "cpu", rng, 2, True, False, True, bias=False)
    _compare_rnn("GRU", "cpu", rng, 1, False, True, True, bias=False)


# ---------------------------------------------------------------------------------------------- cells


@pytest.mark.parametrize("name", list(CELLS))
@pytest.mark.parametrize("batched", [True, False])
@pytest.mark.parametrize("initial_state", [False, True])
def test_cells_match_torch(device, rng, name, batched, initial_state):
    ours_cls, torch_cls = CELLS[name]
    theirs = torch_cls(I, H).double()
    ours = ours_cls(I, H)
    assert list(ours.state_dict()) == list(theirs.state_dict())
    ours.to(device)
    ours.load_state_dict(_torch_weights(theirs))
    xo, xt = _leaf(rng.standard_normal((B, I) if batched else (I,)), device)
    state_shape = (B, H) if batched else (H,)
    states = [_leaf(rng.standard_normal(state_shape), device) for _ in range(2 if name == "LSTMCell" else 1)]
    if not initial_state:
        out, ref = ours(xo), theirs(xt)
    elif name == "LSTMCell":
        out = ours(xo, (states[0][0], states[1][0]))
        ref = theirs(xt, (states[0][1], states[1][1]))
    else:
        out, ref = ours(xo, states[0][0]), theirs(xt, states[0][1])
    outs = list(out) if name == "LSTMCell" else [out]
    refs = list(ref) if name == "LSTMCell" else [ref]
    loss, ref_loss = 0, 0
    for o, r in zip(outs, refs):
        assert o.shape == tuple(r.shape) and rel_err(o, r) < TOL
        g = rng.standard_normal(tuple(r.shape))
        loss = loss + (o * fw.tensor(g.astype(np.float32), device=device)).sum()
        ref_loss = ref_loss + (r * torch.tensor(g)).sum()
    loss.backward()
    ref_loss.backward()
    assert rel_err(xo.grad, xt.grad) < TOL
    their_params = dict(theirs.named_parameters())
    for pname, p in ours.named_parameters():
        ref_grad = their_params[pname].grad
        if not initial_state and pname == "weight_hh":  # h = 0: no gradient reaches W_hh, in both
            assert not ref_grad.any() and not p.grad.numpy().any()
            continue
        assert rel_err(p.grad, ref_grad) < TOL, pname
    if initial_state:
        for so, st in states:
            assert rel_err(so.grad, st.grad) < TOL


def test_rnn_cell_relu_matches_torch(rng):
    theirs = tnn.RNNCell(I, H, nonlinearity="relu").double()
    ours = nn.RNNCell(I, H, nonlinearity="relu")
    ours.load_state_dict(_torch_weights(theirs))
    x = rng.standard_normal((B, I))
    assert rel_err(ours(fw.tensor(x.astype(np.float32))), theirs(torch.tensor(x))) < TOL


def test_cell_unrolled_equals_layer(rng):
    """An LSTMCell stepped by hand gives what a 1-layer LSTM with the same weights gives."""
    lstm = nn.LSTM(I, H)
    cell = nn.LSTMCell(I, H)
    cell.load_state_dict({k.removesuffix("_l0"): v for k, v in lstm.state_dict().items()})
    x = fw.tensor(rng.standard_normal((T, B, I)).astype(np.float32))
    out, (h_n, c_n) = lstm(x)
    h = c = fw.zeros(B, H)
    for t in range(T):
        h, c = cell(x[t], (h, c))
        np.testing.assert_allclose(h.numpy(), out[t].numpy(), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(c.numpy(), c_n[0].numpy(), rtol=1e-5, atol=1e-6)


# ---------------------------------------------------------------------------------- parameters, init


@pytest.mark.parametrize("mode,gates", [("RNN", 1), ("LSTM", 4), ("GRU", 3)])
def test_parameter_names_shapes_and_init(mode, gates):
    fw.manual_seed(0)
    ours = MODES[mode][0](5, 16, num_layers=2, bidirectional=True)
    theirs = MODES[mode][1](5, 16, num_layers=2, bidirectional=True)
    ours_sd, their_sd = ours.state_dict(), theirs.state_dict()
    assert list(ours_sd) == list(their_sd)
    for k, v in their_sd.items():
        assert ours_sd[k].shape == tuple(v.shape), k
    assert ours.weight_ih_l1_reverse.shape == (gates * 16, 32)
    values = np.concatenate([p.numpy().ravel() for p in ours.parameters()])
    bound = 1 / math.sqrt(16)
    assert np.abs(values).max() <= bound
    # U(-b, b): mean 0, std b/sqrt(3) (the bound alone would also pass for all zeros).
    assert abs(values.mean()) < 0.01 and values.std() == pytest.approx(bound / math.sqrt(3), rel=0.05)


def test_cells_without_bias_have_no_bias_parameters():
    cell = nn.GRUCell(3, 4, bias=False)
    assert [n for n, _ in cell.named_parameters()] == ["weight_ih", "weight_hh"]
    assert cell.bias_ih is None


def test_repr_is_like_torch():
    assert repr(nn.LSTM(4, 6, num_layers=2, batch_first=True, bidirectional=True)) == \
        repr(tnn.LSTM(4, 6, num_layers=2, batch_first=True, bidirectional=True))
    assert repr(nn.GRUCell(3, 5)) == repr(tnn.GRUCell(3, 5))


# ----------------------------------------------------------------------------------------- dropout


def test_dropout_between_layers_only_in_training(rng):
    fw.manual_seed(0)
    model = nn.LSTM(I, H, num_layers=2, dropout=0.5)
    plain = nn.LSTM(I, H, num_layers=2)
    plain.load_state_dict(model.state_dict())
    x = fw.tensor(rng.standard_normal((T, B, I)).astype(np.float32))
    model.eval()
    np.testing.assert_array_equal(model(x)[0].numpy(), plain(x)[0].numpy())
    model.train()
    fw.manual_seed(1)
    first = model(x)[0].numpy()
    fw.manual_seed(1)
    again = model(x)[0].numpy()
    np.testing.assert_array_equal(first, again)  # the mask comes from the seeded stream
    assert np.abs(first - plain(x)[0].numpy()).max() > 1e-3
    # The first layer's output (= h_n of layer 0) is not affected: dropout is between layers only.
    fw.manual_seed(1)
    _, (h_n, _) = model(x)
    np.testing.assert_allclose(h_n[0].numpy(), plain(x)[1][0][0].numpy(), rtol=1e-6, atol=1e-7)


def test_single_layer_dropout_is_a_no_op(rng):
    model = nn.GRU(I, H, dropout=0.5)
    x = fw.tensor(rng.standard_normal((T, B, I)).astype(np.float32))
    model.train()
    a = model(x)[0].numpy()
    model.eval()
    np.testing.assert_array_equal(a, model(x)[0].numpy())


# ------------------------------------------------------------------------------------ long sequences


def test_thousand_step_lstm_backpropagates(rng):
    """1000 unrolled steps: the iterative autograd walks the ~20k-node graph; gradients match torch."""
    steps = 1000
    theirs = tnn.LSTM(2, 3).double()
    ours = nn.LSTM(2, 3)
    ours.load_state_dict(_torch_weights(theirs))
    x = rng.standard_normal((steps, 1, 2)) * 0.5
    xo, xt = _leaf(x, "cpu")
    out, (h_n, _) = ours(xo)
    ref, (rh_n, _) = theirs(xt)
    assert rel_err(out, ref) < TOL
    (out.sum() + h_n.sum()).backward()
    (ref.sum() + rh_n.sum()).backward()
    assert rel_err(xo.grad, xt.grad) < TOL
    assert rel_err(ours.weight_hh_l0.grad, theirs.weight_hh_l0.grad) < TOL
    assert abs(xo.grad.numpy()[0]).sum() > 0  # the first step does receive a gradient


# ----------------------------------------------------------------------------------------- validation


def test_wrong_input_and_state_shapes_raise():
    lstm = nn.LSTM(I, H, num_layers=2)
    x = fw.zeros(T, B, I)
    with pytest.raises(ValueError, match="input_size=4"):
        lstm(fw.zeros(T, B, I + 1))
    with pytest.raises(ValueError, match="3-D input"):
        lstm(fw.zeros(T, B, 1, I))
    with pytest.raises(ValueError, match=r"h_0 of shape \(2, 3, 6\)"):
        lstm(x, (fw.zeros(1, B, H), fw.zeros(2, B, H)))
    with pytest.raises(ValueError, match=r"c_0 of shape \(2, 3, 6\)"):
        lstm(x, (fw.zeros(2, B, H), fw.zeros(2, B, H + 1)))
    with pytest.raises(TypeError, match="pair"):
        lstm(x, fw.zeros(2, B, H))
    with pytest.raises(ValueError, match="empty"):
        lstm(fw.zeros(0, B, I))
    gru = nn.GRU(I, H, bidirectional=True, batch_first=True)
    with pytest.raises(ValueError, match=r"h_0 of shape \(2, 3, 6\)"):
        gru(fw.zeros(B, T, I), fw.zeros(1, B, H))
    with pytest.raises(ValueError, match=r"h_0 of shape \(2, 6\)"):  # unbatched input: unbatched state
        gru(fw.zeros(T, I), fw.zeros(2, 1, H))
    with pytest.raises(TypeError, match="floating-point"):
        gru(fw.zeros(B, T, I, dtype="int64"))
    cell = nn.GRUCell(I, H)
    with pytest.raises(ValueError, match="input_size=4"):
        cell(fw.zeros(B, I + 2))
    with pytest.raises(ValueError, match=r"hx of shape \(3, 6\)"):
        cell(fw.zeros(B, I), fw.zeros(B + 1, H))


@pytest.mark.parametrize("kwargs,match", [
    ({"input_size": 0}, "input_size"), ({"hidden_size": -1}, "hidden_size"), ({"num_layers": 0}, "num_layers"),
    ({"dropout": 1.0}, "dropout"), ({"nonlinearity": "gelu"}, "nonlinearity"),
])
def test_bad_constructor_arguments_raise(kwargs, match):
    args = {"input_size": 3, "hidden_size": 4, **kwargs}
    with pytest.raises(ValueError, match=match):
        nn.RNN(**args)


@pytest.mark.parametrize("mode", list(MODES))
def test_gradients_match_finite_differences_float64(rng, mode):
    fw.manual_seed(0)
    model = MODES[mode][0](3, 4, num_layers=2, bidirectional=True, dtype="float64")
    x = rng.standard_normal((4, 2, 3))
    weights = rng.standard_normal((4, 2, 8))

    def loss_of(values: np.ndarray, requires_grad: bool = False):
        xo = fw.tensor(values, dtype="float64", requires_grad=requires_grad)
        return (model(xo)[0] * fw.tensor(weights)).sum(), xo

    loss, xo = loss_of(x, requires_grad=True)
    loss.backward()
    eps = 1e-6
    for index in [(0, 0, 0), (1, 1, 2), (3, 0, 1), (2, 1, 0)]:
        up, down = x.copy(), x.copy()
        up[index] += eps
        down[index] -= eps
        numeric = (loss_of(up)[0].item() - loss_of(down)[0].item()) / (2 * eps)
        assert xo.grad.numpy()[index] == pytest.approx(numeric, rel=1e-6, abs=1e-9)
