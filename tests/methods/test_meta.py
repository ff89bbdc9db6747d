"""Meta-learner methods: built from the spec, trained through MAML with the
spec's inner rule, the rule's state in the checkpoint."""
import pytest
import torch

from graphmeta.config import ConfigError, load_config
from graphmeta.meta import LearnedLR
from graphmeta.methods import Context, get_method
from graphmeta.run import prepare
from tests.helpers import TINY_SETTINGS


def _run(method, *settings, few_shot=False):
    extra = ["tasks.kind=few-shot", "synthetic.n_items=12", "tasks.k_shot=2", "tasks.n_query=3"] \
        if few_shot else []
    return prepare(load_config(None, TINY_SETTINGS + extra + [f"methods=[{method}]",
                                                              *settings]), torch.device("cpu"))


def _ctx(method, *settings, few_shot=False):
    return _run(method, *settings, few_shot=few_shot).context(method)


def test_maml_uses_the_spec_rule_and_checkpoints_it():
    ctx = _ctx("maml", "maml.inner_rule=lslr", "maml.inner_steps=3", "maml.inner_lr=0.2")
    learner = get_method("maml").build(ctx)
    assert isinstance(learner.maml.rule, LearnedLR) and learner.maml.inner_steps == 3
    assert all(torch.equal(r, torch.full((3,), 0.2)) for r in learner.maml.rule.rates().values())
    state = learner.state_dict()
    assert any(k.startswith("maml.model.encoder.convs.0") for k in state)
    assert any(k.startswith("maml.rule.values.") for k in state)
    batch = next(learner.train_batches())
    assert learner.training_loss(batch).requires_grad
    pred = learner.predict(batch)
    assert pred.shape == batch.query_y.shape and torch.isfinite(pred).all()   # log-odds


def test_maml_mlp_has_no_encoder_and_fomaml_is_first_order():
    assert get_method("maml-mlp").build(_ctx("maml-mlp")).model.encoder is None
    assert get_method("fomaml").build(_ctx("fomaml")).maml.first_order


def test_few_shot_meta_learners():
    ctx = _ctx("gmeta", few_shot=True)
    assert ctx.settings.inner_lr == 0.01             # gmeta's own default
    gmeta = get_method("gmeta").build(ctx)
    batch = next(gmeta.train_batches())
    assert gmeta.predict(batch).shape == (*batch.query_y.shape, ctx.tasks.n_way)
    assert get_method("protonet").build(_ctx("protonet", few_shot=True)).maml.inner_steps == 0
    with pytest.raises(ConfigError, match="unknown key 'protonet.inner_steps'"):
        _ctx("protonet", "protonet.inner_steps=3", few_shot=True)


def test_context_carries_the_method_spec():
    ctx = _ctx("gmeta", few_shot=True)
    assert isinstance(ctx, Context) and ctx.method == "gmeta" and ctx.device.type == "cpu"


@pytest.mark.parametrize("few_shot", [False, True])
def test_anil_is_maml_given_the_heads_parameters(few_shot):
    """ANIL computes the encoder once; MAML with ``params=model.head``
    recomputes it at every step with unchanged encoder weights: the same
    loss, gradient and predictions, so the encoder gets no inner update."""
    from graphmeta.meta import MAML
    from graphmeta.methods.common import adapter_rows, scores
    ctx = _ctx("anil", "anil.inner_steps=2", few_shot=few_shot)
    anil = get_method("anil").build(ctx).double()
    ref = MAML(anil.model, inner_lr=ctx.settings.inner_lr, inner_steps=2,
               params=anil.model.head, **adapter_rows(anil.model))
    assert anil.maml.keys == ref.keys and all(k.startswith("head.") for k in ref.keys)
    draw = ctx.tasks.episodes if few_shot else ctx.tasks.fixed_tasks
    batch = ctx.tasks.collate(draw("train", 4, 0)).to("cpu", torch.float64)
    params = list(anil.model.parameters())
    a, b = anil.training_loss(batch), ref.meta_loss(batch)
    assert torch.allclose(a, b, rtol=1e-10)
    for ga, gb in zip(torch.autograd.grad(a, params, allow_unused=True, materialize_grads=True),
                      torch.autograd.grad(b, params, allow_unused=True, materialize_grads=True)):
        assert torch.allclose(ga, gb, rtol=1e-8, atol=1e-12)
    assert torch.allclose(anil.predict(batch), scores(ctx, ref.adapted_logits(batch)),
                          rtol=1e-10)


