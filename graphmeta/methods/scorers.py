"""Non-learned scorers for user-interest tasks, on the same task batches.

Every statistic counts the *known* users: everyone whose interests are not
held out (all users but the meta-val and meta-test ones, whether or not
they are tasks), as the GNN's neighbour features and neighbour vote do; a
task's own history is its support positives.

- ``popularity``: an interest's frequency among known users.
- ``neighbor-vote``: its frequency among the ego's direct neighbours in the
  ego-subgraph, using only known users' interests.
- ``itemknn``: item-based collaborative filtering (Sarwar et al., 2001), as
  Dacrema et al. (RecSys 2019) configure it: the similarity of the interest
  to the support positives (``similarity``: cosine, asymmetric cosine with
  ``alpha``, or Jaccard), ``shrink``, the ``topk`` most similar interests
  kept per interest, and the users' ``weighting`` (none, TF-IDF, BM25).
- ``ease``: EASE (Steck, WWW 2019): the closed-form item-item regression
  :math:`B = I - P\\,\\mathrm{diag}(1/\\mathrm{diag}(P))`,
  :math:`P = (X^\\top X + \\lambda I)^{-1}`, scored from the support positives.
- ``rp3beta``: RP3beta (Paudel et al., 2016): 3-step random walks
  interest -> user -> interest from the support positives, each step's
  probability to the power ``alpha``, divided by the destination's
  popularity to the power ``beta`` (:func:`~graphmeta.tasks.stats.rp3beta`).
- ``userknn``: user-based collaborative filtering over interest profiles:
  the ``topk`` known users most similar to the support positives vote with
  their similarity.
- ``social-userknn``: user-kNN over the social neighbourhood: the known
  users of the ego-subgraph (or only the direct neighbours) vote, each
  weighted by its profile similarity to the support plus ``smoothing``
  (a large ``smoothing`` is neighbour vote over the subgraph).
- ``graph-knn``: itemknn over a history that adds the ego's neighbours'
  known interests, weighted by ``graph_weight``, to its support
  positives: a graph-propagated scorer (an interest liked by neighbours, or
  similar to what they like, scores higher).

Every scorer is tuned with the cheap budget (:mod:`graphmeta.tune`: 100
distinct configurations, whatever the learners get). Scores are only
ever ranked (ROC-AUC, nDCG, ...), so they need no scale.
"""
from __future__ import annotations

import torch
from torch import Tensor

from dataclasses import dataclass
from typing import Optional

from graphmeta.methods.registry import Context, Learner, register_method
from graphmeta.settings import Range, Settings, setting
from graphmeta.tasks import TaskBatch, UserInterestTasks
from graphmeta.tasks.stats import (SIMILARITIES, WEIGHTINGS, cooccurrence, item_similarity,
                                   history_weights, keep_top, neighbour_frequency,
                                   profile_similarity, rp3beta, social_votes)

SCORERS = ("popularity", "neighbor-vote", "itemknn", "ease", "rp3beta", "userknn",
           "social-userknn", "graph-knn")
# A neighbourhood searched from 5 to 800 interests (Dacrema et al. search 5
# to 1,000), capped below the catalogue's size, where larger means "all".
_TOPK = Range(5, 800, log=True, integer=True, cap="n_interests")


@dataclass(frozen=True)
class SimilaritySettings(Settings):
    """The similarity itemknn and userknn share (the formulas of
    :func:`~graphmeta.tasks.stats.item_similarity`)."""
    similarity: str = setting("cosine", choices=SIMILARITIES, search=list(SIMILARITIES))
    alpha: float = setting(0.5, low=0, high=2, search=Range(0, 2),
                           when={"similarity": "asymmetric"},
                           doc="asymmetric cosine's exponent on the scored side's norm (the "
                               "interest's for itemknn, the task's for userknn)")
    shrink: float = setting(0.0, low=0, search=Range(0, 1000),
                            doc="similarity shrinkage: co / (norm + shrink)")


@dataclass(frozen=True)
class KNNSettings(SimilaritySettings):
    """itemknn: the item-item similarity over known users."""
    topk: int = setting(0, low=0, search=_TOPK,
                        doc="most similar interests kept per interest (0: all)")
    weighting: str = setting("none", choices=WEIGHTINGS, search=list(WEIGHTINGS),
                             doc="the users' weighting before similarity: none, tfidf or bm25")


@dataclass(frozen=True)
class GraphKNNSettings(KNNSettings):
    """graph-knn: itemknn over the support and the neighbours' interests."""
    graph_weight: float = setting(1.0, low=0, search=Range(0.01, 100, log=True),
                                  doc="weight of the neighbours' interests against the "
                                      "support positives")


