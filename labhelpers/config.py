"""The quick/full switch, parameter checks, claims, repo paths and the metrics file each notebook writes (01)."""

from __future__ import annotations

import fcntl
import functools
import json
import math
import os
import subprocess
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parent.parent
BUILD_DIR = Path(os.environ.get("LAB_BUILD_DIR", REPO_ROOT / "build"))
# `make run` gives runs with other parameters their own metrics folder; a notebook run by hand uses build/metrics.
METRICS_DIR = Path(os.environ["LAB_METRICS_DIR"]) if os.environ.get("LAB_METRICS_DIR") else None

TRUE_WORDS, FALSE_WORDS = ("1", "true", "yes", "on"), ("0", "false", "no", "off", "")


def parse_bool(value: Any, name: str) -> bool | None:
    """A bool from True/False/None or the usual spellings ("1", "true", "yes", "on", "0", "false", ...) (01)."""
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    if isinstance(value, str) and value.strip().lower() in TRUE_WORDS + FALSE_WORDS:
        return value.strip().lower() in TRUE_WORDS
    raise ValueError(f"{name}={value!r} is not a yes/no value; use True or False (papermill: -p {name} true), "
                     f"or None to follow LAB_QUICK")


def _env_quick() -> bool:
    raw = os.environ.get("LAB_QUICK", "0")
    try:
        return bool(parse_bool(raw, "LAB_QUICK"))
    except ValueError as err:
        raise ValueError(f"LAB_QUICK={raw!r} in the environment is not understood; set LAB_QUICK=1 or 0") from err


# The one place the quick switch is read. CI and `QUICK=1 make run` set LAB_QUICK=1.
QUICK = _env_quick()
NOTEBOOK: str | None = None          # set by start(); claims and metrics go to this notebook's file
PARAMETERS: dict[str, Any] = {}      # the parameters start() was given, recorded with every metrics file
_claims: dict[str, dict[str, Any]] = {}


def use_quick(quick: bool | str | None = None) -> bool:
    """Return the mode in force: `quick` if a notebook parameter forces it, else LAB_QUICK (01)."""
    global QUICK
    quick = parse_bool(quick, "quick")
    if quick is not None:
        QUICK = quick
    return QUICK


def setting(value: Any, quick: Any, full: Any) -> Any:
    """Return `value` when a parameter was given, else the quick- or full-mode default (01)."""
    if value is not None:
        return value
    return quick if QUICK else full


@functools.lru_cache(maxsize=1)
def _git_commit() -> str:
    try:
        out = subprocess.run(["git", "-C", str(REPO_ROOT), "rev-parse", "--short", "HEAD"], capture_output=True,
                             text=True, timeout=5)
        dirty = subprocess.run(["git", "-C", str(REPO_ROOT), "status", "--porcelain", "--untracked-files=no"],
                               capture_output=True, text=True, timeout=5).stdout.strip()
        return out.stdout.strip() + ("+dirty" if dirty else "") if out.returncode == 0 else "unknown"
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def start(notebook: str, *, quick: Any = None, seed: Any = 0, device: Any = "cpu", dataset: Any = None,
          **parameters: Any):
    """Check a notebook's parameters in one place, set the mode, seed everything; return (QUICK, device, generator).

    Starts a fresh metrics file for `notebook` (claims of an earlier run are never carried over) (01).
    """
    global NOTEBOOK, PARAMETERS
    from .data import DATASETS
    from .training import get_device, seed_everything

    if not isinstance(notebook, str) or not notebook:
        raise ValueError(f"notebook={notebook!r}: pass the notebook's name, e.g. lh.start(NOTEBOOK, ...)")
    safe_name(notebook, "notebook")
    quick_mode = use_quick(quick)
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        if isinstance(seed, str) and seed.strip().isdigit():
            seed = int(seed)
        else:
            raise ValueError(f"seed={seed!r} must be a whole number >= 0, e.g. -p seed 1")
    if dataset is not None and dataset not in DATASETS:
        raise ValueError(f"dataset={dataset!r} is not known; choose one of {sorted(DATASETS)}")
    for name, value in parameters.items():
        if isinstance(value, float) and not math.isfinite(value):
            raise ValueError(f"{name}={value!r} must be a finite number")
    dev = get_device(device)
    generator = seed_everything(seed)
    from .plotting import accessible_figures, mark_quick_figures

    mark_quick_figures(quick_mode)
    accessible_figures()
    NOTEBOOK = notebook
    PARAMETERS = {"quick": quick_mode, "seed": seed, "device": str(dev), "dataset": dataset,
                  **{k: _plain(v) for k, v in parameters.items()}}
    _claims.clear()
    _recorded.discard(notebook)
    record_metrics(notebook, {})
    return quick_mode, dev, generator


