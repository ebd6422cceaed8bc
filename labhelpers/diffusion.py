"""Diffusion and flow matching: noise schedule, DDPM loss, DDPM/DDIM and Euler samplers, a tiny U-Net, classifier-free guidance (09)

GENERATED from notebooks/09_diffusion.ipynb by `python tools/nbtool.py export`: do not edit by hand.
Edit the cells tagged `export` in the notebook and run the export again (the pre-commit hook does).
"""
# ruff: noqa: E501

import math

import torch
import torch.nn.functional as F
from torch import nn

from labhelpers import config
from labhelpers.data import batches, load
from labhelpers.training import train_or_load


class Schedule:
    """DDPM's linear noise schedule: beta_t, alpha_t = 1 - beta_t, alpha_bar_t = prod_{s<=t} alpha_s, t = 1..T (09)."""

    def __init__(self, num_steps: int = 1000, beta_1: float = 1e-4, beta_T: float = 0.02):
        self.num_steps = num_steps
        self.betas = torch.linspace(beta_1, beta_T, num_steps, dtype=torch.float64)  # beta_1 .. beta_T
        self.alpha_bars = torch.cumprod(1 - self.betas, 0)                          # alpha_bar_1 .. alpha_bar_T

    def alpha_bar(self, t) -> torch.Tensor:
        """alpha_bar_t for integer steps t in 0..T (alpha_bar_0 = 1: no noise), as float32 on t's device (09)."""
        t = torch.as_tensor(t)
        padded = torch.cat([torch.ones(1, dtype=torch.float64), self.alpha_bars])
        return padded[t.long().cpu()].float().to(t.device)


def q_sample(x0: torch.Tensor, t: torch.Tensor, schedule: Schedule, noise: torch.Tensor) -> torch.Tensor:
    """A draw from q(x_t | x_0) in one step: x_t = sqrt(alpha_bar_t) x_0 + sqrt(1 - alpha_bar_t) eps (09)."""
    ab = schedule.alpha_bar(t).view(-1, *[1] * (x0.ndim - 1)).to(x0)  # (B, 1, ...): one alpha_bar per example
    return ab.sqrt() * x0 + (1 - ab).sqrt() * noise


def timestep_embedding(t: torch.Tensor, dim: int = 32) -> torch.Tensor:
    """Sinusoidal features (B, dim) of a time t in [0, 1], as in the Transformer and DDPM (09)."""
    half = dim // 2
    freqs = torch.exp(-math.log(1000.0) * torch.arange(half, device=t.device) / half)  # 1 ... 1/1000
    angles = 1000 * t.float()[:, None] * freqs[None]                                  # (B, half)
    return torch.cat([angles.sin(), angles.cos()], 1)


