"""The per-task reference: a meta-batch as one pair of loss closures per task,
each running the model's own single-graph forward (message passing for a
sparse encoder) on that task alone. With
:func:`graphmeta.meta.reference_meta_loss` this is the plain Python loop
research code writes, the oracle that the batched path is tested against
and the baseline ``graphmeta bench`` times it against."""
from __future__ import annotations

from typing import Any, Callable, Optional

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.func import functional_call

from graphmeta.tasks.batch import FewShotBatch, TaskBatch

Closure = Callable[[dict[str, Tensor]], Tensor]


def interest_task_losses(model: nn.Module, batch: TaskBatch) -> list[tuple[Closure, Closure]]:
    """Per task of a user-interest batch: ``(support_loss, query_loss)``,
    the mean cross-entropy of ``model(x, edge_index, items, context)`` on
    that task's ego-subgraph under a plain parameter dict."""
    def closure(g: Any, ctx: Optional[Tensor], items: Tensor, y: Tensor) -> Closure:
        def loss(p: dict[str, Tensor]) -> Tensor:
            return F.cross_entropy(functional_call(model, p, (g.x, g.edge_index, items, ctx)), y)
        return loss

    out = []
    for t, g in enumerate(batch.graphs.data_list):
        ctx = None if batch.item_context is None else batch.item_context[t]
        m = batch.query_mask[t]
        out.append((closure(g, ctx, batch.support_items[t], batch.support_y[t]),
                    closure(g, ctx, batch.query_items[t][m], batch.query_y[t][m])))
    return out


def episode_task_losses(model: nn.Module, batch: FewShotBatch) -> list[tuple[Closure, Closure]]:
    """Per episode of a few-shot batch: ``(support_loss, query_loss)``, the
    mean cross-entropy of ``model(x, edge_index)`` (one graph's logits) over
    that episode's support and query graphs."""
    T = batch.num_tasks
    sup, qry = batch.support.data_list, batch.query.data_list
    ns, nq = len(sup) // T, len(qry) // T

    def closure(graphs: list, y: Tensor) -> Closure:
        def loss(p: dict[str, Tensor]) -> Tensor:
            logits = torch.stack([functional_call(model, p, (g.x, g.edge_index)) for g in graphs])
            return F.cross_entropy(logits, y)
        return loss
    return [(closure(sup[t * ns:(t + 1) * ns], batch.support_y[t]),
             closure(qry[t * nq:(t + 1) * nq], batch.query_y[t]))
            for t in range(T)]


__all__ = ["episode_task_losses", "interest_task_losses"]
