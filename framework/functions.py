"""``torch.*`` function forms of Tensor methods: ``fw.sum(x, 1)`` is ``x.sum(1)``, ``fw.gather(x, 1, i)``
is ``x.gather(1, i)``, with PyTorch's argument names and orders.

Thin wrappers only: the checks and the autograd live in the methods (:mod:`framework.tensor`). They sit
in their own module because several of them (``sum``, ``max``, ``min``, ``abs``, ``all``, ``any``,
``pow``) would shadow Python builtins inside tensor.py.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from . import ops
from .dtypes import as_dtype
from .tensor import SortResult, Tensor, cat, matmul, maximum, minimum, randn, tensor, type_name, where

__all__ = [
    "abs", "all", "amax", "amin", "any", "argmax", "argmin", "argsort", "bmm", "clamp", "clip", "cumsum", "eq",
    "equal", "flatten", "gather", "ge", "gt", "index_select", "is_floating_point", "is_tensor", "isfinite",
    "isinf", "isnan", "le", "log_softmax", "lt", "masked_fill", "max", "mean", "min", "mm", "multinomial", "ne",
    "nonzero", "numel", "permute", "pow", "reshape", "scatter", "scatter_add", "softmax", "sort", "sqrt",
    "squeeze", "std", "sum", "t", "topk", "transpose", "tril", "triu", "unsqueeze", "var",
    # more torch.* forms
    "allclose", "argwhere", "bernoulli", "broadcast_to", "ceil", "chunk", "clamp_max", "clamp_min", "clone", "cos",
    "count_nonzero", "diag", "dot", "expm1", "flip", "floor", "isclose", "log10", "log1p", "log2",
    "logical_and", "logical_not", "logical_or", "logical_xor", "logsumexp", "masked_select", "meshgrid",
    "movedim", "mv", "nan_to_num", "narrow", "neg", "negative", "norm", "outer", "prod", "ravel", "reciprocal",
    "repeat_interleave", "roll", "round", "rsqrt", "sign", "sin", "split", "square",
    "swapaxes", "tile", "trace", "trunc", "unbind", "unflatten",
    # arithmetic function forms, stacking, small reductions and lookups (H9, the API coverage table)
    "add", "addmm", "atan2", "bucketize", "cdist", "diff", "div", "erf", "finfo", "floor_divide", "hstack", "iinfo",
    "fmod", "lerp", "logspace", "median", "mul", "normal", "remainder", "std_mean", "sub", "true_divide", "unique",
    "var_mean", "vstack",
]


def _tensor(name: str, input: Any) -> Tensor:  # noqa: A002 - torch's name
    if not isinstance(input, Tensor):
        raise TypeError(f"{name}(): input must be a Tensor, got {type_name(input)}")
    return input


def is_tensor(obj: Any) -> bool:
    return isinstance(obj, Tensor)


def is_floating_point(input: Tensor) -> bool:  # noqa: A002
    return _tensor("is_floating_point", input).dtype.is_floating_point


def numel(input: Tensor) -> int:  # noqa: A002
    return _tensor("numel", input).numel()


# ------------------------------------------------------------------------------------ elementwise


def abs(input: Tensor) -> Tensor:  # noqa: A001, A002 - torch's names
    return _tensor("abs", input).abs()


def sqrt(input: Tensor) -> Tensor:  # noqa: A002
    return _tensor("sqrt", input).sqrt()


def pow(input: Any, exponent: Any) -> Tensor:  # noqa: A001, A002
    """``input ** exponent``; either may be a Python number (not both)."""
    if not isinstance(input, Tensor) and not isinstance(exponent, Tensor):
        raise TypeError("pow(): input or exponent must be a Tensor")
    return input**exponent


def clamp(input: Tensor, min: Any = None, max: Any = None) -> Tensor:  # noqa: A002
    return _tensor("clamp", input).clamp(min, max)


clip = clamp


def softmax(input: Tensor, dim: int, dtype: Any = None) -> Tensor:  # noqa: A002
    return _tensor("softmax", input).softmax(dim, dtype)


def log_softmax(input: Tensor, dim: int, dtype: Any = None) -> Tensor:  # noqa: A002
    return _tensor("log_softmax", input).log_softmax(dim, dtype)


def eq(input: Tensor, other: Any) -> Tensor:  # noqa: A002
    return _tensor("eq", input) == other


def ne(input: Tensor, other: Any) -> Tensor:  # noqa: A002
    return _tensor("ne", input) != other


def gt(input: Tensor, other: Any) -> Tensor:  # noqa: A002
    return _tensor("gt", input) > other


def lt(input: Tensor, other: Any) -> Tensor:  # noqa: A002
    return _tensor("lt", input) < other


def ge(input: Tensor, other: Any) -> Tensor:  # noqa: A002
    return _tensor("ge", input) >= other


def le(input: Tensor, other: Any) -> Tensor:  # noqa: A002
    return _tensor("le", input) <= other


def equal(input: Tensor, other: Tensor) -> bool:  # noqa: A002
    return _tensor("equal", input).equal(other)


def isnan(input: Tensor) -> Tensor:  # noqa: A002
    return _tensor("isnan", input).isnan()


def isinf(input: Tensor) -> Tensor:  # noqa: A002
    return _tensor("isinf", input).isinf()


def isfinite(input: Tensor) -> Tensor:  # noqa: A002
    return _tensor("isfinite", input).isfinite()


def masked_fill(input: Tensor, mask: Tensor, value: Any) -> Tensor:  # noqa: A002
    return _tensor("masked_fill", input).masked_fill(mask, value)


# ------------------------------------------------------------------------------------- reductions


def sum(input: Tensor, dim: Any = None, keepdim: bool = False, *, dtype: Any = None) -> Tensor:  # noqa: A001, A002
    return _tensor("sum", input).sum(dim, keepdim, dtype=dtype)


def mean(input: Tensor, dim: Any = None, keepdim: bool = False, *, dtype: Any = None) -> Tensor:  # noqa: A002
    return _tensor("mean", input).mean(dim, keepdim, dtype=dtype)


def var(input: Tensor, dim: Any = None, unbiased: Any = None, keepdim: bool = False, *,  # noqa: A002
        correction: Any = None) -> Tensor:
    return _tensor("var", input).var(dim, unbiased, keepdim, correction=correction)


def std(input: Tensor, dim: Any = None, unbiased: Any = None, keepdim: bool = False, *,  # noqa: A002
        correction: Any = None) -> Tensor:
    return _tensor("std", input).std(dim, unbiased, keepdim, correction=correction)


def max(input: Tensor, dim: Any = None, keepdim: bool = False) -> Any:  # noqa: A001, A002
    """``max(x)`` -> the maximum; ``max(x, dim)`` -> ``(values, indices)``; ``max(x, other)`` -> maximum."""
    x = _tensor("max", input)
    return maximum(x, dim) if isinstance(dim, Tensor) else x.max(dim, keepdim)


def min(input: Tensor, dim: Any = None, keepdim: bool = False) -> Any:  # noqa: A001, A002
    """``min(x)``, ``min(x, dim)`` or ``min(x, other)``, like :func:`max`."""
    x = _tensor("min", input)
    return minimum(x, dim) if isinstance(dim, Tensor) else x.min(dim, keepdim)


def amax(input: Tensor, dim: Any = None, keepdim: bool = False) -> Tensor:  # noqa: A002
    return _tensor("amax", input).amax(dim, keepdim)


def amin(input: Tensor, dim: Any = None, keepdim: bool = False) -> Tensor:  # noqa: A002
    return _tensor("amin", input).amin(dim, keepdim)


def argmax(input: Tensor, dim: int | None = None, keepdim: bool = False) -> Tensor:  # noqa: A002
    return _tensor("argmax", input).argmax(dim, keepdim)


def argmin(input: Tensor, dim: int | None = None, keepdim: bool = False) -> Tensor:  # noqa: A002
    return _tensor("argmin", input).argmin(dim, keepdim)


def all(input: Tensor, dim: Any = None, keepdim: bool = False) -> Tensor:  # noqa: A001, A002
    return _tensor("all", input).all(dim, keepdim)


def any(input: Tensor, dim: Any = None, keepdim: bool = False) -> Tensor:  # noqa: A001, A002
    return _tensor("any", input).any(dim, keepdim)


def cumsum(input: Tensor, dim: int, *, dtype: Any = None) -> Tensor:  # noqa: A002
    return _tensor("cumsum", input).cumsum(dim, dtype=dtype)


def sort(input: Tensor, dim: int = -1, descending: bool = False, stable: bool = False) -> SortResult:  # noqa: A002
    return _tensor("sort", input).sort(dim, descending, stable)


def argsort(input: Tensor, dim: int = -1, descending: bool = False, stable: bool = False) -> Tensor:  # noqa: A002
    return _tensor("argsort", input).argsort(dim, descending, stable)


def topk(input: Tensor, k: int, dim: int = -1, largest: bool = True, sorted: bool = True) -> SortResult:  # noqa: A002
    return _tensor("topk", input).topk(k, dim, largest, sorted)


def multinomial(input: Tensor, num_samples: int, replacement: bool = False, *, generator: Any = None) -> Tensor:  # noqa: A002
    return _tensor("multinomial", input).multinomial(num_samples, replacement, generator=generator)


def nonzero(input: Tensor, *, as_tuple: bool = False) -> Any:  # noqa: A002
    return _tensor("nonzero", input).nonzero(as_tuple=as_tuple)


# ----------------------------------------------------------------------------------------- shapes


def reshape(input: Tensor, shape: Any) -> Tensor:  # noqa: A002
    return _tensor("reshape", input).reshape(shape)


def flatten(input: Tensor, start_dim: int = 0, end_dim: int = -1) -> Tensor:  # noqa: A002
    return _tensor("flatten", input).flatten(start_dim, end_dim)


def unsqueeze(input: Tensor, dim: int) -> Tensor:  # noqa: A002
    return _tensor("unsqueeze", input).unsqueeze(dim)


def squeeze(input: Tensor, dim: Any = None) -> Tensor:  # noqa: A002
    return _tensor("squeeze", input).squeeze(dim)


def transpose(input: Tensor, dim0: int, dim1: int) -> Tensor:  # noqa: A002
    return _tensor("transpose", input).transpose(dim0, dim1)


def permute(input: Tensor, dims: Any) -> Tensor:  # noqa: A002
    return _tensor("permute", input).permute(dims)


def t(input: Tensor) -> Tensor:  # noqa: A002
    return _tensor("t", input).t()


def tril(input: Tensor, diagonal: int = 0) -> Tensor:  # noqa: A002
    return _tensor("tril", input).tril(diagonal)


def triu(input: Tensor, diagonal: int = 0) -> Tensor:  # noqa: A002
    return _tensor("triu", input).triu(diagonal)


# --------------------------------------------------------------------------------------- indexing


def gather(input: Tensor, dim: int, index: Tensor) -> Tensor:  # noqa: A002
    return _tensor("gather", input).gather(dim, index)


def scatter(input: Tensor, dim: int, index: Tensor, src: Any = None, *, value: Any = None,  # noqa: A002
            reduce: Any = None) -> Tensor:
    return _tensor("scatter", input).scatter(dim, index, src, value=value, reduce=reduce)


def scatter_add(input: Tensor, dim: int, index: Tensor, src: Tensor) -> Tensor:  # noqa: A002
    return _tensor("scatter_add", input).scatter_add(dim, index, src)


def index_select(input: Tensor, dim: int, index: Tensor) -> Tensor:  # noqa: A002
    return _tensor("index_select", input).index_select(dim, index)


# ------------------------------------------------------------------------------------------ linalg


def bmm(input: Tensor, mat2: Tensor) -> Tensor:  # noqa: A002
    return _tensor("bmm", input).bmm(mat2)


def mm(input: Tensor, mat2: Tensor) -> Tensor:  # noqa: A002
    """Matrix product of two 2-D tensors (no broadcasting)."""
    if _tensor("mm", input).ndim != 2 or not isinstance(mat2, Tensor) or mat2.ndim != 2:
        shape2 = mat2.shape if isinstance(mat2, Tensor) else type(mat2).__name__
        raise ValueError(f"mm(): both operands must be 2-D tensors, got {input.shape} and {shape2}")
    return matmul(input, mat2)


# ---------------------------------------------------------------------------- more torch.* forms


def _unary(name: str):
    def fn(input: Tensor) -> Tensor:  # noqa: A002
        return getattr(_tensor(name, input), name)()

    fn.__name__ = fn.__qualname__ = name
    fn.__doc__ = f"``torch.{name}(input)``: :meth:`Tensor.{name}`."
    return fn


sin, cos, log1p, expm1, log2, log10 = (_unary(n) for n in ("sin", "cos", "log1p", "expm1", "log2", "log10"))
square, reciprocal, rsqrt, neg, sign = (_unary(n) for n in ("square", "reciprocal", "rsqrt", "neg", "sign"))
floor, ceil, trunc, clone, argwhere, ravel, trace = (
    _unary(n) for n in ("floor", "ceil", "trunc", "clone", "argwhere", "ravel", "trace"))
logical_not = _unary("logical_not")
negative = neg


def round(input: Tensor, *, decimals: int = 0) -> Tensor:  # noqa: A001, A002
    return _tensor("round", input).round(decimals=decimals)


def clamp_min(input: Tensor, min: Any) -> Tensor:  # noqa: A002
    return _tensor("clamp_min", input).clamp_min(min)


def clamp_max(input: Tensor, max: Any) -> Tensor:  # noqa: A002
    return _tensor("clamp_max", input).clamp_max(max)


def nan_to_num(input: Tensor, nan: float = 0.0, posinf: float | None = None,  # noqa: A002
               neginf: float | None = None) -> Tensor:
    return _tensor("nan_to_num", input).nan_to_num(nan, posinf, neginf)


def logsumexp(input: Tensor, dim: Any, keepdim: bool = False) -> Tensor:  # noqa: A002
    return _tensor("logsumexp", input).logsumexp(dim, keepdim)


def norm(input: Tensor, p: Any = "fro", dim: Any = None, keepdim: bool = False, dtype: Any = None) -> Tensor:  # noqa: A002
    return _tensor("norm", input).norm(p, dim, keepdim, dtype)


def prod(input: Tensor, dim: Any = None, keepdim: bool = False, *, dtype: Any = None) -> Tensor:  # noqa: A002
    return _tensor("prod", input).prod(dim, keepdim, dtype=dtype)


def count_nonzero(input: Tensor, dim: Any = None) -> Tensor:  # noqa: A002
    return _tensor("count_nonzero", input).count_nonzero(dim)


def logical_and(input: Tensor, other: Any) -> Tensor:  # noqa: A002
    return _tensor("logical_and", input).logical_and(other)


def logical_or(input: Tensor, other: Any) -> Tensor:  # noqa: A002
    return _tensor("logical_or", input).logical_or(other)


def logical_xor(input: Tensor, other: Any) -> Tensor:  # noqa: A002
    return _tensor("logical_xor", input).logical_xor(other)


def isclose(input: Tensor, other: Any, rtol: float = 1e-05, atol: float = 1e-08,  # noqa: A002
            equal_nan: bool = False) -> Tensor:
    return _tensor("isclose", input).isclose(other, rtol, atol, equal_nan)


def allclose(input: Tensor, other: Any, rtol: float = 1e-05, atol: float = 1e-08,  # noqa: A002
             equal_nan: bool = False) -> bool:
    return _tensor("allclose", input).allclose(other, rtol, atol, equal_nan)


def flip(input: Tensor, dims: Any) -> Tensor:  # noqa: A002
    return _tensor("flip", input).flip(dims)


def roll(input: Tensor, shifts: Any, dims: Any = None) -> Tensor:  # noqa: A002
    return _tensor("roll", input).roll(shifts, dims)


def unbind(input: Tensor, dim: int = 0) -> tuple[Tensor, ...]:  # noqa: A002
    return _tensor("unbind", input).unbind(dim)


def chunk(input: Tensor, chunks: int, dim: int = 0) -> tuple[Tensor, ...]:  # noqa: A002
    return _tensor("chunk", input).chunk(chunks, dim)


def split(tensor: Tensor, split_size_or_sections: Any, dim: int = 0) -> tuple[Tensor, ...]:
    return _tensor("split", tensor).split(split_size_or_sections, dim)


def narrow(input: Tensor, dim: int, start: Any, length: int) -> Tensor:  # noqa: A002
    return _tensor("narrow", input).narrow(dim, start, length)


def masked_select(input: Tensor, mask: Tensor) -> Tensor:  # noqa: A002
    return _tensor("masked_select", input).masked_select(mask)


def repeat_interleave(input: Tensor, repeats: Any, dim: int | None = None) -> Tensor:  # noqa: A002
    return _tensor("repeat_interleave", input).repeat_interleave(repeats, dim)


def diag(input: Tensor, diagonal: int = 0) -> Tensor:  # noqa: A002
    return _tensor("diag", input).diag(diagonal)


def dot(input: Tensor, other: Tensor) -> Tensor:  # noqa: A002
    return _tensor("dot", input).dot(other)


def mv(input: Tensor, vec: Tensor) -> Tensor:  # noqa: A002
    return _tensor("mv", input).mv(vec)


def outer(input: Tensor, vec2: Tensor) -> Tensor:  # noqa: A002
    return _tensor("outer", input).outer(vec2)


def movedim(input: Tensor, source: Any, destination: Any) -> Tensor:  # noqa: A002
    return _tensor("movedim", input).movedim(source, destination)


def swapaxes(input: Tensor, axis0: int, axis1: int) -> Tensor:  # noqa: A002
    return _tensor("swapaxes", input).swapaxes(axis0, axis1)


def broadcast_to(input: Tensor, size: Any) -> Tensor:  # noqa: A002
    return _tensor("broadcast_to", input).broadcast_to(size)


def tile(input: Tensor, dims: Any) -> Tensor:  # noqa: A002
    return _tensor("tile", input).tile(dims)


def unflatten(input: Tensor, dim: int, sizes: Any) -> Tensor:  # noqa: A002
    return _tensor("unflatten", input).unflatten(dim, sizes)


def bernoulli(input: Tensor, *, generator: Any = None) -> Tensor:  # noqa: A002
    return _tensor("bernoulli", input).bernoulli(generator=generator)


def meshgrid(*tensors: Tensor, indexing: str = "ij") -> tuple[Tensor, ...]:
    """Coordinate grids from 1-D tensors; ``indexing="ij"`` (matrix, the default here and PyTorch's
    current behaviour) or ``"xy"`` (the first two grids' dims swapped, as numpy's default)."""
    if len(tensors) == 1 and isinstance(tensors[0], list | tuple):
        tensors = tuple(tensors[0])
    if indexing not in ("ij", "xy"):
        raise ValueError(f"meshgrid(): indexing must be 'ij' or 'xy', got {indexing!r}")
    for t in tensors:
        if not isinstance(t, Tensor) or t.ndim > 1:
            raise ValueError("meshgrid(): expects 0-D or 1-D tensors")
    sizes = [t.numel() for t in tensors]
    swap = indexing == "xy" and len(tensors) >= 2
    if swap:
        sizes[0], sizes[1] = sizes[1], sizes[0]
    grids = []
    for i, t in enumerate(tensors):
        axis = {0: 1, 1: 0}.get(i, i) if swap else i
        shape = [1] * len(tensors)
        shape[axis] = -1
        grids.append(t.reshape(shape).expand(tuple(sizes)))
    return tuple(grids)


# ------------------------------------------------------------------- arithmetic function forms

def add(input: Any, other: Any, *, alpha: Any = 1) -> Tensor:  # noqa: A002
    """``input + alpha * other``; either may be a number."""
    if isinstance(input, Tensor):
        return input.add(other, alpha=alpha)
    return _tensor("add", other) * alpha + input


def sub(input: Any, other: Any, *, alpha: Any = 1) -> Tensor:  # noqa: A002
    """``input - alpha * other``; either may be a number."""
    if isinstance(input, Tensor):
        return input.sub(other, alpha=alpha)
    return input - _tensor("sub", other) * alpha


def mul(input: Any, other: Any) -> Tensor:  # noqa: A002
    return input * other if isinstance(input, Tensor) else _tensor("mul", other) * input


def div(input: Any, other: Any, *, rounding_mode: str | None = None) -> Tensor:  # noqa: A002
    """``input / other`` (true division), or rounded with ``rounding_mode`` 'trunc' / 'floor'."""
    if not isinstance(input, Tensor):
        input = _tensor("div", other).new_tensor(input)  # noqa: A001
    return input.div(other, rounding_mode=rounding_mode)


def true_divide(input: Any, other: Any) -> Tensor:  # noqa: A002
    return div(input, other)


def floor_divide(input: Any, other: Any) -> Tensor:  # noqa: A002
    return input // other


def remainder(input: Any, other: Any) -> Tensor:  # noqa: A002
    """Python's modulus (the result has the divisor's sign), as PyTorch's ``remainder``."""
    return input % other


