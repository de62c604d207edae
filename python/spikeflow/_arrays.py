"""Normalising user input into the arrays the engine expects, with clear errors."""
from __future__ import annotations

from typing import Any

import numpy as np

from spikeflow.errors import OutOfRangeError, ParameterError


def float_array(values: Any, name: str) -> np.ndarray:
    """A contiguous 1-D float64 array (scalars become length 1)."""
    try:
        arr = np.ascontiguousarray(values, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise ParameterError(f"{name} must be numbers, got {values!r:.80}") from exc
    if arr.ndim == 0:
        arr = arr.reshape(1)
    if arr.ndim != 1:
        raise ParameterError(f"{name} must be 1-D, got shape {arr.shape}")
    return arr


def index_array(values: Any, name: str) -> np.ndarray:
    """A contiguous 1-D uint32 array of non-negative integer indices."""
    arr = np.asarray(values)
    if arr.ndim == 0:
        arr = arr.reshape(1)
    if arr.ndim != 1:
        raise ParameterError(f"{name} must be 1-D, got shape {arr.shape}")
    if arr.size and not np.issubdtype(arr.dtype, np.integer):
        if np.issubdtype(arr.dtype, np.floating) and np.all(np.isfinite(arr)) and np.all(arr == np.round(arr)):
            arr = arr.astype(np.int64)
        else:
            raise ParameterError(f"{name} must be integer indices, got dtype {arr.dtype}")
    if arr.size and arr.min() < 0:
        raise OutOfRangeError(f"{name} contains a negative index ({int(arr.min())})")
    if arr.size and arr.max() > np.iinfo(np.uint32).max - 1:
        raise OutOfRangeError(f"{name} contains an index too large ({int(arr.max())})")
    return np.ascontiguousarray(arr, dtype=np.uint32)


def param_value(value: Any, name: str, n: int) -> Any:
    """A neuron parameter: a float, or a float64 array of length n."""
    if np.isscalar(value) and not isinstance(value, (str, bytes)):
        try:
            return float(value)
        except (TypeError, ValueError) as exc:
            raise ParameterError(f"{name} must be a number, got {value!r}") from exc
    arr = float_array(value, name)
    if arr.shape[0] != n:
        raise ParameterError(
            f"{name} has {arr.shape[0]} values but the population has {n} neurons; "
            "give a scalar or one value per neuron"
        )
    return arr
