"""GEMSEC Deezer format: ``<C>_edges.csv`` (``node_1,node_2``) and
``<C>_genres.json`` (``{"id": [genre, ...]}``), one pair per country."""
from __future__ import annotations

from pathlib import Path

import torch
from torch_geometric.data import Data

from graphmeta.errors import DataError
from graphmeta.datasets.formats import read_edge_csv, read_json_object, undirected


def read_gemsec(folder: str | Path, country: str) -> Data:
    r"""Reads one GEMSEC Deezer country.

    Returns:
        :class:`~torch_geometric.data.Data` with ``edge_index`` (undirected,
        deduplicated), ``interests`` bool ``[N, G]`` (liked genres),
        ``interest_names`` (alphabetical, as in PyG's ``GemsecDeezer``) and
        ``num_nodes``. There are no node features.
    """
    folder = Path(folder)
    edges_path = folder / f"{country}_edges.csv"
    genres_path = folder / f"{country}_genres.json"
    edges = read_edge_csv(edges_path, header=("node_1", "node_2"))
    genres = read_json_object(genres_path)
    try:
        ids = {int(k): v for k, v in genres.items()}
    except ValueError:
        bad = next(k for k in genres if not k.lstrip("-").isdigit())
        raise DataError(f"{genres_path}: key {bad!r} is not an integer node id") from None
    num_nodes = max(max(ids, default=-1), int(edges.max()) if edges.numel() else -1) + 1
    names = sorted({g for v in ids.values() for g in v})
    col = {g: i for i, g in enumerate(names)}
    interests = torch.zeros(num_nodes, len(names), dtype=torch.bool)
    for node, liked in ids.items():
        if not isinstance(liked, list):
            raise DataError(f"{genres_path}: node {node}: expected a list of genres, got {liked!r}")
        interests[node, [col[g] for g in liked]] = True
    return Data(edge_index=undirected(edges, num_nodes), interests=interests,
                interest_names=names, num_nodes=num_nodes)
