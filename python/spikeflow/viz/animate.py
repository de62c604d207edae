"""Animation of an event stream to GIF."""
from __future__ import annotations

import os

import numpy as np

from spikeflow.viz._common import new_figure, polarity_image

__all__ = ["animate"]


def animate(
    events: np.ndarray,
    sensor_size,
    out_path: str | os.PathLike,
    *,
    frame_us: float | None = None,
    n_frames: int | None = 30,
    fps: int = 10,
    scale: float = 3.0,
) -> str:
    """Write an animated GIF of the stream: each GIF frame accumulates ``frame_us`` µs (or
    the stream split into ``n_frames`` equal parts), ON red and OFF blue. Returns the path.
    Uses matplotlib's Pillow writer (Pillow ships with matplotlib)."""
    from matplotlib.animation import FuncAnimation, PillowWriter

    from spikeflow.data.frames import to_frames

    w, h = int(sensor_size[0]), int(sensor_size[1])
    if len(events) == 0:
        frames = np.zeros((1, 2, h, w))
    elif frame_us is not None:
        frames = to_frames(events, (w, h, 2), time_window=frame_us, include_incomplete=True)
    else:
        frames = to_frames(events, (w, h, 2), n_time_bins=int(n_frames or 30))
    fig = new_figure(max(w * scale / 100, 1.5), max(h * scale / 100, 1.5), layout=None)
    ax = fig.add_axes((0, 0, 1, 1))
    ax.set_axis_off()
    im = ax.imshow(polarity_image(frames[0, 1], frames[0, 0]), interpolation="nearest")

    def update(k):
        im.set_data(polarity_image(frames[k, 1], frames[k, 0]))
        return (im,)

    anim = FuncAnimation(fig, update, frames=len(frames), blit=False)
    out = os.fspath(out_path)
    anim.save(out, writer=PillowWriter(fps=fps))
    return out
