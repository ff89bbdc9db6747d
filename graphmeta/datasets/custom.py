"""Custom graphs: build graphmeta's ``Data`` from files or objects a user has.

Node ids may be any strings. All-integer ids are ordered numerically, other
ids lexicographically, and mapped to ``0..N-1``. ``data.node_ids[i]`` keeps
the original id of node ``i``. Nodes that appear only in the interest,
feature or label files become isolated nodes.
"""
from __future__ import annotations

import csv
from pathlib import Path
from typing import Any, Iterable, Optional

import networkx as nx
import numpy as np
import torch
from torch_geometric.data import Data

from graphmeta.datasets.formats import read_json_object, undirected


def _read_edges(path: Path) -> list[tuple[str, str]]:
    """CSV with a header row (comma-separated), or whitespace-separated
    pairs (``#`` comments allowed, no header)."""
    if not path.exists():
        raise FileNotFoundError(f"{path}: no such file")
    lines = path.read_text().splitlines()
    first = next((ln for ln in lines if ln.strip() and not ln.startswith("#")), "")
    edges = []
    if "," in first:
        rows = csv.reader(lines)
        next(rows, None)  # header
        for no, row in enumerate(rows, start=2):
            if not row or not "".join(row).strip():
                continue
            if len(row) < 2 or not row[0].strip() or not row[1].strip():
                raise ValueError(f"{path}, line {no}: expected 'source,target', got {','.join(row)!r}")
            edges.append((row[0].strip(), row[1].strip()))
    else:
        for no, line in enumerate(lines, start=1):
            if not line.strip() or line.startswith("#"):
                continue
            parts = line.split()
            if len(parts) < 2:
                raise ValueError(f"{path}, line {no}: expected two node ids, got {line.strip()!r}")
            edges.append((parts[0], parts[1]))
    return edges


def _read_pairs_csv(path: Path, what: str) -> list[tuple[str, str]]:
    with path.open(newline="") as f:
        rows = csv.reader(f)
        next(rows, None)  # header
        out = []
        for no, row in enumerate(rows, start=2):
            if not row:
                continue
            if len(row) != 2:
                raise ValueError(f"{path}, line {no}: expected 'node,{what}', got {','.join(row)!r}")
            out.append((row[0].strip(), row[1].strip()))
    return out


def _read_interests(path: Path) -> dict[str, list[str]]:
    if path.suffix == ".json":
        out = {}
        for node, items in read_json_object(path).items():
            if not isinstance(items, list):
                raise ValueError(f"{path}: node {node!r}: expected a list of interests, got {items!r}")
            out[node] = [str(i) for i in items]
        return out
    out: dict[str, list[str]] = {}
    for node, item in _read_pairs_csv(path, "interest"):
        out.setdefault(node, []).append(item)
    return out


def _read_features(path: Path) -> dict[str, list[float]] | np.ndarray:
    if path.suffix == ".npy":
        arr = np.load(path, allow_pickle=False)
        if arr.ndim != 2:
            raise ValueError(f"{path}: expected a 2-D array [num_nodes, F], got shape {arr.shape}")
        return arr
    if path.suffix == ".json":
        rows = read_json_object(path)
    else:
        rows = {}
        with path.open(newline="") as f:
            reader = csv.reader(f)
            next(reader, None)  # header: node,f0,f1,...
            for no, row in enumerate(reader, start=2):
                if not row:
                    continue
                try:
                    rows[row[0].strip()] = [float(v) for v in row[1:]]
                except ValueError:
                    raise ValueError(f"{path}, line {no}: expected 'node,number,...', "
                                     f"got {','.join(row)!r}") from None
    dims = {len(v) if isinstance(v, list) else -1 for v in rows.values()}
    if len(dims) > 1 or -1 in dims:
        raise ValueError(f"{path}: every node needs a feature list of the same length "
                         f"(found lengths {sorted(dims)})")
    return rows


def _order(ids: Iterable[str]) -> list[str]:
    ids = set(ids)
    try:
        return [str(i) for i in sorted(int(i) for i in ids)] if all(
            str(int(i)) == i for i in ids) else sorted(ids)
    except ValueError:
        return sorted(ids)


def from_edge_list(edges: str | Path, interests: Optional[str | Path] = None,
                   features: Optional[str | Path] = None, labels: Optional[str | Path] = None,
                   name: Optional[str] = None) -> Data:
    """Builds a graph from files.

    Args:
        edges: CSV with a header (``source,target``), or whitespace-separated
            pairs. Edges are made undirected and deduplicated, and self loops
            are dropped.
        interests: JSON ``{"node": [interest, ...]}`` or CSV ``node,interest``
            pairs (header row first).
        features: JSON ``{"node": [x0, x1, ...]}``, CSV ``node,x0,x1,...``
            (header row first), or ``.npy`` ``[N, F]`` whose row ``i`` belongs
            to integer node id ``i``. Nodes without a row get zeros.
        labels: CSV ``node,label`` (header row first), one label per node.
            Nodes without a label get ``y = -1``.
        name: Stored as ``data.name``.

    Returns:
        ``Data`` with ``edge_index``, ``num_nodes`` and ``node_ids``, plus
        ``interests`` and ``interest_names``, ``x``, or ``y`` and
        ``label_names`` when those files are given.
    """
    edge_pairs = _read_edges(Path(edges))
    inter = _read_interests(Path(interests)) if interests else {}
    feats = _read_features(Path(features)) if features else None
    labs = _read_pairs_csv(Path(labels), "label") if labels else []
    ids = {u for e in edge_pairs for u in e} | set(inter) | {n for n, _ in labs}
    if isinstance(feats, dict):
        ids |= set(feats)
    if isinstance(feats, np.ndarray):
        ids |= {str(i) for i in range(len(feats))}
    order = _order(ids)
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
        if not all(u.isdigit() for u in order) or n != len(feats):
            raise ValueError(f"{features}: a .npy feature file needs integer node ids "
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
            raise ValueError(f"node {missing[0]!r} has no attribute {key!r}")
        return [G.nodes[u].get(key, []) for u in order]
    if interests_attr is not None:
        rows = [[str(i) for i in items] for items in attr(interests_attr)]
        names = sorted({i for r in rows for i in r})
        col = {g: j for j, g in enumerate(names)}
        mat = torch.zeros(n, len(names), dtype=torch.bool)
        for i, r in enumerate(rows):
            mat[i, [col[g] for g in r]] = True
        data.interests, data.interest_names = mat, names
    if features_attr is not None:
        data.x = torch.tensor(attr(features_attr), dtype=torch.float)
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
        raise FileNotFoundError(f"{folder}: no edges.csv (a --dataset folder holds edges.csv "
                                f"and interests.json, optionally features.* and labels.csv)")

    def first(*names: str) -> Optional[Path]:
        return next((folder / n for n in names if (folder / n).exists()), None)
    return from_edge_list(folder / "edges.csv",
                          interests=first("interests.json", "interests.csv"),
                          features=first("features.npy", "features.json", "features.csv"),
                          labels=first("labels.csv"), name=folder.name)
