"""The lecture contract of CONTRIBUTING.md as checks: one function per rule, each returning its problems.

usage: python tools/nbcontract.py [--hook] NOTEBOOK...   (exit 1 if any notebook falls short)

--hook checks only what every commit must satisfy, even of a lecture in progress (the
pre-commit hook): kernelspec `genmodels-course` (the course kernel `make setup` registers, so a
student never opens a lecture in a kernel without labhelpers) and exactly one parameters cell of plain literals.
tests/test_notebook_contract.py runs every rule on every notebook.
"""

from __future__ import annotations

import ast
import json
import re
import sys
from pathlib import Path

CHECK = "NBVAL_CHECK_OUTPUT"
SLIDE_TYPES = {"slide", "subslide", "fragment", "-", "skip", "notes"}


def _source(cell: dict) -> str:
    src = cell.get("source", "")
    return "".join(src) if isinstance(src, list) else src


def _tags(cell: dict) -> list[str]:
    return cell.get("metadata", {}).get("tags", [])


def _slide_type(cell: dict) -> str | None:
    return cell.get("metadata", {}).get("slideshow", {}).get("slide_type")


def kernelspec(nb: dict) -> list[str]:
    name = nb.get("metadata", {}).get("kernelspec", {}).get("name")
    return [] if name == "genmodels-course" else [
        f"kernelspec name is {name!r}, expected 'genmodels-course', the course kernel (tools/nbtool.py clean)"]


def parameters(nb: dict) -> list[str]:
    """Exactly one cell tagged `parameters`, holding only `name = <literal>` lines (papermill overrides them)."""
    cells = [c for c in nb["cells"] if "parameters" in _tags(c)]
    if len(cells) != 1:
        return [f"{len(cells)} cells tagged 'parameters', expected exactly 1"]
    try:
        tree = ast.parse(_source(cells[0]))
    except SyntaxError as err:
        return [f"parameters cell does not parse: {err}"]
    problems = []
    for node in tree.body:
        target = node.targets[0] if isinstance(node, ast.Assign) and len(node.targets) == 1 else \
            node.target if isinstance(node, ast.AnnAssign) else None
        value = node.value if target is not None else None
        if not isinstance(target, ast.Name) or value is None:
            problems.append(f"parameters cell line {node.lineno}: only `name = literal` assignments belong there")
            continue
        try:
            ast.literal_eval(value)
        except ValueError:
            problems.append(f"parameters cell line {node.lineno}: {target.id} = {ast.unparse(value)} is not a "
                            "plain literal; derive it in the next cell")
    return problems


def exercises(nb: dict) -> list[str]:
    """At least three solution cells, each with a `# HINT:` line."""
    sols = [(i, c) for i, c in enumerate(nb["cells"]) if "solution" in _tags(c)]
    problems = [] if len(sols) >= 3 else [f"{len(sols)} solution cells, expected at least 3"]
    problems += [f"solution cell {i} has no '# HINT:' line" for i, c in sols if "# HINT:" not in _source(c)]
    return problems


def sections(nb: dict) -> list[str]:
    """A Summary and an Exercises heading, in that order."""
    headings = [line.lstrip("#").strip().lower() for c in nb["cells"] if c["cell_type"] == "markdown"
                for line in _source(c).splitlines() if re.match(r"#{1,3} ", line)]
    where = {key: next((i for i, h in enumerate(headings) if h.startswith(key)), None) for key in ("summary", "exercise")}
    problems = [f"no '## {key.title()}' heading" for key, i in where.items() if i is None]
    if not problems and where["summary"] > where["exercise"]:
        problems.append("the Exercises come before the Summary; they belong at the end")
    return problems


def slides(nb: dict) -> list[str]:
    """Slide metadata on >= 3 cells, only valid slide types, the first cell a slide with a `# ` title, every `## `
    section heading a new slide."""
    cells = nb["cells"]
    problems = []
    marked = [c for c in cells if _slide_type(c)]
    if len(marked) < 3:
        problems.append(f"{len(marked)} cells with slide metadata, expected at least 3")
    problems += [f"cell {i}: slide_type {_slide_type(c)!r} is not one of {sorted(SLIDE_TYPES)}"
                 for i, c in enumerate(cells) if "slideshow" in c.get("metadata", {}) and _slide_type(c) not in SLIDE_TYPES]
    problems += [f"cell {i}: a '## ' section heading must start a slide (slide_type 'slide' or 'subslide'), so the "
                 "deck gives the section its own slide and speaker notes"
                 for i, c in enumerate(cells) if c["cell_type"] == "markdown" and _source(c).startswith("## ")
                 and _slide_type(c) not in ("slide", "subslide")]
    if not cells or _slide_type(cells[0]) != "slide":
        problems.append("the first cell must have slide_type 'slide' (the title slide)")
    first_md = next((c for c in cells if c["cell_type"] == "markdown"), None)
    if first_md is None or not _source(first_md).startswith("# "):
        problems.append("the first markdown cell must start with a '# NN · Title' heading")
    return problems


def outputs(nb: dict) -> list[str]:
    """No stored outputs except in `# NBVAL_CHECK_OUTPUT` cells, which are tagged keep_output and have a count."""
    problems = []
    for i, c in enumerate(nb["cells"]):
        if c["cell_type"] != "code":
            continue
        checked = CHECK in _source(c)
        if c.get("outputs") and not checked:
            problems.append(f"cell {i} stores outputs (tools/nbtool.py clean strips them)")
        if checked and "keep_output" not in _tags(c):
            problems.append(f"cell {i} is {CHECK} but not tagged keep_output (nbstripout would strip it)")
        if checked and c.get("outputs") and c.get("execution_count") is None:
            problems.append(f"cell {i} has checked outputs without an execution count (nbval: unrun reference cell)")
    return problems


RULES = [kernelspec, parameters, exercises, sections, slides, outputs]
HOOK_RULES = [kernelspec, parameters]


def check(path: Path, rules=RULES) -> list[str]:
    nb = json.loads(Path(path).read_text(encoding="utf-8"))
    return [problem for rule in rules for problem in rule(nb)]


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    rules = HOOK_RULES if "--hook" in args else RULES
    bad = 0
    for path in [a for a in args if a != "--hook"]:
        problems = check(Path(path), rules)
        bad += bool(problems)
        for problem in problems:
            print(f"{path}: {problem}")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
