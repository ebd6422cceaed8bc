"""Benchmark 2: the pytorch/examples VAE loop (reference) against the course's VAE loop, same data, epochs, model."""

from __future__ import annotations

import io
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import torch

from .reference_vae import ReferenceVAE, run_reference
from .timing import timed


def bench_vae_reference(load_fn: Callable[[str], tuple[torch.Tensor, torch.Tensor]],
                        tv_dataset_fn: Callable[[bool], object], epochs: int = 3, seed: int = 1,
                        loss_tolerance: float = 0.005) -> dict:
    """Train the reference loop and the course loop for `epochs` each; seconds per epoch and test loss per image.

    `load_fn(split)` gives labhelpers' (x, y) for "train"/"test"; `tv_dataset_fn(train)` gives the same
    images as a torchvision dataset with ToTensor. Both models start from the same weights (same seed,
    same layer order). "Equal loss" means within `loss_tolerance` (relative): one seed's noise.
    """
    from labhelpers.vae import VAE, train_vae

    # --- reference: set-up (datasets) and epochs (train + test + samples), as the example does
    with tempfile.TemporaryDirectory() as tmp:
        ref_setup, (train_ds, test_ds) = timed(lambda: (tv_dataset_fn(True), tv_dataset_fn(False)))
        log = io.StringIO()
        ref_s, ref_hist = timed(lambda: run_reference(train_ds, test_ds, epochs, Path(tmp), seed=seed, log=log))

    # --- course: lh.load + train_vae with the test set evaluated after every epoch
    course_setup, ((x, _), (x_test, _)) = timed(lambda: (load_fn("train"), load_fn("test")))

    def course():
        torch.manual_seed(seed)
        model = VAE(latent_dim=20, hidden=400)
        return train_vae(model, x, num_epochs=epochs, batch_size=128, lr=1e-3,
                         generator=torch.Generator().manual_seed(seed), x_test=x_test)

    stamps: list[float] = []
    course_s, course_hist = timed(lambda: _with_epoch_times(course, stamps))
    course_hist["epoch_s"] = [b - a for a, b in zip(stamps[::2], stamps[1::2])]
    # the best epoch of each (the least disturbed by other processes), as for the other short timings
    ref_epoch, course_epoch = min(ref_hist["epoch_s"]), min(course_hist["epoch_s"])
    ref_test, course_test = ref_hist["test"][-1], course_hist["test"][-1]
    return {
        "n_train": len(x), "n_test": len(x_test), "epochs": epochs,
        "reference_setup_s": ref_setup, "course_setup_s": course_setup,
        "reference_s_per_epoch": ref_epoch, "course_s_per_epoch": course_epoch,
        "speedup": ref_epoch / course_epoch,
        "reference_total_s": ref_s, "course_total_s": course_s, "mean_speedup": ref_s / course_s,
        "reference_test_loss": ref_test, "course_test_loss": course_test,
        "loss_rel_diff": (course_test - ref_test) / ref_test,
        "equal_or_better_loss": course_test <= ref_test * (1 + loss_tolerance),
        "loss_tolerance": loss_tolerance,
        "reference_history": ref_hist, "course_history": course_hist,
        "same_initial_weights": _same_init(seed),
    }


def _with_epoch_times(fn: Callable[[], dict], stamps: list[float]) -> dict:
    """Run fn() (which calls train_vae) with labhelpers.vae.progress wrapped to stamp the start and end of each epoch."""
    import labhelpers.vae as lhv

    original = lhv.progress

    def stamped(iterable, **kwargs):
        for item in original(iterable, **kwargs):
            stamps.append(time.perf_counter())
            yield item
            stamps.append(time.perf_counter())

    lhv.progress = stamped
    try:
        return fn()
    finally:
        lhv.progress = original


def _same_init(seed: int) -> bool:
    """Both models draw the same initial weights from the same seed (same layers, same order)."""
    from labhelpers.vae import VAE

    torch.manual_seed(seed)
    a = ReferenceVAE()
    torch.manual_seed(seed)
    b = VAE(latent_dim=20, hidden=400)
    return all(torch.equal(p, q) for p, q in zip(a.state_dict().values(), b.state_dict().values()))
