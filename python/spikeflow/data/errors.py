"""Exceptions raised by :mod:`spikeflow.data`."""
from __future__ import annotations

__all__ = ["DatasetNotFoundError", "EventFormatError"]


class EventFormatError(ValueError):
    """A file could not be decoded: it is truncated, corrupt or of another format.

    Attributes:
        path: the file (or the name given for an in-memory buffer).
        offset: byte offset from the start of the file where decoding stopped, or ``None``.
        reason: what was wrong, in words.
    """

    def __init__(self, path: str, offset: int | None, reason: str) -> None:
        self.path = str(path)
        self.offset = offset
        self.reason = reason
        where = f"byte {offset}: " if offset is not None else ""
        super().__init__(f"{self.path}: {where}{reason}")

    def __reduce__(self):  # keep picklable (DataLoader workers send exceptions back)
        return (type(self), (self.path, self.offset, self.reason))


class DatasetNotFoundError(FileNotFoundError):
    """A dataset's files are not where the dataset class looks for them.

    Nothing in spikeflow downloads; the message says which files to put where.
    """
