"""`make run`'s engine: papermill with an overridden parameter, metrics JSON written and read back."""

import json
import subprocess
import sys
from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

ROOT = Path(__file__).resolve().parent.parent


def test_run_notebooks_overrides_parameter_and_collects_metrics(tmp_path):
    nb = new_notebook(cells=[
        new_markdown_cell("# 99 · A tiny notebook"),
        new_code_cell("import labhelpers as lh"),
        new_code_cell("scale = 2\nquick = None", metadata={"tags": ["parameters"]}),
        new_code_cell("QUICK = lh.use_quick(quick)\n"
                      "lh.record_metrics('99_tiny', {'value': scale * 21, 'quick_seen': QUICK, 'headline': ['value']})"),
    ])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    path = tmp_path / "99_tiny.ipynb"
    nbformat.write(nb, path)
    build = tmp_path / "build"
    out = subprocess.run([sys.executable, str(ROOT / "tools" / "run_notebooks.py"), "--quick", "--no-html",
                          "-p", "scale", "5", str(path)],
                         env={**__import__("os").environ, "LAB_BUILD_DIR": str(build)},
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stdout + out.stderr
    assert not (build / "metrics" / "99_tiny.json").exists()  # other parameters never touch the default run
    metrics = json.loads((build / "runs" / "quick_scale-5" / "metrics" / "99_tiny.json").read_text())
    assert metrics["value"] == 105 and metrics["quick_seen"] is True and metrics["mode"] == "quick"
    summary = json.loads((build / "run_summary_quick_scale-5.json").read_text())  # runs with parameters apart
    assert summary[0]["notebook"] == "99_tiny" and summary[0]["ok"] and summary[0]["wall_s"] > 0
    assert summary[0]["parameters"] == {"scale": "5"}
    assert summary[0]["peak_rss_mib"] > 50  # the kernel's memory is included
    assert "| 99_tiny | quick | ok |" in out.stdout and "value=105" in out.stdout
    executed = nbformat.read(build / "executed" / "quick_scale-5" / "99_tiny.ipynb", as_version=4)
    assert any("injected-parameters" in c.metadata.get("tags", []) for c in executed.cells)


def test_summary_of_a_subset_run_keeps_the_other_notebooks(tmp_path, monkeypatch):
    import importlib.util

    spec = importlib.util.spec_from_file_location("run_notebooks", ROOT / "tools" / "run_notebooks.py")
    rn = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(rn)
    monkeypatch.setattr(rn, "BUILD", tmp_path)
    row = lambda name, wall: {"notebook": name, "ok": True, "wall_s": wall, "peak_rss_mib": 1}
    rn.write_summary([row("01_a", 1.0), row("02_b", 2.0)], "full", [])
    path = rn.write_summary([row("02_b", 3.0)], "full", [])
    assert [(r["notebook"], r["wall_s"]) for r in json.loads(path.read_text())] == [("01_a", 1.0), ("02_b", 3.0)]


def test_failing_notebook_is_reported(tmp_path):
    nb = new_notebook(cells=[new_code_cell("raise RuntimeError('boom')")])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, tmp_path / "98_fail.ipynb")
    out = subprocess.run([sys.executable, str(ROOT / "tools" / "run_notebooks.py"), "--quick", "--no-html",
                          str(tmp_path / "98_fail.ipynb")],
                         env={**__import__("os").environ, "LAB_BUILD_DIR": str(tmp_path / "build")},
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 1 and "FAILED" in out.stdout
    assert "RuntimeError: boom" in out.stdout  # the error itself, not only "see the log"
    assert not (tmp_path / "build" / "executed" / "quick" / "98_fail.ipynb").exists()  # no half-run copy kept


def _lecture(path, parameters: str, claims: str, metrics: str = "{}"):
    """A tiny lecture at `path`: a parameters cell, then lh.start, the claims code and record_metrics."""
    nb = new_notebook(cells=[
        new_code_cell("import labhelpers as lh"),
        new_code_cell(parameters, metadata={"tags": ["parameters"]}),
        new_code_cell(f"QUICK, device, generator = lh.start('{path.stem}', quick=quick)\n{claims}\n"
                      f"lh.record_metrics('{path.stem}', {metrics})"),
    ])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, path)


