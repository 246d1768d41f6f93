"""Activation functions and softmax (PyTorch's names and arguments)."""

from __future__ import annotations

import math
from typing import Any

from ... import ops
from ...ops.activation import Elu, Gelu, Hardtanh, Mish, Silu, Softplus
from ...tensor import Tensor
from ._args import _check_float_input, _check_tensor

# ---------------------------------------------------------------------------------- activations


def relu(input: Tensor, inplace: bool = False) -> Tensor:
    return ops.Relu.apply(input)


def leaky_relu(input: Tensor, negative_slope: float = 0.01, inplace: bool = False) -> Tensor:
    _check_float_input(input)  # PyTorch has no integer leaky_relu; numpy and torch would differ here
    return ops.LeakyRelu.apply(input, float(negative_slope))


def sigmoid(input: Tensor) -> Tensor:
    _check_tensor(input, "input")
    return input.sigmoid()  # integer input computes in float32, as in PyTorch


def tanh(input: Tensor) -> Tensor:
    _check_tensor(input, "input")
    return input.tanh()


def gelu(input: Tensor, approximate: str = "none") -> Tensor:
    """GELU, PyTorch's ``F.gelu``: ``x * Phi(x)`` with the exact normal CDF (``approximate='none'``), or
    ``0.5 * x * (1 + tanh(sqrt(2/pi) * (x + 0.044715 x^3)))`` (``approximate='tanh'``).

    The exact form uses the device library's erfc (torch, SciPy or CuPy; see :func:`framework.ops.erfc`).
    Raises ValueError for another ``approximate``.
    """
    _check_float_input(input)
    if approximate == "none":
        return Gelu.apply(input)
    if approximate == "tanh":
        inner = (input + input * input * input * 0.044715) * math.sqrt(2.0 / math.pi)
        # (1 + tanh(u)) / 2 == sigmoid(2u), which does not cancel to 0 in the left tail.
        return input * ops.Sigmoid.apply(inner * 2.0)
    raise ValueError(f"gelu(): approximate must be 'none' or 'tanh', got {approximate!r}")


def elu(input: Tensor, alpha: float = 1.0, inplace: bool = False) -> Tensor:
    """ELU, PyTorch's ``F.elu``: ``x`` for ``x > 0``, else ``alpha * (exp(x) - 1)``.

    ``inplace=True`` is accepted and returns a new tensor (same values; tensors are never modified in place).
    """
    _check_float_input(input)
    return Elu.apply(input, float(alpha))


def silu(input: Tensor, inplace: bool = False) -> Tensor:
    """SiLU (swish), PyTorch's ``F.silu``: ``x * sigmoid(x)``; ``inplace=True`` returns a new tensor."""
    _check_float_input(input)
    return Silu.apply(input)


def softplus(input: Tensor, beta: float = 1.0, threshold: float = 20.0) -> Tensor:
    """Softplus, PyTorch's ``F.softplus``: ``log(1 + exp(beta * x)) / beta``, and ``x`` where
    ``beta * x > threshold``."""
    _check_float_input(input)
    return Softplus.apply(input, float(beta), float(threshold))


def hardtanh(input: Tensor, min_val: float = -1.0, max_val: float = 1.0, inplace: bool = False) -> Tensor:
    """HardTanh, PyTorch's ``F.hardtanh``: ``x`` clamped to ``[min_val, max_val]``, gradient 0 outside the
    open interval. ``inplace=True`` returns a new tensor. Raises ValueError if ``min_val > max_val``."""
    _check_float_input(input)
    if min_val > max_val:
        raise ValueError(f"hardtanh(): min_val ({min_val}) cannot be greater than max_val ({max_val})")
    return Hardtanh.apply(input, float(min_val), float(max_val))


def mish(input: Tensor, inplace: bool = False) -> Tensor:
    """Mish, PyTorch's ``F.mish``: ``x * tanh(softplus(x))``; ``inplace=True`` returns a new tensor."""
    _check_float_input(input)
    return Mish.apply(input)


def softmax(input: Tensor, dim: int | None = None, dtype: Any = None) -> Tensor:
    """PyTorch's ``F.softmax``; ``dim=None`` is its legacy implicit dim (see :meth:`Tensor.softmax`)."""
    _check_tensor(input, "input")
    return input.softmax(dim, dtype)


def log_softmax(input: Tensor, dim: int | None = None, dtype: Any = None) -> Tensor:
    """PyTorch's ``F.log_softmax`` (see :meth:`Tensor.log_softmax`)."""
    _check_tensor(input, "input")
    return input.log_softmax(dim, dtype)
