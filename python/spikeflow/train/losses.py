"""Losses on output spike trains ``[T, B, C]`` and a spike-count regulariser.

* :func:`rate_loss` — cross-entropy on spike counts (rate / count coding);
* :func:`count_mse_loss` — squared error to target counts for the true and other classes;
* :func:`first_spike_loss` — cross-entropy on negative first-spike times (latency coding);
* :func:`spike_count_penalty` — mean firing rate of hidden layers (fewer spikes, less energy).
"""
from __future__ import annotations

from typing import Callable, Union

import torch
import torch.nn.functional as F

__all__ = [
    "LOSSES",
    "PREDICT",
    "LossLike",
    "count_mse_loss",
    "first_spike_loss",
    "first_spike_times",
    "rate_loss",
    "resolve_loss",
    "spike_count_penalty",
]

LossFn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
LossLike = Union[str, LossFn]


def _check(out: torch.Tensor) -> None:
    if out.dim() != 3:
        raise ValueError(
            f"expected output spikes [T, B, classes], got shape {tuple(out.shape)}"
        )


def rate_loss(out: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Cross-entropy with the spike counts ``out.sum(0)`` as logits."""
    _check(out)
    return F.cross_entropy(out.sum(0), target)


def count_mse_loss(
    out: torch.Tensor, target: torch.Tensor, correct_rate: float = 0.8, incorrect_rate: float = 0.1
) -> torch.Tensor:
    """Mean squared error of spike counts to ``rate * T`` (true class) / ``incorrect_rate * T``."""
    _check(out)
    t = out.shape[0]
    goal = torch.full_like(out[0], incorrect_rate * t)
    goal.scatter_(1, target.view(-1, 1), correct_rate * t)
    return F.mse_loss(out.sum(0), goal)


def first_spike_times(out: torch.Tensor) -> torch.Tensor:
    """Differentiable first-spike step per output ``[B, C]`` (``T`` when a neuron is silent).

    ``first[t] = z[t] * prod_{s<t} (1 - z[s])``; time ``= sum_t t*first[t] + T*(1 - sum first)``.
    """
    _check(out)
    t = out.shape[0]
    not_yet = torch.cumprod(1.0 - out, dim=0)
    before = torch.cat([torch.ones_like(out[:1]), not_yet[:-1]], dim=0)
    first = out * before
    steps = torch.arange(t, dtype=out.dtype, device=out.device).view(-1, 1, 1)
    return (first * steps).sum(0) + t * (1.0 - first.sum(0))


def first_spike_loss(out: torch.Tensor, target: torch.Tensor, tau: float = 1.0) -> torch.Tensor:
    """Cross-entropy on ``-first_spike_time / tau``: the true class should fire first."""
    return F.cross_entropy(-first_spike_times(out) / tau, target)


def spike_count_penalty(spikes: list) -> torch.Tensor:
    """Mean firing rate (spikes per neuron per step) over the given spike tensors."""
    if not spikes:
        return torch.zeros(())
    total = sum(s.sum() for s in spikes)
    count = sum(s.numel() for s in spikes)
    return total / count


def _predict_rate(out: torch.Tensor) -> torch.Tensor:
    return out.sum(0).argmax(1)


def _predict_first(out: torch.Tensor) -> torch.Tensor:
    t = out.shape[0]
    steps = torch.arange(t, device=out.device).view(-1, 1, 1).expand_as(out)
    first = torch.where(out > 0, steps, torch.full_like(steps, t)).min(0).values
    # earliest spike wins; ties (and silence) broken by the spike count
    return (-(first.to(out.dtype)) * (t + 1) + out.sum(0)).argmax(1)


#: Losses by name.
LOSSES: dict[str, LossFn] = {
    "rate": rate_loss,
    "count": rate_loss,
    "count_mse": count_mse_loss,
    "first_spike": first_spike_loss,
}

#: How each named loss reads the predicted class from the output spikes.
PREDICT: dict[str, Callable[[torch.Tensor], torch.Tensor]] = {
    "rate": _predict_rate,
    "count": _predict_rate,
    "count_mse": _predict_rate,
    "first_spike": _predict_first,
}


def resolve_loss(loss: LossLike) -> tuple[LossFn, Callable[[torch.Tensor], torch.Tensor]]:
    """The loss function and the matching prediction rule (count-based for callables)."""
    if callable(loss):
        return loss, _predict_rate
    if loss not in LOSSES:
        raise ValueError(f"unknown loss {loss!r}; choose one of {sorted(LOSSES)} or pass a callable")
    return LOSSES[loss], PREDICT[loss]
