"""Training loop for spikeflow.torch models: :func:`fit`, losses, schedules, checkpoints.

Needs torch (``pip install spikeflow[torch]``).
"""
from spikeflow.train.checkpoint import CheckpointMismatchError, load_checkpoint, save_checkpoint
from spikeflow.train.history import History, plot_history
from spikeflow.train.loop import CHECKPOINT_NAME, NonFiniteLossError, evaluate, fit, seed_everything
from spikeflow.train.losses import (
    count_mse_loss,
    first_spike_loss,
    first_spike_times,
    rate_loss,
    spike_count_penalty,
)
from spikeflow.train.schedules import SCHEDULES, make_schedule

__all__ = [
    "CHECKPOINT_NAME",
    "SCHEDULES",
    "CheckpointMismatchError",
    "History",
    "NonFiniteLossError",
    "count_mse_loss",
    "evaluate",
    "first_spike_loss",
    "first_spike_times",
    "fit",
    "load_checkpoint",
    "make_schedule",
    "plot_history",
    "rate_loss",
    "save_checkpoint",
    "seed_everything",
    "spike_count_penalty",
]
