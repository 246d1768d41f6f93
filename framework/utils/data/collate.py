"""Turning a list of samples into a batch: ``default_collate`` and ``default_convert`` (torch's rules).

``default_collate`` follows ``torch.utils.data.default_collate`` case by case:

=======================================  ===========================================================
sample element                           batch
=======================================  ===========================================================
Tensor                                   ``stack`` of the Tensors (same shapes, else RuntimeError)
numpy array (numeric)                    one Tensor with the array's dtype, stacked along a new dim 0
numpy scalar (``np.float32(1)``)         a 1-d Tensor with the scalar's dtype
Python float / int / bool                float64 / int64 / bool 1-d Tensor (``torch.tensor`` rules
                                         for a batch that mixes ints and floats: float32)
str / bytes                              the batch unchanged (a list of strings)
dict (any Mapping)                       the same mapping type, each key collated on its own
namedtuple                               the same namedtuple type, field by field
tuple                                    a *list*, position by position (torch's backwards-compat rule)
list (any Sequence)                      the same sequence type, position by position; every sample
                                         must have the same length (else RuntimeError)
=======================================  ===========================================================

Anything else (None, objects, string/object numpy arrays) raises torch's TypeError. The Tensors are
built on ``cpu`` (workers pickle them back to the main process; the DataLoader moves them on).
"""

from __future__ import annotations

import collections.abc
import copy
from typing import Any

import numpy as np

from ...tensor import Tensor, stack, tensor

__all__ = ["default_collate", "default_convert"]

_ERR_FORMAT = "default_collate: batch must contain tensors, numpy arrays, numbers, dicts or lists; found {}"


def _is_numpy_value(elem: Any) -> bool:
    """numpy arrays and numpy scalars, except numpy strings (those collate like str)."""
    return type(elem).__module__ == "numpy" and not isinstance(elem, str | bytes)


def _is_string_array(array: np.ndarray) -> bool:
    return array.dtype.kind in "SaUO"  # torch's np_str_obj_array_pattern on dtype.str


def _cpu_tensor(array: np.ndarray) -> Tensor:
    return tensor(array, device="cpu")


def _stack_shapes_checked(shapes: list[tuple[int, ...]]) -> None:
    for i, shape in enumerate(shapes):
        if shape != shapes[0]:
            raise RuntimeError(f"stack expects each tensor to be equal size, but got {list(shapes[0])} "
                               f"at entry 0 and {list(shape)} at entry {i}")


def default_collate(batch: Any) -> Any:
    """Collate a list of samples into a batch (see the module docstring for the rules).

    Raises:
        IndexError: an empty batch.
        RuntimeError: Tensors/arrays of different shapes, or sequences of different lengths.
        TypeError: an element of an unsupported type.
    """
    if len(batch) == 0:
        raise IndexError("default_collate: the batch is empty (a batch_sampler yielded no indices)")
    elem = batch[0]
    if isinstance(elem, Tensor):
        _stack_shapes_checked([t.shape for t in batch])
        return stack(list(batch), 0)
    if _is_numpy_value(elem):
        if isinstance(elem, np.ndarray):
            if _is_string_array(elem):
                raise TypeError(_ERR_FORMAT.format(elem.dtype))
            _stack_shapes_checked([np.shape(b) for b in batch])
            return _cpu_tensor(np.stack([np.asarray(b) for b in batch]))
        if isinstance(elem, np.bool_ | np.number):  # numpy scalar: torch.as_tensor(batch)
            return _cpu_tensor(np.asarray(batch))
        raise TypeError(_ERR_FORMAT.format(type(elem)))
    if isinstance(elem, float):
        return _cpu_tensor(np.asarray(batch, dtype=np.float64))
    if isinstance(elem, int):  # bool included; torch.tensor(batch) infers int64, bool or float32
        return tensor(list(batch), device="cpu")
    if isinstance(elem, str | bytes):
        return batch
    if isinstance(elem, collections.abc.Mapping):
        collated = {key: default_collate([d[key] for d in batch]) for key in elem}
        try:
            if isinstance(elem, collections.abc.MutableMapping):
                clone = copy.copy(elem)  # keeps the mapping's type and any extra attributes
                clone.update(collated)
                return clone
            return type(elem)(collated)
        except TypeError:
            return collated
    if isinstance(elem, tuple) and hasattr(elem, "_fields"):  # namedtuple
        return type(elem)(*(default_collate(samples) for samples in zip(*batch)))
    if isinstance(elem, collections.abc.Sequence):
        if any(len(sample) != len(elem) for sample in batch):
            raise RuntimeError("each element in list of batch should be of equal size")
        transposed = [default_collate(samples) for samples in zip(*batch)]  # tuples: strings stay tuples
        if isinstance(elem, tuple):
            return transposed  # torch turns tuples into lists
        return _like_sequence(elem, transposed)
    raise TypeError(_ERR_FORMAT.format(type(elem)))


def _like_sequence(template: Any, items: list) -> Any:
    """``items`` in a sequence of ``template``'s type (a mutable one copied and refilled, as torch does),
    or the plain list when that type cannot be built from a list."""
    try:
        if isinstance(template, collections.abc.MutableSequence):
            clone = copy.copy(template)
            for i, value in enumerate(items):
                clone[i] = value
            return clone
        return type(template)(items)
    except TypeError:
        return items


def default_convert(data: Any) -> Any:
    """Turn numpy arrays/scalars (at any depth of dicts, tuples, lists) into Tensors; leave the rest.

    The DataLoader's collate_fn when automatic batching is off (``batch_size=None``).
    """
    if isinstance(data, Tensor):
        return data
    if _is_numpy_value(data):
        if isinstance(data, np.ndarray) and _is_string_array(data):
            return data
        if isinstance(data, np.ndarray | np.bool_ | np.number):
            return _cpu_tensor(np.asarray(data))
        return data
    if isinstance(data, collections.abc.Mapping):
        converted = {key: default_convert(data[key]) for key in data}
        try:
            if isinstance(data, collections.abc.MutableMapping):
                clone = copy.copy(data)
                clone.update(converted)
                return clone
            return type(data)(converted)
        except TypeError:
            return converted
    if isinstance(data, tuple) and hasattr(data, "_fields"):
        return type(data)(*(default_convert(d) for d in data))
    if isinstance(data, tuple):
        return [default_convert(d) for d in data]
    if isinstance(data, collections.abc.Sequence) and not isinstance(data, str | bytes):
        return _like_sequence(data, [default_convert(d) for d in data])
    return data
