"""Checkpoints: `net.save(path)` / `sf.load(path)`.

* save -> load -> continue equals an uninterrupted run, bit for bit (spikes, voltages,
  weights, membranes, thresholds, counters), as a property over random networks with
  plasticity on, in both time modes, with Poisson inputs, spike sources, currents, recorders
  and reward STDP (and the newer features where this spikeflow has them);
* the documented layout (docs/checkpoint.md) is what is written;
* bad files (truncated anywhere, flipped bytes, wrong magic, newer version, empty, a
  directory, not a regular file, forged lengths) raise the right exception, load nothing, and
  never crash the process or blow up its memory.
"""
from __future__ import annotations

import json
import os
import struct
import subprocess
import sys
import textwrap
import zlib
from pathlib import Path

import numpy as np
import pytest
import spikeflow as sf
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from spikeflow.errors import CheckpointError, SpikeflowError, StateError

HEADER = struct.Struct("<10sIIQQQ")  # magic, version, flags, E, M, P


# ----- building random networks ------------------------------------------------------------


def _lif(rng: np.random.Generator, synapse: str, adaptive: bool, n: int) -> sf.LIF:
    kw = dict(tau_m=float(rng.uniform(8.0, 25.0)), v_th=20.0, v_reset=float(rng.uniform(0.0, 12.0)),
              t_ref=float(rng.choice([0.0, 1.0, 2.0])), i_e=float(rng.uniform(0.0, 420.0)),
              v_init=(0.0, 15.0), synapse=synapse)
    if synapse != "delta":
        kw["tau_syn_ex"], kw["tau_syn_in"] = 2.0, 3.0
    if adaptive and "theta_plus" in sf.LIF.__dataclass_fields__:
        kw["theta_plus"], kw["tau_theta"] = 0.5, 80.0
    if rng.random() < 0.3:
        kw["i_e"] = rng.uniform(0.0, 400.0, n)  # per-neuron parameter (an array in the metadata)
    return sf.LIF(**kw)


def build(spec: dict) -> sf.Network:
    """A network from a plain spec (the same spec always builds the same network)."""
    rng = np.random.default_rng(spec["seed"])
    dt = spec["dt"]
    net = sf.Network(dt=dt, seed=spec["seed"])
    synapse = spec["synapse"] if dt is not None or spec["synapse"] != "cond_exp" else "exp"
    w_scale = 1.0 if synapse == "delta" else (60.0 if synapse == "exp" else 0.05)
    exc = net.add_population(spec["n_exc"], _lif(rng, synapse, spec["adaptive"], spec["n_exc"]), name="exc")
    inh = net.add_population(6, _lif(rng, synapse, False, 6), name="inh")
    poisson = net.add_poisson(12, spec["rate"] if rng.random() < 0.5 else rng.uniform(5.0, 90.0, 12), name="noise")
    times = np.sort(rng.uniform(0.0, spec["t1"] + spec["t2"], 25)).round(1)
    src = net.add_spike_source(times, rng.integers(0, 5, 25), n=5, name="src")
    delay = sf.Uniform(0.5, 3.0) if spec["random_delays"] else 1.0
    rule = spec["rule"]
    plastic = None
    if rule == "stdp":
        plastic = sf.STDP(w_max=4.0 * w_scale, a_plus=0.05, a_minus=0.06)
    elif rule == "triplet":
        plastic = sf.TripletSTDP(w_max=4.0 * w_scale)
    elif rule == "reward":
        plastic = sf.RewardSTDP(w_max=4.0 * w_scale, dopamine=src if spec["dopamine_pop"] else None)
    p_in = net.connect(poisson, exc, sf.FixedProbability(0.4), weight=sf.Uniform(0.5 * w_scale, 2.0 * w_scale),
                       delay=delay, plasticity=plastic)
    net.connect(src, exc, sf.AllToAll(), weight=3.0 * w_scale, delay=1.0)
    net.connect(exc, inh, sf.FixedInDegree(3), weight=2.0 * w_scale, delay=delay)
    net.connect(inh, exc, sf.FixedProbability(0.3), weight=-2.5 * w_scale, delay=1.0)
    if spec["currents"]:
        net.add_current(exc, times=[0.0, spec["t1"] * 0.5 + 1.0, spec["t1"] + 3.0], amplitudes=[80.0, 250.0, 40.0],
                        ids=np.arange(0, spec["n_exc"], 2))
    net.record_spikes(exc)
    net.record_spikes(poisson)
    net.record_voltage(exc, np.arange(0.0, spec["t1"] + spec["t2"], 7.0), ids=[0, 1, spec["n_exc"] - 1])
    if spec["write_weights"]:
        w = p_in.weights
        p_in.weights = np.clip(w * 1.1, 0.0, 4.0 * w_scale if plastic is not None else None)
    return net


