"""Readers for event-camera files: N-MNIST ``.bin``, AEDAT 2.0 / 3.1 / 4.0, Prophesee
EVT 2.0 / EVT 3.0 ``.raw`` and DAT, SLAYER ``.bs1`` 1-D spikes.

Decoding runs in Rust (``spikeflow._core``) without the GIL; :func:`read_many` decodes
files in parallel. Every reader returns a numpy structured array of
:data:`~spikeflow.data.dtypes.EVENTS_DTYPE` (``x, y, t [µs, int64], p [bool]``), the
layout of ``tonic.io.events_struct``. Anything that cannot be decoded raises
:class:`~spikeflow.data.errors.EventFormatError` naming the file and the byte offset.

Coordinates have their origin at the top-left pixel for every format (documented per
format in ``docs/data.md``): N-MNIST, AEDAT 3.1, AEDAT 4, EVT and DAT as stored; AEDAT 2.0
as jAER's extractors interpret addresses (DVS128: ``x = 127 - raw x``, ON when bit 0 is 0,
sync/special events dropped) with jAER's bottom-left origin turned top-left
(``y = 127 - raw y``).
"""
from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Union

import numpy as np

from spikeflow import _core
from spikeflow.data.dtypes import EVENTS1D_DTYPE, EVENTS_DTYPE
from spikeflow.data.errors import EventFormatError

__all__ = [
    "FORMATS",
    "FileInfo",
    "buffer_cache_bytes",
    "clear_buffer_cache",
    "decode",
    "detect_format",
    "read",
    "read_aedat2",
    "read_aedat3",
    "read_aedat4",
    "read_bs1",
    "read_dat",
    "read_evt2",
    "read_evt3",
    "read_info",
    "read_many",
    "read_nmnist",
]

PathLike = Union[str, "os.PathLike[str]"]

#: Short names of the formats the Rust decoders support.
FORMATS: tuple[str, ...] = tuple(_core.events_formats())
_FORMAT_SET = frozenset(FORMATS)


@dataclass(frozen=True)
class FileInfo:
    """What a decoded file says about itself.

    Attributes:
        path: the file.
        format: the short format name (one of :data:`FORMATS`).
        sensor_size: ``(width, height, 2)`` (Tonic's order) when the format or the header
            fixes it, else ``None``.
        n_events: number of decoded events.
    """

    path: str
    format: str
    sensor_size: tuple[int, int, int] | None
    n_events: int


def _as_events(raw: np.ndarray) -> np.ndarray:
    return raw.view(EVENTS_DTYPE)


def _check_format(format: str | None) -> str | None:
    if format is not None and format not in FORMATS:
        raise ValueError(f"unknown format {format!r}; expected one of {', '.join(FORMATS)}")
    return format


def read_info(path: PathLike, format: str | None = None) -> tuple[np.ndarray, FileInfo]:
    """Decode ``path`` and also return a :class:`FileInfo` (format, sensor size).

    Args:
        path: the file.
        format: force a format (one of :data:`FORMATS`); ``None`` detects it from the
            magic bytes / header, and from the extension for N-MNIST ``.bin``.
    """
    raw, fmt, size = _core.events_read(os.fspath(path), _check_format(format))
    ev = _as_events(raw)
    sensor = (int(size[0]), int(size[1]), 2) if size is not None else None
    return ev, FileInfo(os.fspath(path), fmt, sensor, len(ev))


def read(path: PathLike, format: str | None = None) -> np.ndarray:
    """Decode one event file into an array of :data:`EVENTS_DTYPE`.

    The format is detected from the header (AEDAT, Prophesee) or the extension (N-MNIST
    ``.bin``) unless ``format`` is given. ``.bs1`` files (SLAYER 1-D spikes) go to
    :func:`read_bs1` and return :data:`EVENTS1D_DTYPE`.

    Raises:
        EventFormatError: the file is empty, truncated, corrupt or of an unknown format.
        FileNotFoundError, PermissionError, OSError: the file cannot be read.
        MemoryError: the file or its events do not fit in memory (the message names it).
    """
    name = os.fspath(path)
    if format is None:
        if name.lower().endswith(".bs1"):
            return read_bs1(name)
    elif format not in _FORMAT_SET:
        _check_format(format)
    return _core.events_read(name, format)[0].view(EVENTS_DTYPE)


