"""A slow, obviously-correct numpy reference simulator of spikeflow's grid mode.

This is the oracle the Rust engine is checked against, spike for spike.  It is written for
clarity, not speed: every neuron is updated at every step, in float64, in the order
documented below.  It depends on numpy and the standard library only (never on spikeflow),
so it can also be checked on its own against NEST (tests/test_nest_reference.py).

Grid-mode semantics (``dt`` given)
----------------------------------
* Time is counted in steps s = 0, 1, 2, ...; "the state at step s" is the state at time s*dt.
  Step 0 is the initial state (v = v_init, default v_rest).  ``run(T)`` processes the steps
  t0+1 ... t0+n with n = round(T/dt); runs are resumable.
* A spike emitted at step s through a synapse with delay d (d_steps = round(d/dt) >= 1) is
  input to its target at step s + d_steps.
* A spike-source spike at time tau is emitted at step round(tau/dt) (a spike at time 0 is
  emitted "before step 1" and arrives at step d_steps).  A count source emits, at each step
  s >= 1, an integer count k; k spikes deliver k*w (the grid-mode Poisson source is such a
  count source with Poisson(rate*dt/1000) counts; the reference replays given counts).
* Per step s >= 1, per neuron, with u = v - v_rest:

  - LIF, delta synapses (NEST ``iaf_psc_delta``): x = sum of the weights arriving at s.
    If s <= ref_end: u unchanged (held at reset) and x discarded; else
    ``u = (P30*i_e + P33*u) + x`` with P33 = exp(-dt/tau_m), P30 = 1/c_m*(1-P33)*tau_m.
  - IF (non-leaky): as LIF delta with P33 = 1 and P30 = dt/c_m.
  - LIF, exp synapses (NEST ``iaf_psc_exp``): if not refractory
    ``u = u*P22 + i_ex*P21ex + i_in*P21in + i_e*P20`` (P22 = exp(-dt/tau_m),
    P20 = tau_m/c_m*(1-P22), P21 the exact current-to-voltage propagator); then
    ``i_ex = i_ex*P11ex + (sum of the w >= 0 arriving at s)`` and i_in likewise with the
    w < 0 (P11 = exp(-dt/tau_syn)).  Input current is never discarded.
  - Then, if the neuron was not refractory at this step and u >= v_th - v_rest, it spikes
    at time s*dt; u = v_reset - v_rest (reset="value") or u -= v_th - v_reset
    (reset="subtract"); ref_end = s + round(t_ref/dt).  (NEST checks the threshold while
    refractory too, but there u = V_reset < V_th, so the two rules differ only for a
    subtractive reset that leaves u above threshold: then the neuron waits out its
    refractory period rather than firing again at every refractory step.)

  The float expressions, including their evaluation order, are exactly NEST 3.10's, so that
  NEST's membrane potentials are reproduced bit for bit (checked in test_nest_reference.py).
  Two NEST details matter at the last bit: ``exp`` is the C library's (``math.exp`` here;
  numpy's vectorised ``np.exp`` differs by one ulp for some arguments), and NEST's PyPI build
  has no ``HAVE_EXPM1``, so its ``expm1`` is its own Taylor series (:func:`nest_expm1`).
* Spikes within a step are ordered by (population creation order, neuron index).
* Synaptic events are counted per delivered synapse (a count of k counts k), when the arrival
  step is processed, whether or not the target is refractory.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Sequence, Tuple, Union

import numpy as np

ArrayLike = Union[float, Sequence[float], np.ndarray]

_EPS = 2.220446049250313e-16


def steps_of(t: float, dt: float) -> int:
    """Nearest grid step of time t (ms), rounding halves up as NEST does."""
    return int(math.floor(t / dt + 0.5))


def nest_expm1(x: float) -> float:
    """expm1 exactly as NEST's ``numerics::expm1`` computes it without HAVE_EXPM1."""
    if x == 0:
        return 0.0
    if abs(x) > math.log(2.0):
        return math.exp(x) - 1
    total = x
    term = x * x / 2
    n = 2
    while abs(term) > abs(total) * _EPS:
        total += term
        n += 1
        term *= x / n
    return total


