"""Student copies (`make exercises`): solutions become NotImplementedError stubs, nothing else changes.

For every notebook: no solution line survives, every copy parses, every solution cell is
followed by its check cell, and executing the student copy (quick mode) stops at the first
exercise's solution cell with NotImplementedError, not before. That the check cells pass on
the solutions is what nbval's run of the instructor notebooks shows.
"""

from __future__ import annotations

import ast
import os
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tools"))
import make_exercises as mx  # noqa: E402
from sample_notebook import make_notebook, write_notebook  # noqa: E402

NOTEBOOKS = sorted((ROOT / "notebooks").glob(mx.NOTEBOOK_GLOB))
PARAMS = ["99_sample", *[nb.stem for nb in NOTEBOOKS]]


def python_source(cell_source: str) -> str:
    """The cell as plain Python (IPython magics and shell escapes turned into calls)."""
    from IPython.core.inputtransformer2 import TransformerManager

    return TransformerManager().transform_cell(cell_source)


def solution_region(source: str) -> tuple[list[str], list[str]]:
    """(lines inside BEGIN/END SOLUTION markers, lines outside them) of an instructor solution cell."""
    inside, outside, within = [], [], False
    for line in source.splitlines():
        if mx.BEGIN in line:
            within = True
        elif mx.END in line:
            within = False
        else:
            (inside if within else outside).append(line)
    if not any(mx.BEGIN in line for line in source.splitlines()):  # no markers: the whole cell is the solution
        inside, outside = [ln for ln in source.splitlines() if not ln.strip().startswith(mx.HINT)], []
    return inside, outside


@pytest.fixture(scope="module")
def pairs(tmp_path_factory) -> dict[str, tuple[Path, Path]]:
    """{name: (instructor notebook, student copy)}: the sample lecture plus every notebook in notebooks/."""
    tmp = tmp_path_factory.mktemp("exercises")
    sample = write_notebook(tmp / "notebooks")
    out = {"99_sample": (sample, mx.write_student_copy(sample, tmp / "student"))}
    assert mx.main(["--out-dir", str(tmp / "exercises"), *map(str, NOTEBOOKS)]) == 0  # the real thing
    for nb in NOTEBOOKS:
        out[nb.stem] = (nb, tmp / "exercises" / nb.name)
    return out


def test_make_exercises_never_loses_a_students_work(tmp_path):
    src = write_notebook(tmp_path / "notebooks")
    out_dir = tmp_path / "exercises"
    assert mx.update(src, out_dir) == "written"
    copy = out_dir / src.name
    assert nbformat.read(copy, as_version=4).metadata["kernelspec"]["name"] == "genmodels-course"
    assert mx.update(src, out_dir) == "unchanged"
    nb = nbformat.read(copy, as_version=4)
    nb.cells[-2].source += "\n# my own answer"
    nbformat.write(nb, copy)
    edited = copy.read_bytes()
    assert mx.update(src, out_dir).startswith("kept")
    assert copy.read_bytes() == edited
    assert mx.update(src, out_dir, force=True).startswith("rewritten")
    backups = list((out_dir / "backup").glob("*.ipynb"))
    assert len(backups) == 1 and backups[0].read_bytes() == edited
    assert "# my own answer" not in copy.read_text()


# --- the stub rules, on known inputs -------------------------------------------------------------

def test_indented_region_becomes_indented_stub():
    src = ("# HINT: add up and divide\ndef mean(v):\n    ### BEGIN SOLUTION\n    total = sum(v)\n"
           "    return total / len(v)\n    ### END SOLUTION")
    assert mx.stub_source(src) == ('# HINT: add up and divide\ndef mean(v):\n'
                                   '    raise NotImplementedError("add up and divide")')


def test_code_after_the_region_is_kept():
    src = "# HINT: use max\n### BEGIN SOLUTION\nanswer = max(x)\n### END SOLUTION\nprint(answer)"
    assert mx.stub_source(src) == '# HINT: use max\nraise NotImplementedError("use max")\nprint(answer)'


def test_cell_without_markers_becomes_the_stub():
    assert mx.stub_source("# HINT: np.std\nspread = float(np.std(x))") == \
        '# HINT: np.std\nraise NotImplementedError("np.std")'
    assert mx.stub_source("spread = 1") == f'# HINT: {mx.DEFAULT_HINT}\nraise NotImplementedError("{mx.DEFAULT_HINT}")'


def test_hint_with_quotes_and_backslashes_stays_valid_python():
    hint = 'compute "x \\ y" and don\'t forget ü'
    stub = mx.stub_source(f"# HINT: {hint}\n### BEGIN SOLUTION\nx = 1\n### END SOLUTION")
    call = ast.parse(stub).body[0].exc
    assert call.func.id == "NotImplementedError" and call.args[0].value == hint


@pytest.mark.parametrize("src", ["### BEGIN SOLUTION\nx = 1", "x = 1\n### END SOLUTION",
                                 "### BEGIN SOLUTION\n### BEGIN SOLUTION\n### END SOLUTION"])
def test_unbalanced_markers_are_an_error(src):
    with pytest.raises(ValueError, match="SOLUTION"):
        mx.stub_source(src, "nb cell 3")


