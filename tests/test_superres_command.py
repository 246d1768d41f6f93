"""``kernelgrad train superres``: the ESPCN model, the data and scores it is built on, and tiny end-to-end runs."""

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
from framework.commands import train_superres as sr
from framework.models import ESPCN, PatchDiscriminator, srgan_train_step
from framework.nn import functional as F

PNG = b"\x89PNG\r\n\x1a\n"
FINAL_LINE = (r"x(\d) PSNR: ours (\d+\.\d\d) dB vs bicubic (\d+\.\d\d) dB \(([+-]\d+\.\d\d) dB\); "
              r"SSIM (\d\.\d{3}) vs (\d\.\d{3})")
#: The smallest useful run: 16 patches, the test images cut to 48x48, one epoch.
TINY = ("--epochs", "1", "--patches", "16", "--batch-size", "8", "--max-test-size", "48")


def _run(capsys, *args: str) -> str:
    assert main(["train", "superres", *args, "--no-progress"]) == 0
    return capsys.readouterr().out


# ------------------------------------------------------------------------------------------------ the model


@pytest.mark.parametrize("scale", [2, 3])
@pytest.mark.parametrize("size", [(1, 7, 13), (3, 5, 4)])
def test_espcn_output_shape_and_start_as_torch_bicubic(scale, size):
    """[N, 1, h, w] -> [N, 1, scale·h, scale·w]; untrained, the residual is 0, so the output is torch's bicubic."""
    import torch

    n, h, w = size
    x = np.random.default_rng(scale * 10 + n).random((n, 1, h, w))
    model = ESPCN(scale=scale).to("cpu")
    out = model(fw.tensor(x.astype(np.float32))).numpy()
    assert out.shape == (n, 1, scale * h, scale * w)
    ref = torch.nn.functional.interpolate(torch.tensor(x, dtype=torch.float64), scale_factor=scale,
                                          mode="bicubic").numpy()
    assert np.linalg.norm(out - ref) / np.linalg.norm(ref) < 1e-5


def test_espcn_residual_is_bicubic_plus_body_and_trains():
    """output = upsample(x) + body(x - 0.5) (residual) or body(x - 0.5) alone; a few Adam steps beat the bicubic
    start."""
    rng = np.random.default_rng(0)
    high = rng.random((8, 1, 12, 12)).astype(np.float32)
    low = fw.tensor(high.reshape(8, 1, 6, 2, 6, 2).mean(axis=(3, 5)))  # 2x2 box downscaling
    target = fw.tensor(high)
    fw.manual_seed(0)
    model = ESPCN(scale=2)
    optimizer = optim.Adam(model.parameters(), lr=3e-3)
    start = F.mse_loss(model(low), target).item()
    for _ in range(30):
        optimizer.zero_grad()
        loss = F.mse_loss(model(low), target)
        loss.backward()
        optimizer.step()
    assert F.mse_loss(model(low), target).item() < 0.9 * start
    with fw.no_grad():
        residual = (model(low) - model.upsample(low)).numpy()
        body = model.body(low - 0.5).numpy()
    assert np.abs(body).max() > 1e-3  # the body has learned something, not just the bicubic
    np.testing.assert_allclose(residual, body, atol=1e-6)
    plain = ESPCN(scale=2, residual=False)
    with fw.no_grad():
        np.testing.assert_allclose(plain(low).numpy(), plain.body(low - 0.5).numpy(), atol=0)


def test_espcn_rejects_bad_arguments():
    with pytest.raises(ValueError, match="scale"):
        ESPCN(scale=1)
    with pytest.raises(ValueError, match="widths"):
        ESPCN(widths=(0, 32))


