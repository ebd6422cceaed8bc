"""TEMPORARY shim: becomes the generated module of notebook 04 (export cells)."""
from .corruption import corrupt, gaussian_noise, masking, salt_and_pepper  # noqa: F401
from .metrics import psnr  # noqa: F401
