"""``framework.linalg``: the vector norms of PyTorch's ``torch.linalg`` (``norm``, ``vector_norm``).
Matrix norms (``ord`` given for a matrix, ``'nuc'``, spectral) are not supported: NotImplementedError."""

from __future__ import annotations

from typing import Any

from .tensor import Tensor, type_name

__all__ = ["norm", "vector_norm"]


def vector_norm(x: Tensor, ord: Any = 2, dim: Any = None, keepdim: bool = False, *,  # noqa: A002 - torch's name
                dtype: Any = None) -> Tensor:
    """The ``ord``-norm of the elements over ``dim`` (all by default), as ``Tensor.norm``."""
    if not isinstance(x, Tensor):
        raise TypeError(f"linalg.vector_norm(): x must be a Tensor, got {type_name(x)}")
    return x.norm(p=ord, dim=dim, keepdim=keepdim, dtype=dtype)


def norm(A: Tensor, ord: Any = None, dim: Any = None, keepdim: bool = False, *,  # noqa: A002, N803
         dtype: Any = None) -> Tensor:
    """``ord=None``: the 2-norm of the elements (Frobenius for a matrix); a vector norm when ``dim`` is an
    int or the input is 1-D. Matrix norms with an ``ord`` are not supported (NotImplementedError)."""
    if not isinstance(A, Tensor):
        raise TypeError(f"linalg.norm(): A must be a Tensor, got {type_name(A)}")
    matrix = (dim is None and A.ndim == 2) or (isinstance(dim, tuple | list) and len(dim) == 2)
    if ord is not None and matrix and ord != "fro":
        raise NotImplementedError(f"linalg.norm(): matrix norm ord={ord!r} is not supported (vector norms, "
                                  "ord=None and 'fro' only)")
    if dim is None and ord is not None and A.ndim > 2:
        raise ValueError("linalg.norm(): with ord given, the input must be 1-D or 2-D, or dim must be given")
    return A.norm(p=2 if ord in (None, "fro") else ord, dim=dim, keepdim=keepdim, dtype=dtype)
