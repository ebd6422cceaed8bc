"""The generated labhelpers modules are exactly the export cells of their notebooks."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tools"))
import nbtool  # noqa: E402

NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))


def test_generated_modules_match_their_notebooks():
    out = subprocess.run([sys.executable, str(ROOT / "tools" / "nbtool.py"), "export", "--check"],
                         capture_output=True, text=True)
    assert out.returncode == 0, out.stderr


def test_every_lecture_exports_its_lesson_code():
    for path in NOTEBOOKS:
        nb = nbformat.read(path, as_version=4)
        module = nb.metadata.get("labhelpers", {}).get("module")
        assert module, f"{path.name}: no {{'labhelpers': {{'module': ...}}}} notebook metadata"
        cells = [c for c in nb.cells if "export" in c.metadata.get("tags", [])]
        assert any("def " in c.source or "class " in c.source for c in cells), f"{path.name}: no export cell defines code"
        text = (ROOT / "labhelpers" / f"{module}.py").read_text()
        assert f"GENERATED from notebooks/{path.name}" in text


def test_export_check_detects_a_hand_edit(tmp_path, monkeypatch):
    nb = nbformat.v4.new_notebook(metadata={"labhelpers": {"module": "toy_generated"}})
    nb.cells = [nbformat.v4.new_markdown_cell("A function."),
                nbformat.v4.new_code_cell("def double(x):\n    return 2 * x", metadata={"tags": ["export"]}),
                nbformat.v4.new_code_cell("assert double(2) == 4")]
    path = tmp_path / "99_toy.ipynb"
    nbformat.write(nb, path)
    monkeypatch.setattr(nbtool, "ROOT", tmp_path)
    (tmp_path / "labhelpers").mkdir()
    assert nbtool.export([path]) == 0
    module = tmp_path / "labhelpers" / "toy_generated.py"
    text = module.read_text()
    assert "GENERATED from notebooks/99_toy.ipynb" in text and "def double(x):" in text
    assert "assert double(2) == 4" not in text  # only export cells
    assert nbtool.export([path], check=True) == 0
    module.write_text(text.replace("2 * x", "x + x"))
    assert nbtool.export([path], check=True) == 1
