"""Recorders: spike trains and membrane-potential samples, read as numpy arrays."""
from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from spikeflow.sim.network import Network, Population


class SpikeRecorder:
    """Spikes of one population: ``times`` (ms, float64) and ``ids`` (int64 index within the
    population), sorted by time, then by id. Reading is cheap; the arrays are fresh copies."""

    def __init__(self, net: "Network", population: "Population", probe: int) -> None:
        self._net = net
        self.population = population
        self._probe = probe

    @property
    def times(self) -> np.ndarray:
        """Spike times in ms."""
        return self._net._core.spikes(self._probe)[0]

    @property
    def ids(self) -> np.ndarray:
        """Index within the population of the neuron that spiked."""
        return self._net._core.spikes(self._probe)[1]

    def counts(self) -> np.ndarray:
        """Number of spikes of each neuron of the population."""
        return np.bincount(self.ids, minlength=self.population.size)

    def take(self) -> tuple[np.ndarray, np.ndarray]:
        """Hand over ``(times, ids)`` recorded so far and start empty again.

        For long experiments read in pieces (e.g. one image at a time): the recorder then never
        holds more than one piece, and reading costs only what was recorded since the last take.
        """
        return self._net._core.take_spikes(self._probe)

    def rate(self) -> float:
        """Mean firing rate of the population (Hz) over the simulated time."""
        t = self._net.time
        return 0.0 if t <= 0 else len(self.ids) / (self.population.size * t / 1000.0)

    def __len__(self) -> int:
        return len(self.ids)

    def __repr__(self) -> str:
        return f"SpikeRecorder({self.population.name!r}, {len(self)} spikes)"


class VoltageRecorder:
    """Membrane potentials (absolute mV) of chosen neurons sampled at chosen times.

    ``v`` has shape ``(samples taken so far, len(ids))``. On a grid, a sample time is rounded
    to the nearest step and reads the state after that step's update; in continuous time a
    sample at ``t`` reflects every event at or before ``t``.
    """

    def __init__(self, net: "Network", population: "Population", probe: int,
                 times: np.ndarray, ids: np.ndarray) -> None:
        self._net = net
        self.population = population
        self._probe = probe
        self._times = times
        self.ids = ids

    @property
    def v(self) -> np.ndarray:
        """Samples taken so far, shape (samples, neurons)."""
        return self._net._core.voltages(self._probe, len(self.ids))

    @property
    def times(self) -> np.ndarray:
        """Sample times (ms) of the rows of ``v`` taken so far."""
        return self._times[: self.v.shape[0]]

    def __repr__(self) -> str:
        return f"VoltageRecorder({self.population.name!r}, {len(self.ids)} neurons, {len(self._times)} times)"
