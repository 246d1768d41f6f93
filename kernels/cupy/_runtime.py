"""The one place the CuPy kernels meet a runtime: CuPy on a GPU, or the CPU emulator.

Every family wrapper (``conv2d.py``, ``dropout.py``, ...) declares its ``.cu`` file and kernel
instantiations as a :class:`SourceModule`, validates its arguments with the checks below, allocates
outputs with :func:`empty` / :func:`zeros`, and launches with ``SourceModule.launch(name, grid, block,
args)``.  Where that launch goes is decided here:

* **GPU** (default): ``cupy.RawModule`` compiles the ``.cu`` with NVRTC (templated kernels are
  instantiated through ``name_expressions``); arrays are ``cupy.ndarray``.
* **CPU emulation** (``KERNELGRAD_CUDA_EMULATE=1``): ``kernels.cupy.emulator`` compiles the same file with
  g++ and runs every CUDA thread as a host thread; arrays are ``numpy.ndarray``.  This is how CI runs the
  CUDA C kernels without a GPU, the way ``TRITON_INTERPRET=1`` runs the Triton kernels.

Launch checks (grid and block limits, argument types) happen here for both paths, so a wrapper's
launch arithmetic is tested on any machine.  Kernel scalars must be numpy scalars (``np.int32``,
``np.int64``, ``np.float32``, ...): a bare Python int would leave the parameter width to the runtime's
guess, and a kernel reading ``long long`` from a 4-byte slot reads garbage.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from .. import _args
from .emulator import SCALAR_CTYPES

__all__ = [
    "EMULATE_ENV",
    "emulating",
    "xp",
    "SourceModule",
    "check_float_array",
    "check_launch",
    "cdiv",
    "empty",
    "zeros",
    "CUDA_TYPES",
    "cuda_type",
]

EMULATE_ENV = "KERNELGRAD_CUDA_EMULATE"
KERNEL_DIR = Path(__file__).resolve().parent

#: CUDA C element type for each supported array dtype.  bfloat16 kernels exist in the .cu files (CI
#: compiles them) but CuPy has no bfloat16 dtype, so no array can reach them from here.
CUDA_TYPES = {np.dtype(np.float16): "__half", np.dtype(np.float32): "float", np.dtype(np.float64): "double"}
FLOAT_DTYPES = tuple(CUDA_TYPES)

MAX_THREADS_PER_BLOCK = 1024
MAX_BLOCK = (1024, 1024, 64)
MAX_GRID = (2**31 - 1, 65535, 65535)


def emulating() -> bool:
    """True when kernels run on the CPU emulator (``KERNELGRAD_CUDA_EMULATE=1``)."""
    return os.environ.get(EMULATE_ENV, "0") not in ("", "0")


def xp() -> Any:
    """The array module of the current runtime: ``cupy``, or ``numpy`` under emulation."""
    if emulating():
        return np
    import cupy

    return cupy


def array_type() -> type:
    return np.ndarray if emulating() else xp().ndarray


def cuda_type(dtype: Any) -> str:
    """``"float"`` / ``"double"`` / ``"__half"`` for a supported dtype (the template argument)."""
    return CUDA_TYPES[np.dtype(dtype)]


def cdiv(a: int, b: int) -> int:
    """Ceiling division: blocks needed to cover ``a`` items ``b`` at a time."""
    return -(-a // b)


def empty(shape: tuple[int, ...], dtype: Any) -> Any:
    return xp().empty(shape, dtype=dtype)


def zeros(shape: tuple[int, ...], dtype: Any) -> Any:
    return xp().zeros(shape, dtype=dtype)


# ---------------------------------------------------------------------------------------- arguments


def check_array(name: str, a: object, ndim: int | None = None) -> Any:
    """Require an array of the current runtime (cupy, or numpy under emulation), C-contiguous."""
    kind = array_type()
    if not isinstance(a, kind):
        where = "numpy.ndarray (KERNELGRAD_CUDA_EMULATE=1)" if emulating() else "cupy.ndarray"
        raise TypeError(f"{name} must be a {where}, got {type(a).__module__}.{type(a).__name__}")
    if ndim is not None and a.ndim != ndim:
        raise ValueError(f"{name} must be {ndim}-D, got shape {tuple(a.shape)} ({a.ndim}-D)")
    if not a.flags.c_contiguous:
        raise ValueError(f"{name} must be C-contiguous, got strides {a.strides} for shape {tuple(a.shape)}")
    return a


def check_float_array(name: str, a: object, ndim: int | None = None) -> Any:
    """:func:`check_array` plus dtype float16, float32 or float64."""
    check_array(name, a, ndim)
    if a.dtype not in FLOAT_DTYPES:
        raise TypeError(f"{name} must have dtype float16, float32 or float64, got {a.dtype}")
    return a


check_same_dtype = _args.check_same_dtype


def check_launch(grid: Sequence[int], block: Sequence[int]) -> tuple[tuple[int, int, int], tuple[int, int, int]]:
    """Pad grid and block to 3-D and enforce the CUDA limits (a bad launch is a wrapper bug: ValueError)."""
    g = tuple(int(v) for v in grid) + (1,) * (3 - len(grid))
    b = tuple(int(v) for v in block) + (1,) * (3 - len(block))
    if len(g) != 3 or len(b) != 3:
        raise ValueError(f"grid and block have at most 3 dimensions, got grid={grid}, block={block}")
    if any(v < 1 for v in g) or any(v > m for v, m in zip(g, MAX_GRID)):
        raise ValueError(f"grid {g} is outside the CUDA limits: 1 <= grid <= {MAX_GRID}")
    if any(v < 1 for v in b) or any(v > m for v, m in zip(b, MAX_BLOCK)) or b[0] * b[1] * b[2] > MAX_THREADS_PER_BLOCK:
        raise ValueError(f"block {b} is outside the CUDA limits: <= {MAX_BLOCK} and <= 1024 threads")
    return g, b  # type: ignore[return-value]


def check_kernel_args(args: Sequence[object]) -> None:
    kind = array_type()
    for i, a in enumerate(args):
        if isinstance(a, kind):
            continue
        if isinstance(a, np.generic) and a.dtype in SCALAR_CTYPES:
            continue
        raise TypeError(
            f"kernel argument {i} is a {type(a).__name__}; pass arrays of the runtime or numpy scalars "
            f"(np.int32, np.int64, np.float32, ...) so the parameter width is explicit"
        )


# ------------------------------------------------------------------------------------------ modules


class SourceModule:
    """One ``.cu`` file of ``kernels/cupy`` and the kernel instantiations its wrapper launches.

    Compiled lazily, on the first launch, for the runtime in force at that moment (one compiled module
    per runtime, so tests may switch emulation on and off).
    """

    def __init__(self, filename: str, name_expressions: Iterable[str]):
        self.path = KERNEL_DIR / filename
        self.name_expressions = tuple(dict.fromkeys(name_expressions))
        self._compiled: dict[str, Any] = {}
        self._lock = threading.Lock()

    def _module(self) -> Any:
        key = "emulator" if emulating() else "cupy"
        with self._lock:
            if key not in self._compiled:
                self._compiled[key] = self._compile_emulated() if key == "emulator" else self._compile_cupy()
            return self._compiled[key]

    def _compile_emulated(self) -> Any:
        from .emulator import EmulatedModule

        return EmulatedModule(self.path, self.name_expressions, include_dirs=(KERNEL_DIR,))

    def _compile_cupy(self) -> Any:
        import cupy

        options = [f"-I{KERNEL_DIR}", "--std=c++17"]
        cuda_path = cupy.cuda.get_cuda_path()
        if cuda_path and (Path(cuda_path) / "include" / "mma.h").is_file():
            options.append(f"-I{Path(cuda_path) / 'include'}")
        return cupy.RawModule(
            code=self.path.read_text(), options=tuple(options), name_expressions=self.name_expressions
        )

    def launch(self, name_expression: str, grid: Sequence[int], block: Sequence[int], args: Sequence[object]) -> None:
        """``kernel<<<grid, block>>>(*args)`` on the current runtime (asynchronous on a GPU)."""
        if name_expression not in self.name_expressions:
            raise ValueError(f"{name_expression!r} is not declared for {self.path.name}: {self.name_expressions}")
        g, b = check_launch(grid, block)
        check_kernel_args(args)
        module = self._module()
        if emulating():
            module.launch(name_expression, g, b, args)
        else:
            module.get_function(name_expression)(g, b, tuple(args))
