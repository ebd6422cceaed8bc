"""Lecture 09's generated module: the forward process, the losses, the samplers and the image helpers."""

from __future__ import annotations

import torch

from labhelpers import diffusion as d


def test_closed_form_matches_the_simulated_chain():
    schedule, g = d.Schedule(), torch.Generator().manual_seed(0)
    x0 = torch.randn(20000, 2, generator=g, dtype=torch.float64) * 2
    x = x0.clone()
    for t in range(1, 301):
        beta = schedule.betas[t - 1]
        x = (1 - beta).sqrt() * x + beta.sqrt() * torch.randn(x.shape, generator=g, dtype=torch.float64)
    closed = d.q_sample(x0, torch.full((len(x0),), 300), schedule, torch.randn(x0.shape, generator=g, dtype=torch.float64))
    ab = schedule.alpha_bar(300).double()
    for sample in (x, closed):
        residual = sample - ab.sqrt() * x0
        assert abs(residual.mean().item()) < 0.02
        assert abs(residual.std().item() / (1 - ab).sqrt().item() - 1) < 0.02
    assert abs(x.std().item() - closed.std().item()) < 0.03


def test_schedule_ends():
    schedule = d.Schedule()
    assert schedule.alpha_bar(0).item() == 1.0
    assert 0 < schedule.alpha_bar(1000).item() < 1e-4
    assert schedule.alpha_bar(torch.tensor([1, 2])).shape == (2,)


def test_shapes_of_the_networks():
    assert d.timestep_embedding(torch.rand(5), 32).shape == (5, 32)
    assert d.ToyDenoiser()(torch.randn(5, 2), torch.rand(5)).shape == (5, 2)
    unet = d.TinyUNet((16, 32))
    assert unet(torch.randn(3, 1, 14, 14), torch.rand(3), torch.tensor([0, 9, 10])).shape == (3, 1, 14, 14)
    assert unet(torch.randn(3, 1, 14, 14), torch.rand(3)).shape == (3, 1, 14, 14)  # no labels


def test_eta_one_step_is_ddpm_algorithm_2():
    schedule, g = d.Schedule(), torch.Generator().manual_seed(1)
    x_t, eps, z = torch.randn(3, 100, 2, generator=g).double()
    t = 400
    beta, ab, ab_prev = schedule.betas[t - 1], schedule.alpha_bars[t - 1], schedule.alpha_bars[t - 2]
    ho = (x_t - beta / (1 - ab).sqrt() * eps) / (1 - beta).sqrt() + ((1 - ab_prev) / (1 - ab) * beta).sqrt() * z
    assert torch.allclose(d.reverse_step(x_t, eps, ab, ab_prev, 1.0, z), ho, atol=1e-10)


def test_ddim_step_with_the_true_noise_recovers_the_marginal():
    schedule = d.Schedule()
    x0, eps = torch.randn(2, 50, 2, generator=torch.Generator().manual_seed(2))
    ab, ab_prev = schedule.alpha_bar(700), schedule.alpha_bar(200)
    x_t = ab.sqrt() * x0 + (1 - ab).sqrt() * eps
    x_s = d.reverse_step(x_t, eps, ab, ab_prev, 0.0, torch.randn_like(x0))  # eta = 0 ignores the noise
    assert torch.allclose(x_s, ab_prev.sqrt() * x0 + (1 - ab_prev).sqrt() * eps, atol=1e-5)
    assert torch.allclose(d.reverse_step(x_t, eps, ab, schedule.alpha_bar(0), 0.0, eps), x0, atol=1e-4)


def test_samplers_return_the_requested_shape_and_path():
    net = d.ToyDenoiser()
    schedule = d.Schedule()
    g = torch.Generator().manual_seed(0)
    assert d.sample_diffusion(net, (7, 2), schedule, 5, 0.0, generator=g).shape == (7, 2)
    assert d.sample_diffusion(net, (7, 2), schedule, 5, 1.0, generator=g, return_path=True).shape == (6, 7, 2)
    assert d.sample_flow(net, (7, 2), 4, generator=g, return_path=True).shape == (5, 7, 2)
    assert d.sampling_times(schedule, 5) == [1000, 750, 500, 251, 1]


