"""STDP: the window against its analytic curve, pairing schemes, bounds, resumability, errors."""
import math

import numpy as np
import pytest
import spikeflow as sf
from hypothesis import given, settings
from hypothesis import strategies as st


def pair_net(dt, pre_times, post_times, rule, w0=0.5, delay=1.0):
    """One plastic synapse; the postsynaptic neuron is made to fire at `post_times` by a strong
    non-plastic input (its spike times equal the kick's arrival times)."""
    net = sf.Network(dt=dt)
    pre = net.add_spike_source(times=np.asarray(pre_times, float) - delay, ids=[0] * len(pre_times))
    kick = net.add_spike_source(times=np.asarray(post_times, float) - 1.0, ids=[0] * len(post_times))
    post = net.add_population(1, sf.LIF(v_th=20.0, v_reset=0.0, t_ref=0.0))
    proj = net.connect(pre, post, sf.OneToOne(), weight=w0, delay=delay, plasticity=rule)
    net.connect(kick, post, sf.OneToOne(), weight=40.0, delay=1.0)
    rec = net.record_spikes(post)
    return net, proj, rec


def window(rule, w0, dt_pair):
    span = rule.w_max - rule.w_min
    mu = 0.0 if rule.rule == "additive" else rule.mu
    if dt_pair > 0:
        f = ((rule.w_max - w0) / span) ** mu
        return min(rule.w_max, w0 + rule.a_plus * f * math.exp(-dt_pair / rule.tau_plus)) - w0
    if dt_pair < 0:
        f = ((w0 - rule.w_min) / span) ** mu
        return max(rule.w_min, w0 - rule.a_minus * f * math.exp(dt_pair / rule.tau_minus)) - w0
    return 0.0


RULES = [
    sf.STDP(tau_plus=16.8, tau_minus=33.7, a_plus=0.05, a_minus=0.04, w_min=0.0, w_max=1.0),
    sf.STDP(tau_plus=20.0, tau_minus=20.0, a_plus=0.05, a_minus=0.06, w_min=0.0, w_max=1.0, rule="multiplicative"),
    sf.STDP(tau_plus=20.0, tau_minus=20.0, a_plus=0.05, a_minus=0.06, w_min=0.0, w_max=1.0, rule="multiplicative",
            mu=0.4),
    sf.STDP(tau_plus=10.0, tau_minus=25.0, a_plus=0.05, a_minus=0.06, pairing="nearest"),
]


@pytest.mark.parametrize("dt", [0.1, None])
@pytest.mark.parametrize("rule", RULES, ids=["additive", "mult", "mu0.4", "nearest"])
def test_stdp_window_matches_the_analytic_curve(dt, rule):
    t_post = 100.0
    for dt_pair in [-60.0, -20.0, -5.0, -0.1, 0.0, 0.1, 3.0, 17.5, 50.0]:
        net, proj, rec = pair_net(dt, [t_post - dt_pair], [t_post], rule, w0=0.5)
        net.run(200.0)
        np.testing.assert_allclose(rec.times, [t_post])
        assert proj.weights[0] - 0.5 == pytest.approx(window(rule, 0.5, dt_pair), abs=1e-6), dt_pair


@pytest.mark.parametrize("pairing", ["all", "nearest"])
def test_pairing_schemes_differ_as_defined(pairing):
    rule = sf.STDP(tau_plus=20.0, tau_minus=20.0, a_plus=0.1, a_minus=0.1, w_max=10.0, pairing=pairing)
    # Two presynaptic arrivals (at 90 and 95) before one postsynaptic spike at 100.
    net, proj, _ = pair_net(0.1, [90.0, 95.0], [100.0], rule, w0=1.0)
    net.run(200.0)
    x = math.exp(-5 / 20) + (math.exp(-10 / 20) if pairing == "all" else 0.0)
    assert proj.weights[0] == pytest.approx(1.0 + 0.1 * x, abs=1e-9)
    # Two postsynaptic spikes (at 100 and 105) before one arrival at 110.
    net, proj, _ = pair_net(0.1, [110.0], [100.0, 105.0], rule, w0=1.0)
    net.run(200.0)
    y = math.exp(-5 / 20) + (math.exp(-10 / 20) if pairing == "all" else 0.0)
    assert proj.weights[0] == pytest.approx(1.0 - 0.1 * y, abs=1e-9)


def poisson_plastic(seed, rule, dt=0.1, n=50, rate=30.0):
    net = sf.Network(dt=dt, seed=seed)
    src = net.add_poisson(n, rate)
    post = net.add_population(5, sf.LIF(tau_m=10.0, v_th=10.0, v_reset=0.0, t_ref=1.0))
    proj = net.connect(src, post, sf.AllToAll(), weight=sf.Uniform(0.0, rule.w_max), delay=1.0,
                       plasticity=rule)
    return net, proj


