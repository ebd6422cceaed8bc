"""Benchmark 1: data handling.

(a) One shuffled epoch of batch-128 mini-batches from labhelpers (`data.load` + `data.batches`) against
    torchvision's dataset + ToTensor + DataLoader over the same images.
(b) One epoch of the notebook VAE's training (`labhelpers.vae.train_vae`) against the same loop run on
    batches sliced beforehand, i.e. with no data handling in the timed loop.
"""

from __future__ import annotations

import gzip
import shutil
import struct
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

from .timing import best_of_pair, timed

BATCH_SIZE = 128


# ---------------------------------------------------------------------------------------------
# torchvision's view of the same files
# ---------------------------------------------------------------------------------------------

def torchvision_root(idx_files: dict[str, Path], root: Path, folder: str = "FashionMNIST") -> Path:
    """Lay out IDX files (gzip or raw) as torchvision expects them: <root>/<folder>/raw/<name without .gz>.

    `idx_files` maps torchvision's file names ("train-images-idx3-ubyte", ...) to source paths. Returns root.
    """
    raw = root / folder / "raw"
    raw.mkdir(parents=True, exist_ok=True)
    for name, src in idx_files.items():
        dst = raw / name
        if dst.exists():
            continue
        with (gzip.open(src, "rb") if src.read_bytes()[:2] == b"\x1f\x8b" else open(src, "rb")) as fin, \
                open(dst, "wb") as fout:
            shutil.copyfileobj(fin, fout)
    return root


def write_idx(path: Path, array: np.ndarray) -> Path:
    """Write a uint8 array as an uncompressed IDX file (for synthetic data in tests)."""
    array = np.ascontiguousarray(array, dtype=np.uint8)
    header = bytes([0, 0, 0x08, array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape)
    path.write_bytes(header + array.tobytes())
    return path


def torchvision_dataset(root: Path, train: bool = True):
    """torchvision.datasets.FashionMNIST with ToTensor, from files already in place (download=False)."""
    from torchvision import datasets, transforms

    return datasets.FashionMNIST(str(root), train=train, download=False, transform=transforms.ToTensor())


# ---------------------------------------------------------------------------------------------
# (a) an epoch of mini-batches
# ---------------------------------------------------------------------------------------------

def _lh_epoch(x: torch.Tensor, y: torch.Tensor, batch_size: int, generator: torch.Generator) -> int:
    from labhelpers.data import batches

    n = 0
    for xb, _yb in batches(x, y, batch_size=batch_size, generator=generator):
        n += len(xb)
    return n


def _tv_epoch(loader) -> int:
    n = 0
    for xb, _yb in loader:
        n += len(xb)
    return n


def bench_data_epoch(load_fn: Callable[[], tuple[torch.Tensor, torch.Tensor]], tv_root: Path,
                     batch_size: int = BATCH_SIZE, repeats: int = 3, seed: int = 0) -> dict:
    """Time loading and one shuffled epoch of mini-batches, labhelpers vs torchvision; return times and ratios.

    `load_fn` returns labhelpers' (x, y) (for the real benchmark: `labhelpers.data.load("fashion-mnist")`);
    `tv_root` holds the same images laid out for torchvision (see `torchvision_root`).
    """
    from torch.utils.data import DataLoader

    (lh_load, lh_load_all), (tv_load, tv_load_all) = best_of_pair(load_fn, lambda: torchvision_dataset(tv_root),
                                                                    repeats)
    x, y = load_fn()
    ds = torchvision_dataset(tv_root)
    # Same images on both sides: compare sizes, shapes and the total of all pixel values.
    first_x, first_y = ds[0]
    same = (len(ds) == len(x) and tuple(first_x.shape) == tuple(x.shape[1:]) and first_x.dtype == x.dtype
            and abs(float(ds.data.double().sum() / 255) - float(x.double().sum())) < 1e-3 * len(x)
            and torch.equal(ds.targets.long(), y))
    if not same:
        raise RuntimeError("bench_data_epoch: labhelpers and torchvision did not load the same images")
    g = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)
    loader = DataLoader(ds, batch_size=batch_size, shuffle=True)  # num_workers=0: the example's CPU setting
    (lh_epoch, lh_all), (tv_epoch, tv_all) = best_of_pair(lambda: _lh_epoch(x, y, batch_size, g),
                                                          lambda: _tv_epoch(loader), repeats)
    return {
        "n_images": len(x), "batch_size": batch_size, "repeats": repeats,
        "labhelpers_epoch_s": lh_epoch, "torchvision_epoch_s": tv_epoch,
        "labhelpers_load_s": lh_load, "torchvision_load_s": tv_load,
        "epoch_ratio": tv_epoch / lh_epoch,
        "load_plus_epoch_ratio": (tv_load + tv_epoch) / (lh_load + lh_epoch),
        "all_times_s": {"labhelpers_epoch": lh_all, "torchvision_epoch": tv_all,
                        "labhelpers_load": lh_load_all, "torchvision_load": tv_load_all},
    }


# ---------------------------------------------------------------------------------------------
# (b) an epoch of VAE training: labhelpers batches vs pre-sliced tensors
# ---------------------------------------------------------------------------------------------

def _presliced_epoch(model, opt, pre: list[torch.Tensor], generator: torch.Generator) -> float:
    """train_vae's inner loop with the batches already cut: the cost of the model alone."""
    from labhelpers.vae import vae_loss

    model.train()
    total = 0.0
    for xb in pre:
        logits, mu, logvar = model(xb, generator=generator)
        loss = vae_loss(logits, xb, mu, logvar)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        total += loss.item()
    return total


def bench_vae_data_overhead(x: torch.Tensor, batch_size: int = BATCH_SIZE, repeats: int = 3, seed: int = 0) -> dict:
    """Time one epoch of `train_vae` (labhelpers batches) against the same loop on pre-sliced batches; return the ratio."""
    from labhelpers.vae import VAE, train_vae

    g = torch.Generator().manual_seed(seed)
    order = torch.randperm(len(x), generator=g)
    pre = [x[idx] for idx in order.split(batch_size)]  # cut outside the timed region

    def with_labhelpers():
        torch.manual_seed(seed)
        return train_vae(VAE(latent_dim=20, hidden=400), x, num_epochs=1, batch_size=batch_size,
                         generator=torch.Generator().manual_seed(seed))

    def presliced():
        torch.manual_seed(seed)
        model = VAE(latent_dim=20, hidden=400)
        opt = torch.optim.Adam(model.parameters(), lr=1e-3)
        return _presliced_epoch(model, opt, pre, torch.Generator().manual_seed(seed))

    timed(presliced)  # warm-up: first-call allocations and thread-pool start
    (lh, lh_all), (pre_s, pre_all) = best_of_pair(with_labhelpers, presliced, repeats)
    return {"n_images": len(x), "batch_size": batch_size, "repeats": repeats,
            "labhelpers_epoch_s": lh, "presliced_epoch_s": pre_s, "ratio": lh / pre_s,
            "all_times_s": {"labhelpers": lh_all, "presliced": pre_all}}
