"""labhelpers: the small helper package of the generative-models course.

Hand-written modules hold what is not the lesson: `config` (paths, modes, devices, safe writes), `lecture`
(start, claims, metrics), `guards` (bad input to the lesson code), `hints` (the course kernel's hints),
`data`, `plotting`, `training` (one fit loop, checkpoints, progress), `widgets`. Every other module
is GENERATED from a lecture's cells tagged `export` (see CONTRIBUTING.md): `gendisc` (01),
`autoencoder` (02), `convnets` (03), `denoising` (04), `vae` (05), `gan` (06), `pixelcnn` (07),
`flows` (08), `diffusion` (09), `tokens` (10), `latent` (11), `evaluation` (12). The notebooks teach the models;
this package lets later lectures reuse them.
"""

from . import config, data, lecture, plotting, training, widgets
from .config import checkpoint_path, get_device, setting, use_quick
from .data import batches, load
from .lecture import claim, claims, measured, metrics_of, record_metrics, start, verdict
from .plotting import compare_images, latent_scatter, loss_curves, show_images
from .training import (
    fit,
    load_checkpoint,
    predict,
    progress,
    save_checkpoint,
    seed_everything,
    train_or_load,
)
from .widgets import interactive_figure, slider


def __getattr__(name: str):
    if name == "QUICK":  # always the mode in force, including after use_quick()
        return config.QUICK
    raise AttributeError(f"module 'labhelpers' has no attribute {name!r}")


__all__ = [
    "config", "data", "lecture", "plotting", "training", "widgets", "QUICK",
    "checkpoint_path", "claim", "claims", "measured", "metrics_of", "record_metrics", "setting", "start", "use_quick",
    "verdict",
    "batches", "load", "compare_images", "latent_scatter", "loss_curves", "show_images",
    "fit", "get_device", "load_checkpoint", "predict", "progress", "save_checkpoint",
    "seed_everything", "train_or_load", "interactive_figure", "slider",
]

# What the lectures taught, for later lectures (generated modules).
from .autoencoder import MLPAutoencoder, reconstruction_loss  # noqa: E402  (02)
from .denoising import psnr  # noqa: E402  (04)
from .gendisc import SmallCNN, accuracy, auroc, classify, fit_gaussian, train_classifier  # noqa: E402  (01)

__all__ += ["MLPAutoencoder", "reconstruction_loss", "psnr", "SmallCNN", "accuracy", "auroc", "classify",
            "fit_gaussian", "train_classifier"]
