"""Figures used across the course: image grids, comparisons, latent scatters, loss curves (01)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import matplotlib.pyplot as plt
import torch
from matplotlib.figure import Figure
from torchvision.utils import make_grid

# One style for the whole course, sized for a slide.
plt.rcParams.update({
    # fonts of 12 pt or more: at least 16 px on a 1280x720 slide (tools/slides/measure.py checks it)
    "figure.figsize": (6.4, 4.0), "figure.dpi": 100, "axes.grid": False, "font.size": 12, "axes.titlesize": 13,
    "axes.labelsize": 12, "xtick.labelsize": 12, "ytick.labelsize": 12, "legend.fontsize": 12,
    "figure.titlesize": 13, "image.cmap": "gray", "image.interpolation": "nearest",
    "axes.spines.top": False, "axes.spines.right": False, "legend.frameon": False,
})
# Colours a colour-blind reader can tell apart (Tableau's colour-blind-safe ten), for lines and for labels.
CB_COLOURS = plt.style.library["tableau-colorblind10"]["axes.prop_cycle"].by_key()["color"]
plt.rcParams["axes.prop_cycle"] = plt.cycler(color=CB_COLOURS)
# An opaque white background, also in the inline backend (whose default is transparent): black text stays
# readable on a dark JupyterLab or Colab theme.
OPAQUE = {"figure.facecolor": "white", "figure.edgecolor": "white", "savefig.facecolor": "white",
          "savefig.edgecolor": "white", "axes.facecolor": "white"}
plt.rcParams.update(OPAQUE)
LABEL_CMAP = plt.matplotlib.colors.ListedColormap(CB_COLOURS, name="course_labels")  # same label, same colour
QUICK_MARK = "quick mode: too short a run to show the result"
_original_print_figure = None


def mark_quick_figures(enabled: bool) -> None:
    """In quick mode, stamp every figure the notebook shows with QUICK_MARK, so that a grey blob from a
    seconds-long training run is never mistaken for the lecture's result (01)."""
    from matplotlib.backend_bases import FigureCanvasBase

    global _original_print_figure
    if _original_print_figure is None:
        _original_print_figure = FigureCanvasBase.print_figure

        def print_figure(self, *args, **kwargs):
            fig = self.figure
            if _QUICK_STAMP[0] and not getattr(fig, "_quick_marked", False):
                fig.text(0.99, 0.005, QUICK_MARK, ha="right", va="bottom", fontsize=8, color="tab:red", alpha=0.9)
                fig._quick_marked = True
            return _original_print_figure(self, *args, **kwargs)

        FigureCanvasBase.print_figure = print_figure
    _QUICK_STAMP[0] = bool(enabled)


_QUICK_STAMP = [False]


def describe_figure(fig: Figure, limit: int = 600) -> str:
    """Alternative text for a figure, from what it shows: its title, each panel's title, axes, kind of content
    and legend (01). A screen reader, a slide without its image, and the course website read it."""
    if not isinstance(fig, Figure):
        raise TypeError(f"describe_figure: fig must be a matplotlib Figure, got {type(fig).__name__}")

    def text(t) -> str:
        return t.get_text().strip() if t is not None else ""

    parts = []
    title = text(getattr(fig, "_suptitle", None))
    panels = [ax for ax in fig.axes if ax.get_visible() and (ax.has_data() or ax.images or text(ax.title))]
    parts.append(f"Figure{': ' + title if title else ''}, {len(panels)} panel{'s' if len(panels) != 1 else ''}.")
    for i, ax in enumerate(panels, 1):
        kinds = []
        if ax.images:
            kinds.append("image" if len(ax.images) == 1 else f"{len(ax.images)} images")
        if ax.lines:
            kinds.append("line plot" if len(ax.lines) == 1 else f"{len(ax.lines)} lines")
        if ax.collections:
            kinds.append("scatter or filled areas")
        if ax.patches:
            kinds.append("bars")
        xl, yl = text(ax.xaxis.label), text(ax.yaxis.label)
        axes = f" of {yl or 'y'} against {xl or 'x'}" if (xl or yl) and not ax.images else ""
        legend = ax.get_legend()
        series = [text(t) for t in legend.get_texts()] if legend is not None else []
        parts.append(f"Panel {i}{' ' + repr(text(ax.title)) if text(ax.title) else ''}: "
                     f"{', '.join(kinds) or 'empty'}{axes}" + (f"; series: {', '.join(series)}" if series else "") + ".")
    out = " ".join(parts)
    return out if len(out) <= limit else out[:limit - 3] + "..."


