"""Event data for spiking networks: fast readers for event-camera formats, transforms,
encoders for static data, an event-camera simulator, datasets and torch adapters.

Event arrays are numpy structured arrays of :data:`EVENTS_DTYPE` (``x, y, t, p``; ``t`` in
µs as int64), the layout Tonic uses, so arrays pass between the two libraries unchanged.
"""
from spikeflow.data import encoders, pipeline, transforms
from spikeflow.data.camera import CameraParams, EventCamera, video_to_events
from spikeflow.data.datasets import CIFAR10DVS, NMNIST, SHD, SSC, DVSGesture, EventDataset
from spikeflow.data.dtypes import (
    EVENTS1D_DTYPE,
    EVENTS_DTYPE,
    empty_events,
    make_events,
    make_events_1d,
)
from spikeflow.data.encoders import delta, latency, latency_dense, poisson, poisson_spike_times
from spikeflow.data.errors import DatasetNotFoundError, EventFormatError
from spikeflow.data.frames import to_dense_tensor, to_frames, to_sparse_tensor
from spikeflow.data.idx import load_fashion_mnist, load_mnist, read_idx
from spikeflow.data.paths import data_root
from spikeflow.data.readers import (
    FORMATS,
    FileInfo,
    buffer_cache_bytes,
    clear_buffer_cache,
    decode,
    detect_format,
    read,
    read_aedat2,
    read_aedat3,
    read_aedat4,
    read_bs1,
    read_dat,
    read_evt2,
    read_evt3,
    read_info,
    read_many,
    read_nmnist,
)
from spikeflow.data.saccades import NMNIST_CAMERA, saccade_path, saccades, saccades_many
from spikeflow.data.spikesource import n_neurons, neuron_coords, neuron_ids, to_spike_source

__all__ = [
    "CameraParams",
    "EventCamera",
    "video_to_events",
    "NMNIST_CAMERA",
    "saccade_path",
    "saccades",
    "saccades_many",
    "CIFAR10DVS",
    "EVENTS1D_DTYPE",
    "EVENTS_DTYPE",
    "FORMATS",
    "NMNIST",
    "SHD",
    "SSC",
    "DVSGesture",
    "DatasetNotFoundError",
    "EventDataset",
    "EventFormatError",
    "FileInfo",
    "TorchEventDataset",
    "buffer_cache_bytes",
    "clear_buffer_cache",
    "data_root",
    "decode",
    "delta",
    "detect_format",
    "empty_events",
    "encoders",
    "latency",
    "latency_dense",
    "load_fashion_mnist",
    "load_mnist",
    "make_events",
    "make_events_1d",
    "n_neurons",
    "neuron_coords",
    "neuron_ids",
    "pad_collate",
    "pipeline",
    "poisson",
    "poisson_spike_times",
    "read",
    "read_aedat2",
    "read_aedat3",
    "read_aedat4",
    "read_bs1",
    "read_dat",
    "read_evt2",
    "read_evt3",
    "read_idx",
    "read_info",
    "read_many",
    "read_nmnist",
    "to_dense_tensor",
    "to_frames",
    "to_sparse_tensor",
    "to_spike_source",
    "transforms",
]


def __getattr__(name: str):
    # torch adapters load lazily, so ``import spikeflow.data`` does not import torch
    if name in ("TorchEventDataset", "pad_collate", "events_to_tensor", "torchdata"):
        import importlib

        mod = importlib.import_module("spikeflow.data.torchdata")
        return mod if name == "torchdata" else getattr(mod, name)
    raise AttributeError(f"module 'spikeflow.data' has no attribute {name!r}")
