"""Dtypes: named like PyTorch's (``fw.float32``), stored as plain names so every backend maps them."""

from __future__ import annotations

from typing import Any

import numpy as np


class DType(str):
    """A dtype name (``"float32"``) that prints as ``kernelgrad.float32`` and compares equal to the name."""

    __slots__ = ()

    def __repr__(self) -> str:
        return f"kernelgrad.{str(self)}"

    @property
    def is_floating_point(self) -> bool:
        return self in FLOATING

    @property
    def itemsize(self) -> int:
        return 2 if self == "bfloat16" else np.dtype(str(self)).itemsize


float16 = DType("float16")
bfloat16 = DType("bfloat16")
float32 = DType("float32")
float64 = DType("float64")
int8 = DType("int8")
int16 = DType("int16")
int32 = DType("int32")
int64 = DType("int64")
uint8 = DType("uint8")
bool_ = DType("bool")

FLOATING = frozenset({"float16", "bfloat16", "float32", "float64"})
_ALL = {str(d): d for d in (float16, bfloat16, float32, float64, int8, int16, int32, int64, uint8, bool_)}


def as_dtype(value: Any) -> DType:
    """Normalise a dtype given as a name, a ``DType``, a numpy dtype, a torch dtype or a Python type."""
    if isinstance(value, DType):
        return value
    if value is float:
        return float64  # like torch: dtype=float means double
    if value is int:
        return int64
    if value is bool:
        return bool_
    name = str(value)
    name = name.removeprefix("torch.").removeprefix("kernelgrad.")
    if name not in _ALL:
        try:
            name = np.dtype(value).name
        except TypeError:
            pass
    if name not in _ALL:
        raise TypeError(f"dtype {value!r} is not supported; use one of {sorted(_ALL)}")
    return _ALL[name]