def test_everything_but_solutions_is_kept_and_outputs_cleared():
    nb = make_notebook()
    nb.cells[5].outputs = [nbformat.v4.new_output("stream", name="stdout", text="2.0\n")]
    nb.cells[5].execution_count = 1
    nb.metadata["widgets"] = {"state": {}}
    student = mx.student_copy(nb)
    assert len(student.cells) == len(nb.cells) and "widgets" not in student.metadata
    for before, after in zip(nb.cells, student.cells):
        assert after.metadata == before.metadata
        if not mx.is_solution(before):
            assert after.source == before.source
        if after.cell_type == "code":
            assert after.outputs == [] and after.execution_count is None
    assert nb.cells[5].outputs, "student_copy must not modify its input"


# --- every notebook ----------------------------------------------------------------------------

def read_teacher(path: Path) -> nbformat.NotebookNode:
    """The instructor notebook as student copies see it: stored wrong answers (raw cells) dropped, as make_exercises does."""
    nb = nbformat.read(path, as_version=4)
    nb.cells = [c for c in nb.cells if "wrong_answer" not in c.get("metadata", {}).get("tags", [])]
    return nb

@pytest.mark.parametrize("name", PARAMS)
def test_no_solution_code_survives(name, pairs):
    teacher, student = read_teacher(pairs[name][0]), nbformat.read(pairs[name][1], as_version=4)
    solutions = [i for i, c in enumerate(teacher.cells) if mx.is_solution(c)]
    assert len(solutions) >= 3, f"{name}: {len(solutions)} solution cells, the contract asks for at least 3"
    assert len(student.cells) == len(teacher.cells)
    for i in solutions:
        inside, outside = solution_region(teacher.cells[i].source)
        stub = student.cells[i].source
        assert "NotImplementedError" in stub, f"{name} cell {i}: no stub in the student copy"
        assert "SOLUTION" not in stub, f"{name} cell {i}: solution markers left in the student copy"
        kept = set(stub.splitlines())
        leaked = [ln for ln in inside if ln.strip() and ln in kept and ln not in outside]
        assert not leaked, f"{name} cell {i}: solution lines in the student copy: {leaked}"


@pytest.mark.parametrize("name", PARAMS)
def test_student_copy_parses(name, pairs):
    student = nbformat.read(pairs[name][1], as_version=4)
    for i, cell in enumerate(student.cells):
        if cell.cell_type == "code":
            try:
                ast.parse(python_source(cell.source))
            except SyntaxError as err:
                pytest.fail(f"{name} cell {i} of the student copy is not valid Python: {err}")
            assert not cell.outputs, f"{name} cell {i}: the student copy keeps outputs"


@pytest.mark.parametrize("name", PARAMS)
def test_every_solution_is_followed_by_its_check(name, pairs):
    teacher = read_teacher(pairs[name][0])
    for i, cell in enumerate(teacher.cells):
        if mx.is_solution(cell):
            after = teacher.cells[i + 1] if i + 1 < len(teacher.cells) else None
            assert after is not None and after.cell_type == "code" and \
                "check" in after.metadata.get("tags", []), \
                f"{name}: solution cell {i} must be followed directly by a code cell tagged 'check'"


def kernel_name() -> str:
    from jupyter_client.kernelspec import KernelSpecManager

    return "genmodels-course" if "genmodels-course" in KernelSpecManager().find_kernel_specs() else "python3"


def run_until_error(path: Path, cwd: Path) -> tuple[int | None, str | None]:
    """Execute a notebook in quick mode; return (index, exception name) of the first failing cell, or (None, None)."""
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError

    nb = nbformat.read(path, as_version=4)
    env = dict(os.environ, LAB_QUICK="1", TQDM_DISABLE="1", OMP_NUM_THREADS="1", PYTHONHASHSEED="0")
    client = NotebookClient(nb, kernel_name=kernel_name(), timeout=600, resources={"metadata": {"path": str(cwd)}})
    try:
        client.execute(env=env)
    except CellExecutionError:
        pass
    for i, cell in enumerate(nb.cells):
        errors = [o for o in cell.get("outputs", []) if o.output_type == "error"]
        if errors:
            return i, errors[0].ename
    return None, None


@pytest.fixture(scope="module")
def student_runs(pairs) -> dict[str, tuple[int | None, str | None]]:
    """Every student copy executed once, several at a time (each is a whole lecture in quick mode)."""
    jobs = {name: (student, teacher.parent) for name, (teacher, student) in pairs.items()}
    with ThreadPoolExecutor(max(1, min(len(jobs), os.cpu_count() or 1, 4))) as pool:
        futures = {name: pool.submit(run_until_error, *args) for name, args in jobs.items()}
        return {name: f.result() for name, f in futures.items()}


@pytest.mark.parametrize("name", PARAMS)
def test_student_copy_stops_at_first_exercise(name, pairs, student_runs):
    teacher = read_teacher(pairs[name][0])
    first = next(i for i, c in enumerate(teacher.cells) if mx.is_solution(c))
    index, ename = student_runs[name]
    # a stub at top level raises in the solution cell; a stubbed function raises when its check cell calls it
    assert index is not None, f"{name}: the student copy ran to the end; the stub in cell {first} never raised"
    assert index in (first, first + 1) and ename == "NotImplementedError", (
        f"{name}: the student copy first fails in cell {index} with {ename}; expected NotImplementedError in "
        f"cell {first} (the first exercise's solution) or {first + 1} (its check); cells before the first "
        "exercise must not need a solution")
