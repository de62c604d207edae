"""Synaptic plasticity rules, computed in Rust at spike times."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from spikeflow.errors import ParameterError

__all__ = ["STDP"]


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
        return ("stdp", *vals, mu, self.pairing)
