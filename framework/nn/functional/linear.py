"""linear and the fused linear_relu."""

from __future__ import annotations

from ...ops.linear_relu import Linear
from ...tensor import Tensor
from ._args import _check_float, _check_tensor


def _linear(input: Tensor, weight: Tensor, bias: Tensor | None, relu: bool, name: str) -> Tensor:
    _check_tensor(input, "input")
    _check_tensor(weight, "weight", (2,))
    if input.ndim == 0 or input.shape[-1] != weight.shape[1]:
        raise ValueError(f"{name}(): input shape {input.shape} does not match weight shape {weight.shape} "
                         f"(input.shape[-1] must equal weight.shape[1] = {weight.shape[1]})")
    if bias is not None:
        _check_tensor(bias, "bias", (1,))
        if bias.shape[0] != weight.shape[0]:
            raise ValueError(f"{name}(): bias shape {bias.shape} does not match weight shape {weight.shape}")
    if input.dtype != weight.dtype:
        raise TypeError(f"{name}(): input dtype {input.dtype} and weight dtype {weight.dtype} differ")
    lead = input.shape[:-1]
    _check_float(input, "input")
    x2 = input if input.ndim == 2 else input.reshape(-1, input.shape[-1])
    y = Linear.apply(x2, weight, bias, relu)
    return y if input.ndim == 2 else y.reshape(lead + (weight.shape[0],))


def linear(input: Tensor, weight: Tensor, bias: Tensor | None = None) -> Tensor:
    """``input @ weight.T + bias``; input [*, in], weight [out, in], bias [out] -> [*, out]."""
    return _linear(input, weight, bias, False, "linear")


def linear_relu(input: Tensor, weight: Tensor, bias: Tensor | None = None) -> Tensor:
    """``relu(linear(input, weight, bias))`` as one fused kernel call (bias and ReLU in the epilogue)."""
    return _linear(input, weight, bias, True, "linear_relu")
