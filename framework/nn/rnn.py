"""Recurrent layers: ``RNNCell``, ``LSTMCell``, ``GRUCell`` and the multi-layer ``RNN``, ``LSTM``, ``GRU``,
with PyTorch's names, arguments, gate orders, parameter names and default initialisation, so a PyTorch
``state_dict`` loads and gives PyTorch's outputs and gradients.

Two paths compute the same math:

- **Fused** (the default): each layer and direction is ONE autograd node over the whole sequence
  (:class:`~framework.ops.rnn.LSTMLayer`, ``GRULayer``, ``RNNLayer`` in ``framework/ops/rnn.py``): the input
  projection of all steps as one GEMM, one GEMM plus a few array calls per step, and backpropagation through
  time in a raw-array loop whose weight gradients are one GEMM each after the loop. Between layers: one
  ``cat`` (bidirectional) and one dropout call drawing exactly the per-step masks of the generic path. The
  cells run the same nodes with T = 1. It covers num_layers, bidirectional, batch_first, bias=False, initial
  states (with gradients), dropout, unbatched input and the cells, on every device.
- **Generic** (the fallback): built from generic differentiable ops (``F.linear`` for the input and recurrent
  projections, ``sigmoid``, ``tanh``, slicing, ``stack`` and ``cat``), autograd unrolling the time loop (about
  fifteen nodes per step and layer). It runs for a :class:`~framework.nn.utils.rnn.PackedSequence` input
  (sequences of different lengths), for an LSTM with ``proj_size > 0``, for parameters whose dtype differs
  from the input's, and everywhere when :data:`_FUSED` is False. The autograd engine walks the graph with an
  explicit stack, so sequences of thousands of steps backpropagate without recursion limits, and the work per
  step does not grow with the sequence length (see :meth:`RNNBase._run`).

Gate layouts (rows of ``weight_ih`` / ``weight_hh`` / biases, ``H = hidden_size``):

- LSTM ``[4H]`` = input, forget, cell (g), output gates::

      i = σ(W_ii x + b_ii + W_hi h + b_hi)    f = σ(...)    g = tanh(...)    o = σ(...)
      c' = f * c + i * g                      h' = o * tanh(c')

  With ``proj_size = P > 0`` (LSTM only) the hidden state is projected down, ``h' = W_hr (o * tanh(c'))``
  with ``weight_hr [P, H]``, so ``h`` and the outputs have ``P`` features while ``c`` keeps ``H``.

- GRU ``[3H]`` = reset, update, new::

      r = σ(W_ir x + b_ir + W_hr h + b_hr)    z = σ(W_iz x + b_iz + W_hz h + b_hz)
      n = tanh(W_in x + b_in + r * (W_hn h + b_hn))    h' = (1 - z) * n + z * h

- RNN ``[H]``: ``h' = tanh(W_ih x + b_ih + W_hh h + b_hh)`` (or ReLU).
"""

from __future__ import annotations

import math
from typing import Any

from .. import random as _random
from ..ops.dropout import Dropout
from ..ops.rnn import GRULayer, LSTMLayer, RNNLayer
from ..tensor import Tensor, cat, stack, type_name, zeros
from . import functional as F
from . import init
from .layers import _new_parameter, _positive_int
from .module import Module
from .parameter import Parameter
from .utils.rnn import PackedSequence, packed_parts

__all__ = ["RNNCellBase", "RNNCell", "LSTMCell", "GRUCell", "RNNBase", "RNN", "LSTM", "GRU"]

#: Rows of the stacked gate matrices per hidden unit, by mode.
_GATES = {"RNN_TANH": 1, "RNN_RELU": 1, "LSTM": 4, "GRU": 3}

#: Whether layers and cells take the fused path where it applies (see the module docstring). False forces the
#: generic path everywhere: for A/B measurements and for the tests that compare the two paths.
_FUSED = True


def _fusable(module: Module, input: Tensor) -> bool:
    """Whether ``module`` may run ``input`` on the fused path: every parameter has the input's dtype (else the
    generic path decides what mixed dtypes do) and, for an LSTM, no projection."""
    if not _FUSED or getattr(module, "proj_size", 0):
        return False
    return all(p.dtype == input.dtype for p in module.parameters())


def _fused_layer(mode: str, x: Tensor, params: tuple, initial: list, reverse: bool = False) -> tuple:
    """One fused layer direction over ``x [T, B, in]``: ``(out, h_n)`` or, for the LSTM, ``(out, h_n, c_n)``.
    ``params`` are ``(weight_ih, weight_hh, bias_ih, bias_hh)``; ``initial`` ``[h_0]`` or ``[h_0, c_0]``, each
    ``[B, *]`` or None for zeros."""
    if mode == "LSTM":
        return LSTMLayer.apply(x, *params, *initial, reverse=reverse)
    if mode == "GRU":
        return GRULayer.apply(x, *params, *initial, reverse=reverse)
    return RNNLayer.apply(x, *params, *initial, reverse=reverse, relu=mode == "RNN_RELU")


