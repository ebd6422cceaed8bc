"""labhelpers.autoencoder (generated from notebook 02): the MLP autoencoder, PCA, the few-label sampler, the probe."""

import math

import pytest
import torch

from labhelpers.autoencoder import (
    MLPAutoencoder,
    few_labels,
    fit_logistic_regression,
    pca,
    pca_reconstruct,
    reconstruction_loss,
)


def test_pca_finds_the_known_direction_and_variance():
    # points on the line y = x, spread +-1 and +-2: one direction (1, 1)/sqrt(2), variance (2 + 8)/4 * ... exact below
    x = torch.tensor([[-2.0, -2.0], [-1.0, -1.0], [1.0, 1.0], [2.0, 2.0]]) + torch.tensor([3.0, 5.0])
    mean, comps, var = pca(x, 1)
    assert torch.allclose(mean, torch.tensor([3.0, 5.0]))
    assert torch.allclose(comps.abs(), torch.full((1, 2), 1 / math.sqrt(2)), atol=1e-6)
    # squared distances along (1,1)/sqrt2: 8, 2, 2, 8 -> variance 20/4 = 5; nothing orthogonal
    assert torch.allclose(var, torch.tensor([5.0, 0.0]), atol=1e-6)
    assert torch.allclose(pca_reconstruct(x, mean, comps), x, atol=1e-5)


def test_pca_reconstruction_error_is_the_sum_of_discarded_variances():
    g = torch.Generator().manual_seed(0)
    x = torch.randn(200, 6, generator=g) * torch.tensor([5.0, 3.0, 2.0, 1.0, 0.5, 0.1])
    for k in (1, 3, 5):
        mean, comps, var = pca(x, k)
        err = (pca_reconstruct(x, mean, comps) - x).pow(2).sum(1).mean()
        assert torch.isclose(err, var[k:].sum(), rtol=1e-4), (k, err, var[k:].sum())


def test_pca_keeps_image_shape_and_rejects_bad_k():
    x = torch.rand(10, 1, 4, 4)
    mean, comps, _ = pca(x, 3)
    assert comps.shape == (3, 16) and pca_reconstruct(x, mean, comps).shape == x.shape
    with pytest.raises(ValueError, match="k must be"):
        pca(x, 0)
    with pytest.raises(ValueError, match="expected mean"):
        pca_reconstruct(x, mean[:5], comps)


def test_few_labels_picks_exactly_per_class():
    y = torch.arange(10).repeat(7)
    idx = few_labels(y, 3, torch.Generator().manual_seed(1))
    assert len(idx) == 30 and torch.equal(torch.bincount(y[idx]), torch.full((10,), 3))
    assert torch.equal(idx, few_labels(y, 3, torch.Generator().manual_seed(1)))  # seeded: same picks
    with pytest.raises(ValueError, match="fewer than per_class"):
        few_labels(y, 8)


def test_logistic_regression_separates_separable_classes():
    g = torch.Generator().manual_seed(0)
    centers = torch.tensor([[4.0, 0.0], [-4.0, 0.0], [0.0, 4.0]])
    y = torch.arange(3).repeat(30)
    x = centers[y] + 0.5 * torch.randn(90, 2, generator=g)
    probe = fit_logistic_regression(x, y)
    assert (probe(x).argmax(1) == y).float().mean() == 1.0
    with pytest.raises(ValueError, match="labels"):
        fit_logistic_regression(x, y[:5])


@pytest.mark.parametrize("linear", [False, True])
def test_mlp_autoencoder_shapes(linear):
    ae = MLPAutoencoder(5, linear=linear)
    x = torch.rand(7, 1, 28, 28)
    z = ae.encode(x)
    assert z.shape == (7, 5) and ae(x).shape == x.shape
    n_linear = sum(isinstance(m, torch.nn.Linear) for m in ae.modules())
    assert n_linear == (2 if linear else 6)
    if not linear:
        assert 0 <= ae(x).min() and ae(x).max() <= 1


def test_reconstruction_loss_is_the_mean_squared_pixel_error():
    ae = MLPAutoencoder(3)
    x = torch.rand(4, 1, 28, 28)
    assert torch.isclose(reconstruction_loss(ae, x), (ae(x) - x).pow(2).mean())