@dataclass(frozen=True)
class EASESettings(Settings):
    l2: float = setting(100.0, positive=True, search=Range(1, 1e6, log=True),
                        doc="EASE's L2 regularisation (lambda)")


@dataclass(frozen=True)
class RP3Settings(Settings):
    """rp3beta: the random walk's item-item weights."""
    alpha: float = setting(1.0, low=0, search=Range(0, 2),
                           doc="exponent on every transition probability")
    beta: float = setting(0.5, low=0, search=Range(0, 2),
                          doc="exponent of the destination's popularity it is divided by")
    topk: int = setting(100, low=0, search=_TOPK,
                        doc="strongest destinations kept per interest (0: all)")
    normalize: bool = setting(False, search=[False, True],
                              doc="rescale each interest's weights to sum 1")


@dataclass(frozen=True)
class UserKNNSettings(SimilaritySettings):
    """userknn: the known users most similar to the support positives."""
    topk: int = setting(100, low=1, search=Range(5, 1000, log=True, integer=True,
                                                 cap="n_known"),
                        doc="most similar known users who vote")


@dataclass(frozen=True)
class SocialKNNSettings(Settings):
    """social-userknn: the ego-subgraph's known users, weighted by profile similarity."""
    direct: bool = setting(False, search=[False, True],
                           doc="only the ego's direct neighbours vote (else the whole subgraph)")
    shrink: float = setting(0.0, low=0, search=Range(0, 100),
                            doc="similarity shrinkage: co / (norm + shrink)")
    smoothing: float = setting(0.1, low=0, search=Range(1e-3, 10, log=True),
                               doc="weight every voter gets beside its similarity")


def ease_weights(train: Tensor, lam: float) -> Tensor:
    """EASE's item-item weights ``B`` ``[C, C]`` (zero diagonal)."""
    g = train.T @ train
    g.diagonal().add_(lam)
    p = torch.linalg.inv(g)
    b = -p / p.diagonal()[None, :]
    return b.fill_diagonal_(0)


