"""Non-learned scorers: popularity, neighbour vote and item co-occurrence
against brute-force references."""
import pytest
import torch
from torch_geometric.data import Data

from graphmeta.methods import InterestScorers
from graphmeta.features import ContextFeatures
from graphmeta.methods.scorers import RP3Settings, SocialKNNSettings, UserKNNSettings, ease_weights
from graphmeta.tasks.stats import history_weights, item_similarity, weight_interactions
from graphmeta.synthetic import make_social_graph
from graphmeta.tasks import UserInterestTasks


@pytest.fixture(scope="module")
def named():
    g = make_social_graph(400, 40, 6, n_blocks=8, p_in=0.08, p_out=0.002, seed=5)
    gen = torch.Generator().manual_seed(0)
    rate = torch.linspace(0.6, 0.02, 40)
    interests = torch.rand(400, 40, generator=gen) < rate
    return Data(edge_index=g.edge_index, interests=interests, num_nodes=400)


def test_statistics_count_every_known_user_and_no_held_out_one(named):
    a = UserInterestTasks(named, k_shot=2, n_query=5)
    changed = named.clone()
    changed.interests = named.interests.clone()
    changed.interests[a.splits["test"]] = ~changed.interests[a.splits["test"]]
    b = UserInterestTasks(changed, k_shot=2, n_query=5)
    assert torch.equal(a.splits["train"], b.splits["train"])
    assert torch.equal(InterestScorers(a).similarity, InterestScorers(b).similarity)
    # A user who is no task (too few interests) is known: its interests count.
    data = named.clone()
    data.interests = named.interests.clone()
    data.interests[0] = False
    data.interests[0, :2] = True                   # 2 interests: not a task at k_shot=2
    c = UserInterestTasks(data, k_shot=2, n_query=5)
    assert 0 not in c.eligible.tolist() and bool(c.known[0])
    rows = data.interests[c.known].double()
    assert len(rows) > len(c.splits["train"])
    assert torch.allclose(c.popularity, rows.mean(0))
    assert torch.allclose(InterestScorers(c).train, rows)
    ctx = ContextFeatures()
    ctx.attach(c)
    assert torch.equal(ctx._co, (rows.T @ rows).float())


def test_rp3beta_userknn_and_social_userknn_against_their_definitions(named):
    tasks = UserInterestTasks(named, k_shot=2, n_query=5)
    ts = tasks.fixed_tasks("test", 12, 3)
    b = tasks.collate(ts)
    X = named.interests[tasks.known].double()
    hist = torch.zeros(12, 40, dtype=torch.float64)
    for t, task in enumerate(ts):
        hist[t, task.support_items[task.support_y == 1]] = 1
    # RP3beta: item -> user -> item walk, powered, over popularity^beta, top-k per row
    s = InterestScorers(tasks, rp3=RP3Settings(alpha=0.7, beta=0.4, topk=10))
    W = torch.zeros(40, 40, dtype=torch.float64)
    for i in range(40):
        for j in range(40):
            if i != j:
                W[i, j] = sum((X[u, i] / X[:, i].sum()) ** 0.7 * (X[u, j] / X[u].sum()) ** 0.7
                              for u in range(len(X)) if X[u, i] and X[u, j]) / X[:, j].sum() ** 0.4
        keep = W[i].topk(10).indices
        W[i, [j for j in range(40) if j not in keep.tolist()]] = 0
    assert torch.allclose(s.scores("rp3beta", b, b.query_items),
                          (hist @ W).gather(1, b.query_items))
    # userknn: the top-k known users by cosine with the support, weighted
    s = InterestScorers(tasks, userknn=UserKNNSettings(topk=7, shrink=1.0))
    sim = (hist @ X.T) / ((hist.sum(1, keepdim=True) * X.sum(1)[None]).sqrt() + 1.0)
    ref = torch.zeros(12, 40, dtype=torch.float64)
    for t in range(12):
        top = sim[t].topk(7).indices
        ref[t] = (sim[t, top, None] * X[top]).sum(0)
    assert torch.allclose(s.catalogue_scores("userknn", b), ref)
    # social-userknn: the ego-subgraph's known users, weighted by similarity + smoothing
    for direct in (False, True):
        s = InterestScorers(tasks, social=SocialKNNSettings(direct=direct, smoothing=0.2))
        got = s.catalogue_scores("social-userknn", b)
        for t, task in enumerate(ts):
            nbrs = set(named.edge_index[0][named.edge_index[1] == task.user].tolist())
            voters = [int(n) for n in task.nodes[1:] if bool(tasks.known[int(n)])
                      and (not direct or int(n) in nbrs)]
            if not voters:
                assert (got[t] == 0).all()
                continue
            x = named.interests[voters].double()
            w = (x @ hist[t]) / (x.sum(1) * hist[t].sum()).sqrt().clamp_min(1e-12) + 0.2
            assert torch.allclose(got[t], (w[:, None] * x).sum(0) / w.sum())


def test_itemknn_neighbourhood_and_weighting_follow_dacrema_et_al():
    g = torch.Generator().manual_seed(1)
    X = (torch.rand(60, 8, generator=g) < 0.35).double()
    full = item_similarity(X, "cosine")
    top = item_similarity(X, "cosine", topk=3)
    assert ((top != 0).sum(1) <= 3).all()
    for c in range(8):                      # each row keeps its 3 largest, unchanged
        keep = full[c].topk(3).indices
        assert torch.equal(top[c, keep], full[c, keep])
    assert torch.equal(item_similarity(X, "cosine", topk=8), full)
    # TF-IDF and BM25 over items-as-documents, users-as-terms (their IR_feature_weighting)
    n_items = X.shape[1]
    idf = torch.log(n_items / (1 + X.sum(1, keepdim=True)))
    assert torch.allclose(weight_interactions(X, "tfidf"), X * idf)
    length = X.sum(0, keepdim=True)
    norm = 0.25 + 0.75 * length / length.mean()
    assert torch.allclose(weight_interactions(X, "bm25"), X * 2.2 / (1.2 * norm + X) * idf)
    w = weight_interactions(X, "bm25")
    co = w.T @ w
    n = co.diagonal()
    assert torch.allclose(item_similarity(X, "cosine", weighting="bm25"),
                          (co / (n[:, None] * n[None, :]).sqrt()).fill_diagonal_(0))
    # a task's history is weighted as the users' rows are (up to a per-user constant)
    assert torch.allclose(history_weights(X, "bm25"), 2.2 / (1.2 * norm[0] + 1))
    assert torch.equal(history_weights(X, "tfidf"), torch.ones(8, dtype=X.dtype))


def test_scores_match_brute_force(named):
    tasks = UserInterestTasks(named, k_shot=2, n_query=5)
    base = InterestScorers(tasks)
    ts = tasks.fixed_tasks("test", 20, 2)
    b = tasks.collate(ts)
    train = named.interests[tasks.known].double()
    assert torch.allclose(base.scores("popularity", b, b.query_items),
                          train.mean(0)[b.query_items])
    co = train.T @ train
    for t, task in enumerate(ts):
        pos = task.support_items[task.support_y == 1]
        for j, item in enumerate(b.query_items[t].tolist()):
            ref = sum(0 if item == p else co[item, p] / (co[item, item] * co[p, p]).sqrt()
                      for p in pos.tolist())
            assert (base.scores("itemknn", b, b.query_items)[t, j].item()
                    == pytest.approx(float(ref)))
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
