"""User-interest tasks: one task is one user.

Over 300 lines: the sampler's user split, support/query split, evaluation
protocols, evaluation sets and collation share its state (the interest
table, the known users, the feature layout) and change together.

A task holds the user's ego-subgraph (ego at position 0) and a support and a
query set of the user's interests: ``k_shot`` positives and ``k_shot``
negatives to adapt on, and held-out positives and negatives to score. The
ego's own interests never reach the model: node features come from
``data.x`` and the labels only from the support set.
"""
from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Callable, Optional, Sequence

import numpy as np
import torch
from torch import Tensor
from torch_geometric.data import Data

from graphmeta.eval.ranking import LONG_LIST, ranking_metrics
from graphmeta.tasks.base import EgoTasks, LazyBatches, SeededStream, split_ids
from graphmeta.tasks.batch import TaskBatch, pad
from graphmeta.tasks.stats import loo_cooccurrence, neighbour_frequency, svd_features


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
# Per-task features of each candidate interest, for models that read them.
CONTEXT_FEATURES = ("popularity", "cooccurrence", "neighbours", "neighbour_cooccurrence")
PROTOCOLS = ("full", "sampled")
# Components of the ``interests-svd`` node features.
SVD_DIM = 64
# (task, candidate) pairs per evaluation batch, bounding its memory, and
# in a whole evaluation set before its batches are built on demand.
EVAL_PAIRS = 20_000
LONG_EVAL_PAIRS = 4_000_000
LAZY_PAIRS = 50_000_000


