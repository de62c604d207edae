"""Spiking neuron layers as thin ``nn.Module`` wrappers around :mod:`spikeflow.torch.functional`.

Every layer takes time-first input ``[T, B, ...]`` and an explicit state (``None``: start at
rest) and returns ``(output, state)``. Nothing is stored between calls: no hidden resets.
"""
from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any, Union

import torch
from torch import nn

from spikeflow.torch import functional as Fn
from spikeflow.torch.layout import check_time_first
from spikeflow.torch.params import ALIFParameters, LIFParameters
from spikeflow.torch.surrogate import SurrogateLike, surrogate

__all__ = ["IF", "LIF", "AdaptiveLIF", "LeakyIntegrator", "RecurrentLIF"]

Shape = Union[int, Sequence[int]]


def _beta_of(beta: float | None, tau_m: float | None, dt: float) -> float:
    if beta is not None and tau_m is not None:
        raise ValueError("give either beta or tau_m (with dt), not both")
    if tau_m is not None:
        if tau_m <= 0 or dt <= 0:
            raise ValueError(f"tau_m and dt must be > 0, got tau_m={tau_m}, dt={dt}")
        return math.exp(-dt / tau_m)
    return 0.9 if beta is None else float(beta)


def _tensor_param(value: Any, shape: Shape, learn: bool) -> float | torch.Tensor:
    if isinstance(value, torch.Tensor) or not isinstance(value, (int, float)):
        t = torch.as_tensor(value, dtype=torch.float32)
    elif learn:
        t = torch.full(tuple([shape] if isinstance(shape, int) else shape), float(value))
    else:
        return float(value)
    return nn.Parameter(t) if learn else t


class LIF(nn.Module):
    """Leaky integrate-and-fire neurons over time: ``forward(x[T, B, ...], state) -> (z, state)``.

    Per step ``h = beta*v + x + bias``; spike ``z = (h >= v_th)`` (surrogate gradient
    backward); reset by subtraction (``reset="subtract"``) or to ``v_reset``
    (``"value"``/``"zero"``).

    Args:
        beta: leak per step (default 0.9), or give ``tau_m`` and ``dt`` (ms).
        v_th, v_reset, reset, bias: see :class:`~spikeflow.torch.params.LIFParameters`.
        surrogate: a name from :data:`~spikeflow.torch.surrogate.SURROGATES` or a Surrogate;
            ``alpha`` overrides its sharpness.
        learn_beta, learn_threshold: make ``beta`` / ``v_th`` parameters of shape ``shape``
            (``()``: one shared value; e.g. ``(512,)``: one per neuron).
        detach_reset: no gradient through the reset.
        fused: ``"auto"`` runs the Rust kernel when it applies, ``False`` the torch loop.
    """

    def __init__(
        self,
        beta: float | None = None,
        *,
        tau_m: float | None = None,
        dt: float = 1.0,
        v_th: float = 1.0,
        v_reset: float = 0.0,
        reset: str = "subtract",
        bias: Any = 0.0,
        surrogate: SurrogateLike = "fast_sigmoid",
        alpha: float | None = None,
        learn_beta: bool = False,
        learn_threshold: bool = False,
        shape: Shape = (),
        detach_reset: bool = False,
        fused: bool | str = "auto",
    ) -> None:
        super().__init__()
        b = _beta_of(beta, tau_m, dt) if not isinstance(beta, torch.Tensor) else beta
        self._set("beta", _tensor_param(b, shape, learn_beta))
        self._set("v_th", _tensor_param(v_th, shape, learn_threshold))
        self._set("v_reset", _tensor_param(v_reset, shape, False))
        self._set("bias", _tensor_param(bias, shape, False))
        self.reset = reset
        self.surrogate = surrogate_of(surrogate, alpha)
        self.detach_reset = detach_reset
        self.fused = fused
        self.dt = dt
        self.parameters_()  # validate once

    def _set(self, name: str, value: float | torch.Tensor) -> None:
        if isinstance(value, torch.Tensor) and not isinstance(value, nn.Parameter):
            self.register_buffer(name, value)
        else:
            setattr(self, name, value)

    @classmethod
    def from_model(cls, model: Any, dt: float = 1.0, **kwargs: Any) -> LIF:
        """A layer with the grid dynamics of an engine parameter set (``spikeflow.model.LIF``).

        ``kwargs`` go to the constructor (``surrogate``, ``learn_beta``, ``fused`` ...).
        """
        p = LIFParameters.from_model(model, dt=dt)
        return cls(beta=p.beta, v_th=p.v_th, v_reset=p.v_reset, reset=p.reset,  # type: ignore[arg-type]
                   bias=p.bias, dt=dt, **kwargs)

    def parameters_(self) -> LIFParameters:
        """The current parameter set (learnable ones as live tensors, beta clamped to [0, 1])."""
        beta = self.beta
        if isinstance(beta, torch.Tensor) and beta.requires_grad:
            beta = beta.clamp(0.0, 1.0)
        return LIFParameters(
            beta=beta, v_th=self.v_th, v_reset=self.v_reset, reset=self.reset,  # type: ignore[arg-type]
            bias=self.bias, surrogate=self.surrogate, detach_reset=self.detach_reset,
        )

    def to_model(self, v_rest: float = 0.0, c_m: float = 250.0) -> Any:
        """The engine parameter set with the same dynamics at this layer's ``dt``."""
        return self.parameters_().to_model(dt=self.dt, v_rest=v_rest, c_m=c_m)

    def forward(
        self, x: torch.Tensor, state: Fn.LIFState | None = None
    ) -> tuple[torch.Tensor, Fn.LIFState]:
        """Spikes ``[T, B, ...]`` and the state after the last step."""
        check_time_first(x, type(self).__name__, min_dim=3)
        return Fn.lif(x, state, self.parameters_(), fused=self.fused)

    def step(
        self, x: torch.Tensor, state: Fn.LIFState | None = None
    ) -> tuple[torch.Tensor, Fn.LIFState]:
        """One grid step on ``x[B, ...]``."""
        return Fn.lif_step(x, state, self.parameters_())

    def extra_repr(self) -> str:
        return (f"beta={_short(self.beta)}, v_th={_short(self.v_th)}, reset={self.reset!r}, "
                f"surrogate={self.surrogate.name}")


