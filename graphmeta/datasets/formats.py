"""Small readers shared by the source formats, with errors that name the
file and line."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Optional, Sequence

import numpy as np
import torch
from torch import Tensor
from torch_geometric.utils import coalesce, remove_self_loops, to_undirected


def read_edge_csv(path: str | Path, header: Optional[Sequence[str] | Sequence[Sequence[str]]] = None,
                  delimiter: str = ",") -> Tensor:
    """Reads an integer edge list ``[2, E]``. ``header`` (one header, or a
    list of accepted ones) is checked against the first line if given."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{path}: no such file")
    with path.open() as f:
        if header is not None:
            first = [h.strip() for h in f.readline().strip().split(delimiter)]
            accepted = [list(header)] if isinstance(header[0], str) else [list(h) for h in header]
            if first not in accepted:
                want = " or ".join(repr(delimiter.join(h)) for h in accepted)
                raise ValueError(f"{path}, line 1: expected header {want}, "
                                 f"got {delimiter.join(first)!r}")
        try:
            arr = np.loadtxt(f, delimiter=delimiter, dtype=np.int64, ndmin=2)
        except ValueError:
            arr = None
    if arr is None or (arr.size and arr.shape[1] != 2):
        _raise_bad_line(path, header is not None, delimiter)
    return torch.from_numpy(arr.reshape(-1, 2).T.copy())


def _raise_bad_line(path: Path, skip_header: bool, delimiter: str) -> None:
    with path.open() as f:
        for no, line in enumerate(f, start=1):
            if (skip_header and no == 1) or not line.strip():
                continue
            parts = line.strip().split(delimiter)
            if len(parts) != 2 or not all(p.strip().lstrip("-").isdigit() for p in parts):
                raise ValueError(f"{path}, line {no}: expected two integer node ids, "
                                 f"got {line.strip()!r}")
    raise ValueError(f"{path}: could not parse the edge list")


def undirected(edge_index: Tensor, num_nodes: int, keep_self_loops: bool = False) -> Tensor:
    """Both directions, deduplicated, sorted; self loops dropped unless
    ``keep_self_loops`` (for sources that have them)."""
    if not keep_self_loops:
        edge_index, _ = remove_self_loops(edge_index)
    return coalesce(to_undirected(edge_index, num_nodes=num_nodes), num_nodes=num_nodes)


def read_json_object(path: str | Path) -> dict[str, object]:
    """A JSON object keyed by node id (keys as strings)."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{path}: no such file")
    try:
        obj = json.loads(path.read_text())
    except json.JSONDecodeError as e:
        raise ValueError(f"{path}: not valid JSON ({e})") from None
    if not isinstance(obj, dict):
        raise ValueError(f"{path}: expected a JSON object keyed by node id")
    return {str(k): v for k, v in obj.items()}
