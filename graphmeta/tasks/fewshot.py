"""Few-shot interest classification over ego-subgraphs (the G-Meta protocol).

An episode is an ``N``-way ``K``-shot task: ``N`` classes (interests, or
single node labels) drawn from one split of the classes, ``K`` support and
``Q`` query users per class, each user represented by its ego-subgraph (the
centre node's embedding is the example). The meta-train, meta-val and
meta-test class sets are disjoint, so a test episode asks about classes never
seen in training. A user with several interests counts for each, but within
an episode a user is drawn for class ``c`` only if ``c`` is its single class
among the episode's ``N``: no example carries two of the episode's labels.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np
import torch
from torch import Tensor
from torch_geometric.data import Data

from graphmeta.tasks.base import EgoTasks, SeededStream, split_ids
from graphmeta.tasks.batch import FewShotBatch, GraphBatch


@dataclass
class Episode:
    """One N-way K-shot task: users grouped by episode label ``0..N-1``."""
    classes: Tensor          # [N] class ids (columns of the membership matrix)
    support_users: Tensor    # [N*K]
    support_y: Tensor        # [N*K] in 0..N-1
    query_users: Tensor      # [N*Q]
    query_y: Tensor          # [N*Q]
    support_graphs: list[tuple[Tensor, Tensor]]
    query_graphs: list[tuple[Tensor, Tensor]]


def structural_features(data: Data, k: int = 16) -> Tensor:
    """Label-free node features for graphs without ``x``: standardised
    ``log(1 + degree)`` and the ``k`` Laplacian eigenvectors after the first
    (the positional encoding of PyG's ``AddLaplacianEigenvectorPE``).

    Computed here rather than with that transform because it leaves ARPACK's
    start vector and the eigenvector signs to chance, so two runs (training,
    then ``graphmeta evaluate`` of the checkpoint) would see different
    features. Here the start vector is fixed and each eigenvector's largest
    entry is made positive.
    """
    from scipy.sparse.linalg import eigsh
    from torch_geometric.utils import degree, get_laplacian, to_scipy_sparse_matrix
    n = data.num_nodes
    k = max(1, min(k, n - 2))
    ei, w = get_laplacian(data.edge_index, normalization="sym", num_nodes=n)
    lap = to_scipy_sparse_matrix(ei, w, n).tocsr()
    v0 = np.random.default_rng(0).uniform(0.5, 1.5, n)
    vals, vecs = eigsh(lap, k=k + 1, which="SA", v0=v0, tol=1e-8)
    vecs = vecs[:, np.argsort(vals)[1:k + 1]]
    big = np.abs(vecs).argmax(0)
    vecs = vecs * np.sign(vecs[big, np.arange(vecs.shape[1])])
    pe = torch.from_numpy(vecs * n ** 0.5)
    deg = torch.log1p(degree(data.edge_index[1], n).double())
    deg = (deg - deg.mean()) / deg.std().clamp_min(1e-6)
    return torch.cat([deg.unsqueeze(1), pe], 1).float()


class FewShotTasks(EgoTasks):
    r"""Samples N-way K-shot episodes of users from disjoint class splits.

    Args:
        data (Data): Graph with ``edge_index`` and ``interests`` (multi-hot
            ``[N, C]``) or ``y`` (single labels, ``-1`` for none).
        n_way (int or "auto"): Classes per episode; ``auto`` is 5, or fewer
            when a split has fewer classes.
        k_shot (int): Support users per class.
        n_query (int): Query users per class.
        hops, max_nodes: Ego-subgraph radius and cap.
        class_split (tuple): Fractions of eligible classes (those with at least
            ``k_shot + n_query`` users) for meta-train/val/test.
        seed (int): Seed of the class split.
        labels (str): ``"interests"``, ``"y"`` or ``"auto"`` (interests when
            the graph has them).
        node_features (str): ``"x"``, ``"structure"`` (see
            :func:`structural_features`), ``"x+structure"`` or ``"auto"``
            (``x`` when the graph has it, else ``structure``). Labels are
            never node features here: the query users' classes are the
            targets.
    """

    kind = "few-shot"
    FEATURES = {"x": "_x_features", "structure": "_structure_features"}
    DEFAULT_FEATURES = ("x", "structure")

    def __init__(self, data: Data, *, n_way: int | str = "auto", k_shot: int = 3,
                 n_query: int = 10, hops: int = 2, max_nodes: int = 64,
                 class_split: Sequence[float] = (0.6, 0.2, 0.2), seed: int = 0,
                 labels: str = "auto", node_features: str = "auto") -> None:
        if k_shot < 1 or n_query < 1:
            raise ValueError(f"k_shot and n_query must be >= 1, got {k_shot}, {n_query}")
        super().__init__(data, hops, max_nodes)
        self.member, self.class_names = self._membership(data, labels)
        self.k_shot, self.n_query = k_shot, n_query
        sizes = self.member.sum(0)
        eligible = (sizes >= k_shot + n_query).nonzero().view(-1)
        self.splits = split_ids(eligible, class_split, seed, what="class_split")
        smallest = min(len(v) for v in self.splits.values())
        if n_way == "auto":
            n_way = min(5, smallest)
        if not isinstance(n_way, int) or n_way < 2 or n_way > smallest:
            counts = ", ".join(f"{k} {len(v)}" for k, v in self.splits.items())
            raise ValueError(
                f"n_way={n_way}: every class split needs at least n_way >= 2 classes with "
                f">= k_shot + n_query = {k_shot + n_query} users; the splits have {counts} "
                f"(of {len(eligible)} eligible classes)")
        self.n_way = n_way
        self._member_np = self.member.numpy()
        self._members = [np.flatnonzero(self._member_np[:, c]) for c in range(self.member.size(1))]
        self._set_node_features(node_features)

    @staticmethod
    def _membership(data: Data, labels: str) -> tuple[Tensor, list[str]]:
        has_interests = getattr(data, "interests", None) is not None
        has_y = getattr(data, "y", None) is not None
        if labels == "auto":
            labels = "interests" if has_interests else "y"
        if labels == "interests":
            if not has_interests:
                raise ValueError("labels='interests' needs data.interests")
            names = getattr(data, "interest_names", None)
            member = data.interests.bool()
        elif labels == "y":
            if not has_y or data.y.dim() != 1:
                raise ValueError("labels='y' needs a single-label data.y of shape [N]")
            y = data.y.long()
            C = int(y.max()) + 1
            member = torch.zeros(data.num_nodes, C, dtype=torch.bool)
            has = y >= 0
            member[has.nonzero().view(-1), y[has]] = True
            names = getattr(data, "label_names", None)
        else:
            raise ValueError(f"labels must be auto, interests or y, got {labels!r}")
        names = list(names) if names is not None else [str(c) for c in range(member.size(1))]
        return member, names

    def _structure_features(self, dtype: torch.dtype | None) -> Tensor:
        return structural_features(self.data).to(dtype or torch.get_default_dtype())

    def _settings(self) -> dict[str, object]:
        return {"n_way": self.n_way, "k_shot": self.k_shot, "n_query": self.n_query,
                **super()._settings()}

    def episode(self, split: str, rng: np.random.Generator) -> Episode:
        """Draws one episode from the classes of ``split``."""
        pool = self.splits[split].numpy()
        K, Q, N = self.k_shot, self.n_query, self.n_way
        for _ in range(100):
            classes = rng.choice(pool, N, replace=False)
            picks = []
            for c in classes:
                users = self._members[c]
                # Users whose only class among this episode's is c.
                only = self._member_np[np.ix_(users, classes)].sum(1) == 1
                cand = users[only]
                if len(cand) < K + Q:
                    break
                picks.append(rng.choice(cand, K + Q, replace=False))
            else:
                break
        else:
            raise ValueError(f"split {split!r}: could not draw {N} classes with {K + Q} users "
                             f"each that belong to no other class of the episode")
        sup = np.concatenate([p[:K] for p in picks])
        qry = np.concatenate([p[K:] for p in picks])
        graphs = self.sampler.sample_many(np.concatenate([sup, qry]).tolist(), rng)
        return Episode(torch.from_numpy(classes), torch.from_numpy(sup),
                       torch.arange(N).repeat_interleave(K), torch.from_numpy(qry),
                       torch.arange(N).repeat_interleave(Q), graphs[:len(sup)], graphs[len(sup):])

    def episodes(self, split: str, n: int, seed: int) -> list[Episode]:
        """A fixed, seeded list of ``n`` episodes."""
        rng = np.random.default_rng(seed)
        return [self.episode(split, rng) for _ in range(n)]

    @property
    def item_features(self) -> tuple[str, ...]:
        return ()

    def collate(self, episodes: Sequence[Episode]) -> FewShotBatch:
        """Pads episodes into one :class:`FewShotBatch`."""
        return FewShotBatch(self.graph_batch([g for e in episodes for g in e.support_graphs]),
                            self.graph_batch([g for e in episodes for g in e.query_graphs]),
                            torch.stack([e.support_y for e in episodes]),
                            torch.stack([e.query_y for e in episodes]),
                            torch.stack([e.classes for e in episodes]), self.n_way)

    def batches(self, split: str, batch_size: int, seed: int,
                shard: tuple[int, int] = (0, 1)) -> SeededStream[FewShotBatch]:
        """Endless, resumable stream of meta-batches of fresh episodes from
        ``split`` (with ``shard = (rank, world)``, episodes ``rank, rank +
        world, ...`` of each global batch)."""
        rank, world = shard

        def make(child: int) -> FewShotBatch:
            rng = np.random.default_rng(child)
            return self.collate([self.episode(split, rng) for _ in range(batch_size)][rank::world])
        return SeededStream(make, seed)

    def pretrain_batches(self, batch_size: int, seed: int, shard: tuple[int, int] = (0, 1)
                         ) -> SeededStream[tuple[GraphBatch, Tensor]]:
        """Ego-subgraphs of meta-train users with their meta-train classes as
        multi-hot targets ``[B, C_train]`` (for classifier pre-training;
        ``shard`` as in :meth:`batches`)."""
        train = self.splits["train"]
        target = self.member[:, train]
        users = target.any(1).nonzero().view(-1).numpy()
        rank, world = shard

        def make(child: int) -> tuple[GraphBatch, Tensor]:
            rng = np.random.default_rng(child)
            picked = rng.choice(users, batch_size, replace=len(users) < batch_size)
            graphs = self.sampler.sample_many(picked.tolist(), rng)[rank::world]
            return self.graph_batch(graphs), target[picked[rank::world]]
        return SeededStream(make, seed)
