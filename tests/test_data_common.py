"""Shared helpers of the event-data tests (no tests here): locating the real data and
independently written, deliberately straightforward numpy/pure-Python reference decoders.

None of this code shares logic with the Rust decoders; it is written from the format
descriptions in ``docs/data.md`` and is the oracle the Rust output must equal.
"""
from __future__ import annotations

import os
import struct
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[1]


def data_root() -> Path:
    """``$SPIKEFLOW_DATA`` or ``<repo>/../shared/data``."""
    env = os.environ.get("SPIKEFLOW_DATA")
    return Path(env) if env else REPO.parent / "shared" / "data"


def require(rel: str) -> Path:
    """The path of a real data file/folder; skip if absent (a failure when CI=true)."""
    p = data_root() / rel
    if not p.exists():
        msg = f"real data {p} not found (set SPIKEFLOW_DATA to the shared data folder)"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(msg)
        pytest.skip(msg)
    return p


def _struct(x, y, t, p):
    out = np.zeros(len(x), dtype=[("x", "<i2"), ("y", "<i2"), ("t", "<i8"), ("p", "?")])
    out["x"], out["y"], out["t"], out["p"] = x, y, t, p
    return out


def _text_header_end(b: bytes, marker: bytes, end_line: bytes | None = None) -> int:
    pos = 0
    while b[pos:pos + 1] == marker:
        nl = b.find(b"\n", pos)
        line = b[pos:] if nl < 0 else b[pos:nl]
        pos = len(b) if nl < 0 else nl + 1
        if end_line is not None and line.strip() == end_line:
            break
    return pos


def ref_nmnist(b: bytes):
    a = np.frombuffer(b, np.uint8).reshape(-1, 5).astype(np.int64)
    over = a[:, 1] == 240
    shift = np.cumsum(over) * 8192
    t = ((a[:, 2] & 0x7F) << 16) + (a[:, 3] << 8) + a[:, 4] + shift
    keep = ~over
    return _struct(a[keep, 0], a[keep, 1], t[keep], (a[keep, 2] >> 7) == 1)


def ref_aedat2_dvs128(b: bytes):
    start = _text_header_end(b, b"#")
    d = np.frombuffer(b[start:], dtype=">u4").reshape(-1, 2).astype(np.int64)
    addr, ts = d[:, 0], d[:, 1]
    back = np.concatenate([[0], (ts[:-1] - ts[1:]) > 2**31])
    ts = ts + np.cumsum(back) * 2**32
    keep = (addr & 0x8000) == 0
    addr, ts = addr[keep], ts[keep]
    return _struct(127 - ((addr >> 1) & 127), 127 - ((addr >> 8) & 127), ts, (addr & 1) == 0)


def ref_aedat3(b: bytes):
    pos = _text_header_end(b, b"#", b"#!END-HEADER")
    parts = []
    while pos < len(b):
        ty, _src, size, _tso, over, cap, num, _valid = struct.unpack_from("<hhiiiiii", b, pos)
        pos += 28
        if ty == 1:
            ev = np.frombuffer(b, dtype="<u4", count=2 * min(num, cap), offset=pos).reshape(-1, 2)
            ev = ev.astype(np.int64)
            ok = (ev[:, 0] & 1) == 1
            d, t = ev[ok, 0], ev[ok, 1] & 0x7FFFFFFF
            parts.append(_struct(d >> 17, (d >> 2) & 0x7FFF, (over << 31) + t, (d >> 1) & 1))
        pos += size * cap
    return np.concatenate(parts) if parts else _struct([], [], [], [])


def lz4_frame_decompress(data: bytes) -> bytes:
    """Plain-Python LZ4 frame decoder (the reference for AEDAT 4 packets)."""
    assert struct.unpack_from("<I", data, 0)[0] == 0x184D2204, "not an LZ4 frame"
    flg = data[4]
    pos = 6 + (8 if flg & 0x08 else 0) + (4 if flg & 0x01 else 0) + 1
    out = bytearray()
    while True:
        (size,) = struct.unpack_from("<I", data, pos)
        pos += 4
        if size == 0:
            break
        raw, size = size & 0x80000000, size & 0x7FFFFFFF
        block = data[pos:pos + size]
        pos += size + (4 if flg & 0x10 else 0)
        if raw:
            out += block
            continue
        i = 0
        while i < len(block):
            token = block[i]
            i += 1
            lit = token >> 4
            if lit == 15:
                while True:
                    lit += block[i]
                    i += 1
                    if block[i - 1] != 255:
                        break
            out += block[i:i + lit]
            i += lit
            if i >= len(block):
                break
            off = block[i] | (block[i + 1] << 8)
            i += 2
            ml = token & 15
            if ml == 15:
                while True:
                    ml += block[i]
                    i += 1
                    if block[i - 1] != 255:
                        break
            ml += 4
            start = len(out) - off
            if off >= ml:
                out += out[start:start + ml]
            else:
                for k in range(ml):
                    out.append(out[start + k])
    return bytes(out)


