"""spikeflow: event-driven spiking neural networks with a Rust core.

>>> import spikeflow as sf
>>> net = sf.Network(dt=0.1, seed=42)
>>> exc = net.add_population(100, sf.LIF(tau_m=20.0, v_th=20.0, v_reset=10.0, t_ref=0.5))
>>> src = net.add_spike_source(times=[1.0, 2.5], ids=[0, 3])
>>> proj = net.connect(src, exc, sf.AllToAll(), weight=25.0, delay=1.0)
>>> rec = net.record_spikes(exc)
>>> net.run(10.0)
>>> sorted(set(rec.times.tolist()))
[2.0, 3.5]
"""
from spikeflow._core import __version__
from spikeflow.errors import (
    CheckpointError,
    ConnectivityError,
    MemoryLimitError,
    OutOfRangeError,
    ParameterError,
    SpikeflowError,
    StateError,
)
from spikeflow.model import (
    IF,
    LIF,
    STDP,
    AllToAll,
    Connector,
    Conv2d,
    FixedInDegree,
    FixedOutDegree,
    FixedProbability,
    FromArrays,
    NeuronModel,
    Normal,
    Normalize,
    OneToOne,
    Pool2d,
    RewardSTDP,
    Rewiring,
    TripletSTDP,
    Uniform,
)
from spikeflow.sim import BatchResult, Network, Population, Projection, SpikeRecorder, VoltageRecorder
from spikeflow.sim.checkpoint import load

# Submodules with heavier dependencies (matplotlib, torch) load on first use: `sf.data`, ...
_LAZY = ("data", "viz", "models", "torch", "train", "deploy", "metrics")


def __getattr__(name: str):
    if name in _LAZY:
        import importlib

        module = importlib.import_module(f"spikeflow.{name}")
        globals()[name] = module
        return module
    raise AttributeError(f"module 'spikeflow' has no attribute {name!r}")

__all__ = [
    "__version__",
    "Network", "Population", "Projection", "BatchResult", "SpikeRecorder", "VoltageRecorder",
    "LIF", "IF", "NeuronModel",
    "Connector", "AllToAll", "OneToOne", "FixedProbability", "FixedInDegree", "FixedOutDegree", "FromArrays",
    "Conv2d", "Pool2d",
    "Uniform", "Normal", "STDP", "TripletSTDP", "RewardSTDP", "Normalize", "Rewiring",
    "SpikeflowError", "ParameterError", "ConnectivityError", "OutOfRangeError", "MemoryLimitError", "StateError",
    "CheckpointError", "load",
]
