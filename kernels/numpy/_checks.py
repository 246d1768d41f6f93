"""Argument validation shared by the numpy kernels.

Every public kernel validates its inputs up front so a mistake surfaces as a ``TypeError`` or
``ValueError`` naming the argument, the shapes and the dtypes, instead of a broadcasting error
deep inside numpy (or, worse, a silently wrong result).
"""

from __future__ import annotations

import numpy as np

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


def check_same_dtype(**arrays: np.ndarray | None) -> np.dtype:
    """Require all non-None arrays to share one dtype; return it."""
    present = {k: v for k, v in arrays.items() if v is not None}
    dtypes = {v.dtype for v in present.values()}
    if len(dtypes) > 1:
        desc = ", ".join(f"{k}={v.dtype}" for k, v in present.items())
        raise TypeError(f"dtype mismatch: {desc} (all must share one dtype)")
    return next(iter(present.values())).dtype


def check_shape(name: str, a: np.ndarray, expected: tuple[int, ...]) -> None:
    if tuple(a.shape) != tuple(expected):
        raise ValueError(f"{name} has shape {tuple(a.shape)}, expected {tuple(expected)}")


def _is_int(v: object) -> bool:
    # plain type checks: numbers.Integral goes through the ABC machinery, ~1 us per call
    return isinstance(v, (int, np.integer)) and not isinstance(v, bool)


def check_pair(name: str, value: object, minimum: int) -> tuple[int, int]:
    """Normalise an int or an (h, w) pair of ints, each >= ``minimum``."""
    pair = (value, value) if _is_int(value) else value
    if not (isinstance(pair, (tuple, list)) and len(pair) == 2 and _is_int(pair[0]) and _is_int(pair[1])):
        raise TypeError(f"{name} must be an int or a pair of ints, got {value!r}")
    h, w = int(pair[0]), int(pair[1])
    if h < minimum or w < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value!r}")
    return h, w


def check_shape_tuple(name: str, shape: object, ndim: int) -> tuple[int, ...]:
    """Require a sequence of ``ndim`` positive ints (e.g. ``input_shape``)."""
    try:
        dims = tuple(shape)  # type: ignore[arg-type]
    except TypeError:
        raise TypeError(f"{name} must be a tuple of {ndim} ints, got {shape!r}") from None
    if len(dims) != ndim or not all(_is_int(d) and d > 0 for d in dims):
        raise ValueError(f"{name} must be a tuple of {ndim} positive ints, got {shape!r}")
    return tuple(int(d) for d in dims)


def out_size(name: str, size: int, pad: int, kernel: int, stride: int) -> int:
    """Output length along one axis; raise if the kernel does not fit in the padded input."""
    if size + 2 * pad < kernel:
        raise ValueError(
            f"{name}: kernel size {kernel} is larger than the padded input "
            f"({size} + 2*{pad} = {size + 2 * pad})"
        )
    return (size + 2 * pad - kernel) // stride + 1


def compute_dtype(dtype: np.dtype) -> np.dtype:
    """float16 is computed in float32 (numpy has no fast half-precision matmul) and cast back."""
    return np.dtype(np.float32) if dtype == np.float16 else dtype
