"""Functional event transforms: geometry, polarity, filtering and augmentation.

Every function takes an event array (:data:`~spikeflow.data.EVENTS_DTYPE`, or any
structured array with fields ``x, y, t, p``; 1-D arrays without ``y`` where noted) and
returns a new array; inputs are never modified. ``sensor_size`` is ``(width, height,
polarities)``, Tonic's order. Random transforms take ``rng`` (a ``numpy.random.Generator``
or a seed); the same seed gives the same result.
"""
from __future__ import annotations

from collections.abc import Sequence
from typing import Union

import numpy as np

from spikeflow import _core

__all__ = [
    "SensorSize",
    "center_crop",
    "crop",
    "denoise",
    "downsample",
    "drop_events",
    "flip_lr",
    "flip_polarity",
    "flip_ud",
    "merge_polarities",
    "refractory",
    "sort_by_time",
    "spatial_jitter",
    "time_jitter",
    "time_reverse",
    "time_skew",
    "time_slice",
]

SensorSize = tuple[int, int, int]
Rng = Union[None, int, np.random.Generator]


def _rng(rng: Rng) -> np.random.Generator:
    return rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)


def _wh(sensor_size: Sequence[int]) -> tuple[int, int]:
    if len(sensor_size) < 2:
        raise ValueError(f"sensor_size must be (width, height[, polarities]), got {sensor_size!r}")
    return int(sensor_size[0]), int(sensor_size[1])


def sort_by_time(events: np.ndarray) -> np.ndarray:
    """Events in non-decreasing time order (stable: ties keep their order)."""
    if len(events) < 2 or np.all(events["t"][1:] >= events["t"][:-1]):
        return events.copy()
    return events[np.argsort(events["t"], kind="stable")]


def time_slice(events: np.ndarray, start: int, stop: int) -> np.ndarray:
    """Events with ``start <= t < stop`` (µs)."""
    t = events["t"]
    return events[(t >= start) & (t < stop)]


def downsample(
    events: np.ndarray, sensor_size: Sequence[int], target_size: tuple[int, int]
) -> np.ndarray:
    """Scale coordinates from ``sensor_size`` to ``target_size = (width, height)``
    (integer floor of ``x * target_w / w``); several source pixels map onto one."""
    w, h = _wh(sensor_size)
    tw, th = int(target_size[0]), int(target_size[1])
    if tw <= 0 or th <= 0:
        raise ValueError(f"target_size must be positive, got {target_size!r}")
    out = events.copy()
    out["x"] = (events["x"].astype(np.int64) * tw) // w
    if "y" in events.dtype.names:
        out["y"] = (events["y"].astype(np.int64) * th) // h
    return out


def crop(events: np.ndarray, box: tuple[int, int, int, int]) -> np.ndarray:
    """Keep events inside ``box = (x0, y0, width, height)`` and shift them to its origin."""
    x0, y0, bw, bh = (int(v) for v in box)
    x, y = events["x"], events["y"]
    keep = (x >= x0) & (x < x0 + bw) & (y >= y0) & (y < y0 + bh)
    out = events[keep].copy()
    out["x"] -= x0
    out["y"] -= y0
    return out


