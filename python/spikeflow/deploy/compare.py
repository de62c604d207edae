"""Check a deployed network against its torch model: spikes, first spikes and predictions."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional

import numpy as np

__all__ = ["Agreement", "compare", "torch_layer_spikes"]


@dataclass
class Agreement:
    """How closely the engine reproduces the torch model on a batch.

    Attributes:
        spike_agreement: ``1 - sum|n_engine - n_torch| / sum n_torch`` over every neuron of
            every layer and sample (spike counts per neuron; 1.0 = identical counts).
        output_spike_agreement: the same over the output layer only.
        first_spike_agreement: fraction of (sample, neuron) pairs of all layers whose first
            spike falls on the same step (or that are silent in both).
        prediction_agreement: fraction of samples with the same predicted class (argmax of
            output counts, lowest index on ties, on both sides).
        torch_predictions, engine_predictions: the predicted classes.
        torch_counts, engine_counts: per layer, ``(samples, neurons)`` spike counts.
        result: the engine's :class:`~spikeflow.BatchResult`.
    """

    spike_agreement: float
    output_spike_agreement: float
    first_spike_agreement: float
    prediction_agreement: float
    torch_predictions: np.ndarray
    engine_predictions: np.ndarray
    torch_counts: List[np.ndarray] = field(default_factory=list)
    engine_counts: List[np.ndarray] = field(default_factory=list)
    result: Any = None

    def as_dict(self) -> Dict[str, float]:
        """The four agreement figures."""
        return {
            "spike_agreement": self.spike_agreement,
            "output_spike_agreement": self.output_spike_agreement,
            "first_spike_agreement": self.first_spike_agreement,
            "prediction_agreement": self.prediction_agreement,
        }


def torch_layer_spikes(model: Any, modules: List[Any], x: Any) -> List[Any]:
    """Run ``model`` on ``x[T, B, ...]`` (eval mode, no gradients) and return the output
    spikes ``[T, B, ...]`` of each module in ``modules`` (neuron layers, max pooling)."""
    import torch

    got: Dict[int, Any] = {}
    hooks = []
    for k, m in enumerate(modules):
        def hook(_m: Any, _inp: Any, out: Any, k: int = k) -> None:
            got[k] = (out[0] if isinstance(out, tuple) else out).detach()
        hooks.append(m.register_forward_hook(hook))
    was = model.training
    model.eval()
    try:
        with torch.no_grad():
            model(x)
    finally:
        model.train(was)
        for h in hooks:
            h.remove()
    return [got[k] for k in range(len(modules))]


def _first_steps(spikes: np.ndarray) -> np.ndarray:
    """First step with a spike per (sample, neuron) of ``[T, B, N]``; NaN when silent."""
    any_ = spikes.any(axis=0)
    first = np.argmax(spikes > 0, axis=0).astype(np.float64)
    first[~any_] = np.nan
    return first


def compare(deployed: Any, model: Any, x: Any, threads: Optional[int] = None) -> Agreement:
    """Run the batch ``x[T, B, *input_shape]`` (spike counts) through torch and the engine.

    Torch is run on ``x`` padded with ``L - 1`` silent steps so that every layer's engine
    window (the population at depth ``k`` runs torch steps ``0 .. T + L - 1 - k``) has its torch
    counterpart; predictions use the output's first ``T`` steps on both sides.
    """
    import torch

    xt = torch.as_tensor(np.asarray(x.detach().cpu() if hasattr(x, "detach") else x), dtype=torch.float32)
    steps, batch = int(xt.shape[0]), int(xt.shape[1])
    depth = deployed.depth
    pad = torch.zeros((depth - 1,) + tuple(xt.shape[1:]), dtype=xt.dtype)
    spikes = torch_layer_spikes(model, [lay.module for lay in deployed.layers], torch.cat([xt, pad]))
    result = deployed.run_batch(deployed.encode_batch(xt), steps, threads=threads)

    diff = total = 0.0
    same_first = n_first = 0
    torch_counts, engine_counts = [], []
    for lay, s in zip(deployed.layers, spikes):
        window = steps + depth - lay.depth
        z = s[:window].reshape(window, batch, -1).numpy()
        tc = z.sum(axis=0)
        ec = result.counts[lay.population.name].astype(np.float64)
        torch_counts.append(tc)
        engine_counts.append(ec)
        diff += float(np.abs(tc - ec).sum())
        total += float(tc.sum())
        tf = _first_steps(z)
        ef = deployed.first_spike_steps(result, lay)
        same_first += int(np.sum((tf == ef) | (np.isnan(tf) & np.isnan(ef))))
        n_first += tf.size
    out_t = spikes[-1][:steps].reshape(steps, batch, -1).sum(0).numpy()
    # the engine's output window is exactly the first `steps` torch steps
    out_e = engine_counts[-1]
    pred_t = np.argmax(out_t, axis=1)
    pred_e = deployed.predictions(result)
    out_total = float(out_t.sum())
    return Agreement(
        spike_agreement=1.0 - diff / max(total, 1.0),
        output_spike_agreement=1.0 - float(np.abs(out_t - out_e).sum()) / max(out_total, 1.0),
        first_spike_agreement=same_first / max(n_first, 1),
        prediction_agreement=float(np.mean(pred_t == pred_e)),
        torch_predictions=pred_t,
        engine_predictions=pred_e,
        torch_counts=torch_counts,
        engine_counts=engine_counts,
        result=result,
    )
