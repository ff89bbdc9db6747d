"""Scoring a learner on fixed task batches."""
from __future__ import annotations

from typing import Any, Iterable

import numpy as np


def evaluate(learner: Any, tasks: Any, batches: Iterable[Any]) -> dict[str, np.ndarray]:
    """Per-task metrics of ``learner.predict`` on ``batches``, scored by the
    task sampler (:meth:`~graphmeta.tasks.EgoTasks.score`): accuracy and
    ROC-AUC on user-interest tasks, accuracy on few-shot episodes. In a
    distributed run the batches are shared out and the scores gathered."""
    from graphmeta import distributed
    learner.eval()
    if not distributed.active():
        parts = [tasks.score(learner.predict(b), b) for b in batches]
    else:   # each rank scores its share of the batches; all get every score, in order
        try:
            mine = [(i, tasks.score(learner.predict(b), b)) for i, b in distributed.mine(batches)]
            error = None
        except FloatingPointError as e:     # a diverged share: every rank must still gather,
            mine, error = [], str(e)        # then all raise together and stay in step
        gathered = distributed.gather((error, mine))
        errors = [e for e, _ in gathered if e is not None]
        if errors:
            raise FloatingPointError(errors[0])
        parts = [p for _, p in sorted(x for _, r in gathered for x in r)]
    return {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}
