"""MUSAE/FEATHER format (SNAP's Facebook page-page, Twitch, LastFM Asia,
Deezer Europe, GitHub): ``<P>_edges.csv`` (``id_1,id_2`` or
``node_1,node_2``), ``<P>_target.csv`` (one row per node, a node-id column
and a label column) and, where present, ``<P>_features.json``
(``{"id": [feature or item ids]}``)."""
from __future__ import annotations

import csv
from pathlib import Path
from typing import Optional

import torch
from torch_geometric.data import Data

from graphmeta.errors import DataError, MissingFileError
from graphmeta.datasets.formats import read_edge_csv, read_json_object, undirected

EDGE_HEADERS = (("id_1", "id_2"), ("node_1", "node_2"), ("from", "to"))


def read_musae(folder: str | Path, prefix: str, *, label_column: str,
               id_column: str = "id", features_as: Optional[str] = None) -> Data:
    """Reads one MUSAE graph.

    Args:
        folder: Folder holding the files.
        prefix: File prefix (``facebook``, ``ENGB``, ``git``...).
        label_column: Target column that becomes ``y`` (values mapped to
            ``0..K-1`` in sorted order, names in ``label_names``).
        id_column: Target column holding the node id (``new_id`` for Twitch).
        features_as: ``"x"`` (multi-hot node features), ``"interests"``
            (multi-hot interests: the games of a Twitch user; only the ids
            some user has, named by ``interest_names``) or ``None``.
    """
    folder = Path(folder)
    edges = read_edge_csv(folder / f"{prefix}_edges.csv", header=EDGE_HEADERS)
    target_path = folder / f"{prefix}_target.csv"
    if not target_path.exists():
        raise MissingFileError(f"{target_path}: no such file")
    with target_path.open(newline="", encoding="utf-8") as f:
        reader = csv.DictReader(f)
        for col in (id_column, label_column):
            if col not in (reader.fieldnames or []):
                raise DataError(f"{target_path}, line 1: no column {col!r} "
                                 f"(columns: {', '.join(reader.fieldnames or [])})")
        rows = []
        for no, row in enumerate(reader, start=2):
            try:
                rows.append((int(row[id_column]), row[label_column].strip()))
            except (TypeError, ValueError):
                raise DataError(f"{target_path}, line {no}: {id_column!r} must be an integer "
                                 f"node id, got {row.get(id_column)!r}") from None
    num_nodes = max(max(i for i, _ in rows) + 1, int(edges.max()) + 1 if edges.numel() else 0)
    label_names = sorted({lab for _, lab in rows},
                         key=lambda v: (not v.lstrip("-").isdigit(),
                                        int(v) if v.lstrip("-").isdigit() else 0, v))
    code = {v: k for k, v in enumerate(label_names)}
    y = torch.full((num_nodes,), -1, dtype=torch.long)
    for i, lab in rows:
        y[i] = code[lab]
    # Some MUSAE files list self loops (Facebook: 179); they are kept.
    data = Data(edge_index=undirected(edges, num_nodes, keep_self_loops=True), y=y,
                label_names=label_names, num_nodes=num_nodes)
    if features_as is not None:
        path = folder / f"{prefix}_features.json"
        feats = {int(k): v for k, v in read_json_object(path).items()}
        width = 1 + max((max(v) for v in feats.values() if v), default=-1)
        mat = torch.zeros(num_nodes, width, dtype=torch.bool)
        for node, ids in feats.items():
            mat[node, ids] = True
        if features_as == "x":
            data.x = mat.float()
        else:
            # Feature ids are shared across the Twitch graphs (0..3169); an
            # id nobody in this graph has is no interest of it, and would
            # pad every user's candidate list with trivially ranked items.
            used = mat.any(0).nonzero().view(-1)
            data.interests = mat[:, used]
            data.interest_names = [str(i) for i in used.tolist()]
    return data
