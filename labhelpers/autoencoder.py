"""Autoencoders: the MLP autoencoder, its loss, PCA and the few-label probe (02)

GENERATED from notebooks/02_autoencoder.ipynb by `python tools/nbtool.py export`: do not edit by hand.
Edit the cells tagged `export` in the notebook and run the export again (the pre-commit hook does).
"""
# ruff: noqa: E501

import math

import torch
import torch.nn.functional as F
from torch import nn


class MLPAutoencoder(nn.Module):
    """x -> z = f(x) -> x_hat = g(z) with fully connected layers; `linear=True` drops the nonlinearities (02)."""

    def __init__(self, latent_dim: int, image_shape: tuple[int, int, int] = (1, 28, 28),
                 hidden: tuple[int, ...] = (256, 128), linear: bool = False):
        super().__init__()
        self.image_shape = tuple(image_shape)
        n_pixels = math.prod(image_shape)
        sizes = [n_pixels, *(() if linear else hidden), latent_dim]       # e.g. 784 -> 256 -> 128 -> k
        enc, dec = [nn.Flatten()], []
        for a, b in zip(sizes[:-1], sizes[1:]):
            enc += [nn.Linear(a, b), nn.ReLU()]
        enc = enc[:-1]  # the code z is linear
        rev = sizes[::-1]                                                  # k -> 128 -> 256 -> 784
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


def _as_matrix(x: torch.Tensor, what: str) -> torch.Tensor:
    if not isinstance(x, torch.Tensor) or x.ndim < 2:
        raise ValueError(f"{what}: expected a tensor of shape (N, D) or (N, C, H, W), got "
                         f"{tuple(x.shape) if isinstance(x, torch.Tensor) else type(x).__name__}")
    return x.detach().flatten(1).double()


def pca(x: torch.Tensor, k: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Mean (D,), top-k principal directions (k, D, orthonormal rows) and all component variances, via SVD (02)."""
    x = _as_matrix(x, "pca")
    if not 1 <= k <= min(x.shape):
        raise ValueError(f"pca: k must be between 1 and min(N, D) = {min(x.shape)}, got {k}")
    mean = x.mean(0)
    _, s, vt = torch.linalg.svd(x - mean, full_matrices=False)  # x - mean = U diag(s) V^T
    variances = s ** 2 / len(x)  # eigenvalues of the covariance matrix, largest first
    return mean.float(), vt[:k].float(), variances.float()


def pca_reconstruct(x: torch.Tensor, mean: torch.Tensor, components: torch.Tensor) -> torch.Tensor:
    """Project x onto mean + span(components) and map back, in x's shape: x_hat = mean + (x - mean) V V^T (02)."""
    flat = _as_matrix(x, "pca_reconstruct").float()
    if components.ndim != 2 or components.shape[1] != flat.shape[1] or mean.shape != (flat.shape[1],):
        raise ValueError(f"pca_reconstruct: expected mean ({flat.shape[1]},) and components (k, {flat.shape[1]}), "
                         f"got {tuple(mean.shape)} and {tuple(components.shape)}")
    z = (flat - mean) @ components.T  # (N, k) codes
    return (mean + z @ components).view_as(x)


def few_labels(y: torch.Tensor, per_class: int, generator: torch.Generator | None = None) -> torch.Tensor:
    """Indices of `per_class` random examples of every class in y, sorted (02)."""
    if y.ndim != 1 or per_class < 1:
        raise ValueError(f"few_labels: expected 1-D labels and per_class >= 1, got {tuple(y.shape)} and {per_class}")
    picks = []
    for c in y.unique().tolist():
        idx = torch.nonzero(y == c).flatten()
        if len(idx) < per_class:
            raise ValueError(f"few_labels: class {c} has only {len(idx)} examples, fewer than per_class={per_class}")
        picks.append(idx[torch.randperm(len(idx), generator=generator)[:per_class]])
    return torch.cat(picks).sort().values


class Standardize(nn.Module):
    """Subtract a fixed mean and divide by a fixed standard deviation, feature by feature (02)."""

    def __init__(self, mean: torch.Tensor, std: torch.Tensor):
        super().__init__()
        self.register_buffer("mean", mean)
        self.register_buffer("std", std)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return (x.flatten(1) - self.mean) / self.std


def fit_logistic_regression(features: torch.Tensor, labels: torch.Tensor, weight_decay: float = 1e-2,
                            steps: int = 100) -> nn.Module:
    """Multinomial logistic regression on standardized features, full-batch L-BFGS with an L2 penalty (02)."""
    x = _as_matrix(features, "fit_logistic_regression").float()
    if labels.shape != (len(x),):
        raise ValueError(f"fit_logistic_regression: expected {len(x)} labels, got shape {tuple(labels.shape)}")
    model = nn.Sequential(Standardize(x.mean(0), x.std(0).clamp_min(1e-3)),
                          nn.Linear(x.shape[1], int(labels.max()) + 1))
    nn.init.zeros_(model[1].weight)
    nn.init.zeros_(model[1].bias)  # a convex problem: start at zero, no randomness
    optimizer = torch.optim.LBFGS(model[1].parameters(), max_iter=steps, line_search_fn="strong_wolfe")

    def closure() -> torch.Tensor:
        optimizer.zero_grad()
        loss = F.cross_entropy(model(x), labels) + weight_decay * model[1].weight.pow(2).sum()
        loss.backward()
        return loss

    optimizer.step(closure)
    return model.eval()


# Bad input gets a clear error naming the parameter: the checks live in labhelpers/guards.py, not in the lesson.
from labhelpers.guards import guard_module  # noqa: E402

guard_module(globals())
