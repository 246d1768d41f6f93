"""``kernelgrad gpu-check`` without a GPU: the dry run end to end, and proof that the check can fail.

The dry run really runs every stage as subprocesses (Triton's interpreter, the CUDA emulator, tiny shapes)
and writes the report; the other tests run the correctness checks on deliberately wrong kernels and a
stage that outlives its timeout, and require both to be reported as failures.
"""

from __future__ import annotations

import json
import sys
import textwrap

import numpy as np
import pytest
import torch

from benchmarks import correctness as cc
from benchmarks import gpu_check as gc
from framework.cli import main
from framework.commands.gpu_check import STAGE_NAMES

#: A kernels package with the numpy contract and two planted bugs: linear_forward leaves its last output
#: element unwritten (so only the poisoning can catch it), and dropout_forward flips one mask bit.
BROKEN_KERNELS = '''
import numpy as np

from kernels.numpy import conv2d, maxpool2d, softmax_xent
from kernels.numpy import dropout as _dropout
from kernels.numpy import linear_relu as _linear


class linear_relu:
    linear_backward = staticmethod(_linear.linear_backward)

    @staticmethod
    def linear_forward(x, w, b, relu):
        good = _linear.linear_forward(x, w, b, relu)
        y = np.empty(good.shape, good.dtype)
        y.flat[:-1] = good.flat[:-1]
        return y


class dropout:
    dropout_backward = staticmethod(_dropout.dropout_backward)

    @staticmethod
    def dropout_forward(x, p, seed, offset):
        y = _dropout.dropout_forward(x, p, seed, offset).copy()
        y.flat[3] = 0 if y.flat[3] != 0 else x.flat[3] / (1 - p)
        return y
'''


@pytest.fixture
def broken_kernels(tmp_path, monkeypatch):
    """The planted-bug package, importable here and by subprocesses (PYTHONPATH)."""
    (tmp_path / "broken_kernels.py").write_text(textwrap.dedent(BROKEN_KERNELS))
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setenv("PYTHONPATH", str(tmp_path))
    return "broken_kernels"


def test_dry_run_runs_every_stage_and_writes_the_report(tmp_path, capsys):
    out = tmp_path / "report"
    status = main(["gpu-check", "--dry-run", "--out", str(out), "--budget-s", "600", "--seed", "7"])
    printed = capsys.readouterr().out
    assert status == 0, printed
    assert sorted(p.name for p in out.iterdir()) == ["bench.json", "gpu-check.json", "gpu-check.log", "gpu-check.md"]

    report = json.loads((out / "gpu-check.json").read_text())
    assert report["dry_run"] is True and "DRY RUN" in report["note"] and report["ok"] is True
    assert [s["name"] for s in report["stages"]] == list(gc.STAGES)
    for stage in report["stages"]:
        assert stage["status"] == "pass", stage
        assert all(p["returncode"] == 0 and p["argv"][0] == sys.executable for p in stage["processes"])

    facts = report["stages"][0]["facts"]
    assert facts["dry_run"] is True and "not measurements" in facts["note"]
    rows = report["stages"][1]["rows"]
    expected = {(f, c, b, d) for f, c, _ in cc.planned_checks("dry") for b in gc.BACKENDS for d in gc.DTYPES["dry"]}
    assert {(r["family"], r["case"], r["backend"], r["dtype"]) for r in rows} == expected
    for row in rows:
        assert row["status"] == "pass" and row["seed"] is not None, row
        assert row["outputs"] and all(o["ok"] for o in row["outputs"]), row
        # The kernels' outputs came from the poisoned `empty` (a 0-d loss or a bias gradient may be the result
        # of a library reduction instead, fully written by it; dropout's mask is derived from y).
        unpoisoned = {o["name"] for o in row["outputs"] if o["poisoned"] is False}
        assert unpoisoned <= {"loss", "db"}, row

    bench = json.loads((out / "bench.json").read_text())
    assert bench["device"] == "cpu (smoke test, not a benchmark)"
    assert all(r["precision"] == "ieee" and r["ours_cold_ms"] > 0 for r in bench["rows"] if r["error"] is None)
    for stage in report["stages"][3:]:
        assert 0 <= stage["test_accuracy"] <= 1 and stage["epochs"] == 1
    ddp = report["stages"][5]
    assert ddp["name"] == "train-ddp" and ddp["device"] == "cpu" and ddp["collectives"] == "gloo", ddp
    assert ddp["world_size"] == ddp["expected_world_size"] == 2 and ddp["nccl_version"] is None
    assert ddp["processes"][0]["argv"][1:6] == ["-m", "torch.distributed.run", "--standalone", "--nproc-per-node", "2"]
    assert ddp["summary"].startswith("gloo, world size 2 on cpu: test accuracy"), ddp["summary"]

    markdown = (out / "gpu-check.md").read_text()
    assert "DRY RUN" in markdown and "| conv2d |" in markdown
    log = (out / "gpu-check.log").read_text()
    assert "===== train-cupy" in log and "test accuracy:" in log
    summary = printed[printed.index("gpu-check DRY RUN"):]
    assert "PASS" in summary.splitlines()[0] and "correctness" in summary and "wrote" in summary.splitlines()[-1]


