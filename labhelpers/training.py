"""Device choice, seeding, a minimal fit loop with a progress bar, and safe checkpoints (01)."""

from __future__ import annotations

import hashlib
import inspect
import json
import os
import random
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tqdm import tqdm

from .config import write_json_atomic
from .data import batches


def seed_everything(seed: int) -> torch.Generator:
    """Seed Python, NumPy and PyTorch so that reruns give the same numbers; return a torch Generator (01)."""
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or not 0 <= seed < 2**32:
        raise ValueError(f"seed={seed!r}: use a whole number in [0, 2**32 - 1], the seeds numpy and torch both "
                         "accept (e.g. seed=0)")
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    return torch.Generator().manual_seed(seed)


def progress(iterable, **kwargs):
    """A text progress bar (tqdm), silent when TQDM_DISABLE=1 (as in CI) (01).

    Text, not a widget: a saved or reopened notebook shows the finished bar, never a
    "model not found" widget error. In a notebook it writes to stdout, not stderr, so a training cell
    that went well shows no pink error strip; on a console, to stderr as usual.
    """
    if not hasattr(iterable, "__iter__"):
        raise TypeError(f"progress: expected something to iterate over (e.g. range({iterable!r})), got "
                        f"{type(iterable).__name__}")
    kwargs.setdefault("disable", os.environ.get("TQDM_DISABLE", "").lower() in ("1", "true", "yes"))
    kwargs.setdefault("file", sys.stdout if "ipykernel" in sys.modules else sys.stderr)   # a console: stderr
    kwargs.setdefault("mininterval", 0.5)
    kwargs.setdefault("ncols", 90)
    return tqdm(iterable, **kwargs)


