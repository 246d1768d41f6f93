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


def is_int(value: Any) -> bool:
    """A Python or numpy integer, not a bool (PyTorch refuses ``True`` where it wants a size or a count).

    The framework's one integer test (kernels/_args.py keeps its own: kernels never import framework)."""
    return isinstance(value, int | np.integer) and not isinstance(value, bool)


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


# ------------------------------------------------------------------------------------ type promotion
#
# PyTorch's rules (torch.result_type), which differ from numpy's in two ways that matter for training:
# an int tensor with a float operand takes the *float's* dtype (int64 + float16 -> float16, numpy says
# float64), and Python numbers and 0-d tensors never widen a dimensioned tensor of the same category
# (float32 tensor - 0.1 -> float32, float32 tensor + 0-d float64 tensor -> float32).

#: Python floats (and ints divided with ``/``) become this dtype, as torch.get_default_dtype().
DEFAULT_FLOAT = float32

_CATEGORY = {"bool": 0, "uint8": 1, "int8": 1, "int16": 1, "int32": 1, "int64": 1,
             "float16": 2, "bfloat16": 2, "float32": 2, "float64": 2}


def promote_types(a: Any, b: Any) -> DType:
    """The smallest dtype both ``a`` and ``b`` convert to, as ``torch.promote_types``."""
    a, b = as_dtype(a), as_dtype(b)
    if a == b:
        return a
    ca, cb = _CATEGORY[a], _CATEGORY[b]
    if ca != cb:
        return a if ca > cb else b  # bool < integers < floats; the higher category's own dtype wins
    if {a, b} == {"float16", "bfloat16"}:
        return float32  # neither holds the other's range and precision
    if ca == 2:
        return a if a.itemsize > b.itemsize else b
    return _ALL[np.promote_types(str(a), str(b)).name]  # integers: uint8 + int8 -> int16, as numpy


def scalar_dtype(value: Any) -> DType:
    """The dtype a Python number takes on its own: bool, int64 or the default float dtype."""
    if isinstance(value, bool):
        return bool_
    if isinstance(value, int):
        return int64
    return DEFAULT_FLOAT


def result_type(*operands: Any) -> DType:
    """The dtype of a binary/elementwise op's result, as ``torch.result_type``.

    Operands are tensors (anything with ``dtype`` and ``ndim``) and Python numbers. Three tiers are
    promoted separately — dimensioned tensors, 0-d tensors, Python numbers — and a lower tier only counts
    when it is of a higher category (bool < integer < floating) than every tier above it; then its
    dtype is promoted with theirs (a Python float counts as the default float dtype).
    """
    tiers: list[DType | None] = [None, None, None]
    for x in operands:
        if x is None:
            continue
        if isinstance(x, bool | int | float):
            tier, dtype = 2, scalar_dtype(x)
        else:
            tier, dtype = (0 if x.ndim else 1), as_dtype(x.dtype)
        tiers[tier] = dtype if tiers[tier] is None else promote_types(tiers[tier], dtype)
    result = None
    for dtype in tiers:
        if dtype is None:
            continue
        if result is None:
            result = dtype
        elif _CATEGORY[dtype] > _CATEGORY[result]:
            # A float below an int (or an int below a bool) still decides the category; its width only
            # counts when it is a tensor (int tensor + 0-d float64 -> float64, + 2.5 -> float32).
            result = promote_types(result, dtype)
    if result is None:
        raise TypeError("result_type() needs at least one tensor or number")
    return result


def get_default_dtype() -> DType:
    """The dtype of floating-point tensors made without one (``fw.tensor([1.0])``, ``fw.zeros``): float32."""
    return float32
