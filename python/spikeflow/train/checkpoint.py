"""Checkpoints of a training run: written atomically, checked against the model on load."""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import torch

__all__ = ["CheckpointMismatchError", "fingerprint", "load_checkpoint", "save_checkpoint"]


class CheckpointMismatchError(ValueError):
    """A checkpoint was written for a different model (names or shapes differ)."""


def fingerprint(model: torch.nn.Module) -> dict[str, tuple[int, ...]]:
    """Names and shapes of the model's parameters and buffers."""
    return {k: tuple(v.shape) for k, v in model.state_dict().items()}


def save_checkpoint(path: str | Path, state: dict[str, Any]) -> None:
    """Write ``state`` to ``path`` atomically (a crash never leaves a half-written file)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    torch.save(state, tmp)
    os.replace(tmp, path)


def load_checkpoint(path: str | Path, model: torch.nn.Module) -> dict[str, Any]:
    """Read a checkpoint and check that it fits ``model``; raises CheckpointMismatchError."""
    state = torch.load(path, map_location="cpu", weights_only=False)
    if not isinstance(state, dict) or "model" not in state:
        raise CheckpointMismatchError(f"{path} is not a spikeflow training checkpoint")
    saved = {k: tuple(v.shape) for k, v in state["model"].items()}
    ours = fingerprint(model)
    if saved != ours:
        missing = sorted(set(ours) - set(saved))
        extra = sorted(set(saved) - set(ours))
        shapes = sorted(
            f"{k}: checkpoint {saved[k]} vs model {ours[k]}"
            for k in set(saved) & set(ours) if saved[k] != ours[k]
        )
        parts = []
        if missing:
            parts.append(f"missing in checkpoint: {', '.join(missing[:5])}")
        if extra:
            parts.append(f"not in model: {', '.join(extra[:5])}")
        if shapes:
            parts.append(f"shape differs: {'; '.join(shapes[:5])}")
        raise CheckpointMismatchError(
            f"checkpoint {path} does not match the model ({'; '.join(parts)}); "
            "use a fresh checkpoint_dir or the model it was trained with"
        )
    return state
