"""IDX files (MNIST, Fashion-MNIST): plain or gzip-compressed, validated against their header."""
from __future__ import annotations

import gzip
import os
from pathlib import Path

import numpy as np

from spikeflow.data.errors import DatasetNotFoundError, EventFormatError
from spikeflow.data.paths import data_root

__all__ = ["load_fashion_mnist", "load_mnist", "read_idx"]

_TYPES = {
    0x08: np.dtype(np.uint8),
    0x09: np.dtype(np.int8),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}


def read_idx(path: str | os.PathLike[str]) -> np.ndarray:
    """Read an IDX file (``.gz`` detected from the gzip magic, not the name).

    Returns an array of the stored type (native byte order) and shape.

    Raises:
        EventFormatError: bad magic, unknown type code, or a size that disagrees with the
            header (the message names the file and byte offset).
    """
    name = os.fspath(path)
    with open(name, "rb") as f:
        raw = f.read()
    if raw[:2] == b"\x1f\x8b":
        try:
            raw = gzip.decompress(raw)
        except (OSError, EOFError) as e:
            raise EventFormatError(name, None, f"corrupt gzip stream: {e}") from None
    if len(raw) < 4:
        raise EventFormatError(name, 0, "file too short for an IDX header")
    if raw[0] != 0 or raw[1] != 0:
        raise EventFormatError(name, 0, "bad IDX magic (first two bytes must be zero)")
    code, ndim = raw[2], raw[3]
    if code not in _TYPES:
        raise EventFormatError(name, 2, f"unknown IDX type code 0x{code:02x}")
    if ndim == 0 or len(raw) < 4 + 4 * ndim:
        raise EventFormatError(name, 3, f"bad or truncated IDX dimensions (ndim={ndim})")
    shape = tuple(int.from_bytes(raw[4 + 4 * i:8 + 4 * i], "big") for i in range(ndim))
    dt = _TYPES[code]
    start = 4 + 4 * ndim
    need = int(np.prod(shape, dtype=np.int64)) * dt.itemsize
    if len(raw) - start != need:
        raise EventFormatError(
            name, start, f"header says shape {shape} ({need} bytes) but {len(raw) - start} bytes follow"
        )
    arr = np.frombuffer(raw, dtype=dt, offset=start).reshape(shape)
    return arr.astype(dt.newbyteorder("="), copy=True)


def _load(folder: Path, train: bool, what: str) -> tuple[np.ndarray, np.ndarray]:
    prefix = "train" if train else "t10k"
    files = [f"{prefix}-images-idx3-ubyte", f"{prefix}-labels-idx1-ubyte"]
    found = []
    for stem in files:
        cands = [folder / (stem + ".gz"), folder / stem]
        hit = next((c for c in cands if c.exists()), None)
        if hit is None:
            raise DatasetNotFoundError(
                f"{what}: {stem}(.gz) not found in {folder}. Put the original IDX files "
                f"({', '.join(f + '.gz' for f in files)}) there, or pass root=... / set SPIKEFLOW_DATA."
            )
        found.append(hit)
    images, labels = read_idx(found[0]), read_idx(found[1])
    if images.ndim != 3 or labels.ndim != 1 or len(images) != len(labels):
        raise EventFormatError(str(found[0]), None, f"images {images.shape} and labels {labels.shape} disagree")
    return images, labels


def load_mnist(root: str | Path | None = None, train: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """MNIST images ``(N, 28, 28) uint8`` and labels ``(N,) uint8``.

    Looks in ``root`` (default ``data_root()/"mnist"``) for the original IDX files.
    """
    folder = Path(root) if root is not None else data_root() / "mnist"
    return _load(folder, train, "MNIST")


def load_fashion_mnist(
    root: str | Path | None = None, train: bool = True
) -> tuple[np.ndarray, np.ndarray]:
    """Fashion-MNIST images and labels (same layout as :func:`load_mnist`); default folder
    ``data_root()/"fashion-mnist"``."""
    folder = Path(root) if root is not None else data_root() / "fashion-mnist"
    return _load(folder, train, "Fashion-MNIST")
