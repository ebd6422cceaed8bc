"""PixelCNN: masked convolutions, exact NLL, training, pixel-by-pixel sampling (07)

GENERATED from notebooks/07_autoregressive.ipynb by `python tools/nbtool.py export`: do not edit by hand.
Edit the cells tagged `export` in the notebook and run the export again (the pre-commit hook does).
"""
# ruff: noqa: E501

import math

import torch
import torch.nn.functional as F
from torch import nn

from labhelpers.training import fit, predict


def binarize(x: torch.Tensor, threshold: float = 0.5) -> torch.Tensor:
    """Pixels in [0, 1] -> {0, 1} by thresholding (07)."""
    return (x > threshold).float()


def bits_per_dim(nll_nats: torch.Tensor | float, num_dims: int) -> float:
    """Convert an NLL in nats per image into bits per dimension: nll / (D ln 2) (07)."""
    nll = nll_nats.detach().item() if isinstance(nll_nats, torch.Tensor) else float(nll_nats)
    return nll / (num_dims * math.log(2))


def causal_mask(kernel_size: int, mask_type: str) -> torch.Tensor:
    """(k, k) 0/1 mask: rows above the centre and pixels left of it; "B" also keeps the centre (07)."""
    if mask_type not in ("A", "B"):
        raise ValueError(f"mask_type must be 'A' (first layer, hides the centre) or 'B' (keeps it), got {mask_type!r}")
    if kernel_size < 1 or kernel_size % 2 == 0:
        raise ValueError(f"kernel_size must be a positive odd integer, got {kernel_size}")
    c = kernel_size // 2
    mask = torch.zeros(kernel_size, kernel_size)
    mask[:c, :] = 1  # every row above the centre
    mask[c, :c] = 1  # the centre row, left of the centre
    if mask_type == "B":
        mask[c, c] = 1  # type B may look at the centre (its own feature, already causal)
    return mask


class MaskedConv2d(nn.Conv2d):
    """A Conv2d whose kernel is multiplied by a causal mask of type "A" or "B" on every call (07)."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, mask_type: str):
        super().__init__(in_channels, out_channels, kernel_size, padding=kernel_size // 2)
        self.mask_type = mask_type
        self.register_buffer("mask", causal_mask(kernel_size, mask_type)[None, None])  # (1, 1, k, k)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.conv2d(x, self.weight * self.mask, self.bias, padding=self.padding)


class PixelCNN(nn.Module):
    """Mask-A 7x7 conv, `num_layers` mask-B 3x3 convs with ReLU, 1x1 head: one Bernoulli logit per pixel (07)."""

    def __init__(self, channels: int = 32, num_layers: int = 5, image_shape: tuple[int, int, int] = (1, 28, 28)):
        super().__init__()
        if image_shape[0] != 1:
            raise ValueError(f"PixelCNN models binarized one-channel images, got image_shape={image_shape}")
        self.image_shape = tuple(image_shape)
        layers: list[nn.Module] = [MaskedConv2d(1, channels, 7, "A"), nn.ReLU()]
        for _ in range(num_layers):
            layers += [MaskedConv2d(channels, channels, 3, "B"), nn.ReLU()]
        layers += [nn.Conv2d(channels, 1, 1)]  # 1x1: mixes channels at one position only, stays causal
        self.net = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.ndim != 4 or tuple(x.shape[1:]) != self.image_shape:
            raise ValueError(f"PixelCNN expects images of shape (B, {', '.join(map(str, self.image_shape))}), "
                             f"got {tuple(x.shape)}")
        return self.net(x)  # (B, 1, H, W) logits of p(x_i = 1 | x_<i)


def nll_per_image(model: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """Exact negative log-likelihood -log p(x) in nats per image (B,), summed over pixels (07, 10)."""
    if not torch.all((x == 0) | (x == 1)):
        raise ValueError("nll_per_image expects binarized images with values in {0, 1}; use binarize(x) first")
    logits = model(x)
    return F.binary_cross_entropy_with_logits(logits, x, reduction="none").flatten(1).sum(1)


def pixelcnn_loss(model: nn.Module, x: torch.Tensor, *_) -> torch.Tensor:
    """Mean NLL per image in nats: the maximum-likelihood training loss for `lh.fit` (07)."""
    return nll_per_image(model, x).mean()


def train_pixelcnn(model: nn.Module, x_train: torch.Tensor, num_steps: int, batch_size: int = 128,
                   lr: float = 2e-3, seed: int = 0, x_test: torch.Tensor | None = None) -> dict[str, list[float]]:
    """Adam on the exact NLL for about num_steps steps (whole epochs); per-epoch train and test NLL (07)."""
    num_epochs = max(1, math.ceil(num_steps * batch_size / len(x_train)))
    shuffle = torch.Generator().manual_seed(seed)  # its own generator: the test curve never changes training
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    history: dict[str, list[float]] = {"train": [], "test": []}
    for _ in range(num_epochs):
        history["train"] += fit(model, pixelcnn_loss, x_train, num_epochs=1, batch_size=batch_size,
                                optimizer=optimizer, generator=shuffle, desc="pixelcnn")["loss"]
        if x_test is not None:
            history["test"].append(predict(lambda xb: nll_per_image(model, xb), x_test, batch_size=250).mean().item())
    return history


def stochastic_binarize(x: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
    """Pixels in [0, 1] -> {0, 1}: each pixel is on with probability equal to its grey level (07)."""
    if x.min() < 0 or x.max() > 1:
        raise ValueError(f"stochastic_binarize expects grey levels in [0, 1], got [{x.min():.3g}, {x.max():.3g}]")
    return (torch.rand(x.shape, generator=generator).to(x.device) < x).float()


def binarization_entropy(x: torch.Tensor) -> torch.Tensor:
    """Entropy (nats per image, (B,)) of the stochastic binarization of grey images: sum of Bernoulli entropies (07)."""
    p = x.flatten(1).double()
    return -(torch.xlogy(p, p) + torch.xlogy(1 - p, 1 - p)).sum(1)


@torch.no_grad()
def sample(model: nn.Module, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
    """Draw n images pixel by pixel in raster order: H*W forward passes, each fixing one pixel (07)."""
    if n < 1:
        raise ValueError(f"sample needs n >= 1 images, got {n}")
    model.eval()
    c, h, w = model.image_shape
    device = next(model.parameters()).device
    x = torch.zeros(n, c, h, w, device=device)
    for i in range(h):
        for j in range(w):
            p = torch.sigmoid(model(x)[:, 0, i, j])  # (n,) p(x_ij = 1 | pixels before it)
            u = torch.rand(n, generator=generator).to(device)
            x[:, 0, i, j] = (u < p).float()
    return x


# Bad input gets a clear error naming the parameter: the checks live in labhelpers/guards.py, not in the lesson.
from labhelpers.guards import guard_module  # noqa: E402

guard_module(globals())
