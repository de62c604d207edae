"""Layers for time-first spike tensors ``[T, B, ...]`` with their usual torch semantics.

:class:`Linear` and :class:`Conv2d` are ``nn.Linear`` / ``nn.Conv2d`` applied at every step
(all steps in one call), event-driven when their input is sparse
(:mod:`spikeflow.torch.sparse`). Pooling, :class:`TimeBatchNorm2d` (tdBN), :class:`TimeDropout`
(one mask for all steps), :class:`Flatten` and :class:`SEWBlock` (SEW-ResNet) complete the set.
"""
from __future__ import annotations

import math
from typing import Any, Union

import torch
from torch import nn

from spikeflow.torch import pooling, sparse
from spikeflow.torch.layout import check_time_first

__all__ = [
    "AvgPool2d",
    "Conv2d",
    "Flatten",
    "Linear",
    "MaxPool2d",
    "SEWBlock",
    "Sequential",
    "TimeBatchNorm1d",
    "TimeBatchNorm2d",
    "TimeDropout",
]

Sparse = Union[bool, str]


def _threshold(mode: Sparse, threshold: float) -> float:
    if mode == "auto":
        return threshold
    if mode is True:
        return 1.0
    if mode is False:
        return 0.0
    raise ValueError(f'sparse must be "auto", True or False, got {mode!r}')


class Linear(nn.Linear):
    """``nn.Linear`` over ``[T, B, in_features]``; event-driven for sparse (spike) input.

    ``weight`` keeps torch's contiguous ``[out_features, in_features]`` layout. (Storing it
    input-major would spare the event path a transpose per step, 0.5 ms in benchmark B4, but
    torch's fused Adam copies non-contiguous parameters in and out, 2 ms per step.)

    Args:
        sparse: ``"auto"`` (event-driven when at most ``threshold`` of the inputs are
            non-zero), ``True`` (always) or ``False`` (dense torch).
        threshold: the density switch of ``"auto"``.
    """

    def __init__(self, in_features: int, out_features: int, bias: bool = True,
                 sparse: Sparse = "auto", threshold: float = sparse.DEFAULT_THRESHOLD) -> None:
        super().__init__(in_features, out_features, bias=bias)
        self.sparse = sparse
        self.threshold = _threshold(sparse, threshold)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``[T, B, in] -> [T, B, out]`` (any leading axes, at least two)."""
        check_time_first(x, "Linear", min_dim=3, features=self.in_features)
        return sparse.linear(x, self.weight, self.bias, self.threshold)


def _merge(x: torch.Tensor, layer: str, dims: int) -> tuple[torch.Tensor, tuple[int, int]]:
    if x.dim() != dims + 1:
        extra = ""
        if x.dim() == dims:
            extra = " (add the time axis: x.unsqueeze(0) for one step)"
        raise ValueError(
            f"{layer} expects time-first input [T, B, ...] with {dims + 1} dimensions, got shape "
            f"{tuple(x.shape)}{extra}"
        )
    t, b = x.shape[:2]
    return x.flatten(0, 1), (t, b)


def _split(y: torch.Tensor, tb: tuple[int, int]) -> torch.Tensor:
    return y.unflatten(0, tb)


class Conv2d(nn.Conv2d):
    """``nn.Conv2d`` over ``[T, B, C, H, W]`` (all steps in one call); event-driven for sparse input.

    ``sparse``/``threshold`` as in :class:`Linear`. The event-driven path needs equal strides
    and paddings on both axes, no dilation and one group; otherwise the dense path runs.
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size: Any, stride: Any = 1,
                 padding: Any = 0, bias: bool = True, sparse: Sparse = "auto",
                 threshold: float = sparse.DEFAULT_THRESHOLD, **kwargs: Any) -> None:
        super().__init__(in_channels, out_channels, kernel_size, stride=stride, padding=padding,
                         bias=bias, **kwargs)
        self.sparse = sparse
        self.threshold = _threshold(sparse, threshold)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``[T, B, C, H, W] -> [T, B, C_out, H_out, W_out]``."""
        x4, tb = _merge(x, "Conv2d", 4)
        if x4.shape[1] != self.in_channels:
            raise ValueError(
                f"Conv2d expects {self.in_channels} channels on axis 2 of [T, B, C, H, W], got "
                f"shape {tuple(x.shape)}"
            )
        simple = (self.dilation == (1, 1) and self.groups == 1
                  and isinstance(self.padding, tuple) and self.padding_mode == "zeros")
        if simple:
            y = sparse.conv2d(x4, self.weight, self.bias, self.stride, self.padding,  # type: ignore[arg-type]
                              self.threshold)
        else:
            y = self._conv_forward(x4, self.weight, self.bias)
        return _split(y, tb)


class AvgPool2d(nn.AvgPool2d):
    """``nn.AvgPool2d`` over ``[T, B, C, H, W]`` (the common window = stride case in Rust)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Pool every step."""
        x4, tb = _merge(x, "AvgPool2d", 4)
        k, s, p = self.kernel_size, self.stride, self.padding
        simple = (isinstance(k, int) and (s == k or s is None) and p == 0
                  and not self.ceil_mode and self.divisor_override is None)
        if simple:
            return _split(pooling.avg_pool2d(x4, k), tb)  # type: ignore[arg-type]
        return _split(super().forward(x4), tb)


class MaxPool2d(nn.MaxPool2d):
    """``nn.MaxPool2d`` over ``[T, B, C, H, W]`` (on spikes: a logical OR per window)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Pool every step."""
        x4, tb = _merge(x, "MaxPool2d", 4)
        return _split(super().forward(x4), tb)


class TimeBatchNorm2d(nn.BatchNorm2d):
    """Threshold-dependent batch norm (tdBN, Zheng et al. 2021) over ``[T, B, C, H, W]``.

    Statistics are taken over time, batch and space together; the scale starts at
    ``alpha * v_th`` so normalised inputs are on the threshold's scale.
    """

    def __init__(self, num_features: int, v_th: float = 1.0, alpha: float = 1.0,
                 **kwargs: Any) -> None:
        super().__init__(num_features, **kwargs)
        self.v_th, self.alpha = v_th, alpha
        if self.affine:
            nn.init.constant_(self.weight, alpha * v_th)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # type: ignore[override]
        """Normalise per channel over (T, B, H, W)."""
        x4, tb = _merge(x, "TimeBatchNorm2d", 4)
        return _split(super().forward(x4), tb)


class TimeBatchNorm1d(nn.BatchNorm1d):
    """tdBN for ``[T, B, F]``: per feature over time and batch; scale starts at ``alpha*v_th``."""

    def __init__(self, num_features: int, v_th: float = 1.0, alpha: float = 1.0,
                 **kwargs: Any) -> None:
        super().__init__(num_features, **kwargs)
        if self.affine:
            nn.init.constant_(self.weight, alpha * v_th)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # type: ignore[override]
        """Normalise per feature over (T, B)."""
        x2, tb = _merge(x, "TimeBatchNorm1d", 2)
        return _split(super().forward(x2), tb)


class TimeDropout(nn.Module):
    """Dropout with one mask per sample shared by all time steps (``x[T, B, ...]``)."""

    def __init__(self, p: float = 0.5) -> None:
        super().__init__()
        if not 0.0 <= p < 1.0:
            raise ValueError(f"dropout probability must lie in [0, 1), got {p}")
        self.p = p

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Zero the same units at every step (scaled by ``1/(1-p)``) in training mode."""
        check_time_first(x, "TimeDropout", min_dim=2)
        if not self.training or self.p == 0.0:
            return x
        mask = torch.empty(x.shape[1:], device=x.device, dtype=x.dtype).bernoulli_(1 - self.p)
        return x * (mask / (1 - self.p))

    def extra_repr(self) -> str:
        return f"p={self.p}"


