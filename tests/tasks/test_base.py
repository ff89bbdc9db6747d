"""What both task kinds share: seeded splits and node features from parts."""
import pytest
import torch
from torch_geometric.data import Data

from graphmeta.tasks import FewShotTasks, UserInterestTasks, split_ids


def test_split_ids_is_seeded_disjoint_and_sorted():
    a = split_ids(range(100), [0.5, 0.2, 0.3], seed=1)
    assert [len(v) for v in a.values()] == [50, 20, 30]
    assert all(torch.equal(v, v.sort().values) for v in a.values())
    assert torch.equal(split_ids(range(100), [0.5, 0.2, 0.3], seed=1)["val"], a["val"])
    assert not torch.equal(split_ids(range(100), [0.5, 0.2, 0.3], seed=2)["val"], a["val"])
    with pytest.raises(ValueError, match="class_split fractions"):
        split_ids(range(5), [1, 1, 1], 0, what="class_split")


def test_node_features_are_named_parts_concatenated():
    g = torch.Generator().manual_seed(0)
    ei = torch.stack([torch.arange(40), (torch.arange(40) + 1) % 40])
    data = Data(edge_index=torch.cat([ei, ei.flip(0)], 1), num_nodes=40,
                x=torch.randn(40, 3, generator=g), y=torch.arange(40) % 8,
                interests=torch.rand(40, 12, generator=g) < 0.5)
    ui = UserInterestTasks(data, k_shot=2, n_query=2, node_features="x+interests")
    assert ui.node_x.shape == (40, 15) and torch.equal(ui.node_x[:, :3], data.x)
    assert ui._feature_offsets == {"x": 0, "interests": 3}
    fs = FewShotTasks(data, n_way=2, k_shot=2, n_query=2, labels="y",
                      class_split=(0.5, 0.25, 0.25), node_features="x+structure")
    assert fs.node_x.shape == (40, 3 + 17) and fs.node_features == "x+structure"
    assert "FewShotTasks(classes=" in repr(fs) and "node_features='x+structure'" in repr(fs)
