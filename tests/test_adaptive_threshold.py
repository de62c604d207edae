"""Adaptive threshold (theta) and Poisson rates changed between runs."""
import math

import numpy as np
import pytest
import spikeflow as sf


def _reference_spikes(i_e, tau_m, c_m, v_th, theta_plus, tau_theta, t_end):
    """Spike times of a bias-driven LIF (rest 0, reset 0, no refractoriness) whose threshold
    is ``v_th + theta``: each interval solved by bisection on v(t) - threshold(t)."""
    vinf = i_e * tau_m / c_m
    t0, theta0, out = 0.0, 0.0, []
    while True:
        def f(s, theta0=theta0):
            v = vinf * (1.0 - math.exp(-s / tau_m))
            th = v_th + theta0 * (math.exp(-s / tau_theta) if math.isfinite(tau_theta) else 1.0)
            return v - th
        hi = 1.0
        while f(hi) < 0.0:
            hi *= 2.0
            if t0 + hi > 2 * t_end:
                return np.array(out)
        lo = 0.0
        for _ in range(200):
            mid = 0.5 * (lo + hi)
            lo, hi = (mid, hi) if f(mid) < 0.0 else (lo, mid)
        t = t0 + hi
        if t > t_end:
            return np.array(out)
        out.append(t)
        decay = math.exp(-hi / tau_theta) if math.isfinite(tau_theta) else 1.0
        theta0 = theta0 * decay + theta_plus
        t0 = t


@pytest.mark.parametrize("tau_theta", [40.0, math.inf])
def test_continuous_spike_times_match_the_closed_form(tau_theta):
    model = sf.LIF(tau_m=10.0, v_th=15.0, t_ref=0.0, c_m=250.0, i_e=1000.0, theta_plus=2.0, tau_theta=tau_theta)
    net = sf.Network(dt=None)
    pop = net.add_population(1, model)
    rec = net.record_spikes(pop)
    net.run(300.0)
    ref = _reference_spikes(1000.0, 10.0, 250.0, 15.0, 2.0, tau_theta, 300.0)
    assert len(ref) >= 5
    np.testing.assert_allclose(rec.times, ref, atol=1e-7)
    # theta now: the increments, each decayed from its spike to t = 300
    decay = np.exp(-(300.0 - ref) / tau_theta) if math.isfinite(tau_theta) else np.ones_like(ref)
    np.testing.assert_allclose(pop.theta, [2.0 * decay.sum()], rtol=1e-9)


@pytest.mark.parametrize("tau_theta", [40.0, math.inf])
def test_grid_spikes_land_on_the_first_step_at_or_after_each_crossing(tau_theta):
    dt = 0.1
    model = sf.LIF(tau_m=10.0, v_th=15.0, t_ref=0.0, c_m=250.0, i_e=1000.0, theta_plus=2.0, tau_theta=tau_theta)
    net = sf.Network(dt=dt)
    pop = net.add_population(1, model)
    rec = net.record_spikes(pop)
    net.run(300.0)
    # Step-by-step reference with the exact propagator; threshold decays per step.
    beta, vinf = math.exp(-dt / 10.0), 1000.0 * 10.0 / 250.0
    g = math.exp(-dt / tau_theta) if math.isfinite(tau_theta) else 1.0
    v, theta, ref = 0.0, 0.0, []
    for k in range(1, 3001):
        v = vinf + (v - vinf) * beta
        theta *= g
        if v >= 15.0 + theta:
            ref.append(k * dt)
            v = 0.0
            theta += 2.0
    np.testing.assert_allclose(rec.times, ref, atol=1e-9)
    np.testing.assert_allclose(pop.theta, [theta], rtol=1e-9)


@pytest.mark.parametrize("dt", [0.1, None])
def test_each_spike_raises_the_threshold_of_input_driven_neurons(dt):
    # Input kicks of 16 mV every 5 ms onto v_th = 15: without theta every kick fires; theta 3 mV
    # per spike without decay blocks the neuron after the first spike (16 < 15 + 3).
    times = np.arange(1.0, 100.0, 5.0)
    for theta_plus, expected in ((0.0, len(times)), (3.0, 1)):
        net = sf.Network(dt=dt)
        src = net.add_spike_source(times, np.zeros(len(times), dtype=int))
        pop = net.add_population(1, sf.LIF(tau_m=2.0, v_th=15.0, t_ref=0.0, theta_plus=theta_plus))
        net.connect(src, pop, sf.OneToOne(), weight=16.0, delay=1.0)
        rec = net.record_spikes(pop)
        net.run(120.0)
        assert len(rec.times) == expected
        assert pop.theta[0] == pytest.approx(theta_plus * expected)


