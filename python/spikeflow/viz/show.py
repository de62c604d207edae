"""``render_file``: any supported recording -> a PNG overview (used by ``spikeflow show``)."""
from __future__ import annotations

import os

import numpy as np

from spikeflow.viz._common import new_figure
from spikeflow.viz.frames import plot_event_frame, plot_event_grid, plot_event_rate
from spikeflow.viz.raster import raster

__all__ = ["render_file"]


def render_file(path: str | os.PathLike, out_png: str | os.PathLike, n_frames: int = 6, dpi: int = 110) -> str:
    """Decode ``path`` (any format :func:`spikeflow.data.read` supports) and save an
    overview PNG to ``out_png``: for 2-D events a whole-recording frame, ``n_frames`` time
    slices and the ON/OFF event rate; for 1-D spike files a raster. Returns ``out_png``.

    Raises the reader's exceptions (``EventFormatError``, ``FileNotFoundError``) unchanged.
    """
    from spikeflow.data.readers import read, read_info

    src = os.fspath(path)
    out = os.fspath(out_png)
    name = os.path.basename(src)
    if src.lower().endswith(".bs1"):
        ev = read(src)
        fig = new_figure(8, 4, dpi)
        raster(ev["t"] / 1e3, ev["x"], fig.add_subplot(1, 1, 1), ylabel="channel",
               title=f"{name}: {len(ev):,} spikes")
        fig.savefig(out)
        return out
    ev, info = read_info(src)
    if info.sensor_size is not None:
        w, h = info.sensor_size[0], info.sensor_size[1]
    elif len(ev):
        w, h = int(ev["x"].max()) + 1, int(ev["y"].max()) + 1
    else:
        w, h = 1, 1
    span = (int(ev["t"].max()) - int(ev["t"].min())) / 1e3 if len(ev) else 0.0
    on = float(np.mean(ev["p"])) if len(ev) else 0.0
    fig = new_figure(12, 7.5, dpi)
    sub = fig.subfigures(1, 2, width_ratios=[1, 2])
    plot_event_frame(ev, (w, h), sub[0].add_subplot(2, 1, 1), title="all events")
    plot_event_rate(ev, sub[0].add_subplot(2, 1, 2))
    plot_event_grid(ev, (w, h), n_frames=n_frames, ncols=3, fig=sub[1])
    fig.suptitle(
        f"{name} — {info.format}, {w}x{h}, {len(ev):,} events over {span:.1f} ms, {on:.0%} ON",
        fontsize=11,
    )
    fig.savefig(out)
    return out
