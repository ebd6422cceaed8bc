"""Write student copies: exercises/<notebook>.ipynb with every solution replaced by a stub.

usage: python tools/make_exercises.py [--out-dir DIR] [--force] [NOTEBOOK...]

exercises/ (git-ignored, shown by `make lab`) is the student's own folder. Only missing copies are
written; a copy the student has not touched since it was written is refreshed when its lecture
changed; a copy the student edited is never overwritten. `--force` regenerates every copy and first
moves an edited one to exercises/backup/<name>.<time>.ipynb, so no work is lost.

In each cell tagged `solution`, the lines from `### BEGIN SOLUTION` to `### END SOLUTION`
become `raise NotImplementedError("<hint>")`, indented like the BEGIN marker, where the hint is
the text after the cell's `# HINT:` line. A solution cell without markers becomes the hint
comment and the stub. Everything else is kept; all outputs are cleared.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parent.parent
BUILD = Path(os.environ.get("LAB_BUILD_DIR", ROOT / "build"))
STUDENT_DIR = Path(os.environ.get("LAB_EXERCISES_DIR", ROOT / "exercises"))
KERNELSPEC = {"name": "genmodels-course", "display_name": "Python (genmodels course)", "language": "python"}
NOTEBOOK_GLOB = "[0-9][0-9]_*.ipynb"
BEGIN, END, HINT = "### BEGIN SOLUTION", "### END SOLUTION", "# HINT:"
DEFAULT_HINT = "write your solution here"


def is_solution(cell: nbformat.NotebookNode) -> bool:
    return "solution" in cell.get("metadata", {}).get("tags", [])


def hint_of(source: str) -> str:
    """The text after the first `# HINT:` line, or a generic hint."""
    for line in source.splitlines():
        if line.strip().startswith(HINT):
            return line.strip()[len(HINT):].strip() or DEFAULT_HINT
    return DEFAULT_HINT


def stub_source(source: str, where: str = "cell") -> str:
    """The solution cell's source with each BEGIN/END SOLUTION region replaced by a NotImplementedError stub."""
    hint = hint_of(source)
    raise_line = f"raise NotImplementedError({json.dumps(hint, ensure_ascii=False)})"
    lines = source.splitlines()
    if not any(BEGIN in line or END in line for line in lines):
        return f"{HINT} {hint}\n{raise_line}"
    out: list[str] = []
    inside = False
    for number, line in enumerate(lines, 1):
        if BEGIN in line:
            if inside:
                raise ValueError(f"{where}, line {number}: a second {BEGIN!r} before {END!r}")
            inside = True
            indent = line[: len(line) - len(line.lstrip())]
            out.append(indent + raise_line)
        elif END in line:
            if not inside:
                raise ValueError(f"{where}, line {number}: {END!r} without a {BEGIN!r} above it")
            inside = False
        elif not inside:
            out.append(line)
    if inside:
        raise ValueError(f"{where}: {BEGIN!r} is never closed by {END!r}")
    return "\n".join(out)


def student_copy(nb: nbformat.NotebookNode, name: str = "notebook") -> nbformat.NotebookNode:
    """A copy of `nb` with solutions stubbed, outputs and execution counts cleared, widget state dropped."""
    nb = nbformat.from_dict(json.loads(json.dumps(nb)))  # deep copy
    nb.metadata.pop("widgets", None)
    # stored wrong answers are for the instructor and the mutation test, never for students
    nb.cells = [c for c in nb.cells if "wrong_answer" not in c.get("metadata", {}).get("tags", [])]
    for index, cell in enumerate(nb.cells):
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
            if is_solution(cell):
                cell.source = stub_source(cell.source, f"{name} cell {index}")
        elif is_solution(cell):  # a written answer: keep the question, drop the answer
            cell.source = "_Your answer here._"
        cell.metadata.pop("execution", None)
        cell.metadata.pop("papermill", None)
    return nb


def _content_hash(nb: nbformat.NotebookNode) -> str:
    """A hash of what a student can change: the cells' sources and types (not outputs or metadata)."""
    import hashlib

    text = json.dumps([[c.cell_type, c.source] for c in nb.cells])
    return hashlib.sha256(text.encode()).hexdigest()


def write_student_copy(path: Path, out_dir: Path) -> Path:
    nb = student_copy(nbformat.read(path, as_version=4), path.name)
    nb.metadata["kernelspec"] = dict(KERNELSPEC)
    nb.metadata.setdefault("labhelpers", {})["student_copy_of"] = path.name
    nb.metadata["labhelpers"]["written_hash"] = _content_hash(nb)
    out_dir.mkdir(parents=True, exist_ok=True)
    out = out_dir / path.name
    tmp = out.with_name(f".{out.name}.tmp")
    nbformat.write(nb, tmp)
    os.replace(tmp, out)
    return out


def edited_by_student(copy: Path) -> bool:
    """True when the copy's cells differ from what make_exercises wrote (or it cannot tell)."""
    try:
        nb = nbformat.read(copy, as_version=4)
    except Exception:  # unreadable: treat as the student's, never overwrite silently
        return True
    return nb.metadata.get("labhelpers", {}).get("written_hash") != _content_hash(nb)


def update(path: Path, out_dir: Path, force: bool = False) -> str:
    """Write or refresh one student copy, never losing an edited one; return what happened."""
    out = out_dir / path.name
    if not out.exists():
        write_student_copy(path, out_dir)
        return "written"
    if edited_by_student(out):
        if not force:
            return "kept (you edited it; --force moves it to backup/ and writes a fresh copy)"
        backup = out_dir / "backup" / f"{out.stem}.{time.strftime('%Y%m%d-%H%M%S')}.ipynb"
        backup.parent.mkdir(parents=True, exist_ok=True)
        os.replace(out, backup)
        write_student_copy(path, out_dir)
        return f"rewritten; your edited copy is in {backup.relative_to(out_dir.parent) if backup.is_relative_to(out_dir.parent) else backup}"
    before = out.read_bytes()
    write_student_copy(path, out_dir)
    return "unchanged" if out.read_bytes() == before else "refreshed (you had not edited it)"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("notebooks", nargs="*", type=Path)
    ap.add_argument("--out-dir", type=Path, default=STUDENT_DIR)
    ap.add_argument("--force", action="store_true", help="regenerate every copy (edited ones go to backup/ first)")
    args = ap.parse_args(argv)
    notebooks = args.notebooks or sorted((ROOT / "notebooks").glob(NOTEBOOK_GLOB))
    for path in notebooks:
        print(f"{path.name}: {update(path, args.out_dir, args.force)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
