"""labhelpers.config: the quick switch, parameter defaults and the metrics file."""

import json
import subprocess
import sys

import pytest
import torch

from labhelpers import config, lecture


@pytest.mark.parametrize("value, expected", [("1", True), ("true", True), ("0", False), ("", False)])
def test_quick_switch_read_from_environment(value, expected):
    out = subprocess.run([sys.executable, "-c", "import labhelpers as lh; print(lh.QUICK)"],
                         env={"LAB_QUICK": value, "PATH": ""}, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == str(expected)


def test_use_quick_and_setting(monkeypatch):
    monkeypatch.setattr(config, "QUICK", False)
    assert config.use_quick(None) is False
    assert config.setting(None, quick=1, full=10) == 10
    assert config.use_quick(True) is True
    assert config.setting(None, quick=1, full=10) == 1
    assert config.setting(7, quick=1, full=10) == 7  # a papermill override wins
    import labhelpers as lh
    assert lh.QUICK is True


def test_record_metrics_writes_and_merges(tmp_path, monkeypatch):
    monkeypatch.setattr(config, "BUILD_DIR", tmp_path)
    monkeypatch.setattr(lecture, "_recorded", set())
    (tmp_path / "metrics").mkdir()
    (tmp_path / "metrics" / "99_test.json").write_text('{"stale": 1}')
    path = lecture.record_metrics("99_test", {"acc": torch.tensor(0.5), "n": 3})
    lecture.record_metrics("99_test", {"curve": [0.25, 0.125], "headline": ["acc"]})
    got = json.loads(path.read_text())
    assert "stale" not in got  # the first call of a run starts afresh
    assert got["acc"] == 0.5 and got["n"] == 3 and got["curve"] == [0.25, 0.125]
    assert got["mode"] in ("quick", "full") and got["headline"] == ["acc"]


def test_metrics_of_another_notebook_only_from_a_comparable_run(tmp_path, monkeypatch):
    """08 and 09 quote 06/07's numbers only when those ran in the same mode on the same dataset."""
    monkeypatch.setattr(config, "BUILD_DIR", tmp_path)
    monkeypatch.setattr(config, "METRICS_DIR", None)
    (tmp_path / "metrics").mkdir()
    mode = "quick" if config.QUICK else "full"
    other = "full" if mode == "quick" else "quick"
    run = {"test_nll_nats": 73.17, "mode": mode, "provenance": {"parameters": {"dataset": "fashion-mnist"}}}
    (tmp_path / "metrics" / "97_a.json").write_text(json.dumps(run))
    (tmp_path / "metrics" / "98_b.json").write_text(json.dumps(dict(run, mode=other)))
    assert lecture.metrics_of("97_a", "fashion-mnist")["test_nll_nats"] == 73.17
    assert lecture.metrics_of("97_a", "mnist") == {}            # another dataset
    assert lecture.metrics_of("98_b", "fashion-mnist") == {}    # another mode
    assert lecture.metrics_of("99_never_ran", "mnist") == {}
    got = lecture.metrics_of("97_a", "fashion-mnist")
    assert lecture.measured(got, "test_nll_nats", ".1f", "07", " (exact)") == "73.2 (exact)"
    assert lecture.measured({}, "test_nll_nats", ".1f", "07") == "run 07 first"


def test_record_metrics_rejects_non_numbers(tmp_path, monkeypatch):
    monkeypatch.setattr(config, "BUILD_DIR", tmp_path)
    with pytest.raises(TypeError, match="not a number"):
        lecture.record_metrics("99_test", {"model": object()})


def test_checkpoint_path_separates_modes(monkeypatch, tmp_path):
    monkeypatch.setattr(config, "BUILD_DIR", tmp_path)
    monkeypatch.setattr(config, "QUICK", True)
    q = config.checkpoint_path("vae")
    monkeypatch.setattr(config, "QUICK", False)
    assert q != config.checkpoint_path("vae") and q.name == "vae.pt"


def test_a_quick_mode_claim_says_first_that_it_is_not_checked(monkeypatch, capsys):
    """A student reads the first words of the line: in quick mode they say 'not checked', never 'DOES NOT HOLD'."""
    from labhelpers import config

    monkeypatch.setattr(config, "QUICK", True)
    monkeypatch.setattr(config, "NOTEBOOK", None)
    lecture.claim("quick_mode_probe", False, "accuracy 0.4 (chance 0.5)")
    line = capsys.readouterr().out.strip()
    assert line.startswith("claim quick_mode_probe: not checked in quick mode")
    assert "DOES NOT HOLD" not in line and "does not hold, accuracy 0.4" in line
    monkeypatch.setattr(config, "QUICK", False)
    lecture.claim("quick_mode_probe", False, "accuracy 0.4 (chance 0.5)")
    assert capsys.readouterr().out.startswith("claim quick_mode_probe: DOES NOT HOLD -- accuracy 0.4")
    lecture._claims.pop("quick_mode_probe", None)


def test_hints_name_the_cells_to_run():
    from labhelpers.hints import hint_for
    assert "'lh' is defined in an earlier cell" in hint_for(NameError("name 'lh' is not defined", name="lh"))
    assert "run the cell right after it" in hint_for(TypeError("'<' not supported between instances of 'NoneType' "
                                                               "and 'int'"))
    assert hint_for(TypeError("unsupported operand type(s) for +: 'int' and 'str'")) is None
    assert hint_for(ValueError("x")) is None