def test_gpu_check_without_a_gpu_needs_dry_run(monkeypatch, capsys, tmp_path):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert main(["gpu-check", "--out", str(tmp_path / "never")]) == 2
    assert "--dry-run" in capsys.readouterr().err
    assert not (tmp_path / "never").exists()


def test_poisoned_allocations_fill_and_restore():
    with cc.poisoned_allocations(np) as allocations:
        floats, ints = np.empty((3, 4)), np.empty_like(np.zeros(5, np.int8))
    assert np.isnan(floats).all() and (ints == -1).all() and len(allocations) == 2
    assert np.empty is not None and "poisoned" not in np.empty.__name__  # restored
    with cc.poisoned_allocations(torch) as allocations:
        t = torch.empty(7, dtype=torch.float16)
        u = torch.empty_like(torch.zeros(3, dtype=torch.uint8))
    assert torch.isnan(t).all() and (u == 255).all()
    assert allocations[0][0] == t.data_ptr() and "poisoned" not in torch.empty.__name__


def test_wrong_kernels_fail_the_check(broken_kernels):
    target = cc.load_target(broken_kernels)
    rows = {family: cc.run_check(target, family, case, params, "float32", seed=1)
            for family, case, params in cc.planned_checks("dry")}
    assert {f: r["status"] for f, r in rows.items()} == {
        "conv2d": "pass", "maxpool2d": "pass", "linear_relu": "fail", "softmax_xent": "pass", "dropout": "fail"}
    y = next(o for o in rows["linear_relu"]["outputs"] if o["name"] == "y")
    assert y["nonfinite"] == 1 and y["rel_err"] is None and y["poisoned"] is True  # the unwritten element is NaN
    bad = {o["name"]: o["mismatches"] for o in rows["dropout"]["outputs"] if not o["ok"]}
    assert bad == {"y": 1, "mask": 1}


def test_a_kernel_that_raises_is_an_error_not_a_pass(monkeypatch):
    target = cc.load_target("numpy")

    def explode(*args, **kwargs):
        raise RuntimeError("ptxas fatal: out of resources")

    monkeypatch.setattr(target.module.conv2d, "conv2d_backward_weight", explode)
    family, case, params = cc.planned_checks("dry", ("conv2d",))[0]
    row = cc.run_check(target, family, case, params, "float32", seed=2)
    assert row["status"] == "error" and "out of resources" in row["error"]


