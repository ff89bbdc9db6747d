"""SNAP formats: a whitespace edge list with a ``node label`` file
(``email-Eu-core``), and the ego-network files of ``ego-Facebook``
(``<ego>.edges .feat .egofeat .featnames .circles``).

PyG has ``EmailEUCore`` and ``SNAPDataset('ego-facebook')`` for these files,
but both write ``processed/`` next to ``raw/`` (a read-only mirror refuses
that), ``EmailEUCore`` keeps the edges directed, and ``SNAPDataset`` returns
one graph per ego with per-ego feature columns. Here one undirected graph is
built, with the features aligned by name across egos and every circle as an
interest column.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from torch_geometric.data import Data

from graphmeta.errors import DataError, MissingFileError
from graphmeta.datasets.formats import read_edge_csv, undirected

EGOS = ("0", "107", "348", "414", "686", "698", "1684", "1912", "3437", "3980")


def read_snap_labelled(edges_path: str | Path, labels_path: str | Path) -> Data:
    """An edge list (``src dst`` per line) plus single labels (``node label``).

    Returns ``Data`` with ``edge_index`` (undirected, deduplicated; the
    source's self loops are kept), ``y`` ``[N]``, ``label_names`` and
    ``num_nodes``. The source's direction is dropped: a task's ego-subgraph
    is everyone the user corresponded with, either way.
    """
    edges = read_edge_csv(edges_path, delimiter=" ")
    labels = read_edge_csv(labels_path, delimiter=" ")  # same shape: two integer columns
    nodes, values = labels
    num_nodes = max(int(nodes.max()) + 1, int(edges.max()) + 1)
    if len(torch.unique(nodes)) != len(nodes):
        raise DataError(f"{labels_path}: a node is listed more than once")
    names, codes = torch.unique(values, return_inverse=True)
    y = torch.full((num_nodes,), -1, dtype=torch.long)
    y[nodes] = codes
    return Data(edge_index=undirected(edges, num_nodes, keep_self_loops=True), y=y,
                label_names=[str(v) for v in names.tolist()], num_nodes=num_nodes)


def _read_ints(path: Path) -> np.ndarray:
    if not path.exists():
        raise MissingFileError(f"{path}: no such file")
    try:
        return np.loadtxt(path, dtype=np.int64, ndmin=2)
    except ValueError as e:
        raise DataError(f"{path}: expected whitespace-separated integers ({e})") from None


def read_snap_ego(folder: str | Path, egos: tuple[str, ...] = EGOS) -> Data:
    """The SNAP ego networks in ``folder`` joined into one graph.

    Every ego is linked to each node of its ``.feat`` file (its friends) and
    the ``.edges`` files give the friend-friend links, which together make
    SNAP's ``facebook_combined`` graph. ``x`` is multi-hot over the union of
    the feature names (a node present in several ego networks gets the union
    of its profiles), ``interests`` has one column per circle, named
    ``"<ego>/<circle>"``.
    """
    folder = Path(folder)
    edge_parts, feats = [], []           # feats: (node ids, names, 0/1 matrix)
    circles: list[tuple[str, list[int]]] = []
    for ego in egos:
        stem = folder / ego
        ego_id = int(ego)
        featnames_path = stem.with_suffix(".featnames")
        if not featnames_path.exists():
            raise MissingFileError(f"{featnames_path}: no such file")
        names = []
        for no, line in enumerate(featnames_path.read_text().splitlines(), start=1):
            idx, _, name = line.partition(" ")
            if not idx.isdigit() or int(idx) != no - 1 or not name:
                raise DataError(f"{featnames_path}, line {no}: expected '{no - 1} <name>', "
                                f"got {line!r}")
            names.append(name)
        feat = _read_ints(stem.with_suffix(".feat"))
        egofeat = _read_ints(stem.with_suffix(".egofeat"))
        for path, arr, width in ((stem.with_suffix(".feat"), feat, len(names) + 1),
                                 (stem.with_suffix(".egofeat"), egofeat, len(names))):
            if arr.shape[1] != width:
                raise DataError(f"{path}: rows have {arr.shape[1]} columns, expected {width} "
                                 f"({len(names)} features in {featnames_path.name})")
        friends = feat[:, 0]
        feats.append((np.concatenate([friends, [ego_id]]), names,
                      np.concatenate([feat[:, 1:], egofeat], 0)))
        edges = _read_ints(stem.with_suffix(".edges"))
        if edges.shape[1] != 2:
            raise DataError(f"{stem.with_suffix('.edges')}: expected two node ids per line")
        edge_parts += [edges.T, np.stack([np.full_like(friends, ego_id), friends])]
        circles_path = stem.with_suffix(".circles")
        if not circles_path.exists():
            raise MissingFileError(f"{circles_path}: no such file")
        for no, line in enumerate(circles_path.read_text().splitlines(), start=1):
            name, *members = line.split("\t")
            try:
                circles.append((f"{ego}/{name}", [int(m) for m in members]))
            except ValueError:
                raise DataError(f"{circles_path}, line {no}: members must be node ids") from None
    edge_index = torch.from_numpy(np.concatenate(edge_parts, 1))
    num_nodes = int(edge_index.max()) + 1
    feature_names = sorted({n for _, names, _ in feats for n in names})
    col = {n: i for i, n in enumerate(feature_names)}
    x = torch.zeros(num_nodes, len(feature_names))
    for nodes, names, mat in feats:
        cols = torch.tensor([col[n] for n in names])
        rows, js = np.nonzero(mat)
        x[torch.from_numpy(nodes[rows]), cols[torch.from_numpy(js)]] = 1.0
    interests = torch.zeros(num_nodes, len(circles), dtype=torch.bool)
    for j, (_, members) in enumerate(circles):
        interests[members, j] = True
    return Data(edge_index=undirected(edge_index, num_nodes), x=x, feature_names=feature_names,
                interests=interests, interest_names=[n for n, _ in circles], num_nodes=num_nodes)