class ToyDenoiser(nn.Module):
    """An MLP f(x_t, t) for 2-D points: predicts the noise (diffusion) or the velocity (flow matching) (09)."""

    def __init__(self, hidden: int = 128, emb_dim: int = 32):
        super().__init__()
        self.emb_dim = emb_dim
        self.net = nn.Sequential(nn.Linear(2 + emb_dim, hidden), nn.SiLU(), nn.Linear(hidden, hidden), nn.SiLU(),
                                 nn.Linear(hidden, hidden), nn.SiLU(), nn.Linear(hidden, 2))

    def forward(self, x: torch.Tensor, t: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        return self.net(torch.cat([x, timestep_embedding(t, self.emb_dim)], 1))  # (B, 2)


def ddpm_loss(model: nn.Module, x0: torch.Tensor, schedule: Schedule, generator: torch.Generator,
              y: torch.Tensor | None = None) -> torch.Tensor:
    """Ho et al.'s simple objective E_{t, eps} ||eps - eps_theta(x_t, t)||^2, t ~ U{1, ..., T} (09)."""
    t = torch.randint(1, schedule.num_steps + 1, (len(x0),), generator=generator).to(x0.device)
    noise = torch.randn(x0.shape, generator=generator).to(x0.device)
    x_t = q_sample(x0, t, schedule, noise)                            # the closed-form jump of section 2
    return F.mse_loss(model(x_t, t / schedule.num_steps, y), noise)  # the network sees t / T in [0, 1]


def train_steps(model: nn.Module, loss_fn, x: torch.Tensor, y: torch.Tensor, num_steps: int, batch_size: int,
                lr: float, generator: torch.Generator) -> list[float]:
    """Adam on loss_fn(model, x_batch, y_batch) for num_steps mini-batches, lr decayed to 0; the losses (09)."""
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    decay = torch.optim.lr_scheduler.CosineAnnealingLR(opt, num_steps)
    model.train()
    losses: list[float] = []
    while len(losses) < num_steps:
        for xb, yb in batches(x, y, batch_size=batch_size, generator=generator):
            loss = loss_fn(model, xb, yb)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            nn.utils.clip_grad_norm_(model.parameters(), 1.0)  # a rare huge gradient cannot wreck the net
            opt.step()
            decay.step()
            losses.append(loss.item())
            if len(losses) == num_steps:
                break
    model.eval()
    return losses


def sampling_times(schedule: Schedule, steps: int) -> list[int]:
    """`steps` integer times from T down to 1, evenly spaced: the sub-sequence a few-step sampler visits (09)."""
    return torch.linspace(schedule.num_steps, 1, steps).round().long().tolist()


def reverse_step(x: torch.Tensor, eps: torch.Tensor, ab: torch.Tensor, ab_prev: torch.Tensor, eta: float,
                 noise: torch.Tensor, clip: float | None = None) -> torch.Tensor:
    """One step x_t -> x_s (s < t) of DDIM (Song et al. 2021, eq. 12); eta = 1 is DDPM's ancestral step (09)."""
    x0_hat = (x - (1 - ab).sqrt() * eps) / ab.sqrt()  # Tweedie: the predicted clean x_0
    if clip is not None:                              # images live in [-1, 1]: keep the prediction there
        x0_hat = x0_hat.clamp(-clip, clip)
        eps = (x - ab.sqrt() * x0_hat) / (1 - ab).sqrt()
    sigma = eta * ((1 - ab_prev) / (1 - ab) * (1 - ab / ab_prev)).sqrt()  # sqrt(beta_tilde) for eta = 1, s = t - 1
    return ab_prev.sqrt() * x0_hat + (1 - ab_prev - sigma ** 2).clamp_min(0).sqrt() * eps + sigma * noise


def guided(model: nn.Module, x: torch.Tensor, t: torch.Tensor, labels: torch.Tensor | None,
           guidance: float) -> torch.Tensor:
    """The network's output, with classifier-free guidance (1 + w) f(x, t, y) - w f(x, t, no label) if w != 0 (09)."""
    if labels is None or guidance == 0:
        return model(x, t, labels)
    empty = torch.full_like(labels, model.num_classes)  # the extra "no label" class of label dropout
    return (1 + guidance) * model(x, t, labels) - guidance * model(x, t, empty)


def drop_labels(labels: torch.Tensor, no_label: int, p: float, generator: torch.Generator) -> torch.Tensor:
    """Label dropout: each label becomes `no_label` with probability p, so one network also learns f(x, t) (09)."""
    drop = torch.rand(len(labels), generator=generator).to(labels.device) < p
    return torch.where(drop, torch.full_like(labels, no_label), labels)


@torch.no_grad()
def sample_diffusion(model: nn.Module, shape: tuple[int, ...], schedule: Schedule, steps: int, eta: float = 1.0,
                     labels: torch.Tensor | None = None, guidance: float = 0.0,
                     generator: torch.Generator | None = None, clip: float | None = None, return_path: bool = False):
    """Sample with `steps` network calls from x_T ~ N(0, I): DDPM ancestral (eta = 1) or DDIM (eta = 0) (09)."""
    device = next(model.parameters()).device
    x = torch.randn(shape, generator=generator).to(device)
    times, path = sampling_times(schedule, steps), [x]
    for i, t in enumerate(times):
        ab, ab_prev = schedule.alpha_bar(t), schedule.alpha_bar(times[i + 1] if i + 1 < len(times) else 0)
        eps = guided(model, x, torch.full((shape[0],), t / schedule.num_steps, device=device), labels, guidance)
        noise = torch.randn(shape, generator=generator).to(device)
        x = reverse_step(x, eps, ab.to(device), ab_prev.to(device), eta, noise, clip)
        path.append(x)
    return torch.stack(path) if return_path else x  # (steps + 1, *shape) or shape


def flow_matching_loss(model: nn.Module, x1: torch.Tensor, generator: torch.Generator,
                       y: torch.Tensor | None = None) -> torch.Tensor:
    """Conditional flow matching on straight paths x_t = (1 - t) x_0 + t x_1, x_0 ~ N(0, I): target x_1 - x_0 (09)."""
    x0 = torch.randn(x1.shape, generator=generator).to(x1.device)
    t = torch.rand(len(x1), generator=generator).to(x1.device)
    t_ = t.view(-1, *[1] * (x1.ndim - 1))                        # (B, 1, ...) broadcasts over x
    x_t = (1 - t_) * x0 + t_ * x1                                # a point on the line
    return F.mse_loss(model(x_t, t, y), x1 - x0)                 # its velocity


@torch.no_grad()
def sample_flow(model: nn.Module, shape: tuple[int, ...], steps: int, labels: torch.Tensor | None = None,
                guidance: float = 0.0, generator: torch.Generator | None = None, return_path: bool = False):
    """Integrate dx/dt = v_theta(x, t) from t = 0 (noise) to t = 1 (data) with `steps` Euler steps (09)."""
    device = next(model.parameters()).device
    x = torch.randn(shape, generator=generator).to(device)
    path, dt = [x], 1.0 / steps
    for i in range(steps):
        t = torch.full((shape[0],), i * dt, device=device)
        x = x + dt * guided(model, x, t, labels, guidance)       # one Euler step
        path.append(x)
    return torch.stack(path) if return_path else x  # (steps + 1, *shape) or shape


class Block(nn.Module):
    """GroupNorm-SiLU-conv twice, the time/label embedding added in between, and a residual path (09)."""

    def __init__(self, c_in: int, c_out: int, emb_dim: int):
        super().__init__()
        self.norm1, self.conv1 = nn.GroupNorm(8, c_in), nn.Conv2d(c_in, c_out, 3, padding=1)
        self.emb = nn.Linear(emb_dim, c_out)
        self.norm2, self.conv2 = nn.GroupNorm(8, c_out), nn.Conv2d(c_out, c_out, 3, padding=1)
        self.skip = nn.Conv2d(c_in, c_out, 1) if c_in != c_out else nn.Identity()

    def forward(self, x: torch.Tensor, emb: torch.Tensor) -> torch.Tensor:
        h = self.conv1(F.silu(self.norm1(x)))
        h = h + self.emb(emb)[:, :, None, None]  # the same shift for every pixel of a channel
        h = self.conv2(F.silu(self.norm2(h)))
        return h + self.skip(x)


class TinyUNet(nn.Module):
    """A two-level U-Net f(x_t, t, y) for in_channels x 14 x 14 images (any size works); label `num_classes`
    means "no label" (09)."""

    def __init__(self, channels: tuple[int, int] = (32, 64), emb_dim: int = 64, num_classes: int = 10,
                 in_channels: int = 1):
        super().__init__()
        c1, c2 = channels
        self.num_classes, self.emb_dim = num_classes, emb_dim
        self.time = nn.Sequential(nn.Linear(emb_dim, emb_dim), nn.SiLU(), nn.Linear(emb_dim, emb_dim))
        self.label = nn.Embedding(num_classes + 1, emb_dim)
        self.inc = nn.Conv2d(in_channels, c1, 3, padding=1)
        self.down1, self.pool1 = Block(c1, c1, emb_dim), nn.Conv2d(c1, c2, 3, stride=2, padding=1)
        self.down2, self.pool2 = Block(c2, c2, emb_dim), nn.Conv2d(c2, c2, 3, stride=2, padding=1)
        self.mid = Block(c2, c2, emb_dim)
        self.up2, self.up1 = Block(2 * c2, c2, emb_dim), Block(c2 + c1, c1, emb_dim)
        self.out = nn.Sequential(nn.GroupNorm(8, c1), nn.SiLU(), nn.Conv2d(c1, in_channels, 3, padding=1))

    def forward(self, x: torch.Tensor, t: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        if y is None:
            y = torch.full((len(x),), self.num_classes, dtype=torch.long, device=x.device)
        emb = self.time(timestep_embedding(t, self.emb_dim)) + self.label(y)        # (B, emb_dim)
        h1 = self.down1(self.inc(x), emb)                                            # (B, c1, 14, 14)
        h2 = self.down2(self.pool1(h1), emb)                                         # (B, c2, 7, 7)
        h = self.mid(self.pool2(h2), emb)                                            # (B, c2, 4, 4)
        h = self.up2(torch.cat([F.interpolate(h, size=h2.shape[-2:]), h2], 1), emb)  # (B, c2, 7, 7)
        h = self.up1(torch.cat([F.interpolate(h, size=h1.shape[-2:]), h1], 1), emb)  # (B, c1, 14, 14)
        return self.out(h)                                                           # (B, in_channels, 14, 14)


IMAGE_SIZE = 14                   # the image models work on 14 x 14 digits (28 x 28, area-downsampled)
IMAGE_SETTINGS = {                # lecture 09's settings; lecture 12 loads the same checkpoints through them
    "full": {"num_steps": 1200, "n_train": 4000, "batch_size": 128, "lr": 2e-3, "channels": [16, 32],
             "label_dropout": 0.1, "image_size": IMAGE_SIZE, "T": 1000},
    "quick": {"num_steps": 40, "n_train": 500, "batch_size": 64, "lr": 2e-3, "channels": [16, 32],
              "label_dropout": 0.1, "image_size": IMAGE_SIZE, "T": 1000},
}


def image_data(dataset: str, split: str, n: int | None, image_size: int = IMAGE_SIZE):
    """(x in [-1, 1] of shape (N, 1, image_size, image_size), labels) from a dataset of 28 x 28 images (09)."""
    x, y = load(dataset, split, limit=n)
    if x.shape[-1] != image_size:
        x = F.interpolate(x, size=(image_size, image_size), mode="area")  # average 2 x 2 blocks
    return x * 2 - 1, y


def image_model(objective: str = "eps", dataset: str = "mnist", seed: int = 0, device: str | torch.device = "cpu",
                **overrides):
    """Train or load lecture 09's image U-Net, 'eps' (diffusion, label dropout) or 'flow' (flow matching), with
    IMAGE_SETTINGS for the mode in force (overrides that are None are ignored); returns (model, losses) (09)."""
    if objective not in ("eps", "flow"):
        raise ValueError(f"objective={objective!r}: use 'eps' (diffusion) or 'flow' (flow matching)")
    s = {**IMAGE_SETTINGS["quick" if config.QUICK else "full"], **{k: v for k, v in overrides.items() if v is not None}}
    x, y = image_data(dataset, "train", s["n_train"], s["image_size"])
    torch.manual_seed(seed)
    model = TinyUNet(tuple(s["channels"])).to(device)
    schedule, gen = Schedule(s["T"]), torch.Generator().manual_seed(seed)

    def loss_fn(m, xb, yb):
        yb = drop_labels(yb, m.num_classes, s["label_dropout"], gen)  # "no label" some of the time
        return ddpm_loss(m, xb, schedule, gen, yb) if objective == "eps" else flow_matching_loss(m, xb, gen, yb)

    losses: list[float] = []
    train_or_load(model, config.checkpoint_path(f"09_unet_{objective}_{dataset}"),
                  lambda: losses.extend(train_steps(model, loss_fn, x.to(device), y.to(device), s["num_steps"],
                                                    s["batch_size"], s["lr"], gen)),
                  settings={**s, "objective": objective, "dataset": dataset, "seed": seed})
    return model, losses


def sample_images(model: nn.Module, n: int, method: str = "ddim", steps: int = 20, labels: torch.Tensor | None = None,
                  guidance: float = 0.0, generator: torch.Generator | None = None, size: int | None = None) -> torch.Tensor:
    """n images in [0, 1], (n, 1, 14, 14) or bilinearly resized to size x size; 'ddpm' or 'ddim' for an 'eps'
    model, 'euler' for a 'flow' model; `steps` network calls (twice as many with guidance) (09)."""
    shape = (n, 1, IMAGE_SIZE, IMAGE_SIZE)
    if method == "euler":
        x = sample_flow(model, shape, steps, labels, guidance, generator)
    elif method in ("ddpm", "ddim"):
        x = sample_diffusion(model, shape, Schedule(), steps, 1.0 if method == "ddpm" else 0.0, labels, guidance,
                             generator, clip=1.0)
    else:
        raise ValueError(f"method={method!r}: use 'ddpm' or 'ddim' (an 'eps' model) or 'euler' (a 'flow' model)")
    x = ((x + 1) / 2).clamp(0, 1)
    return F.interpolate(x, size=(size, size), mode="bilinear", align_corners=False) if size else x


# Bad input gets a clear error naming the parameter: the checks live in labhelpers/guards.py, not in the lesson.
from labhelpers.guards import guard_module  # noqa: E402

guard_module(globals())
