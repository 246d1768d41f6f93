"""numpy reference kernels (CPU): the kernel families, vectorised, no autograd.

Every other backend (``kernels.triton``, ``kernels.cupy``) exposes the same modules and function
names with the same meaning; these implementations define that meaning.
"""

from . import conv2d, dropout, linear_relu, maxpool2d, optim_step, softmax_xent

__all__ = ["conv2d", "maxpool2d", "linear_relu", "softmax_xent", "dropout", "optim_step"]
