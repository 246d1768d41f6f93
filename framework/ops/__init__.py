"""Differentiable ops: every autograd :class:`~framework.autograd.Function`, one module per family.

Each op's forward and backward sit side by side and work on raw arrays through ``ctx.xp``, the device's
array-api namespace, so one definition serves numpy, torch and cupy storage. Gradients may be returned in
the broadcast shape: the autograd engine un-broadcasts them (see :func:`framework.autograd.unbroadcast`).

The generic families (elementwise, activation, matmul, reduce, shape, indexing, loss, normalization,
embedding, rnn) need only ``ctx.xp``; the kernel-backed families call the device's kernel package,
``ctx.backend.kernels`` (see :mod:`framework.backend`); ``ctx.needs_input_grad`` (set before forward runs)
lets conv2d skip the backward kernels nobody needs and cross-entropy skip dlogits outside a recorded graph:

====================================  =================================================================
op (module)                           kernels used (forward / backward)
====================================  =================================================================
Conv2d (conv2d.py)                    conv2d_forward / conv2d_backward_input, _weight, _bias
ConvTranspose2d (conv2d.py)           conv2d_backward_input / conv2d_forward, conv2d_backward_weight, _bias
MaxPool2d (maxpool2d.py)              maxpool2d_forward -> (y, compact argmax) / maxpool2d_backward
ReluMaxPool2d (maxpool2d.py)          relu_maxpool2d_forward (argmax -1 where the ReLU zeroes) / relu_maxpool2d_backward
Conv2dReluMaxPool2d (conv2d.py)       the numpy backend's conv2d_relu_maxpool2d_forward / _backward (CPU extension)
Linear (linear_relu.py)               linear_forward (bias + ReLU epilogue) / linear_backward (mask inside)
SoftmaxCrossEntropy (softmax_xent.py) softmax_cross_entropy_forward (loss, and dlogits only when wanted) /
                                      softmax_cross_entropy_backward
Dropout (dropout.py)                  dropout_forward / dropout_backward (mask regenerated from (seed, offset))
====================================  =================================================================
"""

from ._dims import (
    _reduce_axes,  # noqa: F401 - the Tensor layer's reductions use it as ops._reduce_axes
    broadcast_shapes,
    normalize_dim,
    normalize_dims,
)
from .activation import (
    Elu,
    Gelu,
    Hardsigmoid,
    Hardswish,
    Hardtanh,
    LeakyRelu,
    LogSoftmax,
    Mish,
    Prelu,
    Relu,
    Sigmoid,
    Silu,
    Softmax,
    Softplus,
    Tanh,
    stable_sigmoid,
)
from .conv2d import Conv2d, Conv2dReluMaxPool2d, ConvTranspose2d, DilateWeight
from .dropout import Dropout
from .elementwise import (
    Abs,
    Add,
    Atan2,
    Cast,
    Clamp,
    Cos,
    Div,
    DivFloor,
    Erf,
    Exp,
    Expm1,
    FloorDivide,
    Log,
    Log1p,
    Maximum,
    Minimum,
    Mul,
    NanToNum,
    Neg,
    Pow,
    Remainder,
    Sin,
    Sqrt,
    StepLike,
    Sub,
    Where,
    erfc,
)
from .embedding import Embedding, EmbeddingRenorm
from .indexing import GetItem, IndexPut, MaskedFill, Scatter, ScatterAdd, TakeAlongAxis
from .linear_relu import Linear
from .loss import BCEWithLogits, BinaryCrossEntropy, KLDiv
from .matmul import Einsum, MatMul
from .maxpool2d import MaxPool2d, PoolWinner, ReluMaxPool2d
from .normalization import Normalize
from .reduce import Amax, Amin, Cumsum, Mean, Norm2, NormP, Prod, StdSqrt, Sum, Var
from .rnn import GRULayer, LSTMLayer, RNNLayer
from .shape import Concat, Expand, Flip, Permute, Reshape, Roll, Stack, Triangle
from .softmax_xent import SoftmaxCrossEntropy

__all__ = [
    "Abs", "Add", "Amax", "Amin", "Atan2", "BCEWithLogits", "BinaryCrossEntropy", "Cast", "Clamp", "Concat", "Conv2d",
    "Conv2dReluMaxPool2d", "ConvTranspose2d", "Cos", "Cumsum", "DilateWeight", "Div", "DivFloor", "Dropout", "Einsum",
    "Elu", "Embedding", "EmbeddingRenorm", "Erf", "Exp", "Expand", "Expm1", "Flip", "FloorDivide", "Gelu", "GetItem",
    "Hardsigmoid", "Hardswish", "Hardtanh", "IndexPut", "KLDiv", "LeakyRelu", "Linear", "Log", "Log1p", "LogSoftmax",
    "MaskedFill", "MatMul", "MaxPool2d", "Maximum", "Mean", "Minimum", "Mish", "Mul", "NanToNum", "Neg", "Norm2",
    "NormP", "Normalize", "Permute", "PoolWinner", "Pow", "Prelu", "Prod", "Relu", "ReluMaxPool2d", "Remainder",
    "Reshape", "Roll", "Scatter", "ScatterAdd", "Sigmoid", "Silu", "Sin", "Softmax", "SoftmaxCrossEntropy", "Softplus",
    "Sqrt", "Stack", "StdSqrt", "StepLike", "Sub", "Sum", "TakeAlongAxis", "Tanh", "Triangle", "Var", "Where",
    "broadcast_shapes", "erfc", "normalize_dim", "normalize_dims", "stable_sigmoid",
    "GRULayer", "LSTMLayer", "RNNLayer",  # rnn.py: one node per recurrent layer and direction
]
