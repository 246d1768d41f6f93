"""``torch.*`` function forms of Tensor methods: ``fw.sum(x, 1)`` is ``x.sum(1)``, ``fw.gather(x, 1, i)``
is ``x.gather(1, i)``, with PyTorch's argument names and orders.

Thin wrappers only: the checks and the autograd live in the methods (:mod:`framework.tensor`). They sit
in their own module because several of them (``sum``, ``max``, ``min``, ``abs``, ``all``, ``any``,
``pow``) would shadow Python builtins inside tensor.py.
"""

from __future__ import annotations

from typing import Any

from .tensor import SortResult, Tensor, matmul, maximum, minimum, type_name

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
    from .nn import functional as F

    x = _tensor("softmax", input)
    return F.softmax(x if dtype is None else x.to(dtype), dim)


def log_softmax(input: Tensor, dim: int, dtype: Any = None) -> Tensor:  # noqa: A002
    from .nn import functional as F

    x = _tensor("log_softmax", input)
    return F.log_softmax(x if dtype is None else x.to(dtype), dim)


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
