"""Bad input to the public hand-written helpers: a clear error naming the parameter, never a silent result.

Each case is (id, call, the word the message must contain). A case is
- clear:   a labhelpers error whose message names the parameter (or the value) and the fix,
- unclear: an error raised by labhelpers whose message lacks that word,
- deep:    an error raised inside torch/numpy/matplotlib rather than by labhelpers,
- silent:  no error at all (a wrong result).
`test_bad_input_table` requires every case to be clear and prints the counts.
"""

from __future__ import annotations

import traceback
from pathlib import Path

import pytest
import torch

import labhelpers as lh
from labhelpers import config, data, lecture, plotting, training, widgets

X = torch.rand(8, 1, 28, 28)
Y = torch.randint(0, 10, (8,))
PROGRESS = training.progress            # the real one (the fixture below silences it for the other cases)
MODEL = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(784, 10))


def _loss(model, x, y=None):
    return model(x).pow(2).mean()


def _cases(tmp: Path):
    c = []
    add = c.append
    # --- data.load / batches -------------------------------------------------------------------
    add(("load-name", lambda: lh.load("cifar10"), "cifar10"))
    add(("load-name-case", lambda: lh.load("MNIST"), "MNIST"))
    add(("load-name-none", lambda: lh.load(None), "None"))
    add(("load-split", lambda: lh.load("mnist", "validation"), "split"))
    add(("load-split-int", lambda: lh.load("mnist", 1), "split"))
    for v in (-1, 0, 2.5, "100", True):
        add((f"load-limit-{v!r}", lambda v=v: lh.load("mnist", "test", limit=v), "limit"))
    add(("load-device-bogus", lambda: lh.load("mnist", "test", device="gpu0"), "device"))
    if not torch.cuda.is_available():
        add(("load-device-cuda", lambda: lh.load("mnist", "test", device="cuda"), "device"))
    for v in (0, -5, 2.0, "64", True, None):
        add((f"batches-batch_size-{v!r}", lambda v=v: list(lh.batches(X, batch_size=v)), "batch_size"))
    add(("batches-none", lambda: list(lh.batches()), "tensor"))
    add(("batches-lengths", lambda: list(lh.batches(X, Y[:3])), "first dimension"))
    add(("batches-list", lambda: list(lh.batches([1, 2, 3])), "tensors"))
    add(("find-name", lambda: data.find("cifar", "train"), "cifar"))
    add(("find-split", lambda: data.find("mnist", "val"), "split"))
    add(("available-name", lambda: data.available("cifar"), "cifar"))
    add(("load_outliers-dataset", lambda: data.load_outliers("cifar"), "cifar"))
    add(("half_size-shape", lambda: data.half_size(torch.rand(4, 1, 14, 14)), "28, 28"))
    add(("half_size-0..255", lambda: data.half_size(X * 255), "255"))
    for v in (0, -1, 5, "7"):
        add((f"shuffle_tiles-tile-{v!r}", lambda v=v: data.shuffle_tiles(X, v), "tile"))
    add(("shuffle_tiles-seed", lambda: data.shuffle_tiles(X, 7, "a"), "seed"))
    add(("read_idx-missing", lambda: data.read_idx(tmp / "nope.gz"), "nope.gz"))
    add(("verify-missing", lambda: data.verify(tmp / "nope.gz", data.DATASETS["mnist"].files["test"][0]), "nope.gz"))
    # --- training.fit / predict / devices / checkpoints -----------------------------------------
    for v in (0, -1, 2.5, "3", True, None):
        add((f"fit-num_epochs-{v!r}", lambda v=v: lh.fit(MODEL, _loss, X, num_epochs=v), "num_epochs"))
    for v in (0, -8, 1.5, "32", None):
        add((f"fit-batch_size-{v!r}", lambda v=v: lh.fit(MODEL, _loss, X, batch_size=v), "batch_size"))
    for v in (0, -1e-3, float("nan"), float("inf"), "1e-3", None):
        add((f"fit-lr-{v!r}", lambda v=v: lh.fit(MODEL, _loss, X, lr=v), "lr"))
    add(("fit-no-data", lambda: lh.fit(MODEL, _loss), "tensor"))
    add(("fit-model-not-module", lambda: lh.fit(lambda x: x, _loss, X), "model"))
    add(("fit-loss-not-callable", lambda: lh.fit(MODEL, 3.0, X), "loss_fn"))
    add(("fit-loss-not-scalar", lambda: lh.fit(MODEL, lambda m, x: m(x), X), "scalar"))
    add(("fit-loss-nan", lambda: lh.fit(MODEL, lambda m, x: m(x).mean() * float("nan"), X), "lr"))
    add(("fit-float64", lambda: lh.fit(MODEL, _loss, X.double()), "float64"))
    add(("fit-uint8", lambda: lh.fit(MODEL, _loss, (X * 255).to(torch.uint8)), "uint8"))
    for v in ("abc", -1, 2**32, 1.5, True, None):
        add((f"seed_everything-{v!r}", lambda v=v: lh.seed_everything(v), "seed"))
    add(("latent_scatter-negative-label", lambda: lh.latent_scatter(torch.rand(8, 2), torch.arange(8) - 1), "labels"))
    add(("fit-frozen-model", lambda: lh.fit(torch.nn.Flatten(), _loss, X), "trainable"))
    add(("predict-fn", lambda: lh.predict(3, X), "fn"))
    add(("predict-x-list", lambda: lh.predict(MODEL, [1, 2]), "x"))
    add(("predict-empty", lambda: lh.predict(MODEL, X[:0]), "empty"))
    for v in ("gpu", "cuda:x", 3, "tpu"):
        add((f"get_device-{v!r}", lambda v=v: lh.get_device(v), "device"))
    if not torch.cuda.is_available():
        add(("get_device-cuda", lambda: lh.get_device("cuda"), "CUDA"))
    add(("save_checkpoint-unpicklable", lambda: lh.save_checkpoint({"f": lambda: 1}, tmp / "c.pt"), "state_dict"))
    add(("model_fingerprint-model", lambda: training.model_fingerprint(3), "model"))
    add(("model_fingerprint-settings", lambda: training.model_fingerprint(MODEL, [1]), "settings"))
    add(("progress-int", lambda: list(PROGRESS(3)), "range"))
    add(("save-to-folder", lambda: lh.save_checkpoint({"w": torch.zeros(1)}, tmp), "folder"))
    add(("load-missing", lambda: lh.load_checkpoint(tmp / "nope.pt"), "train the model first"))
    (tmp / "junk.pt").write_bytes(b"not a checkpoint")
    add(("load-junk", lambda: lh.load_checkpoint(tmp / "junk.pt"), "junk.pt"))
    add(("train_or_load-settings", lambda: lh.train_or_load(MODEL, tmp / "m.pt", lambda: None, settings=[1]), "settings"))
    add(("train_or_load-train", lambda: lh.train_or_load(MODEL, tmp / "m.pt", None), "train"))
    add(("train_or_load-noop", lambda: lh.train_or_load(torch.nn.Linear(2, 2), tmp / "n.pt", lambda: None), "unchanged"))
    # --- config: modes, parameters, claims, metrics ------------------------------------------------
    for v in ("maybe", "2", 7, 0.5, [True]):
        add((f"use_quick-{v!r}", lambda v=v: lh.use_quick(v), "quick"))
    for v in ("maybe", 3, "ja"):
        add((f"start-quick-{v!r}", lambda v=v: lh.start("99_t", quick=v), "quick"))
    for v in (-1, 1.5, "one", None, True):
        add((f"start-seed-{v!r}", lambda v=v: lh.start("99_t", quick=True, seed=v), "seed"))
    for v in ("cifar", "Mnist", 3):
        add((f"start-dataset-{v!r}", lambda v=v: lh.start("99_t", quick=True, dataset=v), "dataset"))
    add(("start-device", lambda: lh.start("99_t", quick=True, device="gpu"), "device"))
    add(("start-notebook", lambda: lh.start("", quick=True), "notebook"))
    add(("start-param-nan", lambda: lh.start("99_t", quick=True, lr=float("nan")), "lr"))
    for name in ("", "has space", "a-b", None):
        add((f"claim-name-{name!r}", lambda name=name: lh.claim(name, True, "x = 1"), "claim name"))
    for ev in ("", "   ", None, 3.0):
        add((f"claim-evidence-{ev!r}", lambda ev=ev: lh.claim("ok_name", True, ev), "evidence"))
    for h in ("yes", None, 0.5, [True]):
        add((f"claim-holds-{h!r}", lambda h=h: lh.claim("ok_name", h, "x = 1"), "holds"))
    add(("verdict-unknown", lambda: lh.verdict("never_claimed_xyz", "a", "b"), "never_claimed_xyz"))
    for v in (float("nan"), float("inf"), -float("inf"), torch.tensor(float("nan"))):
        add((f"record_metrics-{v!r}", lambda v=v: lh.record_metrics("99_t", {"acc": v}), "acc"))
    add(("record_metrics-object", lambda: lh.record_metrics("99_t", {"model": MODEL}), "model"))
    add(("record_metrics-nested-nan", lambda: lh.record_metrics("99_t", {"curve": [0.1, float("nan")]}), "curve"))
    add(("write_json_atomic-nan", lambda: config.write_json_atomic(tmp / "a.json", {"a": float("nan")}), "a.json"))
    add(("write_json_atomic-object", lambda: config.write_json_atomic(tmp / "a.json", {"a": object()}), "a.json"))
    add(("measured-run-list", lambda: lh.measured([1], "k", ".2f", "07_x"), "run"))
    add(("metrics_of-dataset", lambda: lh.metrics_of("07_autoregressive", "cifar"), "dataset"))
    add(("safe_name-folder", lambda: config.safe_name("a/b", "name"), "plain name"))
    add(("checkpoint_path-dots", lambda: lh.checkpoint_path("../x"), "plain name"))
    add(("locked-int", lambda: config.locked(3).__enter__(), "path"))
    add(("parse_bool-env", lambda: config.parse_bool("perhaps", "LAB_OFFLINE"), "LAB_OFFLINE"))
    # --- plotting -----------------------------------------------------------------------------------
    for name, x in (("0..255", X * 255), ("nan", X * float("nan")), ("neg", X - 5), ("empty", X[:0]),
                    ("2d", X[0, 0]), ("5d", X[None]), ("channels", torch.rand(2, 4, 8, 8)), ("list", [X]),
                    ("numpy", X.numpy())):
        add((f"show_images-{name}", lambda x=x: lh.show_images(x), "image" if name not in ("2d", "5d", "channels") else "shape"))
        add((f"compare_images-{name}", lambda x=x: lh.compare_images({"row": x}), "row"))
    for v in (0, -2, 1.5, "8", None):
        add((f"show_images-nrow-{v!r}", lambda v=v: lh.show_images(X, nrow=v), "nrow"))
        add((f"compare_images-n-{v!r}", lambda v=v: lh.compare_images({"a": X}, n=v), "n="))
    for v in (0, -1, "big"):
        add((f"show_images-scale-{v!r}", lambda v=v: lh.show_images(X, scale=v), "scale"))
    add(("show_images-row_labels", lambda: lh.show_images(X, nrow=4, row_labels=["a", "b", "c"]), "row_labels"))
    add(("describe_figure-not-a-figure", lambda: plotting.describe_figure(X), "Figure"))
    add(("compare_images-no-rows", lambda: lh.compare_images({}), "rows"))
    add(("compare_images-rows-list", lambda: lh.compare_images([X, X]), "rows"))
    add(("compare_images-shapes", lambda: lh.compare_images({"a": X, "b": torch.rand(8, 1, 14, 14)}), "shape"))
    for name, z in (("1d", torch.rand(10)), ("3cols", torch.rand(10, 3)), ("nan", torch.full((4, 2), float("nan"))),
                    ("list", [[0, 1]])):
        add((f"latent_scatter-{name}", lambda z=z: lh.latent_scatter(z), "codes" if name != "nan" else "NaN"))
    add(("latent_scatter-labels-float", lambda: lh.latent_scatter(torch.rand(8, 2), torch.rand(8)), "labels"))
    add(("latent_scatter-labels-len", lambda: lh.latent_scatter(torch.rand(8, 2), Y[:3]), "labels"))
    add(("latent_scatter-class_names", lambda: lh.latent_scatter(torch.rand(8, 2), torch.arange(8), class_names=["a"]), "class_names"))
    for name, h in (("empty", {}), ("empty-series", {"train": []}), ("nan", {"train": [1.0, float("nan")]}),
                    ("inf", {"train": [float("inf")]}), ("list", [1.0, 2.0]), ("strings", {"train": ["a"]})):
        add((f"loss_curves-{name}", lambda h=h: lh.loss_curves(h), "history"))
    # --- widgets -------------------------------------------------------------------------------------
    for name, args in (("min>max", (1.0, 0.0, 0.1, 0.5)), ("step0", (0.0, 1.0, 0.0, 0.5)),
                       ("step-neg", (0.0, 1.0, -0.1, 0.5)), ("value-out", (0.0, 1.0, 0.1, 2.0)),
                       ("nan", (0.0, float("nan"), 0.1, 0.5)), ("string", (0.0, "1", 0.1, 0.5)),
                       ("step-too-big", (0.0, 1.0, 5.0, 0.5))):
        word = {"min>max": "min", "step0": "step", "step-neg": "step", "value-out": "value", "nan": "max",
                "string": "max", "step-too-big": "step"}[name]
        add((f"slider-{name}", lambda args=args: lh.slider("t", *args), word))
    add(("slider-description", lambda: lh.slider(3, 0.0, 1.0, 0.1, 0.5), "description"))
    add(("interactive_figure-no-controls", lambda: lh.interactive_figure(lambda: None), "control"))
    add(("interactive_figure-plot", lambda: lh.interactive_figure(None, t=lh.slider("t", 0.0, 1.0, 0.1, 0.5)), "plot"))
    add(("interactive_figure-bad-control", lambda: lh.interactive_figure(lambda t: None, t=3), "control"))
    return c


