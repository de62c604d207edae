"""Bad input: every malformed file gives a clear EventFormatError naming the file (and
byte offset), never a crash, hang or huge allocation; plus AEDAT 3.1 round trips through
an independent writer (no real AEDAT 3.1 sample is available)."""
from __future__ import annotations

import struct

import numpy as np
import pytest
import spikeflow.data as sd
from test_data_common import assert_events_equal, ref_aedat3, require

EXTS = [".bin", ".aedat", ".aedat4", ".raw", ".dat"]


@pytest.mark.parametrize("ext", EXTS)
def test_empty_file(tmp_path, ext):
    p = tmp_path / f"empty{ext}"
    p.write_bytes(b"")
    with pytest.raises(sd.EventFormatError) as e:
        sd.read(p)
    assert str(p) in str(e.value) and e.value.offset == 0 and "empty" in str(e.value)


@pytest.mark.parametrize("fmt", ["nmnist", "aedat2", "aedat3", "aedat4", "evt2", "evt3", "dat"])
def test_empty_file_forced_format(tmp_path, fmt):
    p = tmp_path / "empty"
    p.write_bytes(b"")
    with pytest.raises(sd.EventFormatError):
        sd.read(p, format=fmt)


def test_missing_file_and_directory(tmp_path):
    with pytest.raises(FileNotFoundError, match="nope.bin"):
        sd.read(tmp_path / "nope.bin")
    with pytest.raises(OSError):
        sd.read(tmp_path, format="nmnist")
    with pytest.raises(FileNotFoundError):
        sd.read_many([tmp_path / "a.bin"])


def test_unknown_format_name():
    with pytest.raises(ValueError, match="unknown format"):
        sd.read("x.bin", format="mp4")


def test_unrecognised_extension(tmp_path):
    p = tmp_path / "notes.txt"
    p.write_text("hello")
    with pytest.raises(sd.EventFormatError, match="unrecognised"):
        sd.read(p)


def test_truncated_nmnist_names_offset(tmp_path):
    b = require("nmnist/unlabeled/sample_nmnist.bin").read_bytes()
    p = tmp_path / "cut.bin"
    p.write_bytes(b[:1003])
    with pytest.raises(sd.EventFormatError) as e:
        sd.read(p)
    assert e.value.offset == 1000 and e.value.path == str(p) and "multiple of 5" in e.value.reason


