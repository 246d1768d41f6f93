"""The kernel benchmark harness (benchmarks/kernels.py) on the CPU: case table, counts, CLI and JSON schema.

No timing is asserted: benchmarks are not tests.
"""

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from benchmarks import kernels as kb
from framework.cli import main


def _shapes(family: str) -> set[tuple]:
    """(shape of the main input, params) of every full-suite case of ``family``, in float32."""
    return {(tuple(c.shapes[next(iter(c.shapes))]), tuple(sorted(c.params.items())))
            for c in kb.build_cases("full", ("float32",), [family])}


def test_full_suite_covers_every_family_and_dtype():
    cases = kb.build_cases()
    assert {c.family for c in cases} == set(kb.FAMILIES)
    for family in kb.FAMILIES:
        assert {c.dtype for c in cases if c.family == family} == {"float32", "float16", "bfloat16"}
    assert len({(c.family, c.name, c.dtype) for c in cases}) == len(cases), "duplicate case names"


def test_full_suite_contains_the_required_conv_shapes():
    cases = {(c.shapes["x"], c.shapes["w"], c.params["stride"], c.params["padding"])
             for c in kb.build_cases("full", ("float32",), ["conv2d"])}
    required = [  # x[N, C, H, W], w[K, C, R, S], stride, padding
        ((32, 3, 224, 224), (64, 3, 7, 7), 2, 3),
        ((32, 64, 56, 56), (64, 64, 3, 3), 1, 1),
        ((32, 128, 28, 28), (128, 128, 3, 3), 1, 1),
        ((32, 256, 14, 14), (256, 256, 3, 3), 1, 1),
        ((32, 64, 56, 56), (256, 64, 1, 1), 1, 0),
        ((256, 1, 8, 8), (32, 1, 3, 3), 1, 1),
        ((256, 32, 4, 4), (64, 32, 3, 3), 1, 1),
    ]
    for shape in required:
        assert shape in cases, shape


def test_full_suite_contains_the_other_required_shapes():
    assert ((32, 64, 112, 112), (("kernel", 3), ("padding", 1), ("stride", 2))) in _shapes("maxpool2d")
    assert ((256, 32, 28, 28), (("kernel", 2), ("padding", 0), ("stride", 2))) in _shapes("maxpool2d")
    linear = {(c.shapes["x"][0], c.shapes["x"][1], c.shapes["w"][0])
              for c in kb.build_cases("full", ("float32",), ["linear_relu"])}
    assert {(4096, 4096, 4096), (256, 784, 512), (8192, 1024, 8192)} <= linear  # M x K x N
    assert {(s, ()) for s in [(8192, 32000), (4096, 128256), (256, 10)]} <= _shapes("softmax_xent")
    assert {((2**24,), (("p", kb.DROPOUT_P),)), ((2**28,), (("p", kb.DROPOUT_P),))} <= _shapes("dropout")


def test_conv2d_counts_by_hand():
    # N=2, C=3, 5x5, K=4, 3x3, stride 1, pad 1 -> P=Q=5; one GEMM = 2*2*4*3*9*25 = 10800 FLOPs.
    flops, nbytes = kb.conv2d_counts(2, 3, 5, 5, 4, 3, 3, 1, 1, 4)
    assert flops == {"fwd": 10800, "fwd+bwd": 32400}
    x, w, b, y = 150, 108, 4, 200
    assert nbytes["fwd"] == (x + w + b + y) * 4 == 1848
    # backward_input (dy, w -> dx) + backward_weight (dy, x -> dw) + backward_bias (dy -> db)
    assert nbytes["fwd+bwd"] == 1848 + ((y + w + x) + (y + x + w) + (y + b)) * 4
    case = kb.conv2d_case("t", 2, 3, 5, 4, 3, 1, 1, "bfloat16")
    assert case.flops["fwd"] == 10800 and case.bytes["fwd"] == 1848 // 2


