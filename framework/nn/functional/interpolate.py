"""interpolate: nearest, linear, bilinear, bicubic, trilinear resampling as gathers and weighted sums."""

from __future__ import annotations

from typing import Any

import numpy as np

from ...tensor import Tensor
from ._args import _INTERPOLATING_RANKS, _check_interpolate_mode, _check_tensor

# ---------------------------------------------------------------------------------- interpolation

_SPATIAL_NAMES = {3: "L", 4: "H, W", 5: "D, H, W"}
#: PyTorch's (and OpenCV's) cubic convolution parameter; Keys' -0.5 would give visibly different values.
_CUBIC_A = -0.75


def _nearest_source(in_size: int, out_size: int, scale: float, exact: bool) -> np.ndarray:
    """PyTorch's nearest-neighbour source index of every output position along one dim."""
    # In float32, as PyTorch's kernels compute it, so rounding at the cell borders agrees.
    dst = np.arange(out_size, dtype=np.float32)
    scale = np.float32(scale)
    src = np.floor((dst + np.float32(0.5)) * scale) if exact else np.floor(dst * scale)
    return np.minimum(src.astype(np.int64), in_size - 1)


def _interpolation_taps(in_size: int, out_size: int, ratio: float, align_corners: bool,
                        cubic: bool) -> tuple[np.ndarray, np.ndarray]:
    """PyTorch's source indices and weights (both ``[out_size, taps]``; 2 taps linear, 4 cubic) along one dim.

    ``ratio`` is the source step per output position: ``(in - 1) / (out - 1)`` with align_corners, else
    ``1 / scale_factor`` or ``in / out``.
    """
    # In float64 on the host: the weights are continuous in the source coordinate, so this differs from
    # PyTorch's float32 kernels by rounding only, and agrees with its float64 ones.
    dst = np.arange(out_size, dtype=np.float64)
    src = ratio * dst if align_corners else ratio * (dst + 0.5) - 0.5
    if not cubic and not align_corners:
        src = np.maximum(src, 0.0)  # linear clamps at the border; cubic instead clamps its tap indices
    base = np.minimum(np.floor(src).astype(np.int64), in_size - 1)
    t = np.clip(src - base, 0.0, 1.0)
    if cubic:
        a = _CUBIC_A

        def near(x: np.ndarray) -> np.ndarray:  # |x| <= 1
            return ((a + 2) * x - (a + 3)) * x * x + 1

        def far(x: np.ndarray) -> np.ndarray:  # 1 < |x| < 2
            return ((a * x - 5 * a) * x + 8 * a) * x - 4 * a

        weights = np.stack([far(t + 1), near(t), near(1 - t), far(2 - t)], axis=1)
        index = np.clip(base[:, None] + np.arange(-1, 3), 0, in_size - 1)
    else:
        weights = np.stack([1 - t, t], axis=1)
        index = np.stack([base, base + (base < in_size - 1)], axis=1)
    return index, weights


