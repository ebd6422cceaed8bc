"""Slide decks: `make slides` output renders offline in headless Chromium, one deck per notebook.

The decks of the real notebooks go to build/slides/ (with a screenshot of the title slide,
build/slides/<notebook>.png); notebooks without a fresh executed copy from `make run` are first
run in quick mode so that the decks show their figures. A generated sample lecture checks the
pipeline even when notebooks/ is empty.
"""

from __future__ import annotations

import base64
import io
import json
import re
import shutil
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import matplotlib.image as mpimg
import matplotlib.pyplot as plt
import nbformat
import pytest
from nbformat.v4 import new_output

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tools"))
import build_slides  # noqa: E402
from sample_notebook import make_notebook  # noqa: E402

NOTEBOOKS = sorted((ROOT / "notebooks").glob(build_slides.NOTEBOOK_GLOB))
CHROMIUM = next((shutil.which(b) for b in ("chromium", "chromium-browser", "google-chrome") if shutil.which(b)), None)
# What makes a browser fetch something: src=, <link href=>, CSS url() and @import, ES module imports.
# Plain hyperlinks (<a href="https://...">, e.g. in References) load nothing and may stay.
REMOTE = re.compile(r"""\bsrc\s*=\s*["']?\s*(?:https?:)?//|<link\b[^>]*\bhref\s*=\s*["']?\s*(?:https?:)?//|"""
                    r"""url\(\s*["']?\s*(?:https?:)?//|import\s[^;]*?from\s*["'](?:https?:)?//|"""
                    r"""@import\s+["'](?:https?:)?//""", re.I)
MATH = re.compile(r"\$[^$\n]+\$|\\\(|\\\[")


def remote_references(text: str) -> list[str]:
    """Places in HTML/CSS text that would load something over the network."""
    return [text[max(0, m.start() - 40):m.end() + 60] for m in REMOTE.finditer(text)]


def sample_with_figure() -> nbformat.NotebookNode:
    """The sample lecture with a stored figure output, as an executed copy would have."""
    nb = make_notebook()
    fig, ax = plt.subplots(figsize=(3, 2))
    ax.plot([0, 1, 0])
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    plt.close(fig)
    cell = next(c for c in nb.cells if "plt.subplots" in c.source)
    cell.outputs = [new_output("display_data", data={"image/png": base64.b64encode(buf.getvalue()).decode(),
                                                     "text/plain": "<Figure size 300x200 with 1 Axes>"},
                               metadata={"image/png": {"alt": SAMPLE_ALT}})]
    return nb


SAMPLE_ALT = "Figure, 1 panel. Panel 1: line plot."


@pytest.fixture(scope="session")
def decks(tmp_path_factory) -> dict[str, tuple[Path, Path]]:
    """Build every deck once: {name: (deck html, notebook it was built from)}."""
    try:
        build_slides.install_vendor()
        sample_dir = tmp_path_factory.mktemp("slides")
        build_slides.install_vendor(sample_dir / "vendor")
    except SystemExit as err:  # no cached tarballs and no registry: nothing to render with
        pytest.skip(f"reveal.js/MathJax not available offline and not downloadable: {err}")
    sample_nb = sample_dir / "99_sample.ipynb"
    nbformat.write(sample_with_figure(), sample_nb)
    built = {"99_sample": (build_slides.build_one(sample_nb, out_dir=sample_dir), sample_nb)}
    if NOTEBOOKS:
        build_slides.main(["--execute-missing", *map(str, NOTEBOOKS)])  # a failing notebook fails its own test
        for nb in NOTEBOOKS:
            built[nb.stem] = (build_slides.SLIDES / f"{nb.stem}.slides.html", build_slides.executed_copy(nb))
    return built


def chromium(*args: str, tmp: Path) -> subprocess.CompletedProcess:
    """Headless Chromium with every host name unresolvable: the deck must work with the network unplugged."""
    cmd = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
           "--disable-component-update", "--no-first-run", f"--user-data-dir={tmp}",
           "--host-resolver-rules=MAP * ~NOTFOUND", "--hide-scrollbars", "--window-size=1280,720",
           "--virtual-time-budget=10000", *args]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=120)


