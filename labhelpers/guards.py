"""Bad input to the lesson code gets a clear error that names the parameter, the value and the fix.

The lesson modules are generated from the lectures and stay as short as the formulas they teach; their checks
live here instead. `SPEC` gives, for every public function and class of every generated module, the kind of
each parameter ("x: image01" = a float tensor of images with values in [0, 1]); `guard_module`, called at the
end of each generated module, wraps them so that a call is checked against its kinds before it runs. Only
the outermost guarded call checks: a lesson function calling another one pays nothing in its inner loop.
`tests/test_bad_inputs.py` enumerates every public function, fails when one has no entry here, and feeds
each parameter the bad values of its kind.
"""

from __future__ import annotations

import functools
import inspect
import math
import threading
from collections.abc import Callable
from typing import Any

import torch

from .config import safe_name
from .data import DATASETS

# The kinds: what a parameter must be, and the fix a student is told. A trailing "?" allows None.
KINDS = {
    "tensor": "a non-empty tensor without NaN or inf",
    "rows": "a non-empty 2-D tensor (N, D) without NaN or inf",
    "image01": "a float tensor of images with values in [0, 1] (divide 0..255 images by 255)",
    "binary": "a float tensor of binarized images, values 0 or 1 only (binarize grey images first)",
    "logits": "a non-empty float tensor without NaN (-inf marks an impossible category)",
    "labels": "an integer tensor of class labels 0..9, or 10 for 'no label'",
    "classes": "an integer tensor of class labels in [0, num_classes)",
    "ints0": "an integer tensor with values >= 0",
    "int+": "an integer >= 1",
    "int0": "an integer >= 0",
    "float": "a finite number",
    "float0": "a finite number >= 0",
    "float+": "a finite number > 0",
    "prob": "a number in [0, 1]",
    "seed": "an integer in [0, 2**32 - 1] (the seeds numpy and torch both accept)",
    "bool": "True or False",
    "module": "a torch.nn.Module",
    "modules": "a list of torch.nn.Module layers",
    "optimizer": "a torch.optim.Optimizer",
    "gen": "a torch.Generator (torch.Generator().manual_seed(0))",
    "fn": "a function",
    "dict": "a dict",
    "dist": "a torch.distributions.Distribution",
    "device": "a device name such as 'cpu' or 'cuda', or a torch.device",
    "dataset": "a dataset name: 'mnist', 'fashion-mnist' or 'svhn'",
    "name": "a plain name (letters, digits, '_', '-', '.')",
    "shape": "a tuple of positive integers",
    "ints+": "a non-empty list or tuple of positive integers",
    "num": "a finite number or a tensor of them",
    "sigmas": "a positive number, or a list or tensor of them",
}

