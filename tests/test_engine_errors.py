"""Bad input gives a clear exception (of the type a Python user expects) before anything runs."""
import numpy as np
import pytest
import spikeflow as sf


@pytest.fixture
def net():
    n = sf.Network(dt=0.1, seed=1)
    return n


def pops(net):
    a = net.add_population(10, sf.LIF())
    b = net.add_population(5, sf.LIF())
    return a, b


@pytest.mark.parametrize("kwargs, match", [
    ({"tau_m": float("nan")}, "tau_m must be finite"),
    ({"tau_m": -1.0}, "tau_m must be > 0"),
    ({"t_ref": -0.5}, "t_ref must be >= 0"),
    ({"c_m": 0.0}, "c_m must be > 0"),
    ({"v_th": 10.0, "v_reset": 10.0}, "v_reset .* must be below v_th"),
    ({"i_e": float("inf")}, "i_e must be finite"),
    ({"t_ref": 0.15}, "not a multiple of dt"),
    ({"tau_m": np.ones(3)}, "3 values but the population has 10"),
    ({"synapse": "alpha"}, "synapse must be 'delta', 'exp' or 'cond_exp'"),
    ({"v_init": (5.0, 1.0)}, "low <= high"),
])
def test_bad_neuron_parameters(net, kwargs, match):
    with pytest.raises(sf.ParameterError, match=match):
        net.add_population(10, sf.LIF(**kwargs))


def test_bad_population_sizes(net):
    with pytest.raises(sf.ParameterError, match="size must be >= 1"):
        net.add_population(0, sf.LIF())
    with pytest.raises(sf.ParameterError, match="size must be an integer"):
        net.add_population(2.5, sf.LIF())
    with pytest.raises(sf.MemoryLimitError, match="would need about .* GiB"):
        net.add_population(4_000_000_000, sf.LIF())
    with pytest.raises(TypeError, match="sf.LIF"):
        net.add_population(3, "lif")


@pytest.mark.parametrize("weight, match", [
    (float("nan"), "weight must be finite"),
    (float("inf"), "weight must be finite"),
    (np.array([1.0, np.nan] * 25), r"weight\[1\] must be finite"),
    (sf.Uniform(2.0, 1.0), "low <= high"),
    (sf.Normal(0.0, -1.0), "std >= 0"),
])
def test_bad_weights(net, weight, match):
    a, b = pops(net)
    with pytest.raises(sf.ParameterError, match=match):
        net.connect(a, b, sf.AllToAll(), weight=weight, delay=1.0)


@pytest.mark.parametrize("delay, match", [
    (-1.0, "shorter than one step"),
    (0.0, "shorter than one step"),
    (0.05, "not a multiple of dt"),
    (0.15, "not a multiple of dt"),
    (float("nan"), "delay must be finite"),
    (sf.Normal(1.0, 2.0), "shorter than one step"),
])
def test_bad_delays_on_the_grid(net, delay, match):
    a, b = pops(net)
    with pytest.raises(sf.ParameterError, match=match):
        net.connect(a, b, sf.AllToAll(), weight=1.0, delay=delay)


def test_bad_delays_in_continuous_time():
    net = sf.Network(dt=None)
    a, b = pops(net)
    for d in (0.0, -2.0):
        with pytest.raises(sf.ParameterError, match="delay must be > 0"):
            net.connect(a, b, sf.OneToOne() if False else sf.AllToAll(), weight=1.0, delay=d)


def test_bad_connectivity(net):
    a, b = pops(net)
    with pytest.raises(sf.ConnectivityError, match="OneToOne needs populations of equal size"):
        net.connect(a, b, sf.OneToOne())
    with pytest.raises(sf.ConnectivityError, match="without multapses needs at least 20"):
        net.connect(b, a, sf.FixedInDegree(20, allow_multapses=False))
    with pytest.raises(sf.ConnectivityError, match="lower k or allow multapses"):
        net.connect(a, a, sf.FixedOutDegree(10, allow_autapses=False, allow_multapses=False))
    with pytest.raises(sf.ParameterError, match=r"p must be in \[0, 1\]"):
        net.connect(a, b, sf.FixedProbability(1.5))
    with pytest.raises(sf.ConnectivityError, match="per-synapse weight array needs AllToAll"):
        net.connect(a, b, sf.FixedInDegree(2), weight=np.ones(10))
    with pytest.raises(sf.ConnectivityError, match="weight array has 3 values but the connector makes 50"):
        net.connect(a, b, sf.AllToAll(), weight=np.ones(3))
    with pytest.raises(sf.ParameterError, match=r"weight matrix has shape \(5, 10\)"):
        net.connect(a, b, sf.AllToAll(), weight=np.ones((5, 10)))


def test_out_of_range_and_mismatched_explicit_synapses(net):
    a, b = pops(net)
    with pytest.raises(sf.OutOfRangeError, match=r"post\[1\] = 7 is out of range .* 5 neurons"):
        net.connect(a, b, sf.FromArrays(pre=[0, 1], post=[0, 7]))
    with pytest.raises(sf.OutOfRangeError, match="negative index"):
        net.connect(a, b, sf.FromArrays(pre=[0, -1], post=[0, 1]))
    with pytest.raises(sf.ConnectivityError, match="pre has 2 entries but post has 3"):
        net.connect(a, b, sf.FromArrays(pre=[0, 1], post=[0, 1, 2]))
    with pytest.raises(sf.ConnectivityError, match="weight array has 1 values|weight array has"):
        net.connect(a, b, sf.FromArrays(pre=[0, 1], post=[0, 1], weight=[1.0, 2.0, 3.0]))


