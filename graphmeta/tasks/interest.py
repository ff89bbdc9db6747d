"""User-interest tasks: one task is one user.

A task holds the user's ego-subgraph (ego at position 0) and a support and a
query set of the user's interests: ``k_shot`` positives and ``k_shot``
negatives to adapt on, and held-out positives and negatives to score. The
ego's own interests never reach the model: node features come from
``data.x`` and the labels only from the support set.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterator, Optional, Sequence

import numpy as np
import torch
from torch import Tensor
from torch_geometric.data import Data
from torch_geometric.utils import to_dense_adj, to_dense_batch

from graphmeta.tasks.sampler import EgoSampler


@dataclass
class Task:
    """One user's task: ego-subgraph plus support/query interests."""
    user: int
    nodes: Tensor            # [n] global ids, ego first
    edge_index: Tensor       # [2, e] local ids
    support_items: Tensor    # [S]
    support_y: Tensor        # [S] int64
    query_items: Tensor      # [Q]
    query_y: Tensor          # [Q] int64


class DenseGraphs:
    """What a padded batch of ego-subgraphs offers the encoders: cached
    propagation matrices and the same graphs as PyG ``Data``. Needs ``x``,
    ``adj``, ``node_mask``, ``edge_indices`` and ``_cache`` fields."""

    @property
    def graphs(self) -> list[Data]:
        if "graphs" not in self._cache:
            n = self.node_mask.sum(1).tolist()
            self._cache["graphs"] = [Data(x=self.x[t, :k], edge_index=ei)
                                     for t, (k, ei) in enumerate(zip(n, self.edge_indices))]
        return self._cache["graphs"]

    def normalized_adj(self, kind: str) -> Tensor:
        r"""Propagation matrices, computed once per batch.

        ``"gcn"``: :math:`D^{-1/2}(A + I)D^{-1/2}` (as PyG's ``gcn_norm``);
        ``"mean"``: :math:`D^{-1}A` with isolated rows left at zero (as PyG's
        mean aggregation); ``"self"``: :math:`A + I` as a 0/1 mask.
        """
        if kind not in self._cache:
            eye = torch.eye(self.adj.size(-1), dtype=self.adj.dtype,
                            device=self.adj.device)
            if kind == "gcn":
                a = self.adj + eye
                d = a.sum(-1).pow(-0.5)
                out = d.unsqueeze(-1) * a * d.unsqueeze(-2)
            elif kind == "mean":
                out = self.adj / self.adj.sum(-1, keepdim=True).clamp_min(1)
            elif kind == "self":
                out = (self.adj + eye) > 0
            else:
                raise KeyError(f"unknown adjacency kind {kind!r}")
            self._cache[kind] = out
        return self._cache[kind]


@dataclass
class TaskBatch(DenseGraphs):
    r"""A meta-batch of ``T`` tasks as padded dense tensors.

    Attributes:
        x: ``[T, N, F]`` node features, ego at index 0, zero padding.
        adj: ``[T, N, N]`` adjacency, ``adj[t, i, j] = 1`` for an edge
            ``j -> i`` (rows are targets, as in message passing).
        node_mask: ``[T, N]`` real nodes.
        support_items, support_y: ``[T, S]``.
        query_items, query_y, query_mask: ``[T, Q]`` (the mask marks real
            query entries when users have fewer held-out interests).
        users: ``[T]`` user ids.
        node_ids: ``[T, N]`` global node ids, ``-1`` for padding.
        edge_indices: each task's ``edge_index`` (local ids).
        graphs: the same subgraphs as PyG :class:`Data` (``x``,
            ``edge_index``) for message-passing reference code, built on
            first use.
    """
    x: Tensor
    adj: Tensor
    node_mask: Tensor
    support_items: Tensor
    support_y: Tensor
    query_items: Tensor
    query_y: Tensor
    query_mask: Tensor
    users: Tensor
    node_ids: Tensor
    edge_indices: list[Tensor] = field(default_factory=list)
    _cache: dict = field(default_factory=dict, repr=False)

    @property
    def num_tasks(self) -> int:
        return self.x.size(0)

    def to(self, device: torch.device | str, dtype: Optional[torch.dtype] = None
           ) -> "TaskBatch":
        """Moves the batch (the per-task ``edge_indices`` too, so reference
        code can run on the same device)."""
        def mv(t: Tensor) -> Tensor:
            t = t.to(device, non_blocking=True)
            return t.to(dtype) if dtype is not None and t.is_floating_point() else t
        return TaskBatch(mv(self.x), mv(self.adj), mv(self.node_mask),
                         mv(self.support_items), mv(self.support_y),
                         mv(self.query_items), mv(self.query_y),
                         mv(self.query_mask), mv(self.users), mv(self.node_ids),
                         [mv(e) for e in self.edge_indices])


