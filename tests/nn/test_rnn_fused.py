"""The fused recurrent layers (framework/ops/rnn.py) against torch.nn in float64: outputs, final states and the
gradients of the input, the initial states and every weight and bias, on awkward shapes (batch 1, one step,
hidden 3 and 7, two layers, bidirectional, batch_first), saturated gates and exact zeros; that the fused path
is the one taken (one graph node per layer and direction) and where it is not (packed input, proj_size); that
it equals the generic path, dropout masks included; and that gradients nobody needs are skipped."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn as tnn

import framework as fw
import framework.nn.rnn as rnn_module
from framework import nn
from framework.nn.utils.rnn import pack_padded_sequence

from ..conftest import rel_err

MODES = {  # name: (ours, torch's, extra constructor arguments)
    "LSTM": (nn.LSTM, tnn.LSTM, {}),
    "GRU": (nn.GRU, tnn.GRU, {}),
    "RNN_TANH": (nn.RNN, tnn.RNN, {"nonlinearity": "tanh"}),
    "RNN_RELU": (nn.RNN, tnn.RNN, {"nonlinearity": "relu"}),
}
FUSED_NODES = {"LSTM": "LSTMLayer", "GRU": "GRULayer", "RNN_TANH": "RNNLayer", "RNN_RELU": "RNNLayer"}


def _pair(mode: str, input_size: int, hidden: int, dtype: str, device: str = "cpu", **kwargs):
    """Our module (``dtype``, on ``device``) and torch's (float64) with the same weights."""
    ours_cls, torch_cls, extra = MODES[mode]
    theirs = torch_cls(input_size, hidden, **extra, **kwargs).double()
    ours = ours_cls(input_size, hidden, **extra, **kwargs, dtype=dtype)
    ours.load_state_dict({k: v.detach().numpy().astype(dtype) for k, v in theirs.state_dict().items()})
    return ours.to(device), theirs


def _close(out, ref, tol: float) -> bool:
    """rel_err below ``tol``; a reference that is exactly zero (ReLU units all off on a tiny shape) must be
    matched exactly."""
    ref_array = ref.detach().numpy() if isinstance(ref, torch.Tensor) else np.asarray(ref)
    if not ref_array.any():
        return not out.numpy().any()
    return rel_err(out, ref) < tol


def _graph_ops(*outputs) -> list[str]:
    """The op names of every node reachable from ``outputs`` (each multi-output node once)."""
    names, seen, stack = [], set(), [o._ctx for o in outputs if o._ctx is not None]
    while stack:
        ctx = stack.pop()
        node = ctx.node or ctx
        if id(node) in seen:
            continue
        seen.add(id(node))
        names.append(node.fn.__name__)
        stack.extend(a._ctx for a in node.inputs if isinstance(a, fw.Tensor) and a._ctx is not None)
    return names


def _compare(rng, mode: str, T: int, B: int, input_size: int, hidden: int, *, device: str = "cpu",
             dtype: str = "float64", tol: float = 1e-10, x_values=None, scale: float = 1.0, **kwargs):
    """Run ours and torch's on the same input and initial states, backpropagate random upstream gradients
    through the output and every final state, and compare values and all gradients. Returns our graph's ops."""
    ours, theirs = _pair(mode, input_size, hidden, dtype, device, **kwargs)
    if scale != 1.0:  # large pre-activations: saturated gates
        with torch.no_grad():
            for p in theirs.parameters():
                p.mul_(scale)
        ours.load_state_dict({k: v.detach().numpy().astype(dtype) for k, v in theirs.state_dict().items()})
    D = 2 if kwargs.get("bidirectional") else 1
    layers = kwargs.get("num_layers", 1)
    x = rng.standard_normal((B, T, input_size) if kwargs.get("batch_first") else (T, B, input_size))
    if x_values is not None:
        x = np.full_like(x, x_values)
    n_states = 2 if mode == "LSTM" else 1
    states = [rng.standard_normal((layers * D, B, hidden)) for _ in range(n_states)]

    def leaves(arrays, framework):
        if framework == "ours":
            return [fw.tensor(a.astype(dtype), device=device, requires_grad=True) for a in arrays]
        return [torch.tensor(a, requires_grad=True) for a in arrays]

    (xo, *so), (xt, *st) = leaves([x, *states], "ours"), leaves([x, *states], "torch")
    out, finals = ours(xo, tuple(so) if mode == "LSTM" else so[0])
    ref, ref_finals = theirs(xt, tuple(st) if mode == "LSTM" else st[0])
    finals = list(finals) if mode == "LSTM" else [finals]
    ref_finals = list(ref_finals) if mode == "LSTM" else [ref_finals]
    ops = _graph_ops(out, *finals)

    loss, ref_loss = 0, 0
    for o, r in zip([out, *finals], [ref, *ref_finals]):
        assert o.shape == tuple(r.shape)
        assert _close(o, r, tol)
        g = rng.standard_normal(tuple(r.shape))
        loss = loss + (o * fw.tensor(g.astype(dtype), device=device)).sum()
        ref_loss = ref_loss + (r * torch.tensor(g)).sum()
    loss.backward()
    ref_loss.backward()
    for name, ours_leaf, ref_leaf in [("x", xo, xt)] + [(f"state{i}", a, b) for i, (a, b) in enumerate(zip(so, st))]:
        assert _close(ours_leaf.grad, ref_leaf.grad, tol), name
    their_params = dict(theirs.named_parameters())
    for name, p in ours.named_parameters():
        assert p.grad is not None, f"no gradient for {name}"
        assert _close(p.grad, their_params[name].grad, tol), name
    return ops