def test_srgan_step_moves_each_network_by_its_own_optimizer():
    rng = np.random.default_rng(1)
    low = fw.tensor(rng.random((4, 1, 8, 8)).astype(np.float32))
    high = fw.tensor(rng.random((4, 1, 16, 16)).astype(np.float32))
    fw.manual_seed(0)
    model, discriminator = ESPCN(scale=2), PatchDiscriminator()
    g_optimizer = optim.Adam(model.parameters(), lr=1e-3)
    d_optimizer = optim.Adam(discriminator.parameters(), lr=1e-3)
    before_g = [p.numpy().copy() for p in model.parameters()]
    before_d = [p.numpy().copy() for p in discriminator.parameters()]
    values = srgan_train_step(model, discriminator, g_optimizer, d_optimizer, low, high, adversarial_weight=0.5)
    assert values["loss"] == pytest.approx(values["pixel_mse"] + 0.5 * values["adversarial"], rel=1e-5)
    with fw.no_grad():
        assert values["pixel_mse"] == pytest.approx(F.mse_loss(model.upsample(low), high).item(), rel=1e-5)
    assert all(math.isfinite(v) for v in values.values())
    assert any(not np.array_equal(p.numpy(), b) for p, b in zip(model.parameters(), before_g))
    assert any(not np.array_equal(p.numpy(), b) for p, b in zip(discriminator.parameters(), before_d))
    assert all(p.requires_grad for p in discriminator.parameters())  # unfrozen again


# ------------------------------------------------------------------------------------------------ data and scores


def test_psnr_against_a_hand_computation_with_the_border_shaved():
    rng = np.random.default_rng(2)
    reference = rng.random((20, 30))
    estimate = np.clip(reference + 0.05 * rng.standard_normal((20, 30)), 0, 1)
    estimate[0, :] = 1 - reference[0, :]  # a bad border row: shaved at border 2, counted at border 0
    for border in (0, 2, 3):
        inner = (slice(border, 20 - border), slice(border, 30 - border))
        mse = np.mean((reference[inner] - estimate[inner]) ** 2)
        assert sr.psnr(reference, estimate, border) == pytest.approx(10 * math.log10(1.0 / mse), rel=1e-9)
    assert sr.psnr(reference, estimate, 2) > sr.psnr(reference, estimate, 0) + 1.0


def test_ssim_is_one_for_equal_images_and_falls_with_noise():
    rng = np.random.default_rng(3)
    image = rng.random((32, 32))
    assert sr.ssim(image, image, 2) == pytest.approx(1.0)
    slightly, badly = (np.clip(image + std * rng.standard_normal(image.shape), 0, 1) for std in (0.02, 0.2))
    assert 1.0 > sr.ssim(image, slightly, 2) > sr.ssim(image, badly, 2) > 0.0


def test_luminance_is_bt601():
    pixels = np.array([[[0, 0, 0], [255, 255, 255], [255, 0, 0], [10, 200, 30]]], dtype=np.uint8)
    expected = (16 + (65.481 * pixels[..., 0] + 128.553 * pixels[..., 1] + 24.966 * pixels[..., 2]) / 255) / 255
    np.testing.assert_allclose(sr.rgb_to_y(pixels), expected, rtol=1e-12)
    assert sr.rgb_to_y(pixels)[0, :2] == pytest.approx([16 / 255, 235 / 255])