def split_users(users: Sequence[int] | Tensor, fractions: Sequence[float],
                seed: int) -> dict[str, Tensor]:
    """Disjoint random ``train``/``val``/``test`` user splits."""
    if len(fractions) != 3 or any(f < 0 for f in fractions) or sum(fractions) > 1 + 1e-9:
        raise ValueError(f"split fractions must be three non-negative numbers "
                         f"summing to at most 1, got {list(fractions)}")
    users = torch.as_tensor(users, dtype=torch.long)
    perm = users[torch.randperm(len(users), generator=torch.Generator().manual_seed(seed))]
    n_train = int(round(fractions[0] * len(users)))
    n_val = int(round(fractions[1] * len(users)))
    n_test = int(round(fractions[2] * len(users)))
    return {"train": perm[:n_train].sort().values,
            "val": perm[n_train:n_train + n_val].sort().values,
            "test": perm[n_train + n_val:n_train + n_val + n_test].sort().values}


NEGATIVES = ("uniform", "popularity")
NODE_FEATURES = ("auto", "x", "interests", "x+interests")


class UserInterestTasks:
    r"""Samples per-user interest-prediction tasks from a social graph.

    Args:
        data (Data): Graph with ``edge_index`` and multi-hot ``interests``
            ``[N, C]``; ``x`` is optional.
        k_shot (int): Positives (and as many negatives) in the support set.
        n_query (int): At most this many held-out positives (and negatives)
            in the query set.
        hops (int): Ego-subgraph radius.
        max_nodes (int): Ego-subgraph cap, ego included.
        split (tuple): Fractions of eligible users for train/val/test.
        seed (int): Seed of the user split.
        negatives (str): ``"uniform"`` draws negatives uniformly from the
            interests the user lacks; ``"popularity"`` draws them in
            proportion to their frequency among meta-train users, so that
            popular-but-not-liked interests are the hard cases.
        node_features (str): ``"x"`` uses ``data.x``; ``"interests"`` uses
            the multi-hot interests of *known* users (everyone outside the
            meta-val and meta-test splits; those users are cold-start and get
            zero rows); ``"x+interests"`` concatenates both; ``"auto"`` is
            ``"x"`` when ``data.x`` exists, else ``"interests"``. Whenever
            interests are features, the ego's row holds its support
            positives only, so its query labels never reach the model.
    """

    def __init__(self, data: Data, *, k_shot: int = 5, n_query: int = 10,
                 hops: int = 2, max_nodes: int = 64,
                 split: Sequence[float] = (0.7, 0.1, 0.2), seed: int = 0,
                 negatives: str = "uniform", node_features: str = "auto") -> None:
        for key in ("edge_index", "interests"):
            if getattr(data, key, None) is None:
                raise ValueError(f"UserInterestTasks needs data.{key}")
        if k_shot < 1 or n_query < 1:
            raise ValueError(f"k_shot and n_query must be >= 1, got {k_shot}, {n_query}")
        if negatives not in NEGATIVES:
            raise ValueError(f"negatives must be one of {NEGATIVES}, got {negatives!r}")
        if node_features not in NODE_FEATURES:
            raise ValueError(f"node_features must be one of {NODE_FEATURES}, got {node_features!r}")
        self.data = data
        self.k_shot, self.n_query = k_shot, n_query
        self.hops, self.max_nodes = hops, max_nodes
        self.negatives = negatives
        self.interests = data.interests.bool()
        self.num_interests = self.interests.size(1)
        self.sampler = EgoSampler(data.edge_index, data.num_nodes, hops, max_nodes)
        n_pos = self.interests.sum(1)
        n_neg = self.num_interests - n_pos
        eligible = ((n_pos > k_shot) & (n_neg > k_shot)).nonzero().view(-1)
        if len(eligible) == 0:
            raise ValueError(f"no user has more than k_shot={k_shot} positive "
                             f"and negative interests")
        self.eligible = eligible
        self.splits = split_users(eligible, split, seed)
        # Cold-start: meta-val/test users' interests are unknown to training.
        self.known = torch.ones(data.num_nodes, dtype=torch.bool)
        self.known[torch.cat([self.splits["val"], self.splits["test"]])] = False
        self.popularity = self.interests[self.splits["train"]].double().mean(0)
        self._set_node_features(node_features)

    def _set_node_features(self, mode: str) -> None:
        x = getattr(self.data, "x", None)
        if mode == "auto":
            mode = "x" if x is not None else "interests"
        if "x" in mode.split("+") and x is None:
            raise ValueError(f"node_features={mode!r} needs data.x, which this graph lacks")
        parts, self._interest_offset = [], None
        dtype = x.dtype if x is not None else torch.get_default_dtype()
        if mode in ("x", "x+interests"):
            parts.append(x)
        if mode in ("interests", "x+interests"):
            self._interest_offset = sum(p.size(1) for p in parts)
            parts.append(self.interests.to(dtype) * self.known.unsqueeze(1))
        self.node_features = mode
        self.node_x = torch.cat(parts, 1) if len(parts) > 1 else parts[0]

    def __repr__(self) -> str:
        sizes = {k: len(v) for k, v in self.splits.items()}
        return (f"{self.__class__.__name__}(users={sizes}, k_shot={self.k_shot}, "
                f"n_query={self.n_query}, hops={self.hops}, max_nodes={self.max_nodes}, "
                f"negatives={self.negatives!r}, node_features={self.node_features!r})")

    def task(self, user: int, rng: np.random.Generator) -> Task:
        """Draws the task of ``user`` (ego-subgraph and support/query split)."""
        nodes, edge_index = self.sampler.sample(user, rng)
        return self._split(user, nodes, edge_index, rng)

    def _split(self, user: int, nodes: Tensor, edge_index: Tensor,
               rng: np.random.Generator) -> Task:
        row = self.interests[user].numpy()
        k, q = self.k_shot, self.n_query
        pos = rng.permutation(np.flatnonzero(row))
        neg = np.flatnonzero(~row)
        if self.negatives == "popularity":
            w = self.popularity.numpy()[neg] + 1e-12
            neg = rng.choice(neg, min(k + q, len(neg)), replace=False, p=w / w.sum())
        else:
            neg = rng.permutation(neg)
        s_items = np.concatenate([pos[:k], neg[:k]])
        s_y = np.repeat([1, 0], k)
        q_pos, q_neg = pos[k:k + q], neg[k:k + q]
        q_items = np.concatenate([q_pos, q_neg])
        q_y = np.concatenate([np.ones(len(q_pos), np.int64), np.zeros(len(q_neg), np.int64)])
        return Task(user, nodes, edge_index, torch.from_numpy(s_items),
                    torch.from_numpy(s_y), torch.from_numpy(q_items),
                    torch.from_numpy(q_y))

    def tasks(self, users: Sequence[int] | Tensor, seed: int) -> list[Task]:
        """One task per entry of ``users``, reproducible from ``seed``. The
        ego-subgraphs of all users are sampled in one batched pass."""
        users = torch.as_tensor(users).tolist()
        *seqs, graph_seq = np.random.SeedSequence(seed).spawn(len(users) + 1)
        graphs = self.sampler.sample_many(users, np.random.default_rng(graph_seq))
        return [self._split(u, n, e, np.random.default_rng(s))
                for u, (n, e), s in zip(users, graphs, seqs)]

    def fixed_tasks(self, split: str, n_tasks: int, seed: int) -> list[Task]:
        """A fixed, seeded task set: every user of ``split`` in turn (with a
        fresh support/query draw each round) until ``n_tasks`` are drawn."""
        users = self.splits[split]
        if len(users) == 0:
            raise ValueError(f"split {split!r} has no users")
        perm = users[torch.randperm(len(users), generator=torch.Generator().manual_seed(seed))]
        picked = perm.repeat((n_tasks + len(users) - 1) // len(users))[:n_tasks]
        return self.tasks(picked, seed)

    def batches(self, split: str, batch_size: int, seed: int) -> Iterator[TaskBatch]:
        """Endless stream of meta-batches of random users from ``split``."""
        users = self.splits[split]
        rng = np.random.default_rng(seed)
        while True:
            picked = users[torch.from_numpy(rng.integers(0, len(users), batch_size))]
            yield self.collate(self.tasks(picked, int(rng.integers(2**63 - 1))))

    def collate(self, tasks: Sequence[Task]) -> TaskBatch:
        batch = collate_tasks(tasks, self.node_x)
        if self._interest_offset is not None:
            # The ego's interest features: its support positives, nothing else.
            off, C = self._interest_offset, self.num_interests
            batch.x[:, 0, off:off + C] = 0
            for t, task in enumerate(tasks):
                batch.x[t, 0, off + task.support_items[task.support_y == 1]] = 1
        return batch


def _pad(seqs: Sequence[Tensor], value: int = 0) -> tuple[Tensor, Tensor]:
    out = torch.nn.utils.rnn.pad_sequence(list(seqs), batch_first=True, padding_value=value)
    lens = torch.tensor([len(s) for s in seqs])
    mask = torch.arange(out.size(1))[None, :] < lens[:, None]
    return out, mask


def dense_graphs(nodes: Sequence[Tensor], edge_indices: Sequence[Tensor], node_x: Tensor
                 ) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """Pads subgraphs (global ``nodes`` per graph, local ``edge_indices``) into
    dense ``x [B, N, F]``, ``adj [B, N, N]`` (rows are targets), ``node_mask``
    and ``node_ids`` (``-1`` for padding). PyG's :func:`to_dense_batch` /
    :func:`to_dense_adj` do the work, fed directly (``Batch.from_data_list``
    costs more than the rest together)."""
    B = len(nodes)
    sizes = torch.tensor([len(n) for n in nodes])
    offsets = torch.cumsum(sizes, 0) - sizes
    batch_vec = torch.repeat_interleave(torch.arange(B), sizes)
    flat = torch.cat(list(nodes))
    x, node_mask = to_dense_batch(node_x[flat], batch_vec, batch_size=B)
    node_ids, _ = to_dense_batch(flat, batch_vec, fill_value=-1, batch_size=B)
    edges = torch.cat([e + o for e, o in zip(edge_indices, offsets.tolist())], 1)
    # to_dense_adj puts edge (src, dst) at [src, dst]; rows must be targets.
    adj = to_dense_adj(edges, batch_vec, max_num_nodes=x.size(1),
                       batch_size=B).transpose(1, 2).contiguous()
    return x, adj.to(x.dtype), node_mask, node_ids


def collate_tasks(tasks: Sequence[Task], node_x: Tensor) -> TaskBatch:
    """Pads a list of tasks into one :class:`TaskBatch`."""
    x, adj, node_mask, node_ids = dense_graphs([t.nodes for t in tasks],
                                               [t.edge_index for t in tasks], node_x)
    s_items = torch.stack([t.support_items for t in tasks])
    s_y = torch.stack([t.support_y for t in tasks])
    q_items, q_mask = _pad([t.query_items for t in tasks])
    q_y, _ = _pad([t.query_y for t in tasks])
    users = torch.tensor([t.user for t in tasks])
    return TaskBatch(x, adj, node_mask, s_items, s_y, q_items, q_y,
                     q_mask, users, node_ids, edge_indices=[t.edge_index for t in tasks])
