"""Regenerate the syllabus table in README.md (between the syllabus markers) from the notebooks and `make run`.

usage: python tools/update_readme.py [--check]

One row per notebooks/NN_*.ipynb: its title and learning goals (from the title cell), the
quick and full wall time and peak memory from build/run_summary_{quick,full}.json (written by
tools/run_notebooks.py; "not measured" where absent), and the headline numbers of the full run
(else the quick run). --check only reports whether README.md is up to date (exit 1 if not).
"""

from __future__ import annotations

import json
import os
import re
import sys
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parent.parent
BUILD = Path(os.environ.get("LAB_BUILD_DIR", ROOT / "build"))
START, END = "<!-- syllabus:start -->", "<!-- syllabus:end -->"
BOARD_START, BOARD_END = "<!-- scoreboard:start -->", "<!-- scoreboard:end -->"
BOARD_NOTEBOOK = "12_evaluation"
NOT_MEASURED = "not measured"


def teaches(nb: nbformat.NotebookNode, limit: int = 100) -> tuple[str, list[str]]:
    """(title, learning goals) from the first markdown cell: the `# ` heading and its `- ` bullets."""
    md = next((c.source for c in nb.cells if c.cell_type == "markdown"), "")
    lines = md.splitlines()
    title = re.sub(r"^#\s*(\d\d\s*·\s*)?", "", lines[0]).strip() if lines else ""
    goals: list[str] = []
    for line in lines[1:]:
        if line.startswith(("- ", "* ")):
            goals.append(line[2:].strip())
        elif goals and line.startswith("  ") and line.strip():  # continuation of a bullet
            goals[-1] += " " + line.strip()
        elif goals and not line.strip().startswith(("-", "*")) and line.strip():
            break  # the bullets are over (e.g. the prerequisites)
    return title, [shorten(g, limit) for g in goals]


def shorten(text: str, limit: int) -> str:
    """Cut at a word boundary before `limit` characters, never inside $...$ math."""
    text = text.rstrip(";.")
    if len(text) <= limit:
        return text
    cut = text[:limit].rsplit(" ", 1)[0]
    if cut.count("$") % 2:  # an open formula: drop it
        cut = cut[:cut.rfind("$")].rstrip()
    return cut.rstrip(",;:") + " …"


def cell(text: str) -> str:
    """Text for one table cell: no newlines; pipes escaped, inside $...$ math spelled as TeX \\vert / \\Vert."""
    parts = text.replace("\n", " ").split("$")
    return "$".join(p.replace("\\|", "\\Vert ").replace("|", "\\vert ") if i % 2 else p.replace("|", "\\|")
                    for i, p in enumerate(parts))


def load_runs(mode: str) -> dict[str, dict]:
    path = BUILD / f"run_summary_{mode}.json"
    return {row["notebook"]: row for row in json.loads(path.read_text())} if path.exists() else {}


def measured(row: dict | None) -> str:
    if row is None:
        return NOT_MEASURED
    if not row.get("ok", True):
        return "FAILED"
    return f"{row['wall_s']:.0f} s · {row['peak_rss_mib'] / 1024:.1f} GB"


EARLIER = " (earlier commit)"


def earlier_60k(readme: str) -> dict[str, str]:
    """The 60,000-image column of the README's current syllabus, by notebook: kept, marked as from an earlier
    commit, where this build has no such run (it takes an hour; the other columns are rerun every time)."""
    start, end = readme.find(START), readme.find(END)
    out = {}
    for line in readme[start:end].splitlines() if 0 <= start < end else []:
        parts = line.split(" | ")
        if line.startswith("| [`") and len(parts) >= 6 and parts[4] not in (NOT_MEASURED, "FAILED"):
            out[parts[0].split("`")[1].removesuffix(".ipynb")] = parts[4].removesuffix(EARLIER) + EARLIER
    return out


def syllabus(notebooks: list[Path], quick: dict[str, dict], full: dict[str, dict],
             full_60k: dict[str, dict] | None = None, earlier: dict[str, str] | None = None) -> str:
    full_60k, earlier = full_60k or {}, earlier or {}
    lines = ["| Notebook | What it teaches | Quick run: time · peak memory | Full run: time · peak memory "
             "| Full run, 60,000 images (Fashion-MNIST) | Headline numbers (full run) |", "|---|---|---|---|---|---|"]
    for path in notebooks:
        title, goals = teaches(nbformat.read(path, as_version=4))
        about = f"**{title}**" + "".join(f"<br>• {g}" for g in goals)
        row_full, row_quick = full.get(path.stem), quick.get(path.stem)
        ok_full = bool(row_full and row_full.get("ok", True))
        claims = (row_full or {}).get("metrics", {}).get("claims", {}) if ok_full else {}
        if ok_full and row_full.get("headline"):
            numbers = row_full["headline"]
            if claims:
                held = sum(bool(c.get("holds")) for c in claims.values())
                numbers += f"; claims checked: {held}/{len(claims)} hold"
        elif row_quick and row_quick.get("ok", True) and row_quick.get("headline"):
            numbers = f"{row_quick['headline']} (quick mode)"
        else:
            numbers = NOT_MEASURED
        lines.append(f"| [`{path.name}`](notebooks/{path.name}) | {cell(about)} | {measured(row_quick)} | "
                     f"{measured(row_full)} | "
                     f"{earlier.get(path.stem, NOT_MEASURED) if path.stem not in full_60k else measured(full_60k[path.stem])}"
                     f" | {cell(numbers)} |")
    return "\n".join(lines)


