"""Gatys-style neural style transfer without a pretrained network: a fixed random conv feature extractor, Gram
matrices and the content, style and total-variation losses.

Gatys, Ecker and Bethge (2016) optimise an image so that its VGG features at one deep layer match a content
image and the Gram matrices (channel correlations) of several layers match a style image. No pretrained VGG can
be downloaded here, so :class:`RandomConvFeatures` stands in: a seeded stack of convolutions with random
weights. Ustyuzhaninov, Brendel, Gatys and Bethge (2016, "Texture synthesis using shallow convolutional networks
with random filters") showed that the Gram matrices of random multi-scale filters already capture much of a
texture's statistics; the multi-scale part matters (several kernel sizes, and pooling so deeper layers see
larger regions).

Random filters are no VGG: their responses depend on colour as much as on shape, so matching the Gram matrices of
a style image with another palette recolours the picture and drives the content loss up. :func:`match_color`
implements the colour-histogram-matching variant of Gatys, Bethge, Hertzmann and Shechtman (2016, "Preserving
Color in Neural Artistic Style Transfer"): the style image's pixels are mapped linearly so that their RGB mean and
covariance are the content image's, and the style targets are taken from that recoloured style image; the texture
then comes from the style image and the palette from the content image.
"""

from __future__ import annotations

import numpy as np

from .. import nn
from ..nn import functional as F
from ..tensor import Tensor, cat
from ..tensor import tensor as _tensor

#: (name, kernel sizes, filters per kernel size) of each stage; stage ``i > 0`` starts with a 2x2 average pool.
RANDOM_FEATURE_STAGES = (
    ("conv1", (3, 5, 7), 16),
    ("conv2", (3, 5), 32),
    ("conv3", (3, 5), 48),
    ("conv4", (3,), 128),
)
#: Layers whose Gram matrices form the style loss, and the layer of the content loss (Gatys: conv4_2 of five).
STYLE_LAYERS = ("conv1", "conv2", "conv3", "conv4")
CONTENT_LAYER = "conv3"
#: Seed of the random filters: the same features on every device and in every run.
DEFAULT_FEATURE_SEED = 0


