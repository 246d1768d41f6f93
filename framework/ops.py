"""Generic differentiable ops: elementwise math, reductions, shape ops, indexing.

Each op is a :class:`~framework.autograd.Function` whose forward and backward sit side by side and
work on raw arrays through ``ctx.xp``, the device's array-api namespace, so one definition serves
numpy, torch and cupy storage. Gradients may be returned in the broadcast shape: the autograd engine
un-broadcasts them (see :func:`framework.autograd.unbroadcast`).

The heavy kernels (conv2d, pooling, fused linear, cross-entropy, dropout) live in
:mod:`framework.nn.functional`, which dispatches to the device's kernel package.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from .autograd import Function


def normalize_dim(dim: Any, ndim: int, name: str = "dim") -> int:
    """``dim`` as an index in ``range(ndim)``, counting negative dims from the end, as PyTorch does.

    A 0-d tensor accepts 0 and -1. Pass ``ndim + 1`` where a new dim is inserted (unsqueeze, stack).
    Raises IndexError for a dim out of range (PyTorch's message) and TypeError for a non-integer.
    """
    if isinstance(dim, bool) or not isinstance(dim, int | np.integer):
        raise TypeError(f"{name} must be an int, got {dim!r}")
    dim, n = int(dim), max(ndim, 1)
    if not -n <= dim < n:
        raise IndexError(f"Dimension out of range (expected to be in range of [{-n}, {n - 1}], but got {dim})")
    return dim % n


def normalize_dims(dims: Any, ndim: int, name: str = "dim") -> tuple[int, ...]:
    """A dim or a sequence of dims normalised by :func:`normalize_dim`; repeating a dim is a ValueError."""
    if isinstance(dims, int | np.integer) and not isinstance(dims, bool):
        return (normalize_dim(dims, ndim, name),)
    if not isinstance(dims, tuple | list):
        raise TypeError(f"{name} must be an int or a tuple of ints, got {type(dims).__name__}")
    out = tuple(normalize_dim(d, ndim, name) for d in dims)
    if len(set(out)) != len(out):
        repeated = next(d for d in out if out.count(d) > 1)
        raise ValueError(f"{name}: dim {repeated} appears multiple times in the list of dims {tuple(dims)}")
    return out


def broadcast_shapes(a: tuple[int, ...], b: tuple[int, ...], name: str) -> tuple[int, ...]:
    """The shape ``a`` and ``b`` broadcast to; the same ValueError on every device when they do not."""
    out = []
    for i in range(1, max(len(a), len(b)) + 1):
        m = a[-i] if i <= len(a) else 1
        n = b[-i] if i <= len(b) else 1
        if m != n and m != 1 and n != 1:
            dim = max(len(a), len(b)) - i
            raise ValueError(f"{name}(): shapes {tuple(a)} and {tuple(b)} do not broadcast: the size of tensor a "
                             f"({m}) must match the size of tensor b ({n}) at non-singleton dimension {dim}")
        out.append(n if m == 1 else m)
    return tuple(reversed(out))


def _reduce_axes(axis: Any, ndim: int) -> tuple[int, ...]:
    """The axes a reduction over ``axis`` (None: all; an int; a sequence, possibly empty) covers."""
    axes = () if axis is None else normalize_dims(axis, ndim)
    # No dims (None or an empty tuple) means all of them, as in PyTorch; a 0-d tensor has none to reduce.
    return axes if axes and ndim else tuple(range(ndim))


def _expand_reduced(ctx, grad, shape, axes, keepdims):
    """Put back the reduced axes of ``grad`` (size 1) so it broadcasts against ``shape``."""
    if not keepdims:
        grad = ctx.xp.reshape(grad, tuple(1 if i in axes else n for i, n in enumerate(shape)))
    return grad


# ------------------------------------------------------------------------------ elementwise binary


class Add(Function):
    @staticmethod
    def forward(ctx, a, b):
        return a + b

    @staticmethod
    def backward(ctx, grad):
        return grad, grad


class Sub(Function):
    @staticmethod
    def forward(ctx, a, b):
        return a - b

    @staticmethod
    def backward(ctx, grad):
        return grad, -grad


def _save_operands(ctx, a, b):
    """Save each operand only where the *other* one's gradient needs it (as PyTorch does), so an in-place
    write to an operand whose value backward never reads does not trip the version check."""
    need_a, need_b = ctx.needs_input_grad
    ctx.save_for_backward(a if need_b else None, b if need_a else None)


class Mul(Function):
    @staticmethod
    def forward(ctx, a, b):
        _save_operands(ctx, a, b)
        return a * b

    @staticmethod
    def backward(ctx, grad):
        a, b = ctx.saved_tensors
        need_a, need_b = ctx.needs_input_grad
        return (grad * b if need_a else None), (grad * a if need_b else None)


class Div(Function):
    @staticmethod
    def forward(ctx, a, b):
        need_a, need_b = ctx.needs_input_grad
        ctx.save_for_backward(a if need_b else None, b if need_a or need_b else None)
        return a / b

    @staticmethod
    def backward(ctx, grad):
        a, b = ctx.saved_tensors
        need_a, need_b = ctx.needs_input_grad
        ga = grad / b if need_a else None
        gb = -grad * a / (b * b) if need_b else None
        return ga, gb


class FloorDivide(Function):
    """``a // b``, rounding toward -inf (Python's and PyTorch's meaning). Not differentiable in PyTorch."""

    @staticmethod
    def forward(ctx, a, b):
        return a // b

    @staticmethod
    def backward(ctx, grad):
        raise RuntimeError("the derivative of floor_divide (//) is not implemented (as in PyTorch)")


class DivFloor(FloorDivide):
    """``div(a, b, rounding_mode='floor')``: the values of ``a // b``, but differentiable with a zero gradient
    (the step function's derivative almost everywhere), as PyTorch's div is."""

    @staticmethod
    def backward(ctx, grad):
        zero = ctx.xp.zeros_like(grad)
        return zero, zero


class Remainder(Function):
    """``a % b`` with the sign of ``b`` (Python's and PyTorch's meaning)."""

    @staticmethod
    def forward(ctx, a, b):
        ctx.save_for_backward(a, b)
        return a % b

    @staticmethod
    def backward(ctx, grad):
        # a % b = a - b * floor(a / b): d/da = 1, d/db = -floor(a / b).
        a, b = ctx.saved_tensors
        need_a, need_b = ctx.needs_input_grad
        return (grad if need_a else None), (-grad * (a // b) if need_b else None)


class Pow(Function):
    """``a ** b`` for a Tensor base and/or exponent."""

    @staticmethod
    def forward(ctx, a, b):
        out = a**b
        ctx.save_for_backward(a, b, out)
        return out

    @staticmethod
    def backward(ctx, grad):
        a, b, out = ctx.saved_tensors
        need_a, need_b = ctx.needs_input_grad
        ga = grad * b * a ** (b - 1) if need_a else None
        gb = None
        if need_b:
            log_a = math.log(a) if isinstance(a, int | float) else ctx.xp.log(a)  # a Python base in 2.0 ** t
            gb = grad * out * log_a
        return ga, gb


class Maximum(Function):
    @staticmethod
    def forward(ctx, a, b):
        out = ctx.xp.maximum(a, b)
        ctx.save_for_backward(a, b)
        return out

    @staticmethod
    def backward(ctx, grad):
        # Ties send half to each side, as torch.maximum does.
        a, b = ctx.saved_tensors
        xp = ctx.xp
        wa = xp.where(a > b, 1.0, xp.where(a == b, 0.5, 0.0))
        wa = xp.astype(wa, grad.dtype)
        return grad * wa, grad * (1 - wa)


class Minimum(Function):
    @staticmethod
    def forward(ctx, a, b):
        ctx.save_for_backward(a, b)
        return ctx.xp.minimum(a, b)

    @staticmethod
    def backward(ctx, grad):
        a, b = ctx.saved_tensors
        xp = ctx.xp
        wa = xp.astype(xp.where(a < b, 1.0, xp.where(a == b, 0.5, 0.0)), grad.dtype)
        return grad * wa, grad * (1 - wa)


class Where(Function):
    @staticmethod
    def forward(ctx, cond, a, b):
        ctx.cond = cond
        return ctx.xp.where(cond, a, b)

    @staticmethod
    def backward(ctx, grad):
        zero = ctx.xp.zeros_like(grad)
        return None, ctx.xp.where(ctx.cond, grad, zero), ctx.xp.where(ctx.cond, zero, grad)


# ------------------------------------------------------------------------------- elementwise unary


class Neg(Function):
    @staticmethod
    def forward(ctx, a):
        return -a

    @staticmethod
    def backward(ctx, grad):
        return (-grad,)


class Exp(Function):
    @staticmethod
    def forward(ctx, a):
        out = ctx.xp.exp(a)
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx, grad):
        (out,) = ctx.saved_tensors
        return (grad * out,)


class Log(Function):
    @staticmethod
    def forward(ctx, a):
        ctx.save_for_backward(a)
        return ctx.xp.log(a)

    @staticmethod
    def backward(ctx, grad):
        (a,) = ctx.saved_tensors
        return (grad / a,)


class Sqrt(Function):
    @staticmethod
    def forward(ctx, a):
        out = ctx.xp.sqrt(a)
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx, grad):
        (out,) = ctx.saved_tensors
        return (grad / (2 * out),)


class Abs(Function):
    @staticmethod
    def forward(ctx, a):
        ctx.save_for_backward(a)
        return ctx.xp.abs(a)

    @staticmethod
    def backward(ctx, grad):
        (a,) = ctx.saved_tensors
        return (grad * ctx.xp.astype(ctx.xp.sign(a), grad.dtype),)


class Relu(Function):
    @staticmethod
    def forward(ctx, a):
        # maximum with a scalar is one pass (where + zeros_like is three) and keeps NaN and maps -inf to 0.
        out = ctx.xp.maximum(a, 0)
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx, grad):
        (out,) = ctx.saved_tensors
        return (grad * (out > 0),)  # multiplying by the boolean mask is one fused pass


