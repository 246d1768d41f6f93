"""Every Triton kernel compiles ahead of time for sm_90 and sm_80, spill-free, with tensor cores — no GPU needed.

Runs ``python -m benchmarks.aot_triton`` once (a subprocess: the kernels must be imported *without*
``TRITON_INTERPRET``, which the test session sets) and checks what a GPU's first launch would hit: compile
errors, kernels whose every config overflows shared memory, register spills in any config the autotuner
can pick for float16/bfloat16/float32, half-precision ``tl.dot`` without HGMMA (sm_90) / HMMA (sm_80).
Compiled kernels are cached by Triton, so only the first run of a CI job pays for ptxas.

What it compiles (CI time: this file was ~2100 s of a 38-minute CI): sm_90 -- every production launcher x every
dtype x every config the autotuner can pick, and the ladder rungs in ``aot_triton.CI_LADDER_DTYPES`` (float16,
float32; ``--ladder-dtype``) -- and sm_80 for ``aot_triton.CI_SM80_DTYPES`` (float16, float32; ``--sm80-dtype``).
``python -m benchmarks.aot_triton`` with no options still compiles the rest (bfloat16 rungs, bfloat16 and float64
for sm_80: the committed report).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

triton = pytest.importorskip("triton")

ROOT = Path(__file__).resolve().parents[2]

if not (Path(triton.__file__).parent / "backends" / "nvidia" / "bin" / "cuobjdump").is_file():
    pytest.skip("this Triton wheel ships no NVIDIA toolchain (ptxas, cuobjdump)", allow_module_level=True)

from benchmarks import aot_triton  # noqa: E402


@pytest.fixture(scope="module")
def report(tmp_path_factory) -> dict:
    out = tmp_path_factory.mktemp("aot")
    env = {k: v for k, v in os.environ.items() if k != "TRITON_INTERPRET"}
    env.setdefault("TRITON_DEFAULT_FP_FUSION", "1")  # triton 3.9 warns when unset; 1 is the default it keeps
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")])
    narrow = [arg for dtype in aot_triton.CI_SM80_DTYPES for arg in ("--sm80-dtype", dtype)]
    narrow += [arg for dtype in aot_triton.CI_LADDER_DTYPES for arg in ("--ladder-dtype", dtype)]
    proc = subprocess.run([sys.executable, "-m", "benchmarks.aot_triton", "--out", str(out), *narrow], cwd=ROOT,
                          env=env, capture_output=True, text=True, timeout=3000)
    path = out / "aot-triton.json"
    assert path.is_file(), f"the AOT compile run wrote no report:\n{proc.stdout[-3000:]}\n{proc.stderr[-6000:]}"
    doc = json.loads(path.read_text())
    doc["rows"] = [aot_triton.Row(**{k: v for k, v in r.items() if k != "fits_smem"}) for r in doc["rows"]]
    return doc


def _where(r: aot_triton.Row) -> str:
    return f"{r.kernel} [{r.launcher}] {r.dtype} {r.arch} {r.config}"


def test_every_launcher_compiled_for_every_dtype_and_arch(report):
    seen = {(r.launcher, r.dtype, r.arch) for r in report["rows"]}
    import torch

    launchers = [launcher for _, launcher, _ in aot_triton._launch_cases(torch, None)]
    missing = [(launcher, dtype, arch) for launcher in launchers for dtype in aot_triton.launcher_dtypes(launcher)
               for arch in aot_triton.launcher_archs(launcher) if (launcher, dtype, arch) not in seen
               and (arch != "sm_80" or dtype in aot_triton.CI_SM80_DTYPES)
               and (not aot_triton.labelled(launcher) or dtype in aot_triton.CI_LADDER_DTYPES)]
    assert not missing, f"never compiled: {missing}"
    # the production kernels the GPUs this project targets (H100/H200) run: every dtype for sm_90
    assert {(launcher, dtype) for launcher in launchers if not aot_triton.labelled(launcher)
            for dtype in aot_triton.DTYPES} <= {(launcher, dtype) for launcher, dtype, arch in seen if arch == "sm_90"}
    kernels = {r.kernel for r in report["rows"]}
    for expected in ("_conv2d_forward_kernel", "_conv2d_backward_input_kernel", "_conv2d_backward_weight_kernel",
                     "_sum_splits_kernel", "_maxpool2d_forward_kernel", "_maxpool2d_backward_kernel",
                     "_linear_forward_kernel", "_linear_backward_input_kernel", "_linear_backward_weight_kernel",
                     "_softmax_xent_forward_kernel", "_dropout_kernel", "_adam_step_kernel", "_sgd_step_kernel"):
        assert expected in kernels, f"{expected} was not launched by any launcher"


def test_ladder_rungs_compile_for_hopper_and_the_ladder_dtypes_only():
    assert aot_triton.launcher_archs("rung0_direct: conv2d_forward") == ("sm_90",)
    assert aot_triton.launcher_archs("conv2d_backward_input stride 2") == tuple(aot_triton.ARCHS)
    assert aot_triton.launcher_archs("rung1_implicit_gemm: conv2d_forward", ("sm_80",)) == ()
    assert aot_triton.launcher_dtypes("rung0_direct: conv2d_forward") == ("float16", "bfloat16", "float32")
    assert aot_triton.launcher_dtypes("conv2d_forward") == aot_triton.DTYPES


def test_identical_compilations_are_compiled_once(report):
    """A row that reuses an earlier job's compilation (``same_as``) is the same kernel, specialization and arch."""
    rows = report["rows"]
    compiled: dict[tuple, list] = {}
    for r in rows:
        if r.same_as is None:
            compiled.setdefault((r.launcher, r.dtype, r.config, r.arch, r.kernel), []).append(r)
    reused = [r for r in rows if r.same_as is not None]
    assert reused, "no compilation was shared: the rung launchers that run production's kernels should be"
    for r in reused:
        launcher, dtype, config = r.same_as.rsplit(" ", 2)
        facts = (r.module, r.signature, r.constexprs, r.registers, r.spill_bytes, r.shared_bytes, r.tensor_core)
        assert r.compile_s == 0 and any(
            (src.module, src.signature, src.constexprs, src.registers, src.spill_bytes, src.shared_bytes,
             src.tensor_core) == facts for src in compiled.get((launcher, dtype, config, r.arch, r.kernel), [])
        ), f"{_where(r)}: no compiled row {r.same_as} with its facts"


