"""Events -> frames ``(T, P, H, W)`` (by time window, event count or number of bins) and
dense / sparse torch tensors."""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np

__all__ = ["frame_ranges", "to_dense_tensor", "to_frames", "to_sparse_tensor"]


def _sizes(sensor_size: Sequence[int]) -> tuple[int, int, int]:
    if len(sensor_size) == 2:
        return int(sensor_size[0]), int(sensor_size[1]), 2
    if len(sensor_size) != 3:
        raise ValueError(f"sensor_size must be (width, height, polarities), got {sensor_size!r}")
    w, h, p = (int(v) for v in sensor_size)
    if min(w, h, p) <= 0:
        raise ValueError(f"sensor_size must be positive, got {sensor_size!r}")
    return w, h, p


def _pixel_index(events: np.ndarray, w: int, h: int, p: int) -> np.ndarray:
    x = events["x"].astype(np.int64)
    y = events["y"].astype(np.int64) if "y" in events.dtype.names else np.zeros_like(x)
    pol = events["p"].astype(np.int64) if p > 1 else np.zeros_like(x)
    bad = (x < 0) | (x >= w) | (y < 0) | (y >= h) | (pol < 0) | (pol >= p)
    if bad.any():
        i = int(np.argmax(bad))
        raise ValueError(
            f"event {i} (x={x[i]}, y={y[i]}, p={pol[i]}) lies outside sensor_size {(w, h, p)}"
        )
    return (pol * h + y) * w + x


def frame_ranges(
    t: np.ndarray,
    *,
    time_window: float | None = None,
    event_count: int | None = None,
    n_time_bins: int | None = None,
    n_event_bins: int | None = None,
    overlap: float = 0.0,
    include_incomplete: bool = False,
    start_time: int | None = None,
) -> list[tuple[int, int]]:
    """Index ranges ``[lo, hi)`` into time-sorted ``t`` for each frame (exactly one of
    the four slicing modes). ``overlap`` is in µs for ``time_window`` and in events for
    ``event_count``."""
    modes = [time_window, event_count, n_time_bins, n_event_bins]
    if sum(m is not None for m in modes) != 1:
        raise ValueError("give exactly one of time_window, event_count, n_time_bins, n_event_bins")
    n = len(t)
    if time_window is not None:
        if time_window <= 0 or not 0 <= overlap < time_window:
            raise ValueError("need time_window > 0 and 0 <= overlap < time_window")
        if n == 0:
            return []
        t0 = int(t[0]) if start_time is None else int(start_time)
        span = int(t[-1]) - t0 + 1
        stride = time_window - overlap
        if include_incomplete:
            count = max(1, int(np.ceil(max(span - overlap, 1) / stride)))
        else:
            count = max(0, int(np.floor((span - time_window) / stride)) + 1)
        starts = t0 + np.arange(count) * stride
        lo = np.searchsorted(t, starts, "left")
        hi = np.searchsorted(t, starts + time_window, "left")
        return list(zip(lo.tolist(), hi.tolist()))
    if event_count is not None:
        if event_count <= 0 or not 0 <= overlap < event_count:
            raise ValueError("need event_count > 0 and 0 <= overlap < event_count")
        stride = int(event_count - overlap)
        out = []
        lo = 0
        while lo < n:
            hi = lo + int(event_count)
            if hi > n and not include_incomplete:
                break
            out.append((lo, min(hi, n)))
            if hi >= n:
                break
            lo += stride
        return out
    if overlap:
        raise ValueError("overlap is supported with time_window and event_count only")
    if n_time_bins is not None:
        if n_time_bins <= 0:
            raise ValueError("n_time_bins must be positive")
        if n == 0:
            return [(0, 0)] * n_time_bins
        t0 = int(t[0]) if start_time is None else int(start_time)
        span = int(t[-1]) - t0 + 1
        edges = t0 + (np.arange(n_time_bins + 1) * span) // n_time_bins
        idx = np.searchsorted(t, edges, "left")
        idx[-1] = n
        return list(zip(idx[:-1].tolist(), idx[1:].tolist()))
    if n_event_bins is None or n_event_bins <= 0:
        raise ValueError("n_event_bins must be positive")
    edges = (np.arange(n_event_bins + 1) * n) // n_event_bins
    return list(zip(edges[:-1].tolist(), edges[1:].tolist()))


