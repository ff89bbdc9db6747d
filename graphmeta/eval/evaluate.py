"""Scoring a learner on fixed task batches."""
from __future__ import annotations

from typing import Any, Iterable

import numpy as np


def evaluate(learner: Any, tasks: Any, batches: Iterable[Any]) -> dict[str, np.ndarray]:
    """Per-task metrics of ``learner.predict`` on ``batches``, scored by the
    task sampler (:meth:`~graphmeta.tasks.EgoTasks.score`): accuracy and
    ROC-AUC on user-interest tasks, accuracy on few-shot episodes."""
    learner.eval()
    parts = [tasks.score(learner.predict(b), b) for b in batches]
    return {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}
