"""Models for N-way K-shot episodes: each example is one user's
ego-subgraph, embedded by the :class:`GNNEncoder` (centre node's output).

- :class:`FewShotClassifier`: the classic MLP head (``fc1 -> ReLU -> fc2``)
  with ``N`` logits, for MAML, first-order MAML, fine-tuning and scratch.
- :class:`PrototypeClassifier`: logits are negative squared distances to
  the class means of the support embeddings (Snell et al., 2017), for
  ProtoNet and, with an inner loop on this loss, G-Meta (Huang & Zitnik,
  2020).

Both score ``items`` (a :class:`~graphmeta.tasks.fewshot.GraphBatch` with
the same number of graphs per task) with per-task parameters, the interface
:class:`~graphmeta.meta.MAML` drives.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from graphmeta.models.batched import encode_egos, encode_graph, out_channels
from graphmeta.models.functional import sub_params
from graphmeta.models.model import MLPHead
from graphmeta.tasks.batch import FewShotBatch, GraphBatch


def _embed(encoder: nn.Module, p: dict[str, Tensor], graphs: GraphBatch, num_tasks: int
           ) -> Tensor:
    """Centre-node embeddings ``[T, G, d]`` of ``T * G`` graphs, with task
    ``t``'s encoder parameters for its ``G`` graphs."""
    enc = sub_params(p, "encoder.")
    per_task = graphs.x.size(0) // num_tasks
    return encode_egos(encoder, enc, graphs, per_task).view(num_tasks, per_task, -1)


class FewShotClassifier(nn.Module):
    """GNN encoder (any module, see :class:`~graphmeta.models.InterestModel`)
    + MLP head with ``n_way`` logits."""

    def __init__(self, encoder: nn.Module, n_way: int, head_hidden: int = 64,
                 encoder_dim: int | None = None) -> None:
        super().__init__()
        self.encoder = encoder
        self.head = MLPHead(out_channels(encoder, encoder_dim), head_hidden, n_way)

    def forward(self, x: Tensor, edge_index: Tensor) -> Tensor:
        """Logits ``[n_way]`` of one ego-subgraph (``x`` ``[n, F]``, local ``edge_index``)."""
        return self.head(encode_graph(self.encoder, None, x, edge_index)[0])

    def graph_logits(self, p: dict[str, Tensor], graphs: GraphBatch, num_tasks: int) -> Tensor:
        """Logits ``[T, G, n_way]`` of ``T * G`` graphs, ``G`` per task."""
        return MLPHead.batched(p, _embed(self.encoder, p, graphs, num_tasks), prefix="head.")

    def features(self, p: dict[str, Tensor], batch: FewShotBatch, items: GraphBatch) -> Tensor:
        """What the head reads: the centre-node embeddings ``[T, G, d]`` of ``items``."""
        return _embed(self.encoder, p, items, batch.num_tasks)

    def head_logits(self, p: dict[str, Tensor], z: Tensor, batch: FewShotBatch,
                    items: GraphBatch) -> Tensor:
        """Logits ``[T, G, n_way]`` from :meth:`features` ``z``."""
        return MLPHead.batched(p, z, prefix="head.")

    def batched_logits(self, p: dict[str, Tensor], batch: FewShotBatch, items: GraphBatch
                       ) -> Tensor:
        """Logits ``[T, G, n_way]`` of the ``G`` graphs per task in ``items``."""
        return self.graph_logits(p, items, batch.num_tasks)


class PrototypeClassifier(nn.Module):
    """GNN encoder; logits compare each embedding ``z`` with the support class
    means ``c_k``: ``-||z - c_k||^2`` (``metric="euclidean"``, ProtoNet), or
    ``tau * cos(z, c_k)`` with a learned temperature ``tau`` (``"cosine"``,
    Meta-Baseline, Chen et al., 2021)."""

    def __init__(self, encoder: nn.Module, metric: str = "euclidean") -> None:
        super().__init__()
        if metric not in ("euclidean", "cosine"):
            raise ValueError(f"metric must be 'euclidean' or 'cosine', got {metric!r}")
        self.encoder, self.metric = encoder, metric
        if metric == "cosine":
            self.temperature = nn.Parameter(torch.tensor(10.0))

    def batched_logits(self, p: dict[str, Tensor], batch: FewShotBatch, items: GraphBatch
                       ) -> Tensor:
        """Logits ``[T, G, N]``; the prototypes come from ``batch.support``
        under the same per-task parameters ``p``."""
        T = batch.num_tasks
        zs = _embed(self.encoder, p, batch.support, T)                        # [T, NK, d]
        onehot = F.one_hot(batch.support_y, batch.n_way).to(zs.dtype)        # [T, NK, N]
        protos = onehot.transpose(1, 2).bmm(zs) / onehot.sum(1).unsqueeze(-1)  # [T, N, d]
        z = zs if items is batch.support else _embed(self.encoder, p, items, T)
        if self.metric == "cosine":
            cos = F.normalize(z, dim=-1).bmm(F.normalize(protos, dim=-1).transpose(1, 2))
            return p["temperature"].view(-1, 1, 1) * cos
        # Written out rather than torch.cdist, whose double backward the
        # second-order meta-gradient would need.
        return -(z.unsqueeze(2) - protos.unsqueeze(1)).pow(2).sum(-1)


__all__ = ["FewShotClassifier", "PrototypeClassifier"]
