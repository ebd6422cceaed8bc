"""A student's session in a real JupyterLab, driven by headless Chromium (Playwright).

`make lab`'s command line starts JupyterLab at the repo root on exercises/. The student opens their
copy there (made by make_exercises, with the course kernel), runs all cells, sees the run stop at
the first exercise with the hint, moves a slider and sees the figure redraw.
"""

from __future__ import annotations

import os
import re
import secrets
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tools"))
import make_exercises as mx  # noqa: E402

CHROMIUM = next((shutil.which(b) for b in ("chromium", "chromium-browser", "google-chrome") if shutil.which(b)), None)
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed (`make system-deps`)")


def lab_args_from_makefile() -> list[str]:
    """The flags `make lab` passes to JupyterLab (so the test starts Lab the way students do)."""
    text = (ROOT / "Makefile").read_text().replace("\\\n", " ")
    line = next(ln for ln in text.splitlines() if "jupyter lab" in ln)
    assert "--ip=127.0.0.1" in line and "--LabApp.default_url=/lab/tree/exercises" in line
    assert "--allow-root" in text and "ServerApp.token" not in line  # the token stays on
    return ["--ip=127.0.0.1", "--LabApp.default_url=/lab/tree/exercises"]


def lecture() -> nbformat.NotebookNode:
    nb = nbformat.v4.new_notebook()
    nb.cells = [
        new_markdown_cell("# 99 · A lab session"),
        new_code_cell("import matplotlib.pyplot as plt\nimport labhelpers as lh"),
        new_code_cell("def plot(a=1.0):\n    fig, ax = plt.subplots(figsize=(3, 2))\n    ax.plot([0, a, 0])\n"
                      "    ax.set_ylim(0, 5)\n    return fig\n\n\nlh.interactive_figure(plot, a=lh.slider('a', 0.0, 4.0, 1.0, 1.0))"),
        new_markdown_cell("## Exercises\n### Exercise 1\nSet `answer` to 42."),
        new_code_cell("# HINT: the answer to everything\n### BEGIN SOLUTION\nanswer = 42\n### END SOLUTION",
                      metadata={"tags": ["solution"]}),
        new_code_cell("assert answer == 42, 'not the answer'", metadata={"tags": ["check"]}),
        new_code_cell("print('after the exercise')"),
    ]
    return nb


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_student_runs_their_copy_in_jupyterlab(tmp_path):
    from playwright.sync_api import sync_playwright

    root = tmp_path / "course"
    (root / "notebooks").mkdir(parents=True)
    src = root / "notebooks" / "99_lab.ipynb"
    nbformat.write(lecture(), src)
    assert mx.update(src, root / "exercises") == "written"  # what `make exercises` (run by `make lab`) does
    port, token = free_port(), secrets.token_hex(16)
    cmd = [sys.executable, "-m", "jupyter", "lab", "--no-browser", f"--port={port}", *lab_args_from_makefile(),
           f"--ServerApp.root_dir={root}", f"--IdentityProvider.token={token}"]
    if os.geteuid() == 0:
        cmd.append("--allow-root")
    env = dict(os.environ, JUPYTER_CONFIG_DIR=str(tmp_path / "cfg"), LAB_QUICK="1")
    server = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        base = f"http://127.0.0.1:{port}"
        for _ in range(120):
            try:
                urllib.request.urlopen(f"{base}/api/status?token={token}", timeout=2)
                break
            except OSError:
                time.sleep(0.5)
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"])
            page = browser.new_page(viewport={"width": 1400, "height": 900})
            page.goto(f"{base}/?token={token}")  # the root redirects to where `make lab` lands: exercises/
            page.get_by_text("99_lab.ipynb").first.wait_for(timeout=120_000)
            assert "exercises" in page.url
            page.get_by_text("99_lab.ipynb").first.dblclick()
            page.locator(".jp-NotebookPanel").first.wait_for(timeout=60_000)
            page.get_by_text(re.compile(r"Python \(genmodels course\) \| Idle")).first.wait_for(timeout=90_000)  # course kernel
            page.locator(".jp-Notebook").first.click()
            page.get_by_role("menuitem", name="Run").first.click()
            page.get_by_text("Run All Cells").first.click()
            page.get_by_text("NotImplementedError").first.wait_for(timeout=180_000)
            body = page.locator(".jp-Notebook").first.inner_text()
            assert "the answer to everything" in body  # the hint is shown with the error
            page.wait_for_timeout(2000)
            assert page.locator(".jp-OutputArea-output", has_text="after the exercise").count() == 0  # it stopped there
            img = page.locator(".jp-OutputArea-output img").first
            img.wait_for(timeout=60_000)
            before = img.get_attribute("src")
            handle = page.locator(".widget-slider .noUi-handle, .jupyter-widgets input[type=range]").first
            handle.focus()
            for _ in range(2):
                page.keyboard.press("ArrowRight")
            page.wait_for_function("(b) => { const i = document.querySelector('.jp-OutputArea-output img');"
                                   " return i && i.src !== b; }", arg=before, timeout=60_000)
            assert img.get_attribute("src") != before  # the figure was redrawn for the new value
            browser.close()
    finally:
        server.terminate()
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()
    log = server.stdout.read() if server.stdout else ""
    assert not re.search(r"Traceback", log), log[-3000:]
