"""Generative vs discriminative: the Gaussian fit, accuracy, AUROC and the CNN classifier (01)

GENERATED from notebooks/01_generative_vs_discriminative.ipynb by `python tools/nbtool.py export`: do not edit by hand.
Edit the cells tagged `export` in the notebook and run the export again (the pre-commit hook does).
"""
# ruff: noqa: E501

# The imports of the lesson code (the cells tagged `export`, written to labhelpers/gendisc.py).
import torch
import torch.nn.functional as F
from torch import nn

from labhelpers.training import fit, predict


def fit_gaussian(z: torch.Tensor, ridge: float = 1e-4) -> torch.distributions.MultivariateNormal:
    """Maximum-likelihood full-covariance Gaussian of the rows of z (N x D), with a small ridge (01, 02, 08)."""
    if z.ndim != 2 or len(z) < 2:
        raise ValueError(f"fit_gaussian: expected at least 2 samples as an (N, D) tensor, got {tuple(z.shape)}")
    z = z.detach().double()                       # float64: log-densities in 784-D need the precision
    mean = z.mean(0)                              # (D,)
    centered = z - mean                           # (N, D)
    cov = centered.T @ centered / len(z) + ridge * torch.eye(z.shape[1], dtype=z.dtype)   # (D, D), 1/N: the MLE
    return torch.distributions.MultivariateNormal(mean, covariance_matrix=cov)


def accuracy(logits_or_labels: torch.Tensor, y: torch.Tensor) -> float:
    """Fraction of correct predictions, from logits (N x K) or predicted labels (N) (01)."""
    pred = logits_or_labels.argmax(1) if logits_or_labels.ndim == 2 else logits_or_labels   # (N,) labels
    if pred.shape != y.shape:
        raise ValueError(f"accuracy: predictions {tuple(pred.shape)} and labels {tuple(y.shape)} differ in shape")
    return float((pred == y).float().mean())


class SmallCNN(nn.Module):
    """A compact digit classifier; `features(x)` gives the 128-d embedding used for FID/KID (01, 06, 08)."""

    def __init__(self, in_channels: int = 1, num_classes: int = 10, image_size: int = 28):
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(in_channels, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),  # (B, 32, H/2, W/2)
            nn.Conv2d(32, 64, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),           # (B, 64, H/4, W/4)
            nn.Flatten(), nn.Linear(64 * (image_size // 4) ** 2, 128), nn.ReLU(),   # (B, 128)
        )
        self.head = nn.Linear(128, num_classes)                                    # (B, num_classes) logits

    def features(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.body(x))


def train_classifier(x: torch.Tensor, y: torch.Tensor, num_epochs: int = 3, batch_size: int = 128,
                     lr: float = 1e-3, generator: torch.Generator | None = None) -> SmallCNN:
    """Train a SmallCNN on (x, y) with cross-entropy and return it in eval mode (01, 06, 08)."""
    model = SmallCNN(in_channels=x.shape[1], image_size=x.shape[-1])
    fit(model, lambda m, xb, yb: F.cross_entropy(m(xb), yb), x, y, num_epochs=num_epochs,   # -mean log p(y|x)
        batch_size=batch_size, lr=lr, generator=generator, desc="classifier")
    return model


def classify(model: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """Predicted labels of `model` on `x`, in batches without gradients (06, 08)."""
    return predict(model, x).argmax(1)


def fit_diagonal_gaussian(z: torch.Tensor, ridge: float = 1e-4) -> torch.distributions.Independent:
    """Naive Bayes for one class: independent Gaussians per coordinate of the rows of z (N x D), variance + ridge (01)."""
    if z.ndim != 2 or len(z) < 1:
        raise ValueError(f"fit_diagonal_gaussian: expected an (N, D) tensor with N >= 1, got {tuple(z.shape)}")
    z = z.detach().double()
    mean = z.mean(0)                                              # (D,)
    var = z.var(0, unbiased=False) + ridge                        # (D,): the diagonal of the MLE covariance + ridge
    return torch.distributions.Independent(torch.distributions.Normal(mean, var.sqrt()), 1)


def train_softmax_classifier(x: torch.Tensor, y: torch.Tensor, hidden: int = 0, steps: int = 300,
                             batch_size: int = 128, lr: float = 3e-3,
                             num_classes: int = 10, generator: torch.Generator | None = None) -> nn.Module:
    """Logistic regression (hidden=0) or a one-hidden-layer MLP on flattened inputs, Adam on the cross-entropy (01)."""
    layers = [nn.Linear(x[0].numel(), hidden), nn.ReLU(), nn.Linear(hidden, num_classes)] if hidden else \
        [nn.Linear(x[0].numel(), num_classes)]
    model = nn.Sequential(nn.Flatten(), *layers)
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    for _ in range(steps):
        batch = torch.randint(len(x), (min(batch_size, len(x)),), generator=generator)   # sampled with replacement
        loss = F.cross_entropy(model(x[batch]), y[batch])                              # -mean log p(y|x)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return model.eval()


def auroc(scores_negative: torch.Tensor, scores_positive: torch.Tensor) -> float:
    """Area under the ROC curve: probability that a positive scores above a negative, ties counting half (01, 02)."""
    neg, pos = scores_negative.flatten().double(), scores_positive.flatten().double()
    if len(neg) == 0 or len(pos) == 0:
        raise ValueError("auroc needs at least one negative and one positive score")
    ranks = _average_ranks(torch.cat([neg, pos]))                  # ranks among all scores, 1 = lowest
    rank_sum = ranks[len(neg):].sum()                              # R_+: the positives' ranks
    return float((rank_sum - len(pos) * (len(pos) + 1) / 2) / (len(pos) * len(neg)))


def _average_ranks(v: torch.Tensor) -> torch.Tensor:
    """1-based ranks with ties sharing their average rank (Mann-Whitney U)."""
    order = torch.argsort(v)
    sorted_v = v[order]
    ranks = torch.empty_like(v)
    _, inverse, counts = torch.unique_consecutive(sorted_v, return_inverse=True, return_counts=True)
    ends = torch.cumsum(counts, 0).double()
    avg = ends - (counts.double() - 1) / 2                         # the mean rank of each group of ties
    ranks[order] = avg[inverse]
    return ranks


# Bad input gets a clear error naming the parameter: the checks live in labhelpers/guards.py, not in the lesson.
from labhelpers.guards import guard_module  # noqa: E402

guard_module(globals())