def test_memory_bound_counts_by_hand():
    flops, nbytes = kb.linear_counts(2, 3, 4, 4)  # M=2, K=3, N=4
    assert flops == {"fwd": 48, "fwd+bwd": 144}
    assert nbytes["fwd"] == (6 + 12 + 4 + 8) * 4
    assert nbytes["fwd+bwd"] == nbytes["fwd"] + ((8 + 6 + 12 + 8) + (6 + 12 + 4)) * 4
    _, nbytes = kb.maxpool2d_counts(1, 2, 4, 4, 2, 2, 2, 0, 4)  # y [1, 2, 2, 2]; argmax int8 for 4 positions
    assert nbytes == {"fwd": 32 * 4 + 8 * 4 + 8, "fwd+bwd": 2 * (32 * 4 + 8 * 4 + 8)}
    _, nbytes = kb.softmax_xent_counts(3, 5, 2)
    assert nbytes == {"fwd": 2 * 15 * 2 + 3 * 8 + 2, "fwd+bwd": 2 * 15 * 2 + 3 * 8 + 2 + 2 * 15 * 2}
    assert kb.dropout_counts(10, 4) == ({"fwd": 0, "fwd+bwd": 0}, {"fwd": 80, "fwd+bwd": 160})


def test_roofline_picks_the_larger_floor():
    ceilings = {"bandwidth_gbs": 1000.0, "tflops": {"float32_tf32": 100.0, "bfloat16": 500.0}}
    # 1e12 FLOPs at 100 TFLOP/s = 10 ms; 1e9 bytes at 1000 GB/s = 1 ms: compute-bound, floor 10 ms.
    r = kb.roofline(10**12, 10**9, 20.0, "tf32", ceilings)
    assert r["bound"] == "compute" and r["floor_ms"] == pytest.approx(10.0) and r["ceiling"] == "float32_tf32"
    assert r["fraction"] == pytest.approx(0.5) and r["achieved"] == pytest.approx(50.0)
    r = kb.roofline(0, 10**9, 4.0, "bf16", ceilings)
    assert r["bound"] == "memory" and r["achieved_unit"] == "GB/s" and r["achieved"] == pytest.approx(250.0)


def test_ieee_float32_is_held_to_the_fma_ceiling_not_tf32():
    ceilings = {"bandwidth_gbs": 1000.0,
                "tflops": {"float32_ieee": 50.0, "float32_tf32": 400.0, "float16": 800.0, "float64": 60.0}}
    # 1e12 FLOPs: 20 ms at the FP32 FMA rate, 2.5 ms at TF32's.
    assert kb.roofline(10**12, 10**6, 40.0, "ieee", ceilings)["fraction"] == pytest.approx(0.5)
    assert kb.roofline(10**12, 10**6, 5.0, "tf32", ceilings)["fraction"] == pytest.approx(0.5)
    assert kb.matmul_peak("tf32x3", ceilings) == pytest.approx(400.0 / 3)
    assert kb.matmul_peak("fp16", ceilings) == 800.0 and kb.matmul_peak("fp64", ceilings) == 60.0
    assert kb.matmul_peak("bf16", ceilings) is None  # not measured: no compute floor rather than a wrong one


def test_precision_mode_reads_the_kernels_tf32_switch():
    class Module:
        ALLOW_TF32 = False

    assert kb.precision_mode("linear_relu", "float32", Module) == "ieee"
    Module.ALLOW_TF32 = True
    assert kb.precision_mode("conv2d", "float32", Module) == "tf32"
    assert kb.precision_mode("conv2d", "float32", None) == "ieee"  # the CUDA C kernels: no TF32 path
    assert kb.precision_mode("conv2d", "float16", Module) == "fp16"
    assert kb.precision_mode("linear_relu", "bfloat16", Module) == "bf16"
    assert kb.precision_mode("dropout", "bfloat16", Module) == "ieee"  # elementwise: float32 arithmetic
    assert kb.precision_mode("softmax_xent", "float64", Module) == "fp64"


