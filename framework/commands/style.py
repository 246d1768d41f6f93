"""``kernelgrad style [CONTENT] [STYLE]``: Gatys-style neural style transfer by optimising the image itself.

The image starts as the content image plus a little Gaussian noise (``--noise``, std in pixel units, clipped to
[0, 1]) and is optimised with Adam (``framework.optim`` has no L-BFGS) on
``content_weight * content + style_weight * style + tv_weight * tv``:

* content loss: mean squared error between the image's and the content image's features at ``conv3``;
* style loss: ``sum_l w_l ||G_l(image) - G_l(style)||_F^2`` over ``conv1``-``conv4`` (``style``: by default the
  style image recoloured, see below) with the Gram matrix ``G = F F^T / (C H W)`` and
  ``w_l = 1 / (4 ||G_l(style)||_F^2)``: each layer's relative squared Gram error, averaged over the four layers;
* tv: mean squared difference of neighbouring pixels (``--tv-weight`` 1: without it random features leave the
  result grainy).

Pixels stay in [0, 1]: they are clamped after every step. The features come from
:class:`~framework.models.style.RandomConvFeatures`, a fixed, seeded (``--feature-seed``, default 0) stack of
random multi-scale convolutions (conv1: 3x3, 5x5 and 7x7, 16 filters each; conv2 and conv3: 3x3 and 5x5, 32 and 48
each; conv4: 3x3, 128 filters; ReLU; a 2x2 average pool before conv2-4), because no pretrained network can be
downloaded: Ustyuzhaninov, Brendel, Gatys and Bethge (2016) showed that Gram matrices of random multi-scale filters
carry much of a texture's statistics.

Colour preservation (``--preserve-color``, the default): random filters are no VGG, their content features are as
sensitive to colour as to shape, so matching the Gram matrices of a style image with another palette recolours the
picture and costs content loss. By default the style targets therefore come from the style image recoloured to the
content image's palette (Gatys, Bethge, Hertzmann and Shechtman 2016, "Preserving Color in Neural Artistic Style
Transfer", the colour-histogram-matching variant, :func:`~framework.models.style.match_color`): a linear map of its
pixels that gives them the content image's RGB mean and covariance, then clipped to [0, 1] (the range the result
is held in; for flower.jpg onto china.jpg about 13 % of the values are clipped, which leaves the channel variances
about 30 % under the content's). The texture comes from the style image, the palette from the content image, and
the style loss is measured against those recoloured targets (so it starts lower than against the original colours,
0.153 rather than 0.631 with the defaults: the palette already matches and only the texture is left to move).
``--no-preserve-color`` takes the targets from the
style image's own colours (the original Gatys objective); ``side_by_side.png`` shows the recoloured style image
between the style image and the result when colour is preserved.

"Start" is the starting image (content + noise), whose content loss is the noise's: ``--noise`` sets that yardstick,
so the printed ratios depend on it. The content loss is therefore also put on a scale that does not: the content
loss of the style image itself (its own colours, resized to the content image's size), on which 0 is the content
image's features and 1 is as far from them as the style image. The issue's target: the style loss down >= 10x while
the content loss stays within 2x of its start; the last line prints both ratios. Measured with the defaults on the
cpu device (28-44 s on 2 shared cores): ``style loss 13.3x lower (0.153 -> 0.0115); content loss 1.6x its start
(0.000333 -> 0.000518)``, 0.085 on the style image's scale: both halves met (other seeds, 200 steps: ``--feature-seed
1``: 12.6x and 1.37x; ``--seed 1 --feature-seed 2``: 15.2x and 1.95x, a thin margin on the content half). Without
colour preservation no content weight met both (content weight 100: style 10.5x lower, content 4.6x its start;
200: 4.4x and 2.55x); with it, content weight 100 keeps the content loss at 0.51x its start but lowers the style
loss only 6.4x, 30 gives 11.2x and 1.21x, 10 gives 17.3x and 2.29x, hence the default content weight 20.

Defaults: scikit-learn's bundled ``china.jpg`` (content) and ``flower.jpg`` (style), longest side 128 pixels, 200
Adam steps (the losses settle after about 100): under a minute on one CPU core. Writes the run folder (default
``runs/style-<timestamp>``): ``result.png``, ``side_by_side.png`` (content | style | recoloured style, when
colour is preserved | result), ``loss_curves.png`` (log scale) and ``metrics.json``.
"""

from __future__ import annotations

