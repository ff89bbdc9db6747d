"""Scoring a learner on fixed batches: the sampler's metrics, per task."""
import numpy as np
import torch

from graphmeta.eval import evaluate


class _Perfect(torch.nn.Module):
    def predict(self, batch):
        return batch.query_y.double()


def test_evaluate_concatenates_per_task_metrics(small_tasks):
    batches = [small_tasks.collate(small_tasks.fixed_tasks("test", 5, s)) for s in (0, 1)]
    m = evaluate(_Perfect(), small_tasks, batches)
    assert set(m) == {"auc", "ndcg@10", "recall@10", "recall@20", "mrr"} and len(m["auc"]) == 10
    assert all(np.all(v == 1) for v in m.values())
