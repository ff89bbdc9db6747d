"""finetune and scratch: what they train on and how they adapt."""
import torch

from graphmeta.config import load_config
from graphmeta.meta import Adam, task_ce
from graphmeta.methods import get_method
from graphmeta.run import prepare
from tests.helpers import TINY_SETTINGS


def _ctx(method, *extra):
    run = prepare(load_config(None, TINY_SETTINGS + [f"methods=[{method}]", *extra]),
                  torch.device("cpu"))
    return run.context(method)


def test_scratch_adapts_a_seeded_random_init_with_adam():
    ctx = _ctx("scratch", "scratch.inner_steps=4", "scratch.inner_lr=0.05")
    learner = get_method("scratch").build(ctx)
    assert isinstance(learner.adapter.rule, Adam) and learner.adapter.inner_steps == 4
    batch = ctx.tasks.collate(ctx.tasks.fixed_tasks("test", 3, 0))
    assert learner.predict(batch).shape == batch.query_y.shape


def test_finetune_pretrains_on_the_query_items_of_train_users_only():
    ctx = _ctx("finetune")
    learner = get_method("finetune").build(ctx)
    batch = next(learner.train_batches())
    assert set(batch.users.tolist()) <= set(ctx.tasks.splits["train"].tolist())
    model = learner.adapter.model
    p = {k: v.unsqueeze(0).expand(batch.num_tasks, *v.shape) for k, v in model.named_parameters()}
    q = task_ce(model.batched_logits(p, batch, batch.query_items), batch.query_y, batch.query_mask)
    assert torch.allclose(learner.training_loss(batch), q.mean(), rtol=1e-6)
    # The support items (also in the ego's feature row) do not enter the loss.
    changed = batch.to("cpu")
    changed.support_y = 1 - changed.support_y
    assert torch.equal(learner.training_loss(changed), learner.training_loss(batch))


def test_few_shot_finetune_shares_the_encoder_and_fc1():
    ctx = _ctx("finetune", "tasks.kind=few-shot", "synthetic.n_items=12", "tasks.k_shot=2",
               "tasks.n_query=3")
    learner = get_method("finetune").build(ctx)
    model = learner.adapter.model
    # few-shot adaptation: Adam, 100 steps of 0.01, unless set
    assert isinstance(learner.adapter.rule, Adam) and learner.adapter.inner_steps == 100
    assert learner.pre.encoder is model.encoder and learner.pre.head.fc1 is model.head.fc1
    assert learner.pre.head.fc2.out_features == len(ctx.tasks.splits["train"])
    graphs, target = next(learner.stages()[0].batches())
    assert target.shape == (graphs.num_graphs, len(ctx.tasks.splits["train"]))
    assert torch.isfinite(learner.training_loss((graphs, target)))
