"""Recurrent models: a sequence classifier and a sequence regressor on top of ``nn.RNN`` / ``nn.LSTM`` /
``nn.GRU``, both reading ``[B, T, features]`` (batch first) and using the last layer's final hidden state."""

from __future__ import annotations

from .. import nn
from ..tensor import Tensor, cat

__all__ = ["SequenceClassifier", "SequenceRegressor", "RECURRENT_CELLS"]

#: ``cell`` names accepted by the models, and the layer each builds.
RECURRENT_CELLS = {"rnn": nn.RNN, "lstm": nn.LSTM, "gru": nn.GRU}


class _RecurrentEncoder(nn.Module):
    """``rnn`` (batch first) followed by ``head`` applied to the last layer's final hidden state(s)."""

    def __init__(self, input_size: int, out_features: int, hidden_size: int, num_layers: int, cell: str,
                 bidirectional: bool, dropout: float):
        super().__init__()
        if cell not in RECURRENT_CELLS:
            raise ValueError(f"{type(self).__name__}: cell must be one of {sorted(RECURRENT_CELLS)}, got {cell!r}")
        self.cell = cell
        self.rnn = RECURRENT_CELLS[cell](input_size, hidden_size, num_layers=num_layers, batch_first=True,
                                         dropout=dropout if num_layers > 1 else 0.0, bidirectional=bidirectional)
        self.head = nn.Linear(hidden_size * (2 if bidirectional else 1), out_features)

    def features(self, input: Tensor) -> Tensor:
        """The last layer's final hidden state ``[B, D*H]`` (forward direction, then the reverse one, which has
        read the whole sequence backwards)."""
        if input.ndim != 3:
            raise ValueError(f"{type(self).__name__}: expected input [batch, seq, features], got shape "
                             f"{tuple(input.shape)}")
        _, state = self.rnn(input)
        h_n = state[0] if self.cell == "lstm" else state
        if self.rnn.bidirectional:
            return cat([h_n[-2], h_n[-1]], dim=1)
        return h_n[-1]

    def forward(self, input: Tensor) -> Tensor:
        return self.head(self.features(input))


class SequenceClassifier(_RecurrentEncoder):
    """Classify a sequence from the final hidden state of a recurrent network.

    ``[B, T, input_size] → RNN/LSTM/GRU (num_layers, optionally bidirectional) → final h of the last layer
    [B, D*H] → Linear → logits [B, num_classes]``.

    Args:
        input_size: features per time step. num_classes: number of logits.
        hidden_size, num_layers: of the recurrent layer. cell: ``'rnn'``, ``'lstm'`` or ``'gru'``.
        bidirectional: also read the sequence backwards (features double).
        dropout: between recurrent layers (only with ``num_layers > 1``).
    Raises: ValueError for an unknown cell or invalid sizes; in forward, for input that is not 3-D.
    """

    def __init__(self, input_size: int = 8, num_classes: int = 10, hidden_size: int = 64, num_layers: int = 1,
                 cell: str = "lstm", bidirectional: bool = False, dropout: float = 0.0):
        super().__init__(input_size, num_classes, hidden_size, num_layers, cell, bidirectional, dropout)


class SequenceRegressor(_RecurrentEncoder):
    """Predict ``out_features`` real values (e.g. the next value of a series) from a window of past values.

    ``[B, T, input_size] → RNN/LSTM/GRU → final h of the last layer → Linear → [B, out_features]``.

    Args: as :class:`SequenceClassifier`, with ``out_features`` instead of ``num_classes``.
    Raises: ValueError for an unknown cell or invalid sizes; in forward, for input that is not 3-D.
    """

    def __init__(self, input_size: int = 1, out_features: int = 1, hidden_size: int = 32, num_layers: int = 1,
                 cell: str = "lstm", bidirectional: bool = False, dropout: float = 0.0):
        super().__init__(input_size, out_features, hidden_size, num_layers, cell, bidirectional, dropout)
