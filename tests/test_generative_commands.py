"""``kernelgrad train autoencoder | vae | gan``: tiny end-to-end runs through ``framework.cli.main``."""

from __future__ import annotations

import json
import math
import re

import pytest

from framework import nn, optim
from framework.checkpoint import load_checkpoint
from framework.cli import main
from framework.models import VAE, ConvAutoencoder, Discriminator, Generator

PNG = b"\x89PNG\r\n\x1a\n"


def _run(capsys, *args: str) -> str:
    assert main(["train", *args, "--no-progress"]) == 0
    return capsys.readouterr().out


def _assert_pngs(folder, *names: str) -> None:
    for name in names:
        assert (folder / name).read_bytes()[:8] == PNG, name


def test_train_autoencoder_tiny_run(tmp_path, capsys):
    out = tmp_path / "run"
    text = _run(capsys, "autoencoder", "--epochs", "3", "--limit", "96", "--out", str(out))
    match = re.search(r"^test MSE: (\d+\.\d{4})$", text, re.MULTILINE)
    assert match and text.rstrip().endswith(match.group(0))
    _assert_pngs(out, "learning_curve.png", "reconstructions.png")
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["sizes"] == {"train": 96, "val": 96, "test": 96} and not metrics["denoise"]
    losses = metrics["history"]["train_mse"]
    assert len(losses) == 3 and losses[-1] < losses[0]
    assert metrics["test_mse"] == pytest.approx(float(match.group(1)), abs=6e-5)
    assert 0 < metrics["test_mse"] < 0.2  # an untrained sigmoid output (0.5 everywhere) scores about 0.2
    assert load_checkpoint(out / "checkpoint.safetensors", ConvAutoencoder())["epoch"] == 3


def test_train_autoencoder_denoise_reports_the_gain(tmp_path, capsys):
    out = tmp_path / "run"
    text = _run(capsys, "autoencoder", "--denoise", "--epochs", "2", "--limit", "64", "--out", str(out))
    lines = text.rstrip().splitlines()
    gain = re.fullmatch(r"denoising gain: noisy input MSE (\d\.\d{4}) -> reconstruction MSE (\d\.\d{4}) "
                        r"\((\d+\.\d)x lower\)", lines[-2])
    assert gain and re.fullmatch(r"test MSE: \d\.\d{4}", lines[-1])
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["denoise"] and metrics["noise_std"] == 0.3
    # Clipped N(0, 0.3²) noise on digits: the noisy inputs are about 0.05 away from the clean ones.
    assert 0.03 < metrics["test_noisy_input_mse"] < 0.08
    assert metrics["test_noisy_input_mse"] == pytest.approx(float(gain.group(1)), abs=6e-5)


def test_train_vae_tiny_run(tmp_path, capsys):
    out = tmp_path / "run"
    text = _run(capsys, "vae", "--epochs", "3", "--limit", "96", "--out", str(out))
    assert re.search(r"^epoch 3/3  train loss \d+\.\d\d \(BCE \d+\.\d\d \+ KL \d+\.\d\d\)", text, re.MULTILINE)
    assert re.search(r"^test BCE: \d+\.\d\d  test KL: \d+\.\d\d", text, re.MULTILINE)
    assert re.search(r"test loss \(BCE \+ KL\): \d+\.\d\d$", text.rstrip())
    _assert_pngs(out, "learning_curve.png", "samples.png", "latent_space.png", "reconstructions.png")
    metrics = json.loads((out / "metrics.json").read_text())
    history = metrics["history"]
    assert len(history["train_loss"]) == 3 and history["train_loss"][-1] < history["train_loss"][0]
    for bce, kl, total in zip(history["train_bce"], history["train_kl"], history["train_loss"]):
        assert bce > 0 and kl >= 0 and total == pytest.approx(bce + kl)
    assert metrics["test_loss"] == pytest.approx(metrics["test_bce"] + metrics["test_kl"])
    assert metrics["latent_dim"] == 2
    assert load_checkpoint(out / "checkpoint.safetensors", VAE())["epoch"] == 3


def test_train_gan_tiny_run(tmp_path, capsys):
    out = tmp_path / "run"
    text = _run(capsys, "gan", "--epochs", "2", "--limit", "64", "--classifier-epochs", "1", "--num-samples", "50",
                "--out", str(out))
    match = re.search(r"^confident samples: (\d+\.\d)% \(min class share (\d+\.\d)%\)$", text, re.MULTILINE)
    assert match and text.rstrip().endswith(match.group(0))
    _assert_pngs(out, "samples_epoch_001.png", "samples_epoch_002.png", "learning_curve.png", "class_histogram.png")
    metrics = json.loads((out / "metrics.json").read_text())
    history = metrics["history"]
    assert len(history["d_loss"]) == len(history["g_loss"]) == 2
    assert all(math.isfinite(v) and v > 0 for v in history["d_loss"] + history["g_loss"])
    assert sum(metrics["class_shares"]) == pytest.approx(1.0) and len(metrics["class_shares"]) == 10
    assert metrics["confident_samples"] == pytest.approx(float(match.group(1)) / 100, abs=6e-4)
    networks = nn.ModuleDict({"generator": Generator(), "generator_ema": Generator(),
                              "discriminator": Discriminator()})
    optimizers = {name: optim.Adam(networks[name].parameters()) for name in ("generator", "discriminator")}
    assert load_checkpoint(out / "checkpoint.safetensors", networks, optimizers)["epoch"] == 2
    assert all(opt.state_dict()["state"] for opt in optimizers.values())  # Adam moments restored


@pytest.mark.parametrize("command", ["autoencoder", "vae", "gan"])
def test_bad_arguments_exit_with_code_2(command, tmp_path, capsys):
    with pytest.raises(SystemExit) as info:
        main(["train", command, "--epochs", "0", "--out", str(tmp_path / "run"), "--no-progress"])
    assert info.value.code == 2
    assert "--epochs must be >= 1" in capsys.readouterr().err
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize("gpu_device", ["triton", "cupy"])
def test_generative_commands_on_a_gpu_backend(gpu_device, tmp_path, capsys):
    """``--device triton|cupy`` runs each command end to end (on the CPU: interpreter / emulator, a tiny run).

    Two images per split and one batch of two: under the interpreter and the emulator the kernels' cost grows
    with the batch, and this test is about the command running on the device (training well is the cpu tests'
    job). The GAN's fixed 50-image picture batch is drawn whatever the sizes."""
    import framework as fw

    if gpu_device not in fw.available_devices():
        pytest.skip(f"device {gpu_device!r} is not available here")
    for command, extra in (("autoencoder", []), ("vae", []),
                           ("gan", ["--classifier-epochs", "1", "--num-samples", "2"])):
        out = tmp_path / command
        text = _run(capsys, command, "--device", gpu_device, "--epochs", "1", "--limit", "2", "--batch-size", "2",
                    "--out", str(out), *extra)
        assert f"device: {gpu_device}" in text, command
        metrics = json.loads((out / "metrics.json").read_text())
        assert metrics["device"] == gpu_device, command
