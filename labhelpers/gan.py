"""Generative adversarial networks: a 2-D ring toy, MLP, packed and DCGAN players, their losses, one alternating update, mode metrics (06).

GENERATED from notebooks/06_gan.ipynb by `python tools/nbtool.py export`: do not edit by hand.
Edit the cells tagged `export` in the notebook and run the export again (the pre-commit hook does).
"""
# ruff: noqa: E501

import math

import torch
import torch.nn.functional as F
from torch import nn

from labhelpers.config import checkpoint_path
from labhelpers.data import load
from labhelpers.training import progress, train_or_load

ADAM_BETAS = (0.5, 0.999)        # the DCGAN paper's momentum setting


def discriminator_loss(real_logits: torch.Tensor, fake_logits: torch.Tensor) -> torch.Tensor:
    """-[log D(x) + log(1 - D(G(z)))], averaged: binary cross-entropy with real = 1, fake = 0 (06)."""
    return (F.binary_cross_entropy_with_logits(real_logits, torch.ones_like(real_logits))
            + F.binary_cross_entropy_with_logits(fake_logits, torch.zeros_like(fake_logits)))


LOSSES = ("nonsaturating", "minimax")


def generator_loss(fake_logits: torch.Tensor, loss: str = "nonsaturating") -> torch.Tensor:
    """Non-saturating -log D(G(z)) or minimax log(1 - D(G(z))), averaged, from D's logits (06)."""
    if loss == "nonsaturating":
        return F.binary_cross_entropy_with_logits(fake_logits, torch.ones_like(fake_logits))
    if loss == "minimax":
        return -F.binary_cross_entropy_with_logits(fake_logits, torch.zeros_like(fake_logits))
    raise ValueError(f"unknown generator loss {loss!r}; expected one of {LOSSES}")


def gan_step(G: nn.Module, D: nn.Module, opt_g: torch.optim.Optimizer, opt_d: torch.optim.Optimizer,
             x: torch.Tensor, z: torch.Tensor, y: torch.Tensor | None = None,
             loss: str = "nonsaturating") -> tuple[float, float]:
    """One alternating update: a D step on real x vs G(z), then a G step on the same z; return (loss_d, loss_g) (06)."""
    if loss not in LOSSES:
        raise ValueError(f"unknown generator loss {loss!r}; expected one of {LOSSES}")
    if len(x) != len(z) or (y is not None and len(y) != len(x)):
        raise ValueError(f"gan_step: x, z (and y) need the same batch size, got {len(x)}, {len(z)}"
                         + ("" if y is None else f", {len(y)}"))
    G.train()
    D.train()
    fake = G(z, y)
    loss_d = discriminator_loss(D(x, y), D(fake.detach(), y))   # 1. D step; detach: G does not move
    opt_d.zero_grad(set_to_none=True)
    loss_d.backward()
    opt_d.step()
    loss_g = generator_loss(D(fake, y), loss)                    # 2. G step against the updated D
    opt_g.zero_grad(set_to_none=True)
    loss_g.backward()
    opt_g.step()
    return loss_d.item(), loss_g.item()


def ring_centers(num_modes: int = 8, radius: float = 2.0) -> torch.Tensor:
    """The (num_modes, 2) centers of a ring of Gaussians, evenly spaced on a circle (06)."""
    if num_modes < 1 or radius <= 0:
        raise ValueError(f"ring_centers: expected num_modes >= 1 and radius > 0, got {num_modes} and {radius}")
    angle = torch.arange(num_modes, dtype=torch.float32) * (2 * math.pi / num_modes)
    return radius * torch.stack([angle.cos(), angle.sin()], dim=1)


def sample_ring(n: int, num_modes: int = 8, radius: float = 2.0, sigma: float = 0.05,
                generator: torch.Generator | None = None) -> torch.Tensor:
    """n points (n, 2) from an equal-weight mixture of isotropic Gaussians (std sigma) on a ring (06)."""
    if n < 1 or sigma <= 0:
        raise ValueError(f"sample_ring: expected n >= 1 and sigma > 0, got {n} and {sigma}")
    centers = ring_centers(num_modes, radius)
    k = torch.randint(num_modes, (n,), generator=generator)
    return centers[k] + sigma * torch.randn(n, 2, generator=generator)


