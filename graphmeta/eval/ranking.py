r"""Per-user ranking metrics: each user's relevant items ranked among its candidates.

For every task (user) the scores of its candidates are compared with its
labels (1 = relevant: a held-out interest). Metrics:

- ``auc``: ROC-AUC (``sklearn.metrics.roc_auc_score``; ties count one half).
- ``ndcg@k``: normalised discounted cumulative gain of the top ``k``
  (``sklearn.metrics.ndcg_score``, which averages over tied scores).
- ``recall@k``: relevant items in the top ``k``, over
  :math:`\min(k, |\text{relevant}|)` (so a perfect ranking scores 1 whatever
  the user's number of held-out interests, as in Liang et al., WWW 2018).
- ``mrr``: the reciprocal rank of the first relevant item.

Recall and MRR are the expectation over a uniformly random order of tied
scores, so a scorer that ties many candidates (a neighbour vote of zeros) is
neither flattered nor penalised by the sort order; sklearn has no such
recall or MRR, hence the hand-written part.
"""
from __future__ import annotations

import math
from typing import Sequence

import numpy as np
from scipy.special import gammaln
from sklearn.metrics import ndcg_score, roc_auc_score
import torch
from torch import Tensor

KS = (10, 20)


def metric_names(ks: Sequence[int] = KS) -> list[str]:
    """The names :func:`ranking_metrics` returns: ``auc``, ``ndcg@k`` at the
    first cut-off, ``recall@k`` at each, ``mrr``."""
    return ["auc", f"ndcg@{ks[0]}", *[f"recall@{k}" for k in ks], "mrr"]