def claim(name: str, holds: Any, evidence: str, control: dict[str, Any] | None = None) -> bool:
    """Record a finding of the lecture with the numbers behind it; print it; return whether it holds (01).

    In quick mode the claim is recorded as not checked (the run is too short to show it) and `make run`
    ignores it; in full mode a claim that does not hold makes `make run` fail. `control` is the same test run
    under a condition where it must fail, {"what", "holds", "evidence"}: `make run` also fails when it holds
    (a claim that cannot fail is no finding).
    """
    if not isinstance(name, str) or not name.replace("_", "").isalnum():
        raise ValueError(f"claim name {name!r}: use a short identifier such as 'dae_beats_linear'")
    if not isinstance(evidence, str) or not evidence.strip():
        raise ValueError(f"claim {name!r}: evidence must be a non-empty string with the numbers behind it")
    holds = _truth(holds, f"claim {name!r}: holds")
    mode = "quick" if QUICK else "full"
    _claims[name] = {"holds": holds, "evidence": evidence.strip(), "mode": mode, "checked": not QUICK}
    if QUICK:   # the first words say it is not checked: a student reads those, not a note at the end
        print(f"claim {name}: not checked in quick mode (too short a run to show it; full mode checks it) -- "
              f"this run: {'holds' if holds else 'does not hold'}, {evidence.strip()}")
    else:
        print(f"claim {name}: {'holds' if holds else 'DOES NOT HOLD'} -- {evidence.strip()}")
    if control is not None:
        if not isinstance(control, dict) or set(control) != {"what", "holds", "evidence"}:
            raise ValueError(f"claim {name!r}: control must be a dict with keys 'what' (the condition where the "
                             "test must fail), 'holds' (the test's result there) and 'evidence' (its numbers)")
        ctl = {"what": str(control["what"]), "holds": _truth(control["holds"], f"claim {name!r}: control holds"),
               "evidence": str(control["evidence"])}
        _claims[name]["control"] = ctl
        print(f"  control ({ctl['what']}): {'HOLDS TOO: the test cannot fail' if ctl['holds'] else 'fails, as it must'}"
              f" -- {ctl['evidence']}")
    if NOTEBOOK is not None:
        record_metrics(NOTEBOOK, {})
    return holds


def _truth(value: Any, what: str) -> bool:
    if hasattr(value, "item"):
        value = value.item()
    if not isinstance(value, (bool, int)):
        raise TypeError(f"{what} must be a bool (the result of a comparison), got {type(value).__name__}")
    return bool(value)


def claims() -> dict[str, dict[str, Any]]:
    """The claims recorded so far in this kernel (01)."""
    return {k: dict(v) for k, v in _claims.items()}


def verdict(name: str, if_true: str, if_false: str) -> str:
    """The sentence that matches a recorded claim, with a quick-mode warning; for prose computed from claims (01)."""
    if name not in _claims:
        raise KeyError(f"no claim named {name!r} has been recorded yet; run the cell that computes it first")
    text = if_true if _claims[name]["holds"] else if_false
    return text + (" (quick mode: too short a run to show it; run full mode)" if QUICK else "")


_recorded: set[str] = set()


def metrics_dir() -> Path:
    return METRICS_DIR or BUILD_DIR / "metrics"


@contextmanager
def locked(path: Path):
    """An exclusive lock on `path`.lock for a read-modify-write (01)."""
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"locked: path must be a file path, got {type(path).__name__}")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path.with_name(path.name + ".lock"), "w") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def write_json_atomic(path: Path, obj: Any) -> Path:
    """Write JSON through a unique temp file and os.replace: readers never see half a file (01)."""
    path = Path(path)
    try:
        text = json.dumps(obj, indent=2, allow_nan=False) + "\n"
    except (TypeError, ValueError) as err:   # NaN/inf, or an object JSON cannot hold
        raise ValueError(f"cannot write {path.name}: {err}; store plain numbers, strings, lists and dicts (a tensor "
                         "as .item() or .tolist(); a NaN means a run diverged: check it first)") from err
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w") as f:
            f.write(text)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return path


