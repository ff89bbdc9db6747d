r"""Task-batched MAML (second-order exact and first-order).

Every task of a meta-batch is adapted at once. The meta-parameters are
expanded to per-task fast weights ``[T, ...]``; because the summed support
loss :math:`\sum_t L_t(\theta_t)` separates by task, one
``torch.autograd.grad`` call returns every task's own gradient
:math:`\nabla_{\theta_t} L_t`. With ``create_graph=True`` the outer step
differentiates through the whole inner loop (exact second order); the
first-order variant drops those second derivatives.

:func:`reference_meta_loss` does the same work the usual way, one task at a
time with PyG message passing, and is the oracle for tests and benchmarks.
"""
from __future__ import annotations

from typing import Callable, Iterable, Optional

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.func import functional_call

Params = dict[str, Tensor]


def task_ce(logits: Tensor, y: Tensor, mask: Optional[Tensor] = None,
            balanced: bool = False) -> Tensor:
    """Per-task mean cross-entropy: ``logits [T, S, C]``, ``y [T, S]`` -> ``[T]``.

    With ``balanced``, each class present in a task weighs the same, however
    many examples it has (a query set of 1 positive and 10 negatives).
    """
    ce = F.cross_entropy(logits.flatten(0, 1), y.flatten(), reduction="none").view(y.shape)
    if mask is None and not balanced:
        return ce.mean(1)
    m = torch.ones_like(ce) if mask is None else mask.to(ce.dtype)
    if balanced:
        onehot = F.one_hot(y, logits.size(-1)).to(ce.dtype) * m.unsqueeze(-1)   # [T, S, C]
        count = onehot.sum(1)                                                  # [T, C]
        w = (onehot / count.clamp_min(1).unsqueeze(1)).sum(-1)                 # 1 / n_class
        return (ce * w).sum(1) / (count > 0).sum(1).clamp_min(1)
    return (ce * m).sum(1) / m.sum(1).clamp_min(1)


def expand_params(params: Params, num_tasks: int, *, detach: bool = False) -> Params:
    """Per-task copies ``[T, ...]`` of ``params``. With ``detach`` they are new
    leaves (for evaluation), else views that keep the graph to ``params``."""
    if detach:
        return {k: v.detach().unsqueeze(0).repeat(num_tasks, *([1] * v.dim()))
                .requires_grad_() for k, v in params.items()}
    return {k: v.unsqueeze(0).expand(num_tasks, *v.shape) for k, v in params.items()}


def inner_loop(fast: Params, support_loss: Callable[[Params], Tensor], *,
               steps: int, lr: float | Params, first_order: bool = False,
               adapt: Optional[Iterable[str]] = None, create_graph: bool = True,
               per_step: bool = False) -> Params:
    r"""Runs ``steps`` SGD steps on every task at once.

    Args:
        fast: Per-task parameters ``[T, ...]``.
        support_loss: Maps per-task parameters to per-task losses ``[T]``.
        lr: Inner learning rate: a float, or one tensor per adapted
            parameter, broadcastable to ``[T, ...]`` (Meta-SGD style) or,
            with ``per_step``, of shape ``[steps]`` (one rate per step, as
            MAML++'s learned per-layer per-step rates; later steps reuse the
            last).
        first_order: Drop second derivatives (FOMAML).
        adapt: Names of the parameters to adapt (default: all), e.g. the
            head only for ANIL.
        create_graph: Keep the graph of the inner loop for an outer step.
    """
    keys = list(fast) if adapt is None else [k for k in fast if k in set(adapt)]
    keep_graph = create_graph and not first_order

    def rate(k: str, i: int):
        if not isinstance(lr, dict):
            return lr
        return lr[k][min(i, lr[k].numel() - 1)] if per_step else lr[k]

    for i in range(steps):
        loss = support_loss(fast).sum()
        grads = torch.autograd.grad(loss, [fast[k] for k in keys],
                                    create_graph=keep_graph)
        step = {k: rate(k, i) * g for k, g in zip(keys, grads)}
        fast = {k: (v - step[k] if k in step else v) for k, v in fast.items()}
    return fast


def weights(model: nn.Module) -> Params:
    """The parameters the inner loop adapts: all but learned inner rates."""
    return {k: v for k, v in model.named_parameters() if not k.startswith("inner_lrs.")}


def learn_inner_lrs(model: nn.Module, inner_lr: float, steps: int) -> nn.Module:
    """Gives ``model`` one learned inner-loop rate per parameter tensor and
    step, initialised to ``inner_lr`` (MAML++'s "LSLR", Antoniou et al.,
    2019). :class:`MAML` uses them instead of its ``inner_lr``, and the outer
    optimiser trains them with the weights; they live on the model so its
    checkpoint keeps them."""
    model.inner_lrs = nn.ParameterDict({
        k.replace(".", "__"): nn.Parameter(torch.full((max(steps, 1),), float(inner_lr)))
        for k in weights(model)})
    return model


