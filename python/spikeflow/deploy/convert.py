"""Translate a :mod:`spikeflow.torch` model into an engine :class:`~spikeflow.Network` (grid mode).

The rules (``docs/deploy.md`` has the details):

* every spiking layer (``LIF``, ``IF``, ``RecurrentLIF``) becomes one population with the same
  parameters: ``sf.LIF(tau_m=-dt/ln(beta), v_rest=0, v_th, v_reset, t_ref=0, reset)`` or
  ``sf.IF(...)``; ``c_m`` is chosen so that 1 pA of current adds exactly 1 mV per step
  (``c_m = (1 - beta) * tau_m`` for LIF, ``c_m = dt`` for IF), so a torch bias ``b`` is a
  constant current of ``b`` pA;
* the linear layers between two spiking layers (``Linear``, ``Conv2d``, ``AvgPool2d``,
  ``Flatten``, eval-mode batch norm, dropout) become one projection with delay ``dt``: a
  ``Conv2d`` alone (optionally followed by batch norm, folded into its kernel and bias) is a
  shared-weight ``sf.Conv2d`` projection and an ``AvgPool2d`` alone an ``sf.Pool2d``
  projection, which store only the kernel; any other chain is composed into one weight matrix:
  ``AllToAll`` with an ``(n_pre, n_post)`` matrix when dense, explicit ``FromArrays`` synapses
  when sparse (``shared_weights=False`` composes convolutions too, the old behaviour);
* ``MaxPool2d`` directly after a spiking layer is a logical OR of binary spikes, deployed as a
  population of IF neurons (threshold 0.5, reset to 0) fed by an ``sf.Pool2d(mode="max")``
  projection of weight 1 (each neuron gets 1 at a step where any cell of its window spiked);
* a recurrent layer's ``w_rec`` becomes a projection onto itself with delay ``dt`` (torch
  feeds ``z[t-1]`` at step ``t``: exactly one step).

Every population adds one step of delay: the population at depth ``k`` computes torch step
``t`` at engine step ``t + k`` (input spikes of torch step ``t`` are emitted at ``t * dt``).
Biases of deeper layers are step currents that start when their first real step comes, so the
pipeline's head does not see extra bias steps.
"""
from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional, Sequence, Tuple, Union

import numpy as np

from spikeflow.errors import SpikeflowError

__all__ = ["DeployedLayer", "DeployedNetwork", "UnsupportedLayerError", "deploy"]

_DENSE_MAX = 50_000_000  # largest dense (n_pre * n_post) matrix handed to AllToAll


class UnsupportedLayerError(SpikeflowError, ValueError):
    """A layer of the model has no exact translation onto the engine (the message says why)."""


@dataclass
class DeployedLayer:
    """One engine population made from a torch layer.

    Attributes:
        name: population name (``"<index>:<LayerType>"``).
        module: the torch module it was made from (``MaxPool2d`` for an OR population).
        population: the engine population.
        depth: steps of delay after the input (the first spiking layer has depth 1).
        shape: the layer's per-sample output shape in torch (``(C, H, W)`` or ``(N,)``).
        projections: engine projections into this population (feed-forward, then recurrent).
    """

    name: str
    module: Any
    population: Any
    depth: int
    shape: Tuple[int, ...]
    projections: List[Any] = field(default_factory=list)

    @property
    def size(self) -> int:
        """Number of neurons."""
        return int(np.prod(self.shape))