def metrics_of(notebook: str, dataset: str = "mnist") -> dict[str, Any]:
    """The recorded metrics of another notebook if it ran in this mode on this dataset, else {}: only then are
    its numbers comparable with this run's (08, 09)."""
    path = metrics_dir() / f"{safe_name(notebook, 'notebook')}.json"
    from .data import DATASETS
    if dataset not in DATASETS:
        raise ValueError(f"metrics_of: dataset={dataset!r} is not one of {', '.join(DATASETS)}")
    try:
        run = json.loads(path.read_text()) if path.exists() else {}
    except ValueError as err:
        raise RuntimeError(f"{path} is not readable JSON ({err}): a run was cut off while writing it? Rerun "
                           f"{notebook} (make run NOTEBOOKS=notebooks/{notebook}.ipynb) to write it again") from err
    same = run.get("mode") == ("quick" if QUICK else "full") and \
        run.get("provenance", {}).get("parameters", {}).get("dataset", "mnist") == dataset
    return run if same else {}


def measured(run: dict[str, Any], key: str, fmt: str, source: str, unit: str = "") -> str:
    """run[key] formatted (with its unit), or which notebook to run first when that run has no such number (08, 09)."""
    if not isinstance(run, dict):
        raise TypeError(f"measured: run must be the dict lh.metrics_of(...) returns, got {type(run).__name__}")
    return format(run[key], fmt) + unit if key in run else f"run {source} first"


def record_metrics(notebook: str, metrics: dict[str, Any]) -> Path:
    """Merge a notebook's headline numbers and claims into <metrics dir>/<notebook>.json; return the path (01)."""
    safe_name(notebook, "notebook")
    path = metrics_dir() / f"{notebook}.json"
    clean = {k: _plain(v, k) for k, v in metrics.items()}
    with locked(path):
        # The first call in a kernel starts a fresh file, later calls add to it.
        current = json.loads(path.read_text()) if path.exists() and notebook in _recorded else {}
        _recorded.add(notebook)
        current.update(clean)
        current["mode"] = "quick" if QUICK else "full"
        current["provenance"] = {"commit": _git_commit(), "time": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
                                 "mode": current["mode"], "parameters": PARAMETERS}
        if notebook == NOTEBOOK or "claims" not in current:
            current["claims"] = claims() if notebook == NOTEBOOK else {}
        write_json_atomic(path, current)
    return path


def _plain(v: Any, name: str = "value") -> Any:
    """Turn tensors and numpy scalars into JSON numbers; reject what JSON cannot hold (NaN, inf, objects)."""
    if hasattr(v, "item") and getattr(v, "ndim", 0) == 0:
        v = v.item()
    if isinstance(v, float):
        if not math.isfinite(v):
            raise ValueError(f"metric {name!r} is {v}: a NaN or infinite result is a failed computation; "
                             "find where it diverged instead of recording it")
        return round(v, 6)
    if isinstance(v, (int, str, bool)) or v is None:
        return v
    if isinstance(v, (list, tuple)):
        return [_plain(x, name) for x in v]
    if isinstance(v, dict):
        return {str(k): _plain(x, f"{name}.{k}") for k, x in v.items()}
    raise TypeError(f"metric {name!r}: value {v!r} of type {type(v).__name__} is not a number, string or list")


def safe_name(name: Any, what: str) -> str:
    """A file name that stays inside its folder: letters, digits, '_', '-', '.', not starting with '.' (01)."""
    import re

    if not isinstance(name, str) or not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.-]*", name) or ".." in name:
        raise ValueError(f"{what}={name!r} must be a plain name such as '05_vae' (letters, digits, '_', '-', '.'; "
                         "no folders, no '..'): everything the course writes stays under build/")
    return name


def checkpoint_path(name: str) -> Path:
    """Path for a checkpoint under build/checkpoints/<quick|full>/, so the two modes never mix (02)."""
    safe_name(name, "checkpoint_path(name)")
    return BUILD_DIR / "checkpoints" / ("quick" if QUICK else "full") / f"{name}.pt"