def accessible_figures() -> None:
    """In a notebook, every figure the inline backend shows carries alternative text in its output's metadata
    (image/png: {"alt": ...}, read by JupyterLab, nbconvert's HTML and the slides) on an opaque background (01)."""
    plt.rcParams.update(OPAQUE)          # again: the inline backend sets a transparent one when it starts
    try:
        from IPython import get_ipython
    except ImportError:
        return
    shell = get_ipython()
    if shell is None or not hasattr(shell, "display_formatter"):
        return
    if "inline" in str(plt.matplotlib.rcParams._get("backend")):   # the inline backend registers its figure
        import matplotlib_inline.backend_inline  # noqa: F401          # formatter on import: do it now, then wrap it
    png = shell.display_formatter.formatters["image/png"]
    try:
        show = png.lookup_by_type(Figure)
    except KeyError:
        return
    if getattr(show, "_with_alt", False):
        return

    def with_alt(fig):
        data = show(fig)
        return None if data is None else (data, {"alt": describe_figure(fig)})

    with_alt._with_alt = True
    png.for_type(Figure, with_alt)


def _check_images(x: torch.Tensor, what: str = "images") -> torch.Tensor:
    if not isinstance(x, torch.Tensor):
        raise ValueError(f"{what}: expected a torch.Tensor of shape (N, C, H, W) with C in (1, 3), got {type(x).__name__}")
    if x.ndim == 3:  # (N, H, W) -> one channel
        x = x.unsqueeze(1)
    if x.ndim != 4 or x.shape[1] not in (1, 3):
        raise ValueError(f"{what}: expected shape (N, C, H, W) or (N, H, W) with C in (1, 3), got {tuple(x.shape)}")
    if len(x) == 0:
        raise ValueError(f"{what}: the batch is empty; pass at least one image")
    x = x.detach().float().cpu()
    if not torch.isfinite(x).all():
        raise ValueError(f"{what}: {int((~torch.isfinite(x)).sum())} pixels are NaN or infinite; the model or data "
                         "that produced them has diverged")
    if x.max() > 2.0 or x.min() < -1.0:
        raise ValueError(f"{what}: pixel values range over [{x.min():.3g}, {x.max():.3g}], but images are shown in "
                         "[0, 1]; divide 0..255 images by 255 (lh.load already returns [0, 1])")
    return x.clamp(0, 1)


def _check_positive_int(value, name: str) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{name}={value!r} must be a whole number >= 1")


def _grid(x: torch.Tensor, nrow: int) -> torch.Tensor:
    return make_grid(x, nrow=nrow, padding=1, pad_value=1.0).permute(1, 2, 0)


