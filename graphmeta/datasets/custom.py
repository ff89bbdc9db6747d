"""Custom graphs: build graphmeta's ``Data`` from files or objects a user has.

Node ids may be any strings without a line break; in an edge file, a line
whose first field starts with ``#`` is a comment, so an id cannot start
with ``#`` there. All-integer ids are ordered numerically, other
ids lexicographically, and mapped to ``0..N-1``. ``data.node_ids[i]`` keeps
the original id of node ``i``. The edge list declares the nodes: a node
named only in the interest, feature or label file is an error, unless
``allow_isolated`` makes it an isolated node.

Every malformed input is a :class:`~graphmeta.errors.DataError` naming the
file and line (or node) and what was expected: a row with other than two
columns, an empty or self-loop-only edge list, the same integer id written
two ways (``007`` and ``7``) in two files, NaN or infinite features, an
interest file that is not a mapping of nodes to lists.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Optional

import networkx as nx
import numpy as np
import torch
from torch_geometric.data import Data

from graphmeta.datasets.formats import (check_id_forms, order_ids, read_edge_pairs,
                                        read_features, read_interests, read_labels,
                                        undirected)
from graphmeta.datasets.headers import is_int
from graphmeta.errors import DataError, MissingFileError


def from_edge_list(edges: str | Path, interests: Optional[str | Path] = None,
                   features: Optional[str | Path] = None, labels: Optional[str | Path] = None,
                   name: Optional[str] = None, allow_isolated: bool = False) -> Data:
    """Builds a graph from files.

    Args:
        edges: CSV with a header (``source,target``), or whitespace-separated
            pairs. Edges are made undirected and deduplicated, and self loops
            are dropped.
        interests: JSON ``{"node": [interest, ...]}`` or CSV ``node,interest``
            pairs.
        features: JSON ``{"node": [x0, x1, ...]}``, CSV ``node,x0,x1,...``,
            or ``.npy`` ``[N, F]`` whose row ``i`` belongs to integer node id
            ``i``. Nodes without a row get zeros.
        labels: CSV ``node,label``, one label per node. Nodes without a
            label get ``y = -1``.
        name: Stored as ``data.name``.
        allow_isolated: Keep nodes that only the interest, feature or label
            file names, as isolated nodes (default: an error).

    A CSV may start with a header row or not
    (:func:`graphmeta.datasets.headers.header_row` says how that is told).

    Returns:
        ``Data`` with ``edge_index``, ``num_nodes`` and ``node_ids``, plus
        ``interests`` and ``interest_names``, ``x``, or ``y`` and
        ``label_names`` when those files are given.
    """
    edge_pairs = read_edge_pairs(Path(edges))
    loops = sum(a == b for a, b in edge_pairs)
    if loops == len(edge_pairs):
        raise DataError(f"{edges}: no edges" + (f" (only {loops} self loops)" if loops else "")
                        + "; graphmeta learns from ego-subgraphs and needs a graph")
    graph_ids = {u for e in edge_pairs for u in e}
    known = None if allow_isolated else graph_ids       # what a node file's line 1 may name
    inter = read_interests(Path(interests), known) if interests else {}
    feats = read_features(Path(features), known) if features else None
    labs = read_labels(Path(labels), known) if labels else []
    side = {str(interests): set(inter), str(labels): {n for n, _ in labs}}
    if isinstance(feats, dict):
        side[str(features)] = set(feats)
    check_id_forms({str(edges): graph_ids, **side})
    ids = set(graph_ids)
    for path, nodes in side.items():
        extra = sorted(nodes - graph_ids)
        if extra and not allow_isolated:
            raise DataError(f"{path}: {len(extra)} node(s) not in the edge list {edges}, e.g. "
                            f"{', '.join(map(repr, extra[:3]))}: add their edges, or remove "
                            f"them (in Python, from_edge_list(..., allow_isolated=True) keeps "
                            f"them as isolated nodes)")
        ids |= nodes
    if isinstance(feats, np.ndarray):
        ids |= {str(i) for i in range(len(feats))}
    order = order_ids(ids)
    index = {u: i for i, u in enumerate(order)}
    n = len(order)
    ei = torch.tensor([[index[a] for a, _ in edge_pairs], [index[b] for _, b in edge_pairs]],
                      dtype=torch.long).view(2, -1)
    data = Data(edge_index=undirected(ei, n), num_nodes=n, node_ids=order)
    if name:
        data.name = name
    if interests:
        names = sorted({i for items in inter.values() for i in items})
        col = {g: j for j, g in enumerate(names)}
        mat = torch.zeros(n, len(names), dtype=torch.bool)
        for node, items in inter.items():
            mat[index[node], [col[i] for i in items]] = True
        data.interests, data.interest_names = mat, names
    if isinstance(feats, np.ndarray):
        if not all(is_int(u) and not u.startswith("-") for u in order) or n != len(feats):
            raise DataError(f"{features}: a .npy feature file needs integer node ids "
                            f"0..{len(feats) - 1} (found {n} nodes)")
        data.x = torch.from_numpy(feats).float()
    elif feats is not None:
        dim = len(next(iter(feats.values()))) if feats else 0
        x = torch.zeros(n, dim)
        for node, row in feats.items():
            x[index[node]] = torch.tensor(row, dtype=torch.float)
        data.x = x
    if labels:
        label_names = sorted({lab for _, lab in labs})
        y = torch.full((n,), -1, dtype=torch.long)
        for node, lab in labs:
            y[index[node]] = label_names.index(lab)
        data.y, data.label_names = y, label_names
    return data


def from_networkx(G: nx.Graph, interests_attr: Optional[str] = "interests",
                  features_attr: Optional[str] = None,
                  label_attr: Optional[str] = None) -> Data:
    """Builds a graph from a networkx graph whose nodes carry attributes:
    ``interests_attr`` (an iterable of interests), ``features_attr`` (a list
    of numbers) and ``label_attr`` (a label). Node order is ``G.nodes``."""
    order = list(G.nodes)
    index = {u: i for i, u in enumerate(order)}
    n = len(order)
    ei = torch.tensor([[index[a] for a, _ in G.edges], [index[b] for _, b in G.edges]],
                      dtype=torch.long).view(2, -1)
    data = Data(edge_index=undirected(ei, n), num_nodes=n, node_ids=[str(u) for u in order])

    def attr(key: str) -> list[Any]:
        missing = [u for u in order if key not in G.nodes[u]]
        if missing and key != interests_attr:
            raise DataError(f"node {missing[0]!r} has no attribute {key!r}")
        if key == interests_attr and len(missing) == len(order):
            raise DataError(f"no node has the attribute {key!r} (interests_attr); set it, "
                            f"or pass interests_attr=None for a graph without interests")
        return [G.nodes[u].get(key, []) for u in order]

    def interest_list(u: Any, items: Any) -> list[str]:
        if isinstance(items, (str, bytes, int, float)):      # one interest, not its letters
            return [str(items)]
        try:
            return [str(i) for i in items]
        except TypeError:
            raise DataError(f"node {u!r}: {interests_attr!r} must be an interest or an "
                            f"iterable of interests, got {items!r}") from None
    if interests_attr is not None:
        rows = [interest_list(u, items) for u, items in zip(order, attr(interests_attr))]
        names = sorted({i for r in rows for i in r})
        col = {g: j for j, g in enumerate(names)}
        mat = torch.zeros(n, len(names), dtype=torch.bool)
        for i, r in enumerate(rows):
            mat[i, [col[g] for g in r]] = True
        data.interests, data.interest_names = mat, names
    if features_attr is not None:
        try:
            data.x = torch.tensor(attr(features_attr), dtype=torch.float)
        except (TypeError, ValueError) as e:
            raise DataError(f"{features_attr!r}: every node needs a list of numbers of the "
                            f"same length ({e})") from None
        if not torch.isfinite(data.x).all():
            bad = order[int((~torch.isfinite(data.x)).any(1).nonzero()[0])]
            raise DataError(f"node {bad!r}: {features_attr!r} holds NaN or infinity")
    if label_attr is not None:
        labs = [str(v) for v in attr(label_attr)]
        label_names = sorted(set(labs))
        data.y = torch.tensor([label_names.index(v) for v in labs])
        data.label_names = label_names
    return data


def from_folder(folder: str | Path) -> Data:
    """``edges.csv`` plus ``interests.json`` (or ``interests.csv``) and
    optional ``features.{json,csv,npy}`` and ``labels.csv``: the layout that
    ``--dataset PATH`` reads with no code."""
    folder = Path(folder)
    if not (folder / "edges.csv").exists():
        raise MissingFileError(f"{folder}: no edges.csv (a --dataset folder holds edges.csv "
                               f"and interests.json, optionally features.* and labels.csv)")

    def first(*names: str) -> Optional[Path]:
        return next((folder / n for n in names if (folder / n).exists()), None)
    return from_edge_list(folder / "edges.csv",
                          interests=first("interests.json", "interests.csv"),
                          features=first("features.npy", "features.json", "features.csv"),
                          labels=first("labels.csv"), name=folder.name)
