"""labhelpers: the small helper package of the generative-models course.

The notebooks teach the models; this package removes the boilerplate that is not the lesson.
"""

from . import config, data, metrics, plotting, training, widgets
from .config import checkpoint_path, claim, claims, record_metrics, setting, start, use_quick, verdict
from .data import batches, load
from .metrics import accuracy, auroc, psnr
from .plotting import compare_images, latent_scatter, loss_curves, show_images
from .training import (
    fit,
    get_device,
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
    "config", "data", "metrics", "plotting", "training", "widgets", "QUICK",
    "checkpoint_path", "claim", "claims", "record_metrics", "setting", "start", "use_quick", "verdict", "batches", "load",
    "accuracy", "auroc", "psnr", "compare_images", "latent_scatter", "loss_curves", "show_images",
    "fit", "get_device", "load_checkpoint", "predict", "progress", "save_checkpoint",
    "seed_everything", "train_or_load", "interactive_figure", "slider",
]

from . import models  # noqa: E402
from .models import MLPAutoencoder, SmallCNN, classify, fit_gaussian, reconstruction_loss, train_classifier  # noqa: E402

__all__ += ["models", "MLPAutoencoder", "SmallCNN", "classify", "fit_gaussian", "reconstruction_loss", "train_classifier"]