def to_frames(
    events: np.ndarray,
    sensor_size: Sequence[int],
    *,
    time_window: float | None = None,
    event_count: int | None = None,
    n_time_bins: int | None = None,
    n_event_bins: int | None = None,
    overlap: float = 0.0,
    include_incomplete: bool = False,
    start_time: int | None = None,
    dtype=np.int32,
) -> np.ndarray:
    """Accumulate events into count frames of shape ``(T, P, H, W)``.

    Args:
        events: event array (``x, y, t, p``; 1-D arrays without ``y`` give ``H = 1``).
        sensor_size: ``(width, height, polarities)``; with ``polarities == 1`` both
            polarities share channel 0.
        time_window: frame length in µs (frames start at the first event or ``start_time``).
        event_count: events per frame.
        n_time_bins: number of equal-duration frames spanning the recording.
        n_event_bins: number of frames with equal event counts.
        overlap: overlap between consecutive frames (µs or events).
        include_incomplete: keep a last frame shorter than the window.
        start_time: time origin (µs) for the time-based modes.
        dtype: frame dtype (counts).
    """
    w, h, p = _sizes(sensor_size)
    order = np.argsort(events["t"], kind="stable")
    ev = events[order] if len(events) and np.any(np.diff(events["t"]) < 0) else events
    t = ev["t"]
    ranges = frame_ranges(
        t,
        time_window=time_window,
        event_count=event_count,
        n_time_bins=n_time_bins,
        n_event_bins=n_event_bins,
        overlap=overlap,
        include_incomplete=include_incomplete,
        start_time=start_time,
    )
    pix = _pixel_index(ev, w, h, p)
    size = p * h * w
    frames = np.zeros((len(ranges), size), dtype=np.int64)
    contiguous = all(ranges[k][1] <= ranges[k + 1][0] for k in range(len(ranges) - 1))
    if ranges and contiguous:
        lo = np.array([r[0] for r in ranges])
        hi = np.array([r[1] for r in ranges])
        fid = np.repeat(np.arange(len(ranges)), hi - lo)
        sel = np.concatenate([pix[a:b] for a, b in ranges]) if len(fid) else pix[:0]
        frames = np.bincount(fid * size + sel, minlength=len(ranges) * size).reshape(len(ranges), size)
    else:
        for k, (a, b) in enumerate(ranges):
            frames[k] = np.bincount(pix[a:b], minlength=size)
    return frames.reshape(len(ranges), p, h, w).astype(dtype, copy=False)


def to_dense_tensor(events: np.ndarray, sensor_size: Sequence[int], **frame_args):
    """A float32 torch tensor ``(T, P, H, W)`` of event counts; ``frame_args`` as in
    :func:`to_frames` (e.g. ``n_time_bins=20`` or ``time_window=1000``)."""
    import torch

    return torch.from_numpy(to_frames(events, sensor_size, dtype=np.float32, **frame_args))


def to_sparse_tensor(events: np.ndarray, sensor_size: Sequence[int], **frame_args):
    """A coalesced sparse COO torch tensor ``(T, P, H, W)`` of event counts (float32),
    built without materialising the dense frames."""
    import torch

    w, h, p = _sizes(sensor_size)
    order = np.argsort(events["t"], kind="stable")
    ev = events[order]
    ranges = frame_ranges(ev["t"], **frame_args)
    pix = _pixel_index(ev, w, h, p)
    fids = [np.full(b - a, k, dtype=np.int64) for k, (a, b) in enumerate(ranges)]
    sel = [pix[a:b] for a, b in ranges]
    fid = np.concatenate(fids) if fids else np.zeros(0, np.int64)
    px = np.concatenate(sel) if sel else np.zeros(0, np.int64)
    idx = np.stack([fid, px // (h * w), (px // w) % h, px % w])
    vals = torch.ones(idx.shape[1], dtype=torch.float32)
    return torch.sparse_coo_tensor(
        torch.from_numpy(idx), vals, size=(len(ranges), p, h, w), check_invariants=True
    ).coalesce()
