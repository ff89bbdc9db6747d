"""User-interest tasks: one task is one user.

A task holds the user's ego-subgraph (ego at position 0) and a support and a
query set of the user's interests: ``k_shot`` positives and ``k_shot``
negatives to adapt on, and held-out positives and negatives to score. The
ego's own interests never reach the model: node features come from
``data.x`` or from known users' interests (the ego's row: its support
positives only), and the labels only from the support set.

This module draws tasks and collates them; per-candidate context features
are a transform (:class:`graphmeta.features.ContextFeatures`), and which
fixed tasks are scored, how, is the evaluator's
(:class:`graphmeta.eval.Evaluator`).
"""
from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Callable, Optional, Sequence

import numpy as np
import torch
from torch import Tensor
from torch_geometric.data import Data

from graphmeta.tasks.base import BatchTransform, EgoTasks, SeededStream, check_table, split_ids
from graphmeta.tasks.batch import TaskBatch, pad
from graphmeta.tasks.stats import svd_features


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


NEGATIVES = ("uniform", "popularity")
# Components of the ``interests-svd`` node features, and the catalogue size
# above which ``node_features="auto"`` (on a graph without x) uses them: a
# first layer over thousands of multi-hot columns costs more than the rest
# of a meta-step (docs/SCALING.md).
SVD_DIM = 64
SVD_FROM = 1_000


# Above this many negatives per user, uniform negatives are drawn without
# shuffling them all (the same distribution; another random stream).
UNIFORM_SHUFFLE = 100_000


