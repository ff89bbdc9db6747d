"""Few-shot (G-Meta protocol) episodes: disjoint class splits, clean episodes."""
import pytest
import torch
from torch_geometric.data import Data

from graphmeta.synthetic import make_social_graph
from graphmeta.tasks import FewShotTasks


@pytest.fixture(scope="module")
def graph():
    data = make_social_graph(400, 12, 6, n_blocks=8, p_in=0.08, p_out=0.002, seed=1)
    data.x = data.x.double()
    return data


def test_class_splits_are_disjoint_and_episodes_are_clean(graph):
    tasks = FewShotTasks(graph, k_shot=2, n_query=3, max_nodes=10, class_split=(0.5, 0.25, 0.25))
    splits = [set(v.tolist()) for v in tasks.splits.values()]
    assert not (splits[0] & splits[1] or splits[0] & splits[2] or splits[1] & splits[2])
    member = graph.interests.bool()
    for split in ("train", "val", "test"):
        for ep in tasks.episodes(split, 5, seed=3):
            assert set(ep.classes.tolist()) <= set(tasks.splits[split].tolist())
            users = torch.cat([ep.support_users, ep.query_users])
            assert len(set(users.tolist())) == len(users)   # nobody twice
            ys = torch.cat([ep.support_y, ep.query_y])
            rows = member[users][:, ep.classes]              # [users, N]
            # each user is in its own class and in no other class of the episode
            assert rows[torch.arange(len(users)), ys].all() and (rows.sum(1) == 1).all()
            assert ep.support_y.tolist() == sorted(ep.support_y.tolist())
            for (nodes, _), u in zip(ep.support_graphs + ep.query_graphs, users.tolist()):
                assert nodes[0] == u and len(nodes) <= 10
    a = tasks.episodes("test", 3, seed=7)
    b = tasks.episodes("test", 3, seed=7)
    assert all(torch.equal(x.query_users, y.query_users) for x, y in zip(a, b))


def test_n_way_auto_shrinks_and_too_few_classes_is_named():
    y = torch.arange(60) % 6                      # 6 classes of 10 users
    ei = torch.stack([torch.arange(60), (torch.arange(60) + 1) % 60])
    data = Data(edge_index=torch.cat([ei, ei.flip(0)], 1), y=y, num_nodes=60,
                x=torch.randn(60, 3))
    tasks = FewShotTasks(data, k_shot=2, n_query=3, class_split=(0.34, 0.33, 0.33))
    assert tasks.n_way == 2 and tasks.node_features == "x"
    with pytest.raises(ValueError,
                       match=r"n_way=5: every class split needs .* train 2, val 2, test 2"):
        FewShotTasks(data, n_way=5, k_shot=2, n_query=3, class_split=(0.34, 0.33, 0.33))
    with pytest.raises(ValueError, match=r"labels='interests' needs data.interests"):
        FewShotTasks(data, labels="interests")


def test_structure_features_without_x():
    y = torch.arange(60) % 6
    ei = torch.stack([torch.arange(60), (torch.arange(60) + 1) % 60])
    data = Data(edge_index=torch.cat([ei, ei.flip(0)], 1), y=y, num_nodes=60)
    a = FewShotTasks(data, n_way=2, k_shot=2, n_query=3, class_split=(0.34, 0.33, 0.33))
    b = FewShotTasks(data, n_way=2, k_shot=2, n_query=3, class_split=(0.34, 0.33, 0.33))
    assert a.node_features == "structure" and a.node_x.shape == (60, 17)
    assert torch.equal(a.node_x, b.node_x)        # the eigenvector signs repeat
    with pytest.raises(ValueError, match="needs data.x"):
        FewShotTasks(data, n_way=2, k_shot=2, n_query=3, class_split=(0.34, 0.33, 0.33),
                     node_features="x")
