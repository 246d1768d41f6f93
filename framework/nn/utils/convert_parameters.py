"""PyTorch's ``parameters_to_vector`` / ``vector_to_parameters``: all parameters as one flat vector, and back."""

from __future__ import annotations

from collections.abc import Iterable

from ...autograd import no_grad
from ...tensor import Tensor, cat, type_name

__all__ = ["parameters_to_vector", "vector_to_parameters"]


def _tensors(parameters: Iterable[Tensor], fn: str) -> list[Tensor]:
    if isinstance(parameters, Tensor):
        raise TypeError(f"{fn}(): expected an iterable of Tensors, got a single Tensor")
    out = list(parameters)
    for p in out:
        if not isinstance(p, Tensor):
            raise TypeError(f"{fn}(): expected Tensors, got {type_name(p)}")
    return out


def parameters_to_vector(parameters: Iterable[Tensor]) -> Tensor:
    """One 1-D tensor holding every parameter's values in order (differentiable, as PyTorch's)."""
    params = _tensors(parameters, "parameters_to_vector")
    if not params:
        raise ValueError("parameters_to_vector(): got no parameters")
    return cat([p.reshape(-1) for p in params])


def vector_to_parameters(vec: Tensor, parameters: Iterable[Tensor]) -> None:
    """Copy consecutive slices of the 1-D ``vec`` into the parameters (in place, not recorded).

    Raises: TypeError for a non-Tensor ``vec``; ValueError when its length is not the parameters' total.
    """
    if not isinstance(vec, Tensor):
        raise TypeError(f"vector_to_parameters(): expected vec to be a Tensor, got {type_name(vec)}")
    params = _tensors(parameters, "vector_to_parameters")
    total = sum(p.numel() for p in params)
    if vec.ndim != 1 or vec.numel() != total:
        raise ValueError(f"vector_to_parameters(): vec must be 1-D with {total} elements (the parameters' total), "
                         f"got shape {vec.shape}")
    offset = 0
    with no_grad():
        for p in params:
            n = p.numel()
            p.copy_(vec[offset:offset + n].reshape(p.shape))
            offset += n