@pytest.mark.parametrize("scale", [2, 3])
def test_bicubic_pair_and_baseline(scale):
    """Crop to a multiple of the scale; Pillow's bicubic down- then upscaling reproduces a linear ramp inside
    the image (so the low- and high-resolution pixel centres line up), and not at the borders."""
    i, j = np.mgrid[0:61, 0:92]
    ramp = 0.2 + 0.004 * i + 0.003 * j
    high, low = sr.make_pair(ramp, scale)
    assert high.shape == (61 // scale * scale, 92 // scale * scale)
    assert low.shape == (high.shape[0] // scale, high.shape[1] // scale)
    upscaled = sr.bicubic_upscale(low, scale)
    assert upscaled.shape == high.shape
    border = 3 * scale + 3
    inner = (slice(border, -border), slice(border, -border))
    assert np.abs(upscaled - high)[inner].max() < 1e-5
    assert np.abs(upscaled - high).max() > 1e-3
    # Against Pillow called directly on the same float image.
    from PIL import Image

    direct = Image.fromarray(low.astype(np.float32)).resize(high.shape[::-1], Image.Resampling.BICUBIC)
    np.testing.assert_allclose(upscaled, np.clip(np.asarray(direct), 0, 1), atol=1e-7)


def test_split_by_image_is_disjoint_and_loads():
    assert not set(sr.TRAIN_IMAGES) & set(sr.TEST_IMAGES)
    train = [sr.load_image(name) for name in sr.TRAIN_IMAGES]
    for name in sr.TEST_IMAGES:
        image = sr.load_image(name)
        assert image.dtype == np.uint8 and image.ndim == 3 and image.shape[2] == 3 and min(image.shape[:2]) >= 256
        assert not any(t.shape == image.shape and np.array_equal(t, image) for t in train), name


@pytest.mark.parametrize("scale", [2, 3])
def test_patches_are_aligned_and_transformed_together(scale):
    """With a box-downscaled image, every low patch is the box mean of its high patch, after any flip/rotation."""
    rng = np.random.default_rng(4)
    pairs = []
    for h, w in ((120, 180), (144, 108)):
        high = rng.random((h, w))
        pairs.append((high, high.reshape(h // scale, scale, w // scale, scale).mean(axis=(1, 3))))
    lows, highs = sr.sample_patches(pairs, 40, scale, np.random.default_rng(5))
    side = sr.PATCH_SIZE // scale
    assert lows.shape == (40, 1, side, side) and highs.shape == (40, 1, sr.PATCH_SIZE, sr.PATCH_SIZE)
    box = highs.reshape(40, 1, side, scale, side, scale).mean(axis=(3, 5))
    np.testing.assert_allclose(lows, box, atol=1e-6)
    assert len({patch.tobytes() for patch in highs}) == 40  # 40 different draws, not one patch repeated


# ------------------------------------------------------------------------------------------------ the command


def test_train_superres_tiny_run(tmp_path, capsys, monkeypatch):
    seen = []
    original = sr.sample_patches

    def recording(pairs, *args, **kwargs):
        seen.extend(high for high, _ in pairs)
        return original(pairs, *args, **kwargs)

    monkeypatch.setattr(sr, "sample_patches", recording)
    out = tmp_path / "run"
    text = _run(capsys, *TINY, "--out", str(out))
    last = text.rstrip().splitlines()[-1]
    match = re.fullmatch(FINAL_LINE, last)
    assert match, last
    assert match.group(1) == "2"
    for name in ("comparison.png", "learning_curve.png"):
        assert (out / name).read_bytes()[:8] == PNG, name
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["scale"] == 2 and metrics["device"] == "cpu" and metrics["patches"] == 16
    test_names = list(sr.TEST_IMAGES)
    assert list(metrics["split"]["test"]) == test_names and list(metrics["split"]["train"]) == list(sr.TRAIN_IMAGES)
    # No test image was a training image: the patches came from the five training images alone.
    assert len(seen) == len(sr.TRAIN_IMAGES)
    for name in test_names:
        test_high = sr.make_pair(sr.rgb_to_y(sr.load_image(name)), 2)[0]
        assert not any(h.shape == test_high.shape and np.allclose(h, test_high) for h in seen)
    for name, entry in metrics["test_images"].items():
        for model in ("bicubic", "ours"):
            assert math.isfinite(entry[model]["psnr"]) and 15 < entry[model]["psnr"] < 60
            assert 0 < entry[model]["ssim"] <= 1
        # The bicubic numbers, recomputed from the image by hand: centre 48x48 crop, PSNR of the shaved inside.
        y = sr.rgb_to_y(sr.load_image(name))
        top, left = (y.shape[0] - 48) // 2, (y.shape[1] - 48) // 2
        high, low = sr.make_pair(y[top:top + 48, left:left + 48], 2)
        bicubic = sr.bicubic_upscale(low, 2)
        mse = np.mean((high[2:-2, 2:-2] - bicubic[2:-2, 2:-2]) ** 2)
        assert entry["bicubic"]["psnr"] == pytest.approx(10 * math.log10(1 / mse), rel=1e-9)
        assert entry["size"] == [48, 48]
    mean, per_image = metrics["mean"], metrics["test_images"].values()
    for model in ("bicubic", "ours"):
        assert mean[model]["psnr"] == pytest.approx(np.mean([e[model]["psnr"] for e in per_image]))
    assert float(match.group(2)) == pytest.approx(mean["ours"]["psnr"], abs=0.006)
    assert float(match.group(3)) == pytest.approx(mean["bicubic"]["psnr"], abs=0.006)
    assert float(match.group(4)) == pytest.approx(metrics["psnr_gain_db"], abs=0.006)
    assert len(metrics["history"]["train_mse"]) == 1 and metrics["gan"] is None
    assert load_checkpoint(out / "checkpoint.safetensors", ESPCN(scale=2))["extra"]["scale"] == 2


def test_train_superres_gan_reports_both(tmp_path, capsys):
    out = tmp_path / "run"
    text = _run(capsys, *TINY, "--scale", "3", "--gan", "--gan-epochs", "1", "--out", str(out))
    lines = text.rstrip().splitlines()
    assert re.fullmatch(FINAL_LINE.replace("ours", "ours\\+GAN", 1), lines[-2]), lines[-2]
    assert re.fullmatch(FINAL_LINE, lines[-1]) and lines[-1].startswith("x3 "), lines[-1]
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["scale"] == 3 and set(metrics["mean"]) == {"bicubic", "ours", "gan"}
    assert all(math.isfinite(v) for v in metrics["gan"]["history"]["d_loss"] + metrics["gan"]["history"]["pixel_mse"])
    assert all(math.isfinite(e["gan"]["psnr"]) for e in metrics["test_images"].values())
    networks = nn.ModuleDict({"plain": ESPCN(scale=3), "gan": ESPCN(scale=3), "discriminator": PatchDiscriminator()})
    assert load_checkpoint(out / "checkpoint.safetensors", networks)["extra"]["gan_epochs"] == 1
    assert (out / "comparison.png").read_bytes()[:8] == PNG


@pytest.mark.parametrize("bad, message", [
    (["--scale", "5"], "invalid choice"),
    (["--patches", "0"], "--patches must be >= 1"),
    (["--gan-epochs", "0"], "--gan-epochs must be >= 1"),
    (["--adversarial-weight", "-1"], "--adversarial-weight must be >= 0"),
    (["--max-test-size", "23"], "--max-test-size must be >= 24"),
    (["--epochs", "0"], "--epochs must be >= 1"),
])
def test_bad_arguments_exit_with_code_2(bad, message, tmp_path, capsys):
    with pytest.raises(SystemExit) as info:
        main(["train", "superres", *bad, "--out", str(tmp_path / "run"), "--no-progress"])
    assert info.value.code == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize("gpu_device", ["triton", "cupy"])
def test_train_superres_on_a_gpu_backend(gpu_device, tmp_path, capsys):
    """``--device triton|cupy`` end to end, plain and --gan (on the CPU: interpreter / emulator, a tiny run: x3, whose
    low-resolution images are the smallest, two patches, one 24x24 test image)."""
    if gpu_device not in fw.available_devices():
        pytest.skip(f"device {gpu_device!r} is not available here")
    if gpu_device == "cupy" and os.environ.get("KERNELGRAD_CUDA_EMULATE") == "1":
        pytest.skip("under the CUDA emulator this run takes minutes (each conv repacks its weights per call): CI keeps "
                    "the triton interpreter run; on a GPU it runs")
    out = tmp_path / "run"
    text = _run(capsys, "--device", gpu_device, "--scale", "3", "--epochs", "1", "--patches", "2", "--batch-size",
                "2", "--limit", "1", "--max-test-size", "24", "--gan", "--gan-epochs", "1", "--out", str(out))
    assert f"device: {gpu_device}" in text
    assert re.fullmatch(FINAL_LINE, text.rstrip().splitlines()[-1])
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["device"] == gpu_device
    assert all(math.isfinite(metrics["mean"][m]["psnr"]) for m in ("bicubic", "ours", "gan"))
