"""The kernel benchmark harness (benchmarks/kernels.py) on the CPU: case table, counts, CLI and JSON schema.

No timing is asserted: benchmarks are not tests.
"""

import json

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
    r = kb.roofline(10**12, 10**9, 20.0, "float32", ceilings)
    assert r["bound"] == "compute" and r["floor_ms"] == pytest.approx(10.0)
    assert r["fraction"] == pytest.approx(0.5) and r["achieved"] == pytest.approx(50.0)
    r = kb.roofline(0, 10**9, 4.0, "bfloat16", ceilings)
    assert r["bound"] == "memory" and r["achieved_unit"] == "GB/s" and r["achieved"] == pytest.approx(250.0)


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
    for r in rows:
        assert r["error"] is None, r
        assert r["ours_ms"] > 0 and r["torch_ms"] > 0
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
