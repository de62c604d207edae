"""Plots for spike and event data (matplotlib, Agg figures — no pyplot state):
spike rasters, event-frame grids with ON/OFF colouring, event-rate plots, GIF animations,
and :func:`render_file` behind ``spikeflow show FILE``."""
from spikeflow.viz._common import OFF_COLOR, ON_COLOR
from spikeflow.viz.animate import animate
from spikeflow.viz.frames import plot_event_frame, plot_event_grid, plot_event_rate
from spikeflow.viz.raster import raster, raster_events
from spikeflow.viz.show import render_file

__all__ = [
    "OFF_COLOR",
    "ON_COLOR",
    "animate",
    "plot_event_frame",
    "plot_event_grid",
    "plot_event_rate",
    "raster",
    "raster_events",
    "render_file",
]