def propagator_exp(tau_syn: float, tau_m: float, c_m: float, h: float) -> float:
    """NEST's IAFPropagatorExp(tau_syn, tau_m, c_m).evaluate(h): current -> voltage."""
    if tau_m != tau_syn:
        beta = tau_syn * tau_m / (tau_m - tau_syn)
    else:
        beta = math.inf
    gamma = beta / c_m
    inv_tau_syn = 1 / tau_syn
    inv_tau_m = 1 / tau_m
    inv_c_m = 1 / c_m
    inv_beta = (tau_m - tau_syn) / (tau_syn * tau_m)
    exp_h_tau_syn = math.exp(-h * inv_tau_syn)
    with np.errstate(all="ignore"):
        p32 = float(np.float64(gamma) * exp_h_tau_syn * nest_expm1(h * inv_beta))
    if math.isfinite(p32) and p32 >= 2.2250738585072014e-308:  # std::isnormal and > 0
        return p32
    return h * inv_c_m * math.exp(-h * inv_tau_m)


@dataclass
class LIF:
    """Parameters (scalars or per-neuron arrays), as sf.LIF."""

    tau_m: ArrayLike = 20.0
    v_rest: ArrayLike = 0.0
    v_th: ArrayLike = 20.0
    v_reset: ArrayLike = 10.0
    t_ref: ArrayLike = 2.0
    c_m: ArrayLike = 250.0
    i_e: ArrayLike = 0.0
    synapse: str = "delta"
    tau_syn_ex: ArrayLike = 2.0
    tau_syn_in: ArrayLike = 2.0
    reset: str = "value"
    v_init: Optional[ArrayLike] = None


@dataclass
class IF:
    """Non-leaky integrate-and-fire, as sf.IF (v_rest is 0)."""

    v_th: ArrayLike = 1.0
    v_reset: ArrayLike = 0.0
    t_ref: ArrayLike = 0.0
    c_m: ArrayLike = 1.0
    i_e: ArrayLike = 0.0
    reset: str = "subtract"
    v_init: Optional[ArrayLike] = None


def _per_neuron(x: ArrayLike, n: int) -> np.ndarray:
    a = np.asarray(x, dtype=np.float64)
    if a.ndim == 0:
        return np.full(n, float(a))
    if a.shape != (n,):
        raise ValueError(f"expected a scalar or {n} values, got shape {a.shape}")
    return a.copy()


