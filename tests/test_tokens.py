"""Lecture 10's generated module: quantization, the VQ-VAE's losses and restarts, attention and the two priors."""

from __future__ import annotations

import math

import pytest
import torch

from labhelpers import tokens as t


def test_quantize_picks_the_nearest_entry_and_rejects_bad_shapes():
    g = torch.Generator().manual_seed(0)
    book = torch.randn(7, 3, generator=g) * torch.linspace(0.1, 3, 7)[:, None]
    z = torch.randn(2, 3, 4, 4, generator=g)
    codes, q = t.quantize(z, book)
    flat = z.permute(0, 2, 3, 1).reshape(-1, 3)
    assert torch.equal(codes.flatten(), torch.cdist(flat, book).argmin(1))
    assert torch.allclose(q.permute(0, 2, 3, 1).reshape(-1, 3), book[codes.flatten()])
    with pytest.raises(ValueError, match="same D"):
        t.quantize(z, torch.randn(7, 4))
    with pytest.raises(ValueError, match=r"\(B, D, H, W\)"):
        t.quantize(flat, book)


def test_straight_through_gradient_reaches_the_encoder_and_the_losses_train_the_codebook():
    torch.manual_seed(0)
    model = t.VQVAE(num_codes=8, code_dim=4)
    x = torch.rand(5, 1, 28, 28)
    loss, reconstruction, codes = t.vq_loss(model, x)
    assert codes.shape == (5, 7, 7) and reconstruction.item() > 0
    loss.backward()
    assert model.encoder[0].weight.grad.abs().sum() > 0          # through the straight-through estimator
    assert model.codebook.grad.abs().sum() > 0                   # through the codebook loss
    assert model.decode(codes).shape == (5, 1, 28, 28)
    assert torch.equal(model.encode(x), codes)


def test_perplexity_counts_codes_in_effective_use():
    assert math.isclose(t.perplexity(torch.arange(16), 16), 16)
    assert math.isclose(t.perplexity(torch.zeros(50, dtype=torch.long), 16), 1)
    assert math.isclose(t.perplexity(torch.tensor([0, 0, 1, 1]), 16), 2)


def test_restarts_move_dead_codes_onto_encoder_outputs():
    torch.manual_seed(0)
    model = t.VQVAE(num_codes=32, code_dim=4)
    with torch.no_grad():
        model.codebook[1:] += 100.0                               # every code but one is far away: dead
    x = torch.rand(64, 1, 28, 28)
    history = t.train_vqvae(model, x, num_steps=20, batch_size=16, lr=1e-3,
                            generator=torch.Generator().manual_seed(0), restart_every=5)
    assert history["revived"] > 0 and len(history["loss"]) == 20
    assert t.perplexity(model.encode(x), 32) > 1.5
    torch.manual_seed(0)
    plain = t.VQVAE(num_codes=32, code_dim=4)
    with torch.no_grad():
        plain.codebook[1:] += 100.0
    assert t.train_vqvae(plain, x, 20, 16, 1e-3, torch.Generator().manual_seed(0), 5, restart=False)["revived"] == 0


def test_causal_attention_never_looks_ahead_and_the_bidirectional_one_does():
    assert torch.equal(t.causal_mask(3), torch.tensor([[1, 0, 0], [1, 1, 0], [1, 1, 1]], dtype=torch.bool))
    for causal in (True, False):
        torch.manual_seed(0)
        model = t.TokenTransformer(num_codes=16, causal=causal, dim=32, depth=2, heads=4).eval()
        seq = torch.randint(0, 16, (2, 20))
        changed = seq.clone()
        changed[:, 10] = (changed[:, 10] + 1) % 16
        with torch.no_grad():
            before_same = torch.allclose(model(seq)[:, :10], model(changed)[:, :10])
        assert before_same == causal
    with pytest.raises(ValueError, match="divisible"):
        t.SelfAttention(30, 4)


def test_code_nll_is_the_summed_next_token_loss():
    torch.manual_seed(0)
    model = t.TokenTransformer(num_codes=16, causal=True, dim=32, depth=2, heads=4).eval()
    codes, labels = torch.randint(0, 16, (6, 7, 7)), torch.randint(0, 10, (6,))
    nll = t.code_nll(model, codes, labels, batch_size=4)
    with torch.no_grad():
        mean_loss = t.ar_loss(model, codes, labels, torch.Generator(), label_dropout=0.0)
    assert nll.shape == (6,)
    assert math.isclose(nll.mean().item(), 49 * mean_loss.item(), rel_tol=1e-5)


def test_samplers_return_complete_code_grids():
    torch.manual_seed(0)
    ar = t.TokenTransformer(num_codes=16, causal=True, dim=32, depth=1, heads=4).eval()
    masked = t.TokenTransformer(num_codes=16, causal=False, dim=32, depth=1, heads=4).eval()
    labels, g = torch.tensor([0, 3, 9]), torch.Generator().manual_seed(0)
    grid = t.sample_ar(ar, labels, g)
    assert grid.shape == (3, 7, 7) and grid.max() < 16
    for steps in (1, 4, 49):
        for order in ("random", "confidence"):
            grid = t.sample_masked(masked, labels, steps, g, order=order)
            assert grid.shape == (3, 7, 7) and grid.max() < 16      # no [MASK] token left
    with pytest.raises(ValueError, match="order='best'"):
        t.sample_masked(masked, labels, 4, g, order="best")
    with pytest.raises(ValueError, match="temperature"):
        t.sample_ar(ar, labels, g, temperature=0)


def test_masked_loss_only_scores_hidden_codes():
    torch.manual_seed(0)
    model = t.TokenTransformer(num_codes=16, causal=False, dim=32, depth=1, heads=4)
    codes, labels = torch.randint(0, 16, (8, 7, 7)), torch.randint(0, 10, (8,))
    loss = t.masked_loss(model, codes, labels, torch.Generator().manual_seed(0))
    assert loss.ndim == 0 and torch.isfinite(loss)


def test_token_settings_name_an_unknown_setting_and_sample_tokens_a_bad_method():
    with pytest.raises(ValueError, match="unknown"):
        t.token_settings(prior_stpes=3)
    with pytest.raises(ValueError, match="method='pixel'"):
        t.sample_tokens({}, torch.tensor([0]), method="pixel")


def test_a_schedule_that_fixes_nothing_leaves_no_mask_behind_and_no_code_is_hidden_again():
    torch.manual_seed(0)
    masked = t.TokenTransformer(num_codes=16, causal=False, dim=32, depth=1, heads=4).eval()
    labels = torch.tensor([1, 2])
    lazy = lambda step, steps: 1.0 if step < steps else 0.0        # noqa: E731  everything at the last call
    grid = t.sample_masked(masked, labels, 5, torch.Generator().manual_seed(0), schedule=lazy)
    assert grid.max() < 16