@settings(max_examples=20, deadline=None)
@given(st.integers(0, 2**31), st.floats(0.0, 2.0), st.floats(0.0, 2.0), st.sampled_from(["additive", "multiplicative"]),
       st.sampled_from(["all", "nearest"]), st.sampled_from([0.1, None]))
def test_weights_never_leave_their_bounds(seed, a_plus, a_minus, rule, pairing, dt):
    r = sf.STDP(a_plus=a_plus, a_minus=a_minus, w_min=0.0, w_max=3.0, rule=rule, pairing=pairing)
    net, proj = poisson_plastic(seed, r, dt=dt)
    net.run(300.0)
    w = proj.weights
    assert np.all(w >= 0.0) and np.all(w <= 3.0)


def test_zero_learning_rate_changes_nothing():
    r = sf.STDP(a_plus=0.0, a_minus=0.0, w_max=3.0)
    net, proj = poisson_plastic(1, r)
    w0 = proj.weights.copy()
    net.run(300.0)
    assert net.counters()["spikes"] > 100
    np.testing.assert_array_equal(proj.weights, w0)


@pytest.mark.parametrize("dt", [0.1, None])
def test_two_runs_equal_one_with_plasticity(dt):
    r = sf.STDP(a_plus=0.05, a_minus=0.055, w_max=3.0)
    a, pa = poisson_plastic(7, r, dt=dt)
    a.run(300.0)
    b, pb = poisson_plastic(7, r, dt=dt)
    b.run(120.0)
    b.run(180.0)
    np.testing.assert_array_equal(pa.weights, pb.weights)
    assert not np.allclose(pa.weights, poisson_plastic(7, r, dt=dt)[1].weights)


def test_learned_weights_survive_reset_and_drive_the_next_run():
    r = sf.STDP(a_plus=0.05, a_minus=0.0, w_max=3.0)
    net, proj = poisson_plastic(3, r)
    net.run(200.0)
    learned = proj.weights.copy()
    net.reset()
    np.testing.assert_array_equal(proj.weights, learned)
    net.run(50.0)
    assert np.all(proj.weights >= learned - 1e-12)


@pytest.mark.parametrize("kwargs, match", [
    ({"tau_plus": -1.0}, "tau_plus must be a finite time constant > 0"),
    ({"tau_minus": float("nan")}, "tau_minus must be a finite time constant > 0"),
    ({"a_minus": -0.1}, "a_minus must be finite and >= 0"),
    ({"w_min": 2.0, "w_max": 1.0}, "w_min <= w_max"),
    ({"rule": "hebbian"}, "rule must be 'additive' or 'multiplicative'"),
    ({"pairing": "triplet"}, "pairing must be 'all' or 'nearest'"),
])
def test_bad_stdp_parameters(kwargs, match):
    net = sf.Network(dt=0.1)
    a = net.add_population(3, sf.LIF())
    with pytest.raises(sf.ParameterError, match=match):
        net.connect(a, a, sf.AllToAll(), weight=0.5, plasticity=sf.STDP(**kwargs))


def test_initial_weights_outside_the_bounds_are_refused():
    net = sf.Network(dt=0.1)
    a = net.add_population(3, sf.LIF())
    with pytest.raises(sf.ParameterError, match=r"outside the STDP bounds \[0, 1\]"):
        net.connect(a, a, sf.AllToAll(), weight=1.5, plasticity=sf.STDP(w_max=1.0))
    with pytest.raises(TypeError, match="plasticity must be sf.STDP"):
        net.connect(a, a, sf.AllToAll(), weight=0.5, plasticity="stdp")


@pytest.mark.parametrize("dt", [0.1, None])
def test_triplet_rule_matches_its_analytic_sums(dt):
    r = sf.TripletSTDP(tau_plus=16.8, tau_minus=33.7, tau_x=101.0, tau_y=125.0, a2_plus=0.01, a3_plus=0.02,
                       a2_minus=0.015, a3_minus=0.005, w_min=-10.0, w_max=10.0)
    # pre-post-post: arrival at 100, posts at 110 and 130.
    net, proj, rec = pair_net(dt, [100.0], [110.0, 130.0], r, w0=0.0)
    net.run(300.0)
    np.testing.assert_allclose(rec.times, [110.0, 130.0])
    expected = 0.01 * math.exp(-10 / 16.8) + (0.01 + 0.02 * math.exp(-20 / 125.0)) * math.exp(-30 / 16.8)
    assert proj.weights[0] == pytest.approx(expected, abs=1e-9)
    # post-pre-pre: post at 100, arrivals at 110 and 125.
    net, proj, _ = pair_net(dt, [110.0, 125.0], [100.0], r, w0=0.0)
    net.run(300.0)
    expected = -0.015 * math.exp(-10 / 33.7) - (0.015 + 0.005 * math.exp(-15 / 101.0)) * math.exp(-25 / 33.7)
    assert proj.weights[0] == pytest.approx(expected, abs=1e-9)