class LeakyRelu(Function):
    @staticmethod
    def forward(ctx, a, negative_slope):
        ctx.save_for_backward(a)
        ctx.slope = negative_slope
        return ctx.xp.where(a > 0, a, a * negative_slope)

    @staticmethod
    def backward(ctx, grad):
        (a,) = ctx.saved_tensors
        return ctx.xp.where(a > 0, grad, grad * ctx.slope), None


def stable_sigmoid(xp: Any, a: Any) -> Any:
    """``1 / (1 + e^-a)`` of a raw array, split by sign so exp never overflows: ``e^a / (1 + e^a)`` for a < 0."""
    e = xp.exp(-xp.abs(a))
    return xp.where(a >= 0, 1 / (1 + e), e / (1 + e))


class Sigmoid(Function):
    @staticmethod
    def forward(ctx, a):
        out = stable_sigmoid(ctx.xp, a)
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx, grad):
        (out,) = ctx.saved_tensors
        return (grad * out * (1 - out),)


class Tanh(Function):
    @staticmethod
    def forward(ctx, a):
        out = ctx.xp.tanh(a)
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx, grad):
        (out,) = ctx.saved_tensors
        return (grad * (1 - out * out),)

def erfc(xp: Any, x: Any) -> Any:
    """``erfc`` of a float raw array from the array library's own special functions: torch's (the triton
    device), CuPy's ``cupyx.scipy.special`` (cupy) or SciPy's (numpy: the cpu device and the CUDA emulator).

    erfc rather than erf, so the small left tail of the normal CDF keeps its relative accuracy.
    float16/bfloat16 are computed in float32 and rounded back.
    """
    native = getattr(xp, "erfc", None)
    if native is not None:
        return native(x)
    work = x if x.dtype in (xp.float32, xp.float64) else xp.astype(x, xp.float32)
    if isinstance(work, np.ndarray | np.generic):  # numpy turns 0-d results into scalars (np.float32)
        from scipy.special import erfc as special_erfc
    else:
        from cupyx.scipy.special import erfc as special_erfc
    out = special_erfc(work)
    return out if out.dtype == x.dtype else xp.astype(out, x.dtype)


