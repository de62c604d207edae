"""Composable transform objects (frozen dataclasses wrapping the functions of
:mod:`spikeflow.data.transforms` and :mod:`spikeflow.data.frames`).

Their ``repr`` lists every parameter, so it doubles as the on-disk cache key of
:class:`~spikeflow.data.torchdata.TorchEventDataset`. Random transforms draw from their
own generator seeded with ``seed`` — random transforms make a cache pointless, so the
cache refuses them.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from spikeflow.data import frames as F
from spikeflow.data import transforms as T

__all__ = [
    "CenterCrop",
    "Compose",
    "Denoise",
    "Downsample",
    "DropEvents",
    "FlipLR",
    "MergePolarities",
    "Refractory",
    "SpatialJitter",
    "TimeJitter",
    "TimeReverse",
    "ToFrame",
]


@dataclass(frozen=True)
class Compose:
    """Apply transforms in order."""

    transforms: tuple[Callable, ...]

    def __init__(self, transforms: Sequence[Callable]):
        object.__setattr__(self, "transforms", tuple(transforms))

    def __call__(self, x):
        for t in self.transforms:
            x = t(x)
        return x

    @property
    def random(self) -> bool:
        """Whether any member is random."""
        return any(getattr(t, "random", False) for t in self.transforms)


@dataclass(frozen=True)
class ToFrame:
    """Events -> ``(T, P, H, W)`` frames; see :func:`~spikeflow.data.frames.to_frames`."""

    sensor_size: tuple[int, int, int]
    time_window: float | None = None
    event_count: int | None = None
    n_time_bins: int | None = None
    n_event_bins: int | None = None
    overlap: float = 0.0
    include_incomplete: bool = False
    dtype: str = "float32"

    def __call__(self, events: np.ndarray) -> np.ndarray:
        return F.to_frames(
            events,
            self.sensor_size,
            time_window=self.time_window,
            event_count=self.event_count,
            n_time_bins=self.n_time_bins,
            n_event_bins=self.n_event_bins,
            overlap=self.overlap,
            include_incomplete=self.include_incomplete,
            dtype=np.dtype(self.dtype),
        )


@dataclass(frozen=True)
class Downsample:
    """Scale coordinates to ``target_size = (W, H)``."""

    sensor_size: tuple[int, int, int]
    target_size: tuple[int, int]

    def __call__(self, events):
        return T.downsample(events, self.sensor_size, self.target_size)


@dataclass(frozen=True)
class CenterCrop:
    """Centred crop to ``size = (W, H)``."""

    sensor_size: tuple[int, int, int]
    size: tuple[int, int]

    def __call__(self, events):
        return T.center_crop(events, self.sensor_size, self.size)


@dataclass(frozen=True)
class FlipLR:
    """Mirror left-right."""

    sensor_size: tuple[int, int, int]

    def __call__(self, events):
        return T.flip_lr(events, self.sensor_size)


@dataclass(frozen=True)
class MergePolarities:
    """All polarities -> 0."""

    def __call__(self, events):
        return T.merge_polarities(events)


@dataclass(frozen=True)
class Denoise:
    """Background-activity filter."""

    sensor_size: tuple[int, int, int]
    filter_time_us: float = 10_000

    def __call__(self, events):
        return T.denoise(events, self.sensor_size, self.filter_time_us)


@dataclass(frozen=True)
class Refractory:
    """Per-pixel refractory filter."""

    sensor_size: tuple[int, int, int]
    period_us: float = 1_000

    def __call__(self, events):
        return T.refractory(events, self.sensor_size, self.period_us)


@dataclass(frozen=True)
class TimeReverse:
    """Play the stream backwards (deterministic)."""

    def __call__(self, events):
        return T.time_reverse(events)


@dataclass(frozen=True)
class _Random:
    seed: int | None = None
    _rng: np.random.Generator = field(default=None, repr=False, compare=False)  # type: ignore[assignment]
    random = True

    def __post_init__(self):
        object.__setattr__(self, "_rng", np.random.default_rng(self.seed))


@dataclass(frozen=True)
class TimeJitter(_Random):
    """Gaussian timestamp noise (``std_us``)."""

    std_us: float = 100.0

    def __call__(self, events):
        return T.time_jitter(events, self.std_us, rng=self._rng)


@dataclass(frozen=True)
class SpatialJitter(_Random):
    """Gaussian position noise (``std`` pixels)."""

    sensor_size: tuple[int, int, int] = (0, 0, 0)
    std: float = 1.0

    def __call__(self, events):
        return T.spatial_jitter(events, self.sensor_size, self.std, rng=self._rng)


@dataclass(frozen=True)
class DropEvents(_Random):
    """Drop each event with probability ``p``."""

    p: float = 0.1

    def __call__(self, events):
        return T.drop_events(events, self.p, rng=self._rng)
