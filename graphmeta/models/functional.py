"""Batched functional layers: one weight set per task, leading dim ``T``.

``torch.func.vmap`` over ``functional_call`` would give the same numbers,
but PyG's message passing does not batch over different edge sets, and the
hand-written ``bmm`` forms below let the engine take one
``torch.autograd.grad`` for all tasks at once.
"""
from __future__ import annotations

from typing import Optional

from torch import Tensor

Params = dict[str, Tensor]


def sub_params(params: Params, prefix: str) -> Params:
    """The entries of ``params`` under ``prefix`` (``"encoder."``), with the
    prefix stripped: the parameter dict of that submodule."""
    return {k[len(prefix):]: v for k, v in params.items() if k.startswith(prefix)}


def blinear(x: Tensor, weight: Tensor, bias: Optional[Tensor] = None) -> Tensor:
    """``x @ weight[t].T + bias[t]`` per task.

    ``x`` is ``[T, ..., in]``, ``weight`` ``[T, out, in]``, ``bias``
    ``[T, out]`` (``torch.nn.Linear`` layout with a task dimension). ``x``
    may also be ``[T * G, ..., in]``: ``G`` consecutive rows (e.g. the
    graphs of one few-shot task) share task ``t``'s weights.
    """
    if bias is not None and bias.size(0) != weight.size(0):  # bias per graph, weight per task
        out = blinear(x, weight)
        return out + bias.view(bias.size(0), *([1] * (out.dim() - 2)), bias.size(-1))
    shape = x.shape
    x3 = x.reshape(weight.size(0), -1, shape[-1])
    if bias is None:
        out = x3.bmm(weight.transpose(1, 2))
    else:
        out = bias.unsqueeze(1).baddbmm(x3, weight.transpose(1, 2))
    return out.reshape(*shape[:-1], weight.size(1))
