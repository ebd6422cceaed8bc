import math

import numpy as np
import pytest
import scipy.linalg
import torch
from torch import nn

from labhelpers.evaluation import (
    choose_parzen_sigma,
    fid,
    frechet_distance,
    iwae_bound,
    kid,
    mmd,
    parzen_log_likelihood,
    precision_recall,
)


def _gauss(n, mean, std, seed):
    g = torch.Generator().manual_seed(seed)
    return torch.as_tensor(mean, dtype=torch.float64) + torch.as_tensor(std, dtype=torch.float64) * \
        torch.randn(n, len(mean), generator=g, dtype=torch.float64)


def test_frechet_distance_one_dimensional_closed_form():
    # 1-D: (m1 - m2)^2 + (s1 - s2)^2
    d = frechet_distance(torch.tensor([1.0]), torch.tensor([[4.0]]), torch.tensor([-1.0]), torch.tensor([[1.0]]))
    assert d == pytest.approx(4.0 + 1.0, abs=1e-9)


def test_frechet_distance_matches_scipy_sqrtm_for_non_commuting_covariances():
    g = torch.Generator().manual_seed(0)
    a, b = torch.randn(4, 4, generator=g, dtype=torch.float64), torch.randn(4, 4, generator=g, dtype=torch.float64)
    c1, c2 = a @ a.T + 0.1 * torch.eye(4, dtype=torch.float64), b @ b.T + 0.1 * torch.eye(4, dtype=torch.float64)
    mu1, mu2 = torch.randn(4, generator=g, dtype=torch.float64), torch.randn(4, generator=g, dtype=torch.float64)
    covmean = scipy.linalg.sqrtm(c1.numpy() @ c2.numpy()).real
    expected = float(((mu1 - mu2) ** 2).sum()) + float(np.trace(c1.numpy() + c2.numpy() - 2 * covmean))
    assert frechet_distance(mu1, c1, mu2, c2) == pytest.approx(expected, rel=1e-6)


def test_fid_of_a_set_with_itself_is_zero():
    x = _gauss(500, [0.0] * 8, [1.0] * 8, seed=1)
    assert abs(fid(x, x)) < 1e-6


def test_fid_between_two_gaussian_samples_matches_closed_form():
    mean_a, std_a = [0.0, 0.0, 0.0], [1.0, 2.0, 0.5]
    mean_b, std_b = [1.0, -1.0, 0.0], [1.5, 1.0, 0.5]
    a, b = _gauss(50_000, mean_a, std_a, 2), _gauss(50_000, mean_b, std_b, 3)
    # diagonal covariances: |mu_a - mu_b|^2 + sum (s_a - s_b)^2
    expected = sum((x - y) ** 2 for x, y in zip(mean_a, mean_b)) + sum((x - y) ** 2 for x, y in zip(std_a, std_b))
    assert fid(a, b) == pytest.approx(expected, abs=0.05)


def test_fid_rejects_mismatched_features():
    with pytest.raises(ValueError, match="same D"):
        fid(torch.zeros(10, 3), torch.zeros(10, 4))


def test_kid_matches_explicit_unbiased_estimator_and_is_near_zero_for_one_distribution():
    a, b = _gauss(6, [0.0, 1.0], [1.0, 1.0], 4), _gauss(5, [1.0, 0.0], [1.0, 1.0], 5)
    k = lambda u, v: (float(u @ v) / 2 + 1) ** 3
    m, n = len(a), len(b)
    expected = (sum(k(a[i], a[j]) for i in range(m) for j in range(m) if i != j) / (m * (m - 1))
                + sum(k(b[i], b[j]) for i in range(n) for j in range(n) if i != j) / (n * (n - 1))
                - 2 * sum(k(a[i], b[j]) for i in range(m) for j in range(n)) / (m * n))
    assert kid(a, b) == pytest.approx(expected, rel=1e-9)
    same = kid(_gauss(2000, [0.0] * 4, [1.0] * 4, 6), _gauss(2000, [0.0] * 4, [1.0] * 4, 7))
    shifted = kid(_gauss(2000, [0.0] * 4, [1.0] * 4, 6), _gauss(2000, [1.0] * 4, [1.0] * 4, 7))
    assert abs(same) < 0.02 and shifted > 0.5


