"""MATLAB ``.mat`` format (BlogCatalog as distributed with DeepWalk): a
``network`` adjacency and a ``group`` membership matrix, both sparse."""
from __future__ import annotations

from pathlib import Path

import torch
from scipy.io import loadmat
from torch_geometric.data import Data
from torch_geometric.utils import from_scipy_sparse_matrix

from graphmeta.errors import DataError, MissingFileError
from graphmeta.datasets.formats import undirected


def read_mat(path: str | Path, network_key: str = "network", group_key: str = "group") -> Data:
    """Reads a graph and multi-label groups from a MAT v5 file.

    Returns ``Data`` with ``edge_index`` (undirected, deduplicated, no self
    loops), ``interests`` bool ``[N, G]``, ``interest_names``
    (``group0``, ...) and ``num_nodes``.
    """
    path = Path(path)
    if not path.exists():
        raise MissingFileError(f"{path}: no such file")
    try:
        mat = loadmat(str(path))
    except Exception as e:  # scipy raises several types for a damaged file
        raise DataError(f"{path}: not a readable MAT file ({e})") from None
    for key in (network_key, group_key):
        if key not in mat:
            found = ", ".join(k for k in mat if not k.startswith("__"))
            raise DataError(f"{path}: no '{key}' matrix (found: {found})")
    network, group = mat[network_key], mat[group_key]
    n = network.shape[0]
    if network.shape != (n, n) or group.shape[0] != n:
        raise DataError(f"{path}: '{network_key}' is {network.shape} and '{group_key}' is "
                         f"{group.shape}; expected [N, N] and [N, G]")
    edge_index, _ = from_scipy_sparse_matrix(network.tocoo())
    interests = torch.from_numpy(group.toarray() != 0)
    return Data(edge_index=undirected(edge_index, n), interests=interests,
                interest_names=[f"group{g}" for g in range(interests.size(1))], num_nodes=n)
