"""Exceptions raised by spikeflow. Each subclasses the built-in a Python user would expect."""

__all__ = [
    "SpikeflowError",
    "ParameterError",
    "ConnectivityError",
    "OutOfRangeError",
    "MemoryLimitError",
    "StateError",
    "CheckpointError",
]


class SpikeflowError(Exception):
    """Base class of every spikeflow error."""


class ParameterError(SpikeflowError, ValueError):
    """A parameter value is not allowed (NaN, negative time constant, delay off the grid...)."""


class ConnectivityError(SpikeflowError, ValueError):
    """Connectivity that cannot be built as asked."""


class OutOfRangeError(SpikeflowError, IndexError):
    """A neuron, population or projection index outside its range."""


class MemoryLimitError(SpikeflowError, MemoryError):
    """The request would need more memory than the machine has (the message gives the estimate)."""


class StateError(SpikeflowError, RuntimeError):
    """The call does not fit the network's state (e.g. adding populations after running)."""


class CheckpointError(SpikeflowError, ValueError):
    """A file is not a checkpoint this spikeflow can load: not a spikeflow file, truncated,
    corrupt, or of another format version. The message names the file and the problem;
    nothing is loaded."""
