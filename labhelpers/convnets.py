"""Convolution arithmetic, transposed convolution, mirrored encoder/decoder design, a convolutional autoencoder and checkerboard energy (03)

GENERATED from notebooks/03_conv_autoencoder.ipynb by `python tools/nbtool.py export`: do not edit by hand.
Edit the cells tagged `export` in the notebook and run the export again (the pre-commit hook does).
"""
# ruff: noqa: E501

import math

import torch
import torch.nn.functional as F
from torch import nn


def conv_transpose2d_scatter(x: torch.Tensor, w: torch.Tensor, stride: int = 1, padding: int = 0,
                             dilation: int = 1, output_padding: int = 0) -> torch.Tensor:
    """Transposed convolution by scatter-add; x: (B, C_in, H, W), w: (C_in, C_out, k, k) (03)."""
    B, _, H, W = x.shape
    C_out, k = w.shape[1], w.shape[-1]
    span = dilation * (k - 1) + 1                          # extent of one (dilated) kernel stamp
    full_h = (H - 1) * stride + span + output_padding      # canvas before the padding is cropped
    full_w = (W - 1) * stride + span + output_padding
    canvas = x.new_zeros(B, C_out, full_h, full_w)
    for i in range(H):
        for j in range(W):
            stamp = torch.einsum("bc,cokl->bokl", x[:, :, i, j], w)   # (B, C_out, k, k): x_ij * K
            rows = slice(i * stride, i * stride + span, dilation)
            cols = slice(j * stride, j * stride + span, dilation)
            canvas[:, :, rows, cols] += stamp                          # overlapping stamps add up
    return canvas[:, :, padding:full_h - padding, padding:full_w - padding]


def conv_matrix(w: torch.Tensor, n: int, stride: int = 1) -> torch.Tensor:
    """Matrix C with conv2d(x, w, stride).flatten() == C @ x.flatten() for one n x n channel (03)."""
    basis = torch.eye(n * n, dtype=w.dtype).view(n * n, 1, n, n)   # (n^2, 1, n, n): one basis image each
    columns = F.conv2d(basis, w, stride=stride)                     # (n^2, 1, o, o)
    return columns.flatten(1).T                                     # (o^2, n^2)


def _check_ints(**values: int) -> None:
    for name, v in values.items():
        if not isinstance(v, int) or isinstance(v, bool):
            raise ValueError(f"{name} must be an int, got {v!r}")


def conv_output_size(i: int, k: int, s: int = 1, p: int = 0, d: int = 1) -> int:
    """Output length of nn.Conv2d along one axis: floor((i + 2p - d(k-1) - 1) / s) + 1 (03)."""
    _check_ints(i=i, k=k, s=s, p=p, d=d)
    if i < 1 or k < 1 or s < 1 or d < 1 or p < 0:
        raise ValueError(f"conv_output_size: expected i, k, s, d >= 1 and p >= 0, got i={i} k={k} s={s} p={p} d={d}")
    o = (i + 2 * p - d * (k - 1) - 1) // s + 1
    if o < 1:
        raise ValueError(f"conv_output_size: kernel (k={k}, d={d}) larger than padded input (i={i}, p={p})")
    return o


def conv_transpose_output_size(i: int, k: int, s: int = 1, p: int = 0, d: int = 1, output_padding: int = 0) -> int:
    """Output length of nn.ConvTranspose2d along one axis: (i-1)s - 2p + d(k-1) + output_padding + 1 (03)."""
    _check_ints(i=i, k=k, s=s, p=p, d=d, output_padding=output_padding)
    if i < 1 or k < 1 or s < 1 or d < 1 or p < 0 or output_padding < 0:
        raise ValueError("conv_transpose_output_size: expected i, k, s, d >= 1 and p, output_padding >= 0, "
                         f"got i={i} k={k} s={s} p={p} d={d} output_padding={output_padding}")
    if output_padding >= max(s, d):
        raise ValueError(f"conv_transpose_output_size: output_padding ({output_padding}) must be smaller "
                         f"than the stride ({s}) or the dilation ({d})")
    o = (i - 1) * s - 2 * p + d * (k - 1) + output_padding + 1
    if o < 1:
        raise ValueError(f"conv_transpose_output_size: padding p={p} removes the whole output")
    return o


