"""Checkpoints: save a whole `Network` to a file and load it back, so a run continues
bit-identically after a restart.

>>> import spikeflow as sf
>>> net = sf.Network(dt=0.1, seed=1)
>>> net.save("run.sfc")                 # doctest: +SKIP
>>> net = sf.load("run.sfc")            # doctest: +SKIP

The file (format in ``docs/checkpoint.md``) is a fixed header, an engine tag, a JSON section
describing the Python objects (populations with their neuron models, projections, recorders),
the engine's state in a binary codec, and a CRC-32 over everything. No pickle: loading never
runs code from the file. Everything is checked before anything is built, so a truncated,
corrupt or foreign file raises :class:`spikeflow.CheckpointError` and loads nothing.
"""
from __future__ import annotations

import dataclasses
import errno
import json
import math
import os
import stat
from typing import Any, Dict, List, Union

import numpy as np

from spikeflow import _core
from spikeflow.errors import CheckpointError, SpikeflowError
from spikeflow.model.neurons import NeuronModel

__all__ = ["save", "load", "read_metadata", "META_FORMAT", "META_VERSION"]

PathLike = Union[str, "os.PathLike[str]"]

#: ``format`` field of the JSON section.
META_FORMAT = "spikeflow-checkpoint"
#: Version of the JSON section's layout.
META_VERSION = 1


# ----- JSON encoding of the Python side --------------------------------------------------


def _encode(value: Any) -> Any:
    """A JSON value for ``value`` (numbers exactly, arrays with dtype and shape, tuples and
    neuron models tagged); raises TypeError for anything else."""
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, (int, np.integer)) and not isinstance(value, np.bool_):
        return int(value)
    if isinstance(value, (float, np.floating)):
        f = float(value)
        return f if math.isfinite(f) else {"float": repr(f)}
    if isinstance(value, np.bool_):
        return bool(value)
    if isinstance(value, np.ndarray):
        if value.dtype.kind not in "biuf":
            raise TypeError(f"arrays of dtype {value.dtype} cannot be saved")
        return {"ndarray": [_encode(x) for x in value.ravel().tolist()], "dtype": value.dtype.str,
                "shape": list(value.shape)}
    if isinstance(value, tuple):
        return {"tuple": [_encode(x) for x in value]}
    if isinstance(value, list):
        return [_encode(x) for x in value]
    if isinstance(value, NeuronModel) and dataclasses.is_dataclass(value):
        return {"neuron_model": type(value).__name__,
                "fields": {f.name: _encode(getattr(value, f.name)) for f in dataclasses.fields(value)}}
    raise TypeError(f"{type(value).__name__} cannot be saved in a checkpoint")


def _neuron_classes() -> Dict[str, type]:
    out: Dict[str, type] = {}
    todo = [NeuronModel]
    while todo:
        cls = todo.pop()
        out[cls.__name__] = cls
        todo.extend(cls.__subclasses__())
    return out


def _decode(value: Any) -> Any:
    """Inverse of :func:`_encode`; only plain data and known neuron-model classes."""
    if isinstance(value, list):
        return [_decode(x) for x in value]
    if not isinstance(value, dict):
        return value
    if "float" in value:
        return float(value["float"])
    if "tuple" in value:
        return tuple(_decode(x) for x in value["tuple"])
    if "ndarray" in value:
        dtype = np.dtype(str(value["dtype"]))
        if dtype.kind not in "biuf":
            raise ValueError(f"array dtype {dtype} is not allowed")
        data = [_decode(x) for x in value["ndarray"]]
        return np.array(data, dtype=dtype).reshape([int(s) for s in value["shape"]])
    if "neuron_model" in value:
        cls = _neuron_classes().get(str(value["neuron_model"]))
        if cls is None:
            raise ValueError(f"unknown neuron model {value['neuron_model']!r}")
        known = {f.name for f in dataclasses.fields(cls)}
        kwargs = {k: _decode(v) for k, v in value["fields"].items() if k in known}
        return cls(**kwargs)
    raise ValueError(f"unknown value {sorted(value)!r}")


def _metadata(net: Any) -> Dict[str, Any]:
    from spikeflow import __version__
    from spikeflow.sim.recorders import SpikeRecorder, VoltageRecorder

    pops = []
    for p in net.populations:
        try:
            model = None if p.model is None else _encode(p.model)
        except TypeError:
            model = None  # rebuilt as None; the engine keeps the parameters themselves
        pops.append({"index": p.index, "name": p.name, "size": p.size, "kind": p.kind, "model": model})
    projs = [{"index": pr.index, "pre": pr.pre_population.index, "post": pr.post_population.index}
             for pr in net.projections]
    recs: List[Dict[str, Any]] = []
    for r in getattr(net, "recorders", []):
        if isinstance(r, SpikeRecorder):
            recs.append({"type": "spikes", "probe": r._probe, "population": r.population.index})
        elif isinstance(r, VoltageRecorder):
            recs.append({"type": "voltage", "probe": r._probe, "population": r.population.index,
                         "times": _encode(np.asarray(r._times, dtype=np.float64)),
                         "ids": _encode(np.asarray(r.ids, dtype=np.int64))})
    return {
        "format": META_FORMAT,
        "version": META_VERSION,
        "spikeflow": __version__,
        "dt": _encode(net.dt),
        "seed": int(net.seed),
        "time_ms": _encode(net.time),
        "populations": pops,
        "projections": projs,
        "recorders": recs,
    }


# ----- save / load ----------------------------------------------------------------------


