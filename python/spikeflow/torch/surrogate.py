"""Surrogate gradients: the true Heaviside spike forward, a smooth stand-in derivative backward.

A surrogate is chosen by name (``"fast_sigmoid"``, ``"arctan"``, ``"triangle"``,
``"straight_through"``) or given as a :class:`Surrogate`. Its argument is the distance to the
threshold ``x = v - v_th`` (in the membrane's own units); ``alpha`` sets the sharpness.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Union

import torch

__all__ = ["SURROGATES", "Surrogate", "SurrogateLike", "spike", "surrogate"]

#: Names accepted by :func:`surrogate`, with their default sharpness ``alpha``.
SURROGATES: dict[str, float] = {
    "fast_sigmoid": 25.0,
    "arctan": 2.0,
    "triangle": 1.0,
    "straight_through": 1.0,
}


@dataclass(frozen=True)
class Surrogate:
    """A named surrogate derivative of the Heaviside step.

    * ``fast_sigmoid``: ``1 / (1 + alpha |x|)^2`` (SuperSpike, Zenke & Ganguli 2018);
    * ``arctan``: ``alpha / 2 / (1 + (pi/2 alpha x)^2)``;
    * ``triangle``: ``max(0, 1 - alpha |x|) * alpha`` (width ``1/alpha`` each side);
    * ``straight_through``: ``1`` where ``|x| <= 1/(2 alpha)``, else ``0``
      (``alpha=0`` passes every gradient).
    """

    name: str = "fast_sigmoid"
    alpha: float = 25.0

    def __post_init__(self) -> None:
        if self.name not in SURROGATES:
            raise ValueError(
                f"unknown surrogate {self.name!r}; choose one of {sorted(SURROGATES)}"
            )
        if not (self.alpha >= 0 and math.isfinite(self.alpha)):
            raise ValueError(f"surrogate alpha must be finite and >= 0, got {self.alpha}")

    @property
    def code(self) -> int:
        """Index of this surrogate in the Rust kernels (order of :data:`SURROGATES`)."""
        return list(SURROGATES).index(self.name)

    def derivative(self, x: torch.Tensor) -> torch.Tensor:
        """The surrogate derivative d spike / d x at ``x = v - v_th``."""
        a = self.alpha
        if self.name == "fast_sigmoid":
            return 1.0 / (1.0 + a * x.abs()).square()
        if self.name == "arctan":
            return (a / 2.0) / (1.0 + (math.pi / 2.0 * a * x).square())
        if self.name == "triangle":
            return (1.0 - a * x.abs()).clamp_min(0.0) * a
        if a == 0:
            return torch.ones_like(x)
        return (x.abs() <= 0.5 / a).to(x.dtype)

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        """Heaviside ``x >= 0`` forward (as a float tensor), this derivative backward."""
        return _Heaviside.apply(x, self)


SurrogateLike = Union[str, Surrogate]


def surrogate(spec: SurrogateLike = "fast_sigmoid", alpha: float | None = None) -> Surrogate:
    """Resolve a surrogate given by name (default sharpness unless ``alpha``) or as an object."""
    if isinstance(spec, Surrogate):
        return spec if alpha is None else Surrogate(spec.name, float(alpha))
    if not isinstance(spec, str):
        raise TypeError(f"surrogate must be a name or a Surrogate, got {type(spec).__name__}")
    if spec not in SURROGATES:
        raise ValueError(f"unknown surrogate {spec!r}; choose one of {sorted(SURROGATES)}")
    return Surrogate(spec, float(SURROGATES[spec] if alpha is None else alpha))


class _Heaviside(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x: torch.Tensor, sg: Surrogate) -> torch.Tensor:  # type: ignore[override]
        ctx.save_for_backward(x)
        ctx.sg = sg
        return (x >= 0).to(x.dtype)

    @staticmethod
    def backward(ctx, grad: torch.Tensor):  # type: ignore[override]
        (x,) = ctx.saved_tensors
        return grad * ctx.sg.derivative(x), None


def spike(x: torch.Tensor, sg: SurrogateLike = "fast_sigmoid") -> torch.Tensor:
    """Spike where ``x >= 0`` (true Heaviside), with the surrogate ``sg``'s gradient."""
    return surrogate(sg)(x)
