"""Build one reveal.js deck per notebook into build/slides/, working with the network unplugged.

usage: python tools/build_slides.py [--execute-missing] [--jobs N] [NOTEBOOK...]
       python tools/build_slides.py --set-rise-metadata [NOTEBOOK...]   # settings for live RISE slides

Each deck is made by nbconvert's SlidesExporter from the cells' `slideshow` metadata. The
source is the executed copy from `make run` (build/executed/full, else build/executed/quick)
when it is at least as new as the notebook, otherwise the notebook as stored;
`--execute-missing` first runs the notebooks without a fresh executed copy in quick mode
(papermill, into build/executed/quick) so that the decks show figures.

Everything a deck loads (reveal.js 4, MathJax 2, require.js, jQuery, the theme's fonts) lies
under build/slides/vendor/. The packages come from the npm registry once (tarballs checked
against their sha512 and cached in build/vendor/); later builds need no network at all.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import mimetypes
import os
import re
import shutil
import sys
import tarfile
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import nbformat
from run_notebooks import run_one  # tools/ is on sys.path when run as a script

ROOT = Path(__file__).resolve().parent.parent
BUILD = Path(os.environ.get("LAB_BUILD_DIR", ROOT / "build"))
SLIDES = BUILD / "slides"
CACHE = BUILD / "vendor"
REGISTRY = os.environ.get("NPM_REGISTRY", "https://registry.npmjs.org").rstrip("/")
NOTEBOOK_GLOB = "[0-9][0-9]_*.ipynb"

# npm package -> (version, sha512 integrity from the registry, path prefixes kept under vendor/<package>/).
# MathJax 2: nbconvert's mathjax template configures MathJax.Hub (the v2 API); reveal 4: the template
# loads dist/reveal.js and plugin/notes/notes.js, the reveal.js 4 layout.
PACKAGES = {
    "reveal.js": ("4.6.1", "sha512-1CW0auaXNPmwmvQ7TwpszwVxMi2Xr5cTS3J3EBC/HHgbPF32Dn7aiu/LKWDOGjMbaDwKQiGmfqcoGQ74HUHCMw==",
                  ("dist/reveal.css", "dist/reveal.js", "dist/theme/white.css", "dist/theme/fonts/source-sans-pro/",
                   "plugin/notes/notes.js", "LICENSE")),
    "mathjax": ("2.7.9", "sha512-NOGEDTIM9+MrsqnjPEjVGNx4q0GQxqm61yQwSK+/5S59i26wId5IC5gNu9/bu8+CCVl5p9G2IHcAl/wJa+5+BQ==",
                ("MathJax.js", "config/TeX-AMS_CHTML-full.js", "config/Safe.js", "extensions/", "jax/element/",
                 "jax/input/TeX/", "jax/output/CommonHTML/", "fonts/HTML-CSS/TeX/woff/", "localization/en/", "LICENSE")),
    "requirejs": ("2.3.7", "sha512-DouTG8T1WanGok6Qjg2SXuCMzszOo0eHeH9hDZ5Y4x8Je+9JB38HdTLT4/VA8OaUhBa0JPVHJ0pyBkM1z+pDsw==",
                  ("require.js", "README.md")),
    "jquery": ("3.7.1", "sha512-m4avr8yL8kmFN8psrbFFFmB/If14iN5o9nw/NgnnM+kybDJpRsAynV2BsfpTYrTRysYUdADVD7CkUUizgkpLfg==",
               ("dist/jquery.min.js", "LICENSE.txt")),
}

# URLs as the deck sees them, relative to build/slides/ (the deck's own folder).
URLS = {
    "reveal_url_prefix": "vendor/reveal.js",
    "mathjax_url": "vendor/mathjax/MathJax.js?config=TeX-AMS_CHTML-full,Safe",
    "require_js_url": "vendor/requirejs/require.js",
    "jquery_url": "vendor/jquery/dist/jquery.min.js",
}

# The reveal template also imports mermaid as an ES module from a CDN; the lectures draw no mermaid
# diagrams, and ES modules do not load from file:// anyway, so the offline template leaves it out.
SLIDES_SRC = Path(__file__).resolve().parent / "slides"
OFFLINE_TEMPLATE = """{%- extends 'index.html.j2' -%}
{%- block html_head_js_mermaidjs -%}{%- endblock html_head_js_mermaidjs -%}
{% block data_png scoped %}
<div class="jp-RenderedImage jp-OutputArea-output {{ extra_class }}">
<img src="data:image/png;base64,{{ output.data['image/png'] | escape_html }}"
{%- set alttext = output | get_metadata('alt', 'image/png') -%}
{%- if alttext %} alt="{{ alttext | escape_html }}"{% endif %}>
</div>
{%- endblock data_png %}
{%- block html_head_css -%}
<style type="text/css">
""" + (SLIDES_SRC / "course.css").read_text() + """
</style>
{%- endblock html_head_css -%}
{% block footer_js %}
<script>
""" + (SLIDES_SRC / "fit.js").read_text() + """
require({waitSeconds: 15},
  ["{{ reveal_url_prefix }}/dist/reveal.js", "{{ reveal_url_prefix }}/plugin/notes/notes.js"],
  function (Reveal, RevealNotes) {
    window.Reveal = Reveal;
    var fit = function () {  // split what does not fit before reveal lays out slides (and PDF pages)
      courseFitSlides(Reveal);
      start();
    };
    var whenImagesLoaded = function () {  // a figure not yet decoded measures 0 px tall: wait for every one
      var pending = Array.prototype.filter.call(document.images, function (img) { return !img.complete; });
      Promise.all(pending.map(function (img) {
        return new Promise(function (done) { img.addEventListener('load', done); img.addEventListener('error', done); });
      })).then(fit);
    };
    var start = function () {
      Reveal.initialize({
        controls: true, progress: true, history: true, center: false,
        transition: "{{reveal_transition}}", slideNumber: "{{reveal_number}}", plugins: [RevealNotes],
        width: 1280, height: 720, margin: 0.03, minScale: 0.2, maxScale: 2.0,
        pdfMaxPagesPerSlide: 1, pdfSeparateFragments: false,
      }).then(function () { window.courseDeckReady = true; });
    };
    if (window.MathJax && MathJax.Hub) { MathJax.Hub.Queue(whenImagesLoaded); } else { whenImagesLoaded(); }
  });
