"""``kernelgrad train autoencoder | vae | gan [--conditional]``: tiny end-to-end runs through ``framework.cli.main``,
and the AC-GAN's models and training step."""

from __future__ import annotations

import json
import math
import os
import re

import numpy as np
import pytest

import framework as fw
from framework import nn, optim
from framework.checkpoint import load_checkpoint
from framework.cli import main
from framework.models import (
    VAE,
    ACDiscriminator,
    ConditionalGenerator,
    ConvAutoencoder,
    Discriminator,
    Generator,
    acgan_train_step,
)
from framework.nn import functional as F

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


def test_train_gan_conditional_tiny_run(tmp_path, capsys):
    out = tmp_path / "run"
    text = _run(capsys, "gan", "--conditional", "--epochs", "2", "--limit", "64", "--classifier-epochs", "1",
                "--num-samples", "30", "--out", str(out))
    match = re.search(r"^samples classified as their requested class: (\d+\.\d)%$", text, re.MULTILINE)
    assert match and text.rstrip().endswith(match.group(0))
    assert re.search(r"^classified as requested, per digit: " + "  ".join(rf"{c}: \d+\.\d%" for c in range(10)) + "$",
                     text, re.MULTILINE)
    assert re.search(r"^epoch 2/2  D loss \d\.\d{4} \+ class \d\.\d{4}  G loss \d\.\d{4} \+ class \d\.\d{4}",
                     text, re.MULTILINE)
    _assert_pngs(out, "samples_epoch_001.png", "samples_epoch_002.png", "samples_by_class.png", "learning_curve.png",
                 "class_accuracy.png")
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["conditional"] and metrics["epochs"] == 2 and metrics["class_weight"] == 1.0
    history = metrics["history"]
    for name in ("d_adversarial", "d_class", "g_adversarial", "g_class"):
        assert len(history[name]) == 2 and all(math.isfinite(v) and v > 0 for v in history[name]), name
    per_class = metrics["per_class_accuracy"]
    assert len(per_class) == 10 and all(0 <= a <= 1 for a in per_class)
    # 30 samples, 3 of each digit: the overall share is the mean of the per-digit shares, each a multiple of 1/3.
    assert metrics["requested_class_accuracy"] == pytest.approx(float(np.mean(per_class)))
    assert all(3 * a == pytest.approx(round(3 * a)) for a in per_class)
    assert metrics["requested_class_accuracy"] == pytest.approx(float(match.group(1)) / 100, abs=6e-4)
    assert metrics["min_class_accuracy"] == min(per_class)
    spreads = [r for r in metrics["class_spread_ratios"] if r is not None]
    assert len(metrics["class_spread_ratios"]) == 10 and spreads and all(r >= 0 for r in spreads)
    assert metrics["mean_class_spread_ratio"] == pytest.approx(float(np.mean(spreads)))
    assert re.search(r"^within-class spread of the samples / of the real digits: \d+\.\d\d \(min \d+\.\d\d\)$", text,
                     re.MULTILINE)
    networks = nn.ModuleDict({"generator": ConditionalGenerator(), "generator_ema": ConditionalGenerator(),
                              "discriminator": ACDiscriminator()})
    optimizers = {name: optim.Adam(networks[name].parameters()) for name in ("generator", "discriminator")}
    checkpoint = load_checkpoint(out / "checkpoint.safetensors", networks, optimizers)
    assert checkpoint["epoch"] == 2
    assert all(opt.state_dict()["state"] for opt in optimizers.values())  # Adam moments restored


@pytest.mark.parametrize("batch", [1, 3, 7])
def test_conditional_gan_models_shapes(batch, rng):
    generator, discriminator = ConditionalGenerator(latent_dim=5), ACDiscriminator(num_classes=10)
    z = fw.tensor(rng.standard_normal((batch, 5)).astype(np.float32))
    labels = fw.tensor(rng.integers(0, 10, batch))
    images = generator(z, labels)
    assert images.shape == (batch, 1, 8, 8)
    values = images.numpy()
    assert np.all((values > 0) & (values < 1))
    logits, classes = discriminator(images)
    assert logits.shape == (batch, 1) and classes.shape == (batch, 10)