@pytest.mark.parametrize("name", ["visual_cortex", "hippocampal"])
@pytest.mark.parametrize("pairing", ["all", "nearest"])
def test_triplet_presets_reduce_to_the_pair_window_for_single_pairs(name, pairing):
    r = sf.TripletSTDP.preset(name, pairing=pairing, w_min=-1.0, w_max=1.0)
    for dt_pair in (-15.0, 12.0):
        net, proj, _ = pair_net(0.1, [100.0 - dt_pair], [100.0], r, w0=0.0)
        net.run(200.0)
        want = (r.a2_plus * math.exp(-dt_pair / r.tau_plus) if dt_pair > 0
                else -r.a2_minus * math.exp(dt_pair / r.tau_minus))
        assert proj.weights[0] == pytest.approx(want, abs=1e-12)


def test_unknown_triplet_preset():
    with pytest.raises(sf.ParameterError, match="unknown triplet preset"):
        sf.TripletSTDP.preset("cerebellum")


def test_setting_plastic_weights_replaces_what_was_learned():
    r = sf.STDP(a_plus=0.05, a_minus=0.055, w_max=3.0)
    net, proj = poisson_plastic(5, r)
    net.run(100.0)
    proj.weights = np.full(len(proj), 1.5)
    np.testing.assert_array_equal(proj.weights, 1.5)
    net.run(100.0)
    w = proj.weights
    assert not np.all(w == 1.5)                 # learning went on from the new values
    assert np.all((w >= 0.0) & (w <= 3.0))
    net.reset()
    np.testing.assert_array_equal(proj.weights, w)  # and reset keeps them


def reward_pair(dt, rule, dopamine_times=()):
    """A causal pair (arrival 100, post 110) on one reward-modulated synapse; optional dopamine
    spikes from a spike-source population."""
    net = sf.Network(dt=dt)
    pre = net.add_spike_source(times=[99.0], ids=[0])
    kick = net.add_spike_source(times=[109.0], ids=[0])
    post = net.add_population(1, sf.LIF(v_th=20.0, t_ref=0.0))
    da = None
    if dopamine_times:
        da = net.add_spike_source(times=list(dopamine_times), ids=[0] * len(dopamine_times))
        rule = sf.RewardSTDP(**{**rule.__dict__, "dopamine": da})
    proj = net.connect(pre, post, sf.OneToOne(), weight=0.5, delay=1.0, plasticity=rule)
    net.connect(kick, post, sf.OneToOne(), weight=40.0, delay=1.0)
    return net, proj


R = dict(a_plus=0.001, a_minus=0.001, tau_c=1000.0, tau_d=200.0, w_min=-10.0, w_max=10.0)
TAU_S = 1.0 / (1.0 / 1000.0 + 1.0 / 200.0)
C0 = 0.001 * math.exp(-10 / 20)  # eligibility right after the pairing at 110 ms


@pytest.mark.parametrize("dt", [0.1, None])
def test_reward_stdp_changes_weights_only_with_dopamine(dt):
    net, proj = reward_pair(dt, sf.RewardSTDP(**R))
    net.run(200.0)
    assert proj.weights[0] == 0.5  # eligible, but no dopamine yet
    net.set_dopamine(proj, 2.0)     # a reward at 200 ms, decaying with tau_d
    net.run(3000.0)
    c = C0 * math.exp(-90 / 1000.0)
    assert proj.weights[0] == pytest.approx(0.5 + c * 2.0 * TAU_S * (1 - math.exp(-3000 / TAU_S)), abs=1e-9)


@pytest.mark.parametrize("dt", [0.1, None])
def test_dopamine_released_by_a_population(dt):
    net, proj = reward_pair(dt, sf.RewardSTDP(**R, dopamine_amount=1.5), dopamine_times=[300.0, 300.0])
    net.run(2000.0)
    c = C0 * math.exp(-190 / 1000.0)
    want = 0.5 + c * 3.0 * TAU_S * (1 - math.exp(-1700 / TAU_S))  # two spikes at 300 ms
    assert proj.weights[0] == pytest.approx(want, abs=1e-9)


def test_reward_baseline_depresses_eligible_synapses_without_dopamine():
    net, proj = reward_pair(0.1, sf.RewardSTDP(**R, baseline=0.5))
    net.run(1110.0)
    want = 0.5 - C0 * 0.5 * 1000.0 * (1 - math.exp(-1000 / 1000.0))
    assert proj.weights[0] == pytest.approx(want, abs=1e-9)


