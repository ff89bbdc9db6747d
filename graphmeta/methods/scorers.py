"""Non-learned scorers for user-interest tasks, on the same task batches.

Every statistic counts meta-train users only (meta-val and meta-test users
are cold-start), and a user's own history is its support positives.

- ``popularity``: an interest's frequency among meta-train users.
- ``neighbor-vote``: its frequency among the ego's direct neighbours in the
  ego-subgraph, using only *known* users' interests.
- ``itemknn``: item-based collaborative filtering: the similarity of the
  interest to the support positives (``similarity``: cosine, asymmetric
  cosine with ``alpha``, or Jaccard; ``shrink``).
- ``ease``: EASE (Steck, WWW 2019): the closed-form item-item regression
  :math:`B = I - P\\,\\mathrm{diag}(1/\\mathrm{diag}(P))`,
  :math:`P = (X^\\top X + \\lambda I)^{-1}`, scored from the support positives.
- ``graph-knn``: itemknn over a history that adds the ego's neighbours'
  known interests, weighted by ``graph_weight``, to its support
  positives: a graph-propagated scorer (an interest liked by neighbours, or
  similar to what they like, scores higher).

Scores are only ever ranked (ROC-AUC, nDCG, ...), so they need no scale.
"""
from __future__ import annotations

import torch
from torch import Tensor

from dataclasses import dataclass
from typing import Optional

from graphmeta.methods.registry import Context, Learner, register_method
from graphmeta.settings import Settings, setting
from graphmeta.tasks import TaskBatch, UserInterestTasks
from graphmeta.tasks.stats import item_similarity, neighbour_frequency

SCORERS = ("popularity", "neighbor-vote", "itemknn", "ease", "graph-knn")


@dataclass(frozen=True)
class KNNSettings(Settings):
    """itemknn: the item-item similarity over meta-train users."""
    similarity: str = setting("cosine", choices=("cosine", "asymmetric", "jaccard"),
                              search=["cosine", "asymmetric", "jaccard"])
    alpha: float = setting(0.5, low=0, high=1, search=[0.2, 0.5, 0.8],
                           doc="asymmetric cosine's exponent")
    shrink: float = setting(0.0, low=0, search=[0.0, 10.0, 100.0],
                            doc="similarity shrinkage: co / (norm + shrink)")


@dataclass(frozen=True)
class GraphKNNSettings(KNNSettings):
    """graph-knn: itemknn over the support and the neighbours' interests."""
    graph_weight: float = setting(1.0, low=0, search=[0.03, 0.1, 0.3, 1.0, 3.0],
                                  doc="weight of the neighbours' interests against the "
                                      "support positives")


@dataclass(frozen=True)
class EASESettings(Settings):
    l2: float = setting(100.0, positive=True,
                        search=[1.0, 10.0, 100.0, 300.0, 1000.0, 3000.0, 10000.0],
                        doc="EASE's L2 regularisation (lambda)")


def ease_weights(train: Tensor, lam: float) -> Tensor:
    """EASE's item-item weights ``B`` ``[C, C]`` (zero diagonal)."""
    g = train.T @ train
    g.diagonal().add_(lam)
    p = torch.linalg.inv(g)
    b = -p / p.diagonal()[None, :]
    return b.fill_diagonal_(0)


