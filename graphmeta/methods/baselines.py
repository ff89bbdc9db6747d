"""Trained baselines: ``finetune`` (pre-train one model on meta-train users,
adapt it to each support set) and ``scratch`` (adapt a random initialisation)."""
from __future__ import annotations

from typing import Any, Optional

from torch import Tensor, nn

from graphmeta.meta import Adapter, expand_params, make_rule, task_loss
from graphmeta.methods.common import (adapter_rows, classifier, classifier_loss, predict,
                                      pretrain_batches, single_label)
from graphmeta.methods.registry import Context, Learner, Stage, register_method
from graphmeta.methods.settings import FinetuneSettings, ScratchSettings
from graphmeta.models import FewShotClassifier

BOTH = ("user-interest", "few-shot")


def _adapter(model: nn.Module, ctx: Context) -> Adapter:
    """Support-set training of ``model`` by the method's rule, steps and rate."""
    s = ctx.settings
    return Adapter(model, make_rule(s.inner_rule, s.inner_lr), s.inner_steps,
                   **adapter_rows(model))


class Scratch(Learner):
    """A random initialisation trained on each support set alone (Adam,
    ``inner_steps`` at ``inner_lr``)."""

    def __init__(self, ctx: Context) -> None:
        super().__init__(ctx)
        self.adapter = _adapter(classifier(ctx), ctx)

    @property
    def adapt_steps(self) -> Optional[int]:
        return self.adapter.inner_steps or None

    def predict(self, batch: Any, steps: Optional[int] = None) -> Tensor:
        return predict(self.ctx, self.adapter, batch, steps)


class Finetune(Learner):
    """``finetune``: one model trained as a plain classifier, then adapted to
    each support set (``inner_rule``, ``inner_steps``, ``inner_lr``; 0 steps
    is the pre-trained model as it is).

    - User-interest tasks: trained on the query interests of meta-train
      users. The support items are left out of pre-training: they are also
      written into the ego's own feature row, so predicting them would be a
      shortcut the test users never offer.
    - Few-shot episodes: a classifier over all meta-train classes that
      shares the model's encoder and ``fc1`` is pre-trained (cross-entropy
      when every meta-train user has one class, else one binary loss per
      class); at test the model, with its own fresh ``N``-way ``fc2``, is
      trained on the support set.
    """

    def __init__(self, ctx: Context) -> None:
        super().__init__(ctx)
        model = classifier(ctx)
        self.adapter = _adapter(model, ctx)
        if ctx.kind == "few-shot":
            self.pre = FewShotClassifier(model.encoder, len(ctx.tasks.splits["train"]),
                                         ctx.settings.head_hidden)
            self.pre.head.fc1 = model.head.fc1
            self.single = single_label(ctx.tasks)

    def training_loss(self, batch: Any) -> Tensor:
        if self.ctx.kind == "few-shot":
            return classifier_loss(self.pre, batch, self.single)
        model = self.adapter.model
        p = expand_params(dict(model.named_parameters()), batch.num_tasks,
                          shared=list(self.adapter.rows))
        logits = model.batched_logits(p, batch, batch.query_items)
        return task_loss(logits, batch.query_y, batch.query_mask,
                         self.settings.query_loss).mean()

    def stages(self) -> list[Stage]:
        s = self.settings
        batches = (lambda: pretrain_batches(self.ctx)) if self.ctx.kind == "few-shot" \
            else self.train_batches
        return [Stage(s.pretrain_iterations, s.pretrain_lr, self.training_loss, batches,
                      s.eval_every, f"{self.ctx.method}.pretrain_lr")]

    @property
    def adapt_steps(self) -> Optional[int]:
        return self.adapter.inner_steps or None

    def predict(self, batch: Any, steps: Optional[int] = None) -> Tensor:
        return predict(self.ctx, self.adapter, batch, steps)


@register_method("finetune", kinds=BOTH, training="pretrain", config=FinetuneSettings,
                 default_for=BOTH, family="baseline",
                 description="one model trained on all meta-train users, fine-tuned on "
                             "the support set")
def build_finetune(ctx: Context) -> Learner:
    return Finetune(ctx)


@register_method("scratch", kinds=BOTH, training="none", config=ScratchSettings,
                 default_for=BOTH, family="baseline",
                 description="random initialisation trained on the support set only "
                             "(Adam, inner_steps at inner_lr)")
def build_scratch(ctx: Context) -> Learner:
    return Scratch(ctx)


__all__ = ["Finetune", "Scratch"]
