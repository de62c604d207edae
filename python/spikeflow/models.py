"""Ready-made networks from the literature."""
from __future__ import annotations

from dataclasses import dataclass

from spikeflow.model import LIF, FixedInDegree, OneToOne
from spikeflow.sim import Network, Population

__all__ = ["BrunelParams", "brunel"]


@dataclass(frozen=True)
class BrunelParams:
    """Brunel (2000) sparse balanced network with delta synapses, as NEST's
    ``brunel_delta_nest`` example builds it (relative voltages, rest 0 mV)."""

    n_exc: int = 4000
    n_inh: int = 1000
    in_exc: int = 400
    in_inh: int = 100
    j: float = 0.1          # mV, excitatory weight
    g: float = 5.0          # relative inhibition
    eta: float = 2.0        # external rate relative to threshold rate
    tau_m: float = 20.0
    v_th: float = 20.0
    v_reset: float = 0.0
    t_ref: float = 2.0
    delay: float = 1.5

    @classmethod
    def scaled(cls, factor: int) -> "BrunelParams":
        """Sizes and in-degrees multiplied by ``factor`` (2 is the benchmark's large size)."""
        return cls(n_exc=4000 * factor, n_inh=1000 * factor, in_exc=400 * factor, in_inh=100 * factor)

    @property
    def poisson_rate(self) -> float:
        """External drive per neuron (Hz): eta * nu_th * C_E with nu_th = V_th / (J C_E tau_m)."""
        nu_th = self.v_th / (self.j * self.in_exc * self.tau_m)
        return self.eta * nu_th * self.in_exc * 1000.0


def brunel(params: BrunelParams = BrunelParams(), dt: float | None = 0.1,
           seed: int = 1) -> tuple[Network, Population, Population]:
    """Build the network; returns ``(net, exc, inh)``. Multapses and autapses allowed, each
    neuron driven by its own Poisson source with weight J."""
    p = params
    net = Network(dt=dt, seed=seed)
    model = LIF(tau_m=p.tau_m, v_rest=0.0, v_th=p.v_th, v_reset=p.v_reset, t_ref=p.t_ref)
    exc = net.add_population(p.n_exc, model, name="exc")
    inh = net.add_population(p.n_inh, model, name="inh")
    for post in (exc, inh):
        net.connect(exc, post, FixedInDegree(p.in_exc), weight=p.j, delay=p.delay)
        net.connect(inh, post, FixedInDegree(p.in_inh), weight=-p.g * p.j, delay=p.delay)
    for post, name in ((exc, "noise_exc"), (inh, "noise_inh")):
        noise = net.add_poisson(post.size, p.poisson_rate, name=name)
        net.connect(noise, post, OneToOne(), weight=p.j, delay=p.delay)
    return net, exc, inh
