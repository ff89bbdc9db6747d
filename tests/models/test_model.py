"""The user-interest model: batched logits equal the per-task forward."""
import pytest
import torch

import graphmeta.models.model as model_module
from graphmeta.features import ContextFeatures
from graphmeta.meta import MAML
from graphmeta.models import GNNEncoder, InterestModel
from graphmeta.tasks import UserInterestTasks


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


@pytest.mark.parametrize("combine", ["concat", "concat-product"])
@pytest.mark.parametrize("context", [False, True])
def test_long_candidate_lists_are_scored_by_the_factorised_head(small_tasks, combine, context,
                                                               monkeypatch):
    """fc1 is linear in [h, e, h * P e, context]: scoring a long list as one
    matmul per task gives the per-pair head's logits, with and without
    autograd (the chunked path), and the same meta-gradient."""
    d = small_tasks.data
    tasks = UserInterestTasks(d, k_shot=3, n_query=4, max_nodes=12, seed=0,
                              transform=ContextFeatures() if context else None)
    torch.manual_seed(0)
    model = InterestModel(d.x.size(1), GNNEncoder(d.x.size(1), 6, 2, "sage"),
                          num_interests=tasks.num_interests, interest_dim=4, head_hidden=5,
                          combine=combine, context=[0, 1, 2, 3] if context else ()).double()
    batch = tasks.collate(tasks.tasks(tasks.splits["test"][:6], 0, full=True))
    batch.item_context = None if batch.item_context is None else batch.item_context.double()
    maml = MAML(model, inner_lr=0.3, inner_steps=2, rows=model.adapted_rows())
    per_pair = maml.adapted_logits(batch)
    loss = maml.meta_loss(batch)
    grads = torch.autograd.grad(loss, list(model.parameters()))
    model.factorise_from = 0
    calls = []
    whole = model_module.catalogue_logits
    monkeypatch.setattr(model_module, "catalogue_logits",
                        lambda *a: calls.append(1) or whole(*a))
    # all of the catalogue scored at once (no context), then candidate slices
    torch.testing.assert_close(maml.adapted_logits(batch), per_pair, rtol=1e-10, atol=1e-12)
    assert len(calls) == (0 if context else 1)
    batch.disjoint = False
    torch.testing.assert_close(maml.adapted_logits(batch), per_pair, rtol=1e-10, atol=1e-12)
    loss_f = maml.meta_loss(batch)
    assert loss_f.item() == pytest.approx(loss.item(), rel=1e-12)
    for g, gf in zip(grads, torch.autograd.grad(loss_f, list(model.parameters()))):
        torch.testing.assert_close(gf, g, rtol=1e-9, atol=1e-12)