def _short(v: Any) -> str:
    if isinstance(v, torch.Tensor):
        return f"tensor{tuple(v.shape)}" if v.numel() > 1 else f"{float(v):.4g}"
    return f"{v:.4g}"


class IF(LIF):
    """Non-leaky integrate-and-fire neurons (``beta = 1``); same arguments as :class:`LIF`."""

    def __init__(self, **kwargs: Any) -> None:
        beta = kwargs.pop("beta", 1.0)
        if (not isinstance(beta, torch.Tensor) and beta != 1.0) or (
            isinstance(beta, torch.Tensor) and not bool((beta == 1.0).all())
        ) or "tau_m" in kwargs or kwargs.get("learn_beta"):
            raise ValueError("IF has no leak: beta/tau_m/learn_beta do not apply (use LIF)")
        super().__init__(beta=1.0, **kwargs)


class RecurrentLIF(nn.Module):
    """LIF layer with explicit recurrent weights ``w_rec [N, N]`` (input ``[T, B, N]``).

    Drive per step: ``x[t] + z[t-1] @ w_rec.T``. State: :class:`~spikeflow.torch.functional.RLIFState`.
    """

    def __init__(self, n: int, beta: float = 0.9, *, v_th: float = 1.0, reset: str = "subtract",
                 surrogate: SurrogateLike = "fast_sigmoid", alpha: float | None = None,
                 autapses: bool = False, init_scale: float = 1.0) -> None:
        super().__init__()
        self.n = n
        self.autapses = autapses
        w = torch.randn(n, n) * (init_scale / math.sqrt(n))
        self.w_rec = nn.Parameter(w)
        self.p = LIFParameters(beta=beta, v_th=v_th, reset=reset, surrogate=surrogate_of(surrogate, alpha))

    def forward(
        self, x: torch.Tensor, state: Fn.RLIFState | None = None
    ) -> tuple[torch.Tensor, Fn.RLIFState]:
        """Spikes ``[T, B, N]`` and the state after the last step."""
        check_time_first(x, "RecurrentLIF", min_dim=3, features=self.n)
        w = self.w_rec if self.autapses else self.w_rec * (1 - torch.eye(self.n, device=x.device))
        return Fn.rlif(x, state, w, self.p)


def surrogate_of(spec: SurrogateLike, alpha: float | None) -> Any:
    """Resolve a surrogate argument (name or object, optional sharpness)."""
    return surrogate(spec, alpha)


class AdaptiveLIF(nn.Module):
    """LIF with an adaptive threshold ``v_th + b * a`` (``a`` decays by ``rho``, +1 per spike)."""

    def __init__(self, beta: float = 0.9, *, v_th: float = 1.0, rho: float = 0.95, b: float = 0.2,
                 reset: str = "subtract", surrogate: SurrogateLike = "fast_sigmoid",
                 alpha: float | None = None) -> None:
        super().__init__()
        self.p = ALIFParameters(
            LIFParameters(beta=beta, v_th=v_th, reset=reset, surrogate=surrogate_of(surrogate, alpha)),
            rho=rho, b=b,
        )

    def forward(
        self, x: torch.Tensor, state: Fn.ALIFState | None = None
    ) -> tuple[torch.Tensor, Fn.ALIFState]:
        """Spikes ``[T, B, ...]`` and the state after the last step."""
        check_time_first(x, "AdaptiveLIF", min_dim=3)
        return Fn.alif(x, state, self.p)


class LeakyIntegrator(nn.Module):
    """Non-spiking leaky readout: ``v = beta*v + x``; returns the trace ``[T, B, ...]`` and ``v``."""

    def __init__(self, beta: float = 0.9, *, tau_m: float | None = None, dt: float = 1.0) -> None:
        super().__init__()
        self.beta = _beta_of(beta if tau_m is None else None, tau_m, dt)

    def forward(
        self, x: torch.Tensor, state: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Membrane trace ``[T, B, ...]`` and the last membrane."""
        check_time_first(x, "LeakyIntegrator", min_dim=2)
        return Fn.li(x, state, self.beta)
