"""Synaptic plasticity rules, computed in Rust at spike times."""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Literal, Optional, Tuple

import numpy as np

from spikeflow.errors import ParameterError

__all__ = ["STDP", "TripletSTDP", "RewardSTDP", "Normalize", "Rewiring"]


@dataclass(frozen=True)
class STDP:
    """Pair-based spike-timing-dependent plasticity (Song, Miller & Abbott 2000).

    Pass as ``net.connect(pre, post, connector, weight=..., delay=..., plasticity=sf.STDP(...))``.
    A pair is judged where the synapse meets the postsynaptic neuron, NEST ``stdp_synapse``'s
    convention (the whole delay is dendritic): ``dt = t_post - (t_pre + delay)``.

    * ``dt > 0``: ``w += a_plus * F+(w) * exp(-dt / tau_plus)``
    * ``dt < 0``: ``w -= a_minus * F-(w) * exp(dt / tau_minus)`` (``a_minus`` is the magnitude)
    * ``dt = 0``: no change.

    ``rule="additive"``: ``F+ = F- = 1`` and the weight is clipped to ``[w_min, w_max]`` (hard
    bounds). ``rule="multiplicative"`` (Gütig et al. 2003): ``F+ = ((w_max - w)/(w_max - w_min))**mu``
    and ``F- = ((w - w_min)/(w_max - w_min))**mu`` (soft bounds; ``mu=1`` is the classic
    multiplicative rule, ``mu -> 0`` approaches the additive one).
    ``pairing="all"``: every pre/post pair counts (traces add up); ``"nearest"``: each spike
    pairs only with the nearest earlier spike of the other side (traces reset to 1).
    Weights are in the projection's weight units (mV for delta synapses, pA for exp synapses).
    Work is done only at spikes: depression when a presynaptic spike arrives, potentiation
    when the postsynaptic neuron fires.
    """

    tau_plus: float = 20.0
    tau_minus: float = 20.0
    a_plus: float = 0.01
    a_minus: float = 0.0105
    w_min: float = 0.0
    w_max: float = 1.0
    rule: Literal["additive", "multiplicative"] = "additive"
    pairing: Literal["all", "nearest"] = "all"
    mu: float = 1.0

    def spec(self) -> tuple:
        """The tuple the engine understands."""
        if self.rule not in ("additive", "multiplicative"):
            raise ParameterError(f"STDP rule must be 'additive' or 'multiplicative', got {self.rule!r}")
        if self.pairing not in ("all", "nearest"):
            raise ParameterError(f"STDP pairing must be 'all' or 'nearest', got {self.pairing!r}")
        mu = 0.0 if self.rule == "additive" else float(self.mu)
        try:
            vals = [float(v) for v in (self.tau_plus, self.tau_minus, self.a_plus, self.a_minus, self.w_min,
                                       self.w_max)]
        except (TypeError, ValueError) as exc:
            raise ParameterError(f"STDP parameters must be numbers: {exc}") from exc
        return ("stdp", *vals, mu, self.pairing, 100.0, 100.0, 0.0, 0.0)


# Pfister & Gerstner (2006), Table 4: fits of the triplet model to visual-cortex slices
# (Sjöström et al. 2001) and hippocampal cultures (Wang et al. 2005), for all-to-all and
# nearest-spike interactions. tau_plus = 16.8 ms and tau_minus = 33.7 ms throughout.
_PRESETS = {
    ("visual_cortex", "all"): dict(tau_x=101.0, tau_y=125.0, a2_plus=5e-10, a3_plus=6.2e-3, a2_minus=7e-3,
                                   a3_minus=2.3e-4),
    ("visual_cortex", "nearest"): dict(tau_x=714.0, tau_y=40.0, a2_plus=8.8e-11, a3_plus=5.3e-2, a2_minus=6.6e-3,
                                       a3_minus=3.1e-3),
    ("hippocampal", "all"): dict(tau_x=946.0, tau_y=27.0, a2_plus=6.1e-3, a3_plus=6.7e-3, a2_minus=1.6e-3,
                                 a3_minus=1.4e-3),
    ("hippocampal", "nearest"): dict(tau_x=575.0, tau_y=47.0, a2_plus=4.6e-3, a3_plus=9.1e-3, a2_minus=3e-3,
                                     a3_minus=7.5e-9),
}


