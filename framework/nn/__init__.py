"""``framework.nn``: modules, parameters, initialisation and the functional API, with PyTorch's names.

``Module`` (module.py) is the base class; ``layers.py`` has Linear/conv/pooling/activation/reshaping
layers, ``container.py`` Sequential/ModuleList/ModuleDict, ``loss.py`` the loss modules,
``normalization.py`` BatchNorm1d/BatchNorm2d, ``functional.py`` (``F``) the differentiable ops they call,
``init.py`` the initialisers and ``utils`` PyTorch's ``nn.utils`` helpers (packed sequences, gradient
clipping).
"""

from . import functional, init, utils
from .container import ModuleDict, ModuleList, Sequential
from .embedding import Embedding, Upsample
from .layers import (
    Conv2d,
    ConvTranspose2d,
    Dropout,
    Flatten,
    Identity,
    LeakyReLU,
    Linear,
    LinearReLU,
    LogSoftmax,
    MaxPool2d,
    ReLU,
    Sigmoid,
    Softmax,
    Tanh,
    Unflatten,
)
from .loss import BCELoss, BCEWithLogitsLoss, CrossEntropyLoss, MSELoss, NLLLoss
from .module import IncompatibleKeys, Module
from .normalization import BatchNorm1d, BatchNorm2d
from .parameter import Parameter
from .rnn import GRU, LSTM, RNN, GRUCell, LSTMCell, RNNCell

__all__ = [
    "BCELoss", "BCEWithLogitsLoss", "Conv2d", "ConvTranspose2d", "CrossEntropyLoss", "Dropout", "Flatten",
    "Identity", "IncompatibleKeys", "LeakyReLU", "Linear", "LinearReLU", "LogSoftmax", "MSELoss", "MaxPool2d",
    "Module", "ModuleDict", "ModuleList", "NLLLoss", "Parameter", "ReLU", "Sequential", "Sigmoid", "Softmax",
    "Tanh", "Unflatten", "functional", "init", "utils",
    "BatchNorm1d", "BatchNorm2d", "Embedding", "GRU", "GRUCell", "LSTM", "LSTMCell", "RNN", "RNNCell", "Upsample",
]
