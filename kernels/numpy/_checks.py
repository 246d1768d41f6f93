"""Argument validation shared by the numpy kernels.

Every public kernel validates its inputs up front so a mistake surfaces as a ``TypeError`` or
``ValueError`` naming the argument, the shapes and the dtypes, instead of a broadcasting error
deep inside numpy (or, worse, a silently wrong result).
"""

from __future__ import annotations

import numpy as np

from .._args import check_same_dtype  # noqa: F401  (re-exported for the kernel modules)

FLOAT_DTYPES = (np.dtype(np.float16), np.dtype(np.float32), np.dtype(np.float64))


def check_float_array(name: str, a: object, ndim: int | None = None) -> np.ndarray:
    """Require a numpy float16/32/64 array with ``ndim`` dimensions; return it unchanged."""
    if not isinstance(a, np.ndarray):
        raise TypeError(f"{name} must be a numpy.ndarray, got {type(a).__name__}")
    if a.dtype not in FLOAT_DTYPES:
        raise TypeError(f"{name} must have dtype float16, float32 or float64, got {a.dtype}")
    if ndim is not None and a.ndim != ndim:
        raise ValueError(f"{name} must be {ndim}-D, got shape {a.shape} ({a.ndim}-D)")
    return a


def compute_dtype(dtype: np.dtype) -> np.dtype:
    """float16 is computed in float32 (numpy has no fast half-precision matmul) and cast back."""
    return np.dtype(np.float32) if dtype == np.float16 else dtype
