"""GNN encoders built from PyG convolutions.

:class:`GNNEncoder` owns real PyG layers (:class:`~torch_geometric.nn.GCNConv`,
:class:`~torch_geometric.nn.SAGEConv`, :class:`~torch_geometric.nn.GINConv`,
:class:`~torch_geometric.nn.GATConv`). Its :meth:`forward` runs them by
message passing on one graph; :meth:`batched` applies the same parameters,
given per task, to a padded dense meta-batch. Tests check that the two agree
(values and meta-gradients), so the dense path is PyG's maths, batched.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch_geometric.nn import GATConv, GCNConv, GINConv, SAGEConv

from graphmeta.models.functional import blinear
from graphmeta.tasks.batch import GraphBatch

CONVS = ("gcn", "sage", "gin", "gat")


class GNNEncoder(nn.Module):
    r"""Stack of PyG convolutions; the ego embedding is node 0's output.

    Args:
        in_channels (int): Node feature size.
        hidden (int): Width of every layer (and of the embedding).
        layers (int): Number of convolutions.
        conv (str): One of ``"gcn"``, ``"sage"``, ``"gin"``, ``"gat"``.
        dropout (float): Dropout after each hidden layer.
        heads (int): Attention heads for ``"gat"`` (``hidden`` must divide).

    Example:
        >>> enc = GNNEncoder(10, 32, layers=2, conv="gcn")
        >>> enc(torch.randn(5, 10), torch.tensor([[0, 1], [1, 0]])).shape
        torch.Size([5, 32])
    """

    def __init__(self, in_channels: int, hidden: int = 64, layers: int = 2,
                 conv: str = "gcn", dropout: float = 0.0, heads: int = 4) -> None:
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
        self.convs = nn.ModuleList()
        for i in range(layers):
            d_in = in_channels if i == 0 else hidden
            if conv == "gcn":
                layer = GCNConv(d_in, hidden)
            elif conv == "sage":
                layer = SAGEConv(d_in, hidden)
            elif conv == "gin":
                layer = GINConv(nn.Sequential(nn.Linear(d_in, hidden), nn.ReLU(),
                                              nn.Linear(hidden, hidden)))
            else:
                layer = GATConv(d_in, hidden // heads, heads=heads)
            self.convs.append(layer)

    def __repr__(self) -> str:
        return (f"{self.__class__.__name__}({self.in_channels}, {self.hidden}, "
                f"layers={self.num_layers}, conv={self.conv!r}, dropout={self.dropout})")

    def forward(self, x: Tensor, edge_index: Tensor) -> Tensor:
        """Message passing on one graph: ``[n, in] -> [n, hidden]``."""
        for i, conv in enumerate(self.convs):
            x = conv(x, edge_index)
            if i < self.num_layers - 1:
                x = F.dropout(F.relu(x), self.dropout, self.training)
        return x

    def batched(self, params: dict[str, Tensor], graphs: GraphBatch,
                graphs_per_task: int = 1) -> Tensor:
        r"""Ego embeddings ``[T * G, hidden]`` of a padded batch of graphs.

        ``params`` maps this module's parameter names (``convs.0.lin.weight``
        ...) to tensors with a leading task dimension ``T``; the batch holds
        ``G = graphs_per_task`` consecutive graphs per task (1 for
        user-interest tasks, ``N * K`` support graphs for few-shot ones).
        Weight matrices stay per task (:func:`blinear` shares them across a
        task's graphs); the small bias and attention vectors are repeated per
        graph. The last layer is evaluated for the ego row only: aggregation
        is linear, so :math:`(\hat A X)_0 W` costs one row instead of ``N``.
        """
        x = graphs.x
        if graphs_per_task > 1:
            params = {k: v if k.endswith("weight") and v.dim() == 3
                      else v.repeat_interleave(graphs_per_task, 0) for k, v in params.items()}
        for i in range(self.num_layers):
            last = i == self.num_layers - 1
            x = self._layer(i, params, graphs, x, ego_only=last)
            if not last:
                x = F.dropout(F.relu(x), self.dropout, self.training)
        return x[:, 0]

    def _layer(self, i: int, p: dict[str, Tensor], batch: GraphBatch, x: Tensor,
               ego_only: bool) -> Tensor:
        pre = f"convs.{i}."
        rows = slice(0, 1) if ego_only else slice(None)
        if self.conv == "gcn":
            a = batch.normalized_adj("gcn")[:, rows]
            if ego_only:  # aggregate one row first, then transform
                return blinear(a.bmm(x), p[pre + "lin.weight"], p[pre + "bias"])
            return a.bmm(blinear(x, p[pre + "lin.weight"])) + p[pre + "bias"].unsqueeze(1)
        if self.conv == "sage":
            agg = batch.normalized_adj("mean")[:, rows].bmm(x)
            return (blinear(agg, p[pre + "lin_l.weight"], p[pre + "lin_l.bias"])
                    + blinear(x[:, rows], p[pre + "lin_r.weight"]))
        if self.conv == "gin":
            eps = self.convs[i].eps
            h = (1 + eps) * x[:, rows] + batch.adj[:, rows].bmm(x)
            h = F.relu(blinear(h, p[pre + "nn.0.weight"], p[pre + "nn.0.bias"]))
            return blinear(h, p[pre + "nn.2.weight"], p[pre + "nn.2.bias"])
        # GAT: dense masked attention over A + I, as GATConv with self loops.
        T, N, _ = x.shape
        H = self.heads
        C = self.hidden // H
        xs = blinear(x, p[pre + "lin.weight"]).view(T, N, H, C)
        a_src = (xs * p[pre + "att_src"]).sum(-1)               # [T, N, H]
        a_dst = (xs[:, rows] * p[pre + "att_dst"]).sum(-1)      # [T, n, H]
        e = F.leaky_relu(a_dst.unsqueeze(2) + a_src.unsqueeze(1),
                         self.convs[i].negative_slope)          # [T, n, N, H]
        mask = batch.normalized_adj("self")[:, rows].unsqueeze(-1)
        alpha = e.masked_fill(~mask, float("-inf")).softmax(dim=2)
        out = torch.einsum("tijh,tjhc->tihc", alpha, xs).reshape(T, -1, H * C)
        return out + p[pre + "bias"].unsqueeze(1)