class Clamp(Function):
    @staticmethod
    def forward(ctx, a, lo, hi):
        xp = ctx.xp
        out = a
        if lo is not None:
            out = xp.maximum(out, xp.asarray(lo, dtype=a.dtype))
        if hi is not None:
            out = xp.minimum(out, xp.asarray(hi, dtype=a.dtype))
        ctx.save_for_backward(a)
        ctx.lo, ctx.hi = lo, hi
        return out

    @staticmethod
    def backward(ctx, grad):
        (a,) = ctx.saved_tensors
        inside = ctx.xp.ones_like(a, dtype=ctx.xp.bool)
        if ctx.lo is not None:
            inside = inside & (a >= ctx.lo)
        if ctx.hi is not None:
            inside = inside & (a <= ctx.hi)
        return ctx.xp.where(inside, grad, ctx.xp.zeros_like(grad)), None, None


class Cast(Function):
    @staticmethod
    def forward(ctx, a, dtype):
        ctx.src = a.dtype
        return ctx.xp.astype(a, dtype)

    @staticmethod
    def backward(ctx, grad):
        return ctx.xp.astype(grad, ctx.src), None


# ------------------------------------------------------------------------------------------ matmul


class MatMul(Function):
    """Batched ``a @ b`` for operands with ndim >= 2 (Tensor.__matmul__ lifts 1-D operands)."""

    @staticmethod
    def forward(ctx, a, b):
        _save_operands(ctx, a, b)
        return a @ b

    @staticmethod
    def backward(ctx, grad):
        a, b = ctx.saved_tensors
        need_a, need_b = ctx.needs_input_grad
        xp = ctx.xp
        ga = grad @ xp.matrix_transpose(b) if need_a else None
        gb = xp.matrix_transpose(a) @ grad if need_b else None
        return ga, gb


