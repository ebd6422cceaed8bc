"""Open a deck in headless Chromium at 1280x720 (a projector) and measure what an instructor would see.

usage: python tools/slides/measure.py DECK.slides.html [NOTEBOOK.ipynb]   (prints the measurements as JSON)

Per slide: overflow beyond 720 px, code lines cut at the right edge, the smallest body and code font
as rendered, figures not fully on screen when the slide appears, figure text size (the course's
smallest matplotlib font at the figure's displayed scale), environment noise, solution text, speaker
notes on section slides, untypeset math and upper-cased headings. Also: requests that left the
machine, fragments, the page count of the `?print-pdf` export, and a contact sheet PNG.
"""

from __future__ import annotations

import io
import json
import re
import shutil
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = next((shutil.which(b) for b in ("chromium", "chromium-browser", "google-chrome") if shutil.which(b)), None)
W, H = 1280, 720
NOISE = re.compile(r"not found|not installed|digit sample|make data|/(?:work|home|usr|tmp|root|Users)/|NBVAL"
                   r"|loaded weights|trained and saved|Traceback", re.I)

MEASURE_JS = r"""
() => {
  const s = Reveal.getCurrentSlide(), scale = Reveal.getScale();
  const px = el => parseFloat(getComputedStyle(el).fontSize) * scale;
  const visible = el => { const r = el.getBoundingClientRect(); return r.width > 0 && r.height > 0; };
  const body = [...s.querySelectorAll('p, li, td, th')].filter(visible).filter(el => !el.closest('pre, aside, .MathJax, .MJX_Assistive_MathML'));
  const code = [...s.querySelectorAll('pre')].filter(visible);
  const imgs = [...s.querySelectorAll('img')].map(img => { const r = img.getBoundingClientRect();
      return {top: r.top, bottom: r.bottom, left: r.left, right: r.right, h: r.height, nh: img.naturalHeight,
              fragment: !!img.closest('.fragment:not(.visible)')}; });
  const heads = [...s.querySelectorAll('h1, h2, h3')].map(h => getComputedStyle(h).textTransform);
  const notes = s.querySelector('aside.notes');
  const clone = s.cloneNode(true); clone.querySelectorAll('aside, script, .MJX_Assistive_MathML, .MathJax_Preview').forEach(e => e.remove());
  return {
    height: s.scrollHeight, limit: Reveal.getConfig().height,
    cut: code.filter(p => p.scrollWidth > p.clientWidth + 1).length,
    min_body_px: body.length ? Math.min(...body.map(px)) : null,
    min_code_px: code.length ? Math.min(...code.map(px)) : null,
    imgs: imgs, uppercase: heads.filter(t => t === 'uppercase').length,
    section: !!s.querySelector('h2'), notes: notes ? notes.textContent.trim().length : 0,
    text: clone.textContent, raw_math: /\$\$|\\\(|\\\[/.test(clone.textContent),
    fragments: s.querySelectorAll('.fragment').length,
  };
}
"""


def figure_font_px() -> float:
    """The smallest font the course's matplotlib style uses, in pixels of the saved PNG."""
    sys.path.insert(0, str(ROOT))
    import matplotlib as mpl

    import labhelpers.plotting  # noqa: F401  (sets the course's rcParams)

    sizes = [mpl.rcParams[k] for k in ("font.size", "axes.titlesize", "axes.labelsize", "xtick.labelsize",
                                        "ytick.labelsize", "legend.fontsize")]
    pts = [s if isinstance(s, (int, float)) else mpl.font_manager.FontProperties(size=s).get_size_in_points()
           for s in sizes]
    return min(pts) * mpl.rcParams["figure.dpi"] / 72


