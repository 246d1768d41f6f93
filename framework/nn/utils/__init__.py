"""``framework.nn.utils``: PyTorch's ``torch.nn.utils`` helpers — packed variable-length sequences for the
recurrent layers (``rnn``), gradient clipping (``clip_grad``) and all parameters as one vector
(``convert_parameters``)."""

from . import rnn
from .clip_grad import clip_grad_norm_, clip_grad_value_
from .convert_parameters import parameters_to_vector, vector_to_parameters
from .rnn import PackedSequence, pack_padded_sequence, pack_sequence, pad_packed_sequence, pad_sequence

__all__ = ["PackedSequence", "clip_grad_norm_", "clip_grad_value_", "pack_padded_sequence", "pack_sequence",
           "pad_packed_sequence", "pad_sequence", "parameters_to_vector", "rnn", "vector_to_parameters"]

# PyTorch names deliberately missing here raise an AttributeError saying so (framework/unsupported.py).
from ...unsupported import module_getattr as _module_getattr  # noqa: E402

__getattr__ = _module_getattr(__name__)
