"""Nothing stale, swapped or out of place is used: checkpoints carry their checksum, names stay under build/."""

import json

import pytest
import torch

import labhelpers as lh
from labhelpers import config


def _train(model):
    def step():
        with torch.no_grad():
            for p in model.parameters():
                p.add_(1.0)
    return step


def test_a_checkpoint_copied_over_another_is_refused(tmp_path, capsys):
    a, b = torch.nn.Linear(3, 2), torch.nn.Linear(3, 2)
    path_a, path_b = tmp_path / "m.pt", tmp_path / "m.pt"
    lh.train_or_load(a, path_a, _train(a), settings={"seed": 0})
    lh.train_or_load(b, path_b, _train(b), settings={"seed": 1})
    file_a, file_b = sorted(tmp_path.glob("m-*.pt"))
    file_a.write_bytes(file_b.read_bytes())             # seed 1's weights under seed 0's name, its settings file kept
    fresh = torch.nn.Linear(3, 2)
    seed = {"seed": 0} if json.loads(file_a.with_suffix(".json").read_text())["settings"] == {"seed": 0} else {"seed": 1}
    with pytest.raises(RuntimeError, match="not the file saved with these settings"):
        lh.train_or_load(fresh, tmp_path / "m.pt", _train(fresh), settings=seed)


def test_a_truncated_settings_file_says_so_and_retrains(tmp_path, capsys):
    m = torch.nn.Linear(3, 2)
    lh.train_or_load(m, tmp_path / "m.pt", _train(m), settings={"seed": 0})
    meta = next(tmp_path.glob("m-*.json"))
    meta.write_text(meta.read_text()[:10])
    capsys.readouterr()
    assert lh.train_or_load(m, tmp_path / "m.pt", _train(m), settings={"seed": 0}) is False   # trained, not loaded
    out = capsys.readouterr().out
    assert "not readable JSON" in out and "training again" in out and "trained and saved" in out
    assert json.loads(meta.read_text())["settings"] == {"seed": 0}                           # written whole again
    assert lh.train_or_load(m, tmp_path / "m.pt", _train(m), settings={"seed": 0}) is True


@pytest.mark.parametrize("bad", ["../../x", "a/b", "..", ".hidden", "", "x\\y"])
def test_names_cannot_escape_build(bad, monkeypatch, tmp_path):
    monkeypatch.setattr(config, "METRICS_DIR", tmp_path / "metrics")
    for call in (lambda: lh.checkpoint_path(bad), lambda: lh.record_metrics(bad, {}),
                 lambda: lh.metrics_of(bad)):
        with pytest.raises(ValueError, match="plain name"):
            call()
    assert not any(tmp_path.parent.glob("x*"))


def test_a_truncated_metrics_file_gets_a_clear_error(monkeypatch, tmp_path):
    monkeypatch.setattr(config, "METRICS_DIR", tmp_path)
    (tmp_path / "07_autoregressive.json").write_text('{"mode": "fu')
    with pytest.raises(RuntimeError, match="not readable JSON.*Rerun 07_autoregressive"):
        lh.metrics_of("07_autoregressive")
