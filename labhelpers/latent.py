"""Latent diffusion and few-step generation: a grid-latent autoencoder with a light KL term, flow matching on its latents against 09's U-Net in pixel space at the same training CPU, reflow and path straightness, and classifier-free guidance in latent space (11)

GENERATED from notebooks/11_latent_diffusion.ipynb by `python tools/nbtool.py export`: do not edit by hand.
Edit the cells tagged `export` in the notebook and run the export again (the pre-commit hook does).
"""
# ruff: noqa: E501

import copy

import torch
import torch.nn.functional as F
from torch import nn

from labhelpers import config
from labhelpers.data import load
from labhelpers.diffusion import TinyUNet, drop_labels, flow_matching_loss, image_model, sample_flow, train_steps
from labhelpers.training import model_fingerprint, train_or_load
from labhelpers.vae import kl_diag_normal


class LatentAutoencoder(nn.Module):
    """28 x 28 images <-> latents of shape (channels, 7, 7): a VAE with a light KL weight, as latent diffusion uses (11)."""

    def __init__(self, channels: int = 4, width: int = 32):
        super().__init__()
        w = width
        self.encoder = nn.Sequential(                                  # 28 -> 14 -> 7, then a mean and a log-variance
            nn.Conv2d(1, w, 4, 2, 1), nn.SiLU(), nn.Conv2d(w, 2 * w, 4, 2, 1), nn.SiLU(),
            nn.Conv2d(2 * w, 2 * w, 3, padding=1), nn.SiLU(), nn.Conv2d(2 * w, 2 * channels, 1))
        self.decoder = nn.Sequential(                                  # 7 -> 14 -> 28, one logit per pixel
            nn.Conv2d(channels, 2 * w, 3, padding=1), nn.SiLU(), nn.Conv2d(2 * w, 2 * w, 3, padding=1), nn.SiLU(),
            nn.ConvTranspose2d(2 * w, w, 4, 2, 1), nn.SiLU(), nn.ConvTranspose2d(w, 1, 4, 2, 1))

    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The posterior q(z|x): its mean and log-variance, each (B, channels, 7, 7)."""
        return self.encoder(x).chunk(2, dim=1)

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """Images in [0, 1], (B, 1, 28, 28)."""
        return torch.sigmoid(self.decoder(z))


def draw_latent(mu: torch.Tensor, logvar: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
    """z = mu + sigma * eps: 05's reparameterization, with the noise drawn on the CPU for any device (11)."""
    return mu + (0.5 * logvar).exp() * torch.randn(mu.shape, generator=generator).to(mu.device)


def latent_ae_loss(model: LatentAutoencoder, x: torch.Tensor, beta: float,
                   generator: torch.Generator | None = None) -> torch.Tensor:
    """-log p(x|z) in nats per image (Bernoulli pixels) + beta * KL(q(z|x) || N(0, I)) (11)."""
    mu, logvar = model.encode(x)
    recon = F.binary_cross_entropy_with_logits(model.decoder(draw_latent(mu, logvar, generator)), x,
                                               reduction="sum") / len(x)
    return recon + beta * kl_diag_normal(mu.flatten(1), logvar.flatten(1)).mean()


@torch.no_grad()
def encode_latents(model: LatentAutoencoder, x: torch.Tensor, generator: torch.Generator | None = None,
                   batch_size: int = 1000) -> torch.Tensor:
    """Latents z ~ q(z|x) of images x, (N, channels, 7, 7) (11)."""
    return torch.cat([draw_latent(*model.encode(xb), generator) for xb in x.split(batch_size)])


def reflow_loss(model: torch.nn.Module, z0: torch.Tensor, z1: torch.Tensor, labels: torch.Tensor,
                generator: torch.Generator, label_dropout: float = 0.1) -> torch.Tensor:
    """Flow matching on the straight line from each noise z0 to *its own* z1 (where the first flow took it), not to
    a random data point; labels dropped to "no label" with probability label_dropout, as in 09 (11)."""
    t = torch.rand(len(z0), generator=generator).to(z0.device)
    t_ = t.view(-1, *[1] * (z0.ndim - 1))                       # (B, 1, ...) broadcasts over z
    labels = drop_labels(labels, model.num_classes, label_dropout, generator)
    return F.mse_loss(model((1 - t_) * z0 + t_ * z1, t, labels), z1 - z0)