def test_mmd_known_values():
    x = _gauss(100, [0.0, 0.0], [1.0, 1.0], 8)
    assert mmd(x, x, sigma=1.0).item() == pytest.approx(0.0, abs=1e-12)
    # one point each, distance 1, sigma 1: k(a,a) + k(b,b) - 2 k(a,b) = 2 - 2 exp(-1/2)
    value = mmd(torch.tensor([[0.0]]), torch.tensor([[1.0]]), sigma=1.0).item()
    assert value == pytest.approx(2 - 2 * math.exp(-0.5), rel=1e-6)
    two = mmd(torch.tensor([[0.0]]), torch.tensor([[1.0]]), sigma=[1.0, 2.0]).item()
    assert two == pytest.approx(2 - 2 * math.exp(-0.5) + 2 - 2 * math.exp(-1 / 8), rel=1e-6)
    with pytest.raises(ValueError, match="positive"):
        mmd(x, x, sigma=0.0)


def test_mmd_is_differentiable():
    mu = torch.zeros(1, 2, requires_grad=True)
    data = _gauss(200, [2.0, 0.0], [0.5, 0.5], 9).float()
    noise = torch.randn(200, 2, generator=torch.Generator().manual_seed(0))
    mmd(data, mu + noise, sigma=1.0).backward()
    assert mu.grad[0, 0] < 0  # moving the model towards the data lowers the MMD


def test_parzen_single_kernel_is_a_gaussian_density():
    ll = parzen_log_likelihood(torch.zeros(1, 1), torch.tensor([[0.0], [1.0]]), sigma=0.5)
    expected = [-0.5 * math.log(2 * math.pi * 0.25) - x ** 2 / (2 * 0.25) for x in (0.0, 1.0)]
    assert torch.allclose(ll, torch.tensor(expected, dtype=ll.dtype), atol=1e-9)


def test_parzen_of_a_gaussian_sample_approaches_the_analytic_density():
    samples = _gauss(50_000, [0.0], [1.0], 10)
    test = torch.linspace(-2, 2, 9, dtype=torch.float64)[:, None]
    sigma = 0.25  # relative noise of the estimate ~ 1/sqrt(N p(x) 2 sigma sqrt(pi)) ~ 2% at |x| = 2
    ll = parzen_log_likelihood(samples, test, sigma)
    var = 1 + sigma ** 2  # a KDE of N(0,1) has the density of N(0, 1 + sigma^2) in expectation
    analytic = -0.5 * math.log(2 * math.pi * var) - test[:, 0] ** 2 / (2 * var)
    assert torch.allclose(ll, analytic, atol=0.06), (ll - analytic).abs().max()


def test_choose_parzen_sigma_picks_the_best_validation_score():
    train, val = _gauss(2000, [0.0], [1.0], 11), _gauss(500, [0.0], [1.0], 12)
    sigma, scores = choose_parzen_sigma(train, val, [0.001, 0.01, 0.3, 5.0])
    assert sigma == max(scores, key=scores.get) == 0.3
    assert scores[0.001] < scores[0.3] and scores[5.0] < scores[0.3]


def test_precision_recall_known_cases():
    real = _gauss(300, [0.0, 0.0], [1.0, 1.0], 13)
    assert precision_recall(real, real, k=3) == (1.0, 1.0)
    far = real + 100.0
    assert precision_recall(real, far, k=3) == (0.0, 0.0)
    # samples from one quarter of the data: precise, but they cover little of it
    corner = real[(real[:, 0] > 0.5) & (real[:, 1] > 0.5)]
    p, r = precision_recall(real, corner, k=3)
    assert p == 1.0 and r < 0.5


class _PriorVAE(nn.Module):
    """q(z|x) = p(z) = N(0, I) and a decoder that ignores z: log p(x) is known exactly."""

    def __init__(self, logits):
        super().__init__()
        self.logits = logits

    def encode(self, x):
        return torch.zeros(len(x), 2), torch.zeros(len(x), 2)

    def decode(self, z):
        return self.logits.expand(len(z), -1)


def test_iwae_is_exact_when_the_posterior_is_the_prior():
    logits = torch.tensor([[0.0, 2.0, -1.0]])
    x = torch.tensor([[1.0, 1.0, 0.0], [0.0, 1.0, 1.0]])
    exact = -torch.nn.functional.binary_cross_entropy_with_logits(logits.expand(2, -1), x, reduction="none").sum(1)
    for k in (1, 10):
        assert torch.allclose(iwae_bound(_PriorVAE(logits), x, k), exact, atol=1e-5)