class DeployedNetwork:
    """An engine network that computes the same spikes as a torch model, one step per layer later.

    Attributes:
        network: the engine :class:`~spikeflow.Network` (grid mode, step ``dt``).
        source: the input spike source (``n_inputs`` sources, torch's flattening order).
        layers: the spiking populations in order; ``layers[-1]`` is the output.
        dt: grid step (ms).
        input_shape: per-sample input shape (without the ``[T, B]`` axes).
    """

    def __init__(self, network: Any, source: Any, layers: List[DeployedLayer], dt: float,
                 input_shape: Tuple[int, ...], model: Any, options: Dict[str, Any]) -> None:
        self.network = network
        self.source = source
        self.layers = layers
        self.dt = dt
        self.input_shape = input_shape
        self._model = model
        self._options = options

    @property
    def output(self) -> Any:
        """The output population."""
        return self.layers[-1].population

    @property
    def depth(self) -> int:
        """Pipeline delay ``L`` in steps: engine output step ``s`` is torch step ``s - L``."""
        return self.layers[-1].depth

    @property
    def n_inputs(self) -> int:
        """Number of input sources."""
        return int(np.prod(self.input_shape))

    def duration(self, steps: int) -> float:
        """Engine run time (ms) that covers ``steps`` torch steps at the output."""
        if steps < 1:
            raise ValueError(f"steps must be >= 1, got {steps}")
        return (steps - 1 + self.depth) * self.dt

    def encode(self, x: Any) -> Tuple[np.ndarray, np.ndarray]:
        """Spike-source input ``(times_ms, ids)`` for one sample ``x[T, *input_shape]``.

        Entries are spike counts (non-negative integers); a count ``c`` at step ``t`` becomes
        ``c`` spikes of that source at ``t * dt``.
        """
        arr = _numpy(x)
        if arr.shape[1:] != tuple(self.input_shape):
            raise ValueError(
                f"encode expects one sample [T, {', '.join(map(str, self.input_shape))}], got shape "
                f"{arr.shape} (for a batch [T, B, ...] encode x[:, b])"
            )
        flat = arr.reshape(arr.shape[0], -1)
        if np.any(flat < 0) or np.any(flat != np.round(flat)):
            raise ValueError("encode: input must hold spike counts (non-negative integers); "
                             "the engine's input is spikes, not analog currents")
        t_idx, ids = np.nonzero(flat)
        reps = flat[t_idx, ids].astype(np.int64)
        t_idx = np.repeat(t_idx, reps)
        ids = np.repeat(ids, reps)
        return t_idx.astype(np.float64) * self.dt, ids.astype(np.int64)

    def encode_batch(self, x: Any) -> List[Tuple[np.ndarray, np.ndarray]]:
        """:meth:`encode` for every sample of a time-first batch ``x[T, B, ...]``."""
        arr = _numpy(x)
        return [self.encode(arr[:, b]) for b in range(arr.shape[1])]

    def run_batch(self, samples: Sequence[Tuple[Any, Any]], steps: int,
                  record: Optional[Sequence[DeployedLayer]] = None,
                  threads: Optional[int] = None) -> Any:
        """Run samples ``(times, ids)`` through the engine on all cores (``Network.run_batch``).

        The run lasts :meth:`duration` ``(steps)``, so the output covers torch steps
        ``0 .. steps-1``; ``record`` (default: every layer) picks the populations whose
        counts and first spikes are returned.
        """
        layers = self.layers if record is None else list(record)
        return self.network.run_batch(self.source, samples, self.duration(steps),
                                      record=[lay.population for lay in layers], threads=threads)

    def predictions(self, result: Any) -> np.ndarray:
        """Predicted class per sample: the output neuron with most spikes (lowest index on ties,
        like ``argmax`` of torch's summed output spikes)."""
        return np.argmax(result.counts[self.output.name], axis=1)

    def first_spike_steps(self, result: Any, layer: Optional[DeployedLayer] = None) -> np.ndarray:
        """First-spike torch step per sample and neuron of ``layer`` (default: output); NaN: silent."""
        lay = self.layers[-1] if layer is None else layer
        return np.round(result.first_spike[lay.population.name] / self.dt) - lay.depth

    def spike_trains(self, x: Any, steps: Optional[int] = None) -> List[np.ndarray]:
        """Engine spikes of every layer for one sample ``x[T, ...]``, as ``[steps, n]`` arrays
        aligned to torch steps (built on a fresh copy of the network; for checks, not speed)."""
        arr = _numpy(x)
        steps = arr.shape[0] if steps is None else int(steps)
        times, ids = self.encode(arr)
        copy = deploy(self._model, **self._options, _source=(times, ids))
        recs = [copy.network.record_spikes(lay.population) for lay in copy.layers]
        copy.network.run(self.duration(steps))
        out = []
        for lay, rec in zip(copy.layers, recs):
            m = np.zeros((steps, lay.size), dtype=np.float32)
            t = np.round(rec.times / self.dt).astype(np.int64) - lay.depth
            keep = (t >= 0) & (t < steps)
            np.add.at(m, (t[keep], rec.ids[keep].astype(np.int64)), 1.0)
            out.append(m)
        return out

    def __repr__(self) -> str:
        body = ", ".join(f"{lay.name}[{lay.size}]" for lay in self.layers)
        return f"DeployedNetwork(dt={self.dt}, input={self.input_shape}, layers=[{body}], depth={self.depth})"


# ----- helpers ----------------------------------------------------------------------------


def _numpy(x: Any) -> np.ndarray:
    if hasattr(x, "detach"):
        x = x.detach().cpu().numpy()
    return np.asarray(x)


def _flatten_modules(model: Any) -> List[Tuple[str, Any]]:
    import torch.nn as nn

    out: List[Tuple[str, Any]] = []

    def walk(m: Any, prefix: str) -> None:
        if isinstance(m, nn.Sequential):
            for name, child in m.named_children():
                walk(child, f"{prefix}.{name}" if prefix else name)
        else:
            out.append((prefix or type(m).__name__, m))

    walk(model, "")
    return out


Operator = Any  # None (identity), dense or sparse-COO float64 torch tensor [n_in, n_out]


