"""benchmarks/train_step.py without a GPU: the twins compute the same function, the kernelgrad step runs, the dry
run writes its JSON (interpreter, stand-in graph, torch.compile's eager backend), and the CPU fallback hands over
to cpu_train_step. Not a benchmark: nothing here is timed."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

import framework as fw
from benchmarks import train_step as bench
from tests.helpers import rel_err


@pytest.mark.parametrize("name", bench.MODELS)
def test_torch_twin_holds_the_same_weights_and_computes_the_same_logits(name):
    shape = bench.DRY_SHAPES[name]
    weights = bench.initial_weights(name, shape, seed=3)
    ours = bench.framework_model(name, shape)
    ours.load_state_dict({k: fw.tensor(v) for k, v in weights.items()})
    theirs = bench.torch_model(name, shape)
    theirs.load_state_dict({k: torch.from_numpy(v) for k, v in weights.items()})  # strict: every name matches
    ours.eval()
    theirs.eval()
    x, _ = bench.make_batches(shape, 1)[0]
    with torch.no_grad():
        want = theirs(torch.from_numpy(x)).numpy()
    assert rel_err(ours(fw.tensor(x)).numpy(), want) < 1e-5


def test_kernelgrad_eager_step_trains_on_cpu():
    shape = bench.DRY_SHAPES["resnet"]
    weights = bench.initial_weights("resnet", shape)
    run, info = bench.kernelgrad_step("cpu", "resnet", shape, weights, bench.make_batches(shape, 2), graph=False,
                                      dry_run=True)
    run(0)
    assert "fused=True" in info["optimizer"]


def test_dry_run_writes_every_row(tmp_path):
    out = tmp_path / "train_step.json"
    variants = ["kernelgrad-triton-graph", "torch-eager", "torch-compile"]
    bench.main(["--dry-run", "--model", "digits", *[a for v in variants for a in ("--variant", v)], "--out", str(out)])
    result = json.loads(out.read_text())
    assert result["dry_run"] is True and result["precision"]["dtype"] == "float32"
    rows = result["models"]["digits"]["variants"]
    assert result["models"]["digits"]["shape"]["input"] == [4, 1, 8, 8]
    if "skipped" in rows["kernelgrad-triton-graph"]:
        pytest.skip(rows["kernelgrad-triton-graph"]["skipped"])
    graph = rows["kernelgrad-triton-graph"]
    assert graph["captures"] == 1 and graph["eager_reason"] is None and "RerunGraphs" in graph["graphs"]
    for variant in variants:
        row = rows[variant]
        assert row["steps"] == 1 and row["median_ms"] > 0 and row["setup_s"] > 0, variant
    assert rows["torch-eager"]["speedup_vs_torch_eager"] == 1.0
    assert 'backend="eager"' in rows["torch-compile"]["compile"]


def test_without_a_gpu_it_runs_the_cpu_comparison(tmp_path, monkeypatch, capsys):
    if torch.cuda.is_available():
        pytest.skip("a GPU is present: the GPU part runs")
    out = tmp_path / "train_step.json"
    bench.main(["--steps", "2", "--warmup", "1", "--repeats", "1", "--out", str(out)])
    result = json.loads(out.read_text())
    assert result["gpu"].startswith("skipped") and result["cpu"]["benchmark"] == "cpu_train_step"
    assert np.isfinite(result["cpu"]["ratio_kernelgrad_over_torch"])
    assert "the GPU part" in capsys.readouterr().out


def test_kernelgrad_bench_train_step_runs_the_benchmark(tmp_path, monkeypatch, capsys):
    """``kernelgrad bench --train-step``: its options become train_step's (checked without running), and a real
    dry run through the command line (PyTorch eager only, the cheapest row) writes the JSON."""
    from framework.cli import main

    seen = []
    monkeypatch.setattr(bench, "main", lambda argv: seen.append(list(argv)) or {})
    assert main(["bench", "--train-step", "--backends", "triton,cupy,numpy"]) == 0
    assert main(["bench", "--train-step", "--quick", "--backends", "cupy", "--out", "x.json"]) == 0
    variants = lambda argv: [argv[i + 1] for i, a in enumerate(argv) if a == "--variant"]  # noqa: E731
    assert variants(seen[0]) == ["kernelgrad-triton-eager", "kernelgrad-triton-graph", "kernelgrad-cupy-eager",
                                 "torch-eager", "torch-compile"] and "--model" not in seen[0]
    assert variants(seen[1]) == ["kernelgrad-cupy-eager", "torch-eager"]
    i = seen[1].index("--model")
    assert seen[1][i:i + 6] == ["--model", "digits", "--steps", "50", "--warmup", "10"]
    assert seen[1][seen[1].index("--out") + 1] == "x.json" and "--dry-run" not in seen[1]
    assert main(["bench", "--dry-run"]) == 2 and "--dry-run goes with --train-step" in capsys.readouterr().err
    assert main(["bench", "--train-step", "--ladder", "conv2d"]) == 2
    monkeypatch.undo()

    out = tmp_path / "train_step.json"
    assert main(["bench", "--train-step", "--dry-run", "--quick", "--backends", "", "--out", str(out)]) == 0
    result = json.loads(out.read_text())
    assert result["dry_run"] is True and list(result["models"]) == ["digits"]
    assert list(result["models"]["digits"]["variants"]) == ["torch-eager"]
    assert "torch-eager" in capsys.readouterr().out
