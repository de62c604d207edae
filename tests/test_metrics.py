"""spikeflow.metrics: per-sample work, energy model, ANN MACs, latency."""
from __future__ import annotations

import math

import numpy as np
import pytest

torch = pytest.importorskip("torch")

import spikeflow.deploy as sd  # noqa: E402
import spikeflow.metrics as sm  # noqa: E402
import spikeflow.torch as st  # noqa: E402


def _net():
    torch.manual_seed(0)
    m = st.Sequential(st.Linear(20, 8), st.LIF(beta=0.9), st.Linear(8, 3), st.LIF(beta=0.9))
    with torch.no_grad():
        m[0].weight.mul_(4)
        m[2].weight.mul_(4)
    return m


def test_synaptic_ops_equal_spikes_times_fanout():
    m = _net()
    dep = sd.deploy(m, dt=1.0)
    x = (torch.rand(15, 10, 20) < 0.2).float()
    res = dep.run_batch(dep.encode_batch(x), steps=15)
    ps = sm.per_sample(res)
    # all-to-all: every input spike reaches 8 neurons, every hidden spike 3
    inp = x.sum(dim=(0, 2)).numpy()
    hidden = res.counts[dep.layers[0].population.name].sum(axis=1)
    out = res.counts[dep.output.name].sum(axis=1)
    assert np.array_equal(ps["input_spikes"], inp)
    assert np.array_equal(ps["synaptic_ops"], inp * 8 + hidden * 3)
    assert np.array_equal(ps["spikes"], hidden + out)
    with pytest.raises(KeyError):
        sm.per_sample(res, populations=["nope"])


def test_energy_model_defaults_and_override():
    em = sm.EnergyModel()
    assert (em.e_ac_pj, em.e_mac_pj) == (0.9, 4.6)
    e = sm.energy([100, 300], macs=1000)
    assert math.isclose(e["energy_snn_pj"], 180.0) and math.isclose(e["energy_ann_pj"], 4600.0)
    e2 = sm.energy([100], macs=10, model=sm.EnergyModel(e_ac_pj=0.1, e_mac_pj=3.1))
    assert math.isclose(e2["energy_snn_pj"], 10.0) and math.isclose(e2["ann_over_snn"], 3.1)


def test_ann_macs():
    assert sm.ann_macs(_net(), (20,)) == 20 * 8 + 8 * 3
    conv = st.Sequential(st.Conv2d(2, 4, 3), st.LIF(), st.AvgPool2d(2), st.Flatten(), st.Linear(4 * 4 * 4, 10),
                         st.RecurrentLIF(10))
    assert sm.ann_macs(conv, (2, 10, 10)) == 4 * 8 * 8 * 2 * 9 + 64 * 10 + 100


def test_latency_first_spike_of_winner():
    first = np.array([[5.0, 2.0, np.nan], [np.nan, np.nan, np.nan], [1.0, 3.0, 4.0]])
    counts = np.array([[4, 1, 0], [0, 0, 0], [2, 2, 1]])
    lat = sm.latency(first, counts, t0_ms=1.0)
    assert lat[0] == 4.0 and math.isnan(lat[1]) and lat[2] == 0.0


def test_summary_of_a_deployed_run():
    m = _net()
    dep = sd.deploy(m, dt=1.0)
    x = (torch.rand(15, 10, 20) < 0.2).float()
    res = dep.run_batch(dep.encode_batch(x), steps=15)
    s = sm.summary(dep, res, m)
    assert s["ann_macs"] == 184
    assert s["synaptic_ops_per_sample"] > 0
    assert math.isclose(s["energy_snn_pj"], 0.9 * s["synaptic_ops_per_sample"])
    # latency includes the pipeline delay (2 layers, 1 ms each) when the output fired
    if s["silent_fraction"] < 1:
        assert s["latency_ms"] >= 2.0
