"""Bad input to every public function and class of every generated lesson module: a clear error, never silent.

The modules are found from the lectures' metadata, so a new lecture's functions are covered automatically: a
public function without an entry in `labhelpers.guards.SPEC`, or a parameter without a kind, fails the test.
Each parameter is then given the bad values of its kind (0..255 images, NaN, empty tensors, labels out of range,
sizes <= 0, a seed numpy refuses, an int where a Generator belongs, ...) with nothing else bound, so the check,
not a missing argument, must stop the call. A case is
- clear:  a ValueError/TypeError raised by labhelpers that names the function and the parameter,
- unclear: raised by labhelpers without naming them, deep: raised inside torch/numpy/Python, silent: no error.
The table's counts are printed by `make test`; every case must be clear. A second table runs the mistakes an
outside tester reproduced (issue: reliability), each with valid other arguments, so the functions run for real.
"""

from __future__ import annotations

import importlib
import inspect
import traceback
from pathlib import Path

import nbformat
import pytest
import torch

from labhelpers import guards

ROOT = Path(__file__).resolve().parents[1]
X = torch.rand(4, 1, 28, 28)
NAN = torch.tensor([1.0, float("nan")])
EMPTY = torch.empty(0, 2)


def lesson_modules() -> list[str]:
    names = []
    for path in sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb")):
        module = nbformat.read(path, as_version=4).metadata.get("labhelpers", {}).get("module")
        if module:
            names.append(module)
    return names


def bad_values(kind: str) -> list[tuple[str, object]]:
    """Plausible wrong values for a parameter of this kind (the guard must refuse each one)."""
    optional = kind.endswith("?")
    base = kind.rstrip("?")
    table = {
        "tensor": [("list", [1.0, 2.0]), ("nan", NAN), ("empty", EMPTY)],
        "rows": [("list", [[1.0]]), ("nan", NAN[None]), ("empty", EMPTY), ("1-d", torch.ones(3))],
        "image01": [("0..255", X * 255), ("signed", X - 0.5), ("uint8", (X * 255).to(torch.uint8)),
                    ("nan", X * float("nan")), ("list", [0.5])],
        "binary": [("grey", X * 0.98 + 0.01), ("0..255", (X > 0.5).float() * 255), ("nan", X * float("nan"))],
        "logits": [("nan", torch.tensor([[float("nan"), 0.0]])), ("int", torch.tensor([1, 2]))],
        "labels": [("float", torch.tensor([0.0, 1.0])), ("negative", torch.tensor([-1])), ("11", torch.tensor([11]))],
        "classes": [("float", torch.tensor([0.0, 1.0])), ("negative", torch.tensor([-1])),
                    ("num_classes", torch.tensor([10]))],
        "ints0": [("float", torch.tensor([0.5])), ("negative", torch.tensor([-1]))],
        "int+": [("0", 0), ("-1", -1), ("2.5", 2.5), ("str", "3"), ("bool", True)],
        "int0": [("-1", -1), ("2.5", 2.5), ("str", "3"), ("bool", True)],
        "float": [("nan", float("nan")), ("inf", float("inf")), ("str", "1")],
        "float0": [("-0.1", -0.1), ("nan", float("nan")), ("inf", float("inf")), ("str", "1"), ("bool", True)],
        "float+": [("0", 0.0), ("-1", -1.0), ("nan", float("nan")), ("inf", float("inf")), ("str", "1")],
        "prob": [("-0.1", -0.1), ("1.5", 1.5), ("nan", float("nan")), ("str", "0.5")],
        "seed": [("-1", -1), ("2**32", 2**32), ("str", "abc"), ("1.5", 1.5), ("bool", True)],
        "bool": [("int", 1), ("str", "yes")],
        "module": [("lambda", lambda x: x), ("int", 3)],
        "modules": [("ints", [3]), ("str", "coupling")],
        "optimizer": [("int", 3)],
        "gen": [("int seed", 0), ("str", "0")],
        "fn": [("int", 3)],
        "dict": [("list", [1])],
        "dist": [("int", 3)],
        "device": [("gpu0", "gpu0"), ("int list", [3])],
        "dataset": [("cifar10", "cifar10"), ("MNIST", "MNIST")],
        "name": [("..", "../x"), ("folder", "a/b")],
        "shape": [("zero", (0, 2)), ("list", [2, 2]), ("int", 3), ("float", (2.5,))],
        "ints+": [("empty", []), ("zero", [0]), ("int", 3)],
        "num": [("nan", float("nan")), ("str", "1"), ("nan tensor", NAN)],
        "sigmas": [("0", 0.0), ("-1", -1.0), ("empty", []), ("mixed", [1.0, -1.0])],
    }
    if base.startswith("choice:"):
        values = [("bogus", "bogus")]
    elif base.startswith("is:"):
        values = [("int", 3)]
    else:
        values = list(table[base])
    if not optional:
        values.append(("None", None))
    return values