def measure(deck: Path, contact_sheet: Path | None = None, pdf: bool = True) -> dict:
    from playwright.sync_api import sync_playwright

    fig_px = figure_font_px()
    out = {"deck": deck.name, "slides": [], "remote_requests": []}
    args = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--host-resolver-rules=MAP * ~NOTFOUND"]
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=args)
        page = browser.new_page(viewport={"width": W, "height": H})
        page.on("request", lambda r: None if r.url.startswith(("file:", "data:", "blob:", "about:"))
                else out["remote_requests"].append(r.url))
        page.goto(deck.resolve().as_uri())
        page.wait_for_function("window.courseDeckReady === true", timeout=90_000)
        page.evaluate("Reveal.configure({transition: 'none', backgroundTransition: 'none'})")
        slides = page.evaluate("Reveal.getSlides().map(s => Reveal.getIndices(s))")
        shots = []
        for idx in slides:
            page.evaluate(f"Reveal.slide({idx['h']}, {idx.get('v') or 0})")
            m = page.evaluate(MEASURE_JS)
            m["index"] = f"{idx['h']}.{idx.get('v') or 0}"
            for img in m["imgs"]:
                img["on_screen"] = img["top"] >= -1 and img["left"] >= -1 and img["bottom"] <= H + 1 and img["right"] <= W + 1
                img["text_px"] = fig_px * img["h"] / img["nh"] if img["nh"] else 0
            m["noise"] = sorted(set(NOISE.findall(m["text"])))
            out["slides"].append(m)
            if contact_sheet is not None:
                shots.append(page.screenshot())
        out["fragments"] = sum(s["fragments"] for s in out["slides"])
        if pdf:  # reveal's print view: one .pdf-page per printed page; none may hold more than a page
            page.goto(deck.resolve().as_uri() + "?print-pdf")
            page.wait_for_function("window.courseDeckReady === true", timeout=90_000)
            page.wait_for_timeout(500)
            out["pdf_pages"] = page.evaluate("document.querySelectorAll('.pdf-page').length")
            out["pdf_overfull"] = page.evaluate(
                "[...document.querySelectorAll('.pdf-page > section')].filter(s => s.scrollHeight > 722).length")
        browser.close()
    if contact_sheet is not None and shots:
        from PIL import Image

        cols, tw, th = 6, 320, 180
        rows = -(-len(shots) // cols)
        sheet = Image.new("RGB", (cols * tw, rows * th), "white")
        for i, png in enumerate(shots):
            im = Image.open(io.BytesIO(png)).convert("RGB").resize((tw - 4, th - 4))
            sheet.paste(im, ((i % cols) * tw + 2, (i // cols) * th + 2))
        contact_sheet.parent.mkdir(parents=True, exist_ok=True)
        sheet.save(contact_sheet)
    return out


def problems(m: dict, solution_lines: list[str] = (), claims: list[str] = ()) -> list[str]:
    """Everything in a measurement that the slides contract forbids, one line each (`claims`: the names of the
    lecture's claims, each of which needs a results slide)."""
    bad = [f"request left the machine: {u}" for u in m["remote_requests"]]
    texts = " ".join(s["text"] for s in m["slides"])
    for name in claims:
        if f"Result: {name.replace('_', ' ').capitalize()}" not in texts and \
                f"; {name.replace('_', ' ').capitalize()}" not in texts:
            bad.append(f"claim {name}: no results slide")
    for s in m["slides"]:
        where = f"slide {s['index']}"
        if s["height"] > s["limit"] + 2:
            bad.append(f"{where}: {s['height']} px tall, the screen holds {s['limit']}")
        if s["cut"]:
            bad.append(f"{where}: {s['cut']} code block(s) cut at the right edge")
        if s["min_body_px"] is not None and s["min_body_px"] < 23.5:
            bad.append(f"{where}: body text {s['min_body_px']:.1f} px (< 24)")
        if s["min_code_px"] is not None and s["min_code_px"] < 21.5:
            bad.append(f"{where}: code {s['min_code_px']:.1f} px (< 22)")
        for img in s["imgs"]:
            if not img["on_screen"] or img["fragment"]:
                bad.append(f"{where}: a figure is not fully visible when the slide appears")
            elif img["text_px"] < 15.5:
                bad.append(f"{where}: figure text {img['text_px']:.1f} px (< 16)")
        if s["noise"]:
            bad.append(f"{where}: environment noise {s['noise']}")
        if s["uppercase"]:
            bad.append(f"{where}: a heading is upper-cased")
        if s["raw_math"]:
            bad.append(f"{where}: math left untypeset")
        if s["section"] and not s["notes"]:
            bad.append(f"{where}: a section slide without speaker notes")
        for line in solution_lines:
            if line in s["text"]:
                bad.append(f"{where}: shows solution code {line[:60]!r}")
    if "pdf_pages" in m and m["pdf_pages"] != len(m["slides"]):
        bad.append(f"PDF export has {m['pdf_pages']} pages for {len(m['slides'])} slides")
    if m.get("pdf_overfull"):
        bad.append(f"PDF export: {m['pdf_overfull']} pages hold more than a page")
    return bad


def claim_names(notebook: Path) -> list[str]:
    """The names of the claims a lecture makes with a literal name (`lh.claim("name", ...)`) outside exercises."""
    import nbformat

    sys.path.insert(0, str(ROOT / "tools"))
    from build_slides import CLAIM

    nb = nbformat.read(notebook, as_version=4)
    names, in_exercises = [], False
    for c in nb.cells:
        if c.cell_type == "markdown" and re.match(r"#{1,3} ", c.source.strip()):
            in_exercises = c.source.strip().lstrip("#").strip().lower().startswith("exercise")
        elif c.cell_type == "code" and not in_exercises:  # decks leave the exercises out
            names += CLAIM.findall(c.source)
    return names


def solution_lines(notebook: Path) -> list[str]:
    """Distinctive lines of the notebook's solutions and stored wrong answers (none may reach a deck)."""
    import nbformat

    nb = nbformat.read(notebook, as_version=4)
    lines, shown = [], []
    for c in nb.cells:
        tags = c.metadata.get("tags", [])
        if "solution" in tags or "wrong_answer" in tags:
            src = c.source.split("### BEGIN SOLUTION", 1)[-1].split("### END SOLUTION", 1)[0]
            lines += [ln.strip() for ln in src.splitlines() if len(ln.strip()) > 25 and not ln.strip().startswith("#")]
        else:  # what the lesson or a prompt itself shows (e.g. the call a prompt spells out) gives nothing away
            shown.append(c.source)
    shown_text = "\n".join(shown)
    return [ln for ln in lines if ln.split("  #")[0].strip() not in shown_text]


if __name__ == "__main__":
    deck = Path(sys.argv[1])
    m = measure(deck, deck.with_suffix(".contact.png"))
    sols = solution_lines(Path(sys.argv[2])) if len(sys.argv) > 2 else []
    print(json.dumps({k: v for k, v in m.items() if k != "slides"}, indent=1))
    print("\n".join(problems(m, sols)) or "no problems")