def test_reward_weights_stay_within_bounds():
    r = sf.RewardSTDP(a_plus=0.5, a_minus=0.5, w_min=0.0, w_max=3.0)
    net = sf.Network(dt=0.1, seed=11)
    src = net.add_poisson(50, 30.0)
    post = net.add_population(5, sf.LIF(tau_m=10.0, v_th=10.0, t_ref=1.0))
    proj = net.connect(src, post, sf.AllToAll(), weight=sf.Uniform(0.0, 3.0), delay=1.0, plasticity=r)
    w0 = proj.weights.copy()
    for level in (5.0, -5.0, 5.0):
        net.set_dopamine(proj, level)
        net.run(200.0)
        assert np.all((proj.weights >= 0.0) & (proj.weights <= 3.0))
    assert not np.allclose(proj.weights, w0)


def test_reward_stdp_errors():
    net = sf.Network(dt=0.1)
    a = net.add_population(3, sf.LIF())
    other = sf.Network(dt=0.1).add_population(1, sf.LIF())
    with pytest.raises(sf.ConnectivityError, match="belongs to a different network"):
        net.connect(a, a, sf.AllToAll(), weight=0.5, plasticity=sf.RewardSTDP(dopamine=other))
    with pytest.raises(sf.ParameterError, match="tau_c must be a finite time constant"):
        net.connect(a, a, sf.AllToAll(), weight=0.5, plasticity=sf.RewardSTDP(tau_c=-1.0))
    static = net.connect(a, a, sf.AllToAll(), weight=0.5)
    with pytest.raises(sf.ParameterError, match="not reward-modulated"):
        net.set_dopamine(static, 1.0)


@pytest.mark.parametrize("dt", [0.1, None])
@pytest.mark.parametrize("eta", [0.0, 0.25, 3.0])
def test_learning_rate_scales_the_window(dt, eta):
    rule = sf.STDP(tau_plus=20.0, tau_minus=20.0, a_plus=0.05, a_minus=0.06, w_min=0.0, w_max=1.0)
    for dt_pair in [-10.0, 7.0]:
        net, proj, _ = pair_net(dt, [100.0 - dt_pair], [100.0], rule, w0=0.5)
        assert proj.learning_rate == 1.0
        proj.learning_rate = eta
        assert proj.learning_rate == eta
        net.run(200.0)
        assert proj.weights[0] - 0.5 == pytest.approx(eta * window(rule, 0.5, dt_pair), abs=1e-9), dt_pair


def test_learning_rate_set_between_runs_acts_from_then_on():
    rule = sf.TripletSTDP.preset("visual_cortex", pairing="nearest", w_max=10.0)
    # Pair 1 (pre 90, post 100) learns at full rate; pair 2 (pre 290, post 300) at half.
    net, proj, _ = pair_net(0.1, [90.0, 290.0], [100.0, 300.0], rule, w0=1.0)
    net.run(200.0)
    after_first = proj.weights[0]
    proj.learning_rate = 0.5
    net.run(200.0)
    ref, ref_proj, _ = pair_net(0.1, [90.0, 290.0], [100.0, 300.0], rule, w0=1.0)
    ref.run(200.0)
    assert ref_proj.weights[0] == after_first
    ref.run(200.0)
    full_second = ref_proj.weights[0] - after_first
    assert full_second != 0.0
    assert proj.weights[0] - after_first == pytest.approx(0.5 * full_second, rel=1e-9)


def test_learning_rate_errors():
    net, proj, _ = pair_net(0.1, [10.0], [20.0], sf.STDP(a_plus=0.1, a_minus=0.1))
    for bad in [-0.1, float("nan"), float("inf")]:
        with pytest.raises(sf.ParameterError, match="learning_rate"):
            proj.learning_rate = bad
    static = net.connect(net.populations[0], net.populations[2], sf.OneToOne(), weight=1.0, delay=1.0)
    with pytest.raises(sf.ParameterError, match="no plasticity"):
        _ = static.learning_rate


def test_learning_rate_is_saved_in_checkpoints(tmp_path):
    rule = sf.STDP(a_plus=0.1, a_minus=0.1)
    net, proj, _ = pair_net(0.1, [10.0, 110.0], [20.0, 120.0], rule)
    net.run(50.0)
    proj.learning_rate = 0.3
    net.save(tmp_path / "eta.sfc")
    loaded = sf.load(tmp_path / "eta.sfc")
    assert loaded.projections[0].learning_rate == 0.3
    net.run(100.0)
    loaded.run(100.0)
    assert loaded.projections[0].weights[0] == proj.weights[0]
