"""Device dispatch: the one place where the framework meets a kernel backend.

A *backend* is two things:

* an array namespace for generic ops (elementwise math, reductions, reshapes), taken from
  array-api-compat so numpy, torch and cupy arrays are driven by the same code, and
* a kernel package ``kernels/<name>`` with the five hot families (``conv2d``, ``maxpool2d``,
  ``linear_relu``, ``softmax_xent``, ``dropout``), all with the same function names and meaning.

Adding a device is one call to :func:`register_backend` with a loader that builds a :class:`Backend`.
The loader runs lazily, the first time the device is asked for, so a missing optional dependency
(triton, cupy) only makes that device unavailable; ``cpu`` always works.

``cuda`` is not a backend of its own: it names the best GPU backend present (see
:data:`GPU_PREFERENCE`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from kernels._args import value_checks_enabled as _value_checks_enabled

__all__ = [
    "Backend",
    "device",
    "register_backend",
    "get_backend",
    "available_devices",
    "registered_devices",
    "set_default_device",
    "get_default_device",
    "GPU_PREFERENCE",
]

#: Order in which ``cuda`` picks a GPU backend.
GPU_PREFERENCE = ("triton", "cupy")

#: Every dtype name the framework knows; a backend lists the subset it supports.
DTYPE_NAMES = ("float16", "bfloat16", "float32", "float64", "int8", "int16", "int32", "int64",
               "uint8", "bool")


@dataclass(frozen=True)
class Backend:
    """What the framework needs from a device.

    Attributes:
        name: device name (``"cpu"``, ``"triton"``, ``"cupy"``).
        xp: array-api namespace for generic ops (``array_api_compat.numpy``, ``.torch``, ``.cupy``).
        kernels: package exposing the kernel families (its ``FAMILIES``) as attributes.
        from_numpy: ``(ndarray, dtype_name) -> native array`` on this device.
        to_numpy: ``native array -> numpy.ndarray`` (a copy or a view on the host).
        dtype_name: ``native array -> str`` such as ``"float32"``.
        native_dtype: ``str -> native dtype object``.
        index_add: ``(dst, index, src)``: ``dst[index] += src`` that accumulates repeated indices.
        ascontiguous: ``native array -> C-contiguous native array`` (no copy when already so); the
            kernels' contract is C-contiguous NCHW, and reshapes/permutes upstream may hand them views.
        from_dlpack: ``DLPack-capable object -> native array`` sharing its memory (raises when the
            object lives in memory this device cannot address; :func:`framework.from_dlpack` then copies).
        dtypes: names of the dtypes this backend can store.
        is_gpu: whether it counts for the ``cuda`` alias.
    """

    name: str
    xp: Any
    kernels: Any
    from_numpy: Callable[[np.ndarray, str], Any]
    to_numpy: Callable[[Any], np.ndarray]
    dtype_name: Callable[[Any], str]
    native_dtype: Callable[[str], Any]
    index_add: Callable[[Any, Any, Any], None]
    ascontiguous: Callable[[Any], Any]
    from_dlpack: Callable[[Any], Any]
    dtypes: frozenset[str] = field(default_factory=lambda: frozenset(DTYPE_NAMES))
    is_gpu: bool = False

    def __repr__(self) -> str:
        return f"Backend({self.name!r})"

    def value_checks_enabled(self) -> bool:
        """Whether a check may read array *values* (class targets, input values) on the host: always for a
        device whose arrays live there, on a GPU only in debug mode (``KERNELGRAD_SYNC_CHECKS=1``; ``=0``
        turns the checks off everywhere), since there it is a device-to-host sync. The kernels' own rule
        (:func:`kernels._args.value_checks_enabled`), asked once, where the framework checks its argument."""
        return _value_checks_enabled(on_host=not self.is_gpu)


class device(str):  # noqa: N801 - PyTorch's name
    """A device name as an object, like ``torch.device``: ``fw.device("cpu")``, ``fw.device("cuda", 0)``.

    It *is* the name (a ``str``), so it goes wherever ``device=`` does, ``tensor.device == "cpu"`` keeps
    working, ``str(d)`` is the name and ``repr(d)`` the quoted name (error messages that show a tensor's
    device with ``!r`` read ``'cpu'``, not torch's ``device(type='cpu')``); ``.type`` and ``.index`` are
    torch's fields.
    """

    __slots__ = ()

    def __new__(cls, type: str | device, index: int | None = None) -> device:  # noqa: A002 - torch's name
        if isinstance(type, device) and index is None:
            return type
        if not isinstance(type, str):
            raise TypeError(f"device(): type must be a str such as 'cpu' or 'cuda', got {type.__class__.__name__}")
        if index is not None:
            if ":" in type:
                raise ValueError(f"device(): type {type!r} already has an index; do not pass index={index!r}")
            if not isinstance(index, int) or isinstance(index, bool) or index < 0:
                raise ValueError(f"device(): index must be a non-negative int, got {index!r}")
            type = f"{type}:{index}"
        name, _, number = type.partition(":")
        if not name or (number and not number.isdigit()):
            raise ValueError(f"device(): expected a name like 'cpu' or 'cuda:0', got {type!r}")
        return super().__new__(cls, type)

    @property
    def type(self) -> str:
        return str(self).partition(":")[0]

    @property
    def index(self) -> int | None:
        number = str(self).partition(":")[2]
        return int(number) if number else None


    def __reduce__(self):
        return (device, (str(self),))


_LOADERS: dict[str, Callable[[], Backend]] = {}
_LOADED: dict[str, Backend] = {}
_FAILED: dict[str, str] = {}
_default_device = "cpu"


def register_backend(name: str, loader: Callable[[], Backend]) -> None:
    """Register a device. ``loader`` builds the :class:`Backend` or raises ImportError/RuntimeError."""
    if name == "cuda":
        raise ValueError("'cuda' is an alias for the best GPU backend and cannot be registered")
    _LOADERS[name] = loader
    _LOADED.pop(name, None)
    _FAILED.pop(name, None)


def _try_load(name: str) -> Backend | None:
    if name in _LOADED:
        return _LOADED[name]
    if name in _FAILED:
        return None
    try:
        backend = _LOADERS[name]()
    except (ImportError, RuntimeError, OSError) as exc:
        _FAILED[name] = f"{type(exc).__name__}: {exc}"
        return None
    _LOADED[name] = backend
    return backend


def get_backend(device: str | Backend | None = None) -> Backend:
    """Resolve a device name (or ``None`` for the default) to its loaded :class:`Backend`.

    Raises:
        ValueError: unknown device name.
        RuntimeError: the device is known but not usable on this machine (the reason is given).
    """
    if isinstance(device, Backend):
        return device
    if device is None:
        device = _default_device
    if not isinstance(device, str):
        raise TypeError(f"device must be a str such as 'cpu' or 'cuda', got {type(device).__name__}")
    name = device.split(":")[0]  # accept 'cuda:0' the way torch does; there is one GPU per process here
    if name == "cuda":
        for candidate in GPU_PREFERENCE:
            if candidate in _LOADERS and (backend := _try_load(candidate)) is not None and backend.is_gpu:
                return backend
        reasons = "; ".join(f"{n}: {_FAILED.get(n, 'not registered')}" for n in GPU_PREFERENCE)
        raise RuntimeError(f"device 'cuda' requested but no GPU backend is available ({reasons})")
    if name not in _LOADERS:
        raise ValueError(f"unknown device {device!r}; known devices: {sorted(_LOADERS)} and 'cuda'")
    backend = _try_load(name)
    if backend is None:
        raise RuntimeError(f"device {name!r} is not available on this machine: {_FAILED[name]}")
    return backend


def available_devices() -> list[str]:
    """Names of the devices usable here, ``cpu`` first; ``cuda`` is listed when a GPU backend works."""
    present = [name for name in _LOADERS if _try_load(name) is not None]
    if any(_LOADED[name].is_gpu for name in present):
        present.append("cuda")
    return present


def registered_devices() -> list[str]:
    """Names of every registered device, loaded or not (``cuda``, an alias, is not one of them)."""
    return list(_LOADERS)


def unavailable_devices() -> dict[str, str]:
    """Registered devices that failed to load, with the reason."""
    for name in _LOADERS:
        _try_load(name)
    return dict(_FAILED)


def set_default_device(device: str) -> None:
    """Make ``device`` the default for new tensors (validated now, not at first use)."""
    global _default_device
    _default_device = get_backend(device).name


def get_default_device() -> str:
    return _default_device


def best_device() -> str:
    """``cuda``'s backend name when a GPU backend works, else ``cpu``."""
    try:
        return get_backend("cuda").name
    except RuntimeError:
        return "cpu"


# --------------------------------------------------------------------------------------------------
# Registrations. Each loader imports its kernel package; nothing else in the framework does.
# --------------------------------------------------------------------------------------------------


def _load_cpu() -> Backend:
    from array_api_compat import numpy as xp

    import kernels.numpy as numpy_kernels

    from .cpu_allocator import tune

    tune()  # keep freed numpy temporaries in the process (framework/cpu_allocator.py)

    def from_numpy(array: np.ndarray, dtype: str) -> np.ndarray:
        if dtype == "bfloat16":
            raise TypeError("dtype bfloat16 is not supported on device 'cpu' (numpy has no bfloat16)")
        return np.asarray(array, dtype=dtype)

    def index_add(dst: np.ndarray, index: Any, src: np.ndarray) -> None:
        np.add.at(dst, index, src)

    return Backend(
        name="cpu",
        xp=xp,
        kernels=numpy_kernels,
        from_numpy=from_numpy,
        to_numpy=np.asarray,
        dtype_name=lambda a: a.dtype.name,
        native_dtype=np.dtype,
        index_add=index_add,
        ascontiguous=np.ascontiguousarray,
        from_dlpack=np.from_dlpack,
        dtypes=frozenset(DTYPE_NAMES) - {"bfloat16"},
        is_gpu=False,
    )


register_backend("cpu", _load_cpu)


def _load_triton() -> Backend:
    """torch tensors as storage; CUDA, or the CPU under Triton's interpreter (``TRITON_INTERPRET=1``)."""
    import torch
    from array_api_compat import torch as xp

    import kernels.triton as triton_kernels  # raises ImportError without triton, or without a GPU
    from kernels.triton._common import expected_device_type

    for family in triton_kernels.FAMILIES:  # the device exists only when every family loads
        getattr(triton_kernels, family)

    device = torch.device(expected_device_type())

    def from_numpy(array: np.ndarray, dtype: str) -> torch.Tensor:
        host = np.asarray(array, order="C")  # not ascontiguousarray: it turns 0-d into 1-d
        if dtype == "bfloat16":  # numpy has no bfloat16: go through float32
            return torch.from_numpy(host.astype(np.float32)).to(device=device, dtype=torch.bfloat16)
        return torch.from_numpy(host.astype(dtype, copy=False)).to(device)

    def to_numpy(t: torch.Tensor) -> np.ndarray:
        t = t.detach()
        if t.dtype == torch.bfloat16:
            t = t.float()
        return t.cpu().numpy()

    def index_add(dst: torch.Tensor, index: Any, src: torch.Tensor) -> None:
        # Any index (slices, ints, tensors, repeats) becomes flat positions, which index_add_ accumulates.
        flat = torch.arange(dst.numel(), device=dst.device).reshape(dst.shape)[index]
        # A strided dst (a copy of a transposed tensor keeps its strides) has no flat view: add into a
        # contiguous copy, then write it back.
        target = dst if dst.is_contiguous() else dst.contiguous()
        target.view(-1).index_add_(0, flat.reshape(-1), src.reshape(-1).to(dst.dtype))
        if target is not dst:
            dst.copy_(target)

    return Backend(
        name="triton",
        xp=xp,
        kernels=triton_kernels,
        from_numpy=from_numpy,
        to_numpy=to_numpy,
        dtype_name=lambda t: str(t.dtype).removeprefix("torch."),
        native_dtype=lambda name: getattr(torch, name),
        index_add=index_add,
        ascontiguous=lambda t: t.contiguous(),
        from_dlpack=torch.from_dlpack,
        dtypes=frozenset(DTYPE_NAMES),
        is_gpu=device.type == "cuda",
    )


register_backend("triton", _load_triton)


def _load_cupy() -> Backend:
    """CuPy arrays as storage and the CUDA C kernels of ``kernels.cupy``.

    Under ``KERNELGRAD_CUDA_EMULATE=1`` (no GPU; what CI uses) the same CUDA C kernels run on the CPU
    emulator and the storage is numpy: the device then exercises exactly the kernel code a GPU would run,
    slowly, and does not count for ``cuda``.
    """
    import kernels.cupy as cupy_kernels  # raises ImportError without cupy + a GPU, or without the emulator
    from kernels.cupy._runtime import emulating

    for family in cupy_kernels.FAMILIES:  # the device exists only when every family loads
        getattr(cupy_kernels, family)

    if emulating():
        from array_api_compat import numpy as xp

        module, asnumpy, from_dlpack = np, np.asarray, np.from_dlpack

        def index_add(dst: Any, index: Any, src: Any) -> None:
            np.add.at(dst, index, src)
    else:
        import cupy
        import cupyx
        from array_api_compat import cupy as xp

        module, asnumpy, from_dlpack = cupy, cupy.asnumpy, cupy.from_dlpack

        def index_add(dst: Any, index: Any, src: Any) -> None:
            cupyx.scatter_add(dst, index, src)

    def from_numpy(array: np.ndarray, dtype: str) -> Any:
        if dtype == "bfloat16":
            raise TypeError("dtype bfloat16 is not supported on device 'cupy' (CuPy has no bfloat16)")
        return module.asarray(np.asarray(array, dtype=dtype))

    return Backend(
        name="cupy",
        xp=xp,
        kernels=cupy_kernels,
        from_numpy=from_numpy,
        to_numpy=asnumpy,
        dtype_name=lambda a: a.dtype.name,
        native_dtype=np.dtype,
        index_add=index_add,
        ascontiguous=module.ascontiguousarray,
        from_dlpack=from_dlpack,
        dtypes=frozenset(DTYPE_NAMES) - {"bfloat16"},
        is_gpu=not emulating(),
    )


register_backend("cupy", _load_cupy)