class _Population:
    def __init__(self, n: int, model: Union[LIF, IF], dt: float):
        self.n = n
        self.model = model
        if isinstance(model, IF):
            self.kind = "if"
            v_rest = np.zeros(n)
            self.P33 = np.ones(n)
            self.P30 = dt / _per_neuron(model.c_m, n)
        else:
            self.kind = "lif_" + model.synapse
            if model.synapse not in ("delta", "exp"):
                raise ValueError(f"unknown synapse {model.synapse!r}")
            v_rest = _per_neuron(model.v_rest, n)
            tau_m = _per_neuron(model.tau_m, n)
            c_m = _per_neuron(model.c_m, n)
            if model.synapse == "delta":
                self.P33 = np.array([math.exp(-dt / t) for t in tau_m])
                self.P30 = np.array([1 / c * (1 - p) * t for c, p, t in zip(c_m, self.P33, tau_m)])
            else:
                tex = _per_neuron(model.tau_syn_ex, n)
                tin = _per_neuron(model.tau_syn_in, n)
                self.P22 = np.array([math.exp(-dt / t) for t in tau_m])
                self.P20 = np.array([t / c * (1.0 - p) for t, c, p in zip(tau_m, c_m, self.P22)])
                self.P11ex = np.array([math.exp(-dt / t) for t in tex])
                self.P11in = np.array([math.exp(-dt / t) for t in tin])
                self.P21ex = np.array(
                    [propagator_exp(a, t, c, dt) for a, t, c in zip(tex, tau_m, c_m)]
                )
                self.P21in = np.array(
                    [propagator_exp(a, t, c, dt) for a, t, c in zip(tin, tau_m, c_m)]
                )
                self.i_ex = np.zeros(n)
                self.i_in = np.zeros(n)
        if model.reset not in ("value", "subtract"):
            raise ValueError(f"unknown reset {model.reset!r}")
        self.v_rest = v_rest
        self.theta = _per_neuron(model.v_th, n) - v_rest
        self.u_reset = _per_neuron(model.v_reset, n) - v_rest
        self.jump = _per_neuron(model.v_th, n) - _per_neuron(model.v_reset, n)
        self.i_e = _per_neuron(model.i_e, n)
        self.ref_steps = np.array([steps_of(t, dt) for t in _per_neuron(model.t_ref, n)])
        if model.v_init is None:
            self.u = np.zeros(n)
        else:
            self.u = _per_neuron(model.v_init, n) - v_rest
        self.ref_end = np.full(n, -1, dtype=np.int64)
        self.spike_steps: List[int] = []
        self.spike_ids: List[int] = []
        # voltage samples: step -> v
        self.v_samples: Dict[int, np.ndarray] = {}

    def step(self, s: int, x: np.ndarray, x_ex: np.ndarray, x_in: np.ndarray) -> np.ndarray:
        """Advance every neuron to step s; return the indices that spike (ascending)."""
        n = self.n
        spiking = []
        for i in range(n):
            refractory = s <= self.ref_end[i]
            if self.kind == "lif_exp":
                if not refractory:
                    self.u[i] = (
                        self.u[i] * self.P22[i]
                        + self.i_ex[i] * self.P21ex[i]
                        + self.i_in[i] * self.P21in[i]
                        + self.i_e[i] * self.P20[i]
                    )
                self.i_ex[i] = self.i_ex[i] * self.P11ex[i] + x_ex[i]
                self.i_in[i] = self.i_in[i] * self.P11in[i] + x_in[i]
            else:  # delta synapses (LIF) or IF
                if not refractory:
                    self.u[i] = (self.P30[i] * self.i_e[i] + self.P33[i] * self.u[i]) + x[i]
            if not refractory and self.u[i] >= self.theta[i]:
                spiking.append(i)
                if self.model.reset == "value":
                    self.u[i] = self.u_reset[i]
                else:
                    self.u[i] -= self.jump[i]
                self.ref_end[i] = s + self.ref_steps[i]
        for i in spiking:
            self.spike_steps.append(s)
            self.spike_ids.append(i)
        return np.asarray(spiking, dtype=np.int64)

    @property
    def v(self) -> np.ndarray:
        return self.u + self.v_rest


class _Source:
    """Spike-time or count source: counts[s] = array of spike counts emitted at step s."""

    def __init__(self, n: int):
        self.n = n
        self.emit: Dict[int, np.ndarray] = {}
        self.spike_steps: List[int] = []
        self.spike_ids: List[int] = []

    def add(self, step: int, idx: int, k: int = 1) -> None:
        a = self.emit.setdefault(step, np.zeros(self.n, dtype=np.int64))
        a[idx] += k


@dataclass
class _Projection:
    pre: int  # node index
    post: int
    pre_idx: np.ndarray
    post_idx: np.ndarray
    weights: np.ndarray
    delay_steps: np.ndarray
    events: int = 0
    out_degree: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))


