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


# ------------------------------------------------------------------- GEMM tile configs per dtype class
#
# The GEMM-shaped kernels (conv2d, linear_relu) list their autotune tiles per operand class: half
# precision runs tl.dot on tensor cores, IEEE float32 on FMA units (operands and accumulator in
# registers), float64 on the FMA path too.  A tile that is fast for one class spills registers in
# another, so the autotuner only ever sees the class's own list (benchmarks/aot_triton.py compiles every
# one of them for sm_90 and sm_80 and CI fails on a spill).


def tile_shape(config: triton.Config) -> tuple[int, int, int, int, int]:
    """(BLOCK_M, BLOCK_N, BLOCK_K, num_warps, num_stages) of a GEMM config."""
    k = config.kwargs
    return k["BLOCK_M"], k["BLOCK_N"], k["BLOCK_K"], config.num_warps, config.num_stages


def gemm_tile_configs(dtype_configs: dict, interpreter_config: triton.Config) -> list[triton.Config]:
    """One config per distinct tile shape of ``dtype_configs`` (GROUP_M 8), or the interpreter's one."""
    shapes = list(dict.fromkeys(shape for shapes in dtype_configs.values() for shape in shapes))
    gpu = [triton.Config({"BLOCK_M": bm, "BLOCK_N": bn, "BLOCK_K": bk, "GROUP_M": 8}, num_warps=nw, num_stages=ns)
           for bm, bn, bk, nw, ns in shapes]
    return autotune_configs(gpu, interpreter_config)


def dtype_class(dtype: torch.dtype, allow_tf32: bool) -> str:
    """The operand class: "half" (tensor cores: float16, bfloat16, TF32 float32), "float32" (IEEE) or "float64"."""
    if dtype == torch.float64:
        return "float64"
    return "float32" if dtype == torch.float32 and not allow_tf32 else "half"


def prune_by_dtype(dtype_configs: dict, allow_tf32, pointer_names: tuple[str, ...]):
    """An ``early_config_prune`` keeping the configs of the launch's dtype class.

    ``allow_tf32()`` is read at each launch (the module flag may change); the dtype comes from the first
    of ``pointer_names`` among the kernel's arguments.
    """

    def prune(configs, named_args, **kwargs):
        if interpreting() or len(configs) == 1:
            return configs
        dtype = next(named_args[name] for name in pointer_names if name in named_args).dtype
        allowed = dtype_configs[dtype_class(dtype, allow_tf32())]
        return [c for c in configs if tile_shape(c) in allowed]

    return prune


def size_bucket(size: int) -> int:
    """Autotune key for a size that scales with the batch (GEMM rows, elements): the next power of two.

    Keying on the size itself would re-benchmark every config for each new batch size (a last partial
    batch, eval) inside a training loop; a bucket benchmarks at most once per doubling.
    """
    return triton.next_power_of_2(max(size, 1))
