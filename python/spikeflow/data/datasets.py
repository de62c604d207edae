"""Datasets that walk the original folder layouts of N-MNIST, DVS128 Gesture, CIFAR10-DVS
and SHD / SSC. Nothing downloads: when files are missing, :class:`DatasetNotFoundError`
says exactly what to put where.

Each dataset is a sequence of ``(events, label)`` pairs (a map-style dataset that a
``torch.utils.data.DataLoader`` accepts directly) with ``classes``, ``sensor_size``
(Tonic's ``(W, H, P)``), ``transform`` / ``target_transform`` and ``sample_key(i)`` (a
string identifying the sample's source, used by the on-disk cache).
"""
from __future__ import annotations

import csv
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Callable, Union

import numpy as np

from spikeflow.data.dtypes import EVENTS1D_DTYPE
from spikeflow.data.errors import DatasetNotFoundError
from spikeflow.data.paths import data_root
from spikeflow.data.readers import read

__all__ = ["CIFAR10DVS", "NMNIST", "SHD", "SSC", "DVSGesture", "EventDataset"]

Root = Union[str, "os.PathLike[str]", None]


class EventDataset:
    """Base class: a list of samples read lazily, with optional transforms.

    Subclasses fill ``self.samples`` (anything :meth:`load` understands) and
    ``self.targets`` (int labels) and implement :meth:`load`.
    """

    classes: Sequence[str] = ()
    sensor_size: tuple[int, int, int] = (0, 0, 0)

    def __init__(self, transform: Callable | None = None, target_transform: Callable | None = None):
        self.transform = transform
        self.target_transform = target_transform
        self.samples: list[Any] = []
        self.targets: list[int] = []

    def __len__(self) -> int:
        return len(self.samples)

    def load(self, index: int) -> np.ndarray:
        """The raw (untransformed) events of sample ``index``."""
        raise NotImplementedError

    def sample_key(self, index: int) -> str:
        """A string naming the source of sample ``index`` (file, size, mtime, segment)."""
        s = self.samples[index]
        path = s[0] if isinstance(s, tuple) else s
        try:
            st = os.stat(path)
            ident = f"{path}:{st.st_size}:{st.st_mtime_ns}"
        except OSError:
            ident = str(path)
        return f"{type(self).__name__}:{ident}:{s[1:] if isinstance(s, tuple) else ''}"

    def __getitem__(self, index: int):
        if not -len(self) <= index < len(self):
            raise IndexError(f"index {index} out of range for {len(self)} samples")
        index %= len(self)
        events = self.load(index)
        target = self.targets[index]
        if self.transform is not None:
            events = self.transform(events)
        if self.target_transform is not None:
            target = self.target_transform(target)
        return events, target

    def __repr__(self) -> str:
        return f"{type(self).__name__}({len(self)} samples, {len(self.classes)} classes, sensor {self.sensor_size})"


def _resolve(root: Root, default: str) -> Path:
    return Path(root).expanduser() if root is not None else data_root() / default


class NMNIST(EventDataset):
    """N-MNIST (Orchard et al. 2015): ``root/Train/<digit>/<index>.bin`` and
    ``root/Test/<digit>/<index>.bin`` — the layout of the original unzipped archives.

    Args:
        root: the folder holding ``Train/`` and ``Test/`` (default ``data_root()/"nmnist"``).
        train: which split.
        first_saccade_only: keep only events of the first ~100 ms saccade.
    """

    classes = tuple(str(d) for d in range(10))
    sensor_size = (34, 34, 2)

    def __init__(
        self,
        root: Root = None,
        train: bool = True,
        transform: Callable | None = None,
        target_transform: Callable | None = None,
        first_saccade_only: bool = False,
    ):
        super().__init__(transform, target_transform)
        self.root = _resolve(root, "nmnist")
        self.first_saccade_only = first_saccade_only
        split = self.root / ("Train" if train else "Test")
        if not split.is_dir():
            raise DatasetNotFoundError(
                f"N-MNIST: folder {split} not found. Unzip Train.zip and Test.zip from the N-MNIST "
                f"release into {self.root} so that it holds Train/<digit>/*.bin and Test/<digit>/*.bin "
                "(or pass root=..., or set SPIKEFLOW_DATA)."
            )
        for d in range(10):
            for f in sorted((split / str(d)).glob("*.bin")):
                self.samples.append(f)
                self.targets.append(d)
        if not self.samples:
            raise DatasetNotFoundError(f"N-MNIST: no <digit>/*.bin files under {split}")

    def load(self, index: int) -> np.ndarray:
        """The raw events of sample ``index``."""
        ev = read(self.samples[index], format="nmnist")
        if self.first_saccade_only:
            ev = ev[ev["t"] < 100_000]
        return ev


