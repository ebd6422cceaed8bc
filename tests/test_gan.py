"""Unit tests for labhelpers.gan (06): ring sampler, mode metrics, networks, one alternating step."""

import math

import pytest
import torch

from labhelpers.gan import (
    Discriminator,
    Generator,
    MLPDiscriminator,
    MLPGenerator,
    PackedDiscriminator,
    discriminator_loss,
    gan_step,
    generator_loss,
    high_quality_fraction,
    modes_covered,
    ring_centers,
    sample_ring,
)


def test_ring_centers_lie_on_the_circle():
    c = ring_centers(8, radius=2.0)
    assert c.shape == (8, 2)
    torch.testing.assert_close(c.norm(dim=1), torch.full((8,), 2.0))
    torch.testing.assert_close(c[0], torch.tensor([2.0, 0.0]))
    torch.testing.assert_close(c[2], torch.tensor([0.0, 2.0]), atol=1e-6, rtol=0)


def test_sample_ring_is_seeded_and_near_the_centers():
    a = sample_ring(1000, sigma=0.05, generator=torch.Generator().manual_seed(0))
    b = sample_ring(1000, sigma=0.05, generator=torch.Generator().manual_seed(0))
    assert torch.equal(a, b) and a.shape == (1000, 2)
    assert high_quality_fraction(a, ring_centers(), sigma=0.05) > 0.98  # 3 sigma in 2-D holds 98.9%
    assert modes_covered(a, ring_centers(), sigma=0.05) == 8


def test_samples_exactly_at_the_centers_cover_all_modes():
    c = ring_centers()
    assert modes_covered(c, c, sigma=0.02) == 8
    assert high_quality_fraction(c, c, sigma=0.02) == 1.0


def test_collapsed_samples_cover_one_mode():
    c = ring_centers()
    s = c[3].repeat(50, 1)
    assert modes_covered(s, c, sigma=0.02) == 1
    far = torch.zeros(10, 2)  # the ring's center: 2 away from every mode
    assert high_quality_fraction(torch.cat([s, far]), c, sigma=0.02) == pytest.approx(50 / 60)
    assert modes_covered(torch.cat([s, far]), c, sigma=0.02, min_count=51) == 0


def test_mode_metrics_reject_bad_shapes():
    with pytest.raises(ValueError, match="expected samples"):
        modes_covered(torch.zeros(5, 3), ring_centers(), sigma=0.1)


def test_generator_losses_known_values():
    logits = torch.zeros(4)  # D(G(z)) = 1/2
    assert generator_loss(logits, "nonsaturating").item() == pytest.approx(math.log(2))
    assert generator_loss(logits, "minimax").item() == pytest.approx(-math.log(2))
    assert discriminator_loss(logits, logits).item() == pytest.approx(2 * math.log(2))
    with pytest.raises(ValueError, match="nonsaturating"):
        generator_loss(logits, "wasserstein")


def test_mlp_nets_shapes():
    G, D = MLPGenerator(latent_dim=3), MLPDiscriminator()
    assert G(torch.randn(5, 3)).shape == (5, 2)
    assert D(torch.randn(5, 2)).shape == (5,)


@pytest.mark.parametrize("num_classes", [None, 10])
def test_dcgan_shapes(num_classes):
    G, D = Generator(16, num_classes=num_classes, width=8), Discriminator(num_classes=num_classes, width=8)
    y = None if num_classes is None else torch.arange(4)
    x = G(torch.randn(4, 16), y)
    assert x.shape == (4, 1, 28, 28) and 0 <= x.min() and x.max() <= 1
    assert D(x, y).shape == (4,)


def test_conditional_nets_require_labels():
    with pytest.raises(ValueError, match="labels"):
        Generator(16, num_classes=10, width=8)(torch.randn(2, 16))


