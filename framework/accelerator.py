"""``fw.accelerator``: ``torch.accelerator``'s device-agnostic questions (PyTorch >= 2.6 scripts ask these
instead of ``torch.cuda``).

The accelerator is the ``cuda`` device, i.e. the best GPU backend (``triton`` or ``cupy`` on an NVIDIA
GPU; see :mod:`framework.cuda`); the CPU interpreter and emulator do not count.
"""

from __future__ import annotations

from . import cuda
from .backend import device

__all__ = ["current_accelerator", "current_device_index", "device_count", "is_available"]


def is_available() -> bool:
    """True when a GPU backend works here."""
    return cuda.is_available()


def device_count() -> int:
    """1 with a GPU backend (kernelgrad drives one GPU per process), else 0."""
    return cuda.device_count()


def current_accelerator(check_available: bool = False) -> device | None:
    """``fw.device("cuda")`` when a GPU backend works here, else None (``check_available`` changes
    nothing: kernelgrad has no accelerator that is built in but absent)."""
    return device("cuda") if is_available() else None


def current_device_index() -> int:
    """0 with a GPU backend, -1 without (as torch without an accelerator)."""
    return 0 if is_available() else -1