def _claim_notebook(path, holds_expr):
    _lecture(path, "quick = None\nx = 3",
             f"lh.claim('x_is_three', {holds_expr}, f'x = {{x}}',\n"
             "         control={'what': 'x + 1 in place of x', 'holds': x + 1 == 3, 'evidence': f'{x + 1}'})",
             "{'x': x}")


def _run(path, build, *extra):
    return subprocess.run([sys.executable, str(ROOT / "tools" / "run_notebooks.py"), "--no-html", *extra, str(path)],
                          env={**__import__("os").environ, "LAB_BUILD_DIR": str(build)},
                          capture_output=True, text=True, timeout=300)


def test_a_false_claim_fails_the_full_run(tmp_path):
    path, build = tmp_path / "97_claims.ipynb", tmp_path / "build"
    _claim_notebook(path, "x == 3")
    good = _run(path, build)
    assert good.returncode == 0, good.stdout + good.stderr
    assert "| 97_claims | x_is_three | x = 3 | yes; control fails |" in good.stdout
    metrics = json.loads((build / "metrics" / "97_claims.json").read_text())
    assert metrics["claims"]["x_is_three"] == {"holds": True, "evidence": "x = 3", "mode": "full", "checked": True,
                                               "control": {"what": "x + 1 in place of x", "holds": False,
                                                           "evidence": "4"}}
    assert metrics["provenance"]["mode"] == "full" and metrics["provenance"]["commit"]
    bad = _run(path, build, "-p", "x", "4")
    assert bad.returncode == 1, bad.stdout
    assert "CLAIM FAILED: 97_claims: x_is_three (x = 4)" in bad.stdout and "**NO**" in bad.stdout
    quick = _run(path, build, "--quick", "-p", "x", "4")  # quick mode records claims but does not check them
    assert quick.returncode == 0, quick.stdout
    assert "not checked (quick mode, would fail)" in quick.stdout


def test_a_failed_run_never_shows_old_numbers(tmp_path):
    path, build = tmp_path / "97_claims.ipynb", tmp_path / "build"
    _claim_notebook(path, "x == 3")
    assert _run(path, build).returncode == 0
    nb = nbformat.read(path, as_version=4)
    nb.cells.append(new_code_cell("raise ValueError('late failure')"))
    nbformat.write(nb, path)
    out = _run(path, build)
    assert out.returncode == 1 and "ValueError: late failure" in out.stdout
    assert not (build / "metrics" / "97_claims.json").exists()
    assert "x=3" not in out.stdout
    summary = json.loads((build / "run_summary_full.json").read_text())
    assert summary[0]["ok"] is False and summary[0]["metrics"] == {}


