import pytest
import torch

from graphmeta.synthetic import generate_task, make_social_graph


def test_generate_task_follows_the_classic_rule():
    gen = torch.Generator().manual_seed(7)
    X, y = generate_task(100, 10, generator=gen)
    assert X.shape == (100, 10) and X.dtype == torch.float32
    assert y.shape == (100,) and y.dtype == torch.int64
    # Replay the draws: X first, then w.
    gen = torch.Generator().manual_seed(7)
    X2 = torch.randn(100, 10, generator=gen)
    w = torch.randn(10, generator=gen)
    assert torch.equal(X, X2)
    assert torch.equal(y, (X2 @ w > 0).long())
    assert 0.2 < y.float().mean() < 0.8


def test_generate_task_statistics():
    gen = torch.Generator().manual_seed(0)
    X = torch.cat([generate_task(100, 10, generator=gen)[0] for _ in range(50)])
    assert abs(X.mean()) < 0.02 and abs(X.std() - 1) < 0.02


def test_limiting_case_is_the_classic_generator():
    """homophily 0 and no graph: per user, exactly generate_task."""
    data = make_social_graph(1, 100, 10, graph="none", homophily=0.0,
                             feature_noise=1.0, seed=11)
    X, y = generate_task(100, 10, generator=torch.Generator().manual_seed(11))
    assert torch.equal(data.interest_x, X)
    assert torch.equal(data.interests[0].long(), y)
    assert data.edge_index.numel() == 0


def test_no_graph_gives_iid_tastes_whatever_the_homophily():
    a = make_social_graph(200, 20, 4, graph="none", homophily=0.0, seed=1)
    b = make_social_graph(200, 20, 4, graph="none", homophily=0.9, seed=1)
    assert torch.equal(a.w, b.w)


@pytest.mark.parametrize("graph, floor", [("sbm", 0.4), ("ba", 0.2)])
def test_homophily_makes_friends_alike(graph, floor):
    def friend_cosine(h):
        d = make_social_graph(1000, 20, 8, graph=graph, homophily=h, seed=2)
        s, t = d.edge_index
        return torch.nn.functional.cosine_similarity(d.w[s], d.w[t]).mean().item()
    assert abs(friend_cosine(0.0)) < 0.05
    assert friend_cosine(0.9) > floor
    assert friend_cosine(0.9) > friend_cosine(0.5) > friend_cosine(0.0)


def test_graph_is_undirected_without_self_loops():
    d = make_social_graph(300, 10, 4, graph="ba", seed=0)
    s, t = d.edge_index
    assert not (s == t).any()
    fwd = set(zip(s.tolist(), t.tolist()))
    assert fwd == {(b, a) for a, b in fwd}
    assert d.interests.shape == (300, 10) and d.interests.dtype == torch.bool


def test_feature_noise_controls_how_much_features_reveal():
    clean = make_social_graph(500, 10, 6, feature_noise=0.0, seed=0)
    assert torch.allclose(clean.x, clean.w)
    noisy = make_social_graph(500, 10, 6, feature_noise=3.0, seed=0)
    assert (noisy.x - noisy.w).std() == pytest.approx(3.0, rel=0.05)


@pytest.mark.parametrize("kwargs, match", [
    ({"homophily": 1.5}, "homophily"),
    ({"feature_noise": -1.0}, "feature_noise"),
    ({"graph": "grid"}, "graph must be one of"),
])
def test_bad_arguments_are_named(kwargs, match):
    with pytest.raises(ValueError, match=match):
        make_social_graph(50, 5, 3, **kwargs)