# -------------------------------------------------------------------------------------- reductions


class Sum(Function):
    @staticmethod
    def forward(ctx, a, axis, keepdims):
        ctx.shape, ctx.axes, ctx.keepdims = a.shape, _reduce_axes(axis, a.ndim), keepdims
        return ctx.xp.sum(a, axis=ctx.axes, keepdims=keepdims)

    @staticmethod
    def backward(ctx, grad):
        grad = _expand_reduced(ctx, grad, ctx.shape, ctx.axes, ctx.keepdims)
        return ctx.xp.broadcast_to(grad, tuple(ctx.shape)), None, None


class Mean(Function):
    @staticmethod
    def forward(ctx, a, axis, keepdims):
        ctx.shape, ctx.axes, ctx.keepdims = a.shape, _reduce_axes(axis, a.ndim), keepdims
        ctx.count = math.prod(a.shape[i] for i in ctx.axes)
        return ctx.xp.mean(a, axis=ctx.axes, keepdims=keepdims)

    @staticmethod
    def backward(ctx, grad):
        grad = _expand_reduced(ctx, grad, ctx.shape, ctx.axes, ctx.keepdims) / ctx.count
        return ctx.xp.broadcast_to(grad, tuple(ctx.shape)), None, None


class Amax(Function):
    """Max over axes; the gradient is shared evenly between tied maxima (as torch.amax does)."""

    reduce = "max"

    @staticmethod
    def forward(ctx, a, axis, keepdims):
        xp = ctx.xp
        axes = _reduce_axes(axis, a.ndim)
        out = getattr(xp, ctx.fn.reduce)(a, axis=axes, keepdims=True)
        ctx.save_for_backward(a, out)
        ctx.shape, ctx.axes, ctx.keepdims = a.shape, axes, keepdims
        return out if keepdims else xp.reshape(out, tuple(n for i, n in enumerate(a.shape) if i not in axes))

    @staticmethod
    def backward(ctx, grad):
        xp = ctx.xp
        a, out = ctx.saved_tensors
        grad = _expand_reduced(ctx, grad, ctx.shape, ctx.axes, ctx.keepdims)
        hit = xp.astype(a == out, grad.dtype)
        return grad * hit / xp.sum(hit, axis=ctx.axes, keepdims=True), None, None


