"""Meta-learners on the batched MAML engine.

Meta-parameter optimisation (learn an initialisation): ``maml``, ``fomaml``,
``anil`` (head-only inner loop on encoder features computed once per task),
``maml-mlp`` (no neighbours: the graph's share), ``protonet`` and ``gmeta``.
Meta-rule learning (learn the update too): ``metasgd`` (a learned rate per
parameter element) and ``learned-rule`` (a learned update network,
:class:`~graphmeta.meta.LearnedRule`)."""
from __future__ import annotations

from typing import Any

import torch
from torch import Tensor, nn

from graphmeta.build import fewshot_model, interest_model
from graphmeta.config import ConfigError
from graphmeta.meta import (MAML, InnerRule, LearnedLR, LearnedRule, expand_params, make_rule,
                            task_ce, task_loss)
from graphmeta.methods.common import classifier_loss, pretrain_batches, single_label
from graphmeta.methods.registry import Context, Learner, register_method
from graphmeta.tasks import MetaBatch

BOTH = ("user-interest", "few-shot")
# What tuning chooses from for the MAML family (eval.tune configurations).
MAML_SEARCH = {"meta.inner_lr": [0.03, 0.1, 0.3], "meta.inner_steps": [1, 3, 5],
               "meta.meta_lr": [3e-4, 1e-3, 3e-3], "meta.inner_rule": ["sgd", "lslr"]}


class MetaLearner(Learner):
    """A model and the :class:`~graphmeta.meta.MAML` that adapts it with the
    spec's inner rule (``meta.inner_rule``, ``meta.inner_lr``,
    ``meta.inner_steps``); the rule's learned state trains with the model."""

    def __init__(self, ctx: Context, model: nn.Module, *, first_order: bool = False,
                 inner_steps: int | None = None, rule: InnerRule | None = None,
                 inner_params: str | None = None) -> None:
        super().__init__(ctx)
        m = ctx.spec.meta
        self.maml = MAML(model, rule=rule or make_rule(m.inner_rule, m.inner_lr),
                         inner_steps=m.inner_steps if inner_steps is None else inner_steps,
                         first_order=first_order, inner_params=inner_params or m.adapt,
                         query_loss=m.query_loss)

    @property
    def model(self) -> nn.Module:
        return self.maml.model

    def training_loss(self, batch: Any) -> Tensor:
        return self.maml.meta_loss(batch)

    def predict(self, batch: MetaBatch) -> Tensor:
        if self.ctx.spec.kind == "few-shot":
            return self.maml.predict_logits(batch)
        return self.maml.predict(batch)


class ANIL(MetaLearner):
    """ANIL (Raghu et al., 2020): the inner loop adapts the head only, on
    encoder features computed once per task with the meta-parameters (the
    outer step still trains the encoder through them)."""

    def __init__(self, ctx: Context, model: nn.Module) -> None:
        super().__init__(ctx, model, inner_params="head")

    def _adapted_logits(self, batch: MetaBatch, detach: bool) -> Tensor:
        model, T = self.model, batch.num_tasks
        shared = list(getattr(model, "row_sparse", dict)())
        p = expand_params(dict(model.named_parameters()), T, detach=detach, shared=shared)
        z_s = model.features(p, batch, batch.support_items)
        z_q = z_s if self.ctx.spec.kind == "user-interest" else \
            model.features(p, batch, batch.query_items)
        if detach:
            z_s, z_q = z_s.detach(), z_q.detach()

        def support_loss(fast: dict[str, Tensor]) -> Tensor:
            return task_ce(model.head_logits(fast, z_s, batch, batch.support_items),
                           batch.support_y)
        fast = self.maml.adapt(support_loss, num_tasks=T, detach=detach)
        return model.head_logits(fast, z_q, batch, batch.query_items)

    def training_loss(self, batch: Any) -> Tensor:
        logits = self._adapted_logits(batch, detach=False)
        return task_loss(logits, batch.query_y, batch.query_mask, self.maml.query_loss).mean()

    def predict(self, batch: MetaBatch) -> Tensor:
        with torch.no_grad():
            logits = self._adapted_logits(batch, detach=True).detach()
        return logits if self.ctx.spec.kind == "few-shot" else logits.softmax(-1)[..., 1]


def _classifier(ctx: Context, graph: bool = True) -> nn.Module:
    if ctx.spec.kind == "few-shot":
        return fewshot_model(ctx.spec, ctx.tasks)
    return interest_model(ctx.spec, ctx.tasks, graph=graph)


def _prototypes(ctx: Context) -> nn.Module:
    if ctx.spec.meta.adapt == "head":
        raise ConfigError(f"meta.adapt=head: {ctx.method} has no head (its logits are distances "
                          f"to prototypes); use meta.adapt=all")
    return fewshot_model(ctx.spec, ctx.tasks, prototypes=True)


@register_method("maml", kinds=BOTH, training="meta", default_for=BOTH, search=MAML_SEARCH,
                 description="GNN encoder + MLP head, second-order MAML")
def build_maml(ctx: Context) -> Learner:
    return MetaLearner(ctx, _classifier(ctx))