def test_jobs_run_side_by_side_but_a_notebook_waits_for_what_it_needs(tmp_path):
    """--jobs 2: notebooks overlap in time; one whose metadata `labhelpers.needs` names another starts only after
    that one has finished (it reads its checkpoints or metrics); the longest (`labhelpers.full_minutes`) goes first."""
    def notebook(name, needs=(), minutes=0):
        nb = new_notebook(cells=[new_code_cell(
            "import time, pathlib\n"
            f"pathlib.Path(r'{tmp_path}/{name}.start').write_text(repr(time.time()))\n"
            "time.sleep(3)\n"
            f"pathlib.Path(r'{tmp_path}/{name}.end').write_text(repr(time.time()))")])
        nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
        nb.metadata["labhelpers"] = {"needs": list(needs), "full_minutes": minutes}
        nbformat.write(nb, tmp_path / f"{name}.ipynb")
        return str(tmp_path / f"{name}.ipynb")

    paths = [notebook("91_a"), notebook("92_b", needs=["91_a"]), notebook("93_c"), notebook("94_d", minutes=9)]
    out = subprocess.run([sys.executable, str(ROOT / "tools" / "run_notebooks.py"), "--quick", "--no-html",
                          "--jobs", "2", *paths],
                         env={**__import__("os").environ, "LAB_BUILD_DIR": str(tmp_path / "build")},
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stdout + out.stderr
    t = {p.name: float(p.read_text()) for p in tmp_path.glob("9*_*.*") if p.suffix in (".start", ".end")}
    assert t["92_b.start"] >= t["91_a.end"]                                  # b waited for a
    assert t["94_d.start"] < t["91_a.end"] and t["91_a.start"] < t["94_d.end"]  # d (longest) and a ran together
    assert t["93_c.start"] >= min(t["91_a.end"], t["94_d.end"])              # c waited for a free worker
    summary = json.loads((tmp_path / "build" / "run_summary_quick.json").read_text())
    assert [r["notebook"] for r in summary] == ["91_a", "92_b", "93_c", "94_d"]  # rows in the order given


def test_the_head_of_the_longest_chain_starts_first(tmp_path):
    """A short notebook that a long one waits for starts before a medium one that nothing waits for: the run
    ends when its longest chain of `labhelpers.needs` ends (the evaluation lecture waits for every model)."""
    sys.path.insert(0, str(ROOT / "tools"))
    import run_notebooks

    def notebook(name, needs=(), minutes=0.0):
        nb = new_notebook(cells=[])
        nb.metadata["labhelpers"] = {"needs": list(needs), "full_minutes": minutes}
        nbformat.write(nb, tmp_path / f"{name}.ipynb")
        return tmp_path / f"{name}.ipynb"

    paths = [notebook("81_short", minutes=1), notebook("82_medium", minutes=5),
             notebook("83_long", needs=["81_short"], minutes=9)]
    order = []
    rows = run_notebooks.run_parallel(paths, lambda nb, alone: order.append(nb.stem) or {"notebook": nb.stem}, 1)
    assert order == ["81_short", "83_long", "82_medium"]            # chains 10, 9 and 5 minutes
    assert [r["notebook"] for r in rows] == ["81_short", "82_medium", "83_long"]


def test_what_a_lecture_needs_runs_before_it():
    """`labhelpers.needs` names existing lectures that come earlier in the series (no cycles, no typos)."""
    lectures = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
    stems = [p.stem for p in lectures]
    for path in lectures:
        for need in nbformat.read(path, as_version=4).metadata.get("labhelpers", {}).get("needs", []):
            assert need in stems, f"{path.name} needs {need!r}, which is not a lecture in notebooks/"
            assert stems.index(need) < stems.index(path.stem), f"{path.name} needs the later lecture {need}"


def test_a_claim_whose_control_holds_fails_the_full_run(tmp_path):
    """A claim records the same test under a control where it must fail; if the control holds too, the claim
    cannot fail, and `make run` says so and exits 1."""
    path, build = tmp_path / "97_claims.ipynb", tmp_path / "build"
    _lecture(path, "quick = None\nshuffled = 0.2",
             "lh.claim('model_beats_chance', 0.9 > 0.5, 'accuracy 0.9 (chance 0.5)',\n"
             "         control={'what': 'labels shuffled', 'holds': shuffled > 0.5,\n"
             "                  'evidence': f'accuracy {shuffled}'})")
    good = _run(path, build)
    assert good.returncode == 0, good.stdout + good.stderr
    assert "| yes; control fails |" in good.stdout
    control = json.loads((build / "metrics" / "97_claims.json").read_text())["claims"]["model_beats_chance"]["control"]
    assert control == {"what": "labels shuffled", "holds": False, "evidence": "accuracy 0.2"}
    bad = _run(path, build, "-p", "shuffled", "0.8")
    assert bad.returncode == 1 and "CONTROL HOLDS: 97_claims: model_beats_chance" in bad.stdout
    assert "**HOLDS TOO**" in bad.stdout


def test_a_claim_without_a_control_fails_the_full_run(tmp_path):
    """Every claim must show it could fail: a full-mode claim that records no control fails `make run`."""
    path, build = tmp_path / "96_claims.ipynb", tmp_path / "build"
    _lecture(path, "quick = None", "lh.claim('model_beats_chance', 0.9 > 0.5, 'accuracy 0.9 (chance 0.5)')")
    full = _run(path, build)
    assert full.returncode == 1 and "NO CONTROL: 96_claims: model_beats_chance" in full.stdout
    assert "| yes; **no control** |" in full.stdout
    quick = _run(path, build, "--quick")            # quick mode checks no claim, so it asks for no control
    assert quick.returncode == 0, quick.stdout + quick.stderr


def test_every_claim_in_the_lectures_records_a_control():
    """Each lh.claim call in a lecture passes control=: the same test under a condition where it must fail
    (issue: a claim that cannot fail is a defect, like a test that asserts nothing)."""
    import ast
    missing = []
    for path in sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb")):
        for cell in nbformat.read(path, as_version=4).cells:
            if cell.cell_type != "code" or "claim(" not in cell.source:
                continue
            source = "\n".join(line for line in cell.source.splitlines() if not line.lstrip().startswith(("%", "!")))
            for node in ast.walk(ast.parse(source)):
                if isinstance(node, ast.Call) and getattr(node.func, "attr", getattr(node.func, "id", "")) == "claim":
                    keywords = {k.arg for k in node.keywords}
                    if "control" not in keywords and len(node.args) < 4:
                        missing.append(f"{path.stem}: {ast.literal_eval(node.args[0]) if node.args else '?'}")
    assert not missing, "claims without a control: " + ", ".join(missing)


def test_a_lecture_that_reads_another_lectures_numbers_waits_for_it():
    """In a parallel `make run`, a notebook that prints another lecture's numbers (lh.metrics_of) must start after
    it, or it shows "run 07 first" where its comparison should be (review, cross-lecture issue 1)."""
    lectures = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
    stems = [p.stem for p in lectures]
    for path in lectures:
        nb = nbformat.read(path, as_version=4)
        needs = set(nb.metadata.get("labhelpers", {}).get("needs", []))
        read = {s for c in nb.cells if c.cell_type == "code" and "metrics_of" in c.source
                for s in stems if f'"{s}"' in c.source}
        assert read <= needs, f"{path.name} reads the metrics of {sorted(read - needs)} without waiting for them"


def test_a_notebook_that_runs_alone_gets_every_jobs_threads(tmp_path):
    """The chain at the end of a parallel run (07 -> 08 -> 09 -> 10) would leave cores idle: a notebook that starts
    with nothing else running or ready gets the threads of all jobs; side by side, each keeps its own."""
    def notebook(name, needs=()):
        nb = new_notebook(cells=[new_code_cell(
            f"import os, pathlib\npathlib.Path(r'{tmp_path}/{name}.threads').write_text(os.environ['OMP_NUM_THREADS'])")])
        nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
        nb.metadata["labhelpers"] = {"needs": list(needs)}
        nbformat.write(nb, tmp_path / f"{name}.ipynb")
        return str(tmp_path / f"{name}.ipynb")

    paths = [notebook("81_a"), notebook("82_b"), notebook("83_c", needs=["81_a", "82_b"])]
    out = subprocess.run([sys.executable, str(ROOT / "tools" / "run_notebooks.py"), "--quick", "--no-html",
                          "--jobs", "2", *paths],
                         env={**__import__("os").environ, "LAB_BUILD_DIR": str(tmp_path / "build"),
                              "OMP_NUM_THREADS": "1"}, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stdout + out.stderr
    threads = {n: (tmp_path / f"{n}.threads").read_text() for n in ("81_a", "82_b", "83_c")}
    assert threads == {"81_a": "1", "82_b": "1", "83_c": "2"}, threads
