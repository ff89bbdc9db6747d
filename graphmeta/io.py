"""Atomic file writes: a temp file in the same folder, then ``os.replace``,
so a crash never leaves a half-written result behind. The file gets the
mode a plain ``open`` would give it (0666 less the umask), not the temp
file's private 0600, so colleagues can read a shared run directory."""
from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any, Callable

import torch


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def atomic(path: str | Path, write: Callable[[str], None]) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    try:
        write(tmp)
        os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def write_text(path: str | Path, text: str) -> Path:
    return atomic(path, lambda tmp: Path(tmp).write_text(text))


def save_torch(path: str | Path, obj: Any) -> Path:
    return atomic(path, lambda tmp: torch.save(obj, tmp))


def write_bytes(path: str | Path, data: bytes) -> Path:
    return atomic(path, lambda tmp: Path(tmp).write_bytes(data))
