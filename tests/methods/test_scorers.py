"""Non-learned scorers: popularity, neighbour vote and item co-occurrence
against brute-force references."""
import pytest
import torch
from torch_geometric.data import Data

from graphmeta.methods import InterestScorers
from graphmeta.methods.scorers import ease_weights
from graphmeta.tasks.stats import item_similarity
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
        base.scores("nope", b, b.query_items)


def test_similarities_and_ease_against_their_formulas():
    g = torch.Generator().manual_seed(0)
    X = (torch.rand(50, 6, generator=g) < 0.4).double()
    co, n = X.T @ X, (X.T @ X).diagonal()
    for kind, ref in [("cosine", co / (n[:, None] * n[None, :]).sqrt()),
                      ("asymmetric", co / (n[:, None] ** 0.3 * n[None, :] ** 0.7)),
                      ("jaccard", co / (n[:, None] + n[None, :] - co))]:
        S = item_similarity(X, kind, alpha=0.3)
        assert torch.allclose(S, ref.fill_diagonal_(0)), kind
    assert torch.allclose(item_similarity(X, "cosine", shrink=5.0),
                          (co / ((n[:, None] * n[None, :]).sqrt() + 5)).fill_diagonal_(0))
    # EASE: B minimises ||X - XB||^2 + lam ||B||^2 subject to diag(B) = 0; its
    # columns solve a ridge regression of each item on the others.
    B = ease_weights(X, 7.0)
    for j in range(6):
        others = [i for i in range(6) if i != j]
        A = X[:, others]
        w = torch.linalg.solve(A.T @ A + 7.0 * torch.eye(5, dtype=torch.float64), A.T @ X[:, j])
        assert torch.allclose(B[others, j], w, atol=1e-10) and B[j, j] == 0


def test_graph_knn_adds_the_neighbours_to_itemknn(named):
    tasks = UserInterestTasks(named, k_shot=2, n_query=5)
    b = tasks.collate(tasks.fixed_tasks("test", 10, 2))
    none = InterestScorers(tasks, graph_weight=0.0)
    assert torch.equal(none.scores("graph-knn", b, b.query_items),
                       none.scores("itemknn", b, b.query_items))
    some = InterestScorers(tasks, graph_weight=0.5)
    freq = some.scores("neighbor-vote", b, b.query_items)
    hist = torch.zeros(10, 40, dtype=torch.float64)
    for t in range(10):
        hist[t, b.support_items[t][b.support_y[t] == 1]] = 1
    nbr = 0.5 * some.catalogue_scores("neighbor-vote", b)
    full = (hist + nbr) @ some.similarity.T + nbr
    assert torch.allclose(some.scores("graph-knn", b, b.query_items), full.gather(1, b.query_items))
    assert torch.allclose(nbr.gather(1, b.query_items), 0.5 * freq)
