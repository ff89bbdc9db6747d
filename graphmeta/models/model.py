"""The user-interest model: GNN encoder -> ego embedding, joined with an
interest embedding, fed to the classic MLP head (``fc1 -> ReLU -> fc2``)."""
from __future__ import annotations

from typing import Optional, Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from graphmeta.models.batched import encode_egos, encode_graph, out_channels
from graphmeta.models.functional import blinear, sub_params
from graphmeta.models.longlist import (FACTORISE_FROM, candidate_table, catalogue_logits,
                                      factorised_logits)
from graphmeta.tasks.batch import TaskBatch

COMBINES = ("concat", "concat-product")


class MLPHead(nn.Module):
    """The classic MAML MLP: ``fc1 -> ReLU -> fc2 -> out`` logits."""

    def __init__(self, in_channels: int, hidden: int = 64, out_channels: int = 2) -> None:
        super().__init__()
        self.fc1 = nn.Linear(in_channels, hidden)
        self.fc2 = nn.Linear(hidden, out_channels)

    def __repr__(self) -> str:
        return (f"{self.__class__.__name__}({self.fc1.in_features}, "
                f"hidden={self.fc1.out_features}, out={self.fc2.out_features})")

    def forward(self, z: Tensor) -> Tensor:
        return self.fc2(F.relu(self.fc1(z)))

    @staticmethod
    def batched(p: dict[str, Tensor], z: Tensor, prefix: str = "") -> Tensor:
        """``z`` ``[T, S, in]`` with per-task weights -> ``[T, S, out]``."""
        h = F.relu(blinear(z, p[prefix + "fc1.weight"], p[prefix + "fc1.bias"]))
        return blinear(h, p[prefix + "fc2.weight"], p[prefix + "fc2.bias"])


