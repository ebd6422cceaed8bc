"""labhelpers.plotting: every figure helper returns a Figure and rejects wrong shapes clearly."""

import matplotlib.pyplot as plt
import pytest
import torch
from matplotlib.figure import Figure

import labhelpers as lh


@pytest.fixture(autouse=True)
def _close():
    yield
    plt.close("all")


@pytest.mark.parametrize("shape", [(1, 1, 28, 28), (10, 1, 28, 28), (7, 3, 32, 32), (5, 28, 28)])
def test_show_images_any_batch_and_channels(shape):
    fig = lh.show_images(torch.rand(shape), nrow=4, title="t")
    assert isinstance(fig, Figure)
    img = fig.axes[0].images[0].get_array()
    n, h = shape[0], shape[-2]
    rows = -(-n // min(4, n))
    # a grid of rows with 1-pixel padding (torchvision returns a single image unpadded)
    assert img.shape[0] == (h if n == 1 else rows * (h + 1) + 1)


def test_show_images_row_labels():
    fig = lh.show_images(torch.rand(6, 1, 8, 8), nrow=3, row_labels=["a", "b"])
    assert [t.get_text() for t in fig.axes[0].get_yticklabels()] == ["a", "b"]


@pytest.mark.parametrize("bad", [torch.rand(2, 2, 8, 8), torch.rand(8, 8), torch.rand(1, 1, 1, 8, 8)])
def test_show_images_rejects_wrong_shapes(bad):
    with pytest.raises(ValueError, match=r"\(N, C, H, W\)"):
        lh.show_images(bad)


def test_compare_images():
    x = torch.rand(10, 1, 28, 28)
    fig = lh.compare_images({"input": x, "reconstruction": x.flip(0)}, n=6)
    assert [t.get_text() for t in fig.axes[0].get_yticklabels()] == ["input", "reconstruction"]
    with pytest.raises(ValueError, match="same image shape"):
        lh.compare_images({"a": torch.rand(2, 1, 28, 28), "b": torch.rand(2, 1, 14, 14)})
    with pytest.raises(ValueError, match="at least one row"):
        lh.compare_images({})


def test_latent_scatter_colours_by_label():
    z = torch.randn(30, 2)
    y = torch.arange(30) % 3
    fig = lh.latent_scatter(z, y)
    assert len(fig.axes[0].collections) == 3
    assert [t.get_text() for t in fig.axes[0].get_legend().get_texts()] == ["0", "1", "2"]
    with pytest.raises(ValueError, match=r"\(N, 2\)"):
        lh.latent_scatter(torch.randn(5, 3))
    with pytest.raises(ValueError, match="labels of shape"):
        lh.latent_scatter(z, y[:5])


def test_loss_curves():
    fig = lh.loss_curves({"train": [3, 2, 1], "test": [3.5, 2.5, 2.0]}, logy=True)
    ax = fig.axes[0]
    assert len(ax.lines) == 2 and ax.get_yscale() == "log"
    with pytest.raises(ValueError, match="non-empty"):
        lh.loss_curves({"train": []})
