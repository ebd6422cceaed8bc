"""Device choice, seeding, a minimal fit loop with a progress bar, and safe checkpoints (01)."""

from __future__ import annotations

import os
import random
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tqdm.auto import tqdm

from .data import batches


def get_device(device: str | None = "auto") -> torch.device:
    """Return the requested device, or the best available one (cuda, mps, cpu) for "auto" (01)."""
    if device not in (None, "auto"):
        return torch.device(device)
    if torch.cuda.is_available():
        return torch.device("cuda")
    if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


def seed_everything(seed: int) -> torch.Generator:
    """Seed Python, NumPy and PyTorch so that reruns give the same numbers; return a torch Generator (01)."""
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    return torch.Generator().manual_seed(seed)


def progress(iterable, **kwargs):
    """A tqdm.auto progress bar: a widget in JupyterLab, silent when TQDM_DISABLE=1 (as in CI) (01)."""
    # tqdm.notebook passes disable=False explicitly, which hides TQDM_DISABLE from tqdm's own env handling
    kwargs.setdefault("disable", os.environ.get("TQDM_DISABLE", "").lower() in ("1", "true", "yes"))
    return tqdm(iterable, **kwargs)


def fit(model: torch.nn.Module, loss_fn: Callable[..., torch.Tensor], *tensors: torch.Tensor,
        num_epochs: int = 1, batch_size: int = 128, lr: float = 1e-3,
        optimizer: torch.optim.Optimizer | None = None, generator: torch.Generator | None = None,
        desc: str = "train") -> dict[str, list[float]]:
    """Train `model` by minimizing `loss_fn(model, *batch)` with Adam; return per-epoch mean losses (02)."""
    if not tensors:
        raise ValueError("fit needs at least one tensor of training data, e.g. fit(model, loss_fn, x_train)")
    optimizer = optimizer or torch.optim.Adam(model.parameters(), lr=lr)
    history: dict[str, list[float]] = {"loss": []}
    model.train()
    for _ in progress(range(num_epochs), desc=desc, leave=False):
        total, count = 0.0, 0
        for batch in batches(*tensors, batch_size=batch_size, generator=generator):
            loss = loss_fn(model, *batch)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            total += loss.item() * len(batch[0])
            count += len(batch[0])
        history["loss"].append(total / count)
    model.eval()
    return history


@torch.no_grad()
def predict(fn: Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor, batch_size: int = 1024) -> torch.Tensor:
    """Apply `fn` to `x` in batches without gradients and concatenate the results (02)."""
    return torch.cat([fn(xb) for (xb,) in batches(x, batch_size=batch_size, shuffle=False)])


def save_checkpoint(obj: Any, path: str | Path) -> Path:
    """Save a state dict (or any torch-serializable object) atomically: a crash never leaves half a file (02)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            torch.save(obj, f)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return path


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


def train_or_load(model: torch.nn.Module, path: str | Path, train: Callable[[], Any]) -> bool:
    """Load `model`'s weights from `path` if present, else call `train()` and save; True if loaded (02)."""
    path = Path(path)
    if path.exists():
        model.load_state_dict(load_checkpoint(path))
        model.eval()
        return True
    train()
    save_checkpoint(model.state_dict(), path)
    return False
