"""A small DCGAN-style generator/discriminator pair for 8x8 images and the alternating training step, and its
class-conditional AC-GAN variant.

The step follows Goodfellow et al. (2014) with the non-saturating generator loss: the discriminator learns to
tell real images (label ``real_label``) from generated ones (label 0) on a *detached* fake batch, then the
generator learns to make the (updated) discriminator say "real". Each half clears and steps only its own
network's optimizer, so one half never moves the other network's weights.

The AC-GAN (Odena et al. 2017) feeds the generator a class label beside the noise and gives the discriminator a
second head that classifies every image it sees into the classes; both networks also minimise that head's
cross-entropy, the discriminator on real images and fakes, the generator on its fakes (of the requested class).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any, NamedTuple

from .. import nn
from ..autograd import no_grad
from ..nn import functional as F
from ..tensor import Tensor, cat, full, randint, randn, zeros


class Generator(nn.Sequential):
    """Noise ``z [N, latent_dim]`` -> images ``[N, out_channels, s, s]`` in (0, 1).

    ``Linear(latent_dim, 2w·(s/2)²) → ReLU → Unflatten → ConvTranspose2d(2w, w, 4, stride 2, pad 1) →
    BatchNorm2d(w) → ReLU → Conv2d(w, w, 3, pad 1) → ReLU → Conv2d(w, out, 3, pad 1) → Sigmoid`` (the
    Linear+ReLU runs as one fused kernel). The batch normalisation after the upsampling (Radford et al. 2016)
    and the extra 3x3 convolution each raised the share of confidently recognised samples by about 4 points
    in tuning runs (a PyTorch copy of ``kernelgrad train gan``'s loop, seed 0; README, "Models and commands").

    Args:
        latent_dim: size of the noise vector.
        out_channels: image channels (1 for grey images).
        image_size: output height = width, a positive even number (8 for the digits).
        width: channels after the transposed convolution (the projection has ``2 * width``).

    Raises:
        ValueError: ``image_size`` not a positive even number or ``latent_dim`` < 1.
    """

    def __init__(self, latent_dim: int = 32, out_channels: int = 1, image_size: int = 8, width: int = 32):
        if image_size <= 0 or image_size % 2:
            raise ValueError(f"Generator: image_size must be a positive even number, got {image_size}")
        if latent_dim < 1:
            raise ValueError(f"Generator: latent_dim must be >= 1, got {latent_dim}")
        side = image_size // 2
        super().__init__(
            nn.Linear(latent_dim, 2 * width * side * side),
            nn.ReLU(),
            nn.Unflatten(1, (2 * width, side, side)),
            nn.ConvTranspose2d(2 * width, width, 4, stride=2, padding=1),
            nn.BatchNorm2d(width),
            nn.ReLU(),
            nn.Conv2d(width, width, 3, padding=1),
            nn.ReLU(),
            nn.Conv2d(width, out_channels, 3, padding=1),
            nn.Sigmoid(),
        )
        self.latent_dim = latent_dim
        self.image_size = image_size


class MinibatchStdDev(nn.Module):
    """Appends one feature map holding the batch's average standard deviation (Karras et al. 2018, §3).

    ``[N, C, H, W] -> [N, C + 1, H, W]``: the standard deviation over the batch of every feature (Bessel-corrected,
    like ``Tensor.std``), averaged into one number, broadcast as an extra channel. A discriminator that sees
    how varied a batch is can punish a generator whose samples all look alike (mode collapse). A batch of one
    sample has no spread: its extra channel is 0.

    Raises:
        ValueError: input that is not 4-D.
    """

    def forward(self, input: Tensor) -> Tensor:
        if input.ndim != 4:
            raise ValueError(f"MinibatchStdDev: expected 4-D input [N, C, H, W], got shape {input.shape}")
        n, _, h, w = input.shape
        if n > 1:
            spread = input.std(dim=0).mean().reshape(1, 1, 1, 1).expand(n, 1, h, w)
        else:
            spread = zeros(n, 1, h, w, dtype=input.dtype, device=input.backend)
        return cat([input, spread], dim=1)


class Discriminator(nn.Sequential):
    """Images ``[N, in_channels, s, s]`` -> one real-vs-fake logit ``[N, 1]``.

    ``Conv2d(in, w, 3, stride 2, pad 1) → LeakyReLU(0.2) → Dropout → Conv2d(w, 2w, 3, stride 2, pad 1) →
    LeakyReLU(0.2) → Dropout → MinibatchStdDev → Flatten → Linear((2w+1)·(s/4)², 1)``.

    Args:
        in_channels: image channels (1 for grey images).
        image_size: input height = width, a positive multiple of 4 (8 for the digits).
        width: channels of the first conv (the second has ``2 * width``).
        dropout: drop probability after each activation. A little regularises the discriminator; on the
            digits more of it hurts the samples (confident samples of ``kernelgrad train gan``, seed 0: 83.0%
            at 0.05, 80.8% at 0.1).

    Raises:
        ValueError: ``image_size`` not a positive multiple of 4.
    """

    def __init__(self, in_channels: int = 1, image_size: int = 8, width: int = 32, dropout: float = 0.05):
        if image_size <= 0 or image_size % 4:
            raise ValueError(f"Discriminator: image_size must be a positive multiple of 4, got {image_size}")
        side = image_size // 4
        super().__init__(*_discriminator_features(in_channels, width, dropout),
                         nn.Linear((2 * width + 1) * side * side, 1))


def _discriminator_features(in_channels: int, width: int, dropout: float) -> list[nn.Module]:
    """The layers :class:`Discriminator` and :class:`ACDiscriminator` share: two stride-2 convs with LeakyReLU and
    dropout, the minibatch-stddev channel, flattened to ``(2 * width + 1) * (image_size // 4) ** 2`` features."""
    return [
        nn.Conv2d(in_channels, width, 3, stride=2, padding=1),
        nn.LeakyReLU(0.2),
        nn.Dropout(dropout),
        nn.Conv2d(width, 2 * width, 3, stride=2, padding=1),
        nn.LeakyReLU(0.2),
        nn.Dropout(dropout),
        MinibatchStdDev(),
        nn.Flatten(),
    ]


class ConditionalGenerator(nn.Module):
    """Noise ``z [N, latent_dim]`` and class labels ``[N]`` (int64 in ``[0, num_classes)``) -> images
    ``[N, out_channels, s, s]`` in (0, 1).

    The noise is multiplied element-wise by the label's learned embedding (``nn.Embedding(num_classes,
    latent_dim)``, N(0, 1) at the start) and a :class:`Generator` maps the product to an image, as the Keras
    AC-GAN example does. A product, not a concatenation: every input of the generator is then a noise component,
    so it cannot learn to ignore the noise and draw one image per class. (Concatenating a 16-wide embedding to
    the noise did: its samples of one digit were nearly identical, 0.15-0.27 of the real digits' within-class
    pixel spread against 0.66-0.87 with the product, in 40-60-epoch tuning runs of the AC-GAN on the digits.)

    Args:
        latent_dim: size of the noise vector (and of a label's embedding).
        num_classes: number of classes (10 for the digits).
        out_channels, image_size, width: as for :class:`Generator`.

    Raises:
        ValueError: as :class:`Generator`, or ``num_classes`` < 1.
    """

    def __init__(self, latent_dim: int = 32, num_classes: int = 10, out_channels: int = 1, image_size: int = 8,
                 width: int = 32):
        super().__init__()
        self.main = Generator(latent_dim, out_channels, image_size, width)
        self.label_embedding = nn.Embedding(num_classes, latent_dim)
        self.latent_dim = latent_dim
        self.num_classes = num_classes
        self.image_size = image_size

    def forward(self, z: Tensor, labels: Tensor) -> Tensor:
        if z.ndim != 2 or z.shape[1] != self.latent_dim:
            raise ValueError(f"ConditionalGenerator: z must have shape [N, {self.latent_dim}], got {z.shape}")
        if labels.shape != (z.shape[0],):
            raise ValueError(f"ConditionalGenerator: labels must have shape [{z.shape[0]}] (one per noise vector), "
                             f"got {labels.shape}")
        return self.main(z * self.label_embedding(labels))


class ACDiscriminator(nn.Module):
    """Images ``[N, in_channels, s, s]`` -> ``(real-vs-fake logit [N, 1], class logits [N, num_classes])``.

    The layers of :class:`Discriminator` up to its flattened features (convolutions, LeakyReLU, dropout,
    minibatch standard deviation) are shared by two linear heads: ``adversarial`` (one logit) and ``classifier``
    (the auxiliary classifier of the AC-GAN).

    Args:
        in_channels, image_size, width, dropout: as for :class:`Discriminator`.
        num_classes: number of classes of the auxiliary head.

    Raises:
        ValueError: ``image_size`` not a positive multiple of 4.
    """

    def __init__(self, in_channels: int = 1, num_classes: int = 10, image_size: int = 8, width: int = 32,
                 dropout: float = 0.05):
        super().__init__()
        if image_size <= 0 or image_size % 4:
            raise ValueError(f"ACDiscriminator: image_size must be a positive multiple of 4, got {image_size}")
        side = image_size // 4
        self.features = nn.Sequential(*_discriminator_features(in_channels, width, dropout))
        self.adversarial = nn.Linear((2 * width + 1) * side * side, 1)
        self.classifier = nn.Linear((2 * width + 1) * side * side, num_classes)
        self.num_classes = num_classes

    def forward(self, input: Tensor) -> tuple[Tensor, Tensor]:
        features = self.features(input)
        return self.adversarial(features), self.classifier(features)


@contextlib.contextmanager
def _frozen(module: nn.Module) -> Iterator[None]:
    """``module``'s parameters get ``requires_grad=False`` inside the block and their own flags back after it."""
    flags = [p.requires_grad for p in module.parameters()]
    module.requires_grad_(False)
    try:
        yield
    finally:
        for p, flag in zip(module.parameters(), flags):
            p.requires_grad_(flag)


def _bce_with_target(logits: Tensor, target: float) -> Tensor:
    return F.binary_cross_entropy_with_logits(logits, full(logits.shape, target, dtype=logits.dtype,
                                                           device=logits.backend))


def discriminator_step(discriminator: nn.Module, d_optimizer: Any, real: Tensor, fake: Tensor,
                       real_label: float = 1.0) -> float:
    """One discriminator update: ``BCE(D(real), real_label) + BCE(D(fake), 0)``; only ``d_optimizer`` steps.

    ``fake`` is detached here, so no gradient reaches the generator (its ``.grad`` stays as it was).

    Args:
        discriminator: maps images ``[N, ...]`` to logits ``[N, 1]``.
        d_optimizer: optimizer over the discriminator's parameters only.
        real, fake: image batches (``fake`` typically ``generator(z)``, with or without a graph).
        real_label: target for real images (e.g. 0.9 for one-sided label smoothing).

    Returns:
        the discriminator loss (a float).
    """
    d_optimizer.zero_grad()
    logits_real = discriminator(real)
    logits_fake = discriminator(fake.detach())
    loss = (F.binary_cross_entropy_with_logits(logits_real, full(logits_real.shape, real_label,
                                                                 dtype=logits_real.dtype,
                                                                 device=logits_real.backend))
            + F.binary_cross_entropy_with_logits(logits_fake, full(logits_fake.shape, 0.0, dtype=logits_fake.dtype,
                                                                   device=logits_fake.backend)))
    loss.backward()
    d_optimizer.step()
    return loss.item()


def generator_step(discriminator: nn.Module, g_optimizer: Any, fake: Tensor) -> float:
    """One generator update with the non-saturating loss ``BCE(D(fake), 1)``; only ``g_optimizer`` steps.

    The discriminator's parameters are frozen (``requires_grad=False``) for the backward pass, so neither
    their weights nor their ``.grad`` change, and no time is spent on their weight gradients.

    Args:
        discriminator: maps images to logits ``[N, 1]``.
        g_optimizer: optimizer over the generator's parameters only.
        fake: ``generator(z)`` *with* its graph.

    Returns:
        the generator loss (a float).

    Raises:
        ValueError: ``fake`` has no graph (it was detached or made without gradients).
    """
    if not fake.requires_grad:
        raise ValueError("generator_step: fake must be generator(z) with its autograd graph (not detached)")
    g_optimizer.zero_grad()
    with _frozen(discriminator):
        logits = discriminator(fake)
        loss = _bce_with_target(logits, 1.0)
        loss.backward()
    g_optimizer.step()
    return loss.item()


def gan_train_step(generator: Generator, discriminator: nn.Module, g_optimizer: Any, d_optimizer: Any,
                   real: Tensor, real_label: float = 1.0) -> tuple[float, float]:
    """One alternating GAN update on a batch of real images: the discriminator first, then the generator.

    The fake batch ``generator(z)`` (``z`` from the framework's seeded generator, on ``real``'s device) is
    made once: the discriminator step sees it detached, the generator step back-propagates through it.

    Returns:
        ``(discriminator loss, generator loss)`` as floats.
    """
    z = randn(real.shape[0], generator.latent_dim, dtype=real.dtype, device=real.backend)
    fake = generator(z)
    d_loss = discriminator_step(discriminator, d_optimizer, real, fake, real_label)
    g_loss = generator_step(discriminator, g_optimizer, fake)
    return d_loss, g_loss


class ACGANLosses(NamedTuple):
    """The four loss terms of one :func:`acgan_train_step` (floats, each a batch mean)."""

    d_adversarial: float  #: BCE(D(real), real_label) + BCE(D(fake), 0)
    d_class: float  #: CE(classes of real) + CE(classes of fake), before the class weight
    g_adversarial: float  #: BCE(D(fake), 1)
    g_class: float  #: CE(classes of fake), before the class weight


def acgan_train_step(generator: ConditionalGenerator, discriminator: ACDiscriminator, g_optimizer: Any,
                     d_optimizer: Any, real: Tensor, labels: Tensor, real_label: float = 1.0,
                     class_weight: float = 1.0) -> ACGANLosses:
    """One alternating AC-GAN update (Odena et al. 2017) on a batch of real images and their labels.

    A fake batch ``generator(z, c)`` is made once, ``z`` standard normal and ``c`` uniform over the classes
    (both from the framework's seeded generator, on ``real``'s device). Then, as :func:`gan_train_step`:

    - the discriminator minimises ``BCE(D(real), real_label) + BCE(D(fake), 0)
      + class_weight * (CE(C(real), labels) + CE(C(fake), c))`` on the detached fake batch (only
      ``d_optimizer`` steps);
    - the generator minimises ``BCE(D(fake), 1) + class_weight * CE(C(fake), c)`` through the updated
      discriminator, whose parameters are frozen for that backward pass (only ``g_optimizer`` steps).

    ``D`` and ``C`` are the discriminator's adversarial and class heads.

    Args:
        real: images ``[N, ...]``; labels: their int64 classes ``[N]``.
        real_label: BCE target for real images; class_weight: weight of the class cross-entropy terms.

    Returns:
        the four loss terms as an :class:`ACGANLosses`.
    """
    n = real.shape[0]
    z = randn(n, generator.latent_dim, dtype=real.dtype, device=real.backend)
    fake_labels = randint(0, generator.num_classes, (n,), device=real.backend)
    fake = generator(z, fake_labels)

    d_optimizer.zero_grad()
    adversarial_real, classes_real = discriminator(real)
    adversarial_fake, classes_fake = discriminator(fake.detach())
    d_adversarial = _bce_with_target(adversarial_real, real_label) + _bce_with_target(adversarial_fake, 0.0)
    d_class = F.cross_entropy(classes_real, labels) + F.cross_entropy(classes_fake, fake_labels)
    (d_adversarial + class_weight * d_class).backward()
    d_optimizer.step()

    g_optimizer.zero_grad()
    with _frozen(discriminator):
        adversarial, classes = discriminator(fake)
        g_adversarial = _bce_with_target(adversarial, 1.0)
        g_class = F.cross_entropy(classes, fake_labels)
        (g_adversarial + class_weight * g_class).backward()
    g_optimizer.step()
    return ACGANLosses(d_adversarial.item(), d_class.item(), g_adversarial.item(), g_class.item())


def update_ema(average: nn.Module, model: nn.Module, decay: float) -> None:
    """``average ← decay * average + (1 - decay) * model``, parameter by parameter, without recording a graph.

    An exponential moving average of the generator's weights (Karras et al. 2018; Yazici et al. 2019) smooths the
    oscillation of the adversarial game: its samples are cleaner than the last iterate's. ``average`` must have
    the same architecture as ``model`` (e.g. a copy made with ``load_state_dict``) and is never trained itself.
    Buffers (the batch-norm running statistics) are not averaged but copied from ``model``: they describe the
    activations of the current weights, and eval mode normalises with them.

    Raises:
        ValueError: ``decay`` outside [0, 1], or parameter or buffer names/shapes that differ.
    """
    if not 0.0 <= decay <= 1.0:
        raise ValueError(f"update_ema: decay must be in [0, 1], got {decay!r}")
    averaged, current = dict(average.named_parameters()), dict(model.named_parameters())
    averaged_buffers, current_buffers = dict(average.named_buffers()), dict(model.named_buffers())
    for kind, mine, theirs in (("parameter", averaged, current), ("buffer", averaged_buffers, current_buffers)):
        if mine.keys() != theirs.keys() or any(mine[k].shape != theirs[k].shape for k in theirs):
            raise ValueError(f"update_ema: average and model must have the same {kind} names and shapes")
    with no_grad():
        for name, p in current.items():
            target = averaged[name]
            # A new array (not an in-place write), like the optimizers: earlier detached views stay valid.
            target._data = decay * target._data + (1.0 - decay) * p._data
        for name, b in current_buffers.items():
            averaged_buffers[name]._data = b.detach().clone()._data
