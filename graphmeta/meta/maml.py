r"""Task-batched MAML (exact second order and first order) on any module.

Every task of a meta-batch is adapted at once. The meta-parameters are
expanded to per-task fast weights ``[T, ...]``; because the summed support
loss :math:`\sum_t L_t(\theta_t)` separates by task, one
``torch.autograd.grad`` call returns every task's own gradient
:math:`\nabla_{\theta_t} L_t`. With ``create_graph=True`` the outer step
differentiates through the whole inner loop (exact second order); the
first-order variant drops those second derivatives. The update itself is a
rule object (:mod:`graphmeta.meta.rules`) that the meta-learner owns.

Tasks reach the inner loop in one of two ways:

- **loss closures**: ``support_loss(params) -> [T]`` over per-task
  parameters ``[T, ...]``, for any module (``torch.func.functional_call``
  or a batched forward of your own);
- **a meta-batch** (:class:`MetaBatch`) scored by a module with a batched
  forward (:class:`BatchedModule`): ``model.batched_logits(params, batch,
  items)``.

This module imports only torch: it knows nothing of graphs, scoring or
evaluation. :func:`reference_meta_loss` does the same work the plain way,
one task and one ``autograd.grad`` at a time; it is the oracle of the
tests and the baseline of the benchmarks.
"""
from __future__ import annotations

from typing import Any, Callable, Iterable, Mapping, Optional, Protocol, Union, runtime_checkable

import torch
from torch import Tensor, nn

from graphmeta.meta.inner import (ParamSelection, Params, TaskLoss, expand_params, inner_loop,
                                  per_task, row_sparse_params, selected_names)
from graphmeta.meta.losses import QUERY_LOSSES, task_ce, task_loss
from graphmeta.meta.rules import SGD, InnerRule

QueryLoss = Callable[[Tensor, Tensor, Optional[Tensor]], Tensor]


@runtime_checkable
class MetaBatch(Protocol):
    """``T`` tasks, each with support examples and labels and masked query
    examples and labels. ``support_items`` and ``query_items`` are whatever
    the model scores (item ids ``[T, S]``, a batch of graphs, ...)."""

    @property
    def num_tasks(self) -> int: ...
    @property
    def support_items(self) -> Any: ...
    @property
    def query_items(self) -> Any: ...
    support_y: Tensor
    query_y: Tensor
    @property
    def query_mask(self) -> Tensor: ...


@runtime_checkable
class BatchedModule(Protocol):
    """A module that scores a meta-batch with per-task parameters: ``params``
    maps its parameter names to tensors with a leading task dimension
    ``T``; the result is logits ``[T, S, C]`` for ``items`` (``[T, S]``)."""

    def batched_logits(self, params: Params, batch: Any, items: Any) -> Tensor: ...


RowSpec = Union[str, Callable[[Any], Tensor]]