class UserInterestTasks(EgoTasks):
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
            proportion to their frequency among known users, so that
            popular-but-not-liked interests are the hard cases. This is how
            training tasks and the support sets of evaluation tasks are drawn.
        node_features (str): ``"x"`` uses ``data.x``; ``"interests"`` uses
            the multi-hot interests of *known* users (everyone outside the
            meta-val and meta-test splits; those users are cold-start and get
            zero rows); ``"interests-svd"`` their projection on the top
            :data:`SVD_DIM` right singular vectors of that known-interest
            matrix (scikit-learn's ``TruncatedSVD`` on a sparse matrix: a
            feature size independent of the catalogue); ``"x+interests"``
            (``"x+interests-svd"``) concatenates both; ``"auto"`` is ``"x"``
            when ``data.x`` exists, else ``"interests"``. Whenever
            interests are features, the ego's row holds (the projection of)
            its support positives only, so its query labels never reach the
            model. ``"auto"`` above :data:`SVD_FROM` interests is
            ``"interests-svd"``.
        transform (BatchTransform): Applied to every collated batch, e.g.
            :class:`graphmeta.features.ContextFeatures` (per-candidate
            statistics for the head); attached to these tasks first.
    """
    kind = "user-interest"
    FEATURES = {"x": "_x_features", "interests": "_interest_features",
                "interests-svd": "_interest_svd_features"}
    DEFAULT_FEATURES = ("x", "interests")

    def __init__(self, data: Data, *, k_shot: int = 5, n_query: int = 10,
                 hops: int = 2, max_nodes: int = 64,
                 split: Sequence[float] = (0.7, 0.1, 0.2), seed: int = 0,
                 negatives: str = "uniform", node_features: str = "auto",
                 transform: Optional[BatchTransform] = None) -> None:
        for key in ("edge_index", "interests"):
            if getattr(data, key, None) is None:
                raise ValueError(f"UserInterestTasks needs data.{key}")
        check_table(data, "interests")
        if k_shot < 1 or n_query < 1:
            raise ValueError(f"k_shot and n_query must be >= 1, got {k_shot}, {n_query}")
        if negatives not in NEGATIVES:
            raise ValueError(f"negatives must be one of {NEGATIVES}, got {negatives!r}")
        super().__init__(data, hops, max_nodes)
        self.k_shot, self.n_query = k_shot, n_query
        self.negatives = negatives
        self.interests = data.interests.bool()
        self.num_interests = self.interests.size(1)
        # Counted by numpy, whose reductions cast in buffered chunks: torch's
        # sum or count_nonzero of a bool table first makes an int64 copy of it.
        n_pos = torch.from_numpy(self.interests.numpy().sum(1, dtype=np.int64))
        n_neg = self.num_interests - n_pos
        self._n_pos = n_pos
        eligible = ((n_pos > k_shot) & (n_neg > k_shot)).nonzero().view(-1)
        if len(eligible) == 0:
            raise ValueError(f"no user has more than k_shot={k_shot} positive "
                             f"and negative interests")
        self.eligible = eligible
        self.splits = split_ids(eligible, split, seed)
        self._seed = seed
        # Cold-start: meta-val/test users' interests are unknown to training.
        self.known = torch.ones(data.num_nodes, dtype=torch.bool)
        self.known[torch.cat([self.splits["val"], self.splits["test"]])] = False
        # Statistics count every known user, task or not (the scorers', the
        # context features', the popularity sampler's).
        known_rows = self.interests[self.known].numpy()
        self.popularity = torch.from_numpy(known_rows.sum(0, dtype=np.float64)
                                           / max(len(known_rows), 1))
        if node_features == "auto" and getattr(data, "x", None) is None \
                and self.num_interests > SVD_FROM:
            node_features = "interests-svd"
        self._set_node_features(node_features)
        self.transform = transform
        if transform is not None:
            transform.attach(self)

    def _feature_dtype(self, dtype: torch.dtype | None) -> torch.dtype:
        """``dtype``, else that of ``data.x``, else torch's default."""
        x = getattr(self.data, "x", None)
        return dtype or (x.dtype if x is not None else torch.get_default_dtype())

    def _interest_features(self, dtype: torch.dtype | None) -> Tensor:
        return self.interests.to(self._feature_dtype(dtype)) * self.known.unsqueeze(1)

    def _interest_svd_features(self, dtype: torch.dtype | None) -> Tensor:
        dtype = self._feature_dtype(dtype)
        feats, svd = svd_features(self.interests, self.known, SVD_DIM, self._seed)
        self._svd = svd.to(dtype)                                            # [C, k]
        return feats.to(dtype)

    def _settings(self) -> dict[str, object]:
        return {"k_shot": self.k_shot, "n_query": self.n_query, **super()._settings(),
                "negatives": self.negatives}

    @property
    def item_features(self) -> tuple[str, ...]:
        """The names of the per-interest columns of the batches'
        ``item_context`` (from the transform; empty without one)."""
        return tuple(self.transform.features) if self.transform is not None else ()

    def task(self, user: int, rng: np.random.Generator) -> Task:
        """Draws the task of ``user`` (ego-subgraph and support/query split)."""
        nodes, edge_index = self.sampler.sample(user, rng)
        return self._split(user, nodes, edge_index, rng)

    def _split(self, user: int, nodes: Tensor, edge_index: Tensor,
               rng: np.random.Generator, full: bool = False, candidates: int = 0,
               negatives: Optional[str] = None) -> Task:
        """Support: ``k_shot`` positives and negatives (negatives by the
        ``negatives`` sampler, else the tasks' own). Query: ``n_query`` more
        of each, or with ``full`` every other interest of the catalogue (the
        user's other positives against all its non-support negatives, or a
        uniform sample of ``candidates`` of those)."""
        row = self.interests[user].numpy()
        k, q = self.k_shot, self.n_query
        pos = rng.permutation(np.flatnonzero(row))
        all_neg = np.flatnonzero(~row)
        if (negatives or self.negatives) == "popularity":
            w = self.popularity.numpy()[all_neg] + 1e-12
            neg = rng.choice(all_neg, min(k + q, len(all_neg)), replace=False, p=w / w.sum())
        elif len(all_neg) > UNIFORM_SHUFFLE:     # only k + q of a large catalogue are needed
            neg = rng.choice(all_neg, min(k + q, len(all_neg)), replace=False)
        else:
            neg = rng.permutation(all_neg)
        s_items = np.concatenate([pos[:k], neg[:k]])
        s_y = np.repeat([1, 0], k)
        if full:
            q_pos = pos[k:]
            q_neg = np.setdiff1d(all_neg, neg[:k], assume_unique=True)
            if candidates and len(q_neg) > candidates:
                q_neg = np.sort(rng.choice(q_neg, candidates, replace=False))
        else:
            q_pos, q_neg = pos[k:k + q], neg[k:k + q]
        q_items = np.concatenate([q_pos, q_neg])
        q_y = np.concatenate([np.ones(len(q_pos), np.int64), np.zeros(len(q_neg), np.int64)])
        return Task(user, nodes, edge_index, torch.from_numpy(s_items),
                    torch.from_numpy(s_y), torch.from_numpy(q_items),
                    torch.from_numpy(q_y))

    def tasks(self, users: Sequence[int] | Tensor, seed: int, full: bool = False,
              candidates: int = 0) -> list[Task]:
        """One task per entry of ``users``, reproducible from ``seed``. The
        ego-subgraphs of all users are sampled in one batched pass."""
        return [make() for make in self.plan(users, seed, full, candidates)]

    def plan(self, users: Sequence[int] | Tensor, seed: int, full: bool = False,
             candidates: int = 0, negatives: Optional[str] = None) -> list[Callable[[], Task]]:
        """:meth:`tasks` with the support/query split of each deferred: one
        function per user that draws its task, the same each time it is
        called (for evaluation sets built batch by batch). ``negatives``:
        how the support negatives are drawn, when not as training draws them
        (the evaluation protocol's own choice)."""
        if negatives is not None and negatives not in NEGATIVES:
            raise ValueError(f"negatives must be one of {NEGATIVES}, got {negatives!r}")
        users = torch.as_tensor(users).tolist()
        *seqs, graph_seq = np.random.SeedSequence(seed).spawn(len(users) + 1)
        graphs = self.sampler.sample_many(users, np.random.default_rng(graph_seq))
        return [functools.partial(self._split_seeded, u, n, e, s, full, candidates, negatives)
                for u, (n, e), s in zip(users, graphs, seqs)]

    def _split_seeded(self, user: int, nodes: Tensor, edge_index: Tensor,
                      seq: np.random.SeedSequence, full: bool, candidates: int,
                      negatives: Optional[str] = None) -> Task:
        # A fresh generator per call: a lazily built batch is the same each time.
        return self._split(user, nodes, edge_index, np.random.default_rng(seq), full, candidates,
                           negatives)

    def fixed_users(self, split: str, n_tasks: int, seed: int) -> Tensor:
        """The users of :meth:`fixed_plan`: ``n_tasks`` distinct users of
        ``split`` (all of them if it has fewer), in a seeded order."""
        users = self.splits[split]
        if len(users) == 0:
            raise ValueError(f"split {split!r} has no users")
        perm = users[torch.randperm(len(users), generator=torch.Generator().manual_seed(seed))]
        return perm[:n_tasks]

    def fixed_plan(self, split: str, n_tasks: int, seed: int, full: bool = True,
                   candidates: int = 0, negatives: Optional[str] = None
                   ) -> list[Callable[[], Task]]:
        """A fixed, seeded evaluation set, deferred (:meth:`plan`), of
        :meth:`fixed_users`; ``full`` query sets rank a user's held-out
        positives against every non-support interest (or ``candidates`` of
        them), else ``n_query`` sampled negatives; ``negatives``: how the
        support negatives are drawn (None: as the training tasks draw them)."""
        return self.plan(self.fixed_users(split, n_tasks, seed), seed, full, candidates,
                         negatives)

    def fixed_tasks(self, split: str, n_tasks: int, seed: int, full: bool = True,
                    candidates: int = 0, negatives: Optional[str] = None) -> list[Task]:
        """:meth:`fixed_plan`'s tasks, drawn."""
        return [make() for make in self.fixed_plan(split, n_tasks, seed, full, candidates,
                                                   negatives)]

    def batches(self, split: str, batch_size: int, seed: int, full: bool = False,
                shard: tuple[int, int] = (0, 1)) -> SeededStream[TaskBatch]:
        """Endless, resumable stream of meta-batches of random users from
        ``split``, with ``full`` query sets (every non-support interest) or
        sampled ones. With ``shard = (rank, world)`` each batch holds only
        tasks ``rank, rank + world, ...`` of the global one (the same tasks
        one process would draw)."""
        users = self.splits[split]
        rank, world = shard

        def make(child: int) -> TaskBatch:
            rng = np.random.default_rng(child)
            picked = users[torch.from_numpy(rng.integers(0, len(users), batch_size))]
            tasks = self.tasks(picked, int(rng.integers(2**63 - 1)), full=full)
            return self.collate(tasks[rank::world])
        return SeededStream(make, seed)

    def collate(self, tasks: Sequence[Task]) -> TaskBatch:
        """Pads a list of tasks into one :class:`TaskBatch` (then the transform)."""
        graphs = self.graph_batch([(t.nodes, t.edge_index) for t in tasks])
        off = self._feature_offsets.get("interests")
        if off is not None:
            # The ego's interest features: its support positives, nothing else.
            graphs.x[:, 0, off:off + self.num_interests] = 0
            for t, task in enumerate(tasks):
                graphs.x[t, 0, off + task.support_items[task.support_y == 1]] = 1
        off = self._feature_offsets.get("interests-svd")
        if off is not None:     # the same, projected
            k = self._svd.size(1)
            for t, task in enumerate(tasks):
                graphs.x[t, 0, off:off + k] = self._svd[task.support_items[task.support_y == 1]
                                                        ].sum(0).to(graphs.x.dtype)
        q_items, q_mask = pad([t.query_items for t in tasks])
        q_y, _ = pad([t.query_y for t in tasks])
        batch = TaskBatch(graphs, torch.stack([t.support_items for t in tasks]),
                          torch.stack([t.support_y for t in tasks]), q_items, q_y, q_mask,
                          torch.tensor([t.user for t in tasks]), disjoint=True)
        return self.transform(batch) if self.transform is not None else batch
