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
        """The adapted ``params`` after inner step ``step`` (0-based)."""
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
        return {k: v - self.lr * grads[k] for k, v in params.items()}, state


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
        out = {}
        for k, v in params.items():
            r = rates[k]
            r = r[min(step, r.numel() - 1)] if self.per == "tensor" else r
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


def _sqrt(v: Tensor) -> Tensor:
    """``v.sqrt()`` whose derivative is 0 rather than inf where ``v == 0``."""
    if not v.requires_grad:
        return v.sqrt()
    tiny = torch.finfo(v.dtype).tiny
    return torch.where(v > 0, v.clamp_min(tiny).sqrt(), torch.zeros_like(v))


RULES = {"sgd": SGD, "lslr": lambda lr: LearnedLR(lr, "tensor"),
         "metasgd": lambda lr: LearnedLR(lr, "element"), "momentum": Momentum, "adam": Adam}


def make_rule(name: str, lr: float) -> InnerRule:
    """A rule by its config name (``meta.inner_rule``)."""
    if name not in RULES:
        raise ValueError(f"unknown inner rule {name!r} (known: {', '.join(RULES)})")
    if not math.isfinite(lr):
        raise ValueError(f"inner rate must be finite, got {lr}")
    return RULES[name](lr)


__all__ = ["Adam", "InnerRule", "LearnedLR", "Momentum", "RULES", "SGD", "make_rule"]
