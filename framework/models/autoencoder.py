"""A small convolutional autoencoder for 8x8 images, and the Gaussian noise of its denoising variant."""

from __future__ import annotations

import numpy as np

from .. import nn
from ..tensor import Tensor


class ConvAutoencoder(nn.Module):
    """Conv/ReLU/max-pool encoder down to a ``[code_channels, s/4, s/4]`` code, transposed-conv decoder, sigmoid.

    Encoder: ``Conv2d(in, w, 3, pad 1) → ReLU → MaxPool2d(2) → Conv2d(w, code, 3, pad 1) → ReLU → MaxPool2d(2)``.
    Decoder: ``ConvTranspose2d(code, w, 4, stride 2, pad 1) → ReLU → ConvTranspose2d(w, in, 4, stride 2, pad 1)
    → Sigmoid``; each transposed conv doubles the side, so the output has the input's shape and values in (0, 1).

    Args:
        in_channels: image channels (1 for grey images).
        image_size: input height = width; must be a positive multiple of 4 (8 for the digits).
        width: channels of the hidden feature maps.
        code_channels: channels of the code (the bottleneck has ``code_channels * (image_size/4)²`` numbers).

    Shapes: input ``[N, in_channels, s, s]`` in [0, 1] -> reconstruction of the same shape;
        :meth:`encode` returns ``[N, code_channels, s/4, s/4]``.

    Raises:
        ValueError: ``image_size`` not a positive multiple of 4.
    """

    def __init__(self, in_channels: int = 1, image_size: int = 8, width: int = 32, code_channels: int = 8):
        super().__init__()
        if image_size <= 0 or image_size % 4:
            raise ValueError(f"ConvAutoencoder: image_size must be a positive multiple of 4, got {image_size}")
        self.image_size = image_size
        self.encoder = nn.Sequential(
            nn.Conv2d(in_channels, width, 3, padding=1),
            nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Conv2d(width, code_channels, 3, padding=1),
            nn.ReLU(),
            nn.MaxPool2d(2),
        )
        self.decoder = nn.Sequential(
            nn.ConvTranspose2d(code_channels, width, 4, stride=2, padding=1),
            nn.ReLU(),
            nn.ConvTranspose2d(width, in_channels, 4, stride=2, padding=1),
            nn.Sigmoid(),
        )

    def encode(self, x: Tensor) -> Tensor:
        return self.encoder(x)

    def forward(self, x: Tensor) -> Tensor:
        return self.decoder(self.encoder(x))


def add_gaussian_noise(images: np.ndarray, std: float, generator: np.random.Generator) -> np.ndarray:
    """``clip(images + N(0, std²), 0, 1)`` on the host, in the images' dtype (the denoising autoencoder's input).

    Args:
        images: array of pixel values in [0, 1], any shape.
        std: noise standard deviation, >= 0.
        generator: numpy Generator the noise is drawn from (seeded by the caller for reproducibility).

    Raises:
        ValueError: ``std`` < 0.
    """
    if not std >= 0:
        raise ValueError(f"add_gaussian_noise: std must be >= 0, got {std!r}")
    noisy = images + std * generator.standard_normal(images.shape)
    return np.clip(noisy, 0.0, 1.0).astype(images.dtype)