def classify(call, word: str) -> tuple[str, str]:
    """clear / unclear / deep / silent, with the message."""
    try:
        call()
    except Exception as err:  # noqa: BLE001 - every exception type is classified
        tb = traceback.extract_tb(err.__traceback__)
        raised_in = tb[-1].filename if tb else ""
        ours = "labhelpers" in raised_in
        msg = f"{type(err).__name__}: {err}"
        if not ours:
            return "deep", msg + f" (raised in {raised_in})"
        return ("clear" if word.lower() in str(err).lower() else "unclear"), msg
    return "silent", "no error"


@pytest.fixture
def isolated(tmp_path, monkeypatch):
    monkeypatch.setattr(config, "BUILD_DIR", tmp_path / "build")
    monkeypatch.setattr(config, "METRICS_DIR", None)
    monkeypatch.setattr(config, "NOTEBOOK", None)
    monkeypatch.setattr(config, "QUICK", True)
    monkeypatch.setattr(training, "progress", lambda it, **kw: it)
    yield tmp_path


def test_bad_input_table(isolated, capsys):
    import matplotlib.pyplot as plt

    cases = _cases(isolated)
    names = [n for n, _, _ in cases]
    assert len(set(names)) == len(names), "duplicate case ids"
    results = {}
    for name, call, word in cases:
        results[name] = classify(call, word)
        plt.close("all")
    counts = {k: sum(1 for v, _ in results.values() if v == k) for k in ("clear", "unclear", "deep", "silent")}
    with capsys.disabled():
        print(f"\nbad-input table: {len(cases)} cases: " + ", ".join(f"{k} {v}" for k, v in counts.items()))
    assert len(cases) >= 130, f"only {len(cases)} cases"
    bad = {k: v for k, v in results.items() if v[0] != "clear"}
    assert not bad, "bad inputs without a clear error:\n" + "\n".join(f"{k}: {v[0]}: {v[1][:200]}" for k, v in bad.items())