def test_losses_are_zero_for_the_exact_answer():
    class NoiseOracle(torch.nn.Module):  # knows x_0 = 0, so eps = x_t / sqrt(1 - alpha_bar_t)
        def __init__(self):
            super().__init__()
            self.schedule = d.Schedule()

        def forward(self, x, t, y=None):
            ab = self.schedule.alpha_bar((t * 1000).round().long()).view(-1, 1)
            return x / (1 - ab).sqrt()

    x0 = torch.zeros(256, 2)
    g = torch.Generator().manual_seed(0)
    assert d.ddpm_loss(NoiseOracle(), x0, d.Schedule(), g).item() < 1e-8

    class VelocityOracle(torch.nn.Module):  # one data point at the origin: v = -x / (1 - t)
        def forward(self, x, t, y=None):
            return -x / (1 - t[:, None])

    assert d.flow_matching_loss(VelocityOracle(), x0, g).item() < 1e-8


def test_guidance_combines_conditional_and_unconditional():
    class Lookup(torch.nn.Module):
        num_classes = 10

        def forward(self, x, t, y):
            return torch.where(y[:, None] == 10, torch.zeros_like(x), torch.ones_like(x))

    x, t, y = torch.zeros(4, 2), torch.rand(4), torch.arange(4)
    assert torch.equal(d.guided(Lookup(), x, t, y, 0.0), torch.ones(4, 2))
    assert torch.equal(d.guided(Lookup(), x, t, y, 2.0), 3 * torch.ones(4, 2))


def test_sample_images_range_and_size():
    torch.manual_seed(0)
    net = d.TinyUNet((16, 32))
    g = torch.Generator().manual_seed(0)
    x = d.sample_images(net, 4, "ddim", 3, generator=g)
    assert x.shape == (4, 1, d.IMAGE_SIZE, d.IMAGE_SIZE) and x.min() >= 0 and x.max() <= 1
    assert d.sample_images(net, 2, "euler", 2, generator=g, size=28).shape == (2, 1, 28, 28)
    labels = torch.tensor([3, 7])
    assert d.sample_images(net, 2, "ddpm", 2, labels=labels, guidance=1.0, generator=g).shape == (2, 1, 14, 14)


def test_full_chain_visits_every_step_and_is_ddpm():
    """The 1,000-step reference of section 8 is Ho et al.'s full chain: every t from T down to 1, eta = 1."""
    schedule = d.Schedule()
    assert d.sampling_times(schedule, schedule.num_steps) == list(range(schedule.num_steps, 0, -1))

    class Zero(torch.nn.Module):  # eps_theta = 0: each step shrinks x by 1 / sqrt(alpha_t) and adds sqrt(beta_tilde_t) z
        def __init__(self):
            super().__init__()
            self.w = torch.nn.Parameter(torch.zeros(1))

        def forward(self, x, t, y=None):
            return torch.zeros_like(x)

    g1, g2 = torch.Generator().manual_seed(5), torch.Generator().manual_seed(5)
    T = 30
    small = d.Schedule(T, 1e-3, 0.2)
    got = d.sample_diffusion(Zero(), (8, 2), small, T, 1.0, generator=g1).double()
    x = torch.randn(8, 2, generator=g2).double()
    for t in range(T, 0, -1):  # Ho et al.'s Algorithm 2 with eps_theta = 0
        beta, ab = small.betas[t - 1], small.alpha_bars[t - 1]
        ab_prev = small.alpha_bars[t - 2] if t > 1 else torch.tensor(1.0, dtype=torch.float64)
        z = torch.randn(8, 2, generator=g2).double()
        x = x / (1 - beta).sqrt() + ((1 - ab_prev) / (1 - ab) * beta).sqrt() * z
    assert torch.allclose(got, x, atol=1e-4)