@torch.no_grad()
def straightness(model: torch.nn.Module, shape: tuple[int, ...], labels: torch.Tensor, steps: int,
                 generator: torch.Generator) -> float:
    """How far the Euler path's velocities stray from the straight line between its ends: mean |v - (x_1 - x_0)|^2
    over the steps, divided by mean |x_1 - x_0|^2; 0 for straight paths (Liu et al. 2022) (11)."""
    path = sample_flow(model, shape, steps, labels, generator=generator, return_path=True)  # (steps + 1, *shape)
    line = path[-1] - path[0]
    velocity = (path[1:] - path[:-1]) * steps          # what each Euler step moved, per unit time
    return ((velocity - line) ** 2).mean().item() / (line ** 2).mean().item()


LATENT_SETTINGS = {   # lecture 11's settings; lecture 12 loads the same checkpoints through them
    "full": {"n_train": 4000, "channels": 4, "width": 32, "beta": 0.01, "ae_steps": 800, "batch_size": 128,
             "lr": 2e-3, "unet": [32, 64], "flow_steps": 1200, "label_dropout": 0.1, "pixel_unet": [16, 32],
             "pixel_steps": 480, "pairs": 6000, "pair_calls": 8, "reflow_steps": 600, "reflow_lr": 1e-3},
    "quick": {"n_train": 500, "channels": 4, "width": 16, "beta": 0.01, "ae_steps": 40, "batch_size": 64,
              "lr": 2e-3, "unet": [16, 32], "flow_steps": 40, "label_dropout": 0.1, "pixel_unet": [16, 32],
              "pixel_steps": 20, "pairs": 256, "pair_calls": 4, "reflow_steps": 20, "reflow_lr": 1e-3},
}
AE_KEYS = ("n_train", "channels", "width", "beta", "ae_steps", "batch_size", "lr")
FLOW_KEYS = ("unet", "flow_steps", "label_dropout")
REFLOW_KEYS = ("pairs", "pair_calls", "reflow_steps", "reflow_lr")


def latent_settings(**overrides) -> dict:
    """LATENT_SETTINGS for the mode in force, with the overrides that are not None (11)."""
    s = LATENT_SETTINGS["quick" if config.QUICK else "full"]
    unknown = set(overrides) - set(s)
    if unknown:
        raise ValueError(f"latent settings: unknown {sorted(unknown)}; known: {sorted(s)}")
    return {**s, **{k: v for k, v in overrides.items() if v is not None}}


def train_reflow(teacher: TinyUNet, train_labels: torch.Tensor, checkpoint: str, settings: dict, seed: int,
                 coupling: str = "own") -> TinyUNet:
    """A copy of `teacher` trained by reflow_loss on `pairs` of its own (noise, sample) pairs, each sample made in
    `pair_calls` Euler calls with a label drawn from train_labels. coupling='shuffled' pairs each sample with
    another pair's noise: the control that keeps the data but loses the coupling (11)."""
    if coupling not in ("own", "shuffled"):
        raise ValueError(f"coupling={coupling!r}: use 'own' (reflow) or 'shuffled' (the control)")
    s, student = settings, copy.deepcopy(teacher)
    gen = torch.Generator().manual_seed(seed + 1)

    def fit():
        labels = train_labels[torch.randint(len(train_labels), (s["pairs"],), generator=gen).to(train_labels.device)]
        path = sample_flow(teacher, (s["pairs"], s["channels"], 7, 7), s["pair_calls"], labels, generator=gen,
                           return_path=True)
        z0, z1 = path[0], path[-1]
        if coupling == "shuffled":
            z0 = z0[torch.randperm(len(z0), generator=gen).to(z0.device)]
        train_steps(student, lambda m, pair, yb: reflow_loss(m, pair[:, 0], pair[:, 1], yb, gen, s["label_dropout"]),
                    torch.stack([z0, z1], 1), labels, s["reflow_steps"], s["batch_size"], s["reflow_lr"], gen)

    train_or_load(student, config.checkpoint_path(checkpoint), fit,
                  settings={**{k: s[k] for k in REFLOW_KEYS}, "coupling": coupling, "seed": seed,
                            "teacher": model_fingerprint(teacher)})
    return student