class Amin(Amax):
    """Min over axes, as :class:`Amax` (not ``-amax(-a)``: negation wraps unsigned ints and refuses bool)."""

    reduce = "min"


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


# ---------------------------------------------------------------------------------------- shapes


class Reshape(Function):
    @staticmethod
    def forward(ctx, a, shape):
        ctx.shape = a.shape
        return ctx.xp.reshape(a, shape)

    @staticmethod
    def backward(ctx, grad):
        return ctx.xp.reshape(grad, tuple(ctx.shape)), None


class Permute(Function):
    @staticmethod
    def forward(ctx, a, axes):
        ctx.axes = axes
        return ctx.xp.permute_dims(a, axes)

    @staticmethod
    def backward(ctx, grad):
        inverse = [0] * len(ctx.axes)
        for i, ax in enumerate(ctx.axes):
            inverse[ax] = i
        return ctx.xp.permute_dims(grad, tuple(inverse)), None


class Expand(Function):
    @staticmethod
    def forward(ctx, a, shape):
        return ctx.xp.broadcast_to(a, shape)

    @staticmethod
    def backward(ctx, grad):
        return grad, None  # the engine sums the broadcast axes back


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


class Concat(Function):
    """Concatenate along ``axis``; inputs are positional so each gets its own gradient slice."""

    @staticmethod
    def forward(ctx, *arrays, axis=0):
        ctx.axis = axis
        ctx.sizes = [a.shape[axis] for a in arrays]
        return ctx.xp.concat(arrays, axis=axis)

    @staticmethod
    def backward(ctx, grad):
        out, start = [], 0
        for n in ctx.sizes:
            index = [slice(None)] * grad.ndim
            index[ctx.axis] = slice(start, start + n)
            out.append(grad[tuple(index)])
            start += n
        return tuple(out)


class Stack(Function):
    @staticmethod
    def forward(ctx, *arrays, axis=0):
        ctx.axis = axis
        ctx.count = len(arrays)
        return ctx.xp.stack(arrays, axis=axis)

    @staticmethod
    def backward(ctx, grad):
        index = [slice(None)] * grad.ndim
        out = []
        for i in range(ctx.count):
            index[ctx.axis] = i
            out.append(grad[tuple(index)])
        return tuple(out)


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


class Cumsum(Function):
    """Running sum along ``axis``; backward is the running sum of the gradient taken from the other end."""

    @staticmethod
    def forward(ctx, a, axis, dtype):
        ctx.axis = axis
        return ctx.xp.cumulative_sum(a, axis=axis, dtype=dtype)

    @staticmethod
    def backward(ctx, grad):
        xp = ctx.xp
        return xp.flip(xp.cumulative_sum(xp.flip(grad, axis=ctx.axis), axis=ctx.axis), axis=ctx.axis), None, None