def _compose(a: Operator, m: Any) -> Any:
    """``a @ m`` where ``a`` may be None (identity) and either may be sparse."""
    import torch

    if a is None:
        return m
    if a.is_sparse and m.is_sparse:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message="Sparse CSR tensor support is in beta")
            return torch.sparse.mm(a, m).coalesce()
    if a.is_sparse:
        return torch.sparse.mm(a, m)
    if m.is_sparse:
        return torch.sparse.mm(m.t(), a.t()).t()
    return a @ m


def _apply_bias(b: Any, m: Any) -> Any:
    """Bias ``b`` (or None) pushed through operator ``m``."""
    import torch

    if b is None:
        return None
    if m.is_sparse:
        return torch.sparse.mm(m.t(), b.view(-1, 1)).view(-1)
    return b @ m


def _sparse(pre: np.ndarray, post: np.ndarray, w: np.ndarray, n_in: int, n_out: int) -> Any:
    import torch

    idx = torch.as_tensor(np.stack([pre, post]).astype(np.int64))
    return torch.sparse_coo_tensor(idx, torch.as_tensor(w, dtype=torch.float64), (n_in, n_out),
                                   check_invariants=False).coalesce()


def _pair(v: Any) -> Tuple[int, int]:
    if isinstance(v, (tuple, list)):
        return int(v[0]), int(v[1])
    return int(v), int(v)


@dataclass
class _ConvGeometry:
    """A torch Conv2d's geometry on a given input shape."""

    in_shape: Tuple[int, int, int]
    out_shape: Tuple[int, int, int]
    kernel: Tuple[int, int]
    stride: Tuple[int, int]
    padding: Tuple[int, int]
    dilation: Tuple[int, int]
    symmetric: bool  # False: "same" padding with an odd total (torch pads one more at the end)


def _conv_geometry(layer: Any, shape: Tuple[int, ...], where: str) -> _ConvGeometry:
    """Check a Conv2d against its input shape and compute its output shape."""
    if len(shape) != 3:
        raise UnsupportedLayerError(f"{where}: Conv2d needs a (C, H, W) input, got shape {shape}")
    c, h, w = shape
    if layer.in_channels != c:
        raise UnsupportedLayerError(f"{where}: Conv2d expects {layer.in_channels} channels, the layer before gives {c}")
    if layer.padding_mode != "zeros":
        raise UnsupportedLayerError(f"{where}: Conv2d padding_mode={layer.padding_mode!r} is not supported (only 'zeros')")
    kh, kw = layer.kernel_size
    sh, sw = _pair(layer.stride)
    dh, dw = _pair(layer.dilation)
    if isinstance(layer.padding, str):
        if layer.padding == "valid":
            ph = pw = 0
        else:  # "same" (stride 1): torch pads total d*(k-1), the smaller half first
            ph, pw = dh * (kh - 1) // 2, dw * (kw - 1) // 2
    else:
        ph, pw = _pair(layer.padding)
    if layer.padding == "same":
        ho, wo = h, w
    else:
        ho = (h + 2 * ph - dh * (kh - 1) - 1) // sh + 1
        wo = (w + 2 * pw - dw * (kw - 1) - 1) // sw + 1
    if ho <= 0 or wo <= 0:
        raise UnsupportedLayerError(f"{where}: Conv2d output would be empty for input {shape}")
    symmetric = not (layer.padding == "same" and (dh * (kh - 1) % 2 or dw * (kw - 1) % 2))
    return _ConvGeometry((c, h, w), (layer.out_channels, ho, wo), (kh, kw), (sh, sw), (ph, pw), (dh, dw), symmetric)


