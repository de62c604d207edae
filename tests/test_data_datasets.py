"""Dataset classes over real and independently written files; torch wrapper, cache, collate."""
from __future__ import annotations

import shutil

import numpy as np
import pytest
import spikeflow.data as sd
from spikeflow.data import pipeline as P
from test_data_bad_input import polarity, write_aedat31
from test_data_common import require


def test_nmnist_real_layout():
    root = require("nmnist")
    train, test = sd.NMNIST(root, train=True), sd.NMNIST(root, train=False)
    assert len(train) == 1000 and len(test) == 81
    ev, label = train[0]
    assert ev.dtype == sd.EVENTS_DTYPE and label == int(train.samples[0].parent.name)
    assert train.sensor_size == (34, 34, 2) and len(train.classes) == 10
    assert sorted(set(train.targets)) == list(range(10))
    first = sd.NMNIST(root, first_saccade_only=True)[0][0]
    assert first["t"].max() < 100_000 < ev["t"].max()
    with pytest.raises(IndexError):
        train[1000]


def test_missing_layouts_say_where_files_go(tmp_path):
    with pytest.raises(sd.DatasetNotFoundError, match="Train"):
        sd.NMNIST(tmp_path)
    (tmp_path / "Train").mkdir()
    with pytest.raises(sd.DatasetNotFoundError, match="bin"):
        sd.NMNIST(tmp_path)
    with pytest.raises(sd.DatasetNotFoundError, match="DvsGesture"):
        sd.DVSGesture(tmp_path / "nothing")
    with pytest.raises(sd.DatasetNotFoundError, match="labelled"):
        sd.DVSGesture(tmp_path)
    with pytest.raises(sd.DatasetNotFoundError, match="airplane"):
        sd.CIFAR10DVS(tmp_path)
    with pytest.raises(sd.DatasetNotFoundError, match="shd_train.h5"):
        sd.SHD(tmp_path)


def test_dvs_gesture_segments_with_real_label_file(tmp_path):
    csv_path = require("events/dvsgesture/user01_natural_labels.csv")
    rows = [r.split(",") for r in csv_path.read_text().splitlines()[1:] if r.strip()]
    rng = np.random.default_rng(0)
    t_end = max(int(r[2]) for r in rows) + 1000
    n = 20000
    t = np.sort(rng.integers(0, t_end, n))
    packets = []
    for k in range(0, n, 4096):
        chunk = [(polarity(int(rng.integers(128)), int(rng.integers(128)), int(rng.integers(2))), int(v)) for v in t[k:k + 4096]]
        packets.append((1, 0, chunk, 8))
    write_aedat31(tmp_path / "user01_natural.aedat", packets)
    shutil.copy(csv_path, tmp_path / "user01_natural_labels.csv")
    ds = sd.DVSGesture(tmp_path, train=True)
    assert len(ds) == len(rows)
    for i, r in enumerate(rows):
        ev, label = ds[i]
        assert label == int(r[0]) - 1
        assert len(ev) == np.sum((t >= int(r[1])) & (t < int(r[2])))
        if len(ev):
            assert ev["t"].min() >= int(r[1]) and ev["t"].max() < int(r[2])
    (tmp_path / "trials_to_test.txt").write_text("user01_natural.aedat\n")
    assert len(sd.DVSGesture(tmp_path, train=False)) == len(rows)


def _write_dvs128_aedat2(path, x, y, t, on):
    addr = ((127 - y).astype(np.uint32) << 8) | ((127 - x).astype(np.uint32) << 1) | (~on).astype(np.uint32)
    body = np.stack([addr, t.astype(np.uint32)], axis=1).astype(">u4").tobytes()
    path.write_bytes(b"#!AER-DAT2.0\r\n# AEChip: ch.unizh.ini.jaer.chip.retina.DVS128\r\n" + body)


def test_cifar10dvs_layout(tmp_path):
    rng = np.random.default_rng(1)
    for c in ["airplane", "truck"]:
        (tmp_path / c).mkdir()
        for k in range(2):
            n = 100
            _write_dvs128_aedat2(tmp_path / c / f"cifar10_{c}_{k}.aedat", rng.integers(0, 128, n),
                                 rng.integers(0, 128, n), np.sort(rng.integers(0, 10**6, n)), rng.random(n) < 0.5)
    ds = sd.CIFAR10DVS(tmp_path)
    assert len(ds) == 4 and ds.targets == [0, 0, 9, 9]
    ev, label = ds[3]
    assert len(ev) == 100 and label == 9 and ev["x"].max() < 128