def _sequence_dropout(seq: Tensor, p: float) -> Tensor:
    """Dropout (training) of a whole sequence ``seq [T, B, F]`` with exactly the masks of one ``F.dropout``
    call per step, the generic path's: the stream reserves each call's count rounded up to a multiple of 4,
    so step t's B*F elements draw counters starting t * round4(B*F) after the first -- the dropout kernels'
    row mapping (row_len = B*F, row_stride = round4(B*F)), in one call. Under data parallelism
    (:func:`framework.random.sample_shard`) each call draws by global sample along its dim 0, so there the
    steps are dropped one by one."""
    T, B, n = seq.shape
    if _random.current_shard() is not None:
        steps = _split_rows(seq.reshape((T * B, n)), [B] * T)
        return stack([F.dropout(step, p, True) for step in steps], 0)
    row = B * n
    stride = (row + 3) // 4 * 4
    seed, offset = _random.next_philox(T * stride)
    mapping = (None, None) if stride == row else (row, stride)
    return Dropout.apply(seq, p, seed, offset, *mapping)


# ------------------------------------------------------------------------------------ one time step
# Each step takes the precomputed input projection ``gi = x @ W_ih.T + b_ih`` ([B, gates*H]) and the
# previous state, and returns the new state. Cells and the multi-layer modules share them.


def _rnn_step(gi: Tensor, h: Tensor, w_hh: Tensor, b_hh: Tensor | None, relu: bool) -> Tensor:
    pre = gi + F.linear(h, w_hh, b_hh)
    return F.relu(pre) if relu else F.tanh(pre)


def _lstm_step(gi: Tensor, h: Tensor, c: Tensor, w_hh: Tensor, b_hh: Tensor | None,
               w_hr: Tensor | None = None) -> tuple[Tensor, Tensor]:
    H = c.shape[-1]  # not h's: with a projection h has proj_size features
    gates = gi + F.linear(h, w_hh, b_hh)
    i = F.sigmoid(gates[..., 0:H])
    f = F.sigmoid(gates[..., H:2 * H])
    g = F.tanh(gates[..., 2 * H:3 * H])
    o = F.sigmoid(gates[..., 3 * H:4 * H])
    c = f * c + i * g
    h = o * F.tanh(c)
    return (h if w_hr is None else F.linear(h, w_hr)), c


def _gru_step(gi: Tensor, h: Tensor, w_hh: Tensor, b_hh: Tensor | None) -> Tensor:
    H = h.shape[-1]
    gh = F.linear(h, w_hh, b_hh)  # b_hn must stay inside r * (...), so the two projections are not summed
    r = F.sigmoid(gi[..., 0:H] + gh[..., 0:H])
    z = F.sigmoid(gi[..., H:2 * H] + gh[..., H:2 * H])
    n = F.tanh(gi[..., 2 * H:3 * H] + r * gh[..., 2 * H:3 * H])
    return (1 - z) * n + z * h


# -------------------------------------------------------------------------------------------- checks


def _check_input(input: Any, owner: str) -> None:
    if not isinstance(input, Tensor):
        raise TypeError(f"{owner}: input must be a Tensor, got {type_name(input)}")
    if not input.dtype.is_floating_point:
        raise TypeError(f"{owner}: input must be a floating-point tensor, got dtype {input.dtype}")


def _check_state(state: Any, expected: tuple[int, ...], name: str, owner: str, like: Tensor) -> None:
    if not isinstance(state, Tensor):
        raise TypeError(f"{owner}: {name} must be a Tensor, got {type_name(state)}")
    if tuple(state.shape) != expected:
        raise ValueError(f"{owner}: expected {name} of shape {expected}, got {tuple(state.shape)}")
    if state.dtype != like.dtype:
        raise TypeError(f"{owner}: {name} dtype {state.dtype} differs from input dtype {like.dtype}")


def _split_rows(x: Tensor, sizes: list[int]) -> list[Tensor]:
    """``x [N, *]`` cut along dim 0 into consecutive pieces of ``sizes`` rows.

    A slice's backward is an ``x``-sized gradient, so cutting T pieces straight out of an input that requires
    grad (an embedding's output, say) would make backward O(T * N). Halving recursively makes it
    O(N log T): each level's slices together cost one ``x``-sized gradient.
    """
    if not x.requires_grad or len(sizes) <= 4:
        pieces, start = [], 0
        for n in sizes:
            pieces.append(x[start:start + n])
            start += n
        return pieces
    half = len(sizes) // 2
    cut = sum(sizes[:half])
    return _split_rows(x[:cut], sizes[:half]) + _split_rows(x[cut:], sizes[half:])


