"""Smoke test of the benchmark code paths (bench/) on a few hundred synthetic images; no timing assertions."""

import json
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench import data_bench, notebook_bench, run_all, vae_bench  # noqa: E402
from bench.timing import best_of, best_of_pair, machine  # noqa: E402
from labhelpers.data import read_idx  # noqa: E402

N_TRAIN, N_TEST = 300, 100


@pytest.fixture(scope="module")
def tv_root(tmp_path_factory):
    """Synthetic 28x28 images written as IDX files where torchvision's FashionMNIST looks for them."""
    root = tmp_path_factory.mktemp("tv")
    raw = root / "FashionMNIST" / "raw"
    raw.mkdir(parents=True)
    rng = np.random.default_rng(0)
    for prefix, n in (("train", N_TRAIN), ("t10k", N_TEST)):
        data_bench.write_idx(raw / f"{prefix}-images-idx3-ubyte", rng.integers(0, 256, (n, 28, 28)))
        data_bench.write_idx(raw / f"{prefix}-labels-idx1-ubyte", rng.integers(0, 10, n))
    return root


def load_fn(root, split="train"):
    """What labhelpers.data.load returns, decoded from the same synthetic files."""
    prefix = "train" if split == "train" else "t10k"
    raw = root / "FashionMNIST" / "raw"
    x = torch.from_numpy(read_idx(raw / f"{prefix}-images-idx3-ubyte")).unsqueeze(1).float().div_(255)
    y = torch.from_numpy(read_idx(raw / f"{prefix}-labels-idx1-ubyte").astype(np.int64))
    return x, y


def _positive(v):
    return isinstance(v, float) and v > 0 and np.isfinite(v)


def test_best_of_keeps_the_minimum_and_rejects_zero_repeats():
    best, times, result = best_of(lambda: 7, repeats=3)
    assert result == 7 and len(times) == 3 and best == min(times)
    (a, ta), (b, tb) = best_of_pair(lambda: 1, lambda: 2, repeats=2)
    assert len(ta) == len(tb) == 2 and a == min(ta) and b == min(tb)
    with pytest.raises(ValueError, match="repeats"):
        best_of(lambda: 0, repeats=0)


def test_machine_description_names_cpu_and_versions():
    m = machine()
    for key in ("date", "cpu", "cores", "ram_gib", "python", "torch", "torchvision"):
        assert key in m, f"machine() lacks {key!r}"
    assert m["torch"] == torch.__version__


def test_data_epoch_benchmark(tv_root):
    r = data_bench.bench_data_epoch(lambda: load_fn(tv_root), tv_root, batch_size=64, repeats=2)
    assert r["n_images"] == N_TRAIN and r["batch_size"] == 64
    for key in ("labhelpers_epoch_s", "torchvision_epoch_s", "epoch_ratio", "load_plus_epoch_ratio"):
        assert _positive(r[key]), f"{key} = {r[key]!r} is not a positive number"
    assert len(r["all_times_s"]["labhelpers_epoch"]) == 2


def test_data_epoch_benchmark_refuses_different_images(tv_root):
    x, y = load_fn(tv_root)
    with pytest.raises(RuntimeError, match="same images"):
        data_bench.bench_data_epoch(lambda: (x[:-1], y[:-1]), tv_root, repeats=1)


def test_vae_data_overhead_benchmark(tv_root):
    x, _ = load_fn(tv_root)
    r = data_bench.bench_vae_data_overhead(x, batch_size=128, repeats=1)
    assert r["n_images"] == N_TRAIN
    assert _positive(r["ratio"]) and _positive(r["presliced_epoch_s"])


def test_reference_vae_benchmark(tv_root):
    r = vae_bench.bench_vae_reference(lambda split: load_fn(tv_root, split),
                                      lambda train: data_bench.torchvision_dataset(tv_root, train), epochs=1)
    assert r["n_train"] == N_TRAIN and r["n_test"] == N_TEST and r["epochs"] == 1
    assert _positive(r["speedup"]) and _positive(r["reference_test_loss"]) and _positive(r["course_test_loss"])
    assert r["same_initial_weights"] is True, "the two VAEs must start from the same weights"
    assert len(r["reference_history"]["test"]) == len(r["course_history"]["test"]) == 1
    assert len(r["course_history"]["epoch_s"]) == len(r["reference_history"]["epoch_s"]) == 1
    assert r["course_total_s"] >= r["course_history"]["epoch_s"][0] > 0
    # one epoch on 300 random images: both losses are a BCE of ~784 * ln 2 nats per image or so
    assert 200 < r["reference_test_loss"] < 1000 and 200 < r["course_test_loss"] < 1000


def test_notebook_budgets_and_quality_rows():
    rows = [{"notebook": "01_a", "ok": True, "wall_s": 12.0, "peak_rss_mib": 900,
             "metrics": {"acc": 0.91, "loss": 0.3, "headline": ["acc"], "mode": "quick"}},
            {"notebook": "02_b", "ok": True, "wall_s": 45.0, "peak_rss_mib": 900, "metrics": {}},
            {"notebook": "03_c", "ok": False, "wall_s": 5.0, "peak_rss_mib": 100, "metrics": {}}]
    b = notebook_bench.budget_rows(rows, "quick")
    assert [r["within_budget"] for r in b] == [True, False, False]  # 45 s > 30 s; a failed run misses
    q = notebook_bench.quality_rows({"quick": rows})
    assert q[0]["headline"] == {"acc": 0.91} and q[1]["headline"] == {}
    with pytest.raises(ValueError, match="quick"):
        notebook_bench.run_notebooks("slow", [])
    with pytest.raises(ValueError, match="unknown notebook"):
        notebook_bench.notebook_paths(["99_does_not_exist"])


def test_summary_table_and_results_markdown(tv_root):
    d = {"epoch": data_bench.bench_data_epoch(lambda: load_fn(tv_root), tv_root, repeats=1),
         "vae_epoch": data_bench.bench_vae_data_overhead(load_fn(tv_root)[0], repeats=1)}
    budgets = notebook_bench.budget_rows([{"notebook": "01_a", "ok": True, "wall_s": 12.0, "peak_rss_mib": 900}],
                                         "quick")
    results = {"machine": machine(), "data": d, "budgets": budgets,
               "quality": [{"notebook": "01_a", "mode": "quick", "headline": {"acc": 0.9}}]}
    rows = run_all.summary_rows(results)
    assert len(rows) == 4 and all(len(r) == len(run_all.MAIN_HEADER) for r in rows)
    assert rows[0][-1] in ("ok", "MISS") and rows[-1][-1] == "ok"
    md = run_all.results_markdown(results, [])
    assert "## Machine" in md and "acc=0.9" in md and md.count("| 3. 01_a (quick) |") == 1
    json.dumps(results, default=str)  # what run_all writes to build/bench/results.json
