"""Spike raster plots."""
from __future__ import annotations

from typing import Any

import numpy as np

from spikeflow.viz._common import new_figure

__all__ = ["raster", "raster_events"]


def raster(
    times,
    ids,
    ax: Any = None,
    *,
    color: Any = "k",
    marker_size: float | None = None,
    title: str | None = None,
    xlabel: str = "time (ms)",
    ylabel: str = "neuron",
):
    """Plot spikes as dots: ``times`` (x axis) against neuron ``ids`` (y axis).

    Args:
        times: spike times (any unit; label it with ``xlabel``).
        ids: neuron index of each spike (same length).
        ax: matplotlib Axes to draw on; a new Agg figure is made when None.
        color: a colour, or one colour / value per spike.
        marker_size: dot size in points^2 (default scales with the spike count).
    Returns:
        The Axes.
    """
    t = np.asarray(times, dtype=np.float64).ravel()
    i = np.asarray(ids).ravel()
    if t.shape != i.shape:
        raise ValueError(f"times and ids differ in length ({t.size} vs {i.size})")
    if ax is None:
        ax = new_figure(8, 4).add_subplot(1, 1, 1)
    size = marker_size if marker_size is not None else float(np.clip(2000.0 / max(t.size, 1), 0.5, 8.0))
    ax.scatter(t, i, s=size, c=color, marker="|" if t.size < 2000 else ".", linewidths=0.8)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    if t.size:
        ax.set_ylim(i.min() - 0.5, i.max() + 0.5)
    if title:
        ax.set_title(title)
    return ax


def raster_events(events: np.ndarray, sensor_size, ax: Any = None, **kwargs):
    """Raster of an event array through the spike-source index map
    (:func:`spikeflow.data.to_spike_source`), ON red and OFF blue."""
    from spikeflow.data.spikesource import to_spike_source
    from spikeflow.viz._common import OFF_COLOR, ON_COLOR

    times, ids = to_spike_source(events, sensor_size, origin_us=None)
    order = np.argsort(events["t"], kind="stable")
    colors = np.where(events["p"][order].astype(bool)[:, None], ON_COLOR, OFF_COLOR)
    kwargs.setdefault("ylabel", "input neuron (p*H*W + y*W + x)")
    return raster(times, ids, ax, color=colors, **kwargs)
