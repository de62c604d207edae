"""Metrics history of a training run, and its plot."""
from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

__all__ = ["History", "plot_history"]


@dataclass
class History:
    """Per-epoch metrics (one list entry per finished epoch)."""

    epoch: list[int] = field(default_factory=list)
    train_loss: list[float] = field(default_factory=list)
    train_acc: list[float] = field(default_factory=list)
    val_loss: list[float] = field(default_factory=list)
    val_acc: list[float] = field(default_factory=list)
    spikes_per_sample: list[float] = field(default_factory=list)
    lr: list[float] = field(default_factory=list)
    seconds: list[float] = field(default_factory=list)
    stopped: str | None = None

    def append(self, **row: Any) -> None:
        """Add one epoch's metrics (missing ones as NaN)."""
        for name in ("epoch", "train_loss", "train_acc", "val_loss", "val_acc",
                     "spikes_per_sample", "lr", "seconds"):
            getattr(self, name).append(row.get(name, float("nan")))

    def as_dict(self) -> dict[str, Any]:
        """Plain dict (for JSON or checkpoints)."""
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> History:
        """Inverse of :meth:`as_dict`."""
        return cls(**d)

    def __len__(self) -> int:
        return len(self.epoch)

    def plot(self, path: str | Path | None = None) -> Any:
        """See :func:`plot_history`."""
        return plot_history(self, path)


def plot_history(history: History, path: str | Path | None = None) -> Any:
    """Loss, accuracy and spikes per sample against epoch; saved to ``path`` if given.

    Returns the matplotlib figure.
    """
    import matplotlib

    if path is not None:
        matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 3, figsize=(12, 3.4))
    e = history.epoch
    axes[0].plot(e, history.train_loss, label="train")
    axes[0].plot(e, history.val_loss, label="val")
    axes[0].set_title("loss")
    axes[1].plot(e, history.train_acc, label="train")
    axes[1].plot(e, history.val_acc, label="val")
    axes[1].set_title("accuracy")
    axes[2].plot(e, history.spikes_per_sample)
    axes[2].set_title("spikes per sample")
    for ax in axes:
        ax.set_xlabel("epoch")
    axes[0].legend()
    fig.tight_layout()
    if path is not None:
        fig.savefig(path, dpi=120)
        plt.close(fig)
    return fig
