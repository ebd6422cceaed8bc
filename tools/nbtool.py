"""Maintainer tool for notebooks: author from jupytext percent files, refresh nbval-checked outputs.

usage:
  python tools/nbtool.py from-py SRC.py notebooks/NN_name.ipynb   # percent script -> clean notebook
  python tools/nbtool.py to-py notebooks/NN_name.ipynb SRC.py     # notebook -> percent script, for editing
  python tools/nbtool.py refresh notebooks/NN_name.ipynb ...       # run in quick mode, keep only checked outputs
  python tools/nbtool.py clean notebooks/*.ipynb                   # strip outputs except checked cells

Cells whose source contains `# NBVAL_CHECK_OUTPUT` keep their output and execution count
(nbval compares them in `make test`); every other cell is stored without outputs.
"""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

import nbformat
from run_notebooks import run_one  # tools/ is on sys.path when run as a script

ROOT = Path(__file__).resolve().parent.parent
CHECK = "NBVAL_CHECK_OUTPUT"
KERNELSPEC = {"name": "python3", "display_name": "Python 3 (ipykernel)", "language": "python"}


def clean(nb: nbformat.NotebookNode, executed: nbformat.NotebookNode | None = None) -> nbformat.NotebookNode:
    """Drop outputs except in checked cells (taken from `executed` when given); normalise metadata."""
    count = 0
    for i, cell in enumerate(nb.cells):
        cell.metadata.pop("execution", None)
        cell.metadata.pop("papermill", None)
        if cell.cell_type != "code":
            continue
        if CHECK in cell.source and "keep_output" not in cell.metadata.get("tags", []):
            cell.metadata.setdefault("tags", []).append("keep_output")  # nbstripout keeps these outputs
        if CHECK in cell.source and executed is not None:
            src = executed.cells[i]
            count += 1
            cell.outputs = [o for o in src.outputs if o.get("name") != "stderr"]
            cell.execution_count = count
        elif CHECK in cell.source:
            count += 1
            cell.execution_count = cell.execution_count or count
        else:
            cell.outputs, cell.execution_count = [], None
    nb.metadata = {"kernelspec": KERNELSPEC, "language_info": {"name": "python"},
                   **{k: v for k, v in nb.metadata.items() if k in ("rise", "celltoolbar")}}
    return nb


def from_py(src: str, dst: str) -> None:
    import jupytext

    nb = jupytext.read(src, fmt="py:percent")
    nbformat.write(clean(nb), dst)


def to_py(src: str, dst: str) -> None:
    import jupytext

    jupytext.write(nbformat.read(src, as_version=4), dst, fmt="py:percent")


def refresh(path: str) -> None:
    nb = nbformat.read(path, as_version=4)
    with tempfile.TemporaryDirectory() as tmp:
        env = dict(os.environ, LAB_QUICK="1", TQDM_DISABLE="1")
        row = run_one(Path(path).resolve(), Path(tmp), "genmodels-course", [], env)
        if not row["ok"]:
            raise RuntimeError(f"{path} failed in quick mode:\n{(Path(tmp) / (Path(path).stem + '.log')).read_text()}")
        executed = nbformat.read(row["executed"], as_version=4)
    executed.cells = [c for c in executed.cells if "injected-parameters" not in c.metadata.get("tags", [])]
    nbformat.write(clean(nb, executed), path)


if __name__ == "__main__":
    cmd, args = sys.argv[1], sys.argv[2:]
    if cmd == "from-py":
        from_py(*args)
    elif cmd == "to-py":
        to_py(*args)
    elif cmd == "refresh":
        for p in args:
            refresh(p)
    elif cmd == "clean":
        for p in args:
            nbformat.write(clean(nbformat.read(p, as_version=4)), p)
    else:
        sys.exit(__doc__)