def classify(call, must_name: list[str]) -> tuple[str, str]:
    try:
        call()
    except Exception as err:  # noqa: BLE001 - every exception type is classified
        tb = traceback.extract_tb(err.__traceback__)
        raised_in = tb[-1].filename if tb else ""
        msg = f"{type(err).__name__}: {err}"
        if "labhelpers" not in raised_in:
            return "deep", msg + f" (raised in {raised_in})"
        named = isinstance(err, (ValueError, TypeError)) and all(w in str(err) for w in must_name)
        return ("clear" if named else "unclear"), msg
    return "silent", "no error"


def test_every_public_lesson_function_has_a_spec_and_is_guarded():
    modules = lesson_modules()
    assert set(modules) == set(guards.SPEC), "guards.SPEC must list exactly the generated modules"
    problems = []
    for module in modules:
        mod = importlib.import_module(f"labhelpers.{module}")
        public = guards.public_callables(mod)
        spec = guards.SPEC[module]
        problems += [f"{module}.{n}: no entry in guards.SPEC" for n in public if n not in spec]
        problems += [f"{module}.{n}: in guards.SPEC but not in the module" for n in spec if n not in public]
        for name, obj in public.items():
            if name not in spec:
                continue
            kinds = guards.parse(spec[name])
            params = [p for p in inspect.signature(obj).parameters.values() if p.name != "self" and
                      p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)]
            problems += [f"{module}.{name}: parameter {p.name!r} has no kind" for p in params if p.name not in kinds]
            problems += [f"{module}.{name}: kind for {k!r}, which is no parameter" for k in kinds
                         if k not in {p.name for p in params}]
            for k, kind in kinds.items():
                try:
                    guards.problem(kind, None if kind.endswith("?") else object(), {}, vars(mod))
                except KeyError as err:
                    problems.append(f"{module}.{name}: {k}: {err}")
            target = obj.__init__ if inspect.isclass(obj) else obj
            if params and not getattr(target, "__guarded__", False):
                problems.append(f"{module}.{name} is not guarded (guard_module at the end of the module?)")
    assert not problems, "\n".join(problems)


def _cases():
    for module in lesson_modules():
        mod = importlib.import_module(f"labhelpers.{module}")
        for name, spec in guards.SPEC[module].items():
            fn = getattr(mod, name)
            for param, kind in guards.parse(spec).items():
                for label, value in bad_values(kind):
                    yield f"{module}.{name}({param}={label})", (lambda fn=fn, p=param, v=value: fn(**{p: v})), \
                        [f"{module}.{name}", param]


def test_lesson_bad_input_table(capsys):
    results = {case: classify(call, words) for case, call, words in _cases()}
    counts = {k: sum(1 for v, _ in results.values() if v == k) for k in ("clear", "unclear", "deep", "silent")}
    with capsys.disabled():
        print(f"\nlesson bad-input table: {len(results)} cases over "
              f"{sum(len(s) for s in guards.SPEC.values())} public functions and classes: "
              + ", ".join(f"{k} {v}" for k, v in counts.items()))
    bad = {k: v for k, v in results.items() if v[0] != "clear"}
    assert not bad, "bad inputs without a clear error:\n" + "\n".join(f"{k}: {v[0]}: {v[1][:160]}" for k, v in bad.items())


