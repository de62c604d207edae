"""Structural plasticity (sf.Rewiring): exact pruning times, creation statistics, bounded memory,
determinism, resumability, counters, errors."""
import numpy as np
import pytest
import spikeflow as sf

STILL = sf.STDP(a_plus=0.0, a_minus=0.0, w_min=0.0, w_max=1.0)  # plastic, but never learns


def pairs(proj):
    return sorted(zip(proj.pre.tolist(), proj.post.tolist()))


def two_synapses(dt, prune_after=10.0, spikes=((), ())):
    """Source 0 -> neurons 0 and 1 (weights 0.5), no learning, pruning below 0.2."""
    net = sf.Network(dt=dt)
    src = net.add_spike_source(times=list(spikes[0]), ids=list(spikes[1]), n=1)
    post = net.add_population(2, sf.LIF(v_th=100.0))
    proj = net.connect(src, post, sf.AllToAll(), weight=0.5, delay=1.0, plasticity=STILL,
                       rewiring=sf.Rewiring(prune_below=0.2, prune_after=prune_after))
    return net, proj


@pytest.mark.parametrize("dt", [0.1, None])
def test_a_synapse_held_below_the_bound_is_pruned_exactly_after_prune_after(dt):
    net, proj = two_synapses(dt)
    net.run(5.0)
    proj.weights = [0.1, 0.5]  # synapse 0 -> 0 below the bound from t = 5
    net.run(9.5)
    assert proj.n_synapses == 2 and net.counters()["pruned"] == 0
    net.run(0.5)  # t = 15 = 5 + prune_after
    assert proj.n_synapses == 1
    assert pairs(proj) == [(0, 1)]
    np.testing.assert_array_equal(proj.weights, [0.5])
    c = net.counters()
    assert c["pruned"] == 1 and c["created"] == 0
    assert list(c["projections"].values())[0]["pruned"] == 1


@pytest.mark.parametrize("dt", [0.1, None])
def test_lifting_the_weight_restarts_the_clock(dt):
    net, proj = two_synapses(dt)
    proj.weights = [0.1, 0.5]  # below from 0
    net.run(6.0)
    proj.weights = [0.2, 0.5]  # at the bound: not below (strictly below is required)
    net.run(2.0)
    proj.weights = [0.15, 0.5]  # below again from 8
    net.run(9.5)  # t = 17.5 > 0 + 10, but the clock restarted at 8
    assert proj.n_synapses == 2
    net.run(0.5)
    assert proj.n_synapses == 1


@pytest.mark.parametrize("dt", [0.1, None])
def test_initial_weights_below_the_bound_count_from_time_zero(dt):
    net = sf.Network(dt=dt)
    src = net.add_spike_source(times=[], ids=[], n=3)
    post = net.add_population(2, sf.LIF())
    proj = net.connect(src, post, sf.AllToAll(), weight=sf.Uniform(0.0, 1.0), delay=1.0, plasticity=STILL,
                       rewiring=sf.Rewiring(prune_below=0.5, prune_after=20.0))
    w0 = proj.weights.copy()
    kept = sorted(p for p, w in zip(pairs_unsorted(proj), w0) if w >= 0.5)
    net.run(19.9 if dt else 19.999)
    assert proj.n_synapses == 6
    net.run(0.1 if dt else 0.001)
    assert sorted(pairs_unsorted(proj)) == kept
    assert net.counters()["pruned"] == 6 - len(kept)


def pairs_unsorted(proj):
    return list(zip(proj.pre.tolist(), proj.post.tolist()))


@pytest.mark.parametrize("dt", [0.1, None])
def test_depression_below_the_bound_starts_the_clock_at_the_arrival(dt):
    """Post fires at 10, pre arrives at 12: depression takes 0.25 below 0.2 at 12, so the
    synapse goes at 12 + 20 = 32 and not before."""
    rule = sf.STDP(tau_plus=20.0, tau_minus=20.0, a_plus=0.0, a_minus=0.1, w_min=0.0, w_max=1.0)
    net = sf.Network(dt=dt)
    pre = net.add_spike_source(times=[11.0], ids=[0])
    kick = net.add_spike_source(times=[9.0], ids=[0])
    post = net.add_population(1, sf.LIF(v_th=20.0, t_ref=0.0))
    proj = net.connect(pre, post, sf.OneToOne(), weight=0.25, delay=1.0, plasticity=rule,
                       rewiring=sf.Rewiring(prune_below=0.2, prune_after=20.0))
    net.connect(kick, post, sf.OneToOne(), weight=40.0, delay=1.0)
    net.run(12.0)
    assert proj.weights[0] == pytest.approx(0.25 - 0.1 * np.exp(-2.0 / 20.0))
    net.run(19.5)
    assert proj.n_synapses == 1
    net.run(0.5)
    assert proj.n_synapses == 0 and net.counters()["pruned"] == 1


