"""Makefile targets that leave nothing behind and work where students run them (as root in containers)."""

from __future__ import annotations

import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def dry_run(target: str, *extra: str) -> str:
    out = subprocess.run(["make", "-n", target, *extra], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    return out.stdout


def test_clean_removes_every_generated_thing_but_data_and_venv():
    cmds = dry_run("clean")
    for wanted in ("build", ".pytest_cache", ".ruff_cache", "egg-info", "__pycache__", ".ipynb_checkpoints",
                   ".*.lock", ".*.part"):
        assert wanted in cmds, f"make clean leaves {wanted} behind"
    assert ".venv" not in cmds.replace("-path ./.venv -prune", "") and "mnist-sample" not in cmds


def test_lab_as_root_passes_allow_root_and_keeps_jupyters_defaults():
    """What `make lab` would run: --allow-root exactly when run as root, and nothing that weakens Jupyter's
    token or its 127.0.0.1 binding."""
    import os

    cmds = dry_run("lab")
    lab = _command(cmds, "jupyter lab")
    assert ("--allow-root" in lab) == (os.getuid() == 0), lab
    assert "--ip=127.0.0.1" in lab and "default_url=/lab/tree/exercises" in lab
    for weakening in ("token=''", 'token=""', "--ip=0.0.0.0", "disable_check_xsrf", "password="):
        assert weakening not in lab


def _command(cmds: str, tool: str) -> str:
    return next(line for line in cmds.replace("\\\n", " ").splitlines() if tool in line)


def test_run_and_test_pin_threads():
    """The commands `make run` and `make test` would run pin the thread counts, the quiet progress bars and the
    hash seed, and pass the job counts; overriding a variable changes the command (behaviour, not Makefile text)."""
    run = _command(dry_run("run"), "run_notebooks.py")
    assert "TQDM_DISABLE=1" in run and "PYTHONHASHSEED=0" in run
    assert "OMP_NUM_THREADS=1 MKL_NUM_THREADS=1" in run and "--jobs 2" in run and "--kernel genmodels-course" in run
    run = _command(dry_run("run", "RUN_THREADS=2", "JOBS=1", "QUICK=1", "WITHOUT=svhn"), "run_notebooks.py")
    assert "OMP_NUM_THREADS=2" in run and "--jobs 1" in run and "--quick" in run and "--without svhn" in run
    test = _command(dry_run("test"), "pytest")
    assert "LAB_QUICK=1" in test and "TQDM_DISABLE=1" in test and "OMP_NUM_THREADS=1" in test
    assert "-n 2 --dist loadfile" in test
    assert "-n 3" in _command(dry_run("test", "TEST_JOBS=3"), "pytest")