class Triangle(Function):
    """``tril`` (``upper=False``) or ``triu`` of the last two dims; the gradient keeps the same triangle."""

    @staticmethod
    def forward(ctx, a, diagonal, upper):
        ctx.diagonal, ctx.upper = diagonal, upper
        return (ctx.xp.triu if upper else ctx.xp.tril)(a, k=diagonal)

    @staticmethod
    def backward(ctx, grad):
        return (ctx.xp.triu if ctx.upper else ctx.xp.tril)(grad, k=ctx.diagonal), None, None


class Einsum(Function):
    """``einsum(equation, *operands)`` for an explicit equation (``"ij,jk->ik"``; no ``...``, no repeated
    subscript inside one operand: Tensor-level :func:`framework.tensor.einsum` rewrites and checks that).

    The gradient of operand ``i`` is itself an einsum: the output gradient contracted with every other
    operand, producing operand ``i``'s subscripts. A subscript that only operand ``i`` has (summed away
    in the forward) is missing from that product; it is put back by broadcasting, since the forward
    summed it with weight 1.
    """

    @staticmethod
    def forward(ctx, *operands, equation):
        inputs, output = equation.split("->")
        ctx.terms, ctx.output = inputs.split(","), output  # not ctx.inputs: the engine's parents
        ctx.save_for_backward(*operands)
        return ctx.xp.einsum(equation, *operands)

    @staticmethod
    def backward(ctx, grad):
        xp = ctx.xp
        operands = ctx.saved_tensors
        grads = []
        for i, (subs, a) in enumerate(zip(ctx.terms, operands, strict=True)):
            if not ctx.needs_input_grad[i]:
                grads.append(None)
                continue
            others = [(s, o) for j, (s, o) in enumerate(zip(ctx.terms, operands, strict=True)) if j != i]
            known = set(ctx.output).union(*(s for s, _ in others))
            kept = "".join(c for c in subs if c in known)
            terms = ",".join([ctx.output] + [s for s, _ in others])
            g = xp.einsum(f"{terms}->{kept}", grad, *(o for _, o in others))
            # Reinsert subscripts summed only in this operand (size 1, then broadcast), and broadcast
            # size-1 dims that met a bigger one elsewhere; the engine sums any broadcast back.
            sizes = iter(g.shape)
            g = xp.reshape(g, tuple(next(sizes) if c in known else 1 for c in subs))
            # The operand's own sizes (0 included: not max(0, 1)), except a size-1 dim that met a bigger one.
            grads.append(xp.broadcast_to(g, tuple(m if n == 1 else n for n, m in zip(a.shape, g.shape, strict=True))))
        return tuple(grads)


class Sin(Function):
    @staticmethod
    def forward(ctx, a):
        ctx.save_for_backward(a)
        return ctx.xp.sin(a)

    @staticmethod
    def backward(ctx, grad):
        (a,) = ctx.saved_tensors
        return (grad * ctx.xp.cos(a),)


class Erf(Function):
    """erf(a) = 1 - erfc(a); d/da = 2/sqrt(pi) exp(-a^2)."""

    @staticmethod
    def forward(ctx, a):
        ctx.save_for_backward(a)
        return 1 - erfc(ctx.xp, a)

    @staticmethod
    def backward(ctx, grad):
        (a,) = ctx.saved_tensors
        return (grad * (2 / math.sqrt(math.pi)) * ctx.xp.exp(-a * a),)


class Atan2(Function):
    """atan2(a, b), the angle of (b, a); d/da = b / (a^2 + b^2), d/db = -a / (a^2 + b^2)."""

    @staticmethod
    def forward(ctx, a, b):
        ctx.save_for_backward(a, b)
        return ctx.xp.atan2(a, b)

    @staticmethod
    def backward(ctx, grad):
        a, b = ctx.saved_tensors
        scale = grad / (a * a + b * b)
        return scale * b, -scale * a


class Cos(Function):
    @staticmethod
    def forward(ctx, a):
        ctx.save_for_backward(a)
        return ctx.xp.cos(a)

    @staticmethod
    def backward(ctx, grad):
        (a,) = ctx.saved_tensors
        return (-grad * ctx.xp.sin(a),)