def show_images(x: torch.Tensor, nrow: int = 8, title: str | None = None,
                row_labels: Sequence[str] | None = None, ax: plt.Axes | None = None,
                scale: float = 0.6) -> Figure:
    """Show a batch of images (N x C x H x W, C in 1 or 3) as a grid at true pixels; return the Figure (01)."""
    _check_positive_int(nrow, "nrow")
    if not isinstance(scale, (int, float)) or isinstance(scale, bool) or not 0 < scale < 100:
        raise ValueError(f"scale={scale!r} must be a positive number (inches per image), e.g. 0.6")
    x = _check_images(x)
    if row_labels is not None and (isinstance(row_labels, str) or len(row_labels) != -(-len(x) // min(nrow, len(x)))):
        raise ValueError(f"row_labels: expected one label per row ({-(-len(x) // min(nrow, len(x)))} rows), "
                         f"got {row_labels!r}")
    nrow = max(1, min(nrow, len(x)))
    rows = -(-len(x) // nrow)
    if ax is None:
        fig, ax = plt.subplots(figsize=(max(2.0, scale * nrow), max(1.0, scale * rows) + (0.4 if title else 0)))
    else:
        fig = ax.figure
    grid = _grid(x, nrow)
    ax.imshow(grid.squeeze(-1) if x.shape[1] == 1 else grid, cmap="gray", vmin=0, vmax=1, interpolation="nearest")
    ax.set_xticks([])
    ax.set_yticks([])
    for side in ("left", "right", "top", "bottom"):
        ax.spines[side].set_visible(False)
    if row_labels is not None:
        h = x.shape[2] + 1
        ax.set_yticks([1 + h * (i + 0.5) for i in range(len(row_labels))], labels=list(row_labels))
        ax.tick_params(left=False)
    if title:
        ax.set_title(title)
    return fig


def compare_images(rows: Mapping[str, torch.Tensor], n: int = 8, title: str | None = None) -> Figure:
    """Show several image batches as labelled rows, e.g. {"input": x, "reconstruction": x_hat} (02)."""
    if not isinstance(rows, Mapping) or not rows:
        raise ValueError("rows: compare_images needs a dict of at least one row, e.g. {'input': x, 'reconstruction': x_hat}")
    _check_positive_int(n, "n")
    batch = [_check_images(v[:n], what=f"row {k!r}") for k, v in rows.items()]
    shapes = {tuple(b.shape[1:]) for b in batch}
    if len(shapes) != 1:
        raise ValueError(f"compare_images: every row must have the same image shape (C, H, W), got {sorted(shapes)}")
    n = min(len(b) for b in batch)
    fig = show_images(torch.cat([b[:n] for b in batch]), nrow=n, title=title, row_labels=list(rows))
    return fig


def latent_scatter(z: torch.Tensor, labels: torch.Tensor | None = None, title: str = "latent codes",
                   ax: plt.Axes | None = None, s: float = 4.0, class_names: Sequence[str] | None = None) -> Figure:
    """Scatter 2-D codes (N x 2), coloured by label with the course's fixed colour-blind-safe colours (02)."""
    if not isinstance(z, torch.Tensor) or z.ndim != 2 or z.shape[1] != 2:
        raise ValueError(f"latent_scatter: expected codes of shape (N, 2), got "
                         f"{tuple(z.shape) if isinstance(z, torch.Tensor) else type(z).__name__}")
    z = z.detach().float().cpu()
    if not torch.isfinite(z).all():
        raise ValueError("latent_scatter: z holds NaN or infinite codes; the encoder that produced them has diverged")
    if labels is not None and (not isinstance(labels, torch.Tensor) or labels.dtype.is_floating_point):
        raise ValueError(f"labels must be an integer tensor of shape ({len(z)},), got "
                         f"{labels.dtype if isinstance(labels, torch.Tensor) else type(labels).__name__}")
    if labels is not None and len(labels) and int(labels.min()) < 0:
        raise ValueError(f"labels contain {int(labels.min())}: class labels start at 0 (a negative label would be "
                         "drawn under another class's colour and name)")
    if labels is not None and class_names is not None and len(labels) and int(labels.max()) >= len(class_names):
        raise ValueError(f"class_names has {len(class_names)} names but labels go up to {int(labels.max())}")
    if ax is None:
        fig, ax = plt.subplots(figsize=(5.0, 4.5))
    else:
        fig = ax.figure
    if labels is None:
        ax.scatter(z[:, 0], z[:, 1], s=s, alpha=0.6)
    else:
        labels = labels.detach().cpu()
        if labels.shape != (len(z),):
            raise ValueError(f"latent_scatter: expected labels of shape ({len(z)},), got {tuple(labels.shape)}")
        for c in labels.unique().tolist():
            m = labels == c
            name = class_names[c] if class_names is not None else str(c)
            ax.scatter(z[m, 0], z[m, 1], s=s, alpha=0.6, color=LABEL_CMAP(c % 10), label=name)
        ax.legend(markerscale=3, loc="best", fontsize=8, ncol=2)
    ax.set_xlabel("$z_1$")
    ax.set_ylabel("$z_2$")
    ax.set_title(title)
    return fig


def loss_curves(history: Mapping[str, Sequence[float]], title: str = "training loss",
                xlabel: str = "epoch", ylabel: str = "loss", logy: bool = False) -> Figure:
    """Plot one or more loss series, e.g. {"train": [...], "test": [...]} (02)."""
    if not isinstance(history, Mapping) or not history or not all(len(v) for v in history.values()):
        raise ValueError("history: loss_curves expects a mapping of series name -> non-empty list of numbers")
    for name, values in history.items():
        bad = [v for v in values if not isinstance(v, (int, float)) or v != v or v in (float("inf"), float("-inf"))]
        if bad:
            raise ValueError(f"history[{name!r}] holds {bad[0]!r}: a NaN or infinite loss means training diverged "
                             "(lower the learning rate); only finite numbers can be plotted")
    fig, ax = plt.subplots()
    for name, values in history.items():
        ax.plot(range(1, len(values) + 1), values, marker="o" if len(values) < 30 else None, label=name)
    if len(history) > 1:
        ax.legend()
    if logy:
        ax.set_yscale("log")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    return fig
