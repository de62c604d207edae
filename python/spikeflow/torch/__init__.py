"""Surrogate-gradient training of spiking networks with torch (``pip install spikeflow[torch]``).

Time-first tensors ``[T, B, ...]``, explicit state, no global registries:

* :mod:`~spikeflow.torch.functional` — pure neuron functions (state in, state out);
* neuron layers :class:`LIF`, :class:`IF`, :class:`RecurrentLIF`, :class:`AdaptiveLIF`,
  :class:`LeakyIntegrator` — ``forward(x, state) -> (output, state)``;
* layers :class:`Linear`, :class:`Conv2d` (event-driven on sparse spike input), pooling,
  :class:`TimeBatchNorm2d` (tdBN), :class:`TimeDropout`, :class:`SEWBlock`, :class:`Sequential`;
* surrogate gradients by name (:func:`surrogate`); parameter sets that map one-to-one onto
  the engine's (:meth:`LIF.from_model`, :meth:`LIF.to_model`).
"""
from __future__ import annotations

try:
    import torch as _torch  # noqa: F401
except ImportError as e:  # pragma: no cover - depends on the environment
    raise ImportError(
        "spikeflow.torch needs PyTorch: pip install 'spikeflow[torch]'"
    ) from e

from spikeflow.torch import functional
from spikeflow.torch.functional import ALIFState, LIFState, RLIFState
from spikeflow.torch.layers import (
    AvgPool2d,
    Conv2d,
    Flatten,
    Linear,
    MaxPool2d,
    Sequential,
    SEWBlock,
    TimeBatchNorm1d,
    TimeBatchNorm2d,
    TimeDropout,
)
from spikeflow.torch.layout import LayoutError, check_time_first, to_time_first
from spikeflow.torch.neurons import IF, LIF, AdaptiveLIF, LeakyIntegrator, RecurrentLIF
from spikeflow.torch.params import ALIFParameters, LIFParameters
from spikeflow.torch.surrogate import SURROGATES, Surrogate, spike, surrogate

__all__ = [
    "IF",
    "LIF",
    "SURROGATES",
    "ALIFParameters",
    "ALIFState",
    "AdaptiveLIF",
    "AvgPool2d",
    "Conv2d",
    "Flatten",
    "LIFParameters",
    "LIFState",
    "LayoutError",
    "LeakyIntegrator",
    "Linear",
    "MaxPool2d",
    "RLIFState",
    "RecurrentLIF",
    "SEWBlock",
    "Sequential",
    "Surrogate",
    "TimeBatchNorm1d",
    "TimeBatchNorm2d",
    "TimeDropout",
    "check_time_first",
    "functional",
    "spike",
    "surrogate",
    "to_time_first",
]