# ------------------------------------------------------------------------------------- values, gradients

SHAPES = [  # T, B, input_size, hidden, constructor arguments
    (1, 1, 2, 3, {}),
    (4, 1, 3, 7, {"num_layers": 2, "bidirectional": True}),
    (3, 2, 4, 3, {"batch_first": True, "bidirectional": True}),
    (5, 3, 2, 7, {"num_layers": 2, "batch_first": True}),
    (2, 2, 3, 3, {"bias": False, "bidirectional": True}),
]


@pytest.mark.parametrize("mode", list(MODES))
@pytest.mark.parametrize("T,B,input_size,hidden,kwargs", SHAPES)
def test_fused_layers_match_torch_float64(rng, mode, T, B, input_size, hidden, kwargs):
    ops = _compare(rng, mode, T, B, input_size, hidden, **kwargs)
    directions = 2 if kwargs.get("bidirectional") else 1
    assert ops.count(FUSED_NODES[mode]) == kwargs.get("num_layers", 1) * directions


@pytest.mark.parametrize("mode", list(MODES))
def test_fused_layers_match_torch_on_every_device(device, rng, mode):
    """float32 on each device (tiny: the triton and cupy devices run on CPU interpreters here)."""
    ops = _compare(rng, mode, 3, 2, 2, 3, device=device, dtype="float32", tol=1e-4, num_layers=2,
                   bidirectional=True, batch_first=True)
    assert ops.count(FUSED_NODES[mode]) == 4


@pytest.mark.filterwarnings("error")  # an exp overflow in the sigmoid would warn (and give inf/inf = NaN)
@pytest.mark.parametrize("mode", list(MODES))
def test_saturated_gates_match_torch(rng, mode):
    """Weights scaled up 40x: pre-activations of tens to hundreds, the sigmoids and tanhs at 0 or 1."""
    _compare(rng, mode, 4, 2, 3, 7, scale=40.0, num_layers=2)


@pytest.mark.filterwarnings("error")
def test_huge_pre_activations_stay_finite(rng):
    lstm = nn.LSTM(2, 3)
    x = fw.tensor(np.array([[[1e30, -1e30]], [[-1e30, 1e30]]], dtype=np.float32), requires_grad=True)
    out, (h, c) = lstm(x)
    (out.sum() + c.sum()).backward()
    assert np.isfinite(out.numpy()).all() and np.isfinite(c.numpy()).all()
    assert np.isfinite(lstm.weight_hh_l0.grad.numpy()).all()


@pytest.mark.parametrize("mode", list(MODES))
def test_exact_zero_input_matches_torch(rng, mode):
    """An all-zero input sequence (ReLU units exactly at their kink where a bias is zero is not reached:
    the biases and the states are random)."""
    _compare(rng, mode, 3, 2, 3, 7, x_values=0.0, bidirectional=True)


def test_relu_units_exactly_at_zero_pass_no_gradient(rng):
    """bias=False, zero input and zero initial state: every pre-activation is exactly 0, so every ReLU output
    is 0 and, as in PyTorch (threshold_backward), no gradient passes."""
    ours = nn.RNN(3, 4, nonlinearity="relu", bias=False)
    x = fw.zeros((3, 2, 3), requires_grad=True)
    out, h = ours(x)
    assert not out.numpy().any()
    (out.sum() + h.sum()).backward()
    assert not x.grad.numpy().any() and not ours.weight_ih_l0.grad.numpy().any()


# ------------------------------------------------------------------------------------- which path runs


def test_one_node_per_layer_and_direction_whatever_the_length(rng):
    lstm = nn.LSTM(3, 5, num_layers=2, bidirectional=True)
    for T in (2, 9):
        out, (h, c) = lstm(fw.tensor(rng.standard_normal((T, 2, 3)).astype(np.float32), requires_grad=True))
        ops = _graph_ops(out, h, c)
        assert ops.count("LSTMLayer") == 4 and "Sigmoid" not in ops and len(ops) < 20


@pytest.mark.parametrize("name,cls,states", [("LSTMCell", nn.LSTMCell, 2), ("GRUCell", nn.GRUCell, 1),
                                             ("RNNCell", nn.RNNCell, 1)])
def test_cells_take_the_fused_path(rng, name, cls, states):
    cell = cls(3, 4)
    x = fw.tensor(rng.standard_normal((2, 3)).astype(np.float32), requires_grad=True)
    out = cell(x)
    outs = list(out) if states == 2 else [out]
    ops = _graph_ops(*outs)
    assert ops.count(name.replace("Cell", "Layer")) == 1 and "Sigmoid" not in ops and "Tanh" not in ops


