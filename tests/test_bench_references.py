"""Part 5 of the benchmarks (bench/reference_models.py): every side-by-side comparison end to end on a few hundred
synthetic images with budgets of a fraction of a CPU-second; the rows must be well-formed. No timing or quality
assertions. A comparison whose optional library (the `bench` extra) is missing is skipped, saying which."""

import json
import math
import sys
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench import reference_models as rm  # noqa: E402
from bench import run_all  # noqa: E402

N_TRAIN, N_TEST = 256, 64


def synthetic_load(split):
    """What labhelpers.data.load returns (x in [0, 1] of shape (N, 1, 28, 28), labels), made up."""
    g = torch.Generator().manual_seed(0 if split == "train" else 1)
    n = N_TRAIN if split == "train" else N_TEST
    return torch.rand(n, 1, 28, 28, generator=g), torch.randint(0, 10, (n,), generator=g)


def tiny_settings(*comparisons):
    return rm.Settings(budgets_cpu_s=(0.05,), n_samples=20, hf_samples=10, sample_steps=2, batch_size=16,
                       judge_epochs=1, tiny_models=True, comparisons=comparisons)


def _need(comparison):
    missing = rm.missing_libraries(rm.LIBRARIES[comparison])
    if missing:
        pytest.skip(f"{comparison}: optional libraries not installed: {', '.join(missing)} "
                    "(pip install -e '.[bench]')")


def _check(results, comparison):
    comp = results["comparisons"][comparison]
    metric = comp["metric"]
    assert list(comp["runs"]) == ["0.05"]
    for side in ("course", "reference"):
        r = comp["runs"]["0.05"][side]
        assert r["steps"] >= 1 and r["params"] > 1000, (side, r)
        assert r["cpu_s"] > 0 and r["steps_per_cpu_s"] > 0
        assert math.isfinite(r[metric]) and r[metric] > 0, (side, metric, r[metric])
        if metric == "fid":
            assert 0 <= r["confident_share"] <= 1 and r["n_samples"] in (10, 20)
        assert "samples" not in r, "tensors must not reach results.json"
    rows = rm.summary_rows(results)
    assert len(rows) == 2 and all(len(row) == len(run_all.MAIN_HEADER) for row in rows)
    assert rows[0][-1] in ("ahead", "behind") and float(rows[0][3]) > 0
    assert "per step" in rows[1][3]
    assert all(len(row) == len(rm.DETAILS_HEADER) for row in rm.details_table(results))
    json.dumps(results)  # what run_all writes to build/bench/results_references.json


@pytest.mark.parametrize("comparison", ["diffusion", "flow_matching", "flow", "pixelcnn"])
def test_comparison_end_to_end(comparison):
    _need(comparison)
    results = rm.run_references(synthetic_load, tiny_settings(comparison), log=lambda _: None)
    assert results["settings"]["n_train"] == N_TRAIN and results["settings"]["n_test"] == N_TEST
    _check(results, comparison)
    if comparison in ("diffusion", "flow_matching"):
        assert set(results["judge"]) >= {"accuracy", "fid_floor", "real_confident_share"}


def test_hf_mnist_row_reuses_the_course_run_and_scores_equal_sample_counts():
    _need("diffusion_hf_mnist")
    results = rm.run_references(synthetic_load, tiny_settings("diffusion", "diffusion_hf_mnist"),
                                log=lambda _: None)
    _check({"comparisons": {"diffusion_hf_mnist": results["comparisons"]["diffusion_hf_mnist"]}},
           "diffusion_hf_mnist")
    hf = results["comparisons"]["diffusion_hf_mnist"]["runs"]["0.05"]
    course = results["comparisons"]["diffusion"]["runs"]["0.05"]["course"]
    assert hf["course"]["steps"] == course["steps"], "the HF row reuses the course's diffusion run"
    assert hf["course"]["n_samples"] == hf["reference"]["n_samples"] == 10


def test_matched_parameter_counts():
    from labhelpers.diffusion import TinyUNet
    from labhelpers.flows import image_flow
    from labhelpers.pixelcnn import PixelCNN

    target = rm.n_params(PixelCNN(32, 5))
    assert abs(rm.n_params(rm.matched_gated_pixelcnn(target)[0]) - target) < 0.05 * target
    if not rm.missing_libraries(["diffusers"]):
        target = rm.n_params(TinyUNet((16, 32)))
        assert abs(rm.n_params(rm.diffusers_unet_matched(target)[0]) - target) < 0.1 * target
    if not rm.missing_libraries(["normflows"]):
        target = rm.n_params(image_flow(64, 4))
        assert abs(rm.n_params(rm.matched_glow(target)[0]) - target) < 0.05 * target


def test_gated_pixelcnn_is_causal():
    torch.manual_seed(0)
    model = rm.GatedPixelCNN(8)
    x = torch.rand(1, 1, 28, 28, requires_grad=True)
    i, j = 14, 10
    model(x)[0, 0, i, j].backward()
    seen = x.grad[0, 0] != 0
    assert not seen[i, j:].any() and not seen[i + 1:].any(), "output (i, j) must not see pixel (i, j) or later ones"
    assert seen[i - 1, j] and seen[i, j - 1]


