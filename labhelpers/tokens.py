"""Tokens: a VQ-VAE with dead-code restarts, self-attention written out, an autoregressive transformer prior and masked (absorbing-state) diffusion over 7x7 code grids (10)

GENERATED from notebooks/10_tokens.ipynb by `python tools/nbtool.py export`: do not edit by hand.
Edit the cells tagged `export` in the notebook and run the export again (the pre-commit hook does).
"""
# ruff: noqa: E501

import math

import torch
import torch.nn.functional as F
from torch import nn

from labhelpers import config
from labhelpers.data import load
from labhelpers.diffusion import train_steps
from labhelpers.training import model_fingerprint, train_or_load

GRID = 7                    # a 28 x 28 image becomes a GRID x GRID grid of codes (two stride-2 convolutions)
NUM_POSITIONS = GRID * GRID  # 49 tokens per image


def quantize(z: torch.Tensor, codebook: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Replace each D-vector of z (B, D, H, W) by its nearest codebook row (K, D): (codes (B, H, W), quantized z) (10)."""
    if z.dim() != 4 or codebook.dim() != 2 or z.shape[1] != codebook.shape[1]:
        raise ValueError(f"quantize: z must be (B, D, H, W) and codebook (K, D) with the same D; got z "
                         f"{tuple(z.shape)} and codebook {tuple(codebook.shape)}")
    B, D, H, W = z.shape
    flat = z.permute(0, 2, 3, 1).reshape(-1, D)                                    # (B*H*W, D): one vector per position
    dist = flat.pow(2).sum(1, keepdim=True) - 2 * flat @ codebook.T + codebook.pow(2).sum(1)   # squared distances
    codes = dist.argmin(1)                                                         # the nearest entry's index
    return codes.view(B, H, W), codebook[codes].view(B, H, W, D).permute(0, 3, 1, 2)


class VQVAE(nn.Module):
    """Encoder to a (D, 7, 7) grid, a codebook of K vectors of size D, decoder back to 28 x 28 logits (10)."""

    def __init__(self, num_codes: int = 64, code_dim: int = 16, channels: tuple[int, int] = (32, 64)):
        super().__init__()
        c1, c2 = channels
        self.encoder = nn.Sequential(nn.Conv2d(1, c1, 4, 2, 1), nn.ReLU(), nn.Conv2d(c1, c2, 4, 2, 1), nn.ReLU(),
                                     nn.Conv2d(c2, c2, 3, 1, 1), nn.ReLU(), nn.Conv2d(c2, code_dim, 1))  # 28 -> 14 -> 7
        self.decoder = nn.Sequential(nn.Conv2d(code_dim, c2, 3, 1, 1), nn.ReLU(), nn.ConvTranspose2d(c2, c1, 4, 2, 1),
                                     nn.ReLU(), nn.ConvTranspose2d(c1, 1, 4, 2, 1))                      # 7 -> 14 -> 28
        self.codebook = nn.Parameter(0.1 * torch.randn(num_codes, code_dim))
        self.num_codes = num_codes

    def forward(self, x: torch.Tensor):
        """(logits of the reconstruction, encoder output z, its quantized q, the codes) (10)."""
        z = self.encoder(x)
        codes, q = quantize(z, self.codebook)
        q_st = z + (q - z).detach()          # straight-through: the value of q, the gradient of z
        return self.decoder(q_st), z, q, codes

    @torch.no_grad()
    def encode(self, x: torch.Tensor, batch_size: int = 500) -> torch.Tensor:
        """The code grids (N, 7, 7) of images x (N, 1, 28, 28) in [0, 1] (10)."""
        return torch.cat([quantize(self.encoder(x[i:i + batch_size]), self.codebook)[0]
                          for i in range(0, len(x), batch_size)])

    @torch.no_grad()
    def decode(self, codes: torch.Tensor) -> torch.Tensor:
        """Images in [0, 1] (N, 1, 28, 28), the decoder's pixel means, from code grids (N, 7, 7) (10)."""
        return torch.sigmoid(self.decoder(self.codebook[codes].permute(0, 3, 1, 2)))


def vq_loss(model: VQVAE, x: torch.Tensor, beta: float = 0.25):
    """(reconstruction + codebook + beta * commitment loss, the reconstruction in nats per image, the codes) (10)."""
    logits, z, q, codes = model(x)
    reconstruction = F.binary_cross_entropy_with_logits(logits, x, reduction="sum") / len(x)
    codebook = (q - z.detach()).pow(2).sum() / len(x)       # moves each used entry towards the encoder's outputs
    commitment = (z - q.detach()).pow(2).sum() / len(x)     # keeps the encoder near the entries it picked
    return reconstruction + codebook + beta * commitment, reconstruction, codes


def perplexity(codes: torch.Tensor, num_codes: int) -> float:
    """exp(entropy) of how often each code is used: num_codes if evenly, 1 if one code does everything (10)."""
    counts = torch.bincount(codes.flatten().cpu(), minlength=num_codes).double()
    p = counts[counts > 0] / counts.sum()
    return math.exp(-(p * p.log()).sum().item())


def train_vqvae(model: VQVAE, x: torch.Tensor, num_steps: int, batch_size: int, lr: float, generator: torch.Generator,
                restart_every: int = 100, restart: bool = True) -> dict:
    """Adam on vq_loss over random batches; every restart_every steps each code unused since the last check is moved
    onto a random encoder output of the batch (not in the last 20% of steps). Returns losses and codes revived (10)."""
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    used = torch.zeros(model.num_codes, dtype=torch.bool)
    history = {"loss": [], "revived": 0}
    model.train()
    for step in range(num_steps):
        xb = x[torch.randint(0, len(x), (batch_size,), generator=generator).to(x.device)]
        loss, _, codes = vq_loss(model, xb)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        history["loss"].append(loss.item())
        used[codes.flatten().unique().cpu()] = True
        if (step + 1) % restart_every == 0:
            dead = (~used).nonzero().flatten()
            if restart and len(dead) and step < 0.8 * num_steps:
                with torch.no_grad():
                    z = model.encoder(xb).permute(0, 2, 3, 1).reshape(-1, model.codebook.shape[1])
                    pick = torch.randint(0, len(z), (len(dead),), generator=generator).to(z.device)
                    model.codebook[dead.to(z.device)] = z[pick]
                history["revived"] += len(dead)
            used[:] = False
    model.eval()
    return history


TOKEN_SETTINGS = {   # lecture 10's settings; lecture 12 loads the same checkpoints through them
    "full": {"n_train": 4000, "num_codes": 64, "code_dim": 16, "vq_steps": 1000, "vq_batch": 128, "vq_lr": 2e-3,
             "prior_steps": 2000, "prior_batch": 64, "prior_lr": 1e-3, "dim": 64, "depth": 4, "heads": 4,
             "dropout": 0.1, "label_dropout": 0.1},
    "quick": {"n_train": 500, "num_codes": 64, "code_dim": 16, "vq_steps": 60, "vq_batch": 64, "vq_lr": 2e-3,
              "prior_steps": 40, "prior_batch": 32, "prior_lr": 1e-3, "dim": 32, "depth": 2, "heads": 4,
              "dropout": 0.1, "label_dropout": 0.1},
}
VQ_KEYS = ("n_train", "num_codes", "code_dim", "vq_steps", "vq_batch", "vq_lr")


def token_settings(**overrides) -> dict:
    """TOKEN_SETTINGS for the mode in force, with the overrides that are not None (10)."""
    s = TOKEN_SETTINGS["quick" if config.QUICK else "full"]
    unknown = set(overrides) - set(s) - {"restart"}
    if unknown:
        raise ValueError(f"token settings: unknown {sorted(unknown)}; known: {sorted(s)}")
    return {**s, **{k: v for k, v in overrides.items() if v is not None}}


def train_or_load_vqvae(dataset: str = "mnist", seed: int = 0, device: str | torch.device = "cpu", restart: bool = True,
                        **overrides) -> tuple[VQVAE, dict]:
    """Lecture 10's VQ-VAE on `dataset`'s first n_train training images (restarts on or off); (model, history) (10)."""
    s = token_settings(**overrides)
    x, _ = load(dataset, "train", limit=s["n_train"])
    torch.manual_seed(seed)
    model = VQVAE(s["num_codes"], s["code_dim"]).to(device)
    history: dict = {}
    train_or_load(model, config.checkpoint_path(f"10_vqvae_{dataset}" + ("" if restart else "_norestart")),
                  lambda: history.update(train_vqvae(model, x.to(device), s["vq_steps"], s["vq_batch"], s["vq_lr"],
                                                     torch.Generator().manual_seed(seed), restart=restart)),
                  settings={**{k: s[k] for k in VQ_KEYS}, "dataset": dataset, "seed": seed, "restart": restart})
    return model, history


def causal_mask(n: int, device: str | torch.device | None = None) -> torch.Tensor:
    """(n, n) booleans, True where position i may attend to position j, i.e. j <= i (10)."""
    return torch.ones(n, n, dtype=torch.bool, device=device).tril()


class SelfAttention(nn.Module):
    """Multi-head self-attention written out: queries, keys, values and an optional causal mask (10)."""

    def __init__(self, dim: int, heads: int):
        super().__init__()
        if dim % heads:
            raise ValueError(f"SelfAttention: dim={dim} must be divisible by heads={heads}")
        self.heads = heads
        self.qkv = nn.Linear(dim, 3 * dim)    # queries, keys and values of every token in one product
        self.out = nn.Linear(dim, dim)

    def forward(self, h: torch.Tensor, causal: bool) -> torch.Tensor:
        B, T, C = h.shape
        q, k, v = self.qkv(h).view(B, T, 3, self.heads, C // self.heads).permute(2, 0, 3, 1, 4)  # (B, heads, T, C/heads)
        scores = q @ k.transpose(-1, -2) / math.sqrt(C // self.heads)   # (B, heads, T, T): query i against key j
        if causal:
            scores = scores.masked_fill(~causal_mask(T, h.device), float("-inf"))   # later tokens get weight 0
        weights = scores.softmax(-1)                                      # each row sums to 1
        return self.out((weights @ v).transpose(1, 2).reshape(B, T, C))    # weighted values, heads side by side


class TransformerBlock(nn.Module):
    """h + attention(LayerNorm(h)), then h + MLP(LayerNorm(h)) (pre-norm, as GPT-2) (10)."""

    def __init__(self, dim: int, heads: int, dropout: float):
        super().__init__()
        self.norm1, self.attention = nn.LayerNorm(dim), SelfAttention(dim, heads)
        self.norm2 = nn.LayerNorm(dim)
        self.mlp = nn.Sequential(nn.Linear(dim, 4 * dim), nn.GELU(), nn.Linear(4 * dim, dim))
        self.drop = nn.Dropout(dropout)

    def forward(self, h: torch.Tensor, causal: bool) -> torch.Tensor:
        h = h + self.drop(self.attention(self.norm1(h), causal))
        return h + self.drop(self.mlp(self.norm2(h)))


class TokenTransformer(nn.Module):
    """A label token then up to 49 code tokens in, logits over the K codes at every position out; causal
    (autoregressive prior) or not (masked diffusion). Token ids: codes, labels, 'no label', [MASK] (10)."""

    def __init__(self, num_codes: int, causal: bool, dim: int = 64, depth: int = 4, heads: int = 4,
                 dropout: float = 0.1, num_classes: int = 10):
        super().__init__()
        self.num_codes, self.causal = num_codes, causal
        self.no_label, self.mask_token = num_codes + num_classes, num_codes + num_classes + 1
        self.embed = nn.Embedding(num_codes + num_classes + 2, dim)
        self.position = nn.Parameter(0.02 * torch.randn(1 + NUM_POSITIONS, dim))   # learned, one per place
        self.blocks = nn.ModuleList(TransformerBlock(dim, heads, dropout) for _ in range(depth))
        self.norm, self.head = nn.LayerNorm(dim), nn.Linear(dim, num_codes)

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        h = self.embed(tokens) + self.position[:tokens.shape[1]]
        for block in self.blocks:
            h = block(h, self.causal)
        return self.head(self.norm(h))


def with_label(model: TokenTransformer, codes: torch.Tensor, labels: torch.Tensor,
               generator: torch.Generator | None = None, label_dropout: float = 0.0) -> torch.Tensor:
    """The sequence [label token, codes flattened] (B, 1 + N); the label becomes 'no label' with prob. label_dropout (10)."""
    first = labels + model.num_codes
    if label_dropout > 0:
        drop = torch.rand(len(labels), generator=generator).to(labels.device) < label_dropout
        first = torch.where(drop, torch.full_like(first, model.no_label), first)
    return torch.cat([first[:, None], codes.flatten(1)], 1)


def ar_loss(model: TokenTransformer, codes: torch.Tensor, labels: torch.Tensor, generator: torch.Generator,
            label_dropout: float = 0.1) -> torch.Tensor:
    """Next-token cross-entropy: the output at position i predicts code i + 1 (10)."""
    seq = with_label(model, codes, labels, generator, label_dropout)
    logits = model(seq[:, :-1])                              # (B, 49, K): the last code predicts nothing
    return F.cross_entropy(logits.reshape(-1, model.num_codes), codes.flatten())


@torch.no_grad()
def code_nll(model: TokenTransformer, codes: torch.Tensor, labels: torch.Tensor, batch_size: int = 500) -> torch.Tensor:
    """Exact -log p(codes | label) in nats, one value per grid, by the chain rule over the 49 codes (10)."""
    out = []
    for i in range(0, len(codes), batch_size):
        c = codes[i:i + batch_size].flatten(1)
        logits = model(with_label(model, c, labels[i:i + batch_size])[:, :-1])
        out.append(F.cross_entropy(logits.transpose(1, 2), c, reduction="none").sum(1))
    return torch.cat(out)


def draw(logits: torch.Tensor, temperature: float, generator: torch.Generator) -> torch.Tensor:
    """One category per row of logits (..., K) at a temperature; a CPU generator works on any device (10)."""
    if temperature <= 0:
        raise ValueError(f"temperature={temperature}: use a positive number (1 = the model's own distribution)")
    probs = (logits / temperature).softmax(-1)
    picked = torch.multinomial(probs.reshape(-1, probs.shape[-1]).cpu(), 1, generator=generator)
    return picked.view(probs.shape[:-1]).to(logits.device)


@torch.no_grad()
def sample_ar(model: TokenTransformer, labels: torch.Tensor, generator: torch.Generator,
              temperature: float = 1.0) -> torch.Tensor:
    """Code grids (B, 7, 7), one code at a time given the label and the codes before it: 49 network calls (10)."""
    seq = with_label(model, labels.new_zeros(len(labels), 0), labels)     # the label token alone
    for _ in range(NUM_POSITIONS):
        seq = torch.cat([seq, draw(model(seq)[:, -1], temperature, generator)[:, None]], 1)
    return seq[:, 1:].view(-1, GRID, GRID)


def masked_loss(model: TokenTransformer, codes: torch.Tensor, labels: torch.Tensor, generator: torch.Generator,
                label_dropout: float = 0.1) -> torch.Tensor:
    """Hide a share cos(pi t / 2), t ~ U(0, 1), of each grid's codes behind [MASK] (at least one) and predict the
    hidden ones from the rest: cross-entropy over the hidden positions (10)."""
    codes = codes.flatten(1)
    B, N = codes.shape
    share = torch.cos(math.pi / 2 * torch.rand(B, 1, generator=generator)).to(codes.device)
    hidden = torch.rand(B, N, generator=generator).to(codes.device) < share
    hidden[torch.arange(B), torch.randint(0, N, (B,), generator=generator).to(codes.device)] = True
    logits = model(with_label(model, codes.masked_fill(hidden, model.mask_token), labels, generator, label_dropout))
    return F.cross_entropy(logits[:, 1:][hidden], codes[hidden])


def cosine_schedule(step: int, steps: int) -> float:
    """MaskGIT's share of the codes still hidden after `step` of `steps` decoding steps (10)."""
    return math.cos(math.pi / 2 * step / steps)


@torch.no_grad()
def sample_masked(model: TokenTransformer, labels: torch.Tensor, steps: int, generator: torch.Generator,
                  temperature: float = 1.0, order: str = "random", schedule=cosine_schedule) -> torch.Tensor:
    """Code grids (B, 7, 7) from all-[MASK] in `steps` network calls. Each call proposes every hidden code; as many
    as schedule(step, steps) says stay hidden: chosen at random (order='random', the reverse of the random
    masking) or the least confident proposals (order='confidence', MaskGIT, with its annealed Gumbel noise) (10)."""
    if order not in ("random", "confidence"):
        raise ValueError(f"order={order!r}: use 'random' (reveal codes in random order) or 'confidence' (MaskGIT)")
    B, N = len(labels), NUM_POSITIONS
    tokens = torch.full((B, N), model.mask_token, dtype=torch.long, device=labels.device)
    for step in range(1, steps + 1):
        hidden = tokens == model.mask_token
        logits = model(with_label(model, tokens, labels))[:, 1:]
        proposal = draw(logits, temperature, generator)
        if order == "random":
            keep_score = torch.rand(B, N, generator=generator).to(logits.device)
        else:
            gumbel = -torch.log(-torch.log(torch.rand(B, N, generator=generator).clamp(1e-10, 1 - 1e-10)))
            keep_score = (logits.log_softmax(-1).gather(-1, proposal[..., None]).squeeze(-1)   # log p of the proposal
                          + 4.5 * (1 - step / steps) * gumbel.to(logits.device))               # MaskGIT's noise
        keep_score = keep_score.masked_fill(~hidden, float("inf"))   # codes already chosen are never hidden again
        tokens = torch.where(hidden, proposal, tokens)
        n_hidden = min(int(hidden.sum(1).min()), math.floor(N * schedule(step, steps)))
        tokens.scatter_(1, keep_score.argsort(1)[:, :n_hidden], model.mask_token)
    return tokens.view(B, GRID, GRID)


def token_models(dataset: str = "mnist", seed: int = 0, device: str | torch.device = "cpu", **overrides) -> dict:
    """Train or load lecture 10's VQ-VAE and its two priors ('ar' and 'masked') under TOKEN_SETTINGS; returns the
    models, the training codes and labels, and the prior losses when trained now (10)."""
    s = token_settings(**overrides)
    vq, _ = train_or_load_vqvae(dataset, seed, device, **overrides)
    x, y = load(dataset, "train", limit=s["n_train"])
    codes, y = vq.encode(x.to(device)), y.to(device)
    out = {"vq": vq, "codes": codes, "labels": y, "losses": {}}

    def prior(kind: str, loss) -> TokenTransformer:
        torch.manual_seed(seed)
        model = TokenTransformer(s["num_codes"], kind == "ar", s["dim"], s["depth"], s["heads"], s["dropout"]).to(device)
        gen = torch.Generator().manual_seed(seed)

        def fit():
            out["losses"][kind] = train_steps(model, lambda m, c, yb: loss(m, c, yb, gen, s["label_dropout"]), codes, y,
                                              s["prior_steps"], s["prior_batch"], s["prior_lr"], gen)

        train_or_load(model, config.checkpoint_path(f"10_prior_{kind}_{dataset}"), fit,
                      settings={**s, "dataset": dataset, "seed": seed, "kind": kind,
                                "vqvae": model_fingerprint(vq, {k: s[k] for k in VQ_KEYS})})
        return model

    out["ar"], out["masked"] = prior("ar", ar_loss), prior("masked", masked_loss)
    return out


def sample_tokens(models: dict, labels: torch.Tensor, method: str = "masked", steps: int = 8,
                  generator: torch.Generator | None = None, temperature: float = 1.0) -> torch.Tensor:
    """Images in [0, 1] (B, 1, 28, 28): codes from the 'ar' prior (49 calls) or the 'masked' one (`steps` calls),
    decoded by the VQ-VAE (10)."""
    if method == "ar":
        codes = sample_ar(models["ar"], labels, generator, temperature)
    elif method == "masked":
        codes = sample_masked(models["masked"], labels, steps, generator, temperature)
    else:
        raise ValueError(f"method={method!r}: use 'ar' (autoregressive, 49 calls) or 'masked' (`steps` calls)")
    return models["vq"].decode(codes)


# Bad input gets a clear error naming the parameter: the checks live in labhelpers/guards.py, not in the lesson.
from labhelpers.guards import guard_module  # noqa: E402

guard_module(globals())
