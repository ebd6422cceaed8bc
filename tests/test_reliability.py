"""Concurrent writers, killed runs and parameters passed as strings (papermill -p) behave."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import nbformat
import pytest
import torch
from nbformat.v4 import new_code_cell, new_notebook

import labhelpers as lh
from labhelpers import config

ROOT = Path(__file__).resolve().parent.parent


def test_concurrent_metrics_writers_never_corrupt_the_file(tmp_path):
    script = tmp_path / "writer.py"
    script.write_text(textwrap.dedent(f"""
        import sys
        from labhelpers import config, lecture
        from pathlib import Path
        config.BUILD_DIR = Path({str(tmp_path)!r})
        lecture._recorded.add("99_c")
        for i in range(60):
            lecture.record_metrics("99_c", {{f"w{{sys.argv[1]}}_{{i}}": i}})
    """))
    procs = [subprocess.Popen([sys.executable, str(script), str(k)], stderr=subprocess.PIPE, text=True) for k in range(3)]
    errs = [p.communicate(timeout=120)[1] for p in procs]
    assert all(p.returncode == 0 for p in procs), errs
    got = json.loads((tmp_path / "metrics" / "99_c.json").read_text())
    assert all(f"w{k}_59" in got for k in range(3))  # the lock keeps every writer's keys (no lost update)
    assert not list((tmp_path / "metrics").glob(".*.tmp"))


def test_concurrent_run_summaries_keep_every_notebook(tmp_path):
    script = tmp_path / "summ.py"
    script.write_text(textwrap.dedent(f"""
        import importlib.util, sys
        from pathlib import Path
        spec = importlib.util.spec_from_file_location("rn", {str(ROOT / "tools" / "run_notebooks.py")!r})
        rn = importlib.util.module_from_spec(spec); spec.loader.exec_module(rn)
        rn.BUILD = Path({str(tmp_path)!r})
        for i in range(25):
            rn.write_summary([{{"notebook": f"{{sys.argv[1]}}_{{i}}", "ok": True, "wall_s": 1, "peak_rss_mib": 1}}], "full", [])
    """))
    procs = [subprocess.Popen([sys.executable, str(script), f"n{k}"], stderr=subprocess.PIPE, text=True) for k in range(3)]
    errs = [p.communicate(timeout=120)[1] for p in procs]
    assert all(p.returncode == 0 for p in procs), errs
    rows = json.loads((tmp_path / "run_summary_full.json").read_text())
    assert len(rows) == 75


def _children(pid: int) -> list[int]:
    import psutil

    try:
        return [c.pid for c in psutil.Process(pid).children(recursive=True)]
    except psutil.NoSuchProcess:
        return []


def test_sigterm_to_the_runner_stops_papermill_and_its_kernel(tmp_path):
    import psutil

    nb = new_notebook(cells=[new_code_cell("import time\nprint('started', flush=True)\ntime.sleep(120)")])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    path = tmp_path / "96_sleep.ipynb"
    nbformat.write(nb, path)
    build = tmp_path / "build"
    runner = subprocess.Popen([sys.executable, str(ROOT / "tools" / "run_notebooks.py"), "--quick", "--no-html", str(path)],
                              env={**os.environ, "LAB_BUILD_DIR": str(build)}, stdout=subprocess.PIPE, text=True)
    deadline = time.time() + 90
    while time.time() < deadline and len(_children(runner.pid)) < 2:  # papermill and its kernel
        time.sleep(0.5)
    kids = _children(runner.pid)
    assert len(kids) >= 2, "papermill and its kernel did not start"
    time.sleep(3)
    runner.send_signal(signal.SIGTERM)
    runner.wait(timeout=30)
    time.sleep(3)
    alive = [k for k in kids if psutil.pid_exists(k) and psutil.Process(k).status() != psutil.STATUS_ZOMBIE]
    assert not alive, f"left running after SIGTERM: {alive}"
    assert not (build / "executed" / "quick" / "96_sleep.ipynb").exists()
    assert not list((build / "executed" / "quick").glob(".*.partial"))


@pytest.mark.parametrize("text, expected", [("false", False), ("False", False), ("0", False), ("no", False),
                                            ("true", True), ("1", True), ("yes", True), (True, True), (None, None)])
def test_papermill_strings_for_quick_are_read_right(text, expected):
    assert config.parse_bool(text, "quick") is expected


def test_start_validates_and_records_the_run(tmp_path, monkeypatch):
    monkeypatch.setattr(config, "BUILD_DIR", tmp_path)
    monkeypatch.setattr(config, "METRICS_DIR", None)
    monkeypatch.setattr(config, "QUICK", True)
    quick, device, gen = lh.start("99_s", quick="false", seed="3", device="cpu", dataset="mnist", lr=1e-3)
    assert quick is False and device == torch.device("cpu") and isinstance(gen, torch.Generator)
    got = json.loads((tmp_path / "metrics" / "99_s.json").read_text())
    assert got["mode"] == "full" and got["provenance"]["parameters"]["seed"] == 3
    assert got["provenance"]["parameters"]["lr"] == 1e-3 and got["claims"] == {}
    lh.claim("seed_is_three", True, "seed = 3")
    got = json.loads((tmp_path / "metrics" / "99_s.json").read_text())
    assert got["claims"]["seed_is_three"]["holds"] is True and got["claims"]["seed_is_three"]["checked"] is True
    assert "full mode" not in lh.verdict("seed_is_three", "yes", "no") and lh.verdict("seed_is_three", "yes", "no") == "yes"
    lh.start("99_s", quick=True)  # a new run starts with no claims
    got = json.loads((tmp_path / "metrics" / "99_s.json").read_text())
    assert got["claims"] == {} and got["mode"] == "quick"
    lh.claim("x", False, "x = 0")
    assert "quick mode" in lh.verdict("x", "a", "b")


def test_lab_offline_spellings(monkeypatch):
    for text in ("1", "true", "TRUE", "yes", "on"):
        out = subprocess.run([sys.executable, "-c", "from labhelpers import data; print(data.OFFLINE)"],
                             env={**os.environ, "LAB_OFFLINE": text}, capture_output=True, text=True)
        assert out.stdout.strip() == "True", (text, out.stderr)


def test_a_dead_mirror_is_tried_once_per_process(tmp_path, monkeypatch):
    import socket

    from labhelpers import data

    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(0)  # accepts nothing: connections hang until the timeout
    port = sock.getsockname()[1]
    monkeypatch.setattr(data, "TIMEOUT_S", 0.5)
    monkeypatch.setattr(data, "_failed_mirrors", set())
    spec = data.FileSpec("a.gz", md5="0" * 32)
    mirror = f"http://127.0.0.1:{port}/"
    t0 = time.perf_counter()
    with pytest.raises(OSError):
        data.download(spec, (mirror,), tmp_path)
    first = time.perf_counter() - t0
    t0 = time.perf_counter()
    with pytest.raises(OSError, match="failed earlier"):
        data.download(data.FileSpec("b.gz", md5="0" * 32), (mirror,), tmp_path)
    assert time.perf_counter() - t0 < first / 2 + 0.05
    # another process (a fresh set of failed mirrors) also skips it for a while, instead of waiting again
    monkeypatch.setattr(data, "_failed_mirrors", set())
    t0 = time.perf_counter()
    with pytest.raises(OSError, match="failed earlier"):
        data.download(data.FileSpec("c.gz", md5="0" * 32), (mirror,), tmp_path)
    assert time.perf_counter() - t0 < first / 2 + 0.05
    monkeypatch.setattr(data, "DATA_DIR", tmp_path.parent)
    monkeypatch.setattr(data, "DATASETS", {"toy": data.DatasetSpec(tmp_path.name, "idx", {}, (mirror,), "")})
    data.forget_failed_mirrors()  # what `make data` does first
    assert not (tmp_path / ".unreachable-mirrors.json").exists()
    sock.close()


def test_damaged_files_get_advice_that_restores_them(tmp_path, monkeypatch):
    from labhelpers import data

    sample = data.DATASETS["mnist"].sample["test"][0]
    bad = tmp_path / "t10k-images-idx3-ubyte.gz"
    bad.write_bytes(b"\x1f\x8bnot really")
    monkeypatch.setattr(data, "_verified", set())
    with pytest.raises(data.ChecksumError, match="git checkout"):
        data.verify(bad, sample, "it is tracked in git: restore it with `git checkout -- data/mnist-sample/x`")
    assert all(f.file_sha256 for files in data.DATASETS["mnist"].files.values() for f in files)
    assert all(f.file_sha256 for files in data.DATASETS["svhn"].files.values() for f in files)
    assert all(m.startswith("https://") for spec in data.DATASETS.values() for m in spec.mirrors)


def test_killed_checkpoint_saves_leave_no_temp_files(tmp_path):
    path = tmp_path / "m.pt"
    stale = tmp_path / ".m.pt.999999.abcd.tmp"  # a save whose writer (pid 999999) was killed
    stale.write_bytes(b"x" * 1000)
    lh.save_checkpoint({"w": torch.zeros(2)}, path)
    assert not stale.exists() and path.exists()


def test_labhelpers_imports_form_no_circle():
    """The hand-written layer is a stack, config at the bottom: no module imports one that imports it back, not
    even inside a function (the import graph, read from every module's source, has no cycle)."""
    import ast
    from pathlib import Path

    package = Path(lh.__file__).parent
    graph = {}
    for path in package.glob("*.py"):
        deps = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.level == 1:
                deps |= {node.module} if node.module else {a.name for a in node.names}
            elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("labhelpers."):
                deps.add(node.module.split(".")[1])
            elif isinstance(node, ast.ImportFrom) and node.module == "labhelpers":
                deps |= {a.name for a in node.names if (package / f"{a.name}.py").exists()}
        graph[path.stem] = {d.split(".")[0] for d in deps if (package / f"{d.split('.')[0]}.py").exists()} - {path.stem}
    graph.pop("__init__")
    assert not graph["config"], f"config must import no other labhelpers module, imports {graph['config']}"

    def cycle_from(node, stack):
        for dep in sorted(graph.get(node, ())):
            if dep in stack:
                return stack[stack.index(dep):] + [dep]
            found = cycle_from(dep, stack + [dep])
            if found:
                return found
        return None

    for module in sorted(graph):
        found = cycle_from(module, [module])
        assert not found, "import circle: " + " -> ".join(found)
