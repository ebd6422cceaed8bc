"""The lecture's orchestration: start (parameters, mode, seed, device), claims with their controls, verdicts
and the metrics file each notebook writes (01).

Above the data and training layers and below the lectures: `config` (paths, the quick switch, safe file
writing) is a leaf, `data` and `training` use it, and this module uses all three (no import circle).
"""

from __future__ import annotations

import functools
import json
import math
import subprocess
import time
from pathlib import Path
from typing import Any

from . import config
from .config import get_device
from .data import DATASETS
from .plotting import accessible_figures, mark_quick_figures
from .training import seed_everything

_claims: dict[str, dict[str, Any]] = {}


@functools.lru_cache(maxsize=1)
def _git_commit() -> str:
    try:
        out = subprocess.run(["git", "-C", str(config.REPO_ROOT), "rev-parse", "--short", "HEAD"], capture_output=True,
                             text=True, timeout=5)
        dirty = subprocess.run(["git", "-C", str(config.REPO_ROOT), "status", "--porcelain", "--untracked-files=no"],
                               capture_output=True, text=True, timeout=5).stdout.strip()
        return out.stdout.strip() + ("+dirty" if dirty else "") if out.returncode == 0 else "unknown"
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def start(notebook: str, *, quick: Any = None, seed: Any = 0, device: Any = "cpu", dataset: Any = None,
          **parameters: Any):
    """Check a notebook's parameters in one place, set the mode, seed everything; return (QUICK, device, generator).

    Starts a fresh metrics file for `notebook` (claims of an earlier run are never carried over) (01).
    """
    if not isinstance(notebook, str) or not notebook:
        raise ValueError(f"notebook={notebook!r}: pass the notebook's name, e.g. lh.start(NOTEBOOK, ...)")
    config.safe_name(notebook, "notebook")
    quick_mode = config.use_quick(quick)
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
    mark_quick_figures(quick_mode)
    accessible_figures()
    config.NOTEBOOK = notebook
    config.PARAMETERS = {"quick": quick_mode, "seed": seed, "device": str(dev), "dataset": dataset,
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
    mode = "quick" if config.QUICK else "full"
    _claims[name] = {"holds": holds, "evidence": evidence.strip(), "mode": mode, "checked": not config.QUICK}
    if config.QUICK:   # the first words say it is not checked: a student reads those, not a note at the end
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
    if config.NOTEBOOK is not None:
        record_metrics(config.NOTEBOOK, {})
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
    return text + (" (quick mode: too short a run to show it; run full mode)" if config.QUICK else "")


_recorded: set[str] = set()


def metrics_of(notebook: str, dataset: str = "mnist") -> dict[str, Any]:
    """The recorded metrics of another notebook if it ran in this mode on this dataset, else {}: only then are
    its numbers comparable with this run's (08, 09)."""
    path = config.metrics_dir() / f"{config.safe_name(notebook, 'notebook')}.json"
    if dataset not in DATASETS:
        raise ValueError(f"metrics_of: dataset={dataset!r} is not one of {', '.join(DATASETS)}")
    try:
        run = json.loads(path.read_text()) if path.exists() else {}
    except ValueError as err:
        raise RuntimeError(f"{path} is not readable JSON ({err}): a run was cut off while writing it? Rerun "
                           f"{notebook} (make run NOTEBOOKS=notebooks/{notebook}.ipynb) to write it again") from err
    same = run.get("mode") == ("quick" if config.QUICK else "full") and \
        run.get("provenance", {}).get("parameters", {}).get("dataset", "mnist") == dataset
    return run if same else {}


def measured(run: dict[str, Any], key: str, fmt: str, source: str, unit: str = "") -> str:
    """run[key] formatted (with its unit), or which notebook to run first when that run has no such number (08, 09)."""
    if not isinstance(run, dict):
        raise TypeError(f"measured: run must be the dict lh.metrics_of(...) returns, got {type(run).__name__}")
    return format(run[key], fmt) + unit if key in run else f"run {source} first"


def record_metrics(notebook: str, metrics: dict[str, Any]) -> Path:
    """Merge a notebook's headline numbers and claims into <metrics dir>/<notebook>.json; return the path (01)."""
    config.safe_name(notebook, "notebook")
    path = config.metrics_dir() / f"{notebook}.json"
    clean = {k: _plain(v, k) for k, v in metrics.items()}
    with config.locked(path):
        # The first call in a kernel starts a fresh file, later calls add to it.
        current = json.loads(path.read_text()) if path.exists() and notebook in _recorded else {}
        _recorded.add(notebook)
        current.update(clean)
        current["mode"] = "quick" if config.QUICK else "full"
        current["provenance"] = {"commit": _git_commit(), "time": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
                                 "mode": current["mode"], "parameters": config.PARAMETERS}
        if notebook == config.NOTEBOOK or "claims" not in current:
            current["claims"] = claims() if notebook == config.NOTEBOOK else {}
        config.write_json_atomic(path, current)
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
