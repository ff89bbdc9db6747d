import pytest
import torch

from graphmeta.meta import MAML, LearnedLR, expand_params, reference_meta_loss, task_ce
from graphmeta.models import GNNEncoder, InterestModel, MLPHead
from graphmeta.models.reference import interest_task_losses


def _model(tasks, conv="gcn", hidden=6, layers=2):
    torch.manual_seed(0)
    d = tasks.data
    enc = None if conv is None else GNNEncoder(d.x.size(1), hidden, layers, conv, heads=2)
    return InterestModel(d.x.size(1), enc, interest_x=d.interest_x, head_hidden=5).double()


def _batch(tasks, n=5, seed=0):
    return tasks.collate(tasks.fixed_tasks("train", n, seed))


def _rel(a, b):
    return ((a - b).norm() / b.norm()).item()


@pytest.mark.parametrize("conv", ["gcn", "sage", "gin", "gat", None])
@pytest.mark.parametrize("first_order", [False, True])
def test_batched_equals_per_task_reference(small_tasks, conv, first_order):
    model = _model(small_tasks, conv)
    batch = _batch(small_tasks)
    assert len({g.num_nodes for g in batch.graphs.data_list}) > 1  # padding is exercised
    maml = MAML(model, inner_lr=0.4, inner_steps=3, first_order=first_order)
    params = list(model.parameters())
    loss = maml.meta_loss(batch)
    ref = reference_meta_loss(model, interest_task_losses(model, batch), inner_lr=0.4,
                              inner_steps=3, first_order=first_order)
    assert loss.item() == pytest.approx(ref.item(), rel=1e-10)
    for g, r in zip(torch.autograd.grad(loss, params), torch.autograd.grad(ref, params)):
        assert _rel(g, r) < 1e-5


def _flat_grad_and_fd(model, batch, first_order, directions=4, eps=1e-6, query_loss="ce"):
    maml = MAML(model, inner_lr=0.3, inner_steps=2, first_order=first_order,
                query_loss=query_loss)
    params = list(model.parameters())
    grads = torch.autograd.grad(maml.meta_loss(batch), params)
    g = torch.cat([x.flatten() for x in grads])
    base = [p.detach().clone() for p in params]
    gen = torch.Generator().manual_seed(0)
    pairs = []
    for _ in range(directions):
        v = [torch.randn(p.shape, generator=gen, dtype=p.dtype) for p in params]
        vals = []
        for sign in (1, -1):
            with torch.no_grad():
                for p, b0, vi in zip(params, base, v):
                    p.copy_(b0 + sign * eps * vi)
            vals.append(MAML(model, inner_lr=0.3, inner_steps=2,
                             query_loss=query_loss).meta_loss(batch).item())
        with torch.no_grad():
            for p, b0 in zip(params, base):
                p.copy_(b0)
        pairs.append(((vals[0] - vals[1]) / (2 * eps),
                      float(g @ torch.cat([vi.flatten() for vi in v]))))
    return pairs


@pytest.mark.parametrize("query_loss", ["ce", "softmax"])
def test_second_order_meta_gradient_matches_finite_differences(small_tasks, query_loss):
    model = _model(small_tasks, "gcn", hidden=4, layers=1)
    batch = _batch(small_tasks, n=3)
    for fd, analytic in _flat_grad_and_fd(model, batch, first_order=False,
                                          query_loss=query_loss):
        assert analytic == pytest.approx(fd, rel=1e-5, abs=1e-8)


def test_first_order_differs_from_finite_differences(small_tasks):
    """The check above can fail: dropping second derivatives is visible."""
    model = _model(small_tasks, "gcn", hidden=4, layers=1)
    batch = _batch(small_tasks, n=3)
    pairs = _flat_grad_and_fd(model, batch, first_order=True)
    assert max(abs(a - f) / abs(f) for f, a in pairs) > 1e-3


@pytest.mark.parametrize("params", ["module", "names", "predicate"])
def test_the_parameters_to_adapt_are_an_argument(small_tasks, params):
    """ANIL is MAML given the head's parameters: as a submodule, by name or
    by a predicate; the others are read, never adapted."""
    model = _model(small_tasks, "gcn")
    batch = _batch(small_tasks)
    head = [k for k, _ in model.named_parameters() if k.startswith("head.")]
    arg = {"module": model.head, "names": head,
           "predicate": lambda k: k.startswith("head.")}[params]
    maml = MAML(model, inner_lr=0.5, inner_steps=2, params=arg)
    assert maml.keys == head
    fast = maml.adapt(batch, detach=True)
    for k, p in model.named_parameters():
        moved = not torch.allclose(fast[k], p.expand_as(fast[k]))
        assert moved == k.startswith("head."), k


