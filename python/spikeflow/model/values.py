"""Random distributions for weights and delays, drawn in Rust from the network's seed."""
from __future__ import annotations

import math
from dataclasses import dataclass

__all__ = ["Uniform", "Normal"]


@dataclass(frozen=True)
class Uniform:
    """Uniform distribution on ``[low, high)``."""

    low: float
    high: float

    def spec(self) -> tuple:
        """The tuple the engine understands."""
        return ("uniform", float(self.low), float(self.high))


@dataclass(frozen=True)
class Normal:
    """Normal distribution, clipped to ``[low, high]`` (no clipping by default).

    Clip delays with ``low=dt``: a delay below one step is an error, not silently rounded up.
    """

    mean: float
    std: float
    low: float = -math.inf
    high: float = math.inf

    def spec(self) -> tuple:
        """The tuple the engine understands."""
        return ("normal", float(self.mean), float(self.std), float(self.low), float(self.high))
