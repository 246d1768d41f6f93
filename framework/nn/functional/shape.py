"""Shape functions: pad, pixel_shuffle, pixel_unshuffle."""

from __future__ import annotations

import numpy as np

from ...tensor import Tensor, cat
from ...tensor import tensor as _tensor
from ._args import _check_tensor, _positive_count


def pad(input: Tensor, pad: tuple[int, ...], mode: str = "constant", value: float = 0.0) -> Tensor:
    """PyTorch's ``F.pad`` for the last two dims: ``pad = (left, right[, top, bottom])``.

    ``mode`` is ``'constant'``, ``'reflect'``, ``'replicate'`` or ``'circular'``; the non-constant
    modes are an index gather, so their gradient accumulates into the source pixels.
    """
    _check_tensor(input, "input")
    if len(pad) not in (2, 4) or any(not isinstance(p, int) or p < 0 for p in pad):
        raise ValueError(f"pad must be 2 or 4 non-negative ints (left, right, top, bottom), got {pad!r}")
    amounts = list(pad) + [0] * (4 - len(pad))
    out = input
    for axis, (before, after) in ((-1, amounts[0:2]), (-2, amounts[2:4])):
        if before == 0 and after == 0:
            continue
        n = out.shape[axis]
        index = np.arange(-before, n + after)
        if mode == "constant":
            parts = []
            if before:
                parts.append(_full_like_slab(out, axis, before, value))
            parts.append(out)
            if after:
                parts.append(_full_like_slab(out, axis, after, value))
            out = cat(parts, dim=axis)
            continue
        if mode == "reflect":
            if before >= n or after >= n:
                raise ValueError(f"pad(): reflect padding {pad} must be smaller than the input size {n}")
            index = np.abs(index)
            index = np.where(index >= n, 2 * (n - 1) - index, index)
        elif mode == "replicate":
            index = np.clip(index, 0, n - 1)
        elif mode == "circular":
            if before > n or after > n:
                raise ValueError(f"pad(): circular padding {pad} must not exceed the input size {n}")
            index = index % n
        else:
            raise ValueError(f"mode must be 'constant', 'reflect', 'replicate' or 'circular', got {mode!r}")
        selector = (slice(None),) * (out.ndim + axis) + (_tensor(index, device=out.backend),)
        out = out[selector]
    return out


def _full_like_slab(t: Tensor, axis: int, size: int, value: float) -> Tensor:
    shape = list(t.shape)
    shape[axis] = size
    return Tensor(np.full(shape, value), dtype=t.dtype, device=t.backend)


# ---------------------------------------------------------------------------------- pixel shuffle


def pixel_shuffle(input: Tensor, upscale_factor: int) -> Tensor:
    """``[*, C*r*r, H, W] -> [*, C, H*r, W*r]``, PyTorch's ``F.pixel_shuffle`` (a reshape and a permute).

    Raises: ValueError for ``upscale_factor < 1``, fewer than 3 dims, or channels not divisible by r*r.
    """
    _check_tensor(input, "input")
    r = _positive_count(upscale_factor, "upscale_factor", "pixel_shuffle()")
    if input.ndim < 3 or input.shape[-3] % (r * r):
        raise ValueError(f"pixel_shuffle(): expected input [*, C*{r * r}, H, W] (channels divisible by "
                         f"upscale_factor^2 = {r * r}), got shape {input.shape}")
    *lead, C, H, W = input.shape
    c = C // (r * r)
    k = len(lead)
    x = input.reshape(tuple(lead) + (c, r, r, H, W))
    x = x.permute(*range(k), k, k + 3, k + 1, k + 4, k + 2)  # [*, c, H, r, W, r]
    return x.reshape(tuple(lead) + (c, H * r, W * r))


def pixel_unshuffle(input: Tensor, downscale_factor: int) -> Tensor:
    """``[*, C, H*r, W*r] -> [*, C*r*r, H, W]``, PyTorch's ``F.pixel_unshuffle`` (the inverse of
    :func:`pixel_shuffle`). Raises: ValueError for ``downscale_factor < 1``, fewer than 3 dims, or H, W not
    divisible by r."""
    _check_tensor(input, "input")
    r = _positive_count(downscale_factor, "downscale_factor", "pixel_unshuffle()")
    if input.ndim < 3 or input.shape[-2] % r or input.shape[-1] % r:
        raise ValueError(f"pixel_unshuffle(): expected input [*, C, H, W] with H and W divisible by "
                         f"downscale_factor={r}, got shape {input.shape}")
    *lead, C, H, W = input.shape
    k = len(lead)
    x = input.reshape(tuple(lead) + (C, H // r, r, W // r, r))
    x = x.permute(*range(k), k, k + 2, k + 4, k + 1, k + 3)  # [*, C, r, r, H/r, W/r]
    return x.reshape(tuple(lead) + (C * r * r, H // r, W // r))
