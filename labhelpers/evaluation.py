"""Evaluating generative models: IWAE bound, Parzen windows, MMD, FID, KID, precision/recall, the scoreboard (12)

GENERATED from notebooks/12_evaluation.ipynb by `python tools/nbtool.py export`: do not edit by hand.
Edit the cells tagged `export` in the notebook and run the export again (the pre-commit hook does).
"""
# ruff: noqa: E501

import math

import torch
import torch.nn.functional as F


@torch.no_grad()
def iwae_bound(model: torch.nn.Module, x: torch.Tensor, k: int, generator: torch.Generator | None = None,
               batch_size: int = 100, prior: torch.distributions.Distribution | None = None) -> torch.Tensor:
    """Importance-weighted lower bound on log p(x) per image (B,) in nats: log mean_k p(x, z_k) / q(z_k | x).

    prior: the distribution of z (a MultivariateNormal, e.g. fitted to the codes); None is the VAE's N(0, I) (12).
    """
    if k < 1:
        raise ValueError(f"iwae_bound: k must be >= 1 importance samples, got {k}")
    if not torch.all((x == 0) | (x == 1)):
        raise ValueError("iwae_bound expects binarized images with values in {0, 1} (a Bernoulli decoder)")
    model.eval()
    out = []
    for start in range(0, len(x), batch_size):
        xb = x[start:start + batch_size]
        mu, logvar = model.encode(xb)  # (b, D) each
        std = torch.exp(0.5 * logvar)
        eps = torch.randn((k, *mu.shape), generator=generator).to(mu)  # (k, b, D)
        z = mu + std * eps
        log_q = (-0.5 * eps.pow(2) - 0.5 * logvar - 0.5 * math.log(2 * math.pi)).sum(-1)  # log q(z|x): (k, b)
        if prior is None:
            log_pz = (-0.5 * z.pow(2) - 0.5 * math.log(2 * math.pi)).sum(-1)  # log p(z) of N(0, I): (k, b)
        else:
            log_pz = prior.log_prob(z.double()).to(z.dtype)  # log p(z) of the given prior: (k, b)
        logits = model.decode(z.flatten(0, 1)).view(k, len(xb), -1)  # (k, b, pixels)
        target = xb.flatten(1).expand(k, -1, -1)
        log_px_z = -F.binary_cross_entropy_with_logits(logits, target, reduction="none").sum(-1)  # (k, b)
        log_w = log_px_z + log_pz - log_q
        out.append(torch.logsumexp(log_w, 0) - math.log(k))
    return torch.cat(out)


def _check_feats(a: torch.Tensor, b: torch.Tensor, what: str, min_rows: int = 2) -> tuple[torch.Tensor, torch.Tensor]:
    """Both arguments must be (N, D) tensors with the same D and at least min_rows rows (12)."""
    if not isinstance(a, torch.Tensor) or not isinstance(b, torch.Tensor) or a.ndim != 2 or b.ndim != 2 \
            or a.shape[1] != b.shape[1]:
        raise ValueError(f"{what}: expected two (N, D) tensors with the same D, got "
                         f"{getattr(a, 'shape', type(a).__name__)} and {getattr(b, 'shape', type(b).__name__)}")
    if len(a) < min_rows or len(b) < min_rows:
        raise ValueError(f"{what}: needs at least {min_rows} rows in each set, got {len(a)} and {len(b)}")
    return a, b


def parzen_log_likelihood(samples: torch.Tensor, test: torch.Tensor, sigma: float,
                          batch_size: int = 256) -> torch.Tensor:
    """Log-density of each test point (M,) under a Gaussian kernel density on the samples (N, D) (12)."""
    samples, test = _check_feats(samples.flatten(1), test.flatten(1), "parzen_log_likelihood", min_rows=1)
    if sigma <= 0:
        raise ValueError(f"parzen_log_likelihood: sigma must be positive, got {sigma}")
    n, d = samples.shape
    samples = samples.double()
    # log p(x) = logsumexp_i(-|x - s_i|^2 / 2 sigma^2) - log N - D/2 log(2 pi sigma^2)
    const = math.log(n) + 0.5 * d * math.log(2 * math.pi * sigma ** 2)
    out = []
    for start in range(0, len(test), batch_size):
        d2 = torch.cdist(test[start:start + batch_size].double(), samples).pow(2)  # (b, N)
        out.append(torch.logsumexp(-d2 / (2 * sigma ** 2), dim=1) - const)
    return torch.cat(out)


