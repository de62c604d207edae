"""Connection rules. Each is a small description; the synapses are built in Rust from the seed.

``allow_autapses`` matters only when a population is connected onto itself;
``allow_multapses`` lets a pair be connected more than once (random degree rules).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Optional, Sequence, Union

import numpy as np

__all__ = [
    "Connector",
    "AllToAll",
    "OneToOne",
    "FixedProbability",
    "FixedInDegree",
    "FixedOutDegree",
    "FromArrays",
]


class Connector:
    """Base class of the connection rules."""

    rule: str = ""

    def engine_args(self) -> dict[str, Any]:
        """Keyword arguments of the engine's ``connect`` for this rule."""
        return {"rule": self.rule, "k": 0, "p": 0.0, "autapses": True, "multapses": True,
                "pre_ids": None, "post_ids": None}


@dataclass(frozen=True)
class AllToAll(Connector):
    """Every presynaptic neuron to every postsynaptic neuron.

    A per-synapse weight may be given as an array of shape ``(n_pre, n_post)`` (or flat, in
    that order), e.g. a trained weight matrix transposed from torch's ``(out, in)``.
    """

    allow_autapses: bool = True
    rule = "all_to_all"

    def engine_args(self) -> dict[str, Any]:
        return {**super().engine_args(), "autapses": self.allow_autapses}


@dataclass(frozen=True)
class OneToOne(Connector):
    """Neuron ``i`` to neuron ``i``; both populations must have the same size."""

    rule = "one_to_one"


@dataclass(frozen=True)
class FixedProbability(Connector):
    """Each pair independently with probability ``p``."""

    p: float
    allow_autapses: bool = True
    rule = "fixed_probability"

    def engine_args(self) -> dict[str, Any]:
        return {**super().engine_args(), "p": float(self.p), "autapses": self.allow_autapses}


def _degree(k: Any, name: str) -> int:
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 0:
        from spikeflow.errors import ParameterError

        raise ParameterError(f"{name}(k): k must be a non-negative integer, got {k!r}")
    return int(k)


@dataclass(frozen=True)
class FixedInDegree(Connector):
    """Each postsynaptic neuron receives exactly ``k`` synapses from random sources."""

    k: int
    allow_autapses: bool = True
    allow_multapses: bool = True
    rule = "fixed_in_degree"

    def engine_args(self) -> dict[str, Any]:
        return {**super().engine_args(), "k": _degree(self.k, "FixedInDegree"),
                "autapses": self.allow_autapses, "multapses": self.allow_multapses}


@dataclass(frozen=True)
class FixedOutDegree(Connector):
    """Each presynaptic neuron makes exactly ``k`` synapses onto random targets."""

    k: int
    allow_autapses: bool = True
    allow_multapses: bool = True
    rule = "fixed_out_degree"

    def engine_args(self) -> dict[str, Any]:
        return {**super().engine_args(), "k": _degree(self.k, "FixedOutDegree"),
                "autapses": self.allow_autapses, "multapses": self.allow_multapses}


ArrayLike = Union[Sequence[float], np.ndarray]


@dataclass(frozen=True, eq=False)
class FromArrays(Connector):
    """Explicit synapses ``pre[k] -> post[k]``, optionally with their weights and delays.

    ``weight``/``delay`` given here are used when ``net.connect`` is not given its own.
    """

    pre: ArrayLike
    post: ArrayLike
    weight: Optional[Union[float, ArrayLike]] = None
    delay: Optional[Union[float, ArrayLike]] = None
    rule = "explicit"

    def engine_args(self) -> dict[str, Any]:
        from spikeflow._arrays import index_array

        pre = index_array(self.pre, "FromArrays pre")
        post = index_array(self.post, "FromArrays post")
        return {**super().engine_args(), "pre_ids": pre, "post_ids": post}
