"""Maintainer tool for notebooks: author from jupytext percent files, refresh nbval-checked outputs.

usage:
  python tools/nbtool.py from-py SRC.py notebooks/NN_name.ipynb   # percent script -> clean notebook
  python tools/nbtool.py to-py notebooks/NN_name.ipynb SRC.py     # notebook -> percent script, for editing
  python tools/nbtool.py refresh notebooks/NN_name.ipynb ...       # run in quick mode, keep only checked outputs
  python tools/nbtool.py clean notebooks/*.ipynb                   # strip outputs except checked cells
  python tools/nbtool.py export [--check] [notebooks/NN_name.ipynb ...]  # lesson code -> labhelpers modules

Export (d2l's `#@save` idea): a code cell tagged `export` is lesson code. Each notebook whose
metadata has {"labhelpers": {"module": "NAME"}} gets its export cells, in order, written to
labhelpers/NAME.py under a header naming the notebook; `--check` exits 1 if a module differs.

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
KERNELSPEC = {"name": "genmodels-course", "display_name": "Python (genmodels course)", "language": "python"}


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
                   **{k: v for k, v in nb.metadata.items() if k in ("rise", "celltoolbar", "labhelpers")}}
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


EXPORT_TAG = "export"
HEADER = ('"""{doc}\n\nGENERATED from notebooks/{nb} by `python tools/nbtool.py export`: do not edit by hand.\n'
          'Edit the cells tagged `export` in the notebook and run the export again (the pre-commit hook does).\n"""\n'
          '# ruff: noqa: E501\n\n')


FOOTER = ("\n\n# Bad input gets a clear error naming the parameter: the checks live in labhelpers/guards.py, not in "
          "the lesson.\nfrom labhelpers.guards import guard_module  # noqa: E402\n\nguard_module(globals())\n")


def export_source(path: Path) -> tuple[Path, str] | None:
    """The generated module's path and text for one notebook, or None if it exports nothing."""
    nb = nbformat.read(path, as_version=4)
    module = nb.metadata.get("labhelpers", {}).get("module")
    cells = [c for c in nb.cells if c.cell_type == "code" and EXPORT_TAG in c.metadata.get("tags", [])]
    if not module:
        if cells:
            raise SystemExit(f"{path.name} has cells tagged 'export' but no notebook metadata "
                             '{"labhelpers": {"module": "NAME"}} saying where they go')
        return None
    doc = nb.metadata["labhelpers"].get("doc", f"The lesson code of notebook {path.stem}.")
    body = "\n\n\n".join(c.source.strip() for c in cells)
    return ROOT / "labhelpers" / f"{module}.py", HEADER.format(doc=doc, nb=path.name) + body + "\n" + FOOTER


def export(paths: list[Path], check: bool = False) -> int:
    stale = []
    for path in paths:
        got = export_source(path)
        if got is None:
            continue
        target, text = got
        if target.exists() and target.read_text() == text:
            continue
        if check:
            stale.append(f"{target.relative_to(ROOT)} differs from the export cells of {path.name}")
        else:
            target.write_text(text)
            print(f"wrote {target.relative_to(ROOT)} from {path.name}")
    for line in stale:
        print(line + "; run `python tools/nbtool.py export`", file=sys.stderr)
    return 1 if stale else 0


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
    elif cmd == "export":
        check = "--check" in args
        paths = [Path(a) for a in args if a != "--check"] or sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
        sys.exit(export(paths, check))
    else:
        sys.exit(__doc__)
