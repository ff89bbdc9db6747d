"""The interest table adapted as rows (a task's support interests) against
the dense per-task table it replaces, which adapts every row."""
import pytest
import torch

from graphmeta.meta import MAML, expand_params, make_rule, reference_meta_loss
from graphmeta.meta.rules import LearnedRule
from graphmeta.models import GNNEncoder, InterestModel
from graphmeta.models.reference import interest_task_losses
from graphmeta.tasks import TaskBatch


def _models(tasks, conv="sage"):
    """The same model twice: adapted at its rows (``MAML(rows=...)``), and
    with the whole ``[T, C, D]`` table adapted per task (no ``rows``)."""
    d = tasks.data
    out = []
    for _ in range(2):
        torch.manual_seed(0)
        enc = GNNEncoder(d.x.size(1), 6, 2, conv)
        out.append(InterestModel(d.x.size(1), enc, num_interests=tasks.num_interests,
                                 interest_dim=4, head_hidden=5).double())
    out[0].rows = out[0].adapted_rows()
    out[1].rows = {}
    return out


def _maml(model, **kw):
    return MAML(model, rows=model.rows, sparse_grad=model.sparse_grad, **kw)


def _batch(tasks, n=5, seed=0, full=False):
    return tasks.collate(tasks.tasks(tasks.splits["train"][:n], seed, full=full))


def _loss_and_grads(model, rule, batch, first_order=False):
    maml = _maml(model, rule=rule, inner_steps=3, first_order=first_order)
    loss = maml.meta_loss(batch)
    params = list(model.parameters()) + list(maml.rule.parameters())
    return loss, torch.autograd.grad(loss, params, allow_unused=True, materialize_grads=True)


@pytest.mark.parametrize("rule", ["sgd", "lslr", "metasgd", "momentum", "adam", "learned"])
@pytest.mark.parametrize("first_order", [False, True])
def test_row_sparse_equals_the_dense_table(small_tasks, rule, first_order):
    sparse, dense = _models(small_tasks)
    batch = _batch(small_tasks)
    ls, gs = _loss_and_grads(sparse, make_rule(rule, 0.3).double(), batch, first_order)
    ld, gd = _loss_and_grads(dense, make_rule(rule, 0.3).double(), batch, first_order)
    assert ls.item() == pytest.approx(ld.item(), rel=1e-12)
    n = len(gs)
    if rule == "learned":
        # At initialisation the learned rule is SGD, so the model's
        # meta-gradients agree; its own network's do not, as the dense table
        # shows it the zero-gradient rows too (see the test below).
        n = len(list(sparse.parameters()))
    for a, b in zip(gs[:n], gd[:n]):
        # float64: the two paths sum in different orders (a few 1e-12 apart)
        torch.testing.assert_close(a, b, rtol=1e-9, atol=1e-11)


def test_learned_rule_normalises_over_the_task_rows(small_tasks):
    """Documented difference: once its network is trained, the learned rule
    scales the table's update by the RMS of the task's rows, not of the
    whole (mostly zero-gradient) table, so the two paths part."""
    sparse, dense = _models(small_tasks)
    batch = _batch(small_tasks)
    rules = []
    for _ in range(2):
        r = LearnedRule(0.3).double()
        torch.manual_seed(1)
        torch.nn.init.normal_(r.net[2].weight)
        rules.append(r)
    ls, _ = _loss_and_grads(sparse, rules[0], batch)
    ld, _ = _loss_and_grads(dense, rules[1], batch)
    assert abs(ls.item() - ld.item()) > 1e-6


def test_row_sparse_matches_the_per_task_reference(small_tasks):
    model, _ = _models(small_tasks, "gcn")
    batch = _batch(small_tasks)
    params = list(model.parameters())
    loss = _maml(model, inner_lr=0.4, inner_steps=3).meta_loss(batch)
    ref = reference_meta_loss(model, interest_task_losses(model, batch), inner_lr=0.4,
                              inner_steps=3)
    assert loss.item() == pytest.approx(ref.item(), rel=1e-10)
    for g, r in zip(torch.autograd.grad(loss, params), torch.autograd.grad(ref, params)):
        torch.testing.assert_close(g, r, rtol=1e-8, atol=1e-12)


