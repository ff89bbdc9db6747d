"""Non-learned scorers: popularity, neighbour vote and item co-occurrence
against brute-force references."""
import numpy as np
import pytest
import torch
from torch_geometric.data import Data

from graphmeta.methods import InterestScorers
from graphmeta.synthetic import make_social_graph
from graphmeta.tasks import UserInterestTasks


@pytest.fixture(scope="module")
def named():
    g = make_social_graph(400, 40, 6, n_blocks=8, p_in=0.08, p_out=0.002, seed=5)
    gen = torch.Generator().manual_seed(0)
    rate = torch.linspace(0.6, 0.02, 40)
    interests = torch.rand(400, 40, generator=gen) < rate
    return Data(edge_index=g.edge_index, interests=interests, num_nodes=400)


def test_similarity_counts_meta_train_users_only(named):
    a = UserInterestTasks(named, k_shot=2, n_query=5)
    changed = named.clone()
    changed.interests = named.interests.clone()
    changed.interests[a.splits["test"]] = ~changed.interests[a.splits["test"]]
    b = UserInterestTasks(changed, k_shot=2, n_query=5)
    assert torch.equal(a.splits["train"], b.splits["train"])
    assert torch.equal(InterestScorers(a).similarity, InterestScorers(b).similarity)


def test_scores_match_brute_force(named):
    tasks = UserInterestTasks(named, k_shot=2, n_query=5)
    base = InterestScorers(tasks)
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
    with pytest.raises(KeyError, match="unknown scorer"):
        base.scores("ease", b, b.query_items)


def test_probabilities_follow_the_support_threshold(named):
    tasks = UserInterestTasks(named, k_shot=2, n_query=5)
    base = InterestScorers(tasks)
    b = tasks.collate(tasks.fixed_tasks("test", 20, 2))
    for m in ("popularity", "itemknn", "neighbor-vote"):
        p = base.predict(m, b)
        s = base.scores(m, b, b.query_items)
        assert ((p >= 0) & (p <= 1)).all()
        for t in range(20):   # same ranking as the raw score
            order = np.argsort(s[t].numpy(), kind="stable")
            assert (np.diff(p[t].numpy()[order]) >= -1e-12).all()
