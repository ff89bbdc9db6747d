r"""Confidence intervals: per method, and paired per user between methods.

Intervals are Student-t: :math:`\bar x \pm t_{0.975, n-1}\, s / \sqrt n` over
the tasks (users, episodes), NaNs (tasks without a score) dropped; from
fewer than :data:`MIN_TASKS` tasks there is none (NaN). Every
method is scored on the same fixed tasks, so two methods are compared by the
per-task differences, whose interval is much tighter than the overlap of two
separate intervals suggests.

:func:`paired_seeds` also counts the training seeds: a method trained again
with another seed scores differently, and a comparison of two 3-seed means
says little about the next 3 seeds when that spread dominates.
:func:`holm` corrects a table's p-values for its number of comparisons.
"""
from __future__ import annotations

import math
from typing import Any, Sequence

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


def paired_seeds(a: np.ndarray | Sequence[Sequence[float]],
                 b: np.ndarray | Sequence[Sequence[float]]) -> dict[str, Any]:
    r"""The paired difference of two methods over users *and* training seeds.

    ``a`` ``[S_a, U]`` and ``b`` ``[S_b, U]``: per-seed scores on the same
    ``U`` tasks (one row for a deterministic method). The difference is
    that of the seed-averaged scores over the tasks both score,
    :math:`d = \bar a - \bar b`, and its variance adds the two sources a
    new run would redraw:

    - users: :math:`s_u^2 / U`, the variance over tasks of the per-task
      seed-averaged differences (the users-only interval's);
    - seeds: :math:`s_a^2 / S_a + s_b^2 / S_b`, the variances of each
      method's per-seed means (over the same tasks), for every method with
      more than one seed.

    The interval is Student-t with Welch-Satterthwaite degrees of freedom
    (:math:`U - 1` and :math:`S - 1` per source), so 3 seeds give a wide
    one, as they should; the p-value is the two-sided t-test of :math:`d = 0`
    on the same terms. The users term also holds each task's seed noise, so
    the interval errs wide. Returns ``{"diff", "ci95", "p", "n", "seeds",
    "interval"}`` (``interval``: ``"users+seeds"``, or ``"users"`` when
    neither method has more than one seed)."""
    a, b = np.atleast_2d(np.asarray(a, np.float64)), np.atleast_2d(np.asarray(b, np.float64))
    if a.shape[1] != b.shape[1]:
        raise ValueError(f"paired scores need the same tasks, got {a.shape[1]} and "
                         f"{b.shape[1]}")
    ok = ~(np.isnan(a).any(0) | np.isnan(b).any(0))
    a, b = a[:, ok], b[:, ok]
    seeds = [len(a), len(b)]
    interval = "users+seeds" if max(seeds) > 1 else "users"
    n = int(ok.sum())
    if n == 0:
        return {"diff": math.nan, "ci95": math.nan, "p": math.nan, "n": 0, "seeds": seeds,
                "interval": interval}
    d_u = a.mean(0) - b.mean(0)
    diff = float(d_u.mean())
    if n < MIN_TASKS:
        return {"diff": diff, "ci95": math.nan, "p": math.nan, "n": n, "seeds": seeds,
                "interval": interval}
    terms = [(d_u.var(ddof=1) / n, n - 1)]
    for x in (a, b):
        if len(x) > 1:
            terms.append((x.mean(1).var(ddof=1) / len(x), len(x) - 1))
    var = sum(v for v, _ in terms)
    if var == 0:
        return {"diff": diff, "ci95": 0.0, "p": 0.0 if diff else 1.0, "n": n, "seeds": seeds,
                "interval": interval}
    dof = var ** 2 / sum(v ** 2 / k for v, k in terms if v > 0)
    se = math.sqrt(var)
    return {"diff": diff, "ci95": float(stats.t.ppf(0.975, dof) * se),
            "p": float(2 * stats.t.sf(abs(diff) / se, dof)), "n": n, "seeds": seeds,
            "interval": interval}


def holm(p: Sequence[float]) -> list[float]:
    """Holm's step-down adjustment of the p-values ``p`` (Holm, 1979): the
    ``i``-th smallest becomes ``max_{j <= i} min(1, (m - j + 1) p_(j))``;
    NaNs stay NaN and do not count among the ``m`` comparisons."""
    vals = np.asarray(p, np.float64)
    out = np.full(len(vals), math.nan)
    idx = [i for i in np.argsort(vals, kind="stable") if not math.isnan(vals[i])]
    m, running = len(idx), 0.0
    for rank, i in enumerate(idx):
        running = max(running, min(1.0, (m - rank) * vals[i]))
        out[i] = running
    return out.tolist()


__all__ = ["MIN_TASKS", "holm", "mean_ci", "paired_diff", "paired_seeds"]
