"""environment.yml (conda, for students) and pyproject.toml (pip, for CI) list the same dependencies."""

import re
from pathlib import Path

import tomllib
import yaml

ROOT = Path(__file__).resolve().parent.parent
CONDA_NAMES = {"torch": "pytorch"}  # PyPI name -> conda-forge name where they differ


def _split(req: str) -> tuple[str, str]:
    m = re.match(r"^\s*([A-Za-z0-9_.\-]+)\s*(.*?)\s*$", req)
    return m.group(1).lower().replace("_", "-"), m.group(2).replace(" ", "")


def pip_requirements() -> dict[str, str]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    reqs = project["dependencies"] + project["optional-dependencies"]["dev"]
    return dict(_split(CONDA_NAMES.get(_split(r)[0], _split(r)[0]) + _split(r)[1]) for r in reqs)


def conda_requirements() -> dict[str, str]:
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    deps = [d for d in env["dependencies"] if isinstance(d, str)]
    return dict(_split(d) for d in deps if _split(d)[0] not in ("python", "pip"))


def test_same_packages_and_versions():
    pip, conda = pip_requirements(), conda_requirements()
    assert set(pip) == set(conda), (f"only in pyproject.toml: {sorted(set(pip) - set(conda))}; "
                                    f"only in environment.yml: {sorted(set(conda) - set(pip))}")
    differ = {k: (pip[k], conda[k]) for k in pip if pip[k] != conda[k]}
    assert not differ, f"version specifiers differ (pyproject, environment.yml): {differ}"


def test_environment_installs_labhelpers_from_checkout():
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    pip_section = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict))
    assert "-e ." in pip_section
    assert env["channels"][0] == "conda-forge"


def test_python_versions_agree():
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    conda_python = next(d for d in env["dependencies"] if isinstance(d, str) and d.startswith("python="))
    floor = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["requires-python"]
    major_minor = tuple(int(p) for p in conda_python.split("=")[1].split("."))
    assert major_minor >= tuple(int(p) for p in floor.lstrip(">=").split("."))


def test_lock_file_pins_every_dependency_within_its_specifier():
    from packaging.requirements import Requirement

    pins = {}
    for line in (ROOT / "requirements.lock").read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            name, _, version = line.partition("==")
            pins[name.strip().lower().replace("_", "-")] = version.strip()
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    for text in project["dependencies"] + project["optional-dependencies"]["dev"]:
        req = Requirement(text)
        name = req.name.lower().replace("_", "-")
        assert name in pins, f"{name} is not pinned in requirements.lock; run `make lock`"
        assert req.specifier.contains(pins[name], prereleases=True), \
            f"requirements.lock pins {name}=={pins[name]}, outside pyproject's {req.specifier}; run `make lock`"


def test_make_setup_installs_with_the_lock_file():
    """A changed pyproject.toml or requirements.lock makes `make setup` reinstall, constrained by the lock file
    (what make would run, asked with -n and -W: behaviour, not the Makefile's text)."""
    import subprocess

    for changed in ("pyproject.toml", "requirements.lock"):
        out = subprocess.run(["make", "-n", "-W", changed, "setup"], cwd=ROOT, capture_output=True, text=True,
                             timeout=60)
        assert out.returncode == 0, out.stderr
        pip = [line for line in out.stdout.splitlines() if "pip install" in line and "-e" in line]
        assert pip and "-c requirements.lock" in pip[0], f"{changed} changed: {out.stdout}"
        assert "tools/install_kernel.py" in out.stdout, "the course kernel is registered again too"
