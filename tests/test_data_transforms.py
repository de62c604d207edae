"""Transforms, frames, spike sources and torch tensors."""
from __future__ import annotations

import numpy as np
import pytest
import spikeflow.data as sd
from spikeflow.data import transforms as T
from test_data_common import require

SENSOR = (34, 34, 2)


@pytest.fixture(scope="module")
def nmnist():
    return sd.read(require("nmnist/unlabeled/sample_nmnist.bin"))


def random_events(n=2000, w=20, h=15, seed=0, t_max=100_000):
    g = np.random.default_rng(seed)
    return sd.make_events(g.integers(0, w, n), g.integers(0, h, n), np.sort(g.integers(0, t_max, n)), g.integers(0, 2, n))


def test_frames_by_time_window_match_histogram(nmnist):
    f = sd.to_frames(nmnist, SENSOR, time_window=10_000, include_incomplete=True)
    t0 = nmnist["t"][0]
    k = (nmnist["t"] - t0) // 10_000
    assert f.shape == (k.max() + 1, 2, 34, 34)
    ref = np.zeros_like(f)
    np.add.at(ref, (k, nmnist["p"].astype(int), nmnist["y"], nmnist["x"]), 1)
    np.testing.assert_array_equal(f, ref)
    assert f.sum() == len(nmnist)
    g = sd.to_frames(nmnist, SENSOR, time_window=10_000)
    assert len(g) == len(f) - 1  # last incomplete window dropped
    np.testing.assert_array_equal(g, f[:-1])


def test_frames_by_count_bins_and_overlap(nmnist):
    f = sd.to_frames(nmnist, SENSOR, event_count=1000)
    assert len(f) == len(nmnist) // 1000 and np.all(f.sum(axis=(1, 2, 3)) == 1000)
    f = sd.to_frames(nmnist, SENSOR, n_event_bins=7)
    assert len(f) == 7 and f.sum() == len(nmnist)
    f = sd.to_frames(nmnist, SENSOR, n_time_bins=10)
    assert f.shape == (10, 2, 34, 34) and f.sum() == len(nmnist)
    o = sd.to_frames(nmnist, SENSOR, time_window=20_000, overlap=10_000)
    n = sd.to_frames(nmnist, SENSOR, time_window=10_000)
    np.testing.assert_array_equal(o[0], n[0] + n[1])
    np.testing.assert_array_equal(o[1], n[1] + n[2])
    single = sd.to_frames(nmnist, (34, 34, 1), n_time_bins=2)
    assert single.shape == (2, 1, 34, 34) and single.sum() == len(nmnist)
    with pytest.raises(ValueError, match="exactly one"):
        sd.to_frames(nmnist, SENSOR)
    with pytest.raises(ValueError, match="outside"):
        sd.to_frames(nmnist, (10, 10, 2), n_time_bins=1)


def test_frames_one_dimensional():
    ev = sd.make_events_1d([0, 5, 10, 15], [0, 3, 3, 6])
    f = sd.to_frames(ev, (7, 1, 1), n_time_bins=2)
    assert f.shape == (2, 1, 1, 7)
    np.testing.assert_array_equal(f[:, 0, 0], [[1, 0, 0, 1, 0, 0, 0], [0, 0, 0, 1, 0, 0, 1]])


def test_torch_tensors(nmnist):
    torch = pytest.importorskip("torch")
    d = sd.to_dense_tensor(nmnist, SENSOR, n_time_bins=5)
    s = sd.to_sparse_tensor(nmnist, SENSOR, n_time_bins=5)
    assert d.dtype == torch.float32 and d.shape == (5, 2, 34, 34)
    assert torch.equal(s.to_dense(), d)


def test_spike_source_index_map(nmnist):
    times, ids = sd.to_spike_source(nmnist, SENSOR)
    assert np.all(np.diff(times) >= 0) and ids.max() < sd.n_neurons(SENSOR) == 2 * 34 * 34
    x, y, p = sd.neuron_coords(ids, SENSOR)
    order = np.argsort(nmnist["t"], kind="stable")
    np.testing.assert_array_equal(x, nmnist["x"][order])
    np.testing.assert_array_equal(y, nmnist["y"][order])
    np.testing.assert_array_equal(p, nmnist["p"][order])
    np.testing.assert_allclose(times, nmnist["t"][order] / 1000.0)
    # same order as flattening a (P, H, W) frame
    frame = sd.to_frames(nmnist, SENSOR, n_time_bins=1)[0].ravel()
    np.testing.assert_array_equal(np.bincount(ids, minlength=frame.size), frame)
    t2, _ = sd.to_spike_source(nmnist, SENSOR, origin_us=None)
    assert t2[0] == 0.0
    _, merged = sd.to_spike_source(nmnist, (34, 34, 1))
    assert merged.max() < 34 * 34


def _ref_refractory(ev, period):
    last, keep = {}, []
    for e in ev:
        k = (int(e["x"]), int(e["y"]))
        ok = k not in last or e["t"] - last[k] > period
        keep.append(ok)
        if ok:
            last[k] = e["t"]
    return ev[np.array(keep, bool)]


