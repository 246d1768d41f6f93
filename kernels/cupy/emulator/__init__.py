"""Build and launch kernelgrad's CUDA C kernels on the CPU (``KERNELGRAD_CUDA_EMULATE=1``).

The CuPy kernels cannot run without an NVIDIA GPU, but their source is ordinary C++ plus a handful of
CUDA built-ins.  ``cuda_emulator.h`` (read its header for the execution model) supplies those built-ins
to a host compiler; this module compiles a ``.cu`` file with it into a shared library, one C entry
point per kernel instantiation (the same *name expressions* CuPy's ``RawModule`` is given), caches the
library, and launches kernels through ctypes with CUDA's convention: grid, block, and a ``void**`` of
argument pointers.  Arrays are numpy arrays; scalars must be numpy scalars of the kernel parameter's
width (``np.int32``, ``np.int64``, ``np.float32``, ...), exactly what the CuPy launch path passes.

Needs ``g++`` (C++20: ``<barrier>``, ``std::atomic_ref``) and the CUDA toolkit headers
(``cuda_fp16.h``, ``cuda_bf16.h``; found through ``CUDA_PATH``/``CUDA_HOME``, ``/usr/local/cuda`` or
next to ``nvcc``).  Libraries are cached under ``$KERNELGRAD_CACHE_DIR`` (default
``~/.cache/kernelgrad``)/``cuda-emulator``, keyed by a hash of every input, and written atomically.
"""

from __future__ import annotations

import ctypes
import hashlib
import os
import shutil
import subprocess
import tempfile
import threading
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np

__all__ = ["EmulatedModule", "available", "cache_dir", "cuda_include_dir"]

HEADER = Path(__file__).with_name("cuda_emulator.h")
CXX_FLAGS = ("-std=c++20", "-O2", "-fPIC", "-shared", "-pthread", "-ffp-contract=off", "-w")

#: The scalar kernel parameters a launch may pass (numpy dtype -> the C type ctypes passes it as).
SCALAR_CTYPES = {
    np.dtype(np.bool_): ctypes.c_bool,
    np.dtype(np.int8): ctypes.c_int8,
    np.dtype(np.int16): ctypes.c_int16,
    np.dtype(np.int32): ctypes.c_int32,
    np.dtype(np.int64): ctypes.c_int64,
    np.dtype(np.uint32): ctypes.c_uint32,
    np.dtype(np.uint64): ctypes.c_uint64,
    np.dtype(np.float32): ctypes.c_float,
    np.dtype(np.float64): ctypes.c_double,
}


def cuda_include_dir() -> Path | None:
    """The CUDA toolkit's include directory (holding ``cuda_fp16.h``), or None."""
    candidates = [os.environ.get("CUDA_PATH"), os.environ.get("CUDA_HOME"), "/usr/local/cuda"]
    nvcc = shutil.which("nvcc")
    if nvcc:
        candidates.append(str(Path(nvcc).resolve().parent.parent))
    for root in candidates:
        if root and (Path(root) / "include" / "cuda_fp16.h").is_file():
            return Path(root) / "include"
    return None


def available() -> tuple[bool, str]:
    """``(True, "")`` when kernels can be emulated here, else ``(False, why)``."""
    if shutil.which(os.environ.get("CXX", "g++")) is None:
        return False, "no C++ compiler (g++, or $CXX) on PATH"
    if cuda_include_dir() is None:
        return False, "CUDA toolkit headers (cuda_fp16.h) not found; set CUDA_PATH"
    return True, ""


def cache_dir(kind: str) -> Path:
    """``$KERNELGRAD_CACHE_DIR`` (default ``~/.cache/kernelgrad``)/``kind``, created on demand."""
    root = os.environ.get("KERNELGRAD_CACHE_DIR") or os.path.join(Path.home(), ".cache", "kernelgrad")
    path = Path(root) / kind
    path.mkdir(parents=True, exist_ok=True)
    return path


def _cache_dir() -> Path:
    return cache_dir("cuda-emulator")


def _entry_point(i: int) -> str:
    return f"kg_launch_{i}"


