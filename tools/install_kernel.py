"""Register the course kernel "genmodels-course" with ipykernel, loading labhelpers.hints on start.

    python tools/install_kernel.py                 # into this environment (sys.prefix), as `make setup` does
    python tools/install_kernel.py --prefix DIR    # elsewhere (tests)

The extension adds a one-line hint under a NameError after a kernel restart or cells run out of order, and
under a TypeError about None after the parameters cell was re-run (labhelpers/hints.py).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

NAME, DISPLAY = "genmodels-course", "Python (genmodels course)"


def install(prefix: str | None = None) -> Path:
    where = ["--prefix", prefix] if prefix else ["--sys-prefix"]
    out = subprocess.run([sys.executable, "-m", "ipykernel", "install", *where, "--name", NAME,
                          "--display-name", DISPLAY], check=True, capture_output=True, text=True)
    spec_dir = Path(out.stdout.strip().split(" in ", 1)[-1]) if " in " in out.stdout else \
        Path(prefix or sys.prefix) / "share" / "jupyter" / "kernels" / NAME
    spec_file = spec_dir / "kernel.json"
    spec = json.loads(spec_file.read_text())
    if "--ext=labhelpers.hints" not in spec["argv"]:
        spec["argv"].append("--ext=labhelpers.hints")
    spec_file.write_text(json.dumps(spec, indent=1) + "\n")
    return spec_file


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--prefix", default=None)
    print(f"installed the course kernel: {install(ap.parse_args().prefix)}")