def _nearest(samples: torch.Tensor, centers: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    if samples.ndim != 2 or centers.ndim != 2 or samples.shape[1] != centers.shape[1]:
        raise ValueError(f"expected samples (N, D) and centers (K, D), got {tuple(samples.shape)} and {tuple(centers.shape)}")
    d = torch.cdist(samples.float(), centers.float())  # (N, K)
    return d.min(1)


def high_quality_fraction(samples: torch.Tensor, centers: torch.Tensor, sigma: float, k: float = 3.0) -> float:
    """Fraction of samples within k * sigma (default 3 sigma) of their nearest mode center (06)."""
    dist, _ = _nearest(samples, centers)
    return float((dist <= k * sigma).float().mean())


def modes_covered(samples: torch.Tensor, centers: torch.Tensor, sigma: float, k: float = 3.0,
                  min_count: int = 1) -> int:
    """Number of modes with at least min_count high-quality samples (within k * sigma of that center) (06)."""
    dist, idx = _nearest(samples, centers)
    counts = torch.bincount(idx[dist <= k * sigma], minlength=len(centers))
    return int((counts >= min_count).sum())


def _mlp(sizes: list[int], act: nn.Module) -> nn.Sequential:
    layers: list[nn.Module] = []
    for a, b in zip(sizes[:-1], sizes[1:]):
        layers += [nn.Linear(a, b), act]
    return nn.Sequential(*layers[:-1])


class MLPGenerator(nn.Module):
    """G(z): a small MLP from latent_dim noise to 2-D points (06)."""

    def __init__(self, latent_dim: int = 2, hidden: int = 128, depth: int = 3, out_dim: int = 2):
        super().__init__()
        self.latent_dim = latent_dim
        self.net = _mlp([latent_dim] + [hidden] * depth + [out_dim], nn.ReLU())

    def forward(self, z: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        return self.net(z)  # (B, latent_dim) -> (B, out_dim)


class MLPDiscriminator(nn.Module):
    """D(x): a small MLP from 2-D points to one logit per point (06)."""

    def __init__(self, in_dim: int = 2, hidden: int = 128, depth: int = 3):
        super().__init__()
        self.net = _mlp([in_dim] + [hidden] * depth + [1], nn.LeakyReLU(0.2))

    def forward(self, x: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        return self.net(x).squeeze(1)  # (B, in_dim) -> logits (B,)


class PackedDiscriminator(nn.Module):
    """PacGAN: D judges `pack` samples at once, concatenated into one input (batch size divisible by pack) (06)."""

    def __init__(self, pack: int = 2, in_dim: int = 2, hidden: int = 128, depth: int = 3):
        super().__init__()
        self.pack = pack
        self.net = MLPDiscriminator(in_dim=pack * in_dim, hidden=hidden, depth=depth)

    def forward(self, x: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        if len(x) % self.pack:
            raise ValueError(f"PackedDiscriminator: batch of {len(x)} is not divisible by pack={self.pack}")
        return self.net(x.reshape(len(x) // self.pack, -1))   # (B, d) -> (B / pack, pack * d) -> (B / pack,) logits


def dcgan_init(module: nn.Module) -> None:
    """DCGAN initialization: conv weights ~ N(0, 0.02), batch-norm scale ~ N(1, 0.02), bias 0 (06)."""
    if isinstance(module, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)):
        nn.init.normal_(module.weight, 0.0, 0.02)
        if module.bias is not None:
            nn.init.zeros_(module.bias)
    elif isinstance(module, nn.BatchNorm2d) or isinstance(module, nn.BatchNorm1d):
        nn.init.normal_(module.weight, 1.0, 0.02)
        nn.init.zeros_(module.bias)


class Generator(nn.Module):
    """DCGAN generator for 1x28x28 images in [0, 1]: z (+ label embedding) -> 7x7 -> 14x14 -> 28x28 (06)."""

    def __init__(self, latent_dim: int = 64, num_classes: int | None = None, width: int = 64):
        super().__init__()
        self.latent_dim, self.num_classes, self.width = latent_dim, num_classes, width
        self.embed = nn.Embedding(num_classes, num_classes) if num_classes else None
        in_dim = latent_dim + (num_classes or 0)
        self.fc = nn.Sequential(nn.Linear(in_dim, 2 * width * 7 * 7, bias=False),
                                nn.BatchNorm1d(2 * width * 7 * 7), nn.ReLU())
        self.net = nn.Sequential(
            nn.ConvTranspose2d(2 * width, width, 4, 2, 1, bias=False), nn.BatchNorm2d(width), nn.ReLU(),  # (B, w, 14, 14)
            nn.ConvTranspose2d(width, 1, 4, 2, 1), nn.Sigmoid(),                                          # (B, 1, 28, 28)
        )
        self.apply(dcgan_init)

    def forward(self, z: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        if (y is None) != (self.num_classes is None):
            raise ValueError("Generator: pass labels y exactly when the generator was built with num_classes")
        h = z if y is None else torch.cat([z, self.embed(y)], dim=1)
        return self.net(self.fc(h).view(-1, 2 * self.width, 7, 7))


class Discriminator(nn.Module):
    """DCGAN discriminator for 1x28x28 images: one logit per image; a label becomes an extra input channel (06)."""

    def __init__(self, num_classes: int | None = None, width: int = 64):
        super().__init__()
        self.num_classes = num_classes
        self.embed = nn.Embedding(num_classes, 28 * 28) if num_classes else None
        in_channels = 1 + (1 if num_classes else 0)
        self.net = nn.Sequential(
            nn.Conv2d(in_channels, width, 4, 2, 1), nn.LeakyReLU(0.2),                               # (B, w, 14, 14)
            nn.Conv2d(width, 2 * width, 4, 2, 1, bias=False), nn.BatchNorm2d(2 * width), nn.LeakyReLU(0.2),  # (B, 2w, 7, 7)
            nn.Flatten(), nn.Linear(2 * width * 7 * 7, 1),
        )
        self.apply(dcgan_init)

    def forward(self, x: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        if (y is None) != (self.num_classes is None):
            raise ValueError("Discriminator: pass labels y exactly when the discriminator was built with num_classes")
        if y is not None:
            x = torch.cat([x, self.embed(y).view(-1, 1, 28, 28)], dim=1)
        return self.net(x).squeeze(1)


def train_gan(G: nn.Module, D: nn.Module, x: torch.Tensor, steps: int, seed: int, y: torch.Tensor | None = None,
              batch_size: int = 64, lr: float = 2e-4, snapshots: int = 4, z_fixed=None, y_fixed=None):
    """Alternating updates on random batches of x (and their labels y: conditional); return per-step losses and
    fixed-noise snapshots {step: G(z_fixed, y_fixed)} (06)."""
    generator = torch.Generator().manual_seed(seed)
    opt_g = torch.optim.Adam(G.parameters(), lr=lr, betas=ADAM_BETAS)
    opt_d = torch.optim.Adam(D.parameters(), lr=lr, betas=ADAM_BETAS)
    losses, grids = {"discriminator": [], "generator": []}, {}
    for step in progress(range(1, steps + 1), desc="gan", leave=False):
        idx = torch.randint(len(x), (batch_size,), generator=generator)
        z = torch.randn(batch_size, G.latent_dim, generator=generator).to(x.device)
        loss_d, loss_g = gan_step(G, D, opt_g, opt_d, x[idx], z, None if y is None else y[idx])
        losses["discriminator"].append(loss_d)
        losses["generator"].append(loss_g)
        if z_fixed is not None and (step % max(1, steps // snapshots) == 0 or step == steps):
            G.eval()
            with torch.no_grad():
                grids[step] = G(z_fixed, y_fixed).cpu()
            G.train()
    G.eval()
    return losses, grids


def train_or_load_conditional_gan(dataset: str, seed: int, steps: int, n_train: int, latent_dim: int = 64,
                                  width_g: int = 64, width_d: int = 32, num_classes: int = 10,
                                  device: str | torch.device = "cpu") -> Generator:
    """The conditional DCGAN G(z, y), trained with `seed` on the first n_train grey `dataset` training images and
    their labels, or loaded from the checkpoint of exactly these settings (06, 10)."""
    x, y = load(dataset, "train", device=device, limit=n_train)     # (N, 1, 28, 28) in [0, 1], labels (N,)
    torch.manual_seed(seed)                                          # the same initial weights wherever it is built
    G = Generator(latent_dim, num_classes=num_classes, width=width_g).to(device)
    D = Discriminator(num_classes=num_classes, width=width_d).to(device)
    batch_size, lr = 64, 2e-4
    settings = {"seed": seed, "dataset": dataset, "n_train": len(x), "steps": steps, "batch_size": batch_size, "lr": lr,
                "betas": list(ADAM_BETAS), "loss": "nonsaturating", "discriminator": repr(D), "data": "grey in [0, 1]"}
    train_or_load(G, checkpoint_path(f"cgan_{dataset}"),
                  lambda: train_gan(G, D, x, steps, seed, y=y, batch_size=batch_size, lr=lr), settings=settings)
    return G.eval()


# Bad input gets a clear error naming the parameter: the checks live in labhelpers/guards.py, not in the lesson.
from labhelpers.guards import guard_module  # noqa: E402

guard_module(globals())
