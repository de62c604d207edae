"""`read_many`: the parallel multi-file reader against per-file `read` on every real file,
errors naming the failing file, empty input, thread counts, N-MNIST overflow markers and
AEDAT 2.0 files large enough for chunked parallel decoding."""
from __future__ import annotations

import glob
import shutil

import numpy as np
import pytest
import spikeflow.data as sd
from test_data_common import data_root, require


def _all_real_files() -> list[str]:
    root = data_root()
    files = sorted(glob.glob(str(root / "nmnist" / "**" / "*.bin"), recursive=True))
    for pat in ["aedat2/*.aedat", "aedat4/*.aedat4", "prophesee/*.raw", "prophesee/*.dat"]:
        files += sorted(glob.glob(str(root / "events" / pat)))
    return files


def _same(a: np.ndarray, b: np.ndarray) -> None:
    assert a.dtype == b.dtype == sd.EVENTS_DTYPE
    assert a.shape == b.shape
    assert a.tobytes() == b.tobytes()


def test_every_real_file_equals_read():
    require("nmnist")
    files = _all_real_files()
    assert len(files) > 1080
    many = sd.read_many(files)
    assert len(many) == len(files)
    for f, ev in zip(files, many):
        _same(ev, sd.read(f))


@pytest.mark.parametrize("fmt,pattern", [("nmnist", "nmnist/**/*.bin"), ("aedat2", "events/aedat2/*.aedat")])
def test_forced_format_and_thread_counts_identical(fmt, pattern):
    require(pattern.split("/")[0])
    files = sorted(glob.glob(str(data_root() / pattern), recursive=True))
    ref = [sd.read(f, fmt) for f in files]
    for threads in (1, 2, 7, None):
        got = sd.read_many(files, fmt, threads=threads)
        for a, b in zip(got, ref):
            _same(a, b)


def test_results_are_independent_arrays():
    f = str(require("nmnist/unlabeled/sample_nmnist.bin"))
    a, b = sd.read_many([f, f])
    _same(a, b)
    a["x"][:] = 0
    assert b["x"].max() > 0
    _same(b, sd.read(f))


def test_empty_list():
    assert sd.read_many([]) == []
    assert sd.read_many([], "nmnist", threads=1) == []


def test_bad_file_in_list_is_named(tmp_path):
    good = str(require("nmnist/unlabeled/sample_nmnist.bin"))
    bad = tmp_path / "truncated.bin"
    bad.write_bytes(b"\x01\x02\x03\x04\x05\x06\x07")
    for fmt in (None, "nmnist"):
        with pytest.raises(sd.EventFormatError) as e:
            sd.read_many([good, str(bad), good], fmt)
        assert "truncated.bin" in str(e.value) and "byte 5" in str(e.value)
        assert e.value.path == str(bad) and e.value.offset == 5
    cut = tmp_path / "cut.aedat"
    src = require("events/aedat2/alex_walking_again.aedat").read_bytes()
    cut.write_bytes(src[:-3])
    with pytest.raises(sd.EventFormatError, match="cut.aedat"):
        sd.read_many([good, str(cut)])
    with pytest.raises(FileNotFoundError, match="missing.bin"):
        sd.read_many([good, str(tmp_path / "missing.bin")])
    with pytest.raises(OSError):
        sd.read_many([str(tmp_path)], "nmnist")


def test_first_failing_file_in_order_is_reported(tmp_path):
    a, b = tmp_path / "a.bin", tmp_path / "b.bin"
    a.write_bytes(b"\x00" * 6)
    b.write_bytes(b"")
    with pytest.raises(sd.EventFormatError, match="a.bin"):
        sd.read_many([a, b])
    with pytest.raises(sd.EventFormatError, match="b.bin"):
        sd.read_many([b, a])


def test_bad_arguments():
    with pytest.raises(ValueError, match="unknown format"):
        sd.read_many(["x.bin"], "mp4")
    with pytest.raises(ValueError, match="threads"):
        sd.read_many(["x.bin"], threads=0)