@pytest.mark.parametrize("dt", [0.1, None])
def test_a_spike_arriving_at_the_pruning_time_is_not_transmitted(dt):
    # Below from 5, pruned at 15; the source fires at 14 and 20 (arrivals at 15 and 21).
    net, proj = two_synapses(dt, spikes=([14.0, 20.0], [0, 0]))
    net.run(5.0)
    proj.weights = [0.1, 0.5]
    net.run(20.0)
    c = net.counters()
    assert c["synaptic_events"] == 2  # one synapse left at each arrival
    assert c["spikes"] == 2


@pytest.mark.parametrize("dt", [0.1, None])
def test_a_projection_can_start_empty_and_grow(dt):
    net = sf.Network(dt=dt, seed=5)
    src = net.add_spike_source(times=[500.0, 501.0], ids=[0, 0])
    post = net.add_population(1, sf.LIF(v_th=100.0))
    proj = net.connect(src, post, sf.FromArrays(pre=np.array([], int), post=np.array([], int)), weight=0.5,
                       delay=1.0, plasticity=STILL,
                       rewiring=sf.Rewiring(prune_below=0.0, create_rate=50.0, new_weight=0.3,
                                            max_synapses_per_neuron=1))
    assert proj.n_synapses == 0
    net.run(400.0)  # P(no creation in 400 ms at 50 Hz) = e^-20
    assert proj.n_synapses == 1 and pairs(proj) == [(0, 0)]
    np.testing.assert_array_equal(proj.weights, [0.3])
    np.testing.assert_allclose(proj.delays, [1.0])
    net.run(200.0)
    c = net.counters()
    assert c["created"] == 1 and c["synaptic_events"] == 2  # both spikes used the new synapse


@pytest.mark.parametrize("dt", [0.1, None])
def test_creation_rate_matches_a_poisson_process(dt):
    n_pre, n_post, rate, t_ms = 300, 40, 2.0, 10_000.0
    net = sf.Network(dt=dt, seed=11)
    src = net.add_poisson(n_pre, 0.0)
    post = net.add_population(n_post, sf.LIF())
    proj = net.connect(src, post, sf.FixedInDegree(2, allow_multapses=False), weight=0.5, delay=1.0, plasticity=STILL,
                       rewiring=sf.Rewiring(prune_below=0.0, create_rate=rate, new_weight=0.5,
                                            max_synapses_per_neuron=200))
    net.run(t_ms)
    expected = n_post * rate * t_ms / 1000.0  # 800, SD ~ 28
    created = net.counters()["created"]
    assert abs(created - expected) < 4 * np.sqrt(expected), created
    assert proj.n_synapses == 2 * n_post + created
    # No multapses; every neuron got some, at similar rates.
    p = pairs(proj)
    assert len(set(p)) == len(p)
    per_post = np.bincount(proj.post, minlength=n_post) - 2
    assert per_post.min() > 0
    lam = rate * t_ms / 1000.0
    assert abs(per_post.var() - lam) < 0.6 * lam  # Poisson: variance = mean


@pytest.mark.parametrize("dt", [0.1, None])
def test_memory_is_bounded_and_creation_stops_at_capacity(dt):
    net = sf.Network(dt=dt, seed=3)
    src = net.add_poisson(8, 0.0)
    post = net.add_population(5, sf.LIF())
    proj = net.connect(src, post, sf.FixedInDegree(1), weight=0.5, delay=1.0, plasticity=STILL,
                       rewiring=sf.Rewiring(prune_below=0.0, create_rate=100.0, new_weight=0.5,
                                            max_synapses_per_neuron=3))
    bytes0 = net.counters()["synapse_bytes"]
    seen = []
    for _ in range(10):
        net.run(100.0)
        seen.append(proj.n_synapses)
        assert net.counters()["synapse_bytes"] == bytes0
        assert np.bincount(proj.post, minlength=5).max() <= 3
    assert seen[-1] == 15 and net.counters()["created"] == 10
    assert seen == sorted(seen)


@pytest.mark.parametrize("dt", [0.1, None])
def test_recurrent_rewiring_makes_no_autapses(dt):
    net = sf.Network(dt=dt, seed=8)
    pop = net.add_population(6, sf.LIF(v_th=100.0))
    proj = net.connect(pop, pop, sf.FixedInDegree(1, allow_autapses=False), weight=0.5, delay=1.0, plasticity=STILL,
                       rewiring=sf.Rewiring(prune_below=0.0, create_rate=200.0, new_weight=0.5,
                                            max_synapses_per_neuron=5))
    net.run(500.0)
    p = pairs(proj)
    assert len(p) == 30 and len(set(p)) == 30
    assert all(a != b for a, b in p)


def learning_net(dt, seed=21):
    net = sf.Network(dt=dt, seed=seed)
    src = net.add_poisson(80, 30.0)
    post = net.add_population(12, sf.LIF(v_th=3.0, t_ref=2.0))
    rule = sf.STDP(a_plus=0.03, a_minus=0.036, w_min=0.0, w_max=1.0)
    proj = net.connect(src, post, sf.FixedInDegree(15), weight=sf.Uniform(0.1, 0.6), delay=1.5,
                       plasticity=rule, normalize=sf.Normalize(5.0, interval=100.0),
                       rewiring=sf.Rewiring(prune_below=0.15, prune_after=40.0, create_rate=4.0,
                                            new_weight=0.3, max_synapses_per_neuron=25))
    rec = net.record_spikes(post)
    return net, proj, rec


