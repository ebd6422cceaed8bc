"""Benchmarks 3 and 4: each notebook's wall time and peak memory against the budgets, and its headline numbers."""

from __future__ import annotations

import datetime as dt
import json
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BUILD = Path(os.environ.get("LAB_BUILD_DIR", ROOT / "build"))
BUDGETS = {"quick": {"wall_s": 30.0, "peak_rss_mib": 3072.0},
           "full": {"wall_s": 600.0, "peak_rss_mib": 3072.0}}


def _run_notebooks_module():
    sys.path.insert(0, str(ROOT / "tools"))
    try:
        import run_notebooks
    finally:
        sys.path.pop(0)
    return run_notebooks


def notebook_paths(names: list[str] | None = None) -> list[Path]:
    """notebooks/NN_*.ipynb, or the ones named (by stem, file name or path)."""
    all_nbs = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
    if not names:
        return all_nbs
    by_stem = {p.stem: p for p in all_nbs}
    out = []
    for n in names:
        stem = Path(n).stem
        if stem not in by_stem:
            raise ValueError(f"unknown notebook {n!r}; expected one of {', '.join(by_stem) or '(none found)'}")
        out.append(by_stem[stem])
    return out


def run_notebooks(mode: str, notebooks: list[Path], kernel: str | None = "genmodels-course") -> list[dict]:
    """Execute each notebook with tools/run_notebooks.run_one (own papermill process; RSS from wait4)."""
    if mode not in BUDGETS:
        raise ValueError(f"mode must be 'quick' or 'full', got {mode!r}")
    rn = _run_notebooks_module()
    out_dir = BUILD / "bench" / "executed" / mode
    out_dir.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ, LAB_QUICK="1" if mode == "quick" else "0", LAB_BUILD_DIR=str(BUILD))
    env.setdefault("TQDM_DISABLE", "1")
    rows = []
    for nb in notebooks:
        print(f"  running {nb.name} ({mode}) ...", flush=True)
        row = rn.run_one(nb, out_dir, kernel, [], env)
        metrics_path = BUILD / "metrics" / f"{nb.stem}.json"
        row["metrics"] = json.loads(metrics_path.read_text()) if metrics_path.exists() else {}
        rows.append(row)
    return rows


def from_summary(mode: str) -> tuple[list[dict], str] | None:
    """Rows of build/run_summary_<mode>.json from a previous `make run`, and the file's time; None if absent."""
    path = BUILD / f"run_summary_{mode}.json"
    if not path.exists():
        return None
    when = dt.datetime.fromtimestamp(path.stat().st_mtime).astimezone().isoformat(timespec="seconds")
    return json.loads(path.read_text()), f"{path.relative_to(ROOT) if path.is_relative_to(ROOT) else path} ({when})"


def budget_rows(rows: list[dict], mode: str) -> list[dict]:
    """One check per notebook: wall and peak RSS against the mode's budgets."""
    b = BUDGETS[mode]
    out = []
    for r in rows:
        ok = bool(r.get("ok")) and r["wall_s"] <= b["wall_s"] and r["peak_rss_mib"] <= b["peak_rss_mib"]
        out.append({"notebook": r["notebook"], "mode": mode, "ran_ok": bool(r.get("ok")), "wall_s": r["wall_s"],
                    "peak_rss_mib": r["peak_rss_mib"], "budget_wall_s": b["wall_s"],
                    "budget_peak_rss_mib": b["peak_rss_mib"], "within_budget": ok})
    return out


def quality_rows(rows_by_mode: dict[str, list[dict]] | None = None) -> list[dict]:
    """Headline numbers per notebook and mode: from the runs' metrics, else from build/metrics/*.json as they are."""
    out = []
    if rows_by_mode:
        for mode, rows in rows_by_mode.items():
            for r in rows:
                out.append({"notebook": r["notebook"], "mode": r.get("metrics", {}).get("mode", mode),
                            "headline": headline(r.get("metrics", {}))})
    else:
        for path in sorted((BUILD / "metrics").glob("*.json")):
            m = json.loads(path.read_text())
            out.append({"notebook": path.stem, "mode": m.get("mode", "?"), "headline": headline(m)})
    return out


def headline(metrics: dict) -> dict:
    """The metrics named in metrics["headline"] (else the first four numbers), as a dict."""
    names = metrics.get("headline") or [k for k, v in metrics.items()
                                        if isinstance(v, (int, float)) and not isinstance(v, bool)][:4]
    return {k: metrics[k] for k in names if k in metrics}
