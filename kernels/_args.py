"""Backend-agnostic argument checks shared by every kernel package (numpy, triton, cupy).

They look only at Python values, shapes and ``.dtype``, so one implementation gives the same
``TypeError`` / ``ValueError`` messages on every backend.
"""

from __future__ import annotations

import numbers
import os
from typing import NamedTuple

import numpy as np

#: Environment switch for the value checks that need the host to read device memory (target class
#: indices, argmax ranges).  See :func:`value_checks_enabled`.
SYNC_CHECKS_ENV = "KERNELGRAD_SYNC_CHECKS"


def value_checks_enabled(on_host: bool) -> bool:
    """Whether a launcher may read array *values* on the host to validate them.

    Shapes, dtypes and Python arguments are always checked.  Checking values (is every target a class
    index? is every argmax inside its window?) costs nothing when the array already lives on the host
    (numpy, the Triton interpreter, the CUDA emulator), but on a GPU it is a device-to-host copy that
    stalls the stream in the middle of a forward or backward.  So on a GPU these checks run only in
    debug mode, ``KERNELGRAD_SYNC_CHECKS=1``; without it the kernels stay memory-safe on bad values and
    make the bad rows visible (a NaN loss and NaN gradient row for a bad target; a dropped gradient
    for a corrupt argmax) instead of raising.  ``KERNELGRAD_SYNC_CHECKS=0`` turns the host checks off
    everywhere, which is how the tests exercise the GPU behaviour on the CPU.
    """
    setting = os.environ.get(SYNC_CHECKS_ENV, "")
    if setting == "0":
        return False
    return on_host or setting not in ("",)


def check_same_dtype(**arrays: np.ndarray | None) -> np.dtype:
    """Require all non-None arrays to share one dtype; return it."""
    present = {k: v for k, v in arrays.items() if v is not None}
    dtypes = {v.dtype for v in present.values()}
    if len(dtypes) > 1:
        desc = ", ".join(f"{k}={v.dtype}" for k, v in present.items())
        raise TypeError(f"dtype mismatch: {desc} (all must share one dtype)")
    return next(iter(present.values())).dtype


def check_dims(name: str, shape: tuple[int, ...], expected: tuple[int, ...]) -> None:
    """Require ``shape`` (an array's ``.shape``) to equal ``expected``."""
    if tuple(shape) != tuple(expected):
        raise ValueError(f"{name} has shape {tuple(shape)}, expected {tuple(expected)}")


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


class DropoutArgs(NamedTuple):
    """``dropout``'s checked arguments; ``row_len`` and ``row_stride`` are both None for the flat mapping."""

    p: float
    seed: int
    offset: int
    row_len: int | None
    row_stride: int | None


def _check_count(name: str, value) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an int, got {type(value).__name__}")
    return int(value)


