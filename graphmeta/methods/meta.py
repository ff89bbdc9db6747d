"""Meta-learners on the batched MAML engine: ``maml``, ``fomaml``,
``maml-mlp`` (no neighbours: the graph's share), ``protonet`` and ``gmeta``."""
from __future__ import annotations

from typing import Any

from torch import Tensor, nn

from graphmeta.build import fewshot_model, interest_model
from graphmeta.config import ConfigError
from graphmeta.meta import MAML, make_rule
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
                 inner_steps: int | None = None) -> None:
        super().__init__(ctx)
        m = ctx.spec.meta
        self.maml = MAML(model, rule=make_rule(m.inner_rule, m.inner_lr),
                         inner_steps=m.inner_steps if inner_steps is None else inner_steps,
                         first_order=first_order, inner_params=m.adapt,
                         balanced_query=m.balanced_query)

    @property
    def model(self) -> nn.Module:
        return self.maml.model

    def training_loss(self, batch: Any) -> Tensor:
        return self.maml.meta_loss(batch)

    def predict(self, batch: MetaBatch) -> Tensor:
        if self.ctx.spec.kind == "few-shot":
            return self.maml.predict_logits(batch)
        return self.maml.predict(batch)


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
