"""Synthetic files for format variants the real samples do not cover: DAVIS AEDAT 2.0,
new-style Prophesee headers (`% format ...`, `% end`), EVT 3.0 time wrap, DAT geometry."""
from __future__ import annotations

import struct

import numpy as np
import spikeflow.data as sd
from test_data_common import assert_events_equal, ref_dat, ref_evt2, ref_evt3


def test_davis_aedat2(tmp_path):
    hdr = b"#!AER-DAT2.0\r\n# AEChip: eu.seebetter.ini.chips.davis.Davis346red\r\n"
    rows = []
    want = []
    for i, (x, y, pol) in enumerate([(0, 0, 1), (345, 259, 0), (100, 50, 1)]):
        rows.append(((y << 22) | (x << 12) | (pol << 11), 10 * i))
        want.append((345 - x, 259 - y, 10 * i, bool(pol)))
    rows.append(((1 << 31) | 5, 99))  # APS sample: dropped
    rows.append(((1 << 10), 100))  # external input event: dropped
    p = tmp_path / "davis.aedat"
    p.write_bytes(hdr + b"".join(struct.pack(">II", a, t) for a, t in rows))
    ev, info = sd.read_info(p)
    assert info.sensor_size == (346, 260, 2)
    w = np.array(want, dtype=sd.EVENTS_DTYPE)
    assert_events_equal(ev, w)


def test_aedat2_timestamp_wrap(tmp_path):
    hdr = b"#!AER-DAT2.0\r\n"
    rows = [(0, 2**32 - 10), (2, 5), (4, 7)]
    p = tmp_path / "wrap.aedat"
    p.write_bytes(hdr + b"".join(struct.pack(">II", a, t) for a, t in rows))
    np.testing.assert_array_equal(sd.read(p)["t"], [2**32 - 10, 2**32 + 5, 2**32 + 7])


def test_evt2_new_style_header(tmp_path):
    words = [(8 << 28) | 7, (1 << 28) | (3 << 22) | (639 << 11) | 479, (0 << 28) | (5 << 22) | (1 << 11) | 2,
             (0xA << 28) | 1, (8 << 28) | 8, (1 << 28) | (63 << 22)]
    body = b"".join(struct.pack("<I", w) for w in words)
    p = tmp_path / "new.raw"
    p.write_bytes(b"% camera_integrator_name Prophesee\n% format EVT2;height=480;width=640\n% end\n" + body)
    ev, info = sd.read_info(p)
    assert info.format == "evt2" and info.sensor_size == (640, 480, 2)
    assert_events_equal(ev, ref_evt2(p.read_bytes()))
    np.testing.assert_array_equal(ev["t"], [7 * 64 + 3, 7 * 64 + 5, 8 * 64 + 63])


def test_evt3_wrap_and_vectors(tmp_path):
    w = [0x8000 | 0xFFE, 0x6000 | 0xFFF, 0x0000 | 700, 0x3000 | 0x800 | 10, 0x4000 | 0xFFF, 0x5000 | 0x81,
         0x8000 | 0xFFF, 0x8000 | 0x001, 0x6000 | 0x002, 0x2000 | 5, 0xA000 | 3, 0xC000, 0xE000 | 9, 0xF000 | 9]
    body = b"".join(struct.pack("<H", v) for v in w)
    p = tmp_path / "v.raw"
    p.write_bytes(b"% format EVT3;height=720;width=1280\n% end\n" + body)
    ev, info = sd.read_info(p)
    assert info.format == "evt3" and info.sensor_size == (1280, 720, 2)
    assert_events_equal(ev, ref_evt3(p.read_bytes()))
    assert len(ev) == 12 + 2 + 1
    np.testing.assert_array_equal(np.unique(ev["x"][:12]), np.arange(10, 22))
    assert ev["t"][-1] == (1 << 24) + (1 << 12) + 2 and ev["y"][-1] == 700


def test_dat_geometry_header(tmp_path):
    body = bytes([0, 8]) + b"".join(struct.pack("<II", t, (1 << 28) | (y << 14) | x) for t, x, y in [(1, 2, 3), (4, 303, 239)])
    p = tmp_path / "g.dat"
    p.write_bytes(b"% Data file containing Event2D events.\n% Version 2\n% Height 240\n% Width 304\n" + body)
    ev, info = sd.read_info(p)
    assert info.sensor_size == (304, 240, 2)
    assert_events_equal(ev, ref_dat(p.read_bytes()))