# Every public function and class of the generated modules: "parameter: kind, ..." ("choice:a|b" = one of those
# strings; "is:Name" = an instance of the module's class Name). A parameter not listed is refused by the test.
SPEC: dict[str, dict[str, str]] = {
    "gendisc": {
        "fit_gaussian": "z: rows, ridge: float0",
        "accuracy": "logits_or_labels: tensor, y: ints0",
        "SmallCNN": "in_channels: int+, num_classes: int+, image_size: int+",
        "train_classifier": "x: image01, y: classes, num_epochs: int+, batch_size: int+, lr: float+, generator: gen?",
        "classify": "model: module, x: tensor",
        "fit_diagonal_gaussian": "z: rows, ridge: float0",
        "train_softmax_classifier": "x: tensor, y: classes, hidden: int0, steps: int+, batch_size: int+, lr: float+, "
                                    "num_classes: int+, generator: gen?",
        "auroc": "scores_negative: tensor, scores_positive: tensor",
    },
    "autoencoder": {
        "MLPAutoencoder": "latent_dim: int+, image_shape: shape, hidden: ints+, linear: bool",
        "reconstruction_loss": "model: module, x: image01",
        "pca": "x: tensor, k: int+",
        "pca_reconstruct": "x: tensor, mean: tensor, components: tensor",
        "few_labels": "y: ints0, per_class: int+, generator: gen?",
        "Standardize": "mean: tensor, std: tensor",
        "fit_logistic_regression": "features: rows, labels: ints0, weight_decay: float0, steps: int+",
    },
    "convnets": {
        "conv_transpose2d_scatter": "x: tensor, w: tensor, stride: int+, padding: int0, dilation: int+, "
                                    "output_padding: int0",
        "conv_matrix": "w: tensor, n: int+, stride: int+",
        "conv_output_size": "i: int+, k: int+, s: int+, p: int0, d: int+",
        "conv_transpose_output_size": "i: int+, k: int+, s: int+, p: int0, d: int+, output_padding: int0",
        "design_mirrored": "sizes: ints+, kernel_size: int+",
        "mirrored_encoder_decoder": "sizes: ints+, channels: ints+, kernel_size: int+, upsample: choice:transposed|resize",
        "checkerboard_energy": "y: tensor, period: int+, border: int0",
        "period2_energy": "y: tensor, border: int0",
        "ConvAutoencoder": "latent_dim: int+?, image_shape: shape, channels: ints+, kernel_size: int+, "
                           "upsample: choice:transposed|resize, pixel_mean: prob?",
        "local_checkerboard_energy": "y: tensor, border: int0",
    },
    "denoising": {
        "gaussian_noise": "x: image01, sigma: float0, generator: gen?",
        "salt_and_pepper": "x: image01, p: prob, generator: gen?",
        "masking": "x: image01, p: prob, generator: gen?",
        "corrupt": "x: image01, kind: choice:gaussian|salt_and_pepper|masking, level: float0, generator: gen?",
        "psnr": "x_hat: tensor, x: tensor, max_value: float+",
        "denoising_loss": "model: module, x: image01, kind: choice:gaussian|salt_and_pepper|masking, level: float0, "
                          "generator: gen?",
        "clipped_noise_moments": "x: image01, sigma: float0",
        "best_linear_denoiser": "x_clean: image01, sigma: float0, clipped: bool",
        "apply_linear": "denoiser: dict, x_noisy: tensor",
        "mixture_score": "x: tensor, means: tensor, s: float0, sigma: float0",
        "mixture_posterior_mean": "x_noisy: tensor, means: tensor, s: float0, sigma: float0",
    },
    "vae": {
        "kl_diag_normal": "mu: rows, logvar: rows",
        "reparameterize": "mu: tensor, logvar: tensor, generator: gen?",
        "VAE": "latent_dim: int+, hidden: int+, image_shape: shape",
        "vae_loss": "logits: tensor, x: image01, mu: tensor, logvar: tensor, beta: float0",
        "negative_elbo": "model: module, x: image01, generator: gen?, batch_size: int+, beta: float0",
        "train_vae": "model: module, x: image01, num_epochs: int+, batch_size: int+, lr: float+, beta: float0, "
                     "generator: gen?, x_test: image01?, x_val: image01?",
        "ConvVAE": "latent_dim: int+, image_shape: shape, width: int+",
        "code_use": "model: module, x: image01",
        "code_is_used": "use: dict, min_kl: float0, max_ratio: float+",
    },
    "gan": {
        "discriminator_loss": "real_logits: tensor, fake_logits: tensor",
        "generator_loss": "fake_logits: tensor, loss: choice:nonsaturating|minimax",
        "gan_step": "G: module, D: module, opt_g: optimizer, opt_d: optimizer, x: tensor, z: tensor, y: ints0?, "
                    "loss: choice:nonsaturating|minimax",
        "ring_centers": "num_modes: int+, radius: float+",
        "sample_ring": "n: int+, num_modes: int+, radius: float+, sigma: float0, generator: gen?",
        "high_quality_fraction": "samples: rows, centers: rows, sigma: float+, k: float+",
        "modes_covered": "samples: rows, centers: rows, sigma: float+, k: float+, min_count: int+",
        "MLPGenerator": "latent_dim: int+, hidden: int+, depth: int+, out_dim: int+",
        "MLPDiscriminator": "in_dim: int+, hidden: int+, depth: int+",
        "PackedDiscriminator": "pack: int+, in_dim: int+, hidden: int+, depth: int+",
        "dcgan_init": "module: module",
        "Generator": "latent_dim: int+, num_classes: int+?, width: int+",
        "Discriminator": "num_classes: int+?, width: int+",
        "train_gan": "G: module, D: module, x: tensor, steps: int+, seed: seed, y: ints0?, batch_size: int+, lr: float+, "
                     "snapshots: int0, z_fixed: tensor?, y_fixed: ints0?",
        "train_or_load_conditional_gan": "dataset: dataset, seed: seed, steps: int+, n_train: int+, latent_dim: int+, "
                                         "width_g: int+, width_d: int+, num_classes: int+, device: device",
    },
    "pixelcnn": {
        "binarize": "x: image01, threshold: prob",
        "bits_per_dim": "nll_nats: num, num_dims: int+",
        "causal_mask": "kernel_size: int+, mask_type: choice:A|B",
        "MaskedConv2d": "in_channels: int+, out_channels: int+, kernel_size: int+, mask_type: choice:A|B",
        "PixelCNN": "channels: int+, num_layers: int+, image_shape: shape",
        "nll_per_image": "model: module, x: binary",
        "pixelcnn_loss": "model: module, x: binary",
        "train_pixelcnn": "model: module, x_train: binary, num_steps: int+, batch_size: int+, lr: float+, seed: seed, "
                          "x_test: binary?",
        "stochastic_binarize": "x: image01, generator: gen?",
        "binarization_entropy": "x: image01",
        "sample": "model: module, n: int+, generator: gen?",
    },
    "flows": {
        "standard_normal_log_prob": "z: tensor",
        "AffineCoupling": "mask: tensor, net: module, scale_bound: float+",
        "Flow": "layers: modules, shape: shape",
        "mlp_net": "dim: int+, hidden: int+",
        "realnvp_2d": "num_layers: int+, hidden: int+",
        "sample_moons": "n: int+, noise: float0, generator: gen?",
        "train_flow": "flow: module, loss_fn: fn, x: tensor, num_steps: int+, batch_size: int+, lr: float+, "
                      "generator: gen?, max_grad_norm: float+",
        "nll_loss": "flow: module, x: tensor",
        "dequantize": "x: binary, generator: gen?",
        "image_nll": "flow: module, x: binary, num_samples: int+, generator: gen?",
        "Squeeze": "",
        "Unsqueeze": "",
        "FirstChannels": "flow: module, k: int+",
        "conv_net": "channels: int+, hidden: int+",
        "channel_mask": "channels: int+, parity: choice:0|1",
        "image_flow": "hidden: int+, num_couplings: int+",
        "image_flow_loss": "flow: module, x: binary, generator: gen?",
        "image_flow_settings": "dataset: dataset, seed: seed, num_steps: int+?",
        "train_or_load_flow": "name: name, settings: dict, x_train: tensor, loss: fn, device: device",
        "train_or_load_image_flow": "dataset: dataset, seed: seed, num_steps: int+?, device: device",
        "independent_pixels_nll": "x_train: binary, x: binary",
        "dequantize_uniform": "x: image01, generator: gen?",
        "logit_transform": "y: image01, alpha: prob",
        "bits_per_dim": "nll_nats: num, num_dims: int+",
        "dequantized_nll": "flow: module, x: image01, generator: gen?",
        "pixel_histogram_nll": "x_train: image01, x: image01, smoothing: float+",
        "image_flow_8bit_settings": "dataset: dataset, seed: seed, num_steps: int+?",
        "train_or_load_image_flow_8bit": "dataset: dataset, seed: seed, num_steps: int+?, device: device",
        "sample_images": "flow: module, n: int+, temperature: float0, generator: gen?",
    },
    "diffusion": {
        "Schedule": "num_steps: int+, beta_1: prob, beta_T: prob",
        "q_sample": "x0: tensor, t: ints0, schedule: is:Schedule, noise: tensor",
        "timestep_embedding": "t: tensor, dim: int+",
        "ToyDenoiser": "hidden: int+, emb_dim: int+",
        "ddpm_loss": "model: module, x0: tensor, schedule: is:Schedule, generator: gen, y: labels?",
        "train_steps": "model: module, loss_fn: fn, x: tensor, y: ints0?, num_steps: int+, batch_size: int+, lr: float+, "
                       "generator: gen",
        "sampling_times": "schedule: is:Schedule, steps: int+",
        "reverse_step": "x: tensor, eps: tensor, ab: tensor, ab_prev: tensor, eta: float0, noise: tensor, clip: float+?",
        "guided": "model: module, x: tensor, t: tensor, labels: labels?, guidance: float",
        "drop_labels": "labels: ints0, no_label: int0, p: prob, generator: gen",
        "sample_diffusion": "model: module, shape: shape, schedule: is:Schedule, steps: int+, eta: float0, labels: labels?, "
                            "guidance: float, generator: gen?, clip: float+?, return_path: bool",
        "flow_matching_loss": "model: module, x1: tensor, generator: gen, y: labels?",
        "sample_flow": "model: module, shape: shape, steps: int+, labels: labels?, guidance: float, generator: gen?, "
                       "return_path: bool",
        "Block": "c_in: int+, c_out: int+, emb_dim: int+",
        "TinyUNet": "channels: ints+, emb_dim: int+, num_classes: int+, in_channels: int+",
        "image_data": "dataset: dataset, split: choice:train|test, n: int+?, image_size: int+",
        "image_model": "objective: choice:eps|flow, dataset: dataset, seed: seed, device: device",
        "sample_images": "model: module, n: int+, method: choice:ddpm|ddim|euler, steps: int+, labels: labels?, "
                         "guidance: float, generator: gen?, size: int+?",
    },
    "tokens": {
        "quantize": "z: tensor, codebook: rows",
        "VQVAE": "num_codes: int+, code_dim: int+, channels: ints+",
        "vq_loss": "model: module, x: image01, beta: float0",
        "perplexity": "codes: ints0, num_codes: int+",
        "train_vqvae": "model: module, x: image01, num_steps: int+, batch_size: int+, lr: float+, generator: gen, "
                       "restart_every: int+, restart: bool",
        "token_settings": "",
        "train_or_load_vqvae": "dataset: dataset, seed: seed, device: device, restart: bool",
        "causal_mask": "n: int+, device: device?",
        "SelfAttention": "dim: int+, heads: int+",
        "TransformerBlock": "dim: int+, heads: int+, dropout: prob",
        "TokenTransformer": "num_codes: int+, causal: bool, dim: int+, depth: int+, heads: int+, dropout: prob, "
                            "num_classes: int+",
        "with_label": "model: module, codes: ints0, labels: labels, generator: gen?, label_dropout: prob",
        "ar_loss": "model: module, codes: ints0, labels: labels, generator: gen, label_dropout: prob",
        "code_nll": "model: module, codes: ints0, labels: labels, batch_size: int+",
        "draw": "logits: logits, temperature: float+, generator: gen",
        "sample_ar": "model: module, labels: labels, generator: gen, temperature: float+",
        "masked_loss": "model: module, codes: ints0, labels: labels, generator: gen, label_dropout: prob",
        "cosine_schedule": "step: int0, steps: int+",
        "sample_masked": "model: module, labels: labels, steps: int+, generator: gen, temperature: float+, "
                         "order: choice:random|confidence, schedule: fn",
        "token_models": "dataset: dataset, seed: seed, device: device",
        "sample_tokens": "models: dict, labels: labels, method: choice:ar|masked, steps: int+, generator: gen?, "
                         "temperature: float+",
    },
    "latent": {
        "LatentAutoencoder": "channels: int+, width: int+",
        "draw_latent": "mu: tensor, logvar: tensor, generator: gen?",
        "latent_ae_loss": "model: module, x: image01, beta: float0, generator: gen?",
        "encode_latents": "model: module, x: image01, generator: gen?, batch_size: int+",
        "reflow_loss": "model: module, z0: tensor, z1: tensor, labels: labels, generator: gen, label_dropout: prob",
        "straightness": "model: module, shape: shape, labels: labels, steps: int+, generator: gen",
        "latent_settings": "",
        "train_reflow": "teacher: module, train_labels: labels, checkpoint: name, settings: dict, seed: seed, "
                        "coupling: choice:own|shuffled",
        "latent_models": "dataset: dataset, seed: seed, device: device",
        "sample_latent": "models: dict, labels: labels, steps: int+, which: choice:flow|reflow|pixel, guidance: float, "
                         "generator: gen?",
    },
    "evaluation": {
        "iwae_bound": "model: module, x: image01, k: int+, generator: gen?, batch_size: int+, prior: dist?",
        "parzen_log_likelihood": "samples: rows, test: rows, sigma: float+, batch_size: int+",
        "choose_parzen_sigma": "samples: rows, validation: rows, sigmas: sigmas?",
        "mmd": "a: rows, b: rows, sigma: sigmas, unbiased: bool",
        "frechet_distance": "mu1: tensor, cov1: tensor, mu2: tensor, cov2: tensor",
        "fid": "feats_a: rows, feats_b: rows",
        "kid": "feats_a: rows, feats_b: rows",
        "precision_recall": "real_feats: rows, fake_feats: rows, k: int+",
        "density_coverage": "real_feats: rows, fake_feats: rows, k: int+",
        "Scoreboard": "features: fn, x_real: image01, n: int+, repeats: int+, seed: seed, judge: module?",
    },
}

