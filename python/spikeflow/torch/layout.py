"""Checks that catch wrong tensor layouts early, with a message that says what to fix."""
from __future__ import annotations

import torch

__all__ = ["LayoutError", "check_time_first", "to_time_first"]


class LayoutError(ValueError):
    """A tensor does not have the time-first ``[T, B, ...]`` layout a layer expects."""


def check_time_first(
    x: torch.Tensor,
    layer: str,
    min_dim: int = 3,
    features: int | None = None,
    batch_size: int | None = None,
) -> None:
    """Raise :class:`LayoutError` unless ``x`` looks like ``[T, B, ...]``.

    Checks the number of dimensions, the feature size (last axis) when given, and — when the
    batch size is known — that the batch is axis 1, not axis 0 (batch-first input).
    """
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"{layer} expects a torch.Tensor, got {type(x).__name__}")
    if x.dim() < min_dim:
        raise LayoutError(
            f"{layer} expects time-first input [T, B, ...] with at least {min_dim} dimensions, "
            f"got shape {tuple(x.shape)}; add the missing time axis (x.unsqueeze(0) for a "
            "single step) or the batch axis"
        )
    if features is not None and x.shape[-1] != features:
        raise LayoutError(
            f"{layer} expects {features} features on the last axis, got shape {tuple(x.shape)}"
        )
    if batch_size is not None and x.shape[1] != batch_size:
        hint = (
            "; it looks batch-first [B, T, ...]: use x.transpose(0, 1) (or to_time_first)"
            if x.shape[0] == batch_size
            else ""
        )
        raise LayoutError(
            f"{layer} expects time-first input [T, B={batch_size}, ...], got shape "
            f"{tuple(x.shape)}{hint}"
        )


def to_time_first(x: torch.Tensor, batch_size: int) -> torch.Tensor:
    """Return ``x`` as ``[T, B, ...]`` given the batch size, transposing batch-first input.

    Raises :class:`LayoutError` when neither axis 0 nor axis 1 has the batch size, and when
    both do (ambiguous: pass the layout explicitly).
    """
    if x.dim() < 2:
        raise LayoutError(f"expected [T, B, ...] or [B, T, ...], got shape {tuple(x.shape)}")
    first, second = x.shape[0] == batch_size, x.shape[1] == batch_size
    if second and not first:
        return x
    if first and not second:
        return x.transpose(0, 1)
    if first and second:
        raise LayoutError(
            f"cannot tell time from batch in shape {tuple(x.shape)} (T == B == {batch_size}); "
            "state the layout explicitly"
        )
    raise LayoutError(
        f"neither axis 0 nor axis 1 of shape {tuple(x.shape)} has the batch size {batch_size}"
    )
