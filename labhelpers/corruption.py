"""Corruption processes for denoising autoencoders: Gaussian noise, salt-and-pepper, masking (04).

Every function takes images in [0, 1], returns a new tensor of the same shape (the input is not
modified) and draws its randomness from `generator` when one is given, so runs are reproducible.
"""

from __future__ import annotations

import torch


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
