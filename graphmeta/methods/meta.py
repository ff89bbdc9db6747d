"""Meta-learners on the batched MAML engine.

Meta-parameter optimisation (learn an initialisation): ``maml``, ``fomaml``,
``anil`` (MAML with the head's parameters; the encoder runs once per task),
``maml-mlp`` (no neighbours: the graph's share), ``protonet``, ``gmeta`` and
``meta-baseline``. Meta-rule learning (learn the update too): ``metasgd``
(a learned rate per parameter element) and ``learned-rule`` (a learned
update network, :class:`~graphmeta.meta.LearnedRule`)."""
from __future__ import annotations

from typing import Any, Optional

import torch
from torch import Tensor, nn

from graphmeta.meta import MAML, InnerRule, LearnedLR, LearnedRule, expand_params, make_rule, \
    task_ce
from graphmeta.methods.common import (adapter_rows, classifier, classifier_loss, predict,
                                      pretrain_batches, scores, single_label)
from graphmeta.methods.registry import Context, Learner, Stage, register_method
from graphmeta.methods.settings import (GMetaSettings, MAMLSettings, MetaBaselineSettings,
                                        MetaRuleSettings, MLPSettings, ProtoSettings)
from graphmeta.models import FewShotClassifier, PrototypeClassifier
from graphmeta.models.build import fewshot_model, gnn_encoder

BOTH = ("user-interest", "few-shot")


class MetaLearner(Learner):
    """A model and the :class:`~graphmeta.meta.MAML` that adapts it with the
    method's inner rule (``inner_rule``, ``inner_lr``, ``inner_steps``); the
    rule's learned state trains with the model."""

    def __init__(self, ctx: Context, model: nn.Module, *, first_order: bool = False,
                 rule: Optional[InnerRule] = None, inner_steps: Optional[int] = None,
                 params: Any = None) -> None:
        super().__init__(ctx)
        s = ctx.settings
        self.maml = MAML(model, rule=rule or make_rule(s.inner_rule, s.inner_lr),
                         inner_steps=s.inner_steps if inner_steps is None else inner_steps,
                         first_order=first_order, params=params,
                         query_loss=getattr(s, "query_loss", "ce"), **adapter_rows(model))

    @property
    def model(self) -> nn.Module:
        return self.maml.model

    @property
    def adapt_steps(self) -> Optional[int]:
        return self.maml.inner_steps or None

    def training_loss(self, batch: Any) -> Tensor:
        return self.maml.meta_loss(batch)

    def predict(self, batch: Any, steps: Optional[int] = None) -> Tensor:
        return predict(self.ctx, self.maml, batch, steps)


class ANIL(MetaLearner):
    """ANIL (Raghu et al., 2020): MAML whose inner loop adapts the head only
    (``MAML(model, params=model.head)``). The encoder's parameters are not
    adapted, so its features are computed once per task with the
    meta-parameters rather than at every inner step (the same values, and
    the outer step still trains the encoder through them)."""

    def __init__(self, ctx: Context, model: nn.Module) -> None:
        super().__init__(ctx, model, params=model.head)

    def _adapted_logits(self, batch: Any, detach: bool, steps: Optional[int] = None) -> Tensor:
        model, T = self.model, batch.num_tasks
        shared = list(self.maml.rows)
        p = expand_params(dict(model.named_parameters()), T, detach=detach, shared=shared)
        z_s = model.features(p, batch, batch.support_items)
        z_q = z_s if self.ctx.kind == "user-interest" else \
            model.features(p, batch, batch.query_items)
        if detach:
            z_s, z_q = z_s.detach(), z_q.detach()

        def support_loss(fast: dict[str, Tensor]) -> Tensor:
            return task_ce(model.head_logits(fast, z_s, batch, batch.support_items),
                           batch.support_y)
        fast = self.maml.adapt(support_loss, num_tasks=T, detach=detach, steps=steps)
        return model.head_logits(fast, z_q, batch, batch.query_items)

    def training_loss(self, batch: Any) -> Tensor:
        logits = self._adapted_logits(batch, detach=False)
        return self.maml.task_losses(logits, batch.query_y, batch.query_mask).mean()

    def predict(self, batch: Any, steps: Optional[int] = None) -> Tensor:
        with torch.no_grad():
            return scores(self.ctx, self._adapted_logits(batch, True, steps).detach())


def _prototypes(ctx: Context) -> nn.Module:
    return fewshot_model(ctx.tasks, ctx.settings, prototypes=True)