</script>
{% endblock footer_js %}
"""

WIDGET_MIME = "application/vnd.jupyter.widget-view+json"

# Notebook metadata for live slides with jupyterlab-rise (Alt+R in JupyterLab); the static decks use the
# same look. `scroll`: long code cells and figures scroll instead of being cut off.
RISE_METADATA = {"theme": "white", "transition": "slide", "slideNumber": "c/t", "scroll": True,
                 "start_slideshow_at": "beginning"}


def fetch(package: str) -> Path:
    """The package's npm tarball, checked against its sha512 every time it is used (cached or downloaded)."""
    version, integrity, _ = PACKAGES[package]
    path = CACHE / f"{package}-{version}.tgz"
    algo, _, want = integrity.partition("-")
    if path.exists() and base64.b64encode(hashlib.new(algo, path.read_bytes()).digest()).decode() != want:
        print(f"build_slides: the cached {path.name} does not match its {algo} checksum; removed, fetching it again",
              flush=True)
        path.unlink()
    if not path.exists():
        CACHE.mkdir(parents=True, exist_ok=True)
        url = f"{REGISTRY}/{package}/-/{package}-{version}.tgz"
        print(f"downloading {url}", flush=True)
        try:
            with urllib.request.urlopen(url, timeout=60) as response:
                data = response.read()
        except OSError as err:
            raise SystemExit(f"build_slides: cannot download {url} ({err}). Run `make slides` once where the npm "
                             f"registry is reachable (or set NPM_REGISTRY to a mirror); the tarball is then cached "
                             f"in {CACHE} and checked against its {algo} on every build.") from err
        got = base64.b64encode(hashlib.new(algo, data).digest()).decode()
        if got != want:
            raise SystemExit(f"build_slides: {url} does not match its {algo} checksum; not using it")
        tmp = path.with_suffix(".part")
        tmp.write_bytes(data)
        tmp.replace(path)
    return path


def install_vendor(dest: Path = SLIDES / "vendor") -> Path:
    """Unpack the files the decks load into dest/<package>/ (skipped when that version is already there)."""
    for package, (version, integrity, keep) in PACKAGES.items():
        target = dest / package
        stamp = target / ".version"
        tarball = fetch(package)  # checked against its sha512 on every build
        if stamp.exists() and stamp.read_text() == f"{version} {integrity}" and _unpacked_matches(tarball, target, keep):
            continue
        shutil.rmtree(target, ignore_errors=True)
        with tarfile.open(tarball) as tar:
            for member in tar.getmembers():
                rel = member.name.split("/", 1)[-1]  # npm tarballs put everything under package/
                if member.isfile() and ".." not in rel.split("/") and rel.startswith(keep):
                    out = target / rel
                    out.parent.mkdir(parents=True, exist_ok=True)
                    out.write_bytes(tar.extractfile(member).read())
        stamp.write_text(f"{version} {integrity}")
    return dest


