"""Variable-length sequences for the recurrent layers, PyTorch's ``torch.nn.utils.rnn``.

A batch of sequences of different lengths is either *padded* — one ``[T, B, *]`` tensor (``[B, T, *]`` with
``batch_first``) plus the lengths — or *packed*: a :class:`PackedSequence` whose ``data [sum(lengths), *]``
holds, time step after time step, the elements of the sequences still running at that step, longest
sequence first; ``batch_sizes[t]`` says how many there are. ``nn.RNN`` / ``nn.LSTM`` / ``nn.GRU`` take a
packed input, run each sequence exactly for its own length (padding never enters a state), and return a
packed output and the states each sequence had at its own last step.

Packing, unpacking and padding are single gathers (fancy indexing) and concatenations, so gradients flow
back to the padded input like through any other op, on every device.

Differences from PyTorch: ``batch_sizes``, ``sorted_indices`` and ``unsorted_indices`` are int64 tensors on
the ``cpu`` device whatever the data's device (PyTorch keeps the two index tensors on the data's device);
``lengths`` returned by :func:`pad_packed_sequence` are int64 on ``cpu``, as in PyTorch.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np

from ...tensor import Tensor, cat, full, stack, tensor, type_name

__all__ = ["PackedSequence", "pack_padded_sequence", "pad_packed_sequence", "pad_sequence", "pack_sequence",
           "unpad_sequence", "unpack_sequence"]


class PackedSequence(NamedTuple):
    """A packed batch of variable-length sequences (see the module docstring).

    Fields:
        data: ``[sum(lengths), *]``, step-major: the ``batch_sizes[0]`` first elements of every sequence, then
            the second elements of the ``batch_sizes[1]`` sequences that have one, and so on.
        batch_sizes: int64 ``[T]`` (``cpu``), non-increasing, ``batch_sizes[0] == B``.
        sorted_indices: int64 ``[B]`` or None: sorted position ``i`` holds original sequence
            ``sorted_indices[i]`` (None when the input was already sorted by decreasing length).
        unsorted_indices: the inverse permutation, or None.
    """

    data: Tensor
    batch_sizes: Tensor
    sorted_indices: Tensor | None = None
    unsorted_indices: Tensor | None = None

    def to(self, *args: Any, **kwargs: Any) -> PackedSequence:
        """The same sequence with ``data`` moved / cast by ``Tensor.to`` (the index tensors stay on ``cpu``)."""
        return self._replace(data=self.data.to(*args, **kwargs))

    @property
    def is_cuda(self) -> bool:
        return self.data.device not in ("cpu",)


# ----------------------------------------------------------------------------------------- helpers


def _lengths_array(lengths: Any, batch: int, owner: str) -> np.ndarray:
    """``lengths`` (list, numpy array or Tensor) as a host int64 array of ``batch`` positive entries."""
    values = lengths.numpy() if isinstance(lengths, Tensor) else np.asarray(lengths)
    if values.ndim != 1 or values.shape[0] != batch:
        raise ValueError(f"{owner}: lengths must be 1-D with one entry per sequence ({batch}), "
                         f"got shape {values.shape}")
    if values.size and not np.issubdtype(values.dtype, np.integer):
        if not np.all(values == np.round(values)):
            raise TypeError(f"{owner}: lengths must be integers, got {values.dtype} values {values.tolist()}")
    values = values.astype(np.int64)
    if values.size and values.min() <= 0:
        raise ValueError(f"{owner}: every length must be > 0, got {values.tolist()}")
    return values


def _sort_order(lengths: np.ndarray, enforce_sorted: bool, owner: str) -> np.ndarray | None:
    """The permutation sorting ``lengths`` in decreasing order (stable), or None when it is the identity."""
    if enforce_sorted:
        if np.any(np.diff(lengths) > 0):
            raise ValueError(f"{owner}: lengths must be sorted in decreasing order when enforce_sorted=True, got "
                             f"{lengths.tolist()}; pass enforce_sorted=False to have them sorted for you")
        return None
    order = np.argsort(-lengths, kind="stable")
    return None if np.array_equal(order, np.arange(len(order))) else order


def _batch_sizes(sorted_lengths: np.ndarray) -> np.ndarray:
    """``batch_sizes[t]`` = how many of the (decreasing) lengths exceed ``t``."""
    steps = np.arange(int(sorted_lengths[0]))
    return (sorted_lengths[None, :] > steps[:, None]).sum(axis=1).astype(np.int64)


def _index_tensor(values: np.ndarray | None) -> Tensor | None:
    return None if values is None else tensor(values.astype(np.int64), dtype="int64", device="cpu")


def _host_indices(packed: PackedSequence, batch: int) -> tuple[np.ndarray, np.ndarray]:
    """(sorted_indices, unsorted_indices) as host arrays; identities when the sequence carries None."""
    if packed.sorted_indices is None:
        identity = np.arange(batch)
        return identity, identity
    return packed.sorted_indices.numpy().astype(np.int64), packed.unsorted_indices.numpy().astype(np.int64)


def _check_packed(sequence: Any, owner: str) -> tuple[Tensor, np.ndarray]:
    if not isinstance(sequence, PackedSequence):
        raise TypeError(f"{owner}: expected a PackedSequence, got {type(sequence).__name__}")
    if not isinstance(sequence.data, Tensor):
        raise TypeError(f"{owner}: PackedSequence.data must be a Tensor, got {type_name(sequence.data)}")
    batch_sizes = sequence.batch_sizes.numpy() if isinstance(sequence.batch_sizes, Tensor) \
        else np.asarray(sequence.batch_sizes)
    batch_sizes = batch_sizes.astype(np.int64)
    if batch_sizes.ndim != 1 or batch_sizes.size == 0 or batch_sizes.min() <= 0 or np.any(np.diff(batch_sizes) > 0) \
            or int(batch_sizes.sum()) != sequence.data.shape[0]:
        raise ValueError(f"{owner}: batch_sizes must be positive, non-increasing and sum to data.shape[0]="
                         f"{sequence.data.shape[0]}, got {batch_sizes.tolist()}")
    return sequence.data, batch_sizes


def _check_sequence_tensor(input: Any, name: str, owner: str, min_ndim: int) -> None:
    if not isinstance(input, Tensor):
        raise TypeError(f"{owner}: {name} must be a Tensor, got {type_name(input)}")
    if input.ndim < min_ndim:
        raise ValueError(f"{owner}: {name} must have at least {min_ndim} dimensions, got shape {input.shape}")


# ------------------------------------------------------------------------------------------ public


def pack_padded_sequence(input: Tensor, lengths: Any, batch_first: bool = False,
                         enforce_sorted: bool = True) -> PackedSequence:
    """Pack a padded batch ``[T, B, *]`` (``[B, T, *]`` if batch_first) of sequences of the given lengths.

    Args:
        input: the padded batch; steps at or past a sequence's length are ignored.
        lengths: B positive ints (list, array or Tensor), each ≤ T.
        batch_first: the layout of ``input``.
        enforce_sorted: the lengths must already decrease; with False they are sorted here and the
            permutation is kept in ``sorted_indices`` / ``unsorted_indices``.
    Returns: a :class:`PackedSequence`; gradients flow back to ``input``.
    Raises: ValueError for lengths of the wrong count, non-positive, longer than T or (enforce_sorted)
        unsorted; TypeError for a non-Tensor input or non-integer lengths.
    """
    owner = "pack_padded_sequence"
    _check_sequence_tensor(input, "input", owner, 2)
    if batch_first:
        input = input.transpose(0, 1)
    T, B = input.shape[0], input.shape[1]
    lengths = _lengths_array(lengths, B, owner)
    if B == 0:
        raise ValueError(f"{owner}: the batch is empty (input shape {input.shape})")
    if lengths.max() > T:
        raise ValueError(f"{owner}: a length ({int(lengths.max())}) exceeds the padded length T={T} "
                         f"(input shape {input.shape}, batch_first={batch_first})")
    order = _sort_order(lengths, enforce_sorted, owner)
    sorted_ids = np.arange(B) if order is None else order
    batch_sizes = _batch_sizes(lengths[sorted_ids])
    # Flat row of (t, sequence) in [T*B, *]: one gather builds the packed data, already sorted.
    rows = np.concatenate([t * B + sorted_ids[:n] for t, n in enumerate(batch_sizes)])
    data = input.reshape((T * B,) + tuple(input.shape[2:]))[rows]
    unsorted = None if order is None else np.argsort(order)
    return PackedSequence(data, _index_tensor(batch_sizes), _index_tensor(order), _index_tensor(unsorted))


def pad_packed_sequence(sequence: PackedSequence, batch_first: bool = False, padding_value: float = 0.0,
                        total_length: int | None = None) -> tuple[Tensor, Tensor]:
    """Undo :func:`pack_padded_sequence`: ``(padded [T, B, *] or [B, T, *], lengths int64 [B])``.

    Sequences come back in their original order. ``total_length`` pads to that many steps instead of the
    longest length (useful to get back the shape you packed). Gradients flow back to ``sequence.data``.
    Raises: TypeError for a non-PackedSequence; ValueError for malformed batch_sizes or a total_length
        shorter than the longest sequence.
    """
    owner = "pad_packed_sequence"
    data, batch_sizes = _check_packed(sequence, owner)
    T, B = len(batch_sizes), int(batch_sizes[0])
    if total_length is not None:
        if isinstance(total_length, bool) or not isinstance(total_length, int | np.integer) or total_length < T:
            raise ValueError(f"{owner}: total_length must be an int >= the longest sequence ({T}), "
                             f"got {total_length!r}")
        T_out = int(total_length)
    else:
        T_out = T
    sorted_ids, unsorted_ids = _host_indices(sequence, B)
    sorted_lengths = (batch_sizes[None, :] > np.arange(B)[:, None]).sum(axis=1)
    # Row r of data belongs to step t and sorted position i; padded slot (t, original b) reads it, every
    # other slot reads one extra row holding padding_value.
    N = data.shape[0]
    source = np.full((T_out, B), N, dtype=np.int64)
    offsets = np.concatenate([[0], np.cumsum(batch_sizes)[:-1]])
    for t, (start, n) in enumerate(zip(offsets, batch_sizes)):
        source[t, sorted_ids[:n]] = start + np.arange(n)
    tail = tuple(data.shape[1:])
    pad_row = full((1,) + tail, padding_value, dtype=data.dtype, device=data.backend)
    padded = cat([data, pad_row], 0)[source.reshape(-1)].reshape((T_out, B) + tail)
    if batch_first:
        padded = padded.transpose(0, 1)
    return padded, _index_tensor(sorted_lengths[unsorted_ids])


def pad_sequence(sequences: Any, batch_first: bool = False, padding_value: float = 0.0,
                 padding_side: str = "right") -> Tensor:
    """Stack tensors ``[L_i, *]`` into ``[T, B, *]`` (``[B, T, *]`` if batch_first), ``T = max L_i``, filling
    with ``padding_value`` on the ``padding_side`` (``'right'`` or ``'left'``).

    Raises: ValueError for an empty list, an unknown padding_side, or trailing shapes / dtypes / devices
        that differ between the sequences; TypeError for a non-Tensor element.
    """
    owner = "pad_sequence"
    sequences = list(sequences)  # a list of tensors, or a Tensor: its rows
    if not sequences:
        raise ValueError(f"{owner}: sequences is empty")
    if padding_side not in ("right", "left"):
        raise ValueError(f"{owner}: padding_side must be 'right' or 'left', got {padding_side!r}")
    for i, s in enumerate(sequences):
        _check_sequence_tensor(s, f"sequences[{i}]", owner, 1)
    first = sequences[0]
    tail = tuple(first.shape[1:])
    for i, s in enumerate(sequences):
        if tuple(s.shape[1:]) != tail or s.dtype != first.dtype or s.backend is not first.backend:
            raise ValueError(f"{owner}: every sequence must share trailing shape, dtype and device with "
                             f"sequences[0] ({tail}, {first.dtype}, {first.device}); sequences[{i}] has "
                             f"{tuple(s.shape[1:])}, {s.dtype}, {s.device}")
    T = max(s.shape[0] for s in sequences)
    padded = []
    for s in sequences:
        missing = T - s.shape[0]
        if missing:
            pad = full((missing,) + tail, padding_value, dtype=s.dtype, device=s.backend)
            s = cat([s, pad] if padding_side == "right" else [pad, s], 0)
        padded.append(s)
    return stack(padded, 0 if batch_first else 1)


def pack_sequence(sequences: Any, enforce_sorted: bool = True) -> PackedSequence:
    """Pack a list of tensors ``[L_i, *]`` (longest first unless ``enforce_sorted=False``); see
    :func:`pack_padded_sequence`."""
    sequences = list(sequences)
    lengths = [s.shape[0] if isinstance(s, Tensor) else 0 for s in sequences]
    return pack_padded_sequence(pad_sequence(sequences), lengths, enforce_sorted=enforce_sorted)


def unpad_sequence(padded_sequences: Tensor, lengths: Any, batch_first: bool = False) -> list[Tensor]:
    """Split a padded batch back into its B tensors ``[L_i, *]``."""
    owner = "unpad_sequence"
    _check_sequence_tensor(padded_sequences, "padded_sequences", owner, 2)
    if not batch_first:
        padded_sequences = padded_sequences.transpose(0, 1)
    B, T = padded_sequences.shape[0], padded_sequences.shape[1]
    lengths = _lengths_array(lengths, B, owner)
    if lengths.size and lengths.max() > T:
        raise ValueError(f"{owner}: a length ({int(lengths.max())}) exceeds the padded length T={T}")
    return [padded_sequences[b, :int(n)] for b, n in enumerate(lengths)]


def unpack_sequence(packed_sequences: PackedSequence) -> list[Tensor]:
    """The B tensors ``[L_i, *]`` of a :class:`PackedSequence`, in their original order."""
    padded, lengths = pad_packed_sequence(packed_sequences, batch_first=True)
    return unpad_sequence(padded, lengths, batch_first=True)


# ------------------------------------------------------------------------ used by the recurrent layers


def packed_parts(sequence: PackedSequence, owner: str) -> tuple[Tensor, list[int], np.ndarray, np.ndarray]:
    """``(data, batch_sizes, sorted_indices, unsorted_indices)`` of a validated packed input, as host ints and
    arrays, for :class:`~framework.nn.rnn.RNNBase`."""
    data, batch_sizes = _check_packed(sequence, owner)
    sorted_ids, unsorted_ids = _host_indices(sequence, int(batch_sizes[0]))
    return data, [int(n) for n in batch_sizes], sorted_ids, unsorted_ids
