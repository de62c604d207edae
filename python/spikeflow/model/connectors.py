"""Connection rules. Each is a small description; the synapses are built in Rust from the seed.

``allow_autapses`` matters only when a population is connected onto itself;
``allow_multapses`` lets a pair be connected more than once (random degree rules).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Optional, Sequence, Tuple, Union

import numpy as np

__all__ = [
    "Connector",
    "AllToAll",
    "OneToOne",
    "FixedProbability",
    "FixedInDegree",
    "FixedOutDegree",
    "FromArrays",
    "Conv2d",
    "Pool2d",
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


# ----- convolution and pooling (shared weights, computed fan-out) ----------------------------

IntPair = Union[int, Tuple[int, int]]


def _positive_int(v: Any, what: str, minimum: int = 1) -> int:
    from spikeflow.errors import ParameterError

    if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < minimum:
        raise ParameterError(f"{what} must be an integer >= {minimum}, got {v!r}")
    return int(v)


def _int_pair(v: Any, what: str, minimum: int = 1) -> Tuple[int, int]:
    from spikeflow.errors import ParameterError

    if isinstance(v, (tuple, list)):
        if len(v) != 2:
            raise ParameterError(f"{what} must be an integer or a pair (y, x), got {v!r}")
        return _positive_int(v[0], what, minimum), _positive_int(v[1], what, minimum)
    a = _positive_int(v, what, minimum)
    return a, a


def _shape3(v: Any, who: str) -> Tuple[int, int, int]:
    from spikeflow.errors import ParameterError

    if not isinstance(v, (tuple, list)) or len(v) != 3:
        raise ParameterError(f"{who}: in_shape must be (C, H, W), got {v!r}")
    c, h, w = (_positive_int(x, f"{who}: in_shape entries") for x in v)
    return c, h, w


def _out_size(n: int, k: int, s: int, p: int, d: int, who: str, axis: str) -> int:
    from spikeflow.errors import ParameterError

    span = d * (k - 1) + 1
    if span > n + 2 * p:
        raise ParameterError(
            f"{who}: the kernel {axis} ({span} with dilation) is larger than the padded input "
            f"{axis} ({n} + 2*{p}); use a smaller kernel or more padding")
    return (n + 2 * p - span) // s + 1


class _Grid2d(Connector):
    """Shared geometry of :class:`Conv2d` and :class:`Pool2d` (set by the subclasses)."""

    in_shape: Tuple[int, int, int]

    def _geometry(self) -> Tuple[Tuple[int, int, int], int, Tuple[int, int], Tuple[int, int],
                                 Tuple[int, int], Tuple[int, int], int]:
        raise NotImplementedError

    @property
    def out_shape(self) -> Tuple[int, int, int]:
        """``(C', H', W')`` of the postsynaptic population (its size is the product)."""
        (c, h, w), co, (kh, kw), (sy, sx), (py, px), (dy, dx), _ = self._geometry()
        who = type(self).__name__
        return (co, _out_size(h, kh, sy, py, dy, who, "height"), _out_size(w, kw, sx, px, dx, who, "width"))

    @property
    def kernel_shape(self) -> Tuple[int, int, int, int]:
        """``(C', C/groups, kh, kw)``: the shape of ``proj.weights``."""
        (c, _, _), co, (kh, kw), _, _, _, g = self._geometry()
        return (co, c // g, kh, kw)

    def engine_geometry(self) -> Tuple[int, ...]:
        """The 13 integers the engine's ``connect_conv`` takes."""
        (c, h, w), co, k, s, p, d, g = self._geometry()
        _ = self.out_shape  # validates the sizes
        return (c, h, w, co, *k, *s, *p, *d, g)

    def engine_args(self) -> dict[str, Any]:
        raise TypeError(f"{type(self).__name__} is connected through Network.connect, not a rule")


@dataclass(frozen=True)
class Conv2d(_Grid2d):
    """A shared-weight 2-D convolution from a ``(C, H, W)`` population to a ``(C', H', W')`` one.

    Neuron ``(c, y, x)`` of either population has index ``c*H*W + y*W + x`` (channel-major, the
    order of torch's ``flatten``). Output ``(c', oy, ox)`` receives
    ``kernel[c', c, ky, kx]`` from input ``(c, oy*stride - padding + ky*dilation, ...)`` for the
    taps inside the input (torch's ``conv2d``: cross-correlation, zero padding). ``groups``
    splits the channels as in torch (``groups=C`` is depthwise).

    Use it as ``net.connect(pre, post, sf.Conv2d((C, H, W), C', 3, padding=1), weight=kernel)``
    with ``kernel`` of shape :attr:`kernel_shape` ``(C', C/groups, kh, kw)`` (a scalar or a
    distribution fills it), one ``delay`` and optionally ``plasticity=sf.STDP(...)``
    (or ``sf.TripletSTDP``). The projection stores only the kernel and the geometry; a spike's
    targets are computed when it arrives. ``proj.weights`` is the kernel (writable),
    ``proj.n_synapses`` the number of synapses of the equivalent explicit projection, and the
    counters count synaptic events as that projection would. Under STDP every position's
    pairings update the shared kernel element, so the kernel change is the sum of the updates
    of all positions (as backpropagation sums gradients over shared weights).
    """

    in_shape: Tuple[int, int, int]
    out_channels: int
    kernel_size: IntPair
    stride: IntPair = 1
    padding: IntPair = 0
    dilation: IntPair = 1
    groups: int = 1
    rule = "conv"
    mode = "sum"

    def _geometry(self):  # type: ignore[no-untyped-def]
        from spikeflow.errors import ParameterError

        shape = _shape3(self.in_shape, "Conv2d")
        co = _positive_int(self.out_channels, "Conv2d: out_channels")
        g = _positive_int(self.groups, "Conv2d: groups")
        if shape[0] % g or co % g:
            raise ParameterError(
                f"Conv2d: groups = {g} must divide both the input channels ({shape[0]}) and "
                f"out_channels ({co})")
        return (shape, co, _int_pair(self.kernel_size, "Conv2d: kernel_size"),
                _int_pair(self.stride, "Conv2d: stride"), _int_pair(self.padding, "Conv2d: padding", 0),
                _int_pair(self.dilation, "Conv2d: dilation"), g)


@dataclass(frozen=True)
class Pool2d(_Grid2d):
    """2-D pooling from a ``(C, H, W)`` population to ``(C, H', W')``, per channel.

    ``mode="avg"``: each window cell sends ``weight / divisor`` (``divisor`` defaults to
    ``kh*kw``, torch's ``AvgPool2d`` with ``count_include_pad=True``); this is a fixed
    depthwise convolution. ``mode="max"``: a target receives ``weight`` once at each instant
    (grid step or exact time) at which any source of its window spikes, however many do:
    ``weight * OR(window)``, which is ``weight * max(window)`` on binary spikes, torch's
    ``MaxPool2d`` on a spike tensor (several spikes of one source at one instant count once).
    Into ``sf.IF(v_th=weight/2, v_reset=0, reset="value", t_ref=0)`` neurons this gives the
    pooled spike train one step later. Padding cells never contribute (they never spike).
    ``stride`` defaults to the kernel size. ``weight`` (default 1) must be one number; pooling
    does not learn (``plasticity`` is refused). Index map as for :class:`Conv2d`.
    """

    in_shape: Tuple[int, int, int]
    kernel_size: IntPair
    stride: Optional[IntPair] = None
    padding: IntPair = 0
    mode: str = "avg"
    divisor: Optional[float] = None
    rule = "pool"

    def _geometry(self):  # type: ignore[no-untyped-def]
        from spikeflow.errors import ParameterError

        if self.mode not in ("avg", "max"):
            raise ParameterError(f"Pool2d: mode must be 'avg' or 'max', got {self.mode!r}")
        shape = _shape3(self.in_shape, "Pool2d")
        k = _int_pair(self.kernel_size, "Pool2d: kernel_size")
        s = k if self.stride is None else _int_pair(self.stride, "Pool2d: stride")
        return (shape, shape[0], k, s, _int_pair(self.padding, "Pool2d: padding", 0), (1, 1), shape[0])

    @property
    def engine_mode(self) -> str:
        """``"sum"`` (average pooling) or ``"max"``."""
        return "max" if self.mode == "max" else "sum"

    def kernel(self, weight: float) -> np.ndarray:
        """The fixed kernel ``(C, 1, kh, kw)`` for a scalar ``weight``."""
        from spikeflow.errors import ParameterError

        shape = self.kernel_shape
        if self.mode == "max":
            return np.full(shape, float(weight))
        div = float(shape[2] * shape[3]) if self.divisor is None else float(self.divisor)
        if not (np.isfinite(div) and div != 0):
            raise ParameterError(f"Pool2d: divisor must be a finite non-zero number, got {self.divisor!r}")
        return np.full(shape, float(weight) / div)
