"""The generative models: shapes, the VAE's loss terms against PyTorch, and the isolation of the GAN's steps."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import framework as fw
from framework import optim
from framework.models import (
    VAE,
    ConvAutoencoder,
    Discriminator,
    Generator,
    MinibatchStdDev,
    add_gaussian_noise,
    discriminator_step,
    gan_train_step,
    generator_step,
    reparameterize,
    update_ema,
    vae_loss_terms,
)
from tests.conftest import pair, rel_err


def _snapshot(module) -> dict[str, np.ndarray]:
    return {name: p.numpy().copy() for name, p in module.named_parameters()}


def _changed(before: dict[str, np.ndarray], module) -> set[str]:
    return {name for name, p in module.named_parameters() if not np.array_equal(before[name], p.numpy())}


# ------------------------------------------------------------------------------------------- shapes


def test_autoencoder_shapes_and_range(device):
    fw.manual_seed(0)
    model = ConvAutoencoder(width=4, code_channels=3).to(device)
    x = fw.rand(2, 1, 8, 8, device=device)
    assert model.encode(x).shape == (2, 3, 2, 2)
    y = model(x)
    assert y.shape == (2, 1, 8, 8) and y.device == device
    values = y.numpy()
    assert values.min() > 0 and values.max() < 1  # sigmoid output
    loss = fw.nn.functional.mse_loss(y, x)
    loss.backward()
    assert all(p.grad is not None and np.abs(p.grad.numpy()).sum() > 0 for p in model.parameters())


def test_vae_shapes(device):
    fw.manual_seed(0)
    model = VAE(latent_dim=3, width=4, hidden=8).to(device)
    reconstruction, mu, logvar = model(fw.rand(2, 1, 8, 8, device=device))
    assert reconstruction.shape == (2, 1, 8, 8) and mu.shape == logvar.shape == (2, 3)
    assert model.decode(fw.randn(5, 3, device=device)).shape == (5, 1, 8, 8)


def test_gan_networks_shapes(device):
    fw.manual_seed(0)
    generator = Generator(latent_dim=5, width=4).to(device)
    discriminator = Discriminator(width=4).to(device)
    images = generator(fw.randn(3, 5, device=device))
    assert images.shape == (3, 1, 8, 8)
    assert 0 < images.numpy().min() and images.numpy().max() < 1
    assert discriminator(images).shape == (3, 1)


@pytest.mark.parametrize("factory, match", [
    (lambda: ConvAutoencoder(image_size=6), "image_size"),
    (lambda: VAE(image_size=7), "image_size"),
    (lambda: VAE(latent_dim=0), "latent_dim"),
    (lambda: Generator(latent_dim=0), "latent_dim"),
    (lambda: Discriminator(image_size=10), "image_size"),
])
def test_bad_constructor_arguments_raise(factory, match):
    with pytest.raises(ValueError, match=match):
        factory()


def test_add_gaussian_noise_is_clipped_and_has_the_requested_spread():
    images = np.full((200, 1, 8, 8), 0.5, dtype=np.float32)
    noisy = add_gaussian_noise(images, 0.1, np.random.default_rng(0))
    assert noisy.dtype == np.float32 and noisy.shape == images.shape
    assert abs(float(np.std(noisy - images)) - 0.1) < 0.005  # 0.5 +- 0.1 is rarely clipped
    clipped = add_gaussian_noise(np.zeros((100, 64), np.float32), 0.3, np.random.default_rng(1))
    assert clipped.min() == 0.0 and clipped.max() <= 1.0 and (clipped == 0).mean() > 0.4  # about half clipped
    assert np.array_equal(add_gaussian_noise(images, 0.2, np.random.default_rng(5)),
                          add_gaussian_noise(images, 0.2, np.random.default_rng(5)))
    with pytest.raises(ValueError, match="std"):
        add_gaussian_noise(images, -1.0, np.random.default_rng(0))


# ------------------------------------------------------------------------------- VAE loss terms


def test_vae_loss_terms_and_gradients_match_pytorch(device, rng):
    n, d = 5, 3
    mu, mu_ref = pair(rng.standard_normal((n, d)), device)
    logvar, logvar_ref = pair(0.5 * rng.standard_normal((n, d)), device)
    eps, eps_ref = pair(rng.standard_normal((n, d)), device, requires_grad=False)
    recon, recon_ref = pair(rng.uniform(0.02, 0.98, (n, 1, 4, 4)), device)
    target, target_ref = pair(rng.uniform(0.0, 1.0, (n, 1, 4, 4)), device, requires_grad=False)
    weights = rng.standard_normal((n, d))  # a downstream use of z, so its gradient reaches mu and logvar

    z = reparameterize(mu, logvar, eps)
    bce, kl = vae_loss_terms(recon, target, mu, logvar)
    (bce + kl + (z * fw.tensor(weights.astype(np.float32), device=device)).sum()).backward()

    z_ref = mu_ref + torch.exp(0.5 * logvar_ref) * eps_ref
    bce_ref = torch.nn.functional.binary_cross_entropy(recon_ref, target_ref, reduction="sum") / n
    kl_ref = -0.5 * torch.sum(1 + logvar_ref - mu_ref.pow(2) - logvar_ref.exp()) / n
    (bce_ref + kl_ref + (z_ref * torch.tensor(weights)).sum()).backward()

    assert bce.shape == kl.shape == ()
    assert rel_err(z, z_ref) <= 1e-5
    assert rel_err(bce, bce_ref) <= 1e-5 and rel_err(kl, kl_ref) <= 1e-5
    assert kl.item() > 0 and bce.item() > 0
    for ours, ref in ((mu, mu_ref), (logvar, logvar_ref), (recon, recon_ref)):
        assert rel_err(ours.grad, ref.grad) <= 1e-5


def test_vae_loss_terms_reject_mismatched_shapes():
    x = fw.rand(2, 1, 4, 4)
    with pytest.raises(ValueError, match="reconstruction"):
        vae_loss_terms(fw.rand(3, 1, 4, 4), x, fw.zeros(2, 2), fw.zeros(2, 2))
    with pytest.raises(ValueError, match="mu"):
        vae_loss_terms(x, x, fw.zeros(2, 2), fw.zeros(2, 3))


def test_reparameterize_draws_from_the_seeded_generator():
    mu = fw.tensor(np.array([[1.0, -2.0], [0.5, 0.0]], np.float32))
    logvar = fw.tensor(np.array([[0.0, 1.0], [-1.0, 2.0]], np.float32))
    fw.manual_seed(7)
    z1 = reparameterize(mu, logvar).numpy()
    fw.manual_seed(7)
    z2 = reparameterize(mu, logvar).numpy()
    eps = np.random.default_rng(7).standard_normal((2, 2))  # what manual_seed(7) makes randn draw
    np.testing.assert_array_equal(z1, z2)
    np.testing.assert_allclose(z1, mu.numpy() + np.exp(0.5 * logvar.numpy()) * eps, rtol=1e-6)
    with pytest.raises(ValueError, match="same shape"):
        reparameterize(mu, fw.zeros(2, 3))


# ------------------------------------------------------------------------------------ GAN steps


def _gan(device):
    fw.manual_seed(0)
    generator = Generator(latent_dim=4, width=4).to(device)
    discriminator = Discriminator(width=4, dropout=0.2).to(device)
    g_opt = optim.Adam(generator.parameters(), lr=1e-2, betas=(0.5, 0.999))
    d_opt = optim.Adam(discriminator.parameters(), lr=1e-2, betas=(0.5, 0.999))
    real = fw.rand(4, 1, 8, 8, device=device)
    return generator, discriminator, g_opt, d_opt, real


def test_discriminator_step_moves_only_the_discriminator(device):
    generator, discriminator, g_opt, d_opt, real = _gan(device)
    g_before, d_before = _snapshot(generator), _snapshot(discriminator)
    fake = generator(fw.randn(4, 4, device=device))  # with its graph: the step must detach it
    loss = discriminator_step(discriminator, d_opt, real, fake, real_label=0.9)
    assert np.isfinite(loss) and loss > 0
    assert _changed(g_before, generator) == set()
    assert all(p.grad is None for p in generator.parameters())  # no gradient leaked through the fake batch
    assert _changed(d_before, discriminator) == set(d_before)  # every D tensor moved


def test_generator_step_moves_only_the_generator(device):
    generator, discriminator, g_opt, d_opt, real = _gan(device)
    # Leave a D gradient from a D step behind: the G step must neither use d_opt nor touch that gradient.
    discriminator_step(discriminator, d_opt, real, generator(fw.randn(4, 4, device=device)))
    d_grads = {name: p.grad.numpy().copy() for name, p in discriminator.named_parameters()}
    g_before, d_before = _snapshot(generator), _snapshot(discriminator)
    loss = generator_step(discriminator, g_opt, generator(fw.randn(4, 4, device=device)))
    assert np.isfinite(loss) and loss > 0
    assert _changed(d_before, discriminator) == set()
    for name, p in discriminator.named_parameters():
        np.testing.assert_array_equal(p.grad.numpy(), d_grads[name])
        assert p.requires_grad  # unfrozen again
    assert _changed(g_before, generator) == set(g_before)


def test_generator_step_rejects_a_detached_fake_batch():
    generator, discriminator, g_opt, _, _ = _gan("cpu")
    with pytest.raises(ValueError, match="fake"):
        generator_step(discriminator, g_opt, generator(fw.randn(2, 4)).detach())


def test_gan_train_step_updates_both_and_is_reproducible():
    results = []
    for _ in range(2):
        generator, discriminator, g_opt, d_opt, real = _gan("cpu")
        g_before, d_before = _snapshot(generator), _snapshot(discriminator)
        losses = [gan_train_step(generator, discriminator, g_opt, d_opt, real, real_label=0.9) for _ in range(3)]
        assert _changed(g_before, generator) == set(g_before) and _changed(d_before, discriminator) == set(d_before)
        results.append((losses, _snapshot(generator)))
    assert results[0][0] == results[1][0]
    for name, value in results[0][1].items():
        np.testing.assert_array_equal(value, results[1][1][name])


def test_update_ema_averages_parameters_without_a_graph():
    fw.manual_seed(0)
    model, average = Generator(latent_dim=2, width=2), Generator(latent_dim=2, width=2)
    before = _snapshot(average)
    current = _snapshot(model)
    update_ema(average, model, 0.75)
    for name, p in average.named_parameters():
        np.testing.assert_allclose(p.numpy(), 0.75 * before[name] + 0.25 * current[name], rtol=1e-6, atol=1e-7)
        assert p.grad is None and p.is_leaf
    update_ema(average, model, 0.0)  # decay 0 copies the model
    assert _changed(current, average) == set()
    with pytest.raises(ValueError, match="decay"):
        update_ema(average, model, 1.5)
    with pytest.raises(ValueError, match="same parameter"):
        update_ema(Generator(latent_dim=3, width=2), model, 0.5)


def test_update_ema_copies_the_batch_norm_statistics():
    fw.manual_seed(0)
    model, average = Generator(latent_dim=2, width=2), Generator(latent_dim=2, width=2)
    model(fw.randn(5, 2))  # training mode: moves the running statistics of the model only
    update_ema(average, model, 0.9)
    buffers = dict(average.named_buffers())
    assert len(buffers) == 3  # running_mean, running_var, num_batches_tracked of the BatchNorm2d
    for name, b in model.named_buffers():
        np.testing.assert_array_equal(buffers[name].numpy(), b.numpy())
    model(fw.randn(5, 2))
    assert not np.array_equal(buffers["4.running_mean"].numpy(), dict(model.named_buffers())["4.running_mean"].numpy())


# ------------------------------------------------------------------------------------ minibatch stddev


@pytest.mark.parametrize("shape", [(5, 3, 2, 3), (2, 1, 1, 1)])
def test_minibatch_stddev_matches_torch(device, rng, shape):
    x = rng.standard_normal(shape)
    ours, ref = pair(x, device)
    out = MinibatchStdDev()(ours)
    spread = ref.std(dim=0).mean()
    expected = torch.cat([ref, spread.expand(shape[0], 1, *shape[2:])], dim=1)
    assert out.shape == tuple(expected.shape)
    assert rel_err(out, expected) <= 1e-5
    weights = rng.standard_normal(expected.shape)
    (out * fw.tensor(weights.astype(np.float32), device=device)).sum().backward()
    (expected * torch.tensor(weights)).sum().backward()
    assert rel_err(ours.grad, ref.grad) <= 1e-4


def test_minibatch_stddev_batch_of_one_and_bad_input():
    out = MinibatchStdDev()(fw.randn(1, 2, 3, 3))
    assert out.shape == (1, 3, 3, 3)
    np.testing.assert_array_equal(out.numpy()[:, 2], 0.0)
    with pytest.raises(ValueError, match="4-D"):
        MinibatchStdDev()(fw.randn(2, 3))
