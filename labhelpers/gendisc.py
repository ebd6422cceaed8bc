"""TEMPORARY shim: becomes the generated module of notebook 01 (export cells)."""
from .metrics import accuracy, auroc  # noqa: F401
from .models import SmallCNN, classify, fit_gaussian, train_classifier  # noqa: F401