def test_wrong_extension_and_mixed_formats(tmp_path):
    # an AEDAT 4 file named .aedat (slot sized for AEDAT 2.0) and an N-MNIST file named .dat
    aedat4 = require("events/aedat4/sample.aedat4")
    nm = require("nmnist/unlabeled/sample_nmnist.bin")
    shutil.copy(aedat4, tmp_path / "x.aedat")
    shutil.copy(nm, tmp_path / "y.bs2")
    got = sd.read_many([tmp_path / "x.aedat", tmp_path / "y.bs2", nm])
    _same(got[0], sd.read(aedat4))
    _same(got[1], sd.read(nm))
    _same(got[2], sd.read(nm))


def test_nmnist_overflow_markers(tmp_path):
    ev = [(3, 4, 0x80, 1, 2), (0, 240, 0, 0, 0), (1, 2, 0x7F, 0xFF, 0xFF)] * 50
    p = tmp_path / "o.bin"
    p.write_bytes(b"".join(bytes(e) for e in ev))
    (got,) = sd.read_many([p])
    _same(got, sd.read(p))
    assert len(got) == 100 and got["t"][-1] == 0x7FFFFF + 50 * 8192


def _aedat2(n: int, special_every: int = 0) -> bytes:
    out = [b"#!AER-DAT2.0\r\n# AEChip: ch.unizh.ini.jaer.chip.retina.DVS128\r\n"]
    i = np.arange(n, dtype=np.uint64)
    addr = ((i * 7) % 128) << 8 | ((i * 3) % 128) << 1 | (i % 2)
    if special_every:
        addr[::special_every] |= 0x8000
    ts = (i * 0x2_0000) % (1 << 32)  # wraps around 2^32 three times
    rec = np.empty((n, 2), dtype=">u4")
    rec[:, 0], rec[:, 1] = addr, ts
    out.append(rec.tobytes())
    return b"".join(out)


@pytest.mark.parametrize("special_every", [0, 997])
def test_large_aedat2_parallel_chunks(tmp_path, special_every):
    n = 200_003
    p = tmp_path / "big.aedat"
    p.write_bytes(_aedat2(n, special_every))
    one = sd.read(p)
    assert len(one) == n - (len(range(0, n, special_every)) if special_every else 0)
    assert np.all(np.diff(one["t"]) > 0) and one["t"][-1] > 3 * 2**32
    for threads in (1, 2, 3):
        (got,) = sd.read_many([p], threads=threads)
        _same(got, one)


def test_cached_buffer_is_reused_only_once_free():
    # enough N-MNIST files for a shared buffer above the cache's 256 KiB minimum
    paths = sorted(str(p) for p in require("nmnist").rglob("*.bin"))[:40]
    ref = [sd.read(p) for p in paths]
    assert sum(len(r) for r in ref) * sd.EVENTS_DTYPE.itemsize > 1 << 18

    def start(arrays):
        return arrays[0].__array_interface__["data"][0]

    sd.clear_buffer_cache()
    assert sd.buffer_cache_bytes() == 0
    first = sd.read_many(paths)
    second = sd.read_many(paths)  # `first` is alive: its buffer must not be lent again
    assert start(second) != start(first)
    for a, b, r in zip(first, second, ref):
        _same(a, r)
        _same(b, r)
    ptr = start(first)
    del first, a  # every view of the first buffer is gone: it goes to the cache
    assert sd.buffer_cache_bytes() > 0
    third = sd.read_many(paths)
    assert start(third) == ptr
    for b, r in zip(third, ref):
        _same(b, r)
    del second, third, b
    sd.clear_buffer_cache()
    assert sd.buffer_cache_bytes() == 0


def test_small_batches_of_open_files(monkeypatch):
    # the file-descriptor budget splits the list into batches, each with its own buffer;
    # results must not depend on where the batch borders fall
    from spikeflow.data import readers

    files = _all_real_files()[:7] + _all_real_files()[-6:]
    ref = [sd.read(f) for f in files]
    for per_batch in (1, 2, 5):
        monkeypatch.setattr(readers, "_open_files_per_batch", lambda n=per_batch: n)
        for a, b in zip(sd.read_many(files), ref):
            _same(a, b)
