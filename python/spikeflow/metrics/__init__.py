"""Work, energy and latency of event-driven inference (per sample).

* :func:`per_sample` — spikes and synaptic operations per sample from a
  :class:`~spikeflow.BatchResult` (the engine counts them while it runs);
* :class:`EnergyModel` — picojoules per operation: 0.9 pJ per accumulate (a synaptic event
  adds a weight) and 4.6 pJ per multiply-accumulate (32-bit float, 45 nm CMOS; Horowitz,
  "Computing's energy problem", ISSCC 2014), both overridable;
* :func:`ann_macs` — multiply-accumulates of the equivalent ANN (same layers, one pass over a
  static input);
* :func:`latency` — time to the first decisive output spike.

The comparison is the usual one of the SNN literature: the SNN pays one accumulate per
synaptic event over all time steps, the ANN one multiply-accumulate per weight use in one pass.
Memory traffic, neuron updates and the input encoding are not counted on either side.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Dict, Optional, Sequence

import numpy as np

__all__ = ["EnergyModel", "ann_macs", "energy", "latency", "per_sample", "summary"]


@dataclass(frozen=True)
class EnergyModel:
    """Energy per operation in picojoules.

    Attributes:
        e_ac_pj: one accumulate (a synaptic event: add a weight to a membrane). Default 0.9 pJ,
            a 32-bit float add at 45 nm (Horowitz 2014).
        e_mac_pj: one multiply-accumulate of the ANN. Default 4.6 pJ (32-bit float multiply
            3.7 pJ + add 0.9 pJ, 45 nm, Horowitz 2014).
    """

    e_ac_pj: float = 0.9
    e_mac_pj: float = 4.6

    def snn(self, synaptic_ops: Any) -> Any:
        """Energy (pJ) of ``synaptic_ops`` accumulates."""
        return np.asarray(synaptic_ops, dtype=np.float64) * self.e_ac_pj

    def ann(self, macs: Any) -> Any:
        """Energy (pJ) of ``macs`` multiply-accumulates."""
        return np.asarray(macs, dtype=np.float64) * self.e_mac_pj


def per_sample(result: Any, populations: Optional[Sequence[str]] = None) -> Dict[str, np.ndarray]:
    """Spikes and synaptic operations of each sample of a batch run.

    Args:
        result: a :class:`~spikeflow.BatchResult` from ``Network.run_batch``.
        populations: names of the neuron populations whose spikes count (default: all the
            network's populations, input sources included as ``input_spikes`` separately when
            one is named ``"input"``).

    Returns:
        ``spikes`` (neuron spikes per sample, sources excluded when named ``"input"``),
        ``input_spikes`` and ``synaptic_ops`` (synaptic events over all projections) per sample.
    """
    names = list(result.population_names)
    spikes = np.asarray(result.spikes, dtype=np.float64)  # (samples, populations)
    if populations is None:
        cols = [k for k, n in enumerate(names) if n != "input"]
    else:
        missing = [p for p in populations if p not in names]
        if missing:
            raise KeyError(f"no population named {missing} (have {names})")
        cols = [names.index(p) for p in populations]
    inp = spikes[:, names.index("input")] if "input" in names else np.zeros(spikes.shape[0])
    return {
        "spikes": spikes[:, cols].sum(axis=1),
        "input_spikes": inp,
        "synaptic_ops": np.asarray(result.synaptic_events, dtype=np.float64).sum(axis=1),
    }


def ann_macs(model: Any, input_shape: Sequence[int]) -> int:
    """Multiply-accumulates of one pass of the equivalent ANN over a static input.

    Counts ``Linear`` (``in * out``), ``Conv2d`` (``out_elements * in_channels/groups * kh * kw``)
    and recurrent weights (``n * n`` for a :class:`~spikeflow.torch.RecurrentLIF`); pooling,
    batch norm and activations are not counted (cheap, and present in both).
    """
    import torch

    from spikeflow.torch.neurons import RecurrentLIF

    total = 0

    def hook(m: Any, _inp: Any, out: Any) -> None:
        nonlocal total
        y = out[0] if isinstance(out, tuple) else out
        per = y[0, 0].numel()  # one step, one sample
        if isinstance(m, torch.nn.Conv2d):
            kh, kw = m.kernel_size
            total += per * (m.in_channels // m.groups) * kh * kw
        elif isinstance(m, torch.nn.Linear):
            total += per * m.in_features
        elif isinstance(m, RecurrentLIF):
            total += m.n * m.n

    hooks = [m.register_forward_hook(hook) for m in model.modules()
             if isinstance(m, (torch.nn.Conv2d, torch.nn.Linear, RecurrentLIF))]
    was = model.training
    model.eval()
    try:
        with torch.no_grad():
            model(torch.zeros((1, 1) + tuple(int(s) for s in input_shape)))
    finally:
        model.train(was)
        for h in hooks:
            h.remove()
    return int(total)


def energy(synaptic_ops: Any, macs: float, model: Optional[EnergyModel] = None) -> Dict[str, float]:
    """Mean energy per sample of the SNN (accumulates) and of the equivalent ANN (MACs), in pJ,
    and their ratio ``ann / snn``."""
    em = model or EnergyModel()
    snn = float(np.mean(em.snn(synaptic_ops)))
    ann = float(em.ann(macs))
    return {"energy_snn_pj": snn, "energy_ann_pj": ann, "ann_over_snn": ann / snn if snn > 0 else float("inf")}


def latency(first_spike_ms: np.ndarray, counts: np.ndarray, t0_ms: float = 0.0) -> np.ndarray:
    """Time to the first decisive output spike, per sample (ms; NaN when the output is silent).

    The decisive spike is the first spike of the neuron that wins the sample (most output
    spikes, lowest index on ties): from that moment the eventual answer has been signalled.
    Times are measured from ``t0_ms`` (the sample's start) and, for a deployed network,
    include its pipeline delay (one step per layer).

    Args:
        first_spike_ms: ``(samples, classes)`` first-spike times (NaN: silent), as in
            ``BatchResult.first_spike``.
        counts: ``(samples, classes)`` output spike counts.
    """
    first = np.asarray(first_spike_ms, dtype=np.float64)
    c = np.asarray(counts)
    win = np.argmax(c, axis=1)
    t = first[np.arange(first.shape[0]), win] - t0_ms
    t[c.max(axis=1) == 0] = np.nan
    return t


def summary(deployed: Any, result: Any, model: Any, energy_model: Optional[EnergyModel] = None
            ) -> Dict[str, float]:
    """Per-sample means for a deployed network's batch run: spikes, synaptic operations, energy
    of the SNN and of the equivalent ANN, and latency (ms, over samples with an output spike)."""
    ps = per_sample(result)
    out = deployed.output.name
    lat = latency(result.first_spike[out], result.counts[out])
    macs = ann_macs(model, deployed.input_shape)
    e = energy(ps["synaptic_ops"], macs, energy_model)
    return {
        "spikes_per_sample": float(np.mean(ps["spikes"])),
        "input_spikes_per_sample": float(np.mean(ps["input_spikes"])),
        "synaptic_ops_per_sample": float(np.mean(ps["synaptic_ops"])),
        "ann_macs": float(macs),
        **e,
        "latency_ms": float(np.nanmean(lat)) if np.any(~np.isnan(lat)) else float("nan"),
        "silent_fraction": float(np.mean(np.isnan(lat))),
    }