class InterestModel(nn.Module):
    r"""Scores (user, interest) pairs: ``head([h_ego, e, h_ego * P e]) -> 2 logits``.

    Args:
        in_channels (int): Node feature size.
        encoder (nn.Module, optional): Graph encoder: any module, dense
            (``forward(x, adj, mask)``, run batched) or message passing
            (``forward(x, edge_index)``, run task by task; see
            :mod:`graphmeta.models.batched`); the ego's embedding is its
            output's row 0. ``None`` uses the ego's own node features only
            (the ``maml-mlp`` baseline: no neighbours).
        encoder_dim (int, optional): The encoder's output size (default:
            its ``out_channels``, times ``heads`` for a PyG attention layer
            that concatenates them: :func:`~graphmeta.models.batched.out_channels`).
        interest_x (Tensor, optional): Fixed interest features ``[C, D]``
            (item features of synthetic data). Exclusive with ``num_interests``.
        num_interests (int, optional): Learn an embedding per named interest.
        interest_dim (int): Size of the learned interest embedding.
        combine (str): ``"concat"`` or ``"concat-product"`` (adds the
            elementwise product of the ego embedding and a projection of the
            interest embedding, which lets the head express ``x @ w``).
        head_hidden (int): Width of ``fc1``.
        context (sequence of int): Columns of the batch's ``item_context``
            (per-task features of each candidate: popularity, co-occurrence
            with the support positives, frequency among the neighbours) that
            the head also reads.
        sparse_grad (bool): The learned interest table gets sparse gradients
            (the rows a meta-batch read), as ``nn.Embedding(sparse=True)``,
            so a training step's cost does not grow with the catalogue; it
            is then optimised by lazy Adam (:class:`torch.optim.SparseAdam`,
            see :meth:`sparse_parameters`).
    """

    def __init__(self, in_channels: int, encoder: Optional[nn.Module] = None, *,
                 encoder_dim: Optional[int] = None,
                 interest_x: Optional[Tensor] = None,
                 num_interests: Optional[int] = None, interest_dim: int = 32,
                 combine: str = "concat-product", head_hidden: int = 64,
                 context: Sequence[int] = (), sparse_grad: bool = False) -> None:
        super().__init__()
        if combine not in COMBINES:
            raise ValueError(f"combine must be one of {COMBINES}, got {combine!r}")
        if (interest_x is None) == (num_interests is None):
            raise ValueError("give exactly one of interest_x and num_interests")
        self.encoder = encoder
        self.combine = combine
        self.sparse_grad = bool(sparse_grad) and num_interests is not None
        # Longer candidate lists are scored by models.longlist.factorised_logits.
        self.factorise_from = FACTORISE_FROM
        self.context = list(context)
        ego_dim = in_channels if encoder is None else out_channels(encoder, encoder_dim)
        self.interest_x: Optional[Tensor]
        self.interest_emb: Optional[nn.Embedding]
        if interest_x is not None:
            self.register_buffer("interest_x", interest_x.clone())
            self.interest_emb = None
            d = interest_x.size(1)
        else:
            assert num_interests is not None         # exactly one of the two, checked above
            self.interest_x = None
            self.interest_emb = nn.Embedding(num_interests, interest_dim,
                                             sparse=self.sparse_grad)
            d = interest_dim
        self.proj = nn.Linear(d, ego_dim, bias=False) if combine == "concat-product" else None
        z_dim = ego_dim + d + (ego_dim if self.proj is not None else 0) + len(self.context)
        self.head = MLPHead(z_dim, head_hidden, 2)

    def __repr__(self) -> str:
        return (f"{self.__class__.__name__}(encoder={self.encoder!r}, "
                f"combine={self.combine!r}, context={self.context}, head={self.head!r}"
                + (", sparse_grad=True" if self.sparse_grad else "") + ")")

    # -- one task (the reference) -----------------------------------------
    def forward(self, x: Tensor, edge_index: Tensor, items: Tensor,
                context: Optional[Tensor] = None) -> Tensor:
        """Logits ``[S, 2]`` for ``items`` of one task's ego-subgraph (``x``
        ``[n, F]``, local ``edge_index``; ``context``: that task's
        ``item_context`` ``[C, F]``)."""
        h = x[0] if self.encoder is None else encode_graph(self.encoder, None, x, edge_index)[0]
        e = self._interest_rows(items)
        h = h.expand(e.size(0), -1)
        parts = [h, e] + ([h * self.proj(e)] if self.proj is not None else [])
        if self.context:
            if context is None:
                raise ValueError("this model reads item_context columns "
                                 f"{self.context}: pass the task's context")
            parts.append(context[items][:, self.context])
        return self.head(torch.cat(parts, dim=-1))

    def _interest_rows(self, items: Tensor) -> Tensor:
        """The interests' fixed features or learned embeddings, ``[..., d]``."""
        if self.interest_emb is not None:
            return self.interest_emb(items)
        assert self.interest_x is not None
        return self.interest_x[items]

    # -- batched path (one weight set per task) -------------------------------
    def ego_embedding(self, p: dict[str, Tensor], batch: TaskBatch) -> Tensor:
        """The ego embeddings ``[T, d]`` (the encoder's part of :meth:`batched_logits`)."""
        if self.encoder is None:
            return batch.graphs.x[:, 0]
        return encode_egos(self.encoder, sub_params(p, "encoder."), batch.graphs)

    def features(self, p: dict[str, Tensor], batch: TaskBatch, items: Tensor) -> Tensor:
        """What the head reads besides the interests: the ego embeddings
        ``[T, d]``, the same for every item of a task."""
        return self.ego_embedding(p, batch)

    def sparse_parameters(self) -> list[Tensor]:
        """The parameters that get sparse gradients (``sparse_grad``)."""
        return [self.interest_emb.weight] if self.sparse_grad and self.interest_emb is not None \
            else []

    def adapted_rows(self) -> dict[str, str]:
        """Parameters whose rows a task touches only at some indices: name ->
        the batch attribute holding each task's row ids ``[T, S]`` (the
        ``rows`` argument of :class:`~graphmeta.meta.MAML`). The interest
        table is read at the support interests while adapting, so MAML
        adapts those rows only (see :meth:`interest_rows`) and the cost of a
        task does not grow with the catalogue."""
        return {} if self.interest_emb is None else {"interest_emb.weight": "support_items"}

    def interest_rows(self, p: dict[str, Tensor], batch: TaskBatch, items: Tensor,
                      part: slice = slice(None)) -> Tensor:
        """The interest embeddings ``[T, S, D]`` of ``items[:, part]`` under
        parameters ``p``, where ``p["interest_emb.weight"]`` is one of:

        - the shared table ``[C, D]`` (no task dimension);
        - a per-task table ``[T, C, D]``;
        - row-sparse: the adapted rows ``[T, S', D]`` of
          ``batch.support_items``, with the shared table under
          ``"interest_emb.weight@base"``. Every other row is the shared
          one, which is what a dense per-task table holds after an inner
          loop whose rule leaves rows with zero gradient unchanged (SGD,
          learned rates, momentum, Adam)."""
        own = batch.support_items
        adapted_rows = items is own
        items = items[:, part]
        if self.interest_emb is None:
            return self._interest_rows(items)
        table = p["interest_emb.weight"]
        base = p.get("interest_emb.weight@base")
        if base is None:
            if table.dim() == 2:
                return F.embedding(items, table, sparse=self.sparse_grad)
            return table.gather(1, items.unsqueeze(-1).expand(-1, -1, table.size(-1)))
        if adapted_rows:
            return table[:, part]
        e = F.embedding(items, base, sparse=self.sparse_grad)
        if batch.disjoint:  # the sampler's batches: query and support share no item
            return e
        hit = items.unsqueeze(-1) == own.unsqueeze(1)                          # [T, Q, S']
        if not hit.any():
            return e
        # A candidate that is also a support interest reads its adapted row.
        own_base = F.embedding(own, base, sparse=self.sparse_grad)
        return e + hit.to(table.dtype).bmm(table - own_base)

    def head_logits(self, p: dict[str, Tensor], h: Tensor, batch: TaskBatch,
                    items: Tensor) -> Tensor:
        """Logits ``[T, S, 2]`` of ``items`` for ego embeddings ``h`` ``[T, d]``."""
        ctx = None
        if self.context:
            if batch.item_context is None:
                raise ValueError("this model reads item_context, which the batch lacks "
                                 "(build the tasks with context=True)")
            # Columns are picked after the items are gathered: indexing the
            # whole [T, C, F] table by column copies it on every call.
            ctx = batch.item_context
        if items.size(1) > self.factorise_from:
            table = candidate_table(self, p, batch)
            if table is not None and ctx is None and not torch.is_grad_enabled() \
                    and 2 * items.size(1) > table.size(0):
                # Most of the catalogue: score all of it, then pick the candidates.
                out = catalogue_logits(self, p, h, table)                  # [T, C, 2]
                return out.gather(1, items.unsqueeze(-1).expand(-1, -1, out.size(-1)))
            ctx_rows = None if ctx is None else (
                lambda sl: self._context_rows(ctx, items[:, sl]))
            return factorised_logits(
                self, p, h, items.size(1), lambda sl: self.interest_rows(p, batch, items, sl),
                ctx_rows)
        e = self.interest_rows(p, batch, items)
        h = h.unsqueeze(1).expand(-1, e.size(1), -1)
        parts = [h, e]
        if self.proj is not None:
            parts.append(h * blinear(e, p["proj.weight"]))
        if ctx is not None:
            parts.append(self._context_rows(ctx, items))
        return MLPHead.batched(p, torch.cat(parts, dim=-1), prefix="head.")

    def _context_rows(self, ctx: Tensor, items: Tensor) -> Tensor:
        """The read columns of ``ctx`` ``[T, C, F]`` at ``items`` ``[T, S]``."""
        rows = ctx.gather(1, items.unsqueeze(-1).expand(-1, -1, ctx.size(-1)))
        return rows if self.context == list(range(ctx.size(-1))) else rows[..., self.context]

    def batched_logits(self, p: dict[str, Tensor], batch: TaskBatch, items: Tensor) -> Tensor:
        """Logits ``[T, S, 2]`` for ``items`` ``[T, S]`` with per-task params."""
        return self.head_logits(p, self.ego_embedding(p, batch), batch, items)