def read_many(
    paths: Iterable[PathLike], format: str | None = None, threads: int | None = None
) -> list[np.ndarray]:
    """Decode many files in parallel; one array per path, in the order of ``paths``.

    File reading and decoding run in Rust on ``threads`` threads (default: one per core)
    with the GIL released; each array equals :func:`read` of the same file. N-MNIST and
    AEDAT 2.0 files (given as ``format`` or, when ``format`` is None, by the ``.bin`` /
    ``.bs2`` / ``.aedat`` extension) are decoded straight into a shared numpy buffer (one
    per batch of files kept open at once, a quarter of the file-descriptor limit), so
    their arrays are views of it (keeping any of them keeps that buffer alive; ``.copy()``
    one to detach it). Other formats get arrays of their own. ``.bs1`` files are not
    supported here (use :func:`read_bs1`).

    When every array of an earlier call has been freed, its shared buffer (256 KiB or more)
    goes to a cache, and a later call needing between half its size and its size reuses
    it: reading the same files again (every epoch) then costs no page faults. The cache
    holds at most 1 GiB; :func:`clear_buffer_cache` releases it. A buffer still in use is
    never reused.

    Args:
        paths: the files.
        format: force one format for every file (one of :data:`FORMATS`); ``None`` detects
            each file's format as :func:`read` does.
        threads: number of decoding threads (at least 1); ``None`` uses all cores.

    Raises:
        EventFormatError: the first file (in ``paths`` order) that cannot be decoded; the
            error names the file and the byte offset.
        FileNotFoundError, PermissionError, OSError: a file cannot be read.
        MemoryError: the decoded events do not fit in memory (the message names the largest
            file).
        ValueError: unknown ``format`` or ``threads < 1``.
    """
    names = [os.fspath(p) for p in paths]
    if threads is not None and threads < 1:
        raise ValueError(f"threads must be at least 1, got {threads}")
    bigs, placed, counts, owned = _core.events_read_many(
        names, _check_format(format), threads, _open_files_per_batch()
    )
    evs = [big.view(EVENTS_DTYPE) for big in bigs]
    out = [evs[b][s : s + c] for (b, s), c in zip(placed, counts)]
    for i, (raw, _, _) in owned.items():
        out[i] = _as_events(raw)
    return out


def _open_files_per_batch() -> int:
    # read_many keeps a batch's files open between sizing and reading them: a quarter of
    # the process's file-descriptor limit, between 64 and 4096 (256 where it is unknown)
    try:
        import resource

        soft = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
    except (ImportError, OSError, ValueError):
        return 256
    if soft == resource.RLIM_INFINITY or soft < 0:
        return 4096
    return max(64, min(4096, soft // 4))


def clear_buffer_cache() -> None:
    """Release the output buffers :func:`read_many` keeps for reuse."""
    _core.events_cache_clear()


def buffer_cache_bytes() -> int:
    """Bytes of memory held for reuse by :func:`read_many`'s buffer cache."""
    return int(_core.events_cache_bytes())


def decode(data: bytes, format: str | None = None, name: str = "<bytes>") -> np.ndarray:
    """Decode a file's bytes held in memory. ``name`` appears in error messages and its
    extension helps detection when ``format`` is None."""
    raw, _, _ = _core.events_decode(bytes(data), name, _check_format(format))
    return _as_events(raw)


def detect_format(path: PathLike) -> str:
    """The short name of the format of ``path`` (reads at most its first MiB)."""
    return _core.events_detect(os.fspath(path))


def read_nmnist(path: PathLike) -> np.ndarray:
    """N-MNIST / N-Caltech101 ``.bin`` (40-bit events; ``y == 240`` overflow markers
    add 2^13 µs to later timestamps and are dropped)."""
    return read(path, "nmnist")


def read_aedat2(path: PathLike) -> np.ndarray:
    """AEDAT 2.0 (jAER; DVS128 or DAVIS addresses chosen from the ``AEChip`` line)."""
    return read(path, "aedat2")


def read_aedat3(path: PathLike) -> np.ndarray:
    """AEDAT 3.1 (cAER): polarity packets only, invalid events dropped, timestamp
    overflow applied."""
    return read(path, "aedat3")


def read_aedat4(path: PathLike) -> np.ndarray:
    """AEDAT 4.0 (DV): polarity events of the first event stream (LZ4/Zstd packets)."""
    return read(path, "aedat4")


def read_evt2(path: PathLike) -> np.ndarray:
    """Prophesee EVT 2.0 ``.raw``."""
    return read(path, "evt2")


def read_evt3(path: PathLike) -> np.ndarray:
    """Prophesee EVT 3.0 ``.raw`` (vectorised events, 24-bit time wrap handled)."""
    return read(path, "evt3")


def read_dat(path: PathLike) -> np.ndarray:
    """Prophesee DAT (``%`` header, type/size bytes, 8-byte CD events)."""
    return read(path, "dat")


def read_bs1(path: PathLike) -> np.ndarray:
    """SLAYER ``.bs1`` 1-D spikes (e.g. N-TIDIGITS): 5 bytes per event, big-endian bit
    order: channel (16 bits), polarity (1 bit), time in µs (23 bits).

    Returns an array of :data:`EVENTS1D_DTYPE` (``t, x, p``).
    """
    name = os.fspath(path)
    raw = np.fromfile(name, dtype=np.uint8)
    if raw.size == 0:
        raise EventFormatError(name, 0, "empty file")
    if raw.size % 5:
        raise EventFormatError(
            name, raw.size - raw.size % 5, f"truncated event: length {raw.size} is not a multiple of 5"
        )
    r = raw.reshape(-1, 5).astype(np.int64)
    out = np.empty(r.shape[0], dtype=EVENTS1D_DTYPE)
    out["x"] = (r[:, 0] << 8) | r[:, 1]
    out["p"] = (r[:, 2] & 0x80) != 0
    out["t"] = ((r[:, 2] & 0x7F) << 16) | (r[:, 3] << 8) | r[:, 4]
    return out


def _paths(paths: Sequence[PathLike]) -> list[str]:
    return [os.fspath(p) for p in paths]
