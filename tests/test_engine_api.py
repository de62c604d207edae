"""The Python API: projections as arrays, weight matrices, counters, recorders, batch results."""
import numpy as np
import pytest
import spikeflow as sf


def test_all_to_all_weight_matrix_is_indexed_pre_post():
    net = sf.Network(dt=1.0)
    a = net.add_population(3, sf.LIF())
    b = net.add_population(2, sf.LIF())
    w = np.arange(6.0).reshape(3, 2)
    proj = net.connect(a, b, sf.AllToAll(), weight=w, delay=1.0)
    assert proj.n_synapses == len(proj) == 6
    np.testing.assert_array_equal(proj.weights, w[proj.pre, proj.post])
    np.testing.assert_array_equal(proj.delays, np.ones(6))


def test_explicit_synapses_keep_their_order_within_a_source():
    net = sf.Network(dt=0.5)
    a = net.add_population(3, sf.LIF())
    b = net.add_population(3, sf.LIF())
    proj = net.connect(a, b, sf.FromArrays(pre=[2, 0, 0, 1], post=[1, 2, 0, 1], weight=[1.0, 2.0, 3.0, 4.0],
                                           delay=[1.0, 1.5, 1.5, 0.5]))
    assert list(zip(proj.pre, proj.post, proj.weights, proj.delays)) == [
        (0, 2, 2.0, 1.5), (0, 0, 3.0, 1.5), (1, 1, 4.0, 0.5), (2, 1, 1.0, 1.0)]


def test_changed_weights_take_effect_in_the_next_run():
    net = sf.Network(dt=0.1)
    src = net.add_spike_source(times=[1.0, 11.0], ids=[0, 0])
    pop = net.add_population(1, sf.LIF(v_th=10.0, t_ref=0.0))
    proj = net.connect(src, pop, sf.OneToOne(), weight=5.0, delay=1.0)
    rec = net.record_spikes(pop)
    net.run(5.0)
    assert len(rec) == 0
    proj.weights = [15.0]
    net.run(10.0)
    np.testing.assert_allclose(rec.times, [12.0])


def test_counters_report_work_and_memory_per_population_and_projection():
    net = sf.Network(dt=0.1, seed=2)
    src = net.add_spike_source(times=[1.0, 2.0, 3.0], ids=[0, 1, 1], name="src")
    pop = net.add_population(10, sf.LIF(v_th=1.0, t_ref=0.0), name="pop")
    net.connect(src, pop, sf.AllToAll(), weight=0.5, delay=1.0)
    net.run(10.0)
    c = net.counters()
    assert c["populations"]["src"]["spikes"] == 3
    assert c["projections"]["0:src->pop"]["synaptic_events"] == 3 * 10
    assert c["synapses"] == 20 and c["bytes_per_synapse"] < 5.0
    # v: 0.5 at 2 ms, 0.5*exp(-1/20)+0.5 = 0.976 at 3 ms, then 1.43 >= 1 at 4 ms: one spike each.
    assert c["populations"]["pop"]["spikes"] == 10
    assert c["time_ms"] == pytest.approx(10.0)


def test_voltage_recorder_reports_rows_taken_so_far():
    net = sf.Network(dt=0.1)
    pop = net.add_population(2, sf.LIF(v_init=np.array([5.0, 1.0])))
    vm = net.record_voltage(pop, times=[0.0, 1.0, 2.0, 3.0])
    net.run(1.5)
    assert vm.v.shape == (2, 2) and list(vm.times) == [0.0, 1.0]
    net.run(2.0)
    assert vm.v.shape == (4, 2)
    np.testing.assert_allclose(vm.v[0], [5.0, 1.0])


def test_spike_recorder_helpers():
    net = sf.Network(dt=1.0)
    src = net.add_spike_source(times=[1.0, 2.0, 2.0], ids=[0, 2, 2], n=3)
    rec = net.record_spikes(src)
    net.run(5.0)
    np.testing.assert_array_equal(rec.counts(), [1, 0, 2])
    assert rec.rate() == pytest.approx(3 / (3 * 0.005))
    assert "3 spikes" in repr(rec)


def test_batch_predictions_pick_the_most_active_neuron():
    net = sf.Network(dt=1.0)
    src = net.add_spike_source(times=[], ids=[], n=2)
    out = net.add_population(2, sf.IF(v_th=1.0), name="out")
    net.connect(src, out, sf.OneToOne(), weight=1.0, delay=1.0)
    res = net.run_batch(src, [([1.0, 2.0], [0, 0]), ([1.0, 3.0, 4.0], [1, 1, 1]), ([], [])], 10.0)
    np.testing.assert_array_equal(res.counts["out"], [[2, 0], [0, 3], [0, 0]])
    np.testing.assert_array_equal(res.predictions("out")[:2], [0, 1])
    assert res.first_spike["out"][0, 0] == 2.0 and np.isnan(res.first_spike["out"][0, 1])
    assert res.spikes.shape == (3, 2) and res.synaptic_events.shape == (3, 1)


@pytest.mark.parametrize("dt", [0.1, None])
def test_voltage_recorder_added_after_a_run(dt):
    net = sf.Network(dt=dt)
    pop = net.add_population(1, sf.LIF(tau_m=10.0, v_init=np.array([10.0])))
    net.run(5.0)
    vm = net.record_voltage(pop, times=[2.0, 5.0, 8.0])  # past, now, future
    np.testing.assert_allclose(vm.v[1:, 0], [10.0 * np.exp(-0.5)], atol=1e-12)
    assert np.isnan(vm.v[0, 0])
    net.run(5.0)
    np.testing.assert_allclose(vm.v[1:, 0], 10.0 * np.exp(-np.array([5.0, 8.0]) / 10.0), atol=1e-12)
