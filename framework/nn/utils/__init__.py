"""``framework.nn.utils``: PyTorch's ``torch.nn.utils`` helpers — packed variable-length sequences for the
recurrent layers (``rnn``) and gradient clipping (``clip_grad``)."""

from . import rnn
from .clip_grad import clip_grad_norm_, clip_grad_value_
from .rnn import PackedSequence, pack_padded_sequence, pack_sequence, pad_packed_sequence, pad_sequence

__all__ = ["PackedSequence", "clip_grad_norm_", "clip_grad_value_", "pack_padded_sequence", "pack_sequence",
           "pad_packed_sequence", "pad_sequence", "rnn"]
