"""Neuron parameter sets shared by the event engine and the torch layers.

Units: time in ms, voltage in mV, current in pA, capacitance in pF.
A parameter is a scalar (same for every neuron of the population) or a 1-D array with one
value per neuron. ``v_init`` may also be a ``(low, high)`` tuple: a uniform random draw per
neuron from the network's seed.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, fields
from typing import Any, Literal, Sequence, Tuple, Union

import numpy as np

ParamLike = Union[float, Sequence[float], np.ndarray]
InitLike = Union[None, float, Sequence[float], np.ndarray, Tuple[float, float]]

__all__ = ["LIF", "IF", "NeuronModel"]


@dataclass(frozen=True)
class NeuronModel:
    """Base class of the neuron parameter sets (not used directly)."""

    def params(self) -> dict[str, Any]:
        """The parameters as a plain dict (arrays left as given)."""
        return {f.name: getattr(self, f.name) for f in fields(self)}


@dataclass(frozen=True)
class LIF(NeuronModel):
    """Leaky integrate-and-fire neuron.

    ``tau_m dv/dt = -(v - v_rest) + I_syn / c_m * tau_m + i_e / c_m * tau_m``

    synapse="delta" (NEST ``iaf_psc_delta``): a spike of weight ``w`` makes ``v`` jump by ``w`` mV.
    synapse="exp" (NEST ``iaf_psc_exp``): a spike of weight ``w`` (pA) adds ``w`` to an
    exponentially decaying current, excitatory if ``w >= 0`` (time constant ``tau_syn_ex``),
    inhibitory otherwise (``tau_syn_in``).
    synapse="cond_exp" (NEST ``iaf_cond_exp``, Brian2's ``ge``): a weight ``w`` (in units of
    the leak conductance, dimensionless) adds ``|w|`` to an exponentially decaying conductance,
    excitatory with reversal potential ``e_rev_ex`` if ``w >= 0``, else inhibitory with
    ``e_rev_in``: ``tau_m dv/dt = (v_rest - v) + g_ex (e_rev_ex - v) + g_in (e_rev_in - v)
    + i_e tau_m / c_m``. Grid only; each step is an exponential-Euler step with the
    conductances frozen over the step (exact conductance decay), as Brian2 integrates it.

    After a spike ``v`` is reset to ``v_reset`` (``reset="value"``) or lowered by
    ``v_th - v_reset`` (``reset="subtract"``), and the neuron is refractory for ``t_ref`` ms:
    its voltage is clamped and delta inputs arriving then are discarded (NEST's default).
    On a grid of step ``dt`` the leak per step is ``beta = exp(-dt / tau_m)``.

    Adaptive threshold (homeostasis, Diehl & Cook 2015): with ``theta_plus > 0`` the neuron
    fires when ``v >= v_th + theta``; ``theta`` starts at 0, grows by ``theta_plus`` mV at each
    spike and decays as ``dtheta/dt = -theta / tau_theta`` (``tau_theta=math.inf``: never).
    Read it with ``pop.theta``. It is exact in both time modes: on the grid the decay is
    ``exp(-dt / tau_theta)`` per step, and crossings of a decaying threshold between inputs are
    found like any other.
    """

    tau_m: ParamLike = 20.0
    v_rest: ParamLike = 0.0
    v_th: ParamLike = 20.0
    v_reset: ParamLike = 0.0
    t_ref: ParamLike = 2.0
    c_m: ParamLike = 250.0
    i_e: ParamLike = 0.0
    synapse: Literal["delta", "exp", "cond_exp"] = "delta"
    tau_syn_ex: ParamLike = 2.0
    tau_syn_in: ParamLike = 2.0
    e_rev_ex: ParamLike = 0.0
    e_rev_in: ParamLike = -80.0
    reset: Literal["value", "subtract"] = "value"
    v_init: InitLike = None
    theta_plus: ParamLike = 0.0
    tau_theta: float = math.inf

    def beta(self, dt: float) -> Any:
        """Per-step leak factor ``exp(-dt / tau_m)`` on a grid of step ``dt`` ms."""
        if np.isscalar(self.tau_m):
            return math.exp(-dt / float(self.tau_m))
        return np.exp(-dt / np.asarray(self.tau_m, dtype=np.float64))


@dataclass(frozen=True)
class IF(NeuronModel):
    """Non-leaky integrate-and-fire neuron (the unit of ANN-to-SNN conversion).

    ``dv/dt = I / c_m``; delta synapses only (a spike of weight ``w`` adds ``w`` mV).
    After a spike ``v`` is lowered by ``v_th - v_reset`` (``reset="subtract"``, the default,
    which keeps the residue as conversion needs) or set to ``v_reset`` (``reset="value"``).
    """

    v_th: ParamLike = 1.0
    v_reset: ParamLike = 0.0
    t_ref: ParamLike = 0.0
    c_m: ParamLike = 1.0
    i_e: ParamLike = 0.0
    reset: Literal["value", "subtract"] = "subtract"
    v_init: InitLike = None
    v_rest: ParamLike = 0.0  # the voltage v_init defaults to