def test_unsupported_dtype_is_recorded_not_run():
    row = cc.run_check(cc.load_target("numpy"), "dropout", "x", {"n": 8, "p": 0.5, "offset": 0}, "bfloat16", seed=0)
    assert row["status"] == "unsupported" and "bfloat16" in row["error"]


def test_a_failing_correctness_stage_fails_the_whole_call(broken_kernels, tmp_path, capsys):
    def stages(run):
        return [gc.correctness_stage(run, backends=(broken_kernels,))]

    status = gc.run_gpu_check(out=tmp_path, budget_s=300, dry_run=True, seed=3, stages=stages)
    printed = capsys.readouterr().out
    assert status == 1
    report = json.loads((tmp_path / "gpu-check.json").read_text())
    (stage,) = report["stages"]
    assert stage["status"] == "fail" and report["ok"] is False
    assert stage["counts"]["fail"] == 2 * len(gc.DTYPES["dry"])  # linear_relu and dropout, each dtype
    assert "! linear_relu" in printed and "FAIL" in printed
    assert "### Failures" in (tmp_path / "gpu-check.md").read_text()


def test_a_stage_past_its_timeout_is_killed_recorded_and_the_next_runs(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(gc, "MIN_STAGE_S", 0.5)
    monkeypatch.setattr(gc, "KILL_GRACE_S", 1.0)

    def stages(run):
        sleeper = run.process("sleepy", "-c", "import time; print('started', flush=True); time.sleep(60)")
        quick = run.process("quick", "-c", "print('done')")
        return [gc.Stage("sleepy", [sleeper], lambda: {"ok": True, "summary": "slept"}),
                gc.Stage("quick", [quick], lambda: {"ok": True, "summary": "ran"})]

    status = gc.run_gpu_check(out=tmp_path, budget_s=2, dry_run=True, seed=0, stages=stages)
    assert status == 1
    report = json.loads((tmp_path / "gpu-check.json").read_text())
    sleepy, quick = report["stages"]
    assert sleepy["status"] == "timeout" and sleepy["processes"][0]["timed_out"] is True
    assert sleepy["seconds"] < 30  # killed, not waited for
    assert quick["status"] == "pass"
    log = (tmp_path / "gpu-check.log").read_text()
    assert "killed at the timeout" in log and "started" in log and "done" in log


def test_a_worker_killed_mid_stage_leaves_its_checks_not_run(tmp_path, monkeypatch):
    monkeypatch.setattr(gc, "MIN_STAGE_S", 0.1)
    monkeypatch.setattr(gc, "KILL_GRACE_S", 1.0)
    status = gc.run_gpu_check(out=tmp_path, budget_s=0.1, dry_run=True, seed=0,
                              stages=lambda run: [gc.correctness_stage(run, backends=("numpy",))])
    assert status == 1
    (stage,) = json.loads((tmp_path / "gpu-check.json").read_text())["stages"]
    assert stage["status"] == "timeout" and stage["counts"]["not run"] > 0


def test_stage_timeouts_share_what_is_left():
    assert gc.stage_timeout(100.0, [1.0, 1.0, 2.0]) == pytest.approx(25.0)
    assert gc.stage_timeout(100.0, [2.0]) == pytest.approx(100.0)  # the last stage gets all that is left
    assert gc.stage_timeout(-5.0, [1.0]) == gc.MIN_STAGE_S
    weights = list(gc.STAGES.values())
    assert sum(weights) == pytest.approx(1.0)
    # Every stage gets its share of the default budget when the ones before it use all of theirs.
    assert gc.stage_timeout(gc.DEFAULT_BUDGET_S, weights) == pytest.approx(gc.DEFAULT_BUDGET_S * weights[0])


def test_the_command_offers_every_stage():
    assert STAGE_NAMES == tuple(gc.STAGES)


@pytest.mark.parametrize("gpus, processes", [(0, 1), (1, 1), (2, 2), (8, 2)])
def test_train_ddp_on_a_gpu_checks_nccl_world_size_and_accuracy(tmp_path, monkeypatch, gpus, processes):
    """The GPU branch of train-ddp without a GPU: its command line, and its verdict on metrics.json and the log."""
    monkeypatch.setattr(torch.cuda, "device_count", lambda: gpus)
    run = gc.Run(out=tmp_path, work=tmp_path, dry_run=False, seed=0, jobs=1)
    stage = gc.ddp_stage(run)
    (proc,) = stage.processes
    assert proc.argv[1:6] == ["-m", "torch.distributed.run", "--standalone", "--nproc-per-node", str(processes)]
    cli = proc.argv[proc.argv.index("framework.cli") + 1:]
    assert cli[:4] == ["train", "cnn", "--device", "cuda"] and "--limit" not in cli
    assert cli[cli.index("--epochs") + 1] == str(gc.DDP_EPOCHS) and cli[cli.index("--seed") + 1] == "0"
    assert stage.read() == {"ok": False, "summary": "no metrics.json written"}

    folder = tmp_path / "train-ddp"
    folder.mkdir()

    def verdict(world: int, accuracy: float, log: str = "") -> dict:
        (folder / "metrics.json").write_text(json.dumps(
            {"device": "triton", "processes": world, "test_accuracy": accuracy, "elapsed_seconds": 4.2}))
        proc.log.write_text(log)
        return stage.read()

    good = verdict(processes, 0.867, "host:1:1 [0] NCCL INFO NCCL version 2.21.5+cuda12.4\ntest accuracy: 86.7%\n")
    assert good["ok"] and good["nccl_version"] == "2.21.5+cuda12.4" and good["collectives"] == "NCCL"
    assert good["summary"] == (f"NCCL 2.21.5+cuda12.4, world size {processes} on triton: test accuracy 86.7% after "
                               f"{gc.DDP_EPOCHS} epochs (needs >= 75%), 4.2 s")
    no_line = verdict(processes, 0.867)
    assert no_line["ok"] and no_line["nccl_version"] is None and "no version line" in no_line["summary"]
    wrong_world = verdict(processes + 1, 0.867)
    assert not wrong_world["ok"] and f"expected {processes}" in wrong_world["summary"]
    untrained = verdict(processes, gc.MIN_DDP_ACCURACY - 0.01)
    assert not untrained["ok"] and "below 75%" in untrained["summary"]


def test_tolerances_follow_dtype_and_precision():
    assert cc.tolerance("float32", "ieee") == 1e-4 and cc.tolerance("float32", "tf32") == 1e-3
    assert cc.tolerance("float16", "fp16") == cc.tolerance("bfloat16", "ieee") == 1e-2
    assert cc.tolerance("float64", "fp64") == 1e-10


def test_a_rerun_of_one_stage_replaces_it_and_keeps_the_others(tmp_path, capsys):
    outcome = {"first": False}

    def stages(run):
        return [gc.Stage(name, [run.process(name, "-c", f"print('{name} ran')")],
                         lambda name=name: {"ok": name != "first" or outcome["first"], "summary": name})
                for name in ("first", "second")]

    assert gc.run_gpu_check(out=tmp_path, budget_s=60, dry_run=True, seed=0, stages=stages) == 1
    outcome["first"] = True  # fixed: rerun only that stage
    assert gc.run_gpu_check(out=tmp_path, budget_s=60, dry_run=True, seed=1, only=["first"], stages=stages) == 0
    report = json.loads((tmp_path / "gpu-check.json").read_text())
    assert [(s["name"], s["status"]) for s in report["stages"]] == [("first", "pass"), ("second", "pass")]
    assert report["seed"] == 0 and report["reruns"][0]["stages"] == ["first"] and report["ok"] is True
    log = (tmp_path / "gpu-check.log").read_text()
    assert log.count("\nfirst ran\n") == 2 and log.count("\nsecond ran\n") == 1  # output, not the argv lines
