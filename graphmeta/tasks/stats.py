"""Interest statistics over known users, shared by the scorers
(:mod:`graphmeta.methods.scorers`) and the per-candidate context features
that user-interest batches can carry (:meth:`UserInterestTasks.collate`)."""
from __future__ import annotations

from typing import Optional

import numpy as np
import torch
from torch import Tensor

from graphmeta.tasks.batch import GraphBatch


WEIGHTINGS = ("none", "tfidf", "bm25")
SIMILARITIES = ("cosine", "asymmetric", "jaccard")


def weight_interactions(x: Tensor, weighting: str = "none", k1: float = 1.2,
                        b: float = 0.75) -> Tensor:
    """A user-item matrix ``x`` ``[U, C]`` reweighted before item-item
    similarity, as Dacrema et al. (RecSys 2019) weight it for ItemKNN:
    each interest is a document whose terms are the users who like it.
    ``tfidf``: ``x * log(C / (1 + n_u))`` (``n_u``: the user's interests);
    ``bm25``: Okapi BM25 with ``k1`` and ``b``, an interest's length its
    number of users; ``none``: ``x`` itself."""
    if weighting == "none":
        return x
    if weighting not in WEIGHTINGS:
        raise ValueError(f"unknown weighting {weighting!r} ({', '.join(WEIGHTINGS)})")
    idf = torch.log(x.shape[1] / (1 + x.sum(1, keepdim=True)))         # [U, 1]
    if weighting == "tfidf":
        return x.sqrt() * idf
    return x * (k1 + 1) / (k1 * _bm25_length_norm(x, b) + x) * idf


def _bm25_length_norm(x: Tensor, b: float) -> Tensor:
    """BM25's length normalisation ``[C]`` of each interest (a document of
    the users who like it): ``(1 - b) + b * length / mean length``."""
    length = x.sum(0)
    return (1 - b) + b * length / length.mean().clamp_min(1e-12)


def history_weights(x: Tensor, weighting: str = "none", k1: float = 1.2,
                    b: float = 0.75) -> Tensor:
    """Per-interest factors ``[C]`` for a task's binary history under
    ``weighting``, so that it is weighted as the users' rows of ``x``
    ``[U, C]`` are (Dacrema et al. score a user's *weighted* row): BM25's
    ``(k1 + 1) / (k1 * norm_c + 1)``; ones otherwise (TF-IDF's factor is one
    per user, which no ranking of that user sees)."""
    if weighting != "bm25":
        return x.new_ones(x.shape[1])
    return (k1 + 1) / (k1 * _bm25_length_norm(x, b) + 1)


def cooccurrence(x: Tensor, weighting: str = "none") -> Tensor:
    """``W^T W`` ``[C, C]`` of the weighted user-item matrix ``W`` (:func:`weight_interactions`)."""
    w = weight_interactions(x, weighting)
    return w.T @ w


def item_similarity(train: Tensor, kind: str = "cosine", alpha: float = 0.5,
                    shrink: float = 0.0, topk: int = 0, weighting: str = "none",
                    co: Optional[Tensor] = None) -> Tensor:
    """Item-item similarity ``[C, C]`` from a user-item matrix ``train``
    ``[U, C]``, zero diagonal. ``S[c, p]``: how much liking ``p`` says about ``c``.
    ``kind``: ``cosine``, ``asymmetric`` (cosine with exponent ``alpha`` on
    ``c``'s norm and ``1 - alpha`` on ``p``'s, Aiolli 2013) or ``jaccard``
    (Tanimoto on weighted data); ``shrink`` damps pairs seen by few users;
    ``topk`` keeps each interest's ``topk`` most similar (0: all), as
    ItemKNN's neighbourhood; ``weighting``: :func:`weight_interactions`.
    ``co``: :func:`cooccurrence` of ``train`` under ``weighting``, when
    already computed (tuning reuses it)."""
    if co is None:
        co = cooccurrence(train, weighting)
    n = co.diagonal().clamp_min(1e-12)
    sim = _normalised(co, n[:, None], n[None, :], kind, alpha, shrink)
    sim.fill_diagonal_(0)
    return keep_top(sim, topk)