class ReferenceNetwork:
    """Dense, step-by-step float64 simulator with spikeflow's grid-mode semantics.

    Nodes (populations and sources) are numbered in creation order; that order is also the
    order of simultaneous spikes.
    """

    def __init__(self, dt: float):
        if not dt > 0:
            raise ValueError("dt must be > 0")
        self.dt = float(dt)
        self.step_now = 0
        self.nodes: List[Union[_Population, _Source]] = []
        self.projections: List[_Projection] = []
        # pending[node][step] = (x, x_ex, x_in) input arrays for populations
        self._pending: Dict[Tuple[int, int], List[np.ndarray]] = {}
        self._pending_events: Dict[Tuple[int, int], int] = {}  # (proj, step) -> events
        self._sample_steps: Dict[int, List[int]] = {}

    # ----------------------------------------------------------------- building
    def add_population(self, n: int, model: Union[LIF, IF]) -> int:
        pop = _Population(int(n), model, self.dt)
        self.nodes.append(pop)
        return len(self.nodes) - 1

    def add_spike_source(self, times: Sequence[float], ids: Sequence[int], n: Optional[int] = None) -> int:
        times = np.asarray(times, dtype=np.float64)
        ids = np.asarray(ids, dtype=np.int64)
        if n is None:
            n = int(ids.max()) + 1 if len(ids) else 0
        src = _Source(int(n))
        for t, i in zip(times, ids):
            src.add(steps_of(float(t), self.dt), int(i))
        self.nodes.append(src)
        return len(self.nodes) - 1

    def add_count_source(self, counts: np.ndarray) -> int:
        """counts[s-1, i]: spikes of source i at step s (s >= 1), e.g. replayed Poisson counts."""
        counts = np.asarray(counts, dtype=np.int64)
        src = _Source(counts.shape[1])
        for s0, i in zip(*np.nonzero(counts)):
            src.add(int(s0) + 1, int(i), int(counts[s0, i]))
        self.nodes.append(src)
        return len(self.nodes) - 1

    def connect(self, pre: int, post: int, pre_idx, post_idx, weights, delays) -> int:
        pre_idx = np.asarray(pre_idx, dtype=np.int64)
        post_idx = np.asarray(post_idx, dtype=np.int64)
        m = len(pre_idx)
        weights = np.broadcast_to(np.asarray(weights, dtype=np.float64), (m,)).copy()
        delays = np.broadcast_to(np.asarray(delays, dtype=np.float64), (m,))
        dsteps = np.array([steps_of(float(d), self.dt) for d in delays], dtype=np.int64)
        if m and dsteps.min() < 1:
            raise ValueError("delays must be >= dt")
        if not isinstance(self.nodes[post], _Population):
            raise ValueError("post must be a population")
        out_degree = np.bincount(pre_idx, minlength=self.nodes[pre].n)
        self.projections.append(
            _Projection(pre, post, pre_idx, post_idx, weights, dsteps, 0, out_degree)
        )
        return len(self.projections) - 1

    def sample_voltage(self, pop: int, times: Sequence[float]) -> None:
        """Ask for the membrane potential of `pop` at the given times (state at that step)."""
        for t in times:
            self._sample_steps.setdefault(steps_of(float(t), self.dt), []).append(pop)
        if self.step_now == 0 and 0 in self._sample_steps:
            for p in self._sample_steps[0]:
                self.nodes[p].v_samples[0] = self.nodes[p].v.copy()

    # ----------------------------------------------------------------- running
    def _emit(self, node: int, s: int, idx: np.ndarray, counts: np.ndarray) -> None:
        """Schedule the deliveries of spikes of `node` at step s (counts per index)."""
        for p_i, proj in enumerate(self.projections):
            if proj.pre != node:
                continue
            for i, k in zip(idx, counts):
                sel = np.nonzero(proj.pre_idx == i)[0]
                for syn in sel:
                    arrival = s + int(proj.delay_steps[syn])
                    buf = self._pending.get((proj.post, arrival))
                    if buf is None:
                        n_post = self.nodes[proj.post].n
                        buf = [np.zeros(n_post), np.zeros(n_post), np.zeros(n_post)]
                        self._pending[(proj.post, arrival)] = buf
                    w = proj.weights[syn]
                    j = proj.post_idx[syn]
                    kw = int(k) * w  # k spikes deliver k*w (NEST: weight * multiplicity)
                    buf[0][j] += kw
                    if w >= 0:
                        buf[1][j] += kw
                    else:
                        buf[2][j] += kw
                    key = (p_i, arrival)
                    self._pending_events[key] = self._pending_events.get(key, 0) + int(k)

    def _emit_source(self, node: int, s: int) -> None:
        src = self.nodes[node]
        if s in src.emit:
            counts = src.emit[s]
            idx = np.nonzero(counts)[0]
            for i in idx:
                for _ in range(int(counts[i])):
                    src.spike_steps.append(s)
                    src.spike_ids.append(int(i))
            self._emit(node, s, idx, counts[idx])

    def run(self, duration: float) -> None:
        n_steps = steps_of(duration, self.dt)
        if abs(n_steps * self.dt - duration) > 1e-9 * max(1.0, abs(duration)):
            raise ValueError("duration must be a multiple of dt")
        if self.step_now == 0 and n_steps > 0:
            # spike-source spikes at time 0 are emitted before step 1
            for node, nd in enumerate(self.nodes):
                if isinstance(nd, _Source):
                    self._emit_source(node, 0)
        for _ in range(n_steps):
            s = self.step_now + 1
            # nodes in creation order: that is the order of simultaneous spikes
            for node, nd in enumerate(self.nodes):
                if isinstance(nd, _Source):
                    self._emit_source(node, s)
                    continue
                buf = self._pending.pop((node, s), None)
                if buf is None:
                    buf = [np.zeros(nd.n)] * 3
                fired = nd.step(s, buf[0], buf[1], buf[2])
                if len(fired):
                    self._emit(node, s, fired, np.ones(len(fired), dtype=np.int64))
            for p_i, proj in enumerate(self.projections):
                proj.events += self._pending_events.pop((p_i, s), 0)
            for p in self._sample_steps.get(s, []):
                self.nodes[p].v_samples[s] = self.nodes[p].v.copy()
            self.step_now = s

    # ----------------------------------------------------------------- results
    @property
    def time(self) -> float:
        return self.step_now * self.dt

    def spikes(self, node: int) -> Tuple[np.ndarray, np.ndarray]:
        """(steps, ids) of a node's spikes, sorted by step then id."""
        nd = self.nodes[node]
        steps = np.asarray(nd.spike_steps, dtype=np.int64)
        ids = np.asarray(nd.spike_ids, dtype=np.int64)
        order = np.lexsort((ids, steps))
        return steps[order], ids[order]

    def voltage(self, pop: int, times: Sequence[float]) -> np.ndarray:
        nd = self.nodes[pop]
        return np.array([nd.v_samples[steps_of(float(t), self.dt)] for t in times])

    def counters(self) -> dict:
        pops = {
            k: int(len(nd.spike_steps)) for k, nd in enumerate(self.nodes)
        }
        projs = {k: int(p.events) for k, p in enumerate(self.projections)}
        return {
            "spikes": sum(pops.values()),
            "synaptic_events": sum(projs.values()),
            "node_spikes": pops,
            "projection_events": projs,
        }