def _check_nonlinearity(nonlinearity: Any, owner: str) -> str:
    if nonlinearity not in ("tanh", "relu"):
        raise ValueError(f"{owner}: nonlinearity must be 'tanh' or 'relu', got {nonlinearity!r}")
    return nonlinearity


# ---------------------------------------------------------------------------------------------- cells


class RNNCellBase(Module):
    """Parameters and checks shared by the cells: ``weight_ih [G*H, input_size]``, ``weight_hh [G*H, H]``,
    ``bias_ih [G*H]``, ``bias_hh [G*H]`` (G gates), all initialised U(-1/sqrt(H), 1/sqrt(H)) as in PyTorch."""

    def __init__(self, input_size: int, hidden_size: int, bias: bool, num_chunks: int, device: Any = None,
                 dtype: Any = None):
        super().__init__()
        name = type(self).__name__
        self.input_size = _positive_int(input_size, "input_size", name)
        self.hidden_size = _positive_int(hidden_size, "hidden_size", name)
        self.bias = bool(bias)
        rows = num_chunks * self.hidden_size
        self.weight_ih = _new_parameter((rows, self.input_size), device, dtype, name)
        self.weight_hh = _new_parameter((rows, self.hidden_size), device, dtype, name)
        if self.bias:
            self.bias_ih = _new_parameter((rows,), device, dtype, name)
            self.bias_hh = _new_parameter((rows,), device, dtype, name)
        else:
            self.register_parameter("bias_ih", None)
            self.register_parameter("bias_hh", None)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Every weight and bias ~ U(-1/sqrt(hidden_size), 1/sqrt(hidden_size)), PyTorch's default."""
        bound = 1.0 / math.sqrt(self.hidden_size)
        for p in self.parameters():
            init.uniform_(p, -bound, bound)

    def _prepare_input(self, input: Any) -> tuple[Tensor, bool]:
        """Validate; return ``(input [B, input_size], unbatched)``."""
        owner = type(self).__name__
        _check_input(input, owner)
        if input.ndim not in (1, 2):
            raise ValueError(f"{owner}: expected input of shape [batch, {self.input_size}] or [{self.input_size}], "
                             f"got {tuple(input.shape)}")
        if input.shape[-1] != self.input_size:
            raise ValueError(f"{owner}: input has {input.shape[-1]} features (shape {tuple(input.shape)}), "
                             f"expected input_size={self.input_size}")
        unbatched = input.ndim == 1
        return (input.unsqueeze(0) if unbatched else input), unbatched

    def _prepare_state(self, state: Any, name: str, input: Tensor, unbatched: bool, fill: bool = True
                       ) -> Tensor | None:
        """A state ``[B, H]`` validated against the (batched) input; for ``state`` None, zeros (None when not
        ``fill``: the fused nodes make their own)."""
        expected = (input.shape[0], self.hidden_size)
        if state is None:
            return zeros(expected, dtype=input.dtype, device=input.backend) if fill else None
        _check_state(state, expected[1:] if unbatched else expected, name, type(self).__name__, input)
        return state.unsqueeze(0) if unbatched else state

    def _fused_step(self, mode: str, input: Tensor, states: list[Any]) -> tuple:
        """One step on the fused path (a layer node with T = 1): ``(h',)`` or ``(h', c')``, each ``[B, H]``."""
        params = (self.weight_ih, self.weight_hh, self.bias_ih, self.bias_hh)
        return _fused_layer(mode, input.unsqueeze(0), params, states)[1:]

    def extra_repr(self) -> str:
        s = f"{self.input_size}, {self.hidden_size}"
        if not self.bias:
            s += ", bias=False"
        if getattr(self, "nonlinearity", "tanh") != "tanh":
            s += f", nonlinearity={self.nonlinearity!r}"
        return s


