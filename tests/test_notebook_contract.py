"""The lecture contract (CONTRIBUTING.md) on every notebook, the README syllabus and the pre-commit hooks.

The rules live in tools/nbcontract.py (also the pre-commit hook); they include those of
../shared/tools/nbcheck.py: one parameters cell, >= 3 solution cells, >= 3 slide-metadata
cells, Summary and Exercises, no stored outputs except NBVAL_CHECK_OUTPUT cells.
"""

from __future__ import annotations

import copy
import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tools"))
import nbcontract  # noqa: E402
from sample_notebook import make_notebook  # noqa: E402

NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_follows_the_contract(path):
    problems = nbcontract.check(path)
    assert not problems, f"{path.name} falls short of CONTRIBUTING.md:\n- " + "\n- ".join(problems)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_name_matches_its_title(path):
    nb = json.loads(path.read_text())
    title = "".join(next(c for c in nb["cells"] if c["cell_type"] == "markdown")["source"]).splitlines()[0]
    assert title.startswith(f"# {path.name[:2]}"), f"{path.name}: title {title!r} should start with '# {path.name[:2]}'"


def rise_settings() -> set[str] | None:
    """The notebook-level `rise` keys the installed jupyterlab-rise understands (from its settings schema)."""
    schema = Path(sys.prefix, "share/jupyter/labextensions/jupyterlab-rise/schemas/jupyterlab-rise/plugin.json")
    return set(json.loads(schema.read_text())["properties"]) if schema.exists() else None


@pytest.mark.skipif(rise_settings() is None, reason="jupyterlab-rise is not installed in this environment")
@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_rise_metadata_is_understood_by_jupyterlab_rise(path):
    from build_slides import RISE_METADATA

    assert set(RISE_METADATA) <= rise_settings()
    rise = json.loads(path.read_text())["metadata"].get("rise", {})
    unknown = set(rise) - rise_settings()
    assert not unknown, f"{path.name}: jupyterlab-rise ignores notebook metadata rise.{sorted(unknown)}"


# --- the rules themselves, on the sample lecture and broken copies of it --------------------------

def sample() -> dict:
    return json.loads(json.dumps(make_notebook()))


def broken(change) -> dict:
    nb = copy.deepcopy(sample())
    change(nb)
    return nb


def problems_of(nb: dict) -> str:
    return "\n".join(p for rule in nbcontract.RULES for p in rule(nb))


def test_sample_lecture_passes():
    assert problems_of(sample()) == ""


def _set_source(index: int, text: str):
    return lambda nb: nb["cells"][index].__setitem__("source", text)


@pytest.mark.parametrize("change, expected", [
    (lambda nb: nb["metadata"]["kernelspec"].update(name="conda-env-x-py"), "kernelspec name is 'conda-env-x-py'"),
    (lambda nb: nb["cells"][3]["metadata"].update(tags=["parameters"]), "2 cells tagged 'parameters'"),
    (_set_source(2, "n = 5\ntwice = n * 2"), "twice = n * 2 is not a plain literal"),
    (_set_source(2, "import os\nn = 5"), "only `name = literal` assignments"),
    (lambda nb: nb["cells"][16]["metadata"].update(tags=[]), "2 solution cells"),
    (_set_source(16, "spread = 1"), "solution cell 16 has no '# HINT:' line"),
    (_set_source(8, "## Wrap-up"), "no '## Summary' heading"),
    (lambda nb: nb["cells"].insert(3, nb["cells"].pop(9)), "Exercises come before the Summary"),
    (lambda nb: nb["cells"][4]["metadata"]["slideshow"].update(slide_type="sub-slide"), "slide_type 'sub-slide'"),
    (lambda nb: nb["cells"][0]["metadata"].pop("slideshow"), "first cell must have slide_type 'slide'"),
    (lambda nb: nb["cells"][8]["metadata"].pop("slideshow"), "cell 8: a '## ' section heading must start a slide"),
    (_set_source(0, "## 99 · no title"), "first markdown cell must start with a '# NN · Title'"),
    (lambda nb: nb["cells"][3].update(outputs=[{"output_type": "stream", "name": "stdout", "text": "x"}]),
     "cell 3 stores outputs"),
    (lambda nb: nb["cells"][5]["metadata"].update(tags=[]), "not tagged keep_output"),
    (lambda nb: nb["cells"][5].update(outputs=[{"output_type": "stream", "name": "stdout", "text": "2.0\n"}],
                                      execution_count=None), "without an execution count"),
])
def test_each_rule_catches_its_problem(change, expected):
    assert expected in problems_of(broken(change))


def test_hook_mode_checks_only_kernel_and_parameters(tmp_path, capsys):
    path = tmp_path / "99_x.ipynb"
    nb = broken(lambda nb: nb["cells"][16]["metadata"].update(tags=[]))  # too few exercises: fine mid-work
    path.write_text(json.dumps(nb))
    assert nbcontract.main(["--hook", str(path)]) == 0
    nb["metadata"]["kernelspec"]["name"] = "conda-env-x-py"
    path.write_text(json.dumps(nb))
    assert nbcontract.main(["--hook", str(path)]) == 1
    assert "kernelspec" in capsys.readouterr().out


# --- README syllabus and pre-commit ---------------------------------------------------------------

def test_readme_syllabus_lists_every_notebook():
    readme = (ROOT / "README.md").read_text()
    start, end = readme.find("<!-- syllabus:start -->"), readme.find("<!-- syllabus:end -->")
    assert 0 <= start < end, "README.md lost its syllabus markers"
    table = readme[start:end]
    missing = [nb.stem for nb in NOTEBOOKS if f"`{nb.name}`" not in table]
    assert not missing, f"README syllabus misses {missing}: run `python tools/update_readme.py`"