def fmod(input: Tensor, other: Any) -> Tensor:  # noqa: A002
    """C's remainder: the result has the dividend's sign (``remainder`` follows the divisor's):
    ``input - trunc(input / other) * other``; gradient 1 for input and ``-trunc(input / other)`` for other."""
    x = _tensor("fmod", input)
    if x.dtype.is_floating_point or isinstance(other, float) or (
            isinstance(other, Tensor) and other.dtype.is_floating_point):
        return x - (x / other).trunc() * other
    r = x % other  # Python's remainder has the divisor's sign: move it to the dividend's where they differ
    return where((r != 0) & ((r < 0) != (x < 0)), r - other, r)


def atan2(input: Tensor, other: Tensor) -> Tensor:  # noqa: A002
    """The angle of the point ``(other, input)``, elementwise with broadcasting (integers compute in float32)."""
    x, y = _tensor("atan2", input), _tensor("atan2", other)
    x, y = x._promote(y, "atan2", divide=True)
    return ops.Atan2.apply(x, y)


def erf(input: Tensor) -> Tensor:  # noqa: A002
    return _tensor("erf", input).erf()


def lerp(input: Tensor, end: Tensor, weight: Any) -> Tensor:  # noqa: A002
    return _tensor("lerp", input).lerp(end, weight)