def interpolate(input: Tensor, size: Any = None, scale_factor: Any = None, mode: str = "nearest",
                align_corners: bool | None = None, recompute_scale_factor: bool | None = None,
                antialias: bool = False) -> Tensor:
    """Resize the spatial dims of ``[N, C, *spatial]`` (1 to 3 spatial dims), PyTorch's ``F.interpolate``.

    Modes: ``'nearest'`` (PyTorch's legacy floor rule) and ``'nearest-exact'`` (any rank) are a gather, so the
    gradient sums over the output positions that read each input element. ``'linear'`` (3-D input),
    ``'bilinear'`` and ``'bicubic'`` (4-D) and ``'trilinear'`` (5-D) are separable: one spatial dim at a
    time, a weighted sum of 2 (linear) or 4 (cubic, A = -0.75, tap indices clamped to the border) gathers
    with weights computed on the host, so they have autograd on every device. The source coordinate of
    output position ``o`` is ``o * (in - 1) / (out - 1)`` with ``align_corners=True`` (0 when out == 1),
    else ``(o + 0.5) * r - 0.5`` with ``r = 1 / scale_factor`` when ``scale_factor`` is given and
    ``recompute_scale_factor`` is not True, else ``r = in / out``; the linear modes clamp it at 0 and
    copy a dim whose size does not change (whatever ``scale_factor``), as PyTorch's kernels do.

    Args:
        input: floating ``[N, C, L]``, ``[N, C, H, W]`` or ``[N, C, D, H, W]`` (the interpolating modes
            need the rank named above).
        size: output spatial size (an int for every dim, or one per dim). Exactly one of size / scale_factor.
        scale_factor: a positive float (or one per dim); the output size is ``floor(in * scale_factor)``.
        mode: ``'nearest'``, ``'nearest-exact'``, ``'linear'``, ``'bilinear'``, ``'bicubic'`` or ``'trilinear'``.
        align_corners: interpolating modes only: True maps the corner pixels' centres onto each other;
            None means False. Must be None for the nearest modes.
        recompute_scale_factor: True computes the source positions from the output size instead of the
            given ``scale_factor`` (as PyTorch does); must not be True with ``size``.
        antialias: must be False (antialiased downsampling is not implemented).
    Returns: ``[N, C, *out_spatial]``, same dtype and device as ``input``.
    Raises: ValueError for another mode (naming it), an interpolating mode on an input of another rank
        (naming the mode and the shape), both or neither of size / scale_factor, a size or scale of the
        wrong length or not positive, an empty output, align_corners set with a nearest mode,
        recompute_scale_factor=True with size, or antialias set; TypeError for a non-floating input to an
        interpolating mode.
    """
    _check_tensor(input, "input", (3, 4, 5))
    _check_interpolate_mode(mode, "interpolate()")
    rank = _INTERPOLATING_RANKS.get(mode)
    if rank is None and align_corners is not None:
        raise ValueError(f"interpolate(): align_corners can only be set with the interpolating modes "
                         f"(linear, bilinear, bicubic, trilinear), not mode {mode!r}")
    if rank is not None and input.ndim != rank:
        raise ValueError(f"interpolate(): mode {mode!r} needs a {rank}-D input [N, C, {_SPATIAL_NAMES[rank]}], "
                         f"got input of shape {input.shape}")
    if rank is not None and not input.dtype.is_floating_point:
        raise TypeError(f"interpolate(): mode {mode!r} needs a floating-point input, got dtype {input.dtype}")
    if antialias:
        raise ValueError(f"interpolate(): antialias=True is not supported (mode {mode!r})")
    if recompute_scale_factor and size is not None:
        raise ValueError("interpolate(): recompute_scale_factor is not meaningful with an explicit size")
    dims = input.ndim - 2
    in_sizes = input.shape[2:]

    def per_dim(value: Any, name: str, kind: type) -> tuple:
        values = tuple(value) if isinstance(value, tuple | list) else (value,) * dims
        if len(values) != dims:
            raise ValueError(f"interpolate(): {name} must have {dims} elements for input of shape {input.shape}, "
                             f"got {value!r}")
        if not all(isinstance(v, kind) and not isinstance(v, bool) and v > 0 for v in values):
            raise ValueError(f"interpolate(): {name} must be positive, got {value!r}")
        return values

    if (size is None) == (scale_factor is None):
        raise ValueError("interpolate(): give exactly one of size and scale_factor")
    if size is not None:
        out_sizes = tuple(int(n) for n in per_dim(size, "size", int | np.integer))
        scales = [i / o for i, o in zip(in_sizes, out_sizes)]
    else:
        factors = tuple(float(f) for f in per_dim(scale_factor, "scale_factor", int | float | np.number))
        out_sizes = tuple(int(np.floor(i * f)) for i, f in zip(in_sizes, factors))
        if min(out_sizes) < 1:
            raise ValueError(f"interpolate(): scale_factor {scale_factor!r} gives an empty output for input of "
                             f"shape {input.shape}")
        scales = [i / o if recompute_scale_factor else 1.0 / f for i, o, f in zip(in_sizes, out_sizes, factors)]
    out = input
    if rank is not None:
        cubic = mode == "bicubic"
        for d in range(dims):
            n_in, n_out = in_sizes[d], out_sizes[d]
            if align_corners:
                ratio = (n_in - 1) / (n_out - 1) if n_out > 1 else 0.0
            else:
                ratio = scales[d]
            # PyTorch's linear kernels copy an unchanged size even when 1/scale_factor != 1; its cubic one
            # does not, but at ratio 1 the cubic weights are exactly (0, 1, 0, 0).
            if n_out == n_in and (not cubic or ratio == 1.0):
                continue
            index, weights = _interpolation_taps(n_in, n_out, ratio, bool(align_corners), cubic)
            leading = (slice(None),) * (2 + d)
            weight_shape = (n_out,) + (1,) * (dims - 1 - d)  # broadcasts over the later spatial dims
            total = None
            for k in range(index.shape[1]):
                w = Tensor(weights[:, k].reshape(weight_shape), dtype=input.dtype, device=input.backend)
                term = out[leading + (index[:, k],)] * w
                total = term if total is None else total + term
            out = total
        return out
    for d in range(dims):
        if out_sizes[d] == in_sizes[d] and scales[d] == 1.0:
            continue
        src = _nearest_source(in_sizes[d], out_sizes[d], scales[d], mode == "nearest-exact")
        out = out[(slice(None),) * (2 + d) + (src,)]
    return out
