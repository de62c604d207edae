"""The numpy dtypes of event arrays (the layouts Tonic uses, so arrays pass unchanged)."""
from __future__ import annotations

import numpy as np

__all__ = ["EVENTS1D_DTYPE", "EVENTS_DTYPE", "empty_events", "make_events", "make_events_1d"]

#: 2-D polarity events: column, row, time in µs, polarity (True = ON). Packed, 13 bytes;
#: identical to ``tonic.io.events_struct``.
EVENTS_DTYPE = np.dtype([("x", "<i2"), ("y", "<i2"), ("t", "<i8"), ("p", "?")])

#: 1-D events (audio-like: cochlea channels, SHD units): time in µs, channel, polarity.
EVENTS1D_DTYPE = np.dtype([("t", "<i8"), ("x", "<i2"), ("p", "?")])


def make_events(x, y, t, p) -> np.ndarray:
    """Build a 2-D event array (:data:`EVENTS_DTYPE`) from four equal-length sequences."""
    x = np.asarray(x)
    out = np.empty(x.shape[0] if x.ndim else 0, dtype=EVENTS_DTYPE)
    out["x"], out["y"], out["t"], out["p"] = x, y, t, p
    return out


def make_events_1d(t, x, p=None) -> np.ndarray:
    """Build a 1-D event array (:data:`EVENTS1D_DTYPE`); ``p`` defaults to all True."""
    t = np.asarray(t)
    out = np.empty(t.shape[0], dtype=EVENTS1D_DTYPE)
    out["t"], out["x"] = t, x
    out["p"] = True if p is None else p
    return out


def empty_events() -> np.ndarray:
    """An empty 2-D event array."""
    return np.empty(0, dtype=EVENTS_DTYPE)
