"""Full-ranking metrics against brute force: sklearn's AUC and nDCG, sort-based
recall and MRR, and enumeration of every tie order."""
import itertools
import math

import numpy as np
import pytest
import torch
from sklearn.metrics import ndcg_score, roc_auc_score

from graphmeta.eval import positive_scores, ranking_metrics
from graphmeta.eval.ranking import expected_mrr, expected_recall_at_k


def test_random_scores_match_brute_force():
    rng = np.random.default_rng(0)
    T, S = 30, 60
    scores = torch.from_numpy(rng.normal(size=(T, S)))
    y = torch.from_numpy((rng.random((T, S)) < 0.15).astype(np.int64))
    y[:, 0] = 1
    mask = torch.from_numpy(rng.random((T, S)) < 0.9)
    mask[:, 0] = True
    m = ranking_metrics(scores, y, mask)
    for t in range(T):
        s, r = scores[t][mask[t]].numpy(), y[t][mask[t]].numpy()
        if r.sum() == len(r):
            assert math.isnan(m["auc"][t])
            continue
        assert m["auc"][t] == pytest.approx(roc_auc_score(r, s))
        assert m["ndcg@10"][t] == pytest.approx(ndcg_score(r[None], s[None], k=10))
        order = np.argsort(-s)
        for k in (10, 20):
            assert m[f"recall@{k}"][t] == pytest.approx(r[order[:k]].sum() / min(k, r.sum()))
        assert m["mrr"][t] == pytest.approx(1 / (1 + np.flatnonzero(r[order])[0]))


def test_ties_are_averaged_over_every_order():
    s = np.array([0.5, 0.5, 0.5, 0.9, 0.1, 0.5])
    y = np.array([0, 1, 0, 0, 1, 1])
    recall, rr = [], []
    for perm in itertools.permutations(np.flatnonzero(s == 0.5)):
        order = np.r_[3, list(perm), 4]
        recall.append(y[order[:3]].sum() / 3)
        rr.append(1 / (1 + np.flatnonzero(y[order])[0]))
    assert expected_recall_at_k(s, y, 3) == pytest.approx(np.mean(recall))
    assert expected_mrr(s, y) == pytest.approx(np.mean(rr))


def test_confident_logits_rank_by_log_odds_not_by_a_probability_rounded_to_one():
    # log-odds 30, 25 and 20 are all a float32 probability of exactly 1.0
    logits = torch.tensor([[[0.0, 30.0], [0.0, 25.0], [0.0, 20.0], [0.0, -5.0]]])
    assert (logits.softmax(-1)[..., 1][0, :3] == 1).all()
    scores = positive_scores(logits)
    assert torch.equal(scores, torch.tensor([[30.0, 25.0, 20.0, -5.0]]))
    assert torch.allclose(torch.sigmoid(scores), logits.softmax(-1)[..., 1])
    y, mask = torch.tensor([[1, 1, 0, 0]]), torch.ones(1, 4, dtype=torch.bool)
    got = ranking_metrics(scores, y, mask)
    assert got["auc"][0] == 1.0 and got["mrr"][0] == 1.0 and got["ndcg@10"][0] == 1.0


def test_a_user_without_both_classes_is_left_out():
    m = ranking_metrics(torch.tensor([[0.3, 0.4]]), torch.tensor([[1, 1]]),
                        torch.ones(1, 2, dtype=torch.bool))
    assert all(math.isnan(v[0]) for v in m.values())


def test_diverged_scores_are_a_floating_point_error_but_padding_is_not():
    y = torch.tensor([[1, 0, 0]])
    ok = ranking_metrics(torch.tensor([[0.9, 0.1, float("nan")]]), y,
                         torch.tensor([[True, True, False]]))     # NaN only in padding
    assert ok["auc"][0] == 1.0
    with pytest.raises(FloatingPointError, match="1 candidate scores are NaN"):
        ranking_metrics(torch.tensor([[0.9, float("nan"), 0.1]]), y,
                        torch.ones(1, 3, dtype=torch.bool))


@pytest.mark.parametrize("n_rel", [1, 5, 100])
def test_the_many_candidates_path_equals_the_sorting_one(n_rel):
    """Long candidate lists skip the full sorts; same numbers, ties included
    (scores rounded so that many tie, relevant items among them)."""
    from graphmeta.eval.ranking import ranking_metrics as rm
    rng = np.random.default_rng(n_rel)
    T, S = 6, 3000
    scores = torch.from_numpy(np.round(rng.normal(size=(T, S)), 1))
    scores[0] = 0.0                                       # one task ties everything
    y = torch.zeros(T, S, dtype=torch.int64)
    for t in range(T):
        y[t, torch.from_numpy(rng.choice(S, n_rel, replace=False))] = 1
    y[1, scores[1].argmax()] = 1                          # a relevant item on top
    mask = torch.from_numpy(rng.random((T, S)) < 0.95)
    mask[:, :1] = True
    fast, slow = rm(scores, y, mask, many=0), rm(scores, y, mask, many=10**9)
    for name in slow:
        np.testing.assert_allclose(fast[name], slow[name], rtol=1e-9, atol=1e-12, err_msg=name)
    assert fast["auc"][0] == 0.5 and not np.isnan(fast["mrr"]).any()


def test_tasks_with_and_without_ties_in_one_call_match_sklearn():
    """The one-sort path over all tasks (no ties) and the per-task paths
    (ties) side by side in one batch, each against sklearn and the
    tie-order expectations."""
    rng = np.random.default_rng(3)
    T, S = 40, 50
    scores = rng.normal(size=(T, S))
    scores[::2] = np.round(scores[::2])                   # even tasks tie a lot
    y = rng.random((T, S)) < 0.2
    y[:, 0], y[:, 1] = True, False
    mask = rng.random((T, S)) < 0.9
    mask[:, :2] = True
    m = ranking_metrics(torch.from_numpy(scores), torch.from_numpy(y.astype(np.int64)),
                        torch.from_numpy(mask))
    for t in range(T):
        s, r = scores[t][mask[t]], y[t][mask[t]].astype(np.int64)
        assert m["auc"][t] == pytest.approx(roc_auc_score(r, s), abs=1e-12)
        assert m["ndcg@10"][t] == pytest.approx(ndcg_score(r[None], s[None], k=10), abs=1e-12)
        for k in (10, 20):
            assert m[f"recall@{k}"][t] == pytest.approx(expected_recall_at_k(s, r, k), abs=1e-12)
        assert m["mrr"][t] == pytest.approx(expected_mrr(s, r), abs=1e-12)