class Log1p(Function):
    """``log(1 + a)``, accurate for tiny ``a`` (where ``log(1 + a)`` rounds ``1 + a`` to 1)."""

    @staticmethod
    def forward(ctx, a):
        ctx.save_for_backward(a)
        return ctx.xp.log1p(a)

    @staticmethod
    def backward(ctx, grad):
        (a,) = ctx.saved_tensors
        return (grad / (1 + a),)


class Expm1(Function):
    """``exp(a) - 1``, accurate for tiny ``a``."""

    @staticmethod
    def forward(ctx, a):
        out = ctx.xp.expm1(a)
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx, grad):
        (out,) = ctx.saved_tensors
        return (grad * (out + 1),)


class StepLike(Function):
    """``sign``/``floor``/``ceil``/``round``/``trunc``: piecewise constant, so the gradient is zero (as PyTorch)."""

    @staticmethod
    def forward(ctx, a, name):
        return getattr(ctx.xp, name)(a)

    @staticmethod
    def backward(ctx, grad):
        return ctx.xp.zeros_like(grad), None


class Flip(Function):
    @staticmethod
    def forward(ctx, a, axes):
        ctx.axes = axes
        return ctx.xp.flip(a, axis=axes)

    @staticmethod
    def backward(ctx, grad):
        return ctx.xp.flip(grad, axis=ctx.axes), None


class Roll(Function):
    """Shift elements along ``axes`` (or the flattened array for ``axes=None``), wrapping around."""

    @staticmethod
    def forward(ctx, a, shifts, axes):
        ctx.shifts, ctx.axes = shifts, axes
        return ctx.xp.roll(a, shifts, axis=axes)

    @staticmethod
    def backward(ctx, grad):
        back = tuple(-s for s in ctx.shifts) if isinstance(ctx.shifts, tuple) else -ctx.shifts
        return ctx.xp.roll(grad, back, axis=ctx.axes), None, None


class NanToNum(Function):
    """Replace NaN, +inf and -inf; the replaced elements get no gradient (as PyTorch)."""

    @staticmethod
    def forward(ctx, a, nan, posinf, neginf):
        xp = ctx.xp
        ctx.finite = xp.isfinite(a)
        out = xp.where(xp.isnan(a), xp.asarray(nan, dtype=a.dtype), a)
        out = xp.where(a == float("inf"), xp.asarray(posinf, dtype=a.dtype), out)
        return xp.where(a == float("-inf"), xp.asarray(neginf, dtype=a.dtype), out)

    @staticmethod
    def backward(ctx, grad):
        return ctx.xp.where(ctx.finite, grad, ctx.xp.zeros_like(grad)), None, None, None


class Norm2(Function):
    """Euclidean norm over ``axes``; its gradient ``a / norm`` is taken as 0 where the norm is 0 (as
    PyTorch), not the NaN that composing ``sqrt(sum(a * a))`` gives there."""

    @staticmethod
    def forward(ctx, a, axis, keepdims):
        xp = ctx.xp
        ctx.shape, ctx.axes, ctx.keepdims = a.shape, _reduce_axes(axis, a.ndim), keepdims
        norm = xp.sqrt(xp.sum(a * a, axis=ctx.axes, keepdims=True))
        ctx.save_for_backward(a, norm)
        return norm if keepdims else xp.reshape(norm, tuple(n for i, n in enumerate(a.shape) if i not in ctx.axes))

    @staticmethod
    def backward(ctx, grad):
        xp = ctx.xp
        a, norm = ctx.saved_tensors
        grad = _expand_reduced(ctx, grad, ctx.shape, ctx.axes, ctx.keepdims)
        safe = xp.where(norm == 0, xp.ones_like(norm), norm)
        return xp.where(norm == 0, xp.zeros_like(a), grad * a / safe), None, None


