"""graphmeta's error types. The command line turns each into one line and a
non-zero exit; every message names the file, line or key and what was
expected."""
from __future__ import annotations


class GraphmetaError(Exception):
    """Base of every error graphmeta raises about its input or its run."""


class DataError(GraphmetaError, ValueError):
    """A dataset file (or an object given as data) is malformed."""


class MissingFileError(GraphmetaError, FileNotFoundError):
    """A file or folder that should be there is not."""


class DownloadError(GraphmetaError, ConnectionError):
    """A dataset could not be downloaded (offline, or the server refused)."""


class RunDirError(GraphmetaError, ValueError):
    """A run directory cannot be written, resumed or read."""


class WriteError(GraphmetaError, OSError):
    """A file of a run could not be written (a full disk, a read-only
    folder); the file is left as it was, with no half-written temp file."""


class CheckpointError(GraphmetaError, ValueError):
    """A checkpoint is unreadable or does not fit the run's spec."""


class Interrupted(KeyboardInterrupt):
    """A run stopped by SIGINT (Ctrl-C) or SIGTERM (a scheduler), its
    resumable state saved; ``signum`` is the signal (the command line exits
    with ``128 + signum``)."""

    def __init__(self, signum: int, message: str = "") -> None:
        super().__init__(message)
        self.signum = signum

    def __reduce__(self) -> tuple:     # pickled whole (from a worker process)
        return type(self), (self.signum, str(self))


__all__ = ["Interrupted", "CheckpointError", "DataError", "DownloadError", "GraphmetaError",
           "MissingFileError", "RunDirError", "WriteError"]