class InterestScorers:
    """The scorers' statistics, computed once per task sampler and settings."""

    def __init__(self, tasks: UserInterestTasks, knn: KNNSettings | None = None,
                 l2: float = 100.0, graph_weight: float = 1.0) -> None:
        b = knn or KNNSettings()
        self.tasks, self.l2, self.graph_weight = tasks, l2, graph_weight
        train = tasks.interests[tasks.splits["train"]].double()
        self.popularity = tasks.popularity                              # [C]
        self.similarity = item_similarity(train, b.similarity, b.alpha, b.shrink)
        self._ease: Tensor | None = None
        self.known = (tasks.interests & tasks.known[:, None]).double()  # [N, C]

    def __repr__(self) -> str:
        return f"{self.__class__.__name__}({self.tasks!r})"

    @property
    def ease(self) -> Tensor:
        if self._ease is None:
            train = self.tasks.interests[self.tasks.splits["train"]].double()
            self._ease = ease_weights(train, self.l2)
        return self._ease

    def _history(self, batch: TaskBatch) -> Tensor:
        """The ego's support positives as a multi-hot ``[T, C]``."""
        h = torch.zeros(batch.num_tasks, self.tasks.num_interests, dtype=torch.float64)
        pos = (batch.support_y.cpu() == 1).double()
        return h.scatter_add_(1, batch.support_items.cpu(), pos)

    def _neighbour_freq(self, batch: TaskBatch) -> Tensor:
        """Frequency of each interest among the ego's known direct neighbours ``[T, C]``."""
        return neighbour_frequency(batch.graphs, self.known, self.tasks.known)

    def catalogue_scores(self, method: str, batch: TaskBatch) -> Tensor:
        """Every interest's score ``[T, C]`` for each task of ``batch``."""
        if method == "popularity":
            return self.popularity.expand(batch.num_tasks, -1)
        if method == "neighbor-vote":
            return self._neighbour_freq(batch)
        if method == "itemknn":
            return self._history(batch) @ self.similarity.T
        if method == "ease":
            return self._history(batch) @ self.ease
        if method == "graph-knn":   # neighbours' interests count as liked-by-self, weighted
            nbr = self.graph_weight * self._neighbour_freq(batch)
            return (self._history(batch) + nbr) @ self.similarity.T + nbr
        raise KeyError(f"unknown scorer {method!r} (known: {', '.join(SCORERS)})")

    def scores(self, method: str, batch: TaskBatch, items: Tensor) -> Tensor:
        """Scores ``[T, S]`` of ``items`` ``[T, S]``."""
        return self.catalogue_scores(method, batch).gather(1, items.cpu())


class Scorer(Learner):
    """One of :data:`SCORERS` as a learner: nothing to train or save."""

    def __init__(self, ctx: Context) -> None:
        super().__init__(ctx)
        s, tasks = ctx.settings, ctx.tasks
        if isinstance(s, GraphKNNSettings):
            self.scorers = InterestScorers(tasks, s, graph_weight=s.graph_weight)
        elif isinstance(s, KNNSettings):
            self.scorers = InterestScorers(tasks, s)
        elif isinstance(s, EASESettings):
            self.scorers = InterestScorers(tasks, l2=s.l2)
        else:
            self.scorers = InterestScorers(tasks)

    def predict(self, batch: TaskBatch, steps: Optional[int] = None) -> Tensor:
        return self.scorers.scores(self.ctx.method, batch, batch.query_items)


_SCORERS = {
    "popularity": ("an interest's frequency among meta-train users", Settings),
    "neighbor-vote": ("its frequency among the ego's neighbours' known interests", Settings),
    "itemknn": ("item co-occurrence with the support positives", KNNSettings),
    "ease": ("EASE, closed-form item-item regression (Steck, 2019)", EASESettings),
    "graph-knn": ("itemknn over the support positives and the neighbours' interests",
                  GraphKNNSettings),
}
# In the default comparison: the strong, cheap scorers a meta-learner must
# beat, the item-item ones only where their [C, C] matrices are affordable.
_DEFAULT = {"popularity": None, "itemknn": 10_000, "graph-knn": 10_000}
for _name, (_what, _config) in _SCORERS.items():
    register_method(_name, kinds=("user-interest",), training="none", family="baseline",
                    description=_what, config=_config, seeded=False,
                    default_for=("user-interest",) if _name in _DEFAULT else (),
                    max_interests=_DEFAULT.get(_name))(Scorer)

__all__ = ["EASESettings", "GraphKNNSettings", "InterestScorers", "KNNSettings", "SCORERS",
           "Scorer", "ease_weights"]