def test_packed_input_and_projection_take_the_generic_path(rng):
    x = fw.tensor(rng.standard_normal((4, 2, 3)).astype(np.float32), requires_grad=True)
    packed = pack_padded_sequence(x, [4, 2])
    out, _ = nn.LSTM(3, 5)(packed)
    assert "LSTMLayer" not in _graph_ops(out.data)
    out, _ = nn.LSTM(3, 5, proj_size=2)(x)
    assert "LSTMLayer" not in _graph_ops(out)


@pytest.mark.parametrize("mode", list(MODES))
def test_fused_equals_generic_with_dropout(rng, mode, monkeypatch):
    """Same module, both paths, training with dropout between layers: the fused path draws the generic
    path's per-step masks (B*F = 2*7 is no multiple of 4: the row mapping is exercised), so values agree to
    rounding, and so do the gradients."""
    ours_cls, _, extra = MODES[mode]
    model = ours_cls(3, 7, num_layers=3, dropout=0.4, **extra)
    x = rng.standard_normal((5, 2, 3)).astype(np.float32)
    grad = rng.standard_normal((5, 2, 7)).astype(np.float32)
    results = []
    for fused in (True, False):
        monkeypatch.setattr(rnn_module, "_FUSED", fused)
        model.zero_grad()
        fw.manual_seed(3)
        xo = fw.tensor(x, requires_grad=True)
        out = model(xo)[0]
        (out * fw.tensor(grad)).sum().backward()
        results.append((out.numpy(), xo.grad.numpy(), model.weight_hh_l0.grad.numpy().copy()))
    for a, b in zip(*results):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    model.eval()
    assert np.abs(results[0][0] - model(fw.tensor(x))[0].numpy()).max() > 1e-3  # dropout did act


# ------------------------------------------------------------------------------- gradients nobody needs


def test_frozen_weights_and_plain_input(rng):
    """Only some inputs need a gradient: the others get none, the rest still match torch."""
    ours, theirs = _pair("GRU", 3, 4, "float64", num_layers=2)
    for name in ("weight_ih_l0", "bias_hh_l1"):
        getattr(ours, name).requires_grad_(False)
        getattr(theirs, name).requires_grad_(False)
    x = rng.standard_normal((3, 2, 3))
    out, _ = ours(fw.tensor(x))  # the input needs no gradient
    ref, _ = theirs(torch.tensor(x))
    out.sum().backward()
    ref.sum().backward()
    their_params = dict(theirs.named_parameters())
    for name, p in ours.named_parameters():
        if name in ("weight_ih_l0", "bias_hh_l1"):
            assert p.grad is None
        else:
            assert rel_err(p.grad, their_params[name].grad) < 1e-10, name


def test_no_grad_gives_the_same_values(rng):
    lstm = nn.LSTM(3, 4, num_layers=2, bidirectional=True)
    x = fw.tensor(rng.standard_normal((4, 2, 3)).astype(np.float32))
    out, (h, c) = lstm(x)
    with fw.no_grad():
        out2, (h2, c2) = lstm(x)
    for a, b in ((out, out2), (h, h2), (c, c2)):
        np.testing.assert_array_equal(a.numpy(), b.numpy())


@pytest.mark.parametrize("mode", list(MODES))
def test_in_place_write_on_the_output_is_fine(rng, mode):
    """``out += residual`` (recorded) after a one-layer run: the output shares no memory with what backward
    reads, so the gradient is the out-of-place one (as on the generic path), not a RuntimeError."""
    ours_cls, _, extra = MODES[mode]
    model = ours_cls(3, 3, **extra)
    x = rng.standard_normal((4, 2, 3)).astype(np.float32)
    grads = []
    for in_place in (True, False):
        xo = fw.tensor(x, requires_grad=True)
        out, _ = model(xo)
        if in_place:
            out += xo
        else:
            out = out + xo
        (out * out).sum().backward()
        grads.append(xo.grad.numpy())
    np.testing.assert_allclose(grads[0], grads[1], rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("mode", list(MODES))
def test_empty_batch_gives_torchs_shapes_and_zero_gradients(mode):
    """A batch of 0 sequences on the fused path: torch's output and state shapes, every gradient exactly 0."""
    ours, theirs = _pair(mode, 3, 4, "float64", num_layers=2, bidirectional=True)
    x = fw.zeros((5, 0, 3), dtype=fw.float64, requires_grad=True)
    out, *states = ours(x)
    ref, *ref_states = theirs(torch.zeros(5, 0, 3, dtype=torch.float64))
    assert tuple(out.shape) == tuple(ref.shape)
    flat = [s for group in states for s in (group if isinstance(group, tuple) else (group,))]
    ref_flat = [s for group in ref_states for s in (group if isinstance(group, tuple) else (group,))]
    assert [tuple(s.shape) for s in flat] == [tuple(s.shape) for s in ref_flat]
    (out.sum() + sum(s.sum() for s in flat)).backward()
    assert tuple(x.grad.shape) == (5, 0, 3)
    for p in ours.parameters():
        assert p.grad is not None and not np.any(p.grad.numpy())