class Adapter(nn.Module):
    r"""Adapts a module's parameters to every task of a meta-batch at once:
    the inner loop, without an outer step (fine-tuning, or the test-time
    half of MAML).

    Args:
        model: The module whose parameters are the starting point. With a
            meta-batch it must have a batched forward (:class:`BatchedModule`);
            with loss closures any module works.
        rule (InnerRule): The update (default ``SGD(lr)``). Learned rules
            get their parameters here, so the rule is part of this module's
            ``state_dict``.
        steps (int): Inner steps.
        lr (float): The default rule's rate (0.1); exclusive with ``rule``.
        params: The parameters to adapt: ``None`` (all), their names, a
            submodule of ``model`` (``model.head``: ANIL), or a predicate on
            the name. The others are read as they are.
        rows (mapping): Tables adapted at a few rows per task: parameter name
            -> the meta-batch attribute (or a function of the batch) giving
            each task's row ids ``[T, S]``. An adapted table is gathered at
            those rows (:func:`row_sparse_params`), so a task's cost does not
            grow with the table; a table that is not adapted is shared.
        sparse_grad (bool): Gather the ``rows`` tables with sparse gradients
            (for ``nn.Embedding(sparse=True)`` and lazy optimisers).
    """

    def __init__(self, model: nn.Module, rule: Optional[InnerRule] = None, steps: int = 5, *,
                 lr: Optional[float] = None, params: ParamSelection = None,
                 rows: Optional[Mapping[str, RowSpec]] = None, sparse_grad: bool = False) -> None:
        super().__init__()
        if rule is not None and lr is not None:
            raise ValueError("give lr (plain SGD) or rule, not both")
        if steps < 0:
            raise ValueError(f"inner steps must be >= 0, got {steps}")
        self.model = model
        self.inner_steps = steps
        self.keys = selected_names(model, params)
        names = dict(model.named_parameters())
        missing = sorted(set(rows or {}) - set(names))
        if missing:
            raise ValueError(f"rows: the model has no parameter {missing[0]!r}")
        self.rows: dict[str, RowSpec] = dict(rows or {})
        self.sparse_grad = bool(sparse_grad)
        self.rule = rule if rule is not None else SGD(0.1 if lr is None else lr)
        self.rule.bind({k: names[k].shape for k in self.keys}, steps)

    def extra_repr(self) -> str:
        n = len(list(self.model.named_parameters()))
        return f"inner_steps={self.inner_steps}, adapted={len(self.keys)} of {n} tensors"

    def _rows(self, batch: Any) -> dict[str, Tensor]:
        """Row ids ``[T, S]`` of the adapted ``rows`` tables for ``batch``."""
        return {k: (getattr(batch, spec) if isinstance(spec, str) else spec(batch))
                for k, spec in self.rows.items() if k in self.keys}

    def _logits(self, params: Params, batch: Any, items: Tensor) -> Tensor:
        """The model's batched forward (:class:`BatchedModule`)."""
        model: BatchedModule = self.model      # type: ignore[assignment]
        return model.batched_logits(params, batch, items)

    def adapt(self, task: Any, *, num_tasks: Optional[int] = None, steps: Optional[int] = None,
              detach: bool = False, first_order: bool = False) -> Params:
        """Per-task fast weights after the inner loop.

        ``task`` is a meta-batch (the support loss is the model's
        cross-entropy on its support sets) or a closure mapping per-task
        parameters ``[T, ...]`` to per-task support losses ``[T]``, with
        ``num_tasks``. ``detach`` adapts copies cut from the meta-parameters
        (for evaluation)."""
        params: Params = dict(self.model.named_parameters())
        shared = [k for k in self.rows if k not in self.keys]   # tables only read: not per task
        rows: dict[str, Tensor] = {}
        if callable(task):
            if num_tasks is None:
                raise ValueError("adapt(closure) needs num_tasks")
            support_loss = task
            fast = expand_params(params, num_tasks, detach=detach, shared=shared)
        else:
            batch = task
            rows = self._rows(batch)
            fast = row_sparse_params(params, rows, batch.num_tasks, detach=detach,
                                     shared=shared, sparse_grad=self.sparse_grad)

            def support_loss(p: Params) -> Tensor:
                return task_ce(self._logits(p, batch, batch.support_items),
                               batch.support_y)
        with torch.enable_grad():
            return inner_loop(fast, support_loss,
                              steps=self.inner_steps if steps is None else steps,
                              rule=self.rule, keys=self.keys, first_order=first_order,
                              create_graph=not detach, rows=rows)

    @torch.no_grad()
    def adapted_logits(self, batch: Any, steps: Optional[int] = None) -> Tensor:
        """Query logits ``[T, Q, C]`` of a meta-batch after adaptation to its
        support sets (no graph to the meta-parameters)."""
        fast = {k: v.detach() for k, v in self.adapt(batch, steps=steps, detach=True).items()}
        return self._logits(fast, batch, batch.query_items)


