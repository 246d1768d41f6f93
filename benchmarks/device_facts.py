"""Device facts for ``kernelgrad gpu-check``: what the GPU is, what it can do (measured), and what runs on it.

Writes one JSON with the environment of :func:`benchmarks.kernels.environment` (GPU name, compute
capability, SMs, L2, memory, driver, CUDA, cuDNN and the Python packages' versions, a clock snapshot), the
device properties PyTorch exposes, CuPy's CUDA runtime / driver / NVRTC versions, Triton's compile target,
the JIT caches' state, and the ceilings measured by :func:`benchmarks.kernels.measure_ceilings`: copy
bandwidth and matmul TFLOP/s in bf16, fp16, fp32 with TF32 off (the FP32 FMA ceiling) and on, and fp64.

``--dry-run`` (no GPU): the same file from the CPU, with tiny ceilings, marked as a dry run.

Run: ``python -m benchmarks.device_facts --out facts.json [--dry-run]``.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from pathlib import Path
from typing import Any

import torch

from benchmarks.kernels import environment, gpu_clocks, jit_cache_state, measure_ceilings, write_json

#: Device properties read off ``torch.cuda.get_device_properties`` when this torch has them.
PROPERTIES = ("multi_processor_count", "L2_cache_size", "total_memory", "max_threads_per_multi_processor",
              "regs_per_multiprocessor", "shared_memory_per_block", "shared_memory_per_block_optin",
              "shared_memory_per_multiprocessor", "warp_size", "clock_rate", "memory_clock_rate", "memory_bus_width")


def cupy_facts() -> dict[str, Any]:
    """CuPy's view of CUDA: runtime, driver and NVRTC versions and the CUDA path it found (None: pip wheels)."""
    try:
        cupy = importlib.import_module("cupy")
        return {"runtime": cupy.cuda.runtime.runtimeGetVersion(), "driver": cupy.cuda.runtime.driverGetVersion(),
                "nvrtc": list(cupy.cuda.nvrtc.getVersion()), "cuda_path": cupy.cuda.get_cuda_path()}
    except Exception as exc:  # not installed, or no usable GPU
        return {"error": f"{type(exc).__name__}: {exc}"}


def triton_target() -> str | None:
    """Triton's compile target for the current device, e.g. ``GPUTarget(backend='cuda', arch=90, warp_size=32)``."""
    try:
        from triton.runtime import driver

        return repr(driver.active.get_current_target())
    except Exception:
        return None


def device_facts(dry_run: bool) -> dict[str, Any]:
    """Everything this module records; on the CPU (``dry_run``) the ceilings are tiny and mean nothing."""
    device = "cpu" if dry_run else "cuda"
    facts: dict[str, Any] = {"dry_run": dry_run, "environment": environment(device), "jit_caches": jit_cache_state()}
    if dry_run:
        facts["note"] = "DRY RUN on the CPU: these ceilings are not measurements of any GPU"
        facts["ceilings"] = measure_ceilings("cpu", copy_bytes=16 * 2**20, matmul_n=256, reps=3)
        return facts
    props = torch.cuda.get_device_properties(0)
    facts["properties"] = {name: getattr(props, name) for name in PROPERTIES if hasattr(props, name)}
    facts["cupy"] = cupy_facts()
    facts["triton_target"] = triton_target()
    facts["ceilings"] = measure_ceilings("cuda", dtypes=("bfloat16", "float16", "float32", "float64"))
    facts["clocks_after_ceilings"] = gpu_clocks()  # the clocks under load, read right after the matmuls
    return facts


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.device_facts", description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", required=True, help="JSON path")
    parser.add_argument("--dry-run", action="store_true", help="no GPU: exercise this on the CPU")
    args = parser.parse_args(argv)
    if not args.dry_run and not torch.cuda.is_available():
        print("device_facts: no CUDA GPU (torch.cuda.is_available() is False); use --dry-run on a CPU",
              file=sys.stderr)
        return 2
    facts = device_facts(args.dry_run)
    write_json(Path(args.out), facts)
    env, ceilings = facts["environment"], facts["ceilings"]
    print(f"device: {env.get('gpu', 'cpu (dry run)')}  SMs {env.get('sm_count')}  L2 {env.get('l2_cache_mib')} MiB  "
          f"driver {env.get('driver')}  CUDA {env.get('cuda')}")
    print(f"torch {env['torch']}  triton {env['triton']}  cupy {env['cupy']}  python {env['python']}")
    print(f"ceilings: copy {ceilings['bandwidth_gbs']:.0f} GB/s; matmul "
          + ", ".join(f"{k} {v:.1f} TFLOP/s" for k, v in ceilings["tflops"].items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
