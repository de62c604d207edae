"""Shared helpers of the plotting modules: Agg figures without pyplot, ON/OFF colours."""
from __future__ import annotations

import numpy as np

#: Colour of ON (brightness increase) events.
ON_COLOR = (0.84, 0.15, 0.16)
#: Colour of OFF (brightness decrease) events.
OFF_COLOR = (0.12, 0.47, 0.71)


def new_figure(width: float, height: float, dpi: int = 100, layout: str | None = "constrained"):
    """A matplotlib Figure on an Agg canvas (no GUI, no global pyplot state)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), dpi=dpi, layout=layout)
    FigureCanvasAgg(fig)
    return fig


def polarity_image(on: np.ndarray, off: np.ndarray, gamma: float = 0.5) -> np.ndarray:
    """An RGB image (H, W, 3) on white: ON counts tint towards :data:`ON_COLOR`, OFF counts
    towards :data:`OFF_COLOR` (both: a mix), saturating at the 99th percentile."""
    on = np.asarray(on, np.float64)
    off = np.asarray(off, np.float64)
    scale = np.percentile(np.concatenate([on[on > 0], off[off > 0]]) if (on.any() or off.any()) else [1.0], 99)
    a_on = np.clip(on / max(scale, 1e-9), 0, 1) ** gamma
    a_off = np.clip(off / max(scale, 1e-9), 0, 1) ** gamma
    img = np.ones(on.shape + (3,))
    for a, c in ((a_on, ON_COLOR), (a_off, OFF_COLOR)):
        img = img * (1 - a[..., None]) + np.asarray(c) * a[..., None]
    return img