# Public names of the hand-written layer with no parameter a caller can get wrong: exception classes and
# dataclasses (constructed by the layer itself), and functions without arguments or with only optional flags.
NO_BAD_INPUT = {"ChecksumError", "DatasetNotFoundError", "IDXFormatError", "FileSpec", "DatasetSpec", "claims",
                "metrics_dir", "forget_failed_mirrors", "mark_quick_figures", "accessible_figures", "setting",
                "download"}   # download: needs a network; its mirrors and checksums are tested in test_data.py


def test_every_public_hand_written_function_is_in_the_table(tmp_path):
    """A new public function of the hand-written layer gets bad-input cases (or a reason it has none above)."""
    import inspect

    ids = {case_id for case_id, _, _ in _cases(tmp_path)}
    missing = []
    for module in (config, data, lecture, plotting, training, widgets):
        for name, obj in vars(module).items():
            if name.startswith("_") or not (inspect.isfunction(obj) or inspect.isclass(obj)) or \
                    obj.__module__ != module.__name__ or name in NO_BAD_INPUT:
                continue
            if not any(i == name or i.startswith(name + "-") for i in ids | {"save_checkpoint-", "load_checkpoint-"}):
                missing.append(f"{module.__name__}.{name}")
    assert not missing, "public hand-written functions without a bad-input case: " + ", ".join(missing)
