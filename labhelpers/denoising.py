"""Corruption processes, PSNR, the denoising loss, the linear denoiser baseline and the Gaussian-mixture score for Tweedie's formula (04)

GENERATED from notebooks/04_denoising_autoencoder.ipynb by `python tools/nbtool.py export`: do not edit by hand.
Edit the cells tagged `export` in the notebook and run the export again (the pre-commit hook does).
"""
# ruff: noqa: E501

import math

import torch
import torch.nn.functional as F
from torch import nn


def _check_prob(name: str, p: float) -> float:
    p = float(p)
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"{name}: expected a probability p in [0, 1], got {p}")
    return p


def _uniform(x: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
    """Uniform [0, 1) noise shaped like x, drawn on the generator's device and moved to x's."""
    device = generator.device if generator is not None else x.device
    return torch.rand(x.shape, generator=generator, device=device, dtype=x.dtype).to(x.device)


def gaussian_noise(x: torch.Tensor, sigma: float, generator: torch.Generator | None = None) -> torch.Tensor:
    """x + sigma * N(0, 1) per pixel, clamped to [0, 1] (04)."""
    sigma = float(sigma)
    if sigma < 0:
        raise ValueError(f"gaussian_noise: expected a noise level sigma >= 0, got {sigma}")
    device = generator.device if generator is not None else x.device
    noise = torch.randn(x.shape, generator=generator, device=device, dtype=x.dtype).to(x.device)
    return (x + sigma * noise).clamp(0.0, 1.0)


def salt_and_pepper(x: torch.Tensor, p: float, generator: torch.Generator | None = None) -> torch.Tensor:
    """Each pixel, with probability p, replaced by 0 or 1 (equally likely); the rest kept (04)."""
    p = _check_prob("salt_and_pepper", p)
    u = _uniform(x, generator)
    out = x.clone()
    out[u < p / 2] = 0.0                      # pepper
    out[(u >= p / 2) & (u < p)] = 1.0         # salt
    return out


def masking(x: torch.Tensor, p: float, generator: torch.Generator | None = None) -> torch.Tensor:
    """Each pixel set to 0 with probability p (masking noise / pixel dropout without rescaling) (04)."""
    p = _check_prob("masking", p)
    return x * (_uniform(x, generator) >= p).to(x.dtype)


CORRUPTIONS = {"gaussian": gaussian_noise, "salt_and_pepper": salt_and_pepper, "masking": masking}


def corrupt(x: torch.Tensor, kind: str, level: float, generator: torch.Generator | None = None) -> torch.Tensor:
    """Apply the corruption named `kind` ("gaussian", "salt_and_pepper", "masking") at `level` (04)."""
    if kind not in CORRUPTIONS:
        raise ValueError(f"corrupt: unknown kind {kind!r}; valid kinds: {', '.join(CORRUPTIONS)}")
    return CORRUPTIONS[kind](x, level, generator=generator)


def psnr(x_hat: torch.Tensor, x: torch.Tensor, max_value: float = 1.0) -> torch.Tensor:
    """Peak signal-to-noise ratio in dB per image, 10 log10(max^2 / MSE), for images in [0, max] (04)."""
    if x_hat.shape != x.shape:
        raise ValueError(f"psnr: x_hat and x must have the same shape, got {tuple(x_hat.shape)} and {tuple(x.shape)}")
    if x.max() > max_value * 1.001:  # the clean reference must lie in [0, max_value]
        raise ValueError(f"psnr: the reference x reaches {x.max().item():.3g} but max_value is "
                         f"{max_value}; pass max_value=255 for 0..255 images or divide them by 255")
    mse = (x_hat - x).pow(2).flatten(1).mean(1).clamp_min(1e-12)
    return 10 * torch.log10(max_value ** 2 / mse)


def denoising_loss(model: nn.Module, x: torch.Tensor, kind: str = "gaussian", level: float = 0.3,
                   generator: torch.Generator | None = None) -> torch.Tensor:
    """DAE loss: MSE between the clean batch x and the model's output on a fresh corruption of it (04)."""
    x_tilde = corrupt(x, kind, level, generator=generator)      # a fresh corruption of the batch
    return F.mse_loss(model(x_tilde), x)                        # scored against the clean x


def clipped_noise_moments(x: torch.Tensor, sigma: float) -> tuple[torch.Tensor, torch.Tensor]:
    """Mean and variance of clip(x + sigma * eps, 0, 1), eps ~ N(0, 1), per pixel: a censored Gaussian (04)."""
    sigma = float(sigma)
    if sigma <= 0:
        raise ValueError(f"clipped_noise_moments: expected a noise level sigma > 0, got {sigma}")
    x = x.double()
    a, b = -x / sigma, (1 - x) / sigma                      # where x + sigma * eps hits 0 and 1
    cdf_a, cdf_b = torch.special.ndtr(a), torch.special.ndtr(b)
    pdf_a, pdf_b = (-a ** 2 / 2).exp() / math.sqrt(2 * math.pi), (-b ** 2 / 2).exp() / math.sqrt(2 * math.pi)
    inside = cdf_b - cdf_a                                  # P(0 < x + sigma * eps < 1)
    mean = (1 - cdf_b) + x * inside + sigma * (pdf_a - pdf_b)
    second = (1 - cdf_b) + x ** 2 * inside + 2 * x * sigma * (pdf_a - pdf_b) \
        + sigma ** 2 * (inside + a * pdf_a - b * pdf_b)
    return mean, (second - mean ** 2).clamp_min(0)


def best_linear_denoiser(x_clean: torch.Tensor, sigma: float, clipped: bool = True) -> dict[str, torch.Tensor]:
    """Linear MMSE denoiser x_hat = mean + (x_noisy - noisy_mean) @ W for Gaussian noise sigma (04).

    The expectation over the noise is taken in closed form, as if fitted on infinitely many noisy copies of
    each image. clipped=True: noise clipped to [0, 1] like gaussian_noise; clipped=False: the textbook
    Wiener filter W = (Sigma + sigma^2 I)^-1 Sigma (symmetric, so also Sigma (Sigma + sigma^2 I)^-1).
    """
    sigma = float(sigma)
    if sigma <= 0:
        raise ValueError(f"best_linear_denoiser: expected a noise level sigma > 0, got {sigma}")
    x = x_clean.flatten(1).double().cpu()                                  # (N, D)
    if clipped:
        m, v = clipped_noise_moments(x, sigma)                             # E and Var of the noisy pixel given x
    else:
        m, v = x, torch.full_like(x, sigma ** 2)
    clean_mean, noisy_mean = x.mean(0), m.mean(0)
    dm = m - noisy_mean
    c_noisy = dm.T @ dm / len(x) + torch.diag(v.mean(0))                   # Cov(x_noisy): signal part + noise
    c_cross = dm.T @ (x - clean_mean) / len(x)                             # Cov(x_noisy, x)
    W = torch.linalg.solve(c_noisy, c_cross)                               # (D, D)
    return {"W": W, "noisy_mean": noisy_mean, "clean_mean": clean_mean}


def apply_linear(denoiser: dict[str, torch.Tensor], x_noisy: torch.Tensor) -> torch.Tensor:
    """A best_linear_denoiser's output, clipped to [0, 1], in x_noisy's shape and dtype (04)."""
    d = denoiser
    x_hat = (x_noisy.flatten(1).double().cpu() - d["noisy_mean"]) @ d["W"] + d["clean_mean"]
    return x_hat.clamp(0, 1).to(x_noisy.dtype).view(x_noisy.shape).to(x_noisy.device)


def mixture_score(x: torch.Tensor, means: torch.Tensor, s: float, sigma: float) -> torch.Tensor:
    """Score grad log p_sigma(x) of an equal-weight Gaussian mixture N(mu_k, s^2 I) blurred by noise sigma (04)."""
    var = s ** 2 + sigma ** 2
    logits = -(x[:, None, :] - means[None]).pow(2).sum(-1) / (2 * var)       # (N, K)
    w = logits.softmax(1)                                                     # responsibilities w_k(x)
    return (w[..., None] * (means[None] - x[:, None, :])).sum(1) / var       # (N, D)


def mixture_posterior_mean(x_noisy: torch.Tensor, means: torch.Tensor, s: float, sigma: float) -> torch.Tensor:
    """E[x | x_noisy] for x from the mixture and x_noisy = x + sigma * eps, computed per component (04)."""
    var = s ** 2 + sigma ** 2
    w = (-(x_noisy[:, None, :] - means[None]).pow(2).sum(-1) / (2 * var)).softmax(1)          # (N, K)
    shrunk = means[None] + (s ** 2 / var) * (x_noisy[:, None, :] - means[None])              # (N, K, D)
    return (w[..., None] * shrunk).sum(1)


# Bad input gets a clear error naming the parameter: the checks live in labhelpers/guards.py, not in the lesson.
from labhelpers.guards import guard_module  # noqa: E402

guard_module(globals())
