"""``kernelgrad style``: tiny end-to-end runs through ``framework.cli.main``, and its Gram matrix, losses and random
feature extractor against PyTorch in float64."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

import framework as fw
from framework.cli import main
from framework.commands.style import load_image
from framework.models.style import (
    CONTENT_LAYER,
    RANDOM_FEATURE_STAGES,
    STYLE_LAYERS,
    RandomConvFeatures,
    content_loss,
    gram_matrix,
    match_color,
    style_layer_weights,
    style_loss,
    total_variation,
)
from tests.helpers import rel_err

PNG = b"\x89PNG\r\n\x1a\n"
LAST_LINE = re.compile(r"style loss (\d+\.\d)x lower \((\S+) -> (\S+)\); content loss (\d+\.\d)x its start "
                       r"\((\S+) -> (\S+)\)")


def _run(capsys, *args: str) -> tuple[str, dict]:
    """Run ``kernelgrad style ARGS --no-progress``; return stdout and metrics.json of ``--out``."""
    assert main(["style", *args, "--no-progress"]) == 0
    text = capsys.readouterr().out
    out = args[args.index("--out") + 1]
    return text, json.loads((Path(out) / "metrics.json").read_text())


def test_style_tiny_run_defaults_images(tmp_path, capsys):
    out = tmp_path / "run"
    text, metrics = _run(capsys, "--size", "24", "--steps", "12", "--out", str(out))
    last = text.rstrip().splitlines()[-1]
    match = LAST_LINE.fullmatch(last)
    assert match, last
    assert "random multi-scale conv features, seed 0" in text
    for name in ("result.png", "side_by_side.png", "loss_curves.png"):
        assert (out / name).read_bytes()[:8] == PNG, name
    # china.jpg is 640x427: longest side 24 -> 24x16; flower.jpg likewise.
    assert metrics["content_size"] == [16, 24] and metrics["style_size"] == [16, 24]
    with Image.open(out / "result.png") as result:
        assert result.size == (24, 16) and result.mode == "RGB"
    assert metrics["content_image"] == "china.jpg" and metrics["style_image"] == "flower.jpg"
    assert metrics["steps"] == 12 and metrics["optimizer"] == "Adam" and metrics["device"] == "cpu"
    assert metrics["feature_extractor"]["pretrained"] is False and metrics["feature_extractor"]["seed"] == 0
    assert metrics["weights"] == {"content": 20.0, "style": 1.0, "tv": 1.0}
    assert metrics["preserve_color"] is True and "preserve color (default)" in text
    assert metrics["content_layer"] == CONTENT_LAYER and metrics["style_layers"] == list(STYLE_LAYERS)
    history = metrics["history"]
    assert all(len(history[name]) == 13 for name in ("content", "style", "tv", "total"))  # start + after each step
    # The run lowered the style loss, and the printed numbers are metrics.json's.
    assert metrics["style_loss_end"] < 0.8 * metrics["style_loss_start"]
    assert metrics["style_loss_start"] == history["style"][0] and metrics["style_loss_end"] == history["style"][-1]
    assert metrics["style_loss_ratio"] == pytest.approx(metrics["style_loss_start"] / metrics["style_loss_end"])
    assert metrics["content_loss_ratio"] == pytest.approx(metrics["content_loss_end"] / metrics["content_loss_start"])
    assert float(match.group(1)) == pytest.approx(metrics["style_loss_ratio"], abs=0.051)
    assert float(match.group(2)) == pytest.approx(metrics["style_loss_start"], rel=6e-3)
    assert float(match.group(3)) == pytest.approx(metrics["style_loss_end"], rel=6e-3)
    assert float(match.group(4)) == pytest.approx(metrics["content_loss_ratio"], abs=0.051)
    assert float(match.group(6)) == pytest.approx(metrics["content_loss_end"], rel=6e-3)
    assert metrics["content_loss_start"] > 0  # the starting noise: the ratio is defined
    assert metrics["content_loss_of_style_image"] > metrics["content_loss_start"]
    assert metrics["target"]["met"] == (metrics["style_loss_ratio"] >= 10 and metrics["content_loss_ratio"] <= 2)
    # Each style layer's weight is 1 / (L ||G(style)||^2): the start is the mean relative Gram error, of order 1.
    assert 0.05 < metrics["style_loss_start"] < 2


def test_style_no_preserve_color_uses_the_style_images_own_colours(tmp_path, capsys):
    """Same start, same content target: only the style targets differ. With the content image as its own style,
    the recolouring is the identity, so both options then give the same style loss."""
    common = ["--size", "20", "--steps", "2"]
    text, keep = _run(capsys, *common, "--out", str(tmp_path / "keep"))
    text_off, off = _run(capsys, *common, "--no-preserve-color", "--out", str(tmp_path / "off"))
    assert off["preserve_color"] is False and "no preserve color" in text_off
    assert LAST_LINE.fullmatch(text_off.rstrip().splitlines()[-1])
    assert off["content_loss_start"] == pytest.approx(keep["content_loss_start"], rel=1e-6)
    assert off["content_loss_of_style_image"] == pytest.approx(keep["content_loss_of_style_image"], rel=1e-6)
    assert abs(off["style_loss_start"] - keep["style_loss_start"]) > 0.05 * off["style_loss_start"]
    _, same_keep = _run(capsys, *common, "china.jpg", "china.jpg", "--out", str(tmp_path / "same_keep"))
    _, same_off = _run(capsys, *common, "china.jpg", "china.jpg", "--no-preserve-color", "--out",
                       str(tmp_path / "same_off"))
    assert same_keep["style_loss_start"] == pytest.approx(same_off["style_loss_start"], rel=1e-4)


def _stats(image: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    flat = image.reshape(image.shape[0], -1).astype(np.float64)
    return flat.mean(axis=1), np.cov(flat, bias=True)


def test_match_color_gives_the_content_mean_and_covariance(rng):
    # Correlated channels with different scales and sizes: a wrong square root or order of A breaks the match.
    mix_s, mix_c = rng.standard_normal((3, 3)), rng.standard_normal((3, 3))
    style = (mix_s @ rng.random((3, 17 * 23))).reshape(3, 17, 23) + np.array([0.1, 0.4, -0.2])[:, None, None]
    content = (mix_c @ rng.random((3, 19 * 26)) * 0.3).reshape(3, 19, 26) + 0.5
    out = match_color(style, content)
    assert out.shape == style.shape and out.dtype == np.float64
    mean, cov = _stats(out)
    ref_mean, ref_cov = _stats(content)
    np.testing.assert_allclose(mean, ref_mean, atol=1e-6)
    np.testing.assert_allclose(cov, ref_cov, atol=1e-6)
    # A linear map of each pixel: the recoloured image is affine in the style image's pixels, A = C^1/2 S^-1/2.
    s_flat = style.reshape(3, -1) - style.reshape(3, -1).mean(axis=1, keepdims=True)
    a = (out.reshape(3, -1) - mean[:, None]) @ np.linalg.pinv(s_flat)
    w_c, v_c = np.linalg.eigh(ref_cov)
    w_s, v_s = np.linalg.eigh(_stats(style)[1])
    np.testing.assert_allclose(a, (v_c * np.sqrt(w_c)) @ v_c.T @ (v_s / np.sqrt(w_s)) @ v_s.T, atol=1e-8)
    # An image recoloured to its own statistics is unchanged; the real sample images match too.
    np.testing.assert_allclose(match_color(content, content), content, atol=1e-10)
    china, flower = load_image("china.jpg", 32), load_image("flower.jpg", 32)
    mean, cov = _stats(match_color(flower, china))
    np.testing.assert_allclose(mean, _stats(china)[0], atol=1e-6)
    np.testing.assert_allclose(cov, _stats(china)[1], atol=1e-6)


def test_match_color_grey_and_flat_style_stay_finite(rng):
    content = rng.random((3, 8, 9))
    grey = np.repeat(rng.random((1, 6, 7)), 3, axis=0)
    out = match_color(grey, content)
    assert np.isfinite(out).all()
    np.testing.assert_allclose(_stats(out)[0], _stats(content)[0], atol=1e-9)
    assert np.linalg.matrix_rank(_stats(out)[1], tol=1e-9) == 1  # one colour direction: all a grey image has
    flat = match_color(np.full((3, 4, 4), 0.3), content)
    np.testing.assert_allclose(flat, np.broadcast_to(_stats(content)[0][:, None, None], flat.shape), atol=1e-9)
    with pytest.raises(ValueError, match="same C"):
        match_color(rng.random((3, 4, 4)), rng.random((1, 4, 4)))


def _write_png(path, pixels: np.ndarray) -> str:
    Image.fromarray(pixels).save(path)
    return str(path)


def test_style_user_image_paths(tmp_path, capsys, rng):
    yy, xx = np.mgrid[0:30, 0:40]
    stripes = np.stack([(np.sin(xx / 2.0) > 0) * 200, (np.cos(yy / 3.0) > 0) * 150, np.full_like(xx, 60)], axis=-1)
    content = _write_png(tmp_path / "content.png", stripes.astype(np.uint8))
    style = _write_png(tmp_path / "style.png", rng.integers(0, 256, size=(20, 20), dtype=np.uint8))  # grey
    out = tmp_path / "run"
    text, metrics = _run(capsys, content, style, "--size", "20", "--steps", "5", "--tv-weight", "0", "--out",
                         str(out))
    assert metrics["content_image"] == content and metrics["style_image"] == style
    assert metrics["content_size"] == [15, 20] and metrics["style_size"] == [20, 20]
    assert LAST_LINE.fullmatch(text.rstrip().splitlines()[-1])
    assert metrics["style_loss_end"] < metrics["style_loss_start"]
    with Image.open(out / "result.png") as result:
        assert result.size == (20, 15)


def test_load_image_resizes_grey_and_rgba(tmp_path):
    grey = _write_png(tmp_path / "grey.png", np.full((10, 40), 255, np.uint8))
    image = load_image(grey, 32)
    assert image.shape == (3, 8, 32) and image.dtype == np.float32
    np.testing.assert_allclose(image, 1.0, atol=1e-6)
    rgba = np.zeros((16, 16, 4), np.uint8)
    rgba[..., 0] = 255
    rgba[..., 3] = 10  # alpha is dropped, not blended
    image = load_image(_write_png(tmp_path / "rgba.png", rgba), 16)
    np.testing.assert_allclose(image[0], 1.0, atol=1e-6)
    np.testing.assert_allclose(image[1:], 0.0, atol=1e-6)


@pytest.mark.parametrize("args, message", [
    (["missing-content.png"], "'missing-content.png' is neither china.jpg nor flower.jpg nor an existing file"),
    (["china.jpg", "missing-style.png"], "'missing-style.png' is neither"),
    (["--size", "0"], "--size must be >= 16, got 0"),
    (["--content-weight", "-1"], "--content-weight must be >= 0, got -1.0"),
    (["--style-weight", "-2"], "--style-weight must be > 0"),
    (["--tv-weight", "-0.5"], "--tv-weight must be >= 0, got -0.5"),
    (["--noise", "-0.1"], "--noise must be >= 0"),
    (["--steps", "0"], "--steps must be >= 1, got 0"),
    (["--lr", "nan"], "--lr must be a finite number, got nan"),
    (["--device", "no-such-device"], "no-such-device"),
    (["--size", "20", "WIDE"], "the shorter side must be at least 8 pixels"),
    (["NOT_AN_IMAGE"], "cannot read as an image"),
])
def test_style_bad_arguments_exit_2_without_run_folder(tmp_path, capsys, args, message):
    _write_png(tmp_path / "wide.png", np.zeros((4, 64, 3), np.uint8))  # 64x4: at --size 20 the short side is 1
    (tmp_path / "not_an_image.png").write_text("this is not a picture")
    args = [str(tmp_path / "wide.png") if a == "WIDE" else str(tmp_path / "not_an_image.png") if a == "NOT_AN_IMAGE"
            else a for a in args]
    out = tmp_path / "run"
    with pytest.raises(SystemExit) as exc:
        main(["style", *args, "--no-progress", "--out", str(out)])
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert message in err and "usage: kernelgrad style" in err
    assert not out.exists()


# ------------------------------------------------------------------------- losses against PyTorch


def _torch_features(weights: dict[str, torch.Tensor], x: torch.Tensor) -> dict[str, torch.Tensor]:
    """RandomConvFeatures rebuilt in PyTorch from its own buffers."""
    features = {}
    x = x - 0.5
    for i, (name, kernel_sizes, _) in enumerate(RANDOM_FEATURE_STAGES):
        if i > 0:
            x = torch.nn.functional.avg_pool2d(x, 2)
        outs = [torch.nn.functional.conv2d(x, weights[f"{name}_weight_{k}x{k}"], padding=k // 2) for k in kernel_sizes]
        x = torch.relu(torch.cat(outs, dim=1))
        features[name] = x
    return features


def _torch_gram(f: torch.Tensor) -> torch.Tensor:
    c, h, w = f.shape[-3:]
    flat = f.reshape(c, h * w)
    return flat @ flat.T / (c * h * w)


@pytest.mark.parametrize("shape", [(1, 3, 7, 13), (1, 1, 1, 1), (5, 3, 2)])
def test_gram_matrix_matches_torch(rng, shape):
    data = rng.standard_normal(shape)
    upstream = rng.standard_normal((shape[-3], shape[-3]))
    x = fw.tensor(data, dtype=fw.float64, requires_grad=True)
    out = gram_matrix(x)
    (out * fw.tensor(upstream, dtype=fw.float64)).sum().backward()
    ref_x = torch.tensor(data, dtype=torch.float64, requires_grad=True)
    ref = _torch_gram(ref_x)
    (ref * torch.tensor(upstream)).sum().backward()
    assert out.shape == (shape[-3], shape[-3])
    assert rel_err(out.numpy(), ref.detach().numpy()) < 1e-12
    assert rel_err(x.grad.numpy(), ref_x.grad.numpy()) < 1e-12


def test_style_content_tv_losses_and_image_gradient_match_torch(rng):
    """The whole objective of one step, from the image through the random features, in float64."""
    h, w = 19, 26
    content, style, image = (rng.random((1, 3, h, w)) for _ in range(3))
    style = rng.random((1, 3, 17, 23))  # the style image may have another size: Gram matrices are C x C
    net = RandomConvFeatures(seed=3).double()
    weights = {name: torch.tensor(buffer.numpy()) for name, buffer in net.named_buffers()}
    assert all(t.dtype == torch.float64 for t in weights.values())

    with fw.no_grad():
        content_target = net(fw.tensor(content, dtype=fw.float64))[CONTENT_LAYER]
        grams = {k: gram_matrix(v) for k, v in net(fw.tensor(style, dtype=fw.float64)).items()}
    layer_weights = style_layer_weights(grams)
    x = fw.tensor(image, dtype=fw.float64, requires_grad=True)
    maps = net(x)
    terms = [content_loss(maps[CONTENT_LAYER], content_target), style_loss(maps, grams, layer_weights),
             total_variation(x)]
    (100.0 * terms[0] + terms[1] + 0.5 * terms[2]).backward()

    with torch.no_grad():
        ref_target = _torch_features(weights, torch.tensor(content))[CONTENT_LAYER]
        ref_grams = {k: _torch_gram(v) for k, v in _torch_features(weights, torch.tensor(style)).items()}
    ref_weights = {k: 1.0 / (len(STYLE_LAYERS) * float((g * g).sum())) for k, g in ref_grams.items()}
    ref_x = torch.tensor(image, requires_grad=True)
    ref_maps = _torch_features(weights, ref_x)
    ref_terms = [
        torch.nn.functional.mse_loss(ref_maps[CONTENT_LAYER], ref_target),
        sum(ref_weights[k] * ((_torch_gram(ref_maps[k]) - ref_grams[k]) ** 2).sum() for k in STYLE_LAYERS),
        ((ref_x[:, :, 1:] - ref_x[:, :, :-1]) ** 2).mean() + ((ref_x[..., 1:] - ref_x[..., :-1]) ** 2).mean(),
    ]
    (100.0 * ref_terms[0] + ref_terms[1] + 0.5 * ref_terms[2]).backward()

    for name in STYLE_LAYERS:
        assert layer_weights[name] == pytest.approx(ref_weights[name], rel=1e-10)
    for term, ref in zip(terms, ref_terms):
        assert ref.item() > 0
        assert abs(term.item() - ref.item()) / ref.item() < 1e-10
    assert rel_err(x.grad.numpy(), ref_x.grad.numpy()) < 1e-10


def test_random_features_are_fixed_by_the_seed_and_shaped_as_documented():
    a, b, c = RandomConvFeatures(seed=0), RandomConvFeatures(seed=0), RandomConvFeatures(seed=1)
    for (name, wa), (_, wb), (_, wc) in zip(a.named_buffers(), b.named_buffers(), c.named_buffers()):
        np.testing.assert_array_equal(wa.numpy(), wb.numpy())
        assert not np.allclose(wa.numpy(), wc.numpy()), name
        np.testing.assert_allclose(wa.numpy().mean(axis=(1, 2, 3)), 0.0, atol=1e-6)  # zero-mean filters
    assert not list(a.parameters())  # nothing to train
    with fw.no_grad():
        maps = a(fw.tensor(np.random.default_rng(0).random((1, 3, 21, 34)), dtype=fw.float32))
    assert {k: tuple(v.shape) for k, v in maps.items()} == {
        "conv1": (1, 48, 21, 34), "conv2": (1, 64, 10, 17), "conv3": (1, 96, 5, 8), "conv4": (1, 128, 2, 4)}


# ---------------------------------------------------------------------------------------- GPU devices


@pytest.mark.slow
@pytest.mark.parametrize("gpu_device", ["triton", "cupy"])
def test_style_on_gpu_backend_matches_cpu(tmp_path, capsys, gpu_device):
    """``--device triton|cupy`` runs end to end (on the CPU: interpreter / emulator) and starts from the same
    losses as the cpu device (same image, noise and filters). One step: the CUDA emulator repacks each conv's
    weights on every call, about 3 s apiece at these channel counts."""
    if gpu_device not in fw.available_devices():
        pytest.skip(f"device {gpu_device!r} is not available here")
    if gpu_device == "cupy" and os.environ.get("KERNELGRAD_CUDA_EMULATE") == "1":
        pytest.skip("under the CUDA emulator this run takes minutes (each conv repacks its weights per call): CI keeps "
                    "the triton interpreter run; on a GPU it runs")
    common = ["--size", "16", "--steps", "1"]
    _, gpu = _run(capsys, *common, "--device", gpu_device, "--out", str(tmp_path / "gpu"))
    _, cpu = _run(capsys, *common, "--device", "cpu", "--out", str(tmp_path / "cpu"))
    assert gpu["device"] == gpu_device
    for key in ("style_loss_start", "content_loss_start", "content_loss_of_style_image"):
        assert gpu[key] == pytest.approx(cpu[key], rel=1e-3), key
    assert gpu["history"]["total"][1] < gpu["history"]["total"][0]  # the step lowered the objective
    assert gpu["history"]["total"][1] == pytest.approx(cpu["history"]["total"][1], rel=1e-3)
    assert (tmp_path / "gpu" / "side_by_side.png").read_bytes()[:8] == PNG
