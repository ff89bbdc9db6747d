"""Atomic file writes: a temp file in the same folder, then ``os.replace``,
so a crash never leaves a half-written result behind. The file gets the
mode a plain ``open`` would give it (0666 less the umask), not the temp
file's private 0600, so colleagues can read a shared run directory."""
from __future__ import annotations

import io
import os
import tempfile
from pathlib import Path
from typing import Any, Callable

import torch

from graphmeta.errors import WriteError


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def atomic(path: str | Path, write: Callable[[str], None]) -> Path:
    """Calls ``write(tmp)`` on a temp file beside ``path``, then renames it
    to ``path``. An OS error (a full disk, a read-only folder) is a
    :class:`~graphmeta.errors.WriteError` naming ``path``; the temp file is
    removed whatever fails."""
    path = Path(path)
    tmp = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
        os.close(fd)
        write(tmp)
        os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, path)
    except OSError as e:
        _remove(tmp)
        raise WriteError(f"{path}: could not write it ({e.strerror or e}); is the disk full "
                         f"or the folder read-only?") from e
    except BaseException:
        _remove(tmp)
        raise
    return path


def _remove(tmp: str | None) -> None:
    if tmp is not None:
        Path(tmp).unlink(missing_ok=True)


def write_text(path: str | Path, text: str) -> Path:
    return atomic(path, lambda tmp: Path(tmp).write_text(text))


def save_torch(path: str | Path, obj: Any) -> Path:
    """``torch.save`` into memory, then one plain write: torch's own file
    writer reports a full disk as an opaque ``RuntimeError`` (``unexpected
    pos``), a plain write as the ``OSError`` it is."""
    buf = io.BytesIO()
    torch.save(obj, buf)
    return atomic(path, lambda tmp: Path(tmp).write_bytes(buf.getbuffer()))


def write_bytes(path: str | Path, data: bytes) -> Path:
    return atomic(path, lambda tmp: Path(tmp).write_bytes(data))
