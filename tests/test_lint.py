"""ruff (configured in pyproject.toml) finds nothing in the package, tools, benchmarks, tests or notebooks."""

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def test_ruff_is_clean():
    ruff = shutil.which("ruff") or str(Path(sys.executable).parent / "ruff")
    if not Path(ruff).exists():
        pytest.skip("ruff is not installed (it comes with the [dev] extras)")
    out = subprocess.run([ruff, "check", "labhelpers", "tools", "bench", "tests", "notebooks"], cwd=ROOT,
                         capture_output=True, text=True)
    assert out.returncode == 0, out.stdout + out.stderr