def test_conditional_generator_output_depends_on_the_label(rng):
    generator = ConditionalGenerator(latent_dim=8).eval()
    z = fw.tensor(np.repeat(rng.standard_normal((1, 8)).astype(np.float32), 10, axis=0))
    images = generator(z, fw.arange(10)).numpy()
    # The same noise for every digit: the 10 images differ only through the labels' embeddings.
    differences = [np.abs(images[a] - images[b]).max() for a in range(10) for b in range(a + 1, 10)]
    assert min(differences) > 1e-4
    # And the embedding gets gradients: only the rows of the labels used.
    generator.train()
    generator(z[:2], fw.tensor([3, 7])).mean().backward()
    grad = generator.label_embedding.weight.grad.numpy()
    used = np.abs(grad).sum(axis=1) > 0
    assert used[3] and used[7] and used.sum() == 2


def test_class_spread_ratios(rng):
    """1 for samples that are the real digits themselves, 0 for one image per class, None for a class with fewer
    than two samples; a class's spread only counts that class's images."""
    from framework.commands.train_gan import _class_spread_ratios

    real = rng.random((40, 1, 8, 8))
    labels = np.arange(40) % 10
    assert _class_spread_ratios(real, labels, real, labels) == pytest.approx([1.0] * 10)
    collapsed = real.copy()
    collapsed[labels == 3] = real[3]
    ratios = _class_spread_ratios(collapsed, labels, real, labels)
    assert ratios[3] == 0.0 and ratios[:3] + ratios[4:] == pytest.approx([1.0] * 9)
    assert _class_spread_ratios(real[:15], labels[:15], real, labels)[7] is None  # one sample of digit 7


def test_conditional_generator_rejects_mismatched_inputs():
    generator = ConditionalGenerator(latent_dim=4)
    with pytest.raises(ValueError, match="z must have shape"):
        generator(fw.zeros(2, 5), fw.tensor([0, 1]))
    with pytest.raises(ValueError, match="labels must have shape"):
        generator(fw.zeros(2, 4), fw.tensor([0, 1, 2]))
    with pytest.raises(ValueError, match="image_size"):
        ACDiscriminator(image_size=6)


def test_acgan_train_step_minimises_the_documented_losses(test_seed, rng):
    """Both halves' gradients equal those of the losses rebuilt from the formulas, on copies of the networks:
    the discriminator's on the detached fake batch, the generator's through the *updated* discriminator (which the
    generator half must leave as it was)."""
    def build():
        fw.manual_seed(test_seed)
        return ConditionalGenerator(latent_dim=6, width=8), ACDiscriminator(width=8, dropout=0.0)

    generator, discriminator = build()
    g_copy, d_copy = build()
    real = fw.tensor(rng.random((5, 1, 8, 8)).astype(np.float32))
    labels = fw.tensor(rng.integers(0, 10, 5))
    g_optimizer = optim.Adam(generator.parameters(), lr=1e-2, betas=(0.5, 0.999))
    d_optimizer = optim.Adam(discriminator.parameters(), lr=1e-2, betas=(0.5, 0.999))
    fw.manual_seed(test_seed + 1)
    losses = acgan_train_step(generator, discriminator, g_optimizer, d_optimizer, real, labels, real_label=0.9,
                              class_weight=0.7)

    def bce(logits, target):
        return F.binary_cross_entropy_with_logits(logits, fw.full(logits.shape, target))

    fw.manual_seed(test_seed + 1)  # the same noise and requested classes as the step drew
    z, requested = fw.randn(5, 6), fw.randint(0, 10, (5,))
    fake = g_copy(z, requested)
    (adv_real, cls_real), (adv_fake, cls_fake) = d_copy(real), d_copy(fake.detach())
    d_adversarial = bce(adv_real, 0.9) + bce(adv_fake, 0.0)
    d_class = F.cross_entropy(cls_real, labels) + F.cross_entropy(cls_fake, requested)
    (d_adversarial + 0.7 * d_class).backward()
    assert losses.d_adversarial == pytest.approx(d_adversarial.item(), rel=1e-5)
    assert losses.d_class == pytest.approx(d_class.item(), rel=1e-5)
    for (name, p), q in zip(discriminator.named_parameters(), d_copy.parameters()):
        assert np.allclose(p.grad.numpy(), q.grad.numpy(), rtol=1e-4, atol=1e-7), name

    d_copy.load_state_dict(discriminator.state_dict())  # the updated discriminator
    adversarial, classes = d_copy(fake)
    g_adversarial, g_class = bce(adversarial, 1.0), F.cross_entropy(classes, requested)
    (g_adversarial + 0.7 * g_class).backward()
    assert losses.g_adversarial == pytest.approx(g_adversarial.item(), rel=1e-5)
    assert losses.g_class == pytest.approx(g_class.item(), rel=1e-5)
    for (name, p), q in zip(generator.named_parameters(), g_copy.parameters()):
        assert np.allclose(p.grad.numpy(), q.grad.numpy(), rtol=1e-4, atol=1e-7), name
    assert all(p.requires_grad for p in discriminator.parameters())  # unfrozen again


