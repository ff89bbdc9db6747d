r"""Confidence intervals: per method, and paired per user between methods.

Intervals are Student-t: :math:`\bar x \pm t_{0.975, n-1}\, s / \sqrt n` over
the tasks (users, episodes), NaNs (tasks without a score) dropped; from
fewer than :data:`MIN_TASKS` tasks there is none (NaN). Every
method is scored on the same fixed tasks, so two methods are compared by the
per-task differences, whose interval is much tighter than the overlap of two
separate intervals suggests.
"""
from __future__ import annotations

import math
from typing import Sequence

import numpy as np
from scipy import stats


# Fewer tasks than this give no interval: a t-interval over 2 or 3 users
# is a formality (and 0 wide when they agree), not evidence.
MIN_TASKS = 10


def _t_half_width(v: np.ndarray) -> float:
    if len(v) < MIN_TASKS:
        return math.nan
    return float(stats.t.ppf(0.975, len(v) - 1) * v.std(ddof=1) / math.sqrt(len(v)))


def mean_ci(values: np.ndarray | Sequence[float]) -> dict[str, float]:
    """``{"mean", "ci95", "n"}`` of ``values`` (NaNs dropped)."""
    v = np.asarray(values, dtype=np.float64)
    v = v[~np.isnan(v)]
    if len(v) == 0:
        return {"mean": math.nan, "ci95": math.nan, "n": 0}
    return {"mean": float(v.mean()), "ci95": _t_half_width(v), "n": int(len(v))}


def paired_diff(a: np.ndarray | Sequence[float], b: np.ndarray | Sequence[float]
                ) -> dict[str, float]:
    """``{"diff", "ci95", "n"}``: the mean of ``a - b`` over the tasks both
    score, with its paired 95% interval."""
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    if a.shape != b.shape:
        raise ValueError(f"paired scores need the same tasks, got {a.shape} and {b.shape}")
    d = a - b
    d = d[~np.isnan(d)]
    if len(d) == 0:
        return {"diff": math.nan, "ci95": math.nan, "n": 0}
    return {"diff": float(d.mean()), "ci95": _t_half_width(d), "n": int(len(d))}


__all__ = ["MIN_TASKS", "mean_ci", "paired_diff"]
