"""Pure neuron functions: input and state in, spikes and new state out (Norse-style).

``*_step`` functions advance one grid step (``x`` is ``[B, ...]``); the sequence functions
(:func:`lif`, :func:`if_`, :func:`rlif`, :func:`alif`, :func:`li`) run all of ``x[T, B, ...]``.
State is explicit: pass ``None`` to start from rest and keep the returned state to continue.
"""
from __future__ import annotations

from typing import NamedTuple

import torch

from spikeflow.torch.params import ALIFParameters, LIFParameters, Scalar

__all__ = [
    "ALIFState",
    "LIFState",
    "RLIFState",
    "alif",
    "alif_step",
    "if_",
    "if_step",
    "li",
    "li_step",
    "lif",
    "lif_step",
    "rlif",
    "rlif_step",
]


_LIF = LIFParameters()
_IF = LIFParameters(beta=1.0)
_ALIF = ALIFParameters()


class LIFState(NamedTuple):
    """Membrane of a LIF/IF population (relative to rest), shape ``[B, ...]``."""

    v: torch.Tensor


class RLIFState(NamedTuple):
    """Membrane and last spikes of a recurrent LIF population."""

    v: torch.Tensor
    z: torch.Tensor


class ALIFState(NamedTuple):
    """Membrane and threshold adaptation of an adaptive LIF population."""

    v: torch.Tensor
    a: torch.Tensor


def _reset(h: torch.Tensor, z: torch.Tensor, p: LIFParameters) -> torch.Tensor:
    zr = z.detach() if p.detach_reset else z
    if p.reset == "subtract":
        return h - zr * (p.v_th - p.v_reset)
    return h * (1.0 - zr) + zr * p.v_reset


def lif_step(
    x: torch.Tensor, state: LIFState | None, p: LIFParameters = _LIF
) -> tuple[torch.Tensor, LIFState]:
    """One grid step: ``h = beta*v + x + bias``; ``z = H(h - v_th)``; reset; return ``z``."""
    v = state.v if state is not None else torch.zeros_like(x)
    h = p.beta * v + x
    if not (isinstance(p.bias, float) and p.bias == 0.0):
        h = h + p.bias
    z = p.surrogate(h - p.v_th)
    return z, LIFState(_reset(h, z, p))


def lif(
    x: torch.Tensor,
    state: LIFState | None = None,
    p: LIFParameters = _LIF,
    fused: bool | str = "auto",
) -> tuple[torch.Tensor, LIFState]:
    """LIF over all steps of ``x[T, B, ...]``; returns spikes ``[T, B, ...]`` and the last state.

    ``fused="auto"`` runs the Rust kernel (forward and backward over all T in one call) when
    it applies (CPU float32, fixed beta and threshold); ``True`` requires it, ``False`` uses the
    step-by-step torch loop (the reference).
    """
    if x.dim() < 2:
        raise ValueError(f"lif expects time-first input [T, B, ...], got shape {tuple(x.shape)}")
    if fused:
        from spikeflow.torch import fused as _fused

        prm, reason = _fused.prepare(x, state, p)
        if reason is None:
            return _fused.lif_fused(x, state, p, prm)
        if fused is True:
            raise ValueError(f"the fused LIF kernel does not apply: {reason}")
    zs = []
    for t in range(x.shape[0]):
        z, state = lif_step(x[t], state, p)
        zs.append(z)
    assert state is not None
    return torch.stack(zs), state


def if_step(
    x: torch.Tensor, state: LIFState | None, p: LIFParameters = _IF
) -> tuple[torch.Tensor, LIFState]:
    """One step of a non-leaky IF neuron (``p.beta`` is ignored and taken as 1)."""
    return lif_step(x, state, p.with_(beta=1.0))


def if_(
    x: torch.Tensor,
    state: LIFState | None = None,
    p: LIFParameters = _IF,
    fused: bool | str = "auto",
) -> tuple[torch.Tensor, LIFState]:
    """IF over all steps of ``x[T, B, ...]`` (``p.beta`` is taken as 1)."""
    return lif(x, state, p.with_(beta=1.0), fused=fused)


def rlif_step(
    x: torch.Tensor,
    state: RLIFState | None,
    w_rec: torch.Tensor,
    p: LIFParameters = _LIF,
) -> tuple[torch.Tensor, RLIFState]:
    """One step of a recurrent LIF layer: input ``x + z_prev @ w_rec.T`` (``w_rec`` is [N, N])."""
    if state is None:
        state = RLIFState(torch.zeros_like(x), torch.zeros_like(x))
    drive = x + state.z @ w_rec.t()
    z, s = lif_step(drive, LIFState(state.v), p)
    return z, RLIFState(s.v, z)


def rlif(
    x: torch.Tensor,
    state: RLIFState | None,
    w_rec: torch.Tensor,
    p: LIFParameters = _LIF,
) -> tuple[torch.Tensor, RLIFState]:
    """Recurrent LIF over all steps of ``x[T, B, N]``."""
    zs = []
    for t in range(x.shape[0]):
        z, state = rlif_step(x[t], state, w_rec, p)
        zs.append(z)
    assert state is not None
    return torch.stack(zs), state


def alif_step(
    x: torch.Tensor, state: ALIFState | None, p: ALIFParameters = _ALIF
) -> tuple[torch.Tensor, ALIFState]:
    """One step of an adaptive-threshold LIF: threshold ``v_th + b * a``, ``a = rho*a + z``."""
    if state is None:
        state = ALIFState(torch.zeros_like(x), torch.zeros_like(x))
    q = p.lif
    h = q.beta * state.v + x
    if not (isinstance(q.bias, float) and q.bias == 0.0):
        h = h + q.bias
    th = q.v_th + p.b * state.a
    z = q.surrogate(h - th)
    zr = z.detach() if q.detach_reset else z
    if q.reset == "subtract":
        v = h - zr * (th - q.v_reset)
    else:
        v = h * (1.0 - zr) + zr * q.v_reset
    return z, ALIFState(v, p.rho * state.a + z)


def alif(
    x: torch.Tensor, state: ALIFState | None = None, p: ALIFParameters = _ALIF
) -> tuple[torch.Tensor, ALIFState]:
    """Adaptive LIF over all steps of ``x[T, B, ...]``."""
    zs = []
    for t in range(x.shape[0]):
        z, state = alif_step(x[t], state, p)
        zs.append(z)
    assert state is not None
    return torch.stack(zs), state


def li_step(
    x: torch.Tensor, v: torch.Tensor | None, beta: Scalar = 0.9
) -> tuple[torch.Tensor, torch.Tensor]:
    """Leaky integrator (readout, no spikes): ``v = beta*v + x``; returns ``(v, v)``."""
    v = x if v is None else beta * v + x
    return v, v


def li(
    x: torch.Tensor, v: torch.Tensor | None = None, beta: Scalar = 0.9
) -> tuple[torch.Tensor, torch.Tensor]:
    """Leaky integrator over ``x[T, B, ...]``: the membrane trace ``[T, B, ...]`` and last ``v``."""
    vs = []
    for t in range(x.shape[0]):
        out, v = li_step(x[t], v, beta)
        vs.append(out)
    assert v is not None
    return torch.stack(vs), v
