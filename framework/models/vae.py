"""A convolutional variational autoencoder (Kingma & Welling 2014) for 8x8 images, and its two loss terms."""

from __future__ import annotations

from .. import nn
from ..nn import functional as F
from ..tensor import Tensor, randn_like


class VAE(nn.Module):
    """Encoder ``x → (mu, logvar)`` of a diagonal Gaussian q(z|x), decoder ``z → p(x|z)`` Bernoulli means.

    Encoder: ``Conv2d(in, w, 3, pad 1) → ReLU → Conv2d(w, 2w, 3, stride 2, pad 1) → ReLU → Flatten →
    Linear(2w·(s/2)², hidden) → ReLU``, then two heads ``Linear(hidden, latent_dim)`` for ``mu`` and ``logvar``.
    Decoder: ``Linear(latent_dim, hidden) → ReLU → Linear(hidden, 2w·(s/2)²) → ReLU → Unflatten →
    ConvTranspose2d(2w, w, 4, stride 2, pad 1) → ReLU → Conv2d(w, in, 3, pad 1) → Sigmoid``.

    Args:
        in_channels: image channels (1 for grey images).
        image_size: input height = width, a positive even number (8 for the digits).
        latent_dim: size of z (2 lets a plot show the whole latent space).
        width: channels of the first conv (the second has ``2 * width``).
        hidden: units of the fully connected layers.

    Shapes: ``forward(x [N, C, s, s]) -> (reconstruction [N, C, s, s] in (0, 1), mu [N, latent_dim],
        logvar [N, latent_dim])``; :meth:`decode` maps ``[N, latent_dim]`` to images.

    Raises:
        ValueError: ``image_size`` not a positive even number or ``latent_dim`` < 1.
    """

    def __init__(self, in_channels: int = 1, image_size: int = 8, latent_dim: int = 2, width: int = 16,
                 hidden: int = 128):
        super().__init__()
        if image_size <= 0 or image_size % 2:
            raise ValueError(f"VAE: image_size must be a positive even number, got {image_size}")
        if latent_dim < 1:
            raise ValueError(f"VAE: latent_dim must be >= 1, got {latent_dim}")
        self.image_size = image_size
        self.latent_dim = latent_dim
        side = image_size // 2
        features = 2 * width * side * side
        self.encoder = nn.Sequential(
            nn.Conv2d(in_channels, width, 3, padding=1),
            nn.ReLU(),
            nn.Conv2d(width, 2 * width, 3, stride=2, padding=1),
            nn.ReLU(),
            nn.Flatten(),
            nn.Linear(features, hidden),
            nn.ReLU(),
        )
        self.fc_mu = nn.Linear(hidden, latent_dim)
        self.fc_logvar = nn.Linear(hidden, latent_dim)
        self.decoder = nn.Sequential(
            nn.Linear(latent_dim, hidden),
            nn.ReLU(),
            nn.Linear(hidden, features),
            nn.ReLU(),
            nn.Unflatten(1, (2 * width, side, side)),
            nn.ConvTranspose2d(2 * width, width, 4, stride=2, padding=1),
            nn.ReLU(),
            nn.Conv2d(width, in_channels, 3, padding=1),
            nn.Sigmoid(),
        )

    def encode(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """``(mu, logvar)`` of q(z|x), each ``[N, latent_dim]``."""
        h = self.encoder(x)
        return self.fc_mu(h), self.fc_logvar(h)

    def decode(self, z: Tensor) -> Tensor:
        """Pixel probabilities ``[N, C, s, s]`` for latent codes ``z [N, latent_dim]``."""
        return self.decoder(z)

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        mu, logvar = self.encode(x)
        z = reparameterize(mu, logvar)
        return self.decode(z), mu, logvar


def reparameterize(mu: Tensor, logvar: Tensor, eps: Tensor | None = None) -> Tensor:
    """``z = mu + exp(0.5 * logvar) * eps``: a sample of N(mu, exp(logvar)) that is differentiable in mu and logvar.

    Args:
        mu, logvar: ``[N, D]``.
        eps: standard normal noise of the same shape; None draws it from the framework's seeded generator
            (:func:`framework.manual_seed`), on mu's device.

    Raises:
        ValueError: shapes differ.
    """
    if logvar.shape != mu.shape or (eps is not None and eps.shape != mu.shape):
        raise ValueError(f"reparameterize: mu {mu.shape}, logvar {logvar.shape} and eps "
                         f"{None if eps is None else eps.shape} must have the same shape")
    if eps is None:
        eps = randn_like(mu)
    return mu + (0.5 * logvar).exp() * eps


def vae_loss_terms(reconstruction: Tensor, target: Tensor, mu: Tensor, logvar: Tensor) -> tuple[Tensor, Tensor]:
    """The two terms of the negative ELBO, each summed over its dimensions and averaged over the batch.

    ``bce = sum_pixels BCE(reconstruction, target) / N`` (PyTorch's ``binary_cross_entropy(..., reduction='sum')
    / N``, logs clamped at -100) and ``kl = -0.5 * sum(1 + logvar - mu² - exp(logvar)) / N``, the closed-form
    KL(N(mu, exp(logvar)) || N(0, I)). The loss to minimise is ``bce + kl``.

    Args:
        reconstruction: decoder probabilities ``[N, ...]`` in [0, 1]. target: the same shape, values in [0, 1].
        mu, logvar: ``[N, D]``.

    Returns:
        ``(bce, kl)``, scalar Tensors.

    Raises:
        ValueError: shapes that do not match (named), or reconstruction values outside [0, 1].
    """
    if reconstruction.shape != target.shape:
        raise ValueError(f"vae_loss_terms: reconstruction {reconstruction.shape} and target {target.shape} differ")
    if logvar.shape != mu.shape or mu.ndim != 2 or mu.shape[0] != target.shape[0]:
        raise ValueError(f"vae_loss_terms: mu {mu.shape} and logvar {logvar.shape} must both be [N, D] with "
                         f"N = {target.shape[0]} (the batch of the target)")
    n = target.shape[0]
    bce = F.binary_cross_entropy(reconstruction, target, reduction="sum") / n
    kl = -0.5 * (1 + logvar - mu * mu - logvar.exp()).sum() / n
    return bce, kl