def _ref_denoise(ev, w, h, window):
    last = np.full((h, w), -(10**18))
    keep = []
    for e in ev:
        x, y, t = int(e["x"]), int(e["y"]), int(e["t"])
        ys, xs = slice(max(y - 1, 0), y + 2), slice(max(x - 1, 0), x + 2)
        nb = last[ys, xs].copy()
        nb[y - ys.start, x - xs.start] = -(10**18)
        keep.append(bool(np.any(t - nb <= window)))
        last[y, x] = t
    return ev[np.array(keep, bool)]


def test_refractory_and_denoise_match_reference(nmnist):
    for period in [0, 500, 5000]:
        np.testing.assert_array_equal(T.refractory(nmnist, SENSOR, period), _ref_refractory(nmnist, period))
    for window in [100, 2000]:
        np.testing.assert_array_equal(T.denoise(nmnist, SENSOR, window), _ref_denoise(nmnist, 34, 34, window))
    with pytest.raises(ValueError, match="outside"):
        T.refractory(nmnist, (5, 5, 2), 10)


def test_geometry(nmnist):
    d = T.downsample(nmnist, SENSOR, (17, 17))
    assert d["x"].max() <= 16 and len(d) == len(nmnist)
    np.testing.assert_array_equal(d["x"], nmnist["x"] // 2)
    c = T.crop(nmnist, (5, 6, 10, 12))
    assert c["x"].max() < 10 and c["y"].max() < 12 and c["x"].min() >= 0
    assert len(T.center_crop(nmnist, SENSOR, (34, 34))) == len(nmnist)
    np.testing.assert_array_equal(T.flip_lr(T.flip_lr(nmnist, SENSOR), SENSOR), nmnist)
    np.testing.assert_array_equal(T.flip_ud(nmnist, SENSOR)["y"], 33 - nmnist["y"])
    np.testing.assert_array_equal(T.flip_polarity(nmnist)["p"], ~nmnist["p"])
    assert not T.merge_polarities(nmnist)["p"].any()


def test_augmentation(nmnist):
    j = T.time_jitter(nmnist, 100.0, rng=1)
    assert np.all(np.diff(j["t"]) >= 0) and j["t"].min() >= 0 and len(j) == len(nmnist)
    np.testing.assert_array_equal(j, T.time_jitter(nmnist, 100.0, rng=1))
    r = T.time_reverse(nmnist)
    assert np.all(np.diff(r["t"]) >= 0)
    assert r["t"][0] == nmnist["t"][0] and r["t"][-1] == nmnist["t"][-1]
    rr = T.time_reverse(r)
    np.testing.assert_array_equal(np.sort(rr["t"]), nmnist["t"])
    s = T.spatial_jitter(nmnist, SENSOR, 1.0, rng=0)
    assert s["x"].max() < 34 and s["x"].min() >= 0 and len(s) <= len(nmnist)
    s2 = T.spatial_jitter(nmnist, SENSOR, 1.0, rng=0, clip_outliers=False)
    assert len(s2) == len(nmnist)
    dr = T.drop_events(nmnist, 0.5, rng=0)
    assert 0.4 < len(dr) / len(nmnist) < 0.6
    sk = T.time_skew(nmnist, 2.0, 10)
    np.testing.assert_array_equal(sk["t"], nmnist["t"] * 2 + 10)
    sl = T.time_slice(nmnist, 1000, 5000)
    assert sl["t"].min() >= 1000 and sl["t"].max() < 5000
    assert len(T.sort_by_time(nmnist[::-1])) == len(nmnist)


def test_inputs_never_modified(nmnist):
    before = nmnist.copy()
    for f in [lambda e: T.flip_lr(e, SENSOR), T.flip_polarity, T.time_reverse, lambda e: T.time_jitter(e, 5, rng=0)]:
        f(nmnist)
    np.testing.assert_array_equal(nmnist, before)


def test_frames_and_downsample_match_tonic(nmnist):
    """Where Tonic is right, its ToFrame and ours agree exactly (see docs/data.md for the
    n_time_bins, Denoise and RefractoryPeriod differences)."""
    tt = pytest.importorskip("tonic.transforms")
    for kw in [{"time_window": 10_000}, {"event_count": 500}, {"n_event_bins": 5}]:
        np.testing.assert_array_equal(tt.ToFrame(sensor_size=SENSOR, **kw)(nmnist), sd.to_frames(nmnist, SENSOR, **kw))
    for kw in [{"time_window": 10_000}, {"event_count": 500}]:
        np.testing.assert_array_equal(
            tt.ToFrame(sensor_size=SENSOR, include_incomplete=True, **kw)(nmnist),
            sd.to_frames(nmnist, SENSOR, include_incomplete=True, **kw),
        )
    np.testing.assert_array_equal(tt.Downsample(spatial_factor=0.5)(nmnist)["x"], T.downsample(nmnist, SENSOR, (17, 17))["x"])
