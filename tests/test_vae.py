"""Unit tests for labhelpers.vae (05): KL, reparameterization, loss reduction, models, training."""

import pytest
import torch
from torch.distributions import Normal, kl_divergence

from labhelpers.vae import VAE, ConvVAE, kl_diag_normal, negative_elbo, reparameterize, train_vae, vae_loss


def test_kl_of_identical_gaussians_is_zero():
    mu, logvar = torch.zeros(4, 3), torch.zeros(4, 3)
    assert torch.equal(kl_diag_normal(mu, logvar), torch.zeros(4))


def test_kl_matches_torch_distributions():
    g = torch.Generator().manual_seed(0)
    mu, logvar = torch.randn(5, 7, generator=g), torch.randn(5, 7, generator=g)
    q = Normal(mu, (0.5 * logvar).exp())
    p = Normal(torch.zeros_like(mu), torch.ones_like(mu))
    expected = kl_divergence(q, p).sum(1)
    torch.testing.assert_close(kl_diag_normal(mu, logvar), expected, rtol=1e-5, atol=1e-5)


def test_kl_known_value_one_dimension():
    # KL(N(1, 1) || N(0, 1)) = 1/2 * mu^2 = 0.5
    assert kl_diag_normal(torch.ones(1, 1), torch.zeros(1, 1)).item() == pytest.approx(0.5)


def test_kl_rejects_mismatched_shapes():
    with pytest.raises(ValueError, match="same shape"):
        kl_diag_normal(torch.zeros(2, 3), torch.zeros(2, 4))


def test_reparameterize_gradients_reach_mu_and_logvar():
    mu = torch.tensor([[0.5, -1.0]], requires_grad=True)
    logvar = torch.tensor([[0.2, -0.3]], requires_grad=True)
    z = reparameterize(mu, logvar, generator=torch.Generator().manual_seed(1))
    z.sum().backward()
    assert torch.allclose(mu.grad, torch.ones_like(mu))  # dz/dmu = 1
    eps = (z.detach() - mu.detach()) / (0.5 * logvar.detach()).exp()
    # dz/dlogvar = 1/2 * sigma * eps
    torch.testing.assert_close(logvar.grad, 0.5 * (0.5 * logvar.detach()).exp() * eps)
    assert (logvar.grad != 0).all()


def test_reparameterize_is_seeded_and_has_the_right_moments():
    mu, logvar = torch.full((20000, 1), 3.0), torch.full((20000, 1), 2 * torch.log(torch.tensor(0.5)))
    z1 = reparameterize(mu, logvar, generator=torch.Generator().manual_seed(0))
    z2 = reparameterize(mu, logvar, generator=torch.Generator().manual_seed(0))
    assert torch.equal(z1, z2)
    assert z1.mean().item() == pytest.approx(3.0, abs=0.02)
    assert z1.std().item() == pytest.approx(0.5, abs=0.02)


def test_vae_loss_reduction_matches_hand_computation():
    logits = torch.tensor([[[[0.0, 2.0]]], [[[-1.0, 1.0]]]])  # (2, 1, 1, 2)
    x = torch.tensor([[[[1.0, 0.0]]], [[[0.5, 1.0]]]])
    mu, logvar = torch.tensor([[1.0], [0.0]]), torch.tensor([[0.0], [1.0]])
    p = torch.sigmoid(logits)
    bce = -(x * p.log() + (1 - x) * (1 - p).log()).sum()
    kl = 0.5 * 1.0 + (-0.5 * (1 + 1.0 - 0.0 - torch.e))
    torch.testing.assert_close(vae_loss(logits, x, mu, logvar), bce + kl)
    torch.testing.assert_close(vae_loss(logits, x, mu, logvar, beta=0.0), bce)


def test_vae_shapes_and_architecture():
    model = VAE()
    assert model.fc1.in_features == 784 and model.fc1.out_features == 400
    assert model.fc21.out_features == 20 and model.fc22.out_features == 20 and model.fc4.out_features == 784
    x = torch.rand(3, 1, 28, 28)
    logits, mu, logvar = model(x)
    assert logits.shape == (3, 1, 28, 28) and mu.shape == (3, 20) and logvar.shape == (3, 20)
    assert model.decode(torch.zeros(2, 20)).shape == (2, 1, 28, 28)


@pytest.mark.parametrize("shape", [(1, 28, 28), (3, 32, 32)])
def test_conv_vae_shapes(shape):
    model = ConvVAE(latent_dim=8, image_shape=shape)
    logits, mu, logvar = model(torch.rand(2, *shape))
    assert logits.shape == (2, *shape) and mu.shape == (2, 8) and logvar.shape == (2, 8)


def test_conv_vae_rejects_other_sizes():
    with pytest.raises(ValueError, match="image_shape"):
        ConvVAE(image_shape=(1, 64, 64))


def test_negative_elbo_per_image_matches_loss():
    torch.manual_seed(0)
    model = VAE(latent_dim=4, hidden=16)
    x = torch.rand(6, 1, 28, 28)
    nelbo = negative_elbo(model, x, generator=torch.Generator().manual_seed(3))
    assert nelbo.shape == (6,)
    logits, mu, logvar = model(x, generator=torch.Generator().manual_seed(3))
    torch.testing.assert_close(nelbo.sum(), vae_loss(logits, x, mu, logvar).detach(), rtol=1e-5, atol=1e-3)


def test_train_vae_lowers_the_loss():
    torch.manual_seed(0)
    x = (torch.rand(256, 1, 28, 28) > 0.7).float()
    model = VAE(latent_dim=4, hidden=32)
    history = train_vae(model, x, num_epochs=3, batch_size=64, generator=torch.Generator().manual_seed(0), x_test=x[:32])
    assert len(history["loss"]) == 3 and len(history["test"]) == 3
    assert history["loss"][-1] < history["loss"][0]
    assert not model.training


def test_train_vae_keeps_the_best_validation_epoch():
    torch.manual_seed(0)
    x = (torch.rand(128, 1, 28, 28) > 0.7).float()
    model = VAE(latent_dim=4, hidden=32)
    history = train_vae(model, x, num_epochs=4, batch_size=64, generator=torch.Generator().manual_seed(0),
                        x_val=x[:32])
    best = history["best_epoch"][0]
    assert history["val"][best - 1] == min(history["val"])
    again = float(negative_elbo(model, x[:32], generator=torch.Generator().manual_seed(5)).mean())
    assert abs(again - min(history["val"])) < 0.05 * min(history["val"])  # the restored weights are the best epoch's
