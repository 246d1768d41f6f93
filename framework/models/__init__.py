"""Ready-made models built from :mod:`framework.nn`."""

from .autoencoder import ConvAutoencoder, add_gaussian_noise
from .cnn import DigitsCNN
from .gan import (
    ACDiscriminator,
    ACGANLosses,
    ConditionalGenerator,
    Discriminator,
    Generator,
    MinibatchStdDev,
    acgan_train_step,
    discriminator_step,
    gan_train_step,
    generator_step,
    update_ema,
)
from .rnn import SequenceClassifier, SequenceRegressor
from .superres import ESPCN, PatchDiscriminator, srgan_train_step
from .vae import VAE, reparameterize, vae_loss_terms

__all__ = [
    "ACDiscriminator", "ACGANLosses", "ConditionalGenerator", "acgan_train_step",
    "ConvAutoencoder", "DigitsCNN", "Discriminator", "Generator", "MinibatchStdDev", "VAE", "add_gaussian_noise",
    "discriminator_step", "gan_train_step", "generator_step", "reparameterize", "update_ema", "vae_loss_terms",
    "SequenceClassifier", "SequenceRegressor",
    "ESPCN", "PatchDiscriminator", "srgan_train_step",
]