def outcome(net: sf.Network) -> dict:
    """Everything observable, as exact values."""
    out = {"time": net.time}
    for k, r in enumerate(net.recorders):
        if isinstance(r, sf.SpikeRecorder):
            out[f"rec{k}"] = (r.times.tobytes(), r.ids.tobytes())
        else:
            out[f"rec{k}"] = r.v.tobytes()
    for pr in net.projections:
        out[f"w{pr.index}"] = np.asarray(pr.weights).tobytes()
    for p in net.populations:
        if p.kind == "neurons":
            out[f"v{p.index}"] = p.membrane().tobytes()
            if hasattr(p, "theta"):
                out[f"theta{p.index}"] = p.theta.tobytes()
    c = net.counters()
    out["counters"] = json.dumps(c, sort_keys=True, default=str)
    return out


def dopamine(net: sf.Network, spec: dict) -> None:
    if spec["rule"] == "reward" and not spec["dopamine_pop"]:
        net.set_dopamine(net.projections[0], 0.7)


specs = st.fixed_dictionaries({
    "seed": st.integers(0, 2**32),
    "dt": st.sampled_from([0.1, 0.25, None]),
    "synapse": st.sampled_from(["delta", "exp", "cond_exp"]),
    "n_exc": st.integers(3, 20),
    "rate": st.floats(5.0, 120.0),
    "rule": st.sampled_from(["none", "stdp", "triplet", "reward"]),
    "dopamine_pop": st.booleans(),
    "adaptive": st.booleans(),
    "random_delays": st.booleans(),
    "currents": st.booleans(),
    "write_weights": st.booleans(),
    "t1": st.sampled_from([0.0, 5.0, 20.0, 37.5]),
    "t2": st.sampled_from([5.0, 30.0]),
})


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(spec=specs)
def test_save_load_continue_equals_uninterrupted(spec: dict, tmp_path: Path) -> None:
    ref = build(spec)
    ref.run(spec["t1"])
    dopamine(ref, spec)
    ref.run(spec["t2"])

    net = build(spec)
    net.run(spec["t1"])
    path = tmp_path / "run.sfc"
    net.save(path)
    loaded = sf.load(path)
    assert outcome(loaded) == outcome(net)  # nothing lost in the file
    dopamine(loaded, spec)
    loaded.run(spec["t2"])
    assert outcome(loaded) == outcome(ref)
    # The saved network itself goes on undisturbed by saving.
    dopamine(net, spec)
    net.run(spec["t2"])
    assert outcome(net) == outcome(ref)


BASE = {"seed": 5, "dt": 0.1, "synapse": "delta", "n_exc": 10, "rate": 60.0, "rule": "stdp", "dopamine_pop": False,
        "adaptive": True, "random_delays": True, "currents": True, "write_weights": False, "t1": 20.0, "t2": 20.0}


@pytest.fixture
def saved(tmp_path: Path) -> Path:
    net = build(BASE)
    net.run(20.0)
    path = tmp_path / "net.sfc"
    net.save(path)
    return path


# ----- API and semantics ---------------------------------------------------------------------


def test_objects_work_as_before(saved: Path) -> None:
    net = sf.load(str(saved))
    assert isinstance(net, sf.Network)
    assert [p.name for p in net.populations] == ["exc", "inh", "noise", "src"]
    assert [p.kind for p in net.populations] == ["neurons", "neurons", "poisson", "spike_source"]
    exc = net.populations[0]
    assert isinstance(exc.model, sf.LIF) and exc.model.v_th == 20.0
    assert [type(r) for r in net.recorders] == [sf.SpikeRecorder, sf.SpikeRecorder, sf.VoltageRecorder]
    assert net.recorders[0].population is exc
    assert len(net.recorders[0]) > 0  # recorded so far is kept
    assert net.recorders[2].v.shape == (3, 3)
    assert net.projections[0].pre_population is net.populations[2]
    assert net.time == 20.0 and net.dt == 0.1 and net.seed == 5
    with pytest.raises(StateError):
        net.add_population(3, sf.LIF())  # frozen like the saved one
    rec = net.record_spikes(net.populations[1])  # recorders can still be added
    net.run(10.0)
    assert net.recorders[-1] is rec


