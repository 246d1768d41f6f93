"""``framework.nn``: modules, parameters, initialisation and the functional API, with PyTorch's names.

``Module`` (module.py) is the base class; ``layers.py`` has Linear/conv/pooling/activation/reshaping
layers, ``container.py`` Sequential/ModuleList/ModuleDict/ParameterList/ParameterDict, ``loss.py`` the loss modules,
``normalization.py`` BatchNorm/LayerNorm/GroupNorm, the ``functional`` package (``F``, one module per family)
the functional API they call, ``init.py`` the initialisers and ``utils`` PyTorch's ``nn.utils`` helpers (packed
sequences, gradient clipping) and the Linear+ReLU fusion rule (``utils/fusion.py``).
"""

from . import functional, init, parallel, utils
from .container import ModuleDict, ModuleList, ParameterDict, ParameterList, Sequential
from .embedding import Embedding, Upsample
from .extra_layers import (
    CELU,
    GLU,
    SELU,
    Bilinear,
    ConstantPad2d,
    ConvTranspose1d,
    CosineSimilarity,
    Hardsigmoid,
    Hardswish,
    InstanceNorm1d,
    InstanceNorm2d,
    LogSigmoid,
    MarginRankingLoss,
    PairwiseDistance,
    PReLU,
    ReflectionPad2d,
    ReLU6,
    ReplicationPad2d,
    Softmin,
    Softsign,
    Tanhshrink,
    Threshold,
    TripletMarginLoss,
    ZeroPad2d,
)
from .layers import (
    ELU,
    GELU,
    AdaptiveAvgPool1d,
    AdaptiveAvgPool2d,
    AdaptiveMaxPool1d,
    AdaptiveMaxPool2d,
    AvgPool1d,
    AvgPool2d,
    Conv1d,
    Conv2d,
    ConvTranspose2d,
    Dropout,
    Dropout1d,
    Dropout2d,
    Dropout3d,
    Flatten,
    Hardtanh,
    Identity,
    LeakyReLU,
    Linear,
    LinearReLU,
    LogSoftmax,
    MaxPool1d,
    MaxPool2d,
    Mish,
    PixelShuffle,
    PixelUnshuffle,
    ReLU,
    Sigmoid,
    SiLU,
    Softmax,
    Softplus,
    Tanh,
    Unflatten,
)
from .loss import (
    BCELoss,
    BCEWithLogitsLoss,
    CrossEntropyLoss,
    HuberLoss,
    KLDivLoss,
    L1Loss,
    MSELoss,
    NLLLoss,
    SmoothL1Loss,
)
from .module import IncompatibleKeys, Module
from .normalization import BatchNorm1d, BatchNorm2d, BatchNorm3d, GroupNorm, LayerNorm
from .parallel import DataParallel
from .parameter import Parameter
from .rnn import GRU, LSTM, RNN, GRUCell, LSTMCell, RNNCell
from .transformer import MultiheadAttention, TransformerEncoder, TransformerEncoderLayer

__all__ = [
    "AdaptiveAvgPool2d", "AdaptiveMaxPool2d", "AvgPool2d",
    "BCELoss", "BCEWithLogitsLoss", "Conv2d", "ConvTranspose2d", "CrossEntropyLoss", "Dropout", "Flatten",
    "Identity", "IncompatibleKeys", "LeakyReLU", "Linear", "LinearReLU", "LogSoftmax", "MSELoss", "MaxPool2d",
    "Module", "ModuleDict", "ModuleList", "NLLLoss", "Parameter", "ReLU", "Sequential", "Sigmoid", "Softmax",
    "Tanh", "Unflatten", "functional", "init", "parallel", "utils", "DataParallel",
    "BatchNorm1d", "BatchNorm2d", "Embedding", "GRU", "GRUCell", "LSTM", "LSTMCell", "RNN", "RNNCell", "Upsample",
    "ELU", "GELU", "GroupNorm", "Hardtanh", "HuberLoss", "KLDivLoss", "L1Loss", "LayerNorm", "Mish", "SiLU",
    "SmoothL1Loss", "Softplus",
    "Dropout1d", "Dropout2d", "Dropout3d", "PixelShuffle", "PixelUnshuffle",
    "Conv1d", "ParameterDict", "ParameterList",
    "AdaptiveAvgPool1d", "AdaptiveMaxPool1d", "AvgPool1d", "MaxPool1d",
    "CELU", "GLU", "SELU", "Bilinear", "ConstantPad2d", "CosineSimilarity", "Hardsigmoid", "Hardswish",
    "InstanceNorm1d", "InstanceNorm2d", "LogSigmoid", "MarginRankingLoss", "PReLU", "PairwiseDistance", "ReLU6",
    "ReflectionPad2d", "ReplicationPad2d", "Softmin", "Softsign", "Tanhshrink", "Threshold", "TripletMarginLoss",
    "ZeroPad2d", "BatchNorm3d", "MultiheadAttention", "TransformerEncoder", "TransformerEncoderLayer",
    "ConvTranspose1d",
]

# PyTorch names deliberately missing here raise an AttributeError saying so (framework/unsupported.py).
from ..unsupported import module_getattr as _module_getattr  # noqa: E402

__getattr__ = _module_getattr(__name__)
