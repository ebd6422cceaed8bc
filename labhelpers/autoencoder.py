"""TEMPORARY shim: becomes the generated module of notebook 02 (export cells)."""
from .linear import Standardize, few_labels, fit_logistic_regression, pca, pca_reconstruct  # noqa: F401
from .models import MLPAutoencoder, reconstruction_loss  # noqa: F401