def test_no_compile_errors(report):
    errors = [f"{_where(r)}: {r.error.splitlines()[-1]}" for r in report["rows"] if r.error]
    assert not errors, "\n".join(errors)


def test_some_config_fits_shared_memory(report):
    groups: dict[tuple, list] = {}
    for r in report["rows"]:
        groups.setdefault((r.kernel, r.launcher, r.dtype, r.arch), []).append(r)
    none_fit = [key for key, rows in groups.items() if not any(r.fits_smem for r in rows)]
    assert not none_fit, f"no config fits shared memory: {none_fit}"


def test_no_spills_in_configs_the_autotuner_can_pick(report):
    spills = [f"{_where(r)}: {r.spill_bytes} B, {r.registers} registers" for r in report["rows"]
              if r.dtype in aot_triton.SPILL_CHECKED_DTYPES and r.spill_bytes and r.fits_smem]
    assert not spills, "\n".join(spills)


def test_half_precision_dots_use_tensor_cores(report):
    rows = [r for r in report["rows"] if r.uses_dot and r.dtype in ("float16", "bfloat16") and not r.error]
    assert rows, "no half-precision tl.dot kernel was compiled"
    wrong = [_where(r) for r in rows if r.tensor_core != {"sm_90": "HGMMA", "sm_80": "HMMA"}[r.arch]]
    assert not wrong, "expected wgmma (HGMMA) on sm_90 and mma.sync (HMMA) on sm_80:\n" + "\n".join(wrong)


def test_findings_agree_with_the_checks(report):
    """The report's own findings list (what ``python -m benchmarks.aot_triton`` exits 1 on) is empty too."""
    assert report["findings"] == []
