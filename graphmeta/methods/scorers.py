"""Non-learned scorers for user-interest tasks, on the same task batches.

- ``popularity``: an interest's frequency among meta-train users.
- ``neighbor-vote``: its frequency among the ego's direct neighbours in the
  ego-subgraph, using only *known* users' interests (never the ego's own,
  never a meta-val/test user's).
- ``itemknn``: item-based collaborative filtering: the cosine co-occurrence,
  over meta-train users, of the interest with the ego's support positives.

Scores become "probabilities" for accuracy by a per-task threshold halfway
between the mean support-positive and support-negative scores; ROC-AUC uses
the ranking only.
"""
from __future__ import annotations

from torch import Tensor

from graphmeta.methods.registry import Context, Learner, register_method
from graphmeta.tasks import TaskBatch, UserInterestTasks

SCORERS = ("popularity", "neighbor-vote", "itemknn")


class InterestScorers:
    """The scorers' statistics, computed once per task sampler."""

    def __init__(self, tasks: UserInterestTasks) -> None:
        self.tasks = tasks
        self.popularity = tasks.popularity                            # [C], meta-train users
        train = tasks.interests[tasks.splits["train"]].double()
        co = train.T @ train                                          # [C, C]
        norm = co.diagonal().clamp_min(1).sqrt()
        self.similarity = co / norm[:, None] / norm[None, :]
        self.similarity.fill_diagonal_(0)
        self.known = (tasks.interests & tasks.known[:, None]).double()  # [N, C]

    def __repr__(self) -> str:
        return f"{self.__class__.__name__}({self.tasks!r})"

    def scores(self, method: str, batch: TaskBatch, items: Tensor) -> Tensor:
        """Scores ``[T, S]`` of ``items`` ``[T, S]``."""
        items = items.cpu()
        if method == "popularity":
            return self.popularity[items]
        if method == "itemknn":
            pos = batch.support_y.cpu() == 1
            sim = self.similarity[items.unsqueeze(-1), batch.support_items.cpu().unsqueeze(1)]
            return (sim * pos.unsqueeze(1)).sum(-1)
        if method == "neighbor-vote":
            ids = batch.graphs.node_ids.cpu()
            nbr = (batch.graphs.adj[:, 0].cpu() > 0) & (ids >= 0)      # ego's neighbours
            nbr &= self.tasks.known[ids.clamp_min(0)]
            votes = self.known[ids.clamp_min(0)] * nbr.unsqueeze(-1)   # [T, N, C]
            freq = votes.sum(1) / nbr.sum(1, keepdim=True).clamp_min(1)
            return freq.gather(1, items)
        raise KeyError(f"unknown scorer {method!r} (known: {', '.join(SCORERS)})")

    def predict(self, method: str, batch: TaskBatch) -> Tensor:
        """Query "probabilities" ``[T, Q]``: monotone in the score, above 0.5
        where the score passes the support-set threshold."""
        s_score = self.scores(method, batch, batch.support_items)
        pos = (batch.support_y.cpu() == 1).double()
        thr = 0.5 * ((s_score * pos).sum(1) / pos.sum(1)
                     + (s_score * (1 - pos)).sum(1) / (1 - pos).sum(1))
        q = self.scores(method, batch, batch.query_items) - thr[:, None]
        scale = q.abs().amax(1, keepdim=True).clamp_min(1e-12)
        return 0.5 + 0.5 * q / scale


class Scorer(Learner):
    """One of :data:`SCORERS` as a learner: nothing to train or save."""

    def __init__(self, ctx: Context) -> None:
        super().__init__(ctx)
        self.scorers = InterestScorers(ctx.tasks)

    def predict(self, batch: TaskBatch) -> Tensor:
        return self.scorers.predict(self.ctx.method, batch)


for _name, _what in zip(SCORERS, ("an interest's frequency among meta-train users",
                                  "its frequency among the ego's neighbours' known interests",
                                  "item co-occurrence with the support positives")):
    register_method(_name, kinds=("user-interest",), training="none", description=_what)(Scorer)
