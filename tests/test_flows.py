"""The lesson code of 08 (labhelpers.flows, generated from notebooks/08_normalizing_flows.ipynb)."""

from __future__ import annotations

import math

import pytest
import torch

from labhelpers.flows import (
    IMAGE_SHAPE,
    LOGIT_ALPHA,
    AffineCoupling,
    FirstChannels,
    Flow,
    Squeeze,
    Unsqueeze,
    bits_per_dim,
    channel_mask,
    conv_net,
    dequantize,
    dequantize_uniform,
    dequantized_nll,
    image_flow,
    image_nll,
    independent_pixels_nll,
    logit_transform,
    mlp_net,
    nll_loss,
    pixel_histogram_nll,
    realnvp_2d,
    sample_images,
    sample_moons,
    standard_normal_log_prob,
    train_flow,
)


def _randomize(flow: torch.nn.Module, std: float) -> torch.nn.Module:
    """Leave the identity start: random last layers in every coupling."""
    torch.manual_seed(0)
    with torch.no_grad():
        for m in flow.modules():
            if isinstance(m, AffineCoupling):
                m.net[-1].weight.normal_(0, std)
                m.net[-1].bias.normal_(0, std)
    return flow


def test_standard_normal_log_prob_matches_torch():
    z = torch.randn(4, 3, 2)
    want = torch.distributions.Normal(0.0, 1.0).log_prob(z).flatten(1).sum(1)
    assert torch.allclose(standard_normal_log_prob(z), want, atol=1e-5)


def test_new_coupling_is_the_identity():
    layer = AffineCoupling(torch.tensor([1.0, 0.0]), mlp_net(2, 8))
    x = torch.randn(5, 2)
    z, logdet = layer(x)
    assert torch.equal(z, x) and torch.equal(logdet, torch.zeros(5))


def test_coupling_keeps_the_masked_part_and_inverts():
    layer = _randomize(AffineCoupling(torch.tensor([1.0, 0.0]), mlp_net(2, 8)), 0.5)
    x = torch.randn(64, 2)
    z, _ = layer(x)
    assert torch.equal(z[:, 0], x[:, 0])
    assert torch.allclose(layer.inverse(z), x, atol=1e-5)


def test_scale_is_bounded():
    layer = _randomize(AffineCoupling(torch.tensor([0.0, 1.0]), mlp_net(2, 8), scale_bound=2.0), 50.0)
    _, logdet = layer(10 * torch.randn(256, 2))
    assert logdet.abs().max() <= 2.0 + 1e-6


@pytest.mark.parametrize("num_layers", [1, 4])
def test_realnvp_logdet_matches_autograd_jacobian(num_layers):
    flow = _randomize(realnvp_2d(num_layers=num_layers, hidden=16), 0.5).double()
    for x in torch.randn(6, 2, dtype=torch.float64):
        _, logdet = flow(x[None])
        jac = torch.autograd.functional.jacobian(lambda v: flow(v[None])[0][0], x)
        assert abs(logdet.item() - torch.linalg.slogdet(jac)[1].item()) < 1e-9


def test_image_flow_logdet_matches_autograd_and_inverts():
    flow = _randomize(image_flow(hidden=4, num_couplings=2), 0.05).double()
    x = torch.randn(1, *IMAGE_SHAPE, dtype=torch.float64)
    z, logdet = flow(x)
    assert z.shape == x.shape and logdet.shape == (1,)
    jac = torch.autograd.functional.jacobian(lambda v: flow(v.view(1, *IMAGE_SHAPE))[0].flatten(), x.flatten(),
                                             vectorize=True)
    assert abs(logdet.item() - torch.linalg.slogdet(jac)[1].item()) < 1e-7
    assert torch.allclose(flow.inverse(z), x, atol=1e-10)


def test_squeeze_is_a_permutation_with_an_inverse():
    x = torch.arange(2 * 3 * 4 * 6, dtype=torch.float32).view(2, 3, 4, 6)
    y, logdet = Squeeze()(x)
    assert y.shape == (2, 12, 2, 3) and torch.equal(logdet, torch.zeros(2))
    assert torch.equal(y.flatten(1).sort(1).values, x.flatten(1).sort(1).values)
    assert torch.equal(y[0, :4, 0, 0], torch.tensor([0.0, 1.0, 6.0, 7.0]))  # one 2x2 block -> 4 channels
    assert torch.equal(Squeeze().inverse(y), x)
    assert torch.equal(Unsqueeze()(y)[0], x) and torch.equal(Unsqueeze().inverse(x), y)


def test_first_channels_passes_the_rest_unchanged():
    inner = Flow([_randomize(AffineCoupling(channel_mask(2, 0), conv_net(2, 4)), 0.3)], (2, 4, 4))
    layer = FirstChannels(inner, 2)
    x = torch.randn(3, 4, 4, 4)
    z, logdet = layer(x)
    assert torch.equal(z[:, 2:], x[:, 2:]) and logdet.shape == (3,)
    assert torch.allclose(layer.inverse(z), x, atol=1e-5)