import argparse
import math
import time
from pathlib import Path
from typing import Any

import numpy as np

from .common import DEFAULT_THREADS, check_out_folder, resolve_device, run_folder, versions, write_metrics

NAME = "style"
HELP = "neural style transfer (Gatys) with random multi-scale conv features"

#: scikit-learn's bundled photos (``sklearn.datasets.load_sample_image``): the default content and style images.
SAMPLE_IMAGES = ("china.jpg", "flower.jpg")
DEFAULT_CONTENT = "china.jpg"
DEFAULT_STYLE = "flower.jpg"
DEFAULT_SIZE = 128
DEFAULT_STEPS = 200
DEFAULT_LR = 0.02
DEFAULT_CONTENT_WEIGHT = 20.0
DEFAULT_STYLE_WEIGHT = 1.0
DEFAULT_TV_WEIGHT = 1.0
DEFAULT_NOISE = 0.1
#: The smallest --size: conv4 sits behind three 2x2 pools, so the shorter side must keep at least 8 pixels.
MIN_SIDE = 8
#: The issue's target: the style loss this many times lower, the content loss at most this many times its start.
TARGET_STYLE_RATIO = 10.0
TARGET_CONTENT_RATIO = 2.0


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("content", metavar="CONTENT", nargs="?", default=None,
                        help=f"content image: a path, or {' / '.join(SAMPLE_IMAGES)} (bundled with scikit-learn; "
                             f"default {DEFAULT_CONTENT})")
    parser.add_argument("style", metavar="STYLE", nargs="?", default=None,
                        help=f"style image, the same way (default {DEFAULT_STYLE})")
    parser.add_argument("--size", type=int, default=DEFAULT_SIZE,
                        help=f"longest side, in pixels, both images are resized to (default {DEFAULT_SIZE}; "
                             f"the shorter side must keep at least {MIN_SIDE})")
    parser.add_argument("--steps", type=int, default=DEFAULT_STEPS, help=f"Adam steps (default {DEFAULT_STEPS})")
    parser.add_argument("--lr", type=float, default=DEFAULT_LR,
                        help=f"Adam learning rate, in pixel units (default {DEFAULT_LR})")
    parser.add_argument("--content-weight", type=float, default=DEFAULT_CONTENT_WEIGHT,
                        help=f"weight of the content loss (default {DEFAULT_CONTENT_WEIGHT:g})")
    parser.add_argument("--style-weight", type=float, default=DEFAULT_STYLE_WEIGHT,
                        help=f"weight of the style loss (default {DEFAULT_STYLE_WEIGHT:g})")
    parser.add_argument("--tv-weight", type=float, default=DEFAULT_TV_WEIGHT,
                        help=f"weight of the total-variation loss (default {DEFAULT_TV_WEIGHT:g}; 0: off)")
    parser.add_argument("--preserve-color", action=argparse.BooleanOptionalAction, default=True,
                        help="take the style targets from the style image recoloured to the content image's RGB mean "
                             "and covariance (colour-histogram matching, Gatys et al. 2016): the style's texture "
                             "with the content's palette (default); --no-preserve-color: the style image's own "
                             "colours")
    parser.add_argument("--noise", type=float, default=DEFAULT_NOISE,
                        help=f"std of the Gaussian noise added to the content image to start from (default "
                             f"{DEFAULT_NOISE:g}; pixels in [0, 1]); it sets the content loss at the start")
    parser.add_argument("--seed", type=int, default=0, help="seed of the starting noise (default 0)")
    parser.add_argument("--feature-seed", type=int, default=0,
                        help="seed of the random conv filters of the feature extractor (default 0)")
    parser.add_argument("--device", default=None, help="cpu, triton, cupy or cuda (default: the best device present)")
    parser.add_argument("--out", default=None, help=f"run folder (default runs/{NAME}-YYYYmmdd-HHMMSS)")
    parser.add_argument("--threads", type=int, default=DEFAULT_THREADS,
                        help=f"BLAS threads on the cpu device (default {DEFAULT_THREADS})")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")


# ------------------------------------------------------------------------------------------- images


