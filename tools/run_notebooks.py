"""Execute notebooks with papermill into build/, export HTML, and print one summary table.

usage: python tools/run_notebooks.py [--quick] [--kernel NAME] [-p NAME VALUE]... [NOTEBOOK...]

Each notebook runs in its own papermill process (working directory notebooks/), so its
wall time and peak memory (largest RSS of papermill and its kernel, from wait4) are its
own. Headline numbers come from build/metrics/<notebook>.json, written by the notebook.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BUILD = Path(os.environ.get("LAB_BUILD_DIR", ROOT / "build"))


def run_one(nb: Path, out_dir: Path, kernel: str | None, params: list[tuple[str, str]], env: dict) -> dict:
    """Execute one notebook; return its name, status, wall seconds and peak RSS in MiB."""
    out = out_dir / nb.name
    cmd = [sys.executable, "-m", "papermill", str(nb), str(out), "--cwd", str(nb.parent), "--no-progress-bar"]
    if kernel:
        cmd += ["-k", kernel]
    for name, value in params:
        cmd += ["-p", name, value]
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    log = proc.stdout.read()
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    code = os.waitstatus_to_exitcode(status)
    (out_dir / f"{nb.stem}.log").write_text(log)
    return {"notebook": nb.stem, "ok": code == 0, "wall_s": round(wall, 1),
            "peak_rss_mib": round(usage.ru_maxrss / 1024), "executed": str(out)}


def export_html(executed: Path, html_dir: Path) -> None:
    subprocess.run([sys.executable, "-m", "jupyter", "nbconvert", "--to", "html", str(executed),
                    "--output-dir", str(html_dir), "--log-level", "ERROR"], check=True)


def headline(metrics: dict, limit: int = 4) -> str:
    """The metrics named in metrics["headline"] (else the first few numbers), as 'name=value' text."""
    names = metrics.get("headline") or [k for k, v in metrics.items() if isinstance(v, (int, float))
                                         and not isinstance(v, bool)][:limit]
    items = [(k, metrics[k]) for k in names if k in metrics]
    return ", ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in items)


def summary_table(rows: list[dict], mode: str) -> str:
    lines = ["| notebook | mode | status | wall (s) | peak RSS (MiB) | headline numbers |",
             "|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['notebook']} | {mode} | {'ok' if r['ok'] else 'FAILED'} | {r['wall_s']} | "
                     f"{r['peak_rss_mib']} | {r.get('headline', '')} |")
    return "\n".join(lines)


def write_summary(rows: list[dict], mode: str, parameters: list[tuple[str, str]]) -> Path:
    """Merge this run's rows into build/run_summary_<mode>[_<parameters>].json (a subset run keeps the others)."""
    suffix = "".join(f"_{k}-{v}" for k, v in parameters)
    path = BUILD / f"run_summary_{mode}{suffix}.json"
    merged = {r["notebook"]: r for r in (json.loads(path.read_text()) if path.exists() else [])}
    merged.update({r["notebook"]: dict(r, parameters=dict(parameters)) for r in rows})
    ordered = [merged[k] for k in sorted(merged)]
    path.write_text(json.dumps(ordered, indent=2) + "\n")
    path.with_suffix(".md").write_text(summary_table(ordered, mode) + "\n")
    return path


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("notebooks", nargs="*", type=Path)
    ap.add_argument("--quick", action="store_true", help="quick mode (LAB_QUICK=1)")
    ap.add_argument("--kernel", default=None)
    ap.add_argument("-p", "--parameter", nargs=2, action="append", default=[], metavar=("NAME", "VALUE"))
    ap.add_argument("--no-html", action="store_true")
    args = ap.parse_args(argv)
    notebooks = args.notebooks or sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
    mode = "quick" if args.quick else "full"
    out_dir, html_dir = BUILD / "executed" / mode, BUILD / "html" / mode
    out_dir.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ, LAB_QUICK="1" if args.quick else "0", LAB_BUILD_DIR=str(BUILD))
    rows = []
    for nb in notebooks:
        nb = nb.resolve()
        print(f"running {nb.name} ({mode}) ...", flush=True)
        row = run_one(nb, out_dir, args.kernel, args.parameter, env)
        metrics_path = BUILD / "metrics" / f"{nb.stem}.json"
        row["metrics"] = json.loads(metrics_path.read_text()) if metrics_path.exists() else {}
        row["headline"] = headline(row["metrics"])
        if row["ok"] and not args.no_html:
            export_html(Path(row["executed"]), html_dir)
        if not row["ok"]:
            print(f"  FAILED: see {out_dir / (nb.stem + '.log')}", flush=True)
        rows.append(row)
    table = summary_table(rows, mode)
    write_summary(rows, mode, args.parameter)
    print("\n" + table)
    return 0 if all(r["ok"] for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
