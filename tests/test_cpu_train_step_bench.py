"""benchmarks/cpu_train_step.py at a tiny size: every workload builds in kernelgrad and PyTorch with the same
weights, passes the first-loss sanity check (which does fail for a twin one weight off) and fills every field of
the JSON. Not a benchmark: nothing here is timed."""

from __future__ import annotations

import json
import statistics

import pytest
import torch

from benchmarks import cpu_train_step as bench
from benchmarks import cpu_workloads

WORKLOADS = ["digits", "mnist", "lstm", "gan", "mnist1d"]


def test_quick_run_times_every_workload_and_writes_the_json(tmp_path):
    out = tmp_path / "cpu.json"
    bench.main(["--quick", "--out", str(out)])
    result = json.loads(out.read_text())
    assert list(cpu_workloads.workloads()) == WORKLOADS and list(result["workloads"]) == WORKLOADS
    assert result["benchmark"] == "cpu_train_step" and result["thread_counts"] == [1] and result["repeats"] == 2
    assert result["targets"] == {"digits": 1.0, "mnist": 1.5, "lstm": 2.0, "gan": 1.5, "mnist1d": 1.5}
    assert [(row["workload"], row["threads"]) for row in result["rows"]] == [(name, 1) for name in WORKLOADS]
    for name, entry in result["workloads"].items():
        assert entry["dtype"] == "float32" and entry["input_shape"] and entry["model"] and entry["optimizer"]
        timing = entry["threads"]["1"]
        for side in ("kernelgrad", "torch"):
            times = timing["ms_per_step"][side]
            assert len(times) == 2 and min(times) > 0, (name, side)
            assert timing["median_ms_per_step"][side] == statistics.median(times)
        medians = timing["median_ms_per_step"]
        assert timing["ratio_kernelgrad_over_torch"] == pytest.approx(medians["kernelgrad"] / medians["torch"])
        sanity = entry["sanity"]
        assert len(sanity["rel_diff"]) == 2 and len(sanity["kernelgrad"][0]) == (2 if name == "gan" else 1)
        assert all(d <= rtol for diffs, rtol in zip(sanity["rel_diff"], sanity["rtol"]) for d in diffs), name
        profile = entry["profile"]
        assert list(profile["share_by_category"]) == bench.CATEGORY_NAMES
        assert sum(profile["share_by_category"].values()) == pytest.approx(1.0), name
        own = [f["own_ms_per_step"] for f in profile["top_functions_by_own_time"]]
        assert 0 < len(own) <= 8 and own == sorted(own, reverse=True)
    # the single-workload version's fields: DigitsCNN at the first thread count
    digits = result["workloads"]["digits"]["threads"]["1"]
    assert result["threads"] == 1 and result["ms_per_step"] == digits["ms_per_step"]
    assert result["ratio_kernelgrad_over_torch"] == digits["ratio_kernelgrad_over_torch"]
    assert result["target_ratio"] == 1.0 and result["input_shape"] == [64, 1, 8, 8]


def test_threads_list_gives_one_row_per_count(tmp_path):
    out = tmp_path / "cpu.json"
    before = torch.get_num_threads()
    result = bench.main(["--quick", "--workloads", "mnist1d", "--threads", "1,all", "--no-profile",
                         "--out", str(out)])
    counts = [1, bench.usable_cpus()] if bench.usable_cpus() > 1 else [1]
    assert result["thread_counts"] == counts and [row["threads"] for row in result["rows"]] == counts
    assert list(result["workloads"]["mnist1d"]["threads"]) == [str(n) for n in counts]
    assert "profile" not in result["workloads"]["mnist1d"] and result["headline"] == "mnist1d at 1 thread(s)"
    assert torch.get_num_threads() == before  # the thread limits are undone


@pytest.mark.parametrize("name", ["mnist1d", "gan"])
def test_sanity_check_fails_for_a_twin_one_weight_off(name):
    """(Identical twins pass: the quick run above checks every workload.)"""
    workload = cpu_workloads.workloads()[name]
    ours, theirs = bench.build_twins(workload, 2)
    last_model = list(theirs.models.values())[-1]  # the GAN's discriminator: both of its losses move
    with torch.no_grad():
        next(iter(last_model.parameters())).view(-1)[0] += 0.05  # one weight of the torch twin
    with bench.thread_limit(1), pytest.raises(bench.TwinMismatch, match=f"{name}: step 1 losses differ"):
        bench.check_twins(workload, ours, theirs)


def test_parse_threads():
    assert bench.parse_threads("1,all,1") == [1, bench.usable_cpus()] or bench.usable_cpus() == 1
    assert bench.parse_threads("2") == [2]
    for bad in ("0", "x", "1,,2"):
        with pytest.raises(ValueError, match="--threads"):
            bench.parse_threads(bad)


def test_profile_categories_follow_the_file_path():
    root = bench.ROOT
    assert bench.own_category(str(root / "kernels/numpy/conv2d.py")) == "conv2d kernels"
    assert bench.own_category(str(root / "kernels/numpy/dropout.py")) == "other numpy kernels"
    assert bench.own_category(str(root / "framework/autograd.py")) == "autograd engine + Tensor"
    assert bench.own_category(str(root / "framework/ops/conv2d.py")) == "ops (Function forward/backward)"
    assert bench.own_category(str(root / "framework/nn/layers.py")) == "nn modules + functional"
    assert bench.own_category(str(root / "framework/optim/adam.py")) == "optimizer"
    assert bench.own_category(str(root / "framework/random.py")) == "other"
    assert bench.own_category("~") is None and bench.own_category(torch.__file__) is None
    # library time goes to the caller: numpy.matmul called 3 times from conv2d.py, once (1 s) from adam.py
    conv, adam, matmul = (str(root / "kernels/numpy/conv2d.py"), 1, "f"), (str(root / "framework/optim/adam.py"),
                                                                            1, "g"), ("~", 0, "matmul")
    stats = {conv: (1, 1, 0.0, 4.0, {}), adam: (1, 1, 0.0, 1.0, {}),
             matmul: (4, 4, 4.0, 4.0, {conv: (3, 3, 3.0, 3.0), adam: (1, 1, 1.0, 1.0)})}
    shares = bench.summarize_profile(stats, steps=1)["share_by_category"]
    assert shares["conv2d kernels"] == pytest.approx(0.75) and shares["optimizer"] == pytest.approx(0.25)
