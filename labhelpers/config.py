"""The quick/full switch, repo paths and the metrics file each notebook writes (01)."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parent.parent
BUILD_DIR = Path(os.environ.get("LAB_BUILD_DIR", REPO_ROOT / "build"))

# The one place the quick switch is read. CI and `QUICK=1 make run` set LAB_QUICK=1.
QUICK = os.environ.get("LAB_QUICK", "0").strip().lower() in ("1", "true", "yes")


def use_quick(quick: bool | None = None) -> bool:
    """Return the mode in force: `quick` if a notebook parameter forces it, else LAB_QUICK (01)."""
    global QUICK
    if quick is not None:
        QUICK = bool(quick)
    return QUICK


def setting(value: Any, quick: Any, full: Any) -> Any:
    """Return `value` when a parameter was given, else the quick- or full-mode default (01)."""
    if value is not None:
        return value
    return quick if QUICK else full


_recorded: set[str] = set()


def record_metrics(notebook: str, metrics: dict[str, Any]) -> Path:
    """Merge a notebook's headline numbers into build/metrics/<notebook>.json and return the path (01)."""
    path = BUILD_DIR / "metrics" / f"{notebook}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    # The first call in a kernel starts a fresh file, later calls add to it.
    current = json.loads(path.read_text()) if path.exists() and notebook in _recorded else {}
    _recorded.add(notebook)
    current.update({k: _plain(v) for k, v in metrics.items()})
    current["mode"] = "quick" if QUICK else "full"
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(current, indent=2) + "\n")
    os.replace(tmp, path)
    return path


def _plain(v: Any) -> Any:
    """Turn tensors and numpy scalars into JSON numbers; reject what JSON cannot hold."""
    if hasattr(v, "item") and getattr(v, "ndim", 0) == 0:
        v = v.item()
    if isinstance(v, float):
        return round(v, 6)
    if isinstance(v, (int, str, bool)) or v is None:
        return v
    if isinstance(v, (list, tuple)):
        return [_plain(x) for x in v]
    if isinstance(v, dict):
        return {str(k): _plain(x) for k, x in v.items()}
    raise TypeError(f"metric value {v!r} of type {type(v).__name__} is not a number, string or list")


def checkpoint_path(name: str) -> Path:
    """Path for a checkpoint under build/checkpoints/<quick|full>/, so the two modes never mix (02)."""
    return BUILD_DIR / "checkpoints" / ("quick" if QUICK else "full") / f"{name}.pt"