def test_channel_masks_are_complementary():
    assert torch.equal(channel_mask(4, 0) + channel_mask(4, 1), torch.ones(4, 1, 1))
    assert channel_mask(8, 0).shape == (8, 1, 1) and channel_mask(8, 0).sum() == 4


def test_dequantize_lands_in_the_pixel_region_with_its_log_density():
    x = (torch.rand(3, *IMAGE_SHAPE) < 0.3).float()
    v, log_q = dequantize(x, torch.Generator().manual_seed(0))
    assert v.shape == x.shape and log_q.shape == (3,)
    assert torch.equal(v > 0, x > 0)
    r = v.abs()
    maxwell = torch.distributions.Chi2(3.0).log_prob(r ** 2) + torch.log(2 * r)  # density of r = sqrt(chi^2_3)
    assert torch.allclose(log_q, maxwell.flatten(1).sum(1), rtol=1e-4)


def test_image_nll_of_the_identity_flow_and_iw_bound():
    flow = Flow([], IMAGE_SHAPE)
    x = (torch.rand(64, *IMAGE_SHAPE) < 0.5).float()
    nll1 = image_nll(flow, x, 1, torch.Generator().manual_seed(0)).mean()
    nll8 = image_nll(flow, x, 8, torch.Generator().manual_seed(0)).mean()
    assert nll8 < nll1
    d = math.prod(IMAGE_SHAPE)
    # the identity flow is exactly a fair coin per pixel after dequantization: the bound lies above D ln 2
    assert d * math.log(2) < nll8 < nll1


def test_independent_pixels_nll_is_exact():
    x_train = torch.tensor([[1.0, 0.0], [1.0, 1.0]])
    x = torch.tensor([[1.0, 0.0]])
    assert torch.allclose(independent_pixels_nll(x_train, x), torch.tensor([-math.log(1 - 1e-3) - math.log(0.5)]))


def test_sampling_shapes_and_values():
    flow = image_flow(hidden=4, num_couplings=2)
    x = sample_images(flow, 3, temperature=0.7, generator=torch.Generator().manual_seed(0))
    assert x.shape == (3, *IMAGE_SHAPE) and torch.all((x == 0) | (x == 1))
    assert realnvp_2d(2, 8).sample(5).shape == (5, 2)
    assert sample_moons(7).shape == (7, 2)


def test_training_a_2d_flow_lowers_the_nll():
    torch.manual_seed(0)
    g = torch.Generator().manual_seed(0)
    x = sample_moons(2000, generator=g)
    flow = realnvp_2d(4, 32)
    before = nll_loss(flow, x).item()
    history = train_flow(flow, nll_loss, x, num_steps=150, batch_size=128, lr=3e-3, generator=g)
    assert len(history) == 150
    assert nll_loss(flow, x).item() < before - 0.5


def test_uniform_dequantization_stays_in_the_bin():
    x = torch.tensor([0.0, 1 / 255, 128 / 255, 1.0]).reshape(1, 1, 2, 2).repeat(500, 1, 1, 1)
    y = dequantize_uniform(x, torch.Generator().manual_seed(0))
    k = (x * 255).round()
    assert ((y * 256 >= k) & (y * 256 < k + 1)).all()
    assert (y * 256 - k).std() > 0.2  # spread over the bin, not a constant offset


def test_logit_transform_logdet_matches_autograd():
    y = torch.rand(1, 1, 2, 2, generator=torch.Generator().manual_seed(1))
    v, logdet = logit_transform(y)
    jac = torch.autograd.functional.jacobian(lambda t: logit_transform(t)[0], y).reshape(4, 4)
    assert torch.allclose(logdet, jac.det().abs().log().reshape(1), atol=1e-4)
    s = LOGIT_ALPHA + (1 - 2 * LOGIT_ALPHA) * y
    assert torch.allclose(v, torch.logit(s), atol=1e-5)


def test_pixel_histogram_nll_is_exact_and_smoothed():
    x_train = torch.zeros(10, 1, 2, 2)
    x = torch.zeros(3, 1, 2, 2)
    p0 = (10 + 1) / (10 + 256)  # Laplace: one extra count in each of the 256 bins
    assert torch.allclose(pixel_histogram_nll(x_train, x), torch.full((3,), -4 * math.log(p0)))
    unseen = torch.ones(1, 1, 2, 2)
    assert torch.allclose(pixel_histogram_nll(x_train, unseen), torch.tensor([-4 * math.log(1 / 266)]))
    assert torch.allclose(bits_per_dim(pixel_histogram_nll(x_train, x, smoothing=1e9), 4),
                          torch.full((3,), 8.0), atol=1e-4)  # all bins equal: 8 bits per pixel


def test_dequantized_nll_of_an_identity_flow_is_finite_and_a_bound():
    flow = image_flow(hidden=8, num_couplings=2)  # starts as the identity
    x = torch.rand(4, *IMAGE_SHAPE, generator=torch.Generator().manual_seed(2))
    nll = dequantized_nll(flow, x, torch.Generator().manual_seed(3))
    assert nll.shape == (4,) and torch.isfinite(nll).all()
    assert (bits_per_dim(nll, 784) > 0).all()