def addmm(input: Tensor, mat1: Tensor, mat2: Tensor, *, beta: Any = 1, alpha: Any = 1) -> Tensor:  # noqa: A002
    """``beta * input + alpha * (mat1 @ mat2)``; with ``beta=0`` ``input`` is ignored (NaN in it too)."""
    product = _tensor("addmm", mat1) @ _tensor("addmm", mat2)
    product = product if alpha == 1 else product * alpha
    if beta == 0:
        return product
    return product + (input if beta == 1 else input * beta)


def var_mean(input: Tensor, dim: Any = None, unbiased: Any = None, keepdim: bool = False, *,  # noqa: A002
             correction: float | None = None) -> tuple[Tensor, Tensor]:
    """``(var, mean)`` over ``dim``, with :meth:`Tensor.var`'s signatures."""
    x = _tensor("var_mean", input)
    var = x.var(dim, unbiased, keepdim, correction=correction)
    if isinstance(dim, bool):  # var_mean(x, False): the legacy 'unbiased' position
        dim = None
    return var, (x.mean() if dim is None else x.mean(dim, keepdim=keepdim))


def std_mean(input: Tensor, dim: Any = None, unbiased: Any = None, keepdim: bool = False, *,  # noqa: A002
             correction: float | None = None) -> tuple[Tensor, Tensor]:
    """``(std, mean)`` over ``dim``, with :meth:`Tensor.std`'s signatures."""
    x = _tensor("std_mean", input)
    std = x.std(dim, unbiased, keepdim, correction=correction)
    if isinstance(dim, bool):
        dim = None
    return std, (x.mean() if dim is None else x.mean(dim, keepdim=keepdim))


