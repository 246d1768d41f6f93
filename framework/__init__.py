"""kernelgrad: a kernel-optimized deep-learning mini-framework with PyTorch's names.

``import framework as fw``; tensors live on a device (``cpu``, ``triton``, ``cupy`` or ``cuda`` for the
best GPU backend present); ``framework.nn``, ``framework.optim``, ``framework.data`` and
``framework.train`` build on them.
"""

from . import accelerator, autograd, backends, cuda, dtypes, linalg, utils
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
    add,
    addmm,
    allclose,
    amax,
    amin,
    argmax,
    argmin,
    argsort,
    argwhere,
    atan2,
    bernoulli,
    bmm,
    broadcast_to,
    bucketize,
    cdist,
    ceil,
    chunk,
    clamp,
    clamp_max,
    clamp_min,
    clip,
    clone,
    cos,
    count_nonzero,
    cumsum,
    diag,
    diff,
    div,
    dot,
    eq,
    equal,
    erf,
    expm1,
    finfo,
    flatten,
    flip,
    floor,
    floor_divide,
    fmod,
    gather,
    ge,
    gt,
    hstack,
    iinfo,
    index_select,
    is_floating_point,
    is_tensor,
    isclose,
    isfinite,
    isinf,
    isnan,
    le,
    lerp,
    log1p,
    log2,
    log10,
    log_softmax,
    logical_and,
    logical_not,
    logical_or,
    logical_xor,
    logspace,
    logsumexp,
    lt,
    masked_fill,
    masked_select,
    mean,
    median,
    meshgrid,
    mm,
    movedim,
    mul,
    multinomial,
    mv,
    nan_to_num,
    narrow,
    ne,
    neg,
    negative,
    nonzero,
    norm,
    normal,
    numel,
    outer,
    permute,
    prod,
    ravel,
    reciprocal,
    remainder,
    repeat_interleave,
    reshape,
    roll,
    rsqrt,
    scatter,
    scatter_add,
    sign,
    sin,
    softmax,
    sort,
    split,
    sqrt,
    square,
    squeeze,
    std,
    std_mean,
    sub,
    swapaxes,
    t,
    tile,
    topk,
    trace,
    transpose,
    tril,
    triu,
    true_divide,
    trunc,
    unbind,
    unflatten,
    unique,
    unsqueeze,
    var,
    var_mean,
    vstack,
)
from .random import Generator, default_generator, manual_seed
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
abs, all, any, max, min, pow, round, sum = (  # noqa: A001
    _functions.abs, _functions.all, _functions.any, _functions.max, _functions.min, _functions.pow, _functions.round,
    _functions.sum)
# PyTorch's dtype aliases: fw.float is float32, fw.int int32, fw.long int64, fw.bool bool, ...
float, double, half, long, int, short, bool = float32, float64, float16, int64, int32, int16, bool_  # noqa: A001

__version__ = "0.1.0"

__all__ = [
    "DType", "Function", "Generator", "Tensor", "arange", "available_devices", "bfloat16", "bool_", "cat", "double",
    "dtypes", "enable_grad", "exp", "float16", "from_dlpack", "float32", "float64", "full", "get_backend",
    "get_default_device", "half", "int8", "int16", "int32", "int64", "is_grad_enabled", "log", "long",
    "manual_seed", "matmul", "maximum", "minimum", "no_grad", "accelerator", "autograd", "backends", "inference_mode",
    "is_inference_mode_enabled", "set_grad_enabled", "utils", "ones", "ones_like", "rand", "rand_like",
    "randint", "randn", "randn_like", "register_backend", "relu", "set_default_device", "sigmoid",
    "stack", "tanh", "tensor", "uint8", "where", "zeros", "zeros_like",
]

# The port API of issue 12. Names that shadow Python builtins (float, int, bool, sum, max, min, abs, all,
# any, pow, round) are reachable as fw.<name> but left out of __all__, so `from framework import *` keeps them.
__all__ += [
    "amax", "amin", "argmax", "argmin", "argsort", "as_tensor", "bmm", "clamp", "clip", "cuda", "cumsum",
    "device", "einsum", "empty", "load", "save", "empty_like", "eq", "equal", "eye", "flatten", "from_numpy",
    "full_like", "gather", "ge", "get_default_dtype", "gt", "index_select", "is_floating_point",
    "is_tensor", "isfinite", "isinf", "isnan", "le", "linspace", "log_softmax", "lt", "masked_fill",
    "mean", "mm", "multinomial", "ne", "nonzero", "numel", "permute", "randperm", "reshape", "scatter",
    "scatter_add", "short", "softmax", "sort", "sqrt", "squeeze", "std", "t", "topk", "transpose", "tril",
    "triu", "unsqueeze", "var",
    "allclose", "argwhere", "bernoulli", "broadcast_to", "ceil", "chunk", "clamp_max", "clamp_min", "clone",
    "cos", "count_nonzero", "diag", "dot", "expm1", "flip", "floor", "isclose", "log10", "log1p", "log2",
    "logical_and", "logical_not", "logical_or", "logical_xor", "logsumexp", "masked_select", "meshgrid",
    "movedim", "mv", "nan_to_num", "narrow", "neg", "negative", "norm", "outer", "prod", "ravel", "reciprocal",
    "repeat_interleave", "roll", "rsqrt", "sign", "sin", "split", "square", "swapaxes", "tile", "trace", "trunc",
    "unbind", "unflatten",
    "add", "addmm", "bucketize", "cdist", "diff", "div", "erf", "finfo", "floor_divide", "hstack", "iinfo",
    "lerp", "linalg", "logspace", "median", "mul", "normal", "remainder", "std_mean", "sub", "true_divide",
    "unique", "var_mean", "vstack", "default_generator", "atan2", "fmod",
]

# torch.nn and torch.optim are reachable after `import torch`; so are ours, loaded on first use (PEP 562), so
# that importing a lower layer (`import framework.tensor`, which runs this file first) never loads the layers
# above it.
__all__ += ["nn", "optim"]
_LAZY_SUBMODULES = ("nn", "optim")

# PyTorch names deliberately missing here raise an AttributeError saying so (framework/unsupported.py).
from .unsupported import module_getattr as _module_getattr  # noqa: E402

_unsupported_getattr = _module_getattr(__name__)


def __getattr__(name: str) -> object:
    if name in _LAZY_SUBMODULES:
        import importlib

        return importlib.import_module(f"{__name__}.{name}")
    return _unsupported_getattr(name)


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY_SUBMODULES))