def choose_parzen_sigma(samples: torch.Tensor, validation: torch.Tensor,
                        sigmas: torch.Tensor | list[float] | None = None) -> tuple[float, dict[float, float]]:
    """Pick the bandwidth with the highest mean validation log-likelihood; return (sigma, {sigma: mean ll}) (12)."""
    sigmas = torch.logspace(-2, 0, 21).tolist() if sigmas is None else [float(s) for s in sigmas]
    if not sigmas:
        raise ValueError("choose_parzen_sigma: expected a non-empty list of candidate sigmas")
    scores = {s: float(parzen_log_likelihood(samples, validation, s).mean()) for s in sigmas}
    return max(scores, key=scores.get), scores


def _mmd2_unbiased(k_aa: torch.Tensor, k_bb: torch.Tensor, k_ab: torch.Tensor) -> torch.Tensor:
    """Unbiased MMD^2 from the three kernel matrices: the diagonals of k_aa and k_bb are left out (12)."""
    m, n = len(k_aa), len(k_bb)
    return ((k_aa.sum() - k_aa.diagonal().sum()) / (m * (m - 1))
            + (k_bb.sum() - k_bb.diagonal().sum()) / (n * (n - 1)) - 2 * k_ab.mean())


def mmd(a: torch.Tensor, b: torch.Tensor, sigma: float | list[float] | tuple[float, ...] = 1.0,
        unbiased: bool = False) -> torch.Tensor:
    """Squared MMD with a Gaussian kernel (a sum over several bandwidths if sigma is a list); differentiable (12)."""
    a, b = _check_feats(a, b, "mmd", min_rows=2 if unbiased else 1)
    sigmas = [sigma] if isinstance(sigma, (int, float)) else list(sigma)
    if not sigmas or any(s <= 0 for s in sigmas):
        raise ValueError(f"mmd: sigma must be positive (a number or a list of numbers), got {sigma}")

    def kernel(u: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
        # |u|^2 + |v|^2 - 2 u.v: its backward is ~10x faster than torch.cdist's on a CPU
        d2 = (u.pow(2).sum(1, keepdim=True) + v.pow(2).sum(1) - 2 * u @ v.T).clamp_min(0)
        return sum(torch.exp(-d2 / (2 * s ** 2)) for s in sigmas)

    k_aa, k_bb, k_ab = kernel(a, a), kernel(b, b), kernel(a, b)
    if unbiased:
        return _mmd2_unbiased(k_aa, k_bb, k_ab)
    return k_aa.mean() + k_bb.mean() - 2 * k_ab.mean()  # the biased (V-statistic) estimate, >= 0


def _sqrtm_psd(c: torch.Tensor) -> torch.Tensor:
    """Symmetric square root of a symmetric positive semi-definite matrix via its eigendecomposition (12)."""
    vals, vecs = torch.linalg.eigh(c)
    return (vecs * vals.clamp_min(0).sqrt()) @ vecs.T


def frechet_distance(mu1: torch.Tensor, cov1: torch.Tensor, mu2: torch.Tensor, cov2: torch.Tensor) -> float:
    """Squared Fréchet (2-Wasserstein) distance of two Gaussians: |mu1-mu2|^2 + tr(C1 + C2 - 2 (C1 C2)^1/2) (12)."""
    d = mu1.shape[-1]
    if mu1.shape != (d,) or mu2.shape != (d,) or cov1.shape != (d, d) or cov2.shape != (d, d):
        raise ValueError(f"frechet_distance: expected means (D,) and covariances (D, D), got {tuple(mu1.shape)}, "
                         f"{tuple(cov1.shape)}, {tuple(mu2.shape)}, {tuple(cov2.shape)}")
    mu1, cov1, mu2, cov2 = (t.detach().double() for t in (mu1, cov1, mu2, cov2))
    s1 = _sqrtm_psd(cov1)
    # tr((C1 C2)^1/2) = tr((C1^1/2 C2 C1^1/2)^1/2), a symmetric PSD matrix: stable to compute.
    cross = torch.linalg.eigvalsh(s1 @ cov2 @ s1).clamp_min(0).sqrt().sum()
    return float((mu1 - mu2).pow(2).sum() + torch.trace(cov1) + torch.trace(cov2) - 2 * cross)


def fid(feats_a: torch.Tensor, feats_b: torch.Tensor) -> float:
    """Fréchet distance between Gaussians fitted (mean, covariance) to two sets of features (N, D) (12)."""
    a, b = _check_feats(feats_a, feats_b, "fid")
    a, b = a.detach().double(), b.detach().double()
    return frechet_distance(a.mean(0), torch.cov(a.T), b.mean(0), torch.cov(b.T))


def kid(feats_a: torch.Tensor, feats_b: torch.Tensor) -> float:
    """Kernel inception distance: unbiased MMD^2 with the cubic kernel k(x, y) = (x.y / D + 1)^3 (12)."""
    a, b = _check_feats(feats_a, feats_b, "kid")
    a, b = a.detach().double(), b.detach().double()
    d = a.shape[1]
    kernel = lambda u, v: (u @ v.T / d + 1) ** 3
    return float(_mmd2_unbiased(kernel(a, a), kernel(b, b), kernel(a, b)))


def _kth_neighbour_radius(x: torch.Tensor, k: int) -> torch.Tensor:
    """Distance of each row to its k-th nearest other row (the radius of its k-NN ball) (12)."""
    d = torch.cdist(x, x)  # (N, N), the diagonal is the point itself
    return d.kthvalue(k + 1, dim=1).values


def precision_recall(real_feats: torch.Tensor, fake_feats: torch.Tensor, k: int = 3) -> tuple[float, float]:
    """Improved precision and recall (Kynkäänniemi et al. 2019) with k-NN balls as the two manifolds (12)."""
    real, fake = _check_feats(real_feats, fake_feats, "precision_recall", min_rows=k + 1)
    if k < 1:
        raise ValueError(f"precision_recall: k must be >= 1, got {k}")
    real, fake = real.detach().double(), fake.detach().double()
    r_real, r_fake = _kth_neighbour_radius(real, k), _kth_neighbour_radius(fake, k)
    d = torch.cdist(fake, real)  # (N_fake, N_real)
    precision = (d <= r_real[None, :]).any(1).double().mean()  # fake inside some real ball
    recall = (d.T <= r_fake[None, :]).any(1).double().mean()  # real inside some fake ball
    return float(precision), float(recall)


def density_coverage(real_feats: torch.Tensor, fake_feats: torch.Tensor, k: int = 5) -> tuple[float, float]:
    """Density and coverage (Naeem et al. 2020): both count samples in the k-NN balls of the real features (12)."""
    real, fake = _check_feats(real_feats, fake_feats, "density_coverage", min_rows=k + 1)
    real, fake = real.detach().double(), fake.detach().double()
    inside = torch.cdist(fake, real) <= _kth_neighbour_radius(real, k)[None, :]  # (N_fake, N_real)
    return float(inside.sum() / (k * len(fake))), float(inside.any(0).double().mean())


class Scoreboard:
    """One row per model: likelihood (exact, bound or none) and sample metrics against one real test set (12)."""

    METRICS = ("FID", "KID x1e3", "precision", "recall", "density", "coverage", "judged")

    def __init__(self, features, x_real: torch.Tensor, n: int, repeats: int = 3, seed: int = 0, judge=None):
        if n < 6 or n > len(x_real) or repeats < 1:
            raise ValueError(f"Scoreboard: need 6 <= n <= len(x_real) = {len(x_real)} and repeats >= 1, "
                             f"got n={n}, repeats={repeats}")
        self.features, self.n, self.repeats, self.seed = features, n, repeats, seed
        self.judge = judge   # images -> class probabilities; "judged" = share classified with confidence >= 0.9
        self.samplers: dict = {}
        self.metrics = [m for m in self.METRICS if m != "judged" or judge]   # the columns this board fills
        self.f_real = features(x_real[:n])
        # KID's cubic kernel (x.y / D + 1)^3 expects Inception-scale features (entries of order 1); ours are larger,
        # so KID divides every feature vector by one fixed number, the real features' root mean square.
        self.kid_scale = self.f_real.double().pow(2).mean().sqrt().item()
        self.rows: dict[str, dict] = {}

    @torch.no_grad()
    def add(self, name: str, sampler, nll: float | None = None, likelihood: str = "exact") -> dict:
        """Score sampler(n, generator) -> images over `repeats` draws; nll: test NLL in nats/image, or None (12)."""
        if nll is not None and likelihood not in ("exact", "bound"):
            raise ValueError(f"Scoreboard.add: likelihood must be 'exact' or 'bound', got {likelihood!r}")
        values: dict[str, list[float]] = {m: [] for m in self.metrics}
        for r in range(self.repeats):
            x = sampler(self.n, torch.Generator().manual_seed(self.seed + r))
            f = self.features(x)
            precision, recall = precision_recall(self.f_real, f, k=3)
            density, coverage = density_coverage(self.f_real, f, k=5)
            draw = {"FID": fid(self.f_real, f), "KID x1e3": 1e3 * kid(self.f_real / self.kid_scale, f / self.kid_scale),
                    "precision": precision, "recall": recall, "density": density, "coverage": coverage}
            if self.judge:
                draw["judged"] = float((self.judge(x).max(1).values >= 0.9).double().mean())
            for m in self.metrics:
                values[m].append(draw[m])
        row: dict = {"likelihood": "—" if nll is None else likelihood, "NLL": None if nll is None else float(nll)}
        for m, v in values.items():
            t = torch.tensor(v, dtype=torch.float64)
            row[m], row[f"{m} sd"] = t.mean().item(), (t.std().item() if len(v) > 1 else 0.0)
        self.rows[name], self.samplers[name] = row, sampler
        return row

    def table(self) -> str:
        """The rows as a text table: NLL with its kind, metrics as mean±sd over the draws (12)."""
        w = max([24] + [len(name) + 1 for name in self.rows])   # the model column fits the longest name
        shown = self.metrics
        digits = lambda v: 0 if abs(v) >= 100 else 1 if abs(v) >= 10 else 2
        cell = lambda v, sd: f"{v:.{digits(v)}f}±{sd:.{digits(v)}f}"
        rows = {name: ["—" if r["NLL"] is None else f"{r['NLL']:.1f} {r['likelihood']}"]
                + [cell(r[m], r[m + " sd"]) for m in shown] for name, r in self.rows.items()}
        widths = [max([len(h)] + [len(cells[i]) for cells in rows.values()]) + 2
                  for i, h in enumerate(["NLL nats"] + shown)]
        lines = [f"{'model':{w}s}" + "".join(f"{h:>{wd}s}" for h, wd in zip(["NLL nats"] + shown, widths))]
        for name, cells in rows.items():
            lines.append(f"{name:{w}s}" + "".join(f"{v:>{wd}s}" for v, wd in zip(cells, widths)))
        return "\n".join(lines)


# Bad input gets a clear error naming the parameter: the checks live in labhelpers/guards.py, not in the lesson.
from labhelpers.guards import guard_module  # noqa: E402

guard_module(globals())
