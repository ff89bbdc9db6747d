r"""Inner-loop update rules, owned by the meta-learner.

A rule maps every task's fast weights and support gradients (stacked
``[T, ...]``) to the next fast weights, written with differentiable tensor
ops so that second-order MAML differentiates through it. Its learned state
(rates, ...) is part of the rule's, hence the meta-learner's,
``state_dict``. The shape follows torchopt's functional optimisers and
higher's differentiable optimisers: ``init(params) -> state`` and
``update(step, params, grads, state) -> (params, state)``.

- :class:`SGD`: :math:`\theta \leftarrow \theta - \alpha g` (MAML).
- :class:`LearnedLR`: learned rates, one per parameter tensor and step
  (MAML++'s LSLR, ``per="tensor"``) or one per parameter element (Meta-SGD,
  ``per="element"``), meta-trained with the initialisation.
- :class:`Momentum`: heavy-ball SGD.
- :class:`Adam`: Adam, the same arithmetic as :class:`torch.optim.Adam`.
- :class:`LearnedRule`: a small network, shared by every parameter element,
  that maps gradient and momentum features to the update (in the spirit of
  learned_optimization's MLP optimiser), times learned per-tensor, per-step
  rates; it starts as plain SGD and is meta-trained through the inner loop.
"""
from __future__ import annotations

import math
from typing import Any

import torch
from torch import Tensor, nn

Params = dict[str, Tensor]
State = dict[str, Any]


class InnerRule(nn.Module):
    """Base class: subclasses implement :meth:`update` (and :meth:`init`
    when they keep per-task state such as moments)."""

    def bind(self, shapes: dict[str, torch.Size], steps: int) -> None:
        """Called once by the meta-learner with the shapes of the parameters
        the inner loop adapts (without the task dimension) and its number of
        steps; learned rules create their parameters here."""

    def init(self, params: Params) -> State:
        """Per-task state before the first step."""
        return {}

    def update(self, step: int, params: Params, grads: Params, state: State
               ) -> tuple[Params, State]:
        """The adapted ``params`` after inner step ``step`` (0-based).
        ``state["rows"]``, when present, maps the names of parameters given
        as gathered rows ``[T, S, ...]`` of a table to their row ids ``[T,
        S]`` (:func:`graphmeta.meta.maml.row_sparse_params`); a rule with
        per-element state of the table's shape reads those rows of it."""
        raise NotImplementedError


class SGD(InnerRule):
    r"""Plain gradient steps with a fixed rate :math:`\alpha`."""

    def __init__(self, lr: float) -> None:
        super().__init__()
        self.lr = float(lr)

    def extra_repr(self) -> str:
        return f"lr={self.lr}"

    def update(self, step: int, params: Params, grads: Params, state: State
               ) -> tuple[Params, State]:
        # One fused op (and one in the backward pass) instead of a product
        # and a difference: ops over per-task weights are memory-bound, and
        # they were a quarter of a second-order step on the demo.
        return {k: torch.add(v, grads[k], alpha=-self.lr) for k, v in params.items()}, state


class LearnedLR(InnerRule):
    r"""Meta-learned inner rates, initialised to ``lr``.

    Args:
        lr (float): Initial rate.
        per (str): ``"tensor"``: one rate per parameter tensor and step
            (MAML++ LSLR, Antoniou et al., 2019; steps beyond the trained
            number reuse the last rate). ``"element"``: one rate per
            parameter element, shared by all steps (Meta-SGD, Li et al.,
            2017).

    :meth:`rates` returns them by parameter name.
    """

    def __init__(self, lr: float, per: str = "tensor") -> None:
        super().__init__()
        if per not in ("tensor", "element"):
            raise ValueError(f"per must be 'tensor' or 'element', got {per!r}")
        self.lr, self.per = float(lr), per
        self.names: list[str] = []
        self.values = nn.ParameterList()

    def extra_repr(self) -> str:
        return f"lr={self.lr}, per={self.per!r}, tensors={len(self.names)}"

    def bind(self, shapes: dict[str, torch.Size], steps: int) -> None:
        self.names = list(shapes)
        self.values = nn.ParameterList(
            nn.Parameter(torch.full(tuple(s) if self.per == "element" else (max(steps, 1),),
                                    self.lr)) for s in shapes.values())

    def rates(self) -> dict[str, Tensor]:
        """The learned rates by parameter name (``[steps]`` or the parameter's shape)."""
        return dict(zip(self.names, self.values))

    def update(self, step: int, params: Params, grads: Params, state: State
               ) -> tuple[Params, State]:
        rates = self.rates()
        rows = state.get("rows", {})
        out = {}
        for k, v in params.items():
            r = rates[k]
            if self.per == "tensor":
                r = r[min(step, r.numel() - 1)]
            elif k in rows:     # ``v`` holds rows ``[T, S, ...]`` of a table
                r = torch.nn.functional.embedding(rows[k], r)
            out[k] = v - r * grads[k]
        return out, state


