"""Event-camera simulator and saccade conversion, checked against analytic cases, a
frame-by-frame numpy run, and real N-MNIST recordings of the same MNIST digits."""
from __future__ import annotations

import csv

import numpy as np
import pytest
import spikeflow.data as sd
from spikeflow.data.camera import CameraParams, EventCamera
from spikeflow.data.saccades import render_shifted, saccade_path
from test_data_common import require


def _sorted(e):
    return e[np.lexsort((e["p"], e["x"], e["y"], e["t"]))]


def test_single_pixel_ramp_has_interpolated_timestamps():
    frames = np.exp(np.array([0.0, 1.0]))[:, None, None] - 0.05  # log(I + eps) goes 0 -> 1
    cam = EventCamera(1, 1, CameraParams(threshold_on=0.25, threshold_off=0.25, threshold_mismatch=0.0))
    ev = cam.simulate(frames, [0.0, 1000.0])
    np.testing.assert_array_equal(ev["t"], [250, 500, 750, 1000])
    assert ev["p"].all()
    back = cam.step(frames[0], 2000.0)
    assert len(back) == 4 and not back["p"].any()


def test_rust_clip_equals_numpy_steps():
    rng = np.random.default_rng(0)
    frames = rng.random((30, 9, 11))
    times = np.cumsum(rng.integers(100, 3000, 30)).astype(float)
    p = CameraParams(threshold_mismatch=0.08)
    a = EventCamera(11, 9, p, seed=5).simulate(frames, times)
    cam = EventCamera(11, 9, p, seed=5)
    cam.reset(frames[0], times[0])
    b = np.concatenate([cam.step(frames[i], times[i]) for i in range(1, 30)])
    np.testing.assert_array_equal(_sorted(a), _sorted(b))
    assert np.all(np.diff(a["t"]) >= 0)


def test_refractory_noise_and_determinism():
    rng = np.random.default_rng(1)
    frames = rng.random((40, 8, 8))
    times = np.arange(40) * 1000.0
    base = EventCamera(8, 8, seed=2).simulate(frames, times)
    refr = EventCamera(8, 8, CameraParams(refractory_us=5000), seed=2).simulate(frames, times)
    assert len(refr) < len(base)
    for k in np.unique(refr["y"].astype(int) * 8 + refr["x"]):
        t = refr["t"][refr["y"].astype(int) * 8 + refr["x"] == k]
        assert np.all(np.diff(t) > 5000)
    flat = np.full((40, 8, 8), 0.5)
    noisy = EventCamera(8, 8, CameraParams(shot_noise_hz=50.0, leak_hz=10.0), seed=3).simulate(flat, times)
    expected = (50.0 + 10.0) * 64 * 0.039
    assert 0.6 * expected < len(noisy) < 1.4 * expected
    again = EventCamera(8, 8, CameraParams(shot_noise_hz=50.0, leak_hz=10.0), seed=3).simulate(flat, times)
    np.testing.assert_array_equal(noisy, again)


def test_bad_camera_input():
    with pytest.raises(ValueError):
        CameraParams(threshold_on=0)
    cam = EventCamera(4, 3)
    with pytest.raises(ValueError, match="camera is"):
        cam.simulate(np.zeros((2, 4, 3)), [0, 1])
    with pytest.raises(ValueError, match="increase"):
        cam.simulate(np.zeros((2, 3, 4)), [5, 5])
    with pytest.raises(RuntimeError):
        EventCamera(2, 2).step(np.zeros((2, 2)), 1.0)


def test_saccade_path_and_rendering():
    dx, dy = saccade_path(np.array([0, 105_000, 210_000, 315_000]), 7.0)
    np.testing.assert_allclose(dx, [0, 3.5, 7, 0])
    np.testing.assert_allclose(dy, [0, 7, 0, 0])
    img = np.zeros((4, 4))
    img[1, 2] = 1.0
    out = render_shifted(img, 1.0, 2.0, (8, 8))
    assert out.shape == (8, 8) and out[3, 3] == 1.0 and out.sum() == 1.0
    half = render_shifted(img, 0.5, 0.0, (8, 8))
    assert half[1, 2] == 0.5 and half[1, 3] == 0.5
    assert render_shifted(img, np.zeros(3), np.zeros(3), (4, 4)).shape == (3, 4, 4)


def test_saccades_small_images_fast_and_robust():
    rng = np.random.default_rng(0)
    for shape in [(8, 8), (5, 9), (1, 1)]:
        ev = sd.saccades(rng.random(shape))
        assert ev.dtype == sd.EVENTS_DTYPE and np.all(np.diff(ev["t"]) >= 0)
        assert ev["t"].max(initial=0) <= 315_000
    assert len(sd.saccades(np.zeros((8, 8)))) == 0
    with pytest.raises(ValueError):
        sd.saccades(np.zeros(5))


def test_saccade_mnist_resembles_real_nmnist():
    """Saccade-converted MNIST digits vs the real N-MNIST recordings of the same digits:
    event counts of the same order and similar spatial histograms."""
    rows = list(csv.DictReader((require("nmnist") / "manifest.csv").read_text().splitlines()))
    rows = [r for r in rows if r["split"] == "Train"][:30]
    images, _ = sd.load_mnist(require("mnist"), train=True)
    ratios, corrs, on = [], [], []
    for r in rows:
        sim = sd.saccades(images[int(r["mnist_index_1based"]) - 1])
        real = sd.read(require(r["path"]))
        ratios.append(len(sim) / len(real))
        hs = sd.to_frames(sim, (34, 34, 1), n_time_bins=1).ravel()
        hr = sd.to_frames(real, (34, 34, 1), n_time_bins=1).ravel()
        corrs.append(np.corrcoef(hs, hr)[0, 1])
        on.append(sim["p"].mean())
    assert 0.5 < np.median(ratios) < 2.0
    assert np.mean(corrs) > 0.7
    assert 0.4 < np.mean(on) < 0.6


def test_saccades_many_matches_single_calls():
    rng = np.random.default_rng(4)
    imgs = rng.random((3, 8, 8))
    many = sd.saccades_many(imgs, seed=10)
    for i, ev in enumerate(many):
        np.testing.assert_array_equal(ev, sd.saccades(imgs[i], seed=10 + i))
    with pytest.raises(ValueError):
        sd.saccades_many(imgs[0])