def scoreboard(full: dict[str, dict]) -> str:
    """Lecture 11's scoreboard from its full run (one row per model), or a line saying it was not measured."""
    row = full.get(BOARD_NOTEBOOK)
    board = row.get("metrics", {}).get("scoreboard") if row and row.get("ok", True) else None
    if not board:
        return f"{NOT_MEASURED}: run `make run` (full mode) and then `python tools/update_readme.py`."
    params = ", ".join(f"{k}={v}" for k, v in (row.get("parameters") or {}).items()) or "defaults"
    commit = row["metrics"].get("provenance", {}).get("commit")
    params += f", commit {commit[:7]}" if commit else ""
    columns = [(m, title, d) for m, title, d in (("FID", "FID", 1), ("KID x1e3", "KID ×10³", 0),
                                                 ("precision", "Precision", 2), ("recall", "Recall", 2),
                                                 ("density", "Density", 2), ("coverage", "Coverage", 2),
                                                 ("judged", "Judged ≥ 0.9", 2))
               if all(m in r for r in board.values())]
    lines = ["| Model | Likelihood | NLL (nats/image) | " + " | ".join(t for _, t, _ in columns) + " |",
             "|---|---|---|" + "---|" * len(columns)]
    for name, r in board.items():
        nll = "—" if r.get("NLL") is None else f"{r['NLL']:.1f}"
        metrics = " | ".join(f"{r[m]:.{d}f} ± {r[m + ' sd']:.{d}f}" for m, _, d in columns)
        lines.append(f"| {cell(name)} | {r.get('likelihood', '—')} | {nll} | {metrics} |")
    return "\n".join(lines) + (f"\n\nFrom the last full run of `{BOARD_NOTEBOOK}.ipynb` ({params}): binarized test "
                               "images; mean ± sd over independent sample draws; lower NLL, FID and KID are better, "
                               "higher precision, recall and coverage; *judged* is the share of samples the lecture's "
                               "classifier recognises with confidence ≥ 0.9. Label-conditional models are sampled with "
                               "uniform labels; 09's models are read against the row of real images through their "
                               "14×14 round trip, 10's against real images through the VQ-VAE's codes, 11's latent flows "
                               "against real images through its autoencoder. The notebook explains every column and its "
                               "caveats.")


def replace_between(readme: str, start_marker: str, end_marker: str, body: str) -> str:
    start, end = readme.find(start_marker), readme.find(end_marker)
    if not 0 <= start < end:
        raise ValueError(f"README.md needs the markers {start_marker} and {end_marker}")
    return readme[:start] + f"{start_marker}\n{body}\n" + readme[end:]


def render(readme: str, table: str, board: str | None = None) -> str:
    note = ("Times are wall-clock seconds for the whole notebook including kernel start; peak memory is the "
            "largest resident set of papermill and its kernel. Measured on a 2-core CPU (no GPU) as CI runs the "
            "notebooks: two at a time, one thread each, by `make run` (full) and `make run QUICK=1` (quick) on the "
            "default dataset (MNIST: here the 5,000-digit sample), and by `python tools/run_notebooks.py -p dataset "
            "fashion-mnist` for the 60,000-image column. With the machine to itself and two threads, a notebook "
            "runs faster. Regenerate this table with `python tools/update_readme.py`.")
    readme = replace_between(readme, START, END, f"{table}\n\n{note}")
    return readme if board is None else replace_between(readme, BOARD_START, BOARD_END, board)


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    notebooks = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
    path = ROOT / "README.md"
    old = path.read_text(encoding="utf-8")
    full = load_runs("full")
    new = render(old, syllabus(notebooks, load_runs("quick"), full, load_runs("full_dataset-fashion-mnist"),
                               earlier_60k(old)), scoreboard(full))
    if "--check" in args:
        print("README.md is up to date" if new == old else "README.md is out of date: run tools/update_readme.py")
        return 0 if new == old else 1
    if new != old:
        path.write_text(new, encoding="utf-8")
    print(f"README.md syllabus: {len(notebooks)} notebooks")
    return 0


if __name__ == "__main__":
    sys.exit(main())
