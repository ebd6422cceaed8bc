"""Paths, the quick/full switch, devices and safe file writing: the leaf every other module builds on (01).

It imports no other labhelpers module. The lecture's orchestration (start, claims, metrics) is `lecture`.
"""

from __future__ import annotations

import fcntl
import json
import os
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import torch

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


def get_device(device: str | None = "auto") -> torch.device:
    """Return the requested device, or the best available one (cuda, mps, cpu) for "auto" (01)."""
    if device in (None, "auto"):
        pass
    else:
        try:
            dev = torch.device(device)
        except (RuntimeError, TypeError) as err:
            raise ValueError(f"device={device!r} is not a device; use \"cpu\", \"cuda\", \"mps\" or \"auto\"") from err
        if dev.type == "cuda" and not torch.cuda.is_available():
            raise ValueError(f"device={device!r} but this machine has no CUDA GPU; use device=\"auto\" or \"cpu\"")
        if dev.type == "mps" and not (getattr(torch.backends, "mps", None) and torch.backends.mps.is_available()):
            raise ValueError(f"device={device!r} but MPS is not available here; use device=\"auto\" or \"cpu\"")
        if dev.type not in ("cpu", "cuda", "mps"):
            raise ValueError(f"device={device!r}: the course runs on \"cpu\", \"cuda\" or \"mps\" (or \"auto\")")
        return dev
    if torch.cuda.is_available():
        return torch.device("cuda")
    if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")
