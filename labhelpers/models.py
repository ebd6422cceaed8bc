"""Architectures that several notebooks share: the MLP autoencoder (02) and a small digit classifier (01, 06, 08)."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from .training import fit, predict


class MLPAutoencoder(nn.Module):
    """x -> z = f(x) -> x_hat = g(z) with fully connected layers; `linear=True` drops the nonlinearities (02)."""

    def __init__(self, latent_dim: int, image_shape: tuple[int, int, int] = (1, 28, 28),
                 hidden: tuple[int, ...] = (256, 128), linear: bool = False):
        super().__init__()
        self.image_shape = tuple(image_shape)
        n_pixels = math.prod(image_shape)
        sizes = [n_pixels, *(() if linear else hidden), latent_dim]
        enc, dec = [nn.Flatten()], []
        for a, b in zip(sizes[:-1], sizes[1:]):
            enc += [nn.Linear(a, b), nn.ReLU()]
        enc = enc[:-1]  # the code z is linear
        rev = sizes[::-1]
        for a, b in zip(rev[:-1], rev[1:]):
            dec += [nn.Linear(a, b), nn.ReLU()]
        dec = dec[:-1] + ([] if linear else [nn.Sigmoid()])  # pixels in [0, 1]
        self.encoder, self.decoder = nn.Sequential(*enc), nn.Sequential(*dec)

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        return self.encoder(x)  # (B, C, H, W) -> (B, latent_dim)

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        return self.decoder(z).view(-1, *self.image_shape)  # (B, latent_dim) -> (B, C, H, W)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.decode(self.encode(x))


def reconstruction_loss(model: nn.Module, x: torch.Tensor, *_) -> torch.Tensor:
    """Mean squared error between x and model(x), averaged over pixels and batch (02)."""
    return F.mse_loss(model(x), x)


class SmallCNN(nn.Module):
    """A compact digit classifier; `features(x)` gives the 128-d embedding used for FID/KID (01, 06, 08)."""

    def __init__(self, in_channels: int = 1, num_classes: int = 10, image_size: int = 28):
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(in_channels, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),  # (B, 32, H/2, W/2)
            nn.Conv2d(32, 64, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),           # (B, 64, H/4, W/4)
            nn.Flatten(), nn.Linear(64 * (image_size // 4) ** 2, 128), nn.ReLU(),   # (B, 128)
        )
        self.head = nn.Linear(128, num_classes)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.body(x))


def train_classifier(x: torch.Tensor, y: torch.Tensor, num_epochs: int = 3, batch_size: int = 128,
                     lr: float = 1e-3, generator: torch.Generator | None = None) -> SmallCNN:
    """Train a SmallCNN on (x, y) with cross-entropy and return it in eval mode (01, 06, 08)."""
    model = SmallCNN(in_channels=x.shape[1], image_size=x.shape[-1])
    fit(model, lambda m, xb, yb: F.cross_entropy(m(xb), yb), x, y, num_epochs=num_epochs,
        batch_size=batch_size, lr=lr, generator=generator, desc="classifier")
    return model


def classify(model: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """Predicted labels of `model` on `x`, in batches without gradients (06, 08)."""
    return predict(model, x).argmax(1)


def fit_gaussian(z: torch.Tensor, ridge: float = 1e-4) -> torch.distributions.MultivariateNormal:
    """Maximum-likelihood full-covariance Gaussian of the rows of z (N x D), with a small ridge (01, 02, 08)."""
    if z.ndim != 2 or len(z) < 2:
        raise ValueError(f"fit_gaussian: expected at least 2 samples as an (N, D) tensor, got {tuple(z.shape)}")
    z = z.detach().double()
    mean = z.mean(0)
    centered = z - mean
    cov = centered.T @ centered / len(z) + ridge * torch.eye(z.shape[1], dtype=z.dtype)
    return torch.distributions.MultivariateNormal(mean, covariance_matrix=cov)
