"""A tiny lecture notebook that follows the course contract, for testing the tools without the real lectures."""

from __future__ import annotations

from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

KERNELSPEC = {"name": "genmodels-course", "display_name": "Python (genmodels course)", "language": "python"}


def _md(source: str, slide: str | None = None, **meta) -> nbformat.NotebookNode:
    cell = new_markdown_cell(source)
    if slide:
        cell.metadata["slideshow"] = {"slide_type": slide}
    cell.metadata.update(meta)
    return cell


def _code(source: str, tags: tuple[str, ...] = (), slide: str | None = None) -> nbformat.NotebookNode:
    cell = new_code_cell(source)
    if tags:
        cell.metadata["tags"] = list(tags)
    if slide:
        cell.metadata["slideshow"] = {"slide_type": slide}
    return cell


def make_notebook() -> nbformat.NotebookNode:
    """99_sample: title, parameters, math, a figure, summary and three exercises (indented, top-level, unmarked)."""
    cells = [
        _md("# 99 · A sample lecture\n\nGoals:\n- see a formula $\\mu = \\frac{1}{n}\\sum_i x_i$\n"
            "- draw one figure\n\nPrerequisites: none.", "slide"),
        _code("import matplotlib.pyplot as plt\nimport numpy as np\n\nNOTEBOOK = \"99_sample\""),
        _code("n = 5\nseed = 0", tags=("parameters",)),
        _code("rng = np.random.default_rng(seed)\nx = rng.normal(size=n)  # (n,)"),
        _md("## The mean\n\n$$\\bar x = \\frac{1}{n}\\sum_{i=1}^n x_i$$", "slide"),
        _code("# NBVAL_CHECK_OUTPUT\nprint(round(float(np.mean([1.0, 2.0, 3.0])), 3))", tags=("keep_output",)),
        _md("### A figure", "subslide"),
        _code("fig, ax = plt.subplots(figsize=(3, 2))\nax.plot(x)\nax.set_title(\"Does x wander?\");"),
        _md("## Summary\n\n- the mean is the average", "slide"),
        _md("## Exercises\n\n### Exercise 1\nWrite `mean(v)`.", "slide"),
        _code("# HINT: add the entries and divide by how many there are\ndef mean(v):\n"
              "    ### BEGIN SOLUTION\n    total = sum(v)\n    return total / len(v)\n    ### END SOLUTION",
              tags=("solution",)),
        _code("assert mean([1, 2, 3]) == 2, f\"mean([1, 2, 3]) should be 2, got {mean([1, 2, 3])}\"", tags=("check",)),
        _md("### Exercise 2\nSet `answer` to the largest entry of `x`."),
        _code("# HINT: numpy has a function for the maximum\n### BEGIN SOLUTION\nanswer = float(np.max(x))\n"
              "### END SOLUTION\nprint(answer)", tags=("solution",)),
        _code("assert answer == x.max(), f\"answer is off by {answer - x.max()}\"", tags=("check",)),
        _md("### Exercise 3\nSet `spread` to the standard deviation of `x`."),
        _code("# HINT: np.std\nspread = float(np.std(x))", tags=("solution",)),
        _code("assert abs(spread - x.std()) < 1e-12, f\"spread is off by {spread - x.std()}\"", tags=("check",)),
        _md("## References\n\n- none", "slide"),
    ]
    nb = new_notebook(cells=cells, metadata={"kernelspec": dict(KERNELSPEC), "language_info": {"name": "python"}})
    return nb


def write_notebook(folder: Path, name: str = "99_sample.ipynb") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    nbformat.write(make_notebook(), path)
    return path
