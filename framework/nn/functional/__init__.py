"""``framework.nn.functional`` (import as ``F``): PyTorch's functional API on kernelgrad tensors.

Each function normalises and checks its arguments (``_args.py``: one exception type and message per
mistake) and composes Tensor operations and :mod:`framework.ops` Functions; the five kernel families are
reached only through those ops (the table of which op calls which kernel is in ``framework/ops/__init__.py``).

What the kernel contract does not cover is built here from the kernels or from generic ops, so the
public API accepts what PyTorch's accepts: ``groups`` (one kernel call per group), ``dilation`` (the
weight is dilated with zeros, which is exactly a dilated convolution for finite inputs; an inf/NaN
input pixel also makes NaN the outputs whose dilated window skips over it, as 0 * inf = NaN, where
PyTorch's outputs there stay finite; likewise conv_transpose2d's weight gradient, whose cropped
``padding`` rows enter as zero gradients), ``padding='same'/'valid'``,
padding modes (``pad`` with reflect/replicate/circular as a gather), unbatched inputs, ``reduction``,
class weights and label smoothing (through ``log_softmax``). What is still unsupported raises a
``ValueError`` that says so, never a silently different answer.
"""

from .activation import elu, gelu, hardtanh, leaky_relu, log_softmax, mish, relu, sigmoid, silu, softmax, softplus, tanh
from .conv import _conv2d_relu_max_pool2d, conv1d, conv2d, conv_transpose2d  # noqa: F401 - the private one: Sequential
from .dropout import dropout, dropout1d, dropout2d, dropout3d
from .embedding import embedding, one_hot
from .interpolate import interpolate
from .linear import linear, linear_relu
from .loss import (
    binary_cross_entropy,
    binary_cross_entropy_with_logits,
    cross_entropy,
    huber_loss,
    kl_div,
    l1_loss,
    mse_loss,
    nll_loss,
    smooth_l1_loss,
)
from .normalization import (
    batch_norm,
    group_norm,
    layer_norm,
    normalize,
)
from .pooling import (
    adaptive_avg_pool1d,
    adaptive_avg_pool2d,
    adaptive_max_pool1d,
    adaptive_max_pool2d,
    avg_pool1d,
    avg_pool2d,
    max_pool1d,
    max_pool2d,
    relu_max_pool2d,
)
from .shape import pad, pixel_shuffle, pixel_unshuffle

__all__ = [
    "batch_norm", "binary_cross_entropy", "binary_cross_entropy_with_logits", "conv1d", "conv2d",
    "conv_transpose2d",
    "cross_entropy", "dropout", "embedding", "interpolate", "leaky_relu", "linear", "linear_relu", "log_softmax",
    "max_pool2d", "mse_loss", "nll_loss", "one_hot", "pad", "relu", "relu_max_pool2d", "sigmoid", "softmax",
    "tanh",
    "elu", "gelu", "group_norm", "hardtanh", "huber_loss", "kl_div", "l1_loss", "layer_norm", "mish", "silu",
    "smooth_l1_loss", "softplus",
    "adaptive_avg_pool2d", "adaptive_max_pool2d", "avg_pool2d",
    "adaptive_avg_pool1d", "adaptive_max_pool1d", "avg_pool1d", "max_pool1d",
    "dropout1d", "dropout2d", "dropout3d", "normalize", "pixel_shuffle", "pixel_unshuffle",
]


# The smaller activations, distances, ranking losses, instance_norm and attention, composed of the ops above
# (a star import: their names are composite.__all__; ``threshold`` is also a parameter name in this file).
from .composite import *  # noqa: E402, F403
from .composite import __all__ as _composite_names  # noqa: E402

__all__ += _composite_names

# PyTorch names deliberately missing here raise an AttributeError saying so (framework/unsupported.py).
from ...unsupported import module_getattr as _module_getattr  # noqa: E402

__getattr__ = _module_getattr(__name__)
