"""Every exercise stores at least two wrong answers, and its check cell catches each with a message."""

from __future__ import annotations

import sys
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tools"))
import exercise_mutations as em  # noqa: E402

NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_every_exercise_has_two_wrong_answers(path):
    nb = nbformat.read(path, as_version=4)
    found = em.exercises(nb)
    assert len(found) >= 3, f"{path.name}: {len(found)} exercises with a check cell, expected at least 3"
    for ex in found:
        assert len(ex.wrong) >= 2, f"{path.name}: the exercise checked in cell {ex.check} stores {len(ex.wrong)} wrong answers, expected >= 2"
        for w in ex.wrong:
            assert nb.cells[w].cell_type == "raw", f"{path.name} cell {w}: wrong answers are raw cells (never run by accident)"
            assert nb.cells[w].source.startswith("# WRONG:"), f"{path.name} cell {w}: first line '# WRONG: what is wrong'"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_check_cells_catch_every_wrong_answer(path):
    rows = em.run(path, save_executed=ROOT / "build" / "executed" / "quick")  # reused by the slides test
    missed = [f"cell {r['check_cell']}: {r['wrong']} -> {r['message'][:200]}" for r in rows if not r["caught"]]
    assert rows, f"{path.name}: no wrong answers were tried"
    assert not missed, f"{path.name}: checks that let a wrong answer through:\n" + "\n".join(missed)


def test_harness_reports_a_check_that_cannot_fail(tmp_path):
    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_code_cell("def double(x):\n    return 2 * x", metadata={"tags": ["solution"]}),
        nbformat.v4.new_raw_cell("# WRONG: returns the input\ndef double(x):\n    return x", metadata={"tags": ["wrong_answer"]}),
        nbformat.v4.new_raw_cell("# WRONG: adds instead\ndef double(x):\n    return x + 2", metadata={"tags": ["wrong_answer"]}),
        nbformat.v4.new_code_cell("assert double(3) == 6, f'double(3) gave {double(3)}'\nassert double(5) is not None",
                                  metadata={"tags": ["check"]}),
    ]
    path = tmp_path / "toy.ipynb"
    nbformat.write(nb, path)
    rows = em.run(path)
    assert [r["caught"] for r in rows] == [True, True]
    assert "double(3) gave 3" in rows[0]["message"]
    nb.cells[3].source = "assert double(2) == 4, 'off'"  # x + 2 gives 4 too: this check misses the second mistake
    nbformat.write(nb, path)
    assert [r["caught"] for r in em.run(path)] == [True, False]
