"""Running any encoder module with per-task parameters over a batch of graphs.

graphmeta's models call their encoder through the two functions here, so any
module can be the encoder, with no graph maths in graphmeta:

- **Dense modules** (``forward(x [N, F], adj [N, N], mask [N])``: every
  layer of :mod:`torch_geometric.nn.dense`, :class:`GNNEncoder`, or your own)
  take the **batched path**: :func:`torch.func.vmap` over
  :func:`torch.func.functional_call` runs the module's own forward on every
  padded graph with its task's parameters, all tasks at once. The first call
  checks that this reproduces the module's forward on each graph alone
  (unpadded), and so does the first call whose batch holds padding if the
  first one's did not; a module whose output depends on the padding, or that
  vmap cannot run, is refused with :class:`BatchedPathError`, never trained
  on other maths.
- **Sparse modules** (any that contain a
  :class:`~torch_geometric.nn.conv.MessagePassing` layer, ``forward(x,
  edge_index)``) take the **per-task path**: the module runs on each graph's
  ``edge_index`` with its task's slice of the parameters, one graph at a
  time. Same results, no batching: the oracle's speed.

The ego (centre node) is node 0 of every graph, and its row of the
module's output is the graph's embedding. A dense module whose forward
takes ``rows`` and ``reach`` (:class:`~graphmeta.models.GNNEncoder` does)
is asked for the ego's row alone (``rows=1``, and the leading nodes the
egos read), where the check finds that this gives the full forward's row.
"""
from __future__ import annotations

import inspect
from typing import Any

import torch
from torch import Tensor, nn
from torch.func import functional_call, vmap
from torch_geometric.nn.conv import MessagePassing
from torch_geometric.utils import to_dense_adj

from graphmeta.tasks.batch import GraphBatch

Params = dict[str, Tensor]


class BatchedPathError(ValueError):
    """An encoder that the batched path cannot run as its own forward does."""


def out_channels(encoder: nn.Module, encoder_dim: int | None = None) -> int:
    """The size of ``encoder``'s node embeddings: ``encoder_dim`` when given,
    else its ``out_channels`` attribute; for a PyG attention layer that
    concatenates its heads (``heads`` and ``concat=True``, as
    :class:`~torch_geometric.nn.conv.GATConv` and
    :class:`~torch_geometric.nn.dense.DenseGATConv` have), ``out_channels``
    is per head, and the size is ``heads`` times it."""
    if encoder_dim is not None:
        return encoder_dim
    dim = getattr(encoder, "out_channels", None)
    if not isinstance(dim, int):
        raise ValueError(f"the encoder {type(encoder).__name__} has no int out_channels: "
                         f"pass encoder_dim (the size of its node embeddings)")
    heads = getattr(encoder, "heads", None)
    if getattr(encoder, "concat", False) is True and isinstance(heads, int):
        return dim * heads
    return dim


def is_sparse(module: nn.Module) -> bool:
    """Whether ``module`` holds a message-passing layer (``forward(x, edge_index)``)."""
    return any(isinstance(m, MessagePassing) for m in module.modules())


def path_of(module: nn.Module) -> str:
    """``"batched"`` for dense modules, ``"per-task"`` for message passing."""
    return "per-task" if is_sparse(module) else "batched"


def _rows(out: Tensor) -> Tensor:
    """A module's node embeddings as ``[N, d]`` (``[1, N, d]`` from a PyG dense layer)."""
    return out.reshape(-1, out.size(-1))


def encode_graph(module: nn.Module, params: Params | None, x: Tensor, edge_index: Tensor
                 ) -> Tensor:
    """Node embeddings ``[n, d]`` of one graph (``x`` ``[n, F]``, local
    ``edge_index``) under ``params`` (a plain parameter dict, or ``None``
    for the module's own): message passing for a sparse module, the dense
    forward on the graph's unpadded adjacency otherwise."""
    p = {} if params is None else params
    if is_sparse(module):
        return _rows(functional_call(module, p, (x, edge_index)))
    n = x.size(0)
    adj = to_dense_adj(edge_index, max_num_nodes=n)[0].t().to(x.dtype) if edge_index.numel() \
        else x.new_zeros(n, n)
    return _rows(functional_call(module, p, (x, adj, None)))


def _check_signature(module: nn.Module) -> None:
    try:
        inspect.signature(module.forward).bind(None, None, None)
    except TypeError:
        raise BatchedPathError(
            f"{type(module).__name__}.forward cannot take (x, adj, mask): the batched path runs "
            f"dense modules (as in torch_geometric.nn.dense); give the encoder a forward(x, adj, "
            f"mask=None), or a MessagePassing layer to run it task by task") from None


def _takes_rows(module: nn.Module) -> bool:
    return {"rows", "reach"} <= set(inspect.signature(module.forward).parameters)


def _reach(adj: Tensor) -> int:
    """How many leading nodes the egos (row 0) read: one past the last
    column with an edge into an ego, over the batch."""
    read = (adj[:, 0] != 0).any(0).nonzero()
    return int(read.max()) + 1 if len(read) else 1


