"""Per-task metrics (scikit-learn) and confidence intervals."""
from __future__ import annotations

import math

import numpy as np
from sklearn.metrics import roc_auc_score
from torch import Tensor


def task_metrics(prob: Tensor, y: Tensor, mask: Tensor) -> dict[str, np.ndarray]:
    """Accuracy (threshold 0.5) and ROC-AUC of every task's query set.

    ``prob``, ``y``, ``mask`` are ``[T, Q]``. A task whose query set holds a
    single class has no AUC; it is reported as NaN and left out of means.
    """
    prob, y, mask = prob.detach().cpu().double(), y.cpu(), mask.cpu()
    acc, auc = [], []
    for p, t, m in zip(prob, y, mask):
        p, t = p[m].numpy(), t[m].numpy()
        acc.append(float(((p > 0.5) == (t == 1)).mean()))
        auc.append(float(roc_auc_score(t, p)) if len(np.unique(t)) == 2 else math.nan)
    return {"accuracy": np.array(acc), "auc": np.array(auc)}


def mean_ci(values: np.ndarray | list[float]) -> dict[str, float]:
    r"""``{"mean", "ci95", "n"}`` with :math:`1.96\, s / \sqrt{n}` (NaNs dropped)."""
    v = np.asarray(values, dtype=np.float64)
    v = v[~np.isnan(v)]
    if len(v) == 0:
        return {"mean": math.nan, "ci95": math.nan, "n": 0}
    ci = 1.96 * v.std(ddof=1) / math.sqrt(len(v)) if len(v) > 1 else math.nan
    return {"mean": float(v.mean()), "ci95": float(ci), "n": int(len(v))}
