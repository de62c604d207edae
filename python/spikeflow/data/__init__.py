"""Event data for spiking networks: fast readers for event-camera formats, transforms,
encoders for static data, an event-camera simulator, datasets and torch adapters.

Event arrays are numpy structured arrays of :data:`EVENTS_DTYPE` (``x, y, t, p``; ``t`` in
µs as int64), the layout Tonic uses, so arrays pass between the two libraries unchanged.
"""
from spikeflow.data.dtypes import (
    EVENTS1D_DTYPE,
    EVENTS_DTYPE,
    empty_events,
    make_events,
    make_events_1d,
)
from spikeflow.data.errors import DatasetNotFoundError, EventFormatError
from spikeflow.data.readers import (
    FORMATS,
    FileInfo,
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

__all__ = [
    "EVENTS_DTYPE",
    "EVENTS1D_DTYPE",
    "make_events",
    "make_events_1d",
    "empty_events",
    "EventFormatError",
    "DatasetNotFoundError",
    "FORMATS",
    "FileInfo",
    "read",
    "read_info",
    "read_many",
    "decode",
    "detect_format",
    "read_nmnist",
    "read_aedat2",
    "read_aedat3",
    "read_aedat4",
    "read_evt2",
    "read_evt3",
    "read_dat",
    "read_bs1",
]
