"""``fit``: the surrogate-gradient training loop for time-first spiking models."""
from __future__ import annotations

import math
import random
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch

from spikeflow.torch.layout import LayoutError, to_time_first
from spikeflow.train.checkpoint import load_checkpoint, save_checkpoint
from spikeflow.train.history import History
from spikeflow.train.losses import LossLike, resolve_loss, spike_count_penalty
from spikeflow.train.schedules import ScheduleLike, make_schedule

__all__ = ["CHECKPOINT_NAME", "NonFiniteLossError", "evaluate", "fit"]

#: File name of the checkpoint written after every epoch.
CHECKPOINT_NAME = "last.pt"


class NonFiniteLossError(RuntimeError):
    """The loss became NaN or infinite; ``history`` and ``checkpoint`` tell what was kept."""

    def __init__(self, message: str, history: History, checkpoint: Path | None) -> None:
        super().__init__(message)
        self.history = history
        self.checkpoint = checkpoint


def seed_everything(seed: int) -> None:
    """Seed python, numpy and torch; call it before building the model for identical weights."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def _rng_state() -> dict[str, Any]:
    return {"python": random.getstate(), "numpy": np.random.get_state(),
            "torch": torch.get_rng_state()}


def _set_rng_state(s: dict[str, Any]) -> None:
    random.setstate(s["python"])
    np.random.set_state(s["numpy"])
    torch.set_rng_state(s["torch"])


def _output(y: Any) -> torch.Tensor:
    if isinstance(y, (tuple, list)):
        y = y[0]
    if not isinstance(y, torch.Tensor):
        raise TypeError(f"the model must return a tensor or (tensor, state), got {type(y).__name__}")
    return y


def _layout(x: torch.Tensor, batch: int, layout: str) -> torch.Tensor:
    if layout == "time_first":
        if x.dim() < 2 or x.shape[1] != batch:
            raise LayoutError(
                f"layout='time_first' but axis 1 of input {tuple(x.shape)} is not the batch "
                f"({batch}); use layout='batch_first' or 'auto'"
            )
        return x
    if layout == "batch_first":
        if x.shape[0] != batch:
            raise LayoutError(
                f"layout='batch_first' but axis 0 of input {tuple(x.shape)} is not the batch ({batch})"
            )
        return x.transpose(0, 1)
    if layout == "auto":
        return to_time_first(x, batch)
    raise ValueError(f'layout must be "auto", "time_first" or "batch_first", got {layout!r}')


class _SpikeTap:
    """Collects the spikes of every spiking neuron layer during a forward pass."""

    def __init__(self, model: torch.nn.Module) -> None:
        from spikeflow.torch.neurons import LIF, AdaptiveLIF, RecurrentLIF

        self.spikes: list[torch.Tensor] = []
        self.handles = [
            m.register_forward_hook(self._hook)
            for m in model.modules() if isinstance(m, (LIF, AdaptiveLIF, RecurrentLIF))
        ]

    def _hook(self, _m: Any, _inp: Any, out: Any) -> None:
        self.spikes.append(out[0] if isinstance(out, tuple) else out)

    def take(self) -> list[torch.Tensor]:
        s, self.spikes = self.spikes, []
        return s

    def close(self) -> None:
        for h in self.handles:
            h.remove()


@torch.no_grad()
def evaluate(
    model: torch.nn.Module, loader: Iterable, loss: LossLike = "rate", layout: str = "auto",
    device: str | torch.device = "cpu",
) -> dict[str, float]:
    """Mean loss and accuracy of ``model`` over ``loader``."""
    loss_fn, predict = resolve_loss(loss)
    was = model.training
    model.eval()
    tot_loss = tot_ok = n = 0.0
    try:
        for x, y in loader:
            x, y = x.to(device), y.to(device)
            out = _output(model(_layout(x, len(y), layout)))
            tot_loss += float(loss_fn(out, y)) * len(y)
            tot_ok += float((predict(out) == y).sum())
            n += len(y)
    finally:
        model.train(was)
    return {"loss": tot_loss / max(n, 1), "acc": tot_ok / max(n, 1)}


def fit(
    model: torch.nn.Module,
    train_loader: Iterable,
    val_loader: Iterable | None = None,
    *,
    epochs: int = 10,
    loss: LossLike = "rate",
    optimizer: torch.optim.Optimizer | None = None,
    lr: float = 1e-3,
    schedule: ScheduleLike = None,
    spike_reg: float = 0.0,
    grad_clip: float | None = None,
    checkpoint_dir: str | Path | None = None,
    resume: bool = True,
    seed: int | None = 0,
    layout: str = "auto",
    device: str | torch.device = "cpu",
    progress: bool = True,
    on_epoch_end: Callable[[int, History], None] | None = None,
) -> History:
    """Train a spiking model with surrogate gradients; returns the metrics :class:`History`.

    Args:
        model: maps time-first input ``[T, B, ...]`` to output spikes ``[T, B, classes]`` (or
            ``(spikes, state)``, e.g. a :class:`spikeflow.torch.Sequential`).
        train_loader, val_loader: iterables of ``(x, y)``; ``x`` batch-first ``[B, T, ...]``
            (a default DataLoader over per-sample ``[T, ...]`` tensors) or time-first — see
            ``layout``.
        loss: ``"rate"``/``"count"`` (cross-entropy on spike counts), ``"count_mse"``,
            ``"first_spike"`` (latency coding) or a callable ``(spikes, y) -> loss``.
        optimizer: defaults to ``Adam(model.parameters(), lr)``.
        schedule: ``"cosine"``, ``"step"``, ``"exponential"``, ``"onecycle"``, ``None`` or a
            callable ``optimizer -> scheduler``.
        spike_reg: weight of the mean hidden firing rate added to the loss (fewer spikes).
        grad_clip: clip the gradient norm to this value.
        checkpoint_dir: write ``last.pt`` there after every epoch; with ``resume`` an existing
            one is loaded first (after a check that it fits the model) and training goes on
            from the next epoch.
        seed: seeds python, numpy and torch at the start (``None``: leave them alone), which
            fixes the data order and dropout masks; build the model after
            :func:`seed_everything` for identical initial weights. A run is then repeatable,
            interrupted and resumed or not.
        layout: ``"auto"`` (tell batch from time by the label count), ``"batch_first"`` or
            ``"time_first"``.
        progress: show a tqdm bar per epoch.
        on_epoch_end: called with ``(epoch, history)`` after each epoch.

    Raises:
        NonFiniteLossError: the loss became NaN/inf; the message names epoch and batch, the
            last good checkpoint is kept, and the exception carries the history so far.
        CheckpointMismatchError: the checkpoint in ``checkpoint_dir`` belongs to another model.
    """
    if epochs < 0:
        raise ValueError(f"epochs must be >= 0, got {epochs}")
    if seed is not None:
        seed_everything(seed)
    model.to(device)
    loss_fn, predict = resolve_loss(loss)
    opt = optimizer if optimizer is not None else torch.optim.Adam(model.parameters(), lr=lr)
    try:
        steps = len(train_loader)  # type: ignore[arg-type]
    except TypeError:
        steps = 1
    sched, sched_every = make_schedule(schedule, opt, epochs, steps)
    history = History()
    start = 0
    ckpt: Path | None = None
    if checkpoint_dir is not None:
        ckpt = Path(checkpoint_dir) / CHECKPOINT_NAME
        if resume and ckpt.exists():
            state = load_checkpoint(ckpt, model)
            model.load_state_dict(state["model"])
            opt.load_state_dict(state["optimizer"])
            if sched is not None and state.get("scheduler") is not None:
                sched.load_state_dict(state["scheduler"])
            history = History.from_dict(state["history"])
            start = int(state["epoch"]) + 1
            if seed is not None and "rng" in state:
                _set_rng_state(state["rng"])
    tap = _SpikeTap(model)
    try:
        for epoch in range(start, epochs):
            t0 = time.perf_counter()
            model.train()
            tot_loss = tot_ok = n = spikes = 0.0
            it: Iterable = train_loader
            bar = None
            if progress:
                from tqdm.auto import tqdm

                bar = tqdm(train_loader, desc=f"epoch {epoch + 1}/{epochs}", leave=False)
                it = bar
            for b, (x, y) in enumerate(it):
                x, y = x.to(device), y.to(device)
                out = _output(model(_layout(x, len(y), layout)))
                hidden = tap.take()
                value = loss_fn(out, y)
                if spike_reg > 0:
                    value = value + spike_reg * spike_count_penalty(hidden)
                if not math.isfinite(float(value.detach())):
                    if ckpt is not None and ckpt.exists():
                        last = history.epoch[-1] if history.epoch else start
                        kept = f"the last good checkpoint {ckpt} (after epoch {last}) is kept"
                    else:
                        kept = "no checkpoint was written yet"
                    history.stopped = f"non-finite loss at epoch {epoch + 1}, batch {b + 1}"
                    raise NonFiniteLossError(
                        f"loss became {float(value.detach())} at epoch {epoch + 1}, batch {b + 1}; "
                        f"training stopped, {kept}. Lower the learning rate, add grad_clip "
                        "or check the inputs for NaN.", history, ckpt,
                    )
                opt.zero_grad(set_to_none=True)
                value.backward()
                if grad_clip is not None:
                    torch.nn.utils.clip_grad_norm_(model.parameters(), grad_clip)
                opt.step()
                if sched is not None and sched_every == "batch":
                    sched.step()
                with torch.no_grad():
                    k = len(y)
                    tot_loss += float(value) * k
                    tot_ok += float((predict(out) == y).sum())
                    spikes += float(sum(float(h.sum()) for h in hidden) + float(out.sum()))
                    n += k
                if bar is not None:
                    bar.set_postfix(loss=f"{tot_loss / n:.4f}", acc=f"{tot_ok / n:.3f}")
            if bar is not None:
                bar.close()
            row: dict[str, Any] = {
                "epoch": epoch + 1, "train_loss": tot_loss / max(n, 1),
                "train_acc": tot_ok / max(n, 1), "spikes_per_sample": spikes / max(n, 1),
                "lr": float(opt.param_groups[0]["lr"]),
            }
            if val_loader is not None:
                m = evaluate(model, val_loader, loss, layout, device)
                tap.take()
                row["val_loss"], row["val_acc"] = m["loss"], m["acc"]
            if sched is not None and sched_every == "epoch":
                sched.step()
            row["seconds"] = time.perf_counter() - t0
            history.append(**row)
            if progress:
                from tqdm.auto import tqdm

                tqdm.write(
                    f"epoch {epoch + 1}/{epochs}: loss {row['train_loss']:.4f} acc "
                    f"{row['train_acc']:.3f}"
                    + (f" | val loss {row['val_loss']:.4f} acc {row['val_acc']:.3f}"
                       if val_loader is not None else "")
                )
            if ckpt is not None:
                save_checkpoint(ckpt, {
                    "model": model.state_dict(), "optimizer": opt.state_dict(),
                    "scheduler": sched.state_dict() if sched is not None else None,
                    "epoch": epoch, "history": history.as_dict(), "rng": _rng_state(),
                })
            if on_epoch_end is not None:
                on_epoch_end(epoch + 1, history)
    finally:
        tap.close()
    return history