def test_every_triton_dot_takes_its_precision_from_the_module_switch():
    # precision_mode trusts ALLOW_TF32; that is only true while every tl.dot passes input_precision explicitly
    # (Triton's default for float32 is TF32) and each module that multiplies matrices has the switch.
    for path in sorted((Path(__file__).resolve().parents[1] / "kernels" / "triton").glob("*.py")):
        source = path.read_text()
        dots = re.findall(r"tl\.dot\((.*?)\)\n", source, flags=re.S)
        for call in dots:
            assert "input_precision=" in call, f"{path.name}: tl.dot without input_precision: {call[:80]}"
        if dots:
            assert path.stem in kb.MATMUL_FAMILIES and re.search(r"^ALLOW_TF32 = ", source, re.M), path.name


def test_results_go_to_the_checkout_or_the_current_folder(monkeypatch, tmp_path):
    assert kb.results_dir() == kb.RESULTS  # this is a source checkout
    monkeypatch.setattr(kb, "RESULTS", tmp_path / "site-packages" / "benchmarks" / "results")
    monkeypatch.chdir(tmp_path)
    assert kb.results_dir() == tmp_path / "kernelgrad-results"


def test_copies_rotate_past_the_budget():
    assert kb.copies_for(200 * 2**20) == 1
    assert kb.copies_for(30 * 2**20) == 4
    assert kb.copies_for(10) == kb.MAX_COPIES


def test_slug():
    assert kb.slug("NVIDIA H100 80GB HBM3") == "nvidia-h100-80gb-hbm3"


def test_bench_without_gpu_exits_2(monkeypatch, capsys, tmp_path):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    out = tmp_path / "never.json"
    assert main(["bench", "--out", str(out)]) == 2
    assert "GPU" in capsys.readouterr().err
    assert not out.exists()


def test_bench_allow_cpu_writes_table_and_json(monkeypatch, capsys, tmp_path):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    out = tmp_path / "bench.json"
    # --backends cupy: only the numpy reference runs (cupy is skipped on a CPU); Triton's interpreter,
    # which conftest enables, would take minutes.
    assert main(["bench", "--allow-cpu", "--quick", "--backends", "cupy", "--out", str(out)]) == 0
    text = capsys.readouterr().out
    assert "torch/ours" in text and "roofline" in text
    data = json.loads(out.read_text())
    assert data["device"] == "cpu (smoke test, not a benchmark)"
    assert {"torch", "python", "triton"} <= set(data["versions"])
    assert data["ceilings"]["bandwidth_gbs"] > 0 and data["ceilings"]["tflops"]["float32_tf32"] > 0
    assert "numpy" in data["backends"] and "cupy" in data["skipped_backends"]
    rows = data["rows"]
    assert {r["family"] for r in rows} == set(kb.FAMILIES)
    assert {r["pass"] for r in rows} == {"fwd", "fwd+bwd"}
    assert "prec" in text and "cold ms" in text
    assert data["jit_caches"]["triton"]["dir"] and "cold_start" in data["timing"]
    for r in rows:
        assert r["error"] is None, r
        assert r["ours_ms"] > 0 and r["torch_ms"] > 0
        assert r["ours_cold_ms"] > 0 and r["torch_cold_ms"] > 0 and r["sm_clock_mhz"] is None  # no GPU clock
        assert r["precision"] == r["torch_precision"] == "ieee"  # float32 on the CPU
        assert r["ratio"] == pytest.approx(r["torch_ms"] / r["ours_ms"])
        assert r["bytes"] > 0 and 0 < r["roofline"]["fraction"]
        assert r["case"] in text


def test_bench_rejects_unknown_backend(monkeypatch, capsys):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert main(["bench", "--allow-cpu", "--backends", "opencl"]) == 2
    assert "opencl" in capsys.readouterr().err


def test_failing_backend_gives_an_error_row_not_a_crash():
    class Broken:
        def __getattr__(self, name):
            raise ImportError(f"no {name} yet")

    case = kb.build_cases("smoke", ("float32",), ["dropout"])[0]
    ceilings = {"bandwidth_gbs": 1.0, "tflops": {"float32_tf32": 1.0}}
    rows = kb.run_case(case, [kb.Backend("broken", Broken(), lambda t: t)], ceilings, device="cpu", reps=2, warmup=1)
    assert [r["pass"] for r in rows] == ["fwd", "fwd+bwd"]
    assert all(r["ours_ms"] is None and "no dropout yet" in r["error"] and r["torch_ms"] > 0 for r in rows)
    assert "error" in kb.format_table(rows)


