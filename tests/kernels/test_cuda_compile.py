"""Every CUDA C file compiles with nvcc for sm_75 (Turing), sm_80 (A100) and sm_90 (H100/H200).

The ``.cu`` files end with explicit template instantiations, so nvcc compiles every kernel body, bfloat16
included, for each architecture.  sm_75 is the oldest architecture CUDA 13 targets and has no bfloat16
tensor cores: it checks that every tensor-core path is guarded (common.cuh's KG_*_TENSOR_CORES) and falls
back to FMA.  NVRTC, which compiles the kernels on a GPU, is checked separately with the exact options of
the GPU path (test_nvrtc_compile.py).  Skips only when nvcc is absent; a compile error (or warning) fails.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
KERNEL_DIR = ROOT / "kernels" / "cupy"
SOURCES = (sorted(KERNEL_DIR.glob("*.cu")) + sorted(KERNEL_DIR.glob("ladder/*/*.cu"))  # families, ladder rungs
           + sorted((ROOT / "tests" / "kernels" / "cupy" / "cuda").glob("*.cu")))
ARCHS = ("75", "80", "90")


def test_every_family_has_a_cuda_source():
    families = ("conv2d", "maxpool2d", "linear_relu", "softmax_xent", "dropout", "optim_step")
    missing = [f for f in families if not (KERNEL_DIR / f"{f}.cu").is_file()]
    assert not missing, f"kernels/cupy lacks CUDA C sources for {missing}"


@pytest.mark.skipif(shutil.which("nvcc") is None, reason="nvcc is not installed")
@pytest.mark.parametrize("source", SOURCES, ids=lambda p: p.name)
def test_compiles_for_sm75_sm80_and_sm90(source, tmp_path):
    gencode = [f"-gencode=arch=compute_{a},code=sm_{a}" for a in ARCHS]
    cmd = ["nvcc", "-c", "-std=c++17", "-Werror=all-warnings", "--threads=0", *gencode, f"-I{KERNEL_DIR}", str(source),
           "-o", str(tmp_path / "out.o")]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, f"nvcc failed on {source.name}:\n{proc.stderr[-6000:]}"