def _vmapped(module: nn.Module, params: Params, graphs: GraphBatch, per_task: int,
             rows: bool = False) -> Tensor:
    """Ego embeddings ``[T * G, d]`` by vmap over tasks (and their ``G``
    graphs); ``rows``: ask the module for the ego's row alone."""
    x, adj, mask = graphs.x, graphs.adj, graphs.node_mask
    T = x.size(0) // per_task
    kwargs = {"rows": 1, "reach": _reach(adj)} if rows else {}

    def one(p: Params, x: Tensor, adj: Tensor, mask: Tensor) -> Tensor:
        return _rows(functional_call(module, p, (x, adj, mask), kwargs))[0]
    try:
        if per_task == 1:
            return vmap(one, randomness="different")(params, x, adj, mask)
        inner = vmap(one, in_dims=(None, 0, 0, 0), randomness="different")
        out = vmap(inner, randomness="different")(
            params, x.view(T, per_task, *x.shape[1:]), adj.view(T, per_task, *adj.shape[1:]),
            mask.view(T, per_task, -1))
        return out.reshape(T * per_task, -1)
    except (RuntimeError, NotImplementedError) as e:
        first = (str(e).strip().splitlines() or [""])[0][:240]
        raise BatchedPathError(
            f"{type(module).__name__} cannot run on the batched path: torch.func.vmap over its "
            f"forward failed ({first}); build it from batch-safe layers such as "
            f"torch_geometric.nn.dense, or use a MessagePassing encoder, which runs task by "
            f"task") from None


def _per_task(module: nn.Module, params: Params, graphs: GraphBatch, per_task: int) -> Tensor:
    """Ego embeddings ``[T * G, d]``, one graph at a time with its task's parameters."""
    n = graphs.node_mask.sum(1).tolist()
    out = []
    for b, (k, ei) in enumerate(zip(n, graphs.edge_indices)):
        p = {name: v[b // per_task] for name, v in params.items()}
        out.append(encode_graph(module, p, graphs.x[b, :k], ei)[0])
    return torch.stack(out)


def _gap(a: Tensor, b: Tensor) -> float:
    return (a - b).abs().max().item() if a.numel() else 0.0


def check_batched(module: nn.Module, params: Params, graphs: GraphBatch, per_task: int = 1,
                  atol: float = 1e-4) -> bool:
    """Raises :class:`BatchedPathError` unless the batched path gives, for
    every graph of ``graphs``, the module's own forward on that graph alone
    (unpadded, its task's parameters), in eval mode. Returns whether the
    ego's row alone (``rows=1``) gives it too, for a module that takes ``rows``."""
    _check_signature(module)
    was = module.training
    module.eval()
    rows = False
    try:
        with torch.no_grad():
            p = {k: v.detach() for k, v in params.items()}
            alone = _per_task(module, p, graphs, per_task)
            scale = max(1.0, alone.abs().max().item() if alone.numel() else 0.0)
            if _takes_rows(module):
                try:
                    rows = _gap(_vmapped(module, p, graphs, per_task, True), alone) <= \
                        atol * scale
                except (BatchedPathError, RuntimeError, IndexError):
                    rows = False
            batched = _vmapped(module, p, graphs, per_task)
    finally:
        module.train(was)
    err = _gap(batched, alone)
    if not err <= atol * scale:
        raise BatchedPathError(
            f"{type(module).__name__} gives other embeddings on the batched path than on each "
            f"graph alone (max difference {err:.3g}): its forward depends on the padding of the "
            f"batch (e.g. a mean over all N rows that ignores the mask); make it respect the "
            f"mask, or use a MessagePassing encoder, which runs task by task")
    return rows


def encode_egos(module: nn.Module, params: Params, graphs: GraphBatch, per_task: int = 1
                ) -> Tensor:
    """The ego embeddings ``[T * G, d]`` of ``T * G`` graphs, ``G = per_task``
    consecutive graphs per task, with task ``t``'s parameters (``params``:
    the module's parameter names to tensors ``[T, ...]``; names it lacks
    are its own). Dense modules are checked (:func:`check_batched`) on the
    first batch, and again on the first padded batch if the first had no
    padding (a module that ignores the mask passes on graphs of one size),
    and then run batched; sparse ones run task by task."""
    if is_sparse(module):
        return _per_task(module, params, graphs, per_task)
    # Flags set by the check, not tensors: whether the ego's row alone is
    # asked for, and whether the check has seen a padded batch.
    rows = getattr(module, "_graphmeta_rows", None)
    if rows is None or not getattr(module, "_graphmeta_padded", False):
        padded = not bool(graphs.node_mask.all())
        if rows is None or padded:
            rows = check_batched(module, params, graphs, per_task)
            module._graphmeta_rows = rows  # type: ignore[assignment]
            module._graphmeta_padded = padded  # type: ignore[assignment]
    return _vmapped(module, params, graphs, per_task, rows)


def describe(module: Any) -> str:
    """One line: which path ``module`` takes and why."""
    if is_sparse(module):
        return (f"{type(module).__name__}: per-task path (it holds a MessagePassing layer; "
                f"each graph runs on its edge_index)")
    return f"{type(module).__name__}: batched path (vmap over its dense forward)"


__all__ = ["BatchedPathError", "check_batched", "describe", "encode_egos", "encode_graph",
           "is_sparse", "out_channels", "path_of"]