# Checks between parameters: (the condition on the bound arguments, the message when it fails).
RELATIONS: dict[str, list[tuple[Callable[[dict], bool], str]]] = {
    "convnets.conv_transpose2d_scatter": [
        (lambda a: a["x"].ndim == 4 and a["w"].ndim == 4 and a["x"].shape[1] == a["w"].shape[0],
         "x (B, C_in, H, W) and w (C_in, C_out, k, k) must agree on C_in: got x {x_shape} and w {w_shape}")],
    "vae.kl_diag_normal": [(lambda a: a["mu"].shape == a["logvar"].shape,
                            "mu and logvar must have the same shape (B, D): got {mu_shape} and {logvar_shape}")],
    "vae.reparameterize": [(lambda a: a["mu"].shape == a["logvar"].shape,
                            "mu and logvar must have the same shape: got {mu_shape} and {logvar_shape}")],
    "latent.draw_latent": [(lambda a: a["mu"].shape == a["logvar"].shape,
                            "mu and logvar must have the same shape: got {mu_shape} and {logvar_shape}")],
    "evaluation.fid": [(lambda a: a["feats_a"].shape[1] == a["feats_b"].shape[1],
                        "feats_a and feats_b must have the same D (feature size): got {feats_a_shape} and "
                        "{feats_b_shape}")],
    "pixelcnn.causal_mask": [(lambda a: a["kernel_size"] % 2 == 1,
                              "kernel_size must be odd so that the kernel has a centre pixel: got {kernel_size}")],
}

