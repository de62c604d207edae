"""Events -> spike sources for the engine: ``(times_ms, neuron_ids)``.

The pixel-to-neuron index map is fixed and documented:

    neuron_id = p * (H * W) + y * W + x

with ``(W, H, P) = sensor_size``; ``p`` is 0 (OFF) or 1 (ON) when ``P == 2`` and always 0
when ``P == 1`` (polarities merged). So neuron ids run over ``[0, P*H*W)``, OFF pixels
first, each polarity plane in row-major order — the same order as flattening a
``(P, H, W)`` frame from :func:`~spikeflow.data.frames.to_frames`.
"""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np

__all__ = ["n_neurons", "neuron_coords", "neuron_ids", "to_spike_source"]


def _whp(sensor_size: Sequence[int]) -> tuple[int, int, int]:
    w, h = int(sensor_size[0]), int(sensor_size[1])
    p = int(sensor_size[2]) if len(sensor_size) > 2 else 2
    return w, h, p


def n_neurons(sensor_size: Sequence[int]) -> int:
    """Number of input neurons for ``sensor_size``: ``P * H * W``."""
    w, h, p = _whp(sensor_size)
    return p * h * w


def neuron_ids(x, y, p, sensor_size: Sequence[int]) -> np.ndarray:
    """Neuron index of pixel ``(x, y)`` with polarity ``p``: ``p*H*W + y*W + x``."""
    w, h, npol = _whp(sensor_size)
    x = np.asarray(x, dtype=np.int64)
    y = np.asarray(y, dtype=np.int64)
    pol = np.asarray(p, dtype=np.int64) if npol > 1 else np.zeros_like(x)
    if np.any((x < 0) | (x >= w) | (y < 0) | (y >= h) | (pol < 0) | (pol >= npol)):
        raise ValueError(f"coordinates outside sensor_size {(w, h, npol)}")
    return pol * (h * w) + y * w + x


def neuron_coords(ids, sensor_size: Sequence[int]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Inverse of :func:`neuron_ids`: ``(x, y, p)`` arrays."""
    w, h, _ = _whp(sensor_size)
    ids = np.asarray(ids, dtype=np.int64)
    return ids % w, (ids // w) % h, ids // (h * w)


def to_spike_source(
    events: np.ndarray, sensor_size: Sequence[int], origin_us: int | None = 0
) -> tuple[np.ndarray, np.ndarray]:
    """Spike times in ms (float64, non-decreasing) and neuron ids (int64) for the engine.

    Args:
        events: event array with ``x, y, t, p`` (``y`` optional for 1-D data).
        sensor_size: ``(W, H, P)``; ``P = 1`` merges polarities.
        origin_us: subtracted from every timestamp before converting to ms; ``None`` uses
            the first event's time (useful for recordings with wall-clock timestamps).
    """
    order = np.argsort(events["t"], kind="stable")
    ev = events[order]
    y = ev["y"] if "y" in ev.dtype.names else np.zeros(len(ev), np.int64)
    ids = neuron_ids(ev["x"], y, ev["p"], sensor_size)
    t0 = (int(ev["t"][0]) if len(ev) else 0) if origin_us is None else int(origin_us)
    times = (ev["t"].astype(np.int64) - t0) / 1000.0
    return times.astype(np.float64), ids