class Flatten(nn.Module):
    """``[T, B, ...] -> [T, B, -1]``."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Flatten everything after the batch axis."""
        check_time_first(x, "Flatten", min_dim=2)
        return x.flatten(2)


def is_stateful(m: nn.Module) -> bool:
    """Whether ``m.forward`` takes ``(x, state)`` and returns ``(y, state)`` (neurons, blocks)."""
    from spikeflow.torch.neurons import LIF, AdaptiveLIF, LeakyIntegrator, RecurrentLIF

    return isinstance(m, (LIF, RecurrentLIF, AdaptiveLIF, LeakyIntegrator, Sequential, SEWBlock))


class Sequential(nn.Sequential):
    """Layers in order, threading each neuron layer's state explicitly.

    ``forward(x, states=None) -> (y, states)``: ``states`` holds one entry per stateful
    layer (``None`` to start at rest); pass the returned list back to continue a sequence.
    """

    def forward(self, x: torch.Tensor, states: list[Any] | None = None) -> tuple[torch.Tensor, list[Any]]:  # type: ignore[override]
        """Run all layers; returns the output and the new states."""
        stateful = [m for m in self if is_stateful(m)]
        if states is None:
            states = [None] * len(stateful)
        if len(states) != len(stateful):
            raise ValueError(f"expected {len(stateful)} states, got {len(states)}")
        new: list[Any] = []
        it = iter(states)
        for m in self:
            if is_stateful(m):
                x, s = m(x, next(it))
                new.append(s)
            else:
                x = m(x)
        return x, new


class SEWBlock(nn.Module):
    """Spike-element-wise residual block (SEW-ResNet, Fang et al. 2021).

    ``out = g(body(x), x)`` with ``g`` = ``"ADD"`` (``a + x``), ``"AND"`` (``a * x``) or
    ``"IAND"`` (``(1 - a) * x``); ``body`` is a :class:`Sequential` ending in spiking neurons,
    whose output has the shape of ``x``. Stateful: ``forward(x, state) -> (y, state)``.
    """

    def __init__(self, *body: nn.Module, connect: str = "ADD") -> None:
        super().__init__()
        if connect not in ("ADD", "AND", "IAND"):
            raise ValueError(f'connect must be "ADD", "AND" or "IAND", got {connect!r}')
        self.body = Sequential(*body)
        self.connect = connect

    def forward(self, x: torch.Tensor, state: list[Any] | None = None) -> tuple[torch.Tensor, list[Any]]:
        """Residual combination of the body's spikes with the input spikes."""
        a, state = self.body(x, state)
        if a.shape != x.shape:
            raise ValueError(f"SEWBlock body changed the shape {tuple(x.shape)} -> {tuple(a.shape)}")
        if self.connect == "ADD":
            return a + x, state
        if self.connect == "AND":
            return a * x, state
        return (1.0 - a) * x, state


def kaiming_spiking_(layer: nn.Module, gain: float = 1.0) -> None:
    """Re-initialise a Linear/Conv2d like torch's default but scaled by ``gain``."""
    nn.init.kaiming_uniform_(layer.weight, a=math.sqrt(5))
    with torch.no_grad():
        layer.weight.mul_(gain)

