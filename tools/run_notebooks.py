"""Execute notebooks with papermill into build/, export HTML, and print one summary table.

usage: python tools/run_notebooks.py [--quick] [--jobs N] [--kernel NAME] [-p NAME VALUE]... [--without NAMES]
                                    [NOTEBOOK...]

`--without fashion-mnist,svhn` runs the notebooks as on a machine without those datasets (LAB_UNAVAILABLE):
every lecture then takes its fallback path, and its claims must hold there too. With no notebooks named it runs
those whose metadata `labhelpers.optional_data` names one of them. Its files are kept apart (variant
`full_without-fashion-mnist-svhn`), like a run with other parameters.

`--jobs N` runs N notebooks at a time; a notebook starts only after the notebooks its metadata
names in `labhelpers.needs` (whose checkpoints or metrics it reads) have finished, when they are
part of the same run, and of the notebooks ready to start the one at the head of the longest chain goes
first: its own `labhelpers.full_minutes` (its measured full-mode time) plus the longest chain of notebooks
that wait for it.

Each notebook runs in its own papermill process (working directory notebooks/), so its
wall time and peak memory (largest RSS of papermill and its kernel, from wait4) are its
own. Headline numbers and claims come from the metrics JSON the notebook writes
(build/metrics/<notebook>.json for the default parameters; build/runs/<mode>_<params>/ for
others, so a run with other parameters never overwrites the default run's files).

A notebook's old metrics and executed copy are removed before it runs, and an executed copy is
kept only when the run succeeded, so nothing from a failed or killed run is reported or reused.
In full mode the claims table is printed and the exit status is 1 when a notebook fails or a
claim does not hold; quick-mode claims are listed as not checked.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BUILD = Path(os.environ.get("LAB_BUILD_DIR", ROOT / "build"))
RUNNING: set[subprocess.Popen] = set()  # papermill processes of this runner (killed with it)


def kill_running(signum, _frame):
    """SIGTERM/SIGINT handler of a runner with several notebooks at once: no papermill or kernel stays behind."""
    for proc in list(RUNNING):
        try:
            os.killpg(proc.pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
    raise SystemExit(128 + signum)


def run_one(nb: Path, out_dir: Path, kernel: str | None, params: list[tuple[str, str]], env: dict) -> dict:
    """Execute one notebook; return its name, status, wall seconds and peak RSS in MiB."""
    out = out_dir / nb.name
    cmd = [sys.executable, "-m", "papermill", str(nb), str(out), "--cwd", str(nb.parent), "--no-progress-bar"]
    if kernel:
        cmd += ["-k", kernel]
    for name, value in params:
        cmd += ["-p", name, value]
    partial = out.with_name(f".{out.name}.partial")
    cmd[4] = str(partial)
    out.unlink(missing_ok=True)
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            start_new_session=True)
    RUNNING.add(proc)

    def stop(signum, _frame):  # a killed runner leaves no papermill or kernel behind
        try:
            os.killpg(proc.pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
        partial.unlink(missing_ok=True)
        raise SystemExit(128 + signum)

    # Python lets only the main thread install handlers (build_slides runs notebooks from worker threads).
    main = threading.current_thread() is threading.main_thread()
    old = {sig: signal.signal(sig, stop) for sig in (signal.SIGTERM, signal.SIGINT)} if main else {}
    try:
        log = proc.stdout.read()
        _, status, usage = os.wait4(proc.pid, 0)
    finally:
        RUNNING.discard(proc)
        for sig, handler in old.items():
            signal.signal(sig, handler)
    wall = time.perf_counter() - start
    code = os.waitstatus_to_exitcode(status)
    (out_dir / f"{nb.stem}.log").write_text(log)
    if code == 0:
        os.replace(partial, out)
    else:
        partial.unlink(missing_ok=True)
    return {"notebook": nb.stem, "ok": code == 0, "wall_s": round(wall, 1),
            "cpu_s": round(usage.ru_utime + usage.ru_stime, 1),  # papermill + kernel CPU time (all threads)
            "peak_rss_mib": round(usage.ru_maxrss / 1024), "executed": str(out) if code == 0 else None,
            "error": "" if code == 0 else error_line(log)}


def error_line(log: str) -> str:
    """The line of a papermill log that names the error (the last traceback line)."""
    lines = [ln.strip() for ln in log.splitlines() if ln.strip()]
    for ln in reversed(lines):
        if ("Error" in ln or "Exception" in ln) and ":" in ln and not ln.startswith(("File ", "---", "Traceback")):
            return ln[:300]
    return lines[-1][:300] if lines else "no output"


def export_html(executed: Path, html_dir: Path) -> None:
    subprocess.run([sys.executable, "-m", "jupyter", "nbconvert", "--to", "html", str(executed),
                    "--output-dir", str(html_dir), "--log-level", "ERROR"], check=True)


def headline(metrics: dict, limit: int = 4) -> str:
    """The metrics named in metrics["headline"] (else the first few numbers), as 'name=value' text."""
    names = metrics.get("headline") or [k for k, v in metrics.items() if isinstance(v, (int, float))
                                         and not isinstance(v, bool)][:limit]
    items = [(k, metrics[k]) for k in names if k in metrics]
    return ", ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in items)


def claims_rows(rows: list[dict]) -> list[dict]:
    """One row per claim of every notebook run: notebook, claim, evidence, holds, checked."""
    out = []
    for r in rows:
        for name, c in (r.get("metrics") or {}).get("claims", {}).items():
            out.append({"notebook": r["notebook"], "claim": name, "evidence": c.get("evidence", ""),
                        "holds": bool(c.get("holds")), "checked": bool(c.get("checked", c.get("mode") == "full")),
                        "control": c.get("control")})
    return out


def claims_table(claims: list[dict]) -> str:
    lines = ["| notebook | claim | evidence | holds |", "|---|---|---|---|"]
    for c in claims:
        verdict = ("yes" if c["holds"] else "**NO**") if c["checked"] else \
            f"not checked (quick mode{'' if c['holds'] else ', would fail'})"
        if c["checked"]:
            verdict += ("; control " + ("**HOLDS TOO**" if c["control"]["holds"] else "fails")) \
                if c.get("control") else "; **no control**"
        lines.append(f"| {c['notebook']} | {c['claim']} | {c['evidence'].replace('|', '/')} | {verdict} |")
    return "\n".join(lines)


def summary_table(rows: list[dict], mode: str) -> str:
    lines = ["| notebook | mode | status | wall (s) | CPU (s) | peak RSS (MiB) | headline numbers |",
             "|---|---|---|---|---|---|---|"]
    for r in rows:
        status = "ok" if r["ok"] else "FAILED: " + r.get("error", "").replace("|", "/")[:120]
        lines.append(f"| {r['notebook']} | {mode} | {status} | {r['wall_s']} | {r.get('cpu_s', '')} | "
                     f"{r['peak_rss_mib']} | {r.get('headline', '') if r['ok'] else ''} |")
    return "\n".join(lines)


def variant(mode: str, parameters: list[tuple[str, str]]) -> str:
    """The name of a run's variant: 'full', 'quick', or e.g. 'full_seed-1' for other parameters."""
    return mode + "".join(f"_{k}-{v}".replace("/", "-").replace(",", "-") for k, v in parameters)


