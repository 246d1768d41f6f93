"""kernelgrad: a kernel-optimized deep-learning mini-framework with PyTorch's names.

``import framework as fw``; tensors live on a device (``cpu``, ``triton``, ``cupy`` or ``cuda`` for the
best GPU backend present); ``framework.nn``, ``framework.optim``, ``framework.data`` and
``framework.train`` build on them.
"""

from . import dtypes
from .autograd import Function, enable_grad, is_grad_enabled, no_grad
from .backend import available_devices, get_backend, get_default_device, register_backend, set_default_device
from .dtypes import DType, bfloat16, bool_, float16, float32, float64, int8, int16, int32, int64, uint8
from .random import manual_seed
from .tensor import (
    Tensor,
    arange,
    cat,
    exp,
    from_dlpack,
    full,
    log,
    matmul,
    maximum,
    minimum,
    ones,
    ones_like,
    rand,
    rand_like,
    randint,
    randn,
    randn_like,
    relu,
    sigmoid,
    stack,
    tanh,
    tensor,
    where,
    zeros,
    zeros_like,
)

half, double, long = float16, float64, int64

__version__ = "0.1.0"

__all__ = [
    "DType", "Function", "Tensor", "arange", "available_devices", "bfloat16", "bool_", "cat", "double",
    "dtypes", "enable_grad", "exp", "float16", "from_dlpack", "float32", "float64", "full", "get_backend",
    "get_default_device", "half", "int8", "int16", "int32", "int64", "is_grad_enabled", "log", "long",
    "manual_seed", "matmul", "maximum", "minimum", "no_grad", "ones", "ones_like", "rand", "rand_like",
    "randint", "randn", "randn_like", "register_backend", "relu", "set_default_device", "sigmoid",
    "stack", "tanh", "tensor", "uint8", "where", "zeros", "zeros_like",
]
