"""Side by side with what a user would pick instead (issue 23, item 3): the course's recipes against libraries.

Each comparison trains the course's model and a reference model on the same data for the same budget of
**process CPU time** (time.process_time(): the other processes on the machine do not eat into it), then scores
both with the same metric:

- diffusion (09): labhelpers.diffusion (TinyUNet, Schedule, ddpm_loss) vs Hugging Face diffusers
  (UNet2DModel + DDPMScheduler for training, DDIMScheduler for sampling), (a) at the course's size and 14x14 data,
  (b) as the Hugging Face diffusion-models class configures it for MNIST (28x28, 1.7M parameters);
- flow matching (09): labhelpers.diffusion.flow_matching_loss vs torchcfm's ExactOptimalTransportConditionalFlowMatcher
  (OT-CFM), both training the course's TinyUNet (the recipe compared with the same network);
- flow (08): labhelpers.flows.image_flow on 8-bit images vs a normflows Glow (MultiscaleFlow of GlowBlocks) at a
  matched parameter count, on the same uniformly dequantized, logit-transformed data; test bits/dim;
- PixelCNN (07): labhelpers.pixelcnn.PixelCNN vs a port of the UvA deep-learning course's gated PixelCNN
  (tutorial 12, vertical and horizontal stacks, dilations 1-2-1-4-1-2-1) with one Bernoulli logit per pixel, at a
  matched parameter count; test NLL in nats on the same binarized images;
- latent diffusion (11): lecture 11's question, course against course: flow matching in labhelpers.latent's
  autoencoder latent space (the autoencoder paid from the same budget) vs the same flow matching on 28x28 pixels,
  with torchcfm's ConditionalFlowMatcher in latent space as an optional third side.

The image models are scored by FID in the features of a judge classifier trained here as lecture 09 trains it
(lh.train_classifier on the same 14x14 images), with the same number of samples, the same sampler and the same
number of network calls on both sides, plus the share of samples the judge classifies with confidence >= 0.9.
The optional libraries are imported inside the functions that need them (`pip install -e ".[bench]"`).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import nn

from labhelpers.diffusion import drop_labels  # the course's label dropout (09), used on every side

LIBRARIES = {"diffusion": ["diffusers"], "diffusion_hf_mnist": ["diffusers"], "flow_matching": ["torchcfm"],
             "flow": ["normflows"], "pixelcnn": [],
             "latent_diffusion": []}  # the course's own code on both sides; torchcfm only for its optional third side
COMPARISONS = ("diffusion", "diffusion_hf_mnist", "flow_matching", "flow", "pixelcnn", "latent_diffusion")


@dataclass
class Settings:
    """Everything that sizes the side-by-side runs; the defaults are the real benchmark, tests shrink them."""

    budgets_cpu_s: tuple[float, ...] = (60.0, 180.0)
    threads: int = 1
    n_samples: int = 500            # samples scored per image model (FID, judge confidence)
    hf_samples: int = 100           # samples on both sides of the HF-MNIST row (its 28x28 sampler is ~40x slower)
    sample_steps: int = 50          # network calls per sample: DDIM (diffusion), Euler (flow matching)
    batch_size: int = 128           # the course's batch for 07 and 09 (08 and the references: their own, below)
    judge_epochs: int = 4           # lecture 09's full mode
    seed: int = 0
    min_steps: int = 1              # at least this many steps whatever the budget (tests)
    comparisons: tuple[str, ...] = COMPARISONS
    tiny_models: bool = False       # tests only: the HF MNIST U-Net at a width that runs in a second
    fm_conditional: bool = True     # False: the flow-matching row without labels on both sides (a diagnostic)
    latent_sample_steps: int = 8    # Euler calls per sample in the latent-vs-pixel row (lecture 11's count)
    latent_library: bool = True     # the latent row's optional torchcfm side (when torchcfm is installed)
    extra: dict = field(default_factory=dict)


def n_params(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def missing_libraries(names: list[str]) -> list[str]:
    import importlib.util

    return [n for n in names if importlib.util.find_spec(n) is None]


# ---------------------------------------------------------------------------------------------
# training within a CPU-time budget
# ---------------------------------------------------------------------------------------------

def train_for_cpu_budget(params, step: Callable[[], torch.Tensor], optimizer: torch.optim.Optimizer, budget_s: float,
                         cosine: bool = False, clip: float | None = None, min_steps: int = 1,
                         per_epoch: Callable[[int], None] | None = None, steps_per_epoch: int | None = None) -> dict:
    """Run `step()` (returns the loss) with backward and optimizer steps until `budget_s` seconds of process CPU time
    are spent. cosine=True anneals the learning rate to 0 over the budget (the course's CosineAnnealingLR over the
    run, with the run's length known in CPU time instead of steps). Returns steps, CPU and wall seconds, losses."""
    params = list(params)
    base_lrs = [g["lr"] for g in optimizer.param_groups]
    start_cpu, start_wall = time.process_time(), time.perf_counter()
    losses: list[float] = []
    while True:
        spent = time.process_time() - start_cpu
        if spent >= budget_s and len(losses) >= min_steps:
            break
        if cosine:
            frac = min(spent / budget_s, 1.0) if budget_s > 0 else 1.0
            for g, lr in zip(optimizer.param_groups, base_lrs):
                g["lr"] = 0.5 * lr * (1 + math.cos(math.pi * frac))
        loss = step()
        optimizer.zero_grad(set_to_none=True)
        if torch.isfinite(loss):
            loss.backward()
            if clip is not None:
                nn.utils.clip_grad_norm_(params, clip)
            optimizer.step()
        losses.append(loss.item())
        if per_epoch is not None and steps_per_epoch and len(losses) % steps_per_epoch == 0:
            per_epoch(len(losses) // steps_per_epoch)
    cpu_s = time.process_time() - start_cpu
    return {"steps": len(losses), "cpu_s": cpu_s, "wall_s": time.perf_counter() - start_wall,
            "steps_per_cpu_s": len(losses) / cpu_s if cpu_s > 0 else float("nan"),
            "final_loss": sum(losses[-20:]) / len(losses[-20:]) if losses else float("nan")}


class EpochBatches:
    """Endless shuffled mini-batches of (x, y), one permutation per epoch (labhelpers.data.batches' order)."""

    def __init__(self, x: torch.Tensor, y: torch.Tensor | None, batch_size: int, generator: torch.Generator):
        self.x, self.y, self.batch_size, self.g = x, y, min(batch_size, len(x)), generator
        self._it = iter(())

    def _epoch(self):
        from labhelpers.data import batches

        tensors = (self.x,) if self.y is None else (self.x, self.y)
        return batches(*tensors, batch_size=self.batch_size, generator=self.g)

    def __call__(self):
        try:
            return next(self._it)
        except StopIteration:
            self._it = iter(self._epoch())
            return next(self._it)


# ---------------------------------------------------------------------------------------------
# the judge: FID and confident share in lecture 09's features
# ---------------------------------------------------------------------------------------------

class Judge:
    """Lecture 09's judge: lh.train_classifier on the 14x14 training images in [0, 1]; FID in its features."""

    def __init__(self, x_train01: torch.Tensor, y_train: torch.Tensor, x_test01: torch.Tensor, y_test: torch.Tensor,
                 epochs: int, seed: int, n_samples: int):
        import labhelpers as lh

        start = time.perf_counter()
        self.model = lh.train_classifier(x_train01, y_train, num_epochs=epochs,
                                         generator=torch.Generator().manual_seed(seed))
        self.train_s = time.perf_counter() - start
        self.accuracy = (lh.classify(self.model, x_test01) == y_test).float().mean().item()
        self.real = self.features(x_test01)
        self.size = x_train01.shape[-1]
        n = min(n_samples, len(x_train01))
        self.fid_floor = self.fid(x_train01[:n])            # real training images at the sample size: the floor
        self.real_confident = self.confident_share(x_test01)

    def features(self, x01: torch.Tensor) -> torch.Tensor:
        import labhelpers as lh

        return lh.predict(self.model.features, x01)

    def _fit(self, x01: torch.Tensor) -> torch.Tensor:
        if x01.shape[-1] != self.size:  # 28x28 samples: the same area downsampling as labhelpers.diffusion.image_data
            x01 = F.interpolate(x01, size=(self.size, self.size), mode="area")
        return x01

    def fid(self, x01: torch.Tensor) -> float:
        from labhelpers.evaluation import fid

        return float(fid(self.features(self._fit(x01)), self.real))

    def confident_share(self, x01: torch.Tensor) -> float:
        import labhelpers as lh

        probs = lh.predict(self.model, self._fit(x01)).softmax(1)
        return (probs.max(1).values >= 0.9).float().mean().item()

    def score(self, x01: torch.Tensor) -> dict:
        return {"fid": self.fid(x01), "confident_share": self.confident_share(x01)}


def uniform_labels(n: int) -> torch.Tensor:
    """Labels 0, 1, ..., 9, 0, 1, ...: every class equally often, in any prefix too."""
    return torch.arange(n) % 10


# ---------------------------------------------------------------------------------------------
# diffusion (09) against diffusers
# ---------------------------------------------------------------------------------------------

def course_unet(channels=(16, 32)):
    from labhelpers.diffusion import TinyUNet

    return TinyUNet(tuple(channels))


def diffusers_unet_matched(target_params: int):
    """UNet2DModel at the course's size: the HF class's MNIST layout (a plain block, then a block with attention),
    two resolutions (14 -> 7; a third would need 14 -> 7 -> 4 -> 8, which UNet2DModel's up path cannot undo),
    layers_per_block=1, class embedding via num_class_embeds=11 (10 labels + "no label", as the course's
    nn.Embedding(11)), widths (multiples of 8, for GroupNorm(8) as the course's) whose parameter count is closest to
    `target_params`."""
    from diffusers import UNet2DModel

    def make(c):
        return UNet2DModel(sample_size=14, in_channels=1, out_channels=1, layers_per_block=1,
                           block_out_channels=c, down_block_types=("DownBlock2D", "AttnDownBlock2D"),
                           up_block_types=("AttnUpBlock2D", "UpBlock2D"), num_class_embeds=11, norm_num_groups=8)

    widths = [(a, b) for a in (8, 16, 24, 32) for b in (8, 16, 24, 32, 48, 64) if a <= b]
    best = min(widths, key=lambda c: abs(n_params(make(c)) - target_params))
    return make(best), {"block_out_channels": best, "layers_per_block": 1,
                        "blocks": "DownBlock2D, AttnDownBlock2D / AttnUpBlock2D, UpBlock2D", "num_class_embeds": 11}


class HFClassConditionedUnet(nn.Module):
    """The Hugging Face diffusion-models class's MNIST model (unit 2, class-conditioned): a 4-dimensional label
    embedding broadcast as extra input channels of a UNet2DModel(28, (32, 64, 64), layers_per_block=2, attention
    in the two lower blocks)."""

    def __init__(self, num_classes: int = 10, class_emb_size: int = 4, width: int = 32):
        super().__init__()
        from diffusers import UNet2DModel

        self.class_emb = nn.Embedding(num_classes, class_emb_size)
        self.model = UNet2DModel(sample_size=28, in_channels=1 + class_emb_size, out_channels=1, layers_per_block=2,
                                 block_out_channels=(width, 2 * width, 2 * width),
                                 down_block_types=("DownBlock2D", "AttnDownBlock2D", "AttnDownBlock2D"),
                                 up_block_types=("AttnUpBlock2D", "AttnUpBlock2D", "UpBlock2D"),
                                 norm_num_groups=min(32, width))

    def forward(self, x, t, class_labels):
        b, _, h, w = x.shape
        emb = self.class_emb(class_labels)[:, :, None, None].expand(b, -1, h, w)
        return self.model(torch.cat([x, emb], 1), t).sample


@torch.no_grad()
def diffusers_ddim_sample(net: Callable, train_scheduler, n: int, size: int, steps: int, labels: torch.Tensor,
                          generator: torch.Generator) -> torch.Tensor:
    """DDIMScheduler.from_config(the training DDPMScheduler's config), `steps` network calls, eta = 0 (its
    default); images in [0, 1]."""
    from diffusers import DDIMScheduler

    sched = DDIMScheduler.from_config(train_scheduler.config)
    sched.set_timesteps(steps)
    x = torch.randn(n, 1, size, size, generator=generator)
    for t in sched.timesteps:
        eps = net(x, t.expand(n), labels)
        x = sched.step(eps, t, x).prev_sample
    return ((x + 1) / 2).clamp(0, 1)


def course_diffusion(data: dict, judge: Judge, s: Settings, budget: float) -> dict:
    """Lecture 09's image_model loop on 14x14 images within the budget (Adam 2e-3, cosine to 0, clip 1, label
    dropout 0.1), sampled with its DDIM (`sample_steps` calls) at uniform labels and scored by the judge."""
    from labhelpers.diffusion import Schedule, ddpm_loss, sample_images

    x, y = data["x14"], data["y"]
    torch.manual_seed(s.seed)
    model = course_unet()
    g = torch.Generator().manual_seed(s.seed)
    nxt, schedule = EpochBatches(x, y, s.batch_size, g), Schedule(1000)

    def course_step():
        xb, yb = nxt()
        return ddpm_loss(model, xb, schedule, g, drop_labels(yb, 10, 0.1, g))

    run = train_for_cpu_budget(model.parameters(), course_step, torch.optim.Adam(model.parameters(), lr=2e-3),
                               budget, cosine=True, clip=1.0, min_steps=s.min_steps)
    model.eval()
    xs = sample_images(model, s.n_samples, "ddim", s.sample_steps, labels=uniform_labels(s.n_samples),
                       generator=torch.Generator().manual_seed(s.seed + 1))
    return {**run, **judge.score(xs), "params": n_params(model), "n_samples": len(xs), "samples": xs}


def run_diffusion(data: dict, judge: Judge, s: Settings, budget: float) -> dict:
    """(a) the course's recipe vs diffusers at the course's size, 14x14, both with the course's label use: the same
    loop (Adam 2e-3, cosine to 0 over the budget, clip 1, label dropout 0.1), data and sampler budget; diffusers
    brings its UNet2DModel, its DDPMScheduler (defaults) and its DDIMScheduler."""
    from diffusers import DDPMScheduler

    out = {"course": course_diffusion(data, judge, s, budget)}  # its "samples" are taken out by run_references
    x, y = data["x14"], data["y"]
    labels = uniform_labels(s.n_samples)
    # diffusers at the course's size: the same loop, data and label dropout; its UNet and its DDPMScheduler
    torch.manual_seed(s.seed)
    unet, config = diffusers_unet_matched(out["course"]["params"])
    sched = DDPMScheduler()  # its defaults: 1000 steps, linear betas 1e-4 .. 0.02, epsilon prediction
    g = torch.Generator().manual_seed(s.seed)
    nxt = EpochBatches(x, y, s.batch_size, g)

    def ref_step():
        xb, yb = nxt()
        noise = torch.randn(xb.shape, generator=g)
        t = torch.randint(0, sched.config.num_train_timesteps, (len(xb),), generator=g)
        pred = unet(sched.add_noise(xb, noise, t), t, class_labels=drop_labels(yb, 10, 0.1, g)).sample
        return F.mse_loss(pred, noise)

    run = train_for_cpu_budget(unet.parameters(), ref_step, torch.optim.Adam(unet.parameters(), lr=2e-3), budget,
                               cosine=True, clip=1.0, min_steps=s.min_steps)
    unet.eval()
    xs = diffusers_ddim_sample(lambda xt, t, lab: unet(xt, t, class_labels=lab).sample, sched, s.n_samples, 14,
                               s.sample_steps, labels, torch.Generator().manual_seed(s.seed + 1))
    out["reference"] = {**run, **judge.score(xs), "params": n_params(unet), "config": config, "n_samples": len(xs)}
    return out


def run_diffusion_hf_mnist(data: dict, judge: Judge, s: Settings, budget: float, course: dict | None = None) -> dict:
    """(b) the course's recipe (14x14) vs the HF class's MNIST recipe (28x28): its model, its DDPMScheduler
    (squaredcos_cap_v2), Adam lr 1e-3 constant, batch 128, labels always given; sampled with DDIM at 28x28 and
    scored after the same area downsampling to 14x14 that the course's data goes through. Its sampling costs ~40x
    the course's per image, so this row scores `hf_samples` samples on both sides (the first of the course's)."""
    from diffusers import DDPMScheduler

    course = course if course is not None else course_diffusion(data, judge, s, budget)
    n = min(s.hf_samples, len(course["samples"]))
    out = {"course": {**{k: v for k, v in course.items() if k != "samples"}, **judge.score(course["samples"][:n]),
                      "n_samples": n}}
    torch.manual_seed(s.seed)
    net = HFClassConditionedUnet(width=8 if s.tiny_models else 32)
    sched = DDPMScheduler(num_train_timesteps=1000, beta_schedule="squaredcos_cap_v2")
    g = torch.Generator().manual_seed(s.seed)
    nxt = EpochBatches(data["x28"], data["y"], s.batch_size, g)

    def ref_step():
        xb, yb = nxt()
        noise = torch.randn(xb.shape, generator=g)
        t = torch.randint(0, 1000, (len(xb),), generator=g)
        return F.mse_loss(net(sched.add_noise(xb, noise, t), t, yb), noise)

    run = train_for_cpu_budget(net.parameters(), ref_step, torch.optim.Adam(net.parameters(), lr=1e-3), budget,
                               min_steps=s.min_steps)
    net.eval()
    xs = diffusers_ddim_sample(net, sched, n, 28, s.sample_steps, uniform_labels(n),
                               torch.Generator().manual_seed(s.seed + 1))
    out["reference"] = {**run, **judge.score(xs), "params": n_params(net), "n_samples": n,
                        "config": {"sample_size": 28, "block_out_channels": net.model.config.block_out_channels,
                                   "layers_per_block": 2,
                                   "beta_schedule": "squaredcos_cap_v2", "lr": 1e-3}}
    return out


# ---------------------------------------------------------------------------------------------
# flow matching (09) against torchcfm's OT-CFM, same network
# ---------------------------------------------------------------------------------------------

def run_flow_matching(data: dict, judge: Judge, s: Settings, budget: float) -> dict:
    from torchcfm.conditional_flow_matching import ExactOptimalTransportConditionalFlowMatcher

    from labhelpers.diffusion import flow_matching_loss, sample_images

    x, y = data["x14"], data["y"]
    labels = uniform_labels(s.n_samples) if s.fm_conditional else None
    p_drop = 0.1 if s.fm_conditional else 1.0  # 1.0: every label is "no label", an unconditional model
    out = {}
    for side in ("course", "reference"):
        torch.manual_seed(s.seed)
        model = course_unet()
        g = torch.Generator().manual_seed(s.seed)
        nxt = EpochBatches(x, y, s.batch_size, g)
        cfm = ExactOptimalTransportConditionalFlowMatcher()  # its default sigma = 0.0

        def step(model=model, nxt=nxt, g=g, cfm=cfm, side=side):
            xb, yb = nxt()
            yb = drop_labels(yb, 10, p_drop, g)
            if side == "course":
                return flow_matching_loss(model, xb, g, yb)
            x0 = torch.randn(xb.shape, generator=g)  # noise at t = 0, data at t = 1: the course's convention too
            t, xt, ut, _, y1 = cfm.guided_sample_location_and_conditional_flow(x0, xb, None, yb)
            return F.mse_loss(model(xt, t, y1), ut)

        run = train_for_cpu_budget(model.parameters(), step, torch.optim.Adam(model.parameters(), lr=2e-3), budget,
                                   cosine=True, clip=1.0, min_steps=s.min_steps)
        model.eval()
        xs = sample_images(model, s.n_samples, "euler", s.sample_steps, labels=labels,
                           generator=torch.Generator().manual_seed(s.seed + 1))
        out[side] = {**run, **judge.score(xs), "params": n_params(model), "n_samples": len(xs)}
    out["reference"]["config"] = {"matcher": "ExactOptimalTransportConditionalFlowMatcher(sigma=0.0)",
                                  "network": "the course's TinyUNet", "conditional": s.fm_conditional}
    return out


# ---------------------------------------------------------------------------------------------
# flow (08) against normflows Glow
# ---------------------------------------------------------------------------------------------

def normflows_glow(hidden: int, k: int = 4):
    """A two-level normflows MultiscaleFlow of GlowBlocks for (1, 28, 28), laid out as normflows' Glow example
    (L = 2 here: 28 -> 14 -> 7, as the course's two-scale flow), unconditional DiagGaussian bases."""
    import normflows as nf

    levels, input_shape, q0, merges, flows = 2, (1, 28, 28), [], [], []
    for i in range(levels):
        flows.append([nf.flows.GlowBlock(input_shape[0] * 2 ** (levels + 1 - i), hidden, split_mode="channel",
                                         scale=True) for _ in range(k)] + [nf.flows.Squeeze()])
        if i > 0:
            merges.append(nf.flows.Merge())
            shape = (input_shape[0] * 2 ** (levels - i), input_shape[1] // 2 ** (levels - i),
                     input_shape[2] // 2 ** (levels - i))
        else:
            shape = (input_shape[0] * 2 ** (levels + 1), input_shape[1] // 2 ** levels, input_shape[2] // 2 ** levels)
        q0.append(nf.distributions.DiagGaussian(shape))
    return nf.MultiscaleFlow(q0, flows, merges, class_cond=False)


def matched_glow(target_params: int, k: int = 4):
    best = min(range(16, 129, 4), key=lambda h: abs(n_params(normflows_glow(h, k)) - target_params))
    return normflows_glow(best, k), {"levels": 2, "K": k, "hidden_channels": best, "split_mode": "channel",
                                     "scale": True, "base": "DiagGaussian (trainable)",
                                     "optimizer": "Adamax lr 1e-3, weight decay 1e-5 (normflows' Glow example)",
                                     "batch_size": 128}


def _bits_per_dim(log_prob_v: torch.Tensor, logdet: torch.Tensor, d: int) -> torch.Tensor:
    return (-(log_prob_v + logdet) + d * math.log(256)) / (d * math.log(2))


def flow_test_bpd(log_prob: Callable, x_test: torch.Tensor, seed: int) -> float:
    """Test bits/dim with one uniform dequantization draw per image (the same draw for both models)."""
    from labhelpers.flows import dequantize_uniform, logit_transform

    g, total = torch.Generator().manual_seed(seed + 7), 0.0
    with torch.no_grad():
        for i in range(0, len(x_test), 500):
            xb = x_test[i:i + 500]
            v, logdet = logit_transform(dequantize_uniform(xb, g))
            total += _bits_per_dim(log_prob(v), logdet, xb[0].numel()).sum().item()
    return total / len(x_test)


def run_flow(data: dict, s: Settings, budget: float) -> dict:
    from labhelpers.flows import dequantize_uniform, image_flow, logit_transform

    x, x_test = data["x28_01"], data["x28_01_test"]
    d = x[0].numel()
    out = {}
    # the course: 08's 8-bit recipe (image_flow(64, 4), Adam 1e-3, batch 64, random batches, clip 50)
    torch.manual_seed(s.seed)
    flow = image_flow(64, 4)
    g = torch.Generator().manual_seed(s.seed)
    bs = min(64, len(x))

    def course_step():
        xb = x[torch.randint(len(x), (bs,), generator=g)]
        v, logdet = logit_transform(dequantize_uniform(xb, g))
        return _bits_per_dim(flow.log_prob(v), logdet, d).mean()

    flow.train()
    run = train_for_cpu_budget(flow.parameters(), course_step, torch.optim.Adam(flow.parameters(), lr=1e-3), budget,
                               clip=50.0, min_steps=s.min_steps)
    flow.eval()
    out["course"] = {**run, "bpd": flow_test_bpd(flow.log_prob, x_test, s.seed), "params": n_params(flow)}
    # normflows Glow at the same parameter count, the same data and logit transform; its example's optimizer
    torch.manual_seed(s.seed)
    glow, config = matched_glow(out["course"]["params"])
    g = torch.Generator().manual_seed(s.seed)
    nxt = EpochBatches(x, None, 128, g)

    def ref_step():
        (xb,) = nxt()
        v, logdet = logit_transform(dequantize_uniform(xb, g))
        return _bits_per_dim(glow.log_prob(v, None), logdet, d).mean()

    glow.train()
    run = train_for_cpu_budget(glow.parameters(), ref_step,
                               torch.optim.Adamax(glow.parameters(), lr=1e-3, weight_decay=1e-5), budget,
                               min_steps=s.min_steps)  # a non-finite loss skips the step, as the example does
    glow.eval()
    out["reference"] = {**run, "bpd": flow_test_bpd(lambda v: glow.log_prob(v, None), x_test, s.seed),
                        "params": n_params(glow), "config": config}
    return out


# ---------------------------------------------------------------------------------------------
# PixelCNN (07) against the UvA gated PixelCNN, ported to binary pixels
# ---------------------------------------------------------------------------------------------

class StackConv(nn.Conv2d):
    """A masked convolution of the gated PixelCNN: 'vertical' sees the rows above (and, unless mask_center, its own
    row up to the kernel's width), 'horizontal' sees its row left of the centre (and the centre unless mask_center);
    padded so the output keeps the input's size; dilation widens the kernel."""

    def __init__(self, c_in: int, c_out: int, kind: str, mask_center: bool = False, dilation: int = 1, k: int = 3):
        shape = (k, k) if kind == "vertical" else (1, k)
        pad = tuple(dilation * (n - 1) // 2 for n in shape)
        super().__init__(c_in, c_out, shape, padding=pad, dilation=dilation)
        mask = torch.ones(shape)
        c = k // 2
        if kind == "vertical":
            mask[c + 1:, :] = 0
            if mask_center:
                mask[c, :] = 0
        else:
            mask[0, c + 1:] = 0
            if mask_center:
                mask[0, c] = 0
        self.register_buffer("mask", mask[None, None])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.conv2d(x, self.weight * self.mask, self.bias, self.stride, self.padding, self.dilation)


class GatedLayer(nn.Module):
    """tanh * sigmoid gates on both stacks, the vertical features fed into the horizontal stack (1x1), and a residual
    1x1 on the horizontal stack (van den Oord et al. 2016, as the UvA tutorial lays it out)."""

    def __init__(self, c: int, dilation: int = 1):
        super().__init__()
        self.v = StackConv(c, 2 * c, "vertical", dilation=dilation)
        self.h = StackConv(c, 2 * c, "horizontal", dilation=dilation)
        self.v_to_h = nn.Conv2d(2 * c, 2 * c, 1)
        self.h_out = nn.Conv2d(c, c, 1)

    def forward(self, v: torch.Tensor, h: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        vf = self.v(v)
        a, b = vf.chunk(2, 1)
        v_out = torch.tanh(a) * torch.sigmoid(b)
        a, b = (self.h(h) + self.v_to_h(vf)).chunk(2, 1)
        return v_out, h + self.h_out(torch.tanh(a) * torch.sigmoid(b))


class GatedPixelCNN(nn.Module):
    """The UvA tutorial's PixelCNN for binary pixels: first convolutions that hide the centre, seven gated layers
    with dilations 1, 2, 1, 4, 1, 2, 1, ELU and a 1x1 head with one Bernoulli logit per pixel (the tutorial's
    256-way softmax becomes a single logit); inputs {0, 1} scaled to [-1, 1] as the tutorial scales its pixels."""

    def __init__(self, hidden: int = 64):
        super().__init__()
        self.image_shape = (1, 28, 28)
        self.v0 = StackConv(1, hidden, "vertical", mask_center=True)
        self.h0 = StackConv(1, hidden, "horizontal", mask_center=True)
        self.layers = nn.ModuleList(GatedLayer(hidden, d) for d in (1, 2, 1, 4, 1, 2, 1))
        self.out = nn.Conv2d(hidden, 1, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x * 2 - 1
        v, h = self.v0(x), self.h0(x)
        for layer in self.layers:
            v, h = layer(v, h)
        return self.out(F.elu(h))


def matched_gated_pixelcnn(target_params: int):
    best = min(range(4, 65), key=lambda c: abs(n_params(GatedPixelCNN(c)) - target_params))
    return GatedPixelCNN(best), {"hidden": best, "dilations": (1, 2, 1, 4, 1, 2, 1),
                                 "optimizer": "Adam lr 1e-3, StepLR gamma 0.99 per epoch (the tutorial's)",
                                 "batch_size": 128}


def pixelcnn_test_nll(model: nn.Module, x_test: torch.Tensor) -> float:
    from labhelpers.pixelcnn import nll_per_image

    with torch.no_grad():
        return torch.cat([nll_per_image(model, x_test[i:i + 500]) for i in range(0, len(x_test), 500)]).mean().item()


def run_pixelcnn(data: dict, s: Settings, budget: float) -> dict:
    from labhelpers.pixelcnn import PixelCNN, pixelcnn_loss

    x, x_test = data["xbin"], data["xbin_test"]
    out = {}
    # the course: 07's recipe (PixelCNN(32, 5), Adam 2e-3 constant, batch 128, shuffled epochs)
    torch.manual_seed(s.seed)
    model = PixelCNN(32, 5)
    g = torch.Generator().manual_seed(s.seed)
    nxt = EpochBatches(x, None, s.batch_size, g)
    model.train()
    run = train_for_cpu_budget(model.parameters(), lambda: pixelcnn_loss(model, nxt()[0]),
                               torch.optim.Adam(model.parameters(), lr=2e-3), budget, min_steps=s.min_steps)
    model.eval()
    out["course"] = {**run, "nll": pixelcnn_test_nll(model, x_test), "params": n_params(model)}
    # the UvA gated PixelCNN at the same parameter count, the tutorial's optimizer and schedule
    torch.manual_seed(s.seed)
    ref, config = matched_gated_pixelcnn(out["course"]["params"])
    g = torch.Generator().manual_seed(s.seed)
    nxt = EpochBatches(x, None, s.batch_size, g)
    opt = torch.optim.Adam(ref.parameters(), lr=1e-3)
    decay = torch.optim.lr_scheduler.StepLR(opt, 1, gamma=0.99)
    ref.train()
    run = train_for_cpu_budget(ref.parameters(), lambda: pixelcnn_loss(ref, nxt()[0]), opt, budget,
                               min_steps=s.min_steps, per_epoch=lambda _: decay.step(),
                               steps_per_epoch=math.ceil(len(x) / min(s.batch_size, len(x))))
    ref.eval()
    out["reference"] = {**run, "nll": pixelcnn_test_nll(ref, x_test), "params": n_params(ref), "config": config}
    return out


# ---------------------------------------------------------------------------------------------
# latent flow matching (11) against the same flow matching in pixel space (09), 28x28
# ---------------------------------------------------------------------------------------------

LATENT_AE_SHARE = 0.4   # of the latent side's budget: the autoencoder; the rest (less encoding) goes to the flow


def _latent_flow_step(net: nn.Module, nxt: EpochBatches, g: torch.Generator, cfm=None) -> Callable[[], torch.Tensor]:
    """One flow-matching loss on a batch of (scaled latents or pixels, labels), labels dropped as the course does:
    the course's flow_matching_loss, or torchcfm's matcher providing (t, x_t, u_t) for the same straight path."""
    from labhelpers.diffusion import flow_matching_loss

    def step():
        xb, yb = nxt()
        yb = drop_labels(yb, 10, 0.1, g)
        if cfm is None:
            return flow_matching_loss(net, xb, g, yb)
        x0 = torch.randn(xb.shape, generator=g)  # noise at t = 0, data at t = 1: the course's convention too
        t, xt, ut = cfm.sample_location_and_conditional_flow(x0, xb)
        return F.mse_loss(net(xt, t, yb), ut)

    return step


def _train_flow(net: nn.Module, x: torch.Tensor, y: torch.Tensor, s: Settings, budget: float, cfm=None) -> dict:
    """The course's loop (Adam 2e-3, cosine to 0 over the budget, clip 1, batch 128, shuffled epochs) on a flow
    network, within `budget` CPU-seconds; train_for_cpu_budget's numbers."""
    g = torch.Generator().manual_seed(s.seed)
    net.train()
    run = train_for_cpu_budget(net.parameters(), _latent_flow_step(net, EpochBatches(x, y, s.batch_size, g), g, cfm),
                               torch.optim.Adam(net.parameters(), lr=2e-3), budget, cosine=True, clip=1.0,
                               min_steps=s.min_steps)
    net.eval()
    return run


def _sample_scored(judge: Judge, sample: Callable[[], torch.Tensor]) -> dict:
    """Samples in [0, 1] scored by the judge, with the CPU seconds that sampling (and decoding) took."""
    start = time.process_time()
    with torch.no_grad():
        xs = sample()
    return {"sample_cpu_s": time.process_time() - start, **judge.score(xs), "n_samples": len(xs)}


def run_latent_diffusion(data: dict, judge: Judge, s: Settings, budget: float) -> dict:
    """Lecture 11's question at equal training CPU: flow matching in an autoencoder's latent space (course side)
    against the same flow matching on the 28x28 pixels (the baseline), both the course's code, both sampled with
    `latent_sample_steps` Euler calls at uniform labels and scored by the judge after area downsampling to 14x14.

    latent: LatentAutoencoder(4, 32) trained by latent_ae_loss (beta 0.01) on the images in [0, 1] for 40 % of the
    budget, the training set encoded (one draw of q(z|x) each, scaled to unit std), then TinyUNet((32, 64),
    in_channels=4) trained by flow_matching_loss for what is left of the budget; decoded by ae.decode.
    pixel: TinyUNet((16, 32)) trained by flow_matching_loss on the images in [-1, 1] for the whole budget.
    Optional third side ("library"): the same latents and flow budget, torchcfm's ConditionalFlowMatcher
    (sigma 0) providing (t, x_t, u_t) in place of flow_matching_loss; skipped, saying why, without torchcfm."""
    from labhelpers.diffusion import TinyUNet, sample_flow
    from labhelpers.latent import LatentAutoencoder, encode_latents, latent_ae_loss

    x01, x, y = data["x28_01"], data["x28"], data["y"]
    n, calls = s.n_samples, s.latent_sample_steps
    labels = uniform_labels(n)
    out: dict = {}
    # the course in latent space: the autoencoder first (40 % of the budget), its latents, then the flow
    start = time.process_time()
    torch.manual_seed(s.seed)
    ae = LatentAutoencoder(4, 32)
    g = torch.Generator().manual_seed(s.seed)
    nxt = EpochBatches(x01, None, s.batch_size, g)
    ae.train()
    ae_run = train_for_cpu_budget(ae.parameters(), lambda: latent_ae_loss(ae, nxt()[0], 0.01, g),
                                  torch.optim.Adam(ae.parameters(), lr=2e-3), LATENT_AE_SHARE * budget, cosine=True,
                                  clip=1.0, min_steps=s.min_steps)
    ae.eval()
    encode_start = time.process_time()
    z = encode_latents(ae, x01, torch.Generator().manual_seed(s.seed))
    scale = 1 / z.std().item()                      # latents times scale have unit standard deviation
    z = z * scale
    encode_cpu_s = time.process_time() - encode_start
    flow_budget = max(budget - (time.process_time() - start), 0.0)  # the latent side's total is the budget
    torch.manual_seed(s.seed)
    flow = TinyUNet((32, 64), in_channels=4)
    flow_run = _train_flow(flow, z, y, s, flow_budget)

    def latent_side(net: nn.Module, run: dict, cfm_config: dict | None = None) -> dict:
        sampled = _sample_scored(judge, lambda: ae.decode(sample_flow(
            net, (n, 4, 7, 7), calls, labels, generator=torch.Generator().manual_seed(s.seed + 1)) / scale))
        total_cpu = ae_run["cpu_s"] + encode_cpu_s + run["cpu_s"]
        steps = ae_run["steps"] + run["steps"]
        side = {"steps": steps, "cpu_s": total_cpu, "wall_s": ae_run["wall_s"] + run["wall_s"],
                "steps_per_cpu_s": steps / total_cpu if total_cpu > 0 else float("nan"),
                "final_loss": run["final_loss"], "ae_steps": ae_run["steps"], "flow_steps": run["steps"],
                "ae_cpu_s": ae_run["cpu_s"], "encode_cpu_s": encode_cpu_s, "flow_cpu_s": run["cpu_s"],
                "flow_budget_cpu_s": flow_budget, "ae_final_loss": ae_run["final_loss"], "latent_scale": scale,
                "flow_steps_per_cpu_s": run["steps_per_cpu_s"], "params": n_params(ae) + n_params(net),
                "ae_params": n_params(ae), "flow_params": n_params(net), **sampled}
        if cfm_config:
            side["config"] = cfm_config
        return side

    out["course"] = latent_side(flow, flow_run)
    # the same flow matching in pixel space, 09's TinyUNet at 28x28, for the whole budget
    torch.manual_seed(s.seed)
    pixel = TinyUNet((16, 32))
    run = _train_flow(pixel, x, y, s, budget)
    sampled = _sample_scored(judge, lambda: ((sample_flow(pixel, (n, 1, 28, 28), calls, labels,
                                                          generator=torch.Generator().manual_seed(s.seed + 1))
                                              + 1) / 2).clamp(0, 1))
    out["reference"] = {**run, **sampled, "params": n_params(pixel), "flow_params": n_params(pixel),
                        "flow_steps_per_cpu_s": run["steps_per_cpu_s"],
                        "config": {"network": "TinyUNet((16, 32)), 1 channel", "data": "28x28 in [-1, 1]"}}
    # optional: torchcfm's ConditionalFlowMatcher on the same latents for the same flow budget
    if not s.latent_library:
        out["library_skipped"] = "not asked for (latent_library=False)"
    elif missing_libraries(["torchcfm"]):
        out["library_skipped"] = "not installed: torchcfm (pip install -e '.[bench]')"
    else:
        from torchcfm.conditional_flow_matching import ConditionalFlowMatcher

        torch.manual_seed(s.seed)
        net = TinyUNet((32, 64), in_channels=4)
        run = _train_flow(net, z, y, s, flow_budget, cfm=ConditionalFlowMatcher(sigma=0.0))
        out["library"] = latent_side(net, run, {"matcher": "ConditionalFlowMatcher(sigma=0.0)",
                                                "shared": "the course latent side's autoencoder, latents and "
                                                          "flow budget (its AE and encoding CPU counted again)"})
    return out


# ---------------------------------------------------------------------------------------------
# all of it
# ---------------------------------------------------------------------------------------------

META = {
    "diffusion": {"title": "diffusion (09) vs diffusers, course size, 14x14", "reference": "diffusers UNet2DModel",
                  "metric": "fid", "unit": "FID"},
    "diffusion_hf_mnist": {"title": "diffusion (09) vs the HF class's MNIST recipe, 28x28",
                           "reference": "diffusers, HF class MNIST config", "metric": "fid", "unit": "FID"},
    "flow_matching": {"title": "flow matching (09) vs torchcfm OT-CFM, same TinyUNet",
                      "reference": "torchcfm OT-CFM", "metric": "fid", "unit": "FID"},
    "flow": {"title": "flow (08, 8-bit) vs normflows Glow", "reference": "normflows Glow", "metric": "bpd",
             "unit": "bits/dim"},
    "pixelcnn": {"title": "PixelCNN (07) vs UvA gated PixelCNN", "reference": "UvA gated PixelCNN (port)",
                 "metric": "nll", "unit": "nats"},
    "latent_diffusion": {
        "title": "latent flow (11) vs pixel flow (09), 28x28", "course": "course latent",
        "reference": "course pixel", "library": "torchcfm CFM latent", "metric": "fid", "unit": "FID",
        "speed": "flow", "caveat": (
            "Course against course: the ratio is FID(latent) / FID(pixel). The latent side's budget includes its "
            f"autoencoder ({LATENT_AE_SHARE:.0%} of it) and the encoding of the training set, so its flow gets the "
            "rest; the pixel side spends all of it on its U-Net. The networks differ as lecture 11 has them "
            "(latent TinyUNet (32, 64) on 4x7x7, pixel TinyUNet (16, 32) on 1x28x28), the row of training speed "
            "compares their updates only. Both sample with the same number of Euler calls, but a call costs less "
            "in latent space (4x7x7 inputs, one decoder pass at the end); latent samples can be no better than the "
            "autoencoder's reconstructions. The torchcfm row reuses that autoencoder, its latents and its flow "
            "budget, and differs only in who draws (t, x_t, u_t).")},
}


def prepare_data(load: Callable[[str], tuple[torch.Tensor, torch.Tensor]], n_train: int | None = None) -> dict:
    """Every view of the same images: 14x14 in [-1, 1] (09), 28x28 in [-1, 1] (the HF recipe), 28x28 in [0, 1]
    (08's 8-bit flow) and binarized at 0.5 (07); `load(split)` returns (x in [0, 1], y) as labhelpers.data.load."""
    from labhelpers.pixelcnn import binarize

    x, y = load("train")
    xt, yt = load("test")
    if n_train:
        x, y = x[:n_train], y[:n_train]
    x14, x14t = (F.interpolate(v, size=(14, 14), mode="area") for v in (x, xt))
    return {"x14": x14 * 2 - 1, "y": y, "x14_test01": x14t, "y_test": yt, "x14_train01": x14,
            "x28": x * 2 - 1, "x28_01": x, "x28_01_test": xt, "xbin": binarize(x), "xbin_test": binarize(xt)}


def run_references(load: Callable, s: Settings, n_train: int | None = None, log: Callable[[str], None] = print) -> dict:
    """Every comparison at every budget; returns a JSON-able dict (see summary_rows for how it is read)."""
    threads_before = torch.get_num_threads()
    torch.set_num_threads(s.threads)
    try:
        data = prepare_data(load, n_train)
        results: dict = {"settings": {"budgets_cpu_s": list(s.budgets_cpu_s), "threads": s.threads,
                                      "n_samples": s.n_samples, "hf_samples": s.hf_samples,
                                      "sample_steps": s.sample_steps,
                                      "n_train": len(data["y"]), "n_test": len(data["y_test"]),
                                      "judge_epochs": s.judge_epochs, "seed": s.seed,
                                      "fm_conditional": s.fm_conditional,
                                      "latent_sample_steps": s.latent_sample_steps},
                         "comparisons": {}, "skipped": {}}
        wanted = [c for c in s.comparisons if c in COMPARISONS]
        for c in wanted:
            missing = missing_libraries(LIBRARIES[c])
            if missing:
                results["skipped"][c] = f"not installed: {', '.join(missing)} (pip install -e '.[bench]')"
        judge = None
        if any(c in wanted and c not in results["skipped"] for c in ("diffusion", "diffusion_hf_mnist",
                                                                     "flow_matching", "latent_diffusion")):
            log(f"5. judge: lh.train_classifier on {len(data['y']):,} 14x14 images, {s.judge_epochs} epochs ...")
            judge = Judge(data["x14_train01"], data["y"], data["x14_test01"], data["y_test"], s.judge_epochs, s.seed,
                          s.n_samples)
            results["judge"] = {"accuracy": judge.accuracy, "fid_floor": judge.fid_floor,
                                "real_confident_share": judge.real_confident, "train_s": judge.train_s}
        course_runs: dict = {}
        for c in wanted:
            if c in results["skipped"]:
                log(f"5. {c}: skipped ({results['skipped'][c]})")
                continue
            per_budget = {}
            for budget in s.budgets_cpu_s:
                log(f"5. {c}, {budget:g} CPU-s each side ...")
                start = time.perf_counter()
                if c == "diffusion":
                    r = run_diffusion(data, judge, s, budget)
                elif c == "diffusion_hf_mnist":
                    r = run_diffusion_hf_mnist(data, judge, s, budget, course_runs.get(budget))
                elif c == "flow_matching":
                    r = run_flow_matching(data, judge, s, budget)
                elif c == "flow":
                    r = run_flow(data, s, budget)
                elif c == "latent_diffusion":
                    r = run_latent_diffusion(data, judge, s, budget)
                else:
                    r = run_pixelcnn(data, s, budget)
                r["wall_s"] = time.perf_counter() - start
                if "samples" in r["course"]:  # the course's diffusion run, reused by the HF-MNIST row
                    course_runs[budget] = dict(r["course"])
                    r["course"].pop("samples")
                per_budget[str(budget)] = r
                m = META[c]["metric"]
                log(f"   course {r['course'][m]:.3f} ({_steps(r['course'])}), reference "
                    f"{r['reference'][m]:.3f} ({_steps(r['reference'])})")
                if "library" in r:
                    log(f"   {META[c]['library']} {r['library'][m]:.3f} ({_steps(r['library'])})")
                if "library_skipped" in r:
                    results["skipped"][f"{c} ({META[c]['library']} side)"] = r.pop("library_skipped")
            results["comparisons"][c] = {**META[c], "runs": per_budget}
            for line in caveat_lines({"comparisons": {c: results["comparisons"][c]}}):
                log(f"   {line}")
            for k, why in results["skipped"].items():
                if k.startswith(f"{c} ("):
                    log(f"   {k}: skipped ({why})")
        return results
    finally:
        torch.set_num_threads(threads_before)


def _steps(v: dict) -> str:
    """'1,171 steps', or 'AE 300 + flow 500 steps' for a side that trained an autoencoder first."""
    if "ae_steps" in v:
        return f"AE {v['ae_steps']:,} + flow {v['flow_steps']:,} steps"
    return f"{v['steps']:,} steps"


def caveat_lines(ref: dict) -> list[str]:
    """'<title>: <caveat>' for each comparison that has one, with the sampling CPU-seconds where they were measured."""
    lines = []
    for comp in ref.get("comparisons", {}).values():
        if not comp.get("caveat"):
            continue
        text = f"{comp['title']}: {comp['caveat']}"
        sampled = [(budget, r) for budget, r in comp["runs"].items() if "sample_cpu_s" in r["course"]]
        if sampled:
            budget, r = sampled[0]
            text += (f" Sampling {r['course']['n_samples']} images at {float(budget):g} CPU-s took "
                     f"{r['course']['sample_cpu_s']:.1f} CPU-s for {comp.get('course', 'course')} (decoder included) "
                     f"and {r['reference']['sample_cpu_s']:.1f} for {comp['reference']}.")
        lines.append(text)
    return lines


def summary_rows(ref: dict) -> list[list[str]]:
    """[benchmark, measured, baseline, ratio, target, status] rows: one per comparison and budget (and per budget of
    an optional third side, "library", against the same baseline), one speed row."""
    rows = []
    for comp in ref.get("comparisons", {}).values():
        m, unit = comp["metric"], comp["unit"]
        course = comp.get("course", "course")
        speed = f"{comp['speed']}_" if comp.get("speed") else ""   # "flow": the flow networks' updates only
        speeds = []
        for budget, r in comp["runs"].items():
            b = r["reference"]
            extra_b = f", {b['confident_share']:.0%} judged >= 0.9" if "confident_share" in b else ""
            for side in ("course", "library"):
                if side not in r:
                    continue
                name, suffix = (course, "") if side == "course" else (comp["library"], f", {comp['library']}")
                a = r[side]
                ratio = a[m] / b[m]
                extra_a = f", {a['confident_share']:.0%} judged >= 0.9" if "confident_share" in a else ""
                rows.append([f"5. {comp['title']}: {unit} at {float(budget):g} CPU-s{suffix}",
                             f"{name} {a[m]:.2f} ({_steps(a)}{extra_a})",
                             f"{comp['reference']} {b[m]:.2f} ({_steps(b)}{extra_b})",
                             f"{ratio:.2f}", "< 1 (lower is better)", "ahead" if ratio < 1 else "behind"])
            speeds.append(r["course"][speed + "steps_per_cpu_s"] / b[speed + "steps_per_cpu_s"])
        first = next(iter(comp["runs"].values()))
        label = "flow-network updates" if speed else "training steps"
        rows.append([f"5. {comp['title']}: {label} per CPU-second (info)",
                     f"{course} {first['course'][speed + 'steps_per_cpu_s']:.2f}, "
                     f"{first['course'][speed + 'params']:,} params",
                     f"{comp['reference']} {first['reference'][speed + 'steps_per_cpu_s']:.2f}, "
                     f"{first['reference'][speed + 'params']:,} params",
                     f"{sum(speeds) / len(speeds):.2f}x per step", "-", "n/a"])
    return rows


def details_table(ref: dict) -> list[list[str]]:
    """One row per comparison, budget and side: params, steps, steps/CPU-s, CPU and wall seconds, scores."""
    rows = []
    for comp in ref.get("comparisons", {}).values():
        for budget, r in comp["runs"].items():
            for side in ("course", "reference", "library"):
                if side not in r:
                    continue
                v = r[side]
                score = f"{v[comp['metric']]:.3f}"
                if "confident_share" in v:
                    score += f" (judged >= 0.9: {v['confident_share']:.1%})"
                rows.append([comp["title"], f"{float(budget):g}", comp.get(side, side),
                             f"{v['params']:,}", f"{v['steps']:,}", f"{v['steps_per_cpu_s']:.2f}",
                             f"{v['cpu_s']:.0f} / {v['wall_s']:.0f}", f"{v['final_loss']:.4g}", score])
    return rows


DETAILS_HEADER = ["comparison", "budget (CPU-s)", "side", "params", "steps", "steps per CPU-s",
                  "CPU s / wall s", "final train loss", "score"]
