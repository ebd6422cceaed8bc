"""Interactive figures that also render headless: a static figure plus sliders that redraw it (04)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import matplotlib.pyplot as plt
from matplotlib.figure import Figure


def slider(description: str, min: float, max: float, step: float, value: float):
    """An ipywidgets slider (IntSlider for integer arguments) that updates on release (04)."""
    import ipywidgets as widgets

    if not isinstance(description, str):
        raise ValueError(f"description={description!r} must be a string (the slider's label)")
    for name, v in (("min", min), ("max", max), ("step", step), ("value", value)):
        if isinstance(v, bool) or not isinstance(v, (int, float)) or v != v:
            raise ValueError(f"{name}={v!r} must be a number")
    if not min < max:
        raise ValueError(f"min={min!r} must be smaller than max={max!r}")
    if not 0 < step <= max - min:
        raise ValueError(f"step={step!r} must be positive and at most max - min = {max - min!r}")
    if not min <= value <= max:
        raise ValueError(f"value={value!r} must lie between min={min!r} and max={max!r}")
    cls = widgets.IntSlider if all(isinstance(v, int) for v in (min, max, step, value)) else widgets.FloatSlider
    return cls(description=description, min=min, max=max, step=step, value=value, continuous_update=False)


def interactive_figure(plot: Callable[..., Figure], **controls: Any) -> None:
    """Display plot(**defaults) as an ordinary figure output and ipywidgets controls that redraw it in place (04).

    `controls` maps each keyword of `plot` to an ipywidgets control (e.g. from `slider`). Executed
    headless (nbval, papermill, nbconvert) the notebook keeps the static figure for the default
    values; in JupyterLab moving a control replaces that same figure (IPython display_id update).
    """
    import ipywidgets as widgets
    from IPython.display import display

    if not callable(plot):
        raise ValueError(f"plot must be a function returning a matplotlib Figure, got {type(plot).__name__}")
    if not controls:
        raise ValueError("interactive_figure needs at least one control, e.g. noise=slider('noise', 0, 1, 0.1, 0.5)")
    for name, control in controls.items():
        if not hasattr(control, "value") or not hasattr(control, "observe"):
            raise ValueError(f"control {name!r} must be an ipywidgets control with .value (use labhelpers.slider)")

    def render() -> Figure:
        fig = plot(**{name: c.value for name, c in controls.items()})
        if not isinstance(fig, Figure):
            raise ValueError(f"{getattr(plot, '__name__', 'plot')} must return a matplotlib Figure, got {type(fig).__name__}")
        plt.close(fig)  # shown through the display handle only, never twice
        return fig

    handle = display(render(), display_id=True)
    for control in controls.values():
        control.observe(lambda _change: handle.update(render()), names="value")
    display(widgets.HBox(list(controls.values())))