DVS_GESTURE_CLASSES = (
    "hand clapping",
    "right hand wave",
    "left hand wave",
    "right arm clockwise",
    "right arm counter-clockwise",
    "left arm clockwise",
    "left arm counter-clockwise",
    "arm roll",
    "air drums",
    "air guitar",
    "other gestures",
)


class DVSGesture(EventDataset):
    """DVS128 Gesture (Amir et al. 2017): ``root/userXX_<lighting>.aedat`` (AEDAT 3.1) with
    ``root/userXX_<lighting>_labels.csv`` (``class,startTime_usec,endTime_usec``). Each
    sample is one labelled gesture segment (``start <= t < end``); labels are 0-based.

    The split follows ``trials_to_train.txt`` / ``trials_to_test.txt`` when present in
    ``root``, else the official one (users 1-23 train, 24-29 test).
    """

    classes = DVS_GESTURE_CLASSES
    sensor_size = (128, 128, 2)

    def __init__(
        self,
        root: Root = None,
        train: bool = True,
        transform: Callable | None = None,
        target_transform: Callable | None = None,
    ):
        super().__init__(transform, target_transform)
        self.root = _resolve(root, "DvsGesture")
        if not self.root.is_dir():
            raise DatasetNotFoundError(
                f"DVS Gesture: folder {self.root} not found. Extract DvsGesture.tar.gz there so that "
                "it holds userXX_<lighting>.aedat and userXX_<lighting>_labels.csv files."
            )
        listing = self.root / ("trials_to_train.txt" if train else "trials_to_test.txt")
        if listing.exists():
            names = [n.strip() for n in listing.read_text().splitlines() if n.strip()]
            trials = [self.root / n for n in names]
        else:
            users = range(1, 24) if train else range(24, 30)
            trials = sorted(
                p for p in self.root.glob("user*.aedat") if int(p.name[4:6]) in users
            )
        for trial in trials:
            labels = trial.with_name(trial.stem + "_labels.csv")
            if not trial.exists() or not labels.exists():
                raise DatasetNotFoundError(f"DVS Gesture: {trial.name} or its _labels.csv missing in {self.root}")
            with open(labels, newline="") as fh:
                for row in csv.reader(fh):
                    if not row or not row[0].strip().isdigit():
                        continue
                    c, start, end = int(row[0]), int(row[1]), int(row[2])
                    self.samples.append((trial, start, end))
                    self.targets.append(c - 1)
        if not self.samples:
            raise DatasetNotFoundError(f"DVS Gesture: no labelled trials found in {self.root}")
        self._cache: tuple[Path | None, np.ndarray | None] = (None, None)

    def load(self, index: int) -> np.ndarray:
        """The raw events of sample ``index``."""
        trial, start, end = self.samples[index]
        if self._cache[0] != trial:
            self._cache = (trial, read(trial, format="aedat3"))
        ev = self._cache[1]
        t = ev["t"]
        lo, hi = np.searchsorted(t, start, "left"), np.searchsorted(t, end, "left")
        return ev[lo:hi].copy()


CIFAR10_CLASSES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")