class RandomConvFeatures(nn.Module):
    """A fixed, seeded stack of random multi-scale convolutions with ReLU and average pooling.

    Four stages (see :data:`RANDOM_FEATURE_STAGES`); each runs, on the same input, one convolution per kernel size
    (stride 1, zero padding ``k // 2``, so the side is kept), concatenates their outputs along the channels and
    applies ReLU; stages 2-4 first halve the side with a 2x2 average pool (Gatys et al. found average pooling
    better than max pooling for synthesis). Channels: 3 -> 48 -> 64 -> 96 -> 128, at sides 1, 1/2, 1/4, 1/8.

    Weights are drawn once from ``numpy.random.default_rng(seed)``: N(0, 2 / fan_in) (He initialisation, which
    keeps the activations' scale from stage to stage), each filter shifted to zero mean so it responds to
    structure rather than to brightness; biases are zero. They are buffers, not parameters: nothing trains them.
    Inputs are pixels in [0, 1]; the stack sees ``x - 0.5``.

    Args:
        seed: seed of the random filters.
        in_channels: image channels (3 for RGB).

    Shapes: ``[N, in_channels, H, W]`` -> a dict ``name -> [N, C_name, H / 2^i, W / 2^i]`` (sides floored by the
        pools), one entry per stage; ``H`` and ``W`` must be at least 8.
    """

    def __init__(self, seed: int = DEFAULT_FEATURE_SEED, in_channels: int = 3):
        super().__init__()
        rng = np.random.default_rng(seed)
        self.seed = seed
        self.stages: list[tuple[str, list[str]]] = []
        channels = in_channels
        for name, kernel_sizes, filters in RANDOM_FEATURE_STAGES:
            weights = []
            for k in kernel_sizes:
                fan_in = channels * k * k
                w = rng.normal(0.0, np.sqrt(2.0 / fan_in), size=(filters, channels, k, k))
                w -= w.mean(axis=(1, 2, 3), keepdims=True)
                buffer = f"{name}_weight_{k}x{k}"
                self.register_buffer(buffer, _tensor(np.ascontiguousarray(w, dtype=np.float32)))
                weights.append(buffer)
            self.stages.append((name, weights))
            channels = filters * len(kernel_sizes)

    def forward(self, x: Tensor) -> dict[str, Tensor]:
        features = {}
        x = x - 0.5
        for i, (name, buffers) in enumerate(self.stages):
            if i > 0:
                x = F.avg_pool2d(x, 2)
            outputs = []
            for buffer in buffers:
                weight = getattr(self, buffer)
                outputs.append(F.conv2d(x, weight, padding=weight.shape[-1] // 2))
            x = F.relu(outputs[0] if len(outputs) == 1 else cat(outputs, dim=1))
            features[name] = x
        return features

    def describe(self) -> str:
        """One line naming the architecture and the seed (for the command's output and metrics.json)."""
        stages = ", ".join(f"{name} {'+'.join(f'{k}x{k}' for k in ks)} x{f}" for name, ks, f in RANDOM_FEATURE_STAGES)
        return (f"random multi-scale conv features, seed {self.seed} (not pretrained): {stages}; ReLU, 2x2 average "
                f"pool before conv2-4; He-normal zero-mean filters")


def match_color(style: np.ndarray, content: np.ndarray, floor: float = 1e-10) -> np.ndarray:
    """The style image recoloured so that its RGB mean and covariance are the content image's (Gatys, Bethge,
    Hertzmann and Shechtman 2016, colour-histogram matching).

    ``x' = A (x - mu_s) + mu_c`` for every pixel ``x`` with ``A = Sigma_c^(1/2) Sigma_s^(-1/2)`` (symmetric square
    roots from ``numpy.linalg.eigh``), ``mu`` and ``Sigma`` the per-image channel means and (biased) covariances;
    then ``mean(x') = mu_c`` and ``cov(x') = A Sigma_s A^T = Sigma_c``. Computed in float64; the eigenvalues of
    ``Sigma_s`` are floored at ``floor`` before the inverse square root, so a style image without variance along
    some colour direction (a grey or a flat image) maps to zero variance there instead of dividing by zero (its
    covariance then cannot, and does not, equal the content's). Nothing is clipped: pixels may leave [0, 1].

    Args:
        style: ``[C, H, W]``.
        content: ``[C, H', W']`` (any size: only its statistics are used).
        floor: the smallest eigenvalue of ``Sigma_s`` inverted.

    Returns:
        ``[C, H, W]`` float64.
    """
    if style.ndim != 3 or content.ndim != 3 or style.shape[0] != content.shape[0]:
        raise ValueError(f"match_color: expected [C, H, W] images with the same C, got {style.shape} and "
                         f"{content.shape}")
    s = style.reshape(style.shape[0], -1).astype(np.float64)
    c = content.reshape(content.shape[0], -1).astype(np.float64)
    mu_s, mu_c = s.mean(axis=1, keepdims=True), c.mean(axis=1, keepdims=True)
    sigma_s = (s - mu_s) @ (s - mu_s).T / s.shape[1]
    sigma_c = (c - mu_c) @ (c - mu_c).T / c.shape[1]

    def power(matrix: np.ndarray, exponent: float) -> np.ndarray:
        values, vectors = np.linalg.eigh(matrix)
        values = np.maximum(values, floor)
        return (vectors * values**exponent) @ vectors.T

    a = power(sigma_c, 0.5) @ power(sigma_s, -0.5)
    return (a @ (s - mu_s) + mu_c).reshape(style.shape)


def gram_matrix(features: Tensor) -> Tensor:
    """``G = F F^T / (C H W)`` of one image's feature map.

    Args:
        features: ``[1, C, H, W]`` or ``[C, H, W]``.

    Returns:
        ``[C, C]``.
    """
    c = features.shape[-3]
    h, w = features.shape[-2], features.shape[-1]
    flat = features.reshape(c, h * w)
    return flat.matmul(flat.t()) / float(c * h * w)


def style_loss(features: dict[str, Tensor], target_grams: dict[str, Tensor], weights: dict[str, float]) -> Tensor:
    """``sum_l weights[l] * ||G(features[l]) - target_grams[l]||_F^2`` over the layers of ``weights``."""
    total = None
    for layer, weight in weights.items():
        diff = gram_matrix(features[layer]) - target_grams[layer]
        term = (diff * diff).sum() * float(weight)
        total = term if total is None else total + term
    if total is None:
        raise ValueError("style_loss: weights names no layer")
    return total


def style_layer_weights(target_grams: dict[str, Tensor], layers: tuple[str, ...] = STYLE_LAYERS) -> dict[str, float]:
    """Per-layer style weights ``1 / (L * ||G_l(style)||_F^2)``: each layer's term is then its relative squared
    Gram error, averaged over the ``L`` layers, so a layer with large activations does not drown the others, and
    an image whose Gram matrices are all zero scores 1."""
    weights = {}
    for layer in layers:
        norm = float((target_grams[layer] * target_grams[layer]).sum().item())
        weights[layer] = 1.0 / (len(layers) * max(norm, 1e-30))
    return weights


def content_loss(features: Tensor, target: Tensor) -> Tensor:
    """Mean squared error between the image's and the content image's features at the content layer."""
    return F.mse_loss(features, target)


def total_variation(image: Tensor) -> Tensor:
    """Mean squared difference of vertically and horizontally neighbouring pixels of ``[N, C, H, W]``."""
    dy = image[:, :, 1:, :] - image[:, :, :-1, :]
    dx = image[:, :, :, 1:] - image[:, :, :, :-1]
    return (dy * dy).mean() + (dx * dx).mean()