def _normalised(co: Tensor, n_row: Tensor, n_col: Tensor, kind: str, alpha: float,
                shrink: float) -> Tensor:
    """Co-occurrences ``co`` ``[R, K]`` turned into similarities from the
    rows' and columns' norms (``n_row`` ``[R, 1]``, ``n_col`` ``[1, K]``:
    sums of squares): cosine, asymmetric cosine (``alpha`` on the row's
    norm) or Jaccard, each denominator plus ``shrink``. One set of formulas
    for item-item (:func:`item_similarity`) and task-user
    (:func:`profile_similarity`) similarity."""
    if kind == "cosine":
        den = n_row.sqrt() * n_col.sqrt() + shrink
    elif kind == "asymmetric":
        den = n_row ** alpha * n_col ** (1 - alpha) + shrink
    elif kind == "jaccard":
        den = n_row + n_col - co + shrink
    else:
        raise ValueError(f"unknown similarity {kind!r} ({', '.join(SIMILARITIES)})")
    return co / den.clamp_min(1e-12)


def keep_top(sim: Tensor, topk: int) -> Tensor:
    """``sim`` ``[C, C]`` with all but each row's ``topk`` largest entries
    zeroed (``topk`` 0 or at least ``C``: unchanged)."""
    if topk <= 0 or topk >= sim.shape[1]:
        return sim
    idx = sim.topk(topk, dim=1).indices
    return torch.zeros_like(sim).scatter_(1, idx, sim.gather(1, idx))


def rp3beta(train: Tensor, alpha: float = 1.0, beta: float = 0.5, topk: int = 0,
            normalize: bool = False) -> Tensor:
    """RP3beta's item-item weights ``W`` ``[C, C]`` (Paudel et al., ACM TiiS
    2016; as in Dacrema et al.'s implementation): the probability of a
    3-step random walk interest -> user -> interest, each transition
    probability raised to ``alpha``, divided by the destination's
    popularity to the power ``beta``; zero diagonal, each row's ``topk``
    largest kept (0: all), rows rescaled to sum 1 with ``normalize``.
    Scores: ``history @ W``."""
    def power(p: Tensor) -> Tensor:     # a walk never takes a missing edge, even at alpha 0
        return torch.where(p > 0, p.clamp_min(1e-300) ** alpha, 0)
    p_ui = power(train / train.sum(1, keepdim=True).clamp_min(1))         # user -> interest
    p_iu = power(train / train.sum(0, keepdim=True).clamp_min(1)).T       # interest -> user
    pop = train.sum(0).clamp_min(1)
    w = (p_iu @ p_ui) / pop[None, :] ** beta
    w.fill_diagonal_(0)
    w = keep_top(w, topk)
    if normalize:
        w = w / w.sum(1, keepdim=True).clamp_min(1e-12)
    return w


def profile_similarity(h: Tensor, x: Tensor, kind: str = "cosine", alpha: float = 0.5,
                        shrink: float = 0.0) -> Tensor:
    """Similarity ``[T, K]`` of binary profiles ``h`` ``[T, C]`` and ``x``
    ``[K, C]`` (the formulas of :func:`item_similarity`, the task's norm
    first): user-kNN's similarity of a task's history to known users."""
    return _normalised(h @ x.T, h.sum(1, keepdim=True), x.sum(1)[None, :], kind, alpha,
                       shrink)


def social_votes(graphs: GraphBatch, history: Tensor, known_interests: Tensor, known: Tensor,
                 direct: bool = False, shrink: float = 0.0, smoothing: float = 0.1) -> Tensor:
    """User-kNN over the social neighbourhood ``[T, C]``: every known user
    of each ego-subgraph (or, with ``direct``, the ego's direct
    neighbours; never the ego) votes for its interests
    (``known_interests`` ``[N, C]``), weighted by the cosine similarity of
    its interests to the task's ``history`` ``[T, C]`` (with ``shrink``)
    plus ``smoothing``; votes are normalised by their total weight."""
    ids = graphs.node_ids.cpu()
    voters = (ids >= 0) & known[ids.clamp_min(0)]
    voters[:, 0] = False
    if direct:
        voters &= graphs.adj[:, 0].cpu() > 0
    t, j = voters.nonzero(as_tuple=True)
    rows = known_interests[ids[t, j]]                                  # [P, C]
    ht = history[t]                                                    # each voter's task
    co = (ht * rows).sum(1)
    w = co / ((ht.sum(1) * rows.sum(1)).sqrt() + shrink).clamp_min(1e-12) + smoothing
    votes = history.new_zeros(history.shape).index_add_(0, t, w[:, None] * rows)
    total = history.new_zeros(history.shape[0]).index_add_(0, t, w)
    return votes / total.clamp_min(1e-12)[:, None]


