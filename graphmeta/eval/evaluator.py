"""The evaluator: which fixed tasks each split is scored on, and how.

It owns the evaluation protocol, so the task samplers only draw tasks:

- **User-interest tasks.** ``protocol="full"`` ranks each user's held-out
  interests against every interest outside its support set (``candidates``:
  a uniform sample of that many of them instead, for catalogues too large
  to score whole); ``"sampled"`` against ``n_query`` negatives drawn as the
  protocol's ``negatives`` says (Krichene & Rendle, KDD 2020, on why sampled negatives
  mislead). The support negatives of these tasks, and so their candidate
  lists, are drawn by the protocol's own ``negatives`` (uniform by
  default), fixed in advance: changing how *training* tasks draw negatives
  (``tasks.negatives``) does not change what any method is scored on.
  Every method is scored on the same users, each user once, by
  :func:`~graphmeta.eval.ranking_metrics`.
- **Few-shot episodes.** A fixed, seeded list of episodes, scored by
  accuracy.

Meta-val tasks are drawn from ``test_seed + 1``, test tasks from
``test_seed``; the test tasks are only drawn when asked for.
"""
from __future__ import annotations

from typing import Any, Callable, Sequence, cast

import numpy as np
import torch
from torch import Tensor

from graphmeta import distributed
from graphmeta.eval.ranking import LONG_LIST, positive_scores, ranking_metrics
from graphmeta.eval.stats import MIN_TASKS
from graphmeta.tasks import EgoTasks, FewShotTasks, LazyBatches, UserInterestTasks
from graphmeta.tasks.interest import NEGATIVES

PROTOCOLS = ("full", "sampled")
# (task, candidate) pairs per evaluation batch, bounding its memory (long
# lists are scored by the model in slices, so more fit), and in a whole
# evaluation set before its batches are built each time they are read.
EVAL_PAIRS = 20_000
LONG_EVAL_PAIRS = 4_000_000
LAZY_PAIRS = 50_000_000


