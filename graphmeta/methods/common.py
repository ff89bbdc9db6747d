"""Pieces several methods share: few-shot classifier pre-training."""
from __future__ import annotations

from typing import Any

import torch.nn.functional as F
from torch import Tensor

from graphmeta.methods.registry import Context
from graphmeta.models import FewShotClassifier


def classifier_loss(classifier: FewShotClassifier, batch: tuple, single: bool) -> Tensor:
    """Pre-training loss of a classifier over all meta-train classes on
    ``(graphs, multi-hot targets)``: cross-entropy when every user has one
    class (``single``), else one binary loss per class."""
    graphs, target = batch
    p = {k: v.unsqueeze(0) for k, v in classifier.named_parameters()}
    logits = classifier.graph_logits(p, graphs, 1)[0]
    if single:
        return F.cross_entropy(logits, target.float().argmax(1))
    return F.binary_cross_entropy_with_logits(logits, target.float())


def single_label(tasks: Any) -> bool:
    """Whether every user belongs to at most one meta-train class."""
    return bool((tasks.member[:, tasks.splits["train"]].sum(1) <= 1).all())


def pretrain_batch_size(ctx: Context) -> int:
    return 4 * ctx.spec.meta.meta_batch * ctx.tasks.n_way


def pretrain_batches(ctx: Context) -> Any:
    """Classifier pre-training batches of meta-train users (this rank's share)."""
    from graphmeta import distributed
    return ctx.tasks.pretrain_batches(pretrain_batch_size(ctx), ctx.seed,
                                      shard=distributed.shard())