def test_saving_before_the_first_run(tmp_path: Path) -> None:
    for dt in (0.1, None):
        spec = dict(BASE, dt=dt)
        a = build(spec)
        a.save(tmp_path / "fresh.sfc")
        b = sf.load(tmp_path / "fresh.sfc")
        assert b.time == 0.0
        b.add_population(2, sf.LIF())  # not frozen yet: can still be extended
        a.add_population(2, sf.LIF())
        a.run(30.0)
        b.run(30.0)
        assert outcome(a) == outcome(b)


def test_weights_written_before_saving_and_reset_after_loading(tmp_path: Path) -> None:
    spec = dict(BASE, write_weights=True)
    a = build(spec)
    a.run(15.0)
    a.projections[2].weights = np.linspace(0.5, 3.0, a.projections[2].n_synapses)
    a.save(tmp_path / "w.sfc")
    b = sf.load(tmp_path / "w.sfc")
    assert np.array_equal(a.projections[2].weights, b.projections[2].weights)
    a.run(15.0)
    b.run(15.0)
    assert outcome(a) == outcome(b)
    a.reset()
    b.reset()
    assert b.time == 0.0 and len(b.recorders[0]) == 0
    a.run(25.0)
    b.run(25.0)
    assert outcome(a) == outcome(b)


def test_save_overwrites_and_load_twice_gives_twins(tmp_path: Path) -> None:
    a = build(BASE)
    path = tmp_path / "x.sfc"
    a.save(path)
    a.run(10.0)
    a.save(path)  # replaced atomically
    assert [f.name for f in tmp_path.iterdir()] == ["x.sfc"]  # no temporary file left
    b, c = sf.load(path), sf.load(path)
    assert b.time == 10.0
    b.run(10.0)
    c.run(10.0)
    assert outcome(b) == outcome(c)


def test_file_layout_is_the_documented_one(saved: Path) -> None:
    data = saved.read_bytes()
    magic, version, flags, e, m, p = HEADER.unpack_from(data)
    assert magic == b"SPIKEFLOW\0" and version == 1 and flags == 0
    assert len(data) == HEADER.size + e + m + p + 4
    assert struct.unpack("<I", data[-4:])[0] == zlib.crc32(data[:-4])
    tag = data[HEADER.size:HEADER.size + e].decode()
    assert tag.startswith("spikeflow-core ")
    meta = json.loads(data[HEADER.size + e:HEADER.size + e + m])
    assert meta["format"] == "spikeflow-checkpoint" and meta["version"] == 1
    assert [q["name"] for q in meta["populations"]] == ["exc", "inh", "noise", "src"]
    assert meta["populations"][0]["model"]["neuron_model"] == "LIF"
    assert meta["recorders"][2]["type"] == "voltage"
    assert sf.sim.checkpoint.read_metadata(saved) == meta
    assert b"pickle" not in data[:HEADER.size + e + m]


# ----- bad input -------------------------------------------------------------------------------


def _refused(path: Path, match: str | None = None) -> CheckpointError:
    with pytest.raises(CheckpointError, match=match) as info:
        sf.load(path)
    assert path.name in str(info.value)
    return info.value


def _rewrite(data: bytes, *, meta: bytes | None = None, version: int | None = None) -> bytes:
    """The file with its metadata or version replaced and the checksum recomputed."""
    magic, v, flags, e, m, p = HEADER.unpack_from(data)
    tag = data[HEADER.size:HEADER.size + e]
    old_meta = data[HEADER.size + e:HEADER.size + e + m]
    payload = data[HEADER.size + e + m:-4]
    meta = old_meta if meta is None else meta
    body = HEADER.pack(magic, v if version is None else version, flags, e, len(meta), p) + tag + meta + payload
    return body + struct.pack("<I", zlib.crc32(body))


