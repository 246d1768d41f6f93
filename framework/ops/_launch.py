"""Helpers shared by the kernel-backed ops: contiguous operands, zero-filled outputs, conv output size."""

from __future__ import annotations

from typing import Any

from array_api_compat import device as _array_device


def _contiguous(ctx, *arrays: Any) -> tuple:
    """The kernel contract takes C-contiguous arrays; views from slicing or permuting are copied here."""
    return tuple(None if a is None else ctx.backend.ascontiguous(a) for a in arrays)


# --------------------------------------------------------------------------------------- conv2d


def _zeros(ctx, shape: tuple[int, ...], like: Any) -> Any:
    """Zeros of ``shape`` with ``like``'s dtype, on ``like``'s device (a bare ``xp.zeros`` lands on the host)."""
    return ctx.xp.zeros(shape, dtype=like.dtype, device=_array_device(like))


def _conv_output_hw(x_shape, w_shape, stride, padding) -> tuple[int, int]:
    return tuple((n + 2 * p - k) // s + 1 for n, k, s, p in zip(x_shape[2:], w_shape[2:], stride, padding))
