"""Encoders and IDX readers."""
from __future__ import annotations

import gzip
import struct

import numpy as np
import pytest
import spikeflow.data as sd
from spikeflow.data import encoders as E
from test_data_common import require


def test_poisson_rates():
    x = np.array([0.0, 0.5, 1.0])
    s = E.poisson(x, 20_000, max_rate_hz=100.0, dt_ms=1.0, rng=0)
    assert s.shape == (20_000, 3) and s.dtype == bool
    rates = s.mean(axis=0) * 1000.0
    assert rates[0] == 0 and abs(rates[1] - 50) < 5 and abs(rates[2] - 100) < 8
    np.testing.assert_array_equal(s, E.poisson(x, 20_000, rng=0))
    t, ids = E.poisson_spike_times(np.array([0.2, 1.0]), 10_000.0, 50.0, rng=1)
    assert np.all(np.diff(t) >= 0) and t.max() < 10_000
    assert abs(np.sum(ids == 1) - 500) < 80 and abs(np.sum(ids == 0) - 100) < 35
    img = np.array([[0, 255]], dtype=np.uint8)
    assert E.poisson(img, 5, max_rate_hz=1000.0, rng=0)[:, 0, 1].all()
    with pytest.raises(ValueError):
        E.poisson(np.array([1.5]), 3)


def test_latency():
    x = np.array([0.0, 0.25, 1.0, 0.5])
    t, ids = E.latency(x, t_max_ms=40.0)
    np.testing.assert_array_equal(ids, [2, 3, 1])
    np.testing.assert_allclose(t, [0.0, 20.0, 30.0])
    t, ids = E.latency(x, threshold=0.3, mode="log", tau_ms=5.0)
    np.testing.assert_array_equal(ids, [2, 3])
    np.testing.assert_allclose(t, 5.0 * np.log(np.array([1.0, 0.5]) / np.array([0.7, 0.2])))
    d = E.latency_dense(x, 11)
    assert d.shape == (11, 4) and d.sum() == 3 and d[0, 2] and d[5, 3]


def test_delta():
    seq = np.array([0.0, 0.05, 0.2, 0.2, 0.0, 0.0])
    out = E.delta(seq[:, None], threshold=0.1)
    assert out.shape == (6, 2, 1)
    np.testing.assert_array_equal(out[:, 1, 0], [0, 0, 1, 0, 0, 0])
    np.testing.assert_array_equal(out[:, 0, 0], [0, 0, 0, 0, 1, 0])
    assert E.delta(seq, 0.1, off_spikes=False).shape == (6,)


def write_idx(path, arr, gz=True):
    code = {np.uint8: 0x08, np.int32: 0x0C}[arr.dtype.type]
    head = bytes([0, 0, code, arr.ndim]) + b"".join(struct.pack(">I", s) for s in arr.shape)
    body = arr.astype(arr.dtype.newbyteorder(">")).tobytes()
    data = head + body
    path.write_bytes(gzip.compress(data) if gz else data)


def test_idx_roundtrip_and_errors(tmp_path):
    a = np.arange(24, dtype=np.uint8).reshape(2, 3, 4)
    write_idx(tmp_path / "a.gz", a)
    np.testing.assert_array_equal(sd.read_idx(tmp_path / "a.gz"), a)
    b = np.array([-5, 7, 1 << 20], dtype=np.int32)
    write_idx(tmp_path / "b", b, gz=False)
    np.testing.assert_array_equal(sd.read_idx(tmp_path / "b"), b)
    (tmp_path / "c").write_bytes(bytes([0, 0, 8, 1, 0, 0, 0, 9, 1, 2]))
    with pytest.raises(sd.EventFormatError, match="shape"):
        sd.read_idx(tmp_path / "c")
    (tmp_path / "d").write_bytes(b"\x01\x02\x08\x01")
    with pytest.raises(sd.EventFormatError, match="magic"):
        sd.read_idx(tmp_path / "d")
    (tmp_path / "e").write_bytes(b"\x1f\x8bgarbage")
    with pytest.raises(sd.EventFormatError, match="gzip"):
        sd.read_idx(tmp_path / "e")
    with pytest.raises(sd.DatasetNotFoundError, match="train-images-idx3-ubyte"):
        sd.load_mnist(tmp_path)


def test_real_mnist_and_fashion():
    x, y = sd.load_mnist(require("mnist"), train=False)
    assert x.shape == (10000, 28, 28) and x.dtype == np.uint8 and y.shape == (10000,)
    assert set(np.unique(y)) == set(range(10))
    fx, fy = sd.load_fashion_mnist(require("fashion-mnist"), train=False)
    assert fx.shape == (10000, 28, 28) and fy.max() == 9


def test_real_mnist_train_labels_match_nmnist_manifest():
    import csv

    rows = list(csv.DictReader((require("nmnist") / "manifest.csv").read_text().splitlines()))
    _, y = sd.load_mnist(require("mnist"), train=True)
    train = [r for r in rows if r["split"] == "Train"][:200]
    assert all(int(y[int(r["mnist_index_1based"]) - 1]) == int(r["label"]) for r in train)