def neighbour_frequency(graphs: GraphBatch, known_interests: Tensor, known: Tensor) -> Tensor:
    """How often each interest is liked among each ego's direct neighbours
    whose interests are known: ``[T, C]`` (``known_interests`` ``[N, C]``,
    zero rows for unknown users; ``known`` ``[N]``)."""
    ids = graphs.node_ids.cpu()
    nbr = (graphs.adj[:, 0].cpu() > 0) & (ids >= 0)            # the ego's neighbours
    nbr &= known[ids.clamp_min(0)]
    # Gather only the neighbours' rows and add them per ego, not a dense
    # [T, N, C] gather of every node's row: that grows with the catalogue.
    t, j = nbr.nonzero(as_tuple=True)
    votes = known_interests.new_zeros(nbr.shape[0], known_interests.shape[1])
    votes.index_add_(0, t, known_interests[ids[t, j]])
    return votes / nbr.sum(1, keepdim=True).clamp_min(1)


def loo_cooccurrence(co: Tensor, own: Tensor, profile: Tensor) -> Tensor:
    """Mean cosine co-occurrence ``[T, C]`` of every interest with each
    task's ``profile`` ``[T, C]`` (non-negative weights over interests: the
    support positives, or the neighbours' interest frequencies), an
    interest's own weight left out, and with the ego's own row left out of
    the counts (``own`` ``[T, C]``: the ego's interests when it is one of
    the users counted, else zeros), so a training ego's query interests do
    not co-occur with its profile through its own row.

    With ``co' = co - own own^T`` and ``n' = diag(co) - own`` per task,
    ``sim'[c, p] = co'[c, p] / sqrt(n'_c n'_p)`` and the result is
    ``sum_{p != c} w_p sim'[c, p] / sum_p w_p``: one sparse ``[T, C]`` by
    dense ``[C, C]`` matmul (profiles are sparse: ``k`` support positives,
    the neighbours' few interests, so its cost follows their non-zeros),
    never a per-task ``[C, C]`` matrix."""
    counts = co.diagonal().unsqueeze(0) - own                       # n' [T, C]
    n = counts.clamp_min(1).sqrt()
    u = profile / n
    s = torch.sparse.mm(u.to_sparse(), co)                          # co is symmetric
    s = s - own * (own * u).sum(1, keepdim=True)                    # the ego's own row
    s = s - u * counts                                              # p == c
    return s / n / profile.sum(1, keepdim=True).clamp_min(1e-12)


def svd_features(interests: Tensor, known: Tensor, k: int, seed: int) -> tuple[Tensor, Tensor]:
    """The known users' interests (rows of ``interests`` ``[N, C]`` where
    ``known``) projected on the top ``k`` right singular vectors of that
    matrix: ``([N, k], components [C, k])``. scikit-learn's randomized
    ``TruncatedSVD`` on a scipy sparse matrix, so the cost follows the
    number of known (user, interest) pairs, not ``N * C``."""
    from scipy import sparse
    from sklearn.decomposition import TruncatedSVD
    users, items = interests.nonzero(as_tuple=True)
    keep = known[users]
    rows, cols = users[keep].numpy(), items[keep].numpy()
    m = sparse.csr_matrix((np.ones(len(rows)), (rows, cols)), shape=tuple(interests.shape))
    svd = TruncatedSVD(min(k, interests.size(1) - 1), random_state=seed).fit(m)
    v = svd.components_.T.copy()
    return torch.from_numpy(np.asarray(m @ v)), torch.from_numpy(v)


__all__ = ["SIMILARITIES", "WEIGHTINGS", "cooccurrence", "history_weights", "item_similarity",
           "keep_top",
           "loo_cooccurrence", "neighbour_frequency", "profile_similarity", "rp3beta",
           "social_votes", "svd_features", "weight_interactions"]