_state = threading.local()


class BadArgument(ValueError, TypeError):
    """A lesson function's argument of the wrong kind: both a ValueError and a TypeError, so either except catches it."""


def _describe(name: str, value: Any) -> str:
    if isinstance(value, torch.Tensor):
        return f"{name} (a {str(value.dtype).replace('torch.', '')} tensor of shape {tuple(value.shape)})"
    text = repr(value)
    return f"{name}=" + (text if len(text) <= 60 else text[:57] + "...")


def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _is_number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def _tensor_problem(v: Any, *, floating: bool = False) -> str | None:
    if not isinstance(v, torch.Tensor):
        return "it is not a tensor"
    if v.numel() == 0:
        return "it is empty"
    if floating and not v.is_floating_point():
        return f"its dtype is {v.dtype}, not a float type"
    if v.is_floating_point() and not bool(torch.isfinite(v).all()):
        return "it contains NaN or inf"
    return None


def _int_tensor_problem(v: Any, low: int, high: int | None) -> str | None:
    if not isinstance(v, torch.Tensor):
        return "it is not a tensor"
    if v.numel() == 0:
        return "it is empty"
    if v.is_floating_point() or v.is_complex() or v.dtype == torch.bool:
        return f"its dtype is {v.dtype}, not an integer type (use .long())"
    lo, hi = int(v.min()), int(v.max())
    if lo < low:
        return f"it contains {lo}"
    if high is not None and hi >= high:
        return f"it contains {hi}"
    return None