def snapshot(net, proj, rec):
    c = net.counters()
    return (proj.pre.tolist(), proj.post.tolist(), proj.weights.tolist(), rec.times.tolist(),
            rec.ids.tolist(), c["pruned"], c["created"], c["synaptic_events"], c["synapse_bytes"])


@pytest.mark.parametrize("dt", [0.1, None])
def test_rewiring_with_stdp_is_deterministic_and_resumable(dt):
    a = learning_net(dt)
    a[0].run(1500.0)
    b = learning_net(dt)
    b[0].run(600.0)
    b[0].run(333.0)
    b[0].run(567.0)
    sa, sb = snapshot(*a), snapshot(*b)
    assert sa == sb
    assert sa[5] > 5 and sa[6] > 5, (sa[5], sa[6])  # something was pruned and created
    assert len(sa[3]) > 50
    other = learning_net(dt, seed=22)
    other[0].run(1500.0)
    assert snapshot(*other)[:2] != sa[:2]


@pytest.mark.parametrize("dt", [0.1, None])
def test_save_load_continue_equals_an_uninterrupted_run(dt, tmp_path):
    a = learning_net(dt)
    a[0].run(1000.0)
    b = learning_net(dt)
    b[0].run(450.0)
    b[0].save(tmp_path / "rewiring.sfck")
    c = sf.load(tmp_path / "rewiring.sfck")
    c.run(550.0)
    proj = c.projections[0]
    sa, sc = snapshot(*a), snapshot(c, proj, c.recorders[0])
    assert sa == sc
    proj.normalize()  # the connect-time target came back too
    np.testing.assert_allclose(np.bincount(proj.post, weights=proj.weights), 5.0, atol=1e-9)


def test_rewiring_structure_survives_reset_and_weights_can_be_written():
    net, proj, _ = learning_net(0.1)
    net.run(800.0)
    structure = pairs(proj)
    n = proj.n_synapses
    net.reset()
    assert pairs(proj) == structure and net.time == 0.0
    proj.weights = np.full(n, 0.5)
    np.testing.assert_array_equal(proj.weights, 0.5)
    with pytest.raises(sf.ParameterError):
        proj.weights = np.full(n + 1, 0.5)
    net.run(200.0)
    assert net.counters()["created"] > 0


def test_bad_rewiring_input_is_refused():
    net = sf.Network(dt=0.1)
    src = net.add_poisson(5, 1.0)
    post = net.add_population(3, sf.LIF())

    def connect(rewiring, plasticity=STILL, **kw):
        kw.setdefault("delay", 1.0)
        return net.connect(src, post, sf.AllToAll(), weight=0.5, plasticity=plasticity, rewiring=rewiring, **kw)

    with pytest.raises(sf.ParameterError, match="plastic"):
        connect(sf.Rewiring(), plasticity=None)
    with pytest.raises(sf.ConnectivityError, match="one delay"):
        connect(sf.Rewiring(), delay=sf.Uniform(1.0, 3.0))
    with pytest.raises(sf.ParameterError, match="RewardSTDP"):
        connect(sf.Rewiring(), plasticity=sf.RewardSTDP(w_max=1.0))
    with pytest.raises(sf.ParameterError, match="prune_below"):
        connect(sf.Rewiring(prune_below=float("nan")))
    for bad in [0.0, -3.0, float("inf")]:
        with pytest.raises(sf.ParameterError, match="prune_after"):
            connect(sf.Rewiring(prune_after=bad))
    for bad in [-1.0, float("nan")]:
        with pytest.raises(sf.ParameterError, match="create_rate"):
            connect(sf.Rewiring(create_rate=bad))
    with pytest.raises(sf.ParameterError, match="new_weight"):
        connect(sf.Rewiring(new_weight=2.0))
    with pytest.raises(sf.ParameterError, match="max_synapses_per_neuron"):
        connect(sf.Rewiring(max_synapses_per_neuron=4))  # in-degree is 5
    with pytest.raises(sf.ParameterError, match="max_synapses_per_neuron"):
        connect(sf.Rewiring(max_synapses_per_neuron=0))
    with pytest.raises(sf.ParameterError, match="max_synapses_per_neuron"):
        connect(sf.Rewiring(max_synapses_per_neuron=2.5))
    with pytest.raises(TypeError, match="sf.Rewiring"):
        connect({"prune_below": 0.1})
    # Nothing was added by the refused calls; a good one gets index 0.
    proj = connect(sf.Rewiring(prune_below=0.1, create_rate=1.0, new_weight=0.5))
    assert proj.index == 0 and len(net.projections) == 1
    assert net.counters()["synapses"] == 15