def test_pre_commit_config_names_the_hooks():
    valid = subprocess.run([sys.executable, "-m", "pre_commit", "validate-config", ".pre-commit-config.yaml"],
                           cwd=ROOT, capture_output=True, text=True)
    assert valid.returncode == 0, valid.stdout + valid.stderr
    config = yaml.safe_load((ROOT / ".pre-commit-config.yaml").read_text())
    hooks = {hook["id"]: hook for repo in config["repos"] for hook in repo["hooks"]}
    for wanted in ("nbstripout", "ruff-check", "ruff-format", "check-added-large-files", "notebook-contract"):
        assert wanted in hooks, f".pre-commit-config.yaml has no {wanted} hook"
    assert "--keep-count" in hooks["nbstripout"].get("args", []), "nbstripout must keep NBVAL_CHECK_OUTPUT counts"
    for ruff in ("ruff-check", "ruff-format"):
        assert "jupyter" in hooks[ruff].get("types_or", []), f"{ruff} must also lint notebooks"
    assert "tools/nbcontract.py" in hooks["notebook-contract"]["entry"]
    import re
    unpinned = [r["repo"] for r in config["repos"] if r["repo"] != "local" and not re.fullmatch(r"[0-9a-f]{40}", str(r.get("rev")))]
    assert not unpinned, f"pin these hook repos to a commit hash, not a movable tag: {unpinned}"
    assert "tools/nbtool.py export" in hooks["lesson-export"]["entry"]


def test_syllabus_table_from_known_runs(tmp_path):
    import nbformat
    import update_readme

    path = tmp_path / "99_sample.ipynb"
    nbformat.write(make_notebook(), path)
    assert update_readme.teaches(make_notebook()) == ("A sample lecture", ["see a formula $\\mu = \\frac{1}{n}\\sum_i x_i$",
                                                                          "draw one figure"])
    quick = {"99_sample": {"notebook": "99_sample", "ok": True, "wall_s": 12.4, "peak_rss_mib": 921,
                           "headline": "mse=0.031"}}
    table = update_readme.syllabus([path], quick, {})
    row = table.splitlines()[2]
    assert "[`99_sample.ipynb`](notebooks/99_sample.ipynb)" in row and "**A sample lecture**" in row
    assert "| 12 s · 0.9 GB | not measured | not measured | mse=0.031 (quick mode) |" in row
    assert "not measured | not measured | not measured | not measured |" in update_readme.syllabus([path], {}, {})
    full_60k = {"99_sample": dict(quick["99_sample"], wall_s=95.0, peak_rss_mib=1536)}
    assert "| 95 s · 1.5 GB |" in update_readme.syllabus([path], quick, {}, full_60k)
    with pytest.raises(ValueError, match="syllabus"):
        update_readme.render("# no markers", table)


def test_readme_scoreboard_from_a_known_run():
    """The README's scoreboard shows lecture 12's rows from a full run, and never a failed run's numbers."""
    import update_readme

    row = {"likelihood": "exact", "NLL": 72.44, "FID": 514.4, "FID sd": 2.9, "KID x1e3": 6062.2, "KID x1e3 sd": 293.7,
           "precision": 0.27, "precision sd": 0.03, "recall": 0.72, "recall sd": 0.02}
    gan = dict(row, likelihood="—", NLL=None, FID=427.9)
    full = {"12_evaluation": {"ok": True, "parameters": {"seed": 1}, "metrics": {
        "scoreboard": {"PixelCNN": row, "GAN | small": gan}, "provenance": {"commit": "0123456789abcdef"}}}}
    table = update_readme.scoreboard(full)
    lines = table.splitlines()
    assert lines[2] == "| PixelCNN | exact | 72.4 | 514.4 ± 2.9 | 6062 ± 294 | 0.27 ± 0.03 | 0.72 ± 0.02 |"
    assert lines[3].startswith("| GAN \\| small | — | — | 427.9 ± 2.9 |")
    assert "(seed=1, commit 0123456)" in table
    full["12_evaluation"]["ok"] = False
    assert update_readme.scoreboard(full).startswith("not measured") and "514" not in update_readme.scoreboard(full)
    readme = "a\n<!-- syllabus:start -->\nold\n<!-- syllabus:end -->\nb\n<!-- scoreboard:start -->\nstale\n<!-- scoreboard:end -->\n"
    new = update_readme.render(readme, "TABLE", "BOARD")
    assert "TABLE" in new and "BOARD" in new and "stale" not in new and "old" not in new
    with pytest.raises(ValueError, match="scoreboard"):
        update_readme.render("<!-- syllabus:start -->\n<!-- syllabus:end -->", "TABLE", "BOARD")


def test_syllabus_keeps_an_earlier_60k_measurement_marked_as_such(tmp_path):
    import nbformat
    import update_readme

    path = tmp_path / "99_sample.ipynb"
    nbformat.write(make_notebook(), path)
    old = update_readme.render(f"{update_readme.START}\n{update_readme.END}\n", update_readme.syllabus(
        [path], {}, {}, {"99_sample": {"notebook": "99_sample", "ok": True, "wall_s": 95.0, "peak_rss_mib": 1536}}))
    earlier = update_readme.earlier_60k(old)
    assert earlier == {"99_sample": "95 s · 1.5 GB (earlier commit)"}
    row = update_readme.syllabus([path], {}, {}, {}, earlier).splitlines()[2]
    assert "| 95 s · 1.5 GB (earlier commit) |" in row
    again = update_readme.earlier_60k(update_readme.render(old, update_readme.syllabus([path], {}, {}, {}, earlier)))
    assert again == earlier                                    # marked once, however often it is carried over
