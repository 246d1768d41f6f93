"""The one place the CuPy kernels meet a runtime: CuPy on a GPU, or the CPU emulator.

Every family wrapper (``conv2d.py``, ``dropout.py``, ...) declares its ``.cu`` file and kernel
instantiations as a :class:`SourceModule`, validates its arguments with the checks below, allocates
outputs with :func:`empty` / :func:`zeros`, and launches with ``SourceModule.launch(name, grid, block,
args)``.  Where that launch goes is decided here:

* **GPU** (default): the ``.cu`` is compiled with NVRTC through CuPy (:func:`nvrtc_compile`: CuPy's own
  option assembly and compile call, templated kernels instantiated by *name expression*), cached on
  disk, and loaded with ``cupy.RawModule(path=...)``; arrays are ``cupy.ndarray``.  The one difference
  from ``cupy.RawModule(code=...)``: CuPy appends ``-ftz=true`` to every NVRTC compile, which flushes
  float32 subnormals to zero on the GPU while numpy, the Triton kernels and the emulator keep them; the
  kernels here are compiled with ``-ftz=false`` instead (IEEE float32, :data:`NVRTC_FP_OPTIONS`).
* **CPU emulation** (``KERNELGRAD_CUDA_EMULATE=1``): ``kernels.cupy.emulator`` compiles the same file with
  g++ and runs every CUDA thread as a host thread; arrays are ``numpy.ndarray``.  This is how CI runs the
  CUDA C kernels without a GPU, the way ``TRITON_INTERPRET=1`` runs the Triton kernels.

CUDA headers: CuPy points NVRTC at the CUDA runtime headers it finds (the ``nvidia-cuda-runtime-cu12``
wheel, else the toolkit of ``CUDA_PATH``).  WMMA's ``<mma.h>`` includes ``crt/mma.h``, which a toolkit
has but the runtime wheel does not; :func:`cuda_header_options` adds the ``nvidia-cuda-nvcc-cu12``
wheel's include directory, which has it (``pip install kernelgrad[cupy]`` installs that wheel).

Launch checks happen here for both runtimes, so a wrapper's launch arithmetic and argument types are
tested on any machine: grid and block against CUDA's limits (:func:`check_launch`), and every argument
against the C parameter type of the kernel it is passed to, read from the ``.cu`` source
(:mod:`kernels.cupy._signatures`): arrays must have the pointee's dtype, scalars must be numpy scalars of
the parameter's width (``np.int32`` for ``int``, ``np.int64`` for ``long long``, ``np.float32`` for
``float``, ...), and the block must fit the kernel's ``__launch_bounds__``.  A bare Python int would
leave the parameter width to the runtime's guess, and a kernel reading ``long long`` from a 4-byte slot
reads garbage.

bfloat16: CuPy and numpy have no such dtype, so a :class:`BFloat16Array` marks a ``uint16`` array (cupy, or numpy
under emulation) as bfloat16 bit patterns; its dtype is :data:`BFLOAT16`, the launch check matches it to
``__nv_bfloat16*`` parameters, and the launch passes the raw pointer of its bits.  Families opt in
(``check_float_array(..., bfloat16=True)``); conv2d does.

Verified where: the emulator path runs in CI; the NVRTC compile of every name expression (this module's
options and CuPy's compile call, for sm_80 and sm_90, pip-wheel and toolkit headers) runs in CI
(tests/kernels/test_nvrtc_compile.py); loading and launching on a GPU has not run yet (no GPU).
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import importlib.util
import json
import os
import tempfile
import threading
import warnings
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from .. import _args
from . import _signatures
from ._signatures import KernelSignature

__all__ = [
    "EMULATE_ENV",
    "emulating",
    "xp",
    "SourceModule",
    "check_float_array",
    "BFLOAT16",
    "BFloat16Array",
    "check_launch",
    "cdiv",
    "empty",
    "zeros",
    "CUDA_TYPES",
    "cuda_type",
    "NVRTC_FP_OPTIONS",
    "cuda_header_options",
    "nvrtc_options",
    "nvrtc_compile",
]

EMULATE_ENV = "KERNELGRAD_CUDA_EMULATE"
KERNEL_DIR = Path(__file__).resolve().parent



class _BFloat16DType:
    """The dtype of a :class:`BFloat16Array` (numpy and CuPy have no bfloat16): prints as ``bfloat16``, 2 bytes.

    One instance, :data:`BFLOAT16`; it equals nothing but itself, so a bfloat16 array never passes for a
    numpy dtype in :func:`check_same_dtype` or a launch check.
    """

    name = "bfloat16"
    itemsize = 2

    def __repr__(self) -> str:
        return "bfloat16"

    def __reduce__(self) -> str:
        return "BFLOAT16"


BFLOAT16 = _BFloat16DType()

#: CUDA C element type for each supported array dtype.  bfloat16 is :data:`BFLOAT16`, the dtype of a
#: :class:`BFloat16Array`; only the families that say so accept it (conv2d).
CUDA_TYPES = {np.dtype(np.float16): "__half", np.dtype(np.float32): "float", np.dtype(np.float64): "double",
              BFLOAT16: "__nv_bfloat16"}
#: The numpy float dtypes every family accepts.
FLOAT_DTYPES = (np.dtype(np.float16), np.dtype(np.float32), np.dtype(np.float64))

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


def as_dtype(dtype: Any) -> Any:
    """``np.dtype(dtype)``, or :data:`BFLOAT16` for itself and for ``"bfloat16"``."""
    if dtype is BFLOAT16 or (isinstance(dtype, str) and dtype == "bfloat16"):
        return BFLOAT16
    return np.dtype(dtype)


def cuda_type(dtype: Any) -> str:
    """``"float"`` / ``"double"`` / ``"__half"`` / ``"__nv_bfloat16"`` for a supported dtype (the template argument)."""
    return CUDA_TYPES[as_dtype(dtype)]


def cdiv(a: int, b: int) -> int:
    """Ceiling division: blocks needed to cover ``a`` items ``b`` at a time."""
    return -(-a // b)


def empty(shape: tuple[int, ...], dtype: Any) -> Any:
    """An array of the runtime; a :class:`BFloat16Array` for :data:`BFLOAT16`."""
    if as_dtype(dtype) is BFLOAT16:
        return BFloat16Array(xp().empty(shape, dtype=np.uint16))
    return xp().empty(shape, dtype=dtype)


def zeros(shape: tuple[int, ...], dtype: Any) -> Any:
    """Zeros of the runtime; a :class:`BFloat16Array` of +0.0 (all bits clear) for :data:`BFLOAT16`."""
    if as_dtype(dtype) is BFLOAT16:
        return BFloat16Array(xp().zeros(shape, dtype=np.uint16))
    return xp().zeros(shape, dtype=dtype)


# ---------------------------------------------------------------------------------------- bfloat16


class BFloat16Array:
    """bfloat16 values held as their 16-bit patterns in a ``uint16`` array: how bfloat16 reaches the CUDA C kernels.

    CuPy (like numpy) has no bfloat16 dtype, but a kernel instantiated for ``__nv_bfloat16`` only needs a device
    pointer to 2-byte elements.  ``BFloat16Array(bits)`` marks ``bits`` -- a ``cupy.ndarray`` of ``uint16`` on a
    GPU, a ``numpy.ndarray`` under ``KERNELGRAD_CUDA_EMULATE=1`` -- as bfloat16; the launchers that accept it
    (conv2d's) check it like any array (runtime, ndim, C-contiguity), launch the ``__nv_bfloat16`` instantiation
    with the raw pointer of ``bits``, and return their results as BFloat16Arrays.  ``dtype`` is
    :data:`BFLOAT16`, so a bfloat16 input mixed with a float16/32/64 one is the usual dtype-mismatch TypeError.

    Conversions: :meth:`from_torch` / :meth:`to_torch` share memory with a ``torch.bfloat16`` tensor (DLPack of
    the tensor viewed as int16 on CUDA, numpy on the CPU); :meth:`from_float` rounds a float array to nearest
    even and :meth:`to_float32` widens exactly, in the bits' array module.
    """

    __slots__ = ("bits",)
    dtype = BFLOAT16

    def __init__(self, bits: Any):
        if getattr(bits, "dtype", None) != np.uint16 or not hasattr(bits, "flags"):
            got = f"dtype {bits.dtype}" if hasattr(bits, "dtype") else type(bits).__name__
            raise TypeError(f"bits must be a numpy or cupy uint16 array (bfloat16 bit patterns), got {got}")
        self.bits = bits

    shape = property(lambda self: self.bits.shape)
    ndim = property(lambda self: self.bits.ndim)
    size = property(lambda self: self.bits.size)
    strides = property(lambda self: self.bits.strides)
    flags = property(lambda self: self.bits.flags)
    nbytes = property(lambda self: self.bits.nbytes)

    def __len__(self) -> int:
        return len(self.bits)

    def __repr__(self) -> str:
        return f"BFloat16Array(shape={tuple(self.shape)}, bits={type(self.bits).__module__}.ndarray)"

    @classmethod
    def from_float(cls, a: Any) -> BFloat16Array:
        """Round a numpy/cupy float array to bfloat16, to nearest even (through float32; NaN stays NaN)."""
        mod = np if isinstance(a, np.ndarray) else xp()
        u = mod.ascontiguousarray(mod.asarray(a, dtype=np.float32)).view(np.uint32)
        rounded = ((u + np.uint32(0x7FFF) + ((u >> 16) & np.uint32(1))) >> 16).astype(np.uint16)
        nan = (u & np.uint32(0x7FFFFFFF)) > np.uint32(0x7F800000)
        return cls(mod.where(nan, ((u >> 16) | np.uint32(0x40)).astype(np.uint16), rounded))

    def to_float32(self) -> Any:
        """The values as float32 (exact), in the bits' array module."""
        return (self.bits.astype(np.uint32) << 16).view(np.float32)

    @classmethod
    def from_torch(cls, t: Any) -> BFloat16Array:
        """A ``torch.bfloat16`` tensor's storage, shared: cupy bits for a CUDA tensor, numpy for a CPU one.

        A non-contiguous tensor is made contiguous first (a copy).  Raises TypeError for another dtype.
        """
        import torch

        if not isinstance(t, torch.Tensor) or t.dtype != torch.bfloat16:
            got = f"dtype {t.dtype}" if isinstance(t, torch.Tensor) else type(t).__name__
            raise TypeError(f"from_torch needs a torch.bfloat16 tensor, got {got}")
        raw = t.detach().contiguous().view(torch.int16)  # a same-width view: DLPack and numpy know int16
        if raw.device.type == "cpu":
            return cls(raw.numpy().view(np.uint16))
        import cupy

        return cls(cupy.from_dlpack(raw).view(cupy.uint16))

    def to_torch(self) -> Any:
        """A ``torch.bfloat16`` tensor sharing the bits' memory (CPU for numpy bits, CUDA for cupy bits)."""
        import torch

        if isinstance(self.bits, np.ndarray):
            return torch.from_numpy(self.bits.view(np.int16)).view(torch.bfloat16)
        return torch.from_dlpack(self.bits.view(np.int16)).view(torch.bfloat16)


# ---------------------------------------------------------------------------------------- arguments


def check_array(name: str, a: object, ndim: int | None = None) -> Any:
    """Require an array of the current runtime (cupy, or numpy under emulation), C-contiguous; a
    :class:`BFloat16Array` is checked through its bits."""
    kind = array_type()
    where = "numpy.ndarray (KERNELGRAD_CUDA_EMULATE=1)" if emulating() else "cupy.ndarray"
    if isinstance(a, BFloat16Array):
        if not isinstance(a.bits, kind):
            raise TypeError(f"{name} must hold its bfloat16 bits in a {where}, got "
                            f"{type(a.bits).__module__}.{type(a.bits).__name__}")
    elif not isinstance(a, kind):
        raise TypeError(f"{name} must be a {where}, got {type(a).__module__}.{type(a).__name__}")
    if ndim is not None and a.ndim != ndim:
        raise ValueError(f"{name} must be {ndim}-D, got shape {tuple(a.shape)} ({a.ndim}-D)")
    if not a.flags.c_contiguous:
        raise ValueError(f"{name} must be C-contiguous, got strides {a.strides} for shape {tuple(a.shape)}")
    return a


def check_float_array(name: str, a: object, ndim: int | None = None, *, bfloat16: bool = False) -> Any:
    """:func:`check_array` plus dtype float16, float32 or float64 -- or a :class:`BFloat16Array` where the
    family has bfloat16 kernels (``bfloat16=True``)."""
    check_array(name, a, ndim)
    if isinstance(a, BFloat16Array):
        if not bfloat16:
            raise TypeError(f"{name} must have dtype float16, float32 or float64, got bfloat16")
        return a
    if a.dtype not in FLOAT_DTYPES:
        allowed = "float16, bfloat16, float32 or float64" if bfloat16 else "float16, float32 or float64"
        raise TypeError(f"{name} must have dtype {allowed}, got {a.dtype}")
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


def check_kernel_args(signature: KernelSignature, args: Sequence[object], block: Sequence[int] = (1, 1, 1)) -> None:
    """Every argument against the C parameter it is passed to (a mismatch is a wrapper bug: TypeError).

    Arrays (of the current runtime; a :class:`BFloat16Array` for ``__nv_bfloat16``) for pointers, with the
    pointee's dtype; numpy scalars of exactly the
    parameter's dtype for values; as many arguments as parameters; and at most the kernel's
    ``__launch_bounds__`` threads per block (ValueError).
    """
    kernel = signature.name_expression
    threads = int(np.prod(block))
    if signature.max_threads is not None and threads > signature.max_threads:
        raise ValueError(f"{kernel} has __launch_bounds__({signature.max_threads}); a block of {tuple(block)} "
                         f"= {threads} threads cannot launch")
    if len(args) != len(signature.params):
        wanted = ", ".join(p.describe() for p in signature.params)
        raise TypeError(f"{kernel} takes {len(signature.params)} arguments ({wanted}), got {len(args)}")
    kind = array_type()
    for i, (a, param) in enumerate(zip(args, signature.params)):
        where = f"{kernel} argument {i} ({param.describe()})"
        if param.pointer:
            if not isinstance(a.bits if isinstance(a, BFloat16Array) else a, kind):
                raise TypeError(f"{where} must be an array of the runtime, got {type(a).__name__}")
            if param.dtype is None or a.dtype != param.dtype:
                raise TypeError(f"{where} needs a {param.dtype or param.ctype} array, got dtype {a.dtype}")
        elif not isinstance(a, np.generic) or a.dtype != param.dtype:
            got = f"numpy.{a.dtype}" if isinstance(a, np.generic) else type(a).__name__
            raise TypeError(
                f"{where} needs a numpy.{param.dtype} scalar (the parameter's exact width), got {got}"
            )


# ------------------------------------------------------------------------------------------ NVRTC

#: NVRTC's C++ dialect for every .cu file.
NVRTC_STD = "--std=c++17"
#: Floating-point options after CuPy's assembly, where CuPy's own compile adds ``-ftz=true``: IEEE
#: float32 with subnormals, as numpy, Triton and the emulator compute (the last -ftz option wins).
NVRTC_FP_OPTIONS = ("-ftz=false",)


def _nvidia_wheel_dirs(*relative: str) -> list[Path]:
    """``site-packages/nvidia/<relative>`` directories that exist (the pip-wheel CUDA layout)."""
    spec = importlib.util.find_spec("nvidia")
    roots = list(spec.submodule_search_locations or []) if spec is not None else []
    return [Path(r) / rel for r in roots for rel in relative if (Path(r) / rel).is_dir()]


def _header_dir(libname: str) -> Path | None:
    """Where CUDA's ``cudart`` (runtime) or ``nvcc`` (crt) headers are, found as CuPy 14 finds them."""
    try:
        from cuda.pathfinder import find_nvidia_header_directory
    except ImportError:  # CuPy 13 (no cuda-pathfinder): the wheels' layout, then CuPy's CUDA root
        sub = {"cudart": ("cu13/include", "cuda_runtime/include"), "nvcc": ("cu13/include", "cuda_nvcc/include")}
        found = _nvidia_wheel_dirs(*sub[libname])
        if found:
            return found[0]
        import cupy

        root = cupy.cuda.get_cuda_path()
        return Path(root) / "include" if root else None
    found = find_nvidia_header_directory(libname)
    return Path(found) if found else None


def cuda_header_options() -> tuple[str, ...]:
    """``-I`` options NVRTC needs on top of CuPy's: a directory holding ``crt/mma.h`` when CuPy's lacks it.

    CuPy adds the CUDA runtime headers it finds (``cuda_runtime.h`` and ``mma.h``): the
    ``nvidia-cuda-runtime-cu12`` wheel's include directory if installed, else the toolkit's.  A toolkit
    also has ``crt/`` there; the runtime wheel does not, and ``mma.h`` includes ``crt/mma.h``.  In the
    CUDA 12 wheel layout ``crt/`` comes with ``nvidia-cuda-nvcc-cu12`` (``nvidia/cuda_nvcc/include``), which
    this adds; CUDA 13's ``nvidia-cuda-crt`` puts it into the runtime's own ``nvidia/cu13/include``, so
    nothing is needed there.  Returns ``()`` when nothing needs adding or nothing is found (then
    :func:`nvrtc_compile`'s error names the wheel to install).
    """
    runtime = _header_dir("cudart")
    if runtime is not None and (runtime / "crt" / "mma.h").is_file():
        return ()
    crt = _header_dir("nvcc")
    if crt is not None and (crt / "crt" / "mma.h").is_file():
        if "cuda_nvcc" in crt.parts:
            _warn_on_version_skew()
        return (f"-I{crt}",)
    return ()


@functools.cache
def _warn_on_version_skew() -> None:
    """The nvcc wheel's crt/ headers belong with NVRTC and the runtime headers of the same CUDA release."""
    try:
        from importlib.metadata import version

        from cupy.cuda import nvrtc

        have = version("nvidia-cuda-nvcc-cu12")
        want = nvrtc.getVersion()
    except Exception:  # not a wheel install, or no NVRTC: nothing to compare
        return
    if tuple(int(v) for v in have.split(".")[:2]) != tuple(want):
        warnings.warn(
            f"the crt/ headers come from nvidia-cuda-nvcc-cu12 {have} but NVRTC is {want[0]}.{want[1]}; if a CUDA C "
            f"kernel fails to compile, install nvidia-cuda-nvcc-cu12=={want[0]}.{want[1]}.*", RuntimeWarning,
            stacklevel=3,
        )


def nvrtc_options(defines: Sequence[str] = ()) -> tuple[str, ...]:
    """Every NVRTC option of a kernelgrad .cu except the architecture (which CuPy's compile call adds).

    CuPy's own assembly (``assemble_cupy_compiler_options``: its bundled CCCL first, then ours, then its
    headers and the CUDA headers it found), as for ``cupy.RawModule``, followed by
    :data:`NVRTC_FP_OPTIONS` where CuPy would add ``-ftz=true``.
    """
    from cupy._core import core

    ours = (f"-I{KERNEL_DIR}", NVRTC_STD, *cuda_header_options(), *(f"-D{d}" for d in defines))
    return tuple(core.assemble_cupy_compiler_options(ours)) + NVRTC_FP_OPTIONS


def nvrtc_compile(path: Path, name_expressions: Sequence[str], arch: str | None = None,
                  defines: Sequence[str] = (), extra_options: Sequence[str] = (),
                  log_stream: Any = None) -> tuple[bytes, dict[str, str]]:
    """Compile one .cu with NVRTC through CuPy: ``(image, lowered names)``.

    ``cupy.cuda.compiler.compile_using_nvrtc`` adds the architecture (``-arch=sm_XY`` for ``arch``, or
    the current GPU's when None: the image is a cubin; ``compute_XY`` and PTX past NVRTC's newest real
    architecture or under ``CUPY_COMPILE_WITH_PTX=1``) and ``--device-as-default-execution-space``, as
    for every ``cupy.RawModule``.  ``lowered`` maps each name expression to its mangled name.  Raises
    RuntimeError with NVRTC's log (and how to get the CUDA headers when ``crt/`` is missing).
    """
    from cupy.cuda import compiler

    path = Path(path)
    options = nvrtc_options(defines) + tuple(extra_options)
    try:
        image, lowered = compiler.compile_using_nvrtc(
            path.read_text(), options, arch=arch, filename=path.name, name_expressions=list(name_expressions),
            log_stream=log_stream,
        )
    except compiler.CompileException as exc:
        hint = ""
        if "crt/" in str(exc):
            from cupy.cuda import nvrtc

            major, minor = nvrtc.getVersion()
            wheel = "nvidia-cuda-nvcc-cu12" if major == 12 else "nvidia-cuda-crt"
            wheel += f"=={major}.{minor}.*"
            hint = (f"\nThe CUDA headers NVRTC was given lack crt/ (CUDA from pip wheels): pip install '{wheel}' "
                    "(for CUDA 12: pip install 'kernelgrad[cupy]'), or set CUDA_PATH to a CUDA toolkit.")
        raise RuntimeError(f"NVRTC could not compile {path.name}:\n{exc}{hint}") from exc
    return bytes(image), dict(lowered or {})


class _CupyModule:
    """A compiled image loaded with ``cupy.RawModule(path=...)``; kernels looked up by mangled name."""

    def __init__(self, image: Path, lowered: dict[str, str]):
        import cupy

        self._raw = cupy.RawModule(path=str(image))
        self._lowered = lowered
        self._kernels: dict[str, Any] = {}

    def launch(self, name_expression: str, grid: tuple[int, int, int], block: tuple[int, int, int],
               args: Sequence[object]) -> None:
        kernel = self._kernels.get(name_expression)
        if kernel is None:
            kernel = self._kernels[name_expression] = self._raw.get_function(self._lowered[name_expression])
        kernel(grid, block, tuple(args))


def _write_atomically(path: Path, data: bytes) -> None:
    with tempfile.NamedTemporaryFile(dir=path.parent, delete=False) as tmp:
        tmp.write(data)
    os.replace(tmp.name, path)  # a concurrent compile or a crash never leaves half a file


# ------------------------------------------------------------------------------------------ modules


def _with_bfloat16(sig: KernelSignature) -> KernelSignature:
    """``_signatures`` has no numpy dtype for ``__nv_bfloat16`` (None); the runtime's is :data:`BFLOAT16`."""
    params = tuple(dataclasses.replace(p, dtype=BFLOAT16) if p.ctype == "__nv_bfloat16" else p for p in sig.params)
    return dataclasses.replace(sig, params=params)


class SourceModule:
    """One ``.cu`` file of ``kernels/cupy`` and the kernel instantiations its wrapper launches.

    Compiled lazily, on the first launch, for the runtime in force at that moment (one compiled module
    per runtime and GPU, so tests may switch emulation on and off).  ``defines`` are preprocessor macros
    for both compilers (the tests use ``KERNELGRAD_NO_TENSOR_CORES`` to run the FMA fallback of the
    16-bit GEMMs on the emulator).
    """

    def __init__(self, filename: str, name_expressions: Iterable[str], defines: Sequence[str] = ()):
        self.path = KERNEL_DIR / filename
        self.name_expressions = tuple(dict.fromkeys(name_expressions))
        self.defines = tuple(defines)
        self._compiled: dict[Any, Any] = {}
        self._signatures: dict[str, KernelSignature] = {}
        self._lock = threading.Lock()

    def signature(self, name_expression: str) -> KernelSignature:
        """The C parameter types of one declared kernel, read from the source once."""
        sig = self._signatures.get(name_expression)
        if sig is None:
            sig = self._signatures[name_expression] = _with_bfloat16(_signatures.signature(self.path, name_expression))
        return sig

    def _module(self) -> Any:
        if emulating():
            key: Any = "emulator"
        else:
            import cupy

            key = ("cupy", cupy.cuda.Device().id)  # a module is loaded into one device's context
        with self._lock:
            if key not in self._compiled:
                self._compiled[key] = self._compile_emulated() if key == "emulator" else self._compile_cupy()
            return self._compiled[key]

    def _compile_emulated(self) -> Any:
        from .emulator import EmulatedModule

        return EmulatedModule(self.path, self.name_expressions, include_dirs=(KERNEL_DIR,), defines=self.defines)

    def _compile_cupy(self) -> Any:
        """NVRTC for the current GPU, through a disk cache keyed by everything that shapes the image."""
        import cupy
        from cupy.cuda import nvrtc

        from .emulator import cache_dir

        digest = hashlib.sha256()
        parts = (cupy.__version__, nvrtc.getVersion(), cupy.cuda.Device().compute_capability,
                 os.environ.get("CUPY_COMPILE_WITH_PTX", ""), nvrtc_options(self.defines), self.name_expressions)
        digest.update(repr(parts).encode())
        # every kernel source and header under kernels/cupy, ladder rungs included (a rung's .cu may include another
        # rung's, so an edit anywhere re-keys every module; over-invalidation only costs a compile)
        for f in sorted({*KERNEL_DIR.rglob("*.cu*"), self.path}):
            digest.update(str(f.relative_to(KERNEL_DIR)).encode() + f.read_bytes())
        cache = cache_dir("nvrtc")
        meta = cache / f"{self.path.stem}-{digest.hexdigest()[:20]}.json"
        if meta.is_file():
            entry = json.loads(meta.read_text())
            return _CupyModule(cache / entry["image"], entry["lowered"])
        image, lowered = nvrtc_compile(self.path, self.name_expressions, defines=self.defines)
        image_path = meta.with_suffix(".cubin" if image.startswith(b"\x7fELF") else ".ptx")
        _write_atomically(image_path, image)
        _write_atomically(meta, json.dumps({"image": image_path.name, "lowered": lowered}).encode())
        return _CupyModule(image_path, lowered)

    def launch(self, name_expression: str, grid: Sequence[int], block: Sequence[int], args: Sequence[object]) -> None:
        """``kernel<<<grid, block>>>(*args)`` on the current runtime (asynchronous on a GPU)."""
        if name_expression not in self.name_expressions:
            raise ValueError(f"{name_expression!r} is not declared for {self.path.name}: {self.name_expressions}")
        g, b = check_launch(grid, block)
        check_kernel_args(self.signature(name_expression), args, b)
        # a bfloat16 argument goes as the raw pointer of its 16-bit storage: the __nv_bfloat16* parameter
        self._module().launch(name_expression, g, b, [a.bits if isinstance(a, BFloat16Array) else a for a in args])
