"""Backend-agnostic argument checks shared by every kernel package (numpy, triton, cupy).

They look only at Python values, shapes and ``.dtype``, so one implementation gives the same
``TypeError`` / ``ValueError`` messages on every backend.
"""

from __future__ import annotations

import numbers

import numpy as np


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


def check_seed(seed) -> int:
    """A Philox seed: an int in [0, 2**63)."""
    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral):
        raise TypeError(f"seed must be an int, got {type(seed).__name__}")
    if not 0 <= int(seed) < 2**63:
        raise ValueError(f"seed must be in [0, 2**63), got {seed}")
    return int(seed)


def check_dropout_args(p, seed, offset, numel: int) -> tuple[float, int, int]:
    """Validate dropout's ``p`` (0 <= p < 1), ``seed`` and ``offset`` (offset + numel <= 2**63)."""
    if isinstance(p, bool) or not isinstance(p, numbers.Real):
        raise TypeError(f"p must be a float, got {type(p).__name__}")
    if not 0.0 <= float(p) < 1.0:
        raise ValueError(f"dropout probability p must satisfy 0 <= p < 1, got p={p}")
    seed = check_seed(seed)
    if isinstance(offset, bool) or not isinstance(offset, numbers.Integral):
        raise TypeError(f"offset must be an int, got {type(offset).__name__}")
    offset = int(offset)
    if offset < 0 or offset + numel > 2**63:
        raise ValueError(f"offset must satisfy 0 <= offset and offset + numel <= 2**63, got {offset}")
    return float(p), seed, offset


def check_pool_geometry(name: str, H: int, W: int, kernel, stride, padding):
    """Max-pool window geometry: ``(R, S, sh, sw, ph, pw, P, Q)``; padding at most half the kernel."""
    R, S = check_pair("kernel", kernel, 1)
    sh, sw = check_pair("stride", stride, 1)
    ph, pw = check_pair("padding", padding, 0)
    if ph > R // 2 or pw > S // 2:
        raise ValueError(f"padding {(ph, pw)} must be at most half the kernel {(R, S)} (PyTorch's rule)")
    P = out_size(name, H, ph, R, sh)
    Q = out_size(name, W, pw, S, sw)
    return R, S, sh, sw, ph, pw, P, Q