def problem(kind: str, value: Any, args: dict[str, Any] | None = None, namespace: dict | None = None) -> str | None:
    """What is wrong with `value` as a parameter of this kind, or None if nothing is."""
    if kind.endswith("?"):
        if value is None:
            return None
        kind = kind[:-1]
    if kind.startswith("choice:"):
        options = kind[len("choice:"):].split("|")
        ok = (isinstance(value, str) or _is_int(value)) and str(value) in options
        return None if ok else "it is not one of " + ", ".join(repr(o if not o.isdigit() else int(o)) for o in options)
    if kind.startswith("is:"):
        cls = (namespace or {}).get(kind[3:])
        return None if cls is not None and isinstance(value, cls) else f"it is not a {kind[3:]}"
    if kind == "tensor":
        return _tensor_problem(value)
    if kind == "rows":
        return _tensor_problem(value) or (None if value.ndim == 2 else f"it has {value.ndim} dimensions, not 2")
    if kind in ("image01", "binary"):
        bad = _tensor_problem(value, floating=True)
        if bad:
            return bad
        lo, hi = float(value.min()), float(value.max())
        if lo < 0 or hi > 1:
            return f"its values run from {lo:g} to {hi:g}"
        if kind == "binary" and not bool(((value == 0) | (value == 1)).all()):
            return "it has values between 0 and 1"
        return None
    if kind == "logits":
        if not isinstance(value, torch.Tensor) or value.numel() == 0 or not value.is_floating_point():
            return "it is not a non-empty float tensor"
        return "it contains NaN" if bool(torch.isnan(value).any()) else None
    if kind == "labels":
        return _int_tensor_problem(value, 0, 11)
    if kind == "classes":
        n = (args or {}).get("num_classes", 10)
        return _int_tensor_problem(value, 0, n if _is_int(n) else 10)
    if kind == "ints0":
        return _int_tensor_problem(value, 0, None)
    if kind in ("int+", "int0"):
        if not _is_int(value):
            return "it is not an integer"
        low = 1 if kind == "int+" else 0
        return None if value >= low else f"it is below {low}"
    if kind in ("float", "float0", "float+", "prob"):
        if not isinstance(value, (int, float)) or isinstance(value, bool):
            return "it is not a number"
        if not math.isfinite(value):
            return "it is NaN or infinite"
        if kind == "float0" and value < 0 or kind == "float+" and value <= 0:
            return "it is out of range"
        return "it is outside [0, 1]" if kind == "prob" and not 0 <= value <= 1 else None
    if kind == "seed":
        return None if _is_int(value) and 0 <= value < 2**32 else "it is not an integer in [0, 2**32 - 1]"
    if kind == "bool":
        return None if isinstance(value, bool) else "it is not True or False"
    if kind == "module":
        return None if isinstance(value, torch.nn.Module) else "it is not a torch.nn.Module"
    if kind == "modules":
        ok = isinstance(value, (list, tuple, torch.nn.ModuleList)) and all(isinstance(m, torch.nn.Module) for m in value)
        return None if ok else "it is not a list of modules"
    if kind == "optimizer":
        return None if isinstance(value, torch.optim.Optimizer) else "it is not an optimizer"
    if kind == "gen":
        return None if isinstance(value, torch.Generator) else "it is not a torch.Generator"
    if kind == "fn":
        return None if callable(value) else "it is not callable"
    if kind == "dict":
        return None if isinstance(value, dict) else "it is not a dict"
    if kind == "dist":
        return None if isinstance(value, torch.distributions.Distribution) else "it is not a Distribution"
    if kind == "device":
        if not isinstance(value, (str, torch.device)):
            return "it is not a device name"
        try:
            torch.device(value)
        except (RuntimeError, ValueError):
            return "torch does not know this device"
        return None
    if kind == "dataset":
        return None if isinstance(value, str) and value in DATASETS else "the course knows no such dataset"
    if kind == "name":
        try:
            safe_name(value, "name")
        except ValueError:
            return "it is not a plain name (no folders, no '..')"
        return None
    if kind in ("shape", "ints+"):
        ok = isinstance(value, (tuple, list, torch.Size)) and len(value) > 0 and \
            all(_is_int(v) and v >= 1 for v in value)
        if kind == "shape" and isinstance(value, list):
            ok = False
        return None if ok else f"it is not {KINDS[kind]}"
    if kind == "num":
        if isinstance(value, torch.Tensor):
            return _tensor_problem(value)
        return None if _is_number(value) else "it is not a finite number"
    if kind == "sigmas":
        if isinstance(value, torch.Tensor):
            bad = _tensor_problem(value)
            return bad or (None if bool((value > 0).all()) else "it has values <= 0")
        values = value if isinstance(value, (list, tuple)) else [value]
        if not values or not all(_is_number(v) for v in values):
            return "it is not a number or a non-empty list of them"
        return None if all(v > 0 for v in values) else "it has values <= 0"
    raise KeyError(f"guards: unknown kind {kind!r}")


