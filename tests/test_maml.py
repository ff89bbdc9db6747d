import pytest
import torch

from graphmeta.meta import MAML, adapt_adam, expand_params, learn_inner_lrs, reference_meta_loss, weights
from graphmeta.models import GNNEncoder, InterestModel


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
    assert len({g.num_nodes for g in batch.graphs}) > 1  # padding is exercised
    maml = MAML(model, inner_lr=0.4, inner_steps=3, first_order=first_order)
    params = list(model.parameters())
    loss = maml.meta_loss(batch)
    ref = reference_meta_loss(model, batch, inner_lr=0.4, inner_steps=3,
                              first_order=first_order)
    assert loss.item() == pytest.approx(ref.item(), rel=1e-10)
    for g, r in zip(torch.autograd.grad(loss, params), torch.autograd.grad(ref, params)):
        assert _rel(g, r) < 1e-5


def _flat_grad_and_fd(model, batch, first_order, directions=4, eps=1e-6):
    maml = MAML(model, inner_lr=0.3, inner_steps=2, first_order=first_order)
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
            vals.append(MAML(model, inner_lr=0.3, inner_steps=2).meta_loss(batch).item())
        with torch.no_grad():
            for p, b0 in zip(params, base):
                p.copy_(b0)
        pairs.append(((vals[0] - vals[1]) / (2 * eps),
                      float(g @ torch.cat([vi.flatten() for vi in v]))))
    return pairs


def test_second_order_meta_gradient_matches_finite_differences(small_tasks):
    model = _model(small_tasks, "gcn", hidden=4, layers=1)
    batch = _batch(small_tasks, n=3)
    for fd, analytic in _flat_grad_and_fd(model, batch, first_order=False):
        assert analytic == pytest.approx(fd, rel=1e-5, abs=1e-8)


def test_first_order_differs_from_finite_differences(small_tasks):
    """The check above can fail: dropping second derivatives is visible."""
    model = _model(small_tasks, "gcn", hidden=4, layers=1)
    batch = _batch(small_tasks, n=3)
    pairs = _flat_grad_and_fd(model, batch, first_order=True)
    assert max(abs(a - f) / abs(f) for f, a in pairs) > 1e-3


def test_anil_adapts_the_head_only(small_tasks):
    model = _model(small_tasks, "gcn")
    batch = _batch(small_tasks)
    fast = MAML(model, inner_lr=0.5, inner_steps=2, adapt="head").adapt(batch, detach=True)
    for k, p in model.named_parameters():
        moved = not torch.allclose(fast[k], p.expand_as(fast[k]))
        assert moved == k.startswith("head."), k


def test_adapt_adam_is_independent_per_task(small_tasks):
    """One Adam over stacked [T, ...] weights equals T separate runs."""
    model = _model(small_tasks, "sage")
    tasks = small_tasks.fixed_tasks("train", 4, 0)
    together = adapt_adam(model, small_tasks.collate(tasks), steps=5, lr=0.05)
    apart = [adapt_adam(model, small_tasks.collate([t]), steps=5, lr=0.05)[0] for t in tasks]
    for a, b in zip(together, apart):
        assert torch.allclose(a[: len(b)], b, atol=1e-10)


def test_predict_leaves_meta_parameters_alone(small_tasks):
    model = _model(small_tasks, "gcn")
    before = {k: v.clone() for k, v in model.state_dict().items()}
    prob = MAML(model, inner_lr=0.3, inner_steps=3).predict(_batch(small_tasks))
    assert prob.shape == (5, 8) and ((prob >= 0) & (prob <= 1)).all()
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
    plain = _model(small_tasks, "sage")
    lslr = learn_inner_lrs(_model(small_tasks, "sage"), 0.3, steps=2).double()
    a = MAML(plain, inner_lr=0.3, inner_steps=2).meta_loss(batch)
    b = MAML(lslr, inner_lr=99.0, inner_steps=2).meta_loss(batch)   # inner_lr ignored
    assert torch.allclose(a, b, rtol=1e-12)
    b.backward()
    rates = dict(lslr.inner_lrs.named_parameters())
    assert set(rates) == {k.replace(".", "__") for k in weights(lslr)}
    assert all(r.grad is not None and r.grad.abs().sum() > 0 for r in rates.values())
    # The analytic gradient of one rate matches a central difference.
    key = "head__fc2__weight"
    r = lslr.inner_lrs[key]
    g = r.grad[1].item()
    eps = 1e-6
    with torch.no_grad():
        r[1] += eps
    up = MAML(lslr, inner_steps=2).meta_loss(batch).item()
    with torch.no_grad():
        r[1] -= 2 * eps
    down = MAML(lslr, inner_steps=2).meta_loss(batch).item()
    assert g == pytest.approx((up - down) / (2 * eps), rel=1e-5, abs=1e-9)
    # Zero rates: no adaptation at all.
    with torch.no_grad():
        for v in lslr.inner_lrs.values():
            v.zero_()
    fast = MAML(lslr, inner_steps=2).adapt(batch, detach=True)
    assert all(torch.equal(fast[k], p.expand_as(fast[k])) for k, p in weights(lslr).items())


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
