"""Lecture 11's generated module: the grid-latent autoencoder, the reflow loss, path straightness and the samplers."""

from __future__ import annotations

import math

import pytest
import torch

from labhelpers import config
from labhelpers import latent as L
from labhelpers.diffusion import TinyUNet


class LineField(torch.nn.Module):
    """A 'network' whose Euler paths are straight: v(x, t) = target - x0 along x_t = (1 - t) x0 + t target."""

    def __init__(self, curved: bool = False):
        super().__init__()
        self.num_classes, self.curved = 10, curved
        self.unused = torch.nn.Parameter(torch.zeros(()))

    def forward(self, x, t, y=None):
        t = t.view(-1, *[1] * (x.ndim - 1))
        if self.curved:       # rotates x: a circle, far from straight
            return torch.stack([-x[:, 1], x[:, 0]], 1) * math.pi / 2
        return torch.ones_like(x)            # constant velocity: straight paths


def test_autoencoder_shapes_and_loss_in_nats():
    torch.manual_seed(0)
    model = L.LatentAutoencoder(channels=4, width=8)
    x = torch.rand(3, 1, 28, 28).round()
    mu, logvar = model.encode(x)
    assert mu.shape == logvar.shape == (3, 4, 7, 7)
    assert model.decode(mu).shape == (3, 1, 28, 28)
    assert 0 <= model.decode(mu).min() and model.decode(mu).max() <= 1
    g = torch.Generator().manual_seed(0)
    plain = L.latent_ae_loss(model, x, 0.0, torch.Generator().manual_seed(0))
    regularised = L.latent_ae_loss(model, x, 1.0, torch.Generator().manual_seed(0))
    assert plain.item() > 784 * 0.1                     # Bernoulli nats summed over 784 pixels, not a mean
    kl = -0.5 * (1 + logvar - mu ** 2 - logvar.exp()).flatten(1).sum(1).mean()
    assert torch.allclose(regularised - plain, kl, rtol=1e-4)
    z = L.encode_latents(model, x, g)
    assert z.shape == (3, 4, 7, 7)


def test_reflow_loss_is_zero_for_the_exact_velocity_and_positive_otherwise():
    g = torch.Generator().manual_seed(0)
    z0, labels = torch.randn(6, 2), torch.zeros(6, dtype=torch.long)
    z1 = z0 + 1.0                                        # LineField's constant velocity 1 is exactly z1 - z0
    assert L.reflow_loss(LineField(), z0, z1, labels, g).item() < 1e-12
    assert L.reflow_loss(LineField(), z0, z0 + 2.0, labels, g).item() == pytest.approx(1.0)


def test_straightness_is_zero_for_straight_paths_and_large_for_a_circle():
    labels = torch.zeros(4, dtype=torch.long)
    straight = L.straightness(LineField(), (4, 2), labels, 8, torch.Generator().manual_seed(0))
    curved = L.straightness(LineField(curved=True), (4, 2), labels, 32, torch.Generator().manual_seed(0))
    assert straight < 1e-10
    assert curved > 0.1


def test_sample_latent_and_settings_reject_unknown_names():
    with pytest.raises(ValueError, match="which="):
        L.sample_latent({}, torch.zeros(2, dtype=torch.long), 2, which="latent")
    with pytest.raises(ValueError, match="unknown"):
        L.latent_settings(flow_stpes=10)
    with pytest.raises(ValueError, match="coupling="):
        L.train_reflow(TinyUNet((8, 8), in_channels=4), torch.zeros(4, dtype=torch.long), "x", L.latent_settings(), 0,
                       coupling="random")


def test_latent_models_train_and_sample_in_quick_mode(tmp_path, monkeypatch):
    monkeypatch.setattr(config, "BUILD_DIR", tmp_path)
    monkeypatch.setattr(config, "QUICK", True)
    tiny = dict(n_train=64, ae_steps=2, flow_steps=2, pixel_steps=2, pairs=16, pair_calls=2, reflow_steps=2)
    models = L.latent_models("mnist", 0, "cpu", **tiny)
    assert models["latents"].shape == (64, 4, 7, 7)
    assert abs(models["latents"].std().item() - 1) < 1e-4          # the scale factor gives unit scale
    labels = torch.arange(4)
    for which, calls in (("flow", 2), ("reflow", 1), ("pixel", 2)):
        x = L.sample_latent(models, labels, calls, which, generator=torch.Generator().manual_seed(0))
        assert x.shape == (4, 1, 28, 28) and 0 <= x.min() and x.max() <= 1
    again = L.latent_models("mnist", 0, "cpu", **tiny)              # loaded from the checkpoints just written
    for name in ("ae", "flow", "reflow", "pixel"):
        for p, q in zip(models[name].parameters(), again[name].parameters()):
            assert torch.equal(p, q)