def test_iwae_k1_equals_elbo_in_expectation_and_grows_with_k():
    from labhelpers.vae import VAE, negative_elbo

    torch.manual_seed(0)
    model = VAE(latent_dim=4, hidden=32, image_shape=(1, 4, 4))
    x = (torch.rand(50, 1, 4, 4, generator=torch.Generator().manual_seed(1)) > 0.5).float()
    g = torch.Generator().manual_seed(2)
    x_rep = x.repeat(40, 1, 1, 1)  # many draws per image
    elbo = -negative_elbo(model, x_rep, generator=g).mean().item()
    iwae1 = iwae_bound(model, x_rep, 1, generator=g).mean().item()
    iwae50 = iwae_bound(model, x_rep, 50, generator=g).mean().item()
    assert iwae1 == pytest.approx(elbo, abs=0.05)
    assert iwae50 > iwae1 + 0.05


def test_iwae_with_a_given_prior():
    """prior=N(0, I) reproduces the default; another prior changes log p(z), and so the bound, by a known amount."""
    from labhelpers.vae import VAE

    torch.manual_seed(0)
    model = VAE(latent_dim=3, hidden=16, image_shape=(1, 3, 3))
    x = (torch.rand(20, 1, 3, 3, generator=torch.Generator().manual_seed(1)) > 0.5).float()
    standard = torch.distributions.MultivariateNormal(torch.zeros(3, dtype=torch.float64),
                                                      torch.eye(3, dtype=torch.float64))
    default = iwae_bound(model, x, 5, generator=torch.Generator().manual_seed(2))
    given = iwae_bound(model, x, 5, generator=torch.Generator().manual_seed(2), prior=standard)
    assert torch.allclose(default, given, atol=1e-5)
    # q(z|x) = p(z) = N(0, I) and a decoder that ignores z: with the prior N(0, 4 I) instead, k = 1 gives
    # log p(x) + E_q[log N(z; 0, 4I) - log N(z; 0, I)] = log p(x) - 2 log 2 + 2 * (1 - 1/4) / 2 on average (2-D z)
    wide = torch.distributions.MultivariateNormal(torch.zeros(2, dtype=torch.float64),
                                                  4 * torch.eye(2, dtype=torch.float64))
    logits = torch.tensor([[0.0, 2.0, -1.0]])
    x3 = torch.tensor([[1.0, 1.0, 0.0]]).repeat(20000, 1)
    exact = iwae_bound(_PriorVAE(logits), x3[:1], 1)
    shifted = iwae_bound(_PriorVAE(logits), x3, 1, generator=torch.Generator().manual_seed(0), prior=wide)
    assert shifted.mean().item() == pytest.approx(exact.item() - 2 * math.log(2) + 2 * 0.5 * 0.75, abs=0.02)


def test_iwae_rejects_bad_input():
    with pytest.raises(ValueError, match="k must be"):
        iwae_bound(_PriorVAE(torch.zeros(1, 3)), torch.zeros(1, 3), 0)
    with pytest.raises(ValueError, match="binarized"):
        iwae_bound(_PriorVAE(torch.zeros(1, 3)), torch.full((1, 3), 0.5), 1)


def test_density_and_coverage_are_not_fooled_by_isolated_samples():
    """Naeem et al. 2020: a few real-like samples among far-away outliers inflate k-NN recall (their balls are
    huge) but not coverage, which is built on the real balls only; same-distribution samples get density ~ 1."""
    from labhelpers.evaluation import density_coverage, precision_recall

    g = torch.Generator().manual_seed(0)
    real = torch.randn(400, 8, generator=g)
    same = torch.randn(400, 8, generator=g)
    density, coverage = density_coverage(real, same, k=5)
    assert 0.8 < density < 1.2 and coverage > 0.9
    mixture = torch.cat([torch.randn(3, 8, generator=g), 30 + torch.randn(397, 8, generator=g)])
    _, recall = precision_recall(real, mixture, k=3)
    density, coverage = density_coverage(real, mixture, k=5)
    assert recall > 0.5 and coverage < 0.1 and density < 0.05
    with pytest.raises(ValueError):
        density_coverage(real[:3], same, k=5)
