"""Dataset registry: ``load(name, root=None)`` returns a PyG ``Data``.

``root`` (or the environment variable ``GRAPHMETA_DATA``) points at a local
mirror laid out like ``shared/datasets`` (``deezer_gemsec/raw_csv/...``).
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Callable, Optional

from torch_geometric.data import Data

from graphmeta.datasets.gemsec import read_gemsec

_REGISTRY: dict[str, Callable[[Path], Data]] = {}


def register(name: str) -> Callable[[Callable[[Path], Data]], Callable[[Path], Data]]:
    """Registers ``fn(root) -> Data`` under ``name`` for :func:`load`."""
    def deco(fn: Callable[[Path], Data]) -> Callable[[Path], Data]:
        if name in _REGISTRY:
            raise ValueError(f"dataset {name!r} is already registered")
        _REGISTRY[name] = fn
        return fn
    return deco


def names() -> list[str]:
    return sorted(_REGISTRY)


def resolve_root(root: Optional[str | Path] = None) -> Path:
    root = root or os.environ.get("GRAPHMETA_DATA")
    if not root:
        raise FileNotFoundError("no local dataset mirror: pass root=... or set GRAPHMETA_DATA "
                                "to a folder laid out like shared/datasets")
    return Path(root)


def load(name: str, root: Optional[str | Path] = None) -> Data:
    """Loads a registered dataset from the mirror at ``root``."""
    if name not in _REGISTRY:
        raise KeyError(f"unknown dataset {name!r} (known: {', '.join(names())})")
    return _REGISTRY[name](resolve_root(root))


@register("deezer-hu")
def _deezer_hu(root: Path) -> Data:
    return read_gemsec(root / "deezer_gemsec" / "raw_csv", "HU")


__all__ = ["load", "names", "register", "read_gemsec", "resolve_root"]
