r"""Features computed from the tasks, as transforms of their batches.

:class:`ContextFeatures` gives every user-interest batch ``item_context``
``[T, C, 4]``: per task, each interest's

- ``popularity`` among known users,
- ``cooccurrence``: its mean cosine co-occurrence with the task's support
  positives,
- ``neighbours``: its frequency among the ego's known neighbours,
- ``neighbour_cooccurrence``: its mean cosine co-occurrence with those
  neighbours' interests (weighted by their frequency),

the statistics of ``popularity``, ``itemknn``, ``neighbor-vote`` and
``graph-knn``, counted over the known users (everyone but the meta-val and
meta-test users, as the scorers count them) with the ego's own row left
out, each standardised over the catalogue within the task. The head
of :class:`~graphmeta.models.InterestModel` reads them
(``interest_model(tasks)`` does when the tasks carry them)::

    tasks = UserInterestTasks(data, transform=ContextFeatures())
"""
from __future__ import annotations

import torch
from torch import Tensor

from graphmeta.tasks import TaskBatch, UserInterestTasks
from graphmeta.tasks.stats import loo_cooccurrence, neighbour_frequency

CONTEXT_FEATURES = ("popularity", "cooccurrence", "neighbours", "neighbour_cooccurrence")


class ContextFeatures:
    """Per-candidate context features of user-interest tasks (see the module
    docstring), a :class:`~graphmeta.tasks.BatchTransform`."""
    features = CONTEXT_FEATURES

    def __init__(self) -> None:
        self.tasks: UserInterestTasks | None = None

    def __repr__(self) -> str:
        return f"{self.__class__.__name__}()"

    def attach(self, tasks: UserInterestTasks) -> None:
        """Counts co-occurrences over ``tasks``' known users, once."""
        if not isinstance(tasks, UserInterestTasks):
            raise TypeError(f"ContextFeatures applies to UserInterestTasks, not "
                            f"{type(tasks).__name__}")
        self.tasks = tasks
        # float32: counts are exact below 2^24 users, the statistics are
        # standardised per task, and float64 made the products twice as slow.
        known = tasks.interests[tasks.known].float()
        self._co = known.T @ known                                          # [C, C]
        self._n_known = len(known)
        self._known_interests = (tasks.interests & tasks.known[:, None]).float()

    def __call__(self, batch: TaskBatch) -> TaskBatch:
        if self.tasks is None:
            raise RuntimeError("ContextFeatures is not attached to tasks: pass it as "
                               "UserInterestTasks(..., transform=ContextFeatures())")
        batch.item_context = self.context(batch).to(batch.graphs.x.dtype)
        return batch

    def context(self, batch: TaskBatch) -> Tensor:
        """:data:`CONTEXT_FEATURES` of every interest for every task ``[T, C, 4]``."""
        tasks = self.tasks
        users = batch.users
        own = (tasks.interests[users] & tasks.known[users, None]).float()       # [T, C]
        n_known = self._n_known - tasks.known[users].float()
        pop = (self._co.diagonal().unsqueeze(0) - own) / n_known.unsqueeze(1).clamp_min(1)
        support = torch.zeros_like(own).scatter_(1, batch.support_items,
                                                 (batch.support_y == 1).float())
        knn = loo_cooccurrence(self._co, own, support)
        nbr = neighbour_frequency(batch.graphs, self._known_interests, tasks.known)
        ctx = torch.stack([pop, knn, nbr, loo_cooccurrence(self._co, own, nbr)], -1)
        # Standardised within the task: the order of the catalogue is kept,
        # and the scale no longer depends on how dense the data is.
        std = ctx.std(1, keepdim=True)
        return (ctx - ctx.mean(1, keepdim=True)) / torch.where(std > 0, std, 1)


__all__ = ["CONTEXT_FEATURES", "ContextFeatures"]