def _unpacked_matches(tarball: Path, target: Path, keep: tuple[str, ...]) -> bool:
    """True when every kept file of the (verified) tarball is unpacked under target with the same bytes."""
    with tarfile.open(tarball) as tar:
        for member in tar.getmembers():
            rel = member.name.split("/", 1)[-1]
            if member.isfile() and ".." not in rel.split("/") and rel.startswith(keep):
                out = target / rel
                if not out.is_file() or out.read_bytes() != tar.extractfile(member).read():
                    return False
    return True


def executed_copy(nb: Path) -> Path | None:
    """The freshest executed copy of `nb` from `make run` (full first, then quick), or None."""
    for mode in ("full", "quick"):
        copy = BUILD / "executed" / mode / nb.name
        if copy.exists() and copy.stat().st_mtime >= nb.stat().st_mtime:
            return copy
    return None


def execute_quick(nb: Path) -> Path | None:
    """Run `nb` in quick mode with papermill into build/executed/quick/ (as `make run QUICK=1` does).

    Returns the executed copy, or None (after printing the error) when the notebook fails.
    """
    out_dir = BUILD / "executed" / "quick"
    out_dir.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ, LAB_QUICK="1", TQDM_DISABLE="1", LAB_BUILD_DIR=str(BUILD))
    env.setdefault("OMP_NUM_THREADS", "1")  # several runs may share the cores
    row = run_one(nb, out_dir, None, [], env)
    out = Path(row["executed"])
    if not row["ok"]:
        out.unlink(missing_ok=True)  # a half-run copy must not pass for a fresh one
        log = (out_dir / f"{nb.stem}.log").read_text()
        print(f"build_slides: {nb.name} failed in quick mode; its deck shows the notebook as stored\n"
              f"{log[-4500:]}", flush=True)
        return None
    return out


def inline_image(match: re.Match, base: Path) -> str:
    """`<img src="relative/path">` -> a data: URI, so that the deck needs no files beside it."""
    src = match.group(2)
    path = (base / src).resolve()
    if re.match(r"^[a-z]+:", src) or not path.is_file():
        return match.group(0)
    mime = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
    return f'{match.group(1)}data:{mime};base64,{base64.b64encode(path.read_bytes()).decode()}{match.group(3)}'


# What a deck never shows: exercise solutions, stored wrong answers, checks, parameters, bookkeeping.
DROP_TAGS = {"solution", "wrong_answer", "check", "parameters", "injected-parameters", "bookkeeping"}
CLAIM = re.compile(r"""lh\.claim\(\s*["']([A-Za-z0-9_]+)["']""")
BOOKKEEPING = re.compile(r"lh\.start\(|record_metrics\(|^NOTEBOOK\s*=", re.M)
# Environment noise in outputs: missing-dataset notes, checkpoint chatter, machine paths, test markers.
NOISE = re.compile(r"not found|not installed|digit sample|make data|/(?:work|home|usr|tmp|root|Users)/|loaded weights"
                   r"|trained and saved|downloading |NBVAL|warn", re.I)
MAX_CODE_LINES = 16   # a longer lesson cell is shown as its outline (signatures and docstrings)
MAX_OTHER_LINES = 8   # other code is shown only when it is this short (else its output alone)
PROSE_TO_NOTES = 200  # a prose paragraph longer than this (characters) is said, not projected


def _is_imports(src: str) -> bool:
    lines = [ln for ln in src.splitlines() if ln.strip() and not ln.strip().startswith("#")]
    return bool(lines) and all(re.match(r"(import |from \S+ import |NOTEBOOK\s*=|[A-Z_]+\s*=)", ln) or ln.startswith((" ", ")"))
                               for ln in lines)


