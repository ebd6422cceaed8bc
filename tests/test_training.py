"""labhelpers.training: devices, seeding, fit, checkpoints (the shared models are tested in test_gendisc/test_autoencoder)."""

import os

import pytest
import torch

import labhelpers as lh
from labhelpers import training


def test_get_device():
    assert lh.get_device("cpu") == torch.device("cpu")
    assert lh.get_device("auto").type in ("cuda", "mps", "cpu")


def test_seed_everything_makes_runs_repeat():
    lh.seed_everything(3)
    a = torch.randn(4)
    g = lh.seed_everything(3)
    assert torch.equal(a, torch.randn(4))
    assert isinstance(g, torch.Generator)


def _train(seed):
    g = lh.seed_everything(seed)
    x = torch.rand(64, 1, 4, 4, generator=g)
    model = lh.MLPAutoencoder(2, image_shape=(1, 4, 4), hidden=(8,))
    history = lh.fit(model, lh.reconstruction_loss, x, num_epochs=15, batch_size=16, lr=1e-2, generator=g)
    return model, history


def test_fit_reduces_loss_and_is_reproducible():
    model, h1 = _train(0)
    _, h2 = _train(0)
    assert len(h1["loss"]) == 15 and h1["loss"][-1] < h1["loss"][0]
    assert h1 == h2
    assert not model.training  # left in eval mode


def test_fit_needs_data():
    with pytest.raises(ValueError, match="at least one tensor"):
        lh.fit(torch.nn.Linear(1, 1), lambda m: m.weight.sum())


def test_predict_batches_without_grad():
    lin = torch.nn.Linear(3, 2)
    x = torch.randn(2500, 3)
    out = lh.predict(lin, x, batch_size=1000)
    assert out.shape == (2500, 2) and not out.requires_grad
    assert torch.allclose(out, lin(x).detach())


def test_checkpoint_round_trip_is_atomic_and_weights_only(tmp_path):
    model = torch.nn.Linear(3, 2)
    path = lh.save_checkpoint(model.state_dict(), tmp_path / "ck" / "m.pt")
    assert [p.name for p in path.parent.iterdir()] == ["m.pt"]  # no temp file left behind
    state = lh.load_checkpoint(path)
    assert torch.equal(state["weight"], model.weight)

    class Evil:
        def __reduce__(self):
            return (os.system, ("echo pwned",))

    torch.save({"x": Evil()}, tmp_path / "evil.pt")
    with pytest.raises(RuntimeError, match="weights-only"):
        lh.load_checkpoint(tmp_path / "evil.pt")
    with pytest.raises(FileNotFoundError, match="train the model first"):
        lh.load_checkpoint(tmp_path / "missing.pt")


def _trainer(model, calls, tag):
    def train():
        calls.append(tag)
        with torch.no_grad():
            model.weight.add_(1.0)
    return train


def test_train_or_load(tmp_path):
    calls = []
    model = torch.nn.Linear(2, 1)
    assert lh.train_or_load(model, tmp_path / "a.pt", _trainer(model, calls, 1), settings={"seed": 0}) is False
    other = torch.nn.Linear(2, 1)
    assert lh.train_or_load(other, tmp_path / "a.pt", _trainer(other, calls, 2), settings={"seed": 0}) is True
    assert calls == [1] and torch.equal(other.weight, model.weight)


def test_train_or_load_never_reuses_weights_of_other_settings_or_code(tmp_path):
    calls = []
    model = torch.nn.Linear(2, 1)
    lh.train_or_load(model, tmp_path / "a.pt", _trainer(model, calls, "seed0"), settings={"seed": 0, "lr": 1e-3})
    seed1 = torch.nn.Linear(2, 1)
    assert lh.train_or_load(seed1, tmp_path / "a.pt", _trainer(seed1, calls, "seed1"), settings={"seed": 1, "lr": 1e-3}) is False
    wider = torch.nn.Linear(2, 3)  # another architecture under the same name
    assert lh.train_or_load(wider, tmp_path / "a.pt", _trainer(wider, calls, "wide"), settings={"seed": 0, "lr": 1e-3}) is False

    class Scaled(torch.nn.Linear):  # same shapes, other code: must not load the plain Linear's weights
        def forward(self, x):
            return 2 * super().forward(x)

    scaled = Scaled(2, 1)
    assert lh.train_or_load(scaled, tmp_path / "a.pt", _trainer(scaled, calls, "scaled"), settings={"seed": 0, "lr": 1e-3}) is False
    assert calls == ["seed0", "seed1", "wide", "scaled"]
    assert len(list(tmp_path.glob("a-*.pt"))) == 4 and len(list(tmp_path.glob("a-*.json"))) == 4


def test_train_or_load_refuses_a_train_that_changes_nothing(tmp_path):
    model = torch.nn.Linear(2, 1)
    with pytest.raises(RuntimeError, match="unchanged"):
        lh.train_or_load(model, tmp_path / "a.pt", lambda: None, settings={"seed": 0})
    assert not list(tmp_path.glob("*.pt"))  # nothing cached, so the next run trains


def test_progress_is_an_iterable_wrapper():
    assert list(lh.progress(range(3), disable=True)) == [0, 1, 2]


def test_fit_reports_progress_per_batch_not_per_epoch(monkeypatch):
    """One bar over every batch of every epoch (a quick run shows it move within its one epoch), and the per-epoch
    losses are the same means of the batch losses as before."""
    seen = {}

    def spy(iterable, **kwargs):
        seen.update(kwargs)
        return iterable

    monkeypatch.setattr(training, "progress", spy)
    model = torch.nn.Linear(3, 1)
    x = torch.rand(10, 3)
    history = lh.fit(model, lambda m, xb: m(xb).pow(2).mean(), x, num_epochs=2, batch_size=4)
    assert seen["total"] == 2 * 3 and len(history["loss"]) == 2
