"""The user-interest model: batched logits equal the per-task forward."""
import pytest
import torch

from graphmeta.models import GNNEncoder, InterestModel


@pytest.mark.parametrize("combine", ["concat", "concat-product"])
@pytest.mark.parametrize("graph", [True, False])
def test_batched_logits_equal_the_per_task_forward(small_tasks, combine, graph):
    torch.manual_seed(0)
    d = small_tasks.data
    enc = GNNEncoder(d.x.size(1), 6, 2, "sage") if graph else None
    model = InterestModel(d.x.size(1), enc, num_interests=30, interest_dim=4,
                          combine=combine, head_hidden=5).double()
    batch = small_tasks.collate(small_tasks.fixed_tasks("train", 4, 0))
    p = {k: v.unsqueeze(0).expand(4, *v.shape) for k, v in model.named_parameters()}
    out = model.batched_logits(p, batch, batch.query_items)
    assert out.shape == (*batch.query_items.shape, 2)
    for t, g in enumerate(batch.graphs.data_list):
        assert torch.allclose(out[t], model(g.x, g.edge_index, batch.query_items[t]), atol=1e-10)


def test_exactly_one_interest_source():
    with pytest.raises(ValueError, match="exactly one of interest_x and num_interests"):
        InterestModel(3)
    with pytest.raises(ValueError, match="combine must be one of"):
        InterestModel(3, num_interests=4, combine="sum")
