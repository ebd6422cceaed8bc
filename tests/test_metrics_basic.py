"""labhelpers.metrics: PSNR, AUROC and accuracy against hand-computed answers."""

import math

import pytest
import torch

import labhelpers as lh


def test_psnr_known_values():
    x = torch.zeros(2, 1, 4, 4)
    x_hat = x.clone()
    x_hat[0] += 0.1  # MSE 0.01 -> 20 dB
    x_hat[1] += 0.5  # MSE 0.25 -> 6.02 dB
    got = lh.psnr(x_hat, x)
    assert torch.allclose(got, torch.tensor([20.0, 10 * math.log10(4)]), atol=1e-4)
    assert lh.psnr(x, x)[0] > 100  # identical images: very large, finite
    with pytest.raises(ValueError, match="same shape"):
        lh.psnr(x, x[:1])


def test_auroc_known_values():
    assert lh.auroc(torch.tensor([0.0, 1.0]), torch.tensor([2.0, 3.0])) == 1.0
    assert lh.auroc(torch.tensor([2.0, 3.0]), torch.tensor([0.0, 1.0])) == 0.0
    assert lh.auroc(torch.tensor([1.0, 1.0]), torch.tensor([1.0])) == 0.5  # ties count half
    # 3 of the 4 (negative, positive) pairs are ordered correctly
    assert lh.auroc(torch.tensor([0.0, 2.0]), torch.tensor([1.0, 3.0])) == 0.75
    with pytest.raises(ValueError):
        lh.auroc(torch.tensor([]), torch.tensor([1.0]))


def test_accuracy_from_logits_and_labels():
    y = torch.tensor([0, 1, 1])
    assert lh.accuracy(torch.tensor([[2.0, 1.0], [0.0, 1.0], [3.0, 0.0]]), y) == pytest.approx(2 / 3)
    assert lh.accuracy(torch.tensor([0, 1, 1]), y) == 1.0
    with pytest.raises(ValueError, match="differ in shape"):
        lh.accuracy(torch.tensor([0, 1]), y)
