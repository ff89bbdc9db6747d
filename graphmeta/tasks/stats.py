"""Interest statistics over known users, shared by the scorers
(:mod:`graphmeta.methods.scorers`) and the per-candidate context features
that user-interest batches can carry (:meth:`UserInterestTasks.collate`)."""
from __future__ import annotations

import numpy as np
import torch
from torch import Tensor

from graphmeta.tasks.batch import GraphBatch


def item_similarity(train: Tensor, kind: str = "cosine", alpha: float = 0.5,
                    shrink: float = 0.0) -> Tensor:
    """Item-item similarity ``[C, C]`` from a user-item matrix ``train``
    ``[U, C]``, zero diagonal. ``S[c, p]``: how much liking ``p`` says about ``c``.
    ``kind``: ``cosine``, ``asymmetric`` (cosine with exponent ``alpha`` on
    ``c``'s count, Aiolli 2013) or ``jaccard``; ``shrink`` damps pairs seen
    by few users."""
    co = train.T @ train
    n = co.diagonal().clamp_min(1)
    if kind == "cosine":
        sim = co / (n.sqrt()[:, None] * n.sqrt()[None, :] + shrink)
    elif kind == "asymmetric":
        sim = co / (n[:, None] ** alpha * n[None, :] ** (1 - alpha) + shrink)
    elif kind == "jaccard":
        sim = co / (n[:, None] + n[None, :] - co + shrink).clamp_min(1e-12)
    else:
        raise ValueError(f"unknown similarity {kind!r} (cosine, asymmetric, jaccard)")
    return sim.fill_diagonal_(0)


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
    users, items = users[keep].numpy(), items[keep].numpy()
    m = sparse.csr_matrix((np.ones(len(users)), (users, items)), shape=tuple(interests.shape))
    svd = TruncatedSVD(min(k, interests.size(1) - 1), random_state=seed).fit(m)
    v = svd.components_.T.copy()
    return torch.from_numpy(np.asarray(m @ v)), torch.from_numpy(v)


__all__ = ["item_similarity", "loo_cooccurrence", "neighbour_frequency", "svd_features"]
