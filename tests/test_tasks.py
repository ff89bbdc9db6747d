import torch

from graphmeta.tasks import split_users


def test_splits_are_disjoint_and_cover(small_tasks):
    s = small_tasks.splits
    sets = [set(s[k].tolist()) for k in ("train", "val", "test")]
    assert not (sets[0] & sets[1] or sets[0] & sets[2] or sets[1] & sets[2])
    assert set().union(*sets) == set(small_tasks.eligible.tolist())


def test_split_fractions_validated():
    import pytest
    with pytest.raises(ValueError, match="split fractions"):
        split_users(range(10), [0.8, 0.3, 0.1], 0)


def test_task_content(small_tasks):
    interests = small_tasks.interests
    for t in small_tasks.fixed_tasks("test", 20, 1):
        assert t.nodes[0] == t.user
        s, q = set(t.support_items.tolist()), set(t.query_items.tolist())
        assert not s & q  # held-out interests are never in the support set
        assert t.support_y.sum() == 3 and len(t.support_y) == 6
        assert torch.equal(interests[t.user, t.support_items].long(), t.support_y)
        assert torch.equal(interests[t.user, t.query_items].long(), t.query_y)
        assert {0, 1} <= set(t.query_y.tolist())


def test_fixed_tasks_are_reproducible_and_reused_users(small_tasks):
    n_test = len(small_tasks.splits["test"])
    a = small_tasks.fixed_tasks("test", n_test + 7, 9)
    b = small_tasks.fixed_tasks("test", n_test + 7, 9)
    assert len(a) == n_test + 7
    for x, y in zip(a, b):
        assert x.user == y.user and torch.equal(x.nodes, y.nodes)
        assert torch.equal(x.query_items, y.query_items)
    assert {t.user for t in a} == set(small_tasks.splits["test"].tolist())


def test_collate_pads_and_keeps_the_model_away_from_query_labels(small_tasks):
    tasks = small_tasks.fixed_tasks("train", 6, 0)
    b = small_tasks.collate(tasks)
    n = max(len(t.nodes) for t in tasks)
    assert b.x.shape == (6, n, small_tasks.data.x.size(1))
    for i, t in enumerate(tasks):
        k = len(t.nodes)
        assert torch.equal(b.x[i, :k], small_tasks.data.x[t.nodes])
        assert b.node_mask[i, :k].all() and not b.node_mask[i, k:].any()
        assert b.adj[i, :, k:].sum() == 0
        assert b.adj[i].sum() == t.edge_index.size(1)
    # The model sees x, adj, support_*: none of them is derived from the
    # ego's interests, so query labels cannot leak into adaptation.
    gcn = b.normalized_adj("gcn")
    assert torch.allclose(gcn, gcn.transpose(1, 2))
