"""Pooling: max/avg, adaptive, 1-D and 2-D."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from ... import ops
from ...ops.maxpool2d import MaxPool2d
from ...tensor import Tensor, arange, minimum, stack, where
from ...tensor import tensor as _tensor
from ._args import _adaptive_output_size, _batched, _check_float, _check_tensor, _divisor_override, _pair, _single
from .shape import pad


def max_pool2d(input: Tensor, kernel_size: Any, stride: Any = None, padding: Any = 0, dilation: Any = 1,
               ceil_mode: bool = False, return_indices: bool = False):
    """2-D max pooling, PyTorch's ``F.max_pool2d``.

    Args:
        input: ``[N, C, H, W]`` or unbatched ``[C, H, W]``, float; N may be 0 (an empty output).
        kernel_size, stride (default ``kernel_size``), padding, dilation: ints or pairs, as in PyTorch;
            padding (implicit -inf) at most half the effective kernel ``dilation * (kernel_size - 1) + 1``.
        ceil_mode: round the output size up (a last, partial window) as long as that window starts inside
            the input or the left/top padding — PyTorch's rule.
        return_indices: also return PyTorch's flat ``h * W + w`` input index of each maximum (the first in
            window order on ties; a NaN is the maximum, the last NaN of a window wins: PyTorch's rules).
    Returns: ``[N, C, P, Q]`` with ``P = floor_or_ceil((H + 2p - d(k - 1) - 1) / s) + 1`` (and the indices).
    Raises: ValueError naming the argument for a size < 1, too much padding, or an output smaller than 1.

    Dilation 1 runs the max-pool kernel (ceil mode pads the bottom/right with -inf so the kernel's floor
    rule sees the extra window); dilation > 1 is a composite of strided slices, one per kernel tap.
    """
    input, unbatched = _batched(input, "input", 4)
    _check_float(input, "max_pool2d(): input")  # the kernels pool floats only (PyTorch also pools integers)
    kernel, stride, padding, dilation, out_size = _pool_geometry(input, kernel_size, stride, padding, dilation,
                                                                 ceil_mode, "max_pool2d")
    if dilation == (1, 1):
        x = _ceil_mode_padded(input, kernel, stride, padding, out_size)
        out, argmax = MaxPool2d.apply(x, kernel, stride, padding)
        indices = _flat_pool_indices(out, argmax, input.shape, kernel, stride, padding) if return_indices else None
    else:
        out, indices = _dilated_max_pool2d(input, kernel, stride, padding, dilation, out_size)
    if unbatched:
        out = out.squeeze(0)
        indices = indices.squeeze(0) if indices is not None else None
    return (out, indices) if return_indices else out


def relu_max_pool2d(input: Tensor, kernel_size: Any, stride: Any = None, padding: Any = 0, dilation: Any = 1,
                    ceil_mode: bool = False) -> Tensor:
    """``max_pool2d(relu(input), ...)`` as one op on the fused ReLU -> max-pool kernels (kernelgrad's, like
    ``linear_relu``; ``Sequential`` uses it for a ``ReLU`` directly followed by a ``MaxPool2d``).

    The same values and gradients as the two calls (PyTorch's ``F.max_pool2d(F.relu(x))``, the sign of a zero
    included; :mod:`framework.nn.utils.fusion`): the ReLU is never a pass of its own, forward or backward. Arguments
    and errors as :func:`max_pool2d` (no ``return_indices``); dilation > 1 has no fused kernel and runs
    ``relu(max_pool2d(input))`` (there the ReLU of a -0.0 maximum is the device ReLU's zero: +0.0 on ``cpu``).
    """
    input, unbatched = _batched(input, "input", 4)
    _check_float(input, "relu_max_pool2d(): input")
    kernel, stride, padding, dilation, out_size = _pool_geometry(input, kernel_size, stride, padding, dilation,
                                                                 ceil_mode, "relu_max_pool2d")
    if dilation != (1, 1):
        out = ops.Relu.apply(_dilated_max_pool2d(input, kernel, stride, padding, dilation, out_size)[0])
    else:
        # ceil mode's -inf rows/cols become 0 in the kernel's ReLU: never above a window's positive maximum, and a
        # window of zeros keeps its first (real) element's sign
        out = ops.ReluMaxPool2d.apply(_ceil_mode_padded(input, kernel, stride, padding, out_size), kernel, stride,
                                      padding)
    return out.squeeze(0) if unbatched else out


def _ceil_mode_padded(input: Tensor, kernel, stride, padding, out_size) -> Tensor:
    """``input`` with -inf rows/cols at the bottom/right where ceil mode needs them (fewer than a stride): the max-pool
    kernels size their output by the floor rule, which these make the ceil size. They are never a window's maximum."""
    extra = [max(0, (o - 1) * s + k - (n + 2 * p))
             for o, s, k, n, p in zip(out_size, stride, kernel, input.shape[2:], padding)]
    return pad(input, (0, extra[1], 0, extra[0]), value=-math.inf) if any(extra) else input


def _pool_geometry(input: Tensor, kernel_size: Any, stride: Any, padding: Any, dilation: Any, ceil_mode: bool,
                   name: str) -> tuple[tuple[int, int], ...]:
    """The checked ``(kernel, stride, padding, dilation, out_size)`` pairs of a 2-D pooling of ``input
    [N, C, H, W]``: PyTorch's defaults (stride = kernel, also for ``stride=[]``), padding at most half the
    effective kernel, and an output of at least one window per axis."""
    kernel = _pair(kernel_size, "kernel_size", 1)
    no_stride = stride is None or (isinstance(stride, list | tuple) and not stride)  # torch allows stride=[]
    stride = kernel if no_stride else _pair(stride, "stride", 1)
    padding = _pair(padding, "padding", 0)
    dilation = _pair(dilation, "dilation", 1)
    dilated = dilation != (1, 1)
    effective = tuple(d * (k - 1) + 1 for k, d in zip(kernel, dilation))
    if any(p > e // 2 for p, e in zip(padding, effective)):
        raise ValueError(f"{name}(): padding {padding} must be at most half the kernel size {kernel}"
                         + (f" (effective size {effective} with dilation {dilation})" if dilated else ""))
    H, W = input.shape[2:]
    out_size = tuple(_pool_output_size(n, k, s, p, d, bool(ceil_mode))
                     for n, k, s, p, d in zip((H, W), kernel, stride, padding, dilation))
    if min(out_size) < 1:
        raise ValueError(f"{name}(): kernel_size {kernel}" + (f" (dilation {dilation})" if dilated else "")
                         + f" is larger than the padded input ({H + 2 * padding[0]}, {W + 2 * padding[1]}) "
                         f"for input shape {input.shape}: output size {out_size}")
    return kernel, stride, padding, dilation, out_size


def _pool_output_size(n: int, k: int, s: int, p: int, d: int, ceil_mode: bool) -> int:
    """PyTorch's ``pooling_output_shape``: a ceil-mode window must start inside the input or the left padding."""
    span = n + 2 * p - d * (k - 1) - 1
    out = (span + (s - 1 if ceil_mode else 0)) // s + 1
    if ceil_mode and (out - 1) * s >= n + p:
        out -= 1
    return out


def _dilated_max_pool2d(input: Tensor, kernel, stride, padding, dilation, out_size) -> tuple[Tensor, Tensor]:
    """Max pooling with dilation > 1 from generic ops: each of the ``R*S`` kernel taps is a strided slice of
    the -inf-padded input; PyTorch's winner over the taps (:class:`~framework.ops.PoolWinner`) is selected
    with ``where``, so the gradient goes to that one input element."""
    (R, S), (sh, sw), (ph, pw), (dh, dw), (P, Q) = kernel, stride, padding, dilation, out_size
    H, W = input.shape[2:]
    bottom = max(0, (P - 1) * sh + dh * (R - 1) + 1 - (H + ph))
    right = max(0, (Q - 1) * sw + dw * (S - 1) + 1 - (W + pw))
    x = pad(input, (pw, right, ph, bottom), value=-math.inf)
    taps = [x[:, :, r * dh: r * dh + (P - 1) * sh + 1: sh, c * dw: c * dw + (Q - 1) * sw + 1: sw]
            for r in range(R) for c in range(S)]
    stacked = stack(taps, 0)  # [R*S, N, C, P, Q]
    first = ops.PoolWinner.apply(stacked, 0, False)  # [N, C, P, Q] int64
    chosen = arange(R * S, device=input.device).reshape(R * S, 1, 1, 1, 1) == first
    out = where(chosen, stacked, 0.0).sum(0)
    rows = arange(P, device=input.device).reshape(P, 1) * sh - ph + (first // S) * dh
    cols = arange(Q, device=input.device).reshape(1, Q) * sw - pw + (first % S) * dw
    return out, rows * W + cols


def _flat_pool_indices(out: Tensor, argmax: Tensor, shape, kernel, stride, padding) -> Tensor:
    """PyTorch's indices (h * W + w in the unpadded input) from the compact in-window argmax."""
    argmax = argmax.to(dtype="int64")
    P, Q = out.shape[2:]
    r, s = argmax // kernel[1], argmax % kernel[1]
    rows = arange(P, dtype="int64", device=out.device).reshape(P, 1) * stride[0] - padding[0] + r
    cols = arange(Q, dtype="int64", device=out.device).reshape(1, Q) * stride[1] - padding[1] + s
    return rows * shape[3] + cols


# ------------------------------------------------------------------ avg_pool2d and adaptive pooling


def avg_pool2d(input: Tensor, kernel_size: Any, stride: Any = None, padding: Any = 0, ceil_mode: bool = False,
               count_include_pad: bool = True, divisor_override: int | None = None) -> Tensor:
    """2-D average pooling, PyTorch's ``F.avg_pool2d``.

    Args:
        input: ``[N, C, H, W]`` or unbatched ``[C, H, W]``, float.
        kernel_size, stride (default ``kernel_size``), padding: ints or pairs, as in PyTorch; padding (implicit
            zeros) at most half the kernel size.
        ceil_mode: round the output size up, PyTorch's rule (see :func:`max_pool2d`).
        count_include_pad: divide by the window size clipped to the padded input (True) or by the number of
            real input elements in the window (False).
        divisor_override: a non-zero int that replaces either divisor.
    Returns: ``[N, C, P, Q]`` with ``P = floor_or_ceil((H + 2p - k) / s) + 1``.
    Raises: TypeError for a non-float input or a non-int argument; ValueError naming the argument for a
        wrong rank, a size < 1, too much padding, a zero divisor_override or an output smaller than 1.
    """
    input, unbatched = _batched(input, "input", 4)
    _check_float(input, "input")
    kernel, stride, padding, _, out_size = _pool_geometry(input, kernel_size, stride, padding, 1, ceil_mode,
                                                          "avg_pool2d")
    divisor_override = _divisor_override(divisor_override, "avg_pool2d()")
    H, W = input.shape[2:]
    # Zeros add nothing to a window sum, so the padding (and, in ceil mode, the part of a last window past
    # the padded input) is plain zeros; what those positions count for is the divisor's business.
    extra = [max(0, (o - 1) * s + k - (n + p)) for o, s, k, n, p in zip(out_size, stride, kernel, (H, W), padding)]
    x = pad(input, (padding[1], extra[1], padding[0], extra[0])) if any(padding) or any(extra) else input
    # A window sum is separable: sum the kernel rows, then the kernel columns.
    for axis, o, s, k in ((2, out_size[0], stride[0], kernel[0]), (3, out_size[1], stride[1], kernel[1])):
        starts = np.arange(o) * s
        x = _bin_taps(x, axis, starts, starts + k)[0].sum(axis + 1)
    if divisor_override is not None:
        out = x / float(divisor_override)
    else:
        divisor = np.outer(*(_avg_pool_counts(n, k, s, p, o, bool(count_include_pad))
                             for n, k, s, p, o in zip((H, W), kernel, stride, padding, out_size)))
        out = x / Tensor(divisor, dtype=x.dtype, device=x.backend)
    return out.squeeze(0) if unbatched else out


def _avg_pool_counts(n: int, k: int, s: int, p: int, out: int, include_pad: bool) -> np.ndarray:
    """PyTorch's per-axis divisor: the window clipped to the padded input, or to the input itself. The output
    size rule keeps every window overlapping the input, so neither count is ever 0."""
    start = np.arange(out) * s - p
    end = np.minimum(start + k, n + p)
    if include_pad:
        return end - start
    return np.minimum(end, n) - np.maximum(start, 0)


def _bin_taps(x: Tensor, axis: int, starts: np.ndarray, ends: np.ndarray) -> tuple[Tensor, np.ndarray | None]:
    """The bins ``[starts[i], ends[i])`` of ``x`` along ``axis`` as a new dim ``axis + 1`` of ``K`` taps
    (``K`` = the longest bin), so ``[..., n, ...]`` becomes ``[..., len(starts), K, ...]``.

    Returns the taps and ``valid`` (``[len(starts), K]`` bool, None when every bin is ``K`` long). Tap ``k``
    of a shorter bin repeats the bin's last element: a repeat comes after the element it copies, so a
    first-maximum over the taps never needs the mask; a sum does. Equal, evenly spaced bins are strided
    slices (a reshape when they tile ``x``); other bins are a gather.
    """
    out, lens = len(starts), ends - starts
    K = int(lens.max())
    step = int(starts[1] - starts[0]) if out > 1 else 1
    first = int(starts[0])
    regular = step >= 1 and bool((lens == K).all()) and bool((starts == first + step * np.arange(out)).all())
    lead = (slice(None),) * axis
    if regular and step == K and first == 0 and out * K == x.shape[axis]:
        return x.reshape(x.shape[:axis] + (out, K) + x.shape[axis + 1:]), None
    if regular:
        taps = [x[lead + (slice(first + k, first + k + (out - 1) * step + 1, step),)] for k in range(K)]
        return stack(taps, axis + 1), None
    taps = [x[lead + (np.minimum(starts + k, ends - 1),)] for k in range(K)]
    return stack(taps, axis + 1), np.arange(K) < lens[:, None]


def _adaptive_bins(n: int, out: int) -> tuple[np.ndarray, np.ndarray]:
    """PyTorch's adaptive bins: ``[floor(i * n / out), ceil((i + 1) * n / out))``, in exact integers."""
    i = np.arange(out, dtype=np.int64)
    return (i * n) // out, -((-(i + 1) * n) // out)


def _adaptive_input(input: Tensor, output_size: Any, name: str) -> tuple[Tensor, bool, tuple[int, int]]:
    input, unbatched = _batched(input, "input", 4)
    _check_float(input, "input")
    H, W = input.shape[2:]
    if H == 0 or W == 0:
        raise ValueError(f"{name}(): input must have a non-empty H and W, got shape {input.shape}")
    sizes = _adaptive_output_size(output_size, f"{name}()")
    return input, unbatched, tuple(n if v is None else v for v, n in zip(sizes, (H, W)))


def adaptive_avg_pool2d(input: Tensor, output_size: Any) -> Tensor:
    """2-D adaptive average pooling, PyTorch's ``F.adaptive_avg_pool2d``.

    Args:
        input: ``[N, C, H, W]`` or unbatched ``[C, H, W]``, float, with ``H, W >= 1``.
        output_size: an int, or a pair ``(P, Q)`` whose None entries keep that input size; each >= 1. Output
            ``(i, j)`` is the mean of input rows ``[floor(iH/P), ceil((i+1)H/P))`` and the same for columns.
    Returns: ``[N, C, P, Q]`` (``[C, P, Q]`` for an unbatched input).
    Raises: TypeError for a non-float input or a malformed output_size; ValueError for a wrong rank, an
        output_size of the wrong length or < 1, or an empty H or W.
    """
    input, unbatched, (P, Q) = _adaptive_input(input, output_size, "adaptive_avg_pool2d")
    x, counts = input, []
    # The bin mean is separable: sum each bin's rows, then its columns, then divide by its area.
    for axis, o in ((2, P), (3, Q)):
        starts, ends = _adaptive_bins(x.shape[axis], o)
        taps, valid = _bin_taps(x, axis, starts, ends)
        if valid is not None:
            taps = where(valid.reshape(valid.shape + (1,) * (x.ndim - axis - 1)), taps, 0.0)
        x = taps.sum(axis + 1)
        counts.append(ends - starts)
    out = x / Tensor(np.outer(*counts), dtype=x.dtype, device=x.backend)
    return out.squeeze(0) if unbatched else out


def adaptive_max_pool2d(input: Tensor, output_size: Any, return_indices: bool = False):
    """2-D adaptive max pooling, PyTorch's ``F.adaptive_max_pool2d``.

    Args:
        input: ``[N, C, H, W]`` or unbatched ``[C, H, W]``, float, with ``H, W >= 1``.
        output_size: as in :func:`adaptive_avg_pool2d` (the same bins).
        return_indices: also return PyTorch's flat ``h * W + w`` input index of each maximum (the first in
            row-major order on ties, the last NaN of a bin holding NaNs, as PyTorch); the gradient goes to that
            element only.
    Returns: ``[N, C, P, Q]`` (and the int64 indices of the same shape); unbatched input drops ``N``.
    Raises: as :func:`adaptive_avg_pool2d`.
    """
    input, unbatched, (P, Q) = _adaptive_input(input, output_size, "adaptive_max_pool2d")
    H, W = input.shape[2:]
    # Columns first, then rows: the first row holding the bin's maximum, and that row's first column
    # holding it, is the first maximum in row-major order (PyTorch's tie rule), so max is separable too;
    # so is the last NaN (the last row holding a NaN, that row's last NaN).
    row_max, cols, _ = _first_max_over_bins(input, 3, Q)
    out, rows, chosen = _first_max_over_bins(row_max, 2, P)
    if unbatched:
        out = out.squeeze(0)
    if not return_indices:
        return out
    # Each output's column is the one its chosen row picked.
    col_taps = _bin_taps(cols, 2, *_adaptive_bins(H, P))[0]
    indices = rows * W + where(chosen, col_taps, 0).sum(3)
    return out, (indices.squeeze(0) if unbatched else indices)


def _first_max_over_bins(x: Tensor, axis: int, out: int) -> tuple[Tensor, Tensor, Tensor]:
    """Max over the adaptive bins along ``axis``: the values (the gradient goes to the first maximum of each
    bin only, through ``where``), the input index along ``axis`` of that maximum (int64), and the one-hot
    choice over the bin's taps (``[..., out, K, ...]``, bool)."""
    starts, ends = _adaptive_bins(x.shape[axis], out)
    taps, _ = _bin_taps(x, axis, starts, ends)
    K, trailing = taps.shape[axis + 1], (1,) * (x.ndim - axis - 1)
    first = ops.PoolWinner.apply(taps, axis + 1, True)
    chosen = arange(K, device=x.device).reshape((K,) + trailing) == first
    values = where(chosen, taps, 0.0).sum(axis + 1)
    starts = _tensor(starts, device=x.device).reshape((out,) + trailing)
    last = _tensor(ends - 1, device=x.device).reshape((out,) + trailing)
    index = minimum(starts + first.squeeze(axis + 1), last)
    return values, index, chosen


# ------------------------------------------------------------------------------------- 1-D pooling
# Each 1-D pooling is its 2-D form on a height-1 image (so every device's kernels and rules serve it);
# arguments are checked here, in 1-D terms, so errors name the 1-D call and the user's values.


def _pool1d_args(input: Tensor, kernel_size: Any, stride: Any, padding: Any, dilation: Any, ceil_mode: bool,
                 name: str) -> tuple[tuple[int, int], ...]:
    """Checked 1-D ``(kernel, stride, padding, dilation)`` as the height-1 pairs of the 2-D pooling."""
    owner = f"{name}()"
    _check_tensor(input, "input", (2, 3))
    k = _single(kernel_size, "kernel_size", 1, owner)
    no_stride = stride is None or (isinstance(stride, list | tuple) and not stride)  # torch allows stride=[]
    s = k if no_stride else _single(stride, "stride", 1, owner)
    p = _single(padding, "padding", 0, owner)
    d = _single(dilation, "dilation", 1, owner)
    effective = d * (k - 1) + 1
    if p > effective // 2:
        raise ValueError(f"{owner}: padding {p} must be at most half the kernel size {k}"
                         + (f" (effective size {effective} with dilation {d})" if d != 1 else ""))
    L = input.shape[-1]
    if _pool_output_size(L, k, s, p, d, bool(ceil_mode)) < 1:
        raise ValueError(f"{owner}: kernel_size {k}" + (f" (dilation {d})" if d != 1 else "")
                         + f" is larger than the padded input length {L + 2 * p} for input shape {input.shape}")
    return (1, k), (1, s), (0, p), (1, d)


def _squeeze_height(out: Any) -> Any:
    return tuple(t.squeeze(-2) for t in out) if isinstance(out, tuple) else out.squeeze(-2)


def max_pool1d(input: Tensor, kernel_size: Any, stride: Any = None, padding: Any = 0, dilation: Any = 1,
               ceil_mode: bool = False, return_indices: bool = False):
    """1-D max pooling, PyTorch's ``F.max_pool1d`` (:func:`max_pool2d` on a height-1 image).

    Args: input ``[N, C, L]`` or ``[C, L]``; kernel_size, stride (default ``kernel_size``), padding, dilation
        as ints (or 1-tuples), with :func:`max_pool2d`'s rules; ceil_mode; return_indices (the index into L).
    Returns: ``[N, C, floor_or_ceil((L + 2p - d(k - 1) - 1) / s) + 1]`` (and the int64 indices).
    Raises: TypeError/ValueError naming the argument.
    """
    k, s, p, d = _pool1d_args(input, kernel_size, stride, padding, dilation, ceil_mode, "max_pool1d")
    return _squeeze_height(max_pool2d(input.unsqueeze(-2), k, s, p, d, ceil_mode, return_indices))


def avg_pool1d(input: Tensor, kernel_size: Any, stride: Any = None, padding: Any = 0, ceil_mode: bool = False,
               count_include_pad: bool = True) -> Tensor:
    """1-D average pooling, PyTorch's ``F.avg_pool1d`` (:func:`avg_pool2d` on a height-1 image).

    Args: input ``[N, C, L]`` or ``[C, L]``; kernel_size, stride (default ``kernel_size``), padding as ints
        (or 1-tuples); ceil_mode and count_include_pad as in :func:`avg_pool2d`.
    Raises: TypeError/ValueError naming the argument.
    """
    k, s, p, _ = _pool1d_args(input, kernel_size, stride, padding, 1, ceil_mode, "avg_pool1d")
    return avg_pool2d(input.unsqueeze(-2), k, s, p, ceil_mode, count_include_pad).squeeze(-2)


def _adaptive1d_size(input: Tensor, output_size: Any, name: str) -> tuple[int, int]:
    _check_tensor(input, "input", (2, 3))
    return 1, _single(output_size, "output_size", 1, f"{name}()")


def adaptive_avg_pool1d(input: Tensor, output_size: Any) -> Tensor:
    """1-D adaptive average pooling, PyTorch's ``F.adaptive_avg_pool1d``: ``[N, C, L] -> [N, C, output_size]``
    with :func:`adaptive_avg_pool2d`'s bins. Raises TypeError/ValueError naming the argument."""
    size = _adaptive1d_size(input, output_size, "adaptive_avg_pool1d")
    return adaptive_avg_pool2d(input.unsqueeze(-2), size).squeeze(-2)


def adaptive_max_pool1d(input: Tensor, output_size: Any, return_indices: bool = False):
    """1-D adaptive max pooling, PyTorch's ``F.adaptive_max_pool1d`` (indices into L with
    ``return_indices``). Raises TypeError/ValueError naming the argument."""
    size = _adaptive1d_size(input, output_size, "adaptive_max_pool1d")
    return _squeeze_height(adaptive_max_pool2d(input.unsqueeze(-2), size, return_indices))