def _pair_budget(longest: int) -> int:
    """(task, candidate) pairs per evaluation batch: long lists are scored
    by the model in slices, so more fit."""
    return LONG_EVAL_PAIRS if longest > LONG_LIST else EVAL_PAIRS


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
            proportion to their frequency among meta-train users, so that
            popular-but-not-liked interests are the hard cases. This is how
            training tasks and the support sets of evaluation tasks are drawn.
        protocol (str): How evaluation tasks (:meth:`fixed_tasks`) are
            scored. ``"full"``: each user's held-out positives are ranked
            against every interest outside its support set (Krichene &
            Rendle, KDD 2020, on why sampled negatives mislead).
            ``"sampled"``: against ``n_query`` negatives drawn like the
            training ones.
        candidates (int): With ``"full"``, rank against a uniform sample of
            this many non-support negatives instead of all (0: all), for
            catalogues too large to score whole.
        context (bool): Give every batch ``item_context`` ``[T, C, 4]``:
            each interest's popularity among meta-train users, its mean
            cosine co-occurrence with the task's support positives, its
            frequency among the ego's known neighbours, and its mean cosine
            co-occurrence with those neighbours' interests (weighted by
            their frequency): the statistics of ``popularity``,
            ``itemknn``, ``neighbor-vote`` and ``graph-knn``, with a
            training ego's own row left out of the counts, each
            standardised over the catalogue within the task.
        train_query (str): Query sets of training batches: ``"sampled"``
            (``n_query`` positives and negatives) or ``"full"`` (every
            non-support interest, as the full evaluation protocol ranks).
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
            model.
    """
    kind = "user-interest"
    FEATURES = {"x": "_x_features", "interests": "_interest_features",
                "interests-svd": "_interest_svd_features"}
    DEFAULT_FEATURES = ("x", "interests")

    def __init__(self, data: Data, *, k_shot: int = 5, n_query: int = 10,
                 hops: int = 2, max_nodes: int = 64,
                 split: Sequence[float] = (0.7, 0.1, 0.2), seed: int = 0,
                 negatives: str = "uniform", protocol: str = "full", candidates: int = 0,
                 context: bool = False, train_query: str = "sampled",
                 node_features: str = "auto") -> None:
        for key in ("edge_index", "interests"):
            if getattr(data, key, None) is None:
                raise ValueError(f"UserInterestTasks needs data.{key}")
        if k_shot < 1 or n_query < 1:
            raise ValueError(f"k_shot and n_query must be >= 1, got {k_shot}, {n_query}")
        if negatives not in NEGATIVES:
            raise ValueError(f"negatives must be one of {NEGATIVES}, got {negatives!r}")
        if protocol not in PROTOCOLS:
            raise ValueError(f"protocol must be one of {PROTOCOLS}, got {protocol!r}")
        super().__init__(data, hops, max_nodes)
        self.k_shot, self.n_query = k_shot, n_query
        self.negatives, self.protocol, self.candidates = negatives, protocol, candidates
        if train_query not in PROTOCOLS:
            raise ValueError(f"train_query must be one of {PROTOCOLS}, got {train_query!r}")
        self.train_query = train_query
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
        n_train = len(self.splits["train"])
        train_rows = self.interests[self.splits["train"]].numpy()
        self.popularity = torch.from_numpy(train_rows.sum(0, dtype=np.float64) / max(n_train, 1))
        self.context = context
        if context:
            train = torch.from_numpy(train_rows).double()
            self._co = train.T @ train                                  # [C, C]
            self._in_train = torch.zeros(data.num_nodes, dtype=torch.bool)
            self._in_train[self.splits["train"]] = True
            self._known_interests = (self.interests & self.known[:, None]).double()
        self._set_node_features(node_features)

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
                "negatives": self.negatives, "protocol": self.protocol}

    def task(self, user: int, rng: np.random.Generator) -> Task:
        """Draws the task of ``user`` (ego-subgraph and support/query split)."""
        nodes, edge_index = self.sampler.sample(user, rng)
        return self._split(user, nodes, edge_index, rng)

    def _split(self, user: int, nodes: Tensor, edge_index: Tensor,
               rng: np.random.Generator, full: bool = False) -> Task:
        """Support: ``k_shot`` positives and negatives (negatives by the
        ``negatives`` sampler). Query: ``n_query`` more of each, or with
        ``full`` every other interest of the catalogue (the user's other
        positives against all its non-support negatives, or a uniform sample
        of ``candidates`` of those)."""
        row = self.interests[user].numpy()
        k, q = self.k_shot, self.n_query
        pos = rng.permutation(np.flatnonzero(row))
        all_neg = np.flatnonzero(~row)
        if self.negatives == "popularity":
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
            if self.candidates and len(q_neg) > self.candidates:
                q_neg = np.sort(rng.choice(q_neg, self.candidates, replace=False))
        else:
            q_pos, q_neg = pos[k:k + q], neg[k:k + q]
        q_items = np.concatenate([q_pos, q_neg])
        q_y = np.concatenate([np.ones(len(q_pos), np.int64), np.zeros(len(q_neg), np.int64)])
        return Task(user, nodes, edge_index, torch.from_numpy(s_items),
                    torch.from_numpy(s_y), torch.from_numpy(q_items),
                    torch.from_numpy(q_y))

    def tasks(self, users: Sequence[int] | Tensor, seed: int, full: bool = False) -> list[Task]:
        """One task per entry of ``users``, reproducible from ``seed``. The
        ego-subgraphs of all users are sampled in one batched pass."""
        return [make() for make in self._plan(users, seed, full)]

    def _plan(self, users: Sequence[int] | Tensor, seed: int, full: bool) -> list[Callable]:
        """:meth:`tasks` with the support/query split of each deferred."""
        users = torch.as_tensor(users).tolist()
        *seqs, graph_seq = np.random.SeedSequence(seed).spawn(len(users) + 1)
        graphs = self.sampler.sample_many(users, np.random.default_rng(graph_seq))
        return [functools.partial(self._split_seeded, u, n, e, s, full)
                for u, (n, e), s in zip(users, graphs, seqs)]

    def _split_seeded(self, user: int, nodes: Tensor, edge_index: Tensor,
                      seq: np.random.SeedSequence, full: bool) -> Task:
        # A fresh generator per call: a lazily built batch is the same each time.
        return self._split(user, nodes, edge_index, np.random.default_rng(seq), full)

    def eval_size(self, split: str, n_tasks: int) -> tuple[int, list[str]]:
        """How many fixed tasks :meth:`fixed_tasks` draws (each user once),
        with a warning when the split has fewer users than asked for."""
        users = len(self.splits[split])
        if users == 0:
            raise ValueError(f"split {split!r} has no users")
        if n_tasks <= users:
            return n_tasks, []
        return users, [f"{split}: {n_tasks} tasks asked for but the split has {users} users; "
                       f"each is scored once ({users} tasks), none twice"]

    def fixed_tasks(self, split: str, n_tasks: int, seed: int) -> list[Task]:
        """A fixed, seeded evaluation set: ``n_tasks`` distinct users of
        ``split`` (all of them if it has fewer), each with its task under the
        evaluation ``protocol``."""
        return [make() for make in self._fixed_plan(split, n_tasks, seed)]

    def _fixed_plan(self, split: str, n_tasks: int, seed: int) -> list[Callable]:
        n, _ = self.eval_size(split, n_tasks)
        users = self.splits[split]
        perm = users[torch.randperm(len(users), generator=torch.Generator().manual_seed(seed))]
        return self._plan(perm[:n], seed, full=self.protocol == "full")

    def fixed_batches(self, split: str, n: int, seed: int, device: torch.device,
                      chunk: int = 100) -> list[TaskBatch] | LazyBatches[TaskBatch]:
        """:meth:`fixed_tasks`, collated at most ``chunk`` tasks at a time
        (fewer when full-ranking query sets are long), on ``device``. When
        the set holds over :data:`LAZY_PAIRS` (task, candidate) pairs the
        batches are built each time they are read (:class:`LazyBatches`),
        so memory stays at one batch."""
        plan = self._fixed_plan(split, n, seed)
        longest = self.num_interests - 2 * self.k_shot if self.protocol == "full" else 0
        if self.candidates:     # a user's other positives and `candidates` negatives
            longest = min(longest, self.candidates + int(self._n_pos.max()) - self.k_shot)
        if len(plan) * longest <= LAZY_PAIRS:
            ts = [make() for make in plan]
            longest = max(len(t.query_items) for t in ts)
            step = max(1, min(chunk, _pair_budget(longest) // max(longest, 1)))
            return [self.collate(ts[i:i + step]).to(device) for i in range(0, len(ts), step)]
        step = max(1, min(chunk, _pair_budget(longest) // longest))
        return LazyBatches(lambda i: self.collate([make() for make in plan[i * step:(i + 1) * step]]
                                                  ).to(device), -(-len(plan) // step))

    def batches(self, split: str, batch_size: int, seed: int, full: Optional[bool] = None,
                shard: tuple[int, int] = (0, 1)) -> SeededStream[TaskBatch]:
        """Endless, resumable stream of meta-batches of random users from
        ``split``; ``full`` query sets (every non-support interest) or
        sampled ones (default: as ``train_query`` says). With ``shard =
        (rank, world)`` each batch holds only tasks ``rank, rank + world,
        ...`` of the global one (the same tasks one process would draw)."""
        users = self.splits[split]
        full = self.train_query == "full" if full is None else full
        rank, world = shard

        def make(child: int) -> TaskBatch:
            rng = np.random.default_rng(child)
            picked = users[torch.from_numpy(rng.integers(0, len(users), batch_size))]
            tasks = self.tasks(picked, int(rng.integers(2**63 - 1)), full=full)
            return self.collate(tasks[rank::world])
        return SeededStream(make, seed)

    def collate(self, tasks: Sequence[Task]) -> TaskBatch:
        """Pads a list of tasks into one :class:`TaskBatch`."""
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
        if self.context:
            batch.item_context = self._item_context(batch).to(graphs.x.dtype)
        return batch

    def _item_context(self, batch: TaskBatch) -> Tensor:
        """:data:`CONTEXT_FEATURES` of every interest for every task ``[T, C, 4]``."""
        users = batch.users
        own = (self.interests[users] & self._in_train[users, None]).double()   # [T, C]
        n_train = len(self.splits["train"]) - self._in_train[users].double()
        pop = (self._co.diagonal().unsqueeze(0) - own) / n_train.unsqueeze(1).clamp_min(1)
        support = torch.zeros_like(own).scatter_(1, batch.support_items,
                                                 (batch.support_y == 1).double())
        knn = loo_cooccurrence(self._co, own, support)
        nbr = neighbour_frequency(batch.graphs, self._known_interests, self.known)
        ctx = torch.stack([pop, knn, nbr, loo_cooccurrence(self._co, own, nbr)], -1)
        # Standardised within the task: the order of the catalogue is kept,
        # and the scale no longer depends on how dense the data is (raw
        # co-occurrences of ~0.1 need weights of ~100 to move a logit).
        std = ctx.std(1, keepdim=True)
        return (ctx - ctx.mean(1, keepdim=True)) / torch.where(std > 0, std, 1)

    def score(self, pred: Tensor, batch: TaskBatch) -> dict[str, np.ndarray]:
        """Ranking metrics of query scores ``pred`` ``[T, Q]``
        (:func:`~graphmeta.eval.ranking_metrics`)."""
        return ranking_metrics(pred, batch.query_y, batch.query_mask)