class CIFAR10DVS(EventDataset):
    """CIFAR10-DVS (Li et al. 2017): ``root/<class>/*.aedat`` (the original AEDAT 2.0 DVS128
    recordings) or ``*.aedat4`` (the re-encoded release). 10 classes, 128x128."""

    classes = CIFAR10_CLASSES
    sensor_size = (128, 128, 2)

    def __init__(
        self,
        root: Root = None,
        transform: Callable | None = None,
        target_transform: Callable | None = None,
    ):
        super().__init__(transform, target_transform)
        self.root = _resolve(root, "CIFAR10DVS")
        for c, name in enumerate(self.classes):
            folder = self.root / name
            for f in sorted(list(folder.glob("*.aedat")) + list(folder.glob("*.aedat4"))):
                self.samples.append(f)
                self.targets.append(c)
        if not self.samples:
            raise DatasetNotFoundError(
                f"CIFAR10-DVS: no <class>/*.aedat(4) files under {self.root}. Extract the per-class "
                f"archives there so it holds {', '.join(self.classes[:3])}, ... folders."
            )

    def load(self, index: int) -> np.ndarray:
        """The raw events of sample ``index``."""
        return read(self.samples[index])


class SHD(EventDataset):
    """Spiking Heidelberg Digits (Cramer et al. 2020): ``shd_train.h5`` / ``shd_test.h5`` with
    ``spikes/times`` (seconds), ``spikes/units`` and ``labels``. Samples are 1-D events
    (:data:`EVENTS1D_DTYPE`: ``t`` in µs, ``x`` = channel 0-699, ``p`` = True); sensor
    ``(700, 1, 1)``. Needs ``h5py`` (``pip install spikeflow[data]``).

    Args:
        root: folder holding the ``.h5`` files, or the path of one ``.h5`` file.
    """

    classes = tuple(
        [f"{d} (en)" for d in (["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"])]
        + [f"{d} (de)" for d in (["null", "eins", "zwei", "drei", "vier", "fuenf", "sechs", "sieben", "acht", "neun"])]
    )
    sensor_size = (700, 1, 1)
    _stem = "shd"

    def __init__(
        self,
        root: Root = None,
        train: bool = True,
        transform: Callable | None = None,
        target_transform: Callable | None = None,
    ):
        super().__init__(transform, target_transform)
        base = _resolve(root, self._stem.upper())
        path = base if base.suffix in (".h5", ".hdf5") else base / f"{self._stem}_{'train' if train else 'test'}.h5"
        if not path.exists():
            raise DatasetNotFoundError(
                f"{type(self).__name__}: {path} not found. Put {self._stem}_train.h5 and "
                f"{self._stem}_test.h5 (gunzipped) in {path.parent}."
            )
        try:
            import h5py
        except ImportError as e:  # pragma: no cover - depends on the environment
            raise ImportError("reading SHD/SSC needs h5py: pip install 'spikeflow[data]'") from e
        self.path = path
        with h5py.File(path, "r") as f:
            for key in ("spikes/times", "spikes/units", "labels"):
                if key not in f:
                    raise DatasetNotFoundError(f"{path}: missing dataset '{key}' (not an SHD/SSC file?)")
            self.targets = [int(v) for v in f["labels"][()]]
        self.samples = [(path, i) for i in range(len(self.targets))]
        self._h5 = None

    def load(self, index: int) -> np.ndarray:
        """The raw events of sample ``index``."""
        import h5py

        if self._h5 is None:
            self._h5 = h5py.File(self.path, "r")
        times = np.asarray(self._h5["spikes/times"][index], dtype=np.float64)
        units = np.asarray(self._h5["spikes/units"][index])
        out = np.empty(len(times), dtype=EVENTS1D_DTYPE)
        out["t"] = np.rint(times * 1e6).astype(np.int64)
        out["x"] = units
        out["p"] = True
        return out[np.argsort(out["t"], kind="stable")]

    def __getstate__(self):
        state = self.__dict__.copy()
        state["_h5"] = None  # h5py handles do not pickle (DataLoader workers reopen)
        return state


class SSC(SHD):
    """Spiking Speech Commands: same layout as :class:`SHD` (``ssc_train.h5``,
    ``ssc_valid.h5``, ``ssc_test.h5``), 35 classes."""

    classes = tuple(str(i) for i in range(35))
    _stem = "ssc"
