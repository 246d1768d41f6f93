"""The ``kernelgrad`` command line, run in-process."""

import json
import math
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from framework.checkpoint import load_checkpoint
from framework.cli import main
from framework.models import DigitsCNN


def test_train_cnn_one_epoch_writes_a_run_folder(tmp_path, capsys):
    out = tmp_path / "run"
    assert main(["train", "cnn", "--epochs", "1", "--out", str(out), "--no-progress"]) == 0
    text = capsys.readouterr().out
    assert "device: cpu" in text
    assert re.search(r"^epoch 1/1 .*val loss", text, re.MULTILINE)
    assert "confusion matrix" in text
    match = re.search(r"^test accuracy: (\d+\.\d)%$", text, re.MULTILINE)
    assert match and text.rstrip().endswith(match.group(0))

    for name in ("checkpoint.safetensors", "learning_curve.png", "confusion_matrix.png", "metrics.json"):
        assert (out / name).is_file(), name
    for png in ("learning_curve.png", "confusion_matrix.png"):
        assert (out / png).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["device"] == "cpu" and metrics["epochs"] == 1 and metrics["seed"] == 0
    assert metrics["test_accuracy"] > 0.5  # chance is 0.1
    assert metrics["test_accuracy"] == pytest.approx(float(match.group(1)) / 100, abs=0.0006)
    assert sum(map(sum, metrics["confusion_matrix"])) == metrics["sizes"]["test"] == 360
    assert len(metrics["history"]["train_loss"]) == 1 and metrics["elapsed_seconds"] > 0
    assert "numpy" in metrics["versions"]
    meta = load_checkpoint(out / "checkpoint.safetensors", DigitsCNN())
    assert meta["epoch"] == 1


@pytest.mark.parametrize("gpu_device", ["triton", "cupy"])
def test_train_cnn_on_a_gpu_backend(gpu_device, tmp_path, capsys):
    """``--device triton|cupy`` trains end to end (on the CPU: Triton's interpreter / the CUDA emulator, a tiny run)."""
    import framework as fw

    if gpu_device not in fw.available_devices():
        pytest.skip(f"device {gpu_device!r} is not available here")
    out = tmp_path / "run"
    args = ["train", "cnn", "--device", gpu_device, "--epochs", "2", "--limit", "32", "--batch-size", "16",
            "--out", str(out), "--no-progress"]
    assert main(args) == 0
    text = capsys.readouterr().out
    assert f"device: {gpu_device}" in text and re.search(r"^test accuracy: \d+\.\d%$", text, re.MULTILINE)
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["device"] == gpu_device and metrics["sizes"] == {"train": 32, "val": 32, "test": 32}
    losses = metrics["history"]["train_loss"]
    assert len(losses) == 2 and all(math.isfinite(v) for v in losses) and losses[1] < losses[0]
    meta = load_checkpoint(out / "checkpoint.safetensors", DigitsCNN())
    assert meta["epoch"] == 2


def test_devices_lists_cpu(capsys):
    assert main(["devices"]) == 0
    text = capsys.readouterr().out
    assert re.search(r"^cpu\s+available$", text, re.MULTILINE)
    assert re.search(r"^cuda\s+->", text, re.MULTILINE)


def test_unknown_device_exits_with_code_2(tmp_path, capsys):
    with pytest.raises(SystemExit) as info:
        main(["train", "cnn", "--device", "tpu", "--out", str(tmp_path / "run"), "--no-progress"])
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert "unknown device 'tpu'" in err and "Traceback" not in err
    assert not (tmp_path / "run").exists()


def test_help_lists_commands(capsys):
    with pytest.raises(SystemExit) as info:
        main(["--help"])
    assert info.value.code == 0
    text = capsys.readouterr().out
    assert "train" in text and "devices" in text


def test_python_dash_m_framework_runs_the_cli():
    root = Path(__file__).resolve().parents[1]
    env = {**os.environ, "PYTHONPATH": str(root)}
    done = subprocess.run([sys.executable, "-m", "framework", "devices"], cwd=root, capture_output=True, text=True,
                          timeout=60, env=env)
    assert done.returncode == 0, done.stderr
    assert "cpu" in done.stdout
