"""Event-frame grids with ON/OFF colouring, and an event-rate plot."""
from __future__ import annotations

from typing import Any

import numpy as np

from spikeflow.viz._common import OFF_COLOR, ON_COLOR, new_figure, polarity_image

__all__ = ["plot_event_frame", "plot_event_grid", "plot_event_rate"]


def _frames(events, sensor_size, n_frames):
    from spikeflow.data.frames import to_frames

    w, h = int(sensor_size[0]), int(sensor_size[1])
    if len(events) == 0:
        return np.zeros((n_frames, 2, h, w)), np.zeros(n_frames + 1)
    f = to_frames(events, (w, h, 2), n_time_bins=n_frames)
    t0, t1 = int(events["t"].min()), int(events["t"].max())
    edges = t0 + (np.arange(n_frames + 1) * (t1 - t0 + 1)) / n_frames
    return f, edges


def plot_event_frame(events: np.ndarray, sensor_size, ax: Any = None, title: str | None = None):
    """All events accumulated into one frame: ON red, OFF blue, both purple (white = none)."""
    f, _ = _frames(events, sensor_size, 1)
    if ax is None:
        ax = new_figure(4, 4).add_subplot(1, 1, 1)
    ax.imshow(polarity_image(f[0, 1], f[0, 0]), interpolation="nearest")
    ax.set_xticks([])
    ax.set_yticks([])
    if title:
        ax.set_title(title, fontsize=9)
    return ax


def plot_event_grid(events: np.ndarray, sensor_size, n_frames: int = 8, ncols: int | None = None, fig: Any = None):
    """A grid of ``n_frames`` equal-duration event frames (ON red, OFF blue), each titled
    with its time span in ms. Returns the Figure."""
    if n_frames <= 0:
        raise ValueError("n_frames must be positive")
    f, edges = _frames(events, sensor_size, n_frames)
    ncols = ncols or min(n_frames, 4)
    nrows = int(np.ceil(n_frames / ncols))
    w, h = int(sensor_size[0]), int(sensor_size[1])
    cell = 2.4
    fig = fig or new_figure(cell * ncols, cell * nrows * h / w + 0.4)
    t0 = edges[0]
    for k in range(n_frames):
        ax = fig.add_subplot(nrows, ncols, k + 1)
        ax.imshow(polarity_image(f[k, 1], f[k, 0]), interpolation="nearest")
        ax.set_xticks([])
        ax.set_yticks([])
        ax.set_title(f"{(edges[k] - t0) / 1e3:.0f}-{(edges[k + 1] - t0) / 1e3:.0f} ms", fontsize=8)
    return fig


def plot_event_rate(events: np.ndarray, ax: Any = None, bin_us: float | None = None):
    """ON and OFF event rates over time (events/s)."""
    if ax is None:
        ax = new_figure(6, 2.5).add_subplot(1, 1, 1)
    if len(events) == 0:
        return ax
    t = events["t"].astype(np.int64)
    t0 = t.min()
    span = max(int(t.max() - t0), 1)
    bin_us = bin_us or max(span / 100.0, 1.0)
    edges = np.arange(0, span + bin_us, bin_us)
    for pol, color, label in ((1, ON_COLOR, "ON"), (0, OFF_COLOR, "OFF")):
        sel = events["p"].astype(int) == pol
        n, _ = np.histogram(t[sel] - t0, edges)
        ax.plot(edges[:-1] / 1e3, n / (bin_us * 1e-6), color=color, label=label, lw=1)
    ax.set_xlabel("time (ms)")
    ax.set_ylabel("events/s")
    ax.legend(fontsize=8)
    return ax