class Momentum(InnerRule):
    r"""Heavy-ball SGD: :math:`m \leftarrow \beta m + g`,
    :math:`\theta \leftarrow \theta - \alpha m`."""

    def __init__(self, lr: float, beta: float = 0.9) -> None:
        super().__init__()
        self.lr, self.beta = float(lr), float(beta)

    def extra_repr(self) -> str:
        return f"lr={self.lr}, beta={self.beta}"

    def init(self, params: Params) -> State:
        return {"m": {k: torch.zeros_like(v) for k, v in params.items()}}

    def update(self, step: int, params: Params, grads: Params, state: State
               ) -> tuple[Params, State]:
        m = {k: self.beta * state["m"][k] + grads[k] for k in params}
        return {k: v - self.lr * m[k] for k, v in params.items()}, {"m": m}


class Adam(InnerRule):
    r"""Adam (Kingma & Ba, 2015) with :class:`torch.optim.Adam`'s arithmetic,
    op for op, so a detached inner loop reproduces that optimiser run on
    each task separately (Adam is elementwise, so stacked ``[T, ...]``
    weights are ``T`` independent runs). Differentiable: where a second
    moment is exactly zero the square root's derivative is taken as zero."""

    def __init__(self, lr: float, betas: tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-8) -> None:
        super().__init__()
        self.lr, self.betas, self.eps = float(lr), (float(betas[0]), float(betas[1])), float(eps)

    def extra_repr(self) -> str:
        return f"lr={self.lr}, betas={self.betas}, eps={self.eps}"

    def init(self, params: Params) -> State:
        return {"m": {k: torch.zeros_like(v) for k, v in params.items()},
                "v": {k: torch.zeros_like(v) for k, v in params.items()}}

    def update(self, step: int, params: Params, grads: Params, state: State
               ) -> tuple[Params, State]:
        b1, b2 = self.betas
        n = step + 1
        step_size = self.lr / (1 - b1 ** n)
        bc2_sqrt = (1 - b2 ** n) ** 0.5
        m, v, out = {}, {}, {}
        for k, p in params.items():
            g = grads[k]
            m[k] = torch.lerp(state["m"][k], g, 1 - b1)
            v[k] = state["v"][k].mul(b2).addcmul(g, g, value=1 - b2)
            denom = (_sqrt(v[k]) / bc2_sqrt).add(self.eps)
            out[k] = p.addcdiv(m[k], denom, value=-step_size)
        return out, {"m": m, "v": v}