class RNNCell(RNNCellBase):
    """One Elman RNN step: ``h' = tanh(x @ W_ih.T + b_ih + h @ W_hh.T + b_hh)`` (or ReLU).

    Args:
        input_size, hidden_size: positive ints. bias: learn ``bias_ih`` and ``bias_hh``.
        nonlinearity: ``'tanh'`` or ``'relu'``. device, dtype: parameter placement (default device, float32).
    Shapes: input ``[B, input_size]`` or ``[input_size]``; hx (optional, default zeros) ``[B, H]`` or ``[H]``
        -> ``h' [B, H]`` or ``[H]``.
    Raises: ValueError for a non-positive size, an unknown nonlinearity, or input / hx of the wrong shape.
    """

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True, nonlinearity: str = "tanh",
                 device: Any = None, dtype: Any = None):
        self.nonlinearity = _check_nonlinearity(nonlinearity, type(self).__name__)
        super().__init__(input_size, hidden_size, bias, 1, device, dtype)

    def forward(self, input: Tensor, hx: Tensor | None = None) -> Tensor:
        input, unbatched = self._prepare_input(input)
        fused = _fusable(self, input)
        hx = self._prepare_state(hx, "hx", input, unbatched, fill=not fused)
        if fused:
            (h,) = self._fused_step("RNN_RELU" if self.nonlinearity == "relu" else "RNN_TANH", input, [hx])
        else:
            gi = F.linear(input, self.weight_ih, self.bias_ih)
            h = _rnn_step(gi, hx, self.weight_hh, self.bias_hh, self.nonlinearity == "relu")
        return h.squeeze(0) if unbatched else h


class LSTMCell(RNNCellBase):
    """One LSTM step (gate order i, f, g, o as in PyTorch; see the module docstring for the equations).

    Args:
        input_size, hidden_size: positive ints. bias: learn ``bias_ih`` and ``bias_hh``.
        device, dtype: parameter placement (default device, float32).
    Shapes: input ``[B, input_size]`` or ``[input_size]``; hx (optional, default zeros) a pair ``(h, c)``,
        each ``[B, H]`` or ``[H]`` -> ``(h', c')`` of the same shapes. ``weight_ih [4H, input_size]``.
    Raises: ValueError for a non-positive size or input / states of the wrong shape; TypeError when ``hx`` is
        not a pair of tensors.
    """

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True, device: Any = None, dtype: Any = None):
        super().__init__(input_size, hidden_size, bias, 4, device, dtype)

    def forward(self, input: Tensor, hx: tuple[Tensor, Tensor] | None = None) -> tuple[Tensor, Tensor]:
        if hx is None:
            h, c = None, None
        elif isinstance(hx, tuple | list) and len(hx) == 2:
            h, c = hx
        else:
            raise TypeError(f"LSTMCell: hx must be a pair (h_0, c_0) of tensors, got {type(hx).__name__}")
        input, unbatched = self._prepare_input(input)
        fused = _fusable(self, input)
        h = self._prepare_state(h, "h_0", input, unbatched, fill=not fused)
        c = self._prepare_state(c, "c_0", input, unbatched, fill=not fused)
        if fused:
            h, c = self._fused_step("LSTM", input, [h, c])
        else:
            gi = F.linear(input, self.weight_ih, self.bias_ih)
            h, c = _lstm_step(gi, h, c, self.weight_hh, self.bias_hh)
        return (h.squeeze(0), c.squeeze(0)) if unbatched else (h, c)


class GRUCell(RNNCellBase):
    """One GRU step (gate order r, z, n as in PyTorch; ``n = tanh(W_in x + b_in + r * (W_hn h + b_hn))``).

    Args:
        input_size, hidden_size: positive ints. bias: learn ``bias_ih`` and ``bias_hh``.
        device, dtype: parameter placement (default device, float32).
    Shapes: input ``[B, input_size]`` or ``[input_size]``; hx (optional, default zeros) ``[B, H]`` or ``[H]``
        -> ``h' [B, H]`` or ``[H]``. ``weight_ih [3H, input_size]``.
    Raises: ValueError for a non-positive size or input / hx of the wrong shape.
    """

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True, device: Any = None, dtype: Any = None):
        super().__init__(input_size, hidden_size, bias, 3, device, dtype)

    def forward(self, input: Tensor, hx: Tensor | None = None) -> Tensor:
        input, unbatched = self._prepare_input(input)
        fused = _fusable(self, input)
        hx = self._prepare_state(hx, "hx", input, unbatched, fill=not fused)
        if fused:
            (h,) = self._fused_step("GRU", input, [hx])
        else:
            gi = F.linear(input, self.weight_ih, self.bias_ih)
            h = _gru_step(gi, hx, self.weight_hh, self.bias_hh)
        return h.squeeze(0) if unbatched else h


# ------------------------------------------------------------------------------------ multi-layer