def _conv_operator(layer: Any, shape: Tuple[int, ...], where: str) -> Tuple[Any, Any, Tuple[int, ...]]:
    """Explicit synapses of a Conv2d: operator [C*H*W, Co*Ho*Wo], bias, output shape."""
    g = _conv_geometry(layer, shape, where)
    if layer.groups != 1:
        raise UnsupportedLayerError(
            f"{where}: Conv2d with groups={layer.groups} is supported only as a shared-weight projection "
            "(alone or with batch norm between two spiking layers, shared_weights=True)")
    c, h, w = g.in_shape
    co, ho, wo = g.out_shape
    kh, kw = g.kernel
    sh, sw = g.stride
    ph, pw = g.padding
    dh, dw = g.dilation
    weight = layer.weight.detach().double().cpu().numpy()  # (co, c, kh, kw)
    pres, posts, ws = [], [], []
    oy, ox = np.meshgrid(np.arange(ho), np.arange(wo), indexing="ij")
    oy, ox = oy.ravel(), ox.ravel()
    ci = np.arange(c)
    cout = np.arange(co)
    for a in range(kh):
        for bb in range(kw):
            iy = oy * sh - ph + a * dh
            ix = ox * sw - pw + bb * dw
            ok = (iy >= 0) & (iy < h) & (ix >= 0) & (ix < w)
            if not ok.any():
                continue
            pin = iy[ok] * w + ix[ok]            # (P,)
            pout = oy[ok] * wo + ox[ok]          # (P,)
            # all (co, ci, P) combinations
            pre = (ci[None, :, None] * (h * w) + pin[None, None, :])
            post = (cout[:, None, None] * (ho * wo) + pout[None, None, :])
            pre, post = np.broadcast_arrays(pre, post)
            wt = np.broadcast_to(weight[:, :, a, bb][:, :, None], pre.shape)
            pres.append(pre.ravel())
            posts.append(post.ravel())
            ws.append(wt.ravel())
    m = _sparse(np.concatenate(pres), np.concatenate(posts), np.concatenate(ws), c * h * w, co * ho * wo)
    bias = None
    if layer.bias is not None:
        import torch

        bias = torch.as_tensor(np.repeat(layer.bias.detach().double().cpu().numpy(), ho * wo))
    return m, bias, (co, ho, wo)


def _pool_windows(k: Tuple[int, int], s: Tuple[int, int], p: Tuple[int, int], shape: Tuple[int, ...],
                  where: str, what: str) -> Tuple[np.ndarray, np.ndarray, Tuple[int, ...]]:
    """(pre, post) index pairs of every pooling window (padding cells left out)."""
    if len(shape) != 3:
        raise UnsupportedLayerError(f"{where}: {what} needs a (C, H, W) input, got shape {shape}")
    c, h, w = shape
    ho = (h + 2 * p[0] - k[0]) // s[0] + 1
    wo = (w + 2 * p[1] - k[1]) // s[1] + 1
    if ho <= 0 or wo <= 0:
        raise UnsupportedLayerError(f"{where}: {what} output would be empty for input {shape}")
    oy, ox = np.meshgrid(np.arange(ho), np.arange(wo), indexing="ij")
    oy, ox = oy.ravel(), ox.ravel()
    pres, posts = [], []
    for a in range(k[0]):
        for b in range(k[1]):
            iy, ix = oy * s[0] - p[0] + a, ox * s[1] - p[1] + b
            ok = (iy >= 0) & (iy < h) & (ix >= 0) & (ix < w)
            pin, pout = iy[ok] * w + ix[ok], oy[ok] * wo + ox[ok]
            ch = np.arange(c)[:, None]
            pres.append((ch * h * w + pin[None, :]).ravel())
            posts.append((ch * ho * wo + pout[None, :]).ravel())
    return np.concatenate(pres), np.concatenate(posts), (c, ho, wo)


def _avgpool_operator(layer: Any, shape: Tuple[int, ...], where: str) -> Tuple[Any, Tuple[int, ...]]:
    k = _pair(layer.kernel_size)
    s = _pair(layer.stride if layer.stride is not None else layer.kernel_size)
    p = _pair(layer.padding)
    if layer.ceil_mode:
        raise UnsupportedLayerError(f"{where}: AvgPool2d with ceil_mode=True is not supported")
    if p != (0, 0) and not layer.count_include_pad:
        raise UnsupportedLayerError(f"{where}: AvgPool2d with padding and count_include_pad=False is not supported")
    div = layer.divisor_override or (k[0] * k[1])
    pre, post, out_shape = _pool_windows(k, s, p, shape, where, "AvgPool2d")
    w = np.full(pre.shape, 1.0 / div)
    return _sparse(pre, post, w, int(np.prod(shape)), int(np.prod(out_shape))), out_shape


def _avgpool_shape(layer: Any, shape: Tuple[int, ...], where: str) -> Tuple[int, ...]:
    """Check an AvgPool2d (as ``_avgpool_operator`` does) and give its output shape."""
    if layer.ceil_mode:
        raise UnsupportedLayerError(f"{where}: AvgPool2d with ceil_mode=True is not supported")
    p = _pair(layer.padding)
    if p != (0, 0) and not layer.count_include_pad:
        raise UnsupportedLayerError(f"{where}: AvgPool2d with padding and count_include_pad=False is not supported")
    if len(shape) != 3:
        raise UnsupportedLayerError(f"{where}: AvgPool2d needs a (C, H, W) input, got shape {shape}")
    k = _pair(layer.kernel_size)
    s = _pair(layer.stride if layer.stride is not None else layer.kernel_size)
    c, h, w = shape
    ho, wo = (h + 2 * p[0] - k[0]) // s[0] + 1, (w + 2 * p[1] - k[1]) // s[1] + 1
    if ho <= 0 or wo <= 0:
        raise UnsupportedLayerError(f"{where}: AvgPool2d output would be empty for input {shape}")
    return (c, ho, wo)


