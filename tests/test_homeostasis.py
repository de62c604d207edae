"""Synaptic normalisation (sf.Normalize, proj.normalize): exact sums, timing, STDP interplay, errors."""
import numpy as np
import pytest
import spikeflow as sf

STILL = sf.STDP(a_plus=0.0, a_minus=0.0, w_min=0.0, w_max=100.0)  # plastic, but never learns


def sums(proj, n_post):
    return np.bincount(proj.post, weights=proj.weights, minlength=n_post)


def random_net(dt, seed=1, normalize=None, rule=STILL, rate=0.0):
    net = sf.Network(dt=dt, seed=seed)
    src = net.add_poisson(40, rate)
    post = net.add_population(12, sf.LIF(v_th=5.0, t_ref=2.0))
    proj = net.connect(src, post, sf.FixedProbability(0.5), weight=sf.Uniform(0.05, 0.9), delay=1.0,
                       plasticity=rule, normalize=normalize)
    return net, proj, post


@pytest.mark.parametrize("dt", [0.1, None])
def test_explicit_normalize_gives_the_target_sum_and_keeps_proportions(dt):
    net, proj, _ = random_net(dt)
    before = proj.weights.copy()
    proj.normalize(78.0)
    after = proj.weights
    s = sums(proj, 12)
    np.testing.assert_allclose(s, 78.0, rtol=0, atol=1e-9)
    # One factor per postsynaptic neuron.
    for i in range(12):
        m = proj.post == i
        ratio = after[m] / before[m]
        np.testing.assert_allclose(ratio, ratio[0], rtol=1e-12)
        assert ratio[0] == pytest.approx(78.0 / before[m].sum(), rel=1e-12)


def test_normalize_defaults_to_the_connect_target_and_leaves_zero_sums_alone():
    net = sf.Network(dt=0.1)
    src = net.add_spike_source(times=[], ids=[], n=3)
    post = net.add_population(3, sf.LIF())
    conn = sf.FromArrays(pre=[0, 0, 1, 1, 2], post=[0, 1, 0, 1, 2], weight=[1.0, 0.0, 3.0, 0.0, 2.0])
    proj = net.connect(src, post, conn, delay=1.0, plasticity=STILL, normalize=sf.Normalize(8.0))
    proj.normalize()
    np.testing.assert_array_equal(proj.weights, [2.0, 0.0, 6.0, 0.0, 8.0])


def test_static_projection_normalises_to_float32_precision():
    net = sf.Network(dt=0.1, seed=4)
    src = net.add_poisson(30, 0.0)
    post = net.add_population(5, sf.LIF())
    proj = net.connect(src, post, sf.AllToAll(), weight=sf.Uniform(0.1, 1.0))
    proj.normalize(7.5)
    np.testing.assert_allclose(sums(proj, 5), 7.5, rtol=1e-6)


@pytest.mark.parametrize("dt", [0.1, None])
def test_periodic_normalisation_happens_at_each_interval_and_not_before(dt):
    net, proj, _ = random_net(dt, normalize=sf.Normalize(5.0, interval=100.0))
    initial = sums(proj, 12)
    assert not np.allclose(initial, 5.0)
    net.run(99.5)
    np.testing.assert_array_equal(sums(proj, 12), initial)
    net.run(0.5)
    np.testing.assert_allclose(sums(proj, 12), 5.0, atol=1e-9)
    # Change the weights by hand: untouched until the next multiple of the interval (200 ms).
    proj.weights = proj.weights * 2.0
    net.run(99.5)
    np.testing.assert_allclose(sums(proj, 12), 10.0, atol=1e-9)
    net.run(0.5)
    np.testing.assert_allclose(sums(proj, 12), 5.0, atol=1e-9)


@pytest.mark.parametrize("dt", [0.1, None])
def test_normalisation_comes_after_the_potentiation_at_the_same_instant(dt):
    """Pre 0 arrives at 3 ms, the post neuron fires at exactly 10 ms = the normalisation time:
    the potentiation counts, then the sum is scaled (so the sum is exact and the proportion is
    (w0 + dw) : w1)."""
    rule = sf.STDP(tau_plus=20.0, tau_minus=20.0, a_plus=0.2, a_minus=0.0, w_min=0.0, w_max=10.0)
    net = sf.Network(dt=dt)
    pre = net.add_spike_source(times=[2.0], ids=[0], n=2)
    kick = net.add_spike_source(times=[9.0], ids=[0])
    post = net.add_population(1, sf.LIF(v_th=20.0, t_ref=0.0))
    proj = net.connect(pre, post, sf.FromArrays(pre=[0, 1], post=[0, 0]), weight=[0.5, 0.5], delay=1.0,
                       plasticity=rule, normalize=sf.Normalize(2.0, interval=10.0))
    net.connect(kick, post, sf.OneToOne(), weight=40.0, delay=1.0)
    rec = net.record_spikes(post)
    net.run(10.0)
    np.testing.assert_allclose(rec.times, [10.0])
    w0 = 0.5 + 0.2 * np.exp(-7.0 / 20.0)
    expected = np.array([w0, 0.5]) * 2.0 / (w0 + 0.5)
    np.testing.assert_allclose(proj.weights, expected, rtol=1e-12)


