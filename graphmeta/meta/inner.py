"""The inner loop on stacked per-task parameters ``[T, ...]``: expanding the
meta-parameters per task (whole, or gathered at the rows of a table each
task reads), running a rule's steps with one ``torch.autograd.grad`` per
step for every task at once, and choosing which parameters are adapted."""
from __future__ import annotations

from typing import Callable, Mapping, Optional, Sequence, Union

import torch
from torch import Tensor, nn

from graphmeta.meta.rules import InnerRule

Params = dict[str, Tensor]
TaskLoss = Callable[[Params], Tensor]
# Which parameters the inner loop adapts: all (None), their names, a
# submodule of the model, or a predicate on the name.
ParamSelection = Union[None, Sequence[str], nn.Module, Callable[[str], bool]]


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


def row_sparse_params(params: Params, rows: Mapping[str, Tensor], num_tasks: int, *,
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


def inner_loop(fast: Params, support_loss: TaskLoss, *, steps: int, rule: InnerRule,
               keys: Optional[Sequence[str]] = None, first_order: bool = False,
               create_graph: bool = True, rows: Optional[Mapping[str, Tensor]] = None
               ) -> Params:
    r"""Runs ``steps`` steps of ``rule`` on every task at once.

    Args:
        fast: Per-task parameters ``[T, ...]``.
        support_loss: Maps per-task parameters to per-task losses ``[T]``.
        rule: The update rule (:mod:`graphmeta.meta.rules`).
        keys: Names of the parameters to adapt (default: all).
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
    extra = {"rows": dict(rows)} if rows else {}
    for i in range(steps):
        loss = per_task(support_loss(fast), "support_loss").sum()
        # A parameter the support loss does not use gets a zero gradient.
        grads = torch.autograd.grad(loss, [fast[k] for k in keys], create_graph=keep_graph,
                                    allow_unused=True, materialize_grads=True)
        new, state = rule.update(i, {k: fast[k] for k in keys}, dict(zip(keys, grads)),
                                 {**state, **extra})
        fast = {k: new.get(k, v) for k, v in fast.items()}
    return fast


def per_task(losses: Tensor, name: str) -> Tensor:
    """``losses`` if they are one per task (``[T]``), else a ValueError: a
    closure that returns their mean (a scalar) would make every task's
    inner step ``1 / T`` of what it should be, silently."""
    if losses.dim() != 1:
        raise ValueError(f"{name} must return one loss per task, shape [T], got shape "
                         f"{tuple(losses.shape)} (a scalar mean over tasks would scale every "
                         f"task's step by 1/T)")
    return losses


def selected_names(model: nn.Module, params: ParamSelection) -> list[str]:
    """The names of ``model``'s parameters that ``params`` selects (see
    :class:`Adapter`), in ``named_parameters`` order."""
    names = [k for k, _ in model.named_parameters()]
    if params is None:
        return names
    if isinstance(params, nn.Module):
        ids = {id(p) for p in params.parameters()}
        out = [k for k, p in model.named_parameters() if id(p) in ids]
        if not out:
            raise ValueError(f"params: {type(params).__name__} holds none of the model's "
                             f"parameters")
        return out
    if callable(params):
        out = [k for k in names if params(k)]
    else:
        unknown = sorted(set(params) - set(names))
        if unknown:
            raise ValueError(f"params: the model has no parameter {unknown[0]!r} "
                             f"(it has {', '.join(names[:6])}{', ...' if len(names) > 6 else ''})")
        out = [k for k in names if k in set(params)]
    if not out:
        raise ValueError("params selects no parameter of the model")
    return out


__all__ = ["ParamSelection", "Params", "TaskLoss", "expand_params", "inner_loop", "per_task",
           "row_sparse_params", "selected_names"]