# ===================================================================================
# Network descriptions shared by the oracle tests: one description, three builders
# (this reference, spikeflow, NEST), so that all three simulate the very same network.
# ===================================================================================


@dataclass
class PopSpec:
    n: int
    model: Union[LIF, IF]


@dataclass
class SourceSpec:
    n: int
    times: np.ndarray  # ms
    ids: np.ndarray


@dataclass
class ConnSpec:
    pre: int  # node index (creation order)
    post: int
    pre_idx: np.ndarray
    post_idx: np.ndarray
    weights: np.ndarray
    delays: np.ndarray  # ms


@dataclass
class NetSpec:
    dt: float
    nodes: List[Union[PopSpec, SourceSpec]]
    conns: List[ConnSpec]
    duration: float  # ms, a multiple of dt

    def pops(self) -> List[int]:
        return [k for k, nd in enumerate(self.nodes) if isinstance(nd, PopSpec)]


def model_kwargs(model: Union[LIF, IF]) -> dict:
    """The keyword arguments of sf.LIF / sf.IF for a reference parameter set."""
    out = {}
    for k, v in model.__dict__.items():
        out[k] = v.copy() if isinstance(v, np.ndarray) else v
    return out


def build_reference(spec: NetSpec) -> Tuple[ReferenceNetwork, List[int]]:
    """The reference network of a description; returns (net, node ids)."""
    ref = ReferenceNetwork(spec.dt)
    ids = []
    for nd in spec.nodes:
        if isinstance(nd, PopSpec):
            ids.append(ref.add_population(nd.n, nd.model))
        else:
            ids.append(ref.add_spike_source(nd.times, nd.ids, n=nd.n))
    for c in spec.conns:
        ref.connect(ids[c.pre], ids[c.post], c.pre_idx, c.post_idx, c.weights, c.delays)
    return ref, ids


