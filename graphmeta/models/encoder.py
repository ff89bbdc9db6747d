"""graphmeta's default GNN encoder: a stack of PyG's dense convolutions.

Any module works as the encoder of graphmeta's models
(:mod:`graphmeta.models.batched` says how each kind is run); this is the one
the command line builds. Its layers are PyG's own
(:mod:`torch_geometric.nn.dense`), so there is no graph maths here: only the
stacking, ReLU and dropout between layers.
"""
from __future__ import annotations

from typing import Optional

import torch.nn.functional as F
from torch import Tensor, nn
from torch_geometric.nn import (DenseGATConv, DenseGCNConv, DenseGINConv, DenseGraphConv,
                                DenseSAGEConv)

CONVS = ("gcn", "sage", "gin", "gat", "graph")


def dense_conv(conv: str, d_in: int, d_out: int, heads: int = 4) -> nn.Module:
    """One of PyG's dense convolutions by name (:data:`CONVS`)."""
    if conv == "gcn":
        return DenseGCNConv(d_in, d_out)
    if conv == "sage":
        return DenseSAGEConv(d_in, d_out)
    if conv == "gin":
        return DenseGINConv(nn.Sequential(nn.Linear(d_in, d_out), nn.ReLU(),
                                          nn.Linear(d_out, d_out)))
    if conv == "gat":
        return DenseGATConv(d_in, d_out // heads, heads=heads)
    if conv == "graph":
        return DenseGraphConv(d_in, d_out)
    raise ValueError(f"conv must be one of {CONVS}, got {conv!r}")


class GNNEncoder(nn.Module):
    r"""A stack of PyG dense convolutions with ReLU and dropout between them.

    Args:
        in_channels (int): Node feature size.
        hidden (int): Width of every layer (and of the embedding).
        layers (int): Number of convolutions.
        conv (str): :class:`~torch_geometric.nn.DenseGCNConv` (``"gcn"``),
            :class:`~torch_geometric.nn.DenseSAGEConv` (``"sage"``),
            :class:`~torch_geometric.nn.DenseGINConv` (``"gin"``, a 2-layer
            MLP), :class:`~torch_geometric.nn.DenseGATConv` (``"gat"``) or
            :class:`~torch_geometric.nn.DenseGraphConv` (``"graph"``).
        dropout (float): Dropout after each hidden layer.
        heads (int): Attention heads for ``"gat"`` (``hidden`` must divide).

    :meth:`forward` takes dense inputs, as PyG's dense layers do: ``x``
    ``[N, F]`` or ``[B, N, F]``, ``adj`` ``[N, N]`` or ``[B, N, N]`` with
    ``adj[i, j] = 1`` for an edge ``j -> i``, and an optional node mask.
    With ``rows=k`` only the first ``k`` nodes' outputs are asked for
    (graphmeta's models read the ego, row 0), and the last layer is called
    on those rows of the adjacency alone, and on the first ``reach`` nodes
    (every node those rows read; default all): PyG's SAGE, GIN and
    GraphConv layers compute a node's output from its own row of the
    adjacency and the features of the nodes it reads, which is then the
    full output at those rows at a fraction of the cost. Whether a layer
    allows it is not assumed: :func:`graphmeta.models.batched.check_batched`
    compares it with the full forward once and falls back to that where it
    differs (GCN and GAT normalise over the whole adjacency).

    Example:
        >>> enc = GNNEncoder(10, 32, layers=2, conv="sage")
        >>> enc(torch.randn(5, 10), torch.ones(5, 5)).shape
        torch.Size([5, 32])
    """

    def __init__(self, in_channels: int, hidden: int = 64, layers: int = 2,
                 conv: str = "sage", dropout: float = 0.0, heads: int = 4) -> None:
        super().__init__()
        if conv not in CONVS:
            raise ValueError(f"conv must be one of {CONVS}, got {conv!r}")
        if layers < 1:
            raise ValueError(f"layers must be >= 1, got {layers}")
        if conv == "gat" and hidden % heads:
            raise ValueError(f"hidden={hidden} must be divisible by heads={heads}")
        self.in_channels, self.hidden, self.num_layers = in_channels, hidden, layers
        self.conv, self.dropout, self.heads = conv, dropout, heads
        self.out_channels = hidden
        self.convs = nn.ModuleList(dense_conv(conv, in_channels if i == 0 else hidden, hidden,
                                              heads) for i in range(layers))

    def __repr__(self) -> str:
        return (f"{self.__class__.__name__}({self.in_channels}, {self.hidden}, "
                f"layers={self.num_layers}, conv={self.conv!r}, dropout={self.dropout})")

    def forward(self, x: Tensor, adj: Tensor, mask: Optional[Tensor] = None,
                rows: Optional[int] = None, reach: Optional[int] = None) -> Tensor:
        """Node embeddings ``[N, hidden]`` (or ``[B, N, hidden]``); with
        ``rows``, those of the first ``rows`` nodes are the ones to read.
        Padded nodes (``mask``) are unconnected, so they never reach a real
        node's embedding; their own rows are zeroed at the end."""
        single = x.dim() == 2
        for i, conv in enumerate(self.convs):
            if i == self.num_layers - 1 and rows is not None:
                x = conv(x[..., :reach, :], adj[..., :rows, :reach])
            else:
                x = conv(x, adj)
            if i < self.num_layers - 1:
                x = F.relu(x)
                if self.dropout:
                    x = F.dropout(x, self.dropout, self.training)
        if mask is not None and rows is None:
            x = x * mask.unsqueeze(-1).to(x.dtype)
        return x.squeeze(0) if single else x


__all__ = ["CONVS", "GNNEncoder", "dense_conv"]
