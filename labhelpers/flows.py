"""Normalizing flows: change of variables, affine coupling, squeeze, a multi-scale image flow with dequantization (08)

GENERATED from notebooks/08_normalizing_flows.ipynb by `python tools/nbtool.py export`: do not edit by hand.
Edit the cells tagged `export` in the notebook and run the export again (the pre-commit hook does).
"""
# ruff: noqa: E501

import math

import torch
from torch import nn

import labhelpers.config as config
from labhelpers.config import checkpoint_path
from labhelpers.data import load
from labhelpers.pixelcnn import binarize
from labhelpers.training import progress, train_or_load

LOG_2PI = math.log(2 * math.pi)


def standard_normal_log_prob(z: torch.Tensor) -> torch.Tensor:
    """log N(z; 0, I) summed over all but the batch dimension: (B, ...) -> (B,) (08)."""
    return (-0.5 * (z ** 2 + LOG_2PI)).flatten(1).sum(1)


class AffineCoupling(nn.Module):
    """z = x * exp(s) + t on the unmasked part, (s, t) = net(mask * x); the masked part passes unchanged (08)."""

    def __init__(self, mask: torch.Tensor, net: nn.Module, scale_bound: float = 2.0):
        super().__init__()
        self.register_buffer("mask", mask)  # 1 = passes unchanged and conditions the rest
        self.net = net                      # maps (B, *shape) to (B, 2 * shape[0], ...): s and t stacked
        self.scale_bound = scale_bound

    def _scale_shift(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        s, t = self.net(x * self.mask).chunk(2, dim=1)
        s = self.scale_bound * torch.tanh(s / self.scale_bound)  # |s| < scale_bound
        return s * (1 - self.mask), t * (1 - self.mask)          # zero on the masked part

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        s, t = self._scale_shift(x)
        return x * s.exp() + t, s.flatten(1).sum(1)             # z and log|det dz/dx| (B,)

    def inverse(self, z: torch.Tensor) -> torch.Tensor:
        s, t = self._scale_shift(z)                              # m * z = m * x: the same s and t
        return (z - t) * torch.exp(-s)


class Flow(nn.Module):
    """A stack of invertible layers (each returns (z, log|det|)) over a standard normal base density (08)."""

    def __init__(self, layers: list[nn.Module], shape: tuple[int, ...]):
        super().__init__()
        self.layers = nn.ModuleList(layers)
        self.shape = tuple(shape)  # the shape of one x (and of one z)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        logdet = torch.zeros(len(x), device=x.device, dtype=x.dtype)
        for layer in self.layers:
            x, layer_logdet = layer(x)
            logdet = logdet + layer_logdet  # log-determinants of a composition add up
        return x, logdet

    def inverse(self, z: torch.Tensor) -> torch.Tensor:
        for layer in reversed(self.layers):
            z = layer.inverse(z)
        return z

    def log_prob(self, x: torch.Tensor) -> torch.Tensor:
        z, logdet = self(x)
        return standard_normal_log_prob(z) + logdet  # change of variables, (B,)

    @torch.no_grad()
    def sample(self, n: int, temperature: float = 1.0, generator: torch.Generator | None = None) -> torch.Tensor:
        device = next(self.parameters()).device
        z = temperature * torch.randn(n, *self.shape, generator=generator)  # z ~ N(0, T^2 I)
        return self.inverse(z.to(device))


def mlp_net(dim: int, hidden: int = 64) -> nn.Sequential:
    """The s, t network of a coupling on vectors: (B, dim) -> (B, 2 dim); the last layer starts at zero (08)."""
    last = nn.Linear(hidden, 2 * dim)
    nn.init.zeros_(last.weight)  # s = t = 0: every coupling starts as the identity
    nn.init.zeros_(last.bias)
    return nn.Sequential(nn.Linear(dim, hidden), nn.ReLU(), nn.Linear(hidden, hidden), nn.ReLU(), last)


def realnvp_2d(num_layers: int = 8, hidden: int = 64) -> Flow:
    """A RealNVP for 2-D points: affine couplings that alternate which coordinate is transformed (08)."""
    masks = [torch.tensor([1.0, 0.0]), torch.tensor([0.0, 1.0])]
    return Flow([AffineCoupling(masks[i % 2], mlp_net(2, hidden)) for i in range(num_layers)], (2,))


def sample_moons(n: int, noise: float = 0.1, generator: torch.Generator | None = None) -> torch.Tensor:
    """n points (n, 2) on two interleaved half circles, plus Gaussian noise of std `noise` (08)."""
    upper = torch.rand(n, generator=generator) < 0.5
    angle = math.pi * torch.rand(n, generator=generator)
    top = torch.stack([angle.cos(), angle.sin()], dim=1)                # the upper half circle
    bottom = torch.stack([1 - angle.cos(), 0.5 - angle.sin()], dim=1)   # the lower one, shifted
    return torch.where(upper[:, None], top, bottom) + noise * torch.randn(n, 2, generator=generator)


def train_flow(flow: nn.Module, loss_fn, x: torch.Tensor, num_steps: int, batch_size: int = 256, lr: float = 1e-3,
               generator: torch.Generator | None = None, max_grad_norm: float = 50.0) -> list[float]:
    """Adam on loss_fn(flow, batch) over num_steps random batches of x, gradients clipped; the loss per step (08)."""
    optimizer = torch.optim.Adam(flow.parameters(), lr=lr)
    history = []
    flow.train()
    for _ in progress(range(num_steps), desc="flow", leave=False):
        idx = torch.randint(len(x), (batch_size,), generator=generator).to(x.device)
        loss = loss_fn(flow, x[idx])
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        nn.utils.clip_grad_norm_(flow.parameters(), max_grad_norm)
        optimizer.step()
        history.append(loss.item())
    flow.eval()
    return history


def nll_loss(flow: Flow, x: torch.Tensor) -> torch.Tensor:
    """Mean negative log-likelihood of a batch, in nats: the maximum-likelihood loss (08)."""
    return -flow.log_prob(x).mean()


IMAGE_SHAPE = (1, 28, 28)


def dequantize(x: torch.Tensor, generator: torch.Generator | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Binary pixels -> v = (2x - 1) r, r ~ Maxwell (> 0): v > 0 exactly where x = 1; returns v and log q(v | x) (08)."""
    r = torch.randn(*x.shape, 3, generator=generator).norm(dim=-1).to(x.device)  # |3-D normal vector|
    log_q = 0.5 * math.log(2 / math.pi) + 2 * r.log() - r ** 2 / 2               # Maxwell log-density
    return (2 * x - 1) * r, log_q.flatten(1).sum(1)


def image_nll(flow: Flow, x: torch.Tensor, num_samples: int = 1,
              generator: torch.Generator | None = None) -> torch.Tensor:
    """An upper bound on -log P(x) in nats per binarized image (B,); num_samples > 1 gives the tighter IW bound (08)."""
    log_w = []
    for _ in range(num_samples):
        v, log_q = dequantize(x, generator)
        log_w.append(flow.log_prob(v) - log_q)                 # log p(v) - log q(v | x)
    log_w = torch.stack(log_w)                                 # (num_samples, B)
    return -(torch.logsumexp(log_w, dim=0) - math.log(num_samples))


class Squeeze(nn.Module):
    """(B, C, H, W) -> (B, 4C, H/2, W/2): each 2x2 block of pixels becomes 4 channels; log|det| = 0 (08)."""

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        b, c, h, w = x.shape
        x = x.reshape(b, c, h // 2, 2, w // 2, 2).permute(0, 1, 3, 5, 2, 4)  # (B, C, 2, 2, H/2, W/2)
        return x.reshape(b, 4 * c, h // 2, w // 2), x.new_zeros(b)

    def inverse(self, z: torch.Tensor) -> torch.Tensor:
        b, c, h, w = z.shape
        z = z.reshape(b, c // 4, 2, 2, h, w).permute(0, 1, 4, 2, 5, 3)      # (B, C/4, H, 2, W, 2)
        return z.reshape(b, c // 4, 2 * h, 2 * w)


class Unsqueeze(Squeeze):
    """The inverse of Squeeze as a layer: (B, 4C, H, W) -> (B, C, 2H, 2W) (08)."""

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return super().inverse(x), x.new_zeros(len(x))

    def inverse(self, z: torch.Tensor) -> torch.Tensor:
        return super().forward(z)[0]


class FirstChannels(nn.Module):
    """Apply a flow to the first k channels only; the others are factored out (passed on unchanged) (08)."""

    def __init__(self, flow: nn.Module, k: int):
        super().__init__()
        self.flow, self.k = flow, k

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        z, logdet = self.flow(x[:, : self.k])
        return torch.cat([z, x[:, self.k:]], dim=1), logdet

    def inverse(self, z: torch.Tensor) -> torch.Tensor:
        return torch.cat([self.flow.inverse(z[:, : self.k]), z[:, self.k:]], dim=1)


def conv_net(channels: int, hidden: int = 64) -> nn.Sequential:
    """The s, t network of an image coupling: (B, C, H, W) -> (B, 2C, H, W); the last conv starts at zero (08)."""
    last = nn.Conv2d(hidden, 2 * channels, 3, padding=1)
    nn.init.zeros_(last.weight)
    nn.init.zeros_(last.bias)
    return nn.Sequential(nn.Conv2d(channels, hidden, 3, padding=1), nn.ReLU(),
                         nn.Conv2d(hidden, hidden, 1), nn.ReLU(), last)


def channel_mask(channels: int, parity: int) -> torch.Tensor:
    """(C, 1, 1) mask: the first half of the channels pass (parity 0), or the second half (parity 1) (08)."""
    mask = (torch.arange(channels) < channels // 2).float()[:, None, None]
    return mask if parity == 0 else 1 - mask


def image_flow(hidden: int = 64, num_couplings: int = 4) -> Flow:
    """A two-scale flow for (1, 28, 28) images: squeeze, couplings, factor out half, squeeze, couplings (08)."""
    level1 = [AffineCoupling(channel_mask(4, i % 2), conv_net(4, hidden)) for i in range(num_couplings)]
    level2 = [AffineCoupling(channel_mask(8, i % 2), conv_net(8, hidden)) for i in range(num_couplings)]
    inner = Flow([Squeeze(), *level2, Unsqueeze()], (2, 14, 14))  # (2, 14, 14) -> (8, 7, 7) -> back
    return Flow([Squeeze(), *level1, FirstChannels(inner, 2), Unsqueeze()], IMAGE_SHAPE)


def image_flow_loss(flow: Flow, x: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
    """Mean dequantization bound on -log P(x) of a batch of binarized images, one draw each (08)."""
    return image_nll(flow, x, 1, generator).mean()


def image_flow_settings(dataset: str = "mnist", seed: int = 0, num_steps: int | None = None) -> dict:
    """Every setting that changes the weights of the lecture's image flow, in the current quick/full mode (08)."""
    quick = config.QUICK
    return {"dataset": dataset, "seed": seed, "num_steps": num_steps or (30 if quick else 1000),
            "n_train": 600 if quick else 20_000, "batch_size": 64, "lr": 1e-3, "hidden": 64, "num_couplings": 4,
            "binarize_threshold": 0.5, "dequantization": "maxwell"}


def train_or_load_flow(name: str, settings: dict, x_train: torch.Tensor, loss, device: str | torch.device = "cpu") -> Flow:
    """image_flow(hidden, num_couplings) of `settings`, trained on x_train with loss(flow, batch, generator) by
    train_flow, or loaded from the checkpoint of exactly these settings; flow.history: the loss per step when
    trained here, empty when loaded (08, 10)."""
    torch.manual_seed(settings["seed"])
    flow = image_flow(settings["hidden"], settings["num_couplings"]).to(device)
    generator = torch.Generator().manual_seed(settings["seed"])
    flow.history = []

    def train():
        flow.history = train_flow(flow, lambda f, xb: loss(f, xb, generator), x_train.to(device),
                                  settings["num_steps"], settings["batch_size"], settings["lr"], generator)

    train_or_load(flow, checkpoint_path(f"{name}_{settings['dataset']}_seed{settings['seed']}"), train, settings=settings)
    return flow


def train_or_load_image_flow(dataset: str = "mnist", seed: int = 0, num_steps: int | None = None,
                             device: str | torch.device = "cpu") -> Flow:
    """The lecture's image flow with its own settings: trained on binarized `dataset` images, or loaded (08, 10)."""
    settings = image_flow_settings(dataset, seed, num_steps)
    x_train, _ = load(dataset, "train", limit=settings["n_train"])
    return train_or_load_flow("flow", settings, binarize(x_train), image_flow_loss, device)  # threshold 0.5, as in 07


def independent_pixels_nll(x_train: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """Exact NLL in nats per binarized image (B,) of independent pixels, p(x_i = 1) = training frequency (07, 08)."""
    pi = x_train.mean(0).clamp(1e-3, 1 - 1e-3)
    return -(x * pi.log() + (1 - x) * (1 - pi).log()).flatten(1).sum(1)


LOGIT_ALPHA = 0.05


def dequantize_uniform(x: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
    """8-bit images as floats k/255 in [0, 1] -> y = (k + u) / 256, u ~ U[0, 1) per pixel: a point in bin k (08)."""
    k = (x * 255).round()
    return (k + torch.rand(x.shape, generator=generator).to(x.device)) / 256


def logit_transform(y: torch.Tensor, alpha: float = LOGIT_ALPHA) -> tuple[torch.Tensor, torch.Tensor]:
    """y in [0, 1) -> v = logit(alpha + (1 - 2 alpha) y), and log|det dv/dy| summed per image (B,) (08)."""
    s = alpha + (1 - 2 * alpha) * y
    logdet = (math.log(1 - 2 * alpha) - s.log() - (1 - s).log()).flatten(1).sum(1)
    return s.log() - (1 - s).log(), logdet


def bits_per_dim(nll_nats: torch.Tensor | float, num_dims: int) -> torch.Tensor | float:
    """Negative log-likelihood in nats per image -> bits per dimension: divide by D ln 2 (08)."""
    return nll_nats / (num_dims * math.log(2))


def dequantized_nll(flow: Flow, x: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
    """Upper bound on -log P(k) in nats per 8-bit image (B,), one uniform draw: -log p(y) + D log 256 (08)."""
    v, logdet = logit_transform(dequantize_uniform(x, generator))
    return -(flow.log_prob(v) + logdet) + x[0].numel() * math.log(256)


def pixel_histogram_nll(x_train: torch.Tensor, x: torch.Tensor, smoothing: float = 1.0) -> torch.Tensor:
    """Exact -log P(k) in nats per 8-bit image (B,) of independent pixels: per-pixel 256-bin training histograms,
    `smoothing` extra counts per bin (Laplace) (08)."""
    k_train = (x_train * 255).round().long().flatten(1)                    # (N, D)
    counts = torch.zeros(k_train.shape[1], 256, device=x.device)          # (D, 256)
    counts.scatter_add_(1, k_train.T, torch.ones(k_train.T.shape, device=x.device))
    log_probs = ((counts + smoothing) / (len(k_train) + 256 * smoothing)).log()
    k = (x * 255).round().long().flatten(1)                                # (B, D)
    return -log_probs.gather(1, k.T).T.sum(1)


def image_flow_8bit_settings(dataset: str = "mnist", seed: int = 0, num_steps: int | None = None) -> dict:
    """Every setting that changes the weights of the 8-bit image flow, in the current quick/full mode (08)."""
    quick = config.QUICK
    return {"dataset": dataset, "seed": seed, "num_steps": num_steps or (20 if quick else 600),
            "n_train": 600 if quick else 20_000, "batch_size": 64, "lr": 1e-3, "hidden": 64, "num_couplings": 4,
            "bits": 8, "dequantization": "uniform", "logit_alpha": LOGIT_ALPHA}


def train_or_load_image_flow_8bit(dataset: str = "mnist", seed: int = 0, num_steps: int | None = None,
                                  device: str | torch.device = "cpu") -> Flow:
    """The same two-scale flow on 8-bit `dataset` images (uniform dequantization, logit space), trained or loaded;
    its history is the training bound in bits/dim (08)."""
    settings = image_flow_8bit_settings(dataset, seed, num_steps)
    x_train, _ = load(dataset, "train", limit=settings["n_train"])
    loss = lambda f, xb, g: bits_per_dim(dequantized_nll(f, xb, g), xb[0].numel()).mean()  # noqa: E731
    return train_or_load_flow("flow8bit", settings, x_train, loss, device)


@torch.no_grad()
def sample_images(flow: Flow, n: int, temperature: float = 1.0,
                  generator: torch.Generator | None = None) -> torch.Tensor:
    """n binarized images (n, 1, 28, 28) with values in {0, 1}: v = f^-1(T z), pixel on where v > 0 (08)."""
    return (flow.sample(n, temperature, generator) > 0).float()


# Bad input gets a clear error naming the parameter: the checks live in labhelpers/guards.py, not in the lesson.
from labhelpers.guards import guard_module  # noqa: E402

guard_module(globals())