def build_spikeflow(spec: NetSpec, seed: int = 1):
    """The spikeflow network of a description: (net, nodes, projections, recorders)."""
    import spikeflow as sf

    net = sf.Network(dt=spec.dt, seed=seed)
    nodes, recs = [], {}
    for k, nd in enumerate(spec.nodes):
        if isinstance(nd, PopSpec):
            cls = sf.IF if isinstance(nd.model, IF) else sf.LIF
            nodes.append(net.add_population(nd.n, cls(**model_kwargs(nd.model))))
            recs[k] = net.record_spikes(nodes[-1])
        else:
            nodes.append(net.add_spike_source(times=nd.times, ids=nd.ids, n=nd.n))
    projs = []
    for c in spec.conns:
        conn = sf.FromArrays(pre=c.pre_idx, post=c.post_idx, weight=c.weights, delay=c.delays)
        projs.append(net.connect(nodes[c.pre], nodes[c.post], conn))
    return net, nodes, projs, recs


def nest_params(model: LIF, n: int) -> dict:
    """NEST iaf_psc_delta / iaf_psc_exp parameters (absolute mV) of a reference LIF."""
    if isinstance(model, IF) or model.reset != "value":
        raise ValueError("NEST has no IF neuron or subtractive reset")
    p = {
        "E_L": model.v_rest,
        "V_th": model.v_th,
        "V_reset": model.v_reset,
        "t_ref": model.t_ref,
        "tau_m": model.tau_m,
        "C_m": model.c_m,
        "I_e": model.i_e,
        "V_m": model.v_rest if model.v_init is None else model.v_init,
    }
    if model.synapse == "exp":
        p["tau_syn_ex"] = model.tau_syn_ex
        p["tau_syn_in"] = model.tau_syn_in
    out = {}
    for k, v in p.items():
        a = np.asarray(v, dtype=np.float64)
        out[k] = float(a) if a.ndim == 0 else [float(x) for x in np.broadcast_to(a, (n,))]
    return out


def build_nest(spec: NetSpec):
    """Build the description in a freshly reset NEST kernel; returns (node id arrays, recorders).

    Spike sources become one ``spike_generator`` per source index (spike times must be > 0 in
    NEST).  Connections are made one to one from explicit node-id arrays.
    """
    import nest

    nest.ResetKernel()
    nest.resolution = spec.dt
    nest.local_num_threads = 1
    gids, recs = [], {}
    for k, nd in enumerate(spec.nodes):
        if isinstance(nd, PopSpec):
            model = "iaf_psc_exp" if nd.model.synapse == "exp" else "iaf_psc_delta"
            pop = nest.Create(model, nd.n)
            params = nest_params(nd.model, nd.n)
            scalars = {k2: v for k2, v in params.items() if not isinstance(v, list)}
            pop.set(scalars)
            for k2, v in params.items():
                if isinstance(v, list):
                    pop.set({k2: v})
            sr = nest.Create("spike_recorder")
            nest.Connect(pop, sr)
            recs[k] = sr
            gids.append(np.asarray(pop.tolist()))
        else:
            gens = nest.Create("spike_generator", nd.n)
            for i in range(nd.n):
                t = np.sort(np.asarray(nd.times)[np.asarray(nd.ids) == i])
                if len(t):
                    if t[0] <= 0:
                        raise ValueError("NEST spike_generator times must be > 0")
                    # on-grid times as NEST's tics see them: step * dt
                    steps = np.array([steps_of(float(x), spec.dt) for x in t])
                    gens[i].set({"spike_times": [round(float(s) * spec.dt, 10) for s in steps]})
            gids.append(np.asarray(gens.tolist()))
    for c in spec.conns:
        if len(c.pre_idx) == 0:
            continue
        nest.Connect(
            gids[c.pre][c.pre_idx],
            gids[c.post][c.post_idx],
            "one_to_one",
            syn_spec={
                "weight": np.asarray(c.weights, dtype=np.float64),
                "delay": np.array([round(steps_of(float(d), spec.dt) * spec.dt, 10) for d in c.delays]),
            },
        )
    return gids, recs


