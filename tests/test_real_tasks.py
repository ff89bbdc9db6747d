"""Interest features, negative sampling and baselines on a small graph with
named interests and no node features (the shape of the real datasets)."""
import numpy as np
import pytest
import torch
from torch_geometric.data import Data

from graphmeta.baselines import InterestBaselines
from graphmeta.synthetic import make_social_graph
from graphmeta.tasks import UserInterestTasks


@pytest.fixture(scope="module")
def named():
    g = make_social_graph(400, 40, 6, n_blocks=8, p_in=0.08, p_out=0.002, seed=5)
    # Skewed popularity: interest c is liked with a rate that falls with c.
    gen = torch.Generator().manual_seed(0)
    rate = torch.linspace(0.6, 0.02, 40)
    interests = torch.rand(400, 40, generator=gen) < rate
    return Data(edge_index=g.edge_index, interests=interests, num_nodes=400)


def test_interest_features_hide_cold_start_users_and_the_egos_query(named):
    tasks = UserInterestTasks(named, k_shot=2, n_query=5, node_features="interests")
    assert tasks.node_features == "interests" and tasks.node_x.shape == (400, 40)
    for split in ("val", "test"):
        assert tasks.node_x[tasks.splits[split]].sum() == 0
    train = tasks.splits["train"]
    assert torch.equal(tasks.node_x[train].bool(), named.interests[train])
    ts = tasks.fixed_tasks("train", 30, 0)
    b = tasks.collate(ts)
    for t, task in enumerate(ts):
        expected = torch.zeros(40)
        expected[task.support_items[task.support_y == 1]] = 1
        assert torch.equal(b.x[t, 0], expected)     # ego row: support positives only
        assert b.x[t, 0, task.query_items[task.query_y == 1]].sum() == 0


def test_popularity_negatives_are_harder(named):
    def mean_pop(mode):
        tasks = UserInterestTasks(named, k_shot=2, n_query=5, negatives=mode)
        ts = tasks.fixed_tasks("train", 200, 1)
        neg = torch.cat([t.support_items[t.support_y == 0] for t in ts])
        return tasks.popularity[neg].mean().item()
    assert mean_pop("popularity") > 1.25 * mean_pop("uniform")


def test_popularity_counts_meta_train_users_only(named):
    a = UserInterestTasks(named, k_shot=2, n_query=5)
    changed = named.clone()
    changed.interests = named.interests.clone()
    gen = torch.Generator().manual_seed(1)
    for u in a.splits["test"].tolist():              # same counts, other interests
        changed.interests[u] = named.interests[u][torch.randperm(40, generator=gen)]
    assert not torch.equal(changed.interests, named.interests)
    b = UserInterestTasks(changed, k_shot=2, n_query=5)
    assert torch.equal(a.splits["train"], b.splits["train"])
    assert torch.equal(a.popularity, b.popularity)
    assert torch.equal(InterestBaselines(a).similarity, InterestBaselines(b).similarity)


def test_baseline_scores(named):
    tasks = UserInterestTasks(named, k_shot=2, n_query=5)
    base = InterestBaselines(tasks)
    ts = tasks.fixed_tasks("test", 20, 2)
    b = tasks.collate(ts)
    train = named.interests[tasks.splits["train"]].double()
    assert torch.allclose(base.scores("popularity", b, b.query_items),
                          train.mean(0)[b.query_items])
    co = train.T @ train
    for t, task in enumerate(ts):
        pos = task.support_items[task.support_y == 1]
        for j, item in enumerate(b.query_items[t].tolist()):
            ref = sum(0 if item == p else co[item, p] / (co[item, item] * co[p, p]).sqrt()
                      for p in pos.tolist())
            assert base.scores("itemknn", b, b.query_items)[t, j].item() == pytest.approx(float(ref))
        # neighbour vote: direct neighbours with known interests, ego excluded
        nbrs = [int(n) for n in task.nodes[1:]
                if int(n) in set(named.edge_index[0][named.edge_index[1] == task.user].tolist())
                and bool(tasks.known[int(n)])]
        vote = base.scores("neighbor-vote", b, b.query_items)[t]
        if nbrs:
            ref = named.interests[nbrs].double().mean(0)[b.query_items[t]]
            assert torch.allclose(vote, ref)
        else:
            assert (vote == 0).all()


def test_baseline_probabilities_follow_the_support_threshold(named):
    tasks = UserInterestTasks(named, k_shot=2, n_query=5)
    base = InterestBaselines(tasks)
    b = tasks.collate(tasks.fixed_tasks("test", 20, 2))
    for m in ("popularity", "itemknn", "neighbor-vote"):
        p = base.predict(m, b)
        s = base.scores(m, b, b.query_items)
        assert ((p >= 0) & (p <= 1)).all()
        for t in range(20):   # same ranking as the raw score
            order = np.argsort(s[t].numpy(), kind="stable")
            assert (np.diff(p[t].numpy()[order]) >= -1e-12).all()
