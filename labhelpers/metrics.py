"""Numbers that judge models: image quality, detection, and the evaluation of generative models (04, 08)."""

from __future__ import annotations

import torch


def psnr(x_hat: torch.Tensor, x: torch.Tensor, max_value: float = 1.0) -> torch.Tensor:
    """Peak signal-to-noise ratio in dB per image, 10 log10(max^2 / MSE), for images in [0, max] (04)."""
    if x_hat.shape != x.shape:
        raise ValueError(f"psnr: x_hat and x must have the same shape, got {tuple(x_hat.shape)} and {tuple(x.shape)}")
    mse = (x_hat - x).pow(2).flatten(1).mean(1).clamp_min(1e-12)
    return 10 * torch.log10(max_value ** 2 / mse)


def auroc(scores_negative: torch.Tensor, scores_positive: torch.Tensor) -> float:
    """Area under the ROC curve: probability that a positive scores above a negative, ties counting half (02)."""
    neg, pos = scores_negative.flatten().double(), scores_positive.flatten().double()
    if len(neg) == 0 or len(pos) == 0:
        raise ValueError("auroc needs at least one negative and one positive score")
    scores = torch.cat([neg, pos])
    ranks = _average_ranks(scores)
    rank_sum = ranks[len(neg):].sum()
    return float((rank_sum - len(pos) * (len(pos) + 1) / 2) / (len(pos) * len(neg)))


def _average_ranks(v: torch.Tensor) -> torch.Tensor:
    """1-based ranks with ties sharing their average rank (Mann-Whitney U)."""
    order = torch.argsort(v)
    sorted_v = v[order]
    ranks = torch.empty_like(v)
    _, inverse, counts = torch.unique_consecutive(sorted_v, return_inverse=True, return_counts=True)
    ends = torch.cumsum(counts, 0).double()
    avg = ends - (counts.double() - 1) / 2
    ranks[order] = avg[inverse]
    return ranks


def accuracy(logits_or_labels: torch.Tensor, y: torch.Tensor) -> float:
    """Fraction of correct predictions, from logits (N x K) or predicted labels (N) (01)."""
    pred = logits_or_labels.argmax(1) if logits_or_labels.ndim == 2 else logits_or_labels
    if pred.shape != y.shape:
        raise ValueError(f"accuracy: predictions {tuple(pred.shape)} and labels {tuple(y.shape)} differ in shape")
    return float((pred == y).float().mean())
