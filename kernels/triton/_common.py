"""Shared plumbing for the Triton kernels: argument checks on torch tensors and autotune configs.

The checks mirror ``kernels/numpy/_checks.py`` word for word where they can, so a mistake raises the
same ``TypeError`` / ``ValueError`` naming the argument on every backend. Tensors must be contiguous
and live on the device Triton runs on: CUDA, or the CPU when ``TRITON_INTERPRET=1`` (the interpreter
runs the same kernels with numpy semantics, which is how CI exercises them).
"""

from __future__ import annotations

import os

import torch
import triton

FLOAT_DTYPES = (torch.float16, torch.bfloat16, torch.float32, torch.float64)


def interpreting() -> bool:
    """True when kernels run under Triton's CPU interpreter (``TRITON_INTERPRET=1``)."""
    return os.environ.get("TRITON_INTERPRET", "0") not in ("", "0")


def expected_device_type() -> str:
    return "cpu" if interpreting() else "cuda"


def autotune_configs(gpu_configs: list[triton.Config], interpreter_config: triton.Config) -> list[triton.Config]:
    """The GPU search space, or one small config under the interpreter so CPU tests stay fast."""
    return [interpreter_config] if interpreting() else gpu_configs


def check_float_tensor(name: str, t: object, ndim: int | None = None) -> torch.Tensor:
    """Require a contiguous float16/bfloat16/float32/float64 torch tensor on Triton's device."""
    if not isinstance(t, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor, got {type(t).__name__}")
    if t.dtype not in FLOAT_DTYPES:
        raise TypeError(f"{name} must have dtype float16, bfloat16, float32 or float64, got {t.dtype}")
    if ndim is not None and t.ndim != ndim:
        raise ValueError(f"{name} must be {ndim}-D, got shape {tuple(t.shape)} ({t.ndim}-D)")
    check_placement(name, t)
    return t


def check_placement(name: str, t: torch.Tensor) -> None:
    want = expected_device_type()
    if t.device.type != want:
        hint = "" if want == "cuda" else " (TRITON_INTERPRET=1 runs the kernels on CPU tensors)"
        raise ValueError(f"{name} is on device {t.device}, expected a {want} tensor{hint}")
    if not t.is_contiguous():
        raise ValueError(f"{name} must be contiguous (C-order), got strides {t.stride()} for shape {tuple(t.shape)}")


def check_same_dtype(**tensors: torch.Tensor | None) -> torch.dtype:
    """Require all non-None tensors to share one dtype; return it."""
    present = {k: v for k, v in tensors.items() if v is not None}
    dtypes = {v.dtype for v in present.values()}
    if len(dtypes) > 1:
        desc = ", ".join(f"{k}={v.dtype}" for k, v in present.items())
        raise TypeError(f"dtype mismatch: {desc} (all must share one dtype)")
    return next(iter(present.values())).dtype


def check_shape(name: str, t: torch.Tensor, expected: tuple[int, ...]) -> None:
    if tuple(t.shape) != tuple(expected):
        raise ValueError(f"{name} has shape {tuple(t.shape)}, expected {tuple(expected)}")


def _is_int(v: object) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def check_pair(name: str, value: object, minimum: int) -> tuple[int, int]:
    """Normalise an int or an (h, w) pair of ints, each >= ``minimum``."""
    pair = (value, value) if _is_int(value) else value
    if not (isinstance(pair, tuple | list) and len(pair) == 2 and _is_int(pair[0]) and _is_int(pair[1])):
        raise TypeError(f"{name} must be an int or a pair of ints, got {value!r}")
    h, w = int(pair[0]), int(pair[1])
    if h < minimum or w < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value!r}")
    return h, w


def check_shape_tuple(name: str, shape: object, ndim: int) -> tuple[int, ...]:
    """Require a sequence of ``ndim`` positive ints (e.g. ``input_shape``)."""
    try:
        dims = tuple(shape)  # type: ignore[arg-type]
    except TypeError:
        raise TypeError(f"{name} must be a tuple of {ndim} ints, got {shape!r}") from None
    if len(dims) != ndim or not all(_is_int(int(d)) and int(d) > 0 for d in dims):
        raise ValueError(f"{name} must be a tuple of {ndim} positive ints, got {shape!r}")
    return tuple(int(d) for d in dims)


def out_size(name: str, size: int, pad: int, kernel: int, stride: int) -> int:
    """Output length along one axis; raise if the kernel does not fit in the padded input."""
    if size + 2 * pad < kernel:
        raise ValueError(
            f"{name}: kernel size {kernel} is larger than the padded input "
            f"({size} + 2*{pad} = {size + 2 * pad})"
        )
    return (size + 2 * pad - kernel) // stride + 1


def tl_dtype(dtype: torch.dtype):
    """The Triton element type for a torch float dtype (for ``tl.constexpr`` output casts)."""
    import triton.language as tl

    return {torch.float16: tl.float16, torch.bfloat16: tl.bfloat16, torch.float32: tl.float32,
            torch.float64: tl.float64}[dtype]