def check_dropout_args(p, seed, offset, numel: int, row_len=None, row_stride=None) -> DropoutArgs:
    """Validate dropout's ``p`` (0 <= p < 1), ``seed``, ``offset`` and the optional row mapping.

    Flat mapping (``row_len`` and ``row_stride`` None): element i draws counter offset + i, so
    offset + numel <= 2**63.  Row mapping: element i draws offset + (i // row_len) * row_stride + i % row_len;
    both given together, ints with 1 <= row_len <= row_stride, numel a multiple of row_len, and the largest
    counter offset + (numel // row_len - 1) * row_stride + row_len - 1 below 2**63.  ``row_stride ==
    row_len`` is the flat mapping itself and comes back as None, None, so the launchers run the flat kernel.
    """
    if isinstance(p, bool) or not isinstance(p, numbers.Real):
        raise TypeError(f"p must be a float, got {type(p).__name__}")
    if not 0.0 <= float(p) < 1.0:
        raise ValueError(f"dropout probability p must satisfy 0 <= p < 1, got p={p}")
    seed = check_seed(seed)
    offset = _check_count("offset", offset)
    if row_len is None and row_stride is None:
        if offset < 0 or offset + numel > 2**63:
            raise ValueError(f"offset must satisfy 0 <= offset and offset + numel <= 2**63, got {offset}")
        return DropoutArgs(float(p), seed, offset, None, None)
    if row_stride is None:
        raise ValueError(f"row_stride is required when row_len is given (got row_len={row_len!r}, row_stride=None)")
    if row_len is None:
        raise ValueError(f"row_len is required when row_stride is given (got row_len=None, row_stride={row_stride!r})")
    row_len, row_stride = _check_count("row_len", row_len), _check_count("row_stride", row_stride)
    if row_len < 1:
        raise ValueError(f"row_len must be >= 1, got {row_len}")
    if row_stride < row_len:
        raise ValueError(f"row_stride must be >= row_len (rows may not overlap), got row_stride={row_stride}, "
                         f"row_len={row_len}")
    if numel % row_len:
        raise ValueError(f"row_len must divide the number of elements, got row_len={row_len} for numel={numel}")
    if offset < 0:
        raise ValueError(f"offset must be >= 0, got {offset}")
    if numel:
        last = offset + (numel // row_len - 1) * row_stride + row_len - 1
        if last >= 2**63:
            raise ValueError(
                f"offset, row_len and row_stride reach counter offset + (numel // row_len - 1) * row_stride + "
                f"row_len - 1 = {last}, which must be < 2**63 (offset={offset}, row_len={row_len}, "
                f"row_stride={row_stride}, numel={numel})"
            )
    if row_stride == row_len:
        return DropoutArgs(float(p), seed, offset, None, None)
    return DropoutArgs(float(p), seed, offset, row_len, row_stride)


# ------------------------------------------------------------------------------------ per-kernel contracts
# One function per public kernel: the checks that need only shapes and Python values.  Each backend first
# checks its own array types, dtypes, ndim and layout, then calls the function named after its kernel,
# which returns the family's sizes as a named tuple (fields named as in the kernel headers' math).


class LinearShape(NamedTuple):
    """``linear_relu``: x[M, K] @ w[N, K].T -> y[M, N]."""

    M: int
    N: int
    K: int


class ConvGeometry(NamedTuple):
    """``conv2d``: x[N, C, H, W] * w[K, C, R, S] -> y[N, K, P, Q] with stride (sh, sw), padding (ph, pw).

    The fields are in the order the CUDA C and Triton conv2d kernels take them.
    """

    N: int
    C: int
    H: int
    W: int
    K: int
    R: int
    S: int
    P: int
    Q: int
    sh: int
    sw: int
    ph: int
    pw: int


class PoolGeometry(NamedTuple):
    """``maxpool2d``: x[N, C, H, W] -> y[N, C, P, Q], windows R x S, stride (sh, sw), padding (ph, pw)."""

    N: int
    C: int
    H: int
    W: int
    R: int
    S: int
    P: int
    Q: int
    sh: int
    sw: int
    ph: int
    pw: int


class XentShape(NamedTuple):
    """``softmax_xent``: logits[M, V] (M rows, V classes), target[M]."""

    M: int
    V: int


def linear_forward_shapes(x_shape, w_shape, b_shape) -> LinearShape:
    """``linear_forward``: ``(M, N, K)`` for x[M, K], w[N, K] and b[N] (``b_shape`` None without a bias)."""
    M, N, K = _linear_mnk(x_shape, w_shape)
    if b_shape is not None:
        check_dims("b", b_shape, (N,))
    return LinearShape(M, N, K)


def check_relu_output(y, relu) -> None:
    """``linear_backward``: the ReLU mask comes from the forward output, so y is required when ``relu``."""
    if relu and y is None:
        raise ValueError("y (the forward output) is required when relu=True")


def linear_backward_shapes(dy_shape, x_shape, w_shape, y_shape) -> LinearShape:
    """``linear_backward``: ``(M, N, K)``; dy and y (``y_shape`` None without relu) must be [M, N]."""
    M, N, K = _linear_mnk(x_shape, w_shape)
    check_dims("dy", dy_shape, (M, N))
    if y_shape is not None:
        check_dims("y", y_shape, (M, N))
    return LinearShape(M, N, K)


def _linear_mnk(x_shape, w_shape) -> LinearShape:
    M, K = x_shape
    N, Kw = w_shape
    if Kw != K:
        raise ValueError(
            f"feature mismatch: x has K={K} (shape {tuple(x_shape)}), w has K={Kw} (shape {tuple(w_shape)})"
        )
    return LinearShape(M, N, K)


def conv2d_forward_geometry(x_shape, w_shape, b_shape, stride, padding) -> ConvGeometry:
    """``conv2d_forward``: the :class:`ConvGeometry` of x[N, C, H, W], w[K, C, R, S], stride and padding.

    Checks stride (ints >= 1) and padding (ints >= 0), that x and w agree on C, that b (``b_shape``
    None without a bias) is [K], and that the kernel fits in the padded input.
    """
    (sh, sw), (ph, pw) = _conv_stride_padding(stride, padding)
    N, C, H, W = x_shape
    K, Cw, R, S = w_shape
    if Cw != C:
        raise ValueError(
            f"channel mismatch: x has C={C} (shape {tuple(x_shape)}), w has C={Cw} (shape {tuple(w_shape)})"
        )
    if b_shape is not None:
        check_dims("b", b_shape, (K,))
    P = out_size("conv2d_forward", H, ph, R, sh)
    Q = out_size("conv2d_forward", W, pw, S, sw)
    return ConvGeometry(N, C, H, W, K, R, S, P, Q, sh, sw, ph, pw)


def conv2d_backward_input_geometry(dy_shape, w_shape, input_shape, stride, padding) -> ConvGeometry:
    """``conv2d_backward_input``: the forward geometry (as :func:`conv2d_forward_geometry`) from ``input_shape``.

    Also checks input_shape (4 positive ints), its C against w's, and that dy is [N, K, P, Q].
    """
    N, C, H, W = check_shape_tuple("input_shape", input_shape, 4)
    (sh, sw), (ph, pw) = _conv_stride_padding(stride, padding)
    K, Cw, R, S = w_shape
    if Cw != C:
        raise ValueError(f"channel mismatch: input_shape has C={C} but w has C={Cw} (shape {tuple(w_shape)})")
    P = out_size("conv2d_backward_input", H, ph, R, sh)
    Q = out_size("conv2d_backward_input", W, pw, S, sw)
    check_dims("dy", dy_shape, (N, K, P, Q))
    return ConvGeometry(N, C, H, W, K, R, S, P, Q, sh, sw, ph, pw)


def conv2d_backward_weight_geometry(dy_shape, x_shape, weight_shape, stride, padding) -> ConvGeometry:
    """``conv2d_backward_weight``: the forward geometry (as :func:`conv2d_forward_geometry`) from ``weight_shape``.

    Also checks weight_shape (4 positive ints), its C against x's, and that dy is [N, K, P, Q].
    """
    K, C, R, S = check_shape_tuple("weight_shape", weight_shape, 4)
    (sh, sw), (ph, pw) = _conv_stride_padding(stride, padding)
    N, Cx, H, W = x_shape
    if Cx != C:
        raise ValueError(f"channel mismatch: x has C={Cx} (shape {tuple(x_shape)}) but weight_shape has C={C}")
    P = out_size("conv2d_backward_weight", H, ph, R, sh)
    Q = out_size("conv2d_backward_weight", W, pw, S, sw)
    check_dims("dy", dy_shape, (N, K, P, Q))
    return ConvGeometry(N, C, H, W, K, R, S, P, Q, sh, sw, ph, pw)


def _conv_stride_padding(stride, padding) -> tuple[tuple[int, int], tuple[int, int]]:
    return check_pair("stride", stride, 1), check_pair("padding", padding, 0)


def maxpool2d_forward_geometry(x_shape, kernel, stride, padding) -> PoolGeometry:
    """``maxpool2d_forward``: the :class:`PoolGeometry` of x[N, C, H, W] and the window arguments.

    Checks kernel (ints >= 1), stride (ints >= 1), padding (ints >= 0, at most half the kernel: PyTorch's
    rule) and that the window fits in the padded input.
    """
    return _pool_geometry("maxpool2d_forward", *x_shape, kernel, stride, padding)


def maxpool2d_backward_geometry(dy_shape, argmax_shape, input_shape, kernel, stride, padding) -> PoolGeometry:
    """``maxpool2d_backward``: the :class:`PoolGeometry` (as :func:`maxpool2d_forward_geometry`) from ``input_shape``.

    Also checks input_shape (4 positive ints) and that dy and argmax are both [N, C, P, Q].  The range of
    argmax's values is the backend's to check.
    """
    g = _pool_geometry("maxpool2d_backward", *check_shape_tuple("input_shape", input_shape, 4), kernel, stride, padding)
    check_dims("dy", dy_shape, (g.N, g.C, g.P, g.Q))
    check_dims("argmax", argmax_shape, (g.N, g.C, g.P, g.Q))
    return g


def _pool_geometry(name: str, N: int, C: int, H: int, W: int, kernel, stride, padding) -> PoolGeometry:
    """Check the max-pool window (padding at most half the kernel) and give the :class:`PoolGeometry`."""
    R, S = check_pair("kernel", kernel, 1)
    sh, sw = check_pair("stride", stride, 1)
    ph, pw = check_pair("padding", padding, 0)
    if ph > R // 2 or pw > S // 2:
        raise ValueError(f"padding {(ph, pw)} must be at most half the kernel {(R, S)} (PyTorch's rule)")
    P = out_size(name, H, ph, R, sh)
    Q = out_size(name, W, pw, S, sw)
    return PoolGeometry(N, C, H, W, R, S, P, Q, sh, sw, ph, pw)


def softmax_xent_shapes(logits_shape, target_shape, ignore_index) -> XentShape:
    """``softmax_cross_entropy_forward``: ``(M, V)`` for logits[M, V] and target[M].

    Checks that ignore_index is an int (not a bool), that there is at least one class, and target's shape.
    The target values (in [0, V) or ignore_index) are the backend's to check.
    """
    if isinstance(ignore_index, bool) or not isinstance(ignore_index, numbers.Integral):
        raise TypeError(f"ignore_index must be an int, got {ignore_index!r}")
    M, V = logits_shape
    if V < 1:
        raise ValueError(f"logits must have at least one class (V >= 1), got shape {tuple(logits_shape)}")
    if tuple(target_shape) != (M,):
        raise ValueError(
            f"target has shape {tuple(target_shape)}, expected ({M},) to match logits {tuple(logits_shape)}"
        )
    return XentShape(M, V)