def hstack(tensors: Any) -> Tensor:
    """Concatenate along dim 1 (dim 0 for 1-D tensors)."""
    tensors = list(tensors)
    if not tensors:
        raise ValueError("hstack(): expects a non-empty sequence of tensors")
    tensors = [_tensor("hstack", t).reshape(1) if t.ndim == 0 else t for t in tensors]
    return cat(tensors, dim=0 if tensors[0].ndim == 1 else 1)


def vstack(tensors: Any) -> Tensor:
    """Concatenate along dim 0, 0-D and 1-D tensors first made rows."""
    tensors = list(tensors)
    if not tensors:
        raise ValueError("vstack(): expects a non-empty sequence of tensors")
    return cat([_tensor("vstack", t).reshape(1, -1) if t.ndim < 2 else t for t in tensors], dim=0)


def diff(input: Tensor, n: int = 1, dim: int = -1, prepend: Tensor | None = None,  # noqa: A002
         append: Tensor | None = None) -> Tensor:
    """``n``-th forward difference along ``dim`` (``prepend``/``append`` concatenated first)."""
    x = _tensor("diff", input)
    if not isinstance(n, int) or n < 0:
        raise ValueError(f"diff(): order n must be a non-negative int, got {n!r}")
    if prepend is not None or append is not None:
        x = cat([t for t in (prepend, x, append) if t is not None], dim=dim)
    for _ in range(n):
        length = x.shape[dim]
        if length == 0:
            break
        x = x.narrow(dim, 1, length - 1) - x.narrow(dim, 0, length - 1)
    return x


