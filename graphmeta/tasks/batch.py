"""The batch types that tasks produce and models and meta-learners consume.

- :class:`GraphBatch`: padded dense ego-subgraphs (``x [B, N, F]``,
  ``adj [B, N, N]``), shared by both task kinds; what the encoders read.
- :class:`TaskBatch`: ``T`` user-interest tasks (one ego graph each, plus
  support and query interests).
- :class:`FewShotBatch`: ``T`` N-way K-shot episodes (support and query
  graphs).
Both satisfy :class:`graphmeta.meta.MetaBatch`, the protocol the
meta-learning core relies on.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, Optional, Sequence, TypeVar

import torch
from torch import Tensor
from torch_geometric.data import Data
from torch_geometric.utils import to_dense_adj, to_dense_batch

B = TypeVar("B", bound="Movable")


class Movable:
    """``to(device, dtype)`` for a dataclass of tensors: every tensor field
    (and list of tensors, and nested :class:`Movable`) is moved, floating
    point ones cast to ``dtype`` if given; caches (fields starting with
    ``_``) start empty."""

    def to(self: B, device: torch.device | str, dtype: Optional[torch.dtype] = None) -> B:
        def mv(v: Any) -> Any:
            if isinstance(v, Tensor):
                v = v.to(device, non_blocking=True)
                return v.to(dtype) if dtype is not None and v.is_floating_point() else v
            if isinstance(v, Movable):
                return v.to(device, dtype)
            if isinstance(v, list):
                return [mv(e) for e in v]
            return v
        kw = {f.name: mv(getattr(self, f.name))
              for f in dataclasses.fields(self) if not f.name.startswith("_")}  # type: ignore[arg-type]
        return type(self)(**kw)


@dataclass
class GraphBatch(Movable):
    r"""``B`` ego-subgraphs as padded dense tensors, ego at index 0.

    Attributes:
        x: ``[B, N, F]`` node features, zero padding.
        adj: ``[B, N, N]`` adjacency, ``adj[b, i, j] = 1`` for an edge
            ``j -> i`` (rows are targets, as in message passing).
        node_mask: ``[B, N]`` real nodes.
        node_ids: ``[B, N]`` global node ids, ``-1`` for padding.
        edge_indices: each graph's ``edge_index`` (local ids), for
            message-passing reference code.
    """
    x: Tensor
    adj: Tensor
    node_mask: Tensor
    node_ids: Tensor
    edge_indices: list[Tensor] = field(default_factory=list)
    _cache: dict = field(default_factory=dict, repr=False)

    @classmethod
    def from_subgraphs(cls, parts: Sequence[tuple[Tensor, Tensor]], node_x: Tensor
                       ) -> "GraphBatch":
        """Pads sampled ``(nodes, edge_index)`` subgraphs (global node ids,
        local edges). PyG's :func:`to_dense_batch` / :func:`to_dense_adj` do
        the work, fed directly (``Batch.from_data_list`` costs more than the
        rest together)."""
        nodes = [n for n, _ in parts]
        edge_indices = [e for _, e in parts]
        n_graphs = len(nodes)
        sizes = torch.tensor([len(n) for n in nodes])
        offsets = torch.cumsum(sizes, 0) - sizes
        batch_vec = torch.repeat_interleave(torch.arange(n_graphs), sizes)
        flat = torch.cat(nodes)
        x, node_mask = to_dense_batch(node_x[flat], batch_vec, batch_size=n_graphs)
        node_ids, _ = to_dense_batch(flat, batch_vec, fill_value=-1, batch_size=n_graphs)
        edges = torch.cat([e + o for e, o in zip(edge_indices, offsets.tolist())], 1)
        # to_dense_adj puts edge (src, dst) at [src, dst]; rows must be targets.
        adj = to_dense_adj(edges, batch_vec, max_num_nodes=x.size(1),
                           batch_size=n_graphs).transpose(1, 2).contiguous()
        return cls(x, adj.to(x.dtype), node_mask, node_ids, edge_indices)

    @property
    def num_graphs(self) -> int:
        return self.x.size(0)

    @property
    def data_list(self) -> list[Data]:
        """The same graphs as PyG :class:`Data` (``x``, ``edge_index``)."""
        if "data_list" not in self._cache:
            n = self.node_mask.sum(1).tolist()
            self._cache["data_list"] = [Data(x=self.x[b, :k], edge_index=ei)
                                        for b, (k, ei) in enumerate(zip(n, self.edge_indices))]
        return self._cache["data_list"]


@dataclass
class TaskBatch(Movable):
    r"""A meta-batch of ``T`` user-interest tasks.

    Attributes:
        graphs: the ``T`` ego-subgraphs (:class:`GraphBatch`).
        support_items, support_y: ``[T, S]``.
        query_items, query_y, query_mask: ``[T, Q]`` (the mask marks real
            query entries when users have fewer held-out interests).
        users: ``[T]`` user ids.
        item_context: ``[T, C, F]`` per-task features of every interest
            (:class:`graphmeta.features.ContextFeatures`), when the task
            sampler's transform adds them.
        disjoint: no task's query items include its support items (true of
            every batch graphmeta's sampler makes); lets a model skip
            looking for them.
    """
    graphs: GraphBatch
    support_items: Tensor
    support_y: Tensor
    query_items: Tensor
    query_y: Tensor
    query_mask: Tensor
    users: Tensor
    item_context: Optional[Tensor] = None
    disjoint: bool = False

    @property
    def num_tasks(self) -> int:
        return self.support_y.size(0)


@dataclass
class FewShotBatch(Movable):
    r"""``T`` episodes. ``support`` holds the ``T * N * K`` support
    ego-subgraphs task by task, ``query`` the ``T * N * Q`` query ones; they
    are also the ``support_items`` / ``query_items`` the model scores."""
    support: GraphBatch
    query: GraphBatch
    support_y: Tensor        # [T, N*K]
    query_y: Tensor          # [T, N*Q]
    classes: Tensor          # [T, N]
    n_way: int

    @property
    def num_tasks(self) -> int:
        return self.support_y.size(0)

    @property
    def support_items(self) -> GraphBatch:
        return self.support

    @property
    def query_items(self) -> GraphBatch:
        return self.query

    @property
    def query_mask(self) -> Tensor:
        return torch.ones_like(self.query_y, dtype=torch.bool)


def pad(seqs: Sequence[Tensor], value: int = 0) -> tuple[Tensor, Tensor]:
    """Right-pads 1-d tensors into ``[B, L]`` and returns the validity mask."""
    out = torch.nn.utils.rnn.pad_sequence(list(seqs), batch_first=True, padding_value=value)
    lens = torch.tensor([len(s) for s in seqs])
    mask = torch.arange(out.size(1))[None, :] < lens[:, None]
    return out, mask


def to_device(obj: Any, device: torch.device | str) -> Any:
    """``obj`` on ``device``: a batch, a tensor, or a tuple/list of them."""
    if isinstance(obj, (tuple, list)):
        return type(obj)(to_device(o, device) for o in obj)
    return obj.to(device)


__all__ = ["FewShotBatch", "GraphBatch", "Movable", "TaskBatch", "pad",
           "to_device"]
