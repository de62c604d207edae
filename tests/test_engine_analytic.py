"""The engine against closed-form solutions: membrane trajectories, spike times, refractoriness,
delays, in both time modes."""
import math

import numpy as np
import pytest
import spikeflow as sf


def psc_kernel(t, tau_m, tau_s, c_m):
    """Membrane response (mV) at time t to a 1 pA exponential current starting at 0."""
    return (np.exp(-t / tau_m) - np.exp(-t / tau_s)) / (c_m * (1 / tau_s - 1 / tau_m))


@pytest.mark.parametrize("dt", [0.1, None])
def test_free_decay_follows_the_exponential(dt):
    net = sf.Network(dt=dt)
    pop = net.add_population(3, sf.LIF(tau_m=10.0, v_rest=-65.0, v_th=-50.0, v_reset=-65.0,
                                       v_init=np.array([-60.0, -55.0, -70.0])))
    times = np.arange(0.0, 30.0, 0.5)
    vm = net.record_voltage(pop, times)
    net.run(30.0)
    expected = -65.0 + (np.array([-60.0, -55.0, -70.0]) + 65.0) * np.exp(-times[:, None] / 10.0)
    np.testing.assert_allclose(vm.v, expected, rtol=0, atol=1e-10)


def test_bias_current_first_spike_time_is_analytic_in_continuous_time():
    # v_inf = i_e * tau_m / c_m = 30 mV above rest; threshold 20 mV: t* = tau ln(3).
    net = sf.Network(dt=None)
    pop = net.add_population(1, sf.LIF(tau_m=20.0, v_th=20.0, v_reset=0.0, t_ref=2.0, c_m=1.0, i_e=1.5))
    rec = net.record_spikes(pop)
    net.run(100.0)
    t_first = 20.0 * math.log(3.0)
    period = 2.0 + t_first  # refractory, then the same climb from reset
    expected = t_first + period * np.arange(len(rec.times))
    assert len(rec.times) == int((100.0 - t_first) // period) + 1
    np.testing.assert_allclose(rec.times, expected, atol=1e-9)


def test_bias_current_on_the_grid_spikes_at_the_first_step_above_threshold():
    dt = 0.1
    net = sf.Network(dt=dt)
    pop = net.add_population(1, sf.LIF(tau_m=20.0, v_th=20.0, v_reset=0.0, t_ref=0.0, c_m=1.0, i_e=1.5))
    rec = net.record_spikes(pop)
    net.run(50.0)
    # Step recurrence u <- beta*u + (1-beta)*30 from 0: first k with u_k >= 20.
    beta = math.exp(-dt / 20.0)
    u, k = 0.0, 0
    while u < 20.0:
        u = beta * u + (1 - beta) * 30.0
        k += 1
    assert rec.times[0] == pytest.approx(k * dt, abs=1e-12)
    # Reset to 0 with no refractoriness: strictly periodic with the same period.
    np.testing.assert_allclose(np.diff(rec.times), k * dt, atol=1e-9)


def test_continuous_exp_synapse_psp_matches_the_kernel():
    tau_m, tau_s, c_m, w = 10.0, 2.0, 250.0, 500.0
    net = sf.Network(dt=None)
    src = net.add_spike_source(times=[1.0], ids=[0])
    pop = net.add_population(1, sf.LIF(tau_m=tau_m, v_rest=0.0, v_th=100.0, c_m=c_m, synapse="exp",
                                       tau_syn_ex=tau_s, tau_syn_in=tau_s))
    net.connect(src, pop, sf.OneToOne(), weight=w, delay=1.0)
    times = np.linspace(0.0, 40.0, 161)
    vm = net.record_voltage(pop, times)
    net.run(40.0)
    t = np.clip(times - 2.0, 0.0, None)
    np.testing.assert_allclose(vm.v[:, 0], w * psc_kernel(t, tau_m, tau_s, c_m), atol=1e-10)


def test_grid_exp_synapse_matches_continuous_at_grid_points():
    def run(dt):
        net = sf.Network(dt=dt)
        src = net.add_spike_source(times=[1.0, 3.0], ids=[0, 1])
        pop = net.add_population(1, sf.LIF(tau_m=10.0, v_th=100.0, synapse="exp", tau_syn_ex=3.0,
                                           tau_syn_in=6.0))
        net.connect(src, pop, sf.FromArrays(pre=[0, 1], post=[0, 0], weight=[800.0, -300.0], delay=[1.0, 1.0]))
        vm = net.record_voltage(pop, np.arange(0.0, 30.0, 1.0))
        net.run(30.0)
        return vm.v[:, 0]

    np.testing.assert_allclose(run(0.1), run(None), atol=1e-9)


@pytest.mark.parametrize("dt", [0.1, None])
def test_exp_synapse_threshold_crossing_is_located_precisely(dt):
    # A strong current pulse drives the membrane across threshold between events.
    tau_m, tau_s, c_m, w, th = 10.0, 2.0, 250.0, 4000.0, 15.0
    net = sf.Network(dt=dt)
    src = net.add_spike_source(times=[0.0], ids=[0])
    pop = net.add_population(1, sf.LIF(tau_m=tau_m, v_th=th, v_reset=0.0, c_m=c_m, synapse="exp",
                                       tau_syn_ex=tau_s, t_ref=50.0))
    net.connect(src, pop, sf.OneToOne(), weight=w, delay=1.0)
    rec = net.record_spikes(pop)
    net.run(30.0)
    ts = np.linspace(0, 10, 1_000_001)
    v = w * psc_kernel(ts, tau_m, tau_s, c_m)
    t_cross = 1.0 + ts[np.argmax(v >= th)]
    assert len(rec.times) == 1
    if dt is None:
        assert rec.times[0] == pytest.approx(t_cross, abs=2e-5)  # the grid above has 1e-5 spacing
        # Bisection on the exact solution: the engine must be within 1e-9 ms of the root.
        lo, hi = t_cross - 1.0 - 1e-5, t_cross - 1.0 + 1e-5
        for _ in range(80):
            mid = 0.5 * (lo + hi)
            lo, hi = (lo, mid) if w * psc_kernel(mid, tau_m, tau_s, c_m) >= th else (mid, hi)
        assert abs(rec.times[0] - (1.0 + hi)) < 1e-9
    else:
        assert rec.times[0] == pytest.approx(math.ceil((t_cross - 1e-9) / dt) * dt, abs=1e-9)


@pytest.mark.parametrize("dt", [0.1, None])
def test_refractory_period_discards_input_and_holds_the_membrane(dt):
    net = sf.Network(dt=dt)
    src = net.add_spike_source(times=[1.0, 2.0, 3.5, 4.5], ids=[0, 0, 0, 0])
    pop = net.add_population(1, sf.LIF(tau_m=20.0, v_th=20.0, v_reset=5.0, t_ref=2.5))
    net.connect(src, pop, sf.OneToOne(), weight=30.0, delay=1.0)
    rec = net.record_spikes(pop)
    vm = net.record_voltage(pop, [2.0, 3.0, 4.5])
    net.run(10.0)
    # Spike at 2.0; input at 3.0 and 4.5 fall in (2.0, 4.5]: discarded; input at 5.5 fires.
    np.testing.assert_allclose(rec.times, [2.0, 5.5])
    np.testing.assert_allclose(vm.v[:, 0], [5.0, 5.0, 5.0])


@pytest.mark.parametrize("dt", [0.1, 0.25, None])
def test_heterogeneous_delays_deliver_at_spike_time_plus_delay(dt):
    net = sf.Network(dt=dt)
    src = net.add_spike_source(times=[1.0], ids=[0])
    pop = net.add_population(4, sf.LIF(v_th=10.0, t_ref=0.0))
    delays = [0.5, 1.0, 2.5, 4.0]
    net.connect(src, pop, sf.FromArrays(pre=[0, 0, 0, 0], post=[0, 1, 2, 3], weight=20.0, delay=delays))
    rec = net.record_spikes(pop)
    net.run(10.0)
    order = np.argsort(rec.ids)
    np.testing.assert_allclose(rec.times[order], 1.0 + np.array(delays))


@pytest.mark.parametrize("dt", [0.1, None])
def test_if_neuron_integrates_without_leak_and_subtracts(dt):
    net = sf.Network(dt=dt)
    src = net.add_spike_source(times=[1.0, 2.0, 3.0], ids=[0, 0, 0])
    pop = net.add_population(1, sf.IF(v_th=1.0, v_reset=0.0))
    net.connect(src, pop, sf.OneToOne(), weight=0.7, delay=1.0)
    rec = net.record_spikes(pop)
    vm = net.record_voltage(pop, [2.5, 3.5, 4.5])
    net.run(6.0)
    # 0.7 -> 1.4 (spike, 0.4) -> 1.1 (spike, 0.1)
    np.testing.assert_allclose(rec.times, [3.0, 4.0])
    np.testing.assert_allclose(vm.v[:, 0], [0.7, 0.4, 0.1], atol=1e-12)


def test_if_with_bias_fires_at_the_rate_current_over_threshold():
    net = sf.Network(dt=None)
    pop = net.add_population(1, sf.IF(v_th=1.0, c_m=1.0, i_e=0.25))  # 0.25 mV/ms
    rec = net.record_spikes(pop)
    net.run(40.0)
    np.testing.assert_allclose(rec.times, 4.0 * np.arange(1, 11), atol=1e-9)


def test_step_current_switches_drive_on_and_off():
    net = sf.Network(dt=None)
    pop = net.add_population(1, sf.LIF(tau_m=10.0, v_th=20.0, c_m=1.0, t_ref=0.0))
    net.add_current(pop, times=[10.0, 30.0], amplitudes=[3.0, 0.0])  # v_inf = 30 mV while on
    rec = net.record_spikes(pop)
    net.run(60.0)
    assert len(rec.times) > 0
    assert rec.times.min() == pytest.approx(10.0 + 10.0 * math.log(3.0), abs=1e-9)
    assert rec.times.max() <= 30.0
