"""Indexing ops: basic/advanced indexing and its in-place write, gather/scatter along an axis, masked fill."""

from __future__ import annotations

from typing import Any

import numpy as np

from ..autograd import Function


class TakeAlongAxis(Function):
    """``take_along_axis(a, indices, axis)``; backward scatters (accumulating) into a zero array."""

    @staticmethod
    def forward(ctx, a, indices, axis):
        ctx.shape, ctx.indices, ctx.axis, ctx.dtype = a.shape, indices, axis, a.dtype
        return ctx.xp.take_along_axis(a, indices, axis=axis)

    @staticmethod
    def backward(ctx, grad):
        xp = ctx.xp
        out = xp.zeros(tuple(ctx.shape), dtype=ctx.dtype)
        # Build full index arrays so repeated indices accumulate through the backend's index_add.
        grids = list(xp.meshgrid(*[xp.arange(n) for n in ctx.indices.shape], indexing="ij"))
        grids[ctx.axis] = ctx.indices
        ctx.backend.index_add(out, tuple(grids), grad)
        return out, None, None


class GetItem(Function):
    @staticmethod
    def forward(ctx, a, index):
        ctx.shape, ctx.index, ctx.dtype = a.shape, index, a.dtype
        out = a[index]
        if isinstance(out, np.generic):
            # numpy turns an all-integer index into a scalar (a copy); a trailing Ellipsis keeps a 0-d view
            out = a[(index if isinstance(index, tuple) else (index,)) + (Ellipsis,)]
        return out

    @staticmethod
    def backward(ctx, grad):
        out = ctx.xp.zeros(tuple(ctx.shape), dtype=ctx.dtype)
        ctx.backend.index_add(out, ctx.index, grad)
        return out, None


class IndexPut(Function):
    """``out = copy of a; out[index] = value``: the recorded form of ``a[index] = value`` (Tensor._inplace
    writes the result back into ``a``'s storage). ``value`` is a raw array or a Python number that
    broadcasts to ``a[index]``'s shape; it is cast to ``a``'s dtype, as PyTorch's item assignment does."""

    @staticmethod
    def forward(ctx, a, index, value):
        xp = ctx.xp
        out = xp.asarray(a, copy=True)
        if hasattr(value, "dtype") and value.dtype != a.dtype:
            value = xp.astype(value, a.dtype)
        out[index] = value
        ctx.index, ctx.value_ndim = index, getattr(value, "ndim", 0)
        return out

    @staticmethod
    def backward(ctx, grad):
        xp = ctx.xp
        ga = gv = None
        if ctx.needs_input_grad[0]:
            ga = xp.asarray(grad, copy=True)  # the overwritten elements of a get no gradient
            ga[ctx.index] = 0
        if ctx.needs_input_grad[2]:
            gv = grad[ctx.index]
            if ctx.value_ndim > gv.ndim:  # a value with extra leading 1-dims: let unbroadcast see them
                gv = xp.reshape(gv, (1,) * (ctx.value_ndim - gv.ndim) + tuple(gv.shape))
        return ga, None, gv


# ----------------------------------------------------------------- indexing, scans, sorting helpers
# What a PyTorch port needs beyond the core ops (Tensor.gather/scatter/masked_fill/cumsum/tril/einsum).


def _along_axis_grids(xp: Any, indices: Any, axis: int) -> tuple:
    """Full index arrays for ``out[grids]`` = the positions ``indices`` names along ``axis`` (gather/scatter)."""
    grids = list(xp.meshgrid(*[xp.arange(n) for n in indices.shape], indexing="ij"))
    grids[axis] = indices
    return tuple(grids)


class Scatter(Function):
    """``out = a`` with ``out[..., index[i, j], ...] = src[i, j]`` along ``axis`` (torch.scatter, no reduce).

    ``src`` is an array of ``index``'s shape or a Python number. Where ``index`` repeats a position, one of
    the writes wins (unspecified which, as in PyTorch); backward sends every position of ``src`` the gradient
    of the place it was written to, and ``a`` the gradient of the places that were not overwritten.
    """

    @staticmethod
    def forward(ctx, a, src, indices, axis):
        xp = ctx.xp
        ctx.grids = _along_axis_grids(xp, indices, axis)
        out = xp.asarray(a, copy=True)
        out[ctx.grids] = src
        return out

    @staticmethod
    def backward(ctx, grad):
        need_a, need_src = ctx.needs_input_grad[:2]
        ga = None
        if need_a:
            ga = ctx.xp.asarray(grad, copy=True)
            ga[ctx.grids] = 0
        return ga, (grad[ctx.grids] if need_src else None), None, None


class ScatterAdd(Function):
    """``out = a`` then ``out[..., index[i, j], ...] += src[i, j]`` along ``axis``, repeated positions accumulating."""

    @staticmethod
    def forward(ctx, a, src, indices, axis):
        xp = ctx.xp
        ctx.grids = _along_axis_grids(xp, indices, axis)
        out = xp.asarray(a, copy=True)
        ctx.backend.index_add(out, ctx.grids, src)
        return out

    @staticmethod
    def backward(ctx, grad):
        return grad, (grad[ctx.grids] if ctx.needs_input_grad[1] else None), None, None


class MaskedFill(Function):
    """``where(mask, value, a)`` in ``a``'s dtype (a Python ``value`` is cast, as torch.masked_fill does)."""

    @staticmethod
    def forward(ctx, a, mask, value):
        xp = ctx.xp
        ctx.mask = mask
        return xp.where(mask, xp.asarray(value, dtype=a.dtype), a)

    @staticmethod
    def backward(ctx, grad):
        return ctx.xp.where(ctx.mask, ctx.xp.zeros_like(grad), grad), None, None