def _batchnorm_fold(m: Any, shape: Tuple[int, ...], where: str) -> Tuple[Any, Any]:
    """Per-feature ``(scale, shift)`` (float64 tensors) of an eval-mode batch norm."""
    import torch

    if m.training:
        raise UnsupportedLayerError(
            f"{where}: batch norm in training mode uses batch statistics; call model.eval() first")
    if m.running_mean is None:
        raise UnsupportedLayerError(f"{where}: batch norm without running statistics cannot be folded")
    scale = (m.weight.detach().double() if m.affine else torch.ones(m.num_features, dtype=torch.float64))
    scale = scale / torch.sqrt(m.running_var.double() + m.eps)
    shift = (m.bias.detach().double() if m.affine else torch.zeros(m.num_features, dtype=torch.float64))
    shift = shift - m.running_mean.double() * scale
    size = int(np.prod(shape))
    if (size // m.num_features) * m.num_features != size:
        raise UnsupportedLayerError(f"{where}: {m.num_features} features do not fit shape {shape}")
    return scale, shift


def _per_neuron(value: Any, shape: Tuple[int, ...], what: str, where: str) -> np.ndarray:
    """A layer parameter (float or tensor broadcastable to ``shape``) as a flat float64 array."""
    arr = _numpy(value).astype(np.float64) if hasattr(value, "detach") else np.asarray(value, dtype=np.float64)
    try:
        return np.broadcast_to(arr, shape).reshape(-1).copy()
    except ValueError as exc:
        raise UnsupportedLayerError(
            f"{where}: {what} of shape {arr.shape} does not broadcast to the layer's shape {shape}") from exc


def _scalar_or_array(a: np.ndarray) -> Union[float, np.ndarray]:
    return float(a[0]) if a.size and np.all(a == a[0]) else a


# ----- the translation --------------------------------------------------------------------


def deploy(model: Any, dt: float = 1.0, *, input_shape: Optional[Sequence[int]] = None,
           seed: int = 0, dense_threshold: float = 0.25, shared_weights: bool = True,
           _source: Optional[Tuple[Any, Any]] = None) -> DeployedNetwork:
    """Turn a trained spikeflow.torch SNN into an engine network in grid mode.

    Args:
        model: a :class:`spikeflow.torch.Sequential` (or ``nn.Sequential``, nested ones are
            flattened) of ``Linear``, ``Conv2d``, ``AvgPool2d``, ``MaxPool2d``, ``Flatten``,
            ``TimeBatchNorm1d/2d`` (eval statistics), ``TimeDropout``/``Dropout``/``Identity``
            and spiking ``LIF``/``IF``/``RecurrentLIF`` layers, ending in a spiking layer.
        dt: grid step in ms (one torch step). Leaks are converted with this step
            (``tau_m = -dt / ln(beta)``), so spikes do not depend on it.
        input_shape: per-sample input shape, e.g. ``(2, 34, 34)``; needed when the model
            starts with a convolution (a Linear-first model infers ``(in_features,)``).
        seed: the network's seed (nothing random is drawn; kept for reproducibility).
        dense_threshold: a composed weight matrix denser than this becomes an ``AllToAll``
            projection with a weight matrix, otherwise explicit ``FromArrays`` synapses.
        shared_weights: keep a ``Conv2d`` (with the batch norm after it) or an ``AvgPool2d``
            that sits alone between two spiking layers as a shared-weight ``sf.Conv2d`` /
            ``sf.Pool2d`` projection (kernel only), and max pooling as ``sf.Pool2d(mode="max")``;
            ``False`` stores every synapse explicitly (same spikes, more memory).

    Returns:
        A :class:`DeployedNetwork`.

    Raises:
        UnsupportedLayerError: a layer without an exact translation (named, with the reason).
    """
    import torch

    import spikeflow as sf
    from spikeflow.torch import layers as tl
    from spikeflow.torch import neurons as tn

    dt = float(dt)
    if not dt > 0:
        raise ValueError(f"dt must be > 0 ms, got {dt}")
    mods = _flatten_modules(model)
    if not mods:
        raise UnsupportedLayerError("the model has no layers")

    if input_shape is None:
        first = next((m for _, m in mods if not isinstance(m, (torch.nn.Dropout, tl.TimeDropout,
                                                                 torch.nn.Identity))), None)
        if isinstance(first, torch.nn.Linear):
            input_shape = (first.in_features,)
        elif isinstance(first, tn.RecurrentLIF):
            input_shape = (first.n,)
        else:
            raise ValueError(
                f"deploy: give input_shape= (the per-sample input shape, e.g. (2, 34, 34)); it "
                f"cannot be inferred from a model starting with {type(first).__name__}")
    shape: Tuple[int, ...] = tuple(int(s) for s in input_shape)
    n_in = int(np.prod(shape))

    net = sf.Network(dt=dt, seed=seed)
    if _source is None:
        src = net.add_spike_source([], [], n=n_in, name="input")
    else:
        src = net.add_spike_source(_source[0], _source[1], n=n_in, name="input")

    pre_pop: Any = src
    pre_size = n_in
    op: Operator = None          # linear map from pre_pop's outputs to the current tensor
    bias: Any = None             # bias of the current tensor (float64 [n]) or None
    shared: Optional[List[Tuple[Any, Tuple[int, ...], str]]] = None  # kept shared-weight chain
    layers: List[DeployedLayer] = []
    depth = 0

    def where_of(i: int, name: str, m: Any) -> str:
        return f"layer {i} ({name}: {type(m).__name__})"

    def connect(post: Any, post_size: int, lay: DeployedLayer, kept: Any = None) -> None:
        nonlocal op
        if kept is not None:
            connector, kernel, _ = kept
            lay.projections.append(net.connect(pre_pop, post, connector, weight=kernel, delay=dt))
            return
        if op is None:
            if pre_size != post_size:
                raise UnsupportedLayerError(f"{lay.name}: size {post_size} differs from its input {pre_size}")
            lay.projections.append(net.connect(pre_pop, post, sf.OneToOne(), weight=1.0, delay=dt))
            return
        m = op
        nnz = m._nnz() if m.is_sparse else None
        dense_ok = pre_size * post_size <= _DENSE_MAX
        if dense_ok and (not m.is_sparse or nnz > dense_threshold * pre_size * post_size):
            mat = (m.to_dense() if m.is_sparse else m).cpu().numpy()
            lay.projections.append(net.connect(pre_pop, post, sf.AllToAll(), weight=mat, delay=dt))
        else:
            m = m.coalesce() if m.is_sparse else m.to_sparse().coalesce()
            idx = m.indices().cpu().numpy()
            val = m.values().cpu().numpy()
            lay.projections.append(net.connect(
                pre_pop, post, sf.FromArrays(pre=idx[0], post=idx[1], weight=val, delay=dt)))

    def add_bias_currents(pop: Any, b: np.ndarray, k: int) -> None:
        # Depth k computes torch step 0 at engine step k: a change at (k-1)*dt acts from step k.
        nz = np.nonzero(b)[0]
        if nz.size == 0:
            return
        vals, inv = np.unique(b[nz], return_inverse=True)
        for j, v in enumerate(vals):
            net.add_current(pop, times=[(k - 1) * dt], amplitudes=[float(v)], ids=nz[inv == j])

    def compose(m: Any, shape: Tuple[int, ...], where: str) -> Tuple[int, ...]:
        """Fold linear layer ``m`` into the explicit operator ``op`` and ``bias``; its output shape."""
        nonlocal op, bias
        if isinstance(m, torch.nn.Linear):
            if len(shape) != 1 or shape[0] != m.in_features:
                raise UnsupportedLayerError(
                    f"{where}: Linear({m.in_features}, ...) gets a per-sample input of shape {shape}; "
                    "add a Flatten before it")
            mat = m.weight.detach().double().cpu().t().contiguous()
            op = _compose(op, mat)
            bias = _apply_bias(bias, mat)
            if m.bias is not None:
                lb = m.bias.detach().double().cpu()
                bias = lb.clone() if bias is None else bias + lb
            return (m.out_features,)
        if isinstance(m, torch.nn.Conv2d):
            cm, cb, shape_out = _conv_operator(m, shape, where)
            op = _compose(op, cm)
            bias = _apply_bias(bias, cm)
            if cb is not None:
                bias = cb if bias is None else bias + cb
            return shape_out
        if isinstance(m, torch.nn.AvgPool2d):
            pm, shape_out = _avgpool_operator(m, shape, where)
            op = _compose(op, pm)
            bias = _apply_bias(bias, pm)
            return shape_out
        size = int(np.prod(shape))
        scale, shift = _batchnorm_fold(m, shape, where)
        per = size // m.num_features
        s = scale.repeat_interleave(per)
        diag = torch.sparse_coo_tensor(torch.arange(size).repeat(2, 1), s, (size, size),
                                       check_invariants=False).coalesce()
        op = _compose(op, diag)
        bias = _apply_bias(bias, diag)
        sh = shift.repeat_interleave(per)
        bias = sh if bias is None else bias + sh
        return shape

    def linear(m: Any, shape: Tuple[int, ...], where: str) -> Tuple[int, ...]:
        """A linear layer: kept as a shared-weight projection when it can be (a Conv2d or an
        AvgPool2d first in its chain, batch norm after a Conv2d), else composed."""
        nonlocal shared
        if shared is not None:
            first = shared[0][0]
            if (isinstance(m, (torch.nn.BatchNorm1d, torch.nn.BatchNorm2d)) and len(shared) == 1
                    and isinstance(first, torch.nn.Conv2d) and len(shape) == 3
                    and m.num_features == shape[0]):
                _batchnorm_fold(m, shape, where)  # checks now, folded at the spiking layer
                shared.append((m, shape, where))
                return shape
            pending, shared = shared, None  # anything else: compose what was kept
            for pm, pshape, pwhere in pending:
                compose(pm, pshape, pwhere)
        if shared_weights and op is None and bias is None:
            if isinstance(m, torch.nn.Conv2d):
                g = _conv_geometry(m, shape, where)
                if g.symmetric:
                    shared = [(m, shape, where)]
                    return g.out_shape
            if isinstance(m, torch.nn.AvgPool2d):
                shape_out = _avgpool_shape(m, shape, where)
                shared = [(m, shape, where)]
                return shape_out
        return compose(m, shape, where)

    def shared_projection() -> Tuple[Any, np.ndarray, Any]:
        """(connector, kernel, bias) of the kept shared-weight chain (bias as ``compose`` gives it)."""
        m, shape, where = shared[0]
        if isinstance(m, torch.nn.AvgPool2d):
            k = _pair(m.kernel_size)
            pool = sf.Pool2d(shape, k, stride=_pair(m.stride if m.stride is not None else m.kernel_size),
                             padding=_pair(m.padding), divisor=float(m.divisor_override or (k[0] * k[1])))
            return pool, 1.0, None
        g = _conv_geometry(m, shape, where)
        conv = sf.Conv2d(shape, g.out_shape[0], g.kernel, stride=g.stride, padding=g.padding,
                         dilation=g.dilation, groups=m.groups)
        kernel = m.weight.detach().double().cpu()
        b = None
        if m.bias is not None:
            b = torch.as_tensor(np.repeat(m.bias.detach().double().cpu().numpy(), g.out_shape[1] * g.out_shape[2]))
        if len(shared) == 2:
            bn, bshape, bwhere = shared[1]
            scale, shift = _batchnorm_fold(bn, bshape, bwhere)
            per = g.out_shape[1] * g.out_shape[2]
            kernel = kernel * scale.view(-1, 1, 1, 1)
            sh = shift.repeat_interleave(per)
            b = sh if b is None else b * scale.repeat_interleave(per) + sh
        return conv, kernel.numpy(), b

    for i, (name, m) in enumerate(mods):
        where = where_of(i, name, m)
        size = int(np.prod(shape))
        if isinstance(m, (tl.TimeDropout, torch.nn.Dropout, torch.nn.Identity)):
            continue  # identity at inference
        if isinstance(m, tl.Flatten):
            shape = (size,)
            continue
        if isinstance(m, torch.nn.Flatten):
            raise UnsupportedLayerError(
                f"{where}: torch.nn.Flatten on [T, B, ...] input would merge the batch axis; use "
                "spikeflow.torch.Flatten")
        if isinstance(m, (torch.nn.Linear, torch.nn.Conv2d, torch.nn.AvgPool2d, torch.nn.BatchNorm1d,
                          torch.nn.BatchNorm2d)):
            shape = linear(m, shape, where)
            continue
        if isinstance(m, torch.nn.MaxPool2d):
            if op is not None or bias is not None or shared is not None:
                raise UnsupportedLayerError(
                    f"{where}: MaxPool2d after a linear layer pools currents (max is not linear); "
                    "put max pooling directly after a spiking layer, where it is a logical OR")
            if m.ceil_mode or _pair(m.dilation) != (1, 1):
                raise UnsupportedLayerError(f"{where}: MaxPool2d with ceil_mode or dilation is not supported")
            k = _pair(m.kernel_size)
            s = _pair(m.stride if m.stride is not None else m.kernel_size)
            pre, post, shape_out = _pool_windows(k, s, _pair(m.padding), shape, where, "MaxPool2d")
            n_out = int(np.prod(shape_out))
            pool = sf.Pool2d(shape, k, stride=s, padding=_pair(m.padding), mode="max")
            depth += 1
            lname = f"{i}:MaxPool2d"
            pop = net.add_population(n_out, sf.IF(v_th=0.5, v_reset=0.0, reset="value", t_ref=0.0, c_m=dt),
                                     name=lname)
            lay = DeployedLayer(lname, m, pop, depth, shape_out)
            if shared_weights:
                lay.projections.append(net.connect(pre_pop, pop, pool, weight=1.0, delay=dt))
            else:
                lay.projections.append(net.connect(pre_pop, pop, sf.FromArrays(
                    pre=pre, post=post, weight=np.ones(pre.size), delay=dt)))
            layers.append(lay)
            pre_pop, pre_size, shape = pop, n_out, shape_out
            continue
        if isinstance(m, (tn.LIF, tn.RecurrentLIF)):
            if isinstance(m, tn.RecurrentLIF):
                if shape != (m.n,):
                    raise UnsupportedLayerError(f"{where}: RecurrentLIF({m.n}) gets input shape {shape}")
                p = m.p
            else:
                p = m.parameters_()
            beta = _per_neuron(p.beta, shape, "beta", where)
            v_th = _per_neuron(p.v_th, shape, "v_th", where)
            v_reset = _per_neuron(p.v_reset, shape, "v_reset", where)
            lif_bias = _per_neuron(p.bias, shape, "bias", where)
            if np.any(v_th <= 0):
                raise UnsupportedLayerError(
                    f"{where}: v_th <= 0 makes neurons fire without input; the engine wakes a neuron "
                    "only on input or a predicted crossing (use v_th > 0)")
            if p.reset == "value" and np.any(v_reset >= v_th):
                raise UnsupportedLayerError(f"{where}: v_reset must lie below v_th")
            if np.any(beta <= 0) or np.any(beta > 1):
                raise UnsupportedLayerError(f"{where}: beta must lie in (0, 1] (got {beta.min()}..{beta.max()})")
            if np.any(beta == 1) and np.any(beta < 1):
                raise UnsupportedLayerError(f"{where}: a mixture of leaky (beta < 1) and non-leaky neurons")
            kept = None
            if shared is not None:
                kept, shared = shared_projection(), None
                bias = kept[2]
            total_bias = lif_bias.copy()
            if bias is not None:
                total_bias += bias.cpu().numpy()
            depth += 1
            n = size
            lname = f"{i}:{type(m).__name__}"
            const = total_bias if depth == 1 else np.zeros(n)
            if np.all(beta == 1.0):
                model_ = sf.IF(v_th=_scalar_or_array(v_th), v_reset=_scalar_or_array(v_reset), t_ref=0.0,
                               c_m=dt, i_e=_scalar_or_array(const), reset=p.reset, v_rest=0.0)
            else:
                tau = -dt / np.log(beta)
                c_m = (1.0 - beta) * tau  # 1 pA -> 1 mV per step: NEST's P30 = 1/C (1-P33) tau = 1
                model_ = sf.LIF(tau_m=_scalar_or_array(tau), v_rest=0.0, v_th=_scalar_or_array(v_th),
                                v_reset=_scalar_or_array(v_reset), t_ref=0.0, c_m=_scalar_or_array(c_m),
                                i_e=_scalar_or_array(const), synapse="delta", reset=p.reset)
            pop = net.add_population(n, model_, name=lname)
            lay = DeployedLayer(lname, m, pop, depth, shape)
            connect(pop, n, lay, kept)
            if depth > 1:
                add_bias_currents(pop, total_bias, depth)
            if isinstance(m, tn.RecurrentLIF):
                w = m.w_rec.detach().double().cpu()
                if not m.autapses:
                    w = w * (1 - torch.eye(m.n, dtype=torch.float64))
                lay.projections.append(net.connect(pop, pop, sf.AllToAll(), weight=w.t().contiguous().numpy(),
                                                   delay=dt))
            layers.append(lay)
            pre_pop, pre_size = pop, n
            op, bias = None, None
            continue
        raise UnsupportedLayerError(f"{where}: {_why_not(m)}")

    if op is not None or bias is not None or shared is not None:
        raise UnsupportedLayerError(
            "the model ends in a linear layer; deploy needs a spiking output layer (LIF/IF) whose "
            "spikes the engine counts")
    if not layers:
        raise UnsupportedLayerError("the model has no spiking layer (LIF/IF)")
    opts = {"dt": dt, "input_shape": tuple(int(s) for s in input_shape), "seed": seed,
            "dense_threshold": dense_threshold, "shared_weights": shared_weights}
    return DeployedNetwork(net, src, layers, dt, tuple(int(s) for s in input_shape), model, opts)


def _why_not(m: Any) -> str:
    from spikeflow.torch import layers as tl
    from spikeflow.torch import neurons as tn

    if isinstance(m, tn.AdaptiveLIF):
        return "the engine has no adaptive-threshold neuron (use LIF)"
    if isinstance(m, tn.LeakyIntegrator):
        return ("a non-spiking readout: the engine records spikes, not membrane traces "
                "(end the model in a spiking LIF/IF layer and read spike counts)")
    if isinstance(m, tl.SEWBlock):
        return "residual blocks (SEWBlock) are not supported yet"
    return (f"{type(m).__name__} has no translation onto the engine (supported: Linear, Conv2d, "
            "AvgPool2d, MaxPool2d after a spiking layer, Flatten, eval-mode batch norm, dropout, "
            "LIF, IF, RecurrentLIF)")