class RNNBase(Module):
    """Stacked, optionally bidirectional recurrent layers; the base of :class:`RNN`, :class:`LSTM`, :class:`GRU`.

    Parameters are registered in PyTorch's order and with its names: for each layer ``k`` and direction
    (``''``, then ``'_reverse'``): ``weight_ih_l{k}{sfx}``, ``weight_hh_l{k}{sfx}``, ``bias_ih_l{k}{sfx}``,
    ``bias_hh_l{k}{sfx}`` and, for an LSTM with ``proj_size > 0``, ``weight_hr_l{k}{sfx}``. Layer 0 reads
    ``input_size`` features, later layers ``num_directions * (proj_size or H)``.
    """

    def __init__(self, mode: str, input_size: int, hidden_size: int, num_layers: int = 1, bias: bool = True,
                 batch_first: bool = False, dropout: float = 0.0, bidirectional: bool = False, proj_size: int = 0,
                 device: Any = None, dtype: Any = None):
        super().__init__()
        owner = type(self).__name__
        if mode not in _GATES:
            raise ValueError(f"{owner}: unknown mode {mode!r}; expected one of {sorted(_GATES)}")
        self.mode = mode
        self.input_size = _positive_int(input_size, "input_size", owner)
        self.hidden_size = _positive_int(hidden_size, "hidden_size", owner)
        self.num_layers = _positive_int(num_layers, "num_layers", owner)
        if isinstance(dropout, bool) or not isinstance(dropout, int | float) or not 0 <= dropout < 1:
            raise ValueError(f"{owner}: dropout must be a probability in [0, 1), got {dropout!r}")
        if isinstance(proj_size, bool) or not isinstance(proj_size, int) or proj_size < 0:
            raise ValueError(f"{owner}: proj_size must be an int >= 0, got {proj_size!r}")
        if proj_size and mode != "LSTM":
            raise ValueError(f"{owner}: proj_size is only supported by LSTM, got proj_size={proj_size}")
        if proj_size >= self.hidden_size:
            raise ValueError(f"{owner}: proj_size must be smaller than hidden_size={self.hidden_size}, "
                             f"got proj_size={proj_size}")
        self.bias = bool(bias)
        self.batch_first = bool(batch_first)
        self.dropout = float(dropout)
        self.bidirectional = bool(bidirectional)
        self.proj_size = proj_size
        num_directions = 2 if self.bidirectional else 1
        rows = _GATES[mode] * self.hidden_size
        out_size = self._output_size
        self._flat_weights_names: list[str] = []
        for layer in range(self.num_layers):
            layer_input = self.input_size if layer == 0 else out_size * num_directions
            for direction in range(num_directions):
                sfx = f"_l{layer}" + ("_reverse" if direction == 1 else "")
                shapes = [("weight_ih", (rows, layer_input)), ("weight_hh", (rows, out_size))]
                if self.bias:
                    shapes += [("bias_ih", (rows,)), ("bias_hh", (rows,))]
                if self.proj_size:
                    shapes.append(("weight_hr", (self.proj_size, self.hidden_size)))
                for kind, shape in shapes:
                    setattr(self, kind + sfx, _new_parameter(shape, device, dtype, owner))
                    self._flat_weights_names.append(kind + sfx)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Every weight and bias ~ U(-1/sqrt(hidden_size), 1/sqrt(hidden_size)), PyTorch's default."""
        bound = 1.0 / math.sqrt(self.hidden_size)
        for p in self.parameters():
            init.uniform_(p, -bound, bound)

    @property
    def num_directions(self) -> int:
        return 2 if self.bidirectional else 1

    @property
    def _output_size(self) -> int:
        """Features of ``h`` and of each direction's output: ``proj_size`` when projecting, else ``hidden_size``."""
        return self.proj_size or self.hidden_size

    def _layer_params(self, layer: int, direction: int) -> tuple[Parameter, Parameter, Any, Any, Any]:
        """``(weight_ih, weight_hh, bias_ih, bias_hh, weight_hr)``, None for those the layer does not have."""
        sfx = f"_l{layer}" + ("_reverse" if direction == 1 else "")
        kinds = ("weight_ih", "weight_hh", "bias_ih", "bias_hh", "weight_hr")
        return tuple(getattr(self, kind + sfx, None) for kind in kinds)  # type: ignore[return-value]

    def _prepare_input(self, input: Any) -> tuple[Tensor, bool]:
        """Validate and return ``(input [T, B, in], unbatched)``."""
        owner = type(self).__name__
        _check_input(input, owner)
        if input.ndim not in (2, 3):
            layout = "[batch, seq, feature]" if self.batch_first else "[seq, batch, feature]"
            raise ValueError(f"{owner}: expected a 3-D input {layout} or an unbatched 2-D input [seq, feature], "
                             f"got shape {tuple(input.shape)}")
        if input.shape[-1] != self.input_size:
            raise ValueError(f"{owner}: input has {input.shape[-1]} features (shape {tuple(input.shape)}), "
                             f"expected input_size={self.input_size}")
        if input.shape[0 if input.ndim == 2 or not self.batch_first else 1] == 0:
            raise ValueError(f"{owner}: the sequence is empty (input shape {tuple(input.shape)})")
        unbatched = input.ndim == 2
        if unbatched:
            input = input.unsqueeze(1)
        elif self.batch_first:
            input = input.transpose(0, 1)
        return input, unbatched

    def _prepare_state(self, state: Any, name: str, batch: int, like: Tensor, unbatched: bool, fill: bool = True
                       ) -> Tensor | None:
        """A state ``[L*D, batch, size]`` validated against the input ``like``; for ``state`` None, zeros (None
        when not ``fill``: the fused nodes make their own). ``size`` is ``hidden_size`` for the cell state
        ``c_0`` and :attr:`_output_size` for ``h_0``."""
        size = self.hidden_size if name == "c_0" else self._output_size
        expected = (self.num_layers * self.num_directions, batch, size)
        if state is None:
            return zeros(expected, dtype=like.dtype, device=like.backend) if fill else None
        _check_state(state, (expected[0], expected[2]) if unbatched else expected, name, type(self).__name__, like)
        return state.unsqueeze(1) if unbatched else state

    def _forward(self, input: Any, states: list[Any]) -> tuple[Any, list[Tensor]]:
        """The forward pass shared by RNN, LSTM and GRU: ``states`` is ``[h_0]`` or ``[h_0, c_0]`` (None for
        zeros); returns ``(output, [h_n] or [h_n, c_n])`` in the input's form (padded, unbatched or packed)."""
        names = ["h_0", "c_0"][:len(states)]
        if isinstance(input, PackedSequence):
            data, batch_sizes, sorted_ids, unsorted_ids = packed_parts(input, type(self).__name__)
            self._check_features(data, f"PackedSequence data shape {tuple(data.shape)}")
            steps = _split_rows(data, batch_sizes)
            states = [self._prepare_state(s, n, batch_sizes[0], steps[0], False) for s, n in zip(states, names)]
            if input.sorted_indices is not None:  # states come in the caller's order, sequences run sorted
                states = [s[:, sorted_ids] for s in states]
            outputs, finals = self._run(steps, states, batch_sizes)
            if input.sorted_indices is not None:
                finals = [f[:, unsorted_ids] for f in finals]
            return input._replace(data=cat(outputs, 0)), finals
        input, unbatched = self._prepare_input(input)
        T, B = input.shape[0], input.shape[1]
        fused = _fusable(self, input)
        states = [self._prepare_state(s, n, B, input, unbatched, fill=not fused) for s, n in zip(states, names)]
        if fused:
            output, finals = self._run_fused(input, states)
        else:
            steps = _split_rows(input.reshape((T * B, input.shape[2])), [B] * T)
            outputs, finals = self._run(steps, states, [B] * T)
            output = stack(outputs, 0)
        if unbatched:
            return output.squeeze(1), [f.squeeze(1) for f in finals]
        return (output.transpose(0, 1) if self.batch_first else output), finals

    def _run_fused(self, input: Tensor, states: list[Tensor | None]) -> tuple[Tensor, list[Tensor]]:
        """The fused path over ``input [T, B, in]`` from initial states ``[L*D, B, *]`` (None: zeros): one
        node per layer and direction; returns ``(output [T, B, D*out], [h_n] or [h_n, c_n])``."""
        finals: list[list[Tensor]] = [[] for _ in states]
        layer_input = input
        for layer in range(self.num_layers):
            outputs = []
            for direction in range(self.num_directions):
                index = layer * self.num_directions + direction
                params = self._layer_params(layer, direction)[:4]
                initial = [None if s is None else s[index] for s in states]
                out, *last = _fused_layer(self.mode, layer_input, params, initial, reverse=direction == 1)
                outputs.append(out)
                for acc, state in zip(finals, last):
                    acc.append(state)
            layer_input = outputs[0] if len(outputs) == 1 else cat(outputs, dim=2)
            if self.dropout and self.training and layer < self.num_layers - 1:
                layer_input = _sequence_dropout(layer_input, self.dropout)
        return layer_input, [stack(acc, 0) for acc in finals]

    def _check_features(self, step: Tensor, shape_text: str) -> None:
        owner = type(self).__name__
        _check_input(step, owner)
        if step.ndim != 2 or step.shape[-1] != self.input_size:
            raise ValueError(f"{owner}: expected {self.input_size} input features per element ({shape_text})")

    def _run(self, steps: list[Tensor], states: list[Tensor], batch_sizes: list[int]
             ) -> tuple[list[Tensor], list[Tensor]]:
        """The unrolled recurrence over per-step inputs ``steps[t] [batch_sizes[t], in]`` from initial states
        ``[L*D, B, *]``; returns the last layer's per-step outputs ``[batch_sizes[t], D*out]`` and the final
        states ``[L*D, B, *]``.

        Sequences travel between layers as lists of per-step ``[B, *]`` tensors, and each step projects its own
        input: slicing step t out of a stacked ``[T, B, *]`` tensor that requires grad would cost a full
        ``[T, B, *]`` gradient per step in backward, i.e. O(T^2) for the sequence (see :func:`_split_rows`
        for how the input is cut).
        """
        finals: list[list[Tensor]] = [[] for _ in states]
        layer_input = steps
        for layer in range(self.num_layers):
            outputs = []
            for direction in range(self.num_directions):
                index = layer * self.num_directions + direction
                params = self._layer_params(layer, direction)
                run = self._run_reverse if direction == 1 else self._run_forward
                out, last = run(layer_input, [s[index] for s in states], batch_sizes, params)
                outputs.append(out)
                for acc, state in zip(finals, last):
                    acc.append(state)
            layer_input = outputs[0] if len(outputs) == 1 else [cat(pair, dim=1) for pair in zip(*outputs)]
            if self.dropout and self.training and layer < self.num_layers - 1:
                layer_input = [F.dropout(step, self.dropout, True) for step in layer_input]
        return layer_input, [stack(acc, 0) for acc in finals]

    def _step(self, x: Tensor, state: list[Tensor], params: tuple) -> list[Tensor]:
        w_ih, w_hh, b_ih, b_hh, w_hr = params
        gi = F.linear(x, w_ih, b_ih)
        if self.mode == "LSTM":
            return list(_lstm_step(gi, state[0], state[1], w_hh, b_hh, w_hr))
        if self.mode == "GRU":
            return [_gru_step(gi, state[0], w_hh, b_hh)]
        return [_rnn_step(gi, state[0], w_hh, b_hh, self.mode == "RNN_RELU")]

    def _run_forward(self, steps: list[Tensor], state: list[Tensor], batch_sizes: list[int], params: tuple
                     ) -> tuple[list[Tensor], list[Tensor]]:
        """Steps 0..T-1. Sequences are sorted longest first, so when the batch shrinks the last rows have
        ended: their states are final and are set aside (a packed input's padding never enters a state)."""
        outputs: list[Tensor] = []
        ended: list[list[Tensor]] = []  # the states of rows that ended, the highest rows first
        for x, n in zip(steps, batch_sizes):
            if n < state[0].shape[0]:
                ended.append([s[n:] for s in state])
                state = [s[:n] for s in state]
            state = self._step(x, state, params)
            outputs.append(state[0])
        if ended:
            state = [cat([s] + [rows[i] for rows in reversed(ended)], 0) for i, s in enumerate(state)]
        return outputs, state

    def _run_reverse(self, steps: list[Tensor], state: list[Tensor], batch_sizes: list[int], params: tuple
                     ) -> tuple[list[Tensor], list[Tensor]]:
        """Steps T-1..0. A sequence joins (from its initial state) at its own last step, so the batch grows."""
        initial = state
        state = [s[:batch_sizes[-1]] for s in initial] if batch_sizes[-1] < initial[0].shape[0] else initial
        outputs: list[Tensor] = [None] * len(steps)  # type: ignore[list-item]
        for t in range(len(steps) - 1, -1, -1):
            n, have = batch_sizes[t], state[0].shape[0]
            if n > have:
                state = [cat([s, s0[have:n]], 0) for s, s0 in zip(state, initial)]
            state = self._step(steps[t], state, params)
            outputs[t] = state[0]
        return outputs, state

    def extra_repr(self) -> str:
        s = f"{self.input_size}, {self.hidden_size}"
        if self.proj_size:
            s += f", proj_size={self.proj_size}"
        if self.num_layers != 1:
            s += f", num_layers={self.num_layers}"
        if getattr(self, "nonlinearity", "tanh") != "tanh":
            s += f", nonlinearity={self.nonlinearity!r}"
        if not self.bias:
            s += ", bias=False"
        if self.batch_first:
            s += ", batch_first=True"
        if self.dropout:
            s += f", dropout={self.dropout}"
        if self.bidirectional:
            s += ", bidirectional=True"
        return s


