"""Static image -> events by moving it along N-MNIST's three-saccade path in front of the
simulated camera (:mod:`spikeflow.data.camera`).

N-MNIST (Orchard et al. 2015) was recorded by an ATIS camera on a pan-tilt unit making
three ~105 ms saccades that trace a triangle ``(0, 0) -> (A/2, A) -> (A, 0) -> (0, 0)``
with ``A = 7`` px for 28x28 digits (the path the dataset's stabilisation code undoes), on a
34x34 sensor. The image moves along the mirrored path on the sensor, which reproduces the
ON/OFF edge pattern of every saccade in the real recordings. Here ``A`` scales with the
image size, so any image dataset becomes an event dataset with N-MNIST's geometry.
"""
from __future__ import annotations

import numpy as np

from spikeflow.data.camera import CameraParams, EventCamera

__all__ = ["NMNIST_CAMERA", "render_shifted", "saccade_path", "saccades", "saccades_many"]

#: Camera parameters calibrated so that saccade-converted MNIST digits have N-MNIST-like
#: event counts (median within ~10 % of the real recordings; see benches/RESULTS.md).
NMNIST_CAMERA = CameraParams(threshold_on=0.4, threshold_off=0.4, threshold_mismatch=0.03, eps=0.2)


def saccade_path(t_us: np.ndarray, amplitude: float, saccade_us: float = 105_000.0):
    """Displacement ``(dx, dy)`` in pixels at times ``t_us`` along the triangle path."""
    t = np.clip(np.asarray(t_us, dtype=np.float64) / saccade_us, 0.0, 3.0)
    keys_t = np.array([0.0, 1.0, 2.0, 3.0])
    dx = np.interp(t, keys_t, [0.0, amplitude / 2, amplitude, 0.0])
    dy = np.interp(t, keys_t, [0.0, amplitude, 0.0, 0.0])
    return dx, dy


def render_shifted(image: np.ndarray, dx, dy, out_shape, origin=(0.0, 0.0), background=0.0):
    """Bilinear rendering of ``image`` shifted by ``(dx, dy)`` (plus ``origin``) onto a
    canvas of ``out_shape = (H, W)``; outside the image is ``background``. ``dx`` and ``dy``
    may be arrays of length ``T`` (one shift per frame): the result is then ``(T, H, W)``."""
    h, w = image.shape
    oh, ow = out_shape
    pad = np.full((h + 2, w + 2), background, dtype=np.float64)
    pad[1:-1, 1:-1] = image
    scalar = np.ndim(dx) == 0 and np.ndim(dy) == 0
    dx, dy = np.atleast_1d(np.asarray(dx, np.float64)), np.atleast_1d(np.asarray(dy, np.float64))
    # canvas pixel (r, c) samples the image at (r - dy - oy, c - dx - ox)
    ys = np.arange(oh)[None, :] - dy[:, None] - origin[1]
    xs = np.arange(ow)[None, :] - dx[:, None] - origin[0]
    y0, x0 = np.floor(ys).astype(np.int64), np.floor(xs).astype(np.int64)
    fy, fx = (ys - y0)[:, :, None], (xs - x0)[:, None, :]
    yi0, yi1 = np.clip(y0 + 1, 0, h + 1)[:, :, None], np.clip(y0 + 2, 0, h + 1)[:, :, None]
    xi0, xi1 = np.clip(x0 + 1, 0, w + 1)[:, None, :], np.clip(x0 + 2, 0, w + 1)[:, None, :]
    top = pad[yi0, xi0] * (1 - fx) + pad[yi0, xi1] * fx
    bot = pad[yi1, xi0] * (1 - fx) + pad[yi1, xi1] * fx
    out = top * (1 - fy) + bot * fy
    return out[0] if scalar else out


def saccades(
    image,
    *,
    amplitude: float | None = None,
    sensor_size: tuple | None = None,
    saccade_us: float = 105_000.0,
    frame_us: float = 2_500.0,
    params: CameraParams | None = None,
    background: float = 0.0,
    seed: int | None = 0,
) -> np.ndarray:
    """Events of ``image`` moved along the three-saccade path (N-MNIST's recording).

    Args:
        image: 2-D array ``(H, W)``, ``uint8`` or floats in ``[0, 1]`` (bright on dark, like
            MNIST on the recording monitor). Works for any size, e.g. 8x8 scikit-learn digits.
        amplitude: path size in pixels (default ``7 * max(H, W) / 28``).
        sensor_size: ``(W, H[, P])`` of the output (default image size + ``round(A) - 1``:
            34x34 for MNIST).
        saccade_us: duration of each of the three saccades.
        frame_us: simulation frame interval (events are interpolated between frames).
        params: camera parameters (default :data:`NMNIST_CAMERA`).
        background: intensity around the image.
        seed: seed of the camera's mismatch and noise.

    Returns:
        A time-sorted event array over ``[0, 3 * saccade_us]`` (:data:`EVENTS_DTYPE`).
    """
    img = np.asarray(image)
    if img.ndim != 2 or min(img.shape) == 0:
        raise ValueError(f"image must be a non-empty 2-D array, got shape {img.shape}")
    img = img.astype(np.float64) / 255.0 if img.dtype == np.uint8 else np.clip(img.astype(np.float64), 0, 1)
    h, w = img.shape
    amp = 7.0 * max(h, w) / 28.0 if amplitude is None else float(amplitude)
    if sensor_size is None:
        grow = max(int(round(amp)) - 1, 0)
        sw, sh = w + grow, h + grow
    else:
        sw, sh = int(sensor_size[0]), int(sensor_size[1])
    # The camera moves along the path, so the image moves the opposite way on the sensor;
    # with this sign the ON/OFF edges of each saccade match the real N-MNIST recordings.
    # A (-0.07 A, -0.11 A) offset puts MNIST digits where the real recordings have them
    # (event centroid within 0.1 px; see benches/RESULTS.md).
    origin = ((sw - w + amp) / 2.0 - 0.07 * amp, (sh - h + amp) / 2.0 - 0.11 * amp)
    n = int(np.ceil(3 * saccade_us / frame_us)) + 1
    times = np.linspace(0.0, 3 * saccade_us, n)
    dxs, dys = saccade_path(times, amp, saccade_us)
    frames = render_shifted(img, -dxs, -dys, (sh, sw), origin, background)
    cam = EventCamera(sw, sh, params or NMNIST_CAMERA, seed)
    return cam.simulate(frames, times)


def saccades_many(images, *, seed: int | None = 0, **kwargs) -> list:
    """:func:`saccades` for a stack of images ``(N, H, W)``; image ``i`` uses camera seed
    ``seed + i`` (so results do not depend on batching). Returns a list of event arrays.

    Example (the 8x8 scikit-learn digits, ~1 ms per image)::

        from sklearn.datasets import load_digits
        d = load_digits()
        streams = saccades_many(d.images / 16.0)   # sensor 9x9, ~250 events each
    """
    imgs = np.asarray(images)
    if imgs.ndim != 3:
        raise ValueError(f"images must be (N, H, W), got shape {imgs.shape}")
    return [saccades(im, seed=None if seed is None else seed + i, **kwargs) for i, im in enumerate(imgs)]