@pytest.mark.parametrize("loss", ["nonsaturating", "minimax"])
def test_gan_step_changes_both_networks(loss):
    torch.manual_seed(0)
    G, D = MLPGenerator(latent_dim=2, hidden=16), MLPDiscriminator(hidden=16)
    opt_g, opt_d = torch.optim.Adam(G.parameters(), 1e-3), torch.optim.Adam(D.parameters(), 1e-3)
    g0 = [p.detach().clone() for p in G.parameters()]
    d0 = [p.detach().clone() for p in D.parameters()]
    loss_d, loss_g = gan_step(G, D, opt_g, opt_d, sample_ring(32), torch.randn(32, 2), loss=loss)
    assert isinstance(loss_d, float) and isinstance(loss_g, float)
    assert math.isfinite(loss_d) and math.isfinite(loss_g) and loss_d > 0
    assert any(not torch.equal(a, b) for a, b in zip(g0, G.parameters()))
    assert any(not torch.equal(a, b) for a, b in zip(d0, D.parameters()))


def test_gan_step_conditional_dcgan():
    torch.manual_seed(0)
    G, D = Generator(8, num_classes=10, width=8), Discriminator(num_classes=10, width=8)
    opt_g, opt_d = torch.optim.Adam(G.parameters(), 2e-4), torch.optim.Adam(D.parameters(), 2e-4)
    y = torch.arange(8) % 10
    loss_d, loss_g = gan_step(G, D, opt_g, opt_d, torch.rand(8, 1, 28, 28), torch.randn(8, 8), y)
    assert math.isfinite(loss_d) and math.isfinite(loss_g)


def test_gan_step_rejects_mismatched_batches():
    G, D = MLPGenerator(), MLPDiscriminator()
    opt = torch.optim.SGD(G.parameters(), 0.1)
    with pytest.raises(ValueError, match="same batch size"):
        gan_step(G, D, opt, opt, torch.zeros(4, 2), torch.zeros(3, 2))


def test_packed_discriminator_judges_groups_of_samples():
    torch.manual_seed(0)
    D = PackedDiscriminator(pack=2)
    x = torch.randn(6, 2)
    logits = D(x)
    assert logits.shape == (3,)
    # the first logit depends on the first pair only, and on both of its members
    torch.testing.assert_close(D.net(x[:2].reshape(1, 4)), logits[:1])
    with pytest.raises(ValueError, match="divisible"):
        D(torch.randn(5, 2))
    G = MLPGenerator(hidden=8, depth=2)
    opt_g, opt_d = torch.optim.Adam(G.parameters(), 1e-3), torch.optim.Adam(D.parameters(), 1e-3)
    loss_d, loss_g = gan_step(G, D, opt_g, opt_d, torch.randn(8, 2), torch.randn(8, 2))
    assert math.isfinite(loss_d) and math.isfinite(loss_g)


def test_conditional_gan_is_trained_once_then_loaded_and_retrained_when_a_setting_changes(monkeypatch, tmp_path, capsys):
    """06 saves its conditional GAN; 10 loads exactly that model, and a changed setting never loads stale weights."""
    from labhelpers import config
    from labhelpers.gan import train_or_load_conditional_gan

    monkeypatch.setattr(config, "BUILD_DIR", tmp_path)
    kw = dict(latent_dim=8, width_g=8, width_d=8)
    G1 = train_or_load_conditional_gan("mnist", seed=3, steps=2, n_train=64, **kw)
    assert "trained and saved" in capsys.readouterr().out
    assert not G1.training and G1.num_classes == 10
    G2 = train_or_load_conditional_gan("mnist", seed=3, steps=2, n_train=64, **kw)
    assert "loaded weights" in capsys.readouterr().out
    for a, b in zip(G1.state_dict().values(), G2.state_dict().values()):
        torch.testing.assert_close(a, b, rtol=0, atol=0)
    z, y = torch.randn(4, 8), torch.tensor([0, 3, 7, 9])
    with torch.no_grad():
        torch.testing.assert_close(G1(z, y), G2(z, y))
    train_or_load_conditional_gan("mnist", seed=3, steps=3, n_train=64, **kw)   # one more step: trains afresh
    assert "trained and saved" in capsys.readouterr().out
    train_or_load_conditional_gan("mnist", seed=4, steps=2, n_train=64, **kw)   # another seed: trains afresh
    assert "trained and saved" in capsys.readouterr().out
