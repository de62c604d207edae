"""Mutated real files through the Python API: every case decodes or raises
EventFormatError (never another exception, a crash or a hang).

CI runs a small sample; the large documented run is the Rust one
(``SPIKEFLOW_FUZZ_CASES=1000000 cargo test -p spikeflow-events --release --test fuzz``), and
this test takes ``SPIKEFLOW_FUZZ_CASES`` too for a large Python-level run."""
from __future__ import annotations

import os

import numpy as np
import pytest
import spikeflow.data as sd
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_data_common import require

SEEDS = [
    ("nmnist/unlabeled/sample_nmnist.bin", "nmnist", 5000),
    ("events/aedat2/alex_walking_again.aedat", "aedat2", 8000),
    ("events/aedat4/sample.aedat4", "aedat4", 20000),
    ("events/prophesee/evt2_sample.raw", "evt2", 6000),
    ("events/prophesee/evt3_sample.raw", "evt3", 6000),
    ("events/prophesee/sample_ncars.dat", "dat", 6000),
]
CASES = int(os.environ.get("SPIKEFLOW_FUZZ_CASES", "300"))


@pytest.fixture(scope="module")
def seeds():
    return [(require(rel).name, require(rel).read_bytes()[:keep], fmt) for rel, fmt, keep in SEEDS]


mutation = st.tuples(
    st.integers(0, len(SEEDS) - 1),
    st.lists(st.tuples(st.integers(0, 4), st.integers(0, 2**31), st.integers(0, 255)), min_size=1, max_size=6),
)


@settings(max_examples=CASES, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(m=mutation)
def test_mutated_files_decode_or_raise_format_error(seeds, m):
    which, ops = m
    name, src, fmt = seeds[which]
    b = bytearray(src)
    for op, pos, val in ops:
        if not b:
            break
        i = pos % len(b)
        if op == 0:
            b[i] ^= 1 << (val % 8)
        elif op == 1:
            b[i] = val
        elif op == 2:
            del b[i:]
        elif op == 3:
            b[i:i] = bytes([val]) * (1 + val % 9)
        else:
            b[i:i + 4] = (0xFFFFFFFF if val & 1 else 0x7FFFFFFF).to_bytes(4, "little")
    for kwargs in ({"format": fmt}, {}):
        try:
            ev = sd.decode(bytes(b), name=name, **kwargs)
        except sd.EventFormatError as e:
            assert e.path == name and (e.offset is None or 0 <= e.offset <= len(b))
        else:
            assert ev.dtype == sd.EVENTS_DTYPE and len(ev) <= 13 * len(b)
            assert np.isfinite(ev["t"].astype(float)).all()