def test_adapted_logits_leave_the_meta_parameters_alone(small_tasks):
    model = _model(small_tasks, "gcn")
    before = {k: v.clone() for k, v in model.state_dict().items()}
    batch = _batch(small_tasks)
    logits = MAML(model, inner_lr=0.3, inner_steps=3).adapted_logits(batch)
    assert logits.shape == (*batch.query_y.shape, 2) and not logits.requires_grad
    for k, v in model.state_dict().items():
        assert torch.equal(v, before[k])


def test_expand_params_shapes():
    p = {"w": torch.randn(3, 2, requires_grad=True)}
    e = expand_params(p, 4)
    assert e["w"].shape == (4, 3, 2) and e["w"].grad_fn is not None
    d = expand_params(p, 4, detach=True)
    assert d["w"].is_leaf and d["w"].requires_grad


def test_learned_inner_rates_start_at_inner_lr_and_get_a_gradient(small_tasks):
    batch = _batch(small_tasks)
    a = MAML(_model(small_tasks, "sage"), inner_lr=0.3, inner_steps=2).meta_loss(batch)
    lslr = MAML(_model(small_tasks, "sage"), rule=LearnedLR(0.3), inner_steps=2).double()
    b = lslr.meta_loss(batch)
    assert torch.allclose(a, b, rtol=1e-12)
    b.backward()
    rates = lslr.rule.rates()
    assert set(rates) == {k for k, _ in lslr.model.named_parameters()}
    assert all(r.shape == (2,) and r.grad is not None and r.grad.abs().sum() > 0
               for r in rates.values())
    # The rates are the meta-learner's state, under the rule's own names.
    assert {k for k in lslr.state_dict() if k.startswith("rule.")} == \
        {f"rule.values.{i}" for i in range(len(rates))}
    # The analytic gradient of one rate matches a central difference.
    r = rates["head.fc2.weight"]
    g = r.grad[1].item()
    eps = 1e-6
    with torch.no_grad():
        r[1] += eps
    up = lslr.meta_loss(batch).item()
    with torch.no_grad():
        r[1] -= 2 * eps
    down = lslr.meta_loss(batch).item()
    assert g == pytest.approx((up - down) / (2 * eps), rel=1e-5, abs=1e-9)
    # Zero rates: no adaptation at all.
    with torch.no_grad():
        for v in rates.values():
            v.zero_()
    fast = lslr.adapt(batch, detach=True)
    assert all(torch.equal(fast[k], p.expand_as(fast[k])) for k, p in lslr.model.named_parameters())


def test_bad_arguments_are_named(small_tasks):
    with pytest.raises(ValueError, match="give lr \\(plain SGD\\) or rule, not both"):
        MAML(_model(small_tasks), inner_lr=0.1, rule=LearnedLR(0.1))
    with pytest.raises(ValueError, match="no parameter 'head.fc3.weight'"):
        MAML(_model(small_tasks), params=["head.fc3.weight"])
    with pytest.raises(ValueError, match="holds none of the model's parameters"):
        MAML(_model(small_tasks), params=torch.nn.Linear(2, 2))
    with pytest.raises(ValueError, match="selects no parameter"):
        MAML(_model(small_tasks), params=lambda k: False)
    with pytest.raises(ValueError, match="query_loss must be one of"):
        MAML(_model(small_tasks), query_loss="hinge")


