"""Synaptic plasticity rules, computed in Rust at spike times."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from spikeflow.errors import ParameterError

__all__ = ["STDP", "TripletSTDP", "RewardSTDP"]


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
