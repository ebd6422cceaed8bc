"""PSNR (labhelpers.denoising, generated from 04) against hand-computed answers (AUROC, accuracy: test_gendisc.py)."""

import math

import pytest
import torch

from labhelpers.denoising import psnr


def test_psnr_known_values():
    x = torch.zeros(2, 1, 4, 4)
    x_hat = x.clone()
    x_hat[0] += 0.1  # MSE 0.01 -> 20 dB
    x_hat[1] += 0.5  # MSE 0.25 -> 6.02 dB
    got = psnr(x_hat, x)
    assert torch.allclose(got, torch.tensor([20.0, 10 * math.log10(4)]), atol=1e-4)
    assert psnr(x, x)[0] > 100  # identical images: very large, finite
    with pytest.raises(ValueError, match="same shape"):
        psnr(x, x[:1])
