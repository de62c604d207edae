"""spikeflow: event-driven spiking neural networks with a Rust core."""
from spikeflow._core import __version__

__all__ = ["__version__"]