def test_write_json_is_atomic(tmp_path):
    path = tmp_path / "sub" / "r.json"
    kb.write_json(path, {"a": 1})
    assert json.loads(path.read_text()) == {"a": 1}
    assert [p.name for p in path.parent.iterdir()] == ["r.json"]  # no temp file left behind


def test_comparison_puts_backends_side_by_side():
    base = {"family": "conv2d", "case": "c", "dtype": "float16", "pass": "fwd", "torch_ms": 2.0}
    rows = [dict(base, backend="triton", ours_ms=1.0), dict(base, backend="cupy", ours_ms=1.25),
            dict(base, **{"pass": "fwd+bwd"}, backend="triton", ours_ms=3.0),
            dict(base, **{"pass": "fwd+bwd"}, backend="cupy", ours_ms=None)]
    entries = kb.compare_backends(rows)
    assert len(entries) == 2
    assert entries[0]["ms"] == {"triton": 1.0, "cupy": 1.25}
    assert entries[0]["cupy_vs_triton"] == pytest.approx(0.8)
    assert entries[1]["cupy_vs_triton"] is None  # a failed cupy run has no ratio
    text = kb.format_comparison(entries)
    assert "cupy ms" in text and "triton ms" in text and "0.80x" in text


def _install_without_the_checkout(tmp_path: Path) -> tuple[Path, dict[str, str]]:
    """pip-install a copy of the project (no dependencies) into ``tmp_path/site``; returns it and an
    environment in which Python finds kernelgrad there and nowhere else (no repository on the path)."""
    root = Path(__file__).resolve().parents[1]
    src = tmp_path / "src"
    src.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(root / name, src / name)
    ignore = shutil.ignore_patterns("__pycache__", "results", "*.so")
    for package in ("framework", "kernels", "benchmarks"):
        shutil.copytree(root / package, src / package, ignore=ignore)
    site = tmp_path / "site"
    pip = [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation", "--no-index",
           "--target", str(site), str(src)]
    built = subprocess.run(pip, capture_output=True, text=True, cwd=tmp_path, timeout=300)
    if built.returncode != 0:
        pytest.skip(f"cannot build the package here: {built.stderr.strip().splitlines()[-1:]}")
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "TRITON_INTERPRET")}
    env["PYTHONPATH"] = str(site)
    return site, env


def test_bench_runs_from_an_installed_package_outside_the_repository(tmp_path):
    site, env = _install_without_the_checkout(tmp_path)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    where = subprocess.run([sys.executable, "-c", "import benchmarks, framework; print(benchmarks.__file__); "
                            "print(framework.__file__)"], capture_output=True, text=True, cwd=elsewhere, env=env)
    assert where.returncode == 0, where.stderr
    assert all(line.startswith(str(site)) for line in where.stdout.split()), where.stdout
    args = ["bench", "--allow-cpu", "--quick", "--backends", "cupy", "--family", "dropout"]
    # Both entry points (two runs, not three: each is mostly Python's and torch's start). The console script runs
    # without --out: an installed harness writes under the current folder, not into site-packages.
    done = subprocess.run([str(site / "bin" / "kernelgrad"), *args], capture_output=True, text=True, cwd=elsewhere,
                          env=env, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    written = list((elsewhere / "kernelgrad-results").glob("kernels-cpu-smoke-*.json"))
    assert len(written) == 1, written
    assert json.loads(written[0].read_text())["device"] == "cpu (smoke test, not a benchmark)"
    out = elsewhere / "framework.cli.json"
    done = subprocess.run([sys.executable, "-m", "framework.cli", *args, "--out", str(out)], capture_output=True,
                          text=True, cwd=elsewhere, env=env, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    assert json.loads(out.read_text())["device"] == "cpu (smoke test, not a benchmark)"
