"""Deploy a trained :mod:`spikeflow.torch` network onto the event engine (grid mode).

>>> import spikeflow.deploy as sd                                    # doctest: +SKIP
>>> dep = sd.deploy(model, dt=1.0, input_shape=(2, 34, 34))          # doctest: +SKIP
>>> res = dep.run_batch([dep.encode(x) for x in samples], steps=T)    # doctest: +SKIP

``spikeflow.deploy`` is itself callable: ``sf.deploy(model, dt=1.0)`` is
:func:`spikeflow.deploy.deploy`. See ``docs/deploy.md`` for the translation rules.
"""
from __future__ import annotations

import sys
import types
from typing import Any

from spikeflow.deploy.compare import Agreement, compare, torch_layer_spikes
from spikeflow.deploy.convert import (
    DeployedLayer,
    DeployedNetwork,
    UnsupportedLayerError,
    deploy,
)

__all__ = [
    "Agreement",
    "DeployedLayer",
    "DeployedNetwork",
    "UnsupportedLayerError",
    "compare",
    "deploy",
    "torch_layer_spikes",
]


class _CallableModule(types.ModuleType):
    """Lets ``spikeflow.deploy(model, ...)`` call :func:`deploy` directly."""

    def __call__(self, *args: Any, **kwargs: Any) -> DeployedNetwork:
        return deploy(*args, **kwargs)


sys.modules[__name__].__class__ = _CallableModule
