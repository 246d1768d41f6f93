"""kernelgrad: a kernel-optimized deep-learning mini-framework with PyTorch's names.

``import framework as fw``; tensors live on a device (``cpu``, ``triton``, ``cupy`` or ``cuda`` for the
best GPU backend present); ``framework.nn``, ``framework.optim``, ``framework.data`` and
``framework.train`` build on them.
"""

from . import autograd, cuda, dtypes, utils
from . import functions as _functions
from .autograd import (
    Function,
    enable_grad,
    inference_mode,
    is_grad_enabled,
    is_inference_mode_enabled,
    no_grad,
    set_grad_enabled,
)
from .backend import available_devices, device, get_backend, get_default_device, register_backend, set_default_device
from .dtypes import (
    DType,
    bfloat16,
    bool_,
    float16,
    float32,
    float64,
    get_default_dtype,
    int8,
    int16,
    int32,
    int64,
    uint8,
)
from .functions import (
    amax,
    amin,
    argmax,
    argmin,
    argsort,
    bmm,
    clamp,
    clip,
    cumsum,
    eq,
    equal,
    flatten,
    gather,
    ge,
    gt,
    index_select,
    is_floating_point,
    is_tensor,
    isfinite,
    isinf,
    isnan,
    le,
    log_softmax,
    lt,
    masked_fill,
    mean,
    mm,
    multinomial,
    ne,
    nonzero,
    numel,
    permute,
    reshape,
    scatter,
    scatter_add,
    softmax,
    sort,
    sqrt,
    squeeze,
    std,
    t,
    topk,
    transpose,
    tril,
    triu,
    unsqueeze,
    var,
)
from .random import Generator, manual_seed
from .serialization import load, save
from .tensor import (
    Tensor,
    arange,
    as_tensor,
    cat,
    einsum,
    empty,
    empty_like,
    exp,
    eye,
    from_dlpack,
    from_numpy,
    full,
    full_like,
    linspace,
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
    randperm,
    relu,
    sigmoid,
    stack,
    tanh,
    tensor,
    where,
    zeros,
    zeros_like,
)

# torch.sum, torch.max, ...: named like Python builtins, so left out of __all__ (below).
abs, all, any, max, min, pow, sum = (_functions.abs, _functions.all, _functions.any, _functions.max,  # noqa: A001
                                     _functions.min, _functions.pow, _functions.sum)
# PyTorch's dtype aliases: fw.float is float32, fw.int int32, fw.long int64, fw.bool bool, ...
float, double, half, long, int, short, bool = float32, float64, float16, int64, int32, int16, bool_  # noqa: A001

__version__ = "0.1.0"

__all__ = [
    "DType", "Function", "Generator", "Tensor", "arange", "available_devices", "bfloat16", "bool_", "cat", "double",
    "dtypes", "enable_grad", "exp", "float16", "from_dlpack", "float32", "float64", "full", "get_backend",
    "get_default_device", "half", "int8", "int16", "int32", "int64", "is_grad_enabled", "log", "long",
    "manual_seed", "matmul", "maximum", "minimum", "no_grad", "autograd", "inference_mode",
    "is_inference_mode_enabled", "set_grad_enabled", "utils", "ones", "ones_like", "rand", "rand_like",
    "randint", "randn", "randn_like", "register_backend", "relu", "set_default_device", "sigmoid",
    "stack", "tanh", "tensor", "uint8", "where", "zeros", "zeros_like",
]

# The port API of issue 12. Names that shadow Python builtins (float, int, bool, sum, max, min, abs, all,
# any, pow) are reachable as fw.<name> but left out of __all__, so `from framework import *` keeps them.
__all__ += [
    "amax", "amin", "argmax", "argmin", "argsort", "as_tensor", "bmm", "clamp", "clip", "cuda", "cumsum",
    "device", "einsum", "empty", "load", "save", "empty_like", "eq", "equal", "eye", "flatten", "from_numpy",
    "full_like", "gather", "ge", "get_default_dtype", "gt", "index_select", "is_floating_point",
    "is_tensor", "isfinite", "isinf", "isnan", "le", "linspace", "log_softmax", "lt", "masked_fill",
    "mean", "mm", "multinomial", "ne", "nonzero", "numel", "permute", "randperm", "reshape", "scatter",
    "scatter_add", "short", "softmax", "sort", "sqrt", "squeeze", "std", "t", "topk", "transpose", "tril",
    "triu", "unsqueeze", "var",
]