def test_connecting_populations_of_different_networks():
    n1, n2 = sf.Network(dt=0.1), sf.Network(dt=0.1)
    a = n1.add_population(3, sf.LIF())
    b = n2.add_population(3, sf.LIF())
    with pytest.raises(sf.ConnectivityError, match="belongs to a different network"):
        n1.connect(a, b, sf.OneToOne())


def test_sources_cannot_receive_synapses(net):
    a, _ = pops(net)
    src = net.add_poisson(10, 5.0)
    with pytest.raises(sf.ConnectivityError, match="is a source and cannot receive synapses"):
        net.connect(a, src, sf.OneToOne())


def test_bad_spike_sources_and_poisson(net):
    with pytest.raises(sf.ParameterError, match="2 times but 1 ids"):
        net.add_spike_source(times=[1.0, 2.0], ids=[0])
    with pytest.raises(sf.ParameterError, match=r"times\[0\] = -1 must be finite and >= 0"):
        net.add_spike_source(times=[-1.0], ids=[0])
    with pytest.raises(sf.ParameterError, match="must be finite"):
        net.add_spike_source(times=[np.nan], ids=[0])
    with pytest.raises(sf.OutOfRangeError, match=r"ids\[0\] = 4 is out of range for 3 sources"):
        net.add_spike_source(times=[1.0], ids=[4], n=3)
    with pytest.raises(sf.ParameterError, match="Poisson rate must be finite and >= 0"):
        net.add_poisson(3, -5.0)
    with pytest.raises(sf.ParameterError, match="2 values but the population has 3"):
        net.add_poisson(3, [1.0, 2.0])


def test_bad_run_durations_and_dt():
    with pytest.raises(sf.ParameterError, match="dt must be a finite number"):
        sf.Network(dt=0.0)
    with pytest.raises(sf.ParameterError, match="dt must be a finite number"):
        sf.Network(dt=float("nan"))
    with pytest.raises(sf.ParameterError, match="seed must be a non-negative integer"):
        sf.Network(seed=-1)
    net = sf.Network(dt=0.1)
    net.add_population(2, sf.LIF())
    for d, m in ((-1.0, "duration must be finite and >= 0"), (float("inf"), "finite"),
                 (0.25, "not a multiple of dt")):
        with pytest.raises(sf.ParameterError, match=m):
            net.run(d)
    assert net.time == 0.0


def test_structure_is_frozen_after_running_until_reset(net):
    a, b = pops(net)
    net.run(1.0)
    with pytest.raises(sf.StateError, match="call reset"):
        net.connect(a, b, sf.AllToAll())
    with pytest.raises(sf.StateError, match="after the network has run"):
        net.add_population(3, sf.LIF())
    net.reset()
    net.connect(a, b, sf.AllToAll())  # allowed again
    net.run(1.0)


def test_bad_recorders_and_currents(net):
    a, _ = pops(net)
    src = net.add_poisson(3, 1.0)
    with pytest.raises(sf.ParameterError, match="has no membrane potential"):
        net.record_voltage(src, [1.0])
    with pytest.raises(sf.ParameterError, match="sorted in increasing order"):
        net.record_voltage(a, [2.0, 1.0])
    with pytest.raises(sf.OutOfRangeError, match="neuron 12 is out of range"):
        net.record_voltage(a, [1.0], ids=[12])
    with pytest.raises(sf.ParameterError, match="strictly increasing"):
        net.add_current(a, times=[2.0, 1.0], amplitudes=[1.0, 2.0])
    with pytest.raises(sf.ParameterError, match="amplitude= or both"):
        net.add_current(a)


def test_weights_setter_validates(net):
    a, b = pops(net)
    proj = net.connect(a, b, sf.AllToAll(), weight=1.0)
    with pytest.raises(sf.ParameterError, match="3 values for a projection of 50 synapses"):
        proj.weights = np.ones(3)
    with pytest.raises(sf.ParameterError, match="must be finite"):
        proj.weights = np.full(50, np.nan)
    proj.weights = np.arange(50.0)
    np.testing.assert_array_equal(proj.weights, np.arange(50.0))


def test_batch_rejects_bad_samples(net):
    a, _ = pops(net)
    src = net.add_spike_source(times=[], ids=[], n=4)
    net.connect(src, a, sf.AllToAll())
    with pytest.raises(sf.ParameterError, match="sample 1: spike source: ids"):
        net.run_batch(src, [([1.0], [0]), ([1.0], [9])], 10.0)
    with pytest.raises(sf.ParameterError, match="not a spike source"):
        net.run_batch(a, [([1.0], [0])], 10.0)
    with pytest.raises(sf.ParameterError, match=r"\(times, ids\) pair"):
        net.run_batch(src, [1.0], 10.0)


def test_a_panic_never_reaches_python_as_an_abort():
    # Every engine entry point converts Rust panics; an error surfaces as SpikeflowError.
    assert issubclass(sf.ParameterError, sf.SpikeflowError) and issubclass(sf.ParameterError, ValueError)
    assert issubclass(sf.OutOfRangeError, IndexError) and issubclass(sf.MemoryLimitError, MemoryError)