def write_summary(rows: list[dict], mode: str, parameters: list[tuple[str, str]]) -> Path:
    """Merge this run's rows into build/run_summary_<variant>.json under a lock (a subset run keeps the others)."""
    sys.path.insert(0, str(ROOT))
    from labhelpers.config import locked, write_json_atomic

    path = BUILD / f"run_summary_{variant(mode, parameters)}.json"
    with locked(path):
        merged = {r["notebook"]: r for r in (json.loads(path.read_text()) if path.exists() else [])}
        merged.update({r["notebook"]: dict(r, parameters=dict(parameters), mode=mode) for r in rows})
        ordered = [merged[k] for k in sorted(merged)]
        write_json_atomic(path, ordered)
        md = summary_table(ordered, mode) + "\n\n" + claims_table(claims_rows(ordered)) + "\n"
        tmp = path.with_suffix(".md.tmp")
        tmp.write_text(md)
        os.replace(tmp, path.with_suffix(".md"))
    return path


def lecture_metadata(nb: Path) -> dict:
    """The notebook's `labhelpers` metadata: `needs` (stems of the notebooks whose checkpoints or metrics it
    reads) and `full_minutes` (its measured full-mode time, one thread)."""
    import nbformat

    return nbformat.read(nb, as_version=4).metadata.get("labhelpers", {})


