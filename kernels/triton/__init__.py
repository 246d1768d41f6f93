"""Triton kernels (GPU; the CPU under ``TRITON_INTERPRET=1``): the families of ``kernels.numpy``.

Same modules, function names and meaning as the numpy reference; arrays are contiguous torch
tensors on CUDA (or on the CPU under the interpreter). The family modules are imported on first use,
so importing this package costs nothing until a kernel is needed.
"""

from __future__ import annotations

import importlib

import torch
import triton  # noqa: F401  (fail here, with ImportError, when triton is not installed)

from ._common import interpreting

FAMILIES = ("conv2d", "maxpool2d", "linear_relu", "softmax_xent", "dropout", "optim_step")
__all__ = list(FAMILIES)

if not torch.cuda.is_available() and not interpreting():
    raise ImportError("Triton kernels need a CUDA GPU, or TRITON_INTERPRET=1 to run them on the CPU")


def __getattr__(name: str):
    if name in FAMILIES:
        module = importlib.import_module(f"{__name__}.{name}")
        globals()[name] = module
        return module
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