def test_truncated_at_any_offset(saved: Path, tmp_path: Path) -> None:
    data = saved.read_bytes()
    bad = tmp_path / "cut.sfc"
    offsets = set(range(0, 80)) | set(range(80, len(data), max(1, len(data) // 150))) | {len(data) - 1}
    for cut in sorted(offsets):
        bad.write_bytes(data[:cut])
        err = _refused(bad)
        if cut == 0:
            assert "empty" in str(err)
        elif cut >= HEADER.size:
            assert f"truncated at byte {cut} of {len(data)}" in str(err)
        else:
            assert "truncated" in str(err)


def test_flipped_bytes_anywhere(saved: Path, tmp_path: Path) -> None:
    data = saved.read_bytes()
    bad = tmp_path / "flip.sfc"
    for at in sorted(set(range(0, len(data), max(1, len(data) // 200))) | {len(data) - 1, 12, 20, 30, 40}):
        for bit in (0x01, 0x80):
            b = bytearray(data)
            b[at] ^= bit
            bad.write_bytes(bytes(b))
            _refused(bad)


def test_wrong_magic_future_version_trailing_and_foreign_files(saved: Path, tmp_path: Path) -> None:
    data = saved.read_bytes()
    bad = tmp_path / "bad.sfc"
    bad.write_bytes(b"PK\x03\x04" + data[4:])
    _refused(bad, "not a spikeflow checkpoint \\(bad magic\\)")
    bad.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(100))
    _refused(bad, "bad magic")
    bad.write_text("hello")
    _refused(bad, "bad magic")
    bad.write_bytes(_rewrite(data, version=3))
    _refused(bad, "format version 3 is newer than this spikeflow \\(1\\)")
    bad.write_bytes(data[:10] + struct.pack("<I", 3) + data[14:])  # checksum not updated: version first
    _refused(bad, "format version 3 is newer")
    bad.write_bytes(_rewrite(data, version=0))
    _refused(bad, "version 0")
    bad.write_bytes(data + b"\0")
    _refused(bad, "after the end")
    bad.write_bytes(b"")
    _refused(bad, "empty file")


def test_metadata_that_does_not_match_the_engine(saved: Path, tmp_path: Path) -> None:
    data = saved.read_bytes()
    _, _, _, e, m, _ = HEADER.unpack_from(data)
    meta = json.loads(data[HEADER.size + e:HEADER.size + e + m])
    bad = tmp_path / "meta.sfc"
    cases = []
    wrong = json.loads(json.dumps(meta))
    wrong["populations"].pop()
    cases.append(wrong)
    wrong = json.loads(json.dumps(meta))
    wrong["populations"][0]["name"] = "other"
    cases.append(wrong)
    wrong = json.loads(json.dumps(meta))
    wrong["recorders"][0]["probe"] = 99
    cases.append(wrong)
    wrong = json.loads(json.dumps(meta))
    wrong["populations"][0]["model"]["neuron_model"] = "os.system"
    cases.append(wrong)
    wrong = json.loads(json.dumps(meta))
    wrong["version"] = 7
    cases.append(wrong)
    for w in cases:
        bad.write_bytes(_rewrite(data, meta=json.dumps(w).encode()))
        _refused(bad)
    for raw in (b"not json", b"[1, 2]", "\u00e9t\u00e9".encode("latin-1"), b"{" * 100000):
        bad.write_bytes(_rewrite(data, meta=raw))
        _refused(bad)


def test_not_a_file(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        sf.load(tmp_path / "missing.sfc")
    with pytest.raises(IsADirectoryError):
        sf.load(tmp_path)
    if hasattr(os, "mkfifo"):
        fifo = tmp_path / "pipe.sfc"
        os.mkfifo(fifo)
        _refused(fifo, "not a regular file")
    if os.path.exists("/dev/null"):
        with pytest.raises(CheckpointError, match="not a regular file"):
            sf.load("/dev/null")
    with pytest.raises(TypeError):
        sf.load(12345)  # type: ignore[arg-type]
    net = sf.Network()
    with pytest.raises(IsADirectoryError):
        net.save(tmp_path)  # cannot replace a directory
    with pytest.raises(FileNotFoundError):
        net.save(tmp_path / "no" / "such" / "dir.sfc")
    assert sorted(f.name for f in tmp_path.iterdir()) == ["pipe.sfc"] if hasattr(os, "mkfifo") else []


def test_errors_are_spikeflow_errors() -> None:
    assert issubclass(CheckpointError, SpikeflowError) and issubclass(CheckpointError, ValueError)
    assert sf.CheckpointError is CheckpointError


def test_corrupt_lengths_do_not_crash_or_allocate(saved: Path, tmp_path: Path) -> None:
    """Forged files (checksum recomputed) with huge lengths, in a child process that measures
    its peak memory: every one is refused, the process survives, memory stays bounded."""
    data = saved.read_bytes()
    _, _, _, e, m, p = HEADER.unpack_from(data)
    start = HEADER.size + e + m
    forged = []
    # Header lengths: huge, overflowing, inconsistent.
    for off, value in ((18, 2**62), (26, 2**63), (34, 2**64 - 1), (34, p + 8), (26, m - 1)):
        b = bytearray(data)
        b[off:off + 8] = struct.pack("<Q", value)
        forged.append(bytes(b[:-4]) + struct.pack("<I", zlib.crc32(bytes(b[:-4]))))
    # Payload lengths (checksum recomputed so only the decoder can notice): every 8-byte
    # window of the first 400 payload bytes set to a huge count.
    for off in range(start, min(start + 400, len(data) - 12), 3):
        b = bytearray(data)
        b[off:off + 8] = struct.pack("<Q", 2**40 + off)
        body = bytes(b[:-4])
        forged.append(body + struct.pack("<I", zlib.crc32(body)))
    for k, f in enumerate(forged):
        (tmp_path / f"forged{k}.sfc").write_bytes(f)
    script = textwrap.dedent(f"""
        import json, resource, sys
        import spikeflow as sf
        base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        outcomes = {{}}
        for k in range({len(forged)}):
            try:
                net = sf.load(r"{tmp_path}/forged%d.sfc" % k)
                net.run(5.0)   # a forged file that decodes must still run or fail cleanly
                outcomes["ok"] = outcomes.get("ok", 0) + 1
            except sf.SpikeflowError as exc:
                name = type(exc).__name__
                outcomes[name] = outcomes.get(name, 0) + 1
        grew_mb = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - base) / 1024
        print(json.dumps(outcomes))
        print(grew_mb)
        sys.exit(0 if grew_mb < 200 else 3)
    """)
    res = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stdout + res.stderr
    counts = json.loads(res.stdout.splitlines()[0])
    assert counts.get("CheckpointError", 0) >= len(forged) // 2, res.stdout


def test_newer_features_continue_bit_identically(tmp_path: Path) -> None:
    """Adaptive thresholds, Poisson rate changes, normalisation, structural plasticity and
    convolutions, where this spikeflow has them, in both time modes."""
    has = {name: hasattr(sf, name) for name in ("Normalize", "Rewiring", "Conv2d", "Pool2d")}
    adaptive = "theta_plus" in sf.LIF.__dataclass_fields__
    for dt in (0.1, None):
        def make(dt: float | None = dt) -> sf.Network:
            net = sf.Network(dt=dt, seed=11)
            kw = dict(theta_plus=0.8, tau_theta=60.0) if adaptive else {}
            inp = net.add_poisson(32, np.linspace(10.0, 80.0, 32), name="inp")
            exc = net.add_population(8, sf.LIF(i_e=300.0, v_init=(0.0, 10.0), **kw), name="exc")
            extra = {}
            if has["Normalize"]:
                extra["normalize"] = sf.Normalize(6.0, interval=10.0)
            if has["Rewiring"]:
                extra["rewiring"] = sf.Rewiring(prune_below=0.05, prune_after=5.0, create_rate=20.0, new_weight=0.3,
                                                max_synapses_per_neuron=20)
            net.connect(inp, exc, sf.FixedProbability(0.5), weight=sf.Uniform(0.1, 1.5), delay=1.0,
                        plasticity=sf.STDP(w_max=3.0, a_plus=0.05, a_minus=0.08), **extra)
            if has["Conv2d"] and dt is not None:
                img = net.add_poisson(2 * 4 * 4, 60.0, name="img")
                fmap = net.add_population(3 * 3 * 3, sf.LIF(**kw), name="fmap")
                conv = sf.Conv2d(in_shape=(2, 4, 4), out_channels=3, kernel_size=2)
                net.connect(img, fmap, conv, weight=sf.Uniform(2.0, 6.0), delay=1.0,
                            plasticity=sf.STDP(w_max=8.0, a_plus=0.05))
                net.record_spikes(fmap)
            net.record_spikes(exc)
            net.record_voltage(exc, np.arange(0.0, 80.0, 2.5))
            return net

        def second_half(net: sf.Network) -> None:
            if hasattr(net.populations[0], "rates"):
                net.populations[0].rates = np.linspace(90.0, 5.0, 32)
            net.run(40.0)

        ref = make()
        ref.run(40.0)
        second_half(ref)
        a = make()
        a.run(40.0)
        a.save(tmp_path / "f.sfc")
        b = sf.load(tmp_path / "f.sfc")
        second_half(b)
        spiking = [r.population.name for r in b.recorders if isinstance(r, sf.SpikeRecorder) and len(r) > 0]
        assert "exc" in spiking and ("fmap" in spiking or not has["Conv2d"] or dt is None)
        assert outcome(b) == outcome(ref)