def run_parallel(notebooks: list[Path], run, jobs: int) -> list[dict]:
    """Run up to `jobs` notebooks at a time, each after the ones it needs; rows in the order given.

    `run(nb, alone)` is told when a notebook starts with nothing else running and nothing else ready to start
    (the chain at the end of a run, the evaluation lecture): it may then use every core."""
    from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait

    stems = {nb.stem for nb in notebooks}
    meta = {nb: lecture_metadata(nb) for nb in notebooks}  # each notebook read once
    waits_for = {nb: [s for s in meta[nb].get("needs", []) if s in stems] for nb in notebooks}
    # the run ends when its longest chain of needs does: a notebook's priority is its own full_minutes plus the
    # longest chain of notebooks that wait for it (critical path first); ties keep the given order
    waiting = {nb.stem: [w for w in notebooks if nb.stem in waits_for[w]] for nb in notebooks}
    chain: dict[str, float] = {}

    def tail(nb: Path, seen: frozenset = frozenset()) -> float:   # `seen`: a cycle ends the chain (reported below)
        if nb.stem not in chain:
            chain[nb.stem] = float(meta[nb].get("full_minutes", 0)) + max(
                (tail(w, seen | {nb.stem}) for w in waiting[nb.stem] if w.stem not in seen), default=0.0)
        return chain[nb.stem]

    notebooks_by_cost = sorted(notebooks, key=tail, reverse=True)
    done: dict[str, dict] = {}
    old = {sig: signal.signal(sig, kill_running) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        with ThreadPoolExecutor(jobs) as pool:
            pending, running = list(notebooks_by_cost), {}
            while pending or running:
                ready = [nb for nb in pending if all(s in done for s in waits_for[nb])][: jobs - len(running)]
                for nb in ready:
                    pending.remove(nb)
                    running[pool.submit(run, nb, len(ready) == 1 and not running)] = nb
                if not running:
                    raise SystemExit(f"run_notebooks: {[nb.name for nb in pending]} need each other "
                                     "(labhelpers.needs in their metadata forms a cycle)")
                finished, _ = wait(running, return_when=FIRST_COMPLETED)
                for future in finished:
                    done[running.pop(future).stem] = future.result()
    finally:
        for sig, handler in old.items():
            signal.signal(sig, handler)
    return [done[nb.stem] for nb in notebooks]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("notebooks", nargs="*", type=Path)
    ap.add_argument("--quick", action="store_true", help="quick mode (LAB_QUICK=1)")
    ap.add_argument("--kernel", default=None)
    ap.add_argument("-p", "--parameter", nargs=2, action="append", default=[], metavar=("NAME", "VALUE"))
    ap.add_argument("--no-html", action="store_true")
    ap.add_argument("--jobs", type=int, default=1, help="notebooks at a time (threads each: cores / jobs)")
    ap.add_argument("--without", default="", metavar="NAMES",
                    help="comma-separated datasets to treat as absent (each lecture's fallback path)")
    args = ap.parse_args(argv)
    if args.jobs < 1:
        ap.error(f"--jobs must be at least 1, got {args.jobs}")
    without = sorted({n.strip() for n in args.without.split(",") if n.strip()})
    sys.path.insert(0, str(ROOT))
    from labhelpers.data import DATASETS

    if unknown := [n for n in without if n not in DATASETS]:
        ap.error(f"--without {args.without}: unknown dataset {unknown[0]!r}; valid names: {', '.join(DATASETS)}")
    notebooks = args.notebooks or sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
    if without and not args.notebooks:  # the lectures with a fallback path for one of these datasets
        notebooks = [nb for nb in notebooks if set(lecture_metadata(nb).get("optional_data", [])) & set(without)]
    mode = "quick" if args.quick else "full"
    tags = args.parameter + ([("without", ",".join(without))] if without else [])
    name = variant(mode, tags)
    out_dir, html_dir = BUILD / "executed" / name, BUILD / "html" / name
    # default-parameter runs write build/metrics/ (what the README shows); other variants keep apart
    metrics_dir = BUILD / "metrics" if not tags else BUILD / "runs" / name / "metrics"
    out_dir.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ, LAB_QUICK="1" if args.quick else "0", LAB_BUILD_DIR=str(BUILD),
               LAB_METRICS_DIR=str(metrics_dir), LAB_UNAVAILABLE=",".join(without))
    env.setdefault("OMP_NUM_THREADS", str(max(1, (os.cpu_count() or 2) // args.jobs)))

    def run(nb: Path, alone: bool = False) -> dict:
        # A notebook that runs alone in a parallel run gets the threads of every job (the cores would idle).
        threads = str(args.jobs * int(env["OMP_NUM_THREADS"])) if alone and args.jobs > 1 else env["OMP_NUM_THREADS"]
        print(f"running {nb.name} ({mode}{', alone: ' + threads + ' threads' if alone and args.jobs > 1 else ''}) ...",
              flush=True)
        metrics_path = metrics_dir / f"{nb.stem}.json"
        metrics_path.unlink(missing_ok=True)  # never report a previous run's numbers
        row = run_one(nb, out_dir, args.kernel, args.parameter,
                      dict(env, OMP_NUM_THREADS=threads, MKL_NUM_THREADS=threads))
        row["metrics"] = json.loads(metrics_path.read_text()) if row["ok"] and metrics_path.exists() else {}
        if not row["ok"]:
            metrics_path.unlink(missing_ok=True)
        row["headline"] = headline(row["metrics"])
        if row["ok"] and not args.no_html:
            export_html(Path(row["executed"]), html_dir)
        print(f"  {nb.stem}: {'ok' if row['ok'] else 'FAILED'} in {row['wall_s']:.0f} s", flush=True)
        if not row["ok"]:
            print(f"  FAILED: {row['error']}\n  (log: {out_dir / (nb.stem + '.log')})", flush=True)
        return row

    notebooks = [nb.resolve() for nb in notebooks]
    if args.jobs == 1:
        rows = [run(nb) for nb in notebooks]
    else:
        rows = run_parallel(notebooks, run, args.jobs)
    write_summary(rows, mode, tags)
    claims = claims_rows(rows)
    print("\n" + summary_table(rows, mode))
    print("\n" + claims_table(claims))
    failed_claims = [c for c in claims if c["checked"] and not c["holds"]]
    for c in failed_claims:
        print(f"CLAIM FAILED: {c['notebook']}: {c['claim']} ({c['evidence']})", flush=True)
    for c in claims:
        if c["checked"] and c.get("control") and c["control"]["holds"]:
            print(f"CONTROL HOLDS: {c['notebook']}: {c['claim']} also holds under its control "
                  f"({c['control']['what']}: {c['control']['evidence']}); the claim cannot fail", flush=True)
            failed_claims.append(c)
        elif c["checked"] and not c.get("control"):
            print(f"NO CONTROL: {c['notebook']}: {c['claim']} records no control (the same test under a condition "
                  "where it must fail: lh.claim(..., control={'what', 'holds', 'evidence'})), so nothing shows it "
                  "could fail", flush=True)
            failed_claims.append(c)
    if mode == "full":
        for r in rows:
            if r["ok"] and not r["metrics"].get("claims"):
                print(f"NO CLAIMS: {r['notebook']} recorded no claims (lh.claim)", flush=True)
                failed_claims.append(r)
    return 0 if all(r["ok"] for r in rows) and not failed_claims else 1


if __name__ == "__main__":
    sys.exit(main())
