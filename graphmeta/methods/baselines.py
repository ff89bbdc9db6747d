"""Trained baselines: ``finetune`` (pre-train one model on meta-train users,
adapt it to each support set) and ``scratch`` (adapt a random initialisation)."""
from __future__ import annotations

from typing import Any, Iterator

from torch import Tensor, nn

from graphmeta.build import fewshot_model, interest_model
from graphmeta.meta import MAML, Adam, expand_params, make_rule, task_loss
from graphmeta.methods.common import classifier_loss, pretrain_batches, single_label
from graphmeta.methods.registry import Context, Learner, register_method
from graphmeta.models import FewShotClassifier
from graphmeta.tasks import MetaBatch, TaskBatch

BOTH = ("user-interest", "few-shot")


def _adam(model: nn.Module, ctx: Context) -> MAML:
    """Support-set training with Adam (``baselines.scratch_steps``, ``scratch_lr``)."""
    b = ctx.spec.baselines
    return MAML(model, rule=Adam(b.scratch_lr), inner_steps=b.scratch_steps)


def _scores(maml: MAML, ctx: Context, batch: MetaBatch) -> Tensor:
    return maml.predict_logits(batch) if ctx.spec.kind == "few-shot" else maml.predict(batch)


class Scratch(Learner):
    """A random initialisation trained on each support set alone."""

    def __init__(self, ctx: Context) -> None:
        super().__init__(ctx)
        model = (fewshot_model(ctx.spec, ctx.tasks) if ctx.spec.kind == "few-shot"
                 else interest_model(ctx.spec, ctx.tasks))
        self.adapter = _adam(model, ctx)

    def predict(self, batch: MetaBatch) -> Tensor:
        return _scores(self.adapter, self.ctx, batch)


class FinetuneInterests(Learner):
    """User-interest ``finetune``: one model trained, as a plain classifier,
    on the query interests of meta-train users, then adapted to each support
    set by the inner rule (``meta.inner_rule``, ``inner_lr``, ``inner_steps``;
    0 steps is the pre-trained model as it is). The support items are left
    out of pre-training: they are also written into the ego's own feature
    row, so predicting them would be a shortcut the test users never offer."""

    def __init__(self, ctx: Context) -> None:
        super().__init__(ctx)
        m = ctx.spec.meta
        self.adapter = MAML(interest_model(ctx.spec, ctx.tasks),
                            rule=make_rule(m.inner_rule, m.inner_lr), inner_steps=m.inner_steps)

    def training_loss(self, batch: TaskBatch) -> Tensor:
        model = self.adapter.model
        p = expand_params(dict(model.named_parameters()), batch.num_tasks,
                          shared=list(model.row_sparse()))
        logits = model.batched_logits(p, batch, batch.query_items)
        return task_loss(logits, batch.query_y, batch.query_mask, self.spec.meta.query_loss).mean()

    def predict(self, batch: MetaBatch) -> Tensor:
        return self.adapter.predict(batch)


class FinetuneEpisodes(Learner):
    """Few-shot ``finetune``: a classifier over all meta-train classes that
    shares the model's encoder and ``fc1`` is pre-trained; at test the model,
    with its own fresh ``N``-way ``fc2``, is trained on the support set with
    Adam (``baselines.scratch_*``). Cross-entropy when every meta-train user
    has one class, else one binary loss per class."""

    def __init__(self, ctx: Context) -> None:
        super().__init__(ctx)
        tasks = ctx.tasks
        model = fewshot_model(ctx.spec, tasks)
        self.adapter = _adam(model, ctx)
        train = tasks.splits["train"]
        self.pre = FewShotClassifier(model.encoder, len(train), ctx.spec.model.head_hidden)
        self.pre.head.fc1 = model.head.fc1
        self.single = single_label(tasks)

    def train_batches(self) -> Iterator[Any]:
        return pretrain_batches(self.ctx)

    def training_loss(self, batch: tuple) -> Tensor:
        return classifier_loss(self.pre, batch, self.single)

    def predict(self, batch: MetaBatch) -> Tensor:
        return self.adapter.predict_logits(batch)


ADAM_SEARCH = {"baselines.scratch_steps": [10, 30, 100, 300],
               "baselines.scratch_lr": [0.001, 0.003, 0.01, 0.03]}


def _finetune_search(kind: str) -> dict[str, list]:
    adapt = ADAM_SEARCH if kind == "few-shot" else {"meta.inner_steps": [0, 1, 3, 5, 10],
                                                     "meta.inner_lr": [0.01, 0.03, 0.1, 0.3]}
    return {"baselines.pretrain_lr": [3e-4, 1e-3, 3e-3], **adapt}


@register_method("finetune", kinds=BOTH, training="pretrain", default_for=BOTH,
                 family="baseline", search=_finetune_search,
                 description="one model trained on all meta-train users, fine-tuned on "
                             "the support set")
def build_finetune(ctx: Context) -> Learner:
    return FinetuneEpisodes(ctx) if ctx.spec.kind == "few-shot" else FinetuneInterests(ctx)


@register_method("scratch", kinds=BOTH, training="none", default_for=BOTH,
                 family="baseline", search=ADAM_SEARCH,
                 description="random initialisation trained on the support set only "
                             "(Adam, baselines.scratch_steps)")
def build_scratch(ctx: Context) -> Learner:
    return Scratch(ctx)
