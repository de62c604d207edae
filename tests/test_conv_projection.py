"""Shared-weight convolution and pooling projections (sf.Conv2d, sf.Pool2d).

References are independent of the engine: a loop-over-taps numpy convolution (and torch's
conv2d / pooling where torch is installed), the explicit FromArrays projection with the same
connectivity, and an event-by-event numpy implementation of STDP on a shared kernel.
"""
from __future__ import annotations

import math

import numpy as np
import pytest
import spikeflow as sf
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

QUIET = sf.IF(v_th=1e9, v_reset=0.0, t_ref=0.0)  # integrates its input and never fires

# ----- independent references -----------------------------------------------------------


def geometry(in_shape, co, k, s=1, p=0, d=1, g=1):
    """Output shape of torch's conv2d."""
    c, h, w = in_shape
    k, s, p, d = [(v, v) if np.isscalar(v) else tuple(v) for v in (k, s, p, d)]
    oh = (h + 2 * p[0] - d[0] * (k[0] - 1) - 1) // s[0] + 1
    ow = (w + 2 * p[1] - d[1] * (k[1] - 1) - 1) // s[1] + 1
    return (co, oh, ow), k, s, p, d


def index_map(in_shape, co, k, s=1, p=0, d=1, g=1):
    """(pre, post, kernel element) of every synapse, by the definition (channel-major indices)."""
    c, h, w = in_shape
    (co, oh, ow), k, s, p, d = geometry(in_shape, co, k, s, p, d, g)
    cin_g, cout_g = c // g, co // g
    out = []
    for o in range(co):
        for oy in range(oh):
            for ox in range(ow):
                for cl in range(cin_g):
                    for ky in range(k[0]):
                        for kx in range(k[1]):
                            iy = oy * s[0] - p[0] + ky * d[0]
                            ix = ox * s[1] - p[1] + kx * d[1]
                            if 0 <= iy < h and 0 <= ix < w:
                                ci = (o // cout_g) * cin_g + cl
                                kidx = ((o * cin_g + cl) * k[0] + ky) * k[1] + kx
                                out.append((ci * h * w + iy * w + ix, o * oh * ow + oy * ow + ox, kidx))
    return np.array(sorted(out), dtype=np.int64).reshape(-1, 3)


def numpy_conv(image, kernel, s=1, p=0, d=1, g=1):
    """conv2d of one (C, H, W) image as sums over the index map."""
    c, h, w = image.shape
    co = kernel.shape[0]
    m = index_map((c, h, w), co, kernel.shape[2:], s, p, d, g)
    (co, oh, ow), *_ = geometry((c, h, w), co, kernel.shape[2:], s, p, d, g)
    out = np.zeros(co * oh * ow)
    np.add.at(out, m[:, 1], image.ravel()[m[:, 0]] * kernel.ravel()[m[:, 2]])
    return out


def f32(x):
    """Values the engine stores exactly (it keeps static weights as float32)."""
    return np.asarray(x, dtype=np.float32).astype(np.float64)


# ----- fan-out ----------------------------------------------------------------------------

CASES = [
    dict(in_shape=(2, 7, 6), co=3, k=3),
    dict(in_shape=(2, 7, 6), co=4, k=3, p=1),
    dict(in_shape=(1, 9, 8), co=2, k=(3, 2), s=2, p=(1, 0)),
    dict(in_shape=(3, 8, 8), co=2, k=3, s=(2, 1), p=2, d=2),
    dict(in_shape=(4, 6, 6), co=6, k=3, p=1, g=2),
    dict(in_shape=(3, 5, 5), co=3, k=5, p=2, g=3),
    dict(in_shape=(1, 4, 4), co=1, k=4),
]


def _image_network(case, image, kernel, dt, explicit=False):
    c, h, w = case["in_shape"]
    conn = sf.Conv2d(case["in_shape"], case["co"], case["k"], stride=case.get("s", 1), padding=case.get("p", 0),
                     dilation=case.get("d", 1), groups=case.get("g", 1))
    net = sf.Network(dt=dt)
    counts = image.ravel().astype(int)
    ids = np.repeat(np.arange(c * h * w), counts)
    src = net.add_spike_source(np.full(ids.size, 1.0), ids, n=c * h * w)
    post = net.add_population(int(np.prod(conn.out_shape)), QUIET)
    if explicit:
        m = index_map(case["in_shape"], case["co"], case["k"], case.get("s", 1), case.get("p", 0),
                      case.get("d", 1), case.get("g", 1))
        proj = net.connect(src, post, sf.FromArrays(m[:, 0], m[:, 1]), weight=kernel.ravel()[m[:, 2]], delay=1.0)
    else:
        proj = net.connect(src, post, conn, weight=kernel, delay=1.0)
    return net, post, proj, conn


@pytest.mark.parametrize("case", CASES)
@pytest.mark.parametrize("dt", [0.5, None])
def test_fan_out_is_the_convolution_of_the_spike_image(case, dt):
    rng = np.random.default_rng(hash(str(case)) % 2**32)
    conn = sf.Conv2d(case["in_shape"], case["co"], case["k"], stride=case.get("s", 1), padding=case.get("p", 0),
                     dilation=case.get("d", 1), groups=case.get("g", 1))
    kernel = f32(rng.normal(size=conn.kernel_shape))
    image = (rng.random(case["in_shape"]) < 0.4).astype(float)
    image[0, 0, 0] = 2.0  # a source that fires twice at once
    net, post, proj, conn = _image_network(case, image, kernel, dt)
    net.run(3.0)
    expect = numpy_conv(image, kernel, case.get("s", 1), case.get("p", 0), case.get("d", 1), case.get("g", 1))
    np.testing.assert_allclose(post.membrane(), expect, rtol=0, atol=1e-9)
    # storage order lists the synapses of the definition
    m = index_map(case["in_shape"], case["co"], case["k"], case.get("s", 1), case.get("p", 0), case.get("d", 1),
                  case.get("g", 1))
    got = np.array(sorted(zip(proj.pre, proj.post)), dtype=np.int64).reshape(-1, 2)
    assert np.array_equal(got, m[:, :2])
    assert proj.n_synapses == len(m) == len(proj.delays)
    assert proj.weights.shape == conn.kernel_shape == proj.kernel_shape
    assert np.array_equal(proj.weights, kernel)


def test_fan_out_equals_torch_conv2d():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(5)
    for case in CASES:
        conn = sf.Conv2d(case["in_shape"], case["co"], case["k"], stride=case.get("s", 1),
                         padding=case.get("p", 0), dilation=case.get("d", 1), groups=case.get("g", 1))
        kernel = f32(rng.normal(size=conn.kernel_shape))
        image = (rng.random(case["in_shape"]) < 0.5).astype(float)
        net, post, _, _ = _image_network(case, image, kernel, 1.0)
        net.run(2.0)
        ref = torch.nn.functional.conv2d(torch.tensor(image)[None], torch.tensor(kernel), stride=case.get("s", 1),
                                         padding=case.get("p", 0), dilation=case.get("d", 1),
                                         groups=case.get("g", 1))[0]
        assert tuple(ref.shape) == conn.out_shape
        np.testing.assert_allclose(post.membrane(), ref.numpy().ravel(), rtol=0, atol=1e-9)


# ----- counters, memory, both time modes ---------------------------------------------------


@pytest.mark.parametrize("dt", [1.0, None])
def test_counters_and_spikes_equal_the_explicit_projection(dt):
    case = dict(in_shape=(2, 10, 10), co=4, k=3, s=1, p=1)
    rng = np.random.default_rng(1)
    kernel = f32(rng.normal(1.0, 1.0, size=(4, 2, 3, 3)))
    results = []
    for explicit in (False, True):
        net = sf.Network(dt=dt, seed=3)
        src = net.add_poisson(200, 300.0)
        post = net.add_population(400, sf.LIF(tau_m=10.0, v_th=4.0, t_ref=1.0))
        if explicit:
            m = index_map(**case)
            net.connect(src, post, sf.FromArrays(m[:, 0], m[:, 1]), weight=kernel.ravel()[m[:, 2]], delay=1.0)
        else:
            net.connect(src, post, sf.Conv2d((2, 10, 10), 4, 3, padding=1), weight=kernel, delay=1.0)
        net.connect(post, post, sf.FixedInDegree(5), weight=-1.0, delay=2.0)
        rec = net.record_spikes(post)
        net.run(50.0)
        c = net.counters()
        results.append((rec.times.copy(), rec.ids.copy(), c))
    (t0, i0, c0), (t1, i1, c1) = results
    assert t0.size > 100
    assert np.array_equal(t0, t1) and np.array_equal(i0, i1)
    for key in ("spikes", "synaptic_events", "deliveries", "synapses"):
        assert c0[key] == c1[key], key
    conv_proj = next(iter(c0["projections"].values()))
    dense_proj = next(iter(c1["projections"].values()))
    assert conv_proj["synaptic_events"] == dense_proj["synaptic_events"] > 0
    # kernel (72 float32) + geometry + one row pointer per source, against 8 bytes per synapse
    assert conv_proj["bytes_per_synapse"] < 0.2 * dense_proj["bytes_per_synapse"]


def test_synaptic_events_are_spikes_times_out_degree():
    conn = sf.Conv2d((1, 6, 6), 2, 3, stride=2)  # rows/columns 5 have no targets
    net = sf.Network(dt=1.0)
    ids = np.arange(36)
    src = net.add_spike_source(np.ones(36), ids, n=36)
    post = net.add_population(int(np.prod(conn.out_shape)), QUIET)
    proj = net.connect(src, post, conn, weight=0.5)
    net.run(5.0)
    c = net.counters()
    assert c["synaptic_events"] == proj.n_synapses == len(index_map((1, 6, 6), 2, 3, 2))
    fan = np.bincount(proj.pre, minlength=36)
    assert (fan == 0).sum() == 11  # the last row and column reach nothing ...
    assert c["deliveries"] == (fan > 0).sum()  # ... and queue nothing


# ----- pooling ------------------------------------------------------------------------------


def _frames_network(frames, conn, weight, dt, model):
    """Spike source replaying binary frames [T, C, H, W] (frame t at t*dt) into a pooling."""
    steps = frames.shape[0]
    flat = frames.reshape(steps, -1)
    t_idx, ids = np.nonzero(flat)
    reps = flat[t_idx, ids].astype(int)
    net = sf.Network(dt=dt)
    src = net.add_spike_source(np.repeat(t_idx, reps) * (dt or 1.0), np.repeat(ids, reps), n=flat.shape[1])
    post = net.add_population(int(np.prod(conn.out_shape)), model)
    net.connect(src, post, conn, weight=weight, delay=dt or 1.0)
    return net, post


@pytest.mark.parametrize("dt", [1.0, None])
def test_max_pooling_of_binary_spikes_is_torch_max_pool2d(dt):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(2)
    frames = (rng.random((12, 3, 9, 8)) < 0.3).astype(np.float32)
    for k, s, p in [(2, 2, 0), (3, 2, 1), ((2, 3), (1, 2), (1, 1))]:
        conn = sf.Pool2d((3, 9, 8), k, stride=s, padding=p, mode="max")
        net, post = _frames_network(frames, conn, 1.0, dt, sf.IF(v_th=0.5, v_reset=0.0, reset="value", t_ref=0.0))
        rec = net.record_spikes(post)
        net.run(14.0)
        got = np.zeros((12, post.size))
        step = np.round(rec.times).astype(int) - 1
        np.add.at(got, (step, rec.ids), 1.0)
        ref = torch.nn.functional.max_pool2d(torch.tensor(frames), k, s, p).reshape(12, -1).numpy()
        assert ref.sum() > 20
        assert np.array_equal(got, ref)


def test_max_pooling_delivers_the_weight_once_per_instant():
    conn = sf.Pool2d((1, 4, 4), 2, mode="max")
    frame = np.zeros((2, 1, 4, 4))
    frame[0, 0, 0, :2] = [2, 3]  # window 0: two sources, 2 and 3 spikes at the same instant
    frame[0, 0, 2:, 2:] = 1      # window 3: four single spikes ...
    frame[1, 0, 3, 3] = 1        # ... and one more at the next instant
    for dt in (1.0, None):
        net, post = _frames_network(frame, conn, 0.25, dt, QUIET)
        net.run(4.0)
        np.testing.assert_allclose(post.membrane(), [0.25, 0.0, 0.0, 0.5])
        assert net.counters()["synaptic_events"] == 10  # counted as the explicit projection would
    # max pooling of a Poisson drive (counts > 1 per step): still once per step
    net = sf.Network(dt=1.0)
    src = net.add_poisson(16, 5000.0)
    post = net.add_population(4, QUIET)
    net.connect(src, post, conn, weight=0.5)
    net.run(10.0)
    np.testing.assert_allclose(post.membrane(), np.full(4, 0.5 * 9))


def test_avg_pooling_is_torch_avg_pool2d():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(4)
    frame = (rng.random((1, 2, 8, 7)) < 0.5).astype(np.float64)
    for k, s, p, div in [(2, 2, 0, None), (3, 1, 1, None), (3, 2, 1, 5.0)]:
        conn = sf.Pool2d((2, 8, 7), k, stride=s, padding=p, divisor=div)
        net, post = _frames_network(frame, conn, 1.0, 1.0, QUIET)
        net.run(3.0)
        ref = torch.nn.functional.avg_pool2d(torch.tensor(frame), k, s, p, count_include_pad=True,
                                             divisor_override=None if div is None else int(div))
        np.testing.assert_allclose(post.membrane(), ref.numpy().ravel(), rtol=0, atol=1e-7)


# ----- equivalence with the explicit projection (hypothesis) -------------------------------


@st.composite
def conv_cases(draw):
    g = draw(st.integers(1, 2))
    c, co = g * draw(st.integers(1, 2)), g * draw(st.integers(1, 2))
    h, w = draw(st.integers(2, 7)), draw(st.integers(2, 7))
    k = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    s = (draw(st.integers(1, 2)), draw(st.integers(1, 2)))
    p = (draw(st.integers(0, 2)), draw(st.integers(0, 2)))
    d = (draw(st.integers(1, 2)), draw(st.integers(1, 2)))
    if any(d[i] * (k[i] - 1) + 1 > (h, w)[i] + 2 * p[i] for i in range(2)):
        k = (1, 1)
    return dict(in_shape=(c, h, w), co=co, k=k, s=s, p=p, d=d, g=g)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(case=conv_cases(), seed=st.integers(0, 2**31), continuous=st.booleans())
def test_random_conv_networks_spike_like_their_explicit_twin(case, seed, continuous):
    rng = np.random.default_rng(seed)
    conn = sf.Conv2d(case["in_shape"], case["co"], case["k"], stride=case["s"], padding=case["p"],
                     dilation=case["d"], groups=case["g"])
    kernel = f32(rng.normal(1.0, 2.0, size=conn.kernel_shape))
    n_in, n_out = int(np.prod(case["in_shape"])), int(np.prod(conn.out_shape))
    times = np.round(rng.uniform(0, 20, size=4 * n_in), 1)
    ids = rng.integers(0, n_in, size=times.size)
    m = index_map(**case)
    out = []
    for explicit in (False, True):
        net = sf.Network(dt=None if continuous else 0.1)
        src = net.add_spike_source(times, ids, n=n_in)
        post = net.add_population(n_out, sf.LIF(tau_m=5.0, v_th=3.0, t_ref=0.5, synapse="exp"))
        if explicit:
            net.connect(src, post, sf.FromArrays(m[:, 0], m[:, 1]), weight=kernel.ravel()[m[:, 2]], delay=0.5)
        else:
            net.connect(src, post, conn, weight=kernel, delay=0.5)
        rec = net.record_spikes(post)
        net.run(25.0)
        out.append((rec.times.copy(), rec.ids.copy(), net.counters()["synaptic_events"]))
    assert np.array_equal(out[0][0], out[1][0]) and np.array_equal(out[0][1], out[1][1])
    assert out[0][2] == out[1][2]


# ----- STDP on a shared kernel --------------------------------------------------------------


def reference_conv_stdp(case, kernel, pre_events, post_events, rule, delay):
    """Event-by-event STDP on a shared kernel, written from the rule's definition.

    ``pre_events``: (time, source) emission times; ``post_events``: (time, target) spikes.
    Arrivals at ``t`` (emission + delay) are handled before postsynaptic spikes at ``t``, each
    group in index order; a postsynaptic spike at ``t`` does not pair with arrivals at ``t``.
    Every synapse's update goes into its kernel element, in event order.
    """
    m = index_map(**case)
    w = kernel.ravel().astype(np.float64).copy()
    span = rule["w_max"] - rule["w_min"]

    def scale(dist):
        return 1.0 if rule["mu"] == 0 else (max(dist, 0.0) / span) ** rule["mu"] if span > 0 else 0.0

    def bump(trace):
        return trace + 1.0 if rule["pairing"] == "all" else 1.0

    x_after, x_last, x_before = {}, {}, {}
    y_after, y_last = {}, {}
    events = [(t + delay, 0, i) for t, i in pre_events] + [(t, 1, j) for t, j in post_events]
    for t, kind, n in sorted(events):
        if kind == 0:  # arrival: depress with the target's trace, bump the source's trace
            for _, j, k in m[m[:, 0] == n]:
                y = y_after[j] * math.exp(-(t - y_last[j]) / rule["tau_minus"]) if j in y_last else 0.0
                w[k] = min(max(w[k] - rule["a_minus"] * scale(w[k] - rule["w_min"]) * y, rule["w_min"]),
                           rule["w_max"])
            x = x_after[n] * math.exp(-(t - x_last[n]) / rule["tau_plus"]) if n in x_last else 0.0
            if x_last.get(n) != t:
                x_before[n] = x  # what a postsynaptic spike at t sees
            x_after[n], x_last[n] = bump(x), t
        else:  # postsynaptic spike: potentiate with the sources' traces (arrivals now excluded)
            for i, _, k in m[m[:, 1] == n]:
                if i not in x_last:
                    continue
                if x_last[i] == t:
                    x = x_before[i]
                else:
                    x = x_after[i] * math.exp(-(t - x_last[i]) / rule["tau_plus"])
                if x > 0:
                    w[k] = min(max(w[k] + rule["a_plus"] * scale(rule["w_max"] - w[k]) * x, rule["w_min"]),
                               rule["w_max"])
            y = y_after[n] * math.exp(-(t - y_last[n]) / rule["tau_minus"]) if n in y_last else 0.0
            y_after[n], y_last[n] = bump(y), t
    return w.reshape(kernel.shape)


def _teacher_network(case, kernel, pre_spikes, teacher_spikes, stdp, dt, explicit=False):
    """Plastic conv (or its explicit twin) into neurons that fire exactly at the teacher's times.

    The plastic input is far below threshold (|kernel| <= 0.2, fan-in <= 18, v_th = 50), the
    teacher's 1000 mV far above, so postsynaptic spikes do not depend on the learned weights.
    """
    conn = sf.Conv2d(case["in_shape"], case["co"], case["k"], stride=case["s"], padding=case["p"], groups=case["g"])
    n_in, n_out = int(np.prod(case["in_shape"])), int(np.prod(conn.out_shape))
    net = sf.Network(dt=dt)
    src = net.add_spike_source(pre_spikes[0], pre_spikes[1], n=n_in)
    teacher = net.add_spike_source(teacher_spikes[0], teacher_spikes[1], n=n_out)
    post = net.add_population(n_out, sf.LIF(tau_m=2.0, v_th=50.0, v_reset=0.0, t_ref=0.0))
    if explicit:
        m = index_map(**case)
        proj = net.connect(src, post, sf.FromArrays(m[:, 0], m[:, 1]), weight=kernel.ravel()[m[:, 2]], delay=1.0,
                           plasticity=stdp)
    else:
        proj = net.connect(src, post, conn, weight=kernel, delay=1.0, plasticity=stdp)
    net.connect(teacher, post, sf.OneToOne(), weight=1000.0, delay=1.0)
    rec = net.record_spikes(post)
    return net, proj, rec


STDP_RULES = st.fixed_dictionaries(dict(
    tau_plus=st.sampled_from([5.0, 20.0]), tau_minus=st.sampled_from([8.0, 20.0]),
    a_plus=st.floats(0.0, 0.05), a_minus=st.floats(0.0, 0.05),
    mu=st.sampled_from([0.0, 0.5, 1.0]), pairing=st.sampled_from(["all", "nearest"]),
))


def _stdp(r, w_min=-0.2, w_max=0.2):
    return sf.STDP(tau_plus=r["tau_plus"], tau_minus=r["tau_minus"], a_plus=r["a_plus"], a_minus=r["a_minus"],
                   w_min=w_min, w_max=w_max, rule="additive" if r["mu"] == 0 else "multiplicative",
                   mu=r["mu"] or 1.0, pairing=r["pairing"])


SMALL_CASES = st.sampled_from([
    dict(in_shape=(1, 5, 5), co=2, k=3, s=1, p=1, g=1),
    dict(in_shape=(2, 6, 5), co=2, k=(3, 2), s=(2, 1), p=(1, 0), g=1),
    dict(in_shape=(2, 4, 4), co=2, k=3, s=1, p=1, g=2),
])


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(case=SMALL_CASES, r=STDP_RULES, seed=st.integers(0, 2**31), continuous=st.booleans())
def test_conv_stdp_equals_the_shared_kernel_reference(case, r, seed, continuous):
    """Any rule (additive/multiplicative, all/nearest, clipping included): the engine's kernel
    equals the event-by-event reference of STDP on a shared kernel."""
    rng = np.random.default_rng(seed)
    conn = sf.Conv2d(case["in_shape"], case["co"], case["k"], stride=case["s"], padding=case["p"], groups=case["g"])
    n_in, n_out = int(np.prod(case["in_shape"])), int(np.prod(conn.out_shape))
    kernel = f32(rng.uniform(-0.15, 0.15, size=conn.kernel_shape))
    pre = (rng.integers(0, 40, size=3 * n_in).astype(float), rng.integers(0, n_in, size=3 * n_in))
    tea = (rng.integers(0, 40, size=2 * n_out).astype(float), rng.integers(0, n_out, size=2 * n_out))
    net, proj, rec = _teacher_network(case, kernel, pre, tea, _stdp(r), None if continuous else 1.0)
    net.run(60.0)
    post_events = list(zip(rec.times, rec.ids))
    assert sorted(post_events) == sorted(set(zip(tea[0] + 1.0, tea[1])))  # teacher-driven
    # a source listed twice at one time arrives twice, one arrival after the other
    pre_events = list(zip(pre[0], pre[1]))
    ref = reference_conv_stdp(case, kernel, pre_events, post_events, dict(r, w_min=-0.2, w_max=0.2), 1.0)
    np.testing.assert_allclose(proj.weights, ref, rtol=0, atol=1e-12)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(case=SMALL_CASES, r=STDP_RULES, seed=st.integers(0, 2**31), continuous=st.booleans())
def test_conv_stdp_kernel_change_is_the_sum_of_the_dense_updates(case, r, seed, continuous):
    """Additive STDP away from the bounds: the kernel change is the sum over positions of the
    per-synapse changes of the explicit (dense) projection with the same initial weights."""
    r = dict(r, mu=0.0)
    rng = np.random.default_rng(seed)
    conn = sf.Conv2d(case["in_shape"], case["co"], case["k"], stride=case["s"], padding=case["p"], groups=case["g"])
    n_in, n_out = int(np.prod(case["in_shape"])), int(np.prod(conn.out_shape))
    kernel = f32(rng.uniform(-0.1, 0.1, size=conn.kernel_shape))
    pre = (rng.integers(0, 30, size=2 * n_in).astype(float), rng.integers(0, n_in, size=2 * n_in))
    tea = (rng.integers(0, 30, size=n_out).astype(float), rng.integers(0, n_out, size=n_out))
    stdp = _stdp(r, w_min=-1e6, w_max=1e6)  # bounds never reached: updates add up
    dt = None if continuous else 1.0
    net, proj, _ = _teacher_network(case, kernel, pre, tea, stdp, dt)
    net.run(50.0)
    dnet, dproj, _ = _teacher_network(case, kernel, pre, tea, stdp, dt, explicit=True)
    dnet.run(50.0)
    m = index_map(**case)
    k_of = np.empty(len(m), dtype=np.int64)
    lookup = {(a, b): k for a, b, k in m}
    for s, (a, b) in enumerate(zip(dproj.pre, dproj.post)):
        k_of[s] = lookup[(a, b)]
    dense_change = np.zeros(kernel.size)
    np.add.at(dense_change, k_of, dproj.weights - kernel.ravel()[k_of])
    np.testing.assert_allclose((proj.weights - kernel).ravel(), dense_change, rtol=1e-9, atol=1e-12)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(r=STDP_RULES, triplet=st.booleans(), seed=st.integers(0, 2**31), continuous=st.booleans())
def test_conv_with_one_position_learns_exactly_like_dense(r, triplet, seed, continuous):
    """A kernel as large as the input has one position: each kernel element is one synapse, so
    every rule (clipping, multiplicative, nearest, triplet) must match dense STDP exactly."""
    case = dict(in_shape=(2, 3, 3), co=3, k=3, s=1, p=0, g=1)
    rng = np.random.default_rng(seed)
    kernel = f32(rng.uniform(-0.2, 0.2, size=(3, 2, 3, 3)))
    if triplet:
        rule = sf.TripletSTDP(a2_plus=r["a_plus"], a3_plus=0.02, a2_minus=r["a_minus"], a3_minus=0.01,
                              w_min=-0.2, w_max=0.2, pairing=r["pairing"])
    else:
        rule = _stdp(r)
    pre = (rng.integers(0, 40, size=40).astype(float), rng.integers(0, 18, size=40))
    tea = (rng.integers(0, 40, size=12).astype(float), rng.integers(0, 3, size=12))
    dt = None if continuous else 1.0
    net, proj, rec = _teacher_network(case, kernel, pre, tea, rule, dt)
    net.run(60.0)
    dnet, dproj, drec = _teacher_network(case, kernel, pre, tea, rule, dt, explicit=True)
    dnet.run(60.0)
    m = index_map(**case)
    dense = np.empty(kernel.size)
    lookup = {(a, b): k for a, b, k in m}
    for s, (a, b) in enumerate(zip(dproj.pre, dproj.post)):
        dense[lookup[(a, b)]] = dproj.weights[s]
    assert np.array_equal(rec.times, drec.times)
    np.testing.assert_array_equal(proj.weights.ravel(), dense)


def test_learned_kernel_is_kept_and_writable():
    conn = sf.Conv2d((1, 4, 4), 1, 3, padding=1)
    net = sf.Network(dt=1.0)
    src = net.add_spike_source([0.0, 5.0, 10.0], [5, 6, 9], n=16)
    tea = net.add_spike_source([2.0, 7.0, 12.0], [5, 5, 10], n=16)
    post = net.add_population(16, sf.LIF(tau_m=2.0, v_th=50.0, t_ref=0.0))
    proj = net.connect(src, post, conn, weight=0.1, plasticity=sf.STDP(a_plus=0.05, a_minus=0.01, w_max=0.5))
    net.connect(tea, post, sf.OneToOne(), weight=1000.0)
    net.run(20.0)
    learned = proj.weights.copy()
    assert learned.shape == (1, 1, 3, 3) and not np.allclose(learned, 0.1)
    net.reset()
    assert np.array_equal(proj.weights, learned)  # reset keeps what was learned
    proj.weights = np.full((1, 1, 3, 3), 0.2)
    assert np.array_equal(proj.weights, np.full((1, 1, 3, 3), 0.2))
    proj.weights = 0.3
    assert np.array_equal(proj.weights, np.full((1, 1, 3, 3), 0.3))
    with pytest.raises(sf.ParameterError, match="kernel of shape"):
        proj.weights = np.zeros((2, 1, 3, 3))


def test_static_kernel_write_changes_the_fan_out():
    conn = sf.Conv2d((1, 3, 3), 1, 3, padding=1)
    net = sf.Network(dt=1.0)
    src = net.add_spike_source([0.0], [4], n=9)
    post = net.add_population(9, QUIET)
    proj = net.connect(src, post, conn, weight=0.0)
    k = np.arange(9.0).reshape(1, 1, 3, 3)
    proj.weights = k
    net.run(3.0)
    # the centre source reaches output (oy, ox) through tap (2 - oy, 2 - ox)
    np.testing.assert_allclose(post.membrane(), k.ravel()[::-1])


def test_distribution_weights_are_drawn_from_the_seed():
    def kernel(seed):
        net = sf.Network(dt=1.0, seed=seed)
        a = net.add_spike_source([], [], n=2 * 5 * 5)
        b = net.add_population(3 * 5 * 5, QUIET)
        return net.connect(a, b, sf.Conv2d((2, 5, 5), 3, 3, padding=1), weight=sf.Uniform(0.0, 1.0)).weights

    k1, k2, k3 = kernel(1), kernel(1), kernel(2)
    assert k1.shape == (3, 2, 3, 3) and np.array_equal(k1, k2) and not np.array_equal(k1, k3)
    assert 0.0 <= k1.min() and k1.max() < 1.0


# ----- errors -------------------------------------------------------------------------------


def _pops(n_pre, n_post, dt=1.0):
    net = sf.Network(dt=dt)
    return net, net.add_spike_source([], [], n=n_pre), net.add_population(n_post, QUIET)


def test_bad_input_is_refused_with_clear_messages():
    net, a, b = _pops(2 * 6 * 6, 3 * 6 * 6)
    conv = sf.Conv2d((2, 6, 6), 3, 3, padding=1)
    with pytest.raises(sf.ConnectivityError, match=r"input shape \(C, H, W\) = \(2, 6, 6\) has 72 neurons"):
        net.connect(net.add_spike_source([], [], n=50), b, conv)
    with pytest.raises(sf.ConnectivityError, match=r"output shape .* = \(3, 4, 4\) has 48 neurons"):
        net.connect(a, b, sf.Conv2d((2, 6, 6), 3, 3))
    with pytest.raises(sf.ParameterError, match="larger than the padded input"):
        net.connect(a, b, sf.Conv2d((2, 6, 6), 3, 9))
    with pytest.raises(sf.ParameterError, match="stride must be an integer >= 1"):
        net.connect(a, b, sf.Conv2d((2, 6, 6), 3, 3, stride=0, padding=1))
    with pytest.raises(sf.ParameterError, match="groups = 2 must divide"):
        net.connect(a, b, sf.Conv2d((2, 6, 6), 3, 3, padding=1, groups=2))
    bad = np.zeros((3, 2, 3, 3))
    bad[1, 0, 2, 2] = np.nan
    with pytest.raises(sf.ParameterError, match="must be finite"):
        net.connect(a, b, conv, weight=bad)
    with pytest.raises(sf.ParameterError, match=r"expected \(3, 2, 3, 3\)"):
        net.connect(a, b, conv, weight=np.zeros((3, 2, 2, 2)))
    with pytest.raises(sf.ParameterError, match="one delay"):
        net.connect(a, b, conv, delay=sf.Uniform(1.0, 2.0))
    with pytest.raises(sf.ParameterError, match="not a multiple of dt"):
        net.connect(a, b, conv, delay=1.5)
    with pytest.raises(sf.ParameterError, match="reward-modulated"):
        net.connect(a, b, conv, weight=0.5, plasticity=sf.RewardSTDP())
    with pytest.raises(sf.ParameterError, match="outside the STDP bounds"):
        net.connect(a, b, conv, weight=2.0, plasticity=sf.STDP())
    with pytest.raises(sf.ParameterError, match="in_shape must be"):
        _ = sf.Conv2d((6, 6), 3, 3).out_shape
    net, a, b = _pops(2 * 6 * 6, 2 * 3 * 3)
    pool = sf.Pool2d((2, 6, 6), 2, mode="max")
    with pytest.raises(sf.ParameterError, match="fixed weights; plasticity"):
        net.connect(a, b, pool, plasticity=sf.STDP())
    with pytest.raises(sf.ParameterError, match="one number"):
        net.connect(a, b, pool, weight=np.ones(3))
    with pytest.raises(sf.ParameterError, match="mode must be 'avg' or 'max'"):
        net.connect(a, b, sf.Pool2d((2, 6, 6), 2, mode="min"))
    with pytest.raises(TypeError, match="through Network.connect"):
        pool.engine_args()
    # the engine's own checks (geometry reaching it without the Python front)
    with pytest.raises(sf.ParameterError, match="stride must be an integer >= 1"):
        net._core.connect_conv(a.index, b.index, (2, 6, 6, 2, 2, 2, 0, 2, 0, 0, 1, 1, 2), "max",
                               ("scalar", 1.0), ("scalar", 1.0), None)
    with pytest.raises(sf.ParameterError, match="max pooling has no weights to learn"):
        net._core.connect_conv(a.index, b.index, (2, 6, 6, 2, 2, 2, 2, 2, 0, 0, 1, 1, 2), "max",
                               ("scalar", 0.5), ("scalar", 1.0), sf.STDP().spec())
    # after the failures the network is intact and connects fine
    proj = net.connect(a, b, pool)
    assert proj.n_synapses == 72 and proj.kernel_shape == (2, 1, 2, 2)


# ----- deployment of torch models -------------------------------------------------------------


def _torch_conv_model(torch, st, groups_model=False):
    torch.manual_seed(7)
    if groups_model:
        layers = [st.Conv2d(2, 4, 3, padding=1), st.LIF(beta=0.9, v_th=0.6),
                  st.Conv2d(4, 4, 3, padding=1, groups=4, bias=False), st.LIF(beta=0.8, v_th=0.4),
                  st.AvgPool2d(2), st.LIF(beta=0.9, v_th=0.3), st.Conv2d(4, 3, 2, padding="same"), st.LIF(v_th=0.5),
                  st.Flatten(), st.Linear(3 * 5 * 5, 6), st.LIF(beta=0.9, v_th=0.5)]
    else:
        layers = [st.Conv2d(2, 6, 3, padding=1), st.TimeBatchNorm2d(6), st.LIF(beta=0.9),
                  st.MaxPool2d(2), st.Conv2d(6, 8, 3, stride=1, padding=1, bias=False), st.TimeBatchNorm2d(8),
                  st.LIF(beta=0.95, v_th=0.7), st.AvgPool2d(2), st.LIF(beta=0.9, v_th=0.3),
                  st.Flatten(), st.Linear(8 * 2 * 2, 10), st.LIF(beta=0.9)]
    m = st.Sequential(*layers)
    x = (torch.rand(12, 6, 2, 10, 10, generator=torch.Generator().manual_seed(8)) < 0.2).float()
    m.train()
    m(x)  # batch-norm statistics
    m.eval()
    with torch.no_grad():
        for layer in m:
            if isinstance(layer, (torch.nn.Linear, torch.nn.Conv2d)):
                layer.weight.mul_(3.0)
    return m, x


@pytest.mark.filterwarnings("ignore:Using padding='same'")
@pytest.mark.parametrize("groups_model", [False, True])
def test_deploy_keeps_convolutions_as_kernels_with_identical_spikes(groups_model):
    torch = pytest.importorskip("torch")
    import spikeflow.deploy as sd
    import spikeflow.torch as st

    m, x = _torch_conv_model(torch, st, groups_model)
    shared = sd.deploy(m, dt=1.0, input_shape=(2, 10, 10))
    kernels = [lay.projections[0].kernel_shape for lay in shared.layers]
    if groups_model:  # conv, depthwise conv, avg pool, "same" conv with an even kernel (explicit), linear
        assert kernels == [(4, 2, 3, 3), (4, 1, 3, 3), (4, 1, 2, 2), None, None]
    else:  # conv + bn, max pool, conv + bn, avg pool, linear
        assert kernels == [(6, 2, 3, 3), (6, 1, 2, 2), (8, 6, 3, 3), (8, 1, 2, 2), None]
    a = sd.compare(shared, m, x)
    assert a.spike_agreement == 1.0 and a.prediction_agreement == 1.0
    assert all(c.sum() > 0 for c in a.torch_counts)
    for b in range(2):  # step by step, every layer, equal to torch
        trains = shared.spike_trains(x[:, b])
        ref = sd.torch_layer_spikes(m, [lay.module for lay in shared.layers], x[:, b:b + 1])
        for e, z in zip(trains, ref):
            assert np.array_equal(e, z[:, 0].reshape(x.shape[0], -1).numpy())
    if not groups_model:
        explicit = sd.deploy(m, dt=1.0, input_shape=(2, 10, 10), shared_weights=False)
        assert [lay.projections[0].kernel_shape for lay in explicit.layers] == [None] * 5
        # (small maps: the explicit conv layers are dense AllToAll matrices, zeros included)
        assert shared.network.counters()["synapse_bytes"] * 3 < explicit.network.counters()["synapse_bytes"]
        for b in range(2):
            for e, s in zip(explicit.spike_trains(x[:, b]), shared.spike_trains(x[:, b])):
                assert np.array_equal(e, s)
        samples = explicit.encode_batch(x)
        re, rs = explicit.run_batch(samples, x.shape[0]), shared.run_batch(samples, x.shape[0])
        for name in re.counts:
            assert np.array_equal(re.counts[name], rs.counts[name])