def test_shd_from_independent_h5(tmp_path):
    h5py = pytest.importorskip("h5py")
    rng = np.random.default_rng(2)
    f = h5py.File(tmp_path / "shd_train.h5", "w")
    vf, vu = h5py.vlen_dtype(np.float32), h5py.vlen_dtype(np.uint16)
    times = f.create_dataset("spikes/times", (3,), dtype=vf)
    units = f.create_dataset("spikes/units", (3,), dtype=vu)
    want = []
    for i in range(3):
        n = 50 + i
        tt = np.sort(rng.random(n).astype(np.float32))
        uu = rng.integers(0, 700, n).astype(np.uint16)
        times[i], units[i] = tt, uu
        want.append((tt, uu))
    f.create_dataset("labels", data=np.array([3, 19, 0], dtype=np.uint16))
    f.close()
    ds = sd.SHD(tmp_path, train=True)
    assert len(ds) == 3 and ds.targets == [3, 19, 0] and ds.sensor_size == (700, 1, 1)
    ev, label = ds[1]
    assert ev.dtype == sd.EVENTS1D_DTYPE and label == 19
    np.testing.assert_array_equal(ev["t"], np.rint(want[1][0].astype(np.float64) * 1e6).astype(np.int64))
    np.testing.assert_array_equal(ev["x"], want[1][1])
    frames = sd.to_frames(ev, ds.sensor_size, n_time_bins=4)
    assert frames.shape == (4, 1, 1, 700) and frames.sum() == 51
    import pickle

    assert len(pickle.loads(pickle.dumps(ds))[2][0]) == 52


def test_torch_wrapper_cache_and_collate(tmp_path):
    torch = pytest.importorskip("torch")
    root = require("nmnist")
    base = sd.NMNIST(root, train=False)
    to_frame = P.ToFrame((34, 34, 2), time_window=50_000, include_incomplete=True)
    ds = sd.TorchEventDataset(base, transform=to_frame, cache_dir=tmp_path / "cache")
    x0, y0 = ds[0]
    x0b, _ = ds[0]
    assert ds.cache_hits == 1 and np.array_equal(x0, x0b) and y0 == base.targets[0]
    other = sd.TorchEventDataset(base, transform=P.ToFrame((34, 34, 2), time_window=25_000), cache_dir=tmp_path / "cache")
    assert other[0][0].shape[0] != x0.shape[0] and other.cache_hits == 0
    with pytest.raises(ValueError, match="random"):
        sd.TorchEventDataset(base, transform=P.Compose([P.TimeJitter(seed=0)]), cache_dir=tmp_path / "c2")
    loader = torch.utils.data.DataLoader(ds, batch_size=4, collate_fn=sd.pad_collate)
    frames, lengths, labels = next(iter(loader))
    assert frames.shape[1:] == (4, 2, 34, 34) and frames.shape[0] == int(lengths.max()) and labels.shape == (4,)
    raw = torch.utils.data.DataLoader(base, batch_size=3, collate_fn=sd.pad_collate, num_workers=2)
    ev, lengths, labels = next(iter(raw))
    assert ev.shape == (3, int(lengths.max()), 4)
    assert (ev[0, int(lengths[0]):] == -1).all()
    np.testing.assert_array_equal(ev[0, : int(lengths[0]), 2].numpy(), base[0][0]["t"])


def test_pipeline_repr_is_a_stable_key():
    a = P.Compose([P.Denoise((34, 34, 2), 5000), P.ToFrame((34, 34, 2), n_time_bins=3)])
    b = P.Compose([P.Denoise((34, 34, 2), 5000), P.ToFrame((34, 34, 2), n_time_bins=3)])
    c = P.Compose([P.Denoise((34, 34, 2), 5001), P.ToFrame((34, 34, 2), n_time_bins=3)])
    assert repr(a) == repr(b) != repr(c)
    ev = sd.read(require("nmnist/unlabeled/sample_nmnist.bin"))
    assert a(ev).shape == (3, 2, 34, 34)
    j = P.Compose([P.TimeJitter(seed=1, std_us=10), P.SpatialJitter(seed=2, sensor_size=(34, 34, 2)), P.DropEvents(seed=3, p=0.2)])
    assert j.random and len(j(ev)) < len(ev)
