"""CUDA C kernels loaded through CuPy (GPU; the CPU under ``KERNELGRAD_CUDA_EMULATE=1``).

Same modules, function names and meaning as the numpy reference (``kernels.numpy``).  Each family is a
``.cu`` file of real CUDA C next to a thin Python wrapper that checks arguments, picks the launch
configuration and launches through :mod:`kernels.cupy._runtime`: ``cupy.RawModule`` (NVRTC) on a GPU,
or the CPU emulator (``kernels/cupy/emulator``) that runs the same source with g++.  Arrays are
``cupy.ndarray`` on a GPU and ``numpy.ndarray`` under emulation.  The family modules are imported on
first use.
"""

from __future__ import annotations

import importlib

from ._runtime import emulating

FAMILIES = ("conv2d", "maxpool2d", "linear_relu", "softmax_xent", "dropout", "optim_step")
__all__ = list(FAMILIES)

if emulating():
    from .emulator import available as _emulator_available

    _ok, _why = _emulator_available()
    if not _ok:
        raise ImportError(f"KERNELGRAD_CUDA_EMULATE=1 but the CUDA emulator is unavailable: {_why}")
else:
    import cupy  # noqa: F401  (fail here, with ImportError, when cupy is not installed)

    try:
        _n_gpus = cupy.cuda.runtime.getDeviceCount()
    except Exception as exc:  # CUDARuntimeError without a driver
        raise ImportError(f"CuPy is installed but no CUDA GPU is usable: {exc}") from exc
    if _n_gpus < 1:
        raise ImportError("CuPy kernels need a CUDA GPU, or KERNELGRAD_CUDA_EMULATE=1 to run them on the CPU")


def __getattr__(name: str):
    if name in FAMILIES:
        module = importlib.import_module(f"{__name__}.{name}")
        globals()[name] = module
        return module
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