def _tie_groups(s: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Scores sorted descending as tie groups: (start rank, size, order)."""
    order = np.argsort(-s, kind="stable")
    ss = s[order]
    new = np.r_[True, ss[1:] != ss[:-1]]
    starts = np.flatnonzero(new)
    sizes = np.diff(np.r_[starts, len(ss)])
    return starts, sizes, order


def expected_recall_at_k(s: np.ndarray, y: np.ndarray, k: int) -> float:
    """Recall@k (over ``min(k, #relevant)``), expected over random tie order."""
    n_rel = int(y.sum())
    if n_rel == 0:
        return math.nan
    starts, sizes, order = _tie_groups(s)
    rel = y[order]
    hits = 0.0
    for a, g in zip(starts, sizes):
        if a >= k:
            break
        r = rel[a:a + g].sum()
        take = min(g, k - a)                 # slots of this group inside the top k
        hits += r * take / g
    return hits / min(k, n_rel)


def _first_hit_mrr(a: int, g: int, r: int) -> float:
    """1 / rank of the first relevant item when ``a`` candidates score above
    a tie group of ``g``, ``r`` of them relevant, expected over the group's
    random order: the first of the ``r`` is at slot ``x`` (1-based) with
    probability C(g - x, r - 1) / C(g, r), taken in logs (a group may hold
    10^6 tied candidates)."""
    x = np.arange(1, g - r + 2)
    logp = (gammaln(g - x + 1) - gammaln(r) - gammaln(g - x - r + 2)
            - (gammaln(g + 1) - gammaln(r + 1) - gammaln(g - r + 1)))
    return float((np.exp(logp) / (a + x)).sum())


def expected_mrr(s: np.ndarray, y: np.ndarray) -> float:
    """1 / rank of the first relevant item, expected over random tie order."""
    if y.sum() == 0:
        return math.nan
    starts, sizes, order = _tie_groups(s)
    rel = y[order]
    for a, g in zip(starts, sizes):
        r = int(rel[a:a + g].sum())
        if r:
            return _first_hit_mrr(int(a), int(g), r)
    return math.nan


# Candidate lists longer than this are "long": their metrics skip full
# sorts (:func:`_many_candidates`) and the evaluator batches more of them.
LONG_LIST = 2048
# Up to this many candidates, every task's list is sorted at once (one
# argsort of [T, S]); longer lists are counted task by task, never sorted.
SORT_ALL = 16384


def positive_scores(logits: Tensor) -> Tensor:
    """Scores ``[T, Q]`` of binary logits ``[T, Q, 2]``: the log-odds of
    class 1, ``l1 - l0``. They rank candidates as the probability of class 1
    (``softmax(logits)[..., 1] = sigmoid(l1 - l0)``) does, without its
    rounding: a float32 probability is exactly 1.0 once the log-odds pass
    about 17, and candidates the model tells apart would tie, which the
    metrics count in expectation (graphmeta 0.3 ranked by that
    probability). ``torch.sigmoid`` of these scores gives the probability."""
    return logits[..., 1] - logits[..., 0]


def _dcg_at_k(s: np.ndarray, t: np.ndarray, k: int) -> float:
    """DCG@k with sklearn's tie rule (a tie group's gain is its mean
    relevance), of scores ``s`` that include every candidate ranked above
    the k-th (a prefix of the ranking, whole tie groups)."""
    starts, sizes, order = _tie_groups(s)
    rel = t[order]
    disc = 1 / np.log2(np.arange(k) + 2)
    dcg = 0.0
    for a, g in zip(starts, sizes):
        if a >= k:
            break
        dcg += rel[a:a + g].mean() * disc[a:min(a + g, k)].sum()
    return float(dcg)


def _many_candidates(s: np.ndarray, t: np.ndarray, ks: Sequence[int]) -> dict[str, float]:
    """The same metrics as the general path, without sorting the whole list
    (for catalogues of 10^4-10^6 candidates and few relevant ones): ROC-AUC
    from each relevant item's counts of lower and tied irrelevant ones; the
    top-k metrics on the prefix of candidates scored at least the
    ``max(ks)``-th score (whole tie groups, found by ``np.partition``); MRR
    from the counts above and tied with the best relevant score."""
    pos = s[t]
    n_rel = len(pos)
    if n_rel <= 64:     # count over all candidates, then take the relevant ones out
        below = np.array([np.count_nonzero(s < p) - np.count_nonzero(pos < p) for p in pos])
        tied = np.array([np.count_nonzero(s == p) - np.count_nonzero(pos == p) for p in pos])
    else:
        sn = np.sort(s[~t])
        below = np.searchsorted(sn, pos, "left")
        tied = np.searchsorted(sn, pos, "right") - below
    out = {"auc": float((below + 0.5 * tied).sum() / (n_rel * (len(s) - n_rel)))}
    top = max(ks)
    thr = np.partition(s, len(s) - top)[len(s) - top] if len(s) > top else s.min()
    prefix = s >= thr
    sp, tp = s[prefix], t[prefix]
    idcg = (1 / np.log2(np.arange(min(ks[0], n_rel)) + 2)).sum()
    out[f"ndcg@{ks[0]}"] = _dcg_at_k(sp, tp, ks[0]) / idcg
    for k in ks:    # hits in the top k, over min(k, all relevant items)
        hits = expected_recall_at_k(sp, tp, k) * min(k, int(tp.sum())) if tp.sum() else 0.0
        out[f"recall@{k}"] = hits / min(k, n_rel)
    best = pos.max()
    out["mrr"] = _first_hit_mrr(int((s > best).sum()), int((s == best).sum()),
                                int((pos == best).sum()))
    return out


def _untied(s: np.ndarray, t: np.ndarray, m: np.ndarray, ks: Sequence[int]
            ) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Every metric of every task at once, one sort of ``[T, S]``: exact for
    the tasks whose candidate scores are all distinct and that have both
    relevant and irrelevant candidates, which the first array marks (the
    others take the per-task paths, which handle ties)."""
    S = s.shape[1]
    key = np.where(m, s, -np.inf)
    order = np.argsort(-key, axis=1, kind="stable")
    ss = np.take_along_axis(key, order, 1)
    rel = np.take_along_axis(t & m, order, 1)
    n, n_rel = m.sum(1), rel.sum(1)
    inside = np.arange(S)[None, :] < n[:, None]
    ok = ~((ss[:, 1:] == ss[:, :-1]) & inside[:, 1:]).any(1) & (n_rel > 0) & (n_rel < n)
    rank = np.arange(1, S + 1)[None, :]                  # 1 = the top
    with np.errstate(divide="ignore", invalid="ignore"):
        # irrelevant candidates below each relevant one: n - rank, less the
        # relevant ones below it (n_rel (n_rel - 1) / 2 pairs in all)
        below = (rel * (n[:, None] - rank)).sum(1) - n_rel * (n_rel - 1) / 2
        out = {"auc": below / (n_rel * (n - n_rel))}
        disc = 1 / np.log2(np.arange(max(ks)) + 2)
        k0 = min(ks[0], S)
        ideal = np.r_[0.0, np.cumsum(disc)][np.minimum(ks[0], n_rel)]
        out[f"ndcg@{ks[0]}"] = (rel[:, :k0] * disc[:k0]).sum(1) / ideal
        for k in ks:
            out[f"recall@{k}"] = rel[:, :k].sum(1) / np.minimum(k, n_rel)
        out["mrr"] = 1.0 / (rel.argmax(1) + 1)
    return ok, out


def ranking_metrics(scores: Tensor, y: Tensor, mask: Tensor, ks: Sequence[int] = KS,
                    many: int = 0) -> dict[str, np.ndarray]:
    """Per-task metrics of ``scores``, ``y``, ``mask`` ``[T, S]`` (see the
    module docstring). A task without both relevant and irrelevant
    candidates gets NaN, which means leave out. Tasks of more than ``many``
    candidates (by default all) take the counting path
    (:func:`_many_candidates`): the same numbers as sklearn's
    ``roc_auc_score`` and ``ndcg_score`` and the sorting path, which the
    tests check it against (``many`` above every list's length), at a
    fraction of the cost (sklearn validates its input on every call: 4.5
    ms a task, 90% of a meta-val evaluation on the demo). Non-finite
    scores (a diverged model) raise ``FloatingPointError``, which tuning
    counts as a losing configuration."""
    # Only the order and ties of the scores count.
    scores = scores.detach().cpu()
    s_all = (scores if scores.dtype in (torch.float32, torch.float64) else scores.float()).numpy()
    y_all, m_all = y.cpu().numpy(), mask.cpu().numpy()
    bad = ~np.isfinite(s_all) & m_all.astype(bool)
    if bad.any():
        raise FloatingPointError(f"{int(bad.sum())} candidate scores are NaN or infinite "
                                 f"(in {int(bad.any(1).sum())} of {len(s_all)} tasks): the "
                                 f"model diverged; try a smaller learning rate")
    out: dict[str, list[float]] = {name: [] for name in metric_names(ks)}
    untied = _untied(s_all, y_all == 1, m_all.astype(bool), ks) \
        if s_all.shape[1] <= SORT_ALL else None
    for i, (s, t, m) in enumerate(zip(s_all, y_all, m_all)):
        if untied is not None and untied[0][i]:
            for name, v in untied[1].items():
                out[name].append(float(v[i]))
            continue
        s, t = (s, t == 1) if m.all() else (s[m], t[m] == 1)
        n_rel = np.count_nonzero(t)
        if 0 < n_rel < len(t) and len(t) > many:
            for name, value in _many_candidates(s, t, ks).items():
                out[name].append(value)
            continue
        s, t = s.astype(np.float64), t.astype(np.int64)
        if 0 < n_rel < len(t):
            out["auc"].append(float(roc_auc_score(t, s)))
            out[f"ndcg@{ks[0]}"].append(float(ndcg_score(t[None], s[None], k=ks[0])))
            for k in ks:
                out[f"recall@{k}"].append(expected_recall_at_k(s, t, k))
            out["mrr"].append(expected_mrr(s, t))
        else:
            for name in out:
                out[name].append(math.nan)
    return {k: np.array(v) for k, v in out.items()}


__all__ = ["KS", "LONG_LIST", "expected_mrr", "expected_recall_at_k", "metric_names",
           "positive_scores", "ranking_metrics"]
