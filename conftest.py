"""pytest set-up shared by the unit tests and nbval's notebook runs."""

import os

import matplotlib

os.environ.setdefault("LAB_QUICK", "1")  # notebooks and tests run in quick mode under pytest
matplotlib.use("Agg")  # the test process draws without a screen; kernels keep their inline backend


def pytest_collectstart(collector):
    """nbval: compare only text outputs of cells marked NBVAL_CHECK_OUTPUT (torch/tqdm warnings go to stderr)."""
    if collector.fspath and collector.fspath.ext == ".ipynb":
        collector.skip_compare += ("text/html", "application/javascript", "stderr",
                                   "application/vnd.jupyter.widget-view+json", "image/svg+xml")