@pytest.mark.parametrize("rel", [
    "events/aedat2/alex_walking_again.aedat",
    "events/aedat4/sample.aedat4",
    "events/prophesee/evt2_sample.raw",
    "events/prophesee/evt3_sample.raw",
    "events/prophesee/sample_ncars.dat",
])
def test_truncations_never_crash(tmp_path, rel):
    b = require(rel).read_bytes()
    p = tmp_path / require(rel).name
    for cut in [1, 10, 15, 17, 50, 600, len(b) // 3, len(b) - 1]:
        p.write_bytes(b[:cut])
        try:
            ev = sd.read(p)
            assert ev.dtype == sd.EVENTS_DTYPE
        except sd.EventFormatError as e:
            assert e.path == str(p) and e.offset is not None and e.offset <= cut


def test_wrong_magic_and_other_format(tmp_path):
    evt2 = require("events/prophesee/evt2_sample.raw")
    for fmt in ["aedat2", "aedat3", "aedat4"]:
        with pytest.raises(sd.EventFormatError, match="magic"):
            sd.read(evt2, format=fmt)
    p = tmp_path / "x.aedat4"
    p.write_bytes(b"#!AER-DAT9.9\r\n" + bytes(100))
    with pytest.raises(sd.EventFormatError, match="unsupported AEDAT version"):
        sd.read(p)
    p = tmp_path / "x.aedat"
    p.write_bytes(b"NOT AN AEDAT FILE")
    with pytest.raises(sd.EventFormatError, match="magic"):
        sd.read(p)
    p = tmp_path / "x.raw"
    p.write_bytes(b"% date 2020\n% format EVT21;width=4\n% end\n" + bytes(8))
    with pytest.raises(sd.EventFormatError, match="EVT version"):
        sd.read(p)


def test_absurd_aedat4_header_size(tmp_path):
    p = tmp_path / "big.aedat4"
    p.write_bytes(b"#!AER-DAT4.0\r\n" + struct.pack("<I", 0xFFFFFFF0) + bytes(64))
    with pytest.raises(sd.EventFormatError, match="exceeds") as e:
        sd.read(p)
    assert e.value.offset == 14


def test_absurd_aedat4_packet_size(tmp_path):
    b = bytearray(require("events/aedat4/sample.aedat4").read_bytes())
    (hsize,) = struct.unpack_from("<I", b, 14)
    first = 18 + hsize
    struct.pack_into("<i", b, first + 4, 0x7FFFFFFF)
    p = tmp_path / "pk.aedat4"
    p.write_bytes(bytes(b))
    with pytest.raises(sd.EventFormatError, match="declares") as e:
        sd.read(p)
    assert e.value.offset == first


def test_corrupt_aedat4_compressed_body(tmp_path):
    b = bytearray(require("events/aedat4/sample.aedat4").read_bytes())
    (hsize,) = struct.unpack_from("<I", b, 14)
    first = 18 + hsize
    for i in range(first + 8, first + 200):
        b[i] ^= 0x5A
    p = tmp_path / "c.aedat4"
    p.write_bytes(bytes(b))
    try:
        sd.read(p)
    except sd.EventFormatError as e:
        assert e.offset >= first


def test_error_is_picklable():
    import pickle

    e = sd.EventFormatError("f.bin", 5, "bad")
    e2 = pickle.loads(pickle.dumps(e))
    assert (e2.path, e2.offset, e2.reason) == ("f.bin", 5, "bad") and str(e2) == str(e)


# --- AEDAT 3.1: independent writer + round trip -------------------------------------------


def write_aedat31(path, packets):
    """packets: list of (type, ts_overflow, [(data_u32, ts_i32), ...], event_size)."""
    out = bytearray(b"#!AER-DAT3.1\r\n#Format: RAW\r\n#Source 1: DVS128\r\n#!END-HEADER\r\n")
    for ty, over, events, size in packets:
        n = len(events)
        out += struct.pack("<hhiiiiii", ty, 1, size, 4, over, n, n, n)
        for d, t in events:
            out += struct.pack("<Ii", d, t) + bytes(size - 8)
    path.write_bytes(bytes(out))


def polarity(x, y, p, valid=True):
    return (x << 17) | (y << 2) | (int(p) << 1) | int(valid)


def test_aedat31_roundtrip(tmp_path):
    rng = np.random.default_rng(0)
    want = []
    packets = [(2, 0, [(0xFFFFFFFF, 1), (3, 2)], 12)]  # special events packet: skipped
    for k in range(5):
        evs = []
        for _ in range(rng.integers(0, 50)):
            x, y, p, t = rng.integers(0, 128), rng.integers(0, 128), rng.integers(0, 2), rng.integers(0, 2**31)
            valid = rng.random() > 0.1
            evs.append((polarity(x, y, p, valid), int(t)))
            if valid:
                want.append((x, y, (k << 31) + t, bool(p)))
        packets.append((1, k, evs, 8))
        packets.append((5, 0, [(1, 1)], 16))  # e.g. IMU-like packet with 16-byte events
    p = tmp_path / "rec.aedat"
    write_aedat31(p, packets)
    ev = sd.read(p)
    assert sd.detect_format(p) == "aedat3"
    w = np.array(want, dtype=[("x", "<i2"), ("y", "<i2"), ("t", "<i8"), ("p", "?")])
    assert_events_equal(ev, w)
    assert_events_equal(ev, ref_aedat3(p.read_bytes()))


def test_aedat31_bad_packets(tmp_path):
    p = tmp_path / "bad.aedat"
    write_aedat31(p, [(1, 0, [(polarity(1, 2, 1), 5)], 8)])
    b = p.read_bytes()
    hdr = b.index(b"#!END-HEADER\r\n") + 14
    p.write_bytes(b[:-3])
    with pytest.raises(sd.EventFormatError, match="remain") as e:
        sd.read(p)
    assert e.value.offset == hdr
    p.write_bytes(b + b"\x01\x02")
    with pytest.raises(sd.EventFormatError, match="truncated packet header"):
        sd.read(p)
    write_aedat31(p, [(1, 0, [(polarity(1, 2, 1), 5)], 12)])
    with pytest.raises(sd.EventFormatError, match="event size 12"):
        sd.read(p)
    p.write_bytes(b"#!AER-DAT3.1\r\n#no end\r\n")
    with pytest.raises(sd.EventFormatError, match="END-HEADER"):
        sd.read(p)


def test_tonic_misreads_aedat31_packet_types(tmp_path):
    """Documented difference: Tonic's AEDAT 3.1 path reads every packet as 8-byte polarity
    events and ignores the valid bit and the timestamp overflow; spikeflow does not."""
    tio = pytest.importorskip("tonic.io")
    p = tmp_path / "mixed.aedat"
    good = [(polarity(3, 4, 1), 10), (polarity(5, 6, 0, valid=False), 11)]
    write_aedat31(p, [(2, 0, [(0xFFFF, 1)], 8), (1, 2, good, 8)])
    ev = sd.read(p)
    assert len(ev) == 1 and ev["t"][0] == (2 << 31) + 10
    version, start, _ = tio.read_aedat_header_from_file(str(p))
    raw = tio.get_aer_events_from_file(str(p), version, start)
    assert len(raw) == 3  # the special event and the invalid event are read as data
    assert int(raw["timeStamp"].max()) < 2**31  # the overflow field is lost


def test_file_too_large_for_memory_is_a_memory_error(tmp_path):
    # A sparse file of 1 TiB claims ~2.9 TB of decoded N-MNIST events. Reading it must raise
    # MemoryError naming the file, never abort. The check runs in a child process whose
    # address space is capped, so no allocation can succeed by overcommitting memory.
    import subprocess
    import sys
    import textwrap

    big = tmp_path / "huge.bin"
    try:
        with open(big, "wb") as f:
            f.truncate(1 << 40)
    except OSError as e:  # a file system without sparse files of this size
        pytest.skip(f"cannot make a 1 TiB sparse file here: {e}")
    code = textwrap.dedent(f"""
        import resource
        resource.setrlimit(resource.RLIMIT_AS, (16 << 30, 16 << 30))
        import spikeflow.data as sd
        for call in (lambda: sd.read_many([{str(big)!r}]), lambda: sd.read({str(big)!r})):
            try:
                call()
            except MemoryError as e:
                assert "huge.bin" in str(e), e
                print("MemoryError")
    """)
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr[-2000:]
    assert r.stdout.split() == ["MemoryError", "MemoryError"]