def save(net: Any, path: PathLike) -> None:
    """Write the whole network to ``path`` (replaced atomically: a failed save leaves an
    existing file as it was). See :meth:`spikeflow.Network.save`."""
    p = os.fspath(path)
    meta = json.dumps(_metadata(net), allow_nan=False, separators=(",", ":"))
    net._core.save_checkpoint(p, meta)


def _fail(path: str, problem: str) -> CheckpointError:
    return CheckpointError(f"{os.path.basename(path) or path}: {problem}")


def _check_file(p: str) -> None:
    st = os.stat(p)  # FileNotFoundError / PermissionError name the path
    if stat.S_ISDIR(st.st_mode):
        raise IsADirectoryError(errno.EISDIR, "is a directory, not a checkpoint file", p)
    if not stat.S_ISREG(st.st_mode):
        raise _fail(p, "not a regular file, not a spikeflow checkpoint")


def read_metadata(path: PathLike) -> Dict[str, Any]:
    """The JSON section of a checkpoint (populations, projections, recorders, dt, seed, time)
    without loading the network. The file's container and checksum are checked."""
    p = os.fspath(path)
    _check_file(p)
    with open(p, "rb") as f:
        data = f.read()
    try:
        text = _core.Network.checkpoint_meta(data)
    except CheckpointError as exc:
        raise _fail(p, str(exc)) from None
    return _parse_meta(p, text)


def _parse_meta(p: str, text: str) -> Dict[str, Any]:
    try:
        meta = json.loads(text)
    except (ValueError, RecursionError) as exc:
        raise _fail(p, f"metadata is not valid JSON ({exc})") from None
    if not isinstance(meta, dict) or meta.get("format") != META_FORMAT:
        raise _fail(p, "metadata is not a spikeflow checkpoint's")
    version = meta.get("version")
    if not isinstance(version, int) or version < 1:
        raise _fail(p, f"metadata version {version!r} is not valid")
    if version > META_VERSION:
        raise _fail(p, f"metadata version {version} is newer than this spikeflow ({META_VERSION})")
    return meta


def load(path: PathLike) -> Any:
    """Load a network saved with :meth:`spikeflow.Network.save`.

    Returns a new, fully working :class:`spikeflow.Network` at the time it was saved: its
    ``populations``, ``projections`` and ``recorders`` (with what they recorded so far) work
    as before, and ``run()`` continues exactly as the saved network would have.

    Raises :class:`spikeflow.CheckpointError` for a file that is not a spikeflow checkpoint,
    is truncated or corrupt, or has a format version this spikeflow does not read;
    ``FileNotFoundError`` / ``IsADirectoryError`` / ``PermissionError`` when the path is not a
    readable file. Nothing is loaded when an error is raised.
    """
    from spikeflow.sim.network import Network, Population, Projection
    from spikeflow.sim.recorders import SpikeRecorder, VoltageRecorder

    p = os.fspath(path)
    _check_file(p)
    try:
        core, text = _core.Network.load_checkpoint(p)
    except CheckpointError as exc:
        raise _fail(p, str(exc)) from None
    meta = _parse_meta(p, text)
    try:
        n_pops, n_projs = core.n_populations(), core.n_projections()
        n_spike_probes, n_voltage_probes = core.n_recorders()
        pops_meta = meta["populations"]
        if len(pops_meta) != n_pops or len(meta["projections"]) != n_projs:
            raise ValueError("populations or projections do not match the engine's")
        pop_specs = []
        for k, pm in enumerate(pops_meta):
            name, size, kind = core.population_info(k)
            if (pm["index"], pm["name"], pm["size"], pm["kind"]) != (k, name, size, kind):
                raise ValueError(f"population {k} does not match the engine's")
            model = None if pm.get("model") is None else _decode(pm["model"])
            pop_specs.append((name, size, kind, model))
        proj_specs = []
        for k, jm in enumerate(meta["projections"]):
            pre, post = core.projection_info(k)[:2]
            if (jm["index"], jm["pre"], jm["post"]) != (k, pre, post):
                raise ValueError(f"projection {k} does not match the engine's")
            proj_specs.append((pre, post))
        rec_specs = []
        for rm in meta["recorders"]:
            probe, pop = int(rm["probe"]), int(rm["population"])
            if not 0 <= pop < n_pops:
                raise ValueError(f"recorder of population {pop}")
            if rm["type"] == "spikes" and 0 <= probe < n_spike_probes:
                rec_specs.append(("spikes", probe, pop, None, None))
            elif rm["type"] == "voltage" and 0 <= probe < n_voltage_probes:
                times = np.asarray(_decode(rm["times"]), dtype=np.float64)
                ids = np.asarray(_decode(rm["ids"]), dtype=np.int64)
                rec_specs.append(("voltage", probe, pop, times, ids))
            else:
                raise ValueError(f"unknown recorder {rm.get('type')!r} {probe}")
    except CheckpointError:
        raise
    except (KeyError, TypeError, ValueError, IndexError, SpikeflowError) as exc:
        raise _fail(p, f"metadata does not describe the saved engine ({type(exc).__name__}: {exc})") from None

    # Everything checked: build the Python objects around the loaded engine.
    net = Network(dt=core.dt, seed=core.seed)
    net._core = core
    for k, (name, size, kind, model) in enumerate(pop_specs):
        net.populations.append(Population(net, k, name, size, kind, model))
    for k, (pre, post) in enumerate(proj_specs):
        net.projections.append(Projection(net, k, net.populations[pre], net.populations[post]))
    recorders = []
    for kind, probe, pop, times, ids in rec_specs:
        if kind == "spikes":
            recorders.append(SpikeRecorder(net, net.populations[pop], probe))
        else:
            recorders.append(VoltageRecorder(net, net.populations[pop], probe, times, ids))
    net.recorders = recorders
    return net
