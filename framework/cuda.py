"""``fw.cuda``: the ``torch.cuda`` questions a script asks before choosing a device.

Here "CUDA" means a GPU backend (``triton`` or ``cupy`` on an NVIDIA GPU, see
:data:`framework.backend.GPU_PREFERENCE`); the ``cuda`` device name resolves to the best one. The CPU
emulations (Triton's interpreter, the CUDA emulator) do not count: they are not a GPU.
"""

from __future__ import annotations

import numpy as np

from . import random as _random
from .backend import get_backend

__all__ = ["current_device", "device_count", "empty_cache", "is_available", "manual_seed", "manual_seed_all",
           "synchronize"]


def is_available() -> bool:
    """True when the ``cuda`` device works here (a GPU backend loaded on a real GPU)."""
    try:
        get_backend("cuda")
    except RuntimeError:
        return False
    return True


def device_count() -> int:
    """1 when a GPU backend is available (kernelgrad drives one GPU per process), else 0."""
    return 1 if is_available() else 0


def current_device() -> int:
    """The index of the GPU in use (always 0); raises when there is none, as torch.cuda does."""
    if not is_available():
        raise RuntimeError("fw.cuda.current_device(): no GPU backend is available")
    return 0


def manual_seed(seed: int) -> None:
    """Seed the random state (one global state serves every device: see :func:`framework.manual_seed`)."""
    _random.manual_seed(seed)


manual_seed_all = manual_seed


def synchronize(device: object = None) -> None:
    """Wait for the GPU's queued work (a one-element copy to the host, which waits for the default stream
    kernelgrad launches on); a no-op without a GPU backend, where nothing runs asynchronously."""
    if is_available():
        backend = get_backend("cuda")
        backend.to_numpy(backend.from_numpy(np.zeros(1, np.float32), "float32"))


def empty_cache() -> None:
    """Accepted for ported scripts; a no-op: kernelgrad holds no memory cache of its own, and results never
    depend on it (the array library's pool keeps its blocks)."""

# PyTorch names deliberately missing here raise an AttributeError saying so (framework/unsupported.py).
from .unsupported import module_getattr as _module_getattr  # noqa: E402

__getattr__ = _module_getattr(__name__)
