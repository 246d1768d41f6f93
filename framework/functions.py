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
