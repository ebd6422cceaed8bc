"""Install the Debian packages the course uses, where apt-get and root are available.

Chromium renders the slide decks in the tests; dataset-fashion-mnist provides the full
Fashion-MNIST under /usr/share/datasets. Elsewhere (macOS, Windows, no root) it prints
what is missing and carries on: those tests then skip with a reason.
"""

import os
import shutil
import subprocess
from pathlib import Path

WANTED = {"chromium": lambda: shutil.which("chromium") or shutil.which("chromium-browser"),
          "dataset-fashion-mnist": lambda: Path("/usr/share/datasets/fashion-mnist").is_dir()}


def main() -> None:
    missing = [pkg for pkg, present in WANTED.items() if not present()]
    if not missing:
        return
    if shutil.which("apt-get") is None or not hasattr(os, "geteuid") or os.geteuid() != 0:
        print(f"system-deps: missing {', '.join(missing)}; install them with your package manager "
              "(Debian: sudo apt-get install " + " ".join(missing) + "). Tests that need them will skip.")
        return
    print(f"system-deps: apt-get install {' '.join(missing)}")
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    subprocess.run(["apt-get", "update", "-qq"], check=True, env=env)
    subprocess.run(["apt-get", "install", "-y", "-qq", "--no-install-recommends", *missing], check=True, env=env)


if __name__ == "__main__":
    main()
