"""`make data`: fetch every dataset reachable from this machine and report where each one comes from.

`--brief` (what `make run` calls before the first notebook): install the dataset packages where apt and root
are available, try the verified downloads, and print one line per dataset that cannot be had, saying what the
lectures use instead and how to get it; nothing when all are here.
"""

import argparse
import contextlib
import io
import subprocess
import sys
from pathlib import Path

from labhelpers import data

ROOT = Path(__file__).resolve().parent.parent


def brief() -> int:
    """One line per dataset that is missing or only sampled; exit 0 (the lectures all have a fallback)."""
    subprocess.run([sys.executable, str(ROOT / "tools" / "system_deps.py"), "--datasets"], check=False)
    data._announced.update(data.DATASETS)  # the lines below say it; no "using the sample" line from find()
    for name, spec in data.DATASETS.items():
        if name in data.UNAVAILABLE:
            print(f"make run: {name} is treated as absent (LAB_UNAVAILABLE, a fallback run): {spec.without}. "
                  f"To get it: unset LAB_UNAVAILABLE")
            continue
        try:
            with contextlib.redirect_stderr(io.StringIO()):  # "downloading ..." lines of failed attempts
                paths = [data.find(name, split) for split in data.SPLITS]
        except (data.DatasetNotFoundError, data.ChecksumError):
            print(f"make run: {name} is not available here: {spec.without}. To get it: {spec.install_hint}")
            continue
        if spec.sample_folder and paths[0][0].parent.name == spec.sample_folder:
            print(f"make run: full {name} unavailable: {spec.without}. To get it: {spec.install_hint}")
    return 0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--brief", action="store_true", help="one line per missing dataset (make run)")
    if ap.parse_args(argv).brief:
        return brief()
    subprocess.run([sys.executable, str(ROOT / "tools" / "system_deps.py")], check=False)
    data.forget_failed_mirrors()  # `make data` tries every mirror again
    for name in data.DATASETS:
        for split in data.SPLITS:
            try:
                paths = data.find(name, split)
                spec = data.DATASETS[name]
                if spec.sample_folder and paths[0].parent.name == spec.sample_folder:
                    n = data.read_idx(paths[1]).shape[0]
                    print(f"{name:14s} {split:5s} SAMPLE ONLY ({n:,} images from {paths[0].parent}); "
                          f"the full set is unavailable here")
                else:
                    print(f"{name:14s} {split:5s} ok: {paths[0].parent}")
            except (data.DatasetNotFoundError, data.ChecksumError) as err:
                print(f"{name:14s} {split:5s} unavailable: {str(err).splitlines()[0]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