@dataclass(frozen=True)
class TripletSTDP:
    """Triplet STDP (Pfister & Gerstner 2006), same conventions as :class:`STDP`.

    Each side keeps a fast and a slow trace. At a postsynaptic spike
    ``w += r1 * (a2_plus + a3_plus * o2)`` and at a presynaptic arrival
    ``w -= o1 * (a2_minus + a3_minus * r2)``, where ``r1``/``r2`` are the presynaptic traces
    (``tau_plus``, ``tau_x``), ``o1``/``o2`` the postsynaptic ones (``tau_minus``, ``tau_y``),
    each slow trace read just before its own spike's increment. Additive with hard bounds.
    ``TripletSTDP.preset("visual_cortex" | "hippocampal", pairing="all" | "nearest")`` gives the
    published fits (amplitudes are weight changes per pairing; scale them to your weights).
    """

    tau_plus: float = 16.8
    tau_minus: float = 33.7
    tau_x: float = 101.0
    tau_y: float = 125.0
    a2_plus: float = 5e-10
    a3_plus: float = 6.2e-3
    a2_minus: float = 7e-3
    a3_minus: float = 2.3e-4
    w_min: float = 0.0
    w_max: float = 1.0
    pairing: Literal["all", "nearest"] = "all"

    @classmethod
    def preset(cls, name: str, pairing: str = "all", **overrides: float) -> "TripletSTDP":
        """The published parameter set ``name`` ("visual_cortex" or "hippocampal")."""
        key = (name, pairing)
        if key not in _PRESETS:
            raise ParameterError(
                f"unknown triplet preset {name!r} with pairing {pairing!r}; "
                "use 'visual_cortex' or 'hippocampal' with 'all' or 'nearest'"
            )
        return cls(pairing=pairing, **{**_PRESETS[key], **overrides})

    def spec(self) -> tuple:
        """The tuple the engine understands."""
        if self.pairing not in ("all", "nearest"):
            raise ParameterError(f"TripletSTDP pairing must be 'all' or 'nearest', got {self.pairing!r}")
        try:
            v = [float(x) for x in (self.tau_plus, self.tau_minus, self.a2_plus, self.a2_minus, self.w_min,
                                    self.w_max)]
            t = [float(x) for x in (self.tau_x, self.tau_y, self.a3_plus, self.a3_minus)]
        except (TypeError, ValueError) as exc:
            raise ParameterError(f"TripletSTDP parameters must be numbers: {exc}") from exc
        return ("stdp", *v, 0.0, self.pairing, *t)


@dataclass(frozen=True, eq=False)
class RewardSTDP:
    """Reward-modulated STDP (Izhikevich 2007; NEST ``stdp_dopamine_synapse``).

    Pairings (same window and conventions as :class:`STDP`, additive) do not change the weight
    but a per-synapse eligibility trace ``c`` that decays with ``tau_c``. The weight follows
    ``dw/dt = c * (n - baseline)``, integrated exactly and clipped to ``[w_min, w_max]``, where
    ``n`` is the dopamine concentration: it decays with ``tau_d``, rises by
    ``dopamine_amount`` at each spike of the population ``dopamine`` (if given), and can be
    set at any time with ``net.set_dopamine(projection, level)`` (e.g. a reward between runs).
    """

    tau_plus: float = 20.0
    tau_minus: float = 20.0
    a_plus: float = 1.0
    a_minus: float = 1.5
    tau_c: float = 1000.0
    tau_d: float = 200.0
    baseline: float = 0.0
    dopamine_amount: float = 1.0
    w_min: float = 0.0
    w_max: float = 4.0
    dopamine: Any = None
    pairing: Literal["all", "nearest"] = "all"

    def spec(self) -> tuple:
        """The tuple the engine understands."""
        if self.pairing not in ("all", "nearest"):
            raise ParameterError(f"RewardSTDP pairing must be 'all' or 'nearest', got {self.pairing!r}")
        try:
            v = [float(x) for x in (self.tau_plus, self.tau_minus, self.a_plus, self.a_minus, self.w_min,
                                    self.w_max)]
            r = [float(x) for x in (self.tau_c, self.tau_d, self.baseline, self.dopamine_amount)]
        except (TypeError, ValueError) as exc:
            raise ParameterError(f"RewardSTDP parameters must be numbers: {exc}") from exc
        return ("stdp", *v, 0.0, self.pairing, 100.0, 100.0, 0.0, 0.0, *r)


def _number(value: Any, what: str) -> float:
    if isinstance(value, bool):
        raise ParameterError(f"{what} must be a number, got {value!r}")
    try:
        return float(value)
    except (TypeError, ValueError) as exc:
        raise ParameterError(f"{what} must be a number, got {value!r}") from exc


