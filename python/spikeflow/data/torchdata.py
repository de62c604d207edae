"""torch adapters: a ``torch.utils.data.Dataset`` wrapper with transforms and an on-disk
cache, and collate functions for variable-length event streams and frame sequences."""
from __future__ import annotations

import hashlib
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Callable

import numpy as np

__all__ = ["TorchEventDataset", "events_to_tensor", "pad_collate"]

try:  # torch is optional for the rest of spikeflow.data
    from torch.utils.data import Dataset as _TorchDataset
except ImportError:  # pragma: no cover
    _TorchDataset = object  # type: ignore[assignment,misc]


def _cache_key(dataset: Any, index: int, transform: Callable | None) -> str:
    if hasattr(dataset, "sample_key"):
        src = dataset.sample_key(index)
    else:
        src = f"{type(dataset).__name__}:{index}"
    h = hashlib.sha256(f"{src}|{transform!r}".encode()).hexdigest()
    return h[:32]


class TorchEventDataset(_TorchDataset):
    """Wrap an ``(events, label)`` dataset (e.g. :class:`~spikeflow.data.datasets.NMNIST`)
    for a ``DataLoader``: apply ``transform`` to the events, ``target_transform`` to the
    label, and optionally cache transformed samples on disk.

    Args:
        dataset: any sequence of ``(events, label)``; its own transform should be None.
        transform: applied to each sample's events (e.g. ``pipeline.ToFrame(...)``).
        target_transform: applied to each label.
        cache_dir: where to store transformed samples as ``.npy`` files. The key hashes the
            sample's source (``dataset.sample_key(i)``: path, size, mtime, segment) and
            ``repr(transform)``, so changing a file or any transform parameter misses the
            cache. Random transforms (``transform.random``) are refused with a cache.
    """

    def __init__(
        self,
        dataset: Sequence,
        transform: Callable | None = None,
        target_transform: Callable | None = None,
        cache_dir: str | os.PathLike[str] | None = None,
    ):
        self.dataset = dataset
        self.transform = transform
        self.target_transform = target_transform
        self.cache_dir = Path(cache_dir) if cache_dir is not None else None
        if self.cache_dir is not None:
            if getattr(transform, "random", False):
                raise ValueError("a cache would freeze a random transform; cache only deterministic ones")
            self.cache_dir.mkdir(parents=True, exist_ok=True)
        self.cache_hits = 0

    def __len__(self) -> int:
        return len(self.dataset)

    def _compute(self, index: int):
        events, target = self.dataset[index]
        if self.transform is not None:
            events = self.transform(events)
        return events, target

    def __getitem__(self, index: int):
        if self.cache_dir is None:
            x, y = self._compute(index)
        else:
            f = self.cache_dir / f"{_cache_key(self.dataset, index, self.transform)}.npz"
            if f.exists():
                with np.load(f, allow_pickle=False) as z:
                    x, y = z["x"], z["y"].item()
                self.cache_hits += 1
            else:
                x, y = self._compute(index)
                tmp = f.with_name(f.name + f".{os.getpid()}.tmp.npz")
                np.savez(tmp, x=np.asarray(x), y=np.asarray(y))
                os.replace(tmp, f)
        if self.target_transform is not None:
            y = self.target_transform(y)
        return x, y


def events_to_tensor(events: np.ndarray):
    """A structured event array -> int64 tensor ``(N, 4)`` with columns ``x, y, t, p``
    (1-D events: ``t, x, p`` -> columns ``x, 0, t, p``)."""
    import torch

    n = len(events)
    out = np.empty((n, 4), dtype=np.int64)
    out[:, 0] = events["x"]
    out[:, 1] = events["y"] if "y" in events.dtype.names else 0
    out[:, 2] = events["t"]
    out[:, 3] = events["p"]
    return torch.from_numpy(out)


def pad_collate(batch: list[tuple[Any, Any]], time_first: bool = True):
    """Collate variable-length samples.

    * Structured event arrays -> ``(events (B, N_max, 4) int64 [x, y, t, p] padded with
      -1, lengths (B,), labels (B,))``.
    * Frame arrays ``(T, ...)`` -> ``(frames, lengths, labels)`` with frames zero-padded to
      ``T_max`` and stacked time-first ``(T_max, B, ...)`` (or ``(B, T_max, ...)`` when
      ``time_first=False``).
    """
    import torch

    xs, ys = zip(*batch)
    labels = torch.as_tensor(np.asarray(ys))
    if isinstance(xs[0], np.ndarray) and xs[0].dtype.names is not None:
        tens = [events_to_tensor(x) for x in xs]
        lengths = torch.tensor([len(t) for t in tens], dtype=torch.int64)
        out = torch.full((len(tens), int(lengths.max()) if len(tens) else 0, 4), -1, dtype=torch.int64)
        for i, t in enumerate(tens):
            out[i, : len(t)] = t
        return out, lengths, labels
    tens = [torch.as_tensor(np.asarray(x)) for x in xs]
    lengths = torch.tensor([t.shape[0] for t in tens], dtype=torch.int64)
    tmax = int(lengths.max())
    out = torch.zeros((len(tens), tmax) + tuple(tens[0].shape[1:]), dtype=tens[0].dtype)
    for i, t in enumerate(tens):
        out[i, : t.shape[0]] = t
    if time_first:
        out = out.transpose(0, 1).contiguous()
    return out, lengths, labels