class MAML(nn.Module):
    r"""Batched MAML around a model with a ``batched_logits`` method.

    Args:
        model: An :class:`~graphmeta.models.InterestModel` (or any module with
            ``batched_logits(params, batch, items)``).
        inner_lr (float): Inner-loop step size :math:`\alpha`.
        inner_steps (int): Inner SGD steps.
        first_order (bool): First-order MAML.
        adapt (str): ``"all"`` parameters or ``"head"`` only (ANIL).
        balanced_query (bool): Weigh the query loss's classes equally
            (:func:`task_ce`), for query sets of few positives and many
            negatives scored by a ranking metric.

    A model given learned rates by :func:`learn_inner_lrs` is adapted with
    those instead of ``inner_lr``.

    Example:
        >>> maml = MAML(model, inner_lr=0.5, inner_steps=5)
        >>> loss = maml.meta_loss(batch)   # mean query loss after adaptation
        >>> loss.backward()                # meta-gradient through the inner loop
    """

    def __init__(self, model: nn.Module, inner_lr: float = 0.5, inner_steps: int = 5,
                 first_order: bool = False, adapt: str = "all",
                 balanced_query: bool = False) -> None:
        super().__init__()
        if adapt not in ("all", "head"):
            raise ValueError(f"adapt must be 'all' or 'head', got {adapt!r}")
        self.model = model
        self.balanced_query = balanced_query
        self.inner_lr, self.inner_steps = inner_lr, inner_steps
        self.first_order, self.adapt_mode = first_order, adapt

    def __repr__(self) -> str:
        return (f"{self.__class__.__name__}(inner_lr={self.inner_lr}, "
                f"inner_steps={self.inner_steps}, first_order={self.first_order}, "
                f"adapt={self.adapt_mode!r}, model={self.model!r})")

    def _adapt_keys(self) -> Optional[list[str]]:
        if self.adapt_mode == "all":
            return None
        return [k for k in weights(self.model) if k.startswith("head.")]

    def _rates(self, detach: bool) -> tuple[float | Params, bool]:
        """The model's learned per-step rates if it has them, else ``inner_lr``."""
        rates = getattr(self.model, "inner_lrs", None)
        if rates is None:
            return self.inner_lr, False
        return {k.replace("__", "."): (v.detach() if detach else v) for k, v in rates.items()}, True

    def adapt(self, batch, *, steps: Optional[int] = None, detach: bool = False
              ) -> Params:
        """Per-task fast weights after the inner loop on the support sets."""
        fast = expand_params(weights(self.model), batch.num_tasks, detach=detach)
        lr, per_step = self._rates(detach)

        def support_loss(p: Params) -> Tensor:
            return task_ce(self.model.batched_logits(p, batch, batch.support_items),
                           batch.support_y)

        with torch.enable_grad():
            return inner_loop(fast, support_loss,
                              steps=self.inner_steps if steps is None else steps,
                              lr=lr, per_step=per_step, first_order=self.first_order,
                              adapt=self._adapt_keys(), create_graph=not detach)

    def meta_loss(self, batch) -> Tensor:
        """Mean query loss over the meta-batch after adaptation."""
        fast = self.adapt(batch)
        logits = self.model.batched_logits(fast, batch, batch.query_items)
        return task_ce(logits, batch.query_y, batch.query_mask,
                       balanced=self.balanced_query).mean()

    @torch.no_grad()
    def predict_logits(self, batch, steps: Optional[int] = None) -> Tensor:
        """Query logits ``[T, Q, C]`` after adaptation."""
        fast = self.adapt(batch, steps=steps, detach=True)
        fast = {k: v.detach() for k, v in fast.items()}
        return self.model.batched_logits(fast, batch, batch.query_items)

    def predict(self, batch, steps: Optional[int] = None) -> Tensor:
        """Query probabilities of class 1, ``[T, Q]``, after adaptation."""
        return self.predict_logits(batch, steps).softmax(-1)[..., 1]


def adapt_adam(model: nn.Module, batch, *, steps: int, lr: float, logits: bool = False) -> Tensor:
    """Trains per-task copies of ``model`` on their support sets with Adam
    and returns query probabilities of class 1 ``[T, Q]`` (or, with
    ``logits``, the query logits ``[T, Q, C]``). Adam is elementwise, so one
    optimiser over stacked ``[T, ...]`` weights is ``T`` independent ones."""
    fast = expand_params(weights(model), batch.num_tasks, detach=True)
    opt = torch.optim.Adam(list(fast.values()), lr=lr)
    with torch.enable_grad():
        for _ in range(steps):
            opt.zero_grad()
            loss = task_ce(model.batched_logits(fast, batch, batch.support_items),
                           batch.support_y).sum()
            loss.backward()
            opt.step()
    with torch.no_grad():
        out = model.batched_logits(fast, batch, batch.query_items)
    return out if logits else out.softmax(-1)[..., 1]


def reference_meta_loss(model: nn.Module, batch, *, inner_lr: float, inner_steps: int,
                        first_order: bool = False) -> Tensor:
    """The per-task reference: a Python loop over tasks, PyG message passing on
    each task's ``edge_index`` and one ``torch.autograd.grad`` per task and
    step. Same result as :meth:`MAML.meta_loss`, task by task."""
    params = weights(model)
    losses = []
    for t, g in enumerate(batch.graphs):
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