def _outline(src: str) -> str:
    """def/class lines and docstrings of a long lesson cell, the bodies elided."""
    out, in_doc = [], False
    for line in src.splitlines():
        s = line.strip()
        if in_doc:
            out.append(line)
            in_doc = not s.endswith(('"""', "'''"))
        elif re.match(r"(class |def |@)", s):
            out.append(line)
        elif s.startswith(('"""', "'''")) and out and re.match(r"\s*(class|def) ", out[-1]):
            out.append(line)
            in_doc = not (len(s) > 3 and s.endswith(('"""', "'''")))
            indent = line[: len(line) - len(line.lstrip())]
            if not in_doc:
                out.append(indent + "...")
    return "\n".join(out + ["# (the full code is in the notebook)"])


def _clean_outputs(cell: nbformat.NotebookNode) -> None:
    kept = []
    for o in cell.get("outputs", []):
        if WIDGET_MIME in o.get("data", {}) or o.get("output_type") == "error" or o.get("name") == "stderr":
            continue
        if o.get("output_type") == "stream":
            text = "".join(ln for ln in o.get("text", "").splitlines(True) if not NOISE.search(ln))
            if not text.strip():
                continue
            o["text"] = text
        if o.get("output_type") in ("execute_result", "display_data"):
            plain = o.get("data", {}).get("text/plain", "")
            if set(o.get("data", {})) == {"text/plain"} and NOISE.search(plain if isinstance(plain, str) else "".join(plain)):
                continue
        kept.append(o)
    cell.outputs = kept


def _split_prose(md: str) -> tuple[str, str]:
    """(what the slide shows, what goes into the speaker notes) of a markdown cell."""
    shown, said = [], []
    for block in re.split(r"\n\s*\n", md):
        b = block.strip()
        structural = b.startswith(("#", "$$", "-", "*", "|", ">", "<", "![", "1.", "```")) or "$$" in b
        (said if not structural and len(b) > PROSE_TO_NOTES else shown).append(block)
    return "\n\n".join(shown), "\n\n".join(said)