def load_image(image: str, size: int) -> np.ndarray:
    """An RGB image as float32 ``[3, H, W]`` in [0, 1], resized (Lanczos) so that its longest side is ``size``.

    Args:
        image: a path to an image file (anything Pillow reads; grey images are repeated to three channels,
            alpha is dropped), or ``'china.jpg'`` / ``'flower.jpg'`` where no such file exists: scikit-learn's
            sample images.
        size: the longest side after resizing.

    Raises:
        FileNotFoundError: neither a sample image nor an existing file.
        ValueError: the file is not an image, or the shorter side would be under :data:`MIN_SIDE` pixels.
    """
    from PIL import Image, UnidentifiedImageError  # installed with matplotlib

    if image in SAMPLE_IMAGES and not Path(image).is_file():
        from sklearn.datasets import load_sample_image

        picture = Image.fromarray(np.asarray(load_sample_image(image)))
    else:
        path = Path(image)
        if not path.is_file():
            raise FileNotFoundError(f"{image!r} is neither {' nor '.join(SAMPLE_IMAGES)} nor an existing file")
        try:
            with Image.open(path) as opened:
                picture = opened.convert("RGB")
        except (UnidentifiedImageError, OSError, ValueError) as exc:
            raise ValueError(f"{image}: cannot read as an image ({exc})") from exc
    width, height = picture.size
    scale = size / max(width, height)
    new = (max(1, round(width * scale)), max(1, round(height * scale)))
    if min(new) < MIN_SIDE:
        raise ValueError(f"{image}: {width}x{height} resized to a longest side of {size} is {new[0]}x{new[1]}; the "
                         f"shorter side must be at least {MIN_SIDE} pixels (raise --size)")
    picture = picture.convert("RGB").resize(new, Image.Resampling.LANCZOS)
    return np.ascontiguousarray(np.asarray(picture, np.float32).transpose(2, 0, 1) / 255.0)


def resized_like(image: np.ndarray, height: int, width: int) -> np.ndarray:
    """``[3, H, W]`` in [0, 1] resized (bicubic, aspect not kept) to ``[3, height, width]``."""
    from PIL import Image

    planes = [Image.fromarray(plane).resize((width, height), Image.Resampling.BICUBIC) for plane in image]
    return np.clip(np.stack([np.asarray(p, np.float32) for p in planes]), 0.0, 1.0)


def _to_uint8(image: np.ndarray) -> np.ndarray:
    return (np.clip(image, 0.0, 1.0).transpose(1, 2, 0) * 255.0 + 0.5).astype(np.uint8)


def save_png(image: np.ndarray, path: Path) -> None:
    """Write ``[3, H, W]`` in [0, 1] as an 8-bit PNG, atomically."""
    from PIL import Image

    from ..atomic import atomic_write

    with atomic_write(path) as f:
        Image.fromarray(_to_uint8(image)).save(f, format="PNG")


def plot_side_by_side(panels: list[tuple[str, np.ndarray]], path: Path, title: str) -> None:
    """Content | style | result (``[3, H, W]`` in [0, 1] each, sizes may differ) in one picture."""
    from matplotlib.figure import Figure

    from ..atomic import save_figure

    heights = [image.shape[1] for _, image in panels]
    widths = [image.shape[2] * max(heights) / h for (_, image), h in zip(panels, heights)]
    fig = Figure(figsize=(sum(widths) / 40 + 0.5, max(heights) / 40 + 0.9), layout="constrained")
    axes = fig.subplots(1, len(panels), width_ratios=widths)
    for ax, (label, image) in zip(axes, panels):
        ax.imshow(_to_uint8(image), interpolation="nearest")
        ax.set_title(label, fontsize=9)
        ax.set_axis_off()
    fig.suptitle(title, fontsize=9)
    save_figure(fig, path, dpi=100)


def plot_losses(history: dict[str, list[float]], path: Path) -> None:
    """The content and style losses (and tv, when weighted) against the step, each on a log scale."""
    from matplotlib.figure import Figure

    from ..atomic import save_figure

    names = [name for name in ("content", "style", "tv") if history.get(name)]
    fig = Figure(figsize=(4.5 * len(names), 3.8), layout="constrained")
    axes = np.atleast_1d(fig.subplots(1, len(names)))
    for ax, name in zip(axes, names):
        values = np.asarray(history[name], np.float64)
        ax.plot(np.arange(len(values)), np.where(values > 0, values, np.nan))
        ax.set_yscale("log")
        ax.set(xlabel="Adam step", ylabel=f"{name} loss", title=f"{name} loss ({values[0]:.3g} -> {values[-1]:.3g})")
        ax.grid(alpha=0.3, which="both")
    save_figure(fig, path, dpi=100)


# ---------------------------------------------------------------------------------------------- run


