import math

import numpy as np
import torch
from sklearn.metrics import roc_auc_score

from graphmeta.eval import mean_ci, task_metrics


def test_task_metrics_uses_the_mask():
    prob = torch.tensor([[0.9, 0.2, 0.6, 0.7], [0.1, 0.8, 0.3, 0.0]])
    y = torch.tensor([[1, 0, 0, 1], [0, 1, 1, 0]])
    mask = torch.tensor([[True, True, True, False], [True, True, True, True]])
    m = task_metrics(prob, y, mask)
    assert m["accuracy"].tolist() == [2 / 3, 0.75]
    assert m["auc"][0] == roc_auc_score([1, 0, 0], [0.9, 0.2, 0.6])
    assert m["auc"][1] == roc_auc_score([0, 1, 1, 0], [0.1, 0.8, 0.3, 0.0])


def test_single_class_task_has_no_auc():
    m = task_metrics(torch.tensor([[0.3, 0.4]]), torch.tensor([[1, 1]]),
                     torch.ones(1, 2, dtype=torch.bool))
    assert math.isnan(m["auc"][0])


def test_mean_ci():
    v = np.array([0.5, 0.7, 0.9, math.nan])
    s = mean_ci(v)
    assert s["n"] == 3 and math.isclose(s["mean"], 0.7)
    assert math.isclose(s["ci95"], 1.96 * np.std([0.5, 0.7, 0.9], ddof=1) / math.sqrt(3))
