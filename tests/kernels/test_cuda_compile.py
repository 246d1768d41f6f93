"""Every CUDA C file compiles with nvcc for sm_75 (Turing), warnings as errors.

The ``.cu`` files end with explicit template instantiations, so nvcc compiles every kernel body, bfloat16
included.  sm_75 is the oldest architecture CUDA 13 targets and has no bfloat16 tensor cores: it checks that
every tensor-core path is guarded (common.cuh's KG_*_TENSOR_CORES) and falls back to FMA, a path no GPU this
project runs on takes and NVRTC's check never compiles.  sm_80 and sm_90 (A100, H100/H200) are compiled by
NVRTC with the exact options of the GPU path, every name expression the wrappers launch, with the register /
spill / tensor-core report (test_nvrtc_compile.py); nvcc compiled them here too until the suite outgrew CI's
time target, and added nothing that check lacks for those two.  ``nvcc -gencode ...=sm_90`` by hand still
works for a reader.  Skips only when nvcc is absent; a compile error (or warning) fails.
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
ARCHS = ("75",)


def test_every_family_has_a_cuda_source():
    families = ("conv2d", "maxpool2d", "linear_relu", "softmax_xent", "dropout", "optim_step")
    missing = [f for f in families if not (KERNEL_DIR / f"{f}.cu").is_file()]
    assert not missing, f"kernels/cupy lacks CUDA C sources for {missing}"


@pytest.mark.skipif(shutil.which("nvcc") is None, reason="nvcc is not installed")
@pytest.mark.parametrize("source", SOURCES, ids=lambda p: p.name)
def test_compiles_for_sm75(source, tmp_path):
    gencode = [f"-gencode=arch=compute_{a},code=sm_{a}" for a in ARCHS]
    cmd = ["nvcc", "-c", "-std=c++17", "-Werror=all-warnings", "--threads=0", *gencode, f"-I{KERNEL_DIR}", str(source),
           "-o", str(tmp_path / "out.o")]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, f"nvcc failed on {source.name}:\n{proc.stderr[-6000:]}"