def render(deck: Path, screenshot: Path, tmp: Path) -> str:
    """Dump the DOM after reveal.js and MathJax ran, and screenshot the title slide; return the DOM."""
    url = deck.resolve().as_uri()
    with ThreadPoolExecutor(2) as pool:
        dom = pool.submit(chromium, "--dump-dom", url, tmp=tmp / "dom")
        shot = pool.submit(chromium, f"--screenshot={screenshot}", url, tmp=tmp / "shot")
        dom, shot = dom.result(), shot.result()
    assert dom.returncode == 0 and shot.returncode == 0, dom.stderr[-2000:] + shot.stderr[-2000:]
    return dom.stdout


def test_vendored_files_are_all_local(decks):
    """The vendored stylesheets and scripts the decks load do not reach out to the network either."""
    vendor = build_slides.SLIDES / "vendor"
    for path in [*vendor.rglob("*.css"), vendor / "reveal.js/dist/reveal.js", vendor / "mathjax/MathJax.js"]:
        found = remote_references(path.read_text(encoding="utf-8", errors="replace"))
        assert not found, f"{path} loads remote resources: {found[:3]}"


@pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed (`make system-deps` installs it on Debian)")
@pytest.mark.parametrize("name", ["99_sample", *[nb.stem for nb in NOTEBOOKS]])
def test_deck_renders_offline(name, decks, tmp_path):
    deck, source = decks[name]
    assert source is not None, f"{name} failed to run in quick mode, so its deck would show no outputs (log above)"
    html = deck.read_text(encoding="utf-8")
    found = remote_references(html)
    assert not found, f"{deck.name} still loads from the network: {found[:3]}"

    screenshot = deck.with_suffix("").with_suffix(".png")  # build/slides/<notebook>.png
    screenshot.unlink(missing_ok=True)
    dom = render(deck, screenshot, tmp_path)

    reveal = re.search(r'<div class="(reveal [^"]*)"', dom)
    assert reveal and "ready" in reveal.group(1).split(), f"reveal.js did not start in {deck.name}"
    slides = re.findall(r'<section\b[^>]*class="[^"]*\b(?:present|past|future)\b', dom)
    assert len(slides) > 1, f"{deck.name}: {len(slides)} slide(s); mark headings with slide metadata"

    nb = nbformat.read(source, as_version=4)
    markdown = "\n".join(c.source for c in nb.cells if c.cell_type == "markdown")
    if MATH.search(markdown):
        typeset = len(re.findall(r'class="mjx-chtml\b', dom))
        assert typeset > 0, f"{deck.name}: MathJax typeset no formula (is vendor/mathjax complete?)"
        assert "Math Processing Error" not in dom, f"{deck.name}: MathJax failed on a formula"

    shown = build_slides.prepare(nbformat.read(source, as_version=4))  # the cells the deck shows
    images = sum("image/png" in o.get("data", {}) or "image/jpeg" in o.get("data", {})
                 for c in shown.cells if c.cell_type == "code" for o in c.outputs)
    srcs = re.findall(r'<img\b[^>]*\bsrc="([^"]*)"', dom)
    assert images > 0, f"{source.name} has no figure outputs to show (executed copy expected)"
    assert len(srcs) >= images, f"{deck.name}: {len(srcs)} <img> for {images} figure outputs"
    missing = [s[:80] for s in srcs if not s.startswith("data:") and not (deck.parent / s).is_file()]
    assert not missing, f"{deck.name}: images that do not resolve locally: {missing}"

    assert screenshot.is_file(), f"no screenshot written to {screenshot}"
    pixels = mpimg.imread(screenshot)
    assert pixels.shape[:2] == (720, 1280) and pixels[..., :3].std() > 0.01, f"{screenshot} looks blank"


@pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed (`make system-deps` installs it on Debian)")
@pytest.mark.parametrize("name", ["99_sample", *[nb.stem for nb in NOTEBOOKS]])
def test_deck_fits_a_projector(name, decks):
    """At 1280x720 (Playwright driving Chromium, network blocked): no slide taller than the screen, no code cut
    at the edge, body text >= 24 px, figures fully on screen on arrival, no solution or stored wrong answer, no
    environment noise, speaker notes on every section slide, headings as written, math typeset, one PDF page
    per slide. Writes build/slides/<deck>.contact.png (all slides) and <deck>.measure.json for a person to check."""
    pytest.importorskip("playwright")
    sys.path.insert(0, str(ROOT / "tools" / "slides"))
    import measure

    deck, source = decks[name]
    nb_path = ROOT / "notebooks" / f"{name}.ipynb"
    m = measure.measure(deck, deck.with_name(f"{name}.contact.png"))
    claims = measure.claim_names(nb_path) if nb_path.exists() else []
    problems = measure.problems(m, measure.solution_lines(nb_path) if nb_path.exists() else [], claims)
    deck.with_name(f"{name}.measure.json").write_text(json.dumps(
        {"slides": len(m["slides"]), "fragments": m["fragments"], "pdf_pages": m.get("pdf_pages"),
         "results_slides": len(claims), "problems": problems}, indent=1))
    assert deck.with_name(f"{name}.contact.png").is_file()
    assert len(m["slides"]) > 1
    assert not problems, f"{deck.name}: {len(problems)} problems at 1280x720:\n" + "\n".join(problems[:40])


def test_measure_reports_what_an_instructor_would_see():
    """The measurement's verdicts can fail: an overfull slide, small figure text, a missing results slide."""
    sys.path.insert(0, str(ROOT / "tools" / "slides"))
    import measure

    slide = {"index": "1.0", "height": 700, "limit": 720, "cut": 0, "min_body_px": 26, "min_code_px": 23,
             "imgs": [], "noise": [], "uppercase": 0, "raw_math": False, "section": False, "notes": 0,
             "text": "Result: Prior helps"}
    ok = {"slides": [slide], "remote_requests": [], "pdf_pages": 1, "pdf_overfull": 0}
    assert measure.problems(ok, [], ["prior_helps"]) == []
    tall = {**ok, "slides": [{**slide, "height": 900}]}
    assert any("900 px tall" in p for p in measure.problems(tall))
    small = {**ok, "slides": [{**slide, "imgs": [{"on_screen": True, "fragment": False, "text_px": 12.0}]}]}
    assert any("figure text 12.0 px" in p for p in measure.problems(small))
    assert any("no results slide" in p for p in measure.problems(ok, [], ["prior_helps", "other_claim"]))
    assert any("shows solution code" in p for p in measure.problems(ok, ["Result: Prior helps"]))


def test_every_figure_has_alternative_text(decks):
    """Each figure output of every executed lecture carries alt text in its metadata (lh.start installs it), and
    the deck's <img> shows it to a screen reader (issue: accessibility)."""
    missing = {}
    for name, (deck, source) in decks.items():
        outputs = [o for c in nbformat.read(source, as_version=4).cells if c.cell_type == "code" for o in c.outputs
                   if "image/png" in o.get("data", {})]
        bare = [i for i, o in enumerate(outputs) if not o.get("metadata", {}).get("image/png", {}).get("alt")]
        if bare:
            missing[name] = f"{len(bare)} of {len(outputs)} figures"
        if name == "99_sample":
            assert f'alt="{SAMPLE_ALT}"' in deck.read_text(), "the deck drops the figure's alt text"
    assert not missing, f"figures without alternative text: {missing}"


@pytest.mark.parametrize("nb", NOTEBOOKS, ids=lambda p: p.stem)
def test_figures_keep_the_course_font_sizes(nb):
    """No figure text set below the course's 12 pt by hand (the deck test measures text at the rcParams sizes,
    so a `fontsize=8` legend would shrink under 16 px on a projector unseen)."""
    small = [m.group(0) for cell in nbformat.read(nb, as_version=4).cells if cell.cell_type == "code"
             for m in re.finditer(r"fontsize\s*=\s*(\d+(?:\.\d+)?)", cell.source) if float(m.group(1)) < 12]
    assert not small, f"{nb.name}: figure text below 12 pt: {small} (leave the size to labhelpers.plotting's style)"
