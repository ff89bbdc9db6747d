"""Inner-loop rules: Adam against torch.optim.Adam, momentum by hand, and
meta-gradients through learned and stateful rules against central
differences (float64)."""
import pytest
import torch

from graphmeta.meta import MAML, Adam, LearnedLR, LearnedRule, Momentum, make_rule, task_ce
from graphmeta.models import MLPHead


def _problem(T=3, seed=0):
    g = torch.Generator().manual_seed(seed)
    sx, qx = torch.randn(T, 6, 4, generator=g).double(), torch.randn(T, 5, 4, generator=g).double()
    sy, qy = torch.randint(0, 2, (T, 6), generator=g), torch.randint(0, 2, (T, 5), generator=g)
    support = lambda p: task_ce(MLPHead.batched(p, sx), sy)  # noqa: E731
    query = lambda p: task_ce(MLPHead.batched(p, qx), qy)  # noqa: E731
    return (sx, sy), support, query


def _model():
    torch.manual_seed(0)
    return MLPHead(4, 5, 2).double()


def test_adam_rule_is_torch_adam_per_task():
    (sx, sy), support, _ = _problem()
    model = _model()
    fast = MAML(model, rule=Adam(0.05), inner_steps=7).adapt(support, num_tasks=3, detach=True)
    for t in range(3):
        copy = MLPHead(4, 5, 2).double()
        copy.load_state_dict(model.state_dict())
        opt = torch.optim.Adam(copy.parameters(), lr=0.05)
        for _ in range(7):
            opt.zero_grad()
            task_ce(copy(sx[t])[None], sy[t][None]).sum().backward()
            opt.step()
        for k, v in copy.named_parameters():
            assert torch.allclose(fast[k][t], v.detach(), rtol=1e-10, atol=1e-12), k


def test_momentum_by_hand():
    (sx, sy), support, _ = _problem(T=1)
    model = _model()
    fast = MAML(model, rule=Momentum(0.1, 0.5), inner_steps=3).adapt(support, num_tasks=1,
                                                                      detach=True)
    p = {k: v.detach().clone().requires_grad_() for k, v in model.named_parameters()}
    m = {k: torch.zeros_like(v) for k, v in p.items()}
    for _ in range(3):
        loss = task_ce(MLPHead.batched({k: v[None] for k, v in p.items()}, sx), sy).sum()
        grads = torch.autograd.grad(loss, list(p.values()))
        m = {k: 0.5 * m[k] + g for k, g in zip(p, grads)}
        p = {k: (v - 0.1 * m[k]).detach().requires_grad_() for k, v in p.items()}
    for k in p:
        assert torch.allclose(fast[k][0], p[k], rtol=1e-12, atol=1e-14)


def _fd_check(maml, support, query, params, directions=3, eps=1e-6):
    loss = maml.meta_loss(support, query, num_tasks=3)
    grads = torch.autograd.grad(loss, params, allow_unused=True)
    gen = torch.Generator().manual_seed(1)
    for _ in range(directions):
        v = [torch.randn(p.shape, generator=gen, dtype=p.dtype) for p in params]
        analytic = sum(float((g * vi).sum()) for g, vi in zip(grads, v) if g is not None)
        vals = []
        for sign in (1, -1):
            with torch.no_grad():
                for p, vi in zip(params, v):
                    p.add_(sign * eps * vi)
            vals.append(maml.meta_loss(support, query, num_tasks=3).item())
            with torch.no_grad():
                for p, vi in zip(params, v):
                    p.sub_(sign * eps * vi)
        assert analytic == pytest.approx((vals[0] - vals[1]) / (2 * eps), rel=1e-5, abs=1e-9)


def _trained_rule():
    """A learned rule whose network is not at its (SGD) initialisation."""
    torch.manual_seed(3)
    rule = LearnedRule(0.3, hidden=4)
    for p in rule.net.parameters():
        torch.nn.init.normal_(p, std=0.5)
    return rule


@pytest.mark.parametrize("rule", [LearnedLR(0.3, "element"), LearnedLR(0.3, "tensor"),
                                  Momentum(0.2), Adam(0.05), _trained_rule()],
                         ids=["metasgd", "lslr", "momentum", "adam", "learned"])
def test_meta_gradient_through_the_rule_matches_finite_differences(rule):
    _, support, query = _problem()
    maml = MAML(_model(), rule=rule, inner_steps=3).double()
    _fd_check(maml, support, query, list(maml.parameters()))


def test_learned_rule_starts_as_sgd_and_is_inspectable():
    _, support, query = _problem()
    a = MAML(_model(), inner_lr=0.3, inner_steps=3).double()
    b = MAML(_model(), rule=LearnedRule(0.3), inner_steps=3).double()
    assert torch.allclose(a.meta_loss(support, query, num_tasks=3),
                          b.meta_loss(support, query, num_tasks=3), rtol=1e-12)
    d = b.rule.describe(points=3)
    assert d["update[g][m]"] == [[-2.0] * 3, [0.0] * 3, [2.0] * 3]      # identity at init
    assert set(d["rates"]) == {k for k, _ in b.model.named_parameters()}
    assert {k.split(".")[1] for k in b.state_dict() if k.startswith("rule.")} == {"net", "rates"}


def test_metasgd_has_a_rate_per_element_and_adam_survives_zero_gradients():
    maml = MAML(_model(), rule=LearnedLR(0.1, "element"), inner_steps=2)
    assert {k: tuple(v.shape) for k, v in maml.rule.rates().items()} == \
        {k: tuple(v.shape) for k, v in maml.model.named_parameters()}
    # Zero gradients (a bias the support loss multiplies by 0, and one it
    # does not use): Adam's second moment stays 0 there, where sqrt's
    # derivative is infinite, and the meta-gradient must stay finite.
    _, support, query = _problem()
    maml = MAML(_model(), rule=Adam(0.05), inner_steps=2).double()
    frozen = lambda p: support({**p, "fc1.bias": p["fc1.bias"] * 0,  # noqa: E731
                                "fc2.bias": p["fc2.bias"].detach()})
    loss = maml.meta_loss(frozen, query, num_tasks=3)
    assert all(torch.isfinite(g).all() for g in torch.autograd.grad(loss, list(maml.parameters()),
                                                                    allow_unused=True)
               if g is not None)


def test_make_rule_names():
    assert isinstance(make_rule("metasgd", 0.1), LearnedLR)
    with pytest.raises(ValueError, match="unknown inner rule 'rmsprop'"):
        make_rule("rmsprop", 0.1)
