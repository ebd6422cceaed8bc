"""Variational autoencoders: the reparameterization trick, the closed-form KL, the ELBO loss, the models and their training loop (05).

GENERATED from notebooks/05_vae.ipynb by `python tools/nbtool.py export`: do not edit by hand.
Edit the cells tagged `export` in the notebook and run the export again (the pre-commit hook does).
"""
# ruff: noqa: E501

import math

import torch
import torch.nn.functional as F
from torch import nn

from labhelpers.data import batches
from labhelpers.training import progress


def _check_pair(mu: torch.Tensor, logvar: torch.Tensor, what: str) -> None:
    if not isinstance(mu, torch.Tensor) or not isinstance(logvar, torch.Tensor) or mu.shape != logvar.shape:
        raise ValueError(f"{what}: expected mu and logvar as tensors of the same shape (B, D), got "
                         f"{getattr(mu, 'shape', type(mu).__name__)} and {getattr(logvar, 'shape', type(logvar).__name__)}")
    if mu.ndim != 2:
        raise ValueError(f"{what}: expected mu and logvar of shape (B, D), got {tuple(mu.shape)}")


def kl_diag_normal(mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """Per-example KL(N(mu, diag exp(logvar)) || N(0, I)) = -1/2 sum(1 + logvar - mu^2 - exp(logvar)), shape (B,) (05)."""
    _check_pair(mu, logvar, "kl_diag_normal")
    return -0.5 * (1 + logvar - mu.pow(2) - logvar.exp()).sum(1)


def reparameterize(mu: torch.Tensor, logvar: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
    """z = mu + sigma * eps with eps ~ N(0, I) and sigma = exp(logvar / 2); differentiable in mu and logvar (05)."""
    if mu.shape != logvar.shape:
        raise ValueError(f"reparameterize: mu and logvar must have the same shape, got {tuple(mu.shape)} and {tuple(logvar.shape)}")
    eps = torch.randn(mu.shape, generator=generator, dtype=mu.dtype, device=mu.device) if generator is not None \
        else torch.randn_like(mu)
    return mu + torch.exp(0.5 * logvar) * eps


class VAE(nn.Module):
    """The pytorch/examples MLP VAE: 784-400-(20, 20) encoder, 20-400-784 decoder with Bernoulli logits (05)."""

    def __init__(self, latent_dim: int = 20, hidden: int = 400, image_shape: tuple[int, int, int] = (1, 28, 28)):
        super().__init__()
        if latent_dim < 1 or hidden < 1:
            raise ValueError(f"VAE: latent_dim and hidden must be positive, got {latent_dim} and {hidden}")
        self.latent_dim, self.image_shape = latent_dim, tuple(image_shape)
        n = math.prod(image_shape)
        self.fc1 = nn.Linear(n, hidden)
        self.fc21, self.fc22 = nn.Linear(hidden, latent_dim), nn.Linear(hidden, latent_dim)
        self.fc3, self.fc4 = nn.Linear(latent_dim, hidden), nn.Linear(hidden, n)

    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        h = F.relu(self.fc1(x.flatten(1)))          # (B, hidden)
        return self.fc21(h), self.fc22(h)           # mu, logvar: (B, latent_dim) each

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        h = F.relu(self.fc3(z))                     # (B, hidden)
        return self.fc4(h).view(-1, *self.image_shape)  # logits (B, C, H, W)

    def forward(self, x: torch.Tensor, generator: torch.Generator | None = None):
        mu, logvar = self.encode(x)
        return self.decode(reparameterize(mu, logvar, generator)), mu, logvar


def vae_loss(logits: torch.Tensor, x: torch.Tensor, mu: torch.Tensor, logvar: torch.Tensor,
             beta: float = 1.0) -> torch.Tensor:
    """BCE (Bernoulli likelihood) summed over pixels and batch + beta * KL summed over the batch, as pytorch/examples (05)."""
    if logits.shape != x.shape:
        raise ValueError(f"vae_loss: logits and x must have the same shape, got {tuple(logits.shape)} and {tuple(x.shape)}")
    if x.min() < 0 or x.max() > 1:
        raise ValueError(f"vae_loss: x must hold pixel values in [0, 1] (Bernoulli targets), got [{x.min():.3g}, "
                         f"{x.max():.3g}]; divide 0..255 images by 255")
    bce = F.binary_cross_entropy_with_logits(logits, x, reduction="sum")
    return bce + beta * kl_diag_normal(mu, logvar).sum()


@torch.no_grad()
def negative_elbo(model: nn.Module, x: torch.Tensor, generator: torch.Generator | None = None,
                  batch_size: int = 1000, beta: float = 1.0) -> torch.Tensor:
    """Per-image -ELBO in nats (BCE summed over pixels + beta * KL), one z sample each, shape (B,) (05)."""
    was_training = model.training
    model.eval()
    out = []
    for (xb,) in batches(x, batch_size=batch_size, shuffle=False):
        logits, mu, logvar = model(xb, generator=generator)
        bce = F.binary_cross_entropy_with_logits(logits, xb, reduction="none").flatten(1).sum(1)
        out.append(bce + beta * kl_diag_normal(mu, logvar))
    model.train(was_training)
    return torch.cat(out)


def train_vae(model: nn.Module, x: torch.Tensor, num_epochs: int, batch_size: int = 128, lr: float = 1e-3,
              beta: float = 1.0, generator: torch.Generator | None = None, x_test: torch.Tensor | None = None,
              x_val: torch.Tensor | None = None) -> dict[str, list[float]]:
    """Adam on vae_loss; per-epoch loss per image ("loss", "test", "val"); with x_val keeps the best-val epoch (05)."""
    if num_epochs < 0:
        raise ValueError(f"train_vae: num_epochs must be >= 0, got {num_epochs}")
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    history: dict[str, list[float]] = {"loss": []}
    for name, data in (("test", x_test), ("val", x_val)):
        if data is not None:
            history[name] = []
    best = (math.inf, None)
    for _ in progress(range(num_epochs), desc="vae", leave=False):
        model.train()
        total = 0.0
        for (xb,) in batches(x, batch_size=batch_size, generator=generator):
            logits, mu, logvar = model(xb, generator=generator)      # encode, sample z, decode
            loss = vae_loss(logits, xb, mu, logvar, beta=beta)        # summed over the batch
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            total += loss.item()
        history["loss"].append(total / len(x))
        for name, data in (("test", x_test), ("val", x_val)):
            if data is not None:
                history[name].append(float(negative_elbo(model, data, generator=generator, beta=beta).mean()))
        if x_val is not None and history["val"][-1] < best[0]:
            best = (history["val"][-1], {k: v.detach().clone() for k, v in model.state_dict().items()})
    if best[1] is not None:
        model.load_state_dict(best[1])
        history["best_epoch"] = [1 + history["val"].index(best[0])]
    model.eval()
    return history


class ConvVAE(nn.Module):
    """A small convolutional VAE for 1- or 3-channel 28x28 or 32x32 images, same interface as VAE (05)."""

    def __init__(self, latent_dim: int = 32, image_shape: tuple[int, int, int] = (3, 32, 32), width: int = 32):
        super().__init__()
        c, h, w = image_shape
        if c not in (1, 3) or h != w or h not in (28, 32):
            raise ValueError(f"ConvVAE: expected image_shape (C, H, W) with C in (1, 3) and H = W in (28, 32), got {image_shape}")
        self.latent_dim, self.image_shape = latent_dim, tuple(image_shape)
        s = h // 4  # 7 or 8 after two stride-2 convolutions
        self.s, self.width = s, width
        self.encoder = nn.Sequential(
            nn.Conv2d(c, width, 4, 2, 1), nn.ReLU(),              # (B, w, H/2, W/2)
            nn.Conv2d(width, 2 * width, 4, 2, 1), nn.ReLU(),      # (B, 2w, H/4, W/4)
            nn.Flatten(), nn.Linear(2 * width * s * s, 256), nn.ReLU(),
        )
        self.fc_mu, self.fc_logvar = nn.Linear(256, latent_dim), nn.Linear(256, latent_dim)
        self.fc_dec = nn.Sequential(nn.Linear(latent_dim, 256), nn.ReLU(), nn.Linear(256, 2 * width * s * s), nn.ReLU())
        self.decoder = nn.Sequential(
            nn.ConvTranspose2d(2 * width, width, 4, 2, 1), nn.ReLU(),  # (B, w, H/2, W/2)
            nn.ConvTranspose2d(width, c, 4, 2, 1),                     # logits (B, C, H, W)
        )

    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        h = self.encoder(x)
        return self.fc_mu(h), self.fc_logvar(h)

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        h = self.fc_dec(z).view(-1, 2 * self.width, self.s, self.s)
        return self.decoder(h)

    def forward(self, x: torch.Tensor, generator: torch.Generator | None = None):
        mu, logvar = self.encode(x)
        return self.decode(reparameterize(mu, logvar, generator)), mu, logvar


@torch.no_grad()
def code_use(model: nn.Module, x: torch.Tensor) -> dict[str, float]:
    """Mean KL(q(z|x) || p(z)) and reconstruction loss from each image's own mean code vs a shuffled one, nats (05)."""
    mu, logvar = model.encode(x)

    def recon(z):
        return F.binary_cross_entropy_with_logits(model.decode(z), x, reduction="none").flatten(1).sum(1).mean()
    shuffled = mu[torch.roll(torch.arange(len(mu)), 1)]          # every image gets its neighbour's code
    return {"kl": float(kl_diag_normal(mu, logvar).mean()), "own": float(recon(mu)), "other": float(recon(shuffled))}


def code_is_used(use: dict[str, float], min_kl: float = 5.0, max_ratio: float = 0.7) -> bool:
    """The test of a working VAE: its code carries > min_kl nats and its own code beats another's clearly (05)."""
    return use["kl"] > min_kl and use["own"] < max_ratio * use["other"]


# Bad input gets a clear error naming the parameter: the checks live in labhelpers/guards.py, not in the lesson.
from labhelpers.guards import guard_module  # noqa: E402

guard_module(globals())