@dataclass(frozen=True)
class Normalize:
    """Synaptic normalisation (Diehl & Cook 2015): each postsynaptic neuron's incoming weights
    in a projection are scaled to sum ``target_sum``.

    Pass as ``net.connect(..., plasticity=sf.STDP(...), normalize=sf.Normalize(78.0, interval=500.0))``.
    Exactly: every postsynaptic neuron whose incoming weights (in this projection) sum to
    ``S > 0`` has each of them multiplied by ``target_sum / S``; neurons with ``S <= 0`` are left
    alone, so relative weights are kept. With ``interval`` (ms; a multiple of ``dt`` on a grid)
    this happens at ``t = k * interval``, ``k = 1, 2, ...``, after every event at that time (spikes
    emitted then have already potentiated their synapses); pending lazy updates
    (reward-modulated weights) are integrated to that time first. ``interval=None``: only when
    asked, with ``proj.normalize()`` (for instance before each input, as Diehl & Cook do).

    Weights are not clipped: scaling may take some above ``w_max`` (or below ``w_min``); the
    next STDP update of such a synapse clips it back into ``[w_min, w_max]``, as every update
    does (Diehl & Cook's behaviour). A periodic ``interval`` needs a plastic projection.
    """

    target_sum: float = 78.0
    interval: Optional[float] = None

    def spec(self) -> Tuple[float, Optional[float]]:
        """The tuple the engine understands."""
        target = _number(self.target_sum, "Normalize target_sum")
        if not (math.isfinite(target) and target > 0.0):
            raise ParameterError(f"Normalize target_sum must be a finite number > 0, got {target}")
        interval = None
        if self.interval is not None:
            interval = _number(self.interval, "Normalize interval")
            if not (math.isfinite(interval) and interval > 0.0):
                raise ParameterError(f"Normalize interval must be a finite number of ms > 0 (or None), got {interval}")
        return (target, interval)


@dataclass(frozen=True)
class Rewiring:
    """Structural plasticity of a plastic projection: weak synapses are pruned, new ones grow.

    Pass as ``net.connect(..., delay=1.0, plasticity=sf.STDP(...), rewiring=sf.Rewiring(...))``.

    * **Pruning**: a synapse whose weight stays below ``prune_below`` for ``prune_after`` ms is
      removed at exactly that time (before any event then: a spike arriving at that instant is
      not transmitted). The time starts at the update that took the weight below the bound
      (STDP depression, normalisation, ``proj.weights = ...``, creation; initial weights below
      the bound count from time 0) and is forgotten when an update lifts it to the bound or
      above. On a grid ``prune_after`` is rounded up to whole steps.
    * **Creation**: each postsynaptic neuron gains synapses as a Poisson process of
      ``create_rate`` Hz while it has fewer than ``max_synapses_per_neuron`` incoming synapses
      in this projection (default: the largest initial in-degree). The presynaptic partner is
      drawn uniformly among the neurons not yet connected to it (no multapses; no autapses
      within one population) that have room; the new synapse has weight ``new_weight`` and the
      projection's delay, and shares its neurons' STDP traces as they are.
    * **Memory** is reserved once, when connecting: ``max_synapses_per_neuron`` slots per
      postsynaptic neuron and, per presynaptic neuron, room for
      ``min(n_post, max(largest initial out-degree, 2 * ceil(max_synapses_per_neuron * n_post / n_pre)))``
      synapses; rewiring never allocates, so ``counters()["synapse_bytes"]`` does not change.
    * **Determinism**: creation times and partners come from a random stream keyed by the
      network's seed and the projection, so the same seed gives the same structure, and
      ``run(a); run(b)`` equals ``run(a + b)``.

    ``proj.weights``, ``proj.pre``, ``proj.post`` and ``proj.n_synapses`` show the current
    structure (storage order: by presynaptic neuron; within a row the order changes as synapses
    come and go). ``net.counters()["projections"][...]`` counts ``pruned`` and ``created``
    synapses. A spike is transmitted by the synapses that exist when it arrives. Needs a
    projection with one (scalar) delay and an STDP or triplet rule (not RewardSTDP).
    """

    prune_below: float = 0.0
    prune_after: float = 1000.0
    create_rate: float = 0.0
    new_weight: float = 0.0
    max_synapses_per_neuron: Optional[int] = None

    def spec(self) -> Tuple[float, float, float, float, Optional[int]]:
        """The tuple the engine understands."""
        below = _number(self.prune_below, "Rewiring prune_below")
        after = _number(self.prune_after, "Rewiring prune_after")
        rate = _number(self.create_rate, "Rewiring create_rate")
        weight = _number(self.new_weight, "Rewiring new_weight")
        if not math.isfinite(below):
            raise ParameterError(f"Rewiring prune_below must be finite, got {below}")
        if not (math.isfinite(after) and after > 0.0):
            raise ParameterError(f"Rewiring prune_after must be a finite number of ms > 0, got {after}")
        if not (math.isfinite(rate) and rate >= 0.0):
            raise ParameterError(f"Rewiring create_rate must be finite and >= 0 Hz, got {rate}")
        if not math.isfinite(weight):
            raise ParameterError(f"Rewiring new_weight must be finite, got {weight}")
        cap = self.max_synapses_per_neuron
        if cap is not None:
            if isinstance(cap, bool) or not isinstance(cap, (int, np.integer)) or cap < 1:
                raise ParameterError(f"Rewiring max_synapses_per_neuron must be an integer >= 1 (or None), got {cap!r}")
            cap = int(cap)
        return (below, after, rate, weight, cap)