def test_row_sparse_meta_gradient_matches_finite_differences(small_tasks):
    model, _ = _models(small_tasks, "gcn")
    batch = _batch(small_tasks, n=3)
    params = list(model.parameters())

    def loss() -> torch.Tensor:
        return _maml(model, inner_lr=0.3, inner_steps=2).meta_loss(batch)
    g = torch.cat([x.flatten() for x in torch.autograd.grad(loss(), params)])
    base = [p.detach().clone() for p in params]
    gen = torch.Generator().manual_seed(0)
    for _ in range(3):
        v = [torch.randn(p.shape, generator=gen, dtype=p.dtype) for p in params]
        vals = []
        for sign in (1, -1):
            with torch.no_grad():
                for p, b0, vi in zip(params, base, v):
                    p.copy_(b0 + sign * 1e-6 * vi)
            vals.append(loss().item())
        with torch.no_grad():
            for p, b0 in zip(params, base):
                p.copy_(b0)
        fd = (vals[0] - vals[1]) / 2e-6
        assert float(g @ torch.cat([x.flatten() for x in v])) == pytest.approx(fd, rel=1e-5)


def test_full_ranking_predictions_equal_the_dense_table(small_tasks):
    sparse, dense = _models(small_tasks)
    batch = _batch(small_tasks, full=True)
    rule = "metasgd"
    ps = _maml(sparse, rule=make_rule(rule, 0.5).double(), inner_steps=4).adapted_logits(batch)
    pd = _maml(dense, rule=make_rule(rule, 0.5).double(), inner_steps=4).adapted_logits(batch)
    torch.testing.assert_close(ps, pd, rtol=1e-10, atol=1e-12)


def test_a_candidate_that_is_a_support_interest_reads_its_adapted_row(small_tasks):
    """Tasks built elsewhere may score their own support interests."""
    sparse, dense = _models(small_tasks)
    b = _batch(small_tasks)
    q = torch.cat([b.support_items, b.query_items], 1)
    y = torch.cat([b.support_y, b.query_y], 1)
    mask = torch.cat([torch.ones_like(b.support_y, dtype=torch.bool), b.query_mask], 1)
    batch = TaskBatch(b.graphs, b.support_items, b.support_y, q, y, mask, b.users)
    ls, gs = _loss_and_grads(sparse, make_rule("sgd", 0.5).double(), batch)
    ld, gd = _loss_and_grads(dense, make_rule("sgd", 0.5).double(), batch)
    assert ls.item() == pytest.approx(ld.item(), rel=1e-12)
    for a, b_ in zip(gs, gd):
        torch.testing.assert_close(a, b_, rtol=1e-9, atol=1e-12)


def test_inner_loop_state_does_not_grow_with_the_catalogue(small_tasks):
    """What is adapted per task is the support rows ``[T, S, D]``, whatever
    the number of interests; the table itself stays shared."""
    model, _ = _models(small_tasks)
    batch = _batch(small_tasks)
    fast = _maml(model, inner_lr=0.3, inner_steps=2).adapt(batch, detach=True)
    assert fast["interest_emb.weight"].shape == (*batch.support_items.shape, 4)
    assert fast["interest_emb.weight@base"].shape == model.interest_emb.weight.shape
    shared = expand_params(dict(model.named_parameters()), 5, shared=["interest_emb.weight"])
    assert shared["interest_emb.weight"] is model.interest_emb.weight


def test_sparse_gradients_equal_the_dense_ones(small_tasks):
    """``sparse_grad``: the table's meta-gradient is a sparse tensor holding
    the rows the batch read, equal to the dense gradient."""
    d = small_tasks.data
    grads = []
    for sparse_grad in (True, False):
        torch.manual_seed(0)
        model = InterestModel(d.x.size(1), GNNEncoder(d.x.size(1), 6, 2, "sage"),
                              num_interests=small_tasks.num_interests, interest_dim=4,
                              head_hidden=5, sparse_grad=sparse_grad).double()
        MAML(model, rule=make_rule("metasgd", 0.3).double(), inner_steps=2,
             rows=model.adapted_rows(), sparse_grad=sparse_grad).meta_loss(
            _batch(small_tasks)).backward()
        grads.append(model.interest_emb.weight.grad)
    assert grads[0].is_sparse and not grads[1].is_sparse
    torch.testing.assert_close(grads[0].to_dense(), grads[1], rtol=1e-10, atol=1e-14)
    read = grads[1].abs().sum(1) > 0
    assert 0 < read.sum() < small_tasks.num_interests
