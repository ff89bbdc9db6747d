"""The evaluator: fixed tasks per split, the protocol, per-task scores."""
import math

import numpy as np
import torch

from graphmeta.eval import Evaluator
from graphmeta.eval.stats import MIN_TASKS, mean_ci, paired_diff
from graphmeta.synthetic import make_social_graph
from graphmeta.tasks import FewShotTasks, LazyBatches


def _perfect(batch):
    return batch.query_y.double()


def test_evaluate_concatenates_per_task_metrics(small_tasks):
    ev = Evaluator(small_tasks)
    batches = [small_tasks.collate(small_tasks.fixed_tasks("test", 5, s)) for s in (0, 1)]
    m = ev.evaluate(_perfect, batches)
    assert set(m) == {"auc", "ndcg@10", "recall@10", "recall@20", "mrr"} and len(m["auc"]) == 10
    assert all(np.all(v == 1) for v in m.values())


def test_binary_logits_are_scored_by_their_class_one_probability(small_tasks):
    ev = Evaluator(small_tasks, n_test=6)
    b = ev.batches("test")[0]
    logits = torch.stack([torch.zeros_like(b.query_y, dtype=torch.float),
                          b.query_y.float()], -1)
    assert np.all(ev.score(logits, b)["auc"] == 1)


def test_the_protocol_is_the_evaluators_and_val_is_kept(small_tasks):
    full = Evaluator(small_tasks, n_val=5, n_test=5)
    sampled = Evaluator(small_tasks, protocol="sampled", n_val=5, n_test=5)
    C, k = small_tasks.num_interests, small_tasks.k_shot
    assert all(b.query_mask.sum(1).max() <= C - 2 * k for b in full.batches("test"))
    # every non-support interest is a candidate under "full"
    b = full.batches("test")[0]
    assert (b.query_mask.sum(1) == C - 2 * k).all()
    s = sampled.batches("test")[0]
    assert s.query_mask.sum(1).max() <= 2 * small_tasks.n_query
    assert full.batches("val") is full.batches("val")
    assert full.name == "full" and sampled.name == "sampled"


def test_fewer_users_than_asked_for_scores_each_once_without_a_warning(small_tasks):
    n = len(small_tasks.splits["test"])
    assert n >= MIN_TASKS
    ev = Evaluator(small_tasks, n_test=n + 7)
    assert ev.size("test") == (n, [])
    users = torch.cat([b.users for b in ev.batches("test")])
    assert len(users) == n == len(set(users.tolist()))


def test_a_split_too_small_for_an_interval_is_a_warning_and_prints_no_interval(small_tasks):
    ev = Evaluator(small_tasks, n_test=3)
    n, warn = ev.size("test")
    assert n == 3 and len(warn) == 1 and "fewer than 10 give no confidence interval" in warn[0]
    assert math.isnan(mean_ci([0.5, 0.5, 0.5])["ci95"])
    assert math.isnan(paired_diff([1.0, 0.0], [0.0, 1.0])["ci95"])
    assert mean_ci([0.5] * MIN_TASKS)["ci95"] == 0.0


def test_few_shot_episodes_are_scored_by_accuracy():
    data = make_social_graph(400, 12, 6, n_blocks=8, p_in=0.08, p_out=0.002, seed=1)
    tasks = FewShotTasks(data, k_shot=2, n_query=3, max_nodes=10, class_split=(0.5, 0.25, 0.25))
    ev = Evaluator(tasks, n_test=4)
    batches = list(ev.batches("test"))
    m = ev.evaluate(lambda b: torch.nn.functional.one_hot(b.query_y, tasks.n_way).float(),
                    batches)
    assert ev.name == "episodes" and len(m["accuracy"]) == 4 and np.all(m["accuracy"] == 1)


def test_large_evaluation_sets_are_built_on_demand_and_the_same_each_time(small_tasks,
                                                                         monkeypatch):
    """Over LAZY_PAIRS (task, candidate) pairs, the batches are built each
    time they are read: the same tasks as the eager list, read after read."""
    import graphmeta.eval.evaluator as mod
    eager = Evaluator(small_tasks, n_test=30, test_seed=7, chunk=8).batches("test")
    monkeypatch.setattr(mod, "LAZY_PAIRS", 10)
    lazy = Evaluator(small_tasks, n_test=30, test_seed=7, chunk=8).batches("test")
    assert isinstance(lazy, LazyBatches) and len(lazy) == len(eager)
    for _ in range(2):
        for a, b in zip(eager, lazy):
            for k in ("support_items", "support_y", "query_items", "query_y", "query_mask"):
                assert torch.equal(getattr(a, k), getattr(b, k)), k
            assert torch.equal(a.graphs.x, b.graphs.x)
