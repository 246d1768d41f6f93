"""benchmarks/ddp_scaling.py --quick: the harness runs its torchrun jobs (1 and 2 processes, gloo) and writes a
complete JSON. Structure only: nothing here asserts on time."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from benchmarks import ddp_scaling

ROOT = Path(__file__).resolve().parent.parent

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="gloo jobs through torchrun: Linux/macOS")


def _positive(x) -> bool:
    return isinstance(x, float | int) and math.isfinite(x) and x > 0


@pytest.fixture(scope="module")
def quick_result(tmp_path_factory) -> dict:
    out = tmp_path_factory.mktemp("ddp-scaling")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
    proc = subprocess.run([sys.executable, "-m", "benchmarks.ddp_scaling", "--quick", "--nprocs", "1,2",
                           "--devices", "cpu", "--out", str(out)], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=280)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-5000:]
    files = sorted(out.glob("ddp-scaling-cpu-*.json"))
    assert len(files) == 1, files
    assert "samples/s" in proc.stdout and "GPU: not " in proc.stdout
    return json.loads(files[0].read_text())


def test_quick_json_has_the_facts(quick_result):
    r = quick_result
    assert r["benchmark"] == "ddp_scaling" and r["device"] == "cpu" and r["process_group_backend"] == "gloo"
    assert r["quick"] is True and r["dtype"] == "float32" and r["threads_per_process"] == 1
    assert r["cpu_count"] == os.cpu_count() and r["cpus_usable"] >= 1
    for package in ("python", "numpy", "torch", "threadpoolctl"):
        assert r["versions"][package], package
    assert r["world_sizes"] == [1, 2]
    assert r["bucket_caps_mb"] == list(ddp_scaling.BUCKET_CAPS_MB)
    assert set(r["models"]) == set(ddp_scaling.MODELS)
    for facts in r["models"].values():
        assert facts["gradient_bytes"] == 4 * facts["parameters"] > 0
    assert "barrier" in r["timing"]["method"] and "median" in r["timing"]["method"]
    assert r["gpu_measurement"].startswith("not in this file" if torch.cuda.is_available() else "not measured")
    assert any("--quick" in note for note in r["notes"])
    assert all("error" not in job for job in r["jobs"].values()), r["jobs"]


def test_quick_json_throughput_and_scaling(quick_result):
    r = quick_result
    rows = {(t["model"], t["world_size"], t["batch_per_process"], t["ddp"]): t for t in r["throughput"]}
    expected = set()
    for model in ddp_scaling.MODELS:
        for batch in ddp_scaling.BATCHES:
            expected |= {(model, 1, batch, False), (model, 1, batch, True), (model, 2, batch, True)}
        expected.add((model, 2, ddp_scaling.STRONG_GLOBAL_BATCH // 2, True))
    assert set(rows) == expected
    for key, t in rows.items():
        assert t["global_batch"] == t["batch_per_process"] * t["world_size"], key
        assert _positive(t["samples_per_s"]) and _positive(t["median_step_ms"]) and _positive(t["cores_used"]), key
        assert len(t["rank_windows_s"]) == t["world_size"], key
        for windows in t["rank_windows_s"] + t["rank_windows_cpu_s"]:
            assert len(windows) == r["timing"]["windows"], key
    weak = {(w["model"], w["batch_per_process"], w["world_size"]) for w in r["weak_scaling"]}
    assert weak == {(m, b, w) for m in ddp_scaling.MODELS for b in ddp_scaling.BATCHES for w in (1, 2)}
    for w in r["weak_scaling"] + r["strong_scaling"]:
        assert _positive(w["speedup"]) and w["efficiency"] == pytest.approx(w["speedup"] / w["world_size"])
        assert w["oversubscribed"] == (w["world_size"] > r["cpus_usable"])
    assert {(s["model"], s["world_size"], s["global_batch"]) for s in r["strong_scaling"]} == \
        {(m, 2, ddp_scaling.STRONG_GLOBAL_BATCH) for m in ddp_scaling.MODELS}


def test_quick_json_allreduce_overhead(quick_result):
    o = quick_result["allreduce_overhead"]
    assert (o["model"], o["world_size"], o["batch_per_process"]) == ("wide", 2, 32)
    assert o["gradient_bytes"] == quick_result["models"]["wide"]["gradient_bytes"]
    assert _positive(o["bare_allreduce_full_ms"]) and _positive(o["no_sync_over_one_process"])
    caps = o["caps"]
    assert [c["bucket_cap_mb"] for c in caps] == list(ddp_scaling.BUCKET_CAPS_MB)
    for c in caps:
        assert c["buckets"] == len(c["bucket_bytes"]) >= 1
        assert sum(c["bucket_bytes"]) == o["gradient_bytes"]
        for key in ("ddp_step_ms", "no_sync_step_ms", "allreduce_buckets_ms"):
            assert _positive(c[key]), key
        assert all(_positive(c["cores_used"][mode]) for mode in ("ddp", "no_sync", "allreduce_buckets"))
        assert c["overhead_ms"] == pytest.approx(c["ddp_step_ms"] - c["no_sync_step_ms"])
    counts = [c["buckets"] for c in caps]
    # Bigger caps, fewer buckets; the wide model is shaped so that every cap packs it differently.
    assert counts == sorted(set(counts), reverse=True) and counts[-1] == 1, counts
