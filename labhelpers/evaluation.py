"""TEMPORARY shim: becomes the generated module of notebook 10 (export cells)."""
from .metrics import (  # noqa: F401
    choose_parzen_sigma, fid, frechet_distance, iwae_bound, kid, mmd, parzen_log_likelihood, precision_recall,
)
