"""The batched dense encoder equals PyG message passing, for every conv."""
import pytest
import torch

from graphmeta.models import GNNEncoder
from graphmeta.models.functional import sub_params


@pytest.mark.parametrize("conv", ["gcn", "sage", "gin", "gat"])
def test_batched_ego_embeddings_equal_message_passing(small_tasks, conv):
    torch.manual_seed(0)
    enc = GNNEncoder(small_tasks.node_x.size(1), 6, 2, conv, heads=2).double()
    batch = small_tasks.collate(small_tasks.fixed_tasks("train", 5, 0))
    p = {k: v.unsqueeze(0).expand(5, *v.shape) for k, v in enc.named_parameters()}
    dense = enc.batched(p, batch.graphs)
    for t, g in enumerate(batch.graphs.data_list):
        assert torch.allclose(dense[t], enc(g.x, g.edge_index)[0], atol=1e-10)


def test_bad_settings_are_named():
    with pytest.raises(ValueError, match="conv must be one of"):
        GNNEncoder(3, conv="cheb")
    with pytest.raises(ValueError, match="divisible by heads"):
        GNNEncoder(3, hidden=6, conv="gat", heads=4)
    assert "GNNEncoder(3, 8, layers=2" in repr(GNNEncoder(3, 8))
    assert sub_params({"encoder.a": 1}, "encoder.") == {"a": 1}