def test_loss_closures_equal_the_batch_form():
    """Any module, with per-task support and query loss closures (the classic
    example's use), gives the batched form's loss and gradient."""
    torch.manual_seed(0)
    model = MLPHead(4, 5, 2).double()
    sx, qx = torch.randn(3, 6, 4, dtype=torch.float64), torch.randn(3, 7, 4, dtype=torch.float64)
    sy, qy = torch.randint(0, 2, (3, 6)), torch.randint(0, 2, (3, 7))
    maml = MAML(model, inner_lr=0.4, inner_steps=3)
    loss = maml.meta_loss(lambda p: task_ce(MLPHead.batched(p, sx), sy),
                          lambda p: task_ce(MLPHead.batched(p, qx), qy), num_tasks=3)
    grads = torch.autograd.grad(loss, list(model.parameters()))
    # The same by hand: three tasks, one at a time, plain SGD.
    ref = 0
    for t in range(3):
        fast = dict(model.named_parameters())
        for _ in range(3):
            inner = task_ce(MLPHead.batched({k: v[None] for k, v in fast.items()}, sx[t:t + 1]),
                            sy[t:t + 1]).sum()
            g = torch.autograd.grad(inner, list(fast.values()), create_graph=True)
            fast = {k: v - 0.4 * gi for (k, v), gi in zip(fast.items(), g)}
        ref = ref + task_ce(MLPHead.batched({k: v[None] for k, v in fast.items()}, qx[t:t + 1]),
                            qy[t:t + 1]).sum() / 3
    assert loss.item() == pytest.approx(ref.item(), rel=1e-12)
    for a, b in zip(grads, torch.autograd.grad(ref, list(model.parameters()))):
        assert torch.allclose(a, b, rtol=1e-10, atol=1e-12)
    with pytest.raises(ValueError, match="needs num_tasks"):
        maml.adapt(lambda p: task_ce(MLPHead.batched(p, sx), sy))
    # a closure that returns the mean over tasks would shrink every inner step by 1/T
    with pytest.raises(ValueError, match=r"support_loss must return one loss per task.*\(\)"):
        maml.meta_loss(lambda p: task_ce(MLPHead.batched(p, sx), sy).mean(),
                       lambda p: task_ce(MLPHead.batched(p, qx), qy), num_tasks=3)
    with pytest.raises(ValueError, match="query_loss must return one loss per task"):
        maml.meta_loss(lambda p: task_ce(MLPHead.batched(p, sx), sy),
                       lambda p: task_ce(MLPHead.batched(p, qx), qy).sum(), num_tasks=3)


def test_balanced_task_ce_weighs_each_class_equally():
    import torch.nn.functional as F
    from graphmeta.meta import task_ce
    torch.manual_seed(0)
    logits = torch.randn(2, 5, 2)
    y = torch.tensor([[1, 0, 0, 0, 0], [1, 1, 0, 0, 0]])
    mask = torch.ones(2, 5, dtype=torch.bool)
    mask[1, 4] = False                                    # a padded query entry
    ce = F.cross_entropy(logits.flatten(0, 1), y.flatten(), reduction="none").view(2, 5)
    got = task_ce(logits, y, mask, balanced=True)
    assert torch.allclose(got[0], (ce[0, 0] + ce[0, 1:].mean()) / 2)
    assert torch.allclose(got[1], (ce[1, :2].mean() + ce[1, 2:4].mean()) / 2)
    # One class only: the plain mean.
    assert torch.allclose(task_ce(logits, torch.zeros_like(y), balanced=True),
                          task_ce(logits, torch.zeros_like(y)))


def test_bpr_is_the_mean_over_positive_negative_pairs():
    import math

    from graphmeta.meta import task_bpr
    logits = torch.tensor([[[0.0, 1.0], [0.0, -1.0], [0.0, 0.5], [0.0, 3.0]]])
    y = torch.tensor([[1, 0, 0, 1]])
    mask = torch.tensor([[True, True, True, False]])
    s = [1.0, -1.0, 0.5]
    expected = (math.log1p(math.exp(-(s[0] - s[1]))) + math.log1p(math.exp(-(s[0] - s[2])))) / 2
    assert task_bpr(logits, y, mask).item() == pytest.approx(expected)


def test_softmax_is_each_positive_against_all_negatives():
    import math

    from graphmeta.meta import task_softmax
    logits = torch.tensor([[[0.0, 1.0], [0.0, -1.0], [0.0, 0.5], [0.0, 3.0], [0.0, 2.0]]],
                          dtype=torch.float64, requires_grad=True)
    y = torch.tensor([[1, 0, 0, 1, 1]])
    mask = torch.tensor([[True, True, True, False, True]])        # entry 3 is padding
    s, negs = [1.0, -1.0, 0.5, 3.0, 2.0], [-1.0, 0.5]

    def nll(i):
        return -math.log(math.exp(s[i]) / (math.exp(s[i]) + sum(math.exp(v) for v in negs)))
    assert task_softmax(logits, y, mask).item() == pytest.approx((nll(0) + nll(4)) / 2)
    # A task without negatives (or positives) costs nothing and keeps finite gradients.
    for y0 in (torch.ones_like(y), torch.zeros_like(y)):
        out = task_softmax(logits, y0, mask)
        assert out.item() == pytest.approx(0.0, abs=1e-12)
        (g,) = torch.autograd.grad(out.sum(), logits)
        assert torch.isfinite(g).all()