_RNN_SHAPES_DOC = """
    Args:
        input_size, hidden_size, num_layers: positive ints.
        bias: learn ``bias_ih_l*`` and ``bias_hh_l*``.
        batch_first: input and output are ``[B, T, *]`` instead of ``[T, B, *]`` (states are not affected).
        dropout: dropout probability on the outputs of every layer but the last, in training mode only.
        bidirectional: run a second, reversed recurrence per layer and concatenate the two outputs.
        device, dtype: parameter placement (default device, float32).
    Shapes (``D = 2 if bidirectional else 1``, ``L = num_layers``):
        input ``[T, B, input_size]`` (``[B, T, input_size]`` if batch_first) or unbatched ``[T, input_size]``;
        states ``[L*D, B, H]`` (unbatched ``[L*D, H]``), zeros when not given;
        output ``[T, B, D*H]`` (``[B, T, D*H]`` if batch_first; unbatched ``[T, D*H]``) — the last layer's
        hidden state at every step, both directions concatenated (forward first).
        A :class:`~framework.nn.utils.rnn.PackedSequence` input (variable lengths) gives a PackedSequence
        output with the same batch_sizes, and ``h_n`` holds each sequence's state at its own last step.
    Raises:
        ValueError: invalid constructor arguments, input of the wrong rank or feature size, an empty sequence,
            or states of the wrong shape. TypeError: non-float input, mismatched dtypes.
"""