def test_decaying_threshold_can_fall_onto_a_resting_membrane_grid_and_continuous():
    # One kick of 12 mV (tau_m 1e4: it barely leaks) after theta was raised to 10 by a forced
    # spike; the threshold 5 + 10 e^{-t/20} falls below the membrane with no further input.
    for dt in (0.1, None):
        net = sf.Network(dt=dt)
        src = net.add_spike_source([1.0, 2.0], [0, 0])
        pop = net.add_population(1, sf.LIF(tau_m=1e4, v_th=5.0, t_ref=0.0, theta_plus=10.0, tau_theta=20.0))
        net.connect(src, pop, sf.OneToOne(), weight=[[6.0]], delay=1.0)
        rec = net.record_spikes(pop)
        net.run(100.0)
        # first kick fires (6 >= 5), theta = 10; the second (t = 3) brings v to 6, and the
        # neuron fires when 5 + 10 e^{-(t-2)/20} comes down to 6 e^{-(t-3)/1e4}.
        lo, hi = 3.0, 100.0
        for _ in range(200):
            mid = 0.5 * (lo + hi)
            below = 6.0 * math.exp(-(mid - 3.0) / 1e4) < 5.0 + 10.0 * math.exp(-(mid - 2.0) / 20.0)
            lo, hi = (mid, hi) if below else (lo, mid)
        assert len(rec.times) == 2
        assert rec.times[0] == pytest.approx(2.0, abs=1e-9)
        if dt is None:
            assert rec.times[1] == pytest.approx(hi, abs=1e-7)
        else:
            assert rec.times[1] == pytest.approx(math.ceil(hi / dt) * dt, abs=1e-9)


def test_adaptive_threshold_with_conductance_synapses_runs_and_limits_rates():
    def rate(theta_plus):
        net = sf.Network(dt=0.5, seed=3)
        inp = net.add_poisson(200, 20.0)
        pop = net.add_population(20, sf.LIF(tau_m=100.0, v_rest=-65.0, v_reset=-65.0, v_th=-52.0, t_ref=5.0,
                                            synapse="cond_exp", tau_syn_ex=1.0, tau_syn_in=2.0,
                                            theta_plus=theta_plus, tau_theta=1e7))
        net.connect(inp, pop, sf.AllToAll(), weight=sf.Uniform(0.0, 0.3))
        rec = net.record_spikes(pop)
        net.run(1000.0)
        return len(rec.times), pop.theta
    n0, th0 = rate(0.0)
    n1, th1 = rate(0.5)
    assert n0 > 50 and n1 < n0
    assert np.all(th0 == 0.0)
    np.testing.assert_allclose(th1.sum(), 0.5 * n1, rtol=1e-3)  # tau_theta = 1e7: barely decays


@pytest.mark.parametrize("bad, match", [
    (dict(theta_plus=-1.0), "theta_plus"),
    (dict(theta_plus=1.0, tau_theta=0.0), "tau_theta"),
    (dict(theta_plus=1.0, tau_theta=float("nan")), "tau_theta"),
])
def test_bad_adaptive_parameters_are_refused(bad, match):
    net = sf.Network()
    with pytest.raises(sf.ParameterError, match=match):
        net.add_population(2, sf.LIF(**bad))


def test_torch_neurons_refuse_an_adaptive_threshold():
    pytest.importorskip("torch")
    from spikeflow.torch.params import LIFParameters

    with pytest.raises(ValueError, match="adaptive"):
        LIFParameters.from_model(sf.LIF(t_ref=0.0, theta_plus=1.0))


# --- Poisson rates set between runs ---------------------------------------------------------

@pytest.mark.parametrize("dt", [0.5, None])
def test_poisson_rates_can_change_between_runs(dt):
    net = sf.Network(dt=dt, seed=7)
    inp = net.add_poisson(400, 0.0)
    rec = net.record_spikes(inp)
    net.run(500.0)
    assert len(rec.times) == 0
    rates = np.linspace(0.0, 60.0, 400)
    inp.rates = rates
    np.testing.assert_array_equal(inp.rates, rates)
    net.run(2000.0)
    counts = np.bincount(rec.ids, minlength=400)
    expected = rates * 2.0
    assert rec.times.min() >= 500.0
    assert counts[0] == 0
    # total within 5 SD; low and high halves ordered as the rates
    assert abs(counts.sum() - expected.sum()) < 5 * math.sqrt(expected.sum())
    assert counts[:200].sum() < counts[200:].sum()
    # per-source counts agree with Poisson means (chi-square per degree of freedom near 1)
    chi2 = ((counts[1:] - expected[1:]) ** 2 / expected[1:]).mean()
    assert 0.7 < chi2 < 1.4
    inp.rates = 0.0
    before = len(rec.times)
    net.run(500.0)
    assert len(rec.times) == before


def test_rates_setter_validates_and_refuses_other_populations():
    net = sf.Network()
    inp = net.add_poisson(3, 10.0)
    pop = net.add_population(3, sf.LIF())
    with pytest.raises(sf.ParameterError):
        inp.rates = [1.0, -2.0, 3.0]
    with pytest.raises(sf.ParameterError):
        inp.rates = [1.0, 2.0]
    with pytest.raises(sf.ParameterError):
        pop.rates = 5.0
    np.testing.assert_array_equal(inp.rates, [10.0, 10.0, 10.0])


def test_same_seed_same_spikes_with_rate_changes():
    def run():
        net = sf.Network(dt=0.5, seed=11)
        inp = net.add_poisson(50, 5.0)
        rec = net.record_spikes(inp)
        net.run(100.0)
        inp.rates = np.arange(50.0)
        net.run(100.0)
        return rec.times.copy(), rec.ids.copy()
    a, b = run(), run()
    np.testing.assert_array_equal(a[0], b[0])
    np.testing.assert_array_equal(a[1], b[1])