@pytest.mark.parametrize("dt", [0.1, None])
def test_weights_may_exceed_w_max_after_scaling_until_their_next_update(dt):
    """No clipping at normalisation; the next STDP update clips into [w_min, w_max]."""
    rule = sf.STDP(a_plus=0.1, a_minus=0.0, w_min=0.0, w_max=1.0)
    net = sf.Network(dt=dt)
    pre = net.add_spike_source(times=[19.0], ids=[0], n=2)
    kick = net.add_spike_source(times=[24.0], ids=[0])
    post = net.add_population(1, sf.LIF(v_th=20.0, t_ref=0.0))
    proj = net.connect(pre, post, sf.FromArrays(pre=[0, 1], post=[0, 0]), weight=[0.5, 0.5], delay=1.0,
                       plasticity=rule)
    net.connect(kick, post, sf.OneToOne(), weight=40.0, delay=1.0)
    net.run(10.0)
    proj.normalize(3.0)
    np.testing.assert_allclose(proj.weights, [1.5, 1.5])
    net.run(30.0)  # pre 0 arrives at 20, post fires at 25: synapse 0 potentiated -> clipped to w_max
    np.testing.assert_allclose(proj.weights, [1.0, 1.5])


@pytest.mark.parametrize("dt", [0.1, None])
def test_normalisation_with_learning_is_resumable_and_deterministic(dt):
    rule = sf.STDP(a_plus=0.02, a_minus=0.021, w_min=0.0, w_max=1.0)

    def build():
        net = sf.Network(dt=dt, seed=9)
        src = net.add_poisson(60, 40.0)
        post = net.add_population(10, sf.LIF(v_th=3.0, t_ref=2.0))
        proj = net.connect(src, post, sf.FixedInDegree(20), weight=sf.Uniform(0.1, 0.6), delay=1.0,
                           plasticity=rule, normalize=sf.Normalize(6.0, interval=50.0))
        rec = net.record_spikes(post)
        return net, proj, rec

    a, pa, ra = build()
    a.run(375.0)
    b, pb, rb = build()
    b.run(120.0)
    b.run(255.0)
    np.testing.assert_array_equal(pa.weights, pb.weights)
    np.testing.assert_array_equal(ra.times, rb.times)
    assert len(ra.times) > 20
    # The last normalisation was at 350 ms; STDP has moved the sums since, a little.
    c, pc, _ = build()
    c.run(350.0)
    np.testing.assert_allclose(sums(pc, 10), 6.0, atol=1e-9)


@pytest.mark.parametrize("dt", [0.1, None])
def test_reward_modulated_weights_are_integrated_before_normalising(dt):
    rule = sf.RewardSTDP(a_plus=1.0, a_minus=1.0, tau_c=200.0, tau_d=50.0, w_min=0.0, w_max=10.0)
    net = sf.Network(dt=dt, seed=2)
    src = net.add_poisson(20, 30.0)
    post = net.add_population(4, sf.LIF(v_th=2.0, t_ref=1.0))
    proj = net.connect(src, post, sf.AllToAll(), weight=0.5, delay=1.0, plasticity=rule,
                       normalize=sf.Normalize(4.0, interval=20.0))
    net.run(15.0)
    net.set_dopamine(proj, 1.0)
    net.run(5.0)
    np.testing.assert_allclose(sums(proj, 4), 4.0, atol=1e-9)
    net.run(7.0)
    proj.normalize(3.0)
    np.testing.assert_allclose(sums(proj, 4), 3.0, atol=1e-9)


def test_bad_normalisation_input_is_refused():
    net = sf.Network(dt=0.1)
    src = net.add_poisson(4, 1.0)
    post = net.add_population(2, sf.LIF())
    for bad in [0.0, -1.0, float("nan"), float("inf"), "x"]:
        with pytest.raises(sf.ParameterError, match="target_sum"):
            net.connect(src, post, sf.AllToAll(), plasticity=STILL, normalize=sf.Normalize(bad))
    for bad in [0.0, -5.0, float("nan")]:
        with pytest.raises(sf.ParameterError, match="interval"):
            net.connect(src, post, sf.AllToAll(), plasticity=STILL, normalize=sf.Normalize(1.0, interval=bad))
    with pytest.raises(sf.ParameterError, match="not a multiple of dt"):
        net.connect(src, post, sf.AllToAll(), plasticity=STILL, normalize=sf.Normalize(1.0, interval=0.25))
    with pytest.raises(sf.ParameterError, match="plastic"):
        net.connect(src, post, sf.AllToAll(), normalize=sf.Normalize(1.0, interval=10.0))
    with pytest.raises(TypeError, match="sf.Normalize"):
        net.connect(src, post, sf.AllToAll(), plasticity=STILL, normalize=78.0)
    # Refused connections leave nothing behind: the next one gets the next index.
    assert net.counters()["synapses"] == 0
    proj = net.connect(src, post, sf.AllToAll(), weight=0.5, plasticity=STILL)
    assert proj.index == 0 and len(net.projections) == 1
    with pytest.raises(sf.ParameterError, match="give target_sum"):
        proj.normalize()
    with pytest.raises(sf.ParameterError, match="target_sum"):
        proj.normalize(-2.0)
    with pytest.raises(sf.ParameterError, match="target_sum"):
        proj.normalize(float("nan"))


def test_counters_have_structural_fields_without_rewiring():
    net, proj, _ = random_net(0.1, rate=5.0)
    net.run(10.0)
    c = net.counters()
    assert c["pruned"] == 0 and c["created"] == 0
    (entry,) = c["projections"].values()
    assert entry["pruned"] == 0 and entry["created"] == 0
