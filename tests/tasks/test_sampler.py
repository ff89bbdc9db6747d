import numpy as np
import pytest
import torch
from torch_geometric.utils import k_hop_subgraph, subgraph

from graphmeta.synthetic import make_social_graph
from graphmeta.tasks import EgoSampler
from graphmeta.tasks.many import _scratch, sample_dense, sample_sorted


@pytest.fixture(scope="module")
def graph():
    return make_social_graph(400, 5, 3, graph="ba", ba_m=2, seed=4).edge_index


def _edge_set(ei):
    return set(zip(ei[0].tolist(), ei[1].tolist()))


@pytest.mark.parametrize("hops", [1, 2, 3])
def test_uncapped_equals_k_hop_subgraph(graph, hops):
    sampler = EgoSampler(graph, 400, hops=hops, max_nodes=None)
    for u in [0, 5, 77, 399]:
        nodes, ei = sampler.sample(u, np.random.default_rng(0))
        ref_nodes, _, _, _ = k_hop_subgraph(u, hops, graph, num_nodes=400)
        assert nodes[0] == u
        assert sorted(nodes.tolist()) == ref_nodes.tolist()
        ref_ei, _ = subgraph(nodes, graph, relabel_nodes=True, num_nodes=400)
        assert _edge_set(ei) == _edge_set(ref_ei)


def test_hops_come_in_order(graph):
    nodes, _ = EgoSampler(graph, 400, hops=2, max_nodes=None).sample(3, np.random.default_rng(0))
    hop1 = set(k_hop_subgraph(3, 1, graph, num_nodes=400)[0].tolist()) - {3}
    assert set(nodes[1:1 + len(hop1)].tolist()) == hop1


def test_cap_respected_ego_first_and_edges_induced(graph):
    sampler = EgoSampler(graph, 400, hops=2, max_nodes=10)
    hub = int(torch.bincount(graph[1]).argmax())
    for u in [hub, 1, 2]:
        nodes, ei = sampler.sample(u, np.random.default_rng(1))
        assert len(nodes) <= 10 and nodes[0] == u
        assert len(set(nodes.tolist())) == len(nodes)
        ref_ei, _ = subgraph(nodes, graph, relabel_nodes=True, num_nodes=400)
        assert _edge_set(ei) == _edge_set(ref_ei)
    nodes, _ = sampler.sample(hub, np.random.default_rng(1))
    assert len(nodes) == 10  # the hub has more than 9 neighbours


def test_seeded(graph):
    sampler = EgoSampler(graph, 400, hops=2, max_nodes=8)
    hub = int(torch.bincount(graph[1]).argmax())
    a = sampler.sample(hub, np.random.default_rng(5))
    b = sampler.sample(hub, np.random.default_rng(5))
    c = [sampler.sample(hub, np.random.default_rng(s))[0].tolist() for s in range(6, 12)]
    assert torch.equal(a[0], b[0]) and torch.equal(a[1], b[1])
    assert any(x != a[0].tolist() for x in c)


def test_isolated_node_and_bad_ids():
    ei = torch.tensor([[0, 1], [1, 0]])
    sampler = EgoSampler(ei, 3, hops=2)
    nodes, sub = sampler.sample(2, np.random.default_rng(0))
    assert nodes.tolist() == [2] and sub.shape == (2, 0)
    with pytest.raises(IndexError, match="out of range"):
        sampler.sample(3, np.random.default_rng(0))


@pytest.mark.parametrize("hops", [1, 2, 3])
def test_batched_sampler_equals_one_task_sampler_uncapped(graph, hops):
    sampler = EgoSampler(graph, 400, hops=hops, max_nodes=None)
    egos = [0, 5, 77, 399, 5]
    many = sampler.sample_many(egos, np.random.default_rng(0))
    for u, (nodes, ei) in zip(egos, many):
        ref_nodes, ref_ei = sampler.sample(u, np.random.default_rng(0))
        assert torch.equal(nodes, ref_nodes) and torch.equal(ei, ref_ei)


def test_batched_sampler_respects_the_cap_and_is_seeded(graph):
    sampler = EgoSampler(graph, 400, hops=2, max_nodes=10)
    egos = np.arange(400)
    many = sampler.sample_many(egos, np.random.default_rng(3))
    for u, (nodes, ei) in zip(egos, many):
        assert len(nodes) <= 10 and nodes[0] == u and len(set(nodes.tolist())) == len(nodes)
        ref_ei, _ = subgraph(nodes, graph, relabel_nodes=True, num_nodes=400)
        assert _edge_set(ei) == _edge_set(ref_ei)
    again = sampler.sample_many(egos, np.random.default_rng(3))
    assert all(torch.equal(a[0], b[0]) and torch.equal(a[1], b[1]) for a, b in zip(many, again))
    hub = int(torch.bincount(graph[1]).argmax())
    draws = {tuple(sampler.sample_many([hub], np.random.default_rng(s))[0][0].tolist())
             for s in range(8)}
    assert len(draws) > 1 and all(len(d) == 10 for d in draws)


def test_batched_sampler_bad_ids():
    sampler = EgoSampler(torch.tensor([[0, 1], [1, 0]]), 2)
    assert sampler.sample_many([], np.random.default_rng(0)) == []
    with pytest.raises(IndexError, match="ego ids must be in"):
        sampler.sample_many([0, 2], np.random.default_rng(0))


def test_source_self_loops_stay_out_of_subgraphs():
    ei = torch.tensor([[0, 1, 1, 1, 2], [1, 0, 1, 2, 1]])  # 1 -> 1 is a self loop
    nodes, sub = EgoSampler(ei, 3, hops=1).sample(1, np.random.default_rng(0))
    assert nodes.tolist() == [1, 0, 2]
    assert not (sub[0] == sub[1]).any() and sub.size(1) == 4


def test_saved_csr_loads_memory_mapped_and_samples_the_same(tmp_path):
    import numpy as np

    from graphmeta.synthetic import make_social_graph
    from graphmeta.tasks import EgoSampler
    g = make_social_graph(300, 5, 3, n_blocks=5, seed=2)
    a = EgoSampler(g.edge_index, g.num_nodes, hops=2, max_nodes=9)
    b = EgoSampler.load(a.save(tmp_path / "csr"), hops=2, max_nodes=9)
    assert isinstance(b.col, np.memmap) and b.num_nodes == 300
    for x, y in zip(a.sample_many(range(0, 300, 7), np.random.default_rng(0)),
                    b.sample_many(range(0, 300, 7), np.random.default_rng(0))):
        assert torch.equal(x[0], y[0]) and torch.equal(x[1], y[1])


@pytest.mark.parametrize("hops, cap", [(1, None), (2, 10), (2, 64), (3, 6)])
def test_the_flag_array_path_gives_the_sorted_paths_subgraphs(graph, hops, cap):
    """sample_many keeps pair sets as flags up to DENSE_KEYS pairs and as
    sorted arrays above it: the same subgraphs for the same seed, capped or
    not, with repeated egos, and the flags left clear for the next batch."""
    sampler = EgoSampler(graph, 400, hops=hops, max_nodes=cap)
    egos = np.random.default_rng(1).integers(0, 400, 96)
    for seed in range(3):
        dense = sample_dense(sampler, egos, np.random.default_rng(seed))
        ref = sample_sorted(sampler, egos, np.random.default_rng(seed))
        assert all(torch.equal(a[0], b[0]) and torch.equal(a[1], b[1])
                   for a, b in zip(dense, ref, strict=True))
    seen, fresh, where = _scratch(sampler, 0)
    assert not seen.any() and not fresh.any() and (where == -1).all()