class NormP(Function):
    """The vector ``p``-norm ``sum(|a|^p)^(1/p)`` over ``axes`` for a finite ``p > 0`` other than 2, and
    the count of nonzeros for ``p = 0``. Gradient: PyTorch's ``sgn(a) |a|^(p-1) / norm^(p-1)``, taken as 0
    where the norm is 0 (and, for p < 1, where ``a`` is 0) instead of the 0 * inf = NaN that composing
    ``abs() ** p`` and ``** (1/p)`` gives there; ``p = 0`` is a constant with no gradient, as PyTorch."""

    @staticmethod
    def forward(ctx, a, p, axis, keepdims):
        xp = ctx.xp
        ctx.shape, ctx.axes, ctx.keepdims, ctx.p = a.shape, _reduce_axes(axis, a.ndim), keepdims, p
        if p == 0:
            norm = xp.sum(xp.astype(a != 0, a.dtype), axis=ctx.axes, keepdims=True)
        else:
            norm = xp.sum(xp.abs(a) ** p, axis=ctx.axes, keepdims=True) ** (1.0 / p)
        ctx.save_for_backward(a, norm)
        return norm if keepdims else xp.reshape(norm, tuple(n for i, n in enumerate(a.shape) if i not in ctx.axes))

    @staticmethod
    def backward(ctx, grad):
        xp = ctx.xp
        a, norm = ctx.saved_tensors
        p = ctx.p
        grad = _expand_reduced(ctx, grad, ctx.shape, ctx.axes, ctx.keepdims)
        if p == 0:  # a constant: no gradient (PyTorch leaves .grad None too)
            return None, None, None, None
        zero = xp.zeros_like(a)
        absa = xp.abs(a)
        if p < 1:  # |a|^(p-1) is inf at a = 0, where the gradient is 0
            scaled = xp.where(a == 0, zero, xp.sign(a) * xp.where(a == 0, xp.ones_like(a), absa) ** (p - 1))
            return scaled * grad * norm ** (1 - p), None, None, None
        safe = xp.where(norm == 0, xp.ones_like(norm), norm)
        scale = xp.where(norm == 0, xp.zeros_like(norm), 1 / safe ** (p - 1))
        return xp.sign(a) * absa ** (p - 1) * grad * scale, None, None, None


class Prod(Function):
    """Product along one ``axis``. The gradient of each element is the product of the others, taken as
    (product of those before) x (product of those after) so that zeros need no division."""

    @staticmethod
    def forward(ctx, a, axis, keepdims):
        xp = ctx.xp
        ctx.axis, ctx.keepdims = axis, keepdims
        ctx.save_for_backward(a)
        return xp.prod(a, axis=axis, keepdims=keepdims)

    @staticmethod
    def backward(ctx, grad):
        xp = ctx.xp
        (a,) = ctx.saved_tensors
        axis = ctx.axis
        if not ctx.keepdims:
            grad = xp.expand_dims(grad, axis=axis)
        before = xp.cumulative_prod(a, axis=axis, include_initial=True)
        after = xp.flip(xp.cumulative_prod(xp.flip(a, axis=axis), axis=axis, include_initial=True), axis=axis)
        n = a.shape[axis]
        index = [slice(None)] * a.ndim
        index[axis] = slice(0, n)
        before = before[tuple(index)]
        index[axis] = slice(1, n + 1)
        after = after[tuple(index)]
        return grad * before * after, None, None


class StdSqrt(Function):
    """``sqrt`` of a variance for ``std``: PyTorch's std gradient is 0 where the std is 0 (a constant
    group), where a plain sqrt's ``grad / (2 * 0)`` would make it NaN."""

    @staticmethod
    def forward(ctx, a):
        out = ctx.xp.sqrt(a)
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx, grad):
        (out,) = ctx.saved_tensors
        xp = ctx.xp
        zero = out == 0
        return (xp.where(zero, xp.zeros_like(grad), grad / (2 * xp.where(zero, xp.ones_like(out), out))),)
