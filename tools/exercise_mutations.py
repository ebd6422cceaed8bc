"""Swap each stored wrong answer in for its exercise's solution and check that the check cell catches it.

usage: python tools/exercise_mutations.py NOTEBOOK...   (quick mode; exit 1 when a wrong answer passes)

In the instructor notebook every exercise is a `solution` cell, then one or more raw cells tagged
`wrong_answer` (a plausible mistake, first line `# WRONG: what is wrong`), then the `check` cell.
Raw cells are never executed by papermill, nbval or JupyterLab's "run all"; student copies and
slides drop them. This tool runs the notebook once in a kernel; at each check cell it runs the
check (which must pass), then for each wrong answer: the wrong cell, the check (which must fail
with an AssertionError whose message says what is off), the solution again and the check again.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass, field
from pathlib import Path

import nbformat
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError

WRONG_TAG, SOLUTION_TAG, CHECK_TAG = "wrong_answer", "solution", "check"


def tags(cell) -> list[str]:
    return cell.get("metadata", {}).get("tags", [])


@dataclass
class Exercise:
    solution: int                       # cell index of the solution
    check: int                          # cell index of the check
    wrong: list[int] = field(default_factory=list)


def exercises(nb) -> list[Exercise]:
    """The exercises of a notebook: each solution cell with the wrong answers and the check that follow it."""
    found, current = [], None
    for i, cell in enumerate(nb.cells):
        if SOLUTION_TAG in tags(cell) and cell.cell_type == "code":
            current = Exercise(solution=i, check=-1)
        elif WRONG_TAG in tags(cell):
            if current is None:
                raise ValueError(f"cell {i}: a wrong_answer cell must follow a solution cell")
            current.wrong.append(i)
        elif CHECK_TAG in tags(cell) and current is not None:
            current.check = i
            found.append(current)
            current = None
    return found


def wrong_label(source: str) -> str:
    first = source.strip().splitlines()[0] if source.strip() else ""
    return first.removeprefix("# WRONG:").strip() if first.startswith("# WRONG:") else first[:60]


def run(path: Path, timeout: int = 900, save_executed: Path | None = None) -> list[dict]:
    """Execute the notebook with every wrong answer swapped in; one result row per wrong answer.

    With `save_executed` (a folder), the notebook as executed normally (solutions in, as papermill would
    run it) is also written there, so that `make test` need not execute it again for the slide decks.
    """
    nb = nbformat.read(path, as_version=4)
    ex_by_check = {e.check: e for e in exercises(nb)}
    client = NotebookClient(nb, timeout=timeout, kernel_name="python3",
                            resources={"metadata": {"path": str(path.parent)}})
    rows = []
    with client.setup_kernel(env=dict(os.environ, LAB_QUICK=os.environ.get("LAB_QUICK", "1"))):
        for i, cell in enumerate(nb.cells):
            if cell.cell_type != "code":
                continue
            client.execute_cell(cell, i)
            ex = ex_by_check.get(i)
            if ex is None:
                continue
            for w in ex.wrong:
                src = nb.cells[w].source
                row = {"notebook": path.stem, "check_cell": i, "wrong": wrong_label(src), "caught": False, "message": ""}
                try:
                    client.execute_cell(nbformat.v4.new_code_cell(src), w)
                except CellExecutionError as err:
                    row["message"] = f"the wrong answer itself raised {err.ename}: {err.evalue}"
                    rows.append(row)
                    client.execute_cell(nbformat.v4.new_code_cell(nb.cells[ex.solution].source), ex.solution)
                    continue
                try:
                    client.execute_cell(nbformat.v4.new_code_cell(cell.source), i)
                    row["message"] = "the check passed"
                except CellExecutionError as err:
                    row["caught"] = err.ename == "AssertionError" and bool(str(err.evalue).strip())
                    row["message"] = f"{err.ename}: {err.evalue}".strip()
                rows.append(row)
                # restore the solution and make sure the check passes again
                client.execute_cell(nbformat.v4.new_code_cell(nb.cells[ex.solution].source), ex.solution)
                client.execute_cell(nbformat.v4.new_code_cell(cell.source), i)
    if save_executed is not None:
        save_executed.mkdir(parents=True, exist_ok=True)
        tmp = save_executed / f".{path.name}.partial"
        nbformat.write(nb, tmp)
        os.replace(tmp, save_executed / path.name)
    return rows


if __name__ == "__main__":
    bad = 0
    for arg in sys.argv[1:]:
        for r in run(Path(arg).resolve()):
            ok = "caught" if r["caught"] else "MISSED"
            bad += not r["caught"]
            print(f"{r['notebook']} cell {r['check_cell']}: {ok}: {r['wrong']} -> {r['message'][:160]}")
    sys.exit(1 if bad else 0)
