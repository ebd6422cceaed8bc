"""Unit tests of the corruptions in labhelpers.denoising (generated from notebook 04): known statistics, ranges, seeding, bad input."""

import pytest
import torch

from labhelpers.denoising import (
    apply_linear,
    best_linear_denoiser,
    clipped_noise_moments,
    corrupt,
    gaussian_noise,
    masking,
    salt_and_pepper,
)


def _images(n=64, value=None):
    g = torch.Generator().manual_seed(0)
    return torch.full((n, 1, 28, 28), value) if value is not None else torch.rand(n, 1, 28, 28, generator=g)


def test_gaussian_noise_statistics_and_range():
    x = _images(value=0.5)
    y = gaussian_noise(x, 0.1, generator=torch.Generator().manual_seed(1))
    assert y.shape == x.shape
    assert (y - x).std().item() == pytest.approx(0.1, rel=0.02)  # 0.5 +- 0.1: clamping almost never bites
    assert abs((y - x).mean().item()) < 0.002
    z = gaussian_noise(_images(), 2.0)
    assert z.min() >= 0 and z.max() <= 1
    assert torch.equal(gaussian_noise(x, 0.0), x)


def test_salt_and_pepper_fractions():
    x = _images(value=0.5)
    y = salt_and_pepper(x, 0.2, generator=torch.Generator().manual_seed(2))
    n = x.numel()
    assert (y == 0).sum().item() / n == pytest.approx(0.1, abs=0.005)
    assert (y == 1).sum().item() / n == pytest.approx(0.1, abs=0.005)
    assert ((y == 0.5).sum().item() / n) == pytest.approx(0.8, abs=0.005)
    assert torch.equal(salt_and_pepper(x, 0.0), x)
    assert set(salt_and_pepper(x, 1.0).unique().tolist()) <= {0.0, 1.0}


def test_masking_fraction_and_keeps_values():
    x = _images()
    y = masking(x, 0.3, generator=torch.Generator().manual_seed(3))
    kept = y != 0
    assert 1 - kept.float().mean().item() == pytest.approx(0.3, abs=0.01)
    assert torch.equal(y[kept], x[kept])
    assert torch.equal(masking(x, 1.0), torch.zeros_like(x))


@pytest.mark.parametrize("fn,level", [(gaussian_noise, 0.3), (salt_and_pepper, 0.3), (masking, 0.3)])
def test_seeded_and_input_untouched(fn, level):
    x = _images(8)
    x0 = x.clone()
    a = fn(x, level, generator=torch.Generator().manual_seed(7))
    b = fn(x, level, generator=torch.Generator().manual_seed(7))
    c = fn(x, level, generator=torch.Generator().manual_seed(8))
    assert torch.equal(a, b) and not torch.equal(a, c)
    assert torch.equal(x, x0)


def test_bad_levels_raise():
    x = _images(2)
    with pytest.raises(ValueError, match="sigma must be a finite number >= 0"):
        gaussian_noise(x, -0.1)
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        salt_and_pepper(x, 1.5)
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        masking(x, -0.01)
    with pytest.raises(ValueError, match="kind='blur' is not one of"):
        corrupt(x, "blur", 0.1)
    assert torch.equal(corrupt(x, "masking", 0.0), x)


def test_clipped_noise_moments_match_sampling():
    x = torch.tensor([0.0, 0.02, 0.3, 0.5, 0.99, 1.0], dtype=torch.float64)
    mean, var = clipped_noise_moments(x, 0.4)
    draws = (x + 0.4 * torch.randn(200_000, len(x), generator=torch.Generator().manual_seed(0),
                                   dtype=torch.float64)).clamp(0, 1)
    assert (mean - draws.mean(0)).abs().max() < 3e-3
    assert (var - draws.var(0)).abs().max() < 3e-3
    with pytest.raises(ValueError, match="sigma"):
        clipped_noise_moments(x, 0.0)


def test_best_linear_denoiser_unclipped_is_wiener_filter():
    g = torch.Generator().manual_seed(0)
    x = torch.rand(300, 1, 4, 4, generator=g)
    d = best_linear_denoiser(x, 0.2, clipped=False)
    flat = x.flatten(1).double()
    cov = (flat - flat.mean(0)).T @ (flat - flat.mean(0)) / len(flat)
    wiener = cov @ torch.linalg.inv(cov + 0.04 * torch.eye(16, dtype=torch.float64))
    assert torch.allclose(d["W"], wiener.T, atol=1e-10)
    assert torch.allclose(d["noisy_mean"], d["clean_mean"])
    x_noisy = gaussian_noise(x, 0.2, generator=g)
    before = x_noisy.clone()
    out = apply_linear(best_linear_denoiser(x, 0.2), x_noisy)
    assert torch.equal(before, x_noisy) and out.shape == x.shape and out.dtype == x.dtype
    assert 0 <= out.min() and out.max() <= 1
    # clipping-aware beats the Wiener filter on clipped noise (it is the MMSE linear map for it)
    mse = lambda d: (apply_linear(d, x_noisy) - x).pow(2).mean()
    assert mse(best_linear_denoiser(x, 0.2)) < mse(d)