class InterestScorers:
    """The scorers' statistics over ``tasks``' known users, each computed
    when first used, for the given settings of each scorer (defaults where
    None). The co-occurrence counts under each weighting are kept on the
    tasks, so tuning computes them once per weighting."""

    def __init__(self, tasks: UserInterestTasks, knn: KNNSettings | None = None,
                 l2: float = 100.0, graph_weight: float = 1.0, *,
                 rp3: RP3Settings | None = None, userknn: UserKNNSettings | None = None,
                 social: SocialKNNSettings | None = None) -> None:
        self.tasks, self.l2, self.graph_weight = tasks, l2, graph_weight
        self.knn = knn or KNNSettings()
        self.rp3, self.userknn = rp3 or RP3Settings(), userknn or UserKNNSettings()
        self.social = social or SocialKNNSettings()
        self.popularity = tasks.popularity                              # [C]
        self.known = (tasks.interests & tasks.known[:, None]).double()  # [N, C]
        self._train: Tensor | None = None
        self._cache: dict[str, Tensor] = {}

    def __repr__(self) -> str:
        return f"{self.__class__.__name__}({self.tasks!r})"

    @property
    def train(self) -> Tensor:
        """The known users' interests ``[K, C]`` (float64): what every statistic counts."""
        if self._train is None:
            self._train = self.tasks.interests[self.tasks.known].double()
        return self._train

    def _cached(self, name: str, make) -> Tensor:
        if name not in self._cache:
            self._cache[name] = make()
        return self._cache[name]

    @property
    def similarity(self) -> Tensor:
        """itemknn's item-item similarity ``[C, C]``."""
        b = self.knn
        store = self.tasks.__dict__.setdefault("_cooccurrence", {})
        if b.weighting not in store:      # the same for every setting of one weighting
            store[b.weighting] = cooccurrence(self.train, b.weighting)
        return self._cached("similarity", lambda: item_similarity(
            self.train, b.similarity, b.alpha, b.shrink, b.topk, b.weighting,
            co=store[b.weighting]))     # read, never written: no copy

    @property
    def ease(self) -> Tensor:
        return self._cached("ease", lambda: ease_weights(self.train, self.l2))

    @property
    def walk(self) -> Tensor:
        """RP3beta's weights ``[C, C]``."""
        r = self.rp3
        return self._cached("rp3beta", lambda: rp3beta(self.train, r.alpha, r.beta, r.topk,
                                                       r.normalize))

    def _history(self, batch: TaskBatch) -> Tensor:
        """The ego's support positives as a multi-hot ``[T, C]``."""
        h = torch.zeros(batch.num_tasks, self.tasks.num_interests, dtype=torch.float64)
        pos = (batch.support_y.cpu() == 1).double()
        return h.scatter_add_(1, batch.support_items.cpu(), pos)

    def _weighted_history(self, batch: TaskBatch) -> Tensor:
        """The history weighted as itemknn's user rows are (BM25's per-interest factor)."""
        w = self._cached("history_weights",
                         lambda: history_weights(self.train, self.knn.weighting))
        return self._history(batch) * w

    def _neighbour_freq(self, batch: TaskBatch) -> Tensor:
        """Frequency of each interest among the ego's known direct neighbours ``[T, C]``."""
        return neighbour_frequency(batch.graphs, self.known, self.tasks.known)

    def _user_knn(self, batch: TaskBatch) -> Tensor:
        u = self.userknn
        sim = profile_similarity(self._history(batch), self.train, u.similarity, u.alpha,
                                 u.shrink)
        return keep_top(sim, u.topk) @ self.train

    def _social_knn(self, batch: TaskBatch) -> Tensor:
        s = self.social
        return social_votes(batch.graphs, self._history(batch), self.known, self.tasks.known,
                            s.direct, s.shrink, s.smoothing)

    def catalogue_scores(self, method: str, batch: TaskBatch) -> Tensor:
        """Every interest's score ``[T, C]`` for each task of ``batch``."""
        if method == "popularity":
            return self.popularity.expand(batch.num_tasks, -1)
        if method == "neighbor-vote":
            return self._neighbour_freq(batch)
        if method == "itemknn":
            return self._weighted_history(batch) @ self.similarity.T
        if method == "ease":
            return self._history(batch) @ self.ease
        if method == "rp3beta":
            return self._history(batch) @ self.walk
        if method == "userknn":
            return self._user_knn(batch)
        if method == "social-userknn":
            return self._social_knn(batch)
        if method == "graph-knn":   # neighbours' interests count as liked-by-self, weighted
            nbr = self.graph_weight * self._neighbour_freq(batch)
            return (self._weighted_history(batch) + nbr) @ self.similarity.T + nbr
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
        elif isinstance(s, RP3Settings):
            self.scorers = InterestScorers(tasks, rp3=s)
        elif isinstance(s, UserKNNSettings):
            self.scorers = InterestScorers(tasks, userknn=s)
        elif isinstance(s, SocialKNNSettings):
            self.scorers = InterestScorers(tasks, social=s)
        else:
            self.scorers = InterestScorers(tasks)

    def predict(self, batch: TaskBatch, steps: Optional[int] = None) -> Tensor:
        return self.scorers.scores(self.ctx.method, batch, batch.query_items)


_SCORERS = {
    "popularity": ("an interest's frequency among known users", Settings),
    "neighbor-vote": ("its frequency among the ego's neighbours' known interests", Settings),
    "itemknn": ("item co-occurrence with the support positives", KNNSettings),
    "ease": ("EASE, closed-form item-item regression (Steck, 2019)", EASESettings),
    "rp3beta": ("RP3beta, popularity-penalised random walks (Paudel et al., 2016)",
                RP3Settings),
    "userknn": ("user-kNN over interest profiles", UserKNNSettings),
    "social-userknn": ("user-kNN over the ego-subgraph's known users", SocialKNNSettings),
    "graph-knn": ("itemknn over the support positives and the neighbours' interests",
                  GraphKNNSettings),
}
# In the default comparison: the strong, cheap scorers a meta-learner must
# beat, the item-item ones only where their [C, C] matrices are affordable.
_DEFAULT = {"popularity": None, "itemknn": 10_000, "rp3beta": 10_000, "userknn": None,
            "graph-knn": 10_000}
for _name, (_what, _config) in _SCORERS.items():
    register_method(_name, kinds=("user-interest",), training="none", family="baseline",
                    description=_what, config=_config, seeded=False,
                    default_for=("user-interest",) if _name in _DEFAULT else (),
                    max_interests=_DEFAULT.get(_name))(Scorer)

__all__ = ["EASESettings", "GraphKNNSettings", "InterestScorers", "KNNSettings", "RP3Settings",
           "SCORERS", "Scorer", "SimilaritySettings", "SocialKNNSettings", "UserKNNSettings",
           "ease_weights"]
