"""The `Network`: build populations and projections, run, read results.

Time semantics (see the README's "Time and update order" section):

* grid mode (``dt`` in ms): the state at step ``s`` is the state at time ``s*dt``; spikes are
  stamped ``s*dt``; a spike sent with delay ``d`` is input at step ``s + d/dt``; neurons update
  in NEST's order (``iaf_psc_delta`` / ``iaf_psc_exp``): for a delta synapse
  ``v[s] = v_rest + beta*(v[s-1]-v_rest) + bias + input[s]``, spike if ``v[s] >= v_th``, then reset
  and refractoriness (inputs arriving while refractory are discarded).
* continuous mode (``dt=None``): exact integration between events, threshold crossings of
  current-driven neurons located to 1e-9 ms.

Both modes are event driven: a neuron is visited only when an event reaches it.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any, Dict, Iterable, List, Optional, Sequence, Tuple, Union

import numpy as np

from spikeflow import _core
from spikeflow._arrays import float_array, index_array, param_value
from spikeflow.errors import ConnectivityError, ParameterError
from spikeflow.model.connectors import AllToAll, Connector, Conv2d, FromArrays, Pool2d
from spikeflow.model.neurons import IF, LIF, NeuronModel
from spikeflow.model.plasticity import STDP, Normalize, RewardSTDP, Rewiring, TripletSTDP
from spikeflow.model.values import Normal, Uniform
from spikeflow.sim.recorders import SpikeRecorder, VoltageRecorder

__all__ = ["Network", "Population", "Projection", "BatchResult"]

WeightLike = Union[float, Sequence[float], np.ndarray, Uniform, Normal]

_NEURON_PARAMS = ("tau_m", "v_rest", "v_th", "v_reset", "t_ref", "c_m", "i_e", "tau_syn_ex", "tau_syn_in",
                  "e_rev_ex", "e_rev_in", "theta_plus")


class Population:
    """A group of neurons or sources in a network. ``len(pop)`` is its size."""

    def __init__(self, net: "Network", index: int, name: str, size: int, kind: str,
                 model: Optional[NeuronModel] = None) -> None:
        self.network = net
        self.index = index
        self.name = name
        self.size = size
        self.kind = kind
        self.model = model

    def __len__(self) -> int:
        return self.size

    def membrane(self) -> np.ndarray:
        """Membrane potentials (absolute mV) of all neurons now."""
        return self.network._core.membrane(self.index)

    @property
    def theta(self) -> np.ndarray:
        """Adaptive part of each neuron's threshold now (mV; the threshold is ``v_th + theta``).

        Zeros for a population without an adaptive threshold (``sf.LIF(theta_plus=0)``).
        """
        return self.network._core.theta(self.index)

    @property
    def rates(self) -> np.ndarray:
        """Rates (Hz) of a Poisson population, one per source; assign to change them.

        A new rate takes effect from the current time on (between runs), e.g. to present a new
        image: ``inputs.rates = image.ravel() / 4.0`` then ``net.run(350.0)``.
        """
        if self.kind != "poisson":
            raise ParameterError(f"population {self.name!r} is not a Poisson source (made by add_poisson)")
        return self.network._core.rates(self.index)

    @rates.setter
    def rates(self, values: Any) -> None:
        if self.kind != "poisson":
            raise ParameterError(f"population {self.name!r} is not a Poisson source (made by add_poisson)")
        self.network._core.set_rates(self.index, param_value(values, "rate", self.size))

    def __repr__(self) -> str:
        return f"Population({self.name!r}, size={self.size}, kind={self.kind!r})"


class Projection:
    """Synapses from one population to another.

    ``weights``, ``delays``, ``pre`` and ``post`` are numpy arrays in storage order (sorted by
    presynaptic neuron, then delay; explicit synapses keep their given order within that).
    Assigning ``proj.weights = array`` replaces all weights.

    A convolution or pooling (`sf.Conv2d`, `sf.Pool2d`) stores only its kernel: ``weights`` is
    the kernel, shape ``kernel_shape`` ``(C', C/groups, kh, kw)``; ``pre``/``post``/``delays``
    list the synapses of the equivalent explicit projection (computed on request).
    """

    def __init__(self, net: "Network", index: int, pre: Population, post: Population) -> None:
        self.network = net
        self.index = index
        self.pre_population = pre
        self.post_population = post

    @property
    def n_synapses(self) -> int:
        """Number of synapses."""
        return self.network._core.projection_info(self.index)[2]

    def __len__(self) -> int:
        return self.n_synapses

    @property
    def kernel_shape(self) -> Optional[Tuple[int, int, int, int]]:
        """``(C', C/groups, kh, kw)`` of a convolution or pooling, else None."""
        g = self.network._core.projection_conv(self.index)
        if g is None:
            return None
        return (g[1][0], g[0][0] // g[6], g[2][0], g[2][1])

    @property
    def weights(self) -> np.ndarray:
        """Weight of every synapse (mV for delta synapses, pA for exp synapses); the kernel
        ``(C', C/groups, kh, kw)`` of a convolution."""
        w = self.network._core.projection_weights(self.index)
        shape = self.kernel_shape
        return w if shape is None else w.reshape(shape)

    @weights.setter
    def weights(self, values: Any) -> None:
        shape = self.kernel_shape
        if shape is not None:
            arr = np.asarray(values, dtype=np.float64)
            if arr.ndim > 1 and arr.shape != shape:
                raise ParameterError(f"weights: a kernel of shape {arr.shape}; expected {shape}")
            values = arr.reshape(-1)
        w = float_array(values, "weights")
        n = self.n_synapses if shape is None else int(np.prod(shape))
        if w.shape[0] == 1 and n != 1:
            w = np.full(n, w[0])
        self.network._core.set_projection_weights(self.index, w)

    @property
    def delays(self) -> np.ndarray:
        """Delay of every synapse (ms)."""
        return self.network._core.projection_delays(self.index)

    @property
    def pre(self) -> np.ndarray:
        """Presynaptic index (within its population) of every synapse."""
        return self.network._core.projection_pre(self.index)

    @property
    def post(self) -> np.ndarray:
        """Postsynaptic index (within its population) of every synapse."""
        return self.network._core.projection_post(self.index)

    @property
    def bytes_per_synapse(self) -> float:
        """Bytes of synapse storage per synapse (a convolution: its kernel, geometry and row
        pointer divided by the equivalent number of synapses)."""
        _, _, n, b = self.network._core.projection_info(self.index)
        return b / n if n else 0.0

    @property
    def learning_rate(self) -> float:
        """Factor on every amplitude of this projection's plasticity rule (1.0 as created).

        Set it between runs to anneal learning or to freeze the weights (0.0) while traces
        keep running; it is saved in checkpoints. A projection without plasticity raises
        `ParameterError`.
        """
        return self.network._core.learning_rate(self.index)

    @learning_rate.setter
    def learning_rate(self, eta: float) -> None:
        self.network._core.set_learning_rate(self.index, float(eta))

    def normalize(self, target_sum: Optional[float] = None) -> None:
        """Scale each postsynaptic neuron's incoming weights so they sum to ``target_sum``, now.

        ``target_sum`` defaults to the ``sf.Normalize`` target given when connecting. Each
        neuron whose weights sum to ``S > 0`` has them multiplied by ``target_sum / S`` (others
        are left alone; nothing is clipped, see `sf.Normalize`). Plastic weights are exact to
        float64 rounding; static projections store float32 weights.
        """
        target = None
        if target_sum is not None:
            target = Normalize(target_sum).spec()[0]
        self.network._core.normalize(self.index, target)

    def __repr__(self) -> str:
        return (f"Projection({self.pre_population.name!r} -> {self.post_population.name!r}, "
                f"{self.n_synapses} synapses)")


@dataclass
class BatchResult:
    """Per-sample results of `Network.run_batch`.

    ``counts[name]`` and ``first_spike[name]`` have shape (samples, population size); a neuron
    that did not spike has first-spike time NaN. ``spikes`` (samples, populations) and
    ``synaptic_events`` (samples, projections) count the work each sample caused.
    """

    counts: Dict[str, np.ndarray]
    first_spike: Dict[str, np.ndarray]
    spikes: np.ndarray
    synaptic_events: np.ndarray
    population_names: List[str] = field(default_factory=list)

    def predictions(self, population: str) -> np.ndarray:
        """Index of the most active neuron per sample (ties: earliest first spike)."""
        counts = self.counts[population].astype(np.float64)
        first = np.nan_to_num(self.first_spike[population], nan=np.inf)
        # Most spikes wins; among equals, the earliest first spike.
        score = counts - 1e-9 * np.minimum(first, 1e8)
        return np.argmax(score, axis=1)


def _plasticity(rule: Any) -> tuple:
    if not isinstance(rule, (STDP, TripletSTDP, RewardSTDP)):
        raise TypeError("plasticity must be sf.STDP(...), sf.TripletSTDP(...) or sf.RewardSTDP(...), "
                        f"got {type(rule).__name__}")
    return rule.spec()


def _values(value: Any, what: str) -> tuple:
    if isinstance(value, (Uniform, Normal)):
        return value.spec()
    if np.isscalar(value) and not isinstance(value, (str, bytes)):
        try:
            return ("scalar", float(value))
        except (TypeError, ValueError) as exc:
            raise ParameterError(f"{what} must be a number, an array or a distribution, got {value!r}") from exc
    arr = np.asarray(value, dtype=np.float64)
    return ("array", np.ascontiguousarray(arr.reshape(-1)))


class Network:
    """An event-driven spiking network.

    Parameters
    ----------
    dt:
        Grid step in ms, or ``None`` for exact continuous-time simulation.
    seed:
        Seed of every random choice (connectivity, weights, delays, Poisson inputs, initial
        voltages). The same seed gives the same network and the same spikes.
    """

    def __init__(self, dt: Optional[float] = 0.1, seed: int = 0) -> None:
        if dt is not None:
            try:
                dt = float(dt)
            except (TypeError, ValueError) as exc:
                raise ParameterError(f"dt must be a number of ms or None, got {dt!r}") from exc
        if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
            raise ParameterError(f"seed must be a non-negative integer, got {seed!r}")
        self._core = _core.Network(dt, int(seed) & 0xFFFF_FFFF_FFFF_FFFF)
        self.populations: List[Population] = []
        self.projections: List[Projection] = []
        #: Every recorder made by `record_spikes` / `record_voltage`, in order (kept by `save`).
        self.recorders: List[Union[SpikeRecorder, VoltageRecorder]] = []

    # ----- structure ---------------------------------------------------------------------

    @property
    def dt(self) -> Optional[float]:
        """Grid step (ms), or None in continuous time."""
        return self._core.dt

    @property
    def seed(self) -> int:
        """The network's seed."""
        return self._core.seed

    @property
    def time(self) -> float:
        """Simulated time reached so far (ms)."""
        return self._core.time

    def _size(self, n: Any, what: str) -> int:
        if isinstance(n, bool) or not isinstance(n, (int, np.integer)):
            raise ParameterError(f"{what}: size must be an integer, got {n!r}")
        if n <= 0:
            raise ParameterError(f"{what}: size must be >= 1, got {n}")
        return int(n)

    def _own(self, pop: Any, role: str) -> Population:
        if not isinstance(pop, Population):
            raise TypeError(f"{role} must be a Population returned by this network, got {type(pop).__name__}")
        if pop.network is not self:
            raise ConnectivityError(
                f"{role} population {pop.name!r} belongs to a different network; "
                "populations can only be connected within the network that created them"
            )
        return pop

    def _register(self, index: int, model: Optional[NeuronModel] = None) -> Population:
        name, size, kind = self._core.population_info(index)
        pop = Population(self, index, name, size, kind, model)
        self.populations.append(pop)
        return pop

    def add_population(self, n: int, model: NeuronModel, name: Optional[str] = None) -> Population:
        """Add ``n`` neurons of ``model`` (`sf.LIF` or `sf.IF`)."""
        n = self._size(n, "add_population")
        if not isinstance(model, (LIF, IF)):
            raise TypeError(f"model must be sf.LIF(...) or sf.IF(...), got {type(model).__name__}")
        params = {}
        for key in _NEURON_PARAMS:
            if hasattr(model, key):
                params[key] = param_value(getattr(model, key), key, n)
        v_init = model.v_init
        if v_init is not None and not (isinstance(v_init, tuple) and len(v_init) == 2):
            v_init = param_value(v_init, "v_init", n)
        elif isinstance(v_init, tuple):
            v_init = (float(v_init[0]), float(v_init[1]))
        if isinstance(model, IF):
            kind, synapse = "if", "delta"
            params.setdefault("tau_m", 1.0)
        else:
            kind, synapse = "lif", model.synapse
        if isinstance(model, LIF):
            try:
                params["tau_theta"] = float(model.tau_theta)
            except (TypeError, ValueError) as exc:
                raise ParameterError(f"tau_theta must be a number of ms (or math.inf), got {model.tau_theta!r}") from exc
        index = self._core.add_population(n, kind, synapse, model.reset, params, v_init, name)
        return self._register(index, model)

    def add_spike_source(self, times: Any, ids: Any, n: Optional[int] = None,
                         name: Optional[str] = None) -> Population:
        """Sources that emit the given spikes: source ``ids[k]`` fires at ``times[k]`` ms.

        ``n`` (number of sources) defaults to ``max(ids) + 1``. On a grid a time is rounded to
        its step when within 1e-6 step of it, otherwise up to the next step (as NEST does
        with off-grid spike times).
        """
        t = float_array(times, "times")
        i = index_array(ids, "ids")
        if n is None:
            n = int(i.max()) + 1 if i.size else 1
        n = self._size(n, "add_spike_source")
        return self._register(self._core.add_spike_source(n, t, i, name))

    def add_poisson(self, n: int, rate: Any, name: Optional[str] = None) -> Population:
        """``n`` independent Poisson spike trains of ``rate`` Hz (scalar or one per source).

        Each source's train is shared by all its targets. On a grid each source draws a
        Poisson count per step (cheap at high rates); in continuous time spikes are drawn one
        by one.
        """
        n = self._size(n, "add_poisson")
        r = param_value(rate, "rate", n)
        return self._register(self._core.add_poisson(n, r, name))

    def connect(self, pre: Population, post: Population, connector: Connector,
                weight: Optional[WeightLike] = None, delay: Optional[WeightLike] = None,
                plasticity: Optional[Union[STDP, TripletSTDP, RewardSTDP]] = None,
                normalize: Optional[Normalize] = None, rewiring: Optional[Rewiring] = None) -> Projection:
        """Connect ``pre`` to ``post`` with a connection rule.

        ``weight`` (default 1.0; mV for delta synapses, pA for exp synapses) and ``delay``
        (default 1.0 ms, or ``dt`` if 1.0 is off the grid) are scalars, per-synapse arrays
        (AllToAll as an ``(n_pre, n_post)`` matrix, OneToOne, FromArrays) or distributions
        (`sf.Uniform`, `sf.Normal`). On a grid, given delays must be multiples of ``dt``;
        drawn delays are rounded to the nearest step. ``plasticity=sf.STDP(...)`` makes the
        synapses learn (``proj.weights`` then returns the current, learned weights).
        ``sf.Conv2d(...)`` and ``sf.Pool2d(...)`` connect ``(C, H, W)`` populations with a shared
        kernel (``weight``: the kernel, a scalar or a distribution; one ``delay``).
        ``normalize=sf.Normalize(target_sum, interval)`` scales each postsynaptic neuron's
        incoming weights to a target sum (periodically, or with ``proj.normalize()``);
        ``rewiring=sf.Rewiring(...)`` prunes weak synapses and grows new ones (plastic
        projections with one delay).
        """
        pre = self._own(pre, "pre")
        post = self._own(post, "post")
        if not isinstance(connector, Connector):
            raise TypeError(f"connector must be sf.AllToAll(), sf.FixedInDegree(k), ..., got {type(connector).__name__}")
        if normalize is not None and not isinstance(normalize, Normalize):
            raise TypeError(f"normalize must be sf.Normalize(...), got {type(normalize).__name__}")
        if rewiring is not None and not isinstance(rewiring, Rewiring):
            raise TypeError(f"rewiring must be sf.Rewiring(...), got {type(rewiring).__name__}")
        if isinstance(connector, (Conv2d, Pool2d)):
            if normalize is not None or rewiring is not None:
                raise ParameterError("normalize= and rewiring= are not supported on Conv2d/Pool2d projections")
            return self._connect_conv(pre, post, connector, weight, delay, plasticity)
        if isinstance(connector, FromArrays):
            weight = connector.weight if weight is None else weight
            delay = connector.delay if delay is None else delay
        if weight is None:
            weight = 1.0
        if delay is None:
            dt = self.dt
            delay = 1.0 if dt is None or abs(round(1.0 / dt) * dt - 1.0) < 1e-9 else dt
        if isinstance(connector, AllToAll) and not np.isscalar(weight) and not isinstance(weight, (Uniform, Normal)):
            w = np.asarray(weight, dtype=np.float64)
            if w.ndim == 2 and w.shape != (pre.size, post.size):
                raise ParameterError(
                    f"AllToAll weight matrix has shape {w.shape}; expected (n_pre, n_post) = ({pre.size}, {post.size})"
                )
        dopamine = None
        if isinstance(plasticity, RewardSTDP) and plasticity.dopamine is not None:
            dopamine = self._own(plasticity.dopamine, "dopamine").index
        args = connector.engine_args()
        index = self._core.connect(pre.index, post.index, args["rule"], args["k"], args["p"], args["autapses"],
                                   args["multapses"], args["pre_ids"], args["post_ids"],
                                   _values(weight, "weight"), _values(delay, "delay"),
                                   None if plasticity is None else _plasticity(plasticity), dopamine,
                                   None if normalize is None else normalize.spec(),
                                   None if rewiring is None else rewiring.spec())
        proj = Projection(self, index, pre, post)
        self.projections.append(proj)
        return proj

    def _connect_conv(self, pre: Population, post: Population, conv: Union[Conv2d, Pool2d], weight: Any,
                      delay: Any, plasticity: Any) -> Projection:
        """`connect` for `sf.Conv2d` / `sf.Pool2d`: a kernel, one delay, no per-synapse storage."""
        who = type(conv).__name__
        geometry = conv.engine_geometry()
        if delay is None:
            dt = self.dt
            delay = 1.0 if dt is None or abs(round(1.0 / dt) * dt - 1.0) < 1e-9 else dt
        if isinstance(delay, (Uniform, Normal)) or not np.isscalar(delay):
            raise ParameterError(f"{who}: give one delay (a number of ms); a convolution has no per-synapse delays")
        if weight is None:
            weight = 1.0
        shape = conv.kernel_shape
        if isinstance(conv, Pool2d):
            if plasticity is not None:
                raise ParameterError(f"Pool2d(mode={conv.mode!r}) has fixed weights; plasticity is for sf.Conv2d")
            if isinstance(weight, (Uniform, Normal)) or not np.isscalar(weight):
                raise ParameterError("Pool2d: weight must be one number (the window's scale)")
            weight = conv.kernel(float(weight))
            mode = conv.engine_mode
        else:
            mode = "sum"
        if not np.isscalar(weight) and not isinstance(weight, (Uniform, Normal)):
            arr = np.asarray(weight, dtype=np.float64)
            if arr.shape != shape and arr.shape != (int(np.prod(shape)),):
                raise ParameterError(f"{who}: kernel of shape {arr.shape}; expected {shape} (C', C/groups, kh, kw)")
            weight = arr
        rule = None
        if plasticity is not None:
            rule = _plasticity(plasticity)
            if isinstance(plasticity, RewardSTDP):
                raise ParameterError(f"{who}: reward-modulated STDP is not available on convolutions "
                                     "(use sf.STDP or sf.TripletSTDP)")
        index = self._core.connect_conv(pre.index, post.index, geometry, mode, _values(weight, "weight"),
                                        _values(delay, "delay"), rule)
        proj = Projection(self, index, pre, post)
        self.projections.append(proj)
        return proj

    def add_current(self, population: Population, amplitude: Optional[float] = None, *,
                    times: Any = None, amplitudes: Any = None, ids: Any = None) -> None:
        """Inject a current (pA) into ``population`` (or its neurons ``ids``).

        ``add_current(pop, 200.0)`` is a constant current from time 0; with ``times`` and
        ``amplitudes`` it is a step current taking ``amplitudes[k]`` from ``times[k]`` on.
        """
        pop = self._own(population, "population")
        if amplitude is not None:
            if times is not None or amplitudes is not None:
                raise ParameterError("give either amplitude= (constant) or times= and amplitudes= (steps), not both")
            times, amplitudes = [0.0], [amplitude]
        if times is None or amplitudes is None:
            raise ParameterError("add_current needs amplitude= or both times= and amplitudes=")
        id_arr = None if ids is None else index_array(ids, "ids")
        self._core.add_current(pop.index, id_arr, float_array(times, "times"), float_array(amplitudes, "amplitudes"))

    # ----- recording ---------------------------------------------------------------------

    def record_spikes(self, population: Population) -> SpikeRecorder:
        """Record the spikes of a population from now on."""
        pop = self._own(population, "population")
        rec = SpikeRecorder(self, pop, self._core.record_spikes(pop.index))
        self.recorders.append(rec)
        return rec

    def record_voltage(self, population: Population, times: Any, ids: Any = None) -> VoltageRecorder:
        """Sample the membrane potential of ``ids`` (default: all neurons) at ``times`` (ms)."""
        pop = self._own(population, "population")
        t = float_array(times, "times")
        id_arr = np.arange(pop.size, dtype=np.uint32) if ids is None else index_array(ids, "ids")
        probe = self._core.record_voltage(pop.index, id_arr, t)
        rec = VoltageRecorder(self, pop, probe, t, id_arr.astype(np.int64))
        self.recorders.append(rec)
        return rec

    # ----- running -----------------------------------------------------------------------

    def run(self, duration: float) -> None:
        """Simulate ``duration`` ms more. ``run(a); run(b)`` equals ``run(a + b)``.

        The GIL is released while the engine works; Ctrl-C stops it within about 0.1 s and
        leaves the network usable at the time reached.
        """
        try:
            duration = float(duration)
        except (TypeError, ValueError) as exc:
            raise ParameterError(f"duration must be a number of ms, got {duration!r}") from exc
        self._core.run(duration)

    def set_dopamine(self, projection: Projection, level: float) -> None:
        """Set the dopamine concentration of a reward-modulated projection now (it then decays
        with the rule's ``tau_d``): the reward signal of :class:`sf.RewardSTDP`."""
        if not isinstance(projection, Projection) or projection.network is not self:
            raise TypeError("set_dopamine needs a Projection of this network")
        self._core.set_dopamine(projection.index, float(level))

    def reset(self) -> None:
        """Back to time 0: initial voltages, empty queues and recordings; structure kept.
        The network can be extended again after a reset."""
        self._core.reset()

    def save(self, path: Union[str, "os.PathLike[str]"]) -> None:
        """Save the whole network to a checkpoint file; `sf.load(path)` gives it back.

        Everything is kept: structure, parameters, weights (learned or written), plastic,
        neuron and threshold state, pending spikes, random streams, recordings and counters,
        so that ``save``, ``load`` and ``run`` give exactly the spikes, voltages and weights of
        an uninterrupted run. The file (``docs/checkpoint.md``) holds no pickle; it is written
        to a temporary file and renamed, so an existing checkpoint survives a failed save.
        """
        from spikeflow.sim.checkpoint import save

        save(self, path)

    def counters(self) -> Dict[str, Any]:
        """Work done and memory used: spikes, synaptic events, bytes per synapse, per
        population and per projection; ``pruned``/``created`` count synapses removed and grown
        by structural plasticity (`sf.Rewiring`)."""
        c = self._core.counters()
        t_s = c["time_ms"] / 1000.0
        pops = {}
        for pop, spikes in zip(self.populations, c["spikes_per_population"]):
            pops[pop.name] = {
                "size": pop.size,
                "kind": pop.kind,
                "spikes": int(spikes),
                "rate_hz": spikes / (pop.size * t_s) if t_s > 0 else 0.0,
            }
        projs = {}
        for proj, events, pruned, created in zip(self.projections, c["synaptic_events_per_projection"],
                                                 c["pruned_per_projection"], c["created_per_projection"]):
            key = f"{proj.index}:{proj.pre_population.name}->{proj.post_population.name}"
            projs[key] = {
                "synapses": proj.n_synapses,
                "synaptic_events": int(events),
                "bytes_per_synapse": proj.bytes_per_synapse,
                "pruned": int(pruned),
                "created": int(created),
            }
        n_syn = c["synapses"]
        return {
            "time_ms": c["time_ms"],
            "neurons": c["neurons"],
            "synapses": n_syn,
            "spikes": c["spikes"],
            "synaptic_events": c["synaptic_events"],
            "bytes_per_synapse": c["synapse_bytes"] / n_syn if n_syn else 0.0,
            "synapse_bytes": c["synapse_bytes"],
            "neuron_bytes": c["neuron_bytes"],
            "neuron_updates": c["neuron_updates"],
            "deliveries": c["deliveries"],
            "predicted_crossings": c["predicted_crossings"],
            "pending_events": c["pending_events"],
            "pruned": int(sum(c["pruned_per_projection"])),
            "created": int(sum(c["created_per_projection"])),
            "populations": pops,
            "projections": projs,
        }

    def run_batch(self, source: Population, inputs: Iterable[Tuple[Any, Any]], duration: float,
                  record: Optional[Sequence[Population]] = None,
                  threads: Optional[int] = None) -> BatchResult:
        """Run many independent samples through the network, in parallel on all cores.

        Each sample ``(times, ids)`` replaces the spikes of the spike source ``source`` and
        runs ``duration`` ms from the reset state (the network's own state is untouched).
        Per-sample random streams are keyed by the seed and the sample index, so results do
        not depend on ``threads`` (default: all cores, or ``SPIKEFLOW_THREADS``).
        """
        src = self._own(source, "source")
        if src.kind != "spike_source":
            raise ParameterError(f"run_batch: {src.name!r} is not a spike source (add_spike_source)")
        pops = [p for p in self.populations if p.kind == "neurons"] if record is None else [
            self._own(p, "record") for p in record]
        samples = []
        for k, item in enumerate(inputs):
            try:
                times, ids = item
            except (TypeError, ValueError) as exc:
                raise ParameterError(f"run_batch: sample {k} must be a (times, ids) pair") from exc
            samples.append((float_array(times, f"sample {k} times"), index_array(ids, f"sample {k} ids")))
        if threads is None:
            threads = int(os.environ.get("SPIKEFLOW_THREADS", "0") or 0)
        if isinstance(threads, bool) or not isinstance(threads, (int, np.integer)) or threads < 0:
            raise ParameterError(f"threads must be a non-negative integer, got {threads!r}")
        counts, firsts, spikes, events = self._core.run_batch(
            src.index, samples, float(duration), [p.index for p in pops], int(threads))
        return BatchResult(
            counts={p.name: c for p, c in zip(pops, counts)},
            first_spike={p.name: f for p, f in zip(pops, firsts)},
            spikes=spikes,
            synaptic_events=events,
            population_names=[p.name for p in self.populations],
        )

    def __repr__(self) -> str:
        mode = f"dt={self.dt}" if self.dt is not None else "continuous"
        return (f"Network({mode}, seed={self.seed}, {len(self.populations)} populations, "
                f"{len(self.projections)} projections, t={self.time} ms)")