class MAML(Adapter):
    r"""Batched MAML (Finn et al., 2017): adapts every task of a meta-batch at
    once and differentiates the query loss through the inner loop.

    Args:
        model: The module whose parameters are the initialisation.
        inner_lr (float): Step size of the default rule, :class:`SGD`
            (0.1 when neither this nor ``rule`` is given).
        inner_steps (int): Inner steps.
        rule (InnerRule): The inner-loop rule; exclusive with ``inner_lr``.
        first_order (bool): First-order MAML.
        params: The parameters the inner loop adapts (see :class:`Adapter`):
            ``params=model.head`` is ANIL.
        query_loss: The outer loss on the query sets, by name
            (:data:`~graphmeta.meta.losses.QUERY_LOSSES`: ``"ce"``,
            ``"balanced"``, ``"bpr"``, ``"softmax"``) or a function
            ``(logits, y, mask) -> [T]``.
        rows, sparse_grad: As :class:`Adapter`.

    Example:
        >>> maml = MAML(model, inner_lr=0.5, inner_steps=5)
        >>> loss = maml.meta_loss(batch)   # mean query loss after adaptation
        >>> loss.backward()                # meta-gradient through the inner loop
        >>> anil = MAML(model, params=model.head)   # the head only
        >>> # any module, with per-task loss closures over its parameters:
        >>> loss = maml.meta_loss(support_loss, query_loss, num_tasks=32)
    """

    def __init__(self, model: nn.Module, inner_lr: Optional[float] = None,
                 inner_steps: int = 5, *, rule: Optional[InnerRule] = None,
                 first_order: bool = False, params: ParamSelection = None,
                 query_loss: str | QueryLoss = "ce",
                 rows: Optional[Mapping[str, RowSpec]] = None, sparse_grad: bool = False) -> None:
        super().__init__(model, rule, inner_steps, lr=inner_lr, params=params, rows=rows,
                         sparse_grad=sparse_grad)
        if isinstance(query_loss, str) and query_loss not in QUERY_LOSSES:
            raise ValueError(f"query_loss must be one of {QUERY_LOSSES} or a function, "
                             f"got {query_loss!r}")
        self.first_order, self.query_loss = first_order, query_loss

    def extra_repr(self) -> str:
        q = self.query_loss if isinstance(self.query_loss, str) else "custom"
        return f"{super().extra_repr()}, first_order={self.first_order}, query_loss={q!r}"

    def adapt(self, task: Any, *, num_tasks: Optional[int] = None, steps: Optional[int] = None,
              detach: bool = False, first_order: Optional[bool] = None) -> Params:
        return super().adapt(task, num_tasks=num_tasks, steps=steps, detach=detach,
                             first_order=self.first_order if first_order is None else first_order)

    def task_losses(self, logits: Tensor, y: Tensor, mask: Optional[Tensor]) -> Tensor:
        """Per-task query losses ``[T]`` of ``logits`` under ``query_loss``."""
        if callable(self.query_loss):
            return self.query_loss(logits, y, mask)
        return task_loss(logits, y, mask, self.query_loss)

    def meta_loss(self, task: Any, query_loss: Optional[TaskLoss] = None, *,
                  num_tasks: Optional[int] = None) -> Tensor:
        """Mean query loss over the meta-batch after adaptation: of a
        meta-batch, or of the closures ``task`` (support) and ``query_loss``."""
        fast = self.adapt(task, num_tasks=num_tasks)
        if callable(task):
            if query_loss is None:
                raise ValueError("meta_loss(closure) needs a query_loss closure too")
            return per_task(query_loss(fast), "query_loss").mean()
        logits = self._logits(fast, task, task.query_items)
        return self.task_losses(logits, task.query_y, task.query_mask).mean()


def reference_meta_loss(model: nn.Module, tasks: Iterable[tuple[TaskLoss, TaskLoss]], *,
                        inner_lr: float, inner_steps: int, first_order: bool = False,
                        params: ParamSelection = None) -> Tensor:
    """The per-task reference: a Python loop over ``tasks``, each a pair of
    closures ``(support_loss, query_loss)`` mapping a plain parameter dict
    (no task dimension) to a scalar, and one ``torch.autograd.grad`` per
    task and step of plain SGD. The same meta-loss as :meth:`MAML.meta_loss`,
    task by task."""
    base: Params = dict(model.named_parameters())
    keys = selected_names(model, params)
    losses = []
    for support_loss, query_loss in tasks:
        fast = dict(base)
        for _ in range(inner_steps):
            grads = torch.autograd.grad(support_loss(fast), [fast[k] for k in keys],
                                        create_graph=not first_order, allow_unused=True,
                                        materialize_grads=True)
            fast.update({k: fast[k] - inner_lr * g for k, g in zip(keys, grads)})
        losses.append(query_loss(fast))
    return torch.stack(losses).mean()


__all__ = ["Adapter", "BatchedModule", "MAML", "MetaBatch", "Params", "expand_params",
           "inner_loop", "reference_meta_loss", "row_sparse_params", "selected_names"]