def ref_aedat4(b: bytes):
    assert b.startswith(b"#!AER-DAT4.0\r\n")
    (hsize,) = struct.unpack_from("<I", b, 14)
    hdr = b[18:18 + hsize]
    root = struct.unpack_from("<I", hdr, 0)[0]
    vt = root - struct.unpack_from("<i", hdr, root)[0]
    vlen = struct.unpack_from("<H", hdr, vt)[0]
    fields = [struct.unpack_from("<H", hdr, vt + 4 + 2 * k)[0] for k in range((vlen - 4) // 2)]
    comp = struct.unpack_from("<i", hdr, root + fields[0])[0] if fields and fields[0] else 0
    table = struct.unpack_from("<q", hdr, root + fields[1])[0] if len(fields) > 1 and fields[1] else -1
    assert comp in (0, 1, 2), "reference decoder handles LZ4 and uncompressed only"
    pos, end = 18 + hsize, (table if table > 0 else len(b))
    parts = []
    while pos < end:
        _sid, size = struct.unpack_from("<ii", b, pos)
        body = b[pos + 8:pos + 8 + size]
        pos += 8 + size
        fb = lz4_frame_decompress(body) if comp else body
        if fb[8:12] == b"EVTS":
            fb = fb[4:]
        if fb[4:8] != b"EVTS":
            continue
        r = struct.unpack_from("<I", fb, 0)[0]
        v = r - struct.unpack_from("<i", fb, r)[0]
        f0 = struct.unpack_from("<H", fb, v + 4)[0]
        vec = r + f0 + struct.unpack_from("<I", fb, r + f0)[0]
        n = struct.unpack_from("<I", fb, vec)[0]
        arr = np.frombuffer(fb, dtype=[("t", "<i8"), ("x", "<i2"), ("y", "<i2"), ("on", "u1"),
                                       ("pad", "V3")], count=n, offset=vec + 4)
        parts.append(_struct(arr["x"], arr["y"], arr["t"], arr["on"] != 0))
    return np.concatenate(parts)


def ref_evt2(b: bytes):
    start = _text_header_end(b, b"%", b"% end")
    w = np.frombuffer(b[start:], dtype="<u4").astype(np.int64)
    ty = w >> 28
    is_th = ty == 8
    th_idx = np.where(is_th, np.arange(len(w)), -1)
    last = np.maximum.accumulate(th_idx)
    high = np.where(last >= 0, (w[np.maximum(last, 0)] & 0x0FFFFFFF) << 6, 0)
    cd = (ty == 0) | (ty == 1)
    t = high | ((w >> 22) & 0x3F)
    return _struct(((w >> 11) & 0x7FF)[cd], (w & 0x7FF)[cd], t[cd], ty[cd] == 1)


def ref_evt3(b: bytes):
    start = _text_header_end(b, b"%", b"% end")
    words = np.frombuffer(b[start:], dtype="<u2").tolist()
    xs, ys, ts, ps = [], [], [], []
    y = base = 0
    pol = False
    high = low = wrap = 0
    for w in words:
        ty, v = w >> 12, w & 0xFFF
        if ty == 0:
            y = v & 0x7FF
        elif ty == 2:
            xs.append(v & 0x7FF), ys.append(y), ts.append(wrap + high * 4096 + low)
            ps.append(bool(v & 0x800))
        elif ty == 3:
            base, pol = v & 0x7FF, bool(v & 0x800)
        elif ty in (4, 5):
            n = 12 if ty == 4 else 8
            for i in range(n):
                if (v >> i) & 1:
                    xs.append(base + i), ys.append(y), ts.append(wrap + high * 4096 + low)
                    ps.append(pol)
            base += n
        elif ty == 6:
            low = v
        elif ty == 8:
            if high - v > 2048:
                wrap += 1 << 24
            if v != high:
                low = 0
            high = v
    return _struct(xs, ys, ts, ps)


def ref_dat(b: bytes):
    start = _text_header_end(b, b"%")
    assert b[start + 1] == 8
    d = np.frombuffer(b[start + 2:], dtype="<u4").reshape(-1, 2).astype(np.int64)
    t, a = d[:, 0], d[:, 1]
    return _struct(a & 0x3FFF, (a >> 14) & 0x3FFF, t, (a >> 28) != 0)


def assert_events_equal(got: np.ndarray, want: np.ndarray) -> None:
    assert got.dtype == np.dtype([("x", "<i2"), ("y", "<i2"), ("t", "<i8"), ("p", "?")])
    assert len(got) == len(want)
    for k in "xytp":
        np.testing.assert_array_equal(got[k], want[k], err_msg=f"field {k}")
