"""Shared plumbing for the Triton kernels: argument checks on torch tensors and autotune configs.

The shape, pair and dtype-agreement checks are shared with numpy (``kernels/_args.py``), so a mistake raises the
same ``TypeError`` / ``ValueError`` naming the argument on every backend. Tensors must be contiguous
and live on the device Triton runs on: CUDA, or the CPU when ``TRITON_INTERPRET=1`` (the interpreter
runs the same kernels with numpy semantics, which is how CI exercises them).
"""

from __future__ import annotations

import os

import torch
import triton

from .._args import check_same_dtype  # noqa: F401  (re-exported for the kernel modules)

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


def tl_dtype(dtype: torch.dtype):
    """The Triton element type for a torch float dtype (for ``tl.constexpr`` output casts)."""
    import triton.language as tl

    return {torch.float16: tl.float16, torch.bfloat16: tl.bfloat16, torch.float32: tl.float32,
            torch.float64: tl.float64}[dtype]
