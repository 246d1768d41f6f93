"""Single-image super-resolution: an ESPCN-style network, an SRGAN-style patch discriminator, and their steps.

:class:`ESPCN` follows Shi et al. (2016): every convolution runs at the low resolution and the last one makes
``scale²`` channels per output channel that :class:`~framework.nn.PixelShuffle` rearranges into the high-resolution
grid, so the cost per output pixel is ``1/scale²`` of a network that upsamples first (SRCNN). Unlike the paper it
predicts the *residual* over a bicubic upsampling of its input (as VDSR, Kim et al. 2016): the network starts out
as bicubic and only learns the missing detail, which trains in a few epochs on a CPU.

:func:`srgan_train_step` adds the adversarial loss of SRGAN (Ledig et al. 2017) to the pixel loss: the
discriminator learns to tell real high-resolution patches from the network's, and the network minimises
``MSE + adversarial_weight · BCE(D(SR), 1)``.
"""

from __future__ import annotations

from typing import Any

from .. import nn
from ..nn import functional as F
from ..tensor import Tensor, full
from .gan import discriminator_step


class ESPCN(nn.Module):
    """Low-resolution images ``[N, C, h, w]`` -> ``[N, C, scale·h, scale·w]``: bicubic upsampling plus a learned
    residual.

    Body (all at the low resolution, "same" zero padding): ``Conv2d(C, w1, 5) → ReLU → Conv2d(w1, w2, 3) → ReLU →
    Conv2d(w2, C·scale², 3) → PixelShuffle(scale)``, applied to ``x - 0.5``; with ``residual`` the output is
    ``F.interpolate(x, scale_factor=scale, mode="bicubic") + body(x - 0.5)`` (PyTorch's bicubic, A = -0.75),
    without it ``body(x - 0.5)`` alone. The last convolution starts at zero, so an untrained residual network
    returns exactly the bicubic upsampling.

    Two departures from the paper's tanh network on raw inputs, measured on ``kernelgrad train superres``'s data
    (x2, 450 Adam steps of 32 patches, lr 1e-3, held-out PSNR over bicubic): ReLU on zero-centred inputs
    +1.29 dB; ReLU on raw inputs +0.98 dB; tanh, raw or centred, +0.93 and +0.95 dB.

    Args:
        scale: upscaling factor, >= 2.
        channels: image channels (1: the luminance channel, as ESPCN).
        widths: output channels of the first two convolutions (the paper's 64 and 32).
        residual: add the bicubic upsampling of the input to the body's output.

    Raises:
        ValueError: ``scale`` < 2, ``channels`` < 1 or a width < 1.
    """

    def __init__(self, scale: int = 2, channels: int = 1, widths: tuple[int, int] = (64, 32), residual: bool = True):
        super().__init__()
        if scale < 2:
            raise ValueError(f"ESPCN: scale must be >= 2, got {scale}")
        if channels < 1 or min(widths) < 1:
            raise ValueError(f"ESPCN: channels and widths must be >= 1, got {channels} and {widths}")
        self.scale = scale
        self.residual = residual
        first, second = widths
        last = nn.Conv2d(second, channels * scale * scale, 3, padding=1)
        if residual:
            # Start as bicubic: the residual is 0 until training finds detail to add.
            nn.init.zeros_(last.weight)
            nn.init.zeros_(last.bias)
        self.body = nn.Sequential(
            nn.Conv2d(channels, first, 5, padding=2),
            nn.ReLU(),
            nn.Conv2d(first, second, 3, padding=1),
            nn.ReLU(),
            last,
            nn.PixelShuffle(scale),
        )

    def upsample(self, x: Tensor) -> Tensor:
        """The bicubic upsampling the residual is added to: ``[N, C, h, w] -> [N, C, scale·h, scale·w]``."""
        return F.interpolate(x, scale_factor=self.scale, mode="bicubic")

    def forward(self, x: Tensor) -> Tensor:
        out = self.body(x - 0.5)  # images in [0, 1]: centred, the ReLUs start half open
        return self.upsample(x) + out if self.residual else out


class PatchDiscriminator(nn.Module):
    """High-resolution patches ``[N, C, H, W]`` -> one real-vs-upscaled logit ``[N, 1]`` (SRGAN's discriminator,
    shrunk).

    ``Conv2d(C, w, 3, stride 2) → LeakyReLU(0.2) → Conv2d(w, 2w, 3, stride 2) → LeakyReLU(0.2) →
    Conv2d(2w, 2w, 3, stride 2) → LeakyReLU(0.2) → mean over H, W → Linear(2w, 1)``; the global mean makes it
    work for any patch size >= 1.

    Args:
        channels: image channels.
        width: channels of the first convolution.
    """

    def __init__(self, channels: int = 1, width: int = 32):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(channels, width, 3, stride=2, padding=1),
            nn.LeakyReLU(0.2),
            nn.Conv2d(width, 2 * width, 3, stride=2, padding=1),
            nn.LeakyReLU(0.2),
            nn.Conv2d(2 * width, 2 * width, 3, stride=2, padding=1),
            nn.LeakyReLU(0.2),
        )
        self.classifier = nn.Linear(2 * width, 1)

    def forward(self, x: Tensor) -> Tensor:
        return self.classifier(self.features(x).mean(dim=(2, 3)))


def srgan_train_step(model: nn.Module, discriminator: nn.Module, g_optimizer: Any, d_optimizer: Any,
                     low: Tensor, high: Tensor, adversarial_weight: float) -> dict[str, float]:
    """One SRGAN-style update on a batch: the discriminator first, then the super-resolution network.

    The discriminator step (:func:`~framework.models.gan.discriminator_step`) sees ``high`` as real and the
    detached ``model(low)`` as fake. The network then minimises ``mse(model(low), high) + adversarial_weight ·
    BCE(D(model(low)), 1)`` with the discriminator's parameters frozen, so only ``g_optimizer`` moves anything.

    Args:
        model, discriminator: the networks; ``model(low)`` has ``high``'s shape.
        g_optimizer, d_optimizer: optimizers over each network's parameters only.
        low, high: a batch of low-resolution inputs and their high-resolution targets.
        adversarial_weight: weight of the adversarial term, >= 0.

    Returns:
        ``{"d_loss", "pixel_mse", "adversarial", "loss"}`` as floats (``loss`` = the network's total loss).
    """
    sr = model(low)
    d_loss = discriminator_step(discriminator, d_optimizer, high, sr)
    g_optimizer.zero_grad()
    flags = [p.requires_grad for p in discriminator.parameters()]
    discriminator.requires_grad_(False)
    try:
        logits = discriminator(sr)
        adversarial = F.binary_cross_entropy_with_logits(logits, full(logits.shape, 1.0, dtype=logits.dtype,
                                                                      device=logits.backend))
        pixel = F.mse_loss(sr, high)
        loss = pixel + adversarial_weight * adversarial
        loss.backward()
    finally:
        for p, flag in zip(discriminator.parameters(), flags):
            p.requires_grad_(flag)
    g_optimizer.step()
    return {"d_loss": d_loss, "pixel_mse": pixel.item(), "adversarial": adversarial.item(), "loss": loss.item()}