def prepare(nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """Decide per cell what a projected slide shows (the notebook stays one source for lecture, lab and deck).

    Dropped: solutions, stored wrong answers, checks, the parameters and bookkeeping cells (imports,
    lh.start, record_metrics), exercise code, widget views, stderr and environment noise in outputs.
    A figure's code is hidden (the figure is the point); a long lesson cell shows its outline; long
    prose paragraphs become speaker notes, and every section slide gets notes.
    """
    nb.metadata.pop("widgets", None)
    cells, in_exercises = [], False
    for cell in nb.cells:
        tags = set(cell.metadata.get("tags", []))
        if tags & DROP_TAGS or cell.cell_type == "raw":
            continue
        if cell.metadata.get("slideshow", {}).get("slide_type") == "skip":
            continue
        if cell.cell_type == "markdown":
            if re.match(r"#{1,3} ", cell.source.strip()):
                in_exercises = cell.source.strip().lstrip("#").strip().lower().startswith("exercise")
            shown, said = _split_prose(cell.source)
            cell.source = shown or cell.source.split("\n\n")[0]
            cells.append(cell)
            if said:
                cells.append(nbformat.v4.new_markdown_cell(said, metadata={"slideshow": {"slide_type": "notes"}}))
            continue
        if in_exercises or BOOKKEEPING.search(cell.source) or _is_imports(cell.source):
            continue
        cell.source = "\n".join(ln for ln in cell.source.splitlines() if "NBVAL_CHECK_OUTPUT" not in ln)
        cell.source = re.sub(r"\s+# noqa[^\n]*", "", cell.source)
        _clean_outputs(cell)
        has_figure = any("image/png" in o.get("data", {}) for o in cell.outputs)
        n_lines = len(cell.source.splitlines())
        if has_figure and n_lines > 4:
            cell.metadata["transient"] = {"remove_source": True}
        elif "export" in tags and n_lines > MAX_CODE_LINES:
            cell.source = _outline(cell.source)
        elif "export" not in tags and n_lines > MAX_OTHER_LINES:
            if not cell.outputs:
                continue
            cell.metadata["transient"] = {"remove_source": True}
        if not cell.source.strip() and not cell.outputs:
            continue
        names = CLAIM.findall(cell.source)
        if names and cell.outputs:  # a results slide: the claim's numbers and the figure or table that carries it
            title = "; ".join(n.replace("_", " ").capitalize() for n in names)
            cells.append(nbformat.v4.new_markdown_cell(f"### Result: {title}",
                                                       metadata={"slideshow": {"slide_type": "subslide"}}))
            cell.metadata["slideshow"] = {"slide_type": "-"}
        cells.append(cell)
    nb.cells = _notes_on_every_section(cells)
    return nb


def _notes_on_every_section(cells: list) -> list:
    """A section slide (a `##` heading) without speaker notes gets notes: the section's first prose."""
    out = []
    for i, cell in enumerate(cells):
        out.append(cell)
        if cell.cell_type == "markdown" and re.match(r"## ", cell.source.strip()):
            rest = cells[i + 1:]
            nxt = next((c for c in rest if c.metadata.get("slideshow", {}).get("slide_type") in ("slide", "subslide")), None)
            upto = rest[: rest.index(nxt)] if nxt is not None else rest
            if not any(c.metadata.get("slideshow", {}).get("slide_type") == "notes" for c in upto):
                title = cell.source.strip().splitlines()[0].lstrip("#").strip()
                texts = ["\n".join(cell.source.strip().splitlines()[1:])] + [c.source for c in upto if c.cell_type == "markdown"]
                prose = next((t for t in (re.sub(r"^#.*$|\$\$.*?\$\$", "", x, flags=re.M | re.S).strip() for x in texts) if t), "")
                first = re.split(r"(?<=[.!?])\s", prose, maxsplit=1)[0][:300] if prose else ""
                out.append(nbformat.v4.new_markdown_cell(f"{title}. {first}".strip(),
                                                         metadata={"slideshow": {"slide_type": "notes"}}))
    return out


def exporter():
    from jinja2 import DictLoader
    from nbconvert import SlidesExporter

    return SlidesExporter(extra_loaders=[DictLoader({"offline_reveal.html.j2": OFFLINE_TEMPLATE})],
                          template_file="offline_reveal.html.j2", reveal_scroll=RISE_METADATA["scroll"],
                          reveal_number=RISE_METADATA["slideNumber"], reveal_theme=RISE_METADATA["theme"],
                          reveal_transition=RISE_METADATA["transition"], **URLS)


def set_rise_metadata(paths: list[Path]) -> None:
    """Give each notebook the notebook-level `rise` settings (kept by tools/nbtool.py clean)."""
    for path in paths:
        nb = nbformat.read(path, as_version=4)
        if nb.metadata.get("rise") != RISE_METADATA:
            nb.metadata["rise"] = dict(RISE_METADATA)
            nbformat.write(nb, path)
            print(f"{path}: rise metadata set")


def build_one(nb: Path, source: Path | None = None, out_dir: Path = SLIDES) -> Path:
    """Write out_dir/<notebook>.slides.html from `source` (default: the freshest executed copy, else `nb`)."""
    source = source or executed_copy(nb) or nb
    notebook = prepare(nbformat.read(source, as_version=4))
    html, _ = exporter().from_notebook_node(notebook, resources={"metadata": {"name": nb.stem, "path": str(nb.parent)}})
    html = re.sub(r'(<img\b[^>]*?\bsrc=")([^"]+)(")', lambda m: inline_image(m, nb.parent), html)
    out = out_dir / f"{nb.stem}.slides.html"
    out.write_text(html, encoding="utf-8")
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("notebooks", nargs="*", type=Path)
    ap.add_argument("--execute-missing", action="store_true",
                    help="run notebooks without a fresh executed copy in quick mode first (to show figures)")
    ap.add_argument("--jobs", type=int, default=min(4, os.cpu_count() or 1), help="parallel quick runs")
    ap.add_argument("--set-rise-metadata", action="store_true",
                    help="only write the notebook-level `rise` settings for live slides into the notebooks")
    args = ap.parse_args(argv)
    notebooks = [p.resolve() for p in args.notebooks] or sorted((ROOT / "notebooks").glob(NOTEBOOK_GLOB))
    if args.set_rise_metadata:
        set_rise_metadata(notebooks)
        return 0
    if not notebooks:
        print("build_slides: no notebooks/NN_*.ipynb to build")
        return 0
    SLIDES.mkdir(parents=True, exist_ok=True)
    install_vendor()
    failed = 0
    if args.execute_missing:
        stale = [nb for nb in notebooks if executed_copy(nb) is None]
        with ThreadPoolExecutor(max(1, args.jobs)) as pool:
            failed = sum(out is None for out in pool.map(execute_quick, stale))
    for nb in notebooks:
        source = executed_copy(nb)
        out = build_one(nb, source)
        print(f"{out.relative_to(ROOT) if out.is_relative_to(ROOT) else out}  "
              f"(from {'executed copy' if source else 'notebook as stored, no outputs'})")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