def test_valid_values_pass_every_kind():
    """The kinds refuse bad values but not good ones (else a lecture's own call would fail)."""
    good = {"tensor": torch.ones(2), "rows": torch.ones(2, 3), "image01": X, "binary": (X > 0.5).float(),
            "logits": torch.tensor([[-float("inf"), 0.0]]), "labels": torch.tensor([0, 10]),
            "classes": torch.tensor([0, 9]), "ints0": torch.tensor([0, 5]), "int+": 1, "int0": 0, "float": -2.5,
            "float0": 0, "float+": 1e-3, "prob": 1, "seed": 2**32 - 1, "bool": False, "module": torch.nn.Linear(1, 1),
            "modules": [torch.nn.Identity()], "optimizer": torch.optim.SGD([torch.zeros(1, requires_grad=True)], 0.1),
            "gen": torch.Generator(), "fn": len, "dict": {}, "dist": torch.distributions.Normal(0.0, 1.0),
            "device": "cpu", "dataset": "fashion-mnist", "name": "09_unet-flow", "shape": (1, 14, 14),
            "ints+": [28, 14], "num": 3.0, "sigmas": [1.0, 2.0]}
    assert set(good) == set(guards.KINDS)
    for kind, value in good.items():
        assert guards.problem(kind, value) is None, kind
        assert guards.problem(kind + "?", None) is None, kind
        assert any(guards.problem(kind, v) for _, v in bad_values(kind)), kind


def test_only_the_outermost_call_checks():
    """A lesson function calling another guarded one does not pay for the check again in its inner loop."""
    from labhelpers import denoising
    calls = []
    real = guards.check
    try:
        guards.check = lambda *a, **k: calls.append(a[0]) or real(*a, **k)
        denoising.denoising_loss(torch.nn.Identity(), X, "gaussian", 0.3)   # calls corrupt -> gaussian_noise
    finally:
        guards.check = real
    assert calls == ["denoising.denoising_loss"]


def _model():
    from labhelpers.autoencoder import MLPAutoencoder
    return MLPAutoencoder(2)


REPRODUCED = [  # (case, call, words the message must contain): the outside tester's reproduced mistakes
    ("reconstruction_loss on 0..255 images",
     lambda: __import__("labhelpers.autoencoder").autoencoder.reconstruction_loss(_model(), X * 255), ["x", "255"]),
    ("gaussian_noise(sigma=nan)", lambda: __import__("labhelpers.denoising").denoising.gaussian_noise(X, float("nan")),
     ["sigma"]),
    ("gaussian_noise(sigma=inf)", lambda: __import__("labhelpers.denoising").denoising.gaussian_noise(X, float("inf")),
     ["sigma"]),
    ("salt_and_pepper on 0..255 images",
     lambda: __import__("labhelpers.denoising").denoising.salt_and_pepper(X * 255, 0.1), ["x"]),
    ("conv_transpose2d_scatter with mismatched channels",
     lambda: __import__("labhelpers.convnets").convnets.conv_transpose2d_scatter(torch.rand(1, 3, 4, 4),
                                                                                  torch.rand(2, 1, 3, 3)), ["C_in"]),
    ("MLPAutoencoder(latent_dim=0)", lambda: __import__("labhelpers.autoencoder").autoencoder.MLPAutoencoder(0),
     ["latent_dim"]),
    ("train_softmax_classifier(steps=0)",
     lambda: __import__("labhelpers.gendisc").gendisc.train_softmax_classifier(X.flatten(1), torch.arange(4), steps=0),
     ["steps"]),
    ("fit_gaussian on codes with a NaN",
     lambda: __import__("labhelpers.gendisc").gendisc.fit_gaussian(torch.tensor([[float("nan"), 1.0], [0.0, 1.0]])),
     ["z", "NaN"]),
    ("train_classifier with label 10 of 10 classes",
     lambda: __import__("labhelpers.gendisc").gendisc.train_classifier(X, torch.tensor([0, 1, 2, 10])), ["y", "10"]),
    ("kl_diag_normal with shapes that differ",
     lambda: __import__("labhelpers.vae").vae.kl_diag_normal(torch.zeros(3, 2), torch.zeros(3, 4)), ["logvar"]),
    ("pixelcnn loss on grey images",
     lambda: __import__("labhelpers.pixelcnn").pixelcnn.nll_per_image(
         __import__("labhelpers.pixelcnn").pixelcnn.PixelCNN(4, 1), X), ["x", "binar"]),
    ("a seed where a Generator belongs",
     lambda: __import__("labhelpers.vae").vae.reparameterize(torch.zeros(2, 2), torch.zeros(2, 2), 0), ["generator"]),
    ("sample_tokens with a misspelt method",
     lambda: __import__("labhelpers.tokens").tokens.sample_tokens({}, torch.tensor([1]), "maskgit"), ["method"]),
]


@pytest.mark.parametrize("case, call, words", REPRODUCED, ids=[c[0] for c in REPRODUCED])
def test_reproduced_mistakes_get_a_clear_error(case, call, words):
    verdict, msg = classify(call, words)
    assert verdict == "clear", f"{case}: {verdict}: {msg}"