@register_method("maml", kinds=BOTH, training="meta", config=MAMLSettings, default_for=BOTH,
                 description="GNN encoder + MLP head, second-order MAML")
def build_maml(ctx: Context) -> Learner:
    return MetaLearner(ctx, classifier(ctx))


@register_method("fomaml", kinds=BOTH, training="meta", config=MAMLSettings,
                 default_for=("few-shot",), description="first-order MAML")
def build_fomaml(ctx: Context) -> Learner:
    return MetaLearner(ctx, classifier(ctx), first_order=True)


@register_method("anil", kinds=BOTH, training="meta", config=MAMLSettings,
                 description="ANIL: MAML whose inner loop adapts the head only")
def build_anil(ctx: Context) -> Learner:
    return ANIL(ctx, classifier(ctx))


@register_method("metasgd", kinds=BOTH, training="meta", family="meta-rule",
                 config=MetaRuleSettings,
                 description="Meta-SGD: a learned inner rate per parameter element, "
                             "meta-trained with the initialisation")
def build_metasgd(ctx: Context) -> Learner:
    return MetaLearner(ctx, classifier(ctx), rule=LearnedLR(ctx.settings.inner_lr, "element"))


@register_method("learned-rule", kinds=BOTH, training="meta", family="meta-rule",
                 config=MetaRuleSettings,
                 description="a learned update network over gradient and momentum, "
                             "meta-trained through the inner loop")
def build_learned_rule(ctx: Context) -> Learner:
    return MetaLearner(ctx, classifier(ctx), rule=LearnedRule(ctx.settings.inner_lr))


@register_method("maml-mlp", kinds=("user-interest",), training="meta", config=MLPSettings,
                 default_for=("user-interest",),
                 description="MAML on the MLP head alone, fed the ego's own features "
                             "(no neighbours: the gap to maml is what the graph adds)")
def build_maml_mlp(ctx: Context) -> Learner:
    return MetaLearner(ctx, classifier(ctx, graph=False))


@register_method("protonet", kinds=("few-shot",), training="meta", config=ProtoSettings,
                 default_for=("few-shot",),
                 description="prototypical network: episodic training, no inner loop")
def build_protonet(ctx: Context) -> Learner:
    return MetaLearner(ctx, _prototypes(ctx), rule=make_rule("sgd", 0.0), inner_steps=0)


@register_method("gmeta", kinds=("few-shot",), training="meta", config=GMetaSettings,
                 default_for=("few-shot",),
                 description="G-Meta: the prototypical loss inside MAML")
def build_gmeta(ctx: Context) -> Learner:
    return MetaLearner(ctx, _prototypes(ctx))


class MetaBaseline(Learner):
    """Meta-Baseline (Chen et al., 2021): pre-train the encoder as a
    classifier over all meta-train classes (``pretrain_iterations``,
    ``pretrain_lr``), then meta-train it on episodes with cosine-prototype
    logits and a learned temperature (``iterations``, ``meta_lr``); each
    stage keeps its best meta-val state."""

    def __init__(self, ctx: Context) -> None:
        super().__init__(ctx)
        enc = gnn_encoder(ctx.tasks, ctx.settings)
        self.maml = MAML(PrototypeClassifier(enc, metric="cosine"), inner_steps=0)
        self.pre = FewShotClassifier(enc, len(ctx.tasks.splits["train"]),
                                     ctx.settings.head_hidden)
        self.single = single_label(ctx.tasks)

    def stages(self) -> list[Stage]:
        s, name = self.settings, self.ctx.method
        return [Stage(s.pretrain_iterations, s.pretrain_lr,
                      lambda batch: classifier_loss(self.pre, batch, self.single),
                      lambda: pretrain_batches(self.ctx), s.eval_every,
                      f"{name}.pretrain_lr", "pretrain"),
                Stage(s.iterations, s.meta_lr, self.maml.meta_loss, self.train_batches,
                      s.eval_every, f"{name}.meta_lr", "meta")]

    def predict(self, batch: Any, steps: Optional[int] = None) -> Tensor:
        return self.maml.adapted_logits(batch)


@register_method("meta-baseline", kinds=("few-shot",), training="meta",
                 config=MetaBaselineSettings,
                 description="Meta-Baseline: classifier pre-training, then episodic "
                             "meta-training of the embedding with cosine prototypes")
def build_meta_baseline(ctx: Context) -> Learner:
    return MetaBaseline(ctx)


__all__ = ["ANIL", "MetaBaseline", "MetaLearner"]