def latent_models(dataset: str = "mnist", seed: int = 0, device: str | torch.device = "cpu", **overrides) -> dict:
    """Train or load lecture 11's autoencoder ('ae'), its latent scale ('scale'), the latent flow ('flow'), the
    reflowed flow ('reflow') and 09's U-Net as a pixel flow at 28 x 28 ('pixel'), under LATENT_SETTINGS (11)."""
    s = latent_settings(**overrides)
    x, y = load(dataset, "train", limit=s["n_train"])
    x, y = x.to(device), y.to(device)
    torch.manual_seed(seed)
    ae = LatentAutoencoder(s["channels"], s["width"]).to(device)
    gen = torch.Generator().manual_seed(seed)
    ae_settings = {**{k: s[k] for k in AE_KEYS}, "dataset": dataset, "seed": seed}
    train_or_load(ae, config.checkpoint_path(f"11_autoencoder_{dataset}"),
                  lambda: train_steps(ae, lambda m, xb, yb: latent_ae_loss(m, xb, s["beta"], gen), x, y,
                                      s["ae_steps"], s["batch_size"], s["lr"], gen), settings=ae_settings)
    z = encode_latents(ae, x, torch.Generator().manual_seed(seed))
    scale = 1 / z.std().item()                      # latents times scale have unit standard deviation
    latents = z * scale

    torch.manual_seed(seed)
    flow = TinyUNet(tuple(s["unet"]), in_channels=s["channels"]).to(device)
    gen = torch.Generator().manual_seed(seed)

    def flow_loss(m, zb, yb):
        return flow_matching_loss(m, zb, gen, drop_labels(yb, m.num_classes, s["label_dropout"], gen))

    train_or_load(flow, config.checkpoint_path(f"11_latent_flow_{dataset}"),
                  lambda: train_steps(flow, flow_loss, latents, y, s["flow_steps"], s["batch_size"], s["lr"], gen),
                  settings={**{k: s[k] for k in FLOW_KEYS}, "seed": seed,
                            "autoencoder": model_fingerprint(ae, ae_settings)})
    pixel, _ = image_model("flow", dataset, seed, device, image_size=28, channels=s["pixel_unet"],
                           num_steps=s["pixel_steps"], n_train=s["n_train"], batch_size=s["batch_size"], lr=s["lr"],
                           label_dropout=s["label_dropout"])
    reflow = train_reflow(flow, y, f"11_reflow_{dataset}", s, seed)
    return {"ae": ae, "scale": scale, "flow": flow, "reflow": reflow, "pixel": pixel, "settings": s,
            "latents": latents}


@torch.no_grad()
def sample_latent(models: dict, labels: torch.Tensor, steps: int, which: str = "flow", guidance: float = 0.0,
                  generator: torch.Generator | None = None) -> torch.Tensor:
    """Images in [0, 1], (B, 1, 28, 28), from `steps` Euler calls of models[which]: 'flow' or 'reflow' in latent
    space, then the decoder; 'pixel' in pixel space (twice the calls with guidance) (11)."""
    if which not in ("flow", "reflow", "pixel"):
        raise ValueError(f"which={which!r}: use 'flow', 'reflow' (latent space) or 'pixel' (28 x 28 pixels)")
    if which == "pixel":
        x = sample_flow(models["pixel"], (len(labels), 1, 28, 28), steps, labels, guidance, generator)
        return ((x + 1) / 2).clamp(0, 1)
    z = sample_flow(models[which], (len(labels), models["settings"]["channels"], 7, 7), steps, labels, guidance,
                    generator)
    return models["ae"].decode(z / models["scale"])


# Bad input gets a clear error naming the parameter: the checks live in labhelpers/guards.py, not in the lesson.
from labhelpers.guards import guard_module  # noqa: E402

guard_module(globals())
