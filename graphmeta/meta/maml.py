r"""Task-batched MAML (second-order exact and first-order).

Every task of a meta-batch is adapted at once. The meta-parameters are
expanded to per-task fast weights ``[T, ...]``; because the summed support
loss :math:`\sum_t L_t(\theta_t)` separates by task, one
``torch.autograd.grad`` call returns every task's own gradient
:math:`\nabla_{\theta_t} L_t`. With ``create_graph=True`` the outer step
differentiates through the whole inner loop (exact second order); the
first-order variant drops those second derivatives. The update itself is a
rule object (:mod:`graphmeta.meta.rules`: SGD, learned rates, momentum,
Adam) that the meta-learner owns.

:func:`reference_meta_loss` does the same work the usual way, one task at a
time with PyG message passing, and is the oracle for tests and benchmarks.
"""
from __future__ import annotations

from typing import Callable, Optional, Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.func import functional_call

from graphmeta.eval.ranking import LONG_LIST
from graphmeta.meta.losses import QUERY_LOSSES, task_ce, task_loss
from graphmeta.meta.rules import SGD, InnerRule
from graphmeta.tasks.batch import MetaBatch, TaskBatch

Params = dict[str, Tensor]


def expand_params(params: Params, num_tasks: int, *, detach: bool = False,
                  shared: Sequence[str] = ()) -> Params:
    """Per-task copies ``[T, ...]`` of ``params``. With ``detach`` they are new
    leaves (for evaluation), else views that keep the graph to ``params``.
    ``shared`` names parameters kept as they are, without a task dimension
    (large tables that a model reads by row: a per-task view of one would
    make its gradient a dense ``[T, ...]`` tensor)."""
    out = {}
    for k, v in params.items():
        if k in shared:
            out[k] = v.detach() if detach else v
        elif detach:
            out[k] = v.detach().unsqueeze(0).repeat(num_tasks, *([1] * v.dim())).requires_grad_()
        else:
            out[k] = v.unsqueeze(0).expand(num_tasks, *v.shape)
    return out


def row_sparse_params(params: Params, rows: dict[str, Tensor], num_tasks: int, *,
                      detach: bool = False, shared: Sequence[str] = (),
                      sparse_grad: bool = False) -> Params:
    """Per-task parameters where the tables named in ``rows`` (name -> row
    ids ``[T, S]``) are given as their gathered rows ``[T, S, ...]``, the
    table itself staying shared under ``name + "@base"``; the rest as
    :func:`expand_params` (``shared`` as there). An inner loop over these
    adapts a task's own rows only, at a cost independent of the table's
    size. With ``sparse_grad`` the tables' gradients are sparse
    (``nn.Embedding(sparse=True)``)."""
    out = expand_params({k: v for k, v in params.items() if k not in rows}, num_tasks,
                        detach=detach, shared=shared)
    for k, idx in rows.items():
        base = params[k].detach() if detach else params[k]
        out[k + "@base"] = base
        r = torch.nn.functional.embedding(idx, base, sparse=sparse_grad)
        out[k] = r.detach().requires_grad_() if detach else r
    return out


def inner_loop(fast: Params, support_loss: Callable[[Params], Tensor], *,
               steps: int, rule: InnerRule, keys: Optional[Sequence[str]] = None,
               first_order: bool = False, create_graph: bool = True,
               rows: Optional[dict[str, Tensor]] = None) -> Params:
    r"""Runs ``steps`` steps of ``rule`` on every task at once.

    Args:
        fast: Per-task parameters ``[T, ...]``.
        support_loss: Maps per-task parameters to per-task losses ``[T]``.
        rule: The update rule (:mod:`graphmeta.meta.rules`).
        keys: Names of the parameters to adapt (default: all), e.g. the
            head only for ANIL.
        first_order: Drop second derivatives (FOMAML).
        create_graph: Keep the graph of the inner loop for an outer step.
        rows: For parameters given as gathered rows
            (:func:`row_sparse_params`), their row ids ``[T, S]``; the rule
            finds them in its state under ``"rows"`` (a rule with
            per-element learned state reads those rows of it).
    """
    keys = list(fast) if keys is None else list(keys)
    keep_graph = create_graph and not first_order
    state = rule.init({k: fast[k] for k in keys})
    extra = {"rows": rows} if rows else {}
    for i in range(steps):
        loss = support_loss(fast).sum()
        # A parameter the support loss does not use gets a zero gradient.
        grads = torch.autograd.grad(loss, [fast[k] for k in keys], create_graph=keep_graph,
                                    allow_unused=True, materialize_grads=True)
        new, state = rule.update(i, {k: fast[k] for k in keys}, dict(zip(keys, grads)),
                                 {**state, **extra})
        fast = {k: new.get(k, v) for k, v in fast.items()}
    return fast