class LearnedRule(InnerRule):
    r"""A learned update rule.

    Per parameter element, with :math:`m \leftarrow \beta m + (1-\beta) g`
    and :math:`\sigma` the root-mean-square of the tensor's gradient (per
    task), the update is

    .. math::
        \theta \leftarrow \theta - \alpha_{k,s}\,(g + \sigma\,
        f_\phi(g / \sigma,\; m / \sigma))

    where :math:`f_\phi` is a 2-``hidden``-1 MLP shared by all parameters
    and :math:`\alpha_{k,s}` a learned rate per tensor ``k`` and step
    ``s`` (initialised to ``lr``). :math:`f_\phi`'s last layer starts at
    zero, so the rule starts as SGD; meta-training shapes it through the
    inner loop. Features are normalised per tensor, so one small network
    serves weights of every scale. A table adapted as gathered rows
    (``state["rows"]``: the interest table, adapted at a task's support
    interests) is normalised over those rows, and its other rows are left
    unchanged, so the rule's cost and scale do not depend on the table's
    size. :meth:`describe` tabulates what it
    learned; everything is in ``state_dict``.
    """

    def __init__(self, lr: float, hidden: int = 8, beta: float = 0.9) -> None:
        super().__init__()
        self.lr, self.beta = float(lr), float(beta)
        last = nn.Linear(hidden, 1)
        nn.init.zeros_(last.weight)
        nn.init.zeros_(last.bias)
        self.net = nn.Sequential(nn.Linear(2, hidden), nn.Tanh(), last)
        self.names: list[str] = []
        self.rates = nn.ParameterList()

    def extra_repr(self) -> str:
        return f"lr={self.lr}, beta={self.beta}, tensors={len(self.names)}"

    def bind(self, shapes: dict[str, torch.Size], steps: int) -> None:
        self.names = list(shapes)
        self.rates = nn.ParameterList(nn.Parameter(torch.full((max(steps, 1),), self.lr))
                                      for _ in shapes)

    def init(self, params: Params) -> State:
        return {"m": {k: torch.zeros_like(v) for k, v in params.items()}}

    def correction(self, g: Tensor, m: Tensor) -> Tensor:
        r""":math:`f_\phi` on normalised gradient and momentum (same shape)."""
        return self.net(torch.stack([g, m], -1)).squeeze(-1)

    def update(self, step: int, params: Params, grads: Params, state: State
               ) -> tuple[Params, State]:
        rates = dict(zip(self.names, self.rates))
        out, m_new = {}, {}
        for k, p in params.items():
            g = grads[k]
            m = self.beta * state["m"][k] + (1 - self.beta) * g
            dims = tuple(range(1, g.dim()))
            sigma = (g.pow(2).mean(dims, keepdim=True) + 1e-12).sqrt() if dims else g.abs() + 1e-6
            u = g + sigma * self.correction(g / sigma, m / sigma)
            r = rates[k]
            out[k] = p - r[min(step, r.numel() - 1)] * u
            m_new[k] = m
        return out, {"m": m_new}

    @torch.no_grad()
    def describe(self, points: int = 5) -> dict[str, Any]:
        r"""The learned rule in numbers: the rates by tensor, and the
        normalised update :math:`g/\sigma + f_\phi` on a grid of normalised
        gradient and momentum values."""
        grid = torch.linspace(-2, 2, points, dtype=next(self.net.parameters()).dtype)
        g, m = torch.meshgrid(grid, grid, indexing="ij")
        update = (g + self.correction(g, m)).tolist()
        return {"rates": {k: [round(float(x), 5) for x in r]
                          for k, r in zip(self.names, self.rates)},
                "grid": [round(float(x), 3) for x in grid], "update[g][m]": update}


def _sqrt(v: Tensor) -> Tensor:
    """``v.sqrt()`` whose derivative is 0 rather than inf where ``v == 0``."""
    if not v.requires_grad:
        return v.sqrt()
    tiny = torch.finfo(v.dtype).tiny
    return torch.where(v > 0, v.clamp_min(tiny).sqrt(), torch.zeros_like(v))


RULES = {"sgd": SGD, "lslr": lambda lr: LearnedLR(lr, "tensor"),
         "metasgd": lambda lr: LearnedLR(lr, "element"), "momentum": Momentum, "adam": Adam,
         "learned": LearnedRule}


def make_rule(name: str, lr: float) -> InnerRule:
    """A rule by its config name (``meta.inner_rule``)."""
    if name not in RULES:
        raise ValueError(f"unknown inner rule {name!r} (known: {', '.join(RULES)})")
    if not math.isfinite(lr):
        raise ValueError(f"inner rate must be finite, got {lr}")
    return RULES[name](lr)


__all__ = ["Adam", "InnerRule", "LearnedLR", "LearnedRule", "Momentum", "RULES", "SGD",
           "make_rule"]