def parse(spec: str) -> dict[str, str]:
    return {name.strip(): kind.strip() for name, kind in
            (item.split(":", 1) for item in spec.split(", ") if item.strip())}


def check(qualname: str, signature: inspect.Signature, args: tuple, kwargs: dict, kinds: dict[str, str],
          namespace: dict) -> None:
    """Raise a ValueError (bad value) or TypeError (wrong type) naming the first bad parameter of this call."""
    try:
        bound = signature.bind_partial(*args, **kwargs)
    except TypeError:
        return                      # a missing or unknown argument: Python's own message says which
    given = bound.arguments
    for name, kind in kinds.items():
        if name not in given:
            continue
        bad = problem(kind, given[name], given, namespace)
        if bad:
            base = kind.rstrip("?")
            wanted = KINDS.get(base, "one of " + ", ".join(map(repr, base.split(":", 1)[1].split("|")))
                               if base.startswith("choice:") else f"a {base[3:]}")
            if kind.endswith("?"):
                wanted += ", or None"
            error = BadArgument
            if base.startswith("choice:"):
                raise error(f"{qualname}: {_describe(name, given[name])} is not {wanted}")
            raise error(f"{qualname}: {_describe(name, given[name])}: {bad}; {name} must be {wanted}")
    for ok, message in RELATIONS.get(qualname, []):
        try:
            holds = ok(given)
        except (KeyError, AttributeError, IndexError, TypeError):
            continue                # a parameter it needs was not given (its default applies)
        if not holds:
            fields = {**{f"{k}_shape": tuple(getattr(v, "shape", ())) for k, v in given.items()}, **given}
            raise BadArgument(f"{qualname}: " + message.format(**fields))