class Evaluator:
    r"""Fixed evaluation tasks and their scoring (see the module docstring).

    Args:
        tasks (EgoTasks): The task sampler.
        protocol (str): User-interest tasks: ``"full"`` or ``"sampled"``.
        candidates (int): ``"full"``: rank against this many sampled
            non-support interests instead of all (0: all).
        negatives (str): How the evaluation tasks' support negatives are
            drawn: ``"uniform"`` or ``"popularity"``.
        n_val, n_test (int): Tasks (users, or episodes) of meta-val and test.
        test_seed (int): Seed of the test tasks (meta-val: ``test_seed + 1``).
        device: Where batches are put.
        chunk (int): At most this many tasks per batch.

    Example:
        >>> ev = Evaluator(tasks, n_test=500)
        >>> scores = ev.evaluate(learner.predict, "test")   # per-task metrics
    """

    def __init__(self, tasks: EgoTasks, *, protocol: str = "full", candidates: int = 0,
                 negatives: str = "uniform", n_val: int = 200, n_test: int = 500,
                 test_seed: int = 12345, device: torch.device | str = "cpu",
                 chunk: int = 100) -> None:
        if protocol not in PROTOCOLS:
            raise ValueError(f"protocol must be one of {PROTOCOLS}, got {protocol!r}")
        if negatives not in NEGATIVES:
            raise ValueError(f"negatives must be one of {NEGATIVES}, got {negatives!r}")
        self.tasks, self.protocol, self.candidates = tasks, protocol, candidates
        self.negatives = negatives
        self.sizes = {"val": n_val, "test": n_test}
        self.seeds = {"val": test_seed + 1, "test": test_seed}
        self.device, self.chunk = torch.device(device), chunk
        self._val: Sequence[Any] | None = None

    def __repr__(self) -> str:
        what = (f"protocol={self.protocol!r}" + (f", candidates={self.candidates}"
                                                   if self.candidates else "")
                + f", negatives={self.negatives!r}" if self.interest else "episodes")
        return f"{self.__class__.__name__}({what}, tasks={self.sizes})"

    @property
    def interest(self) -> bool:
        return isinstance(self.tasks, UserInterestTasks)

    @property
    def name(self) -> str:
        """The protocol as results name it."""
        return self.protocol if self.interest else "episodes"

    # -- the fixed tasks -------------------------------------------------------
    def size(self, split: str) -> tuple[int, list[str]]:
        """How many tasks ``split`` is scored on, and warnings. ``n_val`` and
        ``n_test`` are upper bounds: a split with fewer users scores each
        once (none twice), which the results' task count shows; a warning
        comes only when that leaves fewer than :data:`~graphmeta.eval.stats.MIN_TASKS`
        tasks (no interval) or too few few-shot classes for episodes to differ."""
        n = self.sizes[split]
        if not self.interest:
            episodes = cast(FewShotTasks, self.tasks)
            classes, way = len(episodes.splits[split]), episodes.n_way
            if classes < way + 1:
                return n, [f"{split}: {classes} classes for {way}-way episodes: every episode "
                           f"asks the same {way} classes, so its episodes are not "
                           f"independent problems"]
            return n, []
        users = len(self.tasks.splits[split])
        if users == 0:
            raise ValueError(f"split {split!r} has no users")
        n = min(n, users)
        if n < MIN_TASKS:
            return n, [f"{split}: {n} tasks (the split has {users} users); fewer than "
                       f"{MIN_TASKS} give no confidence interval, and a mean over so few "
                       f"users is anecdote: use a larger split or more users"]
        return n, []

    def users(self, split: str) -> np.ndarray | None:
        """The users of ``split``'s fixed tasks, in the order they are
        scored (None for few-shot episodes, which are not one user's)."""
        if not self.interest:
            return None
        n, _ = self.size(split)
        return cast(UserInterestTasks, self.tasks).fixed_users(split, n,
                                                              self.seeds[split]).numpy()

    def warnings(self) -> list[str]:
        return self.size("val")[1] + self.size("test")[1]

    def batches(self, split: str) -> Sequence[Any]:
        """The fixed tasks of ``split`` as batches on the device (meta-val's
        are kept; the test split's are drawn on each call)."""
        if split == "val" and self._val is not None:
            return self._val
        n, _ = self.size(split)
        out = (self._interest_batches(split, n) if self.interest
               else self._episode_batches(split, n))
        if split == "val":
            self._val = out
        return out

    def _interest_batches(self, split: str, n: int) -> Sequence[Any]:
        """Collated at most ``chunk`` tasks at a time (fewer when query lists
        are long); over :data:`LAZY_PAIRS` (task, candidate) pairs, built
        each time they are read, so memory stays at one batch."""
        tasks: UserInterestTasks = self.tasks          # type: ignore[assignment]
        full = self.protocol == "full"
        plan = tasks.fixed_plan(split, n, self.seeds[split], full, self.candidates,
                                self.negatives)
        longest = tasks.num_interests - 2 * tasks.k_shot if full else 0
        if self.candidates:     # a user's other positives and `candidates` negatives
            longest = min(longest, self.candidates + int(tasks._n_pos.max()) - tasks.k_shot)
        if len(plan) * longest <= LAZY_PAIRS:
            drawn = [make() for make in plan]
            longest = max(len(t.query_items) for t in drawn)
            step = self._step(longest)
            return [tasks.collate(drawn[i:i + step]).to(self.device)
                    for i in range(0, len(drawn), step)]
        step = self._step(longest)
        return LazyBatches(lambda i: tasks.collate([make() for make in
                                                    plan[i * step:(i + 1) * step]]
                                                   ).to(self.device), -(-len(plan) // step))

    def _step(self, longest: int) -> int:
        budget = LONG_EVAL_PAIRS if longest > LONG_LIST else EVAL_PAIRS
        return max(1, min(self.chunk, budget // max(longest, 1)))

    def _episode_batches(self, split: str, n: int) -> Sequence[Any]:
        """Episodes collated ``chunk // 4`` at a time on each pass (a batch
        holds ``N * (K + Q)`` dense subgraphs per episode; keeping every
        chunk collated would hold hundreds of MB)."""
        tasks = cast(FewShotTasks, self.tasks)
        episodes = tasks.episodes(split, n, self.seeds[split])
        step = max(1, self.chunk // 4)
        return LazyBatches(lambda i: tasks.collate(episodes[i * step:(i + 1) * step]
                                                        ).to(self.device),
                           -(-len(episodes) // step))

    # -- scoring ---------------------------------------------------------------
    def score(self, pred: Tensor, batch: Any) -> dict[str, np.ndarray]:
        """Per-task metrics of predictions on ``batch``: user-interest scores
        ``[T, Q]`` (or binary logits ``[T, Q, 2]``) by ranking metrics,
        few-shot logits ``[T, Q, N]`` by accuracy."""
        if not self.interest:
            return {"accuracy": (pred.argmax(-1) == batch.query_y).double().mean(1).cpu().numpy()}
        if pred.dim() == 3:
            pred = positive_scores(pred)
        return ranking_metrics(pred, batch.query_y, batch.query_mask)

    def evaluate(self, predict: Callable[[Any], Tensor], batches: str | Sequence[Any]
                 ) -> dict[str, np.ndarray]:
        """Per-task metrics of ``predict(batch)`` over ``batches`` (a split's
        name, or batches). In a distributed run the batches are shared out
        and every rank gets every score, in order."""
        if isinstance(batches, str):
            batches = self.batches(batches)
        if not distributed.active():
            parts = [self.score(predict(b), b) for b in batches]
        else:
            try:
                mine = [(i, self.score(predict(b), b)) for i, b in distributed.mine(batches)]
                error = None
            except FloatingPointError as e:     # a diverged share: every rank must still
                mine, error = [], str(e)        # gather, then all raise together
            gathered = distributed.gather((error, mine))
            errors = [e for e, _ in gathered if e is not None]
            if errors:
                raise FloatingPointError(errors[0])
            parts = [p for _, p in sorted(x for _, r in gathered for x in r)]
        return {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}


__all__ = ["EVAL_PAIRS", "Evaluator", "LAZY_PAIRS", "PROTOCOLS"]
