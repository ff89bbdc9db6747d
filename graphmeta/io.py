"""Atomic file writes: a temp file in the same folder, then ``os.replace``,
so a crash never leaves a half-written result behind."""
from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any, Callable

import torch


def atomic(path: str | Path, write: Callable[[str], None]) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    try:
        write(tmp)
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
