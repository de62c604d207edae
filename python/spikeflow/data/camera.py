"""An event-camera simulator: video frames -> polarity events.

The model is the standard log-intensity contrast-threshold pixel (as in ESIM and v2e):

* each pixel keeps a reference log intensity ``ref`` (set from the first frame);
* between two frames the log intensity ``L = log(I + eps)`` is linearly interpolated in
  time; every crossing of ``ref + C_on`` emits an ON event and moves ``ref`` up by
  ``C_on`` (``ref - C_off`` / OFF likewise), with the event time interpolated to the
  crossing — so fast changes give several events per frame interval, spread in time;
* ``C_on`` / ``C_off`` differ per pixel (Gaussian mismatch, ``threshold_mismatch``);
* a refractory period drops events that follow the pixel's last kept event too closely;
* optional shot noise (random-polarity events, Poisson per pixel) and leak events
  (ON events from reference drift, Poisson per pixel).

All randomness comes from ``seed``; the same inputs and seed give the same events.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from spikeflow import _core
from spikeflow.data.dtypes import EVENTS_DTYPE

__all__ = ["CameraParams", "EventCamera", "video_to_events"]


@dataclass(frozen=True)
class CameraParams:
    """Pixel parameters of :class:`EventCamera`.

    Attributes:
        threshold_on: ON contrast threshold (log-intensity units).
        threshold_off: OFF contrast threshold.
        threshold_mismatch: std of the per-pixel threshold variation (same units).
        refractory_us: minimum time between two events of one pixel.
        shot_noise_hz: rate of random-polarity noise events per pixel.
        leak_hz: rate of ON leak events per pixel.
        eps: intensity offset inside the log (intensities are in [0, 1]).
    """

    threshold_on: float = 0.25
    threshold_off: float = 0.25
    threshold_mismatch: float = 0.03
    refractory_us: float = 0.0
    shot_noise_hz: float = 0.0
    leak_hz: float = 0.0
    eps: float = 0.05

    def __post_init__(self):
        if self.threshold_on <= 0 or self.threshold_off <= 0:
            raise ValueError("contrast thresholds must be positive")
        if min(self.threshold_mismatch, self.refractory_us, self.shot_noise_hz, self.leak_hz) < 0:
            raise ValueError("mismatch, refractory period and noise rates must be non-negative")
        if self.eps <= 0:
            raise ValueError("eps must be positive")


def _as_intensity(frame) -> np.ndarray:
    a = np.asarray(frame)
    if a.dtype == np.uint8:
        return a.astype(np.float64) / 255.0
    return np.clip(a.astype(np.float64), 0.0, None)


class EventCamera:
    """A stateful simulated event camera of ``width x height`` pixels.

    Use :meth:`reset` with the first frame, then :meth:`step` with each later frame (or
    :meth:`simulate` for a whole clip). Frames are ``(height, width)`` arrays, ``uint8``
    or floats in ``[0, 1]``; times are in µs.
    """

    def __init__(self, width: int, height: int, params: CameraParams | None = None, seed: int | None = 0):
        if width <= 0 or height <= 0:
            raise ValueError("width and height must be positive")
        self.width, self.height = int(width), int(height)
        self.params = params or CameraParams()
        self.rng = np.random.default_rng(seed)
        p, shape = self.params, (self.height, self.width)
        self.c_on = np.maximum(p.threshold_on + p.threshold_mismatch * self.rng.standard_normal(shape), 0.01)
        self.c_off = np.maximum(p.threshold_off + p.threshold_mismatch * self.rng.standard_normal(shape), 0.01)
        self.leak_rate = p.leak_hz * np.maximum(1.0 + 0.1 * self.rng.standard_normal(shape), 0.0)
        self.ref: np.ndarray | None = None
        self._pending_log: np.ndarray | None = None
        self.last_log: np.ndarray | None = None
        self.last_t = 0.0

    def _log(self, frame) -> np.ndarray:
        a = _as_intensity(frame)
        if a.shape != (self.height, self.width):
            raise ValueError(f"frame shape {a.shape} != (height, width) = {(self.height, self.width)}")
        return np.log(a + self.params.eps)

    def reset(self, frame, t_us: float = 0.0) -> None:
        """Set every pixel's reference to ``frame`` at time ``t_us``."""
        self.ref = self._log(frame)
        self._pending_log = None
        self.last_log = self.ref.copy()
        self.last_t = float(t_us)

    def step(self, frame, t_us: float) -> np.ndarray:
        """Advance to ``frame`` at ``t_us`` (> previous time); return the events of the
        interval (time-sorted, before the refractory filter)."""
        if self.ref is None and self._pending_log is not None:
            self.ref = _replay_reference(self._pending_log, self.c_on, self.c_off)
            self._pending_log = None
        if self.ref is None or self.last_log is None:
            raise RuntimeError("call reset(first_frame) before step()")
        t1 = float(t_us)
        if t1 <= self.last_t:
            raise ValueError(f"frame times must increase ({t1} <= {self.last_t})")
        l0, l1, t0 = self.last_log, self._log(frame), self.last_t
        d = l1 - self.ref
        n_on = np.where(d > 0, np.floor(d / self.c_on), 0).astype(np.int64)
        n_off = np.where(d < 0, np.floor(-d / self.c_off), 0).astype(np.int64)
        parts = []
        for n, c, sign in ((n_on, self.c_on, 1.0), (n_off, self.c_off, -1.0)):
            flat = np.flatnonzero(n)
            if flat.size == 0:
                continue
            counts = n.ravel()[flat]
            pix = np.repeat(flat, counts)
            k = np.arange(pix.size) - np.repeat(np.cumsum(counts) - counts, counts) + 1
            level = self.ref.ravel()[pix] + sign * k * c.ravel()[pix]
            a, b = l0.ravel()[pix], l1.ravel()[pix]
            with np.errstate(divide="ignore", invalid="ignore"):
                frac = np.where(b != a, (level - a) / (b - a), 1.0)
            t = t0 + np.clip(frac, 0.0, 1.0) * (t1 - t0)
            parts.append((pix, t, np.full(pix.size, sign > 0)))
        self.ref = self.ref + n_on * self.c_on - n_off * self.c_off
        noise = self._noise(t0, t1)
        if noise is not None:
            parts.append(noise)
        self.last_log, self.last_t = l1, t1
        if not parts:
            return np.empty(0, dtype=EVENTS_DTYPE)
        pix = np.concatenate([q[0] for q in parts])
        t = np.concatenate([q[1] for q in parts])
        pol = np.concatenate([q[2] for q in parts])
        ev = np.empty(pix.size, dtype=EVENTS_DTYPE)
        ev["x"], ev["y"] = pix % self.width, pix // self.width
        ev["t"], ev["p"] = np.floor(t).astype(np.int64), pol
        return ev[np.argsort(ev["t"], kind="stable")]

    def _noise(self, t0: float, t1: float):
        p, dt = self.params, (t1 - t0) * 1e-6
        out = []
        npx = self.width * self.height
        if p.shot_noise_hz > 0:
            n = self.rng.poisson(p.shot_noise_hz * dt * npx)
            out.append((self.rng.integers(0, npx, n), self.rng.uniform(t0, t1, n), self.rng.random(n) < 0.5))
        if p.leak_hz > 0:
            counts = self.rng.poisson(self.leak_rate.ravel() * dt)
            pix = np.repeat(np.arange(npx), counts)
            out.append((pix, self.rng.uniform(t0, t1, pix.size), np.ones(pix.size, bool)))
        if not out:
            return None
        return tuple(np.concatenate([o[i] for o in out]) for i in range(3))

    def refractory(self, events: np.ndarray) -> np.ndarray:
        """Apply the refractory period to a time-sorted stream (Rust per-pixel filter)."""
        if self.params.refractory_us <= 0 or len(events) == 0:
            return events
        x = np.ascontiguousarray(events["x"], np.int16)
        y = np.ascontiguousarray(events["y"], np.int16)
        t = np.ascontiguousarray(events["t"], np.int64)
        keep = _core.events_refractory_mask(x, y, t, self.width, self.height, int(self.params.refractory_us))
        return events[keep]

    def simulate(self, frames, times_us, max_events: int = 50_000_000) -> np.ndarray:
        """Events of a whole clip: ``frames`` ``(T, H, W)``, ``times_us`` ``(T,)`` increasing.

        The pixel model runs in Rust (same events as calling :meth:`step` frame by frame,
        ordered by time then pixel); noise and the refractory period are applied after.
        The camera's state is left at the last frame, so :meth:`step` can continue.
        """
        frames = np.asarray(frames)
        times = np.ascontiguousarray(times_us, dtype=np.float64)
        if frames.ndim != 3 or len(frames) != len(times) or len(frames) == 0:
            raise ValueError("need frames (T, H, W) and T increasing times")
        if frames.shape[1:] != (self.height, self.width):
            raise ValueError(f"frames are {frames.shape[1:]}, camera is {(self.height, self.width)}")
        log = np.log(_as_intensity(frames) + self.params.eps)
        raw = _core.events_contrast(
            np.ascontiguousarray(log.ravel()),
            times,
            self.width,
            self.height,
            np.ascontiguousarray(self.c_on.ravel()),
            np.ascontiguousarray(self.c_off.ravel()),
            int(max_events),
        )
        ev = raw.view(EVENTS_DTYPE)
        self.ref = None
        self._pending_log = log  # the reference after the clip is replayed only if step() follows
        self.last_log, self.last_t = log[-1], float(times[-1])
        if len(times) > 1:
            noise = self._noise(float(times[0]), float(times[-1]))
            if noise is not None:
                pix, t, pol = noise
                extra = np.empty(pix.size, dtype=EVENTS_DTYPE)
                extra["x"], extra["y"] = pix % self.width, pix // self.width
                extra["t"], extra["p"] = np.floor(t).astype(np.int64), pol
                ev = np.concatenate([ev, extra])
                ev = ev[np.argsort(ev["t"], kind="stable")]
        return self.refractory(ev)


def _replay_reference(log: np.ndarray, c_on: np.ndarray, c_off: np.ndarray) -> np.ndarray:
    """The per-pixel reference after the whole clip (for continuing with ``step``)."""
    ref = log[0].copy()
    for f in range(1, len(log)):
        d = log[f] - ref
        ref = ref + np.where(d > 0, np.floor(d / c_on), 0) * c_on - np.where(d < 0, np.floor(-d / c_off), 0) * c_off
    return ref


def video_to_events(
    frames, times_us, params: CameraParams | None = None, seed: int | None = 0
) -> np.ndarray:
    """Convert a clip ``(T, H, W)`` with frame times (µs) to events with a fresh
    :class:`EventCamera`."""
    frames = np.asarray(frames)
    if frames.ndim != 3:
        raise ValueError("frames must be (T, H, W)")
    cam = EventCamera(frames.shape[2], frames.shape[1], params, seed)
    return cam.simulate(frames, times_us)
