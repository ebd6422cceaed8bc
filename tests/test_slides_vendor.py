"""The slides' JavaScript cache is verified on every build: a tampered tarball is never unpacked."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tools"))


def _build_slides(monkeypatch, cache: Path):
    spec = importlib.util.spec_from_file_location("build_slides_under_test", ROOT / "tools" / "build_slides.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    monkeypatch.setattr(mod, "CACHE", cache)
    monkeypatch.setattr(mod, "REGISTRY", "http://127.0.0.1:9")  # nothing listens: no download can succeed
    return mod


def test_a_tampered_cached_tarball_is_refused(tmp_path, monkeypatch):
    bs = _build_slides(monkeypatch, tmp_path)
    version = bs.PACKAGES["jquery"][0]
    bad = tmp_path / f"jquery-{version}.tgz"
    bad.write_bytes(b"not the published tarball")
    with pytest.raises(SystemExit, match="checked against its sha512"):
        bs.fetch("jquery")
    assert not bad.exists()  # removed, never unpacked


def test_unpacked_files_are_compared_with_the_verified_tarball(tmp_path, monkeypatch):
    real_cache = ROOT / "build" / "vendor"
    tarballs = list(real_cache.glob("jquery-*.tgz"))
    if not tarballs:
        pytest.skip("no cached jquery tarball (make slides has not run here yet)")
    bs = _build_slides(monkeypatch, real_cache)
    dest = tmp_path / "vendor"
    bs.install_vendor(dest)
    target = dest / "jquery" / "dist" / "jquery.min.js"
    assert bs._unpacked_matches(bs.fetch("jquery"), dest / "jquery", bs.PACKAGES["jquery"][2])
    target.write_text("alert('tampered')")
    assert not bs._unpacked_matches(bs.fetch("jquery"), dest / "jquery", bs.PACKAGES["jquery"][2])
    bs.install_vendor(dest)  # a later build restores the verified file
    assert "tampered" not in target.read_text()
