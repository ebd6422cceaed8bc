"""labhelpers.gendisc (generated from notebook 01): the Gaussian fit, accuracy, AUROC and the CNN classifier."""

import pytest
import torch

from labhelpers.gendisc import SmallCNN, accuracy, auroc, classify, fit_gaussian, train_classifier
from labhelpers.training import seed_everything


def test_auroc_known_values():
    assert auroc(torch.tensor([0.0, 1.0]), torch.tensor([2.0, 3.0])) == 1.0
    assert auroc(torch.tensor([2.0, 3.0]), torch.tensor([0.0, 1.0])) == 0.0
    assert auroc(torch.tensor([1.0, 1.0]), torch.tensor([1.0])) == 0.5  # ties count half
    # 3 of the 4 (negative, positive) pairs are ordered correctly
    assert auroc(torch.tensor([0.0, 2.0]), torch.tensor([1.0, 3.0])) == 0.75
    with pytest.raises(ValueError):
        auroc(torch.tensor([]), torch.tensor([1.0]))


def test_auroc_matches_counting_pairs():
    g = torch.Generator().manual_seed(0)
    neg, pos = torch.randint(0, 5, (40,), generator=g).float(), torch.randint(1, 6, (30,), generator=g).float()
    pairs = ((pos[None, :] > neg[:, None]).double() + 0.5 * (pos[None, :] == neg[:, None]).double()).mean()
    assert auroc(neg, pos) == pytest.approx(float(pairs), abs=1e-12)


def test_accuracy_from_logits_and_labels():
    y = torch.tensor([0, 1, 1])
    assert accuracy(torch.tensor([[2.0, 1.0], [0.0, 1.0], [3.0, 0.0]]), y) == pytest.approx(2 / 3)
    assert accuracy(torch.tensor([0, 1, 1]), y) == 1.0
    with pytest.raises(ValueError, match="differ in shape"):
        accuracy(torch.tensor([0, 1]), y)


def test_small_cnn_learns_a_trivial_task():
    g = seed_everything(0)
    x = torch.zeros(200, 1, 28, 28)
    y = torch.arange(200) % 2
    x[y == 1, :, :14] = 1.0  # class 1: top half bright
    model = train_classifier(x, y, num_epochs=4, batch_size=20, generator=g)
    assert isinstance(model, SmallCNN)
    assert accuracy(classify(model, x), y) == 1.0
    assert model.features(x[:3]).shape == (3, 128)


def test_fit_gaussian_recovers_moments():
    g = torch.Generator().manual_seed(0)
    z = torch.randn(20000, 2, generator=g) @ torch.tensor([[2.0, 0.0], [1.0, 0.5]]) + torch.tensor([1.0, -1.0])
    dist = fit_gaussian(z)
    assert torch.allclose(dist.mean.float(), torch.tensor([1.0, -1.0]), atol=0.05)
    assert torch.allclose(dist.covariance_matrix.float(), torch.tensor([[5.0, 0.5], [0.5, 0.25]]), atol=0.1)
    with pytest.raises(ValueError, match="at least 2 samples"):
        fit_gaussian(torch.zeros(1, 2))


def test_fit_diagonal_gaussian_is_the_diagonal_of_the_full_fit():
    from labhelpers.gendisc import fit_diagonal_gaussian

    g = torch.Generator().manual_seed(0)
    z = torch.randn(500, 3, generator=g) @ torch.tensor([[1.0, 0.5, 0.0], [0.0, 1.0, 0.3], [0.0, 0.0, 0.2]])
    nb, full = fit_diagonal_gaussian(z, ridge=0.01), fit_gaussian(z, ridge=0.01)
    diag = torch.distributions.MultivariateNormal(full.mean, torch.diag(full.covariance_matrix.diagonal()))
    assert torch.allclose(nb.log_prob(z.double()), diag.log_prob(z.double()))
    with pytest.raises(ValueError):
        fit_diagonal_gaussian(torch.zeros(5))


def test_train_softmax_classifier_learns_a_separable_task():
    from labhelpers.gendisc import train_softmax_classifier

    g = seed_everything(0)
    x = torch.zeros(100, 1, 4, 4)
    y = torch.arange(100) % 2
    x[y == 1, :, :2] = 1.0
    for hidden in (0, 16):
        model = train_softmax_classifier(x, y, hidden=hidden, steps=100, num_classes=2, generator=g)
        assert accuracy(model(x), y) == 1.0