class RNN(RNNBase):
    __doc__ = """Multi-layer Elman RNN: ``h_t = tanh(x_t @ W_ih.T + b_ih + h_{t-1} @ W_hh.T + b_hh)`` (or ReLU),
    PyTorch's ``nn.RNN(input_size, hidden_size, num_layers=1, nonlinearity='tanh', bias=True, batch_first=False,
    dropout=0.0, bidirectional=False)``; ``forward(input, h_0=None) -> (output, h_n)``. ``nonlinearity`` is
    ``'tanh'`` or ``'relu'``.
    """ + _RNN_SHAPES_DOC

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1, nonlinearity: str = "tanh",
                 bias: bool = True, batch_first: bool = False, dropout: float = 0.0, bidirectional: bool = False,
                 device: Any = None, dtype: Any = None):
        self.nonlinearity = _check_nonlinearity(nonlinearity, "RNN")
        super().__init__("RNN_TANH" if nonlinearity == "tanh" else "RNN_RELU", input_size, hidden_size, num_layers,
                         bias, batch_first, dropout, bidirectional, device=device, dtype=dtype)

    def forward(self, input: Tensor, hx: Tensor | None = None) -> tuple[Tensor, Tensor]:
        output, (h_n,) = self._forward(input, [hx])
        return output, h_n


