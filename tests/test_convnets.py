"""Unit tests of labhelpers.convnets: size formulas against PyTorch, mirrored design, ConvAutoencoder."""

import itertools

import pytest
import torch
import torch.nn.functional as F

import labhelpers as lh
from labhelpers.convnets import (
    ConvAutoencoder,
    conv_output_size,
    conv_transpose_output_size,
    design_mirrored,
    local_checkerboard_energy,
    mirrored_encoder_decoder,
    period2_energy,
)


def test_known_sizes():
    assert conv_output_size(28, 3, 2, 1) == 14
    assert conv_output_size(28, 4, 2, 1) == 14
    assert conv_output_size(5, 3) == 3
    assert conv_output_size(7, 3, d=2) == 3
    assert conv_transpose_output_size(2, 2) == 3  # the worked example: 2x2 input, 2x2 kernel, stride 1
    assert conv_transpose_output_size(7, 4, 2, 1) == 14
    assert conv_transpose_output_size(14, 3, 2, 1, output_padding=1) == 28


@pytest.mark.parametrize("i,k,s,p,d", [(i, k, s, p, d) for i, k, s, p, d in
                                       itertools.product([5, 8, 13], [1, 2, 3, 5], [1, 2, 3], [0, 1, 2], [1, 2])
                                       if i + 2 * p >= d * (k - 1) + 1])
def test_formulas_match_pytorch(i, k, s, p, d):
    x = torch.zeros(1, 1, i, i)
    w = torch.zeros(1, 1, k, k)
    assert F.conv2d(x, w, stride=s, padding=p, dilation=d).shape[-1] == conv_output_size(i, k, s, p, d)
    for op in range(max(s, d)):
        o = (i - 1) * s - 2 * p + d * (k - 1) + op + 1
        if o < 1:
            continue
        y = F.conv_transpose2d(x, w, stride=s, padding=p, dilation=d, output_padding=op)
        assert y.shape[-1] == conv_transpose_output_size(i, k, s, p, d, op)


def test_bad_sizes_raise():
    with pytest.raises(ValueError, match="i=0: it is below 1"):
        conv_output_size(0, 3)
    with pytest.raises(ValueError, match="larger than"):
        conv_output_size(2, 5)
    with pytest.raises(ValueError, match="output_padding"):
        conv_transpose_output_size(4, 3, s=2, output_padding=2)
    with pytest.raises(ValueError, match="int"):
        conv_output_size(4.0, 3)


def test_design_mirrored_28_14_7():
    layers = design_mirrored([28, 14, 7], kernel_size=3)
    assert [(L["stride"], L["padding"], L["output_padding"]) for L in layers] == [(2, 1, 1), (2, 1, 1)]
    layers = design_mirrored([28, 14, 7], kernel_size=4)
    assert [(L["stride"], L["padding"], L["output_padding"]) for L in layers] == [(2, 1, 0), (2, 1, 0)]
    with pytest.raises(ValueError, match="at least two"):
        design_mirrored([28])


@pytest.mark.parametrize("upsample", ["transposed", "resize"])
@pytest.mark.parametrize("k", [3, 4, 5])
def test_mirrored_shapes(k, upsample):
    enc, dec = mirrored_encoder_decoder([28, 14, 7], [1, 4, 8], kernel_size=k, upsample=upsample)
    x = torch.rand(2, 1, 28, 28)
    h = enc(x)
    assert h.shape == (2, 8, 7, 7)
    assert dec(h).shape == x.shape


def test_conv_autoencoder_interface():
    torch.manual_seed(0)
    m = ConvAutoencoder(latent_dim=6)
    x = torch.rand(3, 1, 28, 28)
    z = m.encode(x)
    assert z.shape == (3, 6)
    x_hat = m.decode(z)
    assert x_hat.shape == x.shape and x_hat.min() >= 0 and x_hat.max() <= 1
    assert torch.allclose(m(x), x_hat)
    assert lh.reconstruction_loss(m, x).ndim == 0
    assert ConvAutoencoder(4, image_shape=(3, 32, 32), upsample="resize")(torch.rand(1, 3, 32, 32)).shape == (1, 3, 32, 32)
    with pytest.raises(ValueError, match="upsample"):
        ConvAutoencoder(4, upsample="bilinear-ish")


def test_period2_energy_known_answers():
    yy, xx = torch.meshgrid(torch.arange(8), torch.arange(8), indexing="ij")
    checker = ((yy + xx) % 2).float()
    assert period2_energy(checker).item() == pytest.approx(1.0)
    smooth = torch.sin(2 * torch.pi * xx / 8).float()
    assert period2_energy(smooth).item() == pytest.approx(0.0, abs=1e-6)
    assert period2_energy(torch.ones(3, 8, 8)).shape == (3,)
    with pytest.raises(ValueError, match="too small"):
        period2_energy(torch.ones(4, 4), border=2)


def test_local_checkerboard_energy_known_answers():
    yy, xx = torch.meshgrid(torch.arange(8), torch.arange(8), indexing="ij")
    checker = ((yy + xx) % 2).float()
    assert local_checkerboard_energy(checker).item() == pytest.approx(1.0)
    noise = torch.rand(2, 1, 6, 6, generator=torch.Generator().manual_seed(0))
    blocky = F.interpolate(noise, scale_factor=2, mode="nearest")[:, 0]        # every aligned 2x2 block constant
    assert torch.allclose(local_checkerboard_energy(blocky), torch.zeros(2), atol=1e-7)
    # a checkerboard whose sign flips halfway: E_2 misses part of it, E_loc does not
    flipped = (2 * checker - 1) * torch.where(xx < 4, 1.0, -1.0)
    assert local_checkerboard_energy(flipped).item() == pytest.approx(1.0)
    assert period2_energy(flipped).item() < 0.9
    assert local_checkerboard_energy(torch.ones(3, 8, 8)).shape == (3,)
    with pytest.raises(ValueError, match="too small"):
        local_checkerboard_energy(torch.ones(4, 4), border=2)


def test_fully_convolutional_autoencoder():
    m = ConvAutoencoder(None, channels=(4, 8))
    x = torch.rand(2, 1, 28, 28)
    z = m.encode(x)
    assert z.shape == (2, *m.code_shape) == (2, 8, 7, 7)
    assert m.decode(z).shape == x.shape
    with pytest.raises(ValueError, match="latent_dim"):
        ConvAutoencoder(0)