def test_cpu_budget_loop_and_cosine_schedule():
    w = torch.nn.Parameter(torch.ones(3))
    opt = torch.optim.SGD([w], lr=0.1)
    r = rm.train_for_cpu_budget([w], lambda: (w ** 2).sum(), opt, budget_s=0.02, cosine=True, min_steps=3)
    assert r["steps"] >= 3 and r["cpu_s"] >= 0.02 and opt.param_groups[0]["lr"] < 0.1
    r = rm.train_for_cpu_budget([w], lambda: w.sum() * float("nan"), opt, budget_s=0.0, min_steps=2)
    assert r["steps"] == 2  # a non-finite loss skips the update instead of stopping the run


def test_results_section_is_replaced_not_appended_twice():
    results = {"machine": {"cpu": "x"}, "caveats": [], "argv": [],
               "references": {"settings": {"budgets_cpu_s": [1.0], "threads": 1, "n_train": 1, "n_test": 1,
                                           "n_samples": 1, "hf_samples": 1, "sample_steps": 1, "judge_epochs": 1},
                              "comparisons": {}, "skipped": {"flow": "not installed: normflows"}}}
    section = run_all.references_markdown(results, standalone=True)
    once = run_all.merge_references("# Benchmark results\n\n## Machine\n", section)
    twice = run_all.merge_references(once, section)
    assert once == twice and once.count(run_all.REF_START) == 1 and "## Machine" in once
    assert "not installed: normflows" in once


def test_flow_matching_without_labels_diagnostic():
    _need("flow_matching")
    s = tiny_settings("flow_matching")
    s.fm_conditional = False
    results = rm.run_references(synthetic_load, s, log=lambda _: None)
    _check(results, "flow_matching")
    assert results["settings"]["fm_conditional"] is False
    assert results["comparisons"]["flow_matching"]["runs"]["0.05"]["reference"]["config"]["conditional"] is False


def _check_latent(results, with_library):
    comp = results["comparisons"]["latent_diffusion"]
    r = comp["runs"]["0.05"]
    assert ("library" in r) == with_library and "library_skipped" not in r
    for side in ("course", "reference") + (("library",) if with_library else ()):
        v = r[side]
        assert v["steps"] >= 1 and v["params"] > 1000 and v["cpu_s"] > 0 and v["steps_per_cpu_s"] > 0, (side, v)
        assert math.isfinite(v["fid"]) and v["fid"] > 0 and 0 <= v["confident_share"] <= 1
        assert v["n_samples"] == 20 and v["sample_cpu_s"] >= 0 and v["flow_steps_per_cpu_s"] > 0
        assert "samples" not in v
    latent = r["course"]
    assert latent["steps"] == latent["ae_steps"] + latent["flow_steps"] and latent["flow_steps"] >= 1
    assert latent["params"] == latent["ae_params"] + latent["flow_params"] and latent["latent_scale"] > 0
    rows = rm.summary_rows(results)
    assert len(rows) == (3 if with_library else 2) and all(len(row) == len(run_all.MAIN_HEADER) for row in rows)
    assert rows[0][1].startswith("course latent ") and "AE " in rows[0][1] and rows[0][2].startswith("course pixel ")
    assert math.isclose(float(rows[0][3]), latent["fid"] / r["reference"]["fid"], rel_tol=0.01, abs_tol=0.006)
    assert rows[0][-1] in ("ahead", "behind") and "per step" in rows[-1][3]
    assert len(rm.details_table(results)) == len(rows) and all(
        len(row) == len(rm.DETAILS_HEADER) for row in rm.details_table(results))
    assert [line.split(":")[0] for line in rm.caveat_lines(results)] == [comp["title"]]
    json.dumps(results)


def latent_settings():
    s = tiny_settings("latent_diffusion")
    s.latent_sample_steps = 2
    return s


def test_latent_diffusion_row():
    """Lecture 11's latent flow against the pixel flow (and torchcfm's matcher in latent space when installed)."""
    results = rm.run_references(synthetic_load, latent_settings(), log=lambda _: None)
    assert set(results["judge"]) >= {"accuracy", "fid_floor", "real_confident_share"}
    assert results["settings"]["latent_sample_steps"] == 2
    _check_latent(results, with_library=not rm.missing_libraries(["torchcfm"]))
    section = run_all.references_markdown({"references": results, "machine": {"cpu": "x"}, "caveats": [],
                                           "argv": []}, standalone=True)
    assert "- latent flow (11) vs pixel flow (09), 28x28: Course against course" in section
    assert "the latent-vs-pixel row: 2 Euler calls" in section


def test_latent_diffusion_row_without_torchcfm_says_so(monkeypatch):
    real = rm.missing_libraries
    monkeypatch.setattr(rm, "missing_libraries", lambda names: ["torchcfm"] if "torchcfm" in names else real(names))
    lines = []
    results = rm.run_references(synthetic_load, latent_settings(), log=lines.append)
    _check_latent(results, with_library=False)
    why = results["skipped"]["latent_diffusion (torchcfm CFM latent side)"]
    assert "not installed: torchcfm" in why and any("skipped" in line and "torchcfm" in line for line in lines)
    assert "latent_diffusion" in results["comparisons"], "the course-vs-course row still runs"
