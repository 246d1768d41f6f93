"""``kernelgrad train cnn --nproc-per-node 2`` against the same command in one process (gloo, CPU)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from safetensors.numpy import load_file

from framework.cli import main
from tests.helpers import rel_err

ROOT = Path(__file__).resolve().parent.parent.parent
ARGS = ["train", "cnn", "--epochs", "2", "--limit", "150", "--no-progress", "--device", "cpu", "--batch-size", "16"]

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="gloo jobs through torchrun: Linux/macOS")


def kernelgrad(*args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    result = subprocess.run([sys.executable, "-m", "framework", *args], cwd=ROOT, env=env, capture_output=True,
                            text=True, timeout=600)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-6000:]
    return result


#: How far two float32 trainings that differ only in rounding drift apart here (2 epochs of Adam): Adam's first
#: steps move every weight by about lr whatever its gradient's size, so a gradient that is rounding noise (a
#: channel that barely fires) moves its weight by the noise's sign, and a ReLU or max-pool decision that flips on
#: the last bit re-routes a gradient. Measured: the one-process run with the numpy conv kernels of 2026-11 against
#: those of 2026-12 (both within 3e-7 of float64 per call) differ by 4.8e-4 in a conv bias and 5.8e-3 in Adam's
#: state, as much as two processes against one. Since DigitsCNN's second conv stage runs Winograd (2026-12-02), whose
#: BLAS calls block by the batch's row count, an image's forward differs in the last bits between a batch of 16 and
#: one of 8, where the direct conv was bit for bit the same (two processes then matched one to 1e-7): measured 4.2e-3
#: in that conv's weight, 2.6e-3 in a linear bias and 3.2e-2 in the first conv's Adam state (seed 0; BLAS kernels
#: differ between CPUs, so the bounds keep a few times that). A real data-parallel bug (gradients summed, not averaged;
#: a wrong shard) is an O(1) difference in the optimizer's state.
WEIGHT_RTOL, STATE_RTOL = 2e-2, 1.5e-1


def assert_same_training(folder: Path, reference: Path) -> None:
    got, ref = load_file(folder / "checkpoint.safetensors"), load_file(reference / "checkpoint.safetensors")
    assert sorted(got) == sorted(ref)
    for name in ref:
        if ref[name].dtype.kind == "f":
            tol = WEIGHT_RTOL if name.startswith("model.") else STATE_RTOL
            assert rel_err(got[name], ref[name]) <= tol, name
    metrics, ref_metrics = (json.loads((f / "metrics.json").read_text()) for f in (folder, reference))
    assert metrics["processes"] == 2 and ref_metrics["processes"] == 1
    assert metrics["test_accuracy"] == ref_metrics["test_accuracy"]
    np.testing.assert_allclose(metrics["history"]["val_loss"], ref_metrics["history"]["val_loss"], rtol=1e-4)


def test_two_processes_train_like_one_and_rank0_alone_writes(tmp_path):
    two = kernelgrad(*ARGS, "--nproc-per-node", "2", "--checkpoint-every", "1", "--out", str(tmp_path / "two"))
    assert main([*ARGS, "--checkpoint-every", "1", "--out", str(tmp_path / "one")]) == 0
    assert_same_training(tmp_path / "two", tmp_path / "one")
    # rank 0 alone prints and writes: one summary, one copy of every file, nothing half-written
    assert two.stdout.count("run folder:") == 1 and two.stdout.count("test accuracy:") == 1
    assert sorted(p.name for p in (tmp_path / "two").iterdir()) == sorted(p.name for p in (tmp_path / "one").iterdir())
    assert {"checkpoint-epoch0001.safetensors", "checkpoint-epoch0002.safetensors"} <= \
        {p.name for p in (tmp_path / "two").iterdir()}

    # --resume of the two-process run, in two processes and in one: the same continuation
    resume = ["--resume", str(tmp_path / "two" / "checkpoint-epoch0001.safetensors")]
    kernelgrad(*ARGS, *resume, "--nproc-per-node", "2", "--out", str(tmp_path / "resumed-two"))
    assert main([*ARGS, *resume, "--out", str(tmp_path / "resumed-one")]) == 0
    assert_same_training(tmp_path / "resumed-two", tmp_path / "resumed-one")
    metrics = json.loads((tmp_path / "resumed-two" / "metrics.json").read_text())
    assert metrics["resumed_from"]["epoch"] == 1 and metrics["history"]["epochs"] == [2]


def test_rnn_classifier_in_two_processes_trains_like_one(tmp_path):
    # two LSTM layers with dropout between them: per-step dropout on [batch, hidden] draws by global sample
    args = ["train", "rnn", "--epochs", "1", "--limit", "100", "--no-progress", "--device", "cpu", "--layers", "2",
            "--dropout", "0.3", "--hidden", "16"]
    kernelgrad(*args, "--nproc-per-node", "2", "--out", str(tmp_path / "two"))
    assert main([*args, "--out", str(tmp_path / "one")]) == 0
    assert_same_training(tmp_path / "two", tmp_path / "one")


def test_nproc_per_node_refusals(capsys):
    for extra, message in ((["--nproc-per-node", "0"], "--nproc-per-node must be >= 1"),
                           (["--nproc-per-node", "4", "--batch-size", "2"], "at least --nproc-per-node"),
                           (["--nproc-per-node", "2", "--transfer"], "--transfer runs in one process"),
                           (["--nproc-per-node", "2", "--task", "forecast"], "forecast runs in one process")):
        with pytest.raises(SystemExit) as exc:
            main(["train", "rnn" if "--task" in extra else "cnn", *extra])
        assert exc.value.code == 2
        assert message in capsys.readouterr().err
