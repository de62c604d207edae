"""Encoders that turn static data (images, feature vectors) or sequences into spikes.

Intensities are scaled to ``[0, 1]``: ``uint8`` inputs are divided by 255, other inputs
must already lie in ``[0, 1]`` (values outside raise). Neuron ids of the ``(times, ids)``
outputs are flat C-order indices into the input array.
"""
from __future__ import annotations

from typing import Union

import numpy as np

__all__ = [
    "delta",
    "latency",
    "latency_dense",
    "normalize",
    "poisson",
    "poisson_spike_times",
]

Rng = Union[None, int, np.random.Generator]


def _rng(rng: Rng) -> np.random.Generator:
    return rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)


def normalize(x) -> np.ndarray:
    """``x`` as float64 in ``[0, 1]`` (``uint8`` divided by 255)."""
    a = np.asarray(x)
    if a.dtype == np.uint8:
        return a.astype(np.float64) / 255.0
    a = a.astype(np.float64)
    if a.size and (np.nanmin(a) < 0 or np.nanmax(a) > 1 or np.isnan(a).any()):
        raise ValueError("intensities must lie in [0, 1] (or be uint8)")
    return a


def poisson(
    x, n_steps: int, max_rate_hz: float = 100.0, dt_ms: float = 1.0, rng: Rng = None
) -> np.ndarray:
    """Rate coding on a time grid: a boolean array ``(n_steps, *x.shape)`` where each
    element spikes with probability ``min(1, x * max_rate_hz * dt_ms / 1000)`` per step."""
    a = normalize(x)
    if n_steps < 0 or max_rate_hz < 0 or dt_ms <= 0:
        raise ValueError("need n_steps >= 0, max_rate_hz >= 0, dt_ms > 0")
    prob = np.minimum(1.0, a * max_rate_hz * dt_ms / 1000.0)
    return _rng(rng).random((n_steps,) + a.shape) < prob


def poisson_spike_times(
    x, duration_ms: float, max_rate_hz: float = 100.0, rng: Rng = None
) -> tuple[np.ndarray, np.ndarray]:
    """Continuous-time Poisson spike trains (rate ``x * max_rate_hz``) over
    ``[0, duration_ms)``: ``(times_ms, ids)`` sorted by time."""
    a = normalize(x).ravel()
    if duration_ms < 0 or max_rate_hz < 0:
        raise ValueError("duration_ms and max_rate_hz must be non-negative")
    g = _rng(rng)
    counts = g.poisson(a * max_rate_hz * duration_ms / 1000.0)
    ids = np.repeat(np.arange(a.size, dtype=np.int64), counts)
    times = g.random(ids.size) * duration_ms
    order = np.argsort(times, kind="stable")
    return times[order], ids[order]


def _latency_times(a: np.ndarray, t_max_ms: float, threshold: float, mode: str, tau_ms: float):
    fire = a > threshold
    if mode == "linear":
        t = t_max_ms * (1.0 - a)
    elif mode == "log":
        with np.errstate(divide="ignore", invalid="ignore"):
            t = tau_ms * np.log(a / np.maximum(a - threshold, 1e-300))
        t = np.minimum(t, t_max_ms)
    else:
        raise ValueError("mode must be 'linear' or 'log'")
    return np.where(fire, t, np.inf)


def latency(
    x,
    t_max_ms: float = 50.0,
    threshold: float = 0.0,
    mode: str = "linear",
    tau_ms: float = 5.0,
) -> tuple[np.ndarray, np.ndarray]:
    """Time-to-first-spike coding: one spike per element above ``threshold``, brighter =
    earlier. ``mode="linear"``: ``t = t_max_ms * (1 - x)``; ``mode="log"``: the first
    threshold crossing of an RC circuit driven by ``x``, ``t = tau * ln(x / (x - threshold))``
    (capped at ``t_max_ms``). Returns ``(times_ms, ids)`` sorted by time."""
    a = normalize(x).ravel()
    t = _latency_times(a, t_max_ms, threshold, mode, tau_ms)
    ids = np.nonzero(np.isfinite(t))[0]
    order = np.argsort(t[ids], kind="stable")
    return t[ids][order], ids[order].astype(np.int64)


def latency_dense(
    x, n_steps: int, threshold: float = 0.0, mode: str = "linear", tau_ms: float = 5.0
) -> np.ndarray:
    """Latency coding on a grid of ``n_steps``: boolean ``(n_steps, *x.shape)`` with at most
    one spike per element, at step ``round(t / t_max * (n_steps - 1))``."""
    a = normalize(x)
    t = _latency_times(a.ravel(), float(n_steps - 1), threshold, mode, tau_ms * (n_steps - 1) / 50.0)
    out = np.zeros((n_steps, a.size), dtype=bool)
    ok = np.isfinite(t)
    steps = np.clip(np.rint(t[ok]).astype(np.int64), 0, n_steps - 1)
    out[steps, np.nonzero(ok)[0]] = True
    return out.reshape((n_steps,) + a.shape)


def delta(seq, threshold: float = 0.1, off_spikes: bool = True) -> np.ndarray:
    """Delta modulation of a sequence ``(T, ...)``: a per-element reference starts at
    ``seq[0]``; at step ``t`` an ON spike fires when ``seq[t] - ref >= threshold`` and an OFF
    spike when ``ref - seq[t] >= threshold``; the reference then moves to ``seq[t]``.

    Returns boolean ``(T, 2, ...)`` (channel 0 = OFF, 1 = ON, matching event polarity) or
    ``(T, ...)`` ON-only when ``off_spikes=False``. Step 0 never spikes.
    """
    s = np.asarray(seq, dtype=np.float64)
    if s.ndim == 0 or threshold <= 0:
        raise ValueError("seq must have a time axis and threshold must be positive")
    ref = np.array(s[0], dtype=np.float64, copy=True, ndmin=0)
    out = np.zeros((s.shape[0], 2) + s.shape[1:], dtype=bool)
    for t in range(1, s.shape[0]):
        d = s[t] - ref
        on, off = d >= threshold, d <= -threshold
        out[t, 1], out[t, 0] = on, off
        ref = np.where(on | off, s[t], ref)
    return out if off_spikes else out[:, 1]
