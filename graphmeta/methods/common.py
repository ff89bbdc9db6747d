"""Pieces several methods share: model builders from a method's settings,
class-1 scores, and few-shot classifier pre-training."""
from __future__ import annotations

from typing import Any, Iterator, Optional

import torch.nn.functional as F
from torch import Tensor, nn

from graphmeta import distributed
from graphmeta.eval import positive_scores
from graphmeta.meta import Adapter
from graphmeta.methods.registry import Context
from graphmeta.models import FewShotClassifier, InterestModel
from graphmeta.models.build import fewshot_model, interest_model


def classifier(ctx: Context, graph: bool = True) -> nn.Module:
    """The method's model: the ``N``-way classifier on few-shot episodes,
    the user-interest model otherwise (``graph=False``: no encoder)."""
    if ctx.kind == "few-shot":
        return fewshot_model(ctx.tasks, ctx.settings)
    return interest_model(ctx.tasks, ctx.settings, graph=graph)


def adapter_rows(model: nn.Module) -> dict[str, Any]:
    """The ``rows`` and ``sparse_grad`` arguments of :class:`~graphmeta.meta.MAML`
    for graphmeta's models: the user-interest model adapts its interest
    table at each task's support rows."""
    if isinstance(model, InterestModel):
        return {"rows": model.adapted_rows(), "sparse_grad": model.sparse_grad}
    return {}


def scores(ctx: Context, logits: Tensor) -> Tensor:
    """What a learner predicts from adapted logits: the log-odds of class 1
    ``[T, Q]`` on user-interest tasks (:func:`~graphmeta.eval.positive_scores`),
    the logits on few-shot episodes."""
    return logits if ctx.kind == "few-shot" else positive_scores(logits)


def predict(ctx: Context, adapter: Adapter, batch: Any, steps: Optional[int] = None) -> Tensor:
    """Scores after ``adapter``'s inner loop (``steps``: other than its own)."""
    return scores(ctx, adapter.adapted_logits(batch, steps))


def classifier_loss(model: FewShotClassifier, batch: tuple, single: bool) -> Tensor:
    """Pre-training loss of a classifier over all meta-train classes on
    ``(graphs, multi-hot targets)``: cross-entropy when every user has one
    class (``single``), else one binary loss per class."""
    graphs, target = batch
    p = {k: v.unsqueeze(0) for k, v in model.named_parameters()}
    logits = model.graph_logits(p, graphs, 1)[0]
    if single:
        return F.cross_entropy(logits, target.float().argmax(1))
    return F.binary_cross_entropy_with_logits(logits, target.float())


def single_label(tasks: Any) -> bool:
    """Whether every user belongs to at most one meta-train class."""
    return bool((tasks.member[:, tasks.splits["train"]].sum(1) <= 1).all())


def pretrain_batches(ctx: Context) -> Iterator[Any]:
    """Classifier pre-training batches of meta-train users (this rank's
    share): ``4 * meta_batch * n_way`` users each."""
    size = 4 * ctx.settings.meta_batch * ctx.tasks.n_way
    return ctx.tasks.pretrain_batches(size, ctx.seed, shard=distributed.shard())


__all__ = ["adapter_rows", "classifier", "classifier_loss", "predict", "pretrain_batches",
           "scores", "single_label"]