def _guarded(qualname: str, fn: Callable, kinds: dict[str, str], namespace: dict) -> Callable:
    signature = inspect.signature(fn)

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        if getattr(_state, "depth", 0):
            return fn(*args, **kwargs)
        _state.depth = 1
        try:
            check(qualname, signature, args, kwargs, kinds, namespace)
            return fn(*args, **kwargs)
        finally:
            _state.depth = 0
    wrapper.__guarded__ = True
    return wrapper


def guard_module(namespace: dict) -> None:
    """Wrap every public function and class constructor of a generated module with its SPEC checks."""
    module = namespace["__name__"].rsplit(".", 1)[-1]
    spec = SPEC.get(module, {})
    for name, obj in list(namespace.items()):
        if name not in spec or getattr(obj, "__module__", None) != namespace["__name__"]:
            continue
        kinds = parse(spec[name])
        qualname = f"{module}.{name}"
        if inspect.isclass(obj):
            if "__init__" in vars(obj) and not getattr(obj.__init__, "__guarded__", False):
                init = _guarded(qualname, obj.__init__, kinds, namespace)
                init.__signature__ = inspect.signature(obj.__init__)
                obj.__init__ = init
        elif inspect.isfunction(obj) and not getattr(obj, "__guarded__", False):
            namespace[name] = _guarded(qualname, obj, kinds, namespace)


def public_callables(module) -> dict[str, Any]:
    """The public functions and classes a generated module defines (what SPEC must cover)."""
    return {n: o for n, o in vars(module).items() if not n.startswith("_") and
            (inspect.isfunction(o) or inspect.isclass(o)) and o.__module__ == module.__name__}