@pytest.mark.parametrize("few_shot", [False, True])
def test_anil_with_the_learned_rule_is_the_learned_rule_on_the_head(few_shot):
    """`anil` with inner_rule=learned (the encoder run once per task)
    computes what MAML with a LearnedRule and the head's parameters does
    (the encoder rerun at every inner step, unchanged): the same loss, the
    same gradients for the model and for the rule's own parameters, the
    same predictions."""
    from graphmeta.meta import MAML, LearnedRule
    from graphmeta.methods.common import adapter_rows, scores
    ctx = _ctx("anil", "anil.inner_steps=2", "anil.inner_rule=learned", few_shot=few_shot)
    anil = get_method("anil").build(ctx).double()
    ref = MAML(anil.model, rule=LearnedRule(ctx.settings.inner_lr), inner_steps=2,
               params=anil.model.head, **adapter_rows(anil.model)).double()
    assert isinstance(anil.maml.rule, LearnedRule)
    assert anil.maml.rule.names == ref.rule.names and \
        all(k.startswith("head.") for k in anil.maml.rule.names)
    torch.manual_seed(0)
    with torch.no_grad():                # a rule that is not plain SGD (its last layer starts at 0)
        for p in anil.maml.rule.net.parameters():
            p.normal_(0, 0.5)
    ref.rule.load_state_dict(anil.maml.rule.state_dict())
    draw = ctx.tasks.episodes if few_shot else ctx.tasks.fixed_tasks
    batch = ctx.tasks.collate(draw("train", 4, 0)).to("cpu", torch.float64)
    a, b = anil.training_loss(batch), ref.meta_loss(batch)
    assert torch.allclose(a, b, rtol=1e-10)
    names = [k for k, _ in anil.maml.named_parameters()]
    assert names == [k for k, _ in ref.named_parameters()] and any("rule.net." in k for k in names)
    ga = torch.autograd.grad(a, list(anil.maml.parameters()), allow_unused=True,
                             materialize_grads=True)
    gb = torch.autograd.grad(b, list(ref.parameters()), allow_unused=True, materialize_grads=True)
    for k, x, y in zip(names, ga, gb):
        assert torch.allclose(x, y, rtol=1e-8, atol=1e-12), k
    assert any(x.abs().sum() > 0 for k, x in zip(names, ga) if "rule.net." in k)
    assert torch.allclose(anil.predict(batch), scores(ctx, ref.adapted_logits(batch)),
                          rtol=1e-10)


def test_meta_rule_methods_use_their_rules():
    from graphmeta.meta import LearnedRule
    assert get_method("metasgd").build(_ctx("metasgd")).maml.rule.per == "element"
    assert isinstance(get_method("learned-rule").build(_ctx("learned-rule")).maml.rule, LearnedRule)
    assert get_method("metasgd").family == "meta-rule"


def test_meta_baseline_pretrains_then_meta_trains_on_cosine_prototypes():
    from graphmeta.train import fit
    run = _run("meta-baseline", "*.pretrain_iterations=4", "*.iterations=4", few_shot=True)
    ctx = run.context("meta-baseline")
    res = fit(ctx, run.evaluator, progress=False)
    val = run.evaluator.batches("val")
    learner = res.learner
    assert learner.maml.model.metric == "cosine" and learner.maml.inner_steps == 0
    assert learner.pre.encoder is learner.maml.model.encoder            # one encoder, two stages
    assert [r["method"] for r in res.history] == ["meta-baseline:pretrain"] * 2 + \
        ["meta-baseline:meta"] * 2
    batch = next(iter(val))
    logits = learner.predict(batch)
    assert logits.shape == (*batch.query_y.shape, ctx.tasks.n_way)
    assert logits.abs().max() <= learner.maml.model.temperature.abs() + 1e-5   # tau * cosine
