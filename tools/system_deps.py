"""Install the Debian packages the course uses, where apt-get and root are available.

Chromium renders the slide decks in the tests; dataset-fashion-mnist provides the full
Fashion-MNIST under /usr/share/datasets. Elsewhere (macOS, Windows, no root) it prints
what is missing and carries on: those tests then skip with a reason.

`--datasets` installs only the dataset packages (what `make run` needs; `make test` needs Chromium too).
"""

import argparse
import os
import shutil
import subprocess
from pathlib import Path

WANTED = {"chromium": lambda: shutil.which("chromium") or shutil.which("chromium-browser"),
          "dataset-fashion-mnist": lambda: Path("/usr/share/datasets/fashion-mnist").is_dir()}
DATASET_PACKAGES = ("dataset-fashion-mnist",)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--datasets", action="store_true", help="only the dataset packages (make run)")
    args = ap.parse_args(argv)
    wanted = {k: v for k, v in WANTED.items() if not args.datasets or k in DATASET_PACKAGES}
    missing = [pkg for pkg, present in wanted.items() if not present()]
    if not missing:
        return
    if shutil.which("apt-get") is None or not hasattr(os, "geteuid") or os.geteuid() != 0:
        print(f"system-deps: missing {', '.join(missing)}; install them with your package manager "
              "(Debian: sudo apt-get install " + " ".join(missing) + ")." +
              ("" if args.datasets else " Tests that need them will skip."))
        return
    print(f"system-deps: apt-get install {' '.join(missing)}")
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    for cmd in (["apt-get", "update", "-qq"], ["apt-get", "install", "-y", "-qq", "--no-install-recommends", *missing]):
        done = subprocess.run(cmd, env=env, capture_output=True, text=True)  # apt's progress lines are noise here
        if done.returncode != 0:  # no mirror reachable: say so; the run goes on with what it has
            print(f"system-deps: `{' '.join(cmd[:2])}` failed ({done.stderr.strip().splitlines()[-1:]}); "
                  f"carrying on without {' '.join(missing)}")
            return


if __name__ == "__main__":
    main()
