"""Per-task losses ``[T]`` over a meta-batch's padded sets: the support loss
(:func:`task_ce`) and the query objectives ``meta.query_loss`` names
(:func:`task_loss`). Each takes ``logits [T, S, 2]``, labels ``[T, S]`` and
an optional validity mask ``[T, S]`` and returns one loss per task, so the
batched inner loop's summed loss separates by task."""
from __future__ import annotations

from typing import Optional

import torch
import torch.nn.functional as F
from torch import Tensor


def task_ce(logits: Tensor, y: Tensor, mask: Optional[Tensor] = None,
            balanced: bool = False) -> Tensor:
    """Per-task mean cross-entropy: ``logits [T, S, C]``, ``y [T, S]`` -> ``[T]``.

    With ``balanced``, each class present in a task weighs the same, however
    many examples it has (a query set of 1 positive and 10 negatives).
    """
    ce = F.cross_entropy(logits.flatten(0, 1), y.flatten(), reduction="none").view(y.shape)
    if mask is None and not balanced:
        return ce.mean(1)
    m = torch.ones_like(ce) if mask is None else mask.to(ce.dtype)
    if balanced:
        onehot = F.one_hot(y, logits.size(-1)).to(ce.dtype) * m.unsqueeze(-1)   # [T, S, C]
        count = onehot.sum(1)                                                  # [T, C]
        w = (onehot / count.clamp_min(1).unsqueeze(1)).sum(-1)                 # 1 / n_class
        return (ce * w).sum(1) / (count > 0).sum(1).clamp_min(1)
    return (ce * m).sum(1) / m.sum(1).clamp_min(1)


def _ranked(logits: Tensor, y: Tensor, mask: Optional[Tensor]) -> tuple[Tensor, Tensor, Tensor]:
    """The ranking losses' inputs: the log-odds of class 1 ``s [T, S]`` and
    the valid positives and negatives ``[T, S]`` (bool)."""
    m = torch.ones_like(y, dtype=torch.bool) if mask is None else mask
    return logits[..., 1] - logits[..., 0], (y == 1) & m, (y == 0) & m


def task_bpr(logits: Tensor, y: Tensor, mask: Optional[Tensor] = None) -> Tensor:
    r"""Per-task pairwise ranking loss (BPR, Rendle et al., 2009): the mean of
    :math:`\log(1 + e^{-(s_i - s_j)})` over (positive ``i``, negative ``j``)
    pairs of each task, with :math:`s` the log-odds of class 1. It scores
    the order of a task's examples, which is what ROC-AUC measures."""
    s, pos, neg = _ranked(logits, y, mask)
    diff = s.unsqueeze(2) - s.unsqueeze(1)                           # [T, S, S]
    pairs = (pos.unsqueeze(2) & neg.unsqueeze(1)).to(s.dtype)
    return (F.softplus(-diff) * pairs).sum((1, 2)) / pairs.sum((1, 2)).clamp_min(1)


def task_softmax(logits: Tensor, y: Tensor, mask: Optional[Tensor] = None) -> Tensor:
    r"""Per-task listwise loss: the mean over each task's positives ``i`` of
    :math:`-\log \frac{e^{s_i}}{e^{s_i} + \sum_{j \in N} e^{s_j}}`, the softmax
    of a positive against all of the task's negatives ``N`` at once (the
    sampled-softmax objective of recommenders; over the whole catalogue with
    ``tasks.train_query: full``). Where BPR weighs every pair alike, this puts
    the gradient on the negatives ranked highest, which is what the top of a
    ranking (nDCG@10) measures. :math:`s` is the log-odds of class 1.

    Written as :math:`\mathrm{softplus}(\mathrm{LSE}_{j \in N} s_j - s_i)`: one
    log-sum-exp per task, not per pair (PyTorch has no masked log-sum-exp;
    masked entries get a large negative finite value so a task without
    negatives has zero loss and finite gradients)."""
    s, pos, neg = _ranked(logits, y, mask)
    lse_neg = torch.logsumexp(torch.where(neg, s, s.new_tensor(-1e4)), dim=1)   # [T]
    per = F.softplus(lse_neg.unsqueeze(1) - s) * pos.to(s.dtype)
    return per.sum(1) / pos.sum(1).clamp_min(1).to(s.dtype)


QUERY_LOSSES = ("ce", "balanced", "bpr", "softmax")


def task_loss(logits: Tensor, y: Tensor, mask: Optional[Tensor], kind: str = "ce") -> Tensor:
    """Per-task query loss ``[T]``: cross-entropy (``"ce"``), class-balanced
    cross-entropy (``"balanced"``), pairwise ranking (``"bpr"``) or listwise
    softmax of each positive against the task's negatives (``"softmax"``)."""
    if kind == "bpr":
        return task_bpr(logits, y, mask)
    if kind == "softmax":
        return task_softmax(logits, y, mask)
    return task_ce(logits, y, mask, balanced=kind == "balanced")