INNER_PARAMS = ("all", "head")


class MAML(nn.Module):
    r"""Batched MAML: adapts every task of a meta-batch at once.

    Args:
        model: The model whose parameters are the initialisation. With a
            meta-batch (:class:`~graphmeta.tasks.MetaBatch`), the model needs
            ``batched_logits(params, batch, items)``; with loss closures any
            module works.
        inner_lr (float): Step size of the default rule, :class:`SGD`
            (0.1 when neither this nor ``rule`` is given).
        inner_steps (int): Inner steps.
        rule (InnerRule): The inner-loop rule (:mod:`graphmeta.meta.rules`);
            exclusive with ``inner_lr``. Learned rules get their parameters
            here, so the rule is part of this module's ``state_dict``.
        first_order (bool): First-order MAML.
        inner_params (str): ``"all"`` parameters, or ``"head"`` only (ANIL).
        query_loss (str): The outer loss on the query sets
            (:func:`task_loss`): ``"ce"``, ``"balanced"`` (each class
            weighs the same), ``"bpr"`` (pairwise ranking) or ``"softmax"``
            (listwise: each positive against all of its task's negatives).

    Example:
        >>> maml = MAML(model, inner_lr=0.5, inner_steps=5)
        >>> loss = maml.meta_loss(batch)   # mean query loss after adaptation
        >>> loss.backward()                # meta-gradient through the inner loop
        >>> # any model, with per-task loss closures over its parameters:
        >>> loss = maml.meta_loss(support_loss, query_loss, num_tasks=32)
    """

    def __init__(self, model: nn.Module, inner_lr: Optional[float] = None,
                 inner_steps: int = 5, *, rule: Optional[InnerRule] = None,
                 first_order: bool = False, inner_params: str = "all",
                 query_loss: str = "ce") -> None:
        super().__init__()
        if inner_params not in INNER_PARAMS:
            raise ValueError(f"inner_params must be one of {INNER_PARAMS}, got {inner_params!r}")
        if rule is not None and inner_lr is not None:
            raise ValueError("give inner_lr (plain SGD) or rule, not both")
        if inner_steps < 0:
            raise ValueError(f"inner_steps must be >= 0, got {inner_steps}")
        self.model = model
        self.inner_steps, self.first_order = inner_steps, first_order
        if query_loss not in QUERY_LOSSES:
            raise ValueError(f"query_loss must be one of {QUERY_LOSSES}, got {query_loss!r}")
        self.inner_params, self.query_loss = inner_params, query_loss
        self.rule = rule if rule is not None else SGD(0.1 if inner_lr is None else inner_lr)
        weights = dict(model.named_parameters())
        self.rule.bind({k: weights[k].shape for k in self.adapted_keys()}, inner_steps)

    def extra_repr(self) -> str:
        return (f"inner_steps={self.inner_steps}, first_order={self.first_order}, "
                f"inner_params={self.inner_params!r}, query_loss={self.query_loss!r}")

    def row_sparse(self) -> dict[str, str]:
        """The model's row-sparse tables (``model.row_sparse()``, if it has
        one): adapted on a meta-batch as the rows each task reads."""
        fn = getattr(self.model, "row_sparse", None)
        return fn() if callable(fn) else {}

    def adapted_keys(self) -> list[str]:
        """The names of the parameters the inner loop adapts."""
        names = [k for k, _ in self.model.named_parameters()]
        return names if self.inner_params == "all" else [k for k in names if k.startswith("head.")]

    def adapt(self, task: MetaBatch | Callable[[Params], Tensor], *,
              num_tasks: Optional[int] = None, steps: Optional[int] = None,
              detach: bool = False) -> Params:
        """Per-task fast weights after the inner loop.

        ``task`` is a meta-batch (the support loss is the model's
        cross-entropy on its support sets) or a closure mapping per-task
        parameters ``[T, ...]`` to per-task support losses ``[T]``, with
        ``num_tasks``. ``detach`` adapts copies cut from the meta-parameters
        (for evaluation)."""
        params = dict(self.model.named_parameters())
        sparse = self.row_sparse()
        keys = self.adapted_keys()
        shared = [k for k in sparse if k not in keys]    # tables only read: not per task
        rows: dict[str, Tensor] = {}
        if callable(task):
            if num_tasks is None:
                raise ValueError("adapt(closure) needs num_tasks")
            support_loss = task
            fast = expand_params(params, num_tasks, detach=detach, shared=shared)
        else:
            batch, num_tasks = task, task.num_tasks
            rows = {k: getattr(batch, attr) for k, attr in sparse.items() if k in keys}
            fast = row_sparse_params(params, rows, num_tasks, detach=detach, shared=shared,
                                     sparse_grad=getattr(self.model, "sparse_grad", False))

            def support_loss(p: Params) -> Tensor:
                return task_ce(self.model.batched_logits(p, batch, batch.support_items),
                               batch.support_y)
        with torch.enable_grad():
            return inner_loop(fast, support_loss,
                              steps=self.inner_steps if steps is None else steps,
                              rule=self.rule, keys=keys, first_order=self.first_order,
                              create_graph=not detach, rows=rows)

    def meta_loss(self, task: MetaBatch | Callable[[Params], Tensor],
                  query_loss: Optional[Callable[[Params], Tensor]] = None, *,
                  num_tasks: Optional[int] = None) -> Tensor:
        """Mean query loss over the meta-batch after adaptation: of a
        meta-batch, or of the closures ``task`` (support) and ``query_loss``."""
        fast = self.adapt(task, num_tasks=num_tasks)
        if callable(task):
            if query_loss is None:
                raise ValueError("meta_loss(closure) needs a query_loss closure too")
            return query_loss(fast).mean()
        logits = self.model.batched_logits(fast, task, task.query_items)
        return task_loss(logits, task.query_y, task.query_mask, self.query_loss).mean()

    @torch.no_grad()
    def predict_logits(self, batch: MetaBatch, steps: Optional[int] = None) -> Tensor:
        """Query logits ``[T, Q, C]`` after adaptation."""
        fast = self.adapt(batch, steps=steps, detach=True)
        fast = {k: v.detach() for k, v in fast.items()}
        return self.model.batched_logits(fast, batch, batch.query_items)

    def predict(self, batch: MetaBatch, steps: Optional[int] = None) -> Tensor:
        """Query probabilities of class 1, ``[T, Q]``, after adaptation."""
        logits = self.predict_logits(batch, steps)
        if logits.size(-1) == 2 and logits.size(1) > LONG_LIST:
            # The same probability, sigmoid(l1 - l0), at a third of softmax's
            # cost on a full-ranking list of a large catalogue.
            return torch.sigmoid(logits[..., 1] - logits[..., 0])
        return logits.softmax(-1)[..., 1]


def reference_meta_loss(model: nn.Module, batch: TaskBatch, *, inner_lr: float,
                        inner_steps: int, first_order: bool = False) -> Tensor:
    """The per-task reference: a Python loop over tasks, PyG message passing on
    each task's ``edge_index`` and one ``torch.autograd.grad`` per task and
    step. Same result as :meth:`MAML.meta_loss`, task by task."""
    params = dict(model.named_parameters())
    losses = []
    for t, g in enumerate(batch.graphs.data_list):
        fast = dict(params)
        for _ in range(inner_steps):
            logits = functional_call(model, fast, (g.x, g.edge_index, batch.support_items[t]))
            loss = F.cross_entropy(logits, batch.support_y[t])
            grads = torch.autograd.grad(loss, list(fast.values()),
                                        create_graph=not first_order)
            fast = {k: v - inner_lr * gr for (k, v), gr in zip(fast.items(), grads)}
        m = batch.query_mask[t]
        logits = functional_call(model, fast, (g.x, g.edge_index, batch.query_items[t][m]))
        losses.append(F.cross_entropy(logits, batch.query_y[t][m]))
    return torch.stack(losses).mean()
