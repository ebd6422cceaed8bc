"""labhelpers.widgets (sliders over plain plotting functions) and lh.progress, in and out of a kernel."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import ipywidgets
import matplotlib.pyplot as plt
import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_notebook

from labhelpers import widgets as w

ROOT = Path(__file__).resolve().parent.parent
WIDGET_MIME = "application/vnd.jupyter.widget-view+json"


def test_slider_picks_int_or_float_and_updates_on_release():
    s = w.slider("k", 1, 10, 1, 3)
    assert isinstance(s, ipywidgets.IntSlider) and (s.min, s.max, s.step, s.value) == (1, 10, 1, 3)
    f = w.slider("noise", 0.0, 1.0, 0.1, 0.5)
    assert isinstance(f, ipywidgets.FloatSlider) and f.value == 0.5 and f.description == "noise"
    assert s.continuous_update is False and f.continuous_update is False


class FakeHandle:
    def __init__(self):
        self.updates = []

    def update(self, obj):
        self.updates.append(obj)


@pytest.fixture
def shown(monkeypatch):
    """Record what interactive_figure displays instead of sending it to a front end."""
    calls, handle = [], FakeHandle()

    def display(obj, display_id=None):
        calls.append(obj)
        return handle if display_id else None

    monkeypatch.setattr("IPython.display.display", display)
    return calls, handle


def line_plot(noise: float, k: int = 1):
    fig, ax = plt.subplots()
    ax.plot([0, noise * k])
    ax.set_title(f"noise={noise} k={k}")
    return fig


def test_interactive_figure_shows_default_then_redraws(shown):
    calls, handle = shown
    noise, k = w.slider("noise", 0.0, 1.0, 0.1, 0.5), w.slider("k", 1, 5, 1, 2)
    w.interactive_figure(line_plot, noise=noise, k=k)
    figure, controls = calls
    assert figure.axes[0].get_title() == "noise=0.5 k=2", "the static figure must use the default values"
    assert isinstance(controls, ipywidgets.HBox) and list(controls.children) == [noise, k]
    noise.value = 0.8
    k.value = 3
    assert [f.axes[0].get_title() for f in handle.updates] == ["noise=0.8 k=2", "noise=0.8 k=3"]
    assert not plt.get_fignums(), "figures are shown through the display handle only, never left open"


def test_interactive_figure_rejects_bad_input(shown):
    with pytest.raises(ValueError, match="at least one control"):
        w.interactive_figure(line_plot)
    with pytest.raises(ValueError, match="'noise' must be an ipywidgets control"):
        w.interactive_figure(line_plot, noise=0.5)
    with pytest.raises(ValueError, match="must return a matplotlib Figure"):
        w.interactive_figure(lambda noise: None, noise=w.slider("noise", 0.0, 1.0, 0.1, 0.5))


def execute(cells: list[str], env: dict) -> nbformat.NotebookNode:
    from nbclient import NotebookClient

    nb = new_notebook(cells=[new_code_cell(c) for c in cells],
                      metadata={"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}})
    NotebookClient(nb, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(ROOT)}}).execute(env=env)
    return nb


def kernel_env(**changes: str | None) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in ("MPLBACKEND", "TQDM_DISABLE")}
    env.update({k: v for k, v in changes.items() if v is not None})
    return env


def test_headless_kernel_keeps_the_static_figure_and_silent_progress():
    nb = execute(["import labhelpers as lh\nimport matplotlib.pyplot as plt",
                  "def plot(noise):\n    fig, ax = plt.subplots()\n    ax.plot([0, noise])\n    return fig\n"
                  "lh.interactive_figure(plot, noise=lh.slider('noise', 0.0, 1.0, 0.1, 0.5))",
                  "total = sum(lh.progress(range(50), desc='train'))\ntotal"],
                 kernel_env(TQDM_DISABLE="1", LAB_QUICK="1"))
    figure_cell, progress_cell = nb.cells[1], nb.cells[2]
    kinds = [o.get("data", {}).keys() for o in figure_cell.outputs]
    assert any("image/png" in k for k in kinds), f"no image/png output for the default value: {kinds}"
    assert any(WIDGET_MIME in k for k in kinds), "the slider must still be displayed"
    assert [o.output_type for o in progress_cell.outputs] == ["execute_result"], progress_cell.outputs
    assert progress_cell.outputs[0].data["text/plain"] == "1225"


def test_progress_in_a_kernel_is_text_that_survives_reopening():
    nb = execute(["import labhelpers as lh\nfor _ in lh.progress(range(3), desc='train'):\n    pass"],
                 kernel_env(LAB_QUICK="1"))
    outputs = nb.cells[0].outputs
    assert not any(WIDGET_MIME in o.get("data", {}) for o in outputs), "a widget bar breaks when the notebook is reopened"
    assert any(o.get("name") == "stdout" and "train: 100%" in o.get("text", "") for o in outputs), outputs


def test_quick_mode_figures_are_stamped():
    nb = execute(["import labhelpers as lh\nimport matplotlib.pyplot as plt\n"
                  "lh.start('99_q', quick=True)\nfig, ax = plt.subplots()\nax.plot([1, 2])\n"
                  "fig.canvas.draw(); import io; fig.savefig(io.BytesIO()); "
                  "print(any(t.get_text() == lh.plotting.QUICK_MARK for t in fig.texts))"],
                 kernel_env(LAB_QUICK="1"))
    text = "".join(o.get("text", "") for o in nb.cells[0].outputs if o.output_type == "stream")
    assert "True" in text, nb.cells[0].outputs


@pytest.mark.parametrize("disable, silent", [("1", True), (None, False)])
def test_progress_on_a_console(disable, silent):
    code = "import labhelpers as lh\nfor _ in lh.progress(range(200), desc='train', mininterval=0):\n    pass"
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT,
                          env=kernel_env(TQDM_DISABLE=disable), timeout=120)
    assert proc.returncode == 0, proc.stderr
    bar = "train: 100%" in proc.stderr
    assert bar != silent, f"TQDM_DISABLE={disable}: stderr was {proc.stderr[-300:]!r}"


def test_figures_carry_alternative_text_on_an_opaque_background():
    """After lh.start, a figure shown by the inline backend has alt text saying what it shows (title, panels, axes,
    legend) in its output metadata, and a white opaque background (readable on a dark theme). Accessibility."""
    import base64
    import io

    import matplotlib.image as mpimg

    nb = execute(["import labhelpers as lh\nimport matplotlib.pyplot as plt\nlh.start('99_a', quick=True)\n"
                  "fig, (a, b) = plt.subplots(1, 2)\nfig.suptitle('FID against network calls')\n"
                  "a.plot([1, 2], label='latent flow'); a.plot([2, 1], label='pixel flow'); a.legend()\n"
                  "a.set_xlabel('calls'); a.set_ylabel('FID'); a.set_title('both flows')\n"
                  "b.imshow([[0, 1], [1, 0]]); b.set_title('samples')\nplt.show()"],
                 kernel_env(LAB_QUICK="1"))
    pngs = [o for o in nb.cells[0].outputs if "image/png" in o.get("data", {})]
    assert len(pngs) == 1, nb.cells[0].outputs
    alt = pngs[0].get("metadata", {}).get("image/png", {}).get("alt", "")
    for words in ("FID against network calls", "2 panels", "'both flows'", "FID against calls", "latent flow",
                  "pixel flow", "'samples': image"):
        assert words in alt, alt
    pixels = mpimg.imread(io.BytesIO(base64.b64decode(pngs[0]["data"]["image/png"])), format="png")
    assert pixels.shape[-1] == 3 or pixels[..., 3].min() == 1.0, "transparent background: unreadable on a dark theme"
    assert pixels[0, 0, :3].min() > 0.99, "the background is not white"


def test_label_colours_are_colour_blind_safe():
    from labhelpers import plotting
    assert [plotting.LABEL_CMAP(k) for k in range(10)] == \
        [plt.matplotlib.colors.to_rgba(c) for c in plt.style.library["tableau-colorblind10"]["axes.prop_cycle"]
         .by_key()["color"]]


def test_the_course_kernel_says_what_to_run_after_a_restart(tmp_path):
    """The course kernel (tools/install_kernel.py) loads labhelpers.hints: a NameError after a restart and a
    TypeError about None after the parameters cell was re-run get a line saying which cells to run; the cell
    still fails (papermill, nbval and make run see the error)."""
    from jupyter_client import KernelManager
    from jupyter_client.kernelspec import KernelSpecManager
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError

    sys.path.insert(0, str(ROOT / "tools"))
    import install_kernel

    spec = install_kernel.install(prefix=str(tmp_path))
    assert "--ext=labhelpers.hints" in json.loads(spec.read_text())["argv"]
    ksm = KernelSpecManager(kernel_dirs=[str(spec.parent.parent)])
    for source, expected in (("lh.start('99_x')", "Run > Run All Above"),
                             ("num_epochs = None\nif num_epochs < 3:\n    pass", "run the cell right after it")):
        nb = new_notebook(cells=[new_code_cell(source)])
        km = KernelManager(kernel_name=install_kernel.NAME, kernel_spec_manager=ksm)
        client = NotebookClient(nb, km=km, timeout=120, resources={"metadata": {"path": str(ROOT)}})
        with pytest.raises(CellExecutionError):
            client.execute(env=kernel_env(LAB_QUICK="1"))
        outputs = nb.cells[0].outputs
        assert any(o.output_type == "error" for o in outputs), outputs
        assert any(expected in o.get("text", "") for o in outputs if o.output_type == "stream"), outputs