class LSTM(RNNBase):
    __doc__ = """Multi-layer LSTM (gates i, f, g, o), PyTorch's ``nn.LSTM(input_size, hidden_size, num_layers=1,
    bias=True, batch_first=False, dropout=0.0, bidirectional=False, proj_size=0)``;
    ``forward(input, (h_0, c_0)=None) -> (output, (h_n, c_n))``.

    ``proj_size = P`` (0 < P < hidden_size) projects every hidden state to P features with
    ``weight_hr_l* [P, H]``: then ``h_0``/``h_n`` are ``[L*D, B, P]`` and the output ``[T, B, D*P]``, while
    ``c_0``/``c_n`` keep ``H``.
    """ + _RNN_SHAPES_DOC

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1, bias: bool = True,
                 batch_first: bool = False, dropout: float = 0.0, bidirectional: bool = False, proj_size: int = 0,
                 device: Any = None, dtype: Any = None):
        super().__init__("LSTM", input_size, hidden_size, num_layers, bias, batch_first, dropout, bidirectional,
                         proj_size, device, dtype)

    def forward(self, input: Tensor, hx: tuple[Tensor, Tensor] | None = None) -> tuple[Tensor, tuple[Tensor, Tensor]]:
        if hx is None:
            h0, c0 = None, None
        elif isinstance(hx, tuple | list) and len(hx) == 2:
            h0, c0 = hx
        else:
            raise TypeError(f"LSTM: hx must be a pair (h_0, c_0) of tensors, got {type(hx).__name__}")
        output, (h_n, c_n) = self._forward(input, [h0, c0])
        return output, (h_n, c_n)


class GRU(RNNBase):
    __doc__ = """Multi-layer GRU (gates r, z, n; ``n = tanh(W_in x + b_in + r * (W_hn h + b_hn))``), PyTorch's
    ``nn.GRU(input_size, hidden_size, num_layers=1, bias=True, batch_first=False, dropout=0.0,
    bidirectional=False)``; ``forward(input, h_0=None) -> (output, h_n)``.
    """ + _RNN_SHAPES_DOC

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1, bias: bool = True,
                 batch_first: bool = False, dropout: float = 0.0, bidirectional: bool = False, device: Any = None,
                 dtype: Any = None):
        super().__init__("GRU", input_size, hidden_size, num_layers, bias, batch_first, dropout, bidirectional,
                         device=device, dtype=dtype)

    def forward(self, input: Tensor, hx: Tensor | None = None) -> tuple[Tensor, Tensor]:
        output, (h_n,) = self._forward(input, [hx])
        return output, h_n