@pytest.mark.parametrize("command", ["autoencoder", "vae", "gan"])
def test_bad_arguments_exit_with_code_2(command, tmp_path, capsys):
    with pytest.raises(SystemExit) as info:
        main(["train", command, "--epochs", "0", "--out", str(tmp_path / "run"), "--no-progress"])
    assert info.value.code == 2
    assert "--epochs must be >= 1" in capsys.readouterr().err
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize(("args", "message"), [
    (["--class-weight", "2"], "--class-weight needs --conditional"),
    (["--conditional", "--class-weight", "-1"], "--class-weight must be >= 0"),
    (["--conditional", "--num-samples", "9"], "--num-samples must be >= 10 with --conditional"),
    (["--conditional", "--epochs", "0"], "--epochs must be >= 1"),
])
def test_gan_conditional_bad_arguments_exit_with_code_2(args, message, tmp_path, capsys):
    with pytest.raises(SystemExit) as info:
        main(["train", "gan", *args, "--out", str(tmp_path / "run"), "--no-progress"])
    assert info.value.code == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize(("flags", "epochs", "ema"), [([], 150, 0.999), (["--conditional"], 60, 0.995),
                                                     (["--conditional", "--epochs", "7", "--ema", "0"], 7, 0.0),
                                                     (["--epochs", "7", "--ema", "0.9"], 7, 0.9)])
def test_gan_defaults_depend_on_conditional(flags, epochs, ema, capsys):
    """``--epochs`` and ``--ema`` left out: the DCGAN's (its README numbers) or the AC-GAN's; given: as given."""
    import argparse

    from framework.commands import train_gan

    parser = argparse.ArgumentParser()
    train_gan.add_arguments(parser)
    args = parser.parse_args(flags)
    train_gan.settle_defaults(args)
    assert (args.epochs, args.ema) == (epochs, ema)
    with pytest.raises(SystemExit):
        main(["train", "gan", "--help"])
    help_text = " ".join(capsys.readouterr().out.split())
    assert "--epochs EPOCHS default 150, with --conditional 60" in help_text
    assert "(default 0.999, with --conditional 0.995; 0: use the last weights)" in help_text


@pytest.mark.parametrize("gpu_device", ["triton", "cupy"])
def test_generative_commands_on_a_gpu_backend(gpu_device, tmp_path, capsys):
    """``--device triton|cupy`` runs each command end to end (on the CPU: interpreter / emulator, a tiny run).

    Two images per split and one batch of two: under the interpreter and the emulator the kernels' cost grows
    with the batch, and this test is about the command running on the device (training well is the cpu tests'
    job). The GAN's fixed 50-image picture batch (100 with --conditional) is drawn whatever the sizes."""
    if gpu_device not in fw.available_devices():
        pytest.skip(f"device {gpu_device!r} is not available here")
    runs = [("autoencoder", []), ("vae", []), ("gan", ["--classifier-epochs", "1", "--num-samples", "2"])]
    # --conditional under the CUDA emulator takes minutes (its 100-image picture batch through the emulated convs): CI
    # keeps the triton interpreter run; on a GPU both run
    if not (gpu_device == "cupy" and os.environ.get("KERNELGRAD_CUDA_EMULATE") == "1"):
        runs.append(("gan", ["--conditional", "--classifier-epochs", "1", "--num-samples", "10"]))
    for run, (command, extra) in enumerate(runs):
        out = tmp_path / f"{run}-{command}"
        text = _run(capsys, command, "--device", gpu_device, "--epochs", "1", "--limit", "2", "--batch-size", "2",
                    "--out", str(out), *extra)
        assert f"device: {gpu_device}" in text, command
        metrics = json.loads((out / "metrics.json").read_text())
        assert metrics["device"] == gpu_device, command
