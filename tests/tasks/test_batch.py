"""The padded batch types: PyG's dense helpers, moving."""
import torch

from graphmeta.meta import MetaBatch
from graphmeta.tasks import GraphBatch, TaskBatch
from graphmeta.tasks.batch import to_device


def _parts():
    a = (torch.tensor([4, 1, 2]), torch.tensor([[1, 0, 2], [0, 1, 0]]))
    b = (torch.tensor([0, 3]), torch.tensor([[0, 1], [1, 0]]))
    return [a, b]


def test_from_subgraphs_pads_with_targets_as_rows():
    node_x = torch.arange(10.0).view(5, 2)
    g = GraphBatch.from_subgraphs(_parts(), node_x)
    assert g.num_graphs == 2 and g.x.shape == (2, 3, 2)
    assert torch.equal(g.x[0], node_x[[4, 1, 2]]) and torch.equal(g.x[1, 2], torch.zeros(2))
    assert g.node_ids.tolist() == [[4, 1, 2], [0, 3, -1]]
    assert g.node_mask.tolist() == [[True, True, True], [True, True, False]]
    # edge 1 -> 0 of graph 0 is adj[0, 0, 1] (target row, source column)
    assert g.adj[0].tolist() == [[0, 1, 1], [1, 0, 0], [0, 0, 0]]
    assert [d.num_nodes for d in g.data_list] == [3, 2]


def test_to_moves_and_casts_every_tensor():
    g = GraphBatch.from_subgraphs(_parts(), torch.ones(5, 2))
    _ = g.data_list
    t = TaskBatch(g, torch.zeros(2, 2, dtype=torch.long), torch.zeros(2, 2, dtype=torch.long),
                  torch.zeros(2, 3, dtype=torch.long), torch.zeros(2, 3, dtype=torch.long),
                  torch.ones(2, 3, dtype=torch.bool), torch.tensor([4, 0]))
    assert isinstance(t, MetaBatch) and t.num_tasks == 2
    d = t.to("cpu", torch.float64)
    assert d.graphs.x.dtype == torch.float64 and d.graphs.adj.dtype == torch.float64
    assert d.support_items.dtype == torch.long and d.graphs._cache == {}
    assert len(d.graphs.edge_indices) == 2
    a, b = to_device((d, torch.ones(1)), "cpu")
    assert isinstance(a, TaskBatch) and b.item() == 1