def center_crop(events: np.ndarray, sensor_size: Sequence[int], size: tuple[int, int]) -> np.ndarray:
    """Crop a centred ``size = (width, height)`` window."""
    w, h = _wh(sensor_size)
    cw, ch = int(size[0]), int(size[1])
    return crop(events, ((w - cw) // 2, (h - ch) // 2, cw, ch))


def flip_lr(events: np.ndarray, sensor_size: Sequence[int]) -> np.ndarray:
    """Mirror left-right: ``x -> width - 1 - x``."""
    w, _ = _wh(sensor_size)
    out = events.copy()
    out["x"] = w - 1 - events["x"]
    return out


def flip_ud(events: np.ndarray, sensor_size: Sequence[int]) -> np.ndarray:
    """Mirror up-down: ``y -> height - 1 - y``."""
    _, h = _wh(sensor_size)
    out = events.copy()
    out["y"] = h - 1 - events["y"]
    return out


def flip_polarity(events: np.ndarray) -> np.ndarray:
    """Swap ON and OFF."""
    out = events.copy()
    out["p"] = ~events["p"].astype(bool) if events["p"].dtype == bool else 1 - events["p"]
    return out


def merge_polarities(events: np.ndarray) -> np.ndarray:
    """Set every polarity to OFF/0, so frames and spike sources have a single channel."""
    out = events.copy()
    out["p"] = 0
    return out


def _filter_inputs(events: np.ndarray, sensor_size: Sequence[int]):
    w, h = _wh(sensor_size)
    ev = sort_by_time(events)
    x = np.ascontiguousarray(ev["x"], dtype=np.int16)
    y = np.ascontiguousarray(ev["y"], dtype=np.int16)
    t = np.ascontiguousarray(ev["t"], dtype=np.int64)
    return ev, x, y, t, w, h


def refractory(events: np.ndarray, sensor_size: Sequence[int], period_us: float) -> np.ndarray:
    """Per-pixel refractory filter: drop an event that comes ``period_us`` or less after
    the last *kept* event of the same pixel (both polarities share the state). Runs in Rust;
    output is time-sorted."""
    ev, x, y, t, w, h = _filter_inputs(events, sensor_size)
    return ev[_core.events_refractory_mask(x, y, t, w, h, int(period_us))]


def denoise(events: np.ndarray, sensor_size: Sequence[int], filter_time_us: float) -> np.ndarray:
    """Background-activity filter: keep an event only if one of its 8 neighbours had an
    event within the previous ``filter_time_us``. Runs in Rust; output is time-sorted."""
    ev, x, y, t, w, h = _filter_inputs(events, sensor_size)
    return ev[_core.events_denoise_mask(x, y, t, w, h, int(filter_time_us))]


def drop_events(events: np.ndarray, p: float, rng: Rng = None) -> np.ndarray:
    """Drop each event independently with probability ``p``."""
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"p must be in [0, 1], got {p}")
    return events[_rng(rng).random(len(events)) >= p]


def time_jitter(
    events: np.ndarray, std_us: float, rng: Rng = None, clip_negative: bool = True, sort: bool = True
) -> np.ndarray:
    """Add Gaussian noise (``std_us``) to every timestamp; optionally clip at 0 and re-sort."""
    out = events.copy()
    t = events["t"] + np.rint(_rng(rng).normal(0.0, std_us, len(events))).astype(np.int64)
    out["t"] = np.maximum(t, 0) if clip_negative else t
    return sort_by_time(out) if sort else out


def time_reverse(events: np.ndarray) -> np.ndarray:
    """Play the stream backwards: ``t -> t_max + t_min - t``, order reversed, polarity
    flipped (a brightening seen backwards is a darkening)."""
    if len(events) == 0:
        return events.copy()
    out = events[::-1].copy()
    out["t"] = events["t"].max() + events["t"].min() - out["t"]
    return flip_polarity(out)


def time_skew(events: np.ndarray, coefficient: float, offset_us: float = 0.0) -> np.ndarray:
    """Scale and shift time: ``t -> coefficient * t + offset_us`` (coefficient > 0)."""
    if coefficient <= 0:
        raise ValueError("coefficient must be positive")
    out = events.copy()
    out["t"] = np.rint(events["t"] * coefficient + offset_us).astype(np.int64)
    return out


def spatial_jitter(
    events: np.ndarray,
    sensor_size: Sequence[int],
    std: float,
    rng: Rng = None,
    clip_outliers: bool = True,
) -> np.ndarray:
    """Move every event by independent Gaussian offsets (``std`` pixels, rounded);
    events that leave the sensor are dropped (``clip_outliers``) or clamped to its edge."""
    w, h = _wh(sensor_size)
    g = _rng(rng)
    out = events.copy()
    x = events["x"] + np.rint(g.normal(0.0, std, len(events))).astype(np.int64)
    y = events["y"] + np.rint(g.normal(0.0, std, len(events))).astype(np.int64)
    if clip_outliers:
        keep = (x >= 0) & (x < w) & (y >= 0) & (y < h)
        out["x"], out["y"] = x, y
        return out[keep]
    out["x"], out["y"] = np.clip(x, 0, w - 1), np.clip(y, 0, h - 1)
    return out