class EmulatedModule:
    """A ``.cu`` file compiled for the CPU; ``launch(name_expression, grid, block, args)`` runs one kernel.

    ``name_expressions`` lists every kernel instantiation that will be launched (as for
    ``cupy.RawModule``); ``include_dirs`` are searched for the file's ``#include "..."`` headers;
    ``defines`` are preprocessor macros (``NAME`` or ``NAME=value``).  Compilation happens on the first
    launch.
    """

    def __init__(self, source: Path, name_expressions: Iterable[str], include_dirs: Sequence[Path] = (),
                 defines: Sequence[str] = ()):
        self.source = Path(source)
        self.name_expressions = tuple(dict.fromkeys(name_expressions))
        self.include_dirs = tuple(Path(d) for d in include_dirs)
        self.defines = tuple(defines)
        self._lib: ctypes.CDLL | None = None
        self._lock = threading.Lock()

    # ---------------------------------------------------------------------------------------- build

    def _translation_unit(self) -> str:
        lines = [f'#include "{self.source.resolve()}"', ""]
        for i, expr in enumerate(self.name_expressions):
            lines.append(
                f'extern "C" int {_entry_point(i)}(const unsigned int* grid, const unsigned int* block, void** args)'
                f" {{ return kg_emu::launch(&{expr}, grid, block, args); }}"
            )
        return "\n".join(lines) + "\n"

    def _build(self) -> ctypes.CDLL:
        ok, why = available()
        if not ok:
            raise RuntimeError(f"cannot emulate CUDA kernels on the CPU: {why}")
        cxx = os.environ.get("CXX", "g++")
        include_dirs = [*self.include_dirs, self.source.resolve().parent, cuda_include_dir()]
        flags = [*CXX_FLAGS, "-include", str(HEADER), *(f"-D{d}" for d in self.defines),
                 *(f"-I{d}" for d in include_dirs)]
        unit = self._translation_unit()

        digest = hashlib.sha256()
        for part in (unit, " ".join([cxx, *flags]), HEADER.read_text()):
            digest.update(part.encode())
        for d in include_dirs[:-1]:  # the kernel sources and their headers (not the CUDA toolkit's)
            for f in sorted(Path(d).rglob("*.cu*")):  # subfolders too: a ladder rung's .cu may include another's
                digest.update(str(f.relative_to(d)).encode() + f.read_bytes())
        target = _cache_dir() / f"{self.source.stem}-{digest.hexdigest()[:20]}.so"

        if not target.exists():
            with tempfile.TemporaryDirectory(dir=target.parent) as tmp:
                cpp = Path(tmp) / f"{self.source.stem}_emulated.cpp"
                cpp.write_text(unit)
                out = Path(tmp) / target.name
                proc = subprocess.run([cxx, *flags, str(cpp), "-o", str(out)], capture_output=True, text=True)
                if proc.returncode != 0:
                    raise RuntimeError(
                        f"compiling {self.source.name} for the CUDA emulator failed:\n{proc.stderr[-4000:]}"
                    )
                os.replace(out, target)  # atomic: a concurrent build or a crash never leaves half a library
        return ctypes.CDLL(str(target))

    def _library(self) -> ctypes.CDLL:
        with self._lock:
            if self._lib is None:
                self._lib = self._build()
            return self._lib

    # --------------------------------------------------------------------------------------- launch

    def launch(self, name_expression: str, grid: tuple[int, int, int], block: tuple[int, int, int],
               args: Sequence[object]) -> None:
        """Run one kernel to completion (the runtime has already checked grid, block and argument types)."""
        try:
            index = self.name_expressions.index(name_expression)
        except ValueError:
            raise ValueError(
                f"{name_expression!r} is not one of the kernels declared for {self.source.name}"
            ) from None
        holders = []  # keep every ctypes value alive until the call returns
        for a in args:
            if isinstance(a, np.ndarray):
                holders.append(ctypes.c_void_p(a.ctypes.data))
            else:
                holders.append(SCALAR_CTYPES[a.dtype](a.item()))
        argv = (ctypes.c_void_p * max(len(holders), 1))(
            *(ctypes.cast(ctypes.pointer(h), ctypes.c_void_p) for h in holders)
        )
        fn = getattr(self._library(), _entry_point(index))
        fn.restype = ctypes.c_int
        g = (ctypes.c_uint * 3)(*grid)
        b = (ctypes.c_uint * 3)(*block)
        if fn(g, b, argv) != 0:
            raise RuntimeError(f"the CUDA emulator could not start {block} threads for {name_expression}")