def fit(model: torch.nn.Module, loss_fn: Callable[..., torch.Tensor], *tensors: torch.Tensor,
        num_epochs: int = 1, batch_size: int = 128, lr: float = 1e-3,
        optimizer: torch.optim.Optimizer | None = None, generator: torch.Generator | None = None,
        desc: str = "train") -> dict[str, list[float]]:
    """Train `model` by minimizing `loss_fn(model, *batch)` with Adam; return per-epoch mean losses (02)."""
    if not tensors:
        raise ValueError("fit needs at least one tensor of training data, e.g. fit(model, loss_fn, x_train)")
    if not isinstance(model, torch.nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    if not callable(loss_fn):
        raise TypeError("loss_fn must be a function loss_fn(model, *batch) -> scalar tensor")
    if num_epochs is None or batch_size is None:
        raise ValueError(f"num_epochs={num_epochs!r}, batch_size={batch_size!r}: a None default is filled in by the "
                         "cell right after the parameters cell; if you re-ran the parameters cell, run that next cell "
                         "again before training")
    if isinstance(num_epochs, bool) or not isinstance(num_epochs, int) or num_epochs < 1:
        raise ValueError(f"num_epochs={num_epochs!r} must be a whole number >= 1")
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"batch_size={batch_size!r} must be a whole number >= 1")
    if optimizer is None and not (isinstance(lr, (int, float)) and 0 < lr < float("inf")):
        raise ValueError(f"lr={lr!r} must be a positive number, e.g. 1e-3")
    weights = next((p for p in model.parameters() if p.is_floating_point()), None)
    for i, t in enumerate(tensors):
        if not isinstance(t, torch.Tensor):
            continue                                    # batches() names a non-tensor argument itself
        if t.dtype == torch.uint8:
            raise TypeError(f"training tensor {i} is uint8 (0..255 pixels): use x.float() / 255, images in [0, 1]")
        if t.is_floating_point() and weights is not None and t.dtype != weights.dtype:
            raise TypeError(f"training tensor {i} is {t.dtype} but the model's weights are {weights.dtype}: use "
                            f"x.to({weights.dtype}) (or model.to({t.dtype}))")
    if not any(p.requires_grad for p in model.parameters()):
        raise ValueError(f"{type(model).__name__} has no trainable parameters; nothing to fit")
    optimizer = optimizer or torch.optim.Adam(model.parameters(), lr=lr)
    totals, counts = [0.0] * num_epochs, [0] * num_epochs
    model.train()

    def every_batch():       # one bar over all batches of all epochs: a student sees it move within an epoch
        for epoch in range(num_epochs):
            for step, batch in enumerate(batches(*tensors, batch_size=batch_size, generator=generator)):
                yield epoch, step, batch

    n = len(tensors[0]) if isinstance(tensors[0], torch.Tensor) else 0
    for epoch, step, batch in progress(every_batch(), desc=desc, leave=False,
                                       total=num_epochs * -(-n // batch_size)):
        loss = loss_fn(model, *batch)
        if not isinstance(loss, torch.Tensor) or loss.numel() != 1:
            raise TypeError(f"loss_fn must return a scalar tensor, got {type(loss).__name__} "
                            f"{tuple(getattr(loss, 'shape', ()))}; reduce it with .mean()")
        if not torch.isfinite(loss):
            model.eval()
            raise FloatingPointError(f"the loss became {loss.item()} at epoch {epoch + 1}, step {step + 1}: "
                                     "training diverged; lower lr, check the inputs lie in [0, 1], or clip "
                                     "gradients")
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        totals[epoch] += loss.item() * len(batch[0])
        counts[epoch] += len(batch[0])
    model.eval()
    return {"loss": [t / c for t, c in zip(totals, counts)]}


@torch.no_grad()
def predict(fn: Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor, batch_size: int = 1024) -> torch.Tensor:
    """Apply `fn` to `x` in batches without gradients and concatenate the results (02)."""
    if not callable(fn):
        raise TypeError(f"fn must be a function or model applied to a batch, got {type(fn).__name__}")
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"x must be a tensor of inputs, got {type(x).__name__}")
    if len(x) == 0:
        raise ValueError("x is empty: predict needs at least one input")
    return torch.cat([fn(xb) for (xb,) in batches(x, batch_size=batch_size, shuffle=False)])


def save_checkpoint(obj: Any, path: str | Path) -> Path:
    """Save a state dict (or any torch-serializable object) atomically: a crash never leaves half a file (02).

    Temp files left by a save that was killed (their writer process is gone) are removed first.
    """
    path = Path(path)
    if path.is_dir():
        raise IsADirectoryError(f"path={str(path)!r} is a folder; give a file name such as {path / 'model.pt'}")
    path.parent.mkdir(parents=True, exist_ok=True)
    for stale in path.parent.glob(f".{path.name}.*.tmp"):
        pid = stale.name[len(path.name) + 2:].split(".")[0]
        if pid.isdigit() and not _alive(int(pid)):
            stale.unlink(missing_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.{os.getpid()}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            try:
                torch.save(obj, f)
            except (AttributeError, TypeError, RuntimeError) as err:   # pickling failed: nothing is saved
                raise TypeError(f"save_checkpoint({path.name}): this object cannot be saved ({err}); save tensors and "
                                "plain containers, e.g. model.state_dict()") from err
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return path


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def load_checkpoint(path: str | Path, map_location: str | torch.device = "cpu") -> Any:
    """Load a checkpoint with weights_only=True (tensors and plain containers only, no pickled code) (02)."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"no checkpoint at {path}; train the model first (or delete a stale path)")
    try:
        return torch.load(path, map_location=map_location, weights_only=True)
    except Exception as err:
        raise RuntimeError(f"{path} is not a readable weights-only checkpoint ({err}); delete it and "
                           "rerun the notebook to train again") from err


def _sha256(path: Path) -> str:
    import hashlib

    return hashlib.sha256(path.read_bytes()).hexdigest()


def _source_of(cls: type) -> str:
    """The source of a module class's own methods (works for classes defined in notebook cells)."""
    parts = []
    for attr in sorted(vars(cls)):
        fn = vars(cls)[attr]
        if callable(fn) and hasattr(fn, "__code__"):
            try:
                parts.append(inspect.getsource(fn))
            except (OSError, TypeError):
                parts.append(fn.__code__.co_code.hex())
    return "\n".join(parts)


def model_fingerprint(model: torch.nn.Module, settings: dict[str, Any] | None = None) -> str:
    """A short hash of everything that changes trained weights: settings, architecture and the model's code (02)."""
    if not isinstance(model, torch.nn.Module):
        raise TypeError(f"model_fingerprint: model must be a torch.nn.Module, got {type(model).__name__}")
    if settings is not None and not isinstance(settings, dict):
        raise TypeError(f"model_fingerprint: settings must be a dict of the values that change the weights, got "
                        f"{type(settings).__name__}")
    h = hashlib.sha256()
    h.update(json.dumps(settings or {}, sort_keys=True, default=str).encode())
    h.update(repr(model).encode())
    for name, tensor in model.state_dict().items():
        h.update(f"{name}:{tuple(tensor.shape)}:{tensor.dtype}".encode())
    for cls in sorted({type(m) for m in model.modules()}, key=lambda c: c.__qualname__):
        if not cls.__module__.startswith("torch."):
            h.update(_source_of(cls).encode())
    return h.hexdigest()[:12]


def train_or_load(model: torch.nn.Module, path: str | Path, train: Callable[[], Any],
                  settings: dict[str, Any] | None = None) -> bool:
    """Load `model`'s weights if a checkpoint for exactly these settings and code exists, else train and save.

    The file name gets a fingerprint of `settings` (seed, lr, steps, data size, dataset, ...), the model's
    architecture and its code, so changing any of them trains afresh; the settings are stored beside the
    weights and checked on load. Prints whether the weights were trained or loaded (and from where).
    Returns True if loaded (02).
    """
    path = Path(path)
    if settings is not None and not isinstance(settings, dict):
        raise TypeError(f"settings must be a dict of the values that change the weights, got {type(settings).__name__}")
    if not callable(train):
        raise TypeError("train must be a function that trains the model, e.g. lambda: lh.fit(model, ...)")
    key = model_fingerprint(model, settings)
    path = path.with_name(f"{path.stem}-{key}{path.suffix or '.pt'}")
    meta_path = path.with_suffix(".json")
    meta = None
    if path.exists() and meta_path.exists():
        try:
            meta = json.loads(meta_path.read_text())
        except ValueError as err:   # cut off while writing, or edited: the weights beside it cannot be trusted
            print(f"{meta_path.name} is not readable JSON ({err}): its weights are not trusted; training again and "
                  "overwriting both files")
    if meta is not None:
        if not isinstance(meta, dict) or meta.get("fingerprint") != key:
            raise RuntimeError(f"{meta_path} describes other settings than its name says; delete {path} and rerun")
        if "sha256" in meta and _sha256(path) != meta["sha256"]:
            raise RuntimeError(f"{path.name} is not the file saved with these settings (its checksum differs from "
                               f"the one in {meta_path.name}: copied over or changed since); delete both and rerun "
                               "to train again")
        model.load_state_dict(load_checkpoint(path))
        model.eval()
        print(f"loaded weights from {path.name} (trained earlier with these settings; delete it to retrain)")
        return True
    before = [p.detach().clone() for p in model.parameters()]
    train()
    if before and all(torch.equal(b, p.detach()) for b, p in zip(before, model.parameters())):
        raise RuntimeError(f"train() left every weight of {type(model).__name__} unchanged, so nothing is saved to "
                           f"{path.name}; check that it updates this model (optimizer over model.parameters())")
    save_checkpoint(model.state_dict(), path)
    write_json_atomic(meta_path, {"fingerprint": key, "settings": settings or {}, "model": type(model).__name__,
                                  "sha256": _sha256(path)})
    print(f"trained and saved to {path.name}")
    return False
