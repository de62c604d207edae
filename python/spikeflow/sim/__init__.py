"""Running networks: the `Network` builder/runner, its populations, projections and recorders."""
from spikeflow.sim.network import BatchResult, Network, Population, Projection
from spikeflow.sim.recorders import SpikeRecorder, VoltageRecorder

__all__ = ["Network", "Population", "Projection", "BatchResult", "SpikeRecorder", "VoltageRecorder"]
