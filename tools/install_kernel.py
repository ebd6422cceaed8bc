"""Register the course kernel "genmodels-course" with ipykernel, loading labhelpers.hints on start.

    python tools/install_kernel.py                 # into this environment (sys.prefix), as `make setup` does
    python tools/install_kernel.py --prefix DIR    # elsewhere (tests)

The extension adds a one-line hint under a NameError after a kernel restart or cells run out of order, and
under a TypeError about None after the parameters cell was re-run (labhelpers/hints.py).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

NAME, DISPLAY = "genmodels-course", "Python (genmodels course)"


def install(prefix: str | None = None) -> Path:
    from ipykernel.kernelspec import install as install_kernelspec

    spec_file = Path(install_kernelspec(kernel_name=NAME, display_name=DISPLAY, prefix=prefix or sys.prefix)) / \
        "kernel.json"
    spec = json.loads(spec_file.read_text())
    if "--ext=labhelpers.hints" not in spec["argv"]:
        spec["argv"].append("--ext=labhelpers.hints")
    spec_file.write_text(json.dumps(spec, indent=1) + "\n")
    return spec_file


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--prefix", default=None)
    print(f"installed the course kernel: {install(ap.parse_args().prefix)}")