def _check_arguments(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    for name, value in vars(args).items():
        if isinstance(value, float) and not math.isfinite(value):
            parser.error(f"--{name.replace('_', '-')} must be a finite number, got {value}")
    if args.size < 2 * MIN_SIDE:
        parser.error(f"--size must be >= {2 * MIN_SIDE}, got {args.size}")
    if args.steps < 1:
        parser.error(f"--steps must be >= 1, got {args.steps}")
    if args.threads < 1:
        parser.error(f"--threads must be >= 1, got {args.threads}")
    if args.lr <= 0:
        parser.error(f"--lr must be > 0, got {args.lr}")
    for option in ("content_weight", "tv_weight", "noise"):
        if getattr(args, option) < 0:
            parser.error(f"--{option.replace('_', '-')} must be >= 0, got {getattr(args, option)}")
    if args.style_weight <= 0:
        parser.error(f"--style-weight must be > 0 (the style loss is what this command lowers), got "
                     f"{args.style_weight}")
    for option in ("seed", "feature_seed"):
        if getattr(args, option) < 0:
            parser.error(f"--{option.replace('_', '-')} must be >= 0, got {getattr(args, option)}")
    check_out_folder(parser, args.out)


def run(parser: argparse.ArgumentParser, args: argparse.Namespace) -> int:
    from threadpoolctl import threadpool_limits  # installed with scikit-learn
    from tqdm.auto import tqdm

    import framework as fw

    from .. import optim
    from ..models.style import (
        CONTENT_LAYER,
        STYLE_LAYERS,
        RandomConvFeatures,
        content_loss,
        gram_matrix,
        match_color,
        style_layer_weights,
        style_loss,
        total_variation,
    )

    args.content = DEFAULT_CONTENT if args.content is None else args.content
    args.style = DEFAULT_STYLE if args.style is None else args.style
    _check_arguments(parser, args)
    device = resolve_device(parser, args.device)
    try:
        content = load_image(args.content, args.size)
        style = load_image(args.style, args.size)
    except (OSError, ValueError) as exc:
        parser.error(str(exc))

    start_time = time.perf_counter()
    _, height, width = content.shape
    # The style targets' image: recoloured to the content's palette, clipped back to [0, 1] (the result's range).
    style_target = (np.clip(match_color(style, content), 0.0, 1.0).astype(np.float32) if args.preserve_color
                    else style)
    features = RandomConvFeatures(seed=args.feature_seed).to(device)
    print(f"device: {device}" + (f"  (BLAS threads: {args.threads})" if device == "cpu" else ""))
    print(f"content: {args.content} {width}x{height}  style: {args.style} {style.shape[2]}x{style.shape[1]}")
    print(f"features: {features.describe()}")
    print(f"content layer: {CONTENT_LAYER}  style layers: {', '.join(STYLE_LAYERS)}  weights: content "
          f"{args.content_weight:g}, style {args.style_weight:g}, tv {args.tv_weight:g}")
    if args.preserve_color:
        print(f"preserve color (default): style targets from {args.style} recoloured to {args.content}'s RGB mean "
              f"and covariance, clipped to [0, 1] (--no-preserve-color: the style image's own colours)")
    else:
        print(f"no preserve color: style targets from {args.style} in its own colours")
    print(f"start: the content image + Gaussian noise (std {args.noise:g}, seed {args.seed}); {args.steps} Adam "
          f"steps, lr {args.lr:g}, pixels clamped to [0, 1]")

    def on_device(image: np.ndarray, requires_grad: bool = False):
        return fw.tensor(np.ascontiguousarray(image[None], dtype=np.float32), device=device,
                         requires_grad=requires_grad)

    rng = np.random.default_rng(args.seed)
    start = np.clip(content + args.noise * rng.standard_normal(content.shape), 0.0, 1.0).astype(np.float32)
    history: dict[str, list[float]] = {"content": [], "style": [], "tv": [], "total": []}
    with threadpool_limits(limits=args.threads, user_api="blas"):
        with fw.no_grad():
            # One batch: the content image and, as the scale of the content loss, the style image resized to it.
            pair = features(fw.tensor(np.stack([content, resized_like(style, height, width)]), device=device))
            content_target = pair[CONTENT_LAYER][0:1]
            reference = float(content_loss(pair[CONTENT_LAYER][1:2], content_target).item())
            style_grams = {name: gram_matrix(value) for name, value in features(on_device(style_target)).items()}
        layer_weights = style_layer_weights(style_grams)
        image = on_device(start, requires_grad=True)
        optimizer = optim.Adam([image], lr=args.lr)

        def losses():
            maps = features(image)
            terms = (content_loss(maps[CONTENT_LAYER], content_target), style_loss(maps, style_grams, layer_weights),
                     total_variation(image))
            total = args.content_weight * terms[0] + args.style_weight * terms[1] + args.tv_weight * terms[2]
            for name, value in zip(("content", "style", "tv", "total"), (*terms, total)):
                history[name].append(float(value.item()))
            return total

        bar = tqdm(range(args.steps), desc="style", unit="step", leave=False, disable=args.no_progress,
                   dynamic_ncols=True)
        for _ in bar:
            optimizer.zero_grad()
            losses().backward()
            optimizer.step()
            with fw.no_grad():
                image.clamp_(0.0, 1.0)
            bar.set_postfix(content=f"{history['content'][-1]:.3g}", style=f"{history['style'][-1]:.3g}")
        bar.close()
        with fw.no_grad():
            losses()  # the final image's losses (the loop recorded each image before its step)
    result = image.detach().numpy()[0]
    elapsed = time.perf_counter() - start_time

    content_start, content_end = history["content"][0], history["content"][-1]
    style_start, style_end = history["style"][0], history["style"][-1]
    style_ratio = style_start / style_end if style_end > 0 else math.inf
    content_ratio = content_end / content_start if content_start > 0 else math.inf
    met = style_ratio >= TARGET_STYLE_RATIO and content_ratio <= TARGET_CONTENT_RATIO

    folder = run_folder(args.out, NAME)
    save_png(result, folder / "result.png")
    panels = [(f"content: {Path(args.content).name}", content), (f"style: {Path(args.style).name}", style)]
    if args.preserve_color:
        panels.append(("style recoloured (targets)", style_target))
    plot_side_by_side([*panels, ("result", result)], folder / "side_by_side.png",
                      title=f"style loss {style_ratio:.1f}x lower, content loss {content_ratio:.1f}x its start "
                            f"({args.steps} Adam steps, random conv features)")
    plot_losses({k: v for k, v in history.items() if k != "tv" or args.tv_weight > 0}, folder / "loss_curves.png")
    metrics: dict[str, Any] = {
        "command": NAME,
        "content_image": args.content,
        "style_image": args.style,
        "content_size": [height, width],
        "style_size": [int(style.shape[1]), int(style.shape[2])],
        "size": args.size,
        "device": device,
        "steps": args.steps,
        "optimizer": "Adam",
        "lr": args.lr,
        "weights": {"content": args.content_weight, "style": args.style_weight, "tv": args.tv_weight},
        "preserve_color": args.preserve_color,
        "style_layer_weights": layer_weights,
        "content_layer": CONTENT_LAYER,
        "style_layers": list(STYLE_LAYERS),
        "feature_extractor": {"description": features.describe(), "seed": args.feature_seed, "pretrained": False},
        "start": {"definition": "content image + Gaussian noise, clipped to [0, 1]", "noise_std": args.noise,
                  "seed": args.seed},
        "content_loss_start": content_start,
        "content_loss_end": content_end,
        "content_loss_ratio": content_ratio,
        "style_loss_start": style_start,
        "style_loss_end": style_end,
        "style_loss_ratio": style_ratio,
        "content_loss_of_style_image": reference,
        "content_loss_end_vs_style_image": content_end / reference if reference > 0 else None,
        "target": {"style_ratio_at_least": TARGET_STYLE_RATIO, "content_ratio_at_most": TARGET_CONTENT_RATIO,
                   "met": met},
        "history": history,
        "threads": args.threads,
        "elapsed_seconds": elapsed,
        "versions": versions(),
    }
    write_metrics(folder, metrics)
    print(f"run folder: {folder}")
    print(f"elapsed: {elapsed:.1f}s")
    if reference > 0:
        print(f"content loss on the style image's scale: {content_end / reference:.3g} (0: the content image's "
              f"features, 1: as far from them as the style image, whose content loss is {reference:.3g})")
    print(f"target (style >= {TARGET_STYLE_RATIO:g}x lower, content <= {TARGET_CONTENT_RATIO:g}x its start): "
          f"{'met' if met else 'not met'}")
    print(f"style loss {style_ratio:.1f}x lower ({style_start:.3g} -> {style_end:.3g}); "
          f"content loss {content_ratio:.1f}x its start ({content_start:.3g} -> {content_end:.3g})")
    return 0
