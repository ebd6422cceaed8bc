import math

import pytest
import torch

from labhelpers.pixelcnn import (
    MaskedConv2d,
    PixelCNN,
    binarization_entropy,
    binarize,
    bits_per_dim,
    causal_mask,
    nll_per_image,
    pixelcnn_loss,
    sample,
    stochastic_binarize,
)


def test_mask_a_and_b_known_pattern():
    a = causal_mask(3, "A")
    b = causal_mask(3, "B")
    assert torch.equal(a, torch.tensor([[1., 1., 1.], [1., 0., 0.], [0., 0., 0.]]))
    assert torch.equal(b, torch.tensor([[1., 1., 1.], [1., 1., 0.], [0., 0., 0.]]))
    m7 = causal_mask(7, "A")
    assert m7.shape == (7, 7) and m7.sum() == 24  # 3 full rows of 7 + 3 on the left
    assert causal_mask(7, "B").sum() == 25


def test_masked_conv_buffer_shape_and_zeros():
    conv = MaskedConv2d(2, 4, 5, "A")
    assert conv.mask.shape == (1, 1, 5, 5)
    assert conv.mask[0, 0, 2, 2] == 0 and conv.mask[0, 0, 3:].sum() == 0 and conv.mask[0, 0, 2, 3:].sum() == 0


def test_bad_mask_arguments():
    with pytest.raises(ValueError, match="mask_type"):
        causal_mask(3, "C")
    with pytest.raises(ValueError, match="odd"):
        causal_mask(4, "A")


def test_output_pixel_does_not_depend_on_later_inputs():
    torch.manual_seed(0)
    model = PixelCNN(channels=8, num_layers=3, image_shape=(1, 8, 8))
    with torch.no_grad():  # make every weight positive so no dependency can cancel by accident
        for p in model.parameters():
            p.abs_()
    n = 64
    violations, reached = 0, 0
    for i in range(n):
        x = torch.rand(1, 1, 8, 8, requires_grad=True)
        model(x).flatten()[i].backward()
        g = x.grad.flatten().abs()
        violations += int((g[i:] > 0).sum())
        reached += int((g[:i] > 0).sum())
    assert violations == 0
    assert reached > 0  # earlier pixels do matter: the check can see a dependency


def test_unmasked_conv_is_caught_by_the_same_check():
    torch.manual_seed(0)
    model = PixelCNN(channels=4, num_layers=1, image_shape=(1, 6, 6))
    model.net[0].mask.fill_(1.0)  # break causality on purpose
    x = torch.rand(1, 1, 6, 6, requires_grad=True)
    model(x).flatten()[10].backward()
    assert (x.grad.flatten()[10:].abs() > 0).any()


def test_nll_matches_uniform_model():
    model = PixelCNN(channels=4, num_layers=1, image_shape=(1, 5, 5))
    for p in model.parameters():  # all logits 0 -> p = 1/2 for every pixel
        torch.nn.init.zeros_(p)
    x = binarize(torch.rand(3, 1, 5, 5))
    nll = nll_per_image(model, x)
    assert nll.shape == (3,)
    assert torch.allclose(nll, torch.full((3,), 25 * math.log(2)), atol=1e-5)
    assert bits_per_dim(nll[0], 25) == pytest.approx(1.0, abs=1e-6)
    assert pixelcnn_loss(model, x).item() == pytest.approx(25 * math.log(2), rel=1e-5)


def test_nll_rejects_grey_images_and_wrong_shape():
    model = PixelCNN(channels=4, num_layers=1, image_shape=(1, 5, 5))
    with pytest.raises(ValueError, match="binarized"):
        nll_per_image(model, torch.full((1, 1, 5, 5), 0.3))
    with pytest.raises(ValueError, match="shape"):
        model(torch.zeros(1, 1, 4, 4))


def test_sample_shape_binary_and_reproducible():
    torch.manual_seed(0)
    model = PixelCNN(channels=4, num_layers=1, image_shape=(1, 6, 6))
    s1 = sample(model, 3, generator=torch.Generator().manual_seed(1))
    s2 = sample(model, 3, generator=torch.Generator().manual_seed(1))
    assert s1.shape == (3, 1, 6, 6)
    assert torch.equal(s1, s2)
    assert torch.all((s1 == 0) | (s1 == 1))


def test_sample_follows_a_fixed_bias():
    model = PixelCNN(channels=4, num_layers=1, image_shape=(1, 6, 6))
    for p in model.parameters():
        torch.nn.init.zeros_(p)
    model.net[-1].bias.data.fill_(math.log(0.9 / 0.1))  # p(x_i = 1) = 0.9 everywhere
    s = sample(model, 50, generator=torch.Generator().manual_seed(0))
    assert abs(s.mean().item() - 0.9) < 0.03


def test_stochastic_binarize_draws_each_pixel_with_its_grey_level():
    grey = torch.tensor([0.0, 0.25, 0.5, 1.0]).repeat(4000, 1).view(4000, 1, 2, 2)
    x = stochastic_binarize(grey, generator=torch.Generator().manual_seed(0))
    assert x.shape == grey.shape and torch.all((x == 0) | (x == 1))
    freq = x.mean(0).flatten()
    assert freq[0] == 0 and freq[3] == 1  # black stays black, white stays white
    assert abs(freq[1] - 0.25) < 0.03 and abs(freq[2] - 0.5) < 0.03
    again = stochastic_binarize(grey, generator=torch.Generator().manual_seed(0))
    assert torch.equal(x, again)  # one generator seed, one fixed draw
    with pytest.raises(ValueError, match=r"values in \[0, 1\]"):
        stochastic_binarize(torch.full((1, 1, 2, 2), 1.5))


def test_binarization_entropy_is_the_sum_of_bernoulli_entropies():
    grey = torch.tensor([[0.0, 1.0, 0.5, 0.1], [0.0, 0.0, 1.0, 1.0]]).view(2, 1, 2, 2)
    h = binarization_entropy(grey)
    h01 = -(0.1 * math.log(0.1) + 0.9 * math.log(0.9))
    assert h.shape == (2,)
    assert h[0].item() == pytest.approx(math.log(2) + h01, abs=1e-6)  # 0.1 in float32
    assert h[1].item() == 0.0  # black and white pixels are not random
    # the bound: the expected NLL of the best per-pixel model (p = grey level) equals it, on average over draws
    g = torch.Generator().manual_seed(0)
    p = grey[0].clamp(1e-6, 1 - 1e-6)
    draws = torch.stack([stochastic_binarize(grey[0], generator=g) for _ in range(20000)])
    nll = -(draws * p.log() + (1 - draws) * (1 - p).log()).flatten(1).sum(1)
    assert nll.mean().item() == pytest.approx(h[0].item(), abs=0.02)
