"""Learning-rate schedules by name (torch's schedulers underneath)."""
from __future__ import annotations

from typing import Any, Callable, Union

import torch

__all__ = ["SCHEDULES", "ScheduleLike", "make_schedule"]

ScheduleLike = Union[None, str, Callable[[torch.optim.Optimizer], Any]]

#: Names accepted by :func:`make_schedule`; all but ``"onecycle"`` step once per epoch.
SCHEDULES = ("constant", "cosine", "step", "exponential", "onecycle")


def make_schedule(
    spec: ScheduleLike, optimizer: torch.optim.Optimizer, epochs: int, steps_per_epoch: int
) -> tuple[Any | None, str]:
    """A scheduler and when to step it (``"epoch"`` or ``"batch"``).

    ``spec`` is a name from :data:`SCHEDULES`, ``None`` (constant) or a callable taking the
    optimizer and returning a torch scheduler (stepped per epoch).
    """
    if spec is None or spec == "constant":
        return None, "epoch"
    if callable(spec):
        return spec(optimizer), "epoch"
    lr_sched = torch.optim.lr_scheduler
    if spec == "cosine":
        return lr_sched.CosineAnnealingLR(optimizer, T_max=max(epochs, 1)), "epoch"
    if spec == "step":
        return lr_sched.StepLR(optimizer, step_size=max(epochs // 3, 1), gamma=0.1), "epoch"
    if spec == "exponential":
        return lr_sched.ExponentialLR(optimizer, gamma=0.9), "epoch"
    if spec == "onecycle":
        max_lr = [g["lr"] for g in optimizer.param_groups]
        return lr_sched.OneCycleLR(
            optimizer, max_lr=max_lr, epochs=max(epochs, 1),
            steps_per_epoch=max(steps_per_epoch, 1),
        ), "batch"
    raise ValueError(f"unknown schedule {spec!r}; choose one of {SCHEDULES} or pass a callable")