def design_mirrored(sizes: list[int], kernel_size: int = 4) -> list[dict[str, int]]:
    """Per downsampling step i -> o: conv (kernel, stride, padding) and the transposed conv's output_padding (03).

    The encoder maps sizes[0] -> sizes[1] -> ...; the decoder runs the same settings backwards, with
    output_padding chosen so that every transposed conv returns exactly the size its conv received.
    """
    if len(sizes) < 2 or any(not isinstance(n, int) or n < 1 for n in sizes):
        raise ValueError(f"design_mirrored: expected a list of at least two positive ints, got {sizes!r}")
    layers = []
    for i, o in zip(sizes[:-1], sizes[1:]):
        s = max(1, round(i / o))
        found = None
        for p in sorted(range(kernel_size), key=lambda p: abs(p - (kernel_size - 1) // 2)):   # "same"-like first
            try:
                if conv_output_size(i, kernel_size, s, p) != o:
                    continue
                op = i - conv_transpose_output_size(o, kernel_size, s, p)
            except ValueError:
                continue
            if 0 <= op < s:
                found = dict(in_size=i, out_size=o, kernel_size=kernel_size, stride=s, padding=p, output_padding=op)
                break
        if found is None:
            raise ValueError(f"design_mirrored: no padding in 0..{kernel_size - 1} with stride {s} maps {i} -> {o} "
                             f"with kernel {kernel_size} and back; try another kernel_size or sizes")
        layers.append(found)
    return layers


def mirrored_encoder_decoder(sizes: list[int], channels: list[int], kernel_size: int = 4,
                             upsample: str = "transposed") -> tuple[nn.Sequential, nn.Sequential]:
    """Conv encoder sizes[0] -> ... -> sizes[-1] and a decoder whose shapes mirror it exactly (03).

    `channels` has one entry per size (channels[0] = image channels). `upsample` is "transposed"
    (nn.ConvTranspose2d) or "resize" (nearest upsampling to the mirrored size, then a 3x3 conv).
    The decoder ends without an activation; the caller adds one.
    """
    if len(channels) != len(sizes):
        raise ValueError(f"mirrored_encoder_decoder: need one channel count per size, got {len(channels)} "
                         f"channels for {len(sizes)} sizes")
    if upsample not in ("transposed", "resize"):
        raise ValueError(f"upsample must be 'transposed' or 'resize', got {upsample!r}")
    layers = design_mirrored(sizes, kernel_size)
    enc: list[nn.Module] = []
    for L, c_in, c_out in zip(layers, channels[:-1], channels[1:]):
        enc += [nn.Conv2d(c_in, c_out, kernel_size, L["stride"], L["padding"]), nn.ReLU()]
    dec: list[nn.Module] = []
    for L, c_in, c_out in zip(layers[::-1], channels[:0:-1], channels[-2::-1]):
        if upsample == "transposed":
            dec.append(nn.ConvTranspose2d(c_in, c_out, kernel_size, L["stride"], L["padding"],
                                          output_padding=L["output_padding"]))
        else:
            dec += [nn.Upsample(size=L["in_size"], mode="nearest"), nn.Conv2d(c_in, c_out, 3, padding=1)]
        dec.append(nn.ReLU())
    return nn.Sequential(*enc), nn.Sequential(*dec[:-1])


def checkerboard_energy(y: torch.Tensor, period: int = 2, border: int = 0) -> torch.Tensor:
    """Share of an image's non-constant energy at the frequencies that repeat every `period` pixels, per image (03).

    y: (..., H, W). `border` pixels are cropped first (edges of a transposed conv are uneven anyway);
    the crop is trimmed to a multiple of `period` so those frequencies are DFT bins. 0 = no such pattern,
    1 = a pure pattern of that period (period 2: a checkerboard).
    """
    if y.ndim < 2:
        raise ValueError(f"checkerboard_energy: expected images (..., H, W), got shape {tuple(y.shape)}")
    if not isinstance(period, int) or period < 2:
        raise ValueError(f"checkerboard_energy: period must be an int >= 2, got {period!r}")
    if border:
        y = y[..., border:-border, border:-border]
    h, w = y.shape[-2] // period * period, y.shape[-1] // period * period
    if h < period or w < period:
        raise ValueError(f"checkerboard_energy: crop too small ({tuple(y.shape[-2:])}) after border={border}")
    y = y[..., :h, :w].double()
    power = torch.fft.fft2(y - y.mean(dim=(-2, -1), keepdim=True)).abs().pow(2)
    on_grid = power[..., ::h // period, ::w // period]           # (period x period) bins, (0, 0) is the mean: 0
    return (on_grid.sum(dim=(-2, -1)) / power.sum(dim=(-2, -1)).clamp_min(1e-30)).float()


def period2_energy(y: torch.Tensor, border: int = 0) -> torch.Tensor:
    """E_2: the share of non-constant energy at the period-2 (Nyquist) frequencies, per image (03)."""
    return checkerboard_energy(y, 2, border)


class ConvAutoencoder(nn.Module):
    """Conv encoder -> code z -> mirrored transposed-conv (or resize-conv) decoder; same API as MLPAutoencoder (03).

    With an int `latent_dim` the code is a vector (a linear layer after the convolutions); with
    `latent_dim=None` the network is fully convolutional and the code is the last feature map
    (channels[-1], H/2^n, W/2^n), as in the denoising autoencoder of notebook 04. `pixel_mean` (the mean
    pixel of the training images) starts the output at that value instead of 0.5.
    """

    def __init__(self, latent_dim: int | None, image_shape: tuple[int, int, int] = (1, 28, 28),
                 channels: tuple[int, ...] = (16, 32), kernel_size: int = 4, upsample: str = "transposed",
                 pixel_mean: float | None = None):
        super().__init__()
        c, h, w = image_shape
        if h != w:
            raise ValueError(f"ConvAutoencoder: expected square images, got {h}x{w}")
        if latent_dim is not None and (not isinstance(latent_dim, int) or latent_dim < 1):
            raise ValueError(f"ConvAutoencoder: latent_dim must be a positive int or None, got {latent_dim!r}")
        if pixel_mean is not None and not 0 < float(pixel_mean) < 1:
            raise ValueError(f"ConvAutoencoder: pixel_mean must lie strictly between 0 and 1, got {pixel_mean!r}")
        self.image_shape = tuple(image_shape)
        sizes = [h]
        for _ in channels:
            sizes.append(math.ceil(sizes[-1] / 2))  # 28 -> 14 -> 7
        convs, deconvs = mirrored_encoder_decoder(sizes, [c, *channels], kernel_size, upsample)
        if pixel_mean is not None:  # sigmoid(bias) = pixel_mean: start at the average pixel, not at 0.5
            with torch.no_grad():
                deconvs[-1].bias.fill_(math.log(pixel_mean / (1 - pixel_mean)))
        self.code_shape = (channels[-1], sizes[-1], sizes[-1])  # (32, 7, 7)
        if latent_dim is None:  # fully convolutional: the feature map is the code
            self.encoder = convs                                  # ends with a ReLU
            self.decoder = nn.Sequential(deconvs, nn.Sigmoid())
            return
        n_code = math.prod(self.code_shape)
        self.encoder = nn.Sequential(convs, nn.Flatten(), nn.Linear(n_code, latent_dim))
        self.decoder = nn.Sequential(nn.Linear(latent_dim, n_code), nn.ReLU(), nn.Unflatten(1, self.code_shape),
                                     deconvs, nn.Sigmoid())

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        return self.encoder(x)  # (B, C, H, W) -> (B, latent_dim), or (B, *code_shape) when fully convolutional

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        return self.decoder(z)  # (B, latent_dim) or (B, *code_shape) -> (B, C, H, W)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.decode(self.encode(x))


def local_checkerboard_energy(y: torch.Tensor, border: int = 0) -> torch.Tensor:
    """E_loc: share of an image's variance in the checkerboard coefficient of its aligned 2x2 blocks, per image (03).

    Block [[a, b], [c, d]] has the coefficient q = (a - b - c + d) / 4; E_loc = mean q^2 / mean (y - mean y)^2.
    1 for a pure checkerboard, 0 when every 2x2 block is constant; unlike E_2 it also counts a checkerboard whose
    sign or strength changes across the image. `border` (even, to keep the blocks aligned) is cropped first.
    """
    if y.ndim < 2:
        raise ValueError(f"local_checkerboard_energy: expected images (..., H, W), got shape {tuple(y.shape)}")
    if border:
        y = y[..., border:-border, border:-border]
    h, w = y.shape[-2] // 2 * 2, y.shape[-1] // 2 * 2
    if h < 2 or w < 2:
        raise ValueError(f"local_checkerboard_energy: crop too small ({tuple(y.shape[-2:])}) after border={border}")
    y = y[..., :h, :w].double()
    q = (y[..., 0::2, 0::2] - y[..., 0::2, 1::2] - y[..., 1::2, 0::2] + y[..., 1::2, 1::2]) / 4   # (..., h/2, w/2)
    variance = (y - y.mean(dim=(-2, -1), keepdim=True)).pow(2).mean(dim=(-2, -1))
    return (q.pow(2).mean(dim=(-2, -1)) / variance.clamp_min(1e-30)).float()


# Bad input gets a clear error naming the parameter: the checks live in labhelpers/guards.py, not in the lesson.
from labhelpers.guards import guard_module  # noqa: E402

guard_module(globals())
