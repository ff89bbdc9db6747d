"""Scoring a meta-selector on meta-val by 2-fold cross-fitting, and the
fallback rule: one protocol, which :class:`~graphmeta.methods.selection.Selection`
applies and the analysis scripts under ``benchmarks/`` reuse, so that they
measure exactly what the method does.

``data`` is what :meth:`Selection.collect` gathers over tasks: meta-features
``X [T, F]``, the candidates' scores ``[L, T, S]``, labels and item masks
``[T, S]``, and each candidate's per-task metric ``[T, L]``.
"""
from __future__ import annotations

from typing import Callable

import numpy as np
import torch

from graphmeta.eval import ranking_metrics
from graphmeta.meta.selection import MetaSelector, StackedBlend


def subset(data: tuple[np.ndarray, ...], keep: np.ndarray) -> tuple[np.ndarray, ...]:
    """The tasks ``keep`` of what :meth:`Selection.collect` gathers."""
    X, scores, y, mask, per_task = data
    return X[keep], scores[:, keep], y[keep], mask[keep], per_task[keep]


def fit_selector(mode: str, selector: MetaSelector | StackedBlend,
                 data: tuple[np.ndarray, ...]) -> MetaSelector | StackedBlend:
    """Fits ``selector`` (of ``mode`` "knn", "classifier" or "blend") on
    collected tasks ``data`` (:meth:`Selection.collect`'s tuple)."""
    X, scores, y, mask, per_task = data
    return selector.fit(X, scores, y, mask) if mode == "blend" else selector.fit(X, per_task)


def selector_metric(mode: str, selector: MetaSelector | StackedBlend,
                    data: tuple[np.ndarray, ...], metric: str) -> np.ndarray:
    """A fitted selector's per-task ``metric`` on collected tasks ``data``."""
    X, scores, y, mask, per_task = data
    if mode == "blend":
        out = selector.predict(X, scores, mask)
        return np.asarray(ranking_metrics(torch.from_numpy(out), torch.from_numpy(y),
                                          torch.from_numpy(mask))[metric], dtype=float)
    return per_task[np.arange(len(X)), selector.predict(X)]


def cross_fit(mode: str, make: Callable[[], MetaSelector | StackedBlend],
              data: tuple[np.ndarray, ...], metric: str) -> tuple[np.ndarray, np.ndarray]:
    """2-fold cross-fitting over collected tasks ``data`` (alternate tasks in
    each half): per task, ``metric`` of a selector built by ``make`` and
    fitted on the other half, and of the candidate best on average on the
    other half (``per_task`` must hold ``metric``). Both arrays ``[T]``."""
    n = len(data[0])
    half = np.arange(n) % 2 == 0
    own, single = np.full(n, np.nan), np.full(n, np.nan)
    for test in (half, ~half):
        fit, held = subset(data, ~test), subset(data, test)
        own[test] = selector_metric(mode, fit_selector(mode, make(), fit), held, metric)
        single[test] = held[4][:, best_candidate(fit[4])]
    return own, single


def best_candidate(per_task: np.ndarray) -> int:
    """The candidate with the best mean per-task metric ``[T, L]``."""
    return int(np.nanargmax(np.nanmean(per_task, 0)))


def fallback_decision(own: np.ndarray, single: np.ndarray) -> tuple[dict[str, float], bool]:
    """From :func:`cross_fit`'s per-task scores: the selector's and the best
    single candidate's mean over the tasks both scored (rounded to 6
    decimals, as saved and reported), and whether the single candidate is
    preferred (the selector's mean is not higher). The one rule
    ``Selection.fit`` and the analysis scripts apply."""
    ok = ~np.isnan(own) & ~np.isnan(single)
    val = {"selector": round(float(own[ok].mean()), 6),
           "best_single": round(float(single[ok].mean()), 6)}
    return val, val["selector"] <= val["best_single"]


__all__ = ["best_candidate", "cross_fit", "fallback_decision", "fit_selector", "selector_metric",
           "subset"]