def cdist(x1: Tensor, x2: Tensor, p: float = 2.0, compute_mode: str | None = None) -> Tensor:
    """Pairwise ``p``-norm distances between the rows of ``x1 [*, P, M]`` and ``x2 [*, R, M]`` -> ``[*, P, R]``
    (gradient 0 at a zero distance for p=2, as PyTorch); ``compute_mode`` is accepted and ignored."""
    a, b = _tensor("cdist", x1), _tensor("cdist", x2)
    if a.ndim < 2 or b.ndim < 2 or a.shape[-1] != b.shape[-1]:
        raise ValueError(f"cdist(): x1 and x2 must be at least 2-D with the same last dim, got {a.shape} and {b.shape}")
    return (a.unsqueeze(-2) - b.unsqueeze(-3)).norm(p=p, dim=-1)


def median(input: Tensor, dim: int | None = None, keepdim: bool = False) -> Any:  # noqa: A002
    """The lower median of all elements (a 0-d tensor), or ``(values, indices)`` along ``dim``; the
    gradient goes to the chosen element. Inputs holding NaN are refused (PyTorch propagates the NaN)."""
    x = _tensor("median", input)
    if x.dtype.is_floating_point and bool(x.isnan().any()):
        raise NotImplementedError("median(): inputs holding NaN are not supported")
    if dim is None:
        flat = x.reshape(-1)
        if flat.numel() == 0:
            raise ValueError("median(): cannot take the median of an empty tensor")
        return flat.sort()[0][(flat.numel() - 1) // 2]
    values, indices = x.sort(dim)
    k = (x.shape[dim] - 1) // 2
    values, indices = values.narrow(dim, k, 1), indices.narrow(dim, k, 1)
    if not keepdim:
        values, indices = values.squeeze(dim), indices.squeeze(dim)
    return SortResult(values, indices)


# --------------------------------------------------------------- lookups computed on the host (no grad)

def unique(input: Tensor, sorted: bool = True, return_inverse: bool = False,  # noqa: A002
           return_counts: bool = False, dim: int | None = None) -> Any:
    """The sorted distinct values (and, as asked, each element's index into them and each value's count).
    ``dim`` is not supported (NotImplementedError)."""
    x = _tensor("unique", input)
    if dim is not None:
        raise NotImplementedError("unique(dim=...) is not supported; unique over all elements only")
    values, inverse, counts = np.unique(x.numpy(), return_inverse=True, return_counts=True)
    out = [tensor(values, dtype=x.dtype, device=x.device)]
    if return_inverse:
        out.append(tensor(inverse.reshape(x.shape).astype(np.int64), device=x.device))
    if return_counts:
        out.append(tensor(counts.astype(np.int64), device=x.device))
    return out[0] if len(out) == 1 else tuple(out)


def bucketize(input: Any, boundaries: Tensor, *, out_int32: bool = False, right: bool = False) -> Tensor:  # noqa: A002
    """For each value, the index of its bucket in the sorted 1-D ``boundaries``: ``right=False`` gives the
    first ``i`` with ``value <= boundaries[i]``, ``right=True`` the first with ``value < boundaries[i]``."""
    b = _tensor("bucketize", boundaries)
    if b.ndim != 1:
        raise ValueError(f"bucketize(): boundaries must be 1-D, got shape {b.shape}")
    x = input if isinstance(input, Tensor) else b.new_tensor(input)
    idx = np.searchsorted(b.numpy(), x.numpy(), side="right" if right else "left")
    return tensor(np.asarray(idx, dtype=np.int32 if out_int32 else np.int64), device=x.device)


def logspace(start: float, end: float, steps: int, base: float = 10.0, *, dtype: Any = None,
             device: Any = None, requires_grad: bool = False) -> Tensor:
    """``base ** linspace(start, end, steps)`` (float32 by default)."""
    if not isinstance(steps, int) or steps < 0:
        raise ValueError(f"logspace(): steps must be a non-negative int, got {steps!r}")
    values = np.logspace(float(start), float(end), steps, base=base)
    return tensor(values, dtype=dtype or "float32", device=device, requires_grad=requires_grad)


def normal(mean: Any, std: Any = 1.0, size: Any = None, *, dtype: Any = None, device: Any = None) -> Tensor:
    """Normal samples: ``normal(mean, std, size)`` with numbers, or elementwise with tensor means/stds."""
    if isinstance(mean, Tensor) or isinstance(std, Tensor):
        like = mean if isinstance(mean, Tensor) else std
        if size is not None:
            raise ValueError("normal(): size is only taken with a number mean and std")
        shape = np.broadcast_shapes(tuple(getattr(mean, "shape", ())), tuple(getattr(std, "shape", ())))
        return mean + std * randn(*shape, dtype=like.dtype, device=like.device)
    if size is None:
        raise TypeError("normal(): with a number mean and std, size must be given")
    return randn(*(size if isinstance(size, tuple | list) else (size,)), dtype=dtype, device=device) * std + mean


class finfo:  # noqa: N801 - torch's name
    """Machine limits of a floating-point dtype (``bits eps max min tiny smallest_normal resolution``)."""

    def __init__(self, type: Any = None):  # noqa: A002 - torch's name
        self.dtype = as_dtype(type if type is not None else "float32")
        if not self.dtype.is_floating_point:
            raise TypeError(f"finfo(): {self.dtype} is not a floating-point dtype (use iinfo)")
        info = np.finfo(np.float32 if str(self.dtype) == "bfloat16" else np.dtype(str(self.dtype)))
        if str(self.dtype) == "bfloat16":  # 8 exponent bits like float32, 8 significand bits
            self.bits, self.eps, self.max = 16, 2.0 ** -7, float.fromhex("0x1.fep127")
            self.tiny = self.smallest_normal = float(info.tiny)
            self.resolution = 0.01
        else:
            self.bits, self.eps, self.max = info.bits, float(info.eps), float(info.max)
            self.tiny = self.smallest_normal = float(info.tiny)
            self.resolution = float(info.resolution)
        self.min = -self.max


class iinfo:  # noqa: N801 - torch's name
    """Limits of an integer dtype (``bits max min``)."""

    def __init__(self, type: Any):  # noqa: A002 - torch's name
        self.dtype = as_dtype(type)
        if self.dtype.is_floating_point or str(self.dtype) == "bool":
            raise TypeError(f"iinfo(): {self.dtype} is not an integer dtype (use finfo)")
        info = np.iinfo(np.dtype(str(self.dtype)))
        self.bits, self.max, self.min = info.bits, int(info.max), int(info.min)