def nest_spikes(spec: NetSpec, gids, recs, node: int) -> Tuple[np.ndarray, np.ndarray]:
    """(steps, local ids) of a NEST population's recorded spikes, sorted by step then id."""
    ev = recs[node].events
    steps = np.rint(np.asarray(ev["times"]) / spec.dt).astype(np.int64)
    ids = np.asarray(ev["senders"]) - int(gids[node][0])
    order = np.lexsort((ids, steps))
    return steps[order], ids[order]


def sf_spikes(rec, dt: float) -> Tuple[np.ndarray, np.ndarray]:
    """(steps, ids) of a spikeflow spike recorder."""
    steps = np.rint(np.asarray(rec.times, dtype=np.float64) / dt).astype(np.int64)
    ids = np.asarray(rec.ids, dtype=np.int64)
    return steps, ids


# ===================================================================================
# Hypothesis strategies for random networks (imported lazily: hypothesis is a test dep)
# ===================================================================================


def net_specs(nest_compatible: bool = False, synapse: Optional[str] = None, max_pop: int = 10):
    """A hypothesis strategy of small random networks (NetSpec).

    Weights are dyadic (multiples of 1/16 mV for delta synapses and IF, of 1/4 pA for exp
    synapses) so that the order in which simultaneous inputs are summed cannot change a sum.
    Delays, refractory periods and spike times are on the grid.  ``nest_compatible`` keeps to
    what NEST can express: LIF with reset to a value, spike times > 0.
    """
    from hypothesis import strategies as st

    dyadic_mv = st.integers(-96, 192).map(lambda k: k / 16.0)
    dyadic_pa = st.integers(-2400, 4000).map(lambda k: k / 4.0)

    @st.composite
    def lif(draw, n, dt):
        syn = synapse or draw(st.sampled_from(["delta", "delta", "exp"]))
        v_rest = draw(st.sampled_from([0.0, -65.0, -70.0]))
        theta = draw(st.sampled_from([8.0, 15.0, 20.0]))
        reset_rel = min(draw(st.sampled_from([0.0, 5.0, 10.0])), theta - 3.0)
        reset = "value" if nest_compatible else draw(st.sampled_from(["value", "value", "subtract"]))
        per_neuron_tau = draw(st.booleans())
        if per_neuron_tau:
            tau_m = np.array(draw(st.lists(st.floats(2.0, 50.0), min_size=n, max_size=n)))
        else:
            tau_m = draw(st.sampled_from([5.0, 10.0, 20.0, 33.3]))
        i_e = draw(st.sampled_from([0.0, 0.0, 0.0, 150.0, 260.0, 400.0]))
        t_ref = draw(st.integers(0, 25)) * dt
        v_init = draw(st.one_of(st.none(), st.floats(-5.0, 25.0).map(lambda x: v_rest + x)))
        kw = dict(
            tau_m=tau_m, v_rest=v_rest, v_th=v_rest + theta, v_reset=v_rest + reset_rel,
            t_ref=t_ref, c_m=draw(st.sampled_from([100.0, 250.0])), i_e=i_e, synapse=syn,
            reset=reset, v_init=v_init,
        )
        if syn == "exp":
            kw["tau_syn_ex"] = draw(st.sampled_from([0.5, 2.0, 5.0]))
            kw["tau_syn_in"] = draw(st.sampled_from([1.0, 2.0, 8.0]))
            if draw(st.integers(0, 9)) == 0:
                kw["tau_syn_ex"] = tau_m if np.ndim(tau_m) == 0 else 2.0  # singular case
        return LIF(**kw)

    @st.composite
    def if_model(draw, n, dt):
        return IF(
            v_th=draw(st.sampled_from([1.0, 4.0, 10.0])),
            v_reset=draw(st.sampled_from([0.0, 0.5])),
            t_ref=draw(st.integers(0, 5)) * dt,
            c_m=draw(st.sampled_from([1.0, 250.0])),
            i_e=draw(st.sampled_from([0.0, 0.0, 0.0625, 2.5])),
            reset=draw(st.sampled_from(["subtract", "value"])),
            v_init=draw(st.one_of(st.none(), st.integers(-16, 16).map(lambda k: k / 16.0))),
        )

    @st.composite
    def spec(draw):
        dt = draw(st.sampled_from([0.1, 0.1, 0.25, 0.5, 1.0]))
        n_steps = draw(st.integers(20, 300))
        nodes: List[Union[PopSpec, SourceSpec]] = []
        n_pops = draw(st.integers(1, 3))
        n_srcs = draw(st.integers(1, 2))
        kinds = draw(st.permutations(["pop"] * n_pops + ["src"] * n_srcs))
        for kind in kinds:
            n = draw(st.integers(1, max_pop))
            if kind == "pop":
                use_if = (not nest_compatible) and synapse is None and draw(st.integers(0, 4)) == 0
                model = draw(if_model(n, dt)) if use_if else draw(lif(n, dt))
                nodes.append(PopSpec(n, model))
            else:
                k = draw(st.integers(0, 120))
                lo = 1 if nest_compatible else 0
                steps = draw(st.lists(st.integers(lo, n_steps), min_size=k, max_size=k))
                ids = draw(st.lists(st.integers(0, n - 1), min_size=k, max_size=k))
                nodes.append(SourceSpec(n, np.array(steps, dtype=np.float64) * dt, np.array(ids, dtype=np.int64)))
        conns = []
        pop_ids = [k for k, nd in enumerate(nodes) if isinstance(nd, PopSpec)]
        for post in pop_ids:
            for pre in range(len(nodes)):
                from_source = isinstance(nodes[pre], SourceSpec)
                if not from_source and not draw(st.booleans()):
                    continue
                m = draw(st.integers(5 if from_source else 0, 40))
                n_pre, n_post = nodes[pre].n, nodes[post].n
                pre_idx = np.array(draw(st.lists(st.integers(0, n_pre - 1), min_size=m, max_size=m)), dtype=np.int64)
                post_idx = np.array(draw(st.lists(st.integers(0, n_post - 1), min_size=m, max_size=m)), dtype=np.int64)
                target = nodes[post].model
                wst = dyadic_pa if (isinstance(target, LIF) and target.synapse == "exp") else dyadic_mv
                if isinstance(target, IF):
                    wst = st.integers(-24, 40).map(lambda k: k / 16.0)
                weights = np.array(draw(st.lists(wst, min_size=m, max_size=m)), dtype=np.float64)
                dmax = max(1, int(round(5.0 / dt)))
                dsteps = draw(st.lists(st.integers(1, dmax), min_size=m, max_size=m))
                delays = np.array(dsteps, dtype=np.float64) * dt
                conns.append(ConnSpec(pre, post, pre_idx, post_idx, weights, delays))
        return NetSpec(dt, nodes, conns, n_steps * dt)

    return spec()
