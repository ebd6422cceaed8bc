"""Benchmarks 3 and 4: each notebook's wall time and peak memory against the budgets, and its headline numbers."""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BUILD = Path(os.environ.get("LAB_BUILD_DIR", ROOT / "build"))
BUDGETS = {"quick": {"wall_s": 30.0, "peak_rss_mib": 3072.0},
           "full": {"wall_s": 600.0, "peak_rss_mib": 3072.0}}


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
    out_dir = BUILD / "bench" / "executed" / mode
    out_dir.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ, LAB_QUICK="1" if mode == "quick" else "0", LAB_BUILD_DIR=str(BUILD))
    env.setdefault("TQDM_DISABLE", "1")
    rows = []
    for nb in notebooks:
        print(f"  running {nb.name} ({mode}) ...", flush=True)
        row = run_one_fresh(nb, out_dir, kernel, env)
        metrics_path = BUILD / "metrics" / f"{nb.stem}.json"
        row["metrics"] = json.loads(metrics_path.read_text()) if metrics_path.exists() else {}
        rows.append(row)
    return rows


# Linux keeps a process's peak RSS across exec, and a vfork()ed child (Python's subprocess) starts from its
# parent's: papermill started from this process (torch and 60,000 images loaded) would report this process's
# peak as its own. So each notebook is started from a small fresh Python that only runs tools/run_notebooks.
_HELPER = """
import json, sys
from pathlib import Path
sys.path.insert(0, sys.argv[1])
import run_notebooks
a = json.loads(sys.argv[2])
row = run_notebooks.run_one(Path(a["nb"]), Path(a["out_dir"]), a["kernel"], [], dict(a["env"]))
print("ROW " + json.dumps(row))
"""


def run_one_fresh(nb: Path, out_dir: Path, kernel: str | None, env: dict) -> dict:
    """tools/run_notebooks.run_one, called from a fresh small process so that its peak RSS is the notebook's own."""
    args = json.dumps({"nb": str(nb), "out_dir": str(out_dir), "kernel": kernel, "env": env})
    proc = subprocess.run([sys.executable, "-c", _HELPER, str(ROOT / "tools"), args], env=env,
                          capture_output=True, text=True)
    rows = [line[4:] for line in proc.stdout.splitlines() if line.startswith("ROW ")]
    if proc.returncode != 0 or not rows:
        raise RuntimeError(f"could not run {nb.name}: {proc.stderr.strip()[-2000:]}")
    return json.loads(rows[-1])


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
