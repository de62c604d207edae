"""Torch-side neuron parameter sets and their one-to-one mapping onto the engine's.

The torch membrane ``v`` is stored relative to rest (``v - v_rest``), exactly as the engine
stores it, so a grid step is ``v[t] = beta * v[t-1] + I[t] + bias`` followed by the spike test
``v >= v_th`` and the reset. :meth:`LIFParameters.from_model` and
:meth:`LIFParameters.to_model` translate to and from :class:`spikeflow.model.neurons.LIF` /
``IF`` without approximation.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from typing import Any, Literal, Union

import numpy as np
import torch

from spikeflow.torch.surrogate import Surrogate, SurrogateLike, surrogate

__all__ = ["ALIFParameters", "LIFParameters", "Scalar", "normalize_reset"]

Scalar = Union[float, torch.Tensor]
ResetMode = Literal["subtract", "value", "zero"]


def normalize_reset(reset: str, v_reset: Any = 0.0) -> Literal["subtract", "value"]:
    """Map ``"subtract"``, ``"value"`` and ``"zero"`` (= ``"value"`` with ``v_reset=0``)."""
    if reset == "zero":
        if isinstance(v_reset, (int, float)) and v_reset != 0:
            raise ValueError('reset="zero" needs v_reset=0; use reset="value" to reset elsewhere')
        return "value"
    if reset not in ("subtract", "value"):
        raise ValueError(f'reset must be "subtract", "value" or "zero", got {reset!r}')
    return reset  # type: ignore[return-value]


def _as_param(value: Any) -> Scalar:
    if isinstance(value, torch.Tensor):
        return value
    arr = np.asarray(value, dtype=np.float64)
    if arr.ndim == 0:
        return float(arr)
    return torch.as_tensor(arr, dtype=torch.float32)


@dataclass(frozen=True)
class LIFParameters:
    """Parameters of a grid LIF neuron (also IF with ``beta=1``).

    Attributes:
        beta: leak per step, ``exp(-dt / tau_m)``; a float or a tensor broadcastable to the
            neuron shape (may be a learnable parameter).
        v_th: threshold relative to rest.
        v_reset: reset value relative to rest (``reset="value"``); with ``"subtract"`` the
            membrane is lowered by ``v_th - v_reset``.
        reset: ``"subtract"`` or ``"value"``.
        bias: constant drive added every step (the engine's ``(1-beta) i_e tau_m / c_m``).
        surrogate: the spike function's surrogate derivative.
        detach_reset: stop the gradient through the reset (snnTorch's default); the forward
            pass is unchanged.
    """

    beta: Scalar = 0.9
    v_th: Scalar = 1.0
    v_reset: Scalar = 0.0
    reset: Literal["subtract", "value"] = "subtract"
    bias: Scalar = 0.0
    surrogate: Surrogate = field(default_factory=Surrogate)
    detach_reset: bool = False

    def __post_init__(self) -> None:
        object.__setattr__(self, "reset", normalize_reset(self.reset, self.v_reset))
        if isinstance(self.beta, (int, float)) and not 0.0 <= self.beta <= 1.0:
            raise ValueError(f"beta must lie in [0, 1], got {self.beta}")

    @classmethod
    def from_model(
        cls,
        model: Any,
        dt: float = 1.0,
        surrogate_fn: SurrogateLike = "fast_sigmoid",
        detach_reset: bool = False,
    ) -> LIFParameters:
        """Translate an engine parameter set (``spikeflow.model.LIF`` or ``IF``) for step ``dt`` ms.

        Only what the grid can represent exactly is accepted: delta synapses and ``t_ref=0``.
        """
        params = model.params() if hasattr(model, "params") else dict(vars(model))
        if params.get("synapse", "delta") != "delta":
            raise ValueError(
                "torch neurons use delta synapses; got synapse="
                f"{params['synapse']!r} (set synapse='delta')"
            )
        if np.any(np.asarray(params.get("t_ref", 0.0)) != 0):
            raise ValueError(
                f"torch-trained neurons have no refractory period; got t_ref={params['t_ref']} "
                "(construct the model with t_ref=0.0)"
            )
        if dt <= 0:
            raise ValueError(f"dt must be > 0 ms, got {dt}")
        if np.any(np.asarray(params.get("theta_plus", 0.0)) != 0):
            raise ValueError("torch LIF neurons have a fixed threshold; got an adaptive one (theta_plus > 0)")
        v_rest = np.asarray(params.get("v_rest", 0.0), dtype=np.float64)
        if "tau_m" in params:
            tau = np.asarray(params["tau_m"], dtype=np.float64)
            beta = np.exp(-dt / tau)
            drive = (1.0 - beta) * np.asarray(params["i_e"]) * tau / np.asarray(params["c_m"])
        else:  # IF: dv/dt = I / c_m, no leak
            beta = np.float64(1.0)
            drive = np.asarray(params["i_e"]) * dt / np.asarray(params["c_m"])
        return cls(
            beta=_as_param(beta),
            v_th=_as_param(np.asarray(params["v_th"], dtype=np.float64) - v_rest),
            v_reset=_as_param(np.asarray(params["v_reset"], dtype=np.float64) - v_rest),
            reset=params.get("reset", "value"),
            bias=_as_param(drive),
            surrogate=surrogate(surrogate_fn),
            detach_reset=detach_reset,
        )

    def to_model(self, dt: float = 1.0, v_rest: float = 0.0, c_m: float = 250.0) -> Any:
        """The engine parameter set with the same grid dynamics (``IF`` when ``beta == 1``)."""
        from spikeflow.model.neurons import IF, LIF

        def num(x: Scalar) -> Any:
            if isinstance(x, torch.Tensor):
                arr = x.detach().cpu().double().numpy()
                return float(arr) if arr.ndim == 0 else arr
            return float(x)

        beta = num(self.beta)
        v_th = np.asarray(num(self.v_th)) + v_rest
        v_reset = np.asarray(num(self.v_reset)) + v_rest
        bias = np.asarray(num(self.bias))

        def out(a: np.ndarray) -> Any:
            return float(a) if np.ndim(a) == 0 else a

        if np.all(np.asarray(beta) == 1.0):
            return IF(v_th=out(v_th), v_reset=out(v_reset), t_ref=0.0, c_m=c_m,
                      i_e=out(bias * c_m / dt), reset=self.reset, v_rest=v_rest)
        b = np.asarray(beta, dtype=np.float64)
        if np.any(b <= 0) or np.any(b >= 1):
            raise ValueError("beta must lie in (0, 1) to map onto an engine LIF tau_m")
        tau = -dt / np.log(b)
        i_e = bias * c_m / ((1.0 - b) * tau)
        return LIF(tau_m=out(tau), v_rest=v_rest, v_th=out(v_th), v_reset=out(v_reset),
                   t_ref=0.0, c_m=c_m, i_e=out(i_e), synapse="delta", reset=self.reset)

    def with_(self, **changes: Any) -> LIFParameters:
        """A copy with some fields replaced."""
        return replace(self, **changes)


@dataclass(frozen=True)
class ALIFParameters:
    """Adaptive-threshold LIF (Bellec et al. 2018): threshold ``v_th + b * a``.

    Every spike raises the adaptation ``a`` by 1; it decays by ``rho`` per step
    (``rho = exp(-dt / tau_adapt)``).
    """

    lif: LIFParameters = field(default_factory=LIFParameters)
    rho: Scalar = 0.95
    b: Scalar = 0.2

    @staticmethod
    def rho_from_tau(tau_adapt: float, dt: float = 1.0) -> float:
        """``exp(-dt / tau_adapt)``."""
        return math.exp(-dt / tau_adapt)