@register_method("fomaml", kinds=BOTH, training="meta", default_for=("few-shot",),
                 search=MAML_SEARCH, description="first-order MAML")
def build_fomaml(ctx: Context) -> Learner:
    return MetaLearner(ctx, _classifier(ctx), first_order=True)


@register_method("anil", kinds=BOTH, training="meta", search=MAML_SEARCH,
                 description="ANIL: the inner loop adapts the head only, on features "
                             "computed once per task")
def build_anil(ctx: Context) -> Learner:
    return ANIL(ctx, _classifier(ctx))


@register_method("metasgd", kinds=BOTH, training="meta", family="meta-rule",
                 search={k: v for k, v in MAML_SEARCH.items() if k != "meta.inner_rule"},
                 description="Meta-SGD: a learned inner rate per parameter element, "
                             "meta-trained with the initialisation")
def build_metasgd(ctx: Context) -> Learner:
    return MetaLearner(ctx, _classifier(ctx), rule=LearnedLR(ctx.spec.meta.inner_lr, "element"))


@register_method("learned-rule", kinds=BOTH, training="meta", family="meta-rule",
                 search={k: v for k, v in MAML_SEARCH.items() if k != "meta.inner_rule"},
                 description="a learned update network over gradient and momentum, "
                             "meta-trained through the inner loop")
def build_learned_rule(ctx: Context) -> Learner:
    return MetaLearner(ctx, _classifier(ctx), rule=LearnedRule(ctx.spec.meta.inner_lr))


class MetaBaseline(Learner):
    """Meta-Baseline (Chen et al., 2021): pre-train the encoder as a
    classifier over all meta-train classes (``baselines.pretrain_*``), then
    meta-train it on episodes with cosine-prototype logits and a learned
    temperature (``meta.iterations``, ``meta.meta_lr``); each stage keeps its
    best meta-val state."""

    def __init__(self, ctx: Context) -> None:
        super().__init__(ctx)
        from graphmeta.build import encoder
        from graphmeta.models import FewShotClassifier, PrototypeClassifier
        enc = encoder(ctx.spec, ctx.tasks)
        self.maml = MAML(PrototypeClassifier(enc, metric="cosine"), inner_steps=0)
        self.pre = FewShotClassifier(enc, len(ctx.tasks.splits["train"]),
                                     ctx.spec.model.head_hidden)
        self.single = single_label(ctx.tasks)

    def fit(self, val: Any, progress: bool = False) -> list[dict]:
        from graphmeta.train import optimise
        ctx, b, m = self.ctx, self.spec.baselines, self.spec.meta
        pre = optimise(self, ctx, val, iterations=b.pretrain_iterations, lr=b.pretrain_lr,
                       rate_key="baselines.pretrain_lr", progress=progress,
                       loss=lambda batch: classifier_loss(self.pre, batch, self.single),
                       batches=pretrain_batches(ctx),
                       label=f"{ctx.method}:pretrain")
        meta = optimise(self, ctx, val, iterations=m.iterations, lr=m.meta_lr,
                        rate_key="meta.meta_lr", progress=progress, loss=self.maml.meta_loss,
                        label=f"{ctx.method}:meta")
        return pre + meta

    def predict(self, batch: MetaBatch) -> Tensor:
        return self.maml.predict_logits(batch)


@register_method("meta-baseline", kinds=("few-shot",), training="custom",
                 search={"baselines.pretrain_lr": [3e-4, 1e-3, 3e-3],
                         "meta.meta_lr": [3e-4, 1e-3, 3e-3]},
                 description="Meta-Baseline: classifier pre-training, then episodic "
                             "meta-training of the embedding with cosine prototypes")
def build_meta_baseline(ctx: Context) -> Learner:
    return MetaBaseline(ctx)


@register_method("maml-mlp", kinds=("user-interest",), training="meta",
                 default_for=("user-interest",), search=MAML_SEARCH,
                 description="MAML on the MLP head alone, fed the ego's own features "
                             "(no neighbours: the gap to maml is what the graph adds)")
def build_maml_mlp(ctx: Context) -> Learner:
    return MetaLearner(ctx, _classifier(ctx, graph=False))


@register_method("protonet", kinds=("few-shot",), training="meta", default_for=("few-shot",),
                 search={"meta.meta_lr": [3e-4, 1e-3, 3e-3], "model.hidden": [32, 64, 128]},
                 description="prototypical network: episodic training, no inner loop")
def build_protonet(ctx: Context) -> Learner:
    return MetaLearner(ctx, _prototypes(ctx), inner_steps=0)


# G-Meta's own inner rate: its logits are unbounded squared distances, and
# 0.1 sent its inner loop to NaN on lastfm-asia.
@register_method("gmeta", kinds=("few-shot",), training="meta", default_for=("few-shot",),
                 defaults={"meta.inner_lr": 0.01},
                 search={**MAML_SEARCH, "meta.inner_lr": [0.003, 0.01, 0.03]},
                 description="G-Meta: the prototypical loss inside MAML")
def build_gmeta(ctx: Context) -> Learner:
    return MetaLearner(ctx, _prototypes(ctx))
